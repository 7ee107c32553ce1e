//! Malformed or inconsistent remote descriptions get a precise typed error, API misuse a
//! usage error, and in every case the negotiator is exactly as it was.

mod common;

use common::{CHROMIUM_OFFER, exchange, negotiator, rng};
use ferrtc_peerconnection::{
    AddCandidateError, CandidateError, CodecSpec, Config, Description, MediaKind, Negotiator,
    Operation, RemoteCandidate, RemoteDescriptionError as E, SdpType, SetRemoteError,
    SignalingState, TrackInfo, UsageError,
};
use ferrtc_sdp::{Attribute, SessionDescription};
use ferrtc_types::{Mid, PayloadType};
use rand_chacha::ChaCha20Rng;

fn mid(s: &str) -> Mid {
    Mid::new(s).unwrap()
}

/// `set_remote_description` fails as `check` expects, and nothing changes.
#[track_caller]
fn refused(n: &mut Negotiator, d: &Description, check: impl FnOnce(&SetRemoteError) -> bool) {
    let before = n.state_snapshot();
    let state = n.signaling_state();
    let err = n.set_remote_description(d).expect_err("must be refused");
    assert!(check(&err), "unexpected error: {err:?} ({err})");
    assert_eq!(n.signaling_state(), state);
    assert_eq!(
        n.state_snapshot(),
        before,
        "state changed by a refused description"
    );
}

/// A peer error `e`.
#[track_caller]
fn remote_err(n: &mut Negotiator, sdp: String, t: SdpType, e: E) {
    let d = Description { sdp_type: t, sdp };
    refused(n, &d, |got| *got == SetRemoteError::Remote(e.clone()));
}

fn lines(text: &str, keep: impl Fn(&str) -> bool) -> String {
    text.lines()
        .filter(|l| keep(l))
        .map(|l| format!("{l}\r\n"))
        .collect()
}

fn edit(text: &str, f: impl FnOnce(&mut SessionDescription)) -> String {
    let mut sdp = SessionDescription::parse(text).unwrap();
    f(&mut sdp);
    sdp.to_string()
}

fn fresh() -> (Negotiator, ChaCha20Rng) {
    let mut r = rng(31);
    let n = negotiator(3, &mut r);
    (n, r)
}

#[test]
fn malformed_and_inconsistent_offers() {
    let (mut n, _) = fresh();
    let o = SdpType::Offer;
    let chromium = CHROMIUM_OFFER;
    refused(&mut n, &Description::offer("hello"), |e| {
        matches!(e, SetRemoteError::Remote(E::Malformed(_)))
    });
    remote_err(
        &mut n,
        lines(chromium, |l| !l.starts_with("a=fingerprint")),
        o,
        E::MissingFingerprint { mid: mid("0") },
    );
    remote_err(
        &mut n,
        lines(chromium, |l| !l.starts_with("a=ice-ufrag")),
        o,
        E::MissingIceUfrag { mid: mid("0") },
    );
    remote_err(
        &mut n,
        lines(chromium, |l| !l.starts_with("a=ice-pwd")),
        o,
        E::MissingIcePwd { mid: mid("0") },
    );
    remote_err(
        &mut n,
        chromium.replace("a=ice-pwd:OpbwMaDXlACpWOhWVObdVxhG", "a=ice-pwd:short"),
        o,
        E::InvalidIcePwd { mid: mid("0") },
    );
    remote_err(
        &mut n,
        chromium.replace("a=ice-ufrag:RoZs", "a=ice-ufrag:R!"),
        o,
        E::InvalidIceUfrag { mid: mid("0") },
    );
    remote_err(
        &mut n,
        lines(chromium, |l| l != "a=mid:1"),
        o,
        E::MissingMid { index: 1 },
    );
    remote_err(
        &mut n,
        chromium.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 7"),
        o,
        E::UnknownBundleMid { mid: mid("7") },
    );
    remote_err(
        &mut n,
        chromium.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 0"),
        o,
        E::DuplicateBundleMid { mid: mid("0") },
    );
    remote_err(
        &mut n,
        chromium.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE"),
        o,
        E::EmptyBundleGroup,
    );
    remote_err(
        &mut n,
        chromium.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0\r\na=group:BUNDLE 1"),
        o,
        E::MultipleBundleGroups,
    );
    remote_err(
        &mut n,
        chromium.replace("a=mid:1", "a=mid:0"),
        o,
        E::DuplicateMid { mid: mid("0") },
    );
    remote_err(
        &mut n,
        lines(chromium, |l| l != "a=rtcp-mux"),
        o,
        E::MissingRtcpMux { mid: mid("0") },
    );
    remote_err(
        &mut n,
        chromium.replace("a=setup:actpass", "a=setup:holdconn"),
        o,
        E::UnsupportedSetup { mid: mid("0") },
    );
    remote_err(
        &mut n,
        chromium.replace("a=fingerprint:sha-256", "a=fingerprint:md5"),
        o,
        E::InvalidFingerprint {
            mid: mid("0"),
            source: ferrtc_types::ValueError::UnknownHashAlgorithm,
        },
    );
    remote_err(
        &mut n,
        chromium.replace("a=extmap:2 ", "a=extmap:1 "),
        o,
        E::ConflictingExtensionId { id: 1 },
    );
    remote_err(
        &mut n,
        chromium.replace("a=extmap:2 ", "a=extmap:0 "),
        o,
        E::InvalidExtensionId {
            mid: mid("0"),
            id: 0,
        },
    );
    // The tag may not be bundle-only; bundle-only needs a BUNDLE group.
    let tag_only = edit(chromium, |s| {
        s.media[0].attributes.push(Attribute::Unknown {
            name: "bundle-only".into(),
            value: None,
        })
    });
    remote_err(
        &mut n,
        tag_only,
        o,
        E::BundleTagIsBundleOnly { mid: mid("0") },
    );
    let outside = edit(chromium, |s| {
        s.attributes.retain(|a| a.name() != "group");
        s.media[1].attributes.push(Attribute::Unknown {
            name: "bundle-only".into(),
            value: None,
        });
    });
    remote_err(
        &mut n,
        outside,
        o,
        E::BundleOnlyOutsideBundle { mid: mid("1") },
    );
    // A BUNDLE group may not name a rejected m-line.
    let rejected = edit(chromium, |s| s.media[1].port = 0);
    remote_err(
        &mut n,
        rejected,
        o,
        E::RejectedMidInBundle { mid: mid("1") },
    );
    assert_eq!(n.signaling_state(), SignalingState::Stable);
    assert!(n.remote_description().is_none());
    assert_eq!(n.transceivers().count(), 0);
    // After all that, the real offer is fine.
    n.set_remote_description(&Description::offer(chromium))
        .unwrap();
}

#[test]
fn both_ice_lite_is_refused() {
    let mut r = rng(32);
    let mut config = Config::new(common::cert(3));
    config.ice_lite = true;
    let mut n = Negotiator::new(config, &mut r).unwrap();
    let lite = CHROMIUM_OFFER.replace("a=extmap-allow-mixed", "a=extmap-allow-mixed\r\na=ice-lite");
    remote_err(&mut n, lite, SdpType::Offer, E::BothIceLite);
}

#[test]
fn wrong_type_for_the_state_is_a_usage_error() {
    let (mut n, mut r) = fresh();
    let usage =
        |operation, state| SetRemoteError::Usage(UsageError::WrongState { operation, state });
    let stable = SignalingState::Stable;
    for t in [SdpType::Answer, SdpType::Pranswer, SdpType::Rollback] {
        let d = Description {
            sdp_type: t,
            sdp: CHROMIUM_OFFER.into(),
        };
        refused(&mut n, &d, |e| *e == usage(Operation::SetRemote(t), stable));
    }
    let before = n.state_snapshot();
    assert_eq!(
        n.create_answer(&mut r),
        Err(UsageError::WrongState {
            operation: Operation::CreateAnswer,
            state: stable
        })
    );
    assert_eq!(
        n.set_local_description(&Description::answer("v=0")),
        Err(UsageError::WrongState {
            operation: Operation::SetLocal(SdpType::Answer),
            state: stable
        })
    );
    assert_eq!(
        n.set_local_description(&Description::rollback()),
        Err(UsageError::WrongState {
            operation: Operation::SetLocal(SdpType::Rollback),
            state: stable
        })
    );
    // A local offer nobody created, or a modified one (no SDP munging).
    assert_eq!(
        n.set_local_description(&Description::offer("v=0")),
        Err(UsageError::NotLastCreated)
    );
    assert_eq!(n.state_snapshot(), before);
    n.create_data_channel().unwrap();
    let offer = n.create_offer(&mut r).unwrap();
    let before = n.state_snapshot();
    let munged = Description::offer(
        offer
            .sdp
            .replace("a=max-message-size:262144", "a=max-message-size:1"),
    );
    assert_eq!(
        n.set_local_description(&munged),
        Err(UsageError::NotLastCreated)
    );
    assert_eq!(n.state_snapshot(), before);
    n.set_local_description(&offer).unwrap();
    // Glare: an offer while ours is outstanding.
    let hlo = SignalingState::HaveLocalOffer;
    refused(&mut n, &Description::offer(CHROMIUM_OFFER), |e| {
        *e == usage(Operation::SetRemote(SdpType::Offer), hlo)
    });
    // Our own offer is not an answer, and create_answer needs a remote offer.
    assert!(matches!(
        n.create_answer(&mut r),
        Err(UsageError::WrongState { .. })
    ));
    // Closed: everything fails the same way.
    n.close();
    assert_eq!(n.signaling_state(), SignalingState::Closed);
    let before = n.state_snapshot();
    assert_eq!(n.create_offer(&mut r), Err(UsageError::Closed));
    assert_eq!(
        n.add_track(MediaKind::Audio, TrackInfo::default()),
        Err(UsageError::Closed)
    );
    refused(&mut n, &Description::offer(CHROMIUM_OFFER), |e| {
        *e == SetRemoteError::Usage(UsageError::Closed)
    });
    assert_eq!(n.state_snapshot(), before);
}

#[test]
fn transceiver_misuse() {
    let (mut n, _) = fresh();
    let id = n.add_track(MediaKind::Audio, TrackInfo::default()).unwrap();
    n.stop_transceiver(id).unwrap();
    let before = n.state_snapshot();
    assert_eq!(n.remove_track(id), Err(UsageError::TransceiverStopped(id)));
    assert_eq!(
        n.stop_transceiver(id),
        Err(UsageError::TransceiverStopped(id))
    );
    assert_eq!(n.state_snapshot(), before);
    // Stopped before it ever had an m-line: no m-line at all, nothing to negotiate.
    assert!(!n.negotiation_needed());
}

/// Alice (audio, video, data) has offered; Bob's answer text is returned for mutation.
fn offered(alice_config: Config) -> (Negotiator, String, ChaCha20Rng) {
    let mut r = rng(33);
    let mut alice = Negotiator::new(alice_config, &mut r).unwrap();
    let mut bob = negotiator(4, &mut r);
    alice
        .add_track(MediaKind::Audio, TrackInfo::default())
        .unwrap();
    alice
        .add_track(MediaKind::Video, TrackInfo::default())
        .unwrap();
    alice.create_data_channel().unwrap();
    let offer = alice.create_offer(&mut r).unwrap();
    alice.set_local_description(&offer).unwrap();
    bob.set_remote_description(&offer).unwrap();
    let answer = bob.create_answer(&mut r).unwrap();
    (alice, answer.sdp, r)
}

#[test]
fn inconsistent_answers() {
    let (mut alice, answer, _) = offered(Config::new(common::cert(1)));
    let a = SdpType::Answer;
    let extra = edit(&answer, |s| {
        let copy = s.media[0].clone();
        s.media.push(copy);
        let m = s.media.last_mut().unwrap();
        m.attributes.retain(|x| x.name() != "mid");
        m.attributes
            .push(Attribute::Mid(ferrtc_sdp::Mid::new("x").unwrap()));
    });
    remote_err(
        &mut alice,
        extra,
        a,
        E::MediaCountMismatch {
            offered: 3,
            answered: 4,
        },
    );
    let fewer = edit(&answer, |s| {
        s.media.pop();
        s.attributes.retain(|x| x.name() != "group");
        s.attributes
            .push(Attribute::parse("group:BUNDLE 0 1").unwrap());
    });
    remote_err(
        &mut alice,
        fewer,
        a,
        E::MediaCountMismatch {
            offered: 3,
            answered: 2,
        },
    );
    remote_err(
        &mut alice,
        answer.replace("a=setup:active", "a=setup:actpass"),
        a,
        E::ActpassInAnswer { mid: mid("0") },
    );
    remote_err(
        &mut alice,
        lines(&answer, |l| l != "a=rtcp-mux"),
        a,
        E::MissingRtcpMux { mid: mid("0") },
    );
    remote_err(
        &mut alice,
        answer.replace("m=audio", "m=video"),
        a,
        E::KindMismatch { index: 0 },
    );
    remote_err(
        &mut alice,
        answer
            .replace("a=mid:1", "a=mid:v")
            .replace("BUNDLE 0 1 2", "BUNDLE 0 v 2"),
        a,
        E::MidMismatch {
            index: 1,
            found: mid("v"),
        },
    );
    remote_err(
        &mut alice,
        lines(&answer, |l| !l.starts_with("a=group")),
        a,
        E::BundleNotAccepted,
    );
    remote_err(
        &mut alice,
        lines(&answer, |l| !l.starts_with("a=fingerprint")),
        a,
        E::MissingFingerprint { mid: mid("0") },
    );
    remote_err(
        &mut alice,
        answer.replace("a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0 1 2 9"),
        a,
        E::UnknownBundleMid { mid: mid("9") },
    );
    // The unmodified answer is fine.
    assert_eq!(alice.signaling_state(), SignalingState::HaveLocalOffer);
    alice
        .set_remote_description(&Description::answer(answer))
        .unwrap();
}

#[test]
fn answer_without_a_common_codec() {
    let mut config = Config::new(common::cert(1));
    config.video_codecs = vec![
        CodecSpec::new("VP8", 90_000, None, PayloadType::new(96).unwrap())
            .with_rtx(PayloadType::new(97).unwrap()),
    ];
    let (mut alice, answer, _) = offered(config);
    assert!(answer.contains("a=rtpmap:96 VP8/90000"));
    remote_err(
        &mut alice,
        answer.replace("VP8/90000", "VP7/90000"),
        SdpType::Answer,
        E::NoCommonCodec { mid: mid("1") },
    );
}

#[test]
fn renegotiation_may_not_break_dtls_or_drop_m_lines() {
    let mut r = rng(34);
    let mut alice = negotiator(1, &mut r);
    let mut bob = negotiator(2, &mut r);
    alice
        .add_track(MediaKind::Audio, TrackInfo::default())
        .unwrap();
    let video = alice
        .add_track(MediaKind::Video, TrackInfo::default())
        .unwrap();
    alice.create_data_channel().unwrap();
    exchange(&mut alice, &mut bob, &mut r);

    // Re-offer from Alice; Bob's answer flips the DTLS role or the certificate.
    alice.stop_transceiver(video).unwrap();
    let offer = alice.create_offer(&mut r).unwrap();
    alice.set_local_description(&offer).unwrap();
    bob.set_remote_description(&offer).unwrap();
    let answer = bob.create_answer(&mut r).unwrap().sdp;
    let a = SdpType::Answer;
    remote_err(
        &mut alice,
        answer.replace("a=setup:active", "a=setup:passive"),
        a,
        E::DtlsRoleChanged { mid: mid("0") },
    );
    remote_err(
        &mut alice,
        answer.replace("a=fingerprint:sha-256 02:", "a=fingerprint:sha-256 03:"),
        a,
        E::FingerprintChanged { mid: mid("0") },
    );
    // An answer that accepts the m-line the offer rejected.
    let accepted = edit(&answer, |s| {
        s.media[1].port = 9;
        s.media[1].attributes.push(Attribute::RtcpMux);
        s.attributes.retain(|x| x.name() != "group");
        s.attributes
            .push(Attribute::parse("group:BUNDLE 0 1 2").unwrap());
    });
    remote_err(
        &mut alice,
        accepted,
        a,
        E::AcceptedRejectedMedia { mid: mid("1") },
    );
    bob.set_local_description(&Description::answer(answer.clone()))
        .unwrap();
    alice
        .set_remote_description(&Description::answer(answer))
        .unwrap();

    // A re-offer from Bob to Alice that drops or renames m-lines.
    let offer = bob.create_offer(&mut r).unwrap().sdp;
    let o = SdpType::Offer;
    let dropped = edit(&offer, |s| {
        s.media.pop();
        s.attributes.retain(|x| x.name() != "group");
        s.attributes
            .push(Attribute::parse("group:BUNDLE 0").unwrap());
    });
    remote_err(
        &mut alice,
        dropped,
        o,
        E::MediaRemoved {
            previous: 3,
            offered: 2,
        },
    );
    remote_err(
        &mut alice,
        offer
            .replace("a=mid:2", "a=mid:z")
            .replace("BUNDLE 0 2", "BUNDLE 0 z"),
        o,
        E::MidMismatch {
            index: 2,
            found: mid("z"),
        },
    );
    remote_err(
        &mut alice,
        offer.replace("m=application", "m=audio"),
        o,
        E::KindMismatch { index: 2 },
    );
    remote_err(
        &mut alice,
        offer.replace("a=fingerprint:sha-256 02:", "a=fingerprint:sha-256 03:"),
        o,
        E::FingerprintChanged { mid: mid("0") },
    );
    alice
        .set_remote_description(&Description::offer(offer))
        .unwrap();
}

#[test]
fn bad_candidates() {
    let (mut n, _) = fresh();
    let c = ferrtc_sdp::Candidate::parse("candidate:1 1 udp 1 192.0.2.1 9 typ host").unwrap();
    let with = |mid: Option<&str>, index: Option<usize>, ufrag: Option<&str>| RemoteCandidate {
        candidate: Some(c.clone()),
        mid: mid.map(|m| Mid::new(m).unwrap()),
        m_line_index: index,
        ufrag: ufrag.map(str::to_owned),
    };
    let check = |n: &mut Negotiator, rc: RemoteCandidate, e: AddCandidateError| {
        let before = n.state_snapshot();
        assert_eq!(n.add_ice_candidate(&rc), Err(e));
        assert_eq!(n.state_snapshot(), before);
    };
    check(
        &mut n,
        with(Some("0"), None, None),
        UsageError::NoRemoteDescription.into(),
    );
    n.set_remote_description(&Description::offer(CHROMIUM_OFFER))
        .unwrap();
    check(
        &mut n,
        with(None, None, None),
        UsageError::CandidateWithoutMid.into(),
    );
    check(
        &mut n,
        with(Some("5"), None, None),
        CandidateError::UnknownMid(mid("5")).into(),
    );
    check(
        &mut n,
        with(None, Some(2), None),
        CandidateError::MLineIndexOutOfRange(2).into(),
    );
    check(
        &mut n,
        with(Some("0"), None, Some("old")),
        CandidateError::UfragMismatch.into(),
    );
    n.add_ice_candidate(&with(Some("1"), None, Some("RoZs")))
        .unwrap();
}
