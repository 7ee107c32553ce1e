//! Receive-side estimation for peers that use REMB (draft-alvestrand-rmcat-remb-03): the
//! receiver runs the delay-based controller on the abs-send-time header extension
//! (<http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time>) and tells the sender the
//! rate it may use.

use std::time::{Duration, Instant};

use crate::aimd::Aimd;
use crate::delay::{BandwidthUsage, InterArrival, Trendline};

/// abs-send-time is 6.18 fixed-point seconds in 24 bits: it wraps every 64 s.
const ABS_SEND_TIME_WRAP: i64 = 1 << 24;
/// The incoming rate is measured over this window of buckets.
const BUCKET_US: i64 = 50_000;
const BUCKETS: usize = 20;
/// A REMB goes out at least this often (libwebrtc: 1 s)...
const REMB_INTERVAL: Duration = Duration::from_secs(1);
/// ...and at once when the estimate falls by more than this fraction (libwebrtc: 3%).
const REMB_DROP: f64 = 0.03;
/// The receiver does not know the round trip; it assumes this one, µs.
const ASSUMED_RTT_US: i64 = 100_000;

/// The incoming bitrate over the last second.
#[derive(Debug, Clone, Default)]
struct RateWindow {
    buckets: [u64; BUCKETS],
    /// Index of the newest bucket (time / BUCKET_US).
    newest: Option<i64>,
    first_us: Option<i64>,
}

impl RateWindow {
    fn push(&mut self, now_us: i64, bytes: u64) {
        self.advance(now_us);
        self.first_us.get_or_insert(now_us);
        let b = now_us.div_euclid(BUCKET_US);
        self.buckets[(b as usize) % BUCKETS] += bytes;
    }
    fn advance(&mut self, now_us: i64) {
        let b = now_us.div_euclid(BUCKET_US);
        let newest = *self.newest.get_or_insert(b);
        if b > newest {
            for i in (newest + 1)..=b.min(newest + BUCKETS as i64) {
                self.buckets[(i as usize) % BUCKETS] = 0;
            }
            self.newest = Some(b);
        }
    }
    fn bps(&self, now_us: i64) -> Option<f64> {
        let first = self.first_us?;
        let span = (now_us - first).clamp(BUCKET_US, BUCKET_US * BUCKETS as i64);
        if now_us - first < 500_000 {
            return None;
        }
        let sum: u64 = self.buckets.iter().sum();
        Some(sum as f64 * 8.0 * 1e6 / span as f64)
    }
}

/// Estimates the incoming path's capacity from abs-send-time and produces REMB values.
///
/// Input: [`handle_packet`](Self::handle_packet) for every received RTP packet that
/// carries abs-send-time, [`handle_timeout`](Self::handle_timeout) at
/// [`poll_timeout`](Self::poll_timeout). Output: [`poll_remb`](Self::poll_remb), the bit
/// rate to put in a REMB message (ferrtc-rtp-codecs' `Remb`) for the media SSRCs.
#[derive(Debug, Clone)]
pub struct RembEstimator {
    epoch: Instant,
    inter_arrival: InterArrival,
    trendline: Trendline,
    aimd: Aimd,
    incoming: RateWindow,
    last_abs: Option<i64>,
    sent: Option<(Instant, f64)>,
    due: bool,
}

impl RembEstimator {
    /// An estimator starting at `start_bps`, never below `min_bps` nor above `max_bps`.
    pub fn new(now: Instant, start_bps: u64, min_bps: u64, max_bps: u64) -> Self {
        let min = min_bps as f64;
        RembEstimator {
            epoch: now,
            inter_arrival: InterArrival::default(),
            trendline: Trendline::default(),
            aimd: Aimd::new(start_bps as f64, min, (max_bps as f64).max(min)),
            incoming: RateWindow::default(),
            last_abs: None,
            sent: None,
            due: false,
        }
    }

    fn us(&self, now: Instant) -> i64 {
        i64::try_from(now.saturating_duration_since(self.epoch).as_micros()).unwrap_or(i64::MAX)
    }

    /// The current estimate, bit/s.
    pub fn estimate_bps(&self) -> u64 {
        self.aimd.estimate() as u64
    }

    /// The incoming bitrate over the last second, once measured.
    pub fn incoming_bps(&self, now: Instant) -> Option<u64> {
        self.incoming.bps(self.us(now)).map(|b| b as u64)
    }

    /// Takes a packet of `size` bytes that arrived at `now` with the 24-bit abs-send-time
    /// value `abs_send_time`.
    pub fn handle_packet(&mut self, now: Instant, abs_send_time: u32, size: usize) {
        let now_us = self.us(now);
        let raw = i64::from(abs_send_time & 0xff_ffff);
        let abs = match self.last_abs {
            None => raw,
            Some(prev) => {
                let base = prev - prev.rem_euclid(ABS_SEND_TIME_WRAP);
                [
                    base - ABS_SEND_TIME_WRAP + raw,
                    base + raw,
                    base + ABS_SEND_TIME_WRAP + raw,
                ]
                .into_iter()
                .min_by_key(|c| (c - prev).abs())
                .unwrap_or(raw)
            }
        };
        self.last_abs = Some(abs);
        // 6.18 fixed point seconds to µs.
        let send_us = abs * 1_000_000 / (1 << 18);
        self.incoming.push(now_us, size as u64);
        let Some(d) = self.inter_arrival.push(send_us, now_us, size as u64) else {
            return;
        };
        let usage = self.trendline.update(d);
        let incoming = self.incoming.bps(now_us);
        if usage != BandwidthUsage::Overusing
            || self
                .aimd
                .time_to_reduce_further(now_us, ASSUMED_RTT_US, incoming)
        {
            let before = self.aimd.estimate();
            let after = self.aimd.update(usage, incoming, ASSUMED_RTT_US, now_us);
            let last_sent = self.sent.map_or(before, |(_, b)| b);
            if after < (1.0 - REMB_DROP) * last_sent {
                self.due = true;
            }
        }
    }

    /// Runs timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.sent.is_none_or(|(t, _)| now >= t + REMB_INTERVAL) && self.last_abs.is_some() {
            self.due = true;
        }
    }

    /// When to call [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.last_abs?;
        Some(self.sent.map_or(self.epoch, |(t, _)| t + REMB_INTERVAL))
    }

    /// The bitrate to send in a REMB now, if one is due.
    pub fn poll_remb(&mut self, now: Instant) -> Option<u64> {
        if !std::mem::take(&mut self.due) {
            return None;
        }
        let e = self.aimd.estimate();
        self.sent = Some((now, e));
        Some(e as u64)
    }
}
