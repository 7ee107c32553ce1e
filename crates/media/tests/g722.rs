//! G.722 against FFmpeg's independent implementation (see `data/g722/README.md`): our encoder
//! gives the same bytes, our decoder the same samples. G.722's blocks are defined bit-exactly,
//! so any difference is a bug on one side.

use ferrtc_media::{AudioDecoder, AudioEncoder, AudioFrame, Codec, G722Decoder, G722Encoder};

const INPUT: &[u8] = include_bytes!("data/g722/input.s16le");
const FFMPEG_G722: &[u8] = include_bytes!("data/g722/ffmpeg.g722");
const FFMPEG_DECODED: &[u8] = include_bytes!("data/g722/ffmpeg-decoded.s16le");

fn samples(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

#[test]
fn encoder_matches_ffmpeg_bit_for_bit() {
    let mut ours = Vec::new();
    G722Encoder::new().encode_samples(&samples(INPUT), &mut ours);
    assert_eq!(ours.len(), FFMPEG_G722.len());
    let first_difference = ours.iter().zip(FFMPEG_G722).position(|(a, b)| a != b);
    assert_eq!(first_difference, None);
}

#[test]
fn decoder_matches_ffmpeg_bit_for_bit() {
    let mut ours = Vec::new();
    G722Decoder::new().decode_samples(FFMPEG_G722, &mut ours);
    let reference = samples(FFMPEG_DECODED);
    assert_eq!(ours.len(), reference.len());
    let first_difference = ours.iter().zip(&reference).position(|(a, b)| a != b);
    assert_eq!(first_difference, None);
}

#[test]
fn packets_through_the_traits() {
    let input = samples(INPUT);
    let mut enc = G722Encoder::new();
    let mut dec = G722Decoder::new();
    let mut packets = Vec::new();
    // 10 ms frames in, 20 ms packets out.
    for (i, part) in input.chunks(160).enumerate() {
        let mut frame = AudioFrame::from_s16(16_000, 1, part.to_vec()).unwrap();
        frame.pts = (i * 160) as i64;
        enc.encode(&frame, &mut packets).unwrap();
    }
    assert_eq!(packets.len(), input.len() / 320);
    let mut decoded = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        assert_eq!(p.data.len(), 160);
        // The RTP clock runs at 8 kHz for G.722 (RFC 3551 §4.5.2): 160 ticks per 20 ms.
        assert_eq!(p.pts, (i * 160) as i64);
        let frame = dec.decode(&p.data, p.pts).unwrap();
        assert_eq!((frame.sample_rate(), frame.samples()), (16_000, 320));
        decoded.extend_from_slice(frame.s16().unwrap());
    }
    assert_eq!(&decoded[..], &samples(FFMPEG_DECODED)[..decoded.len()]);
    assert_eq!(
        (enc.settings().codec, enc.settings().bitrate_bps),
        (Codec::G722, 64_000)
    );
}
