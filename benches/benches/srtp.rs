//! Criterion benches for the SRTP group: each workload beside the raw crypto ceiling (ring
//! AES-GCM; RustCrypto AES-CTR + HMAC-SHA1) and beside webrtc-srtp 0.17, at 1200 and 172 bytes.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrtc_benches::srtp::{Ferrtc, RawCtrHmac, RingGcm, SIZES, Webrtc};
use ferrtc_srtp::SrtpProfile;

fn label(profile: SrtpProfile) -> &'static str {
    match profile {
        SrtpProfile::Aes128CmHmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
        SrtpProfile::Aes128CmHmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        SrtpProfile::AeadAes128Gcm => "AEAD_AES_128_GCM",
        SrtpProfile::AeadAes256Gcm => "AEAD_AES_256_GCM",
    }
}

fn srtp(c: &mut Criterion) {
    for size in SIZES {
        for profile in SrtpProfile::ALL {
            let p = label(profile);
            let mut g = c.benchmark_group(format!("srtp/{p} protect/{size}B"));
            g.throughput(Throughput::Bytes(size as u64));
            let mut ours = Ferrtc::new(profile, size);
            g.bench_function("ferrtc", |b| b.iter(|| ours.protect()));
            if profile.rtp_overhead() == 16 {
                let mut raw = RingGcm::new(profile, size);
                g.bench_function("ring seal (raw)", |b| b.iter(|| raw.seal()));
            } else if profile == SrtpProfile::Aes128CmHmacSha1_80 {
                let mut raw = RawCtrHmac::new(size);
                g.bench_function("aes-ctr + hmac-sha1 (raw)", |b| b.iter(|| raw.protect()));
            }
            let mut theirs = Webrtc::new(profile, size);
            g.bench_function("webrtc-srtp 0.17", |b| b.iter(|| theirs.protect()));
            g.finish();

            let mut g = c.benchmark_group(format!("srtp/{p} protect+unprotect/{size}B"));
            g.throughput(Throughput::Bytes(size as u64));
            let mut ours = Ferrtc::new(profile, size);
            g.bench_function("ferrtc", |b| b.iter(|| ours.round_trip()));
            if profile.rtp_overhead() == 16 {
                let mut raw = RingGcm::new(profile, size);
                g.bench_function("ring seal+open (raw)", |b| b.iter(|| raw.seal_open()));
            } else if profile == SrtpProfile::Aes128CmHmacSha1_80 {
                let mut raw = RawCtrHmac::new(size);
                g.bench_function("aes-ctr + hmac-sha1 both ways (raw)", |b| {
                    b.iter(|| raw.round_trip())
                });
            }
            let mut theirs = Webrtc::new(profile, size);
            g.bench_function("webrtc-srtp 0.17", |b| b.iter(|| theirs.round_trip()));
            g.finish();
        }
        let mut g = c.benchmark_group(format!("srtp/HMAC-SHA1 crate choice/{size}B"));
        g.throughput(Throughput::Bytes(size as u64));
        let mut raw = RawCtrHmac::new(size);
        g.bench_function("RustCrypto hmac+sha1", |b| b.iter(|| raw.hmac_rustcrypto()));
        g.bench_function("ring HMAC-SHA1", |b| b.iter(|| raw.hmac_ring()));
        g.finish();
    }
}

criterion_group!(benches, srtp);
criterion_main!(benches);
