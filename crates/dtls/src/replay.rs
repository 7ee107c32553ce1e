//! Anti-replay window (RFC 6347 §4.1.2.6), the sliding bitmap of RFC 4303 §3.4.3.

/// Width of the window in records.
pub const WINDOW: u64 = 64;

/// Remembers which of the last [`WINDOW`] sequence numbers of one epoch were accepted.
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    /// Highest sequence number accepted, if any.
    top: Option<u64>,
    /// Bit `i` set: `top - i` was accepted.
    bits: u64,
}

impl ReplayWindow {
    /// A window that has accepted nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// True if `seq` is new and not too old; call before authenticating the record.
    pub fn check(&self, seq: u64) -> bool {
        match self.top {
            None => true,
            Some(top) if seq > top => true,
            Some(top) => {
                let age = top - seq;
                age < WINDOW && self.bits & (1 << age) == 0
            }
        }
    }

    /// Marks `seq` accepted; call only after the record authenticated.
    pub fn update(&mut self, seq: u64) {
        match self.top {
            None => {
                self.top = Some(seq);
                self.bits = 1;
            }
            Some(top) if seq > top => {
                let shift = seq - top;
                self.bits = if shift >= WINDOW {
                    0
                } else {
                    self.bits << shift
                };
                self.bits |= 1;
                self.top = Some(seq);
            }
            Some(top) => {
                let age = top - seq;
                if age < WINDOW {
                    self.bits |= 1 << age;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_replays_and_stale_records() {
        let mut w = ReplayWindow::new();
        assert!(w.check(5));
        w.update(5);
        assert!(!w.check(5));
        assert!(w.check(3));
        w.update(3);
        assert!(!w.check(3));
        assert!(w.check(4));
        w.update(200);
        assert!(!w.check(5), "too old");
        assert!(w.check(199));
        assert!(!w.check(200));
        assert!(w.check(137));
        assert!(!w.check(136));
    }
}
