//! Handshake message reassembly (RFC 6347 §4.2.3): fragments may arrive in any order,
//! overlap, or repeat; a message is released once every byte has arrived, in message_seq
//! order.

use std::collections::BTreeMap;

use crate::error::PeerMisbehaved;
use crate::handshake::{Fragment, HandshakeType};

/// How many messages past the next expected one are buffered.
pub const MAX_AHEAD: u16 = 16;
/// Most disjoint byte ranges kept per message.
const MAX_RANGES: usize = 256;

#[derive(Debug)]
struct Partial {
    msg_type: HandshakeType,
    body: Vec<u8>,
    /// Received byte ranges, sorted and merged.
    have: Vec<(u32, u32)>,
}

impl Partial {
    fn add(&mut self, start: u32, end: u32) {
        self.have.push((start, end));
        self.have.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(self.have.len());
        for &(s, e) in &self.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.have = merged;
    }

    fn complete(&self) -> bool {
        let len = self.body.len() as u32;
        len == 0 || self.have.first() == Some(&(0, len))
    }
}

/// Buffers handshake fragments until whole messages can be released in order.
#[derive(Debug)]
pub struct Reassembler {
    next_seq: u16,
    max_message_len: u32,
    pending: BTreeMap<u16, Partial>,
}

/// What became of a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// Buffered (or already known).
    Buffered,
    /// Belongs to a message already released: the peer is retransmitting.
    Old,
    /// Too far ahead of the window; dropped.
    TooFarAhead,
}

impl Reassembler {
    /// Expects `next_seq` first; refuses messages longer than `max_message_len`.
    pub fn new(next_seq: u16, max_message_len: u32) -> Self {
        Reassembler {
            next_seq,
            max_message_len,
            pending: BTreeMap::new(),
        }
    }

    /// The message_seq released next.
    pub fn next_seq(&self) -> u16 {
        self.next_seq
    }

    /// Forgets everything and expects `next_seq`.
    pub fn reset(&mut self, next_seq: u16) {
        self.next_seq = next_seq;
        self.pending.clear();
    }

    /// Adds a fragment. A fragment that disagrees with earlier ones about type or length
    /// is dropped (it cannot be told apart from garbage).
    pub fn insert(&mut self, f: &Fragment<'_>) -> Result<Insert, PeerMisbehaved> {
        if f.message_seq < self.next_seq {
            return Ok(Insert::Old);
        }
        if f.message_seq - self.next_seq >= MAX_AHEAD {
            return Ok(Insert::TooFarAhead);
        }
        if f.length > self.max_message_len {
            return Err(PeerMisbehaved::MessageTooLarge);
        }
        let p = self
            .pending
            .entry(f.message_seq)
            .or_insert_with(|| Partial {
                msg_type: f.msg_type,
                body: vec![0; f.length as usize],
                have: Vec::new(),
            });
        if p.msg_type != f.msg_type || p.body.len() as u32 != f.length {
            return Ok(Insert::Buffered);
        }
        // Bound the bookkeeping: a peer sending many tiny disjoint fragments gets them
        // dropped; retransmission brings the rest.
        if p.have.len() >= MAX_RANGES || f.body.is_empty() {
            return Ok(Insert::Buffered);
        }
        // Fragment::read checked offset + len <= length.
        let start = f.fragment_offset as usize;
        let end = start + f.body.len();
        p.body[start..end].copy_from_slice(f.body);
        p.add(start as u32, end as u32);
        Ok(Insert::Buffered)
    }

    /// Releases the next message if it is complete.
    pub fn pop(&mut self) -> Option<(u16, HandshakeType, Vec<u8>)> {
        let seq = self.next_seq;
        if !self.pending.get(&seq)?.complete() {
            return None;
        }
        let p = self.pending.remove(&seq)?;
        self.next_seq = seq.wrapping_add(1);
        Some((seq, p.msg_type, p.body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(seq: u16, len: u32, off: u32, body: &[u8]) -> Fragment<'_> {
        Fragment {
            msg_type: HandshakeType::Certificate,
            length: len,
            message_seq: seq,
            fragment_offset: off,
            body,
        }
    }

    #[test]
    fn out_of_order_overlapping_fragments() {
        let mut r = Reassembler::new(1, 1000);
        let msg: Vec<u8> = (0..10).collect();
        assert_eq!(r.insert(&frag(1, 10, 6, &msg[6..])), Ok(Insert::Buffered));
        assert!(r.pop().is_none());
        assert_eq!(r.insert(&frag(1, 10, 2, &msg[2..7])), Ok(Insert::Buffered));
        assert_eq!(r.insert(&frag(1, 10, 6, &msg[6..])), Ok(Insert::Buffered));
        assert!(r.pop().is_none());
        r.insert(&frag(2, 0, 0, &[])).unwrap();
        r.insert(&frag(1, 10, 0, &msg[..3])).unwrap();
        let (seq, _, body) = r.pop().unwrap();
        assert_eq!((seq, body), (1, msg));
        assert_eq!(r.pop().unwrap().0, 2);
        assert_eq!(r.insert(&frag(1, 10, 0, &[0])), Ok(Insert::Old));
        assert_eq!(r.insert(&frag(100, 1, 0, &[0])), Ok(Insert::TooFarAhead));
        assert_eq!(
            r.insert(&frag(3, 5000, 0, &[0])),
            Err(PeerMisbehaved::MessageTooLarge)
        );
    }
}
