//! Arbitrary mutations of the browser offers never panic the negotiator: taken as an offer
//! in `stable` or as an answer in `have-local-offer`, each is either refused with the state
//! unchanged, or applied, and then our answer to it applies too and parses back.

mod common;

use common::{CHROMIUM_OFFER, FIREFOX_OFFER};
use ferrtc_peerconnection::{Description, MediaKind, Negotiator, SdpType, TrackInfo};
use ferrtc_sdp::SessionDescription;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Duplicate(usize, usize),
    Swap(usize, usize),
    /// Replaces one byte of a line with one of a few interesting ones.
    Byte(usize, usize, u8),
    /// Replaces a line's value (after `:`) with another line's.
    Graft(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (
            any::<usize>(),
            any::<usize>(),
            prop::sample::select(b" 0:9/=a-*~\x7f".to_vec())
        )
            .prop_map(|(a, b, c)| Mutation::Byte(a, b, c)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Graft(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for m in mutations {
        let n = lines.len();
        if n == 0 {
            break;
        }
        match *m {
            Mutation::Delete(i) => {
                lines.remove(i % n);
            }
            Mutation::Duplicate(i, j) => {
                let l = lines[i % n].clone();
                lines.insert(j % (n + 1), l);
            }
            Mutation::Swap(i, j) => lines.swap(i % n, j % n),
            Mutation::Byte(i, j, b) => {
                let mut bytes = lines[i % n].clone().into_bytes();
                if !bytes.is_empty() {
                    let at = j % bytes.len();
                    bytes[at] = b;
                }
                lines[i % n] = String::from_utf8_lossy(&bytes).into_owned();
            }
            Mutation::Graft(i, j) => {
                let value = lines[j % n].split_once(':').map(|(_, v)| v.to_owned());
                if let (Some(v), Some((name, _))) = (value, lines[i % n].clone().split_once(':')) {
                    lines[i % n] = format!("{name}:{v}");
                }
            }
            Mutation::Truncate(i) => lines.truncate(i % n),
        }
    }
    lines.join("\r\n") + "\r\n"
}

fn offer_into_stable(text: &str, seed: u64) {
    let mut r = common::rng(seed);
    let mut n = common::negotiator(5, &mut r);
    n.add_track(MediaKind::Video, TrackInfo::default()).unwrap();
    let before = n.state_snapshot();
    match n.set_remote_description(&Description::offer(text)) {
        Err(_) => assert_eq!(n.state_snapshot(), before),
        Ok(_) => {
            let answer = n
                .create_answer(&mut r)
                .expect("an applied offer can be answered");
            SessionDescription::parse(&answer.sdp).expect("our answer parses");
            n.set_local_description(&answer)
                .expect("our answer applies");
            // And we can renegotiate from there.
            let offer = n.create_offer(&mut r).expect("stable after the answer");
            n.set_local_description(&offer).expect("our offer applies");
        }
    }
}

fn answer_into_have_local_offer(text: &str, seed: u64) {
    let mut r = common::rng(seed);
    let mut n: Negotiator = common::negotiator(5, &mut r);
    n.add_track(MediaKind::Video, TrackInfo::default()).unwrap();
    n.create_data_channel().unwrap();
    let offer = n.create_offer(&mut r).unwrap();
    n.set_local_description(&offer).unwrap();
    let before = n.state_snapshot();
    for t in [SdpType::Pranswer, SdpType::Answer] {
        let d = Description {
            sdp_type: t,
            sdp: text.to_owned(),
        };
        if n.set_remote_description(&d).is_err() {
            assert_eq!(n.state_snapshot(), before);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mutated_offers_never_panic(
        firefox in any::<bool>(),
        mutations in prop::collection::vec(mutation(), 1..6),
        seed in any::<u64>(),
    ) {
        let base = if firefox { FIREFOX_OFFER } else { CHROMIUM_OFFER };
        let text = apply(base, &mutations);
        offer_into_stable(&text, seed);
        // Browser offers are answers in all but name for our m-line layout: mutated, they
        // exercise the answer checks.
        answer_into_have_local_offer(&text, seed);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        offer_into_stable(&text, 1);
        answer_into_have_local_offer(&text, 1);
    }
}

#[test]
fn unmutated_offers_apply() {
    offer_into_stable(CHROMIUM_OFFER, 1);
    offer_into_stable(FIREFOX_OFFER, 1);
}

/// Payload types of each m-line: the `m=` format list and the `a=rtpmap` lines, each
/// free of repeats.
fn assert_each_payload_type_once(text: &str) {
    let sdp = SessionDescription::parse(text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    for m in &sdp.media {
        let mut formats = m.formats.clone();
        formats.sort();
        formats.dedup();
        assert_eq!(formats.len(), m.formats.len(), "a repeated format\n{text}");
    }
}

/// The offers the mutation test once made: one byte of the `m=video` format list turned
/// one payload type into a repeat of another (`118` into `108` in Chromium's, `124` into
/// `120` in Firefox's). RFC 8866 §5.14 does not forbid the repeat and §6.6 binds the payload
/// type to its one `a=rtpmap`, so the offer is applied and answered with each payload type
/// once; the answer used to carry `a=rtpmap:108 H264/90000` twice and failed to parse.
#[test]
fn an_offer_repeating_a_payload_type_is_answered_with_it_once() {
    let chromium = CHROMIUM_OFFER.replacen(" 100 101 118 119 120", " 100 101 108 119 120", 1);
    let firefox = FIREFOX_OFFER.replacen("SAVPF 120 124 121", "SAVPF 120 120 121", 1);
    assert_ne!(chromium, CHROMIUM_OFFER);
    assert_ne!(firefox, FIREFOX_OFFER);
    for (offer, pt) in [(&chromium, 108u8), (&firefox, 120)] {
        let mut r = common::rng(1);
        let mut n = common::negotiator(5, &mut r);
        n.add_track(MediaKind::Video, TrackInfo::default()).unwrap();
        let (answer, negotiation) = common::answer_offer(&mut n, offer, &mut r);
        assert_each_payload_type_once(&answer);
        let rtpmap = format!("a=rtpmap:{pt} ");
        assert_eq!(answer.matches(&rtpmap).count(), 1, "{answer}");
        let codecs = &negotiation.media[0].codecs;
        let mut pts: Vec<u8> = codecs.iter().map(|c| c.payload_type.remote.get()).collect();
        assert!(pts.contains(&pt), "{codecs:?}");
        pts.sort_unstable();
        pts.dedup();
        assert_eq!(pts.len(), codecs.len(), "{codecs:?}");
        // Renegotiating from that answer offers each payload type once too.
        let reoffer = n.create_offer(&mut r).unwrap();
        assert_each_payload_type_once(&reoffer.sdp);
        n.set_local_description(&reoffer).unwrap();
        offer_into_stable(offer, 1);
    }
}

/// The same repeat in a remote answer: the agreed codecs hold the payload type once, and our
/// next offer, built from that answer, lists it once.
#[test]
fn an_answer_repeating_a_payload_type_is_applied_with_it_once() {
    let mut r = common::rng(2);
    let mut alice = common::negotiator(1, &mut r);
    let mut bob = common::negotiator(2, &mut r);
    alice
        .add_track(MediaKind::Video, TrackInfo::default())
        .unwrap();
    bob.add_track(MediaKind::Video, TrackInfo::default())
        .unwrap();
    let offer = alice.create_offer(&mut r).unwrap();
    alice.set_local_description(&offer).unwrap();
    bob.set_remote_description(&offer).unwrap();
    let answer = bob.create_answer(&mut r).unwrap();
    let sdp = SessionDescription::parse(&answer.sdp).unwrap();
    let video = &sdp.media[0];
    let first = video.formats[0].clone();
    let line = answer
        .sdp
        .lines()
        .find(|l| l.starts_with("m=video"))
        .unwrap()
        .to_owned();
    let repeated = format!("{line} {first}");
    let text = answer.sdp.replacen(&line, &repeated, 1);
    assert_ne!(text, answer.sdp);
    let negotiation = alice
        .set_remote_description(&Description::answer(text))
        .unwrap()
        .unwrap();
    let codecs = &negotiation.media[0].codecs;
    let mut pts: Vec<u8> = codecs.iter().map(|c| c.payload_type.local.get()).collect();
    pts.sort_unstable();
    pts.dedup();
    assert_eq!(pts.len(), codecs.len(), "{codecs:?}");
    let reoffer = alice.create_offer(&mut r).unwrap();
    assert_each_payload_type_once(&reoffer.sdp);
    alice.set_local_description(&reoffer).unwrap();
}
