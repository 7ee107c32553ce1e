//! TURN client scenarios over the simulated network: a client behind a symmetric NAT
//! reaches a peer only through the relay of the test server in `turn_support`.

mod turn_support;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use ferrtc_netsim::endpoints::Socket;
use ferrtc_netsim::{Datagram, Handle, LinkConfig, Machine, NatConfig, NatId, NatKind, Sim};
use ferrtc_stun_ice::turn::{Client, ClientConfig, Event, RequestError, TurnError, TurnTransport};
use ferrtc_types::Bytes;
use rand::SeedableRng;
use turn_support::TestServer;

type ClientNode = Machine<Relay, Event, TurnError>;

/// The client as a simulation endpoint. Over UDP, `handle_receive` returns peer data
/// borrowed from the datagram; the wrapper records it as an [`Event::Data`] so a test sees
/// everything the client delivered as one list of events.
struct Relay {
    client: Client,
    data: VecDeque<Event>,
}

impl Deref for Relay {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for Relay {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// `client`, sending from `local`, as a simulation endpoint.
fn relay(client: Client, local: SocketAddr) -> ClientNode {
    Machine::new(Relay {
        client,
        data: VecDeque::new(),
    })
    .on_receive(|r: &mut Relay, now, from, _to, datagram| {
        if let Some((peer, data)) = r.client.handle_receive(now, from, datagram)? {
            let data = Bytes::copy_from_slice(data);
            r.data.push_back(Event::Data { peer, data });
        }
        Ok(())
    })
    .on_timeout(|r, now| r.client.handle_timeout(now))
    .on_poll_timeout(|r| r.client.poll_timeout())
    .on_event(|r| r.data.pop_front().or_else(|| r.client.poll_event()))
    .on_transmit(move |r, _now| {
        r.client
            .poll_transmit()
            .map(|t| Datagram::new(local, t.destination, t.contents.to_vec()))
    })
}

const CLIENT: &str = "10.0.0.2:5000";
const NAT_IP: &str = "203.0.113.1";
const SERVER: &str = "192.0.2.1:3478";
const RELAY_IP: &str = "192.0.2.2";
const PEER: &str = "198.51.100.7:9000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

struct World {
    sim: Sim,
    client: Handle<ClientNode>,
    server: Handle<TestServer>,
    peer: Handle<Socket>,
    nat: NatId,
}

impl World {
    /// The client behind a symmetric NAT, the server and the peer on the public side, 10 ms
    /// links everywhere (and `loss` on every link).
    fn new(
        seed: u64,
        loss: f64,
        configure: impl FnOnce(&mut ClientConfig, &mut TestServer),
    ) -> Self {
        let mut sim = Sim::new(seed);
        sim.set_default_link(
            LinkConfig::ideal()
                .latency(Duration::from_millis(10))
                .loss(loss),
        );
        let nat = sim.add_nat(NatConfig::new(
            NatKind::Symmetric,
            ip(NAT_IP),
            "10.0.0.0/24".parse::<ferrtc_netsim::Prefix>().unwrap(),
        ));
        let mut server = TestServer::new(addr(SERVER), ip(RELAY_IP), "alice", "secret");
        let mut config = ClientConfig::new(addr(SERVER), TurnTransport::Udp, "alice", "secret");
        configure(&mut config, &mut server);
        let server = sim.add_endpoint([addr(SERVER), SocketAddr::new(ip(RELAY_IP), 0)], server);
        let peer = sim.add_endpoint([addr(PEER)], Socket::new());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let client = Client::new(config, &mut rng);
        let client = sim.add_endpoint([addr(CLIENT)], relay(client, addr(CLIENT)));
        World {
            sim,
            client,
            server,
            peer,
            nat,
        }
    }

    fn turn(&mut self) -> &mut Client {
        &mut self.sim.endpoint_mut(self.client).inner
    }

    fn events(&self) -> &[(std::time::Instant, Event)] {
        &self.sim.endpoint(self.client).events
    }

    fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events().iter().filter(|(_, e)| f(e)).count()
    }

    /// Runs until an event matching `f` has arrived (beyond those already seen).
    fn run_until_event(&mut self, limit: Duration, f: impl Fn(&Event) -> bool + Copy) {
        let before = self.count(f);
        let client = self.client;
        self.sim
            .run_until_cond(limit, move |sim| {
                sim.endpoint(client)
                    .events
                    .iter()
                    .filter(|(_, e)| f(e))
                    .count()
                    > before
            })
            .unwrap_or_else(|e| {
                panic!(
                    "event did not come: {e:?}; events: {:?}; errors: {:?}; server: {:?}",
                    self.events(),
                    self.sim.endpoint(client).errors,
                    self.sim.endpoint(self.server).stats
                )
            });
    }

    fn allocate(&mut self) -> (SocketAddr, SocketAddr) {
        let now = self.sim.now();
        self.turn().allocate(now).unwrap();
        self.run_until_event(Duration::from_secs(60), |e| {
            matches!(e, Event::Allocated { .. })
        });
        let c = &self.sim.endpoint(self.client).inner;
        (c.relayed_address().unwrap(), c.mapped_address().unwrap())
    }

    fn peer_sends(&mut self, to: SocketAddr, data: &[u8]) {
        self.sim
            .endpoint_mut(self.peer)
            .send(addr(PEER), to, data.to_vec());
    }

    fn peer_received(&mut self) -> Vec<(SocketAddr, Vec<u8>)> {
        self.sim
            .endpoint_mut(self.peer)
            .take_received()
            .into_iter()
            .map(|r| (r.from, r.data))
            .collect()
    }

    fn data_events(&self) -> Vec<(SocketAddr, Vec<u8>)> {
        self.events()
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Data { peer, data } => Some((*peer, data.to_vec())),
                _ => None,
            })
            .collect()
    }

    fn settle(&mut self) {
        self.sim.run_for(Duration::from_millis(200));
    }
}

#[test]
fn symmetric_nat_client_reaches_peer_only_through_the_relay() {
    let mut w = World::new(1, 0.0, |_, _| {});
    let (relayed, mapped) = w.allocate();
    assert_eq!(relayed.ip(), ip(RELAY_IP));
    // The server saw the NAT's public side, not the private address.
    assert_eq!(mapped.ip(), ip(NAT_IP));
    assert_eq!(w.sim.endpoint(w.server).stats.challenges, 1);
    assert_eq!(w.sim.endpoint(w.server).stats.allocations, 1);

    // The peer cannot reach the client directly: the symmetric NAT filters it.
    let filtered_before = w.sim.nat_stats(w.nat).dropped_filtered;
    w.peer_sends(mapped, b"direct");
    w.settle();
    assert!(w.data_events().is_empty());
    assert_eq!(w.sim.nat_stats(w.nat).dropped_filtered, filtered_before + 1);

    // Without a permission the relay drops the peer's data, and the client refuses to send.
    w.peer_sends(relayed, b"too early");
    w.settle();
    assert_eq!(w.sim.endpoint(w.server).stats.dropped_no_permission, 1);
    let peer = addr(PEER);
    assert!(w.turn().send_to(peer, b"x").is_err());

    // Permission, then Send and Data indications.
    let now = w.sim.now();
    w.turn().create_permission(now, peer.ip()).unwrap();
    w.run_until_event(Duration::from_secs(10), |e| {
        matches!(e, Event::PermissionCreated(_))
    });
    w.turn().send_to(peer, b"hello via Send").unwrap();
    w.settle();
    assert_eq!(w.peer_received(), [(relayed, b"hello via Send".to_vec())]);
    w.peer_sends(relayed, b"hello via Data");
    w.settle();
    assert_eq!(w.data_events(), [(peer, b"hello via Data".to_vec())]);
    let stats = w.sim.endpoint(w.server).stats;
    assert_eq!((stats.sends, stats.data_indications), (1, 1));

    // Channel, then ChannelData both ways.
    let now = w.sim.now();
    let channel = w.turn().bind_channel(now, peer).unwrap();
    w.run_until_event(Duration::from_secs(10), |e| {
        matches!(e, Event::ChannelBound { .. })
    });
    assert_eq!(w.turn().channel(peer), Some(channel));
    for i in 0..5u8 {
        w.turn().send_to(peer, &[i; 100]).unwrap();
        w.peer_sends(relayed, &[i + 100; 50]);
    }
    w.settle();
    let got = w.peer_received();
    assert_eq!(got.len(), 5);
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, (from, d))| *from == relayed && *d == [i as u8; 100])
    );
    let data = w.data_events();
    assert_eq!(data.len(), 6);
    assert!(
        data[1..]
            .iter()
            .enumerate()
            .all(|(i, (p, d))| *p == peer && *d == [i as u8 + 100; 50])
    );
    let stats = w.sim.endpoint(w.server).stats;
    assert_eq!((stats.channel_data_in, stats.channel_data_out), (5, 5));
    assert_eq!((stats.sends, stats.data_indications), (1, 1));
    assert!(w.sim.endpoint(w.client).errors.is_empty());

    // Deallocate: the relay is gone and later peer data is dropped.
    let now = w.sim.now();
    w.turn().deallocate(now).unwrap();
    w.run_until_event(Duration::from_secs(10), |e| matches!(e, Event::Deallocated));
    assert!(w.sim.endpoint(w.server).relayed_addresses().is_empty());
    assert_eq!(w.sim.endpoint(w.server).stats.deallocations, 1);
    w.peer_sends(relayed, b"after");
    w.settle();
    assert_eq!(w.sim.endpoint(w.server).stats.dropped_no_allocation, 1);
    assert_eq!(w.data_events().len(), 6);
    assert_eq!(w.sim.endpoint(w.client).inner.poll_timeout(), None);
}

#[test]
fn stale_nonce_is_retried_transparently() {
    let mut w = World::new(2, 0.0, |_, _| {});
    let (relayed, _) = w.allocate();
    w.sim.endpoint_mut(w.server).rotate_nonce();
    let now = w.sim.now();
    let peer = addr(PEER);
    w.turn().create_permission(now, peer.ip()).unwrap();
    w.run_until_event(Duration::from_secs(10), |e| {
        matches!(e, Event::PermissionCreated(_))
    });
    assert_eq!(w.sim.endpoint(w.server).stats.stale_nonces, 1);
    assert_eq!(w.sim.endpoint(w.server).stats.permissions, 1);
    // And the new nonce is used from then on: a second rotation costs one more 438 only.
    w.sim.endpoint_mut(w.server).rotate_nonce();
    let now = w.sim.now();
    w.turn().bind_channel(now, peer).unwrap();
    w.run_until_event(Duration::from_secs(10), |e| {
        matches!(e, Event::ChannelBound { .. })
    });
    assert_eq!(w.sim.endpoint(w.server).stats.stale_nonces, 2);
    w.peer_sends(relayed, b"ok");
    w.settle();
    assert_eq!(w.data_events(), [(peer, b"ok".to_vec())]);
}

#[test]
fn refreshes_keep_the_allocation_alive_past_its_lifetime() {
    // A 100-second lifetime: the client refreshes every 50 s, which also keeps the NAT
    // mapping (2-minute timeout) open.
    let mut w = World::new(3, 0.0, |_, server| {
        server.default_lifetime = Duration::from_secs(100);
    });
    let (relayed, _) = w.allocate();
    let peer = addr(PEER);
    let now = w.sim.now();
    w.turn().bind_channel(now, peer).unwrap();
    w.run_until_event(Duration::from_secs(10), |e| {
        matches!(e, Event::ChannelBound { .. })
    });

    // Thirty minutes of virtual time: 18 allocation lifetimes, 6 permission lifetimes,
    // 3 channel lifetimes.
    w.sim.run_for(Duration::from_secs(30 * 60));
    let server = w.sim.endpoint(w.server);
    assert_eq!(server.relayed_addresses(), [relayed]);
    assert_eq!(server.stats.expirations, 0);
    assert_eq!(server.stats.allocations, 1);
    assert!(server.stats.refreshes >= 35, "{:?}", server.stats);
    assert!(server.stats.permissions >= 7, "{:?}", server.stats);
    assert!(server.stats.channel_binds >= 4, "{:?}", server.stats);
    let refreshed = w.count(|e| matches!(e, Event::Refreshed { .. }));
    assert_eq!(refreshed as u64, server.stats.refreshes);
    assert!(w.sim.endpoint(w.client).inner.is_allocated());
    assert_eq!(w.count(|e| matches!(e, Event::AllocationLost(_))), 0);

    // The channel still carries data both ways.
    w.turn().send_to(peer, b"still here").unwrap();
    w.peer_sends(relayed, b"me too");
    w.settle();
    assert_eq!(w.peer_received(), [(relayed, b"still here".to_vec())]);
    assert_eq!(w.data_events(), [(peer, b"me too".to_vec())]);
    assert_eq!(w.sim.endpoint(w.server).stats.channel_data_out, 1);

    // Control: a client that goes away stops refreshing and the server expires the
    // allocation one lifetime later.
    let _gone = w.sim.remove_endpoint(w.client);
    w.sim.run_for(Duration::from_secs(101));
    let server = w.sim.endpoint(w.server);
    assert!(server.relayed_addresses().is_empty());
    assert_eq!(server.stats.expirations, 1);
}

#[test]
fn allocation_survives_loss_through_retransmissions() {
    let mut requests_seen = 0;
    for seed in 10..30 {
        let mut w = World::new(seed, 0.2, |_, _| {});
        let (relayed, _) = w.allocate();
        assert_eq!(relayed.ip(), ip(RELAY_IP));
        let now = w.sim.now();
        w.turn().create_permission(now, addr(PEER).ip()).unwrap();
        w.run_until_event(Duration::from_secs(60), |e| {
            matches!(e, Event::PermissionCreated(_))
        });
        // Retransmitted Allocates were answered, not turned into a second allocation.
        let stats = w.sim.endpoint(w.server).stats;
        assert_eq!(stats.allocations, 1, "seed {seed}");
        requests_seen += stats.challenges + stats.permissions;
    }
    // 20 runs of challenge + Allocate + CreatePermission: the server saw retransmissions.
    assert!(requests_seen > 40, "{requests_seen}");
}

#[test]
fn wrong_password_fails_with_a_typed_error() {
    let mut w = World::new(4, 0.0, |config, _| config.password = "wrong".into());
    let now = w.sim.now();
    w.turn().allocate(now).unwrap();
    w.run_until_event(Duration::from_secs(60), |e| {
        matches!(e, Event::AllocationFailed(_))
    });
    assert_eq!(
        w.events().last().map(|(_, e)| e.clone()),
        Some(Event::AllocationFailed(RequestError::Unauthenticated))
    );
    assert_eq!(w.sim.endpoint(w.server).stats.allocations, 0);
}

#[test]
fn unreachable_server_times_out() {
    let mut w = World::new(5, 1.0, |_, _| {});
    let start = w.sim.now();
    w.turn().allocate(start).unwrap();
    w.run_until_event(Duration::from_secs(60), |e| {
        matches!(e, Event::AllocationFailed(_))
    });
    assert_eq!(
        w.events().last().map(|(_, e)| e.clone()),
        Some(Event::AllocationFailed(RequestError::Timeout))
    );
    assert_eq!(w.sim.now() - start, Duration::from_millis(39_500));
}

#[test]
fn ipv6_allocation_relays_both_ways() {
    let mut sim = Sim::new(6);
    sim.set_default_link(LinkConfig::ideal().latency(Duration::from_millis(5)));
    let server_addr = addr("[2001:db8::1]:3478");
    let relay_ip = ip("2001:db8::2");
    let client_addr = addr("[2001:db8:1::10]:5000");
    let peer = addr("[2001:db8:2::20]:9000");
    let server = sim.add_endpoint(
        [server_addr, SocketAddr::new(relay_ip, 0)],
        TestServer::new(server_addr, relay_ip, "alice", "secret"),
    );
    let peer_node = sim.add_endpoint([peer], Socket::new());
    let mut config = ClientConfig::new(server_addr, TurnTransport::Udp, "alice", "secret");
    config.address_family = Some(ferrtc_stun_ice::stun::AddressFamily::V6);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(6);
    let client = sim.add_endpoint(
        [client_addr],
        relay(Client::new(config, &mut rng), client_addr),
    );
    let now = sim.now();
    sim.endpoint_mut(client).inner.allocate(now).unwrap();
    sim.run_until_cond(Duration::from_secs(10), |sim| {
        sim.endpoint(client).inner.is_allocated()
    })
    .unwrap();
    let relayed = sim.endpoint(client).inner.relayed_address().unwrap();
    assert_eq!(relayed.ip(), relay_ip);
    assert_eq!(
        sim.endpoint(client).inner.mapped_address(),
        Some(client_addr)
    );
    // An IPv4 peer is refused before anything is sent.
    assert!(
        sim.endpoint_mut(client)
            .inner
            .create_permission(now, ip("192.0.2.9"))
            .is_err()
    );
    let now = sim.now();
    sim.endpoint_mut(client)
        .inner
        .bind_channel(now, peer)
        .unwrap();
    sim.run_until_cond(Duration::from_secs(10), |sim| {
        sim.endpoint(client).inner.channel(peer).is_some()
    })
    .unwrap();
    sim.endpoint_mut(client)
        .inner
        .send_to(peer, b"v6 up")
        .unwrap();
    sim.endpoint_mut(peer_node)
        .send(peer, relayed, b"v6 down".to_vec());
    sim.run_for(Duration::from_millis(100));
    let got: Vec<_> = sim
        .endpoint_mut(peer_node)
        .take_received()
        .into_iter()
        .map(|r| (r.from, r.data))
        .collect();
    assert_eq!(got, [(relayed, b"v6 up".to_vec())]);
    let data: Vec<_> = sim
        .endpoint(client)
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Data { peer, data } => Some((*peer, data.to_vec())),
            _ => None,
        })
        .collect();
    assert_eq!(data, [(peer, b"v6 down".to_vec())]);
    let stats = sim.endpoint(server).stats;
    assert_eq!((stats.channel_data_in, stats.channel_data_out), (1, 1));
}
