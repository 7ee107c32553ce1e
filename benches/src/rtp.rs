//! The RTP group: ferrtc-rtp-codecs beside webrtc-rs `rtp` 0.17 on RTP header parse and
//! serialize (a browser-like video packet with abs-send-time, transport-wide sequence number
//! and mid extensions) and on VP8, VP9 and H.264 packetize/depacketize and AV1 packetize of a
//! 10 kB frame at a 1188-byte payload limit.
//!
//! The depacketize cases feed both implementations the same packets and produce the same
//! frame (checked when the workload is built); webrtc-rs depacketizes packet by packet, so its
//! case concatenates the per-packet outputs into the frame.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use ferrtc_rtp_codecs::codec::Packetizer as _;
use ferrtc_rtp_codecs::codec::av1::Av1Packetizer;
use ferrtc_rtp_codecs::codec::h264::{H264Depacketizer, H264Packetizer, PacketizationMode};
use ferrtc_rtp_codecs::codec::vp8::{Vp8Depacketizer, Vp8Packetizer};
use ferrtc_rtp_codecs::codec::vp9::{Vp9Depacketizer, Vp9Mode, Vp9Packetizer};
use ferrtc_rtp_codecs::{
    Csrcs, ExtensionForm, ExtensionId, ExtensionWriter, PayloadType, RtpHeader, RtpPacket, SeqNo,
    Ssrc,
};
use rtp::codecs::av1::Av1Payloader;
use rtp::codecs::h264::{H264Packet, H264Payloader};
use rtp::codecs::vp8::{Vp8Packet, Vp8Payloader};
use rtp::codecs::vp9::{Vp9Packet, Vp9Payloader};
use rtp::packetizer::Payloader as _;
use webrtc_util_marshal::marshal::{Marshal as _, Unmarshal as _};

use crate::{Case, Config, Row, Unit, compare};

/// Payload limit used for packetizing (1200-byte packets minus a 12-byte header).
pub const MAX_PAYLOAD: usize = 1188;
/// Frame size for the codec workloads.
pub const FRAME_LEN: usize = 10_000;

const ABS_SEND_TIME: ExtensionId = ExtensionId::new(2).expect("not 0");
const TWCC: ExtensionId = ExtensionId::new(3).expect("not 0");
const MID: ExtensionId = ExtensionId::new(4).expect("not 0");

/// A 1200-byte RTP video packet with three one-byte header extensions.
pub fn video_packet() -> Vec<u8> {
    let mut store = [0u8; 16];
    let ext = write_extensions(&mut store, 7);
    let h = header(ext, 7);
    let mut buf = vec![0u8; 1200];
    let payload = vec![0x5a; 1200 - h.buffer_len()];
    let n = h.emit_packet(&payload, 0, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn write_extensions(store: &mut [u8; 16], seq: u16) -> ferrtc_rtp_codecs::RawExtension<'_> {
    let mut w = ExtensionWriter::new(store, ExtensionForm::OneByte);
    // Three values that always fit a 16-byte block.
    w.push(ABS_SEND_TIME, &[0x12, 0x34, 0x56]).unwrap();
    w.push(TWCC, &seq.to_be_bytes()).unwrap();
    w.push(MID, b"0").unwrap();
    w.finish().unwrap()
}

fn header(ext: ferrtc_rtp_codecs::RawExtension<'_>, seq: u16) -> RtpHeader<'_> {
    RtpHeader {
        marker: false,
        payload_type: PayloadType::new(96).unwrap(),
        sequence_number: SeqNo(seq),
        timestamp: 90_000,
        ssrc: Ssrc(0x1234_5678),
        csrcs: Csrcs::new(),
        extension: Some(ext),
    }
}

/// A VP8 key frame of [`FRAME_LEN`] bytes (P bit clear).
pub fn vp8_frame() -> Vec<u8> {
    let mut f: Vec<u8> = (0..FRAME_LEN).map(|i| (i * 7) as u8).collect();
    f[0] = 0x10;
    f
}

/// A VP9 key frame of [`FRAME_LEN`] bytes (frame marker, profile 0, key frame type).
pub fn vp9_frame() -> Vec<u8> {
    let mut f: Vec<u8> = (0..FRAME_LEN).map(|i| (i * 13) as u8).collect();
    f[0] = 0x82;
    f
}

/// An AV1 temporal unit of [`FRAME_LEN`] bytes in low-overhead form: temporal delimiter,
/// sequence header, one frame OBU.
pub fn av1_temporal_unit() -> Vec<u8> {
    let mut f = vec![0x12, 0x00, 0x0a, 0x0b];
    f.extend_from_slice(&[
        0x00, 0x00, 0x00, 0x02, 0xaf, 0xff, 0x9b, 0x5f, 0x30, 0x08, 0x08,
    ]);
    let payload = FRAME_LEN - f.len() - 3;
    // OBU_FRAME with a two-byte LEB128 size.
    f.extend_from_slice(&[0x32, (payload & 0x7f) as u8 | 0x80, (payload >> 7) as u8]);
    f.extend((0..payload).map(|i| (i * 3) as u8));
    f
}

/// An H.264 IDR access unit in Annex B form: SPS, PPS and a slice, [`FRAME_LEN`] bytes.
pub fn h264_frame() -> Vec<u8> {
    let mut f = vec![
        0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8,
    ];
    f.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80]);
    f.extend_from_slice(&[0, 0, 0, 1, 0x65]);
    // Slice bytes without zeros, so no start code appears inside.
    f.extend((f.len()..FRAME_LEN).map(|i| (i % 251) as u8 + 1));
    f
}

/// The RTP group's rows.
pub fn rows(cfg: &Config) -> Vec<Row> {
    let mut rows = Vec::new();
    let pkt = video_packet();
    let pkt_bytes = Bytes::from(pkt.clone());

    rows.extend(compare(
        cfg,
        "RTP header parse, 3 extensions (1200 B packet)",
        Unit::Ops,
        Case::new("ferrtc", || {
            let p = RtpPacket::new_checked(black_box(&pkt[..])).unwrap();
            black_box((
                p.sequence_number(),
                p.timestamp(),
                p.ssrc(),
                p.payload().len(),
            ));
            for e in p.extension().unwrap().elements() {
                black_box(e.unwrap());
            }
        }),
        vec![Case::new("webrtc-rs rtp 0.17", || {
            let mut b = black_box(&pkt_bytes).clone();
            let p = rtp::packet::Packet::unmarshal(&mut b).unwrap();
            black_box((p.header.sequence_number, p.header.timestamp, p.header.ssrc));
            black_box((p.payload.len(), &p.header.extensions));
        })],
    ));

    let mut theirs_header = rtp::packet::Packet::unmarshal(&mut pkt_bytes.clone())
        .unwrap()
        .header;
    let mut ext_store = [0u8; 16];
    let ours_header = header(write_extensions(&mut ext_store, 7), 7);
    let mut out_ours = [0u8; 64];
    let mut out_theirs = [0u8; 64];
    rows.extend(compare(
        cfg,
        "RTP header serialize, 3 extensions",
        Unit::Ops,
        Case::new("ferrtc", || {
            let n = black_box(&ours_header).emit(&mut out_ours).unwrap();
            black_box(&out_ours[..n]);
        }),
        vec![Case::new("webrtc-rs rtp 0.17", || {
            let n = black_box(&theirs_header)
                .marshal_to(&mut out_theirs)
                .unwrap();
            black_box(&out_theirs[..n]);
        })],
    ));

    // A sender's per-packet path: new sequence number and transport-wide sequence number
    // written into the extensions, then the header serialized.
    let (mut seq, mut their_seq) = (0u16, 0u16);
    rows.extend(compare(
        cfg,
        "RTP header set extensions + serialize",
        Unit::Ops,
        Case::new("ferrtc", || {
            seq = seq.wrapping_add(1);
            let mut store = [0u8; 16];
            let ext = write_extensions(&mut store, seq);
            let n = header(ext, seq).emit(&mut out_ours).unwrap();
            black_box(&out_ours[..n]);
        }),
        vec![Case::new("webrtc-rs rtp 0.17", || {
            their_seq = their_seq.wrapping_add(1);
            let seq = their_seq;
            let h = &mut theirs_header;
            h.sequence_number = seq;
            h.set_extension(ABS_SEND_TIME.get(), Bytes::from_static(&[0x12, 0x34, 0x56]))
                .unwrap();
            h.set_extension(TWCC.get(), Bytes::copy_from_slice(&seq.to_be_bytes()))
                .unwrap();
            h.set_extension(MID.get(), Bytes::from_static(b"0"))
                .unwrap();
            let n = h.marshal_to(&mut out_theirs).unwrap();
            black_box(&out_theirs[..n]);
        })],
    ));

    rows.extend(codec_rows(
        cfg,
        "VP8",
        vp8_frame(),
        || {
            let mut p = Vp8Packetizer::with_picture_id(0);
            move |f: &[u8], out: &mut Vec<Bytes>| p.packetize(f, MAX_PAYLOAD, out).unwrap()
        },
        || {
            let mut p = Vp8Payloader::default();
            p.enable_picture_id = true;
            move |f: &Bytes| p.payload(MAX_PAYLOAD, f).unwrap()
        },
        |f| {
            let mut out = Vec::new();
            Vp8Packetizer::with_picture_id(0)
                .packetize(f, MAX_PAYLOAD, &mut out)
                .unwrap();
            out
        },
        Vp8Depacketizer::new(),
        Vp8Packet::default,
    ));
    rows.extend(codec_rows(
        cfg,
        "VP9",
        vp9_frame(),
        || {
            let mut p = Vp9Packetizer::new(Vp9Mode::Flexible, 0);
            move |f: &[u8], out: &mut Vec<Bytes>| p.packetize(f, MAX_PAYLOAD, out).unwrap()
        },
        || {
            let mut p = Vp9Payloader::default();
            move |f: &Bytes| p.payload(MAX_PAYLOAD, f).unwrap()
        },
        |f| {
            let mut out = Vec::new();
            Vp9Packetizer::new(Vp9Mode::Flexible, 0)
                .packetize(f, MAX_PAYLOAD, &mut out)
                .unwrap();
            out
        },
        Vp9Depacketizer::new(),
        Vp9Packet::default,
    ));
    rows.extend(codec_rows(
        cfg,
        "H.264",
        h264_frame(),
        || {
            let mut p = H264Packetizer::new(PacketizationMode::NonInterleaved);
            move |f: &[u8], out: &mut Vec<Bytes>| p.packetize(f, MAX_PAYLOAD, out).unwrap()
        },
        || {
            let mut p = H264Payloader::default();
            move |f: &Bytes| p.payload(MAX_PAYLOAD, f).unwrap()
        },
        |f| {
            let mut out = Vec::new();
            H264Packetizer::default()
                .packetize(f, MAX_PAYLOAD, &mut out)
                .unwrap();
            out
        },
        H264Depacketizer::new(),
        H264Packet::default,
    ));

    // webrtc-rs has an AV1 payloader but no depacketizer: packetize only.
    let av1 = av1_temporal_unit();
    let av1_bytes = Bytes::from(av1.clone());
    let mut ours = Av1Packetizer::new();
    let mut theirs = Av1Payloader::default();
    let mut out = Vec::new();
    rows.extend(compare(
        cfg,
        &format!("AV1 packetize, {FRAME_LEN} B temporal unit"),
        Unit::Bytes(FRAME_LEN as u64),
        Case::new("ferrtc", || {
            out.clear();
            ours.packetize(black_box(&av1), MAX_PAYLOAD, &mut out)
                .unwrap();
            black_box(&out);
        }),
        vec![Case::new("webrtc-rs rtp 0.17", || {
            black_box(theirs.payload(MAX_PAYLOAD, black_box(&av1_bytes)).unwrap());
        })],
    ));
    rows
}

#[allow(clippy::too_many_arguments)]
fn codec_rows<O, T, D, W>(
    cfg: &Config,
    name: &str,
    frame: Vec<u8>,
    ours: impl FnOnce() -> O,
    theirs: impl FnOnce() -> T,
    once: impl FnOnce(&[u8]) -> Vec<Bytes>,
    mut depack: D,
    their_depack: impl Fn() -> W,
) -> Vec<Row>
where
    O: FnMut(&[u8], &mut Vec<Bytes>),
    T: FnMut(&Bytes) -> Vec<Bytes>,
    D: ferrtc_rtp_codecs::codec::Depacketizer,
    W: rtp::packetizer::Depacketizer,
{
    let mut rows = Vec::new();
    let frame_bytes = Bytes::from(frame.clone());
    let mut ours = ours();
    let mut theirs = theirs();
    let mut out = Vec::new();
    rows.extend(compare(
        cfg,
        &format!("{name} packetize, {FRAME_LEN} B frame"),
        Unit::Bytes(FRAME_LEN as u64),
        Case::new("ferrtc", || {
            out.clear();
            ours(black_box(&frame), &mut out);
            black_box(&out);
        }),
        vec![Case::new("webrtc-rs rtp 0.17", || {
            black_box(theirs(black_box(&frame_bytes)));
        })],
    ));

    // Both depacketize our packets and must agree on the frame.
    let packets = once(&frame);
    let refs: Vec<&[u8]> = packets.iter().map(|b| &b[..]).collect();
    let mut frame_out = Vec::new();
    depack.depacketize(&refs, &mut frame_out).unwrap();
    let their_frame = their_concat(&mut their_depack(), &packets);
    assert_eq!(frame_out, frame, "{name}: ferrtc depacketizer output");
    assert_eq!(&their_frame[..], &frame[..], "{name}: webrtc-rs output");
    rows.extend(compare(
        cfg,
        &format!("{name} depacketize, {FRAME_LEN} B frame"),
        Unit::Bytes(FRAME_LEN as u64),
        Case::new("ferrtc", || {
            depack
                .depacketize(black_box(&refs), &mut frame_out)
                .unwrap();
            black_box(&frame_out);
        }),
        vec![Case::new("webrtc-rs rtp 0.17", || {
            let mut d = their_depack();
            black_box(their_concat(&mut d, black_box(&packets)));
        })],
    ));
    rows
}

/// webrtc-rs depacketizes packet by packet; the frame is the concatenation.
pub fn their_concat(d: &mut impl rtp::packetizer::Depacketizer, packets: &[Bytes]) -> Bytes {
    let mut f = BytesMut::with_capacity(FRAME_LEN + 64);
    for p in packets {
        f.extend_from_slice(&d.depacketize(p).unwrap());
    }
    f.freeze()
}
