//! ferrtc as the offerer, for the interop harness's answerer rows: offers a data channel
//! (and audio/video when asked) to an answerer at `--url` with aiortc-style JSON
//! signalling, then echoes everything: data-channel messages on every channel, including
//! those the answerer opens (`ping N` answered with `pong N`), and every track back on its
//! transceiver.
//!
//! ```sh
//! cargo run --release -p ferrtc --example echo_offerer -- --url http://127.0.0.1:8081/offer --audio --video
//! ```
//!
//! `--codec C` puts codec `C` first in the offer (`Configuration::codec_preferences`).
//! `--turn turn:HOST:PORT --turn-user U --turn-pass P`: relayed candidates only, through
//! that TURN server. `--ice-tcp-only`: host candidates over TCP only (ICE-TCP, RFC 6544:
//! a passive candidate the answerer's active one connects to, and an active one), no UDP
//! host candidate. Runs until the connection closes or the process is killed.
//!
//! When the answerer sends the text `renegotiate ice-restart` (or `renegotiate add-video`)
//! on a data channel, the offerer restarts ICE (adds a sendrecv video transceiver) and
//! POSTs a new offer to the same `--url`, applying the answer it gets back; the channels
//! stay open throughout.

use std::net::IpAddr;
use std::sync::Arc;

use ferrtc::net::HostAddresses;
use ferrtc::{
    Configuration, DataChannelInit, Description, MediaKind, PeerConnection, SdpType,
    TransceiverInit,
};

#[path = "common/echo.rs"]
mod echo;
#[path = "common/http.rs"]
mod http;

fn usage() -> ! {
    eprintln!(
        "usage: echo_offerer --url http://HOST:PORT/PATH [--audio] [--video] [--codec C] \
         [--ice-tcp-only] [--turn URL --turn-user U --turn-pass P]"
    );
    std::process::exit(2);
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    echo::init_tracing();
    let (mut url, mut audio, mut video, mut codec) = (None, false, false, None);
    let mut relay = echo::Relay::default();
    let mut ice_tcp_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            flag if relay.parse_flag(flag, &mut args).unwrap_or_else(|| usage()) => {}
            "--url" => url = Some(args.next().unwrap_or_else(|| usage())),
            "--audio" => audio = true,
            "--video" => video = true,
            "--codec" => codec = Some(args.next().unwrap_or_else(|| usage())),
            "--ice-tcp-only" => ice_tcp_only = true,
            _ => usage(),
        }
    }
    let url = url.unwrap_or_else(|| usage());
    let loopback = http::split_url(&url)
        .and_then(|(authority, _)| {
            let host = authority
                .rsplit_once(':')
                .map_or(authority.as_str(), |(h, _)| h);
            host.trim_matches(['[', ']']).parse::<IpAddr>().ok()
        })
        .is_some_and(|ip| ip.is_loopback());
    let mut config = Configuration::new();
    config.codec_preferences = codec.into_iter().collect();
    if ice_tcp_only {
        config.ice_tcp = ferrtc::IceTcpPolicy::Only;
    }
    if loopback {
        config = config.with_host_addresses(HostAddresses::loopback());
    }
    let pc = Arc::new(PeerConnection::new(relay.apply(config)).await?);
    let channel = pc
        .create_data_channel("echo", DataChannelInit::default())
        .await?;
    if audio {
        pc.add_transceiver(MediaKind::Audio, TransceiverInit::default())
            .await?;
    }
    if video {
        pc.add_transceiver(MediaKind::Video, TransceiverInit::default())
            .await?;
    }
    negotiate(&pc, &url).await?;
    // The harness ends us with SIGTERM: close properly (the peer sees the goodbyes).
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    let (requests, mut requested) = tokio::sync::mpsc::unbounded_channel();
    let renegotiating = pc.clone();
    tokio::spawn(async move {
        while let Some(request) = requested.recv().await {
            let done = match request {
                echo::Renegotiate::IceRestart => renegotiating.restart_ice().await.map(|_| ()),
                echo::Renegotiate::AddVideo => renegotiating
                    .add_transceiver(MediaKind::Video, TransceiverInit::default())
                    .await
                    .map(|_| ()),
            };
            let done = match done {
                Ok(()) => negotiate(&renegotiating, &url).await,
                Err(e) => Err(e.into()),
            };
            match done {
                Ok(()) => tracing::info!(?request, "renegotiated"),
                Err(e) => tracing::error!(?request, error = %e, "renegotiation failed"),
            }
        }
    });
    echo::serve(pc, vec![channel], shutdown, requests).await;
    Ok(())
}

/// One offer/answer round: our offer with every candidate POSTed to `url`, its answer
/// applied.
async fn negotiate(
    pc: &PeerConnection,
    url: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    pc.set_local_description(None).await?;
    pc.gathering_complete().await?;
    let offer = pc.local_description().ok_or("no offer")?;
    let body = serde_json::json!({ "sdp": offer.sdp, "type": "offer" }).to_string();
    let reply: serde_json::Value = serde_json::from_str(&http::post_json(url, &body).await?)?;
    let sdp = reply["sdp"]
        .as_str()
        .ok_or("answer without sdp")?
        .to_owned();
    pc.set_remote_description(Description {
        sdp_type: SdpType::Answer,
        sdp,
    })
    .await?;
    Ok(())
}
