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
use crate::frame::{Frame, MediaKind};
use crate::pool::BufferPool;
use crate::track::{FrameSender, SourceTrack, new_track_id, track_channel};

/// Frames kept in the player's pools.
const POOL_IDLE: usize = 4;

enum Source {
    Y4m(Y4mReader<BufReader<File>>, BufferPool<u8>),
    Ivf(IvfReader<BufReader<File>>, Box<dyn VideoDecoder>),
    Wav(WavReader<BufReader<File>>, BufferPool<i16>),
    Ogg(OggOpusReader<BufReader<File>>, OpusDecoder),
    /// The reader, the index of the track played, and its decoder.
    Webm(WebmReader<BufReader<File>>, usize, WebmDecoder),
}

enum WebmDecoder {
    Video(Box<dyn VideoDecoder>),
    Audio(OpusDecoder),
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
            Source::Ogg(r, decoder) => match r.read_packet()? {
                // Timestamps at 48 kHz, the first pre-skip samples before zero.
                Some(packet) => Some(Frame::Audio(decoder.decode(&packet.data, packet.pts)?)),
                None => None,
            },
            Source::Webm(r, track, decoder) => loop {
                let Some(packet) = r.read_frame()? else {
                    break None;
                };
                if packet.track != *track {
                    continue;
                }
                match decoder {
                    WebmDecoder::Video(d) => {
                        let pts = r
                            .time_base()
                            .rescale(packet.pts, crate::TimeBase::VIDEO_90KHZ);
                        if let Some(frame) = d.decode(&packet.data, pts)? {
                            break Some(Frame::Video(frame));
                        }
                    }
                    WebmDecoder::Audio(d) => {
                        let pts = r.time_base().rescale(packet.pts, OPUS_TIME_BASE);
                        break Some(Frame::Audio(d.decode(&packet.data, pts)?));
                    }
                }
            },
        })
    }
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

/// Plays a Y4M (raw video), IVF (VP8/VP9, and AV1 with the `av1` feature, decoded), WAV (audio), Ogg/Opus (decoded) or WebM
/// (its VP8/VP9 track, or else its Opus track, decoded) file as a track, pacing the
/// frames by their timestamps (aiortc's `MediaPlayer`). The track ends after the last frame.
///
/// Playback starts when the player is opened; a consumer that falls behind gets the newest
/// frame, as from any [`SourceTrack`]. File reads happen on the playing task (they are small
/// and local; a slow disk delays that task only).
#[derive(Debug)]
pub struct MediaPlayer {
    track: Option<SourceTrack>,
    kind: MediaKind,
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
                // The video track if there is one, else the audio track.
                let tracks = reader.tracks();
                let index = tracks
                    .iter()
                    .position(|t| t.codec != Codec::Opus)
                    .or_else(|| tracks.iter().position(|t| t.codec == Codec::Opus))
                    .ok_or(ContainerError::Unsupported(kind))?;
                let decoder = match tracks[index].codec {
                    Codec::Opus => WebmDecoder::Audio(OpusDecoder::new(
                        48_000,
                        tracks[index].channels.clamp(1, 2),
                    )?),
                    codec => WebmDecoder::Video(video_decoder(codec, kind)?),
                };
                Source::Webm(reader, index, decoder)
            }
        };
        let media = match &source {
            Source::Wav(..) | Source::Ogg(..) | Source::Webm(_, _, WebmDecoder::Audio(_)) => {
                MediaKind::Audio
            }
            _ => MediaKind::Video,
        };
        let (sender, track) = track_channel(media, new_track_id());
        let task = tokio::spawn(play(source, sender));
        Ok(MediaPlayer {
            track: Some(track),
            kind: media,
            task,
        })
    }

    /// The video track, once (`None` for an audio file or if already taken).
    pub fn video(&mut self) -> Option<SourceTrack> {
        if self.kind == MediaKind::Video {
            self.track.take()
        } else {
            None
        }
    }

    /// The audio track, once (`None` for a video file or if already taken).
    pub fn audio(&mut self) -> Option<SourceTrack> {
        if self.kind == MediaKind::Audio {
            self.track.take()
        } else {
            None
        }
    }
}

impl Drop for MediaPlayer {
    fn drop(&mut self) {
        // An untaken track would never be read: stop playing. A taken one keeps playing
        // until it is stopped or the file ends.
        if self.track.is_some() {
            self.task.abort();
        }
    }
}

async fn play(mut source: Source, sender: FrameSender) {
    let start = Instant::now();
    loop {
        let frame = match source.next() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "media player stopped on a bad frame");
                break;
            }
        };
        let at = frame.time_base().seconds(frame.pts()).max(0.0);
        tokio::time::sleep_until(start + std::time::Duration::from_secs_f64(at)).await;
        if sender.send(frame).is_err() {
            break; // the track was stopped
        }
    }
}
