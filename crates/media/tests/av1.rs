//! AV1 decoding through libdav1d, on a bitstream made by another encoder (FFmpeg 5.1's
//! libaom, see tests/data/av1/README.md), checked picture for picture against FFmpeg's own
//! decode of the same file: AV1 decoding is exact, so the pictures must be identical.

#![cfg(feature = "av1")]

use std::process::Command;

use ferrtc_media::container::IvfReader;
use ferrtc_media::{
    Av1Decoder, Codec, Frame, MediaError, MediaPlayer, MediaStreamTrack, TimeBase, VideoDecoder,
};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/av1/testsrc-160x120.ivf"
);

/// FFmpeg's decode of the fixture as packed I420 frames.
fn ffmpeg_decode() -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args([
            "-v", "error", "-i", FIXTURE, "-f", "rawvideo", "-pix_fmt", "yuv420p", "-",
        ])
        .output()
        .expect("ffmpeg runs (Debian package ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn decodes_libaom_stream_exactly_as_ffmpeg() {
    let reference = ffmpeg_decode();
    let frame_len = 160 * 120 * 3 / 2;
    assert_eq!(reference.len(), 15 * frame_len);

    let mut reader = IvfReader::new(std::fs::File::open(FIXTURE).unwrap()).unwrap();
    assert_eq!(reader.header().codec, Codec::Av1);
    let tb = reader.header().time_base;
    let mut decoder = Av1Decoder::new().unwrap();
    let mut pictures = Vec::new();
    while let Some(packet) = reader.read_frame().unwrap() {
        let pts = tb.rescale(packet.pts, TimeBase::VIDEO_90KHZ);
        if let Some(picture) = decoder.decode(&packet.data, pts).unwrap() {
            pictures.push(picture);
        }
    }
    assert_eq!(pictures.len(), 15);
    for (i, (picture, expected)) in pictures.iter().zip(reference.chunks(frame_len)).enumerate() {
        assert_eq!((picture.width(), picture.height()), (160, 120));
        assert_eq!(picture.pts, i as i64 * 3000, "30 fps on the 90 kHz clock");
        let mut packed = Vec::with_capacity(frame_len);
        for p in 0..3 {
            let n = picture.plane_row_bytes(p);
            for r in 0..picture.plane_rows(p) {
                packed.extend_from_slice(&picture.plane(p)[r * picture.stride(p)..][..n]);
            }
        }
        assert!(
            packed == expected,
            "picture {i} differs from FFmpeg's decode"
        );
    }
}

#[test]
fn hostile_input_is_refused_or_ignored() {
    let packets: Vec<Vec<u8>> = {
        let mut r = IvfReader::new(std::fs::File::open(FIXTURE).unwrap()).unwrap();
        std::iter::from_fn(|| r.read_frame().unwrap().map(|f| f.data)).collect()
    };
    let mut state = 0x853C_49E6_748F_EA9Bu64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut errors, mut pictures) = (0, 0);
    for round in 0..300 {
        let mut decoder = Av1Decoder::new().unwrap();
        for (i, p) in packets.iter().enumerate() {
            let mut p = p.clone();
            if round % 3 == 0 {
                // Pure noise.
                p.iter_mut().for_each(|b| *b = rand() as u8);
            } else if i % 4 == round % 4 {
                // A real packet with bytes overwritten or cut.
                for _ in 0..1 + rand() % 4 {
                    let at = (rand() % (p.len() as u64 + 1)) as usize;
                    if rand() % 4 == 0 {
                        p.truncate(at);
                    } else if at < p.len() {
                        p[at] = rand() as u8;
                    }
                }
            }
            match decoder.decode(&p, 0) {
                Ok(Some(pic)) => {
                    assert!(pic.width() <= 16_384 && pic.height() <= 16_384);
                    pictures += 1;
                }
                Ok(None) => {}
                Err(ferrtc_media::CodecError::Dav1d(_)) => errors += 1,
                Err(e) => panic!("{e:?}"),
            }
        }
    }
    // Damage shows as typed errors, and undamaged packets still give pictures.
    assert!(
        errors > 0 && pictures > 0,
        "{errors} errors, {pictures} pictures"
    );
}

/// Temporal units holding several shown frames, found by the `media_decoders` fuzz target:
/// dav1d refused the next buffer until its pictures were out ("again"), and new data while
/// some of the last was pending made the binding panic. Replayed frame by frame (the fuzz
/// input's framing: a codec byte, then frames after two-byte little-endian lengths), it
/// gives pictures or typed errors, never a timestamp from the future, and a clean stream
/// decodes fully after it on the same decoder.
#[test]
fn units_with_several_shown_frames_neither_panic_nor_stall() {
    let input = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/av1/hostile-pending-data.bin"
    ))
    .unwrap();
    let mut rest = &input[1..];
    let mut frames = Vec::new();
    while rest.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        frames.push(&rest[2..2 + len]);
        rest = &rest[2 + len..];
    }
    assert!(frames.len() >= 2, "{} frames", frames.len());
    let mut decoder = Av1Decoder::new().unwrap();
    let mut pictures = 0;
    for (i, f) in frames.iter().enumerate() {
        let pts = i as i64 * 3000;
        match decoder.decode(f, pts) {
            Ok(Some(p)) => {
                assert!((0..=pts).contains(&p.pts), "pts {} at input {i}", p.pts);
                pictures += 1;
            }
            Ok(None) | Err(ferrtc_media::CodecError::Dav1d(_)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    eprintln!("{} hostile frames: {pictures} pictures", frames.len());
    // The same decoder then takes a clean stream from its key frame.
    let mut reader = IvfReader::new(std::fs::File::open(FIXTURE).unwrap()).unwrap();
    let mut clean = 0;
    while let Some(packet) = reader.read_frame().unwrap() {
        if let Ok(Some(p)) = decoder.decode(&packet.data, 1_000_000 + packet.pts) {
            assert_eq!((p.width(), p.height()), (160, 120));
            clean += 1;
        }
    }
    assert!(clean >= 14, "{clean} of 15 clean pictures");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn media_player_plays_av1_ivf() {
    let mut player = MediaPlayer::open(FIXTURE).unwrap();
    let track = player.video().unwrap();
    let mut n = 0;
    loop {
        match track.recv().await {
            Ok(Frame::Video(v)) => {
                assert_eq!((v.width(), v.height()), (160, 120));
                n += 1;
            }
            Ok(Frame::Audio(_)) => panic!("audio from a video file"),
            Err(MediaError::Ended) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(n, 15);
}
