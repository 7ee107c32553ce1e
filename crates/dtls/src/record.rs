//! The DTLS record layer wire format (RFC 6347 §4.1): a checked zero-copy view over one
//! record, an iterator over the records of a datagram, and the header repr.

use crate::codec::put_u48;
use crate::error::DecodeError;

/// DTLS 1.2 on the wire: `{254, 253}` (RFC 6347 §4.1).
pub const DTLS_1_2: u16 = 0xfefd;
/// DTLS 1.0 on the wire: `{254, 255}` (RFC 4347 §4.1); allowed in a first ClientHello's record.
pub const DTLS_1_0: u16 = 0xfeff;
/// Length of a DTLSPlaintext header (RFC 6347 §4.1).
pub const HEADER_LEN: usize = 13;
/// Largest record fragment accepted: 2^14 plus the 2048 bytes of expansion TLSCiphertext
/// allows (RFC 5246 §6.2.3).
pub const MAX_FRAGMENT_LEN: usize = (1 << 14) + 2048;

/// ContentType (RFC 5246 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// change_cipher_spec (0x14).
    ChangeCipherSpec = 0x14,
    /// alert (0x15).
    Alert = 0x15,
    /// handshake (0x16).
    Handshake = 0x16,
    /// application_data (0x17).
    ApplicationData = 0x17,
}

impl TryFrom<u8> for ContentType {
    type Error = DecodeError;
    fn try_from(v: u8) -> Result<Self, DecodeError> {
        Ok(match v {
            0x14 => ContentType::ChangeCipherSpec,
            0x15 => ContentType::Alert,
            0x16 => ContentType::Handshake,
            0x17 => ContentType::ApplicationData,
            other => return Err(DecodeError::UnknownContentType(other)),
        })
    }
}

mod field {
    use core::ops::Range;
    pub const CONTENT_TYPE: usize = 0;
    pub const VERSION: Range<usize> = 1..3;
    pub const EPOCH: Range<usize> = 3..5;
    pub const SEQUENCE: Range<usize> = 5..11;
    pub const LENGTH: Range<usize> = 11..13;
}

/// A checked view over one DTLS record (header plus fragment).
///
/// [`Record::new_checked`] validates the header once; no accessor can panic afterwards.
#[derive(Debug, Clone, Copy)]
pub struct Record<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Record<T> {
    /// Wraps `buffer`, which must hold exactly one record: header fields valid, length
    /// field equal to the bytes that follow it.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(DecodeError::Truncated);
        }
        ContentType::try_from(b[field::CONTENT_TYPE])?;
        let version = u16::from_be_bytes([b[1], b[2]]);
        if version != DTLS_1_2 && version != DTLS_1_0 {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let len = u16::from_be_bytes([b[11], b[12]]) as usize;
        if len > MAX_FRAGMENT_LEN {
            return Err(DecodeError::InvalidLength);
        }
        match (HEADER_LEN + len).cmp(&b.len()) {
            core::cmp::Ordering::Greater => Err(DecodeError::Truncated),
            core::cmp::Ordering::Less => Err(DecodeError::TrailingBytes),
            core::cmp::Ordering::Equal => Ok(Record { buffer }),
        }
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The content type (validated by `new_checked`).
    pub fn content_type(&self) -> ContentType {
        // `new_checked` rejected unknown types, so the fallback is never taken.
        ContentType::try_from(self.b()[field::CONTENT_TYPE]).unwrap_or(ContentType::Alert)
    }

    /// The protocol version field.
    pub fn version(&self) -> u16 {
        let v = &self.b()[field::VERSION];
        u16::from_be_bytes([v[0], v[1]])
    }

    /// The epoch (RFC 6347 §4.1).
    pub fn epoch(&self) -> u16 {
        let v = &self.b()[field::EPOCH];
        u16::from_be_bytes([v[0], v[1]])
    }

    /// The 48-bit sequence number.
    pub fn sequence_number(&self) -> u64 {
        let v = &self.b()[field::SEQUENCE];
        u64::from_be_bytes([0, 0, v[0], v[1], v[2], v[3], v[4], v[5]])
    }

    /// The length field (equal to `fragment().len()`).
    pub fn length(&self) -> u16 {
        let v = &self.b()[field::LENGTH];
        u16::from_be_bytes([v[0], v[1]])
    }

    /// The header bytes.
    pub fn header(&self) -> &[u8] {
        &self.b()[..HEADER_LEN]
    }

    /// The record payload (plaintext in epoch 0, ciphertext after).
    pub fn fragment(&self) -> &[u8] {
        &self.b()[HEADER_LEN..]
    }

    /// The decoded header.
    pub fn repr(&self) -> RecordHeader {
        RecordHeader {
            content_type: self.content_type(),
            version: self.version(),
            epoch: self.epoch(),
            sequence_number: self.sequence_number(),
            length: self.length(),
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

/// A DTLSPlaintext / DTLSCiphertext header (RFC 6347 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordHeader {
    /// Content type.
    pub content_type: ContentType,
    /// Protocol version.
    pub version: u16,
    /// Epoch.
    pub epoch: u16,
    /// 48-bit sequence number.
    pub sequence_number: u64,
    /// Fragment length.
    pub length: u16,
}

impl RecordHeader {
    /// Appends the 13 header bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.content_type as u8);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        put_u48(out, self.sequence_number & 0xffff_ffff_ffff);
        out.extend_from_slice(&self.length.to_be_bytes());
    }

    /// The 13 header bytes, as [`RecordHeader::emit`] appends them.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0] = self.content_type as u8;
        h[1..3].copy_from_slice(&self.version.to_be_bytes());
        h[3..5].copy_from_slice(&self.epoch.to_be_bytes());
        h[5..11].copy_from_slice(&self.sequence_number.to_be_bytes()[2..]);
        h[11..13].copy_from_slice(&self.length.to_be_bytes());
        h
    }
}

/// Splits a datagram into records (RFC 6347 §4.1.1: several records may share a datagram).
///
/// Yields `Err` once for a malformed record and then stops, since the rest of the datagram
/// cannot be delimited.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Records<'a> {
    /// Iterates over the records in `datagram`.
    pub fn new(datagram: &'a [u8]) -> Self {
        Records { rest: datagram }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<&'a [u8]>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        if self.rest.len() < HEADER_LEN {
            self.rest = &[];
            return Some(Err(DecodeError::Truncated));
        }
        let len = u16::from_be_bytes([self.rest[11], self.rest[12]]) as usize;
        let end = HEADER_LEN + len;
        if end > self.rest.len() {
            self.rest = &[];
            return Some(Err(DecodeError::Truncated));
        }
        let (this, rest) = self.rest.split_at(end);
        let out = Record::new_checked(this);
        self.rest = if out.is_ok() { rest } else { &[] };
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn parses_and_re_emits_a_record() {
        let bytes = hex!("16 fe fd 0001 0000 0000 0005 0003 aa bb cc");
        let rec = Record::new_checked(&bytes[..]).unwrap();
        assert_eq!(rec.content_type(), ContentType::Handshake);
        assert_eq!(rec.epoch(), 1);
        assert_eq!(rec.sequence_number(), 5);
        assert_eq!(rec.fragment(), &[0xaa, 0xbb, 0xcc]);
        let mut out = Vec::new();
        rec.repr().emit(&mut out);
        out.extend_from_slice(rec.fragment());
        assert_eq!(out, bytes);
    }

    #[test]
    fn rejects_bad_headers() {
        let short = hex!("16 fe fd 0000 0000 0000 0000 0005 aa");
        assert_eq!(
            Record::new_checked(&short[..]).unwrap_err(),
            DecodeError::Truncated
        );
        let ty = hex!("18 fe fd 0000 0000 0000 0000 0000");
        assert_eq!(
            Record::new_checked(&ty[..]).unwrap_err(),
            DecodeError::UnknownContentType(0x18)
        );
        let ver = hex!("16 03 03 0000 0000 0000 0000 0000");
        assert_eq!(
            Record::new_checked(&ver[..]).unwrap_err(),
            DecodeError::UnsupportedVersion(0x0303)
        );
    }

    #[test]
    fn splits_a_datagram() {
        let d =
            hex!("15 fe fd 0001 0000 0000 0001 0002 0100 17 fe fd 0001 0000 0000 0002 0001 ff 16");
        let mut it = Records::new(&d);
        assert_eq!(it.next().unwrap().unwrap().fragment(), &[1, 0]);
        assert_eq!(it.next().unwrap().unwrap().fragment(), &[0xff]);
        assert_eq!(it.next().unwrap().unwrap_err(), DecodeError::Truncated);
        assert!(it.next().is_none());
    }
}
