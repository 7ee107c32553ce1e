//! STUN (RFC 8489), ICE agent (RFC 8445) and TURN client (RFC 8656), sans-IO.
//!
//! This crate holds no sockets, reads no clock and spawns nothing: the caller feeds it bytes
//! and gets bytes back.
//!
//! - [`stun`]: the STUN codec. A checked zero-copy [`stun::Message`] view over a received
//!   datagram with typed [`stun::Attribute`]s (every attribute ICE and TURN use), a
//!   [`stun::MessageBuilder`] writing into a caller's `Vec<u8>`, MESSAGE-INTEGRITY,
//!   MESSAGE-INTEGRITY-SHA256 and FINGERPRINT computed and checked (in constant time) with
//!   short-term or long-term credentials ([`stun::IntegrityKey`]).
//! - [`framing`]: RFC 7983 first-byte demultiplexing, TURN ChannelData, RFC 4571 stream
//!   framing.
//! - [`ice`]: the ICE [`Agent`](ice::Agent) (RFC 8445), full or lite, with Trickle ICE and
//!   consent freshness.
//! - [`turn`]: the TURN [`Client`](turn::Client) (RFC 8656) over UDP, TCP or TLS.
//!
//! # The contract of the state machines
//!
//! [`ice::Agent`] and [`turn::Client`] follow the one verb set of every ferrtc state machine
//! (see `ferrtc_types`), and speak its vocabulary: [`Transmit`](ferrtc_types::Transmit),
//! [`Transport`](ferrtc_types::Transport), [`CandidateKind`](ferrtc_types::CandidateKind),
//! [`TcpType`](ferrtc_types::TcpType).
//!
//! - Constructors take `(config, now, rng)` in that order, where they need them: the agent
//!   takes all three, the TURN client `(config, rng)` (it has no timer before its first
//!   command, which brings its own `now`).
//! - `handle_receive(now, .., from, datagram)` is the one input verb for the network. The
//!   agent adds the local end the datagram arrived on (transport and address), as it listens
//!   on several candidates; the TURN client returns relayed peer data borrowed from a UDP
//!   datagram. An `Err` means only "this datagram was dropped": it is counted
//!   ([`ice::Agent::stats`], [`turn::Client::stats`]) and never changes the state. A fatal
//!   failure (ICE failed, an allocation lost, a TURN stream out of sync) is an event.
//! - `handle_timeout(now)` runs the timers.
//! - After any `handle_*` call or command, drain `poll_transmit` until `None` (sending each
//!   [`Transmit`](ferrtc_types::Transmit) in order), then `poll_event` until `None`, then call
//!   `handle_timeout` at `poll_timeout()`.
//! - Transmits are lent as [`Bytes`](ferrtc_types::Bytes) out of a buffer the machine reuses:
//!   answering checks and relaying data allocate nothing in steady state, once the driver
//!   drops each transmit after sending it.
//!
//! A Binding request as an ICE agent sends it, and the check on the other side:
//!
//! ```
//! use ferrtc_stun_ice::stun::{
//!     Attribute, Class, IntegrityKey, Message, MessageBuilder, MessageType, Method, TransactionId,
//! };
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
//! let key = IntegrityKey::short_term("remote-ice-pwd");
//! let mut datagram = Vec::new();
//! MessageBuilder::new(
//!     &mut datagram,
//!     MessageType::new(Class::Request, Method::BINDING),
//!     TransactionId::random(&mut rng),
//! )
//! .add(&Attribute::Username("remoteufrag:localufrag"))?
//! .add(&Attribute::Priority(1_845_501_695))?
//! .add(&Attribute::IceControlling(0x1234))?
//! .add(&Attribute::UseCandidate)?
//! .add_message_integrity(&key)?
//! .add_fingerprint()?;
//!
//! assert!(ferrtc_stun_ice::framing::is_stun(&datagram));
//! let msg = Message::new_checked(&datagram).unwrap();
//! msg.check_fingerprint().unwrap();
//! msg.check_integrity(&key).unwrap();
//! assert!(msg.use_candidate());
//! assert_eq!(msg.ice_controlling(), Some(0x1234));
//! # Ok::<(), ferrtc_stun_ice::stun::EncodeError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod framing;
pub mod ice;
pub mod stun;
pub mod turn;
