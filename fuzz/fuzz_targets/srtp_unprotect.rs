//! SRTP/SRTCP unprotect against a live context (one that has already accepted traffic).
//!
//! The first byte picks the profile, RTP or RTCP, and a mode:
//! - raw: the rest is an SRTP/SRTCP packet from the network. It must be refused with a typed
//!   error (nobody can forge a tag), and the context must be unharmed: the next valid packet
//!   still unprotects.
//! - round trip: the rest is a plaintext packet. Where protect accepts it, unprotect must give
//!   back the same bytes.
//! - tamper: the rest is a plaintext packet; once protected, one byte is flipped. Unprotect
//!   must refuse it, and the untouched packet must still unprotect.
#![no_main]

use ferrtc_srtp::{Config, Error, SrtpContext, SrtpProfile};
use libfuzzer_sys::fuzz_target;

const PRIMED_SSRC: u32 = 0x5eed_5eed;

struct Live {
    profile: SrtpProfile,
    tx: SrtpContext,
    rx: SrtpContext,
    next_seq: u16,
}

impl Live {
    fn new(profile: SrtpProfile) -> Live {
        let key = vec![0x42; profile.master_key_len()];
        let salt = vec![0x24; profile.master_salt_len()];
        let mut live = Live {
            profile,
            tx: SrtpContext::new(profile, &key, &salt, Config::default()).unwrap(),
            rx: SrtpContext::new(profile, &key, &salt, Config::default()).unwrap(),
            next_seq: 65_533,
        };
        // Prime RTP across a wrap and RTCP, so that the context has ROC and window state.
        for _ in 0..5 {
            live.valid_rtp();
            live.valid_rtcp();
        }
        live
    }

    fn valid_rtp(&mut self) {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        let mut p = vec![0x80, 96];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0]);
        p.extend_from_slice(&PRIMED_SSRC.to_be_bytes());
        p.extend_from_slice(b"payload");
        let len = p.len();
        p.resize(len + self.profile.rtp_overhead(), 0);
        let n = self.tx.protect_rtp(&mut p, len).unwrap();
        let m = self
            .rx
            .unprotect_rtp(&mut p[..n])
            .expect("valid packet refused");
        assert_eq!(m, len);
    }

    fn valid_rtcp(&mut self) {
        let mut p = vec![0x80, 201, 0, 1];
        p.extend_from_slice(&PRIMED_SSRC.to_be_bytes());
        let len = p.len();
        p.resize(len + self.profile.rtcp_overhead(), 0);
        let n = self.tx.protect_rtcp(&mut p, len).unwrap();
        let m = self
            .rx
            .unprotect_rtcp(&mut p[..n])
            .expect("valid packet refused");
        assert_eq!(m, len);
    }

    fn protect(&mut self, rtcp: bool, plain: &[u8]) -> Option<Vec<u8>> {
        let mut buf = plain.to_vec();
        let overhead = if rtcp {
            self.profile.rtcp_overhead()
        } else {
            self.profile.rtp_overhead()
        };
        buf.resize(plain.len() + overhead, 0);
        let r = if rtcp {
            self.tx.protect_rtcp(&mut buf, plain.len())
        } else {
            self.tx.protect_rtp(&mut buf, plain.len())
        };
        let n = r.ok()?;
        buf.truncate(n);
        Some(buf)
    }

    fn unprotect(&mut self, rtcp: bool, buf: &mut [u8]) -> Result<usize, Error> {
        if rtcp {
            self.rx.unprotect_rtcp(buf)
        } else {
            self.rx.unprotect_rtp(buf)
        }
    }
}

/// Whether `plain` claims the SSRC the priming traffic used (its indices may be replays).
fn claims_primed_ssrc(rtcp: bool, plain: &[u8]) -> bool {
    let at = if rtcp { 4 } else { 8 };
    plain.get(at..at + 4) == Some(&PRIMED_SSRC.to_be_bytes()[..])
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let profile = SrtpProfile::ALL[usize::from(selector & 3)];
    let rtcp = selector & 4 != 0;
    let mut live = Live::new(profile);
    match (selector >> 3) % 3 {
        0 => {
            let mut buf = rest.to_vec();
            let r = live.unprotect(rtcp, &mut buf);
            assert!(r.is_err(), "an unauthenticated packet was accepted");
            live.valid_rtp();
            live.valid_rtcp();
        }
        1 => {
            if let Some(mut buf) = live.protect(rtcp, rest) {
                match live.unprotect(rtcp, &mut buf) {
                    Ok(n) => assert_eq!(&buf[..n], rest),
                    Err(Error::Replayed { .. } | Error::TooOld { .. })
                        if claims_primed_ssrc(rtcp, rest) => {}
                    Err(e) => panic!("protected packet refused: {e}"),
                }
            }
        }
        _ => {
            let Some((&pos, plain)) = rest.split_first() else {
                return;
            };
            if let Some(good) = live.protect(rtcp, plain) {
                let mut bad = good.clone();
                let at = usize::from(pos) % bad.len();
                bad[at] ^= 1 << (pos % 8);
                assert!(
                    live.unprotect(rtcp, &mut bad).is_err(),
                    "tampered packet accepted"
                );
                let mut good = good;
                match live.unprotect(rtcp, &mut good) {
                    Ok(n) => assert_eq!(&good[..n], plain),
                    Err(Error::Replayed { .. } | Error::TooOld { .. })
                        if claims_primed_ssrc(rtcp, plain) => {}
                    Err(e) => panic!("untouched packet refused after a tampered one: {e}"),
                }
            }
        }
    }
});
