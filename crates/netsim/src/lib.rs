//! A deterministic simulated network for sans-IO endpoints (test support, not published).
//!
//! ferrtc's protocol state machines never touch a socket or a clock; this crate gives them a
//! network to talk over in tests:
//!
//! - a **virtual clock**: [`Sim::step`] jumps straight to the next event (a datagram arriving,
//!   or the earliest [`Endpoint::poll_timeout`]); nothing sleeps, so a test of a 30-second
//!   timeout takes microseconds;
//! - **one-way links** with latency, jitter, loss, duplication, reordering, a bandwidth cap
//!   with a tail-drop queue, and an MTU ([`LinkConfig`]), counted per link ([`LinkStats`]);
//! - **NAT boxes** with the RFC 4787 mapping and filtering behaviours ([`NatKind`],
//!   [`NatConfig`]), for ICE;
//! - **determinism**: every random draw comes from `ChaCha8Rng::seed_from_u64(seed)`, and
//!   ties are broken by sequence numbers, so the same seed gives the same [`trace`](Sim::trace).
//!
//! Anything implementing [`Endpoint`] can be attached; a ferrtc state machine is wrapped with
//! [`Machine`] or the [`sans_io!`] macro, and [`endpoints`] has small ready-made ones.
//!
//! # Example
//!
//! A paced sender and a recorder over a 20 ms link that loses a tenth of the datagrams:
//!
//! ```
//! use std::time::Duration;
//! use ferrtc_netsim::endpoints::{Pacer, Recorder};
//! use std::net::SocketAddr;
//! use ferrtc_netsim::{LinkConfig, Sim};
//!
//! let mut sim = Sim::new(42);
//! let a: SocketAddr = "10.0.0.1:5000".parse()?;
//! let b: SocketAddr = "10.0.0.2:6000".parse()?;
//! let link = sim.add_link(a.ip(), b.ip(), LinkConfig::ideal()
//!     .latency(Duration::from_millis(20))
//!     .loss(0.1));
//! let pacer = sim.add_endpoint([a], Pacer::new(a, b, 1000, Duration::from_millis(10)));
//! let recorder = sim.add_endpoint([b], Recorder::new());
//!
//! // Runs until every datagram is delivered or lost; virtual time, so this is instant.
//! let idle_at = sim.run_until_idle(Duration::from_secs(60))?;
//! assert_eq!(idle_at - sim.epoch(), Duration::from_millis(9_990 + 20));
//!
//! let stats = sim.link_stats(link);
//! assert_eq!(stats.sent, 1000);
//! assert_eq!(stats.delivered + stats.dropped_loss, 1000);
//! assert!((60..140).contains(&stats.dropped_loss));
//! let first = &sim.endpoint(recorder).received[0];
//! assert_eq!(first.at - sim.endpoint(pacer).sent[0], Duration::from_millis(20));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Driving two state machines is the same: add them, then `run_until_cond` on what the test
//! waits for, with a virtual time limit so a broken handshake fails instead of hanging:
//!
//! ```
//! # use std::time::Duration;
//! # use ferrtc_netsim::endpoints::{Echo, Pacer};
//! # use ferrtc_netsim::Sim;
//! let mut sim = Sim::new(7);
//! let (a, b) = ("192.0.2.1:1".parse()?, "192.0.2.2:2".parse()?);
//! let echo = sim.add_endpoint([b], Echo::new());
//! sim.add_endpoint([a], Pacer::new(a, b, 3, Duration::from_secs(1)));
//! sim.run_until_cond(Duration::from_secs(10), |sim| sim.endpoint(echo).echoed == 3)?;
//! assert_eq!(sim.elapsed(), Duration::from_secs(2));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod addr;
mod endpoint;
pub mod endpoints;
mod link;
mod nat;
mod pcap;
mod sim;

pub use addr::{Prefix, PrefixError};
pub use endpoint::{Datagram, Endpoint, EndpointId, Handle, Machine};
pub use link::{Bandwidth, BurstLoss, LinkConfig, LinkDrop, LinkStats};
pub use nat::{
    Filtering, Mapping, NatConfig, NatDrop, NatKind, NatMapping, NatStats, PortAllocation,
};
pub use sim::{
    DropReason, LinkId, MAX_NAT_HOPS, NatId, RunError, Sim, SimStats, TraceEvent, TraceKind,
};
