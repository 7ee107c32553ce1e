//! The delay-based half of GCC (draft-ietf-rmcat-gcc-02 section 5): packets are grouped
//! into bursts, the one-way delay variation between groups is filtered by a trendline
//! (libwebrtc's replacement for the draft's Kalman filter, section 5.3), and an overuse
//! detector with an adaptive threshold (section 5.4) turns the trend into a signal.

/// Packets sent within this span form one group (draft-ietf-rmcat-gcc-02 section 5.2:
/// "burst_time", 5 ms).
pub(crate) const BURST_TIME_US: i64 = 5_000;
/// A group's arrivals are a burst only while they stay within this span (libwebrtc's
/// kMaxBurstDuration).
const MAX_BURST_US: i64 = 100_000;
/// Trendline regression window, in groups (libwebrtc's default).
const TREND_WINDOW: usize = 20;
/// Exponential smoothing of the accumulated delay (libwebrtc's default).
const SMOOTHING: f64 = 0.9;
/// Gain applied to the trend before it is compared with the threshold.
const THRESHOLD_GAIN: f64 = 4.0;
/// Adaptive threshold gains (draft-ietf-rmcat-gcc-02 section 5.4: K_u, K_d).
const K_UP: f64 = 0.0087;
const K_DOWN: f64 = 0.039;
/// Threshold bounds and start value, ms (section 5.4: del_var_th in [6, 600], 12.5 initial).
const THRESHOLD_MIN: f64 = 6.0;
const THRESHOLD_MAX: f64 = 600.0;
const THRESHOLD_INIT: f64 = 12.5;
/// Overuse must last this long before it is signalled (section 5.4: overuse_time_th, 10 ms).
const OVERUSE_TIME_MS: f64 = 10.0;
/// Samples further than this from the threshold do not adapt it (section 5.4, 15 ms).
const MAX_ADAPT_OFFSET_MS: f64 = 15.0;

/// What the overuse detector concludes (draft-ietf-rmcat-gcc-02 section 5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandwidthUsage {
    /// Delay is stable.
    Normal,
    /// Delay is growing: a queue builds up.
    Overusing,
    /// Delay is shrinking: a queue drains.
    Underusing,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    first_send: i64,
    last_send: i64,
    first_arrival: i64,
    last_arrival: i64,
    size: u64,
}

/// Deltas between two consecutive groups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GroupDelta {
    pub send_us: i64,
    pub arrival_us: i64,
    /// Arrival time of the later group, on the receiver's clock.
    pub arrival_at_us: i64,
}

/// Groups packets into bursts and reports the deltas between consecutive groups
/// (draft-ietf-rmcat-gcc-02 section 5.2). Times are microseconds: send times on the
/// sender's clock, arrival times on the receiver's.
#[derive(Debug, Clone, Default)]
pub(crate) struct InterArrival {
    current: Option<Group>,
    previous: Option<Group>,
    reordered: u32,
}

impl InterArrival {
    fn is_burst(g: &Group, send: i64, arrival: i64) -> bool {
        let arrival_delta = arrival - g.last_arrival;
        let send_delta = send - g.last_send;
        if send_delta == 0 {
            return true;
        }
        let propagation = arrival_delta - send_delta;
        propagation < 0
            && arrival_delta <= BURST_TIME_US
            && arrival - g.first_arrival < MAX_BURST_US
    }

    /// Takes one packet (in arrival order); returns the deltas when it closes a group.
    pub fn push(&mut self, send: i64, arrival: i64, size: u64) -> Option<GroupDelta> {
        let Some(cur) = self.current.as_mut() else {
            self.current = Some(Group {
                first_send: send,
                last_send: send,
                first_arrival: arrival,
                last_arrival: arrival,
                size,
            });
            return None;
        };
        if send < cur.first_send {
            // Sent before the group being built: reordered, ignore.
            return None;
        }
        let new_group =
            !Self::is_burst(cur, send, arrival) && send - cur.first_send > BURST_TIME_US;
        let mut out = None;
        if new_group {
            let closed = *cur;
            if let Some(prev) = self.previous {
                let arrival_us = closed.last_arrival - prev.last_arrival;
                if arrival_us < 0 {
                    // Groups arrived out of order; restart after a few in a row.
                    self.reordered += 1;
                    if self.reordered >= 3 {
                        *self = InterArrival::default();
                    }
                    return None;
                }
                self.reordered = 0;
                out = Some(GroupDelta {
                    send_us: closed.last_send - prev.last_send,
                    arrival_us,
                    arrival_at_us: closed.last_arrival,
                });
            }
            self.previous = Some(closed);
            self.current = Some(Group {
                first_send: send,
                last_send: send,
                first_arrival: arrival,
                last_arrival: arrival,
                size,
            });
            return out;
        }
        cur.last_send = cur.last_send.max(send);
        cur.last_arrival = cur.last_arrival.max(arrival);
        cur.size += size;
        out
    }
}

/// Trendline filter plus adaptive-threshold overuse detector.
#[derive(Debug, Clone)]
pub(crate) struct Trendline {
    /// (arrival ms since first, smoothed accumulated delay ms), ring of TREND_WINDOW.
    window: [(f64, f64); TREND_WINDOW],
    len: usize,
    head: usize,
    first_arrival_us: Option<i64>,
    accumulated: f64,
    smoothed: f64,
    num_deltas: u32,
    prev_trend: f64,
    threshold: f64,
    last_threshold_update_us: Option<i64>,
    time_over_using: f64,
    overuse_count: u32,
    state: BandwidthUsage,
}

impl Default for Trendline {
    fn default() -> Self {
        Trendline {
            window: [(0.0, 0.0); TREND_WINDOW],
            len: 0,
            head: 0,
            first_arrival_us: None,
            accumulated: 0.0,
            smoothed: 0.0,
            num_deltas: 0,
            prev_trend: 0.0,
            threshold: THRESHOLD_INIT,
            last_threshold_update_us: None,
            time_over_using: -1.0,
            overuse_count: 0,
            state: BandwidthUsage::Normal,
        }
    }
}

impl Trendline {
    /// The detector's current conclusion.
    pub fn state(&self) -> BandwidthUsage {
        self.state
    }

    /// Takes one group delta and updates the state.
    pub fn update(&mut self, d: GroupDelta) -> BandwidthUsage {
        let delta_ms = (d.arrival_us - d.send_us) as f64 / 1000.0;
        let send_delta_ms = d.send_us as f64 / 1000.0;
        self.num_deltas = self.num_deltas.saturating_add(1).min(1000);
        let first = *self.first_arrival_us.get_or_insert(d.arrival_at_us);
        self.accumulated += delta_ms;
        self.smoothed = SMOOTHING * self.smoothed + (1.0 - SMOOTHING) * self.accumulated;
        let x = (d.arrival_at_us - first) as f64 / 1000.0;
        let idx = (self.head + self.len) % TREND_WINDOW;
        if self.len == TREND_WINDOW {
            self.window[self.head] = (x, self.smoothed);
            self.head = (self.head + 1) % TREND_WINDOW;
        } else {
            self.window[idx] = (x, self.smoothed);
            self.len += 1;
        }
        let trend = if self.len == TREND_WINDOW {
            self.slope().unwrap_or(self.prev_trend)
        } else {
            self.prev_trend
        };
        self.detect(trend, send_delta_ms, d.arrival_at_us);
        self.state
    }

    /// Least-squares slope of the window.
    fn slope(&self) -> Option<f64> {
        let n = self.len as f64;
        let (sx, sy) = self
            .window
            .iter()
            .take(self.len)
            .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x, b + y));
        let (mx, my) = (sx / n, sy / n);
        let (mut num, mut den) = (0.0, 0.0);
        for &(x, y) in self.window.iter().take(self.len) {
            num += (x - mx) * (y - my);
            den += (x - mx) * (x - mx);
        }
        (den != 0.0).then(|| num / den)
    }

    fn detect(&mut self, trend: f64, send_delta_ms: f64, now_us: i64) {
        if self.num_deltas < 2 {
            self.state = BandwidthUsage::Normal;
            return;
        }
        let modified = f64::from(self.num_deltas.min(60)) * trend * THRESHOLD_GAIN;
        if modified > self.threshold {
            if self.time_over_using < 0.0 {
                self.time_over_using = send_delta_ms / 2.0;
            } else {
                self.time_over_using += send_delta_ms;
            }
            self.overuse_count += 1;
            if self.time_over_using > OVERUSE_TIME_MS
                && self.overuse_count > 1
                && trend >= self.prev_trend
            {
                self.time_over_using = 0.0;
                self.overuse_count = 0;
                self.state = BandwidthUsage::Overusing;
            }
        } else if modified < -self.threshold {
            self.time_over_using = -1.0;
            self.overuse_count = 0;
            self.state = BandwidthUsage::Underusing;
        } else {
            self.time_over_using = -1.0;
            self.overuse_count = 0;
            self.state = BandwidthUsage::Normal;
        }
        self.prev_trend = trend;
        self.adapt_threshold(modified, now_us);
    }

    fn adapt_threshold(&mut self, modified: f64, now_us: i64) {
        let last = *self.last_threshold_update_us.get_or_insert(now_us);
        if modified.abs() > self.threshold + MAX_ADAPT_OFFSET_MS {
            self.last_threshold_update_us = Some(now_us);
            return;
        }
        let k = if modified.abs() < self.threshold {
            K_DOWN
        } else {
            K_UP
        };
        let dt_ms = ((now_us - last) as f64 / 1000.0).clamp(0.0, 100.0);
        self.threshold += k * (modified.abs() - self.threshold) * dt_ms;
        self.threshold = self.threshold.clamp(THRESHOLD_MIN, THRESHOLD_MAX);
        self.last_threshold_update_us = Some(now_us);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_packets_sent_within_five_ms() {
        let mut ia = InterArrival::default();
        // Three groups 10 ms apart, two packets each 1 ms apart.
        let mut out = Vec::new();
        for g in 0..3i64 {
            for p in 0..2i64 {
                let send = g * 10_000 + p * 1_000;
                if let Some(d) = ia.push(send, send + 40_000 + g * 2_000, 1000) {
                    out.push(d);
                }
            }
        }
        // Closing group 1 (when group 2 starts) yields its delta against group 0.
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].send_us, 10_000);
        assert_eq!(out[0].arrival_us, 12_000);
    }

    #[test]
    fn growing_delay_is_overuse_and_stable_delay_is_normal() {
        let mut t = Trendline::default();
        let mut arrival = 0;
        for _ in 0..40 {
            arrival += 10_000;
            t.update(GroupDelta {
                send_us: 10_000,
                arrival_us: 10_000,
                arrival_at_us: arrival,
            });
        }
        assert_eq!(t.state(), BandwidthUsage::Normal);
        let mut seen = false;
        for _ in 0..40 {
            arrival += 13_000;
            seen |= t.update(GroupDelta {
                send_us: 10_000,
                arrival_us: 13_000,
                arrival_at_us: arrival,
            }) == BandwidthUsage::Overusing;
        }
        assert!(seen);
    }
}
