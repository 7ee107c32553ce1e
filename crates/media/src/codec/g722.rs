//! G.722 (ITU-T G.722, 09/2012): 7 kHz wideband audio by sub-band ADPCM, at 64 kbit/s (mode 1),
//! written from the recommendation's block descriptions and tables.
//!
//! A quadrature mirror filter splits 16 kHz input into a low band (0-4 kHz) and a high band
//! (4-8 kHz), each sampled at 8 kHz. The low band is coded with 6 bits per sample, the high
//! band with 2: one byte per pair of input samples. Each band has an adaptive quantiser whose
//! scale follows a log-domain step (blocks 3L/3H) and an adaptive predictor with two poles and
//! six zeros (block 4). The decoder runs the same blocks, so both ends track the same state
//! without side information.
//!
//! Samples are 16-bit at both ends (the recommendation's 14-bit uniform PCM, scaled).

use super::{AudioDecoder, AudioEncoder, AudioEncoderSettings, Codec, EncodedFrame, SampleQueue};
use crate::error::CodecError;
use crate::frame::AudioFrame;
use crate::pool::BufferPool;
use crate::time::TimeBase;

/// G.722's input and output sample rate.
const SAMPLE_RATE: u32 = 16_000;
/// 20 ms at 16 kHz.
const FRAME_SAMPLES: usize = 320;
/// The RTP clock: 8000 Hz, half the sample rate (RFC 3551 §4.5.2).
const RTP_TIME_BASE: TimeBase = match TimeBase::per_sample(8_000) {
    Some(t) => t,
    None => panic!("8000 is not zero"),
};
const INPUT_TIME_BASE: TimeBase = match TimeBase::per_sample(SAMPLE_RATE) {
    Some(t) => t,
    None => panic!("16000 is not zero"),
};

/// QMF coefficients h(0), h(2), ..., h(22) (Table 1, scaled by 2^13); the odd ones are these
/// in reverse order, h(2i + 1) = h(22 - 2i).
const QMF_EVEN: [i32; 12] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];

/// Low-band quantiser decision levels (Table 9, before scaling by the scale factor).
const Q6: [i32; 31] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0,
];
/// Low-band 6-bit code for interval `i` of a negative difference.
const ILN: [i32; 31] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4,
];
/// Low-band 6-bit code for interval `i` of a positive difference.
const ILP: [i32; 31] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32,
];
/// Low-band inverse quantiser, 6 bits (Table 10): what the decoder outputs in mode 1.
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];
/// Low-band inverse quantiser, 4 bits (the code's top four bits): what the predictor uses, in
/// every mode, so that dropped low bits do not desynchronise the decoder.
const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];
/// Magnitude class of a 4-bit low-band code, for the scale factor step.
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
/// Low-band log scale factor steps (Table 11).
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
/// 2048 * 2^(i/32): the inverse log table of blocks 3L and 3H (Table 14).
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];
/// High-band decision level (block 1H).
const Q2: i32 = 564;
/// High-band 2-bit codes by (interval, sign): negative, positive.
const IHN: [i32; 3] = [0, 1, 0];
const IHP: [i32; 3] = [0, 3, 2];
/// High-band inverse quantiser (Table 12).
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];
/// Magnitude class of a high-band code, and its log scale factor step (Table 13).
const RH2: [usize; 4] = [2, 1, 2, 1];
const WH: [i32; 3] = [0, -214, 798];

fn sat16(x: i32) -> i32 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX))
}

/// 0 for a non-negative 16-bit value, -1 for a negative one (the sign the blocks compare).
fn sign(x: i32) -> i32 {
    if x < 0 { -1 } else { 0 }
}

/// One band's adaptive state: scale factor (blocks 3L/3H) and predictor (block 4).
#[derive(Debug, Clone)]
struct Band {
    /// Predictor output: the estimate of the next sample.
    s: i32,
    /// Zero-section output.
    sz: i32,
    /// Log scale factor (NBL/NBH) and scale factor (DETL/DETH).
    nb: i32,
    det: i32,
    /// Reconstructed signal, its partial (zero-section) reconstruction, and quantised
    /// differences: index 0 is the current sample, higher indices older ones.
    r: [i32; 3],
    p: [i32; 3],
    d: [i32; 7],
    /// Pole (a1, a2) and zero (b1..b6) coefficients; index 0 unused.
    a: [i32; 3],
    b: [i32; 7],
}

impl Band {
    fn new(det: i32) -> Band {
        Band {
            s: 0,
            sz: 0,
            nb: 0,
            det,
            r: [0; 3],
            p: [0; 3],
            d: [0; 7],
            a: [0; 3],
            b: [0; 7],
        }
    }

    /// Blocks 3L/3H: adapts the scale factor. `step` is the log-domain step for the code
    /// just sent, `max` the log scale factor's ceiling, `shift` the scale's exponent offset.
    fn adapt_scale(&mut self, step: i32, max: i32, shift: i32) {
        // LOGSCL: leak the log scale factor by 127/128, add the step, limit.
        self.nb = (((self.nb * 127) >> 7) + step).clamp(0, max);
        // SCALEL/SCALEH: back to the linear domain through the 32-entry table.
        let mantissa = ILB[((self.nb >> 6) & 31) as usize];
        let exponent = shift - (self.nb >> 11);
        let linear = if exponent < 0 {
            mantissa << -exponent
        } else {
            mantissa >> exponent
        };
        self.det = linear << 2;
    }

    /// Block 4: adds the quantised difference `d` to the estimate, adapts the predictor and
    /// computes the next estimate.
    fn predict(&mut self, d: i32) {
        // RECONS and PARREC.
        self.d[0] = d;
        self.r[0] = sat16(self.s + d);
        self.p[0] = sat16(self.sz + d);

        // UPPOL2: second pole coefficient.
        let sg = [sign(self.p[0]), sign(self.p[1]), sign(self.p[2])];
        let a1x4 = sat16(self.a[1] << 2);
        let wd2 = if sg[0] == sg[1] { -a1x4 } else { a1x4 }.min(32_767);
        let wd3 =
            (wd2 >> 7) + if sg[0] == sg[2] { 128 } else { -128 } + ((self.a[2] * 32_512) >> 15);
        let a2 = wd3.clamp(-12_288, 12_288);

        // UPPOL1: first pole coefficient, kept inside the stability triangle.
        let wd1 = if sg[0] == sg[1] { 192 } else { -192 };
        let limit = sat16(15_360 - a2);
        let a1 = sat16(wd1 + ((self.a[1] * 32_640) >> 15)).clamp(-limit, limit);

        // UPZERO: zero coefficients, by sign agreement with past differences.
        let step = if d == 0 { 0 } else { 128 };
        let sg0 = sign(d);
        let mut b = [0i32; 7];
        for ((new, &old), &past) in b.iter_mut().zip(&self.b).zip(&self.d).skip(1) {
            let towards = if sign(past) == sg0 { step } else { -step };
            *new = sat16(towards + ((old * 32_640) >> 15));
        }

        // DELAYA: age the histories, take the new coefficients.
        for i in (1..7).rev() {
            self.d[i] = self.d[i - 1];
        }
        self.b = b;
        for i in (1..3).rev() {
            self.r[i] = self.r[i - 1];
            self.p[i] = self.p[i - 1];
        }
        self.a = [0, a1, a2];

        // FILTEP: pole section.
        let pole = |a: i32, r: i32| (a * sat16(r + r)) >> 15;
        let sp = sat16(pole(self.a[1], self.r[1]) + pole(self.a[2], self.r[2]));
        // FILTEZ: zero section.
        let mut sz = 0;
        for i in (1..7).rev() {
            sz += (self.b[i] * sat16(self.d[i] + self.d[i])) >> 15;
        }
        self.sz = sat16(sz);
        // PREDIC.
        self.s = sat16(sp + self.sz);
    }
}

/// The state both ends share: the two bands and the QMF delay line.
#[derive(Debug, Clone)]
struct State {
    low: Band,
    high: Band,
    /// The last 24 QMF inputs (encoder) or sub-band sums (decoder), oldest first.
    qmf: [i32; 24],
}

impl State {
    fn new() -> State {
        // DETL and DETH start at their minimum (§6.2.1.2, reset state).
        State {
            low: Band::new(32),
            high: Band::new(8),
            qmf: [0; 24],
        }
    }

    /// Pushes two samples into the QMF delay line and returns the even and odd filter sums.
    fn qmf_push(&mut self, first: i32, second: i32) -> (i32, i32) {
        self.qmf.copy_within(2.., 0);
        self.qmf[22] = first;
        self.qmf[23] = second;
        let (mut even, mut odd) = (0, 0);
        for i in 0..12 {
            even += self.qmf[2 * i] * QMF_EVEN[i];
            odd += self.qmf[2 * i + 1] * QMF_EVEN[11 - i];
        }
        (even, odd)
    }

    /// Encodes two 16 kHz samples into one byte (high band in the top two bits).
    fn encode_pair(&mut self, first: i16, second: i16) -> u8 {
        // Transmit QMF: split into the 0-4 kHz and 4-8 kHz bands.
        let (odd, even) = self.qmf_push(i32::from(first), i32::from(second));
        let xlow = (even + odd) >> 14;
        let xhigh = (even - odd) >> 14;

        // Low band, block 1L: 6-bit quantisation of the prediction error.
        let low = &mut self.low;
        let el = sat16(xlow - low.s);
        let magnitude = if el >= 0 { el } else { -(el + 1) };
        let interval = (1..30)
            .find(|&i| magnitude < (Q6[i] * low.det) >> 12)
            .unwrap_or(30);
        let ilow = if el < 0 { ILN[interval] } else { ILP[interval] };
        // Block 2L, with only the top four bits (what the decoder's predictor sees).
        let ril = (ilow >> 2) as usize;
        let dlow = (low.det * QM4[ril]) >> 15;
        low.adapt_scale(WL[RL42[ril]], 18_432, 8);
        low.predict(dlow);

        // High band, block 1H: 2-bit quantisation.
        let high = &mut self.high;
        let eh = sat16(xhigh - high.s);
        let magnitude = if eh >= 0 { eh } else { -(eh + 1) };
        let interval = if magnitude >= (Q2 * high.det) >> 12 {
            2
        } else {
            1
        };
        let ihigh = if eh < 0 { IHN[interval] } else { IHP[interval] };
        let dhigh = (high.det * QM2[ihigh as usize]) >> 15;
        high.adapt_scale(WH[RH2[ihigh as usize]], 22_528, 10);
        high.predict(dhigh);

        ((ihigh << 6) | ilow) as u8
    }

    /// Decodes one byte into two 16 kHz samples.
    fn decode_byte(&mut self, code: u8) -> [i16; 2] {
        let ilow = usize::from(code & 0x3F);
        let ihigh = usize::from(code >> 6);

        // Low band: output through the 6-bit inverse quantiser, adapt through the 4-bit one.
        let low = &mut self.low;
        let rlow = (low.s + ((low.det * QM6[ilow]) >> 15)).clamp(-16_384, 16_383);
        let ril = ilow >> 2;
        let dlow = (low.det * QM4[ril]) >> 15;
        low.adapt_scale(WL[RL42[ril]], 18_432, 8);
        low.predict(dlow);

        // High band.
        let high = &mut self.high;
        let dhigh = (high.det * QM2[ihigh]) >> 15;
        let rhigh = (dhigh + high.s).clamp(-16_384, 16_383);
        high.adapt_scale(WH[RH2[ihigh]], 22_528, 10);
        high.predict(dhigh);

        // Receive QMF: recombine the bands at 16 kHz.
        let (second, first) = self.qmf_push(rlow + rhigh, rlow - rhigh);
        [sat16(first >> 11) as i16, sat16(second >> 11) as i16]
    }
}

/// A G.722 encoder at 64 kbit/s: 16 kHz mono in, one 160-byte packet per 20 ms out, stamped on
/// the 8 kHz RTP clock.
#[derive(Debug)]
pub struct G722Encoder {
    state: State,
    queue: SampleQueue<i16>,
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Encoder {
    /// An encoder in the reset state.
    pub fn new() -> G722Encoder {
        G722Encoder {
            state: State::new(),
            queue: SampleQueue::new(),
        }
    }

    /// Encodes 16 kHz samples (an even number of them) into `out`, one byte per pair; a
    /// trailing odd sample is ignored.
    pub fn encode_samples(&mut self, samples: &[i16], out: &mut Vec<u8>) {
        out.extend(
            samples
                .chunks_exact(2)
                .map(|p| self.state.encode_pair(p[0], p[1])),
        );
    }
}

impl AudioEncoder for G722Encoder {
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
            .push(samples, frame.time_base.rescale(frame.pts, INPUT_TIME_BASE));
        let state = &mut self.state;
        self.queue.drain(FRAME_SAMPLES, 1, |chunk, pts| {
            out.push(EncodedFrame {
                data: chunk
                    .chunks_exact(2)
                    .map(|p| state.encode_pair(p[0], p[1]))
                    .collect(),
                pts: pts / 2,
                time_base: RTP_TIME_BASE,
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
            codec: Codec::G722,
            sample_rate: SAMPLE_RATE,
            channels: 1,
            bitrate_bps: 64_000,
            frame_samples: FRAME_SAMPLES,
        }
    }
}

/// A G.722 decoder (mode 1, 64 kbit/s): each byte gives two 16 kHz samples.
#[derive(Debug)]
pub struct G722Decoder {
    state: State,
    pool: BufferPool<i16>,
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Decoder {
    /// A decoder in the reset state.
    pub fn new() -> G722Decoder {
        G722Decoder {
            state: State::new(),
            pool: BufferPool::new(8),
        }
    }

    /// Decodes `data` into 16 kHz samples appended to `out`.
    pub fn decode_samples(&mut self, data: &[u8], out: &mut Vec<i16>) {
        for &code in data {
            out.extend_from_slice(&self.state.decode_byte(code));
        }
    }
}

impl AudioDecoder for G722Decoder {
    fn decode(&mut self, data: &[u8], pts: i64) -> Result<AudioFrame, CodecError> {
        let mut buf = self.pool.take(data.len() * 2);
        for (pair, &code) in buf.chunks_exact_mut(2).zip(data) {
            pair.copy_from_slice(&self.state.decode_byte(code));
        }
        let mut frame = AudioFrame::from_s16_buffer(SAMPLE_RATE, 1, buf)?;
        frame.pts = pts;
        frame.time_base = RTP_TIME_BASE;
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        // ILB is 2048 * 2^(i/32), rounded.
        for (i, &v) in ILB.iter().enumerate() {
            assert_eq!(v, (2048.0 * 2f64.powf(i as f64 / 32.0)).round() as i32);
        }
        // The QMF has unity gain at DC: its coefficients sum to 2^13.
        assert_eq!(2 * QMF_EVEN.iter().sum::<i32>(), 1 << 13);
        // Each 6-bit output level sits midway between its two decision levels (times 8).
        for i in 1..29 {
            let mid = (Q6[i] + Q6[i + 1]) * 4;
            assert!((QM6[ILP[i + 1] as usize] - mid).abs() <= 4, "level {i}");
            assert_eq!(QM6[ILN[i + 1] as usize], -QM6[ILP[i + 1] as usize]);
        }
    }

    #[test]
    fn silence_stays_silent() {
        let mut enc = G722Encoder::new();
        let mut dec = G722Decoder::new();
        let mut bytes = Vec::new();
        enc.encode_samples(&[0; 320], &mut bytes);
        let mut out = Vec::new();
        dec.decode_samples(&bytes, &mut out);
        assert_eq!(out.len(), 320);
        assert!(out.iter().all(|s| s.abs() <= 4), "{out:?}");
    }
}
