//! SCTP association over DTLS (RFC 9260, 8261) and WebRTC data channels (RFC 8831, 8832), sans-IO.
//!
//! Three layers, each usable alone:
//!
//! - [`wire`]: checked zero-copy views and reprs of SCTP packets and chunks;
//! - [`Association`]: the SCTP state machine (handshake, reliability, congestion control,
//!   partial reliability, stream reset), fed with packets and time, polled for packets, events
//!   and its next deadline;
//! - [`DataChannels`]: DCEP and the WebRTC channel rules on top of an association.
//!
//! Nothing here reads a clock, opens a socket or spawns a thread; randomness comes from the
//! caller (seed it, and a run replays).
//!
//! # The run loop
//!
//! After any input or command: drain `poll_event`, then `poll_transmit` (each packet is one
//! DTLS application-data record), then sleep until `poll_timeout` and call `handle_timeout`.
//! Here two associations talk in memory:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use ferrtc_sctp_datachannel::{Association, Config, Event, SendOptions};
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
//! let mut now = Instant::now();
//! let mut a = Association::new(Config::default(), &mut rng, now);
//! let mut b = Association::new(Config::default(), &mut rng, now);
//! a.connect(now);
//! a.send(now, 0, 53, Bytes::from_static(b"queued before the handshake"), SendOptions::default())
//!     .unwrap();
//! let mut received = Vec::new();
//! for _ in 0..100 {
//!     while let Some(p) = a.poll_transmit(now) {
//!         let _ = b.handle_receive(now, p); // errors: the packet was dropped, nothing else
//!     }
//!     while let Some(p) = b.poll_transmit(now) {
//!         let _ = a.handle_receive(now, p);
//!     }
//!     while let Some(ev) = b.poll_event() {
//!         if let Event::Message(m) = ev {
//!             received.push(m.data);
//!         }
//!     }
//!     while a.poll_event().is_some() {}
//!     // Sleep until the next deadline (here: jump there).
//!     match [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min() {
//!         Some(t) if received.is_empty() => {
//!             now = t.max(now);
//!             a.handle_timeout(now);
//!             b.handle_timeout(now);
//!         }
//!         _ => break,
//!     }
//! }
//! assert_eq!(received, [Bytes::from_static(b"queued before the handshake")]);
//! # let _ = Duration::ZERO;
//! ```
//!
//! See [`datachannel`] for the same loop with WebRTC data channels.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod association;
pub mod datachannel;
pub mod error;
pub mod wire;

pub use association::{
    Association, CloseReason, Config, Event, Message, Reliability, SendOptions, State, Stats,
};
pub use datachannel::{
    ChannelInfo, ChannelOptions, DataChannelEvent, DataChannels, DcepMessage, DtlsRole,
};
pub use error::{Error, PeerMisbehaved};
