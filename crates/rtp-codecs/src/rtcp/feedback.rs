//! Feedback messages: generic NACK, PLI (RFC 4585), FIR (RFC 5104) and REMB
//! (draft-alvestrand-rmcat-remb-03).

use super::{List, WireItem, bad, be16, be32, fmt, packet_type, write_header};
use crate::error::{BuildError, ParseError};
use crate::types::{SeqNo, Ssrc};

fn write_fb_header(
    buf: &mut [u8],
    fmt: u8,
    pt: u8,
    len: usize,
    sender: Ssrc,
    media: Ssrc,
) -> Result<(), BuildError> {
    write_header(buf, false, fmt, pt, len)?;
    buf[4..8].copy_from_slice(&sender.0.to_be_bytes());
    buf[8..12].copy_from_slice(&media.0.to_be_bytes());
    Ok(())
}

fn ssrcs(b: &[u8], what: &'static str) -> Result<(Ssrc, Ssrc), ParseError> {
    if b.len() < 8 {
        return Err(bad(what));
    }
    Ok((Ssrc(be32(b, 0)), Ssrc(be32(b, 4))))
}

/// One generic NACK FCI entry (RFC 4585 section 6.2.1): a lost packet id and a bitmask of
/// the 16 following ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NackPair {
    /// Packet id of a lost packet.
    pub pid: SeqNo,
    /// Bit i set: packet `pid + i + 1` is lost too.
    pub blp: u16,
}

impl NackPair {
    /// The lost sequence numbers this entry names.
    pub fn lost(&self) -> impl Iterator<Item = SeqNo> + '_ {
        let (pid, blp) = (self.pid, self.blp);
        core::iter::once(pid).chain(
            (0..16u16)
                .filter(move |i| blp & (1 << i) != 0)
                .map(move |i| pid.wrapping_add(i + 1)),
        )
    }

    /// Packs sorted lost sequence numbers (ascending in serial order, no duplicates) into
    /// entries, appending to `out`.
    pub fn pack(lost: impl IntoIterator<Item = SeqNo>, out: &mut Vec<NackPair>) {
        let mut cur: Option<NackPair> = None;
        for s in lost {
            match &mut cur {
                Some(p) if (1..=16).contains(&p.pid.distance_to(s)) => {
                    p.blp |= 1 << (p.pid.distance_to(s) - 1);
                }
                _ => {
                    if let Some(p) = cur.take() {
                        out.push(p);
                    }
                    cur = Some(NackPair { pid: s, blp: 0 });
                }
            }
        }
        out.extend(cur);
    }
}

impl<'a> WireItem<'a> for NackPair {
    fn read(b: &'a [u8]) -> Option<(Self, usize)> {
        let b = b.get(..4)?;
        Some((
            NackPair {
                pid: SeqNo(be16(b, 0)),
                blp: be16(b, 2),
            },
            4,
        ))
    }
    fn wire_len(&self) -> usize {
        4
    }
    fn write(&self, o: &mut [u8]) {
        o[0..2].copy_from_slice(&self.pid.0.to_be_bytes());
        o[2..4].copy_from_slice(&self.blp.to_be_bytes());
    }
}

/// Generic NACK (RFC 4585 section 6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nack<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: Ssrc,
    /// SSRC of the media source the losses are on.
    pub media_ssrc: Ssrc,
    /// Lost packets, at least one entry.
    pub pairs: List<'a, NackPair>,
}

impl<'a> Nack<'a> {
    pub(crate) fn parse(b: &'a [u8]) -> Result<Self, ParseError> {
        let (sender_ssrc, media_ssrc) = ssrcs(b, "NACK")?;
        let (pairs, n) = List::validate(&b[8..], None).ok_or(bad("NACK FCI"))?;
        if n == 0 || pairs.wire_len() != b.len() - 8 {
            return Err(bad("NACK FCI"));
        }
        Ok(Nack {
            sender_ssrc,
            media_ssrc,
            pairs,
        })
    }

    /// Every lost sequence number named, in entry order.
    pub fn lost(&self) -> impl Iterator<Item = SeqNo> + 'a {
        self.pairs.iter().flat_map(|p| {
            let v: [Option<SeqNo>; 17] = core::array::from_fn(|i| {
                if i == 0 {
                    Some(p.pid)
                } else if p.blp & (1 << (i - 1)) != 0 {
                    Some(p.pid.wrapping_add(i as u16))
                } else {
                    None
                }
            });
            v.into_iter().flatten()
        })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        12 + self.pairs.wire_len()
    }

    /// Writes the packet; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BuildError> {
        let len = self.buffer_len();
        write_fb_header(
            buf,
            fmt::NACK,
            packet_type::RTPFB,
            len,
            self.sender_ssrc,
            self.media_ssrc,
        )?;
        self.pairs.write(&mut buf[12..len]);
        Ok(len)
    }
}

/// Picture loss indication (RFC 4585 section 6.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pli {
    /// SSRC of the packet sender.
    pub sender_ssrc: Ssrc,
    /// SSRC of the media source that should send a keyframe.
    pub media_ssrc: Ssrc,
}

impl Pli {
    pub(crate) fn parse(b: &[u8]) -> Result<Self, ParseError> {
        let (sender_ssrc, media_ssrc) = ssrcs(b, "PLI")?;
        if b.len() != 8 {
            return Err(bad("PLI length"));
        }
        Ok(Pli {
            sender_ssrc,
            media_ssrc,
        })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        12
    }

    /// Writes the packet; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BuildError> {
        write_fb_header(
            buf,
            fmt::PLI,
            packet_type::PSFB,
            12,
            self.sender_ssrc,
            self.media_ssrc,
        )?;
        Ok(12)
    }
}

/// One FIR entry (RFC 5104 section 4.3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirEntry {
    /// The media sender asked for a decoder refresh.
    pub ssrc: Ssrc,
    /// Command sequence number.
    pub seq: u8,
}

impl<'a> WireItem<'a> for FirEntry {
    fn read(b: &'a [u8]) -> Option<(Self, usize)> {
        let b = b.get(..8)?;
        // The 24 reserved bits are ignored on receipt (RFC 5104 section 4.3.1.1).
        Some((
            FirEntry {
                ssrc: Ssrc(be32(b, 0)),
                seq: b[4],
            },
            8,
        ))
    }
    fn wire_len(&self) -> usize {
        8
    }
    fn write(&self, o: &mut [u8]) {
        o[0..4].copy_from_slice(&self.ssrc.0.to_be_bytes());
        o[4] = self.seq;
        o[5..8].fill(0);
    }
}

/// Full intra request (RFC 5104 section 4.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fir<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: Ssrc,
    /// Media source field (RFC 5104 says 0; kept as received).
    pub media_ssrc: Ssrc,
    /// Requests, at least one.
    pub entries: List<'a, FirEntry>,
}

impl<'a> Fir<'a> {
    pub(crate) fn parse(b: &'a [u8]) -> Result<Self, ParseError> {
        let (sender_ssrc, media_ssrc) = ssrcs(b, "FIR")?;
        let (entries, n) = List::validate(&b[8..], None).ok_or(bad("FIR FCI"))?;
        if n == 0 || entries.wire_len() != b.len() - 8 {
            return Err(bad("FIR FCI"));
        }
        Ok(Fir {
            sender_ssrc,
            media_ssrc,
            entries,
        })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        12 + self.entries.wire_len()
    }

    /// Writes the packet; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BuildError> {
        let len = self.buffer_len();
        write_fb_header(
            buf,
            fmt::FIR,
            packet_type::PSFB,
            len,
            self.sender_ssrc,
            self.media_ssrc,
        )?;
        self.entries.write(&mut buf[12..len]);
        Ok(len)
    }
}

/// Receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb-03 section 2.2), an
/// application-layer feedback message whose FCI starts with "REMB".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remb<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: Ssrc,
    /// Media source field (0 per the draft; kept as received).
    pub media_ssrc: Ssrc,
    /// Bitrate exponent, 6 bits.
    pub exponent: u8,
    /// Bitrate mantissa, 18 bits: the bitrate is `mantissa << exponent` bit/s.
    pub mantissa: u32,
    /// The SSRCs the estimate applies to (at most 255).
    pub ssrcs: List<'a, Ssrc>,
}

const REMB_ID: [u8; 4] = *b"REMB";

impl<'a> Remb<'a> {
    pub(crate) fn is_remb(b: &[u8]) -> bool {
        b.get(8..12) == Some(&REMB_ID[..])
    }

    pub(crate) fn parse(b: &'a [u8]) -> Result<Self, ParseError> {
        let (sender_ssrc, media_ssrc) = ssrcs(b, "REMB")?;
        if b.len() < 16 || b[8..12] != REMB_ID {
            return Err(bad("REMB"));
        }
        let n = usize::from(b[12]);
        let v = be32(b, 12);
        if b.len() != 16 + 4 * n {
            return Err(bad("REMB SSRC count"));
        }
        let (ssrcs, _) = List::validate(&b[16..], Some(n)).ok_or(bad("REMB SSRC list"))?;
        Ok(Remb {
            sender_ssrc,
            media_ssrc,
            exponent: ((v >> 18) & 0x3f) as u8,
            mantissa: v & 0x3_ffff,
            ssrcs,
        })
    }

    /// A REMB for `bitrate` bit/s (rounded down to what 18 bits of mantissa hold).
    pub fn new(sender_ssrc: Ssrc, bitrate: u64, ssrcs: &'a [Ssrc]) -> Self {
        let mut exponent = 0u8;
        let mut m = bitrate;
        while m > 0x3_ffff {
            m >>= 1;
            exponent += 1;
        }
        Remb {
            sender_ssrc,
            media_ssrc: Ssrc(0),
            exponent,
            // m <= 0x3ffff after the loop.
            mantissa: m as u32,
            ssrcs: List::Items(ssrcs),
        }
    }

    /// The estimate in bit/s (saturating).
    pub fn bitrate(&self) -> u64 {
        u64::from(self.mantissa & 0x3_ffff)
            .checked_shl(u32::from(self.exponent & 0x3f))
            .filter(|v| v >> u32::from(self.exponent & 0x3f) == u64::from(self.mantissa & 0x3_ffff))
            .unwrap_or(u64::MAX)
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        16 + 4 + self.ssrcs.wire_len()
    }

    /// Writes the packet; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BuildError> {
        let n = self.ssrcs.len();
        if n > 255 || self.exponent > 0x3f || self.mantissa > 0x3_ffff {
            return Err(BuildError::FieldOverflow { what: "REMB" });
        }
        let len = self.buffer_len();
        write_fb_header(
            buf,
            fmt::AFB,
            packet_type::PSFB,
            len,
            self.sender_ssrc,
            self.media_ssrc,
        )?;
        buf[12..16].copy_from_slice(&REMB_ID);
        let v = ((n as u32) << 24) | (u32::from(self.exponent) << 18) | self.mantissa;
        buf[16..20].copy_from_slice(&v.to_be_bytes());
        self.ssrcs.write(&mut buf[20..len]);
        Ok(len)
    }
}
