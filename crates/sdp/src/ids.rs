//! Identifier newtypes: what a number or a string *is*, checked where a value can be wrong.

use std::fmt;

use crate::ParseErrorKind;

/// An RTP payload type: 7 bits, 0 to 127 (RFC 3550 §5.1), as written in `m=` format lists,
/// `a=rtpmap`, `a=fmtp`, `a=rtcp-fb` and `a=rid`.
///
/// Only 0..=127 can be built, so a model holding one always serializes to text that parses.
///
/// ```
/// use ferrtc_sdp::PayloadType;
///
/// let vp8 = PayloadType::new(96).unwrap();
/// assert_eq!(vp8.get(), 96);
/// assert_eq!(vp8.to_string(), "96");
/// assert_eq!(PayloadType::new(128), None);
/// assert!(PayloadType::try_from(200).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadType(u8);

impl PayloadType {
    /// The largest payload type, 0x7f (RFC 3550 §5.1: a 7-bit field).
    pub const MAX: u8 = 0x7f;

    /// The payload type `value`; `None` above [`PayloadType::MAX`].
    pub const fn new(value: u8) -> Option<Self> {
        if value <= Self::MAX {
            Some(PayloadType(value))
        } else {
            None
        }
    }

    /// The 7-bit value.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for PayloadType {
    type Error = ParseErrorKind;

    /// # Errors
    /// [`ParseErrorKind::OutOfRange`] above [`PayloadType::MAX`].
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        PayloadType::new(value).ok_or(ParseErrorKind::OutOfRange("payload type"))
    }
}

impl From<PayloadType> for u8 {
    fn from(pt: PayloadType) -> u8 {
        pt.0
    }
}

impl fmt::Display for PayloadType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A synchronization source identifier (RFC 3550 §5.1), as written in `a=ssrc` and
/// `a=ssrc-group` (RFC 5576). Every 32-bit value is one; it displays in decimal, as SDP
/// writes it.
///
/// ```
/// use ferrtc_sdp::Ssrc;
///
/// assert_eq!(Ssrc(3_629_162_994).to_string(), "3629162994");
/// assert_eq!(u32::from(Ssrc::from(7)), 7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ssrc(pub u32);

impl From<u32> for Ssrc {
    fn from(value: u32) -> Self {
        Ssrc(value)
    }
}

impl From<Ssrc> for u32 {
    fn from(ssrc: Ssrc) -> u32 {
        ssrc.0
    }
}

impl fmt::Display for Ssrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A media identification tag: the value of `a=mid` and an entry of `a=group`
/// (RFC 5888 §4, §5).
///
/// ```abnf
/// identification-tag = token
/// ```
/// Accepted here, when parsing and when building: a non-empty run of anything but a space
/// or an ASCII control character (`non-ws-string`, RFC 8866 §9). That is a little wider than
/// `token`, as peers are, and exactly what can stand in an `a=group` list and come back
/// unchanged.
///
/// ```
/// use ferrtc_sdp::Mid;
///
/// let mid = Mid::new("0").unwrap();
/// assert_eq!(mid.as_str(), "0");
/// assert_eq!(mid, "0");
/// assert!(Mid::new("").is_err());
/// assert!(Mid::new("a b").is_err());
/// assert!(Mid::new("a\r\nb=x").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mid(String);

impl Mid {
    /// Checks `value` against the grammar above.
    ///
    /// # Errors
    /// [`ParseErrorKind::Invalid`]`("mid")` if it is empty or holds a space or a control
    /// character.
    pub fn new(value: impl Into<String>) -> Result<Self, ParseErrorKind> {
        let value = value.into();
        if Self::is_valid(&value) {
            Ok(Mid(value))
        } else {
            Err(ParseErrorKind::Invalid("mid"))
        }
    }

    fn is_valid(value: &str) -> bool {
        !value.is_empty() && !value.chars().any(|c| c == ' ' || c.is_ascii_control())
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Mid {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Mid {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<Mid> for String {
    fn from(mid: Mid) -> String {
        mid.0
    }
}

impl TryFrom<&str> for Mid {
    type Error = ParseErrorKind;

    /// See [`Mid::new`].
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Mid::new(value)
    }
}

impl TryFrom<String> for Mid {
    type Error = ParseErrorKind;

    /// See [`Mid::new`].
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Mid::new(value)
    }
}

impl PartialEq<str> for Mid {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Mid {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for Mid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Test shorthand: the payload type `n`, which must be at most 127.
#[cfg(test)]
pub(crate) fn pt(n: u8) -> PayloadType {
    PayloadType::new(n).expect("test payload types are at most 127")
}

/// Test shorthand: the identification tag `s`, which must be valid.
#[cfg(test)]
pub(crate) fn mid(s: &str) -> Mid {
    Mid::new(s).expect("test mids are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_type_is_seven_bits() {
        assert_eq!(PayloadType::new(0).map(PayloadType::get), Some(0));
        assert_eq!(PayloadType::new(127).map(u8::from), Some(127));
        assert_eq!(PayloadType::new(128), None);
        assert_eq!(
            PayloadType::try_from(255),
            Err(ParseErrorKind::OutOfRange("payload type"))
        );
    }

    #[test]
    fn mid_refuses_what_cannot_round_trip() {
        for bad in ["", " ", "a b", "a\tb", "a\n", "\r", "x\u{7f}"] {
            assert_eq!(
                Mid::new(bad),
                Err(ParseErrorKind::Invalid("mid")),
                "{bad:?}"
            );
        }
        for good in ["0", "audio", "a1", "{6b0c}", "é", "x:y/z"] {
            assert_eq!(Mid::new(good).map(String::from), Ok(good.to_owned()));
        }
    }
}
