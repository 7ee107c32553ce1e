//! The line driver: splits the text into lines, checks their order, and hands each value to
//! its grammar.

use crate::attribute::Attribute;
use crate::grammar::complete;
use crate::media::media_line;
use crate::session::{self, Origin, SessionDescription};
use crate::{ParseError, ParseErrorKind, PayloadType};

/// Splits a line into its type letter and value.
///
/// ```abnf
/// <type>=<value>   ; type is exactly one letter, no spaces around "="
/// ```
fn split_line(line: &str) -> Result<(u8, &str), ParseErrorKind> {
    // RFC 8866 §9: no value may hold a CR, LF or NUL. A CR inside a line (the trailing one of
    // CRLF is trimmed before this) would come back as a line end when written again.
    if line.contains(['\r', '\0']) {
        return Err(ParseErrorKind::Invalid("line (a CR or NUL inside it)"));
    }
    match line.as_bytes() {
        [t, b'=', ..] if t.is_ascii_alphabetic() => Ok((*t, &line[2..])),
        _ => Err(ParseErrorKind::MalformedLine),
    }
}

/// Parses a whole description. See [`SessionDescription::parse`].
pub(crate) fn session(text: &str) -> Result<SessionDescription, ParseError> {
    // Lenient where browsers are: LF or CRLF, trailing spaces/tabs, blank lines.
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(n, raw)| (n + 1, raw.trim_end_matches([' ', '\t', '\r'])))
        .filter(|(_, line)| !line.is_empty());
    let mut last = (1, "");

    // v=, o=, s= come first, in this order (RFC 8866 §5).
    let mut head = |expected: u8| -> Result<(usize, &str, &str), ParseError> {
        let Some((n, line)) = lines.next() else {
            return Err(ParseError::new(
                last.0,
                last.1,
                if expected == b'v' {
                    ParseErrorKind::Empty
                } else {
                    ParseErrorKind::ExpectedLine(char::from(expected))
                },
            ));
        };
        last = (n, line);
        let (t, value) = split_line(line).map_err(|k| ParseError::new(n, line, k))?;
        if t != expected {
            let kind = if expected == b'v' {
                ParseErrorKind::FirstLineNotVersion
            } else {
                ParseErrorKind::ExpectedLine(char::from(expected))
            };
            return Err(ParseError::new(n, line, kind));
        }
        Ok((n, line, value))
    };
    let (n, line, version) = head(b'v')?;
    if version != "0" {
        let kind = if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) {
            ParseErrorKind::UnsupportedVersion
        } else {
            ParseErrorKind::InvalidNumber("version")
        };
        return Err(ParseError::new(n, line, kind));
    }
    let (n, line, origin) = head(b'o')?;
    let origin: Origin =
        complete(session::origin, "origin", origin).map_err(|k| ParseError::new(n, line, k))?;
    let (_, _, session_name) = head(b's')?;

    let mut sdp = SessionDescription {
        origin,
        session_name: session_name.to_owned(),
        information: None,
        uri: None,
        emails: Vec::new(),
        phones: Vec::new(),
        connection: None,
        bandwidths: Vec::new(),
        timings: Vec::new(),
        time_zones: Vec::new(),
        key: None,
        attributes: Vec::new(),
        media: Vec::new(),
    };
    let mut seen = Seen::default();
    for (n, line) in lines {
        last = (n, line);
        let (t, value) = split_line(line).map_err(|k| ParseError::new(n, line, k))?;
        if t == b'm' {
            seen = Seen::default();
        }
        let result = if sdp.media.is_empty() {
            session_line(&mut sdp, &mut seen, t, value)
        } else {
            media_section_line(&mut sdp, &mut seen, t, value)
        };
        result.map_err(|k| ParseError::new(n, line, k))?;
    }
    if sdp.timings.is_empty() {
        return Err(ParseError::new(
            last.0,
            last.1,
            ParseErrorKind::MissingTiming,
        ));
    }
    Ok(sdp)
}

/// What a section has declared so far, to refuse a second, conflicting declaration: strict
/// where guessing which one counts would hurt.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// One bit per single-instance attribute kind.
    singles: u16,
    /// Payload types with an `a=rtpmap`.
    rtpmap: u128,
    /// Payload types with an `a=fmtp`.
    fmtp: u128,
}

impl Seen {
    pub(crate) fn check(&mut self, attribute: &Attribute) -> Result<(), ParseErrorKind> {
        let (bit, kind) = match attribute {
            Attribute::Mid(_) => (0, ParseErrorKind::DuplicateAttribute("mid")),
            Attribute::IceUfrag(_) => (1, ParseErrorKind::DuplicateAttribute("ice-ufrag")),
            Attribute::IcePwd(_) => (2, ParseErrorKind::DuplicateAttribute("ice-pwd")),
            Attribute::Setup(_) => (3, ParseErrorKind::DuplicateAttribute("setup")),
            Attribute::SctpPort(_) => (4, ParseErrorKind::DuplicateAttribute("sctp-port")),
            Attribute::MaxMessageSize(_) => {
                (5, ParseErrorKind::DuplicateAttribute("max-message-size"))
            }
            Attribute::Rtcp(_) => (6, ParseErrorKind::DuplicateAttribute("rtcp")),
            Attribute::Simulcast(_) => (7, ParseErrorKind::DuplicateAttribute("simulcast")),
            Attribute::Direction(_) => (8, ParseErrorKind::ConflictingDirection),
            Attribute::Rtpmap(r) => {
                return take_bit(&mut self.rtpmap, r.payload_type, "rtpmap");
            }
            Attribute::Fmtp(f) => return take_bit(&mut self.fmtp, f.payload_type, "fmtp"),
            _ => return Ok(()),
        };
        if self.singles & (1 << bit) != 0 {
            return Err(kind);
        }
        self.singles |= 1 << bit;
        Ok(())
    }
}

fn take_bit(
    set: &mut u128,
    payload_type: PayloadType,
    name: &'static str,
) -> Result<(), ParseErrorKind> {
    // A `PayloadType` is at most 127, so the shift is in range.
    let bit = 1u128 << payload_type.get();
    if *set & bit != 0 {
        return Err(ParseErrorKind::DuplicatePayloadType(name));
    }
    *set |= bit;
    Ok(())
}

fn once(slot: &mut Option<String>, t: u8, value: &str) -> Result<(), ParseErrorKind> {
    if slot.is_some() {
        return Err(ParseErrorKind::DuplicateLine(char::from(t)));
    }
    *slot = Some(value.to_owned());
    Ok(())
}

fn unknown_or_misplaced(t: u8) -> ParseErrorKind {
    if b"vosiuepcbtrzkam".contains(&t) {
        ParseErrorKind::MisplacedLine(char::from(t))
    } else {
        ParseErrorKind::UnknownType(char::from(t))
    }
}

/// A line of the session section, after `v= o= s=`.
fn session_line(
    sdp: &mut SessionDescription,
    seen: &mut Seen,
    t: u8,
    value: &str,
) -> Result<(), ParseErrorKind> {
    match t {
        b'v' | b'o' | b's' => return Err(ParseErrorKind::DuplicateLine(char::from(t))),
        b'i' => once(&mut sdp.information, t, value)?,
        b'u' => once(&mut sdp.uri, t, value)?,
        b'e' => sdp.emails.push(value.to_owned()),
        b'p' => sdp.phones.push(value.to_owned()),
        b'c' => {
            if sdp.connection.is_some() {
                return Err(ParseErrorKind::DuplicateLine('c'));
            }
            sdp.connection = Some(complete(session::connection, "connection address", value)?);
        }
        b'b' => sdp
            .bandwidths
            .push(complete(session::bandwidth, "bandwidth", value)?),
        b't' => sdp
            .timings
            .push(complete(session::timing, "stop time", value)?),
        b'r' => {
            let repeat = complete(session::repeat, "repeat times", value)?;
            let Some(timing) = sdp.timings.last_mut() else {
                return Err(ParseErrorKind::MisplacedLine('r'));
            };
            timing.repeats.push(repeat);
        }
        b'z' => {
            if !sdp.time_zones.is_empty() {
                return Err(ParseErrorKind::DuplicateLine('z'));
            }
            sdp.time_zones = complete(session::time_zones, "time zones", value)?;
        }
        b'k' => once(&mut sdp.key, t, value)?,
        b'a' => {
            let attribute = Attribute::parse(value)?;
            seen.check(&attribute)?;
            sdp.attributes.push(attribute);
        }
        b'm' => {
            if sdp.timings.is_empty() {
                return Err(ParseErrorKind::MissingTiming);
            }
            sdp.media
                .push(complete(media_line, "media formats", value)?);
        }
        _ => return Err(unknown_or_misplaced(t)),
    }
    Ok(())
}

/// A line after the first `m=`.
fn media_section_line(
    sdp: &mut SessionDescription,
    seen: &mut Seen,
    t: u8,
    value: &str,
) -> Result<(), ParseErrorKind> {
    if t == b'm' {
        sdp.media
            .push(complete(media_line, "media formats", value)?);
        return Ok(());
    }
    // The caller only comes here once a media section exists.
    let Some(media) = sdp.media.last_mut() else {
        return session_line(sdp, seen, t, value);
    };
    match t {
        b'i' => once(&mut media.title, t, value)?,
        b'c' => media
            .connections
            .push(complete(session::connection, "connection address", value)?),
        b'b' => media
            .bandwidths
            .push(complete(session::bandwidth, "bandwidth", value)?),
        b'k' => once(&mut media.key, t, value)?,
        b'a' => {
            let attribute = Attribute::parse(value)?;
            seen.check(&attribute)?;
            media.attributes.push(attribute);
        }
        _ => return Err(unknown_or_misplaced(t)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ParseError {
        SessionDescription::parse(text).unwrap_err()
    }

    const HEAD: &str = "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\n";

    #[test]
    fn minimal_with_lf_and_trailing_space() {
        let s = SessionDescription::parse("v=0 \no=- 1 2 IN IP4 0.0.0.0\t\r\ns=-\nt=0 0").unwrap();
        assert_eq!(s.origin.session_version, 2);
        assert_eq!(s.session_name, "-");
        assert_eq!(
            s.to_string(),
            "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
        );
    }

    /// Found by the `sdp_parse` fuzz target: `a=fmtp:97 apt=96\r;` kept a CR inside the
    /// value, which the written text then ended the line with.
    #[test]
    fn a_cr_or_nul_inside_a_line_is_refused() {
        for bad in ["a=fmtp:97 apt=96\r;\n", "a=tool:x\0y\n", "a=tool:x\ry\r\n"] {
            let e = err(&format!("{HEAD}{bad}"));
            assert_eq!(e.line, 5, "{bad:?}");
            assert_eq!(
                e.kind,
                ParseErrorKind::Invalid("line (a CR or NUL inside it)")
            );
        }
        // The CR of CRLF, and trailing ones, are still fine.
        SessionDescription::parse(&format!("{HEAD}a=tool:x\r\r\n")).unwrap();
    }

    #[test]
    fn blank_lines_are_skipped_but_counted() {
        let e = err("v=0\r\n\r\no=- x 1 IN IP4 0.0.0.0\r\n");
        assert_eq!(e.line, 3);
        assert_eq!(e.kind, ParseErrorKind::InvalidNumber("session id"));
    }

    #[test]
    fn head_order_is_strict() {
        assert_eq!(err("").kind, ParseErrorKind::Empty);
        assert_eq!(err("\r\n \r\n").kind, ParseErrorKind::Empty);
        assert_eq!(
            err("o=- 1 1 IN IP4 x\n").kind,
            ParseErrorKind::FirstLineNotVersion
        );
        assert_eq!(err("v=1\n").kind, ParseErrorKind::UnsupportedVersion);
        assert_eq!(
            err("v=zero\n").kind,
            ParseErrorKind::InvalidNumber("version")
        );
        let e = err("v=0\ns=-\n");
        assert_eq!((e.line, e.kind), (2, ParseErrorKind::ExpectedLine('o')));
        let e = err("v=0\no=- 1 1 IN IP4 0.0.0.0\n");
        assert_eq!((e.line, e.kind), (2, ParseErrorKind::ExpectedLine('s')));
        assert_eq!(err("v=0\nv=0\n").kind, ParseErrorKind::ExpectedLine('o'));
    }

    #[test]
    fn malformed_and_unknown_lines() {
        let e = err(&format!("{HEAD}x=1\n"));
        assert_eq!((e.line, e.kind), (5, ParseErrorKind::UnknownType('x')));
        assert_eq!(e.text, "x=1");
        assert_eq!(
            err(&format!("{HEAD}a = b\n")).kind,
            ParseErrorKind::MalformedLine
        );
        assert_eq!(
            err(&format!("{HEAD}hello\n")).kind,
            ParseErrorKind::MalformedLine
        );
        assert_eq!(
            err(&format!("{HEAD}é=1\n")).kind,
            ParseErrorKind::MalformedLine
        );
        assert_eq!(
            err(&format!("{HEAD}A=1\n")).kind,
            ParseErrorKind::UnknownType('A')
        );
    }

    #[test]
    fn duplicates_and_misplaced_lines() {
        assert_eq!(
            err(&format!("{HEAD}s=again\n")).kind,
            ParseErrorKind::DuplicateLine('s')
        );
        assert_eq!(
            err(&format!("{HEAD}c=IN IP4 1.1.1.1\nc=IN IP4 1.1.1.1\n")).kind,
            ParseErrorKind::DuplicateLine('c')
        );
        assert_eq!(
            err("v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nr=1 1 1\n").kind,
            ParseErrorKind::MisplacedLine('r')
        );
        let m = "m=audio 9 RTP/AVP 0\n";
        assert_eq!(
            err(&format!("{HEAD}{m}t=0 0\n")).kind,
            ParseErrorKind::MisplacedLine('t')
        );
        assert_eq!(
            err(&format!("{HEAD}{m}i=a\ni=b\n")).kind,
            ParseErrorKind::DuplicateLine('i')
        );
        assert_eq!(
            err(&format!("{HEAD}{m}k=a\nk=b\n")).kind,
            ParseErrorKind::DuplicateLine('k')
        );
        assert_eq!(
            err(&format!("{HEAD}{m}y=1\n")).kind,
            ParseErrorKind::UnknownType('y')
        );
    }

    #[test]
    fn ambiguous_repeats_are_refused() {
        let m = "m=audio 9 RTP/AVP 0\n";
        let e = err(&format!("{HEAD}{m}a=mid:a\na=mid:b\n"));
        assert_eq!(
            (e.line, e.kind),
            (7, ParseErrorKind::DuplicateAttribute("mid"))
        );
        assert_eq!(
            err(&format!("{HEAD}{m}a=sendrecv\na=recvonly\n")).kind,
            ParseErrorKind::ConflictingDirection
        );
        assert_eq!(
            err(&format!(
                "{HEAD}{m}a=rtpmap:0 PCMU/8000\na=rtpmap:0 PCMA/8000\n"
            ))
            .kind,
            ParseErrorKind::DuplicatePayloadType("rtpmap")
        );
        assert_eq!(
            err(&format!("{HEAD}a=ice-pwd:x\na=ice-pwd:y\n")).kind,
            ParseErrorKind::DuplicateAttribute("ice-pwd")
        );
        // Each section is its own scope: the same attribute at session level and in every
        // media section is fine, as Firefox writes `a=sendrecv`.
        let ok = format!(
            "{HEAD}a=sendrecv\na=ice-ufrag:s\n{m}a=sendrecv\na=mid:a\na=rtpmap:0 PCMU/8000\n\
             {m}a=sendrecv\na=mid:b\na=rtpmap:0 PCMU/8000\na=fmtp:0 x=1\n"
        );
        let s = SessionDescription::parse(&ok).unwrap();
        assert_eq!(s.media.len(), 2);
    }

    #[test]
    fn timing_is_required() {
        let e = err("v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nm=audio 9 RTP/AVP 0\n");
        assert_eq!((e.line, e.kind), (4, ParseErrorKind::MissingTiming));
        let e = err("v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\na=x\n");
        assert_eq!((e.line, e.kind), (4, ParseErrorKind::MissingTiming));
    }

    #[test]
    fn empty_session_name_round_trips() {
        let s = SessionDescription::parse("v=0\no=- 1 1 IN IP4 0.0.0.0\ns= \nt=0 0\n").unwrap();
        assert_eq!(s.session_name, "");
        let text = s.to_string();
        assert!(text.contains("\r\ns= \r\n"));
        assert_eq!(SessionDescription::parse(&text).unwrap(), s);
    }

    #[test]
    fn session_level_fields_in_any_order() {
        let s = SessionDescription::parse(&format!(
            "{HEAD}a=ice-lite\nk=prompt\nz=2882844526 -1h 2898848070 0\nb=CT:128\nr=7d 1h 0 25h\n\
             u=http://x\ne=a@b\np=+1 555\ni=info\nc=IN IP4 224.2.1.1/127\n"
        ))
        .unwrap();
        assert!(s.ice_lite());
        assert_eq!(s.key.as_deref(), Some("prompt"));
        assert_eq!(s.time_zones.len(), 2);
        assert_eq!(s.timings[0].repeats.len(), 1);
        assert_eq!(s.connection.as_ref().and_then(|c| c.ttl), Some(127));
        let canonical = s.to_string();
        assert_eq!(
            canonical,
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\ni=info\r\nu=http://x\r\ne=a@b\r\np=+1 555\r\n\
             c=IN IP4 224.2.1.1/127\r\nb=CT:128\r\nt=0 0\r\nr=7d 1h 0 25h\r\n\
             z=2882844526 -1h 2898848070 0\r\nk=prompt\r\na=ice-lite\r\n"
        );
        assert_eq!(SessionDescription::parse(&canonical).unwrap(), s);
    }
}
