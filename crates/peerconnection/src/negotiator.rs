//! The JSEP state machine (RFC 8829 §3.2, §5; W3C webrtc-pc §4.4.1).

use ferrtc_sdp::{Direction, MediaDescription, SessionDescription, Setup};
use ferrtc_types::{DtlsRole, Mid, Ssrc};
use rand::RngCore;

use crate::build::{self, SenderAttrs, TransportAttrs};
use crate::config::{Config, IceCredentials, random_token};
use crate::convert;
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
    sdp: SessionDescription,
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
    sdp: SessionDescription,
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
    last_answer: Option<SessionDescription>,
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
        let mut sdp = a.sdp.clone();
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
            let expected = if local.sdp_type == SdpType::Offer {
                t.direction
            } else {
                match remote.and_then(|r| r.sdp.media.get(i).map(|rm| (r, rm))) {
                    Some((r, rm)) => {
                        build::intersect(t.direction, remote::direction(&r.sdp, rm).reverse())
                    }
                    None => t.direction,
                }
            };
            if expected != local_dir {
                return true;
            }
            if sends(t.direction) {
                let written = m.msids().next().and_then(|x| x.track_id.clone());
                if written.as_deref() != t.track.as_ref().map(|x| x.track_id.as_str()) {
                    return true;
                }
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

    // ---- offer -----------------------------------------------------------------------

    fn fresh_mid(mlines: &[MLine], transceivers: &[Transceiver], next: &mut u64) -> Mid {
        loop {
            let candidate = next.to_string();
            *next += 1;
            let used = mlines
                .iter()
                .any(|m| m.mid.as_ref().is_some_and(|x| *x == *candidate.as_str()))
                || transceivers
                    .iter()
                    .any(|t| t.mid.as_ref().is_some_and(|x| *x == *candidate.as_str()));
            if !used {
                // Decimal digits are a valid mid.
                return Mid::new(candidate)
                    .unwrap_or_else(|_| unreachable!("digits are a valid mid"));
            }
        }
    }

    fn fresh_ssrc(&self, rng: &mut dyn RngCore, taken: &[Ssrc]) -> Ssrc {
        loop {
            let s = Ssrc(rng.next_u32());
            let used = s.0 == 0
                || taken.contains(&s)
                || self
                    .state
                    .transceivers
                    .iter()
                    .any(|t| t.ssrc == Some(s) || t.rtx_ssrc == Some(s));
            if !used {
                return s;
            }
        }
    }

    fn specs(&self, kind: MediaKind) -> &[crate::CodecSpec] {
        match kind {
            MediaKind::Audio => &self.config.audio_codecs,
            MediaKind::Video => &self.config.video_codecs,
        }
    }

    /// SSRCs for every transceiver in `mlines` that has none yet.
    fn plan_ssrcs(
        &self,
        rng: &mut dyn RngCore,
        mlines: &[MLine],
    ) -> Vec<(TransceiverId, Ssrc, Option<Ssrc>)> {
        let mut out = Vec::new();
        let mut taken = Vec::new();
        for m in mlines.iter().filter(|m| !m.rejected) {
            let Owner::Transceiver(id) = m.owner else {
                continue;
            };
            let Some(t) = self.state.transceivers.get(id.0) else {
                continue;
            };
            if t.ssrc.is_some() {
                continue;
            }
            let ssrc = self.fresh_ssrc(rng, &taken);
            taken.push(ssrc);
            let rtx = if self
                .specs(t.kind)
                .iter()
                .any(|s| s.rtx_payload_type.is_some())
            {
                let r = self.fresh_ssrc(rng, &taken);
                taken.push(r);
                Some(r)
            } else {
                None
            };
            out.push((id, ssrc, rtx));
        }
        out
    }

    /// Creates an offer (RFC 8829 §5.2): every live transceiver and the data channel get an
    /// m-line, stopped ones are rejected, rejected m-lines are recycled for new ones.
    ///
    /// # Errors
    /// Closed, or not in `stable` or `have-local-offer`.
    pub fn create_offer(&mut self, rng: &mut dyn RngCore) -> Result<Description, UsageError> {
        self.check_open()?;
        let s = &self.state;
        if !matches!(
            s.signaling,
            SignalingState::Stable | SignalingState::HaveLocalOffer
        ) {
            return Err(wrong(Operation::CreateOffer, s.signaling));
        }
        // The layout: the negotiated m-lines, stopping ones rejected, then new ones.
        let mut mlines = s.mlines.clone();
        let mut free: Vec<usize> = Vec::new();
        for (i, m) in mlines.iter_mut().enumerate() {
            if m.rejected {
                free.push(i);
                continue;
            }
            if let Owner::Transceiver(id) = m.owner
                && s.transceivers
                    .get(id.0)
                    .is_none_or(|t| t.stopping || t.stopped || t.removed)
            {
                m.rejected = true;
            }
        }
        let mut next_mid = s.next_mid;
        let mut assign = Vec::new();
        let mut place = |mlines: &mut Vec<MLine>, line: MLine| -> usize {
            if free.is_empty() {
                mlines.push(line);
                mlines.len() - 1
            } else {
                let i = free.remove(0);
                mlines[i] = line;
                i
            }
        };
        for t in s
            .transceivers
            .iter()
            .filter(|t| !t.removed && !t.stopped && !t.stopping && t.m_line_index.is_none())
        {
            let mid = Self::fresh_mid(&mlines, &s.transceivers, &mut next_mid);
            let i = place(
                &mut mlines,
                MLine {
                    mid: Some(mid.clone()),
                    kind: t.kind.sdp(),
                    protocol: build::RTP_PROTOCOL.to_owned(),
                    formats: Vec::new(),
                    owner: Owner::Transceiver(t.id),
                    rejected: false,
                },
            );
            assign.push((t.id, i, mid));
        }
        if s.data_wanted && !mlines.iter().any(|m| m.owner == Owner::Data && !m.rejected) {
            let mid = Self::fresh_mid(&mlines, &s.transceivers, &mut next_mid);
            place(
                &mut mlines,
                MLine {
                    mid: Some(mid),
                    kind: ferrtc_sdp::MediaKind::Application,
                    protocol: build::DATA_PROTOCOL.to_owned(),
                    formats: vec![build::DATA_FORMAT.to_owned()],
                    owner: Owner::Data,
                    rejected: false,
                },
            );
        }
        let ice = if s.ice_restart_pending {
            IceCredentials::random(rng)
        } else {
            s.local_ice.clone()
        };
        let ssrcs = self.plan_ssrcs(rng, &mlines);
        let plan = Plan {
            mlines,
            assign,
            ice,
            ssrcs,
            refuse: Vec::new(),
            next_mid,
        };
        let sdp = self.write_offer(&plan);
        self.state.session_version += 1;
        let text = sdp.to_string();
        self.state.last_created = Some(Created {
            sdp_type: SdpType::Offer,
            text: text.clone(),
            sdp,
            plan,
        });
        Ok(Description::offer(text))
    }

    fn sender_of(&self, plan: &Plan, id: TransceiverId) -> (Option<Ssrc>, Option<Ssrc>) {
        if let Some((_, s, r)) = plan.ssrcs.iter().find(|(t, _, _)| *t == id) {
            return (Some(*s), *r);
        }
        self.state
            .transceivers
            .get(id.0)
            .map_or((None, None), |t| (t.ssrc, t.rtx_ssrc))
    }

    fn origin(&self) -> ferrtc_sdp::Origin {
        ferrtc_sdp::Origin {
            session_id: self.session_id,
            session_version: self.state.session_version,
            ..Default::default()
        }
    }

    fn write_offer(&self, plan: &Plan) -> SessionDescription {
        let s = &self.state;
        let live: Vec<usize> = (0..plan.mlines.len())
            .filter(|&i| !plan.mlines[i].rejected)
            .collect();
        let initial = s.current_local.is_none() && s.current_remote.is_none();
        let tag = live.first().copied();
        let candidates = (!s.ice_restart_pending)
            .then_some((s.local_candidates.as_slice(), s.local_end_of_candidates));
        let mut b = SessionDescription::builder().origin(self.origin());
        if !live.is_empty() {
            b = b.bundle(
                live.iter()
                    .filter_map(|&i| plan.mlines[i].mid.as_ref().map(convert::sdp_mid)),
            );
        }
        b = b.extmap_allow_mixed();
        if self.config.ice_lite {
            b = b.ice_lite();
        }
        for (i, ml) in plan.mlines.iter().enumerate() {
            if ml.rejected {
                b = b.media(build::rejected_section(
                    ml.kind.clone(),
                    &ml.protocol,
                    &ml.formats,
                    ml.mid.as_ref(),
                ));
                continue;
            }
            let transport = TransportAttrs {
                ice: &plan.ice,
                setup: Setup::Actpass,
                config: &self.config,
                candidates: if Some(i) == tag { candidates } else { None },
            };
            let base_m = s
                .last_answer
                .as_ref()
                .and_then(|a| a.media.get(i))
                .filter(|m| !remote::is_rejected(m) && m.mid().map(convert::mid) == ml.mid);
            let mid = ml
                .mid
                .clone()
                .unwrap_or_else(|| unreachable!("m-lines in use have mids"));
            let mut m = match ml.owner {
                Owner::Transceiver(id) => {
                    let Some(t) = s.transceivers.get(id.0) else {
                        continue;
                    };
                    let base = base_m.map(build::entries_of).unwrap_or_default();
                    let entries = build::offer_entries(self.specs(t.kind), base);
                    let exts = build::offer_extensions(
                        &self.config.header_extensions,
                        t.kind,
                        base_m,
                        &self.ext_table(&plan.mlines),
                    );
                    let (ssrc, rtx_ssrc) = self.sender_of(plan, id);
                    build::rtp_section(
                        t.kind,
                        &mid,
                        t.direction,
                        &entries,
                        &exts,
                        &transport,
                        &SenderAttrs {
                            track: t.track.as_ref(),
                            ssrc,
                            rtx_ssrc,
                            cname: &self.cname,
                        },
                        base_m.is_none_or(MediaDescription::rtcp_rsize),
                    )
                }
                Owner::Data => build::data_section(&mid, &transport),
                Owner::Nobody => build::rejected_section(
                    ml.kind.clone(),
                    &ml.protocol,
                    &ml.formats,
                    ml.mid.as_ref(),
                ),
            };
            if initial && Some(i) != tag && !remote::is_rejected(&m) {
                m = build::make_bundle_only(m);
            }
            b = b.media(m);
        }
        b.build()
    }

    /// The session-wide extension ids, with ids for configured URIs that have none yet.
    fn ext_table(&self, _mlines: &[MLine]) -> Vec<(String, u16)> {
        let mut table = self.state.ext_ids.clone();
        for spec in &self.config.header_extensions {
            if table.iter().any(|(u, _)| *u == spec.uri) {
                continue;
            }
            if let Some(id) = (1..=14u16).find(|id| !table.iter().any(|(_, x)| x == id)) {
                table.push((spec.uri.clone(), id));
            }
        }
        table
    }

    // ---- answer ----------------------------------------------------------------------

    /// Creates an answer to the applied remote offer (RFC 8829 §5.3): accepts what we
    /// support, with the offer's payload types and extension ids, and rejects the rest.
    ///
    /// # Errors
    /// Closed, or not in `have-remote-offer` or `have-local-pranswer`.
    pub fn create_answer(&mut self, rng: &mut dyn RngCore) -> Result<Description, UsageError> {
        self.check_open()?;
        let s = &self.state;
        if !matches!(
            s.signaling,
            SignalingState::HaveRemoteOffer | SignalingState::HaveLocalPranswer
        ) {
            return Err(wrong(Operation::CreateAnswer, s.signaling));
        }
        let Some(offer) = s.pending_remote.as_ref() else {
            return Err(wrong(Operation::CreateAnswer, s.signaling));
        };
        // A remote ICE restart asks for new credentials of ours too (RFC 8829 §5.3.2).
        let remote_restart = s.current_remote.as_ref().is_some_and(|cur| {
            offer.analysis.transports.first().map(|t| &t.ufrag)
                != cur.analysis.transports.first().map(|t| &t.ufrag)
        });
        let ice = if remote_restart || s.ice_restart_pending {
            IceCredentials::random(rng)
        } else {
            s.local_ice.clone()
        };
        let mut mlines = s.mlines.clone();
        let mut refuse = Vec::new();
        // Decide which m-lines we refuse: no common codec, no rtcp-mux.
        for (i, (ml, om)) in mlines.iter().zip(&offer.sdp.media).enumerate() {
            if ml.rejected {
                continue;
            }
            match ml.owner {
                Owner::Transceiver(id) => {
                    let ok = s.transceivers.get(id.0).is_some_and(|t| {
                        !t.stopping
                            && !t.stopped
                            && !build::answer_entries(self.specs(t.kind), om).is_empty()
                    }) && om.rtcp_mux();
                    if !ok {
                        refuse.push(i);
                    }
                }
                Owner::Data => {}
                Owner::Nobody => refuse.push(i),
            }
        }
        for &i in &refuse {
            mlines[i].rejected = true;
        }
        let ssrcs = self.plan_ssrcs(rng, &mlines);
        let plan = Plan {
            mlines,
            assign: Vec::new(),
            ice,
            ssrcs,
            refuse,
            next_mid: s.next_mid,
        };
        let sdp = self.write_answer(&plan, offer);
        self.state.session_version += 1;
        let text = sdp.to_string();
        self.state.last_created = Some(Created {
            sdp_type: SdpType::Answer,
            text: text.clone(),
            sdp,
            plan,
        });
        Ok(Description::answer(text))
    }

    fn write_answer(&self, plan: &Plan, offer: &Applied) -> SessionDescription {
        let s = &self.state;
        let live: Vec<usize> = match &offer.analysis.bundle {
            Some(group) => group
                .iter()
                .copied()
                .filter(|&i| !plan.mlines[i].rejected)
                .collect(),
            None => Vec::new(),
        };
        let tag = live.first().copied();
        // Keep the DTLS role we have; else take the client role when the offerer lets us
        // (RFC 8842 §5.3, RFC 8829 §5.3.1: answer `active` to `actpass`).
        let setup_for = |index: usize| {
            let offered = offer.analysis.transport_of(index).map(|(_, t)| t.setup);
            match (s.dtls_role, offered) {
                (Some(DtlsRole::Client), _) => Setup::Active,
                (Some(DtlsRole::Server), _) => Setup::Passive,
                (None, Some(SetupRole::Active)) => Setup::Passive,
                (None, _) => Setup::Active,
            }
        };
        let mut b = SessionDescription::builder().origin(self.origin());
        if !live.is_empty() {
            b = b.bundle(
                live.iter()
                    .filter_map(|&i| plan.mlines[i].mid.as_ref().map(convert::sdp_mid)),
            );
        }
        if offer.sdp.extmap_allow_mixed() {
            b = b.extmap_allow_mixed();
        }
        if self.config.ice_lite {
            b = b.ice_lite();
        }
        let candidates = (plan.ice == s.local_ice)
            .then_some((s.local_candidates.as_slice(), s.local_end_of_candidates));
        for (i, (ml, om)) in plan.mlines.iter().zip(&offer.sdp.media).enumerate() {
            if ml.rejected {
                b = b.media(build::rejected_section(
                    om.kind.clone(),
                    &om.protocol,
                    &om.formats,
                    ml.mid.as_ref(),
                ));
                continue;
            }
            // Unbundled m-lines carry their own candidates; bundled ones only the tag.
            let own_transport = !live.contains(&i);
            let transport = TransportAttrs {
                ice: &plan.ice,
                setup: setup_for(i),
                config: &self.config,
                candidates: if Some(i) == tag || own_transport {
                    candidates
                } else {
                    None
                },
            };
            let mid = ml
                .mid
                .clone()
                .unwrap_or_else(|| unreachable!("m-lines in use have mids"));
            let m = match ml.owner {
                Owner::Transceiver(id) => {
                    let Some(t) = s.transceivers.get(id.0) else {
                        continue;
                    };
                    let entries = build::answer_entries(self.specs(t.kind), om);
                    // RFC 8285 §6: mixed headers agreed where the offer allows them.
                    let mixed = om.extmap_allow_mixed() && !offer.sdp.extmap_allow_mixed();
                    let exts = build::answer_extensions(&self.config.header_extensions, t.kind, om);
                    let direction =
                        build::intersect(t.direction, remote::direction(&offer.sdp, om).reverse());
                    let (ssrc, rtx_ssrc) = self.sender_of(plan, id);
                    let m = build::rtp_section(
                        t.kind,
                        &mid,
                        direction,
                        &entries,
                        &exts,
                        &transport,
                        &SenderAttrs {
                            track: t.track.as_ref(),
                            ssrc,
                            rtx_ssrc,
                            cname: &self.cname,
                        },
                        om.rtcp_rsize(),
                    );
                    if mixed {
                        m.with_attribute(ferrtc_sdp::Attribute::ExtmapAllowMixed)
                    } else {
                        m
                    }
                }
                Owner::Data => build::data_section(&mid, &transport),
                Owner::Nobody => build::rejected_section(
                    om.kind.clone(),
                    &om.protocol,
                    &om.formats,
                    ml.mid.as_ref(),
                ),
            };
            b = b.media(m);
        }
        b.build()
    }

    // ---- applying descriptions -------------------------------------------------------

    /// Applies one of our descriptions (RFC 8829 §5.5, §5.9): an offer or answer exactly as
    /// `create_offer`/`create_answer` last returned it (an answer may be applied as a
    /// provisional answer), or a rollback. Returns what was agreed when it completes an
    /// exchange.
    ///
    /// # Errors
    /// A [`UsageError`]: wrong type for the state, a description not created here, closed.
    pub fn set_local_description(
        &mut self,
        description: &Description,
    ) -> Result<Option<Negotiation>, UsageError> {
        self.check_open()?;
        let t = description.sdp_type;
        let op = Operation::SetLocal(t);
        let state = self.state.signaling;
        match t {
            SdpType::Rollback => {
                if !matches!(
                    state,
                    SignalingState::HaveLocalOffer | SignalingState::HaveLocalPranswer
                ) {
                    return Err(wrong(op, state));
                }
                self.rollback();
                return Ok(None);
            }
            SdpType::Offer => {
                if !matches!(
                    state,
                    SignalingState::Stable | SignalingState::HaveLocalOffer
                ) {
                    return Err(wrong(op, state));
                }
            }
            SdpType::Answer | SdpType::Pranswer => {
                if !matches!(
                    state,
                    SignalingState::HaveRemoteOffer | SignalingState::HaveLocalPranswer
                ) {
                    return Err(wrong(op, state));
                }
            }
        }
        let Some(created) = self.state.last_created.clone() else {
            return Err(UsageError::NotLastCreated);
        };
        let kind_fits = match t {
            SdpType::Offer => created.sdp_type == SdpType::Offer,
            _ => created.sdp_type == SdpType::Answer,
        };
        if !kind_fits || created.text != description.sdp {
            return Err(UsageError::NotLastCreated);
        }
        // Our own text: it analyses, as we wrote it.
        let Ok(analysis) = remote::analyze(&created.sdp, t != SdpType::Offer) else {
            return Err(UsageError::NotLastCreated);
        };
        let mut next = self.state.clone();
        let applied = Applied {
            sdp_type: t,
            sdp: created.sdp,
            analysis,
        };
        let plan = created.plan;
        if state == SignalingState::Stable {
            let mut checkpoint = self.state.clone();
            checkpoint.checkpoint = None;
            next.checkpoint = Some(Box::new(checkpoint));
        }
        // Commit the plan.
        next.mlines = plan.mlines.clone();
        next.next_mid = plan.next_mid;
        if next.local_ice != plan.ice {
            next.local_candidates.clear();
            next.local_end_of_candidates = false;
        }
        next.local_ice = plan.ice.clone();
        next.ice_restart_pending = false;
        for (id, i, mid) in &plan.assign {
            if let Some(tr) = next.transceivers.get_mut(id.0) {
                tr.mid = Some(mid.clone());
                tr.m_line_index = Some(*i);
            }
        }
        for (id, ssrc, rtx) in &plan.ssrcs {
            if let Some(tr) = next.transceivers.get_mut(id.0) {
                tr.ssrc = Some(*ssrc);
                tr.rtx_ssrc = *rtx;
            }
        }
        record_ext_ids(&mut next.ext_ids, &applied.sdp);
        let result = match t {
            SdpType::Offer => {
                next.pending_local = Some(applied);
                next.signaling = SignalingState::HaveLocalOffer;
                None
            }
            SdpType::Answer | SdpType::Pranswer => {
                let Some(remote) = next.pending_remote.clone() else {
                    return Err(wrong(op, state));
                };
                let final_answer = t == SdpType::Answer;
                let negotiation = self.complete(&mut next, &applied, &remote, false, !final_answer);
                if final_answer {
                    next.current_local = Some(applied);
                    next.current_remote = Some(remote);
                    next.pending_local = None;
                    next.pending_remote = None;
                    next.signaling = SignalingState::Stable;
                    next.checkpoint = None;
                } else {
                    next.pending_local = Some(applied);
                    next.signaling = SignalingState::HaveLocalPranswer;
                }
                Some(negotiation)
            }
            SdpType::Rollback => None,
        };
        self.state = next;
        Ok(result)
    }

    /// Builds the summary of an exchange and updates the transceivers and layout from it.
    fn complete(
        &self,
        next: &mut State,
        local: &Applied,
        remote: &Applied,
        local_is_offerer: bool,
        provisional: bool,
    ) -> Negotiation {
        let (offer, answer) = if local_is_offerer {
            (local, remote)
        } else {
            (remote, local)
        };
        // Rejections in the answer reject the m-line and stop its transceiver.
        for (i, (om, am)) in offer.sdp.media.iter().zip(&answer.sdp.media).enumerate() {
            let rejected = remote::is_rejected(om) || remote::is_rejected(am);
            let Some(ml) = next.mlines.get_mut(i) else {
                continue;
            };
            if rejected && !provisional {
                ml.rejected = true;
                if let Owner::Transceiver(id) = ml.owner
                    && let Some(t) = next.transceivers.get_mut(id.0)
                {
                    t.stopped = true;
                    t.stopping = false;
                    t.current_direction = None;
                }
            }
        }
        let owners: Vec<Owner> = next
            .mlines
            .iter()
            .map(|m| if m.rejected { Owner::Nobody } else { m.owner })
            .collect();
        let negotiation = negotiated::build(&negotiated::Inputs {
            local: &local.sdp,
            remote: &remote.sdp,
            local_analysis: &local.analysis,
            remote_analysis: &remote.analysis,
            local_is_offerer,
            provisional,
            owners: &owners,
            transceivers: &next.transceivers,
            cname: &self.cname,
            previous: next.negotiation.as_ref(),
        });
        for m in &negotiation.media {
            if let Some(t) = next.transceivers.get_mut(m.transceiver.0) {
                t.current_direction = Some(m.current_direction);
                if sends(m.current_direction) {
                    t.ever_sent = true;
                }
            }
        }
        if let Some(t) = negotiation.transports.first() {
            next.dtls_role = Some(t.dtls_role);
        }
        if !provisional {
            next.last_answer = Some(answer.sdp.clone());
        }
        record_ext_ids(&mut next.ext_ids, &answer.sdp);
        next.negotiation = Some(negotiation.clone());
        negotiation
    }

    /// Back to the state when we left `stable`, keeping what the application did since:
    /// its transceivers stay (without mids), directions and tracks stay; transceivers a
    /// remote offer created go unless a track was added to them (W3C §4.4.1.5).
    fn rollback(&mut self) {
        let Some(checkpoint) = self.state.checkpoint.take() else {
            return;
        };
        let now = std::mem::replace(&mut self.state, *checkpoint);
        let before = self.state.transceivers.len();
        for t in now.transceivers {
            if t.id.0 < before {
                let old = &mut self.state.transceivers[t.id.0];
                old.direction = t.direction;
                old.track = t.track;
                old.stopping = t.stopping || old.stopping;
                if t.stopped && old.mid.is_none() {
                    old.stopped = true;
                }
            } else {
                let mut t = t;
                t.mid = None;
                t.m_line_index = None;
                t.current_direction = None;
                if t.origin == Origin::Remote && t.track.is_none() {
                    t.removed = true;
                }
                self.state.transceivers.push(t);
            }
        }
        self.state.data_wanted = now.data_wanted;
        self.state.ice_restart_pending = now.ice_restart_pending;
        self.state.session_version = now.session_version;
        self.state.local_candidates = now.local_candidates;
        self.state.local_end_of_candidates = now.local_end_of_candidates;
        self.state.last_created = None;
        self.state.signaling = SignalingState::Stable;
    }

    /// Applies the peer's description (RFC 8829 §5.6, §5.10, §5.11): an offer, an answer
    /// or provisional answer to our offer, or a rollback of its offer. Returns what was
    /// agreed when it completes an exchange.
    ///
    /// # Errors
    /// [`SetRemoteError::Usage`] for a type the state does not allow;
    /// [`SetRemoteError::Remote`] naming what is wrong with a malformed or inconsistent
    /// description.
    pub fn set_remote_description(
        &mut self,
        description: &Description,
    ) -> Result<Option<Negotiation>, SetRemoteError> {
        self.check_open()?;
        let t = description.sdp_type;
        let op = Operation::SetRemote(t);
        let state = self.state.signaling;
        match t {
            SdpType::Rollback => {
                if !matches!(
                    state,
                    SignalingState::HaveRemoteOffer | SignalingState::HaveRemotePranswer
                ) {
                    return Err(wrong(op, state).into());
                }
                self.rollback();
                return Ok(None);
            }
            SdpType::Offer => {
                if !matches!(
                    state,
                    SignalingState::Stable | SignalingState::HaveRemoteOffer
                ) {
                    return Err(wrong(op, state).into());
                }
            }
            SdpType::Answer | SdpType::Pranswer => {
                if !matches!(
                    state,
                    SignalingState::HaveLocalOffer | SignalingState::HaveRemotePranswer
                ) {
                    return Err(wrong(op, state).into());
                }
            }
        }
        let sdp = SessionDescription::parse(&description.sdp).map_err(E::Malformed)?;
        let analysis = remote::analyze(&sdp, t != SdpType::Offer)?;
        remote::check_extmaps(&sdp, &analysis)?;
        if analysis.ice_lite && self.config.ice_lite {
            return Err(E::BothIceLite.into());
        }
        self.check_dtls(&analysis)?;
        let applied = Applied {
            sdp_type: t,
            sdp,
            analysis,
        };
        let mut next = self.state.clone();
        let result = if t == SdpType::Offer {
            if state == SignalingState::Stable {
                let mut checkpoint = self.state.clone();
                checkpoint.checkpoint = None;
                next.checkpoint = Some(Box::new(checkpoint));
            }
            self.apply_remote_offer(&mut next, &applied)?;
            record_ext_ids(&mut next.ext_ids, &applied.sdp);
            next.pending_remote = Some(applied);
            next.signaling = SignalingState::HaveRemoteOffer;
            next.last_created = None;
            None
        } else {
            let Some(local) = next.pending_local.clone() else {
                return Err(wrong(op, state).into());
            };
            check_answer(&local, &applied)?;
            let final_answer = t == SdpType::Answer;
            let negotiation = self.complete(&mut next, &local, &applied, true, !final_answer);
            if final_answer {
                next.current_local = Some(local);
                next.current_remote = Some(applied);
                next.pending_local = None;
                next.pending_remote = None;
                next.signaling = SignalingState::Stable;
                next.checkpoint = None;
            } else {
                next.pending_remote = Some(applied);
                next.signaling = SignalingState::HaveRemotePranswer;
            }
            Some(negotiation)
        };
        self.state = next;
        Ok(result)
    }

    /// A renegotiation keeps the DTLS association: the same peer certificate, and a setup
    /// that does not flip our role (RFC 8842 §5.5).
    fn check_dtls(&self, analysis: &Analysis) -> Result<(), E> {
        let Some(current) = &self.state.negotiation else {
            return Ok(());
        };
        let Some(previous) = current.transports.first() else {
            return Ok(());
        };
        for t in &analysis.transports {
            if !t
                .fingerprints
                .iter()
                .any(|f| previous.remote_fingerprints.contains(f))
            {
                return Err(E::FingerprintChanged { mid: t.mid.clone() });
            }
            let flips = match (t.setup, previous.dtls_role) {
                // The peer as client means we are the server, and the other way round.
                (SetupRole::Active, DtlsRole::Client) | (SetupRole::Passive, DtlsRole::Server) => {
                    true
                }
                _ => false,
            };
            if flips {
                return Err(E::DtlsRoleChanged { mid: t.mid.clone() });
            }
        }
        Ok(())
    }

    /// Lays out the m-lines of a remote offer and associates transceivers with them
    /// (RFC 8829 §5.10, W3C §4.4.1.5 "process the addition of a remote track").
    fn apply_remote_offer(&self, next: &mut State, offer: &Applied) -> Result<(), E> {
        let previous = next.mlines.clone();
        let n = offer.sdp.media.len();
        if n < previous.len() {
            return Err(E::MediaRemoved {
                previous: previous.len(),
                offered: n,
            });
        }
        let mut mlines: Vec<MLine> = Vec::with_capacity(n);
        let mut data_taken = false;
        for (i, m) in offer.sdp.media.iter().enumerate() {
            let mid = offer.analysis.mids[i].clone();
            let rejected = offer.analysis.rejected[i];
            let old = previous.get(i);
            if let Some(old) = old
                && !old.rejected
            {
                if old.kind != m.kind {
                    return Err(E::KindMismatch { index: i });
                }
                if let Some(found) = &mid
                    && old.mid.as_ref() != Some(found)
                {
                    return Err(E::MidMismatch {
                        index: i,
                        found: found.clone(),
                    });
                }
            }
            // The same m-line as before (not recycled): keep its owner.
            let same = old.filter(|o| !o.rejected && o.mid == mid);
            let owner = match same {
                Some(o) => o.owner,
                None if rejected => Owner::Nobody,
                None => match MediaKind::from_sdp(&m.kind) {
                    Some(kind) if remote::is_supported_rtp(m) => {
                        Owner::Transceiver(associate(next, kind, mid.clone(), i))
                    }
                    _ if m.kind == ferrtc_sdp::MediaKind::Application
                        && remote::is_supported_data(m)
                        && !data_taken
                        && !mlines.iter().any(|x: &MLine| x.owner == Owner::Data)
                        && !previous
                            .iter()
                            .any(|x| x.owner == Owner::Data && !x.rejected) =>
                    {
                        Owner::Data
                    }
                    _ => Owner::Nobody,
                },
            };
            if owner == Owner::Data {
                data_taken = true;
            }
            if rejected
                && let Owner::Transceiver(id) = owner
                && let Some(t) = next.transceivers.get_mut(id.0)
            {
                // The peer rejected it: the transceiver stops (RFC 8829 §5.10).
                t.stopped = true;
                t.stopping = false;
                t.current_direction = None;
            }
            if let Some(old) = old
                && old.rejected
                && old.mid != mid
                && let Owner::Transceiver(id) = old.owner
                && let Some(t) = next.transceivers.get_mut(id.0)
            {
                // Recycled: the stopped transceiver leaves the m-line.
                t.m_line_index = None;
            }
            mlines.push(MLine {
                mid,
                kind: m.kind.clone(),
                protocol: m.protocol.clone(),
                formats: m.formats.clone(),
                owner: if rejected { Owner::Nobody } else { owner },
                rejected,
            });
        }
        next.mlines = mlines;
        Ok(())
    }

    // ---- candidates ------------------------------------------------------------------

    /// Adds a trickled remote candidate, or end-of-candidates (W3C `addIceCandidate`,
    /// RFC 8829 §5.7... §4.1.17). Returns the transport it is for.
    ///
    /// # Errors
    /// [`AddCandidateError::Usage`] with no remote description or no mid/index;
    /// [`AddCandidateError::Remote`] when it names no m-line in use or an old ufrag.
    pub fn add_ice_candidate(
        &mut self,
        candidate: &RemoteCandidate,
    ) -> Result<TrickledCandidate, AddCandidateError> {
        self.check_open()?;
        let pending = self.state.pending_remote.is_some();
        let Some(remote) = self
            .state
            .pending_remote
            .as_ref()
            .or(self.state.current_remote.as_ref())
        else {
            return Err(UsageError::NoRemoteDescription.into());
        };
        let index = match (&candidate.mid, candidate.m_line_index) {
            (Some(mid), _) => remote
                .analysis
                .mids
                .iter()
                .position(|m| m.as_ref() == Some(mid))
                .ok_or_else(|| CandidateError::UnknownMid(mid.clone()))?,
            (None, Some(i)) if i < remote.sdp.media.len() => i,
            (None, Some(i)) => return Err(CandidateError::MLineIndexOutOfRange(i).into()),
            (None, None) => return Err(UsageError::CandidateWithoutMid.into()),
        };
        let Some((_, transport)) = remote.analysis.transport_of(index) else {
            let mid = remote.analysis.mids[index].clone().unwrap_or_else(|| {
                Mid::new(index.to_string())
                    .unwrap_or_else(|_| unreachable!("digits are a valid mid"))
            });
            return Err(CandidateError::RejectedMedia(mid).into());
        };
        let ufrag = candidate.ufrag.as_deref().or_else(|| {
            candidate
                .candidate
                .as_ref()
                .and_then(|c| c.extension("ufrag"))
        });
        if ufrag.is_some_and(|u| u != transport.ufrag) {
            return Err(CandidateError::UfragMismatch.into());
        }
        let transport_mid = transport.mid.clone();
        let tag = transport.indices[0];
        let target = if pending {
            self.state.pending_remote.as_mut()
        } else {
            self.state.current_remote.as_mut()
        };
        if let Some(target) = target {
            remote::push_candidate(&mut target.sdp, index, candidate.candidate.as_ref());
            if let Some(t) = target
                .analysis
                .transports
                .iter_mut()
                .find(|t| t.indices[0] == tag)
            {
                match &candidate.candidate {
                    Some(c) => t.candidates.push(c.clone()),
                    None => t.end_of_candidates = true,
                }
            }
        }
        if let Some(n) = self.state.negotiation.as_mut()
            && let Some(t) = n
                .transports
                .iter_mut()
                .find(|t| t.mids.first() == Some(&transport_mid))
        {
            match &candidate.candidate {
                Some(c) => t.remote_candidates.push(c.clone()),
                None => t.remote_end_of_candidates = true,
            }
        }
        Ok(TrickledCandidate {
            transport_mid,
            candidate: candidate.candidate.clone(),
        })
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

/// Finds or creates the transceiver for a new m-line of a remote offer: one added by
/// `add_track` without a mid, of the kind, else a new `recvonly` one (W3C §4.4.1.5).
fn associate(next: &mut State, kind: MediaKind, mid: Option<Mid>, index: usize) -> TransceiverId {
    let found = next.transceivers.iter_mut().find(|t| {
        !t.removed
            && !t.stopped
            && !t.stopping
            && t.mid.is_none()
            && t.kind == kind
            && t.origin == Origin::AddTrack
    });
    let t = match found {
        Some(t) => t,
        None => {
            let id = TransceiverId(next.transceivers.len());
            next.transceivers.push(Transceiver::new(
                id,
                kind,
                Direction::RecvOnly,
                Origin::Remote,
            ));
            let last = next.transceivers.len() - 1;
            &mut next.transceivers[last]
        }
    };
    t.mid = mid;
    t.m_line_index = Some(index);
    t.id
}

/// Records the extension ids a description uses, first come first kept.
fn record_ext_ids(table: &mut Vec<(String, u16)>, sdp: &SessionDescription) {
    for m in &sdp.media {
        for e in m.extmaps() {
            if !table.iter().any(|(u, id)| *u == e.uri || *id == e.id) {
                table.push((e.uri.clone(), e.id));
            }
        }
    }
}

/// Checks an answer (or provisional answer) against our offer (RFC 3264 §6, RFC 8843
/// §7.3, RFC 8829 §5.11).
fn check_answer(offer: &Applied, answer: &Applied) -> Result<(), E> {
    let (o, a) = (&offer.sdp, &answer.sdp);
    if o.media.len() != a.media.len() {
        return Err(E::MediaCountMismatch {
            offered: o.media.len(),
            answered: a.media.len(),
        });
    }
    for (i, (om, am)) in o.media.iter().zip(&a.media).enumerate() {
        if om.kind != am.kind {
            return Err(E::KindMismatch { index: i });
        }
        if let Some(found) = &answer.analysis.mids[i]
            && offer.analysis.mids[i].as_ref() != Some(found)
        {
            return Err(E::MidMismatch {
                index: i,
                found: found.clone(),
            });
        }
        let rejected = answer.analysis.rejected[i];
        if offer.analysis.rejected[i] {
            if !rejected && let Some(mid) = &answer.analysis.mids[i] {
                return Err(E::AcceptedRejectedMedia { mid: mid.clone() });
            }
            continue;
        }
        if rejected {
            continue;
        }
        let Some(mid) = answer.analysis.mids[i].clone() else {
            continue;
        };
        if om.is_rtp() {
            if !am.rtcp_mux() {
                return Err(E::MissingRtcpMux { mid });
            }
            let common = am.codecs().any(|ac| {
                ac.name().is_some_and(|n| !crate::codec::is_rtx(n))
                    && negotiated::offered_match(om, &ac).is_some()
            });
            if !common {
                return Err(E::NoCommonCodec { mid });
            }
        }
    }
    match (&offer.analysis.bundle, &answer.analysis.bundle) {
        (Some(offered), Some(answered)) => {
            for &i in answered {
                if !offered.contains(&i) {
                    let mid = answer.analysis.mids[i]
                        .clone()
                        .unwrap_or_else(|| unreachable!("bundled m-lines have mids"));
                    return Err(E::BundleMidNotOffered { mid });
                }
            }
        }
        (Some(_), None) => {
            if answer.analysis.rejected.iter().any(|r| !r) {
                return Err(E::BundleNotAccepted);
            }
        }
        (None, Some(answered)) => {
            let mid = answer.analysis.mids[answered[0]]
                .clone()
                .unwrap_or_else(|| unreachable!("bundled m-lines have mids"));
            return Err(E::BundleMidNotOffered { mid });
        }
        (None, None) => {}
    }
    Ok(())
}
