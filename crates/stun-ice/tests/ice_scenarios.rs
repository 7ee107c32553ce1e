//! ICE agent scenarios over `ferrtc-netsim`: virtual time, seeded links and RFC 4787 NATs.
//! Each scenario asserts the selected pair and the sequence of connection states.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrtc_netsim::{Datagram, Endpoint, Handle, LinkConfig, NatConfig, NatKind, Sim};
use ferrtc_stun_ice::ice::{
    Agent, Candidate, CandidateKind, ConnectionState, GatheringState, IceConfig, IceEvent, IceRole,
    ReceiveError, SelectedPair, TcpType, Transport, TransportProtocol,
};
use ferrtc_stun_ice::stun::{
    Attribute, Class, IntegrityKey, Message, MessageBuilder, MessageType, Method, TransactionId,
};
use ferrtc_stun_ice::turn;
use rand::SeedableRng;
use turn_support::TestServer;

mod turn_support;

/// One agent attached to the simulated network, recording what it reports.
struct Node {
    agent: Agent,
    states: Vec<(Instant, ConnectionState)>,
    gathering: Vec<GatheringState>,
    selected: Vec<(Instant, SelectedPair)>,
    /// Local candidates not yet signalled to the peer.
    outbox: Vec<Candidate>,
    /// End-of-candidates not yet signalled.
    eoc_pending: bool,
    errors: Vec<ReceiveError>,
    /// The driver's TURN client, whose relayed address the agent uses as a candidate.
    turn: Option<TurnDriver>,
    /// Local TCP candidate addresses: what arrives there is a message of an RFC 6544
    /// connection (netsim carries it as one datagram, standing in for RFC 4571 framing).
    tcp_locals: Vec<SocketAddr>,
}

/// What a driver does with a TURN client (RFC 8656) for the agent: allocation events become a
/// relayed candidate, datagrams the agent sends from the relayed address go through the
/// client (after asking for a permission), relayed data comes back to the agent as received
/// on the relayed address.
struct TurnDriver {
    client: turn::Client,
    host: SocketAddr,
    relayed: Option<SocketAddr>,
    permissions: Vec<std::net::IpAddr>,
}

impl Node {
    fn new(agent: Agent) -> Node {
        Node {
            agent,
            states: Vec::new(),
            gathering: Vec::new(),
            selected: Vec::new(),
            outbox: Vec::new(),
            eoc_pending: false,
            errors: Vec::new(),
            turn: None,
            tcp_locals: Vec::new(),
        }
    }

    fn drain(&mut self, now: Instant) {
        if let Some(t) = &mut self.turn {
            while let Some(ev) = t.client.poll_event() {
                if let turn::Event::Allocated {
                    relayed, mapped, ..
                } = ev
                {
                    t.relayed = Some(relayed);
                    let server = t.client.server();
                    self.agent
                        .add_local_relayed_candidate(relayed, mapped, server)
                        .unwrap();
                    // The only allocation is in: every local address is known now.
                    self.agent.end_of_local_host_addresses();
                }
            }
        }
        while let Some(ev) = self.agent.poll_event() {
            match ev {
                IceEvent::LocalCandidate(c) => self.outbox.push(c),
                IceEvent::GatheringStateChange(g) => {
                    self.gathering.push(g);
                    if g == GatheringState::Complete {
                        self.eoc_pending = true;
                    }
                }
                IceEvent::ConnectionStateChange(s) => self.states.push((now, s)),
                IceEvent::SelectedPairChange(p) => self.selected.push((now, p)),
                _ => {}
            }
        }
    }

    fn state_sequence(&self) -> Vec<ConnectionState> {
        self.states.iter().map(|(_, s)| *s).collect()
    }
}

impl Endpoint for Node {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let result = match &mut self.turn {
            Some(t) if from == t.client.server() && to == t.host => {
                match t.client.handle_receive(now, from, data) {
                    Ok(Some((peer, inner))) => match t.relayed {
                        Some(relayed) => {
                            self.agent
                                .handle_receive(now, Transport::Udp, relayed, peer, inner)
                        }
                        None => Ok(()),
                    },
                    Ok(None) | Err(_) => Ok(()),
                }
            }
            _ if self.tcp_locals.contains(&to) => {
                self.agent
                    .handle_receive(now, Transport::Tcp, to, from, data)
            }
            _ => self
                .agent
                .handle_receive(now, Transport::Udp, to, from, data),
        };
        if let Err(e) = result {
            self.errors.push(e);
        }
        self.drain(now);
    }

    fn timeout(&mut self, now: Instant) {
        self.agent.handle_timeout(now);
        if let Some(t) = &mut self.turn {
            t.client.handle_timeout(now);
        }
        self.drain(now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        loop {
            if let Some(t) = &mut self.turn {
                if let Some(out) = t.client.poll_transmit() {
                    return Some(Datagram::new(
                        t.host,
                        out.destination,
                        out.contents.to_vec(),
                    ));
                }
            }
            let t = self.agent.poll_transmit()?;
            let source = t.source.expect("the agent sends from a candidate's base");
            match &mut self.turn {
                Some(turn) if Some(source) == turn.relayed => {
                    let ip = t.destination.ip();
                    if !turn.permissions.contains(&ip) {
                        turn.permissions.push(ip);
                        turn.client.create_permission(now, ip).unwrap();
                    }
                    turn.client.send_to(t.destination, &t.contents).unwrap();
                }
                _ => return Some(Datagram::new(source, t.destination, t.contents.to_vec())),
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let turn = self.turn.as_ref().and_then(|t| t.client.poll_timeout());
        match (self.agent.poll_timeout(), turn) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A STUN server answering Binding requests with XOR-MAPPED-ADDRESS (RFC 8489 §7.3.1).
#[derive(Default)]
struct StunServer {
    out: Vec<Datagram>,
    answered: usize,
}

impl Endpoint for StunServer {
    fn receive(&mut self, _now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let Ok(msg) = Message::new_checked(data) else {
            return;
        };
        if msg.class() != Class::Request || msg.method() != Method::BINDING {
            return;
        }
        let mut buf = Vec::new();
        let mut b = MessageBuilder::new(
            &mut buf,
            MessageType::new(Class::SuccessResponse, Method::BINDING),
            msg.transaction_id(),
        );
        b.add(&Attribute::XorMappedAddress(from)).unwrap();
        b.add_fingerprint().unwrap();
        b.finish();
        self.answered += 1;
        self.out.push(Datagram::new(to, from, buf));
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.out.pop()
    }
}

/// Collects whatever reaches an address.
#[derive(Default)]
struct Sink {
    received: usize,
}

impl Endpoint for Sink {
    fn receive(&mut self, _now: Instant, _from: SocketAddr, _to: SocketAddr, _data: &[u8]) {
        self.received += 1;
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

struct Scenario {
    sim: Sim,
    a: Handle<Node>,
    b: Handle<Node>,
    /// Candidates reach A only from this instant on (late trickle).
    trickle_to_a_at: Instant,
    trickle_to_b_at: Instant,
}

fn make_agent(
    seed: u64,
    config: IceConfig,
    now: Instant,
    hosts: &[SocketAddr],
    end_local: bool,
) -> Agent {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut agent = Agent::new(config, now, &mut rng);
    for h in hosts {
        agent.add_local_host_address(*h).unwrap();
    }
    if end_local {
        agent.end_of_local_host_addresses();
    }
    agent
}

impl Scenario {
    fn new(
        seed: u64,
        link: LinkConfig,
        a: (IceConfig, &[SocketAddr]),
        b: (IceConfig, &[SocketAddr]),
    ) -> Scenario {
        Self::build(seed, link, a, b, true)
    }

    /// `a_end_local`: whether A's driver says at once that all its addresses are in (a
    /// driver with TURN allocations to wait for says it later).
    fn build(
        seed: u64,
        link: LinkConfig,
        (a_cfg, a_hosts): (IceConfig, &[SocketAddr]),
        (b_cfg, b_hosts): (IceConfig, &[SocketAddr]),
        a_end_local: bool,
    ) -> Scenario {
        let mut sim = Sim::new(seed);
        sim.set_default_link(link);
        let now = sim.now();
        let mut a = make_agent(seed * 2 + 1, a_cfg, now, a_hosts, a_end_local);
        let mut b = make_agent(seed * 2 + 2, b_cfg, now, b_hosts, true);
        // The offer/answer exchange: credentials go across before any candidate.
        a.set_remote_credentials(b.local_credentials().clone())
            .unwrap();
        b.set_remote_credentials(a.local_credentials().clone())
            .unwrap();
        let mut na = Node::new(a);
        let mut nb = Node::new(b);
        na.drain(now);
        nb.drain(now);
        let a = sim.add_endpoint(a_hosts.iter().copied(), na);
        let b = sim.add_endpoint(b_hosts.iter().copied(), nb);
        Scenario {
            sim,
            a,
            b,
            trickle_to_a_at: now,
            trickle_to_b_at: now,
        }
    }

    fn a(&self) -> &Node {
        self.sim.endpoint(self.a)
    }

    fn b(&self) -> &Node {
        self.sim.endpoint(self.b)
    }

    /// Moves signalled candidates from `from` to `to` (the signalling channel).
    fn signal(&mut self, from: Handle<Node>, to: Handle<Node>) {
        let now = self.sim.now();
        let n = self.sim.endpoint_mut(from);
        let cands = std::mem::take(&mut n.outbox);
        let eoc = std::mem::take(&mut n.eoc_pending);
        let n = self.sim.endpoint_mut(to);
        for c in cands {
            n.agent.add_remote_candidate(c).unwrap();
        }
        if eoc {
            n.agent.end_of_remote_candidates();
        }
        n.drain(now);
    }

    /// Runs in 5 ms slices, trickling candidates, until `cond` holds; panics after `limit`.
    fn run_until(&mut self, limit: Duration, mut cond: impl FnMut(&Scenario) -> bool) -> Instant {
        let end = self.sim.now() + limit;
        loop {
            let now = self.sim.now();
            if now >= self.trickle_to_a_at {
                self.signal(self.b, self.a);
            }
            if now >= self.trickle_to_b_at {
                self.signal(self.a, self.b);
            }
            if cond(self) {
                return now;
            }
            assert!(
                now < end,
                "scenario did not converge: A {:?}, B {:?}",
                self.a().state_sequence(),
                self.b().state_sequence()
            );
            self.sim.run_for(Duration::from_millis(5));
        }
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.sim.now() + d;
        self.run_until(d + Duration::from_millis(10), |s| s.sim.now() >= end);
    }

    fn both_completed(&self) -> bool {
        self.a().agent.connection_state() == ConnectionState::Completed
            && self.b().agent.connection_state() == ConnectionState::Completed
    }

    /// Both sides selected the same nominated pair, mirrored.
    fn assert_mirrored_selection(&self) -> (SelectedPair, SelectedPair) {
        let pa = self
            .a()
            .agent
            .selected_pair()
            .cloned()
            .expect("A has a selected pair");
        let pb = self
            .b()
            .agent
            .selected_pair()
            .cloned()
            .expect("B has a selected pair");
        assert!(pa.nominated && pb.nominated);
        (pa, pb)
    }
}

fn link() -> LinkConfig {
    LinkConfig::ideal().latency(Duration::from_millis(10))
}

fn controlling() -> IceConfig {
    IceConfig {
        role: IceRole::Controlling,
        ..IceConfig::default()
    }
}

fn controlled() -> IceConfig {
    IceConfig {
        role: IceRole::Controlled,
        ..IceConfig::default()
    }
}

const A: &str = "192.0.2.1:5000";
const B: &str = "198.51.100.2:6000";

fn direct(seed: u64, a_cfg: IceConfig, b_cfg: IceConfig, link: LinkConfig) -> Scenario {
    Scenario::new(seed, link, (a_cfg, &[addr(A)]), (b_cfg, &[addr(B)]))
}

#[test]
fn direct_connect_a_controlling() {
    let mut s = direct(1, controlling(), controlled(), link());
    let t = s.run_until(Duration::from_secs(5), Scenario::both_completed);
    assert!(
        t - s.sim.epoch() < Duration::from_secs(2),
        "took {:?}",
        t - s.sim.epoch()
    );
    let (pa, pb) = s.assert_mirrored_selection();
    assert_eq!((pa.local.base, pa.remote.address), (addr(A), addr(B)));
    assert_eq!((pb.local.base, pb.remote.address), (addr(B), addr(A)));
    use ConnectionState::*;
    assert_eq!(s.a().state_sequence(), [Checking, Connected, Completed]);
    assert_eq!(s.b().state_sequence(), [Checking, Connected, Completed]);
    assert_eq!(
        s.a().gathering,
        [GatheringState::Gathering, GatheringState::Complete]
    );
    assert!(s.a().errors.is_empty() && s.b().errors.is_empty());
    assert_eq!(s.a().agent.role(), IceRole::Controlling);
}

#[test]
fn direct_connect_b_controlling() {
    let mut s = direct(2, controlled(), controlling(), link());
    s.run_until(Duration::from_secs(5), Scenario::both_completed);
    let (pa, pb) = s.assert_mirrored_selection();
    assert_eq!((pa.local.base, pa.remote.address), (addr(A), addr(B)));
    assert_eq!((pb.local.base, pb.remote.address), (addr(B), addr(A)));
    use ConnectionState::*;
    assert_eq!(s.a().state_sequence(), [Checking, Connected, Completed]);
    assert_eq!(s.b().state_sequence(), [Checking, Connected, Completed]);
}

#[test]
fn connects_under_20_percent_loss() {
    for seed in 10..16 {
        let mut s = direct(seed, controlling(), controlled(), link().loss(0.2));
        s.run_until(Duration::from_secs(30), Scenario::both_completed);
        let (pa, _) = s.assert_mirrored_selection();
        assert_eq!(pa.remote.address, addr(B));
        let stats = s.a().agent.stats();
        assert!(stats.checks_sent >= 2);
        use ConnectionState::*;
        assert_eq!(s.a().state_sequence(), [Checking, Connected, Completed]);
        assert_eq!(s.b().state_sequence(), [Checking, Connected, Completed]);
    }
}

#[test]
fn late_trickle_connects_through_peer_reflexive_then_upgrades() {
    let mut s = direct(3, controlling(), controlled(), link());
    // B learns A's candidates at once, A learns B's only after two seconds: B's checks make
    // A learn B as peer-reflexive and answer with triggered checks.
    s.trickle_to_a_at = s.sim.now() + Duration::from_secs(2);
    let t = s.run_until(Duration::from_secs(10), Scenario::both_completed);
    assert!(
        t < s.trickle_to_a_at,
        "connected before the trickle arrived"
    );
    let pa = s.a().agent.selected_pair().unwrap().clone();
    assert_eq!(pa.remote.address, addr(B));
    assert_eq!(pa.remote.kind, CandidateKind::PeerReflexive);
    // The late candidate upgrades the peer-reflexive one without disturbing the pair.
    s.run_for(Duration::from_secs(3));
    let remote = s.a().agent.remote_candidates();
    assert_eq!(remote.len(), 1);
    assert_eq!(remote[0].kind, CandidateKind::Host);
    use ConnectionState::*;
    assert_eq!(s.a().state_sequence(), [Checking, Connected, Completed]);
    assert_eq!(
        s.a().selected.len(),
        2,
        "selected, then the same pair nominated"
    );
}

#[test]
fn switches_to_better_pair_when_it_succeeds() {
    // B has two interfaces; the better one (IPv6 ranks first) is slow, so the worse pair
    // succeeds first and is used, then the better one succeeds and takes over.
    let b6 = addr("[2001:db8::2]:6000");
    let a6 = addr("[2001:db8::1]:5000");
    let cfg = IceConfig {
        nomination_timeout: Duration::from_secs(10),
        ..controlling()
    };
    let mut s = Scenario::new(
        7,
        link(),
        (cfg, &[addr(A), a6]),
        (controlled(), &[addr(B), b6]),
    );
    s.sim.add_link_pair(
        ferrtc_netsim::Prefix::host(a6.ip()),
        ferrtc_netsim::Prefix::host(b6.ip()),
        LinkConfig::ideal().latency(Duration::from_millis(400)),
    );
    s.run_until(Duration::from_secs(15), Scenario::both_completed);
    let changes: Vec<SocketAddr> = s
        .a()
        .selected
        .iter()
        .map(|(_, p)| p.remote.address)
        .collect();
    assert_eq!(
        changes.first(),
        Some(&addr(B)),
        "the fast IPv4 pair is used first"
    );
    assert_eq!(changes.last(), Some(&b6), "then the better IPv6 pair");
    let (pa, pb) = s.assert_mirrored_selection();
    assert_eq!((pa.local.base, pb.local.base), (a6, b6));
    use ConnectionState::*;
    assert_eq!(s.a().state_sequence(), [Checking, Connected, Completed]);
}

#[test]
fn behind_two_port_restricted_nats_via_server_reflexive() {
    let mut sim_seed = 21;
    let stun = addr("203.0.113.100:3478");
    let a_in = addr("10.0.0.1:5000");
    let b_in = addr("10.1.0.1:6000");
    let cfg = |role| IceConfig {
        role,
        stun_servers: vec![stun],
        ..IceConfig::default()
    };
    let mut s = Scenario::new(
        sim_seed,
        link(),
        (cfg(IceRole::Controlling), &[a_in]),
        (cfg(IceRole::Controlled), &[b_in]),
    );
    sim_seed += 1;
    let _ = sim_seed;
    let nat_a = s.sim.add_nat(NatConfig::new(
        NatKind::PortRestricted,
        "203.0.113.1".parse().unwrap(),
        ferrtc_netsim::Prefix::new("10.0.0.0".parse().unwrap(), 16).unwrap(),
    ));
    let nat_b = s.sim.add_nat(NatConfig::new(
        NatKind::PortRestricted,
        "203.0.113.2".parse().unwrap(),
        ferrtc_netsim::Prefix::new("10.1.0.0".parse().unwrap(), 16).unwrap(),
    ));
    let server = s.sim.add_endpoint([stun], StunServer::default());
    // The agents asked the server at creation, before the NATs existed: restart gathering
    // by creating fresh agents is not needed, the retransmissions cross the NATs.
    s.run_until(Duration::from_secs(10), Scenario::both_completed);
    assert!(s.sim.endpoint(server).answered >= 2);
    let (pa, pb) = s.assert_mirrored_selection();
    // Each side reaches the other's NAT mapping, learned as its server-reflexive candidate.
    assert_eq!(pa.local.base, a_in);
    assert_eq!(
        pa.local.address.ip(),
        "203.0.113.1".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!(
        pa.remote.address.ip(),
        "203.0.113.2".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!(pb.remote.address, pa.local.address);
    assert_eq!(pa.remote.kind, CandidateKind::ServerReflexive);
    assert!(s.sim.nat_stats(nat_a).mappings_created >= 1);
    assert!(s.sim.nat_stats(nat_b).mappings_created >= 1);
    use ConnectionState::*;
    assert_eq!(s.a().state_sequence(), [Checking, Connected, Completed]);
    assert_eq!(s.b().state_sequence(), [Checking, Connected, Completed]);
}

#[test]
fn ice_restart_keeps_media_on_old_pair_until_new_one_selected() {
    let mut s = direct(4, controlling(), controlled(), link());
    s.run_until(Duration::from_secs(5), Scenario::both_completed);
    s.run_for(Duration::from_secs(6));
    let old_a = s.a().agent.local_credentials().clone();
    let selected_before = s.a().selected.len();

    // A restarts; the new offer carries its new credentials and candidates. Until B's
    // answer arrives, the old pair stays selected and consent keeps it alive.
    let now = s.sim.now();
    let (a, b) = (s.a, s.b);
    // The new candidates travel with the new description: hold them until B has it.
    s.trickle_to_b_at = now + Duration::from_secs(3600);
    s.trickle_to_a_at = now + Duration::from_secs(3600);
    s.sim.endpoint_mut(a).agent.restart();
    s.sim.endpoint_mut(a).drain(now);
    let new_a = s.a().agent.local_credentials().clone();
    assert_ne!(new_a, old_a);
    s.run_for(Duration::from_secs(12));
    assert!(
        s.a().agent.selected_pair().is_some(),
        "media stays on the old pair"
    );
    assert_eq!(s.a().agent.connection_state(), ConnectionState::Completed);
    assert!(
        s.a().agent.stats().consent_responses >= 2,
        "consent runs on the old pair"
    );

    // B takes the new offer: new remote credentials mean B restarts too.
    let now = s.sim.now();
    s.sim
        .endpoint_mut(b)
        .agent
        .set_remote_credentials(new_a.clone())
        .unwrap();
    s.sim.endpoint_mut(b).drain(now);
    let new_b = s.b().agent.local_credentials().clone();
    s.sim
        .endpoint_mut(a)
        .agent
        .set_remote_credentials(new_b)
        .unwrap();
    s.trickle_to_a_at = s.sim.now();
    s.trickle_to_b_at = s.sim.now();
    s.run_until(Duration::from_secs(10), |s| {
        s.both_completed() && s.a().selected.len() > selected_before + 1
    });
    let (pa, _) = s.assert_mirrored_selection();
    assert_eq!(pa.remote.address, addr(B));
    use ConnectionState::*;
    assert_eq!(
        s.a().state_sequence(),
        [Checking, Connected, Completed, Connected, Completed]
    );
    assert!(
        s.a().errors.is_empty() && s.b().errors.is_empty(),
        "{:?} {:?}",
        s.a().errors,
        s.b().errors
    );
}

#[test]
fn consent_expiry_leads_to_failed() {
    let mut s = direct(5, controlling(), controlled(), link());
    s.run_until(Duration::from_secs(5), Scenario::both_completed);
    s.run_for(Duration::from_secs(12));
    assert_eq!(s.a().agent.connection_state(), ConnectionState::Completed);
    assert!(s.a().agent.stats().consent_checks_sent >= 2);
    // The path dies.
    s.sim.set_default_link(link().loss(1.0));
    let cut = s.sim.now();
    s.run_until(Duration::from_secs(40), |s| {
        s.a().agent.connection_state() == ConnectionState::Failed
    });
    use ConnectionState::*;
    assert_eq!(
        s.a().state_sequence(),
        [Checking, Connected, Completed, Disconnected, Failed]
    );
    let failed_at = s.a().states.last().unwrap().0;
    let disconnected_at = s.a().states[3].0;
    assert!(
        failed_at - cut <= Duration::from_secs(30) && failed_at - cut >= Duration::from_secs(24)
    );
    assert!(disconnected_at - cut < Duration::from_secs(9));
    assert!(
        s.a().agent.selected_pair().is_none(),
        "no sending once consent expired"
    );
    // Nothing more goes out on the dead pair.
    s.run_for(Duration::from_secs(5));
    assert!(s.a().agent.poll_timeout().is_none());

    // The path heals; an ICE restart (new credentials both sides) recovers.
    s.sim.set_default_link(link());
    let (a, b) = (s.a, s.b);
    let now = s.sim.now();
    s.trickle_to_a_at = now + Duration::from_secs(3600);
    s.trickle_to_b_at = now + Duration::from_secs(3600);
    s.sim.endpoint_mut(a).agent.restart();
    s.sim.endpoint_mut(a).drain(now);
    let new_a = s.a().agent.local_credentials().clone();
    s.sim
        .endpoint_mut(b)
        .agent
        .set_remote_credentials(new_a)
        .unwrap();
    s.sim.endpoint_mut(b).drain(now);
    let new_b = s.b().agent.local_credentials().clone();
    s.sim
        .endpoint_mut(a)
        .agent
        .set_remote_credentials(new_b)
        .unwrap();
    s.trickle_to_a_at = now;
    s.trickle_to_b_at = now;
    s.run_until(Duration::from_secs(10), Scenario::both_completed);
    let (pa, _) = s.assert_mirrored_selection();
    assert_eq!(pa.remote.address, addr(B));
    assert_eq!(
        s.a().state_sequence(),
        [
            Checking,
            Connected,
            Completed,
            Disconnected,
            Failed,
            Checking,
            Connected,
            Completed
        ]
    );
}

#[test]
fn wrong_message_integrity_is_dropped_counted_never_answered() {
    let mut s = direct(6, controlling(), controlled(), link());
    let attacker = addr("203.0.113.66:4000");
    let sink = s.sim.add_endpoint([attacker], Sink::default());
    let b_creds = s.b().agent.local_credentials().clone();
    let a_creds = s.a().agent.local_credentials().clone();
    let mut forged = Vec::new();
    MessageBuilder::new(
        &mut forged,
        MessageType::new(Class::Request, Method::BINDING),
        TransactionId([9; 12]),
    )
    .add(&Attribute::Username(&format!(
        "{}:{}",
        b_creds.ufrag, a_creds.ufrag
    )))
    .unwrap()
    .add(&Attribute::Priority(1_845_501_695))
    .unwrap()
    .add(&Attribute::IceControlling(1))
    .unwrap()
    .add(&Attribute::UseCandidate)
    .unwrap()
    .add_message_integrity(&IntegrityKey::short_term("not-the-password-at-all"))
    .unwrap()
    .add_fingerprint()
    .unwrap();
    let before = s.b().agent.stats();
    s.sim.inject(Datagram::new(attacker, addr(B), forged));
    s.run_for(Duration::from_millis(200));
    let after = s.b().agent.stats();
    assert_eq!(after.bad_integrity, before.bad_integrity + 1);
    assert_eq!(s.sim.endpoint(sink).received, 0, "never answered");
    assert!(s.b().errors.contains(&ReceiveError::BadIntegrity));
    assert!(
        s.b()
            .agent
            .remote_candidates()
            .iter()
            .all(|c| c.address != attacker)
    );
    // And the session is unharmed.
    s.run_until(Duration::from_secs(5), Scenario::both_completed);
    s.assert_mirrored_selection();
}

#[test]
fn role_conflict_both_controlling_resolved() {
    let mut s = direct(8, controlling(), controlling(), link());
    s.run_until(Duration::from_secs(10), Scenario::both_completed);
    let roles = (s.a().agent.role(), s.b().agent.role());
    assert!(
        roles == (IceRole::Controlling, IceRole::Controlled)
            || roles == (IceRole::Controlled, IceRole::Controlling),
        "{roles:?}"
    );
    assert!(s.a().agent.stats().role_conflicts + s.b().agent.stats().role_conflicts >= 1);
    let (pa, pb) = s.assert_mirrored_selection();
    assert_eq!((pa.remote.address, pb.remote.address), (addr(B), addr(A)));
}

#[test]
fn role_conflict_both_controlled_resolved() {
    let mut s = direct(9, controlled(), controlled(), link());
    s.run_until(Duration::from_secs(10), Scenario::both_completed);
    let roles = (s.a().agent.role(), s.b().agent.role());
    assert_ne!(roles.0, roles.1);
    s.assert_mirrored_selection();
}

#[test]
fn full_agent_with_lite_peer() {
    let lite = IceConfig {
        lite: true,
        ..IceConfig::default()
    };
    let mut s = direct(11, controlling(), lite, link());
    s.run_until(Duration::from_secs(5), Scenario::both_completed);
    assert_eq!(s.b().agent.role(), IceRole::Controlled);
    let (pa, pb) = s.assert_mirrored_selection();
    assert_eq!((pa.remote.address, pb.remote.address), (addr(B), addr(A)));
    // The lite side never sends a check.
    assert_eq!(s.b().agent.stats().checks_sent, 0);
    assert_eq!(s.b().agent.stats().consent_checks_sent, 0);
    // Consent checks from the full side keep the lite side connected.
    s.run_for(Duration::from_secs(40));
    assert_eq!(s.b().agent.connection_state(), ConnectionState::Completed);
    assert_eq!(s.a().agent.connection_state(), ConnectionState::Completed);
}

#[test]
fn failed_when_every_pair_fails_after_end_of_candidates() {
    let mut s = direct(12, controlling(), controlled(), link().loss(1.0));
    s.run_until(Duration::from_secs(60), |s| {
        s.a().agent.connection_state() == ConnectionState::Failed
    });
    assert_eq!(
        s.a().state_sequence(),
        [ConnectionState::Checking, ConnectionState::Failed]
    );
    assert!(s.a().agent.selected_pair().is_none());
}

#[test]
fn same_seed_same_run() {
    let run = |seed| {
        let mut s = direct(seed, controlling(), controlled(), link().loss(0.2));
        s.run_until(Duration::from_secs(30), Scenario::both_completed);
        (s.sim.elapsed(), s.a().agent.stats(), s.b().agent.stats())
    };
    assert_eq!(run(31), run(31));
}

#[test]
fn behind_symmetric_nat_only_through_turn_relay() {
    let stun = addr("203.0.113.100:3478");
    let turn_server = addr("203.0.113.50:3478");
    let relay_ip: std::net::IpAddr = "203.0.113.51".parse().unwrap();
    let a_in = addr("10.0.0.1:5000");
    let b_in = addr("10.1.0.1:6000");
    let cfg = |role| IceConfig {
        role,
        stun_servers: vec![stun],
        ..IceConfig::default()
    };
    let mut s = Scenario::build(
        23,
        link(),
        (cfg(IceRole::Controlling), &[a_in]),
        (cfg(IceRole::Controlled), &[b_in]),
        false,
    );
    s.sim.add_nat(NatConfig::new(
        NatKind::Symmetric,
        "203.0.113.1".parse().unwrap(),
        ferrtc_netsim::Prefix::new("10.0.0.0".parse().unwrap(), 16).unwrap(),
    ));
    s.sim.add_nat(NatConfig::new(
        NatKind::PortRestricted,
        "203.0.113.2".parse().unwrap(),
        ferrtc_netsim::Prefix::new("10.1.0.0".parse().unwrap(), 16).unwrap(),
    ));
    s.sim.add_endpoint([stun], StunServer::default());
    let server = s.sim.add_endpoint(
        [turn_server, SocketAddr::new(relay_ip, 0)],
        TestServer::new(turn_server, relay_ip, "alice", "secret"),
    );
    // A's driver allocates on the TURN server; the relayed address becomes a candidate
    // once the allocation succeeds (trickled like any other).
    let now = s.sim.now();
    let a = s.a;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(77);
    let config = turn::ClientConfig::new(turn_server, turn::TurnTransport::Udp, "alice", "secret");
    let mut client = turn::Client::new(config, &mut rng);
    client.allocate(now).unwrap();
    s.sim.endpoint_mut(a).turn = Some(TurnDriver {
        client,
        host: a_in,
        relayed: None,
        permissions: Vec::new(),
    });
    s.run_until(Duration::from_secs(20), Scenario::both_completed);
    let (pa, pb) = s.assert_mirrored_selection();
    assert_eq!(pa.local.kind, CandidateKind::Relayed);
    assert_eq!(pa.local.base.ip(), relay_ip);
    assert_eq!(pb.remote.address, pa.local.address);
    assert_eq!(
        pa.remote.address.ip(),
        "203.0.113.2".parse::<std::net::IpAddr>().unwrap()
    );
    assert!(s.sim.endpoint(server).stats.allocations >= 1);
    use ConnectionState::*;
    assert_eq!(s.a().state_sequence(), [Checking, Connected, Completed]);
    assert_eq!(s.b().state_sequence(), [Checking, Connected, Completed]);
}

#[test]
fn tcp_active_to_passive() {
    // A listens (passive), B connects (active, port 9 by convention): B's ordinary check
    // opens the way, A answers and checks back with a triggered check on that connection.
    let a_tcp = addr(A);
    let b_tcp = addr("198.51.100.2:9");
    let mut s = Scenario::new(13, link(), (controlling(), &[]), (controlled(), &[]));
    let now = s.sim.now();
    for (h, address, tcp_type) in [
        (s.a, a_tcp, TcpType::Passive),
        (s.b, b_tcp, TcpType::Active),
    ] {
        s.sim.bind(h.id(), address);
        let node = s.sim.endpoint_mut(h);
        node.tcp_locals.push(address);
        node.agent
            .add_local_tcp_host_address(address, tcp_type)
            .unwrap();
        node.drain(now);
    }
    s.run_until(Duration::from_secs(5), Scenario::both_completed);
    let (pa, pb) = s.assert_mirrored_selection();
    assert_eq!(pa.local.protocol, TransportProtocol::Tcp(TcpType::Passive));
    assert_eq!(pb.local.protocol, TransportProtocol::Tcp(TcpType::Active));
    assert_eq!((pa.remote.address, pb.remote.address), (b_tcp, a_tcp));
    assert_eq!(pa.remote.kind, CandidateKind::Host);
    use ConnectionState::*;
    assert_eq!(s.a().state_sequence(), [Checking, Connected, Completed]);
    assert_eq!(s.b().state_sequence(), [Checking, Connected, Completed]);
    // The passive side never started a check on its own: its checks were all triggered
    // by B's (one check and one nomination).
    assert!(s.a().agent.stats().checks_sent <= 2);
}

#[test]
fn converges_over_many_seeded_links() {
    // 40 seeds, each with its own latency, jitter, loss, reordering and role assignment:
    // every run ends with both sides on the same nominated pair.
    for seed in 100..140u64 {
        let latency = Duration::from_millis(1 + (seed * 37) % 200);
        let jitter = Duration::from_millis((seed * 13) % 30);
        let loss = ((seed * 7) % 25) as f64 / 100.0;
        let link = LinkConfig::ideal()
            .latency(latency)
            .jitter(jitter)
            .loss(loss)
            .reorder(0.05, Duration::from_millis(20));
        let (a_cfg, b_cfg) = if seed % 2 == 0 {
            (controlling(), controlled())
        } else {
            (controlled(), controlling())
        };
        let mut s = direct(seed, a_cfg, b_cfg, link);
        s.run_until(Duration::from_secs(40), Scenario::both_completed);
        let (pa, pb) = s.assert_mirrored_selection();
        assert_eq!(
            (pa.remote.address, pb.remote.address),
            (addr(B), addr(A)),
            "seed {seed}"
        );
        let bad = |n: &Node| {
            n.errors
                .iter()
                .any(|e| matches!(e, ReceiveError::BadIntegrity | ReceiveError::Malformed(_)))
        };
        assert!(!bad(s.a()) && !bad(s.b()), "seed {seed}");
    }
}

/// Without rtcp-mux (a peer that did not negotiate it), each agent runs two components:
/// RTP on one port, RTCP on the next. Both are checked, nominated and selected, pair by
/// component, and Completed comes only once both are nominated.
#[test]
fn without_rtcp_mux_both_components_connect() {
    let no_mux = |c: IceConfig| IceConfig {
        rtcp_mux: false,
        ..c
    };
    let (a1, b1) = (addr(A), addr(B));
    let (a2, b2) = (
        SocketAddr::new(a1.ip(), a1.port() + 1),
        SocketAddr::new(b1.ip(), b1.port() + 1),
    );
    let mut sim = Sim::new(31);
    sim.set_default_link(link());
    let now = sim.now();
    let mut a = make_agent(63, no_mux(controlling()), now, &[a1], false);
    a.add_local_host_address_for(a2, 2).unwrap();
    a.end_of_local_host_addresses();
    let mut b = make_agent(64, no_mux(controlled()), now, &[b1], false);
    b.add_local_host_address_for(b2, 2).unwrap();
    b.end_of_local_host_addresses();
    a.set_remote_credentials(b.local_credentials().clone())
        .unwrap();
    b.set_remote_credentials(a.local_credentials().clone())
        .unwrap();
    let mut na = Node::new(a);
    let mut nb = Node::new(b);
    na.drain(now);
    nb.drain(now);
    let a = sim.add_endpoint([a1, a2], na);
    let b = sim.add_endpoint([b1, b2], nb);
    let mut s = Scenario {
        sim,
        a,
        b,
        trickle_to_a_at: now,
        trickle_to_b_at: now,
    };
    s.run_until(Duration::from_secs(5), Scenario::both_completed);
    for (node, (l1, l2), (r1, r2)) in [(s.a(), (a1, a2), (b1, b2)), (s.b(), (b1, b2), (a1, a2))] {
        let agent = &node.agent;
        let rtp = agent.selected_pair_for(1).expect("an RTP pair");
        let rtcp = agent.selected_pair_for(2).expect("an RTCP pair");
        assert_eq!((rtp.local.address, rtp.remote.address), (l1, r1));
        assert_eq!((rtcp.local.address, rtcp.remote.address), (l2, r2));
        assert_eq!((rtp.local.component, rtcp.local.component), (1, 2));
        assert!(rtp.nominated && rtcp.nominated);
        assert_eq!(agent.stats().rtcp_mux_ignored, 0);
        // Checking, then Connected once both components work, then Completed.
        assert_eq!(
            node.state_sequence(),
            [
                ConnectionState::Checking,
                ConnectionState::Connected,
                ConnectionState::Completed
            ]
        );
    }
}

/// Under rtcp-mux (the default) the component-2 candidates a peer like Firefox still
/// gathers are ignored and counted, and ICE completes on component 1.
#[test]
fn rtcp_mux_ignores_and_counts_component_two_candidates() {
    let mut sim = Sim::new(32);
    sim.set_default_link(link());
    let now = sim.now();
    let (a1, b1) = (addr(A), addr(B));
    let b2 = SocketAddr::new(b1.ip(), b1.port() + 1);
    let a = make_agent(65, controlling(), now, &[a1], true);
    let b = make_agent(66, controlled(), now, &[b1], true);
    let mut na = Node::new(a);
    let mut nb = Node::new(b);
    na.agent
        .set_remote_credentials(nb.agent.local_credentials().clone())
        .unwrap();
    nb.agent
        .set_remote_credentials(na.agent.local_credentials().clone())
        .unwrap();
    na.drain(now);
    nb.drain(now);
    // B's signalling also carries a component-2 candidate, as Firefox's does.
    let mut rtcp = Candidate::host(
        b2,
        2,
        65535,
        ferrtc_stun_ice::ice::Foundation::from_index(7),
    );
    rtcp.priority = ferrtc_stun_ice::ice::candidate::priority(126, 65535, 2);
    nb.outbox.push(rtcp);
    let a = sim.add_endpoint([a1], na);
    let b = sim.add_endpoint([b1, b2], nb);
    let mut s = Scenario {
        sim,
        a,
        b,
        trickle_to_a_at: now,
        trickle_to_b_at: now,
    };
    s.run_until(Duration::from_secs(5), Scenario::both_completed);
    let stats = s.a().agent.stats();
    assert_eq!(
        (stats.rtcp_mux_ignored, stats.ignored_remote_candidates),
        (1, 1)
    );
    assert!(s.a().agent.selected_pair_for(2).is_none());
    let (pa, _) = s.assert_mirrored_selection();
    assert_eq!(pa.remote.address, b1);
}
