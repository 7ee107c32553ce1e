//! RTCP (RFC 3550 section 6) and its feedback extensions (RFC 4585, RFC 5104, REMB,
//! transport-wide congestion control, RFC 3611 XR).
//!
//! [`Compound`] walks a compound (or reduced-size, RFC 5506) RTCP datagram and yields one
//! typed [`RtcpPacket`] per packet, borrowing the datagram: lists stay on the wire and are
//! decoded as they are iterated ([`List`]). The same types build packets from caller slices
//! ([`List::Items`]) with [`RtcpPacket::emit`] into a `&mut [u8]` or
//! [`RtcpPacket::emit_vec`] onto a `Vec<u8>`.
//!
//! Unknown packet types (and feedback formats) come out as [`RtcpPacket::Unknown`] and
//! re-emit byte for byte; a malformed packet of a known type yields an error for that packet
//! and iteration goes on with the next one, since the length field still frames it.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|  RC/FMT |      PT       |        length (words - 1)     |
//! ```

mod feedback;
mod list;
mod report;
mod sdes;
mod twcc;
mod xr;

pub use feedback::{Fir, FirEntry, Nack, NackPair, Pli, Remb};
pub use list::{List, ListIter, WireItem};
pub use report::{ReceiverReport, ReportBlock, SenderReport};
pub use sdes::{App, Bye, Sdes, SdesChunk, SdesItem};
pub use twcc::{PacketStatus, TransportFeedback, TwccPackets};
pub use xr::{DlrrItem, Xr, XrBlock};

use crate::error::{BuildError, ParseError, need};

/// RTCP packet types (RFC 3550 section 12.1, RFC 4585 section 6.1, RFC 3611 section 2).
pub mod packet_type {
    /// Sender report.
    pub const SR: u8 = 0xc8; // 200
    /// Receiver report.
    pub const RR: u8 = 0xc9; // 201
    /// Source description.
    pub const SDES: u8 = 0xca; // 202
    /// Goodbye.
    pub const BYE: u8 = 0xcb; // 203
    /// Application-defined.
    pub const APP: u8 = 0xcc; // 204
    /// Transport-layer feedback (RFC 4585 section 6.1).
    pub const RTPFB: u8 = 0xcd; // 205
    /// Payload-specific feedback (RFC 4585 section 6.1).
    pub const PSFB: u8 = 0xce; // 206
    /// Extended reports (RFC 3611 section 2).
    pub const XR: u8 = 0xcf; // 207
}

/// Feedback message types (the FMT field).
pub mod fmt {
    /// RTPFB generic NACK (RFC 4585 section 6.2.1).
    pub const NACK: u8 = 1;
    /// RTPFB transport-wide congestion control (draft-holmer-rmcat-transport-wide-cc-extensions-01 section 3.1).
    pub const TWCC: u8 = 15;
    /// PSFB picture loss indication (RFC 4585 section 6.3.1).
    pub const PLI: u8 = 1;
    /// PSFB full intra request (RFC 5104 section 4.3.1).
    pub const FIR: u8 = 4;
    /// PSFB application layer feedback (RFC 4585 section 6.4), used by REMB.
    pub const AFB: u8 = 15;
}

/// Length of the common header.
pub const HEADER_LEN: usize = 4;

/// One RTCP packet as framed by its common header, body not yet interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRtcp<'a> {
    /// The 5-bit count / FMT / subtype field.
    pub count: u8,
    /// The packet type.
    pub packet_type: u8,
    /// The body after the 4-byte header, padding removed.
    pub body: &'a [u8],
    /// Padding bytes that followed the body (0 when the P bit is clear).
    pub padding: u8,
}

impl<'a> RawRtcp<'a> {
    /// Frames the first packet of `data`; returns it and the bytes after it.
    pub fn parse(data: &'a [u8]) -> Result<(RawRtcp<'a>, &'a [u8]), ParseError> {
        if data.len() < HEADER_LEN {
            return Err(ParseError::TooShort {
                what: "RTCP header",
                len: data.len(),
                needed: HEADER_LEN,
            });
        }
        let v = data[0] >> 6;
        if v != 2 {
            return Err(ParseError::BadVersion(v));
        }
        let words = usize::from(u16::from_be_bytes([data[2], data[3]])) + 1;
        let len = 4 * words;
        if len > data.len() {
            return Err(ParseError::RtcpLengthOverrun {
                words,
                len: data.len(),
            });
        }
        let (pkt, rest) = data.split_at(len);
        let mut body = &pkt[HEADER_LEN..];
        let mut padding = 0;
        if data[0] & 0x20 != 0 {
            // RFC 3550 section 6.4.1: the last octet counts the padding, itself included.
            let count = pkt[len - 1];
            if count == 0 || usize::from(count) > body.len() {
                return Err(ParseError::BadPadding {
                    count,
                    body: body.len(),
                });
            }
            body = &body[..body.len() - usize::from(count)];
            padding = count;
        }
        Ok((
            RawRtcp {
                count: data[0] & 0x1f,
                packet_type: data[1],
                body,
                padding,
            },
            rest,
        ))
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.body.len() + usize::from(self.padding)
    }

    /// Writes the packet as it came (header, body, padding); the total must be a whole
    /// number of 32-bit words.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BuildError> {
        let len = self.buffer_len();
        let at = write_header(buf, self.padding != 0, self.count, self.packet_type, len)?;
        buf[at..at + self.body.len()].copy_from_slice(self.body);
        if self.padding != 0 {
            buf[at + self.body.len()..len - 1].fill(0);
            buf[len - 1] = self.padding;
        }
        Ok(len)
    }
}

/// Writes a common header for a packet of `total` bytes; returns the header length.
pub(crate) fn write_header(
    buf: &mut [u8],
    padding: bool,
    count: u8,
    packet_type: u8,
    total: usize,
) -> Result<usize, BuildError> {
    need(buf, total)?;
    if count > 31 {
        return Err(BuildError::FieldOverflow { what: "RTCP count" });
    }
    if total % 4 != 0 || total / 4 - 1 > usize::from(u16::MAX) {
        return Err(BuildError::FieldOverflow {
            what: "RTCP length",
        });
    }
    buf[0] = 0x80 | (u8::from(padding) << 5) | count;
    buf[1] = packet_type;
    buf[2..4].copy_from_slice(&((total / 4 - 1) as u16).to_be_bytes());
    Ok(HEADER_LEN)
}

pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
pub(crate) fn be64(b: &[u8], at: usize) -> u64 {
    (u64::from(be32(b, at)) << 32) | u64::from(be32(b, at + 4))
}

pub(crate) fn bad(what: &'static str) -> ParseError {
    ParseError::BadRtcp { what }
}

/// A typed RTCP packet borrowing its datagram (or, when built, the caller's slices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpPacket<'a> {
    /// Sender report (RFC 3550 section 6.4.1).
    SenderReport(SenderReport<'a>),
    /// Receiver report (RFC 3550 section 6.4.2).
    ReceiverReport(ReceiverReport<'a>),
    /// Source description (RFC 3550 section 6.5).
    Sdes(Sdes<'a>),
    /// Goodbye (RFC 3550 section 6.6).
    Bye(Bye<'a>),
    /// Application-defined (RFC 3550 section 6.7).
    App(App<'a>),
    /// Generic NACK (RFC 4585 section 6.2.1).
    Nack(Nack<'a>),
    /// Picture loss indication (RFC 4585 section 6.3.1).
    Pli(Pli),
    /// Full intra request (RFC 5104 section 4.3.1).
    Fir(Fir<'a>),
    /// Receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb-03).
    Remb(Remb<'a>),
    /// Transport-wide congestion control feedback.
    TransportFeedback(TransportFeedback<'a>),
    /// Extended reports (RFC 3611).
    Xr(Xr<'a>),
    /// A packet type or feedback format this crate does not interpret.
    Unknown(RawRtcp<'a>),
}

impl<'a> RtcpPacket<'a> {
    /// Interprets a framed packet.
    pub fn parse(raw: RawRtcp<'a>) -> Result<RtcpPacket<'a>, ParseError> {
        let b = raw.body;
        Ok(match (raw.packet_type, raw.count) {
            (packet_type::SR, n) => RtcpPacket::SenderReport(SenderReport::parse(n, b)?),
            (packet_type::RR, n) => RtcpPacket::ReceiverReport(ReceiverReport::parse(n, b)?),
            (packet_type::SDES, n) => RtcpPacket::Sdes(Sdes::parse(n, b)?),
            (packet_type::BYE, n) => RtcpPacket::Bye(Bye::parse(n, b)?),
            (packet_type::APP, n) => RtcpPacket::App(App::parse(n, b)?),
            (packet_type::RTPFB, fmt::NACK) => RtcpPacket::Nack(Nack::parse(b)?),
            (packet_type::RTPFB, fmt::TWCC) => {
                RtcpPacket::TransportFeedback(TransportFeedback::parse(b)?)
            }
            (packet_type::PSFB, fmt::PLI) => RtcpPacket::Pli(Pli::parse(b)?),
            (packet_type::PSFB, fmt::FIR) => RtcpPacket::Fir(Fir::parse(b)?),
            (packet_type::PSFB, fmt::AFB) if Remb::is_remb(b) => RtcpPacket::Remb(Remb::parse(b)?),
            (packet_type::XR, _) => RtcpPacket::Xr(Xr::parse(b)?),
            _ => RtcpPacket::Unknown(raw),
        })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            RtcpPacket::SenderReport(p) => p.buffer_len(),
            RtcpPacket::ReceiverReport(p) => p.buffer_len(),
            RtcpPacket::Sdes(p) => p.buffer_len(),
            RtcpPacket::Bye(p) => p.buffer_len(),
            RtcpPacket::App(p) => p.buffer_len(),
            RtcpPacket::Nack(p) => p.buffer_len(),
            RtcpPacket::Pli(p) => p.buffer_len(),
            RtcpPacket::Fir(p) => p.buffer_len(),
            RtcpPacket::Remb(p) => p.buffer_len(),
            RtcpPacket::TransportFeedback(p) => p.buffer_len(),
            RtcpPacket::Xr(p) => p.buffer_len(),
            RtcpPacket::Unknown(p) => p.buffer_len(),
        }
    }

    /// Writes the packet at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BuildError> {
        match self {
            RtcpPacket::SenderReport(p) => p.emit(buf),
            RtcpPacket::ReceiverReport(p) => p.emit(buf),
            RtcpPacket::Sdes(p) => p.emit(buf),
            RtcpPacket::Bye(p) => p.emit(buf),
            RtcpPacket::App(p) => p.emit(buf),
            RtcpPacket::Nack(p) => p.emit(buf),
            RtcpPacket::Pli(p) => p.emit(buf),
            RtcpPacket::Fir(p) => p.emit(buf),
            RtcpPacket::Remb(p) => p.emit(buf),
            RtcpPacket::TransportFeedback(p) => p.emit(buf),
            RtcpPacket::Xr(p) => p.emit(buf),
            RtcpPacket::Unknown(p) => p.emit(buf),
        }
    }

    /// Appends the packet to `out` (for building a compound packet).
    pub fn emit_vec(&self, out: &mut Vec<u8>) -> Result<usize, BuildError> {
        let start = out.len();
        out.resize(start + self.buffer_len(), 0);
        match self.emit(&mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                Ok(n)
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }
}

/// Checks a whole RTCP datagram: every packet frames and parses, and, unless reduced-size
/// RTCP was negotiated (RFC 5506, `a=rtcp-rsize`), it is a proper compound packet: first a
/// report (SR or RR) and somewhere an SDES with a CNAME (RFC 3550 section 6.1).
pub fn check_compound(datagram: &[u8], reduced_size: bool) -> Result<(), ParseError> {
    let mut first = true;
    let mut cname = false;
    let mut any = false;
    for p in Compound::new(datagram) {
        let p = p?;
        any = true;
        let report = matches!(
            p,
            RtcpPacket::SenderReport(_) | RtcpPacket::ReceiverReport(_)
        );
        if first && !reduced_size && !report {
            return Err(bad("compound packet not starting with SR or RR"));
        }
        first = false;
        if let RtcpPacket::Sdes(s) = p {
            cname |= s
                .chunks
                .iter()
                .any(|c| c.items.iter().any(|i| i.kind == SdesItem::CNAME));
        }
    }
    if !any {
        return Err(ParseError::TooShort {
            what: "RTCP datagram",
            len: 0,
            needed: HEADER_LEN,
        });
    }
    if !reduced_size && !cname {
        return Err(bad("compound packet without SDES CNAME"));
    }
    Ok(())
}

/// Iterator over the packets of a compound RTCP datagram.
///
/// Reduced-size RTCP (RFC 5506) is accepted: the first packet need not be a report.
/// A framing error (bad version, length past the end) ends iteration after yielding it.
#[derive(Debug, Clone)]
pub struct Compound<'a> {
    rest: &'a [u8],
}

impl<'a> Compound<'a> {
    /// Iterates the packets of `datagram`.
    pub fn new(datagram: &'a [u8]) -> Self {
        Compound { rest: datagram }
    }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<RtcpPacket<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match RawRtcp::parse(self.rest) {
            Ok((raw, rest)) => {
                self.rest = rest;
                Some(RtcpPacket::parse(raw))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{SeqNo, Ssrc};
    use hex_literal::hex;

    fn one(bytes: &[u8]) -> RtcpPacket<'_> {
        let mut it = Compound::new(bytes);
        let p = it.next().unwrap().unwrap();
        assert!(it.next().is_none());
        let mut out = vec![];
        p.emit_vec(&mut out).unwrap();
        assert_eq!(out, bytes, "re-emit of {p:?}");
        assert_eq!(p.buffer_len(), bytes.len());
        p
    }

    const SR: [u8; 52] = hex!(
        "81 c8 00 0c  11 22 33 44  e5 4b 00 00 80 00 00 00  00 01 e2 40  00 00 00 0a  00 00 03 e8"
        "55 66 77 88  05 ff ff fe  00 01 00 20  00 00 00 10  aa bb cc dd  00 00 10 00"
    );

    #[test]
    fn sender_report() {
        let RtcpPacket::SenderReport(sr) = one(&SR) else {
            panic!("not an SR")
        };
        assert_eq!(sr.ssrc, Ssrc(0x1122_3344));
        assert_eq!(sr.ntp_time, 0xe54b_0000_8000_0000);
        assert_eq!(sr.rtp_time, 123_456);
        assert_eq!(sr.packet_count, 10);
        assert_eq!(sr.octet_count, 1000);
        let rb: Vec<_> = sr.reports.iter().collect();
        assert_eq!(
            rb,
            vec![ReportBlock {
                ssrc: Ssrc(0x5566_7788),
                fraction_lost: 5,
                cumulative_lost: -2,
                highest_seq: 0x0001_0020,
                jitter: 16,
                last_sr: 0xaabb_ccdd,
                delay_since_last_sr: 0x1000,
            }]
        );
        // Built from values, the same bytes.
        let built = SenderReport {
            reports: List::Items(&rb),
            ..sr
        };
        let mut buf = [0u8; 52];
        assert_eq!(built.emit(&mut buf), Ok(52));
        assert_eq!(buf, SR);
        assert_eq!(built, sr);
    }

    #[test]
    fn receiver_report() {
        let bytes = hex!(
            "81 c9 00 07  11 22 33 44"
            "55 66 77 88  05 ff ff fe  00 01 00 20  00 00 00 10  aa bb cc dd  00 00 10 00"
        );
        let RtcpPacket::ReceiverReport(rr) = one(&bytes) else {
            panic!()
        };
        assert_eq!(rr.reports.len(), 1);
        assert!(rr.profile_extension.is_empty());
    }

    #[test]
    fn sdes_bye_app() {
        let sdes = hex!(
            "81 ca 00 06  11 22 33 44  01 10 75 73 65 72 40 65 78 61 6d 70 6c 65 2e 63 6f 6d 00 00"
        );
        let RtcpPacket::Sdes(s) = one(&sdes) else {
            panic!()
        };
        let chunks: Vec<_> = s.chunks.iter().collect();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].ssrc, Ssrc(0x1122_3344));
        let items: Vec<_> = chunks[0].items.iter().collect();
        assert_eq!(
            items,
            vec![SdesItem {
                kind: SdesItem::CNAME,
                value: b"user@example.com"
            }]
        );

        let bye = hex!("81 cb 00 03  11 22 33 44  04 62 79 65 21 00 00 00");
        let RtcpPacket::Bye(b) = one(&bye) else {
            panic!()
        };
        assert_eq!(b.ssrcs.iter().collect::<Vec<_>>(), vec![Ssrc(0x1122_3344)]);
        assert_eq!(b.reason, Some(&b"bye!"[..]));

        let app = hex!("85 cc 00 03  11 22 33 44  54 45 53 54  de ad be ef");
        let RtcpPacket::App(a) = one(&app) else {
            panic!()
        };
        assert_eq!(
            (a.subtype, &a.name, a.data),
            (5, b"TEST", &[0xde, 0xad, 0xbe, 0xef][..])
        );
    }

    #[test]
    fn feedback() {
        let nack = hex!("81 cd 00 03  00 00 00 01  00 00 00 02  00 64 00 05");
        let RtcpPacket::Nack(n) = one(&nack) else {
            panic!()
        };
        assert_eq!(
            n.lost().collect::<Vec<_>>(),
            vec![SeqNo(100), SeqNo(101), SeqNo(103)]
        );
        let mut pairs = vec![];
        NackPair::pack(n.lost(), &mut pairs);
        assert_eq!(
            pairs,
            vec![NackPair {
                pid: SeqNo(100),
                blp: 5
            }]
        );

        let pli = hex!("81 ce 00 02  00 00 00 01  00 00 00 02");
        assert_eq!(
            one(&pli),
            RtcpPacket::Pli(Pli {
                sender_ssrc: Ssrc(1),
                media_ssrc: Ssrc(2)
            })
        );

        let fir = hex!("84 ce 00 04  00 00 00 01  00 00 00 00  00 00 00 09  07 00 00 00");
        let RtcpPacket::Fir(f) = one(&fir) else {
            panic!()
        };
        assert_eq!(
            f.entries.iter().collect::<Vec<_>>(),
            vec![FirEntry {
                ssrc: Ssrc(9),
                seq: 7
            }]
        );

        let remb =
            hex!("8f ce 00 05  00 00 00 01  00 00 00 00  52 45 4d 42  01 0b 00 00  00 00 00 09");
        let RtcpPacket::Remb(r) = one(&remb) else {
            panic!()
        };
        assert_eq!(r.bitrate(), 0x30000 << 2);
        assert_eq!(r.ssrcs.iter().collect::<Vec<_>>(), vec![Ssrc(9)]);
        let ss = [Ssrc(9)];
        let built = Remb::new(Ssrc(1), 0x30000 << 2, &ss);
        assert_eq!(built, r);
    }

    #[test]
    fn transport_feedback() {
        let bytes = hex!(
            "af cd 00 06  11 22 33 44  55 66 77 88  00 05 00 03  00 00 10 01  d2 00 04 ff f0 00 00 03"
        );
        let RtcpPacket::TransportFeedback(t) = one(&bytes) else {
            panic!()
        };
        assert_eq!(t.base_seq, SeqNo(5));
        assert_eq!(t.reference_time, 0x10);
        assert_eq!(t.fb_pkt_count, 1);
        let st: Vec<_> = t.statuses().collect();
        assert_eq!(
            st,
            vec![
                (SeqNo(5), PacketStatus::ReceivedSmall(4)),
                (SeqNo(6), PacketStatus::NotReceived),
                (SeqNo(7), PacketStatus::ReceivedLarge(-16)),
            ]
        );
        let list: Vec<_> = st.iter().map(|s| s.1).collect();
        let built = TransportFeedback {
            packets: TwccPackets::Statuses(&list),
            ..t
        };
        let mut out = vec![];
        RtcpPacket::TransportFeedback(built)
            .emit_vec(&mut out)
            .unwrap();
        assert_eq!(out, bytes);

        // A run-length chunk: 20 packets received with small deltas, then a 1-bit vector.
        let mut many = vec![PacketStatus::ReceivedSmall(1); 20];
        many.extend([PacketStatus::NotReceived, PacketStatus::ReceivedSmall(2)]);
        let fb = TransportFeedback {
            packets: TwccPackets::Statuses(&many),
            ..t
        };
        let mut out = vec![];
        RtcpPacket::TransportFeedback(fb)
            .emit_vec(&mut out)
            .unwrap();
        assert_eq!(&out[20..24], &hex!("20 14 90 00"));
        let Some(Ok(RtcpPacket::TransportFeedback(back))) = Compound::new(&out).next() else {
            panic!()
        };
        assert_eq!(back, fb);
    }

    #[test]
    fn extended_report() {
        let bytes = hex!(
            "80 cf 00 08  11 22 33 44"
            "04 00 00 02  e5 4b 00 00 80 00 00 00"
            "05 00 00 03  55 66 77 88  4b 00 00 80  00 00 20 00"
        );
        let RtcpPacket::Xr(x) = one(&bytes) else {
            panic!()
        };
        let blocks: Vec<_> = x.blocks.iter().collect();
        assert_eq!(
            blocks[0],
            XrBlock::Rrtr {
                ntp_time: 0xe54b_0000_8000_0000
            }
        );
        let XrBlock::Dlrr(d) = blocks[1] else {
            panic!()
        };
        assert_eq!(
            d.iter().collect::<Vec<_>>(),
            vec![DlrrItem {
                ssrc: Ssrc(0x5566_7788),
                last_rr: 0x4b00_0080,
                delay_since_last_rr: 0x2000
            }]
        );
    }

    #[test]
    fn compound_with_unknown_and_errors() {
        // SR, then TMMBR (RTPFB FMT 3, not interpreted), then a malformed NACK (no FCI),
        // then PLI: the unknown one passes through, the bad one errors, iteration goes on.
        let mut d = SR.to_vec();
        let tmmbr = hex!("83 cd 00 04  00 00 00 01  00 00 00 00  00 00 00 09  04 00 00 64");
        d.extend_from_slice(&tmmbr);
        d.extend_from_slice(&hex!("81 cd 00 02  00 00 00 01  00 00 00 02"));
        d.extend_from_slice(&hex!("81 ce 00 02  00 00 00 01  00 00 00 02"));
        let v: Vec<_> = Compound::new(&d).collect();
        assert_eq!(v.len(), 4);
        assert!(matches!(v[0], Ok(RtcpPacket::SenderReport(_))));
        let Ok(RtcpPacket::Unknown(u)) = v[1] else {
            panic!()
        };
        let mut out = vec![];
        RtcpPacket::Unknown(u).emit_vec(&mut out).unwrap();
        assert_eq!(out, tmmbr);
        assert_eq!(v[2], Err(ParseError::BadRtcp { what: "NACK FCI" }));
        assert!(matches!(v[3], Ok(RtcpPacket::Pli(_))));
    }

    #[test]
    fn compound_rules() {
        let sdes = hex!(
            "81 ca 00 06  11 22 33 44  01 10 75 73 65 72 40 65 78 61 6d 70 6c 65 2e 63 6f 6d 00 00"
        );
        let pli = hex!("81 ce 00 02  00 00 00 01  00 00 00 02");
        let mut full = SR.to_vec();
        full.extend_from_slice(&sdes);
        full.extend_from_slice(&pli);
        assert_eq!(check_compound(&full, false), Ok(()));
        // A lone PLI: fine only with reduced-size RTCP (RFC 5506).
        assert!(check_compound(&pli, false).is_err());
        assert_eq!(check_compound(&pli, true), Ok(()));
        // A report without CNAME.
        assert!(check_compound(&SR, false).is_err());
        // Feedback first.
        let mut fb_first = pli.to_vec();
        fb_first.extend_from_slice(&SR);
        fb_first.extend_from_slice(&sdes);
        assert!(check_compound(&fb_first, false).is_err());
        assert!(check_compound(&[], true).is_err());
        // A broken packet anywhere fails the check.
        full.extend_from_slice(&hex!("81 cd 00 02  00 00 00 01  00 00 00 02"));
        assert!(check_compound(&full, false).is_err());
    }

    #[test]
    fn framing_errors() {
        assert_eq!(
            Compound::new(&hex!("81 c9 00 07 00 00")).collect::<Vec<_>>(),
            vec![Err(ParseError::RtcpLengthOverrun { words: 8, len: 6 })]
        );
        assert_eq!(
            Compound::new(&hex!("41 c9 00 00")).next(),
            Some(Err(ParseError::BadVersion(1)))
        );
        assert!(matches!(
            Compound::new(&hex!("a1 c9 00 01 00 00 00 05")).next(),
            Some(Err(ParseError::BadPadding { count: 5, .. }))
        ));
        assert!(matches!(
            Compound::new(&hex!("81 c9 00 01 00 00 00 05")).next(),
            Some(Err(ParseError::BadRtcp { .. }))
        ));
        // SDES whose item overruns the chunk.
        assert!(
            Compound::new(&hex!("81 ca 00 02 00 00 00 01 01 09 61 00"))
                .next()
                .unwrap()
                .is_err()
        );
        // TWCC with a reserved symbol.
        assert!(
            Compound::new(&hex!(
                "8f cd 00 05 00 00 00 01 00 00 00 02 00 00 00 01 00 00 00 00 60 01 00 00"
            ))
            .next()
            .unwrap()
            .is_err()
        );
    }

    #[test]
    fn build_errors() {
        let blocks = [ReportBlock::default(); 32];
        let rr = ReceiverReport {
            ssrc: Ssrc(1),
            reports: List::Items(&blocks),
            profile_extension: &[],
        };
        let mut buf = vec![0u8; rr.buffer_len()];
        assert!(matches!(
            rr.emit(&mut buf),
            Err(BuildError::FieldOverflow { .. })
        ));
        // Padding that leaves a partial word of APP data or SR extension.
        assert!(
            Compound::new(&hex!("a0 cc 00 03 00 00 00 01 61 62 63 64 01 02 03 02"))
                .next()
                .unwrap()
                .is_err()
        );
        assert!(
            Compound::new(&hex!("a0 c9 00 02 00 00 00 01 01 02 03 02"))
                .next()
                .unwrap()
                .is_err()
        );
        let app = App {
            subtype: 0,
            ssrc: Ssrc(1),
            name: *b"abcd",
            data: &[1, 2, 3],
        };
        let mut buf = [0u8; 64];
        assert!(app.emit(&mut buf).is_err());
        let pli = Pli {
            sender_ssrc: Ssrc(1),
            media_ssrc: Ssrc(2),
        };
        assert!(matches!(
            pli.emit(&mut buf[..8]),
            Err(BuildError::BufferTooSmall { .. })
        ));
    }
}
