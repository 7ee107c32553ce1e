//! An echo server with aiortc's `examples/server` signalling: `POST /offer` with JSON
//! `{"sdp", "type": "offer"}` is answered with `{"sdp", "type": "answer"}`.
//!
//! The answer carries every candidate (the server gathers before answering; the client
//! need not trickle). Every data-channel message is echoed on the channel it came from,
//! same type, except a text `ping N`, answered with `pong N`; every RTP packet received is
//! sent back on the transceiver it came on (the peer gets its own media back).
//!
//! ```sh
//! cargo run --release -p ferrtc --example echo_server -- --host 127.0.0.1 --port 8080
//! ```
//!
//! With a loopback `--host`, ICE uses loopback addresses only; otherwise every interface's.
//! `--port 0` picks a free port. The first line on stdout is `listening on http://ADDR`.
//! `--turn turn:HOST:PORT --turn-user U --turn-pass P`: relayed candidates only, through
//! that TURN server (the `relay` ICE transport policy).
//! `--shared-port PORT`: every peer connection on one UDP port (a `UdpEndpoint` bound to
//! HOST:PORT; 0 picks one), instead of sockets of its own; not with `--turn`.
//! `--ice-tcp-only`: host candidates over TCP only (ICE-TCP, RFC 6544: a passive candidate a
//! browser's active one connects to, and an active one), no UDP host candidate.
//!
//! Renegotiation: the answer carries a `"session"` key besides `sdp` and `type` (aiortc's
//! pages ignore it). An offer POSTed with that `"session"` is applied to the same peer
//! connection (an ICE restart, a track added) and answered the same way, so a client can
//! renegotiate over the same signalling.
//!
//! Data channel settings per connection: a first offer's JSON may carry
//! `"sctp_interleaving": true` (offer user message interleaving, RFC 8260 I-DATA) and
//! `"max_message_size": N` (our `a=max-message-size`, default 256 KiB, at most 64 MiB), the interop
//! harness's `dc-interleave` case.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use ferrtc::net::HostAddresses;
use ferrtc::{Configuration, Description, Direction, PeerConnection, SdpType, UdpEndpoint};
use serde::{Deserialize, Serialize};

/// The signalling body, as aiortc's server and pages write it, with the session a
/// renegotiation belongs to.
#[derive(Debug, Serialize, Deserialize)]
struct SessionDescription {
    sdp: String,
    #[serde(rename = "type")]
    kind: String,
    /// In an answer: the session to name in later offers. In an offer: the session it
    /// renegotiates (absent: a new peer connection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session: Option<u64>,
    /// In a first offer: offer user message interleaving (RFC 8260) on this connection.
    #[serde(default, skip_serializing)]
    sctp_interleaving: bool,
    /// In a first offer: our `a=max-message-size` on this connection.
    #[serde(default, skip_serializing)]
    max_message_size: Option<u64>,
}

/// The most a client may ask for as `max_message_size`: the receive and send buffers grow
/// to it.
const MAX_MESSAGE_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// How long the answer waits for gathering before it goes with what it has.
const GATHERING_DEADLINE: Duration = Duration::from_secs(5);

#[path = "common/echo.rs"]
mod echo;

#[derive(Clone)]
struct Server {
    host_addresses: HostAddresses,
    relay: echo::Relay,
    /// `--shared-port`: the one UDP endpoint of every connection.
    endpoint: Option<UdpEndpoint>,
    /// `--ice-tcp-only`: TCP host candidates only.
    ice_tcp_only: bool,
    /// Live peer connections by session, for renegotiation; the echo task holds the
    /// connection, so an entry dies with it.
    sessions: Arc<Mutex<HashMap<u64, Weak<PeerConnection>>>>,
    next_session: Arc<AtomicU64>,
}

fn usage() -> ! {
    eprintln!(
        "usage: echo_server [--host HOST] [--port PORT] [--shared-port PORT] [--ice-tcp-only] \
         [--turn URL --turn-user U --turn-pass P]"
    );
    std::process::exit(2);
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    echo::init_tracing();
    let mut host: IpAddr = IpAddr::from([127, 0, 0, 1]);
    let mut port: u16 = 8080;
    let mut relay = echo::Relay::default();
    let mut shared_port: Option<u16> = None;
    let mut ice_tcp_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            flag if relay.parse_flag(flag, &mut args).unwrap_or_else(|| usage()) => {}
            "--host" => {
                host = args
                    .next()
                    .and_then(|h| h.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--shared-port" => {
                shared_port = Some(
                    args.next()
                        .and_then(|p| p.parse().ok())
                        .unwrap_or_else(|| usage()),
                )
            }
            "--ice-tcp-only" => ice_tcp_only = true,
            _ => usage(),
        }
    }
    let endpoint = match shared_port {
        Some(p) => Some(UdpEndpoint::bind(SocketAddr::new(host, p)).await?),
        None => None,
    };
    let endpoint_addr = endpoint.as_ref().map(UdpEndpoint::local_addr);
    let server = Server {
        host_addresses: if host.is_loopback() {
            HostAddresses::Explicit(vec![host])
        } else {
            HostAddresses::default()
        },
        relay,
        endpoint,
        ice_tcp_only,
        sessions: Arc::default(),
        next_session: Arc::new(AtomicU64::new(1)),
    };
    let app = Router::new().route("/offer", post(move |body| offer(server.clone(), body)));
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(host, port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    if let Some(e) = &endpoint_addr {
        // Not on stdout: the harnesses read its first line and may close it then.
        tracing::info!(address = %e, "shared UDP endpoint");
    }
    axum::serve(listener, app).await?;
    Ok(())
}

async fn offer(
    server: Server,
    Json(body): Json<SessionDescription>,
) -> Result<Json<SessionDescription>, (StatusCode, String)> {
    if body.kind != "offer" {
        return Err((StatusCode::BAD_REQUEST, "expected an offer".into()));
    }
    let fail = |e: ferrtc::Error| {
        tracing::warn!(error = ?e, "offer refused");
        (StatusCode::BAD_REQUEST, format!("{e}"))
    };
    let (pc, session, new) = match body.session {
        Some(id) => {
            let pc = server
                .sessions
                .lock()
                .expect("sessions lock")
                .get(&id)
                .and_then(Weak::upgrade)
                .ok_or((StatusCode::NOT_FOUND, format!("no live session {id}")))?;
            tracing::info!(session = id, "renegotiation offer");
            (pc, id, false)
        }
        None => {
            let mut config = server
                .relay
                .apply(Configuration::new().with_host_addresses(server.host_addresses.clone()));
            config.endpoint = server.endpoint.clone();
            if server.ice_tcp_only {
                config.ice_tcp = ferrtc::IceTcpPolicy::Only;
            }
            config.data_channels.interleaving = body.sctp_interleaving;
            if let Some(n) = body.max_message_size {
                config.data_channels.max_message_size = n.min(MAX_MESSAGE_SIZE_LIMIT);
            }
            let pc = Arc::new(PeerConnection::new(config).await.map_err(fail)?);
            let id = server.next_session.fetch_add(1, Ordering::Relaxed);
            (pc, id, true)
        }
    };
    pc.set_remote_description(Description {
        sdp_type: SdpType::Offer,
        sdp: body.sdp,
    })
    .await
    .map_err(fail)?;
    // Transceivers the offer created are recvonly: make them sendrecv to send the media back.
    for t in pc.transceivers().await.map_err(fail)? {
        if t.direction != Direction::SendRecv {
            pc.set_direction(t.id, Direction::SendRecv)
                .await
                .map_err(fail)?;
        }
    }
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
    if new {
        server
            .sessions
            .lock()
            .expect("sessions lock")
            .insert(session, Arc::downgrade(&pc));
        let sessions = server.sessions.clone();
        tokio::spawn(async move {
            // The server's peer offers any renegotiation itself: requests are not acted on.
            let (requests, _) = tokio::sync::mpsc::unbounded_channel();
            echo::serve(pc, Vec::new(), std::future::pending(), requests).await;
            sessions.lock().expect("sessions lock").remove(&session);
        });
    }
    Ok(Json(SessionDescription {
        sdp: answer.sdp,
        kind: "answer".into(),
        session: Some(session),
        sctp_interleaving: false,
        max_message_size: None,
    }))
}
