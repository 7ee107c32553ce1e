//! [`MessageBuilder`]: writes a STUN message into a caller-supplied buffer.

use hmac::Mac;
use ring::hmac as ring_hmac;

use super::attr::{
    Attribute, AttributeType, PasswordAlgorithm, PasswordAlgorithms, UnknownAttributes, pad4,
};
use super::credentials::IntegrityKey;
use super::error::EncodeError;
use super::header::{HEADER_LEN, MAGIC_COOKIE, MessageType, TransactionId, field};
use super::message::FINGERPRINT_XOR;

/// Where the builder is relative to the trailing attributes (RFC 8489 section 9 and 14.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Body,
    AfterIntegrity,
    AfterIntegritySha256,
    AfterFingerprint,
}

/// Writes one STUN message at the end of a caller-supplied `Vec<u8>`.
///
/// The header is written by [`new`](MessageBuilder::new) and its length field is kept up to
/// date after every attribute, so the buffer always holds a complete message. Integrity and
/// fingerprint are computed by [`add_message_integrity`](MessageBuilder::add_message_integrity),
/// [`add_message_integrity_sha256`](MessageBuilder::add_message_integrity_sha256) and
/// [`add_fingerprint`](MessageBuilder::add_fingerprint), over the right prefix and with the
/// length field covering the attribute being computed (RFC 8489 sections 14.5 to 14.7). The
/// builder refuses attributes a receiver would ignore (after an integrity attribute) or that
/// would break the message (after FINGERPRINT).
///
/// Bytes already in the vector are left alone, so a caller can put a framing header first.
///
/// ```
/// use ferrtc_stun_ice::stun::{
///     Attribute, Class, IntegrityKey, Message, MessageBuilder, MessageType, Method, TransactionId,
/// };
/// let key = IntegrityKey::short_term("password");
/// let mut out = Vec::new();
/// let mut b = MessageBuilder::new(&mut out, MessageType::new(Class::Request, Method::BINDING),
///                                 TransactionId([7; 12]));
/// b.add(&Attribute::Username("remote:local"))?
///  .add(&Attribute::Priority(0x6e00_01ff))?
///  .add(&Attribute::IceControlling(42))?
///  .add_message_integrity(&key)?
///  .add_fingerprint()?;
/// let len = b.finish().len();
///
/// let msg = Message::new_checked(&out[..len]).unwrap();
/// assert!(msg.check_integrity(&key).is_ok() && msg.check_fingerprint().is_ok());
/// # Ok::<(), ferrtc_stun_ice::stun::EncodeError>(())
/// ```
#[derive(Debug)]
pub struct MessageBuilder<'b> {
    out: &'b mut Vec<u8>,
    start: usize,
    txid: TransactionId,
    padding: u8,
    phase: Phase,
}

impl<'b> MessageBuilder<'b> {
    /// Appends the 20-byte header of a message of type `message_type` to `out`.
    pub fn new(out: &'b mut Vec<u8>, message_type: MessageType, txid: TransactionId) -> Self {
        let start = out.len();
        out.extend_from_slice(&message_type.to_u16().to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        out.extend_from_slice(&txid.0);
        MessageBuilder {
            out,
            start,
            txid,
            padding: 0,
            phase: Phase::Body,
        }
    }

    /// Sets the byte used to pad attribute values to 4 bytes (zero unless changed; RFC 8489
    /// section 14 says zero, receivers ignore it; RFC 5769's vectors use spaces).
    pub fn with_padding(mut self, byte: u8) -> Self {
        self.padding = byte;
        self
    }

    /// The transaction id being written.
    pub const fn transaction_id(&self) -> TransactionId {
        self.txid
    }

    /// Length of the message so far, header included.
    pub fn len(&self) -> usize {
        self.out.len() - self.start
    }

    /// Always false: a message has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends an attribute. MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT given
    /// here are written verbatim (for relaying or tests); to compute them use the dedicated
    /// methods.
    pub fn add(&mut self, attr: &Attribute<'_>) -> Result<&mut Self, EncodeError> {
        attr.validate()?;
        let ty = attr.attribute_type();
        let next = self.next_phase(ty)?;
        let len = attr.value_len();
        self.reserve(len)?;
        self.write_header(ty, len);
        let before = self.out.len();
        attr.write_value(&self.txid, self.padding, self.out);
        debug_assert_eq!(self.out.len() - before, len);
        self.pad(len);
        self.phase = next;
        self.update_length();
        Ok(self)
    }

    /// Appends UNKNOWN-ATTRIBUTES listing `types` (for a 420 response, RFC 8489 section 14.13).
    pub fn add_unknown_attributes(
        &mut self,
        types: &[AttributeType],
    ) -> Result<&mut Self, EncodeError> {
        let mut value = Vec::with_capacity(types.len() * 2);
        UnknownAttributes::encode(types, &mut value);
        let list =
            UnknownAttributes::new_checked(&value).map_err(|_| EncodeError::ValueTooLong {
                attr: AttributeType::UNKNOWN_ATTRIBUTES,
                len: value.len(),
            })?;
        self.add(&Attribute::UnknownAttributes(list))
    }

    /// Appends PASSWORD-ALGORITHMS listing `algorithms` (RFC 8489 section 14.11).
    pub fn add_password_algorithms(
        &mut self,
        algorithms: &[PasswordAlgorithm<'_>],
    ) -> Result<&mut Self, EncodeError> {
        let too_long = EncodeError::ValueTooLong {
            attr: AttributeType::PASSWORD_ALGORITHMS,
            len: algorithms
                .iter()
                .map(|a| 4 + pad4(a.parameters.len()))
                .sum(),
        };
        let mut value = Vec::new();
        PasswordAlgorithms::encode(algorithms, &mut value).ok_or(too_long)?;
        let list = PasswordAlgorithms::new_checked(&value).map_err(|_| too_long)?;
        self.add(&Attribute::PasswordAlgorithms(list))
    }

    /// Appends MESSAGE-INTEGRITY: HMAC-SHA1 with `key` over the message so far, the length
    /// field covering the attribute (RFC 8489 section 14.5).
    pub fn add_message_integrity(&mut self, key: &IntegrityKey) -> Result<&mut Self, EncodeError> {
        self.add_hmac(AttributeType::MESSAGE_INTEGRITY, key, 20)
    }

    /// Appends a full 32-byte MESSAGE-INTEGRITY-SHA256: HMAC-SHA256 with `key` over the message
    /// so far (RFC 8489 section 14.6).
    pub fn add_message_integrity_sha256(
        &mut self,
        key: &IntegrityKey,
    ) -> Result<&mut Self, EncodeError> {
        self.add_hmac(AttributeType::MESSAGE_INTEGRITY_SHA256, key, 32)
    }

    /// Appends MESSAGE-INTEGRITY-SHA256 truncated to `len` bytes, which must be 16 to 32 in
    /// steps of 4; only for STUN usages that allow truncation (RFC 8489 section 14.6).
    pub fn add_message_integrity_sha256_truncated(
        &mut self,
        key: &IntegrityKey,
        len: usize,
    ) -> Result<&mut Self, EncodeError> {
        if !(16..=32).contains(&len) || len % 4 != 0 {
            return Err(EncodeError::InvalidValue {
                attr: AttributeType::MESSAGE_INTEGRITY_SHA256,
            });
        }
        self.add_hmac(AttributeType::MESSAGE_INTEGRITY_SHA256, key, len)
    }

    /// Appends MESSAGE-INTEGRITY (HMAC-SHA1) if `ty` is that type, else
    /// MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256 truncated to `len`).
    fn add_hmac(
        &mut self,
        ty: AttributeType,
        key: &IntegrityKey,
        len: usize,
    ) -> Result<&mut Self, EncodeError> {
        let next = self.next_phase(ty)?;
        self.reserve(len)?;
        // The HMAC covers the message up to the attribute before this one, with the length
        // field already counting this attribute; the attribute itself is not part of the
        // input, so no dummy value is needed.
        self.set_length(self.len() - HEADER_LEN + 4 + len);
        let input = &self.out[self.start..];
        let mut tag = [0u8; 32];
        if ty == AttributeType::MESSAGE_INTEGRITY {
            let mut mac = key.sha1().clone();
            mac.update(input);
            tag[..20].copy_from_slice(&mac.finalize().into_bytes());
        } else {
            tag.copy_from_slice(ring_hmac::sign(key.sha256(), input).as_ref());
        }
        self.write_header(ty, len);
        self.out.extend_from_slice(&tag[..len]);
        self.phase = next;
        Ok(self)
    }

    /// Appends FINGERPRINT: CRC-32 of the message so far XOR `0x5354554e`, the length field
    /// covering the attribute (RFC 8489 section 14.7). Nothing can be added after it.
    pub fn add_fingerprint(&mut self) -> Result<&mut Self, EncodeError> {
        let next = self.next_phase(AttributeType::FINGERPRINT)?;
        self.reserve(4)?;
        // The CRC covers the message up to this attribute, with the length field counting it.
        self.set_length(self.len() - HEADER_LEN + 8);
        let crc = crc32fast::hash(&self.out[self.start..]) ^ FINGERPRINT_XOR;
        self.write_header(AttributeType::FINGERPRINT, 4);
        self.out.extend_from_slice(&crc.to_be_bytes());
        self.phase = next;
        Ok(self)
    }

    /// Ends the message and returns it (the bytes from where [`new`](MessageBuilder::new)
    /// started).
    pub fn finish(self) -> &'b [u8] {
        let out: &'b Vec<u8> = self.out;
        &out[self.start..]
    }

    /// The phase after adding `ty`, or the error if `ty` may not come now.
    fn next_phase(&self, ty: AttributeType) -> Result<Phase, EncodeError> {
        match (self.phase, ty) {
            (Phase::AfterFingerprint, attr) => Err(EncodeError::AfterFingerprint { attr }),
            (_, AttributeType::FINGERPRINT) => Ok(Phase::AfterFingerprint),
            (Phase::Body, AttributeType::MESSAGE_INTEGRITY) => Ok(Phase::AfterIntegrity),
            (Phase::Body | Phase::AfterIntegrity, AttributeType::MESSAGE_INTEGRITY_SHA256) => {
                Ok(Phase::AfterIntegritySha256)
            }
            (Phase::Body, _) => Ok(Phase::Body),
            (_, attr) => Err(EncodeError::AfterIntegrity { attr }),
        }
    }

    /// Checks that an attribute with a value of `len` bytes still fits the length field.
    fn reserve(&mut self, len: usize) -> Result<(), EncodeError> {
        let body = self.len() - HEADER_LEN + 4 + pad4(len);
        if body > usize::from(u16::MAX) {
            return Err(EncodeError::MessageTooLong);
        }
        self.out.reserve(4 + pad4(len));
        Ok(())
    }

    fn write_header(&mut self, ty: AttributeType, len: usize) {
        self.out.extend_from_slice(&ty.0.to_be_bytes());
        // `reserve` has checked that the whole message, so this value, fits in 16 bits.
        self.out.extend_from_slice(&(len as u16).to_be_bytes());
    }

    fn pad(&mut self, len: usize) {
        let padded = self.out.len() + pad4(len) - len;
        self.out.resize(padded, self.padding);
    }

    fn set_length(&mut self, body: usize) {
        // Callers went through `reserve`, which bounds the body to 16 bits.
        let bytes = (body as u16).to_be_bytes();
        let at = self.start + field::LENGTH.start;
        self.out[at..at + 2].copy_from_slice(&bytes);
    }

    fn update_length(&mut self) {
        self.set_length(self.len() - HEADER_LEN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stun::{Class, Message, Method};

    fn builder(out: &mut Vec<u8>) -> MessageBuilder<'_> {
        MessageBuilder::new(
            out,
            MessageType::new(Class::Request, Method::BINDING),
            TransactionId([3; 12]),
        )
    }

    #[test]
    fn order_rules() {
        let key = IntegrityKey::short_term("k");
        let mut out = Vec::new();
        let mut b = builder(&mut out);
        b.add_message_integrity(&key).unwrap();
        assert_eq!(
            b.add(&Attribute::Priority(1)).unwrap_err(),
            EncodeError::AfterIntegrity {
                attr: AttributeType::PRIORITY
            }
        );
        assert_eq!(
            b.add_message_integrity(&key).unwrap_err(),
            EncodeError::AfterIntegrity {
                attr: AttributeType::MESSAGE_INTEGRITY
            }
        );
        b.add_message_integrity_sha256(&key).unwrap();
        b.add_fingerprint().unwrap();
        assert_eq!(
            b.add_fingerprint().unwrap_err(),
            EncodeError::AfterFingerprint {
                attr: AttributeType::FINGERPRINT
            }
        );
        let len = b.finish().len();
        assert_eq!(len, 20 + 24 + 36 + 8);
        let msg = Message::new_checked(&out).unwrap();
        msg.check_integrity(&key).unwrap();
        msg.check_fingerprint().unwrap();
    }

    #[test]
    fn refusals_leave_the_message_valid() {
        let mut out = vec![0xAA, 0xBB];
        let mut b = builder(&mut out);
        b.add(&Attribute::Software("x")).unwrap();
        let big = vec![0u8; 65_532];
        assert_eq!(
            b.add(&Attribute::Data(&big)).unwrap_err(),
            EncodeError::MessageTooLong
        );
        let huge = vec![0u8; 70_000];
        assert_eq!(
            b.add(&Attribute::Data(&huge)).unwrap_err(),
            EncodeError::ValueTooLong {
                attr: AttributeType::DATA,
                len: 70_000
            }
        );
        assert_eq!(
            b.add_message_integrity_sha256_truncated(&IntegrityKey::short_term("k"), 18)
                .unwrap_err(),
            EncodeError::InvalidValue {
                attr: AttributeType::MESSAGE_INTEGRITY_SHA256
            }
        );
        let len = b.finish().len();
        assert_eq!(&out[..2], &[0xAA, 0xBB]);
        assert_eq!(len, 28);
        let msg = Message::new_checked(&out[2..]).unwrap();
        assert_eq!(msg.software(), Some("x"));
    }

    #[test]
    fn largest_message_fits() {
        let mut out = Vec::new();
        let mut b = builder(&mut out);
        // The body must stay a multiple of 4, so 65532 bytes is the most it can hold.
        assert_eq!(
            b.add(&Attribute::Data(&[7u8; 65_529])).unwrap_err(),
            EncodeError::MessageTooLong
        );
        let data = vec![7u8; 65_528];
        b.add(&Attribute::Data(&data)).unwrap();
        assert_eq!(b.len(), 20 + 65_532);
        assert!(!b.is_empty());
        assert_eq!(
            b.add(&Attribute::UseCandidate).unwrap_err(),
            EncodeError::MessageTooLong
        );
        assert_eq!(Message::new_checked(&out).unwrap().data(), Some(&data[..]));
    }

    #[test]
    fn helper_lists() {
        let mut out = Vec::new();
        let mut b = MessageBuilder::new(
            &mut out,
            MessageType::new(Class::ErrorResponse, Method::BINDING),
            TransactionId([3; 12]),
        );
        b.add(&Attribute::ErrorCode(crate::stun::ErrorCode {
            code: 420,
            reason: "Unknown Attribute",
        }))
        .unwrap()
        .add_unknown_attributes(&[
            AttributeType(0x0003),
            AttributeType(0x7777),
            AttributeType(0x0005),
        ])
        .unwrap()
        .add_password_algorithms(&[
            crate::stun::PasswordAlgorithm {
                algorithm: crate::stun::PasswordAlgorithmId::SHA256,
                parameters: &[],
            },
            crate::stun::PasswordAlgorithm {
                algorithm: crate::stun::PasswordAlgorithmId::MD5,
                parameters: &[],
            },
        ])
        .unwrap();
        let msg = Message::new_checked(&out).unwrap();
        assert_eq!(msg.error_code().map(|e| e.code), Some(420));
        let Some(Attribute::UnknownAttributes(u)) = msg.get(AttributeType::UNKNOWN_ATTRIBUTES)
        else {
            panic!("no UNKNOWN-ATTRIBUTES");
        };
        assert_eq!(
            u.iter().collect::<Vec<_>>(),
            [
                AttributeType(0x0003),
                AttributeType(0x7777),
                AttributeType(0x0005)
            ]
        );
        // 3 entries = 6 bytes, padded to 8.
        assert_eq!(out.len(), 20 + (4 + 4 + 20) + (4 + 8) + (4 + 8));
        let Some(Attribute::PasswordAlgorithms(p)) = msg.get(AttributeType::PASSWORD_ALGORITHMS)
        else {
            panic!("no PASSWORD-ALGORITHMS");
        };
        assert_eq!(p.iter().map(|a| a.algorithm.0).collect::<Vec<_>>(), [2, 1]);
    }
}
