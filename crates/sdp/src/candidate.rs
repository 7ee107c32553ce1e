//! `a=candidate` (RFC 8839 §5.1, with RFC 6544 TCP candidates).

use std::net::IpAddr;

use crate::emit::{Emit, display_by_emit, num};

use crate::grammar::{Res, complete, failure, number, sp, word};
use crate::{CandidateKind, ParseError, ParseErrorKind, TcpType, Transport};

/// An ICE candidate line.
///
/// ```abnf
/// candidate-attribute   = "candidate" ":" foundation SP component-id SP
///                         transport SP
///                         priority SP
///                         connection-address SP     ;from RFC 4566
///                         port         ;port from RFC 4566
///                         SP cand-type
///                         [SP rel-addr]
///                         [SP rel-port]
///                         *(SP cand-extension)
/// foundation            = 1*32ice-char
/// component-id          = 1*3(DIGIT)
/// transport             = "UDP" / transport-extension
/// priority              = 1*10DIGIT
/// cand-type             = "typ" SP candidate-types
/// candidate-types       = "host" / "srflx" / "prflx" / "relay" / token
/// rel-addr              = "raddr" SP connection-address
/// rel-port              = "rport" SP port
/// cand-extension        = extension-att-name SP extension-att-value
/// ```
/// RFC 6544 §4.5 adds `tcptype` (`active` / `passive` / `so`) as an extension; it is typed here.
/// `raddr`, `rport` and `tcptype` are recognised wherever they appear among the trailing
/// pairs (the first of each); other pairs (`generation`, `ufrag`, `network-id`, ...) stay in
/// [`extensions`](Self::extensions), in order. The serializer writes `raddr`, `rport`,
/// `tcptype`, then the extensions.
///
/// [`Display`](std::fmt::Display) writes the attribute as JavaScript's `RTCIceCandidate.candidate`
/// holds it: `candidate:...` (no `a=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `foundation`.
    pub foundation: String,
    /// `component-id`: 1 for RTP, 2 for RTCP.
    pub component: u16,
    /// `transport`.
    pub transport: CandidateTransport,
    /// `priority`.
    pub priority: u32,
    /// `connection-address`: an IP address or a name (e.g. an mDNS `.local` name).
    pub address: String,
    /// `port`.
    pub port: u16,
    /// `cand-type`.
    pub kind: CandidateType,
    /// `raddr`.
    pub related_address: Option<String>,
    /// `rport`.
    pub related_port: Option<u16>,
    /// `tcptype` (RFC 6544).
    pub tcp_type: Option<TcpType>,
    /// Other `name value` extension pairs, in order.
    pub extensions: Vec<(String, String)>,
}

impl Candidate {
    /// A candidate with no related address, TCP type or extensions.
    pub fn new(
        foundation: impl Into<String>,
        component: u16,
        transport: CandidateTransport,
        priority: u32,
        address: impl Into<String>,
        port: u16,
        kind: CandidateType,
    ) -> Self {
        Candidate {
            foundation: foundation.into(),
            component,
            transport,
            priority,
            address: address.into(),
            port,
            kind,
            related_address: None,
            related_port: None,
            tcp_type: None,
            extensions: Vec::new(),
        }
    }

    /// Sets `raddr` and `rport`.
    pub fn with_related(mut self, address: impl Into<String>, port: u16) -> Self {
        self.related_address = Some(address.into());
        self.related_port = Some(port);
        self
    }

    /// Sets `tcptype`.
    pub fn with_tcp_type(mut self, tcp_type: TcpType) -> Self {
        self.tcp_type = Some(tcp_type);
        self
    }

    /// Appends an extension pair.
    pub fn with_extension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extensions.push((name.into(), value.into()));
        self
    }

    /// Parses `candidate:...`, with or without a leading `a=`, as found in trickled candidates
    /// (`RTCIceCandidate.candidate`). Surrounding whitespace is ignored.
    ///
    /// # Errors
    /// A [`ParseError`] for line 1 naming what is wrong.
    pub fn parse(text: &str) -> Result<Candidate, ParseError> {
        let line = text.trim_matches([' ', '\t', '\r', '\n']);
        let value = line.strip_prefix("a=").unwrap_or(line);
        let Some(value) = value.strip_prefix("candidate:") else {
            return Err(ParseError::new(
                1,
                line,
                ParseErrorKind::Missing("`candidate:` prefix"),
            ));
        };
        parse_value(value).map_err(|kind| ParseError::new(1, line, kind))
    }

    /// The connection address as an IP address, when it is one (not a name).
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.parse().ok()
    }

    /// The value of extension `name` (first occurrence), e.g. `"generation"` or `"ufrag"`.
    pub fn extension(&self, name: &str) -> Option<&str> {
        self.extensions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl std::str::FromStr for Candidate {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Candidate::parse(s)
    }
}

impl Emit for Candidate {
    fn emit(&self, out: &mut String) {
        out.push_str("candidate:");
        out.push_str(&self.foundation);
        out.push(' ');
        num(out, self.component);
        out.push(' ');
        out.push_str(self.transport.as_str());
        out.push(' ');
        num(out, self.priority);
        out.push(' ');
        out.push_str(&self.address);
        out.push(' ');
        num(out, self.port);
        out.push_str(" typ ");
        out.push_str(self.kind.as_str());
        if let Some(a) = &self.related_address {
            out.push_str(" raddr ");
            out.push_str(a);
        }
        if let Some(p) = self.related_port {
            out.push_str(" rport ");
            num(out, p);
        }
        if let Some(t) = self.tcp_type {
            out.push_str(" tcptype ");
            out.push_str(t.as_str());
        }
        for (n, v) in &self.extensions {
            out.push(' ');
            out.push_str(n);
            out.push(' ');
            out.push_str(v);
        }
    }
}

display_by_emit!(Candidate);

/// Parses the value after `candidate:`.
pub(crate) fn parse_value(value: &str) -> Result<Candidate, ParseErrorKind> {
    complete(candidate, "candidate", value)
}

fn candidate(i: &str) -> Res<'_, Candidate> {
    let (i, foundation) = word("foundation")(i)?;
    let (i, _) = sp("component id")(i)?;
    let (i, component) = number("component id")(i)?;
    let (i, _) = sp("transport")(i)?;
    let (i, transport) = word("transport")(i)?;
    let (i, _) = sp("priority")(i)?;
    let (i, priority) = number("priority")(i)?;
    let (i, _) = sp("connection address")(i)?;
    let (i, address) = word("connection address")(i)?;
    let (i, _) = sp("port")(i)?;
    let (i, port) = number("port")(i)?;
    let (i, _) = sp("`typ`")(i)?;
    let (i, typ) = word("`typ`")(i)?;
    if typ != "typ" {
        return failure(ParseErrorKind::Invalid("candidate: expected `typ`"));
    }
    let (i, _) = sp("candidate type")(i)?;
    let (mut i, kind) = word("candidate type")(i)?;
    let mut c = Candidate {
        foundation: foundation.to_owned(),
        component,
        transport: CandidateTransport::from_token(transport),
        priority,
        address: address.to_owned(),
        port,
        kind: CandidateType::from_token(kind),
        related_address: None,
        related_port: None,
        tcp_type: None,
        extensions: Vec::new(),
    };
    while !i.is_empty() {
        let (r, _) = sp("extension name")(i)?;
        let (r, name) = word("extension name")(r)?;
        let (r, _) = sp("extension value")(r)?;
        let (r, value) = word("extension value")(r)?;
        match name {
            "raddr" if c.related_address.is_none() => c.related_address = Some(value.to_owned()),
            "rport" if c.related_port.is_none() => {
                c.related_port = Some(
                    complete(number("rport"), "rport", value)
                        .map_err(|kind| nom::Err::Failure(crate::grammar::Fail(kind)))?,
                );
            }
            "tcptype" if c.tcp_type.is_none() => {
                let Some(t) = TcpType::from_token(value) else {
                    return failure(ParseErrorKind::Invalid("tcptype"));
                };
                c.tcp_type = Some(t);
            }
            _ => c.extensions.push((name.to_owned(), value.to_owned())),
        }
        i = r;
    }
    Ok((i, c))
}

/// `transport` of a candidate. Matched without regard to case (Firefox writes `UDP`,
/// Chromium `udp`); written in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CandidateTransport {
    /// `udp`.
    Udp,
    /// `tcp` (RFC 6544).
    Tcp,
    /// Any other token, as written.
    Other(String),
}

impl CandidateTransport {
    fn from_token(s: &str) -> Self {
        if s.eq_ignore_ascii_case("udp") {
            Self::Udp
        } else if s.eq_ignore_ascii_case("tcp") {
            Self::Tcp
        } else {
            Self::Other(s.to_owned())
        }
    }

    /// The shared [`Transport`] this names, for `udp` and `tcp`.
    pub fn transport(&self) -> Option<Transport> {
        match self {
            Self::Udp => Some(Transport::Udp),
            Self::Tcp => Some(Transport::Tcp),
            Self::Other(_) => None,
        }
    }

    /// The token as written by the serializer.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Other(s) => s,
        }
    }
}

/// `candidate-types` (RFC 8839 §5.1), matched without regard to case: one of the four
/// [`CandidateKind`]s, or any other token, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CandidateType {
    /// `host`, `srflx`, `prflx` or `relay`.
    Known(CandidateKind),
    /// Any other token, as written; never one of the four (that would parse back as
    /// [`Known`](Self::Known)).
    Other(String),
}

impl CandidateType {
    /// `host`.
    pub const HOST: Self = Self::Known(CandidateKind::Host);
    /// `srflx`: server reflexive.
    pub const SRFLX: Self = Self::Known(CandidateKind::ServerReflexive);
    /// `prflx`: peer reflexive.
    pub const PRFLX: Self = Self::Known(CandidateKind::PeerReflexive);
    /// `relay`.
    pub const RELAY: Self = Self::Known(CandidateKind::Relayed);

    fn from_token(s: &str) -> Self {
        match CandidateKind::from_token(s) {
            Some(kind) => Self::Known(kind),
            None => Self::Other(s.to_owned()),
        }
    }

    /// The candidate kind, when it is one of the four.
    pub fn kind(&self) -> Option<CandidateKind> {
        match self {
            Self::Known(kind) => Some(*kind),
            Self::Other(_) => None,
        }
    }

    /// The token as written by the serializer.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Known(kind) => kind.as_str(),
            Self::Other(s) => s,
        }
    }
}

impl From<CandidateKind> for CandidateType {
    fn from(kind: CandidateKind) -> Self {
        Self::Known(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_udp() {
        let c =
            Candidate::parse("candidate:1 1 UDP 2113929471 203.0.113.100 10100 typ host").unwrap();
        assert_eq!(c.foundation, "1");
        assert_eq!(c.component, 1);
        assert_eq!(c.transport, CandidateTransport::Udp);
        assert_eq!(c.priority, 2_113_929_471);
        assert_eq!(c.ip(), Some("203.0.113.100".parse().unwrap()));
        assert_eq!(c.port, 10100);
        assert_eq!(c.kind, CandidateType::HOST);
        assert_eq!(
            c.to_string(),
            "candidate:1 1 udp 2113929471 203.0.113.100 10100 typ host"
        );
    }

    #[test]
    fn relay_with_related_address() {
        let text =
            "candidate:1 1 udp 255 192.0.2.100 12100 typ relay raddr 198.51.100.100 rport 11100";
        let c = Candidate::parse(text).unwrap();
        assert_eq!(c.kind, CandidateType::RELAY);
        assert_eq!(c.related_address.as_deref(), Some("198.51.100.100"));
        assert_eq!(c.related_port, Some(11100));
        assert_eq!(c.to_string(), text);
    }

    #[test]
    fn tcp_with_extensions_keeps_order() {
        let text = "candidate:4215833571 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0 network-id 1 network-cost 50";
        let c = Candidate::parse(&format!("a={text}\r\n")).unwrap();
        assert_eq!(c.transport, CandidateTransport::Tcp);
        assert_eq!(c.transport.transport(), Some(Transport::Tcp));
        assert_eq!(c.tcp_type, Some(TcpType::Active));
        assert_eq!(c.extension("network-cost"), Some("50"));
        assert_eq!(c.extensions.len(), 3);
        assert_eq!(c.to_string(), text);
        assert_eq!(text.parse::<Candidate>().unwrap(), c);
    }

    #[test]
    fn builder_matches_parse() {
        let built = Candidate::new(
            "2",
            1,
            CandidateTransport::Tcp,
            2_105_458_943,
            "::1",
            9,
            CandidateType::HOST,
        )
        .with_tcp_type(TcpType::Passive)
        .with_extension("ufrag", "abcd");
        let text = built.to_string();
        assert_eq!(
            text,
            "candidate:2 1 tcp 2105458943 ::1 9 typ host tcptype passive ufrag abcd"
        );
        assert_eq!(Candidate::parse(&text).unwrap(), built);
        let srflx = Candidate::new(
            "x",
            1,
            CandidateTransport::Udp,
            1,
            "a.local",
            1,
            CandidateType::SRFLX,
        )
        .with_related("0.0.0.0", 0);
        assert_eq!(Candidate::parse(&srflx.to_string()).unwrap(), srflx);
        assert_eq!(srflx.ip(), None);
    }

    #[test]
    fn errors_name_the_field() {
        let kind = |t: &str| Candidate::parse(t).unwrap_err().kind;
        assert_eq!(
            kind("candidate:1 1 udp 1 1.2.3.4 99999 typ host"),
            ParseErrorKind::OutOfRange("port")
        );
        assert_eq!(
            kind("candidate:1 1 udp 1 1.2.3.4 9 host"),
            ParseErrorKind::Invalid("candidate: expected `typ`")
        );
        assert_eq!(
            kind("candidate:1 1 udp 1 1.2.3.4 9 typ"),
            ParseErrorKind::Missing("candidate type")
        );
        assert_eq!(
            kind("candidate:1 1 udp 1 1.2.3.4 9 typ host generation"),
            ParseErrorKind::Missing("extension value")
        );
        assert_eq!(
            kind("candidate:1 1 udp 1 1.2.3.4 9 typ host rport x"),
            ParseErrorKind::InvalidNumber("rport")
        );
        assert_eq!(
            kind("candidate:1 1 udp 1 1.2.3.4 9 typ host tcptype sideways"),
            ParseErrorKind::Invalid("tcptype")
        );
        assert_eq!(
            kind("candidate:1 1 udp 4294967296 1.2.3.4 9 typ host"),
            ParseErrorKind::OutOfRange("priority")
        );
        // A tab inside a field would end up at the line end once `rport` moves forward.
        assert_eq!(
            kind("candidate:1 1 udp 1 1.2.3.4 9 typ host x y\t rport 1"),
            ParseErrorKind::Invalid("extension value")
        );
        assert_eq!(
            kind("1 1 udp 1 1.2.3.4 9 typ host"),
            ParseErrorKind::Missing("`candidate:` prefix")
        );
    }

    #[test]
    fn unknown_type_and_transport_are_kept() {
        let c = Candidate::parse("candidate:f 2 sctp 7 h.example 1 typ magic").unwrap();
        assert_eq!(c.transport, CandidateTransport::Other("sctp".into()));
        assert_eq!(c.kind, CandidateType::Other("magic".into()));
        assert_eq!((c.kind.kind(), c.transport.transport()), (None, None));
        assert_eq!(c.to_string(), "candidate:f 2 sctp 7 h.example 1 typ magic");
    }

    /// Found by the fuzz smoke run: a CR inside an extension value was accepted, then
    /// serializing moved `rport` ahead of it, the CR landed at the end of the text and a
    /// re-parse trimmed it away. Control characters are not `VCHAR`: the value is refused.
    #[test]
    fn control_characters_in_fields_are_refused() {
        let with_cr = "candidate:2 1 udp 255 192.0.2.1 12100 typ relay x a\r rport 22200";
        let err = Candidate::parse(with_cr).unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::Invalid("extension value"));
        for bad in ["a\0b", "a\x0bb", "a\x7fb"] {
            let text = format!("candidate:2 1 udp 255 192.0.2.1 12100 typ host n {bad}");
            assert!(Candidate::parse(&text).is_err(), "{bad:?} accepted");
        }
        // Non-ASCII bytes (%x80-FF in the ABNF) stay allowed.
        let ok = Candidate::parse("candidate:2 1 udp 255 192.0.2.1 12100 typ host n caf\u{e9}");
        assert_eq!(ok.unwrap().extension("n"), Some("caf\u{e9}"));
    }
}
