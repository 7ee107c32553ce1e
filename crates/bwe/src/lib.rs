//! Congestion control for ferrtc, sans-IO: a send-side bandwidth estimator after Google
//! Congestion Control (draft-ietf-rmcat-gcc-02) fed by transport-wide feedback
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01, or RFC 8888 through
//! [`SendSideBwe::handle_feedback`]), probing, a pacer, and a receive-side REMB estimator.
//!
//! - [`SendSideBwe`]: delay-based controller (5 ms inter-arrival groups, trendline filter,
//!   overuse detector with adaptive threshold, AIMD rate control), loss-based controller,
//!   combined as the minimum; acknowledged-bitrate estimate; ALR detection; probe
//!   clusters at start, on ALR, after a drop and when the path has been quiet; target
//!   bitrate as [`BweEvent::TargetBitrate`].
//! - [`Pacer`]: paced bursts of at most 5 ms, audio then retransmissions then video,
//!   padding for probes.
//! - [`CongestionController`]: both together, numbering packets with transport-wide
//!   sequence numbers; this is what a peer connection drives.
//! - [`RembEstimator`]: the receive side for peers that want REMB.
//! - [`split_bitrate`]: shares the target among a transport's streams.
//!
//! Time is an argument everywhere; nothing here reads a clock, and after warm-up nothing
//! allocates per packet (`tests/alloc.rs`).
//!
//! # Example
//!
//! The sender's loop: queue packets, send what the pacer lets go, feed feedback back.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ferrtc_bwe::{BweConfig, BweEvent, CongestionController, PacketKind, Paced};
//! use ferrtc_types::SeqNo;
//!
//! let t0 = Instant::now();
//! let mut cc = CongestionController::new(BweConfig::default(), t0, SeqNo(0));
//! let mut sent = Vec::new();
//! let mut now = t0;
//! for frame in 0..10u32 {
//!     cc.enqueue(now, PacketKind::Video, 1000, frame);
//!     while let Some(out) = cc.poll_transmit() {
//!         // Write out.transport_seq into the packet's transport-cc extension and send.
//!         if let Paced::Packet { .. } | Paced::Padding { .. } = out.paced {
//!             sent.push((out.transport_seq, now));
//!         }
//!     }
//!     now = cc.poll_timeout().unwrap_or(now).max(now + Duration::from_millis(33));
//!     cc.handle_timeout(now);
//! }
//! // The receiver reports every packet 20 ms after it left (its clock, in µs).
//! cc.handle_feedback(now, sent.iter().map(|&(seq, at)| {
//!     (seq, Some((at - t0 + Duration::from_millis(20)).as_micros() as i64))
//! }));
//! while let Some(BweEvent::TargetBitrate { bitrate_bps, .. }) = cc.poll_event() {
//!     assert!(bitrate_bps >= 30_000);
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod acked;
mod aimd;
mod alr;
mod controller;
mod delay;
mod loss;
mod pacer;
mod probe;
mod remb;
mod send;
mod split;

pub use controller::{CongestionController, Outgoing};
pub use delay::BandwidthUsage;
pub use pacer::{BURST_US, MAX_PADDING_BYTES, Paced, Pacer, PacketKind};
pub use probe::{ProbeCluster, ProbeClusterId};
pub use remb::RembEstimator;
pub use send::{BweConfig, BweEvent, SendSideBwe};
pub use split::split_bitrate;
