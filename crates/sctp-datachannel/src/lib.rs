//! SCTP association over DTLS (RFC 9260, 8261) and WebRTC data channels (RFC 8831, 8832), sans-IO.
//!
//! Three layers, each usable alone:
//!
//! - [`wire`]: checked zero-copy views and reprs of SCTP packets and chunks;
//! - [`Association`]: the SCTP state machine (handshake, reliability, congestion control,
//!   partial reliability, stream reset), fed with packets and time, polled for [`Transmit`]s,
//!   events and its next deadline;
//! - [`DataChannels`]: DCEP and the WebRTC channel rules on top of an association.
//!
//! Nothing here reads a clock, opens a socket or spawns a thread; randomness comes from the
//! caller (seed it, and a run replays). The shared vocabulary ([`DtlsRole`], [`Transmit`]) is
//! `ferrtc-types`'s, re-exported here.
//!
//! # The run loop
//!
//! Both state machines follow the ferrtc contract ([`ferrtc_types`]):
//!
//! - constructors take `(config, now, rng)`; [`DataChannels::new`] takes its [`DtlsRole`] as a
//!   separate argument right after the config;
//! - after any input or command, drain `poll_transmit` until `None` (each [`Transmit`] is one
//!   DTLS application-data record), then `poll_event` until `None`, then sleep until
//!   `poll_timeout` and call `handle_timeout`;
//! - an `Err` from `handle_receive` means only "this packet was dropped" (counted in
//!   [`Stats::packets_dropped`]); a fatal failure arrives as [`Event::Closed`].
//!
//! SCTP rides in DTLS (RFC 8261), so addresses are only what the caller names: the side that
//! starts passes the peer's address to `connect`, the other learns it from the `from` of
//! `handle_receive`; every [`Transmit`] goes there with `source` `None`, and the layer below
//! picks the path. Here two associations talk in memory:
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::Instant;
//! use bytes::Bytes;
//! use ferrtc_sctp_datachannel::{Association, Config, Event, SendOptions};
//! use rand::SeedableRng;
//!
//! let a_addr: SocketAddr = "192.0.2.1:5000".parse().unwrap();
//! let b_addr: SocketAddr = "192.0.2.2:5000".parse().unwrap();
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
//! let mut now = Instant::now();
//! let mut a = Association::new(Config::default(), now, &mut rng);
//! let mut b = Association::new(Config::default(), now, &mut rng);
//! a.connect(now, b_addr);
//! a.send(now, 0, 53, Bytes::from_static(b"queued before the handshake"), SendOptions::default())
//!     .unwrap();
//! let mut received = Vec::new();
//! for _ in 0..100 {
//!     while let Some(t) = a.poll_transmit(now) {
//!         assert_eq!(t.destination, b_addr);
//!         let _ = b.handle_receive(now, a_addr, t.contents); // Err: that packet was dropped
//!     }
//!     while let Some(t) = b.poll_transmit(now) {
//!         let _ = a.handle_receive(now, b_addr, t.contents);
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
    Association, CloseReason, Config, Event, Message, Reliability, Scheduler, SendOptions, State,
    Stats,
};
pub use datachannel::{
    ChannelInfo, ChannelOptions, DataChannelEvent, DataChannels, DcepMessage, DtlsRole,
};
pub use error::{Error, PeerMisbehaved};
pub use ferrtc_types::Transmit;
