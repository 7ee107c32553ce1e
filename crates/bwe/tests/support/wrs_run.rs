//! webrtc-rs's GCC through the same netsim bottleneck as [`super::Scenario`]: the sans-IO
//! interceptors of `rtc-interceptor` 0.21 (webrtc-rs/rtc, the successor of webrtc-rs 0.17's
//! `interceptor`), driven through their public API only.
//!
//! The sender is the chain webrtc-rs documents for congestion control, built by its
//! `Registry`: wire-most its `CongestionControlInterceptor` around its `Gcc` estimator, then
//! its `TwccSenderInterceptor` (which stamps the transport-wide sequence number header
//! extension), then its `PacerInterceptor` (a leaky bucket at GCC's target, which it reads off
//! the `TargetBitrateChanged` attribute the congestion controller puts on the feedback packet).
//! A synthetic 30 fps encoder (the same as [`super::Sender`]'s: a frame at the target, +-20%,
//! cut into packets of at most [`MTU`] bytes on the wire) follows the same attribute, read at
//! the application end of the chain. The receiver is webrtc-rs's own
//! `TwccReceiverInterceptor`, reporting every 50 ms as ferrtc's scenario receiver does
//! (webrtc-rs's default is 100 ms); its RTCP goes back over the ideal reverse link. GCC starts
//! at its default 300 kbit/s, bounded to 100 kbit/s-100 Mbit/s. Queueing is read from the
//! simulator's trace ([`super::trace_measure`]).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrtc_netsim::{Datagram, Endpoint, Handle, LinkConfig, LinkId, Sim};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rtc_interceptor::{
    Attribute, AttributedPacket, BoxedInterceptor, CongestionControlBuilder, GCC_INITIAL_BITRATE,
    Gcc, PacerBuilder, Packet, RTCPFeedback, RTPHeaderExtension, Registry, Slot, StreamInfo,
    TaggedPacket, TwccReceiverBuilder, TwccSenderBuilder,
};
use rtc_shared::TransportContext;
use rtc_shared::marshal::{Marshal, Unmarshal};
use sansio::Protocol;

use super::{ENCODE_TIME, FPS, MTU, ONE_WAY, bottleneck};

const SENDER: &str = "10.0.0.1:5000";
const RECEIVER: &str = "10.0.0.2:6000";
const SSRC: u32 = 0x5EED_0001;
const TRANSPORT_CC_URI: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
/// RTP header (12) and the one-byte-header extension block holding the transport-wide
/// sequence number (4 + 1 + 2, padded to 8) that webrtc-rs's TWCC sender adds.
const RTP_OVERHEAD: usize = 20;

/// The stream both ends bind: VP8, transport-cc negotiated under extension id 5.
fn stream() -> StreamInfo {
    StreamInfo {
        ssrc: SSRC,
        clock_rate: 90_000,
        mime_type: "video/VP8".to_owned(),
        payload_type: 96,
        rtcp_feedback: vec![RTCPFeedback {
            typ: "transport-cc".to_owned(),
            parameter: String::new(),
        }],
        rtp_header_extensions: vec![RTPHeaderExtension {
            uri: TRANSPORT_CC_URI.to_owned(),
            id: 5,
        }],
        ..Default::default()
    }
}

fn tagged(now: Instant, packet: Packet) -> TaggedPacket {
    TaggedPacket {
        now,
        transport: TransportContext::default(),
        message: AttributedPacket::new(packet),
    }
}

/// The next wake-up the chain asks for, at least 1 us after `now` (the pacer's release
/// instant is computed in floating point and may land a hair before the bucket affords it).
fn next_wake(chain: &mut BoxedInterceptor, now: Instant) -> Option<Instant> {
    chain
        .poll_timeout()
        .map(|t| t.max(now + Duration::from_micros(1)))
}

/// The webrtc-rs sender: encoder and interceptor chain.
pub struct WrsSender {
    epoch: Instant,
    chain: BoxedInterceptor,
    out: VecDeque<Datagram>,
    local: SocketAddr,
    remote: SocketAddr,
    /// GCC's latest target, bit/s, as the chain last announced it.
    pub estimate: f64,
    /// (seconds since epoch, target bit/s) at each announcement.
    pub targets: Vec<(f64, f64)>,
    capture: Instant,
    next_frame: Instant,
    frames: u32,
    seq: u16,
    timeout: Option<Instant>,
    rng: ChaCha8Rng,
}

impl WrsSender {
    fn new(epoch: Instant, seed: u64) -> Self {
        let mut chain: BoxedInterceptor = Box::new(
            Registry::new()
                .with(
                    Slot::CongestionControl,
                    CongestionControlBuilder::new(Gcc::default()).build(),
                )
                .with(Slot::TwccSender, TwccSenderBuilder::new().build())
                .with(
                    Slot::Pacer,
                    PacerBuilder::new()
                        .with_target_bitrate(GCC_INITIAL_BITRATE)
                        .build(),
                )
                .build(),
        );
        chain.bind_local_stream(&stream());
        WrsSender {
            epoch,
            chain,
            out: VecDeque::new(),
            local: SENDER.parse().unwrap(),
            remote: RECEIVER.parse().unwrap(),
            estimate: GCC_INITIAL_BITRATE,
            targets: Vec::new(),
            capture: epoch,
            next_frame: epoch,
            frames: 0,
            seq: 0,
            timeout: None,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Runs the chain's timers and takes whatever it releases to the wire.
    fn flush(&mut self, now: Instant) {
        let _ = self.chain.handle_timeout(now);
        while let Some(out) = self.chain.poll_write() {
            let Packet::Rtp(rtp) = &out.message.packet else {
                continue;
            };
            if let Ok(buf) = rtp.marshal() {
                self.out
                    .push_back(Datagram::new(self.local, self.remote, &buf[..]));
            }
        }
        while let Some(msg) = self.chain.poll_read() {
            self.read_target(now, &msg);
        }
        self.timeout = next_wake(&mut self.chain, now);
    }

    fn read_target(&mut self, now: Instant, msg: &TaggedPacket) {
        if let Some(Attribute::TargetBitrateChanged { bits_per_second }) =
            msg.message.get(&Attribute::TargetBitrateChanged {
                bits_per_second: 0.0,
            })
        {
            self.estimate = *bits_per_second;
            self.targets
                .push(((now - self.epoch).as_secs_f64(), *bits_per_second));
        }
    }

    /// One frame at the target, +-20%, into the chain as RTP packets.
    fn write_frame(&mut self, now: Instant) {
        let mean = self.estimate / 8.0 / f64::from(FPS);
        let bytes = (mean * self.rng.random_range(0.8..1.2)) as usize;
        let packets = bytes.div_ceil(MTU).max(1);
        for k in 0..packets {
            let size = (bytes / packets + usize::from(k < bytes % packets)).max(RTP_OVERHEAD + 1);
            let rtp = rtc_rtp::packet::Packet {
                header: rtc_rtp::header::Header {
                    version: 2,
                    payload_type: 96,
                    sequence_number: self.seq,
                    timestamp: self.frames.wrapping_mul(3000),
                    ssrc: SSRC,
                    marker: k + 1 == packets,
                    ..Default::default()
                },
                payload: vec![0u8; size - RTP_OVERHEAD].into(),
            };
            self.seq = self.seq.wrapping_add(1);
            let _ = self.chain.handle_write(tagged(now, Packet::Rtp(rtp)));
        }
        self.frames += 1;
    }
}

impl Endpoint for WrsSender {
    fn receive(&mut self, now: Instant, _from: SocketAddr, _to: SocketAddr, data: &[u8]) {
        let Ok(rtcp) = rtc_rtcp::packet::unmarshal(&mut &data[..]) else {
            return;
        };
        let _ = self.chain.handle_read(tagged(now, Packet::Rtcp(rtcp)));
        while let Some(msg) = self.chain.poll_read() {
            self.read_target(now, &msg);
        }
        self.flush(now);
    }

    fn timeout(&mut self, now: Instant) {
        while self.next_frame <= now {
            self.write_frame(now);
            self.capture += Duration::from_secs(1) / FPS;
            self.next_frame = self.capture + ENCODE_TIME.mul_f64(self.rng.random_range(0.0..1.0));
        }
        self.flush(now);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Some(
            self.timeout
                .map_or(self.next_frame, |t| t.min(self.next_frame)),
        )
    }
}

/// The receiver: webrtc-rs's TWCC feedback generator.
pub struct WrsReceiver {
    chain: BoxedInterceptor,
    out: VecDeque<Datagram>,
    local: SocketAddr,
    peer: Option<SocketAddr>,
    timeout: Option<Instant>,
}

impl WrsReceiver {
    fn new() -> Self {
        let mut chain: BoxedInterceptor = Box::new(
            Registry::new()
                .with(
                    Slot::TwccReceiver,
                    TwccReceiverBuilder::new()
                        .with_interval(Duration::from_millis(50))
                        .build(),
                )
                .build(),
        );
        chain.bind_remote_stream(&stream());
        WrsReceiver {
            chain,
            out: VecDeque::new(),
            local: RECEIVER.parse().unwrap(),
            peer: None,
            timeout: None,
        }
    }

    fn flush(&mut self, now: Instant) {
        while self.chain.poll_read().is_some() {}
        while let Some(out) = self.chain.poll_write() {
            let (Packet::Rtcp(rtcp), Some(peer)) = (&out.message.packet, self.peer) else {
                continue;
            };
            if let Ok(buf) = rtc_rtcp::packet::marshal(rtcp) {
                self.out
                    .push_back(Datagram::new(self.local, peer, &buf[..]));
            }
        }
        self.timeout = next_wake(&mut self.chain, now);
    }
}

impl Endpoint for WrsReceiver {
    fn receive(&mut self, now: Instant, from: SocketAddr, _to: SocketAddr, data: &[u8]) {
        let Ok(rtp) = rtc_rtp::packet::Packet::unmarshal(&mut &data[..]) else {
            return;
        };
        self.peer = Some(from);
        let _ = self.chain.handle_read(tagged(now, Packet::Rtp(rtp)));
        self.flush(now);
    }

    fn timeout(&mut self, now: Instant) {
        let _ = self.chain.handle_timeout(now);
        self.flush(now);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.timeout
    }
}

/// A webrtc-rs sender and receiver over the bottleneck.
pub struct WrsRun {
    sim: Sim,
    s: Handle<WrsSender>,
    forward: LinkId,
    loss: f64,
}

impl WrsRun {
    /// A run at `bps` with `loss`, seeded.
    pub fn new(seed: u64, bps: u64, loss: f64) -> WrsRun {
        let mut sim = Sim::new(seed);
        sim.enable_trace();
        let epoch = sim.epoch();
        let a: SocketAddr = SENDER.parse().unwrap();
        let b: SocketAddr = RECEIVER.parse().unwrap();
        let forward = sim.add_link(
            a.ip(),
            b.ip(),
            bottleneck(bps, Duration::from_millis(300), loss),
        );
        sim.add_link(b.ip(), a.ip(), LinkConfig::ideal().latency(ONE_WAY));
        let s = sim.add_endpoint([a], WrsSender::new(epoch, seed ^ 0x5eed));
        sim.add_endpoint([b], WrsReceiver::new());
        WrsRun {
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

    /// GCC's latest target, bit/s.
    pub fn estimate(&self) -> f64 {
        self.sim.endpoint(self.s).estimate
    }

    /// Runs to `to` s sampling GCC's target every `step` s: (time, target).
    pub fn sample(&mut self, to: f64, step: f64) -> Vec<(f64, f64)> {
        let mut out = Vec::new();
        let mut t = self.sim.elapsed().as_secs_f64();
        while t < to - 1e-9 {
            t += step;
            self.run_to(t);
            out.push((t, self.estimate()));
        }
        out
    }
}
