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
        let kind = ContainerKind::from_path(path).ok_or(ContainerError::UnknownExtension)?;
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
        let (has_video, has_audio) = match &source {
            Source::Wav(..) | Source::Ogg(..) => (false, true),
            Source::Webm(_, video, audio) => (video.is_some(), audio.is_some()),
            _ => (true, false),
        };
        let channel = |kind| track_channel(kind, new_track_id());
        let (video_sender, video) = has_video.then(|| channel(MediaKind::Video)).unzip();
        let (audio_sender, audio) = has_audio.then(|| channel(MediaKind::Audio)).unzip();
        let task = tokio::spawn(play(source, video_sender, audio_sender));
        Ok(MediaPlayer {
            video,
            audio,
            taken: false,
            task,
        })
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
