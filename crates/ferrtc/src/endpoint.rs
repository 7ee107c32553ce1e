//! One UDP port for many peer connections: a [`UdpEndpoint`] owns a socket, and every peer
//! connection made with [`Configuration::endpoint`](crate::Configuration::endpoint) set to
//! it has its host candidates on that port, sends through that socket and receives what the
//! endpoint routes to it.
//!
//! One task owns the socket's receiving side. It reads batches (GRO, `recvmmsg`) and routes
//! each datagram by the rules of the core's
//! [`Endpoint`](ferrtc_peerconnection::endpoint::Endpoint): a STUN Binding request goes to
//! the connection whose local ICE ufrag is the first half of its USERNAME
//! (`<our ufrag>:<peer ufrag>`, RFC 8445 §7.2.2), once its MESSAGE-INTEGRITY checks with that
//! connection's password (RFC 8489 §9.1.3), and only then is the sender's address learned;
//! everything else from a learned address (DTLS, SRTP, more STUN) goes by one hash lookup; a
//! STUN response to a request a connection sent to an address not routed to it (a STUN
//! server, a peer candidate that has not checked us yet) goes by its transaction id
//! (RFC 8489 §6.3). Anything else is dropped and counted ([`EndpointStats`]); nothing
//! changes.
//!
//! Each connection keeps its own driver task, as in the default mode: the endpoint hands it
//! datagrams through a bounded queue (full: dropped and counted, the endpoint never waits on
//! one connection), and it sends its own output on the shared socket, batched with GSO as
//! in the default mode, so the connections' cryptography runs on as many threads as the
//! runtime has. The routing table is kept in step with the connections by what their
//! drivers tell the endpoint: their ICE credentials when they are made and whenever they
//! change (an ICE restart), the STUN requests they send, and their end.
//!
//! The tables are bounded: 16 learned addresses per connection (the oldest one that carried
//! nothing since the last sweep goes first), and 4,096 remembered STUN transactions. Since
//! an address is learned only from an authenticated request, datagrams from addresses that
//! never sent one create no state at all.
//!
//! Handles hold no back-references: the endpoint's task holds each connection's receive
//! queue, the connections hold a sender to the endpoint. Dropping a peer connection ends its
//! task and removes its routes; once every [`UdpEndpoint`] handle and every connection made
//! on it are gone, the task ends and the socket is closed.
//!
//! # Limits
//!
//! - A remote peer is told apart by its address. Two connections of one endpoint with the
//!   same remote address (the peer itself serves several connections from one port, as a
//!   second `UdpEndpoint` would) cannot be told apart: DTLS carries no connection id. The
//!   latest authenticated Binding request takes the address. One connection per pair of
//!   endpoints works.
//! - No TURN: a TURN server tells allocations apart by the client's address and port, which
//!   every connection of the endpoint shares
//!   ([`TurnOnSharedEndpoint`](crate::ConfigurationError::TurnOnSharedEndpoint)). STUN
//!   servers work.
//! - One address family per endpoint (an IPv6 wildcard socket is IPv6-only); bind two
//!   endpoints for both.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ferrtc_stun_ice::stun::{self, Class, IntegrityKey, Message, MessageType, Method};
use ferrtc_types::Transmit;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::driver::Core;
use crate::error::Error;
use crate::net::{HostAddresses, Received, UdpSocket};

/// Learned remote addresses per connection: a peer checks from each of its candidates
/// (host addresses, server-reflexive, relayed); 16 leaves room for a multi-homed peer's.
const MAX_ADDRESSES_PER_CONNECTION: usize = 16;

/// STUN requests remembered, so that their responses find the connection that sent them.
const MAX_TRANSACTIONS: usize = 4096;

/// Datagrams that may wait for one connection's task; past it they are dropped and counted.
const INBOUND_QUEUE: usize = 1024;

/// The receive buffer asked for the shared socket: it takes what every connection's own
/// socket would (the default is some 200 KiB), so a burst from many peers at once, while
/// the endpoint's task waits for a thread, is not lost in the kernel. Linux grants at most
/// `net.core.rmem_max`.
const RECV_BUFFER: usize = 4 * 1024 * 1024;

/// Receive batches read in one turn before the control messages are looked at again.
const MAX_BATCHES_PER_TURN: usize = 8;

/// Numbers the endpoints and their connections, for spans and routes.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A UDP socket shared by many peer connections (issue 11's shared mode). Cheap to clone:
/// clones are handles to the same socket and task.
///
/// ```
/// use ferrtc::{Configuration, PeerConnection, UdpEndpoint, net::HostAddresses};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let endpoint = UdpEndpoint::bind("127.0.0.1:0".parse()?).await?;
/// let config = || Configuration {
///     endpoint: Some(endpoint.clone()),
///     ..Default::default()
/// };
/// let a = PeerConnection::new(config()).await?;
/// let b = PeerConnection::new(config()).await?;
/// // Both connections' host candidates are the endpoint's one address.
/// assert_eq!(a.local_addresses(), [endpoint.local_addr()]);
/// assert_eq!(b.local_addresses(), [endpoint.local_addr()]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct UdpEndpoint {
    control: mpsc::UnboundedSender<Control>,
    socket: Arc<UdpSocket>,
}

impl std::fmt::Debug for UdpEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpEndpoint")
            .field("local_addr", &self.socket.local_addr())
            .finish_non_exhaustive()
    }
}

/// What a [`UdpEndpoint`] has routed and dropped, and the size of its tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointStats {
    /// Peer connections attached now.
    pub connections: usize,
    /// Ufrags routed now (one per connection, two during an ICE restart).
    pub ufrags: usize,
    /// Remote addresses routed now.
    pub addresses: usize,
    /// STUN transactions remembered now.
    pub transactions: usize,
    /// Datagrams routed by their sender's learned address.
    pub routed_by_address: u64,
    /// Binding requests routed by their ufrag.
    pub routed_by_ufrag: u64,
    /// STUN responses routed by their transaction id.
    pub routed_by_transaction: u64,
    /// Dropped: from an address no connection has learned, and not a Binding request nor
    /// the response to a remembered one.
    pub unknown_address: u64,
    /// Dropped: a Binding request from an unknown address that does not parse.
    pub malformed_stun: u64,
    /// Dropped: a Binding request from an unknown address without an ICE USERNAME.
    pub no_username: u64,
    /// Dropped: a Binding request from an unknown address for a ufrag nobody has.
    pub unknown_ufrag: u64,
    /// Dropped: a Binding request from an unknown address whose MESSAGE-INTEGRITY does
    /// not check with the password of its ufrag's connection.
    pub unauthenticated: u64,
    /// Dropped: the connection's queue was full (its task is behind).
    pub queue_full: u64,
}

impl EndpointStats {
    /// Every datagram dropped, whatever the reason.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.unknown_address
            + self.malformed_stun
            + self.no_username
            + self.unknown_ufrag
            + self.unauthenticated
            + self.queue_full
    }
}

impl UdpEndpoint {
    /// Binds the socket and starts the endpoint's task. Port 0 picks a free port
    /// ([`UdpEndpoint::local_addr`] says which). On a wildcard address (`0.0.0.0:port`)
    /// the host candidates are the machine's addresses of that family, chosen per
    /// connection by [`Configuration::host_addresses`](crate::Configuration::host_addresses).
    ///
    /// # Errors
    /// [`Error::Io`] when the socket cannot be bound.
    pub async fn bind(addr: SocketAddr) -> Result<UdpEndpoint, Error> {
        let socket = UdpSocket::bind(addr).map_err(Error::Io)?;
        match socket.set_recv_buffer_size(RECV_BUFFER) {
            Ok(granted) => tracing::debug!(granted, "shared socket's receive buffer"),
            Err(e) => tracing::debug!(error = %e, "receive buffer left as it was"),
        }
        let socket = Arc::new(socket);
        let (control, rx) = mpsc::unbounded_channel();
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!("udp_endpoint", id, local = %socket.local_addr());
        tokio::spawn(run(Arc::clone(&socket), rx).instrument(span));
        Ok(UdpEndpoint { control, socket })
    }

    /// The address the socket is bound to.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.socket.local_addr()
    }

    /// The endpoint's counters and the size of its routing tables now.
    ///
    /// # Errors
    /// [`Error::Closed`] if the endpoint's task has ended (its socket failed).
    pub async fn stats(&self) -> Result<EndpointStats, Error> {
        let (tx, rx) = oneshot::channel();
        self.control
            .send(Control::Stats(tx))
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)
    }

    /// The host candidate addresses of a connection on this endpoint: the socket's
    /// address, or on a wildcard socket the selected addresses of its family with its port.
    pub(crate) fn host_candidates(
        &self,
        addresses: &HostAddresses,
    ) -> std::io::Result<Vec<SocketAddr>> {
        let local = self.socket.local_addr();
        if !self.socket.is_wildcard() {
            return Ok(vec![local]);
        }
        Ok(addresses
            .resolve()?
            .into_iter()
            .filter(|ip| ip.is_ipv4() == local.is_ipv4())
            .map(|ip| SocketAddr::new(ip, local.port()))
            .collect())
    }

    /// Attaches a connection's core: from now on Binding requests for its local ICE ufrag
    /// are routed to the returned attachment, which its driver holds.
    pub(crate) fn attach<C: Core>(&self, core: &C) -> Attachment {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let (tx, inbound) = mpsc::channel(INBOUND_QUEUE);
        let credentials = distinct(core.local_credentials().unwrap_or([("", ""); 2]));
        let _ = self.control.send(Control::Attach {
            id,
            inbound: tx,
            credentials: credentials.clone(),
        });
        Attachment {
            id,
            socket: Arc::clone(&self.socket),
            inbound,
            control: self.control.clone(),
            credentials,
        }
    }
}

/// The negotiated and the applied credentials, once each.
fn distinct(c: [(&str, &str); 2]) -> Vec<(String, String)> {
    let mut v = vec![(c[0].0.to_owned(), c[0].1.to_owned())];
    if c[1] != c[0] {
        v.push((c[1].0.to_owned(), c[1].1.to_owned()));
    }
    v
}

/// A connection's side of a [`UdpEndpoint`], held by its driver: its receive queue, the
/// shared socket to send on, and a sender of what the routing table must know.
pub(crate) struct Attachment {
    id: u64,
    socket: Arc<UdpSocket>,
    inbound: mpsc::Receiver<Received>,
    control: mpsc::UnboundedSender<Control>,
    /// What the endpoint was last told.
    credentials: Vec<(String, String)>,
}

impl Attachment {
    /// The shared socket.
    pub(crate) fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    /// The next datagram routed to us; `None` once the endpoint's task has ended.
    pub(crate) async fn recv(&mut self) -> Option<Received> {
        self.inbound.recv().await
    }

    /// A datagram routed to us, if one waits.
    pub(crate) fn try_recv(&mut self) -> Option<Received> {
        self.inbound.try_recv().ok()
    }

    /// Tells the endpoint our credentials if they changed (an ICE restart).
    pub(crate) fn update_credentials(&mut self, now: [(&str, &str); 2]) {
        let same = |v: &[(String, String)]| {
            let n = if now[0] == now[1] { 1 } else { 2 };
            v.len() == n && v.iter().zip(&now).all(|(a, b)| a.0 == b.0 && a.1 == b.1)
        };
        if same(&self.credentials) {
            return;
        }
        self.credentials = distinct(now);
        let _ = self.control.send(Control::Credentials {
            id: self.id,
            credentials: self.credentials.clone(),
        });
    }

    /// Called for each datagram we send: a STUN request is noted, so that its response
    /// finds us even from an address routed elsewhere or not at all.
    pub(crate) fn note_transmit(&self, t: &Transmit) {
        if t.segment_size.is_some() {
            return;
        }
        if let Some(txid) = stun_transaction(&t.contents, |c| c == Class::Request) {
            let _ = self.control.send(Control::Transaction {
                id: self.id,
                txid,
                destination: t.destination,
            });
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Detach { id: self.id });
    }
}

/// What the endpoint's task is told.
enum Control {
    Attach {
        id: u64,
        inbound: mpsc::Sender<Received>,
        credentials: Vec<(String, String)>,
    },
    Credentials {
        id: u64,
        credentials: Vec<(String, String)>,
    },
    Transaction {
        id: u64,
        txid: [u8; 12],
        destination: SocketAddr,
    },
    Detach {
        id: u64,
    },
    Stats(oneshot::Sender<EndpointStats>),
}

/// The endpoint's task: reads the socket and routes, applies control messages, ends when
/// every sender (handles and attachments) is gone or the socket fails.
async fn run(socket: Arc<UdpSocket>, mut control: mpsc::UnboundedReceiver<Control>) {
    let mut router = Router::default();
    tracing::debug!("endpoint started");
    loop {
        tokio::select! {
            msg = control.recv() => match msg {
                Some(m) => {
                    router.apply(m);
                    while let Ok(m) = control.try_recv() {
                        router.apply(m);
                    }
                }
                None => break,
            },
            res = socket.readable() => {
                let res = res.and_then(|()| {
                    for _ in 0..MAX_BATCHES_PER_TURN {
                        if socket.try_recv(|r| router.deliver(r, &mut control))? == 0 {
                            break;
                        }
                    }
                    Ok(())
                });
                if let Err(e) = res {
                    tracing::warn!(error = %e, "socket failed: endpoint closed");
                    break;
                }
            }
        }
    }
    tracing::debug!(stats = ?router.stats(), "endpoint ended");
}

/// A learned address.
#[derive(Debug, Clone, Copy)]
struct Route {
    id: u64,
    /// Carried a datagram since the last eviction sweep passed it.
    used: bool,
}

/// An attached connection.
struct Attached {
    inbound: mpsc::Sender<Received>,
    /// Each ufrag it answers to, with the key of its password.
    credentials: Vec<(String, IntegrityKey)>,
    /// Learned addresses, oldest first.
    addresses: VecDeque<SocketAddr>,
}

/// Why a datagram was not routed.
#[derive(Debug, Clone, Copy)]
enum Miss {
    UnknownAddress,
    MalformedStun,
    NoUsername,
    UnknownUfrag,
    Unauthenticated,
}

/// The routing table. Every method is synchronous: it lives in the endpoint's task.
#[derive(Default)]
struct Router {
    conns: HashMap<u64, Attached>,
    by_ufrag: HashMap<String, Vec<u64>>,
    by_address: HashMap<SocketAddr, Route>,
    transactions: HashMap<[u8; 12], u64>,
    /// Transactions oldest first; entries answered since are stale and skipped.
    transaction_order: VecDeque<[u8; 12]>,
    stats: EndpointStats,
}

impl Router {
    fn stats(&self) -> EndpointStats {
        EndpointStats {
            connections: self.conns.len(),
            ufrags: self.by_ufrag.len(),
            addresses: self.by_address.len(),
            transactions: self.transactions.len(),
            ..self.stats
        }
    }

    fn apply(&mut self, m: Control) {
        match m {
            Control::Attach {
                id,
                inbound,
                credentials,
            } => {
                self.conns.insert(
                    id,
                    Attached {
                        inbound,
                        credentials: Vec::new(),
                        addresses: VecDeque::new(),
                    },
                );
                self.set_credentials(id, &credentials);
            }
            Control::Credentials { id, credentials } => self.set_credentials(id, &credentials),
            Control::Transaction {
                id,
                txid,
                destination,
            } => self.remember_transaction(id, txid, destination),
            Control::Detach { id } => self.detach(id),
            Control::Stats(reply) => {
                let _ = reply.send(self.stats());
            }
        }
    }

    /// Routes a datagram and queues it for its connection, or drops and counts it.
    fn deliver(&mut self, r: Received, control: &mut mpsc::UnboundedReceiver<Control>) {
        let id = match self.route(r.from, &r.datagram) {
            Ok(id) => id,
            Err(miss) => {
                // A connection's registration, new credentials or a noted request may still
                // wait in the control queue (they were sent before the datagram that this
                // one answers): apply what waits and try once more.
                let mut applied = false;
                while let Ok(m) = control.try_recv() {
                    self.apply(m);
                    applied = true;
                }
                let retried = if applied {
                    self.route(r.from, &r.datagram)
                } else {
                    Err(miss)
                };
                match retried {
                    Ok(id) => id,
                    Err(miss) => {
                        self.count(miss);
                        tracing::trace!(from = %r.from, ?miss, "datagram dropped");
                        return;
                    }
                }
            }
        };
        let Some(c) = self.conns.get(&id) else {
            self.stats.unknown_address += 1;
            return;
        };
        match c.inbound.try_send(r) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.stats.queue_full += 1,
            // Its task has ended; its detach message is on the way.
            Err(mpsc::error::TrySendError::Closed(_)) => self.detach(id),
        }
    }

    fn count(&mut self, miss: Miss) {
        let s = &mut self.stats;
        match miss {
            Miss::UnknownAddress => s.unknown_address += 1,
            Miss::MalformedStun => s.malformed_stun += 1,
            Miss::NoUsername => s.no_username += 1,
            Miss::UnknownUfrag => s.unknown_ufrag += 1,
            Miss::Unauthenticated => s.unauthenticated += 1,
        }
    }

    fn route(&mut self, from: SocketAddr, datagram: &[u8]) -> Result<u64, Miss> {
        if !is_binding_request(datagram) {
            // The response to a noted request goes to the connection that sent it, even
            // from an address routed elsewhere.
            if !self.transactions.is_empty() {
                let response = |c| matches!(c, Class::SuccessResponse | Class::ErrorResponse);
                if let Some(txid) = stun_transaction(datagram, response) {
                    if let Some(id) = self.transactions.remove(&txid) {
                        if self.conns.contains_key(&id) {
                            self.stats.routed_by_transaction += 1;
                            return Ok(id);
                        }
                    }
                }
            }
            // The hot path: DTLS, SRTP, STUN responses; one lookup, no parsing.
            let route = self.by_address.get_mut(&from).ok_or(Miss::UnknownAddress)?;
            route.used = true;
            self.stats.routed_by_address += 1;
            return Ok(route.id);
        }
        let known = self.by_address.get(&from).map(|r| r.id);
        match self.route_by_ufrag(from, datagram, known) {
            Ok(id) => {
                self.stats.routed_by_ufrag += 1;
                Ok(id)
            }
            // From a known address, a request its ufrag does not place (a consent check
            // with credentials an ICE restart is replacing) goes by address.
            Err(_) if known.is_some() => {
                let route = self.by_address.get_mut(&from).ok_or(Miss::UnknownAddress)?;
                route.used = true;
                self.stats.routed_by_address += 1;
                Ok(route.id)
            }
            Err(e) => Err(e),
        }
    }

    fn route_by_ufrag(
        &mut self,
        from: SocketAddr,
        datagram: &[u8],
        known: Option<u64>,
    ) -> Result<u64, Miss> {
        let msg = Message::new_checked(datagram).map_err(|_| Miss::MalformedStun)?;
        // RFC 8445 §7.2.2: USERNAME is "RFRAG:LFRAG", the receiver's ufrag first.
        let ours = msg
            .username()
            .and_then(|u| u.split_once(':'))
            .map(|(ours, _)| ours)
            .ok_or(Miss::NoUsername)?;
        let ids = self.by_ufrag.get(ours).ok_or(Miss::UnknownUfrag)?;
        if let Some(k) = known.filter(|k| ids.contains(k)) {
            // The address is already this connection's: its agent checks the integrity.
            if let Some(r) = self.by_address.get_mut(&from) {
                r.used = true;
            }
            return Ok(k);
        }
        let owner = ids.iter().copied().find(|id| {
            self.conns.get(id).is_some_and(|c| {
                c.credentials
                    .iter()
                    .any(|(u, key)| u == ours && msg.check_integrity(key).is_ok())
            })
        });
        let owner = owner.ok_or(Miss::Unauthenticated)?;
        self.learn(from, owner);
        Ok(owner)
    }

    /// Routes `from` to `id`, evicting within the per-connection bound.
    fn learn(&mut self, from: SocketAddr, id: u64) {
        if let Some(old) = self.by_address.remove(&from) {
            if let Some(c) = self.conns.get_mut(&old.id) {
                c.addresses.retain(|a| *a != from);
            }
        }
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        // Second chance: the oldest address not used since the sweep last passed goes;
        // two passes at most, as the first clears every flag it passes.
        let mut turns = 2 * c.addresses.len();
        while c.addresses.len() >= MAX_ADDRESSES_PER_CONNECTION && turns > 0 {
            turns -= 1;
            let Some(a) = c.addresses.pop_front() else {
                break;
            };
            match self.by_address.get_mut(&a) {
                Some(r) if r.id == id && r.used => {
                    r.used = false;
                    c.addresses.push_back(a);
                }
                Some(r) if r.id == id => {
                    self.by_address.remove(&a);
                }
                _ => {} // not ours any more: a stale entry, dropped
            }
        }
        c.addresses.push_back(from);
        self.by_address.insert(from, Route { id, used: false });
    }

    /// Keeps the ufrag routes of `id` equal to its credentials.
    fn set_credentials(&mut self, id: u64, credentials: &[(String, String)]) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let fresh = credentials
            .iter()
            .map(|(u, p)| (u.clone(), IntegrityKey::short_term(p)))
            .collect();
        let old = std::mem::replace(&mut c.credentials, fresh);
        for (u, _) in &old {
            self.unroute_ufrag(u, id);
        }
        for (u, _) in credentials {
            let v = self.by_ufrag.entry(u.clone()).or_default();
            if !v.contains(&id) {
                v.push(id);
            }
        }
    }

    fn unroute_ufrag(&mut self, ufrag: &str, id: u64) {
        if let Some(v) = self.by_ufrag.get_mut(ufrag) {
            v.retain(|x| *x != id);
            if v.is_empty() {
                self.by_ufrag.remove(ufrag);
            }
        }
    }

    /// Remembers a STUN request `id` sent to an address not routed to it (bounded, oldest
    /// out first).
    fn remember_transaction(&mut self, id: u64, txid: [u8; 12], destination: SocketAddr) {
        if !self.conns.contains_key(&id)
            || self
                .by_address
                .get(&destination)
                .is_some_and(|r| r.id == id)
            || self.transactions.get(&txid) == Some(&id)
        {
            return;
        }
        while self.transactions.len() >= MAX_TRANSACTIONS {
            let Some(old) = self.transaction_order.pop_front() else {
                break;
            };
            self.transactions.remove(&old);
        }
        self.transactions.insert(txid, id);
        self.transaction_order.push_back(txid);
        if self.transaction_order.len() > 2 * self.transactions.len() + 64 {
            let live = &self.transactions;
            self.transaction_order.retain(|t| live.contains_key(t));
        }
    }

    /// Removes a connection and every route to it.
    fn detach(&mut self, id: u64) {
        let Some(c) = self.conns.remove(&id) else {
            return;
        };
        for (u, _) in &c.credentials {
            self.unroute_ufrag(u, id);
        }
        for a in &c.addresses {
            if self.by_address.get(a).is_some_and(|r| r.id == id) {
                self.by_address.remove(a);
            }
        }
        if !self.transactions.is_empty() {
            self.transactions.retain(|_, owner| *owner != id);
            let live = &self.transactions;
            self.transaction_order.retain(|t| live.contains_key(t));
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

/// A STUN Binding request, by its first two bytes and the header length (RFC 8489 §5).
fn is_binding_request(datagram: &[u8]) -> bool {
    let binding = MessageType::new(Class::Request, Method::BINDING).to_u16();
    datagram.len() >= stun::HEADER_LEN && datagram[..2] == binding.to_be_bytes()
}

#[cfg(test)]
mod tests {
    //! The routing table alone, fed as the endpoint's task feeds it.

    use super::*;
    use bytes::BytesMut;
    use ferrtc_stun_ice::stun::{Attribute, MessageBuilder, TransactionId};

    const LOCAL: &str = "127.0.0.1:5000";

    fn stun(kind: Class, user: Option<&str>, pwd: Option<&str>, txid: [u8; 12]) -> BytesMut {
        let mut out = Vec::new();
        let mut b = MessageBuilder::new(
            &mut out,
            MessageType::new(kind, Method::BINDING),
            TransactionId(txid),
        );
        if let Some(u) = user {
            b.add(&Attribute::Username(u)).unwrap();
        }
        if let Some(p) = pwd {
            b.add_message_integrity(&IntegrityKey::short_term(p))
                .unwrap();
        }
        b.add_fingerprint().unwrap();
        BytesMut::from(b.finish())
    }

    fn received(from: SocketAddr, datagram: BytesMut) -> Received {
        Received {
            local: LOCAL.parse().unwrap(),
            from,
            datagram,
        }
    }

    fn attach(r: &mut Router, id: u64, ufrag: &str, pwd: &str) -> mpsc::Receiver<Received> {
        let (tx, rx) = mpsc::channel(64);
        r.apply(Control::Attach {
            id,
            inbound: tx,
            credentials: vec![(ufrag.into(), pwd.into())],
        });
        rx
    }

    fn addr(i: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], 1000 + i))
    }

    #[test]
    fn routes_by_ufrag_then_address_and_forgets_on_detach() {
        let (_keep, mut control) = mpsc::unbounded_channel();
        let mut r = Router::default();
        let pwd1 = "p".repeat(22);
        let pwd2 = "q".repeat(22);
        let mut c1 = attach(&mut r, 1, "aaaa", &pwd1);
        let mut c2 = attach(&mut r, 2, "bbbb", &pwd2);
        let dtls = || BytesMut::from(&[22u8, 0xfe, 0xfd, 0, 0][..]);

        // Unknown address: dropped; a wrong key for a real ufrag: dropped, nothing learned.
        r.deliver(received(addr(1), dtls()), &mut control);
        let bad = stun(Class::Request, Some("aaaa:x"), Some(&pwd2), [1; 12]);
        r.deliver(received(addr(1), bad), &mut control);
        let nobody = stun(Class::Request, Some("zzzz:x"), Some(&pwd1), [2; 12]);
        r.deliver(received(addr(1), nobody), &mut control);
        let s = r.stats();
        assert_eq!(
            (s.unknown_address, s.unauthenticated, s.unknown_ufrag),
            (1, 1, 1)
        );
        assert_eq!(s.addresses, 0);
        assert!(c1.try_recv().is_err() && c2.try_recv().is_err());

        // An authenticated check teaches the address; DTLS from it follows.
        let good = stun(Class::Request, Some("aaaa:x"), Some(&pwd1), [3; 12]);
        r.deliver(received(addr(1), good), &mut control);
        r.deliver(received(addr(1), dtls()), &mut control);
        assert!(c1.try_recv().is_ok() && c1.try_recv().is_ok());
        assert!(c2.try_recv().is_err());

        // At most 16 addresses per connection.
        for i in 2..40 {
            let good = stun(Class::Request, Some("bbbb:x"), Some(&pwd2), [i as u8; 12]);
            r.deliver(received(addr(i), good), &mut control);
        }
        assert_eq!(r.conns[&2].addresses.len(), MAX_ADDRESSES_PER_CONNECTION);
        assert_eq!(r.stats().addresses, 1 + MAX_ADDRESSES_PER_CONNECTION);

        // A response to a request connection 1 sent to a STUN server, not learned.
        let server = addr(500);
        r.apply(Control::Transaction {
            id: 1,
            txid: [9; 12],
            destination: server,
        });
        while c1.try_recv().is_ok() {}
        r.deliver(
            received(server, stun(Class::SuccessResponse, None, None, [9; 12])),
            &mut control,
        );
        assert!(c1.try_recv().is_ok());
        assert_eq!(r.stats().routed_by_transaction, 1);
        assert_eq!(r.stats().transactions, 0, "answered");
        assert!(!r.by_address.contains_key(&server));

        // A connection that ends takes its routes with it.
        r.apply(Control::Detach { id: 2 });
        let s = r.stats();
        assert_eq!((s.connections, s.ufrags, s.addresses), (1, 1, 1));
        r.apply(Control::Detach { id: 1 });
        let s = r.stats();
        assert_eq!((s.connections, s.ufrags, s.addresses), (0, 0, 0));
    }

    #[test]
    fn a_registration_still_in_the_queue_is_applied_before_a_drop() {
        let (tx, mut control) = mpsc::unbounded_channel();
        let mut r = Router::default();
        let (itx, mut inbound) = mpsc::channel(4);
        let pwd = "p".repeat(22);
        tx.send(Control::Attach {
            id: 7,
            inbound: itx,
            credentials: vec![("cccc".into(), pwd.clone())],
        })
        .ok()
        .unwrap();
        let good = stun(Class::Request, Some("cccc:x"), Some(&pwd), [5; 12]);
        r.deliver(received(addr(1), good), &mut control);
        assert!(inbound.try_recv().is_ok());
        assert_eq!(r.stats().dropped(), 0);
    }
}
