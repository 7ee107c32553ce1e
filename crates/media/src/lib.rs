//! Media for ferrtc: raw frames, codecs behind small traits, and tracks in aiortc's model.
//!
//! - Frames: [`VideoFrame`] (I420 or NV12 planes with strides, converted to and from packed
//!   RGB) and [`AudioFrame`] (interleaved s16 or f32), each with `pts` and `time_base` as in
//!   PyAV. Buffers come from a [`BufferPool`] on the hot path.
//!
//! This crate is not a sans-IO protocol crate: tracks use tokio. The frame and codec code does
//! not: it runs on any thread, with no runtime.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod container;
mod error;
mod frame;
mod helpers;
mod pool;
mod time;
mod track;

pub use codec::{
    AudioDecoder, AudioEncoder, AudioEncoderSettings, Codec, EncodedFrame, G711Decoder,
    G711Encoder, G711Law, G722Decoder, G722Encoder, H264Decoder, H264Encoder, OpusDecoder,
    OpusEncoder, VideoDecoder, VideoEncoder, VideoEncoderConfig, VideoEncoderSettings, VpxDecoder,
    VpxEncoder,
};
pub use error::{CodecError, ConfigProblem, FrameError, MediaError, VpxOperation};
pub use frame::{AudioFrame, Frame, MediaKind, PixelFormat, RgbFormat, SampleFormat, VideoFrame};
pub use helpers::{MediaBlackhole, MediaPlayer, MediaRecorder, MediaRelay};
pub use pool::{BufferPool, PoolStats, PooledBuffer};
pub use time::TimeBase;
pub use track::{
    BoxTrack, FrameSender, MediaStreamTrack, SourceTrack, TrackStats, TransformStats,
    TransformTrack, new_track_id, track_channel,
};
