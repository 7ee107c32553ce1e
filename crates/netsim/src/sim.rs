//! The simulator: virtual clock, event queue, routing through links and NATs.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::endpoint::DynEndpoint;
use crate::link::{Link, LinkDrop};
use crate::nat::{Nat, NatDrop};
use crate::pcap::{self, Captured};
use crate::{
    Datagram, Endpoint, EndpointId, Handle, LinkConfig, LinkStats, NatConfig, NatMapping, NatStats,
    Prefix,
};

/// Identity of a link added with [`Sim::add_link`]; [`Sim::DEFAULT_LINK`] is the link used
/// when no other matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(usize);

/// Identity of a NAT added with [`Sim::add_nat`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NatId(usize);

/// Why the simulator dropped a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The endpoint sent from an address it is not bound to.
    BadSource,
    /// Source and destination are of different IP families.
    FamilyMismatch,
    /// The destination is behind a NAT the datagram did not come through, so it cannot be
    /// reached (private addresses are not routed from outside).
    NoRoute,
    /// Nobody is bound to the destination address.
    NoEndpoint,
    /// A link dropped it.
    Link(LinkId, LinkDrop),
    /// A NAT dropped it.
    Nat(NatId, NatDrop),
    /// It went through more than [`MAX_NAT_HOPS`] NAT translations (a configuration loop).
    TooManyNats,
}

/// The most NAT translations one datagram may go through on each side of its link.
pub const MAX_NAT_HOPS: usize = 8;

/// One entry of the trace kept when [`Sim::enable_trace`] was called. Times are offsets from
/// the simulation's epoch, so traces of two runs compare equal when the runs behaved alike.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TraceEvent {
    /// Virtual time since the epoch.
    pub at: Duration,
    /// What happened.
    pub kind: TraceKind,
}

/// What a [`TraceEvent`] records.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TraceKind {
    /// An endpoint sent a datagram (addresses as the endpoint saw them).
    Sent {
        /// The sender.
        endpoint: EndpointId,
        /// Source address.
        from: SocketAddr,
        /// Destination address.
        to: SocketAddr,
        /// Payload length.
        len: usize,
        /// FNV-1a hash of the payload.
        digest: u64,
    },
    /// A datagram reached an endpoint (addresses as the receiver sees them).
    Delivered {
        /// The receiver.
        endpoint: EndpointId,
        /// Source address, after any NAT.
        from: SocketAddr,
        /// Local address it arrived on.
        to: SocketAddr,
        /// Payload length.
        len: usize,
        /// FNV-1a hash of the payload.
        digest: u64,
    },
    /// A datagram was dropped (addresses as they were where it was dropped).
    Dropped {
        /// Source address.
        from: SocketAddr,
        /// Destination address.
        to: SocketAddr,
        /// Payload length.
        len: usize,
        /// Why.
        reason: DropReason,
    },
    /// An endpoint's timer fired.
    Timeout {
        /// The endpoint.
        endpoint: EndpointId,
    },
}

/// Counters of the whole simulation (link and NAT counters are kept apart, see
/// [`Sim::link_stats`] and [`Sim::nat_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimStats {
    /// Events processed by [`Sim::step`].
    pub steps: u64,
    /// Datagrams endpoints sent (or were injected).
    pub sent: u64,
    /// Datagrams handed to endpoints.
    pub delivered: u64,
    /// Timer calls made to endpoints.
    pub timeouts: u64,
    /// Datagrams sent from an address the endpoint is not bound to.
    pub dropped_bad_source: u64,
    /// Datagrams from an IPv4 address to an IPv6 one or the other way round.
    pub dropped_family_mismatch: u64,
    /// Datagrams to a private address behind a NAT they did not come through.
    pub dropped_no_route: u64,
    /// Datagrams to an address nobody is bound to.
    pub dropped_no_endpoint: u64,
    /// Datagrams that looped through too many NATs.
    pub dropped_nat_loop: u64,
}

/// Why [`Sim::run_until_cond`] or [`Sim::run_until_idle`] stopped without success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunError {
    /// The virtual time limit was reached first.
    TimeLimit {
        /// Virtual time since the epoch when it stopped.
        elapsed: Duration,
    },
    /// Nothing was left to do (no datagram in flight, no timer) and the condition was false.
    Idle {
        /// Virtual time since the epoch when it stopped.
        elapsed: Duration,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::TimeLimit { elapsed } => {
                write!(f, "virtual time limit reached at {elapsed:?}")
            }
            RunError::Idle { elapsed } => {
                write!(
                    f,
                    "simulation went idle at {elapsed:?} before the condition held"
                )
            }
        }
    }
}

impl std::error::Error for RunError {}

struct Slot {
    endpoint: Box<dyn DynEndpoint>,
    addrs: Vec<SocketAddr>,
    /// `poll_timeout` as last read, as an offset from the epoch; mirrored in `Sim::timers`.
    timer: Option<Duration>,
}

struct LinkRule {
    from: Prefix,
    to: Prefix,
    link: Link,
}

/// A datagram on a link, addressed as on the wire between the NATs.
struct InFlight {
    link: usize,
    link_seq: u64,
    from: SocketAddr,
    to: SocketAddr,
    data: Vec<u8>,
}

struct Queued {
    at: Duration,
    seq: u64,
    packet: InFlight,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Stream numbers of the generators, so adding a NAT does not change a link's draws.
const NAT_STREAM_BASE: u64 = 1 << 32;

/// A deterministic simulated network.
///
/// # Time
/// The virtual clock is `epoch + offset`. The epoch is one `Instant::now()` taken when the
/// simulation is created (or one passed to [`Sim::with_epoch`]); nothing else reads a clock and
/// nothing ever sleeps. [`step`](Self::step) jumps the offset to the earliest pending event:
/// the arrival of a datagram in flight, or the earliest [`Endpoint::poll_timeout`]. Events at
/// the same instant run in a fixed order: arrivals first (in the order they were scheduled),
/// then timers (earliest deadline first, then lowest endpoint index).
///
/// Each step costs O(log n) in the number of endpoints and datagrams in flight: an endpoint's
/// `poll_timeout` is read again only after the simulator calls into it or lends it out through
/// [`endpoint_mut`](Self::endpoint_mut).
///
/// # Randomness
/// Every random draw comes from `ChaCha8Rng::seed_from_u64(seed)`, one stream per link and per
/// NAT, so the same seed and the same test give the same trace.
///
/// # Topology
/// Endpoints bind socket addresses ([`add_endpoint`](Self::add_endpoint)). A datagram goes
/// from the sender through the NATs in front of it ([`add_nat`](Self::add_nat)), over exactly
/// one one-way link chosen by its source and destination IP as seen between the NATs
/// ([`add_link`](Self::add_link); the most specific rule wins, the default link is ideal), then
/// through the NATs in front of the receiver.
///
/// # Panics
/// The configuration methods panic on misuse (binding an address twice, a handle of the wrong
/// type or of a removed endpoint), as assertions do in a test. Stepping panics when more than
/// the livelock limit of events happen at one virtual instant
/// ([`set_livelock_limit`](Self::set_livelock_limit)): that is an endpoint that never clears
/// its timer or never stops sending, and a panic is better than a test that hangs.
pub struct Sim {
    epoch: Instant,
    now: Duration,
    seed: u64,
    endpoints: Vec<Option<Slot>>,
    bindings: BTreeMap<SocketAddr, usize>,
    links: Vec<LinkRule>,
    nats: Vec<Nat>,
    queue: BinaryHeap<Reverse<Queued>>,
    /// Every endpoint's timer, earliest first.
    timers: BTreeSet<(Duration, usize)>,
    /// Endpoints touched since they were last drained (added, or lent out by `endpoint_mut`).
    dirty: BTreeSet<usize>,
    next_seq: u64,
    stats: SimStats,
    trace: Option<Vec<TraceEvent>>,
    capture: Option<Vec<Captured>>,
    livelock_limit: u64,
    same_instant: (Duration, u64),
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("elapsed", &self.now)
            .field("seed", &self.seed)
            .field("endpoints", &self.endpoints.iter().flatten().count())
            .field("links", &self.links.len())
            .field("nats", &self.nats.len())
            .field("in_flight", &self.queue.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn digest(data: &[u8]) -> u64 {
    // FNV-1a, 64 bits.
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl Sim {
    /// The link used when no link added with [`add_link`](Self::add_link) matches.
    pub const DEFAULT_LINK: LinkId = LinkId(0);

    /// A simulation seeded with `seed`, whose epoch is now (see "Time" above).
    pub fn new(seed: u64) -> Self {
        Self::with_epoch(seed, Instant::now())
    }

    /// A simulation seeded with `seed` whose virtual clock starts at `epoch`.
    pub fn with_epoch(seed: u64, epoch: Instant) -> Self {
        let mut sim = Sim {
            epoch,
            now: Duration::ZERO,
            seed,
            endpoints: Vec::new(),
            bindings: BTreeMap::new(),
            links: Vec::new(),
            nats: Vec::new(),
            queue: BinaryHeap::new(),
            timers: BTreeSet::new(),
            dirty: BTreeSet::new(),
            next_seq: 0,
            stats: SimStats::default(),
            trace: None,
            capture: None,
            livelock_limit: 1_000_000,
            same_instant: (Duration::ZERO, 0),
        };
        let rng = sim.rng(0);
        sim.links.push(LinkRule {
            from: Prefix::ANY,
            to: Prefix::ANY,
            link: Link::new(LinkConfig::ideal(), rng),
        });
        sim
    }

    fn rng(&self, stream: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream);
        rng
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The instant virtual time started from.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.epoch + self.now
    }

    /// Virtual time elapsed since the epoch.
    pub fn elapsed(&self) -> Duration {
        self.now
    }

    /// Simulation-wide counters.
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// Starts recording a [`TraceEvent`] for everything that happens from now on.
    pub fn enable_trace(&mut self) {
        self.trace.get_or_insert_with(Vec::new);
    }

    /// The trace recorded since [`enable_trace`](Self::enable_trace) (empty if it was not
    /// called).
    pub fn trace(&self) -> &[TraceEvent] {
        self.trace.as_deref().unwrap_or(&[])
    }

    /// Starts keeping a copy of every datagram endpoints send (and [`inject`](Self::inject)ed
    /// ones), as sent, before any NAT, loss or delay, for [`pcap`](Self::pcap).
    pub fn enable_capture(&mut self) {
        self.capture.get_or_insert_with(Vec::new);
    }

    /// The datagrams captured since [`enable_capture`](Self::enable_capture) as a pcap file
    /// (raw IP link type, nanosecond timestamps counted from the epoch, IP and UDP headers
    /// with valid checksums), for `tshark -r` or Wireshark. Datagrams too large for UDP are
    /// left out.
    pub fn pcap(&self) -> Vec<u8> {
        pcap::write(self.capture.as_deref().unwrap_or(&[]))
    }

    /// Sets how many events may happen at one virtual instant before stepping panics
    /// (default 1,000,000).
    pub fn set_livelock_limit(&mut self, limit: u64) {
        self.livelock_limit = limit;
    }

    fn record(&mut self, kind: TraceKind) {
        if let Some(t) = &mut self.trace {
            t.push(TraceEvent { at: self.now, kind });
        }
    }

    // ---- links ----------------------------------------------------------------------------

    /// Replaces the configuration of the default link, which carries every datagram no other
    /// link matches.
    pub fn set_default_link(&mut self, config: LinkConfig) {
        self.set_link_config(Self::DEFAULT_LINK, config);
    }

    /// Adds a one-way link for datagrams whose source IP is in `from` and destination IP is in
    /// `to` (as seen between the NATs: a NAT's public address stands for the hosts behind it).
    ///
    /// When several links match a datagram, the one with the largest sum of prefix lengths
    /// wins, and among equals the one added last.
    pub fn add_link(
        &mut self,
        from: impl Into<Prefix>,
        to: impl Into<Prefix>,
        config: LinkConfig,
    ) -> LinkId {
        let id = self.links.len();
        let rng = self.rng(id as u64);
        self.links.push(LinkRule {
            from: from.into(),
            to: to.into(),
            link: Link::new(config, rng),
        });
        LinkId(id)
    }

    /// Adds two one-way links with the same configuration, `a` to `b` and `b` to `a`; each has
    /// its own random stream, queue and counters.
    pub fn add_link_pair(
        &mut self,
        a: impl Into<Prefix>,
        b: impl Into<Prefix>,
        config: LinkConfig,
    ) -> (LinkId, LinkId) {
        let (a, b) = (a.into(), b.into());
        let ab = self.add_link(a, b, config.clone());
        let ba = self.add_link(b, a, config);
        (ab, ba)
    }

    /// Replaces a link's configuration, for datagrams sent from now on; datagrams in flight
    /// keep their arrival times.
    pub fn set_link_config(&mut self, link: LinkId, config: LinkConfig) {
        self.links[link.0].link.config = config;
    }

    /// A link's configuration.
    pub fn link_config(&self, link: LinkId) -> &LinkConfig {
        &self.links[link.0].link.config
    }

    /// A link's counters.
    pub fn link_stats(&self, link: LinkId) -> LinkStats {
        self.links[link.0].link.stats
    }

    fn select_link(&self, from: SocketAddr, to: SocketAddr) -> usize {
        let mut best = 0;
        let mut best_score = 0u16;
        for (i, rule) in self.links.iter().enumerate().skip(1) {
            if rule.from.contains(from.ip()) && rule.to.contains(to.ip()) {
                let score = u16::from(rule.from.specificity()) + u16::from(rule.to.specificity());
                if score >= best_score {
                    best = i;
                    best_score = score;
                }
            }
        }
        best
    }

    // ---- NATs -----------------------------------------------------------------------------

    /// Adds a NAT box.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use std::time::Duration;
    /// use ferrtc_netsim::endpoints::{Reflector, Socket};
    /// use ferrtc_netsim::{NatConfig, NatKind, Prefix, Sim};
    ///
    /// let mut sim = Sim::new(1);
    /// let inside: Prefix = "192.168.1.0/24".parse()?;
    /// sim.add_nat(NatConfig::new(NatKind::Symmetric, "203.0.113.1".parse()?, inside));
    /// let host: SocketAddr = "192.168.1.10:5000".parse()?;
    /// let stun: SocketAddr = "198.51.100.1:3478".parse()?;
    /// let h = sim.add_endpoint([host], Socket::new());
    /// sim.add_endpoint([stun], Reflector::new());
    ///
    /// sim.endpoint_mut(h).send(host, stun, b"binding request".to_vec());
    /// sim.run_until_idle(Duration::from_secs(1))?;
    /// let answer = &sim.endpoint(h).received[0];
    /// assert_eq!(answer.from, stun);
    /// assert_eq!(Reflector::parse_answer(&answer.data), Some("203.0.113.1:49152".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    /// If another NAT already owns the public address or an endpoint is bound to it.
    #[track_caller]
    pub fn add_nat(&mut self, config: NatConfig) -> NatId {
        assert!(
            self.nats
                .iter()
                .all(|n| n.config.public_ip != config.public_ip),
            "netsim: two NATs with public address {}",
            config.public_ip
        );
        assert!(
            self.bindings.keys().all(|a| a.ip() != config.public_ip),
            "netsim: an endpoint is bound to the NAT's public address {}",
            config.public_ip
        );
        let id = self.nats.len();
        let rng = self.rng(NAT_STREAM_BASE + id as u64);
        self.nats.push(Nat::new(config, rng));
        NatId(id)
    }

    /// A NAT's configuration.
    pub fn nat_config(&self, nat: NatId) -> &NatConfig {
        &self.nats[nat.0].config
    }

    /// A NAT's counters.
    pub fn nat_stats(&self, nat: NatId) -> NatStats {
        self.nats[nat.0].stats
    }

    /// A NAT's live mappings, ordered by public port.
    pub fn nat_mappings(&self, nat: NatId) -> Vec<NatMapping> {
        self.nats[nat.0].mappings(self.now)
    }

    // ---- endpoints ------------------------------------------------------------------------

    /// Adds an endpoint bound to `addrs` and returns its handle.
    ///
    /// # Panics
    /// If an address is already bound or belongs to a NAT.
    #[track_caller]
    pub fn add_endpoint<T: Endpoint>(
        &mut self,
        addrs: impl IntoIterator<Item = SocketAddr>,
        endpoint: T,
    ) -> Handle<T> {
        let index = self.endpoints.len();
        self.endpoints.push(Some(Slot {
            endpoint: Box::new(endpoint),
            addrs: Vec::new(),
            timer: None,
        }));
        self.dirty.insert(index);
        for addr in addrs {
            self.bind(EndpointId(index), addr);
        }
        Handle::new(EndpointId(index))
    }

    /// Binds one more address to an endpoint (a new interface, say).
    ///
    /// Port 0 binds every port of the IP address (a TURN server's relay addresses, say): the
    /// endpoint receives datagrams to any port that no other endpoint bound explicitly, and may
    /// send from any port of that address.
    ///
    /// # Panics
    /// If the address is already bound, belongs to a NAT or has an unspecified IP, or the
    /// endpoint was removed.
    #[track_caller]
    pub fn bind(&mut self, endpoint: EndpointId, addr: SocketAddr) {
        assert!(
            !self.bindings.contains_key(&addr),
            "netsim: address {addr} is already bound"
        );
        assert!(
            self.nats.iter().all(|n| n.config.public_ip != addr.ip()),
            "netsim: address {addr} belongs to a NAT"
        );
        assert!(
            !addr.ip().is_unspecified(),
            "netsim: cannot bind the unspecified address {addr}"
        );
        self.slot_mut(endpoint).addrs.push(addr);
        self.bindings.insert(addr, endpoint.0);
    }

    /// Unbinds an address (an interface going away); datagrams to it are dropped from now on.
    /// Returns the endpoint it was bound to.
    pub fn unbind(&mut self, addr: SocketAddr) -> Option<EndpointId> {
        let index = self.bindings.remove(&addr)?;
        if let Some(slot) = &mut self.endpoints[index] {
            slot.addrs.retain(|a| *a != addr);
        }
        Some(EndpointId(index))
    }

    /// The addresses an endpoint is bound to, in the order they were bound.
    pub fn addrs(&self, endpoint: EndpointId) -> &[SocketAddr] {
        self.endpoints
            .get(endpoint.0)
            .and_then(Option::as_ref)
            .map_or(&[], |s| &s.addrs)
    }

    #[track_caller]
    fn slot_mut(&mut self, endpoint: EndpointId) -> &mut Slot {
        match self.endpoints.get_mut(endpoint.0) {
            Some(Some(slot)) => slot,
            _ => panic!("netsim: endpoint {} does not exist", endpoint.0),
        }
    }

    /// The endpoint behind `handle`.
    ///
    /// # Panics
    /// If the endpoint was removed.
    #[track_caller]
    pub fn endpoint<T: Endpoint>(&self, handle: Handle<T>) -> &T {
        let slot = match self.endpoints.get(handle.id().0) {
            Some(Some(slot)) => slot,
            _ => panic!("netsim: endpoint {} does not exist", handle.id().0),
        };
        match slot.endpoint.as_any().downcast_ref::<T>() {
            Some(e) => e,
            None => panic!("netsim: endpoint {} has another type", handle.id().0),
        }
    }

    /// The endpoint behind `handle`, to issue commands; what it queues is sent at the current
    /// instant by the next step.
    ///
    /// # Panics
    /// If the endpoint was removed.
    #[track_caller]
    pub fn endpoint_mut<T: Endpoint>(&mut self, handle: Handle<T>) -> &mut T {
        self.dirty.insert(handle.id().0);
        let slot = self.slot_mut(handle.id());
        match slot.endpoint.as_any_mut().downcast_mut::<T>() {
            Some(e) => e,
            None => panic!("netsim: endpoint {} has another type", handle.id().0),
        }
    }

    /// Removes an endpoint and unbinds its addresses; datagrams to them are dropped from now
    /// on.
    ///
    /// # Panics
    /// If the endpoint was already removed.
    #[track_caller]
    pub fn remove_endpoint<T: Endpoint>(&mut self, handle: Handle<T>) -> T {
        let slot = match self.endpoints.get_mut(handle.id().0).and_then(Option::take) {
            Some(slot) => slot,
            None => panic!("netsim: endpoint {} does not exist", handle.id().0),
        };
        for a in &slot.addrs {
            self.bindings.remove(a);
        }
        if let Some(t) = slot.timer {
            self.timers.remove(&(t, handle.id().0));
        }
        self.dirty.remove(&handle.id().0);
        match slot.endpoint.into_any().downcast::<T>() {
            Ok(e) => *e,
            Err(_) => panic!("netsim: endpoint {} has another type", handle.id().0),
        }
    }

    // ---- sending --------------------------------------------------------------------------

    /// Sends a datagram from any address, as if an unseen host had sent it (spoofing allowed):
    /// it goes through NATs and links like any other.
    pub fn inject(&mut self, datagram: Datagram) {
        self.stats.sent += 1;
        self.capture(datagram.from, datagram.to, &datagram.data);
        self.route(datagram.from, datagram.to, datagram.data);
    }

    fn resolve_source(&self, index: usize, from: SocketAddr, to: SocketAddr) -> Option<SocketAddr> {
        let slot = self.endpoints[index].as_ref()?;
        if !from.ip().is_unspecified() {
            let bound =
                slot.addrs.contains(&from) || slot.addrs.contains(&SocketAddr::new(from.ip(), 0));
            return (bound && from.port() != 0).then_some(from);
        }
        slot.addrs.iter().find_map(|a| {
            if a.is_ipv4() != to.is_ipv4() {
                None
            } else if a.port() == 0 {
                // Every port of `a` is ours, but one must be named.
                (from.port() != 0).then(|| SocketAddr::new(a.ip(), from.port()))
            } else {
                (from.port() == 0 || a.port() == from.port()).then_some(*a)
            }
        })
    }

    fn send(&mut self, index: usize, datagram: Datagram) {
        self.stats.sent += 1;
        let Datagram { from, to, data } = datagram;
        let Some(from) = self.resolve_source(index, from, to) else {
            return self.drop_packet(from, to, data.len(), DropReason::BadSource);
        };
        self.record(TraceKind::Sent {
            endpoint: EndpointId(index),
            from,
            to,
            len: data.len(),
            digest: digest(&data),
        });
        self.capture(from, to, &data);
        self.route(from, to, data);
    }

    fn capture(&mut self, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        if let Some(c) = &mut self.capture {
            c.push(Captured {
                at: self.now,
                from,
                to,
                data: data.to_vec(),
            });
        }
    }

    fn drop_packet(&mut self, from: SocketAddr, to: SocketAddr, len: usize, reason: DropReason) {
        match reason {
            DropReason::BadSource => self.stats.dropped_bad_source += 1,
            DropReason::FamilyMismatch => self.stats.dropped_family_mismatch += 1,
            DropReason::NoRoute => self.stats.dropped_no_route += 1,
            DropReason::NoEndpoint => self.stats.dropped_no_endpoint += 1,
            DropReason::TooManyNats => self.stats.dropped_nat_loop += 1,
            // Counted by the link or the NAT.
            DropReason::Link(..) | DropReason::Nat(..) => {}
        }
        self.record(TraceKind::Dropped {
            from,
            to,
            len,
            reason,
        });
    }

    /// The NAT a datagram from `from` to `to` leaves through: the most specific one whose
    /// inside holds the source and not the destination.
    fn outbound_nat(&self, from: SocketAddr, to: SocketAddr) -> Option<usize> {
        self.nats
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                n.config.inside.contains(from.ip()) && !n.config.inside.contains(to.ip())
            })
            .max_by_key(|(i, n)| (n.config.inside.specificity(), Reverse(*i)))
            .map(|(i, _)| i)
    }

    fn route(&mut self, mut from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        if from.is_ipv4() != to.is_ipv4() {
            return self.drop_packet(from, to, data.len(), DropReason::FamilyMismatch);
        }
        let mut hops = 0;
        while let Some(n) = self.outbound_nat(from, to) {
            hops += 1;
            if hops > MAX_NAT_HOPS {
                return self.drop_packet(from, to, data.len(), DropReason::TooManyNats);
            }
            let now = self.now;
            let nat = &mut self.nats[n];
            match nat.outbound(now, from, to) {
                Ok(public) => from = public,
                Err(e) => {
                    return self.drop_packet(from, to, data.len(), DropReason::Nat(NatId(n), e));
                }
            }
            if to.ip() == nat.config.public_ip && !nat.config.hairpinning {
                nat.stats.dropped_hairpin += 1;
                let reason = DropReason::Nat(NatId(n), NatDrop::Hairpin);
                return self.drop_packet(from, to, data.len(), reason);
            }
        }
        if self
            .nats
            .iter()
            .any(|n| n.config.inside.contains(to.ip()) && !n.config.inside.contains(from.ip()))
        {
            return self.drop_packet(from, to, data.len(), DropReason::NoRoute);
        }
        let link = self.select_link(from, to);
        match self.links[link].link.admit(self.now, data.len()) {
            Err(e) => self.drop_packet(from, to, data.len(), DropReason::Link(LinkId(link), e)),
            Ok(admitted) => {
                if let Some(at) = admitted.duplicate {
                    let copy = InFlight {
                        link,
                        link_seq: admitted.seq,
                        from,
                        to,
                        data: data.clone(),
                    };
                    self.schedule(at, copy);
                }
                let packet = InFlight {
                    link,
                    link_seq: admitted.seq,
                    from,
                    to,
                    data,
                };
                self.schedule(admitted.arrival, packet);
            }
        }
    }

    fn schedule(&mut self, at: Duration, packet: InFlight) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push(Reverse(Queued { at, seq, packet }));
    }

    fn deliver(&mut self, packet: InFlight) {
        let InFlight {
            link,
            link_seq,
            from,
            mut to,
            data,
        } = packet;
        self.links[link].link.arrived(link_seq, data.len());
        let mut hops = 0;
        while let Some(n) = self.nats.iter().position(|n| n.config.public_ip == to.ip()) {
            hops += 1;
            if hops > MAX_NAT_HOPS {
                return self.drop_packet(from, to, data.len(), DropReason::TooManyNats);
            }
            match self.nats[n].inbound(self.now, from, to.port()) {
                Ok(inside) => to = inside,
                Err(e) => {
                    return self.drop_packet(from, to, data.len(), DropReason::Nat(NatId(n), e));
                }
            }
        }
        let bound = self
            .bindings
            .get(&to)
            .or_else(|| self.bindings.get(&SocketAddr::new(to.ip(), 0)));
        let Some(&index) = bound else {
            return self.drop_packet(from, to, data.len(), DropReason::NoEndpoint);
        };
        self.stats.delivered += 1;
        self.record(TraceKind::Delivered {
            endpoint: EndpointId(index),
            from,
            to,
            len: data.len(),
            digest: digest(&data),
        });
        let now = self.now();
        if let Some(slot) = &mut self.endpoints[index] {
            slot.endpoint.receive(now, from, to, &data);
        }
        self.flush_one(index);
    }

    fn count_same_instant(&mut self) {
        if self.same_instant.0 == self.now {
            self.same_instant.1 += 1;
        } else {
            self.same_instant = (self.now, 1);
        }
        assert!(
            self.same_instant.1 <= self.livelock_limit,
            "netsim: more than {} events at virtual time {:?}; an endpoint keeps asking for a \
             timeout it does not clear, or never stops sending",
            self.livelock_limit,
            self.now
        );
    }

    /// Drains an endpoint's transmits, then reads its timer again.
    fn flush_one(&mut self, index: usize) {
        let now = self.now();
        loop {
            let Some(slot) = &mut self.endpoints[index] else {
                return;
            };
            let Some(datagram) = slot.endpoint.poll_transmit(now) else {
                break;
            };
            self.count_same_instant();
            self.send(index, datagram);
        }
        let epoch = self.epoch;
        let Some(slot) = &mut self.endpoints[index] else {
            return;
        };
        let timer = slot
            .endpoint
            .poll_timeout()
            .map(|t| t.saturating_duration_since(epoch));
        if timer != slot.timer {
            if let Some(old) = slot.timer {
                self.timers.remove(&(old, index));
            }
            if let Some(new) = timer {
                self.timers.insert((new, index));
            }
            slot.timer = timer;
        }
    }

    fn flush_all(&mut self) {
        while let Some(index) = self.dirty.pop_first() {
            self.flush_one(index);
        }
    }

    // ---- driving --------------------------------------------------------------------------

    fn earliest_timer(&self) -> Option<(Duration, usize)> {
        self.timers.first().map(|&(t, i)| (t.max(self.now), i))
    }

    /// Sends what endpoints have queued, then returns when the next event is due, or `None`
    /// when nothing is in flight and no endpoint has a timer.
    pub fn next_event(&mut self) -> Option<Instant> {
        self.flush_all();
        let packet = self.queue.peek().map(|q| q.0.at);
        let timer = self.earliest_timer().map(|(t, _)| t);
        let next = match (packet, timer) {
            (Some(p), Some(t)) => p.min(t),
            (p, t) => p.or(t)?,
        };
        Some(self.epoch + next)
    }

    /// Processes the earliest event (one arrival or one timer), jumping the clock to it.
    /// Returns the time of the event, or `None` when there was nothing to do.
    pub fn step(&mut self) -> Option<Instant> {
        self.flush_all();
        let packet = self.queue.peek().map(|q| q.0.at);
        let timer = self.earliest_timer();
        let take_packet = match (packet, timer) {
            (None, None) => return None,
            (Some(p), Some((t, _))) => p <= t,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        self.stats.steps += 1;
        if take_packet {
            // peek() returned Some above, so the queue is not empty.
            let Reverse(q) = self.queue.pop()?;
            self.now = self.now.max(q.at);
            self.count_same_instant();
            self.deliver(q.packet);
        } else if let Some((at, index)) = timer {
            self.now = self.now.max(at);
            self.count_same_instant();
            self.stats.timeouts += 1;
            self.record(TraceKind::Timeout {
                endpoint: EndpointId(index),
            });
            let now = self.now();
            if let Some(slot) = &mut self.endpoints[index] {
                slot.endpoint.timeout(now);
            }
            self.flush_one(index);
        }
        Some(self.now())
    }

    /// Processes every event due at or before `deadline`, then sets the clock to `deadline`
    /// (if it is later than now).
    pub fn run_until(&mut self, deadline: Instant) {
        let deadline = deadline.saturating_duration_since(self.epoch);
        while self
            .next_event()
            .is_some_and(|t| t.saturating_duration_since(self.epoch) <= deadline)
        {
            self.step();
        }
        self.now = self.now.max(deadline);
    }

    /// Runs for `duration` of virtual time.
    pub fn run_for(&mut self, duration: Duration) {
        let deadline = self.now() + duration;
        self.run_until(deadline);
    }

    /// Steps until `cond` holds, for at most `limit` of virtual time from now. Returns the
    /// time at which `cond` held. `cond` is checked before every step.
    pub fn run_until_cond(
        &mut self,
        limit: Duration,
        mut cond: impl FnMut(&Sim) -> bool,
    ) -> Result<Instant, RunError> {
        let end = self.now + limit;
        loop {
            if cond(self) {
                return Ok(self.now());
            }
            match self.next_event() {
                None => return Err(RunError::Idle { elapsed: self.now }),
                Some(t) if t.saturating_duration_since(self.epoch) > end => {
                    self.now = end;
                    return Err(RunError::TimeLimit { elapsed: self.now });
                }
                Some(_) => {
                    self.step();
                }
            }
        }
    }

    /// Steps until nothing is in flight and no endpoint has a timer, for at most `limit` of
    /// virtual time. Returns the time it went idle.
    pub fn run_until_idle(&mut self, limit: Duration) -> Result<Instant, RunError> {
        let end = self.now + limit;
        loop {
            match self.next_event() {
                None => return Ok(self.now()),
                Some(t) if t.saturating_duration_since(self.epoch) > end => {
                    self.now = end;
                    return Err(RunError::TimeLimit { elapsed: self.now });
                }
                Some(_) => {
                    self.step();
                }
            }
        }
    }

    /// Datagrams currently in flight on links.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sink(Vec<(Duration, SocketAddr, Vec<u8>)>, Instant);

    impl Endpoint for Sink {
        fn receive(&mut self, now: Instant, from: SocketAddr, _to: SocketAddr, data: &[u8]) {
            self.0.push((now - self.1, from, data.to_vec()));
        }
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn digest_is_fnv1a() {
        // Published FNV-1a 64 test values.
        assert_eq!(digest(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(digest(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn most_specific_link_wins() {
        let mut sim = Sim::new(1);
        let wide = sim.add_link(
            "10.0.0.0/8".parse::<Prefix>().unwrap(),
            Prefix::ANY,
            LinkConfig::ideal(),
        );
        let narrow = sim.add_link(
            "10.1.0.0/16".parse::<Prefix>().unwrap(),
            "192.0.2.0/24".parse::<Prefix>().unwrap(),
            LinkConfig::ideal(),
        );
        let later_equal = sim.add_link(
            "10.0.0.0/8".parse::<Prefix>().unwrap(),
            Prefix::ANY_V4,
            LinkConfig::ideal(),
        );
        assert_eq!(
            sim.select_link(sa("10.1.2.3:1"), sa("192.0.2.9:1")),
            narrow.0
        );
        assert_eq!(
            sim.select_link(sa("10.2.2.3:1"), sa("192.0.2.9:1")),
            later_equal.0
        );
        assert_ne!(wide, later_equal);
        assert_eq!(sim.select_link(sa("11.0.0.1:1"), sa("192.0.2.9:1")), 0);
    }

    #[test]
    fn bad_source_and_no_endpoint_are_counted() {
        let mut sim = Sim::new(1);
        let epoch = sim.epoch();
        let a = sim.add_endpoint([sa("10.0.0.1:1000")], Sink(Vec::new(), epoch));
        sim.inject(Datagram::new(
            sa("10.0.0.9:1"),
            sa("10.0.0.2:1"),
            b"x".to_vec(),
        ));
        sim.send(
            a.id().0,
            Datagram::new(sa("10.0.0.5:1"), sa("10.0.0.1:1000"), b"x".to_vec()),
        );
        assert_eq!(sim.run_until_idle(Duration::from_secs(1)), Ok(epoch));
        assert_eq!(sim.stats().dropped_no_endpoint, 1);
        assert_eq!(sim.stats().dropped_bad_source, 1);
        assert_eq!(sim.stats().sent, 2);
        assert!(sim.endpoint(a).0.is_empty());
    }

    #[test]
    fn unspecified_source_picks_a_bound_address() {
        let mut sim = Sim::new(1);
        let epoch = sim.epoch();
        let a = sim.add_endpoint(
            [sa("10.0.0.1:1000"), sa("[fd00::1]:1000")],
            Sink(Vec::new(), epoch),
        );
        let b = sim.add_endpoint([sa("[fd00::2]:2000")], Sink(Vec::new(), epoch));
        sim.send(
            a.id().0,
            Datagram::any_source(sa("[fd00::2]:2000"), b"hi".to_vec()),
        );
        sim.run_until_idle(Duration::from_secs(1)).unwrap();
        assert_eq!(
            sim.endpoint(b).0,
            vec![(Duration::ZERO, sa("[fd00::1]:1000"), b"hi".to_vec())]
        );
    }

    #[test]
    #[should_panic(expected = "already bound")]
    fn double_bind_panics() {
        let mut sim = Sim::new(1);
        let epoch = sim.epoch();
        sim.add_endpoint([sa("10.0.0.1:1")], Sink(Vec::new(), epoch));
        sim.add_endpoint([sa("10.0.0.1:1")], Sink(Vec::new(), epoch));
    }

    struct Stuck(Instant);

    impl Endpoint for Stuck {
        fn receive(&mut self, _: Instant, _: SocketAddr, _: SocketAddr, _: &[u8]) {}
        fn poll_timeout(&self) -> Option<Instant> {
            // The epoch, soon in the past: a timer that is never cleared.
            Some(self.0)
        }
    }

    #[test]
    #[should_panic(expected = "events at virtual time")]
    fn livelock_panics_instead_of_hanging() {
        let mut sim = Sim::new(1);
        sim.set_livelock_limit(1000);
        let epoch = sim.epoch();
        sim.add_endpoint([sa("10.0.0.1:1")], Stuck(epoch));
        sim.run_for(Duration::from_secs(1));
    }
}
