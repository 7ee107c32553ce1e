//! The ferrtc demo server: a page where the browser's camera, microphone and a data channel
//! go to this server and come back, the video transformed (edges, rotate, cartoon) in Rust.
//!
//! Signalling is aiortc's `examples/server`: `POST /offer` with JSON
//! `{"sdp", "type": "offer", "video_transform"}` is answered with `{"sdp", "type": "answer"}`,
//! every candidate in the answer (the server gathers first). The page and its script are in
//! the binary.
//!
//! - Video: with a transform, the browser's frames are decoded (VP8, VP9, H.264), transformed,
//!   re-encoded with the same codec and sent back with their timestamps; with `none`, RTP
//!   goes back as it came.
//! - Audio: the server plays a chime shipped in the binary (`assets/chime.wav`, looping,
//!   encoded with the codec the browser chose), as aiortc's demo plays its instructions; the
//!   browser's own audio is recorded with `--record-to` or discarded.
//! - Data channels: `ping N` is answered with `pong N`, anything else is echoed.
//!
//! ```sh
//! cargo run --release -p ferrtc-demo -- --host 127.0.0.1 --port 8080
//! cargo run --release -p ferrtc-demo -- --host 0.0.0.0 --https   # a phone on the LAN
//! ```
//!
//! The first line on stdout is `listening on http://ADDR` (`https://` when serving TLS).

mod record;
mod tls;
mod transform;
mod video;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use ferrtc::media::MediaSender;
use ferrtc::net::{HostAddresses, IceServer, Scheme};
use ferrtc::{
    Configuration, ConnectionState, DataChannel, Description, Direction, Event, MediaKind, Message,
    PeerConnection, SdpType,
};
use ferrtc_media::{MediaPlayer, PlayerOptions};
use serde::{Deserialize, Serialize};

use transform::Transform;
use video::Pipeline;

const INDEX_HTML: &str = include_str!("page/index.html");
const CLIENT_JS: &str = include_str!("page/client.js");
/// The sound every call plays to the browser (made here with FFmpeg, see
/// `assets/README.md`): 2 s of 16 kHz mono, a 660 Hz then an 880 Hz note.
const CHIME_WAV: &[u8] = include_bytes!("../assets/chime.wav");

/// How long the answer waits for gathering before it goes with what it has.
const GATHERING_DEADLINE: Duration = Duration::from_secs(5);

/// The offer as aiortc's page sends it.
#[derive(Debug, Deserialize)]
struct Offer {
    sdp: String,
    #[serde(rename = "type")]
    kind: String,
    video_transform: Option<String>,
}

/// The answer.
#[derive(Debug, Serialize)]
struct Answer {
    sdp: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Clone)]
struct Server {
    /// The chime every call plays to the browser, written out once for the player.
    chime: Arc<PathBuf>,
    host_addresses: HostAddresses,
    /// `--stun` and `--turn`: the server's own and the page's.
    ice_servers: Vec<IceServer>,
    /// `--record-to`.
    recording: Option<Arc<record::Recording>>,
    /// `--test-results`: also print `call ended` on stdout when a call's connection is gone
    /// and its resources freed.
    announce_calls: bool,
}

struct Args {
    host: IpAddr,
    port: u16,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    https: bool,
    stun: Vec<String>,
    turn: Vec<String>,
    turn_username: Option<String>,
    turn_password: Option<String>,
    record_to: Option<PathBuf>,
    test_results: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: ferrtc-demo [--host HOST] [--port PORT] [--cert-file FILE --key-file FILE | --https]\n\
         \n  --host HOST        address to listen on (default 127.0.0.1; 0.0.0.0 for the LAN)\
         \n  --port PORT        port (default 8080; 0 picks a free one)\
         \n  --cert-file FILE   serve HTTPS with this certificate chain (PEM)\
         \n  --key-file FILE    and this private key (PEM: PKCS#8, PKCS#1 or SEC1)\
         \n  --https            serve HTTPS with a self-signed certificate made at start for\
         \n                     localhost, the listen address and (with 0.0.0.0) every\
         \n                     interface's address; browsers warn about it once. Browsers\
         \n                     allow the camera only on localhost or over HTTPS\
         \n  --stun URL         a STUN server (stun:HOST[:PORT]) for the server and the page;\
         \n                     repeatable. Without it the server asks no STUN server\
         \n  --turn URL         a TURN server (turn:HOST[:PORT][?transport=udp|tcp] or turns:)\
         \n                     for the server and the page; repeatable; needs\
         \n  --turn-username U  and\
         \n  --turn-password P  its long-term credentials\
         \n  --record-to FILE   record the browser's media of one call at a time to FILE,\
         \n                     the format by extension: {}\
         \n  --test-results     accept POST /result and print it on stdout (for tests)",
        record::FORMATS
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut a = Args {
        host: IpAddr::from([127, 0, 0, 1]),
        port: 8080,
        cert_file: None,
        key_file: None,
        https: false,
        stun: Vec::new(),
        turn: Vec::new(),
        turn_username: None,
        turn_password: None,
        record_to: None,
        test_results: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--host" => a.host = value().parse().unwrap_or_else(|_| usage()),
            "--port" => a.port = value().parse().unwrap_or_else(|_| usage()),
            "--cert-file" => a.cert_file = Some(value().into()),
            "--key-file" => a.key_file = Some(value().into()),
            "--https" => a.https = true,
            "--stun" => a.stun.push(value()),
            "--turn" => a.turn.push(value()),
            "--turn-username" => a.turn_username = Some(value()),
            "--turn-password" => a.turn_password = Some(value()),
            "--record-to" => a.record_to = Some(value().into()),
            "--test-results" => a.test_results = true,
            _ => usage(),
        }
    }
    a
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = parse_args();
    let identity = match (&args.cert_file, &args.key_file) {
        (Some(cert), Some(key)) => Some(tls::Identity::from_pem_files(cert, key)?),
        (None, None) if args.https => Some(tls::Identity::self_signed(&tls::certificate_names(
            args.host,
        ))?),
        (None, None) => None,
        _ => return Err("--cert-file and --key-file go together".into()),
    };
    let tls_config = identity.map(tls::Identity::server_config).transpose()?;
    let ice_servers = ice_servers(&args)?;
    let recording = args
        .record_to
        .as_deref()
        .map(record::Recording::new)
        .transpose()?
        .map(Arc::new);
    // The player reads files: the chime goes to one in the temporary directory, once.
    let chime = std::env::temp_dir().join(format!("ferrtc-demo-chime-{}.wav", std::process::id()));
    std::fs::write(&chime, CHIME_WAV)?;
    let server = Server {
        chime: Arc::new(chime),
        host_addresses: if args.host.is_loopback() {
            HostAddresses::Explicit(vec![args.host])
        } else {
            HostAddresses::default()
        },
        ice_servers: ice_servers.clone(),
        recording,
        announce_calls: args.test_results,
    };
    let page_config = page_config(&ice_servers);
    let mut app = Router::new()
        .route(
            "/",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    INDEX_HTML,
                )
            }),
        )
        .route(
            "/client.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], CLIENT_JS) }),
        )
        .route(
            "/config",
            get(move || {
                let c = page_config.clone();
                async move { Json(c) }
            }),
        )
        .route("/offer", post(move |body| offer(server.clone(), body)));
    if args.test_results {
        app = app.route("/result", post(result));
    }
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port)).await?;
    let addr = listener.local_addr()?;
    let scheme = if tls_config.is_some() {
        "https"
    } else {
        "http"
    };
    println!("listening on {scheme}://{addr}");
    print_where_to_open(scheme, addr, args.https && args.cert_file.is_none());
    match tls_config {
        Some(config) => axum::serve(tls::TlsListener::new(listener, config)?, app).await?,
        None => axum::serve(listener, app).await?,
    }
    Ok(())
}

/// Tells the user which URLs to open, and what the browser will say.
fn print_where_to_open(scheme: &str, addr: SocketAddr, self_signed: bool) {
    let mut urls = Vec::new();
    if addr.ip().is_unspecified() {
        urls.push(format!("{scheme}://localhost:{}/", addr.port()));
        for ip in HostAddresses::default().resolve().unwrap_or_default() {
            urls.push(format!("{scheme}://{}/", SocketAddr::new(ip, addr.port())));
        }
    } else {
        urls.push(format!("{scheme}://{addr}/"));
    }
    for url in &urls {
        println!("open {url} in a browser");
    }
    if self_signed {
        println!("the certificate is self-signed: the browser warns once; accept it to go on");
    } else if scheme == "http" && !addr.ip().is_loopback() {
        println!("note: off localhost, browsers give the camera only to HTTPS pages (try --https)");
    }
    println!("Ctrl-C stops the server");
}

/// The ICE servers of `--stun` and `--turn`, checked.
fn ice_servers(args: &Args) -> Result<Vec<IceServer>, String> {
    let mut servers = Vec::new();
    if !args.stun.is_empty() {
        servers.push(IceServer {
            urls: args.stun.clone(),
            ..IceServer::default()
        });
    }
    if !args.turn.is_empty() {
        let (Some(username), Some(credential)) = (&args.turn_username, &args.turn_password) else {
            return Err("--turn needs --turn-username and --turn-password".into());
        };
        servers.push(IceServer {
            urls: args.turn.clone(),
            username: Some(username.clone()),
            credential: Some(credential.clone()),
        });
    }
    for server in &servers {
        let urls = server
            .parsed_urls()
            .map_err(|e| format!("{:?}: {e}", server.urls))?;
        for url in urls {
            let turn = matches!(url.scheme, Scheme::Turn | Scheme::Turns);
            if turn != server.username.is_some() {
                return Err(format!(
                    "{:?}: STUN URLs go after --stun, TURN URLs after --turn",
                    server.urls
                ));
            }
        }
    }
    Ok(servers)
}

/// What `GET /config` tells the page: the ICE servers in W3C `RTCConfiguration` form.
fn page_config(servers: &[IceServer]) -> serde_json::Value {
    let servers: Vec<_> = servers
        .iter()
        .map(|s| {
            let mut v = serde_json::json!({ "urls": s.urls });
            if let (Some(u), Some(c)) = (&s.username, &s.credential) {
                v["username"] = u.clone().into();
                v["credential"] = c.clone().into();
            }
            v
        })
        .collect();
    serde_json::json!({ "iceServers": servers })
}

/// A page's test result, printed on one line of stdout for the test that reads it.
async fn result(Json(body): Json<serde_json::Value>) -> impl IntoResponse {
    println!("result {body}");
    StatusCode::NO_CONTENT
}

async fn offer(
    server: Server,
    Json(body): Json<Offer>,
) -> Result<Json<Answer>, (StatusCode, String)> {
    if body.kind != "offer" {
        return Err((StatusCode::BAD_REQUEST, "expected an offer".into()));
    }
    let transform = Transform::from_name(body.video_transform.as_deref());
    let fail = |e: ferrtc::Error| {
        tracing::warn!(error = ?e, "offer refused");
        (StatusCode::BAD_REQUEST, format!("{e}"))
    };
    let config = Configuration::new()
        .with_host_addresses(server.host_addresses)
        .with_ice_servers(server.ice_servers);
    let audio_codecs = record::audio_payload_types(&body.sdp);
    let pc = Arc::new(PeerConnection::new(config).await.map_err(fail)?);
    pc.set_remote_description(Description {
        sdp_type: SdpType::Offer,
        sdp: body.sdp,
    })
    .await
    .map_err(fail)?;
    // Transceivers the offer created are recvonly: make them sendrecv to send back. Video
    // to transform comes as whole frames.
    let mut pipelines = HashMap::new();
    let mut audio = HashSet::new();
    let mut senders = Vec::new();
    let transceivers = pc.transceivers().await.map_err(fail)?;
    let mut recorder = server
        .recording
        .as_ref()
        .filter(|r| {
            transceivers
                .iter()
                .any(|t| (t.kind == MediaKind::Video) == r.is_video())
        })
        .and_then(record::Recording::claim);
    for t in transceivers {
        pc.set_direction(t.id, Direction::SendRecv)
            .await
            .map_err(fail)?;
        if t.kind == MediaKind::Audio {
            audio.insert(t.id);
            // The chime, looping, to the browser; its own audio is recorded or dropped.
            let options = PlayerOptions::new().with_loop(true);
            let mut player = MediaPlayer::open_with(server.chime.as_ref(), options)
                .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("chime: {e}")))?;
            if let Some(track) = player.audio() {
                let sender = pc
                    .attach_media_track(t.id, track)
                    .await
                    .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("chime: {e}")))?;
                senders.push(sender);
            }
        }
        // The first video is recorded, decoded even without a transform.
        let record = if t.kind == MediaKind::Video {
            recorder
                .as_mut()
                .and_then(record::CallRecorder::take_video_sender)
        } else {
            None
        };
        if t.kind == MediaKind::Video && (transform != Transform::None || record.is_some()) {
            pc.set_receive_frames(t.id, true).map_err(fail)?;
            pipelines.insert(
                t.id,
                Pipeline::start(Arc::clone(&pc), t.id, transform, record),
            );
        }
    }
    let recorder = recorder.map(|r| (r, audio_codecs));
    pc.set_local_description(None).await.map_err(fail)?;
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
    tracing::info!(?transform, "call answered");
    let announce = server.announce_calls;
    tokio::spawn(async move {
        serve(pc, pipelines, audio, senders, recorder).await;
        if announce {
            println!("call ended");
        }
    });
    Ok(Json(Answer {
        sdp: answer.sdp,
        kind: "answer",
    }))
}

/// Runs one call until it fails or closes, or the visitor closes its DTLS transport.
async fn serve(
    pc: Arc<PeerConnection>,
    pipelines: HashMap<ferrtc::TransceiverId, Pipeline>,
    audio: HashSet<ferrtc::TransceiverId>,
    senders: Vec<MediaSender>,
    mut recorder: Option<(record::CallRecorder, record::AudioCodecs)>,
) {
    let counters: Vec<_> = pipelines.values().map(Pipeline::counters).collect();
    while let Some(event) = pc.next_event().await {
        match event {
            Event::DataChannel(channel) => {
                tokio::spawn(echo(channel, counters.clone()));
            }
            Event::Frame {
                transceiver, frame, ..
            } => {
                if let Some(p) = pipelines.get(&transceiver) {
                    p.push(frame);
                }
            }
            Event::Rtp {
                transceiver,
                packet,
                ..
            } => {
                // The browser's audio is recorded or dropped (the chime goes back);
                // video without a transform goes back as it came.
                if audio.contains(&transceiver) {
                    if let Some((r, codecs)) = recorder.as_mut() {
                        r.push_audio_rtp(&packet, codecs);
                    }
                    continue;
                }
                let _ = pc.write_rtp(transceiver, packet);
            }
            Event::KeyframeRequest { transceiver } => match pipelines.get(&transceiver) {
                Some(p) => p.request_keyframe(),
                // What we send is the browser's own video: ask it.
                None => {
                    let _ = pc.request_keyframe(transceiver);
                }
            },
            Event::ConnectionStateChange(state, cause) => {
                tracing::info!(?state, ?cause, "connection state");
                if matches!(state, ConnectionState::Failed | ConnectionState::Closed) {
                    break;
                }
            }
            // The visitor's `pc.close()` (the page's Stop, or a closed tab) sends DTLS
            // close_notify: the call is over at once. The connection state stays
            // `Connected` until ICE consent expires (W3C webrtc-pc §4.3.3), 30 s later.
            Event::DtlsStateChange(state) => {
                tracing::info!(?state, "DTLS state");
                if state.is_final() {
                    break;
                }
            }
            _ => {}
        }
    }
    drop(pipelines);
    for s in &senders {
        s.stop();
    }
    pc.close().await;
    if let Some((r, _)) = recorder {
        r.finish().await;
    }
}

/// Echoes a channel's messages; `ping N` gets `pong N`, followed (when the call's video is
/// decoded here) by `figures {JSON}`: the server's frames and mean decode, transform and
/// encode milliseconds per frame since the last figures.
async fn echo(channel: DataChannel, counters: Vec<Arc<video::Counters>>) {
    tracing::info!(label = channel.label(), "data channel");
    let mut last = video::Snapshot::default();
    while let Some(message) = channel.recv().await {
        let pong = message
            .as_text()
            .and_then(|t| t.strip_prefix("ping "))
            .map(|n| format!("pong {n}"));
        let ping = pong.is_some();
        let reply = match pong {
            Some(p) => Message::text(p),
            None => message,
        };
        if channel.send(reply).await.is_err() {
            break;
        }
        // The first video's figures.
        if let Some(c) = counters.first().filter(|_| ping) {
            let now = c.snapshot();
            let figures = now.figures_since(&last);
            last = now;
            if channel
                .send(Message::text(format!("figures {figures}")))
                .await
                .is_err()
            {
                break;
            }
        }
    }
}
