//! The send-side estimator: sent-packet history, transport-wide feedback in, target
//! bitrate out (draft-ietf-rmcat-gcc-02 with the send-side variant of
//! draft-holmer-rmcat-transport-wide-cc-extensions-01).

use std::time::{Duration, Instant};

use ferrtc_rtp_codecs::rtcp::TransportFeedback;
use ferrtc_types::SeqNo;

use crate::acked::AckedBitrate;
use crate::aimd::Aimd;
use crate::alr::AlrDetector;
use crate::delay::{BandwidthUsage, InterArrival, Trendline};
use crate::loss::LossController;
use crate::probe::{
    ProbeCluster, ProbeClusterId, ProbeController, ProbeEstimator, ProbeMeasurement,
};

/// Sent packets remembered for feedback (a power of two). At 10 Mbit/s of 1200-byte
/// packets this is about 8 s of history, well past any feedback interval.
const HISTORY: usize = 8192;
/// Largest number of packets one feedback call considers (TWCC messages describe at most
/// 65535; the generator in ferrtc-rtp-codecs sends up to 500).
const MAX_FEEDBACK: usize = 2048;
/// The periodic work (probing decisions) runs this often.
const PROCESS_INTERVAL: Duration = Duration::from_millis(25);
/// TWCC reference time unit, µs (transport-wide-cc-extensions-01 section 3.1: 64 ms).
const REFERENCE_TIME_US: i64 = 64_000;
/// TWCC receive delta unit, µs (transport-wide-cc-extensions-01 section 3.1.5: 250 µs).
const DELTA_US: i64 = 250;
/// A new target is reported when it moved by more than this fraction...
const REPORT_CHANGE: f64 = 0.01;
/// ...or this long after the last report.
const REPORT_INTERVAL_US: i64 = 1_000_000;
/// For this long after a probe raised the estimate, µs, a decrease starts from at least
/// the probe's rate.
const PROBE_FLOOR_US: i64 = 1_000_000;
/// A smoothed round trip this much above the smallest one seen lately means a standing
/// queue, µs.
const STANDING_QUEUE_US: i64 = 150_000;
/// The smallest round trip is kept per bucket of this length, over two buckets, µs.
const MIN_RTT_BUCKET_US: i64 = 15_000_000;
/// Round-trip time assumed before the first measurement, µs.
const INITIAL_RTT_US: i64 = 100_000;

/// Configuration of the estimator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BweConfig {
    /// Rate to start at, bit/s.
    pub start_bitrate_bps: u64,
    /// Never report less, bit/s.
    pub min_bitrate_bps: u64,
    /// Never report more, bit/s.
    pub max_bitrate_bps: u64,
    /// The pacer sends at this multiple of the target (libwebrtc: 2.5) so that a frame
    /// leaves quickly.
    pub pacing_factor: f64,
    /// Probe at start (3x and 6x the start rate, then exponentially).
    pub initial_probing: bool,
}

impl Default for BweConfig {
    fn default() -> Self {
        BweConfig {
            start_bitrate_bps: 300_000,
            min_bitrate_bps: 30_000,
            max_bitrate_bps: 20_000_000,
            pacing_factor: 2.5,
            initial_probing: true,
        }
    }
}

/// What the estimator tells its user.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum BweEvent {
    /// The rate the encoders together should produce changed.
    TargetBitrate {
        /// Bit/s for all media on the transport.
        bitrate_bps: u64,
        /// Latest loss fraction the feedback showed (0..=1).
        loss_fraction: f64,
        /// Smoothed round-trip time.
        rtt: Duration,
    },
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    ext_seq: u64,
    send_us: i64,
    size: u32,
    probe: Option<ProbeClusterId>,
    reported: bool,
}

#[derive(Debug, Clone, Copy)]
struct Acked {
    send_us: i64,
    arrival_us: i64,
    size: u32,
    probe: Option<ProbeClusterId>,
}

/// Send-side bandwidth estimator (GCC).
///
/// Inputs: [`on_packet_sent`](Self::on_packet_sent) for every packet carrying a transport
/// sequence number, [`handle_transport_feedback`](Self::handle_transport_feedback) (or
/// [`handle_feedback`](Self::handle_feedback) for RFC 8888 or other sources),
/// [`handle_remb`](Self::handle_remb) when the peer sends REMB, and
/// [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout).
/// Outputs: [`poll_probe`](Self::poll_probe) (clusters for the pacer) and
/// [`poll_event`](Self::poll_event) (the target bitrate), drained after each input.
/// [`CongestionController`](crate::CongestionController) does all of this together with
/// the pacer.
#[derive(Debug)]
pub struct SendSideBwe {
    config: BweConfig,
    epoch: Instant,
    history: Box<[Option<Sent>]>,
    next_ext: Option<u64>,
    results: Vec<Acked>,
    inter_arrival: InterArrival,
    trendline: Trendline,
    aimd: Aimd,
    loss: LossController,
    acked: AckedBitrate,
    alr: AlrDetector,
    probes: ProbeController,
    probe_results: ProbeEstimator,
    rtt_us: Option<i64>,
    remb_cap: Option<f64>,
    target: f64,
    reported: Option<(f64, i64)>,
    event: Option<BweEvent>,
    /// Last TWCC reference time, unwrapped (24-bit counter).
    reference: Option<i64>,
    next_process: Instant,
    /// The rate the last accepted probe showed, and when.
    probe_floor: Option<(f64, i64)>,
    /// The smallest round trip seen lately, and the per-bucket minima it comes from.
    min_rtt_us: Option<i64>,
    min_rtt_buckets: [(i64, i64); 2],
}

impl SendSideBwe {
    /// An estimator starting at `config.start_bitrate_bps` at `now`.
    pub fn new(config: BweConfig, now: Instant) -> Self {
        let min = config.min_bitrate_bps as f64;
        let max = (config.max_bitrate_bps as f64).max(min);
        let start = (config.start_bitrate_bps as f64).clamp(min, max);
        let mut probes = ProbeController::new(max);
        if config.initial_probing {
            probes.start(start, 0);
        }
        SendSideBwe {
            config,
            epoch: now,
            history: vec![None; HISTORY].into_boxed_slice(),
            next_ext: None,
            results: Vec::with_capacity(MAX_FEEDBACK),
            inter_arrival: InterArrival::default(),
            trendline: Trendline::default(),
            aimd: Aimd::new(start, min, max),
            loss: LossController::default(),
            acked: AckedBitrate::default(),
            alr: AlrDetector::default(),
            probes,
            probe_results: ProbeEstimator::default(),
            rtt_us: None,
            remb_cap: None,
            target: start,
            reported: None,
            event: Some(BweEvent::TargetBitrate {
                bitrate_bps: start as u64,
                loss_fraction: 0.0,
                rtt: Duration::from_micros(INITIAL_RTT_US as u64),
            }),
            reference: None,
            next_process: now + PROCESS_INTERVAL,
            probe_floor: None,
            min_rtt_us: None,
            min_rtt_buckets: [(-2, i64::MAX), (-1, i64::MAX)],
        }
    }

    fn us(&self, now: Instant) -> i64 {
        i64::try_from(now.saturating_duration_since(self.epoch).as_micros()).unwrap_or(i64::MAX)
    }

    /// The target bitrate for all media, bit/s.
    pub fn target_bitrate_bps(&self) -> u64 {
        self.target as u64
    }

    /// The rate the pacer should send at, bit/s.
    pub fn pacing_bitrate_bps(&self) -> u64 {
        (self.target * self.config.pacing_factor.max(1.0)) as u64
    }

    /// The delay-based estimate, bit/s.
    pub fn delay_based_bps(&self) -> u64 {
        self.aimd.estimate() as u64
    }

    /// What the receiver acknowledged lately, bit/s.
    pub fn acked_bitrate_bps(&self) -> Option<u64> {
        self.acked.bps().map(|b| b as u64)
    }

    /// The smoothed round-trip time, once measured.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt_us.map(|r| Duration::from_micros(r.max(0) as u64))
    }

    /// Whether the sender is application limited.
    pub fn in_alr(&self) -> bool {
        self.alr.in_alr()
    }

    /// The delay detector's current state.
    pub fn bandwidth_usage(&self) -> BandwidthUsage {
        self.trendline.state()
    }

    /// Records a packet sent at `now` with transport-wide sequence number `seq` and `size`
    /// bytes (RTP header and payload), part of probe cluster `probe` if any. `media` is
    /// false for padding, which does not count towards application-limited detection.
    pub fn on_packet_sent(
        &mut self,
        now: Instant,
        seq: SeqNo,
        size: usize,
        probe: Option<ProbeClusterId>,
        media: bool,
    ) {
        let now_us = self.us(now);
        let ext = match self.next_ext {
            None => u64::from(seq.0) + (1 << 16),
            Some(next) => nearest(next, seq),
        };
        self.next_ext = Some(self.next_ext.map_or(ext + 1, |n| n.max(ext + 1)));
        self.history[(ext as usize) % HISTORY] = Some(Sent {
            ext_seq: ext,
            send_us: now_us,
            size: u32::try_from(size).unwrap_or(u32::MAX),
            probe,
            reported: false,
        });
        if media {
            self.alr.on_sent(now_us, size as u64, self.target);
        }
    }

    /// Takes a transport-wide feedback message (draft-holmer-rmcat-transport-wide-cc-
    /// extensions-01 section 3.1).
    pub fn handle_transport_feedback(&mut self, now: Instant, fb: &TransportFeedback<'_>) {
        // Unwrap the 24-bit reference time near the previous one.
        let r = i64::from(fb.reference_time & 0xff_ffff);
        let reference = match self.reference {
            None => r,
            Some(prev) => {
                let base = prev & !0xff_ffff;
                [base - 0x100_0000 + r, base + r, base + 0x100_0000 + r]
                    .into_iter()
                    .min_by_key(|c| (c - prev).abs())
                    .unwrap_or(r)
            }
        };
        self.reference = Some(reference);
        let mut at = reference * REFERENCE_TIME_US;
        let items = fb.statuses().map(|(seq, status)| {
            let arrival = status.delta().map(|d| {
                at += i64::from(d) * DELTA_US;
                at
            });
            (seq, arrival)
        });
        self.handle_feedback(now, items);
    }

    /// Takes feedback from any source: for each packet its transport-wide sequence number
    /// and its arrival time in µs on the receiver's clock (any origin, but one clock), or
    /// `None` if it was reported lost. Packets never sent, or already reported, are
    /// ignored.
    pub fn handle_feedback(
        &mut self,
        now: Instant,
        items: impl IntoIterator<Item = (SeqNo, Option<i64>)>,
    ) {
        let now_us = self.us(now);
        let Some(next) = self.next_ext else { return };
        self.results.clear();
        let (mut lost, mut received) = (0u32, 0u32);
        let mut newest_send = None;
        for (seq, arrival) in items.into_iter().take(MAX_FEEDBACK) {
            let ext = nearest(next, seq);
            let Some(sent) = self.history[(ext as usize) % HISTORY].as_mut() else {
                continue;
            };
            if sent.ext_seq != ext || sent.reported {
                continue;
            }
            match arrival {
                None => lost += 1,
                Some(a) => {
                    // Keep arbitrary caller clocks far from overflow (2^50 µs is 35 years).
                    let a = a.clamp(-(1 << 50), 1 << 50);
                    sent.reported = true;
                    received += 1;
                    newest_send = newest_send.max(Some(sent.send_us));
                    self.results.push(Acked {
                        send_us: sent.send_us,
                        arrival_us: a,
                        size: sent.size,
                        probe: sent.probe,
                    });
                }
            }
        }
        if let Some(s) = newest_send {
            let sample = (now_us - s).max(0);
            self.rtt_us = Some(self.rtt_us.map_or(sample, |r| (7 * r + sample) / 8));
            // Smallest round trip over the last 15-30 s (two buckets), so that a path
            // whose base delay grew is not taken for a standing queue forever.
            let bucket = now_us / MIN_RTT_BUCKET_US;
            let [prev, cur] = &mut self.min_rtt_buckets;
            if cur.0 != bucket {
                *prev = if cur.0 + 1 == bucket {
                    *cur
                } else {
                    (bucket - 1, i64::MAX)
                };
                *cur = (bucket, i64::MAX);
            }
            cur.1 = cur.1.min(sample);
            self.min_rtt_us = Some(prev.1.min(cur.1));
        }
        let rtt = self.rtt_us.unwrap_or(INITIAL_RTT_US);
        self.results
            .sort_unstable_by_key(|r| (r.arrival_us, r.send_us));
        let mut probe: Option<(ProbeClusterId, ProbeMeasurement)> = None;
        let mut overuse = false;
        for r in &self.results {
            self.acked.push(r.arrival_us, u64::from(r.size));
            if let Some(d) = self
                .inter_arrival
                .push(r.send_us, r.arrival_us, u64::from(r.size))
            {
                overuse |= self.trendline.update(d) == BandwidthUsage::Overusing;
            }
            if let Some(id) = r.probe
                && let Some(m) = self.probe_results.on_packet(
                    id,
                    r.send_us,
                    r.arrival_us,
                    u64::from(r.size),
                    now_us,
                )
            {
                probe = Some((id, m));
            }
        }
        if received == 0 && lost == 0 {
            return;
        }
        let acked = self.acked.bps();
        // A queue that stays long shows no delay gradient, so the trendline misses it
        // (flows that overshot together can sit on a full queue, held there by the loss
        // controller); a round trip this far above the smallest seen is overuse too.
        let standing_queue = match (self.rtt_us, self.min_rtt_us) {
            (Some(r), Some(m)) => r - m > STANDING_QUEUE_US,
            _ => false,
        };
        let usage = if overuse || standing_queue {
            BandwidthUsage::Overusing
        } else {
            self.trendline.state()
        };
        if usage == BandwidthUsage::Overusing {
            self.probes.on_overuse(now_us);
            // The link is saturated: what it delivered over the last 300 ms is its
            // capacity (or this flow's share of it); the smoothed acknowledged rate may
            // still remember a faster past after the capacity fell.
            let mut delivered = match (acked, self.acked.latest_bps()) {
                (Some(a), Some(l)) => Some(a.min(l)),
                (a, l) => a.or(l),
            };
            // Shortly after a probe raised the estimate the sender has not yet sent at
            // the new rate, so the delivered rate still shows the old one; the probe
            // itself showed what the path carries.
            if let Some((bps, at)) = self.probe_floor
                && now_us - at < PROBE_FLOOR_US
            {
                delivered = Some(delivered.map_or(bps, |d| d.max(bps)));
            }
            if self.aimd.time_to_reduce_further(now_us, rtt, delivered) {
                self.aimd.update(usage, delivered, rtt, now_us);
            }
        } else if let Some((id, m)) = probe {
            if let Some(p) = self.probes.on_result(id, m, now_us)
                && p > self.aimd.estimate()
            {
                self.probe_floor = Some((p, now_us));
                self.aimd.set_estimate(p, now_us);
                self.loss.raise(p);
            }
        } else {
            self.aimd.update(usage, acked, rtt, now_us);
        }
        self.loss.on_feedback(
            now_us,
            lost,
            received,
            self.target,
            self.aimd.estimate(),
            rtt,
        );
        self.update_target(now_us);
    }

    /// The peer's REMB (draft-alvestrand-rmcat-remb-03) caps the estimate at `bitrate_bps`.
    pub fn handle_remb(&mut self, now: Instant, bitrate_bps: u64) {
        let now_us = self.us(now);
        self.remb_cap = Some(bitrate_bps as f64);
        self.update_target(now_us);
    }

    /// Runs periodic work; call at [`poll_timeout`](Self::poll_timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_process {
            return;
        }
        self.next_process = now + PROCESS_INTERVAL;
        let now_us = self.us(now);
        self.probes.on_process(
            now_us,
            self.target,
            self.alr.in_alr(),
            self.alr.ended_at_us(),
            self.aimd.near_capacity(),
        );
        self.update_target(now_us);
    }

    /// When to call [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next_process)
    }

    /// The next probe cluster to send, if one is due. The cluster's results are measured
    /// from the feedback of packets sent with its id.
    pub fn poll_probe(&mut self, now: Instant) -> Option<ProbeCluster> {
        let c = self.probes.poll_cluster()?;
        let now_us = self.us(now);
        self.probe_results.begin(&c, now_us);
        Some(c)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<BweEvent> {
        self.event.take()
    }

    fn update_target(&mut self, now_us: i64) {
        let min = self.config.min_bitrate_bps as f64;
        let max = (self.config.max_bitrate_bps as f64).max(min);
        let mut t = self.aimd.estimate();
        if let Some(c) = self.loss.cap() {
            t = t.min(c);
        }
        if let Some(c) = self.remb_cap {
            t = t.min(c);
        }
        let t = if t.is_finite() {
            t.clamp(min, max)
        } else {
            min
        };
        self.target = t;
        self.probes.on_estimate(t, now_us);
        let due = match self.reported {
            None => true,
            Some((r, at)) => (t - r).abs() > REPORT_CHANGE * r || now_us - at >= REPORT_INTERVAL_US,
        };
        if due {
            self.reported = Some((t, now_us));
            self.event = Some(BweEvent::TargetBitrate {
                bitrate_bps: t as u64,
                loss_fraction: self.loss.loss_fraction(),
                rtt: Duration::from_micros(self.rtt_us.unwrap_or(INITIAL_RTT_US).max(0) as u64),
            });
        }
    }
}

/// The extended sequence number of `seq` nearest to `next` (the next one to be sent).
fn nearest(next: u64, seq: SeqNo) -> u64 {
    let base = next & !0xffff;
    let s = u64::from(seq.0);
    [
        base.wrapping_sub(1 << 16) | s,
        base | s,
        (base + (1 << 16)) | s,
    ]
    .into_iter()
    .min_by_key(|c| c.abs_diff(next))
    .unwrap_or(base | s)
}
