//! The peer connection group: whole connections, ferrtc's `PeerConnection` beside str0m's
//! `Rtc` (0.24, `default-features = false`, the pure-Rust `rust-crypto` backend), both sans-IO
//! and driven in one process with no sockets: datagrams are handed from one end to the other
//! directly and virtual time jumps to the next `poll_timeout` whenever nothing is in flight.
//! Offers and answers go between the two ends as SDP text.
//!
//! - set-up: from building both ends to a data channel open at both ends; the DTLS
//!   certificates are made once beforehand for both stacks (each end is handed one), so the
//!   figure is ICE + DTLS handshake + SCTP + DCEP + SDP work, not key generation;
//! - memory: live bytes held per idle connection with one open data channel, from a
//!   byte-counting global allocator ([`crate::alloc`]) around connecting N pairs; beside
//!   str0m, webrtc-rs ([`crate::wrs`]) whole, on a tokio runtime over 127.0.0.1 UDP (it has
//!   no sans-IO core to measure alone);
//! - forwarding (an SFU's hot path): pairs A-B and C-D connected; B unprotects A's SRTP in
//!   `handle_receive`, the `Event::Rtp` packet is written to D with `write_rtp`, D protects
//!   it into a datagram for C. The reference is the crypto ceiling: ferrtc-srtp contexts
//!   alone doing one unprotect and one protect per packet of the same size and profile.

use std::collections::VecDeque;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferrtc_dtls::Certificate;
use ferrtc_peerconnection::{
    ConnectionState, DataChannelInit, Description, Event, MediaKind, PeerConfig, PeerConnection,
    TransceiverId, TransceiverInit,
};
use ferrtc_srtp::{Config as SrtpConfig, SrtpContext, SrtpProfile};
use rand::SeedableRng;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Input, Output, Rtc};

use crate::{BatchCase, Case, Config, Row, Unit, compare, compare_batched};

/// The offerer's address.
pub const ADDR_A: &str = "192.0.2.1:5000";
/// The answerer's address.
pub const ADDR_B: &str = "198.51.100.2:6000";
/// Pairs connected for the memory row.
pub const MEMORY_PAIRS: usize = 100;
/// webrtc-rs pairs connected for the memory row (fewer: each takes real time to connect).
pub const WRS_MEMORY_PAIRS: usize = 25;
/// Virtual time a connection stays idle after its channel opened, before memory is read.
pub const IDLE: Duration = Duration::from_secs(5);
/// Packets per prepared batch in the forwarding row.
pub const FORWARD_BATCH: usize = 2048;

/// The str0m version and backend, as the rows name it.
pub const STR0M: &str = "str0m 0.24 (rust-crypto)";

/// Virtual time a set-up may take before it counts as failed.
const LIMIT: Duration = Duration::from_secs(30);
/// Loop turns a set-up may take before it counts as failed (a guard against a stuck clock).
const MAX_TURNS: usize = 100_000;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("constant address")
}

/// DTLS certificates and str0m's crypto provider, made once, outside every timed part.
pub struct Certs {
    ferrtc: [Arc<Certificate>; 2],
    str0m: [DtlsCert; 2],
    provider: Arc<CryptoProvider>,
}

impl Certs {
    /// Two certificates for each stack (one per end).
    ///
    /// # Panics
    /// If a backend cannot make a certificate.
    #[must_use]
    pub fn new() -> Certs {
        let provider = Arc::new(str0m::crypto::from_feature_flags());
        let str0m_cert = || {
            provider
                .dtls_provider
                .generate_certificate()
                .expect("str0m's rust-crypto backend makes certificates")
        };
        Certs {
            ferrtc: [
                Arc::new(Certificate::generate().expect("certificate")),
                Arc::new(Certificate::generate().expect("certificate")),
            ],
            str0m: [str0m_cert(), str0m_cert()],
            provider,
        }
    }
}

impl Default for Certs {
    fn default() -> Self {
        Certs::new()
    }
}

/// What a drive of two ends waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// `connectionState` connected at both ends (DTLS done, SRTP keyed).
    Connected,
    /// A data channel open at both ends.
    ChannelOpen,
}

// ----- ferrtc -----

/// Two connected ferrtc peer connections and their virtual clock.
pub struct FerrtcPair {
    /// The offerer.
    pub a: PeerConnection,
    /// The answerer.
    pub b: PeerConnection,
    /// The pair's virtual time.
    pub now: Instant,
}

fn ferrtc_peer(cert: &Arc<Certificate>, now: Instant, seed: u64, at: &str) -> PeerConnection {
    let rng = Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed));
    let mut pc =
        PeerConnection::new(PeerConfig::new(Arc::clone(cert)), now, rng).expect("default config");
    pc.add_local_address(now, addr(at)).expect("host address");
    pc.end_of_local_addresses(now);
    pc
}

/// Offer from `a`, answer from `b` (sending back on every transceiver), as SDP text.
fn ferrtc_negotiate(a: &mut PeerConnection, b: &mut PeerConnection, now: Instant) {
    let offer = a.create_offer().expect("offer");
    a.set_local_description(now, &offer).expect("local offer");
    b.set_remote_description(now, &Description::offer(offer.sdp.clone()))
        .expect("remote offer");
    let ids: Vec<TransceiverId> = b.negotiator().transceivers().map(|t| t.id()).collect();
    for id in ids {
        b.set_direction(id, ferrtc_sdp::Direction::SendRecv)
            .expect("direction");
    }
    let answer = b.create_answer().expect("answer");
    b.set_local_description(now, &answer).expect("local answer");
    a.set_remote_description(now, &Description::answer(answer.sdp.clone()))
        .expect("remote answer");
}

/// Drives `a` and `b` in memory until `goal` is reached at both ends, then `linger` more of
/// virtual time; trickled candidates go across as `addIceCandidate` calls. False if the goal
/// was not reached within 30 s of virtual time.
pub fn ferrtc_run(
    a: &mut PeerConnection,
    b: &mut PeerConnection,
    now: &mut Instant,
    goal: Goal,
    linger: Duration,
) -> bool {
    let addrs = [addr(ADDR_A), addr(ADDR_B)];
    let deadline = *now + LIMIT;
    let mut reached = [false; 2];
    let mut until: Option<Instant> = None;
    for _ in 0..MAX_TURNS {
        let mut moved = true;
        while moved {
            moved = false;
            for side in 0..2 {
                let (me, other) = if side == 0 {
                    (&mut *a, &mut *b)
                } else {
                    (&mut *b, &mut *a)
                };
                while let Some(t) = me.poll_transmit() {
                    let from = t.source.unwrap_or(addrs[side]);
                    let datagram = BytesMut::from(&t.contents[..]);
                    // A datagram the other end drops is counted there; the run goes on.
                    let _ = other.handle_receive(*now, t.destination, from, datagram);
                    moved = true;
                }
                while let Some(ev) = me.poll_event() {
                    match ev {
                        Event::IceCandidate(c) => {
                            // Refused before the remote description: the description
                            // carries those gathered so far.
                            let _ = other.add_ice_candidate(*now, c.as_ref());
                            moved = true;
                        }
                        Event::DataChannelOpen(_) if goal == Goal::ChannelOpen => {
                            reached[side] = true;
                        }
                        Event::ConnectionStateChange(ConnectionState::Connected, _)
                            if goal == Goal::Connected =>
                        {
                            reached[side] = true;
                        }
                        _ => {}
                    }
                }
            }
        }
        if reached == [true, true] && until.is_none() {
            until = Some(*now + linger);
        }
        let next = [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match (until, next) {
            (Some(u), Some(t)) if t > u => return true,
            (Some(_), None) => return true,
            (None, Some(t)) if t > deadline => return false,
            (None, None) => return false,
            (_, Some(t)) => {
                *now = t.max(*now);
                a.handle_timeout(*now);
                b.handle_timeout(*now);
            }
        }
    }
    false
}

/// ferrtc: two peer connections from construction to a data channel (opened by the
/// offerer) open at both ends, then `linger` of idle virtual time.
///
/// # Panics
/// If the set-up does not complete.
#[must_use]
pub fn ferrtc_connect(certs: &Certs, seed: u64, linger: Duration) -> FerrtcPair {
    let mut now = Instant::now();
    let mut a = ferrtc_peer(&certs.ferrtc[0], now, seed * 2, ADDR_A);
    let mut b = ferrtc_peer(&certs.ferrtc[1], now, seed * 2 + 1, ADDR_B);
    a.create_data_channel(now, DataChannelInit::new("chat"))
        .expect("data channel");
    ferrtc_negotiate(&mut a, &mut b, now);
    assert!(
        ferrtc_run(&mut a, &mut b, &mut now, Goal::ChannelOpen, linger),
        "ferrtc: no data channel within {LIMIT:?}"
    );
    FerrtcPair { a, b, now }
}

// ----- str0m -----

/// Two connected str0m `Rtc`s and their virtual clock.
pub struct Str0mPair {
    /// The offerer.
    pub a: Rtc,
    /// The answerer.
    pub b: Rtc,
    /// The pair's virtual time.
    pub now: Instant,
}

fn str0m_peer(certs: &Certs, i: usize, now: Instant, at: &str) -> Rtc {
    let mut rtc = Rtc::builder()
        .set_crypto_provider(Arc::clone(&certs.provider))
        .set_dtls_cert(certs.str0m[i].clone())
        .build(now);
    rtc.add_local_candidate(Candidate::host(addr(at), "udp").expect("host candidate"));
    rtc
}

/// One datagram in flight between two str0m ends: source, destination, bytes.
type Flight = (SocketAddr, SocketAddr, Vec<u8>);

/// Drives two str0m ends as [`ferrtc_run`] does ferrtc's: outputs drained to their
/// `Timeout`, transmits delivered at once, virtual time jumped to the earlier timeout.
pub fn str0m_run(a: &mut Rtc, b: &mut Rtc, now: &mut Instant, linger: Duration) -> bool {
    let deadline = *now + LIMIT;
    let mut reached = [false; 2];
    let mut until: Option<Instant> = None;
    let mut timeouts = [*now; 2];
    let mut inbox: [VecDeque<Flight>; 2] = [VecDeque::new(), VecDeque::new()];
    for _ in 0..MAX_TURNS {
        for side in 0..2 {
            let rtc = if side == 0 { &mut *a } else { &mut *b };
            loop {
                match rtc.poll_output() {
                    Ok(Output::Timeout(t)) => {
                        // str0m answers "now" when nothing is sooner; a timer at the current
                        // instant would fire again at once, so it waits a millisecond.
                        timeouts[side] = t.max(*now + Duration::from_millis(1));
                        break;
                    }
                    Ok(Output::Transmit(t)) => {
                        inbox[1 - side].push_back((t.source, t.destination, t.contents.to_vec()));
                    }
                    Ok(Output::Event(str0m::Event::ChannelOpen(..))) => reached[side] = true,
                    Ok(Output::Event(_)) => {}
                    Err(_) => return false,
                }
            }
        }
        if reached == [true, true] && until.is_none() {
            until = Some(*now + linger);
        }
        if inbox.iter().any(|q| !q.is_empty()) {
            for (side, queue) in inbox.iter_mut().enumerate() {
                let rtc = if side == 0 { &mut *a } else { &mut *b };
                while let Some((source, destination, data)) = queue.pop_front() {
                    let Ok(contents) = data.as_slice().try_into() else {
                        continue;
                    };
                    let input = Input::Receive(
                        *now,
                        Receive {
                            proto: Protocol::Udp,
                            source,
                            destination,
                            contents,
                        },
                    );
                    // A datagram str0m refuses is a drop; the run goes on.
                    let _ = rtc.handle_input(input);
                }
            }
            continue;
        }
        let next = timeouts[0].min(timeouts[1]);
        match until {
            Some(u) if next > u => return true,
            None if next > deadline => return false,
            _ => {}
        }
        *now = next.max(*now);
        if a.handle_input(Input::Timeout(*now)).is_err()
            || b.handle_input(Input::Timeout(*now)).is_err()
        {
            return false;
        }
    }
    false
}

/// str0m: two `Rtc`s from construction to a data channel (added by the offerer) open at
/// both ends, then `linger` of idle virtual time.
///
/// # Panics
/// If the set-up does not complete.
#[must_use]
pub fn str0m_connect(certs: &Certs, linger: Duration) -> Str0mPair {
    let mut now = Instant::now();
    let mut a = str0m_peer(certs, 0, now, ADDR_A);
    let mut b = str0m_peer(certs, 1, now, ADDR_B);
    let mut change = a.sdp_api();
    let _ = change.add_channel("chat".into());
    let (offer, pending) = change.apply().expect("a change to offer");
    let offer = SdpOffer::from_sdp_string(&offer.to_sdp_string()).expect("str0m parses its offer");
    let answer = b.sdp_api().accept_offer(offer).expect("str0m accepts");
    let answer =
        SdpAnswer::from_sdp_string(&answer.to_sdp_string()).expect("str0m parses its answer");
    a.sdp_api()
        .accept_answer(pending, answer)
        .expect("str0m accepts its answer");
    assert!(
        str0m_run(&mut a, &mut b, &mut now, linger),
        "str0m: no data channel within {LIMIT:?}"
    );
    Str0mPair { a, b, now }
}

// ----- memory -----

/// Live bytes per connection (2 per pair) held by `n` connected pairs made by `connect`,
/// after one warm-up pair (so one-time global set-up is not counted). `None` when the
/// byte-counting allocator is not installed.
pub fn memory_per_connection<P>(n: usize, mut connect: impl FnMut(u64) -> P) -> Option<f64> {
    if !crate::alloc::installed() {
        return None;
    }
    drop(connect(0));
    let (pairs, bytes) = crate::alloc::live_bytes_during(|| {
        let mut v = Vec::with_capacity(n);
        for i in 1..=n as u64 {
            v.push(connect(i));
        }
        v
    });
    drop(pairs);
    Some(bytes as f64 / (2 * n) as f64)
}

// ----- forwarding -----

/// Two connected ferrtc pairs with video, A-B and C-D, and the forwarding loop between them:
/// B receives A's SRTP, the packet goes to D's `write_rtp`, D protects it for C.
pub struct Forwarder {
    /// A, the sender (offerer of the first pair).
    pub a: PeerConnection,
    /// B, A's peer: receives A's SRTP.
    pub b: PeerConnection,
    /// C, D's peer (offerer of the second pair).
    pub c: PeerConnection,
    /// D: sends what B received, to C.
    pub d: PeerConnection,
    /// Virtual time (fixed while forwarding).
    pub now: Instant,
    /// A's video transceiver.
    pub a_tx: TransceiverId,
    /// D's video transceiver.
    pub d_tx: TransceiverId,
    packet: Vec<u8>,
    seq: u16,
    batch: Vec<BytesMut>,
    pool: BytesMut,
    profile: SrtpProfile,
}

fn video_pair(certs: &Certs, seed: u64) -> (PeerConnection, PeerConnection, Instant) {
    let mut now = Instant::now();
    let mut a = ferrtc_peer(&certs.ferrtc[0], now, seed * 2, ADDR_A);
    let mut b = ferrtc_peer(&certs.ferrtc[1], now, seed * 2 + 1, ADDR_B);
    a.add_transceiver(MediaKind::Video, TransceiverInit::default())
        .expect("transceiver");
    ferrtc_negotiate(&mut a, &mut b, now);
    assert!(
        ferrtc_run(&mut a, &mut b, &mut now, Goal::Connected, Duration::ZERO),
        "ferrtc: not connected within {LIMIT:?}"
    );
    (a, b, now)
}

impl Forwarder {
    /// Both pairs connected; packets of `size` bytes (RTP header included) on VP8.
    ///
    /// # Panics
    /// If a pair does not connect or VP8 is not negotiated.
    #[must_use]
    pub fn new(certs: &Certs, size: usize) -> Forwarder {
        let (a, b, t1) = video_pair(certs, 1);
        let (c, d, t2) = video_pair(certs, 2);
        let n = a.negotiator().negotiation().expect("negotiated");
        let m = &n.media[0];
        let pt = m
            .codecs
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case("VP8"))
            .expect("VP8 negotiated")
            .payload_type
            .local
            .get();
        let a_tx = m.transceiver;
        let d_tx = d
            .negotiator()
            .transceivers()
            .next()
            .expect("D has the offered transceiver")
            .id();
        let profile = b.transport().srtp_profile().expect("SRTP keyed");
        let mut packet = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44];
        packet.extend((12..size).map(|i| i as u8));
        Forwarder {
            a,
            b,
            c,
            d,
            now: t1.max(t2),
            a_tx,
            d_tx,
            packet,
            seq: 0,
            batch: Vec::with_capacity(FORWARD_BATCH),
            pool: BytesMut::new(),
            profile,
        }
    }

    /// The SRTP profile the pairs negotiated.
    #[must_use]
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// A writes `n` new packets; their SRTP datagrams wait for [`Forwarder::forward`], each
    /// cut from a reused pool as the facade's socket receive path cuts them (`BytesMut::split`
    /// of a shared buffer, so freezing one allocates nothing).
    ///
    /// # Panics
    /// If A refuses to send.
    pub fn prepare(&mut self, n: usize) {
        self.batch.clear();
        for _ in 0..n {
            self.seq = self.seq.wrapping_add(1);
            self.packet[2..4].copy_from_slice(&self.seq.to_be_bytes());
            let ts = u32::from(self.seq).wrapping_mul(3000);
            self.packet[4..8].copy_from_slice(&ts.to_be_bytes());
            self.a
                .write_rtp(self.now, self.a_tx, &self.packet)
                .expect("A sends");
            while let Some(t) = self.a.poll_transmit() {
                if self.pool.capacity() - self.pool.len() < t.contents.len() {
                    self.pool.reserve(t.contents.len().max(256 * 1024));
                }
                self.pool.extend_from_slice(&t.contents);
                self.batch.push(self.pool.split());
            }
        }
        while self.a.poll_event().is_some() {}
    }

    /// Takes the prepared batch, for a caller that forwards it itself.
    pub fn take_batch(&mut self) -> Vec<BytesMut> {
        std::mem::take(&mut self.batch)
    }

    /// Forwards the prepared batch: B unprotects each datagram, the `Event::Rtp` packet
    /// goes to D's `write_rtp`, D's datagram is taken from `poll_transmit`. Returns packets
    /// forwarded.
    pub fn forward(&mut self) -> u64 {
        let (a_addr, b_addr) = (addr(ADDR_A), addr(ADDR_B));
        let mut n = 0;
        for datagram in self.batch.drain(..) {
            let _ = self.b.handle_receive(self.now, b_addr, a_addr, datagram);
            while let Some(ev) = self.b.poll_event() {
                if let Event::Rtp { packet, .. } = ev {
                    if self.d.write_rtp(self.now, self.d_tx, &packet).is_ok() {
                        n += 1;
                    }
                }
            }
            while let Some(t) = self.d.poll_transmit() {
                black_box(&t.contents);
            }
            while self.b.poll_transmit().is_some() {}
        }
        n
    }
}

/// The crypto ceiling of forwarding: ferrtc-srtp contexts alone, one protect and one
/// unprotect per packet of the same size and profile, in place on one buffer.
pub struct SrtpCeiling {
    tx: SrtpContext,
    rx: SrtpContext,
    buf: Vec<u8>,
    len: usize,
    seq: u16,
}

impl SrtpCeiling {
    /// Contexts for `profile` and a `size`-byte RTP packet.
    ///
    /// # Panics
    /// Never for a valid profile (the key lengths are the profile's).
    #[must_use]
    pub fn new(profile: SrtpProfile, size: usize) -> SrtpCeiling {
        let key: Vec<u8> = (0..profile.master_key_len() as u8).collect();
        let salt: Vec<u8> = (0..profile.master_salt_len() as u8).map(|b| !b).collect();
        let ctx = || SrtpContext::new(profile, &key, &salt, SrtpConfig::default()).expect("keys");
        let mut buf = vec![0x80, 96, 0, 0, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44];
        buf.extend((12..size).map(|i| i as u8));
        buf.resize(size + 32, 0);
        SrtpCeiling {
            tx: ctx(),
            rx: ctx(),
            buf,
            len: size,
            seq: 0,
        }
    }

    /// `n` packets, each protected then unprotected. Returns `n`.
    ///
    /// # Panics
    /// If the round trip fails (a bug).
    pub fn run(&mut self, n: usize) -> u64 {
        for _ in 0..n {
            self.seq = self.seq.wrapping_add(1);
            self.buf[2..4].copy_from_slice(&self.seq.to_be_bytes());
            let sent = self
                .tx
                .protect_rtp(&mut self.buf, self.len)
                .expect("protect");
            let got = self
                .rx
                .unprotect_rtp(&mut self.buf[..sent])
                .expect("unprotect");
            black_box(&self.buf[..got]);
        }
        n as u64
    }
}

fn profile_name(p: SrtpProfile) -> &'static str {
    match p {
        SrtpProfile::AeadAes128Gcm => "AEAD_AES_128_GCM",
        SrtpProfile::AeadAes256Gcm => "AEAD_AES_256_GCM",
        SrtpProfile::Aes128CmHmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
        SrtpProfile::Aes128CmHmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
    }
}

/// The group's rows.
pub fn rows(cfg: &Config) -> Vec<Row> {
    let certs = Certs::new();
    let mut rows = Vec::new();

    let mut seed = 0u64;
    rows.extend(compare(
        cfg,
        "connection set-up in memory: both ends built, SDP offer/answer, ICE, DTLS, SCTP, \
         data channel open at both ends (certificates made beforehand)",
        Unit::Ops,
        Case::new("ferrtc", || {
            seed = seed.wrapping_add(1);
            black_box(ferrtc_connect(&certs, seed, Duration::ZERO));
        }),
        vec![Case::new(STR0M, || {
            black_box(str0m_connect(&certs, Duration::ZERO));
        })],
    ));

    let ours = memory_per_connection(MEMORY_PAIRS, |i| ferrtc_connect(&certs, 1000 + i, IDLE));
    let theirs = memory_per_connection(MEMORY_PAIRS, |_| str0m_connect(&certs, IDLE));
    let rt = crate::facade::runtime();
    let api = crate::wrs::api(false);
    let wrs = crate::alloc::live_bytes_per_connection(
        &rt,
        WRS_MEMORY_PAIRS,
        2,
        IDLE,
        || crate::wrs::Pair::new(&api),
        crate::wrs::Pair::close,
    );
    drop(rt);
    if let (Some(ours), Some(theirs), Some(wrs)) = (ours, theirs, wrs) {
        rows.push(Row {
            workload: format!(
                "memory per idle connection, one open data channel: live heap bytes \
                 (counting allocator) / connections; sans-IO cores in memory, no sockets \
                 ({MEMORY_PAIRS} pairs, {} s virtual idle)",
                IDLE.as_secs()
            ),
            ours_name: "ferrtc",
            reference_name: STR0M,
            ours_per_sec: ours,
            reference_per_sec: theirs,
            unit: Unit::Memory,
        });
        rows.push(Row {
            workload: format!(
                "memory per idle connection, one open data channel: live heap bytes \
                 (counting allocator) / connections; ferrtc's sans-IO core (as above) against \
                 webrtc-rs whole on a 2-thread tokio runtime over 127.0.0.1 UDP, its tasks, \
                 channels and socket buffers included, kernel memory not \
                 ({WRS_MEMORY_PAIRS} pairs, {} s real idle; the facade group compares \
                 like with like)",
                IDLE.as_secs()
            ),
            ours_name: "ferrtc",
            reference_name: crate::wrs::WEBRTC_RS,
            ours_per_sec: ours,
            reference_per_sec: wrs,
            unit: Unit::Memory,
        });
    } else {
        eprintln!("pc: memory rows left out (the byte-counting allocator is not installed)");
    }

    for size in [1200, 172] {
        let mut fwd = Forwarder::new(&certs, size);
        let profile = fwd.profile();
        let fwd = std::cell::RefCell::new(&mut fwd);
        let mut ceiling = SrtpCeiling::new(profile, size);
        let workload = format!(
            "RTP forwarding A -> B -> D (unprotect, Event::Rtp, write_rtp, protect), {size} B, {}",
            profile_name(profile)
        );
        rows.extend(compare_batched(
            cfg,
            &workload,
            Unit::Ops,
            BatchCase::new(
                "ferrtc",
                || fwd.borrow_mut().prepare(FORWARD_BATCH),
                || fwd.borrow_mut().forward(),
            ),
            vec![BatchCase::new(
                "ferrtc-srtp unprotect + protect alone (crypto ceiling)",
                || {},
                || ceiling.run(FORWARD_BATCH),
            )],
        ));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_stacks_open_a_data_channel() {
        let certs = Certs::new();
        let f = ferrtc_connect(&certs, 1, Duration::from_secs(1));
        assert_eq!(f.a.connection_state(), ConnectionState::Connected);
        let _ = str0m_connect(&certs, Duration::from_secs(1));
    }

    #[test]
    fn forwarding_forwards_every_packet() {
        let certs = Certs::new();
        let mut fwd = Forwarder::new(&certs, 1200);
        for _ in 0..3 {
            fwd.prepare(100);
            assert_eq!(fwd.forward(), 100);
        }
        let mut ceiling = SrtpCeiling::new(fwd.profile(), 1200);
        assert_eq!(ceiling.run(10), 10);
    }
}
