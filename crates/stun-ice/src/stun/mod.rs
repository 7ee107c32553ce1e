//! The STUN codec (RFC 8489): a checked zero-copy [`Message`] view, typed [`Attribute`]s, a
//! [`MessageBuilder`], and short-term and long-term credentials ([`IntegrityKey`]).
//!
//! Decoding a datagram and checking it:
//!
//! ```
//! use ferrtc_stun_ice::stun::{Attribute, Class, IntegrityKey, Message, Method};
//! # let datagram = hex_literal::hex!(
//! #   "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220"
//! #   "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf1"
//! #   "1784c97c8292c275bfe3ed4180280004c8fb0b4c");
//! let msg = Message::new_checked(&datagram)?;
//! msg.require_known()?;
//! msg.check_fingerprint()?;
//! msg.check_integrity(&IntegrityKey::short_term("VOkJxbRl1RmTxUk/WvJxBt"))?;
//! assert_eq!((msg.class(), msg.method()), (Class::SuccessResponse, Method::BINDING));
//! for attr in msg.attributes() {
//!     if let Attribute::XorMappedAddress(addr) = attr {
//!         assert_eq!(addr.port(), 32853);
//!     }
//! }
//! # Ok::<(), ferrtc_stun_ice::stun::Error>(())
//! ```

mod attr;
mod builder;
mod credentials;
mod error;
mod header;
mod message;

pub use attr::{
    AddressFamily, Attribute, AttributeType, ErrorCode, PasswordAlgorithm, PasswordAlgorithmId,
    PasswordAlgorithms, PasswordAlgorithmsIter, UnknownAttributes,
};
pub use builder::MessageBuilder;
pub use credentials::{IntegrityKey, long_term_key_md5, long_term_key_sha256, userhash};
pub use error::{AttributeError, EncodeError, Error};
pub use header::{Class, HEADER_LEN, MAGIC_COOKIE, MessageType, Method, TransactionId};
pub use message::{Attributes, FINGERPRINT_XOR, Message, RawAttribute, RawAttributes, message_len};
