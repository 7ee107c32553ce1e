//! Criterion benches for the DTLS group: full handshakes beside webrtc-dtls 0.12 and the
//! crypto floor; record sealing beside raw ring AES-GCM.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrtc_benches::dtls::{
    CryptoFloor, FerrtcEndpoints, FerrtcRecord, RECORD_SIZE, RingRecord, WebrtcDtls,
    ferrtc_configs, ferrtc_handshake,
};

fn dtls(c: &mut Criterion) {
    let mut g = c.benchmark_group("dtls/full handshake");
    let (cc, sc) = ferrtc_configs();
    let mut seed = 0;
    g.bench_function("ferrtc", |b| {
        b.iter(|| {
            seed += 1;
            ferrtc_handshake(&cc, &sc, seed)
        })
    });
    let theirs = WebrtcDtls::new();
    g.bench_function("webrtc-dtls 0.12", |b| b.iter(|| theirs.handshake()));
    let floor = CryptoFloor::new();
    g.bench_function("crypto floor (ring)", |b| b.iter(|| floor.handshake()));
    g.finish();

    let mut g = c.benchmark_group(format!("dtls/record seal+open/{RECORD_SIZE}B"));
    g.throughput(Throughput::Bytes(RECORD_SIZE as u64));
    let mut ours = FerrtcRecord::new();
    g.bench_function("ferrtc", |b| b.iter(|| ours.round_trip()));
    let mut ends = FerrtcEndpoints::new();
    g.bench_function("ferrtc endpoints", |b| b.iter(|| ends.send_receive()));
    let mut raw = RingRecord::new();
    g.bench_function("ring seal+open (raw)", |b| b.iter(|| raw.round_trip()));
    g.finish();
}

criterion_group!(benches, dtls);
criterion_main!(benches);
