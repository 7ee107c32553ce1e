//! Test support: a synthetic video sender driven by ferrtc-bwe and a receiver that sends
//! transport-wide feedback (ferrtc-rtp-codecs' `TwccGenerator`), joined by a netsim link with
//! a bottleneck (bandwidth, tail-drop queue, latency, loss). Virtual time, seeded.
#![allow(dead_code)]

pub mod str0m_run;
pub mod wrs_run;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrtc_bwe::{BweConfig, BweEvent, CongestionController, Paced, PacketKind};
use ferrtc_netsim::{Bandwidth, Datagram, Endpoint, Handle, LinkConfig, LinkId, Sim, TraceKind};
use ferrtc_rtp_codecs::pipeline::twcc::{TwccConfig, TwccGenerator};
use ferrtc_rtp_codecs::rtcp::{RawRtcp, RtcpPacket};
use ferrtc_types::{SeqNo, Ssrc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Frames per second of the synthetic encoder.
pub const FPS: u32 = 30;
/// Largest media packet.
pub const MTU: usize = 1200;
/// One-way propagation delay each way (50 ms RTT).
pub const ONE_WAY: Duration = Duration::from_millis(25);
/// Longest encode time of a frame (drawn uniformly per frame).
pub const ENCODE_TIME: Duration = Duration::from_millis(10);
/// Header the test writes at the start of each media datagram: flow, seq, send time.
const HEADER: usize = 12;

/// One video flow: encoder, congestion controller, samples.
pub struct Flow {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub cc: CongestionController<usize>,
    /// Capture time of the next frame, and when it leaves the encoder (capture plus a
    /// random encode time, so that flows' frames do not keep a fixed phase).
    capture: Instant,
    next_frame: Instant,
    pub start: Instant,
    /// (seconds since epoch, target bit/s) at each TargetBitrate event.
    pub targets: Vec<(f64, u64)>,
    pub sent_bytes: u64,
    pub started: bool,
}

/// The sending host: one or more flows.
pub struct Sender {
    epoch: Instant,
    pub flows: Vec<Flow>,
    out: VecDeque<Datagram>,
    rng: ChaCha8Rng,
}

impl Sender {
    pub fn new(epoch: Instant, seed: u64) -> Self {
        Sender {
            epoch,
            flows: Vec::new(),
            out: VecDeque::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Adds a flow that starts sending at `start`.
    pub fn add_flow(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        config: BweConfig,
        start: Instant,
    ) {
        self.flows.push(Flow {
            local,
            remote,
            cc: CongestionController::new(config, start, SeqNo(65_000)),
            capture: start,
            next_frame: start,
            start,
            targets: Vec::new(),
            sent_bytes: 0,
            started: false,
        });
    }

    fn pump(&mut self, now: Instant) {
        let epoch = self.epoch;
        for (i, f) in self.flows.iter_mut().enumerate() {
            if now < f.start {
                continue;
            }
            f.started = true;
            while let Some(o) = f.cc.poll_transmit() {
                let size = match o.paced {
                    Paced::Packet { size, .. } | Paced::Padding { size, .. } => size,
                };
                let mut data = vec![0u8; size.max(HEADER)];
                data[0] = i as u8;
                data[2..4].copy_from_slice(&o.transport_seq.0.to_be_bytes());
                let ns = (now - epoch).as_nanos() as u64;
                data[4..12].copy_from_slice(&ns.to_be_bytes());
                f.sent_bytes += data.len() as u64;
                self.out.push_back(Datagram::new(f.local, f.remote, data));
            }
            while let Some(ev) = f.cc.poll_event() {
                let BweEvent::TargetBitrate { bitrate_bps, .. } = ev else {
                    continue;
                };
                f.targets.push(((now - epoch).as_secs_f64(), bitrate_bps));
            }
        }
    }
}

impl Endpoint for Sender {
    fn receive(&mut self, now: Instant, _from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let Some(f) = self.flows.iter_mut().find(|f| f.local == to) else {
            return;
        };
        let mut rest = data;
        while !rest.is_empty() {
            let Ok((raw, next)) = RawRtcp::parse(rest) else {
                break;
            };
            rest = next;
            if let Ok(RtcpPacket::TransportFeedback(fb)) = RtcpPacket::parse(raw) {
                f.cc.handle_transport_feedback(now, &fb);
            }
        }
        self.pump(now);
    }

    fn timeout(&mut self, now: Instant) {
        for f in &mut self.flows {
            if now < f.start {
                continue;
            }
            while f.next_frame <= now {
                // A frame at the target rate, +-20%, cut into packets of at most MTU bytes.
                let mean = f.cc.target_bitrate_bps() as f64 / 8.0 / f64::from(FPS);
                let bytes = (mean * self.rng.random_range(0.8..1.2)) as usize;
                let packets = bytes.div_ceil(MTU).max(1);
                for k in 0..packets {
                    let size = (bytes / packets + usize::from(k < bytes % packets)).max(HEADER);
                    f.cc.enqueue(now, PacketKind::Video, size, size);
                }
                f.capture += Duration::from_secs(1) / FPS;
                f.next_frame = f.capture + ENCODE_TIME.mul_f64(self.rng.random_range(0.0..1.0));
            }
            f.cc.handle_timeout(now);
        }
        self.pump(now);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.flows
            .iter()
            .flat_map(|f| {
                let t = f.cc.poll_timeout().map(|t| t.max(f.start));
                [Some(f.next_frame), t]
            })
            .flatten()
            .min()
    }
}

/// Per-flow receive records.
#[derive(Default)]
pub struct FlowRx {
    pub twcc: Option<TwccGenerator>,
    pub from: Option<SocketAddr>,
    /// (arrival seconds since epoch, one-way delay minus propagation, bytes).
    pub packets: Vec<(f64, Duration, usize)>,
}

/// The receiving host.
pub struct Receiver {
    epoch: Instant,
    pub local: SocketAddr,
    pub flows: Vec<FlowRx>,
    out: VecDeque<Datagram>,
    interval: Duration,
}

impl Receiver {
    pub fn new(epoch: Instant, local: SocketAddr, interval: Duration) -> Self {
        Receiver {
            epoch,
            local,
            flows: Vec::new(),
            out: VecDeque::new(),
            interval,
        }
    }

    /// Queueing delay percentile `p` (0..=1) over packets arriving in `[from, to)` s.
    pub fn delay_percentile(&self, flow: usize, from: f64, to: f64, p: f64) -> Duration {
        let mut d: Vec<Duration> = self.flows[flow]
            .packets
            .iter()
            .filter(|x| x.0 >= from && x.0 < to)
            .map(|x| x.1)
            .collect();
        d.sort();
        if d.is_empty() {
            return Duration::ZERO;
        }
        d[((d.len() - 1) as f64 * p).round() as usize]
    }

    /// Bit/s received on `flow` in `[from, to)` s.
    pub fn throughput(&self, flow: usize, from: f64, to: f64) -> f64 {
        let bytes: usize = self.flows[flow]
            .packets
            .iter()
            .filter(|x| x.0 >= from && x.0 < to)
            .map(|x| x.2)
            .sum();
        bytes as f64 * 8.0 / (to - from)
    }
}

impl Endpoint for Receiver {
    fn receive(&mut self, now: Instant, from: SocketAddr, _to: SocketAddr, data: &[u8]) {
        if data.len() < HEADER {
            return;
        }
        let flow = usize::from(data[0]);
        while self.flows.len() <= flow {
            self.flows.push(FlowRx::default());
        }
        let interval = self.interval;
        let rx = &mut self.flows[flow];
        rx.from = Some(from);
        let seq = SeqNo(u16::from_be_bytes([data[2], data[3]]));
        let mut ns = [0u8; 8];
        ns.copy_from_slice(&data[4..12]);
        let sent = self.epoch + Duration::from_nanos(u64::from_be_bytes(ns));
        let queue = (now - sent).saturating_sub(ONE_WAY);
        rx.packets
            .push(((now - self.epoch).as_secs_f64(), queue, data.len()));
        rx.twcc
            .get_or_insert_with(|| {
                TwccGenerator::new(
                    Ssrc(1),
                    Ssrc(2),
                    TwccConfig {
                        interval,
                        ..TwccConfig::default()
                    },
                )
            })
            .handle_packet(now, seq);
    }

    fn timeout(&mut self, now: Instant) {
        for rx in &mut self.flows {
            let (Some(twcc), Some(to)) = (rx.twcc.as_mut(), rx.from) else {
                continue;
            };
            while let Some(fb) = twcc.poll_feedback(now) {
                let mut buf = Vec::new();
                if RtcpPacket::TransportFeedback(fb).emit_vec(&mut buf).is_ok() {
                    self.out.push_back(Datagram::new(self.local, to, buf));
                }
            }
        }
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.flows
            .iter()
            .filter_map(|f| f.twcc.as_ref()?.poll_timeout())
            .min()
    }
}

/// Seeds for the side-by-side tests: `FERRTC_BWE_SEEDS` as a list (`1,2,3`) or a range
/// (`1-5`); seed 1 when unset.
pub fn side_by_side_seeds() -> Vec<u64> {
    let Ok(v) = std::env::var("FERRTC_BWE_SEEDS") else {
        return vec![1];
    };
    if let Some((a, b)) = v.split_once('-') {
        let (a, b): (u64, u64) = (a.trim().parse().unwrap(), b.trim().parse().unwrap());
        return (a..=b).collect();
    }
    v.split(',').map(|x| x.trim().parse().unwrap()).collect()
}

/// A scenario: sender host, receiver host, bottleneck link.
pub struct Scenario {
    pub sim: Sim,
    pub sender: Handle<Sender>,
    pub receiver: Handle<Receiver>,
    pub forward: LinkId,
    pub loss: f64,
    pub queue: Duration,
}

/// The bottleneck link at `bps` with a queue of `queue` worth of data and `loss`.
pub fn bottleneck(bps: u64, queue: Duration, loss: f64) -> LinkConfig {
    let bytes = (bps as f64 / 8.0 * queue.as_secs_f64()) as usize;
    LinkConfig::ideal()
        .latency(ONE_WAY)
        .loss(loss)
        .bandwidth(Bandwidth::new(bps, bytes.max(3 * MTU)))
}

impl Scenario {
    /// `flows` flows starting at the given offsets through a `bps` bottleneck.
    pub fn new(seed: u64, bps: u64, loss: f64, starts: &[Duration]) -> Self {
        let mut sim = Sim::new(seed);
        let epoch = sim.epoch();
        let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:6000".parse().unwrap();
        let queue = Duration::from_millis(300);
        let forward = sim.add_link(a.ip(), b.ip(), bottleneck(bps, queue, loss));
        sim.add_link(b.ip(), a.ip(), LinkConfig::ideal().latency(ONE_WAY));
        let mut sender = Sender::new(epoch, seed ^ 0x5eed);
        let mut addrs = Vec::new();
        for (i, s) in starts.iter().enumerate() {
            let local = SocketAddr::new(a.ip(), 5000 + i as u16);
            addrs.push(local);
            sender.add_flow(local, b, BweConfig::default(), epoch + *s);
        }
        let sender = sim.add_endpoint(addrs, sender);
        let receiver = sim.add_endpoint([b], Receiver::new(epoch, b, Duration::from_millis(50)));
        Scenario {
            sim,
            sender,
            receiver,
            forward,
            loss,
            queue,
        }
    }

    /// Changes the bottleneck's rate.
    pub fn set_capacity(&mut self, bps: u64) {
        let c = bottleneck(bps, self.queue, self.loss);
        self.sim.set_link_config(self.forward, c);
    }

    /// Runs to `secs` since the epoch.
    pub fn run_to(&mut self, secs: f64) {
        let t = self.sim.epoch() + Duration::from_secs_f64(secs);
        self.sim.run_until(t);
    }

    /// Flow `i`'s current target, bit/s.
    pub fn target(&self, i: usize) -> u64 {
        self.sim.endpoint(self.sender).flows[i]
            .cc
            .target_bitrate_bps()
    }

    /// Runs to `to` s sampling every flow's target every `step` s: (time, targets).
    pub fn sample(&mut self, to: f64, step: f64) -> Vec<(f64, Vec<u64>)> {
        let mut out = Vec::new();
        let n = self.sim.endpoint(self.sender).flows.len();
        let mut t = self.sim.elapsed().as_secs_f64();
        while t < to - 1e-9 {
            t += step;
            self.run_to(t);
            out.push((t, (0..n).map(|i| self.target(i)).collect()));
        }
        out
    }

    pub fn receiver(&self) -> &Receiver {
        self.sim.endpoint(self.receiver)
    }
}

/// (utilisation against `cap`, p95 queueing) of the media datagrams (over 200 bytes) from
/// `sender` delivered in `[start, end)` s, read from `sim`'s trace: each datagram's send and
/// delivery matched by digest, queueing being the one-way delay minus [`ONE_WAY`]. The
/// reference harnesses (str0m, webrtc-rs) measure with this.
pub fn trace_measure(
    sim: &Sim,
    sender: SocketAddr,
    start: f64,
    end: f64,
    cap: f64,
) -> (f64, Duration) {
    let mut sent: HashMap<u64, Duration> = HashMap::new();
    let (mut bytes, mut delays) = (0usize, Vec::new());
    for ev in sim.trace() {
        match &ev.kind {
            TraceKind::Sent {
                from, len, digest, ..
            } if *from == sender && *len > 200 => {
                sent.insert(*digest, ev.at);
            }
            TraceKind::Delivered {
                from, len, digest, ..
            } if *from == sender && *len > 200 => {
                let t = ev.at.as_secs_f64();
                if !(start..end).contains(&t) {
                    continue;
                }
                bytes += len;
                if let Some(s) = sent.get(digest) {
                    delays.push((ev.at - *s).saturating_sub(ONE_WAY));
                }
            }
            _ => {}
        }
    }
    delays.sort();
    let p95 = delays
        .get(delays.len().saturating_sub(1) * 95 / 100)
        .copied()
        .unwrap_or_default();
    (bytes as f64 * 8.0 / (end - start) / cap, p95)
}
