//! The shared vocabulary of ferrtc: one type for each concept that more than one layer speaks
//! of, in one place, so the protocol crates compose without glue.
//!
//! - RTP identifiers: [`Ssrc`], [`SeqNo`], [`PayloadType`], [`ExtensionId`] (RFC 3550, RFC 8285).
//! - Media identifiers: [`Mid`] (RFC 5888) and [`Rid`] (RFC 8851), checked when built.
//! - Security: [`DtlsRole`], [`SrtpProfile`] (RFC 5764, RFC 7714), [`Fingerprint`] with its
//!   [`HashAlgorithm`] (RFC 8122).
//! - Transport: [`Transport`], [`TcpType`] (RFC 6544), [`CandidateKind`] (RFC 8445) and the one
//!   [`Transmit`] every state machine yields.
//!
//! This crate depends on no other ferrtc crate; each protocol crate re-exports what it uses.
//!
//! # The contract every state machine follows
//!
//! Every sans-IO state machine in ferrtc (ICE agent, TURN client, DTLS endpoint, SCTP
//! association, the peer connection) has the same verbs:
//!
//! ```text
//! fn handle_receive(&mut self, now: Instant, from: SocketAddr, datagram: ..) -> Result<(), Error>;
//! fn handle_timeout(&mut self, now: Instant);
//! fn poll_transmit(&mut self) -> Option<Transmit>;
//! fn poll_event(&mut self) -> Option<Event>;
//! fn poll_timeout(&self) -> Option<Instant>;
//! ```
//!
//! - Constructors take `(config, now, rng)`, in that order, where they need them.
//! - After any `handle_*` call or command, the caller drains [`Transmit`]s with `poll_transmit`
//!   until `None`, then events with `poll_event` until `None`, then calls `handle_timeout` at
//!   `poll_timeout`.
//! - An `Err` from `handle_receive` means only "this datagram was dropped" (and it is counted);
//!   it never changes the state of the connection. A fatal failure (handshake failed, ICE
//!   failed, peer closed with an alert) arrives as an event carrying the typed error.
//! - The verbs allocate nothing per packet in steady state: outputs are lent as [`Bytes`].
//!
//! ```
//! use ferrtc_types::{PayloadType, SrtpProfile, Ssrc};
//!
//! assert_eq!(Ssrc(3_629_162_994).to_string(), "3629162994");
//! assert_eq!(PayloadType::new(96).map(PayloadType::get), Some(96));
//! assert_eq!(SrtpProfile::from_id(0x0007), Some(SrtpProfile::AeadAes128Gcm));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod ids;
mod security;
mod transport;

pub use bytes::Bytes;
pub use error::ValueError;
pub use ids::{ExtensionId, Mid, PayloadType, Rid, SeqNo, Ssrc};
pub use security::{DtlsRole, Fingerprint, HashAlgorithm, SrtpKeys, SrtpProfile};
pub use transport::{CandidateKind, TcpType, Transmit, Transport};
