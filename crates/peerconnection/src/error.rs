//! Errors, one family per operation: what the caller did wrong ([`UsageError`]) is kept apart
//! from what the peer sent wrong ([`RemoteDescriptionError`], [`CandidateError`]). Every
//! failed operation leaves the negotiator as it was.

use core::fmt;

use ferrtc_types::{Mid, ValueError};

use crate::{SdpType, SignalingState, TransceiverId};

/// An operation, as named in a [`UsageError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `create_offer`.
    CreateOffer,
    /// `create_answer`.
    CreateAnswer,
    /// `set_local_description` of this type.
    SetLocal(SdpType),
    /// `set_remote_description` of this type.
    SetRemote(SdpType),
    /// `add_ice_candidate`.
    AddIceCandidate,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::CreateOffer => f.write_str("create_offer"),
            Operation::CreateAnswer => f.write_str("create_answer"),
            Operation::SetLocal(t) => write!(f, "set_local_description({t})"),
            Operation::SetRemote(t) => write!(f, "set_remote_description({t})"),
            Operation::AddIceCandidate => f.write_str("add_ice_candidate"),
        }
    }
}

/// The caller used the API in a way JSEP does not allow (W3C `InvalidStateError`,
/// `InvalidModificationError`, ...). Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The negotiator was closed.
    #[error("the negotiator is closed")]
    Closed,
    /// The operation is not allowed in this signaling state (RFC 8829 §3.2 and §4.1.x).
    #[error("{operation} is not allowed in signaling state {state}")]
    WrongState {
        /// What was attempted.
        operation: Operation,
        /// The state it was attempted in.
        state: SignalingState,
    },
    /// `set_local_description` with a description other than the one `create_offer` or
    /// `create_answer` last returned (W3C `InvalidModificationError`: no SDP munging).
    #[error("the local description is not the last one created")]
    NotLastCreated,
    /// No transceiver has this id (it was never created or was removed by a rollback).
    #[error("no transceiver {0}")]
    UnknownTransceiver(TransceiverId),
    /// The transceiver is stopped or stopping.
    #[error("transceiver {0} is stopped")]
    TransceiverStopped(TransceiverId),
    /// A codec preference that matches no configured codec of the transceiver's kind (W3C
    /// `InvalidModificationError`).
    #[error("codec preference {index} is not a configured codec")]
    UnsupportedCodec {
        /// Its index in the list given.
        index: usize,
    },
    /// `add_ice_candidate` before any remote description.
    #[error("no remote description to add a candidate to")]
    NoRemoteDescription,
    /// A candidate with neither a mid nor an m-line index (W3C `TypeError`).
    #[error("the candidate names neither a mid nor an m-line index")]
    CandidateWithoutMid,
}

/// A remote description that is malformed or inconsistent. The description was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteDescriptionError {
    /// The text is not SDP.
    #[error("remote description is not valid SDP")]
    Malformed(#[source] ferrtc_sdp::ParseError),
    /// An m-line in use has no `a=mid` (RFC 8829 §5.8.3 requires one).
    #[error("m-line {index} has no a=mid")]
    MissingMid {
        /// Index of the m-line.
        index: usize,
    },
    /// Two m-lines with the same `a=mid`.
    #[error("two m-lines have mid {mid}")]
    DuplicateMid {
        /// The mid.
        mid: Mid,
    },
    /// More than one `a=group:BUNDLE`; ferrtc bundles everything into one transport.
    #[error("more than one BUNDLE group")]
    MultipleBundleGroups,
    /// `a=group:BUNDLE` with no mids.
    #[error("empty BUNDLE group")]
    EmptyBundleGroup,
    /// A BUNDLE group names a mid no m-line has (RFC 8843 §7.1.2).
    #[error("BUNDLE group names unknown mid {mid}")]
    UnknownBundleMid {
        /// The mid.
        mid: Mid,
    },
    /// A BUNDLE group names a mid twice.
    #[error("BUNDLE group names mid {mid} twice")]
    DuplicateBundleMid {
        /// The mid.
        mid: Mid,
    },
    /// A BUNDLE group names a rejected m-line (port 0 without bundle-only, RFC 8843 §7.3.3).
    #[error("BUNDLE group names rejected m-line {mid}")]
    RejectedMidInBundle {
        /// The mid.
        mid: Mid,
    },
    /// The first mid of a BUNDLE group (the tag) is bundle-only (RFC 8843 §7.2.1).
    #[error("BUNDLE tag {mid} is bundle-only")]
    BundleTagIsBundleOnly {
        /// The mid.
        mid: Mid,
    },
    /// `a=bundle-only` on an m-line in no BUNDLE group.
    #[error("m-line {mid} is bundle-only but in no BUNDLE group")]
    BundleOnlyOutsideBundle {
        /// The mid.
        mid: Mid,
    },
    /// No `a=ice-ufrag` for a transport (media or session level).
    #[error("no a=ice-ufrag for transport {mid}")]
    MissingIceUfrag {
        /// The transport's (tagged) m-line.
        mid: Mid,
    },
    /// No `a=ice-pwd` for a transport.
    #[error("no a=ice-pwd for transport {mid}")]
    MissingIcePwd {
        /// The transport's (tagged) m-line.
        mid: Mid,
    },
    /// `a=ice-ufrag` outside 4 to 256 `ice-char`s (RFC 8839 §5.4).
    #[error("malformed a=ice-ufrag for transport {mid}")]
    InvalidIceUfrag {
        /// The transport's (tagged) m-line.
        mid: Mid,
    },
    /// `a=ice-pwd` outside 22 to 256 `ice-char`s (RFC 8839 §5.4).
    #[error("malformed a=ice-pwd for transport {mid}")]
    InvalidIcePwd {
        /// The transport's (tagged) m-line.
        mid: Mid,
    },
    /// No `a=fingerprint` for a transport (RFC 8842 §5.1 requires one).
    #[error("no a=fingerprint for transport {mid}")]
    MissingFingerprint {
        /// The transport's (tagged) m-line.
        mid: Mid,
    },
    /// An `a=fingerprint` that is not a usable certificate fingerprint.
    #[error("unusable a=fingerprint for transport {mid}")]
    InvalidFingerprint {
        /// The transport's (tagged) m-line.
        mid: Mid,
        /// What is wrong with it.
        #[source]
        source: ValueError,
    },
    /// `a=setup:holdconn` or an unknown role (RFC 8842 §5.1).
    #[error("unsupported a=setup role for transport {mid}")]
    UnsupportedSetup {
        /// The transport's (tagged) m-line.
        mid: Mid,
    },
    /// An answer with `a=setup:actpass` (RFC 8842 §5.3: the answerer must choose).
    #[error("answer has a=setup:actpass for transport {mid}")]
    ActpassInAnswer {
        /// The transport's (tagged) m-line.
        mid: Mid,
    },
    /// The DTLS role would change in a renegotiation without an ICE restart of the
    /// transport, which would need a new DTLS association (RFC 8842 §5.5).
    #[error("a=setup changes the DTLS role of transport {mid}")]
    DtlsRoleChanged {
        /// The transport's (tagged) m-line.
        mid: Mid,
    },
    /// The peer's certificate fingerprint changed in a renegotiation.
    #[error("the remote fingerprint of transport {mid} changed")]
    FingerprintChanged {
        /// The transport's (tagged) m-line.
        mid: Mid,
    },
    /// Both sides are ICE-lite (RFC 8445 §2.5: a lite agent needs a full peer).
    #[error("both sides are ICE-lite")]
    BothIceLite,
    /// An answer whose m-line count differs from the offer's (RFC 3264 §6).
    #[error("the answer has {answered} m-lines, the offer {offered}")]
    MediaCountMismatch {
        /// m-lines in the offer.
        offered: usize,
        /// m-lines in the answer.
        answered: usize,
    },
    /// A new offer with fewer m-lines than the last negotiation (RFC 3264 §8: m-lines are
    /// never removed, only rejected).
    #[error("the offer has {offered} m-lines, fewer than the {previous} negotiated")]
    MediaRemoved {
        /// m-lines negotiated before.
        previous: usize,
        /// m-lines in the new offer.
        offered: usize,
    },
    /// An m-line whose media type differs from the offer's (answer) or from the last
    /// negotiation (re-offer, unless the m-line was rejected and is recycled).
    #[error("m-line {index} changed media kind")]
    KindMismatch {
        /// Index of the m-line.
        index: usize,
    },
    /// An m-line whose mid differs from the offer's (answer) or from the last negotiation
    /// (re-offer of an m-line that was not rejected).
    #[error("m-line {index} changed mid to {found}")]
    MidMismatch {
        /// Index of the m-line.
        index: usize,
        /// The mid found.
        found: Mid,
    },
    /// An answer that accepts an m-line the offer rejected.
    #[error("the answer accepts m-line {mid}, which the offer rejected")]
    AcceptedRejectedMedia {
        /// The mid.
        mid: Mid,
    },
    /// An answer without a BUNDLE group to an offer with one (ferrtc's max-bundle policy
    /// has no transport for the other m-lines).
    #[error("the answer does not accept BUNDLE")]
    BundleNotAccepted,
    /// An answer's BUNDLE group names an m-line the offer did not bundle.
    #[error("the answer bundles m-line {mid}, which the offer did not")]
    BundleMidNotOffered {
        /// The mid.
        mid: Mid,
    },
    /// An RTP m-line without `a=rtcp-mux` (ferrtc's policy is `require`, RFC 8829 §4.1.1,
    /// §5.8.3).
    #[error("m-line {mid} has no a=rtcp-mux")]
    MissingRtcpMux {
        /// The mid.
        mid: Mid,
    },
    /// An answer that accepts an RTP m-line with no codec of the offer.
    #[error("the answer names no offered codec for m-line {mid}")]
    NoCommonCodec {
        /// The mid.
        mid: Mid,
    },
    /// An `a=extmap` id of 0 or above 255 (RFC 8285 §5).
    #[error("a=extmap id {id} of m-line {mid} is out of range")]
    InvalidExtensionId {
        /// The mid.
        mid: Mid,
        /// The id.
        id: u16,
    },
    /// One `a=extmap` id for two URIs within a BUNDLE group (RFC 8843 §9.2).
    #[error("a=extmap id {id} names two extensions")]
    ConflictingExtensionId {
        /// The id.
        id: u8,
    },
}

/// Why a trickled remote candidate (or end-of-candidates) could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddCandidateError {
    /// The caller's mistake (closed, no remote description, no mid or index).
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// What the peer sent does not fit the remote description.
    #[error(transparent)]
    Remote(#[from] CandidateError),
}

/// A trickled candidate that does not fit the remote description (W3C `OperationError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CandidateError {
    /// No m-line has this mid.
    #[error("no m-line has mid {0}")]
    UnknownMid(Mid),
    /// No m-line has this index.
    #[error("no m-line has index {0}")]
    MLineIndexOutOfRange(usize),
    /// The m-line is rejected.
    #[error("m-line {0} is rejected")]
    RejectedMedia(Mid),
    /// The candidate's ufrag is not the current remote one (from before an ICE restart).
    #[error("the candidate's ufrag is not the remote description's")]
    UfragMismatch,
}

/// Why `set_remote_description` failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetRemoteError {
    /// The caller's mistake (wrong type for the state, closed).
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// The description is malformed or inconsistent.
    #[error(transparent)]
    Remote(#[from] RemoteDescriptionError),
}

/// A configuration the negotiator cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No certificate fingerprint (RFC 8827 §6.5 requires DTLS).
    #[error("no certificate fingerprint")]
    NoFingerprint,
    /// Two codecs of one kind (or a codec and an RTX stream) share a payload type.
    #[error("payload type {0} is used twice")]
    DuplicatePayloadType(ferrtc_types::PayloadType),
    /// More header extensions than one-byte ids (1 to 14, RFC 8285 §4.2).
    #[error("more than 14 header extensions")]
    TooManyHeaderExtensions,
}
