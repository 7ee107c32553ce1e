//! Shared helpers: seeded randomness, certificates, and offer/answer between negotiators.
#![allow(dead_code)]

use ferrtc_peerconnection::{Config, Description, Negotiation, Negotiator};
use ferrtc_types::{Fingerprint, HashAlgorithm};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// A seeded generator: every run draws the same ids and credentials.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A made-up certificate fingerprint.
pub fn cert(byte: u8) -> Fingerprint {
    Fingerprint::new(HashAlgorithm::Sha256, &[byte; 32]).unwrap()
}

/// A negotiator with the default configuration.
pub fn negotiator(byte: u8, rng: &mut ChaCha20Rng) -> Negotiator {
    Negotiator::new(Config::new(cert(byte)), rng).unwrap()
}

/// The Chromium 156 offer (video + data channel).
pub const CHROMIUM_OFFER: &str = include_str!("../data/chromium-156-offer-video-datachannel.sdp");
/// The Firefox 153 offer (video + data channel).
pub const FIREFOX_OFFER: &str = include_str!("../data/firefox-153-offer-video-datachannel.sdp");

/// One full exchange: `offerer` offers, `answerer` answers; returns both summaries
/// (offerer's, answerer's).
pub fn exchange(
    offerer: &mut Negotiator,
    answerer: &mut Negotiator,
    rng: &mut ChaCha20Rng,
) -> (Negotiation, Negotiation) {
    let offer = offerer.create_offer(rng).unwrap();
    assert!(offerer.set_local_description(&offer).unwrap().is_none());
    assert!(answerer.set_remote_description(&offer).unwrap().is_none());
    let answer = answerer.create_answer(rng).unwrap();
    let theirs = answerer.set_local_description(&answer).unwrap().unwrap();
    let ours = offerer.set_remote_description(&answer).unwrap().unwrap();
    (ours, theirs)
}

/// Parses with Mozilla's webrtc-sdp, panicking with its error and the text.
pub fn mozilla_parse(text: &str) -> webrtc_sdp::SdpSession {
    webrtc_sdp::parse_sdp(text, true).unwrap_or_else(|e| panic!("webrtc-sdp rejects: {e}\n{text}"))
}

/// Applies a remote offer and returns our answer's text.
pub fn answer_offer(
    n: &mut Negotiator,
    offer: &str,
    rng: &mut ChaCha20Rng,
) -> (String, Negotiation) {
    n.set_remote_description(&Description::offer(offer))
        .unwrap();
    let answer = n.create_answer(rng).unwrap();
    let negotiation = n.set_local_description(&answer).unwrap().unwrap();
    (answer.sdp, negotiation)
}
