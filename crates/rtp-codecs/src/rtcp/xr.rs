//! Extended reports (RFC 3611): receiver reference time (block type 4) and DLRR (block
//! type 5); other block types pass through.
//!
//! ```text
//! |V=2|P|reserved |   PT=XR=207   |             length            |
//! |                              SSRC                             |
//! :                         report blocks                         :
//! each block: |  BT  | type-specific |  block length (words - 1)  | ...
//! ```

use super::{List, WireItem, bad, be16, be32, be64, packet_type, write_header};
use crate::error::{BuildError, ParseError};
use crate::types::Ssrc;

/// Receiver reference time block type (RFC 3611 section 4.4).
pub const BT_RRTR: u8 = 0x04;
/// DLRR block type (RFC 3611 section 4.5).
pub const BT_DLRR: u8 = 0x05;

/// One DLRR sub-block (RFC 3611 section 4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DlrrItem {
    /// The receiver this sub-block answers.
    pub ssrc: Ssrc,
    /// Middle 32 bits of the NTP timestamp of its last RRTR (LRR).
    pub last_rr: u32,
    /// Delay since that RRTR, in 1/65536 seconds.
    pub delay_since_last_rr: u32,
}

impl<'a> WireItem<'a> for DlrrItem {
    fn read(b: &'a [u8]) -> Option<(Self, usize)> {
        let b = b.get(..12)?;
        Some((
            DlrrItem {
                ssrc: Ssrc(be32(b, 0)),
                last_rr: be32(b, 4),
                delay_since_last_rr: be32(b, 8),
            },
            12,
        ))
    }
    fn wire_len(&self) -> usize {
        12
    }
    fn write(&self, o: &mut [u8]) {
        o[0..4].copy_from_slice(&self.ssrc.0.to_be_bytes());
        o[4..8].copy_from_slice(&self.last_rr.to_be_bytes());
        o[8..12].copy_from_slice(&self.delay_since_last_rr.to_be_bytes());
    }
}

/// One XR report block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XrBlock<'a> {
    /// Receiver reference time (RFC 3611 section 4.4).
    Rrtr {
        /// NTP timestamp.
        ntp_time: u64,
    },
    /// Delay since last receiver report (RFC 3611 section 4.5).
    Dlrr(List<'a, DlrrItem>),
    /// Any other block, kept as is.
    Unknown {
        /// Block type.
        block_type: u8,
        /// The type-specific byte.
        type_specific: u8,
        /// Block contents after its 4-byte header (whole words).
        data: &'a [u8],
    },
}

impl<'a> WireItem<'a> for XrBlock<'a> {
    fn read(b: &'a [u8]) -> Option<(Self, usize)> {
        let h = b.get(..4)?;
        let len = 4 + 4 * usize::from(be16(h, 2));
        let data = b.get(4..len)?;
        let block = match h[0] {
            BT_RRTR if data.len() == 8 => XrBlock::Rrtr {
                ntp_time: be64(data, 0),
            },
            BT_DLRR if data.len() % 12 == 0 => XrBlock::Dlrr(List::validate(data, None)?.0),
            _ => XrBlock::Unknown {
                block_type: h[0],
                type_specific: h[1],
                data,
            },
        };
        Some((block, len))
    }
    fn wire_len(&self) -> usize {
        4 + match self {
            XrBlock::Rrtr { .. } => 8,
            XrBlock::Dlrr(l) => l.wire_len(),
            XrBlock::Unknown { data, .. } => data.len(),
        }
    }
    fn write(&self, o: &mut [u8]) {
        let words = ((self.wire_len() - 4) / 4) as u16;
        let (bt, ts) = match self {
            XrBlock::Rrtr { .. } => (BT_RRTR, 0),
            XrBlock::Dlrr(_) => (BT_DLRR, 0),
            XrBlock::Unknown {
                block_type,
                type_specific,
                ..
            } => (*block_type, *type_specific),
        };
        o[0] = bt;
        o[1] = ts;
        o[2..4].copy_from_slice(&words.to_be_bytes());
        match self {
            XrBlock::Rrtr { ntp_time } => o[4..12].copy_from_slice(&ntp_time.to_be_bytes()),
            XrBlock::Dlrr(l) => {
                l.write(&mut o[4..]);
            }
            XrBlock::Unknown { data, .. } => o[4..4 + data.len()].copy_from_slice(data),
        }
    }
}

/// Extended report packet (RFC 3611 section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Xr<'a> {
    /// SSRC of the packet sender.
    pub ssrc: Ssrc,
    /// Report blocks.
    pub blocks: List<'a, XrBlock<'a>>,
}

impl<'a> Xr<'a> {
    pub(crate) fn parse(b: &'a [u8]) -> Result<Self, ParseError> {
        if b.len() < 4 {
            return Err(bad("XR"));
        }
        let (blocks, _) = List::validate(&b[4..], None).ok_or(bad("XR blocks"))?;
        if blocks.wire_len() != b.len() - 4 {
            return Err(bad("XR blocks"));
        }
        Ok(Xr {
            ssrc: Ssrc(be32(b, 0)),
            blocks,
        })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        8 + self.blocks.wire_len()
    }

    /// Writes the packet; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BuildError> {
        for bl in self.blocks.iter() {
            let body = bl.wire_len() - 4;
            if body % 4 != 0 || body / 4 > usize::from(u16::MAX) {
                return Err(BuildError::FieldOverflow {
                    what: "XR block length",
                });
            }
        }
        let len = self.buffer_len();
        write_header(buf, false, 0, packet_type::XR, len)?;
        buf[4..8].copy_from_slice(&self.ssrc.0.to_be_bytes());
        self.blocks.write(&mut buf[8..len]);
        Ok(len)
    }
}
