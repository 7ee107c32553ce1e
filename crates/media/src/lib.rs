//! Media for ferrtc: raw frames, codecs behind small traits, and tracks in aiortc's model.
//!
//! - **Frames**: [`VideoFrame`] (I420 or NV12 planes with strides, converted to and from packed
//!   RGB24/BGR24/RGBA through the `yuv` crate) and [`AudioFrame`] (interleaved s16 or f32),
//!   each with `pts` and `time_base` as in PyAV. Buffers come from a [`BufferPool`] on the hot
//!   path and are shared, not copied, between clones.
//! - **Codecs** behind [`VideoEncoder`], [`VideoDecoder`], [`AudioEncoder`] and
//!   [`AudioDecoder`]: VP8 and VP9 ([`VpxEncoder`], libvpx), H.264 ([`H264Encoder`], OpenH264),
//!   Opus ([`OpusEncoder`], libopus), and G.711 and G.722 in our own code. Encoders take a
//!   bitrate that can change at run time and give a key frame on request. AV1 decodes through
//!   libdav1d ([`Av1Decoder`], cargo feature `av1`, on by default).
//! - **Tracks**: [`MediaStreamTrack`] (`recv`, `stop`, `ended`); a [`SourceTrack`] fed by a
//!   [`FrameSender`] holds at most one frame, so a slow consumer gets the newest frame and the
//!   older ones are dropped and counted: latency never grows. A [`TransformTrack`] wraps a
//!   track; when its function fails, the previous frame is repeated and the stream goes on.
//! - **Helpers** as in aiortc: [`MediaRelay`], [`MediaBlackhole`], [`MediaPlayer`] and
//!   [`MediaRecorder`] (Y4M, IVF, WAV, Ogg/Opus and WebM, see [`container`]). The player
//!   takes [`PlayerOptions`]: `with_loop(true)` plays the file again and again with rising
//!   timestamps (aiortc's `loop=True`), `with_decode(false)` passes IVF, Ogg/Opus and WebM
//!   frames through undecoded (aiortc's `decode=False`) as [`EncodedTrack`]s at the same
//!   real-time pace, for a peer connection to send as they are when it negotiated the
//!   file's codec.
//! - **MP4 and MKV** with the cargo feature `ffmpeg` (off by default): the player and the
//!   recorder read and write them through the system's FFmpeg libraries (`ffmpeg-next`,
//!   built against Debian 12's FFmpeg 5.1; packages `libavformat-dev`, `libavcodec-dev`,
//!   `libavutil-dev` and `libclang-dev`). FFmpeg only demuxes and muxes; frames are decoded
//!   and encoded by this crate's codecs: H.264, VP8, VP9 and AV1 video and Opus, G.711 and
//!   16-bit PCM audio are read; MP4 is written with H.264 or VP9 and Opus, MKV with VP8, VP9
//!   or H.264 and Opus or 16-bit PCM. **Licence**: Debian's FFmpeg is built with
//!   `--enable-gpl` (it links x264 and others), so a program built with this feature and
//!   linked against it must be distributed under the GPL. Capture devices (v4l2 through
//!   libavdevice) are not supported: there was no camera to test them with.
//!
//! This crate is not a sans-IO protocol crate: tracks and helpers use tokio. The frame, codec
//! and container code does not: it runs on any thread, with no runtime. All `unsafe` code (the
//! calls into libvpx and one into OpenH264) lives in one private module, `codec::ffi`; with the
//! `ffmpeg` feature also in `container::ffmpeg::ffi` (codec parameter fields `ffmpeg-next`
//! has no safe accessor for).
//!
//! A camera track, turned grey, encoded as VP8 and decoded again:
//!
//! ```
//! use std::convert::Infallible;
//! use ferrtc_media::*;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (camera, source) = track_channel(MediaKind::Video, "camera");
//! let grey = TransformTrack::new(source, |frame: &Frame| {
//!     let mut frame = frame.clone();
//!     if let Frame::Video(video) = &mut frame {
//!         let [_, u, v] = video.planes_mut();
//!         u.fill(128);
//!         v.fill(128);
//!     }
//!     Ok::<_, Infallible>(frame)
//! });
//! let config = VideoEncoderConfig { width: 160, height: 120, bitrate_bps: 300_000, frame_rate: 30 };
//! let mut encoder = VpxEncoder::vp8(config).unwrap();
//! let mut decoder = VpxDecoder::vp8().unwrap();
//!
//! let rgb = vec![180u8; 160 * 120 * 3];
//! let frame = VideoFrame::from_rgb(&rgb, 160 * 3, RgbFormat::Rgb24, 160, 120, PixelFormat::I420, None).unwrap();
//! camera.send(frame.into()).unwrap();
//!
//! let mut packets = Vec::new();
//! encoder.encode(grey.recv().await.unwrap().as_video().unwrap(), &mut packets).unwrap();
//! assert!(packets[0].key_frame);
//! let decoded = decoder.decode(&packets[0].data, packets[0].pts).unwrap().unwrap();
//! assert_eq!((decoded.width(), decoded.height()), (160, 120));
//! # });
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod container;
mod encoded_track;
mod error;
mod frame;
mod helpers;
mod pool;
mod time;
mod track;

#[cfg(feature = "av1")]
pub use codec::Av1Decoder;
pub use codec::{
    AudioDecoder, AudioEncoder, AudioEncoderSettings, Codec, EncodedFrame, G711Decoder,
    G711Encoder, G711Law, G722Decoder, G722Encoder, H264Decoder, H264Encoder, OpusDecoder,
    OpusEncoder, VideoDecoder, VideoEncoder, VideoEncoderConfig, VideoEncoderSettings, VpxDecoder,
    VpxEncoder,
};
pub use encoded_track::{
    ENCODED_QUEUE, EncodedFrameSender, EncodedSourceTrack, EncodedTrack, encoded_track_channel,
};
pub use error::{CodecError, ConfigProblem, FrameError, MediaError, VpxOperation};
pub use frame::{AudioFrame, Frame, MediaKind, PixelFormat, RgbFormat, SampleFormat, VideoFrame};
pub use helpers::{MediaBlackhole, MediaPlayer, MediaRecorder, MediaRelay, PlayerOptions};
pub use pool::{BufferPool, PoolStats, PooledBuffer};
pub use time::TimeBase;
pub use track::{
    BoxTrack, FrameSender, MediaStreamTrack, SourceTrack, TrackStats, TransformStats,
    TransformTrack, new_track_id, track_channel,
};
