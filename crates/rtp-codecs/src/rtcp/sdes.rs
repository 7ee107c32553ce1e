//! Source description, goodbye and application-defined packets (RFC 3550 sections 6.5-6.7).

use super::{List, WireItem, bad, be32, packet_type, write_header};
use crate::error::{BuildError, ParseError};
use crate::types::Ssrc;

/// One SDES item: type (1 = CNAME, 2 = NAME, ...; RFC 3550 section 6.5) and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// Item type, non-zero (0 ends the item list).
    pub kind: u8,
    /// Item text (at most 255 bytes).
    pub value: &'a [u8],
}

impl SdesItem<'_> {
    /// CNAME item type (RFC 3550 section 6.5.1).
    pub const CNAME: u8 = 0x01;
}

impl<'a> WireItem<'a> for SdesItem<'a> {
    fn read(b: &'a [u8]) -> Option<(Self, usize)> {
        let kind = *b.first()?;
        if kind == 0 {
            return None;
        }
        let len = usize::from(*b.get(1)?);
        let value = b.get(2..2 + len)?;
        Some((SdesItem { kind, value }, 2 + len))
    }
    fn wire_len(&self) -> usize {
        2 + self.value.len()
    }
    fn write(&self, o: &mut [u8]) {
        o[0] = self.kind;
        // Length checked <= 255 before writing (Sdes::emit).
        o[1] = self.value.len() as u8;
        o[2..2 + self.value.len()].copy_from_slice(self.value);
    }
}

/// One SDES chunk: a source and its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The source described.
    pub ssrc: Ssrc,
    /// Its items.
    pub items: List<'a, SdesItem<'a>>,
}

impl<'a> WireItem<'a> for SdesChunk<'a> {
    fn read(b: &'a [u8]) -> Option<(Self, usize)> {
        let ssrc = Ssrc(be32(b.get(..4)?, 0));
        let rest = &b[4..];
        // Items run until a null octet (RFC 3550 section 6.5).
        let mut at = 0;
        while *rest.get(at)? != 0 {
            let (_, used) = SdesItem::read(&rest[at..])?;
            at += used;
        }
        // Null terminator plus padding to the next 32-bit boundary, all zero.
        let total = 4 + (at + 1).div_ceil(4) * 4;
        let pad = b.get(4 + at..total)?;
        if pad.iter().any(|&x| x != 0) {
            return None;
        }
        Some((
            SdesChunk {
                ssrc,
                items: List::Wire(&rest[..at]),
            },
            total,
        ))
    }
    fn wire_len(&self) -> usize {
        4 + (self.items.wire_len() + 1).div_ceil(4) * 4
    }
    fn write(&self, o: &mut [u8]) {
        o[..4].copy_from_slice(&self.ssrc.0.to_be_bytes());
        let n = self.items.write(&mut o[4..]);
        o[4 + n..self.wire_len()].fill(0);
    }
}

/// Source description (RFC 3550 section 6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sdes<'a> {
    /// Chunks (at most 31).
    pub chunks: List<'a, SdesChunk<'a>>,
}

impl<'a> Sdes<'a> {
    pub(crate) fn parse(count: u8, b: &'a [u8]) -> Result<Self, ParseError> {
        let (chunks, _) = List::validate(b, Some(usize::from(count))).ok_or(bad("SDES"))?;
        if chunks.wire_len() != b.len() {
            return Err(bad("SDES trailing bytes"));
        }
        Ok(Sdes { chunks })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        4 + self.chunks.wire_len()
    }

    /// Writes the packet; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BuildError> {
        let n = self.chunks.len();
        if n > 31 {
            return Err(BuildError::FieldOverflow {
                what: "SDES chunk count",
            });
        }
        for c in self.chunks.iter() {
            if c.items.iter().any(|i| i.value.len() > 255 || i.kind == 0) {
                return Err(BuildError::FieldOverflow { what: "SDES item" });
            }
        }
        let len = self.buffer_len();
        write_header(buf, false, n as u8, packet_type::SDES, len)?;
        self.chunks.write(&mut buf[4..len]);
        Ok(len)
    }
}

/// Goodbye (RFC 3550 section 6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    /// Sources leaving (at most 31).
    pub ssrcs: List<'a, Ssrc>,
    /// Reason for leaving (at most 255 bytes).
    pub reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    pub(crate) fn parse(count: u8, b: &'a [u8]) -> Result<Self, ParseError> {
        let n = 4 * usize::from(count);
        if b.len() < n {
            return Err(bad("BYE"));
        }
        let (ssrcs, _) = List::validate(&b[..n], Some(usize::from(count))).ok_or(bad("BYE"))?;
        let rest = &b[n..];
        let reason = match rest.first() {
            None => None,
            Some(&len) => {
                let len = usize::from(len);
                let total = (1 + len).div_ceil(4) * 4;
                if rest.len() != total {
                    return Err(bad("BYE reason"));
                }
                Some(&rest[1..1 + len])
            }
        };
        Ok(Bye { ssrcs, reason })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        4 + self.ssrcs.wire_len() + self.reason.map_or(0, |r| (1 + r.len()).div_ceil(4) * 4)
    }

    /// Writes the packet; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BuildError> {
        let n = self.ssrcs.len();
        if n > 31 {
            return Err(BuildError::FieldOverflow { what: "BYE count" });
        }
        if self.reason.is_some_and(|r| r.len() > 255) {
            return Err(BuildError::FieldOverflow { what: "BYE reason" });
        }
        let len = self.buffer_len();
        write_header(buf, false, n as u8, packet_type::BYE, len)?;
        let at = 4 + self.ssrcs.write(&mut buf[4..]);
        if let Some(r) = self.reason {
            buf[at] = r.len() as u8;
            buf[at + 1..at + 1 + r.len()].copy_from_slice(r);
            buf[at + 1 + r.len()..len].fill(0);
        }
        Ok(len)
    }
}

/// Application-defined packet (RFC 3550 section 6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct App<'a> {
    /// Subtype, 5 bits.
    pub subtype: u8,
    /// Sender SSRC.
    pub ssrc: Ssrc,
    /// Four ASCII characters naming the application.
    pub name: [u8; 4],
    /// Application data (whole words).
    pub data: &'a [u8],
}

impl<'a> App<'a> {
    pub(crate) fn parse(count: u8, b: &'a [u8]) -> Result<Self, ParseError> {
        // RFC 3550 section 6.7: the data is a multiple of 32 bits (padding removed).
        if b.len() < 8 || b.len() % 4 != 0 {
            return Err(bad("APP"));
        }
        Ok(App {
            subtype: count,
            ssrc: Ssrc(be32(b, 0)),
            name: [b[4], b[5], b[6], b[7]],
            data: &b[8..],
        })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        12 + self.data.len()
    }

    /// Writes the packet; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BuildError> {
        let len = self.buffer_len();
        write_header(buf, false, self.subtype, packet_type::APP, len)?;
        buf[4..8].copy_from_slice(&self.ssrc.0.to_be_bytes());
        buf[8..12].copy_from_slice(&self.name);
        buf[12..len].copy_from_slice(self.data);
        Ok(len)
    }
}
