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
pub(crate) fn fingerprint(fp: &ferrtc_sdp::Fingerprint) -> Result<Fingerprint, ValueError> {
    let algorithm = ferrtc_types::HashAlgorithm::from_name(fp.hash.as_str())
        .ok_or(ValueError::UnknownHashAlgorithm)?;
    Fingerprint::new(algorithm, &fp.digest)
}

/// A certificate fingerprint as an SDP `a=fingerprint`.
pub(crate) fn sdp_fingerprint(fp: &Fingerprint) -> ferrtc_sdp::Fingerprint {
    use ferrtc_sdp::HashFunction;
    use ferrtc_types::HashAlgorithm;
    ferrtc_sdp::Fingerprint {
        hash: match fp.algorithm() {
            HashAlgorithm::Sha1 => HashFunction::Sha1,
            HashAlgorithm::Sha256 => HashFunction::Sha256,
            HashAlgorithm::Sha384 => HashFunction::Sha384,
            HashAlgorithm::Sha512 => HashFunction::Sha512,
        },
        digest: fp.digest().to_vec(),
    }
}

/// An SDP `a=rid` id as ours, if it is one.
pub(crate) fn rid(rid: &ferrtc_sdp::Rid) -> Option<ferrtc_types::Rid> {
    ferrtc_types::Rid::new(rid.id.as_str()).ok()
}
