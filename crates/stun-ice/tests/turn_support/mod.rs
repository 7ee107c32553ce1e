//! A minimal TURN server for tests (RFC 8656 over UDP), sans-IO, written against the
//! `ferrtc-netsim` [`Endpoint`] trait: long-term credentials with a rotating nonce,
//! allocations with lifetimes, permissions, channels, Send/Data indications and ChannelData.
//!
//! It listens on one address and relays from ports of a second IP, which the simulator binds
//! with port 0 (every port). It is deliberately small; it checks what the client must get
//! right (integrity, nonce, 5-tuple, permissions, channel rules) and counts what it did in
//! [`ServerStats`] so tests can see which path data took.

#![allow(dead_code)] // Each test file uses a different part of the support code.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ferrtc_netsim::{Datagram, Endpoint};
use ferrtc_stun_ice::framing::ChannelData;
use ferrtc_stun_ice::stun::{
    Attribute, Class, ErrorCode, IntegrityKey, Message, MessageBuilder, MessageType, Method,
    TransactionId,
};

/// What the server did, for assertions.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ServerStats {
    /// 401 challenges sent.
    pub challenges: u64,
    /// 438 Stale Nonce answers sent.
    pub stale_nonces: u64,
    /// Allocations created.
    pub allocations: u64,
    /// Successful refreshes with a non-zero lifetime.
    pub refreshes: u64,
    /// Allocations deleted by a zero-lifetime Refresh.
    pub deallocations: u64,
    /// Allocations that expired.
    pub expirations: u64,
    /// Permissions installed or refreshed by CreatePermission.
    pub permissions: u64,
    /// Channel bindings created or refreshed.
    pub channel_binds: u64,
    /// Send indications relayed to a peer.
    pub sends: u64,
    /// ChannelData messages from the client relayed to a peer.
    pub channel_data_in: u64,
    /// Data indications sent to the client.
    pub data_indications: u64,
    /// ChannelData messages sent to the client.
    pub channel_data_out: u64,
    /// Peer datagrams dropped for lack of a permission.
    pub dropped_no_permission: u64,
    /// Datagrams to relay addresses with no allocation behind them.
    pub dropped_no_allocation: u64,
    /// Messages from the client that were refused or ignored (bad integrity, unknown channel,
    /// Send without permission, ...).
    pub rejected: u64,
}

struct Allocation {
    relayed: SocketAddr,
    expires: Instant,
    allocate_txid: TransactionId,
    permissions: BTreeMap<IpAddr, Instant>,
    /// Channel number to (peer, expiry).
    channels: BTreeMap<u16, (SocketAddr, Instant)>,
}

impl Allocation {
    fn permitted(&self, ip: IpAddr, now: Instant) -> bool {
        self.permissions.get(&ip).is_some_and(|&t| t > now)
    }

    fn channel_of(&self, peer: SocketAddr, now: Instant) -> Option<u16> {
        self.channels
            .iter()
            .find(|(_, (p, t))| *p == peer && *t > now)
            .map(|(n, _)| *n)
    }
}

/// The test TURN server.
pub struct TestServer {
    listen: SocketAddr,
    relay_ip: IpAddr,
    next_port: u16,
    realm: String,
    username: String,
    key: IntegrityKey,
    nonce: String,
    nonce_generation: u32,
    /// Lifetime granted when the client asks for none (RFC 8656 default: 600 s).
    pub default_lifetime: Duration,
    /// Longest lifetime granted (RFC 8656 recommends 3600 s).
    pub max_lifetime: Duration,
    /// Allocations by client transport address (the 5-tuple, protocol and server side fixed).
    allocations: BTreeMap<SocketAddr, Allocation>,
    /// Relayed address to client.
    relays: BTreeMap<SocketAddr, SocketAddr>,
    out: VecDeque<Datagram>,
    /// Counters.
    pub stats: ServerStats,
}

const PERMISSION_LIFETIME: Duration = Duration::from_secs(300);
const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);

impl TestServer {
    /// A server listening on `listen`, relaying from ports of `relay_ip`, accepting one user.
    pub fn new(listen: SocketAddr, relay_ip: IpAddr, username: &str, password: &str) -> Self {
        let realm = "netsim.test";
        TestServer {
            listen,
            relay_ip,
            next_port: 50_000,
            realm: realm.to_owned(),
            username: username.to_owned(),
            key: IntegrityKey::long_term(username, realm, password),
            nonce: "nonce-0".to_owned(),
            nonce_generation: 0,
            default_lifetime: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(3600),
            allocations: BTreeMap::new(),
            relays: BTreeMap::new(),
            out: VecDeque::new(),
            stats: ServerStats::default(),
        }
    }

    /// Makes the current nonce stale: the next authenticated request gets a 438.
    pub fn rotate_nonce(&mut self) {
        self.nonce_generation += 1;
        self.nonce = format!("nonce-{}", self.nonce_generation);
    }

    /// The live allocations' relayed addresses.
    pub fn relayed_addresses(&self) -> Vec<SocketAddr> {
        self.allocations.values().map(|a| a.relayed).collect()
    }

    /// Whether the allocation of `client` has a live permission for `peer`.
    pub fn has_permission(&self, client: SocketAddr, peer: IpAddr, now: Instant) -> bool {
        self.allocations
            .get(&client)
            .is_some_and(|a| a.permitted(peer, now))
    }

    fn send(&mut self, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        self.out.push_back(Datagram::new(from, to, data));
    }

    fn purge(&mut self, now: Instant) {
        let expired: Vec<SocketAddr> = self
            .allocations
            .iter()
            .filter(|(_, a)| a.expires <= now)
            .map(|(c, _)| *c)
            .collect();
        for client in expired {
            if let Some(a) = self.allocations.remove(&client) {
                self.relays.remove(&a.relayed);
                self.stats.expirations += 1;
            }
        }
    }

    // ----- from the client -----

    fn handle_client(&mut self, now: Instant, client: SocketAddr, data: &[u8]) {
        match data.first() {
            Some(0..=3) => match Message::new_checked(data) {
                Ok(msg) => self.stun_from_client(now, client, &msg),
                Err(_) => self.stats.rejected += 1,
            },
            Some(0x40..=0x4F) => self.channel_data_from_client(now, client, data),
            _ => self.stats.rejected += 1,
        }
    }

    fn channel_data_from_client(&mut self, now: Instant, client: SocketAddr, data: &[u8]) {
        let Ok(cd) = ChannelData::new_checked(data) else {
            self.stats.rejected += 1;
            return;
        };
        let Some(a) = self.allocations.get(&client) else {
            self.stats.rejected += 1;
            return;
        };
        match a.channels.get(&cd.channel) {
            Some(&(peer, expires)) if expires > now && a.permitted(peer.ip(), now) => {
                let relayed = a.relayed;
                self.stats.channel_data_in += 1;
                self.send(relayed, peer, cd.data.to_vec());
            }
            _ => self.stats.rejected += 1,
        }
    }

    fn stun_from_client(&mut self, now: Instant, client: SocketAddr, msg: &Message<'_>) {
        match (msg.class(), msg.method()) {
            (Class::Indication, Method::SEND) => {
                let (Some(peer), Some(data)) = (msg.xor_peer_address(), msg.data()) else {
                    self.stats.rejected += 1;
                    return;
                };
                match self.allocations.get(&client) {
                    Some(a) if a.permitted(peer.ip(), now) => {
                        let relayed = a.relayed;
                        self.stats.sends += 1;
                        self.send(relayed, peer, data.to_vec());
                    }
                    _ => self.stats.rejected += 1,
                }
            }
            (Class::Request, method) => {
                if !self.authenticate(client, msg) {
                    return;
                }
                let reply = match method {
                    Method::ALLOCATE => self.allocate(now, client, msg),
                    Method::REFRESH => self.refresh(now, client, msg),
                    Method::CREATE_PERMISSION => self.create_permission(now, client, msg),
                    Method::CHANNEL_BIND => self.channel_bind(now, client, msg),
                    _ => Err(ErrorCode::BAD_REQUEST),
                };
                let bytes = match reply {
                    Ok(attrs) => self.response(msg, Class::SuccessResponse, &attrs),
                    Err(code) => {
                        self.stats.rejected += 1;
                        let attrs = [Attribute::ErrorCode(ErrorCode { code, reason: "" })];
                        self.response(msg, Class::ErrorResponse, &attrs)
                    }
                };
                self.send(self.listen, client, bytes);
            }
            _ => self.stats.rejected += 1,
        }
    }

    /// The long-term credential check (RFC 8489 section 9.2.4); answers 401 or 438 itself.
    fn authenticate(&mut self, client: SocketAddr, msg: &Message<'_>) -> bool {
        let challenge = |code| {
            [
                Attribute::ErrorCode(ErrorCode { code, reason: "" }),
                Attribute::Realm(&self.realm),
                Attribute::Nonce(&self.nonce),
            ]
        };
        if !msg.has_integrity() {
            let attrs = challenge(ErrorCode::UNAUTHENTICATED);
            let bytes = unsigned(msg, Class::ErrorResponse, &attrs);
            self.stats.challenges += 1;
            self.send(self.listen, client, bytes);
            return false;
        }
        if msg.username() != Some(self.username.as_str())
            || msg.realm() != Some(self.realm.as_str())
            || msg.check_integrity(&self.key).is_err()
        {
            let attrs = challenge(ErrorCode::UNAUTHENTICATED);
            let bytes = unsigned(msg, Class::ErrorResponse, &attrs);
            self.stats.challenges += 1;
            self.stats.rejected += 1;
            self.send(self.listen, client, bytes);
            return false;
        }
        if msg.nonce() != Some(self.nonce.as_str()) {
            let attrs = challenge(ErrorCode::STALE_NONCE);
            let bytes = unsigned(msg, Class::ErrorResponse, &attrs);
            self.stats.stale_nonces += 1;
            self.send(self.listen, client, bytes);
            return false;
        }
        true
    }

    fn response(&self, request: &Message<'_>, class: Class, attrs: &[Attribute<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut b = MessageBuilder::new(
            &mut out,
            MessageType::new(class, request.method()),
            request.transaction_id(),
        );
        for a in attrs {
            b.add(a).expect("test server attributes fit");
        }
        b.add_message_integrity(&self.key)
            .expect("integrity fits")
            .add_fingerprint()
            .expect("fingerprint fits");
        out
    }

    fn lifetime(&self, msg: &Message<'_>) -> Duration {
        match msg.lifetime() {
            Some(0) => Duration::ZERO,
            Some(s) => Duration::from_secs(u64::from(s))
                .min(self.max_lifetime)
                .max(self.default_lifetime),
            None => self.default_lifetime,
        }
    }

    fn allocate(
        &mut self,
        now: Instant,
        client: SocketAddr,
        msg: &Message<'_>,
    ) -> Result<Vec<Attribute<'static>>, u16> {
        let lifetime = self.lifetime(msg);
        if let Some(a) = self.allocations.get(&client) {
            // A retransmission of the request that made it is answered again.
            if a.allocate_txid == msg.transaction_id() {
                let secs = a.expires.saturating_duration_since(now).as_secs() as u32;
                return Ok(vec![
                    Attribute::XorRelayedAddress(a.relayed),
                    Attribute::XorMappedAddress(client),
                    Attribute::Lifetime(secs),
                ]);
            }
            return Err(ErrorCode::ALLOCATION_MISMATCH);
        }
        if !msg
            .attributes()
            .any(|a| a == Attribute::RequestedTransport(0x11))
        {
            return Err(ErrorCode::UNSUPPORTED_TRANSPORT_PROTOCOL);
        }
        let relayed = SocketAddr::new(self.relay_ip, self.next_port);
        self.next_port += 1;
        self.allocations.insert(
            client,
            Allocation {
                relayed,
                expires: now + lifetime,
                allocate_txid: msg.transaction_id(),
                permissions: BTreeMap::new(),
                channels: BTreeMap::new(),
            },
        );
        self.relays.insert(relayed, client);
        self.stats.allocations += 1;
        Ok(vec![
            Attribute::XorRelayedAddress(relayed),
            Attribute::XorMappedAddress(client),
            Attribute::Lifetime(lifetime.as_secs() as u32),
        ])
    }

    fn refresh(
        &mut self,
        now: Instant,
        client: SocketAddr,
        msg: &Message<'_>,
    ) -> Result<Vec<Attribute<'static>>, u16> {
        let lifetime = self.lifetime(msg);
        if lifetime.is_zero() {
            let a = self
                .allocations
                .remove(&client)
                .ok_or(ErrorCode::ALLOCATION_MISMATCH)?;
            self.relays.remove(&a.relayed);
            self.stats.deallocations += 1;
            return Ok(vec![Attribute::Lifetime(0)]);
        }
        let a = self
            .allocations
            .get_mut(&client)
            .ok_or(ErrorCode::ALLOCATION_MISMATCH)?;
        a.expires = now + lifetime;
        self.stats.refreshes += 1;
        Ok(vec![Attribute::Lifetime(lifetime.as_secs() as u32)])
    }

    fn create_permission(
        &mut self,
        now: Instant,
        client: SocketAddr,
        msg: &Message<'_>,
    ) -> Result<Vec<Attribute<'static>>, u16> {
        let a = self
            .allocations
            .get_mut(&client)
            .ok_or(ErrorCode::ALLOCATION_MISMATCH)?;
        let peers: Vec<IpAddr> = msg
            .attributes()
            .filter_map(|attr| match attr {
                Attribute::XorPeerAddress(p) => Some(p.ip()),
                _ => None,
            })
            .collect();
        if peers.is_empty() {
            return Err(ErrorCode::BAD_REQUEST);
        }
        for ip in peers {
            a.permissions.insert(ip, now + PERMISSION_LIFETIME);
            self.stats.permissions += 1;
        }
        Ok(Vec::new())
    }

    fn channel_bind(
        &mut self,
        now: Instant,
        client: SocketAddr,
        msg: &Message<'_>,
    ) -> Result<Vec<Attribute<'static>>, u16> {
        let a = self
            .allocations
            .get_mut(&client)
            .ok_or(ErrorCode::ALLOCATION_MISMATCH)?;
        let (Some(number), Some(peer)) = (msg.channel_number(), msg.xor_peer_address()) else {
            return Err(ErrorCode::BAD_REQUEST);
        };
        if !(ChannelData::MIN_CHANNEL..=ChannelData::MAX_CHANNEL).contains(&number) {
            return Err(ErrorCode::BAD_REQUEST);
        }
        // RFC 8656 section 12.2: the number must not be bound to another peer, nor the peer
        // to another number.
        let clash = a.channels.iter().any(|(n, (p, t))| {
            *t > now && ((*n == number && *p != peer) || (*n != number && *p == peer))
        });
        if clash {
            return Err(ErrorCode::BAD_REQUEST);
        }
        a.channels.insert(number, (peer, now + CHANNEL_LIFETIME));
        a.permissions.insert(peer.ip(), now + PERMISSION_LIFETIME);
        self.stats.channel_binds += 1;
        Ok(Vec::new())
    }

    // ----- from a peer -----

    fn handle_peer(&mut self, now: Instant, peer: SocketAddr, relayed: SocketAddr, data: &[u8]) {
        let Some(&client) = self.relays.get(&relayed) else {
            self.stats.dropped_no_allocation += 1;
            return;
        };
        let Some(a) = self.allocations.get(&client) else {
            self.stats.dropped_no_allocation += 1;
            return;
        };
        if !a.permitted(peer.ip(), now) {
            self.stats.dropped_no_permission += 1;
            return;
        }
        let mut out = Vec::new();
        if let Some(channel) = a.channel_of(peer, now) {
            ChannelData { channel, data }
                .encode(false, &mut out)
                .expect("a UDP payload fits ChannelData");
            self.stats.channel_data_out += 1;
        } else {
            let mut txid = [0u8; 12];
            txid[..8].copy_from_slice(&self.stats.data_indications.to_be_bytes());
            MessageBuilder::new(
                &mut out,
                MessageType::new(Class::Indication, Method::DATA),
                TransactionId(txid),
            )
            .add(&Attribute::XorPeerAddress(peer))
            .and_then(|b| b.add(&Attribute::Data(data)))
            .expect("a UDP payload fits a Data indication");
            self.stats.data_indications += 1;
        }
        self.send(self.listen, client, out);
    }
}

/// An error response without integrity (401 and 438 challenges).
fn unsigned(request: &Message<'_>, class: Class, attrs: &[Attribute<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(
        &mut out,
        MessageType::new(class, request.method()),
        request.transaction_id(),
    );
    for a in attrs {
        b.add(a).expect("test server attributes fit");
    }
    out
}

impl Endpoint for TestServer {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        self.purge(now);
        if to == self.listen {
            self.handle_client(now, from, data);
        } else {
            self.handle_peer(now, from, to, data);
        }
    }

    fn timeout(&mut self, now: Instant) {
        self.purge(now);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.allocations.values().map(|a| a.expires).min()
    }
}
