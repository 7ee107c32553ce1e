//! The whole peer connection: the JSEP [`Negotiator`] and the [`BundleTransport`] behind one
//! object with the W3C commands and events, and the media routing between them.
//!
//! [`PeerConnection`] follows the crate's verb contract. Its commands are named as in the
//! W3C `RTCPeerConnection`; its events are the W3C events as one enum ([`Event`]). What an
//! offer/answer exchange settles ([`Negotiation`]) is applied to the transport here, and only
//! here: the peer's ICE credentials, candidates and fingerprints, both DTLS roles, the SCTP
//! ports, and the routes of RTP packets to transceivers (by the `mid` header extension, then
//! by SSRC, then by payload type, as browsers do for unsignalled streams).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrtc_dtls as dtls;
use ferrtc_rtp_codecs::RtpPacket;
use ferrtc_rtp_codecs::rtcp::{RawRtcp, RtcpPacket};
use ferrtc_sctp_datachannel as sctp;
use ferrtc_stun_ice::ice;
use ferrtc_types::{ExtensionId, HashAlgorithm, Mid, PayloadType, SeqNo, Ssrc, Transmit};
use rand::{RngCore, SeedableRng};

use crate::codec::{CodecSpec, ExtensionSpec, Feedback, uri};
use crate::congestion::{
    Congestion, ELEMENT_OVERHEAD, MAX_PADDING_COUNT, ensure_element, write_seq,
};
use crate::frames::{CodecKind, EncodedFrame, FrameReceiver, FrameSender, Received};
use crate::rtp_session::{RecvSpec, RtpSession, RtpSessionStats, SendSpec};
use crate::stats::{StatsEntry, StatsReport, StatsType};
use crate::transport::{
    BundleTransport, ChannelEvent, CommandError, ConnectionState, DtlsState, ReceiveError,
    SctpParameters, TransportConfig, TransportError, TransportEvent, TransportParameters,
};
use crate::{
    AddCandidateError, ConfigError, Description, MediaKind, Negotiation, Negotiator,
    RemoteCandidate, RemoteDescriptionError, SdpType, SignalingState, TransceiverId,
    TransceiverInit, UsageError,
};
use ferrtc_bwe::{BweConfig, Paced, PacketKind};

/// The round-trip time assumed until one is measured (the NACK generator's default too).
const ASSUMED_RTT: Duration = Duration::from_millis(100);
/// Most of the target an audio transceiver is given: fullband mono music at high quality
/// (RFC 7587 section 3.1.1 recommends 48-64 kbit/s); what it cannot use goes to video.
const AUDIO_SHARE_MAX_BPS: u64 = 64_000;
/// Fixed RTP header (RFC 3550 section 5.1).
const RTP_HEADER: usize = 12;
/// Most SSRCs remembered per connection from packets that were not announced (a bound on
/// what a peer's stream of random SSRCs can make us keep).
const MAX_LEARNED: usize = 1024;
/// Most media SSRCs one key frame request names, one PLI each (RFC 4585 section 6.3.1):
/// a simulcast sender's layers (RFC 8853 offers three) with room to spare.
const MAX_PLI_SSRCS: usize = 4;

/// How a [`PeerConnection`] is set up (the W3C `RTCConfiguration`, plus what a library user
/// may tune).
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// Our DTLS certificate; its SHA-256 fingerprint goes in our descriptions.
    pub certificate: Arc<dtls::Certificate>,
    /// ICE agent settings: STUN servers (already resolved), timers. Role and credentials
    /// come from the negotiation.
    pub ice: ice::IceConfig,
    /// Be an ICE-lite agent (servers with a public address).
    pub ice_lite: bool,
    /// Audio codecs we offer and accept, in preference order.
    pub audio_codecs: Vec<CodecSpec>,
    /// Video codecs we offer and accept, in preference order.
    pub video_codecs: Vec<CodecSpec>,
    /// RTP header extensions we offer and accept.
    pub header_extensions: Vec<ExtensionSpec>,
    /// Our `a=sctp-port`.
    pub sctp_port: u16,
    /// Our `a=max-message-size`: the largest data channel message we accept.
    pub max_message_size: u64,
    /// The rest of the transport's settings (MTU, SRTP profiles, SCTP and SRTP tuning).
    pub transport: TransportConfig,
    /// The wall clock (time since the Unix epoch) at the `now` given to
    /// [`PeerConnection::new`], for the NTP timestamps of sender reports; this crate reads
    /// no clock. `None` sends receiver reports only.
    pub wall_clock: Option<Duration>,
    /// Send-side bandwidth estimation: start, minimum and maximum bitrate of everything
    /// the connection sends (the estimate runs when the peer negotiates transport-wide
    /// congestion control, or REMB; see [`Event::TargetBitrate`]).
    pub bwe: BweConfig,
    /// Pace outgoing RTP through the estimator's pacer (packets leave at 2.5 times the
    /// target in bursts of at most 5 ms, audio first; probes padded with RTX padding), so
    /// that [`PeerConnection::write_rtp`] and [`PeerConnection::write_frame`] queue and
    /// [`PeerConnection::handle_timeout`] sends. Off by default: packets leave at once
    /// (numbered and recorded for the estimate, but the estimator cannot probe, so it
    /// climbs more slowly).
    pub pacing: bool,
}

impl PeerConfig {
    /// Defaults around `certificate`: the negotiator's codecs and extensions, SCTP port
    /// 5000, 256 KiB messages, a 1200-byte MTU.
    #[must_use]
    pub fn new(certificate: Arc<dtls::Certificate>) -> PeerConfig {
        let n = crate::Config::new(certificate.fingerprint(HashAlgorithm::Sha256));
        PeerConfig {
            transport: TransportConfig::new(Arc::clone(&certificate)),
            certificate,
            ice: ice::IceConfig::default(),
            ice_lite: false,
            audio_codecs: n.audio_codecs,
            video_codecs: n.video_codecs,
            header_extensions: n.header_extensions,
            sctp_port: n.sctp_port,
            max_message_size: n.max_message_size,
            wall_clock: None,
            bwe: BweConfig::default(),
            pacing: false,
        }
    }
}

/// A data channel of this connection: a handle that stays the same from
/// [`PeerConnection::create_data_channel`] to close, before and after its SCTP stream id is
/// known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DataChannelId(pub u32);

/// How to create a data channel (W3C `RTCDataChannelInit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataChannelInit {
    /// The label.
    pub label: String,
    /// The sub-protocol.
    pub protocol: String,
    /// In-order delivery (default true).
    pub ordered: bool,
    /// Give up on a message after this many retransmissions.
    pub max_retransmits: Option<u16>,
    /// Give up on a message after this many milliseconds.
    pub max_packet_life_time: Option<u16>,
    /// A channel both sides create with this stream id, with no DCEP announcement.
    pub negotiated: Option<u16>,
}

impl DataChannelInit {
    /// An ordered, reliable channel called `label`.
    #[must_use]
    pub fn new(label: impl Into<String>) -> DataChannelInit {
        DataChannelInit {
            label: label.into(),
            protocol: String::new(),
            ordered: true,
            max_retransmits: None,
            max_packet_life_time: None,
            negotiated: None,
        }
    }
}

/// The W3C `RTCDataChannelState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataChannelState {
    /// Created, not yet open.
    Connecting,
    /// Messages flow.
    Open,
    /// Closing.
    Closing,
    /// Closed.
    Closed,
}

/// What a data channel is (W3C `RTCDataChannel` attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataChannelInfo {
    /// The label.
    pub label: String,
    /// The sub-protocol.
    pub protocol: String,
    /// The SCTP stream id, once known (W3C `id`).
    pub stream_id: Option<u16>,
    /// In-order delivery.
    pub ordered: bool,
    /// Retransmission limit.
    pub max_retransmits: Option<u16>,
    /// Lifetime limit in milliseconds.
    pub max_packet_life_time: Option<u16>,
    /// Pre-negotiated.
    pub negotiated: bool,
    /// The ready state.
    pub state: DataChannelState,
}

/// A W3C event, from [`PeerConnection::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `signalingstatechange`.
    SignalingStateChange(SignalingState),
    /// `icegatheringstatechange`.
    IceGatheringStateChange(ice::GatheringState),
    /// `iceconnectionstatechange`.
    IceConnectionStateChange(ice::ConnectionState),
    /// `connectionstatechange`; `Failed` carries the cause.
    ConnectionStateChange(ConnectionState, Option<TransportError>),
    /// The `statechange` of the (bundled, only) `RTCDtlsTransport`, once per change; the
    /// state is also [`PeerConnection::dtls_state`]. `Closed` comes from our
    /// [`PeerConnection::close`] or the peer's close_notify (its `close()`), and is final
    /// like `Failed`: the data channels close ([`Event::DataChannelClose`]) and the remote
    /// tracks end ([`Event::TrackEnded`]) right after it. By W3C webrtc-pc §4.3.3 a closed
    /// DTLS transport over connected ICE leaves the connection state `Connected`: this
    /// event is how to learn at once that the peer went away.
    DtlsStateChange(DtlsState),
    /// `icecandidate`: a local candidate to signal, or `None` at the end of gathering.
    IceCandidate(Option<ferrtc_sdp::Candidate>),
    /// `negotiationneeded`.
    NegotiationNeeded,
    /// `track`: a transceiver now receives media.
    Track {
        /// The transceiver.
        transceiver: TransceiverId,
        /// Its mid.
        mid: Mid,
        /// Audio or video.
        kind: MediaKind,
    },
    /// The remote track of a transceiver ended (its `ended`): nothing more comes on it.
    /// Given for every transceiver that had an [`Event::Track`], once, when the DTLS
    /// transport closes or fails (the SRTP keys die with it).
    TrackEnded {
        /// The transceiver.
        transceiver: TransceiverId,
        /// Its mid.
        mid: Mid,
    },
    /// `datachannel`: the peer opened a channel.
    DataChannel(DataChannelId),
    /// A channel's `open`.
    DataChannelOpen(DataChannelId),
    /// A channel's `message`.
    DataChannelMessage {
        /// The channel.
        id: DataChannelId,
        /// The bytes.
        data: Bytes,
        /// Binary (true) or a UTF-8 string.
        binary: bool,
    },
    /// A channel's `close`.
    DataChannelClose(DataChannelId),
    /// A channel's `bufferedamountlow`.
    BufferedAmountLow(DataChannelId),
    /// An RTP packet routed to a transceiver (passthrough: as the peer sent it, unprotected).
    Rtp {
        /// The transceiver.
        transceiver: TransceiverId,
        /// Its mid.
        mid: Mid,
        /// The packet.
        packet: Bytes,
    },
    /// A compound RTCP packet from the peer.
    Rtcp(Bytes),
    /// The peer asked for a key frame (PLI or FIR) of what this transceiver sends.
    KeyframeRequest {
        /// The transceiver.
        transceiver: TransceiverId,
    },
    /// The peer's receiver estimated maximum bitrate for what we send, in bits per second
    /// (REMB, draft-alvestrand-rmcat-remb-03).
    Remb {
        /// The estimate.
        bitrate: u64,
    },
    /// A transport-wide congestion control feedback packet about what we sent
    /// (draft-holmer-rmcat-transport-wide-cc-extensions-01), for a send-side estimator.
    /// The connection's own estimator has already taken it ([`Event::TargetBitrate`]).
    TransportFeedback(Bytes),
    /// The send-side bandwidth estimate changed (GCC over transport-wide feedback, capped
    /// by the peer's REMB; with REMB alone, the peer's REMB): what the encoders together
    /// should produce, and each sending transceiver's share. Audio transceivers get at most
    /// 64 kbit/s each and video the rest, evenly. Given at the first negotiation that
    /// enables it (the configured start rate), then on each change of more than 1% or every
    /// second. [`PeerConnection::target_bitrate`] gives the latest.
    TargetBitrate {
        /// Bit/s for all media the connection sends.
        bitrate: u64,
        /// Each sending transceiver's share, bit/s.
        transceivers: Vec<(TransceiverId, u64)>,
    },
    /// A whole encoded frame, out of the jitter buffer, on a transceiver in frame mode
    /// ([`PeerConnection::set_receive_frames`]): in order, complete, decodable (frames that
    /// depend on a lost one are skipped until the next key frame, which is asked for).
    Frame {
        /// The transceiver.
        transceiver: TransceiverId,
        /// Its mid.
        mid: Mid,
        /// The frame.
        frame: EncodedFrame,
    },
}

/// What went wrong with a command of [`PeerConnection`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The caller's mistake, in JSEP terms (wrong state, closed, munged description).
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// The peer's description is malformed or inconsistent; nothing changed.
    #[error(transparent)]
    RemoteDescription(#[from] RemoteDescriptionError),
    /// A trickled candidate that does not fit.
    #[error(transparent)]
    Candidate(#[from] AddCandidateError),
    /// The transport refused the command.
    #[error(transparent)]
    Transport(#[from] CommandError),
    /// The peer's ICE credentials were refused by the agent.
    #[error("remote ICE credentials refused")]
    IceCredentials(#[source] ice::IceError),
    /// No data channel with this handle.
    #[error("unknown data channel {0:?}")]
    UnknownDataChannel(DataChannelId),
    /// The channel is not open.
    #[error("data channel {0:?} is not open")]
    DataChannelNotOpen(DataChannelId),
    /// No transceiver with this id, or it sends nothing (yet).
    #[error("transceiver {0:?} has no send stream")]
    NotSending(TransceiverId),
    /// [`PeerConnection::set_send_codec`] named a codec the last negotiation of the
    /// transceiver does not hold (or no negotiation yet).
    #[error("{codec:?} is not negotiated for sending on transceiver {transceiver:?}")]
    CodecNotNegotiated {
        /// The transceiver.
        transceiver: TransceiverId,
        /// The codec asked for.
        codec: CodecKind,
    },
    /// An RTP packet that does not parse.
    #[error("not an RTP packet")]
    MalformedRtp,
    /// The payload format refused the frame (too large for its packets, malformed).
    #[error("frame refused by the payload format")]
    Packetize(#[source] ferrtc_rtp_codecs::PacketizeError),
}

impl From<crate::SetRemoteError> for PeerError {
    fn from(e: crate::SetRemoteError) -> PeerError {
        match e {
            crate::SetRemoteError::Usage(u) => PeerError::Usage(u),
            crate::SetRemoteError::Remote(r) => PeerError::RemoteDescription(r),
        }
    }
}

/// Counters of the peer connection's own routing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// RTP packets routed to a transceiver.
    pub rtp_routed: u64,
    /// RTP packets no route claimed: dropped.
    pub rtp_unroutable: u64,
    /// RTP packets written by the application and sent.
    pub rtp_written: u64,
    /// Key frame requests received.
    pub keyframe_requests: u64,
    /// Packets the jitter buffers gave up on (frame mode).
    pub frame_packets_lost: u64,
    /// Padding-only RTP packets received (the peer's bandwidth probes). Those on a media
    /// stream are handed up like any packet; those on an RTX stream are dropped.
    pub padding_received: u64,
}

struct Slot {
    info: DataChannelInfo,
    options: Option<sctp::ChannelOptions>,
    /// Messages sent, bytes sent, messages received, bytes received.
    counters: [u64; 4],
}

#[derive(Debug, Clone)]
struct Route {
    transceiver: TransceiverId,
    mid: Mid,
    kind: MediaKind,
    receives: bool,
    send_ssrc: Option<Ssrc>,
    /// Our payload type -> the peer's, for what we send.
    pt_map: Vec<(PayloadType, PayloadType)>,
    /// Payload types we receive on it.
    recv_pts: Vec<PayloadType>,
    /// SSRCs the peer announced for it.
    remote_ssrcs: Vec<Ssrc>,
    /// Of those, the media streams' own (not their RTX streams').
    remote_media_ssrcs: Vec<Ssrc>,
    /// RIDs the peer sends on it (simulcast).
    remote_rids: Vec<ferrtc_types::Rid>,
    /// What the RTP session needs to receive on it.
    recv: RecvSpec,
    /// Codec and clock rate by the payload types we receive.
    recv_codecs: Vec<(PayloadType, CodecKind, u32)>,
    /// The codecs the negotiation lets us send on it that we packetize, the peer's
    /// preference first, each with whether H.264 is in packetization mode 0.
    send_codecs: Vec<(SendCodec, bool)>,
    /// The one of them frames are sent with (index into `send_codecs`): the caller's
    /// choice ([`PeerConnection::set_send_codec`]) when negotiated, else the first.
    send_codec: Option<usize>,
}

/// A codec a transceiver may send with, as the last negotiation made it
/// ([`PeerConnection::send_codec`], [`PeerConnection::send_codecs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendCodec {
    /// The codec.
    pub codec: CodecKind,
    /// The payload type the peer expects it on.
    pub payload_type: PayloadType,
    /// The RTP clock rate, in Hz.
    pub clock_rate: u32,
    /// The channel count (`a=rtpmap`'s third field; 1 when absent).
    pub channels: u16,
}

/// One WebRTC peer connection, sans-IO. See the module docs.
pub struct PeerConnection {
    negotiator: Negotiator,
    transport: BundleTransport,
    rng: rand_chacha::ChaCha20Rng,
    started: bool,
    sctp_enabled: bool,
    signaling: SignalingState,
    negotiation_needed: bool,
    routes: Vec<Route>,
    mid_ext: Option<ExtensionId>,
    rid_ext: Option<ExtensionId>,
    learned: HashMap<Ssrc, usize>,
    /// The SSRCs media arrived on (RTX unwrapped to its original), by route: where key
    /// frame requests go. `learned` also holds RTX streams' SSRCs, which a sender ignores
    /// in a PLI (RFC 4588 §4: the RTX stream is not the media source).
    media_ssrcs: HashMap<Ssrc, usize>,
    tracked: Vec<TransceiverId>,
    /// The DTLS transport closed or failed: the remote tracks were ended.
    tracks_ended: bool,
    slots: Vec<Slot>,
    by_stream: HashMap<u16, DataChannelId>,
    events: VecDeque<Event>,
    scratch: Vec<u8>,
    session: RtpSession,
    frame_mode: Vec<TransceiverId>,
    frame_senders: HashMap<TransceiverId, FrameSender>,
    /// The send codec each transceiver's caller chose ([`PeerConnection::set_send_codec`]),
    /// kept across negotiations.
    send_codec_choice: HashMap<TransceiverId, CodecKind>,
    frame_receivers: HashMap<Ssrc, (usize, FrameReceiver)>,
    mtu: usize,
    stats: PeerStats,
    closed: bool,
    bwe_config: BweConfig,
    pacing: bool,
    congestion: Option<Box<Congestion>>,
    target: Option<u64>,
}

impl core::fmt::Debug for PeerConnection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PeerConnection")
            .field("signaling", &self.signaling)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl PeerConnection {
    /// A peer connection in `stable` with nothing to negotiate yet. `rng` seeds everything
    /// random (ICE credentials, SSRCs, DTLS randoms, SCTP tags): seed it for a replayable
    /// run.
    ///
    /// # Errors
    /// [`ConfigError`] for a configuration the negotiator refuses.
    pub fn new(
        config: PeerConfig,
        now: Instant,
        mut rng: Box<dyn RngCore + Send>,
    ) -> Result<PeerConnection, ConfigError> {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let mut own = rand_chacha::ChaCha20Rng::from_seed(seed);
        let mut session = RtpSession::new(
            Ssrc(own.next_u32()),
            config.wall_clock.map(|unix| (now, unix)),
        );
        let mut ncfg = crate::Config::new(config.certificate.fingerprint(HashAlgorithm::Sha256));
        ncfg.ice_lite = config.ice_lite;
        ncfg.audio_codecs = config.audio_codecs;
        ncfg.video_codecs = config.video_codecs;
        ncfg.header_extensions = config.header_extensions;
        ncfg.sctp_port = config.sctp_port;
        ncfg.max_message_size = config.max_message_size;
        let negotiator = Negotiator::new(ncfg, &mut own)?;
        session.set_cname(negotiator.cname());
        let creds = negotiator.local_ice_credentials();
        let mtu = config.transport.mtu;
        let (bwe_config, pacing) = (config.bwe, config.pacing);
        let mut tcfg = config.transport;
        tcfg.certificate = config.certificate;
        tcfg.ice = config.ice;
        tcfg.ice.lite = config.ice_lite;
        // RTCP multiplexing is negotiated with the policy `require` (RFC 8829 section
        // 4.1.1): every m-line we accept carries a=rtcp-mux, one we cannot is refused, so the
        // agent runs component 1 only and counts the peer's component-2 candidates as
        // ignored (Firefox still gathers them).
        tcfg.ice.rtcp_mux = true;
        tcfg.ice.credentials = ice::Credentials::new(&creds.ufrag, &creds.pwd).ok();
        tcfg.sctp.max_message_size = usize::try_from(config.max_message_size).unwrap_or(usize::MAX);
        // The send buffer holds at least two of the largest messages we announce: one must
        // fit or it could never be sent back (an echo), and while one is queued the other
        // channels' messages must still be taken, not refused as `SendBufferFull` (seen
        // against Firefox: an 8 MiB echo made every pong on another channel fail).
        tcfg.sctp.send_buffer = tcfg
            .sctp
            .send_buffer
            .max(tcfg.sctp.max_message_size.saturating_mul(2));
        let transport = BundleTransport::new(tcfg, now, rng);
        Ok(PeerConnection {
            negotiator,
            transport,
            rng: own,
            started: false,
            sctp_enabled: false,
            signaling: SignalingState::Stable,
            negotiation_needed: false,
            routes: Vec::new(),
            mid_ext: None,
            rid_ext: None,
            learned: HashMap::new(),
            media_ssrcs: HashMap::new(),
            tracked: Vec::new(),
            tracks_ended: false,
            slots: Vec::new(),
            by_stream: HashMap::new(),
            events: VecDeque::new(),
            scratch: Vec::new(),
            session,
            frame_mode: Vec::new(),
            frame_senders: HashMap::new(),
            send_codec_choice: HashMap::new(),
            frame_receivers: HashMap::new(),
            mtu,
            stats: PeerStats::default(),
            closed: false,
            bwe_config,
            pacing,
            congestion: None,
            target: None,
        })
    }

    // ----- getters -----

    /// The latest target bitrate for everything we send, bit/s ([`Event::TargetBitrate`]);
    /// `None` until a negotiation enables transport-wide congestion control or REMB.
    #[must_use]
    pub fn target_bitrate(&self) -> Option<u64> {
        self.target
    }

    /// The send-side estimator (round-trip time, acknowledged rate, delay state), while
    /// transport-wide congestion control is negotiated.
    #[must_use]
    pub fn bwe(&self) -> Option<&ferrtc_bwe::SendSideBwe> {
        self.congestion
            .as_ref()
            .filter(|c| c.ext.is_some())
            .map(|c| c.cc.bwe())
    }

    /// The negotiation half, for what this type does not repeat (transceivers, the
    /// descriptions, the last [`Negotiation`]).
    #[must_use]
    pub fn negotiator(&self) -> &Negotiator {
        &self.negotiator
    }

    /// The transport half (selected pair, layer counters).
    #[must_use]
    pub fn transport(&self) -> &BundleTransport {
        &self.transport
    }

    /// The W3C `signalingState`.
    #[must_use]
    pub fn signaling_state(&self) -> SignalingState {
        self.negotiator.signaling_state()
    }

    /// The W3C `connectionState`.
    #[must_use]
    pub fn connection_state(&self) -> ConnectionState {
        self.transport.connection_state()
    }

    /// The state of the (bundled, only) DTLS transport: W3C `RTCDtlsTransport.state`, as
    /// `pc.sctp.transport.state` or a transceiver's `receiver.transport.state` read it.
    #[must_use]
    pub fn dtls_state(&self) -> DtlsState {
        self.transport.dtls_state()
    }

    /// The W3C `iceConnectionState`.
    #[must_use]
    pub fn ice_connection_state(&self) -> ice::ConnectionState {
        self.transport.ice_connection_state()
    }

    /// The W3C `iceGatheringState`.
    #[must_use]
    pub fn ice_gathering_state(&self) -> ice::GatheringState {
        self.transport.ice_gathering_state()
    }

    /// The W3C `localDescription`, with the candidates gathered so far.
    #[must_use]
    pub fn local_description(&self) -> Option<Description> {
        self.negotiator.local_description()
    }

    /// The W3C `remoteDescription`.
    #[must_use]
    pub fn remote_description(&self) -> Option<Description> {
        self.negotiator.remote_description()
    }

    /// A data channel's attributes.
    #[must_use]
    pub fn data_channel(&self, id: DataChannelId) -> Option<DataChannelInfo> {
        self.slot(id).map(|s| s.info.clone())
    }

    /// Bytes queued on a channel and not yet acknowledged (W3C `bufferedAmount`).
    #[must_use]
    pub fn buffered_amount(&self, id: DataChannelId) -> usize {
        self.slot(id)
            .and_then(|s| s.info.stream_id)
            .map_or(0, |sid| self.transport.buffered_amount(sid))
    }

    /// The routing counters.
    #[must_use]
    pub fn routing_stats(&self) -> PeerStats {
        self.stats
    }

    /// W3C `getStats()`: every entry of an `RTCStatsReport` at `now`, with the W3C type and
    /// member names (codec, inbound-rtp, outbound-rtp, remote-inbound-rtp,
    /// remote-outbound-rtp, media-source, candidate-pair, local-candidate,
    /// remote-candidate, transport, certificate, data-channel, peer-connection). The
    /// transport entry also carries two members of ferrtc's own once the SCTP association is
    /// up: `sctpInterleaving` (user message interleaving, RFC 8260 I-DATA, is in use: see
    /// [`TransportConfig::sctp`](crate::TransportConfig::sctp)'s `interleaving`) and
    /// `sctpPeerInterleaving` (the peer announced it).
    #[must_use]
    pub fn stats(&self, now: Instant) -> StatsReport {
        let mut out = Vec::new();
        let opened = self
            .slots
            .iter()
            .filter(|s| s.info.state != DataChannelState::Connecting)
            .count() as u64;
        let closed = self
            .slots
            .iter()
            .filter(|s| s.info.state == DataChannelState::Closed)
            .count() as u64;
        out.push(
            StatsEntry::new(StatsType::PeerConnection, "P", now)
                .with("dataChannelsOpened", opened)
                .with("dataChannelsClosed", closed),
        );
        let t = &self.transport;
        let ts = t.stats();
        let local_fp = t.local_fingerprint();
        out.push(
            StatsEntry::new(StatsType::Certificate, "CL", now)
                .with("fingerprint", local_fp.digest_hex())
                .with("fingerprintAlgorithm", local_fp.algorithm().name()),
        );
        let remote_fp = self
            .negotiator
            .negotiation()
            .and_then(|n| n.transports.first())
            .and_then(|t| t.remote_fingerprints.first().copied());
        if let Some(fp) = remote_fp {
            out.push(
                StatsEntry::new(StatsType::Certificate, "CR", now)
                    .with("fingerprint", fp.digest_hex())
                    .with("fingerprintAlgorithm", fp.algorithm().name()),
            );
        }
        let dtls_state = match t.dtls_state() {
            crate::DtlsState::New => "new",
            crate::DtlsState::Connecting => "connecting",
            crate::DtlsState::Connected => "connected",
            crate::DtlsState::Closed => "closed",
            crate::DtlsState::Failed => "failed",
        };
        let selected = t.selected_pair();
        let sctp = t
            .data_channels()
            .map(sctp::DataChannels::association)
            .filter(|a| a.is_established());
        let pair_id = selected.map(|p| format!("CP{}_{}", p.local.address, p.remote.address));
        out.push(
            StatsEntry::new(StatsType::Transport, "T", now)
                .with("bytesSent", ts.bytes_sent)
                .with("bytesReceived", ts.bytes_received)
                .with("dtlsState", dtls_state)
                .with("iceState", ice_state_name(t.ice_connection_state()))
                .with_opt("selectedCandidatePairId", pair_id.clone())
                .with("localCertificateId", "CL")
                .with_opt("remoteCertificateId", remote_fp.map(|_| "CR"))
                .with_opt("srtpCipher", t.srtp_profile().map(|p| p.name()))
                .with_opt(
                    "dtlsRole",
                    self.negotiator.dtls_role().map(|r| match r {
                        ferrtc_types::DtlsRole::Client => "client",
                        ferrtc_types::DtlsRole::Server => "server",
                    }),
                )
                // ferrtc's own members, once the SCTP association is up: whether user
                // message interleaving (RFC 8260 I-DATA) is in use, and whether the peer
                // announced it (RFC 8260 section 2.2.1).
                .with_opt(
                    "sctpInterleaving",
                    sctp.map(sctp::Association::interleaving),
                )
                .with_opt(
                    "sctpPeerInterleaving",
                    sctp.map(sctp::Association::peer_interleaving),
                ),
        );
        let cand = |kind, id: String, c: &ice::Candidate| {
            StatsEntry::new(kind, id, now)
                .with("transportId", "T")
                .with("address", c.address.ip().to_string())
                .with("port", u64::from(c.address.port()))
                .with("protocol", if c.protocol.is_tcp() { "tcp" } else { "udp" })
                .with("candidateType", c.kind.as_str())
                .with("priority", u64::from(c.priority))
        };
        if let Some(agent) = t.ice_agent() {
            for c in agent.local_candidates() {
                out.push(cand(
                    StatsType::LocalCandidate,
                    format!("CL{}", c.address),
                    c,
                ));
            }
            for c in agent.remote_candidates() {
                out.push(cand(
                    StatsType::RemoteCandidate,
                    format!("CR{}", c.address),
                    c,
                ));
            }
        }
        if let (Some(p), Some(id)) = (selected, pair_id) {
            let rtt = self.session.stats().rtt.map(|d| d.as_secs_f64());
            out.push(
                StatsEntry::new(StatsType::CandidatePair, id, now)
                    .with("transportId", "T")
                    .with("localCandidateId", format!("CL{}", p.local.address))
                    .with("remoteCandidateId", format!("CR{}", p.remote.address))
                    .with("state", "succeeded")
                    .with("nominated", p.nominated)
                    .with("bytesSent", ts.bytes_sent)
                    .with("bytesReceived", ts.bytes_received)
                    .with_opt("currentRoundTripTime", rtt),
            );
        }
        if let Some(n) = self.negotiator.negotiation() {
            for m in &n.media {
                let kind = match m.kind {
                    MediaKind::Audio => "audio",
                    MediaKind::Video => "video",
                };
                for c in &m.codecs {
                    out.push(
                        StatsEntry::new(
                            StatsType::Codec,
                            format!("CO{}_{}", m.mid, c.payload_type.local),
                            now,
                        )
                        .with("transportId", "T")
                        .with("payloadType", u64::from(c.payload_type.local.get()))
                        .with("mimeType", format!("{kind}/{}", c.name))
                        .with("clockRate", u64::from(c.clock_rate))
                        .with_opt("channels", c.channels.map(u64::from)),
                    );
                }
                let codec_id = m
                    .codecs
                    .first()
                    .map(|c| format!("CO{}_{}", m.mid, c.payload_type.local));
                if let Some(send) = m.send.as_ref().filter(|_| m.sends()) {
                    let snap = self.session.send_snapshot(send.ssrc).unwrap_or_default();
                    out.push(
                        StatsEntry::new(StatsType::MediaSource, format!("S{}", m.mid), now)
                            .with("kind", kind)
                            .with_opt(
                                "trackIdentifier",
                                send.track.as_ref().map(|t| t.track_id.clone()),
                            ),
                    );
                    out.push(
                        StatsEntry::new(StatsType::OutboundRtp, format!("OT{}", send.ssrc), now)
                            .with("ssrc", send.ssrc.0)
                            .with("kind", kind)
                            .with("mid", m.mid.as_str())
                            .with("transportId", "T")
                            .with_opt("codecId", codec_id.clone())
                            .with("mediaSourceId", format!("S{}", m.mid))
                            .with("packetsSent", snap.packets)
                            .with("bytesSent", snap.octets)
                            .with("retransmittedPacketsSent", snap.retransmitted)
                            .with("nackCount", snap.nacks_received)
                            .with("remoteId", format!("RI{}", send.ssrc)),
                    );
                    if let Some(b) = snap.remote {
                        out.push(
                            StatsEntry::new(
                                StatsType::RemoteInboundRtp,
                                format!("RI{}", send.ssrc),
                                now,
                            )
                            .with("ssrc", send.ssrc.0)
                            .with("kind", kind)
                            .with("transportId", "T")
                            .with("localId", format!("OT{}", send.ssrc))
                            .with("packetsLost", i64::from(b.cumulative_lost))
                            .with("fractionLost", f64::from(b.fraction_lost) / 256.0)
                            .with_opt("roundTripTime", snap.rtt.map(|d| d.as_secs_f64())),
                        );
                    }
                }
            }
        }
        for (ssrc, snap) in self.session.recv_snapshots() {
            let route = self.learned.get(&ssrc).and_then(|i| self.routes.get(*i));
            let Some(route) = route else { continue };
            let kind = self
                .negotiator
                .transceiver(route.transceiver)
                .map_or("video", |t| match t.kind() {
                    MediaKind::Audio => "audio",
                    MediaKind::Video => "video",
                });
            out.push(
                StatsEntry::new(StatsType::InboundRtp, format!("IT{ssrc}"), now)
                    .with("ssrc", ssrc.0)
                    .with("kind", kind)
                    .with("mid", route.mid.as_str())
                    .with("transportId", "T")
                    .with("packetsReceived", snap.received)
                    .with("bytesReceived", snap.octets)
                    .with("packetsLost", snap.lost)
                    .with("jitter", snap.jitter.as_secs_f64())
                    .with("nackCount", snap.nacks_sent)
                    .with_opt("remoteId", snap.remote_sr.map(|_| format!("RO{ssrc}"))),
            );
            if let Some((packets, octets, ntp)) = snap.remote_sr {
                out.push(
                    StatsEntry::new(StatsType::RemoteOutboundRtp, format!("RO{ssrc}"), now)
                        .with("ssrc", ssrc.0)
                        .with("kind", kind)
                        .with("transportId", "T")
                        .with("localId", format!("IT{ssrc}"))
                        .with("packetsSent", packets)
                        .with("bytesSent", octets)
                        .with("remoteTimestamp", ntp_to_unix_ms(ntp)),
                );
            }
        }
        for (i, s) in self.slots.iter().enumerate() {
            let state = match s.info.state {
                DataChannelState::Connecting => "connecting",
                DataChannelState::Open => "open",
                DataChannelState::Closing => "closing",
                DataChannelState::Closed => "closed",
            };
            out.push(
                StatsEntry::new(StatsType::DataChannel, format!("D{i}"), now)
                    .with("label", s.info.label.as_str())
                    .with("protocol", s.info.protocol.as_str())
                    .with_opt("dataChannelIdentifier", s.info.stream_id.map(u64::from))
                    .with("state", state)
                    .with("messagesSent", s.counters[0])
                    .with("bytesSent", s.counters[1])
                    .with("messagesReceived", s.counters[2])
                    .with("bytesReceived", s.counters[3]),
            );
        }
        StatsReport { entries: out }
    }

    /// The RTP session's counters (reports, NACKs, retransmissions, RTT).
    #[must_use]
    pub fn rtp_stats(&self) -> RtpSessionStats {
        self.session.stats()
    }

    /// Packets and payload octets sent on a transceiver (RFC 3550 §6.4.1 counters).
    #[must_use]
    pub fn sent_counts(&self, transceiver: TransceiverId) -> Option<(u32, u32)> {
        let ssrc = self
            .routes
            .iter()
            .find(|r| r.transceiver == transceiver)?
            .send_ssrc?;
        self.session.sent(ssrc)
    }

    /// Packets received, cumulative packets lost and interarrival jitter of a stream of
    /// the peer's.
    #[must_use]
    pub fn received_counts(&self, ssrc: Ssrc) -> Option<(u64, i64, Duration)> {
        self.session.received(ssrc)
    }

    // ----- JSEP commands -----

    /// W3C `createOffer`.
    ///
    /// # Errors
    /// [`UsageError`] in a state that cannot offer.
    pub fn create_offer(&mut self) -> Result<Description, PeerError> {
        Ok(self.negotiator.create_offer(&mut self.rng)?)
    }

    /// W3C `createAnswer`.
    ///
    /// # Errors
    /// [`UsageError`] without a remote offer.
    pub fn create_answer(&mut self) -> Result<Description, PeerError> {
        Ok(self.negotiator.create_answer(&mut self.rng)?)
    }

    /// W3C `setLocalDescription`: applies our offer or answer. Applying an offer starts
    /// ICE gathering (we are controlling); applying an answer starts the transport.
    ///
    /// # Errors
    /// [`UsageError`] for a description other than the last created, or the wrong state.
    pub fn set_local_description(
        &mut self,
        now: Instant,
        description: &Description,
    ) -> Result<(), PeerError> {
        let negotiation = self.negotiator.set_local_description(description)?;
        if description.sdp_type == SdpType::Offer {
            self.transport.set_ice_role(now, ice::IceRole::Controlling);
            self.adopt_local_credentials(now);
        }
        if let Some(n) = negotiation {
            self.apply(now, &n)?;
        }
        self.after_command(now);
        Ok(())
    }

    /// W3C `setRemoteDescription`. A malformed or inconsistent description is refused with
    /// a typed error and changes nothing.
    ///
    /// # Errors
    /// [`PeerError::RemoteDescription`] naming what is wrong, [`PeerError::Usage`] for the
    /// wrong state.
    pub fn set_remote_description(
        &mut self,
        now: Instant,
        description: &Description,
    ) -> Result<(), PeerError> {
        let negotiation = self.negotiator.set_remote_description(description)?;
        if let Some(n) = negotiation {
            self.apply(now, &n)?;
        }
        self.after_command(now);
        Ok(())
    }

    /// W3C `addIceCandidate`: a trickled remote candidate, or `None` for
    /// end-of-candidates.
    ///
    /// # Errors
    /// [`PeerError::Candidate`] for one that fits no m-line or comes before a remote
    /// description; [`PeerError::Transport`] for one the ICE agent cannot use (an unknown
    /// transport). One whose address is a name (a browser's mDNS `.local` name) is not an
    /// error: it is ignored and counted in
    /// [`TransportStats::unresolved_remote_candidates`](crate::TransportStats), and the
    /// peer's checks still reach us and teach the agent its address as peer-reflexive.
    pub fn add_ice_candidate(
        &mut self,
        now: Instant,
        candidate: Option<&ferrtc_sdp::Candidate>,
    ) -> Result<(), PeerError> {
        let mid = self
            .negotiator
            .negotiation()
            .and_then(|n| n.transports.first())
            .and_then(|t| t.mids.first().cloned())
            .or_else(|| self.remote_first_mid());
        let rc = RemoteCandidate {
            candidate: candidate.cloned(),
            mid,
            m_line_index: Some(0),
            ufrag: None,
        };
        self.negotiator.add_ice_candidate(&rc)?;
        if self.started {
            match candidate {
                Some(c) => self.transport.add_remote_candidate(now, c)?,
                None => self.transport.end_of_remote_candidates(now),
            }
        }
        self.after_command(now);
        Ok(())
    }

    fn remote_first_mid(&self) -> Option<Mid> {
        let d = self.negotiator.remote_description()?;
        let sdp = ferrtc_sdp::SessionDescription::parse(&d.sdp).ok()?;
        sdp.media.iter().find_map(|m| m.mid().cloned())
    }

    /// A local address to gather a host candidate from (the driver lists its interfaces).
    ///
    /// # Errors
    /// [`PeerError::Transport`] if the agent refuses it.
    pub fn add_local_address(&mut self, now: Instant, addr: SocketAddr) -> Result<(), PeerError> {
        self.transport.add_local_address(now, addr)?;
        self.after_command(now);
        Ok(())
    }

    /// A TCP host candidate (ICE-TCP, RFC 6544): see
    /// [`BundleTransport::add_local_tcp_address`](crate::transport::BundleTransport::add_local_tcp_address).
    ///
    /// # Errors
    /// [`PeerError::Transport`] if the agent refuses it.
    pub fn add_local_tcp_address(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        tcp_type: ferrtc_types::TcpType,
    ) -> Result<(), PeerError> {
        self.transport.add_local_tcp_address(now, addr, tcp_type)?;
        self.after_command(now);
        Ok(())
    }

    /// A relayed candidate from a TURN allocation the driver made: see
    /// [`BundleTransport::add_local_relayed_candidate`](crate::transport::BundleTransport::add_local_relayed_candidate).
    ///
    /// # Errors
    /// [`PeerError::Transport`] if the agent refuses it.
    pub fn add_local_relayed_candidate(
        &mut self,
        now: Instant,
        relayed: SocketAddr,
        mapped: Option<SocketAddr>,
        server: SocketAddr,
    ) -> Result<(), PeerError> {
        self.add_local_relayed_candidate_via(
            now,
            relayed,
            mapped,
            server,
            ferrtc_types::Transport::Udp,
        )
    }

    /// A relayed candidate from an allocation on a TURN server reached over `via` (UDP, TCP
    /// or TLS): see
    /// [`BundleTransport::add_local_relayed_candidate_via`](crate::transport::BundleTransport::add_local_relayed_candidate_via).
    ///
    /// # Errors
    /// [`PeerError::Transport`] if the agent refuses it.
    pub fn add_local_relayed_candidate_via(
        &mut self,
        now: Instant,
        relayed: SocketAddr,
        mapped: Option<SocketAddr>,
        server: SocketAddr,
        via: ferrtc_types::Transport,
    ) -> Result<(), PeerError> {
        self.transport
            .add_local_relayed_candidate_via(now, relayed, mapped, server, via)?;
        self.after_command(now);
        Ok(())
    }

    /// No more host addresses (nor relayed candidates) come.
    pub fn end_of_local_addresses(&mut self, now: Instant) {
        self.transport.end_of_local_addresses(now);
        self.after_command(now);
    }

    /// W3C `restartIce`: the next offer carries new credentials.
    ///
    /// # Errors
    /// [`UsageError::Closed`].
    pub fn restart_ice(&mut self) -> Result<(), PeerError> {
        self.negotiator.restart_ice()?;
        self.check_negotiation_needed();
        Ok(())
    }

    /// W3C `addTransceiver`.
    ///
    /// # Errors
    /// [`UsageError::Closed`].
    pub fn add_transceiver(
        &mut self,
        kind: MediaKind,
        init: TransceiverInit,
    ) -> Result<TransceiverId, PeerError> {
        let id = self.negotiator.add_transceiver(kind, init)?;
        self.check_negotiation_needed();
        Ok(id)
    }

    /// W3C `RTCRtpTransceiver.direction = ...`: the preferred direction, used from the
    /// next offer or answer (an answerer that wants to send back on a transceiver the
    /// offer created sets `sendrecv` before `create_answer`).
    ///
    /// # Errors
    /// [`UsageError`] for an unknown or stopped transceiver.
    pub fn set_direction(
        &mut self,
        transceiver: TransceiverId,
        direction: ferrtc_sdp::Direction,
    ) -> Result<(), PeerError> {
        self.negotiator.set_direction(transceiver, direction)?;
        self.check_negotiation_needed();
        Ok(())
    }

    /// W3C `addTrack`: reuses a transceiver of the kind that has no track (one a remote
    /// offer created), else adds a `sendrecv` one.
    ///
    /// # Errors
    /// [`UsageError::Closed`].
    pub fn add_track(
        &mut self,
        kind: MediaKind,
        track: crate::TrackInfo,
    ) -> Result<TransceiverId, PeerError> {
        let id = self.negotiator.add_track(kind, track)?;
        self.check_negotiation_needed();
        Ok(id)
    }

    /// W3C `removeTrack`: the transceiver stops sending.
    ///
    /// # Errors
    /// [`UsageError`] for an unknown or stopped transceiver.
    pub fn remove_track(&mut self, transceiver: TransceiverId) -> Result<(), PeerError> {
        self.negotiator.remove_track(transceiver)?;
        self.check_negotiation_needed();
        Ok(())
    }

    /// W3C `RTCRtpTransceiver.stop`.
    ///
    /// # Errors
    /// [`UsageError`] for an unknown or stopped transceiver.
    pub fn stop_transceiver(&mut self, transceiver: TransceiverId) -> Result<(), PeerError> {
        self.negotiator.stop_transceiver(transceiver)?;
        self.check_negotiation_needed();
        Ok(())
    }

    /// W3C `createDataChannel`. The channel opens once the association is up (after the
    /// first negotiation that carries the application m-line, which this call asks for).
    ///
    /// # Errors
    /// [`UsageError::Closed`]; [`PeerError::Transport`] for a stream id in use.
    pub fn create_data_channel(
        &mut self,
        now: Instant,
        init: DataChannelInit,
    ) -> Result<DataChannelId, PeerError> {
        self.negotiator.create_data_channel()?;
        let reliability = match (init.max_retransmits, init.max_packet_life_time) {
            (Some(n), _) => sctp::Reliability::MaxRetransmits(u32::from(n)),
            (None, Some(ms)) => {
                sctp::Reliability::MaxLifetime(Duration::from_millis(u64::from(ms)))
            }
            (None, None) => sctp::Reliability::Reliable,
        };
        let mut options = sctp::ChannelOptions::new(&init.label);
        options.protocol = init.protocol.clone();
        options.ordered = init.ordered;
        options.reliability = reliability;
        options.negotiated = init.negotiated;
        let id = DataChannelId(self.slots.len() as u32);
        self.slots.push(Slot {
            info: DataChannelInfo {
                label: init.label,
                protocol: init.protocol,
                stream_id: init.negotiated,
                ordered: init.ordered,
                max_retransmits: init.max_retransmits,
                max_packet_life_time: init.max_packet_life_time,
                negotiated: init.negotiated.is_some(),
                state: DataChannelState::Connecting,
            },
            options: Some(options),
            counters: [0; 4],
        });
        if self.transport.dtls_state().is_final() {
            // Its transport has ended and will not come back: announced closed at once
            // (W3C webrtc-pc §6.2.5).
            self.on_dtls_ended();
        } else if self.sctp_enabled {
            self.open_pending(now)?;
        }
        self.check_negotiation_needed();
        self.after_command(now);
        Ok(id)
    }

    /// Sends a message (W3C `send`): `binary` false sends a UTF-8 string.
    ///
    /// # Errors
    /// [`PeerError::UnknownDataChannel`], [`PeerError::DataChannelNotOpen`], or the
    /// transport's refusal (over the peer's max-message-size, send buffer full).
    pub fn send_data(
        &mut self,
        now: Instant,
        id: DataChannelId,
        data: Bytes,
        binary: bool,
    ) -> Result<(), PeerError> {
        let slot = self.slot(id).ok_or(PeerError::UnknownDataChannel(id))?;
        let (Some(sid), DataChannelState::Open) = (slot.info.stream_id, slot.info.state) else {
            return Err(PeerError::DataChannelNotOpen(id));
        };
        let len = data.len() as u64;
        self.transport.send_message(now, sid, data, !binary)?;
        if let Some(slot) = self.slots.get_mut(id.0 as usize) {
            slot.counters[0] += 1;
            slot.counters[1] += len;
        }
        self.after_command(now);
        Ok(())
    }

    /// Closes a channel (W3C `close`).
    ///
    /// # Errors
    /// [`PeerError::UnknownDataChannel`].
    pub fn close_data_channel(&mut self, now: Instant, id: DataChannelId) -> Result<(), PeerError> {
        let idx = id.0 as usize;
        let slot = self
            .slots
            .get_mut(idx)
            .ok_or(PeerError::UnknownDataChannel(id))?;
        match (slot.info.stream_id, slot.info.state) {
            (_, DataChannelState::Closed | DataChannelState::Closing) => return Ok(()),
            (Some(sid), _) if slot.options.is_none() => {
                slot.info.state = DataChannelState::Closing;
                self.transport.close_channel(now, sid)?;
            }
            _ => {
                slot.options = None;
                slot.info.state = DataChannelState::Closed;
                self.events.push_back(Event::DataChannelClose(id));
            }
        }
        self.after_command(now);
        Ok(())
    }

    /// Sets the threshold of [`Event::BufferedAmountLow`].
    pub fn set_buffered_amount_low_threshold(&mut self, id: DataChannelId, threshold: usize) {
        if let Some(sid) = self.slot(id).and_then(|s| s.info.stream_id) {
            self.transport
                .set_buffered_amount_low_threshold(sid, threshold);
        }
    }

    /// Sends an RTP packet on a transceiver: its SSRC becomes the transceiver's and its
    /// payload type the peer's number for the same codec. For passthrough (an echo, a relay)
    /// and for packetized frames alike.
    ///
    /// # Errors
    /// [`PeerError::NotSending`] for a transceiver that sends nothing,
    /// [`PeerError::MalformedRtp`], or the transport's refusal (not connected yet).
    pub fn write_rtp(
        &mut self,
        now: Instant,
        transceiver: TransceiverId,
        packet: &[u8],
    ) -> Result<(), PeerError> {
        let route = self
            .routes
            .iter()
            .find(|r| r.transceiver == transceiver)
            .ok_or(PeerError::NotSending(transceiver))?;
        let ssrc = route.send_ssrc.ok_or(PeerError::NotSending(transceiver))?;
        if RtpPacket::new_checked_header(packet).is_err() {
            return Err(PeerError::MalformedRtp);
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(packet);
        self.scratch[8..12].copy_from_slice(&ssrc.0.to_be_bytes());
        let pt = PayloadType::from_masked(self.scratch[1]);
        if let Some((_, remote)) = route.pt_map.iter().find(|(l, _)| *l == pt) {
            self.scratch[1] = (self.scratch[1] & 0x80) | remote.get();
        }
        let kind = packet_kind(route.kind);
        send_media(
            now,
            kind,
            false,
            &mut self.scratch,
            &mut self.congestion,
            &mut self.transport,
            &mut self.session,
        )?;
        self.stats.rtp_written += 1;
        self.pump_pacer(now);
        Ok(())
    }

    /// Receive whole encoded frames ([`Event::Frame`]) on this transceiver instead of RTP
    /// packets ([`Event::Rtp`]), or go back to packets.
    pub fn set_receive_frames(&mut self, transceiver: TransceiverId, frames: bool) {
        self.frame_mode.retain(|t| *t != transceiver);
        if frames {
            self.frame_mode.push(transceiver);
        }
    }

    /// Sends an encoded frame on a transceiver: packetized for the first negotiated codec
    /// ferrtc has a payload format for, with the transceiver's SSRC and sequence numbers.
    /// Use this or [`PeerConnection::write_rtp`] on a transceiver, not both.
    ///
    /// # Errors
    /// [`PeerError::NotSending`] for a transceiver that sends nothing or whose codecs have
    /// no payload format here; [`PeerError::Packetize`] for a frame the format refuses; the
    /// transport's refusal (not connected yet).
    pub fn write_frame(
        &mut self,
        now: Instant,
        transceiver: TransceiverId,
        data: &[u8],
        rtp_timestamp: u32,
    ) -> Result<(), PeerError> {
        let route = self
            .routes
            .iter()
            .find(|r| r.transceiver == transceiver)
            .ok_or(PeerError::NotSending(transceiver))?;
        let ssrc = route.send_ssrc.ok_or(PeerError::NotSending(transceiver))?;
        let (send, h264_mode0) = route
            .send_codec
            .and_then(|i| route.send_codecs.get(i).copied())
            .ok_or(PeerError::NotSending(transceiver))?;
        let (codec, pt) = (send.codec, send.payload_type);
        let kind = packet_kind(route.kind);
        // Room for SRTP's tag and a few header extensions.
        let mtu = self.mtu.saturating_sub(16 + 32);
        let first_seq = SeqNo(self.rng.next_u32() as u16);
        let sender = self
            .frame_senders
            .entry(transceiver)
            .or_insert_with(|| FrameSender::new(codec, h264_mode0, pt, ssrc, first_seq, mtu));
        if sender.codec != codec || sender.payload_type != pt {
            // Another codec on the same stream: its sequence numbers go on where the last
            // packet left them (a jump would look like a restart to the receiver).
            let next = sender.next_sequence_number();
            *sender = FrameSender::new(codec, h264_mode0, pt, ssrc, next, mtu);
        }
        let packets = sender
            .packetize(data, rtp_timestamp)
            .map_err(PeerError::Packetize)?;
        for p in packets {
            self.scratch.clear();
            self.scratch.extend_from_slice(&p);
            send_media(
                now,
                kind,
                false,
                &mut self.scratch,
                &mut self.congestion,
                &mut self.transport,
                &mut self.session,
            )?;
            self.stats.rtp_written += 1;
        }
        self.pump_pacer(now);
        Ok(())
    }

    /// Sends a compound RTCP packet as it is.
    ///
    /// # Errors
    /// The transport's refusal (not connected yet).
    pub fn write_rtcp(&mut self, packet: &[u8]) -> Result<(), PeerError> {
        self.transport.send_rtcp(packet)?;
        Ok(())
    }

    /// The codec [`PeerConnection::write_frame`] sends with on `transceiver`: the one
    /// chosen with [`PeerConnection::set_send_codec`] while the negotiation holds it, else
    /// the first negotiated codec ferrtc packetizes (the peer's preference). `None` while
    /// the transceiver sends nothing.
    #[must_use]
    pub fn send_codec(&self, transceiver: TransceiverId) -> Option<SendCodec> {
        let route = self.routes.iter().find(|r| r.transceiver == transceiver)?;
        route
            .send_codec
            .and_then(|i| route.send_codecs.get(i))
            .map(|(s, _)| *s)
    }

    /// Every codec the last negotiation lets `transceiver` send with that ferrtc
    /// packetizes, the peer's preference first (empty while it sends nothing). A sender
    /// that can make only some of them picks one with [`PeerConnection::set_send_codec`].
    #[must_use]
    pub fn send_codecs(&self, transceiver: TransceiverId) -> Vec<SendCodec> {
        self.routes
            .iter()
            .find(|r| r.transceiver == transceiver && r.send_codec.is_some())
            .map(|r| r.send_codecs.iter().map(|(s, _)| *s).collect())
            .unwrap_or_default()
    }

    /// Chooses the codec `transceiver` sends frames with, among those negotiated (as the
    /// W3C `RTCRtpEncodingParameters.codec` does): an answerer may send any codec of its
    /// answer, so a peer that sends AV1 can be answered with VP8 when both are in it.
    /// The choice holds across negotiations while it stays negotiated (the first codec is
    /// used meanwhile); `None` goes back to the peer's preference. The next frame starts
    /// the new codec's payload format; send it as a key frame.
    ///
    /// # Errors
    /// [`PeerError::CodecNotNegotiated`] when the current negotiation of the transceiver
    /// does not let it send `codec` (nothing changes then); [`PeerError::NotSending`] for
    /// an unknown transceiver.
    pub fn set_send_codec(
        &mut self,
        transceiver: TransceiverId,
        codec: Option<CodecKind>,
    ) -> Result<(), PeerError> {
        if self.negotiator.transceiver(transceiver).is_none() {
            return Err(PeerError::NotSending(transceiver));
        }
        let route = self
            .routes
            .iter_mut()
            .find(|r| r.transceiver == transceiver);
        let Some(codec) = codec else {
            self.send_codec_choice.remove(&transceiver);
            if let Some(r) = route.filter(|r| r.send_codec.is_some()) {
                r.send_codec = Some(0);
            }
            return Ok(());
        };
        let at = route.and_then(|r| {
            let i = r.send_codecs.iter().position(|(s, _)| s.codec == codec)?;
            r.send_codec.is_some().then_some((r, i))
        });
        let Some((route, i)) = at else {
            return Err(PeerError::CodecNotNegotiated { transceiver, codec });
        };
        route.send_codec = Some(i);
        self.send_codec_choice.insert(transceiver, codec);
        Ok(())
    }

    /// Asks the peer for a key frame of what it sends on this transceiver: a receiver
    /// report followed by a PLI (RFC 4585 §6.3.1) in one compound packet.
    ///
    /// # Errors
    /// [`PeerError::NotSending`] when no stream of the peer's is known on it yet.
    pub fn request_keyframe(&mut self, transceiver: TransceiverId) -> Result<(), PeerError> {
        let idx = self
            .routes
            .iter()
            .position(|r| r.transceiver == transceiver)
            .ok_or(PeerError::NotSending(transceiver))?;
        // The media streams' SSRCs, never an RTX stream's: a sender ignores a PLI naming
        // its RTX SSRC. Those media arrived on, else those the peer announced; in order, so
        // the packet does not depend on a hash map's.
        let mut media: Vec<Ssrc> = self
            .media_ssrcs
            .iter()
            .filter(|(_, r)| **r == idx)
            .map(|(s, _)| *s)
            .collect();
        if media.is_empty() {
            media.clone_from(&self.routes[idx].remote_media_ssrcs);
        }
        if media.is_empty() {
            return Err(PeerError::NotSending(transceiver));
        }
        media.sort_unstable_by_key(|s| s.0);
        // Simulcast has one per layer; more than a few is not a real stream.
        media.truncate(MAX_PLI_SSRCS);
        let sender = self.routes[idx].send_ssrc.unwrap_or(Ssrc(1));
        let mut p = Vec::with_capacity(8 + 12 * media.len());
        // RR with no report blocks (RFC 3550 §6.4.2): V=2, RC=0, PT=201, length 1.
        p.extend_from_slice(&[0x80, 201, 0, 1]);
        p.extend_from_slice(&sender.0.to_be_bytes());
        for m in media {
            // PLI: V=2, FMT=1, PT=206 (PSFB), length 2 (RFC 4585 §6.1, §6.3.1).
            p.extend_from_slice(&[0x81, 206, 0, 2]);
            p.extend_from_slice(&sender.0.to_be_bytes());
            p.extend_from_slice(&m.0.to_be_bytes());
        }
        // SDES CNAME: a compound packet (RFC 3550 §6.1).
        self.session.append_sdes(&mut p, &[sender]);
        self.transport.send_rtcp(&p)?;
        Ok(())
    }

    /// W3C `close`.
    pub fn close(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.negotiator.close();
        self.transport.close(now);
        self.drain_transport(now);
    }

    // ----- verbs -----

    /// Handles a datagram that arrived on our address `local` from `from`; the buffer is
    /// taken by value and decrypted in place.
    ///
    /// # Errors
    /// The datagram was dropped and counted; nothing changed.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        datagram: BytesMut,
    ) -> Result<(), ReceiveError> {
        self.handle_receive_via(now, ferrtc_types::Transport::Udp, local, from, datagram)
    }

    /// [`PeerConnection::handle_receive`] for a message that arrived over `transport`: over
    /// TCP one whole RFC 4571 frame of an ICE-TCP connection (see
    /// [`PeerConnection::add_local_tcp_address`]).
    ///
    /// # Errors
    /// The message was dropped and counted; nothing changed.
    pub fn handle_receive_via(
        &mut self,
        now: Instant,
        transport: ferrtc_types::Transport,
        local: SocketAddr,
        from: SocketAddr,
        datagram: BytesMut,
    ) -> Result<(), ReceiveError> {
        let r = self
            .transport
            .handle_receive_via(now, transport, local, from, datagram);
        self.drain_transport(now);
        self.flush_session(now);
        self.pump_pacer(now);
        self.congestion_events();
        r
    }

    /// Runs the timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.transport.handle_timeout(now);
        self.drain_transport(now);
        if self.transport.srtp_profile().is_some() {
            self.session.handle_timeout(now);
        }
        if !self.frame_receivers.is_empty() {
            self.poll_frames(now);
        }
        self.flush_session(now);
        if let Some(c) = self.congestion.as_mut().filter(|c| c.ext.is_some()) {
            c.cc.handle_timeout(now);
        }
        self.pump_pacer(now);
        self.congestion_events();
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transport.poll_transmit()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`PeerConnection::handle_timeout`] is due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let session = self
            .transport
            .srtp_profile()
            .and_then(|_| self.session.poll_timeout());
        let frames = self
            .frame_receivers
            .values()
            .filter_map(|(_, f)| f.poll_timeout())
            .min();
        let congestion = self
            .transport
            .srtp_profile()
            .and(self.congestion.as_ref())
            .filter(|c| c.ext.is_some())
            .and_then(|c| {
                // Without pacing the pacer holds nothing: only the estimator's timer.
                if c.pacing {
                    c.cc.poll_timeout()
                } else {
                    c.cc.bwe().poll_timeout()
                }
            });
        [self.transport.poll_timeout(), session, frames, congestion]
            .into_iter()
            .flatten()
            .min()
    }

    // ----- internals -----

    /// Feeds a packet of route `i` to its stream's jitter buffer and hands out what is ready.
    fn frame_input(&mut self, now: Instant, i: usize, packet: &[u8]) {
        let Ok(p) = RtpPacket::new_checked_header(packet) else {
            return;
        };
        let (ssrc, pt, seq) = (p.ssrc(), p.payload_type(), p.sequence_number().0);
        let codec = self.routes[i]
            .recv_codecs
            .iter()
            .find(|c| c.0 == pt)
            .copied();
        if let (Some((_, kind, _)), Some((_, fr))) = (codec, self.frame_receivers.get(&ssrc)) {
            if fr.codec != kind {
                if !fr.is_newer(seq) {
                    // A late packet of the codec the sender has left: no frame of it can
                    // still be completed.
                    self.stats.frame_packets_lost += 1;
                    return;
                }
                // The sender switched codecs on the stream (RFC 3550 §5.1 lets the payload
                // type change): what the old jitter buffer completed has been handed out
                // already; a new one starts with this packet.
                self.poll_frames(now);
                self.frame_receivers.remove(&ssrc);
            }
        }
        if !self.frame_receivers.contains_key(&ssrc) {
            let Some((_, kind, clock)) = codec else {
                return;
            };
            if self.frame_receivers.len() >= 64 {
                return;
            }
            let mut fr = FrameReceiver::new(kind, ssrc, clock);
            // A receive-only peer measures no RTT from reports: assume the NACK
            // generator's initial 100 ms, so the jitter buffer waits for a repair.
            fr.set_rtt(self.session.stats().rtt.unwrap_or(ASSUMED_RTT));
            self.frame_receivers.insert(ssrc, (i, fr));
        }
        if let Some((_, fr)) = self.frame_receivers.get_mut(&ssrc) {
            fr.handle_rtp(now, packet);
        }
        self.poll_frames(now);
    }

    /// Hands out ready frames, and asks for key frames the jitter buffers want.
    fn poll_frames(&mut self, now: Instant) {
        let mut keyframes = Vec::new();
        let rtt = self.session.stats().rtt;
        for (i, fr) in self.frame_receivers.values_mut() {
            if let Some(rtt) = rtt {
                fr.set_rtt(rtt);
            }
            let Some(route) = self.routes.get(*i) else {
                continue;
            };
            while let Some(r) = fr.poll(now) {
                match r {
                    Received::Frame(frame) => self.events.push_back(Event::Frame {
                        transceiver: route.transceiver,
                        mid: route.mid.clone(),
                        frame,
                    }),
                    Received::Lost(n) => self.stats.frame_packets_lost += n,
                }
            }
            if fr.wants_keyframe(now) {
                keyframes.push(route.transceiver);
            }
        }
        for t in keyframes {
            // Before the keys exist there is nothing to ask with; the jitter buffer asks again.
            let _ = self.request_keyframe(t);
        }
    }

    /// Sends what the RTP session produced: retransmissions and RTCP.
    fn flush_session(&mut self, now: Instant) {
        for p in std::mem::take(&mut self.session.rtp_out) {
            self.scratch.clear();
            self.scratch.extend_from_slice(&p);
            // Before keys or after close a retransmission is simply not sent.
            let _ = send_media(
                now,
                PacketKind::Retransmission,
                true,
                &mut self.scratch,
                &mut self.congestion,
                &mut self.transport,
                &mut self.session,
            );
        }
        for p in std::mem::take(&mut self.session.rtcp_out) {
            let _ = self.transport.send_rtcp(&p);
        }
    }

    fn slot(&self, id: DataChannelId) -> Option<&Slot> {
        self.slots.get(id.0 as usize)
    }

    fn adopt_local_credentials(&mut self, now: Instant) {
        let creds = self.negotiator.local_ice_credentials();
        let current = self.transport.local_credentials();
        if creds.ufrag != current.ufrag {
            if let Ok(c) = ice::Credentials::new(&creds.ufrag, &creds.pwd) {
                self.transport.restart_ice_with(now, c);
            }
        }
    }

    fn after_command(&mut self, now: Instant) {
        self.drain_transport(now);
        let s = self.negotiator.signaling_state();
        if s != self.signaling {
            self.signaling = s;
            self.events.push_back(Event::SignalingStateChange(s));
        }
        self.check_negotiation_needed();
    }

    fn check_negotiation_needed(&mut self) {
        let needed = self.negotiator.negotiation_needed();
        if needed && !self.negotiation_needed {
            self.events.push_back(Event::NegotiationNeeded);
        }
        self.negotiation_needed = needed;
    }

    /// Applies what an exchange settled to the transport and the routes.
    fn apply(&mut self, now: Instant, n: &Negotiation) -> Result<(), PeerError> {
        if n.provisional {
            return Ok(());
        }
        let Some(t) = n.transports.first() else {
            return Ok(());
        };
        let remote = ice::Credentials::new(&t.remote_ice.ufrag, &t.remote_ice.pwd)
            .map_err(PeerError::IceCredentials)?;
        let sctp = n.data.as_ref().map(|d| SctpParameters {
            local_port: d.local_sctp_port,
            remote_port: d.remote_sctp_port,
            remote_max_message_size: usize::try_from(d.remote_max_message_size)
                .unwrap_or(usize::MAX),
        });
        if self.started {
            self.adopt_local_credentials(now);
            if t.ice_restart {
                self.transport.set_remote_credentials(now, remote)?;
            }
            if let (Some(s), false) = (sctp, self.sctp_enabled) {
                self.transport.enable_sctp(now, s)?;
                self.sctp_enabled = true;
            }
        } else {
            let role = if t.ice_controlling {
                ice::IceRole::Controlling
            } else {
                ice::IceRole::Controlled
            };
            self.transport.set_ice_role(now, role);
            self.adopt_local_credentials(now);
            self.transport.start(
                now,
                TransportParameters {
                    ice_role: role,
                    dtls_role: t.dtls_role,
                    remote_credentials: remote,
                    remote_fingerprints: t.remote_fingerprints.clone(),
                    sctp,
                },
            )?;
            self.started = true;
            self.sctp_enabled = sctp.is_some();
        }
        for c in &t.remote_candidates {
            // Candidates the agent cannot use or already has are skipped; mDNS names are
            // counted by the transport. The peer's checks teach the agent its address as
            // peer-reflexive.
            let _ = self.transport.add_remote_candidate(now, c);
        }
        if t.remote_end_of_candidates {
            self.transport.end_of_remote_candidates(now);
        }
        if self.sctp_enabled {
            self.open_pending(now)?;
        }
        self.build_routes(now, n);
        Ok(())
    }

    /// Sends what the pacer lets go now, with their transport-wide sequence numbers, and
    /// the padding its probes ask for.
    fn pump_pacer(&mut self, now: Instant) {
        let Some(c) = self
            .congestion
            .as_mut()
            .filter(|c| c.pacing && c.ext.is_some())
        else {
            return;
        };
        // A padding-only packet: header, the transport-cc element, at most 255 bytes.
        let max_padding = RTP_HEADER + ELEMENT_OVERHEAD + MAX_PADDING_COUNT;
        c.cc.set_max_padding(self.session.can_pad().then_some(max_padding));
        while let Some(out) = c.poll() {
            match out.paced {
                Paced::Packet { mut item, .. } => {
                    write_seq(&mut item.packet, item.seq_at, out.transport_seq);
                    // After close a queued packet is simply not sent.
                    if self.transport.send_rtp(&item.packet).is_ok() && !item.repair {
                        self.session.on_sent(now, &item.packet);
                    }
                }
                Paced::Padding { size, .. } => {
                    let padding = size.saturating_sub(RTP_HEADER + ELEMENT_OVERHEAD);
                    if self.session.padding_packet(padding, &mut self.scratch) {
                        let at = c.ext.and_then(|id| ensure_element(&mut self.scratch, id));
                        write_seq(&mut self.scratch, at, out.transport_seq);
                        let _ = self.transport.send_rtp(&self.scratch);
                    }
                }
            }
        }
    }

    /// Hands out a changed target bitrate as [`Event::TargetBitrate`].
    fn congestion_events(&mut self) {
        let Some(bps) = self
            .congestion
            .as_deref_mut()
            .and_then(Congestion::poll_target)
        else {
            return;
        };
        self.set_target(bps);
    }

    fn set_target(&mut self, bps: u64) {
        self.target = Some(bps);
        let sending: Vec<&Route> = self
            .routes
            .iter()
            .filter(|r| r.send_ssrc.is_some())
            .collect();
        let weights = vec![1u32; sending.len()];
        let caps: Vec<Option<u64>> = sending
            .iter()
            .map(|r| (r.kind == MediaKind::Audio).then_some(AUDIO_SHARE_MAX_BPS))
            .collect();
        let mut shares = vec![0u64; sending.len()];
        ferrtc_bwe::split_bitrate(bps, &weights, &caps, &mut shares);
        let transceivers = sending
            .iter()
            .zip(shares)
            .map(|(r, b)| (r.transceiver, b))
            .collect();
        self.events.push_back(Event::TargetBitrate {
            bitrate: bps,
            transceivers,
        });
    }

    /// Starts, updates or stops congestion control after a negotiation: transport-wide
    /// feedback on `twcc`, or REMB alone.
    fn setup_congestion(&mut self, now: Instant, twcc: Option<ExtensionId>, remb: bool) {
        let sends = self.routes.iter().any(|r| r.send_ssrc.is_some());
        if !sends || (twcc.is_none() && !remb) {
            self.congestion = None;
            return;
        }
        match &mut self.congestion {
            Some(c) => c.ext = twcc,
            None => {
                let first = SeqNo(self.rng.next_u32() as u16);
                let mut c = Congestion::new(self.bwe_config, now, first, self.pacing);
                c.ext = twcc;
                self.congestion = Some(Box::new(c));
                let start = self.bwe_config.start_bitrate_bps.clamp(
                    self.bwe_config.min_bitrate_bps,
                    self.bwe_config
                        .max_bitrate_bps
                        .max(self.bwe_config.min_bitrate_bps),
                );
                // The estimator's own first event says the same.
                if let Some(c) = &mut self.congestion {
                    let _ = c.poll_target();
                }
                self.set_target(start);
            }
        }
    }

    fn build_routes(&mut self, now: Instant, n: &Negotiation) {
        self.mid_ext = n.media.iter().find_map(|m| m.extension_id(uri::MID));
        self.rid_ext = n.media.iter().find_map(|m| m.extension_id(uri::RID));
        let mut routes = Vec::new();
        let mut senders = Vec::new();
        let mut twcc = None;
        let mut remb = false;
        for m in &n.media {
            let mut recv = RecvSpec::default();
            let mut recv_codecs = Vec::new();
            let mut send_codecs: Vec<(SendCodec, bool)> = Vec::new();
            let mut rtx_send = Vec::new();
            let mut clock_rates = Vec::new();
            for c in &m.codecs {
                let nack = c.feedback.contains(&Feedback::Nack);
                if let Some(kind) = CodecKind::from_name(&c.name) {
                    recv_codecs.push((c.payload_type.local, kind, c.clock_rate));
                    // One entry per codec: the first payload type of it wins, as it did
                    // when only the first codec was sent.
                    if send_codecs.iter().all(|(s, _)| s.codec != kind) {
                        let mode0 = c.remote_parameter("packetization-mode") == Some("0")
                            || (kind == CodecKind::H264
                                && c.remote_parameter("packetization-mode").is_none());
                        let send = SendCodec {
                            codec: kind,
                            payload_type: c.payload_type.remote,
                            clock_rate: c.clock_rate,
                            channels: c.channels.unwrap_or(1),
                        };
                        send_codecs.push((send, mode0));
                    }
                }
                recv.codecs.push((c.payload_type.local, c.clock_rate, nack));
                clock_rates.push((c.payload_type.remote, c.clock_rate));
                if let Some(rtx) = c.rtx {
                    recv.rtx.push((rtx.local, c.payload_type.local));
                    rtx_send.push((c.payload_type.remote, rtx.remote));
                }
                if c.feedback.contains(&Feedback::TransportCc) {
                    twcc = twcc.or(m.extension_id(uri::TRANSPORT_CC));
                }
                remb |= m.sends() && c.feedback.contains(&Feedback::GoogRemb);
            }
            recv.rtx_pairs = m
                .remote_sources
                .iter()
                .filter_map(|s| s.rtx_ssrc.map(|r| (r, s.ssrc)))
                .collect();
            if let Some(send) = m.send.as_ref().filter(|_| m.sends()) {
                senders.push(SendSpec {
                    ssrc: send.ssrc,
                    rtx: send.rtx_ssrc.map(|r| (rtx_send.clone(), r)),
                    clock_rates: clock_rates.clone(),
                });
            }
            let mut pt_map = Vec::new();
            let mut recv_pts = Vec::new();
            for c in &m.codecs {
                pt_map.push((c.payload_type.local, c.payload_type.remote));
                recv_pts.push(c.payload_type.local);
                if let Some(rtx) = c.rtx {
                    pt_map.push((rtx.local, rtx.remote));
                    recv_pts.push(rtx.local);
                }
            }
            let send_codec = if m.send.is_some() && m.sends() {
                let chosen = self.send_codec_choice.get(&m.transceiver);
                chosen
                    .and_then(|c| send_codecs.iter().position(|(s, _)| s.codec == *c))
                    .or(if send_codecs.is_empty() {
                        None
                    } else {
                        Some(0)
                    })
            } else {
                None
            };
            let remote_ssrcs = m
                .remote_sources
                .iter()
                .flat_map(|s| std::iter::once(s.ssrc).chain(s.rtx_ssrc))
                .collect();
            let remote_media_ssrcs = m.remote_sources.iter().map(|s| s.ssrc).collect();
            routes.push(Route {
                transceiver: m.transceiver,
                mid: m.mid.clone(),
                kind: m.kind,
                receives: m.receives(),
                send_ssrc: m.send.as_ref().filter(|_| m.sends()).map(|s| s.ssrc),
                pt_map,
                recv_pts,
                remote_ssrcs,
                remote_media_ssrcs,
                remote_rids: m.remote_rids.clone(),
                recv,
                recv_codecs,
                send_codecs,
                send_codec,
            });
            if m.receives() && !self.tracked.contains(&m.transceiver) {
                self.tracked.push(m.transceiver);
                self.events.push_back(Event::Track {
                    transceiver: m.transceiver,
                    mid: m.mid.clone(),
                    kind: m.kind,
                });
                if self.tracks_ended {
                    // Its transport has already ended and will not come back: nothing will
                    // arrive on it, so it ends at once, as the tracks before it did.
                    self.events.push_back(Event::TrackEnded {
                        transceiver: m.transceiver,
                        mid: m.mid.clone(),
                    });
                }
            }
        }
        // Learned SSRCs stay with the mid they were learned on, if it still exists.
        let rehome = |map: &HashMap<Ssrc, usize>, routes: &[Route]| -> Vec<(Ssrc, Mid)> {
            map.iter()
                .filter_map(|(s, i)| routes.get(*i).map(|r| (*s, r.mid.clone())))
                .collect()
        };
        let old = rehome(&self.learned, &self.routes);
        let old_media = rehome(&self.media_ssrcs, &self.routes);
        self.routes = routes;
        self.session.set_senders(senders);
        self.session.set_twcc(twcc);
        self.setup_congestion(now, twcc, remb);
        self.session
            .set_reduced_size(n.media.iter().all(|m| m.rtcp_rsize));
        self.learned.clear();
        for (s, mid) in old {
            if let Some(i) = self.routes.iter().position(|r| r.mid == mid) {
                self.learned.insert(s, i);
            }
        }
        self.media_ssrcs.clear();
        for (s, mid) in old_media {
            if let Some(i) = self.routes.iter().position(|r| r.mid == mid) {
                self.media_ssrcs.insert(s, i);
            }
        }
    }

    fn open_pending(&mut self, now: Instant) -> Result<(), PeerError> {
        for i in 0..self.slots.len() {
            let Some(options) = self.slots[i].options.take() else {
                continue;
            };
            match self.transport.open_channel(now, options.clone()) {
                Ok(sid) => {
                    self.slots[i].info.stream_id = Some(sid);
                    self.by_stream.insert(sid, DataChannelId(i as u32));
                }
                Err(e) => {
                    self.slots[i].options = Some(options);
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    fn route_rtp(&mut self, packet: &[u8]) -> Option<usize> {
        let p = RtpPacket::new_checked_header(packet).ok()?;
        let ssrc = p.ssrc();
        if let Some(&i) = self.learned.get(&ssrc) {
            return Some(i);
        }
        let by_mid = self
            .mid_ext
            .and_then(|id| p.extension_value(id))
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|mid| self.routes.iter().position(|r| r.mid == *mid));
        // Simulcast streams carry their RID (RFC 8852): the route whose m-line lists it.
        let by_rid = || {
            let id = self.rid_ext?;
            let rid = std::str::from_utf8(p.extension_value(id)?).ok()?;
            self.routes
                .iter()
                .position(|r| r.remote_rids.iter().any(|x| x.as_str() == rid))
        };
        let by_ssrc = || {
            self.routes
                .iter()
                .position(|r| r.remote_ssrcs.contains(&ssrc))
        };
        let pt = p.payload_type();
        let by_pt = || {
            let mut it = self
                .routes
                .iter()
                .enumerate()
                .filter(|(_, r)| r.receives && r.recv_pts.contains(&pt));
            match (it.next(), it.next()) {
                (Some((i, _)), None) => Some(i),
                _ => None,
            }
        };
        let i = by_mid.or_else(by_rid).or_else(by_ssrc).or_else(by_pt)?;
        if self.learned.len() < MAX_LEARNED {
            self.learned.insert(ssrc, i);
        }
        Some(i)
    }

    fn on_rtcp(&mut self, now: Instant, packet: &[u8]) {
        // The compound packet (RFC 3550 §6.1), framed and parsed by ferrtc-rtp-codecs: key
        // frame requests (PLI, FIR: RFC 4585, 5104) and the peer's bandwidth feedback.
        let mut rest = packet;
        while let Ok((raw, next)) = RawRtcp::parse(rest) {
            let one = &rest[..rest.len() - next.len()];
            rest = next;
            let media = match RtcpPacket::parse(raw) {
                Ok(RtcpPacket::Pli(p)) => Some(p.media_ssrc),
                Ok(RtcpPacket::Fir(f)) => f.entries.iter().next().map(|e| e.ssrc),
                // REMB (draft-alvestrand-rmcat-remb-03): the peer's estimate, for the sender.
                Ok(RtcpPacket::Remb(r)) => {
                    let bitrate = r.bitrate();
                    self.events.push_back(Event::Remb { bitrate });
                    match &mut self.congestion {
                        Some(c) if c.ext.is_some() => c.cc.handle_remb(now, bitrate),
                        Some(_) => {
                            // REMB alone (aiortc): the peer's estimate is the target.
                            let (min, max) = (
                                self.bwe_config.min_bitrate_bps,
                                self.bwe_config.max_bitrate_bps,
                            );
                            let bps = bitrate.clamp(min, max.max(min));
                            if self.target != Some(bps) {
                                self.set_target(bps);
                            }
                        }
                        None => {}
                    }
                    None
                }
                // Transport-wide feedback about what we sent: the input of the send-side
                // bandwidth estimator.
                Ok(RtcpPacket::TransportFeedback(fb)) => {
                    if let Some(c) = self.congestion.as_mut().filter(|c| c.ext.is_some()) {
                        c.cc.handle_transport_feedback(now, &fb);
                    }
                    self.events
                        .push_back(Event::TransportFeedback(Bytes::copy_from_slice(one)));
                    None
                }
                _ => None,
            };
            if let Some(route) =
                media.and_then(|m| self.routes.iter().find(|r| r.send_ssrc == Some(m)))
            {
                self.stats.keyframe_requests += 1;
                self.events.push_back(Event::KeyframeRequest {
                    transceiver: route.transceiver,
                });
            }
        }
    }

    fn drain_transport(&mut self, now: Instant) {
        while let Some(ev) = self.transport.poll_event() {
            match ev {
                TransportEvent::LocalCandidate(c) => {
                    // Recorded so that a non-trickle peer gets it in our description.
                    let _ = self.negotiator.add_local_candidate(c.clone());
                    self.events.push_back(Event::IceCandidate(Some(c)));
                }
                TransportEvent::IceGatheringState(s) => {
                    self.events.push_back(Event::IceGatheringStateChange(s));
                    if s == ice::GatheringState::Complete {
                        let _ = self.negotiator.end_of_local_candidates();
                        self.events.push_back(Event::IceCandidate(None));
                    }
                }
                TransportEvent::IceConnectionState(s) => {
                    self.events.push_back(Event::IceConnectionStateChange(s));
                }
                TransportEvent::ConnectionState(s, cause) => {
                    self.events
                        .push_back(Event::ConnectionStateChange(s, cause));
                }
                TransportEvent::DtlsState(s) => {
                    self.events.push_back(Event::DtlsStateChange(s));
                    if s.is_final() {
                        self.on_dtls_ended();
                    }
                }
                TransportEvent::Channel(c) => self.on_channel(now, c),
                TransportEvent::Rtp(packet) => {
                    // Transport-wide feedback counts every packet, before routing.
                    self.session.on_transport_packet(now, &packet);
                    // Padding-only packets (the peer's probes) still count in the
                    // stream's sequence when they are on a media stream.
                    let padding = RtpPacket::new_checked(&packet[..])
                        .is_ok_and(|p| p.has_padding() && p.payload().is_empty());
                    self.stats.padding_received += u64::from(padding);
                    match self.route_rtp(&packet) {
                        Some(i) => {
                            let r = &self.routes[i];
                            // RTX comes out as the original; an RTX packet we cannot unwrap is
                            // dropped.
                            let Some(packet) = self.session.on_received(now, packet, &r.recv)
                            else {
                                // Padding on an RTX stream has nothing to unwrap: counted above.
                                self.stats.rtp_unroutable += u64::from(!padding);
                                continue;
                            };
                            self.stats.rtp_routed += 1;
                            if let Ok(h) = RtpPacket::new_checked_header(&packet[..]) {
                                let media = h.ssrc();
                                if self.media_ssrcs.len() < MAX_LEARNED
                                    && !self.media_ssrcs.contains_key(&media)
                                {
                                    self.media_ssrcs.insert(media, i);
                                }
                            }
                            if self.frame_mode.contains(&r.transceiver) {
                                self.frame_input(now, i, &packet);
                            } else {
                                self.events.push_back(Event::Rtp {
                                    transceiver: r.transceiver,
                                    mid: r.mid.clone(),
                                    packet,
                                });
                            }
                        }
                        None => self.stats.rtp_unroutable += 1,
                    }
                }
                TransportEvent::Rtcp(packet) => {
                    self.session.on_rtcp(now, &packet);
                    self.on_rtcp(now, &packet);
                    self.events.push_back(Event::Rtcp(packet));
                }
            }
        }
    }

    /// The DTLS transport closed or failed (final): every data channel not yet closed
    /// closes, those the SCTP association never opened included (W3C webrtc-pc §6.1.2 and
    /// §6.2.5, each `close` once: the association's own channel events that follow find
    /// them gone), and each remote track ends.
    fn on_dtls_ended(&mut self) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if slot.info.state == DataChannelState::Closed {
                continue;
            }
            slot.info.state = DataChannelState::Closed;
            slot.options = None;
            if let Some(sid) = slot.info.stream_id {
                self.by_stream.remove(&sid);
            }
            self.events
                .push_back(Event::DataChannelClose(DataChannelId(i as u32)));
        }
        if std::mem::replace(&mut self.tracks_ended, true) {
            return;
        }
        for t in &self.tracked {
            if let Some(mid) = self
                .negotiator
                .transceiver(*t)
                .and_then(|x| x.mid().cloned())
            {
                self.events.push_back(Event::TrackEnded {
                    transceiver: *t,
                    mid,
                });
            }
        }
    }

    fn on_channel(&mut self, _now: Instant, c: ChannelEvent) {
        match c {
            ChannelEvent::Open { id: sid, remote } => {
                let handle = match self.by_stream.get(&sid) {
                    Some(h) => *h,
                    None => {
                        let Some(info) = self
                            .transport
                            .data_channels()
                            .and_then(|dc| dc.channel(sid))
                        else {
                            return;
                        };
                        let (max_retransmits, max_packet_life_time) = match info.reliability {
                            sctp::Reliability::Reliable => (None, None),
                            sctp::Reliability::MaxRetransmits(n) => {
                                (Some(u16::try_from(n).unwrap_or(u16::MAX)), None)
                            }
                            sctp::Reliability::MaxLifetime(d) => {
                                (None, Some(u16::try_from(d.as_millis()).unwrap_or(u16::MAX)))
                            }
                        };
                        let h = DataChannelId(self.slots.len() as u32);
                        self.slots.push(Slot {
                            info: DataChannelInfo {
                                label: info.label.clone(),
                                protocol: info.protocol.clone(),
                                stream_id: Some(sid),
                                ordered: info.ordered,
                                max_retransmits,
                                max_packet_life_time,
                                negotiated: info.negotiated,
                                state: DataChannelState::Connecting,
                            },
                            options: None,
                            counters: [0; 4],
                        });
                        self.by_stream.insert(sid, h);
                        h
                    }
                };
                if remote && !self.slots[handle.0 as usize].info.negotiated {
                    self.events.push_back(Event::DataChannel(handle));
                }
                self.slots[handle.0 as usize].info.state = DataChannelState::Open;
                self.events.push_back(Event::DataChannelOpen(handle));
            }
            ChannelEvent::Message { id, text, data } => {
                if let Some(h) = self.by_stream.get(&id) {
                    if let Some(slot) = self.slots.get_mut(h.0 as usize) {
                        slot.counters[2] += 1;
                        slot.counters[3] += data.len() as u64;
                    }
                    self.events.push_back(Event::DataChannelMessage {
                        id: *h,
                        data,
                        binary: !text,
                    });
                }
            }
            ChannelEvent::BufferedAmountLow { id } => {
                if let Some(h) = self.by_stream.get(&id) {
                    self.events.push_back(Event::BufferedAmountLow(*h));
                }
            }
            ChannelEvent::Closed { id } => {
                if let Some(h) = self.by_stream.remove(&id) {
                    self.slots[h.0 as usize].info.state = DataChannelState::Closed;
                    self.events.push_back(Event::DataChannelClose(h));
                }
            }
        }
    }
}

/// The W3C `RTCIceTransportState` name.
fn ice_state_name(s: ice::ConnectionState) -> &'static str {
    match s {
        ice::ConnectionState::New => "new",
        ice::ConnectionState::Checking => "checking",
        ice::ConnectionState::Connected => "connected",
        ice::ConnectionState::Completed => "completed",
        ice::ConnectionState::Disconnected => "disconnected",
        ice::ConnectionState::Failed => "failed",
        ice::ConnectionState::Closed => "closed",
    }
}

/// An NTP timestamp (RFC 3550 §4: seconds since 1900 in the high 32 bits) as milliseconds
/// since the Unix epoch, as W3C `remoteTimestamp` is written.
fn ntp_to_unix_ms(ntp: u64) -> f64 {
    /// Seconds from 1900-01-01 to 1970-01-01 (RFC 868).
    const NTP_UNIX_OFFSET: f64 = 2_208_988_800.0;
    let secs = (ntp >> 32) as f64 + (ntp & 0xffff_ffff) as f64 / 4_294_967_296.0;
    (secs - NTP_UNIX_OFFSET) * 1000.0
}

/// The pacer's priority for what a transceiver of `kind` sends.
fn packet_kind(kind: MediaKind) -> PacketKind {
    match kind {
        MediaKind::Audio => PacketKind::Audio,
        MediaKind::Video => PacketKind::Video,
    }
}

/// Sends the RTP packet in `scratch` (our SSRC, the peer's payload type): with
/// transport-wide congestion control it gets its transport-cc element and is numbered at
/// once, or queued for the pacer; `repair` marks a retransmission, which the RTP session
/// does not count as new. Allocates nothing once `scratch` and the pacer have grown.
fn send_media(
    now: Instant,
    kind: PacketKind,
    repair: bool,
    scratch: &mut Vec<u8>,
    congestion: &mut Option<Box<Congestion>>,
    transport: &mut BundleTransport,
    session: &mut RtpSession,
) -> Result<(), CommandError> {
    let Some((c, id)) = congestion.as_mut().and_then(|c| c.ext.map(|id| (c, id))) else {
        transport.send_rtp(scratch)?;
        if !repair {
            session.on_sent(now, scratch);
        }
        return Ok(());
    };
    let at = ensure_element(scratch, id);
    if c.pacing {
        if transport.srtp_profile().is_none() {
            return Err(CommandError::NotConnected);
        }
        c.enqueue(now, kind, scratch, at, repair);
        return Ok(());
    }
    let seq = c.cc.send_unpaced(now, scratch.len());
    write_seq(scratch, at, seq);
    transport.send_rtp(scratch)?;
    if !repair {
        session.on_sent(now, scratch);
    }
    Ok(())
}
