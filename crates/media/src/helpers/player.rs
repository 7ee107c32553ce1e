//! Plays a file as a track, in real time.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::codec::{AudioDecoder, Codec, OpusDecoder, VideoDecoder, VpxDecoder};
use crate::container::{
    ContainerError, ContainerKind, IvfReader, OPUS_TIME_BASE, OggOpusReader, WavReader, WebmReader,
    Y4mReader,
};
use crate::error::MediaError;
use crate::frame::{AudioFrame, Frame, MediaKind};
use crate::pool::BufferPool;
use crate::track::{FrameSender, SourceTrack, new_track_id, track_channel};

/// Frames kept in the player's pools.
const POOL_IDLE: usize = 4;

enum Source {
    Y4m(Y4mReader<BufReader<File>>, BufferPool<u8>),
    Ivf(IvfReader<BufReader<File>>, Box<dyn VideoDecoder>),
    Wav(WavReader<BufReader<File>>, BufferPool<i16>),
    Ogg(OggOpusReader<BufReader<File>>, OpusDecoder),
    /// The reader, and the index and decoder of the video track and of the audio track
    /// played (the first of each kind).
    Webm(
        WebmReader<BufReader<File>>,
        Option<(usize, Box<dyn VideoDecoder>)>,
        Option<(usize, OpusDecoder)>,
    ),
    /// MP4 or MKV through FFmpeg.
    #[cfg(feature = "ffmpeg")]
    Ffmpeg(Box<ffmpeg_source::FfmpegSource>),
}

impl Source {
    fn next(&mut self) -> Result<Option<Frame>, MediaError> {
        Ok(match self {
            Source::Y4m(r, pool) => r.read_frame(Some(pool))?.map(Frame::Video),
            Source::Ivf(r, decoder) => loop {
                let Some(packet) = r.read_frame()? else {
                    break None;
                };
                let pts = r
                    .header()
                    .time_base
                    .rescale(packet.pts, crate::TimeBase::VIDEO_90KHZ);
                if let Some(frame) = decoder.decode(&packet.data, pts)? {
                    break Some(Frame::Video(frame));
                }
            },
            Source::Wav(r, pool) => {
                // 20 ms frames, as aiortc's player gives.
                let samples = (r.sample_rate() / 50).max(1) as usize;
                r.read_frame(samples, Some(pool))?.map(Frame::Audio)
            }
            Source::Ogg(r, decoder) => loop {
                // Timestamps at 48 kHz, the first pre-skip samples before zero.
                let Some(packet) = r.read_packet()? else {
                    break None;
                };
                let frame = decoder.decode(&packet.data, packet.pts)?;
                if let Some(frame) = trim_pre_skip(frame)? {
                    break Some(Frame::Audio(frame));
                }
            },
            Source::Webm(r, video, audio) => loop {
                let Some(packet) = r.read_frame()? else {
                    break None;
                };
                match (video.as_mut(), audio.as_mut()) {
                    (Some((track, d)), _) if *track == packet.track => {
                        let pts = r
                            .time_base()
                            .rescale(packet.pts, crate::TimeBase::VIDEO_90KHZ);
                        if let Some(frame) = d.decode(&packet.data, pts)? {
                            break Some(Frame::Video(frame));
                        }
                    }
                    (_, Some((track, d))) if *track == packet.track => {
                        // The track's CodecDelay (its OpusHead pre-skip) is decoder output
                        // that comes before the block times' zero.
                        let pre_skip = r.tracks()[*track].pre_skip;
                        let pts =
                            r.time_base().rescale(packet.pts, OPUS_TIME_BASE) - i64::from(pre_skip);
                        if let Some(frame) = trim_pre_skip(d.decode(&packet.data, pts)?)? {
                            break Some(Frame::Audio(frame));
                        }
                    }
                    _ => {}
                }
            },
            #[cfg(feature = "ffmpeg")]
            Source::Ffmpeg(source) => source.next()?,
        })
    }
}

/// Drops the decoded samples before time zero: the pre-skip an Opus decoder must discard
/// (RFC 7845 §4.2). `None` when the whole frame is before zero.
fn trim_pre_skip(frame: AudioFrame) -> Result<Option<AudioFrame>, MediaError> {
    if frame.pts >= 0 {
        return Ok(Some(frame));
    }
    let skip = usize::try_from(-frame.pts).unwrap_or(usize::MAX);
    if skip >= frame.samples() {
        return Ok(None);
    }
    let channels = usize::from(frame.channels());
    let Some(samples) = frame.s16() else {
        return Ok(Some(frame)); // decoders here give s16
    };
    let mut trimmed = AudioFrame::from_s16(
        frame.sample_rate(),
        frame.channels(),
        samples[skip * channels..].to_vec(),
    )?;
    trimmed.pts = 0;
    trimmed.time_base = frame.time_base;
    Ok(Some(trimmed))
}

/// A decoder for a video track of `codec`.
fn video_decoder(codec: Codec, kind: ContainerKind) -> Result<Box<dyn VideoDecoder>, MediaError> {
    Ok(match codec {
        Codec::Vp8 => Box::new(VpxDecoder::vp8()?),
        Codec::Vp9 => Box::new(VpxDecoder::vp9()?),
        #[cfg(feature = "av1")]
        Codec::Av1 => Box::new(crate::codec::Av1Decoder::new()?),
        _ => return Err(ContainerError::Unsupported(kind).into()),
    })
}

/// Plays a Y4M (raw video), IVF (VP8/VP9, and AV1 with the `av1` feature, decoded), WAV
/// (audio), Ogg/Opus (decoded) or WebM (its first video track and its first Opus track, both
/// decoded, interleaved as the file has them) file as tracks, pacing the
/// frames by their timestamps (aiortc's `MediaPlayer`). Each track ends after its last frame.
///
/// With the `ffmpeg` feature it also plays MP4 and MKV files (`.mp4`, `.m4v`, `.m4a`, `.mov`,
/// `.mkv`, `.mka`): FFmpeg demuxes, and the first video track this crate decodes (H.264
/// through OpenH264, VP8, VP9, AV1) and the first audio track (Opus, G.711, 16-bit PCM) are
/// played. H.264 with B-frames (x264's default in its main and high profiles) does not
/// decode through OpenH264 here: playback stops at the first picture it refuses (make such
/// files with `-bf 0`, or the baseline profile).
///
/// Playback starts when the player is opened; a consumer that falls behind gets the newest
/// frame, as from any [`SourceTrack`]. File reads happen on the playing task (they are small
/// and local; a slow disk delays that task only).
#[derive(Debug)]
pub struct MediaPlayer {
    video: Option<SourceTrack>,
    audio: Option<SourceTrack>,
    /// Whether a track has been taken.
    taken: bool,
    task: JoinHandle<()>,
}

impl MediaPlayer {
    /// Opens `path` (its extension says the format) and starts playing it on a task of the
    /// current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn open(path: impl AsRef<Path>) -> Result<MediaPlayer, MediaError> {
        let path = path.as_ref();
        let Some(kind) = ContainerKind::from_path(path) else {
            return Self::open_ffmpeg(path);
        };
        let file = BufReader::new(File::open(path).map_err(ContainerError::Io)?);
        let source = match kind {
            ContainerKind::Y4m => Source::Y4m(Y4mReader::new(file)?, BufferPool::new(POOL_IDLE)),
            ContainerKind::Ivf => {
                let reader = IvfReader::new(file)?;
                let decoder = video_decoder(reader.header().codec, kind)?;
                Source::Ivf(reader, decoder)
            }
            ContainerKind::Wav => Source::Wav(WavReader::new(file)?, BufferPool::new(POOL_IDLE)),
            ContainerKind::Ogg => {
                let reader = OggOpusReader::new(file)?;
                let decoder = OpusDecoder::new(48_000, u16::from(reader.head().channels))?;
                Source::Ogg(reader, decoder)
            }
            ContainerKind::Webm => {
                let reader = WebmReader::new(file)?;
                let tracks = reader.tracks();
                let video = match tracks.iter().position(|t| t.codec != Codec::Opus) {
                    Some(i) => Some((i, video_decoder(tracks[i].codec, kind)?)),
                    None => None,
                };
                let audio = match tracks.iter().position(|t| t.codec == Codec::Opus) {
                    Some(i) => Some((i, OpusDecoder::new(48_000, tracks[i].channels.clamp(1, 2))?)),
                    None => None,
                };
                if video.is_none() && audio.is_none() {
                    return Err(ContainerError::Unsupported(kind).into());
                }
                Source::Webm(reader, video, audio)
            }
        };
        Ok(Self::play_source(source))
    }

    /// Opens an MP4 or MKV file through FFmpeg.
    #[cfg(feature = "ffmpeg")]
    fn open_ffmpeg(path: &Path) -> Result<MediaPlayer, MediaError> {
        if crate::container::FfmpegFormat::from_path(path).is_none() {
            return Err(ContainerError::UnknownExtension.into());
        }
        let source = ffmpeg_source::FfmpegSource::open(path)?;
        Ok(Self::play_source(Source::Ffmpeg(Box::new(source))))
    }

    /// MP4 and MKV files are refused without the `ffmpeg` feature.
    #[cfg(not(feature = "ffmpeg"))]
    fn open_ffmpeg(path: &Path) -> Result<MediaPlayer, MediaError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ["mp4", "m4v", "m4a", "mov", "mkv", "mka"].contains(&ext.to_ascii_lowercase().as_str()) {
            return Err(ContainerError::NeedsFfmpeg.into());
        }
        Err(ContainerError::UnknownExtension.into())
    }

    /// Starts playing `source`.
    fn play_source(source: Source) -> MediaPlayer {
        let (has_video, has_audio) = match &source {
            Source::Wav(..) | Source::Ogg(..) => (false, true),
            Source::Webm(_, video, audio) => (video.is_some(), audio.is_some()),
            #[cfg(feature = "ffmpeg")]
            Source::Ffmpeg(source) => (source.has_video(), source.has_audio()),
            _ => (true, false),
        };
        let channel = |kind| track_channel(kind, new_track_id());
        let (video_sender, video) = has_video.then(|| channel(MediaKind::Video)).unzip();
        let (audio_sender, audio) = has_audio.then(|| channel(MediaKind::Audio)).unzip();
        let task = tokio::spawn(play(source, video_sender, audio_sender));
        MediaPlayer {
            video,
            audio,
            taken: false,
            task,
        }
    }

    /// The video track, once (`None` for an audio file or if already taken).
    pub fn video(&mut self) -> Option<SourceTrack> {
        let track = self.video.take();
        self.taken |= track.is_some();
        track
    }

    /// The audio track, once (`None` for a video file or if already taken).
    pub fn audio(&mut self) -> Option<SourceTrack> {
        let track = self.audio.take();
        self.taken |= track.is_some();
        track
    }
}

impl Drop for MediaPlayer {
    fn drop(&mut self) {
        // With no track taken, nothing would ever be read: stop playing. A taken track keeps
        // playing until it is stopped or the file ends; an untaken one is dropped here, and
        // the player skips its frames.
        if !self.taken {
            self.task.abort();
        }
    }
}

async fn play(mut source: Source, video: Option<FrameSender>, audio: Option<FrameSender>) {
    let start = Instant::now();
    let (mut video, mut audio) = (video, audio);
    while video.is_some() || audio.is_some() {
        let frame = match source.next() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "media player stopped on a bad frame");
                break;
            }
        };
        let sender = match frame.kind() {
            MediaKind::Video => &mut video,
            MediaKind::Audio => &mut audio,
        };
        let Some(s) = sender.as_ref() else {
            continue; // that track was stopped, or the file has none
        };
        if s.is_closed() {
            *sender = None;
            continue;
        }
        let at = frame.time_base().seconds(frame.pts()).max(0.0);
        tokio::time::sleep_until(start + std::time::Duration::from_secs_f64(at)).await;
        if s.send(frame).is_err() {
            *sender = None; // the track was stopped
        }
    }
}

/// Playing MP4 and MKV files through FFmpeg.
#[cfg(feature = "ffmpeg")]
mod ffmpeg_source {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    use std::path::Path;

    use super::{trim_pre_skip, video_decoder};
    use crate::codec::{
        AudioDecoder, Codec, G711Decoder, G711Law, H264Decoder, OpusDecoder, VideoDecoder,
    };
    use crate::container::{ContainerError, ContainerKind, FfmpegReader, OPUS_TIME_BASE};
    use crate::error::MediaError;
    use crate::frame::{AudioFrame, Frame};
    use crate::time::TimeBase;

    /// The timestamps of the pictures given to a decoder and not out yet, smallest first.
    type Pending = BinaryHeap<Reverse<i64>>;

    /// How an audio track's packets become samples.
    enum Audio {
        Decoder(Box<dyn AudioDecoder>, TimeBase),
        /// 16-bit little-endian PCM: the sample rate and channel count.
        Pcm(u32, u16),
    }

    /// The reader, the first video track (its decoder, and the timestamps of the frames given
    /// to it, smallest first: with B-frames pictures come out in another order than packets
    /// go in) and the first audio track this crate can decode.
    pub(super) struct FfmpegSource {
        reader: FfmpegReader,
        video: Option<(usize, Box<dyn VideoDecoder>, Pending)>,
        audio: Option<(usize, Audio)>,
    }

    impl FfmpegSource {
        pub(super) fn open(path: &Path) -> Result<FfmpegSource, MediaError> {
            let reader = FfmpegReader::open(path)?;
            let tracks = reader.tracks();
            let mut video = None;
            let mut audio = None;
            for (i, t) in tracks.iter().enumerate() {
                match t.codec {
                    Some(codec) if t.video && video.is_none() => {
                        let decoder: Box<dyn VideoDecoder> = match codec {
                            Codec::H264 => Box::new(H264Decoder::new()?),
                            // The kind only names the format in an error.
                            _ => video_decoder(codec, ContainerKind::Webm)?,
                        };
                        video = Some((i, decoder, BinaryHeap::new()));
                    }
                    Some(codec) if !t.video && audio.is_none() => {
                        let decoder: Box<dyn AudioDecoder> = match codec {
                            Codec::Opus => {
                                Box::new(OpusDecoder::new(48_000, t.channels.clamp(1, 2))?)
                            }
                            Codec::Pcmu => Box::new(G711Decoder::new(G711Law::MuLaw)),
                            Codec::Pcma => Box::new(G711Decoder::new(G711Law::ALaw)),
                            _ => continue,
                        };
                        let clock = match codec {
                            Codec::Opus => OPUS_TIME_BASE,
                            _ => TimeBase::per_sample(8_000).unwrap_or(OPUS_TIME_BASE),
                        };
                        audio = Some((i, Audio::Decoder(decoder, clock)));
                    }
                    None if t.pcm_s16le && audio.is_none() && t.sample_rate > 0 => {
                        audio = Some((i, Audio::Pcm(t.sample_rate, t.channels.max(1))));
                    }
                    _ => {}
                }
            }
            if video.is_none() && audio.is_none() {
                return Err(ContainerError::Ffmpeg("no track this crate can play".into()).into());
            }
            Ok(FfmpegSource {
                reader,
                video,
                audio,
            })
        }

        pub(super) fn has_video(&self) -> bool {
            self.video.is_some()
        }

        pub(super) fn has_audio(&self) -> bool {
            self.audio.is_some()
        }

        pub(super) fn next(&mut self) -> Result<Option<Frame>, MediaError> {
            loop {
                let Some(packet) = self.reader.read_packet()? else {
                    return Ok(None);
                };
                let time_base = self.reader.tracks()[packet.track].time_base;
                match (self.video.as_mut(), self.audio.as_mut()) {
                    (Some((track, decoder, pending)), _) if *track == packet.track => {
                        let pts = time_base.rescale(packet.pts, TimeBase::VIDEO_90KHZ);
                        pending.push(Reverse(pts));
                        if let Some(mut frame) = decoder.decode(&packet.data, pts)? {
                            if let Some(Reverse(pts)) = pending.pop() {
                                frame.pts = pts;
                            }
                            return Ok(Some(Frame::Video(frame)));
                        }
                    }
                    (_, Some((track, audio))) if *track == packet.track => {
                        let frame = match audio {
                            Audio::Decoder(decoder, clock) => {
                                let pts = time_base.rescale(packet.pts, *clock);
                                decoder.decode(&packet.data, pts)?
                            }
                            Audio::Pcm(rate, channels) => {
                                let samples = packet
                                    .data
                                    .chunks_exact(2)
                                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                                    .collect();
                                let mut frame = AudioFrame::from_s16(*rate, *channels, samples)?;
                                let clock = TimeBase::per_sample(*rate).unwrap_or(OPUS_TIME_BASE);
                                frame.pts = time_base.rescale(packet.pts, clock);
                                frame.time_base = clock;
                                frame
                            }
                        };
                        if let Some(frame) = trim_pre_skip(frame)? {
                            return Ok(Some(Frame::Audio(frame)));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}
