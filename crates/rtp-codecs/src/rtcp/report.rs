//! Sender and receiver reports (RFC 3550 sections 6.4.1, 6.4.2).

use super::{List, WireItem, bad, be32, be64, packet_type, write_header};
use crate::error::{BuildError, ParseError};
use crate::types::Ssrc;

/// A reception report block (RFC 3550 section 6.4.1), 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: Ssrc,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative number of packets lost, a signed 24-bit value.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received (LSR).
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 seconds (DLSR).
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// Wire length of a block.
    pub const LEN: usize = 24;
}

impl<'a> WireItem<'a> for ReportBlock {
    fn read(b: &'a [u8]) -> Option<(Self, usize)> {
        if b.len() < Self::LEN {
            return None;
        }
        let lost = be32(b, 4);
        Some((
            ReportBlock {
                ssrc: Ssrc(be32(b, 0)),
                fraction_lost: (lost >> 24) as u8,
                // Sign-extend the 24-bit count.
                cumulative_lost: ((lost << 8) as i32) >> 8,
                highest_seq: be32(b, 8),
                jitter: be32(b, 12),
                last_sr: be32(b, 16),
                delay_since_last_sr: be32(b, 20),
            },
            Self::LEN,
        ))
    }
    fn wire_len(&self) -> usize {
        Self::LEN
    }
    fn write(&self, o: &mut [u8]) {
        o[0..4].copy_from_slice(&self.ssrc.0.to_be_bytes());
        let lost =
            (u32::from(self.fraction_lost) << 24) | (self.cumulative_lost as u32 & 0xff_ffff);
        o[4..8].copy_from_slice(&lost.to_be_bytes());
        o[8..12].copy_from_slice(&self.highest_seq.to_be_bytes());
        o[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        o[16..20].copy_from_slice(&self.last_sr.to_be_bytes());
        o[20..24].copy_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }
}

fn blocks<'a>(
    count: u8,
    b: &'a [u8],
    what: &'static str,
) -> Result<(List<'a, ReportBlock>, &'a [u8]), ParseError> {
    let n = usize::from(count) * ReportBlock::LEN;
    if b.len() < n {
        return Err(bad(what));
    }
    let (list, _) = List::validate(&b[..n], Some(usize::from(count))).ok_or(bad(what))?;
    // The profile-specific extension is whole words (RFC 3550 section 6.4.1); a padding
    // count that leaves a partial word is malformed.
    if (b.len() - n) % 4 != 0 {
        return Err(bad(what));
    }
    Ok((list, &b[n..]))
}

fn check_blocks(reports: &List<'_, ReportBlock>, ext: &[u8]) -> Result<u8, BuildError> {
    let n = reports.len();
    if n > 31 {
        return Err(BuildError::FieldOverflow {
            what: "report block count",
        });
    }
    if ext.len() % 4 != 0 {
        return Err(BuildError::FieldOverflow {
            what: "profile extension length",
        });
    }
    Ok(n as u8)
}

/// Sender report (RFC 3550 section 6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    /// SSRC of the sender.
    pub ssrc: Ssrc,
    /// NTP timestamp (64-bit fixed point, seconds since 1900).
    pub ntp_time: u64,
    /// RTP timestamp matching `ntp_time`.
    pub rtp_time: u32,
    /// Packets sent.
    pub packet_count: u32,
    /// Payload octets sent.
    pub octet_count: u32,
    /// Reception report blocks (at most 31).
    pub reports: List<'a, ReportBlock>,
    /// Profile-specific extension (whole words).
    pub profile_extension: &'a [u8],
}

impl<'a> SenderReport<'a> {
    pub(crate) fn parse(count: u8, b: &'a [u8]) -> Result<Self, ParseError> {
        if b.len() < 24 {
            return Err(bad("SR"));
        }
        let (reports, ext) = blocks(count, &b[24..], "SR report blocks")?;
        Ok(SenderReport {
            ssrc: Ssrc(be32(b, 0)),
            ntp_time: be64(b, 4),
            rtp_time: be32(b, 12),
            packet_count: be32(b, 16),
            octet_count: be32(b, 20),
            reports,
            profile_extension: ext,
        })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        4 + 24 + self.reports.wire_len() + self.profile_extension.len()
    }

    /// Writes the packet; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BuildError> {
        let n = check_blocks(&self.reports, self.profile_extension)?;
        let len = self.buffer_len();
        write_header(buf, false, n, packet_type::SR, len)?;
        let b = &mut buf[4..len];
        b[0..4].copy_from_slice(&self.ssrc.0.to_be_bytes());
        b[4..12].copy_from_slice(&self.ntp_time.to_be_bytes());
        b[12..16].copy_from_slice(&self.rtp_time.to_be_bytes());
        b[16..20].copy_from_slice(&self.packet_count.to_be_bytes());
        b[20..24].copy_from_slice(&self.octet_count.to_be_bytes());
        let at = 24 + self.reports.write(&mut b[24..]);
        b[at..].copy_from_slice(self.profile_extension);
        Ok(len)
    }
}

/// Receiver report (RFC 3550 section 6.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    /// SSRC of the packet's sender.
    pub ssrc: Ssrc,
    /// Reception report blocks (at most 31).
    pub reports: List<'a, ReportBlock>,
    /// Profile-specific extension (whole words).
    pub profile_extension: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    pub(crate) fn parse(count: u8, b: &'a [u8]) -> Result<Self, ParseError> {
        if b.len() < 4 {
            return Err(bad("RR"));
        }
        let (reports, ext) = blocks(count, &b[4..], "RR report blocks")?;
        Ok(ReceiverReport {
            ssrc: Ssrc(be32(b, 0)),
            reports,
            profile_extension: ext,
        })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        4 + 4 + self.reports.wire_len() + self.profile_extension.len()
    }

    /// Writes the packet; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BuildError> {
        let n = check_blocks(&self.reports, self.profile_extension)?;
        let len = self.buffer_len();
        write_header(buf, false, n, packet_type::RR, len)?;
        let b = &mut buf[4..len];
        b[0..4].copy_from_slice(&self.ssrc.0.to_be_bytes());
        let at = 4 + self.reports.write(&mut b[4..]);
        b[at..].copy_from_slice(self.profile_extension);
        Ok(len)
    }
}
