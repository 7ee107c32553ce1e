//! Newtypes for RTP identifiers.

use core::fmt;

/// Synchronization source identifier (RFC 3550 section 5.1, 32 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ssrc(pub u32);

impl fmt::Display for Ssrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

impl From<u32> for Ssrc {
    fn from(v: u32) -> Self {
        Ssrc(v)
    }
}

/// RTP sequence number (RFC 3550 section 5.1, 16 bits, wrapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SeqNo(pub u16);

impl SeqNo {
    /// The sequence number `n` packets later, wrapping at 2^16.
    #[must_use]
    pub fn wrapping_add(self, n: u16) -> SeqNo {
        SeqNo(self.0.wrapping_add(n))
    }

    /// Forward distance from `self` to `later`, modulo 2^16.
    #[must_use]
    pub fn distance_to(self, later: SeqNo) -> u16 {
        later.0.wrapping_sub(self.0)
    }

    /// Whether `self` comes after `other` in serial-number order (RFC 1982 with 16 bits):
    /// true when the forward distance from `other` is in `1..0x8000`.
    #[must_use]
    pub fn is_after(self, other: SeqNo) -> bool {
        let d = other.distance_to(self);
        d != 0 && d < 0x8000
    }
}

impl fmt::Display for SeqNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<u16> for SeqNo {
    fn from(v: u16) -> Self {
        SeqNo(v)
    }
}

/// Extends 16-bit sequence numbers to 64 bits by counting wraps (the "extended highest
/// sequence number" of RFC 3550 section 6.4.1 and appendix A.1), tolerating reordering:
/// a number is placed in the cycle that puts it nearest the last one seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqUnwrapper {
    last: Option<u64>,
}

impl SeqUnwrapper {
    /// An unwrapper that has seen nothing.
    pub const fn new() -> Self {
        SeqUnwrapper { last: None }
    }

    /// The extended value of `seq`. The first value seen is placed in cycle 1, so that a
    /// reordered packet from just before it still has a value (no underflow).
    pub fn unwrap(&mut self, seq: SeqNo) -> u64 {
        let v = match self.last {
            None => (1 << 16) | u64::from(seq.0),
            Some(last) => {
                let delta = i64::from(seq.0.wrapping_sub(last as u16) as i16);
                // `last` is at least 1 << 16 and steps are at most 2^15 each way, so a
                // backwards step cannot go below zero in practice; saturate anyway.
                last.checked_add_signed(delta).unwrap_or(0)
            }
        };
        self.last = Some(self.last.map_or(v, |l| l.max(v)));
        v
    }

    /// The highest extended value seen.
    pub fn highest(&self) -> Option<u64> {
        self.last
    }
}

/// RTP payload type (RFC 3550 section 5.1, 7 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PayloadType(u8);

impl PayloadType {
    /// A payload type from its 7-bit value; `None` if `v > 127`.
    #[must_use]
    pub const fn new(v: u8) -> Option<PayloadType> {
        if v <= 0x7f {
            Some(PayloadType(v))
        } else {
            None
        }
    }

    /// A payload type from the low 7 bits of `v` (the high bit is the RTP marker bit).
    #[must_use]
    pub const fn from_masked(v: u8) -> PayloadType {
        PayloadType(v & 0x7f)
    }

    /// The 7-bit value.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for PayloadType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
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
    fn unwrapper_counts_cycles_and_tolerates_reordering() {
        let mut u = SeqUnwrapper::new();
        let base = u.unwrap(SeqNo(65534));
        assert_eq!(u.unwrap(SeqNo(65535)), base + 1);
        assert_eq!(u.unwrap(SeqNo(1)), base + 3);
        // Late packet from before the wrap.
        assert_eq!(u.unwrap(SeqNo(0)), base + 2);
        assert_eq!(u.highest(), Some(base + 3));
        // A packet from before the first one seen.
        let mut u = SeqUnwrapper::new();
        let b = u.unwrap(SeqNo(5));
        assert_eq!(u.unwrap(SeqNo(65530)), b - 11);
        assert_eq!(u.highest(), Some(b));
        // Many cycles.
        let mut u = SeqUnwrapper::new();
        let start = u.unwrap(SeqNo(0));
        let mut s = SeqNo(0);
        for _ in 0..5 * 65536 / 1000 {
            s = s.wrapping_add(1000);
            u.unwrap(s);
        }
        assert_eq!(u.highest(), Some(start + 327_000));
    }

    #[test]
    fn payload_type_range() {
        assert_eq!(PayloadType::new(96).map(PayloadType::get), Some(96));
        assert_eq!(PayloadType::new(128), None);
        assert_eq!(PayloadType::from_masked(0xe0).get(), 0x60);
    }
}
