//! File formats for players and recorders, as plain synchronous readers and writers over
//! `std::io`: Y4M (raw I420 video), IVF (VP8/VP9 frames), WAV (PCM audio), Ogg/Opus and WebM
//! (VP8/VP9 and Opus), the last two written here from their specifications. With the `ffmpeg`
//! cargo feature, MP4 and Matroska (MKV) through the system's FFmpeg libraries (demuxing and
//! muxing only; Debian's FFmpeg is GPL): `FfmpegReader` and `FfmpegWriter`.

#[cfg(feature = "ffmpeg")]
mod ffmpeg;
mod ivf;
mod ogg;
mod wav;
mod webm;
mod y4m;

#[cfg(feature = "ffmpeg")]
pub use ffmpeg::{
    FfmpegFormat, FfmpegPacket, FfmpegReader, FfmpegTrack, FfmpegTrackSpec, FfmpegWriter,
    h264_parameter_sets,
};
pub use ivf::{IvfFrame, IvfHeader, IvfReader, IvfWriter};
pub use ogg::{
    OPUS_DEFAULT_PRE_SKIP, OPUS_TIME_BASE, OggOpusReader, OggOpusWriter, OggPacket, OpusHead,
    opus_packet_samples,
};
pub use wav::{WavReader, WavWriter};
pub use webm::{WebmFrame, WebmReader, WebmTrack, WebmWriter};
pub use y4m::{Y4mReader, Y4mWriter};

/// Which file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    /// YUV4MPEG2: a text header, then raw frames.
    Y4m,
    /// The IVF framing of VP8/VP9 streams (a 32-byte header, 12 bytes before each frame).
    Ivf,
    /// RIFF WAVE.
    Wav,
    /// Opus in Ogg (RFC 7845).
    Ogg,
    /// WebM: the Matroska subset with VP8/VP9 video and Opus audio.
    Webm,
}

impl ContainerKind {
    /// The format a file name's extension names (`.y4m`, `.ivf`, `.wav`, `.ogg` or `.opus`,
    /// `.webm`, any case).
    pub fn from_path(path: &std::path::Path) -> Option<ContainerKind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "y4m" => Some(ContainerKind::Y4m),
            "ivf" => Some(ContainerKind::Ivf),
            "wav" => Some(ContainerKind::Wav),
            "ogg" | "opus" => Some(ContainerKind::Ogg),
            "webm" => Some(ContainerKind::Webm),
            _ => None,
        }
    }
}

/// What is wrong with a media file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContainerError {
    /// Reading or writing failed.
    #[error("media file I/O failed")]
    Io(#[from] std::io::Error),
    /// The file does not start as its format must.
    #[error("not a {0:?} file")]
    BadSignature(ContainerKind),
    /// A header field is missing or unreadable.
    #[error("malformed {0:?} header")]
    MalformedHeader(ContainerKind),
    /// A valid file in a variant not supported (4:2:2 Y4M, 24-bit WAV, ...).
    #[error("unsupported {0:?} variant")]
    Unsupported(ContainerKind),
    /// The file ends inside a frame.
    #[error("{0:?} file ends inside a frame")]
    Truncated(ContainerKind),
    /// A frame larger than any sensible one: a corrupt length.
    #[error("{0:?} frame of {1} bytes is too large")]
    FrameTooLarge(ContainerKind, u64),
    /// A frame that does not fit the file (other size, other format).
    #[error("frame does not match the {0:?} file's format")]
    FrameMismatch(ContainerKind),
    /// A track of a kind the file cannot hold (video in a WAV file), or a second track.
    #[error("a {0:?} file cannot take this track")]
    TrackNotAccepted(ContainerKind),
    /// The file name has no extension this crate knows.
    #[error("unknown media file extension")]
    UnknownExtension,
    /// An MP4 or MKV file without the `ffmpeg` cargo feature.
    #[error("MP4 and MKV need the ffmpeg feature")]
    NeedsFfmpeg,
    /// A player in passthrough mode (no decoding) was given a file it cannot pass through:
    /// raw Y4M or WAV, or MP4/MKV; IVF, Ogg/Opus and WebM are passed through.
    #[error("{0} files cannot be played without decoding (passthrough reads IVF, Ogg and WebM)")]
    NoPassthrough(String),
    /// FFmpeg could not read or write the file (its message).
    #[error("FFmpeg: {0}")]
    Ffmpeg(String),
}

/// `read_exact`, telling a clean end (nothing read) from a truncated one.
fn read_exact_or_eof(
    r: &mut impl std::io::Read,
    buf: &mut [u8],
    kind: ContainerKind,
) -> Result<bool, ContainerError> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(ContainerError::Truncated(kind)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}
