//! SCTP association over DTLS (RFC 9260, 8261) and WebRTC data channels (RFC 8831, 8832), sans-IO.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod association;
pub mod error;
pub mod wire;

pub use association::{
    Association, CloseReason, Config, Event, Message, Reliability, SendOptions, State, Stats,
};
pub use error::{Error, PeerMisbehaved};
