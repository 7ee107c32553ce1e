//! Errors of the STUN codec: [`Error`] for what a peer sent, [`EncodeError`] for a message
//! this side asked the builder to write.

use super::attr::AttributeType;

/// A STUN message that is malformed or fails a check. Every variant is something a peer
/// sent; none of them is a bug on this side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Fewer bytes than the 20-byte header (RFC 8489 section 5).
    #[error("STUN message truncated: {len} bytes, the header alone is 20")]
    Truncated {
        /// Bytes available.
        len: usize,
    },
    /// The two most significant bits of the message are not zero (RFC 8489 section 5).
    #[error("not a STUN message: the first two bits are not zero")]
    NotStun,
    /// The magic cookie is not `0x2112A442` (RFC 8489 section 5).
    #[error("bad magic cookie 0x{0:08x}")]
    BadMagicCookie(u32),
    /// The length field is not a multiple of 4 (RFC 8489 section 5).
    #[error("message length {0} is not a multiple of 4")]
    UnalignedLength(u16),
    /// The length field does not match the bytes that follow the header.
    #[error("message length field says {declared} bytes after the header, {actual} are present")]
    LengthMismatch {
        /// The value of the length field.
        declared: usize,
        /// Bytes actually present after the header.
        actual: usize,
    },
    /// An attribute's value (with its padding) runs past the end of the message.
    #[error("attribute {attr} at offset {offset} runs past the end of the message")]
    AttributeOverrun {
        /// The attribute type.
        attr: AttributeType,
        /// Offset of the attribute header from the start of the message.
        offset: usize,
    },
    /// An attribute this crate knows has a value that breaks its format.
    #[error("malformed {attr} attribute: {reason}")]
    MalformedAttribute {
        /// The attribute type.
        attr: AttributeType,
        /// What is wrong with it.
        reason: AttributeError,
    },
    /// FINGERPRINT is followed by another attribute (RFC 8489 section 14.7: it MUST be last).
    #[error("FINGERPRINT is not the last attribute")]
    FingerprintNotLast,
    /// Comprehension-required attributes (types below 0x8000) this crate does not understand
    /// (RFC 8489 section 6.3: a request gets a 420 response listing them, a response is
    /// discarded).
    #[error("unknown comprehension-required attributes {0:?}")]
    UnknownComprehensionRequired(Vec<AttributeType>),
    /// Integrity was asked for but the message has neither MESSAGE-INTEGRITY nor
    /// MESSAGE-INTEGRITY-SHA256.
    #[error("message has no MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256 attribute")]
    MissingIntegrity,
    /// The MESSAGE-INTEGRITY HMAC-SHA1 does not match the key (RFC 8489 section 14.5).
    #[error("MESSAGE-INTEGRITY does not match")]
    IntegrityMismatch,
    /// The MESSAGE-INTEGRITY-SHA256 HMAC does not match the key (RFC 8489 section 14.6).
    #[error("MESSAGE-INTEGRITY-SHA256 does not match")]
    IntegritySha256Mismatch,
    /// A fingerprint check was asked for but the message has no FINGERPRINT.
    #[error("message has no FINGERPRINT attribute")]
    MissingFingerprint,
    /// The FINGERPRINT CRC does not match the message (RFC 8489 section 14.7).
    #[error(
        "FINGERPRINT mismatch: attribute says 0x{received:08x}, message gives 0x{computed:08x}"
    )]
    FingerprintMismatch {
        /// The value in the attribute.
        received: u32,
        /// The value computed over the message.
        computed: u32,
    },
}

/// What is wrong with a malformed attribute value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttributeError {
    /// The value has a length this attribute cannot have.
    #[error("invalid value length {0}")]
    Length(u16),
    /// An address family other than IPv4 (0x01) or IPv6 (0x02), or one whose address length
    /// does not match it.
    #[error("invalid address family 0x{0:02x}")]
    AddressFamily(u8),
    /// A text attribute that is not UTF-8.
    #[error("value is not UTF-8")]
    Utf8,
    /// An error code whose number (code modulo 100) is above 99 (RFC 8489 section 14.8).
    #[error("error code number {0} above 99")]
    ErrorCodeNumber(u8),
    /// A PASSWORD-ALGORITHM(S) entry whose parameters run past the attribute or do not fill it.
    #[error("password algorithm parameters do not fit the attribute")]
    AlgorithmParameters,
}

/// A message the builder was asked to write that cannot be written. These are mistakes on
/// this side, not a peer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message would exceed the 16-bit length field (65535 bytes after the header).
    #[error("message would be longer than the 16-bit length field allows")]
    MessageTooLong,
    /// The attribute value is longer than 65535 bytes or than its format allows.
    #[error("{attr} value of {len} bytes is too long")]
    ValueTooLong {
        /// The attribute type.
        attr: AttributeType,
        /// The value length asked for.
        len: usize,
    },
    /// An attribute value that its format cannot express (an error code above 799, a
    /// MESSAGE-INTEGRITY-SHA256 that is not 16 to 32 bytes in steps of 4, ...).
    #[error("{attr} value cannot be encoded")]
    InvalidValue {
        /// The attribute type.
        attr: AttributeType,
    },
    /// An attribute added after MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256, where a
    /// receiver would ignore it (RFC 8489 section 9). Only the other integrity attribute and
    /// FINGERPRINT may follow.
    #[error("{attr} added after message integrity, where receivers ignore it")]
    AfterIntegrity {
        /// The attribute type.
        attr: AttributeType,
    },
    /// An attribute added after FINGERPRINT, which must be last (RFC 8489 section 14.7).
    #[error("{attr} added after FINGERPRINT, which must be last")]
    AfterFingerprint {
        /// The attribute type.
        attr: AttributeType,
    },
}
