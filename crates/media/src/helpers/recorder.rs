//! Records a track to a file.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use tokio::task::JoinHandle;

use crate::codec::{AudioEncoder, OpusEncoder, VideoEncoder, VideoEncoderConfig, VpxEncoder};
use crate::container::{
    ContainerError, ContainerKind, IvfWriter, OPUS_DEFAULT_PRE_SKIP, OggOpusWriter, OpusHead,
    WavWriter, WebmTrack, WebmWriter, Y4mWriter,
};
use crate::error::MediaError;
use crate::frame::{Frame, MediaKind};
use crate::time::TimeBase;
use crate::track::{BoxTrack, MediaStreamTrack};

/// Writes a track to a Y4M (raw video), IVF (video encoded as VP8, or VP9), WAV (audio), Ogg/Opus
/// (audio encoded as Opus at 64 kbit/s) or WebM (video as VP8 or VP9, or audio as Opus) file
/// (aiortc's `MediaRecorder`). A WebM file holds a video and an audio track; the other
/// formats one track.
///
/// With the `ffmpeg` feature it also writes MP4 (`.mp4`: video as H.264 or VP9, audio as
/// Opus) and MKV (`.mkv`: video as VP8, VP9 or H.264, audio as Opus, or 16-bit PCM with
/// `MediaRecorder::with_pcm_audio`) files through FFmpeg's
/// muxers, each with a video track, an audio track or one of each; without it those
/// extensions give [`crate::container::ContainerError::NeedsFfmpeg`].
///
/// Writing happens on the recording task; [`MediaRecorder::stop`] ends the track, finishes
/// the file (sizes and counts in its header) and reports any error.
#[derive(Debug)]
pub struct MediaRecorder {
    path: PathBuf,
    kind: ContainerKind,
    track: Option<BoxTrack>,
    /// A WebM file's second track (audio with video, or video with audio).
    second: Option<BoxTrack>,
    video_bitrate_bps: u32,
    video_codec: crate::Codec,
    frame_rate: u32,
    /// MP4 or MKV, written through FFmpeg (`kind` is then `Webm`, which takes the same
    /// tracks).
    #[cfg(feature = "ffmpeg")]
    ffmpeg: Option<crate::container::FfmpegFormat>,
    /// MKV audio as 16-bit PCM instead of Opus.
    #[cfg(feature = "ffmpeg")]
    pcm_audio: bool,
    task: Option<JoinHandle<Result<(), MediaError>>>,
}

impl MediaRecorder {
    /// A recorder to `path`, whose extension says the format. The file is created on
    /// [`MediaRecorder::start`].
    pub fn new(path: impl AsRef<Path>) -> Result<MediaRecorder, MediaError> {
        let path = path.as_ref().to_path_buf();
        #[cfg(feature = "ffmpeg")]
        let ffmpeg = match ContainerKind::from_path(&path) {
            Some(_) => None,
            None => crate::container::FfmpegFormat::from_path(&path),
        };
        #[cfg(feature = "ffmpeg")]
        let (kind, video_codec) = match ffmpeg {
            Some(crate::container::FfmpegFormat::Mp4) => (ContainerKind::Webm, crate::Codec::H264),
            Some(crate::container::FfmpegFormat::Mkv) => (ContainerKind::Webm, crate::Codec::Vp8),
            None => (kind_of(&path)?, crate::Codec::Vp8),
        };
        #[cfg(not(feature = "ffmpeg"))]
        let (kind, video_codec) = (kind_of(&path)?, crate::Codec::Vp8);
        Ok(MediaRecorder {
            path,
            kind,
            track: None,
            second: None,
            video_bitrate_bps: 1_000_000,
            video_codec,
            frame_rate: 30,
            #[cfg(feature = "ffmpeg")]
            ffmpeg,
            #[cfg(feature = "ffmpeg")]
            pcm_audio: false,
            task: None,
        })
    }

    /// Sets the video bitrate for IVF and WebM files (1 Mbit/s unless set).
    pub fn with_video_bitrate(mut self, bitrate_bps: u32) -> Self {
        self.video_bitrate_bps = bitrate_bps;
        self
    }

    /// Sets the codec video is encoded with in IVF and WebM files: VP8 (unless set) or VP9;
    /// with the `ffmpeg` feature, in MKV files VP8 (unless set), VP9 or H.264, and in MP4
    /// files H.264 (unless set) or VP9. Other codecs are refused.
    pub fn with_video_codec(mut self, codec: crate::Codec) -> Result<Self, MediaError> {
        #[cfg(feature = "ffmpeg")]
        if let Some(format) = self.ffmpeg {
            if !format.takes(codec) || matches!(codec, crate::Codec::Av1 | crate::Codec::Opus) {
                return Err(ContainerError::Ffmpeg(format!(
                    "{codec:?} is not written to {format:?} here"
                ))
                .into());
            }
            self.video_codec = codec;
            return Ok(self);
        }
        if !matches!(codec, crate::Codec::Vp8 | crate::Codec::Vp9) {
            return Err(ContainerError::Unsupported(self.kind).into());
        }
        self.video_codec = codec;
        Ok(self)
    }

    /// Writes an MKV file's audio as 16-bit PCM (Matroska's `A_PCM/INT/LIT`) at the track's
    /// rate and channel count, instead of Opus (`ffmpeg` feature; other formats refuse it).
    #[cfg(feature = "ffmpeg")]
    pub fn with_pcm_audio(mut self) -> Result<Self, MediaError> {
        if self.ffmpeg != Some(crate::container::FfmpegFormat::Mkv) {
            return Err(ContainerError::Unsupported(self.kind).into());
        }
        self.pcm_audio = true;
        Ok(self)
    }

    /// Sets the frame rate written in Y4M headers and told to the IVF encoder (30 unless set).
    pub fn with_frame_rate(mut self, frame_rate: u32) -> Self {
        self.frame_rate = frame_rate.max(1);
        self
    }

    /// Adds a track to record: video for Y4M and IVF, audio for WAV and Ogg, one per file;
    /// WebM takes a video track, an audio track, or one of each.
    pub fn add_track(&mut self, track: impl MediaStreamTrack + 'static) -> Result<(), MediaError> {
        let wanted = match self.kind {
            ContainerKind::Wav | ContainerKind::Ogg => Some(MediaKind::Audio),
            ContainerKind::Webm => None,
            _ => Some(MediaKind::Video),
        };
        if wanted.is_some_and(|k| track.kind() != k) {
            return Err(ContainerError::TrackNotAccepted(self.kind).into());
        }
        match &self.track {
            None => self.track = Some(BoxTrack::new(track)),
            Some(first)
                if self.kind == ContainerKind::Webm
                    && self.second.is_none()
                    && first.kind() != track.kind() =>
            {
                self.second = Some(BoxTrack::new(track));
            }
            Some(_) => return Err(ContainerError::TrackNotAccepted(self.kind).into()),
        }
        Ok(())
    }

    /// Creates the file and starts recording on a task of the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn start(&mut self) -> Result<(), MediaError> {
        let Some(track) = self.track.clone() else {
            return Ok(());
        };
        #[cfg(feature = "ffmpeg")]
        if let Some(format) = self.ffmpeg {
            let writer = crate::container::FfmpegWriter::create(&self.path, format)?;
            let video = VideoSettings {
                codec: self.video_codec,
                bitrate_bps: self.video_bitrate_bps,
                frame_rate: self.frame_rate,
            };
            let tracks = std::iter::once(track).chain(self.second.clone()).collect();
            self.task = Some(tokio::spawn(ffmpeg_sink::record(
                tracks,
                writer,
                video,
                self.pcm_audio,
            )));
            return Ok(());
        }
        let file = BufWriter::new(File::create(&self.path).map_err(ContainerError::Io)?);
        let video = VideoSettings {
            codec: self.video_codec,
            bitrate_bps: self.video_bitrate_bps,
            frame_rate: self.frame_rate,
        };
        self.task = Some(match self.second.clone() {
            Some(second) => tokio::spawn(record_webm_av(track, second, file, video)),
            None => tokio::spawn(record(track, file, self.kind, video)),
        });
        Ok(())
    }

    /// Waits for the recorded tracks to end by themselves (a [`crate::MediaPlayer`] reaching the
    /// end of its file), then for the file to be finished, and reports how recording went.
    pub async fn wait(&mut self) -> Result<(), MediaError> {
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Err(MediaError::Ended)),
            None => Ok(()),
        }
    }

    /// Stops the tracks, waits for the file to be finished, and reports how recording went.
    pub async fn stop(&mut self) -> Result<(), MediaError> {
        for track in self.track.iter().chain(&self.second) {
            track.stop();
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Err(MediaError::Ended)),
            None => Ok(()),
        }
    }
}

/// The format a path's extension names; MP4 and MKV only with the `ffmpeg` feature.
fn kind_of(path: &Path) -> Result<ContainerKind, MediaError> {
    if let Some(kind) = ContainerKind::from_path(path) {
        return Ok(kind);
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let ext = ext.to_ascii_lowercase();
    if ["mp4", "m4v", "m4a", "mov", "mkv", "mka"].contains(&ext.as_str()) {
        return Err(ContainerError::NeedsFfmpeg.into());
    }
    Err(ContainerError::UnknownExtension.into())
}

enum Sink {
    Y4m(Y4mWriter<BufWriter<File>>),
    Ivf(
        IvfWriter<BufWriter<File>>,
        VpxEncoder,
        Vec<crate::codec::EncodedFrame>,
    ),
    Wav(WavWriter<BufWriter<File>>),
    Ogg(
        OggOpusWriter<BufWriter<File>>,
        OpusEncoder,
        Vec<crate::codec::EncodedFrame>,
    ),
    WebmVideo(
        WebmWriter<BufWriter<File>>,
        VpxEncoder,
        Vec<crate::codec::EncodedFrame>,
    ),
    WebmAudio(
        WebmWriter<BufWriter<File>>,
        OpusEncoder,
        Vec<crate::codec::EncodedFrame>,
    ),
}

/// The Opus bitrate of Ogg and WebM recordings.
const OPUS_BITRATE_BPS: u32 = 64_000;

/// How video is encoded for IVF and WebM.
#[derive(Debug, Clone, Copy)]
struct VideoSettings {
    codec: crate::Codec,
    bitrate_bps: u32,
    frame_rate: u32,
}

fn vpx_encoder(
    video: VideoSettings,
    width: u32,
    height: u32,
) -> Result<VpxEncoder, crate::CodecError> {
    let config = VideoEncoderConfig {
        width,
        height,
        bitrate_bps: video.bitrate_bps,
        frame_rate: video.frame_rate,
    };
    match video.codec {
        crate::Codec::Vp9 => VpxEncoder::vp9(config),
        _ => VpxEncoder::vp8(config),
    }
}

async fn record(
    track: BoxTrack,
    file: BufWriter<File>,
    kind: ContainerKind,
    video: VideoSettings,
) -> Result<(), MediaError> {
    let frame_rate = video.frame_rate;
    let mut file = Some(file);
    let mut sink: Option<Sink> = None;
    let result = loop {
        let frame = match track.recv().await {
            Ok(frame) => frame,
            Err(MediaError::Ended) => break Ok(()),
            Err(e) => break Err(e),
        };
        // The writer is made on the first frame, which gives the size or rate.
        if sink.is_none() {
            let Some(file) = file.take() else {
                break Ok(());
            };
            sink = Some(match (&frame, kind) {
                (Frame::Video(v), ContainerKind::Y4m) => Sink::Y4m(Y4mWriter::new(
                    file,
                    v.width(),
                    v.height(),
                    (frame_rate, 1),
                )?),
                (Frame::Video(v), ContainerKind::Ivf) => {
                    let (w, h) = (
                        u16::try_from(v.width())
                            .map_err(|_| ContainerError::FrameMismatch(kind))?,
                        u16::try_from(v.height())
                            .map_err(|_| ContainerError::FrameMismatch(kind))?,
                    );
                    let writer = IvfWriter::new(file, video.codec, w, h, TimeBase::VIDEO_90KHZ)?;
                    Sink::Ivf(
                        writer,
                        vpx_encoder(video, v.width(), v.height())?,
                        Vec::new(),
                    )
                }
                (Frame::Audio(a), ContainerKind::Wav) => {
                    Sink::Wav(WavWriter::new(file, a.sample_rate(), a.channels())?)
                }
                (Frame::Audio(a), ContainerKind::Ogg) => {
                    let encoder =
                        OpusEncoder::new(a.sample_rate(), a.channels(), OPUS_BITRATE_BPS)?;
                    let head = OpusHead {
                        channels: a.channels() as u8,
                        pre_skip: OPUS_DEFAULT_PRE_SKIP,
                        input_sample_rate: a.sample_rate(),
                        output_gain: 0,
                    };
                    Sink::Ogg(OggOpusWriter::new(file, head, 1)?, encoder, Vec::new())
                }
                (Frame::Audio(a), ContainerKind::Webm) => {
                    let encoder =
                        OpusEncoder::new(a.sample_rate(), a.channels(), OPUS_BITRATE_BPS)?;
                    let writer = WebmWriter::new(file, &[WebmTrack::opus(a.channels())])?;
                    Sink::WebmAudio(writer, encoder, Vec::new())
                }
                (Frame::Video(v), ContainerKind::Webm) => {
                    let writer = WebmWriter::new(
                        file,
                        &[WebmTrack::video(video.codec, v.width(), v.height())],
                    )?;
                    let encoder = vpx_encoder(video, v.width(), v.height())?;
                    Sink::WebmVideo(writer, encoder, Vec::new())
                }
                _ => break Err(ContainerError::TrackNotAccepted(kind).into()),
            });
        }
        let written = match (sink.as_mut(), &frame) {
            (Some(Sink::Y4m(w)), Frame::Video(v)) => w.write_frame(v).map_err(MediaError::from),
            (Some(Sink::Ivf(w, encoder, packets)), Frame::Video(v)) => {
                packets.clear();
                match encoder.encode(v, packets) {
                    Ok(()) => packets
                        .iter()
                        .try_for_each(|p| w.write_frame(p))
                        .map_err(MediaError::from),
                    Err(e) => Err(e.into()),
                }
            }
            (Some(Sink::Wav(w)), Frame::Audio(a)) => w.write_frame(a).map_err(MediaError::from),
            (Some(Sink::Ogg(w, encoder, packets)), Frame::Audio(a)) => {
                packets.clear();
                match encoder.encode(a, packets) {
                    Ok(()) => packets
                        .iter()
                        .try_for_each(|p| w.write_frame(p))
                        .map_err(MediaError::from),
                    Err(e) => Err(e.into()),
                }
            }
            (Some(Sink::WebmAudio(w, encoder, packets)), Frame::Audio(a)) => {
                packets.clear();
                match encoder.encode(a, packets) {
                    Ok(()) => packets
                        .iter()
                        .try_for_each(|p| w.write_frame(0, p))
                        .map_err(MediaError::from),
                    Err(e) => Err(e.into()),
                }
            }
            (Some(Sink::WebmVideo(w, encoder, packets)), Frame::Video(v)) => {
                packets.clear();
                match encoder.encode(v, packets) {
                    Ok(()) => packets
                        .iter()
                        .try_for_each(|p| w.write_frame(0, p))
                        .map_err(MediaError::from),
                    Err(e) => Err(e.into()),
                }
            }
            _ => Err(ContainerError::FrameMismatch(kind).into()),
        };
        if let Err(e) = written {
            break Err(e);
        }
    };
    track.stop();
    let finished = match sink {
        Some(Sink::Y4m(w)) => w.finish().map(drop),
        Some(Sink::Ivf(w, ..)) => w.finish().map(drop),
        Some(Sink::Wav(w)) => w.finish().map(drop),
        Some(Sink::Ogg(w, ..)) => w.finish().map(drop),
        Some(Sink::WebmVideo(w, ..) | Sink::WebmAudio(w, ..)) => w.finish().map(drop),
        None => Ok(()),
    };
    result?;
    finished.map_err(MediaError::from)
}

/// A two-track WebM writer and the indexes of its video and audio tracks (if declared).
type AvSink = (WebmWriter<BufWriter<File>>, Option<usize>, Option<usize>);

/// Frames of one WebM track held until both tracks have shown their format; past this, the
/// file is written without the track that has not started (its frames are then dropped).
const MAX_HELD_FRAMES: usize = 150;

/// Records a video and an audio track into one WebM file. Each track is read by its own task
/// into one small channel (a full channel holds the reader back, so a slow disk makes the
/// source drop frames, never grow a queue); frames are written as they arrive, which is in
/// time order for live sources. The file's tracks are declared when both have given a frame
/// (their size and channel count), or when one has ended or is [`MAX_HELD_FRAMES`] behind.
async fn record_webm_av(
    first: BoxTrack,
    second: BoxTrack,
    file: BufWriter<File>,
    video: VideoSettings,
) -> Result<(), MediaError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Frame>(8);
    let forward = |track: BoxTrack, tx: tokio::sync::mpsc::Sender<Frame>| async move {
        while let Ok(frame) = track.recv().await {
            if tx.send(frame).await.is_err() {
                break;
            }
        }
        track.stop();
    };
    let readers = [
        tokio::spawn(forward(first.clone(), tx.clone())),
        tokio::spawn(forward(second.clone(), tx)),
    ];
    let mut held: Vec<Frame> = Vec::new();
    let mut file = Some(file);
    // The writer, its track indexes for video and audio, and the encoders.
    let mut sink: Option<AvSink> = None;
    let mut vpx: Option<VpxEncoder> = None;
    let mut opus: Option<OpusEncoder> = None;
    let mut packets = Vec::new();
    let result: Result<(), MediaError> = async {
        loop {
            let next = rx.recv().await;
            let done = next.is_none();
            if sink.is_none() {
                if let Some(frame) = next {
                    held.push(frame);
                    let has = |k| held.iter().any(|f: &Frame| f.kind() == k);
                    if !(has(MediaKind::Video) && has(MediaKind::Audio))
                        && held.len() < MAX_HELD_FRAMES
                    {
                        continue;
                    }
                } else if held.is_empty() {
                    return Ok(());
                }
                // Declare the tracks that have started.
                let mut tracks = Vec::new();
                let (mut vi, mut ai) = (None, None);
                if let Some(v) = held.iter().find_map(Frame::as_video) {
                    vi = Some(tracks.len());
                    tracks.push(WebmTrack::video(video.codec, v.width(), v.height()));
                    vpx = Some(vpx_encoder(video, v.width(), v.height())?);
                }
                if let Some(a) = held.iter().find_map(Frame::as_audio) {
                    ai = Some(tracks.len());
                    tracks.push(WebmTrack::opus(a.channels()));
                    opus = Some(OpusEncoder::new(
                        a.sample_rate(),
                        a.channels(),
                        OPUS_BITRATE_BPS,
                    )?);
                }
                let Some(file) = file.take() else {
                    return Ok(());
                };
                sink = Some((WebmWriter::new(file, &tracks)?, vi, ai));
            } else if let Some(frame) = next {
                held.push(frame);
            }
            let Some((writer, vi, ai)) = sink.as_mut() else {
                return Ok(());
            };
            for frame in held.drain(..) {
                packets.clear();
                let index = match (&frame, vpx.as_mut(), opus.as_mut(), *vi, *ai) {
                    (Frame::Video(v), Some(e), _, Some(i), _) => {
                        e.encode(v, &mut packets)?;
                        i
                    }
                    (Frame::Audio(a), _, Some(e), _, Some(i)) => {
                        e.encode(a, &mut packets)?;
                        i
                    }
                    // A track that had not started when the file was declared.
                    _ => continue,
                };
                for p in &packets {
                    writer.write_frame(index, p)?;
                }
            }
            if done {
                // Both readers have ended (their senders dropped) and everything is written.
                return Ok(());
            }
        }
    }
    .await;
    first.stop();
    second.stop();
    for reader in readers {
        reader.abort();
    }
    let finished = match sink {
        Some((w, ..)) => w.finish().map(drop),
        None => Ok(()),
    };
    result?;
    finished.map_err(MediaError::from)
}

/// Recording MP4 and MKV files through FFmpeg.
#[cfg(feature = "ffmpeg")]
mod ffmpeg_sink {
    use super::{MAX_HELD_FRAMES, OPUS_BITRATE_BPS, VideoSettings, vpx_encoder};
    use crate::codec::{
        AudioEncoder, Codec, EncodedFrame, H264Encoder, OpusEncoder, VideoEncoder,
        VideoEncoderConfig,
    };
    use crate::container::{ContainerError, FfmpegTrackSpec, FfmpegWriter, h264_parameter_sets};
    use crate::error::MediaError;
    use crate::frame::{Frame, MediaKind};
    use crate::time::TimeBase;
    use crate::track::{BoxTrack, MediaStreamTrack};

    /// How audio is written: encoded as Opus, or as 16-bit PCM at a rate and channel count.
    enum AudioSink {
        Opus(OpusEncoder),
        Pcm(u32, u16),
    }

    fn video_encoder(
        video: VideoSettings,
        width: u32,
        height: u32,
    ) -> Result<Box<dyn VideoEncoder>, MediaError> {
        Ok(match video.codec {
            Codec::H264 => Box::new(H264Encoder::new(VideoEncoderConfig {
                width,
                height,
                bitrate_bps: video.bitrate_bps,
                frame_rate: video.frame_rate,
            })?),
            _ => Box::new(vpx_encoder(video, width, height)?),
        })
    }

    /// Records one track, or a video and an audio track, into an MP4 or MKV file. As for
    /// WebM, each track is read by its own task into one small channel, and the file's
    /// streams are declared once every track has given a frame (or ended, or
    /// [`MAX_HELD_FRAMES`] are held); H.264's parameter sets come from its first frame.
    pub(super) async fn record(
        tracks: Vec<BoxTrack>,
        mut writer: FfmpegWriter,
        video: VideoSettings,
        pcm: bool,
    ) -> Result<(), MediaError> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Frame>(8);
        let readers: Vec<_> = tracks
            .iter()
            .map(|track| {
                let (track, tx) = (track.clone(), tx.clone());
                tokio::spawn(async move {
                    while let Ok(frame) = track.recv().await {
                        if tx.send(frame).await.is_err() {
                            break;
                        }
                    }
                    track.stop();
                })
            })
            .collect();
        drop(tx);
        let mut held: Vec<Frame> = Vec::new();
        let mut encoded: Vec<(MediaKind, EncodedFrame)> = Vec::new();
        let mut vpx: Option<(Box<dyn VideoEncoder>, u32, u32)> = None;
        let mut opus: Option<(AudioSink, u16)> = None;
        let (mut vi, mut ai) = (None, None);
        let mut encoders_made = false;
        let mut declared = false;
        let mut packets = Vec::new();
        let result: Result<(), MediaError> = async {
            loop {
                let next = rx.recv().await;
                let done = next.is_none();
                if let Some(frame) = next {
                    held.push(frame);
                }
                if !encoders_made {
                    let has = |k| held.iter().any(|f: &Frame| f.kind() == k);
                    let started =
                        usize::from(has(MediaKind::Video)) + usize::from(has(MediaKind::Audio));
                    if !done && started < tracks.len() && held.len() < MAX_HELD_FRAMES {
                        continue;
                    }
                    if held.is_empty() {
                        return Ok(());
                    }
                    if let Some(v) = held.iter().find_map(Frame::as_video) {
                        vpx = Some((
                            video_encoder(video, v.width(), v.height())?,
                            v.width(),
                            v.height(),
                        ));
                    }
                    if let Some(a) = held.iter().find_map(Frame::as_audio) {
                        let sink = if pcm {
                            AudioSink::Pcm(a.sample_rate(), a.channels())
                        } else {
                            AudioSink::Opus(OpusEncoder::new(
                                a.sample_rate(),
                                a.channels(),
                                OPUS_BITRATE_BPS,
                            )?)
                        };
                        opus = Some((sink, a.channels()));
                    }
                    encoders_made = true;
                }
                for frame in held.drain(..) {
                    packets.clear();
                    let kind = frame.kind();
                    match (&frame, vpx.as_mut(), opus.as_mut()) {
                        (Frame::Video(v), Some((e, ..)), _) => e.encode(v, &mut packets)?,
                        (Frame::Audio(a), _, Some((AudioSink::Opus(e), _))) => {
                            e.encode(a, &mut packets)?
                        }
                        (Frame::Audio(a), _, Some((AudioSink::Pcm(rate, channels), _))) => {
                            if a.sample_rate() != *rate || a.channels() != *channels {
                                return Err(ContainerError::FrameMismatch(
                                    crate::container::ContainerKind::Webm,
                                )
                                .into());
                            }
                            let samples = a.to_s16(None);
                            let data = samples
                                .s16()
                                .unwrap_or_default()
                                .iter()
                                .flat_map(|s| s.to_le_bytes())
                                .collect();
                            let clock = TimeBase::per_sample(*rate).unwrap_or(a.time_base);
                            packets.push(EncodedFrame {
                                data,
                                pts: a.time_base.rescale(a.pts, clock),
                                time_base: clock,
                                key_frame: true,
                            });
                        }
                        // A track that had not started when the encoders were made.
                        _ => continue,
                    }
                    encoded.extend(packets.drain(..).map(|p| (kind, p)));
                }
                if !declared {
                    let first_video = encoded.iter().find(|(k, _)| *k == MediaKind::Video);
                    if vpx.is_some() && first_video.is_none() && !done {
                        continue; // the video encoder has not given its first frame yet
                    }
                    if let Some((_, w, h)) = &vpx {
                        let extradata = match (video.codec, first_video) {
                            (Codec::H264, Some((_, p))) => h264_parameter_sets(&p.data),
                            _ => Vec::new(),
                        };
                        vi = Some(writer.add_track(&FfmpegTrackSpec {
                            codec: video.codec,
                            pcm_s16le: false,
                            sample_rate: 0,
                            width: *w,
                            height: *h,
                            channels: 0,
                            extradata,
                        })?);
                    }
                    if let Some((sink, channels)) = &opus {
                        let (pcm_s16le, sample_rate) = match sink {
                            AudioSink::Pcm(rate, _) => (true, *rate),
                            AudioSink::Opus(_) => (false, 48_000),
                        };
                        ai = Some(writer.add_track(&FfmpegTrackSpec {
                            codec: Codec::Opus,
                            pcm_s16le,
                            sample_rate,
                            width: 0,
                            height: 0,
                            channels: *channels,
                            extradata: Vec::new(),
                        })?);
                    }
                    declared = true;
                }
                for (kind, p) in encoded.drain(..) {
                    let index = match kind {
                        MediaKind::Video => vi,
                        MediaKind::Audio => ai,
                    };
                    if let Some(i) = index {
                        writer.write_frame(i, &p)?;
                    }
                }
                if done {
                    return Ok(());
                }
            }
        }
        .await;
        for track in &tracks {
            track.stop();
        }
        for reader in readers {
            reader.abort();
        }
        let finished = writer.finish();
        result?;
        finished.map_err(MediaError::from)
    }
}
