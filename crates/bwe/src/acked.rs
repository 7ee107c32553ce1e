//! Acknowledged bitrate: what the receiver actually got, measured on arrival times and
//! smoothed with a Bayesian update (libwebrtc's BitrateEstimator; draft-ietf-rmcat-gcc-02
//! section 5.5 calls it R_hat).

/// Window of the first sample and of the later ones, µs.
const INITIAL_WINDOW_US: i64 = 500_000;
const WINDOW_US: i64 = 150_000;
/// Scale of the per-sample uncertainty and growth of the estimate's variance per sample.
const UNCERTAINTY_SCALE: f64 = 10.0;
const PROCESS_NOISE: f64 = 5.0;
/// Windows averaged for [`AckedBitrate::latest_bps`]: 450 ms, long enough that a low-rate
/// flow's frame-by-frame burstiness does not make one window look like a collapse.
const RECENT: usize = 2;

/// The acknowledged-bitrate estimator.
#[derive(Debug, Clone, Default)]
pub(crate) struct AckedBitrate {
    sum_bytes: u64,
    window_us: i64,
    prev_arrival_us: Option<i64>,
    /// kbps and its variance.
    estimate: Option<f64>,
    variance: f64,
    /// The latest windows' raw rates, kbps, newest at `recent_head`.
    recent: [Option<f64>; RECENT],
    recent_head: usize,
}

impl AckedBitrate {
    /// The estimate in bit/s.
    pub fn bps(&self) -> Option<f64> {
        self.estimate.map(|k| k * 1000.0)
    }

    /// The rate over the latest windows in bit/s, unsmoothed: while the link is overused
    /// the receiver gets exactly what it carries, so this is the capacity without the
    /// smoothing's lag.
    pub fn latest_bps(&self) -> Option<f64> {
        let (sum, n) = self
            .recent
            .iter()
            .flatten()
            .fold((0.0, 0u32), |(s, n), k| (s + k, n + 1));
        (n as usize == RECENT).then(|| sum / f64::from(n) * 1000.0)
    }

    /// Takes one acknowledged packet (in arrival order).
    pub fn push(&mut self, arrival_us: i64, bytes: u64) {
        let rate_window = if self.estimate.is_some() {
            WINDOW_US
        } else {
            INITIAL_WINDOW_US
        };
        let prev = *self.prev_arrival_us.get_or_insert(arrival_us);
        if arrival_us < prev {
            return;
        }
        self.window_us += arrival_us - prev;
        self.prev_arrival_us = Some(arrival_us);
        if self.window_us > 2 * rate_window {
            // A long silence: start a fresh window.
            self.window_us = 0;
            self.sum_bytes = 0;
        }
        let mut sample = None;
        if self.window_us >= rate_window {
            sample = Some(self.sum_bytes as f64 * 8.0 / (rate_window as f64 / 1000.0));
            self.window_us -= rate_window;
            self.sum_bytes = 0;
        }
        self.sum_bytes += bytes;
        let Some(kbps) = sample else { return };
        self.recent_head = (self.recent_head + 1) % RECENT;
        self.recent[self.recent_head] = Some(kbps);
        let Some(est) = self.estimate else {
            self.estimate = Some(kbps);
            self.variance = 50.0;
            return;
        };
        let uncertainty = UNCERTAINTY_SCALE * (est - kbps).abs() / est.max(1.0);
        let sample_var = uncertainty * uncertainty;
        let pred_var = self.variance + PROCESS_NOISE;
        self.estimate =
            Some((kbps * pred_var + est * sample_var) / (pred_var + sample_var).max(1e-9));
        self.variance = sample_var * pred_var / (sample_var + pred_var).max(1e-9);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converges_on_a_steady_rate() {
        let mut a = AckedBitrate::default();
        // 1000 bytes every 8 ms: 1 Mbit/s.
        for i in 0..500 {
            a.push(i * 8_000, 1000);
        }
        let bps = a.bps().unwrap();
        assert!((bps - 1e6).abs() < 0.05e6, "{bps}");
    }
}
