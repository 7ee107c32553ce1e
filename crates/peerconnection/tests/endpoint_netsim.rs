//! One server `Endpoint` on one address answering 50 clients over a simulated network, in
//! virtual time: each client's data channel is echoed back to it and to nobody else, an ICE
//! restart keeps its routing, a hostile sender on the server's port changes nothing, and
//! removing a connection frees its routes. Plus the bounds of the learned-address table
//! under authenticated requests from thousands of addresses.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrtc_dtls::Certificate;
use ferrtc_netsim::endpoints::Socket;
use ferrtc_netsim::{Datagram, Handle, LinkConfig, Sim};
use ferrtc_peerconnection::endpoint::{ConnectionHandle, Endpoint, EndpointConfig, EndpointError};
use ferrtc_peerconnection::{
    ConnectionState, DataChannelId, DataChannelInit, Description, Event, PeerConfig, PeerConnection,
};
use ferrtc_stun_ice::stun::{
    Attribute, Class, IntegrityKey, Message, MessageBuilder, MessageType, Method, TransactionId,
};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

const CLIENTS: usize = 50;

fn server_addr() -> SocketAddr {
    "192.0.2.1:3478".parse().unwrap()
}

fn client_addr(i: usize) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, i as u8 + 1)),
        40_000 + i as u16,
    )
}

fn stun_addr() -> SocketAddr {
    "192.0.2.100:3478".parse().unwrap()
}

/// What the STUN server tells everyone their address is, as a NAT would have it.
fn mapped_ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1))
}

/// A STUN server (RFC 8489 §6.3.1): answers each Binding request with the sender's
/// address as seen behind a made-up NAT.
#[derive(Default)]
struct StunServer {
    out: std::collections::VecDeque<Datagram>,
    answered: usize,
}

impl ferrtc_netsim::Endpoint for StunServer {
    fn receive(&mut self, _now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let Ok(m) = Message::new_checked(data) else {
            return;
        };
        if (m.class(), m.method()) != (Class::Request, Method::BINDING) {
            return;
        }
        let mut out = Vec::new();
        let kind = MessageType::new(Class::SuccessResponse, Method::BINDING);
        let mut b = MessageBuilder::new(&mut out, kind, m.transaction_id());
        let mapped = SocketAddr::new(mapped_ip(), from.port());
        b.add(&Attribute::XorMappedAddress(mapped)).unwrap();
        b.add_fingerprint().unwrap();
        let reply = b.finish().to_vec();
        self.out.push_back(Datagram::new(to, from, reply));
        self.answered += 1;
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.out.pop_front()
    }
}

fn rng(seed: u64) -> Box<ChaCha20Rng> {
    Box::new(ChaCha20Rng::seed_from_u64(seed))
}

/// The server: one endpoint, echoing every data channel message to where it came from.
struct Server {
    ep: Endpoint,
    events: HashMap<ConnectionHandle, Vec<Event>>,
    candidates: HashMap<ConnectionHandle, Vec<Option<ferrtc_sdp::Candidate>>>,
    dropped: Vec<EndpointError>,
}

impl Server {
    fn drain(&mut self, now: Instant) {
        while let Some((h, ev)) = self.ep.poll_event() {
            match &ev {
                Event::IceCandidate(c) => self.candidates.entry(h).or_default().push(c.clone()),
                Event::DataChannelMessage { id, data, binary } => {
                    let mut pc = self.ep.get_mut(h).unwrap();
                    pc.send_data(now, *id, data.clone(), *binary).unwrap();
                }
                _ => {}
            }
            self.events.entry(h).or_default().push(ev);
        }
    }

    fn messages(&self, h: ConnectionHandle) -> Vec<Vec<u8>> {
        messages(self.events.get(&h).map_or(&[][..], |v| v))
    }
}

impl ferrtc_netsim::Endpoint for Server {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        if let Err(e) = self.ep.handle_receive(now, to, from, BytesMut::from(data)) {
            // Keep a sample, not 10,000 of them.
            if self.dropped.len() < 64 {
                self.dropped.push(e);
            }
        }
        self.drain(now);
    }

    fn timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        self.drain(now);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.ep.poll_transmit().map(datagram)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.ep.poll_timeout()
    }
}

/// A client: one peer connection on its own address.
struct Client {
    pc: PeerConnection,
    dc: DataChannelId,
    events: Vec<Event>,
    candidates: Vec<Option<ferrtc_sdp::Candidate>>,
}

impl Client {
    fn drain(&mut self) {
        while let Some(ev) = self.pc.poll_event() {
            if let Event::IceCandidate(c) = &ev {
                self.candidates.push(c.clone());
            }
            self.events.push(ev);
        }
    }

    fn open(&self) -> bool {
        self.events.contains(&Event::DataChannelOpen(self.dc))
    }
}

impl ferrtc_netsim::Endpoint for Client {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let _ = self.pc.handle_receive(now, to, from, BytesMut::from(data));
        self.drain();
    }

    fn timeout(&mut self, now: Instant) {
        self.pc.handle_timeout(now);
        self.drain();
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.pc.poll_transmit().map(datagram)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.pc.poll_timeout()
    }
}

fn datagram(t: ferrtc_types::Transmit) -> Datagram {
    match t.source {
        Some(src) => Datagram::new(src, t.destination, t.contents.to_vec()),
        None => Datagram::any_source(t.destination, t.contents.to_vec()),
    }
}

fn messages(events: &[Event]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::DataChannelMessage { data, .. } => Some(data.to_vec()),
            _ => None,
        })
        .collect()
}

struct World {
    sim: Sim,
    server: Handle<Server>,
    stun: Handle<StunServer>,
    server_cert: Arc<Certificate>,
    clients: Vec<(Handle<Client>, ConnectionHandle)>,
    /// Each client's current address.
    addrs: Vec<SocketAddr>,
}

impl World {
    fn new(seed: u64) -> World {
        let mut sim = Sim::new(seed);
        sim.set_default_link(LinkConfig::ideal().latency(Duration::from_millis(15)));
        let server = sim.add_endpoint(
            [server_addr()],
            Server {
                ep: Endpoint::new(EndpointConfig::default()),
                events: HashMap::new(),
                candidates: HashMap::new(),
                dropped: Vec::new(),
            },
        );
        let stun = sim.add_endpoint([stun_addr()], StunServer::default());
        World {
            sim,
            server,
            stun,
            server_cert: Arc::new(Certificate::generate().unwrap()),
            clients: Vec::new(),
            addrs: Vec::new(),
        }
    }

    /// A client on its own address offers a data channel; the server answers it with a
    /// new connection in its endpoint. The SDP goes as text.
    fn connect(&mut self, i: usize) {
        let now = self.sim.now();
        let cert = Arc::new(Certificate::generate().unwrap());
        let mut pc = PeerConnection::new(PeerConfig::new(cert), now, rng(1000 + i as u64)).unwrap();
        pc.add_local_address(now, client_addr(i)).unwrap();
        pc.end_of_local_addresses(now);
        let dc = pc
            .create_data_channel(now, DataChannelInit::new(format!("chat-{i}")))
            .unwrap();
        let offer = pc.create_offer().unwrap();
        pc.set_local_description(now, &offer).unwrap();

        let mut cfg = PeerConfig::new(Arc::clone(&self.server_cert));
        // Every server connection asks the same STUN server, through the one port.
        cfg.ice.stun_servers = vec![stun_addr()];
        let mut spc = PeerConnection::new(cfg, now, rng(2000 + i as u64)).unwrap();
        spc.add_local_address(now, server_addr()).unwrap();
        spc.end_of_local_addresses(now);
        spc.set_remote_description(now, &Description::offer(offer.sdp.clone()))
            .unwrap();
        let answer = spc.create_answer().unwrap();
        spc.set_local_description(now, &answer).unwrap();
        let server = self.sim.endpoint_mut(self.server);
        let h = server.ep.insert(spc);
        server.drain(now);

        pc.set_remote_description(now, &Description::answer(answer.sdp.clone()))
            .unwrap();
        let mut client = Client {
            pc,
            dc,
            events: Vec::new(),
            candidates: Vec::new(),
        };
        client.drain();
        let c = self.sim.add_endpoint([client_addr(i)], client);
        self.clients.push((c, h));
        self.addrs.push(client_addr(i));
    }

    /// Moves trickled candidates both ways, as the signalling channel would.
    fn trickle(&mut self) {
        let now = self.sim.now();
        for &(c, h) in &self.clients {
            let from_client = std::mem::take(&mut self.sim.endpoint_mut(c).candidates);
            let server = self.sim.endpoint_mut(self.server);
            let from_server = server.candidates.remove(&h).unwrap_or_default();
            if let Some(mut pc) = server.ep.get_mut(h) {
                for cand in &from_client {
                    let _ = pc.add_ice_candidate(now, cand.as_ref());
                }
            }
            server.drain(now);
            let client = self.sim.endpoint_mut(c);
            for cand in &from_server {
                let _ = client.pc.add_ice_candidate(now, cand.as_ref());
            }
            client.drain();
        }
    }

    fn run_until(&mut self, limit: Duration, cond: impl Fn(&World) -> bool) {
        let deadline = self.sim.now() + limit;
        while !cond(self) {
            self.trickle();
            assert!(self.sim.now() < deadline, "not reached within {limit:?}");
            match self.sim.next_event() {
                Some(t) if t <= deadline => {
                    self.sim.step();
                }
                _ => self.sim.run_until(deadline),
            }
        }
    }

    fn server(&self) -> &Server {
        self.sim.endpoint(self.server)
    }

    fn client(&self, i: usize) -> &Client {
        self.sim.endpoint(self.clients[i].0)
    }

    fn send(&mut self, i: usize, text: String) {
        let now = self.sim.now();
        let c = self.sim.endpoint_mut(self.clients[i].0);
        let dc = c.dc;
        c.pc.send_data(now, dc, Bytes::from(text), false).unwrap();
        c.drain();
    }

    /// Every client `i` in `which` sends `round` messages tagged with its index and gets
    /// exactly those back: the echo went to the right client and to it alone.
    fn echo_round(&mut self, which: &[usize], tag: &str, count: usize) {
        let before: Vec<usize> = (0..self.clients.len())
            .map(|i| messages(&self.client(i).events).len())
            .collect();
        for j in 0..count {
            for &i in which {
                self.send(i, format!("{tag}-{i}-{j}"));
            }
            self.sim.run_for(Duration::from_millis(20));
        }
        let want = |i: usize| -> Vec<Vec<u8>> {
            (0..count)
                .map(|j| format!("{tag}-{i}-{j}").into_bytes())
                .collect()
        };
        let targets: Vec<(usize, usize)> = which.iter().map(|&i| (i, before[i] + count)).collect();
        self.run_until(Duration::from_secs(30), |w| {
            targets
                .iter()
                .all(|&(i, n)| messages(&w.client(i).events).len() >= n)
        });
        for i in 0..self.clients.len() {
            let got = messages(&self.client(i).events);
            let new = got[before[i]..].to_vec();
            if which.contains(&i) {
                assert_eq!(new, want(i), "client {i} got its own echoes, in order");
                let heard = self.server().messages(self.clients[i].1);
                assert!(
                    heard.ends_with(&want(i)),
                    "client {i}'s connection heard it"
                );
            } else {
                assert!(
                    new.is_empty(),
                    "client {i} got someone else's echo: {new:?}"
                );
            }
        }
    }

    fn assert_routes(&self) {
        let ep = &self.server().ep;
        for (i, &(_, h)) in self.clients.iter().enumerate() {
            assert_eq!(
                ep.connection_by_address(self.addrs[i]),
                Some(h),
                "client {i}"
            );
            let ufrag = &ep
                .get(h)
                .unwrap()
                .negotiator()
                .local_ice_credentials()
                .ufrag;
            assert_eq!(ep.connection_by_ufrag(ufrag), Some(h), "client {i}");
        }
    }
}

/// A Binding request as a peer's ICE agent sends it (RFC 8445 §7.2.2), with integrity
/// under `pwd` when given.
fn binding_request(username: Option<&str>, pwd: Option<&str>, rng: &mut impl RngCore) -> Vec<u8> {
    let mut txid = [0u8; 12];
    rng.fill_bytes(&mut txid);
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(
        &mut out,
        MessageType::new(Class::Request, Method::BINDING),
        TransactionId(txid),
    );
    if let Some(u) = username {
        b.add(&Attribute::Username(u)).unwrap();
    }
    b.add(&Attribute::Priority(0x6e00_01ff))
        .unwrap()
        .add(&Attribute::IceControlling(rng.next_u64()))
        .unwrap();
    if let Some(p) = pwd {
        b.add_message_integrity(&IntegrityKey::short_term(p))
            .unwrap();
    }
    b.add_fingerprint().unwrap();
    b.finish().to_vec()
}

fn random_addr(rng: &mut impl Rng) -> SocketAddr {
    // 10.0.0.0/8: no endpoint lives there, so nothing answers back.
    let ip = Ipv4Addr::new(10, rng.random(), rng.random(), rng.random());
    SocketAddr::new(IpAddr::V4(ip), rng.random_range(1024..=65535))
}

#[test]
fn fifty_clients_behind_one_port_restart_hostile_traffic_and_removal() {
    let mut w = World::new(7);
    for i in 0..CLIENTS {
        w.connect(i);
    }
    assert_eq!(w.server().ep.len(), CLIENTS);
    assert_eq!(w.server().ep.ufrag_count(), CLIENTS);
    w.run_until(Duration::from_secs(30), |w| {
        (0..CLIENTS).all(|i| {
            w.client(i).open() && w.client(i).pc.connection_state() == ConnectionState::Connected
        })
    });
    // Each server connection learned exactly its client's one address, from the first
    // Binding request, and routed the rest by it.
    w.assert_routes();
    let ep = &w.server().ep;
    assert_eq!(ep.address_count(), CLIENTS);
    for &(_, h) in &w.clients {
        assert_eq!(ep.addresses(h).count(), 1);
    }
    let s = ep.stats();
    assert!(s.routed_by_address > s.routed_by_ufrag, "{s:?}");
    assert_eq!(s.addresses_learned, CLIENTS as u64, "{s:?}");
    assert_eq!(s.addresses_evicted, 0);
    // The STUN server's answers, all from one address, reached each connection by its
    // transaction id: every one gathered its server-reflexive candidate, and the STUN
    // server's address was never learned.
    assert!(w.sim.endpoint(w.stun).answered >= CLIENTS);
    assert!(s.routed_by_transaction >= CLIENTS as u64, "{s:?}");
    assert_eq!(ep.connection_by_address(stun_addr()), None);
    for &(_, h) in &w.clients {
        let srflx = w.server().events[&h].iter().any(
            |e| matches!(e, Event::IceCandidate(Some(c)) if c.address == mapped_ip().to_string()),
        );
        assert!(srflx, "{h:?} gathered a server-reflexive candidate");
    }

    // Data both ways: every client hears its own echoes and nobody else's.
    let all: Vec<usize> = (0..CLIENTS).collect();
    w.echo_round(&all, "first", 3);

    // Client 7 moves to a new address (its old one is gone) and restarts ICE: new
    // credentials on both sides. Its first check from the new address reaches the server
    // with the new ufrag, which routes it to the same connection.
    let (c7, h7) = w.clients[7];
    let moved: SocketAddr = "198.51.100.207:47007".parse().unwrap();
    let old_ufrag = w
        .server()
        .ep
        .get(h7)
        .unwrap()
        .negotiator()
        .local_ice_credentials()
        .ufrag
        .clone();
    w.sim.unbind(client_addr(7));
    w.sim.bind(c7.id(), moved);
    w.addrs[7] = moved;
    let now = w.sim.now();
    let client = w.sim.endpoint_mut(c7);
    client.pc.add_local_address(now, moved).unwrap();
    client.pc.restart_ice().unwrap();
    let offer = client.pc.create_offer().unwrap();
    client.pc.set_local_description(now, &offer).unwrap();
    client.drain();
    let server = w.sim.endpoint_mut(w.server);
    let answer = {
        let mut pc = server.ep.get_mut(h7).unwrap();
        pc.set_remote_description(now, &Description::offer(offer.sdp.clone()))
            .unwrap();
        let answer = pc.create_answer().unwrap();
        pc.set_local_description(now, &answer).unwrap();
        answer
    };
    server.drain(now);
    let new_ufrag = server
        .ep
        .get(h7)
        .unwrap()
        .negotiator()
        .local_ice_credentials()
        .ufrag
        .clone();
    assert_ne!(new_ufrag, old_ufrag, "the answerer restarts too");
    assert_eq!(server.ep.connection_by_ufrag(&new_ufrag), Some(h7));
    assert_eq!(
        server.ep.connection_by_ufrag(&old_ufrag),
        None,
        "the old ufrag is gone"
    );
    assert_eq!(server.ep.ufrag_count(), CLIENTS);
    let client = w.sim.endpoint_mut(c7);
    client
        .pc
        .set_remote_description(now, &Description::answer(answer.sdp.clone()))
        .unwrap();
    client.drain();
    w.run_until(Duration::from_secs(10), |w| {
        w.server().ep.connection_by_address(moved) == Some(h7)
    });
    w.echo_round(&[7], "restarted", 3);
    w.echo_round(&all, "second", 2);
    w.assert_routes();
    // The old address stays learned (within the bounds) until evicted or removed.
    let ep = &w.server().ep;
    assert_eq!(
        ep.addresses(h7).collect::<Vec<_>>(),
        [client_addr(7), moved]
    );
    assert_eq!(ep.address_count(), CLIENTS + 1);

    // A hostile sender on the server's port: garbage, Binding requests with unknown
    // ufrags, with a real ufrag and the wrong password, without a username, DTLS- and
    // RTP-looking junk; from a bound socket and spoofed from 10,000 random addresses.
    let bad = w
        .sim
        .add_endpoint(["203.0.113.66:666".parse().unwrap()], Socket::new());
    let mut r = ChaCha20Rng::seed_from_u64(99);
    let real_ufrag = w
        .server()
        .ep
        .get(w.clients[3].1)
        .unwrap()
        .negotiator()
        .local_ice_credentials()
        .ufrag
        .clone();
    let before = w.server().ep.stats();
    let dropped_before = before.unknown_address
        + before.malformed_stun
        + before.no_username
        + before.unknown_ufrag
        + before.unauthenticated;
    const FLOOD: usize = 10_000;
    for k in 0..FLOOD {
        let data = match k % 6 {
            0 => {
                let mut d = vec![0u8; r.random_range(0..200)];
                r.fill_bytes(&mut d);
                d
            }
            1 => {
                let u = format!("{:08x}:{:08x}", r.next_u32(), r.next_u32());
                binding_request(Some(&u), Some("not-the-password-at-all-x"), &mut r)
            }
            2 => {
                let u = format!("{real_ufrag}:{:08x}", r.next_u32());
                binding_request(Some(&u), Some("not-the-password-at-all-x"), &mut r)
            }
            3 => binding_request(None, None, &mut r),
            4 => {
                let mut d = vec![0x16, 0xfe, 0xfd, 0, 0];
                d.extend((0..60).map(|_| r.random::<u8>()));
                d
            }
            _ => {
                let mut d = vec![0x80, 0x6f];
                d.extend((0..100).map(|_| r.random::<u8>()));
                d
            }
        };
        let from = random_addr(&mut r);
        w.sim
            .inject(Datagram::new(from, server_addr(), data.clone()));
        if k % 100 == 0 {
            w.sim
                .endpoint_mut(bad)
                .send("203.0.113.66:666".parse().unwrap(), server_addr(), data);
            // The flood lasts about a second of virtual time, while the clients talk.
            w.sim.run_for(Duration::from_millis(10));
        }
    }
    w.echo_round(&all, "under-fire", 2);
    let ep = &w.server().ep;
    let s = ep.stats();
    let dropped =
        s.unknown_address + s.malformed_stun + s.no_username + s.unknown_ufrag + s.unauthenticated;
    assert_eq!(
        dropped - dropped_before,
        (FLOOD + FLOOD / 100) as u64,
        "{s:?}"
    );
    assert!(
        s.unknown_ufrag - before.unknown_ufrag >= (FLOOD / 6) as u64,
        "{s:?}"
    );
    assert!(
        s.unauthenticated - before.unauthenticated >= (FLOOD / 6) as u64,
        "{s:?}"
    );
    assert_eq!(
        s.addresses_learned, before.addresses_learned,
        "nothing learned from it"
    );
    // Memory stays as it was: one ufrag per connection, the addresses learned before.
    assert_eq!(ep.address_count(), CLIENTS + 1);
    assert_eq!(ep.ufrag_count(), CLIENTS);
    assert_eq!(ep.len(), CLIENTS);
    for (h, pc) in ep.iter() {
        assert_eq!(pc.connection_state(), ConnectionState::Connected, "{h:?}");
    }
    assert!(matches!(
        w.server().dropped.first(),
        Some(EndpointError::UnknownAddress { .. } | EndpointError::MalformedStun { .. })
    ));
    w.assert_routes();

    // Removing a connection frees its routes; its client's datagrams are then dropped,
    // the others carry on.
    let (c0, h0) = w.clients[0];
    let ufrag0 = w
        .server()
        .ep
        .get(h0)
        .unwrap()
        .negotiator()
        .local_ice_credentials()
        .ufrag
        .clone();
    let server = w.sim.endpoint_mut(w.server);
    let pc0 = server.ep.remove(h0).unwrap();
    assert_eq!(pc0.connection_state(), ConnectionState::Connected);
    assert!(server.ep.get(h0).is_none() && server.ep.get_mut(h0).is_none());
    assert_eq!(server.ep.connection_by_address(client_addr(0)), None);
    assert_eq!(server.ep.connection_by_ufrag(&ufrag0), None);
    assert_eq!(server.ep.addresses(h0).count(), 0);
    assert_eq!(server.ep.len(), CLIENTS - 1);
    assert_eq!(server.ep.address_count(), CLIENTS);
    assert_eq!(server.ep.ufrag_count(), CLIENTS - 1);
    let unknown = server.ep.stats().unknown_address;
    w.send(0, "into the void".into());
    let rest: Vec<usize> = (1..CLIENTS).collect();
    w.echo_round(&rest, "after-removal", 2);
    assert!(
        w.server().ep.stats().unknown_address > unknown,
        "client 0's datagram dropped"
    );
    assert!(
        !messages(&w.client(0).events)
            .iter()
            .any(|m| m == b"into the void")
    );
    let _ = c0;
}

/// Authenticated Binding requests (as from a peer that knows the password) from thousands
/// of addresses: the table keeps to its bounds, an address in use survives, and removal
/// clears what is left.
#[test]
fn learned_addresses_are_bounded_per_connection_and_in_total() {
    let now = Instant::now();
    let cert = Arc::new(Certificate::generate().unwrap());
    let mut ep = Endpoint::new(EndpointConfig {
        max_addresses_per_connection: 8,
        max_addresses: 20,
        ..EndpointConfig::default()
    });
    let handles: Vec<ConnectionHandle> = (0..4)
        .map(|i| {
            let pc = PeerConnection::new(PeerConfig::new(Arc::clone(&cert)), now, rng(i)).unwrap();
            ep.insert(pc)
        })
        .collect();
    let creds: Vec<(String, String)> = handles
        .iter()
        .map(|h| {
            let c = ep.get(*h).unwrap().negotiator().local_ice_credentials();
            (c.ufrag.clone(), c.pwd.clone())
        })
        .collect();
    let local = server_addr();
    let mut r = ChaCha20Rng::seed_from_u64(5);
    let request = |i: usize, r: &mut ChaCha20Rng| {
        let (u, p) = &creds[i];
        BytesMut::from(&binding_request(Some(&format!("{u}:peer")), Some(p), r)[..])
    };

    // Connection 0 learns its peer's real address, which keeps carrying traffic while 5,000
    // other addresses authenticate as connection 0.
    let real: SocketAddr = "198.51.100.1:5000".parse().unwrap();
    let routed = |res: Result<ConnectionHandle, EndpointError>| match res {
        Ok(h) | Err(EndpointError::Rejected { handle: h, .. }) => Some(h),
        Err(_) => None,
    };
    assert_eq!(
        routed(ep.handle_receive(now, local, real, request(0, &mut r))),
        Some(handles[0])
    );
    for k in 0..5_000 {
        let from = random_addr(&mut r);
        assert_eq!(
            routed(ep.handle_receive(now, local, from, request(0, &mut r))),
            Some(handles[0])
        );
        if k % 4 == 0 {
            // DTLS-looking bytes from the real address: routed by address, without parsing.
            let res = ep.handle_receive(
                now,
                local,
                real,
                BytesMut::from(&[0x17, 0xfe, 0xfd, 0, 1][..]),
            );
            assert_eq!(routed(res), Some(handles[0]));
        }
        assert!(ep.addresses(handles[0]).count() <= 8);
    }
    assert_eq!(ep.addresses(handles[0]).count(), 8);
    assert_eq!(
        ep.connection_by_address(real),
        Some(handles[0]),
        "the address in use survived"
    );
    assert_eq!(ep.address_count(), 8);

    // Every connection floods: the total bound holds.
    for k in 0..8_000 {
        let i = k % 4;
        let from = random_addr(&mut r);
        assert_eq!(
            routed(ep.handle_receive(now, local, from, request(i, &mut r))),
            Some(handles[i])
        );
        assert!(ep.address_count() <= 20);
        for h in &handles {
            assert!(ep.addresses(*h).count() <= 8);
        }
    }
    assert_eq!(ep.address_count(), 20);
    let s = ep.stats();
    assert_eq!(s.addresses_learned, 1 + 5_000 + 8_000);
    assert_eq!(s.addresses_evicted, s.addresses_learned - 20);
    assert_eq!(
        ep.addresses(handles.iter().copied().next().unwrap())
            .count() as u64
            + handles[1..]
                .iter()
                .map(|h| ep.addresses(*h).count() as u64)
                .sum::<u64>(),
        20
    );

    // An address that moves to another connection (a NAT reusing a port) follows its
    // authenticated request.
    let moved = ep.addresses(handles[1]).next().unwrap();
    assert_eq!(
        routed(ep.handle_receive(now, local, moved, request(2, &mut r))),
        Some(handles[2])
    );
    assert_eq!(ep.connection_by_address(moved), Some(handles[2]));
    assert!(!ep.addresses(handles[1]).any(|a| a == moved));

    // Removal frees the routes; stale handles name nothing, even once the slot is reused.
    let left: Vec<SocketAddr> = ep.addresses(handles[2]).collect();
    let pc = ep.remove(handles[2]).unwrap();
    assert!(ep.remove(handles[2]).is_none());
    assert_eq!(ep.connection_by_ufrag(&creds[2].0), None);
    for a in &left {
        assert_eq!(ep.connection_by_address(*a), None);
        let res = ep.handle_receive(now, local, *a, BytesMut::from(&[0x17, 0xfe, 0xfd][..]));
        assert_eq!(res, Err(EndpointError::UnknownAddress { from: *a }));
    }
    assert_eq!(
        ep.handle_receive(now, local, left[0], request(2, &mut r)),
        Err(EndpointError::UnknownUfrag { from: left[0] })
    );
    let again = ep.insert(pc);
    assert_eq!(again.index(), handles[2].index());
    assert_ne!(again, handles[2]);
    assert!(ep.get(handles[2]).is_none());
    assert_eq!(ep.connection_by_ufrag(&creds[2].0), Some(again));
    assert_eq!(ep.len(), 4);
}

/// Output is taken one datagram per connection in turn: a connection with a lot to send
/// does not starve the others.
#[test]
fn transmits_take_turns_between_connections() {
    let mut now = Instant::now();
    let server_cert = Arc::new(Certificate::generate().unwrap());
    let mut ep = Endpoint::default();
    let mut clients: Vec<(PeerConnection, SocketAddr, ConnectionHandle)> = Vec::new();
    for i in 0..3 {
        let addr = client_addr(i);
        let cert = Arc::new(Certificate::generate().unwrap());
        let mut pc = PeerConnection::new(PeerConfig::new(cert), now, rng(10 + i as u64)).unwrap();
        pc.add_local_address(now, addr).unwrap();
        pc.end_of_local_addresses(now);
        pc.create_data_channel(now, DataChannelInit::new("bulk"))
            .unwrap();
        let offer = pc.create_offer().unwrap();
        pc.set_local_description(now, &offer).unwrap();
        let offer = pc.local_description().unwrap();
        let cfg = PeerConfig::new(Arc::clone(&server_cert));
        let mut spc = PeerConnection::new(cfg, now, rng(20 + i as u64)).unwrap();
        spc.add_local_address(now, server_addr()).unwrap();
        spc.end_of_local_addresses(now);
        spc.set_remote_description(now, &Description::offer(offer.sdp))
            .unwrap();
        let answer = spc.create_answer().unwrap();
        spc.set_local_description(now, &answer).unwrap();
        let answer = spc.local_description().unwrap();
        pc.set_remote_description(now, &Description::answer(answer.sdp))
            .unwrap();
        clients.push((pc, addr, ep.insert(spc)));
    }
    // Two in-memory hops until the server has every channel open.
    let mut channels: HashMap<ConnectionHandle, DataChannelId> = HashMap::new();
    for _ in 0..100_000 {
        for (pc, addr, _) in &mut clients {
            while let Some(t) = pc.poll_transmit() {
                let d = BytesMut::from(&t.contents[..]);
                let _ = ep.handle_receive(now, server_addr(), *addr, d);
            }
            while pc.poll_event().is_some() {}
        }
        while let Some(t) = ep.poll_transmit() {
            if let Some((pc, addr, _)) = clients.iter_mut().find(|c| c.1 == t.destination) {
                let _ =
                    pc.handle_receive(now, *addr, server_addr(), BytesMut::from(&t.contents[..]));
            }
        }
        while let Some((h, ev)) = ep.poll_event() {
            if let Event::DataChannelOpen(id) = ev {
                channels.insert(h, id);
            }
        }
        if channels.len() == clients.len() {
            break;
        }
        let next = clients
            .iter()
            .filter_map(|c| c.0.poll_timeout())
            .chain(ep.poll_timeout())
            .min();
        now = next.unwrap_or(now + Duration::from_millis(10)).max(now);
        for c in &mut clients {
            c.0.handle_timeout(now);
        }
        ep.handle_timeout(now);
    }
    assert_eq!(channels.len(), clients.len(), "every channel opened");

    // Connection 0 queues ten times what the others do; then the output is drained.
    for (k, (_, _, h)) in clients.iter().enumerate() {
        let mut pc = ep.get_mut(*h).unwrap();
        for _ in 0..if k == 0 { 40 } else { 4 } {
            pc.send_data(now, channels[h], Bytes::from(vec![k as u8; 1000]), true)
                .unwrap();
        }
    }
    let order: Vec<SocketAddr> = std::iter::from_fn(|| ep.poll_transmit())
        .map(|t| t.destination)
        .collect();
    let count = |a: SocketAddr, within: &[SocketAddr]| within.iter().filter(|d| **d == a).count();
    let fewest = clients.iter().map(|c| count(c.1, &order)).min().unwrap();
    assert!(
        fewest >= 2,
        "each connection had several datagrams: {order:?}"
    );
    // While every connection still has output, each one gets one datagram per turn.
    let turns = &order[..fewest * clients.len()];
    for (n, round) in turns.chunks(clients.len()).enumerate() {
        for c in &clients {
            assert_eq!(count(c.1, round), 1, "turn {n}: {round:?}");
        }
    }
}
