//! aiortc's video transform, in Rust: Alice sends a camera-like track of raw frames, Bob
//! decodes it, turns it grey in a few lines and sends it back, Alice decodes what comes
//! back. Two ferrtc peers in one program, over real UDP on 127.0.0.1, VP8 both ways.
//!
//! ```sh
//! cargo run -p ferrtc --example grey
//! ```

use std::convert::Infallible;
use std::time::Duration;

use ferrtc::media::{
    Frame, MediaKind, MediaStreamTrack, PixelFormat, TimeBase, TransformTrack, VideoFrame,
    track_channel,
};
use ferrtc::net::HostAddresses;
use ferrtc::{Configuration, PeerConnection};

/// Frames Alice waits for before she is done.
const FRAMES_BACK: usize = 30;

/// A colourful frame that moves: what a camera would give.
fn camera_frame(index: u32) -> VideoFrame {
    let (w, h) = (320usize, 240usize);
    let mut frame = VideoFrame::new(PixelFormat::I420, w as u32, h as u32).expect("320x240");
    let strides = [frame.stride(0), frame.stride(1), frame.stride(2)];
    let t = index as usize;
    let [y, u, v] = frame.planes_mut();
    for r in 0..h {
        for c in 0..w {
            y[r * strides[0] + c] = ((c + r + 4 * t) % 220 + 16) as u8;
        }
    }
    for r in 0..h / 2 {
        for c in 0..w / 2 {
            u[r * strides[1] + c] = (64 + (c + t) % 128) as u8;
            v[r * strides[2] + c] = (192 - r % 128) as u8;
        }
    }
    frame.pts = i64::from(index) * 3_000; // 30 frames per second on the 90 kHz clock
    frame.time_base = TimeBase::VIDEO_90KHZ;
    frame
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = || Configuration::new().with_host_addresses(HostAddresses::loopback());
    let alice = PeerConnection::new(config()).await?;
    let bob = PeerConnection::new(config()).await?;

    // Alice's camera: a track fed by a sender (newest frame wins if the encoder lags).
    let (camera, source) = track_channel(MediaKind::Video, "camera");
    let sending = alice.add_media_track(source).await?;
    // What comes back on the same transceiver, decoded.
    let back = alice.remote_media_track(sending.transceiver()).await?;

    alice.set_local_description(None).await?;
    alice.gathering_complete().await?;
    bob.set_remote_description(alice.local_description().ok_or("no offer")?)
        .await?;

    // Bob, as aiortc's server example: for the video the offer brings, a decoded track,
    // transformed and sent back. (The `Track` event comes once the answer is applied; the
    // transceiver exists as soon as the offer is.)
    let transceiver = bob
        .transceivers()
        .await?
        .into_iter()
        .find(|t| t.kind == ferrtc::MediaKind::Video)
        .ok_or("no video in the offer")?
        .id;
    let remote = bob.remote_media_track(transceiver).await?;
    let grey = TransformTrack::new(remote, |frame: &Frame| {
        let mut frame = frame.clone(); // shares the planes until written
        if let Frame::Video(video) = &mut frame {
            let [_, u, v] = video.planes_mut();
            u.fill(128);
            v.fill(128);
        }
        Ok::<_, Infallible>(frame)
    });
    // W3C addTrack: reuses the transceiver the offer made, now sendrecv.
    bob.add_media_track(grey).await?;
    bob.set_local_description(None).await?;
    bob.gathering_complete().await?;
    alice
        .set_remote_description(bob.local_description().ok_or("no answer")?)
        .await?;

    // The camera runs at 30 frames per second until the program ends.
    let camera_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        for index in 0.. {
            tick.tick().await;
            if camera.send(camera_frame(index).into()).is_err() {
                break;
            }
        }
    });

    let mut grey_frames = 0;
    while grey_frames < FRAMES_BACK {
        let frame = back.recv().await?;
        let video = frame.as_video().ok_or("not video")?;
        // Both chroma planes, row by row (a stride may be wider than a row).
        let grey = [1, 2].iter().all(|&p| {
            (0..video.plane_rows(p)).all(|r| {
                video.plane(p)[r * video.stride(p)..][..video.plane_row_bytes(p)]
                    .iter()
                    .all(|&x| x.abs_diff(128) <= 3)
            })
        });
        if grey {
            grey_frames += 1;
            if grey_frames % 10 == 0 {
                println!(
                    "alice: {grey_frames} grey frames of {}x{} back",
                    video.width(),
                    video.height()
                );
            }
        }
    }
    let sent = sending.stats();
    println!(
        "alice: sent {} frames ({} key, {} bytes) as {:?}",
        sent.frames_sent,
        sent.key_frames,
        sent.bytes_sent,
        sending.codec()
    );
    println!("grey frames back: {grey_frames}");
    camera_task.abort();
    alice.close().await;
    bob.close().await;
    println!("done");
    Ok(())
}
