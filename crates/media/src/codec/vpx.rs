//! VP8 and VP9 through libvpx (via the safe wrapper in `ffi::vpx`), tuned for realtime: CBR, one
//! pass, no look-ahead, one thread per stream, no frame skipping.

use super::ffi::vpx::{
    self as vpx_ffi, I420, RawDecoder, RawEncoder, RawEncoderConfig, Step, VpxCode, VpxCodec,
};
use super::{
    Codec, EncodedFrame, VideoDecoder, VideoEncoder, VideoEncoderConfig, VideoEncoderSettings,
};
use crate::error::{CodecError, ConfigProblem, VpxOperation};
use crate::frame::{PixelFormat, VideoFrame};
use crate::pool::BufferPool;
use crate::time::TimeBase;

/// Buffers kept for converted input and decoded output: enough for a few frames in flight.
const POOL_IDLE: usize = 4;
/// The highest target accepted, in kbit/s (libvpx takes far more, but nothing realtime does).
const MAX_KBPS: u32 = 100_000;

fn vpx_error(op: VpxOperation, code: VpxCode) -> CodecError {
    CodecError::Vpx { op, code: code.0 }
}

fn step_error((step, code): (Step, VpxCode), codec_op: VpxOperation) -> CodecError {
    let op = match step {
        Step::DefaultConfig => VpxOperation::DefaultConfig,
        Step::Init => codec_op,
        Step::Control => VpxOperation::Control,
        Step::Codec => VpxOperation::Encode,
    };
    vpx_error(op, code)
}

fn kbps(bitrate_bps: u32) -> Result<u32, CodecError> {
    let kbps = bitrate_bps.div_ceil(1000);
    if kbps == 0 || kbps > MAX_KBPS {
        return Err(CodecError::InvalidConfig(ConfigProblem::Bitrate));
    }
    Ok(kbps)
}

/// A VP8 or VP9 encoder.
///
/// ```
/// use ferrtc_media::{PixelFormat, VideoEncoder, VideoEncoderConfig, VideoFrame, VpxEncoder};
///
/// let config = VideoEncoderConfig { width: 64, height: 48, bitrate_bps: 200_000, frame_rate: 30 };
/// let mut encoder = VpxEncoder::vp8(config)?;
/// let mut out = Vec::new();
/// encoder.encode(&VideoFrame::new(PixelFormat::I420, 64, 48)?, &mut out)?;
/// assert!(out[0].key_frame); // a stream starts with a key frame
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct VpxEncoder {
    raw: RawEncoder,
    codec: Codec,
    config: VideoEncoderConfig,
    key_frame_requested: bool,
    last_pts: Option<i64>,
    pool: BufferPool<u8>,
}

impl std::fmt::Debug for VpxEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VpxEncoder")
            .field("settings", &self.settings())
            .finish_non_exhaustive()
    }
}

impl VpxEncoder {
    /// A VP8 encoder.
    pub fn vp8(config: VideoEncoderConfig) -> Result<VpxEncoder, CodecError> {
        Self::new(VpxCodec::Vp8, config)
    }

    /// A VP9 (profile 0) encoder.
    pub fn vp9(config: VideoEncoderConfig) -> Result<VpxEncoder, CodecError> {
        Self::new(VpxCodec::Vp9, config)
    }

    fn new(codec: VpxCodec, config: VideoEncoderConfig) -> Result<VpxEncoder, CodecError> {
        if config.width == 0
            || config.height == 0
            || config.width > 16_383
            || config.height > 16_383
        {
            return Err(CodecError::InvalidConfig(ConfigProblem::Dimensions));
        }
        if config.frame_rate == 0 {
            return Err(CodecError::InvalidConfig(ConfigProblem::FrameRate));
        }
        let raw = RawEncoder::new(RawEncoderConfig {
            codec,
            width: config.width,
            height: config.height,
            bitrate_kbps: kbps(config.bitrate_bps)?,
        })
        .map_err(|e| step_error(e, VpxOperation::EncoderInit))?;
        Ok(VpxEncoder {
            raw,
            codec: match codec {
                VpxCodec::Vp8 => Codec::Vp8,
                VpxCodec::Vp9 => Codec::Vp9,
            },
            config,
            key_frame_requested: false,
            last_pts: None,
            pool: BufferPool::new(POOL_IDLE),
        })
    }
}

impl VideoEncoder for VpxEncoder {
    fn encode(
        &mut self,
        frame: &VideoFrame,
        out: &mut Vec<EncodedFrame>,
    ) -> Result<(), CodecError> {
        if (frame.width(), frame.height()) != (self.config.width, self.config.height) {
            return Err(CodecError::DimensionsChanged {
                width: self.config.width,
                height: self.config.height,
                actual_width: frame.width(),
                actual_height: frame.height(),
            });
        }
        // libvpx takes I420; an NV12 frame is converted once, into a pooled buffer.
        let converted;
        let frame = if frame.format() == PixelFormat::I420 {
            frame
        } else {
            converted = frame.to_pixel_format(PixelFormat::I420, Some(&self.pool))?;
            &converted
        };
        let pts = frame.time_base.rescale(frame.pts, TimeBase::VIDEO_90KHZ);
        let nominal = 90_000 / self.config.frame_rate.max(1);
        let duration = match self.last_pts {
            Some(last) if pts > last => u32::try_from(pts - last).unwrap_or(90_000).min(90_000),
            _ => nominal,
        };
        self.last_pts = Some(pts);
        let picture = I420 {
            planes: [frame.plane(0), frame.plane(1), frame.plane(2)],
            strides: [frame.stride(0), frame.stride(1), frame.stride(2)],
            width: frame.width(),
            height: frame.height(),
        };
        let force = std::mem::take(&mut self.key_frame_requested);
        let result = self
            .raw
            .encode(&picture, pts, duration, force, &mut |p: vpx_ffi::Packet<
                '_,
            >| {
                out.push(EncodedFrame {
                    data: p.data.to_vec(),
                    pts: p.pts,
                    time_base: TimeBase::VIDEO_90KHZ,
                    key_frame: p.key_frame,
                });
            });
        if result.is_err() && force {
            // The request stands until a frame is actually encoded.
            self.key_frame_requested = true;
        }
        result.map_err(|e| step_error(e, VpxOperation::Encode))
    }

    fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), CodecError> {
        let kbps = kbps(bitrate_bps)?;
        self.raw
            .set_bitrate_kbps(kbps)
            .map_err(|code| vpx_error(VpxOperation::Configure, code))?;
        self.config.bitrate_bps = bitrate_bps;
        Ok(())
    }

    fn request_key_frame(&mut self) {
        self.key_frame_requested = true;
    }

    fn settings(&self) -> VideoEncoderSettings {
        VideoEncoderSettings {
            codec: self.codec,
            config: self.config,
            threads: 1,
            realtime: true,
            frame_dropping: false,
        }
    }
}

/// A VP8 or VP9 decoder. Output frames are I420 on the 90 kHz clock, in pooled buffers.
pub struct VpxDecoder {
    raw: RawDecoder,
    pool: BufferPool<u8>,
}

impl std::fmt::Debug for VpxDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VpxDecoder").finish_non_exhaustive()
    }
}

impl VpxDecoder {
    /// A VP8 decoder.
    pub fn vp8() -> Result<VpxDecoder, CodecError> {
        Self::new(VpxCodec::Vp8)
    }

    /// A VP9 decoder.
    pub fn vp9() -> Result<VpxDecoder, CodecError> {
        Self::new(VpxCodec::Vp9)
    }

    fn new(codec: VpxCodec) -> Result<VpxDecoder, CodecError> {
        let raw = RawDecoder::new(codec).map_err(|e| step_error(e, VpxOperation::DecoderInit))?;
        Ok(VpxDecoder {
            raw,
            pool: BufferPool::new(POOL_IDLE),
        })
    }
}

impl VideoDecoder for VpxDecoder {
    fn decode(&mut self, data: &[u8], pts: i64) -> Result<Option<VideoFrame>, CodecError> {
        let mut picture = None;
        let pool = &self.pool;
        self.raw
            .decode(data, &mut |d: vpx_ffi::Decoded<'_>| {
                let planes = [
                    (d.planes[0], d.strides[0]),
                    (d.planes[1], d.strides[1]),
                    (d.planes[2], d.strides[2]),
                ];
                picture = Some(VideoFrame::from_planes(
                    PixelFormat::I420,
                    d.width,
                    d.height,
                    &planes,
                    Some(pool),
                ));
            })
            .map_err(|code| vpx_error(VpxOperation::Decode, code))?;
        match picture {
            Some(Ok(mut frame)) => {
                frame.pts = pts;
                frame.time_base = TimeBase::VIDEO_90KHZ;
                Ok(Some(frame))
            }
            Some(Err(e)) => Err(e.into()),
            None => Ok(None),
        }
    }
}
