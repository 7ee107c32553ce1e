//! ferrtc: WebRTC for Rust (wip).
#![deny(unsafe_code)]
#![warn(missing_docs)]
// The driver is exercised by its tests; the public API over it comes with the peer
// connection core.
#![cfg_attr(not(test), allow(dead_code))]

mod driver;
pub mod net;
