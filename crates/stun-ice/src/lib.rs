//! STUN (RFC 8489), ICE agent (RFC 8445) and TURN client (RFC 8656), sans-IO.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
