//! Passthrough between two ferrtc peers over real UDP on 127.0.0.1: a VP8 IVF file played
//! without decoding (aiortc's `MediaPlayer(..., decode=False)`) is sent as it is, and the
//! peer's frames are the file's bytes; a negotiated codec other than the file's gives a typed
//! error.

#![cfg(feature = "media")]

mod common;

use std::io::Cursor;
use std::path::PathBuf;

use common::*;
use ferrtc::media::container::IvfWriter;
use ferrtc::media::{
    Codec, EncodedFrame, MediaPlayer, PassthroughError, PixelFormat, PlayerOptions, TimeBase,
    VideoEncoder, VideoEncoderConfig, VideoFrame, VpxEncoder,
};
use ferrtc::{CodecKind, Event, PeerConnection};

const FRAMES: usize = 45;

/// A VP8 IVF file of [`FRAMES`] 160x120 frames at 30 fps, key frames at 0 and 30; its path
/// and frames.
fn vp8_ivf(name: &str) -> (PathBuf, Vec<EncodedFrame>) {
    let config = VideoEncoderConfig {
        width: 160,
        height: 120,
        bitrate_bps: 300_000,
        frame_rate: 30,
    };
    let mut enc = VpxEncoder::vp8(config).unwrap();
    let mut frames = Vec::new();
    for i in 0..FRAMES {
        let mut f = VideoFrame::new(PixelFormat::I420, 160, 120).unwrap();
        for (j, y) in f.plane_mut(0).iter_mut().enumerate() {
            *y = ((j + 7 * i) % 200) as u8 + 20;
        }
        f.pts = i as i64 * 3_000;
        f.time_base = TimeBase::VIDEO_90KHZ;
        if i == 30 {
            enc.request_key_frame();
        }
        enc.encode(&f, &mut frames).unwrap();
    }
    assert_eq!(frames.len(), FRAMES);
    let mut w = IvfWriter::new(
        Cursor::new(Vec::new()),
        Codec::Vp8,
        160,
        120,
        TimeBase::VIDEO_90KHZ,
    )
    .unwrap();
    for f in &frames {
        w.write_frame(f).unwrap();
    }
    let path = std::env::temp_dir().join(format!("ferrtc-pt-{}-{name}.ivf", std::process::id()));
    std::fs::write(&path, w.finish().unwrap().into_inner()).unwrap();
    (path, frames)
}

fn passthrough() -> PlayerOptions {
    PlayerOptions::new().with_decode(false)
}

#[tokio::test]
async fn a_passthrough_vp8_file_arrives_byte_for_byte() {
    let (path, frames) = vp8_ivf("bytes");
    let a = PeerConnection::new(loopback()).await.unwrap();
    let b = PeerConnection::new(loopback()).await.unwrap();
    let mut player = MediaPlayer::open_with(&path, passthrough()).unwrap();
    let sender = a
        .add_encoded_track(player.encoded_video().unwrap())
        .await
        .unwrap();
    assert_eq!(sender.codec(), Codec::Vp8);
    within("negotiation", async {
        a.set_local_description(None).await.unwrap();
        a.gathering_complete().await.unwrap();
        b.set_remote_description(a.local_description().unwrap())
            .await
            .unwrap();
        let receiver = b.transceivers().await.unwrap()[0].id;
        b.set_receive_frames(receiver, true).unwrap();
        b.set_local_description(None).await.unwrap();
        b.gathering_complete().await.unwrap();
        a.set_remote_description(b.local_description().unwrap())
            .await
            .unwrap();
    })
    .await;

    let mut got = Vec::new();
    within("the file's frames", async {
        while got.len() < FRAMES {
            match b.next_event().await {
                Some(Event::Frame { frame, .. }) => got.push(frame),
                Some(_) => {}
                None => panic!("b ended"),
            }
        }
    })
    .await;
    for (i, (g, f)) in got.iter().zip(&frames).enumerate() {
        assert_eq!(g.codec, CodecKind::Vp8);
        assert_eq!(&g.data[..], &f.data[..], "frame {i}: the file's bytes");
        assert_eq!(g.keyframe, f.key_frame, "frame {i}");
        // RTP timestamps step as the file's (their origin is random).
        let step = g.rtp_timestamp.wrapping_sub(got[0].rtp_timestamp);
        assert_eq!(step, i as u32 * 3_000, "frame {i}");
    }
    within("sender done", sender.finished()).await.unwrap();
    let stats = sender.stats();
    assert_eq!(
        (stats.frames_sent, stats.key_frames, stats.frames_skipped),
        (FRAMES as u64, 2, 0),
        "{stats:?}"
    );
    eprintln!("passthrough over loopback: {stats:?}");
    a.close().await;
    b.close().await;
    std::fs::remove_file(&path).unwrap();
}

/// `sdp` with its video m-line keeping only the payload types of `codec` (and the RTX ones
/// that repair them): a peer that offers nothing else.
fn video_only(sdp: &str, codec: &str) -> String {
    let lines: Vec<&str> = sdp.split("\r\n").collect();
    let rtpmap = |l: &str| -> Option<(String, String)> {
        let rest = l.strip_prefix("a=rtpmap:")?;
        let (pt, name) = rest.split_once(' ')?;
        Some((pt.to_owned(), name.split('/').next()?.to_owned()))
    };
    let mut keep: Vec<String> = lines
        .iter()
        .filter_map(|l| rtpmap(l))
        .filter(|(_, name)| name.eq_ignore_ascii_case(codec))
        .map(|(pt, _)| pt)
        .collect();
    let rtx: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            let rest = l.strip_prefix("a=fmtp:")?;
            let (pt, params) = rest.split_once(' ')?;
            let apt = params.strip_prefix("apt=")?;
            keep.contains(&apt.to_owned()).then(|| pt.to_owned())
        })
        .collect();
    keep.extend(rtx);
    let mut in_video = false;
    let mut out = Vec::new();
    for l in lines {
        if l.starts_with("m=") {
            in_video = l.starts_with("m=video");
            if in_video {
                let f: Vec<&str> = l.split(' ').collect();
                let pts: Vec<&str> = f[3..]
                    .iter()
                    .copied()
                    .filter(|pt| keep.iter().any(|k| k == pt))
                    .collect();
                out.push(format!("{} {}", f[..3].join(" "), pts.join(" ")));
                continue;
            }
        }
        let pt_of = |l: &str| {
            ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"]
                .iter()
                .find_map(|p| l.strip_prefix(p))
                .and_then(|r| r.split(' ').next())
                .map(str::to_owned)
        };
        match pt_of(l) {
            Some(pt) if in_video && !keep.contains(&pt) => {}
            _ => out.push(l.to_owned()),
        }
    }
    out.join("\r\n")
}

#[tokio::test]
async fn a_track_sends_its_codec_when_it_is_negotiated_but_not_first() {
    // Both sides put H.264 first; VP8 is still in the offer and the answer, so the VP8
    // file's sender picks it (an answerer may send any codec of its answer) and the peer
    // gets VP8 frames.
    let (path, frames) = vp8_ivf("not-first");
    let config = || {
        let mut c = loopback();
        c.codec_preferences = vec!["H264".into()];
        c
    };
    let a = PeerConnection::new(config()).await.unwrap();
    let b = PeerConnection::new(config()).await.unwrap();
    let mut player = MediaPlayer::open_with(&path, passthrough()).unwrap();
    let sender = a
        .add_encoded_track(player.encoded_video().unwrap())
        .await
        .unwrap();
    within("negotiation", async {
        a.set_local_description(None).await.unwrap();
        a.gathering_complete().await.unwrap();
        b.set_remote_description(a.local_description().unwrap())
            .await
            .unwrap();
        let receiver = b.transceivers().await.unwrap()[0].id;
        b.set_receive_frames(receiver, true).unwrap();
        b.set_local_description(None).await.unwrap();
        b.gathering_complete().await.unwrap();
        a.set_remote_description(b.local_description().unwrap())
            .await
            .unwrap();
    })
    .await;
    let t = a.transceivers().await.unwrap()[0].id;
    let (chosen, negotiated) = a.send_codecs(t).await.unwrap();
    assert_eq!(negotiated[0].codec, CodecKind::H264, "{negotiated:?}");
    assert_eq!(chosen.map(|c| c.codec), Some(CodecKind::Vp8));
    let mut got = 0;
    within("VP8 frames", async {
        while got < 10 {
            match b.next_event().await {
                Some(Event::Frame { frame, .. }) => {
                    assert_eq!(frame.codec, CodecKind::Vp8);
                    assert_eq!(&frame.data[..], &frames[got].data[..], "frame {got}");
                    got += 1;
                }
                Some(_) => {}
                None => panic!("b ended"),
            }
        }
    })
    .await;
    assert_eq!(sender.error(), None);
    a.close().await;
    b.close().await;
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn a_codec_mismatch_is_a_typed_error() {
    let (path, _) = vp8_ivf("mismatch");
    let a = PeerConnection::new(loopback()).await.unwrap();
    let b = PeerConnection::new(loopback()).await.unwrap();
    let mut player = MediaPlayer::open_with(&path, passthrough()).unwrap();
    let sender = a
        .add_encoded_track(player.encoded_video().unwrap())
        .await
        .unwrap();
    // B sees an offer holding only H.264 for video (a peer that has nothing else), so the
    // negotiation cannot give VP8.
    within("negotiation", async {
        a.set_local_description(None).await.unwrap();
        a.gathering_complete().await.unwrap();
        let offer = a.local_description().unwrap();
        let munged = video_only(&offer.sdp, "H264");
        assert!(munged.contains("H264/90000") && !munged.contains("VP8/90000"));
        b.set_remote_description(ferrtc::Description::offer(munged))
            .await
            .unwrap();
        b.set_local_description(None).await.unwrap();
        b.gathering_complete().await.unwrap();
        a.set_remote_description(b.local_description().unwrap())
            .await
            .unwrap();
    })
    .await;
    let err = within("the mismatch", sender.finished()).await.unwrap_err();
    assert_eq!(
        err,
        PassthroughError::CodecMismatch {
            track: Codec::Vp8,
            negotiated: CodecKind::H264,
        }
    );
    assert_eq!(sender.error(), Some(err));
    let text = err.to_string();
    assert!(text.contains("Vp8") && text.contains("H264"), "{text}");
    assert_eq!(sender.stats().frames_sent, 0);
    a.close().await;
    b.close().await;
    std::fs::remove_file(&path).unwrap();
}
