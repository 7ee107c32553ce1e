//! Property tests: codec and container round trips, and readers and decoders that never panic
//! on arbitrary input.

use std::io::Cursor;

use ferrtc_media::container::{IvfReader, IvfWriter, WavReader, WavWriter, Y4mReader};
use ferrtc_media::{
    AudioFrame, Codec, EncodedFrame, G711Law, G722Decoder, TimeBase, VideoDecoder, VpxDecoder,
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ivf_round_trips(frames in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..300), 0i64..1 << 40), 0..12)) {
        let tb = TimeBase::MILLISECONDS;
        let mut w = IvfWriter::new(Cursor::new(Vec::new()), Codec::Vp8, 320, 240, tb).unwrap();
        for (data, pts) in &frames {
            w.write_frame(&EncodedFrame { data: data.clone(), pts: *pts, time_base: tb, key_frame: false }).unwrap();
        }
        let bytes = w.finish().unwrap().into_inner();
        let mut r = IvfReader::new(Cursor::new(bytes)).unwrap();
        prop_assert_eq!(r.header().frame_count as usize, frames.len());
        for (data, pts) in &frames {
            let f = r.read_frame().unwrap().unwrap();
            prop_assert_eq!(&f.data, data);
            prop_assert_eq!(f.pts, *pts);
        }
        prop_assert!(r.read_frame().unwrap().is_none());
    }

    #[test]
    fn wav_round_trips(channels in 1u16..=3, rate in 1u32..200_000, frames in 0usize..500, seed in any::<u64>()) {
        let mut x = seed | 1;
        let samples: Vec<i16> = (0..frames * usize::from(channels)).map(|_| {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            x as i16
        }).collect();
        let mut w = WavWriter::new(Cursor::new(Vec::new()), rate, channels).unwrap();
        w.write_frame(&AudioFrame::from_s16(rate, channels, samples.clone()).unwrap()).unwrap();
        let bytes = w.finish().unwrap().into_inner();
        let mut r = WavReader::new(Cursor::new(bytes)).unwrap();
        let mut back = Vec::new();
        while let Some(f) = r.read_frame(97, None).unwrap() {
            back.extend_from_slice(f.s16().unwrap());
        }
        prop_assert_eq!(back, samples);
    }

    #[test]
    fn s16_f32_s16_is_exact(samples in prop::collection::vec(any::<i16>(), 0..512)) {
        let f = AudioFrame::from_s16(48_000, 1, samples.clone()).unwrap();
        let back = f.to_f32(None).to_s16(None);
        prop_assert_eq!(back.s16().unwrap(), &samples[..]);
    }

    #[test]
    fn g711_decode_encode_is_identity(code in any::<u8>()) {
        prop_assert_eq!(G711Law::ALaw.encode(G711Law::ALaw.decode(code)), code);
        let mu = G711Law::MuLaw.encode(G711Law::MuLaw.decode(code));
        prop_assert!(mu == code || (code == 0x7F && mu == 0xFF));
    }

    #[test]
    fn readers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), prefix in 0usize..4) {
        let signed: Vec<u8> = [&b"YUV4MPEG2 W8 H8 F30:1\nFRAME\n"[..], b"DKIF", b"RIFF\x00\x00\x00\x00WAVE", b""][prefix]
            .iter().chain(&bytes).copied().collect();
        if let Ok(mut r) = Y4mReader::new(Cursor::new(&signed)) {
            for _ in 0..8 { if !matches!(r.read_frame(None), Ok(Some(_))) { break; } }
        }
        if let Ok(mut r) = IvfReader::new(Cursor::new(&signed)) {
            for _ in 0..8 { if !matches!(r.read_frame(), Ok(Some(_))) { break; } }
        }
        if let Ok(mut r) = WavReader::new(Cursor::new(&signed)) {
            for _ in 0..8 { if !matches!(r.read_frame(64, None), Ok(Some(_))) { break; } }
        }
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut out = Vec::new();
        G722Decoder::new().decode_samples(&bytes, &mut out);
        prop_assert_eq!(out.len(), 2 * bytes.len());
        // Garbage is an error or nothing; never a crash.
        let _ = VpxDecoder::vp8().unwrap().decode(&bytes, 0);
        let _ = VpxDecoder::vp9().unwrap().decode(&bytes, 0);
    }
}
