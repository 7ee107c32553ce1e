//! RTP identifiers: [`Ssrc`], [`SeqNo`] and [`PayloadType`] are the shared ones of
//! [`ferrtc_types`], re-exported; [`SeqUnwrapper`], which only the RTP layer needs, lives here.

pub use ferrtc_types::{PayloadType, SeqNo, Ssrc};

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

#[cfg(test)]
mod tests {
    use super::*;

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
