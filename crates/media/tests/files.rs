//! Y4M, IVF and WAV: the readers and writers in memory, then MediaRecorder -> file ->
//! MediaPlayer on tokio's paused clock (playback is paced by timestamps in virtual time).

mod common;

use std::io::Cursor;
use std::path::PathBuf;

use common::{MovingPattern, psnr_y};
use ferrtc_media::container::{
    ContainerError, IvfReader, IvfWriter, WavReader, WavWriter, Y4mReader, Y4mWriter,
};
use ferrtc_media::{
    AudioFrame, Codec, EncodedFrame, Frame, MediaError, MediaKind, MediaPlayer, MediaRecorder,
    MediaStreamTrack, PixelFormat, TimeBase, VideoFrame, track_channel,
};

fn same_picture(a: &VideoFrame, b: &VideoFrame) -> bool {
    (0..3).all(|i| {
        let n = a.plane_row_bytes(i);
        (0..a.plane_rows(i))
            .all(|r| a.plane(i)[r * a.stride(i)..][..n] == b.plane(i)[r * b.stride(i)..][..n])
    })
}

#[test]
fn y4m_round_trip_in_memory() {
    let mut pattern = MovingPattern::new(64, 48);
    let frames: Vec<VideoFrame> = (0..3).map(|_| pattern.next_frame()).collect();
    let mut w = Y4mWriter::new(Vec::new(), 64, 48, (30, 1)).unwrap();
    for f in &frames {
        w.write_frame(f).unwrap();
    }
    // NV12 input is converted on the way in.
    w.write_frame(&frames[0].to_pixel_format(PixelFormat::Nv12, None).unwrap())
        .unwrap();
    let bytes = w.finish().unwrap();
    assert!(bytes.starts_with(b"YUV4MPEG2 W64 H48 F30:1 Ip A1:1 C420jpeg\nFRAME\n"));
    assert_eq!(bytes.len(), 41 + 4 * (6 + 64 * 48 * 3 / 2));

    let mut r = Y4mReader::new(Cursor::new(&bytes)).unwrap();
    assert_eq!((r.width(), r.height(), r.frame_rate()), (64, 48, (30, 1)));
    for (i, f) in frames.iter().chain(&frames[..1]).enumerate() {
        let back = r.read_frame(None).unwrap().unwrap();
        assert!(same_picture(f, &back), "frame {i}");
        assert_eq!(back.pts, i as i64 * 3_000);
    }
    assert!(r.read_frame(None).unwrap().is_none());

    // Damage is reported, not a panic.
    assert!(matches!(
        Y4mReader::new(Cursor::new(b"RIFF....".as_slice())),
        Err(ContainerError::BadSignature(_))
    ));
    assert!(matches!(
        Y4mReader::new(Cursor::new(b"YUV4MPEG2 W64 H48 C444\n".as_slice())),
        Err(ContainerError::Unsupported(_))
    ));
    assert!(matches!(
        Y4mReader::new(Cursor::new("YUV4MPEG2 W64 \u{e9}H48\n".as_bytes())),
        Err(ContainerError::MalformedHeader(_))
    ));
    let mut short = Y4mReader::new(Cursor::new(&bytes[..bytes.len() - 10])).unwrap();
    let results: Vec<_> = std::iter::from_fn(|| Some(short.read_frame(None)))
        .take(4)
        .collect();
    assert!(matches!(results[3], Err(ContainerError::Truncated(_))));
}

#[test]
fn ivf_round_trip_in_memory() {
    let frames: Vec<EncodedFrame> = (0..4)
        .map(|i| EncodedFrame {
            data: vec![i as u8; 10 + i],
            pts: i as i64 * 3_000,
            time_base: TimeBase::VIDEO_90KHZ,
            key_frame: i == 0,
        })
        .collect();
    let ms = TimeBase::MILLISECONDS;
    let mut w = IvfWriter::new(Cursor::new(Vec::new()), Codec::Vp9, 640, 480, ms).unwrap();
    for f in &frames {
        w.write_frame(f).unwrap();
    }
    let bytes = w.finish().unwrap().into_inner();
    assert_eq!(&bytes[..4], b"DKIF");
    assert_eq!(&bytes[8..12], b"VP90");
    let mut r = IvfReader::new(Cursor::new(&bytes)).unwrap();
    let h = r.header();
    assert_eq!(
        (h.codec, h.width, h.height, h.time_base, h.frame_count),
        (Codec::Vp9, 640, 480, ms, 4)
    );
    for (i, f) in frames.iter().enumerate() {
        let back = r.read_frame().unwrap().unwrap();
        assert_eq!(back.data, f.data);
        // 3000 ticks of 90 kHz are 33.3 ms: rescaled, rounded down.
        assert_eq!(back.pts, [0, 33, 66, 100][i], "rescaled to milliseconds");
    }
    assert!(r.read_frame().unwrap().is_none());
    // A length field past any real frame is corruption.
    let mut bad = bytes[..32].to_vec();
    bad.extend_from_slice(&u32::MAX.to_le_bytes());
    bad.extend_from_slice(&[0; 8]);
    assert!(matches!(
        IvfReader::new(Cursor::new(&bad)).unwrap().read_frame(),
        Err(ContainerError::FrameTooLarge(..))
    ));
    assert!(matches!(
        IvfReader::new(Cursor::new(&bytes[..31])),
        Err(ContainerError::BadSignature(_) | ContainerError::Truncated(_))
    ));
}

#[test]
fn wav_round_trip_in_memory() {
    let samples: Vec<i16> = (0..2 * 1_000)
        .map(|i| (i * 37 % 65_536 - 32_768) as i16)
        .collect();
    let frame = AudioFrame::from_s16(16_000, 2, samples.clone()).unwrap();
    let mut w = WavWriter::new(Cursor::new(Vec::new()), 16_000, 2).unwrap();
    w.write_frame(&frame).unwrap();
    assert!(matches!(
        w.write_frame(&AudioFrame::from_s16(8_000, 2, vec![0; 2]).unwrap()),
        Err(ContainerError::FrameMismatch(_))
    ));
    let bytes = w.finish().unwrap().into_inner();
    assert_eq!(bytes.len(), 44 + 4_000);
    assert_eq!(&bytes[4..8], &(36u32 + 4_000).to_le_bytes());

    let mut r = WavReader::new(Cursor::new(&bytes)).unwrap();
    assert_eq!((r.sample_rate(), r.channels()), (16_000, 2));
    let mut back = Vec::new();
    let mut pts = Vec::new();
    while let Some(f) = r.read_frame(320, None).unwrap() {
        pts.push(f.pts);
        back.extend_from_slice(f.s16().unwrap());
    }
    assert_eq!(back, samples);
    assert_eq!(pts, [0, 320, 640, 960]);
}

#[test]
fn wav_float_and_extra_chunks() {
    // A float WAV with a LIST chunk before fmt, built by hand.
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF\0\0\0\0WAVE");
    b.extend_from_slice(b"LIST\x03\0\0\0abc\0"); // odd length, padded
    b.extend_from_slice(b"fmt \x10\0\0\0");
    b.extend_from_slice(&3u16.to_le_bytes()); // IEEE float
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&8_000u32.to_le_bytes());
    b.extend_from_slice(&32_000u32.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&32u16.to_le_bytes());
    b.extend_from_slice(b"data\x0c\0\0\0");
    for x in [0.5f32, -1.0, 0.0] {
        b.extend_from_slice(&x.to_le_bytes());
    }
    let mut r = WavReader::new(Cursor::new(&b)).unwrap();
    let f = r.read_frame(160, None).unwrap().unwrap();
    assert_eq!(f.s16().unwrap(), &[16_384, -32_768, 0]);
    // 24-bit PCM is not taken.
    let mut c = b.clone();
    c[12 + 12 + 8] = 1;
    c[12 + 12 + 8 + 14] = 24;
    assert!(matches!(
        WavReader::new(Cursor::new(&c)),
        Err(ContainerError::Unsupported(_))
    ));
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ferrtc-media-{}-{name}", std::process::id()))
}

/// Lets the recorder's task take each frame before the next is sent (current-thread
/// runtime: deterministic).
async fn until(mut done: impl FnMut() -> bool) {
    while !done() {
        tokio::task::yield_now().await;
    }
}

async fn play_all(player: &mut MediaPlayer, kind: MediaKind) -> Vec<Frame> {
    let track = match kind {
        MediaKind::Video => player.video(),
        MediaKind::Audio => player.audio(),
    }
    .unwrap();
    let mut frames = Vec::new();
    loop {
        match track.recv().await {
            Ok(f) => frames.push(f),
            Err(MediaError::Ended) => return frames,
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn record_and_play_y4m_ivf_wav() {
    let mut pattern = MovingPattern::new(320, 240);
    let video: Vec<VideoFrame> = (0..15).map(|_| pattern.next_frame()).collect();

    for (name, lossless) in [("clip.y4m", true), ("clip.ivf", false)] {
        let path = temp_path(name);
        let (tx, track) = track_channel(MediaKind::Video, "cam");
        let mut recorder = MediaRecorder::new(&path).unwrap();
        recorder.add_track(track).unwrap();
        recorder.start().unwrap();
        for (i, f) in video.iter().enumerate() {
            tx.send(f.clone().into()).unwrap();
            until(|| tx.stats().delivered == i as u64 + 1).await;
        }
        drop(tx);
        recorder.stop().await.unwrap();

        let started = tokio::time::Instant::now();
        let mut player = MediaPlayer::open(&path).unwrap();
        assert!(player.audio().is_none());
        let played = play_all(&mut player, MediaKind::Video).await;
        assert_eq!(played.len(), video.len(), "{name}");
        // Paced by timestamps: the last frame comes 14/30 s after the first (tokio's timer
        // rounds up to the millisecond).
        let elapsed = started.elapsed().as_millis();
        assert!((466..=467).contains(&elapsed), "{name}: {elapsed} ms");
        for (orig, back) in video.iter().zip(&played) {
            let back = back.as_video().unwrap();
            assert_eq!(back.pts, orig.pts, "{name}");
            if lossless {
                assert!(same_picture(orig, back));
            } else {
                assert!(
                    psnr_y(orig, back) >= 30.0,
                    "{name}: {:.1} dB",
                    psnr_y(orig, back)
                );
            }
        }
        std::fs::remove_file(&path).unwrap();
    }

    let path = temp_path("tone.wav");
    let (tx, track) = track_channel(MediaKind::Audio, "mic");
    let mut recorder = MediaRecorder::new(&path).unwrap();
    assert!(matches!(
        recorder.add_track(track_channel(MediaKind::Video, "v").1),
        Err(MediaError::Container(ContainerError::TrackNotAccepted(_)))
    ));
    recorder.add_track(track).unwrap();
    recorder.start().unwrap();
    let tone: Vec<i16> = (0..48_00).map(|i| ((i % 96) as i16 - 48) * 500).collect();
    for (i, chunk) in tone.chunks(480).enumerate() {
        let mut f = AudioFrame::from_s16(48_000, 1, chunk.to_vec()).unwrap();
        f.pts = (i * 480) as i64;
        tx.send(f.into()).unwrap();
        until(|| tx.stats().delivered == i as u64 + 1).await;
    }
    drop(tx);
    recorder.stop().await.unwrap();
    let mut player = MediaPlayer::open(&path).unwrap();
    let played = play_all(&mut player, MediaKind::Audio).await;
    // 20 ms frames out of 10 ms frames in.
    assert_eq!(played.len(), 5);
    let samples: Vec<i16> = played
        .iter()
        .flat_map(|f| f.as_audio().unwrap().s16().unwrap().to_vec())
        .collect();
    assert_eq!(samples, tone);
    std::fs::remove_file(&path).unwrap();

    assert!(matches!(
        MediaPlayer::open(temp_path("nothing.xyz")),
        Err(MediaError::Container(ContainerError::UnknownExtension))
    ));
    // MP4 needs the `ffmpeg` feature; with it, a missing file is an I/O error.
    let mp4 = MediaPlayer::open(temp_path("nothing.mp4"));
    if cfg!(feature = "ffmpeg") {
        assert!(matches!(
            mp4,
            Err(MediaError::Container(ContainerError::Io(_)))
        ));
    } else {
        assert!(matches!(
            mp4,
            Err(MediaError::Container(ContainerError::NeedsFfmpeg))
        ));
    }
}
