//! Time bases: the unit a frame's `pts` counts in, as in PyAV and aiortc.

use std::fmt;

/// A rational unit of time (`num / den` seconds); a frame's `pts` counts in it.
///
/// Video uses the RTP clock, `1/90000`; audio uses `1/sample_rate`, as aiortc does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeBase {
    num: u32,
    den: u32,
}

impl TimeBase {
    /// The 90 kHz clock of RTP video (RFC 3551 §5).
    pub const VIDEO_90KHZ: TimeBase = TimeBase {
        num: 1,
        den: 90_000,
    };
    /// Milliseconds.
    pub const MILLISECONDS: TimeBase = TimeBase { num: 1, den: 1_000 };

    /// `num / den` seconds; `None` when either is zero.
    pub const fn new(num: u32, den: u32) -> Option<TimeBase> {
        if num == 0 || den == 0 {
            None
        } else {
            Some(TimeBase { num, den })
        }
    }

    /// One tick per sample at `sample_rate` Hz; `None` for a zero rate.
    pub const fn per_sample(sample_rate: u32) -> Option<TimeBase> {
        TimeBase::new(1, sample_rate)
    }

    /// The numerator.
    pub const fn num(self) -> u32 {
        self.num
    }

    /// The denominator.
    pub const fn den(self) -> u32 {
        self.den
    }

    /// `pts` in seconds.
    pub fn seconds(self, pts: i64) -> f64 {
        pts as f64 * f64::from(self.num) / f64::from(self.den)
    }

    /// `pts` counted in `to` instead, rounded towards negative infinity.
    pub fn rescale(self, pts: i64, to: TimeBase) -> i64 {
        let n = i128::from(pts) * i128::from(self.num) * i128::from(to.den);
        let d = i128::from(self.den) * i128::from(to.num);
        // d > 0 (both factors are non-zero by construction); the result of a 64-bit pts scaled
        // by 32-bit factors fits back into 64 bits for any time base in practical use, and
        // saturates otherwise.
        n.div_euclid(d)
            .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
}

impl fmt::Display for TimeBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_between_clocks() {
        let ms = TimeBase::MILLISECONDS;
        assert_eq!(ms.rescale(20, TimeBase::VIDEO_90KHZ), 1_800);
        assert_eq!(TimeBase::VIDEO_90KHZ.rescale(3_000, ms), 33);
        assert_eq!(TimeBase::VIDEO_90KHZ.rescale(-1, ms), -1);
        assert!((TimeBase::per_sample(48_000).unwrap().seconds(960) - 0.02).abs() < 1e-12);
        assert_eq!(TimeBase::new(0, 1), None);
        assert_eq!(TimeBase::VIDEO_90KHZ.to_string(), "1/90000");
    }
}
