//! The crate's error type.

/// Every error this crate returns.
///
/// Wire-format errors (`Truncated`, `BadChecksum`, ...) come from parsing input from the network;
/// `PeerMisbehaved` is a well-formed packet that breaks the protocol; the remaining variants are
/// misuse of the API by the caller. From `handle_receive`, any of them means only that the
/// packet was dropped; a violation that ends the association is reported as
/// [`Event::Closed`](crate::Event::Closed) instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before the structure it should hold.
    #[error("truncated: {what} needs more bytes than are present")]
    Truncated {
        /// The structure being read.
        what: &'static str,
    },
    /// A length field is smaller than its fixed header or larger than the buffer.
    #[error("bad length in {what}")]
    BadLength {
        /// The structure whose length is wrong.
        what: &'static str,
    },
    /// The CRC32c in the common header does not match the packet (RFC 9260 section 6.8).
    #[error("bad CRC32c checksum")]
    BadChecksum,
    /// A structure has bytes after its end where the format allows none.
    #[error("trailing bytes after {what}")]
    TrailingBytes {
        /// The structure that should have ended.
        what: &'static str,
    },
    /// A well-formed packet that the protocol forbids.
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(#[from] PeerMisbehaved),
    /// The association is not in a state that allows the operation.
    #[error("the association is not established")]
    NotEstablished,
    /// The association has been closed or aborted.
    #[error("the association is closed")]
    Closed,
    /// The message is larger than the negotiated maximum message size.
    #[error("message of {len} bytes exceeds the maximum message size {max}")]
    MessageTooLarge {
        /// The message size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The send buffer is full: wait for `BufferedAmountLow` (back-pressure).
    #[error("send buffer full")]
    SendBufferFull,
    /// The stream id is outside the negotiated number of streams, or is being reset.
    #[error("stream {0} is not usable")]
    InvalidStream(u16),
    /// A message must carry at least one byte of user data on the wire (RFC 9260 section 3.3.1).
    #[error("empty message")]
    EmptyMessage,
    /// No data channel with this id exists.
    #[error("unknown data channel {0}")]
    UnknownChannel(u16),
    /// The peer did not announce support for the extension this needs (RE-CONFIG).
    #[error("the peer does not support this extension")]
    UnsupportedByPeer,
    /// No free stream id is left for a new data channel.
    #[error("no free stream id")]
    NoFreeStream,
}

/// Ways a peer breaks the protocol with packets that parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    /// The packet's verification tag is not ours (RFC 9260 section 8.5).
    #[error("wrong verification tag")]
    WrongVerificationTag,
    /// An INIT, INIT ACK or SHUTDOWN COMPLETE was bundled with other chunks (section 6.10).
    #[error("control chunk bundled where it must be alone")]
    IllegalBundling,
    /// INIT or INIT ACK with an initiate tag of zero or zero streams (section 3.3.2).
    #[error("invalid INIT parameters")]
    InvalidInit,
    /// INIT ACK without a state cookie.
    #[error("INIT ACK without a state cookie")]
    MissingStateCookie,
    /// The state cookie failed authentication, or was stale.
    #[error("invalid or stale state cookie")]
    BadStateCookie,
    /// A DATA chunk with no user data (section 3.3.1).
    #[error("DATA chunk without user data")]
    NoUserData,
    /// A reassembled message grew beyond the maximum message size.
    #[error("incoming message exceeds the maximum message size")]
    MessageTooLarge,
    /// A DATA chunk on a stream beyond the negotiated inbound streams.
    #[error("invalid stream id")]
    InvalidStream,
    /// A SACK acknowledged a TSN we never sent.
    #[error("SACK acknowledges a TSN that was never sent")]
    AckOfUnsentTsn,
    /// A data-channel control message that does not parse (RFC 8832).
    #[error("malformed DCEP message")]
    MalformedDcep,
    /// A DATA or FORWARD TSN chunk on an association that negotiated I-DATA, or an I-DATA or
    /// I-FORWARD-TSN chunk on one that did not (RFC 8260 sections 2.2.3, 2.3.1).
    #[error("data chunk type not the one negotiated")]
    WrongDataChunkType,
    /// An unrecognized chunk type whose high bits say to stop processing the packet.
    #[error("unrecognized chunk type {0:#04x}")]
    UnrecognizedChunk(u8),
}
