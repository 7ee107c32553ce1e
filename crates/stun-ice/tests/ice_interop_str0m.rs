//! Interop: our ICE agent against str0m's (the `is` crate, an independent sans-IO ICE
//! implementation), both driven over `ferrtc-netsim` in virtual time. Each side only sees the
//! other's STUN messages, so a pair that gets selected proves the checks, responses,
//! integrity, nomination and consent of each are accepted by the other.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrtc_netsim::{Datagram, Endpoint, Handle, LinkConfig, Sim};
use ferrtc_stun_ice::ice::{
    Agent, ConnectionState, Credentials, IceConfig, IceEvent, IceRole, SelectedPair, Transport,
};
use is::stun::{StunMessage, StunPacket};
use is::{IceAgent, IceAgentEvent, IceConnectionState, IceCreds, Protocol};
use rand::SeedableRng;

const OURS: &str = "192.0.2.1:5000";
const THEIRS: &str = "198.51.100.2:6000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

struct Ours {
    agent: Agent,
    states: Vec<ConnectionState>,
    selected: Vec<SelectedPair>,
}

impl Endpoint for Ours {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        self.agent
            .handle_receive(now, Transport::Udp, to, from, data)
            .unwrap();
        self.drain();
    }

    fn timeout(&mut self, now: Instant) {
        self.agent.handle_timeout(now);
        self.drain();
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.agent
            .poll_transmit()
            .map(|t| Datagram::new(t.source.unwrap(), t.destination, t.contents.to_vec()))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.agent.poll_timeout()
    }
}

impl Ours {
    fn drain(&mut self) {
        while let Some(e) = self.agent.poll_event() {
            match e {
                IceEvent::ConnectionStateChange(s) => self.states.push(s),
                IceEvent::SelectedPairChange(p) => self.selected.push(p),
                _ => {}
            }
        }
    }
}

struct Theirs {
    agent: IceAgent,
    /// `IceAgent::poll_timeout` takes `&mut self`; kept fresh after every call.
    next: Option<Instant>,
    states: Vec<IceConnectionState>,
    nominated: Vec<(SocketAddr, SocketAddr)>,
    rejected: usize,
}

impl Theirs {
    fn drain(&mut self) {
        while let Some(e) = self.agent.poll_event() {
            match e {
                IceAgentEvent::IceConnectionStateChange(s) => self.states.push(s),
                IceAgentEvent::NominatedSend {
                    source,
                    destination,
                    ..
                } => self.nominated.push((source, destination)),
                _ => {}
            }
        }
        self.next = self.agent.poll_timeout();
    }
}

impl Endpoint for Theirs {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let message = StunMessage::parse(data).expect("str0m parses what we send");
        let packet = StunPacket {
            proto: Protocol::Udp,
            source: from,
            destination: to,
            message,
        };
        if !self.agent.handle_packet(now, packet) {
            self.rejected += 1;
        }
        self.drain();
    }

    fn timeout(&mut self, now: Instant) {
        self.agent.handle_timeout(now);
        self.drain();
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        let t = self.agent.poll_transmit();
        self.next = self.agent.poll_timeout();
        t.map(|t| Datagram::new(t.source, t.destination, t.contents.to_vec()))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }
}

struct Interop {
    sim: Sim,
    ours: Handle<Ours>,
    theirs: Handle<Theirs>,
}

fn setup(seed: u64, our_config: IceConfig, they_control: bool, link: LinkConfig) -> Interop {
    let mut sim = Sim::new(seed);
    sim.set_default_link(link);
    let now = sim.now();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut ours = Agent::new(our_config, now, &mut rng);
    ours.add_local_host_address(addr(OURS)).unwrap();
    ours.end_of_local_host_addresses();

    let their_creds = IceCreds {
        ufrag: "str0mufrag".into(),
        pass: "str0mpasswordstr0mpassword".into(),
    };
    let mut theirs = IceAgent::new(their_creds.clone());
    theirs.set_controlling(they_control);
    theirs.set_control_tie_breaker(0x1234_5678);
    theirs.add_local_candidate(is::Candidate::host(addr(THEIRS), "udp").unwrap());

    // Signalling: credentials and candidates both ways, through their SDP forms.
    let creds = ours.local_credentials().clone();
    theirs.set_remote_credentials(IceCreds {
        ufrag: creds.ufrag.clone(),
        pass: creds.pwd.clone(),
    });
    ours.set_remote_credentials(Credentials::new(&their_creds.ufrag, &their_creds.pass).unwrap())
        .unwrap();
    while let Some(e) = ours.poll_event() {
        if let IceEvent::LocalCandidate(c) = e {
            let sdp = format!("candidate:{}", c.to_sdp_value());
            theirs.add_remote_candidate(is::Candidate::from_sdp_string(&sdp).unwrap());
        }
    }
    for c in theirs.local_candidates().collect::<Vec<_>>() {
        let mut cand = ferrtc_stun_ice::ice::Candidate::host(
            c.addr(),
            1,
            0,
            ferrtc_stun_ice::ice::Foundation::from_index(77),
        );
        cand.priority = c.prio();
        ours.add_remote_candidate(cand).unwrap();
    }
    ours.end_of_remote_candidates();
    theirs.handle_timeout(now);

    let ours = sim.add_endpoint(
        [addr(OURS)],
        Ours {
            agent: ours,
            states: Vec::new(),
            selected: Vec::new(),
        },
    );
    let mut theirs = Theirs {
        agent: theirs,
        next: None,
        states: Vec::new(),
        nominated: Vec::new(),
        rejected: 0,
    };
    theirs.drain();
    let theirs = sim.add_endpoint([addr(THEIRS)], theirs);
    Interop { sim, ours, theirs }
}

impl Interop {
    fn ours(&self) -> &Ours {
        self.sim.endpoint(self.ours)
    }

    fn theirs(&self) -> &Theirs {
        self.sim.endpoint(self.theirs)
    }

    fn run_until_connected(&mut self, limit: Duration) {
        let (o, t) = (self.ours, self.theirs);
        self.sim
            .run_until_cond(limit, |sim| {
                sim.endpoint(o).agent.connection_state() == ConnectionState::Completed
                    && !sim.endpoint(t).nominated.is_empty()
            })
            .unwrap_or_else(|e| {
                panic!(
                    "no connection ({e:?}): ours {:?}, theirs {:?}",
                    self.ours().states,
                    self.theirs().states
                )
            });
    }

    fn assert_pair(&self) {
        let ours = self.ours().agent.selected_pair().unwrap();
        assert!(ours.nominated);
        assert_eq!(
            (ours.local.base, ours.remote.address),
            (addr(OURS), addr(THEIRS))
        );
        assert_eq!(
            self.theirs().nominated.last(),
            Some(&(addr(THEIRS), addr(OURS)))
        );
        assert_eq!(
            self.theirs().rejected,
            0,
            "str0m accepted every message we sent"
        );
        assert_eq!(self.ours().agent.stats().bad_integrity, 0);
    }
}

fn link() -> LinkConfig {
    LinkConfig::ideal().latency(Duration::from_millis(15))
}

#[test]
fn we_control_str0m_follows() {
    let config = IceConfig {
        role: IceRole::Controlling,
        ..IceConfig::default()
    };
    let mut s = setup(1, config, false, link());
    s.run_until_connected(Duration::from_secs(10));
    s.assert_pair();
    use ConnectionState::*;
    assert_eq!(s.ours().states, [Checking, Connected, Completed]);
}

#[test]
fn str0m_controls_we_follow() {
    let config = IceConfig {
        role: IceRole::Controlled,
        ..IceConfig::default()
    };
    let mut s = setup(2, config, true, link());
    s.run_until_connected(Duration::from_secs(10));
    s.assert_pair();
    assert_eq!(s.ours().agent.role(), IceRole::Controlled);
    use ConnectionState::*;
    assert_eq!(s.ours().states, [Checking, Connected, Completed]);
}

#[test]
fn our_lite_agent_serves_str0m() {
    let config = IceConfig {
        lite: true,
        ..IceConfig::default()
    };
    let mut s = setup(3, config, true, link());
    s.run_until_connected(Duration::from_secs(10));
    s.assert_pair();
    assert_eq!(s.ours().agent.stats().checks_sent, 0);
}

#[test]
fn consent_and_keepalives_hold_for_a_minute_both_ways() {
    for (seed, ours_control) in [(4, true), (5, false)] {
        let config = IceConfig {
            role: if ours_control {
                IceRole::Controlling
            } else {
                IceRole::Controlled
            },
            ..IceConfig::default()
        };
        let mut s = setup(seed, config, !ours_control, link());
        s.run_until_connected(Duration::from_secs(10));
        s.sim.run_for(Duration::from_secs(60));
        assert_eq!(
            s.ours().agent.connection_state(),
            ConnectionState::Completed
        );
        assert!(
            s.ours().agent.stats().consent_responses >= 8,
            "str0m answers our consent checks"
        );
        assert!(
            !matches!(
                s.theirs().states.last(),
                Some(IceConnectionState::Disconnected)
            ),
            "str0m keeps the pair: {:?}",
            s.theirs().states
        );
        s.assert_pair();
    }
}

#[test]
fn role_conflict_with_str0m_resolved() {
    // Both start controlling: one must yield, through 487 or the tie-breakers.
    let config = IceConfig {
        role: IceRole::Controlling,
        ..IceConfig::default()
    };
    let mut s = setup(6, config, true, link());
    s.run_until_connected(Duration::from_secs(15));
    s.assert_pair();
    let ours = s.ours().agent.role() == IceRole::Controlling;
    assert_ne!(ours, s.theirs().agent.controlling());
    assert!(
        s.ours().agent.stats().role_conflicts >= 1,
        "the conflict was seen"
    );
}
