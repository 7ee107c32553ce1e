//! The configuration of a peer connection (W3C `RTCConfiguration`).

use std::sync::Arc;

use ferrtc_dtls::Certificate;
use ferrtc_peerconnection::BweConfig;

use crate::endpoint::UdpEndpoint;
use crate::net::{HostAddresses, IceServer};

/// Which candidates ICE may use (W3C `RTCIceTransportPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IceTransportPolicy {
    /// Every candidate.
    #[default]
    All,
    /// Relayed candidates only: a `turn:` or `turns:` server is needed
    /// ([`ConfigurationError::RelayPolicy`](crate::ConfigurationError::RelayPolicy) without one).
    Relay,
}

/// Whether host candidates are gathered over TCP too (ICE-TCP, RFC 6544): see
/// [`Configuration::ice_tcp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IceTcpPolicy {
    /// UDP host candidates only.
    #[default]
    Off,
    /// UDP host candidates, and on each host address a passive TCP candidate (a listener on
    /// a port the OS picks) and an active one (port 9, RFC 6544 §4.5). TCP candidates rank
    /// below UDP ones (RFC 6544 §4.2), so a pair over TCP is chosen only when no UDP pair
    /// works.
    Also,
    /// TCP host candidates only (passive and active), no UDP ones: for peers behind
    /// networks that block UDP, and for tests. Relayed candidates are gathered as
    /// configured.
    Only,
}

/// How media is bundled (W3C `RTCBundlePolicy`, RFC 8829 §4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BundlePolicy {
    /// Everything on one transport: what ferrtc does.
    #[default]
    MaxBundle,
    /// A transport per media type unless the peer bundles (not supported).
    Balanced,
    /// A transport per m-line unless the peer bundles (not supported).
    MaxCompat,
}

/// The SCTP association's settings that a user may tune (ferrtc's own, not in the W3C
/// `RTCConfiguration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataChannelSettings {
    /// Our `a=max-message-size` (RFC 8841 section 6): the largest data channel message we
    /// accept, and the largest we send (the peer's own `a=max-message-size` applies too).
    /// The receive buffer is raised to it when smaller, so a peer can make us hold this much,
    /// and the send buffer to twice it (one message this large queued leaves room for the
    /// other channels' messages). Default 256 KiB, what Chromium announces.
    pub max_message_size: u64,
    /// Offer user message interleaving (RFC 8260: I-DATA chunks, and I-FORWARD-TSN for
    /// partially reliable channels) in the SCTP INIT or INIT ACK. It is used when the peer
    /// offers it too (RFC 8260 section 2.2.1), and then a large message no longer holds back
    /// the messages of other channels: streams take turns chunk by chunk, not message by
    /// message. A peer that does not offer it (Chromium's dcsctp by default) gets plain DATA
    /// chunks, as with this off. `stats()` says what was negotiated: the `transport`
    /// entry's `sctpInterleaving` (and `sctpPeerInterleaving`, what the peer announced).
    /// Off by default.
    pub interleaving: bool,
}

impl Default for DataChannelSettings {
    fn default() -> Self {
        DataChannelSettings {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            interleaving: false,
        }
    }
}

/// The default [`DataChannelSettings::max_message_size`]: 256 KiB, the core's default (RFC
/// 8841 section 6 leaves the value to the implementation; Chromium announces this).
const DEFAULT_MAX_MESSAGE_SIZE: u64 = 256 * 1024;

/// How a peer connection is set up (W3C `RTCConfiguration`, plus where to gather host
/// candidates from). Written as a struct literal, W3C style:
///
/// ```
/// use ferrtc::{Configuration, IceServer};
/// let config = Configuration {
///     ice_servers: vec![IceServer::new("stun:stun.example.org:3478")],
///     ..Default::default()
/// };
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Default)]
pub struct Configuration {
    /// STUN and TURN servers.
    pub ice_servers: Vec<IceServer>,
    /// Which candidates ICE may use.
    pub ice_transport_policy: IceTransportPolicy,
    /// How media is bundled; ferrtc bundles everything.
    pub bundle_policy: BundlePolicy,
    /// Our DTLS certificate (the first one is used); empty: a fresh one is generated.
    pub certificates: Vec<Arc<Certificate>>,
    /// The local addresses that become host candidates. With an
    /// [`endpoint`](Configuration::endpoint) bound to one address, that address is the
    /// host candidate and this is not used; on a wildcard endpoint it selects the addresses
    /// (of the endpoint's family) that carry the endpoint's port.
    pub host_addresses: HostAddresses,
    /// Be an ICE-lite agent (RFC 8445 §2.5), for a server with a public address.
    pub ice_lite: bool,
    /// Encoding names (`"H264"`, `"VP8"`, `"opus"`, ...) put first, in this order, among the
    /// codecs every transceiver offers and accepts: the W3C `setCodecPreferences` for the
    /// whole connection. Empty: ferrtc's default order.
    pub codec_preferences: Vec<String>,
    /// A [`UdpEndpoint`] to share: the connection gets no socket of its own, its host
    /// candidates are the endpoint's port, and it sends and receives through the endpoint's
    /// one socket with every other connection made on it. `None` (the default): sockets of
    /// its own. Not with TURN servers
    /// ([`ConfigurationError::TurnOnSharedEndpoint`](crate::ConfigurationError::TurnOnSharedEndpoint)).
    pub endpoint: Option<UdpEndpoint>,
    /// Send-side congestion control: the start, minimum and maximum of the bitrate
    /// everything this connection sends should add up to (default 300 kbit/s, 30 kbit/s and
    /// 20 Mbit/s). The estimate (GCC over transport-wide feedback, or the peer's REMB) stays
    /// within these bounds, and each media sender (the `media` feature) is given its share
    /// of it as its encoder's cap.
    pub bandwidth: BweConfig,
    /// Send RTP through the congestion controller's pacer (bursts of at most 5 ms at 2.5
    /// times the target, audio first) and let it probe with padding, which makes the
    /// estimate climb faster. Off by default: packets leave as they are written.
    pub pacing: bool,
    /// The certificates trusted to sign the certificates of `turns:` servers (TURN over
    /// TLS), each DER or PEM (a PEM may hold several). ferrtc has no built-in root store
    /// (no webpki or system roots): a `turns:` URL needs at least one root here
    /// ([`ConfigurationError::TlsRootsMissing`](crate::ConfigurationError::TlsRootsMissing)
    /// without). The server's certificate must name the URL's host (a DNS name, or an IP
    /// address for a literal one).
    pub tls_roots: Vec<Vec<u8>>,
    /// ICE-TCP (RFC 6544): gather TCP host candidates, passive (a listener per host address,
    /// which a peer's active candidate connects to; browsers gather active ones) and active
    /// (connecting out to a peer's passive candidate). Each check and datagram travels
    /// framed with its 16-bit length (RFC 4571). Off by default: listening opens a port per
    /// connection and address, and a TCP pair is only useful where UDP is blocked (TCP's
    /// retransmissions and head-of-line blocking work against real-time media). Not with
    /// the `relay` policy (no host candidate at all then).
    pub ice_tcp: IceTcpPolicy,
    /// The data channels' SCTP settings: the largest message, user message interleaving.
    pub data_channels: DataChannelSettings,
}

impl Configuration {
    /// The defaults: no ICE servers, every interface but loopback, a fresh certificate.
    #[must_use]
    pub fn new() -> Configuration {
        Configuration::default()
    }

    /// These ICE servers.
    #[must_use]
    pub fn with_ice_servers(mut self, servers: Vec<IceServer>) -> Configuration {
        self.ice_servers = servers;
        self
    }

    /// Host candidates from these addresses.
    #[must_use]
    pub fn with_host_addresses(mut self, addresses: HostAddresses) -> Configuration {
        self.host_addresses = addresses;
        self
    }

    /// On this shared endpoint (see [`Configuration::endpoint`]).
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: UdpEndpoint) -> Configuration {
        self.endpoint = Some(endpoint);
        self
    }

    /// This certificate.
    #[must_use]
    pub fn with_certificate(mut self, certificate: Arc<Certificate>) -> Configuration {
        self.certificates = vec![certificate];
        self
    }
}
