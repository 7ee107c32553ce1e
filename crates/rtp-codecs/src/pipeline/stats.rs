//! Reception statistics and RTCP reports (RFC 3550 section 6.4, appendix A.3 and A.8).
//!
//! [`ReceiverStats`] follows one incoming stream and produces its [`ReportBlock`] (fraction
//! lost per interval, cumulative lost, extended highest sequence number, interarrival
//! jitter, LSR/DLSR). [`SenderStats`] follows one outgoing stream and produces its
//! [`SenderReport`] with the NTP/RTP timestamp mapping; when a report block about that stream
//! comes back it yields the round-trip time (RFC 3550 section 6.4.1, figure 2).
//!
//! A receiver that sends no media learns the round-trip time the other way, from extended
//! reports (RFC 3611 sections 4.4 and 4.5): [`ReceiverRtt`] sends receiver reference times,
//! the sender's [`DlrrResponder`] echoes them in DLRR items.
//!
//! The wall clock is an argument ([`NtpTime`]), the monotonic clock is `now: Instant`;
//! neither is ever read here.

use std::time::{Duration, Instant};

use crate::rtcp::{DlrrItem, List, ReportBlock, SenderReport, XrBlock};
use crate::types::{SeqNo, Ssrc};

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01), RFC 5905
/// section 6: 0x83aa7e80.
pub const NTP_UNIX_OFFSET_SECS: u64 = 0x83aa_7e80;

/// A 64-bit NTP timestamp (RFC 3550 section 4): seconds since 1900 in the high 32 bits, the
/// fraction of a second in the low 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// The NTP timestamp of a wall-clock time given as its distance from the Unix epoch
    /// (what `SystemTime::now().duration_since(UNIX_EPOCH)` gives the caller).
    pub fn from_unix(since_unix_epoch: Duration) -> NtpTime {
        let secs = since_unix_epoch
            .as_secs()
            .wrapping_add(NTP_UNIX_OFFSET_SECS);
        let frac = (u64::from(since_unix_epoch.subsec_nanos()) << 32) / 1_000_000_000;
        NtpTime((secs << 32) | frac)
    }

    /// The middle 32 bits (16.16 fixed point), as carried in LSR (RFC 3550 section 6.4.1).
    pub fn compact(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// A duration in the 16.16 fixed-point seconds of DLSR (RFC 3550 section 6.4.1),
/// saturating at the largest value.
pub fn duration_to_compact(d: Duration) -> u32 {
    let v = (d.as_nanos() << 16) / 1_000_000_000;
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// A 16.16 fixed-point number of seconds as a duration.
pub fn compact_to_duration(v: u32) -> Duration {
    let secs = u64::from(v >> 16);
    let nanos = (u64::from(v & 0xffff) * 1_000_000_000) >> 16;
    Duration::from_secs(secs) + Duration::from_nanos(nanos)
}

/// Round-trip time by RFC 3550 section 6.4.1 (figure 2): `arrival - lsr - dlsr`, where
/// `arrival` is when the report block arrived, in compact NTP form. `None` when the block
/// reports no SR (`lsr == 0`) or the result would be negative (clocks disagree).
pub fn rtt_from_report(arrival: u32, lsr: u32, dlsr: u32) -> Option<Duration> {
    if lsr == 0 {
        return None;
    }
    let since_sr = arrival.wrapping_sub(lsr);
    let rtt = since_sr.checked_sub(dlsr)?;
    // A wrapped difference above half the range is a report from the future.
    if since_sr > 0x8000_0000 {
        return None;
    }
    Some(compact_to_duration(rtt))
}

/// Packets that must arrive in sequence before a new source is declared valid
/// (RFC 3550 appendix A.1, `MIN_SEQUENTIAL`).
pub const MIN_SEQUENTIAL: u16 = 2;
/// The largest forward jump still taken as loss rather than a restart (RFC 3550 appendix
/// A.1, `MAX_DROPOUT`).
pub const MAX_DROPOUT: u16 = 3000;
/// The largest backward step still taken as reordering rather than a restart (RFC 3550
/// appendix A.1, `MAX_MISORDER`).
pub const MAX_MISORDER: u16 = 100;
/// RFC 3550 appendix A.1 `RTP_SEQ_MOD`.
const SEQ_MOD: u64 = 1 << 16;
/// `bad_seq` when no jump is pending: a value no 16-bit sequence number equals (A.1).
const NO_BAD_SEQ: u32 = 1 << 16 | 1;

/// What [`ReceiverStats::handle_packet_checked`] made of a packet (RFC 3550 appendix A.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqVerdict {
    /// The source is still on probation: fewer than its minimum of packets have arrived in
    /// sequence. The packet counts once the source becomes valid.
    Probation,
    /// The packet is counted (in sequence, a loss gap below [`MAX_DROPOUT`], a duplicate
    /// or a reordered packet within [`MAX_MISORDER`]).
    Valid,
    /// A jump too large for loss or reordering, not (yet) followed in sequence: the packet
    /// is not counted, and if the next one follows it the source is taken as restarted.
    Dropped,
    /// The packet follows a dropped jump: the sender restarted its sequence numbers, and the
    /// statistics start again from the jump (the counts of the interval start over).
    Restarted,
}

/// Reception statistics of one incoming RTP stream (RFC 3550 appendix A.1, A.3 and A.8).
///
/// Inputs: [`handle_packet`](Self::handle_packet) for each RTP packet (duplicates and
/// retransmissions included, as the RFC counts them),
/// [`handle_sender_report`](Self::handle_sender_report) for each SR from the stream's sender. Output:
/// [`report_block`](Self::report_block), which also starts the next reporting interval.
/// Fixed size, whatever the peer sends.
///
/// Sequence numbers are validated as in appendix A.1: a new source is on probation until
/// [`MIN_SEQUENTIAL`] packets arrive in sequence, a jump of [`MAX_DROPOUT`] or more (or a
/// step back of more than [`MAX_MISORDER`]) is dropped unless the next packet follows it,
/// in which case the sender is taken to have restarted and the statistics resynchronise.
/// One departure from the appendix's code: the packets of the probation run (and the jump
/// that a restart confirms) are counted once the source is valid, rather than discarded, so
/// a clean stream of N packets reports N received.
#[derive(Debug, Clone)]
pub struct ReceiverStats {
    ssrc: Ssrc,
    clock_rate: u32,
    /// Packets in sequence a new source needs (MIN_SEQUENTIAL, at least 1).
    min_sequential: u16,
    /// Whether any packet arrived.
    started: bool,
    /// Packets still needed in sequence (`probation` of appendix A.1); 0 once valid.
    probation: u16,
    /// Length of the current in-sequence probation run.
    run: u16,
    /// Highest sequence number seen (`max_seq`).
    max_seq: u16,
    /// Sequence number cycles times 2^16 (`cycles`), offset by one cycle so that a late
    /// packet from before the first one keeps a non-negative extended number.
    cycles: u64,
    /// Lowest extended sequence number counted (`base_seq`).
    base: u64,
    /// The sequence number that would confirm a restart (`bad_seq`).
    bad_seq: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    restarts: u64,
    dropped: u64,
    /// Interarrival jitter times 16 (appendix A.8).
    jitter_q4: u64,
    last_transit: Option<u32>,
    /// Arrival times are measured from here.
    epoch: Option<Instant>,
    /// Compact NTP time of the last SR and when it arrived.
    last_sr: Option<(u32, Instant)>,
}

impl ReceiverStats {
    /// Statistics for the stream `ssrc`, whose RTP clock runs at `clock_rate` Hz, with the
    /// probation of RFC 3550 appendix A.1 ([`MIN_SEQUENTIAL`] packets).
    pub fn new(ssrc: Ssrc, clock_rate: u32) -> Self {
        ReceiverStats {
            ssrc,
            clock_rate,
            min_sequential: MIN_SEQUENTIAL,
            started: false,
            probation: 0,
            run: 0,
            max_seq: 0,
            cycles: SEQ_MOD,
            base: 0,
            bad_seq: NO_BAD_SEQ,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            restarts: 0,
            dropped: 0,
            jitter_q4: 0,
            last_transit: None,
            epoch: None,
            last_sr: None,
        }
    }

    /// Sets how many packets a new source needs in sequence before it is valid (RFC 3550
    /// appendix A.1 suggests 2; 1, the least, accepts the first packet, as for a source
    /// already known from signalling).
    pub fn with_min_sequential(mut self, packets: u16) -> Self {
        self.min_sequential = packets.max(1);
        self
    }

    /// The stream reported on.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// Whether the source has passed probation.
    pub fn is_valid(&self) -> bool {
        self.started && self.probation == 0
    }

    /// How many times the sender was found to have restarted its sequence numbers.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Packets dropped as jumps too large for loss or reordering.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Takes an RTP packet of the stream that arrived at `now`.
    pub fn handle_packet(&mut self, now: Instant, seq: SeqNo, rtp_timestamp: u32) {
        self.handle_packet_checked(now, seq, rtp_timestamp);
    }

    /// Takes an RTP packet of the stream that arrived at `now` and says what it made of it
    /// (`update_seq` of RFC 3550 appendix A.1).
    pub fn handle_packet_checked(
        &mut self,
        now: Instant,
        seq: SeqNo,
        rtp_timestamp: u32,
    ) -> SeqVerdict {
        let seq = seq.0;
        if !self.started {
            // A new source: on probation, as if the packet before this one had arrived.
            self.started = true;
            self.max_seq = seq.wrapping_sub(1);
            self.probation = self.min_sequential;
            self.run = 0;
        }
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.run += 1;
                self.max_seq = seq;
                self.update_jitter(now, rtp_timestamp);
                if self.probation == 0 {
                    // Valid: count the whole in-sequence run.
                    self.init_seq(seq, self.run);
                    return SeqVerdict::Valid;
                }
            } else {
                // Out of sequence: the run starts again from this packet.
                self.probation = self.min_sequential - 1;
                self.run = 1;
                self.max_seq = seq;
                self.jitter_q4 = 0;
                self.last_transit = None;
                self.update_jitter(now, rtp_timestamp);
                if self.probation == 0 {
                    self.init_seq(seq, 1);
                    return SeqVerdict::Valid;
                }
            }
            return SeqVerdict::Probation;
        }
        let udelta = seq.wrapping_sub(self.max_seq);
        if udelta < MAX_DROPOUT {
            // In order, with a permissible gap.
            if seq < self.max_seq {
                self.cycles += SEQ_MOD;
            }
            self.max_seq = seq;
        } else if u64::from(udelta) <= SEQ_MOD - u64::from(MAX_MISORDER) {
            // A very large jump.
            if u32::from(seq) == self.bad_seq {
                // Two sequential packets: the sender restarted without telling us, so
                // resynchronise from the one before this (the dropped jump).
                self.restarts += 1;
                self.dropped = self.dropped.saturating_sub(1);
                self.max_seq = seq;
                self.last_transit = None;
                self.init_seq(seq, 2);
                self.update_jitter(now, rtp_timestamp);
                return SeqVerdict::Restarted;
            }
            self.bad_seq = u32::from(seq.wrapping_add(1));
            self.dropped += 1;
            return SeqVerdict::Dropped;
        } else {
            // A duplicate or a reordered packet; it may be older than the lowest counted.
            let ext = if seq > self.max_seq {
                self.cycles - SEQ_MOD + u64::from(seq)
            } else {
                self.cycles + u64::from(seq)
            };
            self.base = self.base.min(ext);
        }
        self.received += 1;
        self.update_jitter(now, rtp_timestamp);
        SeqVerdict::Valid
    }

    /// `init_seq` of appendix A.1 once `seq` makes the source valid, counting the `counted`
    /// packets of the run that ends at `seq`.
    fn init_seq(&mut self, seq: u16, counted: u16) {
        self.probation = 0;
        self.max_seq = seq;
        self.cycles = SEQ_MOD;
        self.base = SEQ_MOD + u64::from(seq) - u64::from(counted.saturating_sub(1));
        self.bad_seq = NO_BAD_SEQ;
        self.received = u64::from(counted);
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// Interarrival jitter (appendix A.8) with the packet that arrived at `now`.
    fn update_jitter(&mut self, now: Instant, rtp_timestamp: u32) {
        // Arrival time in timestamp units, from the first arrival (appendix A.8: only
        // differences of transit times matter, so the origin is free).
        let epoch = *self.epoch.get_or_insert(now);
        let elapsed = now.saturating_duration_since(epoch).as_nanos();
        let arrival = (elapsed * u128::from(self.clock_rate) / 1_000_000_000) as u32;
        let transit = arrival.wrapping_sub(rtp_timestamp);
        if let Some(last) = self.last_transit {
            let d = u64::from((transit.wrapping_sub(last) as i32).unsigned_abs());
            // J += (|D| - J) / 16, in the integer form of appendix A.8 with J scaled by 16.
            self.jitter_q4 = (self.jitter_q4 + d).saturating_sub((self.jitter_q4 + 8) >> 4);
        }
        self.last_transit = Some(transit);
    }

    /// Takes a sender report of the stream, with its NTP timestamp, that arrived at `now`.
    pub fn handle_sender_report(&mut self, now: Instant, ntp_time: NtpTime) {
        self.last_sr = Some((ntp_time.compact(), now));
    }

    /// Packets received, duplicates included, since the source became valid (or last
    /// restarted); 0 while it is on probation.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The extended highest sequence number received, counting wraps from the first packet
    /// (cycle 0), or `None` while the source is not valid.
    pub fn extended_highest(&self) -> Option<u64> {
        self.is_valid()
            .then(|| self.cycles + u64::from(self.max_seq) - SEQ_MOD)
    }

    /// Packets expected from the lowest to the highest sequence number counted.
    pub fn expected(&self) -> u64 {
        if !self.is_valid() {
            return 0;
        }
        (self.cycles + u64::from(self.max_seq) + 1).saturating_sub(self.base)
    }

    /// Cumulative packets lost: expected minus received, negative when duplicates arrived.
    pub fn cumulative_lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Interarrival jitter in timestamp units (appendix A.8).
    pub fn jitter(&self) -> u32 {
        u32::try_from(self.jitter_q4 >> 4).unwrap_or(u32::MAX)
    }

    /// Interarrival jitter as a duration.
    pub fn jitter_duration(&self) -> Duration {
        if self.clock_rate == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(
            (u64::from(self.jitter()) * 1_000_000_000) / u64::from(self.clock_rate),
        )
    }

    /// The report block for this stream at `now`, or `None` while the source is not valid.
    /// Ends the current reporting interval: the next block's fraction lost counts from here.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let highest = self.extended_highest()?;
        let expected = self.expected();
        // Signed 24-bit field (RFC 3550 section 6.4.1): clamp, appendix A.3.
        let cumulative_lost = self.cumulative_lost().clamp(-0x80_0000, 0x7f_ffff) as i32;
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received - self.received_prior;
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            // lost_interval <= expected_interval, so this is at most 256; all lost is 255.
            (((lost_interval as u64) << 8) / expected_interval).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => (lsr, duration_to_compact(now.saturating_duration_since(at))),
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost,
            highest_seq: highest as u32,
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        })
    }
}

/// How many sent SRs are remembered to match LSR values of returning report blocks.
const SR_MEMORY: usize = 8;

/// Send-side statistics of one outgoing RTP stream: packet and octet counts, the RTP clock,
/// the sender reports sent, and the round-trip time from returning report blocks.
///
/// Inputs: [`handle_sent`](Self::handle_sent) for each RTP packet sent,
/// [`handle_report_block`](Self::handle_report_block) for each report block about this
/// stream. Output: [`sender_report`](Self::sender_report). Fixed size.
#[derive(Debug, Clone)]
pub struct SenderStats {
    ssrc: Ssrc,
    clock_rate: u32,
    packets: u32,
    octets: u32,
    /// When the latest packet was sent and its RTP timestamp.
    last_sent: Option<(Instant, u32)>,
    /// Compact NTP time of recent SRs and when each was sent (ring).
    sent_srs: [Option<(u32, Instant)>; SR_MEMORY],
    next_sr: usize,
    rtt: Option<Duration>,
}

impl SenderStats {
    /// Statistics for the stream `ssrc`, whose RTP clock runs at `clock_rate` Hz.
    pub fn new(ssrc: Ssrc, clock_rate: u32) -> Self {
        SenderStats {
            ssrc,
            clock_rate,
            packets: 0,
            octets: 0,
            last_sent: None,
            sent_srs: [None; SR_MEMORY],
            next_sr: 0,
            rtt: None,
        }
    }

    /// Records an RTP packet sent at `now` whose timestamp is `rtp_timestamp` and whose
    /// payload is `payload_len` bytes (RFC 3550 section 6.4.1: the octet count excludes
    /// header and padding). The latest packet anchors the NTP/RTP mapping, so
    /// `rtp_timestamp` should be the media clock's value at `now`.
    pub fn handle_sent(&mut self, now: Instant, rtp_timestamp: u32, payload_len: usize) {
        // Both counts wrap (RFC 3550 section 6.4.1).
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload_len as u32);
        self.last_sent = Some((now, rtp_timestamp));
    }

    /// Packets sent (wrapping at 2^32).
    pub fn packet_count(&self) -> u32 {
        self.packets
    }

    /// Payload octets sent (wrapping at 2^32).
    pub fn octet_count(&self) -> u32 {
        self.octets
    }

    /// The RTP timestamp matching `now`: the latest packet's timestamp advanced by the time
    /// since it was sent. `None` before any packet.
    pub fn rtp_time_at(&self, now: Instant) -> Option<u32> {
        let (at, ts) = self.last_sent?;
        let elapsed = now.saturating_duration_since(at).as_nanos();
        let ticks = (elapsed * u128::from(self.clock_rate) / 1_000_000_000) as u32;
        Some(ts.wrapping_add(ticks))
    }

    /// The sender report at `now`, when the wall clock reads `wall_clock`, carrying
    /// `reports`. `None` before any packet was sent (RFC 3550 section 6.4: a participant
    /// that has not sent sends RRs). Remembers the SR to match the LSR of later reports.
    pub fn sender_report<'a>(
        &mut self,
        now: Instant,
        wall_clock: NtpTime,
        reports: &'a [ReportBlock],
    ) -> Option<SenderReport<'a>> {
        let rtp_time = self.rtp_time_at(now)?;
        self.sent_srs[self.next_sr] = Some((wall_clock.compact(), now));
        self.next_sr = (self.next_sr + 1) % SR_MEMORY;
        Some(SenderReport {
            ssrc: self.ssrc,
            ntp_time: wall_clock.0,
            rtp_time,
            packet_count: self.packets,
            octet_count: self.octets,
            reports: List::Items(reports),
            profile_extension: &[],
        })
    }

    /// Takes a report block that arrived at `now`. If it is about this stream and echoes
    /// one of the recent SRs, returns the round-trip time: the time since that SR was sent
    /// minus the receiver's DLSR (the figure 2 computation on the monotonic clock).
    pub fn handle_report_block(&mut self, now: Instant, block: &ReportBlock) -> Option<Duration> {
        if block.ssrc != self.ssrc || block.last_sr == 0 {
            return None;
        }
        let (_, sent_at) = self
            .sent_srs
            .iter()
            .flatten()
            .find(|(lsr, _)| *lsr == block.last_sr)?;
        let since = now.saturating_duration_since(*sent_at);
        let rtt = since.saturating_sub(compact_to_duration(block.delay_since_last_sr));
        self.rtt = Some(rtt);
        Some(rtt)
    }

    /// The latest round-trip time measured.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }
}

/// Round-trip time for a receiver that sends no media (RFC 3611 section 4.4/4.5): it sends
/// receiver reference time blocks ([`rrtr`](Self::rrtr)), the media sender echoes them in
/// DLRR items ([`DlrrResponder`]), and [`handle_dlrr`](Self::handle_dlrr) gives the RTT as
/// the time since the echoed RRTR minus the sender's delay. Fixed size.
#[derive(Debug, Clone)]
pub struct ReceiverRtt {
    ssrc: Ssrc,
    sent: [Option<(u32, Instant)>; SR_MEMORY],
    next: usize,
    rtt: Option<Duration>,
}

impl ReceiverRtt {
    /// For the receiver whose own SSRC is `ssrc` (the one DLRR items will name).
    pub fn new(ssrc: Ssrc) -> Self {
        ReceiverRtt {
            ssrc,
            sent: [None; SR_MEMORY],
            next: 0,
            rtt: None,
        }
    }

    /// The RRTR block to send at `now`, when the wall clock reads `wall_clock`.
    pub fn rrtr(&mut self, now: Instant, wall_clock: NtpTime) -> XrBlock<'static> {
        self.sent[self.next] = Some((wall_clock.compact(), now));
        self.next = (self.next + 1) % SR_MEMORY;
        XrBlock::Rrtr {
            ntp_time: wall_clock.0,
        }
    }

    /// Takes a DLRR item that arrived at `now`; if it is addressed to this receiver and
    /// echoes a recent RRTR, returns the round-trip time.
    pub fn handle_dlrr(&mut self, now: Instant, item: &DlrrItem) -> Option<Duration> {
        if item.ssrc != self.ssrc || item.last_rr == 0 {
            return None;
        }
        let (_, sent_at) = self
            .sent
            .iter()
            .flatten()
            .find(|(lrr, _)| *lrr == item.last_rr)?;
        let rtt = now
            .saturating_duration_since(*sent_at)
            .saturating_sub(compact_to_duration(item.delay_since_last_rr));
        self.rtt = Some(rtt);
        Some(rtt)
    }

    /// The latest round-trip time measured.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }
}

/// How many receivers a [`DlrrResponder`] answers.
const DLRR_RECEIVERS: usize = 8;

/// The media sender's side of RFC 3611 RRTR/DLRR: remembers the last receiver reference
/// time from each of up to 8 receivers (the least recently heard is replaced) and produces
/// the DLRR items that echo them.
#[derive(Debug, Clone, Default)]
pub struct DlrrResponder {
    /// Receiver, LRR (middle bits of its RRTR), when it arrived.
    last: [Option<(Ssrc, u32, Instant)>; DLRR_RECEIVERS],
    items: Vec<DlrrItem>,
}

impl DlrrResponder {
    /// A responder that has heard no RRTR.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes an RRTR from receiver `from` that arrived at `now`.
    pub fn handle_rrtr(&mut self, now: Instant, from: Ssrc, ntp_time: NtpTime) {
        let entry = Some((from, ntp_time.compact(), now));
        if let Some(slot) = self
            .last
            .iter_mut()
            .find(|e| e.is_some_and(|e| e.0 == from))
        {
            *slot = entry;
        } else if let Some(slot) = self.last.iter_mut().find(|e| e.is_none()) {
            *slot = entry;
        } else if let Some(slot) = self.last.iter_mut().min_by_key(|e| e.map(|e| e.2)) {
            *slot = entry;
        }
    }

    /// The DLRR items to send at `now`, one per receiver heard (RFC 3611 section 4.5); the
    /// slice is reused by the next call. Empty before any RRTR.
    pub fn dlrr_items(&mut self, now: Instant) -> &[DlrrItem] {
        self.items.clear();
        for (ssrc, lrr, at) in self.last.iter().flatten() {
            self.items.push(DlrrItem {
                ssrc: *ssrc,
                last_rr: *lrr,
                delay_since_last_rr: duration_to_compact(now.saturating_duration_since(*at)),
            });
        }
        &self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn rfc3550_figure_2_round_trip() {
        // A = 0xb710:8000, LSR = 0xb705:2000, DLSR = 0x0005:4000, delay 0x0006:2000 = 6.125 s.
        assert_eq!(
            rtt_from_report(0xb710_8000, 0xb705_2000, 0x0005_4000),
            Some(Duration::from_millis(6125))
        );
        assert_eq!(rtt_from_report(0xb710_8000, 0, 0x0005_4000), None);
        // DLSR longer than the time since the SR: clocks disagree.
        assert_eq!(rtt_from_report(0xb705_3000, 0xb705_2000, 0x0005_4000), None);
        // The SR's full NTP time in the figure: 0xb44db705:20000000, LSR its middle bits.
        assert_eq!(NtpTime(0xb44d_b705_2000_0000).compact(), 0xb705_2000);
        assert_eq!(
            duration_to_compact(Duration::from_millis(5250)),
            0x0005_4000
        );
    }

    #[test]
    fn ntp_from_unix() {
        assert_eq!(NtpTime::from_unix(Duration::ZERO).0, 2_208_988_800u64 << 32);
        // Half a second is 0x8000_0000 in the fraction.
        let t = NtpTime::from_unix(Duration::from_millis(1500));
        assert_eq!(t.0, ((2_208_988_801u64) << 32) | 0x8000_0000);
    }

    #[test]
    fn fraction_and_cumulative_lost() {
        let t0 = Instant::now();
        let mut r = ReceiverStats::new(Ssrc(7), 90_000);
        assert_eq!(r.report_block(t0), None);
        // Interval 1: seq 100..110, 103 and 107 lost. expected 10, received 8.
        for s in (100..110u16).filter(|s| *s != 103 && *s != 107) {
            r.handle_packet(t0, SeqNo(s), 0);
        }
        let b = r.report_block(t0).unwrap();
        assert_eq!(b.ssrc, Ssrc(7));
        assert_eq!(b.cumulative_lost, 2);
        // (2 << 8) / 10 = 51.
        assert_eq!(b.fraction_lost, 51);
        assert_eq!(b.highest_seq, 109);
        // Interval 2: 110..120 all arrive, and 103 comes late: expected 10, received 11.
        for s in 110..120u16 {
            r.handle_packet(t0, SeqNo(s), 0);
        }
        r.handle_packet(t0, SeqNo(103), 0);
        let b = r.report_block(t0).unwrap();
        assert_eq!(b.fraction_lost, 0);
        assert_eq!(b.cumulative_lost, 1);
        assert_eq!(b.highest_seq, 119);
        // Interval 3: duplicates only: nothing new expected.
        r.handle_packet(t0, SeqNo(119), 0);
        r.handle_packet(t0, SeqNo(119), 0);
        let b = r.report_block(t0).unwrap();
        assert_eq!((b.fraction_lost, b.cumulative_lost), (0, -1));
        // Interval 4: 120..124 sent, only 123 arrives: 4 expected, 1 received, 3 lost:
        // (3 << 8) / 4 = 192.
        r.handle_packet(t0, SeqNo(123), 0);
        let b = r.report_block(t0).unwrap();
        assert_eq!(b.fraction_lost, 192);
        assert_eq!(b.cumulative_lost, 2);
    }

    #[test]
    fn all_lost_is_255_and_cumulative_clamps() {
        let t0 = Instant::now();
        let mut r = ReceiverStats::new(Ssrc(1), 8000);
        r.handle_packet(t0, SeqNo(0), 0);
        r.handle_packet(t0, SeqNo(1), 0);
        r.report_block(t0);
        // Gaps just under MAX_DROPOUT (loss, not a restart) through many wraps: 2998 of
        // every 2999 lost, over 8.4 million in all.
        let mut s = SeqNo(1);
        for _ in 0..2900 {
            s = s.wrapping_add(MAX_DROPOUT - 1);
            assert_eq!(r.handle_packet_checked(t0, s, 0), SeqVerdict::Valid);
        }
        let b = r.report_block(t0).unwrap();
        assert_eq!(b.fraction_lost, 255);
        assert_eq!(b.cumulative_lost, 0x7f_ffff);
        assert_eq!(u64::from(b.highest_seq), 1 + 2900 * 2999);
    }

    #[test]
    fn extended_highest_across_wrap_and_reordering() {
        let t0 = Instant::now();
        let mut r = ReceiverStats::new(Ssrc(1), 90_000);
        // Two in sequence pass probation, then reordering across the wrap.
        for s in [65533u16, 65534, 0, 65535, 1] {
            r.handle_packet(t0, SeqNo(s), 0);
        }
        let b = r.report_block(t0).unwrap();
        // One wrap: cycles = 1, max seq = 1.
        assert_eq!(b.highest_seq, 0x0001_0001);
        assert_eq!(b.cumulative_lost, 0);
        assert_eq!(r.expected(), 5);
        // A packet from before the first one still counts as expected.
        r.handle_packet(t0, SeqNo(65531), 0);
        assert_eq!(r.expected(), 7);
        assert_eq!(r.cumulative_lost(), 1);
    }

    #[test]
    fn probation_until_min_sequential_in_order() {
        let t0 = Instant::now();
        let mut r = ReceiverStats::new(Ssrc(9), 90_000);
        // Scattered packets (a stray or spoofed source) never make it valid.
        for s in [500u16, 9000, 17, 40_000] {
            assert_eq!(
                r.handle_packet_checked(t0, SeqNo(s), 0),
                SeqVerdict::Probation
            );
            assert!(!r.is_valid());
            assert_eq!(r.report_block(t0), None);
            assert_eq!((r.received(), r.expected()), (0, 0));
        }
        // Two in sequence (MIN_SEQUENTIAL): valid, and both count.
        assert_eq!(
            r.handle_packet_checked(t0, SeqNo(40_001), 0),
            SeqVerdict::Valid
        );
        assert!(r.is_valid());
        assert_eq!((r.received(), r.expected(), r.cumulative_lost()), (2, 2, 0));
        assert_eq!(r.extended_highest(), Some(40_001));
        // A source known from signalling can skip probation.
        let mut known = ReceiverStats::new(Ssrc(9), 90_000).with_min_sequential(1);
        assert_eq!(
            known.handle_packet_checked(t0, SeqNo(7), 0),
            SeqVerdict::Valid
        );
        assert_eq!(known.report_block(t0).unwrap().highest_seq, 7);
        // A longer probation.
        let mut strict = ReceiverStats::new(Ssrc(9), 90_000).with_min_sequential(3);
        let v: Vec<_> = [10u16, 11, 20, 21, 22]
            .iter()
            .map(|&s| strict.handle_packet_checked(t0, SeqNo(s), 0))
            .collect();
        use SeqVerdict::{Probation as P, Valid as V};
        assert_eq!(v, [P, P, P, P, V]);
        assert_eq!((strict.received(), strict.expected()), (3, 3));
    }

    #[test]
    fn restart_detected_by_two_sequential_packets_after_a_jump() {
        let t0 = Instant::now();
        let mut r = ReceiverStats::new(Ssrc(3), 90_000);
        for s in 100..200u16 {
            r.handle_packet(t0, SeqNo(s), 0);
        }
        assert_eq!((r.received(), r.cumulative_lost()), (100, 0));
        // A lone jump of MAX_DROPOUT is dropped, not counted as 3000 lost.
        let jump = 199 + MAX_DROPOUT;
        assert_eq!(
            r.handle_packet_checked(t0, SeqNo(jump), 0),
            SeqVerdict::Dropped
        );
        assert_eq!(
            (r.received(), r.cumulative_lost(), r.dropped()),
            (100, 0, 1)
        );
        // The stream goes on where it was: the jump was a stray.
        assert_eq!(
            r.handle_packet_checked(t0, SeqNo(200), 0),
            SeqVerdict::Valid
        );
        // A jump of MAX_DROPOUT - 1 is loss.
        assert_eq!(
            r.handle_packet_checked(t0, SeqNo(200 + MAX_DROPOUT - 1), 0),
            SeqVerdict::Valid
        );
        assert_eq!(r.cumulative_lost(), i64::from(MAX_DROPOUT) - 2);
        r.report_block(t0);
        // The sender restarts at 7: 7 is dropped, 8 follows it, so the statistics
        // resynchronise from 7 and count both.
        assert_eq!(
            r.handle_packet_checked(t0, SeqNo(7), 0),
            SeqVerdict::Dropped
        );
        assert_eq!(
            r.handle_packet_checked(t0, SeqNo(8), 0),
            SeqVerdict::Restarted
        );
        assert_eq!((r.restarts(), r.dropped()), (1, 1));
        assert_eq!((r.received(), r.expected(), r.cumulative_lost()), (2, 2, 0));
        for s in 9..20u16 {
            assert_eq!(r.handle_packet_checked(t0, SeqNo(s), 0), SeqVerdict::Valid);
        }
        let b = r.report_block(t0).unwrap();
        assert_eq!(
            (b.highest_seq, b.cumulative_lost, b.fraction_lost),
            (19, 0, 0)
        );
    }

    #[test]
    fn misorder_window() {
        let t0 = Instant::now();
        let mut r = ReceiverStats::new(Ssrc(3), 90_000);
        for s in 1000..1200u16 {
            r.handle_packet(t0, SeqNo(s), 0);
        }
        // Less than MAX_MISORDER behind the highest: a late packet, counted.
        let late = 1199 - (MAX_MISORDER - 1);
        assert_eq!(
            r.handle_packet_checked(t0, SeqNo(late), 0),
            SeqVerdict::Valid
        );
        // MAX_MISORDER behind: too old, taken as a possible restart and dropped.
        assert_eq!(
            r.handle_packet_checked(t0, SeqNo(late - 1), 0),
            SeqVerdict::Dropped
        );
        assert_eq!((r.received(), r.restarts()), (201, 0));
    }

    #[test]
    fn interarrival_jitter_by_hand() {
        // 90 kHz video, a packet every 20 ms whose timestamp advances 1800: transit constant.
        let t0 = Instant::now();
        let mut r = ReceiverStats::new(Ssrc(1), 90_000);
        for k in 0..5u32 {
            r.handle_packet(t0 + ms(20 * u64::from(k)), SeqNo(k as u16), 1800 * k);
        }
        assert_eq!(r.jitter(), 0);
        // Packet 5 arrives 10 ms (900 units) late: D = 900, J16 = 0 + 900 - ((0 + 8) >> 4)
        // = 900, J = 900 >> 4 = 56 (the exact form gives 900 / 16 = 56.25).
        r.handle_packet(t0 + ms(110), SeqNo(5), 9000);
        assert_eq!(r.jitter(), 56);
        // Packet 6 on time: D = 900 again, J16 = 900 + 900 - ((900 + 8) >> 4) = 1744,
        // J = 109 (exact: 56.25 + (900 - 56.25) / 16 = 108.98).
        r.handle_packet(t0 + ms(120), SeqNo(6), 10_800);
        assert_eq!(r.jitter(), 109);
        assert_eq!(r.report_block(t0 + ms(120)).unwrap().jitter, 109);
        // 109 units at 90 kHz = 1.2111 ms.
        assert_eq!(r.jitter_duration(), Duration::from_nanos(1_211_111));
        // Packets on time: D = 0, J shrinks by J/16 each.
        r.handle_packet(t0 + ms(140), SeqNo(7), 12_600);
        // J16 = 1744 - ((1744 + 8) >> 4) = 1744 - 109 = 1635, J = 102.
        assert_eq!(r.jitter(), 102);
    }

    #[test]
    fn lsr_and_dlsr() {
        let t0 = Instant::now();
        let mut r = ReceiverStats::new(Ssrc(1), 90_000);
        r.handle_packet(t0, SeqNo(1), 0);
        r.handle_packet(t0, SeqNo(2), 0);
        assert_eq!(r.report_block(t0).unwrap().last_sr, 0);
        r.handle_sender_report(t0, NtpTime(0xb44d_b705_2000_0000));
        let b = r.report_block(t0 + ms(5250)).unwrap();
        assert_eq!(b.last_sr, 0xb705_2000);
        assert_eq!(b.delay_since_last_sr, 0x0005_4000);
    }

    #[test]
    fn sender_report_mapping_and_rtt() {
        let t0 = Instant::now();
        let mut s = SenderStats::new(Ssrc(0x1234), 90_000);
        assert!(s.sender_report(t0, NtpTime(1 << 32), &[]).is_none());
        for k in 0..3u64 {
            s.handle_sent(t0 + ms(10 * k), 1000 + 900 * k as u32, 100);
        }
        // 500 ms after the last packet (timestamp 2800): 2800 + 0.5 * 90000 = 47800.
        let wall = NtpTime::from_unix(Duration::from_secs(1_700_000_000));
        let sr = s.sender_report(t0 + ms(520), wall, &[]).unwrap();
        assert_eq!(sr.rtp_time, 47_800);
        assert_eq!(sr.ntp_time, wall.0);
        assert_eq!((sr.packet_count, sr.octet_count), (3, 300));

        // The receiver sees the SR 40 ms later and reports 500 ms after that; the report
        // arrives 60 ms later: RTT = 600 - 500 = 100 ms.
        let mut r = ReceiverStats::new(Ssrc(0x1234), 90_000);
        r.handle_packet(t0 + ms(10), SeqNo(2), 1900);
        r.handle_packet(t0 + ms(20), SeqNo(3), 2800);
        r.handle_sender_report(t0 + ms(560), NtpTime(sr.ntp_time));
        let block = r.report_block(t0 + ms(1060)).unwrap();
        assert_eq!(s.handle_report_block(t0 + ms(1120), &block), Some(ms(100)));
        assert_eq!(s.rtt(), Some(ms(100)));
        // A block about another stream, or echoing an unknown SR, gives nothing.
        let other = ReportBlock {
            ssrc: Ssrc(9),
            ..block
        };
        assert_eq!(s.handle_report_block(t0 + ms(1120), &other), None);
        let unknown = ReportBlock {
            last_sr: 0xdead_beef,
            ..block
        };
        assert_eq!(s.handle_report_block(t0 + ms(1120), &unknown), None);
    }

    #[test]
    fn receiver_rtt_from_rrtr_and_dlrr() {
        let t0 = Instant::now();
        let mut r = ReceiverRtt::new(Ssrc(0x77));
        let mut d = DlrrResponder::new();
        assert!(d.dlrr_items(t0).is_empty());
        // The receiver's RRTR at t0 reaches the sender 30 ms later; the sender answers
        // 200 ms after that and the answer takes 40 ms: RTT 70 ms.
        let wall = NtpTime::from_unix(Duration::from_secs(1_700_000_000));
        let XrBlock::Rrtr { ntp_time } = r.rrtr(t0, wall) else {
            panic!("not an RRTR")
        };
        d.handle_rrtr(t0 + ms(30), Ssrc(0x77), NtpTime(ntp_time));
        let items = d.dlrr_items(t0 + ms(230)).to_vec();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].last_rr, wall.compact());
        // 200 ms in 1/65536 s: 13107.2, truncated.
        assert_eq!(items[0].delay_since_last_rr, 13_107);
        let rtt = r.handle_dlrr(t0 + ms(270), &items[0]).unwrap();
        // Truncating DLRR adds at most 1/65536 s.
        assert!(
            rtt >= ms(70) && rtt < ms(70) + Duration::from_micros(16),
            "{rtt:?}"
        );
        assert_eq!(r.rtt(), Some(rtt));
        // An item for another receiver, or echoing an unknown RRTR, gives nothing.
        let other = DlrrItem {
            ssrc: Ssrc(1),
            ..items[0]
        };
        assert_eq!(r.handle_dlrr(t0 + ms(270), &other), None);
        let stale = DlrrItem {
            last_rr: 0x1234_5678,
            ..items[0]
        };
        assert_eq!(r.handle_dlrr(t0 + ms(270), &stale), None);
    }

    #[test]
    fn dlrr_responder_is_bounded() {
        let t0 = Instant::now();
        let mut d = DlrrResponder::new();
        for k in 0..20u32 {
            d.handle_rrtr(
                t0 + ms(u64::from(k)),
                Ssrc(k),
                NtpTime(u64::from(k + 1) << 16),
            );
        }
        // A repeated receiver replaces its own entry.
        d.handle_rrtr(t0 + ms(50), Ssrc(19), NtpTime(99 << 16));
        let items = d.dlrr_items(t0 + ms(100));
        assert_eq!(items.len(), 8);
        // The 8 most recently heard: 12..=19.
        let mut ssrcs: Vec<u32> = items.iter().map(|i| i.ssrc.0).collect();
        ssrcs.sort();
        assert_eq!(ssrcs, (12..20).collect::<Vec<_>>());
        assert!(items.iter().any(|i| i.ssrc == Ssrc(19) && i.last_rr == 99));
    }
}
