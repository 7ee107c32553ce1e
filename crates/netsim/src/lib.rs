//! A deterministic simulated network for sans-IO endpoints.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
