//! The echo both interop examples share: data-channel messages back on their channel
//! (`ping N` answered with `pong N`), RTP back on the transceiver it came on.
//!
//! A text message `renegotiate ACTION` is echoed unchanged and handed to the example as a
//! request (the interop harness's `ice-restart` and `renegotiation` cases): the offerer
//! then restarts ICE or adds a video transceiver and offers again; the server ignores it
//! (its peer offers the renegotiation itself).
//!
//! A text message `interleaving?` is answered with `interleaving negotiated=B peer=B`
//! (`true` or `false`; `unknown` before the SCTP association is up): whether user message
//! interleaving (RFC 8260 I-DATA) is in use, and whether the peer announced it, from
//! `stats()` (the interop harness's `dc-interleave` case).

use std::sync::{Arc, Weak};

use tokio::sync::mpsc;

use ferrtc::{
    Configuration, ConnectionState, DataChannel, Event, IceServer, IceTransportPolicy, Message,
    PeerConnection, StatsType, StatsValue,
};

/// `--turn URL --turn-user U --turn-pass P`: ICE through that TURN server with relayed
/// candidates only (the `relay` policy).
#[derive(Debug, Clone, Default)]
pub struct Relay {
    url: Option<String>,
    user: Option<String>,
    pass: Option<String>,
}

impl Relay {
    /// Takes `flag`'s value from `args` if it is one of the three flags; `false` otherwise.
    /// `None` inside: the flag had no value.
    pub fn parse_flag(
        &mut self,
        flag: &str,
        args: &mut impl Iterator<Item = String>,
    ) -> Option<bool> {
        let slot = match flag {
            "--turn" => &mut self.url,
            "--turn-user" => &mut self.user,
            "--turn-pass" => &mut self.pass,
            _ => return Some(false),
        };
        *slot = Some(args.next()?);
        Some(true)
    }

    /// `config` with the TURN server and the relay policy, when `--turn` was given.
    pub fn apply(&self, mut config: Configuration) -> Configuration {
        if let Some(url) = &self.url {
            config.ice_servers.push(IceServer {
                urls: vec![url.clone()],
                username: self.user.clone(),
                credential: self.pass.clone(),
            });
            config.ice_transport_policy = IceTransportPolicy::Relay;
        }
        config
    }
}

/// What a peer asked for with `renegotiate ACTION` on a data channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renegotiate {
    /// `renegotiate ice-restart`: restart ICE and offer again.
    IceRestart,
    /// `renegotiate add-video`: add a sendrecv video transceiver and offer again.
    AddVideo,
}

impl Renegotiate {
    fn parse(action: &str) -> Option<Self> {
        match action {
            "ice-restart" => Some(Self::IceRestart),
            "add-video" => Some(Self::AddVideo),
            _ => None,
        }
    }
}

/// Runs one connection until it fails or closes, or `shutdown` completes, echoing
/// everything; then closes it (goodbyes sent). `renegotiate` gets every `renegotiate
/// ACTION` request the peer sends on a data channel.
pub async fn serve(
    pc: Arc<PeerConnection>,
    own_channels: Vec<DataChannel>,
    shutdown: impl std::future::Future<Output = ()>,
    renegotiate: mpsc::UnboundedSender<Renegotiate>,
) {
    for channel in own_channels {
        tokio::spawn(echo(channel, renegotiate.clone(), Arc::downgrade(&pc)));
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
                tokio::spawn(echo(channel, renegotiate.clone(), Arc::downgrade(&pc)));
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

/// Echoes a channel's messages; `ping N` gets `pong N`; `renegotiate ACTION` is echoed and
/// passed on to `renegotiate`; `interleaving?` is answered from `pc`'s stats.
pub async fn echo(
    channel: DataChannel,
    renegotiate: mpsc::UnboundedSender<Renegotiate>,
    pc: Weak<PeerConnection>,
) {
    tracing::info!(label = channel.label(), id = ?channel.id(), "data channel");
    while let Some(message) = channel.recv().await {
        if let Some(action) = message
            .as_text()
            .and_then(|t| t.strip_prefix("renegotiate "))
        {
            match Renegotiate::parse(action) {
                Some(request) => {
                    tracing::info!(?request, "the peer asks for a renegotiation");
                    let _ = renegotiate.send(request);
                }
                None => tracing::warn!(action, "unknown renegotiation request"),
            }
        }
        let text = message.as_text();
        let reply = if text == Some("interleaving?") {
            Message::text(interleaving(&pc).await)
        } else if let Some(n) = text.and_then(|t| t.strip_prefix("ping ")) {
            Message::text(format!("pong {n}"))
        } else {
            message
        };
        if let Err(e) = channel.send(reply).await {
            tracing::info!(label = channel.label(), error = %e, "echo ends");
            break;
        }
    }
}

/// `interleaving negotiated=B peer=B`, from the `transport` entry of `pc`'s stats.
async fn interleaving(pc: &Weak<PeerConnection>) -> String {
    let report = match pc.upgrade() {
        Some(pc) => pc.stats().await.ok(),
        None => None,
    };
    let flag = |name| {
        let value = report
            .as_ref()
            .and_then(|r| r.of(StatsType::Transport).next())
            .and_then(|t| t.get(name));
        match value {
            Some(StatsValue::Bool(v)) => v.to_string(),
            _ => "unknown".to_owned(),
        }
    };
    format!(
        "interleaving negotiated={} peer={}",
        flag("sctpInterleaving"),
        flag("sctpPeerInterleaving")
    )
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
