//! MediaPlayer in passthrough mode (aiortc's `decode=False`): the file's encoded frames, byte
//! for byte, at the times their timestamps say (tokio's paused clock: no real waiting), and
//! looping with timestamps that keep rising.

mod common;

use std::io::Cursor;
use std::path::PathBuf;
use std::time::Duration;

use common::MovingPattern;
use ferrtc_media::container::{
    ContainerError, IvfWriter, OPUS_DEFAULT_PRE_SKIP, OggOpusWriter, OpusHead, WebmTrack,
    WebmWriter,
};
use ferrtc_media::{
    AudioEncoder, AudioFrame, Codec, EncodedFrame, EncodedTrack, MediaError, MediaPlayer,
    OpusEncoder, PlayerOptions, TimeBase, VideoEncoder, VideoEncoderConfig, VpxEncoder,
};
use tokio::time::Instant;

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ferrtc-media-pt-{}-{name}", std::process::id()))
}

/// 30 VP8 frames of 160x120 at 30 fps (90 kHz clock), a key frame at 0 and 15.
fn vp8_frames() -> Vec<EncodedFrame> {
    let config = VideoEncoderConfig {
        width: 160,
        height: 120,
        bitrate_bps: 300_000,
        frame_rate: 30,
    };
    let mut enc = VpxEncoder::vp8(config).unwrap();
    let mut pattern = MovingPattern::new(160, 120);
    let mut out = Vec::new();
    for i in 0..30 {
        if i == 15 {
            enc.request_key_frame();
        }
        enc.encode(&pattern.next_frame(), &mut out).unwrap();
    }
    assert_eq!(out.len(), 30);
    out
}

/// One second of a 440 Hz tone as 50 Opus packets of 20 ms, 48 kHz mono.
fn opus_packets() -> Vec<EncodedFrame> {
    let mut enc = OpusEncoder::new(48_000, 1, 32_000).unwrap();
    let mut out = Vec::new();
    for i in 0..50 {
        let samples = (0..960)
            .map(|j| {
                let t = (i * 960 + j) as f64 / 48_000.0;
                ((t * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16
            })
            .collect();
        let mut f = AudioFrame::from_s16(48_000, 1, samples).unwrap();
        f.pts = (i * 960) as i64;
        enc.encode(&f, &mut out).unwrap();
    }
    assert_eq!(out.len(), 50);
    out
}

/// `elapsed` is `seconds`, to the timer's millisecond.
fn at_time(elapsed: Duration, seconds: f64, what: &str) {
    let diff = (elapsed.as_secs_f64() - seconds).abs();
    assert!(diff <= 0.002, "{what}: at {elapsed:?}, due at {seconds} s");
}

fn passthrough(looping: bool) -> PlayerOptions {
    PlayerOptions::new().with_decode(false).with_loop(looping)
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn ivf_vp8_frames_pass_through_at_their_times_and_loop() {
    let frames = vp8_frames();
    let path = temp_path("vp8.ivf");
    // A 1/30 s time base in the file: the player gives 90 kHz timestamps.
    let mut w = IvfWriter::new(
        Cursor::new(Vec::new()),
        Codec::Vp8,
        160,
        120,
        TimeBase::new(1, 30).unwrap(),
    )
    .unwrap();
    for f in &frames {
        w.write_frame(f).unwrap();
    }
    std::fs::write(&path, w.finish().unwrap().into_inner()).unwrap();

    let started = Instant::now();
    let mut player = MediaPlayer::open_with(&path, passthrough(true)).unwrap();
    assert!(player.video().is_none() && player.audio().is_none());
    assert!(player.encoded_audio().is_none());
    let track = player.encoded_video().unwrap();
    assert_eq!(
        (track.codec(), track.kind()),
        (Codec::Vp8, ferrtc_media::MediaKind::Video)
    );
    // Three passes: each the file's 30 frames, timestamps going on from where the last
    // pass ended (one frame time after its last frame).
    for pass in 0..3 {
        for (i, f) in frames.iter().enumerate() {
            let got = track.recv().await.unwrap();
            let n = pass * 30 + i;
            assert_eq!(got.data, f.data, "pass {pass} frame {i}: the file's bytes");
            assert_eq!(got.time_base, TimeBase::VIDEO_90KHZ);
            assert_eq!(got.pts, n as i64 * 3_000, "pass {pass} frame {i}");
            assert_eq!(got.key_frame, f.key_frame, "pass {pass} frame {i}");
            assert_eq!(got.key_frame, i == 0 || i == 15, "pass {pass} frame {i}");
            at_time(started.elapsed(), n as f64 / 30.0, &format!("frame {n}"));
        }
    }
    assert_eq!(track.stats().dropped, 0);
    // Stopping the track stops the player.
    drop(track);
    drop(player);

    // Without loop the track ends after the file's frames.
    let mut player = MediaPlayer::open_with(&path, passthrough(false)).unwrap();
    let track = player.encoded_video().unwrap();
    for f in &frames {
        assert_eq!(track.recv().await.unwrap().data, f.data);
    }
    assert!(matches!(track.recv().await, Err(MediaError::Ended)));
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn ogg_opus_packets_pass_through_at_their_times_and_loop() {
    let packets = opus_packets();
    let path = temp_path("tone.ogg");
    let head = OpusHead {
        channels: 1,
        pre_skip: OPUS_DEFAULT_PRE_SKIP,
        input_sample_rate: 48_000,
        output_gain: 0,
    };
    let mut w = OggOpusWriter::new(Vec::new(), head, 7).unwrap();
    for p in &packets {
        w.write_frame(p).unwrap();
    }
    std::fs::write(&path, w.finish().unwrap()).unwrap();

    let started = Instant::now();
    let mut player = MediaPlayer::open_with(&path, passthrough(true)).unwrap();
    assert!(player.encoded_video().is_none());
    let track = player.encoded_audio().unwrap();
    assert_eq!(track.codec(), Codec::Opus);
    let pre_skip = i64::from(OPUS_DEFAULT_PRE_SKIP);
    let mut last = None;
    for pass in 0..2 {
        for (i, p) in packets.iter().enumerate() {
            let got = track.recv().await.unwrap();
            let n = (pass * 50 + i) as i64;
            assert_eq!(got.data, p.data, "pass {pass} packet {i}: the file's bytes");
            assert_eq!(got.time_base, TimeBase::per_sample(48_000).unwrap());
            assert!(got.key_frame);
            // The first packet is pre-skip samples before zero; a pass lasts its 50
            // packets of 960 samples, so the next starts where the last ended.
            assert_eq!(got.pts, n * 960 - pre_skip, "pass {pass} packet {i}");
            assert!(last.is_none_or(|l| got.pts > l));
            last = Some(got.pts);
            let due = (got.pts as f64 / 48_000.0).max(0.0);
            at_time(started.elapsed(), due, &format!("packet {n}"));
        }
    }
    assert_eq!(track.stats().dropped, 0);
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn webm_passes_both_tracks_through() {
    let (video, audio) = (vp8_frames(), opus_packets());
    let path = temp_path("both.webm");
    let mut w = WebmWriter::new(
        Cursor::new(Vec::new()),
        &[WebmTrack::video(Codec::Vp8, 160, 120), WebmTrack::opus(1)],
    )
    .unwrap();
    let (mut v, mut a) = (video.iter().peekable(), audio.iter().peekable());
    loop {
        let vt = v.peek().map(|f| f.time_base.seconds(f.pts));
        let at = a.peek().map(|f| f.time_base.seconds(f.pts));
        match (vt, at) {
            (Some(x), Some(y)) if x <= y => w.write_frame(0, v.next().unwrap()).unwrap(),
            (Some(_), None) => w.write_frame(0, v.next().unwrap()).unwrap(),
            (_, Some(_)) => w.write_frame(1, a.next().unwrap()).unwrap(),
            (None, None) => break,
        }
    }
    std::fs::write(&path, w.finish().unwrap().into_inner()).unwrap();

    let mut player = MediaPlayer::open_with(&path, passthrough(false)).unwrap();
    let (tv, ta) = (
        player.encoded_video().unwrap(),
        player.encoded_audio().unwrap(),
    );
    let drain = |track: ferrtc_media::EncodedSourceTrack| async move {
        let mut got = Vec::new();
        while let Ok(f) = track.recv().await {
            got.push(f);
        }
        got
    };
    let (gv, ga) = tokio::join!(drain(tv), drain(ta));
    assert_eq!(gv.len(), 30);
    assert_eq!(ga.len(), 50);
    for (g, f) in gv.iter().zip(&video) {
        assert_eq!((&g.data, g.key_frame), (&f.data, f.key_frame));
    }
    for (g, f) in ga.iter().zip(&audio) {
        assert_eq!(g.data, f.data);
    }
    // WebM block times are milliseconds: 33 or 34 ms apart on the 90 kHz clock.
    assert!(
        gv.windows(2)
            .all(|w| (2_970..=3_060).contains(&(w[1].pts - w[0].pts)))
    );
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn raw_files_cannot_pass_through() {
    let path = temp_path("raw.wav");
    let r = MediaPlayer::open_with(&path, passthrough(false));
    assert!(matches!(
        r,
        Err(MediaError::Container(ContainerError::Io(_)))
            | Err(MediaError::Container(ContainerError::NoPassthrough(_)))
    ));
    std::fs::write(&path, b"RIFF").unwrap();
    let r = MediaPlayer::open_with(&path, passthrough(false));
    assert!(
        matches!(
            r,
            Err(MediaError::Container(ContainerError::NoPassthrough(_)))
        ),
        "{r:?}"
    );
    std::fs::remove_file(&path).unwrap();
}
