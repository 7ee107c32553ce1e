//! Transport-wide congestion control (draft-holmer-rmcat-transport-wide-cc-extensions-01):
//! sequence numbering on send, feedback generation on receive.
//!
//! [`TransportSequencer`] numbers every packet a transport sends, across its streams, and
//! writes the number into the packet's transport-cc header extension in place (section 2).
//! [`TwccGenerator`] records when each numbered packet arrived and produces
//! [`TransportFeedback`] messages (section 3.1): a reference time in 64 ms units, then one
//! status per sequence number with receive deltas in 250 µs units.

use std::time::{Duration, Instant};

use ferrtc_types::ExtensionId;

use crate::rtcp::{PacketStatus, TransportFeedback, TwccPackets};
use crate::rtp::RtpPacket;
use crate::types::{SeqNo, SeqUnwrapper, Ssrc};

/// Reference time unit (draft section 3.1): 64 ms.
pub const REFERENCE_TIME_UNIT: Duration = Duration::from_millis(64);
/// Receive delta unit (draft section 3.1.5): 250 µs.
pub const DELTA_UNIT: Duration = Duration::from_micros(250);

/// Why a transport sequence number could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StampError {
    /// The packet has no header extension element with the transport-cc id.
    #[error("no transport-cc extension element with id {0}")]
    NoElement(ExtensionId),
    /// The element is not the 2 bytes a transport sequence number takes (draft section 2).
    #[error("transport-cc element has {0} bytes, expected 2")]
    BadLength(usize),
}

/// Hands out transport-wide sequence numbers, one per packet sent on the transport, in
/// sending order, wrapping at 2^16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransportSequencer {
    next: u16,
}

impl TransportSequencer {
    /// A sequencer whose first number is `first`.
    pub fn new(first: SeqNo) -> Self {
        TransportSequencer { next: first.0 }
    }

    /// The next number.
    pub fn next_seq(&mut self) -> SeqNo {
        let s = SeqNo(self.next);
        self.next = self.next.wrapping_add(1);
        s
    }

    /// Writes the next number into `packet`'s transport-cc element (`id`, reserved with a
    /// 2-byte value when the packet was built), in place, and returns it. The number is
    /// only used up when it was written.
    pub fn stamp<T: AsRef<[u8]> + AsMut<[u8]>>(
        &mut self,
        packet: &mut RtpPacket<T>,
        id: ExtensionId,
    ) -> Result<SeqNo, StampError> {
        let v = packet
            .extension_value_mut(id)
            .ok_or(StampError::NoElement(id))?;
        if v.len() != 2 {
            return Err(StampError::BadLength(v.len()));
        }
        v.copy_from_slice(&self.next.to_be_bytes());
        Ok(self.next_seq())
    }
}

/// Settings of a [`TwccGenerator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwccConfig {
    /// How often feedback is sent.
    pub interval: Duration,
    /// Most statuses in one feedback message (keeps it under the MTU: at most two delta
    /// bytes and two chunk bits each).
    pub max_statuses: usize,
    /// Most arrivals held between feedback messages, and (rounded up to a power of two)
    /// the widest span of sequence numbers they may cover; past either the oldest are
    /// dropped unreported.
    pub max_pending: usize,
    /// A missing packet is reported lost only once a later one arrived at least this long
    /// ago; until then the message stops before it, so that mere reordering is not
    /// reported as loss.
    pub reorder_window: Duration,
}

impl Default for TwccConfig {
    fn default() -> Self {
        TwccConfig {
            interval: Duration::from_millis(100),
            max_statuses: 500,
            max_pending: 4096,
            reorder_window: Duration::from_millis(10),
        }
    }
}

/// Records the arrival of transport-numbered packets and produces transport-wide feedback.
///
/// Input: [`handle_packet`](Self::handle_packet) with each packet's transport sequence
/// number. Output: [`poll_feedback`](Self::poll_feedback) at
/// [`poll_timeout`](Self::poll_timeout) (every [`TwccConfig::interval`] while packets
/// arrive), drained until `None`. Each message covers the sequence numbers from where the
/// previous one ended, received or not, up to the highest received; a message ends early
/// when a receive delta does not fit 16 bits, at [`TwccConfig::max_statuses`], or before a
/// gap younger than [`TwccConfig::reorder_window`]. A packet arriving after a message
/// reported it lost is not reported again. Memory is
/// bounded by [`TwccConfig::max_pending`] arrivals.
#[derive(Debug, Clone)]
pub struct TwccGenerator {
    sender_ssrc: Ssrc,
    media_ssrc: Ssrc,
    config: TwccConfig,
    unwrapper: SeqUnwrapper,
    /// Arrival time of each unreported packet, by extended sequence number.
    arrivals: Arrivals,
    /// First extended sequence number not yet reported.
    next_base: Option<u64>,
    /// Origin of reference times and deltas.
    epoch: Option<Instant>,
    fb_count: u8,
    due: Option<Instant>,
    statuses: Vec<PacketStatus>,
    dropped: u64,
}

impl TwccGenerator {
    /// A generator whose feedback comes from `sender_ssrc` about `media_ssrc`.
    ///
    /// The draft (section 3.1) leaves open which media source a transport-wide message
    /// names. libwebrtc names an SSRC of the stream it received, and drops feedback that
    /// does not name one of its own sending SSRCs (Chromium 156 did: our feedback with 0
    /// there never reached its estimator). Use [`set_media_ssrc`](Self::set_media_ssrc) to
    /// follow the streams that arrive.
    pub fn new(sender_ssrc: Ssrc, media_ssrc: Ssrc, config: TwccConfig) -> Self {
        TwccGenerator {
            sender_ssrc,
            media_ssrc,
            config,
            unwrapper: SeqUnwrapper::new(),
            arrivals: Arrivals::new(config.max_pending),
            next_base: None,
            epoch: None,
            fb_count: 0,
            due: None,
            statuses: Vec::new(),
            dropped: 0,
        }
    }

    /// The media source SSRC the next feedback messages name (the SSRC of a stream the
    /// feedback is about; see [`new`](Self::new)).
    pub fn set_media_ssrc(&mut self, media_ssrc: Ssrc) {
        self.media_ssrc = media_ssrc;
    }

    /// The media source SSRC feedback messages name.
    pub fn media_ssrc(&self) -> Ssrc {
        self.media_ssrc
    }

    /// Takes a packet whose transport sequence number is `seq`, arrived at `now`.
    /// Duplicates and packets already reported are ignored.
    pub fn handle_packet(&mut self, now: Instant, seq: SeqNo) {
        let ext = self.unwrapper.unwrap(seq);
        self.epoch.get_or_insert(now);
        if self.next_base.is_some_and(|b| ext < b) {
            return;
        }
        if self.arrivals.get(ext).is_some() {
            return;
        }
        let cap = self.arrivals.capacity();
        if self.arrivals.high().is_some_and(|h| ext + cap <= h) {
            // Older than the whole window: too late to be worth reporting.
            self.dropped += 1;
            return;
        }
        // Make room: the pending set spans less than the ring and holds at most max_pending.
        while let Some((old, _)) = self.arrivals.first() {
            if ext < old + cap && self.arrivals.len() < self.config.max_pending.max(1) {
                break;
            }
            self.arrivals.remove(old);
            self.dropped += 1;
            self.next_base = Some(old + 1);
        }
        if self.next_base.is_some_and(|b| ext < b) {
            return;
        }
        self.arrivals.insert(ext, now);
        if self.due.is_none() {
            self.due = now.checked_add(self.config.interval);
        }
    }

    /// When feedback is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.due
    }

    /// Arrivals dropped unreported because [`TwccConfig::max_pending`] was reached.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The next feedback message at `now`, if one is due; it borrows an internal list that
    /// the next call reuses. Call until `None`.
    pub fn poll_feedback(&mut self, now: Instant) -> Option<TransportFeedback<'_>> {
        if self.due.is_none_or(|d| now < d) {
            return None;
        }
        let epoch = self.epoch?;
        let Some((first_rx, first_at)) = self.arrivals.first() else {
            self.due = None;
            return None;
        };
        let max = self.config.max_statuses.clamp(1, usize::from(u16::MAX));
        // Report losses since the previous message, unless the gap is too long to list.
        let base = match self.next_base {
            Some(b) if first_rx - b < max as u64 => b,
            _ => first_rx,
        };
        // The reference time: the first received packet's arrival, rounded down to 64 ms
        // (24 bits, wrapping).
        let since = first_at.saturating_duration_since(epoch);
        let ref_units = since.as_micros() / REFERENCE_TIME_UNIT.as_micros();
        let reference_time = (ref_units & 0xff_ffff) as u32;
        let mut prev_ticks = ref_units as i128 * 256; // 64 ms = 256 ticks of 250 µs
        self.statuses.clear();
        let mut seq = base;
        let mut end = base;
        let mut in_gap = false;
        let mut held = false;
        while self.statuses.len() < max {
            let status = match self.arrivals.get(seq) {
                None => {
                    if !in_gap {
                        in_gap = true;
                        // The gap is known once the packet after it has waited out the
                        // reorder window.
                        let evidence = (seq + 1..=self.arrivals.high().unwrap_or(seq))
                            .find_map(|x| self.arrivals.get(x));
                        if evidence.is_none_or(|t| {
                            now.saturating_duration_since(t) < self.config.reorder_window
                        }) {
                            held = true;
                            break;
                        }
                    }
                    PacketStatus::NotReceived
                }
                Some(at) => {
                    let ticks = (at.saturating_duration_since(epoch).as_micros()
                        / DELTA_UNIT.as_micros()) as i128;
                    let delta = ticks - prev_ticks;
                    let s = if let Ok(d) = u8::try_from(delta) {
                        PacketStatus::ReceivedSmall(d)
                    } else if let Ok(d) = i16::try_from(delta) {
                        PacketStatus::ReceivedLarge(d)
                    } else {
                        // Does not fit: the next message starts here with its own
                        // reference time.
                        break;
                    };
                    prev_ticks = ticks;
                    self.arrivals.remove(seq);
                    in_gap = false;
                    s
                }
            };
            self.statuses.push(status);
            seq += 1;
            if status != PacketStatus::NotReceived {
                end = seq;
            }
            if self.arrivals.is_empty() {
                break;
            }
        }
        // Trailing not-received statuses are left for the next message.
        self.statuses
            .truncate(usize::try_from(end - base).unwrap_or(usize::MAX));
        self.next_base = Some(end);
        if self.arrivals.is_empty() {
            // Due again once a packet arrives.
            self.due = None;
        } else if held || self.statuses.is_empty() {
            // The rest waits for the next interval.
            self.due = now.checked_add(self.config.interval);
        }
        if self.statuses.is_empty() {
            return None;
        }
        let fb_pkt_count = self.fb_count;
        self.fb_count = self.fb_count.wrapping_add(1);
        Some(TransportFeedback {
            sender_ssrc: self.sender_ssrc,
            media_ssrc: self.media_ssrc,
            base_seq: SeqNo(base as u16),
            reference_time,
            fb_pkt_count,
            packets: TwccPackets::Statuses(&self.statuses),
        })
    }
}

/// Arrival times keyed by extended sequence number in a fixed ring: nothing is allocated
/// after construction. Callers keep every live key within one ring length of the others.
#[derive(Debug, Clone)]
struct Arrivals {
    slots: Vec<Option<(u64, Instant)>>,
    mask: u64,
    len: usize,
    /// No live key is below this.
    low: u64,
    /// The highest live key, if any.
    high: Option<u64>,
}

impl Arrivals {
    fn new(max: usize) -> Self {
        let cap = max.clamp(16, 1 << 16).next_power_of_two();
        Arrivals {
            slots: vec![None; cap],
            mask: cap as u64 - 1,
            len: 0,
            low: 0,
            high: None,
        }
    }

    fn capacity(&self) -> u64 {
        self.mask + 1
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn high(&self) -> Option<u64> {
        self.high
    }

    fn get(&self, ext: u64) -> Option<Instant> {
        match self.slots[(ext & self.mask) as usize] {
            Some((e, t)) if e == ext => Some(t),
            _ => None,
        }
    }

    fn insert(&mut self, ext: u64, at: Instant) {
        let slot = &mut self.slots[(ext & self.mask) as usize];
        if slot.is_some_and(|(e, _)| e == ext) {
            return;
        }
        // The caller keeps live keys within one ring length, so a different key here is
        // stale; replace it without counting it twice.
        if slot.is_none() {
            self.len += 1;
        }
        *slot = Some((ext, at));
        if self.len == 1 {
            self.low = ext;
            self.high = Some(ext);
        } else {
            self.low = self.low.min(ext);
            self.high = self.high.max(Some(ext));
        }
    }

    fn remove(&mut self, ext: u64) {
        let slot = &mut self.slots[(ext & self.mask) as usize];
        if slot.is_some_and(|(e, _)| e == ext) {
            *slot = None;
            self.len -= 1;
            if self.len == 0 {
                self.high = None;
            }
        }
    }

    /// The lowest live key and its time.
    fn first(&mut self) -> Option<(u64, Instant)> {
        let high = self.high?;
        while self.low <= high {
            if let Some(t) = self.get(self.low) {
                return Some((self.low, t));
            }
            self.low += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::{Compound, RtcpPacket};
    use crate::rtp::{Csrcs, ExtensionForm, ExtensionWriter, RtpHeader};
    use crate::types::PayloadType;
    use crate::{Extension, ExtensionKind, ExtensionMap};
    use ferrtc_types::ExtensionId;

    /// A test's extension id (never 0).
    fn ext_id(n: u8) -> ExtensionId {
        ExtensionId::new(n).expect("test ids are not 0")
    }

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn sequencer_stamps_in_place_and_wraps() {
        let mut ext = [0u8; 8];
        let mut w = ExtensionWriter::new(&mut ext, ExtensionForm::OneByte);
        w.push(ext_id(3), &[0, 0]).unwrap();
        let raw = w.finish().unwrap();
        let h = RtpHeader {
            marker: false,
            payload_type: PayloadType::new(96).unwrap(),
            sequence_number: SeqNo(1),
            timestamp: 0,
            ssrc: Ssrc(5),
            csrcs: Csrcs::new(),
            extension: Some(raw),
        };
        let mut buf = vec![0u8; 64];
        let n = h.emit_packet(&[1, 2, 3], 0, &mut buf).unwrap();
        buf.truncate(n);
        let mut map = ExtensionMap::new();
        map.insert_uri(
            ext_id(3),
            "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        );
        let mut seqr = TransportSequencer::new(SeqNo(0xffff));
        for want in [0xffffu16, 0, 1] {
            let mut p = RtpPacket::new_checked(&mut buf[..]).unwrap();
            assert_eq!(seqr.stamp(&mut p, ext_id(3)), Ok(SeqNo(want)));
            let p = RtpPacket::new_checked(&buf[..]).unwrap();
            let e = p.extension().unwrap();
            assert_eq!(
                map.find(&e, ExtensionKind::TransportCc),
                Some(Extension::TransportCc(want))
            );
            assert_eq!(p.payload(), &[1, 2, 3]);
        }
        let mut p = RtpPacket::new_checked(&mut buf[..]).unwrap();
        assert_eq!(
            seqr.stamp(&mut p, ext_id(4)),
            Err(StampError::NoElement(ext_id(4)))
        );
        assert_eq!(seqr.next_seq(), SeqNo(2));
    }

    fn feedback(g: &mut TwccGenerator, now: Instant) -> Option<(u16, u32, u8, Vec<PacketStatus>)> {
        let fb = g.poll_feedback(now)?;
        // Through the wire and back.
        let mut buf = Vec::new();
        RtcpPacket::TransportFeedback(fb)
            .emit_vec(&mut buf)
            .unwrap();
        let Some(Ok(RtcpPacket::TransportFeedback(p))) = Compound::new(&buf).next() else {
            panic!("not TWCC")
        };
        Some((
            p.base_seq.0,
            p.reference_time,
            p.fb_pkt_count,
            p.packets.iter().collect(),
        ))
    }

    #[test]
    fn statuses_and_deltas_by_hand() {
        let t0 = Instant::now();
        let mut g = TwccGenerator::new(Ssrc(1), Ssrc(2), TwccConfig::default());
        // Epoch t0. Packet 10 at 100 ms, 11 lost, 12 at 100.75 ms, 14 at 100.5 ms
        // (reordered: negative delta), 13 at 200 ms (large delta).
        g.handle_packet(t0, SeqNo(10));
        for (s, at) in [(12u16, 750u64), (14, 500), (13, 100_000)] {
            g.handle_packet(t0 + us(at), SeqNo(s));
        }
        assert_eq!(g.poll_timeout(), Some(t0 + Duration::from_millis(100)));
        assert!(g.poll_feedback(t0 + Duration::from_millis(99)).is_none());
        let (base, reference, count, st) =
            feedback(&mut g, t0 + Duration::from_millis(100)).unwrap();
        assert_eq!((base, reference, count), (10, 0, 0));
        // Reference 0; 10 at 0 ticks; 12 at 750 µs = 3 ticks; 13 at 100 ms = 400 ticks,
        // delta 397; 14 at 2 ticks, delta -398.
        assert_eq!(
            st,
            [
                PacketStatus::ReceivedSmall(0),
                PacketStatus::NotReceived,
                PacketStatus::ReceivedSmall(3),
                PacketStatus::ReceivedLarge(397),
                PacketStatus::ReceivedLarge(-398),
            ]
        );
        assert_eq!(g.poll_feedback(t0 + Duration::from_millis(100)), None);
        assert_eq!(g.poll_timeout(), None);

        // Next message: 15 lost, 16 at 1000.3 ms: reference 15 (960 ms), 16 is
        // (1000.3 - 960) / 0.25 = 161 ticks after it.
        g.handle_packet(t0 + us(1_000_300), SeqNo(16));
        let (base, reference, count, st) = feedback(&mut g, t0 + us(1_100_300)).unwrap();
        assert_eq!((base, reference, count), (15, 15, 1));
        assert_eq!(
            st,
            [PacketStatus::NotReceived, PacketStatus::ReceivedSmall(161)]
        );
        // A packet already reported is ignored.
        g.handle_packet(t0 + us(1_200_000), SeqNo(12));
        assert_eq!(g.poll_timeout(), None);
    }

    #[test]
    fn a_fresh_gap_waits_for_reordering() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut g = TwccGenerator::new(Ssrc(1), Ssrc(2), TwccConfig::default());
        g.handle_packet(t0, SeqNo(0));
        g.handle_packet(t0 + ms(95), SeqNo(2));
        // At 100 ms, 1 has been missing for 5 ms only: the message stops before it.
        let (base, _, _, st) = feedback(&mut g, t0 + ms(100)).unwrap();
        assert_eq!(base, 0);
        assert_eq!(st, [PacketStatus::ReceivedSmall(0)]);
        assert!(g.poll_feedback(t0 + ms(100)).is_none());
        assert_eq!(g.poll_timeout(), Some(t0 + ms(200)));
        // 1 turns up, overtaken by 2.
        g.handle_packet(t0 + ms(101), SeqNo(1));
        let (base, reference, _, st) = feedback(&mut g, t0 + ms(200)).unwrap();
        // Reference 1 (64 ms): 1 at 101 ms is 148 ticks later, 2 at 95 ms 24 ticks before.
        assert_eq!((base, reference), (1, 1));
        assert_eq!(
            st,
            [
                PacketStatus::ReceivedSmall(148),
                PacketStatus::ReceivedLarge(-24)
            ]
        );
        // A gap whose successor arrived long enough ago is reported lost (due 100 ms after
        // the first arrival since the last message).
        g.handle_packet(t0 + ms(210), SeqNo(4));
        let (base, _, _, st) = feedback(&mut g, t0 + ms(310)).unwrap();
        assert_eq!(base, 3);
        assert_eq!(st[0], PacketStatus::NotReceived);
        assert_eq!(st.len(), 2);
    }

    #[test]
    fn wraps_and_splits_on_a_long_pause() {
        let t0 = Instant::now();
        let mut g = TwccGenerator::new(Ssrc(1), Ssrc(2), TwccConfig::default());
        g.handle_packet(t0, SeqNo(65534));
        g.handle_packet(t0 + us(250), SeqNo(65535));
        g.handle_packet(t0 + us(500), SeqNo(0));
        // 10 s later: 40000 ticks, more than i16 holds.
        g.handle_packet(t0 + Duration::from_secs(10), SeqNo(1));
        let now = t0 + Duration::from_secs(10);
        let (base, _, _, st) = feedback(&mut g, now).unwrap();
        assert_eq!(base, 65534);
        assert_eq!(
            st,
            [
                PacketStatus::ReceivedSmall(0),
                PacketStatus::ReceivedSmall(1),
                PacketStatus::ReceivedSmall(1)
            ]
        );
        let (base, reference, _, st) = feedback(&mut g, now).unwrap();
        // 10 s / 64 ms = 156.25: reference 156 (9.984 s), 16 ms after it = 64 ticks.
        assert_eq!((base, reference), (1, 156));
        assert_eq!(st, [PacketStatus::ReceivedSmall(64)]);
        assert!(g.poll_feedback(now).is_none());
    }

    #[test]
    fn bounded_messages_and_memory() {
        let t0 = Instant::now();
        let cfg = TwccConfig {
            max_statuses: 100,
            max_pending: 1000,
            ..TwccConfig::default()
        };
        let mut g = TwccGenerator::new(Ssrc(1), Ssrc(2), cfg);
        for s in 0..250u16 {
            g.handle_packet(t0 + us(u64::from(s) * 1000), SeqNo(s));
        }
        let now = t0 + Duration::from_secs(1);
        let mut total = 0;
        let mut bases = vec![];
        while let Some((base, _, _, st)) = feedback(&mut g, now) {
            assert!(st.len() <= 100);
            bases.push(base);
            total += st.len();
        }
        assert_eq!(bases, [0, 100, 200]);
        assert_eq!(total, 250);
        // A peer numbering far ahead each time never grows the pending set past the bound,
        // and a gap too long to list is skipped rather than listed.
        let mut s = SeqNo(250);
        for k in 0..5000u64 {
            s = s.wrapping_add(3);
            g.handle_packet(now + us(k), s);
            assert!(g.arrivals.len() <= 1000);
        }
        // Every third number in a 1024-slot ring: about 342 pending, the rest dropped.
        assert!(g.arrivals.len() > 300);
        assert_eq!(g.dropped(), 5000 - g.arrivals.len() as u64);
        let later = now + Duration::from_secs(1);
        let (_, _, _, st) = feedback(&mut g, later).unwrap();
        // From just after the last dropped arrival: two never seen, then every third (33
        // received at 2, 5, ..., 98 of the 100 allowed); the trailing loss at 99 waits for
        // the next message.
        assert_eq!(st.len(), 99);
        assert_eq!(&st[..2], [PacketStatus::NotReceived; 2]);
        assert_eq!(st.iter().filter(|p| p.delta().is_some()).count(), 33);
        assert!(st[2].delta().is_some());
    }
}
