//! What an offer/answer exchange agreed, in the terms the connection core needs.

use ferrtc_sdp::{
    Direction, MediaDescription, Msid, Parameter, SessionDescription, SsrcGroupSemantics,
};
use ferrtc_types::{DtlsRole, ExtensionId, Fingerprint, Mid, PayloadType, Rid, Ssrc};

use crate::codec::{CodecRef, Feedback, codecs_once, is_rtx, param, same_codec};
use crate::remote::{self, Analysis, SetupRole};
use crate::transceiver::{MediaKind, TrackInfo, Transceiver, TransceiverId};

/// What an offer/answer exchange agreed. Returned by the `set_*_description` call that
/// applies an answer or a provisional answer, and kept as
/// [`Negotiator::negotiation`](crate::Negotiator::negotiation).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Negotiation {
    /// Whether the answer was provisional (`pranswer`): the offer is still open.
    pub provisional: bool,
    /// Whether we made the offer.
    pub local_is_offerer: bool,
    /// The transports: with BUNDLE, one.
    pub transports: Vec<NegotiatedTransport>,
    /// The RTP m-lines in use, in m-line order.
    pub media: Vec<NegotiatedMedia>,
    /// The data-channel m-line, when in use.
    pub data: Option<NegotiatedData>,
    /// The mids of rejected m-lines (stopped transceivers, refused sections).
    pub rejected: Vec<Mid>,
}

impl Negotiation {
    /// The RTP m-line with this mid.
    #[must_use]
    pub fn media_by_mid(&self, mid: &str) -> Option<&NegotiatedMedia> {
        self.media.iter().find(|m| m.mid == *mid)
    }

    /// The transport carrying this mid.
    #[must_use]
    pub fn transport_of(&self, mid: &str) -> Option<&NegotiatedTransport> {
        self.transports
            .iter()
            .find(|t| t.mids.iter().any(|m| *m == *mid))
    }
}

/// ICE parameters of one side of a transport (RFC 8839 §5.4 - §5.6).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IceParameters {
    /// `a=ice-ufrag`.
    pub ufrag: String,
    /// `a=ice-pwd`.
    pub pwd: String,
    /// `a=ice-options` tokens.
    pub options: Vec<String>,
    /// Whether `trickle` is among the options (RFC 8840).
    pub trickle: bool,
    /// Whether the side is ICE-lite.
    pub lite: bool,
}

impl core::fmt::Debug for IceParameters {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IceParameters")
            .field("ufrag", &self.ufrag)
            .field("options", &self.options)
            .field("lite", &self.lite)
            .finish_non_exhaustive()
    }
}

/// One ICE + DTLS transport and what runs over it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NegotiatedTransport {
    /// The m-lines it carries; the first is the BUNDLE tag.
    pub mids: Vec<Mid>,
    /// Our ICE parameters.
    pub local_ice: IceParameters,
    /// The peer's ICE parameters.
    pub remote_ice: IceParameters,
    /// Whether our ICE agent is controlling (RFC 8445 §6.1.1: the offerer, unless exactly
    /// one side is lite, in which case the full agent).
    pub ice_controlling: bool,
    /// The peer's candidates so far (from the description and `add_ice_candidate`).
    pub remote_candidates: Vec<ferrtc_sdp::Candidate>,
    /// Whether the peer said it has no more candidates.
    pub remote_end_of_candidates: bool,
    /// The peer's certificate fingerprints (its certificate must match one).
    pub remote_fingerprints: Vec<Fingerprint>,
    /// Our DTLS role (RFC 8842 §5: `active` is the client).
    pub dtls_role: DtlsRole,
    /// Whether the ICE credentials of either side changed since the last negotiation.
    pub ice_restart: bool,
}

/// A payload type as each side numbers it. We receive packets numbered `local` (our
/// description asked for that) and send packets numbered `remote`. After an answer that
/// follows RFC 8829 §5.3.1 the two are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayloadTypes {
    /// In our description: what the peer sends us.
    pub local: PayloadType,
    /// In the peer's description: what we send.
    pub remote: PayloadType,
}

/// A codec both sides agreed on for one m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NegotiatedCodec {
    /// The encoding name, as the answer writes it (e.g. `VP8`, `opus`, `red`).
    pub name: String,
    /// The RTP clock rate.
    pub clock_rate: u32,
    /// The channel count, when written.
    pub channels: Option<u16>,
    /// Its payload type both ways.
    pub payload_type: PayloadTypes,
    /// Our `a=fmtp` parameters (what we want to receive).
    pub local_parameters: Vec<Parameter>,
    /// The peer's `a=fmtp` parameters (what it wants to receive: what we send must fit).
    pub remote_parameters: Vec<Parameter>,
    /// RTCP feedback both sides listed for it.
    pub feedback: Vec<Feedback>,
    /// Its RTX payload types (RFC 4588, `apt` = this codec), when both sides do RTX.
    pub rtx: Option<PayloadTypes>,
}

impl NegotiatedCodec {
    /// Whether this is RED (RFC 2198).
    #[must_use]
    pub fn is_red(&self) -> bool {
        crate::codec::is_red(&self.name)
    }

    /// The value of one of the peer's fmtp parameters.
    #[must_use]
    pub fn remote_parameter(&self, name: &str) -> Option<&str> {
        param(&self.remote_parameters, name)
    }
}

/// A header extension both sides use, with its id (the same both ways, RFC 8285 §6).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct NegotiatedExtension {
    /// The id in RTP headers.
    pub id: ExtensionId,
    /// The extension URI.
    pub uri: String,
}

/// What we send on an m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendStream {
    /// The SSRC of the media.
    pub ssrc: Ssrc,
    /// The SSRC of its RTX stream, when RTX was agreed.
    pub rtx_ssrc: Option<Ssrc>,
    /// Our RTCP CNAME.
    pub cname: String,
    /// The track, as `a=msid` names it.
    pub track: Option<TrackInfo>,
}

/// A source the peer announced (`a=ssrc`, `a=ssrc-group:FID`, RFC 5576).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoteSource {
    /// The media SSRC.
    pub ssrc: Ssrc,
    /// Its RTX SSRC (the second of an FID group).
    pub rtx_ssrc: Option<Ssrc>,
    /// Its CNAME.
    pub cname: Option<String>,
}

/// One RTP m-line in use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NegotiatedMedia {
    /// The mid.
    pub mid: Mid,
    /// The m-line index.
    pub index: usize,
    /// Audio or video.
    pub kind: MediaKind,
    /// The transceiver on it.
    pub transceiver: TransceiverId,
    /// Index in [`Negotiation::transports`].
    pub transport: usize,
    /// The transceiver's preferred direction.
    pub direction: Direction,
    /// The negotiated direction, from our side (W3C `currentDirection`).
    pub current_direction: Direction,
    /// The agreed codecs, in the answer's order of preference (RTX folded into each).
    pub codecs: Vec<NegotiatedCodec>,
    /// The agreed header extensions.
    pub header_extensions: Vec<NegotiatedExtension>,
    /// Whether both allow one- and two-byte extension headers mixed (RFC 8285 §6).
    pub extmap_allow_mixed: bool,
    /// RTCP multiplexed with RTP (always, by policy).
    pub rtcp_mux: bool,
    /// Reduced-size RTCP agreed (RFC 5506).
    pub rtcp_rsize: bool,
    /// What we send, when the current direction sends.
    pub send: Option<SendStream>,
    /// The sources the peer announced.
    pub remote_sources: Vec<RemoteSource>,
    /// The peer's `a=msid` lines.
    pub remote_msids: Vec<Msid>,
    /// The RIDs the peer sends (`a=rid:<id> send`, RFC 8851).
    pub remote_rids: Vec<Rid>,
}

impl NegotiatedMedia {
    /// Whether we send media on it.
    #[must_use]
    pub fn sends(&self) -> bool {
        matches!(
            self.current_direction,
            Direction::SendRecv | Direction::SendOnly
        )
    }

    /// Whether we receive media on it.
    #[must_use]
    pub fn receives(&self) -> bool {
        matches!(
            self.current_direction,
            Direction::SendRecv | Direction::RecvOnly
        )
    }

    /// The id of the extension with this URI.
    #[must_use]
    pub fn extension_id(&self, uri: &str) -> Option<ExtensionId> {
        self.header_extensions
            .iter()
            .find(|e| e.uri == uri)
            .map(|e| e.id)
    }
}

/// The data-channel m-line in use (RFC 8841).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NegotiatedData {
    /// Its mid.
    pub mid: Mid,
    /// Index in [`Negotiation::transports`].
    pub transport: usize,
    /// Our SCTP port.
    pub local_sctp_port: u16,
    /// The peer's SCTP port.
    pub remote_sctp_port: u16,
    /// The largest message we accept.
    pub local_max_message_size: u64,
    /// The largest message the peer accepts (0: no limit, RFC 8841 §6).
    pub remote_max_message_size: u64,
}

/// Who owns an m-line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Transceiver(TransceiverId),
    Data,
    Nobody,
}

/// The inputs of [`build`].
pub(crate) struct Inputs<'a> {
    pub local: &'a SessionDescription,
    pub remote: &'a SessionDescription,
    pub local_analysis: &'a Analysis,
    pub remote_analysis: &'a Analysis,
    pub local_is_offerer: bool,
    pub provisional: bool,
    pub owners: &'a [Owner],
    pub transceivers: &'a [Transceiver],
    pub cname: &'a str,
    /// The DTLS role settled before, if any.
    pub previous: Option<&'a Negotiation>,
}

/// Default SCTP port (RFC 8841 §5.1) and max-message-size (RFC 8841 §6.1: 64K) when absent.
const DEFAULT_SCTP_PORT: u16 = 5000;
const DEFAULT_MAX_MESSAGE_SIZE: u64 = 65_536;

fn ice(t: &remote::TransportDesc, lite: bool) -> IceParameters {
    IceParameters {
        ufrag: t.ufrag.clone(),
        pwd: t.pwd.clone(),
        trickle: t.options.iter().any(|o| o == "trickle"),
        options: t.options.clone(),
        lite,
    }
}

/// Builds the summary of an applied answer. Both descriptions have been checked: every
/// m-line in use has a mid and a transport in both analyses.
pub(crate) fn build(x: &Inputs<'_>) -> Negotiation {
    let (offer, answer) = if x.local_is_offerer {
        (x.local, x.remote)
    } else {
        (x.remote, x.local)
    };
    let answer_analysis = if x.local_is_offerer {
        x.remote_analysis
    } else {
        x.local_analysis
    };
    let mut transports = Vec::new();
    for t in &answer_analysis.transports {
        let tag = t.indices[0];
        let (Some((_, local)), Some((_, remote))) = (
            x.local_analysis.transport_of(tag),
            x.remote_analysis.transport_of(tag),
        ) else {
            continue;
        };
        // The answerer's a=setup decides (RFC 8842 §5.3): active is the DTLS client.
        let answerer_role = match t.setup {
            SetupRole::Passive => DtlsRole::Server,
            SetupRole::Active | SetupRole::Actpass => DtlsRole::Client,
        };
        let dtls_role = if x.local_is_offerer {
            answerer_role.opposite()
        } else {
            answerer_role
        };
        let local_lite = x.local_analysis.ice_lite;
        let remote_lite = x.remote_analysis.ice_lite;
        let ice_controlling = if local_lite != remote_lite {
            remote_lite
        } else {
            x.local_is_offerer
        };
        let mids: Vec<Mid> = t
            .indices
            .iter()
            .filter_map(|&i| answer_analysis.mids[i].clone())
            .collect();
        let ice_restart = x.previous.is_some_and(|p| {
            p.transports.iter().any(|pt| {
                pt.mids.iter().any(|m| mids.contains(m))
                    && (pt.local_ice.ufrag != local.ufrag || pt.remote_ice.ufrag != remote.ufrag)
            })
        });
        transports.push(NegotiatedTransport {
            mids,
            local_ice: ice(local, local_lite),
            remote_ice: ice(remote, remote_lite),
            ice_controlling,
            remote_candidates: remote.candidates.clone(),
            remote_end_of_candidates: remote.end_of_candidates,
            remote_fingerprints: remote.fingerprints.clone(),
            dtls_role,
            ice_restart,
        });
    }

    let transport_index = |i: usize| answer_analysis.transport_of(i).map(|(t, _)| t);
    let mut media = Vec::new();
    let mut data = None;
    let mut rejected = Vec::new();
    for (i, (o, a)) in offer.media.iter().zip(&answer.media).enumerate() {
        let Some(mid) = answer_analysis.mids[i].clone() else {
            continue;
        };
        let in_use = !remote::is_rejected(o) && !remote::is_rejected(a);
        let Some(transport) = transport_index(i).filter(|_| in_use) else {
            rejected.push(mid);
            continue;
        };
        let (local_m, remote_m) = (&x.local.media[i], &x.remote.media[i]);
        match x.owners.get(i).copied().unwrap_or(Owner::Nobody) {
            Owner::Data => {
                data = Some(NegotiatedData {
                    mid,
                    transport,
                    local_sctp_port: local_m.sctp_port().unwrap_or(DEFAULT_SCTP_PORT),
                    remote_sctp_port: remote_m.sctp_port().unwrap_or(DEFAULT_SCTP_PORT),
                    local_max_message_size: local_m
                        .max_message_size()
                        .unwrap_or(DEFAULT_MAX_MESSAGE_SIZE),
                    remote_max_message_size: remote_m
                        .max_message_size()
                        .unwrap_or(DEFAULT_MAX_MESSAGE_SIZE),
                });
            }
            Owner::Transceiver(id) => {
                let Some(t) = x.transceivers.get(id.0) else {
                    continue;
                };
                let answer_dir = remote::direction(answer, a);
                let current_direction = if x.local_is_offerer {
                    answer_dir.reverse()
                } else {
                    answer_dir
                };
                let codecs = codecs(o, a, x.local_is_offerer);
                let send = match (current_direction, t.ssrc) {
                    (Direction::SendRecv | Direction::SendOnly, Some(ssrc)) => Some(SendStream {
                        ssrc,
                        rtx_ssrc: t
                            .rtx_ssrc
                            .filter(|_| codecs.iter().any(|c| c.rtx.is_some())),
                        cname: x.cname.to_owned(),
                        track: t.track.clone(),
                    }),
                    _ => None,
                };
                media.push(NegotiatedMedia {
                    mid,
                    index: i,
                    kind: t.kind,
                    transceiver: id,
                    transport,
                    direction: t.direction,
                    current_direction,
                    codecs,
                    header_extensions: extensions(o, a),
                    extmap_allow_mixed: (o.extmap_allow_mixed() || offer.extmap_allow_mixed())
                        && (a.extmap_allow_mixed() || answer.extmap_allow_mixed()),
                    rtcp_mux: o.rtcp_mux() && a.rtcp_mux(),
                    rtcp_rsize: o.rtcp_rsize() && a.rtcp_rsize(),
                    send,
                    remote_sources: remote_sources(remote_m),
                    remote_msids: remote_m.msids().cloned().collect(),
                    remote_rids: remote_m
                        .rids()
                        .filter(|r| r.direction == ferrtc_sdp::RidDirection::Send)
                        .map(|r| r.id.clone())
                        .collect(),
                });
            }
            Owner::Nobody => rejected.push(mid),
        }
    }
    Negotiation {
        provisional: x.provisional,
        local_is_offerer: x.local_is_offerer,
        transports,
        media,
        data,
        rejected,
    }
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

/// The RTX payload type whose `apt` is `apt` in `m`.
pub(crate) fn rtx_for(
    m: &MediaDescription,
    apt: ferrtc_sdp::PayloadType,
) -> Option<ferrtc_sdp::PayloadType> {
    m.codecs().find_map(|c| {
        let name = c.name()?;
        let apt_text = param(&c.fmtp?.parameters, "apt")?;
        (is_rtx(name) && apt_text.parse::<u8>().ok() == Some(apt.get())).then_some(c.payload_type)
    })
}

/// The offer's codec that the answer's `ac` agrees to: the same payload type if it is the
/// same codec, else the first matching one.
pub(crate) fn offered_match<'a>(
    offer: &'a MediaDescription,
    ac: &ferrtc_sdp::Codec<'_>,
) -> Option<ferrtc_sdp::Codec<'a>> {
    let ar = codec_ref(ac)?;
    let same = |oc: &ferrtc_sdp::Codec<'_>| codec_ref(oc).is_some_and(|or| same_codec(or, ar));
    offer
        .codecs()
        .find(|oc| oc.payload_type == ac.payload_type && same(oc))
        .or_else(|| offer.codecs().find(|oc| same(oc)))
}

fn codecs(
    offer: &MediaDescription,
    answer: &MediaDescription,
    local_is_offerer: bool,
) -> Vec<NegotiatedCodec> {
    let mut out = Vec::new();
    for ac in codecs_once(answer) {
        let Some(ar) = codec_ref(&ac) else { continue };
        if is_rtx(ar.name) {
            continue;
        }
        let Some(oc) = offered_match(offer, &ac) else {
            continue;
        };
        let o_fb: Vec<Feedback> = oc.feedback().map(Feedback::from_sdp).collect();
        let mut feedback: Vec<Feedback> = Vec::new();
        for f in ac.feedback().map(Feedback::from_sdp) {
            if o_fb.contains(&f) && !feedback.contains(&f) {
                feedback.push(f);
            }
        }
        let pair = |o: ferrtc_sdp::PayloadType, a: ferrtc_sdp::PayloadType| {
            let (local, remote) = if local_is_offerer { (o, a) } else { (a, o) };
            PayloadTypes { local, remote }
        };
        let rtx = match (
            rtx_for(offer, oc.payload_type),
            rtx_for(answer, ac.payload_type),
        ) {
            (Some(o), Some(a)) => Some(pair(o, a)),
            _ => None,
        };
        let params =
            |c: &ferrtc_sdp::Codec<'_>| c.fmtp.map(|f| f.parameters.clone()).unwrap_or_default();
        let (local_parameters, remote_parameters) = if local_is_offerer {
            (params(&oc), params(&ac))
        } else {
            (params(&ac), params(&oc))
        };
        out.push(NegotiatedCodec {
            name: ar.name.to_owned(),
            clock_rate: ar.clock_rate,
            channels: ar.channels,
            payload_type: pair(oc.payload_type, ac.payload_type),
            local_parameters,
            remote_parameters,
            feedback,
            rtx,
        });
    }
    out
}

fn extensions(offer: &MediaDescription, answer: &MediaDescription) -> Vec<NegotiatedExtension> {
    answer
        .extmaps()
        .filter(|e| offer.extmaps().any(|o| o.uri == e.uri))
        .filter_map(|e| {
            let id = e.id.extension_id()?;
            Some(NegotiatedExtension {
                id,
                uri: e.uri.clone(),
            })
        })
        .collect()
}

fn remote_sources(m: &MediaDescription) -> Vec<RemoteSource> {
    let mut rtx_of: Vec<(ferrtc_sdp::Ssrc, ferrtc_sdp::Ssrc)> = Vec::new();
    for g in m.ssrc_groups() {
        if g.semantics == SsrcGroupSemantics::Fid
            && let [primary, rtx] = g.ssrcs[..]
        {
            rtx_of.push((primary, rtx));
        }
    }
    let mut out: Vec<RemoteSource> = Vec::new();
    for s in m.ssrcs() {
        if rtx_of.iter().any(|(_, r)| *r == s.ssrc) {
            continue;
        }
        let ssrc = s.ssrc;
        let entry = match out.iter_mut().position(|r| r.ssrc == ssrc) {
            Some(at) => &mut out[at],
            None => {
                out.push(RemoteSource {
                    ssrc,
                    rtx_ssrc: rtx_of.iter().find(|(p, _)| *p == s.ssrc).map(|(_, r)| *r),
                    cname: None,
                });
                let last = out.len() - 1;
                &mut out[last]
            }
        };
        if s.name == "cname" && entry.cname.is_none() {
            entry.cname = s.value.clone();
        }
    }
    out
}
