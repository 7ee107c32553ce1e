//! [`Message`]: a checked, zero-copy view of one STUN message.

use core::fmt;
use std::net::SocketAddr;

use hmac::Mac;
use ring::hmac as ring_hmac;
use subtle::ConstantTimeEq;

use super::attr::{Attribute, AttributeType, ErrorCode, pad4};
use super::credentials::IntegrityKey;
use super::error::Error;
use super::header::{Class, HEADER_LEN, MAGIC_COOKIE, MessageType, Method, TransactionId, field};

/// The value FINGERPRINT XORs into the CRC-32 (RFC 8489 section 14.7).
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// The length of a STUN message whose first bytes are `buf`, header included, read from its
/// length field; `None` if fewer than 4 bytes are present or the first two bits are not zero.
/// For splitting a byte stream (STUN over TCP, RFC 8489 section 6.2.2) before
/// [`Message::new_checked`].
pub fn message_len(buf: &[u8]) -> Option<usize> {
    match buf {
        [t0, _, l0, l1, ..] if t0 & 0xC0 == 0 => {
            Some(HEADER_LEN + usize::from(u16::from_be_bytes([*l0, *l1])))
        }
        _ => None,
    }
}

/// Which attributes a receiver processes, by position relative to the integrity attributes
/// (RFC 8489 section 9): after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and
/// FINGERPRINT count; after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Body,
    AfterIntegrity,
    AfterIntegritySha256,
}

impl Phase {
    /// Whether an attribute of type `attr` met in this phase is processed, and the phase after it.
    fn step(self, attr: AttributeType) -> (bool, Phase) {
        match (self, attr) {
            (_, AttributeType::FINGERPRINT) => (true, self),
            (Phase::Body, AttributeType::MESSAGE_INTEGRITY) => (true, Phase::AfterIntegrity),
            (Phase::Body | Phase::AfterIntegrity, AttributeType::MESSAGE_INTEGRITY_SHA256) => {
                (true, Phase::AfterIntegritySha256)
            }
            (Phase::Body, _) => (true, Phase::Body),
            _ => (false, self),
        }
    }
}

/// A checked view of a STUN message over a borrowed buffer (RFC 8489 section 5).
///
/// [`Message::new_checked`] validates everything once: the header, that the length field
/// matches the buffer, the attribute TLV walk with its padding, the value of every attribute
/// this crate knows, and that FINGERPRINT comes last. Afterwards no accessor can fail or
/// panic, and [`attributes`](Message::attributes) yields typed [`Attribute`]s that borrow
/// from the buffer.
///
/// Following RFC 8489 section 9, attributes after MESSAGE-INTEGRITY (other than
/// MESSAGE-INTEGRITY-SHA256 and FINGERPRINT), and after MESSAGE-INTEGRITY-SHA256 (other
/// than FINGERPRINT), are ignored: they are neither validated nor yielded by
/// [`attributes`](Message::attributes); [`raw_attributes`](Message::raw_attributes) shows
/// them marked as ignored.
///
/// Unknown comprehension-required attributes do not fail the check, so that a server can
/// still answer with a 420 listing them: see
/// [`unknown_comprehension_required`](Message::unknown_comprehension_required) and
/// [`require_known`](Message::require_known).
///
/// ```
/// use ferrtc_stun_ice::stun::{IntegrityKey, Message};
/// # let bytes = hex_literal::hex!(
/// #   "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e20746573742063"
/// #   "6c69656e74002400046e0001ff80290008932ff9b151263b36000600096576746a3a68"
/// #   "367659202020000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf");
/// let msg = Message::new_checked(&bytes)?;
/// msg.check_fingerprint()?;
/// msg.check_integrity(&IntegrityKey::short_term("VOkJxbRl1RmTxUk/WvJxBt"))?;
/// assert_eq!(msg.username(), Some("evtj:h6vY"));
/// # Ok::<(), ferrtc_stun_ice::stun::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Message<'a> {
    buf: &'a [u8],
    txid: TransactionId,
    integrity: Option<usize>,
    integrity_sha256: Option<usize>,
    fingerprint: Option<usize>,
}

impl<'a> Message<'a> {
    /// Checks `buf` as exactly one STUN message (a whole UDP datagram, or one message split
    /// off a stream with [`message_len`]).
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, Error> {
        if buf.len() < HEADER_LEN {
            return Err(Error::Truncated { len: buf.len() });
        }
        if buf[0] & 0xC0 != 0 {
            return Err(Error::NotStun);
        }
        let cookie = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        if cookie != MAGIC_COOKIE {
            return Err(Error::BadMagicCookie(cookie));
        }
        let length = u16::from_be_bytes([buf[2], buf[3]]);
        if length % 4 != 0 {
            return Err(Error::UnalignedLength(length));
        }
        if usize::from(length) != buf.len() - HEADER_LEN {
            return Err(Error::LengthMismatch {
                declared: usize::from(length),
                actual: buf.len() - HEADER_LEN,
            });
        }
        let mut txid = TransactionId::default();
        txid.0.copy_from_slice(&buf[field::TRANSACTION_ID]);
        let mut msg = Message {
            buf,
            txid,
            integrity: None,
            integrity_sha256: None,
            fingerprint: None,
        };
        for raw in msg.raw_attributes() {
            let raw = raw?;
            if msg.fingerprint.is_some() {
                return Err(Error::FingerprintNotLast);
            }
            if raw.ignored {
                continue;
            }
            if raw.attr.is_known() {
                Attribute::decode(raw.attr, raw.value, &txid).map_err(|reason| {
                    Error::MalformedAttribute {
                        attr: raw.attr,
                        reason,
                    }
                })?;
            }
            match raw.attr {
                AttributeType::MESSAGE_INTEGRITY => msg.integrity = Some(raw.offset),
                AttributeType::MESSAGE_INTEGRITY_SHA256 => msg.integrity_sha256 = Some(raw.offset),
                AttributeType::FINGERPRINT => msg.fingerprint = Some(raw.offset),
                _ => {}
            }
        }
        Ok(msg)
    }

    /// The whole message.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The message type (class and method).
    pub fn message_type(&self) -> MessageType {
        let t = &self.buf[field::TYPE];
        MessageType::from_u16(u16::from_be_bytes([t[0], t[1]]))
    }

    /// The class.
    pub fn class(&self) -> Class {
        self.message_type().class
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.message_type().method
    }

    /// The transaction id.
    pub const fn transaction_id(&self) -> TransactionId {
        self.txid
    }

    /// The attributes a receiver processes, in order, decoded. Duplicates are all yielded;
    /// RFC 8489 section 14 says only the first one matters, which is what the typed getters
    /// ([`get`](Message::get), [`username`](Message::username), ...) return.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            raw: self.raw_attributes(),
            txid: self.txid,
        }
    }

    /// Every attribute TLV in order, undecoded, including the ones a receiver ignores.
    pub fn raw_attributes(&self) -> RawAttributes<'a> {
        RawAttributes {
            buf: self.buf,
            offset: HEADER_LEN,
            phase: Phase::Body,
        }
    }

    /// The first processed attribute of type `attr`.
    pub fn get(&self, attr: AttributeType) -> Option<Attribute<'a>> {
        self.attributes().find(|a| a.attribute_type() == attr)
    }

    /// Whether a processed attribute of type `attr` is present.
    pub fn contains(&self, attr: AttributeType) -> bool {
        self.raw_attributes()
            .any(|r| matches!(r, Ok(r) if !r.ignored && r.attr == attr))
    }

    /// Processed comprehension-required attributes this crate does not understand
    /// (RFC 8489 section 6.3).
    pub fn unknown_comprehension_required(&self) -> impl Iterator<Item = AttributeType> + 'a {
        self.raw_attributes().filter_map(|r| match r {
            Ok(r) if !r.ignored && r.attr.is_comprehension_required() && !r.attr.is_known() => {
                Some(r.attr)
            }
            _ => None,
        })
    }

    /// Fails with [`Error::UnknownComprehensionRequired`] if any processed attribute is
    /// comprehension-required and unknown to this crate.
    pub fn require_known(&self) -> Result<(), Error> {
        let unknown: Vec<AttributeType> = self.unknown_comprehension_required().collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(Error::UnknownComprehensionRequired(unknown))
        }
    }

    /// Whether the message carries MESSAGE-INTEGRITY.
    pub const fn has_integrity(&self) -> bool {
        self.integrity.is_some()
    }

    /// Whether the message carries MESSAGE-INTEGRITY-SHA256.
    pub const fn has_integrity_sha256(&self) -> bool {
        self.integrity_sha256.is_some()
    }

    /// Whether the message carries FINGERPRINT.
    pub const fn has_fingerprint(&self) -> bool {
        self.fingerprint.is_some()
    }

    /// Checks every integrity attribute present (MESSAGE-INTEGRITY and/or
    /// MESSAGE-INTEGRITY-SHA256) against `key`, in constant time. Fails with
    /// [`Error::MissingIntegrity`] if there is none.
    pub fn check_integrity(&self, key: &IntegrityKey) -> Result<(), Error> {
        if self.integrity.is_none() && self.integrity_sha256.is_none() {
            return Err(Error::MissingIntegrity);
        }
        if self.integrity.is_some() {
            self.check_message_integrity(key)?;
        }
        if self.integrity_sha256.is_some() {
            self.check_message_integrity_sha256(key)?;
        }
        Ok(())
    }

    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 section 14.5) against `key`.
    pub fn check_message_integrity(&self, key: &IntegrityKey) -> Result<(), Error> {
        let offset = self.integrity.ok_or(Error::MissingIntegrity)?;
        let (header, body, received) = self.hmac_input(offset);
        let mut mac = key.sha1().clone();
        mac.update(&header);
        mac.update(body);
        // `verify_slice` compares in constant time.
        mac.verify_slice(received)
            .map_err(|_| Error::IntegrityMismatch)
    }

    /// Checks MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256, possibly truncated, RFC 8489
    /// section 14.6) against `key`.
    pub fn check_message_integrity_sha256(&self, key: &IntegrityKey) -> Result<(), Error> {
        let offset = self.integrity_sha256.ok_or(Error::MissingIntegrity)?;
        let (header, body, received) = self.hmac_input(offset);
        let mut ctx = ring_hmac::Context::with_key(key.sha256());
        ctx.update(&header);
        ctx.update(body);
        let tag = ctx.sign();
        let matches = tag
            .as_ref()
            .get(..received.len())
            .is_some_and(|computed| bool::from(computed.ct_eq(received)));
        if matches {
            Ok(())
        } else {
            Err(Error::IntegritySha256Mismatch)
        }
    }

    /// The HMAC input for the integrity attribute at `offset`, as the message type with the
    /// length field adjusted to end at that attribute, then the rest of the message up to it
    /// (RFC 8489 sections 14.5 and 14.6); and the attribute's value.
    fn hmac_input(&self, offset: usize) -> ([u8; 4], &'a [u8], &'a [u8]) {
        let buf = self.buf;
        let value_len = usize::from(u16::from_be_bytes([buf[offset + 2], buf[offset + 3]]));
        // The attribute was checked to lie inside the message, whose length fits in 16 bits,
        // so the adjusted length does too.
        let adjusted = ((offset + 4 + value_len - HEADER_LEN) as u16).to_be_bytes();
        let header = [buf[0], buf[1], adjusted[0], adjusted[1]];
        (
            header,
            &buf[field::COOKIE.start..offset],
            &buf[offset + 4..offset + 4 + value_len],
        )
    }

    /// Checks FINGERPRINT (RFC 8489 section 14.7).
    pub fn check_fingerprint(&self) -> Result<(), Error> {
        let offset = self.fingerprint.ok_or(Error::MissingFingerprint)?;
        let computed = crc32fast::hash(&self.buf[..offset]) ^ FINGERPRINT_XOR;
        let received = &self.buf[offset + 4..offset + 8];
        if bool::from(computed.to_be_bytes().ct_eq(received)) {
            Ok(())
        } else {
            Err(Error::FingerprintMismatch {
                received: u32::from_be_bytes([received[0], received[1], received[2], received[3]]),
                computed,
            })
        }
    }
}

macro_rules! getters {
    ($($(#[$doc:meta])* $name:ident -> $ty:ty = $variant:ident;)*) => {
        impl<'a> Message<'a> {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Option<$ty> {
                    self.attributes().find_map(|a| match a {
                        Attribute::$variant(v) => Some(v),
                        _ => None,
                    })
                }
            )*
        }
    };
}

getters! {
    /// The first MAPPED-ADDRESS.
    mapped_address -> SocketAddr = MappedAddress;
    /// The first XOR-MAPPED-ADDRESS, un-XORed.
    xor_mapped_address -> SocketAddr = XorMappedAddress;
    /// The first USERNAME.
    username -> &'a str = Username;
    /// The first USERHASH.
    userhash -> &'a [u8; 32] = UserHash;
    /// The first REALM.
    realm -> &'a str = Realm;
    /// The first NONCE.
    nonce -> &'a str = Nonce;
    /// The first SOFTWARE.
    software -> &'a str = Software;
    /// The first ERROR-CODE.
    error_code -> ErrorCode<'a> = ErrorCode;
    /// The first ALTERNATE-SERVER.
    alternate_server -> SocketAddr = AlternateServer;
    /// The first PRIORITY.
    priority -> u32 = Priority;
    /// The tie-breaker of the first ICE-CONTROLLING.
    ice_controlling -> u64 = IceControlling;
    /// The tie-breaker of the first ICE-CONTROLLED.
    ice_controlled -> u64 = IceControlled;
    /// The first LIFETIME, in seconds.
    lifetime -> u32 = Lifetime;
    /// The first CHANNEL-NUMBER.
    channel_number -> u16 = ChannelNumber;
    /// The first XOR-PEER-ADDRESS, un-XORed.
    xor_peer_address -> SocketAddr = XorPeerAddress;
    /// The first XOR-RELAYED-ADDRESS, un-XORed.
    xor_relayed_address -> SocketAddr = XorRelayedAddress;
    /// The first DATA.
    data -> &'a [u8] = Data;
}

impl Message<'_> {
    /// Whether USE-CANDIDATE is present.
    pub fn use_candidate(&self) -> bool {
        self.contains(AttributeType::USE_CANDIDATE)
    }

    /// The value of the first processed NOMINATION (`0xC001`, the `renomination` ICE option
    /// of draft-thatcher-ice-renomination-01 section 3), if it is present and 4 bytes long.
    pub fn nomination(&self) -> Option<u32> {
        self.raw_attributes().find_map(|r| match r {
            Ok(r) if !r.ignored && r.attr == AttributeType::NOMINATION => {
                <[u8; 4]>::try_from(r.value).ok().map(u32::from_be_bytes)
            }
            _ => None,
        })
    }
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("class", &self.class())
            .field("method", &self.method())
            .field("transaction_id", &self.txid)
            .field("attributes", &self.attributes().collect::<Vec<_>>())
            .finish()
    }
}

/// One attribute TLV as found on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAttribute<'a> {
    /// The type.
    pub attr: AttributeType,
    /// The value, without padding.
    pub value: &'a [u8],
    /// Offset of the attribute header from the start of the message.
    pub offset: usize,
    /// Whether a receiver ignores it for following an integrity attribute (RFC 8489 section 9).
    pub ignored: bool,
}

/// Iterator over the attribute TLVs of a message; see [`Message::raw_attributes`].
///
/// On a checked [`Message`] it never yields an error; the `Result` is there because the
/// same walk does the checking.
#[derive(Debug, Clone)]
pub struct RawAttributes<'a> {
    buf: &'a [u8],
    offset: usize,
    phase: Phase,
}

impl<'a> Iterator for RawAttributes<'a> {
    type Item = Result<RawAttribute<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let offset = self.offset;
        let rest = self.buf.get(offset..)?;
        let [t0, t1, l0, l1, after @ ..] = rest else {
            // The message length is a multiple of 4, so fewer than 4 bytes left means none.
            return None;
        };
        let attr = AttributeType(u16::from_be_bytes([*t0, *t1]));
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        if after.len() < pad4(len) {
            self.offset = self.buf.len();
            return Some(Err(Error::AttributeOverrun { attr, offset }));
        }
        self.offset = offset + 4 + pad4(len);
        let (processed, next) = self.phase.step(attr);
        self.phase = next;
        Some(Ok(RawAttribute {
            attr,
            value: &after[..len],
            offset,
            ignored: !processed,
        }))
    }
}

/// Iterator over the processed attributes of a checked message; see [`Message::attributes`].
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    raw: RawAttributes<'a>,
    txid: TransactionId,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Attribute<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            // The message was checked by `new_checked`: the walk has no errors and every
            // processed attribute decodes. Were that ever untrue, iteration stops rather
            // than panicking.
            let raw = self.raw.next()?.ok()?;
            if raw.ignored {
                continue;
            }
            let decoded = Attribute::decode(raw.attr, raw.value, &self.txid);
            debug_assert!(decoded.is_ok(), "checked message has a malformed attribute");
            return decoded.ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stun::{AttributeError, MessageBuilder};

    const TXID: TransactionId = TransactionId([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

    /// A message of the given attributes as raw (type, value) pairs, zero-padded.
    fn raw(attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut m = vec![0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        m.extend_from_slice(&TXID.0);
        for (t, v) in attrs {
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&(v.len() as u16).to_be_bytes());
            m.extend_from_slice(v);
            m.resize(m.len() + pad4(v.len()) - v.len(), 0);
        }
        let len = (m.len() - HEADER_LEN) as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        m
    }

    #[test]
    fn header_errors() {
        let good = raw(&[]);
        assert!(Message::new_checked(&good).is_ok());
        assert_eq!(
            Message::new_checked(&good[..19]).unwrap_err(),
            Error::Truncated { len: 19 }
        );
        let mut m = good.clone();
        m[0] = 0x40;
        assert_eq!(Message::new_checked(&m).unwrap_err(), Error::NotStun);
        let mut m = good.clone();
        m[4] = 0;
        assert_eq!(
            Message::new_checked(&m).unwrap_err(),
            Error::BadMagicCookie(0x0012_a442)
        );
        let mut m = good.clone();
        m[3] = 2;
        m.extend_from_slice(&[0, 0]);
        assert_eq!(
            Message::new_checked(&m).unwrap_err(),
            Error::UnalignedLength(2)
        );
        let mut m = good.clone();
        m.extend_from_slice(&[0; 4]);
        assert_eq!(
            Message::new_checked(&m).unwrap_err(),
            Error::LengthMismatch {
                declared: 0,
                actual: 4
            }
        );
    }

    #[test]
    fn attribute_overrun() {
        let mut m = raw(&[(0x0006, b"abcd")]);
        m[22..24].copy_from_slice(&5u16.to_be_bytes());
        assert_eq!(
            Message::new_checked(&m).unwrap_err(),
            Error::AttributeOverrun {
                attr: AttributeType::USERNAME,
                offset: 20
            }
        );
    }

    #[test]
    fn malformed_known_attribute() {
        let m = raw(&[(0x0024, &[1, 2, 3])]);
        assert_eq!(
            Message::new_checked(&m).unwrap_err(),
            Error::MalformedAttribute {
                attr: AttributeType::PRIORITY,
                reason: AttributeError::Length(3)
            }
        );
    }

    #[test]
    fn fingerprint_must_be_last() {
        let m = raw(&[(0x8028, &[0; 4]), (0x8022, b"x")]);
        assert_eq!(
            Message::new_checked(&m).unwrap_err(),
            Error::FingerprintNotLast
        );
    }

    #[test]
    fn attributes_after_integrity_are_ignored() {
        // A malformed PRIORITY after MESSAGE-INTEGRITY is ignored, not validated.
        let m = raw(&[
            (0x0006, b"user"),
            (0x0008, &[0; 20]),
            (0x0024, &[1]),
            (0x0006, b"evil"),
            (0x001C, &[0; 32]),
            (0x0008, &[0; 20]),
            (0x8028, &[0; 4]),
        ]);
        let msg = Message::new_checked(&m).unwrap();
        let types: Vec<_> = msg.attributes().map(|a| a.attribute_type()).collect();
        assert_eq!(
            types,
            [
                AttributeType::USERNAME,
                AttributeType::MESSAGE_INTEGRITY,
                AttributeType::MESSAGE_INTEGRITY_SHA256,
                AttributeType::FINGERPRINT
            ]
        );
        assert_eq!(msg.username(), Some("user"));
        assert_eq!(msg.priority(), None);
        let ignored: Vec<_> = msg
            .raw_attributes()
            .flatten()
            .filter(|r| r.ignored)
            .map(|r| r.attr)
            .collect();
        assert_eq!(
            ignored,
            [
                AttributeType::PRIORITY,
                AttributeType::USERNAME,
                AttributeType::MESSAGE_INTEGRITY
            ]
        );
        assert!(msg.has_integrity() && msg.has_integrity_sha256() && msg.has_fingerprint());
    }

    #[test]
    fn unknown_comprehension_required_reported() {
        let m = raw(&[
            (0x0003, &[0; 4]),
            (0xC057, &[0, 1, 0, 0]),
            (0x7fff, b""),
            (0x0024, &[0; 4]),
        ]);
        let msg = Message::new_checked(&m).unwrap();
        assert_eq!(
            msg.require_known(),
            Err(Error::UnknownComprehensionRequired(vec![
                AttributeType(0x0003),
                AttributeType(0x7fff)
            ]))
        );
        assert_eq!(msg.priority(), Some(0));
        // Unknown comprehension-optional only: fine.
        let m = raw(&[(0xC057, &[0, 1, 0, 0])]);
        Message::new_checked(&m).unwrap().require_known().unwrap();
    }

    #[test]
    fn first_duplicate_wins() {
        let m = raw(&[(0x0006, b"first"), (0x0006, b"second")]);
        let msg = Message::new_checked(&m).unwrap();
        assert_eq!(msg.username(), Some("first"));
        assert_eq!(msg.attributes().count(), 2);
    }

    #[test]
    fn missing_checks_are_typed() {
        let msg_bytes = raw(&[(0x0006, b"u")]);
        let msg = Message::new_checked(&msg_bytes).unwrap();
        let key = IntegrityKey::short_term("k");
        assert_eq!(msg.check_integrity(&key), Err(Error::MissingIntegrity));
        assert_eq!(
            msg.check_message_integrity_sha256(&key),
            Err(Error::MissingIntegrity)
        );
        assert_eq!(msg.check_fingerprint(), Err(Error::MissingFingerprint));
    }

    #[test]
    fn truncated_sha256_integrity_checks() {
        let key = IntegrityKey::short_term("pass");
        let mut out = Vec::new();
        let mut b = MessageBuilder::new(
            &mut out,
            MessageType::new(Class::Indication, Method::SEND),
            TXID,
        );
        b.add(&Attribute::Data(b"payload")).unwrap();
        b.add_message_integrity_sha256_truncated(&key, 16).unwrap();
        b.add_fingerprint().unwrap();
        let msg = Message::new_checked(&out).unwrap();
        assert_eq!(
            msg.get(AttributeType::MESSAGE_INTEGRITY_SHA256)
                .map(|a| a.value_len()),
            Some(16)
        );
        msg.check_integrity(&key).unwrap();
        msg.check_fingerprint().unwrap();
        assert_eq!(
            msg.check_integrity(&IntegrityKey::short_term("nope")),
            Err(Error::IntegritySha256Mismatch)
        );
    }

    #[test]
    fn message_len_for_streams() {
        let m = raw(&[(0x0006, b"user")]);
        assert_eq!(message_len(&m), Some(m.len()));
        assert_eq!(message_len(&m[..3]), None);
        assert_eq!(message_len(&[0x80, 0, 0, 0]), None);
    }

    #[test]
    fn debug_lists_attributes() {
        let m = raw(&[(0x0006, b"user")]);
        let text = format!("{:?}", Message::new_checked(&m).unwrap());
        assert!(text.contains("Username(\"user\")"), "{text}");
    }
}
