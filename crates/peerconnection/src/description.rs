//! Session descriptions as the application exchanges them, and the signaling state.

use core::fmt;

/// The type of a session description (W3C `RTCSdpType`, RFC 8829 §4.1.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdpType {
    /// An offer.
    Offer,
    /// A provisional answer: media may flow, the offer stays open.
    Pranswer,
    /// A final answer.
    Answer,
    /// Back to the last stable state (the description text is ignored).
    Rollback,
}

impl SdpType {
    /// The W3C name: `offer`, `pranswer`, `answer`, `rollback`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            SdpType::Offer => "offer",
            SdpType::Pranswer => "pranswer",
            SdpType::Answer => "answer",
            SdpType::Rollback => "rollback",
        }
    }
}

impl fmt::Display for SdpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A session description as signaled (W3C `RTCSessionDescriptionInit`): a type and SDP text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// Offer, answer, provisional answer or rollback.
    pub sdp_type: SdpType,
    /// The SDP text (empty for a rollback).
    pub sdp: String,
}

impl Description {
    /// An offer.
    #[must_use]
    pub fn offer(sdp: impl Into<String>) -> Description {
        Description {
            sdp_type: SdpType::Offer,
            sdp: sdp.into(),
        }
    }

    /// A final answer.
    #[must_use]
    pub fn answer(sdp: impl Into<String>) -> Description {
        Description {
            sdp_type: SdpType::Answer,
            sdp: sdp.into(),
        }
    }

    /// A provisional answer.
    #[must_use]
    pub fn pranswer(sdp: impl Into<String>) -> Description {
        Description {
            sdp_type: SdpType::Pranswer,
            sdp: sdp.into(),
        }
    }

    /// A rollback.
    #[must_use]
    pub fn rollback() -> Description {
        Description {
            sdp_type: SdpType::Rollback,
            sdp: String::new(),
        }
    }
}

/// The signaling state (W3C `RTCSignalingState`, RFC 8829 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalingState {
    /// No offer outstanding.
    Stable,
    /// Our offer is applied; waiting for the answer.
    HaveLocalOffer,
    /// The peer's offer is applied; we owe an answer.
    HaveRemoteOffer,
    /// The peer's offer and our provisional answer are applied.
    HaveLocalPranswer,
    /// Our offer and the peer's provisional answer are applied.
    HaveRemotePranswer,
    /// Closed: every operation fails.
    Closed,
}

impl SignalingState {
    /// The W3C name, e.g. `have-local-offer`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            SignalingState::Stable => "stable",
            SignalingState::HaveLocalOffer => "have-local-offer",
            SignalingState::HaveRemoteOffer => "have-remote-offer",
            SignalingState::HaveLocalPranswer => "have-local-pranswer",
            SignalingState::HaveRemotePranswer => "have-remote-pranswer",
            SignalingState::Closed => "closed",
        }
    }
}

impl fmt::Display for SignalingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
