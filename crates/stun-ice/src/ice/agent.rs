//! The sans-IO ICE agent (RFC 8445) with Trickle ICE (RFC 8838) and consent freshness
//! (RFC 7675).

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferrtc_types::{Bytes, Transmit, Transport};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::candidate::{
    self, Candidate, CandidateKind, Foundation, FoundationKey, FoundationTable, TcpType,
    TransportProtocol,
};
use super::pair::{AddOutcome, CheckList, PairId, PairState, pair_priority_for};
use super::wire::{self, CheckRequest, RoleAttr};
use crate::stun::Method;
use crate::stun::{Class, ErrorCode, IntegrityKey, Message, TransactionId};

/// Most local candidates the agent keeps (host, reflexive and relayed together).
pub const MAX_LOCAL_CANDIDATES: usize = 32;
/// Most remote candidates the agent keeps, signalled and peer-reflexive together.
pub const MAX_REMOTE_CANDIDATES: usize = 64;
/// How long a TCP-passive candidate waits for the peer to connect before its pairs count
/// as failed (RFC 6544 leaves it to the agent), and an empty checklist waits for the peer's
/// checks to bring a peer-reflexive candidate (RFC 8445 §7.3.1.3) before ICE fails.
const PASSIVE_WAIT: Duration = Duration::from_secs(10);
/// Most STUN transactions in flight at once; beyond it the oldest abandoned one goes.
const MAX_TRANSACTIONS: usize = 512;
/// Transactions an idle agent keeps room for: the checks of a check list grow the table,
/// and once at most this many are left (a consent check, RFC 7675) it shrinks back to
/// this, so a connected, idle agent does not hold the check phase's capacity (a `Tx` is
/// some 520 bytes with its integrity key's HMAC states).
const IDLE_TRANSACTIONS: usize = 1;

/// Which side decides the selected pair (RFC 8445 §2.3, §6.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IceRole {
    /// Nominates pairs (normally the offerer).
    Controlling,
    /// Follows the peer's nominations.
    Controlled,
}

/// The W3C `RTCIceConnectionState` values, which the agent moves through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Nothing checked yet.
    New,
    /// Checks are running and no pair works yet.
    Checking,
    /// A pair works (media may flow) but ICE has not concluded.
    Connected,
    /// A nominated pair is selected and checks have concluded.
    Completed,
    /// Consent checks on the selected pair have gone unanswered for a while.
    Disconnected,
    /// Every pair failed, or consent expired (RFC 7675 §5.1). Only a restart recovers.
    Failed,
    /// [`Agent::close`] was called.
    Closed,
}

/// The W3C `RTCIceGatheringState` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GatheringState {
    /// No local address handed in yet.
    New,
    /// Candidates are being gathered.
    Gathering,
    /// The driver said no more host addresses come and every server answered or timed out.
    Complete,
}

/// Local `ice-ufrag` and `ice-pwd` (RFC 8445 §5.3, RFC 8839 §5.4).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username fragment: 4 to 256 ice-chars.
    pub ufrag: String,
    /// The password: 22 to 256 ice-chars.
    pub pwd: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("ufrag", &self.ufrag)
            .field("pwd", &"<redacted>")
            .finish()
    }
}

const ICE_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl Credentials {
    /// Checks lengths and alphabet against RFC 8839 §5.4 (`ice-ufrag` 4 to 256 ice-chars,
    /// `ice-pwd` 22 to 256).
    pub fn new(ufrag: &str, pwd: &str) -> Result<Credentials, IceError> {
        let ok = |s: &str, min: usize| {
            (min..=256).contains(&s.len()) && s.bytes().all(candidate::is_ice_char)
        };
        if !ok(ufrag, 4) || !ok(pwd, 22) {
            return Err(IceError::InvalidCredentials);
        }
        Ok(Credentials {
            ufrag: ufrag.to_owned(),
            pwd: pwd.to_owned(),
        })
    }

    /// Fresh random credentials: an 8-character ufrag (48 random bits, RFC 8445 §5.3
    /// asks at least 24) and a 24-character password (144 bits, at least 128 asked).
    pub fn random(rng: &mut dyn RngCore) -> Credentials {
        let mut draw = |n: usize| {
            (0..n)
                .map(|_| ICE_CHARS[(rng.next_u32() & 63) as usize] as char)
                .collect::<String>()
        };
        let ufrag = draw(8);
        let pwd = draw(24);
        Credentials { ufrag, pwd }
    }
}

/// Agent configuration. `Default` gives a full, controlling agent with the RFC timers.
#[derive(Debug, Clone)]
pub struct IceConfig {
    /// Initial role; a role conflict (RFC 8445 §7.3.1.1) may change it.
    pub role: IceRole,
    /// Be an ICE-lite agent (RFC 8445 §2.5): host candidates only, answer checks, never send
    /// any. For servers with a public address.
    pub lite: bool,
    /// STUN servers to learn server-reflexive candidates from.
    pub stun_servers: Vec<SocketAddr>,
    /// Pacing timer Ta (RFC 8445 §14.2): default 50 ms.
    pub ta: Duration,
    /// Limit on candidate pairs (RFC 8445 §6.1.2.5): default 100.
    pub max_pairs: usize,
    /// Transmissions of one check before it fails (Rc of RFC 8489 §6.2.1): default 7.
    pub max_check_transmissions: u32,
    /// Lower bound of the retransmission timeout (RFC 8445 §14.3): default 500 ms.
    pub min_rto: Duration,
    /// The doubling retransmission timeout stops growing here: default 3 s.
    pub max_rto: Duration,
    /// How long the controlling agent waits, after the first valid pair, for better pairs
    /// before nominating the best one (RFC 8445 §8.1.1 leaves this to the agent): default 1 s.
    pub nomination_timeout: Duration,
    /// Basic period of consent checks (RFC 7675 §5.1): default 5 s, randomized to 0.8-1.2x.
    pub consent_interval: Duration,
    /// Consent expires without a response for this long (RFC 7675 §5.1): default 30 s.
    pub consent_timeout: Duration,
    /// Without a consent response for this long, the state is Disconnected: default 8 s.
    pub disconnected_timeout: Duration,
    /// Our credentials; `None` draws random ones from the agent's generator.
    pub credentials: Option<Credentials>,
    /// RTCP shares the RTP component (rtcp-mux, RFC 5761, negotiated by `a=rtcp-mux`): the
    /// agent runs component 1 only, and the peer's component-2 candidates (which Firefox
    /// still gathers) are ignored and counted in [`IceStats::rtcp_mux_ignored`]. Set it
    /// false when rtcp-mux was not negotiated: component-2 candidates are then paired with
    /// ours ([`Agent::add_local_host_address_for`]) and checked, each component gets its
    /// own selected pair ([`Agent::selected_pair_for`]), and the agent is Connected once
    /// both components work (RFC 8445 §6.1.2.1, §8.1.2). Default true.
    pub rtcp_mux: bool,
}

/// Longest duration any timer of the configuration may have: keeps `Instant` arithmetic
/// far from overflow whatever the caller passes.
const MAX_CONFIG_DURATION: Duration = Duration::from_secs(3600);

impl IceConfig {
    /// The configuration with every value brought into range: Ta at least 5 ms (RFC 8445
    /// §14.2), consent period at least 4 s (RFC 7675 §5.1), timers at most an hour, at least
    /// one transmission and one pair.
    pub fn sanitized(mut self) -> IceConfig {
        let clamp = |d: Duration, min: Duration| d.clamp(min, MAX_CONFIG_DURATION);
        self.ta = clamp(self.ta, Duration::from_millis(5));
        self.min_rto = clamp(self.min_rto, Duration::from_millis(1));
        self.max_rto = clamp(self.max_rto, self.min_rto);
        self.nomination_timeout = clamp(self.nomination_timeout, Duration::ZERO);
        self.consent_interval = clamp(self.consent_interval, Duration::from_secs(4));
        self.consent_timeout = clamp(self.consent_timeout, Duration::from_secs(1));
        self.disconnected_timeout = clamp(self.disconnected_timeout, Duration::from_secs(1));
        self.max_check_transmissions = self.max_check_transmissions.clamp(1, 64);
        self.max_pairs = self.max_pairs.clamp(1, 10_000);
        self.stun_servers.truncate(16);
        self
    }
}

impl Default for IceConfig {
    fn default() -> Self {
        IceConfig {
            role: IceRole::Controlling,
            lite: false,
            stun_servers: Vec::new(),
            ta: Duration::from_millis(50),
            max_pairs: super::pair::DEFAULT_MAX_PAIRS,
            max_check_transmissions: 7,
            min_rto: Duration::from_millis(500),
            max_rto: Duration::from_secs(3),
            nomination_timeout: Duration::from_secs(1),
            consent_interval: Duration::from_secs(5),
            consent_timeout: Duration::from_secs(30),
            disconnected_timeout: Duration::from_secs(8),
            credentials: None,
            rtcp_mux: true,
        }
    }
}

/// The pair media flows on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedPair {
    /// Our candidate; send from its `base`.
    pub local: Candidate,
    /// The peer's candidate; send to its `address`.
    pub remote: Candidate,
    /// Whether the pair has been nominated (RFC 8445 §8).
    pub nominated: bool,
}

/// What the layer above needs to know, from [`Agent::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IceEvent {
    /// A local candidate to signal to the peer (Trickle ICE, RFC 8838 §9).
    LocalCandidate(Candidate),
    /// The gathering state changed; `Complete` is the end-of-candidates indication to signal.
    GatheringStateChange(GatheringState),
    /// The connection state changed.
    ConnectionStateChange(ConnectionState),
    /// Media should now flow on this pair. Emitted again for the same pair when it becomes
    /// nominated.
    SelectedPairChange(SelectedPair),
}

/// Counters of what the agent received and did. Every datagram
/// [`Agent::handle_receive`] drops (returns an `Err` for) is counted in one of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IceStats {
    /// Connectivity-check requests sent, first transmissions only.
    pub checks_sent: u64,
    /// Retransmissions of checks and server requests.
    pub retransmissions: u64,
    /// Binding requests received.
    pub requests_received: u64,
    /// Success responses sent.
    pub responses_sent: u64,
    /// Responses (success or error) matched to our transactions and authenticated.
    pub responses_received: u64,
    /// Requests or responses whose MESSAGE-INTEGRITY did not verify: dropped unanswered.
    pub bad_integrity: u64,
    /// Requests with a USERNAME that is not ours: dropped unanswered.
    pub unknown_username: u64,
    /// Requests without USERNAME or MESSAGE-INTEGRITY: dropped unanswered.
    pub missing_credentials: u64,
    /// STUN messages that failed to parse, had a wrong FINGERPRINT or were not Binding.
    pub malformed: u64,
    /// Datagrams that were not STUN at all (RFC 7983), handed in by mistake.
    pub not_stun: u64,
    /// Datagrams that arrived on a local address that is no candidate base.
    pub unknown_local_address: u64,
    /// Datagrams that arrived after [`Agent::close`].
    pub after_close: u64,
    /// Responses matching no transaction of ours.
    pub unmatched_responses: u64,
    /// Role conflicts detected, in either direction (RFC 8445 §7.3.1.1, §7.2.5.1).
    pub role_conflicts: u64,
    /// Consent checks sent (RFC 7675).
    pub consent_checks_sent: u64,
    /// Consent responses received on the selected pair.
    pub consent_responses: u64,
    /// Remote candidates ignored (component other than 1).
    pub ignored_remote_candidates: u64,
    /// Times a later nomination (the NOMINATION attribute of the `renomination` ICE
    /// option) moved the selection off a nominated pair.
    pub renominations: u64,
    /// Remote component-2 (RTCP) candidates ignored because rtcp-mux is in force
    /// ([`IceConfig::rtcp_mux`]); also counted in `ignored_remote_candidates`.
    pub rtcp_mux_ignored: u64,
}

/// Why [`Agent::handle_receive`] dropped a datagram. Each is counted in [`IceStats`]; none
/// changes the agent's state. All but [`Closed`](Self::Closed) are something a peer (or
/// the driver's demultiplexing) sent, not a bug on this side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The datagram is not STUN (RFC 7983): route it elsewhere.
    #[error("datagram is not a STUN message")]
    NotStun,
    /// A STUN message that does not parse or has a bad FINGERPRINT.
    #[error("malformed STUN message")]
    Malformed(#[source] crate::stun::Error),
    /// A well-formed STUN message of a method other than Binding.
    #[error("unsupported STUN method {0}")]
    UnsupportedMethod(Method),
    /// MESSAGE-INTEGRITY did not verify.
    #[error("MESSAGE-INTEGRITY check failed")]
    BadIntegrity,
    /// A request without USERNAME or MESSAGE-INTEGRITY.
    #[error("request without USERNAME or MESSAGE-INTEGRITY")]
    MissingCredentials,
    /// A request whose USERNAME names another ufrag.
    #[error("request for an unknown username")]
    UnknownUsername,
    /// A response that matches no transaction.
    #[error("response to no transaction of ours")]
    UnmatchedResponse,
    /// Received on a local address that is not a candidate base.
    #[error("datagram arrived on {0}, which is no local candidate")]
    UnknownLocalAddress(SocketAddr),
    /// The agent is closed.
    #[error("the agent is closed")]
    Closed,
}

/// Why a command was refused: API misuse, never something a peer sent (those are
/// [`ReceiveError`]s). A refused command leaves the agent as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IceError {
    /// A candidate handed in breaks RFC 8445 (priority 0 or above 2^31 - 1, component 0,
    /// unspecified address).
    #[error("invalid candidate")]
    InvalidCandidate,
    /// Credentials outside RFC 8839 §5.4.
    #[error("invalid ICE credentials")]
    InvalidCredentials,
    /// The candidate limit is reached.
    #[error("too many candidates")]
    TooManyCandidates,
    /// A remote candidate after end-of-candidates (RFC 8838 §14).
    #[error("remote candidate after end-of-candidates")]
    AfterEndOfCandidates,
    /// The agent is closed.
    #[error("the agent is closed")]
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxKind {
    Check {
        pair: PairId,
        use_candidate: bool,
        controlling: bool,
        priority: u32,
    },
    Consent,
    Gather {
        server: SocketAddr,
        base: SocketAddr,
    },
}

struct Tx {
    txid: TransactionId,
    kind: TxKind,
    source: SocketAddr,
    destination: SocketAddr,
    transport: Transport,
    key: Option<IntegrityKey>,
    /// The request as sent, for retransmissions (empty when never retransmitted).
    bytes: Bytes,
    sent: u32,
    rto: Duration,
    deadline: Instant,
    cancelled: bool,
    generation: u32,
}

#[derive(Debug, Clone)]
struct ValidPair {
    local: usize,
    remote: usize,
    priority: u64,
    generator: PairId,
    nominated: bool,
    /// The highest NOMINATION value the controlling peer sent for the pair (0 for plain
    /// USE-CANDIDATE): the pair nominated last wins (renomination).
    nomination: u32,
}

struct Selected {
    pair: SelectedPair,
    priority: u64,
    /// The pair's nomination value when selected (see [`ValidPair::nomination`]).
    nomination: u32,
    generation: u32,
    /// Credentials of the generation the pair belongs to (kept across a restart).
    local_creds: Credentials,
    local_key: IntegrityKey,
    remote_username: String,
    remote_key: Option<IntegrityKey>,
    last_consent: Instant,
    next_consent: Instant,
}

/// The ICE agent of one data stream with one component (WebRTC with BUNDLE and rtcp-mux).
///
/// It follows the crate's verb contract ([crate-level docs](crate)): constructor
/// `(config, now, rng)`, one [`handle_receive`](Agent::handle_receive) whose `Err` only means
/// "dropped and counted", transmits drained before events, `poll_timeout(&self)`.
///
/// It is sans-IO: it holds no socket and reads no clock. Methods fall in four groups:
/// - getters: [`Agent::connection_state`], [`Agent::selected_pair`], [`Agent::stats`], ...
/// - inputs: [`Agent::handle_receive`] (STUN datagrams only: demultiplex by first byte,
///   RFC 7983, see [`is_stun`](super::is_stun)) and [`Agent::handle_timeout`];
/// - commands: [`Agent::add_local_host_address`], [`Agent::add_remote_candidate`],
///   [`Agent::set_remote_credentials`], [`Agent::restart`], [`Agent::close`], ...
/// - outputs: [`Agent::poll_transmit`], [`Agent::poll_event`], [`Agent::poll_timeout`].
///
/// After every input or command, drain `poll_transmit` until `None`, then `poll_event`
/// until `None`, then call `handle_timeout` once the instant from `poll_timeout` has come.
///
/// ```
/// use std::time::Instant;
/// use ferrtc_stun_ice::ice::{Agent, IceConfig, IceEvent};
/// use rand::SeedableRng;
///
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
/// let now = Instant::now(); // the driver's clock; the agent never reads one
/// let mut agent = Agent::new(IceConfig::default(), now, &mut rng);
/// agent.add_local_host_address("192.0.2.1:5000".parse().unwrap()).unwrap();
/// agent.end_of_local_host_addresses();
/// while let Some(event) = agent.poll_event() {
///     if let IceEvent::LocalCandidate(c) = event {
///         assert_eq!(c.to_sdp_value(), "1 1 udp 2130706175 192.0.2.1 5000 typ host");
///     }
/// }
/// assert!(agent.poll_transmit().is_none()); // nothing to check until the peer is known
/// ```
pub struct Agent {
    config: IceConfig,
    rng: ChaCha20Rng,
    role: IceRole,
    tie_breaker: u64,
    local_creds: Credentials,
    local_key: IntegrityKey,
    remote_creds: Option<Credentials>,
    remote_key: Option<IntegrityKey>,
    locals: Vec<Candidate>,
    foundations: FoundationTable,
    remotes: Vec<Candidate>,
    prflx_count: u32,
    checklist: CheckList,
    triggered: VecDeque<(PairId, bool)>,
    /// Pairs the peer nominated before their check succeeded, with the nomination value.
    nominate_on_success: Vec<(PairId, u32)>,
    valid: Vec<ValidPair>,
    txs: Vec<Tx>,
    selected: Option<Selected>,
    nominating: Option<PairId>,
    concluded: bool,
    /// The selected pair of component 2 (RTCP) when rtcp-mux is off.
    rtcp_selected: Option<SelectedPair>,
    first_valid_at: Option<Instant>,
    checks_started: bool,
    checks_started_at: Option<Instant>,
    remote_end_of_candidates: bool,
    local_hosts_done: bool,
    restart_pending: bool,
    generation: u32,
    failed: bool,
    closed: bool,
    gathering_state: GatheringState,
    connection_state: ConnectionState,
    next_tick: Option<Instant>,
    last_check_at: Option<Instant>,
    last_now: Instant,
    events: VecDeque<IceEvent>,
    transmits: VecDeque<Transmit>,
    stats: IceStats,
    /// Where STUN messages are encoded.
    scratch: Vec<u8>,
    /// Where transmits are lent from: once the driver drops a transmit, its room is used
    /// again, so answering checks allocates nothing in steady state.
    out: BytesMut,
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("role", &self.role)
            .field("lite", &self.config.lite)
            .field("connection_state", &self.connection_state)
            .field("gathering_state", &self.gathering_state)
            .field("locals", &self.locals.len())
            .field("remotes", &self.remotes.len())
            .field("pairs", &self.checklist.len())
            .finish()
    }
}

impl Agent {
    /// A new agent. `rng` seeds the agent's own generator (transaction ids, tie-breaker,
    /// credentials, consent jitter), so a seeded `rng` replays a run exactly.
    pub fn new(config: IceConfig, now: Instant, rng: &mut dyn RngCore) -> Agent {
        let config = config.sanitized();
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let mut own = ChaCha20Rng::from_seed(seed);
        let tie_breaker = own.next_u64();
        let local_creds = config
            .credentials
            .clone()
            .unwrap_or_else(|| Credentials::random(&mut own));
        let local_key = IntegrityKey::short_term(&local_creds.pwd);
        // RFC 8445 §6.1.1: a lite agent facing a full one is controlled.
        let role = if config.lite {
            IceRole::Controlled
        } else {
            config.role
        };
        Agent {
            checklist: CheckList::new(config.max_pairs),
            config,
            rng: own,
            role,
            tie_breaker,
            local_creds,
            local_key,
            remote_creds: None,
            remote_key: None,
            locals: Vec::new(),
            foundations: FoundationTable::default(),
            remotes: Vec::new(),
            prflx_count: 0,
            triggered: VecDeque::new(),
            nominate_on_success: Vec::new(),
            valid: Vec::new(),
            txs: Vec::new(),
            selected: None,
            nominating: None,
            concluded: false,
            rtcp_selected: None,
            first_valid_at: None,
            checks_started: false,
            checks_started_at: None,
            remote_end_of_candidates: false,
            local_hosts_done: false,
            restart_pending: false,
            generation: 0,
            failed: false,
            closed: false,
            gathering_state: GatheringState::New,
            connection_state: ConnectionState::New,
            next_tick: None,
            last_check_at: None,
            last_now: now,
            events: VecDeque::new(),
            transmits: VecDeque::new(),
            stats: IceStats::default(),
            scratch: Vec::new(),
            out: BytesMut::new(),
        }
    }

    // ----- getters -----

    /// Our credentials, to put in the SDP (`a=ice-ufrag`, `a=ice-pwd`).
    pub fn local_credentials(&self) -> &Credentials {
        &self.local_creds
    }

    /// The current role.
    pub fn role(&self) -> IceRole {
        self.role
    }

    /// Is this an ICE-lite agent?
    pub fn is_lite(&self) -> bool {
        self.config.lite
    }

    /// The connection state.
    pub fn connection_state(&self) -> ConnectionState {
        self.connection_state
    }

    /// The gathering state.
    pub fn gathering_state(&self) -> GatheringState {
        self.gathering_state
    }

    /// The pair media flows on, if any and while consent holds.
    pub fn selected_pair(&self) -> Option<&SelectedPair> {
        self.selected.as_ref().map(|s| &s.pair)
    }

    /// The selected pair of `component`: 1 is [`selected_pair`](Self::selected_pair), 2 the
    /// RTCP component's when rtcp-mux is off ([`IceConfig::rtcp_mux`]).
    pub fn selected_pair_for(&self, component: u16) -> Option<&SelectedPair> {
        match component {
            1 => self.selected_pair(),
            2 => self.rtcp_selected.as_ref(),
            _ => None,
        }
    }

    /// The components this agent runs: 1, and 2 when rtcp-mux is off.
    fn components(&self) -> u16 {
        if self.config.rtcp_mux { 1 } else { 2 }
    }

    /// Our candidates gathered so far (including peer-reflexive ones learned from checks).
    pub fn local_candidates(&self) -> &[Candidate] {
        &self.locals
    }

    /// The peer's candidates known so far (including peer-reflexive ones).
    pub fn remote_candidates(&self) -> &[Candidate] {
        &self.remotes
    }

    /// The check list.
    pub fn checklist(&self) -> &CheckList {
        &self.checklist
    }

    /// Counters.
    pub fn stats(&self) -> IceStats {
        self.stats
    }

    // ----- commands -----

    /// Adds a UDP host candidate on a local interface address and, for each configured STUN
    /// server of the same family, starts learning its server-reflexive candidate.
    pub fn add_local_host_address(&mut self, addr: SocketAddr) -> Result<(), IceError> {
        self.add_local(
            addr,
            TransportProtocol::Udp,
            CandidateKind::Host,
            None,
            None,
            1,
        )
    }

    /// [`add_local_host_address`](Self::add_local_host_address) for `component`: 1 (RTP), or
    /// 2 (RTCP, on its own port) when rtcp-mux is off ([`IceConfig::rtcp_mux`]).
    pub fn add_local_host_address_for(
        &mut self,
        addr: SocketAddr,
        component: u16,
    ) -> Result<(), IceError> {
        if component == 0 || component > self.components() {
            return Err(IceError::InvalidCandidate);
        }
        self.add_local(
            addr,
            TransportProtocol::Udp,
            CandidateKind::Host,
            None,
            None,
            component,
        )
    }

    /// Adds a TCP host candidate (RFC 6544): `Active` candidates conventionally use port 9.
    /// The driver owns the TCP connections and their RFC 4571 framing.
    pub fn add_local_tcp_host_address(
        &mut self,
        addr: SocketAddr,
        tcp_type: TcpType,
    ) -> Result<(), IceError> {
        self.add_local(
            addr,
            TransportProtocol::Tcp(tcp_type),
            CandidateKind::Host,
            None,
            None,
            1,
        )
    }

    /// Adds a relayed candidate allocated by a TURN client: checks and media for it are sent
    /// with `source` equal to `relayed`, and the driver passes them through the allocation.
    /// `mapped` is the allocation's server-reflexive address (the related address) and
    /// `server` the TURN server (for the foundation).
    pub fn add_local_relayed_candidate(
        &mut self,
        relayed: SocketAddr,
        mapped: Option<SocketAddr>,
        server: SocketAddr,
    ) -> Result<(), IceError> {
        self.add_local_relayed_candidate_via(relayed, mapped, server, Transport::Udp)
    }

    /// Like [`add_local_relayed_candidate`](Self::add_local_relayed_candidate), for an
    /// allocation on a TURN server reached over `via` (UDP, TCP or TLS): the candidate
    /// stays UDP (the relay-to-peer leg), and its local preference ranks relays over UDP
    /// above those over TCP above those over TLS
    /// ([`relayed_local_preference`](super::candidate::relayed_local_preference)).
    pub fn add_local_relayed_candidate_via(
        &mut self,
        relayed: SocketAddr,
        mapped: Option<SocketAddr>,
        server: SocketAddr,
        via: Transport,
    ) -> Result<(), IceError> {
        self.add_local_with(
            relayed,
            TransportProtocol::Udp,
            CandidateKind::Relayed,
            mapped,
            Some(server),
            1,
            via,
        )
    }

    /// Says that no more local addresses will be handed in (host addresses, and relayed
    /// candidates from the driver's TURN allocations: call it once those are in), so
    /// gathering completes, and end-of-candidates can be signalled, once every STUN server
    /// has answered or timed out.
    pub fn end_of_local_host_addresses(&mut self) {
        self.local_hosts_done = true;
        if self.gathering_state == GatheringState::New && self.locals.is_empty() && !self.closed {
            // Nothing to gather from (no host address, every TURN allocation failed):
            // gathering is over all the same, with no candidate, rather than never.
            self.set_gathering(GatheringState::Gathering);
        }
        self.update_gathering();
    }

    fn add_local(
        &mut self,
        addr: SocketAddr,
        protocol: TransportProtocol,
        kind: CandidateKind,
        related: Option<SocketAddr>,
        server: Option<SocketAddr>,
        component: u16,
    ) -> Result<(), IceError> {
        self.add_local_with(
            addr,
            protocol,
            kind,
            related,
            server,
            component,
            Transport::Udp,
        )
    }

    /// [`add_local`](Self::add_local) for a candidate whose server is reached over `via`
    /// (only relayed candidates' priority depends on it).
    #[allow(clippy::too_many_arguments)]
    fn add_local_with(
        &mut self,
        addr: SocketAddr,
        protocol: TransportProtocol,
        kind: CandidateKind,
        related: Option<SocketAddr>,
        server: Option<SocketAddr>,
        component: u16,
        via: Transport,
    ) -> Result<(), IceError> {
        if self.closed {
            return Err(IceError::Closed);
        }
        if addr.ip().is_unspecified() || (addr.port() == 0 && protocol == TransportProtocol::Udp) {
            return Err(IceError::InvalidCandidate);
        }
        if self
            .locals
            .iter()
            .any(|c| c.address == addr && c.protocol == protocol && c.kind == kind)
        {
            return Ok(());
        }
        if self.locals.len() >= MAX_LOCAL_CANDIDATES {
            return Err(IceError::TooManyCandidates);
        }
        let index = self
            .locals
            .iter()
            .filter(|c| {
                c.kind == kind
                    && c.component == component
                    && c.address.is_ipv4() == addr.is_ipv4()
                    && c.protocol.is_tcp() == protocol.is_tcp()
            })
            .count();
        let local_pref = match protocol {
            TransportProtocol::Udp if kind == CandidateKind::Relayed => {
                candidate::relayed_local_preference(via, addr.ip(), index)
            }
            TransportProtocol::Udp => candidate::udp_local_preference(addr.ip(), index),
            TransportProtocol::Tcp(t) => candidate::tcp_local_preference(t, kind, index),
        };
        let foundation = self.foundations.foundation(FoundationKey {
            kind,
            base_ip: addr.ip(),
            server_ip: server.map(|s| s.ip()),
            tcp: protocol.is_tcp(),
        });
        let cand = Candidate {
            address: addr,
            base: addr,
            kind,
            protocol,
            component,
            priority: candidate::priority(
                candidate::type_preference(kind, protocol),
                local_pref,
                component,
            ),
            foundation,
            related,
        };
        self.locals.push(cand.clone());
        let li = self.locals.len() - 1;
        self.events.push_back(IceEvent::LocalCandidate(cand));
        if self.gathering_state != GatheringState::Gathering {
            self.set_gathering(GatheringState::Gathering);
        }
        if !self.config.lite {
            for ri in 0..self.remotes.len() {
                self.form_pair(li, ri);
            }
            if kind == CandidateKind::Host && protocol == TransportProtocol::Udp {
                let servers: Vec<SocketAddr> = self
                    .config
                    .stun_servers
                    .iter()
                    .copied()
                    .filter(|s| s.is_ipv4() == addr.is_ipv4())
                    .collect();
                for server in servers {
                    self.start_gather(addr, server);
                }
            }
            self.wake();
        }
        self.update_gathering();
        Ok(())
    }

    fn start_gather(&mut self, base: SocketAddr, server: SocketAddr) {
        let txid = TransactionId::random(&mut self.rng);
        let mut scratch = std::mem::take(&mut self.scratch);
        wire::encode_server_request(txid, &mut scratch);
        let bytes = self.lend(&scratch);
        self.scratch = scratch;
        let rto = self.config.min_rto;
        self.push_tx(Tx {
            txid,
            kind: TxKind::Gather { server, base },
            source: base,
            destination: server,
            transport: Transport::Udp,
            key: None,
            bytes: bytes.clone(),
            sent: 1,
            rto,
            deadline: self.last_now + rto,
            cancelled: false,
            generation: self.generation,
        });
        self.transmit(base, server, Transport::Udp, bytes);
    }

    /// Sets the peer's `ice-ufrag`/`ice-pwd`. Checks start once they are known. New values
    /// while others are already set mean the peer restarted ICE (RFC 8445 §9): the agent
    /// restarts too unless [`Agent::restart`] was just called.
    pub fn set_remote_credentials(&mut self, creds: Credentials) -> Result<(), IceError> {
        if self.closed {
            return Err(IceError::Closed);
        }
        Credentials::new(&creds.ufrag, &creds.pwd)?;
        if let Some(old) = &self.remote_creds {
            if *old == creds {
                return Ok(());
            }
            if !self.restart_pending {
                self.restart();
            }
        }
        self.restart_pending = false;
        self.remote_key = Some(IntegrityKey::short_term(&creds.pwd));
        self.remote_creds = Some(creds);
        if !self.checks_started && !self.config.lite {
            self.checks_started = true;
            self.checks_started_at = Some(self.last_now);
            self.checklist.initial_unfreeze();
        }
        self.wake();
        self.update_connection_state();
        Ok(())
    }

    /// Adds a remote candidate (Trickle ICE, RFC 8838 §11) and pairs it with the local ones
    /// of its component. Candidates of components this agent does not run are ignored and
    /// counted: component 2 under rtcp-mux ([`IceConfig::rtcp_mux`]), and any above 2.
    pub fn add_remote_candidate(&mut self, cand: Candidate) -> Result<(), IceError> {
        if self.closed {
            return Err(IceError::Closed);
        }
        if self.remote_end_of_candidates {
            return Err(IceError::AfterEndOfCandidates);
        }
        if cand.priority == 0
            || cand.priority > 0x7fff_ffff
            || cand.component == 0
            || cand.address.ip().is_unspecified()
        {
            return Err(IceError::InvalidCandidate);
        }
        if cand.component > self.components() {
            self.stats.ignored_remote_candidates += 1;
            if cand.component == 2 {
                self.stats.rtcp_mux_ignored += 1;
            }
            return Ok(());
        }
        if let Some(existing) = self
            .remotes
            .iter_mut()
            .find(|c| c.address == cand.address && c.protocol == cand.protocol)
        {
            // A peer-reflexive remote later signalled (RFC 8838 §11 4.A): keep the pair and
            // its checks, take the signalled type and foundation.
            if existing.kind == CandidateKind::PeerReflexive {
                existing.kind = cand.kind;
                existing.foundation = cand.foundation;
                existing.related = cand.related;
            }
            return Ok(());
        }
        if self.remotes.len() >= MAX_REMOTE_CANDIDATES {
            return Err(IceError::TooManyCandidates);
        }
        self.remotes.push(cand);
        let ri = self.remotes.len() - 1;
        if !self.config.lite {
            for li in 0..self.locals.len() {
                self.form_pair(li, ri);
            }
            self.wake();
        }
        self.update_connection_state();
        Ok(())
    }

    /// The peer signalled end-of-candidates (RFC 8838 §14): if every pair has failed, the
    /// agent fails; later remote candidates are refused.
    pub fn end_of_remote_candidates(&mut self) {
        self.remote_end_of_candidates = true;
        self.update_connection_state();
    }

    /// ICE restart (RFC 8445 §9): new local credentials, new checks once the peer's new
    /// credentials arrive; media stays on the current selected pair, whose consent checks
    /// keep the old credentials, until a pair of the new generation is selected. Local
    /// candidates are emitted again for the new description.
    pub fn restart(&mut self) {
        let creds = Credentials::random(&mut self.rng);
        self.restart_with(creds);
    }

    /// [`Agent::restart`] with credentials the caller chose (the peer connection's
    /// negotiator draws them for the next offer).
    pub fn restart_with(&mut self, creds: Credentials) {
        if self.closed {
            return;
        }
        self.generation = self.generation.wrapping_add(1);
        self.local_creds = creds;
        self.local_key = IntegrityKey::short_term(&self.local_creds.pwd);
        self.remote_creds = None;
        self.remote_key = None;
        self.remotes.clear();
        self.checklist.clear();
        self.valid.clear();
        self.triggered.clear();
        self.nominate_on_success.clear();
        self.nominating = None;
        self.concluded = false;
        self.rtcp_selected = None;
        self.first_valid_at = None;
        self.checks_started = false;
        self.checks_started_at = None;
        self.remote_end_of_candidates = false;
        self.restart_pending = true;
        self.failed = false;
        self.next_tick = None;
        self.txs.retain(|t| !matches!(t.kind, TxKind::Check { .. }));
        self.locals
            .retain(|c| c.kind != CandidateKind::PeerReflexive);
        self.set_gathering(GatheringState::Gathering);
        for c in self.locals.clone() {
            self.events.push_back(IceEvent::LocalCandidate(c));
        }
        self.update_gathering();
        self.update_connection_state();
    }

    /// Closes the agent: no more transmissions, state Closed.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.txs.clear();
        self.transmits.clear();
        self.triggered.clear();
        self.selected = None;
        self.rtcp_selected = None;
        self.next_tick = None;
        self.set_connection_state(ConnectionState::Closed);
    }

    // ----- inputs -----

    /// Handles a STUN message that arrived from `from` on the local end `(transport, local)`:
    /// over UDP one datagram received on the socket bound to `local`; over TCP (RFC 6544) one
    /// whole message the driver took out of its RFC 4571 framing on the connection between
    /// `local` (the candidate's address, port 9 for an active one) and `from`. This is the
    /// agent's one input verb for the network, the crate-level `handle_receive` with the
    /// local end added, since an agent listens on several candidates.
    ///
    /// Only STUN reaches the agent: demultiplex by first byte first (RFC 7983,
    /// [`is_stun`](super::is_stun)).
    ///
    /// An `Err` means only "this datagram was dropped": the reason is counted in
    /// [`Agent::stats`], and the agent's state is as if it never arrived.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        transport: Transport,
        local: SocketAddr,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), ReceiveError> {
        self.advance(now);
        if self.closed {
            self.stats.after_close += 1;
            return Err(ReceiveError::Closed);
        }
        if !wire::is_stun(datagram) {
            self.stats.not_stun += 1;
            return Err(ReceiveError::NotStun);
        }
        let msg = match wire::parse(datagram) {
            Ok(incoming) => incoming.msg,
            Err(reject) => {
                self.stats.malformed += 1;
                return Err(match reject {
                    wire::Reject::Malformed(e) => ReceiveError::Malformed(e),
                    wire::Reject::Unsupported(method) => ReceiveError::UnsupportedMethod(method),
                });
            }
        };
        let result = match msg.class() {
            Class::Request => self.handle_request(now, transport, local, from, &msg),
            Class::SuccessResponse | Class::ErrorResponse => {
                self.handle_response(now, transport, local, from, &msg)
            }
            // Binding indications are keepalives (RFC 8445 §11): nothing to do.
            Class::Indication => Ok(()),
        };
        self.after_input(now);
        result
    }

    /// Runs timers: retransmissions, paced checks, nomination, consent. Call it when the
    /// instant from [`Agent::poll_timeout`] has come (calling earlier is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        if self.closed {
            return;
        }
        self.run_transactions(now);
        self.run_consent(now);
        self.maybe_nominate(now);
        if self.next_tick.is_some_and(|t| t <= now) {
            self.next_tick = None;
            if self.perform_check(now) {
                self.last_check_at = Some(now);
                self.next_tick = Some(now + self.config.ta);
            }
        }
        self.after_input(now);
    }

    // ----- outputs -----

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }

    /// When [`Agent::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let mut next: Option<Instant> = self.next_tick;
        let mut consider = |t: Instant| {
            next = Some(next.map_or(t, |n| n.min(t)));
        };
        for tx in &self.txs {
            consider(tx.deadline);
        }
        if let Some(s) = &self.selected {
            if !self.config.lite {
                consider(s.next_consent);
            }
            // Deadlines already passed are states already taken: only future ones count,
            // so the driver is never told to come back at once forever.
            let disconnect = s.last_consent + self.config.disconnected_timeout;
            if disconnect > self.last_now {
                consider(disconnect);
            }
            consider(s.last_consent + self.config.consent_timeout);
        }
        if let Some(t) = self.nomination_deadline() {
            consider(t);
        }
        // Re-evaluate failure once TCP-passive pairs, or an empty checklist, stop waiting
        // for the peer.
        if let Some(t) = self.checks_started_at.map(|t| t + PASSIVE_WAIT) {
            if t > self.last_now
                && !self.failed
                && self.selected.is_none()
                && (self.checklist.pairs().is_empty()
                    || self.checklist.pairs().iter().any(|p| p.triggered_only))
            {
                consider(t);
            }
        }
        next
    }

    // ----- internals -----

    fn advance(&mut self, now: Instant) {
        if now > self.last_now {
            self.last_now = now;
        }
    }

    fn wake(&mut self) {
        if self.config.lite || self.closed || self.next_tick.is_some() {
            return;
        }
        let earliest = self
            .last_check_at
            .map_or(self.last_now, |t| t + self.config.ta);
        self.next_tick = Some(earliest.max(self.last_now));
    }

    /// Gives back the check phase's room once few transactions are left (only from more
    /// than twice [`IDLE_TRANSACTIONS`] down to it).
    fn trim_txs(&mut self) {
        if self.txs.capacity() > 2 * IDLE_TRANSACTIONS && self.txs.len() <= IDLE_TRANSACTIONS {
            self.txs.shrink_to(IDLE_TRANSACTIONS);
        }
    }

    fn push_tx(&mut self, tx: Tx) {
        if self.txs.len() >= MAX_TRANSACTIONS {
            let victim = self.txs.iter().position(|t| t.cancelled).unwrap_or(0);
            self.txs.remove(victim);
        }
        self.txs.push(tx);
    }

    fn form_pair(&mut self, li: usize, ri: usize) {
        let Some(l) = self.locals.get(li) else { return };
        // Reflexive locals are replaced by their base, which is already paired (§6.1.2.4).
        if l.base != l.address {
            return;
        }
        let controlling = self.role == IceRole::Controlling;
        self.checklist.add_pair(
            &self.locals,
            &self.remotes,
            li,
            ri,
            controlling,
            self.checks_started,
        );
    }

    fn set_gathering(&mut self, state: GatheringState) {
        if self.gathering_state != state {
            self.gathering_state = state;
            self.events.push_back(IceEvent::GatheringStateChange(state));
        }
    }

    fn update_gathering(&mut self) {
        if self.gathering_state == GatheringState::Gathering
            && self.local_hosts_done
            && !self
                .txs
                .iter()
                .any(|t| matches!(t.kind, TxKind::Gather { .. }))
        {
            self.set_gathering(GatheringState::Complete);
        }
    }

    fn set_connection_state(&mut self, state: ConnectionState) {
        if self.connection_state != state {
            self.connection_state = state;
            self.events
                .push_back(IceEvent::ConnectionStateChange(state));
        }
    }

    fn update_connection_state(&mut self) {
        if self.closed {
            return;
        }
        let now = self.last_now;
        if !self.failed && self.selected.is_none() && self.checks_failed() {
            self.failed = true;
        }
        let state = if self.failed {
            ConnectionState::Failed
        } else if let Some(s) = &self.selected {
            // Without rtcp-mux, both components must work (W3C: every component).
            let rtcp = self.config.rtcp_mux || self.rtcp_selected.is_some();
            let rtcp_nominated =
                self.config.rtcp_mux || self.rtcp_selected.as_ref().is_some_and(|p| p.nominated);
            if now >= s.last_consent + self.config.disconnected_timeout {
                ConnectionState::Disconnected
            } else if !rtcp && s.generation == self.generation {
                ConnectionState::Checking
            } else if s.pair.nominated && rtcp_nominated && s.generation == self.generation {
                ConnectionState::Completed
            } else if s.generation != self.generation {
                // Restart in progress: keep reporting what the old pair was.
                match self.connection_state {
                    ConnectionState::Disconnected => ConnectionState::Connected,
                    other => other,
                }
            } else {
                ConnectionState::Connected
            }
        } else if (self.checks_started && !self.remotes.is_empty())
            || (self.config.lite && self.stats.requests_received > 0)
        {
            ConnectionState::Checking
        } else {
            self.connection_state
        };
        // W3C: a connection is Checking before it is Connected (an ICE-lite agent whose
        // first request already nominates goes straight to a selected pair), and Connected
        // before it is Completed, even when the nomination and the first valid pair arrive
        // together.
        if matches!(
            state,
            ConnectionState::Connected | ConnectionState::Completed
        ) && self.connection_state == ConnectionState::New
        {
            self.set_connection_state(ConnectionState::Checking);
        }
        if state == ConnectionState::Completed
            && matches!(
                self.connection_state,
                ConnectionState::New | ConnectionState::Checking
            )
        {
            self.set_connection_state(ConnectionState::Connected);
        }
        self.set_connection_state(state);
    }

    /// RFC 8445 §7.2.5.4 with the RFC 8838 §8 conditions: every pair done, none valid,
    /// gathering over and the peer's end-of-candidates received. An empty checklist (every
    /// remote candidate was a name we ignored, e.g. mDNS `.local`) is not failed before
    /// [`PASSIVE_WAIT`]: the peer's checks may still teach us a peer-reflexive candidate
    /// (RFC 8445 §7.3.1.3).
    fn checks_failed(&self) -> bool {
        let waited = self
            .checks_started_at
            .is_some_and(|t| self.last_now >= t + PASSIVE_WAIT);
        self.checks_started
            && self.remote_end_of_candidates
            && self.gathering_state == GatheringState::Complete
            && (waited || !self.checklist.pairs().is_empty())
            && self.checklist.all_done(waited)
            && self.valid.is_empty()
            && !self
                .txs
                .iter()
                .any(|t| matches!(t.kind, TxKind::Check { .. }))
    }

    fn after_input(&mut self, now: Instant) {
        self.maybe_nominate(now);
        self.update_selection(now);
        self.update_gathering();
        self.update_connection_state();
    }

    fn remote_username(&self) -> Option<String> {
        self.remote_creds
            .as_ref()
            .map(|r| format!("{}:{}", r.ufrag, self.local_creds.ufrag))
    }

    fn role_attr(&self) -> RoleAttr {
        match self.role {
            IceRole::Controlling => RoleAttr::Controlling(self.tie_breaker),
            IceRole::Controlled => RoleAttr::Controlled(self.tie_breaker),
        }
    }

    /// One paced check (RFC 8445 §6.1.4.2): the triggered queue first, then the ordinary
    /// check list. Returns whether a check was sent.
    fn perform_check(&mut self, now: Instant) -> bool {
        if self.config.lite || self.remote_key.is_none() || self.failed {
            return false;
        }
        while let Some((id, use_candidate)) = self.triggered.pop_front() {
            let Some(p) = self.checklist.get(id) else {
                continue;
            };
            if p.state == PairState::Succeeded && !use_candidate {
                continue;
            }
            self.send_check(now, id, use_candidate);
            return true;
        }
        if self.concluded {
            return false;
        }
        match self.checklist.next_ordinary() {
            Some(id) => {
                self.send_check(now, id, false);
                true
            }
            None => false,
        }
    }

    fn send_check(&mut self, now: Instant, id: PairId, use_candidate: bool) {
        let (Some(username), Some(key)) = (self.remote_username(), self.remote_key.clone()) else {
            return;
        };
        // A check that replaces a nomination in flight (a triggered check cancelled it)
        // still nominates.
        let use_candidate =
            use_candidate || (self.role == IceRole::Controlling && self.nominating == Some(id));
        let Some(p) = self.checklist.get(id) else {
            return;
        };
        let (Some(l), Some(r)) = (self.locals.get(p.local), self.remotes.get(p.remote)) else {
            return;
        };
        // PRIORITY: what a peer-reflexive candidate from this base would get (§7.1.1).
        let local_pref = ((l.priority >> 8) & 0xffff) as u16;
        let priority = candidate::priority(
            CandidateKind::PeerReflexive.type_preference(),
            local_pref,
            l.component,
        );
        let (source, destination) = (l.base, r.address);
        let transport = l.protocol.transport();
        let txid = TransactionId::random(&mut self.rng);
        let mut bytes = std::mem::take(&mut self.scratch);
        wire::encode_check(
            &CheckRequest {
                txid,
                username: &username,
                key: &key,
                priority,
                use_candidate,
                role: self.role_attr(),
            },
            &mut bytes,
        );
        let contents = self.lend(&bytes);
        self.scratch = bytes;
        let busy = self
            .checklist
            .pairs()
            .iter()
            .filter(|p| matches!(p.state, PairState::Waiting | PairState::InProgress))
            .count() as u32;
        // RFC 8445 §14.3: RTO = MAX(500 ms, Ta * (Num-Waiting + Num-In-Progress)).
        let rto = self
            .config
            .min_rto
            .max(self.config.ta.saturating_mul(busy.max(1)));
        if let Some(p) = self.checklist.get_mut(id) {
            p.state = PairState::InProgress;
        }
        self.push_tx(Tx {
            txid,
            kind: TxKind::Check {
                pair: id,
                use_candidate,
                controlling: self.role == IceRole::Controlling,
                priority,
            },
            source,
            destination,
            transport,
            key: Some(key),
            bytes: contents.clone(),
            sent: 1,
            rto,
            deadline: now + rto,
            cancelled: false,
            generation: self.generation,
        });
        self.stats.checks_sent += 1;
        self.transmit(source, destination, transport, contents);
    }

    fn run_transactions(&mut self, now: Instant) {
        let mut expired = Vec::new();
        let mut i = 0;
        while i < self.txs.len() {
            let tx = &mut self.txs[i];
            if tx.deadline > now {
                i += 1;
                continue;
            }
            let retransmit = !tx.cancelled
                && tx.kind != TxKind::Consent
                && tx.sent < self.config.max_check_transmissions;
            if retransmit {
                tx.sent += 1;
                let wait = retransmit_wait(&self.config, tx.rto, tx.sent);
                tx.deadline = now + wait;
                self.stats.retransmissions += 1;
                self.transmits.push_back(Transmit {
                    source: Some(tx.source),
                    destination: tx.destination,
                    transport: tx.transport,
                    contents: tx.bytes.clone(),
                    segment_size: None,
                });
                i += 1;
            } else {
                let tx = self.txs.swap_remove(i);
                expired.push(tx);
            }
        }
        self.trim_txs();
        for tx in expired {
            if let TxKind::Check { pair, .. } = tx.kind {
                if tx.generation != self.generation || tx.cancelled {
                    continue;
                }
                let live = self.txs.iter().any(|t| {
                    matches!(t.kind, TxKind::Check { pair: p, .. } if p == pair) && !t.cancelled
                });
                if !live {
                    if let Some(p) = self.checklist.get_mut(pair) {
                        if p.state == PairState::InProgress {
                            p.state = PairState::Failed;
                        }
                    }
                    if self.nominating == Some(pair) {
                        self.nominating = None;
                        self.valid.retain(|v| v.generator != pair);
                    }
                }
                self.wake();
            }
        }
    }

    fn run_consent(&mut self, now: Instant) {
        let lite = self.config.lite;
        let Some(s) = &mut self.selected else { return };
        if now >= s.last_consent + self.config.consent_timeout {
            // RFC 7675 §5.1: cease sending; outstanding consent transactions are dropped.
            self.lose_consent();
            return;
        }
        if lite || now < s.next_consent {
            return;
        }
        let interval = self.config.consent_interval.max(Duration::from_secs(4));
        // RFC 7675 §5.1: each interval uniformly in [0.8, 1.2] x the period, at least 4 s.
        let permille = 800 + (self.rng.next_u32() % 401) as u64;
        let jittered =
            (interval.saturating_mul(permille as u32) / 1000).max(Duration::from_secs(4));
        s.next_consent = now + jittered;
        let Some(key) = s.remote_key.clone() else {
            return;
        };
        let txid = TransactionId::random(&mut self.rng);
        let local_pref = ((s.pair.local.priority >> 8) & 0xffff) as u16;
        let priority = candidate::priority(
            CandidateKind::PeerReflexive.type_preference(),
            local_pref,
            1,
        );
        let role = match self.role {
            IceRole::Controlling => RoleAttr::Controlling(self.tie_breaker),
            IceRole::Controlled => RoleAttr::Controlled(self.tie_breaker),
        };
        let mut bytes = std::mem::take(&mut self.scratch);
        wire::encode_check(
            &CheckRequest {
                txid,
                username: &s.remote_username,
                key: &key,
                priority,
                use_candidate: false,
                role,
            },
            &mut bytes,
        );
        let source = s.pair.local.base;
        let destination = s.pair.remote.address;
        let transport = s.pair.local.protocol.transport();
        let generation = s.generation;
        let contents = self.lend(&bytes);
        self.scratch = bytes;
        self.push_tx(Tx {
            txid,
            kind: TxKind::Consent,
            source,
            destination,
            transport,
            key: Some(key),
            bytes: Bytes::new(),
            sent: 1,
            rto: self.config.consent_interval,
            // Responses to older consent requests still count (RFC 7675 §5.1); forget a
            // request once it could no longer matter.
            deadline: now + self.config.consent_timeout,
            cancelled: true,
            generation,
        });
        self.stats.consent_checks_sent += 1;
        self.transmit(source, destination, transport, contents);
    }

    fn may_nominate(&self) -> bool {
        self.role == IceRole::Controlling
            && !self.config.lite
            && self.nominating.is_none()
            && !self.concluded
            && self.remote_key.is_some()
            && !self.valid.is_empty()
    }

    /// Consent lost (RFC 7675 §5): stop sending on the pair, drop its transactions, and
    /// stay Failed until a restart (the same credentials must not be used on it again).
    fn lose_consent(&mut self) {
        self.selected = None;
        self.rtcp_selected = None;
        self.failed = true;
        self.valid.clear();
        self.triggered.clear();
        self.next_tick = None;
        self.concluded = true;
        self.txs
            .retain(|t| !matches!(t.kind, TxKind::Consent | TxKind::Check { .. }));
    }

    fn nomination_deadline(&self) -> Option<Instant> {
        if !self.may_nominate() {
            return None;
        }
        self.first_valid_at
            .map(|t| t + self.config.nomination_timeout)
    }

    /// Regular nomination (RFC 8445 §8.1.1): once no better pair can still succeed, or the
    /// nomination timeout has passed since the first valid pair, the controlling agent
    /// re-checks the best valid pair with USE-CANDIDATE.
    fn maybe_nominate(&mut self, now: Instant) {
        if !self.may_nominate() {
            return;
        }
        // Component by component (RFC 8445 §8.1.1): the first one without a nominated pair.
        let Some(component) = (1..=self.components()).find(|&c| {
            !self
                .valid
                .iter()
                .any(|v| v.nominated && self.locals[v.local].component == c)
        }) else {
            return;
        };
        let Some(best) = self
            .valid
            .iter()
            .filter(|v| self.locals[v.local].component == component)
            .max_by_key(|v| v.priority)
            .cloned()
        else {
            return;
        };
        let better_pending = self.checklist.pairs().iter().any(|p| {
            p.priority > best.priority
                && p.component == component
                && matches!(
                    p.state,
                    PairState::Frozen | PairState::Waiting | PairState::InProgress
                )
        });
        let timed_out = self
            .first_valid_at
            .is_some_and(|t| now >= t + self.config.nomination_timeout);
        if better_pending && !timed_out {
            return;
        }
        self.nominating = Some(best.generator);
        self.triggered.retain(|(id, _)| *id != best.generator);
        self.triggered.push_front((best.generator, true));
        self.wake();
    }

    /// Whether every component has a nominated valid pair: ICE has concluded.
    fn all_nominated(&self) -> bool {
        (1..=self.components()).all(|c| {
            self.valid
                .iter()
                .any(|v| v.nominated && self.locals.get(v.local).is_some_and(|l| l.component == c))
        })
    }

    /// The RTCP component's pair when rtcp-mux is off: the best nominated valid pair, else
    /// (full agents) the best valid one; announced as a selected-pair change when it moves.
    fn update_rtcp_selection(&mut self) {
        if self.config.rtcp_mux {
            return;
        }
        let of_rtcp = |v: &&ValidPair| self.locals.get(v.local).is_some_and(|l| l.component == 2);
        let best = self
            .valid
            .iter()
            .filter(of_rtcp)
            .filter(|v| v.nominated)
            .max_by_key(|v| (v.nomination, v.priority))
            .or_else(|| {
                if self.config.lite {
                    None
                } else {
                    self.valid.iter().filter(of_rtcp).max_by_key(|v| v.priority)
                }
            });
        let Some(best) = best else { return };
        let (Some(l), Some(r)) = (self.locals.get(best.local), self.remotes.get(best.remote))
        else {
            return;
        };
        let pair = SelectedPair {
            local: l.clone(),
            remote: r.clone(),
            nominated: best.nominated,
        };
        if self.rtcp_selected.as_ref() != Some(&pair) {
            self.rtcp_selected = Some(pair.clone());
            self.events.push_back(IceEvent::SelectedPairChange(pair));
        }
    }

    fn update_selection(&mut self, now: Instant) {
        if self.failed {
            return;
        }
        self.update_rtcp_selection();
        if !self.config.rtcp_mux
            && self.selected.as_ref().is_some_and(|s| s.pair.nominated)
            && self.all_nominated()
        {
            self.concluded = true;
        }
        let of_rtp = |v: &&ValidPair| self.locals.get(v.local).is_some_and(|l| l.component == 1);
        let best = self
            .valid
            .iter()
            .filter(of_rtp)
            .filter(|v| v.nominated)
            .max_by_key(|v| (v.nomination, v.priority))
            .or_else(|| {
                if self.config.lite {
                    None
                } else {
                    self.valid.iter().filter(of_rtp).max_by_key(|v| v.priority)
                }
            })
            .cloned();
        let Some(best) = best else { return };
        let (Some(l), Some(r)) = (self.locals.get(best.local), self.remotes.get(best.remote))
        else {
            return;
        };
        let all_nominated = self.all_nominated();
        if let Some(s) = &mut self.selected {
            let same = s.generation == self.generation
                && s.pair.local.base == l.base
                && s.pair.local.address == l.address
                && s.pair.remote.address == r.address;
            if same {
                s.nomination = s.nomination.max(best.nomination);
                if best.nominated && !s.pair.nominated {
                    s.pair.nominated = true;
                    self.concluded = all_nominated;
                    self.events
                        .push_back(IceEvent::SelectedPairChange(s.pair.clone()));
                }
                return;
            }
            // Only a better pair replaces the current one; a nominated one is kept unless
            // a later nomination (renomination) or a better nominated one appears. A new
            // generation always takes over.
            if s.generation == self.generation
                && (s.pair.nominated && !best.nominated
                    || (best.nomination, best.priority) <= (s.nomination, s.priority)
                        && s.pair.nominated == best.nominated)
            {
                return;
            }
            if s.generation == self.generation && s.pair.nominated && best.nomination > s.nomination
            {
                self.stats.renominations += 1;
            }
        }
        let Some(remote_creds) = &self.remote_creds else {
            return;
        };
        let pair = SelectedPair {
            local: l.clone(),
            remote: r.clone(),
            nominated: best.nominated,
        };
        if best.nominated {
            self.concluded = self.all_nominated();
        }
        self.selected = Some(Selected {
            pair: pair.clone(),
            priority: best.priority,
            nomination: best.nomination,
            generation: self.generation,
            local_creds: self.local_creds.clone(),
            local_key: self.local_key.clone(),
            remote_username: format!("{}:{}", remote_creds.ufrag, self.local_creds.ufrag),
            remote_key: self.remote_key.clone(),
            last_consent: now,
            next_consent: now + self.config.consent_interval.max(Duration::from_secs(4)) * 4 / 5,
        });
        // Consent transactions of an older pair no longer count.
        self.txs.retain(|t| t.kind != TxKind::Consent);
        self.events.push_back(IceEvent::SelectedPairChange(pair));
    }

    /// `msg` as [`Bytes`] lent out of `self.out`: no allocation once the driver has dropped
    /// the transmits that used the room before.
    fn lend(&mut self, msg: &[u8]) -> Bytes {
        self.out.reserve(msg.len());
        self.out.extend_from_slice(msg);
        self.out.split().freeze()
    }

    fn transmit(
        &mut self,
        source: SocketAddr,
        destination: SocketAddr,
        transport: Transport,
        contents: Bytes,
    ) {
        self.transmits.push_back(Transmit {
            source: Some(source),
            destination,
            transport,
            contents,
            segment_size: None,
        });
    }

    fn local_index(&self, transport: Transport, local: SocketAddr) -> Option<usize> {
        self.locals.iter().position(|c| {
            c.base == local && c.address == local && c.protocol.transport() == transport
        })
    }

    fn handle_request(
        &mut self,
        now: Instant,
        transport: Transport,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
    ) -> Result<(), ReceiveError> {
        self.stats.requests_received += 1;
        let Some(li) = self.local_index(transport, local) else {
            self.stats.unknown_local_address += 1;
            return Err(ReceiveError::UnknownLocalAddress(local));
        };
        let Some(username) = msg.username() else {
            self.stats.missing_credentials += 1;
            return Err(ReceiveError::MissingCredentials);
        };
        if !msg.has_integrity() {
            self.stats.missing_credentials += 1;
            return Err(ReceiveError::MissingCredentials);
        }
        let ours = username.split(':').next().unwrap_or("");
        // RFC 8445 §7.3: the USERNAME starts with our ufrag; during a restart the selected
        // pair's generation still answers with its credentials.
        let current = ours == self.local_creds.ufrag;
        let old_key = match &self.selected {
            Some(s)
                if !current && s.generation != self.generation && ours == s.local_creds.ufrag =>
            {
                Some(s.local_key.clone())
            }
            _ => None,
        };
        if !current && old_key.is_none() {
            self.stats.unknown_username += 1;
            return Err(ReceiveError::UnknownUsername);
        }
        let key = old_key.clone().unwrap_or_else(|| self.local_key.clone());
        if !wire::integrity_ok(msg, &key) {
            self.stats.bad_integrity += 1;
            return Err(ReceiveError::BadIntegrity);
        }
        if old_key.is_some() {
            self.respond_success(msg.transaction_id(), local, from, transport, &key);
            return Ok(());
        }
        // Role conflict (RFC 8445 §7.3.1.1).
        match (self.role, msg.ice_controlling(), msg.ice_controlled()) {
            (IceRole::Controlling, Some(theirs), _) => {
                self.stats.role_conflicts += 1;
                if self.tie_breaker >= theirs {
                    self.respond_error(
                        msg.transaction_id(),
                        local,
                        from,
                        transport,
                        ErrorCode::ROLE_CONFLICT,
                    );
                    return Ok(());
                }
                self.switch_role(IceRole::Controlled);
            }
            (IceRole::Controlled, _, Some(theirs)) => {
                self.stats.role_conflicts += 1;
                if self.tie_breaker >= theirs {
                    self.switch_role(IceRole::Controlling);
                } else {
                    self.respond_error(
                        msg.transaction_id(),
                        local,
                        from,
                        transport,
                        ErrorCode::ROLE_CONFLICT,
                    );
                    return Ok(());
                }
            }
            _ => {}
        }
        self.respond_success(msg.transaction_id(), local, from, transport, &key);

        // Peer-reflexive remote candidate (RFC 8445 §7.3.1.3).
        let protocol = self.locals[li].protocol;
        let ri = match self
            .remotes
            .iter()
            .position(|c| c.address == from && protocol.pairs_with(c.protocol))
        {
            Some(ri) => ri,
            None => {
                if self.remotes.len() >= MAX_REMOTE_CANDIDATES {
                    return Ok(());
                }
                self.prflx_count = self.prflx_count.wrapping_add(1);
                let foundation = Foundation::new(&format!("prflx{}", self.prflx_count))
                    .unwrap_or_else(|| Foundation::from_index(self.prflx_count));
                let priority = msg
                    .priority()
                    .filter(|p| (1..=0x7fff_ffff).contains(p))
                    .unwrap_or_else(|| {
                        candidate::priority(CandidateKind::PeerReflexive.type_preference(), 0, 1)
                    });
                let remote_protocol = match protocol {
                    TransportProtocol::Tcp(TcpType::Passive) => {
                        TransportProtocol::Tcp(TcpType::Active)
                    }
                    TransportProtocol::Tcp(TcpType::Active) => {
                        TransportProtocol::Tcp(TcpType::Passive)
                    }
                    other => other,
                };
                self.remotes.push(Candidate {
                    address: from,
                    base: from,
                    kind: CandidateKind::PeerReflexive,
                    protocol: remote_protocol,
                    component: self.locals[li].component,
                    priority,
                    foundation,
                    related: None,
                });
                self.remotes.len() - 1
            }
        };
        // Nomination (RFC 8445 §7.3.1.5) by USE-CANDIDATE, or by a NOMINATION value (the
        // `renomination` option, draft-thatcher-ice-renomination-01 §3): the highest value
        // wins, so the controlling peer can move the selection to another pair.
        let nomination = msg.nomination().unwrap_or(0);
        let use_candidate =
            (msg.use_candidate() || nomination > 0) && self.role == IceRole::Controlled;

        if self.config.lite {
            // A lite agent takes the nominated pair as valid and selected (RFC 8445 §7.3.1.5).
            if let Some(s) = &mut self.selected {
                if s.pair.local.base == local && s.pair.remote.address == from {
                    s.last_consent = now;
                }
            }
            if use_candidate && self.remote_creds.is_some() {
                let priority =
                    pair_priority_for(self.locals[li].priority, self.remotes[ri].priority, false);
                match self
                    .valid
                    .iter_mut()
                    .find(|v| v.local == li && v.remote == ri)
                {
                    Some(v) => {
                        v.nominated = true;
                        v.nomination = v.nomination.max(nomination);
                    }
                    None => self.valid.push(ValidPair {
                        local: li,
                        remote: ri,
                        priority,
                        generator: PairId(u32::MAX),
                        nominated: true,
                        nomination,
                    }),
                }
            }
            return Ok(());
        }

        // Triggered check (RFC 8445 §7.3.1.4).
        let id = match self.checklist.find(&self.locals, &self.remotes, li, ri) {
            Some(id) => Some(id),
            None => {
                let controlling = self.role == IceRole::Controlling;
                match self.checklist.add_pair(
                    &self.locals,
                    &self.remotes,
                    li,
                    ri,
                    controlling,
                    true,
                ) {
                    AddOutcome::Added(id) | AddOutcome::Redundant(id) => Some(id),
                    AddOutcome::Full | AddOutcome::Incompatible => None,
                }
            }
        };
        let Some(id) = id else { return Ok(()) };
        let state = self.checklist.get(id).map(|p| p.state);
        match state {
            Some(PairState::Succeeded) => {}
            Some(PairState::InProgress) => {
                // RFC 8445 §7.3.1.4: no more retransmissions, but a response is still
                // awaited for the rest of the transaction's lifetime.
                let config = &self.config;
                for t in &mut self.txs {
                    if matches!(t.kind, TxKind::Check { pair, .. } if pair == id) && !t.cancelled {
                        t.cancelled = true;
                        t.deadline = t
                            .deadline
                            .max(now + remaining_lifetime(config, t.rto, t.sent));
                    }
                }
                self.enqueue_triggered(id);
            }
            Some(_) => self.enqueue_triggered(id),
            None => {}
        }
        // Nomination by the controlling peer (RFC 8445 §7.3.1.5).
        if use_candidate {
            if state == Some(PairState::Succeeded) {
                for v in &mut self.valid {
                    if v.generator == id {
                        v.nominated = true;
                        v.nomination = v.nomination.max(nomination);
                    }
                }
            } else if let Some(pending) =
                self.nominate_on_success.iter_mut().find(|(p, _)| *p == id)
            {
                pending.1 = pending.1.max(nomination);
            } else {
                self.nominate_on_success.push((id, nomination));
            }
        }
        self.wake();
        Ok(())
    }

    fn enqueue_triggered(&mut self, id: PairId) {
        if let Some(p) = self.checklist.get_mut(id) {
            p.state = PairState::Waiting;
        }
        if !self.triggered.iter().any(|(t, _)| *t == id) {
            self.triggered.push_back((id, false));
        }
    }

    fn switch_role(&mut self, role: IceRole) {
        if self.role == role {
            return;
        }
        self.role = role;
        let controlling = role == IceRole::Controlling;
        self.checklist
            .recompute_priorities(&self.locals, &self.remotes, controlling);
        for v in &mut self.valid {
            if let (Some(l), Some(r)) = (self.locals.get(v.local), self.remotes.get(v.remote)) {
                v.priority = pair_priority_for(l.priority, r.priority, controlling);
            }
        }
        if !controlling {
            self.nominating = None;
            self.triggered.retain(|(_, use_candidate)| !use_candidate);
        }
    }

    fn respond_success(
        &mut self,
        txid: TransactionId,
        local: SocketAddr,
        from: SocketAddr,
        transport: Transport,
        key: &IntegrityKey,
    ) {
        let mut bytes = std::mem::take(&mut self.scratch);
        wire::encode_success(txid, from, key, &mut bytes);
        self.stats.responses_sent += 1;
        let contents = self.lend(&bytes);
        self.scratch = bytes;
        self.transmit(local, from, transport, contents);
    }

    fn respond_error(
        &mut self,
        txid: TransactionId,
        local: SocketAddr,
        from: SocketAddr,
        transport: Transport,
        code: u16,
    ) {
        let mut bytes = std::mem::take(&mut self.scratch);
        wire::encode_error(txid, code, "Role Conflict", &self.local_key, &mut bytes);
        let contents = self.lend(&bytes);
        self.scratch = bytes;
        self.transmit(local, from, transport, contents);
    }

    fn handle_response(
        &mut self,
        now: Instant,
        transport: Transport,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
    ) -> Result<(), ReceiveError> {
        let txid = msg.transaction_id();
        let Some(i) = self.txs.iter().position(|t| t.txid == txid) else {
            self.stats.unmatched_responses += 1;
            return Err(ReceiveError::UnmatchedResponse);
        };
        if let Some(key) = &self.txs[i].key {
            if !wire::integrity_ok(msg, key) {
                // A forged or corrupted response must not end the transaction.
                self.stats.bad_integrity += 1;
                return Err(ReceiveError::BadIntegrity);
            }
        }
        self.stats.responses_received += 1;
        let tx = self.txs.swap_remove(i);
        self.trim_txs();
        let success = msg.class() == Class::SuccessResponse;
        match tx.kind {
            TxKind::Gather { server, base } => {
                if success && from == server {
                    let mapped = msg.xor_mapped_address().or_else(|| msg.mapped_address());
                    if let Some(mapped) = mapped {
                        self.add_server_reflexive(base, mapped, server);
                    }
                }
                self.update_gathering();
            }
            TxKind::Consent => {
                let Some(s) = &mut self.selected else {
                    return Ok(());
                };
                let on_pair = from == tx.destination
                    && local == tx.source
                    && s.pair.local.base == tx.source
                    && s.pair.remote.address == tx.destination;
                if !on_pair {
                    return Ok(());
                }
                if success {
                    s.last_consent = now;
                    self.stats.consent_responses += 1;
                } else if msg
                    .error_code()
                    .is_some_and(|e| e.code == ErrorCode::FORBIDDEN)
                {
                    // RFC 7675 §5.2: an authenticated 403 revokes consent at once.
                    self.lose_consent();
                }
            }
            TxKind::Check {
                pair,
                use_candidate,
                controlling,
                priority,
            } => {
                if tx.generation != self.generation {
                    return Ok(());
                }
                self.handle_check_response(
                    now,
                    transport,
                    local,
                    from,
                    msg,
                    &tx,
                    pair,
                    use_candidate,
                    controlling,
                    priority,
                );
                self.wake();
            }
        }
        Ok(())
    }

    fn add_server_reflexive(&mut self, base: SocketAddr, mapped: SocketAddr, server: SocketAddr) {
        // RFC 8445 §5.1.3: a server-reflexive candidate equal to a host one is redundant.
        if self
            .locals
            .iter()
            .any(|c| c.address == mapped && c.base == base)
        {
            return;
        }
        if self.locals.len() >= MAX_LOCAL_CANDIDATES {
            return;
        }
        let Some(b) = self
            .locals
            .iter()
            .find(|c| c.address == base && c.kind == CandidateKind::Host)
        else {
            return;
        };
        let local_pref = ((b.priority >> 8) & 0xffff) as u16;
        let component = b.component;
        let foundation = self.foundations.foundation(FoundationKey {
            kind: CandidateKind::ServerReflexive,
            base_ip: base.ip(),
            server_ip: Some(server.ip()),
            tcp: false,
        });
        let cand = Candidate {
            address: mapped,
            base,
            kind: CandidateKind::ServerReflexive,
            protocol: TransportProtocol::Udp,
            component,
            priority: candidate::priority(
                CandidateKind::ServerReflexive.type_preference(),
                local_pref,
                component,
            ),
            foundation,
            related: Some(base),
        };
        self.locals.push(cand.clone());
        self.events.push_back(IceEvent::LocalCandidate(cand));
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_check_response(
        &mut self,
        now: Instant,
        transport: Transport,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
        tx: &Tx,
        pair: PairId,
        use_candidate: bool,
        sent_controlling: bool,
        sent_priority: u32,
    ) {
        let Some(p) = self.checklist.get(pair).cloned() else {
            return;
        };
        if msg.class() == Class::ErrorResponse {
            if msg
                .error_code()
                .is_some_and(|e| e.code == ErrorCode::ROLE_CONFLICT)
            {
                // RFC 8445 §7.2.5.1: switch to the role opposite the one the check carried,
                // then check the pair again.
                self.stats.role_conflicts += 1;
                let new_role = if sent_controlling {
                    IceRole::Controlled
                } else {
                    IceRole::Controlling
                };
                self.switch_role(new_role);
                if self.nominating == Some(pair) {
                    self.nominating = None;
                }
                self.enqueue_triggered(pair);
            } else if let Some(p) = self.checklist.get_mut(pair) {
                p.state = PairState::Failed;
            }
            return;
        }
        // RFC 8445 §7.2.5.2.1: the response must come back on the same 5-tuple, reversed.
        if from != tx.destination || local != tx.source || transport != tx.transport {
            if let Some(p) = self.checklist.get_mut(pair) {
                p.state = PairState::Failed;
            }
            return;
        }
        let Some(mapped) = msg.xor_mapped_address() else {
            if let Some(p) = self.checklist.get_mut(pair) {
                p.state = PairState::Failed;
            }
            return;
        };
        // The valid pair's local candidate is the one the mapped address names
        // (RFC 8445 §7.2.5.3.1), or a new peer-reflexive one.
        let vl = match self
            .locals
            .iter()
            .position(|c| c.address == mapped && c.base == tx.source)
        {
            Some(i) => i,
            None => {
                if self.locals.len() >= MAX_LOCAL_CANDIDATES {
                    p.local
                } else {
                    let base = &self.locals[p.local];
                    let protocol = base.protocol;
                    let foundation = self.foundations.foundation(FoundationKey {
                        kind: CandidateKind::PeerReflexive,
                        base_ip: tx.source.ip(),
                        server_ip: None,
                        tcp: protocol.is_tcp(),
                    });
                    self.locals.push(Candidate {
                        address: mapped,
                        base: tx.source,
                        kind: CandidateKind::PeerReflexive,
                        protocol,
                        component: base.component,
                        priority: sent_priority,
                        foundation,
                        related: Some(tx.source),
                    });
                    self.locals.len() - 1
                }
            }
        };
        let controlling = self.role == IceRole::Controlling;
        let priority = pair_priority_for(
            self.locals[vl].priority,
            self.remotes[p.remote].priority,
            controlling,
        );
        let pending = self
            .nominate_on_success
            .iter()
            .find(|(id, _)| *id == pair)
            .map(|&(_, n)| n);
        let nominated = (use_candidate && sent_controlling) || (!controlling && pending.is_some());
        let nomination = if controlling { 0 } else { pending.unwrap_or(0) };
        match self
            .valid
            .iter_mut()
            .find(|v| v.local == vl && v.remote == p.remote)
        {
            Some(v) => {
                v.nominated |= nominated;
                v.nomination = v.nomination.max(nomination);
            }
            None => self.valid.push(ValidPair {
                local: vl,
                remote: p.remote,
                priority,
                generator: pair,
                nominated,
                nomination,
            }),
        }
        if nominated {
            self.nominate_on_success.retain(|(id, _)| *id != pair);
            // Our nomination went through: the next component may be nominated.
            if self.nominating == Some(pair) {
                self.nominating = None;
            }
        }
        if let Some(pm) = self.checklist.get_mut(pair) {
            pm.state = PairState::Succeeded;
        }
        self.checklist.unfreeze_foundation(&p.foundation);
        self.first_valid_at.get_or_insert(now);
    }
}

/// The wait before transmission `sent + 1` (or before giving up after the last one): the
/// RTO doubling from `rto`, capped at `max_rto` (RFC 8489 §6.2.1 with a cap).
fn retransmit_wait(config: &IceConfig, rto: Duration, sent: u32) -> Duration {
    let shift = sent.saturating_sub(1).min(16);
    rto.saturating_mul(1 << shift).min(config.max_rto.max(rto))
}

/// How long a transaction that has been sent `sent` times still lives if it is sent no more.
fn remaining_lifetime(config: &IceConfig, rto: Duration, sent: u32) -> Duration {
    (sent..=config.max_check_transmissions.max(sent))
        .map(|k| retransmit_wait(config, rto, k))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn agent(role: IceRole, seed: u64) -> Agent {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        Agent::new(
            IceConfig {
                role,
                ..IceConfig::default()
            },
            Instant::now(),
            &mut rng,
        )
    }

    use crate::stun::{Attribute, MessageBuilder, MessageType, Method};

    const LOCAL: &str = "192.0.2.1:5000";
    const PEER: &str = "198.51.100.2:6000";
    const PEER_PWD: &str = "peerpasswordpeerpassword";

    /// An agent on LOCAL knowing the peer's credentials and its host candidate on PEER.
    fn connected_setup(role: IceRole) -> (Agent, Instant) {
        let t0 = Instant::now();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
        let mut a = Agent::new(
            IceConfig {
                role,
                ..IceConfig::default()
            },
            t0,
            &mut rng,
        );
        a.add_local_host_address(LOCAL.parse().unwrap()).unwrap();
        a.end_of_local_host_addresses();
        a.set_remote_credentials(Credentials::new("peer", PEER_PWD).unwrap())
            .unwrap();
        let mut c = Candidate::host(PEER.parse().unwrap(), 1, 65535, Foundation::from_index(9));
        c.priority = candidate::priority(126, 65535, 1);
        a.add_remote_candidate(c).unwrap();
        while a.poll_event().is_some() {}
        (a, t0)
    }

    /// An agent on LOCAL knowing the peer's credentials and its end-of-candidates, but no
    /// candidate of it: every one it signalled was a name (mDNS `.local`) the layer above
    /// could not resolve.
    fn no_remote_candidates(role: IceRole) -> (Agent, Instant) {
        let t0 = Instant::now();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut a = Agent::new(
            IceConfig {
                role,
                ..IceConfig::default()
            },
            t0,
            &mut rng,
        );
        a.add_local_host_address(LOCAL.parse().unwrap()).unwrap();
        a.end_of_local_host_addresses();
        a.set_remote_credentials(Credentials::new("peer", PEER_PWD).unwrap())
            .unwrap();
        a.end_of_remote_candidates();
        while a.poll_transmit().is_some() {}
        (a, t0)
    }

    #[test]
    fn an_empty_checklist_fails_only_after_the_passive_wait() {
        for role in [IceRole::Controlling, IceRole::Controlled] {
            let (mut a, t0) = no_remote_candidates(role);
            a.handle_timeout(t0 + Duration::from_secs(1));
            assert_ne!(a.connection_state(), ConnectionState::Failed, "{role:?}");
            let wake = a.poll_timeout().expect("a wake-up to fail at");
            assert!(wake <= t0 + PASSIVE_WAIT, "{role:?}");
            a.handle_timeout(t0 + PASSIVE_WAIT);
            assert_eq!(a.connection_state(), ConnectionState::Failed, "{role:?}");
        }
    }

    #[test]
    fn an_empty_checklist_learns_the_peer_from_its_check() {
        for (role, attr) in [
            (IceRole::Controlling, Attribute::IceControlled(1)),
            (IceRole::Controlled, Attribute::IceControlling(1)),
        ] {
            let (mut a, t0) = no_remote_candidates(role);
            let now = t0 + Duration::from_secs(3);
            let pwd = a.local_credentials().pwd.clone();
            let req = peer_request(
                &a,
                &[
                    attr,
                    Attribute::Priority(candidate::priority(110, 65535, 1)),
                ],
                &pwd,
            );
            a.handle_receive(
                now,
                Transport::Udp,
                LOCAL.parse().unwrap(),
                PEER.parse().unwrap(),
                &req,
            )
            .unwrap();
            let r = &a.remote_candidates()[0];
            assert_eq!(
                (r.address, r.kind),
                (PEER.parse().unwrap(), CandidateKind::PeerReflexive)
            );
            // Our response, then the triggered check on the new pair (RFC 8445 §7.3.1.4).
            let mut classes = Vec::new();
            for _ in 0..5 {
                while let Some(t) = a.poll_transmit() {
                    assert_eq!(t.destination, PEER.parse().unwrap());
                    classes.push(Message::new_checked(&t.contents).unwrap().class());
                }
                if classes.contains(&Class::Request) {
                    break;
                }
                let wake = a.poll_timeout().unwrap();
                a.handle_timeout(wake);
            }
            assert_eq!(classes[0], Class::SuccessResponse, "{role:?}");
            assert!(classes.contains(&Class::Request), "{role:?}: {classes:?}");
            a.handle_timeout(t0 + PASSIVE_WAIT + Duration::from_secs(1));
            assert_ne!(a.connection_state(), ConnectionState::Failed, "{role:?}");
        }
    }

    fn peer_request(a: &Agent, attrs: &[Attribute<'_>], pwd: &str) -> Vec<u8> {
        let mut buf = Vec::new();
        let username = format!("{}:peer", a.local_credentials().ufrag);
        let mut b = MessageBuilder::new(
            &mut buf,
            MessageType::new(Class::Request, Method::BINDING),
            TransactionId([5; 12]),
        );
        b.add(&Attribute::Username(&username)).unwrap();
        for attr in attrs {
            b.add(attr).unwrap();
        }
        b.add_message_integrity(&IntegrityKey::short_term(pwd))
            .unwrap();
        b.add_fingerprint().unwrap();
        b.finish();
        buf
    }

    fn success_for(request: &[u8], mapped: SocketAddr) -> Vec<u8> {
        let req = Message::new_checked(request).unwrap();
        let mut buf = Vec::new();
        wire::encode_success(
            req.transaction_id(),
            mapped,
            &IntegrityKey::short_term(PEER_PWD),
            &mut buf,
        );
        buf
    }

    fn run_until_transmit(a: &mut Agent, now: &mut Instant) -> Transmit {
        for _ in 0..100 {
            if let Some(t) = a.poll_transmit() {
                return t;
            }
            *now = a.poll_timeout().expect("a timer is pending").max(*now);
            a.handle_timeout(*now);
        }
        panic!("no transmit");
    }

    #[test]
    fn check_request_carries_rfc_8445_7_1_attributes() {
        let (mut a, mut now) = connected_setup(IceRole::Controlling);
        let t = run_until_transmit(&mut a, &mut now);
        assert_eq!(
            (t.source.unwrap(), t.destination),
            (LOCAL.parse().unwrap(), PEER.parse().unwrap())
        );
        let msg = Message::new_checked(&t.contents).unwrap();
        assert_eq!(
            (msg.class(), msg.method()),
            (Class::Request, Method::BINDING)
        );
        assert_eq!(
            msg.username(),
            Some(format!("peer:{}", a.local_credentials().ufrag).as_str())
        );
        // PRIORITY is what a peer-reflexive candidate from this base would get.
        assert_eq!(msg.priority(), Some(candidate::priority(110, 65534, 1)));
        assert!(msg.ice_controlling().is_some() && msg.ice_controlled().is_none());
        assert!(!msg.use_candidate());
        msg.check_message_integrity(&IntegrityKey::short_term(PEER_PWD))
            .unwrap();
        msg.check_fingerprint().unwrap();
    }

    #[test]
    fn retransmissions_double_from_500_ms_then_fail() {
        let (mut a, mut now) = connected_setup(IceRole::Controlled);
        let first = run_until_transmit(&mut a, &mut now);
        let t0 = now;
        let mut times = vec![Duration::ZERO];
        while a.checklist().pairs()[0].state == PairState::InProgress {
            now = a.poll_timeout().unwrap();
            a.handle_timeout(now);
            while let Some(t) = a.poll_transmit() {
                assert_eq!(
                    t.contents, first.contents,
                    "a retransmission is the same request"
                );
                times.push(now - t0);
            }
        }
        let ms = |v: u64| Duration::from_millis(v);
        assert_eq!(
            times,
            [
                ms(0),
                ms(500),
                ms(1500),
                ms(3500),
                ms(6500),
                ms(9500),
                ms(12500)
            ]
        );
        assert_eq!(now - t0, ms(15500), "the last wait ends the transaction");
        assert_eq!(a.checklist().pairs()[0].state, PairState::Failed);
        assert_eq!(a.stats().retransmissions, 6);
    }

    #[test]
    fn bad_integrity_and_unknown_username_are_dropped_unanswered() {
        let (mut a, now) = connected_setup(IceRole::Controlled);
        let local = LOCAL.parse().unwrap();
        let from = PEER.parse().unwrap();
        let wrong = peer_request(
            &a,
            &[Attribute::IceControlling(1)],
            "wrongwrongwrongwrongwrong",
        );
        assert_eq!(
            a.handle_receive(now, Transport::Udp, local, from, &wrong),
            Err(ReceiveError::BadIntegrity)
        );
        let mut other = Vec::new();
        MessageBuilder::new(
            &mut other,
            MessageType::new(Class::Request, Method::BINDING),
            TransactionId([1; 12]),
        )
        .add(&Attribute::Username("someoneelse:peer"))
        .unwrap()
        .add_message_integrity(&IntegrityKey::short_term(
            &a.local_credentials().pwd.clone(),
        ))
        .unwrap();
        assert_eq!(
            a.handle_receive(now, Transport::Udp, local, from, &other),
            Err(ReceiveError::UnknownUsername)
        );
        assert!(a.poll_transmit().is_none(), "nothing answered");
        let stats = a.stats();
        assert_eq!(
            (
                stats.bad_integrity,
                stats.unknown_username,
                stats.responses_sent
            ),
            (1, 1, 0)
        );
    }

    #[test]
    fn role_conflict_answered_with_487_or_role_switched() {
        // Controlling with the larger tie-breaker: answer 487 (RFC 8445 §7.3.1.1).
        let (mut a, now) = connected_setup(IceRole::Controlling);
        let local = LOCAL.parse().unwrap();
        let from = PEER.parse().unwrap();
        let pwd = a.local_credentials().pwd.clone();
        let req = peer_request(&a, &[Attribute::IceControlling(0)], &pwd);
        a.handle_receive(now, Transport::Udp, local, from, &req)
            .unwrap();
        let t = a.poll_transmit().unwrap();
        let msg = Message::new_checked(&t.contents).unwrap();
        assert_eq!(msg.class(), Class::ErrorResponse);
        assert_eq!(msg.error_code().unwrap().code, ErrorCode::ROLE_CONFLICT);
        msg.check_message_integrity(&IntegrityKey::short_term(&pwd))
            .unwrap();
        assert_eq!(a.role(), IceRole::Controlling);
        // The peer's tie-breaker is larger: switch to controlled and answer success.
        let req = peer_request(&a, &[Attribute::IceControlling(u64::MAX)], &pwd);
        a.handle_receive(now, Transport::Udp, local, from, &req)
            .unwrap();
        let t = a.poll_transmit().unwrap();
        let msg = Message::new_checked(&t.contents).unwrap();
        assert_eq!(msg.class(), Class::SuccessResponse);
        assert_eq!(msg.xor_mapped_address(), Some(from));
        assert_eq!(a.role(), IceRole::Controlled);
        assert_eq!(a.stats().role_conflicts, 2);
    }

    #[test]
    fn a_request_on_another_transport_finds_no_candidate() {
        let (mut a, now) = connected_setup(IceRole::Controlled);
        let local: SocketAddr = LOCAL.parse().unwrap();
        let from = PEER.parse().unwrap();
        let pwd = a.local_credentials().pwd.clone();
        let req = peer_request(&a, &[Attribute::IceControlling(1)], &pwd);
        // The UDP candidate's address, but over TCP or TLS: not that candidate.
        for transport in [Transport::Tcp, Transport::Tls] {
            assert_eq!(
                a.handle_receive(now, transport, local, from, &req),
                Err(ReceiveError::UnknownLocalAddress(local))
            );
        }
        assert_eq!(a.stats().unknown_local_address, 2);
        a.handle_receive(now, Transport::Udp, local, from, &req)
            .unwrap();
    }

    #[test]
    fn role_conflict_487_response_switches_role_and_retries() {
        let (mut a, mut now) = connected_setup(IceRole::Controlling);
        let t = run_until_transmit(&mut a, &mut now);
        let req = Message::new_checked(&t.contents).unwrap();
        let mut buf = Vec::new();
        wire::encode_error(
            req.transaction_id(),
            ErrorCode::ROLE_CONFLICT,
            "Role Conflict",
            &IntegrityKey::short_term(PEER_PWD),
            &mut buf,
        );
        a.handle_receive(now, Transport::Udp, t.source.unwrap(), t.destination, &buf)
            .unwrap();
        assert_eq!(a.role(), IceRole::Controlled);
        let retry = run_until_transmit(&mut a, &mut now);
        let msg = Message::new_checked(&retry.contents).unwrap();
        assert!(
            msg.ice_controlled().is_some(),
            "the check is repeated in the new role"
        );
    }

    /// Answers every check `a` sends with a success response, until it sends nothing.
    fn answer_checks(a: &mut Agent, now: Instant) {
        for _ in 0..50 {
            let Some(t) = a.poll_transmit() else { return };
            let msg = Message::new_checked(&t.contents).unwrap();
            if msg.class() != Class::Request {
                continue;
            }
            let source = t.source.unwrap();
            let ok = success_for(&t.contents, source);
            a.handle_receive(now, Transport::Udp, source, t.destination, &ok)
                .unwrap();
        }
    }

    fn nominating_request(a: &Agent, nomination: Option<u32>, use_candidate: bool) -> Vec<u8> {
        let pwd = a.local_credentials().pwd.clone();
        let value = nomination.map(u32::to_be_bytes);
        let mut attrs = vec![
            Attribute::Priority(candidate::priority(110, 65535, 1)),
            Attribute::IceControlling(1),
        ];
        if let Some(v) = &value {
            attrs.push(Attribute::Unknown {
                attr: crate::stun::AttributeType::NOMINATION,
                value: v,
            });
        }
        if use_candidate {
            attrs.push(Attribute::UseCandidate);
        }
        peer_request(a, &attrs, &pwd)
    }

    /// A controlled agent connected to [`PEER`], given a second, lower-priority candidate of
    /// the peer (returned as `peer2`), after our own checks succeeded on both pairs.
    fn two_checked_pairs() -> (Agent, Instant, SocketAddr, SocketAddr, SocketAddr) {
        let (mut a, mut now) = connected_setup(IceRole::Controlled);
        let peer2: SocketAddr = "198.51.100.3:6001".parse().unwrap();
        let mut c = Candidate::host(peer2, 1, 65535, Foundation::from_index(10));
        c.priority = candidate::priority(100, 65535, 1);
        a.add_remote_candidate(c).unwrap();
        for _ in 0..20 {
            now = a.poll_timeout().unwrap().max(now);
            a.handle_timeout(now);
            answer_checks(&mut a, now);
        }
        (a, now, LOCAL.parse().unwrap(), PEER.parse().unwrap(), peer2)
    }

    #[test]
    fn renomination_later_nomination_value_wins() {
        let (mut a, now, local, peer, peer2) = two_checked_pairs();
        let selected = |a: &Agent| a.selected_pair().map(|p| (p.remote.address, p.nominated));
        assert_eq!(selected(&a), Some((peer, false)));
        // Chromium's renomination: NOMINATION 1 on the better pair...
        let req = nominating_request(&a, Some(1), false);
        a.handle_receive(now, Transport::Udp, local, peer, &req)
            .unwrap();
        answer_checks(&mut a, now);
        assert_eq!(selected(&a), Some((peer, true)));
        assert_eq!(a.connection_state(), ConnectionState::Completed);
        // ...then NOMINATION 2 on the lower-priority one: the later nomination wins.
        let req = nominating_request(&a, Some(2), false);
        a.handle_receive(now, Transport::Udp, local, peer2, &req)
            .unwrap();
        answer_checks(&mut a, now);
        assert_eq!(selected(&a), Some((peer2, true)));
        assert_eq!(a.stats().renominations, 1);
        // A stale nomination (a lower value, retransmitted or reordered) changes nothing.
        let req = nominating_request(&a, Some(1), true);
        a.handle_receive(now, Transport::Udp, local, peer, &req)
            .unwrap();
        answer_checks(&mut a, now);
        assert_eq!(selected(&a), Some((peer2, true)));
        // Back again with a higher value.
        let req = nominating_request(&a, Some(3), false);
        a.handle_receive(now, Transport::Udp, local, peer, &req)
            .unwrap();
        answer_checks(&mut a, now);
        assert_eq!(selected(&a), Some((peer, true)));
        assert_eq!(a.stats().renominations, 2);
    }

    #[test]
    fn without_nomination_values_a_nominated_pair_is_kept() {
        let (mut a, now, local, peer, peer2) = two_checked_pairs();
        for from in [peer, peer2] {
            let req = nominating_request(&a, None, true);
            a.handle_receive(now, Transport::Udp, local, from, &req)
                .unwrap();
            answer_checks(&mut a, now);
        }
        // Plain USE-CANDIDATE (RFC 8445): the better nominated pair stays.
        assert_eq!(a.selected_pair().unwrap().remote.address, peer);
        assert_eq!(a.stats().renominations, 0);
    }

    #[test]
    fn lite_agent_reports_checking_before_connected() {
        let t0 = Instant::now();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut a = Agent::new(
            IceConfig {
                lite: true,
                role: IceRole::Controlled,
                ..IceConfig::default()
            },
            t0,
            &mut rng,
        );
        a.add_local_host_address(LOCAL.parse().unwrap()).unwrap();
        a.end_of_local_host_addresses();
        a.set_remote_credentials(Credentials::new("peer", PEER_PWD).unwrap())
            .unwrap();
        while a.poll_event().is_some() {}
        // The full peer's first check already nominates (aggressive nomination, or a
        // peer that found the pair valid from our address alone).
        let req = nominating_request(&a, None, true);
        a.handle_receive(
            t0,
            Transport::Udp,
            LOCAL.parse().unwrap(),
            PEER.parse().unwrap(),
            &req,
        )
        .unwrap();
        let states: Vec<ConnectionState> = std::iter::from_fn(|| a.poll_event())
            .filter_map(|e| match e {
                IceEvent::ConnectionStateChange(s) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(
            states,
            [
                ConnectionState::Checking,
                ConnectionState::Connected,
                ConnectionState::Completed
            ]
        );
    }

    #[test]
    fn aggressive_nomination_from_peer_is_accepted() {
        // The peer nominates in its very first check, before our own check has succeeded.
        let (mut a, mut now) = connected_setup(IceRole::Controlled);
        let local: SocketAddr = LOCAL.parse().unwrap();
        let from: SocketAddr = PEER.parse().unwrap();
        let pwd = a.local_credentials().pwd.clone();
        let req = peer_request(
            &a,
            &[
                Attribute::Priority(candidate::priority(110, 65535, 1)),
                Attribute::IceControlling(1),
                Attribute::UseCandidate,
            ],
            &pwd,
        );
        a.handle_receive(now, Transport::Udp, local, from, &req)
            .unwrap();
        let response = a.poll_transmit().unwrap();
        assert_eq!(
            Message::new_checked(&response.contents).unwrap().class(),
            Class::SuccessResponse
        );
        // Our triggered check on the pair: answering it completes ICE on that pair.
        let check = run_until_transmit(&mut a, &mut now);
        assert_eq!(check.destination, from);
        a.handle_receive(
            now,
            Transport::Udp,
            local,
            from,
            &success_for(&check.contents, local),
        )
        .unwrap();
        let selected = a.selected_pair().unwrap();
        assert!(selected.nominated);
        assert_eq!(selected.remote.address, from);
        assert_eq!(a.connection_state(), ConnectionState::Completed);
    }

    #[test]
    fn asymmetric_response_fails_the_pair() {
        let (mut a, mut now) = connected_setup(IceRole::Controlling);
        let t = run_until_transmit(&mut a, &mut now);
        let other: SocketAddr = "198.51.100.3:6000".parse().unwrap();
        a.handle_receive(
            now,
            Transport::Udp,
            t.source.unwrap(),
            other,
            &success_for(&t.contents, t.source.unwrap()),
        )
        .unwrap();
        assert_eq!(a.checklist().pairs()[0].state, PairState::Failed);
        assert!(a.selected_pair().is_none());
    }

    #[test]
    fn mapped_address_unknown_makes_a_peer_reflexive_local() {
        let (mut a, mut now) = connected_setup(IceRole::Controlling);
        let t = run_until_transmit(&mut a, &mut now);
        let mapped: SocketAddr = "203.0.113.7:40000".parse().unwrap();
        a.handle_receive(
            now,
            Transport::Udp,
            t.source.unwrap(),
            t.destination,
            &success_for(&t.contents, mapped),
        )
        .unwrap();
        let prflx = a
            .local_candidates()
            .iter()
            .find(|c| c.address == mapped)
            .unwrap();
        assert_eq!(prflx.kind, CandidateKind::PeerReflexive);
        assert_eq!(prflx.base, t.source.unwrap());
        assert_eq!(prflx.priority, candidate::priority(110, 65534, 1));
        let selected = a.selected_pair().unwrap();
        assert_eq!(selected.local.address, mapped);
        assert_eq!(a.connection_state(), ConnectionState::Connected);
    }

    #[test]
    fn absurd_configuration_is_brought_into_range() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let now = Instant::now();
        let mut a = Agent::new(
            IceConfig {
                ta: Duration::ZERO,
                min_rto: Duration::MAX,
                max_rto: Duration::ZERO,
                consent_interval: Duration::MAX,
                consent_timeout: Duration::MAX,
                disconnected_timeout: Duration::MAX,
                nomination_timeout: Duration::MAX,
                max_check_transmissions: u32::MAX,
                max_pairs: 0,
                ..IceConfig::default()
            },
            now,
            &mut rng,
        );
        assert_eq!(a.config.ta, Duration::from_millis(5));
        assert_eq!(a.config.max_rto, a.config.min_rto);
        a.add_local_host_address(LOCAL.parse().unwrap()).unwrap();
        a.set_remote_credentials(Credentials::new("peer", PEER_PWD).unwrap())
            .unwrap();
        let c = Candidate::host(PEER.parse().unwrap(), 1, 65535, Foundation::from_index(9));
        a.add_remote_candidate(c).unwrap();
        // Timers run without overflowing.
        let mut t = now;
        for _ in 0..200 {
            let Some(next) = a.poll_timeout() else { break };
            t = next.max(t);
            a.handle_timeout(t);
            while a.poll_transmit().is_some() {}
        }
    }

    #[test]
    fn credentials_follow_rfc_8445_5_3() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let c = Credentials::random(&mut rng);
        assert!(Credentials::new(&c.ufrag, &c.pwd).is_ok());
        assert!(c.ufrag.len() * 6 >= 24 && c.pwd.len() * 6 >= 128);
        assert_ne!(Credentials::random(&mut rng), c);
        assert_eq!(
            Credentials::new("abc", &"p".repeat(22)),
            Err(IceError::InvalidCredentials)
        );
        assert_eq!(
            Credentials::new("abcd", &"p".repeat(21)),
            Err(IceError::InvalidCredentials)
        );
        assert_eq!(
            Credentials::new("ab:d", &"p".repeat(22)),
            Err(IceError::InvalidCredentials)
        );
        assert!(!format!("{c:?}").contains(&c.pwd));
    }

    /// No host address and no relay (every TURN allocation failed): gathering still goes
    /// through `gathering` to `complete`, with no candidate.
    #[test]
    fn gathering_completes_without_any_candidate() {
        let mut a = agent(IceRole::Controlling, 1);
        a.end_of_local_host_addresses();
        let events: Vec<IceEvent> = std::iter::from_fn(|| a.poll_event()).collect();
        assert_eq!(
            events,
            [
                IceEvent::GatheringStateChange(GatheringState::Gathering),
                IceEvent::GatheringStateChange(GatheringState::Complete),
            ]
        );
    }

    /// Relays reached over UDP, TCP and TLS rank in that order.
    #[test]
    fn relayed_candidates_rank_by_the_transport_to_the_server() {
        let mut a = agent(IceRole::Controlling, 1);
        let server: SocketAddr = "203.0.113.1:3478".parse().unwrap();
        for (port, via) in [
            (1, Transport::Tls),
            (2, Transport::Udp),
            (3, Transport::Tcp),
        ] {
            let relayed = SocketAddr::new("203.0.113.1".parse().unwrap(), 50_000 + port);
            a.add_local_relayed_candidate_via(relayed, None, server, via)
                .unwrap();
        }
        let mut cands: Vec<Candidate> = std::iter::from_fn(|| a.poll_event())
            .filter_map(|e| match e {
                IceEvent::LocalCandidate(c) => Some(c),
                _ => None,
            })
            .collect();
        cands.sort_by_key(|c| std::cmp::Reverse(c.priority));
        let ports: Vec<u16> = cands.iter().map(|c| c.address.port()).collect();
        assert_eq!(ports, [50_002, 50_003, 50_001], "UDP, TCP, TLS");
        assert!(cands.iter().all(|c| c.protocol == TransportProtocol::Udp));
    }

    #[test]
    fn host_candidates_are_emitted_and_gathering_completes() {
        let mut a = agent(IceRole::Controlling, 1);
        a.add_local_host_address("192.0.2.1:5000".parse().unwrap())
            .unwrap();
        a.add_local_host_address("[2001:db8::1]:5000".parse().unwrap())
            .unwrap();
        a.end_of_local_host_addresses();
        let events: Vec<IceEvent> = std::iter::from_fn(|| a.poll_event()).collect();
        let cands: Vec<&Candidate> = events
            .iter()
            .filter_map(|e| match e {
                IceEvent::LocalCandidate(c) => Some(c),
                _ => None,
            })
            .collect();
        assert_eq!(cands.len(), 2);
        assert_ne!(cands[0].foundation, cands[1].foundation);
        assert!(
            cands[1].priority > cands[0].priority,
            "IPv6 ranks first (RFC 8421)"
        );
        assert_eq!(
            events.last(),
            Some(&IceEvent::GatheringStateChange(GatheringState::Complete))
        );
        assert_eq!(a.gathering_state(), GatheringState::Complete);
    }

    #[test]
    fn stun_server_gathering_retransmits_then_completes() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let t0 = Instant::now();
        let server: SocketAddr = "198.51.100.7:3478".parse().unwrap();
        let mut a = Agent::new(
            IceConfig {
                stun_servers: vec![server],
                ..IceConfig::default()
            },
            t0,
            &mut rng,
        );
        a.add_local_host_address("192.0.2.1:5000".parse().unwrap())
            .unwrap();
        a.end_of_local_host_addresses();
        let first = a.poll_transmit().unwrap();
        assert_eq!(first.destination, server);
        assert_eq!(a.gathering_state(), GatheringState::Gathering);
        let mut now = t0;
        let mut sent = 1;
        while let Some(t) = a.poll_timeout() {
            now = t;
            a.handle_timeout(now);
            while a.poll_transmit().is_some() {
                sent += 1;
            }
            if a.gathering_state() == GatheringState::Complete {
                break;
            }
        }
        assert_eq!(sent, 7);
        assert_eq!(a.gathering_state(), GatheringState::Complete);
        assert!(now > t0 + Duration::from_secs(10));
    }

    #[test]
    fn invalid_inputs_are_refused() {
        let mut a = agent(IceRole::Controlled, 2);
        let mut c = Candidate::host(
            "192.0.2.9:1".parse().unwrap(),
            1,
            65535,
            Foundation::from_index(1),
        );
        c.priority = 0;
        assert_eq!(
            a.add_remote_candidate(c.clone()),
            Err(IceError::InvalidCandidate)
        );
        c.priority = 0x8000_0000;
        assert_eq!(
            a.add_remote_candidate(c.clone()),
            Err(IceError::InvalidCandidate)
        );
        c.priority = 1;
        c.component = 2;
        assert_eq!(a.add_remote_candidate(c.clone()), Ok(()));
        assert_eq!(a.stats().ignored_remote_candidates, 1);
        assert_eq!(
            a.add_local_host_address("0.0.0.0:1".parse().unwrap()),
            Err(IceError::InvalidCandidate)
        );
        assert_eq!(
            a.handle_receive(
                Instant::now(),
                Transport::Udp,
                "192.0.2.1:1".parse().unwrap(),
                "192.0.2.2:1".parse().unwrap(),
                &[0x80, 1, 2]
            ),
            Err(ReceiveError::NotStun)
        );
        // A STUN header whose length field promises a body that is not there: dropped,
        // counted, and the decode error kept as the source.
        let mut truncated = [0u8; 20];
        truncated[..4].copy_from_slice(&[0x00, 0x01, 0x00, 0x04]);
        truncated[4..8].copy_from_slice(&crate::stun::MAGIC_COOKIE.to_be_bytes());
        let malformed = a.stats().malformed;
        let err = a
            .handle_receive(
                Instant::now(),
                Transport::Udp,
                "192.0.2.1:1".parse().unwrap(),
                "192.0.2.2:1".parse().unwrap(),
                &truncated,
            )
            .unwrap_err();
        assert!(matches!(
            err,
            ReceiveError::Malformed(crate::stun::Error::LengthMismatch { .. })
        ));
        assert!(std::error::Error::source(&err).is_some());
        assert_eq!(a.stats().malformed, malformed + 1);
        a.end_of_remote_candidates();
        c.component = 1;
        assert_eq!(
            a.add_remote_candidate(c),
            Err(IceError::AfterEndOfCandidates)
        );
        a.close();
        assert_eq!(a.connection_state(), ConnectionState::Closed);
        assert_eq!(
            a.add_local_host_address("192.0.2.1:1".parse().unwrap()),
            Err(IceError::Closed)
        );
        assert!(a.poll_timeout().is_none());
    }
}
