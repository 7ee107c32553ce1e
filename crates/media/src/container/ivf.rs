//! IVF: the simple framing libvpx's tools use for VP8/VP9. A 32-byte header (`DKIF`, version 0,
//! header size, codec FourCC, size, time base, frame count), then per frame a 4-byte size and
//! an 8-byte timestamp, little-endian.

use std::io::{Read, Seek, SeekFrom, Write};

use super::{ContainerError, ContainerKind, read_exact_or_eof};
use crate::codec::{Codec, EncodedFrame};
use crate::time::TimeBase;

const KIND: ContainerKind = ContainerKind::Ivf;
const HEADER_LEN: usize = 32;
/// No compressed frame comes near this; a larger length is corruption.
const MAX_FRAME: u64 = 32 << 20;
/// What a frame buffer starts at before the data shows it needs more.
const INITIAL_FRAME_CAPACITY: usize = 256 << 10;

/// An IVF file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfHeader {
    /// VP8, VP9 or AV1.
    pub codec: Codec,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// The unit of frame timestamps.
    pub time_base: TimeBase,
    /// Frame count as written in the header (0 if the writer did not know it).
    pub frame_count: u32,
}

/// One compressed frame from an IVF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvfFrame {
    /// The frame's bitstream.
    pub data: Vec<u8>,
    /// Its timestamp, in the header's time base.
    pub pts: i64,
}

fn fourcc(codec: Codec) -> Option<&'static [u8; 4]> {
    match codec {
        Codec::Vp8 => Some(b"VP80"),
        Codec::Vp9 => Some(b"VP90"),
        Codec::Av1 => Some(b"AV01"),
        _ => None,
    }
}

/// Reads frames from an IVF stream.
#[derive(Debug)]
pub struct IvfReader<R> {
    reader: R,
    header: IvfHeader,
}

impl<R: Read> IvfReader<R> {
    /// Reads the file header.
    pub fn new(mut reader: R) -> Result<IvfReader<R>, ContainerError> {
        let mut h = [0u8; HEADER_LEN];
        if !read_exact_or_eof(&mut reader, &mut h, KIND)? || &h[0..4] != b"DKIF" {
            return Err(ContainerError::BadSignature(KIND));
        }
        let u16_at = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let header_len = usize::from(u16_at(6));
        if u16_at(4) != 0 || header_len < HEADER_LEN {
            return Err(ContainerError::MalformedHeader(KIND));
        }
        let codec = match &h[8..12] {
            b"VP80" => Codec::Vp8,
            b"VP90" => Codec::Vp9,
            b"AV01" => Codec::Av1,
            _ => return Err(ContainerError::Unsupported(KIND)),
        };
        // Offset 16 is the rate (time base denominator), 20 the scale (numerator).
        let time_base =
            TimeBase::new(u32_at(20), u32_at(16)).ok_or(ContainerError::MalformedHeader(KIND))?;
        // Skip any longer header.
        std::io::copy(
            &mut reader.by_ref().take((header_len - HEADER_LEN) as u64),
            &mut std::io::sink(),
        )?;
        let header = IvfHeader {
            codec,
            width: u16_at(12),
            height: u16_at(14),
            time_base,
            frame_count: u32_at(24),
        };
        Ok(IvfReader { reader, header })
    }

    /// The file header.
    pub fn header(&self) -> IvfHeader {
        self.header
    }

    /// The next frame; `None` at the end of the stream.
    pub fn read_frame(&mut self) -> Result<Option<IvfFrame>, ContainerError> {
        let mut h = [0u8; 12];
        if !read_exact_or_eof(&mut self.reader, &mut h, KIND)? {
            return Ok(None);
        }
        let len = u64::from(u32::from_le_bytes([h[0], h[1], h[2], h[3]]));
        if len > MAX_FRAME {
            return Err(ContainerError::FrameTooLarge(KIND, len));
        }
        let pts = i64::from_le_bytes([h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11]]);
        // Grows with the bytes really there: a corrupt length in a short file does not make
        // the reader allocate it.
        let mut data = Vec::with_capacity((len as usize).min(INITIAL_FRAME_CAPACITY));
        let n = (&mut self.reader).take(len).read_to_end(&mut data)?;
        if (n as u64) < len {
            return Err(ContainerError::Truncated(KIND));
        }
        Ok(Some(IvfFrame { data, pts }))
    }
}

/// Writes compressed VP8/VP9 frames to an IVF stream; [`IvfWriter::finish`] fills in the
/// frame count.
#[derive(Debug)]
pub struct IvfWriter<W> {
    writer: W,
    time_base: TimeBase,
    frames: u32,
}

impl<W: Write + Seek> IvfWriter<W> {
    /// Writes the header for a `codec` stream (VP8 or VP9) of `width` x `height`, timestamps
    /// in `time_base`.
    pub fn new(
        mut writer: W,
        codec: Codec,
        width: u16,
        height: u16,
        time_base: TimeBase,
    ) -> Result<IvfWriter<W>, ContainerError> {
        let fourcc = fourcc(codec).ok_or(ContainerError::Unsupported(KIND))?;
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(b"DKIF");
        h[6..8].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        h[8..12].copy_from_slice(fourcc);
        h[12..14].copy_from_slice(&width.to_le_bytes());
        h[14..16].copy_from_slice(&height.to_le_bytes());
        h[16..20].copy_from_slice(&time_base.den().to_le_bytes());
        h[20..24].copy_from_slice(&time_base.num().to_le_bytes());
        writer.write_all(&h)?;
        Ok(IvfWriter {
            writer,
            time_base,
            frames: 0,
        })
    }

    /// Appends a frame, its timestamp converted to the file's time base.
    pub fn write_frame(&mut self, frame: &EncodedFrame) -> Result<(), ContainerError> {
        let len = u32::try_from(frame.data.len())
            .map_err(|_| ContainerError::FrameTooLarge(KIND, frame.data.len() as u64))?;
        let pts = frame.time_base.rescale(frame.pts, self.time_base);
        self.writer.write_all(&len.to_le_bytes())?;
        self.writer.write_all(&pts.to_le_bytes())?;
        self.writer.write_all(&frame.data)?;
        self.frames += 1;
        Ok(())
    }

    /// Writes the frame count into the header, flushes, and returns the writer.
    pub fn finish(mut self) -> Result<W, ContainerError> {
        let end = self.writer.stream_position()?;
        self.writer.seek(SeekFrom::Start(24))?;
        self.writer.write_all(&self.frames.to_le_bytes())?;
        self.writer.seek(SeekFrom::Start(end))?;
        self.writer.flush()?;
        Ok(self.writer)
    }
}
