//! Audio frames: interleaved 16-bit integer or 32-bit float samples.

use std::fmt;
use std::sync::Arc;

use crate::error::FrameError;
use crate::pool::{BufferPool, PooledBuffer};
use crate::time::TimeBase;

/// How samples are stored. Both are interleaved (`L R L R ...` for stereo), PyAV's `s16` and
/// `flt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleFormat {
    /// Signed 16-bit integers.
    S16,
    /// 32-bit floats in `[-1.0, 1.0]`.
    F32,
}

#[derive(Clone)]
enum Samples {
    S16(Arc<PooledBuffer<i16>>),
    F32(Arc<PooledBuffer<f32>>),
}

/// A raw audio frame: interleaved samples, the rate and channel count, and a presentation
/// timestamp (`pts` counted in `time_base`, `1/sample_rate` unless set otherwise), as in PyAV's
/// `AudioFrame`. Clones share the samples; writing copies first only if shared.
///
/// ```
/// use ferrtc_media::AudioFrame;
///
/// let frame = AudioFrame::from_s16(48_000, 2, vec![0i16; 960 * 2])?;
/// assert_eq!(frame.samples(), 960);
/// assert_eq!(frame.duration_seconds(), 0.02);
/// # Ok::<(), ferrtc_media::FrameError>(())
/// ```
#[derive(Clone)]
pub struct AudioFrame {
    sample_rate: u32,
    channels: u16,
    samples: Samples,
    /// Presentation timestamp, in `time_base` units.
    pub pts: i64,
    /// The unit of `pts`.
    pub time_base: TimeBase,
}

impl fmt::Debug for AudioFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AudioFrame")
            .field("format", &self.format())
            .field("sample_rate", &self.sample_rate)
            .field("channels", &self.channels)
            .field("samples", &self.samples())
            .field("pts", &self.pts)
            .field("time_base", &self.time_base)
            .finish()
    }
}

fn check(sample_rate: u32, channels: u16, len: usize) -> Result<TimeBase, FrameError> {
    let Some(time_base) = TimeBase::per_sample(sample_rate).filter(|_| channels > 0) else {
        return Err(FrameError::InvalidAudioFormat {
            sample_rate,
            channels,
        });
    };
    if len % usize::from(channels) != 0 {
        return Err(FrameError::PartialSampleFrame { len, channels });
    }
    Ok(time_base)
}

impl AudioFrame {
    /// A frame over interleaved 16-bit samples (the vector is kept, not copied).
    pub fn from_s16(
        sample_rate: u32,
        channels: u16,
        data: Vec<i16>,
    ) -> Result<AudioFrame, FrameError> {
        Self::from_s16_buffer(sample_rate, channels, PooledBuffer::unpooled(data))
    }

    /// A frame over interleaved float samples (the vector is kept, not copied).
    pub fn from_f32(
        sample_rate: u32,
        channels: u16,
        data: Vec<f32>,
    ) -> Result<AudioFrame, FrameError> {
        Self::from_f32_buffer(sample_rate, channels, PooledBuffer::unpooled(data))
    }

    /// A frame over a pooled buffer of interleaved 16-bit samples.
    pub fn from_s16_buffer(
        sample_rate: u32,
        channels: u16,
        data: PooledBuffer<i16>,
    ) -> Result<AudioFrame, FrameError> {
        let time_base = check(sample_rate, channels, data.len())?;
        Ok(AudioFrame {
            sample_rate,
            channels,
            samples: Samples::S16(Arc::new(data)),
            pts: 0,
            time_base,
        })
    }

    /// A frame over a pooled buffer of interleaved float samples.
    pub fn from_f32_buffer(
        sample_rate: u32,
        channels: u16,
        data: PooledBuffer<f32>,
    ) -> Result<AudioFrame, FrameError> {
        let time_base = check(sample_rate, channels, data.len())?;
        Ok(AudioFrame {
            sample_rate,
            channels,
            samples: Samples::F32(Arc::new(data)),
            pts: 0,
            time_base,
        })
    }

    /// A silent 16-bit frame of `samples` samples per channel, its buffer from `pool`.
    pub fn silence_in(
        pool: &BufferPool<i16>,
        sample_rate: u32,
        channels: u16,
        samples: usize,
    ) -> Result<AudioFrame, FrameError> {
        let mut buf = pool.take(samples * usize::from(channels));
        buf.fill(0);
        Self::from_s16_buffer(sample_rate, channels, buf)
    }

    /// The sample format.
    pub fn format(&self) -> SampleFormat {
        match self.samples {
            Samples::S16(_) => SampleFormat::S16,
            Samples::F32(_) => SampleFormat::F32,
        }
    }

    /// Samples per second (per channel).
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The number of channels.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Samples per channel.
    pub fn samples(&self) -> usize {
        let len = match &self.samples {
            Samples::S16(d) => d.len(),
            Samples::F32(d) => d.len(),
        };
        len / usize::from(self.channels)
    }

    /// The frame's length in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.samples() as f64 / f64::from(self.sample_rate)
    }

    /// `pts` in seconds.
    pub fn time(&self) -> f64 {
        self.time_base.seconds(self.pts)
    }

    /// The interleaved samples, if they are 16-bit.
    pub fn s16(&self) -> Option<&[i16]> {
        match &self.samples {
            Samples::S16(d) => Some(d),
            Samples::F32(_) => None,
        }
    }

    /// The interleaved samples, if they are floats.
    pub fn f32(&self) -> Option<&[f32]> {
        match &self.samples {
            Samples::F32(d) => Some(d),
            Samples::S16(_) => None,
        }
    }

    /// The 16-bit samples, writable (copied first if a clone shares them).
    pub fn s16_mut(&mut self) -> Option<&mut [i16]> {
        match &mut self.samples {
            Samples::S16(d) => Some(&mut Arc::make_mut(d)[..]),
            Samples::F32(_) => None,
        }
    }

    /// The float samples, writable (copied first if a clone shares them).
    pub fn f32_mut(&mut self) -> Option<&mut [f32]> {
        match &mut self.samples {
            Samples::F32(d) => Some(&mut Arc::make_mut(d)[..]),
            Samples::S16(_) => None,
        }
    }

    /// The same audio as 16-bit samples: a cheap clone when it already is; otherwise floats
    /// are scaled by 32768, rounded and clamped.
    pub fn to_s16(&self, pool: Option<&BufferPool<i16>>) -> AudioFrame {
        let Samples::F32(src) = &self.samples else {
            return self.clone();
        };
        let mut buf = take_or_alloc(pool, src.len());
        for (d, &s) in buf.iter_mut().zip(src.iter()) {
            *d = (s * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16;
        }
        AudioFrame {
            samples: Samples::S16(Arc::new(buf)),
            ..self.clone()
        }
    }

    /// The same audio as floats (16-bit samples divided by 32768); a cheap clone when it
    /// already is.
    pub fn to_f32(&self, pool: Option<&BufferPool<f32>>) -> AudioFrame {
        let Samples::S16(src) = &self.samples else {
            return self.clone();
        };
        let mut buf = take_or_alloc(pool, src.len());
        for (d, &s) in buf.iter_mut().zip(src.iter()) {
            *d = f32::from(s) / 32_768.0;
        }
        AudioFrame {
            samples: Samples::F32(Arc::new(buf)),
            ..self.clone()
        }
    }
}

fn take_or_alloc<T: Copy + Default>(pool: Option<&BufferPool<T>>, len: usize) -> PooledBuffer<T> {
    match pool {
        Some(p) => p.take(len),
        None => PooledBuffer::unpooled(vec![T::default(); len]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_checks() {
        let f = AudioFrame::from_s16(8_000, 1, vec![1, 2, 3]).unwrap();
        assert_eq!(
            (f.samples(), f.channels(), f.format()),
            (3, 1, SampleFormat::S16)
        );
        assert_eq!(f.time_base, TimeBase::per_sample(8_000).unwrap());
        assert!(matches!(
            AudioFrame::from_s16(8_000, 2, vec![1, 2, 3]),
            Err(FrameError::PartialSampleFrame {
                len: 3,
                channels: 2
            })
        ));
        assert!(matches!(
            AudioFrame::from_f32(0, 2, vec![]),
            Err(FrameError::InvalidAudioFormat { .. })
        ));
    }

    #[test]
    fn s16_f32_round_trip_is_exact() {
        let data: Vec<i16> = vec![i16::MIN, -1, 0, 1, 12_345, i16::MAX];
        let f = AudioFrame::from_s16(48_000, 2, data.clone()).unwrap();
        let fl = f.to_f32(None);
        assert_eq!(fl.f32().unwrap()[0], -1.0);
        let back = fl.to_s16(None);
        assert_eq!(back.s16().unwrap(), &data[..]);
        // Out-of-range floats clamp.
        let loud = AudioFrame::from_f32(48_000, 1, vec![2.0, -2.0])
            .unwrap()
            .to_s16(None);
        assert_eq!(loud.s16().unwrap(), &[i16::MAX, i16::MIN]);
    }

    #[test]
    fn pooled_silence_reuses_and_clones_copy_on_write() {
        let pool = BufferPool::new(2);
        for _ in 0..5 {
            let mut f = AudioFrame::silence_in(&pool, 48_000, 2, 960).unwrap();
            assert!(f.s16().unwrap().iter().all(|&s| s == 0));
            f.s16_mut().unwrap()[0] = 7; // dirty it: the next take must be silent again
        }
        assert_eq!(pool.stats().allocations, 1);
        let mut a = AudioFrame::from_s16(48_000, 1, vec![5; 4]).unwrap();
        let b = a.clone();
        a.s16_mut().unwrap()[0] = 6;
        assert_eq!(b.s16().unwrap()[0], 5);
    }
}
