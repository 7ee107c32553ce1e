//! Application-limited region detection: the sender sends much less than the estimate
//! allows (the encoder has nothing more to say), so the estimate is not being tested by
//! traffic. Modelled on libwebrtc's AlrDetector: a budget refilled at a fraction of the
//! estimate and drained by what is sent.

/// Fraction of the estimate the budget refills at.
const USAGE_RATIO: f64 = 0.65;
/// ALR starts when the unused budget is above this fraction of its window...
const START_LEVEL: f64 = 0.80;
/// ...and ends when it falls below this one.
const STOP_LEVEL: f64 = 0.50;
/// The budget's window, µs.
const WINDOW_US: f64 = 500_000.0;

/// The ALR detector.
#[derive(Debug, Clone, Default)]
pub(crate) struct AlrDetector {
    /// Unused bytes, within [-window, +window] of the refill rate.
    budget: f64,
    last_us: Option<i64>,
    in_alr: bool,
    ended_at_us: Option<i64>,
}

impl AlrDetector {
    /// Whether the sender is application limited.
    pub fn in_alr(&self) -> bool {
        self.in_alr
    }

    /// When the last ALR period ended.
    pub fn ended_at_us(&self) -> Option<i64> {
        self.ended_at_us
    }

    /// Records `bytes` sent at `now_us` while the estimate was `estimate_bps`.
    pub fn on_sent(&mut self, now_us: i64, bytes: u64, estimate_bps: f64) {
        let rate = USAGE_RATIO * estimate_bps / 8.0; // bytes per second
        let window = rate * WINDOW_US / 1e6;
        let last = self.last_us.replace(now_us).unwrap_or(now_us);
        let dt = (now_us - last).clamp(0, 2_000_000) as f64 / 1e6;
        self.budget = (self.budget + rate * dt - bytes as f64).clamp(-window, window);
        let level = if window > 0.0 {
            self.budget / window
        } else {
            0.0
        };
        if !self.in_alr && level > START_LEVEL {
            self.in_alr = true;
        } else if self.in_alr && level < STOP_LEVEL {
            self.in_alr = false;
            self.ended_at_us = Some(now_us);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sending_little_is_alr_sending_the_estimate_is_not() {
        let mut a = AlrDetector::default();
        for i in 0..200 {
            // 100 kbit/s against a 1 Mbit/s estimate.
            a.on_sent(i * 10_000, 125, 1e6);
        }
        assert!(a.in_alr());
        for i in 200..400 {
            a.on_sent(i * 10_000, 1250, 1e6);
        }
        assert!(!a.in_alr());
        assert!(a.ended_at_us().is_some());
    }
}
