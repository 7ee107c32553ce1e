//! RTP packets (RFC 3550 section 5.1) with header extensions (RFC 8285).
//!
//! Two levels, as in smoltcp: [`RtpPacket`] is a checked view over a buffer (no copy, no
//! allocation, accessors that cannot panic once [`RtpPacket::new_checked`] succeeded, setters
//! for in-place rewriting), and [`RtpHeader`] is the header as plain values that
//! [`RtpHeader::parse`] reads and [`RtpHeader::emit`] writes into a caller buffer.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! |                           timestamp                           |
//! |           synchronization source (SSRC) identifier            |
//! |            contributing source (CSRC) identifiers             |
//! |                             ....                              |
//! ```

use crate::error::{BuildError, ParseError, need};
use crate::types::{PayloadType, SeqNo, Ssrc};
use ferrtc_types::ExtensionId;

/// Byte ranges of the fixed RTP header (RFC 3550 section 5.1).
pub mod field {
    /// A range of bytes in the header.
    pub type Field = core::ops::Range<usize>;
    /// V, P, X, CC.
    pub const VPXCC: usize = 0;
    /// M and PT.
    pub const MPT: usize = 1;
    /// Sequence number.
    pub const SEQ: Field = 2..4;
    /// Timestamp.
    pub const TIMESTAMP: Field = 4..8;
    /// SSRC.
    pub const SSRC: Field = 8..12;
    /// Length of the fixed header; CSRCs follow.
    pub const FIXED_LEN: usize = 12;
}

/// The RTP version this crate speaks (RFC 3550 section 5.1).
pub const VERSION: u8 = 2;
/// Extension profile of the one-byte form (RFC 8285 section 4.2).
pub const PROFILE_ONE_BYTE: u16 = 0xbede;
/// Extension profile of the two-byte form, low 4 bits being "appbits" (RFC 8285 section 4.3).
pub const PROFILE_TWO_BYTE: u16 = 0x1000;

/// A checked, zero-copy view of an RTP packet.
///
/// Once [`new_checked`](Self::new_checked) returns, every accessor is in bounds.
#[derive(Debug, Clone)]
pub struct RtpPacket<T: AsRef<[u8]>> {
    buffer: T,
    header_len: usize,
    padding_len: usize,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Validates the header of `b`; returns the header length (fixed part, CSRCs, extension).
fn check_header(b: &[u8]) -> Result<usize, ParseError> {
    if b.len() < field::FIXED_LEN {
        return Err(ParseError::TooShort {
            what: "RTP header",
            len: b.len(),
            needed: field::FIXED_LEN,
        });
    }
    let v = b[field::VPXCC] >> 6;
    if v != VERSION {
        return Err(ParseError::BadVersion(v));
    }
    let mut len = field::FIXED_LEN + 4 * usize::from(b[field::VPXCC] & 0x0f);
    if b[field::VPXCC] & 0x10 != 0 {
        if b.len() < len + 4 {
            return Err(ParseError::TooShort {
                what: "RTP header extension",
                len: b.len(),
                needed: len + 4,
            });
        }
        len += 4 + 4 * usize::from(be16(b, len + 2));
    }
    if b.len() < len {
        return Err(ParseError::TooShort {
            what: "RTP header",
            len: b.len(),
            needed: len,
        });
    }
    Ok(len)
}

impl<T: AsRef<[u8]>> RtpPacket<T> {
    /// Wraps `buffer` after checking the version, CSRC list, extension block and padding
    /// (RFC 3550 section 5.1: the last octet counts the padding, itself included).
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        let b = buffer.as_ref();
        let header_len = check_header(b)?;
        let mut padding_len = 0;
        if b[field::VPXCC] & 0x20 != 0 {
            let body = b.len() - header_len;
            // b.len() >= header_len >= 12, so there is a last byte.
            let count = b[b.len() - 1];
            if count == 0 || usize::from(count) > body {
                return Err(ParseError::BadPadding { count, body });
            }
            padding_len = usize::from(count);
        }
        Ok(RtpPacket {
            buffer,
            header_len,
            padding_len,
        })
    }

    /// Wraps `buffer` checking the header only: the padding count is not read, and the
    /// payload runs to the end of the buffer. For SRTP, whose padding is encrypted until the
    /// packet is unprotected.
    pub fn new_checked_header(buffer: T) -> Result<Self, ParseError> {
        let header_len = check_header(buffer.as_ref())?;
        Ok(RtpPacket {
            buffer,
            header_len,
            padding_len: 0,
        })
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole packet as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The version field (always 2 for a checked packet).
    pub fn version(&self) -> u8 {
        self.b()[field::VPXCC] >> 6
    }
    /// The padding bit.
    pub fn has_padding(&self) -> bool {
        self.b()[field::VPXCC] & 0x20 != 0
    }
    /// The extension bit.
    pub fn has_extension(&self) -> bool {
        self.b()[field::VPXCC] & 0x10 != 0
    }
    /// Number of CSRCs.
    pub fn csrc_count(&self) -> u8 {
        self.b()[field::VPXCC] & 0x0f
    }
    /// The marker bit.
    pub fn marker(&self) -> bool {
        self.b()[field::MPT] & 0x80 != 0
    }
    /// The payload type.
    pub fn payload_type(&self) -> PayloadType {
        PayloadType::from_masked(self.b()[field::MPT])
    }
    /// The sequence number.
    pub fn sequence_number(&self) -> SeqNo {
        SeqNo(be16(self.b(), field::SEQ.start))
    }
    /// The RTP timestamp.
    pub fn timestamp(&self) -> u32 {
        be32(self.b(), field::TIMESTAMP.start)
    }
    /// The SSRC.
    pub fn ssrc(&self) -> Ssrc {
        Ssrc(be32(self.b(), field::SSRC.start))
    }
    /// The CSRC list.
    pub fn csrcs(&self) -> impl ExactSizeIterator<Item = Ssrc> + '_ {
        let n = usize::from(self.csrc_count());
        self.b()[field::FIXED_LEN..field::FIXED_LEN + 4 * n]
            .chunks_exact(4)
            .map(|c| Ssrc(be32(c, 0)))
    }
    /// The header extension block, if the X bit is set.
    pub fn extension(&self) -> Option<RawExtension<'_>> {
        if !self.has_extension() {
            return None;
        }
        let at = field::FIXED_LEN + 4 * usize::from(self.csrc_count());
        let b = self.b();
        Some(RawExtension {
            profile: be16(b, at),
            data: &b[at + 4..self.header_len],
        })
    }
    /// The value of the extension element with `id`, if present (first occurrence).
    pub fn extension_value(&self, id: ExtensionId) -> Option<&[u8]> {
        self.extension()?
            .elements()
            .filter_map(Result::ok)
            .find(|e| e.id == id)
            .map(|e| e.data)
    }
    /// Length of the header: fixed part, CSRCs and extension block.
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    /// Number of padding bytes at the end (0 without the P bit).
    pub fn padding_len(&self) -> usize {
        self.padding_len
    }
    /// The payload, without header and padding.
    pub fn payload(&self) -> &[u8] {
        let b = self.b();
        &b[self.header_len..b.len() - self.padding_len]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> RtpPacket<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    /// Sets the marker bit.
    pub fn set_marker(&mut self, m: bool) {
        let b = self.bm();
        b[field::MPT] = (b[field::MPT] & 0x7f) | (u8::from(m) << 7);
    }
    /// Sets the payload type.
    pub fn set_payload_type(&mut self, pt: PayloadType) {
        let b = self.bm();
        b[field::MPT] = (b[field::MPT] & 0x80) | pt.get();
    }
    /// Sets the sequence number.
    pub fn set_sequence_number(&mut self, seq: SeqNo) {
        self.bm()[field::SEQ].copy_from_slice(&seq.0.to_be_bytes());
    }
    /// Sets the timestamp.
    pub fn set_timestamp(&mut self, ts: u32) {
        self.bm()[field::TIMESTAMP].copy_from_slice(&ts.to_be_bytes());
    }
    /// Sets the SSRC.
    pub fn set_ssrc(&mut self, ssrc: Ssrc) {
        self.bm()[field::SSRC].copy_from_slice(&ssrc.0.to_be_bytes());
    }
    /// The payload, mutable (in-place encryption, RTX rewriting).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (h, p) = (self.header_len, self.padding_len);
        let b = self.bm();
        let end = b.len() - p;
        &mut b[h..end]
    }
    /// The value of the extension element with `id`, mutable, for rewriting a value of the
    /// same length in place (e.g. a transport-wide sequence number on forwarding).
    pub fn extension_value_mut(&mut self, id: ExtensionId) -> Option<&mut [u8]> {
        let ext = self.extension()?;
        let base = ext.data.as_ptr() as usize - self.b().as_ptr() as usize;
        let range = ext
            .element_ranges()
            .filter_map(Result::ok)
            .find(|(eid, _)| *eid == id)
            .map(|(_, r)| r)?;
        Some(&mut self.bm()[base + range.start..base + range.end])
    }
}

/// A raw header extension block: the 16-bit profile ("defined by profile") and the data,
/// a whole number of 32-bit words (RFC 3550 section 5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawExtension<'a> {
    /// The profile field: 0xBEDE for one-byte elements, 0x100X for two-byte elements.
    pub profile: u16,
    /// The extension data (length a multiple of 4 when it came from the wire).
    pub data: &'a [u8],
}

/// The two element forms of RFC 8285.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionForm {
    /// One-byte headers (RFC 8285 section 4.2): ids 1..=14, values 1..=16 bytes.
    OneByte,
    /// Two-byte headers (RFC 8285 section 4.3): ids 1..=255, values 0..=255 bytes.
    TwoByte,
}

impl<'a> RawExtension<'a> {
    /// The element form, if the profile is one of RFC 8285's.
    pub fn form(&self) -> Option<ExtensionForm> {
        if self.profile == PROFILE_ONE_BYTE {
            Some(ExtensionForm::OneByte)
        } else if self.profile & 0xfff0 == PROFILE_TWO_BYTE {
            Some(ExtensionForm::TwoByte)
        } else {
            None
        }
    }

    /// Iterates the elements, skipping padding, without allocating. Empty for a profile that
    /// is not RFC 8285's. Yields one error and stops if an element overruns the block.
    pub fn elements(&self) -> ExtensionElements<'a> {
        ExtensionElements {
            data: self.data,
            pos: 0,
            form: self.form(),
        }
    }

    fn element_ranges(
        &self,
    ) -> impl Iterator<Item = Result<(ExtensionId, core::ops::Range<usize>), ParseError>> + 'a {
        let data = self.data;
        self.elements().map(move |r| {
            r.map(|e| {
                let start = e.data.as_ptr() as usize - data.as_ptr() as usize;
                (e.id, start..start + e.data.len())
            })
        })
    }
}

/// One header extension element: its local id and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionElement<'a> {
    /// Local identifier (negotiated by SDP `a=extmap`).
    pub id: ExtensionId,
    /// The value.
    pub data: &'a [u8],
}

/// Iterator over the elements of a header extension block (RFC 8285 sections 4.2, 4.3).
#[derive(Debug, Clone)]
pub struct ExtensionElements<'a> {
    data: &'a [u8],
    pos: usize,
    form: Option<ExtensionForm>,
}

impl<'a> Iterator for ExtensionElements<'a> {
    type Item = Result<ExtensionElement<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let form = self.form?;
        loop {
            let b = *self.data.get(self.pos)?;
            if b == 0 {
                // Padding byte (RFC 8285 section 4.1).
                self.pos += 1;
                continue;
            }
            let (id, len, hdr) = match form {
                ExtensionForm::OneByte => {
                    let id = b >> 4;
                    if id == 15 {
                        // Reserved id: stop processing (RFC 8285 section 4.2).
                        self.form = None;
                        return None;
                    }
                    (id, usize::from(b & 0x0f) + 1, 1)
                }
                ExtensionForm::TwoByte => {
                    let Some(&len) = self.data.get(self.pos + 1) else {
                        self.form = None;
                        return Some(Err(ParseError::ExtensionOverrun));
                    };
                    (b, usize::from(len), 2)
                }
            };
            let start = self.pos + hdr;
            let end = start + len;
            if end > self.data.len() {
                self.form = None;
                return Some(Err(ParseError::ExtensionOverrun));
            }
            self.pos = end;
            // Id 0 is padding and never an id (RFC 8285 sections 4.2, 4.3); a one-byte
            // element header that names it anyway is skipped with its value.
            let Some(id) = ExtensionId::new(id) else {
                continue;
            };
            return Some(Ok(ExtensionElement {
                id,
                data: &self.data[start..end],
            }));
        }
    }
}

/// Writes header extension elements into a caller buffer, without allocating.
#[derive(Debug)]
pub struct ExtensionWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    form: ExtensionForm,
}

impl<'b> ExtensionWriter<'b> {
    /// Starts an extension block of `form` in `buf`.
    pub fn new(buf: &'b mut [u8], form: ExtensionForm) -> Self {
        ExtensionWriter { buf, len: 0, form }
    }

    /// Appends one element. One-byte form: `id` in 1..=14, 1..=16 value bytes; two-byte form:
    /// `id` in 1..=255, at most 255 value bytes (RFC 8285 sections 4.2, 4.3).
    pub fn push(&mut self, id: ExtensionId, value: &[u8]) -> Result<&mut Self, BuildError> {
        let hdr = match self.form {
            ExtensionForm::OneByte => {
                if !id.fits_one_byte() {
                    return Err(BuildError::BadExtensionId(id));
                }
                if value.is_empty() || value.len() > 16 {
                    return Err(BuildError::FieldOverflow {
                        what: "one-byte extension value",
                    });
                }
                1
            }
            ExtensionForm::TwoByte => {
                if value.len() > 255 {
                    return Err(BuildError::FieldOverflow {
                        what: "two-byte extension value",
                    });
                }
                2
            }
        };
        let end = self.len + hdr + value.len();
        need(self.buf, end)?;
        let b = &mut self.buf[self.len..end];
        match self.form {
            // value.len() in 1..=16 checked above.
            ExtensionForm::OneByte => b[0] = (id.get() << 4) | (value.len() - 1) as u8,
            ExtensionForm::TwoByte => {
                b[0] = id.get();
                // value.len() <= 255 checked above.
                b[1] = value.len() as u8;
            }
        }
        b[hdr..].copy_from_slice(value);
        self.len = end;
        Ok(self)
    }

    /// Pads with zero bytes to a 32-bit boundary and returns the finished block.
    pub fn finish(self) -> Result<RawExtension<'b>, BuildError> {
        let padded = self.len.div_ceil(4) * 4;
        need(self.buf, padded)?;
        self.buf[self.len..padded].fill(0);
        let profile = match self.form {
            ExtensionForm::OneByte => PROFILE_ONE_BYTE,
            ExtensionForm::TwoByte => PROFILE_TWO_BYTE,
        };
        Ok(RawExtension {
            profile,
            data: &self.buf[..padded],
        })
    }
}

/// Up to 15 contributing sources, stored inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Csrcs {
    list: [Ssrc; 15],
    len: u8,
}

impl Csrcs {
    /// An empty list.
    pub const fn new() -> Self {
        Csrcs {
            list: [Ssrc(0); 15],
            len: 0,
        }
    }
    /// A list from a slice of at most 15 entries.
    pub fn from_slice(s: &[Ssrc]) -> Result<Self, BuildError> {
        let mut c = Csrcs::new();
        for &x in s {
            c.push(x)?;
        }
        Ok(c)
    }
    /// Appends one CSRC; fails when 15 are already present.
    pub fn push(&mut self, s: Ssrc) -> Result<(), BuildError> {
        let i = usize::from(self.len);
        if i >= 15 {
            return Err(BuildError::FieldOverflow { what: "CSRC list" });
        }
        self.list[i] = s;
        self.len += 1;
        Ok(())
    }
    /// The entries.
    pub fn as_slice(&self) -> &[Ssrc] {
        &self.list[..usize::from(self.len)]
    }
}

/// The RTP header as values: [`parse`](Self::parse) from a checked packet,
/// [`emit`](Self::emit) into a buffer. The extension block is kept raw (borrowed), so unknown
/// elements pass through untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader<'a> {
    /// Marker bit.
    pub marker: bool,
    /// Payload type.
    pub payload_type: PayloadType,
    /// Sequence number.
    pub sequence_number: SeqNo,
    /// Timestamp.
    pub timestamp: u32,
    /// SSRC.
    pub ssrc: Ssrc,
    /// Contributing sources.
    pub csrcs: Csrcs,
    /// Header extension block.
    pub extension: Option<RawExtension<'a>>,
}

impl<'a> RtpHeader<'a> {
    /// Reads the header of a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &'a RtpPacket<T>) -> RtpHeader<'a> {
        let mut csrcs = Csrcs::new();
        for c in packet.csrcs() {
            // A checked packet has at most 15 CSRCs (4-bit count).
            let _ = csrcs.push(c);
        }
        RtpHeader {
            marker: packet.marker(),
            payload_type: packet.payload_type(),
            sequence_number: packet.sequence_number(),
            timestamp: packet.timestamp(),
            ssrc: packet.ssrc(),
            csrcs,
            extension: packet.extension(),
        }
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        field::FIXED_LEN
            + 4 * self.csrcs.as_slice().len()
            + self
                .extension
                .map_or(0, |e| 4 + e.data.len().div_ceil(4) * 4)
    }

    /// Writes the header at the start of `buf` (P bit clear); returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BuildError> {
        self.emit_with_padding_bit(buf, false)
    }

    fn emit_with_padding_bit(&self, buf: &mut [u8], padding: bool) -> Result<usize, BuildError> {
        let len = self.buffer_len();
        need(buf, len)?;
        if let Some(e) = self.extension
            && e.data.len().div_ceil(4) > usize::from(u16::MAX)
        {
            return Err(BuildError::FieldOverflow {
                what: "extension length",
            });
        }
        let cc = self.csrcs.as_slice().len() as u8; // at most 15 by construction
        buf[field::VPXCC] = (VERSION << 6)
            | (u8::from(padding) << 5)
            | (u8::from(self.extension.is_some()) << 4)
            | cc;
        buf[field::MPT] = (u8::from(self.marker) << 7) | self.payload_type.get();
        buf[field::SEQ].copy_from_slice(&self.sequence_number.0.to_be_bytes());
        buf[field::TIMESTAMP].copy_from_slice(&self.timestamp.to_be_bytes());
        buf[field::SSRC].copy_from_slice(&self.ssrc.0.to_be_bytes());
        let mut at = field::FIXED_LEN;
        for c in self.csrcs.as_slice() {
            buf[at..at + 4].copy_from_slice(&c.0.to_be_bytes());
            at += 4;
        }
        if let Some(e) = self.extension {
            let words = e.data.len().div_ceil(4);
            buf[at..at + 2].copy_from_slice(&e.profile.to_be_bytes());
            // Checked against u16::MAX above.
            buf[at + 2..at + 4].copy_from_slice(&(words as u16).to_be_bytes());
            at += 4;
            buf[at..at + e.data.len()].copy_from_slice(e.data);
            buf[at + e.data.len()..at + 4 * words].fill(0);
            at += 4 * words;
        }
        Ok(at)
    }

    /// Writes a whole packet: this header, `payload`, then `padding` bytes of padding
    /// (0 for none; the last one holds the count, RFC 3550 section 5.1). Returns its length.
    pub fn emit_packet(
        &self,
        payload: &[u8],
        padding: u8,
        buf: &mut [u8],
    ) -> Result<usize, BuildError> {
        let total = self.buffer_len() + payload.len() + usize::from(padding);
        need(buf, total)?;
        let h = self.emit_with_padding_bit(buf, padding != 0)?;
        buf[h..h + payload.len()].copy_from_slice(payload);
        if padding != 0 {
            let p = h + payload.len();
            buf[p..total - 1].fill(0);
            buf[total - 1] = padding;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrtc_types::ExtensionId;
    use hex_literal::hex;

    /// A test's extension id (never 0).
    fn ext_id(n: u8) -> ExtensionId {
        ExtensionId::new(n).expect("test ids are not 0")
    }

    // RTP packet with one CSRC, a one-byte extension block carrying ids 1 (len 1) and 3
    // (len 2) plus a padding byte, 3 payload bytes and 2 padding bytes.
    const PKT: [u8; 33] = hex!(
        "b1 e0 12 34  00 00 03 e8  de ad be ef  00 00 00 07"
        "be de 00 02  10 aa 31 bb cc 00 00 00"
        "01 02 03 00 02"
    );

    #[test]
    fn parse_fixture() {
        let p = RtpPacket::new_checked(&PKT[..]).unwrap();
        assert_eq!(p.version(), 2);
        assert!(p.has_padding());
        assert!(p.has_extension());
        assert!(p.marker());
        assert_eq!(p.payload_type().get(), 0x60);
        assert_eq!(p.sequence_number(), SeqNo(0x1234));
        assert_eq!(p.timestamp(), 1000);
        assert_eq!(p.ssrc(), Ssrc(0xdeadbeef));
        assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![Ssrc(7)]);
        assert_eq!(p.header_len(), 28);
        assert_eq!(p.padding_len(), 2);
        assert_eq!(p.payload(), &[1, 2, 3]);
        let ext = p.extension().unwrap();
        assert_eq!(ext.form(), Some(ExtensionForm::OneByte));
        let els: Vec<_> = ext.elements().map(Result::unwrap).collect();
        assert_eq!(
            els,
            vec![
                ExtensionElement {
                    id: ext_id(1),
                    data: &[0xaa]
                },
                ExtensionElement {
                    id: ext_id(3),
                    data: &[0xbb, 0xcc]
                }
            ]
        );
        assert_eq!(p.extension_value(ext_id(3)), Some(&[0xbb, 0xcc][..]));
        assert_eq!(p.extension_value(ext_id(4)), None);
    }

    #[test]
    fn reemit_is_byte_exact() {
        let p = RtpPacket::new_checked(&PKT[..]).unwrap();
        let h = RtpHeader::parse(&p);
        let mut out = [0u8; 64];
        let n = h
            .emit_packet(p.payload(), p.padding_len() as u8, &mut out)
            .unwrap();
        assert_eq!(&out[..n], &PKT[..]);
    }

    #[test]
    fn setters_rewrite_in_place() {
        let mut buf = PKT;
        let mut p = RtpPacket::new_checked(&mut buf[..]).unwrap();
        p.set_marker(false);
        p.set_payload_type(PayloadType::new(97).unwrap());
        p.set_sequence_number(SeqNo(9));
        p.set_timestamp(77);
        p.set_ssrc(Ssrc(5));
        p.payload_mut().copy_from_slice(&[9, 9, 9]);
        p.extension_value_mut(ext_id(3))
            .unwrap()
            .copy_from_slice(&[1, 2]);
        let p = RtpPacket::new_checked(&buf[..]).unwrap();
        assert!(!p.marker());
        assert_eq!(p.payload_type().get(), 97);
        assert_eq!(p.sequence_number(), SeqNo(9));
        assert_eq!(p.timestamp(), 77);
        assert_eq!(p.ssrc(), Ssrc(5));
        assert_eq!(p.payload(), &[9, 9, 9]);
        assert_eq!(p.extension_value(ext_id(3)), Some(&[1, 2][..]));
        assert_eq!(p.extension_value(ext_id(1)), Some(&[0xaa][..]));
    }

    #[test]
    fn one_byte_element_naming_id_0_is_skipped() {
        // 0x01: id 0 (padding's, never an id) with a 2-byte value; then id 1 with 0xaa.
        let data = hex!("01 ee ee 10 aa 00 00 00");
        let ext = RawExtension {
            profile: PROFILE_ONE_BYTE,
            data: &data,
        };
        let els: Vec<_> = ext.elements().map(Result::unwrap).collect();
        assert_eq!(
            els,
            vec![ExtensionElement {
                id: ext_id(1),
                data: &[0xaa]
            }]
        );
    }

    #[test]
    fn two_byte_elements() {
        // RFC 8285 section 4.3: id 1 with an empty value, id 200 with 3 bytes.
        let data = hex!("01 00 c8 03 aa bb cc 00");
        let ext = RawExtension {
            profile: 0x1000,
            data: &data,
        };
        let els: Vec<_> = ext.elements().map(Result::unwrap).collect();
        assert_eq!(els.len(), 2);
        assert_eq!(els[0].id, ext_id(1));
        assert!(els[0].data.is_empty());
        assert_eq!(els[1].id, ext_id(200));
        assert_eq!(els[1].data, &[0xaa, 0xbb, 0xcc]);
    }

    #[test]
    fn one_byte_id15_stops() {
        let data = hex!("10 aa f0 20 bb 00 00 00");
        let ext = RawExtension {
            profile: PROFILE_ONE_BYTE,
            data: &data,
        };
        assert_eq!(ext.elements().count(), 1);
    }

    #[test]
    fn overrun_is_an_error() {
        let data = hex!("13 aa bb 00");
        let ext = RawExtension {
            profile: PROFILE_ONE_BYTE,
            data: &data,
        };
        let v: Vec<_> = ext.elements().collect();
        assert_eq!(v, vec![Err(ParseError::ExtensionOverrun)]);
        let data = hex!("05");
        let ext = RawExtension {
            profile: PROFILE_TWO_BYTE,
            data: &data,
        };
        assert_eq!(
            ext.elements().next(),
            Some(Err(ParseError::ExtensionOverrun))
        );
    }

    #[test]
    fn malformed_headers() {
        assert!(matches!(
            RtpPacket::new_checked(&[0x80u8; 11][..]),
            Err(ParseError::TooShort { .. })
        ));
        let mut b = PKT;
        b[0] = 0x71;
        assert_eq!(
            RtpPacket::new_checked(&b[..]).unwrap_err(),
            ParseError::BadVersion(1)
        );
        // 15 CSRCs declared in a 33-byte packet.
        let mut b = PKT;
        b[0] = 0xbf;
        assert!(matches!(
            RtpPacket::new_checked(&b[..]),
            Err(ParseError::TooShort { .. })
        ));
        // Padding count larger than the body.
        let mut b = PKT;
        b[32] = 9;
        assert!(matches!(
            RtpPacket::new_checked(&b[..]),
            Err(ParseError::BadPadding { count: 9, .. })
        ));
        b[32] = 0;
        assert!(matches!(
            RtpPacket::new_checked(&b[..]),
            Err(ParseError::BadPadding { count: 0, .. })
        ));
        // Header-only check ignores padding (encrypted payload).
        assert_eq!(
            RtpPacket::new_checked_header(&b[..])
                .unwrap()
                .payload()
                .len(),
            5
        );
        // Extension length overruns.
        let mut b = PKT;
        b[19] = 9;
        assert!(matches!(
            RtpPacket::new_checked(&b[..]),
            Err(ParseError::TooShort { .. })
        ));
    }

    #[test]
    fn writer_builds_blocks() {
        let mut store = [0u8; 32];
        let mut w = ExtensionWriter::new(&mut store, ExtensionForm::OneByte);
        w.push(ext_id(1), &[0xaa])
            .unwrap()
            .push(ext_id(3), &[0xbb, 0xcc])
            .unwrap();
        assert_eq!(
            w.push(ext_id(15), &[1]).unwrap_err(),
            BuildError::BadExtensionId(ext_id(15))
        );
        assert!(w.push(ext_id(2), &[0; 17]).is_err());
        let ext = w.finish().unwrap();
        assert_eq!(ext.profile, PROFILE_ONE_BYTE);
        assert_eq!(ext.data, &hex!("10 aa 31 bb cc 00 00 00"));

        let mut store = [0u8; 8];
        let mut w = ExtensionWriter::new(&mut store, ExtensionForm::TwoByte);
        w.push(ext_id(200), &[1, 2, 3, 4]).unwrap();
        assert!(matches!(
            w.push(ext_id(201), &[1, 2, 3]),
            Err(BuildError::BufferTooSmall { .. })
        ));
        let ext = w.finish().unwrap();
        assert_eq!(ext.data, &hex!("c8 04 01 02 03 04 00 00"));
    }

    #[test]
    fn emit_needs_room() {
        let p = RtpPacket::new_checked(&PKT[..]).unwrap();
        let h = RtpHeader::parse(&p);
        let mut out = [0u8; 20];
        assert_eq!(
            h.emit(&mut out),
            Err(BuildError::BufferTooSmall {
                needed: 28,
                available: 20
            })
        );
        assert!(Csrcs::from_slice(&[Ssrc(1); 16]).is_err());
    }
}
