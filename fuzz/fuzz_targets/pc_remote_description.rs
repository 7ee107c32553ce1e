//! Arbitrary text as a remote description (offer, pranswer, answer, rollback) or trickled
//! candidate into a negotiator in each signaling state: stable before and after a first
//! exchange, have-local-offer, have-remote-offer, have-local-pranswer,
//! have-remote-pranswer, closed. Nothing may panic; a refused description leaves the state
//! unchanged; an accepted offer can be answered with an answer that applies.
#![no_main]

use ferrtc_peerconnection::{
    Config, Description, MediaKind, Negotiator, RemoteCandidate, SdpType, TrackInfo,
};
use ferrtc_types::{Fingerprint, HashAlgorithm, Mid};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

fn negotiator(byte: u8, rng: &mut ChaCha20Rng) -> Negotiator {
    let fp = Fingerprint::new(HashAlgorithm::Sha256, &[byte; 32]).expect("32 bytes");
    let mut n = Negotiator::new(Config::new(fp), rng).expect("default config");
    n.add_track(MediaKind::Audio, TrackInfo::default())
        .expect("open");
    n.add_track(MediaKind::Video, TrackInfo::default())
        .expect("open");
    n.create_data_channel().expect("open");
    n
}

/// A negotiator in the state numbered `which` (mod 7).
fn in_state(which: u8, rng: &mut ChaCha20Rng) -> Negotiator {
    let mut a = negotiator(1, rng);
    let mut b = negotiator(2, rng);
    let which = which % 7;
    if which == 0 {
        return a;
    }
    let offer = b.create_offer(rng).expect("stable");
    b.set_local_description(&offer).expect("ours");
    match which {
        1 => {
            a.create_offer(rng)
                .and_then(|o| a.set_local_description(&o).map(|_| ()))
                .expect("stable");
            a
        }
        2 => {
            a.set_remote_description(&offer).expect("valid offer");
            a
        }
        3 => {
            a.set_remote_description(&offer).expect("valid offer");
            let answer = a.create_answer(rng).expect("have-remote-offer");
            a.set_local_description(&Description::pranswer(answer.sdp))
                .expect("ours");
            a
        }
        4 => {
            a.set_remote_description(&offer).expect("valid offer");
            let answer = a.create_answer(rng).expect("have-remote-offer");
            a.set_local_description(&answer).expect("ours");
            a
        }
        5 => {
            a.set_remote_description(&offer).expect("valid offer");
            let answer = a.create_answer(rng).expect("have-remote-offer");
            b.set_remote_description(&Description::pranswer(answer.sdp))
                .expect("valid pranswer");
            b
        }
        _ => {
            a.close();
            a
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(selector));
    let mut n = in_state(selector, &mut rng);
    let sdp_type = match (selector >> 3) % 4 {
        0 => SdpType::Offer,
        1 => SdpType::Answer,
        2 => SdpType::Pranswer,
        _ => SdpType::Rollback,
    };
    let before = n.state_snapshot();
    let description = Description {
        sdp_type,
        sdp: text.clone().into_owned(),
    };
    match n.set_remote_description(&description) {
        Err(e) => {
            let _ = e.to_string();
            assert_eq!(
                n.state_snapshot(),
                before,
                "a refused description changed the state"
            );
        }
        Ok(_) if sdp_type == SdpType::Offer => {
            let answer = n
                .create_answer(&mut rng)
                .expect("an applied offer can be answered");
            n.set_local_description(&answer)
                .expect("our answer applies");
        }
        Ok(_) => {}
    }
    // The same text as a trickled candidate.
    if let Ok(candidate) = ferrtc_sdp::Candidate::parse(&text) {
        let before = n.state_snapshot();
        let rc = RemoteCandidate {
            candidate: Some(candidate),
            mid: Mid::new("0").ok(),
            m_line_index: None,
            ufrag: None,
        };
        if n.add_ice_candidate(&rc).is_err() {
            assert_eq!(n.state_snapshot(), before);
        }
    }
});
