//! The peer connection handle (W3C `RTCPeerConnection`) and the half of the driver that
//! applies its commands and routes its events.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use ferrtc_peerconnection as core;
use ferrtc_stun_ice::ice;
use ferrtc_types::{Mid, Transmit};
use rand::SeedableRng;
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::channel::{ChannelProps, DataChannel, DataChannelInit, Message, ReadyState, Shared};
use crate::config::{BundlePolicy, Configuration, IceTcpPolicy, IceTransportPolicy};
use crate::driver::{self, Core, Flow, Handler};
use crate::error::{ConfigurationError, Error};
use crate::net::{self, Scheme};
use crate::queue;
use crate::tap::{TapPart, TapRefused, Taps};
use crate::turn::Relayed;
use ferrtc_stun_ice::turn;

pub use core::{
    CodecKind, ConnectionState, Description, DtlsState, EncodedFrame, MediaKind, SdpType,
    SendCodec, SignalingState, TransceiverId, TransceiverInit, TransportError,
};
pub use ferrtc_sdp::{Candidate, Direction};
pub use ice::{ConnectionState as IceConnectionState, GatheringState as IceGatheringState};

/// RTP and RTCP packets that may wait in the event queue; past it, new ones are dropped
/// (media that waits is worthless) and counted.
const MAX_QUEUED_MEDIA: usize = 1024;

/// Numbers the connections of this process, for their tracing spans.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// An event of a peer connection (the W3C events, as one enum).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The signaling state changed.
    SignalingStateChange(SignalingState),
    /// The ICE gathering state changed.
    IceGatheringStateChange(IceGatheringState),
    /// The ICE connection state changed.
    IceConnectionStateChange(IceConnectionState),
    /// The connection state changed; `Failed` comes with its cause.
    ConnectionStateChange(ConnectionState, Option<TransportError>),
    /// The DTLS transport's state changed (W3C `RTCDtlsTransport` `statechange`; the state
    /// is also [`PeerConnection::dtls_state`]). `Closed` comes when the peer closed its
    /// connection (its close_notify: a browser's `pc.close()`, or
    /// [`PeerConnection::close`] here), or from our own close. It is final, like
    /// `Failed`: the data channels close (their [`DataChannel::recv`] returns `None`) and
    /// the remote tracks end ([`Event::TrackEnded`]) with it. By W3C webrtc-pc §4.3.3 a
    /// closed DTLS transport over connected ICE leaves the connection state `Connected`
    /// (until ICE consent expires, some 30 s later): this is the event that tells at once
    /// that the peer has gone.
    DtlsStateChange(DtlsState),
    /// A local candidate to signal to the peer; `None`: gathering is complete.
    IceCandidate(Option<Candidate>),
    /// Something changed that needs an offer/answer exchange.
    NegotiationNeeded,
    /// The peer sends media on a transceiver.
    Track {
        /// The transceiver.
        transceiver: TransceiverId,
        /// Its m-line.
        mid: Mid,
        /// Audio or video.
        kind: MediaKind,
    },
    /// The remote track of a transceiver ended (its `ended`): the DTLS transport closed or
    /// failed, so nothing more comes on it. Once for each transceiver that had an
    /// [`Event::Track`]; a remote media track on it (the `media` feature) ends too.
    TrackEnded {
        /// The transceiver.
        transceiver: TransceiverId,
        /// Its m-line.
        mid: Mid,
    },
    /// The peer opened a data channel.
    DataChannel(DataChannel),
    /// An RTP packet received (unprotected) on a transceiver.
    Rtp {
        /// The transceiver.
        transceiver: TransceiverId,
        /// Its m-line.
        mid: Mid,
        /// The packet.
        packet: Bytes,
    },
    /// A compound RTCP packet received (unprotected).
    Rtcp(Bytes),
    /// A whole encoded frame received on a transceiver in frame mode
    /// ([`PeerConnection::set_receive_frames`]): out of the jitter buffer, in order,
    /// complete and decodable (frames that depend on a lost one are skipped and a key
    /// frame is asked for).
    Frame {
        /// The transceiver.
        transceiver: TransceiverId,
        /// Its m-line.
        mid: Mid,
        /// The frame.
        frame: EncodedFrame,
    },
    /// A TURN server gave no relayed candidate, or lost the one it gave (W3C
    /// `icecandidateerror`): the allocation failed, or the TCP or TLS stream to the server
    /// ended or never began (an untrusted certificate). Gathering goes on without it.
    IceCandidateError(crate::turn::IceCandidateError),
    /// The peer asks for a key frame on a transceiver we send on (PLI or FIR).
    KeyframeRequest {
        /// The transceiver.
        transceiver: TransceiverId,
    },
}

/// A transceiver as it stands (W3C `RTCRtpTransceiver`'s attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransceiverInfo {
    /// Its id.
    pub id: TransceiverId,
    /// Audio or video.
    pub kind: MediaKind,
    /// Its m-line's mid, once negotiated.
    pub mid: Option<Mid>,
    /// The direction we want.
    pub direction: Direction,
    /// The direction last negotiated.
    pub current_direction: Option<Direction>,
}

/// What the handles see of the connection without asking the driver.
#[derive(Debug, Clone)]
struct States {
    signaling: SignalingState,
    gathering: IceGatheringState,
    ice: IceConnectionState,
    connection: ConnectionState,
    dtls: DtlsState,
    local: Option<Description>,
    remote: Option<Description>,
}

type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// A command from a handle to the driver.
#[derive(Debug)]
pub(crate) enum Command {
    CreateOffer(Reply<Description>),
    CreateAnswer(Reply<Description>),
    SetLocal(Option<Description>, Reply<()>),
    SetRemote(Description, Reply<()>),
    // The rare commands with large arguments hold them boxed: a tokio channel allocates
    // its slots 32 at a time, each as large as the largest command, up front.
    AddIceCandidate(Option<Box<Candidate>>, Reply<()>),
    RestartIce(Reply<()>),
    AddTransceiver(Box<(MediaKind, TransceiverInit)>, Reply<TransceiverId>),
    SetDirection(TransceiverId, Direction, Reply<()>),
    Transceivers(Reply<Vec<TransceiverInfo>>),
    CreateDataChannel(Box<(String, DataChannelInit)>, Reply<DataChannel>),
    Send {
        id: core::DataChannelId,
        message: Message,
        reply: Reply<()>,
    },
    CloseChannel {
        id: core::DataChannelId,
    },
    SetLowThreshold {
        id: core::DataChannelId,
        threshold: usize,
    },
    WriteRtp(TransceiverId, Bytes),
    SetReceiveFrames(TransceiverId, bool),
    WriteFrame {
        transceiver: TransceiverId,
        data: Bytes,
        rtp_timestamp: u32,
    },
    RequestKeyframe(TransceiverId),
    SendCodecs(TransceiverId, Reply<(Option<SendCodec>, Vec<SendCodec>)>),
    SetSendCodec(TransceiverId, Option<CodecKind>, Reply<()>),
    /// A media track takes one side of a transceiver over (`crate::tap`).
    #[cfg_attr(not(feature = "media"), allow(dead_code))]
    Tap(
        TransceiverId,
        TapPart,
        oneshot::Sender<Result<(), TapRefused>>,
    ),
    GetStats(Reply<core::StatsReport>),
    Close(Reply<()>),
}

/// A WebRTC peer connection (W3C `RTCPeerConnection`), driven by its own tokio task.
///
/// Methods send commands to the task and wait for its answer; states are read from what the
/// task last published. Events come from [`PeerConnection::next_event`] or the
/// [`Stream`](futures_core::Stream) implementation. Dropping the handle (with every
/// [`DataChannel`] of the connection) closes the connection, frees its sockets and ends its
/// task.
#[derive(Debug)]
pub struct PeerConnection {
    commands: mpsc::UnboundedSender<Command>,
    events: tokio::sync::Mutex<queue::Receiver<Event>>,
    states: watch::Receiver<States>,
    queued_media: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
    local_addresses: Vec<SocketAddr>,
}

impl PeerConnection {
    /// Creates a connection: binds its sockets, lists its host candidates, and starts its
    /// task. Nothing is sent before a description is applied.
    ///
    /// # Errors
    /// [`Error::Configuration`] for what ferrtc does not do, [`Error::IceServerUrl`] for a
    /// bad URL, [`Error::Io`] when no socket could be bound, [`Error::Certificate`],
    /// [`Error::Config`] from the core.
    pub async fn new(config: Configuration) -> Result<PeerConnection, Error> {
        if config.bundle_policy != BundlePolicy::MaxBundle {
            return Err(Error::Configuration(ConfigurationError::BundlePolicy));
        }
        let relay_only = config.ice_transport_policy == IceTransportPolicy::Relay;
        let certificate = match config.certificates.first() {
            Some(c) => Arc::clone(c),
            None => Arc::new(ferrtc_dtls::Certificate::generate().map_err(Error::Certificate)?),
        };
        let (sockets, hosts) = match &config.endpoint {
            Some(shared) => (
                Vec::new(),
                shared
                    .host_candidates(&config.host_addresses)
                    .map_err(Error::Io)?,
            ),
            None => {
                let addresses = config.host_addresses.resolve().map_err(Error::Io)?;
                let sockets = net::bind_sockets(&addresses).map_err(Error::Io)?;
                let hosts = net::host_candidates(&addresses, &sockets);
                (sockets, hosts)
            }
        };
        let tcp_policy = if relay_only {
            IceTcpPolicy::Off
        } else {
            config.ice_tcp
        };
        let tcp = match tcp_policy {
            IceTcpPolicy::Off => crate::ice_tcp::IceTcp::default(),
            IceTcpPolicy::Also | IceTcpPolicy::Only => {
                let mut ips: Vec<std::net::IpAddr> = hosts.iter().map(SocketAddr::ip).collect();
                ips.sort();
                ips.dedup();
                crate::ice_tcp::IceTcp::bind(&ips).await
            }
        };
        let has_family = |a: &SocketAddr| {
            sockets
                .iter()
                .any(|s| s.local_addr().is_ipv4() == a.is_ipv4())
        };
        let mut stun_servers = Vec::new();
        let mut turn_servers: Vec<(String, turn::ClientConfig)> = Vec::new();
        let mut stream_targets: Vec<crate::stream::Target> = Vec::new();
        let mut tls_config: Option<Arc<rustls::ClientConfig>> = None;
        for server in &config.ice_servers {
            let parsed = server.parsed_urls().map_err(Error::IceServerUrl)?;
            for (url, url_text) in parsed.into_iter().zip(&server.urls) {
                match (url.scheme, url.transport) {
                    (Scheme::Stun, _) if !relay_only => match url.resolve().await {
                        Ok(addrs) => stun_servers.extend(
                            addrs
                                .into_iter()
                                .filter(|a| hosts.iter().any(|h| h.is_ipv4() == a.is_ipv4())),
                        ),
                        Err(e) => tracing::warn!(error = %e, ?url, "STUN server not resolved"),
                    },
                    (Scheme::Stun, _) => {}
                    (Scheme::Turn, _) if config.endpoint.is_some() => {
                        return Err(Error::Configuration(
                            ConfigurationError::TurnOnSharedEndpoint,
                        ));
                    }
                    (Scheme::Turn | Scheme::Turns, _) if config.endpoint.is_some() => {
                        return Err(Error::Configuration(
                            ConfigurationError::TurnOnSharedEndpoint,
                        ));
                    }
                    (Scheme::Turn | Scheme::Turns, transport) => {
                        let (Some(username), Some(password)) =
                            (&server.username, &server.credential)
                        else {
                            return Err(Error::Configuration(ConfigurationError::TurnCredentials));
                        };
                        let tls = if transport == ferrtc_types::Transport::Tls {
                            let config = match &tls_config {
                                Some(c) => Arc::clone(c),
                                None => {
                                    let c = tls_client_config(&config.tls_roots)?;
                                    tls_config = Some(Arc::clone(&c));
                                    c
                                }
                            };
                            Some(crate::stream::Tls {
                                config,
                                name: server_name(&url.host)?,
                            })
                        } else {
                            None
                        };
                        let addrs = match url.resolve().await {
                            Ok(addrs) => addrs,
                            Err(e) => {
                                tracing::warn!(error = %e, ?url, "TURN server not resolved");
                                continue;
                            }
                        };
                        // Over UDP the server must be of a family we have a socket of; a
                        // stream is a connection of its own, to whichever address comes
                        // first.
                        let Some(addr) = addrs
                            .into_iter()
                            .find(|a| transport.is_stream() || has_family(a))
                        else {
                            tracing::warn!(?url, "no socket of the TURN server's family");
                            continue;
                        };
                        if turn_servers
                            .iter()
                            .any(|(_, t)| t.server == addr && t.transport == transport)
                        {
                            continue;
                        }
                        turn_servers.push((
                            url_text.clone(),
                            turn::ClientConfig::new(
                                addr,
                                transport,
                                username.clone(),
                                password.clone(),
                            ),
                        ));
                        if transport.is_stream() {
                            stream_targets.push(crate::stream::Target { server: addr, tls });
                        }
                    }
                    (Scheme::Stuns, _) => {
                        tracing::warn!(?url, "STUN over TLS is not driven: ignored");
                    }
                }
            }
        }
        if relay_only && turn_servers.is_empty() {
            return Err(Error::Configuration(ConfigurationError::RelayPolicy));
        }
        let mut pc_config = core::PeerConfig::new(certificate);
        pc_config.ice.stun_servers = stun_servers;
        pc_config.ice_lite = config.ice_lite;
        pc_config.bwe = config.bandwidth;
        pc_config.pacing = config.pacing;
        pc_config.max_message_size = config.data_channels.max_message_size;
        pc_config.transport.sctp.interleaving = config.data_channels.interleaving;
        // Sender reports carry NTP time: the core reads no clock, so it is told the wall
        // clock at its `now`.
        pc_config.wall_clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok();
        for codecs in [&mut pc_config.audio_codecs, &mut pc_config.video_codecs] {
            // A stable sort: preferred names first in the given order, the rest as they were.
            codecs.sort_by_key(|c| {
                config
                    .codec_preferences
                    .iter()
                    .position(|p| p.eq_ignore_ascii_case(&c.name))
                    .unwrap_or(usize::MAX)
            });
        }
        let now = driver::now();
        let rng = Box::new(rand::rngs::StdRng::from_os_rng());
        let mut turn_rng = rand::rngs::StdRng::from_os_rng();
        let mut pc = core::PeerConnection::new(pc_config, now, rng).map_err(Error::Config)?;
        if !relay_only && tcp_policy != IceTcpPolicy::Only {
            for h in &hosts {
                if let Err(e) = pc.add_local_address(now, *h) {
                    tracing::debug!(address = %h, error = %Chain(&e), "host address refused");
                }
            }
        }
        for (addr, tcp_type) in tcp.candidates() {
            if let Err(e) = pc.add_local_tcp_address(now, addr, tcp_type) {
                tracing::debug!(address = %addr, error = %Chain(&e), "TCP host address refused");
            }
        }
        // Gathering completes once every TURN allocation has succeeded or failed.
        let relayed = Relayed::new(pc, turn_servers, now, &mut turn_rng);
        let pc = &relayed.pc;

        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = queue::queue();
        let initial = States {
            signaling: pc.signaling_state(),
            gathering: pc.ice_gathering_state(),
            ice: pc.ice_connection_state(),
            connection: pc.connection_state(),
            dtls: pc.dtls_state(),
            local: None,
            remote: None,
        };
        let (state_tx, states) = watch::channel(initial);
        let queued_media = Arc::new(AtomicUsize::new(0));
        let handler = Connection {
            commands: commands.downgrade(),
            events: event_tx,
            states: state_tx,
            channels: HashMap::new(),
            queued_media: Arc::clone(&queued_media),
            media_dropped: 0,
            taps: Taps::default(),
            parked: VecDeque::new(),
        };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!("peer_connection", id);
        let io = match &config.endpoint {
            Some(shared) => driver::Io::Shared(shared.attach(&relayed)),
            None => driver::Io::Own(sockets),
        };
        let streams = crate::stream::Streams::open(stream_targets);
        let task = tokio::spawn(driver::run(
            relayed, handler, io, streams, tcp, command_rx, span,
        ));
        Ok(PeerConnection {
            commands,
            events: tokio::sync::Mutex::new(events),
            states,
            queued_media,
            task,
            local_addresses: hosts,
        })
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Creates an offer (W3C `createOffer`).
    ///
    /// # Errors
    /// [`Error::Usage`] in a state that cannot offer, [`Error::Closed`].
    pub async fn create_offer(&self) -> Result<Description, Error> {
        self.ask(Command::CreateOffer).await
    }

    /// Creates an answer to the applied remote offer (W3C `createAnswer`).
    ///
    /// # Errors
    /// [`Error::Usage`] without a remote offer, [`Error::Closed`].
    pub async fn create_answer(&self) -> Result<Description, Error> {
        self.ask(Command::CreateAnswer).await
    }

    /// Applies our description (W3C `setLocalDescription`). With `None` it creates the offer
    /// or answer the signaling state calls for and applies that. ICE gathering starts here.
    ///
    /// # Errors
    /// [`Error::Usage`] or [`Error::Peer`] when it cannot be applied, [`Error::Closed`].
    pub async fn set_local_description(
        &self,
        description: impl Into<Option<Description>>,
    ) -> Result<(), Error> {
        let d = description.into();
        self.ask(|r| Command::SetLocal(d, r)).await
    }

    /// Applies the peer's description (W3C `setRemoteDescription`), with any candidates it
    /// carries.
    ///
    /// # Errors
    /// [`Error::Peer`] for a description the core refuses, [`Error::Closed`].
    pub async fn set_remote_description(&self, description: Description) -> Result<(), Error> {
        self.ask(|r| Command::SetRemote(description, r)).await
    }

    /// Adds a remote candidate (W3C `addIceCandidate`); `None`: end of candidates.
    ///
    /// # Errors
    /// [`Error::Peer`] for a candidate that cannot be used, [`Error::Closed`].
    pub async fn add_ice_candidate(&self, candidate: Option<Candidate>) -> Result<(), Error> {
        self.ask(|r| Command::AddIceCandidate(candidate.map(Box::new), r))
            .await
    }

    /// Asks for an ICE restart at the next offer (W3C `restartIce`).
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub async fn restart_ice(&self) -> Result<(), Error> {
        self.ask(Command::RestartIce).await
    }

    /// Adds a transceiver (W3C `addTransceiver`).
    ///
    /// # Errors
    /// [`Error::Peer`] if the core refuses, [`Error::Closed`].
    pub async fn add_transceiver(
        &self,
        kind: MediaKind,
        init: TransceiverInit,
    ) -> Result<TransceiverId, Error> {
        self.ask(|r| Command::AddTransceiver(Box::new((kind, init)), r))
            .await
    }

    /// Sets the direction a transceiver asks for in the next offer or answer (W3C
    /// `RTCRtpTransceiver.direction`). A transceiver the peer's offer created starts
    /// `recvonly`; set `sendrecv` before answering to send on it.
    ///
    /// # Errors
    /// [`Error::Peer`] for an unknown or stopped transceiver, [`Error::Closed`].
    pub async fn set_direction(
        &self,
        transceiver: TransceiverId,
        direction: Direction,
    ) -> Result<(), Error> {
        self.ask(|r| Command::SetDirection(transceiver, direction, r))
            .await
    }

    /// The transceivers (W3C `getTransceivers`).
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub async fn transceivers(&self) -> Result<Vec<TransceiverInfo>, Error> {
        self.ask(Command::Transceivers).await
    }

    /// Creates a data channel (W3C `createDataChannel`); it opens once the connection is up.
    ///
    /// # Errors
    /// [`Error::Peer`] for options the core refuses (an id in use), [`Error::Closed`].
    pub async fn create_data_channel(
        &self,
        label: &str,
        init: DataChannelInit,
    ) -> Result<DataChannel, Error> {
        let label = label.to_owned();
        self.ask(|r| Command::CreateDataChannel(Box::new((label, init)), r))
            .await
    }

    /// Sends an RTP packet on a transceiver: its SSRC is rewritten to the transceiver's, it
    /// is protected and sent. Returns at once; a packet the core refuses (before the
    /// connection is up) is dropped.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn write_rtp(&self, transceiver: TransceiverId, packet: Bytes) -> Result<(), Error> {
        self.commands
            .send(Command::WriteRtp(transceiver, packet))
            .map_err(|_| Error::Closed)
    }

    /// Receives whole encoded frames ([`Event::Frame`]) on a transceiver instead of RTP
    /// packets ([`Event::Rtp`]), or goes back to packets. Set it before media arrives
    /// (after the description that created the transceiver): packets received before
    /// come out as [`Event::Rtp`]. Frames wait in the same bounded queue as packets:
    /// when events are not read, new ones are dropped, and the next frames wait for a key
    /// frame, which is asked for.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn set_receive_frames(
        &self,
        transceiver: TransceiverId,
        frames: bool,
    ) -> Result<(), Error> {
        self.commands
            .send(Command::SetReceiveFrames(transceiver, frames))
            .map_err(|_| Error::Closed)
    }

    /// The codec [`PeerConnection::write_frame`] sends with on `transceiver` (`None` while it
    /// sends nothing), and every negotiated codec it could send with, the peer's preference
    /// first.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub async fn send_codecs(
        &self,
        transceiver: TransceiverId,
    ) -> Result<(Option<SendCodec>, Vec<SendCodec>), Error> {
        self.ask(|r| Command::SendCodecs(transceiver, r)).await
    }

    /// Chooses the codec frames are sent with on `transceiver`, among the negotiated ones
    /// (W3C `RTCRtpEncodingParameters.codec`); `None` returns to the peer's preference. The
    /// choice holds across negotiations while negotiated. Raw-frame media tracks (the
    /// `media` feature's `add_media_track`) choose by themselves when they cannot encode
    /// the peer's first choice.
    ///
    /// # Errors
    /// [`Error::Peer`] with [`ferrtc_peerconnection::PeerError::CodecNotNegotiated`] when the
    /// negotiation does not hold `codec` for sending; [`Error::Closed`].
    pub async fn set_send_codec(
        &self,
        transceiver: TransceiverId,
        codec: Option<CodecKind>,
    ) -> Result<(), Error> {
        self.ask(|r| Command::SetSendCodec(transceiver, codec, r))
            .await
    }

    /// Sends an encoded frame on a transceiver (for H.264, Annex B): packetized for its send
    /// codec ([`PeerConnection::send_codecs`]: the caller's choice, else the first
    /// negotiated codec ferrtc has a payload format for), with the transceiver's SSRC
    /// and sequence numbers. Use this or [`PeerConnection::write_rtp`] on a transceiver,
    /// not both. Returns at once; a frame the core refuses (before the connection is up,
    /// on a transceiver that does not send, or one the payload format refuses) is dropped
    /// and logged at `trace`.
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn write_frame(
        &self,
        transceiver: TransceiverId,
        data: Bytes,
        rtp_timestamp: u32,
    ) -> Result<(), Error> {
        self.commands
            .send(Command::WriteFrame {
                transceiver,
                data,
                rtp_timestamp,
            })
            .map_err(|_| Error::Closed)
    }

    /// W3C `getStats()`: the connection's `RTCStatsReport` now, with the W3C type and member
    /// names (inbound-rtp, outbound-rtp, remote-inbound-rtp, remote-outbound-rtp,
    /// candidate-pair, transport, data-channel, ...).
    ///
    /// # Errors
    /// [`Error::Closed`].
    #[doc(alias = "getStats")]
    #[doc(alias = "get_stats")]
    pub async fn stats(&self) -> Result<core::StatsReport, Error> {
        self.ask(Command::GetStats).await
    }

    /// Asks the peer for a key frame on a transceiver we receive on (PLI).
    ///
    /// # Errors
    /// [`Error::Closed`].
    pub fn request_keyframe(&self, transceiver: TransceiverId) -> Result<(), Error> {
        self.commands
            .send(Command::RequestKeyframe(transceiver))
            .map_err(|_| Error::Closed)
    }

    /// Closes the connection (W3C `close()`): goodbyes are sent, the task ends and the
    /// sockets are freed. Data channels report closed.
    pub async fn close(&self) {
        let _ = self.ask(Command::Close).await;
    }

    /// Our applied description, with the candidates gathered so far.
    #[must_use]
    pub fn local_description(&self) -> Option<Description> {
        self.states.borrow().local.clone()
    }

    /// The peer's applied description.
    #[must_use]
    pub fn remote_description(&self) -> Option<Description> {
        self.states.borrow().remote.clone()
    }

    /// The signaling state.
    #[must_use]
    pub fn signaling_state(&self) -> SignalingState {
        self.states.borrow().signaling
    }

    /// The ICE gathering state.
    #[must_use]
    pub fn ice_gathering_state(&self) -> IceGatheringState {
        self.states.borrow().gathering
    }

    /// The ICE connection state.
    #[must_use]
    pub fn ice_connection_state(&self) -> IceConnectionState {
        self.states.borrow().ice
    }

    /// The connection state.
    #[must_use]
    pub fn connection_state(&self) -> ConnectionState {
        self.states.borrow().connection
    }

    /// The state of the DTLS transport (there is one: everything is bundled), as W3C
    /// `RTCDtlsTransport.state` (`pc.sctp.transport.state` in a browser). See
    /// [`Event::DtlsStateChange`].
    #[must_use]
    pub fn dtls_state(&self) -> DtlsState {
        self.states.borrow().dtls
    }

    /// The local addresses of our host candidates.
    #[must_use]
    pub fn local_addresses(&self) -> &[SocketAddr] {
        &self.local_addresses
    }

    /// Waits until ICE gathering is complete, so that [`PeerConnection::local_description`]
    /// carries every candidate (for signalling without trickle).
    ///
    /// # Errors
    /// [`Error::Closed`] if the connection ends first.
    pub async fn gathering_complete(&self) -> Result<(), Error> {
        let mut rx = self.states.clone();
        rx.wait_for(|s| s.gathering == IceGatheringState::Complete)
            .await
            .map(|_| ())
            .map_err(|_| Error::Closed)
    }

    /// Waits until the connection state is `Connected`.
    ///
    /// # Errors
    /// [`Error::Closed`] if it fails or closes first.
    pub async fn connected(&self) -> Result<(), Error> {
        wait_connected(self.states.clone()).await
    }

    /// What a media track keeps of this connection.
    #[cfg_attr(not(feature = "media"), allow(dead_code))]
    pub(crate) fn link(&self) -> Link {
        Link {
            commands: self.commands.downgrade(),
            states: self.states.clone(),
        }
    }

    /// The next event; `None` once the connection's task has ended.
    pub async fn next_event(&self) -> Option<Event> {
        let ev = self.events.lock().await.recv().await;
        self.account(ev.as_ref());
        ev
    }

    fn account(&self, ev: Option<&Event>) {
        if matches!(
            ev,
            Some(Event::Rtp { .. } | Event::Rtcp(_) | Event::Frame { .. })
        ) {
            self.queued_media.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Whether the connection's task has ended (after `close`, a fatal socket error, or
    /// when its handles are gone).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// Waits until the connection state is `Connected`; [`Error::Closed`] if it fails or
/// closes first.
async fn wait_connected(mut rx: watch::Receiver<States>) -> Result<(), Error> {
    let s = rx
        .wait_for(|s| ended(s) || s.connection == ConnectionState::Connected)
        .await
        .map_err(|_| Error::Closed)?;
    if s.connection == ConnectionState::Connected && !ended(&s) {
        Ok(())
    } else {
        Err(Error::Closed)
    }
}

/// True once nothing more can be sent or received: the connection failed or closed, or
/// its DTLS transport did (the peer's close_notify leaves the connection `Connected`).
fn ended(s: &States) -> bool {
    matches!(
        s.connection,
        ConnectionState::Failed | ConnectionState::Closed
    ) || s.dtls.is_final()
}

/// What a media track (the `media` feature) keeps of its connection: the command queue,
/// without holding the connection open, and the published states.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "media"), allow(dead_code))]
pub(crate) struct Link {
    commands: mpsc::WeakUnboundedSender<Command>,
    states: watch::Receiver<States>,
}

#[cfg_attr(not(feature = "media"), allow(dead_code))]
impl Link {
    /// Sends a command to the driver.
    pub(crate) fn send(&self, cmd: Command) -> Result<(), Error> {
        self.commands
            .upgrade()
            .ok_or(Error::Closed)?
            .send(cmd)
            .map_err(|_| Error::Closed)
    }

    /// Waits until the connection state is `Connected`; [`Error::Closed`] if it fails or
    /// closes first.
    pub(crate) async fn connected(&self) -> Result<(), Error> {
        wait_connected(self.states.clone()).await
    }

    /// Resolves once the connection has failed or closed, or its DTLS transport has (the
    /// peer closed), or its task has ended.
    pub(crate) async fn finished(&self) {
        let mut rx = self.states.clone();
        let _ = rx.wait_for(ended).await;
    }
}

impl futures_core::Stream for PeerConnection {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let this = self.get_mut();
        let ev = std::task::ready!(this.events.get_mut().poll_recv(cx));
        this.account(ev.as_ref());
        Poll::Ready(ev)
    }
}

// ----- the driver's half -----

impl Core for core::PeerConnection {
    fn handle_receive(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, d: BytesMut) {
        if let Err(e) = core::PeerConnection::handle_receive(self, now, local, from, d) {
            tracing::trace!(%from, error = %Chain(&e), "datagram dropped");
        }
    }
    fn handle_ice_tcp(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        frame: BytesMut,
    ) -> bool {
        let tcp = ferrtc_types::Transport::Tcp;
        match core::PeerConnection::handle_receive_via(self, now, tcp, local, from, frame) {
            Ok(()) => true,
            Err(e) => {
                tracing::trace!(%from, error = %Chain(&e), "ICE-TCP frame dropped");
                false
            }
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        core::PeerConnection::handle_timeout(self, now);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        core::PeerConnection::poll_transmit(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        core::PeerConnection::poll_timeout(self)
    }
    fn log_stats(&self) {
        let t = self.transport();
        tracing::debug!(
            transport = ?t.stats(),
            ice = ?t.ice_stats(),
            dtls = ?t.dtls_stats(),
            "counters"
        );
    }
}

/// The rustls client configuration for `turns:` servers: TLS 1.2 and 1.3 with ring,
/// trusting `roots` (each DER, or PEM with one or more certificates) and nothing else.
fn tls_client_config(roots: &[Vec<u8>]) -> Result<Arc<rustls::ClientConfig>, Error> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    if roots.is_empty() {
        return Err(Error::Configuration(ConfigurationError::TlsRootsMissing));
    }
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        let ders: Vec<CertificateDer<'static>> = if root.starts_with(b"-----BEGIN") {
            CertificateDer::pem_slice_iter(root)
                .collect::<Result<_, _>>()
                .map_err(|_| Error::Configuration(ConfigurationError::TlsRoots))?
        } else {
            vec![CertificateDer::from(root.clone())]
        };
        if ders.is_empty() {
            return Err(Error::Configuration(ConfigurationError::TlsRoots));
        }
        for der in ders {
            store
                .add(der)
                .map_err(|_| Error::Configuration(ConfigurationError::TlsRoots))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| Error::Configuration(ConfigurationError::TlsRoots))?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name a `turns:` server's certificate must carry: the URL's host, a DNS name or an
/// IP address.
fn server_name(host: &net::Host) -> Result<rustls::pki_types::ServerName<'static>, Error> {
    match host {
        net::Host::Ip(ip) => Ok(rustls::pki_types::ServerName::IpAddress((*ip).into())),
        net::Host::Name(name) => rustls::pki_types::ServerName::try_from(name.clone())
            .map_err(|_| Error::IceServerUrl(net::UrlError::Host)),
    }
}

/// An error with its causes, `a: b: c`, for the logs.
pub(crate) struct Chain<'a>(pub(crate) &'a dyn std::error::Error);

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}

/// The connection's routing state, owned by its task.
struct Connection {
    /// To give new data channel handles (the peer's) their command queue, without keeping
    /// the queue open ourselves.
    commands: mpsc::WeakUnboundedSender<Command>,
    events: queue::Sender<Event>,
    states: watch::Sender<States>,
    channels: HashMap<core::DataChannelId, Arc<Shared>>,
    queued_media: Arc<AtomicUsize>,
    media_dropped: u64,
    /// Transceivers whose frames and key-frame requests go to media tracks.
    taps: Taps,
    /// Sends the association refused because its send buffer, shared by every channel, was
    /// full: each waits here, in order, for room (its caller is still awaiting the reply),
    /// instead of failing. Bounded by the callers awaiting a send at once.
    parked: VecDeque<(core::DataChannelId, Message, Reply<()>)>,
}

/// True when the core refused a message only because the association's send buffer, shared
/// by every channel, is full for now.
fn send_buffer_full(e: &core::PeerError) -> bool {
    matches!(
        e,
        core::PeerError::Transport(core::CommandError::Sctp(
            ferrtc_sctp_datachannel::Error::SendBufferFull
        ))
    )
}

impl Connection {
    /// Hands one message to the core. Returns it if the shared send buffer is full (the
    /// caller parks it); otherwise answers the sender.
    fn try_send(
        &mut self,
        pc: &mut core::PeerConnection,
        now: Instant,
        id: core::DataChannelId,
        message: Message,
        reply: Reply<()>,
    ) -> Option<(core::DataChannelId, Message, Reply<()>)> {
        let res = pc.send_data(now, id, message.data.clone(), message.binary);
        if let Err(e) = &res
            && send_buffer_full(e)
        {
            return Some((id, message, reply));
        }
        self.update_buffered(pc, id);
        let _ = reply.send(res.map_err(Error::from));
        None
    }

    /// Retries the parked sends, oldest first, until one still does not fit.
    fn retry_parked(&mut self, pc: &mut core::PeerConnection, now: Instant) {
        while let Some((id, message, reply)) = self.parked.pop_front() {
            if let Some(back) = self.try_send(pc, now, id, message, reply) {
                self.parked.push_front(back);
                break;
            }
        }
    }

    /// A channel's buffered amount: what the core holds plus what waits parked here.
    fn update_buffered(&self, pc: &core::PeerConnection, id: core::DataChannelId) {
        if let Some(ch) = self.channels.get(&id) {
            let parked: usize = self
                .parked
                .iter()
                .filter(|(i, ..)| *i == id)
                .map(|(_, m, _)| m.data.len())
                .sum();
            ch.set_buffered(pc.buffered_amount(id) + parked);
        }
    }

    fn emit(&self, ev: Event) {
        let _ = self.events.send(ev);
    }

    fn emit_media(&mut self, ev: Event) {
        if self.queued_media.load(Ordering::Acquire) >= MAX_QUEUED_MEDIA {
            self.media_dropped += 1;
            if self.media_dropped.is_power_of_two() {
                tracing::debug!(
                    dropped = self.media_dropped,
                    "media events not read: dropped"
                );
            }
            return;
        }
        self.queued_media.fetch_add(1, Ordering::AcqRel);
        if self.events.send(ev).is_err() {
            self.queued_media.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn channel_handle(
        &mut self,
        pc: &core::PeerConnection,
        id: core::DataChannelId,
    ) -> Option<DataChannel> {
        let commands = self.commands.upgrade()?;
        let shared = self
            .channels
            .entry(id)
            .or_insert_with(|| Arc::new(shared_from_info(pc, id)))
            .clone();
        Some(DataChannel::new(shared, commands))
    }

    fn refresh_descriptions(&self, pc: &core::PeerConnection) {
        let (local, remote) = (pc.local_description(), pc.remote_description());
        self.states.send_if_modified(|s| {
            let changed = s.local != local || s.remote != remote;
            s.local = local;
            s.remote = remote;
            changed
        });
    }

    fn create_channel(
        &mut self,
        pc: &mut core::PeerConnection,
        now: Instant,
        label: String,
        init: DataChannelInit,
    ) -> Result<DataChannel, Error> {
        let core_init = core::DataChannelInit {
            label,
            protocol: init.protocol,
            ordered: init.ordered,
            max_retransmits: init.max_retransmits,
            max_packet_life_time: init.max_packet_life_time,
            negotiated: init.negotiated,
        };
        let id = pc.create_data_channel(now, core_init)?;
        let commands = self.commands.upgrade().ok_or(Error::Closed)?;
        let shared = Arc::new(shared_from_info(pc, id));
        self.channels.insert(id, Arc::clone(&shared));
        Ok(DataChannel::new(shared, commands))
    }

    fn close_all(&mut self) {
        for (_, ch) in self.channels.drain() {
            ch.set_ready_state(ReadyState::Closed);
        }
    }
}

/// The handles' shared state of a channel, from what the core says of it.
fn shared_from_info(pc: &core::PeerConnection, id: core::DataChannelId) -> Shared {
    let info = pc.data_channel(id);
    let props = match &info {
        Some(i) => ChannelProps {
            label: i.label.clone(),
            protocol: i.protocol.clone(),
            ordered: i.ordered,
            max_retransmits: i.max_retransmits,
            max_packet_life_time: i.max_packet_life_time,
            negotiated: i.negotiated,
        },
        None => ChannelProps {
            label: String::new(),
            protocol: String::new(),
            ordered: true,
            max_retransmits: None,
            max_packet_life_time: None,
            negotiated: false,
        },
    };
    Shared::new(id, props, info.and_then(|i| i.stream_id))
}

impl Handler<Relayed> for Connection {
    type Command = Command;

    fn command(&mut self, relayed: &mut Relayed, now: Instant, cmd: Command) -> Flow {
        relayed.touch(now);
        if let Command::Close(r) = cmd {
            relayed.deallocate(now);
            relayed.pc.close(now);
            // The reply goes once the goodbyes are flushed: the driver stops after this.
            let _ = self.drain(relayed, now);
            self.close_all();
            let _ = r.send(Ok(()));
            return Flow::Stop;
        }
        let pc = &mut relayed.pc;
        match cmd {
            Command::CreateOffer(r) => {
                let _ = r.send(pc.create_offer().map_err(Error::from));
            }
            Command::CreateAnswer(r) => {
                let _ = r.send(pc.create_answer().map_err(Error::from));
            }
            Command::SetLocal(d, r) => {
                let res = (|| {
                    let d = match d {
                        Some(d) => d,
                        None => match pc.signaling_state() {
                            SignalingState::HaveRemoteOffer | SignalingState::HaveLocalPranswer => {
                                pc.create_answer()?
                            }
                            _ => pc.create_offer()?,
                        },
                    };
                    pc.set_local_description(now, &d)?;
                    Ok(())
                })();
                self.refresh_descriptions(pc);
                self.taps.refresh(pc);
                let _ = r.send(res);
            }
            Command::SetRemote(d, r) => {
                let res = pc.set_remote_description(now, &d).map_err(Error::from);
                self.refresh_descriptions(pc);
                self.taps.refresh(pc);
                let _ = r.send(res);
            }
            Command::AddIceCandidate(c, r) => {
                let res = pc.add_ice_candidate(now, c.as_deref()).map_err(Error::from);
                self.refresh_descriptions(pc);
                let _ = r.send(res);
            }
            Command::RestartIce(r) => {
                let _ = r.send(pc.restart_ice().map_err(Error::from));
            }
            Command::AddTransceiver(args, r) => {
                let (kind, init) = *args;
                let _ = r.send(pc.add_transceiver(kind, init).map_err(Error::from));
            }
            Command::SetDirection(t, d, r) => {
                let _ = r.send(pc.set_direction(t, d).map_err(Error::from));
            }
            Command::Transceivers(r) => {
                let list = pc
                    .negotiator()
                    .transceivers()
                    .map(|t| TransceiverInfo {
                        id: t.id(),
                        kind: t.kind(),
                        mid: t.mid().cloned(),
                        direction: t.direction(),
                        current_direction: t.current_direction(),
                    })
                    .collect();
                let _ = r.send(Ok(list));
            }
            Command::CreateDataChannel(args, r) => {
                let (label, init) = *args;
                let res = self.create_channel(pc, now, label, init);
                let _ = r.send(res);
            }
            Command::Send { id, message, reply } => {
                // Behind any send already waiting for room, to keep the order.
                let waiting = if self.parked.is_empty() {
                    self.try_send(pc, now, id, message, reply)
                } else {
                    Some((id, message, reply))
                };
                if let Some(w) = waiting {
                    self.parked.push_back(w);
                    self.update_buffered(pc, id);
                }
            }
            Command::CloseChannel { id } => {
                if let Err(e) = pc.close_data_channel(now, id) {
                    tracing::debug!(error = %Chain(&e), "close of a data channel refused");
                }
            }
            Command::SetLowThreshold { id, threshold } => {
                pc.set_buffered_amount_low_threshold(id, threshold);
            }
            Command::WriteRtp(t, packet) => {
                if let Err(e) = pc.write_rtp(now, t, &packet) {
                    tracing::trace!(error = %Chain(&e), "RTP packet not sent");
                }
            }
            Command::SetReceiveFrames(t, frames) => pc.set_receive_frames(t, frames),
            Command::WriteFrame {
                transceiver,
                data,
                rtp_timestamp,
            } => {
                if let Err(e) = pc.write_frame(now, transceiver, &data, rtp_timestamp) {
                    tracing::trace!(error = %Chain(&e), "frame not sent");
                }
            }
            Command::GetStats(r) => {
                let _ = r.send(Ok(pc.stats(now)));
            }
            Command::SendCodecs(t, r) => {
                let _ = r.send(Ok((pc.send_codec(t), pc.send_codecs(t))));
            }
            Command::SetSendCodec(t, codec, r) => {
                let res = pc.set_send_codec(t, codec).map_err(Error::from);
                // A media track sending there hears of the new codec and starts it with a
                // key frame.
                self.taps.refresh(pc);
                let _ = r.send(res);
            }
            Command::RequestKeyframe(t) => {
                if let Err(e) = pc.request_keyframe(t) {
                    tracing::debug!(error = %Chain(&e), "key frame request not sent");
                }
            }
            Command::Tap(t, part, r) => {
                let _ = r.send(self.taps.add(pc, t, part));
            }
            Command::Close(_) => unreachable!("handled above"),
        }
        Flow::Continue
    }

    fn drain(&mut self, relayed: &mut Relayed, now: Instant) -> Flow {
        while let Some(e) = relayed.poll_candidate_error() {
            self.emit(Event::IceCandidateError(e));
        }
        let pc = &mut relayed.pc;
        if !self.parked.is_empty() {
            // Acknowledged data may have made room in the shared send buffer.
            self.retry_parked(pc, now);
        }
        let mut candidates = false;
        while let Some(ev) = pc.poll_event() {
            match ev {
                core::Event::SignalingStateChange(s) => {
                    self.states.send_modify(|st| st.signaling = s);
                    self.emit(Event::SignalingStateChange(s));
                }
                core::Event::IceGatheringStateChange(s) => {
                    candidates = true;
                    self.refresh_descriptions(pc);
                    self.states.send_modify(|st| st.gathering = s);
                    self.emit(Event::IceGatheringStateChange(s));
                }
                core::Event::IceConnectionStateChange(s) => {
                    self.states.send_modify(|st| st.ice = s);
                    self.emit(Event::IceConnectionStateChange(s));
                }
                core::Event::ConnectionStateChange(s, cause) => {
                    self.states.send_modify(|st| st.connection = s);
                    self.emit(Event::ConnectionStateChange(s, cause));
                }
                core::Event::DtlsStateChange(s) => {
                    self.states.send_modify(|st| st.dtls = s);
                    self.emit(Event::DtlsStateChange(s));
                }
                core::Event::TrackEnded { transceiver, mid } => {
                    // A media track decoding it ends once its queue is gone.
                    self.taps.end_receive(pc, transceiver);
                    self.emit(Event::TrackEnded { transceiver, mid });
                }
                core::Event::IceCandidate(c) => {
                    candidates = true;
                    self.emit(Event::IceCandidate(c));
                }
                core::Event::NegotiationNeeded => self.emit(Event::NegotiationNeeded),
                core::Event::Track {
                    transceiver,
                    mid,
                    kind,
                } => self.emit(Event::Track {
                    transceiver,
                    mid,
                    kind,
                }),
                core::Event::DataChannel(id) => {
                    if let Some(handle) = self.channel_handle(pc, id) {
                        self.emit(Event::DataChannel(handle));
                    }
                }
                core::Event::DataChannelOpen(id) => {
                    let info = pc.data_channel(id);
                    if let Some(ch) = self.channels.get(&id) {
                        ch.set_stream_id(info.and_then(|i| i.stream_id));
                        ch.set_ready_state(ReadyState::Open);
                    }
                }
                core::Event::DataChannelMessage { id, data, binary } => {
                    if let Some(ch) = self.channels.get(&id) {
                        // Only the driver's reference left: nobody can read it.
                        if Arc::strong_count(ch) > 1 {
                            ch.deliver(Message { data, binary });
                        }
                    }
                }
                core::Event::DataChannelClose(id) => {
                    if let Some(ch) = self.channels.remove(&id) {
                        ch.set_ready_state(ReadyState::Closed);
                    }
                }
                core::Event::BufferedAmountLow(id) => self.update_buffered(pc, id),
                core::Event::Rtp {
                    transceiver,
                    mid,
                    packet,
                } => self.emit_media(Event::Rtp {
                    transceiver,
                    mid,
                    packet,
                }),
                core::Event::Rtcp(packet) => self.emit_media(Event::Rtcp(packet)),
                core::Event::Frame {
                    transceiver,
                    mid,
                    frame,
                } => {
                    if let Some(frame) = self.taps.frame(pc, transceiver, frame) {
                        self.emit_media(Event::Frame {
                            transceiver,
                            mid,
                            frame,
                        });
                    }
                }
                // The congestion controller's target (GCC, capped by the peer's REMB) goes
                // to the media tracks sending.
                core::Event::TargetBitrate { transceivers, .. } => {
                    self.taps.target_bitrates(&transceivers);
                }
                // A media track sending on it takes the request; else the event stream.
                core::Event::KeyframeRequest { transceiver }
                    if !self.taps.keyframe_request(transceiver) =>
                {
                    self.emit(Event::KeyframeRequest { transceiver });
                }
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
        if candidates {
            self.refresh_descriptions(pc);
        }
        for (id, ch) in &self.channels {
            ch.set_buffered(pc.buffered_amount(*id));
        }
        if pc.connection_state() == ConnectionState::Closed {
            self.close_all();
            return Flow::Stop;
        }
        Flow::Continue
    }

    fn backpressure(&self) -> Option<Arc<Notify>> {
        self.channels
            .values()
            .find(|ch| Arc::strong_count(ch) > 1 && ch.is_full())
            .map(|ch| Arc::clone(&ch.space))
    }

    fn shutdown(&mut self, relayed: &mut Relayed, now: Instant) {
        relayed.deallocate(now);
        relayed.pc.close(now);
        self.close_all();
    }
}
