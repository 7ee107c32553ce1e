//! MP4 and Matroska (MKV) through the system's FFmpeg libraries (`ffmpeg-next`), demuxing and
//! muxing only: frames are encoded and decoded by this crate's codecs.
//!
//! Only with the `ffmpeg` cargo feature. Debian's FFmpeg is built with GPL parts
//! (`--enable-gpl`), so a program linked against it is distributed under the GPL.

use std::path::Path;
use std::sync::Once;

use ffmpeg_next as ff;

use super::ContainerError;
use crate::codec::{Codec, EncodedFrame};
use crate::time::TimeBase;

/// A format written and read through FFmpeg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FfmpegFormat {
    /// ISO base media (MP4): H.264, VP9 or AV1 video and Opus audio.
    Mp4,
    /// Matroska: VP8, VP9, H.264 or AV1 video and Opus audio.
    Mkv,
}

impl FfmpegFormat {
    /// The format a file name's extension names (`.mp4`, `.m4v`, `.mkv`, any case).
    pub fn from_path(path: &Path) -> Option<FfmpegFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "mp4" | "m4v" | "m4a" | "mov" => Some(FfmpegFormat::Mp4),
            "mkv" | "mka" => Some(FfmpegFormat::Mkv),
            _ => None,
        }
    }

    /// FFmpeg's muxer name.
    fn muxer(self) -> &'static str {
        match self {
            FfmpegFormat::Mp4 => "mp4",
            FfmpegFormat::Mkv => "matroska",
        }
    }

    /// Whether the format takes a stream of `codec` (as FFmpeg 5.1's muxers do).
    pub fn takes(self, codec: Codec) -> bool {
        match self {
            FfmpegFormat::Mp4 => {
                matches!(codec, Codec::H264 | Codec::Vp9 | Codec::Av1 | Codec::Opus)
            }
            FfmpegFormat::Mkv => {
                matches!(
                    codec,
                    Codec::Vp8 | Codec::Vp9 | Codec::H264 | Codec::Av1 | Codec::Opus
                )
            }
        }
    }
}

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // Only registers codecs in old FFmpeg versions; never fails in 5.1. FFmpeg's own
        // messages are silenced: its errors come back as `ContainerError::Ffmpeg`.
        let _ = ff::init();
        ff::util::log::set_level(ff::util::log::Level::Fatal);
    });
}

fn error(e: ff::Error) -> ContainerError {
    ContainerError::Ffmpeg(e.to_string())
}

/// What a stream of a file read through FFmpeg carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FfmpegTrack {
    /// The codec, when it is one this crate handles (`None`: the stream is skipped).
    pub codec: Option<Codec>,
    /// Uncompressed 16-bit little-endian PCM audio (`codec` is `None` then).
    pub pcm_s16le: bool,
    /// True for a video stream.
    pub video: bool,
    /// Picture width, for video.
    pub width: u32,
    /// Picture height, for video.
    pub height: u32,
    /// Sample rate, for audio.
    pub sample_rate: u32,
    /// Channel count, for audio.
    pub channels: u16,
    /// The unit of the stream's timestamps.
    pub time_base: TimeBase,
    /// The codec's setup data (avcC for H.264 in MP4/MKV, OpusHead for Opus).
    pub extradata: Vec<u8>,
}

/// A packet read from a file through FFmpeg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FfmpegPacket {
    /// The index of its track in [`FfmpegReader::tracks`].
    pub track: usize,
    /// The frame's bitstream; H.264 comes as an Annex B byte stream (start codes), with the
    /// parameter sets before each key frame.
    pub data: Vec<u8>,
    /// Presentation timestamp, in the track's `time_base`; audio before zero is decoder
    /// delay (Opus pre-skip) to drop.
    pub pts: i64,
    /// True for a frame that decodes without earlier ones.
    pub key_frame: bool,
}

/// The setup of H.264 in MP4/MKV (`avcC`): NAL unit lengths, not start codes, in packets.
#[derive(Debug, Clone)]
struct Avcc {
    length_size: usize,
    /// SPS and PPS as Annex B.
    parameter_sets: Vec<u8>,
}

impl Avcc {
    /// Parses an `AVCDecoderConfigurationRecord` (ISO 14496-15 §5.3.3.1).
    fn parse(b: &[u8]) -> Option<Avcc> {
        if b.len() < 7 || b[0] != 1 {
            return None;
        }
        let length_size = usize::from(b[4] & 3) + 1;
        let mut parameter_sets = Vec::new();
        let mut at = 5;
        for round in 0..2 {
            let count = if round == 0 {
                usize::from(*b.get(at)? & 0x1f)
            } else {
                usize::from(*b.get(at)?)
            };
            at += 1;
            for _ in 0..count {
                let len = usize::from(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]));
                at += 2;
                parameter_sets.extend_from_slice(&[0, 0, 0, 1]);
                parameter_sets.extend_from_slice(b.get(at..at + len)?);
                at += len;
            }
        }
        Some(Avcc {
            length_size,
            parameter_sets,
        })
    }

    /// A packet of length-prefixed NAL units as Annex B; `None` when a length runs past the
    /// end.
    fn to_annex_b(&self, data: &[u8], key_frame: bool) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(data.len() + self.parameter_sets.len() + 16);
        if key_frame {
            out.extend_from_slice(&self.parameter_sets);
        }
        let mut at = 0;
        while at < data.len() {
            let prefix = data.get(at..at + self.length_size)?;
            let len = prefix
                .iter()
                .fold(0usize, |n, &b| (n << 8) | usize::from(b));
            at += self.length_size;
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(data.get(at..at.checked_add(len)?)?);
            at += len;
        }
        Some(out)
    }
}

/// Reads the packets of an MP4, MKV (or any file FFmpeg knows) without decoding them.
pub struct FfmpegReader {
    input: ff::format::context::Input,
    tracks: Vec<FfmpegTrack>,
    avcc: Vec<Option<Avcc>>,
}

impl std::fmt::Debug for FfmpegReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FfmpegReader")
            .field("tracks", &self.tracks)
            .finish_non_exhaustive()
    }
}

impl FfmpegReader {
    /// Opens `path` and reads its stream headers.
    pub fn open(path: impl AsRef<Path>) -> Result<FfmpegReader, ContainerError> {
        init();
        let path = path.as_ref();
        if !path.is_file() {
            // FFmpeg would take a directory or a device name too; only files here.
            std::fs::File::open(path)?;
            return Err(ContainerError::Ffmpeg("not a file".into()));
        }
        let input = ff::format::input(&path).map_err(error)?;
        let mut tracks = Vec::new();
        let mut avcc = Vec::new();
        for stream in input.streams() {
            let params = ffi::StreamParams::of(&stream);
            let id = stream.parameters().id();
            use ff::codec::Id;
            let codec = match id {
                Id::H264 => Some(Codec::H264),
                Id::VP8 => Some(Codec::Vp8),
                Id::VP9 => Some(Codec::Vp9),
                Id::AV1 => Some(Codec::Av1),
                Id::OPUS => Some(Codec::Opus),
                Id::PCM_MULAW => Some(Codec::Pcmu),
                Id::PCM_ALAW => Some(Codec::Pcma),
                Id::ADPCM_G722 => Some(Codec::G722),
                _ => None,
            };
            let video = stream.parameters().medium() == ff::media::Type::Video;
            let tb = stream.time_base();
            let time_base = u32::try_from(tb.numerator())
                .ok()
                .zip(u32::try_from(tb.denominator()).ok())
                .and_then(|(n, d)| TimeBase::new(n, d))
                .ok_or(ContainerError::Ffmpeg("stream without a time base".into()))?;
            avcc.push(match codec {
                Some(Codec::H264) => Avcc::parse(&params.extradata),
                _ => None,
            });
            tracks.push(FfmpegTrack {
                codec,
                pcm_s16le: id == Id::PCM_S16LE,
                video,
                width: params.width,
                height: params.height,
                sample_rate: params.sample_rate,
                channels: params.channels,
                time_base,
                extradata: params.extradata,
            });
        }
        Ok(FfmpegReader {
            input,
            tracks,
            avcc,
        })
    }

    /// The file's streams, in order.
    pub fn tracks(&self) -> &[FfmpegTrack] {
        &self.tracks
    }

    /// The next packet of any track, in file order; `None` at the end.
    pub fn read_packet(&mut self) -> Result<Option<FfmpegPacket>, ContainerError> {
        let mut packet = ff::Packet::empty();
        loop {
            match packet.read(&mut self.input) {
                Ok(()) => {}
                Err(ff::Error::Eof) => return Ok(None),
                Err(e) => return Err(error(e)),
            }
            let track = packet.stream();
            let Some(data) = packet.data() else {
                continue;
            };
            let key_frame = packet.is_key();
            let data = match self.avcc.get(track) {
                Some(Some(avcc)) => avcc
                    .to_annex_b(data, key_frame)
                    .ok_or(ContainerError::Ffmpeg("bad H.264 NAL unit length".into()))?,
                _ => data.to_vec(),
            };
            let Some(pts) = packet.pts().or(packet.dts()) else {
                continue; // a packet with no time cannot be played
            };
            return Ok(Some(FfmpegPacket {
                track,
                data,
                pts,
                key_frame,
            }));
        }
    }
}

/// A stream to write with [`FfmpegWriter::add_track`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FfmpegTrackSpec {
    /// The codec of the frames (ignored for PCM).
    pub codec: Codec,
    /// Uncompressed 16-bit little-endian PCM audio (MKV only), at `sample_rate` with
    /// `channels`: frames are the interleaved samples, their `pts` counted in samples.
    pub pcm_s16le: bool,
    /// Sample rate, for PCM.
    pub sample_rate: u32,
    /// Picture width, for video.
    pub width: u32,
    /// Picture height, for video.
    pub height: u32,
    /// Channel count, for audio.
    pub channels: u16,
    /// The codec's setup data: for Opus the OpusHead (made from `channels` when empty), for
    /// H.264 the Annex B SPS and PPS of the first key frame (see
    /// [`h264_parameter_sets`]).
    pub extradata: Vec<u8>,
}

/// The SPS and PPS NAL units of an Annex B H.264 frame, with their start codes: the setup
/// FFmpeg's MP4 and Matroska muxers turn into the `avcC` record.
pub fn h264_parameter_sets(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut units = Vec::new();
    let mut i = 0;
    let mut start = None;
    while i + 3 <= frame.len() {
        if frame[i] == 0 && frame[i + 1] == 0 && frame[i + 2] == 1 {
            if let Some(s) = start {
                units.push((s, i));
            }
            start = Some(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    if let Some(s) = start {
        units.push((s, frame.len()));
    }
    for (s, mut e) in units {
        // A four-byte start code leaves a zero at the end of the unit before it.
        while e > s && frame[e - 1] == 0 {
            e -= 1;
        }
        if e > s && matches!(frame[s] & 0x1f, 7 | 8) {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(&frame[s..e]);
        }
    }
    out
}

/// Writes encoded frames into an MP4 or MKV file through FFmpeg's muxers. Tracks are added
/// first; the header is written with the first frame. Each frame is held until the next of
/// its track, which gives its duration (the last keeps the one before it), so the file's
/// duration covers the last frame.
pub struct FfmpegWriter {
    output: ff::format::context::Output,
    format: FfmpegFormat,
    /// Per track: its codec, its channel count if PCM, and the frame held.
    tracks: Vec<(Codec, Option<u16>, Option<Held>)>,
    started: bool,
}

#[derive(Debug)]
struct Held {
    frame: EncodedFrame,
    duration: i64,
}

impl std::fmt::Debug for FfmpegWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FfmpegWriter")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl FfmpegWriter {
    /// Creates the file at `path`.
    pub fn create(
        path: impl AsRef<Path>,
        format: FfmpegFormat,
    ) -> Result<FfmpegWriter, ContainerError> {
        init();
        let output = ff::format::output_as(&path.as_ref(), format.muxer()).map_err(error)?;
        Ok(FfmpegWriter {
            output,
            format,
            tracks: Vec::new(),
            started: false,
        })
    }

    /// Adds a track before the first frame; returns its index.
    pub fn add_track(&mut self, spec: &FfmpegTrackSpec) -> Result<usize, ContainerError> {
        if spec.pcm_s16le {
            return self.add_pcm_track(spec);
        }
        if self.started || !self.format.takes(spec.codec) {
            return Err(ContainerError::Ffmpeg(format!(
                "{:?} track not accepted in {:?}",
                spec.codec, self.format
            )));
        }
        let mut stream = self.output.add_stream(None::<ff::Codec>).map_err(error)?;
        let mut spec = spec.clone();
        let (id, time_base) = match spec.codec {
            Codec::H264 => (ff::codec::Id::H264, 90_000),
            Codec::Vp8 => (ff::codec::Id::VP8, 90_000),
            Codec::Vp9 => (ff::codec::Id::VP9, 90_000),
            Codec::Av1 => (ff::codec::Id::AV1, 90_000),
            _ => {
                if spec.extradata.is_empty() {
                    let head = super::OpusHead {
                        channels: spec.channels.clamp(1, 2) as u8,
                        pre_skip: super::OPUS_DEFAULT_PRE_SKIP,
                        input_sample_rate: 48_000,
                        output_gain: 0,
                    };
                    spec.extradata = head.to_bytes().to_vec();
                }
                (ff::codec::Id::OPUS, 48_000)
            }
        };
        stream.set_time_base(ff::Rational::new(1, time_base));
        ffi::set_params(&mut stream, id, &spec);
        self.tracks.push((spec.codec, None, None));
        Ok(self.tracks.len() - 1)
    }

    fn add_pcm_track(&mut self, spec: &FfmpegTrackSpec) -> Result<usize, ContainerError> {
        let rate = i32::try_from(spec.sample_rate).unwrap_or(0);
        if self.started
            || self.format != FfmpegFormat::Mkv
            || rate == 0
            || !(1..=8).contains(&spec.channels)
        {
            return Err(ContainerError::Ffmpeg(format!(
                "PCM track ({} Hz, {} channels) not accepted in {:?}",
                spec.sample_rate, spec.channels, self.format
            )));
        }
        let mut stream = self.output.add_stream(None::<ff::Codec>).map_err(error)?;
        stream.set_time_base(ff::Rational::new(1, rate));
        ffi::set_params(&mut stream, ff::codec::Id::PCM_S16LE, spec);
        self.tracks.push((spec.codec, Some(spec.channels), None));
        Ok(self.tracks.len() - 1)
    }

    /// Writes a frame of track `track`.
    pub fn write_frame(
        &mut self,
        track: usize,
        frame: &EncodedFrame,
    ) -> Result<(), ContainerError> {
        if !self.started {
            if self.tracks.is_empty() {
                return Err(ContainerError::Ffmpeg("no track".into()));
            }
            self.output.write_header().map_err(error)?;
            self.started = true;
        }
        let Some((codec, pcm, held)) = self.tracks.get_mut(track) else {
            return Err(ContainerError::Ffmpeg(format!("no track {track}")));
        };
        let mut frame = frame.clone();
        if *codec == Codec::Opus && pcm.is_none() {
            frame.pts = frame.time_base.rescale(frame.pts, super::OPUS_TIME_BASE);
            frame.time_base = super::OPUS_TIME_BASE;
            // FFmpeg's timestamps put the decoder delay (pre-skip) before zero. Its MP4 muxer
            // keeps them (an edit list skips the delay); Matroska stores block times from
            // zero and the delay as CodecDelay, and FFmpeg's muxer would shift every track
            // by the delay to make the times non-negative.
            if self.format == FfmpegFormat::Mp4 {
                frame.pts -= i64::from(super::OPUS_DEFAULT_PRE_SKIP);
            }
        }
        let next = match held.take() {
            Some(mut h) => {
                let pts = frame.time_base.rescale(frame.pts, h.frame.time_base);
                if pts > h.frame.pts {
                    h.duration = pts - h.frame.pts;
                }
                let duration = h.duration;
                write_packet(&mut self.output, track, &h.frame, h.duration)?;
                duration
            }
            None => 0,
        };
        let duration = if let Some(channels) = *pcm {
            (frame.data.len() / (2 * usize::from(channels))) as i64
        } else if *codec == Codec::Opus {
            super::opus_packet_samples(&frame.data).map_or(next, i64::from)
        } else {
            next
        };
        *held = Some(Held { frame, duration });
        Ok(())
    }

    /// Writes the held frames and the trailer (MP4's index, Matroska's cues and duration).
    pub fn finish(mut self) -> Result<(), ContainerError> {
        if !self.started {
            if self.tracks.is_empty() {
                return Ok(());
            }
            self.output.write_header().map_err(error)?;
        }
        for i in 0..self.tracks.len() {
            if let Some(h) = self.tracks[i].2.take() {
                write_packet(&mut self.output, i, &h.frame, h.duration)?;
            }
        }
        self.output.write_trailer().map_err(error)
    }
}

fn write_packet(
    output: &mut ff::format::context::Output,
    track: usize,
    frame: &EncodedFrame,
    duration: i64,
) -> Result<(), ContainerError> {
    let stream_tb = output
        .stream(track)
        .ok_or(ContainerError::Ffmpeg("stream gone".into()))?
        .time_base();
    let mut packet = ff::Packet::copy(&frame.data);
    packet.set_stream(track);
    packet.set_pts(Some(frame.pts));
    packet.set_dts(Some(frame.pts));
    packet.set_duration(duration);
    if frame.key_frame {
        packet.set_flags(ff::packet::Flags::KEY);
    }
    let from = ff::Rational::new(
        i32::try_from(frame.time_base.num()).unwrap_or(1),
        i32::try_from(frame.time_base.den()).unwrap_or(1),
    );
    packet.rescale_ts(from, stream_tb);
    packet.write_interleaved(output).map_err(error)
}

/// The few fields of FFmpeg's structures that `ffmpeg-next` has no safe accessor for.
#[allow(unsafe_code)]
mod ffi {
    use super::ff;
    use ff::ffi as sys;

    /// A stream's codec parameters.
    pub(super) struct StreamParams {
        pub width: u32,
        pub height: u32,
        pub sample_rate: u32,
        pub channels: u16,
        pub extradata: Vec<u8>,
    }

    impl StreamParams {
        pub(super) fn of(stream: &ff::format::stream::Stream<'_>) -> StreamParams {
            let params = stream.parameters();
            // SAFETY: the parameters point into the stream, which the input context owns and
            // keeps alive while `stream` borrows it; the fields read are plain values, and
            // `extradata` holds `extradata_size` bytes when not null (FFmpeg's invariant).
            unsafe {
                let p = &*params.as_ptr();
                let extradata = if p.extradata.is_null() || p.extradata_size <= 0 {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(p.extradata, p.extradata_size as usize).to_vec()
                };
                StreamParams {
                    width: u32::try_from(p.width).unwrap_or(0),
                    height: u32::try_from(p.height).unwrap_or(0),
                    sample_rate: u32::try_from(p.sample_rate).unwrap_or(0),
                    channels: u16::try_from(p.ch_layout.nb_channels).unwrap_or(0),
                    extradata,
                }
            }
        }
    }

    /// Sets a new stream's codec parameters for muxing.
    pub(super) fn set_params(
        stream: &mut ff::format::stream::StreamMut<'_>,
        id: ff::codec::Id,
        spec: &super::FfmpegTrackSpec,
    ) {
        let video = !spec.pcm_s16le && spec.codec.kind() == crate::frame::MediaKind::Video;
        // SAFETY: the stream was just made by avformat_new_stream, so `codecpar` is a valid
        // allocation owned by it; extradata is allocated with av_mallocz with the padding
        // FFmpeg requires, and freed by FFmpeg with the parameters.
        unsafe {
            let p = &mut *(*stream.as_mut_ptr()).codecpar;
            p.codec_id = id.into();
            if video {
                p.codec_type = sys::AVMediaType::AVMEDIA_TYPE_VIDEO;
                p.width = i32::try_from(spec.width).unwrap_or(0);
                p.height = i32::try_from(spec.height).unwrap_or(0);
                p.format = sys::AVPixelFormat::AV_PIX_FMT_YUV420P as i32;
            } else {
                p.codec_type = sys::AVMediaType::AVMEDIA_TYPE_AUDIO;
                p.sample_rate = if spec.pcm_s16le {
                    i32::try_from(spec.sample_rate).unwrap_or(0)
                } else {
                    48_000
                };
                sys::av_channel_layout_default(
                    &mut p.ch_layout,
                    i32::from(if spec.pcm_s16le {
                        spec.channels
                    } else {
                        spec.channels.clamp(1, 2)
                    }),
                );
                if spec.pcm_s16le {
                    p.bits_per_coded_sample = 16;
                    p.bits_per_raw_sample = 16;
                    p.block_align = 2 * i32::from(spec.channels);
                } else {
                    p.initial_padding = i32::from(super::super::OPUS_DEFAULT_PRE_SKIP);
                }
            }
            if !spec.extradata.is_empty() {
                let len = spec.extradata.len();
                let buf =
                    sys::av_mallocz(len + sys::AV_INPUT_BUFFER_PADDING_SIZE as usize) as *mut u8;
                if !buf.is_null() {
                    std::ptr::copy_nonoverlapping(spec.extradata.as_ptr(), buf, len);
                    p.extradata = buf;
                    p.extradata_size = i32::try_from(len).unwrap_or(0);
                }
            }
        }
    }
}
