//! The fixed 20-byte STUN header: message type (class + method), length, magic cookie and
//! transaction id (RFC 8489 section 5).

use core::fmt;

/// The magic cookie, fixed at `0x2112A442` in every RFC 5389/8489 message (RFC 8489 section 5).
pub const MAGIC_COOKIE: u32 = 0x2112_A442;

/// Length of the STUN header in bytes (RFC 8489 section 5).
pub const HEADER_LEN: usize = 20;

/// Field ranges of the STUN header (RFC 8489 section 5, figure 2).
pub(crate) mod field {
    use core::ops::Range;
    /// Message type: two zero bits, then 14 bits of class and method.
    pub const TYPE: Range<usize> = 0..2;
    /// Message length, excluding the 20-byte header.
    pub const LENGTH: Range<usize> = 2..4;
    /// Magic cookie.
    pub const COOKIE: Range<usize> = 4..8;
    /// Transaction id.
    pub const TRANSACTION_ID: Range<usize> = 8..20;
}

/// The class of a STUN message (RFC 8489 section 5): the C1 and C0 bits of the message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Request (`0b00`).
    Request,
    /// Indication (`0b01`).
    Indication,
    /// Success response (`0b10`).
    SuccessResponse,
    /// Error response (`0b11`).
    ErrorResponse,
}

impl Class {
    /// The two class bits, C1 C0.
    pub const fn bits(self) -> u16 {
        match self {
            Class::Request => 0b00,
            Class::Indication => 0b01,
            Class::SuccessResponse => 0b10,
            Class::ErrorResponse => 0b11,
        }
    }

    /// The class for two bits C1 C0 (only the low two bits are read).
    pub const fn from_bits(bits: u16) -> Self {
        match bits & 0b11 {
            0b00 => Class::Request,
            0b01 => Class::Indication,
            0b10 => Class::SuccessResponse,
            _ => Class::ErrorResponse,
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Class::Request => "request",
            Class::Indication => "indication",
            Class::SuccessResponse => "success response",
            Class::ErrorResponse => "error response",
        })
    }
}

/// A STUN method: a 12-bit number (RFC 8489 section 18.2, RFC 8656 section 17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Method(u16);

impl Method {
    /// Binding (`0x001`, RFC 8489 section 18.2).
    pub const BINDING: Method = Method(0x001);
    /// Allocate (`0x003`, RFC 8656 section 17).
    pub const ALLOCATE: Method = Method(0x003);
    /// Refresh (`0x004`, RFC 8656 section 17).
    pub const REFRESH: Method = Method(0x004);
    /// Send (`0x006`, RFC 8656 section 17).
    pub const SEND: Method = Method(0x006);
    /// Data (`0x007`, RFC 8656 section 17).
    pub const DATA: Method = Method(0x007);
    /// CreatePermission (`0x008`, RFC 8656 section 17).
    pub const CREATE_PERMISSION: Method = Method(0x008);
    /// ChannelBind (`0x009`, RFC 8656 section 17).
    pub const CHANNEL_BIND: Method = Method(0x009);

    /// Largest method number: methods are 12 bits.
    pub const MAX: u16 = 0x0FFF;

    /// A method from its number; `None` if it does not fit in 12 bits.
    pub const fn new(number: u16) -> Option<Self> {
        if number <= Self::MAX {
            Some(Method(number))
        } else {
            None
        }
    }

    /// The method number.
    pub const fn number(self) -> u16 {
        self.0
    }

    /// The registered name, if this crate knows it.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x001 => "Binding",
            0x003 => "Allocate",
            0x004 => "Refresh",
            0x006 => "Send",
            0x007 => "Data",
            0x008 => "CreatePermission",
            0x009 => "ChannelBind",
            _ => return None,
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} (0x{:03x})", self.0),
            None => write!(f, "0x{:03x}", self.0),
        }
    }
}

/// The 14-bit STUN message type: a [`Class`] and a [`Method`] with their bits interleaved
/// (RFC 8489 section 5, figure 3: `M11..M7 C1 M6..M4 C0 M3..M0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageType {
    /// The class.
    pub class: Class,
    /// The method.
    pub method: Method,
}

impl MessageType {
    /// A message type from its parts.
    pub const fn new(class: Class, method: Method) -> Self {
        MessageType { class, method }
    }

    /// The 16-bit wire value (the two top bits are zero).
    pub const fn to_u16(self) -> u16 {
        let m = self.method.0;
        let c = self.class.bits();
        (m & 0x000F)
            | ((m & 0x0070) << 1)
            | ((m & 0x0F80) << 2)
            | ((c & 0b01) << 4)
            | ((c & 0b10) << 7)
    }

    /// Decodes the 14 low bits of a wire value; the two top bits are ignored (the message
    /// view rejects them before calling this).
    pub const fn from_u16(value: u16) -> Self {
        let m = (value & 0x000F) | ((value >> 1) & 0x0070) | ((value >> 2) & 0x0F80);
        let c = ((value >> 4) & 0b01) | ((value >> 7) & 0b10);
        MessageType {
            class: Class::from_bits(c),
            method: Method(m),
        }
    }
}

/// The 96-bit transaction id (RFC 8489 section 5).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TransactionId(pub [u8; 12]);

impl TransactionId {
    /// Draws a fresh id from the caller's generator (RFC 8489 section 5: uniformly and
    /// randomly chosen from the interval 0 .. 2**96-1).
    pub fn random<R: rand::RngCore + ?Sized>(rng: &mut R) -> Self {
        let mut id = [0u8; 12];
        rng.fill_bytes(&mut id);
        TransactionId(id)
    }

    /// The id's bytes.
    pub const fn as_bytes(&self) -> &[u8; 12] {
        &self.0
    }
}

impl fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransactionId({self})")
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_type_known_values() {
        // RFC 8489 section 5: Binding request 0x0001, success 0x0101, error 0x0111,
        // indication 0x0011.
        let b = Method::BINDING;
        assert_eq!(MessageType::new(Class::Request, b).to_u16(), 0x0001);
        assert_eq!(MessageType::new(Class::SuccessResponse, b).to_u16(), 0x0101);
        assert_eq!(MessageType::new(Class::ErrorResponse, b).to_u16(), 0x0111);
        assert_eq!(MessageType::new(Class::Indication, b).to_u16(), 0x0011);
        // TURN: Allocate error response 0x0113, Send indication 0x0016, Data indication 0x0017.
        assert_eq!(
            MessageType::new(Class::ErrorResponse, Method::ALLOCATE).to_u16(),
            0x0113
        );
        assert_eq!(
            MessageType::new(Class::Indication, Method::SEND).to_u16(),
            0x0016
        );
        assert_eq!(
            MessageType::new(Class::Indication, Method::DATA).to_u16(),
            0x0017
        );
    }

    #[test]
    fn message_type_round_trips_every_value() {
        for m in 0..=Method::MAX {
            for c in 0..4 {
                let t = MessageType::new(Class::from_bits(c), Method::new(m).unwrap());
                let wire = t.to_u16();
                assert_eq!(wire & 0xC000, 0);
                assert_eq!(MessageType::from_u16(wire), t);
            }
        }
    }

    #[test]
    fn method_bounds() {
        assert_eq!(Method::new(0x0FFF).map(Method::number), Some(0x0FFF));
        assert_eq!(Method::new(0x1000), None);
        assert_eq!(Method::BINDING.to_string(), "Binding (0x001)");
        assert_eq!(Method::new(0x0AB).unwrap().to_string(), "0x0ab");
    }

    #[test]
    fn transaction_id_display() {
        let id = TransactionId([
            0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
        ]);
        assert_eq!(id.to_string(), "b7e7a701bc34d686fa87dfae");
    }
}
