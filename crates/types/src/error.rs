//! The one error of this crate: a value that cannot be one of its types.

use crate::HashAlgorithm;

/// A value outside what a vocabulary type can hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// A payload type above 127 (RFC 3550 §5.1: 7 bits).
    #[error("payload type {0} is above 127")]
    PayloadTypeOutOfRange(u16),
    /// A header extension id outside 1..=255 (RFC 8285 §4.2, §4.3).
    #[error("header extension id {0} is outside 1..=255")]
    ExtensionIdOutOfRange(u16),
    /// A MID that is empty or holds a space or a control character (RFC 5888 §4).
    #[error("invalid MID: empty, or holds a space or control character")]
    InvalidMid,
    /// A RID that is empty, longer than 255 bytes, or holds something other than ASCII
    /// letters, digits, `-` and `_` (RFC 8851 §10).
    #[error("invalid RID: must be 1 to 255 of A-Z a-z 0-9 - _")]
    InvalidRid,
    /// A hash function name other than sha-1, sha-256, sha-384 and sha-512.
    #[error("unknown hash function")]
    UnknownHashAlgorithm,
    /// A digest whose length is not the hash function's output length.
    #[error("a {algorithm} digest is {expected} bytes, not {actual}")]
    FingerprintLength {
        /// The hash function.
        algorithm: HashAlgorithm,
        /// Its output length.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// A fingerprint that is not colon-separated pairs of hex digits.
    #[error("fingerprint is not colon-separated hex pairs")]
    MalformedFingerprint,
}
