//! Frame mode between two ferrtc peers over real UDP on 127.0.0.1: whole encoded frames
//! written on one side come out whole, in order and with their timestamps on the other, and
//! a key-frame request comes back as an event.

mod common;

use bytes::Bytes;
use common::*;
use ferrtc::{CodecKind, Direction, Event, MediaKind, PeerConnection, TransceiverInit};

/// A VP8-shaped frame of `len` bytes: the payload header's P bit (RFC 6386 §9.1) says key
/// frame or not; the rest is a pattern that tells frames apart.
fn vp8_frame(index: u8, key: bool, len: usize) -> Bytes {
    let mut data: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ index)
        .collect();
    data[0] = if key { 0x10 } else { 0x11 };
    Bytes::from(data)
}

#[tokio::test]
async fn frames_written_on_one_side_come_out_whole_on_the_other() {
    let a = PeerConnection::new(loopback()).await.unwrap();
    let b = PeerConnection::new(loopback()).await.unwrap();
    let sender = a
        .add_transceiver(MediaKind::Video, TransceiverInit::default())
        .await
        .unwrap();
    within("negotiation", async {
        a.set_local_description(None).await.unwrap();
        a.gathering_complete().await.unwrap();
        b.set_remote_description(a.local_description().unwrap())
            .await
            .unwrap();
        let receiver = b.transceivers().await.unwrap()[0].id;
        b.set_direction(receiver, Direction::SendRecv)
            .await
            .unwrap();
        b.set_receive_frames(receiver, true).unwrap();
        b.set_local_description(None).await.unwrap();
        b.gathering_complete().await.unwrap();
        a.set_remote_description(b.local_description().unwrap())
            .await
            .unwrap();
    })
    .await;
    within("a connected", a.connected()).await.unwrap();
    within("b connected", b.connected()).await.unwrap();

    // A key frame larger than one packet, then delta frames, 30 fps on a 90 kHz clock.
    let frames: Vec<(Bytes, u32)> = (0..20u8)
        .map(|i| {
            let len = if i == 0 {
                5000
            } else {
                300 + usize::from(i) * 10
            };
            (vp8_frame(i, i == 0, len), 1000 + u32::from(i) * 3000)
        })
        .collect();
    for (data, ts) in &frames {
        a.write_frame(sender, data.clone(), *ts).unwrap();
    }
    let mut got = Vec::new();
    within("frames", async {
        while got.len() < frames.len() {
            match b.next_event().await {
                Some(Event::Frame { frame, .. }) => got.push(frame),
                Some(Event::Rtp { .. }) => panic!("an RTP packet on a transceiver in frame mode"),
                Some(_) => {}
                None => panic!("b ended"),
            }
        }
    })
    .await;
    for (i, (frame, (data, ts))) in got.iter().zip(&frames).enumerate() {
        assert_eq!(frame.codec, CodecKind::Vp8);
        assert_eq!(frame.rtp_timestamp, *ts, "frame {i}");
        assert_eq!(frame.keyframe, i == 0, "frame {i}");
        assert_eq!(&frame.data, data, "frame {i}");
    }

    // b asks for a key frame of what a sends: a hears it.
    let receiver = b.transceivers().await.unwrap()[0].id;
    b.request_keyframe(receiver).unwrap();
    within("key frame request", async {
        loop {
            match a.next_event().await {
                Some(Event::KeyframeRequest { transceiver }) if transceiver == sender => break,
                Some(_) => {}
                None => panic!("a ended"),
            }
        }
    })
    .await;
}
