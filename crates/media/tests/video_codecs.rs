//! VP8 and VP9 (libvpx) and H.264 (OpenH264): quality at 1 Mbit/s, key frames on request,
//! bitrate changes.

mod common;

use common::{MovingPattern, psnr_y};
use ferrtc_media::{
    Codec, EncodedFrame, H264Decoder, H264Encoder, VideoDecoder, VideoEncoder, VideoEncoderConfig,
    VpxDecoder, VpxEncoder,
};

const FRAMES: usize = 60;

fn config(bitrate_bps: u32) -> VideoEncoderConfig {
    VideoEncoderConfig {
        width: 640,
        height: 480,
        bitrate_bps,
        frame_rate: 30,
    }
}

fn encoders(bitrate_bps: u32) -> Vec<(Box<dyn VideoEncoder>, Box<dyn VideoDecoder>)> {
    vec![
        (
            Box::new(VpxEncoder::vp8(config(bitrate_bps)).unwrap()),
            Box::new(VpxDecoder::vp8().unwrap()),
        ),
        (
            Box::new(VpxEncoder::vp9(config(bitrate_bps)).unwrap()),
            Box::new(VpxDecoder::vp9().unwrap()),
        ),
        (
            Box::new(H264Encoder::new(config(bitrate_bps)).unwrap()),
            Box::new(H264Decoder::new().unwrap()),
        ),
    ]
}

fn encode_one(enc: &mut dyn VideoEncoder, frame: &ferrtc_media::VideoFrame) -> EncodedFrame {
    let mut out = Vec::new();
    enc.encode(frame, &mut out).unwrap();
    // Realtime settings: no look-ahead and no frame skipping, so one frame in, one frame out.
    assert_eq!(out.len(), 1);
    out.pop().unwrap()
}

#[test]
fn psnr_at_1_mbps_is_at_least_30_db() {
    for (mut enc, mut dec) in encoders(1_000_000) {
        let codec = enc.settings().codec;
        let mut pattern = MovingPattern::new(640, 480);
        let (mut total_bytes, mut worst, mut sum) = (0usize, f64::INFINITY, 0.0);
        for i in 0..FRAMES {
            let frame = pattern.next_frame();
            let packet = encode_one(enc.as_mut(), &frame);
            assert_eq!(packet.key_frame, i == 0, "{codec:?} frame {i}");
            assert_eq!(packet.pts, frame.pts);
            total_bytes += packet.data.len();
            let decoded = dec
                .decode(&packet.data, packet.pts)
                .unwrap()
                .expect("a picture");
            assert_eq!(
                (decoded.width(), decoded.height(), decoded.pts),
                (640, 480, frame.pts)
            );
            let psnr = psnr_y(&frame, &decoded);
            worst = worst.min(psnr);
            sum += psnr;
        }
        let kbps = total_bytes as f64 * 8.0 / (FRAMES as f64 / 30.0) / 1000.0;
        eprintln!(
            "{codec:?}: mean Y-PSNR {:.1} dB, worst {worst:.1} dB, {kbps:.0} kbit/s",
            sum / FRAMES as f64
        );
        assert!(worst >= 30.0, "{codec:?}: worst frame {worst:.1} dB");
        // CBR holds the rate within a loose band around the target.
        assert!(
            (500.0..1_500.0).contains(&kbps),
            "{codec:?}: {kbps:.0} kbit/s"
        );
    }
}

#[test]
fn key_frame_comes_out_after_request() {
    for (mut enc, mut dec) in encoders(500_000) {
        let codec = enc.settings().codec;
        let mut pattern = MovingPattern::new(640, 480);
        for i in 0..10 {
            assert_eq!(
                encode_one(enc.as_mut(), &pattern.next_frame()).key_frame,
                i == 0
            );
        }
        enc.request_key_frame();
        let key = encode_one(enc.as_mut(), &pattern.next_frame());
        assert!(key.key_frame, "{codec:?}");
        // Only one: the request is consumed.
        assert!(
            !encode_one(enc.as_mut(), &pattern.next_frame()).key_frame,
            "{codec:?}"
        );
        // A fresh decoder starts from the requested key frame.
        assert!(
            dec.decode(&key.data, key.pts).unwrap().is_some(),
            "{codec:?}"
        );
    }
}

#[test]
fn bitrate_change_takes_effect() {
    for (mut enc, _) in encoders(1_500_000) {
        let codec = enc.settings().codec;
        let mut pattern = MovingPattern::new(640, 480);
        let mut phase = |enc: &mut dyn VideoEncoder| {
            let sizes: Vec<usize> = (0..FRAMES)
                .map(|_| encode_one(enc, &pattern.next_frame()).data.len())
                .collect();
            // The second half, once rate control has settled.
            sizes[FRAMES / 2..].iter().sum::<usize>() as f64 * 8.0
                / (FRAMES as f64 / 2.0 / 30.0)
                / 1000.0
        };
        let high = phase(enc.as_mut());
        enc.set_bitrate(300_000).unwrap();
        assert_eq!(enc.settings().config.bitrate_bps, 300_000);
        let low = phase(enc.as_mut());
        eprintln!("{codec:?}: {high:.0} kbit/s at 1500, {low:.0} kbit/s at 300");
        assert!(low < high / 2.5, "{codec:?}: {high:.0} -> {low:.0} kbit/s");
        assert!(
            (150.0..450.0).contains(&low),
            "{codec:?}: {low:.0} kbit/s for a 300 target"
        );
    }
}

#[test]
fn settings_errors_and_codec_identity() {
    let enc = VpxEncoder::vp9(config(1_000_000)).unwrap();
    let s = enc.settings();
    assert_eq!(
        (s.codec, s.threads, s.realtime, s.frame_dropping),
        (Codec::Vp9, 1, true, false)
    );
    assert!(VpxEncoder::vp8(config(0)).is_err());
    assert!(
        VpxEncoder::vp8(VideoEncoderConfig {
            width: 0,
            ..config(1_000_000)
        })
        .is_err()
    );
    let mut enc = VpxEncoder::vp8(config(1_000_000)).unwrap();
    let small = ferrtc_media::VideoFrame::new(ferrtc_media::PixelFormat::I420, 320, 240).unwrap();
    assert!(matches!(
        enc.encode(&small, &mut Vec::new()),
        Err(ferrtc_media::CodecError::DimensionsChanged { .. })
    ));
    // Garbage is rejected, not a crash.
    let mut dec = VpxDecoder::vp8().unwrap();
    assert!(dec.decode(&[0xFF; 7], 0).is_err());
    assert!(dec.decode(&[], 0).is_err());
}

/// WebRTC's H.264 is constrained baseline in packetization mode 1 (RFC 7742 §6.2): the first
/// frame is an IDR preceded by SPS and PPS, in Annex B form, with profile_idc 66 and
/// constraint_set1_flag (profile-level-id 42e0xx or 42c0xx).
#[test]
fn h264_is_constrained_baseline_annex_b() {
    let mut enc = H264Encoder::new(config(1_000_000)).unwrap();
    let mut pattern = MovingPattern::new(640, 480);
    let first = encode_one(&mut enc, &pattern.next_frame());
    assert!(first.key_frame);
    assert_eq!(&first.data[..4], &[0, 0, 0, 1], "Annex B start code");
    let nal_types: Vec<u8> = first
        .data
        .windows(4)
        .filter(|w| w[..3] == [0, 0, 1])
        .map(|w| w[3] & 0x1F)
        .collect();
    eprintln!(
        "NAL unit types of the first frame: {nal_types:?}; SPS starts {:02x?}",
        &first.data[4..8]
    );
    assert_eq!(&nal_types[..2], &[7, 8], "SPS, then PPS");
    assert!(nal_types.contains(&5), "an IDR slice");
    let (profile_idc, constraints) = (first.data[5], first.data[6]);
    assert_eq!(profile_idc, 66, "baseline");
    assert_ne!(
        constraints & 0x40,
        0,
        "constraint_set1_flag: constrained baseline"
    );
    let second = encode_one(&mut enc, &pattern.next_frame());
    assert!(!second.key_frame);
}
