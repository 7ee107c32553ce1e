//! Criterion benches for the peer connection group: connection set-up beside str0m 0.24, and
//! RTP forwarding beside the SRTP crypto ceiling. (The memory row needs the byte-counting
//! allocator and is only in the `report` binary.)

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ferrtc_benches::pc::{Certs, Forwarder, SrtpCeiling, ferrtc_connect, str0m_connect};

fn setup(c: &mut Criterion) {
    let certs = Certs::new();
    let mut g = c.benchmark_group("pc/set-up to data channel open");
    g.sample_size(10).measurement_time(Duration::from_secs(2));
    let mut seed = 0u64;
    g.bench_function("ferrtc", |b| {
        b.iter(|| {
            seed = seed.wrapping_add(1);
            black_box(ferrtc_connect(&certs, seed, Duration::ZERO))
        })
    });
    g.bench_function("str0m 0.24 (rust-crypto)", |b| {
        b.iter(|| black_box(str0m_connect(&certs, Duration::ZERO)))
    });
    g.finish();
}

fn forward(c: &mut Criterion) {
    let certs = Certs::new();
    let mut fwd = Forwarder::new(&certs, 1200);
    let mut ceiling = SrtpCeiling::new(fwd.profile(), 1200);
    let mut g = c.benchmark_group("pc/forward 1200 B (256 packets)");
    g.measurement_time(Duration::from_secs(2));
    g.bench_function("ferrtc", |b| {
        // Preparation (A protecting fresh packets) is outside the timed part.
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                fwd.prepare(256);
                let start = Instant::now();
                black_box(fwd.forward());
                took += start.elapsed();
            }
            took
        })
    });
    g.bench_function("ferrtc-srtp unprotect + protect (ceiling)", |b| {
        b.iter(|| black_box(ceiling.run(256)))
    });
    g.finish();
}

criterion_group!(benches, setup, forward);
criterion_main!(benches);
