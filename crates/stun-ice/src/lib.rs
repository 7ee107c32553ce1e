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
