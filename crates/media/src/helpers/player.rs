//! Plays a file as a track, in real time.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::codec::{Codec, VideoDecoder, VpxDecoder};
use crate::container::{ContainerError, ContainerKind, IvfReader, WavReader, Y4mReader};
use crate::error::MediaError;
use crate::frame::{Frame, MediaKind};
use crate::pool::BufferPool;
use crate::track::{FrameSender, SourceTrack, new_track_id, track_channel};

/// Frames kept in the player's pools.
const POOL_IDLE: usize = 4;

enum Source {
    Y4m(Y4mReader<BufReader<File>>, BufferPool<u8>),
    Ivf(IvfReader<BufReader<File>>, VpxDecoder),
    Wav(WavReader<BufReader<File>>, BufferPool<i16>),
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
        })
    }
}

/// Plays a Y4M (raw video), IVF (VP8/VP9, decoded) or WAV (audio) file as a track, pacing the
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
                let decoder = match reader.header().codec {
                    Codec::Vp9 => VpxDecoder::vp9()?,
                    _ => VpxDecoder::vp8()?,
                };
                Source::Ivf(reader, decoder)
            }
            ContainerKind::Wav => Source::Wav(WavReader::new(file)?, BufferPool::new(POOL_IDLE)),
        };
        let media = if kind == ContainerKind::Wav {
            MediaKind::Audio
        } else {
            MediaKind::Video
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
