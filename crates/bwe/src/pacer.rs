//! The pacer: packets leave at the pacing rate in bursts of at most [`BURST_US`] worth of
//! data, audio first, then retransmissions, then video; during a probe cluster it sends at
//! the probe's rate and asks for padding when it has no media.

use std::collections::VecDeque;

use crate::probe::ProbeCluster;
use crate::probe::ProbeClusterId;

/// Most data the pacer lets out at once after an idle spell, as time at the pacing rate
/// (libwebrtc's pacer processes every 5 ms).
pub const BURST_US: i64 = 5_000;
/// The pacer raises its rate so that its queue drains within this time, µs (libwebrtc's
/// kMaxExpectedQueueLength, 2 s).
const MAX_QUEUE_TIME_US: f64 = 2_000_000.0;
/// Padding packets asked for while probing are at most this large (a typical RTP packet)...
pub const MAX_PADDING_BYTES: usize = 1200;
/// ...and at least this large.
const MIN_PADDING_BYTES: usize = 200;
/// Queue capacity reserved up front, per priority.
const INITIAL_QUEUE: usize = 512;

/// What kind of packet is queued; it decides the order packets leave in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// Audio: sent first and not held back by the budget (it is small and late audio is
    /// worse than a slightly late video packet).
    Audio,
    /// A retransmission (RTX or NACK resend): after audio, before new video.
    Retransmission,
    /// Video and anything else.
    Video,
}

/// What the pacer lets out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paced<T> {
    /// A queued packet.
    Packet {
        /// The caller's item, as queued.
        item: T,
        /// Its kind.
        kind: PacketKind,
        /// Its size in bytes, as queued.
        size: usize,
        /// The probe cluster it is part of, if any.
        probe: Option<ProbeClusterId>,
    },
    /// The caller should send a padding packet (RTX of an old packet, or padding-only RTP)
    /// of about this size: a probe needs more bytes than there is media.
    Padding {
        /// Size in bytes.
        size: usize,
        /// The probe cluster it is for.
        probe: ProbeClusterId,
    },
}

#[derive(Debug, Clone, Copy)]
struct ActiveProbe {
    cluster: ProbeCluster,
    sent_bytes: u64,
    sent_packets: u32,
    budget: f64,
    last_us: i64,
}

/// A priority pacer over the caller's items `T` (for example `bytes::Bytes` or an index
/// into the caller's own store). Memory: three queues that grow to the largest backlog
/// seen and are then reused, so steady traffic allocates nothing.
#[derive(Debug)]
pub struct Pacer<T> {
    queues: [VecDeque<(T, usize)>; 3],
    queued_bytes: usize,
    rate_bps: f64,
    /// Bytes that may go now; negative means in debt.
    budget: f64,
    last_us: Option<i64>,
    probe: Option<ActiveProbe>,
    probes: [Option<ProbeCluster>; 2],
    /// Largest padding packet to ask for; `None`: the caller cannot pad, so a probe is
    /// sent with media only.
    max_padding: Option<usize>,
}

fn index(kind: PacketKind) -> usize {
    match kind {
        PacketKind::Audio => 0,
        PacketKind::Retransmission => 1,
        PacketKind::Video => 2,
    }
}

const KINDS: [PacketKind; 3] = [
    PacketKind::Audio,
    PacketKind::Retransmission,
    PacketKind::Video,
];

impl<T> Pacer<T> {
    /// A pacer sending at `rate_bps`.
    pub fn new(rate_bps: u64) -> Self {
        Pacer {
            queues: [
                VecDeque::with_capacity(INITIAL_QUEUE),
                VecDeque::with_capacity(INITIAL_QUEUE),
                VecDeque::with_capacity(INITIAL_QUEUE),
            ],
            queued_bytes: 0,
            rate_bps: rate_bps as f64,
            budget: 0.0,
            last_us: None,
            probe: None,
            probes: [None; 2],
            max_padding: Some(MAX_PADDING_BYTES),
        }
    }

    /// The largest padding packet the caller can send, bytes (at most
    /// [`MAX_PADDING_BYTES`]), or `None` when it cannot send padding at all: a probe then
    /// paces only the media queued while it runs. A padding-only RTP packet carries at
    /// most 255 bytes of padding (RFC 3550 section 5.1, the padding count is one octet).
    pub fn set_max_padding(&mut self, max: Option<usize>) {
        self.max_padding = max.map(|m| m.min(MAX_PADDING_BYTES));
    }

    /// Sets the pacing rate.
    pub fn set_rate(&mut self, rate_bps: u64) {
        self.rate_bps = rate_bps as f64;
    }

    /// The pacing rate, bit/s.
    pub fn rate_bps(&self) -> u64 {
        self.rate_bps as u64
    }

    /// Bytes waiting.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// Packets waiting.
    pub fn queued_packets(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    /// Queues a packet of `size` bytes.
    pub fn enqueue(&mut self, now_us: i64, kind: PacketKind, size: usize, item: T) {
        self.advance(now_us);
        self.queues[index(kind)].push_back((item, size));
        self.queued_bytes += size;
    }

    /// Schedules a probe cluster; it starts once the one in progress is done. At most two
    /// wait; a third replaces the latest.
    pub fn add_probe(&mut self, cluster: ProbeCluster) {
        match self.probes.iter_mut().find(|p| p.is_none()) {
            Some(slot) => *slot = Some(cluster),
            None => self.probes[1] = Some(cluster),
        }
    }

    fn effective_rate(&self) -> f64 {
        let drain = self.queued_bytes as f64 * 8.0 * 1e6 / MAX_QUEUE_TIME_US;
        self.rate_bps.max(drain).max(1.0)
    }

    /// Moves the clock to `now_us`, refilling the budget.
    pub fn advance(&mut self, now_us: i64) {
        let last = self.last_us.replace(now_us).unwrap_or(now_us);
        let dt = (now_us - last).max(0) as f64 / 1e6;
        let rate = self.effective_rate() / 8.0;
        let cap = rate * BURST_US as f64 / 1e6;
        self.budget = (self.budget + rate * dt).min(cap.max(0.0));
        if let Some(p) = self.probe.as_mut() {
            let dt = (now_us - p.last_us).max(0) as f64 / 1e6;
            let prate = p.cluster.bitrate_bps as f64 / 8.0;
            p.budget = (p.budget + prate * dt).min(prate * BURST_US as f64 / 1e6);
            p.last_us = now_us;
        }
    }

    fn start_probe(&mut self, now_us: i64) {
        if self.probe.is_some() {
            return;
        }
        let Some(next) = self.probes[0].take() else {
            return;
        };
        self.probes[0] = self.probes[1].take();
        self.probe = Some(ActiveProbe {
            cluster: next,
            sent_bytes: 0,
            sent_packets: 0,
            budget: 0.0,
            last_us: now_us,
        });
    }

    fn pop(&mut self, from: usize) -> Option<(T, PacketKind, usize)> {
        let (item, size) = self.queues[from].pop_front()?;
        self.queued_bytes -= size;
        Some((item, KINDS[from], size))
    }

    /// The next packet to send at `now_us`, if the budget allows one. Call until `None`.
    pub fn poll(&mut self, now_us: i64) -> Option<Paced<T>> {
        self.advance(now_us);
        self.start_probe(now_us);
        if let Some((item, kind, size)) = self.pop(0) {
            self.budget -= size as f64;
            return Some(Paced::Packet {
                item,
                kind,
                size,
                probe: None,
            });
        }
        if let Some(mut p) = self.probe {
            if p.budget < 0.0 {
                return None;
            }
            let out = match self.pop(1).or_else(|| self.pop(2)) {
                Some((item, kind, size)) => Paced::Packet {
                    item,
                    kind,
                    size,
                    probe: Some(p.cluster.id),
                },
                None => {
                    let max = self.max_padding?;
                    // Equal sizes: the probe estimator leaves out the last packet of the
                    // send interval and the first of the receive interval, so a short
                    // remainder packet at either end would skew the two rates apart.
                    let per_packet = p.cluster.min_bytes / u64::from(p.cluster.min_packets.max(1));
                    Paced::Padding {
                        size: (per_packet as usize).clamp(MIN_PADDING_BYTES.min(max), max),
                        probe: p.cluster.id,
                    }
                }
            };
            let size = match &out {
                Paced::Packet { size, .. } | Paced::Padding { size, .. } => *size,
            };
            p.budget -= size as f64;
            p.sent_bytes += size as u64;
            p.sent_packets += 1;
            self.budget = (self.budget - size as f64).max(-(self.effective_rate() / 8.0) * 0.1);
            let done =
                p.sent_bytes >= p.cluster.min_bytes && p.sent_packets >= p.cluster.min_packets;
            self.probe = if done { None } else { Some(p) };
            return Some(out);
        }
        if self.budget < 0.0 {
            return None;
        }
        let (item, kind, size) = self.pop(1).or_else(|| self.pop(2))?;
        self.budget -= size as f64;
        Some(Paced::Packet {
            item,
            kind,
            size,
            probe: None,
        })
    }

    /// When [`poll`](Self::poll) next has something, µs; `None` when idle.
    pub fn next_send_us(&self) -> Option<i64> {
        let last = self.last_us.unwrap_or(0);
        if !self.queues[0].is_empty() {
            return Some(last);
        }
        if let Some(p) = &self.probe {
            if self.max_padding.is_none() && self.queued_bytes == 0 {
                // Nothing to send until media comes.
                return None;
            }
            let prate = p.cluster.bitrate_bps.max(1) as f64 / 8.0;
            return Some(last + ((-p.budget).max(0.0) / prate * 1e6).ceil() as i64);
        }
        if self.probes[0].is_some() {
            return Some(last);
        }
        if self.queued_bytes == 0 {
            return None;
        }
        let rate = self.effective_rate() / 8.0;
        Some(last + ((-self.budget).max(0.0) / rate * 1e6).ceil() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(p: &mut Pacer<u32>, now: i64, out: &mut Vec<(i64, u32)>) {
        while let Some(x) = p.poll(now) {
            if let Paced::Packet { item, .. } = x {
                out.push((now, item));
            }
        }
    }

    #[test]
    fn paces_at_the_rate_with_audio_first() {
        // 1 Mbit/s: a 1250-byte packet every 10 ms.
        let mut p = Pacer::new(1_000_000);
        for i in 0..10 {
            p.enqueue(0, PacketKind::Video, 1250, i);
        }
        p.enqueue(0, PacketKind::Audio, 100, 100);
        p.enqueue(0, PacketKind::Retransmission, 1250, 200);
        let mut out = Vec::new();
        let mut now = 0;
        while let Some(t) = p.next_send_us() {
            now = t.max(now);
            drain(&mut p, now, &mut out);
        }
        assert_eq!(out[0].1, 100);
        assert_eq!(out[1].1, 200);
        assert_eq!(out.len(), 12);
        // 11 full-size packets at 1 Mbit/s take about 110 ms (audio adds 0.8 ms).
        let end = out.last().unwrap().0;
        assert!((100_000..=115_000).contains(&end), "{end}");
    }

    #[test]
    fn probe_pads_when_there_is_no_media() {
        let mut p: Pacer<u32> = Pacer::new(1_000_000);
        p.add_probe(ProbeCluster {
            id: ProbeClusterId(3),
            bitrate_bps: 8_000_000,
            min_bytes: 6000,
            min_packets: 5,
        });
        let mut now = 0;
        let mut bytes = 0;
        let mut n = 0;
        while let Some(t) = p.next_send_us() {
            now = t.max(now);
            while let Some(x) = p.poll(now) {
                match x {
                    Paced::Padding { size, probe } => {
                        assert_eq!(probe, ProbeClusterId(3));
                        bytes += size;
                        n += 1;
                    }
                    Paced::Packet { .. } => panic!("no media queued"),
                }
            }
        }
        assert!(bytes >= 6000 && n >= 5);
        // 6000 bytes at 8 Mbit/s: about 6 ms.
        assert!(now <= 8_000, "{now}");
    }
}
