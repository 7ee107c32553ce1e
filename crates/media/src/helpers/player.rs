//! Plays a file as a track, in real time.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::codec::{AudioDecoder, Codec, EncodedFrame, OpusDecoder, VideoDecoder, VpxDecoder};
use crate::container::{
    ContainerError, ContainerKind, IvfReader, OPUS_TIME_BASE, OggOpusReader, WavReader, WebmReader,
    Y4mReader, opus_packet_samples,
};
use crate::encoded_track::{
    ENCODED_QUEUE, EncodedFrameSender, EncodedSourceTrack, encoded_track_channel,
};
use crate::error::MediaError;
use crate::frame::{AudioFrame, Frame, MediaKind};
use crate::pool::BufferPool;
use crate::time::TimeBase;
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
    /// Encoded frames as the file has them (passthrough).
    Packets(Packets),
}

/// What a player hands to its tracks: a decoded frame, or an encoded one of a kind.
enum Item {
    Frame(Frame),
    Packet(MediaKind, EncodedFrame),
}

impl Item {
    fn kind(&self) -> MediaKind {
        match self {
            Item::Frame(f) => f.kind(),
            Item::Packet(kind, _) => *kind,
        }
    }

    fn time_base(&self) -> TimeBase {
        match self {
            Item::Frame(f) => f.time_base(),
            Item::Packet(_, p) => p.time_base,
        }
    }

    fn pts(&self) -> i64 {
        match self {
            Item::Frame(f) => f.pts(),
            Item::Packet(_, p) => p.pts,
        }
    }

    fn set_pts(&mut self, pts: i64) {
        match self {
            Item::Frame(f) => f.set_pts(pts),
            Item::Packet(_, p) => p.pts = pts,
        }
    }

    /// The item's duration in seconds when it says (audio), else `None`.
    fn duration(&self) -> Option<f64> {
        match self {
            Item::Frame(Frame::Audio(a)) => {
                Some(a.samples() as f64 / f64::from(a.sample_rate().max(1)))
            }
            Item::Packet(MediaKind::Audio, p) => {
                opus_packet_samples(&p.data).map(|n| f64::from(n) / 48_000.0)
            }
            _ => None,
        }
    }
}

/// The encoded frames of a file, `pts` on the codec's RTP clock: 90 kHz for video, 48 kHz
/// for Opus.
enum Packets {
    /// The reader, and whether the next frame is the file's first.
    Ivf(IvfReader<BufReader<File>>, bool),
    Ogg(OggOpusReader<BufReader<File>>),
    /// The reader, and the index of the video track and of the Opus track played.
    Webm(WebmReader<BufReader<File>>, Option<usize>, Option<usize>),
}

/// Whether a VP8, VP9 (or, for the file's first frame, AV1) frame is a key frame, from its
/// first header byte (RFC 6386 §9.1; the VP9 uncompressed header).
fn is_key_frame(codec: Codec, data: &[u8], first: bool) -> bool {
    let Some(&b) = data.first() else {
        return false;
    };
    match codec {
        Codec::Vp8 => b & 1 == 0,
        Codec::Vp9 => {
            // frame_marker (2 bits), profile_low_bit, profile_high_bit, [reserved_zero when
            // profile 3], show_existing_frame, frame_type (0: key frame); MSB first.
            let bit = |i: u32| (b >> (7 - i)) & 1;
            let profile = bit(2) | (bit(3) << 1);
            let at = if profile == 3 { 5 } else { 4 };
            b >> 6 == 2 && bit(at) == 0 && bit(at + 1) == 0
        }
        _ => first,
    }
}

impl Packets {
    fn next(&mut self) -> Result<Option<Item>, MediaError> {
        Ok(match self {
            Packets::Ivf(r, first) => {
                let Some(frame) = r.read_frame()? else {
                    return Ok(None);
                };
                let header = r.header();
                let key_frame = is_key_frame(header.codec, &frame.data, *first);
                *first = false;
                Some(Item::Packet(
                    MediaKind::Video,
                    EncodedFrame {
                        pts: header.time_base.rescale(frame.pts, TimeBase::VIDEO_90KHZ),
                        data: frame.data,
                        time_base: TimeBase::VIDEO_90KHZ,
                        key_frame,
                    },
                ))
            }
            Packets::Ogg(r) => r.read_packet()?.map(|p| {
                Item::Packet(
                    MediaKind::Audio,
                    EncodedFrame {
                        data: p.data,
                        pts: p.pts,
                        time_base: OPUS_TIME_BASE,
                        key_frame: true,
                    },
                )
            }),
            Packets::Webm(r, video, audio) => loop {
                let Some(f) = r.read_frame()? else {
                    break None;
                };
                let (kind, clock) = if Some(f.track) == *video {
                    (MediaKind::Video, TimeBase::VIDEO_90KHZ)
                } else if Some(f.track) == *audio {
                    (MediaKind::Audio, OPUS_TIME_BASE)
                } else {
                    continue;
                };
                break Some(Item::Packet(
                    kind,
                    EncodedFrame {
                        pts: r.time_base().rescale(f.pts, clock),
                        data: f.data,
                        time_base: clock,
                        key_frame: f.key_frame || kind == MediaKind::Audio,
                    },
                ));
            },
        })
    }

    /// The codecs of the video and audio tracks played.
    fn codecs(&self) -> (Option<Codec>, Option<Codec>) {
        match self {
            Packets::Ivf(r, _) => (Some(r.header().codec), None),
            Packets::Ogg(_) => (None, Some(Codec::Opus)),
            Packets::Webm(r, v, a) => (
                v.map(|i| r.tracks()[i].codec),
                a.map(|i| r.tracks()[i].codec),
            ),
        }
    }
}

impl Source {
    fn next(&mut self) -> Result<Option<Item>, MediaError> {
        if let Source::Packets(p) = self {
            return p.next();
        }
        Ok(self.next_frame()?.map(Item::Frame))
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, MediaError> {
        Ok(match self {
            Source::Packets(_) => None,
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

/// How a [`MediaPlayer`] plays: decoded or passed through, once or in a loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayerOptions {
    looping: bool,
    decode: bool,
}

impl Default for PlayerOptions {
    /// Decoded, played once.
    fn default() -> Self {
        PlayerOptions {
            looping: false,
            decode: true,
        }
    }
}

impl PlayerOptions {
    /// Decoded, played once (aiortc's defaults).
    #[must_use]
    pub fn new() -> PlayerOptions {
        PlayerOptions::default()
    }

    /// Plays the file again from its start when it ends, for ever (aiortc's `loop=True`):
    /// timestamps go on rising, each pass starting where the one before ended.
    #[must_use]
    pub fn with_loop(mut self, looping: bool) -> PlayerOptions {
        self.looping = looping;
        self
    }

    /// With `false`, frames are not decoded (aiortc's `decode=False`): the player's tracks are
    /// [`MediaPlayer::encoded_video`] and [`MediaPlayer::encoded_audio`], yielding the file's
    /// encoded frames. IVF, Ogg/Opus and WebM files only.
    #[must_use]
    pub fn with_decode(mut self, decode: bool) -> PlayerOptions {
        self.decode = decode;
        self
    }
}

/// Plays a Y4M (raw video), IVF (VP8/VP9, and AV1 with the `av1` feature, decoded), WAV
/// (audio), Ogg/Opus (decoded) or WebM (its first video track and its first Opus track, both
/// decoded, interleaved as the file has them) file as tracks, pacing the
/// frames by their timestamps (aiortc's `MediaPlayer`). Each track ends after its last frame,
/// or, with [`PlayerOptions::with_loop`], the file plays again.
///
/// With the `ffmpeg` feature it also plays MP4 and MKV files (`.mp4`, `.m4v`, `.m4a`, `.mov`,
/// `.mkv`, `.mka`): FFmpeg demuxes, and the first video track this crate decodes (H.264
/// through OpenH264, VP8, VP9, AV1) and the first audio track (Opus, G.711, 16-bit PCM) are
/// played. H.264 with B-frames (x264's default in its main and high profiles) does not
/// decode through OpenH264 here: playback stops at the first picture it refuses (make such
/// files with `-bf 0`, or the baseline profile).
///
/// **Passthrough** ([`PlayerOptions::with_decode`]`(false)`, aiortc's `decode=False`): IVF,
/// Ogg/Opus and WebM files are not decoded; their encoded frames are yielded at the same
/// real-time pace by [`EncodedSourceTrack`]s ([`MediaPlayer::encoded_video`],
/// [`MediaPlayer::encoded_audio`]), `pts` on the RTP clock (90 kHz video, 48 kHz Opus). Such
/// tracks queue frames instead of keeping only the newest (see [`crate::EncodedTrack`]).
/// Key frames are those the file marks (WebM) or whose header says so (VP8, VP9; for AV1 in
/// IVF only the first frame). MP4 and MKV are not passed through.
///
/// Playback starts when the player is opened; a consumer that falls behind gets the newest
/// frame, as from any [`SourceTrack`]. File reads happen on the playing task (they are small
/// and local; a slow disk delays that task only).
#[derive(Debug)]
pub struct MediaPlayer {
    video: Option<SourceTrack>,
    audio: Option<SourceTrack>,
    encoded_video: Option<EncodedSourceTrack>,
    encoded_audio: Option<EncodedSourceTrack>,
    /// Whether a track has been taken.
    taken: bool,
    task: JoinHandle<()>,
}

/// Opens `path` as a source of frames (decoded) or packets (passthrough).
fn open_source(path: &Path, options: PlayerOptions) -> Result<Source, MediaError> {
    let Some(kind) = ContainerKind::from_path(path) else {
        if !options.decode {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            return Err(ContainerError::NoPassthrough(ext.to_owned()).into());
        }
        return MediaPlayer::open_ffmpeg(path);
    };
    let file = BufReader::new(File::open(path).map_err(ContainerError::Io)?);
    if !options.decode {
        let packets = match kind {
            ContainerKind::Ivf => Packets::Ivf(IvfReader::new(file)?, true),
            ContainerKind::Ogg => Packets::Ogg(OggOpusReader::new(file)?),
            ContainerKind::Webm => {
                let reader = WebmReader::new(file)?;
                let tracks = reader.tracks();
                let video = tracks.iter().position(|t| t.codec != Codec::Opus);
                let audio = tracks.iter().position(|t| t.codec == Codec::Opus);
                if video.is_none() && audio.is_none() {
                    return Err(ContainerError::Unsupported(kind).into());
                }
                Packets::Webm(reader, video, audio)
            }
            ContainerKind::Y4m | ContainerKind::Wav => {
                return Err(ContainerError::NoPassthrough(format!("{kind:?}")).into());
            }
        };
        return Ok(Source::Packets(packets));
    }
    Ok(match kind {
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
    })
}

impl MediaPlayer {
    /// Opens `path` (its extension says the format) and starts playing it, decoded and once,
    /// on a task of the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn open(path: impl AsRef<Path>) -> Result<MediaPlayer, MediaError> {
        MediaPlayer::open_with(path, PlayerOptions::default())
    }

    /// Opens `path` and starts playing it as `options` say (looping, passthrough).
    ///
    /// # Errors
    /// As [`MediaPlayer::open`]; in passthrough, [`ContainerError::NoPassthrough`] for a
    /// file other than IVF, Ogg or WebM.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn open_with(
        path: impl AsRef<Path>,
        options: PlayerOptions,
    ) -> Result<MediaPlayer, MediaError> {
        let path = path.as_ref();
        let source = open_source(path, options)?;
        let again = options.looping.then(|| (path.to_owned(), options));
        Ok(Self::play_source(source, again))
    }

    /// Opens an MP4 or MKV file through FFmpeg.
    #[cfg(feature = "ffmpeg")]
    fn open_ffmpeg(path: &Path) -> Result<Source, MediaError> {
        if crate::container::FfmpegFormat::from_path(path).is_none() {
            return Err(ContainerError::UnknownExtension.into());
        }
        let source = ffmpeg_source::FfmpegSource::open(path)?;
        Ok(Source::Ffmpeg(Box::new(source)))
    }

    /// MP4 and MKV files are refused without the `ffmpeg` feature.
    #[cfg(not(feature = "ffmpeg"))]
    fn open_ffmpeg(path: &Path) -> Result<Source, MediaError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ["mp4", "m4v", "m4a", "mov", "mkv", "mka"].contains(&ext.to_ascii_lowercase().as_str()) {
            return Err(ContainerError::NeedsFfmpeg.into());
        }
        Err(ContainerError::UnknownExtension.into())
    }

    /// Starts playing `source`; `again` says how to open it again to loop.
    fn play_source(source: Source, again: Option<(PathBuf, PlayerOptions)>) -> MediaPlayer {
        let (has_video, has_audio) = match &source {
            Source::Wav(..) | Source::Ogg(..) => (false, true),
            Source::Webm(_, video, audio) => (video.is_some(), audio.is_some()),
            #[cfg(feature = "ffmpeg")]
            Source::Ffmpeg(source) => (source.has_video(), source.has_audio()),
            Source::Packets(_) => (false, false),
            _ => (true, false),
        };
        let (encoded_video_codec, encoded_audio_codec) = match &source {
            Source::Packets(p) => p.codecs(),
            _ => (None, None),
        };
        let channel = |kind| track_channel(kind, new_track_id());
        let (video_sender, video) = has_video.then(|| channel(MediaKind::Video)).unzip();
        let (audio_sender, audio) = has_audio.then(|| channel(MediaKind::Audio)).unzip();
        let encoded = |codec| encoded_track_channel(codec, new_track_id(), ENCODED_QUEUE);
        let (encoded_video_sender, encoded_video) = encoded_video_codec.map(encoded).unzip();
        let (encoded_audio_sender, encoded_audio) = encoded_audio_codec.map(encoded).unzip();
        let video_out = video_sender
            .map(Out::Frames)
            .or(encoded_video_sender.map(Out::Packets));
        let audio_out = audio_sender
            .map(Out::Frames)
            .or(encoded_audio_sender.map(Out::Packets));
        let task = tokio::spawn(play(source, again, video_out, audio_out));
        MediaPlayer {
            video,
            audio,
            encoded_video,
            encoded_audio,
            taken: false,
            task,
        }
    }

    /// The video track, once (`None` for an audio file, in passthrough, or if already
    /// taken).
    pub fn video(&mut self) -> Option<SourceTrack> {
        let track = self.video.take();
        self.taken |= track.is_some();
        track
    }

    /// The audio track, once (`None` for a video file, in passthrough, or if already taken).
    pub fn audio(&mut self) -> Option<SourceTrack> {
        let track = self.audio.take();
        self.taken |= track.is_some();
        track
    }

    /// In passthrough, the track of the file's encoded video frames, once (`None` when
    /// decoding, for an audio file, or if already taken).
    pub fn encoded_video(&mut self) -> Option<EncodedSourceTrack> {
        let track = self.encoded_video.take();
        self.taken |= track.is_some();
        track
    }

    /// In passthrough, the track of the file's encoded audio frames (Opus), once (`None`
    /// when decoding, for a video file, or if already taken).
    pub fn encoded_audio(&mut self) -> Option<EncodedSourceTrack> {
        let track = self.encoded_audio.take();
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

/// Where a kind's items go.
enum Out {
    Frames(FrameSender),
    Packets(EncodedFrameSender),
}

impl Out {
    fn is_closed(&self) -> bool {
        match self {
            Out::Frames(s) => s.is_closed(),
            Out::Packets(s) => s.is_closed(),
        }
    }

    /// Hands `item` on; `false` when the track has ended.
    fn send(&self, item: Item) -> bool {
        match (self, item) {
            (Out::Frames(s), Item::Frame(f)) => s.send(f).is_ok(),
            (Out::Packets(s), Item::Packet(_, p)) => s.send(p).is_ok(),
            _ => true, // not made: a source gives one sort of item
        }
    }
}

/// Where one pass over the file started and ended, in seconds of the file's time.
#[derive(Default)]
struct PassEnd {
    /// The earliest item's time (an Ogg file's first packet is before zero, by its
    /// pre-skip).
    first: Option<f64>,
    /// Per kind (video, audio): the last item's time and its duration (from the item, or the
    /// gap before it).
    last: [Option<(f64, f64)>; 2],
}

impl PassEnd {
    fn note(&mut self, kind: MediaKind, at: f64, duration: Option<f64>) {
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
        let slot = &mut self.last[usize::from(kind == MediaKind::Audio)];
        let gap = slot.map_or(1.0 / 30.0, |(t, _)| at - t);
        *slot = Some((at, duration.unwrap_or(gap).max(0.0)));
    }

    /// How long the pass lasted, from its first item to the latest end of a kind's last
    /// item; `None` if it had no item.
    fn length(&self) -> Option<f64> {
        let end = self
            .last
            .iter()
            .flatten()
            .map(|(t, d)| t + d)
            .reduce(f64::max)?;
        Some(end - self.first?)
    }
}

async fn play(
    mut source: Source,
    again: Option<(PathBuf, PlayerOptions)>,
    video: Option<Out>,
    audio: Option<Out>,
) {
    let start = Instant::now();
    let (mut video, mut audio) = (video, audio);
    // Where this pass starts, in seconds of play: the sum of the passes before.
    let mut offset = 0.0f64;
    let mut pass = PassEnd::default();
    while video.is_some() || audio.is_some() {
        let mut item = match source.next() {
            Ok(Some(item)) => item,
            Ok(None) => {
                let (Some((path, options)), Some(length)) = (&again, pass.length()) else {
                    break; // played once, or a pass with nothing in it
                };
                match open_source(path, *options) {
                    Ok(s) => source = s,
                    Err(e) => {
                        tracing::warn!(error = %e, "media player could not loop");
                        break;
                    }
                }
                // The next pass's first item comes when this one's last ended.
                offset += length;
                pass = PassEnd::default();
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "media player stopped on a bad frame");
                break;
            }
        };
        let sender = match item.kind() {
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
        let time_base = item.time_base();
        let at = time_base.seconds(item.pts());
        pass.note(item.kind(), at, item.duration());
        if offset > 0.0 {
            let shift = (offset * f64::from(time_base.den()) / f64::from(time_base.num())).round();
            item.set_pts(item.pts() + shift as i64);
        }
        let at = (offset + at).max(0.0);
        tokio::time::sleep_until(start + std::time::Duration::from_secs_f64(at)).await;
        if !s.send(item) {
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
