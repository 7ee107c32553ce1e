//! The receive and send pipeline around the packet layer, sans-IO: every input carries the
//! time it happened (`now: Instant`), nothing reads a clock, and every structure holds a
//! bounded amount of memory whatever the peer sends.
//!
//! - [`stats`]: reception statistics and reception report blocks (RFC 3550 section 6.4.1,
//!   appendix A.3 and A.8), sender reports with the NTP/RTP timestamp mapping, round-trip
//!   time from LSR/DLSR.
//! - [`jitter`]: the jitter buffer around [`FrameAssembler`](crate::codec::FrameAssembler):
//!   frames in order, a bounded adaptive wait for missing packets, loss and key frame
//!   reporting.
//! - [`nack`]: NACK generation with RTT-spaced retries and give-up (RFC 4585), and the
//!   bounded send history answering NACKs by RTX (RFC 4588) or plain retransmission.
//! - [`twcc`]: transport-wide sequence numbering on send and transport-wide congestion
//!   control feedback generation on receive.

pub mod jitter;
pub mod nack;
pub mod stats;
pub mod twcc;

pub use jitter::{JitterBuffer, JitterConfig, JitterEvent};
pub use nack::{HistoryError, NackConfig, NackGenerator, SendHistory};
pub use stats::{NtpTime, ReceiverStats, SenderStats};
pub use twcc::{StampError, TransportSequencer, TwccConfig, TwccGenerator};
