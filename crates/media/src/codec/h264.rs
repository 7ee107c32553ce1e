//! H.264 through Cisco's OpenH264, built from the source the `openh264` crate bundles.
//!
//! Constrained baseline (what WebRTC endpoints must offer, RFC 7742 §6.2), one slice per frame,
//! no frame skipping, one thread per stream, IDR frames only on request (and at the start).
//! The encoder gives Annex B byte streams (start codes, SPS and PPS before each IDR); RTP
//! packetisation in mode 1 (single NAL units, STAP-A, FU-A; RFC 6184 §6.3) is the RTP layer's
//! job.
//!
//! Patent note: H.264 is covered by patents licensed through MPEG LA (now Via LA). Cisco pays
//! those royalties only for the OpenH264 binaries it distributes itself; a build from source,
//! as here, is not covered by Cisco's licence. Whoever ships a product with this codec enabled
//! must settle that licensing themselves.

use openh264::OpenH264API;
use openh264::decoder::{Decoder, DecoderConfig};
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, Profile,
    RateControlMode, UsageType,
};
use openh264::formats::{YUVSlices, YUVSource};

use super::ffi;
use super::{
    Codec, EncodedFrame, VideoDecoder, VideoEncoder, VideoEncoderConfig, VideoEncoderSettings,
};
use crate::error::{CodecError, ConfigProblem};
use crate::frame::{PixelFormat, VideoFrame};
use crate::pool::BufferPool;
use crate::time::TimeBase;

/// Buffers kept for converted input and decoded output.
const POOL_IDLE: usize = 4;

fn openh264_config(config: &VideoEncoderConfig) -> EncoderConfig {
    EncoderConfig::new()
        .bitrate(BitRate::from_bps(config.bitrate_bps))
        .max_frame_rate(FrameRate::from_hz(config.frame_rate as f32))
        .rate_control_mode(RateControlMode::Bitrate)
        .usage_type(UsageType::CameraVideoRealTime)
        .profile(Profile::Baseline)
        .skip_frames(false)
        .num_threads(1)
        .intra_frame_period(IntraFramePeriod::from_num_frames(0))
}

/// An H.264 constrained baseline encoder.
pub struct H264Encoder {
    /// Made on the first frame (OpenH264 initialises with the first picture's size), with the
    /// bitrate in force then.
    inner: Option<Encoder>,
    config: VideoEncoderConfig,
    key_frame_requested: bool,
    pool: BufferPool<u8>,
}

impl std::fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Encoder")
            .field("settings", &self.settings())
            .finish_non_exhaustive()
    }
}

impl H264Encoder {
    /// An encoder for `config` (dimensions even, at most 3840x2160).
    pub fn new(config: VideoEncoderConfig) -> Result<H264Encoder, CodecError> {
        let (w, h) = (config.width, config.height);
        if w == 0 || h == 0 || w % 2 == 1 || h % 2 == 1 || w.max(h) > 3840 || w.min(h) > 2160 {
            return Err(CodecError::InvalidConfig(ConfigProblem::Dimensions));
        }
        if config.frame_rate == 0 {
            return Err(CodecError::InvalidConfig(ConfigProblem::FrameRate));
        }
        if config.bitrate_bps == 0 || config.bitrate_bps > i32::MAX as u32 {
            return Err(CodecError::InvalidConfig(ConfigProblem::Bitrate));
        }
        Ok(H264Encoder {
            inner: None,
            config,
            key_frame_requested: false,
            pool: BufferPool::new(POOL_IDLE),
        })
    }
}

impl VideoEncoder for H264Encoder {
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
        let converted;
        let frame = if frame.format() == PixelFormat::I420 {
            frame
        } else {
            converted = frame.to_pixel_format(PixelFormat::I420, Some(&self.pool))?;
            &converted
        };
        let encoder = match &mut self.inner {
            Some(encoder) => encoder,
            empty => empty.insert(
                Encoder::with_api_config(OpenH264API::from_source(), openh264_config(&self.config))
                    .map_err(CodecError::OpenH264)?,
            ),
        };
        if std::mem::take(&mut self.key_frame_requested) {
            encoder.force_intra_frame();
        }
        let source = YUVSlices::new(
            (frame.plane(0), frame.plane(1), frame.plane(2)),
            (frame.width() as usize, frame.height() as usize),
            (frame.stride(0), frame.stride(1), frame.stride(2)),
        );
        let pts = frame.time_base.rescale(frame.pts, TimeBase::VIDEO_90KHZ);
        let millis = TimeBase::VIDEO_90KHZ
            .rescale(pts, TimeBase::MILLISECONDS)
            .max(0) as u64;
        let stream = encoder
            .encode_at(&source, openh264::Timestamp::from_millis(millis))
            .map_err(CodecError::OpenH264)?;
        let frame_type = stream.frame_type();
        if frame_type == FrameType::Skip || frame_type == FrameType::Invalid {
            return Ok(());
        }
        out.push(EncodedFrame {
            data: stream.to_vec(),
            pts,
            time_base: TimeBase::VIDEO_90KHZ,
            key_frame: matches!(frame_type, FrameType::IDR | FrameType::I),
        });
        Ok(())
    }

    fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), CodecError> {
        if bitrate_bps == 0 || bitrate_bps > i32::MAX as u32 {
            return Err(CodecError::InvalidConfig(ConfigProblem::Bitrate));
        }
        if let Some(encoder) = &mut self.inner {
            ffi::openh264::set_bitrate(encoder, self.config.bitrate_bps, bitrate_bps)
                .map_err(CodecError::OpenH264Option)?;
        }
        self.config.bitrate_bps = bitrate_bps;
        Ok(())
    }

    fn request_key_frame(&mut self) {
        self.key_frame_requested = true;
    }

    fn settings(&self) -> VideoEncoderSettings {
        VideoEncoderSettings {
            codec: Codec::H264,
            config: self.config,
            threads: 1,
            realtime: true,
            frame_dropping: false,
        }
    }
}

/// An H.264 decoder taking Annex B byte streams; output frames are I420 on the 90 kHz clock.
pub struct H264Decoder {
    inner: Decoder,
    pool: BufferPool<u8>,
}

impl std::fmt::Debug for H264Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Decoder").finish_non_exhaustive()
    }
}

impl H264Decoder {
    /// A decoder.
    pub fn new() -> Result<H264Decoder, CodecError> {
        let inner = Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new())
            .map_err(CodecError::OpenH264)?;
        Ok(H264Decoder {
            inner,
            pool: BufferPool::new(POOL_IDLE),
        })
    }
}

impl VideoDecoder for H264Decoder {
    fn decode(&mut self, data: &[u8], pts: i64) -> Result<Option<VideoFrame>, CodecError> {
        let Some(picture) = self.inner.decode(data).map_err(CodecError::OpenH264)? else {
            return Ok(None);
        };
        let (w, h) = picture.dimensions();
        let (sy, su, sv) = picture.strides();
        let planes = [(picture.y(), sy), (picture.u(), su), (picture.v(), sv)];
        let (w, h) = (u32::try_from(w).unwrap_or(0), u32::try_from(h).unwrap_or(0));
        let mut frame =
            VideoFrame::from_planes(PixelFormat::I420, w, h, &planes, Some(&self.pool))?;
        frame.pts = pts;
        frame.time_base = TimeBase::VIDEO_90KHZ;
        Ok(Some(frame))
    }
}
