//! Bandwidth probing: short clusters of packets sent faster than the estimate, whose
//! arrival rate tells whether the path carries more (draft-ietf-rmcat-gcc-02 leaves
//! ramp-up to the rate controller; libwebrtc's ProbeController and ProbeBitrateEstimator
//! add this, and so do we).

/// A cluster lasts at least this long at its rate, µs (libwebrtc: 15 ms).
const CLUSTER_DURATION_US: f64 = 15_000.0;
/// A headroom probe lasts longer: on a bottleneck shared with bursty video (a frame every
/// 33 ms), a 15 ms probe can slip between the other flows' frames and measure the raw
/// link rate instead of the free capacity; 60 ms always overlaps their traffic.
const HEADROOM_DURATION_US: f64 = 60_000.0;
/// ...and holds at least this many packets (libwebrtc: 5).
pub(crate) const CLUSTER_MIN_PACKETS: u32 = 5;
/// Initial probes at these multiples of the start rate (libwebrtc: 3 and 6).
const INITIAL_SCALES: [f64; 2] = [3.0, 6.0];
/// A result above this fraction of the probed rate continues exponential probing at twice
/// the result (libwebrtc: 0.7 and 2).
const CONTINUE_FRACTION: f64 = 0.7;
const CONTINUE_SCALE: f64 = 2.0;
/// While application limited, probe this often, µs (libwebrtc: 5 s) at this scale.
const ALR_INTERVAL_US: i64 = 5_000_000;
const ALR_SCALE: f64 = 2.0;
/// Without an overuse signal for this long, the path may have grown: probe for headroom
/// this often, at this scale of the estimate.
const HEADROOM_QUIET_US: i64 = 3_000_000;
const HEADROOM_INTERVAL_US: i64 = 4_000_000;
const HEADROOM_SCALE: f64 = 1.25;
/// A drop below this fraction of the estimate within [`DROP_WINDOW_US`] is "large"; on
/// the end of ALR soon after, probe back to [`RECOVERY_FRACTION`] of the rate before it
/// (libwebrtc: 0.66, 5 s, 0.85).
const DROP_FRACTION: f64 = 0.66;
const DROP_WINDOW_US: i64 = 5_000_000;
const RECOVERY_FRACTION: f64 = 0.85;
/// A probe result arriving later than this after the cluster was sent is discarded, µs.
const RESULT_TIMEOUT_US: i64 = 1_000_000;
/// A probe received slower than this fraction of its send rate saturated the path; its
/// result is then a little under the receive rate (libwebrtc: 0.9 and 0.95).
const SATURATED_FRACTION: f64 = 0.9;
const BOTTLENECK_FRACTION: f64 = 0.95;
/// A headroom probe counts only if the path carried this fraction of what it added.
const HEADROOM_CARRIED: f64 = 0.75;
/// Clusters tracked at once.
pub(crate) const MAX_CLUSTERS: usize = 8;
/// A cluster's result needs this fraction of its packets and bytes acknowledged
/// (libwebrtc: 80%).
const MIN_RECEIVED_FRACTION: f64 = 0.8;

/// Identifies a probe cluster; carried by the packets the pacer sends for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProbeClusterId(pub u32);

/// A probe the pacer should send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeCluster {
    /// Its id.
    pub id: ProbeClusterId,
    /// Rate to send at, bit/s.
    pub bitrate_bps: u64,
    /// Bytes to send at least.
    pub min_bytes: u64,
    /// Packets to send at least.
    pub min_packets: u32,
}

/// What the feedback of one probe cluster showed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProbeMeasurement {
    /// Rate the cluster left at, bit/s.
    pub send_bps: f64,
    /// Rate it arrived at, bit/s.
    pub recv_bps: f64,
}

/// Decides when to probe and how fast.
#[derive(Debug, Clone)]
pub(crate) struct ProbeController {
    next_id: u32,
    max_bps: f64,
    /// Rate of the exponential probe waiting for its result.
    exponential_pending: Option<f64>,
    started: bool,
    last_probe_us: Option<i64>,
    last_overuse_us: i64,
    /// (time, estimate) of the highest estimate in the drop window.
    before_drop: Option<(i64, f64)>,
    drop_seen: Option<(i64, f64)>,
    /// Pending clusters to hand to the pacer (at most two at once).
    pending: [Option<ProbeCluster>; 2],
    /// For each recent cluster (by id modulo [`MAX_CLUSTERS`]) that looks for headroom,
    /// the estimate before the search began.
    headroom: [Option<f64>; MAX_CLUSTERS],
}

impl ProbeController {
    pub fn new(max_bps: f64) -> Self {
        ProbeController {
            next_id: 1,
            max_bps,
            exponential_pending: None,
            started: false,
            last_probe_us: None,
            last_overuse_us: 0,
            before_drop: None,
            drop_seen: None,
            pending: [None; 2],
            headroom: [None; MAX_CLUSTERS],
        }
    }

    /// The next cluster to send, if any.
    pub fn poll_cluster(&mut self) -> Option<ProbeCluster> {
        let slot = self.pending.iter_mut().find(|p| p.is_some())?;
        slot.take()
    }

    fn push(&mut self, bps: f64, now_us: i64, headroom: Option<f64>) {
        self.headroom[(self.next_id as usize) % MAX_CLUSTERS] = headroom;
        let bps = bps.min(self.max_bps);
        let duration = if headroom.is_some() {
            HEADROOM_DURATION_US
        } else {
            CLUSTER_DURATION_US
        };

        let cluster = ProbeCluster {
            id: ProbeClusterId(self.next_id),
            bitrate_bps: bps as u64,
            min_bytes: (bps * duration / 8e6) as u64,
            min_packets: CLUSTER_MIN_PACKETS,
        };
        self.next_id = self.next_id.wrapping_add(1).max(1);
        if let Some(slot) = self.pending.iter_mut().find(|p| p.is_none()) {
            *slot = Some(cluster);
        }
        self.last_probe_us = Some(now_us);
    }

    /// At start: the initial exponential probes.
    pub fn start(&mut self, start_bps: f64, now_us: i64) {
        if self.started {
            return;
        }
        self.started = true;
        self.last_overuse_us = now_us;
        for s in INITIAL_SCALES {
            self.push(start_bps * s, now_us, None);
        }
        self.exponential_pending = Some(start_bps * INITIAL_SCALES[1]);
    }

    /// Probe `id` was measured; returns the rate it shows the path carries, if that may
    /// raise the estimate.
    ///
    /// A probe delivered clearly slower than it was sent saturated the path: its receive
    /// rate is the bottleneck's, and probing higher is pointless. A headroom probe must
    /// also show that the path carried most of what it added over the estimate: on a
    /// bottleneck already full with other flows it only measures how far it pushed them
    /// aside, and taking that would grow this flow at their expense.
    pub fn on_result(
        &mut self,
        id: ProbeClusterId,
        m: ProbeMeasurement,
        now_us: i64,
    ) -> Option<f64> {
        let saturated = m.recv_bps < SATURATED_FRACTION * m.send_bps;
        let rate = if saturated {
            BOTTLENECK_FRACTION * m.recv_bps
        } else {
            m.send_bps.min(m.recv_bps)
        };
        let base = self.headroom[(id.0 as usize) % MAX_CLUSTERS];
        let accept = base.is_none_or(|b| m.recv_bps >= b + HEADROOM_CARRIED * (m.send_bps - b));
        if let Some(probed) = self.exponential_pending.take()
            && accept
            && !saturated
            && rate > CONTINUE_FRACTION * probed
            && rate < self.max_bps
        {
            let next = CONTINUE_SCALE * rate;
            self.push(next, now_us, base);
            self.exponential_pending = Some(next.min(self.max_bps));
        }
        accept.then_some(rate)
    }

    /// The detector signalled overuse.
    pub fn on_overuse(&mut self, now_us: i64) {
        self.last_overuse_us = now_us;
        self.exponential_pending = None;
    }

    /// The estimate changed to `bps`.
    pub fn on_estimate(&mut self, bps: f64, now_us: i64) {
        match self.before_drop {
            Some((t, b)) if now_us - t < DROP_WINDOW_US && b >= bps => {
                if bps < DROP_FRACTION * b {
                    self.drop_seen = Some((now_us, b));
                }
            }
            _ => self.before_drop = Some((now_us, bps)),
        }
    }

    /// Periodic checks: ALR probing, recovery after a drop, headroom probing. Headroom
    /// is looked for only while `near_capacity` is false (the rate controller does not
    /// know where the link saturates): near a known capacity, additive increase finds the
    /// last few percent, and on a shared bottleneck a probe's jump would favour whichever
    /// flow probed.
    pub fn on_process(
        &mut self,
        now_us: i64,
        estimate: f64,
        in_alr: bool,
        alr_ended_us: Option<i64>,
        near_capacity: bool,
    ) {
        if !self.started || self.exponential_pending.is_some() {
            return;
        }
        let since_probe = self.last_probe_us.map_or(i64::MAX, |t| now_us - t);
        if let Some((t, before)) = self.drop_seen
            && alr_ended_us.is_some_and(|e| e >= t && now_us - e < DROP_WINDOW_US)
        {
            self.drop_seen = None;
            self.push(RECOVERY_FRACTION * before, now_us, None);
            return;
        }
        if self
            .drop_seen
            .is_some_and(|(t, _)| now_us - t > DROP_WINDOW_US)
        {
            self.drop_seen = None;
        }
        if estimate >= self.max_bps {
            return;
        }
        if in_alr && since_probe >= ALR_INTERVAL_US {
            self.push(ALR_SCALE * estimate, now_us, None);
        } else if !near_capacity
            && now_us - self.last_overuse_us >= HEADROOM_QUIET_US
            && since_probe >= HEADROOM_INTERVAL_US
        {
            self.push(HEADROOM_SCALE * estimate, now_us, Some(estimate));
            self.exponential_pending = Some((HEADROOM_SCALE * estimate).min(self.max_bps));
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct ClusterStats {
    id: ProbeClusterId,
    min_bytes: u64,
    min_packets: u32,
    created_us: i64,
    first_send: i64,
    last_send: i64,
    last_send_size: u64,
    sent_bytes: u64,
    first_arrival: i64,
    first_arrival_size: u64,
    last_arrival: i64,
    received_bytes: u64,
    received: u32,
    done: bool,
}

/// Turns the feedback of probe packets into rates.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProbeEstimator {
    clusters: [Option<ClusterStats>; MAX_CLUSTERS],
}

impl ProbeEstimator {
    /// A cluster starts.
    pub fn begin(&mut self, c: &ProbeCluster, now_us: i64) {
        let idx = (c.id.0 as usize) % MAX_CLUSTERS;
        self.clusters[idx] = Some(ClusterStats {
            id: c.id,
            min_bytes: c.min_bytes,
            min_packets: c.min_packets,
            created_us: now_us,
            first_send: i64::MAX,
            last_send: i64::MIN,
            last_send_size: 0,
            sent_bytes: 0,
            first_arrival: i64::MAX,
            first_arrival_size: 0,
            last_arrival: i64::MIN,
            received_bytes: 0,
            received: 0,
            done: false,
        });
    }

    /// One acknowledged probe packet; returns the cluster's send and receive rates once
    /// enough of it was acknowledged.
    pub fn on_packet(
        &mut self,
        id: ProbeClusterId,
        send_us: i64,
        arrival_us: i64,
        size: u64,
        now_us: i64,
    ) -> Option<ProbeMeasurement> {
        let slot = &mut self.clusters[(id.0 as usize) % MAX_CLUSTERS];
        let c = slot.as_mut().filter(|c| c.id == id && !c.done)?;
        if now_us - c.created_us > RESULT_TIMEOUT_US {
            *slot = None;
            return None;
        }
        if send_us < c.first_send {
            c.first_send = send_us;
        }
        if send_us >= c.last_send {
            c.last_send = send_us;
            c.last_send_size = size;
        }
        c.sent_bytes += size;
        if arrival_us < c.first_arrival {
            c.first_arrival = arrival_us;
            c.first_arrival_size = size;
        }
        c.last_arrival = c.last_arrival.max(arrival_us);
        c.received_bytes += size;
        c.received += 1;
        if f64::from(c.received) < MIN_RECEIVED_FRACTION * f64::from(c.min_packets)
            || (c.received_bytes as f64) < MIN_RECEIVED_FRACTION * c.min_bytes as f64
        {
            return None;
        }
        let send_interval = c.last_send - c.first_send;
        let recv_interval = c.last_arrival - c.first_arrival;
        if send_interval <= 0
            || recv_interval <= 0
            || send_interval > 1_000_000
            || recv_interval > 1_000_000
        {
            return None;
        }
        c.done = true;
        let send_rate = (c.sent_bytes - c.last_send_size) as f64 * 8e6 / send_interval as f64;
        let recv_rate =
            (c.received_bytes - c.first_arrival_size) as f64 * 8e6 / recv_interval as f64;
        Some(ProbeMeasurement {
            send_bps: send_rate,
            recv_bps: recv_rate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_probes_then_exponential_growth() {
        let mut p = ProbeController::new(10e6);
        p.start(300_000.0, 0);
        let a = p.poll_cluster().unwrap();
        let b = p.poll_cluster().unwrap();
        assert_eq!((a.bitrate_bps, b.bitrate_bps), (900_000, 1_800_000));
        assert!(p.poll_cluster().is_none());
        let m = ProbeMeasurement {
            send_bps: 1_800_000.0,
            recv_bps: 1_700_000.0,
        };
        assert_eq!(p.on_result(b.id, m, 100_000), Some(1_700_000.0));
        assert_eq!(p.poll_cluster().unwrap().bitrate_bps, 3_400_000);
    }

    #[test]
    fn estimator_takes_the_bottleneck_rate() {
        let mut e = ProbeEstimator::default();
        let c = ProbeCluster {
            id: ProbeClusterId(1),
            bitrate_bps: 4_000_000,
            min_bytes: 7500,
            min_packets: 5,
        };
        e.begin(&c, 0);
        let mut out = None;
        // 1000-byte packets sent every 2 ms (4 Mbit/s), arriving every 4 ms (2 Mbit/s).
        for i in 0..10 {
            out = out.or(e.on_packet(c.id, i * 2000, 50_000 + i * 4000, 1000, 100_000));
        }
        let m = out.unwrap();
        assert!(
            (m.send_bps - 4e6).abs() < 1e3 && (m.recv_bps - 2e6).abs() < 1e3,
            "{m:?}"
        );
        let mut p = ProbeController::new(10e6);
        assert_eq!(p.on_result(c.id, m, 100_000), Some(0.95 * m.recv_bps));
    }
}
