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
//! that TURN server. Runs until the connection closes or the process is killed.

use std::net::IpAddr;

use ferrtc::net::HostAddresses;
use ferrtc::{
    Configuration, DataChannelInit, Description, MediaKind, PeerConnection, SdpType,
    TransceiverInit,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "common/echo.rs"]
mod echo;

fn usage() -> ! {
    eprintln!(
        "usage: echo_offerer --url http://HOST:PORT/PATH [--audio] [--video] [--codec C] \
         [--turn URL --turn-user U --turn-pass P]"
    );
    std::process::exit(2);
}

/// `http://host:port/path?query` cut into its parts (the harness gives nothing fancier).
fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Some((authority.to_owned(), path.to_owned()))
}

/// POSTs JSON over HTTP/1.1 and returns the response body.
async fn post_json(url: &str, body: &str) -> Result<String, Box<dyn std::error::Error>> {
    let (authority, path) = split_url(url).ok_or("only http:// URLs")?;
    let mut stream = tokio::net::TcpStream::connect(authority.as_str()).await?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8(response)?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("bad HTTP response")?;
    let status = head.split(' ').nth(1).ok_or("bad HTTP status line")?;
    if status != "200" {
        return Err(format!("HTTP {status}: {body}").into());
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Ok(dechunk(body).ok_or("bad chunked body")?);
    }
    Ok(body.to_owned())
}

/// The body of a chunked response.
fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size + 2..)?;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    echo::init_tracing();
    let (mut url, mut audio, mut video, mut codec) = (None, false, false, None);
    let mut relay = echo::Relay::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            flag if relay.parse_flag(flag, &mut args).unwrap_or_else(|| usage()) => {}
            "--url" => url = Some(args.next().unwrap_or_else(|| usage())),
            "--audio" => audio = true,
            "--video" => video = true,
            "--codec" => codec = Some(args.next().unwrap_or_else(|| usage())),
            _ => usage(),
        }
    }
    let url = url.unwrap_or_else(|| usage());
    let loopback = split_url(&url)
        .and_then(|(authority, _)| {
            let host = authority
                .rsplit_once(':')
                .map_or(authority.as_str(), |(h, _)| h);
            host.trim_matches(['[', ']']).parse::<IpAddr>().ok()
        })
        .is_some_and(|ip| ip.is_loopback());
    let mut config = Configuration::new();
    config.codec_preferences = codec.into_iter().collect();
    if loopback {
        config = config.with_host_addresses(HostAddresses::loopback());
    }
    let pc = PeerConnection::new(relay.apply(config)).await?;
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
    pc.set_local_description(None).await?;
    pc.gathering_complete().await?;
    let offer = pc.local_description().ok_or("no offer")?;
    let body = serde_json::json!({ "sdp": offer.sdp, "type": "offer" }).to_string();
    let reply: serde_json::Value = serde_json::from_str(&post_json(&url, &body).await?)?;
    let sdp = reply["sdp"]
        .as_str()
        .ok_or("answer without sdp")?
        .to_owned();
    pc.set_remote_description(Description {
        sdp_type: SdpType::Answer,
        sdp,
    })
    .await?;
    // The harness ends us with SIGTERM: close properly (the peer sees the goodbyes).
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    echo::serve(pc, vec![channel], shutdown).await;
    Ok(())
}
