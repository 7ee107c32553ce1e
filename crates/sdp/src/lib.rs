//! SDP (RFC 8866) for WebRTC: a typed model, a parser and a serializer.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
