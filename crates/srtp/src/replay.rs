//! Packet index estimation (RFC 3711 §3.3.1, Appendix A) and the replay list (§3.3.2).

/// Guesses the 48-bit SRTP index of a packet with sequence number `seq`, given the highest index
/// seen so far on the stream (RFC 3711 Appendix A): the candidate among ROC-1, ROC, ROC+1 closest
/// to the highest index.
///
/// Returns `None` when the guess would need a rollover counter past 2^32 - 1 (index space
/// exhausted). A guess of ROC - 1 while ROC is still 0 cannot be right; the sequence number is
/// then read with ROC itself (a jump forward), which sender and receiver do alike so that they
/// keep agreeing.
#[inline]
pub(crate) fn estimate_index(highest: u64, seq: u16) -> Option<u64> {
    let roc = highest >> 16;
    let s_l = (highest & 0xffff) as i32;
    let seq_i = i32::from(seq);
    let v = if s_l < 0x8000 {
        if seq_i - s_l > 0x8000 {
            roc.saturating_sub(1)
        } else {
            roc
        }
    } else if s_l - 0x8000 > seq_i {
        roc + 1
    } else {
        roc
    };
    if v > u64::from(u32::MAX) {
        return None;
    }
    Some((v << 16) | u64::from(seq))
}

/// Verdict of the replay list on a packet index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not seen before and inside or ahead of the window.
    Fresh,
    /// Already received.
    Replayed,
    /// Behind the window: cannot be told apart from a replay.
    TooOld,
}

/// A sliding replay window over packet indices: a ring of bits, one per index, covering
/// `[highest - size + 1, highest]`. Checking and accepting cost O(1) for in-order packets.
#[derive(Debug, Clone)]
pub(crate) struct ReplayWindow {
    bits: Box<[u64]>,
    /// `bits.len() * 64 - 1`; the ring is a power of two of bits, at least `size`.
    mask: u64,
    size: u64,
    highest: u64,
}

impl ReplayWindow {
    /// A window of `size` packets (at least 1) whose first accepted index is `first`.
    pub(crate) fn new(size: u32, first: u64) -> Self {
        let bits = u64::from(size.max(1)).next_power_of_two().max(64);
        let mut w = ReplayWindow {
            bits: vec![0u64; (bits / 64) as usize].into_boxed_slice(),
            mask: bits - 1,
            size: u64::from(size.max(1)),
            highest: first,
        };
        w.set(first);
        w
    }

    /// Highest index accepted so far.
    #[inline]
    pub(crate) fn highest(&self) -> u64 {
        self.highest
    }

    #[inline]
    fn slot(&self, index: u64) -> (usize, u64) {
        let bit = index & self.mask;
        ((bit / 64) as usize, 1u64 << (bit % 64))
    }

    #[inline]
    fn set(&mut self, index: u64) {
        let (w, b) = self.slot(index);
        self.bits[w] |= b;
    }

    /// Tells whether `index` may be accepted; changes nothing.
    #[inline]
    pub(crate) fn check(&self, index: u64) -> Verdict {
        if index > self.highest {
            return Verdict::Fresh;
        }
        if self.highest - index >= self.size {
            return Verdict::TooOld;
        }
        let (w, b) = self.slot(index);
        if self.bits[w] & b != 0 {
            Verdict::Replayed
        } else {
            Verdict::Fresh
        }
    }

    /// Records `index` as received (after it authenticated). `check` must have said `Fresh`.
    #[inline]
    pub(crate) fn accept(&mut self, index: u64) {
        if index > self.highest {
            let advance = index - self.highest;
            if advance > self.mask {
                self.bits.fill(0);
            } else {
                for i in self.highest + 1..index {
                    let (w, b) = self.slot(i);
                    self.bits[w] &= !b;
                }
                let (w, b) = self.slot(index);
                self.bits[w] &= !b;
            }
            self.highest = index;
        }
        self.set(index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_follows_appendix_a() {
        // In order.
        assert_eq!(estimate_index(100, 101), Some(101));
        // Wrap forward: s_l high, seq small.
        assert_eq!(estimate_index(0xfff0, 0x0005), Some(0x1_0005));
        // Late packet from before the wrap.
        assert_eq!(estimate_index(0x1_0005, 0xfff0), Some(0xfff0));
        // Late by exactly half the space stays in the current ROC.
        assert_eq!(estimate_index(0x1_8000, 0x0000), Some(0x1_0000));
        // ROC would be -1 at the start: read as a jump forward.
        assert_eq!(estimate_index(5, 0xfff0), Some(0xfff0));
        // Index space exhausted.
        assert_eq!(estimate_index(0xffff_ffff_fff0, 0x0001), None);
        assert_eq!(
            estimate_index(0xffff_ffff_fff0, 0xfff1),
            Some(0xffff_ffff_fff1)
        );
    }

    #[test]
    fn window_accepts_reorder_and_rejects_replay() {
        let mut w = ReplayWindow::new(128, 1000);
        assert_eq!(w.check(1000), Verdict::Replayed);
        assert_eq!(w.check(1001), Verdict::Fresh);
        w.accept(1005);
        for i in 1001..1005 {
            assert_eq!(w.check(i), Verdict::Fresh, "{i}");
        }
        w.accept(1003);
        assert_eq!(w.check(1003), Verdict::Replayed);
        assert_eq!(w.check(1005), Verdict::Replayed);
        assert_eq!(w.check(1005 - 127), Verdict::Fresh);
        assert_eq!(w.check(1005 - 128), Verdict::TooOld);
        assert_eq!(w.highest(), 1005);
    }

    #[test]
    fn window_clears_bits_it_moves_past() {
        let mut w = ReplayWindow::new(64, 0);
        for i in 0..64 {
            w.accept(i);
        }
        // Advance by a full ring and more: all old marks must be gone.
        w.accept(64 + 64);
        for i in 65..128 {
            assert_eq!(w.check(i), Verdict::Fresh, "{i}");
        }
        // Advance by less than the ring: the skipped indices are fresh, not remembered marks.
        let mut w = ReplayWindow::new(100, 0);
        for i in 0..128 {
            w.accept(i);
        }
        w.accept(200);
        for i in 101..128 {
            assert_eq!(w.check(i), Verdict::Replayed, "{i}");
        }
        for i in 128..200 {
            assert_eq!(w.check(i), Verdict::Fresh, "{i}");
        }
        assert_eq!(w.check(100), Verdict::TooOld);
    }

    #[test]
    fn window_size_is_exact_even_when_the_ring_is_larger() {
        let w = ReplayWindow::new(100, 1000);
        assert_eq!(w.check(901), Verdict::Fresh);
        assert_eq!(w.check(900), Verdict::TooOld);
    }
}
