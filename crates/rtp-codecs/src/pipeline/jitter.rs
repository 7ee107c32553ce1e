//! The receive-side jitter buffer: whole frames, in order, after a bounded wait for late or
//! retransmitted packets.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::codec::{Depacketizer, Frame, FrameAssembler};
use crate::rtp::RtpPacket;
use crate::types::{SeqNo, SeqUnwrapper};

/// Settings of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterConfig {
    /// Packets the frame assembler holds: the longest frame and the deepest reordering.
    pub capacity: usize,
    /// Complete frames held waiting for an earlier one; past it the earliest gap is given up.
    pub max_frames: usize,
    /// Shortest wait for a missing packet.
    pub min_delay: Duration,
    /// Longest wait for a missing packet.
    pub max_delay: Duration,
    /// The wait allows this many round-trip times for a retransmission to arrive.
    pub rtt_factor: f64,
    /// While no key frame has come after a request, it is repeated after this long (or
    /// two round-trip times, if longer): the request or its answer may have been lost.
    pub keyframe_retry: Duration,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            capacity: 1024,
            max_frames: 128,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(500),
            rtt_factor: 1.5,
            keyframe_retry: Duration::from_millis(500),
        }
    }
}

/// What the jitter buffer hands out, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JitterEvent {
    /// A complete frame that can be decoded: a key frame, or one whose predecessors were
    /// all handed out.
    Frame(Frame),
    /// Packets given up on: the frames they carried are lost. The frames that follow need a
    /// key frame.
    Lost {
        /// First sequence number given up.
        first_seq: SeqNo,
        /// How many consecutive sequence numbers were given up.
        packets: u64,
    },
    /// A complete frame that depends on a lost one (it follows a loss, or the start of the
    /// stream, and is not a key frame); a decoder should skip it until a key frame.
    NeedsKeyframe(Frame),
}

#[derive(Debug)]
struct Ready {
    completed_at: Instant,
    last_ext: u64,
    frame: Frame,
}

/// Reorders one incoming stream into whole frames, handing them out in sequence order.
///
/// Inputs: [`handle_packet`](Self::handle_packet) for each RTP packet (retransmissions
/// included, after RTX decapsulation), [`set_rtt`](Self::set_rtt). Outputs: drain
/// [`poll_event`](Self::poll_event) after each input and at
/// [`poll_timeout`](Self::poll_timeout);
/// [`poll_keyframe_request`](Self::poll_keyframe_request), polled after each event, says
/// when to send a PLI: at the first loss or undecodable frame, then every
/// [`JitterConfig::keyframe_retry`] until a key frame arrives.
///
/// When a later frame is complete but the next in order is not, the buffer waits at most
/// [`delay`](Self::delay) from the later frame's completion: the larger of twice the
/// interarrival jitter and [`JitterConfig::rtt_factor`] round-trip times (time for a NACK to
/// be answered), clamped to [`JitterConfig::min_delay`]..=[`JitterConfig::max_delay`]. Then
/// the missing packets are reported [`JitterEvent::Lost`], and frames up to the next key
/// frame come out as [`JitterEvent::NeedsKeyframe`]. The stream starts in that state too:
/// the first decodable frame is a key frame.
///
/// A gap is judged by time even when no later frame completes. A hole in the sequence
/// numbers waits at most [`delay`](Self::delay) from when the packet after it arrived (a
/// repair inside the wait fills it); and when nothing arrives for
/// [`JitterConfig::max_delay`] while packets at the head of the stream cannot make a frame
/// (a stream that stops with its last frame incomplete), they are given up. That wait is
/// the longest because no packet is known missing then: a paced sender spreads one frame's
/// packets over tens of milliseconds at low rates. What is given up runs to the next
/// complete frame if there is one, else past the hole to the next packet known to start
/// a frame, else (nothing arriving) to the highest packet received.
///
/// Memory is bounded by the assembler's capacity and byte budget plus
/// [`JitterConfig::max_frames`] complete frames.
#[derive(Debug)]
pub struct JitterBuffer<D> {
    assembler: FrameAssembler<D>,
    config: JitterConfig,
    clock_rate: u32,
    unwrapper: SeqUnwrapper,
    /// Extended sequence number the next frame in order starts at.
    next: Option<u64>,
    emitted_any: bool,
    ready: BTreeMap<u64, Ready>,
    /// Holes in the sequence numbers, by first missing extended number: (last missing,
    /// when the packet after the hole arrived). At most `config.capacity` entries.
    holes: BTreeMap<u64, (u64, Instant)>,
    /// When the latest packet arrived.
    last_arrival: Option<Instant>,
    needs_keyframe: bool,
    keyframe_request: bool,
    keyframe_requested_at: Option<Instant>,
    rtt: Option<Duration>,
    /// Interarrival jitter in nanoseconds, times 16 (RFC 3550 appendix A.8).
    jitter_q4: u128,
    last_transit: Option<i128>,
    epoch: Option<Instant>,
    frames: u64,
    lost_packets: u64,
    late_frames: u64,
}

impl<D: Depacketizer> JitterBuffer<D> {
    /// A buffer for a stream whose RTP clock runs at `clock_rate` Hz, depacketized by
    /// `depacketizer`.
    pub fn new(depacketizer: D, clock_rate: u32, config: JitterConfig) -> Self {
        JitterBuffer {
            assembler: FrameAssembler::new(depacketizer, config.capacity),
            config,
            clock_rate: clock_rate.max(1),
            unwrapper: SeqUnwrapper::new(),
            next: None,
            emitted_any: false,
            ready: BTreeMap::new(),
            holes: BTreeMap::new(),
            last_arrival: None,
            needs_keyframe: true,
            keyframe_request: false,
            keyframe_requested_at: None,
            rtt: None,
            jitter_q4: 0,
            last_transit: None,
            epoch: None,
            frames: 0,
            lost_packets: 0,
            late_frames: 0,
        }
    }

    /// Sets the round-trip time, which lengthens the wait for retransmissions.
    pub fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = Some(rtt);
    }

    /// The current wait for a missing packet.
    pub fn delay(&self) -> Duration {
        let jitter = Duration::from_nanos(u64::try_from(self.jitter_q4 >> 4).unwrap_or(u64::MAX));
        let by_rtt = self.rtt.map_or(Duration::ZERO, |r| {
            // Saturates rather than panics on a huge RTT or a strange factor.
            Duration::try_from_secs_f64(r.as_secs_f64() * self.config.rtt_factor)
                .unwrap_or(self.config.max_delay)
        });
        // max then min rather than clamp: a configuration with min above max must not panic.
        jitter
            .saturating_mul(2)
            .max(by_rtt)
            .max(self.config.min_delay)
            .min(self.config.max_delay)
    }

    /// Takes an RTP packet of the stream that arrived at `now`.
    pub fn handle_rtp<T: AsRef<[u8]>>(&mut self, now: Instant, packet: &RtpPacket<T>) {
        self.handle_packet(
            now,
            packet.sequence_number(),
            packet.timestamp(),
            packet.marker(),
            packet.payload(),
        );
    }

    /// Takes a packet, given by its fields, that arrived at `now`.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        seq: SeqNo,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) {
        let in_order = self.unwrapper.highest().is_none_or(|h| {
            let delta = seq.0.wrapping_sub(h as u16) as i16;
            delta > 0
        });
        let before = self.unwrapper.highest();
        let ext = self.unwrapper.unwrap(seq);
        match self.next {
            None => self.next = Some(ext),
            // Reordering at the very start: begin at the lowest packet seen.
            Some(n) if !self.emitted_any && ext < n => self.next = Some(ext),
            Some(n) if ext < n => {
                // Behind the frames already handed out or given up: too late.
                return;
            }
            _ => {}
        }
        // Only packets that advance the stream measure jitter: a reordered or retransmitted
        // packet would count its repair time as network jitter.
        if in_order {
            self.update_jitter(now, timestamp);
        }
        self.last_arrival = Some(now);
        self.track_holes(now, before, ext);
        self.assembler.push(seq, timestamp, marker, payload);
        while let Some(frame) = self.assembler.poll_frame() {
            self.take_frame(now, frame);
        }
    }

    /// Records the hole a packet at `ext` opens after the highest before it, or fills the
    /// part of a hole it repairs.
    fn track_holes(&mut self, now: Instant, before: Option<u64>, ext: u64) {
        let Some(highest) = before else {
            return;
        };
        if ext > highest.saturating_add(1) {
            if self.holes.len() >= self.config.capacity.max(1) {
                // Bounded: forget the oldest; the frame and arrival rules still judge it.
                self.holes.pop_first();
            }
            self.holes.insert(highest + 1, (ext - 1, now));
        } else if ext < highest {
            let Some((&first, &(last, at))) = self.holes.range(..=ext).next_back() else {
                return;
            };
            if last < ext {
                return;
            }
            self.holes.remove(&first);
            if first < ext {
                self.holes.insert(first, (ext - 1, at));
            }
            if ext < last {
                self.holes.insert(ext + 1, (last, at));
            }
        }
    }

    /// The first hole not yet behind the next frame in order.
    fn head_hole(&self, next: u64) -> Option<(u64, Instant)> {
        self.holes
            .values()
            .find(|(last, _)| *last >= next)
            .map(|&(last, at)| (last, at))
    }

    /// The first packet from `from` on that is known to start a frame, or past `highest`:
    /// a hole is given up with the rest of the frame it broke.
    fn frame_start_from(&self, from: u64, highest: u64) -> u64 {
        let mut ext = from;
        // The assembler holds at most `capacity` packets: no need to look further.
        let end = highest.min(from.saturating_add(self.config.capacity as u64));
        while ext <= end {
            if self.assembler.starts_frame(SeqNo(ext as u16)) {
                return ext;
            }
            ext += 1;
        }
        highest + 1
    }

    /// When the gap at the head of the stream is given up, if there is one: the earliest of
    /// the wait after the next complete frame, after the first hole, and (waiting the
    /// longest delay) after the latest arrival while packets wait at the head.
    fn gap_deadline(&self, next: u64) -> Option<Instant> {
        let delay = self.delay();
        let frame = self
            .ready
            .first_key_value()
            .filter(|(first, _)| **first != next)
            .map(|(_, r)| r.completed_at);
        let hole = self.head_hole(next).map(|(_, at)| at);
        // Nothing is known lost here: with no hole, the head frame's other packets have
        // not been sent yet. A sender's pacer spreads a frame's packets at its estimate of
        // the path's rate (tens of ms apart at a few hundred kbit/s, far beyond the network
        // jitter on a quiet link), so only a stream that stopped is given up, after the
        // longest wait; a loss shows as a hole as soon as the stream goes on.
        let idle = self
            .unwrapper
            .highest()
            .filter(|h| *h >= next && !self.ready.contains_key(&next))
            .and(self.last_arrival)
            .and_then(|t| t.checked_add(self.config.max_delay));
        [frame, hole]
            .into_iter()
            .flatten()
            .min()
            .and_then(|t| t.checked_add(delay))
            .into_iter()
            .chain(idle)
            .min()
    }

    fn update_jitter(&mut self, now: Instant, timestamp: u32) {
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = now.saturating_duration_since(epoch).as_nanos() as i128;
        // The timestamp in nanoseconds, modulo its wrap: only differences matter, and
        // consecutive packets are far closer than a wrap.
        let ts = i128::from(timestamp) * 1_000_000_000 / i128::from(self.clock_rate);
        let transit = arrival - ts;
        if let Some(last) = self.last_transit {
            let wrap = (1i128 << 32) * 1_000_000_000 / i128::from(self.clock_rate);
            let mut d = (transit - last).rem_euclid(wrap);
            if d > wrap / 2 {
                d = wrap - d;
            }
            let d = d as u128;
            self.jitter_q4 = (self.jitter_q4 + d).saturating_sub((self.jitter_q4 + 8) >> 4);
        }
        self.last_transit = Some(transit);
    }

    fn ext_of(&self, seq: SeqNo) -> u64 {
        // The unwrapper has seen every packet of the frame, so its highest is set and near.
        let h = self.unwrapper.highest().unwrap_or(1 << 16);
        let delta = i64::from(seq.0.wrapping_sub(h as u16) as i16);
        h.checked_add_signed(delta).unwrap_or(0)
    }

    fn take_frame(&mut self, now: Instant, frame: Frame) {
        let first = self.ext_of(frame.first_seq);
        let last_ext = first + u64::from(frame.first_seq.distance_to(frame.last_seq));
        if self.next.is_some_and(|n| first < n) {
            self.late_frames += 1;
            return;
        }
        self.ready.insert(
            first,
            Ready {
                completed_at: now,
                last_ext,
                frame,
            },
        );
    }

    /// The next event at `now`, in stream order.
    pub fn poll_event(&mut self, now: Instant) -> Option<JitterEvent> {
        let next = self.next?;
        while self
            .holes
            .first_key_value()
            .is_some_and(|(_, (last, _))| *last < next)
        {
            self.holes.pop_first();
        }
        let overfull = self.ready.len() > self.config.max_frames;
        if let Some(head) = self.ready.first_entry().filter(|h| *h.key() == next) {
            let r = head.remove();
            self.next = Some(r.last_ext + 1);
            self.emitted_any = true;
            self.frames += 1;
            if r.frame.info.keyframe {
                self.needs_keyframe = false;
                self.keyframe_request = false;
                self.keyframe_requested_at = None;
            }
            return Some(if self.needs_keyframe {
                self.want_keyframe();
                JitterEvent::NeedsKeyframe(r.frame)
            } else {
                JitterEvent::Frame(r.frame)
            });
        }
        if overfull || self.gap_deadline(next).is_some_and(|t| now >= t) {
            // Up to the next complete frame, else past the first hole, else past all
            // that arrived.
            let highest = self.unwrapper.highest()?;
            let first = match (self.ready.keys().next(), self.head_hole(next)) {
                (Some(&first), _) => first,
                (None, Some((last, _))) => self.frame_start_from(last + 1, highest),
                (None, None) => highest + 1,
            };
            if first <= next {
                return None;
            }
            let packets = first - next;
            self.next = Some(first);
            self.emitted_any = true;
            self.lost_packets += packets;
            self.needs_keyframe = true;
            self.want_keyframe();
            return Some(JitterEvent::Lost {
                first_seq: SeqNo(next as u16),
                packets,
            });
        }
        None
    }

    fn want_keyframe(&mut self) {
        if self.keyframe_requested_at.is_none() {
            self.keyframe_request = true;
        }
    }

    fn keyframe_retry(&self) -> Duration {
        let rtt = self.rtt.unwrap_or_default();
        self.config.keyframe_retry.max(rtt.saturating_mul(2))
    }

    /// When [`poll_event`](Self::poll_event) will next give up a gap, or
    /// [`poll_keyframe_request`](Self::poll_keyframe_request) repeat a request.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let gap = self.next.and_then(|next| self.gap_deadline(next));
        let retry = self
            .keyframe_requested_at
            .filter(|_| self.needs_keyframe)
            .and_then(|t| t.checked_add(self.keyframe_retry()));
        match (gap, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether to request a key frame (PLI) now: after a loss or an undecodable frame, and
    /// again every [`JitterConfig::keyframe_retry`] while none has arrived.
    pub fn poll_keyframe_request(&mut self, now: Instant) -> bool {
        let retry = self.needs_keyframe
            && self
                .keyframe_requested_at
                .and_then(|t| t.checked_add(self.keyframe_retry()))
                .is_some_and(|t| now >= t);
        if std::mem::take(&mut self.keyframe_request) || retry {
            self.keyframe_requested_at = Some(now);
            return true;
        }
        false
    }

    /// Frames handed out ([`JitterEvent::Frame`] and [`JitterEvent::NeedsKeyframe`]).
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Sequence numbers given up.
    pub fn lost_packets(&self) -> u64 {
        self.lost_packets
    }

    /// Frames completed after their place in the order was given up.
    pub fn late_frames(&self) -> u64 {
        self.late_frames
    }

    /// Complete frames waiting for an earlier one.
    pub fn waiting_frames(&self) -> usize {
        self.ready.len()
    }

    /// The frame assembler (its drop and flush counts).
    pub fn assembler(&self) -> &FrameAssembler<D> {
        &self.assembler
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Packetizer;
    use crate::codec::vp8::{Vp8Depacketizer, Vp8Packetizer};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    struct Pkt {
        seq: SeqNo,
        ts: u32,
        marker: bool,
        payload: Vec<u8>,
    }

    /// `n` frames of 3 packets each at 30 fps; frame data starts 0x00 (VP8 key frame) for
    /// the frames in `keys`, 0x01 (inter frame) otherwise, then the frame number.
    fn stream(n: usize, keys: &[usize], first_seq: u16) -> Vec<Vec<Pkt>> {
        let mut pk = Vp8Packetizer::with_picture_id(0);
        let mut seq = SeqNo(first_seq);
        (0..n)
            .map(|k| {
                let mut data = vec![k as u8; 60];
                data[0] = u8::from(!keys.contains(&k));
                let mut out = vec![];
                pk.packetize(&data, 30, &mut out).unwrap();
                let last = out.len() - 1;
                out.into_iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let s = seq;
                        seq = seq.wrapping_add(1);
                        Pkt {
                            seq: s,
                            ts: 3000 * k as u32,
                            marker: i == last,
                            payload: p.to_vec(),
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn buffer() -> JitterBuffer<Vp8Depacketizer> {
        JitterBuffer::new(Vp8Depacketizer::new(), 90_000, JitterConfig::default())
    }

    #[derive(Debug, PartialEq)]
    enum Seen {
        Frame(u8),
        NeedsKey(u8),
        Lost(u16, u64),
        KeyRequest,
    }

    fn drain(jb: &mut JitterBuffer<Vp8Depacketizer>, now: Instant, seen: &mut Vec<Seen>) {
        while let Some(e) = jb.poll_event(now) {
            seen.push(match e {
                JitterEvent::Frame(f) => Seen::Frame(f.data[1]),
                JitterEvent::NeedsKeyframe(f) => Seen::NeedsKey(f.data[1]),
                JitterEvent::Lost { first_seq, packets } => Seen::Lost(first_seq.0, packets),
            });
            if jb.poll_keyframe_request(now) {
                seen.push(Seen::KeyRequest);
            }
        }
        if jb.poll_keyframe_request(now) {
            seen.push(Seen::KeyRequest);
        }
    }

    /// Runs a schedule of (arrival time, packet) in virtual time, polling at every arrival
    /// and every timeout.
    fn run(
        jb: &mut JitterBuffer<Vp8Depacketizer>,
        t0: Instant,
        mut schedule: Vec<(Duration, &Pkt)>,
        until: Duration,
    ) -> Vec<Seen> {
        schedule.sort_by_key(|(t, _)| *t);
        let mut seen = vec![];
        let mut i = 0;
        loop {
            let next_arrival = schedule.get(i).map(|(t, _)| t0 + *t);
            let next = match (next_arrival, jb.poll_timeout()) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > t0 + until {
                break;
            }
            while let Some((t, p)) = schedule.get(i).filter(|(t, _)| t0 + *t <= next) {
                jb.handle_packet(t0 + *t, p.seq, p.ts, p.marker, &p.payload);
                i += 1;
            }
            drain(jb, next, &mut seen);
        }
        seen
    }

    #[test]
    fn reordering_loss_and_retransmission_in_virtual_time() {
        let t0 = Instant::now();
        // 30 frames, key frames 0 and 15; sequence numbers wrap inside frame 3.
        let frames = stream(30, &[0, 15], 65530);
        let mut jb = buffer();
        jb.set_rtt(ms(100));
        // Delay: 1.5 RTT = 150 ms (jitter is small).
        let mut sched = vec![];
        for (k, f) in frames.iter().enumerate() {
            let base = ms(33 * k as u64);
            for (i, p) in f.iter().enumerate() {
                let mut at = base + ms(i as u64);
                // Frame 4 arrives after frame 5 (whole-frame reordering).
                if k == 4 {
                    at += ms(40);
                }
                // Frame 7: packets reversed.
                if k == 7 {
                    at = base + ms(2 - i as u64);
                }
                // Frame 10: the middle packet is lost for good.
                if k == 10 && i == 1 {
                    continue;
                }
                // Frame 20: the first packet is repaired by a retransmission 110 ms late.
                if k == 20 && i == 0 {
                    at += ms(110);
                }
                sched.push((at, p));
            }
        }
        let seen = run(&mut jb, t0, sched, ms(2000));
        let mut want = vec![];
        for k in 0..30u8 {
            if k == 10 {
                // Its first sequence number: 65530 + 30.
                want.push(Seen::Lost(24, 3));
                want.push(Seen::KeyRequest);
            } else if (11..15).contains(&k) {
                want.push(Seen::NeedsKey(k));
            } else {
                want.push(Seen::Frame(k));
            }
        }
        assert_eq!(seen, want);
        // The key frame came: nothing more to request.
        assert!(!jb.poll_keyframe_request(t0 + ms(5000)));
        assert_eq!(jb.lost_packets(), 3);
        assert_eq!(jb.frames(), 29);
        assert_eq!(jb.waiting_frames(), 0);
    }

    #[test]
    fn gives_up_after_the_delay_not_before() {
        let t0 = Instant::now();
        let frames = stream(3, &[0, 2], 0);
        let mut jb = buffer();
        jb.set_rtt(ms(100));
        assert_eq!(jb.delay(), ms(150));
        // Frame 0, then frame 2; frame 1 never arrives.
        for p in frames[0].iter().chain(&frames[2]) {
            jb.handle_packet(t0, p.seq, p.ts, p.marker, &p.payload);
        }
        let mut seen = vec![];
        drain(&mut jb, t0, &mut seen);
        assert_eq!(seen, [Seen::Frame(0)]);
        assert_eq!(jb.poll_timeout(), Some(t0 + ms(150)));
        drain(&mut jb, t0 + ms(149), &mut seen);
        assert_eq!(seen.len(), 1);
        drain(&mut jb, t0 + ms(150), &mut seen);
        assert_eq!(
            seen,
            [
                Seen::Frame(0),
                Seen::Lost(3, 3),
                Seen::KeyRequest,
                Seen::Frame(2)
            ]
        );
        // Frame 1 turning up now is too late and dropped.
        for p in &frames[1] {
            jb.handle_packet(t0 + ms(200), p.seq, p.ts, p.marker, &p.payload);
        }
        drain(&mut jb, t0 + ms(200), &mut seen);
        assert_eq!(seen.len(), 4);
        assert_eq!(jb.poll_timeout(), None);
    }

    #[test]
    fn a_stream_that_stops_mid_frame_is_judged_by_time() {
        let t0 = Instant::now();
        let frames = stream(2, &[0], 0);
        let mut jb = buffer();
        jb.set_rtt(ms(100));
        // Frame 0 whole, then frame 1 without its last packet, and nothing more.
        for p in frames[0].iter().chain(&frames[1][..2]) {
            jb.handle_packet(t0, p.seq, p.ts, p.marker, &p.payload);
        }
        let mut seen = vec![];
        drain(&mut jb, t0, &mut seen);
        assert_eq!(seen, [Seen::Frame(0)]);
        // No later frame completes, yet the wait runs from the latest arrival: the longest
        // one, as no packet is known missing.
        assert_eq!(jb.poll_timeout(), Some(t0 + ms(500)));
        drain(&mut jb, t0 + ms(499), &mut seen);
        assert_eq!(seen.len(), 1);
        drain(&mut jb, t0 + ms(500), &mut seen);
        // The two packets that arrived are given up (the third was never seen).
        assert_eq!(seen[1..], [Seen::Lost(3, 2), Seen::KeyRequest]);
        assert_eq!(jb.lost_packets(), 2);
        // Nothing waits now but the key frame retry.
        assert_eq!(jb.poll_timeout(), Some(t0 + ms(500 + 500)));
    }

    /// What Chromium does at a low bandwidth estimate: its pacer sends a frame's packets
    /// 50 ms apart, on a link with a 2 ms RTT and no loss. Every frame comes out; none is
    /// given up while its next packet is on its way. (The idle wait was the short delay once:
    /// a frame was given up between its packets, and the stream waited for a key frame.)
    #[test]
    fn a_paced_sender_spreading_a_frame_loses_nothing() {
        let t0 = Instant::now();
        let frames = stream(20, &[0], 0);
        let mut jb = buffer();
        jb.set_rtt(ms(2));
        let mut sched = vec![];
        let mut t = 0;
        for f in &frames {
            for p in f {
                sched.push((ms(t), p));
                t += 50;
            }
        }
        let seen = run(&mut jb, t0, sched, ms(t + 1000));
        let want: Vec<Seen> = (0..20).map(Seen::Frame).collect();
        assert_eq!(seen, want);
        assert_eq!(jb.lost_packets(), 0);
    }

    #[test]
    fn a_hole_is_given_up_after_its_wait_though_no_later_frame_completes() {
        let t0 = Instant::now();
        // Frame 0 (key) whole; frames 1..10 every 33 ms each lose their last packet, so no
        // frame completes for 330 ms, while packets keep arriving (no idle wait). Frame 10
        // is a key frame and whole.
        let frames = stream(11, &[0, 10], 0);
        let mut jb = buffer();
        jb.set_rtt(ms(100));
        let mut sched = vec![];
        for (k, f) in frames.iter().enumerate() {
            for (i, p) in f.iter().enumerate() {
                if (1..10).contains(&k) && i == 2 {
                    continue;
                }
                sched.push((ms(33 * k as u64 + i as u64), p));
            }
        }
        let mut times = vec![];
        let mut seen = vec![];
        // Poll like `run`, noting when each loss is reported.
        sched.sort_by_key(|(t, _)| *t);
        let mut i = 0;
        while let Some(next) = [sched.get(i).map(|(t, _)| t0 + *t), jb.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .filter(|t| *t <= t0 + ms(1000))
        {
            while let Some((t, p)) = sched.get(i).filter(|(t, _)| t0 + *t <= next) {
                jb.handle_packet(t0 + *t, p.seq, p.ts, p.marker, &p.payload);
                i += 1;
            }
            let before = seen.len();
            drain(&mut jb, next, &mut seen);
            if seen[before..].iter().any(|s| matches!(s, Seen::Lost(..))) {
                times.push(next.duration_since(t0));
            }
        }
        // Frame 1's missing packet (seq 5) is known missing when frame 2's first packet
        // arrives at 66 ms; it is given up 150 ms later, with what came before it.
        assert_eq!(seen[0], Seen::Frame(0));
        assert_eq!(seen[1], Seen::Lost(3, 3));
        assert_eq!(times[0], ms(66 + 150));
        // Each later hole in turn, 150 ms after the packet that revealed it, until the key
        // frame completes and what is left before it goes at once; then it decodes.
        assert_eq!(times[..4], [ms(216), ms(249), ms(282), ms(315)]);
        assert_eq!(seen[3], Seen::Lost(6, 3));
        assert_eq!(seen.last(), Some(&Seen::Frame(10)));
        let lost: u64 = seen
            .iter()
            .map(|s| match s {
                Seen::Lost(_, n) => *n,
                _ => 0,
            })
            .sum();
        assert_eq!(lost, 27);
        assert!(times.iter().all(|t| *t <= ms(33 * 10 + 150)), "{times:?}");
    }

    #[test]
    fn a_repair_inside_the_wait_fills_the_hole() {
        let t0 = Instant::now();
        let frames = stream(2, &[0], 0);
        let mut jb = buffer();
        jb.set_rtt(ms(100));
        // Frame 0, then frame 1's first and last packets: its middle is missing.
        for p in frames[0].iter().chain([&frames[1][0], &frames[1][2]]) {
            jb.handle_packet(t0, p.seq, p.ts, p.marker, &p.payload);
        }
        let mut seen = vec![];
        drain(&mut jb, t0, &mut seen);
        assert_eq!(jb.poll_timeout(), Some(t0 + ms(150)));
        // The retransmission comes at 140 ms: frame 1 completes, nothing is lost.
        let p = &frames[1][1];
        jb.handle_packet(t0 + ms(140), p.seq, p.ts, p.marker, &p.payload);
        drain(&mut jb, t0 + ms(140), &mut seen);
        drain(&mut jb, t0 + ms(400), &mut seen);
        assert_eq!(seen, [Seen::Frame(0), Seen::Frame(1)]);
        assert_eq!(jb.poll_timeout(), None);
    }

    #[test]
    fn keyframe_request_repeats_until_a_key_frame() {
        let t0 = Instant::now();
        // Frames 0 (key), 1 lost, then inter frames 2..40 every 33 ms, key frame 40.
        let frames = stream(41, &[0, 40], 100);
        let mut jb = buffer();
        jb.set_rtt(ms(100));
        let mut sched = vec![];
        for (k, f) in frames.iter().enumerate() {
            if k == 1 {
                continue;
            }
            for p in f {
                sched.push((ms(33 * k as u64), p));
            }
        }
        let seen = run(&mut jb, t0, sched, ms(3000));
        let requests: Vec<usize> = seen
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == Seen::KeyRequest)
            .map(|(i, _)| i)
            .collect();
        // Lost at 66 + 150 ms; requests then, and every 500 ms until frame 40 at 1320 ms:
        // at 216, 716, 1216 ms.
        assert_eq!(requests.len(), 3, "{seen:?}");
        assert_eq!(seen[1], Seen::Lost(103, 3));
        assert_eq!(seen[2], Seen::KeyRequest);
        assert_eq!(seen.last(), Some(&Seen::Frame(40)));
        assert_eq!(jb.poll_timeout(), None);
    }

    #[test]
    fn absurd_rtt_and_configuration_do_not_panic() {
        let t0 = Instant::now();
        let cfg = JitterConfig {
            min_delay: ms(900),
            max_delay: ms(100),
            rtt_factor: f64::NAN,
            ..JitterConfig::default()
        };
        let mut jb = JitterBuffer::new(Vp8Depacketizer::new(), 0, cfg);
        jb.set_rtt(Duration::MAX);
        assert_eq!(jb.delay(), ms(100));
        let frames = stream(3, &[], 0);
        for p in frames[0].iter().chain(&frames[2]) {
            jb.handle_packet(t0, p.seq, p.ts, p.marker, &p.payload);
        }
        let mut seen = vec![];
        drain(&mut jb, t0 + ms(100), &mut seen);
        assert_eq!(seen[0], Seen::NeedsKey(0));
        assert!(seen.contains(&Seen::Lost(3, 3)));
        let _ = jb.poll_timeout();
    }

    #[test]
    fn delay_adapts_to_jitter_and_rtt_within_bounds() {
        let t0 = Instant::now();
        let mut jb = buffer();
        assert_eq!(jb.delay(), ms(10));
        // Packets 33 ms apart in timestamp, arriving alternately 0 and 40 ms late: the
        // jitter estimate climbs towards 40 ms, so the delay towards 80 ms.
        for k in 0..200u32 {
            let at = t0 + ms(33 * u64::from(k) + 40 * u64::from(k % 2));
            jb.handle_packet(at, SeqNo(k as u16), 2970 * k, true, &[0x10, 0]);
        }
        let d = jb.delay();
        assert!(d > ms(70) && d <= ms(80), "{d:?}");
        jb.set_rtt(ms(300));
        assert_eq!(jb.delay(), ms(450));
        jb.set_rtt(ms(1000));
        assert_eq!(jb.delay(), ms(500));
    }

    #[test]
    fn memory_bounded_under_a_hostile_stream() {
        let t0 = Instant::now();
        let cfg = JitterConfig {
            max_frames: 8,
            max_delay: ms(100_000),
            min_delay: ms(100_000),
            ..JitterConfig::default()
        };
        let mut jb = JitterBuffer::new(Vp8Depacketizer::new(), 90_000, cfg);
        // Frame starts that never complete the first frame, then many complete one-packet
        // frames after a hole that never fills: the wait is huge, the frame bound decides.
        jb.handle_packet(t0, SeqNo(0), 0, false, &[0x10, 0]);
        let mut seen = vec![];
        for k in 2..200u16 {
            jb.handle_packet(t0, SeqNo(k), u32::from(k), true, &[0x10, 0x00, k as u8]);
            drain(&mut jb, t0, &mut seen);
            assert!(jb.waiting_frames() <= 9);
        }
        assert_eq!(seen[..2], [Seen::Lost(0, 2), Seen::KeyRequest]);
        assert_eq!(seen.len(), 200);
        // Sequence numbers jumping around by 30000 never make it hold more.
        let mut s = SeqNo(200);
        for k in 0..1000u32 {
            s = s.wrapping_add(30_000);
            jb.handle_packet(t0, s, k, true, &[0x10, 0x00, 1]);
            drain(&mut jb, t0, &mut seen);
            assert!(jb.waiting_frames() <= 9);
        }
    }
}
