//! ICE agent (RFC 8445), with Trickle ICE (RFC 8838) and consent freshness (RFC 7675).
//!
//! - [`candidate`]: candidates, priorities (RFC 8445 §5.1.2, RFC 6544 §4.2) and foundations.
//! - [`pair`]: pair priorities, the check list with pruning, limits and unfreezing.
//! - [`Agent`]: the sans-IO agent, full or lite, either role, with trickle, nomination,
//!   consent freshness and restart; its states map onto the W3C `iceConnectionState` and
//!   `iceGatheringState`.
//!
//! [`Agent`] follows the crate's contract (see the [crate-level docs](crate)): one input
//! verb per kind of input, outputs drained transmits first, then events.
//!
//! Two agents connected through a loop that delivers every datagram at once, in virtual
//! time (a real driver reads sockets and sleeps until `poll_timeout`):
//!
//! ```
//! use std::time::Instant;
//! use ferrtc_stun_ice::ice::{Agent, ConnectionState, IceConfig, IceEvent, IceRole};
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
//! let mut now = Instant::now();
//! let config = |role| IceConfig { role, ..IceConfig::default() };
//! let mut a = Agent::new(config(IceRole::Controlling), now, &mut rng);
//! let mut b = Agent::new(config(IceRole::Controlled), now, &mut rng);
//! a.add_local_host_address("192.0.2.1:5000".parse()?)?;
//! b.add_local_host_address("192.0.2.2:6000".parse()?)?;
//!
//! // Signalling: credentials, then candidates as they are emitted (trickle).
//! a.set_remote_credentials(b.local_credentials().clone())?;
//! b.set_remote_credentials(a.local_credentials().clone())?;
//! fn signal(from: &mut Agent, to: &mut Agent) {
//!     while let Some(event) = from.poll_event() {
//!         if let IceEvent::LocalCandidate(c) = event {
//!             to.add_remote_candidate(c).unwrap();
//!         }
//!     }
//! }
//! signal(&mut a, &mut b);
//! signal(&mut b, &mut a);
//!
//! // The run loop: drain transmits (delivered at once here), then sleep until a timer.
//! fn deliver(now: Instant, from: &mut Agent, to: &mut Agent) {
//!     while let Some(t) = from.poll_transmit() {
//!         let source = t.source.expect("the agent sends from a candidate's base");
//!         to.handle_receive(now, t.transport, t.destination, source, &t.contents).unwrap();
//!     }
//! }
//! while a.connection_state() != ConnectionState::Completed
//!     || b.connection_state() != ConnectionState::Completed
//! {
//!     deliver(now, &mut a, &mut b);
//!     deliver(now, &mut b, &mut a);
//!     let next = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min();
//!     now = next.expect("a timer is pending while checks run").max(now);
//!     a.handle_timeout(now);
//!     b.handle_timeout(now);
//! }
//! let pair = a.selected_pair().expect("selected");
//! assert_eq!(pair.remote.address, "192.0.2.2:6000".parse()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod agent;
pub mod candidate;
pub mod pair;
mod wire;

pub use agent::{
    Agent, ConnectionState, Credentials, GatheringState, IceConfig, IceError, IceEvent, IceRole,
    IceStats, MAX_LOCAL_CANDIDATES, MAX_REMOTE_CANDIDATES, ReceiveError, SelectedPair,
};
pub use candidate::{
    Candidate, Foundation, FoundationKey, FoundationTable, TransportProtocol, direction_preference,
};
pub use ferrtc_types::{CandidateKind, TcpType, Transmit, Transport};
pub use pair::{CandidatePair, CheckList, PairId, PairState};
pub use wire::is_stun;
