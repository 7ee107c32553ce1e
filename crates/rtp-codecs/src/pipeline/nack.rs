//! Loss repair by retransmission: NACK generation on receive (RFC 4585 section 6.2.1) and
//! the bounded send history that answers it with RTX (RFC 4588) or plain retransmission.
//!
//! [`NackGenerator`] watches the sequence numbers of one incoming stream, asks for each
//! missing packet, asks again one round-trip time later if it is still missing, and gives
//! up after a number of tries or an age. Its list is bounded; when a gap is larger than the
//! list it forgets the gap and asks for a key frame instead (PLI, RFC 4585 section 6.3.1).
//!
//! [`SendHistory`] keeps the last packets sent on one stream in a ring keyed by sequence
//! number and writes their retransmissions on request, never the same packet twice within
//! one round-trip time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::error::{BuildError, ParseError};
use crate::rtcp::{List, Nack, NackPair, Pli};
use crate::rtp::RtpPacket;
use crate::rtx;
use crate::types::{PayloadType, SeqNo, SeqUnwrapper, Ssrc};

/// Settings of a [`NackGenerator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NackConfig {
    /// Most missing packets tracked; a gap that would exceed it is dropped for a key frame
    /// request.
    pub max_entries: usize,
    /// Requests per missing packet before giving up.
    pub max_requests: u32,
    /// Age after which a missing packet is given up, however few requests it had.
    pub max_age: Duration,
    /// Shortest spacing between two requests for the same packet, whatever the RTT.
    pub min_retry_interval: Duration,
    /// Wait before the first request, so that a packet merely overtaken by its successor
    /// (reordering) is not requested.
    pub reorder_delay: Duration,
    /// Round-trip time assumed until [`NackGenerator::set_rtt`] is called.
    pub initial_rtt: Duration,
    /// Most NACK entries (16 packets each) in one RTCP packet, keeping it under the MTU.
    pub max_pairs: usize,
}

impl Default for NackConfig {
    fn default() -> Self {
        NackConfig {
            max_entries: 1000,
            max_requests: 10,
            max_age: Duration::from_secs(1),
            min_retry_interval: Duration::from_millis(5),
            reorder_delay: Duration::from_millis(5),
            initial_rtt: Duration::from_millis(100),
            max_pairs: 64,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Missing {
    since: Instant,
    last_request: Option<Instant>,
    requests: u32,
}

/// Tracks the missing packets of one incoming stream and produces generic NACKs.
///
/// Inputs: [`handle_packet`](Self::handle_packet) for every packet of the stream
/// (retransmissions included, after RTX decapsulation), [`set_rtt`](Self::set_rtt) when the
/// round-trip time is known. Outputs, to poll after each input and at
/// [`poll_timeout`](Self::poll_timeout): [`poll_nack`](Self::poll_nack) and
/// [`poll_pli`](Self::poll_pli).
///
/// A missing packet is requested once it has been missing for [`NackConfig::reorder_delay`],
/// then again every 1.25 RTT (at least
/// [`NackConfig::min_retry_interval`] apart) until it arrives, it has been requested
/// [`NackConfig::max_requests`] times and one more retry interval has passed, or it is older than
/// [`NackConfig::max_age`]. At most [`NackConfig::max_entries`] are tracked.
#[derive(Debug, Clone)]
pub struct NackGenerator {
    sender_ssrc: Ssrc,
    media_ssrc: Ssrc,
    config: NackConfig,
    unwrapper: SeqUnwrapper,
    highest: Option<u64>,
    /// Lowest sequence number seen: a packet from before it (reordering at the start of
    /// the stream) opens a gap backwards.
    lowest: u64,
    missing: BTreeMap<u64, Missing>,
    rtt: Duration,
    want_keyframe: bool,
    pairs: Vec<NackPair>,
    given_up: u64,
    recovered: u64,
    requests: u64,
}

impl NackGenerator {
    /// A generator for the stream `media_ssrc`, whose NACKs and PLIs come from
    /// `sender_ssrc`.
    pub fn new(sender_ssrc: Ssrc, media_ssrc: Ssrc, config: NackConfig) -> Self {
        NackGenerator {
            sender_ssrc,
            media_ssrc,
            config,
            unwrapper: SeqUnwrapper::new(),
            highest: None,
            lowest: 0,
            missing: BTreeMap::new(),
            rtt: config.initial_rtt,
            want_keyframe: false,
            pairs: Vec::new(),
            given_up: 0,
            recovered: 0,
            requests: 0,
        }
    }

    /// Sets the round-trip time that spaces repeated requests.
    pub fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = rtt;
    }

    /// Takes a packet of the stream that arrived at `now`.
    pub fn handle_packet(&mut self, now: Instant, seq: SeqNo) {
        let ext = self.unwrapper.unwrap(seq);
        let Some(highest) = self.highest else {
            self.highest = Some(ext);
            self.lowest = ext;
            return;
        };
        if ext < self.lowest {
            // Older than anything seen: the packets between it and the first one seen
            // are missing too.
            let lowest = std::mem::replace(&mut self.lowest, ext);
            self.add_missing(now, ext + 1, lowest);
            return;
        }
        if ext <= highest {
            if self.missing.remove(&ext).is_some() {
                self.recovered += 1;
            }
            return;
        }
        self.highest = Some(ext);
        self.add_missing(now, highest + 1, ext);
    }

    /// Marks `from..to` missing, or gives everything up for a key frame if that would
    /// overflow the list.
    fn add_missing(&mut self, now: Instant, from: u64, to: u64) {
        let gap = to.saturating_sub(from);
        if gap == 0 {
            return;
        }
        if self.missing.len() as u64 + gap > self.config.max_entries as u64 {
            // Too much to repair packet by packet: forget it all, ask for a key frame.
            self.given_up += self.missing.len() as u64 + gap;
            self.missing.clear();
            self.want_keyframe = true;
            return;
        }
        for s in from..to {
            self.missing.insert(
                s,
                Missing {
                    since: now,
                    last_request: None,
                    requests: 0,
                },
            );
        }
    }

    /// One RTT plus a quarter for its variation: a retry sooner would race the
    /// retransmission, and the sender ignores requests within one RTT of answering.
    fn retry_interval(&self) -> Duration {
        self.rtt
            .saturating_add(self.rtt / 4)
            .max(self.config.min_retry_interval)
    }

    /// The NACK to send at `now`, if any packet is due a request; it borrows an internal
    /// list that the next call reuses. Packets given up are dropped first.
    pub fn poll_nack(&mut self, now: Instant) -> Option<Nack<'_>> {
        let interval = self.retry_interval();
        let cfg = self.config;
        let mut given_up = 0;
        self.missing.retain(|_, m| {
            // `>=`: poll_timeout names exactly this instant, which must make progress.
            let expired = now.saturating_duration_since(m.since) >= cfg.max_age;
            let exhausted = m.requests >= cfg.max_requests
                && m.last_request
                    .is_some_and(|t| now.saturating_duration_since(t) >= interval);
            given_up += u64::from(expired || exhausted);
            !(expired || exhausted)
        });
        self.given_up += given_up;
        self.pairs.clear();
        for (&ext, m) in self.missing.iter_mut() {
            let due = match m.last_request {
                None => now.saturating_duration_since(m.since) >= cfg.reorder_delay,
                Some(t) => now.saturating_duration_since(t) >= interval,
            };
            if !due {
                continue;
            }
            let seq = SeqNo(ext as u16);
            let full = self.pairs.len() >= cfg.max_pairs;
            match self.pairs.last_mut() {
                Some(p) if (1..=16).contains(&p.pid.distance_to(seq)) => {
                    p.blp |= 1 << (p.pid.distance_to(seq) - 1);
                }
                _ if full => break,
                _ => self.pairs.push(NackPair { pid: seq, blp: 0 }),
            }
            m.last_request = Some(now);
            m.requests += 1;
            self.requests += 1;
        }
        if self.pairs.is_empty() {
            return None;
        }
        Some(Nack {
            sender_ssrc: self.sender_ssrc,
            media_ssrc: self.media_ssrc,
            pairs: List::Items(&self.pairs),
        })
    }

    /// A PLI if a gap was too large to repair since the last call.
    pub fn poll_pli(&mut self) -> Option<Pli> {
        std::mem::take(&mut self.want_keyframe).then_some(Pli {
            sender_ssrc: self.sender_ssrc,
            media_ssrc: self.media_ssrc,
        })
    }

    /// When [`poll_nack`](Self::poll_nack) next has something to do, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let interval = self.retry_interval();
        self.missing
            .values()
            .filter_map(|m| {
                // Checked: an absurd RTT or configuration means "never", not a panic.
                let expiry = m.since.checked_add(self.config.max_age);
                match m.last_request {
                    None => m.since.checked_add(self.config.reorder_delay),
                    Some(t) => match (t.checked_add(interval), expiry) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    },
                }
            })
            .min()
    }

    /// Whether `seq` is currently missing and being requested.
    pub fn is_missing(&mut self, seq: SeqNo) -> bool {
        // Unwrap against the highest without moving it.
        let Some(h) = self.highest else { return false };
        let delta = i64::from(seq.0.wrapping_sub(h as u16) as i16);
        h.checked_add_signed(delta)
            .is_some_and(|e| self.missing.contains_key(&e))
    }

    /// Packets tracked as missing now.
    pub fn missing_count(&self) -> usize {
        self.missing.len()
    }

    /// Packets given up on (too old, too many requests, or dropped with a gap too large).
    pub fn given_up(&self) -> u64 {
        self.given_up
    }

    /// Missing packets that arrived later.
    pub fn recovered(&self) -> u64 {
        self.recovered
    }

    /// Requests made, counting each sequence number in each NACK.
    pub fn requests(&self) -> u64 {
        self.requests
    }
}

/// A retransmission problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The packet given to [`SendHistory::handle_sent`] is not RTP.
    #[error("not an RTP packet: {0}")]
    NotRtp(#[from] ParseError),
    /// The packet is longer than the history's slot size.
    #[error("packet of {len} bytes exceeds the history's {max}-byte slots")]
    TooLong {
        /// Its length.
        len: usize,
        /// The slot size.
        max: usize,
    },
    /// The output buffer cannot hold the retransmission.
    #[error(transparent)]
    Build(#[from] BuildError),
}

#[derive(Debug, Clone)]
struct Sent {
    seq: SeqNo,
    sent_at: Instant,
    resent_at: Option<Instant>,
    valid: bool,
    /// Kept across uses so that a warm history does not allocate per packet.
    data: Vec<u8>,
}

/// The last packets sent on one stream, answering NACKs.
///
/// Memory is bounded by `capacity` slots of at most `max_packet_len` bytes each. A packet is
/// retransmitted at most once per [`set_rtt`](Self::set_rtt) interval (a repeated NACK that
/// crossed the retransmission is not answered twice) and never once older than `max_age`.
/// With [`with_rtx`](Self::with_rtx) retransmissions go on the RTX stream (RFC 4588 section
/// 4: own SSRC, payload type and sequence numbers); otherwise the original bytes are sent
/// again.
#[derive(Debug, Clone)]
pub struct SendHistory {
    slots: Vec<Sent>,
    mask: usize,
    max_packet_len: usize,
    max_age: Duration,
    rtt: Duration,
    rtx: Option<(PayloadType, Ssrc)>,
    rtx_seq: SeqNo,
    retransmissions: u64,
    misses: u64,
}

impl SendHistory {
    /// A history of `capacity` packets (rounded up to a power of two, 16 to 32768), each at
    /// most `max_packet_len` bytes, kept for at most `max_age`.
    pub fn new(capacity: usize, max_packet_len: usize, max_age: Duration) -> Self {
        let cap = capacity.clamp(16, 32768).next_power_of_two();
        SendHistory {
            slots: Vec::with_capacity(cap),
            mask: cap - 1,
            max_packet_len,
            max_age,
            rtt: Duration::from_millis(100),
            rtx: None,
            rtx_seq: SeqNo(0),
            retransmissions: 0,
            misses: 0,
        }
    }

    /// Retransmits on the RTX stream with payload type `pt` and SSRC `ssrc`, numbering from
    /// `first_seq` (RFC 4588 section 4: a random initial value, chosen by the caller).
    #[must_use]
    pub fn with_rtx(mut self, pt: PayloadType, ssrc: Ssrc, first_seq: SeqNo) -> Self {
        self.rtx = Some((pt, ssrc));
        self.rtx_seq = first_seq;
        self
    }

    /// Sets the round-trip time: a packet is not retransmitted twice within it.
    pub fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = rtt;
    }

    /// Records a packet sent at `now`.
    pub fn handle_sent(&mut self, now: Instant, packet: &[u8]) -> Result<(), HistoryError> {
        let seq = RtpPacket::new_checked(packet)?.sequence_number();
        if packet.len() > self.max_packet_len {
            return Err(HistoryError::TooLong {
                len: packet.len(),
                max: self.max_packet_len,
            });
        }
        let idx = usize::from(seq.0) & self.mask;
        while self.slots.len() <= idx {
            self.slots.push(Sent {
                seq: SeqNo(0),
                sent_at: now,
                resent_at: None,
                valid: false,
                data: Vec::new(),
            });
        }
        let slot = &mut self.slots[idx];
        slot.seq = seq;
        slot.sent_at = now;
        slot.resent_at = None;
        slot.valid = true;
        slot.data.clear();
        slot.data.extend_from_slice(packet);
        Ok(())
    }

    /// Writes the retransmission of `seq` into `out` at `now` and returns its length, or
    /// `None` when the packet is not held (overwritten, too old, never sent) or was
    /// retransmitted less than one RTT ago.
    pub fn retransmit(
        &mut self,
        now: Instant,
        seq: SeqNo,
        out: &mut [u8],
    ) -> Result<Option<usize>, HistoryError> {
        let idx = usize::from(seq.0) & self.mask;
        let Some(slot) = self.slots.get_mut(idx) else {
            self.misses += 1;
            return Ok(None);
        };
        if !slot.valid
            || slot.seq != seq
            || now.saturating_duration_since(slot.sent_at) > self.max_age
        {
            self.misses += 1;
            return Ok(None);
        }
        if slot
            .resent_at
            .is_some_and(|t| now.saturating_duration_since(t) < self.rtt)
        {
            return Ok(None);
        }
        let n = match self.rtx {
            Some((pt, ssrc)) => {
                // Stored packets were checked in `handle_sent`.
                let original = RtpPacket::new_checked(&slot.data[..])?;
                let n = rtx::encapsulate(&original, pt, ssrc, self.rtx_seq, out)?;
                self.rtx_seq = self.rtx_seq.wrapping_add(1);
                n
            }
            None => {
                let n = slot.data.len();
                let available = out.len();
                let dst = out.get_mut(..n).ok_or(BuildError::BufferTooSmall {
                    needed: n,
                    available,
                })?;
                dst.copy_from_slice(&slot.data);
                n
            }
        };
        slot.resent_at = Some(now);
        self.retransmissions += 1;
        Ok(Some(n))
    }

    /// Retransmissions written.
    pub fn retransmissions(&self) -> u64 {
        self.retransmissions
    }

    /// Requests for packets no longer (or never) held.
    pub fn misses(&self) -> u64 {
        self.misses
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::RtcpPacket;
    use crate::rtp::{Csrcs, RtpHeader};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn lost(n: &Nack<'_>) -> Vec<u16> {
        n.lost().map(|s| s.0).collect()
    }

    fn generator() -> NackGenerator {
        NackGenerator::new(Ssrc(1), Ssrc(2), immediate())
    }

    /// Requests at once, without waiting for reordering.
    fn immediate() -> NackConfig {
        NackConfig {
            reorder_delay: Duration::ZERO,
            ..NackConfig::default()
        }
    }

    #[test]
    fn reordering_within_the_delay_is_not_requested() {
        let t0 = Instant::now();
        let mut g = NackGenerator::new(Ssrc(1), Ssrc(2), NackConfig::default());
        g.handle_packet(t0, SeqNo(1));
        g.handle_packet(t0, SeqNo(3));
        g.handle_packet(t0, SeqNo(5));
        assert_eq!(g.poll_timeout(), Some(t0 + ms(5)));
        assert!(g.poll_nack(t0 + ms(4)).is_none());
        // 2 was only overtaken.
        g.handle_packet(t0 + ms(2), SeqNo(2));
        assert_eq!(lost(&g.poll_nack(t0 + ms(5)).unwrap()), [4]);
        assert_eq!(g.recovered(), 1);
    }

    #[test]
    fn requests_gaps_once_then_each_rtt() {
        let t0 = Instant::now();
        let mut g = generator();
        // Retries every 1.25 RTT: 50 ms.
        g.set_rtt(ms(40));
        for s in [10u16, 11, 14, 15, 17] {
            g.handle_packet(t0, SeqNo(s));
        }
        let n = g.poll_nack(t0).unwrap();
        assert_eq!((n.sender_ssrc, n.media_ssrc), (Ssrc(1), Ssrc(2)));
        assert_eq!(lost(&n), [12, 13, 16]);
        // One entry: pid 12, bits for 13 and 16.
        assert_eq!(
            n.pairs,
            List::Items(&[NackPair {
                pid: SeqNo(12),
                blp: 0b1001
            }])
        );
        // Nothing until one retry interval later.
        assert!(g.poll_nack(t0 + ms(49)).is_none());
        assert_eq!(g.poll_timeout(), Some(t0 + ms(50)));
        g.handle_packet(t0 + ms(30), SeqNo(13));
        assert_eq!(g.recovered(), 1);
        assert_eq!(lost(&g.poll_nack(t0 + ms(50)).unwrap()), [12, 16]);
        assert_eq!(g.requests(), 5);
        // The NACK is emitted with the existing builder and parses back.
        g.handle_packet(t0 + ms(60), SeqNo(20));
        let mut buf = Vec::new();
        RtcpPacket::Nack(g.poll_nack(t0 + ms(60)).unwrap())
            .emit_vec(&mut buf)
            .unwrap();
        let parsed = crate::rtcp::Compound::new(&buf).next().unwrap().unwrap();
        let RtcpPacket::Nack(p) = parsed else {
            panic!("not a NACK: {parsed:?}")
        };
        assert_eq!(lost(&p), [18, 19]);
    }

    #[test]
    fn absurd_rtt_does_not_panic() {
        let t0 = Instant::now();
        let mut g = generator();
        g.set_rtt(Duration::MAX);
        g.handle_packet(t0, SeqNo(0));
        g.handle_packet(t0, SeqNo(2));
        assert_eq!(lost(&g.poll_nack(t0).unwrap()), [1]);
        // The retry never comes; the age limit still ends it, at exactly the time
        // poll_timeout names (anything else would make a sans-IO loop spin).
        assert_eq!(g.poll_timeout(), Some(t0 + ms(1000)));
        assert!(g.poll_nack(t0 + ms(1000)).is_none());
        assert_eq!(g.missing_count(), 0);
        assert_eq!(g.poll_timeout(), None);
    }

    #[test]
    fn reordering_at_the_start_opens_a_gap_backwards() {
        let t0 = Instant::now();
        let mut g = generator();
        g.handle_packet(t0, SeqNo(10));
        g.handle_packet(t0, SeqNo(7));
        assert_eq!(lost(&g.poll_nack(t0).unwrap()), [8, 9]);
        g.handle_packet(t0, SeqNo(8));
        assert!(g.is_missing(SeqNo(9)) && !g.is_missing(SeqNo(8)));
    }

    #[test]
    fn wrap_around() {
        let t0 = Instant::now();
        let mut g = generator();
        for s in [65533u16, 65534, 1, 2] {
            g.handle_packet(t0, SeqNo(s));
        }
        let n = g.poll_nack(t0).unwrap();
        assert_eq!(lost(&n), [65535, 0]);
        assert!(g.is_missing(SeqNo(0)));
        g.handle_packet(t0, SeqNo(0));
        assert!(!g.is_missing(SeqNo(0)));
        assert_eq!(lost(&g.poll_nack(t0 + ms(125)).unwrap()), [65535]);
    }

    #[test]
    fn gives_up_after_requests_or_age() {
        let t0 = Instant::now();
        let cfg = NackConfig {
            max_requests: 3,
            max_age: ms(1000),
            ..immediate()
        };
        let mut g = NackGenerator::new(Ssrc(1), Ssrc(2), cfg);
        // Retries every 100 ms.
        g.set_rtt(ms(80));
        g.handle_packet(t0, SeqNo(0));
        g.handle_packet(t0, SeqNo(2));
        let mut times = vec![];
        let mut t = t0;
        while t < t0 + ms(2000) {
            if g.poll_nack(t).is_some() {
                times.push(t - t0);
            }
            t += ms(10);
        }
        // Requested at 0, 100, 200; given up one interval after the last, unanswered.
        assert_eq!(times, [ms(0), ms(100), ms(200)]);
        assert_eq!(g.missing_count(), 0);
        assert_eq!(g.given_up(), 1);

        // Age: with 400 ms between tries and 10 tries, the packet still goes after max_age.
        let mut g = NackGenerator::new(Ssrc(1), Ssrc(2), immediate());
        // Retries every 400 ms.
        g.set_rtt(ms(320));
        g.handle_packet(t0, SeqNo(0));
        g.handle_packet(t0, SeqNo(2));
        let mut count = 0;
        for k in 0..30 {
            count += usize::from(g.poll_nack(t0 + ms(100 * k)).is_some());
        }
        // At 0, 400, 800 ms; gone after 1000 ms.
        assert_eq!(count, 3);
        assert_eq!(g.given_up(), 1);
        assert_eq!(g.poll_timeout(), None);
    }

    #[test]
    fn bounded_list_overflow_asks_for_keyframe() {
        let t0 = Instant::now();
        let mut g = generator();
        g.handle_packet(t0, SeqNo(0));
        // A gap of 999 fits.
        g.handle_packet(t0, SeqNo(1000));
        assert_eq!(g.missing_count(), 999);
        assert!(g.poll_pli().is_none());
        // Two more missing would make 1001: everything is dropped, a PLI requested.
        g.handle_packet(t0, SeqNo(1003));
        assert_eq!(g.missing_count(), 0);
        assert_eq!(g.given_up(), 1001);
        assert_eq!(
            g.poll_pli(),
            Some(Pli {
                sender_ssrc: Ssrc(1),
                media_ssrc: Ssrc(2)
            })
        );
        assert!(g.poll_pli().is_none());
        assert!(g.poll_nack(t0).is_none());
        // A hostile stream jumping by 30000 never grows the list.
        let mut s = SeqNo(1003);
        for _ in 0..100 {
            s = s.wrapping_add(30_000);
            g.handle_packet(t0, s);
            assert!(g.missing_count() <= 1000);
        }
        // NACKs stay under max_pairs entries; what does not fit goes in the next one.
        let cfg = NackConfig {
            max_pairs: 4,
            ..immediate()
        };
        let mut g = NackGenerator::new(Ssrc(1), Ssrc(2), cfg);
        g.handle_packet(t0, SeqNo(0));
        for k in 1..=200u16 {
            g.handle_packet(t0, SeqNo(k * 2));
        }
        let mut all = vec![];
        while let Some(n) = g.poll_nack(t0) {
            assert!(n.pairs.len() <= 4);
            all.extend(lost(&n));
        }
        // Each entry covers 9 odd numbers (pid and 8 of its 16 bits): 36 per NACK.
        assert_eq!(all.len(), 200);
        assert_eq!(all, (0..200u16).map(|k| 2 * k + 1).collect::<Vec<_>>());
        assert_eq!(g.requests(), 200);
    }

    fn packet(seq: u16, payload: &[u8]) -> Vec<u8> {
        let h = RtpHeader {
            marker: false,
            payload_type: PayloadType::new(96).unwrap(),
            sequence_number: SeqNo(seq),
            timestamp: 1234,
            ssrc: Ssrc(0xaaaa),
            csrcs: Csrcs::new(),
            extension: None,
        };
        let mut b = vec![0; 12 + payload.len()];
        h.emit_packet(payload, 0, &mut b).unwrap();
        b
    }

    #[test]
    fn history_answers_with_rtx_or_plain() {
        let t0 = Instant::now();
        let rtx_pt = PayloadType::new(97).unwrap();
        let mut h =
            SendHistory::new(64, 1500, ms(1000)).with_rtx(rtx_pt, Ssrc(0xbbbb), SeqNo(65535));
        for s in 65530..=65535u16 {
            h.handle_sent(t0, &packet(s, &[s as u8; 10])).unwrap();
        }
        h.handle_sent(t0, &packet(0, &[0; 10])).unwrap();
        let mut out = [0u8; 1500];
        let n = h
            .retransmit(t0 + ms(10), SeqNo(65533), &mut out)
            .unwrap()
            .unwrap();
        let r = RtpPacket::new_checked(&out[..n]).unwrap();
        assert_eq!(r.ssrc(), Ssrc(0xbbbb));
        assert_eq!(r.payload_type(), rtx_pt);
        assert_eq!(r.sequence_number(), SeqNo(65535));
        // OSN then the original payload.
        assert_eq!(&r.payload()[..2], &65533u16.to_be_bytes());
        assert_eq!(&r.payload()[2..], &[65533u16 as u8; 10]);
        // The RTX sequence number wraps too.
        let n = h
            .retransmit(t0 + ms(10), SeqNo(0), &mut out)
            .unwrap()
            .unwrap();
        assert_eq!(
            RtpPacket::new_checked(&out[..n]).unwrap().sequence_number(),
            SeqNo(0)
        );
        // Not twice within an RTT; again after.
        assert_eq!(h.retransmit(t0 + ms(50), SeqNo(65533), &mut out), Ok(None));
        assert!(
            h.retransmit(t0 + ms(110), SeqNo(65533), &mut out)
                .unwrap()
                .is_some()
        );
        assert_eq!(h.retransmissions(), 3);
        // Never sent, and too old.
        assert_eq!(h.retransmit(t0, SeqNo(500), &mut out), Ok(None));
        assert_eq!(
            h.retransmit(t0 + ms(1001), SeqNo(65531), &mut out),
            Ok(None)
        );
        assert_eq!(h.misses(), 2);
        // Output too small.
        assert!(matches!(
            h.retransmit(t0 + ms(10), SeqNo(65532), &mut out[..8]),
            Err(HistoryError::Build(BuildError::BufferTooSmall { .. }))
        ));

        // Plain retransmission: the same bytes.
        let mut h = SendHistory::new(16, 1500, ms(1000));
        let p = packet(7, b"hello");
        h.handle_sent(t0, &p).unwrap();
        let n = h.retransmit(t0, SeqNo(7), &mut out).unwrap().unwrap();
        assert_eq!(&out[..n], &p[..]);
    }

    #[test]
    fn history_is_a_bounded_ring() {
        let t0 = Instant::now();
        let mut h = SendHistory::new(16, 100, ms(1000));
        for s in 0..40u16 {
            h.handle_sent(t0, &packet(s, &[1; 20])).unwrap();
        }
        assert_eq!(h.slots.len(), 16);
        let mut out = [0u8; 100];
        // Overwritten by 16..40.
        assert_eq!(h.retransmit(t0, SeqNo(10), &mut out), Ok(None));
        assert!(h.retransmit(t0, SeqNo(30), &mut out).unwrap().is_some());
        assert!(matches!(
            h.handle_sent(t0, &packet(41, &[1; 200])),
            Err(HistoryError::TooLong { len: 212, max: 100 })
        ));
        assert!(matches!(
            h.handle_sent(t0, &[0x80, 0x60]),
            Err(HistoryError::NotRtp(_))
        ));
    }

    #[test]
    fn generator_and_history_repair_a_loss() {
        // Sender sends 0..20, 5 and 6 are lost; the NACK is answered with RTX; undoing the
        // RTX gives back the original packets and the generator stops asking.
        let t0 = Instant::now();
        let pt = PayloadType::new(96).unwrap();
        let mut h = SendHistory::new(64, 1500, ms(1000)).with_rtx(
            PayloadType::new(97).unwrap(),
            Ssrc(0xbbbb),
            SeqNo(100),
        );
        let mut g = generator();
        let sent: Vec<Vec<u8>> = (0..20u16).map(|s| packet(s, &[s as u8; 30])).collect();
        for (s, p) in sent.iter().enumerate() {
            h.handle_sent(t0, p).unwrap();
            if s != 5 && s != 6 {
                g.handle_packet(t0 + ms(20), SeqNo(s as u16));
            }
        }
        let requested: Vec<SeqNo> = g.poll_nack(t0 + ms(20)).unwrap().lost().collect();
        for seq in requested {
            let mut buf = [0u8; 1500];
            let n = h.retransmit(t0 + ms(40), seq, &mut buf).unwrap().unwrap();
            let at = rtx::decapsulate_in_place(&mut buf[..n], pt, Ssrc(0xaaaa)).unwrap();
            assert_eq!(&buf[at..n], &sent[usize::from(seq.0)][..]);
            g.handle_packet(t0 + ms(60), seq);
        }
        assert_eq!(g.missing_count(), 0);
        assert_eq!(g.recovered(), 2);
        assert!(g.poll_nack(t0 + ms(500)).is_none());
    }
}
