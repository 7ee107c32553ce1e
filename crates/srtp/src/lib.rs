//! SRTP and SRTCP protect and unprotect in place (RFC 3711, RFC 7714).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
