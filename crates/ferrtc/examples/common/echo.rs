//! The echo both interop examples share: data-channel messages back on their channel
//! (`ping N` answered with `pong N`), RTP back on the transceiver it came on.

use ferrtc::{ConnectionState, DataChannel, Event, Message, PeerConnection};

/// Runs one connection until it fails or closes, or `shutdown` completes, echoing
/// everything; then closes it (goodbyes sent).
pub async fn serve(
    pc: PeerConnection,
    own_channels: Vec<DataChannel>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    for channel in own_channels {
        tokio::spawn(echo(channel));
    }
    tokio::pin!(shutdown);
    loop {
        let event = tokio::select! {
            event = pc.next_event() => event,
            () = &mut shutdown => {
                tracing::info!("shutting down");
                break;
            }
        };
        let Some(event) = event else {
            break;
        };
        match event {
            Event::DataChannel(channel) => {
                tokio::spawn(echo(channel));
            }
            Event::Rtp {
                transceiver,
                packet,
                ..
            } => {
                // Media back as it came, on the same m-line.
                let _ = pc.write_rtp(transceiver, packet);
            }
            Event::KeyframeRequest { transceiver } => {
                // The peer wants a key frame of what we send, which is its own media: ask it.
                let _ = pc.request_keyframe(transceiver);
            }
            Event::ConnectionStateChange(state, cause) => {
                tracing::info!(?state, ?cause, "connection state");
                if matches!(state, ConnectionState::Failed | ConnectionState::Closed) {
                    break;
                }
            }
            _ => {}
        }
    }
    // Ends the connection's task, which ends the echo loops of its channels too.
    pc.close().await;
}

/// Echoes a channel's messages; `ping N` gets `pong N`.
pub async fn echo(channel: DataChannel) {
    tracing::info!(label = channel.label(), id = ?channel.id(), "data channel");
    while let Some(message) = channel.recv().await {
        let reply = match message.as_text().and_then(|t| t.strip_prefix("ping ")) {
            Some(n) => Message::text(format!("pong {n}")),
            None => message,
        };
        if channel.send(reply).await.is_err() {
            break;
        }
    }
}

/// Logs to stderr, `RUST_LOG` or `info`.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
}
