//! Reading a session description's structure: which m-lines are in use, how they are
//! bundled, and each transport's ICE and DTLS parameters (RFC 8829 §5.8, RFC 8843, RFC 8839,
//! RFC 8842). Whatever is missing or inconsistent is a [`RemoteDescriptionError`].

use ferrtc_sdp::{
    Attribute, Direction, FingerprintAttribute, GroupSemantics, MediaDescription,
    SessionDescription, Setup,
};
use ferrtc_types::{Fingerprint, Mid, ValueError};

use crate::error::RemoteDescriptionError as E;

/// The `a=setup` role of a transport (RFC 8842 §5.1), absent read as the RFC 4145 default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetupRole {
    Active,
    Passive,
    Actpass,
}

/// One transport of a description: a BUNDLE group, or an m-line on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TransportDesc {
    /// The m-lines it carries; the first is the tagged one whose attributes count.
    pub indices: Vec<usize>,
    pub mid: Mid,
    pub ufrag: String,
    pub pwd: String,
    pub options: Vec<String>,
    pub fingerprints: Vec<Fingerprint>,
    pub setup: SetupRole,
    pub candidates: Vec<ferrtc_sdp::Candidate>,
    pub end_of_candidates: bool,
}

/// The structure of a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Analysis {
    /// Each m-line's mid (rejected ones may have none).
    pub mids: Vec<Option<Mid>>,
    /// Each m-line: rejected (port 0 without `a=bundle-only`).
    pub rejected: Vec<bool>,
    /// The BUNDLE group's m-line indices, tag first.
    pub bundle: Option<Vec<usize>>,
    pub transports: Vec<TransportDesc>,
    pub ice_lite: bool,
}

impl Analysis {
    /// The transport carrying m-line `index`.
    pub fn transport_of(&self, index: usize) -> Option<(usize, &TransportDesc)> {
        self.transports
            .iter()
            .enumerate()
            .find(|(_, t)| t.indices.contains(&index))
    }
}

/// Whether an m-line is rejected: port 0 and not bundle-only (RFC 8843 §6).
pub(crate) fn is_rejected(m: &MediaDescription) -> bool {
    m.port == 0 && !m.has_attribute("bundle-only")
}

/// The direction of an m-line, with the session level's as the default (RFC 8866 §6.7).
pub(crate) fn direction(sdp: &SessionDescription, m: &MediaDescription) -> Direction {
    m.direction()
        .or_else(|| sdp.direction())
        .unwrap_or(Direction::SendRecv)
}

/// `ice-char = ALPHA / DIGIT / "+" / "/"` (RFC 8839 §5.4).
fn ice_chars(s: &str, min: usize) -> bool {
    (min..=256).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Reads the structure of `sdp`; `answer` says whether `a=setup:actpass` is an error.
pub(crate) fn analyze(sdp: &SessionDescription, answer: bool) -> Result<Analysis, E> {
    let n = sdp.media.len();
    let mut mids: Vec<Option<Mid>> = Vec::with_capacity(n);
    let mut rejected = Vec::with_capacity(n);
    for (index, m) in sdp.media.iter().enumerate() {
        let r = is_rejected(m);
        let mid = m.mid().cloned();
        if mid.is_none() && !r {
            return Err(E::MissingMid { index });
        }
        if let Some(mid) = &mid
            && mids.iter().flatten().any(|other| other == mid)
        {
            return Err(E::DuplicateMid { mid: mid.clone() });
        }
        mids.push(mid);
        rejected.push(r);
    }
    let index_of = |mid: &Mid| mids.iter().position(|m| m.as_ref() == Some(mid));

    let mut groups = sdp
        .groups()
        .filter(|g| g.semantics == GroupSemantics::Bundle);
    let bundle = match (groups.next(), groups.next()) {
        (Some(_), Some(_)) => return Err(E::MultipleBundleGroups),
        (None, _) => None,
        (Some(g), None) => {
            if g.mids.is_empty() {
                return Err(E::EmptyBundleGroup);
            }
            let mut indices = Vec::with_capacity(g.mids.len());
            for m in &g.mids {
                let mid = m.clone();
                let Some(i) = index_of(&mid) else {
                    return Err(E::UnknownBundleMid { mid });
                };
                if indices.contains(&i) {
                    return Err(E::DuplicateBundleMid { mid });
                }
                if rejected[i] {
                    return Err(E::RejectedMidInBundle { mid });
                }
                indices.push(i);
            }
            let tag = indices[0];
            if sdp.media[tag].has_attribute("bundle-only") {
                return Err(E::BundleTagIsBundleOnly {
                    mid: mids[tag].clone().unwrap_or_else(unreachable_mid),
                });
            }
            Some(indices)
        }
    };

    let mut transports = Vec::new();
    if let Some(indices) = &bundle {
        transports.push(transport(sdp, indices.clone(), &mids, answer)?);
    }
    for (i, m) in sdp.media.iter().enumerate() {
        if rejected[i] || bundle.as_ref().is_some_and(|b| b.contains(&i)) {
            continue;
        }
        if m.has_attribute("bundle-only") {
            return Err(E::BundleOnlyOutsideBundle {
                mid: mids[i].clone().unwrap_or_else(unreachable_mid),
            });
        }
        transports.push(transport(sdp, vec![i], &mids, answer)?);
    }
    Ok(Analysis {
        mids,
        rejected,
        bundle,
        transports,
        ice_lite: sdp.ice_lite(),
    })
}

/// Stands in for the mid of an m-line in use, which the first loop of [`analyze`] has
/// checked is there; never called.
fn unreachable_mid() -> Mid {
    Mid::new("-").unwrap_or_else(|_| unreachable!("`-` is a valid mid"))
}

fn transport(
    sdp: &SessionDescription,
    indices: Vec<usize>,
    mids: &[Option<Mid>],
    answer: bool,
) -> Result<TransportDesc, E> {
    let tag = indices[0];
    let m = &sdp.media[tag];
    let mid = mids[tag].clone().unwrap_or_else(unreachable_mid);
    let ufrag = m
        .ice_ufrag()
        .or_else(|| sdp.ice_ufrag())
        .ok_or_else(|| E::MissingIceUfrag { mid: mid.clone() })?;
    if !ice_chars(ufrag, 4) {
        return Err(E::InvalidIceUfrag { mid });
    }
    let pwd = m
        .ice_pwd()
        .or_else(|| sdp.ice_pwd())
        .ok_or_else(|| E::MissingIcePwd { mid: mid.clone() })?;
    if !ice_chars(pwd, 22) {
        return Err(E::InvalidIcePwd { mid });
    }
    let mut options: Vec<String> = m.ice_options().map(str::to_owned).collect();
    if options.is_empty() {
        options = sdp.ice_options().map(str::to_owned).collect();
    }
    let written: Vec<&ferrtc_sdp::FingerprintAttribute> = if m.fingerprints().next().is_some() {
        m.fingerprints().collect()
    } else {
        sdp.fingerprints().collect()
    };
    if written.is_empty() {
        return Err(E::MissingFingerprint { mid });
    }
    let mut fingerprints = Vec::with_capacity(written.len());
    let mut first_error = None;
    for f in written {
        match fingerprint(f) {
            Ok(fp) => fingerprints.push(fp),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if fingerprints.is_empty()
        && let Some(source) = first_error
    {
        return Err(E::InvalidFingerprint { mid, source });
    }
    let setup = match m.setup().or_else(|| sdp.setup()) {
        // RFC 4145 §4: "active" when absent.
        None | Some(Setup::Active) => SetupRole::Active,
        Some(Setup::Passive) => SetupRole::Passive,
        Some(Setup::Actpass) => SetupRole::Actpass,
        Some(_) => return Err(E::UnsupportedSetup { mid }),
    };
    if answer && setup == SetupRole::Actpass {
        return Err(E::ActpassInAnswer { mid });
    }
    let candidates = m.candidates().chain(sdp.candidates()).cloned().collect();
    Ok(TransportDesc {
        indices,
        mid,
        ufrag: ufrag.to_owned(),
        pwd: pwd.to_owned(),
        options,
        fingerprints,
        setup,
        candidates,
        end_of_candidates: m.end_of_candidates(),
    })
}

/// An `a=fingerprint` as a certificate fingerprint: one of the hash functions WebRTC uses.
fn fingerprint(f: &FingerprintAttribute) -> Result<Fingerprint, ValueError> {
    match f {
        FingerprintAttribute::Known(fp) => Ok(*fp),
        FingerprintAttribute::Other { .. } => Err(ValueError::UnknownHashAlgorithm),
    }
}

/// Checks the `a=extmap` ids of the m-lines in use: in range, and within a transport one
/// id never names two URIs (RFC 8285 §5, RFC 8843 §9.2).
pub(crate) fn check_extmaps(sdp: &SessionDescription, analysis: &Analysis) -> Result<(), E> {
    for t in &analysis.transports {
        let mut seen: Vec<(u16, &str)> = Vec::new();
        for &i in &t.indices {
            let m = &sdp.media[i];
            for e in m.extmaps() {
                if e.id.extension_id().is_none() {
                    return Err(E::InvalidExtensionId {
                        mid: analysis.mids[i].clone().unwrap_or_else(unreachable_mid),
                        id: e.id.get(),
                    });
                }
                match seen.iter().find(|(id, _)| *id == e.id.get()) {
                    Some((_, uri)) if *uri != e.uri => {
                        // In range, checked above.
                        return Err(E::ConflictingExtensionId {
                            id: e.id.get() as u8,
                        });
                    }
                    Some(_) => {}
                    None => seen.push((e.id.get(), &e.uri)),
                }
            }
        }
    }
    Ok(())
}

/// Whether an m-line is an RTP section we can take part in (DTLS-SRTP with feedback).
pub(crate) fn is_supported_rtp(m: &MediaDescription) -> bool {
    matches!(
        m.protocol.as_str(),
        "UDP/TLS/RTP/SAVPF" | "TCP/DTLS/RTP/SAVPF" | "UDP/TLS/RTP/SAVP" | "RTP/SAVPF"
    )
}

/// Whether an m-line is the data-channel section of RFC 8841.
pub(crate) fn is_supported_data(m: &MediaDescription) -> bool {
    matches!(m.protocol.as_str(), "UDP/DTLS/SCTP" | "TCP/DTLS/SCTP")
        && m.formats.iter().any(|f| f == "webrtc-datachannel")
}

/// Adds a trickled candidate (or end-of-candidates) to m-line `index`.
pub(crate) fn push_candidate(
    sdp: &mut SessionDescription,
    index: usize,
    candidate: Option<&ferrtc_sdp::Candidate>,
) {
    let Some(m) = sdp.media.get_mut(index) else {
        return;
    };
    match candidate {
        Some(c) => {
            // Before an end-of-candidates line, if there is one.
            let at = m
                .attributes
                .iter()
                .position(|a| *a == Attribute::EndOfCandidates)
                .unwrap_or(m.attributes.len());
            m.attributes.insert(at, Attribute::Candidate(c.clone()));
        }
        None => {
            if !m.end_of_candidates() {
                m.attributes.push(Attribute::EndOfCandidates);
            }
        }
    }
}
