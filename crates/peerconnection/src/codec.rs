//! What we can send and receive: codecs, their RTCP feedback and header extensions, and the
//! rules that decide whether an offered codec is one of ours (RFC 8829 §5.3.1, fmtp matching
//! per payload format).

use ferrtc_sdp::{Codec, FeedbackType, MediaDescription, Parameter, RtcpFb};
use ferrtc_types::PayloadType;

use crate::MediaKind;

/// The codecs of an m-line in the order of its `m=` format list, each payload type once.
///
/// A payload type names one format per m-line (RFC 8866 §6.6; the parser refuses a second
/// `a=rtpmap` or `a=fmtp` for it), so a repeat in the format list adds nothing: only its
/// first place, its rank in the order of preference (§5.14), counts. Walking the list as
/// written would answer, agree and re-offer the codec twice, with its `a=rtpmap` twice.
pub(crate) fn codecs_once(m: &MediaDescription) -> impl Iterator<Item = Codec<'_>> {
    // One bit per payload type: a `PayloadType` is at most 127.
    let mut seen = 0u128;
    m.codecs().filter(move |c| {
        let bit = 1u128 << c.payload_type.get();
        let first = seen & bit == 0;
        seen |= bit;
        first
    })
}

/// An RTCP feedback mechanism a codec supports (`a=rtcp-fb`, RFC 4585 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feedback {
    /// `nack`: generic NACK (RFC 4585 §6.2.1).
    Nack,
    /// `nack pli`: picture loss indication (RFC 4585 §6.3.1).
    NackPli,
    /// `ccm fir`: full intra request (RFC 5104 §7.1).
    CcmFir,
    /// `transport-cc`: transport-wide congestion control feedback.
    TransportCc,
    /// `goog-remb`: receiver estimated maximum bitrate.
    GoogRemb,
    /// Any other mechanism, as written.
    Other {
        /// `rtcp-fb-id`.
        id: String,
        /// `rtcp-fb-param`.
        parameter: Option<String>,
    },
}

impl Feedback {
    /// The feedback an `a=rtcp-fb` line names.
    #[must_use]
    pub(crate) fn from_sdp(fb: &RtcpFb) -> Feedback {
        match (&fb.feedback, fb.parameter.as_deref()) {
            (FeedbackType::Nack, None) => Feedback::Nack,
            (FeedbackType::Nack, Some("pli")) => Feedback::NackPli,
            (FeedbackType::Ccm, Some("fir")) => Feedback::CcmFir,
            (FeedbackType::TransportCc, None) => Feedback::TransportCc,
            (FeedbackType::GoogRemb, None) => Feedback::GoogRemb,
            (id, parameter) => Feedback::Other {
                id: id.as_str().to_owned(),
                parameter: parameter.map(str::to_owned),
            },
        }
    }

    /// The `a=rtcp-fb` line for payload type `pt`.
    #[must_use]
    pub(crate) fn to_sdp(&self, pt: ferrtc_sdp::PayloadType) -> RtcpFb {
        let (feedback, parameter) = match self {
            Feedback::Nack => (FeedbackType::Nack, None),
            Feedback::NackPli => (FeedbackType::Nack, Some("pli".to_owned())),
            Feedback::CcmFir => (FeedbackType::Ccm, Some("fir".to_owned())),
            Feedback::TransportCc => (FeedbackType::TransportCc, None),
            Feedback::GoogRemb => (FeedbackType::GoogRemb, None),
            Feedback::Other { id, parameter } => {
                // The parser's token table, so that `ccm tmmbr` stays typed as `ccm`.
                let typed = match id.as_str() {
                    "ack" => FeedbackType::Ack,
                    "nack" => FeedbackType::Nack,
                    "trr-int" => FeedbackType::TrrInt,
                    "ccm" => FeedbackType::Ccm,
                    "goog-remb" => FeedbackType::GoogRemb,
                    "transport-cc" => FeedbackType::TransportCc,
                    _ => FeedbackType::Other(id.clone()),
                };
                (typed, parameter.clone())
            }
        };
        RtcpFb {
            payload_type: Some(pt),
            feedback,
            parameter,
        }
    }
}

/// A codec we support, as offered: an `a=rtpmap` with its `a=fmtp` parameters, the feedback
/// we can give and take for it, and the payload types we prefer (RTX, RFC 4588, when
/// `rtx_payload_type` is set).
///
/// RED (RFC 2198) is a codec named `red`; for audio its parameters name the primary payload
/// types (`111/111`), which the answer rewrites into the offerer's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodecSpec {
    /// The encoding name, e.g. `opus`, `VP8`, `H264`, `red` (matched without regard to case).
    pub name: String,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// The channel count (audio), as written in `a=rtpmap`.
    pub channels: Option<u16>,
    /// `a=fmtp` parameters, in order.
    pub parameters: Vec<Parameter>,
    /// RTCP feedback we support for it.
    pub feedback: Vec<Feedback>,
    /// The payload type we offer it with, unless taken.
    pub payload_type: PayloadType,
    /// The payload type of its RTX stream (RFC 4588), when we retransmit it.
    pub rtx_payload_type: Option<PayloadType>,
}

/// Shorthand: the payload type `n`, for the defaults below (all under 128).
fn pt(n: u8) -> PayloadType {
    PayloadType::from_masked(n)
}

fn video_feedback() -> Vec<Feedback> {
    vec![
        Feedback::GoogRemb,
        Feedback::TransportCc,
        Feedback::CcmFir,
        Feedback::Nack,
        Feedback::NackPli,
    ]
}

impl CodecSpec {
    /// A codec with no parameters, feedback or RTX.
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        clock_rate: u32,
        channels: Option<u16>,
        payload_type: PayloadType,
    ) -> CodecSpec {
        CodecSpec {
            name: name.into(),
            clock_rate,
            channels,
            parameters: Vec::new(),
            feedback: Vec::new(),
            payload_type,
            rtx_payload_type: None,
        }
    }

    /// Adds an `a=fmtp` parameter.
    #[must_use]
    pub fn with_parameter(mut self, name: &str, value: &str) -> CodecSpec {
        self.parameters.push(Parameter::new(name, value));
        self
    }

    /// Sets the feedback.
    #[must_use]
    pub fn with_feedback(mut self, feedback: Vec<Feedback>) -> CodecSpec {
        self.feedback = feedback;
        self
    }

    /// Sets the RTX payload type.
    #[must_use]
    pub fn with_rtx(mut self, rtx: PayloadType) -> CodecSpec {
        self.rtx_payload_type = Some(rtx);
        self
    }

    /// ferrtc's audio codecs: Opus (RFC 7587) with in-band FEC, RED over Opus, G.711, G.722.
    #[must_use]
    pub fn default_audio() -> Vec<CodecSpec> {
        vec![
            CodecSpec::new("opus", 48_000, Some(2), pt(111))
                .with_parameter("minptime", "10")
                .with_parameter("useinbandfec", "1")
                .with_feedback(vec![Feedback::TransportCc]),
            CodecSpec {
                parameters: vec![Parameter::flag("111/111")],
                ..CodecSpec::new("red", 48_000, Some(2), pt(63))
            },
            CodecSpec::new("PCMU", 8_000, None, pt(0)),
            CodecSpec::new("PCMA", 8_000, None, pt(8)),
            // RFC 3551 section 4.5.2: G.722 samples at 16 kHz but its RTP clock runs at 8 kHz.
            CodecSpec::new("G722", 8_000, None, pt(9)),
        ]
    }

    /// ferrtc's video codecs: VP8, VP9 profile 0, H.264 constrained baseline
    /// (packetization-mode 1 and 0), AV1, RED; each with RTX and the usual feedback.
    #[must_use]
    pub fn default_video() -> Vec<CodecSpec> {
        vec![
            CodecSpec::new("VP8", 90_000, None, pt(96))
                .with_feedback(video_feedback())
                .with_rtx(pt(97)),
            CodecSpec::new("VP9", 90_000, None, pt(98))
                .with_parameter("profile-id", "0")
                .with_feedback(video_feedback())
                .with_rtx(pt(99)),
            CodecSpec::new("H264", 90_000, None, pt(102))
                .with_parameter("level-asymmetry-allowed", "1")
                .with_parameter("packetization-mode", "1")
                .with_parameter("profile-level-id", "42e01f")
                .with_feedback(video_feedback())
                .with_rtx(pt(103)),
            CodecSpec::new("H264", 90_000, None, pt(104))
                .with_parameter("level-asymmetry-allowed", "1")
                .with_parameter("packetization-mode", "0")
                .with_parameter("profile-level-id", "42e01f")
                .with_feedback(video_feedback())
                .with_rtx(pt(105)),
            CodecSpec::new("AV1", 90_000, None, pt(45))
                .with_feedback(video_feedback())
                .with_rtx(pt(46)),
            CodecSpec::new("red", 90_000, None, pt(118)).with_rtx(pt(119)),
        ]
    }
}

/// A header extension we support (RFC 8285), by URI, and for which kinds of media.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExtensionSpec {
    /// The extension URI.
    pub uri: String,
    /// Offered and accepted in audio sections.
    pub audio: bool,
    /// Offered and accepted in video sections.
    pub video: bool,
}

/// Header extension URIs ferrtc knows.
pub mod uri {
    /// The MID of the stream's media section (RFC 8843 §15).
    pub const MID: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
    /// The RID of a simulcast stream (RFC 8852 §3.1).
    pub const RID: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
    /// The RID a repair stream repairs (RFC 8852 §3.2).
    pub const REPAIRED_RID: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
    /// Absolute send time (used by REMB).
    pub const ABS_SEND_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
    /// Transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01).
    pub const TRANSPORT_CC: &str =
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
    /// Client-to-mixer audio level (RFC 6464).
    pub const AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
    /// Transmission time offset (RFC 5450).
    pub const TOFFSET: &str = "urn:ietf:params:rtp-hdrext:toffset";
}

impl ExtensionSpec {
    /// An extension for the kinds given.
    #[must_use]
    pub fn new(uri: impl Into<String>, audio: bool, video: bool) -> ExtensionSpec {
        ExtensionSpec {
            uri: uri.into(),
            audio,
            video,
        }
    }

    /// Whether it applies to `kind`.
    #[must_use]
    pub fn applies_to(&self, kind: MediaKind) -> bool {
        match kind {
            MediaKind::Audio => self.audio,
            MediaKind::Video => self.video,
        }
    }

    /// mid, rid, repaired-rid, abs-send-time, transport-wide-cc, and audio-level for audio.
    #[must_use]
    pub fn defaults() -> Vec<ExtensionSpec> {
        vec![
            ExtensionSpec::new(uri::AUDIO_LEVEL, true, false),
            ExtensionSpec::new(uri::ABS_SEND_TIME, true, true),
            ExtensionSpec::new(uri::TRANSPORT_CC, true, true),
            ExtensionSpec::new(uri::MID, true, true),
            ExtensionSpec::new(uri::RID, false, true),
            ExtensionSpec::new(uri::REPAIRED_RID, false, true),
        ]
    }
}

/// The value of fmtp parameter `name` in `params`.
pub(crate) fn param<'a>(params: &'a [Parameter], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .map(|p| p.value.as_deref().unwrap_or(""))
}

/// The H.264 profile a `profile-level-id` names (RFC 6184 §8.1), as browsers classify it:
/// constrained baseline is told apart from baseline by the constraint flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum H264Profile {
    ConstrainedBaseline,
    Baseline,
    Main,
    ConstrainedHigh,
    High,
    Other(u8),
}

fn h264_profile(params: &[Parameter]) -> Option<H264Profile> {
    // RFC 6184 §8.1: absent means 42000A (baseline, level 1).
    let text = param(params, "profile-level-id").unwrap_or("42000a");
    if text.len() != 6 {
        return None;
    }
    let value = u32::from_str_radix(text, 16).ok()?;
    let [_, idc, iop, _] = value.to_be_bytes();
    Some(match idc {
        // constraint_set1_flag (0x40) on baseline, constraint_set0_flag (0x80) on main.
        0x42 if iop & 0x40 != 0 => H264Profile::ConstrainedBaseline,
        0x4d if iop & 0x80 != 0 => H264Profile::ConstrainedBaseline,
        0x42 => H264Profile::Baseline,
        0x4d => H264Profile::Main,
        // constraint_set4 and set5 (0x0c) on high.
        0x64 if iop & 0x0c == 0x0c => H264Profile::ConstrainedHigh,
        0x64 => H264Profile::High,
        other => H264Profile::Other(other),
    })
}

/// One side's description of a codec, for matching.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodecRef<'a> {
    pub name: &'a str,
    pub clock_rate: u32,
    pub channels: Option<u16>,
    pub params: &'a [Parameter],
}

impl<'a> From<&'a CodecSpec> for CodecRef<'a> {
    fn from(c: &'a CodecSpec) -> Self {
        CodecRef {
            name: &c.name,
            clock_rate: c.clock_rate,
            channels: c.channels,
            params: &c.parameters,
        }
    }
}

/// Whether two descriptions name the same codec: same encoding name (any case), clock rate
/// and channel count (absent means 1), and for the formats whose parameters change the
/// bitstream, the same ones: H.264 profile and packetization-mode (RFC 6184 §8.2.2), VP9
/// profile-id, AV1 profile. Opus parameters are declarative (RFC 7587 §7) and never
/// prevent a match. RTX and RED are matched by name here; their references are checked by
/// the caller.
pub(crate) fn same_codec(a: CodecRef<'_>, b: CodecRef<'_>) -> bool {
    if !a.name.eq_ignore_ascii_case(b.name)
        || a.clock_rate != b.clock_rate
        || a.channels.unwrap_or(1) != b.channels.unwrap_or(1)
    {
        return false;
    }
    let same_param = |name: &str, default: &str| {
        param(a.params, name).unwrap_or(default) == param(b.params, name).unwrap_or(default)
    };
    match a.name.to_ascii_lowercase().as_str() {
        "h264" => {
            same_param("packetization-mode", "0")
                && h264_profile(a.params).is_some()
                && h264_profile(a.params) == h264_profile(b.params)
        }
        "vp9" => same_param("profile-id", "0"),
        "av1" => same_param("profile", "0"),
        _ => true,
    }
}

/// Whether `name` is the RTX pseudo-codec.
pub(crate) fn is_rtx(name: &str) -> bool {
    name.eq_ignore_ascii_case("rtx")
}

/// Whether `name` is the RED pseudo-codec.
pub(crate) fn is_red(name: &str) -> bool {
    name.eq_ignore_ascii_case("red")
}

/// Whether a codec of this name should answer with the offerer's parameters (they describe
/// the bitstream, and the match has checked they suit us).
pub(crate) fn echoes_offer_parameters(name: &str) -> bool {
    ["h264", "vp9", "av1", "red"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

/// The payload types an audio RED `a=fmtp` names (`111/111`), if it is that form.
pub(crate) fn red_primaries(params: &[Parameter]) -> Option<Vec<u8>> {
    let first = params.first()?;
    if first.value.is_some() {
        return None;
    }
    first
        .name
        .split('/')
        .map(|n| n.parse::<u8>().ok().filter(|&n| n <= PayloadType::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h264(mode: &str, plid: &str) -> Vec<Parameter> {
        vec![
            Parameter::new("packetization-mode", mode),
            Parameter::new("profile-level-id", plid),
        ]
    }

    fn r<'a>(name: &'a str, params: &'a [Parameter]) -> CodecRef<'a> {
        CodecRef {
            name,
            clock_rate: 90_000,
            channels: None,
            params,
        }
    }

    #[test]
    fn h264_matches_profile_and_mode_not_level() {
        let ours = h264("1", "42e01f");
        assert!(same_codec(
            r("H264", &ours),
            r("h264", &h264("1", "42e01f"))
        ));
        // Another level of the same profile.
        assert!(same_codec(
            r("H264", &ours),
            r("H264", &h264("1", "42e034"))
        ));
        // 4d 80: main with constraint_set0 is constrained baseline too.
        assert!(same_codec(
            r("H264", &ours),
            r("H264", &h264("1", "4d801f"))
        ));
        assert!(!same_codec(
            r("H264", &ours),
            r("H264", &h264("0", "42e01f"))
        ));
        assert!(!same_codec(
            r("H264", &ours),
            r("H264", &h264("1", "42001f"))
        ));
        assert!(!same_codec(
            r("H264", &ours),
            r("H264", &h264("1", "4d001f"))
        ));
        assert!(!same_codec(r("H264", &ours), r("H264", &h264("1", "zz"))));
        assert!(same_codec(
            r("H264", &h264("1", "640c1f")),
            r("H264", &h264("1", "640c34"))
        ));
    }

    #[test]
    fn vp9_profile_and_audio_channels() {
        let p0 = vec![Parameter::new("profile-id", "0")];
        let p2 = vec![Parameter::new("profile-id", "2")];
        assert!(same_codec(r("VP9", &p0), r("VP9", &[])));
        assert!(!same_codec(r("VP9", &p0), r("VP9", &p2)));
        let opus = |ch, params| CodecRef {
            name: "opus",
            clock_rate: 48_000,
            channels: ch,
            params,
        };
        let fec = vec![Parameter::new("useinbandfec", "1")];
        assert!(same_codec(opus(Some(2), &fec), opus(Some(2), &[])));
        assert!(!same_codec(opus(Some(2), &fec), opus(None, &[])));
    }

    #[test]
    fn red_primaries_parse() {
        assert_eq!(
            red_primaries(&[Parameter::flag("111/111")]),
            Some(vec![111, 111])
        );
        assert_eq!(red_primaries(&[Parameter::flag("x/1")]), None);
        assert_eq!(red_primaries(&[Parameter::new("a", "b")]), None);
    }

    #[test]
    fn feedback_round_trips() {
        let p = ferrtc_sdp::PayloadType::new(96).unwrap();
        for f in [
            Feedback::Nack,
            Feedback::NackPli,
            Feedback::CcmFir,
            Feedback::TransportCc,
            Feedback::GoogRemb,
            Feedback::Other {
                id: "ccm".into(),
                parameter: Some("tmmbr".into()),
            },
        ] {
            assert_eq!(Feedback::from_sdp(&f.to_sdp(p)), f);
        }
    }
}
