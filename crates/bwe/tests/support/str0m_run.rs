//! str0m's send-side BWE through the same netsim bottleneck as [`super::Scenario`]: two
//! str0m peers (str0m 0.24, whose estimator is reachable only inside its `Rtc`), a VP8
//! sender whose synthetic encoder follows str0m's `EgressBitrateEstimate` and a receiver.
//! Queueing delay is read from the simulator's trace (each datagram's send and delivery
//! matched by digest). Shared by `tests/str0m_side_by_side.rs` and the benches' `bwe` group.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrtc_netsim::{Datagram, Endpoint, Handle, LinkConfig, LinkId, Sim};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use str0m::bwe::{Bitrate, BweKind};
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

use super::{FPS, ONE_WAY, bottleneck};

const SENDER: &str = "10.0.0.1:5000";
const RECEIVER: &str = "10.0.0.2:6000";

/// One str0m peer.
pub struct Peer {
    rtc: Rtc,
    out: VecDeque<Datagram>,
    timeout: Option<Instant>,
    sender: bool,
    connected: bool,
    mid: Option<Mid>,
    pt: Option<Pt>,
    estimate: u64,
    next_frame: Option<Instant>,
    frames: u64,
    rng: ChaCha8Rng,
}

impl Peer {
    fn new(now: Instant, addr: &str, sender: bool, seed: u64) -> Peer {
        let mut b =
            Rtc::builder().set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()));
        if sender {
            b = b.enable_bwe(Some(Bitrate::kbps(300)));
        }
        let mut rtc = b.build(now);
        let addr: SocketAddr = addr.parse().unwrap();
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        Peer {
            rtc,
            out: VecDeque::new(),
            timeout: None,
            sender,
            connected: false,
            mid: None,
            pt: None,
            estimate: 300_000,
            next_frame: None,
            frames: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    fn drain(&mut self, now: Instant) {
        loop {
            match self.rtc.poll_output().expect("str0m poll_output") {
                Output::Timeout(t) => {
                    self.timeout = Some(t.max(now + Duration::from_millis(1)));
                    break;
                }
                Output::Transmit(t) => {
                    self.out
                        .push_back(Datagram::new(t.source, t.destination, &t.contents[..]));
                }
                Output::Event(e) => match e {
                    Event::Connected => self.connected = true,
                    Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => {
                        self.estimate = estimate.as_u64();
                    }
                    _ => {}
                },
            }
        }
    }

    fn input(&mut self, now: Instant, input: Input<'_>) {
        // A datagram str0m refuses is a drop, as on a real socket.
        let _ = self.rtc.handle_input(input);
        self.drain(now);
    }

    fn write_frame(&mut self, now: Instant) {
        let (Some(mid), Some(pt)) = (self.mid, self.pt) else {
            return;
        };
        // The same synthetic encoder as tests/support: a frame at the estimate, +-20%.
        let mean = self.estimate as f64 / 8.0 / f64::from(FPS);
        let bytes = ((mean * self.rng.random_range(0.8..1.2)) as usize).max(20);
        let mut data = vec![0u8; bytes];
        // A VP8 key-frame-shaped header so the packetizer treats it as a frame start.
        data[0] = 0x10;
        let time = MediaTime::from_90khz(self.frames * 3000);
        self.frames += 1;
        if let Some(w) = self.rtc.writer(mid) {
            let _ = w.write(pt, now, time, data);
        }
        self.drain(now);
    }
}

impl Endpoint for Peer {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let Ok(contents) = data.try_into() else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source: from,
                destination: to,
                contents,
            },
        );
        self.input(now, input);
    }

    fn timeout(&mut self, now: Instant) {
        if self.sender && self.connected {
            let next = *self.next_frame.get_or_insert(now);
            if now >= next {
                self.write_frame(now);
                let capture = next + Duration::from_secs(1) / FPS;
                self.next_frame = Some(capture.max(now));
            }
        }
        self.input(now, Input::Timeout(now));
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match (
            self.timeout,
            self.next_frame.filter(|_| self.sender && self.connected),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A str0m sender and receiver over the bottleneck.
pub struct Str0mRun {
    sim: Sim,
    s: Handle<Peer>,
    forward: LinkId,
    loss: f64,
}

impl Str0mRun {
    /// A run at `bps` with `loss`, seeded.
    pub fn new(seed: u64, bps: u64, loss: f64) -> Str0mRun {
        let mut sim = Sim::new(seed);
        sim.enable_trace();
        let now = sim.now();
        let a: SocketAddr = SENDER.parse().unwrap();
        let b: SocketAddr = RECEIVER.parse().unwrap();
        let forward = sim.add_link(
            a.ip(),
            b.ip(),
            bottleneck(bps, Duration::from_millis(300), loss),
        );
        sim.add_link(b.ip(), a.ip(), LinkConfig::ideal().latency(ONE_WAY));
        let mut s = Peer::new(now, SENDER, true, seed);
        let mut r = Peer::new(now, RECEIVER, false, seed + 1);
        let mut api = s.rtc.sdp_api();
        let mid = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = api.apply().expect("an offer");
        let answer = r
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .expect("str0m accepts its own offer");
        let answer = SdpAnswer::from_sdp_string(&answer.to_sdp_string()).unwrap();
        s.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("str0m accepts the answer");
        s.mid = Some(mid);
        s.pt = s
            .rtc
            .media(mid)
            .and_then(|m| m.remote_pts().first().copied())
            .or_else(|| {
                s.rtc
                    .codec_config()
                    .find(|p| p.spec().codec == str0m::format::Codec::Vp8)
                    .map(|p| p.pt())
            });
        s.rtc.bwe().set_desired_bitrate(Bitrate::mbps(20));
        s.drain(now);
        r.drain(now);
        let s = sim.add_endpoint([a], s);
        sim.add_endpoint([b], r);
        Str0mRun {
            sim,
            s,
            forward,
            loss,
        }
    }

    /// Changes the bottleneck's rate.
    pub fn set_capacity(&mut self, bps: u64) {
        let c = bottleneck(bps, Duration::from_millis(300), self.loss);
        self.sim.set_link_config(self.forward, c);
    }

    /// Runs to `secs` since the epoch.
    pub fn run_to(&mut self, secs: f64) {
        let t = self.sim.epoch() + Duration::from_secs_f64(secs);
        self.sim.run_until(t);
    }

    /// (utilisation against `cap`, p95 queueing) of media datagrams delivered in
    /// `[start, end)` s.
    pub fn measure(&self, start: f64, end: f64, cap: f64) -> (f64, Duration) {
        super::trace_measure(&self.sim, SENDER.parse().unwrap(), start, end, cap)
    }

    /// str0m's latest estimate, bit/s.
    pub fn estimate(&self) -> u64 {
        self.sim.endpoint(self.s).estimate
    }
}
