//! Bad input on a live context: truncated packets, flipped bits, wrong keys, replays and
//! garbage give typed errors, never a panic, and leave the context as it was: the next valid
//! packet still unprotects, for every profile, RTP and RTCP.

use ferrtc_srtp::{Config, Error, SrtpContext, SrtpProfile, Ssrc};

fn ctx(profile: SrtpProfile, key_byte: u8) -> SrtpContext {
    let key = vec![key_byte; profile.master_key_len()];
    let salt = vec![0x5a; profile.master_salt_len()];
    SrtpContext::new(profile, &key, &salt, Config::default()).unwrap()
}

fn rtp(seq: u16) -> Vec<u8> {
    // CC = 1, X = 1 with a one-word extension, then a payload.
    let mut p = vec![0x91, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 9, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1]);
    p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x22, 1, 2, 3]);
    p.extend_from_slice(&[seq as u8; 60]);
    p
}

fn rtcp() -> Vec<u8> {
    let mut p = vec![0x80, 200, 0, 6, 0xde, 0xad, 0xbe, 0xef];
    p.extend_from_slice(&[0x11; 20]);
    p
}

struct Peer {
    profile: SrtpProfile,
    tx: SrtpContext,
    rx: SrtpContext,
    seq: u16,
}

impl Peer {
    fn new(profile: SrtpProfile) -> Peer {
        Peer {
            profile,
            tx: ctx(profile, 1),
            rx: ctx(profile, 1),
            seq: 65_530,
        }
    }

    fn srtp(&mut self) -> (Vec<u8>, Vec<u8>) {
        self.seq = self.seq.wrapping_add(1);
        let plain = rtp(self.seq);
        let mut buf = plain.clone();
        buf.resize(plain.len() + self.profile.rtp_overhead(), 0);
        let n = self.tx.protect_rtp(&mut buf, plain.len()).unwrap();
        buf.truncate(n);
        (plain, buf)
    }

    fn srtcp(&mut self) -> Vec<u8> {
        let plain = rtcp();
        let mut buf = plain.clone();
        buf.resize(plain.len() + self.profile.rtcp_overhead(), 0);
        let n = self.tx.protect_rtcp(&mut buf, plain.len()).unwrap();
        buf.truncate(n);
        buf
    }

    /// The next valid packets (RTP and RTCP) are accepted.
    fn still_works(&mut self) {
        let (plain, mut p) = self.srtp();
        let n = self.rx.unprotect_rtp(&mut p).expect("valid SRTP refused");
        assert_eq!(&p[..n], &plain[..]);
        let mut c = self.srtcp();
        let n = self.rx.unprotect_rtcp(&mut c).expect("valid SRTCP refused");
        assert_eq!(&c[..n], &rtcp()[..]);
    }
}

#[test]
fn truncated_packets() {
    for profile in SrtpProfile::ALL {
        let mut peer = Peer::new(profile);
        peer.still_works();
        let (_, p) = peer.srtp();
        for len in 0..p.len() {
            let mut cut = p[..len].to_vec();
            let e = peer.rx.unprotect_rtp(&mut cut).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::Truncated { .. }
                        | Error::HeaderOverrun { .. }
                        | Error::AuthenticationFailed { .. }
                ),
                "{profile:?} len {len}: {e:?}"
            );
        }
        let c = peer.srtcp();
        for len in 0..c.len() {
            let mut cut = c[..len].to_vec();
            assert!(
                peer.rx.unprotect_rtcp(&mut cut).is_err(),
                "{profile:?} len {len}"
            );
        }
        // The untouched packets are still accepted afterwards.
        let mut p = p;
        assert!(peer.rx.unprotect_rtp(&mut p).is_ok());
        let mut c = c;
        assert!(peer.rx.unprotect_rtcp(&mut c).is_ok());
        peer.still_works();
    }
}

#[test]
fn every_flipped_bit_is_refused() {
    for profile in SrtpProfile::ALL {
        let mut peer = Peer::new(profile);
        let (_, p) = peer.srtp();
        for bit in 0..p.len() * 8 {
            let mut bad = p.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                peer.rx.unprotect_rtp(&mut bad).is_err(),
                "{profile:?} bit {bit}"
            );
        }
        let c = peer.srtcp();
        for bit in 0..c.len() * 8 {
            let mut bad = c.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                peer.rx.unprotect_rtcp(&mut bad).is_err(),
                "{profile:?} bit {bit}"
            );
        }
        let mut p = p;
        assert!(peer.rx.unprotect_rtp(&mut p).is_ok());
        let mut c = c;
        assert!(peer.rx.unprotect_rtcp(&mut c).is_ok());
        peer.still_works();
    }
}

#[test]
fn wrong_key_is_an_authentication_failure() {
    for profile in SrtpProfile::ALL {
        let mut peer = Peer::new(profile);
        peer.still_works();
        let mut stranger = ctx(profile, 2);
        let mut p = rtp(peer.seq.wrapping_add(1));
        let len = p.len();
        p.resize(len + profile.rtp_overhead(), 0);
        stranger.protect_rtp(&mut p, len).unwrap();
        assert_eq!(
            peer.rx.unprotect_rtp(&mut p),
            Err(Error::AuthenticationFailed {
                ssrc: Ssrc(0xdead_beef)
            })
        );
        // The peer has seen SRTCP index 0; the stranger's second packet carries index 1.
        let mut c = rtcp();
        let len = c.len();
        c.resize(len + profile.rtcp_overhead(), 0);
        stranger.protect_rtcp(&mut c.clone(), len).unwrap();
        stranger.protect_rtcp(&mut c, len).unwrap();
        assert_eq!(
            peer.rx.unprotect_rtcp(&mut c),
            Err(Error::AuthenticationFailed {
                ssrc: Ssrc(0xdead_beef)
            })
        );
        assert_eq!(peer.rx.stats().auth_failed, 2);
        peer.still_works();
    }
}

#[test]
fn replays_are_refused_and_counted() {
    for profile in SrtpProfile::ALL {
        let mut peer = Peer::new(profile);
        let (_, p) = peer.srtp();
        let c = peer.srtcp();
        let (mut p1, mut c1) = (p.clone(), c.clone());
        peer.rx.unprotect_rtp(&mut p1).unwrap();
        peer.rx.unprotect_rtcp(&mut c1).unwrap();
        for _ in 0..3 {
            let (mut p2, mut c2) = (p.clone(), c.clone());
            assert!(matches!(
                peer.rx.unprotect_rtp(&mut p2),
                Err(Error::Replayed {
                    ssrc: Ssrc(0xdead_beef),
                    ..
                })
            ));
            assert!(matches!(
                peer.rx.unprotect_rtcp(&mut c2),
                Err(Error::Replayed {
                    ssrc: Ssrc(0xdead_beef),
                    index: 0
                })
            ));
        }
        assert_eq!(peer.rx.stats().replayed, 6);
        peer.still_works();
    }
}

#[test]
fn garbage_of_every_length() {
    for profile in SrtpProfile::ALL {
        let mut peer = Peer::new(profile);
        peer.still_works();
        let mut x = 0x1234_5678u32;
        for len in 0..300 {
            let mut g: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            // Half of them look like RTP/RTCP version 2 from a known SSRC.
            if len >= 12 && len % 2 == 0 {
                g[0] = 0x80;
                g[4..8].copy_from_slice(&0xdead_beefu32.to_be_bytes());
                g[8..12].copy_from_slice(&0xdead_beefu32.to_be_bytes());
            }
            let mut h = g.clone();
            assert!(peer.rx.unprotect_rtp(&mut g).is_err(), "len {len}");
            assert!(peer.rx.unprotect_rtcp(&mut h).is_err(), "len {len}");
        }
        peer.still_works();
    }
}
