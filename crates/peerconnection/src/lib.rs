//! The sans-IO WebRTC peer connection.
//!
//! - [`jsep`]: offer/answer negotiation (RFC 8829): signaling state, transceivers, the
//!   data-channel m-line, and the typed [`Negotiation`] each completed exchange yields.
//!
//! Nothing here opens a socket, reads a clock or spawns a thread: time and randomness come
//! in as arguments.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod jsep;

pub use jsep::{
    Description, MediaKind, Negotiation, Negotiator, SdpType, SignalingState, Transceiver,
    TransceiverId,
};
