//! A video sender for the interop matrix's `bwe` case: it answers a receive-only offer
//! (aiortc's `POST /offer` JSON signalling, as `echo_server`) with a VP8 video track of
//! synthetic moving frames, whose encoder follows the connection's congestion controller
//! (GCC over transport-wide feedback, capped by the peer's REMB), and reports what it does
//! on `GET /stats`.
//!
//! ```sh
//! cargo run --release -p ferrtc --example bwe_sender -- --host 127.0.0.1 --port 8080
//! ```
//!
//! `GET /stats` gives the last peer connection's figures as JSON: `estimate_bps` (the video
//! sender's share of the congestion controller's target, `null` before the first),
//! `cap_bps` (the target set with `set_target_bitrate`, `--max-bitrate`, 2 Mbit/s by
//! default), the encoder's counters (`frames_in`, `frames_sent`, `key_frames`,
//! `bytes_sent`: encoded bytes), and from `getStats`: `rtp_bytes_sent` and
//! `rtp_packets_sent` (outbound-rtp, payload bytes), and the peer's receiver reports
//! (remote-inbound-rtp `packets_lost`, `fraction_lost`, `rtt_ms`). The harness samples it
//! while it changes the link's rate. The first line on stdout is `listening on
//! http://ADDR`.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use ferrtc::media::{MediaKind, MediaSender, PixelFormat, TimeBase, VideoFrame, track_channel};
use ferrtc::net::HostAddresses;
use ferrtc::{Configuration, Description, PeerConnection, SdpType, StatsType, StatsValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The signalling body, as aiortc's server and pages write it.
#[derive(Debug, Serialize, Deserialize)]
struct SessionDescription {
    sdp: String,
    #[serde(rename = "type")]
    kind: String,
}

/// How long the answer waits for gathering before it goes with what it has.
const GATHERING_DEADLINE: Duration = Duration::from_secs(5);
/// The synthetic camera's size and rate.
const WIDTH: usize = 640;
const HEIGHT: usize = 480;
const FPS: u64 = 30;

/// The peer connection being served, and its video sender.
#[derive(Default)]
struct Current {
    pc: Option<Arc<PeerConnection>>,
    sender: Option<MediaSender>,
}

#[derive(Clone)]
struct Server {
    host_addresses: HostAddresses,
    max_bitrate: u32,
    current: Arc<Mutex<Current>>,
}

fn usage() -> ! {
    eprintln!("usage: bwe_sender [--host HOST] [--port PORT] [--max-bitrate BPS]");
    std::process::exit(2);
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut host: IpAddr = IpAddr::from([127, 0, 0, 1]);
    let mut port: u16 = 8080;
    let mut max_bitrate: u32 = 2_000_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--host" => host = value.parse().unwrap_or_else(|_| usage()),
            "--port" => port = value.parse().unwrap_or_else(|_| usage()),
            "--max-bitrate" => max_bitrate = value.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let server = Server {
        host_addresses: if host.is_loopback() {
            HostAddresses::Explicit(vec![host])
        } else {
            HostAddresses::default()
        },
        max_bitrate,
        current: Arc::default(),
    };
    let offer_server = server.clone();
    let app = Router::new()
        .route(
            "/offer",
            post(move |body| offer(offer_server.clone(), body)),
        )
        .route("/stats", get(move || stats(server.clone())));
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(host, port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// Answers an offer with a video track on its (first) video transceiver.
async fn offer(
    server: Server,
    Json(body): Json<SessionDescription>,
) -> Result<Json<SessionDescription>, (StatusCode, String)> {
    if body.kind != "offer" {
        return Err((StatusCode::BAD_REQUEST, "expected an offer".into()));
    }
    let fail = |e: &dyn std::fmt::Display| {
        tracing::warn!(error = %e, "offer refused");
        (StatusCode::BAD_REQUEST, format!("{e}"))
    };
    let config = Configuration::new().with_host_addresses(server.host_addresses.clone());
    let pc = Arc::new(PeerConnection::new(config).await.map_err(|e| fail(&e))?);
    pc.set_remote_description(Description {
        sdp_type: SdpType::Offer,
        sdp: body.sdp,
    })
    .await
    .map_err(|e| fail(&e))?;
    let (camera, track) = track_channel(MediaKind::Video, "bwe-camera");
    // W3C addTrack: takes the transceiver the (receive-only) offer made.
    let sender = pc.add_media_track(track).await.map_err(|e| fail(&e))?;
    sender.set_target_bitrate(server.max_bitrate);
    pc.set_local_description(None).await.map_err(|e| fail(&e))?;
    if tokio::time::timeout(GATHERING_DEADLINE, pc.gathering_complete())
        .await
        .is_err()
    {
        tracing::warn!("gathering not complete in time: answering with what there is");
    }
    let answer = pc.local_description().ok_or_else(|| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "no local description".to_owned(),
        )
    })?;
    {
        let mut current = server.current.lock().expect("current lock");
        if let Some(old) = current.pc.replace(Arc::clone(&pc)) {
            tokio::spawn(async move { old.close().await });
        }
        current.sender = Some(sender.clone());
    }
    // The camera: 30 frames per second until the sender or the connection ends.
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / FPS));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut pattern = Pattern::new();
        for index in 0u32.. {
            tokio::select! {
                _ = tick.tick() => {}
                () = sender.finished() => break,
            }
            if camera.send(pattern.frame(index).into()).is_err() {
                break;
            }
        }
    });
    Ok(Json(SessionDescription {
        sdp: answer.sdp,
        kind: "answer".into(),
    }))
}

/// The figures of the connection being served.
async fn stats(server: Server) -> Json<Value> {
    let (pc, sender) = {
        let current = server.current.lock().expect("current lock");
        (current.pc.clone(), current.sender.clone())
    };
    let (Some(pc), Some(sender)) = (pc, sender) else {
        return Json(json!({ "connected": false }));
    };
    let s = sender.stats();
    let mut out = json!({
        "connected": format!("{:?}", pc.connection_state()),
        "estimate_bps": sender.bandwidth_estimate(),
        "cap_bps": sender.target_bitrate(),
        "frames_in": s.frames_in,
        "frames_sent": s.frames_sent,
        "key_frames": s.key_frames,
        "keyframe_requests": s.keyframe_requests,
        "bytes_sent": s.bytes_sent,
    });
    if let Ok(report) = pc.stats().await {
        let video = |kind: StatsType| {
            report
                .of(kind)
                .find(|e| e.get_str("kind") == Some("video"))
                .cloned()
        };
        if let Some(o) = video(StatsType::OutboundRtp) {
            out["rtp_bytes_sent"] = json!(o.get_u64("bytesSent"));
            out["rtp_packets_sent"] = json!(o.get_u64("packetsSent"));
            out["rtp_retransmitted_bytes"] = json!(o.get_u64("retransmittedBytesSent"));
        }
        if let Some(r) = video(StatsType::RemoteInboundRtp) {
            let f64_of = |name: &str| match r.get(name) {
                Some(StatsValue::F64(v)) => Some(*v),
                _ => None,
            };
            out["packets_lost"] = match r.get("packetsLost") {
                Some(StatsValue::I64(v)) => json!(v),
                Some(StatsValue::U64(v)) => json!(v),
                _ => Value::Null,
            };
            out["fraction_lost"] = json!(f64_of("fractionLost"));
            out["rtt_ms"] = json!(f64_of("roundTripTime").map(|s| s * 1000.0));
        }
    }
    Json(out)
}

/// A synthetic camera that costs a video encoder something: a scrolling texture, a moving
/// bright square and a band of fresh grain on every frame, so that VP8 at 640x480 uses
/// what it is given (a flat or only scrolling picture would stay far below any target).
struct Pattern {
    texture: Vec<u8>,
    seed: u32,
}

impl Pattern {
    fn new() -> Pattern {
        let mut seed = 0x1234_5678;
        let texture = (0..WIDTH * HEIGHT)
            .map(|_| (xorshift(&mut seed) % 48) as u8)
            .collect();
        Pattern { texture, seed }
    }

    fn frame(&mut self, index: u32) -> VideoFrame {
        let t = index as usize;
        let mut f =
            VideoFrame::new(PixelFormat::I420, WIDTH as u32, HEIGHT as u32).expect("a valid size");
        let strides = [f.stride(0), f.stride(1), f.stride(2)];
        let (sq_x, sq_y) = ((t * 7) % (WIDTH - 80), (t * 3) % (HEIGHT - 80));
        // Rows of fresh grain: a band that moves down the picture.
        let band = (t * 4) % HEIGHT;
        let [y, u, v] = f.planes_mut();
        for r in 0..HEIGHT {
            let grain_row = (r + HEIGHT - band) % HEIGHT < HEIGHT / 6;
            let row = &mut y[r * strides[0]..][..WIDTH];
            for (c, px) in row.iter_mut().enumerate() {
                let tex = self.texture[((r + t) % HEIGHT) * WIDTH + (c + 2 * t) % WIDTH];
                let grain = if grain_row {
                    (xorshift(&mut self.seed) % 40) as u8
                } else {
                    0
                };
                let base = ((c + r + 3 * t) % 160) as u8;
                *px = if (sq_x..sq_x + 80).contains(&c) && (sq_y..sq_y + 80).contains(&r) {
                    230
                } else {
                    16 + base / 2 + tex + grain
                };
            }
        }
        for r in 0..HEIGHT / 2 {
            for c in 0..WIDTH / 2 {
                u[r * strides[1] + c] = (64 + (c + t) % 128) as u8;
                v[r * strides[2] + c] = (192 - (r + t / 2) % 128) as u8;
            }
        }
        f.pts = i64::from(index) * (90_000 / FPS as i64);
        f.time_base = TimeBase::VIDEO_90KHZ;
        f
    }
}

/// Marsaglia's xorshift32: cheap pseudo-random grain.
fn xorshift(state: &mut u32) -> u32 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    x
}
