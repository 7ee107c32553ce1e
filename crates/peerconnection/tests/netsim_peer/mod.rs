//! A whole sans-IO peer connection as a netsim endpoint, and the signalling between two of
//! them (SDP text and trickled candidates), shared by the netsim tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrtc_dtls::Certificate;
use ferrtc_netsim::{Datagram, Endpoint, Handle, Sim};
use ferrtc_peerconnection::{
    ConnectionState, Description, Event, PeerConfig, PeerConnection, SignalingState, TransceiverId,
};
use rand::SeedableRng;

/// One peer connection and what it gave out.
pub struct Node {
    pub pc: PeerConnection,
    pub events: Vec<Event>,
    /// Candidates it trickled, not yet given to the other side.
    pub candidates: Vec<Option<ferrtc_sdp::Candidate>>,
    /// Signal every candidate under this name instead of its address, as a browser hides
    /// its host addresses behind an mDNS `.local` name (and `c=` as 0.0.0.0).
    pub hides_behind: Option<&'static str>,
}

impl Node {
    /// Takes the connection's events; trickled candidates are kept for [`trickle`].
    pub fn drain(&mut self) {
        while let Some(ev) = self.pc.poll_event() {
            if let Event::IceCandidate(c) = &ev {
                self.candidates.push(c.clone());
            }
            self.events.push(ev);
        }
    }

    /// The first channel the peer opened (its `datachannel` event), if any.
    pub fn remote_channel(&self) -> Option<ferrtc_peerconnection::DataChannelId> {
        self.events.iter().find_map(|e| match e {
            Event::DataChannel(id) => Some(*id),
            _ => None,
        })
    }

    /// The transceivers the peer's media arrived on as tracks (`track` events), in order.
    pub fn tracks(&self) -> Vec<TransceiverId> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Track { transceiver, .. } => Some(*transceiver),
                _ => None,
            })
            .collect()
    }

    pub fn connected(&self) -> bool {
        self.pc.connection_state() == ConnectionState::Connected
    }

    /// Data channel messages received, in order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::DataChannelMessage { data, .. } => Some(data.to_vec()),
                _ => None,
            })
            .collect()
    }

    /// RTP packets received on transceiver `t`.
    pub fn rtp_on(&self, t: TransceiverId) -> Vec<Bytes> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Rtp {
                    transceiver,
                    packet,
                    ..
                } if *transceiver == t => Some(packet.clone()),
                _ => None,
            })
            .collect()
    }

    /// What this side signals of description text `sdp`: as it is, or with the
    /// candidates' addresses hidden (see [`Node::hides_behind`]).
    pub fn signalled(&self, sdp: &str) -> String {
        let Some(name) = self.hides_behind else {
            return sdp.to_owned();
        };
        sdp.split_inclusive("\r\n")
            .map(|line| {
                if line.starts_with("a=candidate:") {
                    let mut f: Vec<&str> = line.trim_end().split(' ').collect();
                    f[4] = name;
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

/// A peer connection on `addr` with the default configuration, a fresh certificate, and
/// a fixed wall clock (sender reports carry NTP time derived from it).
pub fn node(sim: &mut Sim, seed: u64, addr: SocketAddr) -> Handle<Node> {
    node_with(sim, seed, addr, |_| {})
}

/// [`node`] with the configuration changed by `configure` first.
pub fn node_with(
    sim: &mut Sim,
    seed: u64,
    addr: SocketAddr,
    configure: impl FnOnce(&mut PeerConfig),
) -> Handle<Node> {
    let now = sim.now();
    let cert = Arc::new(Certificate::generate().unwrap());
    let rng = Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed));
    let mut config = PeerConfig::new(cert);
    config.wall_clock = Some(Duration::from_secs(1_700_000_000));
    configure(&mut config);
    let mut pc = PeerConnection::new(config, now, rng).unwrap();
    pc.add_local_address(now, addr).unwrap();
    pc.end_of_local_addresses(now);
    sim.add_endpoint(
        [addr],
        Node {
            pc,
            events: Vec::new(),
            candidates: Vec::new(),
            hides_behind: None,
        },
    )
}

/// Moves trickled candidates between the two, as a signalling channel would (a hiding
/// side's under its name). Before the remote description exists a candidate is refused, as
/// in a browser (the description carries those gathered so far); after it, a hidden one
/// must be accepted.
pub fn trickle(sim: &mut Sim, a: Handle<Node>, b: Handle<Node>) {
    let now = sim.now();
    for (from, to) in [(a, b), (b, a)] {
        let hides = sim.endpoint(from).hides_behind;
        let cands = std::mem::take(&mut sim.endpoint_mut(from).candidates);
        let n = sim.endpoint_mut(to);
        for mut c in cands {
            if let (Some(name), Some(c)) = (hides, c.as_mut()) {
                name.clone_into(&mut c.address);
            }
            let ready = n.pc.remote_description().is_some();
            let res = n.pc.add_ice_candidate(now, c.as_ref());
            if hides.is_some() && ready {
                res.unwrap_or_else(|e| panic!("{c:?} refused: {e:?}"));
            }
        }
        n.drain();
    }
}

/// Runs the simulation, trickling as it goes, until `cond` holds; fails after `limit`
/// with both sides' ICE state.
pub fn run_until(
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
                    "state={:?} ice={:?} transport={:?} ice_stats={:?} pairs={:?}",
                    n.pc.connection_state(),
                    t.ice_connection_state(),
                    t.stats(),
                    t.ice_stats(),
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

/// Offer from `a`, answer from `b`, through the SDP text; `b` sends on every transceiver
/// the offer made (W3C: direction = "sendrecv"). A hiding side signals its local
/// description (which carries the candidates gathered by now, as a browser's
/// `localDescription` does) with its addresses hidden.
pub fn negotiate(sim: &mut Sim, a: Handle<Node>, b: Handle<Node>) {
    let now = sim.now();
    let offer = sim.endpoint_mut(a).pc.create_offer().unwrap();
    sim.endpoint_mut(a)
        .pc
        .set_local_description(now, &offer)
        .unwrap();
    let offer = Description::offer(signalled(sim, a, &offer.sdp));
    sim.endpoint_mut(b)
        .pc
        .set_remote_description(now, &offer)
        .unwrap();
    let ids: Vec<TransceiverId> = sim
        .endpoint(b)
        .pc
        .negotiator()
        .transceivers()
        .filter(|t| !t.is_stopped() && !t.is_stopping())
        .map(|t| t.id())
        .collect();
    for id in ids {
        sim.endpoint_mut(b)
            .pc
            .set_direction(id, ferrtc_sdp::Direction::SendRecv)
            .unwrap();
    }
    let answer = sim.endpoint_mut(b).pc.create_answer().unwrap();
    sim.endpoint_mut(b)
        .pc
        .set_local_description(now, &answer)
        .unwrap();
    let answer = Description::answer(signalled(sim, b, &answer.sdp));
    sim.endpoint_mut(a)
        .pc
        .set_remote_description(now, &answer)
        .unwrap();
    sim.endpoint_mut(a).drain();
    sim.endpoint_mut(b).drain();
    assert_eq!(sim.endpoint(a).pc.signaling_state(), SignalingState::Stable);
    assert_eq!(sim.endpoint(b).pc.signaling_state(), SignalingState::Stable);
}

/// The text `h` signals for the description it just applied (`created` as created).
fn signalled(sim: &Sim, h: Handle<Node>, created: &str) -> String {
    let n = sim.endpoint(h);
    if n.hides_behind.is_none() {
        return created.to_owned();
    }
    let local = n.pc.local_description().unwrap();
    assert!(local.sdp.contains("a=candidate:"), "{}", local.sdp);
    n.signalled(&local.sdp)
}
