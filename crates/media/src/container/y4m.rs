//! YUV4MPEG2: `YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n`, then `FRAME\n` and the planes of
//! each frame (Y, then U, then V, no padding).

use std::io::{BufRead, Read, Write};

use super::{ContainerError, ContainerKind, read_exact_or_eof};
use crate::frame::{PixelFormat, VideoFrame};
use crate::pool::BufferPool;
use crate::time::TimeBase;

const KIND: ContainerKind = ContainerKind::Y4m;
/// A header or frame line longer than this is not a Y4M file.
const MAX_LINE: usize = 1024;
/// Frames up to this many bytes (4K UHD I420 is 12.4 MB) are read straight into their planes;
/// larger ones, which only a header says exist, through a buffer that grows with the file.
const DIRECT_READ_LIMIT: usize = 16 << 20;

/// Reads I420 frames from a Y4M stream.
#[derive(Debug)]
pub struct Y4mReader<R> {
    reader: R,
    width: u32,
    height: u32,
    rate: (u32, u32),
    frames: u64,
    line: Vec<u8>,
    /// The bytes of a frame above [`DIRECT_READ_LIMIT`].
    big: Vec<u8>,
}

fn read_line<R: BufRead>(r: &mut R, line: &mut Vec<u8>) -> Result<bool, ContainerError> {
    line.clear();
    let n = std::io::Read::take(r, MAX_LINE as u64).read_until(b'\n', line)?;
    if n == 0 {
        return Ok(false);
    }
    if line.last() != Some(&b'\n') {
        return Err(ContainerError::MalformedHeader(KIND));
    }
    line.pop();
    Ok(true)
}

impl<R: BufRead> Y4mReader<R> {
    /// Reads the stream header. Only 8-bit 4:2:0 (`C420`, `C420jpeg`, `C420paldv`,
    /// `C420mpeg2`, or no `C`) is taken.
    pub fn new(mut reader: R) -> Result<Y4mReader<R>, ContainerError> {
        let mut line = Vec::new();
        let complete = read_line(&mut reader, &mut line);
        // The signature decides what the file is, before whether its line is well formed.
        if !line.starts_with(b"YUV4MPEG2") {
            return Err(ContainerError::BadSignature(KIND));
        }
        complete?;
        let header =
            std::str::from_utf8(&line).map_err(|_| ContainerError::MalformedHeader(KIND))?;
        let mut tokens = header.split(' ');
        if tokens.next() != Some("YUV4MPEG2") {
            return Err(ContainerError::BadSignature(KIND));
        }
        let (mut width, mut height, mut rate) = (None, None, (30, 1));
        let bad = || ContainerError::MalformedHeader(KIND);
        for token in tokens.filter(|t| !t.is_empty()) {
            let Some((tag, value)) = token.split_at_checked(1) else {
                return Err(bad()); // a token starting inside a multi-byte character
            };
            match tag {
                "W" => width = Some(value.parse::<u32>().map_err(|_| bad())?),
                "H" => height = Some(value.parse::<u32>().map_err(|_| bad())?),
                "F" => {
                    let (n, d) = value.split_once(':').ok_or_else(bad)?;
                    rate = (n.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
                    if rate.0 == 0 || rate.1 == 0 {
                        return Err(bad());
                    }
                }
                "C" if !matches!(value, "420" | "420jpeg" | "420paldv" | "420mpeg2") => {
                    return Err(ContainerError::Unsupported(KIND));
                }
                "I" if value != "p" && value != "?" => {
                    return Err(ContainerError::Unsupported(KIND));
                }
                // Aspect ratio, interlacing "p", and extensions (X...) change nothing here.
                _ => {}
            }
        }
        let (Some(width), Some(height)) = (width, height) else {
            return Err(bad());
        };
        // Checks the size once, here, rather than on the first frame.
        // (without allocating one: a hostile header may claim 16384 x 16384).
        VideoFrame::check_dimensions(width, height).map_err(|_| bad())?;
        Ok(Y4mReader {
            reader,
            width,
            height,
            rate,
            frames: 0,
            line,
            big: Vec::new(),
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Frames per second as `(numerator, denominator)`.
    pub fn frame_rate(&self) -> (u32, u32) {
        self.rate
    }

    /// The next frame (read straight into the frame's planes), stamped on the 90 kHz clock
    /// from its index and the frame rate; `None` at the end of the stream.
    pub fn read_frame(
        &mut self,
        pool: Option<&BufferPool<u8>>,
    ) -> Result<Option<VideoFrame>, ContainerError> {
        if !read_line(&mut self.reader, &mut self.line)? {
            return Ok(None);
        }
        if !self.line.starts_with(b"FRAME") {
            return Err(ContainerError::MalformedHeader(KIND));
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let frame_len = w * h + 2 * (w.div_ceil(2) * h.div_ceil(2));
        if frame_len > DIRECT_READ_LIMIT {
            // A huge frame size comes from the header alone: read the bytes first (the buffer
            // grows only as far as the file goes) so a short, hostile file cannot make the
            // reader allocate hundreds of megabytes.
            self.big.clear();
            let n = (&mut self.reader)
                .take(frame_len as u64)
                .read_to_end(&mut self.big)?;
            if n < frame_len {
                return Err(ContainerError::Truncated(KIND));
            }
        }
        let mut frame = match pool {
            Some(pool) => VideoFrame::new_in(pool, PixelFormat::I420, self.width, self.height),
            None => VideoFrame::new(PixelFormat::I420, self.width, self.height),
        }
        .map_err(|_| ContainerError::MalformedHeader(KIND))?;
        let mut read = 0;
        for plane in 0..3 {
            let (row, rows, stride) = (
                frame.plane_row_bytes(plane),
                frame.plane_rows(plane),
                frame.stride(plane),
            );
            let data = frame.plane_mut(plane);
            for r in 0..rows {
                let dst = &mut data[r * stride..][..row];
                if frame_len > DIRECT_READ_LIMIT {
                    dst.copy_from_slice(&self.big[read..read + row]);
                    read += row;
                } else if !read_exact_or_eof(&mut self.reader, dst, KIND)? {
                    return Err(ContainerError::Truncated(KIND));
                }
            }
        }
        let (num, den) = self.rate;
        // One tick per frame is den/num seconds (both checked non-zero in the header).
        let per_frame = TimeBase::new(den, num).unwrap_or(TimeBase::VIDEO_90KHZ);
        frame.pts = per_frame.rescale(self.frames as i64, TimeBase::VIDEO_90KHZ);
        frame.time_base = TimeBase::VIDEO_90KHZ;
        self.frames += 1;
        Ok(Some(frame))
    }
}

/// Writes frames to a Y4M stream (I420; NV12 frames are converted).
#[derive(Debug)]
pub struct Y4mWriter<W> {
    writer: W,
    width: u32,
    height: u32,
}

impl<W: Write> Y4mWriter<W> {
    /// Writes the stream header for `width` x `height` at `rate` = `(num, den)` frames per
    /// second.
    pub fn new(
        mut writer: W,
        width: u32,
        height: u32,
        rate: (u32, u32),
    ) -> Result<Y4mWriter<W>, ContainerError> {
        writeln!(
            writer,
            "YUV4MPEG2 W{width} H{height} F{}:{} Ip A1:1 C420jpeg",
            rate.0, rate.1
        )?;
        Ok(Y4mWriter {
            writer,
            width,
            height,
        })
    }

    /// Appends one frame.
    pub fn write_frame(&mut self, frame: &VideoFrame) -> Result<(), ContainerError> {
        if (frame.width(), frame.height()) != (self.width, self.height) {
            return Err(ContainerError::FrameMismatch(KIND));
        }
        let converted;
        let frame = if frame.format() == PixelFormat::I420 {
            frame
        } else {
            converted = frame
                .to_pixel_format(PixelFormat::I420, None)
                .map_err(|_| ContainerError::FrameMismatch(KIND))?;
            &converted
        };
        self.writer.write_all(b"FRAME\n")?;
        for plane in 0..3 {
            let (row, stride) = (frame.plane_row_bytes(plane), frame.stride(plane));
            for r in 0..frame.plane_rows(plane) {
                self.writer
                    .write_all(&frame.plane(plane)[r * stride..][..row])?;
            }
        }
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> Result<W, ContainerError> {
        self.writer.flush()?;
        Ok(self.writer)
    }
}
