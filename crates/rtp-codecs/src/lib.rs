//! RTP/RTCP packets, header extensions, payload formats and the receive pipeline, sans-IO.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
