//! Creating answers (RFC 8829 §5.3): what we accept, with the offer's numbers.

use super::*;

impl Negotiator {
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
                            && !build::answer_entries(self.codecs_of(t), om).is_empty()
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
            sdp: Arc::new(sdp),
            plan,
        });
        Ok(Description::answer(text))
    }

    pub(super) fn write_answer(&self, plan: &Plan, offer: &Applied) -> SessionDescription {
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
            b = b.bundle(live.iter().filter_map(|&i| plan.mlines[i].mid.clone()));
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
                    let mut entries = build::answer_entries(self.codecs_of(t), om);
                    if let Some(prefs) = &t.codec_preferences {
                        // RFC 8829 §5.3.1: in preference order.
                        entries = build::by_preference(entries, prefs);
                    }
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
                            direction: t.direction,
                            track: t.track.as_ref(),
                            ssrc,
                            rtx_ssrc,
                            cname: &self.cname,
                        },
                        om.rtcp_rsize(),
                    );
                    let m = if mixed {
                        m.with_attribute(ferrtc_sdp::Attribute::ExtmapAllowMixed)
                    } else {
                        m
                    };
                    let receives = matches!(direction, Direction::SendRecv | Direction::RecvOnly);
                    if receives {
                        build::accept_simulcast(m, om, &entries)
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
}
