//! Opus through libopus: the waveform survives 64 kbit/s; bitrate changes take effect.

use ferrtc_media::{AudioDecoder, AudioEncoder, AudioFrame, Codec, OpusDecoder, OpusEncoder};

const RATE: u32 = 48_000;

/// One second of three tones (440 Hz, 1 kHz, 2.5 kHz): steady, band-limited content whose
/// waveform a transparent-at-64-kbit/s codec keeps.
fn tones(channels: u16) -> Vec<i16> {
    (0..RATE as usize)
        .flat_map(|i| {
            let t = i as f64 / f64::from(RATE);
            let x = 0.30 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()
                + 0.20 * (2.0 * std::f64::consts::PI * 1_000.0 * t).sin()
                + 0.10 * (2.0 * std::f64::consts::PI * 2_500.0 * t).sin();
            std::iter::repeat_n((x * 32_767.0) as i16, usize::from(channels))
        })
        .collect()
}

/// Encodes `input` in 10 ms frames (so the encoder must gather two per packet) and decodes.
fn round_trip(
    enc: &mut OpusEncoder,
    dec: &mut OpusDecoder,
    input: &[i16],
    channels: u16,
) -> (Vec<i16>, usize) {
    let mut packets = Vec::new();
    let chunk = 480 * usize::from(channels);
    for (i, part) in input.chunks(chunk).enumerate() {
        let mut frame = AudioFrame::from_s16(RATE, channels, part.to_vec()).unwrap();
        frame.pts = (i * 480) as i64;
        enc.encode(&frame, &mut packets).unwrap();
    }
    let mut output = Vec::new();
    let mut bytes = 0;
    for (i, p) in packets.iter().enumerate() {
        // 20 ms packets on the 48 kHz RTP clock, counting on from the encoder's first input.
        assert_eq!(p.pts - packets[0].pts, (i * 960) as i64);
        bytes += p.data.len();
        let frame = dec.decode(&p.data, p.pts).unwrap();
        assert_eq!(frame.samples(), 960);
        output.extend_from_slice(frame.s16().unwrap());
    }
    (output, bytes)
}

/// SNR of `decoded` against `original` (mono), after shifting by the codec's delay: the lag in
/// 0..=20 ms with the highest cross-correlation. The first 100 ms (encoder start-up) are left
/// out.
fn aligned_snr(original: &[i16], decoded: &[i16]) -> (f64, usize) {
    let start = 4_800;
    let len = decoded.len().min(original.len()) - start - 960;
    let corr = |lag: usize| -> f64 {
        (start..start + len)
            .map(|i| f64::from(original[i]) * f64::from(decoded[i + lag]))
            .sum()
    };
    let lag = (0..=960)
        .max_by(|&a, &b| corr(a).total_cmp(&corr(b)))
        .unwrap();
    let (mut signal, mut noise) = (0.0, 0.0);
    for i in start..start + len {
        let (x, y) = (f64::from(original[i]), f64::from(decoded[i + lag]));
        signal += x * x;
        noise += (x - y) * (x - y);
    }
    (10.0 * (signal / noise).log10(), lag)
}

#[test]
fn waveform_survives_64_kbps() {
    let input = tones(1);
    let mut enc = OpusEncoder::new(RATE, 1, 64_000).unwrap();
    let mut dec = OpusDecoder::new(RATE, 1).unwrap();
    let (output, bytes) = round_trip(&mut enc, &mut dec, &input, 1);
    let (snr, lag) = aligned_snr(&input, &output);
    let kbps = bytes as f64 * 8.0 / 1_000.0;
    eprintln!("Opus 64 kbit/s: SNR {snr:.1} dB at a delay of {lag} samples, {kbps:.0} kbit/s");
    // Opus is a perceptual codec: it keeps what is heard, not every sample, so a waveform SNR
    // is not expected to be near PCM's. 15 dB means the error is under a fifth of the signal's
    // amplitude: the tones are there, in phase, at their level. A broken alignment, wrong
    // channel layout or wrong rate gives an SNR near or below 0 dB.
    assert!(snr >= 15.0, "SNR {snr:.1} dB");
    // libopus's documented look-ahead is 6.5 ms (312 samples at 48 kHz) in VoIP mode.
    assert!(lag <= 480, "delay {lag}");
    assert!((40.0..90.0).contains(&kbps), "{kbps:.0} kbit/s");
}

#[test]
fn stereo_and_bitrate_change() {
    let input = tones(2);
    let mut enc = OpusEncoder::new(RATE, 2, 64_000).unwrap();
    let mut dec = OpusDecoder::new(RATE, 2).unwrap();
    let (output, high) = round_trip(&mut enc, &mut dec, &input, 2);
    let left: Vec<i16> = output.iter().step_by(2).copied().collect();
    let mono: Vec<i16> = input.iter().step_by(2).copied().collect();
    assert!(aligned_snr(&mono, &left).0 >= 10.0);

    enc.set_bitrate(16_000).unwrap();
    assert_eq!(enc.settings().bitrate_bps, 16_000);
    assert_eq!(enc.settings().codec, Codec::Opus);
    let mut dec = OpusDecoder::new(RATE, 2).unwrap();
    let (_, low) = round_trip(&mut enc, &mut dec, &input, 2);
    eprintln!("Opus stereo: {high} bytes/s at 64 kbit/s, {low} at 16 kbit/s");
    assert!(low * 3 < high, "{high} -> {low}");
    assert!(enc.set_bitrate(0).is_err());
}

#[test]
fn lost_packet_is_concealed_and_format_is_checked() {
    let mut dec = OpusDecoder::new(RATE, 1).unwrap();
    assert_eq!(dec.decode(&[], 0).unwrap().samples(), 960);
    let mut enc = OpusEncoder::new(RATE, 1, 64_000).unwrap();
    let wrong = AudioFrame::from_s16(16_000, 1, vec![0; 320]).unwrap();
    assert!(enc.encode(&wrong, &mut Vec::new()).is_err());
    assert!(OpusEncoder::new(44_100, 1, 64_000).is_err());
}
