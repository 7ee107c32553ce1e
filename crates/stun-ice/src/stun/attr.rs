//! STUN attributes: the type registry ([`AttributeType`]) and the typed value
//! ([`Attribute`]), decoded from and encoded to the wire TLV value.
//!
//! Every attribute is `Type (16 bits) | Length (16 bits) | Value | padding to 4 bytes`
//! (RFC 8489 section 14). Types below `0x8000` are comprehension-required, the others
//! comprehension-optional.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::error::{AttributeError, EncodeError};
use super::header::{MAGIC_COOKIE, TransactionId};

/// A 16-bit STUN attribute type (RFC 8489 section 18.3, RFC 8445 section 16.1,
/// RFC 8656 section 18).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttributeType(pub u16);

impl AttributeType {
    /// MAPPED-ADDRESS (`0x0001`, RFC 8489 section 14.1).
    pub const MAPPED_ADDRESS: Self = Self(0x0001);
    /// USERNAME (`0x0006`, RFC 8489 section 14.3).
    pub const USERNAME: Self = Self(0x0006);
    /// MESSAGE-INTEGRITY (`0x0008`, RFC 8489 section 14.5).
    pub const MESSAGE_INTEGRITY: Self = Self(0x0008);
    /// ERROR-CODE (`0x0009`, RFC 8489 section 14.8).
    pub const ERROR_CODE: Self = Self(0x0009);
    /// UNKNOWN-ATTRIBUTES (`0x000A`, RFC 8489 section 14.13).
    pub const UNKNOWN_ATTRIBUTES: Self = Self(0x000A);
    /// CHANNEL-NUMBER (`0x000C`, RFC 8656 section 18.1).
    pub const CHANNEL_NUMBER: Self = Self(0x000C);
    /// LIFETIME (`0x000D`, RFC 8656 section 18.2).
    pub const LIFETIME: Self = Self(0x000D);
    /// XOR-PEER-ADDRESS (`0x0012`, RFC 8656 section 18.3).
    pub const XOR_PEER_ADDRESS: Self = Self(0x0012);
    /// DATA (`0x0013`, RFC 8656 section 18.4).
    pub const DATA: Self = Self(0x0013);
    /// REALM (`0x0014`, RFC 8489 section 14.9).
    pub const REALM: Self = Self(0x0014);
    /// NONCE (`0x0015`, RFC 8489 section 14.10).
    pub const NONCE: Self = Self(0x0015);
    /// XOR-RELAYED-ADDRESS (`0x0016`, RFC 8656 section 18.5).
    pub const XOR_RELAYED_ADDRESS: Self = Self(0x0016);
    /// REQUESTED-ADDRESS-FAMILY (`0x0017`, RFC 8656 section 18.6).
    pub const REQUESTED_ADDRESS_FAMILY: Self = Self(0x0017);
    /// EVEN-PORT (`0x0018`, RFC 8656 section 18.7).
    pub const EVEN_PORT: Self = Self(0x0018);
    /// REQUESTED-TRANSPORT (`0x0019`, RFC 8656 section 18.8).
    pub const REQUESTED_TRANSPORT: Self = Self(0x0019);
    /// DONT-FRAGMENT (`0x001A`, RFC 8656 section 18.9).
    pub const DONT_FRAGMENT: Self = Self(0x001A);
    /// MESSAGE-INTEGRITY-SHA256 (`0x001C`, RFC 8489 section 14.6).
    pub const MESSAGE_INTEGRITY_SHA256: Self = Self(0x001C);
    /// PASSWORD-ALGORITHM (`0x001D`, RFC 8489 section 14.12).
    pub const PASSWORD_ALGORITHM: Self = Self(0x001D);
    /// USERHASH (`0x001E`, RFC 8489 section 14.4).
    pub const USERHASH: Self = Self(0x001E);
    /// XOR-MAPPED-ADDRESS (`0x0020`, RFC 8489 section 14.2).
    pub const XOR_MAPPED_ADDRESS: Self = Self(0x0020);
    /// RESERVATION-TOKEN (`0x0022`, RFC 8656 section 18.10).
    pub const RESERVATION_TOKEN: Self = Self(0x0022);
    /// PRIORITY (`0x0024`, RFC 8445 section 16.1).
    pub const PRIORITY: Self = Self(0x0024);
    /// USE-CANDIDATE (`0x0025`, RFC 8445 section 16.1).
    pub const USE_CANDIDATE: Self = Self(0x0025);
    /// ADDITIONAL-ADDRESS-FAMILY (`0x8000`, RFC 8656 section 18.11).
    pub const ADDITIONAL_ADDRESS_FAMILY: Self = Self(0x8000);
    /// ADDRESS-ERROR-CODE (`0x8001`, RFC 8656 section 18.12).
    pub const ADDRESS_ERROR_CODE: Self = Self(0x8001);
    /// PASSWORD-ALGORITHMS (`0x8002`, RFC 8489 section 14.11).
    pub const PASSWORD_ALGORITHMS: Self = Self(0x8002);
    /// ALTERNATE-DOMAIN (`0x8003`, RFC 8489 section 14.16).
    pub const ALTERNATE_DOMAIN: Self = Self(0x8003);
    /// ICMP (`0x8004`, RFC 8656 section 18.13).
    pub const ICMP: Self = Self(0x8004);
    /// SOFTWARE (`0x8022`, RFC 8489 section 14.14).
    pub const SOFTWARE: Self = Self(0x8022);
    /// ALTERNATE-SERVER (`0x8023`, RFC 8489 section 14.15).
    pub const ALTERNATE_SERVER: Self = Self(0x8023);
    /// FINGERPRINT (`0x8028`, RFC 8489 section 14.7).
    pub const FINGERPRINT: Self = Self(0x8028);
    /// ICE-CONTROLLED (`0x8029`, RFC 8445 section 16.1).
    pub const ICE_CONTROLLED: Self = Self(0x8029);
    /// ICE-CONTROLLING (`0x802A`, RFC 8445 section 16.1).
    pub const ICE_CONTROLLING: Self = Self(0x802A);
    /// NOMINATION (`0xC001`, draft-thatcher-ice-renomination-01 section 3): a 32-bit
    /// nomination value; the controlled agent selects the pair nominated last (the highest
    /// value). Comprehension-optional, left undecoded ([`Attribute::Unknown`]); read it
    /// with [`Message::nomination`](super::Message::nomination).
    pub const NOMINATION: Self = Self(0xC001);

    /// Whether a receiver that does not understand this type must reject the message
    /// (types `0x0000..=0x7FFF`, RFC 8489 section 14).
    pub const fn is_comprehension_required(self) -> bool {
        self.0 < 0x8000
    }

    /// Whether this crate decodes the type into a typed [`Attribute`] variant.
    pub const fn is_known(self) -> bool {
        self.name().is_some()
    }

    /// The registered name, if this crate knows the type.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0001 => "MAPPED-ADDRESS",
            0x0006 => "USERNAME",
            0x0008 => "MESSAGE-INTEGRITY",
            0x0009 => "ERROR-CODE",
            0x000A => "UNKNOWN-ATTRIBUTES",
            0x000C => "CHANNEL-NUMBER",
            0x000D => "LIFETIME",
            0x0012 => "XOR-PEER-ADDRESS",
            0x0013 => "DATA",
            0x0014 => "REALM",
            0x0015 => "NONCE",
            0x0016 => "XOR-RELAYED-ADDRESS",
            0x0017 => "REQUESTED-ADDRESS-FAMILY",
            0x0018 => "EVEN-PORT",
            0x0019 => "REQUESTED-TRANSPORT",
            0x001A => "DONT-FRAGMENT",
            0x001C => "MESSAGE-INTEGRITY-SHA256",
            0x001D => "PASSWORD-ALGORITHM",
            0x001E => "USERHASH",
            0x0020 => "XOR-MAPPED-ADDRESS",
            0x0022 => "RESERVATION-TOKEN",
            0x0024 => "PRIORITY",
            0x0025 => "USE-CANDIDATE",
            0x8000 => "ADDITIONAL-ADDRESS-FAMILY",
            0x8001 => "ADDRESS-ERROR-CODE",
            0x8002 => "PASSWORD-ALGORITHMS",
            0x8003 => "ALTERNATE-DOMAIN",
            0x8004 => "ICMP",
            0x8022 => "SOFTWARE",
            0x8023 => "ALTERNATE-SERVER",
            0x8028 => "FINGERPRINT",
            0x8029 => "ICE-CONTROLLED",
            0x802A => "ICE-CONTROLLING",
            _ => return None,
        })
    }
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

impl fmt::Debug for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}(0x{:04x})", self.0),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

/// An IP address family as carried in address attributes and in
/// REQUESTED-ADDRESS-FAMILY (RFC 8489 section 14.1, RFC 8656 section 18.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressFamily {
    /// IPv4 (`0x01`).
    V4,
    /// IPv6 (`0x02`).
    V6,
}

impl AddressFamily {
    /// The wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            AddressFamily::V4 => 0x01,
            AddressFamily::V6 => 0x02,
        }
    }

    /// The family for a wire value, if it is one.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0x01 => Some(AddressFamily::V4),
            0x02 => Some(AddressFamily::V6),
            _ => None,
        }
    }
}

/// A password algorithm number (RFC 8489 section 18.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PasswordAlgorithmId(pub u16);

impl PasswordAlgorithmId {
    /// MD5 (`0x0001`, RFC 8489 section 18.5.1.1).
    pub const MD5: Self = Self(0x0001);
    /// SHA-256 (`0x0002`, RFC 8489 section 18.5.1.2).
    pub const SHA256: Self = Self(0x0002);
}

/// One password algorithm with its parameters (RFC 8489 sections 14.11 and 14.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordAlgorithm<'a> {
    /// The algorithm.
    pub algorithm: PasswordAlgorithmId,
    /// Its parameters, without padding (empty for MD5 and SHA-256).
    pub parameters: &'a [u8],
}

impl<'a> PasswordAlgorithm<'a> {
    /// Reads one entry from the front of `bytes`; returns it and the bytes consumed,
    /// padding included.
    fn read(bytes: &'a [u8]) -> Result<(Self, usize), AttributeError> {
        let [a0, a1, l0, l1, rest @ ..] = bytes else {
            return Err(AttributeError::AlgorithmParameters);
        };
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let padded = pad4(len);
        if rest.len() < padded {
            return Err(AttributeError::AlgorithmParameters);
        }
        Ok((
            PasswordAlgorithm {
                algorithm: PasswordAlgorithmId(u16::from_be_bytes([*a0, *a1])),
                parameters: &rest[..len],
            },
            4 + padded,
        ))
    }

    fn encoded_len(&self) -> usize {
        4 + pad4(self.parameters.len())
    }

    fn write(&self, out: &mut Vec<u8>, padding: u8) {
        out.extend_from_slice(&self.algorithm.0.to_be_bytes());
        // Callers check `parameters.len() <= u16::MAX` first (`validate`).
        out.extend_from_slice(&(self.parameters.len() as u16).to_be_bytes());
        out.extend_from_slice(self.parameters);
        out.resize(
            out.len() + pad4(self.parameters.len()) - self.parameters.len(),
            padding,
        );
    }
}

/// The value of PASSWORD-ALGORITHMS: a checked list of [`PasswordAlgorithm`] entries, kept as
/// the wire bytes (RFC 8489 section 14.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordAlgorithms<'a>(&'a [u8]);

impl<'a> PasswordAlgorithms<'a> {
    /// Checks that `value` is a whole number of entries.
    pub fn new_checked(value: &'a [u8]) -> Result<Self, AttributeError> {
        let mut rest = value;
        while !rest.is_empty() {
            let (_, used) = PasswordAlgorithm::read(rest)?;
            rest = &rest[used..];
        }
        Ok(PasswordAlgorithms(value))
    }

    /// Encodes `list` as the value of a PASSWORD-ALGORITHMS attribute, zero-padded, appending to
    /// `out`; returns `None` (writing nothing) if a parameter list is longer than 65535 bytes.
    pub fn encode(list: &[PasswordAlgorithm<'_>], out: &mut Vec<u8>) -> Option<()> {
        if list
            .iter()
            .any(|a| a.parameters.len() > usize::from(u16::MAX))
        {
            return None;
        }
        for a in list {
            a.write(out, 0);
        }
        Some(())
    }

    /// The wire bytes.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The entries in order.
    pub fn iter(&self) -> PasswordAlgorithmsIter<'a> {
        PasswordAlgorithmsIter(self.0)
    }
}

/// Iterator over the entries of [`PasswordAlgorithms`].
#[derive(Debug, Clone)]
pub struct PasswordAlgorithmsIter<'a>(&'a [u8]);

impl<'a> Iterator for PasswordAlgorithmsIter<'a> {
    type Item = PasswordAlgorithm<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        // The bytes were checked by `PasswordAlgorithms::new_checked`; should they not parse,
        // the iteration simply ends.
        let (entry, used) = PasswordAlgorithm::read(self.0).ok()?;
        self.0 = &self.0[used..];
        Some(entry)
    }
}

/// The value of UNKNOWN-ATTRIBUTES: a list of 16-bit attribute types, kept as the wire bytes
/// (RFC 8489 section 14.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownAttributes<'a>(&'a [u8]);

impl<'a> UnknownAttributes<'a> {
    /// Checks that `value` holds whole 16-bit entries.
    pub fn new_checked(value: &'a [u8]) -> Result<Self, AttributeError> {
        if value.len() % 2 != 0 {
            return Err(AttributeError::Length(value.len() as u16));
        }
        Ok(UnknownAttributes(value))
    }

    /// Encodes `types` as the value of an UNKNOWN-ATTRIBUTES attribute, appending to `out`.
    pub fn encode(types: &[AttributeType], out: &mut Vec<u8>) {
        for t in types {
            out.extend_from_slice(&t.0.to_be_bytes());
        }
    }

    /// The wire bytes.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The listed types in order.
    pub fn iter(&self) -> impl Iterator<Item = AttributeType> + 'a {
        self.0
            .chunks_exact(2)
            .map(|c| AttributeType(u16::from_be_bytes([c[0], c[1]])))
    }
}

/// ERROR-CODE value (RFC 8489 section 14.8): a code from 300 to 699 and a reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode<'a> {
    /// The code: class (hundreds digit) times 100 plus number. Decoding accepts any class
    /// the 3-bit field can hold, so codes from 0 to 799.
    pub code: u16,
    /// The reason phrase.
    pub reason: &'a str,
}

impl ErrorCode<'_> {
    /// 300 Try Alternate (RFC 8489 section 14.8).
    pub const TRY_ALTERNATE: u16 = 300;
    /// 400 Bad Request (RFC 8489 section 14.8).
    pub const BAD_REQUEST: u16 = 400;
    /// 401 Unauthenticated (RFC 8489 section 14.8).
    pub const UNAUTHENTICATED: u16 = 401;
    /// 403 Forbidden (RFC 8656 section 19).
    pub const FORBIDDEN: u16 = 403;
    /// 420 Unknown Attribute (RFC 8489 section 14.8).
    pub const UNKNOWN_ATTRIBUTE: u16 = 420;
    /// 437 Allocation Mismatch (RFC 8656 section 19).
    pub const ALLOCATION_MISMATCH: u16 = 437;
    /// 438 Stale Nonce (RFC 8489 section 14.8).
    pub const STALE_NONCE: u16 = 438;
    /// 440 Address Family not Supported (RFC 8656 section 19).
    pub const ADDRESS_FAMILY_NOT_SUPPORTED: u16 = 440;
    /// 441 Wrong Credentials (RFC 8656 section 19).
    pub const WRONG_CREDENTIALS: u16 = 441;
    /// 442 Unsupported Transport Protocol (RFC 8656 section 19).
    pub const UNSUPPORTED_TRANSPORT_PROTOCOL: u16 = 442;
    /// 443 Peer Address Family Mismatch (RFC 8656 section 19).
    pub const PEER_ADDRESS_FAMILY_MISMATCH: u16 = 443;
    /// 486 Allocation Quota Reached (RFC 8656 section 19).
    pub const ALLOCATION_QUOTA_REACHED: u16 = 486;
    /// 487 Role Conflict (RFC 8445 section 16.2).
    pub const ROLE_CONFLICT: u16 = 487;
    /// 500 Server Error (RFC 8489 section 14.8).
    pub const SERVER_ERROR: u16 = 500;
    /// 508 Insufficient Capacity (RFC 8656 section 19).
    pub const INSUFFICIENT_CAPACITY: u16 = 508;
}

/// A decoded STUN attribute, borrowing its variable-length parts from the message buffer.
///
/// Address attributes are decoded to a [`SocketAddr`] (the XOR ones are un-XORed with the
/// magic cookie and transaction id). Reserved bits are ignored when decoding and written as
/// zero when encoding, so `decode(encode(a)) == a` for every attribute the builder accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attribute<'a> {
    /// MAPPED-ADDRESS (RFC 8489 section 14.1).
    MappedAddress(SocketAddr),
    /// XOR-MAPPED-ADDRESS (RFC 8489 section 14.2).
    XorMappedAddress(SocketAddr),
    /// USERNAME (RFC 8489 section 14.3).
    Username(&'a str),
    /// USERHASH: SHA-256 of `username ":" realm` (RFC 8489 section 14.4).
    UserHash(&'a [u8; 32]),
    /// MESSAGE-INTEGRITY: the HMAC-SHA1 as found on the wire (RFC 8489 section 14.5).
    /// To compute one, use [`MessageBuilder::add_message_integrity`](super::MessageBuilder::add_message_integrity).
    MessageIntegrity(&'a [u8; 20]),
    /// MESSAGE-INTEGRITY-SHA256: the (possibly truncated, 16 to 32 bytes) HMAC-SHA256 as
    /// found on the wire (RFC 8489 section 14.6).
    MessageIntegritySha256(&'a [u8]),
    /// FINGERPRINT: the CRC-32 XOR `0x5354554e` as found on the wire (RFC 8489 section 14.7).
    Fingerprint(u32),
    /// ERROR-CODE (RFC 8489 section 14.8).
    ErrorCode(ErrorCode<'a>),
    /// UNKNOWN-ATTRIBUTES (RFC 8489 section 14.13).
    UnknownAttributes(UnknownAttributes<'a>),
    /// REALM (RFC 8489 section 14.9).
    Realm(&'a str),
    /// NONCE (RFC 8489 section 14.10).
    Nonce(&'a str),
    /// PASSWORD-ALGORITHMS (RFC 8489 section 14.11).
    PasswordAlgorithms(PasswordAlgorithms<'a>),
    /// PASSWORD-ALGORITHM (RFC 8489 section 14.12).
    PasswordAlgorithm(PasswordAlgorithm<'a>),
    /// SOFTWARE (RFC 8489 section 14.14).
    Software(&'a str),
    /// ALTERNATE-SERVER (RFC 8489 section 14.15).
    AlternateServer(SocketAddr),
    /// ALTERNATE-DOMAIN (RFC 8489 section 14.16).
    AlternateDomain(&'a str),
    /// PRIORITY: the priority a peer-reflexive candidate would get (RFC 8445 section 7.1.1).
    Priority(u32),
    /// USE-CANDIDATE: the controlling agent nominates this pair (RFC 8445 section 7.1.2).
    UseCandidate,
    /// ICE-CONTROLLED with its tie-breaker (RFC 8445 section 7.1.3).
    IceControlled(u64),
    /// ICE-CONTROLLING with its tie-breaker (RFC 8445 section 7.1.3).
    IceControlling(u64),
    /// CHANNEL-NUMBER (RFC 8656 section 18.1).
    ChannelNumber(u16),
    /// LIFETIME in seconds (RFC 8656 section 18.2).
    Lifetime(u32),
    /// XOR-PEER-ADDRESS (RFC 8656 section 18.3).
    XorPeerAddress(SocketAddr),
    /// DATA (RFC 8656 section 18.4).
    Data(&'a [u8]),
    /// XOR-RELAYED-ADDRESS (RFC 8656 section 18.5).
    XorRelayedAddress(SocketAddr),
    /// REQUESTED-ADDRESS-FAMILY (RFC 8656 section 18.6).
    RequestedAddressFamily(AddressFamily),
    /// EVEN-PORT; `reserve` is the R bit, asking to keep the next port (RFC 8656 section 18.7).
    EvenPort {
        /// The R flag.
        reserve: bool,
    },
    /// REQUESTED-TRANSPORT: an IP protocol number, 17 for UDP (RFC 8656 section 18.8).
    RequestedTransport(u8),
    /// DONT-FRAGMENT (RFC 8656 section 18.9).
    DontFragment,
    /// RESERVATION-TOKEN (RFC 8656 section 18.10).
    ReservationToken([u8; 8]),
    /// ADDITIONAL-ADDRESS-FAMILY (RFC 8656 section 18.11).
    AdditionalAddressFamily(AddressFamily),
    /// ADDRESS-ERROR-CODE (RFC 8656 section 18.12).
    AddressErrorCode {
        /// The family the error is about.
        family: AddressFamily,
        /// The error code and reason.
        error: ErrorCode<'a>,
    },
    /// ICMP (RFC 8656 section 18.13).
    ///
    /// The RFC's figure draws the type and code as 7 and 9 bits; this crate reads them as the
    /// third and fourth bytes, the layout of ICMP itself (8-bit type, 8-bit code), which is
    /// what the text describes.
    Icmp {
        /// ICMP type.
        icmp_type: u8,
        /// ICMP code.
        code: u8,
        /// Error data (the next-hop MTU for "packet too big" / "fragmentation needed").
        error_data: u32,
    },
    /// An attribute this crate does not decode, kept raw.
    Unknown {
        /// The type.
        attr: AttributeType,
        /// The value, without padding.
        value: &'a [u8],
    },
}

/// The padded length of a value of `len` bytes.
pub(crate) const fn pad4(len: usize) -> usize {
    (len + 3) & !3
}

fn fixed<const N: usize>(value: &[u8]) -> Result<[u8; N], AttributeError> {
    <[u8; N]>::try_from(value).map_err(|_| AttributeError::Length(value.len() as u16))
}

fn text(value: &[u8]) -> Result<&str, AttributeError> {
    core::str::from_utf8(value).map_err(|_| AttributeError::Utf8)
}

fn decode_address(value: &[u8], xor: Option<&TransactionId>) -> Result<SocketAddr, AttributeError> {
    let [_, family, p0, p1, addr @ ..] = value else {
        return Err(AttributeError::Length(value.len() as u16));
    };
    let mut port = u16::from_be_bytes([*p0, *p1]);
    let cookie = MAGIC_COOKIE.to_be_bytes();
    if xor.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let ip = match (AddressFamily::from_u8(*family), addr.len()) {
        (Some(AddressFamily::V4), 4) => {
            let mut a = fixed::<4>(addr)?;
            if xor.is_some() {
                for (b, k) in a.iter_mut().zip(cookie) {
                    *b ^= k;
                }
            }
            IpAddr::V4(Ipv4Addr::from(a))
        }
        (Some(AddressFamily::V6), 16) => {
            let mut a = fixed::<16>(addr)?;
            if let Some(txid) = xor {
                for (b, k) in a.iter_mut().zip(cookie.iter().chain(txid.0.iter())) {
                    *b ^= k;
                }
            }
            IpAddr::V6(Ipv6Addr::from(a))
        }
        (Some(_), _) => return Err(AttributeError::Length(value.len() as u16)),
        (None, _) => return Err(AttributeError::AddressFamily(*family)),
    };
    Ok(SocketAddr::new(ip, port))
}

fn address_len(addr: &SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(_) => 8,
        SocketAddr::V6(_) => 20,
    }
}

fn write_address(addr: &SocketAddr, xor: Option<&TransactionId>, out: &mut Vec<u8>) {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let mut port = addr.port();
    if xor.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.extend_from_slice(&[0, AddressFamily::V4.to_u8()]);
            out.extend_from_slice(&port.to_be_bytes());
            let mut a = ip.octets();
            if xor.is_some() {
                for (b, k) in a.iter_mut().zip(cookie) {
                    *b ^= k;
                }
            }
            out.extend_from_slice(&a);
        }
        IpAddr::V6(ip) => {
            out.extend_from_slice(&[0, AddressFamily::V6.to_u8()]);
            out.extend_from_slice(&port.to_be_bytes());
            let mut a = ip.octets();
            if let Some(txid) = xor {
                for (b, k) in a.iter_mut().zip(cookie.iter().chain(txid.0.iter())) {
                    *b ^= k;
                }
            }
            out.extend_from_slice(&a);
        }
    }
}

fn decode_error_code(value: &[u8]) -> Result<ErrorCode<'_>, AttributeError> {
    let [_, _, class, number, reason @ ..] = value else {
        return Err(AttributeError::Length(value.len() as u16));
    };
    if *number > 99 {
        return Err(AttributeError::ErrorCodeNumber(*number));
    }
    Ok(ErrorCode {
        code: u16::from(class & 0x07) * 100 + u16::from(*number),
        reason: text(reason)?,
    })
}

fn write_error_code(e: &ErrorCode<'_>, first_byte: u8, out: &mut Vec<u8>) {
    // `validate` has checked code < 800, so the class fits its 3 bits.
    out.extend_from_slice(&[first_byte, 0, (e.code / 100) as u8, (e.code % 100) as u8]);
    out.extend_from_slice(e.reason.as_bytes());
}

fn u32_of(value: &[u8]) -> Result<u32, AttributeError> {
    Ok(u32::from_be_bytes(fixed::<4>(value)?))
}

fn family_of(value: &[u8]) -> Result<AddressFamily, AttributeError> {
    let v = fixed::<4>(value)?;
    AddressFamily::from_u8(v[0]).ok_or(AttributeError::AddressFamily(v[0]))
}

fn empty(value: &[u8]) -> Result<(), AttributeError> {
    if value.is_empty() {
        Ok(())
    } else {
        Err(AttributeError::Length(value.len() as u16))
    }
}

impl<'a> Attribute<'a> {
    /// Decodes the value of an attribute of type `attr` (without its padding). `txid` is the
    /// message's transaction id, needed by the XOR address attributes.
    pub fn decode(
        attr: AttributeType,
        value: &'a [u8],
        txid: &TransactionId,
    ) -> Result<Self, AttributeError> {
        Ok(match attr {
            AttributeType::MAPPED_ADDRESS => Attribute::MappedAddress(decode_address(value, None)?),
            AttributeType::XOR_MAPPED_ADDRESS => {
                Attribute::XorMappedAddress(decode_address(value, Some(txid))?)
            }
            AttributeType::USERNAME => Attribute::Username(text(value)?),
            AttributeType::USERHASH => Attribute::UserHash(
                <&[u8; 32]>::try_from(value)
                    .map_err(|_| AttributeError::Length(value.len() as u16))?,
            ),
            AttributeType::MESSAGE_INTEGRITY => Attribute::MessageIntegrity(
                <&[u8; 20]>::try_from(value)
                    .map_err(|_| AttributeError::Length(value.len() as u16))?,
            ),
            AttributeType::MESSAGE_INTEGRITY_SHA256 => {
                if !(16..=32).contains(&value.len()) || value.len() % 4 != 0 {
                    return Err(AttributeError::Length(value.len() as u16));
                }
                Attribute::MessageIntegritySha256(value)
            }
            AttributeType::FINGERPRINT => Attribute::Fingerprint(u32_of(value)?),
            AttributeType::ERROR_CODE => Attribute::ErrorCode(decode_error_code(value)?),
            AttributeType::UNKNOWN_ATTRIBUTES => {
                Attribute::UnknownAttributes(UnknownAttributes::new_checked(value)?)
            }
            AttributeType::REALM => Attribute::Realm(text(value)?),
            AttributeType::NONCE => Attribute::Nonce(text(value)?),
            AttributeType::PASSWORD_ALGORITHMS => {
                Attribute::PasswordAlgorithms(PasswordAlgorithms::new_checked(value)?)
            }
            AttributeType::PASSWORD_ALGORITHM => {
                let (alg, used) = PasswordAlgorithm::read(value)?;
                if used != value.len() {
                    return Err(AttributeError::AlgorithmParameters);
                }
                Attribute::PasswordAlgorithm(alg)
            }
            AttributeType::SOFTWARE => Attribute::Software(text(value)?),
            AttributeType::ALTERNATE_SERVER => {
                Attribute::AlternateServer(decode_address(value, None)?)
            }
            AttributeType::ALTERNATE_DOMAIN => Attribute::AlternateDomain(text(value)?),
            AttributeType::PRIORITY => Attribute::Priority(u32_of(value)?),
            AttributeType::USE_CANDIDATE => {
                empty(value)?;
                Attribute::UseCandidate
            }
            AttributeType::ICE_CONTROLLED => {
                Attribute::IceControlled(u64::from_be_bytes(fixed(value)?))
            }
            AttributeType::ICE_CONTROLLING => {
                Attribute::IceControlling(u64::from_be_bytes(fixed(value)?))
            }
            AttributeType::CHANNEL_NUMBER => {
                let v = fixed::<4>(value)?;
                Attribute::ChannelNumber(u16::from_be_bytes([v[0], v[1]]))
            }
            AttributeType::LIFETIME => Attribute::Lifetime(u32_of(value)?),
            AttributeType::XOR_PEER_ADDRESS => {
                Attribute::XorPeerAddress(decode_address(value, Some(txid))?)
            }
            AttributeType::DATA => Attribute::Data(value),
            AttributeType::XOR_RELAYED_ADDRESS => {
                Attribute::XorRelayedAddress(decode_address(value, Some(txid))?)
            }
            AttributeType::REQUESTED_ADDRESS_FAMILY => {
                Attribute::RequestedAddressFamily(family_of(value)?)
            }
            AttributeType::EVEN_PORT => {
                let [flags] = fixed::<1>(value)?;
                Attribute::EvenPort {
                    reserve: flags & 0x80 != 0,
                }
            }
            AttributeType::REQUESTED_TRANSPORT => {
                Attribute::RequestedTransport(fixed::<4>(value)?[0])
            }
            AttributeType::DONT_FRAGMENT => {
                empty(value)?;
                Attribute::DontFragment
            }
            AttributeType::RESERVATION_TOKEN => Attribute::ReservationToken(fixed(value)?),
            AttributeType::ADDITIONAL_ADDRESS_FAMILY => {
                Attribute::AdditionalAddressFamily(family_of(value)?)
            }
            AttributeType::ADDRESS_ERROR_CODE => {
                let Some(&first) = value.first() else {
                    return Err(AttributeError::Length(0));
                };
                let family =
                    AddressFamily::from_u8(first).ok_or(AttributeError::AddressFamily(first))?;
                Attribute::AddressErrorCode {
                    family,
                    error: decode_error_code(value)?,
                }
            }
            AttributeType::ICMP => {
                let v = fixed::<8>(value)?;
                Attribute::Icmp {
                    icmp_type: v[2],
                    code: v[3],
                    error_data: u32::from_be_bytes([v[4], v[5], v[6], v[7]]),
                }
            }
            _ => Attribute::Unknown { attr, value },
        })
    }

    /// The attribute's type.
    pub const fn attribute_type(&self) -> AttributeType {
        match self {
            Attribute::MappedAddress(_) => AttributeType::MAPPED_ADDRESS,
            Attribute::XorMappedAddress(_) => AttributeType::XOR_MAPPED_ADDRESS,
            Attribute::Username(_) => AttributeType::USERNAME,
            Attribute::UserHash(_) => AttributeType::USERHASH,
            Attribute::MessageIntegrity(_) => AttributeType::MESSAGE_INTEGRITY,
            Attribute::MessageIntegritySha256(_) => AttributeType::MESSAGE_INTEGRITY_SHA256,
            Attribute::Fingerprint(_) => AttributeType::FINGERPRINT,
            Attribute::ErrorCode(_) => AttributeType::ERROR_CODE,
            Attribute::UnknownAttributes(_) => AttributeType::UNKNOWN_ATTRIBUTES,
            Attribute::Realm(_) => AttributeType::REALM,
            Attribute::Nonce(_) => AttributeType::NONCE,
            Attribute::PasswordAlgorithms(_) => AttributeType::PASSWORD_ALGORITHMS,
            Attribute::PasswordAlgorithm(_) => AttributeType::PASSWORD_ALGORITHM,
            Attribute::Software(_) => AttributeType::SOFTWARE,
            Attribute::AlternateServer(_) => AttributeType::ALTERNATE_SERVER,
            Attribute::AlternateDomain(_) => AttributeType::ALTERNATE_DOMAIN,
            Attribute::Priority(_) => AttributeType::PRIORITY,
            Attribute::UseCandidate => AttributeType::USE_CANDIDATE,
            Attribute::IceControlled(_) => AttributeType::ICE_CONTROLLED,
            Attribute::IceControlling(_) => AttributeType::ICE_CONTROLLING,
            Attribute::ChannelNumber(_) => AttributeType::CHANNEL_NUMBER,
            Attribute::Lifetime(_) => AttributeType::LIFETIME,
            Attribute::XorPeerAddress(_) => AttributeType::XOR_PEER_ADDRESS,
            Attribute::Data(_) => AttributeType::DATA,
            Attribute::XorRelayedAddress(_) => AttributeType::XOR_RELAYED_ADDRESS,
            Attribute::RequestedAddressFamily(_) => AttributeType::REQUESTED_ADDRESS_FAMILY,
            Attribute::EvenPort { .. } => AttributeType::EVEN_PORT,
            Attribute::RequestedTransport(_) => AttributeType::REQUESTED_TRANSPORT,
            Attribute::DontFragment => AttributeType::DONT_FRAGMENT,
            Attribute::ReservationToken(_) => AttributeType::RESERVATION_TOKEN,
            Attribute::AdditionalAddressFamily(_) => AttributeType::ADDITIONAL_ADDRESS_FAMILY,
            Attribute::AddressErrorCode { .. } => AttributeType::ADDRESS_ERROR_CODE,
            Attribute::Icmp { .. } => AttributeType::ICMP,
            Attribute::Unknown { attr, .. } => *attr,
        }
    }

    /// Length of the encoded value, without padding.
    pub fn value_len(&self) -> usize {
        match self {
            Attribute::MappedAddress(a)
            | Attribute::XorMappedAddress(a)
            | Attribute::AlternateServer(a)
            | Attribute::XorPeerAddress(a)
            | Attribute::XorRelayedAddress(a) => address_len(a),
            Attribute::Username(s)
            | Attribute::Realm(s)
            | Attribute::Nonce(s)
            | Attribute::Software(s)
            | Attribute::AlternateDomain(s) => s.len(),
            Attribute::UserHash(_) => 32,
            Attribute::MessageIntegrity(_) => 20,
            Attribute::MessageIntegritySha256(v) | Attribute::Data(v) => v.len(),
            Attribute::Fingerprint(_)
            | Attribute::Priority(_)
            | Attribute::ChannelNumber(_)
            | Attribute::Lifetime(_)
            | Attribute::RequestedAddressFamily(_)
            | Attribute::RequestedTransport(_)
            | Attribute::AdditionalAddressFamily(_) => 4,
            Attribute::ErrorCode(e) | Attribute::AddressErrorCode { error: e, .. } => {
                4 + e.reason.len()
            }
            Attribute::UnknownAttributes(u) => u.as_bytes().len(),
            Attribute::PasswordAlgorithms(p) => p.as_bytes().len(),
            Attribute::PasswordAlgorithm(p) => p.encoded_len(),
            Attribute::UseCandidate | Attribute::DontFragment => 0,
            Attribute::IceControlled(_)
            | Attribute::IceControlling(_)
            | Attribute::ReservationToken(_) => 8,
            Attribute::EvenPort { .. } => 1,
            Attribute::Icmp { .. } => 8,
            Attribute::Unknown { value, .. } => value.len(),
        }
    }

    /// Checks that the value can be encoded: fits the 16-bit length and the attribute's
    /// own format.
    pub fn validate(&self) -> Result<(), EncodeError> {
        let attr = self.attribute_type();
        let len = self.value_len();
        if len > usize::from(u16::MAX) {
            return Err(EncodeError::ValueTooLong { attr, len });
        }
        let ok = match self {
            Attribute::ErrorCode(e) | Attribute::AddressErrorCode { error: e, .. } => e.code < 800,
            Attribute::MessageIntegritySha256(v) => {
                (16..=32).contains(&v.len()) && v.len() % 4 == 0
            }
            Attribute::PasswordAlgorithm(p) => p.parameters.len() <= usize::from(u16::MAX),
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(EncodeError::InvalidValue { attr })
        }
    }

    /// Appends the encoded value (exactly [`value_len`](Self::value_len) bytes, no padding) to
    /// `out`. `txid` is the transaction id of the message being built. Call
    /// [`validate`](Self::validate) first: a value it refuses is written in a form that does not
    /// decode back to the same attribute.
    pub fn write_value(&self, txid: &TransactionId, padding: u8, out: &mut Vec<u8>) {
        match self {
            Attribute::MappedAddress(a) | Attribute::AlternateServer(a) => {
                write_address(a, None, out)
            }
            Attribute::XorMappedAddress(a)
            | Attribute::XorPeerAddress(a)
            | Attribute::XorRelayedAddress(a) => write_address(a, Some(txid), out),
            Attribute::Username(s)
            | Attribute::Realm(s)
            | Attribute::Nonce(s)
            | Attribute::Software(s)
            | Attribute::AlternateDomain(s) => out.extend_from_slice(s.as_bytes()),
            Attribute::UserHash(h) => out.extend_from_slice(&h[..]),
            Attribute::MessageIntegrity(h) => out.extend_from_slice(&h[..]),
            Attribute::MessageIntegritySha256(v) | Attribute::Data(v) => out.extend_from_slice(v),
            Attribute::Fingerprint(v) | Attribute::Priority(v) | Attribute::Lifetime(v) => {
                out.extend_from_slice(&v.to_be_bytes())
            }
            Attribute::ErrorCode(e) => write_error_code(e, 0, out),
            Attribute::AddressErrorCode { family, error } => {
                write_error_code(error, family.to_u8(), out)
            }
            Attribute::UnknownAttributes(u) => out.extend_from_slice(u.as_bytes()),
            Attribute::PasswordAlgorithms(p) => out.extend_from_slice(p.as_bytes()),
            Attribute::PasswordAlgorithm(p) => p.write(out, padding),
            Attribute::UseCandidate | Attribute::DontFragment => {}
            Attribute::IceControlled(v) | Attribute::IceControlling(v) => {
                out.extend_from_slice(&v.to_be_bytes())
            }
            Attribute::ChannelNumber(n) => {
                out.extend_from_slice(&n.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
            }
            Attribute::RequestedAddressFamily(f) | Attribute::AdditionalAddressFamily(f) => {
                out.extend_from_slice(&[f.to_u8(), 0, 0, 0])
            }
            Attribute::EvenPort { reserve } => out.push(if *reserve { 0x80 } else { 0 }),
            Attribute::RequestedTransport(p) => out.extend_from_slice(&[*p, 0, 0, 0]),
            Attribute::ReservationToken(t) => out.extend_from_slice(t),
            Attribute::Icmp {
                icmp_type,
                code,
                error_data,
            } => {
                out.extend_from_slice(&[0, 0, *icmp_type, *code]);
                out.extend_from_slice(&error_data.to_be_bytes());
            }
            Attribute::Unknown { value, .. } => out.extend_from_slice(value),
        }
    }
}

impl fmt::Display for Attribute<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.attribute_type())?;
        match self {
            Attribute::MappedAddress(a)
            | Attribute::XorMappedAddress(a)
            | Attribute::AlternateServer(a)
            | Attribute::XorPeerAddress(a)
            | Attribute::XorRelayedAddress(a) => write!(f, "{a}"),
            Attribute::Username(s)
            | Attribute::Realm(s)
            | Attribute::Nonce(s)
            | Attribute::Software(s)
            | Attribute::AlternateDomain(s) => write!(f, "{s:?}"),
            Attribute::UserHash(h) => hex(f, &h[..]),
            Attribute::MessageIntegrity(h) => hex(f, &h[..]),
            Attribute::MessageIntegritySha256(v) => hex(f, v),
            Attribute::Data(v) => {
                write!(f, "{} bytes ", v.len())?;
                hex(f, v)
            }
            Attribute::Fingerprint(v) => write!(f, "0x{v:08x}"),
            Attribute::Priority(v) => write!(f, "{v}"),
            Attribute::Lifetime(v) => write!(f, "{v} s"),
            Attribute::ErrorCode(e) => write!(f, "{} {:?}", e.code, e.reason),
            Attribute::AddressErrorCode { family, error } => {
                write!(f, "{family:?} {} {:?}", error.code, error.reason)
            }
            Attribute::UnknownAttributes(u) => {
                let list: Vec<AttributeType> = u.iter().collect();
                write!(f, "{list:?}")
            }
            Attribute::PasswordAlgorithms(p) => {
                let list: Vec<u16> = p.iter().map(|a| a.algorithm.0).collect();
                write!(f, "{list:?}")
            }
            Attribute::PasswordAlgorithm(p) => write!(f, "{}", p.algorithm.0),
            Attribute::UseCandidate | Attribute::DontFragment => f.write_str("(flag)"),
            Attribute::IceControlled(v) | Attribute::IceControlling(v) => {
                write!(f, "tie-breaker 0x{v:016x}")
            }
            Attribute::ChannelNumber(n) => write!(f, "0x{n:04x}"),
            Attribute::RequestedAddressFamily(fam) | Attribute::AdditionalAddressFamily(fam) => {
                write!(f, "{fam:?}")
            }
            Attribute::EvenPort { reserve } => write!(f, "reserve={reserve}"),
            Attribute::RequestedTransport(p) => write!(f, "protocol {p}"),
            Attribute::ReservationToken(t) => hex(f, t),
            Attribute::Icmp {
                icmp_type,
                code,
                error_data,
            } => write!(f, "type {icmp_type} code {code} data {error_data}"),
            Attribute::Unknown { value, .. } => hex(f, value),
        }
    }
}

fn hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TXID: TransactionId = TransactionId([
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    ]);

    fn round_trip(a: Attribute<'_>) {
        let mut out = Vec::new();
        a.validate().unwrap();
        a.write_value(&TXID, 0, &mut out);
        assert_eq!(out.len(), a.value_len(), "{a:?}");
        let back = Attribute::decode(a.attribute_type(), &out, &TXID).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn xor_mapped_address_rfc5769() {
        // RFC 5769 section 2.2 and 2.3: 192.0.2.1:32853 and
        // [2001:db8:1234:5678:11:2233:4455:6677]:32853.
        let v4 = [0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43];
        assert_eq!(
            Attribute::decode(AttributeType::XOR_MAPPED_ADDRESS, &v4, &TXID).unwrap(),
            Attribute::XorMappedAddress("192.0.2.1:32853".parse().unwrap())
        );
        let v6 = [
            0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25,
            0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
        ];
        assert_eq!(
            Attribute::decode(AttributeType::XOR_MAPPED_ADDRESS, &v6, &TXID).unwrap(),
            Attribute::XorMappedAddress(
                "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                    .parse()
                    .unwrap()
            )
        );
    }

    #[test]
    fn every_variant_round_trips() {
        let pa = [0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00];
        let ua = [0x00, 0x03, 0x00, 0x2f];
        for a in [
            Attribute::MappedAddress("10.0.0.1:5000".parse().unwrap()),
            Attribute::XorMappedAddress("[::1]:9".parse().unwrap()),
            Attribute::AlternateServer("[fe80::1]:3478".parse().unwrap()),
            Attribute::XorPeerAddress("1.2.3.4:1".parse().unwrap()),
            Attribute::XorRelayedAddress("[2001:db8::5]:65535".parse().unwrap()),
            Attribute::Username("user:frag"),
            Attribute::UserHash(&[7; 32]),
            Attribute::MessageIntegrity(&[9; 20]),
            Attribute::MessageIntegritySha256(&[3; 16]),
            Attribute::Fingerprint(0xdead_beef),
            Attribute::ErrorCode(ErrorCode {
                code: 487,
                reason: "Role Conflict",
            }),
            Attribute::UnknownAttributes(UnknownAttributes::new_checked(&ua).unwrap()),
            Attribute::Realm("example.org"),
            Attribute::Nonce("abc"),
            Attribute::PasswordAlgorithms(PasswordAlgorithms::new_checked(&pa).unwrap()),
            Attribute::PasswordAlgorithm(PasswordAlgorithm {
                algorithm: PasswordAlgorithmId::SHA256,
                parameters: &[1, 2, 3],
            }),
            Attribute::Software("ferrtc"),
            Attribute::AlternateDomain("turn.example.org"),
            Attribute::Priority(0x6e00_01ff),
            Attribute::UseCandidate,
            Attribute::IceControlled(0x932f_f9b1_5126_3b36),
            Attribute::IceControlling(1),
            Attribute::ChannelNumber(0x4001),
            Attribute::Lifetime(600),
            Attribute::Data(b"hello"),
            Attribute::RequestedAddressFamily(AddressFamily::V6),
            Attribute::EvenPort { reserve: true },
            Attribute::RequestedTransport(17),
            Attribute::DontFragment,
            Attribute::ReservationToken([1, 2, 3, 4, 5, 6, 7, 8]),
            Attribute::AdditionalAddressFamily(AddressFamily::V6),
            Attribute::AddressErrorCode {
                family: AddressFamily::V4,
                error: ErrorCode {
                    code: 440,
                    reason: "Address Family not Supported",
                },
            },
            Attribute::Icmp {
                icmp_type: 3,
                code: 4,
                error_data: 1400,
            },
            Attribute::Unknown {
                attr: AttributeType(0xC057),
                value: &[0, 1, 0, 0],
            },
        ] {
            round_trip(a);
        }
    }

    #[test]
    fn malformed_values_are_typed_errors() {
        let t = &TXID;
        assert_eq!(
            Attribute::decode(
                AttributeType::XOR_MAPPED_ADDRESS,
                &[0, 3, 0, 0, 1, 2, 3, 4],
                t
            ),
            Err(AttributeError::AddressFamily(3))
        );
        assert_eq!(
            Attribute::decode(
                AttributeType::XOR_MAPPED_ADDRESS,
                &[0, 2, 0, 0, 1, 2, 3, 4],
                t
            ),
            Err(AttributeError::Length(8))
        );
        assert_eq!(
            Attribute::decode(AttributeType::MAPPED_ADDRESS, &[0, 1, 0], t),
            Err(AttributeError::Length(3))
        );
        assert_eq!(
            Attribute::decode(AttributeType::USERNAME, &[0xff, 0xfe], t),
            Err(AttributeError::Utf8)
        );
        assert_eq!(
            Attribute::decode(AttributeType::ERROR_CODE, &[0, 0, 4, 100], t),
            Err(AttributeError::ErrorCodeNumber(100))
        );
        assert_eq!(
            Attribute::decode(AttributeType::MESSAGE_INTEGRITY_SHA256, &[0; 18], t),
            Err(AttributeError::Length(18))
        );
        assert_eq!(
            Attribute::decode(AttributeType::USE_CANDIDATE, &[0], t),
            Err(AttributeError::Length(1))
        );
        assert_eq!(
            Attribute::decode(AttributeType::PASSWORD_ALGORITHMS, &[0, 1, 0, 4, 0, 0], t),
            Err(AttributeError::AlgorithmParameters)
        );
        assert_eq!(
            Attribute::decode(AttributeType::UNKNOWN_ATTRIBUTES, &[0, 1, 0], t),
            Err(AttributeError::Length(3))
        );
        assert_eq!(
            Attribute::decode(AttributeType::ADDRESS_ERROR_CODE, &[9, 0, 4, 40], t),
            Err(AttributeError::AddressFamily(9))
        );
    }

    #[test]
    fn error_code_validation() {
        let bad = Attribute::ErrorCode(ErrorCode {
            code: 800,
            reason: "",
        });
        assert_eq!(
            bad.validate(),
            Err(EncodeError::InvalidValue {
                attr: AttributeType::ERROR_CODE
            })
        );
        let mut out = Vec::new();
        Attribute::ErrorCode(ErrorCode {
            code: 438,
            reason: "Stale Nonce",
        })
        .write_value(&TXID, 0, &mut out);
        assert_eq!(&out[..4], &[0, 0, 4, 38]);
    }

    #[test]
    fn names_and_ranges() {
        assert!(AttributeType::USERNAME.is_comprehension_required());
        assert!(!AttributeType::SOFTWARE.is_comprehension_required());
        assert_eq!(
            AttributeType::ICE_CONTROLLING.to_string(),
            "ICE-CONTROLLING"
        );
        assert_eq!(AttributeType(0xC057).to_string(), "0xc057");
        assert!(!AttributeType(0x0003).is_known());
    }
}
