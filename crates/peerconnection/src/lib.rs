//! The sans-IO WebRTC peer connection: what joins ferrtc's protocol crates into WebRTC.
//!
//! - [`transport`]: the bundled transport, one ICE agent, one DTLS endpoint, SRTP contexts
//!   and one SCTP association with its data channels on one flow (max-bundle, rtcp-mux),
//!   with the data path between them.
//! - [`candidate`]: the one conversion between ICE candidates and SDP `a=candidate` lines.
//! - [`demux`]: RFC 7983 demultiplexing by first byte.
//!
//! Nothing here opens a socket, reads a clock or spawns a thread: time and randomness come
//! in as arguments, and the driver (the `ferrtc` facade, or a test's simulated network)
//! moves the datagrams.
//!
//! # The contract
//!
//! Every state machine here has the same verbs as the protocol crates below it
//! (`ferrtc_types` writes the contract down): after any `handle_*` call or command, drain
//! `poll_transmit` until `None`, then `poll_event` until `None`, then call `handle_timeout`
//! at `poll_timeout`. An `Err` from `handle_receive` only means the datagram was dropped
//! (and counted); a fatal failure is a `Failed` connection state carrying its cause.
//!
//! # Example
//!
//! Two transports in one process, each told what its descriptions settled, open a data
//! channel and pass a message (virtual time: the loop jumps to the next deadline).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use bytes::{Bytes, BytesMut};
//! use ferrtc_dtls::Certificate;
//! use ferrtc_peerconnection::transport::*;
//! use ferrtc_sctp_datachannel::ChannelOptions;
//! use ferrtc_stun_ice::ice::IceRole;
//! use ferrtc_types::{DtlsRole, HashAlgorithm};
//! use rand::SeedableRng;
//!
//! let rng = |seed| Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed));
//! let mut now = Instant::now();
//! let (ca, cb) = (Arc::new(Certificate::generate()?), Arc::new(Certificate::generate()?));
//! let mut a = BundleTransport::new(TransportConfig::new(ca.clone()), now, rng(1));
//! let mut b = BundleTransport::new(TransportConfig::new(cb.clone()), now, rng(2));
//! let (addr_a, addr_b) = ("192.0.2.1:5000".parse()?, "192.0.2.2:6000".parse()?);
//! let sctp = Some(SctpParameters { local_port: 5000, remote_port: 5000, remote_max_message_size: 0 });
//! let params_a = TransportParameters {
//!     ice_role: IceRole::Controlling,
//!     dtls_role: DtlsRole::Server,
//!     remote_credentials: b.local_credentials().clone(),
//!     remote_fingerprints: vec![cb.fingerprint(HashAlgorithm::Sha256)],
//!     sctp,
//! };
//! let params_b = TransportParameters {
//!     ice_role: IceRole::Controlled,
//!     dtls_role: DtlsRole::Client,
//!     remote_credentials: a.local_credentials().clone(),
//!     remote_fingerprints: vec![ca.fingerprint(HashAlgorithm::Sha256)],
//!     sctp,
//! };
//! a.start(now, params_a)?;
//! b.start(now, params_b)?;
//! a.add_local_address(now, addr_a)?;
//! b.add_local_address(now, addr_b)?;
//! for c in a.local_candidates() { b.add_remote_candidate(now, &c)?; }
//! for c in b.local_candidates() { a.add_remote_candidate(now, &c)?; }
//! let id = a.open_channel(now, ChannelOptions::new("chat"))?;
//! let mut got = None;
//! for _ in 0..10_000 {
//!     while let Some(t) = a.poll_transmit() {
//!         let _ = b.handle_receive(now, t.destination, addr_a, BytesMut::from(&t.contents[..]));
//!     }
//!     while let Some(t) = b.poll_transmit() {
//!         let _ = a.handle_receive(now, t.destination, addr_b, BytesMut::from(&t.contents[..]));
//!     }
//!     while let Some(ev) = a.poll_event() {
//!         if let TransportEvent::Channel(ChannelEvent::Open { id: open, .. }) = ev {
//!             a.send_message(now, open, Bytes::from_static(b"hello"), true)?;
//!         }
//!     }
//!     while let Some(ev) = b.poll_event() {
//!         if let TransportEvent::Channel(ChannelEvent::Message { data, .. }) = ev {
//!             got = Some(data);
//!         }
//!     }
//!     if got.is_some() { break; }
//!     let next = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min();
//!     match next {
//!         Some(t) => { now = now.max(t); a.handle_timeout(now); b.handle_timeout(now); }
//!         None => break,
//!     }
//! }
//! assert_eq!(got.as_deref(), Some(&b"hello"[..]));
//! # let _ = id;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod candidate;
pub mod demux;
pub mod transport;

pub use transport::{
    BundleTransport, ChannelEvent, CommandError, ConnectionState, DtlsState, ReceiveError,
    SctpParameters, TransportConfig, TransportError, TransportEvent, TransportParameters,
    TransportStats,
};
