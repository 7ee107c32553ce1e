//! The sans-IO TURN client: [`Client`].

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferrtc_types::{Bytes, Transmit, Transport};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::framing::ChannelData;
use crate::stun::{
    AddressFamily, Attribute, AttributeType, Class, EncodeError, ErrorCode, IntegrityKey, Message,
    MessageBuilder, MessageType, Method, PasswordAlgorithm, PasswordAlgorithmId,
    PasswordAlgorithms, TransactionId, userhash,
};

use super::error::{CommandError, RequestError, TurnError};
use super::framer::StreamFramer;

/// REQUESTED-TRANSPORT value asking for a UDP relay: IP protocol number 17 (`0x11`,
/// RFC 8656 section 18.8).
pub const PROTOCOL_UDP: u8 = 0x11;
/// How long a permission lasts on the server: 300 s (RFC 8656 section 9).
pub const PERMISSION_LIFETIME: Duration = Duration::from_secs(300);
/// When the client refreshes a permission: one minute before it would expire.
pub const PERMISSION_REFRESH: Duration = Duration::from_secs(240);
/// How long a channel binding lasts on the server: 600 s (RFC 8656 section 12).
pub const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);
/// When the client refreshes a channel binding: one minute before it would expire.
pub const CHANNEL_REFRESH: Duration = Duration::from_secs(540);
/// The allocation lifetime assumed when a success response lacks LIFETIME: the default of
/// RFC 8656 section 2 ("Allocation lifetime", 600 s).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);
/// Retries after 438 Stale Nonce before a transaction gives up.
pub const MAX_STALE_NONCE_RETRIES: u8 = 3;
/// Longest REALM and NONCE accepted: 763 bytes (RFC 8489 sections 14.9 and 14.10).
const MAX_REALM_NONCE_LEN: usize = 763;
/// The prefix of a nonce from a server implementing RFC 8489 (section 9.2).
const NONCE_COOKIE: &str = "obMatJos2";
/// Transaction timeout over TCP and TLS, Ti = 39.5 s (RFC 8489 section 6.2.2).
const STREAM_TRANSACTION_TIMEOUT: Duration = Duration::from_millis(39_500);

/// How the client reaches the TURN server: the shared [`Transport`], under the name TURN
/// uses for it.
///
/// - `Udp`: one message per datagram, requests retransmitted (RFC 8489 section 6.2.1).
/// - `Tcp`: a byte stream the caller owns; no retransmissions, ChannelData padded
///   (RFC 8656 section 12.5).
/// - `Tls`: TLS over TCP, like `Tcp`; the caller owns the TLS session and hands the client
///   the plaintext.
///
/// The client's [`Transmit`]s carry it as their `transport`.
pub type TurnTransport = Transport;

/// The settings of a [`Client`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The TURN server's address (over TCP and TLS, the address the stream is connected to).
    pub server: SocketAddr,
    /// The transport to the server.
    pub transport: TurnTransport,
    /// The long-term credential username (already processed with OpaqueString, RFC 8265).
    pub username: String,
    /// The long-term credential password (already processed with OpaqueString).
    pub password: String,
    /// The allocation lifetime to ask for (LIFETIME in Allocate and Refresh requests); `None`
    /// leaves it to the server (600 s by default).
    pub lifetime: Option<Duration>,
    /// The relayed address family to ask for (REQUESTED-ADDRESS-FAMILY); `None` means IPv4.
    pub address_family: Option<AddressFamily>,
    /// A SOFTWARE attribute for requests.
    pub software: Option<String>,
    /// Whether requests and indications carry FINGERPRINT.
    pub fingerprint: bool,
    /// First retransmission timeout over UDP (RFC 8489 section 6.2.1: 500 ms).
    pub initial_rto: Duration,
    /// Transmissions of a request over UDP, Rc (RFC 8489 section 6.2.1: 7).
    pub max_transmissions: u32,
    /// Multiple of `initial_rto` waited after the last transmission, Rm (RFC 8489 section
    /// 6.2.1: 16).
    pub last_wait_factor: u32,
}

impl ClientConfig {
    /// A configuration for `server` over `transport` with the given long-term credentials and
    /// the RFC defaults for the rest.
    pub fn new(
        server: SocketAddr,
        transport: TurnTransport,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        ClientConfig {
            server,
            transport,
            username: username.into(),
            password: password.into(),
            lifetime: None,
            address_family: None,
            software: None,
            fingerprint: true,
            initial_rto: Duration::from_millis(500),
            max_transmissions: 7,
            last_wait_factor: 16,
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("server", &self.server)
            .field("transport", &self.transport)
            .field("username", &self.username)
            .field("password", &"..")
            .field("lifetime", &self.lifetime)
            .field("address_family", &self.address_family)
            .finish_non_exhaustive()
    }
}

/// What the layer above needs to know, from [`Client::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The allocation exists (RFC 8656 section 7.3).
    Allocated {
        /// The relayed transport address: peers send here (a relayed ICE candidate).
        relayed: SocketAddr,
        /// The client's address as the server saw it (XOR-MAPPED-ADDRESS): a server-reflexive
        /// candidate, and the relayed candidate's related address.
        mapped: Option<SocketAddr>,
        /// The lifetime the server granted.
        lifetime: Duration,
    },
    /// The Allocate transaction failed; the client is idle again.
    AllocationFailed(RequestError),
    /// A Refresh succeeded; the allocation now lasts `lifetime` from now.
    Refreshed {
        /// The lifetime the server granted.
        lifetime: Duration,
    },
    /// The allocation is gone (a Refresh failed or it expired); permissions and channels
    /// went with it and the client is idle again.
    AllocationLost(RequestError),
    /// A permission for this peer IP is installed (first installation only; refreshes are
    /// silent).
    PermissionCreated(IpAddr),
    /// Creating or refreshing a permission failed; the permission is forgotten.
    PermissionFailed {
        /// The peer IP.
        peer: IpAddr,
        /// Why.
        error: RequestError,
    },
    /// A channel is bound to this peer (first binding only; refreshes are silent). From now
    /// on [`Client::send_to`] uses ChannelData for it.
    ChannelBound {
        /// The peer.
        peer: SocketAddr,
        /// The channel number.
        channel: u16,
    },
    /// Binding or refreshing a channel failed; the channel is forgotten.
    ChannelBindFailed {
        /// The peer.
        peer: SocketAddr,
        /// Why.
        error: RequestError,
    },
    /// Data from a peer, relayed by the server (Data indication or ChannelData), over TCP
    /// or TLS. (Over UDP, [`Client::handle_receive`] returns it instead, borrowed from the
    /// datagram.)
    Data {
        /// The peer that sent it to the relayed address.
        peer: SocketAddr,
        /// The UDP payload.
        data: Bytes,
    },
    /// The allocation was deleted at the client's request ([`Client::deallocate`]).
    Deallocated,
    /// The TCP or TLS stream carried a frame that is neither STUN nor ChannelData: it can no
    /// longer be split (RFC 8656 section 12.6). Fatal for this connection: close it; every
    /// later chunk is dropped with [`TurnError::StreamDesynchronized`].
    StreamDesynchronized,
}

/// Counters of what [`Client::handle_receive`] took in and dropped. Every `Err` it returns
/// is counted in exactly one of the `dropped_*` fields (over a stream, once per frame).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// UDP datagrams, or stream frames, handled without error.
    pub accepted: u64,
    /// Dropped: a UDP datagram from an address other than the server.
    pub dropped_unexpected_source: u64,
    /// Dropped: neither STUN nor ChannelData, malformed, or the stream desynchronized.
    pub dropped_malformed: u64,
    /// Dropped: a response to no transaction of ours, of the wrong method, failing the
    /// integrity check, or an unauthenticated 400.
    pub dropped_responses: u64,
    /// Dropped: a request or indication a client does not serve, or a message without an
    /// attribute its method requires.
    pub dropped_unexpected_messages: u64,
    /// Dropped: peer data on an unbound channel, from a peer without permission, or while
    /// no allocation exists.
    pub dropped_data: u64,
}

impl ClientStats {
    fn count(&mut self, result: Result<(), &TurnError>) {
        let counter = match result {
            Ok(()) => &mut self.accepted,
            Err(TurnError::UnexpectedSource(_)) => &mut self.dropped_unexpected_source,
            Err(
                TurnError::NotTurn
                | TurnError::Stun(_)
                | TurnError::Frame(_)
                | TurnError::StreamDesynchronized,
            ) => &mut self.dropped_malformed,
            Err(
                TurnError::UnknownTransaction
                | TurnError::MethodMismatch { .. }
                | TurnError::IntegrityMismatch
                | TurnError::UnauthenticatedBadRequest,
            ) => &mut self.dropped_responses,
            Err(TurnError::MissingAttribute { .. } | TurnError::UnexpectedMessage(_)) => {
                &mut self.dropped_unexpected_messages
            }
            Err(
                TurnError::UnknownChannel(_) | TurnError::NoPermission(_) | TurnError::NotAllocated,
            ) => &mut self.dropped_data,
        };
        *counter += 1;
    }

    /// Everything dropped, all reasons together.
    pub fn dropped(&self) -> u64 {
        self.dropped_unexpected_source
            + self.dropped_malformed
            + self.dropped_responses
            + self.dropped_unexpected_messages
            + self.dropped_data
    }
}

/// A TURN client (RFC 8656) for one allocation on one server, sans-IO.
///
/// It follows the crate's verb contract ([crate-level docs](crate)): constructor
/// `(config, rng)` (no timer runs before the first command, which takes `now`), one
/// [`handle_receive`](Self::handle_receive) whose `Err` only means "dropped and counted",
/// transmits drained before events, `poll_timeout(&self)`.
///
/// It owns no socket and reads no clock: the caller connects to the server (a UDP socket, a
/// TCP stream, or a TLS session it runs itself), feeds what arrives to
/// [`handle_receive`](Self::handle_receive) and writes out what
/// [`poll_transmit`](Self::poll_transmit) gives, and passes the current time in.
///
/// Methods come in four groups:
/// - getters: [`relayed_address`](Self::relayed_address), [`mapped_address`](Self::mapped_address),
///   [`is_allocated`](Self::is_allocated), [`channel`](Self::channel), ...;
/// - inputs: [`handle_receive`](Self::handle_receive), [`handle_timeout`](Self::handle_timeout);
/// - commands: [`allocate`](Self::allocate), [`create_permission`](Self::create_permission),
///   [`bind_channel`](Self::bind_channel), [`send_to`](Self::send_to),
///   [`deallocate`](Self::deallocate);
/// - outputs: [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event),
///   [`poll_timeout`](Self::poll_timeout).
///
/// After every input or command, drain `poll_transmit` until `None` (writing each to the
/// server, in order), then `poll_event` until `None`, then sleep until `poll_timeout` and
/// call `handle_timeout`.
///
/// The client does the long-term credential dance itself (RFC 8489 section 9.2): the first
/// Allocate goes without credentials, the 401 gives realm and nonce, the retry carries
/// USERNAME (or USERHASH), REALM, NONCE and MESSAGE-INTEGRITY (or, when the server offers
/// PASSWORD-ALGORITHMS, MESSAGE-INTEGRITY-SHA256); 438 Stale Nonce is retried with the new
/// nonce. It refreshes the allocation a minute before it expires (half-way for lifetimes of
/// two minutes or less), permissions every 4 minutes and channels every 9.
///
/// ```
/// use std::time::Instant;
/// use ferrtc_stun_ice::turn::{Client, ClientConfig, TurnTransport};
/// use rand::SeedableRng;
///
/// let server = "192.0.2.1:3478".parse()?;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let mut client = Client::new(ClientConfig::new(server, TurnTransport::Udp, "user", "pass"), &mut rng);
/// let now = Instant::now();
/// client.allocate(now)?;
/// let first = client.poll_transmit().expect("the Allocate request");
/// assert_eq!(first.destination, server);
/// // ... send it; feed the 401 and then the success response to handle_receive ...
/// assert!(client.poll_timeout().is_some()); // the retransmission timer
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Client {
    config: ClientConfig,
    rng: ChaCha20Rng,
    phase: Phase,
    auth: Option<Auth>,
    transactions: Vec<Transaction>,
    permissions: BTreeMap<IpAddr, Permission>,
    channels: BTreeMap<SocketAddr, Channel>,
    channel_peers: BTreeMap<u16, SocketAddr>,
    next_channel: u16,
    framer: StreamFramer,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: ClientStats,
    /// Where messages are encoded before they are lent out.
    scratch: Vec<u8>,
    /// Where transmits and stream data are lent from: once the caller drops what it was
    /// given, the room is used again, so the data path allocates nothing in steady state.
    out: BytesMut,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Idle,
    Allocating,
    Allocated(Allocation),
    Deallocating,
}

#[derive(Debug, Clone, Copy)]
struct Allocation {
    relayed: SocketAddr,
    mapped: Option<SocketAddr>,
    lifetime: Duration,
    expires_at: Instant,
    /// `None` while a Refresh is in flight.
    refresh_at: Option<Instant>,
}

/// What the server's challenge taught the client (RFC 8489 section 9.2.3.2).
struct Auth {
    realm: String,
    nonce: String,
    key: IntegrityKey,
    /// PASSWORD-ALGORITHMS to echo, with the chosen algorithm; then MESSAGE-INTEGRITY-SHA256
    /// is used (RFC 8489 section 9.2.5).
    algorithms: Option<(Vec<u8>, PasswordAlgorithmId)>,
    /// USERHASH instead of USERNAME (the "username anonymity" security feature).
    userhash: Option<[u8; 32]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxKind {
    Allocate,
    Refresh,
    Deallocate,
    CreatePermission(IpAddr),
    ChannelBind { peer: SocketAddr, channel: u16 },
}

impl TxKind {
    fn method(self) -> Method {
        match self {
            TxKind::Allocate => Method::ALLOCATE,
            TxKind::Refresh | TxKind::Deallocate => Method::REFRESH,
            TxKind::CreatePermission(_) => Method::CREATE_PERMISSION,
            TxKind::ChannelBind { .. } => Method::CHANNEL_BIND,
        }
    }
}

struct Transaction {
    id: TransactionId,
    kind: TxKind,
    /// The request, kept for retransmission over UDP (empty over streams).
    request: Bytes,
    authenticated: bool,
    stale_retries: u8,
    transmissions: u32,
    rto: Duration,
    next_at: Instant,
    integrity_failed: bool,
}

#[derive(Debug, Clone, Copy)]
struct Permission {
    installed: bool,
    /// `None` while a CreatePermission is in flight.
    refresh_at: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Channel {
    number: u16,
    bound: bool,
    /// `None` while a ChannelBind is in flight.
    refresh_at: Option<Instant>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("phase", &self.phase)
            .field("transactions", &self.transactions.len())
            .field("permissions", &self.permissions)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

/// Peer data found in a frame: the peer and the payload, borrowed from the frame.
type PeerData<'a> = Option<(SocketAddr, &'a [u8])>;

/// When to refresh something that lives `lifetime`: a minute early, or half-way for short
/// lifetimes.
fn refresh_delay(lifetime: Duration) -> Duration {
    if lifetime > Duration::from_secs(120) {
        lifetime - Duration::from_secs(60)
    } else {
        lifetime / 2
    }
}

/// The STUN Security Features of a nonce cookie (RFC 8489 sections 9.2 and 18.1): bit 0
/// "password algorithms", bit 1 "username anonymity", in the first base64 character.
fn nonce_features(nonce: &str) -> (bool, bool) {
    let Some(rest) = nonce.strip_prefix(NONCE_COOKIE) else {
        return (false, false);
    };
    let sextet = match rest.as_bytes().first() {
        Some(c @ b'A'..=b'Z') => c - b'A',
        Some(c @ b'a'..=b'z') => c - b'a' + 26,
        Some(c @ b'0'..=b'9') => c - b'0' + 52,
        Some(b'+') => 62,
        Some(b'/') => 63,
        _ => return (false, false),
    };
    (sextet & 0x20 != 0, sextet & 0x10 != 0)
}

fn family(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::V4,
        IpAddr::V6(_) => AddressFamily::V6,
    }
}

impl Client {
    /// A client that has done nothing yet. `rng` seeds the client's own generator for
    /// transaction ids, so a seeded `rng` replays a run exactly.
    pub fn new(config: ClientConfig, rng: &mut dyn RngCore) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Client {
            config,
            rng: ChaCha20Rng::from_seed(seed),
            phase: Phase::Idle,
            auth: None,
            transactions: Vec::new(),
            permissions: BTreeMap::new(),
            channels: BTreeMap::new(),
            channel_peers: BTreeMap::new(),
            next_channel: ChannelData::MIN_CHANNEL,
            framer: StreamFramer::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: ClientStats::default(),
            scratch: Vec::new(),
            out: BytesMut::new(),
        }
    }

    // ----- getters -----

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The TURN server.
    pub fn server(&self) -> SocketAddr {
        self.config.server
    }

    /// Whether an allocation exists.
    pub fn is_allocated(&self) -> bool {
        matches!(self.phase, Phase::Allocated(_))
    }

    /// The relayed transport address, while allocated.
    pub fn relayed_address(&self) -> Option<SocketAddr> {
        match self.phase {
            Phase::Allocated(a) => Some(a.relayed),
            _ => None,
        }
    }

    /// The server-reflexive address the server reported, while allocated.
    pub fn mapped_address(&self) -> Option<SocketAddr> {
        match self.phase {
            Phase::Allocated(a) => a.mapped,
            _ => None,
        }
    }

    /// When the allocation expires unless refreshed, while allocated.
    pub fn expires_at(&self) -> Option<Instant> {
        match self.phase {
            Phase::Allocated(a) => Some(a.expires_at),
            _ => None,
        }
    }

    /// Whether the server confirmed a permission for `peer`.
    pub fn has_permission(&self, peer: IpAddr) -> bool {
        self.permissions.get(&peer).is_some_and(|p| p.installed)
    }

    /// The channel bound to `peer`, once the server confirmed it.
    pub fn channel(&self, peer: SocketAddr) -> Option<u16> {
        self.channels
            .get(&peer)
            .filter(|c| c.bound)
            .map(|c| c.number)
    }

    /// Requests awaiting a response.
    pub fn pending_transactions(&self) -> usize {
        self.transactions.len()
    }

    // ----- commands -----

    /// Starts an allocation (RFC 8656 section 7.1). The outcome is an [`Event::Allocated`]
    /// or an [`Event::AllocationFailed`].
    pub fn allocate(&mut self, now: Instant) -> Result<(), CommandError> {
        if !matches!(self.phase, Phase::Idle) {
            return Err(CommandError::AlreadyAllocated);
        }
        self.phase = Phase::Allocating;
        self.start(now, TxKind::Allocate, 0);
        Ok(())
    }

    /// Asks for a permission for `peer` (RFC 8656 section 10.1), kept refreshed until the
    /// allocation ends. Does nothing if one exists or is being created.
    pub fn create_permission(&mut self, now: Instant, peer: IpAddr) -> Result<(), CommandError> {
        self.check_peer(peer)?;
        if self.permissions.contains_key(&peer) {
            return Ok(());
        }
        self.permissions.insert(
            peer,
            Permission {
                installed: false,
                refresh_at: None,
            },
        );
        self.start(now, TxKind::CreatePermission(peer), 0);
        Ok(())
    }

    /// Binds a channel to `peer` (RFC 8656 section 12.1), which also installs a permission
    /// for its IP; returns the channel number. The binding is refreshed until the allocation
    /// ends; [`send_to`](Self::send_to) uses it once [`Event::ChannelBound`] has come.
    pub fn bind_channel(&mut self, now: Instant, peer: SocketAddr) -> Result<u16, CommandError> {
        self.check_peer(peer.ip())?;
        if let Some(c) = self.channels.get(&peer) {
            return Ok(c.number);
        }
        let span = ChannelData::MAX_CHANNEL - ChannelData::MIN_CHANNEL + 1;
        let number = (0..span)
            .map(|i| {
                ChannelData::MIN_CHANNEL + (self.next_channel - ChannelData::MIN_CHANNEL + i) % span
            })
            .find(|n| !self.channel_peers.contains_key(n))
            .ok_or(CommandError::ChannelsExhausted)?;
        self.next_channel = if number == ChannelData::MAX_CHANNEL {
            ChannelData::MIN_CHANNEL
        } else {
            number + 1
        };
        self.channels.insert(
            peer,
            Channel {
                number,
                bound: false,
                refresh_at: None,
            },
        );
        self.channel_peers.insert(number, peer);
        self.start(
            now,
            TxKind::ChannelBind {
                peer,
                channel: number,
            },
            0,
        );
        Ok(number)
    }

    /// Sends `data` to `peer` through the relay: as ChannelData if a channel is bound to it,
    /// else in a Send indication (RFC 8656 sections 11.1 and 12.5). A permission (or channel)
    /// must have been asked for first.
    ///
    /// The message is lent out of the client's own buffer: no allocation in steady state,
    /// once the caller drops each [`Transmit`] after sending it.
    pub fn send_to(&mut self, peer: SocketAddr, data: &[u8]) -> Result<(), CommandError> {
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let result = self.encode_to(peer, data, &mut out);
        if result.is_ok() {
            let contents = self.lend(&out);
            self.queue(contents);
        }
        self.scratch = out;
        result
    }

    /// Like [`send_to`](Self::send_to), but appends the message to `out` for the caller to
    /// send to the server itself (over a stream, as the next bytes, after anything queued
    /// before): no allocation when `out` has room.
    pub fn encode_to(
        &mut self,
        peer: SocketAddr,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CommandError> {
        self.check_peer(peer.ip())?;
        let start = out.len();
        let result = if let Some(channel) = self.channel(peer) {
            ChannelData { channel, data }
                .encode(self.config.transport.is_stream(), out)
                .map_err(|_| CommandError::DataTooLong(data.len()))
        } else if self.permitted(peer.ip()) {
            self.encode_send(peer, data, out)
                .map_err(|_| CommandError::DataTooLong(data.len()))
        } else {
            Err(CommandError::NoPermission(peer.ip()))
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Refreshes the allocation now rather than at its scheduled time (after a network change,
    /// say); [`Event::Refreshed`] follows. Does nothing if a refresh is already in flight.
    pub fn refresh(&mut self, now: Instant) -> Result<(), CommandError> {
        let Phase::Allocated(a) = &mut self.phase else {
            return Err(CommandError::NotAllocated);
        };
        if a.refresh_at.take().is_some() {
            self.start(now, TxKind::Refresh, 0);
        }
        Ok(())
    }

    /// Deletes the allocation: a Refresh with LIFETIME 0 (RFC 8656 section 8.1). Permissions,
    /// channels and pending requests are dropped at once; [`Event::Deallocated`] follows.
    pub fn deallocate(&mut self, now: Instant) -> Result<(), CommandError> {
        if !self.is_allocated() {
            return Err(CommandError::NotAllocated);
        }
        self.forget_allocation();
        self.phase = Phase::Deallocating;
        self.start(now, TxKind::Deallocate, 0);
        Ok(())
    }

    // ----- inputs -----

    /// Handles bytes from the server: over UDP one datagram from `from`, over TCP or TLS the
    /// next chunk of the stream, of any size (`from` is then not checked). This is the
    /// client's one input verb for the network (see the [crate-level docs](crate)).
    ///
    /// Over UDP, peer data (ChannelData or a Data indication) is returned, borrowed from
    /// `datagram`: the relayed media path copies nothing and allocates nothing. Anything else
    /// (responses) is processed and gives `Ok(None)`. Over TCP and TLS a frame may span
    /// chunks, so peer data comes as [`Event::Data`] instead and this always gives
    /// `Ok(None)`.
    ///
    /// An `Err` means only "these bytes were dropped", counted in [`stats`](Self::stats); a
    /// failure that ends the allocation or the connection arrives as an [`Event`]. Over a
    /// stream, every complete frame in the chunk is processed even if an earlier one failed;
    /// the first error is returned.
    pub fn handle_receive<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &'a [u8],
    ) -> Result<Option<(SocketAddr, &'a [u8])>, TurnError> {
        if self.config.transport.is_stream() {
            return self.handle_stream(now, datagram).map(|()| None);
        }
        let result = if from == self.config.server {
            self.handle_frame(now, datagram)
        } else {
            Err(TurnError::UnexpectedSource(from))
        };
        self.stats.count(result.as_ref().map(|_| ()));
        result
    }

    fn handle_stream(&mut self, now: Instant, chunk: &[u8]) -> Result<(), TurnError> {
        let mut framer = std::mem::take(&mut self.framer);
        let was_broken = framer.is_broken();
        let mut first_error = None;
        let pushed = framer.push(chunk, |frame| {
            let result = match self.handle_frame(now, frame) {
                Ok(Some((peer, data))) => {
                    let data = self.lend(data);
                    self.events.push_back(Event::Data { peer, data });
                    Ok(())
                }
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            self.stats.count(result.as_ref().copied());
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        });
        if framer.is_broken() && !was_broken {
            self.events.push_back(Event::StreamDesynchronized);
        }
        self.framer = framer;
        if let Err(e) = pushed {
            self.stats.count(Err(&e));
            return Err(e);
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Counters of what [`handle_receive`](Self::handle_receive) accepted and dropped.
    pub fn stats(&self) -> ClientStats {
        self.stats
    }

    /// Runs timers: retransmissions and transaction timeouts, refreshes of the allocation,
    /// permissions and channels. Calling it early is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.run_transactions(now);
        if let Phase::Allocated(a) = &mut self.phase {
            if a.expires_at <= now {
                self.lose(RequestError::Expired);
            } else if a.refresh_at.is_some_and(|t| t <= now) {
                a.refresh_at = None;
                self.start(now, TxKind::Refresh, 0);
            }
        }
        let due: Vec<IpAddr> = self
            .permissions
            .iter()
            .filter(|(_, p)| p.refresh_at.is_some_and(|t| t <= now))
            .map(|(ip, _)| *ip)
            .collect();
        for ip in due {
            if let Some(p) = self.permissions.get_mut(&ip) {
                p.refresh_at = None;
                self.start(now, TxKind::CreatePermission(ip), 0);
            }
        }
        let due: Vec<(SocketAddr, u16)> = self
            .channels
            .iter()
            .filter(|(_, c)| c.refresh_at.is_some_and(|t| t <= now))
            .map(|(peer, c)| (*peer, c.number))
            .collect();
        for (peer, channel) in due {
            if let Some(c) = self.channels.get_mut(&peer) {
                c.refresh_at = None;
                self.start(now, TxKind::ChannelBind { peer, channel }, 0);
            }
        }
    }

    // ----- outputs -----

    /// The next bytes to send to the server.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let tx = self.transactions.iter().map(|t| t.next_at);
        let alloc = match self.phase {
            Phase::Allocated(a) => [a.refresh_at, Some(a.expires_at)],
            _ => [None, None],
        };
        let perms = self.permissions.values().filter_map(|p| p.refresh_at);
        let chans = self.channels.values().filter_map(|c| c.refresh_at);
        tx.chain(alloc.into_iter().flatten())
            .chain(perms)
            .chain(chans)
            .min()
    }

    // ----- internals: requests -----

    fn check_peer(&self, peer: IpAddr) -> Result<(), CommandError> {
        let Phase::Allocated(a) = self.phase else {
            return Err(CommandError::NotAllocated);
        };
        if family(a.relayed.ip()) != family(peer) {
            return Err(CommandError::PeerFamilyMismatch(peer));
        }
        Ok(())
    }

    fn permitted(&self, peer: IpAddr) -> bool {
        self.permissions.contains_key(&peer) || self.channels.keys().any(|p| p.ip() == peer)
    }

    /// `msg` as [`Bytes`] lent out of `self.out`: no allocation once the caller has dropped
    /// what used the room before.
    fn lend(&mut self, msg: &[u8]) -> Bytes {
        self.out.reserve(msg.len());
        self.out.extend_from_slice(msg);
        self.out.split().freeze()
    }

    fn queue(&mut self, contents: Bytes) {
        self.transmits.push_back(Transmit {
            source: None,
            destination: self.config.server,
            transport: self.config.transport,
            contents,
            segment_size: None,
        });
    }

    /// Sends a new request of `kind`; if it cannot be encoded, fails it at once.
    fn start(&mut self, now: Instant, kind: TxKind, stale_retries: u8) {
        let id = TransactionId::random(&mut self.rng);
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let encoded = self.encode_request(kind, id, &mut scratch);
        let request = self.lend(&scratch);
        self.scratch = scratch;
        if let Err(e) = encoded {
            self.on_failure(now, kind, RequestError::Encode(e));
            return;
        }
        let stream = self.config.transport.is_stream();
        let (rto, next_at, kept) = if stream {
            (
                STREAM_TRANSACTION_TIMEOUT,
                now + STREAM_TRANSACTION_TIMEOUT,
                Bytes::new(),
            )
        } else {
            (
                self.config.initial_rto,
                now + self.config.initial_rto,
                request.clone(),
            )
        };
        self.transactions.push(Transaction {
            id,
            kind,
            request: kept,
            authenticated: self.auth.is_some(),
            stale_retries,
            transmissions: 1,
            rto,
            next_at,
            integrity_failed: false,
        });
        self.queue(request);
    }

    fn encode_request(
        &self,
        kind: TxKind,
        id: TransactionId,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        let mut b = MessageBuilder::new(out, MessageType::new(Class::Request, kind.method()), id);
        match kind {
            TxKind::Allocate => {
                b.add(&Attribute::RequestedTransport(PROTOCOL_UDP))?;
                if let Some(l) = self.config.lifetime {
                    b.add(&Attribute::Lifetime(secs(l)))?;
                }
                if let Some(f) = self.config.address_family {
                    b.add(&Attribute::RequestedAddressFamily(f))?;
                }
            }
            TxKind::Refresh => {
                if let Some(l) = self.config.lifetime {
                    b.add(&Attribute::Lifetime(secs(l)))?;
                }
            }
            TxKind::Deallocate => {
                b.add(&Attribute::Lifetime(0))?;
            }
            TxKind::CreatePermission(ip) => {
                // The port is ignored by the server (RFC 8656 section 9).
                b.add(&Attribute::XorPeerAddress(SocketAddr::new(ip, 0)))?;
            }
            TxKind::ChannelBind { peer, channel } => {
                b.add(&Attribute::ChannelNumber(channel))?;
                b.add(&Attribute::XorPeerAddress(peer))?;
            }
        }
        if let Some(software) = &self.config.software {
            b.add(&Attribute::Software(software))?;
        }
        if let Some(auth) = &self.auth {
            match &auth.userhash {
                Some(hash) => b.add(&Attribute::UserHash(hash))?,
                None => b.add(&Attribute::Username(&self.config.username))?,
            };
            b.add(&Attribute::Realm(&auth.realm))?;
            b.add(&Attribute::Nonce(&auth.nonce))?;
            match &auth.algorithms {
                Some((list, algorithm)) => {
                    // The list was checked when it arrived (`challenge`).
                    let list = PasswordAlgorithms::new_checked(list).map_err(|_| {
                        EncodeError::InvalidValue {
                            attr: AttributeType::PASSWORD_ALGORITHMS,
                        }
                    })?;
                    b.add(&Attribute::PasswordAlgorithms(list))?;
                    b.add(&Attribute::PasswordAlgorithm(PasswordAlgorithm {
                        algorithm: *algorithm,
                        parameters: &[],
                    }))?;
                    b.add_message_integrity_sha256(&auth.key)?;
                }
                None => {
                    b.add_message_integrity(&auth.key)?;
                }
            }
        }
        if self.config.fingerprint {
            b.add_fingerprint()?;
        }
        Ok(())
    }

    fn encode_send(
        &mut self,
        peer: SocketAddr,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let id = TransactionId::random(&mut self.rng);
        let mut b = MessageBuilder::new(out, MessageType::new(Class::Indication, Method::SEND), id);
        b.add(&Attribute::XorPeerAddress(peer))?;
        b.add(&Attribute::Data(data))?;
        if self.config.fingerprint {
            b.add_fingerprint()?;
        }
        Ok(())
    }

    fn run_transactions(&mut self, now: Instant) {
        let max = if self.config.transport.is_stream() {
            1
        } else {
            self.config.max_transmissions.max(1)
        };
        let mut i = 0;
        while i < self.transactions.len() {
            let t = &mut self.transactions[i];
            if t.next_at > now {
                i += 1;
                continue;
            }
            if t.transmissions < max {
                t.transmissions += 1;
                t.rto = t.rto.saturating_mul(2);
                t.next_at = if t.transmissions == max {
                    now + self
                        .config
                        .initial_rto
                        .saturating_mul(self.config.last_wait_factor)
                } else {
                    now + t.rto
                };
                let request = t.request.clone();
                self.queue(request);
                i += 1;
            } else {
                let t = self.transactions.remove(i);
                let error = if t.integrity_failed {
                    RequestError::IntegrityViolated
                } else {
                    RequestError::Timeout
                };
                self.on_failure(now, t.kind, error);
            }
        }
    }

    // ----- internals: receiving -----

    /// Handles one datagram or stream frame; peer data is returned, not queued.
    fn handle_frame<'a>(
        &mut self,
        now: Instant,
        frame: &'a [u8],
    ) -> Result<PeerData<'a>, TurnError> {
        match frame.first() {
            Some(0..=3) => self.handle_stun(now, frame),
            Some(0x40..=0x7F) => self.handle_channel_data(frame).map(Some),
            _ => Err(TurnError::NotTurn),
        }
    }

    fn handle_channel_data<'a>(
        &mut self,
        frame: &'a [u8],
    ) -> Result<(SocketAddr, &'a [u8]), TurnError> {
        let cd = if self.config.transport.is_stream() {
            ChannelData::read(frame)?.0
        } else {
            ChannelData::new_checked(frame)?
        };
        if !self.is_allocated() {
            return Err(TurnError::NotAllocated);
        }
        let peer = *self
            .channel_peers
            .get(&cd.channel)
            .ok_or(TurnError::UnknownChannel(cd.channel))?;
        Ok((peer, cd.data))
    }

    fn handle_stun<'a>(
        &mut self,
        now: Instant,
        frame: &'a [u8],
    ) -> Result<PeerData<'a>, TurnError> {
        let msg = Message::new_checked(frame)?;
        if msg.has_fingerprint() {
            msg.check_fingerprint()?;
        }
        match msg.class() {
            Class::Indication if msg.method() == Method::DATA => self.handle_data_indication(&msg),
            Class::Indication | Class::Request => Err(TurnError::UnexpectedMessage(msg.method())),
            Class::SuccessResponse | Class::ErrorResponse => {
                self.handle_response(now, &msg).map(|()| None)
            }
        }
    }

    fn handle_data_indication<'a>(&mut self, msg: &Message<'a>) -> Result<PeerData<'a>, TurnError> {
        if !self.is_allocated() {
            return Err(TurnError::NotAllocated);
        }
        let missing = |attr| TurnError::MissingAttribute {
            method: Method::DATA,
            attr,
        };
        let peer = msg
            .xor_peer_address()
            .ok_or(missing(AttributeType::XOR_PEER_ADDRESS))?;
        let Some(data) = msg.data() else {
            // An ICMP report without data (RFC 8656 section 11.6) is informational only.
            return if msg.contains(AttributeType::ICMP) {
                Ok(None)
            } else {
                Err(missing(AttributeType::DATA))
            };
        };
        if !self.permitted(peer.ip()) {
            return Err(TurnError::NoPermission(peer));
        }
        Ok(Some((peer, data)))
    }

    fn handle_response(&mut self, now: Instant, msg: &Message<'_>) -> Result<(), TurnError> {
        let index = self
            .transactions
            .iter()
            .position(|t| t.id == msg.transaction_id())
            .ok_or(TurnError::UnknownTransaction)?;
        let kind = self.transactions[index].kind;
        if msg.method() != kind.method() {
            return Err(TurnError::MethodMismatch {
                expected: kind.method(),
                received: msg.method(),
            });
        }
        let code = match msg.class() {
            Class::ErrorResponse => Some(msg.error_code().ok_or(TurnError::MissingAttribute {
                method: msg.method(),
                attr: AttributeType::ERROR_CODE,
            })?),
            _ => None,
        };
        match code.map(|c| c.code) {
            Some(ErrorCode::UNAUTHENTICATED) => {
                let t = self.transactions.remove(index);
                if t.authenticated {
                    self.on_failure(now, kind, RequestError::Unauthenticated);
                } else {
                    self.retry_with_challenge(now, t, msg);
                }
                return Ok(());
            }
            Some(ErrorCode::STALE_NONCE) => {
                let t = self.transactions.remove(index);
                if !t.authenticated {
                    self.on_failure(now, kind, RequestError::Server(ErrorCode::STALE_NONCE));
                } else if t.stale_retries >= MAX_STALE_NONCE_RETRIES {
                    self.on_failure(now, kind, RequestError::StaleNonce(t.stale_retries));
                } else {
                    self.retry_with_challenge(now, t, msg);
                }
                return Ok(());
            }
            _ => {}
        }
        if self.transactions[index].authenticated {
            let signed = msg.has_integrity() || msg.has_integrity_sha256();
            if code.is_some_and(|c| c.code == ErrorCode::BAD_REQUEST) && !signed {
                return Err(TurnError::UnauthenticatedBadRequest);
            }
            // Error responses without integrity are accepted: servers commonly leave them
            // unsigned, and they can only end a transaction early.
            let verified = match &self.auth {
                Some(auth) if signed => msg.check_integrity(&auth.key).is_ok(),
                _ => code.is_some(),
            };
            if !verified {
                if self.config.transport.is_stream() {
                    self.transactions.remove(index);
                    self.on_failure(now, kind, RequestError::IntegrityViolated);
                } else {
                    self.transactions[index].integrity_failed = true;
                }
                return Err(TurnError::IntegrityMismatch);
            }
        }
        self.transactions.remove(index);
        match code {
            Some(code) => {
                let error = RequestError::from_code(&code, msg.alternate_server());
                self.on_failure(now, kind, error);
            }
            None => self.on_success(now, kind, msg),
        }
        Ok(())
    }

    /// After a 401 or 438: learns realm and nonce and sends the request again, or fails it.
    fn retry_with_challenge(&mut self, now: Instant, t: Transaction, msg: &Message<'_>) {
        match self.challenge(msg) {
            Ok(auth) => {
                self.auth = Some(auth);
                let retries = if msg
                    .error_code()
                    .is_some_and(|c| c.code == ErrorCode::STALE_NONCE)
                {
                    t.stale_retries + 1
                } else {
                    t.stale_retries
                };
                self.start(now, t.kind, retries);
            }
            Err(e) => self.on_failure(now, t.kind, e),
        }
    }

    /// Reads a 401 or 438 challenge (RFC 8489 section 9.2.5).
    fn challenge(&self, msg: &Message<'_>) -> Result<Auth, RequestError> {
        let (Some(realm), Some(nonce)) = (msg.realm(), msg.nonce()) else {
            return Err(RequestError::MissingChallenge);
        };
        if realm.len() > MAX_REALM_NONCE_LEN || nonce.len() > MAX_REALM_NONCE_LEN {
            return Err(RequestError::ChallengeTooLong);
        }
        let (algorithms_bit, anonymity_bit) = nonce_features(nonce);
        let offered = msg.attributes().find_map(|a| match a {
            Attribute::PasswordAlgorithms(list) => Some(list),
            _ => None,
        });
        let (user, pass) = (&self.config.username, &self.config.password);
        let (key, algorithms) = match offered {
            None if algorithms_bit => return Err(RequestError::BidDown),
            None => (IntegrityKey::long_term(user, realm, pass), None),
            Some(list) => {
                let (key, algorithm) = list
                    .iter()
                    .find_map(|a| {
                        IntegrityKey::long_term_with(a.algorithm, user, realm, pass)
                            .map(|k| (k, a.algorithm))
                    })
                    .ok_or(RequestError::UnsupportedPasswordAlgorithm)?;
                (key, Some((list.as_bytes().to_vec(), algorithm)))
            }
        };
        Ok(Auth {
            realm: realm.to_owned(),
            nonce: nonce.to_owned(),
            key,
            algorithms,
            userhash: anonymity_bit.then(|| userhash(user, realm)),
        })
    }

    fn on_success(&mut self, now: Instant, kind: TxKind, msg: &Message<'_>) {
        let lifetime = msg
            .lifetime()
            .map_or(DEFAULT_LIFETIME, |s| Duration::from_secs(u64::from(s)));
        match kind {
            TxKind::Allocate => {
                if !matches!(self.phase, Phase::Allocating) {
                    return;
                }
                let Some(relayed) = msg.xor_relayed_address() else {
                    self.phase = Phase::Idle;
                    self.events
                        .push_back(Event::AllocationFailed(RequestError::MissingAttribute(
                            AttributeType::XOR_RELAYED_ADDRESS,
                        )));
                    return;
                };
                let wanted = self.config.address_family.unwrap_or(AddressFamily::V4);
                if family(relayed.ip()) != wanted {
                    self.phase = Phase::Idle;
                    self.events
                        .push_back(Event::AllocationFailed(RequestError::UnexpectedFamily(
                            relayed,
                        )));
                    return;
                }
                if lifetime.is_zero() {
                    self.phase = Phase::Idle;
                    self.events
                        .push_back(Event::AllocationFailed(RequestError::Expired));
                    return;
                }
                let mapped = msg.xor_mapped_address();
                self.phase = Phase::Allocated(Allocation {
                    relayed,
                    mapped,
                    lifetime,
                    expires_at: now + lifetime,
                    refresh_at: Some(now + refresh_delay(lifetime)),
                });
                self.events.push_back(Event::Allocated {
                    relayed,
                    mapped,
                    lifetime,
                });
            }
            TxKind::Refresh => {
                if lifetime.is_zero() {
                    if self.is_allocated() {
                        self.lose(RequestError::Expired);
                    }
                    return;
                }
                if let Phase::Allocated(a) = &mut self.phase {
                    a.lifetime = lifetime;
                    a.expires_at = now + lifetime;
                    a.refresh_at = Some(now + refresh_delay(lifetime));
                    self.events.push_back(Event::Refreshed { lifetime });
                }
            }
            TxKind::Deallocate => {
                if matches!(self.phase, Phase::Deallocating) {
                    self.phase = Phase::Idle;
                    self.events.push_back(Event::Deallocated);
                }
            }
            TxKind::CreatePermission(ip) => {
                if let Some(p) = self.permissions.get_mut(&ip) {
                    let first = !p.installed;
                    p.installed = true;
                    p.refresh_at = Some(now + PERMISSION_REFRESH);
                    if first {
                        self.events.push_back(Event::PermissionCreated(ip));
                    }
                }
            }
            TxKind::ChannelBind { peer, channel } => {
                let Some(c) = self.channels.get_mut(&peer).filter(|c| c.number == channel) else {
                    return;
                };
                let first = !c.bound;
                c.bound = true;
                c.refresh_at = Some(now + CHANNEL_REFRESH);
                // The binding installed or refreshed the permission too (RFC 8656 section
                // 12.3); keep it refreshed from now on.
                let p = self.permissions.entry(peer.ip()).or_insert(Permission {
                    installed: false,
                    refresh_at: None,
                });
                if !p.installed {
                    p.installed = true;
                    p.refresh_at = Some(now + PERMISSION_REFRESH);
                }
                if first {
                    self.events.push_back(Event::ChannelBound { peer, channel });
                }
            }
        }
    }

    fn on_failure(&mut self, _now: Instant, kind: TxKind, error: RequestError) {
        match kind {
            TxKind::Allocate => {
                if matches!(self.phase, Phase::Allocating) {
                    self.phase = Phase::Idle;
                    self.events.push_back(Event::AllocationFailed(error));
                }
            }
            TxKind::Refresh => {
                if self.is_allocated() {
                    self.lose(error);
                }
            }
            TxKind::Deallocate => {
                // Whatever the answer (437 included, RFC 8656 section 8.3), the allocation is
                // gone or will expire on its own.
                if matches!(self.phase, Phase::Deallocating) {
                    self.phase = Phase::Idle;
                    self.events.push_back(Event::Deallocated);
                }
            }
            TxKind::CreatePermission(peer) => {
                if self.permissions.remove(&peer).is_some() {
                    self.events
                        .push_back(Event::PermissionFailed { peer, error });
                }
            }
            TxKind::ChannelBind { peer, channel } => {
                if self
                    .channels
                    .get(&peer)
                    .is_some_and(|c| c.number == channel)
                {
                    self.channels.remove(&peer);
                    self.channel_peers.remove(&channel);
                    self.events
                        .push_back(Event::ChannelBindFailed { peer, error });
                }
            }
        }
    }

    /// Drops every trace of the allocation on this side.
    fn forget_allocation(&mut self) {
        self.transactions.clear();
        self.permissions.clear();
        self.channels.clear();
        self.channel_peers.clear();
        self.phase = Phase::Idle;
    }

    fn lose(&mut self, error: RequestError) {
        self.forget_allocation();
        self.events.push_back(Event::AllocationLost(error));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const SERVER: &str = "192.0.2.1:3478";
    const RELAYED: &str = "192.0.2.1:50000";
    const MAPPED: &str = "203.0.113.5:40000";
    const PEER: &str = "198.51.100.9:7000";

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn key() -> IntegrityKey {
        IntegrityKey::long_term("user", "example.org", "pass")
    }

    fn client(transport: TurnTransport) -> Client {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        Client::new(
            ClientConfig::new(addr(SERVER), transport, "user", "pass"),
            &mut rng,
        )
    }

    fn sent(c: &mut Client) -> Vec<u8> {
        let t = c.poll_transmit().expect("a transmit");
        assert_eq!(t.destination, addr(SERVER));
        assert_eq!(t.transport, c.config().transport);
        assert_eq!(t.source, None);
        t.contents.to_vec()
    }

    fn events(c: &mut Client) -> Vec<Event> {
        std::iter::from_fn(|| c.poll_event()).collect()
    }

    /// A response to `request` with `attrs`, signed with `key` when given.
    fn respond(
        request: &[u8],
        class: Class,
        attrs: &[Attribute<'_>],
        key: Option<&IntegrityKey>,
    ) -> Vec<u8> {
        let req = Message::new_checked(request).unwrap();
        let mut out = Vec::new();
        let mut b = MessageBuilder::new(
            &mut out,
            MessageType::new(class, req.method()),
            req.transaction_id(),
        );
        for a in attrs {
            b.add(a).unwrap();
        }
        if let Some(k) = key {
            b.add_message_integrity(k).unwrap();
        }
        b.add_fingerprint().unwrap();
        out
    }

    fn error(code: u16) -> Attribute<'static> {
        Attribute::ErrorCode(ErrorCode { code, reason: "" })
    }

    fn challenge(request: &[u8], nonce: &str) -> Vec<u8> {
        respond(
            request,
            Class::ErrorResponse,
            &[
                error(401),
                Attribute::Realm("example.org"),
                Attribute::Nonce(nonce),
            ],
            None,
        )
    }

    /// Drives a client through 401 and success; returns it allocated at `now`.
    fn allocated(transport: TurnTransport, now: Instant) -> Client {
        let mut c = client(transport);
        c.allocate(now).unwrap();
        let first = sent(&mut c);
        c.handle_receive(now, addr(SERVER), &challenge(&first, "n1"))
            .unwrap();
        let second = sent(&mut c);
        let ok = respond(
            &second,
            Class::SuccessResponse,
            &[
                Attribute::XorRelayedAddress(addr(RELAYED)),
                Attribute::XorMappedAddress(addr(MAPPED)),
                Attribute::Lifetime(600),
            ],
            Some(&key()),
        );
        c.handle_receive(now, addr(SERVER), &ok).unwrap();
        assert!(c.is_allocated());
        events(&mut c);
        c
    }

    #[test]
    fn first_allocate_is_unauthenticated() {
        let mut c = client(TurnTransport::Udp);
        let now = Instant::now();
        c.allocate(now).unwrap();
        assert_eq!(c.allocate(now), Err(CommandError::AlreadyAllocated));
        let req = sent(&mut c);
        let msg = Message::new_checked(&req).unwrap();
        msg.check_fingerprint().unwrap();
        assert_eq!(
            (msg.class(), msg.method()),
            (Class::Request, Method::ALLOCATE)
        );
        assert!(
            msg.attributes()
                .any(|a| a == Attribute::RequestedTransport(PROTOCOL_UDP))
        );
        assert!(msg.username().is_none() && msg.realm().is_none() && !msg.has_integrity());
        assert!(c.poll_transmit().is_none());
        assert_eq!(c.poll_timeout(), Some(now + Duration::from_millis(500)));
    }

    #[test]
    fn challenge_then_success() {
        let now = Instant::now();
        let mut c = client(TurnTransport::Udp);
        c.allocate(now).unwrap();
        let first = sent(&mut c);
        c.handle_receive(now, addr(SERVER), &challenge(&first, "n1"))
            .unwrap();
        let second = sent(&mut c);
        let msg = Message::new_checked(&second).unwrap();
        assert_ne!(
            msg.transaction_id(),
            Message::new_checked(&first).unwrap().transaction_id()
        );
        assert_eq!(msg.username(), Some("user"));
        assert_eq!(msg.realm(), Some("example.org"));
        assert_eq!(msg.nonce(), Some("n1"));
        msg.check_integrity(&key()).unwrap();
        msg.check_fingerprint().unwrap();
        // An unsigned success is refused; the transaction goes on.
        let unsigned = respond(
            &second,
            Class::SuccessResponse,
            &[Attribute::XorRelayedAddress(addr(RELAYED))],
            None,
        );
        assert_eq!(
            c.handle_receive(now, addr(SERVER), &unsigned),
            Err(TurnError::IntegrityMismatch)
        );
        let wrong = IntegrityKey::long_term("user", "example.org", "nope");
        let forged = respond(
            &second,
            Class::SuccessResponse,
            &[Attribute::XorRelayedAddress(addr(RELAYED))],
            Some(&wrong),
        );
        assert_eq!(
            c.handle_receive(now, addr(SERVER), &forged),
            Err(TurnError::IntegrityMismatch)
        );
        assert!(!c.is_allocated());
        let ok = respond(
            &second,
            Class::SuccessResponse,
            &[
                Attribute::XorRelayedAddress(addr(RELAYED)),
                Attribute::XorMappedAddress(addr(MAPPED)),
                Attribute::Lifetime(600),
            ],
            Some(&key()),
        );
        let later = now + Duration::from_millis(100);
        c.handle_receive(later, addr(SERVER), &ok).unwrap();
        assert_eq!(
            events(&mut c),
            [Event::Allocated {
                relayed: addr(RELAYED),
                mapped: Some(addr(MAPPED)),
                lifetime: Duration::from_secs(600),
            }]
        );
        assert_eq!(c.relayed_address(), Some(addr(RELAYED)));
        assert_eq!(c.mapped_address(), Some(addr(MAPPED)));
        assert_eq!(c.pending_transactions(), 0);
        // Refresh one minute before expiry.
        assert_eq!(c.poll_timeout(), Some(later + Duration::from_secs(540)));
        // A late retransmitted response matches nothing.
        assert_eq!(
            c.handle_receive(later, addr(SERVER), &ok),
            Err(TurnError::UnknownTransaction)
        );
    }

    #[test]
    fn refresh_is_sent_and_applied() {
        let now = Instant::now();
        let mut c = allocated(TurnTransport::Udp, now);
        let at = now + Duration::from_secs(540);
        c.handle_timeout(at - Duration::from_millis(1));
        assert!(c.poll_transmit().is_none());
        c.handle_timeout(at);
        let req = sent(&mut c);
        let msg = Message::new_checked(&req).unwrap();
        assert_eq!(msg.method(), Method::REFRESH);
        assert_eq!(msg.lifetime(), None);
        assert_eq!(msg.nonce(), Some("n1"));
        msg.check_integrity(&key()).unwrap();
        let ok = respond(
            &req,
            Class::SuccessResponse,
            &[Attribute::Lifetime(100)],
            Some(&key()),
        );
        c.handle_receive(at, addr(SERVER), &ok).unwrap();
        assert_eq!(
            events(&mut c),
            [Event::Refreshed {
                lifetime: Duration::from_secs(100)
            }]
        );
        assert_eq!(c.expires_at(), Some(at + Duration::from_secs(100)));
        // Short lifetimes are refreshed half-way.
        assert_eq!(c.poll_timeout(), Some(at + Duration::from_secs(50)));
    }

    #[test]
    fn refresh_on_demand_once() {
        let now = Instant::now();
        let mut c = allocated(TurnTransport::Udp, now);
        c.refresh(now).unwrap();
        c.refresh(now).unwrap();
        let req = sent(&mut c);
        assert!(c.poll_transmit().is_none());
        assert_eq!(
            Message::new_checked(&req).unwrap().method(),
            Method::REFRESH
        );
        let ok = respond(
            &req,
            Class::SuccessResponse,
            &[Attribute::Lifetime(600)],
            Some(&key()),
        );
        c.handle_receive(now, addr(SERVER), &ok).unwrap();
        assert_eq!(
            events(&mut c),
            [Event::Refreshed {
                lifetime: Duration::from_secs(600)
            }]
        );
        assert_eq!(
            client(TurnTransport::Udp).refresh(now),
            Err(CommandError::NotAllocated)
        );
    }

    #[test]
    fn stale_nonce_is_retried_with_the_new_nonce_then_gives_up() {
        let now = Instant::now();
        let mut c = allocated(TurnTransport::Udp, now);
        c.create_permission(now, addr(PEER).ip()).unwrap();
        let mut req = sent(&mut c);
        for i in 0..MAX_STALE_NONCE_RETRIES {
            let nonce = format!("fresh{i}");
            let stale = respond(
                &req,
                Class::ErrorResponse,
                &[
                    error(438),
                    Attribute::Realm("example.org"),
                    Attribute::Nonce(&nonce),
                ],
                None,
            );
            c.handle_receive(now, addr(SERVER), &stale).unwrap();
            req = sent(&mut c);
            let msg = Message::new_checked(&req).unwrap();
            assert_eq!(msg.method(), Method::CREATE_PERMISSION);
            assert_eq!(msg.nonce(), Some(nonce.as_str()));
            msg.check_integrity(&key()).unwrap();
        }
        assert!(events(&mut c).is_empty());
        let stale = respond(
            &req,
            Class::ErrorResponse,
            &[
                error(438),
                Attribute::Realm("example.org"),
                Attribute::Nonce("again"),
            ],
            None,
        );
        c.handle_receive(now, addr(SERVER), &stale).unwrap();
        assert_eq!(
            events(&mut c),
            [Event::PermissionFailed {
                peer: addr(PEER).ip(),
                error: RequestError::StaleNonce(MAX_STALE_NONCE_RETRIES)
            }]
        );
        assert!(c.poll_transmit().is_none());
    }

    #[test]
    fn second_401_means_wrong_credentials() {
        let now = Instant::now();
        let mut c = client(TurnTransport::Udp);
        c.allocate(now).unwrap();
        let first = sent(&mut c);
        c.handle_receive(now, addr(SERVER), &challenge(&first, "n"))
            .unwrap();
        let second = sent(&mut c);
        c.handle_receive(now, addr(SERVER), &challenge(&second, "n"))
            .unwrap();
        assert_eq!(
            events(&mut c),
            [Event::AllocationFailed(RequestError::Unauthenticated)]
        );
        assert!(c.poll_transmit().is_none());
        assert_eq!(c.poll_timeout(), None);
        // Idle again: a new attempt is allowed.
        c.allocate(now).unwrap();
    }

    #[test]
    fn challenge_without_nonce_and_typed_errors() {
        let now = Instant::now();
        let mut c = client(TurnTransport::Udp);
        c.allocate(now).unwrap();
        let first = sent(&mut c);
        let bad = respond(
            &first,
            Class::ErrorResponse,
            &[error(401), Attribute::Realm("r")],
            None,
        );
        c.handle_receive(now, addr(SERVER), &bad).unwrap();
        assert_eq!(
            events(&mut c),
            [Event::AllocationFailed(RequestError::MissingChallenge)]
        );
        for (code, expected) in [
            (486, RequestError::AllocationQuotaReached),
            (442, RequestError::UnsupportedTransport),
            (403, RequestError::Forbidden),
            (500, RequestError::Server(500)),
        ] {
            c.allocate(now).unwrap();
            let req = sent(&mut c);
            let err = respond(&req, Class::ErrorResponse, &[error(code)], None);
            c.handle_receive(now, addr(SERVER), &err).unwrap();
            assert_eq!(events(&mut c), [Event::AllocationFailed(expected)]);
        }
    }

    #[test]
    fn password_algorithms_switch_to_sha256() {
        let now = Instant::now();
        let mut c = client(TurnTransport::Udp);
        c.allocate(now).unwrap();
        let first = sent(&mut c);
        // Nonce cookie with the "password algorithms" bit (first sextet 0b100000 = 'g').
        let nonce = "obMatJos2gAAAxyz";
        let mut list = Vec::new();
        PasswordAlgorithms::encode(
            &[
                PasswordAlgorithm {
                    algorithm: PasswordAlgorithmId(0x77),
                    parameters: &[],
                },
                PasswordAlgorithm {
                    algorithm: PasswordAlgorithmId::SHA256,
                    parameters: &[],
                },
            ],
            &mut list,
        )
        .unwrap();
        let algorithms = PasswordAlgorithms::new_checked(&list).unwrap();
        let ch = respond(
            &first,
            Class::ErrorResponse,
            &[
                error(401),
                Attribute::Realm("example.org"),
                Attribute::Nonce(nonce),
                Attribute::PasswordAlgorithms(algorithms),
            ],
            None,
        );
        c.handle_receive(now, addr(SERVER), &ch).unwrap();
        let second = sent(&mut c);
        let msg = Message::new_checked(&second).unwrap();
        assert!(!msg.has_integrity() && msg.has_integrity_sha256());
        assert!(
            msg.attributes()
                .any(|a| a == Attribute::PasswordAlgorithms(algorithms))
        );
        assert!(msg.attributes().any(|a| a
            == Attribute::PasswordAlgorithm(PasswordAlgorithm {
                algorithm: PasswordAlgorithmId::SHA256,
                parameters: &[]
            })));
        let sha_key = IntegrityKey::long_term_with(
            PasswordAlgorithmId::SHA256,
            "user",
            "example.org",
            "pass",
        )
        .unwrap();
        msg.check_integrity(&sha_key).unwrap();

        // The same cookie without the attribute is a bid-down: no retry.
        let mut c = client(TurnTransport::Udp);
        c.allocate(now).unwrap();
        let first = sent(&mut c);
        c.handle_receive(now, addr(SERVER), &challenge(&first, nonce))
            .unwrap();
        assert_eq!(
            events(&mut c),
            [Event::AllocationFailed(RequestError::BidDown)]
        );
        assert!(c.poll_transmit().is_none());
    }

    #[test]
    fn username_anonymity_uses_userhash() {
        let now = Instant::now();
        let mut c = client(TurnTransport::Udp);
        c.allocate(now).unwrap();
        let first = sent(&mut c);
        // First sextet 0b010000 = 'Q': username anonymity only.
        c.handle_receive(now, addr(SERVER), &challenge(&first, "obMatJos2QAAA"))
            .unwrap();
        let msg_bytes = sent(&mut c);
        let msg = Message::new_checked(&msg_bytes).unwrap();
        assert_eq!(msg.username(), None);
        assert_eq!(msg.userhash(), Some(&userhash("user", "example.org")));
        msg.check_integrity(&key()).unwrap();
    }

    #[test]
    fn udp_retransmissions_follow_rfc8489_then_time_out() {
        let t0 = Instant::now();
        let mut c = client(TurnTransport::Udp);
        c.allocate(t0).unwrap();
        let first = sent(&mut c);
        let mut at = Vec::new();
        while let Some(t) = c.poll_timeout() {
            c.handle_timeout(t);
            if let Some(tx) = c.poll_transmit() {
                assert_eq!(tx.contents, first);
                at.push((t - t0).as_millis());
            } else {
                at.push((t - t0).as_millis());
                break;
            }
        }
        assert_eq!(at, [500, 1500, 3500, 7500, 15500, 31500, 39500]);
        assert_eq!(
            events(&mut c),
            [Event::AllocationFailed(RequestError::Timeout)]
        );
    }

    #[test]
    fn tcp_has_no_retransmissions() {
        let t0 = Instant::now();
        let mut c = client(TurnTransport::Tcp);
        c.allocate(t0).unwrap();
        sent(&mut c);
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_millis(39_500)));
        c.handle_timeout(t0 + Duration::from_secs(20));
        assert!(c.poll_transmit().is_none());
        c.handle_timeout(t0 + Duration::from_millis(39_500));
        assert!(c.poll_transmit().is_none());
        assert_eq!(
            events(&mut c),
            [Event::AllocationFailed(RequestError::Timeout)]
        );
    }

    #[test]
    fn tcp_responses_in_arbitrary_chunks_and_padded_channel_data() {
        let now = Instant::now();
        let mut c = client(TurnTransport::Tcp);
        c.allocate(now).unwrap();
        let first = sent(&mut c);
        let ch = challenge(&first, "n1");
        // Byte by byte.
        for b in ch.chunks(1) {
            c.handle_receive(now, addr(SERVER), b).unwrap();
        }
        let second = sent(&mut c);
        let ok = respond(
            &second,
            Class::SuccessResponse,
            &[
                Attribute::XorRelayedAddress(addr(RELAYED)),
                Attribute::Lifetime(600),
            ],
            Some(&key()),
        );
        // The success response and a Data indication in one chunk, cut mid-way.
        let mut stream = ok.clone();
        let mut ind = Vec::new();
        MessageBuilder::new(
            &mut ind,
            MessageType::new(Class::Indication, Method::DATA),
            TransactionId([1; 12]),
        )
        .add(&Attribute::XorPeerAddress(addr(PEER)))
        .unwrap()
        .add(&Attribute::Data(b"early"))
        .unwrap();
        stream.extend_from_slice(&ind);
        c.handle_receive(now, addr(SERVER), &stream[..ok.len() + 3])
            .unwrap();
        assert!(c.is_allocated());
        c.create_permission(now, addr(PEER).ip()).unwrap();
        c.handle_receive(now, addr(SERVER), &stream[ok.len() + 3..])
            .unwrap();
        let evs = events(&mut c);
        assert_eq!(
            evs.last(),
            Some(&Event::Data {
                peer: addr(PEER),
                data: Bytes::from_static(b"early")
            })
        );
        let perm = sent(&mut c);
        c.handle_receive(
            now,
            addr(SERVER),
            &respond(&perm, Class::SuccessResponse, &[], Some(&key())),
        )
        .unwrap();
        let ch = c.bind_channel(now, addr(PEER)).unwrap();
        let bind = sent(&mut c);
        c.handle_receive(
            now,
            addr(SERVER),
            &respond(&bind, Class::SuccessResponse, &[], Some(&key())),
        )
        .unwrap();
        c.send_to(addr(PEER), b"abcde").unwrap();
        let cd = sent(&mut c);
        assert_eq!(cd.len(), 12);
        assert_eq!(&cd[..4], [(ch >> 8) as u8, ch as u8, 0, 5]);
        // Padded ChannelData from the server, then garbage that breaks the stream.
        let mut down = Vec::new();
        ChannelData {
            channel: ch,
            data: b"xyz",
        }
        .encode(true, &mut down)
        .unwrap();
        c.handle_receive(now, addr(SERVER), &down).unwrap();
        assert_eq!(
            events(&mut c).last(),
            Some(&Event::Data {
                peer: addr(PEER),
                data: Bytes::from_static(b"xyz")
            })
        );
        assert_eq!(
            c.handle_receive(now, addr(SERVER), &[0xC0, 0, 0, 0]),
            Err(TurnError::StreamDesynchronized)
        );
        // Fatal for the connection: said once, as an event; later chunks are dropped.
        assert_eq!(events(&mut c), [Event::StreamDesynchronized]);
        let dropped = c.stats().dropped_malformed;
        assert_eq!(
            c.handle_receive(now, addr(SERVER), &down),
            Err(TurnError::StreamDesynchronized)
        );
        assert_eq!(c.stats().dropped_malformed, dropped + 1);
        assert_eq!(events(&mut c), []);
    }

    #[test]
    fn tcp_integrity_failure_ends_the_transaction() {
        let now = Instant::now();
        let mut c = client(TurnTransport::Tcp);
        c.allocate(now).unwrap();
        let first = sent(&mut c);
        c.handle_receive(now, addr(SERVER), &challenge(&first, "n"))
            .unwrap();
        let second = sent(&mut c);
        let forged = respond(
            &second,
            Class::SuccessResponse,
            &[Attribute::XorRelayedAddress(addr(RELAYED))],
            Some(&IntegrityKey::short_term("x")),
        );
        assert_eq!(
            c.handle_receive(now, addr(SERVER), &forged),
            Err(TurnError::IntegrityMismatch)
        );
        assert_eq!(
            events(&mut c),
            [Event::AllocationFailed(RequestError::IntegrityViolated)]
        );
    }

    #[test]
    fn permission_channel_and_data_paths() {
        let now = Instant::now();
        let mut c = allocated(TurnTransport::Udp, now);
        let peer = addr(PEER);
        assert_eq!(
            c.send_to(peer, b"x"),
            Err(CommandError::NoPermission(peer.ip()))
        );
        assert_eq!(
            c.create_permission(now, "2001:db8::1".parse().unwrap()),
            Err(CommandError::PeerFamilyMismatch(
                "2001:db8::1".parse().unwrap()
            ))
        );
        c.create_permission(now, peer.ip()).unwrap();
        // Asking again while pending sends nothing more.
        c.create_permission(now, peer.ip()).unwrap();
        let req = sent(&mut c);
        assert!(c.poll_transmit().is_none());
        let msg = Message::new_checked(&req).unwrap();
        assert_eq!(msg.method(), Method::CREATE_PERMISSION);
        assert_eq!(msg.xor_peer_address(), Some(SocketAddr::new(peer.ip(), 0)));
        msg.check_integrity(&key()).unwrap();
        c.handle_receive(
            now,
            addr(SERVER),
            &respond(&req, Class::SuccessResponse, &[], Some(&key())),
        )
        .unwrap();
        assert_eq!(events(&mut c), [Event::PermissionCreated(peer.ip())]);
        assert!(c.has_permission(peer.ip()));

        // Before a channel: a Send indication.
        c.send_to(peer, b"hello").unwrap();
        let ind = sent(&mut c);
        let msg = Message::new_checked(&ind).unwrap();
        assert_eq!(
            (msg.class(), msg.method()),
            (Class::Indication, Method::SEND)
        );
        assert_eq!(msg.xor_peer_address(), Some(peer));
        assert_eq!(msg.data(), Some(&b"hello"[..]));
        assert!(!msg.has_integrity());

        // Data indications from the server.
        let mut data = Vec::new();
        MessageBuilder::new(
            &mut data,
            MessageType::new(Class::Indication, Method::DATA),
            TransactionId([3; 12]),
        )
        .add(&Attribute::XorPeerAddress(peer))
        .unwrap()
        .add(&Attribute::Data(b"back"))
        .unwrap();
        // Over UDP, peer data comes back borrowed from the datagram, not as an event.
        assert_eq!(
            c.handle_receive(now, addr(SERVER), &data),
            Ok(Some((peer, &b"back"[..])))
        );
        assert_eq!(events(&mut c), []);
        assert_eq!(
            c.handle_receive(now, addr(PEER), &data),
            Err(TurnError::UnexpectedSource(peer))
        );

        // Channel binding.
        let ch = c.bind_channel(now, peer).unwrap();
        assert_eq!(ch, 0x4000);
        assert_eq!(c.bind_channel(now, peer), Ok(0x4000));
        let other = c.bind_channel(now, addr("198.51.100.9:7001")).unwrap();
        assert_eq!(other, 0x4001);
        let req = sent(&mut c);
        let msg = Message::new_checked(&req).unwrap();
        assert_eq!(msg.method(), Method::CHANNEL_BIND);
        assert_eq!(msg.channel_number(), Some(0x4000));
        assert_eq!(msg.xor_peer_address(), Some(peer));
        // Not yet bound: still a Send indication.
        c.send_to(peer, b"x").unwrap();
        let msg_bytes = sent(&mut c); // the second ChannelBind
        assert_eq!(
            Message::new_checked(&msg_bytes).unwrap().channel_number(),
            Some(0x4001)
        );
        assert!(crate::framing::is_stun(&sent(&mut c)));
        c.handle_receive(
            now,
            addr(SERVER),
            &respond(&req, Class::SuccessResponse, &[], Some(&key())),
        )
        .unwrap();
        assert_eq!(
            events(&mut c),
            [Event::ChannelBound {
                peer,
                channel: 0x4000
            }]
        );
        c.send_to(peer, b"hello").unwrap();
        assert_eq!(
            sent(&mut c),
            [0x40, 0x00, 0x00, 0x05, b'h', b'e', b'l', b'l', b'o']
        );
        assert_eq!(
            c.handle_receive(now, addr(SERVER), &[0x40, 0x00, 0x00, 0x02, b'o', b'k']),
            Ok(Some((peer, &b"ok"[..])))
        );
        assert_eq!(events(&mut c), []);
        assert_eq!(
            c.handle_receive(now, addr(SERVER), &[0x40, 0x09, 0x00, 0x00]),
            Err(TurnError::UnknownChannel(0x4009))
        );
        assert_eq!(
            c.handle_receive(now, addr(SERVER), &[0x80, 0x00]),
            Err(TurnError::NotTurn)
        );
        // Every drop above is counted, each under its reason.
        let stats = c.stats();
        assert_eq!(
            (
                stats.dropped_unexpected_source,
                stats.dropped_data,
                stats.dropped_malformed
            ),
            (1, 1, 1)
        );
        assert_eq!(stats.dropped(), 3);
    }

    #[test]
    fn permissions_and_channels_are_refreshed() {
        let now = Instant::now();
        let mut c = allocated(TurnTransport::Udp, now);
        let peer = addr(PEER);
        c.bind_channel(now, peer).unwrap();
        let req = sent(&mut c);
        c.handle_receive(
            now,
            addr(SERVER),
            &respond(&req, Class::SuccessResponse, &[], Some(&key())),
        )
        .unwrap();
        events(&mut c);
        // The binding installed the permission, refreshed at 4 minutes.
        assert!(c.has_permission(peer.ip()));
        assert_eq!(c.poll_timeout(), Some(now + PERMISSION_REFRESH));
        let t1 = now + PERMISSION_REFRESH;
        c.handle_timeout(t1);
        let req = sent(&mut c);
        assert_eq!(
            Message::new_checked(&req).unwrap().method(),
            Method::CREATE_PERMISSION
        );
        c.handle_receive(
            t1,
            addr(SERVER),
            &respond(&req, Class::SuccessResponse, &[], Some(&key())),
        )
        .unwrap();
        c.handle_timeout(now + CHANNEL_REFRESH);
        let mut methods = Vec::new();
        while let Some(t) = c.poll_transmit() {
            methods.push(Message::new_checked(&t.contents).unwrap().method());
        }
        // At 9 minutes: the allocation (600 s lifetime), the permission (second refresh,
        // due at 8 minutes) and the channel.
        assert_eq!(
            methods,
            [
                Method::REFRESH,
                Method::CREATE_PERMISSION,
                Method::CHANNEL_BIND
            ]
        );
        assert!(events(&mut c).is_empty());
    }

    #[test]
    fn deallocate_treats_437_as_done() {
        let now = Instant::now();
        let mut c = allocated(TurnTransport::Udp, now);
        c.create_permission(now, addr(PEER).ip()).unwrap();
        sent(&mut c);
        c.deallocate(now).unwrap();
        assert_eq!(c.deallocate(now), Err(CommandError::NotAllocated));
        let req = sent(&mut c);
        let msg = Message::new_checked(&req).unwrap();
        assert_eq!(msg.method(), Method::REFRESH);
        assert_eq!(msg.lifetime(), Some(0));
        assert_eq!(c.pending_transactions(), 1);
        c.handle_receive(
            now,
            addr(SERVER),
            &respond(&req, Class::ErrorResponse, &[error(437)], Some(&key())),
        )
        .unwrap();
        assert_eq!(events(&mut c), [Event::Deallocated]);
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.send_to(addr(PEER), b"x"), Err(CommandError::NotAllocated));
    }

    #[test]
    fn failed_refresh_loses_the_allocation() {
        let now = Instant::now();
        let mut c = allocated(TurnTransport::Udp, now);
        c.handle_timeout(now + Duration::from_secs(540));
        let req = sent(&mut c);
        c.handle_receive(
            now,
            addr(SERVER),
            &respond(&req, Class::ErrorResponse, &[error(437)], Some(&key())),
        )
        .unwrap();
        assert_eq!(
            events(&mut c),
            [Event::AllocationLost(RequestError::AllocationMismatch)]
        );
        assert!(!c.is_allocated());
    }

    proptest::proptest! {
        /// Nothing the server (or anyone spoofing it) sends makes the client panic, whatever
        /// its state: random bytes, and valid messages with one byte changed.
        #[test]
        fn hostile_input_never_panics(
            stream in proptest::bool::ANY,
            random in proptest::collection::vec(proptest::collection::vec(0u8..=255, 0..120), 0..12),
            flips in proptest::collection::vec((0usize..200, 1u8..=255), 1..12),
        ) {
            let now = Instant::now();
            let transport = if stream { TurnTransport::Tcp } else { TurnTransport::Udp };
            let mut c = allocated(transport, now);
            let peer = addr(PEER);
            c.create_permission(now, peer.ip()).unwrap();
            let perm = sent(&mut c);
            let ch = c.bind_channel(now, peer).unwrap();
            let bind = sent(&mut c);
            let mut valid = vec![
                respond(&perm, Class::SuccessResponse, &[], Some(&key())),
                respond(&bind, Class::ErrorResponse, &[error(438), Attribute::Realm("example.org"), Attribute::Nonce("x")], None),
            ];
            let mut cd = Vec::new();
            ChannelData { channel: ch, data: b"payload" }.encode(stream, &mut cd).unwrap();
            valid.push(cd);
            for (i, (at, x)) in flips.iter().enumerate() {
                let mut m = valid[i % valid.len()].clone();
                let at = at % m.len();
                m[at] ^= x;
                let _ = c.handle_receive(now, addr(SERVER), &m);
                let _ = c.handle_receive(now, addr(SERVER), &m);
            }
            for r in &random {
                let _ = c.handle_receive(now, addr(SERVER), r);
            }
            for step in 1..6 {
                c.handle_timeout(now + Duration::from_secs(200 * step));
                while c.poll_transmit().is_some() {}
                while c.poll_event().is_some() {}
            }
            // Still answers commands consistently.
            let _ = c.send_to(peer, b"x");
            let _ = c.deallocate(now);
        }
    }

    #[test]
    fn nonce_feature_bits() {
        assert_eq!(nonce_features("plain"), (false, false));
        assert_eq!(nonce_features("obMatJos2AAAA"), (false, false));
        assert_eq!(nonce_features("obMatJos2gAAA"), (true, false));
        assert_eq!(nonce_features("obMatJos2QAAA"), (false, true));
        assert_eq!(nonce_features("obMatJos2wAAA"), (true, true));
        assert_eq!(nonce_features("obMatJos2"), (false, false));
    }
}
