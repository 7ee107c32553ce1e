//! What the peer connection settles about ICE from the negotiation: RTCP multiplexing is
//! required (RFC 8829 section 4.1.1), so the agent runs component 1 only and ignores the
//! peer's component-2 candidates with a count; we announce `renomination`
//! (draft-thatcher-ice-renomination-01 section 3), which our agent honours as the controlled
//! side.

use std::sync::Arc;
use std::time::Instant;

use ferrtc_dtls::Certificate;
use ferrtc_peerconnection::{Description, MediaKind, PeerConfig, PeerConnection, TrackInfo};
use rand::SeedableRng;

const CHROMIUM_OFFER: &str = include_str!("data/chromium-156-offer-video-datachannel.sdp");

fn pc(seed: u64) -> PeerConnection {
    let cert = Arc::new(Certificate::generate().unwrap());
    let mut config = PeerConfig::new(cert);
    // Even a caller that asks for separate RTCP gets the negotiated (required) rtcp-mux.
    config.ice.rtcp_mux = false;
    let rng = Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed));
    PeerConnection::new(config, Instant::now(), rng).unwrap()
}

#[test]
fn offers_and_answers_announce_trickle_and_renomination() {
    let mut a = pc(1);
    a.add_transceiver(MediaKind::Video, Default::default())
        .unwrap();
    let offer = a.create_offer().unwrap();
    let lines: Vec<&str> = offer.sdp.lines().collect();
    assert!(
        lines.contains(&"a=ice-options:trickle renomination"),
        "{}",
        offer.sdp
    );

    let mut b = pc(2);
    let now = Instant::now();
    b.set_remote_description(now, &Description::offer(CHROMIUM_OFFER.to_owned()))
        .unwrap();
    let answer = b.create_answer().unwrap();
    assert!(
        answer
            .sdp
            .lines()
            .any(|l| l == "a=ice-options:trickle renomination")
    );
}

#[test]
fn component_2_candidates_are_ignored_and_counted_under_rtcp_mux() {
    // Chromium's offer with a component-2 (RTCP) twin of its host candidate, as Firefox
    // gathers one.
    let twin = "a=candidate:2240242043 2 udp 2122260222 127.0.0.1 33965 typ host generation 0";
    let mut text = String::new();
    let mut added = false;
    for line in CHROMIUM_OFFER.lines() {
        text.push_str(line);
        text.push_str("\r\n");
        if !added && line.starts_with("a=candidate:2240242043 1 udp") {
            text.push_str(twin);
            text.push_str("\r\n");
            added = true;
        }
    }
    assert!(added);
    let now = Instant::now();
    let mut b = pc(3);
    b.set_remote_description(now, &Description::offer(text))
        .unwrap();
    b.add_track(
        MediaKind::Video,
        TrackInfo {
            track_id: "camera".into(),
            stream_ids: vec!["stream".into()],
        },
    )
    .unwrap();
    let answer = b.create_answer().unwrap();
    assert!(answer.sdp.lines().any(|l| l == "a=rtcp-mux"));
    b.set_local_description(now, &answer).unwrap();
    let stats = b.transport().ice_stats().expect("the agent runs");
    assert_eq!(stats.rtcp_mux_ignored, 1, "{stats:?}");
    // A trickled one is ignored the same way.
    let trickled =
        ferrtc_sdp::Candidate::parse("candidate:99 2 udp 2122260222 127.0.0.1 40001 typ host")
            .unwrap();
    let _ = b.add_ice_candidate(now, Some(&trickled));
    assert_eq!(b.transport().ice_stats().unwrap().rtcp_mux_ignored, 2);
}
