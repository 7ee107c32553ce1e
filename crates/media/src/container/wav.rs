//! RIFF WAVE: `RIFF` size `WAVE`, then chunks; `fmt ` says the format, `data` holds the
//! interleaved samples (little-endian).

use std::io::{Read, Seek, SeekFrom, Write};

use super::{ContainerError, ContainerKind, read_exact_or_eof};
use crate::frame::AudioFrame;
use crate::pool::BufferPool;
use crate::time::TimeBase;

const KIND: ContainerKind = ContainerKind::Wav;
/// WAVE_FORMAT_PCM and WAVE_FORMAT_IEEE_FLOAT.
const FORMAT_PCM: u16 = 0x0001;
const FORMAT_FLOAT: u16 = 0x0003;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    S16,
    F32,
}

/// Reads audio from a WAV stream: 16-bit PCM or 32-bit float, any rate and channel count.
#[derive(Debug)]
pub struct WavReader<R> {
    reader: R,
    sample_rate: u32,
    channels: u16,
    encoding: Encoding,
    /// Bytes of the data chunk not yet read.
    remaining: u64,
    /// Samples per channel read so far: the next frame's timestamp.
    position: i64,
    bytes: Vec<u8>,
}

impl<R: Read> WavReader<R> {
    /// Reads the header up to the start of the samples.
    pub fn new(mut reader: R) -> Result<WavReader<R>, ContainerError> {
        let mut riff = [0u8; 12];
        if !read_exact_or_eof(&mut reader, &mut riff, KIND)?
            || &riff[0..4] != b"RIFF"
            || &riff[8..12] != b"WAVE"
        {
            return Err(ContainerError::BadSignature(KIND));
        }
        let mut format = None;
        loop {
            let mut chunk = [0u8; 8];
            if !read_exact_or_eof(&mut reader, &mut chunk, KIND)? {
                return Err(ContainerError::MalformedHeader(KIND));
            }
            let len = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
            match &chunk[0..4] {
                b"fmt " => {
                    if !(16..=64).contains(&len) {
                        return Err(ContainerError::MalformedHeader(KIND));
                    }
                    let mut f = vec![0u8; len as usize];
                    if !read_exact_or_eof(&mut reader, &mut f, KIND)? {
                        return Err(ContainerError::Truncated(KIND));
                    }
                    let tag = u16::from_le_bytes([f[0], f[1]]);
                    let channels = u16::from_le_bytes([f[2], f[3]]);
                    let rate = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
                    let bits = u16::from_le_bytes([f[14], f[15]]);
                    let encoding = match (tag, bits) {
                        (FORMAT_PCM, 16) => Encoding::S16,
                        (FORMAT_FLOAT, 32) => Encoding::F32,
                        _ => return Err(ContainerError::Unsupported(KIND)),
                    };
                    // A frame of every channel's sample (the fmt chunk's block align) is a
                    // u16: more channels than that holds is no real file, and our writer could
                    // not write it back.
                    let sample_bytes = match encoding {
                        Encoding::S16 => 2,
                        Encoding::F32 => 4,
                    };
                    if channels == 0 || rate == 0 || u32::from(channels) * sample_bytes > 0xFFFF {
                        return Err(ContainerError::MalformedHeader(KIND));
                    }
                    format = Some((rate, channels, encoding));
                    if len % 2 == 1 {
                        read_exact_or_eof(&mut reader, &mut [0u8; 1], KIND)?;
                    }
                }
                b"data" => {
                    let Some((sample_rate, channels, encoding)) = format else {
                        return Err(ContainerError::MalformedHeader(KIND));
                    };
                    return Ok(WavReader {
                        reader,
                        sample_rate,
                        channels,
                        encoding,
                        remaining: len,
                        position: 0,
                        bytes: Vec::new(),
                    });
                }
                _ => {
                    // Skip other chunks (LIST, fact, ...), padded to even length.
                    let skip = len + (len % 2);
                    let copied =
                        std::io::copy(&mut reader.by_ref().take(skip), &mut std::io::sink())?;
                    if copied != skip {
                        return Err(ContainerError::Truncated(KIND));
                    }
                }
            }
        }
    }

    /// Samples per second.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Channel count.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// The next frame of up to `samples` samples per channel (16-bit, from a pool when one is
    /// given; float files are converted), stamped `1/sample_rate`; `None` at the end.
    pub fn read_frame(
        &mut self,
        samples: usize,
        pool: Option<&BufferPool<i16>>,
    ) -> Result<Option<AudioFrame>, ContainerError> {
        let width = match self.encoding {
            Encoding::S16 => 2,
            Encoding::F32 => 4,
        };
        let frame_bytes = width * usize::from(self.channels);
        let want = (samples * frame_bytes) as u64;
        let len = want.min(self.remaining - self.remaining % frame_bytes as u64) as usize;
        if len == 0 {
            return Ok(None);
        }
        self.bytes.resize(len, 0);
        if !read_exact_or_eof(&mut self.reader, &mut self.bytes, KIND)? {
            return Err(ContainerError::Truncated(KIND));
        }
        self.remaining -= len as u64;
        let count = len / width;
        let mut buf = match pool {
            Some(p) => p.take(count),
            None => crate::pool::PooledBuffer::unpooled(vec![0; count]),
        };
        match self.encoding {
            Encoding::S16 => {
                for (d, c) in buf.iter_mut().zip(self.bytes.chunks_exact(2)) {
                    *d = i16::from_le_bytes([c[0], c[1]]);
                }
            }
            Encoding::F32 => {
                for (d, c) in buf.iter_mut().zip(self.bytes.chunks_exact(4)) {
                    let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    *d = (x * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16;
                }
            }
        }
        let mut frame = AudioFrame::from_s16_buffer(self.sample_rate, self.channels, buf)
            .map_err(|_| ContainerError::MalformedHeader(KIND))?;
        frame.pts = self.position;
        frame.time_base = TimeBase::per_sample(self.sample_rate).unwrap_or(frame.time_base);
        self.position += (count / usize::from(self.channels)) as i64;
        Ok(Some(frame))
    }
}

/// Writes 16-bit PCM to a WAV stream; [`WavWriter::finish`] fills in the sizes.
#[derive(Debug)]
pub struct WavWriter<W> {
    writer: W,
    sample_rate: u32,
    channels: u16,
    data_bytes: u64,
}

impl<W: Write + Seek> WavWriter<W> {
    /// Writes the header for 16-bit PCM at `sample_rate` with `channels`.
    pub fn new(
        mut writer: W,
        sample_rate: u32,
        channels: u16,
    ) -> Result<WavWriter<W>, ContainerError> {
        let Some(block_align) = channels
            .checked_mul(2)
            .filter(|_| channels > 0 && sample_rate > 0)
        else {
            return Err(ContainerError::Unsupported(KIND));
        };
        let mut h = Vec::with_capacity(44);
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&0u32.to_le_bytes()); // filled in by finish
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&FORMAT_PCM.to_le_bytes());
        h.extend_from_slice(&channels.to_le_bytes());
        h.extend_from_slice(&sample_rate.to_le_bytes());
        h.extend_from_slice(
            &sample_rate
                .saturating_mul(u32::from(block_align))
                .to_le_bytes(),
        );
        h.extend_from_slice(&block_align.to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&0u32.to_le_bytes()); // filled in by finish
        writer.write_all(&h)?;
        Ok(WavWriter {
            writer,
            sample_rate,
            channels,
            data_bytes: 0,
        })
    }

    /// Appends a frame's samples (converted to 16-bit if they are floats).
    pub fn write_frame(&mut self, frame: &AudioFrame) -> Result<(), ContainerError> {
        if frame.sample_rate() != self.sample_rate || frame.channels() != self.channels {
            return Err(ContainerError::FrameMismatch(KIND));
        }
        let converted;
        let samples = match frame.s16() {
            Some(s) => s,
            None => {
                converted = frame.to_s16(None);
                converted.s16().unwrap_or_default()
            }
        };
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        self.writer.write_all(&bytes)?;
        self.data_bytes += bytes.len() as u64;
        Ok(())
    }

    /// Writes the RIFF and data sizes into the header, flushes, and returns the writer.
    pub fn finish(mut self) -> Result<W, ContainerError> {
        let too_large = ContainerError::FrameTooLarge(KIND, self.data_bytes);
        let data = u32::try_from(self.data_bytes)
            .ok()
            .filter(|d| d.checked_add(36).is_some())
            .ok_or(too_large)?;
        let end = self.writer.stream_position()?;
        self.writer.seek(SeekFrom::Start(4))?;
        self.writer.write_all(&(data + 36).to_le_bytes())?;
        self.writer.seek(SeekFrom::Start(40))?;
        self.writer.write_all(&data.to_le_bytes())?;
        self.writer.seek(SeekFrom::Start(end))?;
        self.writer.flush()?;
        Ok(self.writer)
    }
}
