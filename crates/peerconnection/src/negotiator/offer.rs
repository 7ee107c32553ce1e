//! Creating offers (RFC 8829 §5.2): the m-line layout, recycling, SSRCs, the SDP.

use super::*;

impl Negotiator {
    pub(super) fn fresh_mid(mlines: &[MLine], transceivers: &[Transceiver], next: &mut u64) -> Mid {
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

    pub(super) fn fresh_ssrc(&self, rng: &mut dyn RngCore, taken: &[Ssrc]) -> Ssrc {
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

    pub(super) fn specs(&self, kind: MediaKind) -> &[crate::CodecSpec] {
        match kind {
            MediaKind::Audio => &self.config.audio_codecs,
            MediaKind::Video => &self.config.video_codecs,
        }
    }

    /// The codecs a transceiver offers and accepts: its preferences, else the configured
    /// ones of its kind.
    pub(super) fn codecs_of<'a>(&'a self, t: &'a Transceiver) -> &'a [crate::CodecSpec] {
        t.codec_preferences
            .as_deref()
            .unwrap_or_else(|| self.specs(t.kind))
    }

    /// SSRCs for every transceiver in `mlines` that has none yet.
    pub(super) fn plan_ssrcs(
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
            sdp: Arc::new(sdp),
            plan,
        });
        Ok(Description::offer(text))
    }

    pub(super) fn sender_of(&self, plan: &Plan, id: TransceiverId) -> (Option<Ssrc>, Option<Ssrc>) {
        if let Some((_, s, r)) = plan.ssrcs.iter().find(|(t, _, _)| *t == id) {
            return (Some(*s), *r);
        }
        self.state
            .transceivers
            .get(id.0)
            .map_or((None, None), |t| (t.ssrc, t.rtx_ssrc))
    }

    pub(super) fn origin(&self) -> ferrtc_sdp::Origin {
        ferrtc_sdp::Origin {
            session_id: self.session_id,
            session_version: self.state.session_version,
            ..Default::default()
        }
    }

    pub(super) fn write_offer(&self, plan: &Plan) -> SessionDescription {
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
            b = b.bundle(live.iter().filter_map(|&i| plan.mlines[i].mid.clone()));
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
                .filter(|m| !remote::is_rejected(m) && m.mid() == ml.mid.as_ref());
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
                    let entries = match &t.codec_preferences {
                        // RFC 8829 §5.2.2: only preferred codecs, in preference order.
                        Some(prefs) => {
                            build::offer_entries(prefs, build::by_preference(base, prefs))
                        }
                        None => build::offer_entries(self.specs(t.kind), base),
                    };
                    let exts = build::offer_extensions(
                        &self.config.header_extensions,
                        t.kind,
                        base_m,
                        &self.ext_table(),
                    );
                    let (ssrc, rtx_ssrc) = self.sender_of(plan, id);
                    let m = build::rtp_section(
                        t.kind,
                        &mid,
                        t.direction,
                        &entries,
                        &exts,
                        &transport,
                        &SenderAttrs {
                            direction: t.direction,
                            track: t.track.as_ref(),
                            ssrc,
                            rtx_ssrc,
                            cname: &self.cname,
                        },
                        base_m.is_none_or(MediaDescription::rtcp_rsize),
                    );
                    // RFC 8829 §4.1.1, §5.2.1: policy `require` marks new m-lines
                    // rtcp-mux-only (and never adds it to negotiated ones, §5.2.2).
                    if base_m.is_none() {
                        m.with_attribute(ferrtc_sdp::Attribute::RtcpMuxOnly)
                    } else {
                        m
                    }
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
    pub(super) fn ext_table(&self) -> Vec<(String, u16)> {
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
}
