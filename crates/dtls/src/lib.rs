//! DTLS 1.2 endpoint with DTLS-SRTP keying (RFC 6347, 5764), sans-IO.
//!
//! The crate is layered like the protocol:
//! - [`record`]: the record header view and datagram splitting (RFC 6347 §4.1);
//! - [`handshake`], [`extension`], [`alert`]: message codecs (RFC 5246 §7, RFC 6347 §4.2);
//! - [`types`]: cipher suites, groups, signature schemes, SRTP profiles.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alert;
pub mod certificate;
pub mod codec;
pub mod config;
pub mod crypto;
mod endpoint;
pub mod error;
pub mod extension;
#[doc(hidden)]
pub mod fuzzing;
pub mod handshake;
mod hs;
pub mod reassembly;
pub mod record;
pub mod replay;
pub mod types;

pub use alert::{Alert, AlertDescription, AlertLevel};
pub use certificate::{Certificate, Fingerprint, HashAlgorithm};
pub use config::Config;
pub use endpoint::{
    Endpoint, Event, Negotiated, Role, SRTP_EXPORTER_LABEL, SrtpKeyingMaterial, Transmit,
};
pub use error::{DecodeError, Error, PeerMisbehaved};
pub use types::{CipherSuite, NamedGroup, SignatureScheme, SrtpProfile};
