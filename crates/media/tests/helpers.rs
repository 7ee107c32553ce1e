//! MediaRelay and MediaBlackhole, on a current-thread runtime (deterministic scheduling).

use ferrtc_media::{
    Frame, MediaBlackhole, MediaError, MediaKind, MediaRelay, MediaStreamTrack, PixelFormat,
    VideoFrame, track_channel,
};

fn video(pts: i64) -> Frame {
    let mut f = VideoFrame::new(PixelFormat::I420, 8, 8).unwrap();
    f.pts = pts;
    f.into()
}

#[tokio::test(flavor = "current_thread")]
async fn slow_subscriber_drops_only_for_itself() {
    let (camera, source) = track_channel(MediaKind::Video, "cam");
    let relay = MediaRelay::new(source);
    let fast = relay.subscribe();
    let slow = relay.subscribe();
    assert_eq!(relay.subscriber_count(), 2);
    for pts in 0..30 {
        camera.send(video(pts)).unwrap();
        // The fast one sees every frame: once it has frame `pts`, the relay has handed that
        // frame to everyone, so the source itself never drops.
        assert_eq!(fast.recv().await.unwrap().pts(), pts);
    }
    // The slow one wakes up late: it gets the newest frame, having dropped the rest.
    assert_eq!(slow.recv().await.unwrap().pts(), 29);
    assert_eq!((fast.stats().dropped, slow.stats().dropped), (0, 29));
    assert_eq!(camera.stats().dropped, 0);
    // Frames are shared, not copied.
    camera.send(video(30)).unwrap();
    let (a, b) = (fast.recv().await.unwrap(), slow.recv().await.unwrap());
    assert_eq!(
        a.as_video().unwrap().plane(0).as_ptr(),
        b.as_video().unwrap().plane(0).as_ptr()
    );

    // A stopped subscriber is forgotten; the other goes on.
    slow.stop();
    camera.send(video(31)).unwrap();
    assert_eq!(fast.recv().await.unwrap().pts(), 31);
    assert_eq!(relay.subscriber_count(), 1);

    // The source ending ends the subscribers, and later ones start ended.
    drop(camera);
    assert!(matches!(fast.recv().await, Err(MediaError::Ended)));
    assert!(matches!(
        relay.subscribe().recv().await,
        Err(MediaError::Ended)
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_the_relay_stops_the_source() {
    let (camera, source) = track_channel(MediaKind::Video, "cam");
    let relay = MediaRelay::new(source);
    let sub = relay.subscribe();
    drop(relay);
    camera.closed().await;
    assert!(matches!(sub.recv().await, Err(MediaError::Ended)));
}

#[tokio::test(flavor = "current_thread")]
async fn blackhole_consumes_until_the_tracks_end() {
    let (a_tx, a) = track_channel(MediaKind::Video, "a");
    let (b_tx, b) = track_channel(MediaKind::Video, "b");
    let mut hole = MediaBlackhole::new();
    hole.add_track(a);
    hole.add_track(b);
    hole.start();
    for pts in 0..5 {
        a_tx.send(video(pts)).unwrap();
        b_tx.send(video(pts)).unwrap();
        tokio::task::yield_now().await;
    }
    drop(a_tx);
    hole.stop();
    hole.finished().await;
    assert_eq!(hole.frames_consumed(), 10);
    assert!(b_tx.is_closed());
}
