//! Collecting the packets of a stream into whole frames.

use std::collections::VecDeque;

use bytes::Bytes;

use super::{Depacketizer, FrameInfo};
use crate::rtp::RtpPacket;
use crate::types::SeqNo;

/// A frame rebuilt from its packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// RTP timestamp shared by its packets.
    pub timestamp: u32,
    /// Sequence number of its first packet.
    pub first_seq: SeqNo,
    /// Sequence number of its last packet.
    pub last_seq: SeqNo,
    /// What the depacketizer learned (key frame, picture id).
    pub info: FrameInfo,
    /// The frame.
    pub data: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Empty,
    Pending,
    Done,
}

#[derive(Debug, Clone)]
struct Slot {
    seq: SeqNo,
    timestamp: u32,
    marker: bool,
    hint: Option<bool>,
    state: State,
    /// Kept across uses so that a warm assembler does not allocate per packet.
    payload: Vec<u8>,
}

/// Collects RTP packets of one stream, in any order, and hands out each frame once all of
/// its packets are there.
///
/// A frame is the packets from a frame start to the packet with the marker bit (or the last
/// before a new timestamp), with consecutive sequence numbers and one timestamp. Its start is
/// known when the packet before it belongs to another frame, or when the payload format says
/// so ([`Depacketizer::frame_start`]). A frame with a packet missing is never handed out: it
/// waits until its slots are reused by newer packets, then it is gone. A frame the
/// depacketizer refuses is counted in [`dropped_frames`](Self::dropped_frames).
///
/// Memory is bounded: at most `capacity` packets are held, and the payload bytes waiting in
/// incomplete frames are kept under a budget ([`with_byte_budget`](Self::with_byte_budget),
/// 8 MiB by default). A packet that would exceed it first discards every incomplete frame
/// (counted in [`flushes`](Self::flushes)), so a peer sending packets that never complete a
/// frame costs loss, not memory.
///
/// Sans-IO: call [`push`](Self::push) for each packet, then drain
/// [`poll_frame`](Self::poll_frame).
#[derive(Debug)]
pub struct FrameAssembler<D> {
    depacketizer: D,
    slots: Vec<Slot>,
    mask: usize,
    ready: VecDeque<Frame>,
    dropped: u64,
    scratch: Vec<u8>,
    pending_bytes: usize,
    byte_budget: usize,
    flushes: u64,
}

/// Default budget for payload bytes held in incomplete frames.
pub const DEFAULT_BYTE_BUDGET: usize = 8 << 20;

impl<D: Depacketizer> FrameAssembler<D> {
    /// An assembler holding up to `capacity` packets (rounded up to a power of two, at least
    /// 16, at most 32768): the longest frame it can rebuild and the reordering it can absorb.
    pub fn new(depacketizer: D, capacity: usize) -> Self {
        let cap = capacity.clamp(16, 32768).next_power_of_two();
        FrameAssembler {
            depacketizer,
            slots: vec![
                Slot {
                    seq: SeqNo(0),
                    timestamp: 0,
                    marker: false,
                    hint: None,
                    state: State::Empty,
                    payload: Vec::new(),
                };
                cap
            ],
            mask: cap - 1,
            ready: VecDeque::new(),
            dropped: 0,
            scratch: Vec::new(),
            pending_bytes: 0,
            byte_budget: DEFAULT_BYTE_BUDGET,
            flushes: 0,
        }
    }

    /// Sets the budget for payload bytes held in incomplete frames.
    #[must_use]
    pub fn with_byte_budget(mut self, bytes: usize) -> Self {
        self.byte_budget = bytes;
        self
    }

    /// How many times the byte budget forced every incomplete frame to be discarded.
    pub fn flushes(&self) -> u64 {
        self.flushes
    }

    /// Payload bytes currently held in incomplete frames.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    fn flush_pending(&mut self) {
        for slot in &mut self.slots {
            if slot.state == State::Pending {
                slot.state = State::Empty;
                // Give the memory back: the budget was hit.
                slot.payload = Vec::new();
            }
        }
        self.pending_bytes = 0;
        self.flushes += 1;
    }

    /// The depacketizer.
    pub fn depacketizer(&self) -> &D {
        &self.depacketizer
    }

    /// Frames whose packets were all there but that the depacketizer refused.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped
    }

    /// Takes a packet of the stream.
    pub fn push_packet<T: AsRef<[u8]>>(&mut self, packet: &RtpPacket<T>) {
        self.push(
            packet.sequence_number(),
            packet.timestamp(),
            packet.marker(),
            packet.payload(),
        );
    }

    /// Takes a packet given by its fields.
    pub fn push(&mut self, seq: SeqNo, timestamp: u32, marker: bool, payload: &[u8]) {
        let hint = self.depacketizer.frame_start(payload);
        let idx = usize::from(seq.0) & self.mask;
        let slot = &self.slots[idx];
        if slot.state != State::Empty && (slot.seq == seq || slot.seq.is_after(seq)) {
            // A duplicate, or older than what the slot now holds.
            return;
        }
        if slot.state == State::Pending {
            // An incomplete frame's packet is overwritten: that frame is lost.
            self.pending_bytes = self.pending_bytes.saturating_sub(slot.payload.len());
        }
        if self.pending_bytes + payload.len() > self.byte_budget {
            self.flush_pending();
            if payload.len() > self.byte_budget {
                return;
            }
        }
        self.pending_bytes += payload.len();
        let slot = &mut self.slots[idx];
        slot.seq = seq;
        slot.timestamp = timestamp;
        slot.marker = marker;
        slot.hint = hint;
        slot.state = State::Pending;
        slot.payload.clear();
        slot.payload.extend_from_slice(payload);
        for s in [seq.wrapping_add(0xffff), seq, seq.wrapping_add(1)] {
            self.try_complete(s);
        }
    }

    /// The next complete frame, in completion order.
    pub fn poll_frame(&mut self) -> Option<Frame> {
        self.ready.pop_front()
    }

    fn get(&self, seq: SeqNo) -> Option<&Slot> {
        let s = &self.slots[usize::from(seq.0) & self.mask];
        (s.state != State::Empty && s.seq == seq).then_some(s)
    }

    fn pending(&self, seq: SeqNo, ts: u32) -> bool {
        self.get(seq)
            .is_some_and(|s| s.state == State::Pending && s.timestamp == ts)
    }

    /// Whether the packet at `seq` starts its frame, if that can be known yet.
    fn is_start(&self, seq: SeqNo) -> Option<bool> {
        let slot = self.get(seq)?;
        match self.get(seq.wrapping_add(0xffff)) {
            Some(prev) => Some(prev.timestamp != slot.timestamp || prev.marker),
            None => slot.hint,
        }
    }

    /// Whether the packet at `seq` is held and known to start its frame (for the jitter
    /// buffer, to give up a gap up to a frame boundary).
    pub(crate) fn starts_frame(&self, seq: SeqNo) -> bool {
        self.is_start(seq) == Some(true)
    }

    fn try_complete(&mut self, seq: SeqNo) {
        let Some(slot) = self.get(seq) else { return };
        if slot.state != State::Pending {
            return;
        }
        let ts = slot.timestamp;
        let limit = self.slots.len();
        // Back to the start.
        let mut start = seq;
        let mut steps = 0;
        loop {
            match self.is_start(start) {
                Some(true) => break,
                Some(false) => {
                    let prev = start.wrapping_add(0xffff);
                    if !self.pending(prev, ts) {
                        return;
                    }
                    start = prev;
                }
                None => return,
            }
            steps += 1;
            if steps >= limit {
                return;
            }
        }
        // Forward to the end.
        let mut end = seq;
        loop {
            // `end` is pending with timestamp `ts`.
            if self.depacketizer.whole_packets() || self.get(end).is_some_and(|s| s.marker) {
                break;
            }
            let next = end.wrapping_add(1);
            match self.get(next) {
                Some(n) if n.timestamp != ts => break,
                Some(n) if n.state == State::Pending => end = next,
                _ => return,
            }
            steps += 1;
            if steps >= limit {
                return;
            }
        }
        self.emit(start, end, ts);
    }

    fn emit(&mut self, start: SeqNo, end: SeqNo, ts: u32) {
        let n = usize::from(start.distance_to(end)) + 1;
        let mask = self.mask;
        let result = {
            let refs: Vec<&[u8]> = (0..n)
                .map(|i| {
                    let idx = usize::from(start.wrapping_add(i as u16).0) & mask;
                    &self.slots[idx].payload[..]
                })
                .collect();
            self.depacketizer.depacketize(&refs, &mut self.scratch)
        };
        for i in 0..n {
            let idx = usize::from(start.wrapping_add(i as u16).0) & mask;
            self.slots[idx].state = State::Done;
            // Every slot of the frame was pending, so its bytes were counted.
            self.pending_bytes = self
                .pending_bytes
                .saturating_sub(self.slots[idx].payload.len());
        }
        match result {
            Ok(info) => self.ready.push_back(Frame {
                timestamp: ts,
                first_seq: start,
                last_seq: end,
                info,
                data: Bytes::copy_from_slice(&self.scratch),
            }),
            Err(_) => self.dropped += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Packetizer;
    use crate::codec::vp8::{Vp8Depacketizer, Vp8Packetizer};

    #[test]
    fn reordered_and_duplicated_packets() {
        let mut pk = Vp8Packetizer::with_picture_id(0);
        let frames: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i * 2 + 1; 2500]).collect();
        let mut packets = vec![];
        let mut seq = SeqNo(65530);
        for (k, f) in frames.iter().enumerate() {
            let mut out = vec![];
            pk.packetize(f, 1000, &mut out).unwrap();
            let last = out.len() - 1;
            for (i, p) in out.into_iter().enumerate() {
                packets.push((seq, 3000 * k as u32, i == last, p));
                seq = seq.wrapping_add(1);
            }
        }
        let mut a = FrameAssembler::new(Vp8Depacketizer::new(), 64);
        // Reverse order, each packet twice.
        for (s, ts, m, p) in packets.iter().rev() {
            a.push(*s, *ts, *m, p);
            a.push(*s, *ts, *m, p);
        }
        let mut got = vec![];
        while let Some(f) = a.poll_frame() {
            got.push(f);
        }
        got.sort_by_key(|f| f.timestamp);
        assert_eq!(got.len(), 3);
        for (f, want) in got.iter().zip(&frames) {
            assert_eq!(&f.data[..], &want[..]);
        }
        assert_eq!(got[0].first_seq, SeqNo(65530));
        assert_eq!(a.dropped_frames(), 0);
    }

    #[test]
    fn byte_budget_bounds_incomplete_frames() {
        // Packets that never complete a frame (no start) fill the budget, then get flushed.
        let mut a = FrameAssembler::new(Vp8Depacketizer::new(), 64).with_byte_budget(10_000);
        // X=0, S=0: not a frame start, so these never complete.
        let mut cont = vec![7u8; 1000];
        cont[0] = 0x00;
        for i in 0..25u16 {
            a.push(SeqNo(i * 2), u32::from(i), false, &cont);
            assert!(a.pending_bytes() <= 10_000);
        }
        assert!(a.flushes() >= 2);
        // The assembler still works afterwards.
        let mut pk = Vp8Packetizer::new();
        let mut out = vec![];
        pk.packetize(&[1u8; 1500], 1000, &mut out).unwrap();
        for (i, p) in out.iter().enumerate() {
            a.push(SeqNo(100 + i as u16), 9000, i + 1 == out.len(), p);
        }
        let f = a.poll_frame().unwrap();
        assert_eq!(&f.data[..], &[1u8; 1500][..]);
        // Only the stale never-complete packets remain held.
        assert_eq!(a.pending_bytes() % 1000, 0);
        assert!(a.pending_bytes() <= 10_000);
        // A payload larger than the whole budget is refused outright.
        a.push(SeqNo(200), 1, true, &[0x10; 20_000]);
        assert!(a.poll_frame().is_none());
    }

    #[test]
    fn lost_packet_loses_only_its_frame() {
        let mut pk = Vp8Packetizer::with_picture_id(0);
        let mut a = FrameAssembler::new(Vp8Depacketizer::new(), 64);
        let mut seq = SeqNo(0);
        for k in 0..3u32 {
            let mut out = vec![];
            pk.packetize(&[k as u8 + 1; 2500], 1000, &mut out).unwrap();
            let last = out.len() - 1;
            for (i, p) in out.iter().enumerate() {
                // Drop the middle packet of frame 1.
                if !(k == 1 && i == 1) {
                    a.push(seq, k * 90, i == last, p);
                }
                seq = seq.wrapping_add(1);
            }
        }
        let got: Vec<_> = std::iter::from_fn(|| a.poll_frame()).collect();
        assert_eq!(
            got.iter().map(|f| f.timestamp).collect::<Vec<_>>(),
            vec![0, 180]
        );
    }

    /// An audio packet is a whole frame: it comes out at once, without a marker bit and
    /// before the next packet shows where it ended (the last packet of a call used to stay
    /// inside for good, and every frame waited one packet interval).
    #[test]
    fn an_audio_packet_is_a_frame_at_once() {
        use crate::codec::audio::{AudioDepacketizer, AudioFormat};
        let mut a = FrameAssembler::new(AudioDepacketizer::new(AudioFormat::Pcmu), 64);
        for n in 0..3u16 {
            a.push(SeqNo(n), u32::from(n) * 160, false, &[n as u8; 160]);
            let f = a.poll_frame().expect("the packet's frame, at once");
            assert_eq!(f.timestamp, u32::from(n) * 160);
            assert_eq!(f.data, vec![n as u8; 160]);
            assert!(a.poll_frame().is_none());
        }
    }
}
