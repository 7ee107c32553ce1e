//! The JSEP state machine (RFC 8829 §3.2, §5; W3C webrtc-pc §4.4.1).

mod answer;
mod apply;
mod candidates;
mod offer;

use std::sync::Arc;

use ferrtc_sdp::{Direction, MediaDescription, SessionDescription, Setup};
use ferrtc_types::{DtlsRole, Mid, Ssrc};
use rand::RngCore;

use crate::build::{self, SenderAttrs, TransportAttrs};
use crate::config::{Config, IceCredentials, random_token};
use crate::description::{Description, SdpType, SignalingState};
use crate::error::{
    AddCandidateError, CandidateError, ConfigError, Operation, RemoteDescriptionError as E,
    SetRemoteError, UsageError,
};
use crate::negotiated::{self, Negotiation, Owner};
use crate::remote::{self, Analysis, SetupRole};
use crate::transceiver::{
    MediaKind, Origin, TrackInfo, Transceiver, TransceiverId, TransceiverInit,
};

/// A remote ICE candidate as trickled by the peer (W3C `RTCIceCandidateInit`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemoteCandidate {
    /// The candidate; `None` means end-of-candidates (RFC 8838 §4.4).
    pub candidate: Option<ferrtc_sdp::Candidate>,
    /// The mid of its m-line (`sdpMid`), preferred over the index.
    pub mid: Option<Mid>,
    /// The index of its m-line (`sdpMLineIndex`).
    pub m_line_index: Option<usize>,
    /// The ICE ufrag it belongs to (`usernameFragment`), if given.
    pub ufrag: Option<String>,
}

/// Where a trickled candidate went: to the transport whose tagged m-line is `transport_mid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrickledCandidate {
    /// The transport's (tagged) mid, the first of [`NegotiatedTransport::mids`](crate::NegotiatedTransport::mids).
    pub transport_mid: Mid,
    /// The candidate, or `None` for end-of-candidates.
    pub candidate: Option<ferrtc_sdp::Candidate>,
}

/// One m-line of the current layout.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MLine {
    mid: Option<Mid>,
    kind: ferrtc_sdp::MediaKind,
    protocol: String,
    formats: Vec<String>,
    owner: Owner,
    /// Rejected (port 0) in the last applied description.
    rejected: bool,
}

/// An applied description.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Applied {
    sdp_type: SdpType,
    /// Shared with the copies of the state (checkpoint, `last_created`, `last_answer`).
    sdp: Arc<SessionDescription>,
    analysis: Analysis,
}

/// What `create_offer`/`create_answer` decided, applied by `set_local_description`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    mlines: Vec<MLine>,
    assign: Vec<(TransceiverId, usize, Mid)>,
    ice: IceCredentials,
    ssrcs: Vec<(TransceiverId, Ssrc, Option<Ssrc>)>,
    /// m-lines our answer rejects.
    refuse: Vec<usize>,
    next_mid: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Created {
    sdp_type: SdpType,
    text: String,
    sdp: Arc<SessionDescription>,
    plan: Plan,
}

/// Everything an operation may change; operations work on a copy and keep it only on
/// success, so an error leaves the negotiator as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    signaling: SignalingState,
    transceivers: Vec<Transceiver>,
    mlines: Vec<MLine>,
    data_wanted: bool,
    local_ice: IceCredentials,
    ice_restart_pending: bool,
    next_mid: u64,
    session_version: u64,
    current_local: Option<Applied>,
    pending_local: Option<Applied>,
    current_remote: Option<Applied>,
    pending_remote: Option<Applied>,
    /// The answer of the last completed exchange (RFC 8829 §5.2.2 builds re-offers on it).
    last_answer: Option<Arc<SessionDescription>>,
    last_created: Option<Created>,
    /// The state when we last left `stable`, for rollback.
    checkpoint: Option<Box<State>>,
    negotiation: Option<Negotiation>,
    dtls_role: Option<DtlsRole>,
    local_candidates: Vec<ferrtc_sdp::Candidate>,
    local_end_of_candidates: bool,
    /// Session-wide header extension ids, so a URI keeps one id in every m-line.
    ext_ids: Vec<(String, u16)>,
}

/// The negotiation half of a peer connection: signaling state, transceivers and the
/// data-channel m-line, offer/answer in SDP (RFC 8829).
///
/// Methods come in three groups: getters (`signaling_state`, `transceivers`,
/// `negotiation`, the descriptions, `negotiation_needed`); commands that change what the
/// next offer asks for (`add_track`, `add_transceiver`, `create_data_channel`,
/// `restart_ice`, ...); and the JSEP operations (`create_offer`, `create_answer`,
/// `set_local_description`, `set_remote_description`, `add_ice_candidate`). A `set_*` call
/// that applies an answer or provisional answer returns the [`Negotiation`] the connection
/// core acts on. Any error leaves the negotiator unchanged.
#[derive(Debug, Clone)]
pub struct Negotiator {
    config: Config,
    session_id: u64,
    cname: String,
    state: State,
}

fn wrong(operation: Operation, state: SignalingState) -> UsageError {
    UsageError::WrongState { operation, state }
}

fn sends(d: Direction) -> bool {
    matches!(d, Direction::SendRecv | Direction::SendOnly)
}

impl Negotiator {
    /// A negotiator with no transceivers, in `stable`. Draws the session id, ICE
    /// credentials and RTCP CNAME from `rng`.
    ///
    /// # Errors
    /// [`ConfigError`] if the configuration has no fingerprint or reuses a payload type.
    pub fn new(config: Config, rng: &mut dyn RngCore) -> Result<Negotiator, ConfigError> {
        config.check()?;
        // RFC 8829 §5.2.1: a 64-bit id with the top bit clear, so it fits signed parsers.
        let session_id = rng.next_u64() >> 1;
        let local_ice = IceCredentials::random(rng);
        let cname = random_token(rng, 16);
        Ok(Negotiator {
            config,
            session_id,
            cname,
            state: State {
                signaling: SignalingState::Stable,
                transceivers: Vec::new(),
                mlines: Vec::new(),
                data_wanted: false,
                local_ice,
                ice_restart_pending: false,
                next_mid: 0,
                session_version: 1,
                current_local: None,
                pending_local: None,
                current_remote: None,
                pending_remote: None,
                last_answer: None,
                last_created: None,
                checkpoint: None,
                negotiation: None,
                dtls_role: None,
                local_candidates: Vec::new(),
                local_end_of_candidates: false,
                ext_ids: Vec::new(),
            },
        })
    }

    // ---- getters ---------------------------------------------------------------------

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The signaling state.
    #[must_use]
    pub fn signaling_state(&self) -> SignalingState {
        self.state.signaling
    }

    /// Our RTCP CNAME.
    #[must_use]
    pub fn cname(&self) -> &str {
        &self.cname
    }

    /// Our current ICE credentials (those of the last applied local description, or the
    /// ones the next description will carry).
    #[must_use]
    pub fn local_ice_credentials(&self) -> &IceCredentials {
        &self.state.local_ice
    }

    /// Our DTLS role, once an answer has settled it.
    #[must_use]
    pub fn dtls_role(&self) -> Option<DtlsRole> {
        self.state.dtls_role
    }

    /// The transceivers, in creation order (those a rollback removed are left out).
    pub fn transceivers(&self) -> impl Iterator<Item = &Transceiver> {
        self.state.transceivers.iter().filter(|t| !t.removed)
    }

    /// One transceiver.
    #[must_use]
    pub fn transceiver(&self, id: TransceiverId) -> Option<&Transceiver> {
        self.state.transceivers.get(id.0).filter(|t| !t.removed)
    }

    /// The mid of the data-channel m-line, once a description has one.
    #[must_use]
    pub fn data_mid(&self) -> Option<&Mid> {
        self.state
            .mlines
            .iter()
            .find(|m| m.owner == Owner::Data && !m.rejected)
            .and_then(|m| m.mid.as_ref())
    }

    /// What the last completed exchange (answer, or provisional answer) agreed.
    #[must_use]
    pub fn negotiation(&self) -> Option<&Negotiation> {
        self.state.negotiation.as_ref()
    }

    /// The local description: the pending one if any, else the current one, with the
    /// candidates gathered so far.
    #[must_use]
    pub fn local_description(&self) -> Option<Description> {
        self.pending_local_description()
            .or_else(|| self.current_local_description())
    }

    /// The local description of the last completed exchange.
    #[must_use]
    pub fn current_local_description(&self) -> Option<Description> {
        self.state
            .current_local
            .as_ref()
            .map(|a| self.describe_local(a))
    }

    /// The local description of the exchange in progress.
    #[must_use]
    pub fn pending_local_description(&self) -> Option<Description> {
        self.state
            .pending_local
            .as_ref()
            .map(|a| self.describe_local(a))
    }

    /// The remote description: the pending one if any, else the current one.
    #[must_use]
    pub fn remote_description(&self) -> Option<Description> {
        self.pending_remote_description()
            .or_else(|| self.current_remote_description())
    }

    /// The remote description of the last completed exchange.
    #[must_use]
    pub fn current_remote_description(&self) -> Option<Description> {
        self.state.current_remote.as_ref().map(describe)
    }

    /// The remote description of the exchange in progress.
    #[must_use]
    pub fn pending_remote_description(&self) -> Option<Description> {
        self.state.pending_remote.as_ref().map(describe)
    }

    fn describe_local(&self, a: &Applied) -> Description {
        let mut sdp = SessionDescription::clone(&a.sdp);
        if let Some(t) = a.analysis.transports.first() {
            let tag = t.indices[0];
            for c in &self.state.local_candidates {
                if !sdp.media[tag].candidates().any(|x| x == c) {
                    remote::push_candidate(&mut sdp, tag, Some(c));
                }
            }
            if self.state.local_end_of_candidates {
                remote::push_candidate(&mut sdp, tag, None);
            }
        }
        Description {
            sdp_type: a.sdp_type,
            sdp: sdp.to_string(),
        }
    }

    /// Whether the application should negotiate (W3C "check if negotiation is needed"):
    /// in `stable`, when a transceiver or the data channel has no m-line yet, a stopped
    /// transceiver's m-line is not yet rejected, a direction or track differs from what
    /// was negotiated, or an ICE restart is pending.
    #[must_use]
    pub fn negotiation_needed(&self) -> bool {
        let s = &self.state;
        if s.signaling != SignalingState::Stable {
            return false;
        }
        if s.ice_restart_pending {
            return true;
        }
        if s.data_wanted
            && !s
                .mlines
                .iter()
                .any(|m| m.owner == Owner::Data && !m.rejected)
        {
            return true;
        }
        let Some(local) = &s.current_local else {
            return s.transceivers.iter().any(|t| !t.removed && !t.stopped);
        };
        let remote = s.current_remote.as_ref();
        for t in s.transceivers.iter().filter(|t| !t.removed && !t.stopped) {
            let Some(i) = t.m_line_index else {
                return true;
            };
            if t.stopping {
                return true;
            }
            let Some(m) = local.sdp.media.get(i) else {
                return true;
            };
            let local_dir = remote::direction(&local.sdp, m);
            let remote_m = remote.and_then(|r| r.sdp.media.get(i).map(|rm| (r, rm)));
            let remote_dir = remote_m.map(|(r, rm)| remote::direction(&r.sdp, rm));
            let settled = if local.sdp_type == SdpType::Offer {
                // W3C: the offer's direction, or the answer's seen from our side.
                local_dir == t.direction || remote_dir.is_some_and(|d| d.reverse() == t.direction)
            } else {
                // W3C: the answer's direction is ours intersected with the offer's.
                let offered = remote_dir.map_or(t.direction, Direction::reverse);
                local_dir == build::intersect(t.direction, offered)
            };
            if !settled {
                return true;
            }
            // W3C: the streams announced are the sender's (a new track in the same
            // streams needs no negotiation).
            let written: Vec<&str> = m.msids().map(|x| x.stream_id.as_str()).collect();
            let expected: Vec<&str> = t
                .track
                .as_ref()
                .filter(|tr| build::msid_written(t.direction, Some(tr)))
                .map(|tr| vec![build::msid_stream(tr)])
                .unwrap_or_default();
            if written != expected {
                return true;
            }
        }
        false
    }

    // ---- commands --------------------------------------------------------------------

    fn check_open(&self) -> Result<(), UsageError> {
        if self.state.signaling == SignalingState::Closed {
            return Err(UsageError::Closed);
        }
        Ok(())
    }

    fn live(&mut self, id: TransceiverId) -> Result<&mut Transceiver, UsageError> {
        self.check_open()?;
        let t = self
            .state
            .transceivers
            .get_mut(id.0)
            .filter(|t| !t.removed)
            .ok_or(UsageError::UnknownTransceiver(id))?;
        if t.stopped || t.stopping {
            return Err(UsageError::TransceiverStopped(id));
        }
        Ok(t)
    }

    /// Adds a track to send (W3C `addTrack`): reuses a transceiver of the kind that has no
    /// track and never sent (such as one a remote offer created), else adds a `sendrecv`
    /// one.
    ///
    /// # Errors
    /// [`UsageError::Closed`].
    pub fn add_track(
        &mut self,
        kind: MediaKind,
        track: TrackInfo,
    ) -> Result<TransceiverId, UsageError> {
        self.check_open()?;
        let reuse = self.state.transceivers.iter_mut().find(|t| {
            !t.removed
                && !t.stopped
                && !t.stopping
                && t.kind == kind
                && t.track.is_none()
                && !t.ever_sent
        });
        if let Some(t) = reuse {
            t.track = Some(track);
            t.direction = match t.direction {
                Direction::RecvOnly => Direction::SendRecv,
                Direction::Inactive => Direction::SendOnly,
                d => d,
            };
            return Ok(t.id);
        }
        let id = TransceiverId(self.state.transceivers.len());
        let mut t = Transceiver::new(id, kind, Direction::SendRecv, Origin::AddTrack);
        t.track = Some(track);
        self.state.transceivers.push(t);
        Ok(id)
    }

    /// Stops sending a track (W3C `removeTrack`): the transceiver stays, its direction
    /// loses `send`.
    ///
    /// # Errors
    /// Unknown or stopped transceiver, or closed.
    pub fn remove_track(&mut self, id: TransceiverId) -> Result<(), UsageError> {
        let t = self.live(id)?;
        t.track = None;
        t.direction = match t.direction {
            Direction::SendRecv => Direction::RecvOnly,
            Direction::SendOnly => Direction::Inactive,
            d => d,
        };
        Ok(())
    }

    /// Adds a transceiver (W3C `addTransceiver`).
    ///
    /// # Errors
    /// [`UsageError::Closed`].
    pub fn add_transceiver(
        &mut self,
        kind: MediaKind,
        init: TransceiverInit,
    ) -> Result<TransceiverId, UsageError> {
        self.check_open()?;
        let id = TransceiverId(self.state.transceivers.len());
        let mut t = Transceiver::new(id, kind, init.direction, Origin::AddTransceiver);
        t.track = init.track;
        self.state.transceivers.push(t);
        Ok(id)
    }

    /// Sets a transceiver's preferred direction.
    ///
    /// # Errors
    /// Unknown or stopped transceiver, or closed.
    pub fn set_direction(
        &mut self,
        id: TransceiverId,
        direction: Direction,
    ) -> Result<(), UsageError> {
        self.live(id)?.direction = direction;
        Ok(())
    }

    /// Sets or clears the track a transceiver sends, without changing its direction (W3C
    /// `replaceTrack` plus `setStreams`).
    ///
    /// # Errors
    /// Unknown or stopped transceiver, or closed.
    pub fn set_track(
        &mut self,
        id: TransceiverId,
        track: Option<TrackInfo>,
    ) -> Result<(), UsageError> {
        self.live(id)?.track = track;
        Ok(())
    }

    /// Sets the codecs a transceiver offers and accepts, in order of preference (W3C
    /// `setCodecPreferences`, RFC 8829 §4.2.6); an empty list goes back to the configured
    /// ones. Each must match a configured codec of the transceiver's kind (same name, clock
    /// rate, channels and format parameters); the configured entry, with its payload types,
    /// RTX and feedback, is what is used.
    ///
    /// # Errors
    /// [`UsageError::UnsupportedCodec`] naming the first codec that matches none;
    /// unknown or stopped transceiver, or closed.
    pub fn set_codec_preferences(
        &mut self,
        id: TransceiverId,
        codecs: &[crate::CodecSpec],
    ) -> Result<(), UsageError> {
        let kind = self.live(id)?.kind;
        let configured = self.specs(kind);
        let mut prefs = Vec::with_capacity(codecs.len());
        for (index, c) in codecs.iter().enumerate() {
            let Some(spec) = configured
                .iter()
                .find(|s| crate::codec::same_codec((*s).into(), c.into()))
            else {
                return Err(UsageError::UnsupportedCodec { index });
            };
            if !prefs.contains(spec) {
                prefs.push(spec.clone());
            }
        }
        self.live(id)?.codec_preferences = (!prefs.is_empty()).then_some(prefs);
        Ok(())
    }

    /// Stops a transceiver (W3C `stop`): the next offer rejects its m-line. One that never
    /// had an m-line is stopped at once.
    ///
    /// # Errors
    /// Unknown or already stopped transceiver, or closed.
    pub fn stop_transceiver(&mut self, id: TransceiverId) -> Result<(), UsageError> {
        let t = self.live(id)?;
        t.direction = Direction::Inactive;
        if t.mid.is_none() {
            t.stopped = true;
        } else {
            t.stopping = true;
        }
        Ok(())
    }

    /// Asks for data channels (W3C `createDataChannel`): the first call makes the next offer
    /// carry the application m-line; later calls change nothing, as every channel shares it.
    ///
    /// # Errors
    /// [`UsageError::Closed`].
    pub fn create_data_channel(&mut self) -> Result<(), UsageError> {
        self.check_open()?;
        self.state.data_wanted = true;
        Ok(())
    }

    /// Makes the next offer restart ICE with new credentials (RFC 8829 §5.2.3.1).
    ///
    /// # Errors
    /// [`UsageError::Closed`].
    pub fn restart_ice(&mut self) -> Result<(), UsageError> {
        self.check_open()?;
        self.state.ice_restart_pending = true;
        Ok(())
    }

    /// Records one of our gathered candidates, written into our description's BUNDLE-tag
    /// m-line (and into later offers and answers until an ICE restart).
    ///
    /// # Errors
    /// [`UsageError::Closed`].
    pub fn add_local_candidate(
        &mut self,
        candidate: ferrtc_sdp::Candidate,
    ) -> Result<(), UsageError> {
        self.check_open()?;
        if !self.state.local_candidates.contains(&candidate) {
            self.state.local_candidates.push(candidate);
        }
        Ok(())
    }

    /// Records that our gathering is complete (`a=end-of-candidates`).
    ///
    /// # Errors
    /// [`UsageError::Closed`].
    pub fn end_of_local_candidates(&mut self) -> Result<(), UsageError> {
        self.check_open()?;
        self.state.local_end_of_candidates = true;
        Ok(())
    }

    /// Closes: every transceiver stops, every later operation fails.
    pub fn close(&mut self) {
        self.state.signaling = SignalingState::Closed;
        for t in &mut self.state.transceivers {
            t.stopped = true;
            t.stopping = false;
            t.current_direction = None;
        }
    }
    /// A snapshot of the whole internal state, for tests and fuzzing to check that a
    /// failed operation changed nothing. Not part of the API.
    #[doc(hidden)]
    #[must_use]
    pub fn state_snapshot(&self) -> impl PartialEq + core::fmt::Debug + use<> {
        self.state.clone()
    }
}

fn describe(a: &Applied) -> Description {
    Description {
        sdp_type: a.sdp_type,
        sdp: a.sdp.to_string(),
    }
}
