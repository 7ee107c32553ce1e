//! After warm-up, congestion control allocates nothing per packet: a counting global
//! allocator watches ten seconds of steady traffic through the controller (enqueue, pace,
//! number, transport-wide feedback, timers) and through the REMB estimator.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ferrtc_bwe::{BweConfig, CongestionController, Paced, PacketKind, RembEstimator};
use ferrtc_rtp_codecs::rtcp::{PacketStatus, TransportFeedback, TwccPackets};
use ferrtc_test_alloc::allocations;
use ferrtc_types::{SeqNo, Ssrc};

#[global_allocator]
static GLOBAL: ferrtc_test_alloc::Counting = ferrtc_test_alloc::Counting;

/// Bottleneck rate and one-way delay of the in-test link.
const LINK_BPS: f64 = 2_000_000.0;
const DELAY: Duration = Duration::from_millis(20);

struct Harness {
    t0: Instant,
    now: Instant,
    cc: CongestionController<u32>,
    remb: RembEstimator,
    busy_until: Instant,
    in_flight: VecDeque<(Instant, SeqNo, usize)>,
    arrived: Vec<(SeqNo, Instant)>,
    statuses: Vec<PacketStatus>,
    next_frame: Instant,
    next_feedback: Instant,
    sent: u64,
    rembs: u64,
}

impl Harness {
    fn new() -> Self {
        let t0 = Instant::now();
        Harness {
            t0,
            now: t0,
            cc: CongestionController::new(BweConfig::default(), t0, SeqNo(60_000)),
            remb: RembEstimator::new(t0, 300_000, 30_000, 20_000_000),
            busy_until: t0,
            in_flight: VecDeque::with_capacity(8192),
            arrived: Vec::with_capacity(8192),
            statuses: Vec::with_capacity(8192),
            next_frame: t0,
            next_feedback: t0 + Duration::from_millis(50),
            sent: 0,
            rembs: 0,
        }
    }

    fn abs_send_time(&self, at: Instant) -> u32 {
        // 6.18 fixed-point seconds, 24 bits.
        let us = (at - self.t0).as_micros() as u64;
        ((us << 18) / 1_000_000) as u32 & 0xff_ffff
    }

    /// Advances to the next event and handles it.
    fn step(&mut self) {
        let mut next = self.next_frame.min(self.next_feedback);
        if let Some(t) = self.cc.poll_timeout() {
            next = next.min(t);
        }
        if let Some(&(t, _, _)) = self.in_flight.front() {
            next = next.min(t);
        }
        if let Some(t) = self.remb.poll_timeout() {
            next = next.min(t);
        }
        self.now = next.max(self.now);
        let now = self.now;
        while let Some(&(t, seq, size)) = self.in_flight.front() {
            if t > now {
                break;
            }
            self.in_flight.pop_front();
            self.arrived.push((seq, t));
            // The sender stamped abs-send-time at departure: arrival minus the path.
            let sent_at = t - DELAY;
            let ast = self.abs_send_time(sent_at);
            self.remb.handle_packet(t, ast, size);
        }
        self.remb.handle_timeout(now);
        if self.remb.poll_remb(now).is_some() {
            self.rembs += 1;
        }
        if now >= self.next_frame {
            let bytes = (self.cc.target_bitrate_bps() / 8 / 30) as usize;
            let packets = bytes.div_ceil(1200).max(1);
            for k in 0..packets {
                self.cc
                    .enqueue(now, PacketKind::Video, bytes / packets, k as u32);
            }
            self.cc.enqueue(now, PacketKind::Audio, 100, 0);
            self.next_frame += Duration::from_millis(33);
        }
        if now >= self.next_feedback {
            self.feedback(now);
            self.next_feedback += Duration::from_millis(50);
        }
        self.cc.handle_timeout(now);
        while let Some(out) = self.cc.poll_transmit() {
            let size = match out.paced {
                Paced::Packet { size, .. } | Paced::Padding { size, .. } => size,
            };
            let start = self.busy_until.max(now);
            self.busy_until = start + Duration::from_secs_f64(size as f64 * 8.0 / LINK_BPS);
            self.in_flight
                .push_back((self.busy_until + DELAY, out.transport_seq, size));
            self.sent += 1;
        }
        while self.cc.poll_event().is_some() {}
    }

    fn feedback(&mut self, now: Instant) {
        let Some(&(base, first_at)) = self.arrived.first() else {
            return;
        };
        let ticks = |t: Instant| ((t - self.t0).as_micros() / 250) as i64;
        let reference = ticks(first_at) / 256;
        let mut prev = reference * 256;
        self.statuses.clear();
        for &(_, at) in &self.arrived {
            let d = ticks(at) - prev;
            prev = ticks(at);
            self.statuses.push(match u8::try_from(d) {
                Ok(d) => PacketStatus::ReceivedSmall(d),
                Err(_) => PacketStatus::ReceivedLarge(d as i16),
            });
        }
        let fb = TransportFeedback {
            sender_ssrc: Ssrc(1),
            media_ssrc: Ssrc(2),
            base_seq: base,
            reference_time: reference as u32,
            fb_pkt_count: 0,
            packets: TwccPackets::Statuses(&self.statuses),
        };
        self.cc.handle_transport_feedback(now, &fb);
        self.arrived.clear();
    }

    fn run_until(&mut self, secs: u64) {
        let end = self.t0 + Duration::from_secs(secs);
        while self.now < end {
            self.step();
        }
    }
}

#[test]
fn steady_state_congestion_control_does_not_allocate() {
    let base = allocations();
    drop(std::hint::black_box(vec![0u8; 64]));
    assert!(allocations() > base, "counting allocator is active");

    let mut h = Harness::new();
    h.run_until(10);
    let (sent, rembs) = (h.sent, h.rembs);
    let before = allocations();
    h.run_until(20);
    let allocated = allocations() - before;
    let packets = h.sent - sent;
    assert!(packets > 1000, "{packets} packets in 10 s");
    assert!(h.rembs > rembs, "the REMB estimator produced values");
    let target = h.cc.target_bitrate_bps();
    assert!(
        (1_000_000..=2_200_000).contains(&target),
        "the controller found the 2 Mbit/s link: {target}"
    );
    assert_eq!(
        allocated, 0,
        "{allocated} allocations for {packets} packets"
    );
}
