//! `getStats()`: the W3C `RTCStatsReport` (webrtc-stats), with the W3C type and member
//! names, so a report can be printed, compared with a browser's, or turned into JSON as is.

use std::time::Instant;

/// The W3C `RTCStatsType` of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatsType {
    /// `codec`.
    Codec,
    /// `inbound-rtp`.
    InboundRtp,
    /// `outbound-rtp`.
    OutboundRtp,
    /// `remote-inbound-rtp`: what the peer reports of what we send.
    RemoteInboundRtp,
    /// `remote-outbound-rtp`: what the peer reports of what it sends.
    RemoteOutboundRtp,
    /// `media-source`.
    MediaSource,
    /// `peer-connection`.
    PeerConnection,
    /// `data-channel`.
    DataChannel,
    /// `transport`.
    Transport,
    /// `candidate-pair`.
    CandidatePair,
    /// `local-candidate`.
    LocalCandidate,
    /// `remote-candidate`.
    RemoteCandidate,
    /// `certificate`.
    Certificate,
}

impl StatsType {
    /// The W3C string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            StatsType::Codec => "codec",
            StatsType::InboundRtp => "inbound-rtp",
            StatsType::OutboundRtp => "outbound-rtp",
            StatsType::RemoteInboundRtp => "remote-inbound-rtp",
            StatsType::RemoteOutboundRtp => "remote-outbound-rtp",
            StatsType::MediaSource => "media-source",
            StatsType::PeerConnection => "peer-connection",
            StatsType::DataChannel => "data-channel",
            StatsType::Transport => "transport",
            StatsType::CandidatePair => "candidate-pair",
            StatsType::LocalCandidate => "local-candidate",
            StatsType::RemoteCandidate => "remote-candidate",
            StatsType::Certificate => "certificate",
        }
    }
}

/// A member's value.
#[derive(Debug, Clone, PartialEq)]
pub enum StatsValue {
    /// An unsigned counter.
    U64(u64),
    /// A signed counter (`packetsLost` may go negative).
    I64(i64),
    /// A measurement (seconds, fractions).
    F64(f64),
    /// A string (ids, states, names).
    Str(String),
    /// A flag.
    Bool(bool),
}

impl From<u64> for StatsValue {
    fn from(v: u64) -> Self {
        StatsValue::U64(v)
    }
}

impl From<u32> for StatsValue {
    fn from(v: u32) -> Self {
        StatsValue::U64(u64::from(v))
    }
}

impl From<i64> for StatsValue {
    fn from(v: i64) -> Self {
        StatsValue::I64(v)
    }
}

impl From<f64> for StatsValue {
    fn from(v: f64) -> Self {
        StatsValue::F64(v)
    }
}

impl From<bool> for StatsValue {
    fn from(v: bool) -> Self {
        StatsValue::Bool(v)
    }
}

impl From<String> for StatsValue {
    fn from(v: String) -> Self {
        StatsValue::Str(v)
    }
}

impl From<&str> for StatsValue {
    fn from(v: &str) -> Self {
        StatsValue::Str(v.to_owned())
    }
}

/// One `RTCStats` dictionary.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsEntry {
    /// `id`: unique in the report, stable across reports.
    pub id: String,
    /// `type`.
    pub kind: StatsType,
    /// `timestamp`: when the report was made.
    pub timestamp: Instant,
    /// The members, by their W3C names, in a fixed order.
    pub members: Vec<(&'static str, StatsValue)>,
}

impl StatsEntry {
    pub(crate) fn new(kind: StatsType, id: impl Into<String>, timestamp: Instant) -> StatsEntry {
        StatsEntry {
            id: id.into(),
            kind,
            timestamp,
            members: Vec::new(),
        }
    }

    pub(crate) fn with(mut self, name: &'static str, value: impl Into<StatsValue>) -> StatsEntry {
        self.members.push((name, value.into()));
        self
    }

    pub(crate) fn with_opt(self, name: &'static str, value: Option<impl Into<StatsValue>>) -> Self {
        match value {
            Some(v) => self.with(name, v),
            None => self,
        }
    }

    /// A member's value by its W3C name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&StatsValue> {
        self.members
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// An unsigned member (counters).
    #[must_use]
    pub fn get_u64(&self, name: &str) -> Option<u64> {
        match self.get(name)? {
            StatsValue::U64(v) => Some(*v),
            StatsValue::I64(v) => u64::try_from(*v).ok(),
            _ => None,
        }
    }

    /// A string member.
    #[must_use]
    pub fn get_str(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            StatsValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The W3C `RTCStatsReport`: every entry of one `getStats()` call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatsReport {
    /// The entries.
    pub entries: Vec<StatsEntry>,
}

impl StatsReport {
    /// The entries of one type.
    pub fn of(&self, kind: StatsType) -> impl Iterator<Item = &StatsEntry> {
        self.entries.iter().filter(move |e| e.kind == kind)
    }

    /// The entry with this id.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&StatsEntry> {
        self.entries.iter().find(|e| e.id == id)
    }
}
