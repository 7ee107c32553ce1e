//! SCTP association over DTLS (RFC 9260, 8261) and WebRTC data channels (RFC 8831, 8832), sans-IO.
//!
//! Three layers, each usable alone:
//!
//! - [`wire`]: checked zero-copy views and reprs of SCTP packets and chunks;
//! - [`Association`]: the SCTP state machine (handshake, reliability, congestion control,
//!   partial reliability, stream reset), fed with packets and time, polled for packets, events
//!   and its next deadline;
//! - [`DataChannels`]: DCEP and the WebRTC channel rules on top of an association.
//!
//! Nothing here reads a clock, opens a socket or spawns a thread; randomness comes from the
//! caller. See [`datachannel`] for a complete run loop.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod association;
pub mod datachannel;
pub mod error;
pub mod wire;

pub use association::{
    Association, CloseReason, Config, Event, Message, Reliability, SendOptions, State, Stats,
};
pub use datachannel::{
    ChannelInfo, ChannelOptions, DataChannelEvent, DataChannels, DcepMessage, DtlsRole,
};
pub use error::{Error, PeerMisbehaved};
