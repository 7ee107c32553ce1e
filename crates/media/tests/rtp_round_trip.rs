//! Media through ferrtc-rtp-codecs, the path a frame takes between two peers: encode,
//! packetize into RTP packets within an MTU, deliver out of order, reassemble, depacketize,
//! decode.

mod common;

use common::{MovingPattern, psnr_y};
use ferrtc_media::{
    AudioDecoder, AudioEncoder, AudioFrame, EncodedFrame, H264Decoder, H264Encoder, OpusDecoder,
    OpusEncoder, VideoDecoder, VideoEncoder, VideoEncoderConfig, VpxDecoder, VpxEncoder,
};
use ferrtc_rtp_codecs::codec::audio::{AudioDepacketizer, AudioFormat, AudioPacketizer};
use ferrtc_rtp_codecs::codec::h264::{H264Depacketizer, H264Packetizer, PacketizationMode};
use ferrtc_rtp_codecs::codec::vp8::{Vp8Depacketizer, Vp8Packetizer};
use ferrtc_rtp_codecs::codec::vp9::{Vp9Depacketizer, Vp9Mode, Vp9Packetizer};
use ferrtc_rtp_codecs::codec::{Depacketizer, FrameAssembler, Packetizer, RtpPacketizer};
use ferrtc_rtp_codecs::{PayloadType, RtpPacket, SeqNo, Ssrc};

const MTU: usize = 1_200;

/// Sends one encoded frame through RTP, its packets in reverse order when `reverse`; returns
/// the reassembled frame, its key-frame flag and the number of packets.
fn through_rtp<P: Packetizer, D: Depacketizer>(
    tx: &mut RtpPacketizer<P>,
    rx: &mut FrameAssembler<D>,
    frame: &EncodedFrame,
    reverse: bool,
) -> (Vec<u8>, bool, usize) {
    // The RTP timestamp is the frame's pts on the codec clock, wrapped to 32 bits.
    let timestamp = frame.pts as u32;
    let mut packets = Vec::new();
    tx.packetize(&frame.data, timestamp, None, &mut packets)
        .unwrap();
    assert!(packets.iter().all(|p| p.len() <= MTU));
    let order: Vec<usize> = if reverse {
        (0..packets.len()).rev().collect()
    } else {
        (0..packets.len()).collect()
    };
    for i in order {
        rx.push_packet(&RtpPacket::new_checked(&packets[i][..]).unwrap());
    }
    let got = rx.poll_frame().expect("every packet arrived");
    assert_eq!(got.timestamp, timestamp);
    (got.data.to_vec(), got.info.keyframe, packets.len())
}

fn video_over_rtp<P: Packetizer, D: Depacketizer>(
    name: &str,
    mut enc: Box<dyn VideoEncoder>,
    mut dec: Box<dyn VideoDecoder>,
    packetizer: P,
    depacketizer: D,
    same_bytes: bool,
) {
    let pt = PayloadType::new(96).unwrap();
    let mut tx = RtpPacketizer::new(packetizer, pt, Ssrc(0x1234), SeqNo(65_500), MTU);
    let mut rx = FrameAssembler::new(depacketizer, 1_024);
    let mut pattern = MovingPattern::new(640, 480);
    let (mut worst, mut packets) = (f64::INFINITY, 0);
    for i in 0..30 {
        let frame = pattern.next_frame();
        let mut out = Vec::new();
        enc.encode(&frame, &mut out).unwrap();
        for encoded in &out {
            let (data, key, n) = through_rtp(&mut tx, &mut rx, encoded, i % 2 == 1);
            packets += n;
            assert_eq!(key, encoded.key_frame, "{name} frame {i}");
            if same_bytes {
                assert_eq!(data, encoded.data, "{name} frame {i}");
            }
            let decoded = dec.decode(&data, encoded.pts).unwrap().expect("a picture");
            worst = worst.min(psnr_y(&frame, &decoded));
        }
    }
    eprintln!("{name} over RTP: {packets} packets for 30 frames, worst {worst:.1} dB");
    assert!(worst >= 30.0, "{name}: {worst:.1} dB");
}

fn config() -> VideoEncoderConfig {
    VideoEncoderConfig {
        width: 640,
        height: 480,
        bitrate_bps: 1_000_000,
        frame_rate: 30,
    }
}

#[test]
fn vp8_over_rtp() {
    video_over_rtp(
        "VP8",
        Box::new(VpxEncoder::vp8(config()).unwrap()),
        Box::new(VpxDecoder::vp8().unwrap()),
        Vp8Packetizer::with_picture_id(7),
        Vp8Depacketizer::new(),
        true,
    );
}

#[test]
fn vp9_over_rtp() {
    video_over_rtp(
        "VP9",
        Box::new(VpxEncoder::vp9(config()).unwrap()),
        Box::new(VpxDecoder::vp9().unwrap()),
        Vp9Packetizer::new(Vp9Mode::NonFlexible, 7),
        Vp9Depacketizer::new(),
        true,
    );
}

#[test]
fn h264_over_rtp_in_packetization_mode_1() {
    // The depacketizer rebuilds an Annex B stream, not necessarily with the encoder's
    // start-code lengths: what must survive is the decoded picture.
    video_over_rtp(
        "H.264",
        Box::new(H264Encoder::new(config()).unwrap()),
        Box::new(H264Decoder::new().unwrap()),
        H264Packetizer::new(PacketizationMode::NonInterleaved),
        H264Depacketizer::new(),
        false,
    );
}

#[test]
fn opus_over_rtp() {
    let pt = PayloadType::new(111).unwrap();
    let mut tx = RtpPacketizer::new(
        AudioPacketizer::new(AudioFormat::Opus),
        pt,
        Ssrc(9),
        SeqNo(1),
        MTU,
    );
    let mut rx = FrameAssembler::new(AudioDepacketizer::new(AudioFormat::Opus), 64);
    let mut enc = OpusEncoder::new(48_000, 2, 64_000).unwrap();
    let (mut direct, mut via_rtp) = (
        OpusDecoder::new(48_000, 2).unwrap(),
        OpusDecoder::new(48_000, 2).unwrap(),
    );
    let tone: Vec<i16> = (0..48_000 * 2)
        .map(|i| ((i / 2 % 48) as i16 - 24) * 600)
        .collect();
    let mut packets = Vec::new();
    for (i, chunk) in tone.chunks(960 * 2).enumerate() {
        let mut f = AudioFrame::from_s16(48_000, 2, chunk.to_vec()).unwrap();
        f.pts = (i * 960) as i64;
        enc.encode(&f, &mut packets).unwrap();
    }
    assert_eq!(packets.len(), 50);
    for p in &packets {
        let (data, key, n) = through_rtp(&mut tx, &mut rx, p, false);
        assert_eq!((n, key), (1, true));
        assert_eq!(data, p.data);
        let a = direct.decode(&p.data, p.pts).unwrap();
        let b = via_rtp.decode(&data, p.pts).unwrap();
        assert_eq!(a.s16(), b.s16());
    }
}
