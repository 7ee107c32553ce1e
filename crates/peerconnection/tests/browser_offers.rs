//! The Chromium 156 and Firefox 153 offers (video + data channel) are answered: the answer
//! is valid SDP to Mozilla's parser and names only what both sides support.

mod common;

use common::{CHROMIUM_OFFER, FIREFOX_OFFER, answer_offer, mozilla_parse};
use ferrtc_peerconnection::{Direction, Feedback, MediaKind, TrackInfo, uri};
use ferrtc_sdp::SessionDescription;
use ferrtc_types::DtlsRole;
use webrtc_sdp::attribute_type::{SdpAttribute, SdpAttributeGroupSemantic, SdpAttributeSetup};
use webrtc_sdp::media_type::{SdpFormatList, SdpMediaValue, SdpProtocolValue};

fn track() -> TrackInfo {
    TrackInfo {
        track_id: "camera".into(),
        stream_ids: vec!["stream".into()],
    }
}

/// Answers `offer` with a video track of ours and checks what every browser answer must
/// satisfy; returns the answer model.
fn answer_and_check(offer_text: &str) -> (SessionDescription, ferrtc_peerconnection::Negotiation) {
    let mut rng = common::rng(7);
    let mut n = common::negotiator(9, &mut rng);
    n.add_track(MediaKind::Video, track()).unwrap();
    let (text, negotiation) = answer_offer(&mut n, offer_text, &mut rng);
    let offer = SessionDescription::parse(offer_text).unwrap();
    let answer = SessionDescription::parse(&text).unwrap();

    // Mozilla's parser takes it, warnings counted as errors.
    let moz = mozilla_parse(&text);
    assert_eq!(moz.media.len(), 2);
    assert_eq!(*moz.media[0].get_type(), SdpMediaValue::Video);
    assert_eq!(*moz.media[0].get_proto(), SdpProtocolValue::UdpTlsRtpSavpf);
    assert_eq!(*moz.media[1].get_type(), SdpMediaValue::Application);
    assert_eq!(*moz.media[1].get_proto(), SdpProtocolValue::UdpDtlsSctp);
    assert!(
        matches!(moz.media[1].get_formats(), SdpFormatList::Strings(f) if f == &["webrtc-datachannel"])
    );
    let group = moz
        .attribute
        .iter()
        .find_map(|a| match a {
            SdpAttribute::Group(g) if matches!(g.semantics, SdpAttributeGroupSemantic::Bundle) => {
                Some(g.tags.clone())
            }
            _ => None,
        })
        .expect("a=group:BUNDLE");
    assert_eq!(group, ["0", "1"]);
    for m in &moz.media {
        assert_ne!(m.get_port(), 0, "nothing rejected");
        let active = m
            .get_attributes()
            .iter()
            .any(|a| matches!(a, SdpAttribute::Setup(SdpAttributeSetup::Active)));
        assert!(active, "we answer actpass with active");
        assert!(
            m.get_attributes()
                .iter()
                .any(|a| matches!(a, SdpAttribute::Fingerprint(_)))
        );
        assert!(
            !m.get_attributes()
                .iter()
                .any(|a| matches!(a, SdpAttribute::BundleOnly))
        );
    }
    let sctp_port = moz.media[1].get_attributes().iter().find_map(|a| match a {
        SdpAttribute::SctpPort(p) => Some(*p),
        _ => None,
    });
    assert_eq!(sctp_port, Some(5000));
    assert!(
        moz.media[1]
            .get_attributes()
            .iter()
            .any(|a| matches!(a, SdpAttribute::MaxMessageSize(262_144)))
    );

    // Codecs: every payload type is the offer's, with the offer's rtpmap; RTX points at a
    // codec in the answer; nothing we do not support.
    let (om, am) = (&offer.media[0], &answer.media[0]);
    let answered: Vec<u8> = am.payload_types().map(|p| p.get()).collect();
    assert!(!answered.is_empty());
    for c in am.codecs() {
        let rtpmap = c.rtpmap.expect("every answered codec has an rtpmap");
        assert_eq!(
            om.rtpmap(c.payload_type),
            Some(rtpmap),
            "offer's payload type kept"
        );
        let name = rtpmap.encoding_name.to_ascii_lowercase();
        assert!(
            ["vp8", "vp9", "h264", "av1", "red", "rtx"].contains(&name.as_str()),
            "{name} is not ours"
        );
        if name == "rtx" {
            let apt: u8 = c.fmtp.and_then(|f| f.get("apt")).unwrap().parse().unwrap();
            assert!(
                answered.contains(&apt),
                "rtx apt={apt} names an answered codec"
            );
        }
        if name == "h264" {
            let f = c.fmtp.unwrap();
            assert_eq!(f.get("profile-level-id").map(|p| &p[..4]), Some("42e0"));
        }
        if name == "vp9" {
            assert_ne!(c.fmtp.and_then(|f| f.get("profile-id")), Some("2"));
        }
        // Feedback is a subset of the offer's for that payload type.
        for fb in c.feedback() {
            assert!(om.rtcp_fbs_for(c.payload_type).any(|o| o == fb));
        }
    }
    assert!(am.codecs().all(|c| c.name() != Some("ulpfec")), "no FEC");

    // Header extensions: the offer's ids, only those we support.
    let ours = [
        uri::MID,
        uri::RID,
        uri::REPAIRED_RID,
        uri::ABS_SEND_TIME,
        uri::TRANSPORT_CC,
    ];
    for e in am.extmaps() {
        assert!(ours.contains(&e.uri.as_str()), "{} is not ours", e.uri);
        assert!(om.extmaps().any(|o| o.id == e.id && o.uri == e.uri));
    }
    for o in om.extmaps().filter(|o| ours.contains(&o.uri.as_str())) {
        assert!(am.extmaps().any(|e| e.uri == o.uri), "{} dropped", o.uri);
    }

    // The summary the core gets.
    assert_eq!(negotiation.transports.len(), 1);
    let t = &negotiation.transports[0];
    assert_eq!(t.dtls_role, DtlsRole::Client);
    assert!(
        !t.ice_controlling,
        "the answerer of a full agent is controlled"
    );
    assert!(t.remote_ice.trickle);
    assert_eq!(t.remote_fingerprints.len(), 1);
    assert!(!t.remote_candidates.is_empty());
    let media = &negotiation.media[0];
    assert_eq!(media.current_direction, Direction::SendRecv);
    assert!(media.rtcp_mux && media.rtcp_rsize);
    assert!(media.send.is_some());
    assert!(!media.remote_sources.is_empty());
    assert!(media.remote_sources[0].rtx_ssrc.is_some());
    let vp8 = media.codecs.iter().find(|c| c.name == "VP8").unwrap();
    assert!(vp8.rtx.is_some());
    assert!(
        vp8.feedback.contains(&Feedback::NackPli) && vp8.feedback.contains(&Feedback::TransportCc)
    );
    assert_eq!(vp8.payload_type.local, vp8.payload_type.remote);
    assert!(media.extension_id(uri::MID).is_some());
    assert!(media.extension_id(uri::TOFFSET).is_none());
    let data = negotiation.data.as_ref().unwrap();
    assert_eq!((data.local_sctp_port, data.remote_sctp_port), (5000, 5000));
    (answer, negotiation)
}

#[test]
fn chromium_offer_is_answered() {
    let (answer, negotiation) = answer_and_check(CHROMIUM_OFFER);
    let pts: Vec<u8> = answer.media[0].payload_types().map(|p| p.get()).collect();
    // VP8 96/97, H.264 42e01f modes 1 and 0 (108/109, 114/115), AV1 45/46, VP9 profile 0
    // 98/99, RED 118/119; not H.264 baseline or main, not VP9 profile 2, not ulpfec.
    assert_eq!(pts, [96, 97, 108, 109, 114, 115, 45, 46, 98, 99, 118, 119]);
    let media = &negotiation.media[0];
    assert_eq!(media.remote_sources[0].ssrc.0, 3_629_162_994);
    assert_eq!(
        media.remote_sources[0].rtx_ssrc.map(|s| s.0),
        Some(172_645_553)
    );
    assert_eq!(
        media.remote_sources[0].cname.as_deref(),
        Some("Yw3LeFs4vLOGYdHL")
    );
    assert_eq!(
        negotiation.data.as_ref().unwrap().remote_max_message_size,
        262_144
    );
    assert_eq!(negotiation.transports[0].remote_ice.ufrag, "RoZs");
    let red = media.codecs.iter().find(|c| c.is_red()).unwrap();
    assert_eq!(red.rtx.map(|r| r.remote.get()), Some(119));
}

#[test]
fn firefox_offer_is_answered() {
    let (answer, negotiation) = answer_and_check(FIREFOX_OFFER);
    let pts: Vec<u8> = answer.media[0].payload_types().map(|p| p.get()).collect();
    // VP8 120/124, VP9 121/125, AV1 99/100, RED 122/119; not ulpfec 123.
    assert_eq!(pts, [120, 124, 121, 125, 99, 100, 122, 119]);
    let t = &negotiation.transports[0];
    // Firefox writes its fingerprint at session level and ends its candidates.
    assert_eq!(t.remote_fingerprints[0].digest()[0], 0xB9);
    assert!(t.remote_end_of_candidates);
    // Only RTP component 1 matters with rtcp-mux, but the candidates are passed through.
    assert_eq!(t.remote_candidates.len(), 8);
    assert_eq!(
        negotiation.data.as_ref().unwrap().remote_max_message_size,
        1_073_741_823
    );
    let media = &negotiation.media[0];
    assert_eq!(media.extension_id(uri::MID).map(|i| i.get()), Some(3));
    assert_eq!(
        media.extension_id(uri::TRANSPORT_CC).map(|i| i.get()),
        Some(7)
    );
    assert!(media.extmap_allow_mixed);
    assert_eq!(media.remote_sources.len(), 1);
    assert_eq!(media.remote_sources[0].ssrc.0, 588_909_761);
}

#[test]
fn answering_without_a_track_is_recvonly() {
    let mut rng = common::rng(3);
    let mut n = common::negotiator(9, &mut rng);
    let (text, negotiation) = answer_offer(&mut n, CHROMIUM_OFFER, &mut rng);
    assert!(text.contains("a=recvonly"));
    assert!(!text.contains("a=ssrc:"));
    assert_eq!(negotiation.media[0].current_direction, Direction::RecvOnly);
    assert!(negotiation.media[0].send.is_none());
    // The transceiver the offer created is there, recvonly, with the offer's mid.
    let t = n.transceivers().next().unwrap().clone();
    assert_eq!(t.mid().map(|m| m.as_str()), Some("0"));
    assert_eq!(t.direction(), Direction::RecvOnly);
    assert_eq!(n.data_mid().map(|m| m.as_str()), Some("1"));
    // A later add_track reuses it and asks for renegotiation.
    assert!(!n.negotiation_needed());
    let id = n.add_track(MediaKind::Video, track()).unwrap();
    assert_eq!(id, t.id());
    assert!(n.negotiation_needed());
}

#[test]
fn a_new_remote_offer_replaces_the_pending_one() {
    let mut rng = common::rng(4);
    let mut n = common::negotiator(9, &mut rng);
    n.set_remote_description(&ferrtc_peerconnection::Description::offer(CHROMIUM_OFFER))
        .unwrap();
    n.set_remote_description(&ferrtc_peerconnection::Description::offer(FIREFOX_OFFER))
        .unwrap();
    // One video transceiver (the first offer's is gone with it), Firefox's ufrag.
    assert_eq!(n.transceivers().count(), 1);
    let answer = n.create_answer(&mut rng).unwrap();
    let negotiation = n.set_local_description(&answer).unwrap().unwrap();
    assert_eq!(negotiation.transports[0].remote_ice.ufrag, "4cbb5b30");
    // Rolling back a replaced offer goes back to stable with nothing.
    let mut m = common::negotiator(9, &mut rng);
    m.set_remote_description(&ferrtc_peerconnection::Description::offer(CHROMIUM_OFFER))
        .unwrap();
    m.set_remote_description(&ferrtc_peerconnection::Description::offer(FIREFOX_OFFER))
        .unwrap();
    m.set_remote_description(&ferrtc_peerconnection::Description::rollback())
        .unwrap();
    assert_eq!(m.transceivers().count(), 0);
    assert!(m.remote_description().is_none());
}

#[test]
fn an_unbundled_offer_gets_a_transport_per_m_line() {
    let mut rng = common::rng(5);
    let mut n = common::negotiator(9, &mut rng);
    let offer: String = CHROMIUM_OFFER
        .lines()
        .filter(|l| !l.starts_with("a=group:BUNDLE"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let (text, negotiation) = answer_offer(&mut n, &offer, &mut rng);
    mozilla_parse(&text);
    assert!(!text.contains("a=group:BUNDLE"));
    assert_eq!(negotiation.transports.len(), 2);
    assert_eq!(negotiation.media[0].transport, 0);
    assert_eq!(negotiation.data.as_ref().unwrap().transport, 1);
    for t in &negotiation.transports {
        assert_eq!(t.mids.len(), 1);
        assert_eq!(t.dtls_role, DtlsRole::Client);
    }
}

#[test]
fn unsupported_m_lines_are_rejected_in_the_answer() {
    let mut rng = common::rng(6);
    let mut n = common::negotiator(9, &mut rng);
    // A third m-line of a kind we do not speak, and an unknown protocol, both bundled.
    let offer = CHROMIUM_OFFER.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 2 3")
        + "m=text 9 UDP/TLS/RTP/SAVPF 98\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=rtpmap:98 t140/1000\r\n"
        + "m=audio 9 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=mid:3\r\na=rtpmap:0 PCMU/8000\r\n";
    let (text, negotiation) = answer_offer(&mut n, &offer, &mut rng);
    let answer = SessionDescription::parse(&text).unwrap();
    assert_eq!(answer.media.len(), 4);
    assert_eq!((answer.media[2].port, answer.media[3].port), (0, 0));
    assert_eq!(answer.bundle_group().unwrap().mids.len(), 2);
    let rejected: Vec<&str> = negotiation.rejected.iter().map(|m| m.as_str()).collect();
    assert_eq!(rejected, ["2", "3"]);
    assert_eq!(negotiation.media.len(), 1);
    // (webrtc-sdp knows no `m=text`, so it is not asked here.)
}

#[test]
fn simulcast_is_accepted_on_receive() {
    let mut rng = common::rng(8);
    let mut n = common::negotiator(9, &mut rng);
    // Chromium's video m-line as a simulcast sender: three RIDs, one limited to VP8, one to
    // ulpfec (which we refuse, so that RID goes).
    let offer = CHROMIUM_OFFER.replace(
        "a=rtcp-rsize\r\n",
        "a=rtcp-rsize\r\na=rid:h send\r\na=rid:l send pt=96;max-width=320\r\n\
         a=rid:x send pt=120\r\na=simulcast:send h;l;x\r\n",
    );
    assert!(offer.contains("a=simulcast"), "fixture line endings");
    let (text, negotiation) = answer_offer(&mut n, &offer, &mut rng);
    mozilla_parse(&text);
    assert!(text.contains("a=rid:h recv\r\n"));
    assert!(text.contains("a=rid:l recv pt=96;max-width=320\r\n"));
    assert!(!text.contains("a=rid:x"));
    assert!(text.contains("a=simulcast:recv h;l\r\n"));
    let rids: Vec<&str> = negotiation.media[0]
        .remote_rids
        .iter()
        .map(|r| r.as_str())
        .collect();
    assert_eq!(rids, ["h", "l", "x"]);
}

#[test]
fn a_g722_only_audio_offer_gets_g722() {
    // What the demo page's "G722" choice makes Chromium offer: one audio codec, static
    // payload type 9 (RFC 3551 section 6), with an 8 kHz RTP clock.
    let mut rng = common::rng(11);
    let mut offerer = common::negotiator(1, &mut rng);
    offerer.add_track(MediaKind::Audio, track()).unwrap();
    let offer = offerer.create_offer(&mut rng).unwrap().sdp;
    let line = offer
        .lines()
        .find(|l| l.starts_with("m=audio "))
        .expect("an audio m-line");
    let g722_only = offer.replace(line, "m=audio 9 UDP/TLS/RTP/SAVPF 9");
    assert!(g722_only.contains("a=rtpmap:9 G722/8000"), "{g722_only}");
    let mut n = common::negotiator(9, &mut rng);
    let (text, negotiation) = answer_offer(&mut n, &g722_only, &mut rng);
    mozilla_parse(&text);
    assert!(text.contains("m=audio 9 UDP/TLS/RTP/SAVPF 9\r\n"), "{text}");
    assert!(text.contains("a=rtpmap:9 G722/8000\r\n"), "{text}");
    let codecs = &negotiation.media[0].codecs;
    assert_eq!(codecs.len(), 1);
    assert!(codecs[0].name.eq_ignore_ascii_case("G722"));
}
