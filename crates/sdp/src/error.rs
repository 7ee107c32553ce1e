//! Parse errors: which line, what it said, and what is wrong with it.

use std::fmt;

use ferrtc_types::{HashAlgorithm, ValueError};

/// An SDP text that could not be parsed.
///
/// Displays as ``line N: reason (`the line`)``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based number of the offending line (LF-separated, as the text was given).
    pub line: usize,
    /// The offending line, without its line ending.
    pub text: String,
    /// What is wrong with it.
    pub kind: ParseErrorKind,
}

impl ParseError {
    pub(crate) fn new(line: usize, text: &str, kind: ParseErrorKind) -> Self {
        /// Longest line text kept in an error, so a hostile input cannot make the error huge.
        const MAX_TEXT: usize = 256;
        let text = if text.len() > MAX_TEXT {
            let mut end = MAX_TEXT;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…", &text[..end])
        } else {
            text.to_owned()
        };
        ParseError { line, text, kind }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {} (`{}`)", self.line, self.kind, self.text)
    }
}

impl std::error::Error for ParseError {}

/// What is wrong with a line.
///
/// Field names (the `&'static str`s) are the names the RFC grammars use, in words, such as
/// `"payload type"` or `"clock rate"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The text holds no SDP line at all.
    Empty,
    /// The line is not `<type>=<value>` with a one-letter type (RFC 8866 §5).
    MalformedLine,
    /// A line type that RFC 8866 does not define; §5 says such a description must be ignored.
    UnknownType(char),
    /// The first line is not a `v=` line.
    FirstLineNotVersion,
    /// `v=` holds a version other than 0.
    UnsupportedVersion,
    /// This line type was expected here (`o=` second, `s=` third).
    ExpectedLine(char),
    /// A second line of a type that may appear once in its section.
    DuplicateLine(char),
    /// A line type that is not allowed where it is (`t=` in a media section, `r=` before `t=`).
    MisplacedLine(char),
    /// The session section has no `t=` line.
    MissingTiming,
    /// A required field is absent.
    Missing(&'static str),
    /// A field that must be a decimal number is not one.
    InvalidNumber(&'static str),
    /// A number that does not fit its field.
    OutOfRange(&'static str),
    /// A field that does not follow its grammar.
    Invalid(&'static str),
    /// Text left over after a complete value.
    Trailing(&'static str),
    /// An attribute that needs a value (`a=name:value`) was given without one.
    MissingValue(&'static str),
    /// A property attribute (`a=name`) was given a value.
    UnexpectedValue(&'static str),
    /// A second attribute of a kind a section may hold once (`a=mid`, `a=ice-ufrag`,
    /// `a=setup`, ...): which one counts would be a guess.
    DuplicateAttribute(&'static str),
    /// A second direction attribute (`a=sendrecv`, `a=sendonly`, ...) in one section.
    ConflictingDirection,
    /// A second `a=rtpmap` or `a=fmtp` for the same payload type in one section.
    DuplicatePayloadType(&'static str),
    /// An `a=fingerprint` digest whose length is not its hash function's output length
    /// (RFC 8122 §5).
    FingerprintLength {
        /// The hash function.
        algorithm: HashAlgorithm,
        /// Its output length in bytes.
        expected: usize,
        /// The number of bytes written.
        actual: usize,
    },
}

impl From<ValueError> for ParseErrorKind {
    /// The reason a shared vocabulary type ([`Mid`](crate::Mid), [`Rid`](crate::Rid),
    /// [`PayloadType`](crate::PayloadType), [`Fingerprint`](crate::Fingerprint), ...) refused
    /// a field, named as the SDP grammar names that field.
    fn from(e: ValueError) -> Self {
        match e {
            ValueError::PayloadTypeOutOfRange(_) => Self::OutOfRange("payload type"),
            ValueError::ExtensionIdOutOfRange(_) => Self::OutOfRange("extmap id"),
            ValueError::InvalidMid => Self::Invalid("mid"),
            ValueError::InvalidRid => Self::Invalid("rid id"),
            ValueError::UnknownHashAlgorithm => Self::Invalid("hash function"),
            ValueError::MalformedFingerprint => Self::Invalid("fingerprint"),
            ValueError::FingerprintLength {
                algorithm,
                expected,
                actual,
            } => Self::FingerprintLength {
                algorithm,
                expected,
                actual,
            },
            // `ValueError` is non-exhaustive: a value of a kind added later.
            _ => Self::Invalid("value"),
        }
    }
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no SDP lines"),
            Self::MalformedLine => f.write_str("not a `<type>=<value>` line"),
            Self::UnknownType(c) => write!(f, "unknown line type `{c}=`"),
            Self::FirstLineNotVersion => f.write_str("the first line must be `v=0`"),
            Self::UnsupportedVersion => f.write_str("unsupported SDP version (only 0 is defined)"),
            Self::ExpectedLine(c) => write!(f, "expected a `{c}=` line here"),
            Self::DuplicateLine(c) => {
                write!(f, "a second `{c}=` line where only one is allowed")
            }
            Self::MisplacedLine(c) => write!(f, "a `{c}=` line is not allowed here"),
            Self::MissingTiming => f.write_str("the session section has no `t=` line"),
            Self::Missing(what) => write!(f, "missing {what}"),
            Self::InvalidNumber(what) => write!(f, "{what} is not a decimal number"),
            Self::OutOfRange(what) => write!(f, "{what} is out of range"),
            Self::Invalid(what) => write!(f, "malformed {what}"),
            Self::Trailing(what) => write!(f, "unexpected text after {what}"),
            Self::MissingValue(name) => write!(f, "`a={name}` needs a value"),
            Self::UnexpectedValue(name) => write!(f, "`a={name}` takes no value"),
            Self::DuplicateAttribute(name) => write!(f, "a second `a={name}` in this section"),
            Self::ConflictingDirection => {
                f.write_str("a second direction attribute in this section")
            }
            Self::DuplicatePayloadType(name) => {
                write!(
                    f,
                    "a second `a={name}` for the same payload type in this section"
                )
            }
            Self::FingerprintLength {
                algorithm,
                expected,
                actual,
            } => write!(
                f,
                "a {algorithm} fingerprint is {expected} bytes, not {actual}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_line_reason_and_text() {
        let e = ParseError::new(
            7,
            "a=rtpmap:x VP8/90000",
            ParseErrorKind::InvalidNumber("payload type"),
        );
        assert_eq!(
            e.to_string(),
            "line 7: payload type is not a decimal number (`a=rtpmap:x VP8/90000`)"
        );
    }

    #[test]
    fn vocabulary_errors_name_the_field() {
        use crate::{Mid, PayloadType};

        assert_eq!(
            PayloadType::try_from(255u8).map_err(ParseErrorKind::from),
            Err(ParseErrorKind::OutOfRange("payload type"))
        );
        for bad in ["", " ", "a b", "a\tb", "a\n", "\r", "x\u{7f}"] {
            assert_eq!(
                Mid::new(bad).map_err(ParseErrorKind::from),
                Err(ParseErrorKind::Invalid("mid")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn long_lines_are_cut_on_a_char_boundary() {
        let long = "é".repeat(300);
        let e = ParseError::new(1, &long, ParseErrorKind::MalformedLine);
        assert!(e.text.len() <= 256 + "…".len());
        assert!(e.text.ends_with('…'));
    }
}
