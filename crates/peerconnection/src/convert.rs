//! The one place where ferrtc-sdp's identifier types meet ferrtc-types'. The public API
//! speaks ferrtc-types; SDP models are built and read through these.

use ferrtc_types::{Fingerprint, Mid, PayloadType, Ssrc, ValueError};

/// Our mid as the SDP model holds it.
pub(crate) fn sdp_mid(mid: &Mid) -> ferrtc_sdp::Mid {
    // Both types accept exactly the non-empty strings without spaces or control characters
    // (`non-ws-string`), so a valid `Mid` is a valid SDP mid.
    ferrtc_sdp::Mid::new(mid.as_str())
        .expect("ferrtc_types::Mid and ferrtc_sdp::Mid share a grammar")
}

/// The SDP model's mid as ours.
pub(crate) fn mid(mid: &ferrtc_sdp::Mid) -> Mid {
    // Same grammar, as above.
    Mid::new(mid.as_str()).expect("ferrtc_sdp::Mid and ferrtc_types::Mid share a grammar")
}

/// Our payload type in the SDP model.
pub(crate) fn sdp_pt(pt: PayloadType) -> ferrtc_sdp::PayloadType {
    // Both hold 0..=127.
    ferrtc_sdp::PayloadType::new(pt.get()).expect("both payload types are 7 bits")
}

/// The SDP model's payload type as ours.
pub(crate) fn pt(pt: ferrtc_sdp::PayloadType) -> PayloadType {
    PayloadType::from_masked(pt.get())
}

/// The SDP model's SSRC as ours.
pub(crate) fn ssrc(ssrc: ferrtc_sdp::Ssrc) -> Ssrc {
    Ssrc(ssrc.0)
}

/// Our SSRC in the SDP model.
pub(crate) fn sdp_ssrc(ssrc: Ssrc) -> ferrtc_sdp::Ssrc {
    ferrtc_sdp::Ssrc(ssrc.0)
}

/// An SDP `a=fingerprint` as a certificate fingerprint.
pub(crate) fn fingerprint(
    fp: &ferrtc_sdp::FingerprintAttribute,
) -> Result<Fingerprint, ValueError> {
    match fp {
        ferrtc_sdp::FingerprintAttribute::Known(f) => Ok(*f),
        ferrtc_sdp::FingerprintAttribute::Other { .. } => Err(ValueError::UnknownHashAlgorithm),
    }
}

/// A certificate fingerprint as an SDP `a=fingerprint`.
pub(crate) fn sdp_fingerprint(fp: &Fingerprint) -> ferrtc_sdp::FingerprintAttribute {
    ferrtc_sdp::FingerprintAttribute::Known(*fp)
}

/// An SDP `a=rid` line's id.
pub(crate) fn rid(rid: &ferrtc_sdp::RidAttribute) -> Option<ferrtc_types::Rid> {
    Some(rid.id.clone())
}
