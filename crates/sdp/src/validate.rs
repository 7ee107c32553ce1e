//! Checks on a description built by hand: every line it would write must parse back to the
//! value it was written from, so that `parse(serialize(x)) == x`.
//!
//! Each line is written alone and read back with the same grammar [`parse`](crate::parse)
//! uses; a value that would not survive is refused with the line it sits on and why. The
//! per-section rules of the parser (one `a=mid`, one direction, one `a=rtpmap` per payload
//! type, ...) are applied too. As a last guard the whole text is read back and compared.

use std::fmt;

use crate::emit::Emit;
use crate::grammar::complete;
use crate::media::media_line;
use crate::parse::Seen;
use crate::{Attribute, MediaDescription, ParseErrorKind, SessionDescription, session};

/// The kind of line a [`BuildError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineKind {
    /// `o=`.
    Origin,
    /// `s=`.
    SessionName,
    /// `i=` (session information or media title).
    Information,
    /// `u=`.
    Uri,
    /// `e=`.
    Email,
    /// `p=`.
    Phone,
    /// `c=`.
    Connection,
    /// `b=`.
    Bandwidth,
    /// `t=`.
    Timing,
    /// `r=`.
    Repeat,
    /// `z=`.
    TimeZones,
    /// `k=`.
    Key,
    /// `a=`.
    Attribute,
    /// `m=`.
    Media,
}

impl LineKind {
    /// The line's type letter.
    pub fn letter(self) -> char {
        match self {
            Self::Origin => 'o',
            Self::SessionName => 's',
            Self::Information => 'i',
            Self::Uri => 'u',
            Self::Email => 'e',
            Self::Phone => 'p',
            Self::Connection => 'c',
            Self::Bandwidth => 'b',
            Self::Timing => 't',
            Self::Repeat => 'r',
            Self::TimeZones => 'z',
            Self::Key => 'k',
            Self::Attribute => 'a',
            Self::Media => 'm',
        }
    }
}

/// What is wrong with a line of a [`BuildError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildFault {
    /// An LF, CR or NUL inside a value: it would end the line or be refused by the parser
    /// (RFC 8866 §9: `text` excludes them).
    LineBreak,
    /// A space, tab or CR at the end of the line: the parser trims it, as browsers need.
    TrailingWhitespace,
    /// The line as it would be written does not parse: the parser's reason.
    Refused(ParseErrorKind),
    /// The line parses, but to another value (e.g. a typed attribute's name used for an
    /// unknown one, or a field that swallows the next).
    ReadsBack,
    /// No `t=` line (RFC 8866 §5: at least one).
    NoTiming,
    /// The whole text reads back differently although every line passed (a guard: it
    /// means a check is missing here).
    NotCanonical,
}

/// Why [`SessionDescription::validate`] or [`SessionBuilder::try_build`]
/// refused a description: the line, where it is, and what is wrong.
///
/// [`SessionBuilder::try_build`]: crate::SessionBuilder::try_build
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    /// The media section (0-based), or `None` at session level.
    pub section: Option<usize>,
    /// The kind of line.
    pub line: LineKind,
    /// Which line of that kind in its section (0-based; for `r=`, among all `r=` lines).
    pub index: usize,
    /// What is wrong.
    pub fault: BuildFault,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.section {
            Some(m) => write!(f, "media section {m}, ")?,
            None => f.write_str("session level, ")?,
        }
        write!(f, "{}= line {}: ", self.line.letter(), self.index)?;
        match &self.fault {
            BuildFault::LineBreak => f.write_str("LF, CR or NUL in a value"),
            BuildFault::TrailingWhitespace => f.write_str("trailing space, tab or CR"),
            BuildFault::Refused(kind) => write!(f, "would not parse: {kind}"),
            BuildFault::ReadsBack => f.write_str("would read back as another value"),
            BuildFault::NoTiming => f.write_str("no t= line"),
            BuildFault::NotCanonical => f.write_str("the text reads back differently"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Checks as it goes, remembering where it is.
struct Checker {
    section: Option<usize>,
    text: String,
}

impl Checker {
    fn err(&self, line: LineKind, index: usize, fault: BuildFault) -> BuildError {
        BuildError {
            section: self.section,
            line,
            index,
            fault,
        }
    }

    /// The characters of `self.text` (a line's value as written).
    fn chars(&self, line: LineKind, index: usize) -> Result<(), BuildError> {
        if self.text.ends_with([' ', '\t', '\r']) {
            return Err(self.err(line, index, BuildFault::TrailingWhitespace));
        }
        if self.text.contains(['\n', '\r', '\0']) {
            return Err(self.err(line, index, BuildFault::LineBreak));
        }
        Ok(())
    }

    /// A free-text line (`s= i= u= e= p= k=`), read back as written.
    fn text(&mut self, line: LineKind, index: usize, value: &str) -> Result<(), BuildError> {
        self.text.clear();
        self.text.push_str(value);
        self.chars(line, index)
    }

    /// A structured line: written, then read back with `parse`, must give `value`.
    fn value<T: Emit + PartialEq>(
        &mut self,
        line: LineKind,
        index: usize,
        value: &T,
        parse: impl FnOnce(&str) -> Result<T, ParseErrorKind>,
    ) -> Result<(), BuildError> {
        self.text.clear();
        value.emit(&mut self.text);
        self.chars(line, index)?;
        match parse(&self.text) {
            Ok(back) if back == *value => Ok(()),
            Ok(_) => Err(self.err(line, index, BuildFault::ReadsBack)),
            Err(kind) => Err(self.err(line, index, BuildFault::Refused(kind))),
        }
    }

    /// The `a=` lines of one section, with the parser's per-section rules.
    fn attributes(&mut self, attributes: &[Attribute]) -> Result<(), BuildError> {
        let mut seen = Seen::default();
        for (n, a) in attributes.iter().enumerate() {
            self.value(LineKind::Attribute, n, a, Attribute::parse)?;
            seen.check(a)
                .map_err(|k| self.err(LineKind::Attribute, n, BuildFault::Refused(k)))?;
        }
        Ok(())
    }

    fn media(&mut self, m: &MediaDescription) -> Result<(), BuildError> {
        // The m= line alone: the section without its other lines.
        self.text.clear();
        let head = MediaDescription {
            title: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: Vec::new(),
            ..m.clone()
        };
        head.emit(&mut self.text);
        let written = self
            .text
            .strip_prefix("m=")
            .and_then(|t| t.strip_suffix("\r\n"))
            .unwrap_or_default()
            .to_owned();
        self.text = written;
        self.chars(LineKind::Media, 0)?;
        match complete(media_line, "media formats", &self.text) {
            Ok(back) if back == head => {}
            Ok(_) => return Err(self.err(LineKind::Media, 0, BuildFault::ReadsBack)),
            Err(k) => return Err(self.err(LineKind::Media, 0, BuildFault::Refused(k))),
        }
        if let Some(i) = &m.title {
            self.text(LineKind::Information, 0, i)?;
        }
        for (n, c) in m.connections.iter().enumerate() {
            self.value(LineKind::Connection, n, c, |t| {
                complete(session::connection, "connection address", t)
            })?;
        }
        for (n, b) in m.bandwidths.iter().enumerate() {
            self.value(LineKind::Bandwidth, n, b, |t| {
                complete(session::bandwidth, "bandwidth", t)
            })?;
        }
        if let Some(k) = &m.key {
            self.text(LineKind::Key, 0, k)?;
        }
        self.attributes(&m.attributes)
    }
}

/// See [`SessionDescription::validate`].
pub(crate) fn check_session(sdp: &SessionDescription) -> Result<(), BuildError> {
    let mut c = Checker {
        section: None,
        text: String::new(),
    };
    c.value(LineKind::Origin, 0, &sdp.origin, |t| {
        complete(session::origin, "origin", t)
    })?;
    // An empty name is written `s= ` and read back empty (RFC 8866 §5.3).
    c.text(LineKind::SessionName, 0, &sdp.session_name)?;
    if let Some(i) = &sdp.information {
        c.text(LineKind::Information, 0, i)?;
    }
    if let Some(u) = &sdp.uri {
        c.text(LineKind::Uri, 0, u)?;
    }
    for (n, e) in sdp.emails.iter().enumerate() {
        c.text(LineKind::Email, n, e)?;
    }
    for (n, p) in sdp.phones.iter().enumerate() {
        c.text(LineKind::Phone, n, p)?;
    }
    if let Some(conn) = &sdp.connection {
        c.value(LineKind::Connection, 0, conn, |t| {
            complete(session::connection, "connection address", t)
        })?;
    }
    for (n, b) in sdp.bandwidths.iter().enumerate() {
        c.value(LineKind::Bandwidth, n, b, |t| {
            complete(session::bandwidth, "bandwidth", t)
        })?;
    }
    if sdp.timings.is_empty() {
        return Err(c.err(LineKind::Timing, 0, BuildFault::NoTiming));
    }
    let mut repeats = 0;
    for t in &sdp.timings {
        for r in &t.repeats {
            c.value(LineKind::Repeat, repeats, r, |t| {
                complete(session::repeat, "repeat times", t)
            })?;
            repeats += 1;
        }
    }
    if !sdp.time_zones.is_empty() {
        c.text.clear();
        for (n, z) in sdp.time_zones.iter().enumerate() {
            if n > 0 {
                c.text.push(' ');
            }
            z.emit(&mut c.text);
        }
        match complete(session::time_zones, "time zones", &c.text) {
            Ok(back) if back == sdp.time_zones => {}
            Ok(_) => return Err(c.err(LineKind::TimeZones, 0, BuildFault::ReadsBack)),
            Err(k) => return Err(c.err(LineKind::TimeZones, 0, BuildFault::Refused(k))),
        }
    }
    if let Some(k) = &sdp.key {
        c.text(LineKind::Key, 0, k)?;
    }
    c.attributes(&sdp.attributes)?;
    for (n, m) in sdp.media.iter().enumerate() {
        c.section = Some(n);
        c.media(m)?;
    }
    // The guard: the whole text reads back the same.
    c.section = None;
    let text = sdp.to_string();
    match SessionDescription::parse(&text) {
        Ok(back) if back == *sdp => Ok(()),
        _ => Err(c.err(LineKind::Origin, 0, BuildFault::NotCanonical)),
    }
}
