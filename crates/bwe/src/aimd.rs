//! AIMD rate control (draft-ietf-rmcat-gcc-02 section 5.5): the detector's signal drives a
//! three-state machine (increase, hold, decrease); increases are multiplicative far from the
//! link's known capacity and additive near it, decreases go to a fraction of what the
//! receiver acknowledged.

use crate::delay::BandwidthUsage;

/// Multiplicative increase per second far from convergence (section 5.5: eta = 1.08).
const ETA: f64 = 1.08;
/// Decrease factor applied to the acknowledged rate (section 5.5: beta = 0.85).
pub(crate) const BETA: f64 = 0.85;
/// The estimate may not exceed the acknowledged rate by more than this factor plus
/// [`THROUGHPUT_SLACK_BPS`] (section 5.5: "1.5 * R_hat").
const THROUGHPUT_FACTOR: f64 = 1.5;
const THROUGHPUT_SLACK_BPS: f64 = 10_000.0;
/// Smallest additive increase per second (libwebrtc's kMinIncreaseRateBpsPerSecond).
const MIN_ADDITIVE_BPS_PER_S: f64 = 4_000.0;
/// Packets added per response time in additive increase. libwebrtc adds one; with one,
/// two flows sharing a bottleneck take minutes to even out (each cycle of AIMD closes 15%
/// of the gap and a cycle lasts about 7 s at a few Mbit/s), so we add two.
const ADDITIVE_PACKETS: f64 = 2.0;
/// Frame rate assumed to size the additive step (section 5.5 uses 30 fps).
const ASSUMED_FPS: f64 = 30.0;
/// Packet size assumed to size the additive step, bytes.
const ASSUMED_PACKET_BYTES: f64 = 1200.0;
/// Link-capacity average gain and normalized-deviation bounds (libwebrtc's
/// LinkCapacityEstimator).
const CAPACITY_ALPHA: f64 = 0.05;
const DEV_MIN: f64 = 0.4;
const DEV_MAX: f64 = 2.5;
/// At an overuse, the link-capacity average starts afresh only when the acknowledged
/// rate fell below this fraction of it (the link clearly shrank). libwebrtc starts afresh
/// below three deviations; a flow sharing the bottleneck sees its share move by more than
/// that as the others adjust, and restarting then sends it into multiplicative increase
/// while the others stay additive, which keeps the shares apart.
const SHRINK_EVIDENCE: f64 = 0.5;
/// Likewise it is dropped (and increases turn multiplicative) only when the acknowledged
/// rate rose above this multiple of it, not merely three deviations above: a flow whose
/// share grows as another backs off is not a link that grew.
const GROWTH_EVIDENCE: f64 = 1.25;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Hold,
    Increase,
    Decrease,
}

/// Running average of the acknowledged rate at the moments overuse was detected: where the
/// link saturates (kbps units internally, as the deviation is normalized by them).
#[derive(Debug, Clone, Copy, Default)]
struct LinkCapacity {
    estimate_kbps: Option<f64>,
    deviation: f64,
}

impl LinkCapacity {
    fn upper_bound(&self) -> Option<f64> {
        self.estimate_kbps.map(|e| {
            let three_std = 3.0 * (self.deviation * e).sqrt();
            (e + three_std).max(GROWTH_EVIDENCE * e) * 1000.0
        })
    }
    fn lower_bound(&self) -> Option<f64> {
        self.estimate_kbps.map(|e| {
            let three_std = 3.0 * (self.deviation * e).sqrt();
            (e - three_std).min(SHRINK_EVIDENCE * e).max(0.0) * 1000.0
        })
    }
    fn on_overuse(&mut self, bps: f64) {
        let sample = bps / 1000.0;
        let alpha = if self.estimate_kbps.is_some() {
            CAPACITY_ALPHA
        } else {
            1.0
        };
        let est = self.estimate_kbps.unwrap_or(sample);
        let est = (1.0 - alpha) * est + alpha * sample;
        let norm = est.max(1.0);
        let err = est - sample;
        self.deviation =
            ((1.0 - alpha) * self.deviation + alpha * err * err / norm).clamp(DEV_MIN, DEV_MAX);
        self.estimate_kbps = Some(est);
    }
}

/// The AIMD controller.
#[derive(Debug, Clone)]
pub(crate) struct Aimd {
    estimate: f64,
    min: f64,
    max: f64,
    state: State,
    last_update_us: Option<i64>,
    last_decrease_us: Option<i64>,
    capacity: LinkCapacity,
}

impl Aimd {
    pub fn new(start: f64, min: f64, max: f64) -> Self {
        Aimd {
            estimate: start.clamp(min, max),
            min,
            max,
            state: State::Hold,
            last_update_us: None,
            last_decrease_us: None,
            capacity: LinkCapacity::default(),
        }
    }

    pub fn estimate(&self) -> f64 {
        self.estimate
    }

    /// Whether the link's capacity is known (increases are additive).
    pub fn near_capacity(&self) -> bool {
        self.capacity.estimate_kbps.is_some()
    }

    /// Sets the estimate outright (a probe result or the peer's REMB cap).
    pub fn set_estimate(&mut self, bps: f64, now_us: i64) {
        self.estimate = bps.clamp(self.min, self.max);
        self.last_update_us = Some(now_us);
    }

    /// Whether an ongoing overuse should cut the rate again: once per round trip, or at
    /// once when the acknowledged rate fell below half the estimate.
    pub fn time_to_reduce_further(&self, now_us: i64, rtt_us: i64, acked: Option<f64>) -> bool {
        let interval = rtt_us.clamp(10_000, 200_000);
        if self.last_decrease_us.is_none_or(|t| now_us - t >= interval) {
            return true;
        }
        acked.is_some_and(|a| a < 0.5 * self.estimate)
    }

    /// Applies the detector's signal at `now_us` and returns the new estimate.
    pub fn update(
        &mut self,
        usage: BandwidthUsage,
        acked: Option<f64>,
        rtt_us: i64,
        now_us: i64,
    ) -> f64 {
        self.state = match (usage, self.state) {
            (BandwidthUsage::Overusing, _) => State::Decrease,
            (BandwidthUsage::Underusing, _) => State::Hold,
            (BandwidthUsage::Normal, State::Hold) => State::Increase,
            (BandwidthUsage::Normal, s) => s,
        };
        let dt_us = self
            .last_update_us
            .map_or(0, |t| (now_us - t).clamp(0, 1_000_000));
        match self.state {
            State::Hold => {}
            State::Increase => {
                if let (Some(a), Some(ub)) = (acked, self.capacity.upper_bound())
                    && a > ub
                {
                    // Above what the link carried before: the capacity changed.
                    self.capacity = LinkCapacity::default();
                }
                let dt = dt_us as f64 / 1e6;
                let increase = if self.capacity.estimate_kbps.is_some() {
                    self.additive_per_second(rtt_us) * dt
                } else {
                    (self.estimate * (ETA.powf(dt) - 1.0)).max(1000.0 * dt)
                };
                let mut next = self.estimate + increase;
                if let Some(a) = acked {
                    let limit = THROUGHPUT_FACTOR * a + THROUGHPUT_SLACK_BPS;
                    if next > limit {
                        next = self.estimate.max(limit);
                    }
                }
                self.estimate = next;
            }
            State::Decrease => {
                if let Some(a) = acked
                    && (self.capacity.lower_bound().is_some_and(|lb| a < lb)
                        || self.capacity.upper_bound().is_some_and(|ub| a > ub))
                {
                    // The link changed: what it carried before says nothing now.
                    self.capacity = LinkCapacity::default();
                }
                let base = acked.unwrap_or(self.estimate);
                let mut next = BETA * base;
                if next > self.estimate
                    && let Some(c) = self.capacity.estimate_kbps
                {
                    next = BETA * c * 1000.0;
                }
                if next < self.estimate {
                    self.estimate = next;
                }
                if let Some(a) = acked {
                    self.capacity.on_overuse(a);
                }
                self.last_decrease_us = Some(now_us);
                self.state = State::Hold;
            }
        }
        self.estimate = self.estimate.clamp(self.min, self.max);
        self.last_update_us = Some(now_us);
        self.estimate
    }

    /// Additive increase near convergence: about one packet per response time
    /// (section 5.5).
    fn additive_per_second(&self, rtt_us: i64) -> f64 {
        let response_s = (rtt_us as f64 / 1e6) + 0.1;
        let bits_per_frame = self.estimate / ASSUMED_FPS;
        let packets = (bits_per_frame / (ASSUMED_PACKET_BYTES * 8.0))
            .ceil()
            .max(1.0);
        let packet_bits = bits_per_frame / packets;
        (ADDITIVE_PACKETS * packet_bits / response_s).max(MIN_ADDITIVE_BPS_PER_S)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increases_multiplicatively_then_decreases_to_beta_times_acked() {
        let mut a = Aimd::new(1e6, 1e4, 1e8);
        a.update(BandwidthUsage::Normal, None, 50_000, 0);
        a.update(BandwidthUsage::Normal, None, 50_000, 1_000_000);
        assert!((a.estimate() - 1.08e6).abs() < 1.0, "{}", a.estimate());
        a.update(BandwidthUsage::Overusing, Some(1e6), 50_000, 1_100_000);
        assert!((a.estimate() - 0.85e6).abs() < 1.0);
    }

    #[test]
    fn never_leaves_bounds() {
        let mut a = Aimd::new(5e6, 1e5, 2e6);
        assert_eq!(a.estimate(), 2e6);
        for i in 0..100 {
            a.update(BandwidthUsage::Overusing, Some(0.0), 0, i * 1000);
        }
        assert_eq!(a.estimate(), 1e5);
    }
}
