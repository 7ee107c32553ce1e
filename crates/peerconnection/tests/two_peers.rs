//! Two ferrtc negotiators talk to each other: audio + video + data in both offerer roles,
//! renegotiation both ways, ICE restart, glare, provisional answers, trickle ICE.

mod common;

use common::{exchange, negotiator, rng};
use ferrtc_peerconnection::{
    Config, Description, Direction, MediaKind, Negotiation, Negotiator, RemoteCandidate, SdpType,
    SignalingState, TrackInfo, TransceiverInit, uri,
};
use ferrtc_sdp::{Candidate, CandidateTransport, CandidateType, SessionDescription};
use ferrtc_types::DtlsRole;

fn track(id: &str) -> TrackInfo {
    TrackInfo {
        track_id: id.into(),
        stream_ids: vec!["s".into()],
    }
}

fn av_data(n: &mut Negotiator, name: &str) {
    n.add_track(MediaKind::Audio, track(&format!("{name}-mic")))
        .unwrap();
    n.add_track(MediaKind::Video, track(&format!("{name}-cam")))
        .unwrap();
    n.create_data_channel().unwrap();
}

/// What both sides' summaries must agree on, seen from each side.
fn check_mirror(ours: &Negotiation, theirs: &Negotiation) {
    assert_eq!(ours.transports.len(), 1);
    assert_eq!(theirs.transports.len(), 1);
    let (a, b) = (&ours.transports[0], &theirs.transports[0]);
    assert_eq!(a.mids, b.mids);
    assert_eq!(a.dtls_role, b.dtls_role.opposite());
    assert_ne!(a.ice_controlling, b.ice_controlling);
    assert_eq!(a.local_ice.ufrag, b.remote_ice.ufrag);
    assert_eq!(a.local_ice.pwd, b.remote_ice.pwd);
    assert_eq!(a.remote_ice.ufrag, b.local_ice.ufrag);
    assert_ne!(ours.local_is_offerer, theirs.local_is_offerer);
    assert_eq!(ours.media.len(), theirs.media.len());
    for (x, y) in ours.media.iter().zip(&theirs.media) {
        assert_eq!(x.mid, y.mid);
        assert_eq!(x.kind, y.kind);
        assert_eq!(x.current_direction, y.current_direction.reverse());
        assert_eq!(x.header_extensions, y.header_extensions);
        assert_eq!(x.codecs.len(), y.codecs.len());
        for (c, d) in x.codecs.iter().zip(&y.codecs) {
            assert_eq!(c.name, d.name);
            assert_eq!(c.payload_type.local, d.payload_type.remote);
            assert_eq!(c.payload_type.remote, d.payload_type.local);
            assert_eq!(c.rtx.map(|r| r.local), d.rtx.map(|r| r.remote));
            assert_eq!(c.feedback, d.feedback);
        }
        // What one sends, the other hears of.
        if let Some(send) = &x.send {
            assert_eq!(y.remote_sources[0].ssrc, send.ssrc);
            assert_eq!(y.remote_sources[0].rtx_ssrc, send.rtx_ssrc);
            assert_eq!(
                y.remote_sources[0].cname.as_deref(),
                Some(send.cname.as_str())
            );
        }
    }
    let (d, e) = (ours.data.as_ref().unwrap(), theirs.data.as_ref().unwrap());
    assert_eq!(d.mid, e.mid);
    assert_eq!(d.local_sctp_port, e.remote_sctp_port);
    assert_eq!(d.local_max_message_size, e.remote_max_message_size);
}

#[test]
fn audio_video_data_in_both_offerer_roles() {
    for alice_offers in [true, false] {
        let mut r = rng(11);
        let mut alice = negotiator(1, &mut r);
        let mut bob = negotiator(2, &mut r);
        av_data(&mut alice, "alice");
        av_data(&mut bob, "bob");
        let (offerer, answerer) = if alice_offers {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        assert!(offerer.negotiation_needed());
        let offer = offerer.create_offer(&mut r).unwrap();
        // The initial max-bundle offer: BUNDLE of all three, later m-lines bundle-only.
        let model = SessionDescription::parse(&offer.sdp).unwrap();
        assert_eq!(model.bundle_group().unwrap().mids.len(), 3);
        assert_eq!(model.media[0].port, 9);
        assert!(
            model.media[1..]
                .iter()
                .all(|m| m.port == 0 && m.has_attribute("bundle-only"))
        );
        assert!(
            model
                .media
                .iter()
                .all(|m| m.setup() == Some(&ferrtc_sdp::Setup::Actpass))
        );
        assert!(offer.sdp.contains("a=ice-options:trickle"));
        // Policy require: new RTP m-lines are rtcp-mux-only (RFC 8829 §5.2.1).
        assert!(
            model.media[..2]
                .iter()
                .all(|m| m.rtcp_mux() && m.rtcp_mux_only())
        );
        common::mozilla_parse(&offer.sdp);

        offerer.set_local_description(&offer).unwrap();
        assert_eq!(offerer.signaling_state(), SignalingState::HaveLocalOffer);
        answerer.set_remote_description(&offer).unwrap();
        assert_eq!(answerer.signaling_state(), SignalingState::HaveRemoteOffer);
        let answer = answerer.create_answer(&mut r).unwrap();
        common::mozilla_parse(&answer.sdp);
        assert!(!answer.sdp.contains("bundle-only"));
        assert!(answer.sdp.contains("a=setup:active"));
        let theirs = answerer.set_local_description(&answer).unwrap().unwrap();
        let ours = offerer.set_remote_description(&answer).unwrap().unwrap();
        for n in [&*offerer, &*answerer] {
            assert_eq!(n.signaling_state(), SignalingState::Stable);
            assert!(!n.negotiation_needed());
            // Each side's add_track transceivers carry the m-lines: no extra ones.
            assert_eq!(n.transceivers().count(), 2);
            for t in n.transceivers() {
                assert_eq!(t.current_direction(), Some(Direction::SendRecv));
            }
        }
        check_mirror(&ours, &theirs);
        assert_eq!(
            ours.transports[0].dtls_role,
            DtlsRole::Server,
            "answerer is active"
        );
        assert!(ours.transports[0].ice_controlling, "the offerer controls");
        let audio = &ours.media[0];
        assert_eq!(audio.kind, MediaKind::Audio);
        assert_eq!(audio.codecs[0].name, "opus");
        assert_eq!(audio.codecs[0].payload_type.local.get(), 111);
        assert_eq!(audio.codecs[0].remote_parameter("useinbandfec"), Some("1"));
        let red = audio.codecs.iter().find(|c| c.is_red()).unwrap();
        assert_eq!(red.remote_parameters[0].name, "111/111");
        assert!(audio.extension_id(uri::AUDIO_LEVEL).is_some());
        let video = &ours.media[1];
        assert_eq!(video.kind, MediaKind::Video);
        let names: Vec<&str> = video.codecs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["VP8", "VP9", "H264", "H264", "AV1", "red"]);
        assert!(
            video
                .codecs
                .iter()
                .filter(|c| !c.is_red())
                .all(|c| c.rtx.is_some())
        );
        assert!(video.extension_id(uri::RID).is_some());
        assert!(video.extension_id(uri::AUDIO_LEVEL).is_none());
        // One id per URI across the bundle.
        assert_eq!(audio.extension_id(uri::MID), video.extension_id(uri::MID));
        assert!(video.send.as_ref().unwrap().rtx_ssrc.is_some());
    }
}

#[test]
fn renegotiation_adds_and_removes_video_both_ways() {
    let mut r = rng(12);
    let mut alice = negotiator(1, &mut r);
    let mut bob = negotiator(2, &mut r);
    alice.add_track(MediaKind::Audio, track("mic")).unwrap();
    alice.create_data_channel().unwrap();
    let (first, _) = exchange(&mut alice, &mut bob, &mut r);
    let fingerprint = first.transports[0].remote_fingerprints.clone();
    let role = first.transports[0].dtls_role;
    let ufrag = first.transports[0].local_ice.ufrag.clone();

    // Alice adds video: a third m-line, bundled, no bundle-only in a re-offer.
    let cam = alice.add_track(MediaKind::Video, track("cam")).unwrap();
    assert!(alice.negotiation_needed());
    let offer = alice.create_offer(&mut r).unwrap();
    assert!(!offer.sdp.contains("bundle-only"));
    let model = SessionDescription::parse(&offer.sdp).unwrap();
    assert_eq!(model.media.len(), 3);
    // rtcp-mux-only only on the new m-line (RFC 8829 §5.2.2).
    assert!(!model.media[0].rtcp_mux_only() && model.media[2].rtcp_mux_only());
    assert_eq!(model.bundle_group().unwrap().mids.len(), 3);
    alice.set_local_description(&offer).unwrap();
    bob.set_remote_description(&offer).unwrap();
    let answer = bob.create_answer(&mut r).unwrap();
    let b = bob.set_local_description(&answer).unwrap().unwrap();
    let a = alice.set_remote_description(&answer).unwrap().unwrap();
    check_mirror(&a, &b);
    assert_eq!(a.media.len(), 2);
    assert_eq!(a.media[1].index, 2);
    assert_eq!(
        a.media[1].current_direction,
        Direction::SendOnly,
        "bob has no camera"
    );
    // DTLS and ICE unchanged.
    assert_eq!(a.transports[0].remote_fingerprints, fingerprint);
    assert_eq!(a.transports[0].dtls_role, role);
    assert_eq!(a.transports[0].local_ice.ufrag, ufrag);
    assert!(!a.transports[0].ice_restart);

    // Bob now sends video too, on the transceiver Alice's offer made; Bob offers.
    bob.add_track(MediaKind::Video, track("bob-cam")).unwrap();
    assert!(bob.negotiation_needed());
    let (b, a) = exchange(&mut bob, &mut alice, &mut r);
    check_mirror(&a, &b);
    assert_eq!(a.media[1].current_direction, Direction::SendRecv);
    assert_eq!(
        b.transports[0].dtls_role,
        role.opposite(),
        "roles kept when the answerer offers"
    );
    assert_eq!(b.transports[0].remote_fingerprints, [common::cert(1)]);

    // Alice removes her camera: she only receives now. Bob offers again.
    alice.remove_track(cam).unwrap();
    assert!(alice.negotiation_needed());
    let (a, b) = exchange(&mut alice, &mut bob, &mut r);
    check_mirror(&a, &b);
    assert_eq!(a.media[1].current_direction, Direction::RecvOnly);
    assert_eq!(a.media[1].send, None);

    // Alice stops the transceiver: its m-line is rejected on both sides.
    alice.stop_transceiver(cam).unwrap();
    assert!(alice.negotiation_needed());
    let offer = alice.create_offer(&mut r).unwrap();
    let model = SessionDescription::parse(&offer.sdp).unwrap();
    // Audio, data, then the video added later.
    assert_eq!(model.media[2].port, 0);
    assert!(
        !model
            .bundle_group()
            .unwrap()
            .mids
            .iter()
            .any(|m| m.as_str() == "2")
    );
    assert!(!model.media[2].has_attribute("msid"));
    alice.set_local_description(&offer).unwrap();
    bob.set_remote_description(&offer).unwrap();
    let answer = bob.create_answer(&mut r).unwrap();
    let b = bob.set_local_description(&answer).unwrap().unwrap();
    let a = alice.set_remote_description(&answer).unwrap().unwrap();
    assert_eq!(a.media.len(), 1);
    assert_eq!(a.rejected.len(), 1);
    assert_eq!(b.rejected, a.rejected);
    assert!(alice.transceiver(cam).unwrap().is_stopped());
    assert!(bob.transceivers().any(|t| t.is_stopped()));
    assert!(!alice.negotiation_needed());

    // A new video track recycles the rejected m-line (RFC 8829 §5.2.2) with a new mid.
    alice.add_track(MediaKind::Video, track("cam2")).unwrap();
    let (a, b) = exchange(&mut alice, &mut bob, &mut r);
    check_mirror(&a, &b);
    let video = a.media.iter().find(|m| m.kind == MediaKind::Video).unwrap();
    assert_eq!(video.index, 2);
    assert_ne!(video.mid.as_str(), "2");
    // The stopped transceivers left the m-line on both sides.
    assert_eq!(alice.transceiver(cam).unwrap().m_line_index(), None);
    assert_eq!(
        bob.transceivers()
            .filter(|t| t.m_line_index() == Some(2))
            .count(),
        1
    );
    assert!(
        bob.transceivers()
            .filter(|t| t.m_line_index() == Some(2))
            .all(|t| !t.is_stopped())
    );
    assert_eq!(
        alice
            .local_description()
            .map(|d| SessionDescription::parse(&d.sdp).unwrap().media.len()),
        Some(3)
    );
    assert_eq!(a.transports[0].remote_fingerprints, fingerprint);
}

#[test]
fn a_second_data_channel_shares_the_m_line() {
    let mut r = rng(13);
    let mut alice = negotiator(1, &mut r);
    let mut bob = negotiator(2, &mut r);
    alice.create_data_channel().unwrap();
    assert!(alice.negotiation_needed());
    let (a, b) = exchange(&mut alice, &mut bob, &mut r);
    assert!(a.media.is_empty() && a.data.is_some() && b.data.is_some());
    alice.create_data_channel().unwrap();
    bob.create_data_channel().unwrap();
    assert!(!alice.negotiation_needed());
    assert!(!bob.negotiation_needed());
    let offer = bob.create_offer(&mut r).unwrap();
    assert_eq!(
        SessionDescription::parse(&offer.sdp).unwrap().media.len(),
        1
    );
    assert_eq!(alice.data_mid(), bob.data_mid());
}

#[test]
fn ice_restart_changes_credentials_only() {
    let mut r = rng(14);
    let mut alice = negotiator(1, &mut r);
    let mut bob = negotiator(2, &mut r);
    av_data(&mut alice, "a");
    let (before_a, before_b) = exchange(&mut alice, &mut bob, &mut r);
    alice.restart_ice().unwrap();
    assert!(alice.negotiation_needed());
    let (after_a, after_b) = exchange(&mut alice, &mut bob, &mut r);
    check_mirror(&after_a, &after_b);
    let (t0, t1) = (&before_a.transports[0], &after_a.transports[0]);
    assert_ne!(t0.local_ice.ufrag, t1.local_ice.ufrag);
    assert_ne!(t0.local_ice.pwd, t1.local_ice.pwd);
    assert_ne!(
        t0.remote_ice.ufrag, t1.remote_ice.ufrag,
        "the answerer restarts too"
    );
    assert!(t1.ice_restart && after_b.transports[0].ice_restart);
    assert_eq!(t0.remote_fingerprints, t1.remote_fingerprints);
    assert_eq!(t0.dtls_role, t1.dtls_role);
    assert_eq!(t0.mids, t1.mids);
    assert_eq!(before_a.media, after_a.media);
    assert_eq!(before_b.media, after_b.media);
    assert_eq!(before_a.data, after_a.data);
    assert!(!alice.negotiation_needed());
}

#[test]
fn glare_is_resolved_by_rollback() {
    let mut r = rng(15);
    let mut alice = negotiator(1, &mut r);
    let mut bob = negotiator(2, &mut r);
    alice.add_track(MediaKind::Audio, track("a")).unwrap();
    bob.add_track(MediaKind::Video, track("b")).unwrap();
    bob.create_data_channel().unwrap();
    let a_offer = alice.create_offer(&mut r).unwrap();
    let b_offer = bob.create_offer(&mut r).unwrap();
    alice.set_local_description(&a_offer).unwrap();
    bob.set_local_description(&b_offer).unwrap();
    // Both offered: each one's offer is refused by the other as a usage error.
    let before = bob.state_snapshot();
    assert!(matches!(
        bob.set_remote_description(&a_offer),
        Err(ferrtc_peerconnection::SetRemoteError::Usage(_))
    ));
    assert_eq!(bob.state_snapshot(), before);
    // Bob is polite: he rolls back and takes Alice's offer.
    assert!(
        bob.set_local_description(&Description::rollback())
            .unwrap()
            .is_none()
    );
    assert_eq!(bob.signaling_state(), SignalingState::Stable);
    assert!(bob.transceivers().all(|t| t.mid().is_none()));
    bob.set_remote_description(&a_offer).unwrap();
    let answer = bob.create_answer(&mut r).unwrap();
    let b = bob.set_local_description(&answer).unwrap().unwrap();
    let a = alice.set_remote_description(&answer).unwrap().unwrap();
    assert_eq!(a.media.len(), 1);
    assert_eq!(b.media[0].current_direction, Direction::RecvOnly);
    // Bob's own wishes (video, data) are still pending: he offers next.
    assert!(bob.negotiation_needed());
    let (b, a) = exchange(&mut bob, &mut alice, &mut r);
    check_mirror(&a, &b);
    assert_eq!(a.media.len(), 2);
    assert!(a.data.is_some());
}

#[test]
fn remote_offer_rollback_removes_what_it_created() {
    let mut r = rng(16);
    let mut alice = negotiator(1, &mut r);
    let mut bob = negotiator(2, &mut r);
    av_data(&mut alice, "a");
    let offer = alice.create_offer(&mut r).unwrap();
    bob.set_remote_description(&offer).unwrap();
    assert_eq!(bob.transceivers().count(), 2);
    bob.set_remote_description(&Description::rollback())
        .unwrap();
    assert_eq!(bob.transceivers().count(), 0);
    assert_eq!(bob.signaling_state(), SignalingState::Stable);
    assert!(bob.remote_description().is_none());
    // And the offer can be taken again.
    bob.set_remote_description(&offer).unwrap();
    assert_eq!(bob.transceivers().count(), 2);
}

#[test]
fn pranswer_then_answer() {
    let mut r = rng(17);
    let mut alice = negotiator(1, &mut r);
    let mut bob = negotiator(2, &mut r);
    av_data(&mut alice, "a");
    let offer = alice.create_offer(&mut r).unwrap();
    alice.set_local_description(&offer).unwrap();
    bob.set_remote_description(&offer).unwrap();
    let answer = bob.create_answer(&mut r).unwrap();
    let pranswer = Description::pranswer(answer.sdp.clone());
    let b = bob.set_local_description(&pranswer).unwrap().unwrap();
    assert!(b.provisional);
    assert_eq!(bob.signaling_state(), SignalingState::HaveLocalPranswer);
    let a = alice.set_remote_description(&pranswer).unwrap().unwrap();
    assert!(a.provisional);
    assert_eq!(alice.signaling_state(), SignalingState::HaveRemotePranswer);
    assert_eq!(
        alice.remote_description().unwrap().sdp_type,
        SdpType::Pranswer
    );
    assert!(alice.current_remote_description().is_none());
    // Bob adds a track before the final answer: it sends now.
    bob.add_track(MediaKind::Video, track("late")).unwrap();
    let answer = bob.create_answer(&mut r).unwrap();
    let b = bob.set_local_description(&answer).unwrap().unwrap();
    let a = alice.set_remote_description(&answer).unwrap().unwrap();
    assert!(!a.provisional && !b.provisional);
    check_mirror(&a, &b);
    assert_eq!(a.media[1].current_direction, Direction::SendRecv);
    assert_eq!(alice.signaling_state(), SignalingState::Stable);
    assert_eq!(bob.signaling_state(), SignalingState::Stable);
    assert_eq!(
        alice.current_remote_description().unwrap().sdp_type,
        SdpType::Answer
    );
}

fn host(port: u16) -> Candidate {
    Candidate::new(
        "1",
        1,
        CandidateTransport::Udp,
        2_122_260_223,
        "192.0.2.1",
        port,
        CandidateType::HOST,
    )
}

#[test]
fn trickle_candidates_both_ways() {
    let mut r = rng(18);
    let mut alice = negotiator(1, &mut r);
    let mut bob = negotiator(2, &mut r);
    av_data(&mut alice, "a");
    let offer = alice.create_offer(&mut r).unwrap();
    alice.set_local_description(&offer).unwrap();
    // Alice gathers after setting her offer: the candidate shows in her description.
    alice.add_local_candidate(host(5000)).unwrap();
    let described = alice.local_description().unwrap();
    assert!(
        described
            .sdp
            .contains("a=candidate:1 1 udp 2122260223 192.0.2.1 5000 typ host")
    );
    bob.set_remote_description(&offer).unwrap();
    let mid0 = ferrtc_types::Mid::new("0").unwrap();
    let added = bob
        .add_ice_candidate(&RemoteCandidate {
            candidate: Some(host(5000)),
            mid: Some(mid0.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(added.transport_mid, mid0);
    // By index, into a bundled m-line: still the bundle's transport.
    let added = bob
        .add_ice_candidate(&RemoteCandidate {
            candidate: Some(host(5001)),
            m_line_index: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(added.transport_mid, mid0);
    bob.add_ice_candidate(&RemoteCandidate {
        candidate: None,
        mid: Some(mid0.clone()),
        ..Default::default()
    })
    .unwrap();
    let answer = bob.create_answer(&mut r).unwrap();
    let b = bob.set_local_description(&answer).unwrap().unwrap();
    let t = &b.transports[0];
    assert_eq!(t.remote_candidates.len(), 2);
    assert!(t.remote_end_of_candidates);
    alice.set_remote_description(&answer).unwrap();
    // After the exchange, trickled candidates update the summary.
    alice
        .add_ice_candidate(&RemoteCandidate {
            candidate: Some(host(6000)),
            mid: Some(mid0.clone()),
            ufrag: Some(b.transports[0].local_ice.ufrag.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        alice.negotiation().unwrap().transports[0]
            .remote_candidates
            .len(),
        1
    );
    assert!(
        alice
            .remote_description()
            .unwrap()
            .sdp
            .contains("192.0.2.1 6000")
    );
}

#[test]
fn ice_lite_side_is_controlled() {
    let mut r = rng(19);
    let mut config = Config::new(common::cert(1));
    config.ice_lite = true;
    let mut lite = Negotiator::new(config, &mut r).unwrap();
    let mut full = negotiator(2, &mut r);
    lite.create_data_channel().unwrap();
    let offer = lite.create_offer(&mut r).unwrap();
    assert!(offer.sdp.contains("a=ice-lite"));
    lite.set_local_description(&offer).unwrap();
    full.set_remote_description(&offer).unwrap();
    let answer = full.create_answer(&mut r).unwrap();
    let f = full.set_local_description(&answer).unwrap().unwrap();
    let l = lite.set_remote_description(&answer).unwrap().unwrap();
    assert!(f.transports[0].ice_controlling, "the full agent controls");
    assert!(!l.transports[0].ice_controlling);
    assert!(l.transports[0].local_ice.lite && f.transports[0].remote_ice.lite);
}

#[test]
fn add_transceiver_directions() {
    let mut r = rng(20);
    let mut alice = negotiator(1, &mut r);
    let mut bob = negotiator(2, &mut r);
    let rx = alice
        .add_transceiver(
            MediaKind::Video,
            TransceiverInit {
                direction: Direction::RecvOnly,
                track: None,
            },
        )
        .unwrap();
    let tx = alice
        .add_transceiver(
            MediaKind::Audio,
            TransceiverInit {
                direction: Direction::SendOnly,
                track: Some(track("m")),
            },
        )
        .unwrap();
    // Bob has a camera for Alice's receive-only video; nothing to send on audio.
    bob.add_track(MediaKind::Video, track("cam")).unwrap();
    let (a, b) = exchange(&mut alice, &mut bob, &mut r);
    check_mirror_media(&a, &b);
    assert_eq!(
        alice.transceiver(rx).unwrap().current_direction(),
        Some(Direction::RecvOnly)
    );
    assert_eq!(
        alice.transceiver(tx).unwrap().current_direction(),
        Some(Direction::SendOnly)
    );
    // Changing a direction asks for negotiation.
    alice.set_direction(rx, Direction::Inactive).unwrap();
    assert!(alice.negotiation_needed());
    exchange(&mut alice, &mut bob, &mut r);
    assert_eq!(
        alice.transceiver(rx).unwrap().current_direction(),
        Some(Direction::Inactive)
    );
    assert!(!alice.negotiation_needed());
}

fn check_mirror_media(a: &Negotiation, b: &Negotiation) {
    for (x, y) in a.media.iter().zip(&b.media) {
        assert_eq!(x.current_direction, y.current_direction.reverse());
    }
}

#[test]
fn rolling_back_an_ice_restart_keeps_it_pending() {
    let mut r = rng(21);
    let mut alice = negotiator(1, &mut r);
    let mut bob = negotiator(2, &mut r);
    alice.create_data_channel().unwrap();
    exchange(&mut alice, &mut bob, &mut r);
    let ufrag = alice.local_ice_credentials().ufrag.clone();
    alice.restart_ice().unwrap();
    let offer = alice.create_offer(&mut r).unwrap();
    alice.set_local_description(&offer).unwrap();
    assert_ne!(alice.local_ice_credentials().ufrag, ufrag);
    alice
        .set_local_description(&Description::rollback())
        .unwrap();
    assert_eq!(alice.local_ice_credentials().ufrag, ufrag);
    assert!(alice.negotiation_needed());
    let (a, _) = exchange(&mut alice, &mut bob, &mut r);
    assert_ne!(a.transports[0].local_ice.ufrag, ufrag);
    assert!(a.transports[0].ice_restart);
}

#[test]
fn codec_preferences_order_and_restrict() {
    use ferrtc_peerconnection::{CodecSpec, UsageError};
    let mut r = rng(22);
    let mut alice = negotiator(1, &mut r);
    let mut bob = negotiator(2, &mut r);
    let video = CodecSpec::default_video();
    let (vp8, vp9, h264) = (video[0].clone(), video[1].clone(), video[2].clone());
    let cam = alice.add_track(MediaKind::Video, track("cam")).unwrap();
    // Not one of ours: refused, nothing changes.
    let mut vp7 = vp8.clone();
    vp7.name = "VP7".into();
    let before = alice.state_snapshot();
    assert_eq!(
        alice.set_codec_preferences(cam, &[h264.clone(), vp7]),
        Err(UsageError::UnsupportedCodec { index: 1 })
    );
    assert_eq!(alice.state_snapshot(), before);
    alice
        .set_codec_preferences(cam, &[h264.clone(), vp8.clone(), vp9.clone()])
        .unwrap();
    let offer = alice.create_offer(&mut r).unwrap();
    let model = SessionDescription::parse(&offer.sdp).unwrap();
    let names: Vec<&str> = model.media[0]
        .codecs()
        .filter_map(|c| c.name())
        .filter(|n| *n != "rtx")
        .collect();
    assert_eq!(names, ["H264", "VP8", "VP9"]);
    alice.set_local_description(&offer).unwrap();
    bob.set_remote_description(&offer).unwrap();
    // Bob, answering, prefers VP9 then VP8: his answer is in his order, without H.264.
    let t = bob.transceivers().next().unwrap().id();
    bob.set_codec_preferences(t, &[vp9, vp8]).unwrap();
    let answer = bob.create_answer(&mut r).unwrap();
    let b = bob.set_local_description(&answer).unwrap().unwrap();
    let a = alice.set_remote_description(&answer).unwrap().unwrap();
    check_mirror_media(&a, &b);
    let names: Vec<&str> = a.media[0].codecs.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["VP9", "VP8"]);
    // An empty list goes back to every configured codec.
    alice.set_codec_preferences(cam, &[]).unwrap();
    assert!(
        alice
            .transceiver(cam)
            .unwrap()
            .codec_preferences()
            .is_none()
    );
    let (a, _) = exchange(&mut alice, &mut bob, &mut r);
    assert_eq!(a.media[0].codecs.len(), 2, "bob still prefers two");
}
