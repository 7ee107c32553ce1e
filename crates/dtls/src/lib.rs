//! DTLS 1.2 endpoint with DTLS-SRTP keying (RFC 6347, 5764), sans-IO.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
