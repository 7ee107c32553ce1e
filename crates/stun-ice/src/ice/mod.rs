//! ICE agent (RFC 8445), with Trickle ICE (RFC 8838) and consent freshness (RFC 7675).
//!
//! - [`candidate`]: candidates, priorities (RFC 8445 §5.1.2, RFC 6544 §4.2) and foundations.
//! - [`pair`]: pair priorities, the check list with pruning, limits and unfreezing.
//! - [`Agent`]: the sans-IO agent, full or lite, either role, with trickle, nomination,
//!   consent freshness and restart; its states map onto the W3C `iceConnectionState` and
//!   `iceGatheringState`.

mod agent;
pub mod candidate;
pub mod pair;
mod wire;

pub use agent::{
    Agent, ConnectionState, Credentials, GatheringState, IceConfig, IceError, IceEvent, IceRole,
    IceStats, MAX_LOCAL_CANDIDATES, MAX_REMOTE_CANDIDATES, SelectedPair, Transmit, Transport,
};
pub use candidate::{
    Candidate, CandidateKind, Foundation, FoundationKey, FoundationTable, TcpType,
    TransportProtocol,
};
pub use pair::{CandidatePair, CheckList, PairId, PairState};
pub use wire::is_stun;
