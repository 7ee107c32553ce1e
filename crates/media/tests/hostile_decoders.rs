//! Decoders fed hostile input: arbitrary bytes, and real VP8, VP9, H.264 and Opus bitstreams
//! with bits flipped, bytes overwritten and frames cut short. Nothing may panic or crash; a
//! bad frame is a typed [`CodecError`] or no picture, and the decoder keeps working: a clean
//! key frame after the damage decodes again.

mod common;

use common::MovingPattern;
use ferrtc_media::{
    AudioDecoder, AudioEncoder, AudioFrame, CodecError, EncodedFrame, G711Decoder, G711Law,
    G722Decoder, H264Decoder, H264Encoder, OpusDecoder, OpusEncoder, VideoDecoder, VideoEncoder,
    VideoEncoderConfig, VpxDecoder, VpxEncoder,
};
use proptest::prelude::*;

const W: u32 = 160;
const H: u32 = 120;

#[derive(Clone, Copy, Debug)]
enum Video {
    Vp8,
    Vp9,
    H264,
}

fn encoder(codec: Video) -> Box<dyn VideoEncoder> {
    let config = VideoEncoderConfig {
        width: W,
        height: H,
        bitrate_bps: 300_000,
        frame_rate: 30,
    };
    match codec {
        Video::Vp8 => Box::new(VpxEncoder::vp8(config).unwrap()),
        Video::Vp9 => Box::new(VpxEncoder::vp9(config).unwrap()),
        Video::H264 => Box::new(H264Encoder::new(config).unwrap()),
    }
}

fn decoder(codec: Video) -> Box<dyn VideoDecoder> {
    match codec {
        Video::Vp8 => Box::new(VpxDecoder::vp8().unwrap()),
        Video::Vp9 => Box::new(VpxDecoder::vp9().unwrap()),
        Video::H264 => Box::new(H264Decoder::new().unwrap()),
    }
}

/// Eight frames, a key frame first.
fn stream(codec: Video) -> Vec<EncodedFrame> {
    let mut enc = encoder(codec);
    let mut pattern = MovingPattern::new(W, H);
    let mut out = Vec::new();
    for _ in 0..8 {
        enc.encode(&pattern.next_frame(), &mut out).unwrap();
    }
    assert!(out[0].key_frame);
    out
}

fn streams() -> &'static [(Video, Vec<EncodedFrame>)] {
    static S: std::sync::OnceLock<Vec<(Video, Vec<EncodedFrame>)>> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        [Video::Vp8, Video::Vp9, Video::H264]
            .map(|c| (c, stream(c)))
            .to_vec()
    })
}

fn opus_packets() -> &'static [EncodedFrame] {
    static S: std::sync::OnceLock<Vec<EncodedFrame>> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let mut enc = OpusEncoder::new(48_000, 2, 64_000).unwrap();
        let pcm: Vec<i16> = (0..9600).map(|i| ((i * 37) % 2000) as i16 - 1000).collect();
        let mut out = Vec::new();
        enc.encode(&AudioFrame::from_s16(48_000, 2, pcm).unwrap(), &mut out)
            .unwrap();
        out
    })
}

fn typed(r: &Result<Option<ferrtc_media::VideoFrame>, CodecError>) {
    // Every failure is one of the codec error kinds, never a panic or an abort.
    if let Err(e) = r {
        assert!(
            matches!(
                e,
                CodecError::Vpx { .. } | CodecError::OpenH264(_) | CodecError::Frame(_)
            ),
            "{e:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn video_decoders_survive_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        for codec in [Video::Vp8, Video::Vp9, Video::H264] {
            let mut d = decoder(codec);
            typed(&d.decode(&bytes, 0));
            // H.264 wants start codes: give it a NAL-shaped garbage too.
            let mut nal = vec![0, 0, 0, 1];
            nal.extend_from_slice(&bytes);
            typed(&d.decode(&nal, 0));
        }
    }

    #[test]
    fn video_decoders_survive_mutated_streams(
        which in 0usize..3,
        edits in prop::collection::vec((0usize..8, any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let (codec, frames) = &streams()[which];
        let mut frames: Vec<Vec<u8>> = frames.iter().map(|f| f.data.clone()).collect();
        for (frame, at, byte, how) in &edits {
            let f = &mut frames[*frame];
            if f.is_empty() { continue; }
            let i = at.index(f.len());
            match how {
                0 => f[i] ^= 1 << (byte % 8),
                1 => f[i] = *byte,
                _ => f.truncate(i),
            }
        }
        let mut d = decoder(*codec);
        for f in &frames {
            let r = d.decode(f, 0);
            typed(&r);
            if let Ok(Some(pic)) = r {
                // A picture that does come out has a sane size.
                prop_assert!(pic.width() <= 16_384 && pic.height() <= 16_384);
            }
        }
        // The clean key frame still decodes afterwards (a fresh decoder for H.264, whose
        // OpenH264 state may wait for an IDR with new parameter sets; same bytes for all).
        let clean = &streams()[which].1[0].data;
        let mut fresh = decoder(*codec);
        let pic = fresh.decode(clean, 0).unwrap().unwrap();
        prop_assert_eq!((pic.width(), pic.height()), (W, H));
    }

    #[test]
    fn audio_decoders_survive_arbitrary_and_mutated_packets(
        bytes in prop::collection::vec(any::<u8>(), 0..1500),
        packet in 0usize..10,
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut opus = OpusDecoder::new(48_000, 2).unwrap();
        // Garbage is an error (libopus's "invalid packet" and the like) or some audio; never
        // more than 120 ms of it (RFC 6716 §3.2.5).
        if let Ok(f) = opus.decode(&bytes, 0) { prop_assert!(f.samples() <= 5760); }
        let mut p = opus_packets()[packet % opus_packets().len()].data.clone();
        let i = at.index(p.len());
        p[i] = byte;
        if let Ok(f) = opus.decode(&p, 0) { prop_assert!(f.samples() <= 5760); }
        if let Err(e) = opus.decode(&bytes, 0) { prop_assert!(matches!(e, CodecError::Opus(_))); }
        // G.711 and G.722 take any byte: one sample per byte, two per byte.
        for law in [G711Law::MuLaw, G711Law::ALaw] {
            let f = G711Decoder::new(law).decode(&bytes, 0).unwrap();
            prop_assert_eq!(f.samples(), bytes.len());
        }
        if !bytes.is_empty() {
            let f = G722Decoder::new().decode(&bytes, 0).unwrap();
            prop_assert_eq!(f.samples(), 2 * bytes.len());
        }
    }
}
