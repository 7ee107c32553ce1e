//! The `transcode` example, run on files FFmpeg made: VP8 WebM in, VP9 IVF and VP8 WebM out,
//! Opus Ogg in, Opus WebM out; the outputs checked by our readers and by `ffprobe`. The
//! player's real-time pacing runs on tokio's paused clock.

#[path = "../examples/transcode.rs"]
mod transcode;

use std::path::{Path, PathBuf};
use std::process::Command;

use ferrtc_media::{Codec, MediaKind};
use transcode::{Report, run};

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ferrtc-media-tc-{}-{name}", std::process::id()))
}

fn ffmpeg(args: &[&str], out: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .arg(out)
        .status()
        .expect("ffmpeg runs (Debian package ffmpeg)");
    assert!(status.success());
}

fn probe(path: &Path) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries"])
        .arg("stream=codec_name,width,height,nb_read_frames")
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs (Debian package ffmpeg)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn transcode(args: &[&str]) -> Result<Report, String> {
    run(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).await
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn transcodes_ffmpeg_files() {
    let input = temp_path("in.webm");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=176x144:rate=30:duration=0.5",
            "-c:v",
            "libvpx",
            "-b:v",
            "400k",
        ],
        &input,
    );
    let (inp, ivf, webm) = (
        input.to_str().unwrap(),
        temp_path("out.ivf"),
        temp_path("out.webm"),
    );
    let report = transcode(&[inp, ivf.to_str().unwrap(), "--video-codec", "vp9"])
        .await
        .unwrap();
    assert_eq!(
        report,
        Report {
            kind: MediaKind::Video,
            frames_in: 15,
            frames_out: 15,
            codec: Some(Codec::Vp9)
        }
    );
    assert_eq!(probe(&ivf), "vp9,176,144,15");
    let report = transcode(&[inp, webm.to_str().unwrap()]).await.unwrap();
    assert_eq!(
        (report.frames_in, report.frames_out, report.codec),
        (15, 15, Some(Codec::Vp8))
    );
    assert_eq!(probe(&webm), "vp8,176,144,15");

    // Audio: 0.5 s of Opus in Ogg -> decoded -> Opus in WebM.
    let ogg = temp_path("in.ogg");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=0.5",
            "-c:a",
            "libopus",
        ],
        &ogg,
    );
    let audio_out = temp_path("audio.webm");
    let report = transcode(&[ogg.to_str().unwrap(), audio_out.to_str().unwrap()])
        .await
        .unwrap();
    assert_eq!(report.kind, MediaKind::Audio);
    // 25 packets of 20 ms (and one for FFmpeg's padding) in; whole 20 ms packets out.
    assert!((25..=26).contains(&report.frames_in), "{report:?}");
    assert!(
        (report.frames_in - 1..=report.frames_in).contains(&report.frames_out),
        "{report:?}"
    );
    assert!(probe(&audio_out).starts_with("opus,"));

    // Codecs with no container here are refused, with a message.
    let err = transcode(&[inp, ivf.to_str().unwrap(), "--video-codec", "h264"])
        .await
        .unwrap_err();
    assert!(err.contains("VP8 or VP9"), "{err}");
    let err = transcode(&[inp, ivf.to_str().unwrap(), "--audio-codec", "pcmu"])
        .await
        .unwrap_err();
    assert!(err.contains("Pcmu"), "{err}");
    assert!(transcode(&[inp]).await.unwrap_err().starts_with("usage"));

    for p in [input, ivf, webm, ogg, audio_out] {
        std::fs::remove_file(p).unwrap();
    }
}

/// With the `ffmpeg` feature: an MP4 made by FFmpeg (H.264) to MKV (VP8) and WebM, and back
/// to MP4 (H.264 by OpenH264).
#[cfg(feature = "ffmpeg")]
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn transcodes_mp4_and_mkv() {
    let input = temp_path("in.mp4");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=176x144:rate=30:duration=0.5",
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
            "-pix_fmt",
            "yuv420p",
        ],
        &input,
    );
    let (inp, mkv, mp4) = (
        input.to_str().unwrap(),
        temp_path("out.mkv"),
        temp_path("out.mp4"),
    );
    let report = transcode(&[inp, mkv.to_str().unwrap()]).await.unwrap();
    assert_eq!(
        report,
        Report {
            kind: MediaKind::Video,
            frames_in: 15,
            frames_out: 15,
            codec: Some(Codec::Vp8)
        }
    );
    assert_eq!(probe(&mkv), "vp8,176,144,15");
    let report = transcode(&[mkv.to_str().unwrap(), mp4.to_str().unwrap()])
        .await
        .unwrap();
    assert_eq!(
        (report.frames_in, report.frames_out, report.codec),
        (15, 15, Some(Codec::H264))
    );
    assert_eq!(probe(&mp4), "h264,176,144,15");
    // VP8 has no MP4 mapping here.
    let err = transcode(&[inp, mp4.to_str().unwrap(), "--video-codec", "vp8"])
        .await
        .unwrap_err();
    assert!(err.contains("MP4"), "{err}");
    for p in [input, mkv, mp4] {
        std::fs::remove_file(p).unwrap();
    }
}
