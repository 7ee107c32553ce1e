//! ferrtc's async `PeerConnection` against webrtc-rs (the `webrtc` crate on tokio, a stack
//! nobody here wrote), both in this process, over real UDP on 127.0.0.1. SDP goes between
//! them as text, candidates inside the descriptions; every case runs with ferrtc as offerer
//! and as answerer.
//!
//! - a data channel opened by the offerer: 100 messages from each side (text and binary,
//!   some past 1200 bytes so SCTP fragments them), each echoed back by the other side, all
//!   intact and in order at both ends;
//! - an Opus and a VP8 transceiver, RTP both ways (ferrtc's `write_rtp` and `Event::Rtp`,
//!   webrtc-rs's `TrackLocalStaticRTP::write_rtp` and `TrackRemote::read_rtp`), payloads
//!   compared byte for byte; then the counters: ferrtc's `getStats()` outbound-rtp
//!   `packetsSent` against webrtc-rs's inbound `packets_received`, and webrtc-rs's outbound
//!   `packets_sent` against ferrtc's inbound-rtp `packetsReceived`;
//! - a lost video packet each way, repaired: a UDP relay between the two drops exactly one
//!   datagram carrying a chosen sequence number; webrtc-rs's NACK generator asks ferrtc,
//!   which retransmits (webrtc-rs negotiates no RTX, so the repair is plain retransmission),
//!   and ferrtc's NACK gets webrtc-rs's responder to resend.
//!
//! webrtc-rs runs with no ICE servers, loopback candidates on, UDP4 only, mDNS off and only
//! 127.0.0.1 gathered. Set `RUST_LOG` (e.g. `ferrtc=debug`) to see ferrtc's side; the SDP
//! of every exchange is printed (shown by the test harness when a case fails).

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{loopback, within};
use ferrtc::{
    DataChannel, DataChannelInit, Description, Direction, Event, MediaKind, Message,
    PeerConnection, StatsEntry, StatsReport, StatsType, TransceiverId, TransceiverInit,
};
use tokio::sync::{mpsc, watch};
use webrtc::api::APIBuilder;
use webrtc::api::interceptor_registry::register_default_interceptors;
use webrtc::api::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine};
use webrtc::api::setting_engine::SettingEngine;
use webrtc::data_channel::RTCDataChannel;
use webrtc::data_channel::data_channel_message::DataChannelMessage;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice::network_type::NetworkType;
use webrtc::interceptor::registry::Registry;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::rtp_transceiver::rtp_codec::{
    RTCRtpCodecCapability, RTCRtpCodecParameters, RTPCodecType,
};
use webrtc::stats::StatsReportType;
use webrtc::track::track_local::track_local_static_rtp::TrackLocalStaticRTP;
use webrtc::track::track_local::{TrackLocal, TrackLocalContext, TrackLocalWriter};
use webrtc::track::track_remote::TrackRemote;
use webrtc::util::Unmarshal;

// ----- webrtc-rs -----

/// A webrtc-rs peer connection and what its callbacks report.
struct Wrs {
    pc: Arc<RTCPeerConnection>,
    connected: watch::Receiver<RTCPeerConnectionState>,
    channels: mpsc::UnboundedReceiver<WrsChannel>,
    /// (kind, packet) as `read_rtp` gave them, from every remote track.
    rtp: mpsc::UnboundedReceiver<(RTPCodecType, webrtc::rtp::packet::Packet)>,
}

/// A webrtc-rs data channel with its messages.
struct WrsChannel {
    dc: Arc<RTCDataChannel>,
    opened: watch::Receiver<bool>,
    messages: mpsc::UnboundedReceiver<DataChannelMessage>,
}

fn wrs_channel(dc: Arc<RTCDataChannel>) -> WrsChannel {
    let (open_tx, opened) = watch::channel(false);
    let (msg_tx, messages) = mpsc::unbounded_channel();
    dc.on_open(Box::new(move || {
        let _ = open_tx.send(true);
        Box::pin(async {})
    }));
    dc.on_message(Box::new(move |m: DataChannelMessage| {
        let _ = msg_tx.send(m);
        Box::pin(async {})
    }));
    WrsChannel {
        dc,
        opened,
        messages,
    }
}

impl WrsChannel {
    async fn opened(&mut self) {
        within("webrtc-rs channel open", self.opened.wait_for(|o| *o))
            .await
            .unwrap();
    }

    async fn recv(&mut self) -> DataChannelMessage {
        within("a webrtc-rs message", self.messages.recv())
            .await
            .expect("webrtc-rs channel ended")
    }

    async fn send(&self, m: &Message) {
        if m.binary {
            self.dc.send(&m.data).await.unwrap();
        } else {
            let text = String::from_utf8(m.data.to_vec()).unwrap();
            self.dc.send_text(text).await.unwrap();
        }
    }
}

async fn wrs() -> Wrs {
    let mut media = MediaEngine::default();
    media.register_default_codecs().unwrap();
    let registry = register_default_interceptors(Registry::new(), &mut media).unwrap();
    let mut settings = SettingEngine::default();
    settings.set_include_loopback_candidate(true);
    settings.set_network_types(vec![NetworkType::Udp4]);
    settings.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
    settings.set_ip_filter(Box::new(|ip| ip.is_loopback()));
    let api = APIBuilder::new()
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_setting_engine(settings)
        .build();
    let pc = Arc::new(
        api.new_peer_connection(RTCConfiguration::default())
            .await
            .unwrap(),
    );
    let (state_tx, connected) = watch::channel(RTCPeerConnectionState::New);
    pc.on_peer_connection_state_change(Box::new(move |s| {
        let _ = state_tx.send(s);
        Box::pin(async {})
    }));
    let (ch_tx, channels) = mpsc::unbounded_channel();
    pc.on_data_channel(Box::new(move |dc| {
        let _ = ch_tx.send(wrs_channel(dc));
        Box::pin(async {})
    }));
    let (rtp_tx, rtp) = mpsc::unbounded_channel();
    pc.on_track(Box::new(move |track: Arc<TrackRemote>, _, _| {
        let tx = rtp_tx.clone();
        tokio::spawn(async move {
            while let Ok((p, _)) = track.read_rtp().await {
                if tx.send((track.kind(), p)).is_err() {
                    return;
                }
            }
        });
        Box::pin(async {})
    }));
    Wrs {
        pc,
        connected,
        channels,
        rtp,
    }
}

impl Wrs {
    async fn connected(&mut self) {
        within(
            "webrtc-rs connected",
            self.connected
                .wait_for(|s| *s == RTCPeerConnectionState::Connected),
        )
        .await
        .unwrap();
    }

    /// Sets our description and waits for gathering to end; the SDP with candidates.
    async fn set_local(&self, d: RTCSessionDescription) -> String {
        let mut gathered = self.pc.gathering_complete_promise().await;
        self.pc.set_local_description(d).await.unwrap();
        within("webrtc-rs gathering", gathered.recv()).await;
        self.pc.local_description().await.unwrap().sdp
    }
}

/// A webrtc-rs track that says when webrtc-rs has bound it to a sender stream (until then
/// `write_rtp` writes nowhere).
struct Announced {
    inner: Arc<TrackLocalStaticRTP>,
    bound: watch::Sender<bool>,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

// `TrackLocal` is an `async_trait`; these are its methods written out.
impl TrackLocal for Announced {
    fn bind<'a, 'b, 'c>(
        &'a self,
        t: &'b TrackLocalContext,
    ) -> BoxFuture<'c, webrtc::error::Result<RTCRtpCodecParameters>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        Box::pin(async move {
            let r = self.inner.bind(t).await;
            if r.is_ok() {
                let _ = self.bound.send(true);
            }
            r
        })
    }

    fn unbind<'a, 'b, 'c>(
        &'a self,
        t: &'b TrackLocalContext,
    ) -> BoxFuture<'c, webrtc::error::Result<()>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        Box::pin(self.inner.unbind(t))
    }

    fn id(&self) -> &str {
        self.inner.id()
    }

    fn rid(&self) -> Option<&str> {
        self.inner.rid()
    }

    fn stream_id(&self) -> &str {
        self.inner.stream_id()
    }

    fn kind(&self) -> RTPCodecType {
        self.inner.kind()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A webrtc-rs sending track of `mime`, added to `pc`; its RTCP is read (so that the NACK
/// responder sees NACKs). Returns the track and a flag that turns true once it is bound.
async fn wrs_track(
    pc: &RTCPeerConnection,
    mime: &str,
) -> (Arc<TrackLocalStaticRTP>, watch::Receiver<bool>) {
    let inner = Arc::new(TrackLocalStaticRTP::new(
        RTCRtpCodecCapability {
            mime_type: mime.to_owned(),
            ..Default::default()
        },
        format!("wrs-{mime}"),
        "wrs".to_owned(),
    ));
    let (bound_tx, bound) = watch::channel(false);
    let track = Arc::new(Announced {
        inner: Arc::clone(&inner),
        bound: bound_tx,
    });
    let sender = pc.add_track(track).await.unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 1500];
        while sender.read(&mut buf).await.is_ok() {}
    });
    (inner, bound)
}

// ----- a relay that can lose a datagram -----

/// One datagram to lose: the first RTP packet from `from_ferrtc`'s side (else webrtc-rs's)
/// with payload type `pt` and sequence number `seq`.
#[derive(Debug, Clone, Copy)]
struct Loss {
    from_ferrtc: bool,
    pt: u8,
    seq: u16,
}

/// A UDP relay on 127.0.0.1 between the two peers: each side is told the relay's address
/// for the other (in the candidates of the SDP it receives), so every datagram passes it.
struct Relay {
    /// Where ferrtc sends (given to ferrtc as webrtc-rs's candidate).
    for_ferrtc: SocketAddr,
    /// Where webrtc-rs sends (given to webrtc-rs as ferrtc's candidate).
    for_wrs: SocketAddr,
    /// (ferrtc's address, webrtc-rs's address), from the SDP.
    peers: Arc<Mutex<(Option<SocketAddr>, Option<SocketAddr>)>>,
    losses: Arc<Mutex<Vec<Loss>>>,
    /// Losses done.
    lost: mpsc::UnboundedReceiver<Loss>,
}

impl Relay {
    async fn new() -> Relay {
        let a = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let b = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let peers = Arc::new(Mutex::new((None, None)));
        let losses = Arc::new(Mutex::new(Vec::<Loss>::new()));
        let (lost_tx, lost) = mpsc::unbounded_channel();
        for from_ferrtc in [true, false] {
            let (rx, tx) = if from_ferrtc {
                (Arc::clone(&a), Arc::clone(&b))
            } else {
                (Arc::clone(&b), Arc::clone(&a))
            };
            let (peers, losses, lost_tx) = (peers.clone(), losses.clone(), lost_tx.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                while let Ok((n, _)) = rx.recv_from(&mut buf).await {
                    let d = &buf[..n];
                    {
                        let mut losses = losses.lock().unwrap();
                        if let Some(i) = losses
                            .iter()
                            .position(|l| l.from_ferrtc == from_ferrtc && is_rtp(d, l.pt, l.seq))
                        {
                            let _ = lost_tx.send(losses.remove(i));
                            continue;
                        }
                    }
                    let to = {
                        let p = peers.lock().unwrap();
                        if from_ferrtc { p.1 } else { p.0 }
                    };
                    if let Some(to) = to {
                        let _ = tx.send_to(d, to).await;
                    }
                }
            });
        }
        Relay {
            for_ferrtc: a.local_addr().unwrap(),
            for_wrs: b.local_addr().unwrap(),
            peers,
            losses,
            lost,
        }
    }

    fn lose(&self, loss: Loss) {
        self.losses.lock().unwrap().push(loss);
    }
}

/// An RTP (not RTCP) datagram with payload type `pt` and sequence number `seq`; the SRTP
/// header is in the clear.
fn is_rtp(d: &[u8], pt: u8, seq: u16) -> bool {
    d.len() >= 12
        && d[0] >> 6 == 2
        && !(192..=223).contains(&d[1])
        && d[1] & 0x7f == pt
        && u16::from_be_bytes([d[2], d[3]]) == seq
}

/// `sdp` with the address of every UDP candidate replaced by `to`, and the addresses it had.
fn via(sdp: &str, to: SocketAddr) -> (String, Vec<SocketAddr>) {
    let mut seen = Vec::new();
    let out = sdp
        .split_inclusive("\r\n")
        .map(|line| {
            let Some(rest) = line.strip_prefix("a=candidate:") else {
                return line.to_owned();
            };
            let mut f: Vec<&str> = rest.trim_end().split(' ').collect();
            if f.len() < 6 || !f[2].eq_ignore_ascii_case("udp") {
                return line.to_owned();
            }
            seen.push(SocketAddr::new(
                f[4].parse().unwrap(),
                f[5].parse().unwrap(),
            ));
            let (ip, port) = (to.ip().to_string(), to.port().to_string());
            f[4] = &ip;
            f[5] = &port;
            format!("a=candidate:{}\r\n", f.join(" "))
        })
        .collect();
    seen.dedup();
    (out, seen)
}

// ----- signalling -----

/// ferrtc and webrtc-rs, negotiated and connected, directly or through a relay.
struct Pair {
    f: Arc<PeerConnection>,
    w: Wrs,
    relay: Option<Relay>,
}

/// Carries `sdp` from one side to the other: through the relay if there is one.
fn carry(relay: Option<&Relay>, sdp: String, from_ferrtc: bool) -> String {
    let Some(r) = relay else { return sdp };
    // What ferrtc says goes to webrtc-rs, which is to send to the relay's side for it.
    let to = if from_ferrtc { r.for_wrs } else { r.for_ferrtc };
    let (sdp, seen) = via(&sdp, to);
    assert_eq!(seen.len(), 1, "one candidate expected: {seen:?}");
    let mut p = r.peers.lock().unwrap();
    if from_ferrtc {
        p.0 = Some(seen[0]);
    } else {
        p.1 = Some(seen[0]);
    }
    sdp
}

impl Pair {
    async fn new(relay: bool) -> Pair {
        let f = Arc::new(PeerConnection::new(loopback()).await.unwrap());
        let w = wrs().await;
        let relay = if relay {
            Some(Relay::new().await)
        } else {
            None
        };
        Pair { f, w, relay }
    }

    /// ferrtc offers, webrtc-rs answers.
    async fn ferrtc_offers(&mut self) {
        let f = &self.f;
        f.set_local_description(None).await.unwrap();
        within("ferrtc gathering", f.gathering_complete())
            .await
            .unwrap();
        let offer = f.local_description().unwrap().sdp;
        eprintln!("ferrtc's offer:\n{offer}");
        let offer = carry(self.relay.as_ref(), offer, true);
        let w = &self.w.pc;
        w.set_remote_description(RTCSessionDescription::offer(offer).unwrap())
            .await
            .unwrap();
        let answer = w.create_answer(None).await.unwrap();
        let answer = self.w.set_local(answer).await;
        eprintln!("webrtc-rs's answer:\n{answer}");
        let answer = carry(self.relay.as_ref(), answer, false);
        f.set_remote_description(Description::answer(answer))
            .await
            .unwrap();
        self.connected().await;
    }

    /// webrtc-rs offers, ferrtc answers (sending on every m-line).
    async fn wrs_offers(&mut self) {
        let w = &self.w.pc;
        let offer = w.create_offer(None).await.unwrap();
        let offer = self.w.set_local(offer).await;
        eprintln!("webrtc-rs's offer:\n{offer}");
        let offer = carry(self.relay.as_ref(), offer, false);
        let f = &self.f;
        f.set_remote_description(Description::offer(offer))
            .await
            .unwrap();
        for t in f.transceivers().await.unwrap() {
            f.set_direction(t.id, Direction::SendRecv).await.unwrap();
        }
        f.set_local_description(None).await.unwrap();
        within("ferrtc gathering", f.gathering_complete())
            .await
            .unwrap();
        let answer = f.local_description().unwrap().sdp;
        eprintln!("ferrtc's answer:\n{answer}");
        let answer = carry(self.relay.as_ref(), answer, true);
        w.set_remote_description(RTCSessionDescription::answer(answer).unwrap())
            .await
            .unwrap();
        self.connected().await;
    }

    async fn negotiate(&mut self, ferrtc_offers: bool) {
        if ferrtc_offers {
            self.ferrtc_offers().await;
        } else {
            self.wrs_offers().await;
        }
    }

    async fn connected(&mut self) {
        within("ferrtc connected", self.f.connected())
            .await
            .unwrap();
        self.w.connected().await;
    }
}

/// ferrtc's events, sorted: RTP packets by m-line, the peer's data channels.
struct FerrtcEvents {
    rtp: mpsc::UnboundedReceiver<(String, Bytes)>,
    channels: mpsc::UnboundedReceiver<DataChannel>,
}

fn pump(f: &Arc<PeerConnection>) -> FerrtcEvents {
    let (rtp_tx, rtp) = mpsc::unbounded_channel();
    let (ch_tx, channels) = mpsc::unbounded_channel();
    let f = Arc::downgrade(f);
    tokio::spawn(async move {
        loop {
            let Some(pc) = f.upgrade() else { return };
            let Some(ev) = pc.next_event().await else {
                return;
            };
            match ev {
                Event::Rtp { mid, packet, .. } => {
                    let _ = rtp_tx.send((mid.as_str().to_owned(), packet));
                }
                Event::DataChannel(dc) => {
                    let _ = ch_tx.send(dc);
                }
                _ => {}
            }
        }
    });
    FerrtcEvents { rtp, channels }
}

// ----- 1. data channel echo -----

/// Message `i` of 100 from `who`: every fifth one text, the others binary, some past 1200
/// bytes (SCTP fragments them).
fn message(who: u8, i: usize) -> Message {
    let len = match i % 4 {
        0 => 40 + i,
        1 => 1200 + 7 * i,
        2 => 3000 + i,
        _ => 500,
    };
    if i % 5 == 0 {
        let text: String = (0..len)
            .map(|j| char::from(b'a' + ((i + j + usize::from(who)) % 26) as u8))
            .collect();
        Message::text(text)
    } else {
        let data: Vec<u8> = (0..len)
            .map(|j| (i * 7 + j * 13 + usize::from(who)) as u8)
            .collect();
        Message::binary(data)
    }
}

fn same(what: &str, i: usize, got: &DataChannelMessage, want: &Message) {
    assert_eq!(
        got.is_string, !want.binary,
        "{what}: message {i}: text/binary differs"
    );
    assert!(got.data == want.data, "{what}: message {i}: bytes differ");
}

async fn data_echo(ferrtc_offers: bool) {
    const N: usize = 100;
    let mut p = Pair::new(false).await;
    let mut fe = pump(&p.f);
    let (df, mut dw) = if ferrtc_offers {
        let df =
            p.f.create_data_channel("echo", DataChannelInit::default())
                .await
                .unwrap();
        p.negotiate(true).await;
        let dw = within("webrtc-rs sees the channel", p.w.channels.recv())
            .await
            .unwrap();
        (df, dw)
    } else {
        let dc = p.w.pc.create_data_channel("echo", None).await.unwrap();
        let dw = wrs_channel(dc);
        p.negotiate(false).await;
        let df = within("ferrtc sees the channel", fe.channels.recv())
            .await
            .unwrap();
        (df, dw)
    };
    within("ferrtc channel open", df.opened()).await.unwrap();
    dw.opened().await;
    assert_eq!(df.label(), "echo");
    assert_eq!(dw.dc.label(), "echo");

    // ferrtc sends, webrtc-rs checks each and echoes it, ferrtc checks the echoes.
    let sender = {
        let df = df.clone();
        tokio::spawn(async move {
            for i in 0..N {
                df.send(message(1, i)).await.unwrap();
            }
        })
    };
    for i in 0..N {
        let m = dw.recv().await;
        same("webrtc-rs got from ferrtc", i, &m, &message(1, i));
        dw.send(&message(1, i)).await;
    }
    within("ferrtc sender", sender).await.unwrap();
    for i in 0..N {
        let m = within("ferrtc gets the echo", df.recv()).await.unwrap();
        assert_eq!(m, message(1, i), "echo {i} from webrtc-rs");
    }

    // webrtc-rs sends, ferrtc checks each and echoes it, webrtc-rs checks the echoes.
    for i in 0..N {
        dw.send(&message(2, i)).await;
    }
    for i in 0..N {
        let m = within("ferrtc gets webrtc-rs's message", df.recv())
            .await
            .unwrap();
        assert_eq!(m, message(2, i), "message {i} from webrtc-rs");
        df.send(m).await.unwrap();
    }
    for i in 0..N {
        let m = dw.recv().await;
        same("echo from ferrtc", i, &m, &message(2, i));
    }

    // ferrtc's data-channel counters saw both streams.
    let report = p.f.stats().await.unwrap();
    let dc = report
        .of(StatsType::DataChannel)
        .next()
        .expect("ferrtc has a data-channel entry");
    assert_eq!(u64_of(dc, "messagesSent"), 2 * N as u64);
    assert_eq!(u64_of(dc, "messagesReceived"), 2 * N as u64);
    p.w.pc.close().await.unwrap();
}

#[tokio::test]
async fn data_channel_echo_ferrtc_offers() {
    logs();
    data_echo(true).await;
}

#[tokio::test]
async fn data_channel_echo_ferrtc_answers() {
    logs();
    data_echo(false).await;
}

// ----- 2 and 4. media both ways, counters -----

/// An RTP packet as `write_rtp` takes it (ferrtc rewrites the SSRC).
fn rtp_packet(pt: u8, seq: u16, timestamp: u32, marker: bool, payload: &[u8]) -> Bytes {
    let mut p = Vec::with_capacity(12 + payload.len());
    p.extend_from_slice(&[0x80, pt | if marker { 0x80 } else { 0 }]);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&timestamp.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(payload);
    Bytes::from(p)
}

/// Packet `i`'s payload from `who` for `video` (a VP8 payload descriptor first) or audio.
fn payload(who: u8, video: bool, i: u16) -> Vec<u8> {
    if video {
        let mut p = vec![0x10];
        p.extend((0..1000usize).map(|j| (j * 3 + usize::from(i) + usize::from(who)) as u8));
        p
    } else {
        (0..160usize)
            .map(|j| (j ^ usize::from(i) ^ (usize::from(who) << 4)) as u8)
            .collect()
    }
}

/// The payload type an SDP gives `codec` (case-insensitive, the first m-line that has it).
fn pt_of(sdp: &str, codec: &str) -> u8 {
    sdp.lines()
        .find_map(|l| {
            let rest = l.strip_prefix("a=rtpmap:")?;
            let (pt, enc) = rest.split_once(' ')?;
            let name = enc.split('/').next()?;
            name.eq_ignore_ascii_case(codec)
                .then(|| pt.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no {codec} in\n{sdp}"))
}

/// The mid of the first m-line of `kind` ("audio", "video") in an SDP.
fn mid_of(sdp: &str, kind: &str) -> String {
    let mut in_kind = false;
    for l in sdp.lines() {
        if let Some(m) = l.strip_prefix("m=") {
            in_kind = m.starts_with(kind);
        } else if in_kind && let Some(mid) = l.strip_prefix("a=mid:") {
            return mid.to_owned();
        }
    }
    panic!("no {kind} m-line in\n{sdp}")
}

/// ferrtc's audio and video transceivers (added for an offer, or the offer's, set to send).
async fn ferrtc_transceivers(f: &PeerConnection) -> (TransceiverId, TransceiverId) {
    let list = f.transceivers().await.unwrap();
    let find = |k: MediaKind| {
        list.iter()
            .find(|t| t.kind == k)
            .unwrap_or_else(|| panic!("ferrtc has no {k:?} transceiver"))
            .id
    };
    (find(MediaKind::Audio), find(MediaKind::Video))
}

/// A pair with an Opus and a VP8 transceiver sending both ways, negotiated and connected,
/// webrtc-rs's tracks bound.
struct MediaPair {
    p: Pair,
    fe: FerrtcEvents,
    /// ferrtc's (transceiver, own payload type) for audio and video.
    f_audio: (TransceiverId, u8),
    f_video: (TransceiverId, u8),
    w_audio: Arc<TrackLocalStaticRTP>,
    w_video: Arc<TrackLocalStaticRTP>,
    /// The mids of audio and video.
    mids: (String, String),
}

async fn media_pair(ferrtc_offers: bool, relay: bool) -> MediaPair {
    let mut p = Pair::new(relay).await;
    let fe = pump(&p.f);
    if ferrtc_offers {
        for k in [MediaKind::Audio, MediaKind::Video] {
            p.f.add_transceiver(k, TransceiverInit::default())
                .await
                .unwrap();
        }
    }
    let (w_audio, mut bound_a) = wrs_track(&p.w.pc, MIME_TYPE_OPUS).await;
    let (w_video, mut bound_v) = wrs_track(&p.w.pc, MIME_TYPE_VP8).await;
    p.negotiate(ferrtc_offers).await;
    within("webrtc-rs audio bound", bound_a.wait_for(|b| *b))
        .await
        .unwrap();
    within("webrtc-rs video bound", bound_v.wait_for(|b| *b))
        .await
        .unwrap();
    let (ta, tv) = ferrtc_transceivers(&p.f).await;
    let local = p.f.local_description().unwrap().sdp;
    let f_audio = (ta, pt_of(&local, "opus"));
    let f_video = (tv, pt_of(&local, "VP8"));
    let mids = (mid_of(&local, "audio"), mid_of(&local, "video"));
    MediaPair {
        p,
        fe,
        f_audio,
        f_video,
        w_audio,
        w_video,
        mids,
    }
}

impl MediaPair {
    /// The payload type on the wire for `codec`, as webrtc-rs negotiated it.
    async fn wrs_pt(&self, codec: &str) -> u8 {
        let sdp = self.p.w.pc.local_description().await.unwrap().sdp;
        pt_of(&sdp, codec)
    }

    fn ferrtc_write(&self, video: bool, seq: u16) {
        let (t, pt) = if video { self.f_video } else { self.f_audio };
        let ts = u32::from(seq) * if video { 3000 } else { 960 };
        let packet = rtp_packet(pt, seq, ts, true, &payload(1, video, seq));
        self.p.f.write_rtp(t, packet).unwrap();
    }

    async fn wrs_write(&self, video: bool, seq: u16) {
        let track = if video { &self.w_video } else { &self.w_audio };
        let packet = webrtc::rtp::packet::Packet {
            header: webrtc::rtp::header::Header {
                version: 2,
                marker: true,
                sequence_number: seq,
                timestamp: u32::from(seq) * if video { 3000 } else { 960 },
                ..Default::default()
            },
            payload: Bytes::from(payload(2, video, seq)),
        };
        let n = track.write_rtp(&packet).await.unwrap();
        assert!(n > 0, "webrtc-rs wrote packet {seq} nowhere");
    }

    /// The next RTP packet webrtc-rs read.
    async fn wrs_read(&mut self) -> (RTPCodecType, webrtc::rtp::packet::Packet) {
        within("webrtc-rs reads RTP", self.p.w.rtp.recv())
            .await
            .expect("webrtc-rs tracks ended")
    }

    /// The next RTP packet ferrtc received, parsed by webrtc-rs's parser: (mid, packet).
    async fn ferrtc_read(&mut self) -> (String, webrtc::rtp::packet::Packet) {
        let (mid, raw) = within("ferrtc receives RTP", self.fe.rtp.recv())
            .await
            .expect("ferrtc ended");
        let mut buf = raw.clone();
        let p = webrtc::rtp::packet::Packet::unmarshal(&mut buf)
            .unwrap_or_else(|e| panic!("ferrtc handed over a bad RTP packet ({e}): {raw:02x?}"));
        (mid, p)
    }
}

async fn media(ferrtc_offers: bool) {
    const N: u16 = 50;
    const FIRST: u16 = 65_500; // the sequence numbers wrap
    let mut m = media_pair(ferrtc_offers, false).await;
    let (wrs_opus, wrs_vp8) = (m.wrs_pt("opus").await, m.wrs_pt("VP8").await);

    // ferrtc -> webrtc-rs.
    for i in 0..N {
        let seq = FIRST.wrapping_add(i);
        m.ferrtc_write(false, seq);
        m.ferrtc_write(true, seq);
    }
    let (mut audio, mut video) = (Vec::new(), Vec::new());
    while audio.len() < usize::from(N) || video.len() < usize::from(N) {
        let (kind, p) = m.wrs_read().await;
        match kind {
            RTPCodecType::Audio => audio.push(p),
            RTPCodecType::Video => video.push(p),
            k => panic!("webrtc-rs read a packet of kind {k:?}"),
        }
    }
    for (got, video, pt) in [(&audio, false, wrs_opus), (&video, true, wrs_vp8)] {
        assert_eq!(got.len(), usize::from(N), "video {video}: extra packets");
        for (i, p) in got.iter().enumerate() {
            let seq = FIRST.wrapping_add(i as u16);
            assert_eq!(p.header.sequence_number, seq, "video {video}: order");
            assert_eq!(p.header.payload_type, pt, "video {video}: payload type");
            assert!(p.header.marker);
            assert!(
                p.payload == payload(1, video, seq),
                "video {video}: packet {seq}: payload differs"
            );
        }
    }

    // webrtc-rs -> ferrtc.
    for i in 0..N {
        let seq = FIRST.wrapping_add(i);
        m.wrs_write(false, seq).await;
        m.wrs_write(true, seq).await;
    }
    let (mut audio, mut video) = (Vec::new(), Vec::new());
    let (mid_a, mid_v) = m.mids.clone();
    while audio.len() < usize::from(N) || video.len() < usize::from(N) {
        let (mid, p) = m.ferrtc_read().await;
        if mid == mid_a {
            audio.push(p);
        } else if mid == mid_v {
            video.push(p);
        } else {
            panic!("ferrtc routed a packet to mid {mid}");
        }
    }
    let (f_opus, f_vp8) = (m.f_audio.1, m.f_video.1);
    for (got, video, pt) in [(&audio, false, f_opus), (&video, true, f_vp8)] {
        assert_eq!(got.len(), usize::from(N));
        for (i, p) in got.iter().enumerate() {
            let seq = FIRST.wrapping_add(i as u16);
            assert_eq!(p.header.sequence_number, seq, "video {video}: order");
            assert_eq!(p.header.payload_type, pt, "video {video}: payload type");
            assert!(
                p.payload == payload(2, video, seq),
                "video {video}: packet {seq}: payload differs"
            );
        }
    }

    // 4. The counters agree, both ways.
    let n = u64::from(N);
    let report = m.p.f.stats().await.unwrap();
    let w = m.p.w.pc.get_stats().await;
    for (mid, kind) in [(&m.mids.0, "audio"), (&m.mids.1, "video")] {
        let out = by_mid(&report, StatsType::OutboundRtp, mid);
        assert_eq!(u64_of(out, "packetsSent"), n, "ferrtc outbound-rtp {kind}");
        let w_in: Vec<u64> = w
            .reports
            .values()
            .filter_map(|r| match r {
                StatsReportType::InboundRTP(s) if s.kind == kind => Some(s.packets_received),
                _ => None,
            })
            .collect();
        assert_eq!(
            w_in,
            [u64_of(out, "packetsSent")],
            "webrtc-rs inbound {kind} vs ferrtc's outbound-rtp packetsSent"
        );
        let inbound = by_mid(&report, StatsType::InboundRtp, mid);
        let w_out: Vec<u64> = w
            .reports
            .values()
            .filter_map(|r| match r {
                StatsReportType::OutboundRTP(s) if s.kind == kind => Some(s.packets_sent),
                _ => None,
            })
            .collect();
        assert_eq!(w_out, [n], "webrtc-rs outbound {kind}");
        assert_eq!(
            u64_of(inbound, "packetsReceived"),
            w_out[0],
            "ferrtc inbound-rtp {kind} packetsReceived vs webrtc-rs's packets_sent"
        );
    }
    m.p.w.pc.close().await.unwrap();
}

#[tokio::test]
async fn media_both_ways_ferrtc_offers() {
    logs();
    media(true).await;
}

#[tokio::test]
async fn media_both_ways_ferrtc_answers() {
    logs();
    media(false).await;
}

// ----- 3. NACK and retransmission -----

async fn nack(ferrtc_offers: bool) {
    const N: u16 = 60;
    const FIRST: u16 = 1000;
    const LOST: u16 = FIRST + 20;
    let mut m = media_pair(ferrtc_offers, true).await;
    let wrs_vp8 = m.wrs_pt("VP8").await;
    let relay = m.p.relay.as_ref().unwrap();
    relay.lose(Loss {
        from_ferrtc: true,
        pt: wrs_vp8,
        seq: LOST,
    });
    relay.lose(Loss {
        from_ferrtc: false,
        pt: wrs_vp8,
        seq: LOST,
    });

    // ferrtc -> webrtc-rs: seq LOST is lost once; webrtc-rs NACKs it, ferrtc resends it.
    for i in 0..N {
        m.ferrtc_write(true, FIRST + i);
    }
    let mut seen = Vec::new();
    while !seen.contains(&LOST) || seen.len() < usize::from(N) {
        let (kind, p) = m.wrs_read().await;
        assert_eq!(kind, RTPCodecType::Video);
        let seq = p.header.sequence_number;
        assert!(
            p.payload == payload(1, true, seq),
            "packet {seq}: payload differs"
        );
        seen.push(seq);
    }
    let lost = within(
        "the relay lost a packet",
        m.p.relay.as_mut().unwrap().lost.recv(),
    )
    .await
    .unwrap();
    assert!(lost.from_ferrtc);
    let at = seen.iter().position(|s| *s == LOST).unwrap();
    assert!(at > 0 && seen[at - 1] > LOST, "{LOST} came late: {seen:?}");
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), usize::from(N), "webrtc-rs got all, once each");

    // webrtc-rs -> ferrtc: seq LOST is lost once; ferrtc NACKs it, webrtc-rs resends it.
    for i in 0..N {
        m.wrs_write(true, FIRST + i).await;
    }
    let mut seen = Vec::new();
    while !seen.contains(&LOST) || seen.len() < usize::from(N) {
        let (mid, p) = m.ferrtc_read().await;
        assert_eq!(mid, m.mids.1);
        let seq = p.header.sequence_number;
        assert!(
            p.payload == payload(2, true, seq),
            "packet {seq}: payload differs"
        );
        seen.push(seq);
    }
    let lost = within(
        "the relay lost a packet",
        m.p.relay.as_mut().unwrap().lost.recv(),
    )
    .await
    .unwrap();
    assert!(!lost.from_ferrtc);
    let at = seen.iter().position(|s| *s == LOST).unwrap();
    assert!(at > 0 && seen[at - 1] > LOST, "{LOST} came late: {seen:?}");

    // ferrtc counted both repairs.
    let report = m.p.f.stats().await.unwrap();
    let out = by_mid(&report, StatsType::OutboundRtp, &m.mids.1);
    assert!(u64_of(out, "nackCount") >= 1, "ferrtc counted no NACK");
    assert!(
        u64_of(out, "retransmittedPacketsSent") >= 1,
        "ferrtc counted no retransmission"
    );
    let inbound = by_mid(&report, StatsType::InboundRtp, &m.mids.1);
    assert!(u64_of(inbound, "nackCount") >= 1, "ferrtc sent no NACK");
    m.p.w.pc.close().await.unwrap();
}

#[tokio::test]
async fn nack_and_retransmission_ferrtc_offers() {
    logs();
    nack(true).await;
}

#[tokio::test]
async fn nack_and_retransmission_ferrtc_answers() {
    logs();
    nack(false).await;
}

// ----- helpers -----

fn by_mid<'a>(report: &'a StatsReport, kind: StatsType, mid: &str) -> &'a StatsEntry {
    let mut it = report.of(kind).filter(|e| e.get_str("mid") == Some(mid));
    let e = it
        .next()
        .unwrap_or_else(|| panic!("ferrtc has no {} on {mid}: {report:#?}", kind.as_str()));
    assert!(it.next().is_none(), "two {} on {mid}", kind.as_str());
    e
}

fn u64_of(e: &StatsEntry, name: &str) -> u64 {
    e.get_u64(name)
        .unwrap_or_else(|| panic!("{} {} has no {name}", e.kind.as_str(), e.id))
}

/// ferrtc's logs per `RUST_LOG`, captured by the test harness.
fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
