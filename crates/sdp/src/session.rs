//! The session level: `v= o= s= i= u= e= p= c= b= t= r= z= k= a=` (RFC 8866 §5).

use std::fmt;

use nom::Parser;
use nom::character::complete::char;
use nom::combinator::opt;
use nom::sequence::preceded;

use crate::attribute::{Attribute, Direction, FingerprintAttribute, Group, GroupSemantics, Setup};
use crate::candidate::Candidate;
use crate::emit::{Emit, display_by_emit, num};
use crate::grammar::{Res, failure, number, sp, till, word};
use crate::{BuildError, MediaDescription, Mid, ParseError, ParseErrorKind};

/// A whole SDP session description (RFC 8866 §5): the session section, then the media
/// sections.
///
/// `v=0` is implied (it is the only version). Parse with [`SessionDescription::parse`];
/// serialize with [`Display`](fmt::Display) (`to_string()`) or
/// [`serialize_into`](SessionDescription::serialize_into), which write canonical SDP with CRLF
/// line endings; build one from scratch with [`SessionDescription::builder`].
///
/// `parse(serialize(x)) == x` holds for every value whose free-text fields follow the grammar:
/// no CR, LF or NUL anywhere, no leading or trailing whitespace on a field, no space inside a
/// field the grammar separates with spaces, and at least one [`Timing`]. Every value
/// [`parse`](SessionDescription::parse) returns follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`: who made the session and its version.
    pub origin: Origin,
    /// `s=`: the session name (`-` when it has none, as browsers write).
    pub session_name: String,
    /// `i=`: session information.
    pub information: Option<String>,
    /// `u=`: a URI with more about the session.
    pub uri: Option<String>,
    /// `e=` lines, in order.
    pub emails: Vec<String>,
    /// `p=` lines, in order.
    pub phones: Vec<String>,
    /// `c=` at session level.
    pub connection: Option<Connection>,
    /// `b=` lines at session level.
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines (at least one), each with its `r=` lines.
    pub timings: Vec<Timing>,
    /// `z=`: time zone adjustments (empty when there is no `z=` line).
    pub time_zones: Vec<TimeZone>,
    /// `k=` (obsolete, RFC 8866 §5.12), kept as written.
    pub key: Option<String>,
    /// Session-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
    /// The media sections (`m=` and what follows each), in order.
    pub media: Vec<MediaDescription>,
}

impl SessionDescription {
    /// Checks that this description serializes to SDP that parses back to it: each line
    /// is written and read back with the parser's grammar, the parser's per-section rules
    /// apply (one `a=mid`, one direction, one `a=rtpmap` per payload type, ...), and there
    /// is a `t=` line. The error names the section, the line and the fault.
    ///
    /// ```
    /// use ferrtc_sdp::{BuildFault, LineKind, MediaDescription, MediaKind, SessionDescription};
    ///
    /// let ok = SessionDescription::builder()
    ///     .media(MediaDescription::new(MediaKind::Audio, 9, "UDP/TLS/RTP/SAVPF").with_format("111"))
    ///     .try_build()
    ///     .unwrap();
    /// assert_eq!(SessionDescription::parse(&ok.to_string()).unwrap(), ok);
    ///
    /// // A protocol with a space would be read back as the protocol and a format.
    /// let err = SessionDescription::builder()
    ///     .media(MediaDescription::new(MediaKind::Audio, 9, "UDP/TLS RTP").with_format("111"))
    ///     .try_build()
    ///     .unwrap_err();
    /// assert_eq!((err.section, err.line, err.fault), (Some(0), LineKind::Media, BuildFault::ReadsBack));
    /// ```
    pub fn validate(&self) -> Result<(), BuildError> {
        crate::validate::check_session(self)
    }

    /// Parses an SDP text.
    ///
    /// Accepts CRLF or bare LF line endings, trailing spaces and tabs on a line, and blank
    /// lines (all ignored). Session-level lines after `v= o= s=` may come in any order; types
    /// that may appear once must appear once. Known attributes must follow their grammar;
    /// unknown ones are kept verbatim, in order. Where a repeat would leave the meaning to a
    /// guess, it is refused: a second `a=mid`, `a=ice-ufrag`, `a=ice-pwd`, `a=setup`,
    /// `a=sctp-port`, `a=max-message-size`, `a=rtcp`, `a=simulcast` or direction attribute in
    /// one section, or a second `a=rtpmap`/`a=fmtp` for one payload type.
    ///
    /// # Errors
    /// A [`ParseError`] naming the first bad line and what is wrong with it.
    pub fn parse(text: &str) -> Result<SessionDescription, ParseError> {
        crate::parse::session(text)
    }

    /// Starts building a session description (see [`SessionBuilder`]).
    pub fn builder() -> SessionBuilder {
        SessionBuilder::default()
    }

    /// Appends the canonical SDP text of this description to `out`: CRLF-terminated lines
    /// in RFC 8866 §5 order.
    pub fn serialize_into(&self, out: &mut String) {
        out.reserve(self.estimated_len());
        out.push_str("v=0\r\n");
        line(out, "o=", &self.origin);
        if self.session_name.is_empty() {
            // RFC 8866 §5.3: "s= " stands for no name; our parser reads it back as empty.
            out.push_str("s= \r\n");
        } else {
            text_line(out, "s=", &self.session_name);
        }
        if let Some(i) = &self.information {
            text_line(out, "i=", i);
        }
        if let Some(u) = &self.uri {
            text_line(out, "u=", u);
        }
        for e in &self.emails {
            text_line(out, "e=", e);
        }
        for p in &self.phones {
            text_line(out, "p=", p);
        }
        if let Some(c) = &self.connection {
            line(out, "c=", c);
        }
        for b in &self.bandwidths {
            line(out, "b=", b);
        }
        for t in &self.timings {
            out.push_str("t=");
            num(out, t.start);
            out.push(' ');
            num(out, t.stop);
            out.push_str("\r\n");
            for r in &t.repeats {
                line(out, "r=", r);
            }
        }
        if !self.time_zones.is_empty() {
            out.push_str("z=");
            for (n, z) in self.time_zones.iter().enumerate() {
                if n > 0 {
                    out.push(' ');
                }
                z.emit(out);
            }
            out.push_str("\r\n");
        }
        if let Some(k) = &self.key {
            text_line(out, "k=", k);
        }
        for a in &self.attributes {
            line(out, "a=", a);
        }
        for m in &self.media {
            m.emit(out);
        }
    }

    /// A guess at the serialized length, to allocate once.
    fn estimated_len(&self) -> usize {
        let attrs = |a: &[Attribute]| a.len() * 40;
        128 + attrs(&self.attributes)
            + self
                .media
                .iter()
                .map(|m| 64 + m.formats.len() * 4 + attrs(&m.attributes))
                .sum::<usize>()
    }

    /// Writes the canonical SDP text (as [`serialize_into`](Self::serialize_into)) to `w`.
    pub fn write_to<W: fmt::Write>(&self, w: &mut W) -> fmt::Result {
        let mut text = String::new();
        self.serialize_into(&mut text);
        w.write_str(&text)
    }

    /// The session-level attributes named `name`, typed or not (e.g. `"group"`).
    pub fn attributes_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Attribute> {
        self.attributes.iter().filter(move |a| a.name() == name)
    }

    /// `a=group` lines.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.attributes.iter().filter_map(|a| match a {
            Attribute::Group(g) => Some(g),
            _ => None,
        })
    }

    /// The first `a=group:BUNDLE` group, if any (RFC 9143).
    pub fn bundle_group(&self) -> Option<&Group> {
        self.groups()
            .find(|g| g.semantics == GroupSemantics::Bundle)
    }

    /// Session-level `a=ice-ufrag`.
    pub fn ice_ufrag(&self) -> Option<&str> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::IceUfrag(u) => Some(u.as_str()),
            _ => None,
        })
    }

    /// Session-level `a=ice-pwd`.
    pub fn ice_pwd(&self) -> Option<&str> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::IcePwd(p) => Some(p.as_str()),
            _ => None,
        })
    }

    /// Session-level `a=ice-options` tokens (all lines, in order).
    pub fn ice_options(&self) -> impl Iterator<Item = &str> {
        self.attributes
            .iter()
            .filter_map(|a| match a {
                Attribute::IceOptions(o) => Some(o.iter().map(String::as_str)),
                _ => None,
            })
            .flatten()
    }

    /// Whether `a=ice-lite` is present (RFC 8839 §5.3).
    pub fn ice_lite(&self) -> bool {
        self.attributes.contains(&Attribute::IceLite)
    }

    /// Whether `a=extmap-allow-mixed` is present at session level (RFC 8285 §6).
    pub fn extmap_allow_mixed(&self) -> bool {
        self.attributes.contains(&Attribute::ExtmapAllowMixed)
    }

    /// Session-level `a=fingerprint` lines.
    pub fn fingerprints(&self) -> impl Iterator<Item = &FingerprintAttribute> {
        self.attributes.iter().filter_map(|a| match a {
            Attribute::Fingerprint(f) => Some(f),
            _ => None,
        })
    }

    /// Session-level `a=setup`.
    pub fn setup(&self) -> Option<&Setup> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Setup(s) => Some(s),
            _ => None,
        })
    }

    /// Session-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Direction(d) => Some(*d),
            _ => None,
        })
    }

    /// Session-level `a=candidate` lines (unusual; candidates normally sit in media sections).
    pub fn candidates(&self) -> impl Iterator<Item = &Candidate> {
        self.attributes.iter().filter_map(|a| match a {
            Attribute::Candidate(c) => Some(c),
            _ => None,
        })
    }

    /// The media section whose `a=mid` is `mid`.
    pub fn media_by_mid(&self, mid: &str) -> Option<&MediaDescription> {
        self.media
            .iter()
            .find(|m| m.mid().is_some_and(|m| m.as_str() == mid))
    }
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

/// Appends `<prefix><value>\r\n`.
pub(crate) fn line(out: &mut String, prefix: &str, value: &impl Emit) {
    out.push_str(prefix);
    value.emit(out);
    out.push_str("\r\n");
}

/// Appends `<prefix><text>\r\n`.
pub(crate) fn text_line(out: &mut String, prefix: &str, text: &str) {
    out.push_str(prefix);
    out.push_str(text);
    out.push_str("\r\n");
}

impl std::str::FromStr for SessionDescription {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Builds a [`SessionDescription`] without string formatting.
///
/// Defaults: origin `- 0 0 IN IP4 0.0.0.0`, session name `-`, one timing `t=0 0`, as JSEP
/// (RFC 8829 §5.2.1) writes them.
///
/// ```
/// use ferrtc_sdp::{MediaDescription, MediaKind, Mid, SessionDescription, Setup};
///
/// let mid = Mid::new("0")?;
/// let offer = SessionDescription::builder()
///     .session_id(4_962_303_333_179_871_722)
///     .bundle([mid.clone()])
///     .media(
///         MediaDescription::new(MediaKind::Application, 9, "UDP/DTLS/SCTP")
///             .with_format("webrtc-datachannel")
///             .with_mid(mid)
///             .with_setup(Setup::Actpass)
///             .with_sctp_port(5000),
///     )
///     .build();
/// let text = offer.to_string();
/// assert!(text.contains("a=group:BUNDLE 0\r\n"));
/// assert_eq!(SessionDescription::parse(&text).unwrap(), offer);
/// # Ok::<(), ferrtc_sdp::ParseErrorKind>(())
/// ```
#[derive(Debug, Clone)]
pub struct SessionBuilder {
    session: SessionDescription,
}

impl Default for SessionBuilder {
    fn default() -> Self {
        SessionBuilder {
            session: SessionDescription {
                origin: Origin::default(),
                session_name: "-".to_owned(),
                information: None,
                uri: None,
                emails: Vec::new(),
                phones: Vec::new(),
                connection: None,
                bandwidths: Vec::new(),
                timings: vec![Timing::default()],
                time_zones: Vec::new(),
                key: None,
                attributes: Vec::new(),
                media: Vec::new(),
            },
        }
    }
}

impl SessionBuilder {
    /// Sets the whole `o=` line.
    pub fn origin(mut self, origin: Origin) -> Self {
        self.session.origin = origin;
        self
    }

    /// Sets the `o=` session id.
    pub fn session_id(mut self, id: u64) -> Self {
        self.session.origin.session_id = id;
        self
    }

    /// Sets the `o=` session version.
    pub fn session_version(mut self, version: u64) -> Self {
        self.session.origin.session_version = version;
        self
    }

    /// Sets `s=`.
    pub fn session_name(mut self, name: impl Into<String>) -> Self {
        self.session.session_name = name.into();
        self
    }

    /// Sets the session-level `c=`.
    pub fn connection(mut self, connection: Connection) -> Self {
        self.session.connection = Some(connection);
        self
    }

    /// Adds a session-level `b=`.
    pub fn bandwidth(mut self, bandwidth: Bandwidth) -> Self {
        self.session.bandwidths.push(bandwidth);
        self
    }

    /// Adds `a=group:BUNDLE <mids>`.
    pub fn bundle<I>(self, mids: I) -> Self
    where
        I: IntoIterator<Item = Mid>,
    {
        self.attribute(Attribute::Group(Group {
            semantics: GroupSemantics::Bundle,
            mids: mids.into_iter().collect(),
        }))
    }

    /// Adds `a=ice-options:<options>` (e.g. `["trickle"]`).
    pub fn ice_options<I, S>(self, options: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.attribute(Attribute::IceOptions(
            options.into_iter().map(Into::into).collect(),
        ))
    }

    /// Adds `a=ice-lite`.
    pub fn ice_lite(self) -> Self {
        self.attribute(Attribute::IceLite)
    }

    /// Adds `a=extmap-allow-mixed`.
    pub fn extmap_allow_mixed(self) -> Self {
        self.attribute(Attribute::ExtmapAllowMixed)
    }

    /// Adds `a=fingerprint`.
    pub fn fingerprint(self, fingerprint: impl Into<FingerprintAttribute>) -> Self {
        self.attribute(Attribute::Fingerprint(fingerprint.into()))
    }

    /// Adds any session-level attribute.
    pub fn attribute(mut self, attribute: Attribute) -> Self {
        self.session.attributes.push(attribute);
        self
    }

    /// Adds a media section.
    pub fn media(mut self, media: MediaDescription) -> Self {
        self.session.media.push(media);
        self
    }

    /// Finishes the description, unchecked: for values known to follow the grammar (see
    /// [`SessionDescription`]). [`try_build`](Self::try_build) checks them.
    pub fn build(self) -> SessionDescription {
        self.session
    }

    /// Finishes the description if it serializes to SDP that parses back to it, else says
    /// which line would not and why ([`SessionDescription::validate`]).
    pub fn try_build(self) -> Result<SessionDescription, BuildError> {
        self.session.validate()?;
        Ok(self.session)
    }
}

/// `nettype` (RFC 8866 §5.2): `IN` for the Internet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum NetworkType {
    /// `IN`.
    #[default]
    In,
    /// Any other token, as written.
    Other(String),
}

impl NetworkType {
    pub(crate) fn from_token(s: &str) -> Self {
        match s {
            "IN" => Self::In,
            _ => Self::Other(s.to_owned()),
        }
    }

    /// The token as written in SDP.
    pub fn as_str(&self) -> &str {
        match self {
            Self::In => "IN",
            Self::Other(s) => s,
        }
    }
}

/// `addrtype` (RFC 8866 §5.2): `IP4` or `IP6`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AddressType {
    /// `IP4`.
    #[default]
    Ip4,
    /// `IP6`.
    Ip6,
    /// Any other token, as written.
    Other(String),
}

impl AddressType {
    pub(crate) fn from_token(s: &str) -> Self {
        match s {
            "IP4" => Self::Ip4,
            "IP6" => Self::Ip6,
            _ => Self::Other(s.to_owned()),
        }
    }

    /// The token as written in SDP.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ip4 => "IP4",
            Self::Ip6 => "IP6",
            Self::Other(s) => s,
        }
    }
}

/// `o=` (RFC 8866 §5.2).
///
/// ```abnf
/// origin-field = %s"o" "=" username SP sess-id SP sess-version SP
///                nettype SP addrtype SP unicast-address CRLF
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `username` (`-` when there is none).
    pub username: String,
    /// `sess-id`.
    pub session_id: u64,
    /// `sess-version`.
    pub session_version: u64,
    /// `nettype`.
    pub network_type: NetworkType,
    /// `addrtype`.
    pub address_type: AddressType,
    /// `unicast-address`, as written (an address or a name).
    pub address: String,
}

impl Default for Origin {
    fn default() -> Self {
        Origin {
            username: "-".to_owned(),
            session_id: 0,
            session_version: 0,
            network_type: NetworkType::In,
            address_type: AddressType::Ip4,
            address: "0.0.0.0".to_owned(),
        }
    }
}

impl Emit for Origin {
    fn emit(&self, out: &mut String) {
        out.push_str(&self.username);
        out.push(' ');
        num(out, self.session_id);
        out.push(' ');
        num(out, self.session_version);
        out.push(' ');
        out.push_str(self.network_type.as_str());
        out.push(' ');
        out.push_str(self.address_type.as_str());
        out.push(' ');
        out.push_str(&self.address);
    }
}

display_by_emit!(Origin);

/// Parses the value of an `o=` line.
pub(crate) fn origin(i: &str) -> Res<'_, Origin> {
    let (i, username) = word("username")(i)?;
    let (i, _) = sp("session id")(i)?;
    let (i, session_id) = number("session id")(i)?;
    let (i, _) = sp("session version")(i)?;
    let (i, session_version) = number("session version")(i)?;
    let (i, _) = sp("network type")(i)?;
    let (i, nettype) = word("network type")(i)?;
    let (i, _) = sp("address type")(i)?;
    let (i, addrtype) = word("address type")(i)?;
    let (i, _) = sp("unicast address")(i)?;
    let (i, address) = word("unicast address")(i)?;
    Ok((
        i,
        Origin {
            username: username.to_owned(),
            session_id,
            session_version,
            network_type: NetworkType::from_token(nettype),
            address_type: AddressType::from_token(addrtype),
            address: address.to_owned(),
        },
    ))
}

/// `c=` (RFC 8866 §5.7).
///
/// ```abnf
/// connection-field = %s"c" "=" nettype SP addrtype SP connection-address CRLF
/// IP4-multicast    = m1 3( "." decimal-uchar ) "/" ttl [ "/" numaddr ]
/// IP6-multicast    = IP6-address [ "/" numaddr ]
/// ```
/// For `IP4` and `IP6` the `/ttl` and `/numaddr` suffixes are split off into
/// [`ttl`](Self::ttl) and [`address_count`](Self::address_count); for other address types
/// the address is kept whole. (An `IP4` count without a TTL cannot be written.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `nettype`.
    pub network_type: NetworkType,
    /// `addrtype`.
    pub address_type: AddressType,
    /// The address or name, without `/` suffixes.
    pub address: String,
    /// IPv4 multicast TTL.
    pub ttl: Option<u8>,
    /// Number of consecutive multicast addresses.
    pub address_count: Option<u32>,
}

impl Connection {
    /// `IN IP4 <address>` or `IN IP6 <address>`, chosen from the address.
    pub fn new(address: std::net::IpAddr) -> Self {
        Connection {
            network_type: NetworkType::In,
            address_type: match address {
                std::net::IpAddr::V4(_) => AddressType::Ip4,
                std::net::IpAddr::V6(_) => AddressType::Ip6,
            },
            address: address.to_string(),
            ttl: None,
            address_count: None,
        }
    }
}

impl Emit for Connection {
    fn emit(&self, out: &mut String) {
        out.push_str(self.network_type.as_str());
        out.push(' ');
        out.push_str(self.address_type.as_str());
        out.push(' ');
        out.push_str(&self.address);
        if let Some(ttl) = self.ttl {
            out.push('/');
            num(out, ttl);
        }
        if let Some(n) = self.address_count {
            out.push('/');
            num(out, n);
        }
    }
}

display_by_emit!(Connection);

/// Parses the value of a `c=` line.
pub(crate) fn connection(i: &str) -> Res<'_, Connection> {
    let (i, nettype) = word("network type")(i)?;
    let (i, _) = sp("address type")(i)?;
    let (i, addrtype) = word("address type")(i)?;
    let (i, _) = sp("connection address")(i)?;
    let address_type = AddressType::from_token(addrtype);
    let (i, (address, ttl, address_count)) = match address_type {
        AddressType::Ip4 => {
            let (i, address) = till(&[' ', '/'], "connection address")(i)?;
            let (i, ttl) = opt(preceded(char('/'), number::<u8>("multicast TTL"))).parse(i)?;
            let (i, count) = match ttl {
                Some(_) => opt(preceded(char('/'), number::<u32>("address count"))).parse(i)?,
                None => (i, None),
            };
            (i, (address, ttl, count))
        }
        AddressType::Ip6 => {
            let (i, address) = till(&[' ', '/'], "connection address")(i)?;
            let (i, count) = opt(preceded(char('/'), number::<u32>("address count"))).parse(i)?;
            (i, (address, None, count))
        }
        AddressType::Other(_) => {
            let (i, address) = word("connection address")(i)?;
            (i, (address, None, None))
        }
    };
    Ok((
        i,
        Connection {
            network_type: NetworkType::from_token(nettype),
            address_type,
            address: address.to_owned(),
            ttl,
            address_count,
        },
    ))
}

/// `bwtype` (RFC 8866 §5.8, RFC 3556, RFC 3890).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BandwidthType {
    /// `CT`: conference total.
    Ct,
    /// `AS`: application specific (kbit/s).
    As,
    /// `TIAS`: transport independent application specific (bit/s, RFC 3890).
    Tias,
    /// `RS`: RTCP bandwidth for senders (RFC 3556).
    Rs,
    /// `RR`: RTCP bandwidth for receivers (RFC 3556).
    Rr,
    /// Any other token, as written.
    Other(String),
}

impl BandwidthType {
    fn from_token(s: &str) -> Self {
        match s {
            "CT" => Self::Ct,
            "AS" => Self::As,
            "TIAS" => Self::Tias,
            "RS" => Self::Rs,
            "RR" => Self::Rr,
            _ => Self::Other(s.to_owned()),
        }
    }

    /// The token as written in SDP.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ct => "CT",
            Self::As => "AS",
            Self::Tias => "TIAS",
            Self::Rs => "RS",
            Self::Rr => "RR",
            Self::Other(s) => s,
        }
    }
}

/// `b=` (RFC 8866 §5.8).
///
/// ```abnf
/// bandwidth-field = %s"b" "=" bwtype ":" bandwidth CRLF
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    /// `bwtype`.
    pub kind: BandwidthType,
    /// `bandwidth`, in the unit `kind` defines.
    pub value: u64,
}

impl Emit for Bandwidth {
    fn emit(&self, out: &mut String) {
        out.push_str(self.kind.as_str());
        out.push(':');
        num(out, self.value);
    }
}

display_by_emit!(Bandwidth);

/// Parses the value of a `b=` line.
pub(crate) fn bandwidth(i: &str) -> Res<'_, Bandwidth> {
    let (i, kind) = till(&[':', ' '], "bandwidth type")(i)?;
    let (i, _) = crate::grammar::sep(':', "bandwidth")(i)?;
    let (i, value) = number("bandwidth")(i)?;
    Ok((
        i,
        Bandwidth {
            kind: BandwidthType::from_token(kind),
            value,
        },
    ))
}

/// One `t=` line and its `r=` lines (RFC 8866 §5.9, §5.10).
///
/// ```abnf
/// time-field = %s"t" "=" start-time SP stop-time CRLF
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timing {
    /// `start-time`, NTP seconds; 0 for unbounded.
    pub start: u64,
    /// `stop-time`, NTP seconds; 0 for unbounded.
    pub stop: u64,
    /// The `r=` lines that follow.
    pub repeats: Vec<Repeat>,
}

/// Parses the value of a `t=` line.
pub(crate) fn timing(i: &str) -> Res<'_, Timing> {
    let (i, start) = number("start time")(i)?;
    let (i, _) = sp("stop time")(i)?;
    let (i, stop) = number("stop time")(i)?;
    Ok((
        i,
        Timing {
            start,
            stop,
            repeats: Vec::new(),
        },
    ))
}

/// The unit suffix of a `typed-time`.
///
/// ```abnf
/// fixed-len-time-unit = %s"d" / %s"h" / %s"m" / %s"s"
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// `d`.
    Days,
    /// `h`.
    Hours,
    /// `m`.
    Minutes,
    /// `s`.
    Seconds,
}

impl TimeUnit {
    fn suffix(self) -> char {
        match self {
            Self::Days => 'd',
            Self::Hours => 'h',
            Self::Minutes => 'm',
            Self::Seconds => 's',
        }
    }

    /// Seconds in one of this unit.
    pub fn seconds(self) -> u64 {
        match self {
            Self::Days => 86_400,
            Self::Hours => 3_600,
            Self::Minutes => 60,
            Self::Seconds => 1,
        }
    }
}

/// `typed-time` (RFC 8866 §5.10): a number with an optional unit suffix, kept as written.
///
/// ```abnf
/// typed-time = 1*DIGIT [fixed-len-time-unit]
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypedTime {
    /// The number.
    pub value: u64,
    /// The suffix, if one was written (none means seconds).
    pub unit: Option<TimeUnit>,
}

impl TypedTime {
    /// The duration in seconds (saturating).
    pub fn seconds(self) -> u64 {
        self.value
            .saturating_mul(self.unit.map_or(1, TimeUnit::seconds))
    }
}

impl Emit for TypedTime {
    fn emit(&self, out: &mut String) {
        num(out, self.value);
        if let Some(u) = self.unit {
            out.push(u.suffix());
        }
    }
}

display_by_emit!(TypedTime, Repeat, TimeZone);

fn typed_time(field: &'static str) -> impl FnMut(&str) -> Res<'_, TypedTime> {
    move |i: &str| {
        let digits = i.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return failure(if i.is_empty() {
                ParseErrorKind::Missing(field)
            } else {
                ParseErrorKind::InvalidNumber(field)
            });
        }
        let Ok(value) = i[..digits].parse::<u64>() else {
            return failure(ParseErrorKind::OutOfRange(field));
        };
        let rest = &i[digits..];
        let (rest, unit) = match rest.as_bytes().first() {
            Some(b'd') => (&rest[1..], Some(TimeUnit::Days)),
            Some(b'h') => (&rest[1..], Some(TimeUnit::Hours)),
            Some(b'm') => (&rest[1..], Some(TimeUnit::Minutes)),
            Some(b's') => (&rest[1..], Some(TimeUnit::Seconds)),
            _ => (rest, None),
        };
        if !(rest.is_empty() || rest.starts_with(' ')) {
            return failure(ParseErrorKind::Invalid(field));
        }
        Ok((rest, TypedTime { value, unit }))
    }
}

/// `r=` (RFC 8866 §5.10).
///
/// ```abnf
/// repeat-field = %s"r" "=" repeat-interval SP typed-time 1*(SP typed-time) CRLF
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeat {
    /// `repeat-interval`.
    pub interval: TypedTime,
    /// Active duration.
    pub duration: TypedTime,
    /// Offsets from the start time (at least one).
    pub offsets: Vec<TypedTime>,
}

impl Emit for Repeat {
    fn emit(&self, out: &mut String) {
        self.interval.emit(out);
        out.push(' ');
        self.duration.emit(out);
        for o in &self.offsets {
            out.push(' ');
            o.emit(out);
        }
    }
}

/// Parses the value of an `r=` line.
pub(crate) fn repeat(i: &str) -> Res<'_, Repeat> {
    let (i, interval) = typed_time("repeat interval")(i)?;
    let (i, _) = sp("active duration")(i)?;
    let (mut i, duration) = typed_time("active duration")(i)?;
    let mut offsets = Vec::new();
    loop {
        let (r, _) = sp("offset")(i)?;
        let (r, o) = typed_time("offset")(r)?;
        offsets.push(o);
        i = r;
        if i.is_empty() {
            break;
        }
    }
    Ok((
        i,
        Repeat {
            interval,
            duration,
            offsets,
        },
    ))
}

/// One adjustment of a `z=` line (RFC 8866 §5.11).
///
/// ```abnf
/// zone-field = %s"z" "=" time SP ["-"] typed-time
///              *(SP time SP ["-"] typed-time) CRLF
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone {
    /// When the adjustment applies (NTP seconds).
    pub time: u64,
    /// Whether the offset is negative.
    pub negative: bool,
    /// The offset.
    pub offset: TypedTime,
}

impl Emit for TimeZone {
    fn emit(&self, out: &mut String) {
        num(out, self.time);
        out.push(' ');
        if self.negative {
            out.push('-');
        }
        self.offset.emit(out);
    }
}

/// Parses the value of a `z=` line.
pub(crate) fn time_zones(mut i: &str) -> Res<'_, Vec<TimeZone>> {
    let mut zones = Vec::new();
    loop {
        let (r, time) = number("adjustment time")(i)?;
        let (r, _) = sp("offset")(r)?;
        let (r, negative) = match r.strip_prefix('-') {
            Some(r) => (r, true),
            None => (r, false),
        };
        let (r, offset) = typed_time("offset")(r)?;
        zones.push(TimeZone {
            time,
            negative,
            offset,
        });
        if r.is_empty() {
            return Ok((r, zones));
        }
        let (r, _) = sp("adjustment time")(r)?;
        i = r;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::complete;

    #[test]
    fn origin_round_trip() {
        let text = "jdoe 3724394400 3724394405 IN IP4 198.51.100.1";
        let o = complete(origin, "origin", text).unwrap();
        assert_eq!(o.username, "jdoe");
        assert_eq!(o.session_id, 3_724_394_400);
        assert_eq!(o.session_version, 3_724_394_405);
        assert_eq!(o.network_type, NetworkType::In);
        assert_eq!(o.address_type, AddressType::Ip4);
        assert_eq!(o.to_string(), text);
        assert_eq!(
            complete(origin, "origin", "- 1 2 IN IP4"),
            Err(ParseErrorKind::Missing("unicast address"))
        );
        assert_eq!(
            complete(origin, "origin", "- 1 2 IN IP4 a b"),
            Err(ParseErrorKind::Trailing("origin"))
        );
        assert_eq!(
            complete(origin, "origin", "- 99999999999999999999 2 IN IP4 a"),
            Err(ParseErrorKind::OutOfRange("session id"))
        );
    }

    #[test]
    fn connection_multicast_forms() {
        let c = complete(connection, "c", "IN IP4 233.252.0.1/127/3").unwrap();
        assert_eq!(c.address, "233.252.0.1");
        assert_eq!((c.ttl, c.address_count), (Some(127), Some(3)));
        assert_eq!(c.to_string(), "IN IP4 233.252.0.1/127/3");
        let c = complete(connection, "c", "IN IP6 ff00::db8:0:101/3").unwrap();
        assert_eq!((c.ttl, c.address_count), (None, Some(3)));
        assert_eq!(c.to_string(), "IN IP6 ff00::db8:0:101/3");
        let c = complete(connection, "c", "IN IP4 127.0.0.1").unwrap();
        assert_eq!(c, Connection::new([127, 0, 0, 1].into()));
        assert_eq!(
            complete(connection, "c", "IN IP4 1.2.3.4/300"),
            Err(ParseErrorKind::OutOfRange("multicast TTL"))
        );
        assert_eq!(
            complete(connection, "c", "IN IP6 ::1/1/2"),
            Err(ParseErrorKind::Trailing("c"))
        );
        let c = complete(connection, "c", "ATM NSAP 47.0005.80").unwrap();
        assert_eq!(c.network_type, NetworkType::Other("ATM".into()));
        assert_eq!(c.to_string(), "ATM NSAP 47.0005.80");
    }

    #[test]
    fn bandwidth_types() {
        let b = complete(bandwidth, "b", "AS:256").unwrap();
        assert_eq!(
            b,
            Bandwidth {
                kind: BandwidthType::As,
                value: 256
            }
        );
        let b = complete(bandwidth, "b", "X-YZ:1").unwrap();
        assert_eq!(b.kind, BandwidthType::Other("X-YZ".into()));
        assert_eq!(b.to_string(), "X-YZ:1");
        assert_eq!(
            complete(bandwidth, "b", "AS"),
            Err(ParseErrorKind::Missing("bandwidth"))
        );
    }

    #[test]
    fn timing_repeat_and_zones() {
        let t = complete(timing, "t", "3034423619 3042462419").unwrap();
        assert_eq!((t.start, t.stop), (3_034_423_619, 3_042_462_419));
        let r = complete(repeat, "r", "7d 1h 0 25h").unwrap();
        assert_eq!(r.interval.seconds(), 604_800);
        assert_eq!(r.duration.seconds(), 3_600);
        assert_eq!(r.offsets.len(), 2);
        assert_eq!(r.offsets[1].seconds(), 90_000);
        assert_eq!(r.to_string(), "7d 1h 0 25h");
        let r = complete(repeat, "r", "604800 3600 0 90000").unwrap();
        assert_eq!(r.to_string(), "604800 3600 0 90000");
        assert_eq!(
            complete(repeat, "r", "7d 1h"),
            Err(ParseErrorKind::Missing("offset"))
        );
        assert_eq!(
            complete(repeat, "r", "7x 1h 0"),
            Err(ParseErrorKind::Invalid("repeat interval"))
        );
        let z = complete(time_zones, "z", "3730928400 -1h 3749680800 0").unwrap();
        assert_eq!(z.len(), 2);
        assert!(z[0].negative);
        assert_eq!(z[0].offset.seconds(), 3_600);
        assert_eq!(z[0].to_string(), "3730928400 -1h");
        assert_eq!(
            complete(time_zones, "z", "3730928400"),
            Err(ParseErrorKind::Missing("offset"))
        );
    }
}
