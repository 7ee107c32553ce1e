//! Cross-check against Debian's libsrtp2 (package libsrtp2-dev), a second implementation nobody
//! here wrote: a small C peer (tests/libsrtp2/peer.c) is compiled against it, and for every
//! profile packets protected by ferrtc are unprotected by libsrtp2 and the reverse, RTP and
//! RTCP, with CSRC lists, header extensions and random payloads, across a sequence wrap; the
//! libsrtp2-protected stream reaches ferrtc reordered.
//!
//! Needs a C compiler and libsrtp2-dev (`apt-get install libsrtp2-dev`); `cargo xtask test`
//! installs the real peers.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use ferrtc_srtp::{Config, SrtpContext, SrtpProfile, Ssrc};

fn peer_binary() -> &'static PathBuf {
    static PEER: OnceLock<PathBuf> = OnceLock::new();
    PEER.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("libsrtp2_peer");
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/libsrtp2/peer.c");
        let status = Command::new("cc")
            .args(["-O2", "-Wall", "-o"])
            .arg(&out)
            .arg(&src)
            .arg("-lsrtp2")
            .status()
            .expect("a C compiler (cc) is needed for the libsrtp2 cross-check");
        assert!(
            status.success(),
            "building the libsrtp2 peer failed: install libsrtp2-dev (apt-get install libsrtp2-dev)"
        );
        out
    })
}

fn name(profile: SrtpProfile) -> &'static str {
    match profile {
        SrtpProfile::Aes128CmHmacSha1_80 => "cm80",
        SrtpProfile::Aes128CmHmacSha1_32 => "cm32",
        SrtpProfile::AeadAes128Gcm => "gcm128",
        SrtpProfile::AeadAes256Gcm => "gcm256",
    }
}

/// Runs the libsrtp2 peer over `packets`; returns (libsrtp status, output) per packet.
fn libsrtp2(
    profile: SrtpProfile,
    mode: &str,
    kind: &str,
    key: &[u8],
    salt: &[u8],
    packets: &[Vec<u8>],
) -> Vec<(u32, Vec<u8>)> {
    let hex: String = key.iter().chain(salt).map(|b| format!("{b:02x}")).collect();
    let mut child = Command::new(peer_binary())
        .args([name(profile), mode, kind, &hex])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("libsrtp2 peer runs");
    let mut input = Vec::new();
    for p in packets {
        input.extend_from_slice(&(p.len() as u32).to_be_bytes());
        input.extend_from_slice(p);
    }
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("libsrtp2 peer finishes");
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "libsrtp2 peer failed: {:?}",
        out.status
    );
    let mut rest = &out.stdout[..];
    let mut results = Vec::new();
    while !rest.is_empty() {
        let status = u32::from_be_bytes(rest[..4].try_into().unwrap());
        let len = u32::from_be_bytes(rest[4..8].try_into().unwrap()) as usize;
        results.push((status, rest[8..8 + len].to_vec()));
        rest = &rest[8 + len..];
    }
    assert_eq!(results.len(), packets.len());
    results
}

/// A small deterministic generator (xorshift32) for payloads and header shapes.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn rtp_stream(rng: &mut Rng, ssrc: u32, first_seq: u16, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let csrcs = (rng.next() % 4) as usize;
            let ext = rng.next() % 3;
            let mut p = vec![
                0x80 | if ext != 0 { 0x10 } else { 0 } | csrcs as u8,
                (rng.next() % 128) as u8,
            ];
            p.extend_from_slice(&first_seq.wrapping_add(i as u16).to_be_bytes());
            p.extend_from_slice(&(i as u32 * 960).to_be_bytes());
            p.extend_from_slice(&ssrc.to_be_bytes());
            for _ in 0..csrcs {
                p.extend_from_slice(&rng.next().to_be_bytes());
            }
            match ext {
                1 => {
                    // RFC 8285 one-byte element (id 3, 2 bytes) padded to a word.
                    p.extend_from_slice(&[0xbe, 0xde, 0x00, 0x01, 0x31]);
                    p.extend_from_slice(&rng.bytes(2));
                    p.push(0);
                }
                2 => {
                    p.extend_from_slice(&[0x12, 0x34, 0x00, 0x02]);
                    p.extend_from_slice(&rng.bytes(8));
                }
                _ => {}
            }
            let len = (rng.next() % 1200) as usize;
            p.extend_from_slice(&rng.bytes(len));
            p
        })
        .collect()
}

fn rtcp_stream(rng: &mut Rng, ssrc: u32, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|_| {
            let blocks = (rng.next() % 4) as usize;
            let mut p = vec![0x80 | blocks as u8, 201];
            p.extend_from_slice(&((1 + 6 * blocks) as u16).to_be_bytes());
            p.extend_from_slice(&ssrc.to_be_bytes());
            p.extend_from_slice(&rng.bytes(24 * blocks));
            p
        })
        .collect()
}

fn keys(rng: &mut Rng, profile: SrtpProfile) -> (Vec<u8>, Vec<u8>) {
    (
        rng.bytes(profile.master_key_len()),
        rng.bytes(profile.master_salt_len()),
    )
}

#[test]
fn ferrtc_to_libsrtp2() {
    let mut rng = Rng(0x0bad_5eed);
    for profile in SrtpProfile::ALL {
        let (key, salt) = keys(&mut rng, profile);
        let mut ours = SrtpContext::new(profile, &key, &salt, Config::default()).unwrap();

        let plain = rtp_stream(&mut rng, 0x0102_0304, 65_400, 300);
        let protected: Vec<Vec<u8>> = plain
            .iter()
            .map(|p| {
                let mut b = p.clone();
                b.resize(p.len() + profile.rtp_overhead(), 0);
                let n = ours.protect_rtp(&mut b, p.len()).unwrap();
                b.truncate(n);
                b
            })
            .collect();
        for (i, (status, out)) in libsrtp2(profile, "unprotect", "rtp", &key, &salt, &protected)
            .into_iter()
            .enumerate()
        {
            assert_eq!(status, 0, "{profile:?}: libsrtp2 refused RTP packet {i}");
            assert_eq!(out, plain[i], "{profile:?}: RTP packet {i}");
        }
        assert_eq!(ours.local_roc(Ssrc(0x0102_0304)), Some(1));

        let plain = rtcp_stream(&mut rng, 0x0102_0304, 50);
        let protected: Vec<Vec<u8>> = plain
            .iter()
            .map(|p| {
                let mut b = p.clone();
                b.resize(p.len() + profile.rtcp_overhead(), 0);
                let n = ours.protect_rtcp(&mut b, p.len()).unwrap();
                b.truncate(n);
                b
            })
            .collect();
        for (i, (status, out)) in libsrtp2(profile, "unprotect", "rtcp", &key, &salt, &protected)
            .into_iter()
            .enumerate()
        {
            assert_eq!(status, 0, "{profile:?}: libsrtp2 refused RTCP packet {i}");
            assert_eq!(out, plain[i], "{profile:?}: RTCP packet {i}");
        }
    }
}

#[test]
fn libsrtp2_to_ferrtc_reordered() {
    let mut rng = Rng(0x5eed_0bad);
    for profile in SrtpProfile::ALL {
        let (key, salt) = keys(&mut rng, profile);
        let mut ours = SrtpContext::new(profile, &key, &salt, Config::default()).unwrap();

        let plain = rtp_stream(&mut rng, 0xfeed_f00d, 65_400, 300);
        let protected = libsrtp2(profile, "protect", "rtp", &key, &salt, &plain);
        // Deliver with every pair of neighbours swapped, past the wrap as well.
        let mut order: Vec<usize> = (0..plain.len()).collect();
        for pair in order.chunks_mut(2) {
            pair.reverse();
        }
        for i in order {
            let (status, mut srtp) = protected[i].clone();
            assert_eq!(
                status, 0,
                "{profile:?}: libsrtp2 could not protect RTP packet {i}"
            );
            let n = ours
                .unprotect_rtp(&mut srtp)
                .unwrap_or_else(|e| panic!("{profile:?}: ferrtc refused RTP packet {i}: {e}"));
            assert_eq!(&srtp[..n], &plain[i][..], "{profile:?}: RTP packet {i}");
        }
        assert_eq!(ours.remote_roc(Ssrc(0xfeed_f00d)), Some(1));

        let plain = rtcp_stream(&mut rng, 0xfeed_f00d, 50);
        let protected = libsrtp2(profile, "protect", "rtcp", &key, &salt, &plain);
        for (i, (status, mut srtcp)) in protected.into_iter().enumerate() {
            assert_eq!(
                status, 0,
                "{profile:?}: libsrtp2 could not protect RTCP packet {i}"
            );
            let n = ours
                .unprotect_rtcp(&mut srtcp)
                .unwrap_or_else(|e| panic!("{profile:?}: ferrtc refused RTCP packet {i}: {e}"));
            assert_eq!(&srtcp[..n], &plain[i][..], "{profile:?}: RTCP packet {i}");
        }
    }
}
