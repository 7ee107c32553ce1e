//! MP4 and MKV through FFmpeg (the `ffmpeg` feature): files made by the `ffmpeg` CLI played
//! by MediaPlayer and decoded by our decoders, files written by MediaRecorder read back by
//! `ffprobe` (Debian `ffmpeg`), and hostile files giving typed errors.

#![cfg(feature = "ffmpeg")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::MovingPattern;
use ferrtc_media::container::{ContainerError, FfmpegReader};
use ferrtc_media::{
    AudioFrame, Codec, Frame, H264Decoder, MediaError, MediaKind, MediaPlayer, MediaRecorder,
    MediaStreamTrack, VideoDecoder, track_channel,
};

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ferrtc-media-ff-{}-{name}", std::process::id()))
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

/// What ffprobe says about each stream of `path` (codec, size or channels, frame count) and
/// the format's duration.
fn ffprobe(path: &Path) -> (Vec<Vec<String>>, f64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries"])
        .arg("stream=codec_name,width,height,channels,nb_read_frames:format=duration")
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs (Debian package ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<Vec<String>> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    let duration: f64 = lines.pop().unwrap()[0].parse().unwrap();
    (lines, duration)
}

/// Plays both tracks of `path` to their ends; returns the video and audio frames.
async fn play(path: &Path) -> (Vec<Frame>, Vec<Frame>) {
    let mut player = MediaPlayer::open(path).unwrap();
    let all = |track: Option<ferrtc_media::SourceTrack>| async move {
        let mut frames = Vec::new();
        let Some(track) = track else {
            return frames;
        };
        loop {
            match track.recv().await {
                Ok(f) => frames.push(f),
                Err(MediaError::Ended) => return frames,
                Err(e) => panic!("{e}"),
            }
        }
    };
    let (v, a) = (player.video(), player.audio());
    tokio::join!(all(v), all(a))
}

/// Checks 2 s of 30 fps 320x240 video starting at `first` seconds, and 2 s of audio.
fn check_played(name: &str, video: &[Frame], audio: &[Frame], first: f64) {
    assert_eq!(video.len(), 60, "{name}: pictures");
    for (i, f) in video.iter().enumerate() {
        let v = f.as_video().unwrap();
        assert_eq!((v.width(), v.height()), (320, 240), "{name}");
        let t = f.time_base().seconds(f.pts());
        let want = first + i as f64 / 30.0;
        assert!(
            (t - want).abs() < 0.002,
            "{name}: picture {i} at {t} s, not {want}"
        );
    }
    let samples: usize = audio.iter().map(|f| f.as_audio().unwrap().samples()).sum();
    // Two seconds at 48 kHz, give or take the last packet's padding.
    assert!(
        (95_000..=97_000).contains(&samples),
        "{name}: {samples} samples"
    );
    let start = audio[0].time_base().seconds(audio[0].pts());
    assert!(start.abs() < 0.001, "{name}: audio starts at {start}");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn player_plays_mp4_and_mkv_made_by_ffmpeg() {
    let input = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "2",
    ];
    // H.264 (constrained baseline, as OpenH264 decodes) + Opus in MP4.
    let mp4 = temp_path("ff-x264.mp4");
    let args = [
        &input[..],
        &[
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "libopus",
        ],
    ]
    .concat();
    ffmpeg(&args, &mp4);
    let (video, audio) = play(&mp4).await;
    check_played("mp4", &video, &audio, 0.0);
    // High profile (CABAC, 8x8 transforms) without B-frames, in MKV.
    let mkv = temp_path("ff-x264-high.mkv");
    let args = [
        &input[..],
        &[
            "-c:v",
            "libx264",
            "-profile:v",
            "high",
            "-bf",
            "0",
            "-pix_fmt",
            "yuv420p",
        ],
        &["-c:a", "libopus"],
    ]
    .concat();
    ffmpeg(&args, &mkv);
    let (video, audio) = play(&mkv).await;
    check_played("high.mkv", &video, &audio, 0.007);
    std::fs::remove_file(&mkv).unwrap();
    std::fs::remove_file(&mp4).unwrap();

    // VP8 + Opus and VP9 + Opus in MKV. FFmpeg starts Matroska video 7 ms late, by the Opus
    // codec delay it shifts the audio by.
    for (name, codec) in [("ff-vp8.mkv", "libvpx"), ("ff-vp9.mkv", "libvpx-vp9")] {
        let mkv = temp_path(name);
        let args = [
            &input[..],
            &[
                "-c:v",
                codec,
                "-b:v",
                "500k",
                "-deadline",
                "realtime",
                "-c:a",
                "libopus",
            ],
        ]
        .concat();
        ffmpeg(&args, &mkv);
        let (video, audio) = play(&mkv).await;
        check_played(name, &video, &audio, 0.007);
        std::fs::remove_file(&mkv).unwrap();
    }
}

#[test]
fn reader_gives_annex_b_h264() {
    // High profile with B-frames: packets come in decode order, as Annex B with the parameter
    // sets before the key frame. (OpenH264 refuses the B-frames with an error, not a panic;
    // the player plays H.264 without B-frames.)
    let mp4 = temp_path("high.mp4");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30",
            "-t",
            "1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ],
        &mp4,
    );
    let mut r = FfmpegReader::open(&mp4).unwrap();
    let t = &r.tracks()[0];
    assert_eq!((t.codec, t.width, t.height), (Some(Codec::H264), 320, 240));
    assert!(t.video);
    let (mut packets, mut keys, mut pts) = (0, 0, Vec::new());
    while let Some(p) = r.read_packet().unwrap() {
        assert_eq!(&p.data[..4], &[0, 0, 0, 1]);
        if p.key_frame {
            keys += 1;
            // SPS (type 7) first.
            assert_eq!(p.data[4] & 0x1f, 7);
        }
        packets += 1;
        pts.push(p.pts);
    }
    assert_eq!((packets, keys), (30, 1));
    // Decode order is not presentation order; sorted, the times are one frame apart.
    let sorted = {
        let mut s = pts.clone();
        s.sort_unstable();
        s
    };
    assert_ne!(pts, sorted);
    let step = sorted[1] - sorted[0];
    assert!(sorted.windows(2).all(|w| w[1] - w[0] == step));
    let mut decoder = H264Decoder::new().unwrap();
    let mut r = FfmpegReader::open(&mp4).unwrap();
    while let Some(p) = r.read_packet().unwrap() {
        let _ = decoder.decode(&p.data, p.pts);
    }
    std::fs::remove_file(&mp4).unwrap();
}

/// AV1 (libaom) in MP4 and MKV, played through libdav1d.
#[cfg(feature = "av1")]
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn player_plays_av1_in_mp4_and_mkv() {
    for name in ["av1.mp4", "av1.mkv"] {
        let path = temp_path(name);
        ffmpeg(
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=160x120:rate=30",
                "-t",
                "1",
                "-c:v",
                "libaom-av1",
                "-cpu-used",
                "8",
            ],
            &path,
        );
        let (video, audio) = play(&path).await;
        assert!(audio.is_empty());
        assert_eq!(video.len(), 30, "{name}");
        for (i, f) in video.iter().enumerate() {
            let v = f.as_video().unwrap();
            assert_eq!((v.width(), v.height()), (160, 120), "{name}");
            let t = f.time_base().seconds(f.pts());
            assert!((t - i as f64 / 30.0).abs() < 0.002, "{name}: {i} at {t}");
        }
        std::fs::remove_file(&path).unwrap();
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn player_plays_pcm_and_g711_audio_in_mkv() {
    // (codec, rate, channels) as FFmpeg writes them; the player gives s16 samples.
    for (codec, rate, channels) in [
        ("pcm_s16le", 48_000, 2),
        ("pcm_mulaw", 8_000, 1),
        ("pcm_alaw", 8_000, 1),
    ] {
        let path = temp_path(&format!("{codec}.mkv"));
        let (rate_arg, channels_arg) = (rate.to_string(), channels.to_string());
        let source = format!("sine=frequency=440:sample_rate={rate}");
        ffmpeg(
            &[
                "-f",
                "lavfi",
                "-i",
                &source,
                "-t",
                "1",
                "-ar",
                &rate_arg,
                "-ac",
                &channels_arg,
                "-c:a",
                codec,
            ],
            &path,
        );
        let (video, audio) = play(&path).await;
        assert!(video.is_empty());
        let mut next = 0;
        for f in &audio {
            let a = f.as_audio().unwrap();
            assert_eq!((a.sample_rate(), a.channels()), (rate, channels), "{codec}");
            // Each frame starts where the one before ended (to Matroska's millisecond).
            let pts = f
                .time_base()
                .rescale(f.pts(), ferrtc_media::TimeBase::per_sample(rate).unwrap());
            assert!(
                (pts - next).abs() <= i64::from(rate / 1000),
                "{codec}: {pts} {next}"
            );
            next += a.samples() as i64;
        }
        assert_eq!(next, i64::from(rate), "{codec}: one second");
        // A 440 Hz tone: about 880 zero crossings a second in the first channel.
        let first: Vec<i16> = audio
            .iter()
            .flat_map(|f| {
                let a = f.as_audio().unwrap();
                a.s16()
                    .unwrap()
                    .iter()
                    .step_by(usize::from(channels))
                    .copied()
                    .collect::<Vec<_>>()
            })
            .collect();
        let crossings = first
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count();
        assert!(
            (860..=900).contains(&crossings),
            "{codec}: {crossings} zero crossings"
        );
        std::fs::remove_file(&path).unwrap();
    }
}

/// A video track of `n` moving 160x120 pictures at 30 fps and an audio track of `n / 30`
/// seconds of tone in 20 ms frames, sent by a task paced by (paused) tokio time.
fn sources(n: usize) -> (ferrtc_media::SourceTrack, ferrtc_media::SourceTrack) {
    let (vs, video) = track_channel(MediaKind::Video, "v");
    let (as_, audio) = track_channel(MediaKind::Audio, "a");
    tokio::spawn(async move {
        let mut pattern = MovingPattern::new(160, 120);
        let start = tokio::time::Instant::now();
        let audio_frames = n * 50 / 30;
        let (mut vi, mut ai) = (0, 0);
        while vi < n || ai < audio_frames {
            // Whichever is due first.
            let (vt, at) = (vi as f64 / 30.0, ai as f64 / 50.0);
            if vi < n && (ai >= audio_frames || vt <= at) {
                tokio::time::sleep_until(start + std::time::Duration::from_secs_f64(vt)).await;
                let mut f = pattern.next_frame();
                f.pts = (vi * 3000) as i64;
                f.time_base = ferrtc_media::TimeBase::VIDEO_90KHZ;
                let _ = vs.send(f.into());
                vi += 1;
            } else {
                tokio::time::sleep_until(start + std::time::Duration::from_secs_f64(at)).await;
                let samples = (0..960)
                    .map(|i| {
                        let t = (ai * 960 + i) as f64 / 48_000.0;
                        ((t * 440.0 * 2.0 * std::f64::consts::PI).sin() * 8000.0) as i16
                    })
                    .collect();
                let mut f = AudioFrame::from_s16(48_000, 1, samples).unwrap();
                f.pts = (ai * 960) as i64;
                let _ = as_.send(f.into());
                ai += 1;
            }
        }
        // The senders drop here: both tracks end.
    });
    (video, audio)
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn recorder_writes_mp4_and_mkv_that_ffprobe_reads() {
    for (name, codec, probe_codec) in [
        ("h264.mp4", Codec::H264, "h264"),
        ("vp9.mp4", Codec::Vp9, "vp9"),
        ("vp8.mkv", Codec::Vp8, "vp8"),
        ("vp9.mkv", Codec::Vp9, "vp9"),
        ("h264.mkv", Codec::H264, "h264"),
    ] {
        let path = temp_path(name);
        let mut recorder = MediaRecorder::new(&path)
            .unwrap()
            .with_video_codec(codec)
            .unwrap();
        let (video, audio) = sources(60);
        recorder.add_track(video).unwrap();
        recorder.add_track(audio).unwrap();
        recorder.start().unwrap();
        recorder.wait().await.unwrap();

        let (streams, duration) = ffprobe(&path);
        // codec_name,width,height / codec_name,channels, then nb_read_frames.
        assert_eq!(
            streams,
            vec![
                vec![probe_codec, "160", "120", "60"],
                vec!["opus", "1", "100"]
            ],
            "{name}: {streams:?}"
        );
        assert!((duration - 2.0).abs() < 0.02, "{name}: {duration} s");
        eprintln!("{name}: ffprobe {streams:?}, {duration} s");

        // And played back by us: every picture, at its time.
        let (v, a) = play(&path).await;
        assert_eq!(v.len(), 60, "{name}");
        for (i, f) in v.iter().enumerate() {
            let t = f.time_base().seconds(f.pts());
            assert!((t - i as f64 / 30.0).abs() < 0.002, "{name}: {i} at {t}");
        }
        let samples: usize = a.iter().map(|f| f.as_audio().unwrap().samples()).sum();
        assert!((95_000..=96_000).contains(&samples), "{name}: {samples}");
        std::fs::remove_file(&path).unwrap();
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn recorder_writes_pcm_audio_into_mkv() {
    let path = temp_path("pcm.mkv");
    let mut recorder = MediaRecorder::new(&path)
        .unwrap()
        .with_video_codec(Codec::Vp9)
        .unwrap()
        .with_pcm_audio()
        .unwrap();
    let (video, audio) = sources(60);
    recorder.add_track(video).unwrap();
    recorder.add_track(audio).unwrap();
    recorder.start().unwrap();
    recorder.wait().await.unwrap();
    let (streams, duration) = ffprobe(&path);
    assert_eq!(
        streams,
        vec![
            vec!["vp9", "160", "120", "60"],
            vec!["pcm_s16le", "1", "100"]
        ],
        "{streams:?}"
    );
    assert!((duration - 2.0).abs() < 0.02, "{duration} s");
    eprintln!("pcm.mkv: ffprobe {streams:?}, {duration} s");
    // Played back: the very samples sent, from time 0.
    let (v, a) = play(&path).await;
    assert_eq!(v.len(), 60);
    let samples: Vec<i16> = a
        .iter()
        .flat_map(|f| f.as_audio().unwrap().s16().unwrap().to_vec())
        .collect();
    let sent: Vec<i16> = (0..96_000)
        .map(|i| ((i as f64 / 48_000.0 * 440.0 * 2.0 * std::f64::consts::PI).sin() * 8000.0) as i16)
        .collect();
    assert_eq!(samples, sent);
    assert_eq!(a[0].pts(), 0);
    std::fs::remove_file(&path).unwrap();
    // MP4 takes no PCM here.
    assert!(
        MediaRecorder::new("x.mp4")
            .unwrap()
            .with_pcm_audio()
            .is_err()
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn recorder_writes_a_single_track() {
    let path = temp_path("video-only.mkv");
    let mut recorder = MediaRecorder::new(&path).unwrap();
    recorder.add_track(sources(30).0).unwrap();
    recorder.start().unwrap();
    recorder.wait().await.unwrap();
    let (streams, duration) = ffprobe(&path);
    assert_eq!(
        streams,
        vec![vec!["vp8", "160", "120", "30"]],
        "{streams:?}"
    );
    assert!((duration - 1.0).abs() < 0.01, "{duration}");
    std::fs::remove_file(&path).unwrap();

    let path = temp_path("audio-only.mp4");
    let mut recorder = MediaRecorder::new(&path).unwrap();
    recorder.add_track(sources(30).1).unwrap();
    recorder.start().unwrap();
    recorder.wait().await.unwrap();
    let (streams, _) = ffprobe(&path);
    assert_eq!(streams, vec![vec!["opus", "1", "50"]], "{streams:?}");
    std::fs::remove_file(&path).unwrap();

    // VP8 has no MP4 mapping here.
    assert!(
        MediaRecorder::new("x.mp4")
            .unwrap()
            .with_video_codec(Codec::Vp8)
            .is_err()
    );
}

#[test]
fn hostile_files_give_typed_errors() {
    let bad = temp_path("bad.mp4");
    std::fs::write(&bad, b"this is not an mp4 file at all, just some words").unwrap();
    assert!(matches!(
        FfmpegReader::open(&bad),
        Err(ContainerError::Ffmpeg(_))
    ));
    std::fs::write(&bad, b"").unwrap();
    assert!(matches!(
        FfmpegReader::open(&bad),
        Err(ContainerError::Ffmpeg(_))
    ));
    assert!(matches!(
        FfmpegReader::open(temp_path("missing.mkv")),
        Err(ContainerError::Io(_))
    ));
    assert!(matches!(
        FfmpegReader::open(std::env::temp_dir()),
        Err(ContainerError::Ffmpeg(_))
    ));
    std::fs::remove_file(&bad).unwrap();

    // Real files (MP4 with its index first, so that cut files still open; MKV) cut short at
    // 40 places, and with garbage written over their second half: refused with an error, or
    // read (and decoded) until the data stops, never a panic.
    let input = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=30",
        "-t",
        "1",
    ];
    let files = [
        (
            "good.mp4",
            &[
                "-c:v",
                "libx264",
                "-profile:v",
                "baseline",
                "-movflags",
                "+faststart",
            ][..],
            Codec::H264,
        ),
        (
            "good.mkv",
            &["-c:v", "libvpx", "-b:v", "300k"][..],
            Codec::Vp8,
        ),
    ];
    for (name, codec_args, codec) in files {
        let good = temp_path(name);
        ffmpeg(&[&input[..], codec_args].concat(), &good);
        let bytes = std::fs::read(&good).unwrap();
        let bad = temp_path(&format!("bad-{name}"));
        let (mut opened, mut errors, mut pictures) = (0, 0, 0);
        let mut mangled = bytes.clone();
        for (i, b) in mangled.iter_mut().enumerate().skip(bytes.len() / 2) {
            *b ^= (i * 37) as u8;
        }
        let cuts = (0..40).map(|i| &bytes[..bytes.len() * i / 40]);
        for data in cuts.chain([&mangled[..]]) {
            std::fs::write(&bad, data).unwrap();
            let Ok(mut r) = FfmpegReader::open(&bad) else {
                errors += 1;
                continue;
            };
            opened += 1;
            let mut d: Box<dyn VideoDecoder> = match codec {
                Codec::H264 => Box::new(H264Decoder::new().unwrap()),
                _ => Box::new(ferrtc_media::VpxDecoder::vp8().unwrap()),
            };
            loop {
                match r.read_packet() {
                    Ok(Some(p)) => {
                        if let Ok(Some(_)) = d.decode(&p.data, p.pts) {
                            pictures += 1;
                        }
                    }
                    Ok(None) => break,
                    Err(ContainerError::Ffmpeg(_)) => {
                        errors += 1;
                        break;
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
        }
        eprintln!(
            "{name}: {opened} of 41 damaged files opened, {errors} errors, {pictures} pictures decoded"
        );
        assert!(opened > 20, "{name}: {opened}");
        assert!(pictures > 100, "{name}: {pictures}");
        std::fs::remove_file(&good).unwrap();
        std::fs::remove_file(&bad).unwrap();
    }
}
