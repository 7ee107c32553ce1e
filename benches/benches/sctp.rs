//! Criterion bench for the SCTP group: bulk reliable ordered 64 KiB messages between two
//! associations in memory, ferrtc beside sctp-proto 0.10 and webrtc-sctp 0.17.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrtc_benches::sctp::{Ferrtc, MESSAGE, SctpProto, WebrtcSctp};

fn sctp(c: &mut Criterion) {
    let mut g = c.benchmark_group("sctp/bulk 64KiB reliable ordered");
    g.throughput(Throughput::Bytes(MESSAGE as u64));
    let mut ours = Ferrtc::new();
    g.bench_function("ferrtc", |b| b.iter(|| ours.transfer()));
    let mut theirs = SctpProto::new();
    g.bench_function("sctp-proto 0.10", |b| b.iter(|| theirs.transfer()));
    let mut webrtc = WebrtcSctp::new();
    g.bench_function("webrtc-sctp 0.17", |b| b.iter(|| webrtc.transfer()));
    g.finish();
}

criterion_group!(benches, sctp);
criterion_main!(benches);
