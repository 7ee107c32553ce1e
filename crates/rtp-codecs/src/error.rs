//! Errors: what a peer sent wrong ([`ParseError`]) kept apart from what a caller asked wrong
//! ([`BuildError`]).

use ferrtc_types::ExtensionId;
use thiserror::Error;

/// A packet from the network does not follow its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Fewer bytes than the fixed part of the structure needs.
    #[error("{what}: {len} bytes, need at least {needed}")]
    TooShort {
        /// Which structure.
        what: &'static str,
        /// Bytes present.
        len: usize,
        /// Bytes the structure needs.
        needed: usize,
    },
    /// The version field is not 2 (RFC 3550 section 5.1 / 6.4.1).
    #[error("version {0}, expected 2")]
    BadVersion(u8),
    /// The padding count is zero or larger than the packet body (RFC 3550 section 5.1).
    #[error("padding count {count} invalid for a body of {body} bytes")]
    BadPadding {
        /// The padding count in the last octet.
        count: u8,
        /// Bytes available after the header.
        body: usize,
    },
    /// A header extension element runs past the extension block (RFC 8285 section 4).
    #[error("header extension element overruns the extension block")]
    ExtensionOverrun,
    /// An extension's value has the wrong length or content for its registered kind.
    #[error("header extension {kind:?} has a malformed value of {len} bytes")]
    BadExtensionValue {
        /// The kind mapped to the element's id.
        kind: crate::ExtensionKind,
        /// The value's length.
        len: usize,
    },
    /// An RTCP packet's length field points past the end of the compound packet
    /// (RFC 3550 section 6.4.1).
    #[error("RTCP length field ({words} words) overruns the {len} remaining bytes")]
    RtcpLengthOverrun {
        /// The length field plus one, in 32-bit words.
        words: usize,
        /// Bytes remaining in the datagram.
        len: usize,
    },
    /// An RTCP packet's body does not match its type (count, fixed fields, list lengths).
    #[error("malformed RTCP {what}")]
    BadRtcp {
        /// Which packet type or field.
        what: &'static str,
    },
}

/// A caller asked for something that cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The output buffer is too small.
    #[error("buffer of {available} bytes, need {needed}")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// A count or length does not fit its wire field (e.g. more than 15 CSRCs, more than
    /// 31 report blocks, an extension value too long for its form).
    #[error("{what} does not fit its wire field")]
    FieldOverflow {
        /// Which field.
        what: &'static str,
    },
    /// An extension id the one-byte form cannot carry (above 14, RFC 8285 section 4.2).
    #[error("extension id {0} not allowed in this form")]
    BadExtensionId(ExtensionId),
}

/// Writes `len` bytes must fit in `buf`.
pub(crate) fn need(buf: &[u8], len: usize) -> Result<(), BuildError> {
    if buf.len() < len {
        Err(BuildError::BufferTooSmall {
            needed: len,
            available: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// A frame cannot be split into packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PacketizeError {
    /// The payload size limit leaves no room for the payload format's own headers.
    #[error("payload limit of {max_payload} bytes is too small")]
    PayloadLimitTooSmall {
        /// The limit given.
        max_payload: usize,
    },
    /// A unit that the mode cannot split is larger than a packet (e.g. an H.264 NAL unit in
    /// packetization-mode 0, RFC 6184 section 6.2; an audio frame).
    #[error("unit of {len} bytes exceeds the payload limit of {max_payload}")]
    UnitTooLarge {
        /// The unit's length.
        len: usize,
        /// The limit.
        max_payload: usize,
    },
    /// The frame is empty or not in the expected form (e.g. no NAL unit in an H.264 frame).
    #[error("malformed frame: {what}")]
    MalformedFrame {
        /// What is wrong.
        what: &'static str,
    },
}

/// Packets cannot be turned into a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DepacketizeError {
    /// A payload is malformed for this format (truncated descriptor, bad aggregation sizes).
    #[error("malformed payload: {what}")]
    Malformed {
        /// What is wrong.
        what: &'static str,
    },
    /// The packets do not make a whole frame: one is missing (no start, a fragment gap,
    /// no end).
    #[error("incomplete frame: {what}")]
    Incomplete {
        /// What is missing.
        what: &'static str,
    },
    /// A packet type this depacketizer does not handle (e.g. H.264 STAP-B, MTAP, FU-B).
    #[error("unsupported payload: {what}")]
    Unsupported {
        /// What it is.
        what: &'static str,
    },
}
