//! Error types: one for decoding bytes, one for a dropped datagram, one for everything an
//! endpoint can fail at.

use crate::alert::AlertDescription;
use crate::handshake::HandshakeType;

/// Bytes that do not decode as the structure they claim to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends before the structure does.
    #[error("truncated input")]
    Truncated,
    /// Bytes are left over after the structure.
    #[error("trailing bytes after the structure")]
    TrailingBytes,
    /// A record's content type is not one of RFC 5246 §6.2.1.
    #[error("unknown record content type {0}")]
    UnknownContentType(u8),
    /// A record or hello carries a version that is not DTLS 1.0/1.2.
    #[error("unsupported protocol version {0:#06x}")]
    UnsupportedVersion(u16),
    /// A handshake message type we do not know.
    #[error("unknown handshake type {0}")]
    UnknownHandshakeType(u8),
    /// A handshake fragment reaches past the message's length.
    #[error("handshake fragment out of bounds")]
    FragmentOutOfBounds,
    /// A length field holds a value the format forbids (odd list length, empty list, ...).
    #[error("invalid length")]
    InvalidLength,
    /// The same extension appears twice.
    #[error("duplicate extension {0:#06x}")]
    DuplicateExtension(u16),
    /// An ECParameters curve type other than named_curve (RFC 8422 §5.4).
    #[error("unsupported EC curve type {0}")]
    UnsupportedCurveType(u8),
    /// An alert level other than warning(1) or fatal(2).
    #[error("invalid alert level {0}")]
    InvalidAlertLevel(u8),
    /// A ChangeCipherSpec body other than the single byte 1.
    #[error("invalid ChangeCipherSpec")]
    InvalidChangeCipherSpec,
    /// An X.509 certificate we cannot find a public key in.
    #[error("malformed certificate")]
    MalformedCertificate,
}

/// Why [`Endpoint::handle_receive`](crate::Endpoint::handle_receive) dropped a datagram:
/// the reason of its first record that was not acted on. A drop never changes the
/// connection; each is counted in [`Stats`](crate::Stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// No record parsed: not DTLS, or truncated.
    #[error("malformed datagram")]
    Malformed,
    /// The records were replays, or older than the anti-replay window (RFC 6347 §4.1.2.6).
    #[error("replayed record")]
    Replayed,
    /// The records did not authenticate, or arrived protected before we had keys.
    #[error("record does not authenticate")]
    Unauthenticated,
    /// Well-formed records the current state does not act on: plaintext handshake or alerts
    /// after the handshake, anything but a ClientHello to a server without cookie state, a
    /// datagram to a client that has not connected, an unknown epoch.
    #[error("record not expected in this state")]
    Unexpected,
    /// The endpoint is closed or failed.
    #[error("endpoint closed")]
    Closed,
}

/// What the peer did wrong during the handshake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    /// A handshake message arrived that the current state does not allow.
    #[error("unexpected handshake message {got:?}")]
    UnexpectedMessage {
        /// What arrived.
        got: HandshakeType,
    },
    /// A record of a content type that the current state does not allow.
    #[error("unexpected record content type {0}")]
    UnexpectedContentType(u8),
    /// No cipher suite in common.
    #[error("no cipher suite in common")]
    NoCommonCipherSuite,
    /// No ECDHE group in common.
    #[error("no key exchange group in common")]
    NoCommonGroup,
    /// No SRTP protection profile in common, or use_srtp missing.
    #[error("no SRTP protection profile in common")]
    NoCommonSrtpProfile,
    /// The peer did not negotiate extended_master_secret (RFC 7627), which we require.
    #[error("extended master secret not negotiated")]
    ExtendedMasterSecretMissing,
    /// The peer chose something we did not offer.
    #[error("peer selected a parameter that was not offered")]
    SelectedUnofferedParameter,
    /// The peer asked to renegotiate, which this endpoint refuses.
    #[error("renegotiation refused")]
    Renegotiation,
    /// The peer's Finished verify_data is wrong.
    #[error("bad Finished verify_data")]
    BadFinished,
    /// The peer sent no certificate although one is required.
    #[error("peer sent no certificate")]
    NoCertificate,
    /// The peer's certificate key type is not one we can verify, or does not fit the suite.
    #[error("unsupported peer certificate")]
    UnsupportedCertificate,
    /// The peer's certificate fingerprint differs from the one expected (from the SDP).
    #[error("peer certificate fingerprint does not match")]
    FingerprintMismatch,
    /// A ServerKeyExchange or CertificateVerify signature does not verify.
    #[error("bad handshake signature")]
    BadSignature,
    /// The peer's ECDHE public key is invalid.
    #[error("invalid key exchange public key")]
    InvalidKeyShare,
    /// The peer offered only versions older than DTLS 1.2.
    #[error("peer does not support DTLS 1.2")]
    UnsupportedVersion,
    /// A handshake message is larger than this endpoint accepts.
    #[error("handshake message too large")]
    MessageTooLarge,
    /// A handshake message did not decode.
    #[error("malformed handshake message: {0}")]
    Malformed(DecodeError),
}

/// Everything an endpoint operation can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer violated the protocol; a fatal alert was queued for it.
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(#[from] PeerMisbehaved),
    /// The peer sent a fatal alert.
    #[error("peer sent fatal alert {0:?}")]
    AlertReceived(AlertDescription),
    /// The handshake did not complete: the peer stopped answering.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// The operation needs a completed handshake.
    #[error("handshake not complete")]
    NotConnected,
    /// The endpoint is closed or failed.
    #[error("endpoint closed")]
    Closed,
    /// The operation is not valid for this endpoint's role or state.
    #[error("operation not valid in this state")]
    InvalidState,
    /// Application data larger than one record can carry.
    #[error("application data of {0} bytes does not fit in one record")]
    TooLarge(usize),
    /// A configuration value is unusable (an empty suite list, an unknown key type).
    #[error("invalid configuration")]
    InvalidConfig,
    /// A certificate or key could not be generated or loaded.
    #[error("certificate error")]
    Certificate,
    /// The crypto library refused an operation that should not fail.
    #[error("internal crypto failure")]
    Crypto,
}

impl Error {
    /// The alert to send to the peer for this error, if any.
    pub fn alert(&self) -> Option<AlertDescription> {
        use PeerMisbehaved as P;
        Some(match self {
            Error::PeerMisbehaved(p) => match p {
                P::UnexpectedMessage { .. } | P::UnexpectedContentType(_) => {
                    AlertDescription::UnexpectedMessage
                }
                P::NoCommonCipherSuite
                | P::NoCommonGroup
                | P::NoCommonSrtpProfile
                | P::ExtendedMasterSecretMissing => AlertDescription::HandshakeFailure,
                P::SelectedUnofferedParameter | P::InvalidKeyShare => {
                    AlertDescription::IllegalParameter
                }
                P::Renegotiation => AlertDescription::NoRenegotiation,
                P::BadFinished | P::BadSignature => AlertDescription::DecryptError,
                P::NoCertificate => AlertDescription::HandshakeFailure,
                P::UnsupportedCertificate => AlertDescription::UnsupportedCertificate,
                P::FingerprintMismatch => AlertDescription::BadCertificate,
                P::UnsupportedVersion => AlertDescription::ProtocolVersion,
                P::MessageTooLarge | P::Malformed(_) => AlertDescription::DecodeError,
            },
            Error::HandshakeTimeout | Error::Crypto => AlertDescription::InternalError,
            _ => return None,
        })
    }
}
