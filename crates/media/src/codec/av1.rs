//! AV1 decoding through libdav1d (the `dav1d` crate, 0.9.x, against the system library).

use dav1d::{PixelLayout, PlanarImageComponent, Settings};

use super::VideoDecoder;
use crate::error::CodecError;
use crate::frame::{PixelFormat, VideoFrame};
use crate::pool::BufferPool;
use crate::time::TimeBase;

/// Decoded frames kept in the decoder's pool.
const POOL_IDLE: usize = 4;

/// How many times one `decode` call offers dav1d the data it could not take before, taking
/// a picture out between tries, before the decoder is flushed instead.
const MAX_PENDING_TRIES: u32 = 16;

/// An AV1 decoder (libdav1d): one thread and a frame delay of one, so each temporal unit in
/// gives its picture at once, as a realtime receiver needs. Output frames are 8-bit I420 on
/// the 90 kHz clock, in pooled buffers; other layouts and depths are refused.
pub struct Av1Decoder {
    inner: dav1d::Decoder,
    pool: BufferPool<u8>,
}

impl std::fmt::Debug for Av1Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Av1Decoder").finish_non_exhaustive()
    }
}

impl Av1Decoder {
    /// A decoder.
    pub fn new() -> Result<Av1Decoder, CodecError> {
        let mut settings = Settings::new();
        settings.set_n_threads(1);
        settings.set_max_frame_delay(1);
        // Pictures are bounded like every VideoFrame; dav1d refuses larger ones before
        // allocating them.
        settings.set_frame_size_limit(16_384 * 16_384);
        let inner = dav1d::Decoder::with_settings(&settings).map_err(CodecError::Dav1d)?;
        Ok(Av1Decoder {
            inner,
            pool: BufferPool::new(POOL_IDLE),
        })
    }

    fn picture(&mut self) -> Result<Option<VideoFrame>, CodecError> {
        let picture = match self.inner.get_picture() {
            Ok(p) => p,
            Err(e) if e.is_again() => return Ok(None),
            Err(e) => return Err(CodecError::Dav1d(e)),
        };
        if picture.pixel_layout() != PixelLayout::I420 || picture.bit_depth() != 8 {
            return Err(CodecError::Dav1d(dav1d::Error::UnsupportedBitstream));
        }
        let planes = [
            PlanarImageComponent::Y,
            PlanarImageComponent::U,
            PlanarImageComponent::V,
        ]
        .map(|c| (picture.plane(c), picture.stride(c) as usize));
        let refs = planes.each_ref().map(|(p, s)| (p.as_ref(), *s));
        let mut frame = VideoFrame::from_planes(
            PixelFormat::I420,
            picture.width(),
            picture.height(),
            &refs,
            Some(&self.pool),
        )?;
        frame.pts = picture.timestamp().unwrap_or(0);
        frame.time_base = TimeBase::VIDEO_90KHZ;
        Ok(Some(frame))
    }
}

impl VideoDecoder for Av1Decoder {
    fn decode(&mut self, data: &[u8], pts: i64) -> Result<Option<VideoFrame>, CodecError> {
        // dav1d takes a buffer only once the pictures it holds are out ("again"), and the
        // binding panics when new data comes while some of the last is still pending. A
        // well-formed realtime stream (one shown frame per temporal unit) never gets here;
        // a hostile one can, so what is pending goes first, handing out pictures between
        // tries, a bounded number of times, after which the decoder is flushed (the stream
        // resumes at the next key frame).
        let mut newest = None;
        let mut tries = 0;
        loop {
            match self.inner.send_pending_data() {
                Ok(()) => break,
                Err(e) if e.is_again() => {
                    if let Some(p) = self.picture()? {
                        newest = Some(p);
                    }
                    tries += 1;
                    if tries == MAX_PENDING_TRIES {
                        self.inner.flush();
                        break;
                    }
                }
                // The binding dropped the pending data with the error.
                Err(e) => return Err(CodecError::Dav1d(e)),
            }
        }
        // dav1d keeps the buffer until it has parsed it: it takes an owned copy.
        match self.inner.send_data(data.to_vec(), None, Some(pts), None) {
            Ok(()) => {}
            Err(e) if e.is_again() => {
                // A picture to hand out before it takes the rest; what it still cannot
                // take waits for the next call (above).
                if let Some(p) = self.picture()? {
                    newest = Some(p);
                }
                match self.inner.send_pending_data() {
                    Ok(()) => {}
                    Err(e) if e.is_again() => {}
                    Err(e) => return Err(CodecError::Dav1d(e)),
                }
            }
            Err(e) => return Err(CodecError::Dav1d(e)),
        }
        // The newest picture wins: older ones a hostile unit piled up are dropped, as a
        // realtime receiver would.
        Ok(self.picture()?.or(newest))
    }
}
