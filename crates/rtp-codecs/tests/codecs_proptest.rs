//! Property tests for the payload formats: every packetizer/depacketizer pair round-trips
//! random frames of every size through random reordering and duplication, a lost packet
//! never turns into a corrupt frame, and no payload makes a depacketizer panic.

use ferrtc_rtp_codecs::SeqNo;
use ferrtc_rtp_codecs::codec::audio::{AudioDepacketizer, AudioFormat, AudioPacketizer};
use ferrtc_rtp_codecs::codec::av1::{Av1Depacketizer, Av1Packetizer};
use ferrtc_rtp_codecs::codec::h264::{H264Depacketizer, H264Packetizer, PacketizationMode};
use ferrtc_rtp_codecs::codec::vp8::{Vp8Depacketizer, Vp8Packetizer};
use ferrtc_rtp_codecs::codec::vp9::{self, Vp9Depacketizer, Vp9Mode, Vp9Packetizer};
use ferrtc_rtp_codecs::codec::{Depacketizer, Frame, FrameAssembler, Packetizer};
use proptest::prelude::*;

struct Sent {
    frames: Vec<(u32, Vec<u8>)>,
    /// (seq, timestamp, marker, payload)
    packets: Vec<(SeqNo, u32, bool, Vec<u8>)>,
}

fn send(p: &mut impl Packetizer, frames: &[Vec<u8>], max: usize, first_seq: u16) -> Sent {
    let mut seq = SeqNo(first_seq);
    let mut packets = vec![];
    let mut sent = vec![];
    for (k, f) in frames.iter().enumerate() {
        let ts = (k as u32).wrapping_mul(3000).wrapping_add(0xffff_f000);
        let mut out = vec![];
        p.packetize(f, max, &mut out).unwrap();
        assert!(out.iter().all(|b| b.len() <= max && !b.is_empty()));
        let last = out.len() - 1;
        for (i, b) in out.into_iter().enumerate() {
            packets.push((seq, ts, i == last, b.to_vec()));
            seq = seq.wrapping_add(1);
        }
        sent.push((ts, f.clone()));
    }
    Sent {
        frames: sent,
        packets,
    }
}

/// Pushes `order` (indices into the packets, repeats allowed), returns the frames out.
fn receive(d: impl Depacketizer, s: &Sent, order: &[usize]) -> Vec<Frame> {
    let mut a = FrameAssembler::new(d, 32768);
    let mut got = vec![];
    for &i in order {
        let (seq, ts, m, p) = &s.packets[i];
        a.push(*seq, *ts, *m, p);
        while let Some(f) = a.poll_frame() {
            got.push(f);
        }
    }
    got
}

/// A random order of all packets (some twice), minus `drop`.
fn order(n: usize, keys: &[u32], drop: Option<usize>) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    v.sort_by_key(|&i| keys[i % keys.len()].rotate_left(i as u32 % 7));
    let dups: Vec<usize> = v.iter().copied().filter(|i| i % 5 == 3).collect();
    v.extend(dups);
    v.retain(|&i| Some(i) != drop);
    v
}

fn check_all(s: &Sent, got: &[Frame]) -> Result<(), TestCaseError> {
    let mut got: Vec<(u32, Vec<u8>)> = got.iter().map(|f| (f.timestamp, f.data.to_vec())).collect();
    got.sort_by_key(|(ts, _)| ts.wrapping_sub(0xffff_f000));
    prop_assert_eq!(got.len(), s.frames.len());
    for (g, w) in got.iter().zip(&s.frames) {
        prop_assert_eq!(g, w);
    }
    Ok(())
}

/// Every frame out is one that was sent, whole; the frame that lost a packet is not out.
fn check_lossy(s: &Sent, got: &[Frame], dropped: usize) -> Result<(), TestCaseError> {
    let lost_ts = s.packets[dropped].1;
    for f in got {
        prop_assert_ne!(f.timestamp, lost_ts);
        let want = s.frames.iter().find(|(ts, _)| *ts == f.timestamp).unwrap();
        prop_assert_eq!(&f.data[..], &want.1[..]);
    }
    Ok(())
}

fn vp8_frames() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop_oneof![
            prop::collection::vec(any::<u8>(), 1..40),
            prop::collection::vec(any::<u8>(), 1..6000),
        ],
        1..6,
    )
}

/// Access units in Annex B form, 4-byte start codes; NAL bodies have no zero bytes (as
/// emulation prevention guarantees for start-code patterns). The first frame and every IDR
/// frame carry SPS and PPS.
fn h264_frames() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let body = |max: usize| prop::collection::vec(1u8..=255, 0..max);
    let nal = (prop_oneof![Just(1u8), Just(5), Just(6)], 0u8..4, body(4000));
    let au = (
        any::<bool>(),
        prop::collection::vec(nal, 1..5),
        body(20),
        body(8),
    );
    prop::collection::vec(au, 1..5).prop_map(|aus| {
        aus.into_iter()
            .enumerate()
            .map(|(k, (key, nals, sps, pps))| {
                let mut f = vec![];
                let push = |f: &mut Vec<u8>, t: u8, nri: u8, b: &[u8]| {
                    f.extend_from_slice(&[0, 0, 0, 1, (nri << 5) | t]);
                    f.extend_from_slice(b);
                };
                let has_idr = nals.iter().any(|n| n.0 == 5);
                if k == 0 || key || has_idr {
                    push(&mut f, 7, 3, &sps);
                    push(&mut f, 8, 3, &pps);
                }
                for (t, nri, b) in &nals {
                    push(&mut f, *t, *nri, b);
                }
                f
            })
            .collect()
    })
}

/// AV1 temporal units in low-overhead form: a temporal delimiter, then OBUs (sequence
/// header, frame header, tile group, metadata, frame), some with an extension octet, each
/// with its minimal LEB128 `obu_size`. The first starts a coded video sequence (sequence
/// header), as a stream does.
fn av1_frames() -> impl Strategy<Value = Vec<(bool, Vec<u8>)>> {
    let obu = (
        prop_oneof![Just(1u8), Just(3), Just(4), Just(5), Just(6)],
        prop::option::of(any::<u8>()),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..20),
            prop::collection::vec(any::<u8>(), 0..4000)
        ],
    );
    prop::collection::vec(prop::collection::vec(obu, 1..4), 1..5).prop_map(|tus| {
        tus.into_iter()
            .enumerate()
            .map(|(k, mut obus)| {
                if k == 0 {
                    obus.insert(0, (1, None, vec![0, 0, 0, 1]));
                }
                let mut f = vec![0x12, 0x00];
                let mut key = false;
                for (t, ext, payload) in obus {
                    key |= t == 1;
                    f.push((t << 3) | (u8::from(ext.is_some()) << 2) | 0x02);
                    f.extend(ext);
                    let mut n = payload.len();
                    loop {
                        let b = (n & 0x7f) as u8;
                        n >>= 7;
                        if n == 0 {
                            f.push(b);
                            break;
                        }
                        f.push(b | 0x80);
                    }
                    f.extend_from_slice(&payload);
                }
                (key, f)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn av1_round_trip(tus in av1_frames(), max in 3usize..1400, seq in any::<u16>(),
                      keys in prop::collection::vec(any::<u32>(), 1..64),
                      drop in any::<prop::sample::Index>()) {
        let frames: Vec<Vec<u8>> = tus.iter().map(|t| t.1.clone()).collect();
        let s = send(&mut Av1Packetizer::new(), &frames, max, seq);
        let got = receive(Av1Depacketizer::new(), &s, &order(s.packets.len(), &keys, None));
        check_all(&s, &got)?;
        for f in &got {
            let key = s.frames.iter().zip(&tus).find(|(w, _)| w.0 == f.timestamp).unwrap().1.0;
            prop_assert_eq!(f.info.keyframe, key);
        }
        let d = drop.index(s.packets.len());
        let got = receive(Av1Depacketizer::new(), &s, &order(s.packets.len(), &keys, Some(d)));
        check_lossy(&s, &got, d)?;
        prop_assert!(got.len() + 2 >= frames.len());
    }

    #[test]
    fn vp8_round_trip(frames in vp8_frames(), max in 8usize..1400, seq in any::<u16>(),
                      keys in prop::collection::vec(any::<u32>(), 1..64), pid in any::<u16>()) {
        let s = send(&mut Vp8Packetizer::with_picture_id(pid), &frames, max, seq);
        let got = receive(Vp8Depacketizer::new(), &s, &order(s.packets.len(), &keys, None));
        check_all(&s, &got)?;
        for f in &got {
            prop_assert_eq!(f.info.keyframe, f.data[0] & 1 == 0);
            prop_assert!(f.info.picture_id.is_some());
        }
    }

    #[test]
    fn vp8_loss(frames in vp8_frames(), max in 8usize..1400, seq in any::<u16>(),
                keys in prop::collection::vec(any::<u32>(), 1..64), drop in any::<prop::sample::Index>()) {
        let s = send(&mut Vp8Packetizer::new(), &frames, max, seq);
        let d = drop.index(s.packets.len());
        let got = receive(Vp8Depacketizer::new(), &s, &order(s.packets.len(), &keys, Some(d)));
        check_lossy(&s, &got, d)?;
        // VP8 marks frame starts, so only the damaged frame is lost.
        prop_assert_eq!(got.len(), frames.len() - 1);
    }

    #[test]
    fn vp9_round_trip(frames in vp8_frames(), max in 8usize..1400, seq in any::<u16>(),
                      keys in prop::collection::vec(any::<u32>(), 1..64), flexible in any::<bool>(),
                      drop in any::<prop::sample::Index>()) {
        let mode = if flexible { Vp9Mode::Flexible } else { Vp9Mode::NonFlexible };
        let s = send(&mut Vp9Packetizer::new(mode, 3), &frames, max, seq);
        let got = receive(Vp9Depacketizer::new(), &s, &order(s.packets.len(), &keys, None));
        check_all(&s, &got)?;
        for f in &got {
            prop_assert_eq!(f.info.keyframe, vp9::is_keyframe(&f.data));
        }
        let d = drop.index(s.packets.len());
        let got = receive(Vp9Depacketizer::new(), &s, &order(s.packets.len(), &keys, Some(d)));
        check_lossy(&s, &got, d)?;
        prop_assert_eq!(got.len(), frames.len() - 1);
    }

    #[test]
    fn h264_round_trip(frames in h264_frames(), max in 3usize..1400, seq in any::<u16>(),
                       keys in prop::collection::vec(any::<u32>(), 1..64)) {
        let s = send(&mut H264Packetizer::new(PacketizationMode::NonInterleaved), &frames, max, seq);
        let got = receive(H264Depacketizer::new(), &s, &order(s.packets.len(), &keys, None));
        check_all(&s, &got)?;
        for f in &got {
            let idr = f.data.windows(5).any(|w| w[..4] == [0, 0, 0, 1] && w[4] & 0x1f == 5);
            prop_assert_eq!(f.info.keyframe, idr);
        }
    }

    #[test]
    fn h264_mode0_round_trip(frames in h264_frames(), seq in any::<u16>(),
                             keys in prop::collection::vec(any::<u32>(), 1..64)) {
        let s = send(&mut H264Packetizer::new(PacketizationMode::SingleNal), &frames, 4100, seq);
        let got = receive(H264Depacketizer::new(), &s, &order(s.packets.len(), &keys, None));
        check_all(&s, &got)?;
    }

    #[test]
    fn h264_loss(frames in h264_frames(), max in 3usize..1400, seq in any::<u16>(),
                 keys in prop::collection::vec(any::<u32>(), 1..64), drop in any::<prop::sample::Index>()) {
        let s = send(&mut H264Packetizer::default(), &frames, max, seq);
        let d = drop.index(s.packets.len());
        let got = receive(H264Depacketizer::new(), &s, &order(s.packets.len(), &keys, Some(d)));
        check_lossy(&s, &got, d)?;
        // Losing a frame's last packet can hide where the next one starts.
        prop_assert!(got.len() + 2 >= frames.len(), "{} of {}", got.len(), frames.len());
    }

    #[test]
    fn audio_round_trip(frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..1200), 1..20),
                        seq in any::<u16>(), keys in prop::collection::vec(any::<u32>(), 1..64),
                        drop in any::<prop::sample::Index>()) {
        let s = send(&mut AudioPacketizer::new(AudioFormat::Opus), &frames, 1200, seq);
        let got = receive(AudioDepacketizer::new(AudioFormat::Opus), &s, &order(s.packets.len(), &keys, None));
        check_all(&s, &got)?;
        let d = drop.index(s.packets.len());
        let got = receive(AudioDepacketizer::new(AudioFormat::Opus), &s, &order(s.packets.len(), &keys, Some(d)));
        prop_assert_eq!(got.len(), frames.len() - 1);
        check_lossy(&s, &got, d)?;
    }

    #[test]
    fn depacketizers_survive_any_payloads(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8),
        markers in prop::collection::vec(any::<bool>(), 8),
    ) {
        let refs: Vec<&[u8]> = payloads.iter().map(|p| &p[..]).collect();
        let mut out = vec![];
        let _ = Vp8Depacketizer::new().depacketize(&refs, &mut out);
        let _ = Vp9Depacketizer::new().depacketize(&refs, &mut out);
        let _ = Av1Depacketizer::new().depacketize(&refs, &mut out);
        let _ = H264Depacketizer::new().depacketize(&refs, &mut out);
        let _ = AudioDepacketizer::new(AudioFormat::Pcmu).depacketize(&refs, &mut out);
        let mut a = FrameAssembler::new(H264Depacketizer::new(), 16);
        let mut b = FrameAssembler::new(Vp8Depacketizer::new(), 16);
        for (i, p) in payloads.iter().enumerate() {
            a.push(SeqNo(i as u16), 0, markers[i], p);
            b.push(SeqNo(i as u16), 0, markers[i], p);
        }
        while a.poll_frame().is_some() {}
        while b.poll_frame().is_some() {}
    }

    #[test]
    fn cross_codec_packets_are_refused_or_harmless(frames in vp8_frames(), max in 8usize..1400) {
        // VP8 packets fed to the H.264 depacketizer and H.264 packets to the VP8 one.
        let s = send(&mut Vp8Packetizer::with_picture_id(1), &frames, max, 0);
        let _ = receive(H264Depacketizer::new(), &s, &(0..s.packets.len()).collect::<Vec<_>>());
        let h = send(&mut H264Packetizer::default(), &[vec![0, 0, 0, 1, 0x65, 1, 2, 3]], max.max(3), 0);
        let _ = receive(Vp8Depacketizer::new(), &h, &[0]);
    }
}
