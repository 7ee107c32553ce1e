//! Writing our m-lines: codecs with payload types, header extensions, transport attributes
//! (RFC 8829 §5.2.1, §5.3.1).

use ferrtc_sdp::{
    Attribute, Connection, Direction, MediaDescription, MediaKind as SdpKind, Parameter,
    RidDirection, Setup, SsrcGroup, SsrcGroupSemantics,
};
use ferrtc_types::{Mid, PayloadType, Ssrc};

use crate::codec::{
    CodecRef, CodecSpec, ExtensionSpec, Feedback, codecs_once, echoes_offer_parameters, is_red,
    is_rtx, red_primaries, same_codec,
};
use crate::config::{Config, IceCredentials};
use crate::negotiated::rtx_for;
use crate::transceiver::{MediaKind, TrackInfo};

/// RTP profile of every RTP m-line we write (RFC 8829 §5.1.2).
pub(crate) const RTP_PROTOCOL: &str = "UDP/TLS/RTP/SAVPF";
/// Protocol of the data-channel m-line (RFC 8841 §4.1).
pub(crate) const DATA_PROTOCOL: &str = "UDP/DTLS/SCTP";
/// Format of the data-channel m-line (RFC 8841 §4.1).
pub(crate) const DATA_FORMAT: &str = "webrtc-datachannel";
/// The discard port and address written before candidates are known (RFC 8829 §5.2.1).
const DISCARD_PORT: u16 = 9;

/// One codec line set: `a=rtpmap`, `a=fmtp`, `a=rtcp-fb`, and its RTX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub pt: PayloadType,
    pub name: String,
    pub clock_rate: u32,
    pub channels: Option<u16>,
    pub params: Vec<Parameter>,
    pub feedback: Vec<Feedback>,
    pub rtx: Option<PayloadType>,
}

impl Entry {
    fn as_ref(&self) -> CodecRef<'_> {
        CodecRef {
            name: &self.name,
            clock_rate: self.clock_rate,
            channels: self.channels,
            params: &self.params,
        }
    }
}

/// The transport attributes of an m-line in use.
pub(crate) struct TransportAttrs<'a> {
    pub ice: &'a IceCredentials,
    pub setup: Setup,
    pub config: &'a Config,
    /// Candidates and end-of-candidates: only in the BUNDLE tag.
    pub candidates: Option<(&'a [ferrtc_sdp::Candidate], bool)>,
}

fn codec_ref<'a>(c: &ferrtc_sdp::Codec<'a>) -> Option<CodecRef<'a>> {
    let r = c.rtpmap?;
    Some(CodecRef {
        name: &r.encoding_name,
        clock_rate: r.clock_rate,
        channels: r.channels,
        params: c.fmtp.map_or(&[][..], |f| f.parameters.as_slice()),
    })
}

/// The codec entries of an m-line as written (RTX folded into its primary).
pub(crate) fn entries_of(m: &MediaDescription) -> Vec<Entry> {
    codecs_once(m)
        .filter_map(|c| {
            let r = codec_ref(&c)?;
            if is_rtx(r.name) {
                return None;
            }
            Some(Entry {
                pt: c.payload_type,
                name: r.name.to_owned(),
                clock_rate: r.clock_rate,
                channels: r.channels,
                params: r.params.to_vec(),
                feedback: c.feedback().map(Feedback::from_sdp).collect(),
                rtx: rtx_for(m, c.payload_type),
            })
        })
        .collect()
}

/// The entries that match one of `prefs`, in the order of `prefs`.
pub(crate) fn by_preference(entries: Vec<Entry>, prefs: &[CodecSpec]) -> Vec<Entry> {
    let rank = |e: &Entry| {
        prefs
            .iter()
            .position(|p| same_codec(e.as_ref(), CodecRef::from(p)))
    };
    let mut ranked: Vec<(usize, Entry)> = entries
        .into_iter()
        .filter_map(|e| rank(&e).map(|r| (r, e)))
        .collect();
    // Stable: two entries of one preference keep their order.
    ranked.sort_by_key(|(r, _)| *r);
    ranked.into_iter().map(|(_, e)| e).collect()
}

/// Payload types free for new codecs: the dynamic range first (RFC 3551 §6), then the
/// range browsers use once it runs out.
fn free_pt(used: &[PayloadType], preferred: PayloadType) -> Option<PayloadType> {
    if !used.contains(&preferred) {
        return Some(preferred);
    }
    (96..=127u8)
        .chain(35..=63)
        .filter_map(PayloadType::new)
        .find(|p| !used.contains(p))
}

/// Our offer's codecs for an m-line: `base` (what the last answer agreed, in its order)
/// then every configured codec not already there, on its preferred payload type unless
/// taken (RFC 8829 §5.2.2).
pub(crate) fn offer_entries(specs: &[CodecSpec], base: Vec<Entry>) -> Vec<Entry> {
    let mut entries = base;
    let mut used: Vec<PayloadType> = entries
        .iter()
        .flat_map(|e| std::iter::once(e.pt).chain(e.rtx))
        .collect();
    // Which entry each spec ended up as, to rewrite RED's primaries.
    let mut spec_pt: Vec<(PayloadType, PayloadType)> = Vec::new();
    for spec in specs {
        if let Some(e) = entries
            .iter()
            .find(|e| same_codec(e.as_ref(), CodecRef::from(spec)))
        {
            spec_pt.push((spec.payload_type, e.pt));
            continue;
        }
        let Some(pt) = free_pt(&used, spec.payload_type) else {
            break;
        };
        used.push(pt);
        let rtx = spec.rtx_payload_type.and_then(|p| {
            let r = free_pt(&used, p)?;
            used.push(r);
            Some(r)
        });
        spec_pt.push((spec.payload_type, pt));
        entries.push(Entry {
            pt,
            name: spec.name.clone(),
            clock_rate: spec.clock_rate,
            channels: spec.channels,
            params: spec.parameters.clone(),
            feedback: spec.feedback.clone(),
            rtx,
        });
    }
    // RED's primaries name the spec's payload types; write the ones actually used, and
    // drop a RED whose primary is not there.
    entries.retain_mut(|e| {
        if !is_red(&e.name) {
            return true;
        }
        let Some(primaries) = red_primaries(&e.params) else {
            return true;
        };
        let mapped: Option<Vec<String>> = primaries
            .iter()
            .map(|&p| {
                spec_pt
                    .iter()
                    .find(|(s, _)| s.get() == p)
                    .map(|(_, e)| e.get().to_string())
                    .or_else(|| {
                        // Already in our numbering (an entry from the last answer).
                        used.iter().any(|u| u.get() == p).then(|| p.to_string())
                    })
            })
            .collect();
        match mapped {
            Some(list) => {
                e.params[0] = Parameter::flag(list.join("/"));
                true
            }
            None => false,
        }
    });
    entries
}

/// Our answer's codecs for an offered m-line: each offered codec we support, in the
/// offer's order and with the offer's payload types (RFC 8829 §5.3.1), with the feedback
/// both list, and its RTX when both do RTX. Audio RED stays only if its primaries stay.
pub(crate) fn answer_entries(specs: &[CodecSpec], offer: &MediaDescription) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for oc in codecs_once(offer) {
        let Some(or) = codec_ref(&oc) else { continue };
        if is_rtx(or.name) {
            continue;
        }
        let Some(spec) = specs.iter().find(|s| same_codec(CodecRef::from(*s), or)) else {
            continue;
        };
        let offered_fb: Vec<Feedback> = oc.feedback().map(Feedback::from_sdp).collect();
        let mut feedback = Vec::new();
        for f in offered_fb {
            if spec.feedback.contains(&f) && !feedback.contains(&f) {
                feedback.push(f);
            }
        }
        entries.push(Entry {
            pt: oc.payload_type,
            name: or.name.to_owned(),
            clock_rate: or.clock_rate,
            channels: or.channels,
            params: if echoes_offer_parameters(or.name) {
                or.params.to_vec()
            } else {
                spec.parameters.clone()
            },
            feedback,
            rtx: spec
                .rtx_payload_type
                .and_then(|_| rtx_for(offer, oc.payload_type)),
        });
    }
    let accepted: Vec<u8> = entries.iter().map(|e| e.pt.get()).collect();
    entries.retain(|e| {
        !is_red(&e.name)
            || red_primaries(&e.params).is_none_or(|p| p.iter().all(|x| accepted.contains(x)))
    });
    // An offer of only RED (or FEC) has nothing to protect.
    if entries.iter().all(|e| is_red(&e.name)) {
        entries.clear();
    }
    entries
}

/// Writes the codec entries: the `m=` format list, then each codec's lines.
fn push_codecs(mut m: MediaDescription, entries: &[Entry]) -> MediaDescription {
    for e in entries {
        let pt = e.pt;
        m = m.with_codec(pt, e.name.clone(), e.clock_rate, e.channels);
        for f in &e.feedback {
            m = m.with_rtcp_fb(f.to_sdp(pt));
        }
        if !e.params.is_empty() {
            m = m.with_fmtp(pt, e.params.clone());
        }
        if let Some(rtx) = e.rtx {
            let r = rtx;
            m = m
                .with_codec(r, "rtx", e.clock_rate, None)
                .with_fmtp(r, [Parameter::new("apt", e.pt.get().to_string())]);
        }
    }
    m
}

/// The extensions to offer for `kind`: those of `base` (the last answer), then the
/// configured ones not there, each with its session-wide id.
pub(crate) fn offer_extensions(
    specs: &[ExtensionSpec],
    kind: MediaKind,
    base: Option<&MediaDescription>,
    ids: &[(String, u16)],
) -> Vec<(u16, String)> {
    let mut out: Vec<(u16, String)> = match base {
        Some(m) => m.extmaps().map(|e| (e.id.get(), e.uri.clone())).collect(),
        None => Vec::new(),
    };
    for s in specs.iter().filter(|s| s.applies_to(kind)) {
        if out.iter().any(|(_, u)| *u == s.uri) {
            continue;
        }
        if let Some((_, id)) = ids.iter().find(|(u, _)| *u == s.uri)
            && !out.iter().any(|(i, _)| i == id)
        {
            out.push((*id, s.uri.clone()));
        }
    }
    out
}

/// The offered extensions we support, with the offer's ids.
pub(crate) fn answer_extensions(
    specs: &[ExtensionSpec],
    kind: MediaKind,
    offer: &MediaDescription,
) -> Vec<(u16, String)> {
    offer
        .extmaps()
        .filter(|e| specs.iter().any(|s| s.applies_to(kind) && s.uri == e.uri))
        .map(|e| (e.id.get(), e.uri.clone()))
        .collect()
}

fn push_transport(mut m: MediaDescription, t: &TransportAttrs<'_>) -> MediaDescription {
    m = m.with_ice_credentials(t.ice.ufrag.clone(), t.ice.pwd.clone());
    match (t.config.ice_trickle, t.config.ice_renomination) {
        (true, true) => m = m.with_ice_options(["trickle", "renomination"]),
        (true, false) => m = m.with_ice_options(["trickle"]),
        (false, true) => m = m.with_ice_options(["renomination"]),
        (false, false) => {}
    }
    for fp in &t.config.fingerprints {
        m = m.with_fingerprint(*fp);
    }
    m.with_setup(t.setup.clone())
}

fn push_candidates(mut m: MediaDescription, t: &TransportAttrs<'_>) -> MediaDescription {
    if let Some((candidates, end)) = t.candidates {
        for c in candidates {
            m = m.with_candidate(c.clone());
        }
        if end {
            m = m.with_end_of_candidates();
        }
    }
    m
}

/// What to write about our sender on an RTP m-line.
pub(crate) struct SenderAttrs<'a> {
    /// The transceiver's own direction: `a=msid` follows it, not the negotiated one
    /// (RFC 8829 §5.2.1, §5.3.1).
    pub direction: Direction,
    pub track: Option<&'a TrackInfo>,
    pub ssrc: Option<Ssrc>,
    pub rtx_ssrc: Option<Ssrc>,
    pub cname: &'a str,
}

/// The `msid-id` written for a track: its first stream, or `-` for none (RFC 8830 §2).
pub(crate) fn msid_stream(track: &TrackInfo) -> &str {
    track.stream_ids.first().map_or("-", String::as_str)
}

/// Whether an m-line carries `a=msid`: when the transceiver would send and has a track.
pub(crate) fn msid_written(direction: Direction, track: Option<&TrackInfo>) -> bool {
    matches!(direction, Direction::SendRecv | Direction::SendOnly) && track.is_some()
}

/// An RTP m-line in use.
#[allow(clippy::too_many_arguments)]
pub(crate) fn rtp_section(
    kind: MediaKind,
    mid: &Mid,
    direction: Direction,
    entries: &[Entry],
    extensions: &[(u16, String)],
    transport: &TransportAttrs<'_>,
    sender: &SenderAttrs<'_>,
    rtcp_rsize: bool,
) -> MediaDescription {
    let mut m = MediaDescription::new(kind.sdp(), DISCARD_PORT, RTP_PROTOCOL)
        .with_connection(Connection::new([0, 0, 0, 0].into()));
    m = push_transport(m, transport);
    m = m.with_mid(mid.clone());
    for (id, uri) in extensions {
        m = m.with_extmap(*id, uri.clone());
    }
    m = m.with_direction(direction);
    let sends = matches!(direction, Direction::SendRecv | Direction::SendOnly);
    let msid = sender
        .track
        .map(|t| (msid_stream(t).to_owned(), t.track_id.clone()));
    if msid_written(sender.direction, sender.track)
        && let Some((stream, track)) = &msid
    {
        m = m.with_msid(stream.clone(), track.clone());
    }
    m = m.with_rtcp_mux();
    if rtcp_rsize {
        m = m.with_rtcp_rsize();
    }
    m = push_codecs(m, entries);
    if sends && let Some(ssrc) = sender.ssrc {
        let rtx = sender
            .rtx_ssrc
            .filter(|_| entries.iter().any(|e| e.rtx.is_some()));
        if let Some(rtx) = rtx {
            m = m.with_ssrc_group(SsrcGroup {
                semantics: SsrcGroupSemantics::Fid,
                ssrcs: vec![ssrc, rtx],
            });
        }
        for s in std::iter::once(ssrc).chain(rtx) {
            m = m.with_ssrc(s, "cname", sender.cname);
            if let Some((stream, track)) = &msid {
                m = m.with_ssrc(s, "msid", format!("{stream} {track}"));
            }
        }
    }
    push_candidates(m, transport)
}

/// The data-channel m-line in use.
pub(crate) fn data_section(mid: &Mid, transport: &TransportAttrs<'_>) -> MediaDescription {
    let m = MediaDescription::new(SdpKind::Application, DISCARD_PORT, DATA_PROTOCOL)
        .with_format(DATA_FORMAT)
        .with_connection(Connection::new([0, 0, 0, 0].into()));
    let m = push_transport(m, transport)
        .with_mid(mid.clone())
        .with_sctp_port(transport.config.sctp_port)
        .with_max_message_size(transport.config.max_message_size);
    push_candidates(m, transport)
}

/// A rejected m-line: port 0, the same media, protocol and formats, and the mid.
pub(crate) fn rejected_section(
    kind: SdpKind,
    protocol: &str,
    formats: &[String],
    mid: Option<&Mid>,
) -> MediaDescription {
    let mut m = MediaDescription::new(kind, 0, protocol)
        .with_connection(Connection::new([0, 0, 0, 0].into()));
    m.formats = if formats.is_empty() {
        vec!["0".to_owned()]
    } else {
        formats.to_vec()
    };
    if let Some(mid) = mid {
        m = m.with_mid(mid.clone());
    }
    m.with_direction(Direction::Inactive)
}

/// Accepts the peer's simulcast (RFC 8853 §5.3): its send RIDs become our `recv` RIDs
/// (restricted to the payload types we accepted) and its `a=simulcast` send list our recv
/// list. An offer without both is left alone.
pub(crate) fn accept_simulcast(
    mut m: MediaDescription,
    offer: &MediaDescription,
    entries: &[Entry],
) -> MediaDescription {
    let Some(simulcast) = offer.simulcast().filter(|s| !s.send.is_empty()) else {
        return m;
    };
    let accepted: Vec<u8> = entries
        .iter()
        .flat_map(|e| std::iter::once(e.pt.get()).chain(e.rtx.map(PayloadType::get)))
        .collect();
    let mut rids = Vec::new();
    for r in offer.rids().filter(|r| r.direction == RidDirection::Send) {
        let payload_types: Vec<_> = r
            .payload_types
            .iter()
            .copied()
            .filter(|p| accepted.contains(&p.get()))
            .collect();
        if !r.payload_types.is_empty() && payload_types.is_empty() {
            continue;
        }
        rids.push(r.id.clone());
        m = m.with_attribute(Attribute::Rid(ferrtc_sdp::RidAttribute {
            id: r.id.clone(),
            direction: RidDirection::Recv,
            payload_types,
            restrictions: r.restrictions.clone(),
        }));
    }
    let recv: Vec<Vec<ferrtc_sdp::SimulcastRid>> = simulcast
        .send
        .iter()
        .map(|alts| {
            alts.iter()
                .filter(|a| rids.contains(&a.rid))
                .cloned()
                .collect::<Vec<_>>()
        })
        .filter(|alts| !alts.is_empty())
        .collect();
    if recv.is_empty() {
        return m;
    }
    m.with_attribute(Attribute::Simulcast(ferrtc_sdp::Simulcast {
        send: Vec::new(),
        recv,
    }))
}

/// Marks an m-line bundle-only with port 0 (RFC 8843 §6, RFC 8829 §5.2.1).
pub(crate) fn make_bundle_only(mut m: MediaDescription) -> MediaDescription {
    m.port = 0;
    m.attributes.push(Attribute::Unknown {
        name: "bundle-only".to_owned(),
        value: None,
    });
    m
}

/// The direction both sides allow: we send if we want to and the peer receives, and so on.
pub(crate) fn intersect(ours: Direction, theirs_reversed: Direction) -> Direction {
    let send = |d: Direction| matches!(d, Direction::SendRecv | Direction::SendOnly);
    let recv = |d: Direction| matches!(d, Direction::SendRecv | Direction::RecvOnly);
    match (
        send(ours) && send(theirs_reversed),
        recv(ours) && recv(theirs_reversed),
    ) {
        (true, true) => Direction::SendRecv,
        (true, false) => Direction::SendOnly,
        (false, true) => Direction::RecvOnly,
        (false, false) => Direction::Inactive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersect_directions() {
        use Direction::*;
        assert_eq!(intersect(SendRecv, SendRecv), SendRecv);
        assert_eq!(intersect(SendRecv, RecvOnly.reverse()), SendOnly);
        assert_eq!(intersect(RecvOnly, SendOnly.reverse()), RecvOnly);
        assert_eq!(intersect(RecvOnly, RecvOnly.reverse()), Inactive);
        assert_eq!(intersect(SendOnly, Inactive), Inactive);
    }

    #[test]
    fn offer_entries_avoid_taken_payload_types() {
        let base = vec![Entry {
            pt: PayloadType::new(96).unwrap(),
            name: "VP9".into(),
            clock_rate: 90_000,
            channels: None,
            params: vec![Parameter::new("profile-id", "0")],
            feedback: vec![],
            rtx: PayloadType::new(97),
        }];
        let entries = offer_entries(&CodecSpec::default_video(), base);
        // VP9 kept on 96; VP8 (preferring 96) moves.
        assert_eq!(entries[0].name, "VP9");
        let vp8 = entries.iter().find(|e| e.name == "VP8").unwrap();
        assert_ne!(vp8.pt.get(), 96);
        assert_ne!(vp8.rtx.map(PayloadType::get), Some(97));
        let mut pts: Vec<u8> = entries
            .iter()
            .flat_map(|e| std::iter::once(e.pt.get()).chain(e.rtx.map(PayloadType::get)))
            .collect();
        let n = pts.len();
        pts.sort_unstable();
        pts.dedup();
        assert_eq!(pts.len(), n, "no payload type twice");
        assert_eq!(entries.iter().filter(|e| e.name == "VP9").count(), 1);
    }

    #[test]
    fn audio_red_follows_opus() {
        let entries = offer_entries(&CodecSpec::default_audio(), Vec::new());
        let red = entries.iter().find(|e| e.name == "red").unwrap();
        assert_eq!(red.params, vec![Parameter::flag("111/111")]);
        let base = vec![Entry {
            pt: PayloadType::new(109).unwrap(),
            name: "opus".into(),
            clock_rate: 48_000,
            channels: Some(2),
            params: vec![],
            feedback: vec![],
            rtx: None,
        }];
        let entries = offer_entries(&CodecSpec::default_audio(), base);
        let red = entries.iter().find(|e| e.name == "red").unwrap();
        assert_eq!(red.params, vec![Parameter::flag("109/109")]);
    }
}
