//! Opus (RFC 6716) through libopus, via the `opus2` crate.

use opus2::{Application, Bitrate, Channels};

use super::{AudioDecoder, AudioEncoder, AudioEncoderSettings, Codec, EncodedFrame, SampleQueue};
use crate::error::{CodecError, ConfigProblem};
use crate::frame::AudioFrame;
use crate::pool::BufferPool;
use crate::time::TimeBase;

/// The RTP clock of Opus, whatever the rate coded (RFC 7587 §4.1).
const RTP_CLOCK: u32 = 48_000;
/// `1/48000`, the unit of packet timestamps.
const RTP_TIME_BASE: TimeBase = match TimeBase::per_sample(RTP_CLOCK) {
    Some(t) => t,
    None => panic!("the Opus clock is not zero"),
};
/// libopus's advice for the largest packet buffer.
const MAX_PACKET: usize = 4_000;
/// The longest Opus packet: 120 ms at 48 kHz, per channel.
const MAX_FRAME_SAMPLES: usize = 5_760;
/// The bitrates libopus takes (opus_encoder_ctl, OPUS_SET_BITRATE).
const BITRATES: std::ops::RangeInclusive<u32> = 500..=512_000;

fn channels(n: u16) -> Result<Channels, CodecError> {
    match n {
        1 => Ok(Channels::Mono),
        2 => Ok(Channels::Stereo),
        _ => Err(CodecError::InvalidConfig(ConfigProblem::Channels)),
    }
}

fn check_rate(sample_rate: u32) -> Result<(), CodecError> {
    match sample_rate {
        8_000 | 12_000 | 16_000 | 24_000 | 48_000 => Ok(()),
        _ => Err(CodecError::InvalidConfig(ConfigProblem::SampleRate)),
    }
}

/// An Opus encoder: 20 ms packets, VoIP application (as aiortc), libopus's default variable
/// bitrate around the target.
pub struct OpusEncoder {
    inner: opus2::Encoder,
    settings: AudioEncoderSettings,
    queue: SampleQueue<i16>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl OpusEncoder {
    /// An encoder for `channels` (1 or 2) at `sample_rate` (8, 12, 16, 24 or 48 kHz).
    pub fn new(
        sample_rate: u32,
        channel_count: u16,
        bitrate_bps: u32,
    ) -> Result<OpusEncoder, CodecError> {
        check_rate(sample_rate)?;
        let mut inner =
            opus2::Encoder::new(sample_rate, channels(channel_count)?, Application::Voip)
                .map_err(CodecError::Opus)?;
        if !BITRATES.contains(&bitrate_bps) {
            return Err(CodecError::InvalidConfig(ConfigProblem::Bitrate));
        }
        inner
            .set_bitrate(Bitrate::Bits(bitrate_bps as i32))
            .map_err(CodecError::Opus)?;
        Ok(OpusEncoder {
            inner,
            settings: AudioEncoderSettings {
                codec: Codec::Opus,
                sample_rate,
                channels: channel_count,
                bitrate_bps,
                frame_samples: sample_rate as usize / 50,
            },
            queue: SampleQueue::new(),
            scratch: vec![0; MAX_PACKET],
        })
    }
}

impl AudioEncoder for OpusEncoder {
    fn encode(
        &mut self,
        frame: &AudioFrame,
        out: &mut Vec<EncodedFrame>,
    ) -> Result<(), CodecError> {
        let s = &self.settings;
        if frame.sample_rate() != s.sample_rate || frame.channels() != s.channels {
            return Err(CodecError::AudioFormatMismatch {
                sample_rate: s.sample_rate,
                channels: s.channels,
                actual_rate: frame.sample_rate(),
                actual_channels: frame.channels(),
            });
        }
        // The rate was checked non-zero when the encoder was made.
        let input_clock = TimeBase::per_sample(s.sample_rate).unwrap_or(RTP_TIME_BASE);
        let pts = frame.time_base.rescale(frame.pts, input_clock);
        let converted;
        let samples = match frame.s16() {
            Some(samples) => samples,
            None => {
                converted = frame.to_s16(None);
                converted.s16().unwrap_or_default()
            }
        };
        self.queue.push(samples, pts);
        let (len, channels) = (
            s.frame_samples * usize::from(s.channels),
            usize::from(s.channels),
        );
        let rate = s.sample_rate;
        let (inner, scratch) = (&mut self.inner, &mut self.scratch);
        self.queue.drain(len, channels, |chunk, pts| {
            let n = inner.encode(chunk, scratch).map_err(CodecError::Opus)?;
            out.push(EncodedFrame {
                data: scratch[..n].to_vec(),
                pts: pts * i64::from(RTP_CLOCK / rate),
                time_base: RTP_TIME_BASE,
                key_frame: true,
            });
            Ok(())
        })
    }

    fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), CodecError> {
        if !BITRATES.contains(&bitrate_bps) {
            return Err(CodecError::InvalidConfig(ConfigProblem::Bitrate));
        }
        self.inner
            .set_bitrate(Bitrate::Bits(bitrate_bps as i32))
            .map_err(CodecError::Opus)?;
        self.settings.bitrate_bps = bitrate_bps;
        Ok(())
    }

    fn settings(&self) -> AudioEncoderSettings {
        self.settings
    }
}

/// An Opus decoder giving 16-bit frames at the rate and channel count it was made for. An
/// empty packet stands for a lost one: libopus conceals it.
pub struct OpusDecoder {
    inner: opus2::Decoder,
    sample_rate: u32,
    channels: u16,
    /// Samples per channel of the last packet: what a lost packet is concealed with.
    last_samples: usize,
    pool: BufferPool<i16>,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("sample_rate", &self.sample_rate)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl OpusDecoder {
    /// A decoder producing `channels` (1 or 2) at `sample_rate` (8, 12, 16, 24 or 48 kHz).
    pub fn new(sample_rate: u32, channel_count: u16) -> Result<OpusDecoder, CodecError> {
        check_rate(sample_rate)?;
        let inner =
            opus2::Decoder::new(sample_rate, channels(channel_count)?).map_err(CodecError::Opus)?;
        Ok(OpusDecoder {
            inner,
            sample_rate,
            channels: channel_count,
            last_samples: sample_rate as usize / 50,
            pool: BufferPool::new(8),
        })
    }
}

impl AudioDecoder for OpusDecoder {
    fn decode(&mut self, data: &[u8], pts: i64) -> Result<AudioFrame, CodecError> {
        // libopus conceals a lost packet (no data) with as many samples as the buffer holds:
        // give it the last packet's duration. A real packet may be up to 120 ms.
        let per_channel = if data.is_empty() {
            self.last_samples
        } else {
            MAX_FRAME_SAMPLES * self.sample_rate as usize / 48_000
        };
        let mut buf = self.pool.take(per_channel * usize::from(self.channels));
        let n = self
            .inner
            .decode(data, &mut buf, false)
            .map_err(CodecError::Opus)?;
        if !data.is_empty() {
            self.last_samples = n;
        }
        buf.truncate(n * usize::from(self.channels));
        let mut frame = AudioFrame::from_s16_buffer(self.sample_rate, self.channels, buf)?;
        frame.pts = pts;
        frame.time_base = RTP_TIME_BASE;
        Ok(frame)
    }
}
