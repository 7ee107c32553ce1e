//! Criterion benches for the RTP group: ferrtc-rtp-codecs beside webrtc-rs `rtp` 0.17 on RTP
//! header parse/serialize and VP8 / H.264 packetize and depacketize.

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrtc_benches::rtp::{
    FRAME_LEN, MAX_PAYLOAD, h264_frame, their_concat, video_packet, vp8_frame,
};
use ferrtc_rtp_codecs::RtpPacket;
use ferrtc_rtp_codecs::codec::h264::{H264Depacketizer, H264Packetizer};
use ferrtc_rtp_codecs::codec::vp8::{Vp8Depacketizer, Vp8Packetizer};
use ferrtc_rtp_codecs::codec::{Depacketizer, Packetizer};
use rtp::codecs::h264::{H264Packet, H264Payloader};
use rtp::codecs::vp8::{Vp8Packet, Vp8Payloader};
use rtp::packetizer::Payloader;
use std::hint::black_box;
use webrtc_util_marshal::marshal::Unmarshal;

fn header(c: &mut Criterion) {
    let pkt = video_packet();
    let bytes = Bytes::from(pkt.clone());
    let mut g = c.benchmark_group("rtp/header parse");
    g.bench_function("ferrtc", |b| {
        b.iter(|| {
            let p = RtpPacket::new_checked(black_box(&pkt[..])).unwrap();
            for e in p.extension().unwrap().elements() {
                black_box(e.unwrap());
            }
            black_box(p.payload().len())
        })
    });
    g.bench_function("webrtc-rs rtp 0.17", |b| {
        b.iter(|| {
            let p = rtp::packet::Packet::unmarshal(&mut black_box(&bytes).clone()).unwrap();
            black_box(p.payload.len())
        })
    });
    g.finish();
}

fn codecs(c: &mut Criterion) {
    let vp8 = vp8_frame();
    let vp8_b = Bytes::from(vp8.clone());
    let mut g = c.benchmark_group(format!("rtp/VP8 packetize/{FRAME_LEN}B"));
    g.throughput(Throughput::Bytes(FRAME_LEN as u64));
    let mut ours = Vp8Packetizer::with_picture_id(0);
    let mut out = Vec::new();
    g.bench_function("ferrtc", |b| {
        b.iter(|| {
            out.clear();
            ours.packetize(&vp8, MAX_PAYLOAD, &mut out).unwrap();
        })
    });
    let mut theirs = Vp8Payloader::default();
    theirs.enable_picture_id = true;
    g.bench_function("webrtc-rs rtp 0.17", |b| {
        b.iter(|| black_box(theirs.payload(MAX_PAYLOAD, &vp8_b).unwrap()))
    });
    g.finish();

    let mut pkts = Vec::new();
    Vp8Packetizer::new()
        .packetize(&vp8, MAX_PAYLOAD, &mut pkts)
        .unwrap();
    let refs: Vec<&[u8]> = pkts.iter().map(|b| &b[..]).collect();
    let mut g = c.benchmark_group(format!("rtp/VP8 depacketize/{FRAME_LEN}B"));
    g.throughput(Throughput::Bytes(FRAME_LEN as u64));
    let mut d = Vp8Depacketizer::new();
    let mut frame = Vec::new();
    g.bench_function("ferrtc", |b| {
        b.iter(|| d.depacketize(&refs, &mut frame).unwrap())
    });
    g.bench_function("webrtc-rs rtp 0.17", |b| {
        b.iter(|| black_box(their_concat(&mut Vp8Packet::default(), &pkts)))
    });
    g.finish();

    let h264 = h264_frame();
    let h264_b = Bytes::from(h264.clone());
    let mut g = c.benchmark_group(format!("rtp/H.264 packetize/{FRAME_LEN}B"));
    g.throughput(Throughput::Bytes(FRAME_LEN as u64));
    let mut ours = H264Packetizer::default();
    g.bench_function("ferrtc", |b| {
        b.iter(|| {
            out.clear();
            ours.packetize(&h264, MAX_PAYLOAD, &mut out).unwrap();
        })
    });
    let mut theirs = H264Payloader::default();
    g.bench_function("webrtc-rs rtp 0.17", |b| {
        b.iter(|| black_box(theirs.payload(MAX_PAYLOAD, &h264_b).unwrap()))
    });
    g.finish();

    let mut pkts = Vec::new();
    H264Packetizer::default()
        .packetize(&h264, MAX_PAYLOAD, &mut pkts)
        .unwrap();
    let refs: Vec<&[u8]> = pkts.iter().map(|b| &b[..]).collect();
    let mut g = c.benchmark_group(format!("rtp/H.264 depacketize/{FRAME_LEN}B"));
    g.throughput(Throughput::Bytes(FRAME_LEN as u64));
    let mut d = H264Depacketizer::new();
    g.bench_function("ferrtc", |b| {
        b.iter(|| d.depacketize(&refs, &mut frame).unwrap())
    });
    g.bench_function("webrtc-rs rtp 0.17", |b| {
        b.iter(|| black_box(their_concat(&mut H264Packet::default(), &pkts)))
    });
    g.finish();
}

criterion_group!(benches, header, codecs);
criterion_main!(benches);
