//! The receive-side REMB estimator in a closed loop: a sender that sends at the rate the
//! receiver's REMB allows, paced in 1200-byte packets stamped with abs-send-time, through a
//! bottleneck with 25 ms each way. Deterministic, virtual time.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ferrtc_bwe::RembEstimator;

const ONE_WAY: Duration = Duration::from_millis(25);
const PACKET: usize = 1200;

struct Loop {
    t0: Instant,
    now: Instant,
    capacity_bps: f64,
    send_rate_bps: f64,
    next_send: Instant,
    busy_until: Instant,
    in_flight: VecDeque<(Instant, Instant)>,
    rembs: VecDeque<(Instant, u64)>,
    est: RembEstimator,
    /// (seconds, queueing delay, sender rate).
    log: Vec<(f64, Duration, f64)>,
}

impl Loop {
    fn new(capacity_bps: f64) -> Self {
        let t0 = Instant::now();
        Loop {
            t0,
            now: t0,
            capacity_bps,
            send_rate_bps: 300_000.0,
            next_send: t0,
            busy_until: t0,
            in_flight: VecDeque::new(),
            rembs: VecDeque::new(),
            est: RembEstimator::new(t0, 300_000, 30_000, 20_000_000),
            log: Vec::new(),
        }
    }

    fn run_to(&mut self, secs: f64) {
        let end = self.t0 + Duration::from_secs_f64(secs);
        while self.now < end {
            let mut next = self.next_send;
            if let Some(&(t, _)) = self.in_flight.front() {
                next = next.min(t);
            }
            if let Some(&(t, _)) = self.rembs.front() {
                next = next.min(t);
            }
            if let Some(t) = self.est.poll_timeout() {
                next = next.min(t.max(self.now));
            }
            self.now = next.max(self.now);
            let now = self.now;
            if now >= self.next_send {
                let start = self.busy_until.max(now);
                self.busy_until =
                    start + Duration::from_secs_f64(PACKET as f64 * 8.0 / self.capacity_bps);
                self.in_flight.push_back((self.busy_until + ONE_WAY, now));
                self.next_send += Duration::from_secs_f64(PACKET as f64 * 8.0 / self.send_rate_bps);
            }
            while let Some(&(at, sent)) = self.in_flight.front() {
                if at > now {
                    break;
                }
                self.in_flight.pop_front();
                let us = (sent - self.t0).as_micros() as u64;
                let abs = ((us << 18) / 1_000_000) as u32 & 0xff_ffff;
                self.est.handle_packet(at, abs, PACKET);
                let queue = (at - sent).saturating_sub(ONE_WAY);
                self.log
                    .push(((at - self.t0).as_secs_f64(), queue, self.send_rate_bps));
            }
            self.est.handle_timeout(now);
            if let Some(bps) = self.est.poll_remb(now) {
                self.rembs.push_back((now + ONE_WAY, bps));
            }
            while let Some(&(at, bps)) = self.rembs.front() {
                if at > now {
                    break;
                }
                self.rembs.pop_front();
                self.send_rate_bps = bps as f64;
            }
        }
    }

    fn window(&self, from: f64, to: f64) -> (f64, Duration, f64) {
        let w: Vec<_> = self
            .log
            .iter()
            .filter(|x| x.0 >= from && x.0 < to)
            .collect();
        let mean_rate = w.iter().map(|x| x.2).sum::<f64>() / w.len() as f64;
        let mut q: Vec<Duration> = w.iter().map(|x| x.1).collect();
        q.sort();
        let p95 = q[(q.len() - 1) * 95 / 100];
        let min_rate = w.iter().map(|x| x.2).fold(f64::MAX, f64::min);
        (mean_rate, p95, min_rate)
    }
}

#[test]
fn remb_loop_finds_the_capacity_and_follows_a_drop() {
    let cap = 1_500_000.0;
    let mut l = Loop::new(cap);
    l.run_to(60.0);
    let (mean, p95, _) = l.window(40.0, 60.0);
    eprintln!(
        "40-60 s: mean {mean:.0} ({:.2} of capacity), p95 queue {p95:?}",
        mean / cap
    );
    assert!(mean > 0.6 * cap && mean < 1.1 * cap, "{mean}");
    assert!(p95 < Duration::from_millis(150), "{p95:?}");
    // The capacity drops to a third.
    l.capacity_bps = cap / 3.0;
    l.run_to(62.0);
    let rate = l.send_rate_bps;
    eprintln!("2 s after the drop to {:.0}: sending {rate:.0}", cap / 3.0);
    assert!(rate < cap / 3.0, "{rate}");
    l.run_to(90.0);
    let (mean, p95, _) = l.window(75.0, 90.0);
    eprintln!(
        "75-90 s: mean {mean:.0} ({:.2} of capacity), p95 queue {p95:?}",
        mean / (cap / 3.0)
    );
    assert!(mean > 0.6 * cap / 3.0 && p95 < Duration::from_millis(150));
}
