//! `a=` lines: the typed WebRTC attributes and the verbatim rest.

use crate::emit::{Emit, display_by_emit, num};

use crate::candidate::{self, Candidate};
use crate::grammar::{
    Fail, Res, complete, failure, number, opt_tail, payload_type, sep, sp, till, word,
};
use crate::session::{AddressType, NetworkType};
use crate::{ExtensionId, Fingerprint, HashAlgorithm, Mid, ParseErrorKind, PayloadType, Rid, Ssrc};

/// One `a=` line.
///
/// ```abnf
/// attribute-field = %s"a" "=" attribute CRLF
/// attribute       = (attribute-name ":" attribute-value) / attribute-name
/// ```
/// Attributes this crate knows are typed; anything else is [`Attribute::Unknown`], kept as
/// written. Attribute names are matched case-sensitively, as written by every WebRTC peer;
/// a known name in another case is unknown. [`Display`](std::fmt::Display) writes the line
/// without the `a=`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attribute {
    /// `a=rtpmap` (RFC 8866 §6.6).
    Rtpmap(Rtpmap),
    /// `a=fmtp` (RFC 8866 §6.15).
    Fmtp(Fmtp),
    /// `a=rtcp-fb` (RFC 4585 §4.2).
    RtcpFb(RtcpFb),
    /// `a=extmap` (RFC 8285 §7).
    Extmap(Extmap),
    /// `a=extmap-allow-mixed` (RFC 8285 §6).
    ExtmapAllowMixed,
    /// `a=ssrc` (RFC 5576 §4.1).
    Ssrc(SsrcAttribute),
    /// `a=ssrc-group` (RFC 5576 §4.2).
    SsrcGroup(SsrcGroup),
    /// `a=msid` (RFC 8830 §2).
    Msid(Msid),
    /// `a=mid` (RFC 5888 §4).
    Mid(Mid),
    /// `a=group` (RFC 5888 §5, RFC 9143).
    Group(Group),
    /// `a=ice-ufrag` (RFC 8839 §5.4).
    IceUfrag(String),
    /// `a=ice-pwd` (RFC 8839 §5.4).
    IcePwd(String),
    /// `a=ice-options` tokens (RFC 8839 §5.6).
    IceOptions(Vec<String>),
    /// `a=ice-lite` (RFC 8839 §5.3).
    IceLite,
    /// `a=candidate` (RFC 8839 §5.1).
    Candidate(Candidate),
    /// `a=end-of-candidates` (RFC 8840 §8.2).
    EndOfCandidates,
    /// `a=fingerprint` (RFC 8122 §5).
    Fingerprint(FingerprintAttribute),
    /// `a=setup` (RFC 4145 §4).
    Setup(Setup),
    /// `a=sctp-port` (RFC 8841 §5).
    SctpPort(u16),
    /// `a=max-message-size` (RFC 8841 §6).
    MaxMessageSize(u64),
    /// `a=sctpmap`, the pre-RFC 8841 form (draft-ietf-mmusic-sctp-sdp-05).
    Sctpmap(Sctpmap),
    /// `a=rid` (RFC 8851 §10).
    Rid(RidAttribute),
    /// `a=simulcast` (RFC 8853 §5.1).
    Simulcast(Simulcast),
    /// `a=rtcp` (RFC 3605 §2.1).
    Rtcp(Rtcp),
    /// `a=rtcp-mux` (RFC 5761 §5.1.1).
    RtcpMux,
    /// `a=rtcp-mux-only` (RFC 8858 §3).
    RtcpMuxOnly,
    /// `a=rtcp-rsize` (RFC 5506 §5).
    RtcpRsize,
    /// `a=sendrecv`, `a=sendonly`, `a=recvonly`, `a=inactive` (RFC 8866 §6.7).
    Direction(Direction),
    /// Any other attribute, exactly as written. `value` is `None` for the property form
    /// (`a=name`) and `Some` (possibly empty) for `a=name:value`. `name` must not be one of
    /// the typed names above and must not contain `:`.
    Unknown {
        /// The attribute name.
        name: String,
        /// The text after the first `:`.
        value: Option<String>,
    },
}

impl Attribute {
    /// The attribute name, e.g. `"rtpmap"`.
    pub fn name(&self) -> &str {
        match self {
            Self::Rtpmap(_) => "rtpmap",
            Self::Fmtp(_) => "fmtp",
            Self::RtcpFb(_) => "rtcp-fb",
            Self::Extmap(_) => "extmap",
            Self::ExtmapAllowMixed => "extmap-allow-mixed",
            Self::Ssrc(_) => "ssrc",
            Self::SsrcGroup(_) => "ssrc-group",
            Self::Msid(_) => "msid",
            Self::Mid(_) => "mid",
            Self::Group(_) => "group",
            Self::IceUfrag(_) => "ice-ufrag",
            Self::IcePwd(_) => "ice-pwd",
            Self::IceOptions(_) => "ice-options",
            Self::IceLite => "ice-lite",
            Self::Candidate(_) => "candidate",
            Self::EndOfCandidates => "end-of-candidates",
            Self::Fingerprint(_) => "fingerprint",
            Self::Setup(_) => "setup",
            Self::SctpPort(_) => "sctp-port",
            Self::MaxMessageSize(_) => "max-message-size",
            Self::Sctpmap(_) => "sctpmap",
            Self::Rid(_) => "rid",
            Self::Simulcast(_) => "simulcast",
            Self::Rtcp(_) => "rtcp",
            Self::RtcpMux => "rtcp-mux",
            Self::RtcpMuxOnly => "rtcp-mux-only",
            Self::RtcpRsize => "rtcp-rsize",
            Self::Direction(d) => d.as_str(),
            Self::Unknown { name, .. } => name,
        }
    }

    /// Whether `name` is the name of a typed attribute (one [`Attribute::Unknown`] must not
    /// carry).
    pub fn is_typed_name(name: &str) -> bool {
        TYPED_NAMES.contains(&name)
    }

    /// Parses the text after `a=`.
    ///
    /// # Errors
    /// What is wrong with a known attribute's value. Unknown attributes always parse.
    pub fn parse(text: &str) -> Result<Attribute, ParseErrorKind> {
        let (name, value) = match text.find(':') {
            Some(at) => (&text[..at], Some(&text[at + 1..])),
            None => (text, None),
        };
        if name.is_empty() {
            return Err(ParseErrorKind::Missing("attribute name"));
        }
        // Property attributes: a value is an error, not something to drop silently.
        let flag = |a: Attribute, name: &'static str| match value {
            None => Ok(a),
            Some(_) => Err(ParseErrorKind::UnexpectedValue(name)),
        };
        match name {
            "extmap-allow-mixed" => return flag(Self::ExtmapAllowMixed, "extmap-allow-mixed"),
            "ice-lite" => return flag(Self::IceLite, "ice-lite"),
            "end-of-candidates" => return flag(Self::EndOfCandidates, "end-of-candidates"),
            "rtcp-mux" => return flag(Self::RtcpMux, "rtcp-mux"),
            "rtcp-mux-only" => return flag(Self::RtcpMuxOnly, "rtcp-mux-only"),
            "rtcp-rsize" => return flag(Self::RtcpRsize, "rtcp-rsize"),
            "sendrecv" => return flag(Self::Direction(Direction::SendRecv), "sendrecv"),
            "sendonly" => return flag(Self::Direction(Direction::SendOnly), "sendonly"),
            "recvonly" => return flag(Self::Direction(Direction::RecvOnly), "recvonly"),
            "inactive" => return flag(Self::Direction(Direction::Inactive), "inactive"),
            _ => {}
        }
        // A typed attribute's value, or the error for `a=name` without one.
        macro_rules! v {
            ($name:literal) => {
                match value {
                    Some(v) => v,
                    None => return Err(ParseErrorKind::MissingValue($name)),
                }
            };
        }
        Ok(match name {
            "rtpmap" => Self::Rtpmap(complete(rtpmap, "rtpmap", v!("rtpmap"))?),
            "fmtp" => Self::Fmtp(complete(fmtp, "fmtp", v!("fmtp"))?),
            "rtcp-fb" => Self::RtcpFb(complete(rtcp_fb, "rtcp-fb", v!("rtcp-fb"))?),
            "extmap" => Self::Extmap(complete(extmap, "extmap", v!("extmap"))?),
            "ssrc" => Self::Ssrc(complete(ssrc, "ssrc", v!("ssrc"))?),
            "ssrc-group" => Self::SsrcGroup(complete(ssrc_group, "ssrc-group", v!("ssrc-group"))?),
            "msid" => Self::Msid(complete(msid, "msid", v!("msid"))?),
            "mid" => Self::Mid(Mid::new(v!("mid")).map_err(ParseErrorKind::from)?),
            "group" => Self::Group(complete(group, "group", v!("group"))?),
            "ice-ufrag" => Self::IceUfrag(nonempty(v!("ice-ufrag"), "ice-ufrag")?),
            "ice-pwd" => Self::IcePwd(nonempty(v!("ice-pwd"), "ice-pwd")?),
            "ice-options" => Self::IceOptions(words(v!("ice-options"))),
            "candidate" => Self::Candidate(candidate::parse_value(v!("candidate"))?),
            "fingerprint" => {
                Self::Fingerprint(complete(fingerprint, "fingerprint", v!("fingerprint"))?)
            }
            "setup" => Self::Setup(Setup::from_token(complete(
                word("setup role"),
                "setup role",
                v!("setup"),
            )?)),
            "sctp-port" => {
                Self::SctpPort(complete(number("sctp port"), "sctp port", v!("sctp-port"))?)
            }
            "max-message-size" => Self::MaxMessageSize(complete(
                number("max message size"),
                "max message size",
                v!("max-message-size"),
            )?),
            "sctpmap" => Self::Sctpmap(complete(sctpmap, "sctpmap", v!("sctpmap"))?),
            "rid" => Self::Rid(complete(rid, "rid", v!("rid"))?),
            "simulcast" => Self::Simulcast(complete(simulcast, "simulcast", v!("simulcast"))?),
            "rtcp" => Self::Rtcp(complete(rtcp, "rtcp", v!("rtcp"))?),
            _ => Self::Unknown {
                name: name.to_owned(),
                value: value.map(str::to_owned),
            },
        })
    }
}

display_by_emit!(
    Attribute,
    Rtpmap,
    Parameter,
    Fmtp,
    RtcpFb,
    Extmap,
    SsrcAttribute,
    SsrcGroup,
    Msid,
    Group,
    FingerprintAttribute,
    Sctpmap,
    RidAttribute,
    Simulcast,
    Rtcp,
);

/// Names of the attributes that are typed, property ones included.
const TYPED_NAMES: &[&str] = &[
    "rtpmap",
    "fmtp",
    "rtcp-fb",
    "extmap",
    "extmap-allow-mixed",
    "ssrc",
    "ssrc-group",
    "msid",
    "mid",
    "group",
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "ice-lite",
    "candidate",
    "end-of-candidates",
    "fingerprint",
    "setup",
    "sctp-port",
    "max-message-size",
    "sctpmap",
    "rid",
    "simulcast",
    "rtcp",
    "rtcp-mux",
    "rtcp-mux-only",
    "rtcp-rsize",
    "sendrecv",
    "sendonly",
    "recvonly",
    "inactive",
];

fn nonempty(v: &str, what: &'static str) -> Result<String, ParseErrorKind> {
    if v.is_empty() {
        Err(ParseErrorKind::Invalid(what))
    } else {
        Ok(v.to_owned())
    }
}

/// Space-separated tokens; runs of spaces count as one separator.
fn words(v: &str) -> Vec<String> {
    v.split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Emit for Attribute {
    fn emit(&self, out: &mut String) {
        let value: &dyn Emit = match self {
            Self::Rtpmap(v) => v,
            Self::Fmtp(v) => v,
            Self::RtcpFb(v) => v,
            Self::Extmap(v) => v,
            Self::Ssrc(v) => v,
            Self::SsrcGroup(v) => v,
            Self::Msid(v) => v,
            Self::Group(v) => v,
            Self::Fingerprint(v) => v,
            Self::Sctpmap(v) => v,
            Self::Rid(v) => v,
            Self::Simulcast(v) => v,
            Self::Rtcp(v) => v,
            Self::Candidate(c) => return c.emit(out),
            Self::Mid(v) => {
                out.push_str("mid:");
                out.push_str(v.as_str());
                return;
            }
            Self::IceUfrag(v) | Self::IcePwd(v) => {
                out.push_str(self.name());
                out.push(':');
                out.push_str(v);
                return;
            }
            Self::IceOptions(v) => {
                out.push_str("ice-options:");
                push_joined(out, v, ' ');
                return;
            }
            Self::Setup(v) => {
                out.push_str("setup:");
                out.push_str(v.as_str());
                return;
            }
            Self::SctpPort(v) => {
                out.push_str("sctp-port:");
                num(out, *v);
                return;
            }
            Self::MaxMessageSize(v) => {
                out.push_str("max-message-size:");
                num(out, *v);
                return;
            }
            Self::ExtmapAllowMixed
            | Self::IceLite
            | Self::EndOfCandidates
            | Self::RtcpMux
            | Self::RtcpMuxOnly
            | Self::RtcpRsize
            | Self::Direction(_) => {
                out.push_str(self.name());
                return;
            }
            Self::Unknown { name, value } => {
                out.push_str(name);
                if let Some(v) = value {
                    out.push(':');
                    out.push_str(v);
                }
                return;
            }
        };
        out.push_str(self.name());
        out.push(':');
        value.emit(out);
    }
}

fn push_joined<S: AsRef<str>>(out: &mut String, items: &[S], sep: char) {
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(sep);
        }
        out.push_str(item.as_ref());
    }
}

/// `a=rtpmap` (RFC 8866 §6.6).
///
/// ```abnf
/// rtpmap-value = payload-type SP encoding-name
///                "/" clock-rate [ "/" encoding-params ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtpmap {
    /// `payload-type`.
    pub payload_type: PayloadType,
    /// `encoding-name`, as written (e.g. `opus`, `VP8`, `H264`).
    pub encoding_name: String,
    /// `clock-rate` in Hz.
    pub clock_rate: u32,
    /// `encoding-params`: the channel count for audio.
    pub channels: Option<u16>,
}

impl Emit for Rtpmap {
    fn emit(&self, out: &mut String) {
        num(out, self.payload_type.get());
        out.push(' ');
        out.push_str(&self.encoding_name);
        out.push('/');
        num(out, self.clock_rate);
        if let Some(c) = self.channels {
            out.push('/');
            num(out, c);
        }
    }
}

fn rtpmap(i: &str) -> Res<'_, Rtpmap> {
    let (i, payload_type) = payload_type(i)?;
    let (i, _) = sp("encoding name")(i)?;
    let (i, encoding_name) = till(&['/', ' '], "encoding name")(i)?;
    let (i, _) = sep('/', "clock rate")(i)?;
    let (i, clock_rate) = number("clock rate")(i)?;
    let (i, channels) = match i.strip_prefix('/') {
        Some(r) => {
            let (r, c) = number("encoding parameters")(r)?;
            (r, Some(c))
        }
        None => (i, None),
    };
    Ok((
        i,
        Rtpmap {
            payload_type,
            encoding_name: encoding_name.to_owned(),
            clock_rate,
            channels,
        },
    ))
}

/// A `name[=value]` parameter of `a=fmtp` or `a=rid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// Text before the first `=` (the whole parameter when there is none).
    pub name: String,
    /// Text after the first `=`.
    pub value: Option<String>,
}

impl Parameter {
    /// `name=value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Parameter {
            name: name.into(),
            value: Some(value.into()),
        }
    }

    /// A parameter with no `=` (e.g. telephone-event's `0-15`).
    pub fn flag(name: impl Into<String>) -> Self {
        Parameter {
            name: name.into(),
            value: None,
        }
    }
}

impl Emit for Parameter {
    fn emit(&self, out: &mut String) {
        out.push_str(&self.name);
        if let Some(v) = &self.value {
            out.push('=');
            out.push_str(v);
        }
    }
}

/// Splits `a;b=c; d` into parameters: `;`-separated, spaces and tabs around each trimmed,
/// empty ones dropped.
fn parameters(text: &str) -> impl Iterator<Item = Parameter> + '_ {
    text.split(';')
        .map(|p| p.trim_matches([' ', '\t']))
        .filter(|p| !p.is_empty())
        .map(|p| match p.find('=') {
            Some(at) => Parameter {
                name: p[..at].to_owned(),
                value: Some(p[at + 1..].to_owned()),
            },
            None => Parameter {
                name: p.to_owned(),
                value: None,
            },
        })
}

fn push_parameters(out: &mut String, params: &[Parameter]) {
    for (n, p) in params.iter().enumerate() {
        if n > 0 {
            out.push(';');
        }
        p.emit(out);
    }
}

/// `a=fmtp` (RFC 8866 §6.15), with the format-specific parameters split at `;`.
///
/// ```abnf
/// fmtp-value = fmt SP format-specific-params
/// format-specific-params = byte-string
/// ```
/// The parameters are written back joined by `;` with no spaces, as browsers write them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    /// The payload type the parameters are for.
    pub payload_type: PayloadType,
    /// The parameters, in order.
    pub parameters: Vec<Parameter>,
}

impl Fmtp {
    /// The value of parameter `name` (first occurrence); `Some("")` for `name=`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_deref().unwrap_or(""))
    }
}

impl Emit for Fmtp {
    fn emit(&self, out: &mut String) {
        num(out, self.payload_type.get());
        if !self.parameters.is_empty() {
            out.push(' ');
            push_parameters(out, &self.parameters);
        }
    }
}

fn fmtp(i: &str) -> Res<'_, Fmtp> {
    let (i, payload_type) = payload_type(i)?;
    let (i, params) = opt_tail(i)?;
    Ok((
        i,
        Fmtp {
            payload_type,
            parameters: params.map(|p| parameters(p).collect()).unwrap_or_default(),
        },
    ))
}

/// `rtcp-fb-id` (RFC 4585 §4.2, RFC 5104 §7.1, and the two browser extensions).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FeedbackType {
    /// `ack`.
    Ack,
    /// `nack` (with `pli`, `sli`, `rpsi` parameters).
    Nack,
    /// `trr-int`.
    TrrInt,
    /// `ccm` (RFC 5104: `fir`, `tmmbr`, ...).
    Ccm,
    /// `goog-remb` (receiver estimated maximum bitrate).
    GoogRemb,
    /// `transport-cc` (transport-wide congestion control).
    TransportCc,
    /// Any other token, as written.
    Other(String),
}

impl FeedbackType {
    fn from_token(s: &str) -> Self {
        match s {
            "ack" => Self::Ack,
            "nack" => Self::Nack,
            "trr-int" => Self::TrrInt,
            "ccm" => Self::Ccm,
            "goog-remb" => Self::GoogRemb,
            "transport-cc" => Self::TransportCc,
            _ => Self::Other(s.to_owned()),
        }
    }

    /// The token as written in SDP.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ack => "ack",
            Self::Nack => "nack",
            Self::TrrInt => "trr-int",
            Self::Ccm => "ccm",
            Self::GoogRemb => "goog-remb",
            Self::TransportCc => "transport-cc",
            Self::Other(s) => s,
        }
    }
}

/// `a=rtcp-fb` (RFC 4585 §4.2).
///
/// ```abnf
/// rtcp-fb-val = (fmt / "*") SP rtcp-fb-id [SP rtcp-fb-param]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpFb {
    /// The payload type, or `None` for `*` (all).
    pub payload_type: Option<PayloadType>,
    /// `rtcp-fb-id`.
    pub feedback: FeedbackType,
    /// `rtcp-fb-param`, as written (e.g. `pli`, `fir`).
    pub parameter: Option<String>,
}

impl Emit for RtcpFb {
    fn emit(&self, out: &mut String) {
        match self.payload_type {
            Some(pt) => num(out, pt.get()),
            None => out.push('*'),
        }
        out.push(' ');
        out.push_str(self.feedback.as_str());
        if let Some(p) = &self.parameter {
            out.push(' ');
            out.push_str(p);
        }
    }
}

fn rtcp_fb(i: &str) -> Res<'_, RtcpFb> {
    let (i, payload_type) = match i.strip_prefix('*') {
        Some(r) => (r, None),
        None => {
            let (r, pt) = payload_type(i)?;
            (r, Some(pt))
        }
    };
    let (i, _) = sp("feedback type")(i)?;
    let (i, feedback) = word("feedback type")(i)?;
    let (i, parameter) = opt_tail(i)?;
    Ok((
        i,
        RtcpFb {
            payload_type,
            feedback: FeedbackType::from_token(feedback),
            parameter: parameter.map(str::to_owned),
        },
    ))
}

/// Media direction (RFC 8866 §6.7), also used by `a=extmap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// `sendrecv` (the default).
    #[default]
    SendRecv,
    /// `sendonly`.
    SendOnly,
    /// `recvonly`.
    RecvOnly,
    /// `inactive`.
    Inactive,
}

impl Direction {
    fn from_token(s: &str) -> Option<Self> {
        match s {
            "sendrecv" => Some(Self::SendRecv),
            "sendonly" => Some(Self::SendOnly),
            "recvonly" => Some(Self::RecvOnly),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    /// The direction seen from the other side (`sendonly` <-> `recvonly`).
    pub fn reverse(self) -> Self {
        match self {
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            d => d,
        }
    }
}

/// `a=extmap` (RFC 8285 §7).
///
/// ```abnf
/// extmap = mapentry SP extensionname [SP extensionattributes]
/// mapentry = "extmap:" 1*5DIGIT ["/" direction]
/// direction = "sendonly" / "recvonly" / "sendrecv" / "inactive"
/// extensionname = URI
/// extensionattributes = byte-string
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extmap {
    /// The local identifier.
    pub id: ExtmapId,
    /// The direction, when given.
    pub direction: Option<Direction>,
    /// The extension URI.
    pub uri: String,
    /// `extensionattributes`, as written.
    pub attributes: Option<String>,
}

/// The `<value>` of `a=extmap` (RFC 8285 §5, §6): an RTP header extension id, or a number
/// outside the range an RTP packet can carry.
///
/// RFC 8285 §6 lets an offer use 4096-4351 for mutually exclusive alternatives, or for more
/// extensions than fit; the answerer remaps the ones it picks into 1-255. Such a mapping, and
/// any other number `1*5DIGIT` allows (0, 256-4095, above 4351), cannot be used until it is
/// remapped, but §5 lets a nonconforming mapping be presented, so it is kept as written.
///
/// [`ExtmapId::new`] sorts a number into its variant; the parser does the same, so a
/// [`Extended`](ExtmapId::Extended) holding a value in 1-255 does not come back equal.
///
/// ```
/// use ferrtc_sdp::{ExtensionId, ExtmapId};
///
/// assert_eq!(ExtmapId::new(3), ExtmapId::Id(ExtensionId::new(3).unwrap()));
/// assert_eq!(ExtmapId::new(4096), ExtmapId::Extended(4096));
/// assert!(ExtmapId::new(4096).is_negotiation_only());
/// assert_eq!(ExtmapId::new(0).extension_id(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExtmapId {
    /// 1-255: the id carried in the header extension (1-14 fit the one-byte form).
    Id(ExtensionId),
    /// Any other value: 4096-4351 offered for negotiation (RFC 8285 §6), or nonconforming.
    Extended(u16),
}

impl ExtmapId {
    /// First of the negotiation-only range (RFC 8285 §6).
    pub const NEGOTIATION_FIRST: u16 = 4096;
    /// Last of the negotiation-only range (RFC 8285 §6).
    pub const NEGOTIATION_LAST: u16 = 4351;

    /// The id `value` as SDP writes it: [`Id`](Self::Id) for 1-255, else
    /// [`Extended`](Self::Extended).
    pub fn new(value: u16) -> Self {
        match ExtensionId::try_from(value) {
            Ok(id) => Self::Id(id),
            Err(_) => Self::Extended(value),
        }
    }

    /// The number as written.
    pub fn get(self) -> u16 {
        match self {
            Self::Id(id) => u16::from(id.get()),
            Self::Extended(n) => n,
        }
    }

    /// The header extension id, when an RTP packet can carry it.
    pub fn extension_id(self) -> Option<ExtensionId> {
        match self {
            Self::Id(id) => Some(id),
            Self::Extended(_) => None,
        }
    }

    /// Whether this is in 4096-4351, offered only to be remapped (RFC 8285 §6).
    pub fn is_negotiation_only(self) -> bool {
        (Self::NEGOTIATION_FIRST..=Self::NEGOTIATION_LAST).contains(&self.get())
    }
}

impl From<ExtensionId> for ExtmapId {
    fn from(id: ExtensionId) -> Self {
        Self::Id(id)
    }
}

impl From<u16> for ExtmapId {
    /// See [`ExtmapId::new`].
    fn from(value: u16) -> Self {
        Self::new(value)
    }
}

impl PartialEq<u16> for ExtmapId {
    fn eq(&self, other: &u16) -> bool {
        self.get() == *other
    }
}

impl std::fmt::Display for ExtmapId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl Emit for Extmap {
    fn emit(&self, out: &mut String) {
        num(out, self.id.get());
        if let Some(d) = self.direction {
            out.push('/');
            out.push_str(d.as_str());
        }
        out.push(' ');
        out.push_str(&self.uri);
        if let Some(a) = &self.attributes {
            out.push(' ');
            out.push_str(a);
        }
    }
}

fn extmap(i: &str) -> Res<'_, Extmap> {
    let (i, id) = number::<u16>("extmap id")(i)?;
    let id = ExtmapId::new(id);
    let (i, direction) = match i.strip_prefix('/') {
        Some(r) => {
            let (r, d) = word("extmap direction")(r)?;
            let Some(d) = Direction::from_token(d) else {
                return failure(ParseErrorKind::Invalid("extmap direction"));
            };
            (r, Some(d))
        }
        None => (i, None),
    };
    let (i, _) = sp("extension URI")(i)?;
    let (i, uri) = word("extension URI")(i)?;
    let (i, attributes) = opt_tail(i)?;
    Ok((
        i,
        Extmap {
            id,
            direction,
            uri: uri.to_owned(),
            attributes: attributes.map(str::to_owned),
        },
    ))
}

/// `a=ssrc` (RFC 5576 §4.1).
///
/// ```abnf
/// ssrc-attr = "ssrc:" ssrc-id SP attribute
/// ; The base definition of "attribute" is in RFC 4566.
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsrcAttribute {
    /// `ssrc-id`.
    pub ssrc: Ssrc,
    /// The source attribute name (`cname`, `msid`, ...).
    pub name: String,
    /// Its value (`None` for the property form).
    pub value: Option<String>,
}

impl Emit for SsrcAttribute {
    fn emit(&self, out: &mut String) {
        num(out, self.ssrc.0);
        out.push(' ');
        out.push_str(&self.name);
        if let Some(v) = &self.value {
            out.push(':');
            out.push_str(v);
        }
    }
}

fn ssrc(i: &str) -> Res<'_, SsrcAttribute> {
    let (i, ssrc) = number("ssrc")(i)?;
    let ssrc = Ssrc(ssrc);
    let (i, _) = sp("source attribute")(i)?;
    let (i, name) = till(&[':'], "source attribute")(i)?;
    let value = i.strip_prefix(':');
    Ok((
        "",
        SsrcAttribute {
            ssrc,
            name: name.to_owned(),
            value: value.map(str::to_owned),
        },
    ))
}

/// `semantics` of `a=ssrc-group` (RFC 5576 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SsrcGroupSemantics {
    /// `FID`: flow identification (RTX, RFC 4588).
    Fid,
    /// `FEC` (RFC 5956).
    Fec,
    /// `FEC-FR` (RFC 5956).
    FecFr,
    /// `SIM`: legacy simulcast.
    Sim,
    /// Any other token, as written.
    Other(String),
}

impl SsrcGroupSemantics {
    fn from_token(s: &str) -> Self {
        match s {
            "FID" => Self::Fid,
            "FEC" => Self::Fec,
            "FEC-FR" => Self::FecFr,
            "SIM" => Self::Sim,
            _ => Self::Other(s.to_owned()),
        }
    }

    /// The token as written in SDP.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Fid => "FID",
            Self::Fec => "FEC",
            Self::FecFr => "FEC-FR",
            Self::Sim => "SIM",
            Self::Other(s) => s,
        }
    }
}

/// `a=ssrc-group` (RFC 5576 §4.2).
///
/// ```abnf
/// ssrc-group-attr = "ssrc-group:" semantics *(SP ssrc-id)
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsrcGroup {
    /// `semantics`.
    pub semantics: SsrcGroupSemantics,
    /// The SSRCs, in order.
    pub ssrcs: Vec<Ssrc>,
}

impl Emit for SsrcGroup {
    fn emit(&self, out: &mut String) {
        out.push_str(self.semantics.as_str());
        for s in &self.ssrcs {
            out.push(' ');
            num(out, s.0);
        }
    }
}

fn ssrc_group(i: &str) -> Res<'_, SsrcGroup> {
    let (mut i, semantics) = word("ssrc-group semantics")(i)?;
    let mut ssrcs = Vec::new();
    while !i.is_empty() {
        let (r, _) = sp("ssrc")(i)?;
        let (r, s) = number("ssrc")(r)?;
        ssrcs.push(Ssrc(s));
        i = r;
    }
    Ok((
        i,
        SsrcGroup {
            semantics: SsrcGroupSemantics::from_token(semantics),
            ssrcs,
        },
    ))
}

/// `a=msid` (RFC 8830 §2).
///
/// ```abnf
/// msid-value = msid-id [ SP msid-appdata ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msid {
    /// `msid-id`: the MediaStream id (`-` for none).
    pub stream_id: String,
    /// `msid-appdata`: the track id, as written.
    pub track_id: Option<String>,
}

impl Emit for Msid {
    fn emit(&self, out: &mut String) {
        out.push_str(&self.stream_id);
        if let Some(t) = &self.track_id {
            out.push(' ');
            out.push_str(t);
        }
    }
}

fn msid(i: &str) -> Res<'_, Msid> {
    let (i, stream_id) = word("msid id")(i)?;
    let (i, track_id) = opt_tail(i)?;
    Ok((
        i,
        Msid {
            stream_id: stream_id.to_owned(),
            track_id: track_id.map(str::to_owned),
        },
    ))
}

/// `semantics` of `a=group` (RFC 5888 §5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupSemantics {
    /// `BUNDLE` (RFC 9143).
    Bundle,
    /// `LS`: lip synchronization.
    Ls,
    /// `FID`: flow identification.
    Fid,
    /// Any other token, as written.
    Other(String),
}

impl GroupSemantics {
    fn from_token(s: &str) -> Self {
        match s {
            "BUNDLE" => Self::Bundle,
            "LS" => Self::Ls,
            "FID" => Self::Fid,
            _ => Self::Other(s.to_owned()),
        }
    }

    /// The token as written in SDP.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Bundle => "BUNDLE",
            Self::Ls => "LS",
            Self::Fid => "FID",
            Self::Other(s) => s,
        }
    }
}

/// `a=group` (RFC 5888 §5).
///
/// ```abnf
/// group-attribute = "a=group:" semantics *(SP identification-tag)
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// `semantics`.
    pub semantics: GroupSemantics,
    /// The `a=mid` values grouped, in order.
    pub mids: Vec<Mid>,
}

impl Emit for Group {
    fn emit(&self, out: &mut String) {
        out.push_str(self.semantics.as_str());
        for m in &self.mids {
            out.push(' ');
            out.push_str(m.as_str());
        }
    }
}

fn group(i: &str) -> Res<'_, Group> {
    let (i, semantics) = word("group semantics")(i)?;
    Ok((
        "",
        Group {
            semantics: GroupSemantics::from_token(semantics),
            mids: words(i)
                .into_iter()
                .map(Mid::new)
                .collect::<Result<_, _>>()
                .map_err(|e| nom::Err::Failure(Fail(e.into())))?,
        },
    ))
}

/// `a=fingerprint` (RFC 8122 §5).
///
/// ```abnf
/// fingerprint-attribute = "fingerprint" ":" hash-func SP fingerprint
/// hash-func             = "sha-1" / "sha-224" / "sha-256" /
///                         "sha-384" / "sha-512" /
///                         "md5" / "md2" / token
/// fingerprint           = 2UHEX *(":" 2UHEX)
/// ```
/// A hash function [`HashAlgorithm`] knows (matched without regard to case) gives a
/// [`Fingerprint`], whose digest length is checked; any other (`md5`, `sha-224`, a token) is
/// kept as written with its digest. Lower-case hex digits are accepted; upper case is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FingerprintAttribute {
    /// sha-1, sha-256, sha-384 or sha-512, with a digest of the right length.
    Known(Fingerprint),
    /// A hash function [`HashAlgorithm`] does not know.
    Other {
        /// `hash-func`, as written; never the name of a [`HashAlgorithm`] (that would parse
        /// back as [`Known`](Self::Known)).
        hash_function: String,
        /// The digest bytes (at least one).
        digest: Vec<u8>,
    },
}

impl FingerprintAttribute {
    /// The fingerprint, when the hash function is one [`HashAlgorithm`] knows.
    pub fn fingerprint(&self) -> Option<&Fingerprint> {
        match self {
            Self::Known(fp) => Some(fp),
            Self::Other { .. } => None,
        }
    }

    /// `hash-func` as the serializer writes it.
    pub fn hash_function(&self) -> &str {
        match self {
            Self::Known(fp) => fp.algorithm().name(),
            Self::Other { hash_function, .. } => hash_function,
        }
    }

    /// The digest bytes.
    pub fn digest(&self) -> &[u8] {
        match self {
            Self::Known(fp) => fp.digest(),
            Self::Other { digest, .. } => digest,
        }
    }
}

impl From<Fingerprint> for FingerprintAttribute {
    fn from(fp: Fingerprint) -> Self {
        Self::Known(fp)
    }
}

impl Emit for FingerprintAttribute {
    fn emit(&self, out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        out.push_str(self.hash_function());
        out.push(' ');
        for (n, b) in self.digest().iter().enumerate() {
            if n > 0 {
                out.push(':');
            }
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

fn fingerprint(i: &str) -> Res<'_, FingerprintAttribute> {
    let (i, hash) = word("hash function")(i)?;
    let (i, _) = sp("fingerprint")(i)?;
    let (i, hex) = word("fingerprint")(i)?;
    let mut digest = Vec::with_capacity(hex.len().div_ceil(3));
    for pair in hex.split(':') {
        let &[hi, lo] = pair.as_bytes() else {
            return failure(ParseErrorKind::Invalid("fingerprint"));
        };
        let (Some(hi), Some(lo)) = (hex_digit(hi), hex_digit(lo)) else {
            return failure(ParseErrorKind::Invalid("fingerprint"));
        };
        digest.push(hi << 4 | lo);
    }
    let attribute = match HashAlgorithm::from_name(hash) {
        Some(algorithm) => FingerprintAttribute::Known(
            Fingerprint::new(algorithm, &digest).map_err(|e| nom::Err::Failure(Fail(e.into())))?,
        ),
        None => FingerprintAttribute::Other {
            hash_function: hash.to_owned(),
            digest,
        },
    };
    Ok((i, attribute))
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `a=setup` role (RFC 4145 §4).
///
/// ```abnf
/// setup-attr = "a=setup:" role
/// role       = "active" / "passive" / "actpass" / "holdconn"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setup {
    /// `active`: this side opens the connection (DTLS client).
    Active,
    /// `passive`: this side accepts (DTLS server).
    Passive,
    /// `actpass`: either; the answerer chooses.
    Actpass,
    /// `holdconn`: no connection for now.
    Holdconn,
    /// Any other token, as written.
    Other(String),
}

impl Setup {
    fn from_token(s: &str) -> Self {
        match s {
            "active" => Self::Active,
            "passive" => Self::Passive,
            "actpass" => Self::Actpass,
            "holdconn" => Self::Holdconn,
            _ => Self::Other(s.to_owned()),
        }
    }

    /// The token as written in SDP.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Active => "active",
            Self::Passive => "passive",
            Self::Actpass => "actpass",
            Self::Holdconn => "holdconn",
            Self::Other(s) => s,
        }
    }
}

/// `a=sctpmap`, the old form of SCTP in SDP (draft-ietf-mmusic-sctp-sdp-05).
///
/// ```abnf
/// sctpmap-attr = "a=sctpmap:" sctpmap-number SP app [SP max-message-size]
/// ```
/// (The third field is the stream count in what old browsers wrote.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sctpmap {
    /// The SCTP port, also the media format.
    pub port: u16,
    /// The application, `webrtc-datachannel`.
    pub protocol: String,
    /// The third field (streams), when present.
    pub streams: Option<u32>,
}

impl Emit for Sctpmap {
    fn emit(&self, out: &mut String) {
        num(out, self.port);
        out.push(' ');
        out.push_str(&self.protocol);
        if let Some(s) = self.streams {
            out.push(' ');
            num(out, s);
        }
    }
}

fn sctpmap(i: &str) -> Res<'_, Sctpmap> {
    let (i, port) = number("sctpmap port")(i)?;
    let (i, _) = sp("sctpmap application")(i)?;
    let (i, protocol) = word("sctpmap application")(i)?;
    let (i, streams) = match i.strip_prefix(' ') {
        Some(r) => {
            let (r, s) = number("sctpmap streams")(r)?;
            (r, Some(s))
        }
        None => (i, None),
    };
    Ok((
        i,
        Sctpmap {
            port,
            protocol: protocol.to_owned(),
            streams,
        },
    ))
}

/// `rid-dir` (RFC 8851 §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RidDirection {
    /// `send`.
    Send,
    /// `recv`.
    Recv,
}

impl RidDirection {
    /// The token as written in SDP.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Recv => "recv",
        }
    }
}

/// `a=rid` (RFC 8851 §10).
///
/// ```abnf
/// rid-syntax        = %s"a=rid:" rid-id SP rid-dir
///                     [ rid-pt-param-list / rid-param-list ]
/// rid-id            = 1*(alpha-numeric / "-" / "_")
/// rid-dir           = %s"send" / %s"recv"
/// rid-pt-param-list = SP rid-fmt-list *( ";" rid-param )
/// rid-param-list    = SP rid-param *( ";" rid-param )
/// rid-fmt-list      = %s"pt=" fmt *( "," fmt )
/// ```
/// The restrictions (`max-width=1280`, `depend=...`) are kept as [`Parameter`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RidAttribute {
    /// `rid-id`.
    pub id: Rid,
    /// `rid-dir`.
    pub direction: RidDirection,
    /// `pt=` payload types (empty when absent).
    pub payload_types: Vec<PayloadType>,
    /// The other restrictions, in order.
    pub restrictions: Vec<Parameter>,
}

impl Emit for RidAttribute {
    fn emit(&self, out: &mut String) {
        out.push_str(self.id.as_str());
        out.push(' ');
        out.push_str(self.direction.as_str());
        if !self.payload_types.is_empty() {
            out.push_str(" pt=");
            for (n, pt) in self.payload_types.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                num(out, pt.get());
            }
            if !self.restrictions.is_empty() {
                out.push(';');
            }
        } else if !self.restrictions.is_empty() {
            out.push(' ');
        }
        push_parameters(out, &self.restrictions);
    }
}

fn rid(i: &str) -> Res<'_, RidAttribute> {
    let (i, id) = word("rid id")(i)?;
    let id = Rid::new(id).map_err(|e| nom::Err::Failure(Fail(e.into())))?;
    let (i, _) = sp("rid direction")(i)?;
    let (i, dir) = word("rid direction")(i)?;
    let direction = match dir {
        "send" => RidDirection::Send,
        "recv" => RidDirection::Recv,
        _ => return failure(ParseErrorKind::Invalid("rid direction")),
    };
    let (i, params) = opt_tail(i)?;
    let mut payload_types = Vec::new();
    let mut restrictions = Vec::new();
    for (n, p) in params.into_iter().flat_map(parameters).enumerate() {
        if n == 0 && p.name == "pt" {
            let Some(list) = p.value else {
                return failure(ParseErrorKind::Missing("rid payload types"));
            };
            for pt in list.split(',') {
                payload_types.push(
                    complete(crate::grammar::payload_type, "payload type", pt)
                        .map_err(|kind| nom::Err::Failure(Fail(kind)))?,
                );
            }
        } else {
            restrictions.push(p);
        }
    }
    Ok((
        i,
        RidAttribute {
            id,
            direction,
            payload_types,
            restrictions,
        },
    ))
}

/// One `sc-id` of `a=simulcast`: a rid, possibly paused (`~`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulcastRid {
    /// The `rid-id`.
    pub rid: Rid,
    /// Whether it was written with `~` (paused).
    pub paused: bool,
}

/// `a=simulcast` (RFC 8853 §5.1).
///
/// ```abnf
/// sc-value     = ( sc-send [SP sc-recv] ) / ( sc-recv [SP sc-send] )
/// sc-send      = %s"send" SP sc-str-list
/// sc-recv      = %s"recv" SP sc-str-list
/// sc-str-list  = sc-alt-list *( ";" sc-alt-list )
/// sc-alt-list  = sc-id *( "," sc-id )
/// sc-id-paused = "~"
/// sc-id        = [sc-id-paused] rid-id
/// ```
/// Each list holds simulcast streams, each stream a list of alternative rids. An empty list
/// means that direction is absent; `send` is written first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Simulcast {
    /// `send` streams.
    pub send: Vec<Vec<SimulcastRid>>,
    /// `recv` streams.
    pub recv: Vec<Vec<SimulcastRid>>,
}

fn push_sc_list(out: &mut String, list: &[Vec<SimulcastRid>]) {
    for (n, alts) in list.iter().enumerate() {
        if n > 0 {
            out.push(';');
        }
        for (m, id) in alts.iter().enumerate() {
            if m > 0 {
                out.push(',');
            }
            if id.paused {
                out.push('~');
            }
            out.push_str(id.rid.as_str());
        }
    }
}

impl Emit for Simulcast {
    fn emit(&self, out: &mut String) {
        if !self.send.is_empty() {
            out.push_str("send ");
            push_sc_list(out, &self.send);
            if !self.recv.is_empty() {
                out.push(' ');
            }
        }
        if !self.recv.is_empty() {
            out.push_str("recv ");
            push_sc_list(out, &self.recv);
        }
    }
}

fn sc_str_list(text: &str) -> Result<Vec<Vec<SimulcastRid>>, nom::Err<Fail>> {
    text.split(';')
        .map(|alts| {
            alts.split(',')
                .map(|id| {
                    let (rid, paused) = match id.strip_prefix('~') {
                        Some(r) => (r, true),
                        None => (id, false),
                    };
                    let Ok(rid) = Rid::new(rid) else {
                        return failure(ParseErrorKind::Invalid("simulcast rid"));
                    };
                    Ok(SimulcastRid { rid, paused })
                })
                .collect()
        })
        .collect()
}

fn simulcast(i: &str) -> Res<'_, Simulcast> {
    let mut sc = Simulcast::default();
    let mut i = i;
    for n in 0..2 {
        if n == 1 {
            if i.is_empty() {
                break;
            }
            i = sp("simulcast direction")(i)?.0;
        }
        let (r, dir) = word("simulcast direction")(i)?;
        let (r, _) = sp("simulcast stream list")(r)?;
        let (r, list) = word("simulcast stream list")(r)?;
        let slot = match dir {
            "send" if sc.send.is_empty() => &mut sc.send,
            "recv" if sc.recv.is_empty() => &mut sc.recv,
            _ => return failure(ParseErrorKind::Invalid("simulcast direction")),
        };
        *slot = sc_str_list(list)?;
        i = r;
    }
    Ok((i, sc))
}

/// The address part of `a=rtcp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpAddress {
    /// `nettype`.
    pub network_type: NetworkType,
    /// `addrtype`.
    pub address_type: AddressType,
    /// `connection-address`, as written.
    pub address: String,
}

/// `a=rtcp` (RFC 3605 §2.1).
///
/// ```abnf
/// rtcp-attribute = "a=rtcp:" port [nettype space addrtype space connection-address] CRLF
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtcp {
    /// The RTCP port.
    pub port: u16,
    /// The RTCP address, when given.
    pub address: Option<RtcpAddress>,
}

impl Emit for Rtcp {
    fn emit(&self, out: &mut String) {
        num(out, self.port);
        if let Some(a) = &self.address {
            out.push(' ');
            out.push_str(a.network_type.as_str());
            out.push(' ');
            out.push_str(a.address_type.as_str());
            out.push(' ');
            out.push_str(&a.address);
        }
    }
}

fn rtcp(i: &str) -> Res<'_, Rtcp> {
    let (i, port) = number("rtcp port")(i)?;
    if i.is_empty() {
        return Ok((
            i,
            Rtcp {
                port,
                address: None,
            },
        ));
    }
    let (i, _) = sp("network type")(i)?;
    let (i, nettype) = word("network type")(i)?;
    let (i, _) = sp("address type")(i)?;
    let (i, addrtype) = word("address type")(i)?;
    let (i, _) = sp("connection address")(i)?;
    let (i, address) = word("connection address")(i)?;
    Ok((
        i,
        Rtcp {
            port,
            address: Some(RtcpAddress {
                network_type: NetworkType::from_token(nettype),
                address_type: AddressType::from_token(addrtype),
                address: address.to_owned(),
            }),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{mid, pt};

    fn a(text: &str) -> Attribute {
        Attribute::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn bad(text: &str) -> ParseErrorKind {
        Attribute::parse(text).unwrap_err()
    }

    /// Parses, checks the canonical text, and checks it parses back equal.
    fn canonical(text: &str, expected: &str) -> Attribute {
        let attr = a(text);
        assert_eq!(attr.to_string(), expected);
        assert_eq!(a(expected), attr);
        attr
    }

    fn same(text: &str) -> Attribute {
        canonical(text, text)
    }

    #[test]
    fn rtpmap() {
        let Attribute::Rtpmap(r) = same("rtpmap:111 opus/48000/2") else {
            panic!()
        };
        assert_eq!(
            (
                r.payload_type,
                r.encoding_name.as_str(),
                r.clock_rate,
                r.channels
            ),
            (pt(111), "opus", 48_000, Some(2))
        );
        same("rtpmap:99 h263-1998/90000");
        assert_eq!(bad("rtpmap:96 VP8"), ParseErrorKind::Missing("clock rate"));
        assert_eq!(
            bad("rtpmap:200 VP8/90000"),
            ParseErrorKind::OutOfRange("payload type")
        );
        assert_eq!(bad("rtpmap:96"), ParseErrorKind::Missing("encoding name"));
        assert_eq!(
            bad("rtpmap:96 VP8/90000/2/3"),
            ParseErrorKind::Trailing("rtpmap")
        );
        assert_eq!(bad("rtpmap"), ParseErrorKind::MissingValue("rtpmap"));
    }

    #[test]
    fn fmtp() {
        let Attribute::Fmtp(f) =
            same("fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f")
        else {
            panic!()
        };
        assert_eq!(f.get("profile-level-id"), Some("42001f"));
        assert_eq!(f.parameters.len(), 3);
        let Attribute::Fmtp(f) = same("fmtp:97 0-15") else {
            panic!()
        };
        assert_eq!(f.parameters, vec![Parameter::flag("0-15")]);
        let Attribute::Fmtp(f) = canonical(
            "fmtp:111 minptime=10; useinbandfec=1;",
            "fmtp:111 minptime=10;useinbandfec=1",
        ) else {
            panic!()
        };
        assert_eq!(f.get("useinbandfec"), Some("1"));
        let Attribute::Fmtp(f) = same("fmtp:96 sprop-parameter-sets=Z0IACpZTBYmI,aMljiA==") else {
            panic!()
        };
        assert_eq!(f.get("sprop-parameter-sets"), Some("Z0IACpZTBYmI,aMljiA=="));
        same("fmtp:96");
        assert_eq!(
            bad("fmtp:x a=1"),
            ParseErrorKind::InvalidNumber("payload type")
        );
    }

    #[test]
    fn rtcp_fb() {
        let Attribute::RtcpFb(f) = same("rtcp-fb:96 nack pli") else {
            panic!()
        };
        assert_eq!(
            (f.payload_type, f.feedback, f.parameter.as_deref()),
            (Some(pt(96)), FeedbackType::Nack, Some("pli"))
        );
        let Attribute::RtcpFb(f) = same("rtcp-fb:* trr-int 100") else {
            panic!()
        };
        assert_eq!((f.payload_type, f.feedback), (None, FeedbackType::TrrInt));
        let Attribute::RtcpFb(f) = same("rtcp-fb:96 goog-lntf") else {
            panic!()
        };
        assert_eq!(f.feedback, FeedbackType::Other("goog-lntf".into()));
        same("rtcp-fb:96 transport-cc");
        same("rtcp-fb:96 ccm fir");
        assert_eq!(bad("rtcp-fb:96"), ParseErrorKind::Missing("feedback type"));
    }

    #[test]
    fn extmap_with_direction() {
        let Attribute::Extmap(e) =
            same("extmap:6/recvonly http://www.webrtc.org/experiments/rtp-hdrext/playout-delay")
        else {
            panic!()
        };
        assert_eq!((e.id.get(), e.direction), (6, Some(Direction::RecvOnly)));
        let Attribute::Extmap(e) = same("extmap:1 urn:ietf:params:rtp-hdrext:encrypt urn:x 1")
        else {
            panic!()
        };
        assert_eq!(e.attributes.as_deref(), Some("urn:x 1"));
        assert_eq!(
            bad("extmap:1/sideways urn:x"),
            ParseErrorKind::Invalid("extmap direction")
        );
        assert_eq!(bad("extmap:1"), ParseErrorKind::Missing("extension URI"));
        // RFC 8285 §6: 4096-4351 may be offered for negotiation; other numbers are kept too.
        let Attribute::Extmap(e) = same("extmap:4096 URI-gps-string") else {
            panic!()
        };
        assert_eq!(e.id, ExtmapId::Extended(4096));
        assert!(e.id.is_negotiation_only() && e.id.extension_id().is_none());
        let Attribute::Extmap(e) = same("extmap:255 urn:x") else {
            panic!()
        };
        assert_eq!(e.id.extension_id().map(ExtensionId::get), Some(255));
        let Attribute::Extmap(e) = same("extmap:0 urn:x") else {
            panic!()
        };
        assert_eq!(e.id, ExtmapId::Extended(0));
        assert!(!e.id.is_negotiation_only());
        assert_eq!(same("extmap-allow-mixed"), Attribute::ExtmapAllowMixed);
        assert_eq!(
            bad("extmap-allow-mixed:1"),
            ParseErrorKind::UnexpectedValue("extmap-allow-mixed")
        );
    }

    #[test]
    fn ssrc_and_groups() {
        let Attribute::Ssrc(s) = same(
            "ssrc:3629162994 msid:e1794e1f-ef9a-4ceb-8a76-1ee7304baef2 8152d972-9f0c-4693-930e-e142268ffe4a",
        ) else {
            panic!()
        };
        assert_eq!((s.ssrc, s.name.as_str()), (Ssrc(3_629_162_994), "msid"));
        let Attribute::Ssrc(s) = same("ssrc:1 cname:{fce141b5-3529}") else {
            panic!()
        };
        assert_eq!(s.value.as_deref(), Some("{fce141b5-3529}"));
        let Attribute::Ssrc(s) = same("ssrc:1 x-property") else {
            panic!()
        };
        assert_eq!(s.value, None);
        assert_eq!(
            bad("ssrc:4294967296 cname:x"),
            ParseErrorKind::OutOfRange("ssrc")
        );
        let Attribute::SsrcGroup(g) = same("ssrc-group:FID 588909761 1072067203") else {
            panic!()
        };
        assert_eq!(g.semantics, SsrcGroupSemantics::Fid);
        assert_eq!(g.ssrcs, vec![Ssrc(588_909_761), Ssrc(1_072_067_203)]);
        assert_eq!(
            bad("ssrc-group:FID 1 x"),
            ParseErrorKind::InvalidNumber("ssrc")
        );
    }

    #[test]
    fn msid_mid_group() {
        let Attribute::Msid(m) = same("msid:{7d921824} {a4a5c616}") else {
            panic!()
        };
        assert_eq!(
            (m.stream_id.as_str(), m.track_id.as_deref()),
            ("{7d921824}", Some("{a4a5c616}"))
        );
        let Attribute::Msid(m) = same("msid:47017fee-b6c1-4162-929c-a25110252400") else {
            panic!()
        };
        assert_eq!(m.track_id, None);
        assert_eq!(same("mid:a1"), Attribute::Mid(mid("a1")));
        assert_eq!(same("mid:{x}/1:é"), Attribute::Mid(mid("{x}/1:é")));
        assert_eq!(bad("mid:"), ParseErrorKind::Invalid("mid"));
        // A tag with a space could not stand in an `a=group` list.
        assert_eq!(bad("mid:a b"), ParseErrorKind::Invalid("mid"));
        assert_eq!(bad("mid:a\tb"), ParseErrorKind::Invalid("mid"));
        assert_eq!(bad("group:BUNDLE 0 a\tb"), ParseErrorKind::Invalid("mid"));
        let Attribute::Group(g) = same("group:BUNDLE 0 1") else {
            panic!()
        };
        assert_eq!(
            (g.semantics, g.mids),
            (GroupSemantics::Bundle, vec![mid("0"), mid("1")])
        );
        let Attribute::Group(g) = same("group:BUNDLE") else {
            panic!()
        };
        assert!(g.mids.is_empty());
        let Attribute::Group(g) = same("group:LS a1 v1") else {
            panic!()
        };
        assert_eq!(g.semantics, GroupSemantics::Ls);
    }

    #[test]
    fn ice_attributes() {
        assert_eq!(same("ice-ufrag:RoZs"), Attribute::IceUfrag("RoZs".into()));
        assert_eq!(
            same("ice-pwd:OpbwMaDXlACpWOhWVObdVxhG"),
            Attribute::IcePwd("OpbwMaDXlACpWOhWVObdVxhG".into())
        );
        assert_eq!(
            same("ice-options:trickle ice2"),
            Attribute::IceOptions(vec!["trickle".into(), "ice2".into()])
        );
        assert_eq!(same("ice-lite"), Attribute::IceLite);
        assert_eq!(same("end-of-candidates"), Attribute::EndOfCandidates);
        assert_eq!(bad("ice-ufrag"), ParseErrorKind::MissingValue("ice-ufrag"));
        let Attribute::Candidate(c) = same(
            "candidate:1 1 udp 1845494015 198.51.100.100 11100 typ srflx raddr 203.0.113.100 rport 10100",
        ) else {
            panic!()
        };
        assert_eq!(c.related_port, Some(10100));
        canonical(
            "candidate:0 1 UDP 2122187007 127.0.0.1 34701 typ host",
            "candidate:0 1 udp 2122187007 127.0.0.1 34701 typ host",
        );
    }

    #[test]
    fn fingerprint_and_setup() {
        let text = "fingerprint:sha-256 17:BE:A8:B3:15:84:4B:7F:ED:61:10:A6:A3:10:A0:03:73:78:A1:7B:8C:BD:26:0C:87:5A:5A:9C:46:25:12:06";
        let Attribute::Fingerprint(f) = same(text) else {
            panic!()
        };
        assert_eq!(
            f.fingerprint().map(Fingerprint::algorithm),
            Some(HashAlgorithm::Sha256)
        );
        assert_eq!(f.digest().len(), 32);
        assert_eq!(&f.digest()[..2], &[0x17, 0xbe]);
        // A known hash function is matched without regard to case; its digest length is
        // checked (sha-1: 20 bytes).
        let sha1 = ["ab"; 20].join(":");
        canonical(
            &format!("fingerprint:SHA-1 {sha1}"),
            &format!("fingerprint:sha-1 {}", sha1.to_uppercase()),
        );
        assert_eq!(
            bad("fingerprint:SHA-1 ab:cd"),
            ParseErrorKind::FingerprintLength {
                algorithm: HashAlgorithm::Sha1,
                expected: 20,
                actual: 2
            }
        );
        // Any other hash function is kept as written, with its digest.
        let Attribute::Fingerprint(f) = same("fingerprint:md5 AB:CD") else {
            panic!()
        };
        assert_eq!(
            f,
            FingerprintAttribute::Other {
                hash_function: "md5".into(),
                digest: vec![0xab, 0xcd]
            }
        );
        same("fingerprint:X-hash 01");
        assert_eq!(
            bad("fingerprint:sha-256 ABC:DE"),
            ParseErrorKind::Invalid("fingerprint")
        );
        assert_eq!(
            bad("fingerprint:sha-256 AB:"),
            ParseErrorKind::Invalid("fingerprint")
        );
        assert_eq!(
            bad("fingerprint:sha-256 GG"),
            ParseErrorKind::Invalid("fingerprint")
        );
        assert_eq!(
            bad("fingerprint:sha-256"),
            ParseErrorKind::Missing("fingerprint")
        );
        assert_eq!(same("setup:actpass"), Attribute::Setup(Setup::Actpass));
        assert_eq!(same("setup:active"), Attribute::Setup(Setup::Active));
        assert_eq!(
            same("setup:weird"),
            Attribute::Setup(Setup::Other("weird".into()))
        );
        assert_eq!(bad("setup:a b"), ParseErrorKind::Trailing("setup role"));
    }

    #[test]
    fn sctp() {
        assert_eq!(same("sctp-port:5000"), Attribute::SctpPort(5000));
        assert_eq!(
            same("max-message-size:1073741823"),
            Attribute::MaxMessageSize(1_073_741_823)
        );
        assert_eq!(
            bad("sctp-port:70000"),
            ParseErrorKind::OutOfRange("sctp port")
        );
        let Attribute::Sctpmap(m) = same("sctpmap:5000 webrtc-datachannel 1024") else {
            panic!()
        };
        assert_eq!(
            (m.port, m.protocol.as_str(), m.streams),
            (5000, "webrtc-datachannel", Some(1024))
        );
        same("sctpmap:5000 webrtc-datachannel");
    }

    #[test]
    fn rid_and_simulcast() {
        let Attribute::Rid(r) = same("rid:1 send") else {
            panic!()
        };
        assert_eq!((r.id.as_str(), r.direction), ("1", RidDirection::Send));
        let Attribute::Rid(r) = same("rid:hi recv pt=96,97;max-width=1280;max-height=720") else {
            panic!()
        };
        assert_eq!(r.payload_types, vec![pt(96), pt(97)]);
        assert_eq!(r.restrictions[0], Parameter::new("max-width", "1280"));
        let Attribute::Rid(r) = same("rid:lo send max-br=64000") else {
            panic!()
        };
        assert!(r.payload_types.is_empty());
        assert_eq!(bad("rid:1 both"), ParseErrorKind::Invalid("rid direction"));
        assert_eq!(bad("rid:a.b send"), ParseErrorKind::Invalid("rid id"));
        assert_eq!(
            bad("rid:1 send pt=x"),
            ParseErrorKind::InvalidNumber("payload type")
        );
        assert_eq!(
            bad("rid:1 send pt"),
            ParseErrorKind::Missing("rid payload types")
        );

        let Attribute::Simulcast(s) = same("simulcast:send 1;2;3") else {
            panic!()
        };
        assert_eq!(s.send.len(), 3);
        assert!(s.recv.is_empty());
        let Attribute::Simulcast(s) = canonical(
            "simulcast:recv 4 send 1,~2;3",
            "simulcast:send 1,~2;3 recv 4",
        ) else {
            panic!()
        };
        assert!(s.send[0][1].paused);
        assert_eq!(s.recv[0][0].rid, "4");
        assert_eq!(
            bad("simulcast:send 1 send 2"),
            ParseErrorKind::Invalid("simulcast direction")
        );
        assert_eq!(
            bad("simulcast:send"),
            ParseErrorKind::Missing("simulcast stream list")
        );
        assert_eq!(
            bad("simulcast:send 1;;2"),
            ParseErrorKind::Invalid("simulcast rid")
        );
    }

    #[test]
    fn rtcp_and_flags() {
        let Attribute::Rtcp(r) = same("rtcp:9 IN IP4 0.0.0.0") else {
            panic!()
        };
        assert_eq!(r.port, 9);
        assert_eq!(
            r.address.as_ref().map(|a| a.address.as_str()),
            Some("0.0.0.0")
        );
        assert_eq!(
            same("rtcp:45953"),
            Attribute::Rtcp(Rtcp {
                port: 45953,
                address: None
            })
        );
        assert_eq!(bad("rtcp:9 IN"), ParseErrorKind::Missing("address type"));
        assert_eq!(same("rtcp-mux"), Attribute::RtcpMux);
        assert_eq!(same("rtcp-mux-only"), Attribute::RtcpMuxOnly);
        assert_eq!(same("rtcp-rsize"), Attribute::RtcpRsize);
        for d in ["sendrecv", "sendonly", "recvonly", "inactive"] {
            let Attribute::Direction(dir) = same(d) else {
                panic!()
            };
            assert_eq!(dir.as_str(), d);
        }
        assert_eq!(Direction::SendOnly.reverse(), Direction::RecvOnly);
        assert_eq!(
            bad("sendrecv:1"),
            ParseErrorKind::UnexpectedValue("sendrecv")
        );
    }

    #[test]
    fn unknown_kept_verbatim() {
        assert_eq!(
            same("msid-semantic: WMS e1794e1f"),
            Attribute::Unknown {
                name: "msid-semantic".into(),
                value: Some(" WMS e1794e1f".into())
            }
        );
        assert_eq!(
            same("bundle-only"),
            Attribute::Unknown {
                name: "bundle-only".into(),
                value: None
            }
        );
        assert_eq!(
            same("x-empty:"),
            Attribute::Unknown {
                name: "x-empty".into(),
                value: Some(String::new())
            }
        );
        same("imageattr:100 recv [x=[48:1920],y=[48:1080],q=1.0]");
        // Names are case-sensitive: a known name in other case is unknown.
        assert!(matches!(same("MID:x"), Attribute::Unknown { .. }));
        assert_eq!(bad(":x"), ParseErrorKind::Missing("attribute name"));
        assert!(Attribute::is_typed_name("rtcp-mux"));
        assert!(!Attribute::is_typed_name("tls-id"));
    }
}
