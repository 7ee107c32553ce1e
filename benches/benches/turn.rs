//! Criterion benches for the TURN group: each relayed-data workload beside webrtc-rs's `turn`
//! 0.17 message code.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use ferrtc_benches::turn::{
    PAYLOAD, allocated_client, channel_data, data_indication, peer, server,
    unwrap_channel_webrtc_rs, unwrap_data_webrtc_rs, wrap_channel_webrtc_rs, wrap_send_webrtc_rs,
};

fn channel(c: &mut Criterion) {
    let payload = vec![0x5Au8; PAYLOAD];
    let mut client = allocated_client(true);
    let mut out = Vec::with_capacity(2048);
    let mut g = c.benchmark_group("turn/ChannelData wrap 1200 B");
    g.bench_function("ferrtc", |b| {
        b.iter(|| {
            out.clear();
            client
                .encode_to(peer(), black_box(&payload), &mut out)
                .unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("turn 0.17 (webrtc-rs)", |b| {
        b.iter(|| black_box(wrap_channel_webrtc_rs(black_box(&payload)).len()))
    });
    g.finish();

    let cd = channel_data(&payload);
    let now = Instant::now();
    let mut g = c.benchmark_group("turn/ChannelData unwrap 1200 B");
    g.bench_function("ferrtc", |b| {
        b.iter(|| {
            let got = client
                .handle_receive(now, server(), black_box(&cd))
                .unwrap();
            black_box(got.map(|(_, d)| d.len()))
        })
    });
    g.bench_function("turn 0.17 (webrtc-rs)", |b| {
        b.iter(|| black_box(unwrap_channel_webrtc_rs(black_box(&cd))))
    });
    g.finish();
}

fn indications(c: &mut Criterion) {
    let payload = vec![0x5Au8; PAYLOAD];
    let mut client = allocated_client(false);
    let mut out = Vec::with_capacity(2048);
    let mut g = c.benchmark_group("turn/Send indication wrap 1200 B");
    g.bench_function("ferrtc", |b| {
        b.iter(|| {
            out.clear();
            client
                .encode_to(peer(), black_box(&payload), &mut out)
                .unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("turn 0.17 (webrtc-rs)", |b| {
        b.iter(|| black_box(wrap_send_webrtc_rs(black_box(&payload)).len()))
    });
    g.finish();

    let di = data_indication(&payload);
    let now = Instant::now();
    let mut g = c.benchmark_group("turn/Data indication unwrap 1200 B");
    g.bench_function("ferrtc", |b| {
        b.iter(|| {
            let got = client
                .handle_receive(now, server(), black_box(&di))
                .unwrap();
            black_box(got.map(|(_, d)| d.len()))
        })
    });
    g.bench_function("turn 0.17 (webrtc-rs)", |b| {
        b.iter(|| black_box(unwrap_data_webrtc_rs(black_box(&di))))
    });
    g.finish();
}

criterion_group!(benches, channel, indications);
criterion_main!(benches);
