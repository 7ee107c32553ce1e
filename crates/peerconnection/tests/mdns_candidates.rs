//! A peer that hides its host addresses behind mDNS `.local` names, as a browser does on a
//! page without camera or microphone permission: every candidate it signals, in its SDP
//! and trickled, names a host we cannot resolve. Ours ignores them (RFC 8839 §5.1), counts
//! them, and still connects through the peer-reflexive candidate its checks teach us
//! (RFC 8445 §7.3.1.3), whichever side offers. Seeded netsim, virtual time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrtc_dtls::Certificate;
use ferrtc_netsim::{Datagram, Endpoint, Handle, LinkConfig, Sim};
use ferrtc_peerconnection::{
    ConnectionState, DataChannelInit, Description, Event, PeerConfig, PeerConnection,
    SignalingState,
};
use ferrtc_types::CandidateKind;
use rand::SeedableRng;

/// The name the hiding side signals in place of its address (the shape browsers use).
const MDNS_NAME: &str = "3f2e8a4c-5b1d-4c7e-9a2f-0d6b7e8c9a1b.local";

struct Node {
    pc: PeerConnection,
    events: Vec<Event>,
    candidates: Vec<Option<ferrtc_sdp::Candidate>>,
    /// Signal every candidate under [`MDNS_NAME`] instead of its address.
    hides: bool,
}

impl Node {
    fn drain(&mut self) {
        while let Some(ev) = self.pc.poll_event() {
            if let Event::IceCandidate(c) = &ev {
                self.candidates.push(c.clone());
            }
            self.events.push(ev);
        }
    }

    fn connected(&self) -> bool {
        self.pc.connection_state() == ConnectionState::Connected
    }

    fn messages(&self) -> Vec<Vec<u8>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::DataChannelMessage { data, .. } => Some(data.to_vec()),
                _ => None,
            })
            .collect()
    }

    /// What this side signals: its description with the candidates' addresses (and the
    /// default address on `c=`) replaced when it hides them.
    fn signalled(&self, sdp: &str) -> String {
        if !self.hides {
            return sdp.to_owned();
        }
        sdp.split_inclusive("\r\n")
            .map(|line| {
                if line.starts_with("a=candidate:") {
                    let mut f: Vec<&str> = line.trim_end().split(' ').collect();
                    f[4] = MDNS_NAME;
                    format!("{}\r\n", f.join(" "))
                } else if line.starts_with("c=IN IP4 ") {
                    "c=IN IP4 0.0.0.0\r\n".to_owned()
                } else {
                    line.to_owned()
                }
            })
            .collect()
    }
}

impl Endpoint for Node {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let _ = self.pc.handle_receive(now, to, from, BytesMut::from(data));
        self.drain();
    }

    fn timeout(&mut self, now: Instant) {
        self.pc.handle_timeout(now);
        self.drain();
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.pc.poll_transmit().map(|t| match t.source {
            Some(src) => Datagram::new(src, t.destination, t.contents.to_vec()),
            None => Datagram::any_source(t.destination, t.contents.to_vec()),
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.pc.poll_timeout()
    }
}

fn node(sim: &mut Sim, seed: u64, addr: SocketAddr, hides: bool) -> Handle<Node> {
    let now = sim.now();
    let cert = Arc::new(Certificate::generate().unwrap());
    let rng = Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed));
    let mut pc = PeerConnection::new(PeerConfig::new(cert), now, rng).unwrap();
    pc.add_local_address(now, addr).unwrap();
    pc.end_of_local_addresses(now);
    sim.add_endpoint(
        [addr],
        Node {
            pc,
            events: Vec::new(),
            candidates: Vec::new(),
            hides,
        },
    )
}

/// Moves trickled candidates between the two; the hiding side's go under the mDNS name.
/// Once ours has a remote description, every `.local` candidate must be accepted (Ok).
fn trickle(sim: &mut Sim, a: Handle<Node>, b: Handle<Node>) {
    let now = sim.now();
    for (from, to) in [(a, b), (b, a)] {
        let hides = sim.endpoint(from).hides;
        let cands = std::mem::take(&mut sim.endpoint_mut(from).candidates);
        let n = sim.endpoint_mut(to);
        for mut c in cands {
            if let (true, Some(c)) = (hides, c.as_mut()) {
                c.address = MDNS_NAME.to_owned();
            }
            let ready = n.pc.remote_description().is_some();
            let res = n.pc.add_ice_candidate(now, c.as_ref());
            if hides && ready {
                res.unwrap_or_else(|e| panic!("{c:?} refused: {e:?}"));
            }
        }
        n.drain();
    }
}

fn run_until(
    sim: &mut Sim,
    a: Handle<Node>,
    b: Handle<Node>,
    limit: Duration,
    cond: impl Fn(&Sim) -> bool,
) {
    let deadline = sim.now() + limit;
    while !cond(sim) {
        trickle(sim, a, b);
        if sim.now() >= deadline {
            for h in [a, b] {
                let n = sim.endpoint(h);
                let t = n.pc.transport();
                eprintln!(
                    "hides={} state={:?} ice={:?} ts={:?} ice_stats={:?} remotes={:?} locals={:?} pairs={:?}",
                    n.hides,
                    n.pc.connection_state(),
                    t.ice_connection_state(),
                    t.stats(),
                    t.ice_stats(),
                    t.ice_agent().map(|g| g.remote_candidates().to_vec()),
                    t.ice_agent().map(|g| g.local_candidates().to_vec()),
                    t.ice_agent().map(|g| g.checklist().pairs().to_vec()),
                );
            }
        }
        assert!(sim.now() < deadline, "not reached within {limit:?}");
        match sim.next_event() {
            Some(t) if t <= deadline => {
                sim.step();
            }
            _ => sim.run_until(deadline),
        }
    }
}

/// Offer from `a`, answer from `b`, each description as its side signals it.
fn negotiate(sim: &mut Sim, a: Handle<Node>, b: Handle<Node>) {
    let now = sim.now();
    let offer = sim.endpoint_mut(a).pc.create_offer().unwrap();
    sim.endpoint_mut(a)
        .pc
        .set_local_description(now, &offer)
        .unwrap();
    // The local description, not the offer as created: it carries the candidates gathered
    // by now, as a browser's `localDescription` does (they are trickled as well).
    let offer = sim.endpoint(a).pc.local_description().unwrap();
    assert!(offer.sdp.contains("a=candidate:"), "{}", offer.sdp);
    let offer = Description::offer(sim.endpoint(a).signalled(&offer.sdp));
    sim.endpoint_mut(b)
        .pc
        .set_remote_description(now, &offer)
        .unwrap();
    let answer = sim.endpoint_mut(b).pc.create_answer().unwrap();
    sim.endpoint_mut(b)
        .pc
        .set_local_description(now, &answer)
        .unwrap();
    let answer = sim.endpoint(b).pc.local_description().unwrap();
    assert!(answer.sdp.contains("a=candidate:"), "{}", answer.sdp);
    let answer = Description::answer(sim.endpoint(b).signalled(&answer.sdp));
    sim.endpoint_mut(a)
        .pc
        .set_remote_description(now, &answer)
        .unwrap();
    sim.endpoint_mut(a).drain();
    sim.endpoint_mut(b).drain();
    assert_eq!(sim.endpoint(a).pc.signaling_state(), SignalingState::Stable);
    assert_eq!(sim.endpoint(b).pc.signaling_state(), SignalingState::Stable);
}

/// `hider_offers`: the side with mDNS names offers (a browser calling a ferrtc server), or
/// answers (ferrtc calling the browser). Returns how many `.local` candidates ours ignored.
fn scenario(seed: u64, hider_offers: bool) -> u64 {
    let mut sim = Sim::new(seed);
    let mut link = LinkConfig::default();
    link.latency = Duration::from_millis(20);
    sim.set_default_link(link);
    let ours_addr: SocketAddr = "192.0.2.1:5000".parse().unwrap();
    let hider_addr: SocketAddr = "198.51.100.2:6000".parse().unwrap();
    let ours = node(&mut sim, seed * 2, ours_addr, false);
    let hider = node(&mut sim, seed * 2 + 1, hider_addr, true);
    let (offerer, answerer) = if hider_offers {
        (hider, ours)
    } else {
        (ours, hider)
    };
    let now = sim.now();
    let dc = sim
        .endpoint_mut(offerer)
        .pc
        .create_data_channel(now, DataChannelInit::new("echo"))
        .unwrap();
    negotiate(&mut sim, offerer, answerer);
    run_until(&mut sim, ours, hider, Duration::from_secs(30), |s| {
        s.endpoint(ours).connected() && s.endpoint(hider).connected()
    });
    run_until(&mut sim, ours, hider, Duration::from_secs(10), |s| {
        s.endpoint(offerer)
            .events
            .contains(&Event::DataChannelOpen(dc))
            && s.endpoint(answerer)
                .events
                .iter()
                .any(|e| matches!(e, Event::DataChannel(_)))
    });
    let theirs = sim
        .endpoint(answerer)
        .events
        .iter()
        .find_map(|e| match e {
            Event::DataChannel(id) => Some(*id),
            _ => None,
        })
        .unwrap();
    let now = sim.now();
    sim.endpoint_mut(offerer)
        .pc
        .send_data(
            now,
            dc,
            Bytes::from_static(b"over a peer-reflexive pair"),
            false,
        )
        .unwrap();
    run_until(&mut sim, ours, hider, Duration::from_secs(5), |s| {
        !s.endpoint(answerer).messages().is_empty()
    });
    let now = sim.now();
    sim.endpoint_mut(answerer)
        .pc
        .send_data(now, theirs, Bytes::from_static(b"and back"), false)
        .unwrap();
    run_until(&mut sim, ours, hider, Duration::from_secs(5), |s| {
        !s.endpoint(offerer).messages().is_empty()
    });
    assert_eq!(
        sim.endpoint(answerer).messages(),
        [b"over a peer-reflexive pair".to_vec()]
    );
    assert_eq!(sim.endpoint(offerer).messages(), [b"and back".to_vec()]);

    // Ours never had the hider's address from signalling: it learned it from the checks.
    let t = sim.endpoint(ours).pc.transport();
    let pair = t.selected_pair().expect("a selected pair");
    assert_eq!(pair.remote.address, hider_addr);
    assert_eq!(pair.remote.kind, CandidateKind::PeerReflexive);
    assert!(
        t.ice_agent()
            .unwrap()
            .remote_candidates()
            .iter()
            .all(|c| c.kind == CandidateKind::PeerReflexive),
        "no signalled remote candidate may reach the agent"
    );
    // The hider had ours as signalled, host.
    let p = sim.endpoint(hider).pc.transport().selected_pair().unwrap();
    assert_eq!(
        (p.remote.address, p.remote.kind),
        (ours_addr, CandidateKind::Host)
    );
    assert_eq!(
        sim.endpoint(hider)
            .pc
            .transport()
            .stats()
            .unresolved_remote_candidates,
        0
    );
    t.stats().unresolved_remote_candidates
}

#[test]
fn mdns_peer_offers_and_ours_connects_peer_reflexive() {
    for seed in [1, 2, 3] {
        let ignored = scenario(seed, true);
        // The one host candidate, in the offer and trickled.
        assert_eq!(ignored, 2, "seed {seed}");
    }
}

#[test]
fn ours_offers_to_an_mdns_peer_and_connects_peer_reflexive() {
    for seed in [1, 2, 3] {
        let ignored = scenario(seed, false);
        assert_eq!(ignored, 2, "seed {seed}");
    }
}
