//! Transport-wide congestion control feedback
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01 section 3.1).
//!
//! ```text
//! |V=2|P|  FMT=15 |    PT=205     |           length              |
//! |                     SSRC of packet sender                     |
//! |                      SSRC of media source                     |
//! |      base sequence number     |      packet status count      |
//! |                 reference time                | fb pkt. count |
//! |          packet chunk         |         packet chunk          |
//! .                              ...                              .
//! |         recv delta            |  recv delta   | zero padding  |
//! ```

use super::{bad, be16, be32, fmt, packet_type, write_header};
use crate::error::{BuildError, ParseError};
use crate::types::{SeqNo, Ssrc};

/// What the feedback says about one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketStatus {
    /// Not received.
    NotReceived,
    /// Received; delta from the previous one in 250 µs units, 0..=255 (one byte).
    ReceivedSmall(u8),
    /// Received; signed delta in 250 µs units (two bytes).
    ReceivedLarge(i16),
}

impl PacketStatus {
    /// The 2-bit status symbol (draft section 3.1.1).
    fn symbol(self) -> u8 {
        match self {
            PacketStatus::NotReceived => 0,
            PacketStatus::ReceivedSmall(_) => 1,
            PacketStatus::ReceivedLarge(_) => 2,
        }
    }

    /// The receive delta in 250 µs units, if received.
    pub fn delta(self) -> Option<i32> {
        match self {
            PacketStatus::NotReceived => None,
            PacketStatus::ReceivedSmall(d) => Some(i32::from(d)),
            PacketStatus::ReceivedLarge(d) => Some(i32::from(d)),
        }
    }

    fn delta_len(self) -> usize {
        usize::from(self.symbol())
    }
}

/// The per-packet part of a feedback message: wire chunks and deltas as received, or a
/// caller's list of statuses to encode.
#[derive(Debug, Clone, Copy)]
pub enum TwccPackets<'a> {
    /// As received: the packet chunks and the receive deltas, validated on parse.
    Wire {
        /// Packet status chunks.
        chunks: &'a [u8],
        /// Receive deltas.
        deltas: &'a [u8],
        /// Number of statuses the chunks describe.
        count: u16,
    },
    /// One status per packet from the base sequence number on (at most 65535).
    Statuses(&'a [PacketStatus]),
}

impl PartialEq for TwccPackets<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}
impl Eq for TwccPackets<'_> {}

impl<'a> TwccPackets<'a> {
    /// The statuses, in sequence-number order.
    pub fn iter(&self) -> TwccIter<'a> {
        match *self {
            TwccPackets::Wire {
                chunks,
                deltas,
                count,
            } => TwccIter::Wire(WireDecoder::new(chunks, deltas, count)),
            TwccPackets::Statuses(s) => TwccIter::Items(s.iter()),
        }
    }

    /// Number of statuses.
    pub fn count(&self) -> usize {
        match self {
            TwccPackets::Wire { count, .. } => usize::from(*count),
            TwccPackets::Statuses(s) => s.len(),
        }
    }
}

/// Decodes wire chunks and deltas.
#[derive(Debug, Clone)]
pub struct WireDecoder<'a> {
    chunks: &'a [u8],
    deltas: &'a [u8],
    remaining: u16,
    /// Current chunk value and how many symbols of it were used.
    chunk: u16,
    used: u16,
    /// Whether `chunk` holds a loaded chunk.
    loaded: bool,
}

impl<'a> WireDecoder<'a> {
    fn new(chunks: &'a [u8], deltas: &'a [u8], count: u16) -> Self {
        WireDecoder {
            chunks,
            deltas,
            remaining: count,
            chunk: 0,
            used: 0,
            loaded: false,
        }
    }

    /// Symbols in the current chunk.
    fn capacity(chunk: u16) -> u16 {
        if chunk & 0x8000 == 0 {
            chunk & 0x1fff // run length chunk
        } else if chunk & 0x4000 == 0 {
            14 // 1-bit status vector
        } else {
            7 // 2-bit status vector
        }
    }

    fn symbol(chunk: u16, i: u16) -> u8 {
        if chunk & 0x8000 == 0 {
            ((chunk >> 13) & 3) as u8
        } else if chunk & 0x4000 == 0 {
            ((chunk >> (13 - i)) & 1) as u8
        } else {
            ((chunk >> (12 - 2 * i)) & 3) as u8
        }
    }

    /// Next symbol, or `None` when chunks ran out.
    fn next_symbol(&mut self) -> Option<u8> {
        while !self.loaded || self.used >= Self::capacity(self.chunk) {
            let c = self.chunks.get(..2)?;
            self.chunk = u16::from_be_bytes([c[0], c[1]]);
            self.chunks = &self.chunks[2..];
            self.used = 0;
            self.loaded = true;
        }
        let s = Self::symbol(self.chunk, self.used);
        self.used += 1;
        Some(s)
    }

    fn step(&mut self) -> Result<Option<PacketStatus>, &'static str> {
        if self.remaining == 0 {
            return Ok(None);
        }
        self.remaining -= 1;
        let s = self.next_symbol().ok_or("TWCC chunks")?;
        let st = match s {
            0 => PacketStatus::NotReceived,
            1 => {
                let (&d, rest) = self.deltas.split_first().ok_or("TWCC deltas")?;
                self.deltas = rest;
                PacketStatus::ReceivedSmall(d)
            }
            2 => {
                let d = self.deltas.get(..2).ok_or("TWCC deltas")?;
                let v = i16::from_be_bytes([d[0], d[1]]);
                self.deltas = &self.deltas[2..];
                PacketStatus::ReceivedLarge(v)
            }
            _ => return Err("TWCC reserved status symbol"),
        };
        Ok(Some(st))
    }
}

/// Iterator over the statuses of a [`TwccPackets`].
#[derive(Debug, Clone)]
pub enum TwccIter<'a> {
    /// Decoding the wire form.
    Wire(WireDecoder<'a>),
    /// Copying a caller's list.
    Items(core::slice::Iter<'a, PacketStatus>),
}

impl Iterator for TwccIter<'_> {
    type Item = PacketStatus;
    fn next(&mut self) -> Option<PacketStatus> {
        match self {
            // Validated on parse; a decoding failure just ends iteration.
            TwccIter::Wire(d) => d.step().ok().flatten(),
            TwccIter::Items(it) => it.next().copied(),
        }
    }
}

/// Transport-wide congestion control feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportFeedback<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: Ssrc,
    /// SSRC of the media source (webrtc sends the first media SSRC or 0).
    pub media_ssrc: Ssrc,
    /// Transport-wide sequence number of the first packet described.
    pub base_seq: SeqNo,
    /// Reference time, 24 bits, in multiples of 64 ms.
    pub reference_time: u32,
    /// Feedback packet counter, wrapping.
    pub fb_pkt_count: u8,
    /// Per-packet statuses.
    pub packets: TwccPackets<'a>,
}

/// Encodes statuses into chunks; calls `f` for each chunk. A run of one symbol becomes a
/// run-length chunk; otherwise a 1-bit vector when the next 14 fit in one bit, else a 2-bit
/// vector of 7.
fn encode_chunks(s: &[PacketStatus], mut f: impl FnMut(u16)) {
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let sym = rest[0].symbol();
        let run = rest
            .iter()
            .take(0x1fff)
            .take_while(|p| p.symbol() == sym)
            .count();
        if run >= 14 || run == rest.len() {
            // run <= 0x1fff.
            f((u16::from(sym) << 13) | run as u16);
            i += run;
        } else if rest.iter().take(14).all(|p| p.symbol() <= 1) {
            let mut c = 0x8000u16;
            for (k, p) in rest.iter().take(14).enumerate() {
                c |= u16::from(p.symbol()) << (13 - k);
            }
            f(c);
            i += rest.len().min(14);
        } else {
            let mut c = 0xc000u16;
            for (k, p) in rest.iter().take(7).enumerate() {
                c |= u16::from(p.symbol()) << (12 - 2 * k);
            }
            f(c);
            i += rest.len().min(7);
        }
    }
}

impl<'a> TransportFeedback<'a> {
    pub(crate) fn parse(b: &'a [u8]) -> Result<Self, ParseError> {
        if b.len() < 16 {
            return Err(bad("TWCC"));
        }
        let count = be16(b, 10);
        let after = &b[16..];
        // Find where chunks end: decode symbols from chunks alone.
        let mut n_chunks = 0usize;
        let mut symbols = 0u32;
        while symbols < u32::from(count) {
            let c = after
                .get(2 * n_chunks..2 * n_chunks + 2)
                .ok_or(bad("TWCC chunks"))?;
            let c = u16::from_be_bytes([c[0], c[1]]);
            symbols += u32::from(WireDecoder::capacity(c));
            n_chunks += 1;
        }
        let (chunks, deltas) = after.split_at(2 * n_chunks);
        // Walk once to validate symbols and find the delta bytes used.
        let mut d = WireDecoder::new(chunks, deltas, count);
        while d.step().map_err(bad)?.is_some() {}
        let used = deltas.len() - d.deltas.len();
        let (deltas, pad) = deltas.split_at(used);
        // Zero padding to a 32-bit boundary (draft section 3.1) is tolerated.
        if pad.len() > 3 || pad.iter().any(|&x| x != 0) {
            return Err(bad("TWCC trailing bytes"));
        }
        Ok(TransportFeedback {
            sender_ssrc: Ssrc(be32(b, 0)),
            media_ssrc: Ssrc(be32(b, 4)),
            base_seq: SeqNo(be16(b, 8)),
            reference_time: be32(b, 12) >> 8,
            fb_pkt_count: b[15],
            packets: TwccPackets::Wire {
                chunks,
                deltas,
                count,
            },
        })
    }

    /// Each described packet's transport-wide sequence number and status.
    pub fn statuses(&self) -> impl Iterator<Item = (SeqNo, PacketStatus)> + 'a {
        let base = self.base_seq;
        self.packets
            .iter()
            .enumerate()
            .map(move |(i, s)| (base.wrapping_add(i as u16), s))
    }

    fn parts_len(&self) -> (usize, usize) {
        match self.packets {
            TwccPackets::Wire { chunks, deltas, .. } => (chunks.len(), deltas.len()),
            TwccPackets::Statuses(s) => {
                let mut n = 0;
                encode_chunks(s, |_| n += 2);
                (n, s.iter().map(|p| p.delta_len()).sum())
            }
        }
    }

    /// Bytes [`emit`](Self::emit) writes (padding included).
    pub fn buffer_len(&self) -> usize {
        let (c, d) = self.parts_len();
        (4 + 16 + c + d).div_ceil(4) * 4
    }

    /// Writes the packet; returns its length. Padding to a 32-bit boundary uses the P bit
    /// with the count in the last byte, as libwebrtc does.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BuildError> {
        let count = self.packets.count();
        if count > usize::from(u16::MAX) || self.reference_time > 0xff_ffff {
            return Err(BuildError::FieldOverflow { what: "TWCC" });
        }
        let (c, d) = self.parts_len();
        let unpadded = 4 + 16 + c + d;
        let len = unpadded.div_ceil(4) * 4;
        let pad = len - unpadded;
        write_header(buf, pad != 0, fmt::TWCC, packet_type::RTPFB, len)?;
        buf[4..8].copy_from_slice(&self.sender_ssrc.0.to_be_bytes());
        buf[8..12].copy_from_slice(&self.media_ssrc.0.to_be_bytes());
        buf[12..14].copy_from_slice(&self.base_seq.0.to_be_bytes());
        buf[14..16].copy_from_slice(&(count as u16).to_be_bytes());
        let rt = (self.reference_time << 8) | u32::from(self.fb_pkt_count);
        buf[16..20].copy_from_slice(&rt.to_be_bytes());
        let mut at = 20;
        match self.packets {
            TwccPackets::Wire { chunks, deltas, .. } => {
                buf[at..at + c].copy_from_slice(chunks);
                at += c;
                buf[at..at + d].copy_from_slice(deltas);
                at += d;
            }
            TwccPackets::Statuses(s) => {
                encode_chunks(s, |ch| {
                    buf[at..at + 2].copy_from_slice(&ch.to_be_bytes());
                    at += 2;
                });
                for p in s {
                    match *p {
                        PacketStatus::NotReceived => {}
                        PacketStatus::ReceivedSmall(v) => {
                            buf[at] = v;
                            at += 1;
                        }
                        PacketStatus::ReceivedLarge(v) => {
                            buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
                            at += 2;
                        }
                    }
                }
            }
        }
        if pad != 0 {
            buf[at..len - 1].fill(0);
            // pad is 1..=3.
            buf[len - 1] = pad as u8;
        }
        Ok(len)
    }
}
