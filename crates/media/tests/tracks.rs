//! Tracks: back-pressure without latency growth, transforms that fail without ending the
//! stream, stop and end. Deterministic: a current-thread runtime, and tokio's paused virtual
//! clock where time matters (no real sleeping).

use std::time::Duration;

use ferrtc_media::{
    AudioFrame, BoxTrack, Frame, MediaError, MediaKind, MediaStreamTrack, PixelFormat, TimeBase,
    TransformTrack, VideoFrame, track_channel,
};

fn video(pts: i64) -> Frame {
    let mut f = VideoFrame::new(PixelFormat::I420, 16, 16).unwrap();
    f.pts = pts;
    f.time_base = TimeBase::MILLISECONDS;
    f.into()
}

/// Lockstep: the source sends ten frames for each one the consumer takes.
#[tokio::test(flavor = "current_thread")]
async fn slow_consumer_gets_the_newest_frame_and_drops_are_counted() {
    let (tx, track) = track_channel(MediaKind::Video, "cam");
    let mut sent = 0i64;
    for round in 0..20 {
        for _ in 0..10 {
            tx.send(video(sent)).unwrap();
            sent += 1;
        }
        let frame = track.recv().await.unwrap();
        // Latency is at most one frame: what comes out is the last frame sent.
        assert_eq!(frame.pts(), sent - 1, "round {round}");
    }
    let stats = track.stats();
    assert_eq!((stats.sent, stats.delivered, stats.dropped), (200, 20, 180));
    assert_eq!(tx.stats(), stats);
}

/// Virtual time: a source at 100 frames/s (10 ms) and a consumer that takes one frame every
/// 100 ms (10x slower), for 10 virtual seconds. The age of each frame received stays under
/// one source interval; it does not grow with time.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn ten_times_slower_consumer_sees_bounded_latency() {
    let (tx, track) = track_channel(MediaKind::Video, "cam");
    let start = tokio::time::Instant::now();
    let producer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        for _ in 0..1_000 {
            tick.tick().await;
            let pts = start.elapsed().as_millis() as i64;
            if tx.send(video(pts)).is_err() {
                break;
            }
        }
    });
    let mut consumer_tick = tokio::time::interval(Duration::from_millis(100));
    consumer_tick.tick().await;
    let mut worst = 0i64;
    let mut received = 0;
    for _ in 0..99 {
        consumer_tick.tick().await;
        let frame = track.recv().await.unwrap();
        let age = start.elapsed().as_millis() as i64 - frame.pts();
        worst = worst.max(age);
        received += 1;
    }
    assert!(worst <= 10, "a frame {worst} ms old");
    let stats = track.stats();
    assert_eq!(stats.delivered, received);
    // About nine of every ten frames are dropped, and counted.
    assert!(stats.dropped >= 8 * received, "{stats:?}");
    // Every frame sent was delivered or dropped, but for at most one still waiting.
    assert!(
        stats.sent - stats.delivered - stats.dropped <= 1,
        "{stats:?}"
    );
    eprintln!("10x slower consumer: worst age {worst} ms, {stats:?}");
    track.stop();
    producer.await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn failing_transform_repeats_the_previous_frame_and_keeps_going() {
    let (tx, source) = track_channel(MediaKind::Video, "cam");
    // Brightens luma; fails on every third frame.
    let transform = TransformTrack::new(source, |frame: &Frame| {
        if frame.pts() % 3 == 2 {
            return Err(format!("frame {} is cursed", frame.pts()));
        }
        let mut out = frame.clone();
        if let Frame::Video(v) = &mut out {
            v.plane_mut(0).fill(200);
        }
        Ok(out)
    });
    for pts in 0..9 {
        tx.send(video(pts)).unwrap();
        let out = transform.recv().await.expect("the stream goes on");
        assert_eq!(out.pts(), pts, "timing continues through failures");
        // Failed frames repeat the previous output (brightened), not the raw input.
        assert!(out.as_video().unwrap().plane(0).iter().all(|&y| y == 200));
    }
    let stats = transform.stats();
    assert_eq!((stats.transformed, stats.failed), (6, 3));
    assert_eq!(
        transform.last_error().unwrap().to_string(),
        "frame 8 is cursed"
    );
    assert!(!transform.is_ended());
    drop(tx);
    assert!(matches!(transform.recv().await, Err(MediaError::Ended)));
    assert!(transform.is_ended());
    transform.ended().await;
}

#[tokio::test(flavor = "current_thread")]
async fn first_frame_failing_passes_the_input_through() {
    let (tx, source) = track_channel(MediaKind::Audio, "mic");
    let t = TransformTrack::new(source, |_: &Frame| Err::<Frame, _>("nope"));
    let mut f = AudioFrame::from_s16(8_000, 1, vec![7; 160]).unwrap();
    f.pts = 160;
    tx.send(f.into()).unwrap();
    let out = t.recv().await.unwrap();
    assert_eq!(out.as_audio().unwrap().s16().unwrap()[0], 7);
    assert_eq!(t.kind(), MediaKind::Audio);
    assert_ne!(t.id(), "mic");
}

#[tokio::test(flavor = "current_thread")]
async fn stop_ends_a_waiting_recv_and_the_sender_sees_it() {
    let (tx, track) = track_channel(MediaKind::Video, "cam");
    let track = std::sync::Arc::new(track);
    let waiter = {
        let track = std::sync::Arc::clone(&track);
        tokio::spawn(async move { track.recv().await })
    };
    tokio::task::yield_now().await; // the waiter is now parked in recv
    track.stop();
    assert!(matches!(waiter.await.unwrap(), Err(MediaError::Ended)));
    assert!(tx.is_closed());
    tx.closed().await;
    assert!(tx.send(video(0)).is_err());
    track.ended().await;
}

#[tokio::test(flavor = "current_thread")]
async fn sender_drop_delivers_the_last_frame_then_ends() {
    let (tx, track) = track_channel(MediaKind::Video, "file");
    tx.send(video(41)).unwrap();
    drop(tx);
    assert!(!track.is_ended());
    assert_eq!(track.recv().await.unwrap().pts(), 41);
    assert!(matches!(track.recv().await, Err(MediaError::Ended)));
    assert!(track.is_ended());
}

#[tokio::test(flavor = "current_thread")]
async fn boxed_tracks_mix_kinds() {
    let (vtx, v) = track_channel(MediaKind::Video, "v");
    let (atx, a) = track_channel(MediaKind::Audio, "a");
    let tracks = [
        BoxTrack::new(v),
        BoxTrack::new(TransformTrack::new(a, |f: &Frame| {
            Ok::<_, std::convert::Infallible>(f.clone())
        })),
    ];
    vtx.send(video(1)).unwrap();
    atx.send(AudioFrame::from_s16(8_000, 1, vec![0; 8]).unwrap().into())
        .unwrap();
    assert_eq!(tracks[0].recv().await.unwrap().kind(), MediaKind::Video);
    assert_eq!(tracks[1].recv().await.unwrap().kind(), MediaKind::Audio);
    tracks[1].stop();
    assert!(atx.is_closed(), "stopping a transform stops what it wraps");
}
