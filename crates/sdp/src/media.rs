//! Media sections: `m=` and the `i= c= b= k= a=` lines under it (RFC 8866 §5.14).

use std::fmt;

use crate::attribute::{
    Attribute, Direction, Extmap, ExtmapId, FingerprintAttribute, Fmtp, Msid, Parameter,
    RidAttribute, Rtcp, RtcpFb, Rtpmap, Setup, Simulcast, SsrcAttribute, SsrcGroup,
};
use crate::candidate::Candidate;
use crate::emit::{Emit, display_by_emit, num};
use crate::grammar::{Res, number, sp, word};
use crate::session::{Bandwidth, Connection, line, text_line};
use crate::{Mid, PayloadType, Ssrc};

/// `media` of an `m=` line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MediaKind {
    /// `audio`.
    Audio,
    /// `video`.
    Video,
    /// `text`.
    Text,
    /// `application` (data channels).
    Application,
    /// `message`.
    Message,
    /// `image`.
    Image,
    /// Any other token, as written.
    Other(String),
}

impl MediaKind {
    fn from_token(s: &str) -> Self {
        match s {
            "audio" => Self::Audio,
            "video" => Self::Video,
            "text" => Self::Text,
            "application" => Self::Application,
            "message" => Self::Message,
            "image" => Self::Image,
            _ => Self::Other(s.to_owned()),
        }
    }

    /// The token as written in SDP.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Text => "text",
            Self::Application => "application",
            Self::Message => "message",
            Self::Image => "image",
            Self::Other(s) => s,
        }
    }
}

/// One media section (RFC 8866 §5.14).
///
/// ```abnf
/// media-description = media-field
///                     [information-field]
///                     *connection-field
///                     *bandwidth-field
///                     [key-field]
///                     *attribute-field
/// media-field       = %s"m" "=" media SP port ["/" integer]
///                     SP proto 1*(SP fmt) CRLF
/// ```
/// Build one with [`MediaDescription::new`] and the chained `with_*` methods; read it with
/// the typed accessors ([`mid`](Self::mid), [`rtpmaps`](Self::rtpmaps),
/// [`candidates`](Self::candidates), ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `media`.
    pub kind: MediaKind,
    /// `port` (9 is the WebRTC "discard" placeholder, 0 rejects the section).
    pub port: u16,
    /// The `/integer` after the port.
    pub port_count: Option<u16>,
    /// `proto`, as written (e.g. `UDP/TLS/RTP/SAVPF`, `UDP/DTLS/SCTP`).
    pub protocol: String,
    /// The `fmt` list, as written (payload types for RTP, `webrtc-datachannel` for SCTP).
    pub formats: Vec<String>,
    /// `i=`.
    pub title: Option<String>,
    /// `c=` lines.
    pub connections: Vec<Connection>,
    /// `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `k=` (obsolete), as written.
    pub key: Option<String>,
    /// `a=` lines, in order.
    pub attributes: Vec<Attribute>,
}

/// Parses the value of an `m=` line.
pub(crate) fn media_line(i: &str) -> Res<'_, MediaDescription> {
    let (i, kind) = word("media type")(i)?;
    let (i, _) = sp("port")(i)?;
    let (i, port) = number("port")(i)?;
    let (i, port_count) = match i.strip_prefix('/') {
        Some(r) => {
            let (r, n) = number("port count")(r)?;
            (r, Some(n))
        }
        None => (i, None),
    };
    let (i, _) = sp("protocol")(i)?;
    let (mut i, protocol) = word("protocol")(i)?;
    let mut formats = Vec::new();
    while !i.is_empty() {
        let (r, _) = sp("format")(i)?;
        let (r, f) = word("format")(r)?;
        formats.push(f.to_owned());
        i = r;
    }
    Ok((
        i,
        MediaDescription {
            kind: MediaKind::from_token(kind),
            port,
            port_count,
            protocol: protocol.to_owned(),
            formats,
            title: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: Vec::new(),
        },
    ))
}

macro_rules! find_attr {
    ($self:ident, $pat:pat => $out:expr) => {
        $self.attributes.iter().find_map(|a| match a {
            $pat => Some($out),
            _ => None,
        })
    };
}

macro_rules! filter_attr {
    ($self:ident, $pat:pat => $out:expr) => {
        $self.attributes.iter().filter_map(|a| match a {
            $pat => Some($out),
            _ => None,
        })
    };
}

impl MediaDescription {
    /// An `m=<kind> <port> <protocol>` section with no formats and no attributes.
    pub fn new(kind: MediaKind, port: u16, protocol: impl Into<String>) -> Self {
        MediaDescription {
            kind,
            port,
            port_count: None,
            protocol: protocol.into(),
            formats: Vec::new(),
            title: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: Vec::new(),
        }
    }

    /// Writes this section's lines, CRLF-terminated.
    pub fn write_to<W: fmt::Write>(&self, w: &mut W) -> fmt::Result {
        let mut text = String::new();
        self.emit(&mut text);
        w.write_str(&text)
    }

    // ---- getters -------------------------------------------------------------------------

    /// The formats that are RTP payload types (decimal, 0-127), in order.
    pub fn payload_types(&self) -> impl Iterator<Item = PayloadType> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok().and_then(PayloadType::new))
    }

    /// Whether the protocol carries RTP (`RTP/...` or `.../RTP/...`).
    pub fn is_rtp(&self) -> bool {
        self.protocol.split('/').any(|t| t == "RTP")
    }

    /// Whether the port is 0: a rejected or removed section (RFC 8866 §5.14, RFC 8829).
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }

    /// The attributes named `name`, typed or not.
    pub fn attributes_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Attribute> {
        self.attributes.iter().filter(move |a| a.name() == name)
    }

    /// Whether a property attribute such as `a=rtcp-mux` or `a=bundle-only` is present.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attributes.iter().any(|a| a.name() == name)
    }

    /// `a=mid`.
    pub fn mid(&self) -> Option<&Mid> {
        find_attr!(self, Attribute::Mid(m) => m)
    }

    /// The direction attribute; `None` when absent (which means `sendrecv`, or the session
    /// level's).
    pub fn direction(&self) -> Option<Direction> {
        find_attr!(self, Attribute::Direction(d) => *d)
    }

    /// `a=ice-ufrag`.
    pub fn ice_ufrag(&self) -> Option<&str> {
        find_attr!(self, Attribute::IceUfrag(u) => u.as_str())
    }

    /// `a=ice-pwd`.
    pub fn ice_pwd(&self) -> Option<&str> {
        find_attr!(self, Attribute::IcePwd(p) => p.as_str())
    }

    /// `a=ice-options` tokens (all lines, in order).
    pub fn ice_options(&self) -> impl Iterator<Item = &str> {
        filter_attr!(self, Attribute::IceOptions(o) => o.iter().map(String::as_str)).flatten()
    }

    /// `a=candidate` lines, in order.
    pub fn candidates(&self) -> impl Iterator<Item = &Candidate> {
        filter_attr!(self, Attribute::Candidate(c) => c)
    }

    /// Whether `a=end-of-candidates` is present.
    pub fn end_of_candidates(&self) -> bool {
        self.attributes.contains(&Attribute::EndOfCandidates)
    }

    /// `a=fingerprint` lines.
    pub fn fingerprints(&self) -> impl Iterator<Item = &FingerprintAttribute> {
        filter_attr!(self, Attribute::Fingerprint(f) => f)
    }

    /// `a=setup`.
    pub fn setup(&self) -> Option<&Setup> {
        find_attr!(self, Attribute::Setup(s) => s)
    }

    /// `a=rtpmap` lines, in order.
    pub fn rtpmaps(&self) -> impl Iterator<Item = &Rtpmap> {
        filter_attr!(self, Attribute::Rtpmap(r) => r)
    }

    /// The `a=rtpmap` for payload type `pt`.
    pub fn rtpmap(&self, pt: PayloadType) -> Option<&Rtpmap> {
        self.rtpmaps().find(|r| r.payload_type == pt)
    }

    /// `a=fmtp` lines, in order.
    pub fn fmtps(&self) -> impl Iterator<Item = &Fmtp> {
        filter_attr!(self, Attribute::Fmtp(f) => f)
    }

    /// The `a=fmtp` for payload type `pt`.
    pub fn fmtp(&self, pt: PayloadType) -> Option<&Fmtp> {
        self.fmtps().find(|f| f.payload_type == pt)
    }

    /// `a=rtcp-fb` lines, in order.
    pub fn rtcp_fbs(&self) -> impl Iterator<Item = &RtcpFb> {
        filter_attr!(self, Attribute::RtcpFb(f) => f)
    }

    /// The `a=rtcp-fb` lines that apply to payload type `pt` (its own and `*`).
    pub fn rtcp_fbs_for(&self, pt: PayloadType) -> impl Iterator<Item = &RtcpFb> {
        self.rtcp_fbs()
            .filter(move |f| f.payload_type.is_none_or(|p| p == pt))
    }

    /// The RTP codecs of this section, in `m=` line order: each payload type with its
    /// `a=rtpmap`, `a=fmtp` and `a=rtcp-fb` lines.
    pub fn codecs(&self) -> impl Iterator<Item = Codec<'_>> {
        self.payload_types().map(move |payload_type| Codec {
            payload_type,
            rtpmap: self.rtpmap(payload_type),
            fmtp: self.fmtp(payload_type),
            media: self,
        })
    }

    /// `a=extmap` lines, in order.
    pub fn extmaps(&self) -> impl Iterator<Item = &Extmap> {
        filter_attr!(self, Attribute::Extmap(e) => e)
    }

    /// Whether `a=extmap-allow-mixed` is present in this section.
    pub fn extmap_allow_mixed(&self) -> bool {
        self.attributes.contains(&Attribute::ExtmapAllowMixed)
    }

    /// `a=msid` lines.
    pub fn msids(&self) -> impl Iterator<Item = &Msid> {
        filter_attr!(self, Attribute::Msid(m) => m)
    }

    /// `a=ssrc` lines, in order.
    pub fn ssrcs(&self) -> impl Iterator<Item = &SsrcAttribute> {
        filter_attr!(self, Attribute::Ssrc(s) => s)
    }

    /// `a=ssrc-group` lines.
    pub fn ssrc_groups(&self) -> impl Iterator<Item = &SsrcGroup> {
        filter_attr!(self, Attribute::SsrcGroup(g) => g)
    }

    /// `a=rid` lines.
    pub fn rids(&self) -> impl Iterator<Item = &RidAttribute> {
        filter_attr!(self, Attribute::Rid(r) => r)
    }

    /// `a=simulcast`.
    pub fn simulcast(&self) -> Option<&Simulcast> {
        find_attr!(self, Attribute::Simulcast(s) => s)
    }

    /// `a=rtcp`.
    pub fn rtcp(&self) -> Option<&Rtcp> {
        find_attr!(self, Attribute::Rtcp(r) => r)
    }

    /// Whether `a=rtcp-mux` is present.
    pub fn rtcp_mux(&self) -> bool {
        self.attributes.contains(&Attribute::RtcpMux)
    }

    /// Whether `a=rtcp-mux-only` is present.
    pub fn rtcp_mux_only(&self) -> bool {
        self.attributes.contains(&Attribute::RtcpMuxOnly)
    }

    /// Whether `a=rtcp-rsize` is present.
    pub fn rtcp_rsize(&self) -> bool {
        self.attributes.contains(&Attribute::RtcpRsize)
    }

    /// `a=sctp-port`.
    pub fn sctp_port(&self) -> Option<u16> {
        find_attr!(self, Attribute::SctpPort(p) => *p)
    }

    /// `a=max-message-size`.
    pub fn max_message_size(&self) -> Option<u64> {
        find_attr!(self, Attribute::MaxMessageSize(m) => *m)
    }

    // ---- builders ------------------------------------------------------------------------

    /// Appends a format (`fmt`) to the `m=` line.
    pub fn with_format(mut self, format: impl Into<String>) -> Self {
        self.formats.push(format.into());
        self
    }

    /// Appends a `c=` line.
    pub fn with_connection(mut self, connection: Connection) -> Self {
        self.connections.push(connection);
        self
    }

    /// Appends a `b=` line.
    pub fn with_bandwidth(mut self, bandwidth: Bandwidth) -> Self {
        self.bandwidths.push(bandwidth);
        self
    }

    /// Appends any attribute.
    pub fn with_attribute(mut self, attribute: Attribute) -> Self {
        self.attributes.push(attribute);
        self
    }

    /// Appends `a=mid`.
    pub fn with_mid(self, mid: Mid) -> Self {
        self.with_attribute(Attribute::Mid(mid))
    }

    /// Appends a direction attribute.
    pub fn with_direction(self, direction: Direction) -> Self {
        self.with_attribute(Attribute::Direction(direction))
    }

    /// Appends `a=ice-ufrag` and `a=ice-pwd`.
    pub fn with_ice_credentials(self, ufrag: impl Into<String>, pwd: impl Into<String>) -> Self {
        self.with_attribute(Attribute::IceUfrag(ufrag.into()))
            .with_attribute(Attribute::IcePwd(pwd.into()))
    }

    /// Appends `a=ice-options`.
    pub fn with_ice_options<I, S>(self, options: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_attribute(Attribute::IceOptions(
            options.into_iter().map(Into::into).collect(),
        ))
    }

    /// Appends `a=fingerprint`.
    pub fn with_fingerprint(self, fingerprint: impl Into<FingerprintAttribute>) -> Self {
        self.with_attribute(Attribute::Fingerprint(fingerprint.into()))
    }

    /// Appends `a=setup`.
    pub fn with_setup(self, setup: Setup) -> Self {
        self.with_attribute(Attribute::Setup(setup))
    }

    /// Appends `a=candidate`.
    pub fn with_candidate(self, candidate: Candidate) -> Self {
        self.with_attribute(Attribute::Candidate(candidate))
    }

    /// Appends `a=end-of-candidates`.
    pub fn with_end_of_candidates(self) -> Self {
        self.with_attribute(Attribute::EndOfCandidates)
    }

    /// Appends the payload type to the `m=` line and its `a=rtpmap`.
    pub fn with_codec(
        self,
        payload_type: PayloadType,
        encoding_name: impl Into<String>,
        clock_rate: u32,
        channels: Option<u16>,
    ) -> Self {
        self.with_format(payload_type.to_string())
            .with_attribute(Attribute::Rtpmap(Rtpmap {
                payload_type,
                encoding_name: encoding_name.into(),
                clock_rate,
                channels,
            }))
    }

    /// Appends `a=fmtp:<pt> <parameters>`.
    pub fn with_fmtp<I>(self, payload_type: PayloadType, parameters: I) -> Self
    where
        I: IntoIterator<Item = Parameter>,
    {
        self.with_attribute(Attribute::Fmtp(Fmtp {
            payload_type,
            parameters: parameters.into_iter().collect(),
        }))
    }

    /// Appends `a=rtcp-fb`.
    pub fn with_rtcp_fb(self, rtcp_fb: RtcpFb) -> Self {
        self.with_attribute(Attribute::RtcpFb(rtcp_fb))
    }

    /// Appends `a=extmap:<id> <uri>`.
    pub fn with_extmap(self, id: impl Into<ExtmapId>, uri: impl Into<String>) -> Self {
        self.with_attribute(Attribute::Extmap(Extmap {
            id: id.into(),
            direction: None,
            uri: uri.into(),
            attributes: None,
        }))
    }

    /// Appends `a=msid:<stream> <track>`.
    pub fn with_msid(self, stream_id: impl Into<String>, track_id: impl Into<String>) -> Self {
        self.with_attribute(Attribute::Msid(Msid {
            stream_id: stream_id.into(),
            track_id: Some(track_id.into()),
        }))
    }

    /// Appends `a=ssrc:<ssrc> <name>:<value>`.
    pub fn with_ssrc(self, ssrc: Ssrc, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.with_attribute(Attribute::Ssrc(SsrcAttribute {
            ssrc,
            name: name.into(),
            value: Some(value.into()),
        }))
    }

    /// Appends `a=ssrc-group`.
    pub fn with_ssrc_group(self, group: SsrcGroup) -> Self {
        self.with_attribute(Attribute::SsrcGroup(group))
    }

    /// Appends `a=rtcp-mux`.
    pub fn with_rtcp_mux(self) -> Self {
        self.with_attribute(Attribute::RtcpMux)
    }

    /// Appends `a=rtcp-rsize`.
    pub fn with_rtcp_rsize(self) -> Self {
        self.with_attribute(Attribute::RtcpRsize)
    }

    /// Appends `a=sctp-port`.
    pub fn with_sctp_port(self, port: u16) -> Self {
        self.with_attribute(Attribute::SctpPort(port))
    }

    /// Appends `a=max-message-size`.
    pub fn with_max_message_size(self, size: u64) -> Self {
        self.with_attribute(Attribute::MaxMessageSize(size))
    }
}

/// One RTP payload type of a media section with what the section says about it (see
/// [`MediaDescription::codecs`]).
#[derive(Debug, Clone, Copy)]
pub struct Codec<'a> {
    /// The payload type.
    pub payload_type: PayloadType,
    /// Its `a=rtpmap`, if any (static payload types may have none).
    pub rtpmap: Option<&'a Rtpmap>,
    /// Its `a=fmtp`, if any.
    pub fmtp: Option<&'a Fmtp>,
    media: &'a MediaDescription,
}

impl<'a> Codec<'a> {
    /// The `a=rtcp-fb` lines that apply (its own and `*`).
    pub fn feedback(&self) -> impl Iterator<Item = &'a RtcpFb> + use<'a> {
        let pt = self.payload_type;
        self.media.rtcp_fbs_for(pt)
    }

    /// The encoding name (`rtpmap`), e.g. `VP8`, `opus`, `rtx`.
    pub fn name(&self) -> Option<&'a str> {
        self.rtpmap.map(|r| r.encoding_name.as_str())
    }
}

impl Emit for MediaDescription {
    fn emit(&self, out: &mut String) {
        out.push_str("m=");
        out.push_str(self.kind.as_str());
        out.push(' ');
        num(out, self.port);
        if let Some(n) = self.port_count {
            out.push('/');
            num(out, n);
        }
        out.push(' ');
        out.push_str(&self.protocol);
        for f in &self.formats {
            out.push(' ');
            out.push_str(f);
        }
        out.push_str("\r\n");
        if let Some(i) = &self.title {
            text_line(out, "i=", i);
        }
        for c in &self.connections {
            line(out, "c=", c);
        }
        for b in &self.bandwidths {
            line(out, "b=", b);
        }
        if let Some(k) = &self.key {
            text_line(out, "k=", k);
        }
        for a in &self.attributes {
            line(out, "a=", a);
        }
    }
}

display_by_emit!(MediaDescription);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::complete;
    use crate::test_util::{mid, pt};
    use crate::{ParseErrorKind, SessionDescription};

    #[test]
    fn media_line_forms() {
        let m = complete(media_line, "m", "video 51372 RTP/AVP 99").unwrap();
        assert_eq!(
            (&m.kind, m.port, m.protocol.as_str()),
            (&MediaKind::Video, 51372, "RTP/AVP")
        );
        assert_eq!(m.payload_types().collect::<Vec<_>>(), vec![pt(99)]);
        assert!(m.is_rtp());
        let m = complete(media_line, "m", "audio 49170/2 RTP/AVP 0 8").unwrap();
        assert_eq!(m.port_count, Some(2));
        let m = complete(
            media_line,
            "m",
            "application 9 UDP/DTLS/SCTP webrtc-datachannel",
        )
        .unwrap();
        assert_eq!(m.formats, vec!["webrtc-datachannel".to_owned()]);
        assert!(!m.is_rtp());
        assert_eq!(m.payload_types().count(), 0);
        let m = complete(media_line, "m", "x-thing 0 udp").unwrap();
        assert_eq!(m.kind, MediaKind::Other("x-thing".into()));
        assert!(m.is_rejected());
        assert_eq!(
            complete(media_line, "m", "audio x RTP/AVP 0"),
            Err(ParseErrorKind::InvalidNumber("port"))
        );
        assert_eq!(
            complete(media_line, "m", "audio 9"),
            Err(ParseErrorKind::Missing("protocol"))
        );
    }

    #[test]
    fn builder_writes_what_parse_reads() {
        let m = MediaDescription::new(MediaKind::Audio, 9, "UDP/TLS/RTP/SAVPF")
            .with_connection(Connection::new([0, 0, 0, 0].into()))
            .with_mid(mid("0"))
            .with_direction(Direction::SendRecv)
            .with_ice_credentials("abcd", "0123456789abcdef01234567")
            .with_codec(pt(111), "opus", 48_000, Some(2))
            .with_fmtp(
                pt(111),
                [
                    Parameter::new("minptime", "10"),
                    Parameter::new("useinbandfec", "1"),
                ],
            )
            .with_rtcp_fb(RtcpFb {
                payload_type: Some(pt(111)),
                feedback: crate::FeedbackType::TransportCc,
                parameter: None,
            })
            .with_extmap(1, "urn:ietf:params:rtp-hdrext:sdes:mid")
            .with_msid("stream", "track")
            .with_ssrc(Ssrc(1234), "cname", "x")
            .with_rtcp_mux()
            .with_rtcp_rsize()
            .with_setup(Setup::Actpass)
            .with_end_of_candidates();
        let sdp = SessionDescription::builder()
            .bundle([mid("0")])
            .media(m.clone())
            .build();
        let text = sdp.to_string();
        assert!(text.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
        assert!(text.contains("a=rtpmap:111 opus/48000/2\r\n"));
        assert!(text.contains("a=fmtp:111 minptime=10;useinbandfec=1\r\n"));
        let back = SessionDescription::parse(&text).unwrap();
        assert_eq!(back, sdp);
        let media = &back.media[0];
        assert_eq!(media.mid().map(Mid::as_str), Some("0"));
        assert_eq!(media.ice_ufrag(), Some("abcd"));
        assert_eq!(media.rtcp_fbs_for(pt(111)).count(), 1);
        assert!(media.rtcp_mux() && media.rtcp_rsize() && media.end_of_candidates());
        assert_eq!(media.setup(), Some(&Setup::Actpass));
        assert_eq!(back.media_by_mid("0"), Some(&m));
        let codecs: Vec<_> = media.codecs().collect();
        assert_eq!(codecs.len(), 1);
        assert_eq!(codecs[0].name(), Some("opus"));
        assert_eq!(codecs[0].fmtp.and_then(|f| f.get("minptime")), Some("10"));
        assert_eq!(codecs[0].feedback().count(), 1);
        assert_eq!(
            back.bundle_group().map(|g| g.mids.clone()),
            Some(vec![mid("0")])
        );
    }
}
