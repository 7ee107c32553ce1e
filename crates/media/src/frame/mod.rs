//! Raw frames: what tracks carry and codecs take and give.

mod audio;
mod video;

pub use audio::{AudioFrame, SampleFormat};
pub use video::{PixelFormat, RgbFormat, VideoFrame};

/// Whether a track carries audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// Audio frames.
    Audio,
    /// Video frames.
    Video,
}

/// A frame of either kind, as a track yields it.
#[derive(Debug, Clone)]
pub enum Frame {
    /// A video frame.
    Video(VideoFrame),
    /// An audio frame.
    Audio(AudioFrame),
}

impl Frame {
    /// The frame's kind.
    pub fn kind(&self) -> MediaKind {
        match self {
            Frame::Video(_) => MediaKind::Video,
            Frame::Audio(_) => MediaKind::Audio,
        }
    }

    /// The presentation timestamp, in [`Frame::time_base`] units.
    pub fn pts(&self) -> i64 {
        match self {
            Frame::Video(f) => f.pts,
            Frame::Audio(f) => f.pts,
        }
    }

    /// Sets the presentation timestamp.
    pub fn set_pts(&mut self, pts: i64) {
        match self {
            Frame::Video(f) => f.pts = pts,
            Frame::Audio(f) => f.pts = pts,
        }
    }

    /// The unit of [`Frame::pts`].
    pub fn time_base(&self) -> crate::TimeBase {
        match self {
            Frame::Video(f) => f.time_base,
            Frame::Audio(f) => f.time_base,
        }
    }

    /// The video frame, if this is one.
    pub fn as_video(&self) -> Option<&VideoFrame> {
        match self {
            Frame::Video(f) => Some(f),
            Frame::Audio(_) => None,
        }
    }

    /// The audio frame, if this is one.
    pub fn as_audio(&self) -> Option<&AudioFrame> {
        match self {
            Frame::Audio(f) => Some(f),
            Frame::Video(_) => None,
        }
    }
}

impl From<VideoFrame> for Frame {
    fn from(f: VideoFrame) -> Self {
        Frame::Video(f)
    }
}

impl From<AudioFrame> for Frame {
    fn from(f: AudioFrame) -> Self {
        Frame::Audio(f)
    }
}
