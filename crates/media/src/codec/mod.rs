//! Codecs behind four small traits: [`VideoEncoder`], [`VideoDecoder`], [`AudioEncoder`],
//! [`AudioDecoder`]. The codec code is synchronous and runtime-free: call it from whatever
//! thread or task owns the stream.

#[cfg(feature = "av1")]
mod av1;
#[allow(unsafe_code)]
mod ffi;
mod g711;
mod g722;
mod h264;
mod opus;
mod vpx;

#[cfg(feature = "av1")]
pub use av1::Av1Decoder;
pub use g711::{G711Decoder, G711Encoder, G711Law};
pub use g722::{G722Decoder, G722Encoder};
pub use h264::{H264Decoder, H264Encoder};
pub use opus::{OpusDecoder, OpusEncoder};
pub use vpx::{VpxDecoder, VpxEncoder};

use crate::error::CodecError;
use crate::frame::{AudioFrame, MediaKind, VideoFrame};
use crate::time::TimeBase;

/// The codecs this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// VP8 (RFC 6386), through libvpx.
    Vp8,
    /// VP9, through libvpx.
    Vp9,
    /// H.264 constrained baseline.
    H264,
    /// AV1 (decode only, through libdav1d, with the `av1` feature).
    Av1,
    /// Opus (RFC 6716), through libopus.
    Opus,
    /// G.711 μ-law (RTP payload type 0, RFC 3551 §4.5.14).
    Pcmu,
    /// G.711 A-law (RTP payload type 8, RFC 3551 §4.5.14).
    Pcma,
    /// G.722 (RTP payload type 9, RFC 3551 §4.5.2).
    G722,
}

impl Codec {
    /// Audio or video.
    pub const fn kind(self) -> MediaKind {
        match self {
            Codec::Vp8 | Codec::Vp9 | Codec::H264 | Codec::Av1 => MediaKind::Video,
            Codec::Opus | Codec::Pcmu | Codec::Pcma | Codec::G722 => MediaKind::Audio,
        }
    }

    /// The MIME type as SDP and WebRTC statistics name it (`video/VP8`, `audio/opus`).
    pub const fn mime_type(self) -> &'static str {
        match self {
            Codec::Vp8 => "video/VP8",
            Codec::Vp9 => "video/VP9",
            Codec::H264 => "video/H264",
            Codec::Av1 => "video/AV1",
            Codec::Opus => "audio/opus",
            Codec::Pcmu => "audio/PCMU",
            Codec::Pcma => "audio/PCMA",
            Codec::G722 => "audio/G722",
        }
    }

    /// The RTP clock rate. G.722 samples at 16 kHz but its RTP clock is 8000 Hz, by an error
    /// in the original RFC 1890 kept for compatibility (RFC 3551 §4.5.2).
    pub const fn clock_rate(self) -> u32 {
        match self {
            Codec::Vp8 | Codec::Vp9 | Codec::H264 | Codec::Av1 => 90_000,
            Codec::Opus => 48_000,
            Codec::Pcmu | Codec::Pcma | Codec::G722 => 8_000,
        }
    }
}

/// One compressed frame (a video frame, or an audio packet's worth of samples).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The codec's bitstream for this frame.
    pub data: Vec<u8>,
    /// Presentation timestamp, in `time_base` units.
    pub pts: i64,
    /// The unit of `pts`: the codec's RTP clock.
    pub time_base: TimeBase,
    /// True for a frame that decodes without earlier ones (always true for audio).
    pub key_frame: bool,
}

/// What a video encoder is set up to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoEncoderConfig {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Target bitrate in bits per second.
    pub bitrate_bps: u32,
    /// Expected frames per second (used for the first frame's duration; later durations come
    /// from the timestamps).
    pub frame_rate: u32,
}

/// A video encoder's current settings, as it reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoEncoderSettings {
    /// The codec.
    pub codec: Codec,
    /// The configuration in force (with the latest bitrate).
    pub config: VideoEncoderConfig,
    /// Threads the encoder uses for this stream.
    pub threads: u32,
    /// True when tuned for realtime (no look-ahead, one pass).
    pub realtime: bool,
    /// True when the encoder may skip frames to meet its bitrate.
    pub frame_dropping: bool,
}

/// Turns raw video frames into compressed ones.
pub trait VideoEncoder: Send {
    /// Encodes `frame`, appending what comes out to `out` (usually one frame).
    fn encode(&mut self, frame: &VideoFrame, out: &mut Vec<EncodedFrame>)
    -> Result<(), CodecError>;
    /// Changes the target bitrate from the next frame on.
    fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), CodecError>;
    /// Makes the next encoded frame a key frame.
    fn request_key_frame(&mut self);
    /// The settings in force.
    fn settings(&self) -> VideoEncoderSettings;
}

/// Turns compressed video frames back into raw ones.
pub trait VideoDecoder: Send {
    /// Decodes one compressed frame whose timestamp is `pts` (on the codec's 90 kHz clock);
    /// `None` when it yields no picture to show.
    fn decode(&mut self, data: &[u8], pts: i64) -> Result<Option<VideoFrame>, CodecError>;
}

/// What an audio encoder is set up to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioEncoderSettings {
    /// The codec.
    pub codec: Codec,
    /// Input sample rate in Hz.
    pub sample_rate: u32,
    /// Input channel count.
    pub channels: u16,
    /// Target bitrate in bits per second (fixed for G.711 and G.722).
    pub bitrate_bps: u32,
    /// Samples per channel in each packet (20 ms unless configured otherwise).
    pub frame_samples: usize,
}

/// Turns raw audio into packets. Input frames may be of any length: the encoder buffers
/// samples and emits one packet per `frame_samples`.
pub trait AudioEncoder: Send {
    /// Takes `frame`'s samples, appending each full packet to `out`.
    fn encode(&mut self, frame: &AudioFrame, out: &mut Vec<EncodedFrame>)
    -> Result<(), CodecError>;
    /// Changes the target bitrate from the next packet on (ignored by fixed-rate codecs, whose
    /// settings keep reporting their rate).
    fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), CodecError>;
    /// The settings in force.
    fn settings(&self) -> AudioEncoderSettings;
}

/// Turns audio packets back into raw audio.
pub trait AudioDecoder: Send {
    /// Decodes one packet whose timestamp is `pts` (on the codec's RTP clock).
    fn decode(&mut self, data: &[u8], pts: i64) -> Result<AudioFrame, CodecError>;
}

/// Collects interleaved samples into fixed-size packets and keeps their timestamps.
#[derive(Debug)]
struct SampleQueue<T> {
    pending: Vec<T>,
    /// Timestamp (in samples) of `pending[0]`.
    next_pts: Option<i64>,
}

impl<T: Copy> SampleQueue<T> {
    fn new() -> Self {
        SampleQueue {
            pending: Vec::new(),
            next_pts: None,
        }
    }

    /// Appends samples that start at `pts` (in samples). A gap or overlap between what is
    /// queued and `pts` is ignored: the queue keeps counting from where it is.
    fn push(&mut self, samples: &[T], pts: i64) {
        if self.pending.is_empty() && self.next_pts.is_none() {
            self.next_pts = Some(pts);
        }
        self.pending.extend_from_slice(samples);
    }

    /// Takes `len` interleaved samples, each `channels` wide, and hands them to `f` with their
    /// timestamp, while enough are queued.
    fn drain<E>(
        &mut self,
        len: usize,
        channels: usize,
        mut f: impl FnMut(&[T], i64) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut start = 0;
        let mut result = Ok(());
        while self.pending.len() - start >= len {
            let pts = self.next_pts.unwrap_or(0);
            result = f(&self.pending[start..start + len], pts);
            start += len;
            self.next_pts = Some(pts + (len / channels) as i64);
            if result.is_err() {
                break;
            }
        }
        self.pending.drain(..start);
        result
    }
}
