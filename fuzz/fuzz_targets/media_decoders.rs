//! Decoders fed arbitrary bytes: the first byte picks VP8, VP9, H.264, AV1, Opus, PCMU, PCMA
//! or G.722, the rest is split into frames by two-byte little-endian lengths. Nothing panics
//! or crashes; a bad frame is a typed error or no picture; a picture has the size of a real
//! one and planes as long as its strides say.
//!
//! The C libraries (libvpx, libopus and libdav1d from Debian, OpenH264 built by `cc`) are
//! not instrumented: libFuzzer's coverage sees only our side of the calls, so this target
//! explores by mutation of the real-stream seeds; a crash inside a library still shows.
#![no_main]

use ferrtc_media::{
    AudioDecoder, G711Decoder, G711Law, G722Decoder, H264Decoder, OpusDecoder, VideoDecoder,
    VpxDecoder,
};
use libfuzzer_sys::fuzz_target;

/// Splits `data` into frames, each after its two-byte length (cut short at the end).
fn frames(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 2);
        out.push(&data[2..2 + len]);
        data = &data[2 + len..];
    }
    out
}

fn video(mut decoder: impl VideoDecoder, frames: &[&[u8]]) {
    for (i, f) in frames.iter().enumerate() {
        if let Ok(Some(picture)) = decoder.decode(f, i as i64 * 3000) {
            let (w, h) = (picture.width(), picture.height());
            assert!(w > 0 && h > 0 && w <= 16_384 && h <= 16_384, "{w}x{h}");
            for p in 0..3 {
                assert!(picture.plane(p).len() >= picture.plane_rows(p) * picture.stride(p));
            }
            // A temporal unit may hold more than one shown frame (AV1): the decoder then
            // hands out a picture of an earlier input on a later call, with that input's
            // timestamp. Never a timestamp it was not given, never one from the future.
            assert!(
                picture.pts % 3000 == 0 && (0..=i as i64 * 3000).contains(&picture.pts),
                "pts {} after input {i}",
                picture.pts
            );
        }
    }
}

/// Decodes every frame; `most(len)` is the most samples per channel a frame of `len` bytes
/// may give.
fn audio(mut decoder: impl AudioDecoder, frames: &[&[u8]], most: impl Fn(usize) -> usize) {
    for (i, f) in frames.iter().enumerate() {
        if let Ok(samples) = decoder.decode(f, i as i64 * 960) {
            assert!(samples.samples() <= most(f.len()), "{}", samples.samples());
            assert_eq!(samples.pts, i as i64 * 960);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&codec, rest)) = data.split_first() else {
        return;
    };
    let frames = frames(rest);
    match codec % 8 {
        0 => video(VpxDecoder::vp8().expect("decoder"), &frames),
        1 => video(VpxDecoder::vp9().expect("decoder"), &frames),
        2 => video(H264Decoder::new().expect("decoder"), &frames),
        3 => video(ferrtc_media::Av1Decoder::new().expect("decoder"), &frames),
        // 120 ms at 48 kHz is the most one Opus packet holds (RFC 6716 section 3.2.5).
        4 => audio(
            OpusDecoder::new(48_000, 2).expect("decoder"),
            &frames,
            |_| 5760,
        ),
        // One sample per byte (G.711), two per byte (G.722 at 16 kHz).
        5 => audio(G711Decoder::new(G711Law::MuLaw), &frames, |n| n),
        6 => audio(G711Decoder::new(G711Law::ALaw), &frames, |n| n),
        _ => audio(G722Decoder::new(), &frames, |n| 2 * n),
    }
});
