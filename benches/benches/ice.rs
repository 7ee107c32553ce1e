//! Criterion benches for the ICE group: ferrtc's agent beside str0m's (`is` 0.12).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use ferrtc_benches::ice::{
    answer_ferrtc, answer_str0m, checks, connect_ferrtc, connect_str0m, ferrtc_lite_server,
    str0m_lite_server,
};

fn answer(c: &mut Criterion) {
    let now = Instant::now();
    let requests = checks(1024);
    let mut ours = ferrtc_lite_server(now);
    let mut theirs = str0m_lite_server(now);
    let mut g = c.benchmark_group("ice/lite answers a connectivity check");
    let mut i = 0;
    g.bench_function("ferrtc", |b| {
        b.iter(|| {
            i = (i + 1) % requests.len();
            black_box(answer_ferrtc(&mut ours, now, &requests[i]))
        })
    });
    let mut j = 0;
    g.bench_function("is 0.12 (str0m)", |b| {
        b.iter(|| {
            j = (j + 1) % requests.len();
            black_box(answer_str0m(&mut theirs, now, &requests[j]))
        })
    });
    g.finish();
}

fn connect(c: &mut Criterion) {
    let mut g = c.benchmark_group("ice/two agents to a nominated pair");
    let mut seed = 0u64;
    g.bench_function("ferrtc", |b| {
        b.iter(|| {
            seed = seed.wrapping_add(1);
            black_box(connect_ferrtc(seed))
        })
    });
    g.bench_function("is 0.12 (str0m)", |b| b.iter(|| black_box(connect_str0m())));
    g.finish();
}

criterion_group!(benches, answer, connect);
criterion_main!(benches);
