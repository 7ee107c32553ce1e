//! webrtc-rs (the `webrtc` crate, a stack nobody here wrote) as a peer of the interop
//! harness (`interop/run.py`, rows "webrtc-rs"), as aiortc's `peers/aiortc_client.py` is:
//!
//! - offer mode, `webrtc_rs_peer --url http://127.0.0.1:P/offer --case CASE`: webrtc-rs
//!   offers to the server under test (ferrtc's `echo_server`), runs the case against its
//!   echo and prints one JSON line `{"peer","mode","case","pass","reason","details"}`;
//! - answer mode, `webrtc_rs_peer --serve --host 127.0.0.1 --port Q --case CASE`: webrtc-rs
//!   serves `POST /offer`, answers the offerer under test (ferrtc's `echo_offerer`), opens
//!   its own channel, runs the case the same way, prints the line and exits.
//!
//! Cases: `dc-ordered`, `dc-unordered` (the harness's messages: `ping 0`..`ping 49`, a
//! 1200-byte binary, a 16 000-char text; ordered all echoed in order, unordered at least
//! 90%), `audio`, `video` (`--codec VP8|H264`) and `bundle` (all three on one transport);
//! `ice-restart` and `renegotiation`: once the ordered channel is open, a second
//! offer/answer restarts ICE or adds a VP8 track. In offer mode webrtc-rs makes it
//! (`RTCOfferOptions::ice_restart`, or the added track) and offers again, naming the
//! `session` of the server's first answer; in answer mode it asks the offerer under test
//! with the text `renegotiate ice-restart` / `renegotiate add-video` on its channel and
//! answers the next offer POSTed (its own VP8 track added first). Either way the messages
//! before, during and after must all come back in order, the ufrags must both change (ICE
//! restart) or the added track's packets come back (renegotiation).
//! webrtc-rs has no codecs: it sends RTP packets of the negotiated payload type with payloads
//! it numbers (an Opus-sized payload every 20 ms, a VP8 or H.264 frame of two packets every
//! 33 ms), and the media check is that at least 50 audio / 30 video packets came back with
//! payloads byte for byte equal to ones it sent (RTP passthrough). The exit status is 0 when
//! the case passed.
//!
//! It uses no ICE server, loopback candidates only (UDP4, mDNS off), as the harness's
//! namespace holds nothing else.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use webrtc::api::APIBuilder;
use webrtc::api::interceptor_registry::register_default_interceptors;
use webrtc::api::media_engine::{MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine};
use webrtc::api::setting_engine::SettingEngine;
use webrtc::data_channel::RTCDataChannel;
use webrtc::data_channel::data_channel_init::RTCDataChannelInit;
use webrtc::data_channel::data_channel_message::DataChannelMessage;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice::network_type::NetworkType;
use webrtc::interceptor::registry::Registry;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::rtp_transceiver::rtp_codec::{RTCRtpCodecCapability, RTPCodecType};
use webrtc::track::track_local::TrackLocalWriter;
use webrtc::track::track_local::track_local_static_rtp::TrackLocalStaticRTP;
use webrtc::track::track_remote::TrackRemote;

#[path = "common/http.rs"]
mod http;

/// Messages of the data-channel cases, as the harness's other peers send them.
const DC_PINGS: usize = 50;
/// Echoed audio packets needed (1 s of 20 ms packets).
const AUDIO_PACKETS_NEEDED: usize = 50;
/// Echoed video packets needed.
const VIDEO_PACKETS_NEEDED: usize = 30;
/// Share of the unordered (maxRetransmits 0) echoes that must arrive; loopback loses none.
const UNORDERED_MIN_FRACTION: f64 = 0.9;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dc {
    None,
    Ordered,
    Unordered,
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    dc: Dc,
    audio: bool,
    video: bool,
    /// The video MIME type.
    codec: &'static str,
    /// A second offer/answer once the channel is open.
    reneg: Option<Reneg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reneg {
    IceRestart,
    AddVideo,
}

impl Case {
    fn parse(name: &str, codec: Option<&str>) -> Option<Case> {
        let (dc, audio, video) = match name {
            "dc-ordered" => (Dc::Ordered, false, false),
            "dc-unordered" => (Dc::Unordered, false, false),
            "audio" => (Dc::None, true, false),
            "video" => (Dc::None, false, true),
            "bundle" => (Dc::Ordered, true, true),
            "ice-restart" | "renegotiation" => (Dc::Ordered, false, false),
            _ => return None,
        };
        let reneg = match name {
            "ice-restart" => Some(Reneg::IceRestart),
            "renegotiation" => Some(Reneg::AddVideo),
            _ => None,
        };
        let codec = match codec.map(str::to_ascii_uppercase).as_deref() {
            None | Some("VP8") => MIME_TYPE_VP8,
            Some("H264") => MIME_TYPE_H264,
            Some(_) => return None,
        };
        Some(Case {
            name: name.to_owned(),
            dc,
            audio,
            video,
            codec,
            reneg,
        })
    }
}

struct Args {
    serve: bool,
    url: Option<String>,
    host: String,
    port: u16,
    case: Case,
    timeout: Duration,
    wait_offer: Duration,
}

fn usage() -> ! {
    eprintln!(
        "usage: webrtc_rs_peer --url URL --case CASE [--codec VP8|H264] [--timeout S]\n       \
         webrtc_rs_peer --serve [--host H] --port P --case CASE [--codec C] [--timeout S] \
         [--wait-offer S]\n\
         cases: dc-ordered dc-unordered audio video bundle ice-restart renegotiation"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let (mut serve, mut url, mut host, mut port) = (false, None, "127.0.0.1".to_owned(), 0);
    let (mut case, mut codec, mut timeout, mut wait_offer) = (None, None, 30.0, 60.0);
    let mut args = std::env::args().skip(1);
    let secs = |v: Option<String>| -> f64 {
        v.and_then(|v| v.parse().ok())
            .filter(|s: &f64| s.is_finite() && *s > 0.0)
            .unwrap_or_else(|| usage())
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--serve" => serve = true,
            "--url" => url = Some(args.next().unwrap_or_else(|| usage())),
            "--host" => host = args.next().unwrap_or_else(|| usage()),
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--case" => case = Some(args.next().unwrap_or_else(|| usage())),
            "--codec" => codec = Some(args.next().unwrap_or_else(|| usage())),
            "--timeout" => timeout = secs(args.next()),
            "--wait-offer" => wait_offer = secs(args.next()),
            _ => usage(),
        }
    }
    let case = Case::parse(case.as_deref().unwrap_or("dc-ordered"), codec.as_deref())
        .unwrap_or_else(|| usage());
    if !serve && url.is_none() {
        usage();
    }
    Args {
        serve,
        url,
        host,
        port,
        case,
        timeout: Duration::from_secs_f64(timeout),
        wait_offer: Duration::from_secs_f64(wait_offer),
    }
}

// ----- webrtc-rs -----

/// A webrtc-rs peer connection and what its callbacks report.
struct Peer {
    pc: Arc<RTCPeerConnection>,
    state: watch::Receiver<RTCPeerConnectionState>,
    /// (kind, payload) of every RTP packet received on a remote track.
    rtp: mpsc::UnboundedReceiver<(RTPCodecType, Bytes)>,
    /// Tracks we send on, with their kind.
    tracks: Vec<(RTPCodecType, Arc<TrackLocalStaticRTP>)>,
}

async fn peer() -> Result<Peer, AnyError> {
    let mut media = MediaEngine::default();
    media.register_default_codecs()?;
    let registry = register_default_interceptors(Registry::new(), &mut media)?;
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
    // No ICE servers: nothing outside the namespace can be reached.
    let pc = Arc::new(api.new_peer_connection(RTCConfiguration::default()).await?);
    let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
    pc.on_peer_connection_state_change(Box::new(move |s| {
        let _ = state_tx.send(s);
        Box::pin(async {})
    }));
    let (rtp_tx, rtp) = mpsc::unbounded_channel();
    pc.on_track(Box::new(move |track: Arc<TrackRemote>, _, _| {
        let tx = rtp_tx.clone();
        tokio::spawn(async move {
            while let Ok((p, _)) = track.read_rtp().await {
                if tx.send((track.kind(), p.payload)).is_err() {
                    return;
                }
            }
        });
        Box::pin(async {})
    }));
    Ok(Peer {
        pc,
        state,
        rtp,
        tracks: Vec::new(),
    })
}

impl Peer {
    /// A sending track of `mime`; its RTCP is read and dropped (the interceptors see it).
    async fn add_track(&mut self, kind: RTPCodecType, mime: &str) -> Result<(), AnyError> {
        let track = Arc::new(TrackLocalStaticRTP::new(
            RTCRtpCodecCapability {
                mime_type: mime.to_owned(),
                ..Default::default()
            },
            format!("webrtc-rs-{kind}"),
            "webrtc-rs".to_owned(),
        ));
        let sender = self.pc.add_track(track.clone()).await?;
        tokio::spawn(async move {
            let mut buf = vec![0u8; 1500];
            while sender.read(&mut buf).await.is_ok() {}
        });
        self.tracks.push((kind, track));
        Ok(())
    }

    /// Sets our description and waits for gathering to end; the SDP with candidates.
    async fn set_local(
        &self,
        d: RTCSessionDescription,
        deadline: Instant,
    ) -> Result<String, AnyError> {
        let mut gathered = self.pc.gathering_complete_promise().await;
        self.pc.set_local_description(d).await?;
        tokio::time::timeout_at(deadline.into(), gathered.recv())
            .await
            .map_err(|_| "ICE gathering did not complete")?;
        Ok(self
            .pc
            .local_description()
            .await
            .ok_or("no local description")?
            .sdp)
    }
}

fn channel_init(dc: Dc) -> RTCDataChannelInit {
    match dc {
        Dc::Unordered => RTCDataChannelInit {
            ordered: Some(false),
            max_retransmits: Some(0),
            ..Default::default()
        },
        _ => RTCDataChannelInit::default(),
    }
}

/// One data-channel message, text or binary.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
}

impl Msg {
    fn describe(&self) -> String {
        match self {
            Msg::Binary(b) => format!("<{} bytes>", b.len()),
            Msg::Text(t) if t.len() <= 40 => format!("{t:?}"),
            Msg::Text(t) => format!("<text of {} chars>", t.len()),
        }
    }
}

/// What we send and what must come back, in send order.
fn dc_payloads() -> (Vec<Msg>, Vec<Msg>) {
    let big: String = (0..16000u32)
        .map(|i| char::from(b'A' + (i % 26) as u8))
        .collect();
    let binary: Vec<u8> = (0..1200u32).map(|i| ((i * 7 + 3) & 0xff) as u8).collect();
    let (mut sent, mut expected) = (Vec::new(), Vec::new());
    for i in 0..DC_PINGS {
        sent.push(Msg::Text(format!("ping {i}")));
        expected.push(Msg::Text(format!("pong {i}")));
        if i == 10 {
            sent.push(Msg::Binary(binary.clone()));
            expected.push(Msg::Binary(binary.clone()));
        }
        if i == 30 {
            sent.push(Msg::Text(big.clone()));
            expected.push(Msg::Text(big.clone()));
        }
    }
    (sent, expected)
}

/// Sends the case's messages on `dc` once it opens and judges the echoes.
async fn dc_check(
    dc: Arc<RTCDataChannel>,
    unordered: bool,
    deadline: Instant,
) -> (bool, String, serde_json::Value) {
    let (open_tx, mut opened) = watch::channel(false);
    dc.on_open(Box::new(move || {
        let _ = open_tx.send(true);
        Box::pin(async {})
    }));
    let (msg_tx, mut messages) = mpsc::unbounded_channel();
    dc.on_message(Box::new(move |m: DataChannelMessage| {
        let msg = if m.is_string {
            Msg::Text(String::from_utf8_lossy(&m.data).into_owned())
        } else {
            Msg::Binary(m.data.to_vec())
        };
        let _ = msg_tx.send(msg);
        Box::pin(async {})
    }));
    let is_open =
        dc.ready_state() == webrtc::data_channel::data_channel_state::RTCDataChannelState::Open;
    if !is_open
        && tokio::time::timeout_at(deadline.into(), opened.wait_for(|o| *o))
            .await
            .is_err()
    {
        return (
            false,
            format!("data channel never opened (state {})", dc.ready_state()),
            serde_json::json!({}),
        );
    }
    let (sent, expected) = dc_payloads();
    let t_open = Instant::now();
    for m in &sent {
        let r = match m {
            Msg::Text(t) => dc.send_text(t.clone()).await,
            Msg::Binary(b) => dc.send(&Bytes::from(b.clone())).await,
        };
        if let Err(e) = r {
            return (false, format!("send: {e}"), serde_json::json!({}));
        }
    }
    let mut received = Vec::new();
    while received.len() < expected.len() {
        match tokio::time::timeout_at(deadline.into(), messages.recv()).await {
            Ok(Some(m)) => received.push(m),
            _ => break,
        }
    }
    let details = serde_json::json!({
        "sent": sent.len(), "echoed": received.len(),
        "echo_all_ms": t_open.elapsed().as_millis() as u64,
    });
    if !unordered {
        for (i, (got, want)) in received.iter().zip(&expected).enumerate() {
            if got != want {
                return (
                    false,
                    format!(
                        "echo #{i}: got {}, want {}",
                        got.describe(),
                        want.describe()
                    ),
                    details,
                );
            }
        }
        if received.len() == expected.len() {
            return (
                true,
                format!("{}/{} echoed in order", received.len(), expected.len()),
                details,
            );
        }
        return (
            false,
            format!(
                "only {}/{} echoed in order before timeout",
                received.len(),
                expected.len()
            ),
            details,
        );
    }
    let mut pool = expected.clone();
    for got in &received {
        match pool.iter().position(|w| w == got) {
            Some(k) => {
                pool.remove(k);
            }
            None => {
                return (
                    false,
                    format!("unexpected echo {}", got.describe()),
                    details,
                );
            }
        }
    }
    let n = expected.len() - pool.len();
    let ok = n as f64 >= UNORDERED_MIN_FRACTION * expected.len() as f64;
    (ok, format!("{n}/{} echoed", expected.len()), details)
}

/// The payload of our `n`th packet of `kind`: numbered, so each is unique.
fn payload(kind: RTPCodecType, mime: &str, n: u32, part: u8) -> Bytes {
    let mut p = Vec::with_capacity(160);
    if kind == RTPCodecType::Video {
        if mime == MIME_TYPE_VP8 {
            // VP8 payload descriptor (RFC 7741 section 4.2): S on the first packet of a
            // frame, partition 0; no extensions.
            p.push(if part == 0 { 0x10 } else { 0x00 });
        } else {
            // H.264 (RFC 6184): a single NAL unit packet, non-IDR slice (type 1).
            p.push(0x41);
        }
    }
    p.extend_from_slice(b"webrtc-rs ");
    p.extend_from_slice(&n.to_be_bytes());
    p.push(part);
    while p.len() < 120 {
        p.push((p.len() as u8).wrapping_mul(31) ^ (n as u8));
    }
    Bytes::from(p)
}

/// Sends numbered RTP on every track until `stop`; what was written goes into `sent`.
async fn send_media(
    tracks: Vec<(RTPCodecType, Arc<TrackLocalStaticRTP>, &'static str)>,
    sent: Arc<Mutex<HashSet<Bytes>>>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut seq = [0u16; 2];
    let mut n: u32 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => return,
        }
        n += 1;
        for (kind, track, mime) in &tracks {
            let video = *kind == RTPCodecType::Video;
            // audio every 20 ms; video a two-packet frame every other tick (about 25 fps)
            if video && n % 2 == 1 {
                continue;
            }
            let parts = if video { 2 } else { 1 };
            for part in 0..parts {
                let s = &mut seq[usize::from(video)];
                *s = s.wrapping_add(1);
                let body = payload(*kind, mime, n, part);
                let packet = webrtc::rtp::packet::Packet {
                    header: webrtc::rtp::header::Header {
                        version: 2,
                        marker: part + 1 == parts,
                        sequence_number: *s,
                        timestamp: if video { n * 1500 } else { n * 960 },
                        ..Default::default()
                    },
                    payload: body.clone(),
                };
                // 0 bytes: not bound to a sender stream yet, nothing went out
                if let Ok(written) = track.write_rtp(&packet).await {
                    if written > 0 {
                        sent.lock().expect("sent lock").insert(body);
                    }
                }
            }
        }
    }
}

/// Counts echoed packets whose payload is one we sent, per kind, until enough or deadline.
async fn media_check(
    peer: &mut Peer,
    case: &Case,
    sent: Arc<Mutex<HashSet<Bytes>>>,
    deadline: Instant,
) -> (bool, String, serde_json::Value) {
    let (mut audio, mut video, mut foreign) = (0usize, 0usize, 0usize);
    let enough = |a: usize, v: usize| {
        (!case.audio || a >= AUDIO_PACKETS_NEEDED) && (!case.video || v >= VIDEO_PACKETS_NEEDED)
    };
    while !enough(audio, video) {
        match tokio::time::timeout_at(deadline.into(), peer.rtp.recv()).await {
            Ok(Some((kind, payload))) => {
                if sent.lock().expect("sent lock").contains(&payload) {
                    match kind {
                        RTPCodecType::Audio => audio += 1,
                        _ => video += 1,
                    }
                } else {
                    foreign += 1;
                }
            }
            _ => break,
        }
    }
    let details = serde_json::json!({
        "audio_echoed": audio, "video_echoed": video, "not_ours": foreign,
        "sent": sent.lock().expect("sent lock").len(),
    });
    let mut bits = Vec::new();
    if case.audio {
        bits.push(format!("{audio} audio packets"));
    }
    if case.video {
        bits.push(format!(
            "{video} video packets ({})",
            case.codec.trim_start_matches("video/")
        ));
    }
    if enough(audio, video) {
        return (
            true,
            format!("{} echoed byte for byte", bits.join(" + ")),
            details,
        );
    }
    (
        false,
        format!(
            "echoed RTP before the deadline: {} (want {AUDIO_PACKETS_NEEDED} audio / \
             {VIDEO_PACKETS_NEEDED} video; {foreign} not ours); connection {}",
            bits.join(", "),
            *peer.state.borrow()
        ),
        details,
    )
}

/// The data-channel and media checks of `case`, side by side.
async fn run_checks(
    peer: &mut Peer,
    case: &Case,
    channel: Option<Arc<RTCDataChannel>>,
    deadline: Instant,
) -> (bool, String, serde_json::Value) {
    let sent = Arc::new(Mutex::new(HashSet::new()));
    let (stop_tx, stop_rx) = oneshot::channel();
    let tracks = peer
        .tracks
        .iter()
        .map(|(k, t)| {
            let mime = if *k == RTPCodecType::Audio {
                MIME_TYPE_OPUS
            } else {
                case.codec
            };
            (*k, t.clone(), mime)
        })
        .collect();
    let sender = tokio::spawn(send_media(tracks, sent.clone(), stop_rx));
    let dc = async {
        match channel {
            Some(dc) => Some(dc_check(dc, case.dc == Dc::Unordered, deadline).await),
            None => None,
        }
    };
    let media = async {
        if case.audio || case.video {
            Some(media_check(peer, case, sent.clone(), deadline).await)
        } else {
            None
        }
    };
    let (d, m) = tokio::join!(dc, media);
    let _ = stop_tx.send(());
    let _ = sender.await;
    let (mut ok, mut reasons, mut details) = (true, Vec::new(), serde_json::Map::new());
    for (name, r) in [("dc", d), ("media", m)] {
        if let Some((good, why, d)) = r {
            ok &= good;
            reasons.push(why);
            details.insert(name.to_owned(), d);
        }
    }
    (ok, reasons.join("; "), serde_json::Value::Object(details))
}

fn result_line(mode: &str, case: &Case, ok: bool, reason: &str, details: serde_json::Value) -> i32 {
    let line = serde_json::json!({
        "peer": "webrtc-rs", "mode": mode, "case": case.name, "pass": ok,
        "reason": reason, "details": details,
    });
    println!("{line}");
    if ok { 0 } else { 1 }
}

fn check_candidates(sdp: &str, who: &str) -> Result<(), AnyError> {
    if sdp.lines().any(|l| l.starts_with("a=candidate")) {
        Ok(())
    } else {
        Err(format!("{who} has no a=candidate line (the contract is no trickle)").into())
    }
}

// ----- offer mode -----

async fn offer_mode(args: &Args) -> Result<(bool, String, serde_json::Value), AnyError> {
    let deadline = Instant::now() + args.timeout;
    let case = &args.case;
    let mut peer = peer().await?;
    let channel = match case.dc {
        Dc::None => None,
        dc => Some(
            peer.pc
                .create_data_channel("echo", Some(channel_init(dc)))
                .await?,
        ),
    };
    if case.audio {
        peer.add_track(RTPCodecType::Audio, MIME_TYPE_OPUS).await?;
    }
    if case.video {
        peer.add_track(RTPCodecType::Video, case.codec).await?;
    }
    let offer = peer.pc.create_offer(None).await?;
    let sdp = peer.set_local(offer, deadline).await?;
    let body = serde_json::json!({ "sdp": sdp, "type": "offer" }).to_string();
    let url = args.url.as_deref().ok_or("no --url")?;
    let reply: serde_json::Value = serde_json::from_str(&http::post_json(url, &body).await?)?;
    if reply["type"] != "answer" {
        return Err(format!("POST /offer replied type {}", reply["type"]).into());
    }
    let answer = reply["sdp"].as_str().ok_or("answer without sdp")?;
    check_candidates(answer, "answer")?;
    peer.pc
        .set_remote_description(RTCSessionDescription::answer(answer.to_owned())?)
        .await?;
    let r = match (case.reneg, channel) {
        (Some(reneg), Some(dc)) => {
            let signal = Signal::Offer {
                url,
                session: reply.get("session").cloned(),
            };
            reneg_check(&mut peer, reneg, dc, signal, deadline).await
        }
        (_, channel) => run_checks(&mut peer, case, channel, deadline).await,
    };
    let _ = peer.pc.close().await;
    Ok(r)
}

fn ice_ufrag(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .map(|u| u.trim().to_owned())
}

/// How the second offer/answer of the ice-restart and renegotiation cases is made.
enum Signal<'a> {
    /// We offer again (restarting ICE, or with the added track), POSTed to `url` naming the
    /// `session` of the first answer.
    Offer {
        url: &'a str,
        session: Option<serde_json::Value>,
    },
    /// We answer: the marker message asks the offerer under test to offer again, and its
    /// next POST arrives on `offers`.
    Answer {
        offers: &'a mut mpsc::Receiver<OfferRequest>,
    },
}

/// The ice-restart and renegotiation cases: messages before, during and after a second
/// offer/answer that restarts ICE or adds a VP8 track.
async fn reneg_check(
    peer: &mut Peer,
    reneg: Reneg,
    dc: Arc<RTCDataChannel>,
    signal: Signal<'_>,
    deadline: Instant,
) -> (bool, String, serde_json::Value) {
    match reneg_steps(peer, reneg, dc, signal, deadline).await {
        Ok(r) => r,
        Err(e) => (false, e.to_string(), serde_json::json!({})),
    }
}

async fn reneg_steps(
    peer: &mut Peer,
    reneg: Reneg,
    dc: Arc<RTCDataChannel>,
    signal: Signal<'_>,
    deadline: Instant,
) -> Result<(bool, String, serde_json::Value), AnyError> {
    let (open_tx, mut opened) = watch::channel(false);
    dc.on_open(Box::new(move || {
        let _ = open_tx.send(true);
        Box::pin(async {})
    }));
    let (msg_tx, mut messages) = mpsc::unbounded_channel();
    dc.on_message(Box::new(move |m: DataChannelMessage| {
        let msg = if m.is_string {
            Msg::Text(String::from_utf8_lossy(&m.data).into_owned())
        } else {
            Msg::Binary(m.data.to_vec())
        };
        let _ = msg_tx.send(msg);
        Box::pin(async {})
    }));
    let open = webrtc::data_channel::data_channel_state::RTCDataChannelState::Open;
    if dc.ready_state() != open {
        tokio::time::timeout_at(deadline.into(), opened.wait_for(|o| *o))
            .await
            .map_err(|_| "data channel never opened")??;
    }
    if let Signal::Offer { session: None, .. } = signal {
        return Err("the first answer named no session to renegotiate".into());
    }
    let (mut sent, mut expected, mut received) = (Vec::new(), Vec::new(), Vec::new());
    let binary: Vec<u8> = (0..1200u32).map(|i| ((i * 7 + 3) & 0xff) as u8).collect();
    let big: String = (0..16000u32)
        .map(|i| char::from(b'A' + (i % 26) as u8))
        .collect();
    let plan = |range: std::ops::Range<usize>, extra: Option<(usize, Msg)>| {
        let mut out = Vec::new();
        for i in range {
            out.push((
                Msg::Text(format!("ping {i}")),
                Msg::Text(format!("pong {i}")),
            ));
            if let Some((at, m)) = &extra {
                if *at == i {
                    out.push((m.clone(), m.clone()));
                }
            }
        }
        out
    };
    let before = plan(0..20, Some((10, Msg::Binary(binary))));
    let marker = Msg::Text(
        match reneg {
            Reneg::IceRestart => "renegotiate ice-restart",
            Reneg::AddVideo => "renegotiate add-video",
        }
        .to_owned(),
    );
    let mut during = vec![(marker.clone(), marker)];
    during.extend(plan(20..30, None));
    let after = plan(30..50, Some((30, Msg::Text(big))));
    async fn send_all(
        dc: &RTCDataChannel,
        batch: Vec<(Msg, Msg)>,
        sent: &mut Vec<Msg>,
        expected: &mut Vec<Msg>,
    ) -> Result<(), AnyError> {
        for (m, want) in batch {
            match &m {
                Msg::Text(t) => dc.send_text(t.clone()).await?,
                Msg::Binary(b) => dc.send(&Bytes::from(b.clone())).await?,
            };
            sent.push(m);
            expected.push(want);
        }
        Ok(())
    }
    async fn receive(
        messages: &mut mpsc::UnboundedReceiver<Msg>,
        received: &mut Vec<Msg>,
        n: usize,
        deadline: Instant,
    ) {
        while received.len() < n {
            match tokio::time::timeout_at(deadline.into(), messages.recv()).await {
                Ok(Some(m)) => received.push(m),
                _ => return,
            }
        }
    }
    send_all(&dc, before, &mut sent, &mut expected).await?;
    receive(&mut messages, &mut received, expected.len(), deadline).await;
    if received.len() < expected.len() {
        return Err(format!(
            "only {}/{} echoed before the renegotiation",
            received.len(),
            expected.len()
        )
        .into());
    }
    send_all(&dc, during, &mut sent, &mut expected).await?;
    let local_sdp = |pc: Arc<RTCPeerConnection>| async move {
        pc.local_description()
            .await
            .map(|d| d.sdp)
            .unwrap_or_default()
    };
    let remote_sdp = |pc: Arc<RTCPeerConnection>| async move {
        pc.remote_description()
            .await
            .map(|d| d.sdp)
            .unwrap_or_default()
    };
    let ufrags_before = (
        ice_ufrag(&local_sdp(peer.pc.clone()).await),
        ice_ufrag(&remote_sdp(peer.pc.clone()).await),
    );
    let t = Instant::now();
    let media_sent = Arc::new(Mutex::new(HashSet::new()));
    let (stop_tx, stop_rx) = oneshot::channel();
    let options = match reneg {
        Reneg::IceRestart => Some(
            webrtc::peer_connection::offer_answer_options::RTCOfferOptions {
                ice_restart: true,
                ..Default::default()
            },
        ),
        // As answerer too the track comes before the offer that adds its m-line (see
        // serve_mode).
        Reneg::AddVideo => {
            peer.add_track(RTPCodecType::Video, MIME_TYPE_VP8).await?;
            None
        }
    };
    let tracks = peer
        .tracks
        .iter()
        .map(|(k, t)| (*k, t.clone(), MIME_TYPE_VP8))
        .collect();
    let sender = tokio::spawn(send_media(tracks, media_sent.clone(), stop_rx));
    match signal {
        Signal::Offer { url, session } => {
            let offer = peer.pc.create_offer(options).await?;
            let sdp = peer.set_local(offer, deadline).await?;
            let body =
                serde_json::json!({ "sdp": sdp, "type": "offer", "session": session }).to_string();
            let reply: serde_json::Value =
                serde_json::from_str(&http::post_json(url, &body).await?)?;
            let answer = reply["sdp"].as_str().ok_or("answer 2 without sdp")?;
            peer.pc
                .set_remote_description(RTCSessionDescription::answer(answer.to_owned())?)
                .await?;
        }
        Signal::Answer { offers } => {
            // webrtc-rs restarts ICE itself when the offer's credentials change
            let (offer, reply) = tokio::time::timeout_at(deadline.into(), offers.recv())
                .await
                .map_err(|_| "the offerer did not offer again after the marker")?
                .ok_or("signalling ended")?;
            answer_offer(peer, offer, reply, "offer 2", deadline).await?;
        }
    }
    let ufrags_after = (
        ice_ufrag(&local_sdp(peer.pc.clone()).await),
        ice_ufrag(&remote_sdp(peer.pc.clone()).await),
    );
    let mut details = serde_json::json!({
        "ufrags_before": [ufrags_before.0, ufrags_before.1],
        "ufrags_after": [ufrags_after.0, ufrags_after.1],
    });
    let mut note = String::new();
    if reneg == Reneg::IceRestart {
        if ufrags_after.0 == ufrags_before.0 {
            return Err("our ufrag did not change".into());
        }
        if ufrags_after.1 == ufrags_before.1 {
            return Err("the peer's ufrag did not change: it did not restart".into());
        }
        tokio::time::timeout_at(
            deadline.into(),
            peer.state
                .wait_for(|s| *s == RTCPeerConnectionState::Connected),
        )
        .await
        .map_err(|_| "not connected after the restart")??;
        note = format!(
            "; ICE restarted (ufrags {}/{} -> {}/{})",
            ufrags_before.0.unwrap_or_default(),
            ufrags_before.1.unwrap_or_default(),
            ufrags_after.0.unwrap_or_default(),
            ufrags_after.1.unwrap_or_default()
        );
    }
    let reneg_ms = t.elapsed().as_millis() as u64;
    send_all(&dc, after, &mut sent, &mut expected).await?;
    receive(&mut messages, &mut received, expected.len(), deadline).await;
    let mut ok = true;
    let mut reason = format!(
        "{}/{} echoed in order across the renegotiation",
        received.len(),
        expected.len()
    );
    if let Some((i, (got, want))) = received
        .iter()
        .zip(&expected)
        .enumerate()
        .find(|(_, (g, w))| g != w)
    {
        ok = false;
        reason = format!(
            "echo #{i}: got {}, want {}",
            got.describe(),
            want.describe()
        );
    } else if received.len() != expected.len() {
        ok = false;
        reason = format!("only {}/{} echoed in order", received.len(), expected.len());
    }
    reason.push_str(&note);
    if reneg == Reneg::AddVideo {
        let video = Case::parse("video", Some("VP8")).ok_or("video case")?;
        let (good, why, d) = media_check(peer, &video, media_sent, deadline).await;
        ok &= good;
        reason.push_str(&format!("; added video: {why}"));
        details["media"] = d;
    }
    let _ = stop_tx.send(());
    let _ = sender.await;
    details["renegotiation_ms"] = serde_json::json!(reneg_ms);
    details["sent"] = serde_json::json!(sent.len());
    details["echoed"] = serde_json::json!(received.len());
    Ok((ok, reason, details))
}

// ----- answer mode -----

/// The signalling body.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Sdp {
    sdp: String,
    #[serde(rename = "type")]
    kind: String,
}

/// A POSTed offer and where its answer (or the error) goes.
type OfferRequest = (Sdp, oneshot::Sender<Result<Sdp, String>>);

/// Applies a POSTed offer, answers it (all candidates) and replies; an error goes to the
/// offerer as well.
async fn answer_offer(
    peer: &Peer,
    offer: Sdp,
    reply: oneshot::Sender<Result<Sdp, String>>,
    what: &str,
    deadline: Instant,
) -> Result<(), AnyError> {
    let answered = async {
        if offer.kind != "offer" {
            return Err(format!("offerer sent type {}", offer.kind).into());
        }
        check_candidates(&offer.sdp, what)?;
        peer.pc
            .set_remote_description(RTCSessionDescription::offer(offer.sdp)?)
            .await?;
        let answer = peer.pc.create_answer(None).await?;
        peer.set_local(answer, deadline).await
    }
    .await;
    match answered {
        Ok(sdp) => {
            let _ = reply.send(Ok(Sdp {
                sdp,
                kind: "answer".to_owned(),
            }));
            Ok(())
        }
        Err(e) => {
            let _ = reply.send(Err(e.to_string()));
            Err(format!("negotiation of {what}: {e}").into())
        }
    }
}

async fn serve_mode(args: &Args) -> Result<(bool, String, serde_json::Value), AnyError> {
    let case = args.case.clone();
    let (offer_tx, mut offers) = mpsc::channel::<OfferRequest>(1);
    let app = Router::new().route(
        "/offer",
        post(move |Json(body): Json<Sdp>| {
            let offer_tx = offer_tx.clone();
            async move {
                let (tx, rx) = oneshot::channel();
                if offer_tx.send((body, tx)).await.is_err() {
                    return Err((
                        StatusCode::CONFLICT,
                        "this peer answers no more offers".to_owned(),
                    ));
                }
                match rx.await {
                    Ok(Ok(answer)) => Ok(Json(answer)),
                    Ok(Err(e)) => Err((StatusCode::INTERNAL_SERVER_ERROR, e)),
                    Err(_) => Err((StatusCode::INTERNAL_SERVER_ERROR, "no answer".to_owned())),
                }
            }
        }),
    );
    let addr: SocketAddr = format!("{}:{}", args.host, args.port).parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!(
        "answerer listening on http://{}/offer",
        listener.local_addr()?
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let (offer, reply) = tokio::time::timeout(args.wait_offer, offers.recv())
        .await
        .map_err(|_| "no offer was POSTed")?
        .ok_or("signalling ended")?;
    // One offer only, unless the case renegotiates: later POSTs find the receiver gone.
    let mut offers = case.reneg.map(|_| offers);
    let deadline = Instant::now() + args.timeout;
    let mut peer = match peer().await {
        Ok(p) => p,
        Err(e) => {
            let _ = reply.send(Err(e.to_string()));
            return Err(e);
        }
    };
    // Tracks first: webrtc-rs then matches its sendrecv transceivers to the offered m-lines
    // (a track added after the offer is never bound to a sender stream).
    if case.audio {
        peer.add_track(RTPCodecType::Audio, MIME_TYPE_OPUS).await?;
    }
    if case.video {
        peer.add_track(RTPCodecType::Video, case.codec).await?;
    }
    answer_offer(&peer, offer, reply, "offer", deadline).await?;
    // our own channel, opened in-band once SCTP is up
    let channel = match case.dc {
        Dc::None => None,
        dc => Some(
            peer.pc
                .create_data_channel("webrtc-rs-answerer", Some(channel_init(dc)))
                .await?,
        ),
    };
    let r = match (case.reneg, channel, offers.as_mut()) {
        (Some(reneg), Some(dc), Some(offers)) => {
            let signal = Signal::Answer { offers };
            reneg_check(&mut peer, reneg, dc, signal, deadline).await
        }
        (_, channel, _) => run_checks(&mut peer, &case, channel, deadline).await,
    };
    let _ = peer.pc.close().await;
    Ok(r)
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let t0 = Instant::now();
    let mode = if args.serve { "answer" } else { "offer" };
    let r = if args.serve {
        serve_mode(&args).await
    } else {
        offer_mode(&args).await
    };
    let (ok, reason, mut details) =
        r.unwrap_or_else(|e| (false, e.to_string(), serde_json::json!({})));
    if let Some(d) = details.as_object_mut() {
        d.insert(
            "total_ms".to_owned(),
            serde_json::json!(t0.elapsed().as_millis() as u64),
        );
    }
    std::process::exit(result_line(mode, &args.case, ok, &reason, details));
}
