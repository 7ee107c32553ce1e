//! Congestion control through the whole peer connection: two ferrtc peer connections over a
//! simulated bottleneck, A sending VP8-sized frames at the rate `Event::TargetBitrate` gives
//! its transceiver, B answering with transport-wide feedback. Virtual time, seeded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferrtc_dtls::Certificate;
use ferrtc_netsim::{Bandwidth, Datagram, Endpoint, Handle, LinkConfig, Sim};
use ferrtc_peerconnection::{
    ConnectionState, Description, Event, MediaKind, PeerConfig, PeerConnection, TransceiverId,
    TransceiverInit,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const A: &str = "10.0.0.1:5000";
const B: &str = "10.0.0.2:6000";
/// One-way propagation delay each way: 50 ms round trip.
const ONE_WAY: Duration = Duration::from_millis(25);
const FPS: u32 = 30;

struct Node {
    pc: PeerConnection,
    candidates: Vec<Option<ferrtc_sdp::Candidate>>,
    /// The transceiver this node sends frames on, if any.
    sending: Option<TransceiverId>,
    share: u64,
    next_frame: Option<Instant>,
    frames: u32,
    rng: ChaCha8Rng,
    /// (time, target bit/s) of each TargetBitrate event.
    targets: Vec<(Instant, u64)>,
    rtp_received: u64,
}

impl Node {
    fn drain(&mut self, now: Instant) {
        while let Some(ev) = self.pc.poll_event() {
            match ev {
                Event::IceCandidate(c) => self.candidates.push(c),
                Event::TargetBitrate {
                    bitrate,
                    transceivers,
                } => {
                    self.targets.push((now, bitrate));
                    if let Some(t) = self.sending {
                        if let Some((_, share)) = transceivers.iter().find(|(id, _)| *id == t) {
                            self.share = *share;
                        }
                    }
                }
                Event::Rtp { .. } => self.rtp_received += 1,
                _ => {}
            }
        }
    }

    fn connected(&self) -> bool {
        self.pc.connection_state() == ConnectionState::Connected
    }
}

impl Endpoint for Node {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let _ = self.pc.handle_receive(now, to, from, BytesMut::from(data));
        self.drain(now);
    }

    fn timeout(&mut self, now: Instant) {
        if let (Some(t), true) = (self.sending, self.connected()) {
            let next = *self.next_frame.get_or_insert(now);
            if now >= next {
                // A synthetic encoder: a frame at the share, +-20%.
                let mean = self.share as f64 / 8.0 / f64::from(FPS);
                let len = ((mean * self.rng.random_range(0.8..1.2)) as usize).max(20);
                let frame = vec![0x10u8; len];
                let ts = self.frames.wrapping_mul(90_000 / FPS);
                self.frames += 1;
                let _ = self.pc.write_frame(now, t, &frame, ts);
                self.next_frame = Some((next + Duration::from_secs(1) / FPS).max(now));
            }
        }
        self.pc.handle_timeout(now);
        self.drain(now);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.pc.poll_transmit().map(|t| match t.source {
            Some(src) => Datagram::new(src, t.destination, t.contents.to_vec()),
            None => Datagram::any_source(t.destination, t.contents.to_vec()),
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let frame = self
            .next_frame
            .filter(|_| self.sending.is_some() && self.connected());
        [self.pc.poll_timeout(), frame].into_iter().flatten().min()
    }
}

fn node(sim: &mut Sim, seed: u64, addr: &str, pacing: bool) -> Handle<Node> {
    let now = sim.now();
    let addr: SocketAddr = addr.parse().unwrap();
    let cert = Arc::new(Certificate::generate().unwrap());
    let rng = Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed));
    let mut config = PeerConfig::new(cert);
    config.pacing = pacing;
    config.bwe.start_bitrate_bps = 300_000;
    config.bwe.max_bitrate_bps = 10_000_000;
    let mut pc = PeerConnection::new(config, now, rng).unwrap();
    pc.add_local_address(now, addr).unwrap();
    pc.end_of_local_addresses(now);
    sim.add_endpoint(
        [addr],
        Node {
            pc,
            candidates: Vec::new(),
            sending: None,
            share: 0,
            next_frame: None,
            frames: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            targets: Vec::new(),
            rtp_received: 0,
        },
    )
}

fn trickle(sim: &mut Sim, a: Handle<Node>, b: Handle<Node>) {
    let now = sim.now();
    for (from, to) in [(a, b), (b, a)] {
        let cands = std::mem::take(&mut sim.endpoint_mut(from).candidates);
        let n = sim.endpoint_mut(to);
        for c in cands {
            let _ = n.pc.add_ice_candidate(now, c.as_ref());
        }
        n.drain(now);
    }
}

/// A sends video to B through a `bps` bottleneck with a 300 ms queue; returns the sim
/// and both nodes, connected, at the moment of connection.
fn setup(seed: u64, bps: u64, pacing: bool) -> (Sim, Handle<Node>, Handle<Node>) {
    let mut sim = Sim::new(seed);
    let a_ip = A.parse::<SocketAddr>().unwrap().ip();
    let b_ip = B.parse::<SocketAddr>().unwrap().ip();
    let queue = (bps / 8 * 3 / 10) as usize;
    sim.add_link(
        a_ip,
        b_ip,
        LinkConfig::ideal()
            .latency(ONE_WAY)
            .bandwidth(Bandwidth::new(bps, queue)),
    );
    sim.add_link(b_ip, a_ip, LinkConfig::ideal().latency(ONE_WAY));
    let a = node(&mut sim, seed * 2, A, pacing);
    let b = node(&mut sim, seed * 2 + 1, B, pacing);
    let now = sim.now();
    let t = sim
        .endpoint_mut(a)
        .pc
        .add_transceiver(MediaKind::Video, TransceiverInit::default())
        .unwrap();
    sim.endpoint_mut(a).sending = Some(t);
    let offer = sim.endpoint_mut(a).pc.create_offer().unwrap();
    sim.endpoint_mut(a)
        .pc
        .set_local_description(now, &offer)
        .unwrap();
    sim.endpoint_mut(b)
        .pc
        .set_remote_description(now, &Description::offer(offer.sdp.clone()))
        .unwrap();
    let answer = sim.endpoint_mut(b).pc.create_answer().unwrap();
    sim.endpoint_mut(b)
        .pc
        .set_local_description(now, &answer)
        .unwrap();
    sim.endpoint_mut(a)
        .pc
        .set_remote_description(now, &Description::answer(answer.sdp.clone()))
        .unwrap();
    for n in [a, b] {
        sim.endpoint_mut(n).drain(now);
    }
    let deadline = now + Duration::from_secs(10);
    while !(sim.endpoint(a).connected() && sim.endpoint(b).connected()) {
        trickle(&mut sim, a, b);
        assert!(sim.now() < deadline, "no connection");
        sim.step();
    }
    // Nothing is sent until a frame is due: start the encoder now.
    let now = sim.now();
    sim.endpoint_mut(a).next_frame = Some(now);
    sim.run_until(now + Duration::from_millis(1));
    (sim, a, b)
}

#[test]
fn the_target_follows_a_2_5_mbit_bottleneck() {
    let cap = 2_500_000u64;
    let (mut sim, a, b) = setup(1, cap, true);
    let start = sim.now();
    // The first event is the configured start rate.
    assert_eq!(sim.endpoint(a).targets.first().map(|t| t.1), Some(300_000));
    sim.run_until(start + Duration::from_secs(20));
    let node = sim.endpoint(a);
    let reached = node
        .targets
        .iter()
        .find(|(at, bps)| *at >= start && *bps as f64 >= 0.85 * cap as f64)
        .map(|(at, _)| *at - start);
    let peak = node.targets.iter().map(|t| t.1).max().unwrap();
    let last = node.targets.last().unwrap().1;
    let stats = sim.endpoint(b).pc.rtp_stats();
    let padding = sim.endpoint(b).pc.routing_stats().padding_received;
    eprintln!(
        "reached 85% after {reached:?}; peak {peak}, last {last}; B sent {} TWCC feedback, \
         got {} RTP and {padding} padding packets; A's estimator rtt {:?}",
        stats.twcc_sent,
        sim.endpoint(b).rtp_received,
        sim.endpoint(a).pc.bwe().and_then(|b| b.rtt()),
    );
    assert!(stats.twcc_sent > 100, "B sends transport-wide feedback");
    assert!(
        reached.is_some_and(|d| d <= Duration::from_secs(5)),
        "the estimate reaches 85% of capacity within 5 s: {reached:?}"
    );
    // Never far above the capacity, and still near it at the end.
    assert!(peak as f64 <= 1.3 * cap as f64, "peak {peak}");
    assert!(last as f64 >= 0.7 * cap as f64, "last {last}");
    assert_eq!(sim.endpoint(a).pc.target_bitrate(), Some(last));
}

#[test]
fn without_pacing_packets_are_numbered_and_the_estimate_moves() {
    let cap = 2_500_000u64;
    let (mut sim, a, b) = setup(2, cap, false);
    let start = sim.now();
    sim.run_until(start + Duration::from_secs(20));
    let node = sim.endpoint(a);
    let peak = node.targets.iter().map(|t| t.1).max().unwrap();
    assert!(sim.endpoint(b).pc.rtp_stats().twcc_sent > 100);
    // Without probes the estimate climbs by its own increase alone, but it climbs, and the
    // link caps it.
    assert!(peak > 600_000, "peak {peak}");
    assert!(peak as f64 <= 1.3 * cap as f64, "peak {peak}");
}

/// Chromium 156's offer (video and a data channel) offers the transport-wide sequence
/// extension and `transport-cc` feedback on its video codecs; a ferrtc peer connection that
/// answers it with a video track keeps both, and its estimator starts at the configured
/// rate with the whole target on that track.
#[test]
fn transport_cc_is_negotiated_with_a_chromium_offer() {
    const OFFER: &str = include_str!("data/chromium-156-offer-video-datachannel.sdp");
    let now = Instant::now();
    let cert = Arc::new(Certificate::generate().unwrap());
    let mut config = PeerConfig::new(cert);
    config.bwe.start_bitrate_bps = 800_000;
    let rng = Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(5));
    let mut pc = PeerConnection::new(config, now, rng).unwrap();
    pc.set_remote_description(now, &Description::offer(OFFER.to_owned()))
        .unwrap();
    let t = pc.negotiator().transceivers().next().unwrap().id();
    pc.add_track(
        MediaKind::Video,
        ferrtc_peerconnection::TrackInfo {
            track_id: "camera".into(),
            stream_ids: vec!["stream".into()],
        },
    )
    .unwrap();
    assert!(pc.target_bitrate().is_none(), "nothing before the answer");
    let answer = pc.create_answer().unwrap();
    pc.set_local_description(now, &answer).unwrap();
    let sdp = &answer.sdp;
    let ext = OFFER
        .lines()
        .find(|l| l.contains("transport-wide-cc-extensions-01"))
        .expect("Chromium offers the extension");
    assert!(sdp.lines().any(|l| l == ext), "answer keeps {ext}");
    for pt in ["96", "98", "45"] {
        let fb = format!("a=rtcp-fb:{pt} transport-cc");
        assert!(OFFER.lines().any(|l| l == fb));
        assert!(sdp.lines().any(|l| l == fb), "answer keeps {fb}");
    }
    assert_eq!(pc.target_bitrate(), Some(800_000));
    let mut split = None;
    while let Some(ev) = pc.poll_event() {
        if let Event::TargetBitrate {
            bitrate,
            transceivers,
        } = ev
        {
            split = Some((bitrate, transceivers));
        }
    }
    assert_eq!(split, Some((800_000, vec![(t, 800_000)])));
}
