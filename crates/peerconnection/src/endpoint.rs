//! Many peer connections behind one UDP port: an [`Endpoint`] owns [`PeerConnection`]s and
//! routes each arriving datagram to the one it belongs to (quinn-proto's `Endpoint`, str0m's
//! `accepts`).
//!
//! A connection's first datagram is a STUN Binding request whose USERNAME is
//! `<our ufrag>:<peer ufrag>` (RFC 8445 §7.2.2). The endpoint looks the first half up among
//! the local ICE ufrags of its connections, checks the request's MESSAGE-INTEGRITY with that
//! connection's password (RFC 8489 §9.1) and, only then, learns the sender's address. Later
//! datagrams from that address (DTLS, SRTP, more STUN) are routed by a hash lookup, without
//! parsing. A STUN response to a request a connection sent to an address not routed to it
//! (a STUN server asked for a server-reflexive candidate, a peer's candidate checked before
//! it checked us) goes to that connection by its transaction id (RFC 8489 §6.3): the
//! endpoint notes the id of each such request in a bounded table, without learning the
//! address (a STUN server answers many connections from one address).
//! Anything else from an unknown address is dropped and counted ([`EndpointError`]);
//! nothing changes.
//!
//! The learned-address table is bounded per connection and in total
//! ([`EndpointConfig`]). When a bound is reached, the address evicted is the oldest one that
//! has carried no datagram since the last sweep (a "second chance" clock): an address in use
//! survives a flood of new ones, an address nobody uses goes first. Since an address is only
//! learned from an authenticated request, a flood from random addresses with unknown or
//! guessed ufrags creates no state at all.
//!
//! A Binding request is routed by its ufrag even from a known address, so an address that
//! a NAT hands to another peer follows that peer's first authenticated check; one whose
//! ufrag places it nowhere (a consent check with credentials an ICE restart is replacing)
//! goes by address. Routes are keyed by the remote address alone: on one local port that is
//! the part of the 5-tuple that varies. What this does not stop: a peer holding valid
//! credentials for its own connection that spoofs another peer's source address can move
//! that address to itself until the other peer's next check (ICE consent, RFC 7675, every
//! few seconds) moves it back.
//!
//! The verbs are those of [`PeerConnection`], over every connection at once:
//! [`handle_receive`](Endpoint::handle_receive), [`handle_timeout`](Endpoint::handle_timeout)
//! (for each connection due), [`poll_transmit`](Endpoint::poll_transmit) (round-robin between
//! connections, one datagram each per turn), [`poll_event`](Endpoint::poll_event) (tagged with
//! the connection) and [`poll_timeout`](Endpoint::poll_timeout) (the earliest deadline of all,
//! kept in a sorted set, so asking costs no scan). Commands go to one connection through
//! [`get_mut`](Endpoint::get_mut), whose guard tells the endpoint when it is done, so the
//! routing (an ICE restart's new ufrag), the deadlines and the output queues stay current.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//!
//! use bytes::{Bytes, BytesMut};
//! use ferrtc_dtls::Certificate;
//! use ferrtc_peerconnection::endpoint::{Endpoint, EndpointConfig};
//! use ferrtc_peerconnection::{DataChannelInit, Description, Event, PeerConfig, PeerConnection};
//! use rand::SeedableRng;
//!
//! let rng = |seed| Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed));
//! let server_addr: SocketAddr = "192.0.2.1:3478".parse()?;
//! let client_addr: SocketAddr = "198.51.100.7:50000".parse()?;
//! let cert = Arc::new(Certificate::generate()?);
//! let mut now = Instant::now();
//!
//! // A client offers a data channel; the server answers with a connection of its own.
//! let mut client = PeerConnection::new(PeerConfig::new(cert.clone()), now, rng(1))?;
//! client.add_local_address(now, client_addr)?;
//! client.end_of_local_addresses(now);
//! let chat = client.create_data_channel(now, DataChannelInit::new("chat"))?;
//! let offer = client.create_offer()?;
//! client.set_local_description(now, &offer)?;
//! let offer = client.local_description().expect("just set"); // with its candidates
//!
//! let mut server = PeerConnection::new(PeerConfig::new(cert), now, rng(2))?;
//! server.add_local_address(now, server_addr)?;
//! server.end_of_local_addresses(now);
//! server.set_remote_description(now, &Description::offer(offer.sdp))?;
//! let answer = server.create_answer()?;
//! server.set_local_description(now, &answer)?;
//! let answer = server.local_description().expect("just set");
//! client.set_remote_description(now, &Description::answer(answer.sdp))?;
//!
//! // The server's side of the socket: every connection it answers goes in one endpoint.
//! let mut endpoint = Endpoint::new(EndpointConfig::default());
//! let handle = endpoint.insert(server);
//!
//! // The run loop, with the network as two in-memory hops.
//! let mut echoed = None;
//! for _ in 0..10_000 {
//!     while let Some(t) = client.poll_transmit() {
//!         let d = BytesMut::from(&t.contents[..]);
//!         // A datagram no connection claims is dropped and counted: never a panic.
//!         let _ = endpoint.handle_receive(now, server_addr, client_addr, d);
//!     }
//!     while let Some(t) = endpoint.poll_transmit() {
//!         let d = BytesMut::from(&t.contents[..]);
//!         let _ = client.handle_receive(now, client_addr, server_addr, d);
//!     }
//!     while let Some((h, event)) = endpoint.poll_event() {
//!         if let Event::DataChannelMessage { id, data, binary } = event {
//!             let mut pc = endpoint.get_mut(h).expect("a live connection");
//!             pc.send_data(now, id, data, binary)?; // echo
//!         }
//!     }
//!     while let Some(event) = client.poll_event() {
//!         match event {
//!             Event::DataChannelOpen(id) if id == chat => {
//!                 client.send_data(now, chat, Bytes::from_static(b"hello"), true)?;
//!             }
//!             Event::DataChannelMessage { data, .. } => echoed = Some(data),
//!             _ => {}
//!         }
//!     }
//!     if echoed.is_some() {
//!         break;
//!     }
//!     // Sleep until the earliest timer of the client and of every server connection.
//!     let next = [client.poll_timeout(), endpoint.poll_timeout()].into_iter().flatten().min();
//!     now = next.unwrap_or(now + Duration::from_millis(10)).max(now);
//!     client.handle_timeout(now);
//!     endpoint.handle_timeout(now);
//! }
//! assert_eq!(echoed.as_deref(), Some(&b"hello"[..]));
//! assert_eq!(endpoint.connection_by_address(client_addr), Some(handle));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::time::Instant;

use bytes::BytesMut;
use ferrtc_stun_ice::stun::{self, Class, IntegrityKey, Message, MessageType, Method};
use ferrtc_types::Transmit;

use crate::peer::{Event, PeerConnection};
use crate::transport::ReceiveError;

/// A connection of an [`Endpoint`]: stays the same from [`Endpoint::insert`] to
/// [`Endpoint::remove`], and never names another connection afterwards (a removed handle's
/// slot is reused with a new generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionHandle {
    index: u32,
    generation: u32,
}

impl ConnectionHandle {
    /// The slot index: small, dense, reused after [`Endpoint::remove`] (unlike the handle).
    #[must_use]
    pub fn index(self) -> usize {
        self.index as usize
    }
}

/// The bounds of an [`Endpoint`]'s routing tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointConfig {
    /// Learned remote addresses per connection (at least 1). A peer's checks come from each
    /// of its candidates: host addresses, server-reflexive, relayed; 16 leaves room for all
    /// of a multi-homed peer's.
    pub max_addresses_per_connection: usize,
    /// Learned remote addresses in total (at least 1).
    pub max_addresses: usize,
    /// STUN transactions remembered in total (at least 1): requests a connection sent to
    /// an address not routed to it (a STUN server, a peer candidate that has not checked
    /// us yet), so that the response, from that address, reaches it by its transaction id.
    pub max_transactions: usize,
}

impl Default for EndpointConfig {
    /// 16 addresses per connection, 65 536 in all; 16 384 transactions.
    fn default() -> EndpointConfig {
        EndpointConfig {
            max_addresses_per_connection: 16,
            max_addresses: 65_536,
            max_transactions: 16_384,
        }
    }
}

/// Why [`Endpoint::handle_receive`] dropped a datagram. Each is counted in
/// [`EndpointStats`]; none changes the endpoint or any connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// From an address no connection has learned, and neither a STUN Binding request nor
    /// the response to a request a connection sent there.
    #[error("datagram from unknown address {from}")]
    UnknownAddress {
        /// The sender.
        from: SocketAddr,
    },
    /// A STUN Binding request from an unknown address that does not parse.
    #[error("malformed STUN request from {from}")]
    MalformedStun {
        /// The sender.
        from: SocketAddr,
        /// What is wrong with it.
        #[source]
        source: stun::Error,
    },
    /// A Binding request from an unknown address without a USERNAME of the ICE form
    /// `<our ufrag>:<peer ufrag>` (RFC 8445 §7.2.2).
    #[error("STUN request from {from} without an ICE username")]
    NoUsername {
        /// The sender.
        from: SocketAddr,
    },
    /// A Binding request from an unknown address whose ufrag is no connection's.
    #[error("STUN request from {from} for an unknown ufrag")]
    UnknownUfrag {
        /// The sender.
        from: SocketAddr,
    },
    /// A Binding request from an unknown address whose ufrag is a connection's but whose
    /// MESSAGE-INTEGRITY does not check with its password (RFC 8489 §9.1.3).
    #[error("STUN request from {from} fails the integrity check")]
    Unauthenticated {
        /// The sender.
        from: SocketAddr,
    },
    /// Routed to `handle`, which dropped it (and counted it in its own statistics).
    #[error("connection {handle:?} dropped the datagram")]
    Rejected {
        /// The connection.
        handle: ConnectionHandle,
        /// Why.
        #[source]
        source: ReceiveError,
    },
}

/// The endpoint's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Datagrams routed by their sender's learned address.
    pub routed_by_address: u64,
    /// Binding requests routed by their ufrag.
    pub routed_by_ufrag: u64,
    /// STUN responses routed by the transaction id of a request a connection sent to an
    /// address not routed to it.
    pub routed_by_transaction: u64,
    /// Dropped: [`EndpointError::UnknownAddress`].
    pub unknown_address: u64,
    /// Dropped: [`EndpointError::MalformedStun`].
    pub malformed_stun: u64,
    /// Dropped: [`EndpointError::NoUsername`].
    pub no_username: u64,
    /// Dropped: [`EndpointError::UnknownUfrag`].
    pub unknown_ufrag: u64,
    /// Dropped: [`EndpointError::Unauthenticated`].
    pub unauthenticated: u64,
    /// Routed, then dropped by the connection: [`EndpointError::Rejected`].
    pub rejected: u64,
    /// Addresses learned (or moved from one connection to another).
    pub addresses_learned: u64,
    /// Addresses evicted to keep within [`EndpointConfig`].
    pub addresses_evicted: u64,
}

/// One ufrag a connection answers to, with the key of its password.
struct Credential {
    ufrag: String,
    pwd: String,
    key: IntegrityKey,
}

struct Conn {
    pc: PeerConnection,
    /// The negotiator's ufrag (what our descriptions carry) and, while an ICE restart is
    /// half applied, the transport's (what the agent checks now): one or two.
    credentials: Vec<Credential>,
    /// Learned addresses, oldest first.
    addresses: VecDeque<SocketAddr>,
    /// Our entry in [`Endpoint::deadlines`].
    deadline: Option<Instant>,
    in_transmit_queue: bool,
    in_event_queue: bool,
}

struct Slot {
    generation: u32,
    conn: Option<Conn>,
}

#[derive(Debug, Clone, Copy)]
struct Route {
    handle: ConnectionHandle,
    /// Carried a datagram since the last eviction sweep passed it.
    used: bool,
    /// When it was learned, to tell its entry in the global order from stale ones.
    seq: u64,
}

/// Many [`PeerConnection`]s behind one UDP port. See the module docs.
///
/// The methods come in four groups, as on [`PeerConnection`]: getters; `handle_*` (inputs);
/// [`insert`](Endpoint::insert), [`remove`](Endpoint::remove) and
/// [`get_mut`](Endpoint::get_mut) (mutators); `poll_*` (outputs). After any input or
/// command, drain [`poll_transmit`](Endpoint::poll_transmit) until `None`, then
/// [`poll_event`](Endpoint::poll_event) until `None`, then call
/// [`handle_timeout`](Endpoint::handle_timeout) at [`poll_timeout`](Endpoint::poll_timeout).
pub struct Endpoint {
    config: EndpointConfig,
    slots: Vec<Slot>,
    free: Vec<u32>,
    len: usize,
    by_ufrag: HashMap<String, Vec<ConnectionHandle>>,
    by_address: HashMap<SocketAddr, Route>,
    /// Every learned address in learning order, for the total bound's sweep. Entries whose
    /// `seq` no longer matches the route are stale and skipped; compacted when they pile up.
    order: VecDeque<(SocketAddr, u64)>,
    next_seq: u64,
    deadlines: BTreeSet<(Instant, ConnectionHandle)>,
    transmit_queue: VecDeque<ConnectionHandle>,
    event_queue: VecDeque<ConnectionHandle>,
    due: Vec<ConnectionHandle>,
    /// STUN requests sent to addresses not routed to their connection, by transaction id,
    /// with a sequence number; `transaction_order` holds them oldest first (entries whose
    /// number no longer matches are stale, compacted as in `order`).
    transactions: HashMap<[u8; 12], (ConnectionHandle, u64)>,
    transaction_order: VecDeque<([u8; 12], u64)>,
    stats: EndpointStats,
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("connections", &self.len)
            .field("ufrags", &self.by_ufrag.len())
            .field("addresses", &self.by_address.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Default for Endpoint {
    fn default() -> Endpoint {
        Endpoint::new(EndpointConfig::default())
    }
}

/// A connection borrowed from an [`Endpoint`] for commands. When it is dropped, the
/// endpoint reads back what the commands changed: the ufrags it routes by (after an ICE
/// restart), the connection's deadline, and whether it has datagrams or events to give.
/// (As with `std`'s `PeekMut`, leaking the guard skips that.)
pub struct ConnectionMut<'a> {
    endpoint: &'a mut Endpoint,
    handle: ConnectionHandle,
}

impl ConnectionMut<'_> {
    /// The connection's handle.
    #[must_use]
    pub fn handle(&self) -> ConnectionHandle {
        self.handle
    }
}

impl Deref for ConnectionMut<'_> {
    type Target = PeerConnection;

    fn deref(&self) -> &PeerConnection {
        // The guard was made for a live handle and borrows the endpoint mutably, so nothing
        // can remove the connection while it lives.
        &self
            .endpoint
            .conn(self.handle)
            .expect("guarded connection")
            .pc
    }
}

impl DerefMut for ConnectionMut<'_> {
    fn deref_mut(&mut self) -> &mut PeerConnection {
        // As in `deref`.
        &mut self
            .endpoint
            .conn_mut(self.handle)
            .expect("guarded connection")
            .pc
    }
}

impl Drop for ConnectionMut<'_> {
    fn drop(&mut self) {
        self.endpoint.touched(self.handle);
    }
}

impl Endpoint {
    /// An endpoint with no connections. Bounds below 1 are raised to 1.
    #[must_use]
    pub fn new(config: EndpointConfig) -> Endpoint {
        Endpoint {
            config: EndpointConfig {
                max_addresses_per_connection: config.max_addresses_per_connection.max(1),
                max_addresses: config.max_addresses.max(1),
                max_transactions: config.max_transactions.max(1),
            },
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            by_ufrag: HashMap::new(),
            by_address: HashMap::new(),
            order: VecDeque::new(),
            next_seq: 0,
            deadlines: BTreeSet::new(),
            transmit_queue: VecDeque::new(),
            event_queue: VecDeque::new(),
            due: Vec::new(),
            transactions: HashMap::new(),
            transaction_order: VecDeque::new(),
            stats: EndpointStats::default(),
        }
    }

    // ----- getters -----

    /// The bounds in force.
    #[must_use]
    pub fn config(&self) -> EndpointConfig {
        self.config
    }

    /// How many connections there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A connection.
    #[must_use]
    pub fn get(&self, handle: ConnectionHandle) -> Option<&PeerConnection> {
        self.conn(handle).map(|c| &c.pc)
    }

    /// Every connection, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (ConnectionHandle, &PeerConnection)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.conn.as_ref().map(|c| {
                let handle = ConnectionHandle {
                    index: i as u32,
                    generation: s.generation,
                };
                (handle, &c.pc)
            })
        })
    }

    /// The connection that datagrams from `from` go to, if that address was learned.
    #[must_use]
    pub fn connection_by_address(&self, from: SocketAddr) -> Option<ConnectionHandle> {
        self.by_address.get(&from).map(|r| r.handle)
    }

    /// The connection whose local ICE ufrag is `ufrag` (the first, should two share it).
    #[must_use]
    pub fn connection_by_ufrag(&self, ufrag: &str) -> Option<ConnectionHandle> {
        self.by_ufrag.get(ufrag).and_then(|v| v.first().copied())
    }

    /// The addresses learned for a connection, oldest first.
    pub fn addresses(&self, handle: ConnectionHandle) -> impl Iterator<Item = SocketAddr> + '_ {
        self.conn(handle)
            .into_iter()
            .flat_map(|c| c.addresses.iter().copied())
    }

    /// Learned addresses in total.
    #[must_use]
    pub fn address_count(&self) -> usize {
        self.by_address.len()
    }

    /// Distinct ufrags routed (one per connection, two during an ICE restart).
    #[must_use]
    pub fn ufrag_count(&self) -> usize {
        self.by_ufrag.len()
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> EndpointStats {
        self.stats
    }

    // ----- mutators -----

    /// Adds a connection (already configured, before or after its offer/answer) and routes
    /// Binding requests for its local ufrag to it.
    pub fn insert(&mut self, pc: PeerConnection) -> ConnectionHandle {
        let conn = Conn {
            pc,
            credentials: Vec::new(),
            addresses: VecDeque::new(),
            deadline: None,
            in_transmit_queue: false,
            in_event_queue: false,
        };
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize].conn = Some(conn);
                i
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    conn: Some(conn),
                });
                // More than 2^32 slots cannot be allocated in practice; saturate rather
                // than wrap if it were.
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.len += 1;
        let handle = ConnectionHandle {
            index,
            generation: self.slots[index as usize].generation,
        };
        self.touched(handle);
        handle
    }

    /// Takes a connection out, with its routes (ufrags, learned addresses) and deadline.
    pub fn remove(&mut self, handle: ConnectionHandle) -> Option<PeerConnection> {
        self.conn(handle)?;
        let slot = &mut self.slots[handle.index as usize];
        // Checked just above.
        let conn = slot.conn.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(handle.index);
        self.len -= 1;
        for c in &conn.credentials {
            self.unroute_ufrag(&c.ufrag, handle);
        }
        for a in &conn.addresses {
            if self.by_address.get(a).is_some_and(|r| r.handle == handle) {
                self.by_address.remove(a);
            }
        }
        if let Some(d) = conn.deadline {
            self.deadlines.remove(&(d, handle));
        }
        self.transactions.retain(|_, e| e.0 != handle);
        self.compact_order();
        Some(conn.pc)
    }

    /// A connection, for commands. See [`ConnectionMut`].
    pub fn get_mut(&mut self, handle: ConnectionHandle) -> Option<ConnectionMut<'_>> {
        self.conn(handle)?;
        Some(ConnectionMut {
            endpoint: self,
            handle,
        })
    }

    // ----- verbs -----

    /// Routes a datagram that arrived on our address `local` from `from` to its connection,
    /// which handles it. Returns the connection it went to.
    ///
    /// # Errors
    /// The datagram was dropped and counted ([`EndpointError`]); nothing changed, except
    /// with [`EndpointError::Rejected`], where the connection counted it too.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        datagram: BytesMut,
    ) -> Result<ConnectionHandle, EndpointError> {
        let handle = match self.route(from, &datagram) {
            Ok(h) => h,
            Err(e) => {
                let s = &mut self.stats;
                match e {
                    EndpointError::UnknownAddress { .. } => s.unknown_address += 1,
                    EndpointError::MalformedStun { .. } => s.malformed_stun += 1,
                    EndpointError::NoUsername { .. } => s.no_username += 1,
                    EndpointError::UnknownUfrag { .. } => s.unknown_ufrag += 1,
                    EndpointError::Unauthenticated { .. } => s.unauthenticated += 1,
                    EndpointError::Rejected { .. } => s.rejected += 1,
                }
                return Err(e);
            }
        };
        let Some(conn) = self.conn_mut(handle) else {
            // Routes are removed with their connection, so a route always names a live
            // one; were it not so, the datagram is simply not ours.
            self.stats.unknown_address += 1;
            return Err(EndpointError::UnknownAddress { from });
        };
        let r = conn.pc.handle_receive(now, local, from, datagram);
        self.touched(handle);
        r.map(|()| handle).map_err(|source| {
            self.stats.rejected += 1;
            EndpointError::Rejected { handle, source }
        })
    }

    /// Runs the timers of every connection whose deadline is `now` or earlier.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due = std::mem::take(&mut self.due);
        while let Some(&(t, h)) = self.deadlines.first() {
            if t > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(c) = self.conn_mut(h) {
                c.deadline = None;
            }
            due.push(h);
        }
        for h in due.drain(..) {
            if let Some(c) = self.conn_mut(h) {
                c.pc.handle_timeout(now);
                self.touched(h);
            }
        }
        self.due = due;
    }

    /// The next datagram to send, taking one from each connection with something to send
    /// in turn.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        while let Some(h) = self.transmit_queue.pop_front() {
            let Some(c) = self.conn_mut(h) else {
                continue; // removed since it was queued
            };
            match c.pc.poll_transmit() {
                Some(t) => {
                    self.transmit_queue.push_back(h);
                    self.refresh_deadline(h);
                    self.remember_transaction(h, &t);
                    return Some(t);
                }
                None => c.in_transmit_queue = false,
            }
        }
        None
    }

    /// The next event, with the connection it comes from, taking one from each connection
    /// with events in turn.
    pub fn poll_event(&mut self) -> Option<(ConnectionHandle, Event)> {
        while let Some(h) = self.event_queue.pop_front() {
            let Some(c) = self.conn_mut(h) else {
                continue; // removed since it was queued
            };
            match c.pc.poll_event() {
                Some(e) => {
                    self.event_queue.push_back(h);
                    return Some((h, e));
                }
                None => c.in_event_queue = false,
            }
        }
        None
    }

    /// The earliest deadline of all connections.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(t, _)| *t)
    }

    // ----- routing -----

    fn route(
        &mut self,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Result<ConnectionHandle, EndpointError> {
        if !is_binding_request(datagram) {
            // The response to a request noted below goes to the connection that sent it,
            // even from an address routed elsewhere (two connections checking one peer).
            if !self.transactions.is_empty() {
                if let Some(h) = self.route_by_transaction(datagram) {
                    return Ok(h);
                }
            }
            // The hot path: DTLS, SRTP, STUN responses; one lookup, no parsing.
            let Some(route) = self.by_address.get_mut(&from) else {
                return Err(EndpointError::UnknownAddress { from });
            };
            route.used = true;
            self.stats.routed_by_address += 1;
            return Ok(route.handle);
        }
        // A Binding request names its connection: route by that, so that an address that
        // moved to another connection (a NAT reusing a port) follows it.
        let known = self.by_address.get(&from).map(|r| r.handle);
        match self.route_by_ufrag(from, datagram, known) {
            Ok(h) => {
                self.stats.routed_by_ufrag += 1;
                Ok(h)
            }
            // From a known address, a request the ufrag does not place (a consent check
            // with credentials an ICE restart is replacing) goes by address.
            Err(_) if known.is_some() => {
                self.stats.routed_by_address += 1;
                self.by_address.get_mut(&from).map_or_else(
                    || Err(EndpointError::UnknownAddress { from }),
                    |r| {
                        r.used = true;
                        Ok(r.handle)
                    },
                )
            }
            Err(e) => Err(e),
        }
    }

    fn route_by_ufrag(
        &mut self,
        from: SocketAddr,
        datagram: &[u8],
        known: Option<ConnectionHandle>,
    ) -> Result<ConnectionHandle, EndpointError> {
        let msg = Message::new_checked(datagram)
            .map_err(|source| EndpointError::MalformedStun { from, source })?;
        // RFC 8445 §7.2.2: USERNAME is "RFRAG:LFRAG", the receiver's ufrag first.
        let ours = msg
            .username()
            .and_then(|u| u.split_once(':'))
            .map(|(ours, _)| ours)
            .ok_or(EndpointError::NoUsername { from })?;
        let handles = self
            .by_ufrag
            .get(ours)
            .ok_or(EndpointError::UnknownUfrag { from })?;
        if let Some(k) = known.filter(|k| handles.contains(k)) {
            // The address is already this connection's: its agent checks the integrity.
            if let Some(r) = self.by_address.get_mut(&from) {
                r.used = true;
            }
            return Ok(k);
        }
        let owner = handles.iter().copied().find(|&h| {
            self.conn(h).is_some_and(|c| {
                c.credentials
                    .iter()
                    .any(|cr| cr.ufrag == ours && msg.check_integrity(&cr.key).is_ok())
            })
        });
        let owner = owner.ok_or(EndpointError::Unauthenticated { from })?;
        self.learn(from, owner);
        Ok(owner)
    }

    /// A STUN response goes to the connection that sent the request (RFC 8489 §6.3: the
    /// transaction id matches them); the address is not learned, as a STUN server answers
    /// many connections from one address.
    fn route_by_transaction(&mut self, datagram: &[u8]) -> Option<ConnectionHandle> {
        let txid = stun_transaction(datagram, |class| {
            matches!(class, Class::SuccessResponse | Class::ErrorResponse)
        })?;
        let (handle, _) = self.transactions.remove(&txid)?;
        self.conn(handle)?;
        self.stats.routed_by_transaction += 1;
        Some(handle)
    }

    /// Remembers a STUN request `h` sends to an address not routed to it, until its
    /// response arrives or the bound pushes it out (oldest first). A retransmission keeps
    /// its place.
    fn remember_transaction(&mut self, h: ConnectionHandle, t: &Transmit) {
        if t.segment_size.is_some()
            || self
                .by_address
                .get(&t.destination)
                .is_some_and(|r| r.handle == h)
        {
            return;
        }
        let Some(txid) = stun_transaction(&t.contents, |class| class == Class::Request) else {
            return;
        };
        if self.transactions.get(&txid).is_some_and(|e| e.0 == h) {
            return;
        }
        while self.transactions.len() >= self.config.max_transactions {
            let Some((old, seq)) = self.transaction_order.pop_front() else {
                break;
            };
            if self.transactions.get(&old).is_some_and(|e| e.1 == seq) {
                self.transactions.remove(&old);
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.transactions.insert(txid, (h, seq));
        self.transaction_order.push_back((txid, seq));
        if self.transaction_order.len() > 2 * self.transactions.len() + 64 {
            let live = &self.transactions;
            self.transaction_order
                .retain(|(id, seq)| live.get(id).is_some_and(|e| e.1 == *seq));
        }
    }

    /// Routes `from` to `handle`, evicting within the bounds.
    fn learn(&mut self, from: SocketAddr, handle: ConnectionHandle) {
        if let Some(old) = self.by_address.remove(&from) {
            if let Some(c) = self.conn_mut(old.handle) {
                c.addresses.retain(|a| *a != from);
            }
        }
        let per_conn = self.config.max_addresses_per_connection;
        while self
            .conn(handle)
            .is_some_and(|c| c.addresses.len() >= per_conn)
        {
            if !self.evict_from(handle) {
                break;
            }
        }
        while self.by_address.len() >= self.config.max_addresses {
            if !self.evict_oldest() {
                break;
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_address.insert(
            from,
            Route {
                handle,
                used: false,
                seq,
            },
        );
        if let Some(c) = self.conn_mut(handle) {
            c.addresses.push_back(from);
        }
        self.order.push_back((from, seq));
        self.stats.addresses_learned += 1;
        self.compact_order();
    }

    /// Evicts one of `handle`'s addresses: the oldest not used since the sweep last passed.
    /// False when its list shrank without an eviction (or there is no such connection).
    fn evict_from(&mut self, handle: ConnectionHandle) -> bool {
        let Some(slot) = self.slots.get_mut(handle.index as usize) else {
            return false;
        };
        let Some(c) = slot
            .conn
            .as_mut()
            .filter(|_| slot.generation == handle.generation)
        else {
            return false;
        };
        // Two passes at most: the first clears every `used` flag it passes.
        for _ in 0..2 * c.addresses.len() {
            let Some(a) = c.addresses.pop_front() else {
                return false;
            };
            match self.by_address.get_mut(&a) {
                Some(r) if r.handle == handle && r.used => {
                    r.used = false;
                    c.addresses.push_back(a);
                }
                Some(r) if r.handle == handle => {
                    self.by_address.remove(&a);
                    self.stats.addresses_evicted += 1;
                    return true;
                }
                _ => return false, // not routed to it any more: drop the stale entry
            }
        }
        false
    }

    /// Evicts the oldest learned address not used since the sweep last passed; false when
    /// there is none.
    fn evict_oldest(&mut self) -> bool {
        // Each live entry is requeued at most once (its flag is cleared when it is), so
        // this ends within two passes.
        while let Some((a, seq)) = self.order.pop_front() {
            let Some(r) = self.by_address.get_mut(&a) else {
                continue;
            };
            if r.seq != seq {
                continue;
            }
            if r.used {
                r.used = false;
                self.order.push_back((a, seq));
                continue;
            }
            let handle = r.handle;
            self.by_address.remove(&a);
            if let Some(c) = self.conn_mut(handle) {
                c.addresses.retain(|x| *x != a);
            }
            self.stats.addresses_evicted += 1;
            return true;
        }
        false
    }

    /// Drops stale entries from the global order once they outnumber the live ones.
    fn compact_order(&mut self) {
        if self.order.len() > 2 * self.by_address.len() + 64 {
            let routes = &self.by_address;
            self.order
                .retain(|(a, seq)| routes.get(a).is_some_and(|r| r.seq == *seq));
        }
    }

    // ----- bookkeeping -----

    fn conn(&self, h: ConnectionHandle) -> Option<&Conn> {
        let s = self.slots.get(h.index as usize)?;
        if s.generation != h.generation {
            return None;
        }
        s.conn.as_ref()
    }

    fn conn_mut(&mut self, h: ConnectionHandle) -> Option<&mut Conn> {
        let s = self.slots.get_mut(h.index as usize)?;
        if s.generation != h.generation {
            return None;
        }
        s.conn.as_mut()
    }

    /// After anything reached a connection: its ufrags, its deadline, its output queues.
    fn touched(&mut self, h: ConnectionHandle) {
        self.sync_credentials(h);
        self.refresh_deadline(h);
        let Some(c) = self.conn_mut(h) else {
            return;
        };
        let (t, e) = (!c.in_transmit_queue, !c.in_event_queue);
        c.in_transmit_queue = true;
        c.in_event_queue = true;
        if t {
            self.transmit_queue.push_back(h);
        }
        if e {
            self.event_queue.push_back(h);
        }
    }

    fn refresh_deadline(&mut self, h: ConnectionHandle) {
        let Some(c) = self.conn_mut(h) else {
            return;
        };
        let next = c.pc.poll_timeout();
        if next == c.deadline {
            return;
        }
        let old = std::mem::replace(&mut c.deadline, next);
        if let Some(t) = old {
            self.deadlines.remove(&(t, h));
        }
        if let Some(t) = next {
            self.deadlines.insert((t, h));
        }
    }

    /// Keeps the ufrag routes equal to the connection's current local credentials.
    fn sync_credentials(&mut self, h: ConnectionHandle) {
        let Some(c) = self.conn(h) else {
            return;
        };
        let negotiated = c.pc.negotiator().local_ice_credentials();
        let applied = c.pc.transport().local_credentials();
        let want: [(&str, &str); 2] = [
            (&negotiated.ufrag, &negotiated.pwd),
            (&applied.ufrag, &applied.pwd),
        ];
        let wanted = if want[0].0 == want[1].0 {
            &want[..1]
        } else {
            &want[..]
        };
        let same = c.credentials.len() == wanted.len()
            && c.credentials
                .iter()
                .zip(wanted)
                .all(|(have, (u, p))| have.ufrag == *u && have.pwd == *p);
        if same {
            return;
        }
        let fresh: Vec<Credential> = wanted
            .iter()
            .map(|(u, p)| Credential {
                ufrag: (*u).to_owned(),
                pwd: (*p).to_owned(),
                key: IntegrityKey::short_term(p),
            })
            .collect();
        let Some(c) = self.conn_mut(h) else {
            return;
        };
        let old = std::mem::replace(&mut c.credentials, fresh);
        for cr in &old {
            self.unroute_ufrag(&cr.ufrag, h);
        }
        let ufrags: Vec<String> = self
            .conn(h)
            .map(|c| c.credentials.iter().map(|cr| cr.ufrag.clone()).collect())
            .unwrap_or_default();
        for u in ufrags {
            let v = self.by_ufrag.entry(u).or_default();
            if !v.contains(&h) {
                v.push(h);
            }
        }
    }

    fn unroute_ufrag(&mut self, ufrag: &str, h: ConnectionHandle) {
        if let Some(v) = self.by_ufrag.get_mut(ufrag) {
            v.retain(|x| *x != h);
            if v.is_empty() {
                self.by_ufrag.remove(ufrag);
            }
        }
    }
}

/// The transaction id of a STUN message of a class `wanted` accepts, by the header alone
/// (RFC 8489 §5: two zero bits, the magic cookie, a length that fits).
fn stun_transaction(datagram: &[u8], wanted: impl Fn(Class) -> bool) -> Option<[u8; 12]> {
    let header = datagram.get(..stun::HEADER_LEN)?;
    if header[0] & 0xc0 != 0 || header[4..8] != stun::MAGIC_COOKIE.to_be_bytes() {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if length != datagram.len() - stun::HEADER_LEN {
        return None;
    }
    let kind = MessageType::from_u16(u16::from_be_bytes([header[0], header[1]]));
    if !wanted(kind.class) {
        return None;
    }
    let mut txid = [0; 12];
    txid.copy_from_slice(&header[8..20]);
    Some(txid)
}

/// A STUN Binding request, by its first two bytes and the header length (RFC 8489 §5):
/// the one kind of datagram worth parsing from an unknown address.
fn is_binding_request(datagram: &[u8]) -> bool {
    let binding = MessageType::new(Class::Request, Method::BINDING).to_u16();
    datagram.len() >= stun::HEADER_LEN && datagram[..2] == binding.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use ferrtc_stun_ice::stun::{Attribute, MessageBuilder, TransactionId};
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::peer::PeerConfig;

    /// Every table agrees with every other, and with the connections.
    fn check(ep: &Endpoint) {
        let cfg = ep.config;
        assert!(ep.by_address.len() <= cfg.max_addresses);
        let mut live = 0;
        for (h, _) in ep.iter() {
            live += 1;
            let c = ep.conn(h).unwrap();
            assert!(c.addresses.len() <= cfg.max_addresses_per_connection);
            for a in &c.addresses {
                assert_eq!(
                    ep.by_address[a].handle, h,
                    "{a} listed but routed elsewhere"
                );
            }
            assert_eq!(c.deadline, c.pc.poll_timeout());
            if let Some(t) = c.deadline {
                assert!(ep.deadlines.contains(&(t, h)));
            }
            let ufrag = &c.pc.negotiator().local_ice_credentials().ufrag;
            assert!(ep.by_ufrag[ufrag].contains(&h));
            for cr in &c.credentials {
                assert!(ep.by_ufrag[&cr.ufrag].contains(&h));
            }
        }
        assert_eq!(live, ep.len);
        assert_eq!(
            ep.deadlines.len(),
            ep.iter()
                .filter(|(h, _)| ep.conn(*h).unwrap().deadline.is_some())
                .count()
        );
        for (a, r) in &ep.by_address {
            let c = ep.conn(r.handle).expect("a route names a live connection");
            assert!(c.addresses.contains(a));
            let in_order = ep
                .order
                .iter()
                .filter(|(x, s)| x == a && *s == r.seq)
                .count();
            assert_eq!(in_order, 1, "{a} once in the global order");
        }
        assert!(ep.order.len() <= 2 * ep.by_address.len() + 65);
        assert!(ep.transactions.len() <= cfg.max_transactions);
        assert!(ep.transaction_order.len() <= 2 * ep.transactions.len() + 65);
        for (id, (h, seq)) in &ep.transactions {
            assert!(
                ep.conn(*h).is_some(),
                "a transaction names a live connection"
            );
            let n = ep
                .transaction_order
                .iter()
                .filter(|e| e.0 == *id && e.1 == *seq)
                .count();
            assert_eq!(n, 1, "a transaction once in its order");
        }
        for v in ep.by_ufrag.values() {
            assert!(!v.is_empty());
            for h in v {
                assert!(ep.conn(*h).is_some(), "a ufrag names a live connection");
            }
        }
    }

    fn request(ufrag: &str, pwd: &str, r: &mut impl Rng) -> BytesMut {
        let mut out = Vec::new();
        let mut b = MessageBuilder::new(
            &mut out,
            MessageType::new(Class::Request, Method::BINDING),
            TransactionId(r.random()),
        );
        b.add(&Attribute::Username(&format!("{ufrag}:peer")))
            .unwrap()
            .add_message_integrity(&IntegrityKey::short_term(pwd))
            .unwrap()
            .add_fingerprint()
            .unwrap();
        BytesMut::from(b.finish())
    }

    #[test]
    fn tables_stay_consistent_under_random_operations() {
        let start = Instant::now();
        let cert = Arc::new(ferrtc_dtls::Certificate::generate().unwrap());
        let mut r = rand_chacha::ChaCha20Rng::seed_from_u64(11);
        let mut ep = Endpoint::new(EndpointConfig {
            max_addresses_per_connection: 3,
            max_addresses: 10,
            max_transactions: 5,
        });
        let local: SocketAddr = "192.0.2.1:3478".parse().unwrap();
        let pool: Vec<SocketAddr> = (0..24)
            .map(|i| SocketAddr::from(([10, 0, 0, i], 5000)))
            .collect();
        let mut live: Vec<(ConnectionHandle, String, String)> = Vec::new();
        let mut most_deadlines = 0;
        let mut sent: Vec<([u8; 12], SocketAddr)> = Vec::new();
        for step in 0..3000u64 {
            let now = start + Duration::from_millis(step * 10);
            match r.random_range(0..10) {
                0 | 1 if live.len() < 8 => {
                    let rng = Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(step));
                    let mut cfg = PeerConfig::new(cert.clone());
                    // A STUN server at an address of the pool: its requests are remembered.
                    cfg.ice.stun_servers = vec![pool[step as usize % pool.len()]];
                    let mut pc = PeerConnection::new(cfg, now, rng).unwrap();
                    // Half of them offer and get an answer, so they have ICE timers to
                    // schedule and STUN requests to send.
                    if step % 2 == 0 {
                        pc.add_local_address(now, local).unwrap();
                        pc.create_data_channel(now, crate::DataChannelInit::new("x"))
                            .unwrap();
                        let offer = pc.create_offer().unwrap();
                        pc.set_local_description(now, &offer).unwrap();
                        let rng = Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(!step));
                        let mut b =
                            PeerConnection::new(PeerConfig::new(cert.clone()), now, rng).unwrap();
                        b.set_remote_description(now, &crate::Description::offer(offer.sdp))
                            .unwrap();
                        let answer = b.create_answer().unwrap();
                        b.set_local_description(now, &answer).unwrap();
                        pc.set_remote_description(now, &crate::Description::answer(answer.sdp))
                            .unwrap();
                    }
                    let creds = pc.negotiator().local_ice_credentials().clone();
                    live.push((ep.insert(pc), creds.ufrag, creds.pwd));
                }
                2 if !live.is_empty() => {
                    let (h, ..) = live.swap_remove(r.random_range(0..live.len()));
                    assert!(ep.remove(h).is_some());
                    assert!(ep.get(h).is_none());
                }
                3..=5 if !live.is_empty() => {
                    let (h, u, p) = &live[r.random_range(0..live.len())];
                    let from = pool[r.random_range(0..pool.len())];
                    let got = match ep.handle_receive(now, local, from, request(u, p, &mut r)) {
                        Ok(h) | Err(EndpointError::Rejected { handle: h, .. }) => Some(h),
                        Err(_) => None,
                    };
                    assert_eq!(got, Some(*h));
                    assert_eq!(ep.connection_by_address(from), Some(*h));
                }
                6 => {
                    let from = pool[r.random_range(0..pool.len())];
                    let dtls = BytesMut::from(&[0x17, 0xfe, 0xfd, 0, 0][..]);
                    let res = ep.handle_receive(now, local, from, dtls);
                    match ep.connection_by_address(from) {
                        Some(_) => {
                            assert!(!matches!(res, Err(EndpointError::UnknownAddress { .. })))
                        }
                        None => assert_eq!(res, Err(EndpointError::UnknownAddress { from })),
                    }
                }
                7 => {
                    let from = pool[r.random_range(0..pool.len())];
                    let res = ep.handle_receive(
                        now,
                        local,
                        from,
                        request("nobody", "x".repeat(22).as_str(), &mut r),
                    );
                    if ep.connection_by_address(from).is_none() {
                        assert_eq!(res, Err(EndpointError::UnknownUfrag { from }));
                    }
                }
                8 => {
                    ep.handle_timeout(now);
                    if let Some(t) = ep.poll_timeout() {
                        assert!(t > now || ep.iter().any(|(_, pc)| pc.poll_timeout() == Some(t)));
                    }
                }
                9 if !sent.is_empty() => {
                    // The response to a request a connection sent to a pool address.
                    let (txid, to) = sent[r.random_range(0..sent.len())];
                    let owner = ep.transactions.get(&txid).map(|e| e.0);
                    let mut out = Vec::new();
                    let kind = MessageType::new(Class::SuccessResponse, Method::BINDING);
                    let mut b = MessageBuilder::new(&mut out, kind, TransactionId(txid));
                    b.add(&Attribute::XorMappedAddress(to)).unwrap();
                    b.add_fingerprint().unwrap();
                    let res = ep.handle_receive(now, local, to, BytesMut::from(b.finish()));
                    let got = match res {
                        Ok(h) | Err(EndpointError::Rejected { handle: h, .. }) => Some(h),
                        Err(_) => None,
                    };
                    match (owner, ep.connection_by_address(to)) {
                        (Some(h), _) => {
                            assert_eq!(got, Some(h));
                            assert!(!ep.transactions.contains_key(&txid), "answered");
                        }
                        (None, Some(h)) => assert_eq!(got, Some(h)),
                        (None, None) => assert_eq!(got, None),
                    }
                }
                _ => {
                    while let Some(t) = ep.poll_transmit() {
                        if let Some(id) = stun_transaction(&t.contents, |c| c == Class::Request) {
                            sent.push((id, t.destination));
                        }
                    }
                    while ep.poll_event().is_some() {}
                }
            }
            check(&ep);
            let earliest = ep.iter().filter_map(|(_, pc)| pc.poll_timeout()).min();
            assert_eq!(ep.poll_timeout(), earliest, "step {step}");
            most_deadlines = most_deadlines.max(ep.deadlines.len());
        }
        assert!(
            most_deadlines >= 2,
            "timers were scheduled: {most_deadlines}"
        );
        assert!(ep.stats().addresses_evicted > 0);
        assert!(ep.stats().routed_by_transaction > 0, "{:?}", ep.stats());
        assert!(sent.len() > 20, "{}", sent.len());
    }
}
