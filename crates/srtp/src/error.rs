//! The one error type of this crate.

use ferrtc_types::Ssrc;

/// Why a protect or unprotect call (or a context constructor) failed.
///
/// Variants fall in two groups. Peer misbehaviour and damage on the wire (everything an
/// `unprotect_*` call can see): [`Error::Truncated`], [`Error::BadVersion`],
/// [`Error::HeaderOverrun`], [`Error::AuthenticationFailed`], [`Error::Replayed`],
/// [`Error::TooOld`], [`Error::TooManySsrcs`]. API misuse or exhausted keys, caused by the caller:
/// [`Error::InvalidKeyLength`], [`Error::BufferTooSmall`], [`Error::PacketLimitReached`].
///
/// An error never changes the per-SSRC state of the context: the next valid packet is processed
/// as if the failed one had never arrived. The bytes of the buffer handed in are unspecified
/// after an error (they may have been partly decrypted or moved); drop the packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The packet is shorter than its fixed header plus the SRTP/SRTCP trailer.
    #[error("packet of {len} bytes is too short (at least {min} needed)")]
    Truncated {
        /// Length of the packet handed in.
        len: usize,
        /// Smallest length that could be valid here.
        min: usize,
    },
    /// The RTP/RTCP version field is not 2 (RFC 3550 §5.1).
    #[error("RTP/RTCP version {0} is not 2")]
    BadVersion(u8),
    /// The CSRC list or header extension announced by the RTP header runs past the packet.
    #[error("RTP header of {header_len} bytes runs past the {len}-byte packet")]
    HeaderOverrun {
        /// Header length the fixed header announces.
        header_len: usize,
        /// Bytes available for header and payload.
        len: usize,
    },
    /// The authentication tag does not match: wrong key, damaged or forged packet.
    #[error("authentication failed for SSRC {ssrc}")]
    AuthenticationFailed {
        /// SSRC the packet claims.
        ssrc: Ssrc,
    },
    /// This packet index was already received (RFC 3711 §3.3.2).
    #[error("replayed packet, SSRC {ssrc} index {index}")]
    Replayed {
        /// SSRC of the stream.
        ssrc: Ssrc,
        /// SRTP packet index (48 bits) or SRTCP index (31 bits).
        index: u64,
    },
    /// The packet index is older than the replay window reaches (RFC 3711 §3.3.2).
    #[error("packet too old for the replay window, SSRC {ssrc} index {index}")]
    TooOld {
        /// SSRC of the stream.
        ssrc: Ssrc,
        /// SRTP packet index (48 bits) or SRTCP index (31 bits); for an SRTP packet whose
        /// rollover counter would be negative, the sequence number.
        index: u64,
    },
    /// A packet for a new SSRC arrived but the context already tracks its configured maximum
    /// number of SSRCs ([`crate::Config::with_max_ssrcs`]). The packet is dropped and counted.
    #[error("SSRC {ssrc} refused: the context already tracks its maximum of SSRCs")]
    TooManySsrcs {
        /// The SSRC that was refused.
        ssrc: Ssrc,
    },
    /// The master key or salt has the wrong length for the profile.
    #[error("{what} is {actual} bytes, the profile needs {expected}")]
    InvalidKeyLength {
        /// `"master key"` or `"master salt"`.
        what: &'static str,
        /// Length the profile needs.
        expected: usize,
        /// Length handed in.
        actual: usize,
    },
    /// The buffer has no room for the authentication tag / SRTCP trailer.
    #[error("buffer of {available} bytes too small, {needed} needed")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The master key has protected as many packets as the profile allows (RFC 3711 §9.2,
    /// RFC 7714 §8.4, §9.4), or a stream's index space is exhausted. Rekey.
    #[error("packet limit of the master key reached: rekey")]
    PacketLimitReached,
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
