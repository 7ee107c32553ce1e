//! The loss-based controller (draft-ietf-rmcat-gcc-02 section 6): a cap on the send rate
//! that grows while loss stays low, holds at moderate loss and cuts at high loss.

/// Below this loss fraction the cap grows (section 6: 2%).
const LOW_LOSS: f64 = 0.02;
/// Above this loss fraction the cap is cut (section 6: 10%).
const HIGH_LOSS: f64 = 0.10;
/// Growth of the cap per second at low loss (section 6: 1.05 per update; libwebrtc uses
/// 8% per second plus 1 kbps).
const GROWTH_PER_S: f64 = 1.08;
/// Loss is judged over at least this many reported packets...
const MIN_PACKETS: u32 = 50;
/// ...and at least this long, µs, so that a few random losses in a short window do not
/// look like congestion (libwebrtc counts 20 packets; at video rates that is a few
/// milliseconds of traffic, so we wait longer).
const MIN_WINDOW_US: i64 = 500_000;
/// A cut happens at most once per this interval plus a round trip (libwebrtc: 300 ms).
const CUT_INTERVAL_US: i64 = 300_000;
/// Once the cap is this far above the delay-based estimate it is lifted.
const LIFT_FACTOR: f64 = 1.5;

/// The loss-based cap.
#[derive(Debug, Clone, Default)]
pub(crate) struct LossController {
    cap: Option<f64>,
    lost: u32,
    expected: u32,
    window_start_us: Option<i64>,
    last_cut_us: Option<i64>,
    last_update_us: Option<i64>,
    last_fraction: f64,
}

impl LossController {
    /// The cap, if loss imposes one.
    pub fn cap(&self) -> Option<f64> {
        self.cap
    }

    /// The loss fraction of the last completed window.
    pub fn loss_fraction(&self) -> f64 {
        self.last_fraction
    }

    /// Raises the cap to at least `bps` (a probe showed the path carries it).
    pub fn raise(&mut self, bps: f64) {
        if let Some(c) = self.cap.as_mut() {
            *c = c.max(bps);
        }
    }

    /// Counts the packets of one feedback message; `current` is the rate in force,
    /// `delay_based` the delay-based estimate.
    pub fn on_feedback(
        &mut self,
        now_us: i64,
        lost: u32,
        received: u32,
        current: f64,
        delay_based: f64,
        rtt_us: i64,
    ) {
        self.lost = self.lost.saturating_add(lost);
        self.expected = self.expected.saturating_add(lost + received);
        let start = *self.window_start_us.get_or_insert(now_us);
        if self.expected < MIN_PACKETS || now_us - start < MIN_WINDOW_US {
            return;
        }
        let fraction = f64::from(self.lost) / f64::from(self.expected.max(1));
        self.last_fraction = fraction;
        self.lost = 0;
        self.expected = 0;
        self.window_start_us = Some(now_us);
        let dt = self
            .last_update_us
            .map_or(0.0, |t| ((now_us - t).clamp(0, 1_000_000)) as f64 / 1e6);
        self.last_update_us = Some(now_us);
        if fraction <= LOW_LOSS {
            if let Some(c) = self.cap {
                let grown = c * GROWTH_PER_S.powf(dt) + 1000.0 * dt;
                self.cap = (grown < LIFT_FACTOR * delay_based).then_some(grown);
            }
        } else if fraction > HIGH_LOSS
            && self
                .last_cut_us
                .is_none_or(|t| now_us - t >= CUT_INTERVAL_US + rtt_us)
        {
            let base = self.cap.map_or(current, |c| c.min(current));
            self.cap = Some(base * (1.0 - 0.5 * fraction));
            self.last_cut_us = Some(now_us);
        } else if self.cap.is_none() && fraction > LOW_LOSS {
            // Moderate loss: hold where we are.
            self.cap = Some(current);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_loss_cuts_low_loss_lifts() {
        let mut l = LossController::default();
        l.on_feedback(0, 0, 0, 1e6, 1e6, 0);
        l.on_feedback(600_000, 20, 80, 1e6, 1e6, 0);
        assert!((l.cap().unwrap() - 0.9e6).abs() < 1.0);
        for i in 2..20 {
            l.on_feedback(i * 600_000, 0, 100, 1e6, 1e6, 0);
        }
        assert_eq!(l.cap(), None);
    }
}
