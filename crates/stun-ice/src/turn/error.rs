//! Errors of the TURN client: [`TurnError`] for what arrived from the network,
//! [`RequestError`] for why a TURN transaction failed, [`CommandError`] for a command the
//! caller issued at the wrong time.

use std::net::{IpAddr, SocketAddr};

use crate::framing::FrameError;
use crate::stun::{AttributeType, EncodeError, ErrorCode, Method};

/// Something received from the network that the client could not use. The client's state is
/// unchanged; the bytes are dropped. None of these is a bug on this side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TurnError {
    /// A datagram from an address other than the TURN server (over UDP the allocation's
    /// 5-tuple is the only one the client listens on, RFC 8656 section 5).
    #[error("datagram from {0}, which is not the TURN server")]
    UnexpectedSource(SocketAddr),
    /// Neither STUN nor ChannelData (RFC 7983 first byte).
    #[error("datagram is neither STUN nor ChannelData")]
    NotTurn,
    /// A malformed STUN message.
    #[error("malformed STUN message: {0}")]
    Stun(#[from] crate::stun::Error),
    /// A malformed ChannelData message, or a stream that is no longer framed.
    #[error("bad ChannelData framing: {0}")]
    Frame(#[from] FrameError),
    /// The byte stream carried a frame that is neither STUN nor ChannelData: the stream can
    /// no longer be split (RFC 8656 section 12.6). The connection must be closed; every later
    /// chunk fails with this error too.
    #[error("TURN stream desynchronized: a frame is neither STUN nor ChannelData")]
    StreamDesynchronized,
    /// A response whose transaction id matches no outstanding request (a late retransmission,
    /// or a forgery).
    #[error("response to an unknown transaction")]
    UnknownTransaction,
    /// A response whose method differs from the request's.
    #[error("{received} response to a {expected} request")]
    MethodMismatch {
        /// The request's method.
        expected: Method,
        /// The response's method.
        received: Method,
    },
    /// A response that fails the message integrity check, or lacks one where it is required
    /// (RFC 8489 section 9.2.5). Over UDP the transaction goes on (the real response may still
    /// come); over a stream it fails with [`RequestError::IntegrityViolated`].
    #[error("response fails the message integrity check")]
    IntegrityMismatch,
    /// A 400 error response without message integrity, discarded as RFC 8489 section 9.2.5
    /// says.
    #[error("unauthenticated 400 response discarded")]
    UnauthenticatedBadRequest,
    /// A message without an attribute its method requires.
    #[error("{method} message without {attr}")]
    MissingAttribute {
        /// The message's method.
        method: Method,
        /// The missing attribute.
        attr: AttributeType,
    },
    /// A request or an indication other than Data: a client does not serve those.
    #[error("unexpected {0} request or indication from the server")]
    UnexpectedMessage(Method),
    /// ChannelData on a channel this client has not bound (RFC 8656 section 12.6: discarded).
    #[error("ChannelData on unbound channel 0x{0:04x}")]
    UnknownChannel(u16),
    /// Data from a peer for which no permission was asked (RFC 8656 section 12.6 recommends
    /// discarding it).
    #[error("data from {0}, for which there is no permission")]
    NoPermission(SocketAddr),
    /// Bytes arrived while no allocation exists or is being made.
    #[error("data arrived while no allocation exists")]
    NotAllocated,
}

/// Why a TURN transaction (Allocate, Refresh, CreatePermission, ChannelBind) failed. Reported
/// in [`Event`](super::Event)s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// No response within the transaction timeout (RFC 8489 section 6.2.1: 39.5 s by default
    /// over UDP, section 6.2.2: 39.5 s over TCP).
    #[error("no response from the TURN server")]
    Timeout,
    /// The allocation's lifetime ran out without a successful refresh, or the server
    /// granted a zero lifetime.
    #[error("the allocation expired")]
    Expired,
    /// 401 to a request that already carried credentials: the server does not accept the
    /// username or password (RFC 8656 section 7.4).
    #[error("401 Unauthenticated: the server rejects the credentials")]
    Unauthenticated,
    /// A 401 challenge without REALM or NONCE (RFC 8489 section 9.2.4 requires both).
    #[error("401 challenge without REALM or NONCE")]
    MissingChallenge,
    /// A REALM or NONCE longer than RFC 8489 allows (763 bytes, sections 14.9 and 14.10).
    #[error("REALM or NONCE too long")]
    ChallengeTooLong,
    /// PASSWORD-ALGORITHMS lists no algorithm this client supports (RFC 8489 section 9.2.5:
    /// the client must not retry).
    #[error("the server offers no supported password algorithm")]
    UnsupportedPasswordAlgorithm,
    /// The nonce cookie says PASSWORD-ALGORITHMS is in use but the attribute is missing: a
    /// bid-down attack (RFC 8489 section 9.2.5: the client must not retry).
    #[error("nonce cookie announces PASSWORD-ALGORITHMS but the attribute is missing")]
    BidDown,
    /// 438 Stale Nonce answered again and again: the retries with fresh nonces ran out.
    #[error("stale nonce after {0} retries")]
    StaleNonce(u8),
    /// Over TCP or TLS, the response failed the integrity check (RFC 8489 section 9.2.5); over
    /// UDP, every response was discarded for failing it.
    #[error("response failed the message integrity check")]
    IntegrityViolated,
    /// A success response without an attribute it must carry.
    #[error("success response without {0}")]
    MissingAttribute(AttributeType),
    /// The relayed or mapped address is of a family the client did not ask for
    /// (RFC 8656 section 7.3).
    #[error("relayed address {0} is of an unexpected address family")]
    UnexpectedFamily(SocketAddr),
    /// 300 Try Alternate: the server asks the client to use another server
    /// (RFC 8656 section 7.4).
    #[error("300 Try Alternate {0:?}")]
    TryAlternate(Option<SocketAddr>),
    /// 403 Forbidden (RFC 8656 sections 7.4, 10.3, 12.2).
    #[error("403 Forbidden")]
    Forbidden,
    /// 437 Allocation Mismatch: the server has no allocation on this 5-tuple, or already had
    /// one (RFC 8656 sections 7.4, 8.3).
    #[error("437 Allocation Mismatch")]
    AllocationMismatch,
    /// 440 Address Family not Supported (RFC 8656 section 19).
    #[error("440 Address Family not Supported")]
    AddressFamilyNotSupported,
    /// 441 Wrong Credentials: the credentials differ from the allocation's (RFC 8656 section 19).
    #[error("441 Wrong Credentials")]
    WrongCredentials,
    /// 442 Unsupported Transport Protocol (RFC 8656 section 19).
    #[error("442 Unsupported Transport Protocol")]
    UnsupportedTransport,
    /// 443 Peer Address Family Mismatch (RFC 8656 section 19).
    #[error("443 Peer Address Family Mismatch")]
    PeerAddressFamilyMismatch,
    /// 486 Allocation Quota Reached (RFC 8656 section 19).
    #[error("486 Allocation Quota Reached")]
    AllocationQuotaReached,
    /// 508 Insufficient Capacity (RFC 8656 section 19).
    #[error("508 Insufficient Capacity")]
    InsufficientCapacity,
    /// Any other error response (400 Bad Request, 420, 500, ...), by code.
    #[error("error response {0}")]
    Server(u16),
    /// The request could not be written (a configured attribute too long for its field).
    #[error("request could not be encoded: {0}")]
    Encode(#[from] EncodeError),
}

impl RequestError {
    /// The error for an ERROR-CODE other than 401 and 438, which the client handles itself.
    pub(crate) fn from_code(code: &ErrorCode<'_>, alternate: Option<SocketAddr>) -> Self {
        match code.code {
            ErrorCode::TRY_ALTERNATE => RequestError::TryAlternate(alternate),
            ErrorCode::UNAUTHENTICATED => RequestError::Unauthenticated,
            ErrorCode::FORBIDDEN => RequestError::Forbidden,
            ErrorCode::ALLOCATION_MISMATCH => RequestError::AllocationMismatch,
            ErrorCode::ADDRESS_FAMILY_NOT_SUPPORTED => RequestError::AddressFamilyNotSupported,
            ErrorCode::WRONG_CREDENTIALS => RequestError::WrongCredentials,
            ErrorCode::UNSUPPORTED_TRANSPORT_PROTOCOL => RequestError::UnsupportedTransport,
            ErrorCode::PEER_ADDRESS_FAMILY_MISMATCH => RequestError::PeerAddressFamilyMismatch,
            ErrorCode::ALLOCATION_QUOTA_REACHED => RequestError::AllocationQuotaReached,
            ErrorCode::INSUFFICIENT_CAPACITY => RequestError::InsufficientCapacity,
            other => RequestError::Server(other),
        }
    }
}

/// A command the client cannot carry out in its current state. Mistakes on this side, not the
/// server's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// [`allocate`](super::Client::allocate) while an allocation exists or is being made.
    #[error("an allocation exists or is in progress")]
    AlreadyAllocated,
    /// A command that needs an allocation, while there is none.
    #[error("no allocation")]
    NotAllocated,
    /// A peer whose address family differs from the relayed address's (RFC 8656 section 10.1,
    /// 12.1: the server would answer 443).
    #[error("peer {0} is not of the relayed address's family")]
    PeerFamilyMismatch(IpAddr),
    /// [`send_to`](super::Client::send_to) a peer for which no permission was asked: the
    /// server would drop the data (RFC 8656 section 9).
    #[error("no permission for {0}: call create_permission first")]
    NoPermission(IpAddr),
    /// All 4096 channel numbers are in use (RFC 8656 section 12).
    #[error("all channel numbers are in use")]
    ChannelsExhausted,
    /// Data too long for a Send indication or a ChannelData message (16-bit lengths).
    #[error("{0} bytes of data do not fit one TURN message")]
    DataTooLong(usize),
}
