//! Errors, one enum per family of operations: building and converting frames
//! ([`FrameError`]), encoding and decoding ([`CodecError`]), receiving from a track
//! ([`MediaError`]).

use crate::frame::PixelFormat;

/// A frame that cannot be built or converted as asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A width or height of zero, or one too large to address.
    #[error("invalid frame dimensions {width}x{height}")]
    InvalidDimensions {
        /// The width asked for.
        width: u32,
        /// The height asked for.
        height: u32,
    },
    /// A plane (or packed RGB image) shorter than its stride and height need.
    #[error("plane {plane} holds {actual} bytes, {expected} needed")]
    PlaneTooSmall {
        /// The plane's index (0 for a packed RGB image).
        plane: usize,
        /// The bytes needed.
        expected: usize,
        /// The bytes given.
        actual: usize,
    },
    /// A stride shorter than one row of the plane.
    #[error("plane {plane} stride {stride} is below the row length {row}")]
    StrideTooSmall {
        /// The plane's index (0 for a packed RGB image).
        plane: usize,
        /// The stride given.
        stride: usize,
        /// The row length in bytes.
        row: usize,
    },
    /// The number of planes given does not match the pixel format.
    #[error("{format:?} has {expected} planes, {actual} given")]
    PlaneCount {
        /// The pixel format.
        format: PixelFormat,
        /// Its number of planes.
        expected: usize,
        /// The number given.
        actual: usize,
    },
    /// A sample rate or channel count of zero.
    #[error("invalid audio format: {sample_rate} Hz, {channels} channels")]
    InvalidAudioFormat {
        /// The sample rate.
        sample_rate: u32,
        /// The channel count.
        channels: u16,
    },
    /// Interleaved samples whose count is not a multiple of the channel count.
    #[error("{len} interleaved samples do not divide into {channels} channels")]
    PartialSampleFrame {
        /// The number of samples.
        len: usize,
        /// The channel count.
        channels: u16,
    },
    /// The colour conversion rejected its input.
    #[error("colour conversion failed")]
    Conversion(#[source] yuv::YuvError),
}

/// Which step of a libvpx call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VpxOperation {
    /// Reading the default encoder configuration.
    DefaultConfig,
    /// Creating an encoder.
    EncoderInit,
    /// Creating a decoder.
    DecoderInit,
    /// Setting an encoder control (speed, noise sensitivity, ...).
    Control,
    /// Changing the encoder configuration (bitrate).
    Configure,
    /// Encoding a frame.
    Encode,
    /// Decoding a frame.
    Decode,
}

/// An encoder or decoder that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// libvpx returned an error code (`vpx_codec_err_t`).
    #[error("libvpx {op:?} failed (vpx_codec_err_t {code})")]
    Vpx {
        /// The call that failed.
        op: VpxOperation,
        /// libvpx's `vpx_codec_err_t` value.
        code: u32,
    },
    /// libopus returned an error.
    #[error("libopus failed")]
    Opus(#[source] opus2::Error),
    /// OpenH264 failed (through the `openh264` crate).
    #[error("OpenH264 failed")]
    OpenH264(#[source] openh264::Error),
    /// libdav1d failed (through the `dav1d` crate), or gave a picture other than 8-bit 4:2:0
    /// (reported as its "unsupported bitstream").
    #[cfg(feature = "av1")]
    #[error("libdav1d failed: {0}")]
    Dav1d(#[source] dav1d::Error),
    /// OpenH264 refused an option change (its `CM_RETURN` code).
    #[error("OpenH264 refused an option change (code {0})")]
    OpenH264Option(i32),
    /// A frame whose size differs from the one the encoder was configured for.
    #[error("frame is {actual_width}x{actual_height}, encoder is {width}x{height}")]
    DimensionsChanged {
        /// Configured width.
        width: u32,
        /// Configured height.
        height: u32,
        /// The frame's width.
        actual_width: u32,
        /// The frame's height.
        actual_height: u32,
    },
    /// An audio frame whose rate or channel count differs from the codec's.
    #[error(
        "audio is {actual_rate} Hz x{actual_channels}, codec takes {sample_rate} Hz x{channels}"
    )]
    AudioFormatMismatch {
        /// The codec's sample rate.
        sample_rate: u32,
        /// The codec's channel count.
        channels: u16,
        /// The frame's sample rate.
        actual_rate: u32,
        /// The frame's channel count.
        actual_channels: u16,
    },
    /// A configuration the codec cannot take (a zero size or bitrate, an unsupported rate).
    #[error("invalid codec configuration: {0:?}")]
    InvalidConfig(ConfigProblem),
    /// A frame could not be built from the decoder's output.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// What is wrong with a codec configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// Width or height is zero, odd where the codec needs even, or too large.
    Dimensions,
    /// Bitrate is zero or beyond what the codec takes.
    Bitrate,
    /// Frame rate is zero.
    FrameRate,
    /// A sample rate the codec does not run at.
    SampleRate,
    /// A channel count the codec does not take.
    Channels,
}

/// Why a track gave no frame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The track has ended (stopped, or its source finished).
    #[error("track ended")]
    Ended,
    /// A codec failed.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A frame could not be built or converted.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A file a player reads or a recorder writes failed.
    #[error(transparent)]
    Container(#[from] crate::container::ContainerError),
    /// A user-supplied transform failed.
    #[error("transform failed")]
    Transform(#[source] Box<dyn std::error::Error + Send + Sync>),
}
