//! DTLS 1.2 endpoint with DTLS-SRTP keying (RFC 6347, 5764), sans-IO.
//!
//! An [`Endpoint`] is one side of one DTLS association (client or server). It owns no socket,
//! reads no clock and starts no thread: datagrams and the current time come in, datagrams and
//! events come out. What it speaks:
//!
//! - DTLS 1.2 with ECDHE (X25519, P-256, P-384) and the AEAD suites
//!   `TLS_ECDHE_{ECDSA,RSA}_WITH_{AES_128_GCM_SHA256, AES_256_GCM_SHA384, CHACHA20_POLY1305_SHA256}`;
//!   our certificate is ECDSA (P-256 by default) or RSA ([`KeyKind`]) and the server
//!   picks the suites it authenticates; the peer's may be ECDSA or RSA;
//! - a stateless HMAC cookie exchange on the server (RFC 6347 §4.2.1), mutual authentication,
//!   extended master secret (RFC 7627, required), use_srtp (RFC 5764) and the RFC 5705
//!   exporter; renegotiation is refused;
//! - flights fragmented to the MTU, reassembled in any order, retransmitted with exponential
//!   back-off (RFC 6347 §4.2.4), and repeated early when the peer repeats its flight, at
//!   most once per half timeout so replayed datagrams cannot amplify; an anti-replay window
//!   per epoch;
//! - trust by certificate fingerprint, as WebRTC does (RFC 8122, RFC 8827 §6.5).
//!
//! Randomness: hello randoms, the cookie secret and the ECDHE scalars come from the caller's
//! `RngCore`. ECDSA nonces come from ring's system generator (ring takes no caller
//! generator), unless [`Config::deterministic_signatures`] asks for RFC 6979 signatures:
//! then a seeded run replays byte for byte. Everything else about a run (messages,
//! flights, timers) is a function of the inputs.
//!
//! The vocabulary is `ferrtc-types`' ([`DtlsRole`], [`SrtpProfile`], [`Fingerprint`],
//! [`HashAlgorithm`], [`SrtpKeys`], [`Transmit`]), re-exported here. The endpoint follows the
//! verb contract of every ferrtc state machine:
//!
//! - `Endpoint::new(config, now, rng)`; a client then [`Endpoint::connect`]s to its peer's
//!   address;
//! - inputs `handle_receive(now, from, &mut datagram)` (application data is decrypted in
//!   place and returned as ranges of the buffer) and `handle_timeout(now)`; commands
//!   [`Endpoint::send`] and [`Endpoint::close`];
//! - after any of them, drain `poll_transmit` until `None`, then `poll_event` until `None`,
//!   then call `handle_timeout` at `poll_timeout`;
//! - an `Err` from `handle_receive` only means the datagram was dropped (counted in
//!   [`Endpoint::stats`]); a fatal failure (bad fingerprint, failed handshake, fatal alert,
//!   timeout) is [`Event::Failed`];
//! - after the handshake, [`Endpoint::srtp_keys`] hands over the DTLS-SRTP keys, split once
//!   by [`SrtpKeys::split`].
//!
//! The run loop, two endpoints wired back to back:
//!
//! ```
//! use std::net::SocketAddr;
//! use std::sync::Arc;
//! use std::time::Instant;
//! use ferrtc_dtls::{Certificate, Config, DtlsRole, Endpoint, Event, HashAlgorithm};
//! use rand::SeedableRng;
//!
//! let (a, b) = (Arc::new(Certificate::generate()?), Arc::new(Certificate::generate()?));
//! // Each side expects the fingerprint the other put in its SDP.
//! let fa = vec![a.fingerprint(HashAlgorithm::Sha256)];
//! let fb = vec![b.fingerprint(HashAlgorithm::Sha256)];
//! let ca = Arc::new(Config::new(DtlsRole::Client, a, fb));
//! let cb = Arc::new(Config::new(DtlsRole::Server, b, fa));
//! let client_addr: SocketAddr = "192.0.2.1:5000".parse()?;
//! let server_addr: SocketAddr = "192.0.2.2:5000".parse()?;
//! let now = Instant::now();
//! let rng = |s| Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(s));
//! let mut client = Endpoint::new(ca, now, rng(1))?;
//! let mut server = Endpoint::new(cb, now, rng(2))?;
//! client.connect(now, server_addr)?;
//! let mut buf = Vec::with_capacity(2048);
//! while !(client.is_connected() && server.is_connected()) {
//!     // A real driver sends these on a socket, and calls handle_timeout at poll_timeout.
//!     while let Some(t) = client.poll_transmit() {
//!         buf.clear();
//!         buf.extend_from_slice(&t.contents);
//!         server.handle_receive(now, client_addr, &mut buf)?;
//!     }
//!     while let Some(t) = server.poll_transmit() {
//!         buf.clear();
//!         buf.extend_from_slice(&t.contents);
//!         client.handle_receive(now, server_addr, &mut buf)?;
//!     }
//! }
//! assert!(matches!(client.poll_event(), Some(Event::Connected(_))));
//! let keys = client.srtp_keys()?;
//! assert_eq!(keys.local_key(), server.srtp_keys()?.remote_key());
//!
//! // Application data: sealed by `send`, decrypted in place by `handle_receive`.
//! client.send(b"hello")?;
//! let t = client.poll_transmit().unwrap();
//! buf.clear();
//! buf.extend_from_slice(&t.contents);
//! let ranges = server.handle_receive(now, client_addr, &mut buf)?;
//! assert_eq!(&buf[ranges.iter().next().unwrap()], b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules, bottom up: [`codec`], [`record`], [`handshake`], [`extension`], [`alert`] and
//! [`types`] are the wire formats; [`crypto`] the PRF, record protection, ECDHE and
//! signatures; [`certificate`] our certificate and fingerprints; [`reassembly`] and
//! [`replay`] the DTLS transport pieces; [`Endpoint`] ties them together.
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
pub use certificate::{Certificate, KeyKind, fingerprint_of, matches_fingerprint};
pub use config::Config;
pub use endpoint::{
    AppDataRanges, Endpoint, Event, MAX_IN_PLACE_RECORDS, Negotiated, SRTP_EXPORTER_LABEL, Stats,
};
pub use error::{DecodeError, Error, PeerMisbehaved, ReceiveError};
pub use ferrtc_types::{
    DtlsRole, Fingerprint, HashAlgorithm, SrtpKeys, SrtpProfile, Transmit, Transport,
};
pub use types::{CipherSuite, NamedGroup, SignatureScheme};
