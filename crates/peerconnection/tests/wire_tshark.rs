//! Wire conformance: two peer connections (data channel, audio and video both ways) run over
//! the simulated network with capture on, the capture is written as a pcap file, and
//! Wireshark's `tshark` reads it back. What it must find: no malformed packet and no
//! error-level expert item, every STUN FINGERPRINT good, DTLS records with the handshake
//! messages of a full handshake, SRTP whose RTP headers carry the SSRCs, sequence numbers
//! and payload types we sent, and SRTCP.
//!
//! `tshark` (Debian package `tshark`) is installed by the test command; when it is missing
//! the test fails saying so.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrtc_dtls::Certificate;
use ferrtc_netsim::{Datagram, Endpoint, Handle, LinkConfig, Sim};
use ferrtc_peerconnection::{DataChannelInit, Event, MediaKind, TransceiverId, TransceiverInit};
use ferrtc_types::SrtpProfile;
use rand::SeedableRng;

mod netsim_peer;

use netsim_peer::{Node, negotiate, node, run_until};

fn rtp(seq: u16, pt: u8, len: usize) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 1]);
    p.extend((0..len).map(|i| (i as u16 ^ seq) as u8));
    p
}

const ADDR_A: &str = "192.0.2.1:5000";
const ADDR_B: &str = "198.51.100.2:6000";
const PACKETS: u16 = 40;
const AUDIO_PT: u8 = 111;
const VIDEO_PT: u8 = 96;

/// What a run leaves for tshark: the capture, and the outbound streams as
/// (SSRC, payload type) of each media sender on both sides.
struct Run {
    pcap: Vec<u8>,
    streams: Vec<(u32, u8)>,
    srtp_profile: SrtpProfile,
}

/// Bytes of SRTCP trailer after the index: the 80-bit authentication tag of the AES-CM
/// profiles (RFC 3711 §3.4, RFC 5764 §4.1.2); none with AEAD, whose tag is inside the
/// encrypted part (RFC 7714 §9).
fn srtcp_tag_after_index(profile: SrtpProfile) -> usize {
    match profile {
        SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => 0,
        _ => 10,
    }
}

/// Bytes from tshark's hex (with or without `:` separators).
fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// A clean 10 ms link: offer/answer, ICE, DTLS, SCTP with one channel, and `PACKETS` RTP
/// packets on each of four streams (audio and video, both ways), all captured.
fn capture_session(seed: u64) -> Run {
    let mut sim = Sim::new(seed);
    sim.set_default_link(LinkConfig::ideal().latency(Duration::from_millis(10)));
    sim.enable_capture();
    let a = node(&mut sim, seed * 2, ADDR_A.parse().unwrap());
    let b = node(&mut sim, seed * 2 + 1, ADDR_B.parse().unwrap());
    let now = sim.now();
    let audio = sim
        .endpoint_mut(a)
        .pc
        .add_transceiver(MediaKind::Audio, TransceiverInit::default())
        .unwrap();
    let video = sim
        .endpoint_mut(a)
        .pc
        .add_transceiver(MediaKind::Video, TransceiverInit::default())
        .unwrap();
    let dc = sim
        .endpoint_mut(a)
        .pc
        .create_data_channel(now, DataChannelInit::new("wire"))
        .unwrap();
    negotiate(&mut sim, a, b);
    run_until(&mut sim, a, b, Duration::from_secs(30), |s| {
        s.endpoint(a).connected()
            && s.endpoint(b).connected()
            && s.endpoint(a).events.contains(&Event::DataChannelOpen(dc))
            && s.endpoint(b)
                .events
                .iter()
                .any(|e| matches!(e, Event::DataChannel(_)))
    });
    let b_tracks: Vec<TransceiverId> = sim.endpoint(b).tracks();
    assert_eq!(b_tracks.len(), 2, "B sees A's audio and video tracks");
    let b_dc = sim
        .endpoint(b)
        .remote_channel()
        .expect("B learned of the channel");
    for i in 0..PACKETS {
        let now = sim.now();
        let na = sim.endpoint_mut(a);
        na.pc
            .send_data(now, dc, Bytes::from(format!("from a {i}")), false)
            .unwrap();
        na.pc.write_rtp(now, audio, &rtp(i, AUDIO_PT, 160)).unwrap();
        na.pc
            .write_rtp(now, video, &rtp(i, VIDEO_PT, 1000))
            .unwrap();
        let nb = sim.endpoint_mut(b);
        nb.pc
            .send_data(now, b_dc, Bytes::from(format!("from b {i}")), false)
            .unwrap();
        nb.pc
            .write_rtp(now, b_tracks[0], &rtp(i, AUDIO_PT, 160))
            .unwrap();
        nb.pc
            .write_rtp(now, b_tracks[1], &rtp(i, VIDEO_PT, 1000))
            .unwrap();
        sim.run_for(Duration::from_millis(20));
    }
    run_until(&mut sim, a, b, Duration::from_secs(10), |s| {
        s.endpoint(a).messages().len() == usize::from(PACKETS)
            && s.endpoint(b).messages().len() == usize::from(PACKETS)
    });
    // Long enough for sender and receiver reports (SRTCP) both ways.
    sim.run_for(Duration::from_secs(3));
    let ssrc = |n: Handle<Node>, t: TransceiverId| {
        sim.endpoint(n)
            .pc
            .negotiator()
            .transceiver(t)
            .and_then(|t| t.ssrc())
            .expect("a sending transceiver has an SSRC")
            .0
    };
    let streams = vec![
        (ssrc(a, audio), AUDIO_PT),
        (ssrc(a, video), VIDEO_PT),
        (ssrc(b, b_tracks[0]), AUDIO_PT),
        (ssrc(b, b_tracks[1]), VIDEO_PT),
    ];
    let srtp_profile = sim
        .endpoint(a)
        .pc
        .transport()
        .srtp_profile()
        .expect("DTLS-SRTP keys");
    assert_eq!(
        sim.endpoint(b).pc.transport().srtp_profile(),
        Some(srtp_profile)
    );
    Run {
        pcap: sim.pcap(),
        streams,
        srtp_profile,
    }
}

/// The tshark binary; fails the test when it is not installed.
fn tshark() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("tshark"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "tshark not found on PATH: this test needs Wireshark's tshark (Debian package \
             `tshark`, installed by the test command: \
             DEBIAN_FRONTEND=noninteractive apt-get install -y tshark)"
        )
    })
}

/// Runs tshark over `pcap` with `args` and a display filter, printing `fields`; returns one
/// vector of field values per matching packet. Fails on any tshark error.
fn fields(pcap: &Path, args: &[&str], filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new(tshark());
    cmd.arg("-n").arg("-r").arg(pcap).args(args);
    cmd.args(["-Y", filter, "-T", "fields", "-E", "separator=|"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("Running as user") && !l.trim().is_empty())
        .collect();
    assert!(
        out.status.success() && errors.is_empty(),
        "tshark {args:?} -Y {filter:?} failed ({}): {}",
        out.status,
        errors.join(" / ")
    );
    String::from_utf8(out.stdout)
        .expect("tshark prints UTF-8")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect()
}

/// A number tshark printed in decimal or `0x` hex.
fn number(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .unwrap_or_else(|e| panic!("{s:?} is not a number: {e}"))
}

/// Where the capture goes: the target directory's tmp folder, kept for reading after a
/// failure.
fn pcap_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    dir.join(name)
}

#[test]
fn tshark_decodes_a_whole_session_without_complaint() {
    // Fail first, and clearly, when tshark is missing.
    tshark();
    let run = capture_session(1);
    let path = pcap_path("wire_tshark_session.pcap");
    std::fs::write(&path, &run.pcap).unwrap();

    // Every datagram sent is in the file, framed correctly: tshark sees as many UDP
    // packets as records, each with a good IPv4 and UDP checksum.
    let udp = fields(
        &path,
        &[
            "-o",
            "udp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
        ],
        "udp",
        &[
            "udp.srcport",
            "udp.dstport",
            "ip.checksum.status",
            "udp.checksum.status",
        ],
    );
    assert!(udp.len() > 200, "{} UDP packets", udp.len());
    for row in &udp {
        assert!(
            ["5000", "6000"].contains(&row[0].as_str()),
            "unexpected port {row:?}"
        );
        // Checksum status 1 is "Good" (2 is bad, 3 unverified).
        assert_eq!(row[2], "1", "IPv4 header checksum {row:?}");
        assert_eq!(row[3], "1", "UDP checksum {row:?}");
    }

    // 1. By tshark's own dissectors (STUN and DTLS found by heuristics, SRTP and SRTCP
    // through the DTLS-SRTP conversation it sets up from use_srtp): nothing malformed, no
    // error-level expert item. SRTCP is left out here: tshark 4.0 dissects the encrypted
    // part of a compound as clear RTCP, so the ciphertext after the first report's sender
    // SSRC reads as random report blocks and packets; its clear header, E flag and index
    // are checked in step 5.
    let bad = fields(
        &path,
        &[],
        "(_ws.malformed || _ws.expert.severity == error) && !srtcp",
        &["frame.number", "_ws.col.Protocol", "_ws.col.Info"],
    );
    assert!(bad.is_empty(), "malformed or erroneous: {bad:?}");

    // 2. STUN: binding requests and responses, every one with a FINGERPRINT, every
    // FINGERPRINT good (status 1; 2 is bad).
    let stun = fields(&path, &[], "stun", &["stun.type", "stun.att.crc32.status"]);
    assert!(stun.len() >= 4, "{} STUN messages", stun.len());
    let types: BTreeSet<u64> = stun.iter().map(|r| number(&r[0])).collect();
    assert!(types.contains(&0x0001), "binding requests: {types:x?}");
    assert!(
        types.contains(&0x0101),
        "binding success responses: {types:x?}"
    );
    for row in &stun {
        assert_eq!(row[1], "1", "FINGERPRINT status of {row:?}");
    }

    // 3. DTLS: records decoded, the full handshake's message types present, then
    // application data (the SCTP association, encrypted).
    let dtls = fields(
        &path,
        &[],
        "dtls.record",
        &["dtls.record.content_type", "dtls.handshake.type"],
    );
    assert!(!dtls.is_empty(), "no DTLS records");
    let mut content = BTreeSet::new();
    let mut handshake = BTreeSet::new();
    for row in &dtls {
        content.extend(row[0].split(',').filter(|s| !s.is_empty()).map(number));
        handshake.extend(row[1].split(',').filter(|s| !s.is_empty()).map(number));
    }
    // RFC 5246 §6.2.1: 20 change_cipher_spec, 22 handshake, 23 application_data.
    for c in [20, 22, 23] {
        assert!(content.contains(&c), "content type {c} in {content:?}");
    }
    // RFC 5246 §7.4 (and RFC 6347 §4.3.2 for hello_verify_request, which we need not
    // send): client_hello 1, server_hello 2, certificate 11, server_key_exchange 12,
    // certificate_request 13, server_hello_done 14, client_key_exchange 16. Finished (20)
    // is encrypted and shows as an encrypted handshake message.
    for h in [1, 2, 11, 12, 13, 14, 16] {
        assert!(
            handshake.contains(&h),
            "handshake type {h} in {handshake:?}"
        );
    }
    // The ServerHello's use_srtp extension names the profile both ends then used.
    let chosen = fields(
        &path,
        &[],
        "dtls.handshake.type == 2",
        &["dtls.use_srtp.protection_profile"],
    );
    assert_eq!(chosen.len(), 1, "one ServerHello: {chosen:?}");
    assert_eq!(number(&chosen[0][0]), u64::from(run.srtp_profile.id()));

    // 4. RTP: with A's and B's ports decoded as RTP, SRTP shows its clear header. Every
    // stream we sent is there under its SSRC and payload type, with the sequence numbers
    // of the packets written (the sender's own, consecutive), and nothing else decoded as
    // RTP carries a foreign SSRC.
    let as_rtp = ["-d", "udp.port==5000,rtp", "-d", "udp.port==6000,rtp"];
    let rtp_rows = fields(
        &path,
        &as_rtp,
        "rtp && !stun && !dtls && !rtcp && !srtcp",
        &["rtp.ssrc", "rtp.p_type", "rtp.seq", "rtp.version"],
    );
    let mut by_stream: BTreeMap<(u32, u8), Vec<u16>> = BTreeMap::new();
    for row in &rtp_rows {
        assert_eq!(row[3], "2", "RTP version of {row:?}");
        let ssrc = number(&row[0]) as u32;
        let pt = number(&row[1]) as u8;
        by_stream
            .entry((ssrc, pt))
            .or_default()
            .push(number(&row[2]) as u16);
    }
    let ssrcs: BTreeSet<u32> = run.streams.iter().map(|s| s.0).collect();
    for (ssrc, pt) in by_stream.keys() {
        // Retransmissions (RTX) would come with their own SSRC; on a clean link there are
        // none, so every stream on the wire is one we sent.
        assert!(ssrcs.contains(ssrc), "unknown stream {ssrc:#x}/{pt}");
    }
    for stream in &run.streams {
        let seqs = by_stream
            .get(stream)
            .unwrap_or_else(|| panic!("no RTP for {stream:x?}: {:x?}", by_stream.keys()));
        assert_eq!(seqs.len(), usize::from(PACKETS), "{stream:x?}");
        for w in seqs.windows(2) {
            assert_eq!(w[1], w[0].wrapping_add(1), "{stream:x?}: {seqs:?}");
        }
    }

    // 5. SRTCP from both sides: the clear part (RFC 3711 §3.4: the first report's header
    // and sender SSRC) decoded by tshark, from one of our senders; the trailer read from
    // the UDP payload tshark shows, since it cannot place it in an encrypted compound: E
    // flag set, and the SRTCP index counting each sender's compounds from zero (RFC 3711
    // §3.4: set to zero before the first packet, incremented by one for each).
    let srtcp = fields(
        &path,
        &as_rtp,
        "srtcp",
        &["rtcp.senderssrc", "rtcp.pt", "udp.srcport", "udp.payload"],
    );
    let srtcp_ports: BTreeSet<&str> = srtcp.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(srtcp_ports.len(), 2, "SRTCP from both ports: {srtcp:?}");
    let mut srtcp_index = BTreeMap::new();
    for row in &srtcp {
        let ssrc = number(row[0].split(',').next().unwrap_or_default()) as u32;
        // A sender report (200) or receiver report (201) first (RFC 3550 §6.1), or, with
        // reduced-size RTCP negotiated (RFC 5506), transport-wide feedback (205, FMT 15)
        // alone, about the peer's transport-cc-stamped packets, from the receiver's RTCP
        // SSRC (one that sends no media).
        let pt = number(row[1].split(',').next().unwrap_or_default());
        let feedback = pt == 205;
        assert!(
            ssrcs.contains(&ssrc) || feedback,
            "SRTCP from unknown {ssrc:#x}: {row:?}"
        );
        assert!(
            pt == 200 || pt == 201 || feedback,
            "first RTCP packet type {row:?}"
        );
        let payload = unhex(&row[3]);
        let end = payload.len() - srtcp_tag_after_index(run.srtp_profile);
        let word = u32::from_be_bytes(payload[end - 4..end].try_into().unwrap());
        assert!(word & 0x8000_0000 != 0, "E flag of {row:?}");
        let index = word & 0x7fff_ffff;
        let want = srtcp_index.get(&ssrc).map_or(0, |last| last + 1);
        assert_eq!(index, want, "SRTCP index of {ssrc:#x}");
        srtcp_index.insert(ssrc, index);
    }
    let media_senders = srtcp_index.keys().filter(|s| ssrcs.contains(s)).count();
    assert_eq!(media_senders, 2, "SRTCP senders: {srtcp_index:x?}");
    let bad = fields(
        &path,
        &as_rtp,
        "(_ws.malformed || _ws.expert.severity == error) && !srtcp",
        &["frame.number", "_ws.col.Info"],
    );
    assert!(bad.is_empty(), "malformed as RTP: {bad:?}");
}

/// DTLS with SCTP and data channels on top, as the peer connection stacks them (RFC 8261),
/// but built from the two crates directly, so the test can read the DTLS key log line the
/// peer connection does not hand out.
struct DtlsSctp {
    addr: SocketAddr,
    peer: SocketAddr,
    dtls: ferrtc_dtls::Endpoint,
    dc: ferrtc_sctp_datachannel::DataChannels,
    started: bool,
    events: Vec<ferrtc_sctp_datachannel::DataChannelEvent>,
}

impl DtlsSctp {
    fn app_data(&mut self, now: Instant, data: Bytes) {
        let _ = self.dc.handle_receive(now, self.peer, data);
    }

    /// DTLS events into SCTP, SCTP's packets into DTLS records, SCTP's events kept.
    fn pump(&mut self, now: Instant) {
        while let Some(ev) = self.dtls.poll_event() {
            match ev {
                ferrtc_dtls::Event::Connected(_) if !self.started => {
                    self.started = true;
                    if self.dtls.role() == ferrtc_dtls::DtlsRole::Client {
                        self.dc.connect(now, self.peer);
                    }
                }
                ferrtc_dtls::Event::ApplicationData(d) => self.app_data(now, d),
                ferrtc_dtls::Event::Failed(e) => panic!("DTLS failed: {e}"),
                _ => {}
            }
        }
        if self.started {
            while let Some(t) = self.dc.poll_transmit(now) {
                self.dtls.send(&t.contents).unwrap();
            }
        }
        while let Some(ev) = self.dc.poll_event() {
            self.events.push(ev);
        }
    }

    fn messages(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, ferrtc_sctp_datachannel::DataChannelEvent::Message { .. }))
            .count()
    }
}

impl Endpoint for DtlsSctp {
    fn receive(&mut self, now: Instant, from: SocketAddr, _to: SocketAddr, data: &[u8]) {
        let mut buf = data.to_vec();
        if let Ok(ranges) = self.dtls.handle_receive(now, from, &mut buf) {
            for r in ranges.iter() {
                self.app_data(now, Bytes::copy_from_slice(&buf[r]));
            }
        }
        self.pump(now);
    }

    fn timeout(&mut self, now: Instant) {
        self.dtls.handle_timeout(now);
        self.dc.handle_timeout(now);
        self.pump(now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        self.pump(now);
        self.dtls
            .poll_transmit()
            .map(|t| Datagram::new(self.addr, t.destination, t.contents.to_vec()))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [self.dtls.poll_timeout(), self.dc.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }
}

#[test]
fn tshark_decrypts_dtls_with_our_key_log_and_decodes_the_sctp_inside() {
    use ferrtc_dtls::{Config as DtlsConfig, DtlsRole, HashAlgorithm};
    use ferrtc_sctp_datachannel::{ChannelOptions, Config as SctpConfig, DataChannels};
    tshark();
    let mut sim = Sim::new(3);
    sim.set_default_link(LinkConfig::ideal().latency(Duration::from_millis(10)));
    sim.enable_capture();
    let (ca, sa): (SocketAddr, SocketAddr) = (ADDR_A.parse().unwrap(), ADDR_B.parse().unwrap());
    let (cert_a, cert_b) = (
        Arc::new(Certificate::generate().unwrap()),
        Arc::new(Certificate::generate().unwrap()),
    );
    let now = sim.now();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
    let mut side = |addr, peer, role, own: &Arc<Certificate>, theirs: &Arc<Certificate>, seed| {
        let cfg = DtlsConfig::new(
            role,
            own.clone(),
            vec![theirs.fingerprint(HashAlgorithm::Sha256)],
        );
        let dtls = ferrtc_dtls::Endpoint::new(
            Arc::new(cfg),
            now,
            Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
        )
        .unwrap();
        DtlsSctp {
            addr,
            peer,
            dtls,
            dc: DataChannels::new(SctpConfig::default(), role, now, &mut rng),
            started: false,
            events: Vec::new(),
        }
    };
    let client = side(ca, sa, DtlsRole::Client, &cert_a, &cert_b, 10);
    let server = side(sa, ca, DtlsRole::Server, &cert_b, &cert_a, 11);
    let a = sim.add_endpoint([ca], client);
    let b = sim.add_endpoint([sa], server);
    sim.endpoint_mut(a).dtls.connect(now, sa).unwrap();
    let id = sim
        .endpoint_mut(a)
        .dc
        .open_channel(now, ChannelOptions::new("wire"))
        .unwrap();
    const N: usize = 20;
    for i in 0..N {
        sim.endpoint_mut(a)
            .dc
            .send_text(now, id, &format!("message {i}"))
            .unwrap();
    }
    let deadline = now + Duration::from_secs(10);
    while sim.endpoint(b).messages() < N {
        assert!(sim.now() < deadline, "messages not delivered");
        match sim.next_event() {
            Some(_) => {
                sim.step();
            }
            None => panic!("nothing left to run"),
        }
    }
    sim.run_for(Duration::from_millis(500));
    let keylog = sim
        .endpoint(a)
        .dtls
        .key_log_line()
        .expect("a connected endpoint has a key log line");
    assert_eq!(sim.endpoint(b).dtls.key_log_line(), Some(keylog.clone()));

    let path = pcap_path("wire_tshark_sctp.pcap");
    std::fs::write(&path, sim.pcap()).unwrap();
    let keys = pcap_path("wire_tshark_sctp.keys");
    std::fs::write(&keys, format!("{keylog}\n")).unwrap();
    let rsa = pcap_path("wire_tshark_placeholder_rsa.key");
    std::fs::write(&rsa, PLACEHOLDER_RSA_KEY).unwrap();
    let keylog_opt = format!("tls.keylog_file:{}", keys.display());
    // tshark 4.0 has no "decode DTLS application data as SCTP" (SCTP is not in the
    // dtls.port table); an entry of the DTLS key table names the protocol of a port, but
    // only with an RSA key that loads. The placeholder decrypts nothing here: our key
    // exchange is ECDHE, and the key log gives tshark the master secret.
    let port_opt = |port: u16| {
        format!(
            "uat:dtlsdecrypttablefile:\"0.0.0.0\",\"{port}\",\"sctp\",\"{}\",\"\"",
            rsa.display()
        )
    };
    let (port_a, port_b) = (port_opt(5000), port_opt(6000));
    let args = [
        "-o",
        keylog_opt.as_str(),
        "-o",
        port_a.as_str(),
        "-o",
        port_b.as_str(),
        // SCTP over DTLS checks its CRC32c (RFC 9260 §6.8, RFC 8261 §4) like any SCTP.
        "-o",
        "sctp.checksum:CRC-32C",
    ];
    // Nothing excluded: this is also where tshark caught INIT and INIT ACK counting their
    // last parameter's padding in the chunk length (RFC 9260 §3.2), now fixed.
    let bad = fields(
        &path,
        &args,
        "_ws.malformed || _ws.expert.severity == error",
        &["frame.number", "_ws.col.Info"],
    );
    assert!(bad.is_empty(), "malformed or erroneous: {bad:?}");
    // Every record decrypted: each application-data record is SCTP (no DTLS record left
    // as opaque data), and the handshake's Finished messages read as such.
    let opaque = fields(&path, &args, "dtls.app_data && !sctp", &["frame.number"]);
    assert!(opaque.is_empty(), "records not decrypted: {opaque:?}");
    let finished = fields(&path, &args, "dtls.handshake.type == 20", &["frame.number"]);
    assert_eq!(finished.len(), 2, "both Finished messages decrypted");

    let sctp = fields(
        &path,
        &args,
        "sctp",
        &[
            "udp.srcport",
            "sctp.chunk_type",
            "sctp.checksum.status",
            "sctp.data_tsn_raw",
            "sctp.data_payload_proto_id",
        ],
    );
    let list =
        |s: &str| -> Vec<u64> { s.split(',').filter(|v| !v.is_empty()).map(number).collect() };
    let mut chunk_types = BTreeSet::new();
    let mut from_a: Vec<(u64, u64)> = Vec::new();
    for row in &sctp {
        // 1 is Good: the CRC32c matches.
        assert!(
            row[2].split(',').all(|s| s == "1"),
            "SCTP checksum of {row:?}"
        );
        chunk_types.extend(list(&row[1]));
        if row[0] == "5000" {
            from_a.extend(list(&row[3]).into_iter().zip(list(&row[4])));
        }
    }
    // RFC 9260 §3.2: DATA 0, INIT 1, INIT ACK 2, SACK 3, COOKIE ECHO 10, COOKIE ACK 11.
    for t in [0, 1, 2, 3, 10, 11] {
        assert!(
            chunk_types.contains(&t),
            "chunk type {t} in {chunk_types:?}"
        );
    }
    // A's DATA: the DCEP open (PPID 50) then the N strings (PPID 51, RFC 8831 §8), on
    // consecutive TSNs, each sent once on this clean link.
    assert_eq!(from_a.len(), N + 1, "{from_a:?}");
    assert_eq!(from_a[0].1, 50);
    for (i, w) in from_a.windows(2).enumerate() {
        assert_eq!(w[1].0, w[0].0 + 1, "TSNs {from_a:?}");
        assert_eq!(w[1].1, 51, "PPID of message {i}");
    }
    // DCEP (RFC 8832 §5): A's DATA_CHANNEL_OPEN (3) with the label, B's ACK (2).
    let dcep = fields(
        &path,
        &args,
        "rtcdc",
        &["udp.srcport", "rtcdc.message_type", "rtcdc.label"],
    );
    assert_eq!(dcep.len(), 2, "{dcep:?}");
    assert_eq!(dcep[0], ["5000", "3", "wire"]);
    assert_eq!(dcep[1][..2], ["6000", "2"]);
}

/// A throwaway 512-bit RSA key, only to fill tshark's DTLS key table entry (see above).
const PLACEHOLDER_RSA_KEY: &str = "\
-----BEGIN RSA PRIVATE KEY-----
MIIBOgIBAAJBAMadTd9BEdZTouslSFJ9B6LEJ3Ftb9bnE5QgKYQ7PW/lfXHUP/U4
zZVE/M9Yjeq2jD2bjf4+axdDabK/6/N9KekCAwEAAQI/bWQ2f8BXErT+BoWCT+yN
SBjBoLel4bdkETGlrC70p6vGB7i/dhXtOcYYHD1SkqgJnTtUo7JVEvuNv+ur3NUB
AiEA4ix7Y4GcdEVNlyf33Ios0djIOQpun7D5eZWu/PhsYiECIQDgzm8NJAbD3iCT
QRkZNQBzGBTLM07wILldiSQkBtxeyQIhAJkZuVCrbQf73cEDijIcyqgmUarjF+07
dDTMkU6mr19hAiEApHK+T8mL3VovUCjtuD/KXWc/Rsn4s7Xsg1zgAC64o+kCIFFk
x+cQpR72nEZLFaV8tm3r8wm+80fCE+jBEVYzWmmd
-----END RSA PRIVATE KEY-----
";
