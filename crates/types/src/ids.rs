//! Identifiers: what a number or a string *is*, checked where a value can be wrong.

use core::fmt;

use crate::ValueError;

/// A synchronization source identifier (RFC 3550 §5.1, 32 bits). Every value is one. It
/// displays in decimal, as SDP (`a=ssrc`, RFC 5576) and the W3C stats write it.
///
/// ```
/// use ferrtc_types::Ssrc;
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

/// An RTP sequence number (RFC 3550 §5.1, 16 bits, wrapping).
///
/// ```
/// use ferrtc_types::SeqNo;
///
/// assert_eq!(SeqNo(0xffff).wrapping_add(2), SeqNo(1));
/// assert!(SeqNo(3).is_after(SeqNo(0xfffe)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SeqNo(pub u16);

impl SeqNo {
    /// The sequence number `n` packets later, wrapping at 2^16.
    #[must_use]
    pub const fn wrapping_add(self, n: u16) -> SeqNo {
        SeqNo(self.0.wrapping_add(n))
    }

    /// Forward distance from `self` to `later`, modulo 2^16.
    #[must_use]
    pub const fn distance_to(self, later: SeqNo) -> u16 {
        later.0.wrapping_sub(self.0)
    }

    /// Whether `self` comes after `other` in serial-number order (RFC 1982 with 16 bits):
    /// true when the forward distance from `other` is in `1..0x8000`.
    #[must_use]
    pub const fn is_after(self, other: SeqNo) -> bool {
        let d = other.distance_to(self);
        d != 0 && d < 0x8000
    }
}

impl From<u16> for SeqNo {
    fn from(value: u16) -> Self {
        SeqNo(value)
    }
}

impl fmt::Display for SeqNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An RTP payload type: 7 bits, 0 to 127 (RFC 3550 §5.1), as carried in the RTP header and
/// written in SDP `m=` format lists, `a=rtpmap`, `a=fmtp` and `a=rtcp-fb`.
///
/// ```
/// use ferrtc_types::PayloadType;
///
/// assert_eq!(PayloadType::new(96).map(PayloadType::get), Some(96));
/// assert_eq!(PayloadType::new(128), None);
/// assert_eq!(PayloadType::from_masked(0xe0).get(), 0x60);
/// assert!(PayloadType::try_from(200u8).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PayloadType(u8);

impl PayloadType {
    /// The largest payload type, 0x7f (RFC 3550 §5.1: a 7-bit field).
    pub const MAX: u8 = 0x7f;

    /// The payload type `value`; `None` above [`PayloadType::MAX`].
    #[must_use]
    pub const fn new(value: u8) -> Option<Self> {
        if value <= Self::MAX {
            Some(PayloadType(value))
        } else {
            None
        }
    }

    /// The payload type in the low 7 bits of `value` (the RTP header's marker bit is the
    /// high bit of the same byte).
    #[must_use]
    pub const fn from_masked(value: u8) -> Self {
        PayloadType(value & Self::MAX)
    }

    /// The 7-bit value.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for PayloadType {
    type Error = ValueError;

    fn try_from(value: u8) -> Result<Self, ValueError> {
        PayloadType::new(value).ok_or(ValueError::PayloadTypeOutOfRange(u16::from(value)))
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

/// An RTP header extension id (RFC 8285): 1 to 14 fit the one-byte form (§4.2), 1 to 255
/// the two-byte form (§4.3); 0 is padding and never an id. The same number is written in SDP
/// `a=extmap` (§5).
///
/// ```
/// use ferrtc_types::ExtensionId;
///
/// let id = ExtensionId::new(3).unwrap();
/// assert!(id.fits_one_byte());
/// assert!(ExtensionId::new(0).is_none());
/// assert!(!ExtensionId::new(15).unwrap().fits_one_byte());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtensionId(u8);

impl ExtensionId {
    /// The largest id of the one-byte form (RFC 8285 §4.2; 15 is reserved there).
    pub const ONE_BYTE_MAX: u8 = 14;

    /// The id `value`; `None` for 0.
    #[must_use]
    pub const fn new(value: u8) -> Option<Self> {
        if value == 0 {
            None
        } else {
            Some(ExtensionId(value))
        }
    }

    /// The id.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }

    /// Whether the one-byte header form can carry this id (1 to 14).
    #[must_use]
    pub const fn fits_one_byte(self) -> bool {
        self.0 <= Self::ONE_BYTE_MAX
    }
}

impl TryFrom<u16> for ExtensionId {
    type Error = ValueError;

    fn try_from(value: u16) -> Result<Self, ValueError> {
        u8::try_from(value)
            .ok()
            .and_then(ExtensionId::new)
            .ok_or(ValueError::ExtensionIdOutOfRange(value))
    }
}

impl TryFrom<u8> for ExtensionId {
    type Error = ValueError;

    fn try_from(value: u8) -> Result<Self, ValueError> {
        ExtensionId::new(value).ok_or(ValueError::ExtensionIdOutOfRange(u16::from(value)))
    }
}

impl From<ExtensionId> for u8 {
    fn from(id: ExtensionId) -> u8 {
        id.0
    }
}

impl fmt::Display for ExtensionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Defines a checked string identifier with the usual conversions.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $valid:path, $err:expr) => {
        $(#[$doc])*
        ///
        /// The text is shared: a clone is a reference count, not a copy, so an id can
        /// travel with every packet of its stream without allocating.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(std::sync::Arc<str>);

        impl $name {
            /// Checks `value` against the grammar above.
            ///
            /// # Errors
            /// The matching [`ValueError`] if `value` does not fit it.
            pub fn new(value: impl Into<String>) -> Result<Self, ValueError> {
                let value: String = value.into();
                if $valid(&value) { Ok($name(value.into())) } else { Err($err) }
            }

            /// The identifier.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl core::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.as_ref().to_owned()
            }
        }

        impl TryFrom<&str> for $name {
            type Error = ValueError;

            fn try_from(value: &str) -> Result<Self, ValueError> {
                $name::new(value)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValueError;

            fn try_from(value: String) -> Result<Self, ValueError> {
                $name::new(value)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                &*self.0 == *other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A media identification tag: the value of `a=mid`, an entry of `a=group` (RFC 5888
    /// §4, §5) and of the RTP `mid` header extension (RFC 8843 §15).
    ///
    /// Accepted: a non-empty run of anything but a space or an ASCII control character
    /// (`non-ws-string`, RFC 8866 §9), a little wider than `token`, as peers are.
    ///
    /// ```
    /// use ferrtc_types::Mid;
    ///
    /// assert_eq!(Mid::new("0").unwrap(), "0");
    /// assert!(Mid::new("").is_err());
    /// assert!(Mid::new("a b").is_err());
    /// assert!(Mid::new("a\r\nb=x").is_err());
    /// ```
    Mid,
    mid_is_valid,
    ValueError::InvalidMid
);

string_id!(
    /// An RTP stream identifier: the id of `a=rid` and of the `rtp-stream-id` and
    /// `repaired-rtp-stream-id` header extensions (RFC 8851 §10, RFC 8852 §3).
    ///
    /// ```abnf
    /// rid-id = 1*(alpha-numeric / "-" / "_")
    /// ```
    /// At most 255 bytes, what a two-byte header extension element can carry.
    ///
    /// ```
    /// use ferrtc_types::Rid;
    ///
    /// assert_eq!(Rid::new("hi-res_1").unwrap().as_str(), "hi-res_1");
    /// assert!(Rid::new("").is_err());
    /// assert!(Rid::new("a.b").is_err());
    /// ```
    Rid,
    rid_is_valid,
    ValueError::InvalidRid
);

fn mid_is_valid(value: &str) -> bool {
    !value.is_empty() && !value.chars().any(|c| c == ' ' || c.is_ascii_control())
}

fn rid_is_valid(value: &str) -> bool {
    (1..=255).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqno_wraps() {
        assert_eq!(SeqNo(0xffff).wrapping_add(2), SeqNo(1));
        assert_eq!(SeqNo(0xfffe).distance_to(SeqNo(3)), 5);
        assert!(SeqNo(3).is_after(SeqNo(0xfffe)));
        assert!(!SeqNo(0xfffe).is_after(SeqNo(3)));
        assert!(!SeqNo(7).is_after(SeqNo(7)));
    }

    #[test]
    fn payload_type_is_seven_bits() {
        assert_eq!(PayloadType::new(127).map(u8::from), Some(127));
        assert_eq!(PayloadType::new(128), None);
        assert_eq!(
            PayloadType::try_from(255u8),
            Err(ValueError::PayloadTypeOutOfRange(255))
        );
        assert_eq!(PayloadType::from_masked(0xff).get(), 0x7f);
    }

    #[test]
    fn extension_id_range() {
        assert_eq!(ExtensionId::try_from(255u16).map(u8::from), Ok(255));
        assert_eq!(
            ExtensionId::try_from(256u16),
            Err(ValueError::ExtensionIdOutOfRange(256))
        );
        assert_eq!(
            ExtensionId::try_from(0u8),
            Err(ValueError::ExtensionIdOutOfRange(0))
        );
        assert!(ExtensionId::new(14).is_some_and(ExtensionId::fits_one_byte));
    }

    #[test]
    fn mid_refuses_what_cannot_round_trip() {
        for bad in ["", " ", "a b", "a\tb", "a\n", "\r", "x\u{7f}"] {
            assert_eq!(Mid::new(bad), Err(ValueError::InvalidMid), "{bad:?}");
        }
        for good in ["0", "audio", "a1", "{6b0c}", "é", "x:y/z"] {
            assert_eq!(Mid::new(good).map(String::from), Ok(good.to_owned()));
        }
    }

    #[test]
    fn rid_grammar() {
        assert!(Rid::new("q").is_ok());
        assert!(Rid::new("x".repeat(255)).is_ok());
        assert_eq!(Rid::new("x".repeat(256)), Err(ValueError::InvalidRid));
        for bad in ["", "a b", "é", "a;b"] {
            assert_eq!(Rid::new(bad), Err(ValueError::InvalidRid), "{bad:?}");
        }
    }
}
