//! Criterion benches for the STUN group: each workload beside webrtc-rs's `stun` crate.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ferrtc_benches::stun::{
    PASSWORD, RFC5769_REQUEST, build_ferrtc, build_webrtc_rs, check_ferrtc, check_webrtc_rs,
};
use ferrtc_stun_ice::stun::{IntegrityKey, TransactionId};
use stun::integrity::MessageIntegrity;
use stun::message::Message as WMessage;

fn check(c: &mut Criterion) {
    let key = IntegrityKey::short_term(PASSWORD);
    let integrity = MessageIntegrity::new_short_term_integrity(PASSWORD.to_owned());
    let mut wm = WMessage::new();
    let mut g = c.benchmark_group("stun/decode+integrity+fingerprint RFC 5769 request");
    g.bench_function("ferrtc", |b| {
        b.iter(|| assert!(check_ferrtc(black_box(&RFC5769_REQUEST), black_box(&key))))
    });
    g.bench_function("stun 0.17 (webrtc-rs)", |b| {
        b.iter(|| {
            assert!(check_webrtc_rs(
                &mut wm,
                black_box(&RFC5769_REQUEST),
                black_box(&integrity)
            ))
        })
    });
    g.finish();
}

fn build(c: &mut Criterion) {
    let key = IntegrityKey::short_term(PASSWORD);
    let integrity = MessageIntegrity::new_short_term_integrity(PASSWORD.to_owned());
    let txid = [7u8; 12];
    let mut out = Vec::with_capacity(128);
    let mut wm = WMessage::new();
    let mut g = c.benchmark_group("stun/build ICE Binding request");
    g.bench_function("ferrtc", |b| {
        b.iter(|| build_ferrtc(&mut out, black_box(&key), TransactionId(txid)))
    });
    g.bench_function("stun 0.17 (webrtc-rs)", |b| {
        b.iter(|| build_webrtc_rs(&mut wm, black_box(&integrity), txid))
    });
    g.finish();
}

criterion_group!(benches, check, build);
criterion_main!(benches);
