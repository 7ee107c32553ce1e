//! Applying descriptions (RFC 8829 §5.5 - §5.11): ours, the peer's, rollback.

use super::*;

impl Negotiator {
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
            for tr in &mut next.transceivers {
                if tr.id == *id {
                    tr.mid = Some(mid.clone());
                    tr.m_line_index = Some(*i);
                } else if tr.m_line_index == Some(*i) {
                    // A recycled m-line: the stopped transceiver leaves it.
                    tr.m_line_index = None;
                }
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
    pub(super) fn complete(
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
            next.last_answer = Some(Arc::clone(&answer.sdp));
        }
        record_ext_ids(&mut next.ext_ids, &answer.sdp);
        next.negotiation = Some(negotiation.clone());
        negotiation
    }

    /// Rolls back to `stable` (see [`rolled_back`]).
    pub(super) fn rollback(&mut self) {
        self.state = rolled_back(self.state.clone());
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
        check_rtcp_mux(&sdp, &analysis)?;
        let applied = Applied {
            sdp_type: t,
            sdp: Arc::new(sdp),
            analysis,
        };
        let mut next = self.state.clone();
        let result = if t == SdpType::Offer {
            // A new offer replaces a pending one: start again from the stable state.
            if state == SignalingState::HaveRemoteOffer {
                next = rolled_back(next);
            }
            let mut checkpoint = next.clone();
            checkpoint.checkpoint = None;
            next.checkpoint = Some(Box::new(checkpoint));
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
    pub(super) fn check_dtls(&self, analysis: &Analysis) -> Result<(), E> {
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
    pub(super) fn apply_remote_offer(&self, next: &mut State, offer: &Applied) -> Result<(), E> {
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
            // The peer rejected an m-line in use: its transceiver stops (RFC 8829 §5.10).
            if rejected
                && let Some(old) = old.filter(|o| !o.rejected)
                && let Owner::Transceiver(id) = old.owner
                && let Some(t) = next.transceivers.get_mut(id.0)
            {
                t.stopped = true;
                t.stopping = false;
                t.current_direction = None;
            }
            // A new or recycled m-line: a stopped transceiver that had it leaves it.
            if same.is_none() {
                for t in &mut next.transceivers {
                    if t.m_line_index == Some(i) && owner != Owner::Transceiver(t.id) {
                        t.m_line_index = None;
                    }
                }
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
            if !table.iter().any(|(u, id)| *u == e.uri || *id == e.id.get()) {
                table.push((e.uri.clone(), e.id.get()));
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

/// The state when we last left `stable`, keeping what the application did since: its
/// transceivers stay (without mids), directions and tracks stay; transceivers a remote
/// offer created go unless a track was added to them (W3C §4.4.1.5 and §4.4.1.6).
fn rolled_back(mut now: State) -> State {
    let Some(checkpoint) = now.checkpoint.take() else {
        return now;
    };
    let mut state = *checkpoint;
    let before = state.transceivers.len();
    for t in now.transceivers {
        match state.transceivers.get_mut(t.id.0) {
            Some(old) => {
                old.direction = t.direction;
                old.track = t.track;
                old.stopping = t.stopping || old.stopping;
                if t.stopped && old.mid.is_none() {
                    old.stopped = true;
                }
            }
            None => {
                debug_assert!(t.id.0 >= before);
                let mut t = t;
                t.mid = None;
                t.m_line_index = None;
                t.current_direction = None;
                if t.origin == Origin::Remote && t.track.is_none() {
                    t.removed = true;
                }
                state.transceivers.push(t);
            }
        }
    }
    state.data_wanted = now.data_wanted;
    // A rolled-back offer that restarted ICE leaves the restart to do.
    state.ice_restart_pending = now.ice_restart_pending || now.local_ice != state.local_ice;
    state.session_version = now.session_version;
    state.local_candidates = now.local_candidates;
    state.local_end_of_candidates = now.local_end_of_candidates;
    state.last_created = None;
    state.signaling = SignalingState::Stable;
    state
}

/// RTCP multiplexing policy `require` (RFC 8829 §4.1.1, §5.8.3): every audio or video m-line
/// in use that we could take part in carries `a=rtcp-mux`.
fn check_rtcp_mux(sdp: &SessionDescription, analysis: &Analysis) -> Result<(), E> {
    for (i, m) in sdp.media.iter().enumerate() {
        if analysis.rejected[i]
            || MediaKind::from_sdp(&m.kind).is_none()
            || !remote::is_supported_rtp(m)
            || m.rtcp_mux()
        {
            continue;
        }
        if let Some(mid) = analysis.mids[i].clone() {
            return Err(E::MissingRtcpMux { mid });
        }
    }
    Ok(())
}
