//! ferrtc's `PeerConnection` against str0m (a sans-IO WebRTC stack nobody here wrote), both
//! in-process on one `ferrtc-netsim` link with virtual time. SDP goes between them as text;
//! each case runs with ferrtc as offerer and as answerer.
//!
//! - a data channel opened by the offerer (candidates trickled, or only in ferrtc's
//!   `localDescription` for a peer that takes no trickle): 100 messages each way (some past
//!   the MTU, so SCTP fragments them, every fifth one text), each echoed back, all intact and
//!   in order; on a clean link and on one with 5% loss and 100 ms RTT; ferrtc's data-channel
//!   counters against what str0m delivered; a second channel opened in band by the answerer
//!   and closed by the offerer;
//! - an audio (Opus) and a video (VP8) transceiver: RTP both ways, payloads compared byte for
//!   byte, str0m in RTP mode so it hands over packets as they arrived; key frame requests
//!   (PLI, FIR) both ways; over 5% loss and 100 ms RTT, video gaps repaired by NACK and
//!   retransmission both ways;
//! - ICE restarts from each side in turn, the channel carrying on past the consent timeout;
//! - counters: ferrtc's `getStats()` (outbound-rtp, inbound-rtp, and what the peer's SR and
//!   RR say) against str0m's ingress and egress stats per mid, both ways, round trip times
//!   included.
//!
//! str0m draws its ICE credentials and SSRCs from its own global generator (it takes no
//! seed), so only ferrtc's half and the link are replayable.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrtc_dtls::Certificate;
use ferrtc_netsim::{Datagram, Endpoint, Handle, LinkConfig, Sim};
use ferrtc_peerconnection::{
    ConnectionState, DataChannelId, DataChannelInit, Description, Event, MediaKind, PeerConfig,
    PeerConnection, SignalingState, StatsEntry, StatsReport, StatsType, StatsValue, TransceiverId,
    TransceiverInit,
};
use ferrtc_rtp_codecs::RtpPacket;
use rand::SeedableRng;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Direction, KeyframeRequestKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::rtcp::{Rtcp, SdesType};
use str0m::rtp::{RawPacket, RtpWrite, SeqNo};
use str0m::stats::{MediaEgressStats, MediaIngressStats};
use str0m::{Candidate, Input, Output, Rtc};

const FERRTC_ADDR: &str = "192.0.2.1:5000";
const STR0M_ADDR: &str = "198.51.100.2:6000";

/// A data channel message as one side saw it: (binary, bytes).
type Message = (bool, Vec<u8>);

// ----- the ferrtc side -----

struct Ferrtc {
    pc: PeerConnection,
    events: Vec<Event>,
    candidates: Vec<Option<ferrtc_sdp::Candidate>>,
    channel: Option<DataChannelId>,
    received: Vec<Message>,
    /// Messages waiting for room in the send buffer.
    backlog: VecDeque<Message>,
    echo: bool,
    /// Datagrams over [`VIDEO_SIZED`] bytes the network is to lose before the random loss.
    lose_video: u32,
}

impl Ferrtc {
    fn new(sim: &Sim, seed: u64) -> Ferrtc {
        let now = sim.now();
        let cert = Arc::new(Certificate::generate().unwrap());
        let rng = Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed));
        let mut config = PeerConfig::new(cert);
        // A fixed wall clock for the NTP times of sender reports (without one ferrtc sends
        // receiver reports only).
        config.wall_clock = Some(Duration::from_secs(1_800_000_000));
        let mut pc = PeerConnection::new(config, now, rng).unwrap();
        pc.add_local_address(now, FERRTC_ADDR.parse().unwrap())
            .unwrap();
        pc.end_of_local_addresses(now);
        let mut f = Ferrtc {
            pc,
            events: Vec::new(),
            candidates: Vec::new(),
            channel: None,
            received: Vec::new(),
            backlog: VecDeque::new(),
            echo: true,
            lose_video: 0,
        };
        f.drain(now);
        f
    }

    fn drain(&mut self, now: Instant) {
        while let Some(ev) = self.pc.poll_event() {
            match &ev {
                Event::IceCandidate(c) => self.candidates.push(c.clone()),
                Event::DataChannel(id) | Event::DataChannelOpen(id) => self.channel = Some(*id),
                Event::DataChannelMessage { data, binary, .. } => {
                    self.received.push((*binary, data.to_vec()));
                    if self.echo && data.first() == Some(&b'S') {
                        let mut back = data.to_vec();
                        back[0] = b'E';
                        self.backlog.push_back((*binary, back));
                    }
                }
                _ => {}
            }
            self.events.push(ev);
        }
        self.flush(now);
    }

    fn send(&mut self, now: Instant, binary: bool, data: Vec<u8>) {
        self.backlog.push_back((binary, data));
        self.flush(now);
    }

    /// Sends what the backlog holds, as far as the channel takes it.
    fn flush(&mut self, now: Instant) {
        let Some(id) = self.channel else { return };
        while let Some((binary, data)) = self.backlog.front().cloned() {
            if self.pc.buffered_amount(id) > 512 * 1024 {
                return;
            }
            match self.pc.send_data(now, id, Bytes::from(data), binary) {
                Ok(()) => {
                    self.backlog.pop_front();
                }
                Err(_) => return,
            }
        }
        // Events a send raised (none expected) are picked up on the next drain.
    }

    fn rtp_on(&self, t: TransceiverId) -> Vec<Bytes> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Rtp {
                    transceiver,
                    packet,
                    ..
                } if *transceiver == t => Some(packet.clone()),
                _ => None,
            })
            .collect()
    }

    /// The transceiver of `kind` and our payload type for `codec` on it.
    fn media(&self, kind: MediaKind, codec: &str) -> (TransceiverId, u8) {
        let n = self.pc.negotiator().negotiation().expect("negotiated");
        let m = n
            .media
            .iter()
            .find(|m| m.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} m-line negotiated"));
        let c = m
            .codecs
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(codec))
            .unwrap_or_else(|| panic!("{codec} not negotiated on {kind:?}"));
        (m.transceiver, c.payload_type.local.get())
    }
}

impl Endpoint for Ferrtc {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let _ = self.pc.handle_receive(now, to, from, BytesMut::from(data));
        self.drain(now);
    }

    fn timeout(&mut self, now: Instant) {
        self.pc.handle_timeout(now);
        self.drain(now);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        loop {
            let t = self.pc.poll_transmit()?;
            if lose(&mut self.lose_video, &t.contents) {
                continue;
            }
            return Some(match t.source {
                Some(src) => Datagram::new(src, t.destination, t.contents.to_vec()),
                None => Datagram::any_source(t.destination, t.contents.to_vec()),
            });
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.pc.poll_timeout()
    }
}

// ----- the str0m side -----

/// An RTP packet str0m handed over: the mid it routed it to, its payload type and payload.
struct Str0mRtp {
    mid: Mid,
    pt: u8,
    seq: u16,
    payload: Vec<u8>,
}

/// str0m's latest stats event per mid.
#[derive(Default)]
struct Str0mStats {
    ingress: Vec<MediaIngressStats>,
    egress: Vec<MediaEgressStats>,
}

impl Str0mStats {
    fn ingress(&self, mid: Mid) -> &MediaIngressStats {
        self.ingress
            .iter()
            .find(|s| s.mid == mid)
            .unwrap_or_else(|| panic!("str0m reported no ingress on {mid}"))
    }

    fn egress(&self, mid: Mid) -> &MediaEgressStats {
        self.egress
            .iter()
            .find(|s| s.mid == mid)
            .unwrap_or_else(|| panic!("str0m reported no egress on {mid}"))
    }
}

struct Str0m {
    rtc: Rtc,
    out: VecDeque<Datagram>,
    timeout: Option<Instant>,
    channel: Option<ChannelId>,
    opened: bool,
    received: Vec<Message>,
    backlog: VecDeque<Message>,
    echo: bool,
    rtp: Vec<Str0mRtp>,
    media_added: Vec<(Mid, str0m::media::MediaKind)>,
    stats: Str0mStats,
    keyframe_requests: Vec<(Mid, KeyframeRequestKind)>,
    /// Channels opened, with their labels; channels closed; messages by channel.
    channels: Vec<(ChannelId, String)>,
    closed: Vec<ChannelId>,
    /// RTCP from the peer as str0m parsed it: report compounds, those with an SDES CNAME,
    /// the CNAMEs seen.
    rtcp_reports: u64,
    rtcp_reports_with_cname: u64,
    pending_cname: bool,
    last_was_report: bool,
    rtcp_outside_compound: u64,
    cnames: Vec<String>,
    received_on: Vec<(ChannelId, Vec<u8>)>,
    connected: bool,
    /// Datagrams over [`VIDEO_SIZED`] bytes the network is to lose before the random loss.
    lose_video: u32,
}

impl Str0m {
    fn new(sim: &Sim) -> Str0m {
        let now = sim.now();
        let mut rtc = Rtc::builder()
            .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
            .set_rtp_mode(true)
            // To see ferrtc's RTCP as str0m parsed it.
            .enable_raw_packets(true)
            .set_stats_interval(Some(Duration::from_millis(200)))
            // Reports on audio every second as on video (str0m's default for audio is 5 s).
            .set_rtcp_report_interval_audio(Duration::from_secs(1))
            .build(now);
        let addr: SocketAddr = STR0M_ADDR.parse().unwrap();
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        let mut s = Str0m {
            rtc,
            out: VecDeque::new(),
            timeout: None,
            channel: None,
            opened: false,
            received: Vec::new(),
            backlog: VecDeque::new(),
            echo: true,
            rtp: Vec::new(),
            media_added: Vec::new(),
            stats: Str0mStats::default(),
            keyframe_requests: Vec::new(),
            channels: Vec::new(),
            closed: Vec::new(),
            rtcp_reports: 0,
            rtcp_reports_with_cname: 0,
            pending_cname: false,
            last_was_report: false,
            rtcp_outside_compound: 0,
            cnames: Vec::new(),
            received_on: Vec::new(),
            connected: false,
            lose_video: 0,
        };
        s.drain(now);
        s
    }

    /// Drains `poll_output` to its `Timeout`, as str0m requires after every mutation.
    fn drain(&mut self, now: Instant) {
        loop {
            match self.rtc.poll_output().expect("str0m poll_output") {
                Output::Timeout(t) => {
                    // str0m answers "now" when it has nothing sooner to do; a timer at the
                    // current instant would be fired again at once, so wait a millisecond.
                    self.timeout = Some(t.max(now + Duration::from_millis(1)));
                    break;
                }
                Output::Transmit(t) => {
                    self.out
                        .push_back(Datagram::new(t.source, t.destination, &t.contents[..]));
                }
                Output::Event(e) => self.on_event(e),
            }
        }
        self.flush(now);
    }

    fn on_event(&mut self, e: str0m::Event) {
        use str0m::Event as E;
        match e {
            E::Connected => self.connected = true,
            E::ChannelOpen(id, label) => {
                self.channel = Some(id);
                self.opened = true;
                self.channels.push((id, label));
            }
            E::ChannelClose(id) => self.closed.push(id),
            E::ChannelData(d) => {
                self.received_on.push((d.id, d.data.clone()));
                self.received.push((d.binary, d.data.clone()));
                if self.echo && d.data.first() == Some(&b'F') {
                    let mut back = d.data;
                    back[0] = b'E';
                    self.backlog.push_back((d.binary, back));
                }
            }
            E::KeyframeRequest(r) => self.keyframe_requests.push((r.mid, r.kind)),
            E::RawPacket(raw) => self.on_raw(&raw),
            E::MediaAdded(m) => self.media_added.push((m.mid, m.kind)),
            E::RtpPacket(p) => {
                let mid = self
                    .rtc
                    .direct_api()
                    .stream_rx(&p.header.ssrc)
                    .map(|s| s.mid())
                    .or(p.header.ext_vals.mid)
                    .expect("str0m routed an RTP packet to no mid");
                self.rtp.push(Str0mRtp {
                    mid,
                    pt: *p.header.payload_type,
                    seq: p.header.sequence_number,
                    payload: p.payload.to_vec(),
                });
            }
            E::MediaIngressStats(s) => {
                self.stats.ingress.retain(|o| o.mid != s.mid);
                self.stats.ingress.push(s);
            }
            E::MediaEgressStats(s) => {
                self.stats.egress.retain(|o| o.mid != s.mid);
                self.stats.egress.push(s);
            }
            _ => {}
        }
    }

    fn send(&mut self, now: Instant, binary: bool, data: Vec<u8>) {
        self.backlog.push_back((binary, data));
        self.flush(now);
    }

    /// str0m hands over each packet of a compound RTCP packet in order; a report starts a
    /// compound, and an SDES with a CNAME after it counts for it.
    fn on_raw(&mut self, raw: &RawPacket) {
        let RawPacket::RtcpRx(rtcp) = raw else {
            return;
        };
        let was_report = std::mem::replace(
            &mut self.last_was_report,
            matches!(rtcp, Rtcp::SenderReport(_) | Rtcp::ReceiverReport(_)),
        );
        match rtcp {
            Rtcp::SenderReport(_) | Rtcp::ReceiverReport(_) => {
                // Reports back to back (one per send stream) are one compound.
                if !was_report {
                    self.rtcp_reports += 1;
                }
                self.pending_cname = true;
            }
            Rtcp::SourceDescription(d) => {
                for sdes in d.reports.iter() {
                    for (kind, value) in sdes.values.iter() {
                        if *kind == SdesType::CNAME {
                            if std::mem::take(&mut self.pending_cname) {
                                self.rtcp_reports_with_cname += 1;
                            }
                            if !self.cnames.contains(value) {
                                self.cnames.push(value.clone());
                            }
                        }
                    }
                }
            }
            // Feedback (NACK, PLI, transport-wide) outside a compound packet.
            _ if !self.pending_cname => self.rtcp_outside_compound += 1,
            _ => {}
        }
    }

    fn flush(&mut self, now: Instant) {
        let Some(id) = self.channel.filter(|_| self.opened) else {
            return;
        };
        let mut wrote = false;
        while let Some((binary, data)) = self.backlog.front() {
            let Some(mut ch) = self.rtc.channel(id) else {
                return;
            };
            if !ch.write(*binary, data).expect("str0m channel write") {
                break;
            }
            self.backlog.pop_front();
            wrote = true;
        }
        if wrote {
            self.drain(now);
        }
    }

    /// The mid of the m-line of `kind` and str0m's payload type for `codec` on it.
    fn media(&self, kind: str0m::media::MediaKind, codec: Codec) -> (Mid, u8) {
        let (mid, _) = *self
            .media_added
            .iter()
            .find(|(_, k)| *k == kind)
            .unwrap_or_else(|| panic!("str0m has no {kind:?} media"));
        let media = self.rtc.media(mid).expect("media");
        let pt = media
            .remote_pts()
            .iter()
            .copied()
            .find(|pt| {
                self.rtc
                    .codec_config()
                    .iter()
                    .any(|p| p.pt() == *pt && p.spec().codec == codec)
            })
            .unwrap_or_else(|| panic!("{codec:?} not negotiated on {mid}"));
        (mid, *pt)
    }

    fn write_rtp(&mut self, now: Instant, mid: Mid, pt: u8, seq: u16, time: u32, payload: &[u8]) {
        let mut api = self.rtc.direct_api();
        let tx = api
            .stream_tx_by_mid(mid, None)
            .unwrap_or_else(|| panic!("str0m has no send stream on {mid}"));
        tx.write_rtp(
            RtpWrite::new(pt.into(), SeqNo::from(u64::from(seq)), time, now, payload)
                .marker(true)
                .nackable(true),
        );
        self.drain(now);
    }

    fn input(&mut self, now: Instant, input: Input<'_>) {
        self.rtc.handle_input(input).expect("str0m handle_input");
        self.drain(now);
    }
}

impl Endpoint for Str0m {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        // str0m refuses what it cannot classify (RFC 7983) with an error; that is a drop.
        let Ok(contents) = data.try_into() else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source: from,
                destination: to,
                contents,
            },
        );
        self.input(now, input);
    }

    fn timeout(&mut self, now: Instant) {
        self.input(now, Input::Timeout(now));
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        loop {
            let d = self.out.pop_front()?;
            if !lose(&mut self.lose_video, &d.data) {
                return Some(d);
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.timeout
    }
}

/// Smallest datagram taken for a video packet: the test's video payloads are 1,000 bytes
/// before the RTP header and SRTP tag, its audio payloads 160.
const VIDEO_SIZED: usize = 1000;

/// Whether the network loses `datagram` on purpose: the next `*count` video-sized datagrams
/// are lost, whatever the link's random loss does.
fn lose(count: &mut u32, datagram: &[u8]) -> bool {
    if *count > 0 && datagram.len() > VIDEO_SIZED {
        *count -= 1;
        return true;
    }
    false
}

// ----- the harness -----

struct Pair {
    sim: Sim,
    f: Handle<Ferrtc>,
    s: Handle<Str0m>,
    /// Trickle ferrtc's candidates (else its description carries them, as for a peer
    /// that takes no trickled candidates: ferrtc sends its `localDescription`).
    trickle: bool,
}

impl Pair {
    fn new(seed: u64, link: LinkConfig) -> Pair {
        let mut sim = Sim::new(seed);
        sim.set_default_link(link);
        let f = Ferrtc::new(&sim, seed);
        let f = sim.add_endpoint([FERRTC_ADDR.parse().unwrap()], f);
        let s = Str0m::new(&sim);
        let s = sim.add_endpoint([STR0M_ADDR.parse().unwrap()], s);
        Pair {
            sim,
            f,
            s,
            trickle: true,
        }
    }

    fn now(&self) -> Instant {
        self.sim.now()
    }

    fn ferrtc(&mut self) -> &mut Ferrtc {
        self.sim.endpoint_mut(self.f)
    }

    fn str0m(&mut self) -> &mut Str0m {
        self.sim.endpoint_mut(self.s)
    }

    /// ferrtc offers (with whatever transceivers and channels it has), str0m answers.
    fn ferrtc_offers(&mut self) {
        let now = self.now();
        let f = self.ferrtc();
        let offer = f.pc.create_offer().unwrap();
        f.pc.set_local_description(now, &offer).unwrap();
        f.drain(now);
        let text = if self.trickle {
            offer.sdp.clone()
        } else {
            self.description_with_candidates()
        };
        let offer = SdpOffer::from_sdp_string(&text)
            .unwrap_or_else(|e| panic!("str0m cannot parse ferrtc's offer: {e}\n{text}"));
        let s = self.str0m();
        let answer = s
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .unwrap_or_else(|e| panic!("str0m refuses ferrtc's offer: {e}\n{text}"));
        s.drain(now);
        let answer = answer.to_sdp_string();
        let f = self.ferrtc();
        f.pc.set_remote_description(now, &Description::answer(answer.clone()))
            .unwrap_or_else(|e| panic!("ferrtc refuses str0m's answer: {e}\n{answer}"));
        f.drain(now);
        assert_eq!(f.pc.signaling_state(), SignalingState::Stable);
    }

    /// str0m offers what `change` adds, ferrtc answers (sending back on every m-line).
    fn str0m_offers(&mut self, change: impl FnOnce(&mut str0m::change::SdpApi<'_>)) {
        let now = self.now();
        let s = self.str0m();
        let mut api = s.rtc.sdp_api();
        change(&mut api);
        let (offer, pending) = api.apply().expect("str0m has something to offer");
        s.drain(now);
        let offer = offer.to_sdp_string();
        let f = self.ferrtc();
        f.pc.set_remote_description(now, &Description::offer(offer.clone()))
            .unwrap_or_else(|e| panic!("ferrtc refuses str0m's offer: {e}\n{offer}"));
        let ids: Vec<TransceiverId> = f.pc.negotiator().transceivers().map(|t| t.id()).collect();
        for id in ids {
            f.pc.set_direction(id, ferrtc_sdp::Direction::SendRecv)
                .unwrap();
        }
        let mut answer = f.pc.create_answer().unwrap();
        f.pc.set_local_description(now, &answer).unwrap();
        if !self.trickle {
            answer.sdp = self.description_with_candidates();
        }
        let f = self.ferrtc();
        f.drain(now);
        assert_eq!(f.pc.signaling_state(), SignalingState::Stable);
        let parsed = SdpAnswer::from_sdp_string(&answer.sdp)
            .unwrap_or_else(|e| panic!("str0m cannot parse ferrtc's answer: {e}\n{}", answer.sdp));
        let s = self.str0m();
        s.rtc
            .sdp_api()
            .accept_answer(pending, parsed)
            .unwrap_or_else(|e| panic!("str0m refuses ferrtc's answer: {e}\n{}", answer.sdp));
        s.drain(now);
    }

    /// ferrtc's `localDescription`, which must carry the candidates gathered so far.
    fn description_with_candidates(&mut self) -> String {
        let sdp = self
            .sim
            .endpoint(self.f)
            .pc
            .local_description()
            .expect("a local description")
            .sdp;
        assert!(
            sdp.contains("a=candidate:"),
            "ferrtc's localDescription has no candidate\n{sdp}"
        );
        sdp
    }

    /// Moves ferrtc's trickled candidates to str0m (str0m's are all in its description).
    fn trickle(&mut self) {
        let cands = std::mem::take(&mut self.ferrtc().candidates);
        if !self.trickle {
            return;
        }
        let now = self.now();
        let s = self.str0m();
        let mut added = false;
        for c in cands.into_iter().flatten() {
            let c = Candidate::from_sdp_string(&c.to_string())
                .unwrap_or_else(|e| panic!("str0m refuses ferrtc's candidate {c}: {e}"));
            s.rtc.add_remote_candidate(c);
            added = true;
        }
        if added {
            s.drain(now);
        }
    }

    fn run_until(&mut self, limit: Duration, what: &str, cond: impl Fn(&Pair) -> bool) {
        let deadline = self.now() + limit;
        while !cond(self) {
            self.trickle();
            assert!(self.now() < deadline, "{what}: not within {limit:?}");
            match self.sim.next_event() {
                Some(t) if t <= deadline => {
                    self.sim.step();
                }
                _ => self.sim.run_until(deadline),
            }
        }
    }

    fn connect(&mut self) {
        self.run_until(Duration::from_secs(30), "connected", |p| {
            p.sim.endpoint(p.f).pc.connection_state() == ConnectionState::Connected
                && p.sim.endpoint(p.s).connected
        });
    }
}

// ----- case 1 and 3: a data channel -----

/// Message `i` from the side tagged `tag`: sizes from 1 byte to 4 KiB (past the 1200-byte
/// MTU), every fifth one a text message.
fn message(tag: u8, i: usize) -> Message {
    let len = [1, 40, 1199, 1300, 2500, 4096, 700, 3000][i % 8];
    let text = i % 5 == 0;
    let mut data = vec![tag];
    data.extend((1..len).map(|j| {
        if text {
            b'a' + ((i + j) % 26) as u8
        } else {
            (i * 31 + j * 7) as u8
        }
    }));
    (!text, data)
}

fn data_channel(seed: u64, link: LinkConfig, ferrtc_offers: bool) {
    data_channel_with(seed, link, ferrtc_offers, true);
}

fn data_channel_with(seed: u64, link: LinkConfig, ferrtc_offers: bool, trickle: bool) {
    const N: usize = 100;
    let mut p = Pair::new(seed, link);
    p.trickle = trickle;
    if ferrtc_offers {
        let now = p.now();
        let f = p.ferrtc();
        let id =
            f.pc.create_data_channel(now, DataChannelInit::new("chat"))
                .unwrap();
        f.channel = Some(id);
        f.drain(now);
        p.ferrtc_offers();
    } else {
        let mut id = None;
        p.str0m_offers(|api| id = Some(api.add_channel("chat".into())));
        p.str0m().channel = id;
    }
    p.connect();
    p.run_until(Duration::from_secs(10), "channel open", |p| {
        let f = p.sim.endpoint(p.f);
        f.channel
            .is_some_and(|id| f.events.contains(&Event::DataChannelOpen(id)))
            && p.sim.endpoint(p.s).opened
    });
    let fid = p.sim.endpoint(p.f).channel.unwrap();
    let info = p.sim.endpoint(p.f).pc.data_channel(fid).unwrap();
    assert_eq!(info.label, "chat");
    assert!(info.ordered);
    // Ten messages each way every 20 ms.
    for i in 0..N {
        let now = p.now();
        let (binary, data) = message(b'F', i);
        p.ferrtc().send(now, binary, data);
        let (binary, data) = message(b'S', i);
        p.str0m().send(now, binary, data);
        if i % 10 == 9 {
            p.sim.run_for(Duration::from_millis(20));
        }
    }
    p.run_until(Duration::from_secs(120), "every message and echo", |p| {
        p.sim.endpoint(p.f).received.len() == 2 * N && p.sim.endpoint(p.s).received.len() == 2 * N
    });
    let echoed = |tag: u8| {
        (0..N)
            .map(|i| {
                let (binary, mut data) = message(tag, i);
                data[0] = b'E';
                (binary, data)
            })
            .collect::<Vec<_>>()
    };
    let from = |tag: u8| (0..N).map(|i| message(tag, i)).collect::<Vec<_>>();
    let split = |v: &[Message]| {
        let (echo, orig): (Vec<Message>, Vec<Message>) =
            v.iter().cloned().partition(|(_, d)| d[0] == b'E');
        (orig, echo)
    };
    let (f_orig, f_echo) = split(&p.sim.endpoint(p.f).received);
    let (s_orig, s_echo) = split(&p.sim.endpoint(p.s).received);
    assert!(
        f_orig == from(b'S'),
        "str0m -> ferrtc: not intact or not in order"
    );
    assert!(f_echo == echoed(b'F'), "ferrtc -> str0m -> ferrtc echo");
    assert!(
        s_orig == from(b'F'),
        "ferrtc -> str0m: not intact or not in order"
    );
    assert!(s_echo == echoed(b'S'), "str0m -> ferrtc -> str0m echo");
    // ferrtc's data-channel counters against what str0m delivered (str0m counts nothing
    // per channel).
    let bytes = |v: &[Message]| v.iter().map(|(_, d)| d.len() as u64).sum::<u64>();
    let report = p.sim.endpoint(p.f).pc.stats(p.now());
    let dc = report
        .of(StatsType::DataChannel)
        .find(|e| e.get_str("label") == Some("chat"))
        .expect("ferrtc's data-channel stats");
    let n = 2 * N as u64;
    assert_eq!(u64_of(dc, "messagesSent"), n);
    assert_eq!(u64_of(dc, "messagesReceived"), n);
    assert_eq!(
        u64_of(dc, "bytesSent"),
        bytes(&p.sim.endpoint(p.s).received)
    );
    assert_eq!(
        u64_of(dc, "bytesReceived"),
        bytes(&p.sim.endpoint(p.f).received)
    );

    // The answerer opens a second channel in band (DCEP, no renegotiation), a message goes
    // each way on it, and the offerer closes it (SCTP stream reset): both see it close, and
    // "chat" stays open.
    let now = p.now();
    let back_label = |p: &Pair| {
        let s = p.sim.endpoint(p.s);
        s.channels
            .iter()
            .find(|(_, l)| l == "back")
            .map(|(id, _)| *id)
    };
    let f_back_of = |p: &Pair| {
        let f = p.sim.endpoint(p.f);
        f.events.iter().find_map(|e| match e {
            Event::DataChannelOpen(id)
                if f.pc.data_channel(*id).is_some_and(|i| i.label == "back") =>
            {
                Some(*id)
            }
            _ => None,
        })
    };
    if ferrtc_offers {
        let s = p.str0m();
        let mut api = s.rtc.sdp_api();
        api.add_channel("back".into());
        assert!(
            api.apply().is_none(),
            "str0m renegotiates for a data channel"
        );
        s.drain(now);
    } else {
        let f = p.ferrtc();
        f.pc.create_data_channel(now, DataChannelInit::new("back"))
            .unwrap();
        f.drain(now);
    }
    p.run_until(Duration::from_secs(10), "second channel open", |p| {
        back_label(p).is_some() && f_back_of(p).is_some()
    });
    let (s_back, f_back) = (back_label(&p).unwrap(), f_back_of(&p).unwrap());
    let now = p.now();
    let f = p.ferrtc();
    f.pc.send_data(now, f_back, Bytes::from_static(b"Bfrom ferrtc"), true)
        .unwrap();
    f.drain(now);
    let s = p.str0m();
    let mut ch = s.rtc.channel(s_back).expect("str0m's second channel");
    assert!(ch.write(true, b"Bfrom str0m").unwrap());
    s.drain(now);
    p.run_until(Duration::from_secs(10), "a message each way on it", |p| {
        p.sim.endpoint(p.f).events.iter().any(|e| {
            matches!(e, Event::DataChannelMessage { id, data, .. }
                if *id == f_back && &data[..] == b"Bfrom str0m")
        }) && p
            .sim
            .endpoint(p.s)
            .received_on
            .contains(&(s_back, b"Bfrom ferrtc".to_vec()))
    });
    let now = p.now();
    if ferrtc_offers {
        let f = p.ferrtc();
        f.pc.close_data_channel(now, f_back).unwrap();
        f.drain(now);
    } else {
        let s = p.str0m();
        s.rtc.direct_api().close_data_channel(s_back);
        s.drain(now);
    }
    p.run_until(Duration::from_secs(10), "second channel closed", |p| {
        p.sim
            .endpoint(p.f)
            .events
            .contains(&Event::DataChannelClose(f_back))
            && p.sim.endpoint(p.s).closed.contains(&s_back)
    });
    let f = p.sim.endpoint(p.f);
    assert_eq!(
        f.pc.data_channel(fid).unwrap().state,
        ferrtc_peerconnection::DataChannelState::Open
    );
    assert!(!f.events.contains(&Event::DataChannelClose(fid)));
    assert_eq!(p.sim.endpoint(p.s).closed, [s_back]);
}

#[test]
fn data_channel_ferrtc_offers() {
    data_channel(
        11,
        LinkConfig::ideal().latency(Duration::from_millis(10)),
        true,
    );
}

#[test]
fn data_channel_str0m_offers() {
    data_channel(
        12,
        LinkConfig::ideal().latency(Duration::from_millis(10)),
        false,
    );
}

fn lossy_link() -> LinkConfig {
    LinkConfig::ideal()
        .latency(Duration::from_millis(50))
        .loss(0.05)
}

#[test]
fn data_channel_ferrtc_offers_without_trickle() {
    data_channel_with(
        15,
        LinkConfig::ideal().latency(Duration::from_millis(10)),
        true,
        false,
    );
}

#[test]
fn data_channel_str0m_offers_without_trickle() {
    data_channel_with(
        16,
        LinkConfig::ideal().latency(Duration::from_millis(10)),
        false,
        false,
    );
}

#[test]
fn data_channel_ferrtc_offers_over_5_percent_loss_and_100ms_rtt() {
    data_channel(13, lossy_link(), true);
}

#[test]
fn data_channel_str0m_offers_over_5_percent_loss_and_100ms_rtt() {
    data_channel(14, lossy_link(), false);
}

// ----- case 2 and 4: audio and video RTP, and the counters -----

/// Payload `i` of a stream: an index, then bytes that depend on it. Video payloads start
/// with a VP8 payload descriptor (RFC 7741 §4.2: S=1, partition 0) so a receiver that looks
/// finds VP8.
fn payload(video: bool, i: u16) -> Vec<u8> {
    let len = if video { 1000 } else { 160 };
    let mut p = Vec::with_capacity(len);
    if video {
        p.push(0x10);
    }
    p.extend_from_slice(&i.to_be_bytes());
    while p.len() < len {
        p.push((p.len() as u16 ^ i.wrapping_mul(13)) as u8);
    }
    p
}

fn rtp(pt: u8, seq: u16, time: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&time.to_be_bytes());
    // The SSRC is the transceiver's; write_rtp puts it in.
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Checks what one side received on one m-line: `(payload type, sequence, payload)` in
/// arrival order. On a clean link every packet, in order; over loss (`lossy`), every video
/// packet after NACK repair (in any order, duplicates allowed) and most audio (not repaired).
fn check_received(
    got: &[(u8, u16, Vec<u8>)],
    pt: u8,
    video: bool,
    first: u16,
    lossy: bool,
    what: &str,
) {
    const N: u16 = 50;
    for (rpt, seq, body) in got {
        assert_eq!(*rpt, pt, "payload type on {what}");
        let i = seq.wrapping_sub(first);
        assert!(i < N, "sequence {seq} on {what}");
        assert!(*body == payload(video, i), "payload {i} on {what} intact");
    }
    let seqs: Vec<u16> = got.iter().map(|(_, s, _)| *s).collect();
    if !lossy {
        let want: Vec<u16> = (first..first + N).collect();
        assert_eq!(seqs, want, "every packet in order on {what}");
        return;
    }
    let mut distinct = seqs.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if video {
        // A receiver learns of a stream from its first packet and of a gap from the packet
        // after it, so a lost first or last packet cannot be asked for (as in browsers);
        // every gap in between must be repaired.
        let (lo, hi) = (distinct[0], distinct[distinct.len() - 1]);
        assert_eq!(
            distinct,
            (lo..=hi).collect::<Vec<u16>>(),
            "a gap left unrepaired on {what}"
        );
        assert!(
            lo <= first + 1 && hi + 2 >= first + N,
            "{lo}..={hi} on {what}"
        );
    } else {
        assert!(
            distinct.len() >= usize::from(N) * 8 / 10,
            "{} audio packets on {what}",
            distinct.len()
        );
    }
}

fn media(seed: u64, ferrtc_offers: bool, lossy: bool) {
    const N: u16 = 50;
    let link = if lossy {
        lossy_link()
    } else {
        LinkConfig::ideal().latency(Duration::from_millis(10))
    };
    let mut p = Pair::new(seed, link);
    if ferrtc_offers {
        let f = p.ferrtc();
        f.pc.add_transceiver(MediaKind::Audio, TransceiverInit::default())
            .unwrap();
        f.pc.add_transceiver(MediaKind::Video, TransceiverInit::default())
            .unwrap();
        p.ferrtc_offers();
    } else {
        let mut mids = Vec::new();
        p.str0m_offers(|api| {
            use str0m::media::MediaKind as K;
            for kind in [K::Audio, K::Video] {
                mids.push((
                    api.add_media(kind, Direction::SendRecv, None, None, None),
                    kind,
                ));
            }
        });
        // str0m announces only the peer's m-lines with `MediaAdded`.
        p.str0m().media_added.extend(mids);
    }
    p.connect();
    let (f_audio, f_opus) = p.sim.endpoint(p.f).media(MediaKind::Audio, "opus");
    let (f_video, f_vp8) = p.sim.endpoint(p.f).media(MediaKind::Video, "VP8");
    let (s_audio, s_opus) = p
        .sim
        .endpoint(p.s)
        .media(str0m::media::MediaKind::Audio, Codec::Opus);
    let (s_video, s_vp8) = p
        .sim
        .endpoint(p.s)
        .media(str0m::media::MediaKind::Video, Codec::Vp8);
    // 20 ms apart, audio and video each way.
    for i in 0..N {
        if lossy && i == N / 2 {
            // Random loss may spare a stream of 50 packets: the peers' own randomness (ICE
            // tie-breakers, keys) moves which datagrams the seeded 5% falls on, and in about
            // four runs of ten it fell on no video packet of str0m's, so no NACK was due. The
            // link loses one video packet in the middle each way on top of the random loss.
            p.ferrtc().lose_video = 1;
            p.str0m().lose_video = 1;
        }
        let now = p.now();
        let f = p.ferrtc();
        let (audio, video) = (payload(false, i), payload(true, i));
        f.pc.write_rtp(
            now,
            f_audio,
            &rtp(f_opus, 1000 + i, u32::from(i) * 960, &audio),
        )
        .unwrap();
        f.pc.write_rtp(
            now,
            f_video,
            &rtp(f_vp8, 2000 + i, u32::from(i) * 1800, &video),
        )
        .unwrap();
        f.drain(now);
        let s = p.str0m();
        s.write_rtp(now, s_audio, s_opus, 3000 + i, u32::from(i) * 960, &audio);
        s.write_rtp(now, s_video, s_vp8, 4000 + i, u32::from(i) * 1800, &video);
        p.sim.run_for(Duration::from_millis(20));
    }
    // Everything delivered, a sender and a receiver report each way after the last packet
    // (both send one a second), and str0m's stats events after those.
    p.sim.run_for(Duration::from_millis(2500));

    // ferrtc -> str0m: every packet on the mid of its kind, with str0m's payload type for
    // the codec and the payload intact.
    let s = p.sim.endpoint(p.s);
    for (mid, pt, video, first) in [(s_audio, s_opus, false, 1000), (s_video, s_vp8, true, 2000)] {
        let got: Vec<(u8, u16, Vec<u8>)> = s
            .rtp
            .iter()
            .filter(|r| r.mid == mid && !r.payload.is_empty())
            .map(|r| (r.pt, r.seq, r.payload.clone()))
            .collect();
        check_received(&got, pt, video, first, lossy, &format!("str0m's {mid}"));
    }
    // str0m -> ferrtc, the same the other way.
    let f = p.sim.endpoint(p.f);
    for (t, pt, video, first) in [(f_audio, f_opus, false, 3000), (f_video, f_vp8, true, 4000)] {
        let got: Vec<(u8, u16, Vec<u8>)> = f
            .rtp_on(t)
            .iter()
            .map(|b| {
                let r = RtpPacket::new_checked(&b[..]).expect("ferrtc hands over valid RTP");
                (
                    r.payload_type().get(),
                    r.sequence_number().0,
                    r.payload().to_vec(),
                )
            })
            .filter(|(_, _, payload)| !payload.is_empty())
            .collect();
        check_received(&got, pt, video, first, lossy, &format!("ferrtc's {t:?}"));
    }
    if lossy {
        // The repairs were NACK and retransmission both ways, and ferrtc counted them.
        // Retransmissions make the other counters differ by design; the clean run compares
        // them.
        let report = f.pc.stats(p.sim.now());
        let out = by_mid(&report, StatsType::OutboundRtp, &s_video.to_string());
        let inbound = by_mid(&report, StatsType::InboundRtp, &s_video.to_string());
        assert!(u64_of(out, "nackCount") > 0, "str0m sent no NACK");
        assert!(
            u64_of(out, "retransmittedPacketsSent") > 0,
            "ferrtc resent nothing"
        );
        assert!(u64_of(inbound, "nackCount") > 0, "ferrtc sent no NACK");
        assert_compound_rtcp(&p);
        return;
    }

    // Key frame requests both ways: ferrtc's PLI reaches str0m's video sender, str0m's PLI
    // and FIR reach ferrtc's.
    let now = p.now();
    let f = p.ferrtc();
    f.pc.request_keyframe(f_video).unwrap();
    f.drain(now);
    for kind in [KeyframeRequestKind::Pli, KeyframeRequestKind::Fir] {
        let now = p.now();
        let s = p.str0m();
        s.rtc
            .direct_api()
            .stream_rx_by_mid(s_video, None)
            .expect("str0m receives video")
            .request_keyframe(kind);
        s.drain(now);
        p.sim.run_for(Duration::from_millis(200));
    }
    let s = p.sim.endpoint(p.s);
    assert_eq!(
        s.keyframe_requests,
        [(s_video, KeyframeRequestKind::Pli)],
        "str0m got ferrtc's key frame request"
    );
    let f = p.sim.endpoint(p.f);
    let asked = f
        .events
        .iter()
        .filter(|e| matches!(e, Event::KeyframeRequest { transceiver } if *transceiver == f_video))
        .count();
    assert_eq!(asked, 2, "ferrtc got str0m's PLI and FIR");

    // Counters: ferrtc's getStats() against str0m's stats events, per mid, both ways.
    let report = f.pc.stats(p.sim.now());
    let routing = f.pc.routing_stats();
    assert_eq!(routing.rtp_unroutable, 0);
    assert_eq!(routing.rtp_written, 2 * u64::from(N));
    for (mid, t, len) in [(s_audio, f_audio, 160u64), (s_video, f_video, 1000)] {
        let n = u64::from(N);
        let mid_str = mid.to_string();
        // ferrtc -> str0m: outbound-rtp against str0m's ingress, and str0m's view of
        // ferrtc's sender reports.
        let out = by_mid(&report, StatsType::OutboundRtp, &mid_str);
        let (sent, sent_bytes) = (u64_of(out, "packetsSent"), u64_of(out, "bytesSent"));
        assert_eq!(
            (sent, sent_bytes),
            (n, n * len),
            "ferrtc outbound-rtp on {mid}"
        );
        let ingress = s.stats.ingress(mid);
        assert_eq!(
            (ingress.packets, ingress.bytes),
            (sent, sent_bytes),
            "str0m ingress on {mid} vs ferrtc's outbound-rtp"
        );
        let sr = ingress
            .remote
            .as_ref()
            .unwrap_or_else(|| panic!("str0m got no sender report from ferrtc on {mid}"));
        assert_eq!(
            (sr.packets, sr.bytes),
            (sent, sent_bytes),
            "ferrtc's SR on {mid}"
        );
        // ... and ferrtc's view of str0m's receiver reports.
        let ri = report
            .get(&format!("RI{}", u64_of(out, "ssrc")))
            .unwrap_or_else(|| panic!("ferrtc has no remote-inbound-rtp on {mid}"));
        assert_eq!(ri.get_u64("packetsLost"), Some(0), "str0m's RR on {mid}");
        // Its LSR/DLSR echo our SR's NTP time: the round trip is the link's 20 ms.
        assert_rtt(ri.get("roundTripTime"), &format!("ferrtc's RTT on {mid}"));

        // str0m -> ferrtc: str0m's egress against inbound-rtp.
        let egress = s.stats.egress(mid);
        let inbound = by_mid(&report, StatsType::InboundRtp, &mid_str);
        assert_eq!(
            (
                u64_of(inbound, "packetsReceived"),
                u64_of(inbound, "bytesReceived")
            ),
            (egress.packets, egress.bytes),
            "ferrtc inbound-rtp on {mid} vs str0m's egress"
        );
        assert_eq!(egress.packets, n);
        // And the payloads ferrtc handed over on the transceiver.
        let got: u64 = f
            .rtp_on(t)
            .iter()
            .map(|b| RtpPacket::new_checked(&b[..]).unwrap().payload().len() as u64)
            .sum();
        assert_eq!(egress.bytes, got, "str0m egress bytes on {mid}");
        assert_eq!(egress.bytes, n * len);
        // str0m's view of ferrtc's receiver reports, and ferrtc's of str0m's sender reports.
        let rr = egress
            .remote
            .as_ref()
            .unwrap_or_else(|| panic!("str0m got no receiver report from ferrtc on {mid}"));
        assert_eq!(rr.packets_lost, 0, "ferrtc's RR on {mid}");
        let rtt = egress.rtt.map(|d| StatsValue::F64(d.as_secs_f64()));
        assert_rtt(rtt.as_ref(), &format!("str0m's RTT on {mid}"));
        let ro = report
            .get(&format!("RO{}", u64_of(inbound, "ssrc")))
            .unwrap_or_else(|| panic!("ferrtc has no remote-outbound-rtp on {mid}"));
        assert_eq!(
            (u64_of(ro, "packetsSent"), u64_of(ro, "bytesSent")),
            (egress.packets, egress.bytes),
            "str0m's SR on {mid}"
        );
    }
    assert_compound_rtcp(&p);
}

/// A round trip time of 20 ms (two 10 ms hops), to RTCP's 1/65536 s resolution.
fn assert_rtt(rtt: Option<&StatsValue>, what: &str) {
    match rtt {
        Some(StatsValue::F64(secs)) => assert!((secs - 0.020).abs() < 0.001, "{what}: {secs} s"),
        other => panic!("{what}: {other:?}"),
    }
}

/// Every RTCP packet str0m got from ferrtc was compound: a report first, an SDES with
/// ferrtc's CNAME last (RFC 3550 §6.1, RFC 4585 §3.1; reduced-size RTCP was not negotiated,
/// str0m neither offers nor answers a=rtcp-rsize).
fn assert_compound_rtcp(p: &Pair) {
    let s = p.sim.endpoint(p.s);
    let cname = p.sim.endpoint(p.f).pc.negotiator().cname().to_owned();
    assert!(
        s.rtcp_reports >= 2,
        "{} compounds from ferrtc",
        s.rtcp_reports
    );
    assert_eq!(
        s.rtcp_reports_with_cname, s.rtcp_reports,
        "ferrtc's compounds without an SDES CNAME"
    );
    assert_eq!(
        s.rtcp_outside_compound, 0,
        "ferrtc's feedback outside a compound packet"
    );
    assert_eq!(s.cnames, [cname]);
}

fn by_mid<'a>(report: &'a StatsReport, kind: StatsType, mid: &str) -> &'a StatsEntry {
    let mut it = report.of(kind).filter(|e| e.get_str("mid") == Some(mid));
    let e = it
        .next()
        .unwrap_or_else(|| panic!("ferrtc has no {} on {mid}", kind.as_str()));
    assert!(it.next().is_none(), "two {} on {mid}", kind.as_str());
    e
}

fn u64_of(e: &StatsEntry, name: &str) -> u64 {
    e.get_u64(name)
        .unwrap_or_else(|| panic!("{} {} has no {name}", e.kind.as_str(), e.id))
}

#[test]
fn audio_and_video_ferrtc_offers() {
    media(21, true, false);
}

#[test]
fn audio_and_video_str0m_offers() {
    media(22, false, false);
}

#[test]
fn audio_and_video_ferrtc_offers_over_5_percent_loss_and_100ms_rtt() {
    media(23, true, true);
}

#[test]
fn audio_and_video_str0m_offers_over_5_percent_loss_and_100ms_rtt() {
    media(24, false, true);
}

// ----- ICE restarts -----

/// One message each way on the open channel; both arrive.
fn exchange(p: &mut Pair, what: &str) {
    let (f_before, s_before) = (
        p.sim.endpoint(p.f).received.len(),
        p.sim.endpoint(p.s).received.len(),
    );
    let now = p.now();
    p.ferrtc()
        .send(now, true, format!("R{what} from ferrtc").into_bytes());
    p.str0m()
        .send(now, true, format!("R{what} from str0m").into_bytes());
    p.run_until(Duration::from_secs(10), what, |p| {
        p.sim.endpoint(p.f).received.len() == f_before + 1
            && p.sim.endpoint(p.s).received.len() == s_before + 1
    });
    assert_eq!(
        p.sim.endpoint(p.f).received[f_before].1,
        format!("R{what} from str0m").into_bytes()
    );
    assert_eq!(
        p.sim.endpoint(p.s).received[s_before].1,
        format!("R{what} from ferrtc").into_bytes()
    );
}

/// ICE restarts from each side in turn on a connection with an open data channel: new
/// credentials both ways (the old ones would fail consent checks within 30 s), the DTLS
/// association and the channel carry on.
fn ice_restarts(seed: u64, ferrtc_offers_first: bool) {
    let mut p = Pair::new(seed, LinkConfig::ideal().latency(Duration::from_millis(10)));
    if ferrtc_offers_first {
        let now = p.now();
        let f = p.ferrtc();
        let id =
            f.pc.create_data_channel(now, DataChannelInit::new("chat"))
                .unwrap();
        f.channel = Some(id);
        f.drain(now);
        p.ferrtc_offers();
    } else {
        let mut id = None;
        p.str0m_offers(|api| id = Some(api.add_channel("chat".into())));
        p.str0m().channel = id;
    }
    p.connect();
    p.run_until(Duration::from_secs(10), "channel open", |p| {
        p.sim.endpoint(p.f).channel.is_some() && p.sim.endpoint(p.s).opened
    });
    exchange(&mut p, "before");
    let ufrag = |p: &Pair| {
        p.sim
            .endpoint(p.f)
            .pc
            .transport()
            .local_credentials()
            .ufrag
            .clone()
    };
    let remote_ufrag = |p: &Pair| {
        let d = p.sim.endpoint(p.f).pc.remote_description().unwrap().sdp;
        d.lines()
            .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
            .unwrap()
            .to_owned()
    };
    for (round, ferrtc_restarts) in [ferrtc_offers_first, !ferrtc_offers_first]
        .into_iter()
        .enumerate()
    {
        let (ours, theirs) = (ufrag(&p), remote_ufrag(&p));
        if ferrtc_restarts {
            p.ferrtc().pc.restart_ice().unwrap();
            p.ferrtc_offers();
        } else {
            p.str0m_offers(|api| {
                api.ice_restart(true);
            });
        }
        assert_ne!(
            ufrag(&p),
            ours,
            "ferrtc's credentials after restart {round}"
        );
        assert_ne!(
            remote_ufrag(&p),
            theirs,
            "str0m's credentials after restart {round}"
        );
        // Past the consent timeout (RFC 7675: 30 s): the new credentials are in use.
        p.sim.run_for(Duration::from_secs(40));
        assert_eq!(
            p.sim.endpoint(p.f).pc.connection_state(),
            ConnectionState::Connected
        );
        assert!(
            p.sim.endpoint(p.s).rtc.is_connected(),
            "str0m after restart {round}"
        );
        exchange(&mut p, &format!("after restart {round}"));
    }
    let f = p.sim.endpoint(p.f);
    assert!(
        !f.events
            .iter()
            .any(|e| matches!(e, Event::DataChannelClose(_))),
        "the channel closed"
    );
}

#[test]
fn ice_restarts_ferrtc_first() {
    ice_restarts(31, true);
}

#[test]
fn ice_restarts_str0m_first() {
    ice_restarts(32, false);
}
