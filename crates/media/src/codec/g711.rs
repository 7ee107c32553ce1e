//! G.711 (ITU-T G.711, 1988): 8-bit logarithmic companding of 8 kHz audio, μ-law (PCMU) and
//! A-law (PCMA), written from the recommendation's segment tables.
//!
//! Both laws split the magnitude into 8 segments (chords) of 16 steps; each segment doubles the
//! step of the one before. μ-law works on 14-bit magnitudes with a bias of 33 (so segment ends
//! are `(33 << (e + 1)) - 33`); A-law on 13-bit magnitudes, its first two segments sharing one
//! step. Transmitted μ-law codes are all bits inverted; A-law codes have the even bits inverted
//! (XOR 0x55), as G.711 Tables 1 and 2 give them.

use super::{AudioDecoder, AudioEncoder, AudioEncoderSettings, Codec, EncodedFrame, SampleQueue};
use crate::error::CodecError;
use crate::frame::AudioFrame;
use crate::pool::BufferPool;
use crate::time::TimeBase;

/// G.711's only sample rate.
const SAMPLE_RATE: u32 = 8_000;
/// 20 ms at 8 kHz, RFC 3551 §4.5's default packet time.
const FRAME_SAMPLES: usize = 160;
const TIME_BASE: TimeBase = match TimeBase::per_sample(SAMPLE_RATE) {
    Some(t) => t,
    None => panic!("8000 is not zero"),
};

/// μ-law bias, in 16-bit units (33 in G.711's 14-bit units, times 4).
const ULAW_BIAS: i32 = 0x84;
/// The largest magnitude μ-law represents before the bias pushes it out of segment 7.
const ULAW_CLIP: i32 = 32_635;

/// Which G.711 law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum G711Law {
    /// μ-law: PCMU, North America and Japan.
    MuLaw,
    /// A-law: PCMA, elsewhere.
    ALaw,
}

impl G711Law {
    /// Compresses one 16-bit linear sample.
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            G711Law::MuLaw => ulaw_encode(sample),
            G711Law::ALaw => alaw_encode(sample),
        }
    }

    /// Expands one code to a 16-bit linear sample (the segment's mid-step value).
    pub fn decode(self, code: u8) -> i16 {
        match self {
            G711Law::MuLaw => ulaw_decode(code),
            G711Law::ALaw => alaw_decode(code),
        }
    }

    fn codec(self) -> Codec {
        match self {
            G711Law::MuLaw => Codec::Pcmu,
            G711Law::ALaw => Codec::Pcma,
        }
    }
}

fn ulaw_encode(sample: i16) -> u8 {
    // Negative samples take their ones' complement (-x - 1), as the ITU-T G.191 reference
    // does: the two halves of the scale are mirror images around -0.5, and -32768 needs no
    // special case.
    let (sign, magnitude) = if sample < 0 {
        (0x80, -i32::from(sample) - 1)
    } else {
        (0x00, i32::from(sample))
    };
    let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS;
    // `biased` is in 0x84..=0x7FFF: its top set bit is bit 7 (segment 0) to bit 14 (segment 7).
    let segment = (31 - biased.leading_zeros() as i32 - 7).clamp(0, 7);
    let step = (biased >> (segment + 3)) & 0x0F;
    !(sign | (segment << 4) | step) as u8
}

fn ulaw_decode(code: u8) -> i16 {
    let code = !code;
    let segment = (code >> 4) & 0x07;
    let step = i32::from(code & 0x0F);
    let magnitude = (((step << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
    // At most ((15 << 3) + 132) << 7 - 132 = 32124: fits an i16.
    (if code & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    }) as i16
}

fn alaw_encode(sample: i16) -> u8 {
    // A-law quantises 13-bit samples.
    let value = i32::from(sample) >> 3;
    let (mask, magnitude) = if value >= 0 {
        (0xD5, value)
    } else {
        (0x55, -value - 1)
    };
    // Segment ends: 0x1F, 0x3F, 0x7F, ..., 0xFFF (G.711 Table 1).
    let segment = (32 - (magnitude | 0x1F).leading_zeros() as i32 - 5).clamp(0, 7);
    let step = if segment < 2 {
        (magnitude >> 1) & 0x0F
    } else {
        (magnitude >> segment) & 0x0F
    };
    (((segment << 4) | step) ^ mask) as u8
}

fn alaw_decode(code: u8) -> i16 {
    let code = code ^ 0x55;
    let segment = (code >> 4) & 0x07;
    let mut magnitude = i32::from(code & 0x0F) << 4;
    magnitude += match segment {
        0 => 8,
        _ => 0x108,
    };
    if segment > 1 {
        magnitude <<= segment - 1;
    }
    // At most (0xF0 + 0x108) << 6 = 32256: fits an i16.
    (if code & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }) as i16
}

/// A G.711 encoder: 8 kHz mono in, one 160-byte packet per 20 ms out.
#[derive(Debug)]
pub struct G711Encoder {
    law: G711Law,
    queue: SampleQueue<i16>,
}

impl G711Encoder {
    /// An encoder for `law`.
    pub fn new(law: G711Law) -> G711Encoder {
        G711Encoder {
            law,
            queue: SampleQueue::new(),
        }
    }
}

impl AudioEncoder for G711Encoder {
    fn encode(
        &mut self,
        frame: &AudioFrame,
        out: &mut Vec<EncodedFrame>,
    ) -> Result<(), CodecError> {
        if frame.sample_rate() != SAMPLE_RATE || frame.channels() != 1 {
            return Err(CodecError::AudioFormatMismatch {
                sample_rate: SAMPLE_RATE,
                channels: 1,
                actual_rate: frame.sample_rate(),
                actual_channels: frame.channels(),
            });
        }
        let converted;
        let samples = match frame.s16() {
            Some(s) => s,
            None => {
                converted = frame.to_s16(None);
                converted.s16().unwrap_or_default()
            }
        };
        self.queue
            .push(samples, frame.time_base.rescale(frame.pts, TIME_BASE));
        let law = self.law;
        self.queue.drain(FRAME_SAMPLES, 1, |chunk, pts| {
            out.push(EncodedFrame {
                data: chunk.iter().map(|&s| law.encode(s)).collect(),
                pts,
                time_base: TIME_BASE,
                key_frame: true,
            });
            Ok::<(), CodecError>(())
        })
    }

    fn set_bitrate(&mut self, _bitrate_bps: u32) -> Result<(), CodecError> {
        Ok(())
    }

    fn settings(&self) -> AudioEncoderSettings {
        AudioEncoderSettings {
            codec: self.law.codec(),
            sample_rate: SAMPLE_RATE,
            channels: 1,
            bitrate_bps: 64_000,
            frame_samples: FRAME_SAMPLES,
        }
    }
}

/// A G.711 decoder: each byte is one 8 kHz sample.
#[derive(Debug)]
pub struct G711Decoder {
    law: G711Law,
    pool: BufferPool<i16>,
}

impl G711Decoder {
    /// A decoder for `law`.
    pub fn new(law: G711Law) -> G711Decoder {
        G711Decoder {
            law,
            pool: BufferPool::new(8),
        }
    }
}

impl AudioDecoder for G711Decoder {
    fn decode(&mut self, data: &[u8], pts: i64) -> Result<AudioFrame, CodecError> {
        let mut buf = self.pool.take(data.len());
        for (d, &c) in buf.iter_mut().zip(data) {
            *d = self.law.decode(c);
        }
        let mut frame = AudioFrame::from_s16_buffer(SAMPLE_RATE, 1, buf)?;
        frame.pts = pts;
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// G.711 Table 2 (μ-law): decoder output magnitudes in 14-bit units are
    /// `((2 * step + 33) << segment) - 33`; in 16-bit units, four times that.
    #[test]
    fn ulaw_matches_the_table() {
        for segment in 0..8u8 {
            for step in 0..16u8 {
                let expected = (((2 * i32::from(step) + 33) << segment) - 33) * 4;
                let positive = !((segment << 4) | step);
                assert_eq!(
                    i32::from(ulaw_decode(positive)),
                    expected,
                    "{segment}/{step}"
                );
                assert_eq!(i32::from(ulaw_decode(positive & 0x7F)), -expected);
            }
        }
        // Known points: the extremes and both zeros.
        assert_eq!(ulaw_decode(0x80), 32_124);
        assert_eq!(ulaw_decode(0x00), -32_124);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_encode(-1), 0x7F);
        // At an exact decision level, negative inputs round towards zero (G.191's
        // ones' complement): -4 is the level between 0 and -8.
        assert_eq!(ulaw_encode(-4), 0x7F);
        assert_eq!(ulaw_encode(4), 0xFE);
        assert_eq!(ulaw_encode(-5), 0x7E);
    }

    /// G.711 Table 1 (A-law): magnitudes in 13-bit units are `2 * step + 1` in segment 0 and
    /// `(2 * step + 33) << (segment - 1)` above it; in 16-bit units, eight times that.
    #[test]
    fn alaw_matches_the_table() {
        for segment in 0..8u8 {
            for step in 0..16u8 {
                let s = i32::from(step);
                let expected = 8 * if segment == 0 {
                    2 * s + 1
                } else {
                    (2 * s + 33) << (segment - 1)
                };
                let positive = ((segment << 4) | step | 0x80) ^ 0x55;
                assert_eq!(
                    i32::from(alaw_decode(positive)),
                    expected,
                    "{segment}/{step}"
                );
                assert_eq!(i32::from(alaw_decode(positive & 0x7F)), -expected);
            }
        }
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32_256);
        assert_eq!(alaw_decode(0x2A), -32_256);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }

    /// A second, differently shaped statement of the same quantisers, as the ITU-T G.191
    /// reference phrases them (14- and 12-bit magnitudes, segment found by shifting), checked
    /// against ours for every 16-bit input.
    #[test]
    fn matches_the_g191_formulation_for_every_input() {
        fn ulaw(x: i16) -> u8 {
            let x = i32::from(x);
            let absno = (if x < 0 { !x >> 2 } else { x >> 2 } + 33).min(0x1FFF);
            let mut segno = 1;
            let mut i = absno >> 6;
            while i != 0 {
                segno += 1;
                i >>= 1;
            }
            let y = ((8 - segno) << 4) | (0x0F - ((absno >> segno) & 0x0F));
            (if x >= 0 { y | 0x80 } else { y }) as u8
        }
        fn alaw(x: i16) -> u8 {
            let x = i32::from(x);
            let mut ix = if x < 0 { !x >> 4 } else { x >> 4 };
            if ix > 15 {
                let mut iexp = 1;
                while ix > 16 + 15 {
                    ix >>= 1;
                    iexp += 1;
                }
                ix = ix - 16 + (iexp << 4);
            }
            if x >= 0 {
                ix |= 0x80;
            }
            (ix ^ 0x55) as u8
        }
        for x in i16::MIN..=i16::MAX {
            assert_eq!(ulaw_encode(x), ulaw(x), "μ-law {x}");
            assert_eq!(alaw_encode(x), alaw(x), "A-law {x}");
        }
    }

    #[test]
    fn every_code_survives_a_round_trip() {
        for code in 0..=255u8 {
            // μ-law's negative zero (0x7F) re-encodes as positive zero.
            let expected = if code == 0x7F { 0xFF } else { code };
            assert_eq!(ulaw_encode(ulaw_decode(code)), expected, "μ {code:#04x}");
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A {code:#04x}");
        }
    }

    #[test]
    fn quantisation_error_is_within_half_a_step() {
        for law in [G711Law::MuLaw, G711Law::ALaw] {
            for x in (i16::MIN..=i16::MAX).step_by(7) {
                let y = law.decode(law.encode(x));
                // Each segment's step is at most 1/16 of the magnitudes it covers (plus the
                // first segment's fixed step), so the error is at most half of that; above
                // the largest level (32124 for μ-law, 32256 for A-law) samples clip.
                let err = (i32::from(x) - i32::from(y)).abs();
                let bound = if x.unsigned_abs() > 32_000 {
                    1_024
                } else {
                    i32::from(x).abs() / 32 + 16
                };
                assert!(err <= bound, "{law:?} {x} -> {y}");
                assert!(
                    i32::from(x.signum()) * i32::from(y.signum()) >= 0,
                    "{law:?} sign of {x}"
                );
            }
        }
    }

    #[test]
    fn encoder_packets_20ms_and_keeps_timestamps() {
        let mut enc = G711Encoder::new(G711Law::MuLaw);
        let mut out = Vec::new();
        let mut frame = AudioFrame::from_s16(8_000, 1, vec![1000; 100]).unwrap();
        frame.pts = 800;
        enc.encode(&frame, &mut out).unwrap();
        assert!(out.is_empty());
        frame.pts = 900;
        enc.encode(&frame, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].data.len(), out[0].pts), (160, 800));
        let mut dec = G711Decoder::new(G711Law::MuLaw);
        let back = dec.decode(&out[0].data, out[0].pts).unwrap();
        assert!(back.s16().unwrap().iter().all(|&s| (s - 1000).abs() <= 32));
        assert!(matches!(
            enc.encode(
                &AudioFrame::from_s16(16_000, 1, vec![0; 10]).unwrap(),
                &mut out
            ),
            Err(CodecError::AudioFormatMismatch { .. })
        ));
        assert_eq!(enc.settings().codec, Codec::Pcmu);
    }
}
