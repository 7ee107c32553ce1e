//! The bundled transport: one ICE agent, one DTLS endpoint, one pair of SRTP contexts and one
//! SCTP association with its data channels, joined on one flow (max-bundle, rtcp-mux).
//!
//! [`BundleTransport`] follows the crate's verb contract (see the crate docs): inputs through
//! `handle_receive` and `handle_timeout`, outputs through `poll_transmit`, `poll_event` and
//! `poll_timeout`, commands as plain methods. It knows nothing of SDP offers and answers: the
//! negotiator tells it, through [`BundleTransport::start`], what the descriptions settled.
//!
//! Data path (RFC 7983 demultiplexing, [`crate::demux`]):
//! - STUN goes to the ICE agent;
//! - DTLS records are decrypted in place in the datagram; application data (SCTP packets) is
//!   handed on as slices of that same buffer, without a copy;
//! - SRTP and SRTCP are unprotected in place and come out as [`TransportEvent::Rtp`] and
//!   [`TransportEvent::Rtcp`], again slices of the datagram's buffer;
//! - what we send (SCTP packets through DTLS, protected RTP) leaves on the ICE-selected pair.
//!
//! # Example
//!
//! Two transports in one process, each told what its descriptions settled, open a data
//! channel and pass a message (virtual time: the loop jumps to the next deadline).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use bytes::{Bytes, BytesMut};
//! use ferrtc_dtls::Certificate;
//! use ferrtc_peerconnection::transport::*;
//! use ferrtc_sctp_datachannel::ChannelOptions;
//! use ferrtc_stun_ice::ice::IceRole;
//! use ferrtc_types::{DtlsRole, HashAlgorithm};
//! use rand::SeedableRng;
//!
//! let rng = |seed| Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed));
//! let mut now = Instant::now();
//! let (ca, cb) = (Arc::new(Certificate::generate()?), Arc::new(Certificate::generate()?));
//! let mut a = BundleTransport::new(TransportConfig::new(ca.clone()), now, rng(1));
//! let mut b = BundleTransport::new(TransportConfig::new(cb.clone()), now, rng(2));
//! let (addr_a, addr_b) = ("192.0.2.1:5000".parse()?, "192.0.2.2:6000".parse()?);
//! let sctp = Some(SctpParameters { local_port: 5000, remote_port: 5000, remote_max_message_size: 0 });
//! let params_a = TransportParameters {
//!     ice_role: IceRole::Controlling,
//!     dtls_role: DtlsRole::Server,
//!     remote_credentials: b.local_credentials().clone(),
//!     remote_fingerprints: vec![cb.fingerprint(HashAlgorithm::Sha256)],
//!     sctp,
//! };
//! let params_b = TransportParameters {
//!     ice_role: IceRole::Controlled,
//!     dtls_role: DtlsRole::Client,
//!     remote_credentials: a.local_credentials().clone(),
//!     remote_fingerprints: vec![ca.fingerprint(HashAlgorithm::Sha256)],
//!     sctp,
//! };
//! a.start(now, params_a)?;
//! b.start(now, params_b)?;
//! a.add_local_address(now, addr_a)?;
//! b.add_local_address(now, addr_b)?;
//! for c in a.local_candidates() { b.add_remote_candidate(now, &c)?; }
//! for c in b.local_candidates() { a.add_remote_candidate(now, &c)?; }
//! let id = a.open_channel(now, ChannelOptions::new("chat"))?;
//! let mut got = None;
//! for _ in 0..10_000 {
//!     while let Some(t) = a.poll_transmit() {
//!         let _ = b.handle_receive(now, t.destination, addr_a, BytesMut::from(&t.contents[..]));
//!     }
//!     while let Some(t) = b.poll_transmit() {
//!         let _ = a.handle_receive(now, t.destination, addr_b, BytesMut::from(&t.contents[..]));
//!     }
//!     while let Some(ev) = a.poll_event() {
//!         if let TransportEvent::Channel(ChannelEvent::Open { id: open, .. }) = ev {
//!             a.send_message(now, open, Bytes::from_static(b"hello"), true)?;
//!         }
//!     }
//!     while let Some(ev) = b.poll_event() {
//!         if let TransportEvent::Channel(ChannelEvent::Message { data, .. }) = ev {
//!             got = Some(data);
//!         }
//!     }
//!     if got.is_some() { break; }
//!     let next = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min();
//!     match next {
//!         Some(t) => { now = now.max(t); a.handle_timeout(now); b.handle_timeout(now); }
//!         None => break,
//!     }
//! }
//! assert_eq!(got.as_deref(), Some(&b"hello"[..]));
//! # let _ = id;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Example
//!
//! Two transports in one process, each told what its descriptions settled, open a data
//! channel and pass a message (virtual time: the loop jumps to the next deadline).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use bytes::{Bytes, BytesMut};
//! use ferrtc_dtls::Certificate;
//! use ferrtc_peerconnection::transport::*;
//! use ferrtc_sctp_datachannel::ChannelOptions;
//! use ferrtc_stun_ice::ice::IceRole;
//! use ferrtc_types::{DtlsRole, HashAlgorithm};
//! use rand::SeedableRng;
//!
//! let rng = |seed| Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed));
//! let mut now = Instant::now();
//! let (ca, cb) = (Arc::new(Certificate::generate()?), Arc::new(Certificate::generate()?));
//! let mut a = BundleTransport::new(TransportConfig::new(ca.clone()), now, rng(1));
//! let mut b = BundleTransport::new(TransportConfig::new(cb.clone()), now, rng(2));
//! let (addr_a, addr_b) = ("192.0.2.1:5000".parse()?, "192.0.2.2:6000".parse()?);
//! let sctp = Some(SctpParameters { local_port: 5000, remote_port: 5000, remote_max_message_size: 0 });
//! let params_a = TransportParameters {
//!     ice_role: IceRole::Controlling,
//!     dtls_role: DtlsRole::Server,
//!     remote_credentials: b.local_credentials().clone(),
//!     remote_fingerprints: vec![cb.fingerprint(HashAlgorithm::Sha256)],
//!     sctp,
//! };
//! let params_b = TransportParameters {
//!     ice_role: IceRole::Controlled,
//!     dtls_role: DtlsRole::Client,
//!     remote_credentials: a.local_credentials().clone(),
//!     remote_fingerprints: vec![ca.fingerprint(HashAlgorithm::Sha256)],
//!     sctp,
//! };
//! a.start(now, params_a)?;
//! b.start(now, params_b)?;
//! a.add_local_address(now, addr_a)?;
//! b.add_local_address(now, addr_b)?;
//! for c in a.local_candidates() { b.add_remote_candidate(now, &c)?; }
//! for c in b.local_candidates() { a.add_remote_candidate(now, &c)?; }
//! let id = a.open_channel(now, ChannelOptions::new("chat"))?;
//! let mut got = None;
//! for _ in 0..10_000 {
//!     while let Some(t) = a.poll_transmit() {
//!         let _ = b.handle_receive(now, t.destination, addr_a, BytesMut::from(&t.contents[..]));
//!     }
//!     while let Some(t) = b.poll_transmit() {
//!         let _ = a.handle_receive(now, t.destination, addr_b, BytesMut::from(&t.contents[..]));
//!     }
//!     while let Some(ev) = a.poll_event() {
//!         if let TransportEvent::Channel(ChannelEvent::Open { id: open, .. }) = ev {
//!             a.send_message(now, open, Bytes::from_static(b"hello"), true)?;
//!         }
//!     }
//!     while let Some(ev) = b.poll_event() {
//!         if let TransportEvent::Channel(ChannelEvent::Message { data, .. }) = ev {
//!             got = Some(data);
//!         }
//!     }
//!     if got.is_some() { break; }
//!     let next = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min();
//!     match next {
//!         Some(t) => { now = now.max(t); a.handle_timeout(now); b.handle_timeout(now); }
//!         None => break,
//!     }
//! }
//! assert_eq!(got.as_deref(), Some(&b"hello"[..]));
//! # let _ = id;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use ferrtc_dtls as dtls;
use ferrtc_sctp_datachannel as sctp;
use ferrtc_srtp as srtp;
use ferrtc_stun_ice::ice;
use ferrtc_types::{DtlsRole, Fingerprint, HashAlgorithm, SrtpProfile, Transmit, Transport};
use rand::RngCore;

use crate::candidate::{self, CandidateError};
use crate::demux::{self, Packet};

/// Most bytes kept in one send arena before a fresh one is taken; protected RTP packets are
/// cut from it and lent out as [`Bytes`].
const ARENA_CHUNK: usize = 64 * 1024;

/// Most datagrams held while the DTLS endpoint does not exist yet (a ClientHello that beats
/// the remote description): the peer retransmits anyway, this only saves a round trip.
const MAX_EARLY_DATAGRAMS: usize = 8;

/// How the transport is set up before any description exists.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// The ICE agent's settings. `role` and `credentials` are set by the transport.
    pub ice: ice::IceConfig,
    /// Our DTLS certificate; its fingerprint goes in our descriptions.
    pub certificate: Arc<dtls::Certificate>,
    /// SRTP protection profiles offered in the DTLS handshake, in preference order.
    pub srtp_profiles: Vec<SrtpProfile>,
    /// Largest datagram we send (path MTU minus IP and UDP headers).
    pub mtu: usize,
    /// SCTP settings; the ports and the remote's message size come from the descriptions.
    pub sctp: sctp::Config,
    /// SRTP context settings (replay windows, SSRC limits).
    pub srtp: srtp::Config,
}

impl TransportConfig {
    /// Defaults around `certificate`: every SRTP profile, a 1200-byte MTU.
    #[must_use]
    pub fn new(certificate: Arc<dtls::Certificate>) -> TransportConfig {
        TransportConfig {
            ice: ice::IceConfig::default(),
            certificate,
            srtp_profiles: SrtpProfile::ALL.to_vec(),
            mtu: 1200,
            sctp: sctp::Config::default(),
            srtp: srtp::Config::default(),
        }
    }
}

/// What the offer and answer settled for the transport: the input of
/// [`BundleTransport::start`].
#[derive(Debug, Clone)]
pub struct TransportParameters {
    /// Our ICE role: controlling for the offerer, unless the peer is ICE-lite.
    pub ice_role: ice::IceRole,
    /// Our DTLS role, from `a=setup` (RFC 8842 §5): the answerer to `actpass` is `active`,
    /// the client.
    pub dtls_role: DtlsRole,
    /// The peer's ICE credentials.
    pub remote_credentials: ice::Credentials,
    /// The peer's certificate must match one of these (RFC 8122 §5).
    pub remote_fingerprints: Vec<Fingerprint>,
    /// The SCTP association, when an application m-line was negotiated.
    pub sctp: Option<SctpParameters>,
}

/// The SCTP part of the descriptions (RFC 8841).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SctpParameters {
    /// Our `a=sctp-port`.
    pub local_port: u16,
    /// The peer's `a=sctp-port`.
    pub remote_port: u16,
    /// The peer's `a=max-message-size` (0: unlimited, RFC 8841 §6.1): we never send more.
    pub remote_max_message_size: usize,
}

/// The W3C `RTCDtlsTransportState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtlsState {
    /// No handshake started.
    New,
    /// Handshaking.
    Connecting,
    /// Keys agreed and the peer's fingerprint checked.
    Connected,
    /// Closed by either side: our [`BundleTransport::close`], or the peer's close_notify
    /// alert (RFC 5246 §7.2.1). Final: no application data or media is taken or sent
    /// after it, and the data channels close with the SCTP association (W3C webrtc-pc
    /// §6.1.2: an SCTP transport is closed once its DTLS transport is).
    Closed,
    /// The handshake or the connection failed.
    Failed,
}

impl DtlsState {
    /// True for `Closed` and `Failed`: the transport has ended and will not come back, so
    /// nothing more is taken or sent on it (W3C webrtc-pc §5.5.1).
    pub fn is_final(self) -> bool {
        matches!(self, DtlsState::Closed | DtlsState::Failed)
    }
}

/// The W3C `RTCPeerConnectionState`, derived from the ICE and DTLS states (W3C webrtc-pc
/// §4.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Nothing started.
    New,
    /// ICE checking or DTLS handshaking.
    Connecting,
    /// ICE connected and DTLS connected.
    Connected,
    /// ICE lost consent for a while; it may come back.
    Disconnected,
    /// ICE or DTLS failed.
    Failed,
    /// Closed.
    Closed,
}

/// Why the transport failed: the cause behind [`ConnectionState::Failed`], kept as
/// `source()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// Every candidate pair failed, or consent expired (RFC 8445, RFC 7675).
    #[error("ICE failed")]
    IceFailed,
    /// The DTLS handshake or connection failed (bad fingerprint, fatal alert, timeout).
    #[error("DTLS failed")]
    Dtls(#[source] dtls::Error),
    /// The DTLS handshake agreed on no SRTP profile although media was negotiated.
    #[error("DTLS agreed on no SRTP protection profile")]
    NoSrtpProfile,
    /// SRTP contexts could not be keyed from the exported material.
    #[error("SRTP keying failed")]
    Srtp(#[source] srtp::Error),
    /// The SCTP association ended abnormally.
    #[error("SCTP association ended: {0:?}")]
    Sctp(sctp::CloseReason),
}

/// Why a datagram was dropped by [`BundleTransport::handle_receive`]. It is counted in
/// [`TransportStats`] and never changes the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// Not STUN, DTLS, RTP or RTCP (RFC 7983).
    #[error("datagram of no known protocol")]
    UnknownProtocol,
    /// DTLS or SRTP from an address that is no remote candidate ICE knows.
    #[error("datagram from an address ICE has not seen")]
    UnknownSource,
    /// DTLS before the descriptions settled, or SRTP before DTLS agreed its keys.
    #[error("datagram before the transport was ready for it")]
    NotReady,
    /// The ICE agent dropped it.
    #[error("ICE dropped the datagram")]
    Ice(#[source] ice::ReceiveError),
    /// The DTLS endpoint dropped it.
    #[error("DTLS dropped the datagram")]
    Dtls(#[source] dtls::ReceiveError),
    /// SRTP or SRTCP refused it (authentication, replay, malformed).
    #[error("SRTP dropped the packet")]
    Srtp(#[source] srtp::Error),
    /// The transport is closed.
    #[error("transport closed")]
    Closed,
}

/// Why a command failed: API misuse, kept apart from what the peer did.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// `start` was called twice without an ICE restart in between, or after close.
    #[error("transport already started")]
    AlreadyStarted,
    /// Media sent before DTLS agreed the SRTP keys.
    #[error("SRTP keys not yet agreed")]
    NotConnected,
    /// No SCTP association was negotiated.
    #[error("no data channel transport negotiated")]
    NoSctp,
    /// A message larger than the peer's `a=max-message-size`.
    #[error("message of {len} bytes exceeds the peer's max-message-size of {max}")]
    MessageTooLarge {
        /// The message's length.
        len: usize,
        /// The peer's limit.
        max: usize,
    },
    /// The ICE agent refused the command (bad credentials or candidate).
    #[error("ICE refused the command")]
    Ice(#[source] ice::IceError),
    /// A remote candidate the ICE agent cannot use.
    #[error("unusable remote candidate")]
    Candidate(#[source] CandidateError),
    /// The SCTP layer refused it (unknown channel, buffer full, closed channel).
    #[error("data channel command refused")]
    Sctp(#[source] sctp::Error),
    /// SRTP refused to protect the packet.
    #[error("SRTP refused the packet")]
    Srtp(#[source] srtp::Error),
    /// DTLS could not be set up with this configuration.
    #[error("DTLS setup failed")]
    Dtls(#[source] dtls::Error),
    /// The transport is closed.
    #[error("transport closed")]
    Closed,
}

/// Counters of what the transport dropped and passed on. Those of each layer are in its own
/// stats ([`BundleTransport::ice_stats`], ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Datagrams of no known protocol.
    pub unknown_protocol: u64,
    /// DTLS or SRTP datagrams from unknown addresses.
    pub unknown_source: u64,
    /// Datagrams that came before the layer for them was ready.
    pub not_ready: u64,
    /// Datagrams dropped by the ICE agent.
    pub ice_dropped: u64,
    /// Datagrams dropped by the DTLS endpoint.
    pub dtls_dropped: u64,
    /// Packets dropped by SRTP/SRTCP.
    pub srtp_dropped: u64,
    /// Datagrams of ours with no selected pair to leave on: dropped.
    pub unroutable: u64,
    /// RTP packets received and unprotected.
    pub rtp_received: u64,
    /// RTCP packets received and unprotected.
    pub rtcp_received: u64,
    /// RTP packets protected and sent.
    pub rtp_sent: u64,
    /// RTCP packets protected and sent.
    pub rtcp_sent: u64,
    /// DTLS, RTP and RTCP datagrams that came after the DTLS transport closed or failed
    /// (the peer's close_notify, a fatal alert): dropped, nothing is taken on that
    /// association any more.
    pub after_dtls_closed: u64,
    /// Bytes of datagrams received.
    pub bytes_received: u64,
    /// Bytes of datagrams sent.
    pub bytes_sent: u64,
    /// Remote candidates whose address is a name (a browser's mDNS `.local` name) this core
    /// cannot resolve: ignored as RFC 8839 §5.1 says, kept out of the checklist. The peer's
    /// own checks still reach our candidates and teach the agent its address as
    /// peer-reflexive (RFC 8445 §7.3.1.3).
    pub unresolved_remote_candidates: u64,
}

/// A data channel event of the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// A channel opened: one we created, once the association is up, or one the peer
    /// announced.
    Open {
        /// The SCTP stream id.
        id: u16,
        /// Whether the peer opened it.
        remote: bool,
    },
    /// A message arrived.
    Message {
        /// The channel.
        id: u16,
        /// A UTF-8 string (true) or binary.
        text: bool,
        /// The bytes.
        data: Bytes,
    },
    /// The buffered amount fell to or below the low threshold.
    BufferedAmountLow {
        /// The channel.
        id: u16,
    },
    /// The channel closed in both directions.
    Closed {
        /// The channel.
        id: u16,
    },
}

/// What the layer above needs to know, from [`BundleTransport::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportEvent {
    /// A local candidate to signal (trickle, RFC 8838).
    LocalCandidate(ferrtc_sdp::Candidate),
    /// The ICE gathering state changed; `Complete` is end-of-candidates.
    IceGatheringState(ice::GatheringState),
    /// The ICE connection state changed.
    IceConnectionState(ice::ConnectionState),
    /// The DTLS transport state changed.
    DtlsState(DtlsState),
    /// The aggregated connection state changed; `Failed` comes with the cause.
    ConnectionState(ConnectionState, Option<TransportError>),
    /// A data channel event.
    Channel(ChannelEvent),
    /// An RTP packet, unprotected: a slice of the datagram's buffer.
    Rtp(Bytes),
    /// A compound RTCP packet, unprotected.
    Rtcp(Bytes),
}

/// One bundled transport. See the module docs.
pub struct BundleTransport {
    config: TransportConfig,
    rng: Box<dyn RngCore + Send>,
    credentials: ice::Credentials,
    ice: Option<ice::Agent>,
    /// Host addresses handed in before the agent existed.
    pending_hosts: Vec<SocketAddr>,
    /// TCP host candidates (RFC 6544) handed in before the agent existed.
    pending_tcp_hosts: Vec<(SocketAddr, ferrtc_types::TcpType)>,
    /// Relayed candidates (relayed, mapped, server) handed in before the agent existed.
    pending_relays: Vec<(
        SocketAddr,
        Option<SocketAddr>,
        SocketAddr,
        ferrtc_types::Transport,
    )>,
    hosts_complete: bool,
    params: Option<TransportParameters>,
    dtls: Option<dtls::Endpoint>,
    dtls_state: DtlsState,
    early: Vec<(SocketAddr, BytesMut)>,
    /// The profile DTLS agreed; its contexts are built on the first SRTP packet either way
    /// ([`BundleTransport::ensure_srtp`]), so a session without media never holds them
    /// (some 4 KiB of key schedules and replay windows).
    srtp_agreed: Option<SrtpProfile>,
    srtp: Option<Box<srtp::DtlsSrtpContexts>>,
    sctp: Option<sctp::DataChannels>,
    selected: Option<ice::SelectedPair>,
    ice_state: ice::ConnectionState,
    state: ConnectionState,
    failure: Option<TransportError>,
    closed: bool,
    arena: BytesMut,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TransportEvent>,
    stats: TransportStats,
}

impl core::fmt::Debug for BundleTransport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BundleTransport")
            .field("state", &self.state)
            .field("ice_state", &self.ice_state)
            .field("dtls_state", &self.dtls_state)
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

impl BundleTransport {
    /// A transport with fresh ICE credentials drawn from `rng`. Nothing is sent until a role
    /// is known ([`BundleTransport::set_ice_role`] or [`BundleTransport::start`]).
    #[must_use]
    pub fn new(config: TransportConfig, now: Instant, mut rng: Box<dyn RngCore + Send>) -> Self {
        let _ = now;
        let credentials = config
            .ice
            .credentials
            .clone()
            .unwrap_or_else(|| ice::Credentials::random(&mut *rng));
        BundleTransport {
            config,
            rng,
            credentials,
            ice: None,
            pending_hosts: Vec::new(),
            pending_tcp_hosts: Vec::new(),
            pending_relays: Vec::new(),
            hosts_complete: false,
            params: None,
            dtls: None,
            dtls_state: DtlsState::New,
            early: Vec::new(),
            srtp_agreed: None,
            srtp: None,
            sctp: None,
            selected: None,
            ice_state: ice::ConnectionState::New,
            state: ConnectionState::New,
            failure: None,
            closed: false,
            arena: BytesMut::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: TransportStats::default(),
        }
    }

    // ----- getters -----

    /// Our ICE credentials, for `a=ice-ufrag` and `a=ice-pwd`.
    #[must_use]
    pub fn local_credentials(&self) -> &ice::Credentials {
        self.ice
            .as_ref()
            .map_or(&self.credentials, |a| a.local_credentials())
    }

    /// Our certificate's SHA-256 fingerprint, for `a=fingerprint`.
    #[must_use]
    pub fn local_fingerprint(&self) -> Fingerprint {
        self.config.certificate.fingerprint(HashAlgorithm::Sha256)
    }

    /// Our local candidates so far, in SDP form.
    #[must_use]
    pub fn local_candidates(&self) -> Vec<ferrtc_sdp::Candidate> {
        self.ice
            .as_ref()
            .map(|a| a.local_candidates().iter().map(candidate::to_sdp).collect())
            .unwrap_or_default()
    }

    /// The aggregated connection state.
    #[must_use]
    pub fn connection_state(&self) -> ConnectionState {
        self.state
    }

    /// The ICE connection state.
    #[must_use]
    pub fn ice_connection_state(&self) -> ice::ConnectionState {
        self.ice_state
    }

    /// The ICE gathering state.
    #[must_use]
    pub fn ice_gathering_state(&self) -> ice::GatheringState {
        self.ice
            .as_ref()
            .map_or(ice::GatheringState::New, ice::Agent::gathering_state)
    }

    /// The DTLS transport state.
    #[must_use]
    pub fn dtls_state(&self) -> DtlsState {
        self.dtls_state
    }

    /// The pair media flows on, once ICE selected one.
    #[must_use]
    pub fn selected_pair(&self) -> Option<&ice::SelectedPair> {
        self.selected.as_ref()
    }

    /// The SRTP profile DTLS agreed, once connected.
    #[must_use]
    pub fn srtp_profile(&self) -> Option<SrtpProfile> {
        self.srtp_agreed
    }

    /// The transport's own counters.
    #[must_use]
    pub fn stats(&self) -> TransportStats {
        self.stats
    }

    /// The ICE agent's counters.
    #[must_use]
    pub fn ice_stats(&self) -> Option<ice::IceStats> {
        self.ice.as_ref().map(ice::Agent::stats)
    }

    /// The DTLS endpoint's counters.
    #[must_use]
    pub fn dtls_stats(&self) -> Option<&dtls::Stats> {
        self.dtls.as_ref().map(dtls::Endpoint::stats)
    }

    /// The SRTP contexts' counters (ours, the peer's); `None` until the first SRTP packet.
    #[must_use]
    pub fn srtp_stats(&self) -> Option<(&srtp::Stats, &srtp::Stats)> {
        self.srtp
            .as_ref()
            .map(|s| (s.local.stats(), s.remote.stats()))
    }

    /// The ICE agent, once a role is known (for candidates and pairs in `getStats()`).
    #[must_use]
    pub fn ice_agent(&self) -> Option<&ice::Agent> {
        self.ice.as_ref()
    }

    /// The data channels, once an association was negotiated.
    #[must_use]
    pub fn data_channels(&self) -> Option<&sctp::DataChannels> {
        self.sctp.as_ref()
    }

    // ----- commands -----

    /// Fixes our ICE role and creates the agent, which then gathers from the host addresses
    /// handed in. Called when the first description is applied: the offerer is
    /// controlling. A second call is ignored (roles change only through conflicts, which
    /// the agent resolves itself).
    pub fn set_ice_role(&mut self, now: Instant, role: ice::IceRole) {
        if self.ice.is_some() || self.closed {
            return;
        }
        let mut cfg = self.config.ice.clone();
        cfg.role = role;
        cfg.credentials = Some(self.credentials.clone());
        let mut agent = ice::Agent::new(cfg, now, &mut *self.rng);
        for addr in self.pending_hosts.drain(..) {
            // An address the agent refuses (a duplicate, the 32-candidate limit) is skipped.
            let _ = agent.add_local_host_address(addr);
        }
        for (addr, tcp_type) in self.pending_tcp_hosts.drain(..) {
            let _ = agent.add_local_tcp_host_address(addr, tcp_type);
        }
        for (relayed, mapped, server, via) in self.pending_relays.drain(..) {
            let _ = agent.add_local_relayed_candidate_via(relayed, mapped, server, via);
        }
        if self.hosts_complete {
            agent.end_of_local_host_addresses();
        }
        self.ice = Some(agent);
        self.pump(now);
    }

    /// A local address to gather a host candidate from (the driver lists its interfaces).
    ///
    /// # Errors
    /// [`CommandError::Ice`] if the agent refuses it.
    pub fn add_local_address(
        &mut self,
        now: Instant,
        addr: SocketAddr,
    ) -> Result<(), CommandError> {
        match &mut self.ice {
            Some(agent) => agent
                .add_local_host_address(addr)
                .map_err(CommandError::Ice)?,
            None => self.pending_hosts.push(addr),
        }
        self.pump(now);
        Ok(())
    }

    /// A TCP host candidate (ICE-TCP, RFC 6544) on `addr`: for a `Passive` one the address
    /// and port the driver listens on, for an `Active` one the address with port 9 (RFC 6544
    /// §4.5). The driver owns the connections and their RFC 4571 framing: checks and media
    /// on such a candidate come out of [`BundleTransport::poll_transmit`] with `transport`
    /// TCP and `source` equal to `addr`, and the frames a connection brings go to
    /// [`BundleTransport::handle_receive_via`] with `local` equal to `addr`.
    ///
    /// # Errors
    /// [`CommandError::Ice`] if the agent refuses it.
    pub fn add_local_tcp_address(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        tcp_type: ferrtc_types::TcpType,
    ) -> Result<(), CommandError> {
        match &mut self.ice {
            Some(agent) => agent
                .add_local_tcp_host_address(addr, tcp_type)
                .map_err(CommandError::Ice)?,
            None => self.pending_tcp_hosts.push((addr, tcp_type)),
        }
        self.pump(now);
        Ok(())
    }

    /// A relayed candidate from a TURN allocation the driver made (RFC 8656 §7.3):
    /// `relayed` is the allocation's relayed transport address, `mapped` its
    /// server-reflexive address (the candidate's related address), `server` the TURN
    /// server. Checks and media for it come out of [`BundleTransport::poll_transmit`] with
    /// `source` equal to `relayed`: the driver sends them through the allocation, and hands
    /// what the allocation receives to [`BundleTransport::handle_receive`] with `local`
    /// equal to `relayed`.
    ///
    /// # Errors
    /// [`CommandError::Ice`] if the agent refuses it.
    pub fn add_local_relayed_candidate(
        &mut self,
        now: Instant,
        relayed: SocketAddr,
        mapped: Option<SocketAddr>,
        server: SocketAddr,
    ) -> Result<(), CommandError> {
        self.add_local_relayed_candidate_via(
            now,
            relayed,
            mapped,
            server,
            ferrtc_types::Transport::Udp,
        )
    }

    /// Like [`BundleTransport::add_local_relayed_candidate`], for an allocation on a TURN
    /// server reached over `via` (UDP, TCP or TLS): the candidate is UDP all the same (the
    /// relay-to-peer leg), and ranks below relays reached over UDP, TLS below TCP
    /// (`ice::candidate::relayed_local_preference`).
    ///
    /// # Errors
    /// [`CommandError::Ice`] if the agent refuses it.
    pub fn add_local_relayed_candidate_via(
        &mut self,
        now: Instant,
        relayed: SocketAddr,
        mapped: Option<SocketAddr>,
        server: SocketAddr,
        via: ferrtc_types::Transport,
    ) -> Result<(), CommandError> {
        match &mut self.ice {
            Some(agent) => agent
                .add_local_relayed_candidate_via(relayed, mapped, server, via)
                .map_err(CommandError::Ice)?,
            None => self.pending_relays.push((relayed, mapped, server, via)),
        }
        self.pump(now);
        Ok(())
    }

    /// No more host addresses (nor relayed candidates) come: gathering completes once
    /// servers answered.
    pub fn end_of_local_addresses(&mut self, now: Instant) {
        self.hosts_complete = true;
        if let Some(agent) = &mut self.ice {
            agent.end_of_local_host_addresses();
        }
        self.pump(now);
    }

    /// Applies what the descriptions settled: the peer's ICE credentials, both DTLS roles and
    /// fingerprints, the SCTP ports. A DTLS client starts its handshake once ICE selects a
    /// pair.
    ///
    /// # Errors
    /// [`CommandError::AlreadyStarted`] on a second call, [`CommandError::Ice`] for bad
    /// credentials, [`CommandError::Dtls`] for a DTLS configuration it refuses.
    pub fn start(&mut self, now: Instant, params: TransportParameters) -> Result<(), CommandError> {
        if self.closed {
            return Err(CommandError::Closed);
        }
        if self.params.is_some() {
            return Err(CommandError::AlreadyStarted);
        }
        self.set_ice_role(now, params.ice_role);
        let Some(agent) = &mut self.ice else {
            return Err(CommandError::Closed);
        };
        agent
            .set_remote_credentials(params.remote_credentials.clone())
            .map_err(CommandError::Ice)?;
        let mut dcfg = dtls::Config::new(
            params.dtls_role,
            Arc::clone(&self.config.certificate),
            params.remote_fingerprints.clone(),
        );
        dcfg.srtp_profiles = self.config.srtp_profiles.clone();
        dcfg.mtu = self.config.mtu;
        let mut seed = [0u8; 32];
        self.rng.fill_bytes(&mut seed);
        let dtls_rng: Box<dyn RngCore + Send> = Box::new(
            <rand_chacha::ChaCha20Rng as rand::SeedableRng>::from_seed(seed),
        );
        let endpoint =
            dtls::Endpoint::new(Arc::new(dcfg), now, dtls_rng).map_err(CommandError::Dtls)?;
        self.dtls = Some(endpoint);
        if let Some(s) = params.sctp {
            let mut scfg = self.config.sctp.clone();
            scfg.local_port = s.local_port;
            scfg.remote_port = s.remote_port;
            scfg.mtu = self.config.mtu.saturating_sub(dtls_overhead());
            self.sctp = Some(sctp::DataChannels::new(
                scfg,
                params.dtls_role,
                now,
                &mut *self.rng,
            ));
        }
        self.params = Some(params);
        if self.dtls_state == DtlsState::New {
            self.set_dtls_state(DtlsState::Connecting);
        }
        // Datagrams that beat the description: replay them now.
        for (from, datagram) in std::mem::take(&mut self.early) {
            let _ = self.receive_dtls(now, from, datagram);
        }
        self.maybe_connect_dtls(now);
        self.pump(now);
        Ok(())
    }

    /// A remote candidate from the peer's description or a trickled `a=candidate`.
    ///
    /// One whose address is a name (an mDNS `.local` name) is ignored (RFC 8839 §5.1) and
    /// counted in [`TransportStats::unresolved_remote_candidates`]: the peer's checks teach
    /// the agent its address as peer-reflexive (RFC 8445 §7.3.1.3).
    ///
    /// # Errors
    /// [`CommandError::Candidate`] for one the agent cannot use (an unknown transport or
    /// type), [`CommandError::Ice`] if the agent refuses it.
    pub fn add_remote_candidate(
        &mut self,
        now: Instant,
        c: &ferrtc_sdp::Candidate,
    ) -> Result<(), CommandError> {
        let c = match candidate::from_sdp(c) {
            Ok(c) => c,
            Err(CandidateError::Unresolved(name)) => {
                self.stats.unresolved_remote_candidates += 1;
                tracing::debug!(
                    address = %name,
                    port = c.port,
                    "remote candidate names a host we cannot resolve (mDNS?): ignored, \
                     awaiting its peer-reflexive address from the peer's checks"
                );
                return Ok(());
            }
            Err(e) => return Err(CommandError::Candidate(e)),
        };
        let Some(agent) = &mut self.ice else {
            return Err(CommandError::NotConnected);
        };
        agent.add_remote_candidate(c).map_err(CommandError::Ice)?;
        self.pump(now);
        Ok(())
    }

    /// The peer signalled end-of-candidates.
    pub fn end_of_remote_candidates(&mut self, now: Instant) {
        if let Some(agent) = &mut self.ice {
            agent.end_of_remote_candidates();
        }
        self.pump(now);
    }

    /// ICE restart (RFC 8445 §9): new local credentials for the next description; media
    /// and data keep flowing on the current pair until a new one is selected.
    pub fn restart_ice(&mut self, now: Instant) {
        if let Some(agent) = &mut self.ice {
            agent.restart();
            self.credentials = agent.local_credentials().clone();
        } else {
            self.credentials = ice::Credentials::random(&mut *self.rng);
        }
        self.pump(now);
    }

    /// [`BundleTransport::restart_ice`] with credentials the caller chose (the negotiator
    /// draws them for the next offer).
    pub fn restart_ice_with(&mut self, now: Instant, credentials: ice::Credentials) {
        self.credentials = credentials.clone();
        if let Some(agent) = &mut self.ice {
            agent.restart_with(credentials);
        }
        self.pump(now);
    }

    /// Starts the SCTP association when a renegotiation adds the application m-line after
    /// [`BundleTransport::start`]; a second call is refused.
    ///
    /// # Errors
    /// [`CommandError::NotConnected`] before `start`, [`CommandError::AlreadyStarted`] when
    /// an association exists.
    pub fn enable_sctp(&mut self, now: Instant, sctp: SctpParameters) -> Result<(), CommandError> {
        let Some(params) = &mut self.params else {
            return Err(CommandError::NotConnected);
        };
        if self.sctp.is_some() {
            return Err(CommandError::AlreadyStarted);
        }
        params.sctp = Some(sctp);
        let role = params.dtls_role;
        let mut scfg = self.config.sctp.clone();
        scfg.local_port = sctp.local_port;
        scfg.remote_port = sctp.remote_port;
        scfg.mtu = self.config.mtu.saturating_sub(dtls_overhead());
        let mut dc = sctp::DataChannels::new(scfg, role, now, &mut *self.rng);
        let remote = self.dtls.as_ref().and_then(dtls::Endpoint::remote);
        if let (true, Some(remote), DtlsRole::Client) = (
            self.dtls.as_ref().is_some_and(dtls::Endpoint::is_connected),
            remote,
            role,
        ) {
            dc.connect(now, remote);
        }
        self.sctp = Some(dc);
        self.pump(now);
        Ok(())
    }

    /// The peer's new credentials after an ICE restart.
    ///
    /// # Errors
    /// [`CommandError::Ice`] for credentials the agent refuses.
    pub fn set_remote_credentials(
        &mut self,
        now: Instant,
        creds: ice::Credentials,
    ) -> Result<(), CommandError> {
        let Some(agent) = &mut self.ice else {
            return Err(CommandError::NotConnected);
        };
        agent
            .set_remote_credentials(creds)
            .map_err(CommandError::Ice)?;
        self.pump(now);
        Ok(())
    }

    /// Opens a data channel (announced with DCEP unless `negotiated`); it opens once the
    /// association is up.
    ///
    /// # Errors
    /// [`CommandError::NoSctp`] without a negotiated association, [`CommandError::Sctp`]
    /// for an id in use or out of range.
    pub fn open_channel(
        &mut self,
        now: Instant,
        options: sctp::ChannelOptions,
    ) -> Result<u16, CommandError> {
        let dc = self.sctp.as_mut().ok_or(CommandError::NoSctp)?;
        let id = dc.open_channel(now, options).map_err(CommandError::Sctp)?;
        self.pump(now);
        Ok(id)
    }

    /// Sends a message on a channel.
    ///
    /// # Errors
    /// [`CommandError::MessageTooLarge`] over the peer's limit, [`CommandError::Sctp`] for an
    /// unknown or closed channel or a full send buffer.
    pub fn send_message(
        &mut self,
        now: Instant,
        id: u16,
        data: Bytes,
        text: bool,
    ) -> Result<(), CommandError> {
        let max = self
            .params
            .as_ref()
            .and_then(|p| p.sctp)
            .map_or(0, |s| s.remote_max_message_size);
        if max != 0 && data.len() > max {
            return Err(CommandError::MessageTooLarge {
                len: data.len(),
                max,
            });
        }
        let dc = self.sctp.as_mut().ok_or(CommandError::NoSctp)?;
        dc.send(now, id, data, text).map_err(CommandError::Sctp)?;
        self.pump(now);
        Ok(())
    }

    /// Closes a channel (stream reset, RFC 8831 §6.7).
    ///
    /// # Errors
    /// [`CommandError::Sctp`] for an unknown channel.
    pub fn close_channel(&mut self, now: Instant, id: u16) -> Result<(), CommandError> {
        let dc = self.sctp.as_mut().ok_or(CommandError::NoSctp)?;
        dc.close_channel(id).map_err(CommandError::Sctp)?;
        self.pump(now);
        Ok(())
    }

    /// Sets the threshold under which [`ChannelEvent::BufferedAmountLow`] fires.
    pub fn set_buffered_amount_low_threshold(&mut self, id: u16, threshold: usize) {
        if let Some(dc) = &mut self.sctp {
            dc.set_buffered_amount_low_threshold(id, threshold);
        }
    }

    /// Bytes queued on a channel and not yet acknowledged.
    #[must_use]
    pub fn buffered_amount(&self, id: u16) -> usize {
        self.sctp.as_ref().map_or(0, |dc| dc.buffered_amount(id))
    }

    /// Protects an RTP packet and queues it on the selected pair. The packet is copied once
    /// into a send arena that is reused, so nothing is allocated per packet in steady state.
    ///
    /// # Errors
    /// [`CommandError::NotConnected`] before DTLS agreed the keys, [`CommandError::Closed`]
    /// once the DTLS transport closed or failed, [`CommandError::Srtp`] if SRTP refuses the
    /// packet.
    pub fn send_rtp(&mut self, packet: &[u8]) -> Result<(), CommandError> {
        self.send_media(packet, false)
    }

    /// Protects a compound RTCP packet and queues it.
    ///
    /// # Errors
    /// As [`BundleTransport::send_rtp`].
    pub fn send_rtcp(&mut self, packet: &[u8]) -> Result<(), CommandError> {
        self.send_media(packet, true)
    }

    fn send_media(&mut self, packet: &[u8], rtcp: bool) -> Result<(), CommandError> {
        if self.dtls_state.is_final() {
            return Err(CommandError::Closed);
        }
        self.ensure_srtp();
        let Some(ctx) = self.srtp.as_mut() else {
            return Err(CommandError::NotConnected);
        };
        let Some(pair) = &self.selected else {
            self.stats.unroutable += 1;
            return Err(CommandError::NotConnected);
        };
        let profile = ctx.local.profile();
        let room = packet.len()
            + if rtcp {
                profile.rtcp_overhead()
            } else {
                profile.rtp_overhead()
            };
        if self.arena.capacity() - self.arena.len() < room {
            self.arena.reserve(room.max(ARENA_CHUNK));
        }
        self.arena.extend_from_slice(packet);
        self.arena.resize(room, 0);
        let protected = if rtcp {
            ctx.local.protect_rtcp(&mut self.arena, packet.len())
        } else {
            ctx.local.protect_rtp(&mut self.arena, packet.len())
        };
        let len = match protected {
            Ok(len) => len,
            Err(e) => {
                self.arena.clear();
                return Err(CommandError::Srtp(e));
            }
        };
        self.arena.truncate(len);
        let contents = self.arena.split().freeze();
        if rtcp {
            self.stats.rtcp_sent += 1;
        } else {
            self.stats.rtp_sent += 1;
        }
        self.stats.bytes_sent += contents.len() as u64;
        self.transmits.push_back(Transmit {
            source: Some(pair.local.base),
            destination: pair.remote.address,
            transport: transport_of(&pair.local),
            contents,
            segment_size: None,
        });
        Ok(())
    }

    /// Closes everything: SCTP and DTLS say goodbye (close_notify), ICE stops.
    pub fn close(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if let Some(dc) = &mut self.sctp {
            dc.association_mut().abort();
        }
        self.pump(now);
        if let Some(d) = &mut self.dtls {
            d.close();
        }
        self.drain_dtls_transmits();
        if let Some(agent) = &mut self.ice {
            agent.close();
        }
        self.closed = true;
        if self.dtls_state != DtlsState::Failed {
            self.set_dtls_state(DtlsState::Closed);
        }
        self.set_state(ConnectionState::Closed, None);
    }

    // ----- verbs -----

    /// Handles a datagram that arrived on our address `local` from `from`. The buffer is
    /// taken by value: DTLS and SRTP decrypt in place, and what goes up (SCTP packets, RTP)
    /// is handed on as slices of it.
    ///
    /// # Errors
    /// The datagram was dropped and counted in [`BundleTransport::stats`]; the connection is
    /// unchanged.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        datagram: BytesMut,
    ) -> Result<(), ReceiveError> {
        self.handle_receive_via(now, Transport::Udp, local, from, datagram)
    }

    /// [`BundleTransport::handle_receive`] for a message that arrived over `transport`:
    /// over TCP (ICE-TCP, RFC 6544) one whole frame the driver took out of the RFC 4571
    /// framing of the connection between our candidate `local` and `from`.
    ///
    /// # Errors
    /// As [`BundleTransport::handle_receive`].
    pub fn handle_receive_via(
        &mut self,
        now: Instant,
        transport: Transport,
        local: SocketAddr,
        from: SocketAddr,
        datagram: BytesMut,
    ) -> Result<(), ReceiveError> {
        if self.closed {
            return Err(ReceiveError::Closed);
        }
        self.stats.bytes_received += datagram.len() as u64;
        let result = match demux::classify(&datagram) {
            Packet::Stun => match &mut self.ice {
                Some(agent) => agent
                    .handle_receive(now, transport, local, from, &datagram)
                    .map_err(|e| {
                        self.stats.ice_dropped += 1;
                        ReceiveError::Ice(e)
                    }),
                None => {
                    self.stats.not_ready += 1;
                    Err(ReceiveError::NotReady)
                }
            },
            Packet::Dtls => self.receive_dtls(now, from, datagram),
            Packet::Rtp => self.receive_srtp(from, datagram, false),
            Packet::Rtcp => self.receive_srtp(from, datagram, true),
            Packet::Unknown => {
                self.stats.unknown_protocol += 1;
                Err(ReceiveError::UnknownProtocol)
            }
        };
        self.pump(now);
        result
    }

    /// Runs every layer's timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if let Some(agent) = &mut self.ice {
            agent.handle_timeout(now);
        }
        if let Some(d) = &mut self.dtls {
            d.handle_timeout(now);
        }
        if let Some(dc) = &mut self.sctp {
            dc.handle_timeout(now);
        }
        self.pump(now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<TransportEvent> {
        self.events.pop_front()
    }

    /// When [`BundleTransport::handle_timeout`] is due next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        [
            self.ice.as_ref().and_then(ice::Agent::poll_timeout),
            self.dtls.as_ref().and_then(dtls::Endpoint::poll_timeout),
            self.sctp
                .as_ref()
                .and_then(sctp::DataChannels::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ----- internals -----

    fn known_source(&self, from: SocketAddr) -> bool {
        self.selected
            .as_ref()
            .is_some_and(|p| p.remote.address == from)
            || self
                .ice
                .as_ref()
                .is_some_and(|a| a.remote_candidates().iter().any(|c| c.address == from))
    }

    fn receive_dtls(
        &mut self,
        now: Instant,
        from: SocketAddr,
        mut datagram: BytesMut,
    ) -> Result<(), ReceiveError> {
        if !self.known_source(from) {
            if self.dtls.is_none() && self.early.len() < MAX_EARLY_DATAGRAMS {
                // The peer's checks may have reached us before its description did.
                self.early.push((from, datagram));
                self.stats.not_ready += 1;
                return Err(ReceiveError::NotReady);
            }
            self.stats.unknown_source += 1;
            return Err(ReceiveError::UnknownSource);
        }
        if self.dtls_state.is_final() {
            self.stats.after_dtls_closed += 1;
            return Err(ReceiveError::Closed);
        }
        let Some(endpoint) = &mut self.dtls else {
            if self.early.len() < MAX_EARLY_DATAGRAMS {
                self.early.push((from, datagram));
            }
            self.stats.not_ready += 1;
            return Err(ReceiveError::NotReady);
        };
        let ranges = match endpoint.handle_receive(now, from, &mut datagram) {
            Ok(r) => r,
            Err(e) => {
                self.stats.dtls_dropped += 1;
                return Err(ReceiveError::Dtls(e));
            }
        };
        if ranges.is_empty() {
            return Ok(());
        }
        let frozen = datagram.freeze();
        // Events first: a Connected event in the same datagram creates the SRTP contexts and
        // connects SCTP before the data is handed on.
        self.drain_dtls_events(now);
        if let Some(dc) = &mut self.sctp {
            for r in ranges.iter() {
                // An SCTP packet the association drops is counted there.
                let _ = dc.handle_receive(now, from, frozen.slice(r));
            }
        }
        Ok(())
    }

    /// Builds the SRTP contexts from the DTLS keys if a profile was agreed and they are not
    /// built yet (once per connection, on its first SRTP packet in either direction).
    fn ensure_srtp(&mut self) {
        if self.srtp.is_some() || self.srtp_agreed.is_none() {
            return;
        }
        let Some(Ok(keys)) = self.dtls.as_ref().map(dtls::Endpoint::srtp_keys) else {
            return;
        };
        if let Ok(ctx) = srtp::DtlsSrtpContexts::new(&keys, self.config.srtp.clone()) {
            self.srtp = Some(Box::new(ctx));
        }
    }

    fn receive_srtp(
        &mut self,
        from: SocketAddr,
        mut datagram: BytesMut,
        rtcp: bool,
    ) -> Result<(), ReceiveError> {
        if !self.known_source(from) {
            self.stats.unknown_source += 1;
            return Err(ReceiveError::UnknownSource);
        }
        if self.dtls_state.is_final() {
            // The keys belong to an association that has ended.
            self.stats.after_dtls_closed += 1;
            return Err(ReceiveError::Closed);
        }
        self.ensure_srtp();
        let Some(ctx) = &mut self.srtp else {
            self.stats.not_ready += 1;
            return Err(ReceiveError::NotReady);
        };
        let result = if rtcp {
            ctx.remote.unprotect_rtcp(&mut datagram)
        } else {
            ctx.remote.unprotect_rtp(&mut datagram)
        };
        match result {
            Ok(len) => {
                datagram.truncate(len);
                let packet = datagram.freeze();
                if rtcp {
                    self.stats.rtcp_received += 1;
                    self.events.push_back(TransportEvent::Rtcp(packet));
                } else {
                    self.stats.rtp_received += 1;
                    self.events.push_back(TransportEvent::Rtp(packet));
                }
                Ok(())
            }
            Err(e) => {
                self.stats.srtp_dropped += 1;
                Err(ReceiveError::Srtp(e))
            }
        }
    }

    /// Moves what each layer produced to the next: ICE events and transmits, DTLS events
    /// (keys, application data), SCTP packets into DTLS, DTLS records onto the selected pair.
    fn pump(&mut self, now: Instant) {
        self.drain_ice(now);
        self.drain_dtls_events(now);
        self.drain_sctp(now);
        self.drain_dtls_transmits();
        self.update_state();
    }

    fn drain_ice(&mut self, now: Instant) {
        let Some(agent) = &mut self.ice else {
            return;
        };
        while let Some(t) = agent.poll_transmit() {
            self.stats.bytes_sent += t.contents.len() as u64;
            self.transmits.push_back(t);
        }
        let mut connect = false;
        while let Some(ev) = agent.poll_event() {
            match ev {
                ice::IceEvent::LocalCandidate(c) => self
                    .events
                    .push_back(TransportEvent::LocalCandidate(candidate::to_sdp(&c))),
                ice::IceEvent::GatheringStateChange(s) => {
                    self.events.push_back(TransportEvent::IceGatheringState(s));
                }
                ice::IceEvent::ConnectionStateChange(s) => {
                    self.ice_state = s;
                    self.events.push_back(TransportEvent::IceConnectionState(s));
                    if s == ice::ConnectionState::Failed && self.failure.is_none() {
                        self.failure = Some(TransportError::IceFailed);
                    }
                }
                ice::IceEvent::SelectedPairChange(pair) => {
                    self.selected = Some(pair);
                    connect = true;
                }
                _ => {}
            }
        }
        if connect {
            self.maybe_connect_dtls(now);
        }
    }

    fn maybe_connect_dtls(&mut self, now: Instant) {
        let (Some(endpoint), Some(pair)) = (&mut self.dtls, &self.selected) else {
            return;
        };
        if endpoint.role() == DtlsRole::Client && endpoint.remote().is_none() {
            // A second call (a later pair) is refused by the endpoint: harmless.
            let _ = endpoint.connect(now, pair.remote.address);
        }
    }

    fn drain_dtls_events(&mut self, now: Instant) {
        let Some(endpoint) = &mut self.dtls else {
            return;
        };
        let mut events = Vec::new();
        while let Some(ev) = endpoint.poll_event() {
            events.push(ev);
        }
        for ev in events {
            match ev {
                dtls::Event::Connected(negotiated) => self.on_dtls_connected(now, &negotiated),
                dtls::Event::ApplicationData(data) => {
                    let from = self
                        .dtls
                        .as_ref()
                        .and_then(dtls::Endpoint::remote)
                        .or(self.selected.as_ref().map(|p| p.remote.address));
                    if let (Some(dc), Some(from)) = (&mut self.sctp, from) {
                        let _ = dc.handle_receive(now, from, data);
                    }
                }
                dtls::Event::Closed => self.set_dtls_state(DtlsState::Closed),
                dtls::Event::Failed(e) => {
                    if self.failure.is_none() {
                        self.failure = Some(TransportError::Dtls(e));
                    }
                    self.set_dtls_state(DtlsState::Failed);
                }
                _ => {}
            }
        }
    }

    fn on_dtls_connected(&mut self, now: Instant, negotiated: &dtls::Negotiated) {
        if negotiated.srtp_profile.is_some() {
            match self.dtls.as_ref().map(dtls::Endpoint::srtp_keys) {
                Some(Ok(keys)) => {
                    // Built once to check the keys (a failure fails the connection now),
                    // then dropped: `ensure_srtp` builds them again on first use.
                    match srtp::DtlsSrtpContexts::new(&keys, self.config.srtp.clone()) {
                        Ok(ctx) => self.srtp_agreed = Some(ctx.local.profile()),
                        Err(e) => {
                            self.failure.get_or_insert(TransportError::Srtp(e));
                            self.set_dtls_state(DtlsState::Failed);
                            return;
                        }
                    }
                }
                _ => {
                    self.failure.get_or_insert(TransportError::NoSrtpProfile);
                    self.set_dtls_state(DtlsState::Failed);
                    return;
                }
            }
        }
        self.set_dtls_state(DtlsState::Connected);
        let remote = self.dtls.as_ref().and_then(dtls::Endpoint::remote);
        if let (Some(dc), Some(remote)) = (&mut self.sctp, remote) {
            // Both sides may send INIT: SCTP resolves the collision (RFC 9260 §5.2.1), and
            // browsers do it whatever their DTLS role.
            if self.params.as_ref().map(|p| p.dtls_role) == Some(DtlsRole::Client) {
                dc.connect(now, remote);
            }
        }
    }

    fn drain_sctp(&mut self, now: Instant) {
        let (Some(dc), Some(endpoint)) = (&mut self.sctp, &mut self.dtls) else {
            return;
        };
        if endpoint.is_connected() {
            while let Some(t) = dc.poll_transmit(now) {
                // A packet DTLS refuses (only when closing) is lost like on a bad link.
                let _ = endpoint.send(&t.contents);
            }
        } else if self.dtls_state.is_final() {
            // W3C webrtc-pc §6.1.2: the SCTP transport is closed once its DTLS transport
            // is. The association ends without a word to the peer (no DTLS to carry an
            // ABORT): each channel reports `Closed` and its timers stop. Done here rather
            // than on the DTLS event, so that data which came in the same datagram before
            // the close_notify has been taken first. A no-op once the association ended.
            dc.association_mut().abort();
            while dc.poll_transmit(now).is_some() {}
        }
        while let Some(ev) = dc.poll_event() {
            let ev = match ev {
                sctp::DataChannelEvent::ChannelOpen { id, remote } => {
                    ChannelEvent::Open { id, remote }
                }
                sctp::DataChannelEvent::Message { id, text, data } => {
                    ChannelEvent::Message { id, text, data }
                }
                sctp::DataChannelEvent::BufferedAmountLow { id } => {
                    ChannelEvent::BufferedAmountLow { id }
                }
                sctp::DataChannelEvent::ChannelClosed { id } => ChannelEvent::Closed { id },
                sctp::DataChannelEvent::Closed(reason) => {
                    if !matches!(
                        reason,
                        sctp::CloseReason::Shutdown | sctp::CloseReason::LocalAbort
                    ) && self.failure.is_none()
                    {
                        self.failure = Some(TransportError::Sctp(reason));
                    }
                    continue;
                }
                _ => continue,
            };
            self.events.push_back(TransportEvent::Channel(ev));
        }
    }

    fn drain_dtls_transmits(&mut self) {
        let Some(endpoint) = &mut self.dtls else {
            return;
        };
        while let Some(mut t) = endpoint.poll_transmit() {
            match &self.selected {
                Some(pair) => {
                    t.source = Some(pair.local.base);
                    t.destination = pair.remote.address;
                    t.transport = transport_of(&pair.local);
                    self.stats.bytes_sent += t.contents.len() as u64;
                    self.transmits.push_back(t);
                }
                None => self.stats.unroutable += 1,
            }
        }
    }

    /// Moves the DTLS state on and reports it, once per change. Closed and Failed are
    /// final: a close_notify after a failure, or a failure after close, changes nothing.
    /// Entering either ends the SCTP association at the next `drain_sctp`.
    fn set_dtls_state(&mut self, s: DtlsState) {
        if self.dtls_state == s || self.dtls_state.is_final() {
            return;
        }
        self.dtls_state = s;
        self.events.push_back(TransportEvent::DtlsState(s));
    }

    fn update_state(&mut self) {
        use ice::ConnectionState as I;
        if self.closed {
            return;
        }
        let s = if self.ice_state == I::Failed || self.dtls_state == DtlsState::Failed {
            ConnectionState::Failed
        } else if self.ice_state == I::Disconnected {
            ConnectionState::Disconnected
        } else if matches!(self.ice_state, I::Connected | I::Completed)
            && matches!(self.dtls_state, DtlsState::Connected | DtlsState::Closed)
        {
            // W3C webrtc-pc §4.3.3: "connected" with every DTLS transport "connected" or
            // "closed". A peer's close_notify alone does not change the connection state;
            // ICE consent expiring later does.
            ConnectionState::Connected
        } else if self.ice_state == I::New
            && matches!(self.dtls_state, DtlsState::New | DtlsState::Closed)
        {
            ConnectionState::New
        } else {
            ConnectionState::Connecting
        };
        if s == ConnectionState::Failed {
            let cause = self.failure.clone();
            self.set_state(s, cause);
        } else {
            self.set_state(s, None);
        }
    }

    fn set_state(&mut self, s: ConnectionState, cause: Option<TransportError>) {
        if self.state != s {
            self.state = s;
            self.events
                .push_back(TransportEvent::ConnectionState(s, cause));
        }
    }
}

/// The transport of a local candidate's pair.
fn transport_of(local: &ice::Candidate) -> Transport {
    if local.protocol.is_tcp() {
        Transport::Tcp
    } else {
        Transport::Udp
    }
}

/// Bytes a DTLS 1.2 AEAD record adds to an SCTP packet: 13-byte header, 8-byte explicit
/// nonce, 16-byte tag (RFC 6347 §4.1, RFC 5288 §3). CBC suites add more, but WebRTC peers
/// agree on GCM; SCTP's MTU leaves room for it.
const fn dtls_overhead() -> usize {
    13 + 8 + 16
}
