//! Transcodes a media file: plays INPUT through `MediaPlayer` (which decodes it), re-encodes
//! and writes OUTPUT through `MediaRecorder`, and prints the frame counts. The output format
//! follows OUTPUT's extension (`.ivf`, `.webm`, `.ogg`/`.opus`, `.y4m`, `.wav`; `.mp4` and `.mkv`
//! when built with `--features ffmpeg`, which links the system's FFmpeg, GPL in Debian).
//!
//! ```text
//! cargo run --release -p ferrtc-media --example transcode -- INPUT OUTPUT \
//!     [--video-codec vp8|vp9|h264] [--audio-codec opus|pcmu|pcma|g722]
//! ```
//!
//! The player paces frames in real time, so a 10 s file takes 10 s. Video goes out as VP8
//! unless `--video-codec vp9` (MP4: H.264 unless `--video-codec vp9`; MKV also takes
//! `--video-codec h264`); audio in Ogg, WebM, MP4 and MKV as Opus. PCMU, PCMA and G.722 have
//! no container here yet (G.711/G.722 WAV is still to come) and are refused.

#![allow(dead_code)] // also compiled into tests/transcode.rs, which does not call `main`

use std::convert::Infallible;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ferrtc_media::container::{
    ContainerKind, IvfReader, OggOpusReader, WavReader, WebmReader, Y4mReader,
};
use ferrtc_media::{Codec, Frame, MediaKind, MediaPlayer, MediaRecorder, TransformTrack};

/// What a transcode did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Audio or video.
    pub kind: MediaKind,
    /// Frames the player decoded and the recorder took.
    pub frames_in: u64,
    /// Frames (or audio packets) in the written file, read back from it.
    pub frames_out: u64,
    /// The codec written.
    pub codec: Option<Codec>,
}

fn usage() -> String {
    "usage: transcode INPUT OUTPUT [--video-codec vp8|vp9|h264] [--audio-codec opus|pcmu|pcma|g722]"
        .to_owned()
}

/// Runs a transcode from command-line arguments (without the program name).
pub async fn run(args: &[String]) -> Result<Report, String> {
    let (mut paths, mut video_codec, mut audio_codec) = (Vec::new(), Codec::Vp8, Codec::Opus);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--video-codec" => {
                video_codec = match it.next().map(String::as_str) {
                    Some("vp8") => Codec::Vp8,
                    Some("vp9") => Codec::Vp9,
                    Some("h264") => Codec::H264,
                    _ => return Err(usage()),
                }
            }
            "--audio-codec" => {
                audio_codec = match it.next().map(String::as_str) {
                    Some("opus") => Codec::Opus,
                    Some("pcmu") => Codec::Pcmu,
                    Some("pcma") => Codec::Pcma,
                    Some("g722") => Codec::G722,
                    _ => return Err(usage()),
                }
            }
            s if s.starts_with("--") => return Err(usage()),
            _ => paths.push(arg.clone()),
        }
    }
    let [input, output] = paths.as_slice() else {
        return Err(usage());
    };
    if audio_codec != Codec::Opus {
        return Err(format!(
            "{audio_codec:?}: no container written here takes it yet (Ogg and WebM carry Opus)"
        ));
    }

    let mut player = MediaPlayer::open(input).map_err(|e| format!("{input}: {e}"))?;
    let (track, kind) = match player.video() {
        Some(t) => (t, MediaKind::Video),
        None => (player.audio().ok_or("no track")?, MediaKind::Audio),
    };
    let mut recorder = MediaRecorder::new(output).map_err(|e| format!("{output}: {e}"))?;
    let default_codec = ContainerKind::from_path(Path::new(output)).is_none()
        && !args.iter().any(|a| a == "--video-codec");
    if kind == MediaKind::Video && !default_codec {
        recorder = recorder.with_video_codec(video_codec).map_err(|_| {
            format!("{video_codec:?}: IVF and WebM carry VP8 or VP9 here, MP4 H.264 or VP9")
        })?;
    }
    // Counts the frames on their way from the player to the recorder.
    let counted = Arc::new(AtomicU64::new(0));
    let counter = counted.clone();
    let track = TransformTrack::new(track, move |frame: &Frame| {
        counter.fetch_add(1, Ordering::Relaxed);
        Ok::<_, Infallible>(frame.clone())
    });
    recorder
        .add_track(track)
        .map_err(|e| format!("{output}: {e}"))?;
    recorder.start().map_err(|e| format!("{output}: {e}"))?;
    recorder
        .wait()
        .await
        .map_err(|e| format!("{output}: {e}"))?;

    let (frames_out, codec) =
        count_frames(Path::new(output)).map_err(|e| format!("{output}: {e}"))?;
    Ok(Report {
        kind,
        frames_in: counted.load(Ordering::Relaxed),
        frames_out,
        codec,
    })
}

/// Frames (or packets) in a written file and their codec, read back with our readers.
fn count_frames(
    path: &Path,
) -> Result<(u64, Option<Codec>), ferrtc_media::container::ContainerError> {
    let file = || std::fs::File::open(path).map(BufReader::new);
    let mut n = 0;
    let codec = match ContainerKind::from_path(path) {
        Some(ContainerKind::Ivf) => {
            let mut r = IvfReader::new(file()?)?;
            while r.read_frame()?.is_some() {
                n += 1;
            }
            Some(r.header().codec)
        }
        Some(ContainerKind::Webm) => {
            let mut r = WebmReader::new(file()?)?;
            while r.read_frame()?.is_some() {
                n += 1;
            }
            r.tracks().first().map(|t| t.codec)
        }
        Some(ContainerKind::Ogg) => {
            let mut r = OggOpusReader::new(file()?)?;
            while r.read_packet()?.is_some() {
                n += 1;
            }
            Some(Codec::Opus)
        }
        Some(ContainerKind::Y4m) => {
            let mut r = Y4mReader::new(file()?)?;
            while r.read_frame(None)?.is_some() {
                n += 1;
            }
            None
        }
        Some(ContainerKind::Wav) => {
            let mut r = WavReader::new(file()?)?;
            while r.read_frame(960, None)?.is_some() {
                n += 1;
            }
            None
        }
        #[cfg(feature = "ffmpeg")]
        None if ferrtc_media::container::FfmpegFormat::from_path(path).is_some() => {
            let mut r = ferrtc_media::container::FfmpegReader::open(path)?;
            while r.read_packet()?.is_some() {
                n += 1;
            }
            r.tracks().first().and_then(|t| t.codec)
        }
        _ => None,
    };
    Ok((n, codec))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(&args)) {
        Ok(report) => {
            let codec = report
                .codec
                .map(|c| format!(" ({})", c.mime_type()))
                .unwrap_or_default();
            println!(
                "{:?}: {} frames decoded from {}, {} written to {}{codec}",
                report.kind, report.frames_in, args[0], report.frames_out, args[1]
            );
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}
