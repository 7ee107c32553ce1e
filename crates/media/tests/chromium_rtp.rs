//! Against data nobody here wrote: the VP8 that headless Chromium 156 sent as plain RTP (the
//! `ferrtc-rtp-codecs` captures, `crates/rtp-codecs/tests/fixtures/chromium-156`), taken
//! apart by our RED reading (RFC 2198), VP8 depacketizer (`ferrtc-rtp-codecs`, RFC 7741)
//! and decoder (libvpx through `VpxDecoder`), and checked picture for picture against
//! FFmpeg's own VP8 decoder (not libvpx) on the same frames: VP8 decoding is exact (RFC 6386
//! section 1: the reference decoder defines the output), so the pictures must be identical.
//!
//! The fixtures hold a selection of the captured packets (see their README), not the whole
//! stream: each run has the key frame Chromium started with and the frame right after it
//! complete, in consecutive sequence numbers; later packets have gaps and are not decoded.
//! The captures hold no H.264 (Chromium chose VP8 in every run), so H.264 from a browser is
//! not checked here.

use std::io::Cursor;
use std::process::Command;

use ferrtc_media::container::IvfWriter;
use ferrtc_media::{Codec, EncodedFrame, TimeBase, VideoDecoder, VideoFrame, VpxDecoder};
use ferrtc_rtp_codecs::RtpPacket;
use ferrtc_rtp_codecs::codec::Depacketizer;
use ferrtc_rtp_codecs::codec::vp8::Vp8Depacketizer;

macro_rules! fixture {
    ($f:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../rtp-codecs/tests/fixtures/chromium-156/",
            $f
        ))
    };
}

/// Each run's offer SDP and its video packets (VP8 inside RED).
const RUNS: [(&str, &str, &str); 4] = [
    (
        "default",
        fixture!("default-offer.sdp"),
        fixture!("default-video-red.hex"),
    ),
    (
        "remb",
        fixture!("remb-offer.sdp"),
        fixture!("remb-video-red.hex"),
    ),
    (
        "twobyte",
        fixture!("twobyte-offer.sdp"),
        fixture!("twobyte-video-red.hex"),
    ),
    (
        "lossy",
        fixture!("lossy-offer.sdp"),
        fixture!("lossy-video-red.hex"),
    ),
];

/// The fake camera's picture (`page.html` asks for 640x480).
const SIZE: (u32, u32) = (640, 480);

/// One packet per non-comment line, in hex.
fn packets(text: &str) -> Vec<Vec<u8>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            (0..l.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&l[i..i + 2], 16).expect("hex digit"))
                .collect()
        })
        .collect()
}

/// The payload type `a=rtpmap` gives `encoding` (e.g. `VP8/90000`) in the offer.
fn payload_type(sdp: &str, encoding: &str) -> u8 {
    sdp.lines()
        .find_map(|l| {
            let (pt, name) = l.strip_prefix("a=rtpmap:")?.split_once(' ')?;
            (name.trim() == encoding).then(|| pt.parse().expect("payload type"))
        })
        .unwrap_or_else(|| panic!("no {encoding} in the offer"))
}

/// The primary block of a RED payload (RFC 2198 section 3): headers of 4 bytes (F bit set:
/// PT, timestamp offset, block length) for redundant blocks, then a 1-byte header (F clear:
/// PT) for the primary one, whose data comes last. Returns its payload type and data.
fn red_primary(payload: &[u8]) -> (u8, &[u8]) {
    let mut at = 0;
    let mut redundant = 0;
    while payload[at] & 0x80 != 0 {
        let length = usize::from(payload[at + 2] & 0x03) << 8 | usize::from(payload[at + 3]);
        redundant += length;
        at += 4;
    }
    (payload[at] & 0x7F, &payload[at + 1 + redundant..])
}

/// The frames of a run that decode from its key frame on: runs of packets with one
/// timestamp, consecutive sequence numbers and the marker on the last, each following the
/// previous frame without a gap. Returns the VP8 frames with their RTP timestamps.
fn complete_frames(sdp: &str, hex: &str) -> Vec<(Vec<u8>, u32)> {
    let (red, vp8) = (
        payload_type(sdp, "red/90000"),
        payload_type(sdp, "VP8/90000"),
    );
    let mut depacketizer = Vp8Depacketizer::new();
    let mut frames = Vec::new();
    let mut pending: Vec<Vec<u8>> = Vec::new();
    let mut last_seq: Option<u16> = None;
    let mut frame_ts = None;
    for bytes in packets(hex) {
        let packet = RtpPacket::new_checked(&bytes[..]).expect("Chromium's RTP parses");
        assert_eq!(packet.payload_type().get(), red, "the video goes in RED");
        let seq = packet.sequence_number().0;
        if last_seq.is_some_and(|l| seq != l.wrapping_add(1)) {
            break; // a gap: what follows cannot be decoded from what came before
        }
        last_seq = Some(seq);
        let (pt, data) = red_primary(packet.payload());
        assert_eq!(pt, vp8, "RED's primary block is VP8");
        if pending.is_empty() {
            assert_eq!(depacketizer.frame_start(data), Some(true), "seq {seq}");
            frame_ts = Some(packet.timestamp());
        }
        assert_eq!(
            Some(packet.timestamp()),
            frame_ts,
            "one timestamp per frame"
        );
        pending.push(data.to_vec());
        if packet.marker() {
            let payloads: Vec<&[u8]> = pending.iter().map(Vec::as_slice).collect();
            let mut frame = Vec::new();
            depacketizer
                .depacketize(&payloads, &mut frame)
                .expect("Chromium's VP8 depacketizes");
            frames.push((frame, packet.timestamp()));
            pending.clear();
        }
    }
    frames
}

/// FFmpeg's decode of `frames` (written to an IVF file for it) as packed I420 pictures.
fn ffmpeg_decode(name: &str, frames: &[(Vec<u8>, u32)]) -> Vec<u8> {
    let tb = TimeBase::VIDEO_90KHZ;
    let mut ivf = IvfWriter::new(Cursor::new(Vec::new()), Codec::Vp8, 640, 480, tb).unwrap();
    for (data, ts) in frames {
        let frame = EncodedFrame {
            data: data.clone(),
            pts: i64::from(ts.wrapping_sub(frames[0].1)),
            time_base: tb,
            key_frame: false,
        };
        ivf.write_frame(&frame).unwrap();
    }
    let path = std::env::temp_dir().join(format!(
        "ferrtc-media-chromium-{name}-{}.ivf",
        std::process::id()
    ));
    std::fs::write(&path, ivf.finish().unwrap().into_inner()).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-c:v", "vp8", "-i"])
        .arg(&path)
        // One output picture per input frame, whatever the timestamps.
        .args(["-fps_mode", "passthrough"])
        .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "-"])
        .output()
        .expect("ffmpeg runs (Debian package ffmpeg)");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn packed_i420(picture: &VideoFrame) -> Vec<u8> {
    let mut packed = Vec::new();
    for p in 0..3 {
        let n = picture.plane_row_bytes(p);
        for r in 0..picture.plane_rows(p) {
            packed.extend_from_slice(&picture.plane(p)[r * picture.stride(p)..][..n]);
        }
    }
    packed
}

#[test]
fn chromium_vp8_decodes_exactly_as_ffmpeg() {
    let mut decoded = 0;
    for (name, sdp, hex) in RUNS {
        let frames = complete_frames(sdp, hex);
        assert!(
            frames.len() >= 2,
            "{name}: {} complete frames",
            frames.len()
        );
        // RFC 6386 section 9.1: a key frame has bit 0 of its first byte clear and the start
        // code 9d 01 2a at byte 3.
        assert_eq!(frames[0].0[0] & 1, 0, "{name}: starts with a key frame");
        assert_eq!(frames[0].0[3..6], [0x9d, 0x01, 0x2a]);
        assert!(
            frames[1..].iter().all(|(f, _)| f[0] & 1 == 1),
            "then delta frames"
        );

        let mut decoder = VpxDecoder::vp8().unwrap();
        let mut pictures = Vec::new();
        for (data, ts) in &frames {
            let pts = i64::from(*ts);
            let picture = decoder
                .decode(data, pts)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .unwrap_or_else(|| panic!("{name}: no picture for ts {ts}"));
            assert_eq!((picture.width(), picture.height()), SIZE, "{name}");
            assert_eq!(picture.pts, pts);
            pictures.push(picture);
        }
        let reference = ffmpeg_decode(name, &frames);
        let len = (SIZE.0 * SIZE.1 * 3 / 2) as usize;
        assert_eq!(
            reference.len(),
            frames.len() * len,
            "{name}: FFmpeg's pictures"
        );
        for (i, (picture, expected)) in pictures.iter().zip(reference.chunks(len)).enumerate() {
            assert!(
                packed_i420(picture) == expected,
                "{name}: picture {i} differs from FFmpeg's"
            );
        }
        decoded += pictures.len();
    }
    assert!(decoded >= 8, "{decoded} pictures");
}
