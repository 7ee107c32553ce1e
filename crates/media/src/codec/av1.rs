//! AV1 decoding through libdav1d (the `dav1d` crate, 0.9.x, against the system library).

use dav1d::{PixelLayout, PlanarImageComponent, Settings};

use super::VideoDecoder;
use crate::error::CodecError;
use crate::frame::{PixelFormat, VideoFrame};
use crate::pool::BufferPool;
use crate::time::TimeBase;

/// Decoded frames kept in the decoder's pool.
const POOL_IDLE: usize = 4;

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
        // dav1d keeps the buffer until it has parsed it: it takes an owned copy.
        match self.inner.send_data(data.to_vec(), None, Some(pts), None) {
            Ok(()) => {}
            Err(e) if e.is_again() => {
                // The decoder has a picture to hand out before it takes the rest.
                let picture = self.picture()?;
                match self.inner.send_pending_data() {
                    Ok(()) => {}
                    Err(e) if e.is_again() => {}
                    Err(e) => return Err(CodecError::Dav1d(e)),
                }
                if picture.is_some() {
                    return Ok(picture);
                }
            }
            Err(e) => return Err(CodecError::Dav1d(e)),
        }
        self.picture()
    }
}
