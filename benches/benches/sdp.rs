//! Criterion benches for the SDP group: parsing and serializing real browser offers,
//! ferrtc-sdp beside Mozilla's webrtc-sdp and webrtc-rs's sdp.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrtc_benches::sdp::{OFFERS, parse_ferrtc, parse_mozilla, parse_webrtc_rs};

fn sdp(c: &mut Criterion) {
    for (browser, text) in OFFERS {
        let mut g = c.benchmark_group(format!("sdp/parse {browser} offer"));
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function("ferrtc", |b| b.iter(|| parse_ferrtc(black_box(text))));
        g.bench_function("webrtc-sdp 0.3 (Mozilla)", |b| {
            b.iter(|| parse_mozilla(black_box(text)))
        });
        g.bench_function("sdp 0.17 (webrtc-rs)", |b| {
            b.iter(|| parse_webrtc_rs(black_box(text)))
        });
        g.finish();

        let ours = parse_ferrtc(text);
        let mozilla = parse_mozilla(text);
        let webrtc_rs = parse_webrtc_rs(text);
        let mut g = c.benchmark_group(format!("sdp/serialize {browser} offer"));
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function("ferrtc", |b| b.iter(|| black_box(&ours).to_string()));
        g.bench_function("webrtc-sdp 0.3 (Mozilla)", |b| {
            b.iter(|| black_box(&mozilla).to_string())
        });
        g.bench_function("sdp 0.17 (webrtc-rs)", |b| {
            b.iter(|| black_box(&webrtc_rs).marshal())
        });
        g.finish();
    }
}

criterion_group!(benches, sdp);
criterion_main!(benches);
