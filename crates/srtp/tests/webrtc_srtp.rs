//! Cross-check against `webrtc-srtp` (an implementation nobody here wrote): for every profile,
//! packets protected by ferrtc are unprotected by webrtc-srtp and the reverse, over random
//! payloads, CSRC lists and header extensions, across a sequence-number wrap.

use ferrtc_srtp::{Config, SrtpContext, SrtpProfile, Ssrc};
use proptest::prelude::*;
use webrtc_srtp::context::Context as WebrtcContext;
use webrtc_srtp::protection_profile::ProtectionProfile;

fn theirs(profile: SrtpProfile) -> ProtectionProfile {
    match profile {
        SrtpProfile::Aes128CmHmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        SrtpProfile::Aes128CmHmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        SrtpProfile::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
    }
}

/// The header extension of a generated packet.
#[derive(Debug, Clone)]
enum Extension {
    None,
    /// RFC 8285 one-byte elements: (id 1..=14, payload 1..=16 bytes).
    OneByte(Vec<(u8, Vec<u8>)>),
    /// RFC 8285 two-byte elements: (id 1..=255, payload 0..=255 bytes).
    TwoByte(Vec<(u8, Vec<u8>)>),
    /// RFC 3550 extension with another profile: raw 32-bit words.
    Raw(u16, Vec<u8>),
}

impl Extension {
    fn encode(&self) -> Option<Vec<u8>> {
        let (profile, mut body) = match self {
            Extension::None => return None,
            Extension::OneByte(elems) => {
                let mut b = Vec::new();
                for (id, data) in elems {
                    b.push((id << 4) | (data.len() as u8 - 1));
                    b.extend_from_slice(data);
                }
                (0xbede, b)
            }
            Extension::TwoByte(elems) => {
                let mut b = Vec::new();
                for (id, data) in elems {
                    b.push(*id);
                    b.push(data.len() as u8);
                    b.extend_from_slice(data);
                }
                (0x1000, b)
            }
            Extension::Raw(profile, words) => (*profile, words.clone()),
        };
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let mut out = profile.to_be_bytes().to_vec();
        out.extend_from_slice(&((body.len() / 4) as u16).to_be_bytes());
        out.append(&mut body);
        Some(out)
    }
}

fn extension() -> impl Strategy<Value = Extension> {
    prop_oneof![
        Just(Extension::None),
        prop::collection::vec((1u8..=14, prop::collection::vec(any::<u8>(), 1..=16)), 1..5)
            .prop_map(Extension::OneByte),
        prop::collection::vec(
            (1u8..=255, prop::collection::vec(any::<u8>(), 0..=40)),
            1..4
        )
        .prop_map(Extension::TwoByte),
        (
            any::<u16>().prop_filter("not an RFC 8285 profile", |p| *p != 0xbede
                && (*p & 0xfff0) != 0x1000),
            (0usize..6).prop_flat_map(|w| prop::collection::vec(any::<u8>(), w * 4))
        )
            .prop_map(|(p, w)| Extension::Raw(p, w)),
    ]
}

#[derive(Debug, Clone)]
struct Stream {
    profile: SrtpProfile,
    key: Vec<u8>,
    salt: Vec<u8>,
    ssrc: u32,
    first_seq: u16,
    csrcs: Vec<u32>,
    ext: Extension,
    payloads: Vec<Vec<u8>>,
}

fn stream() -> impl Strategy<Value = Stream> {
    (
        prop::sample::select(SrtpProfile::ALL.to_vec()),
        any::<[u8; 32]>(),
        any::<[u8; 14]>(),
        any::<u32>(),
        // Start close to the wrap so that most streams cross it.
        prop_oneof![65_500u16..=65_535, any::<u16>()],
        prop::collection::vec(any::<u32>(), 0..=15),
        extension(),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..1300), 1..50),
    )
        .prop_map(
            |(profile, key, salt, ssrc, first_seq, csrcs, ext, payloads)| Stream {
                key: key[..profile.master_key_len()].to_vec(),
                salt: salt[..profile.master_salt_len()].to_vec(),
                profile,
                ssrc,
                first_seq,
                csrcs,
                ext,
                payloads,
            },
        )
}

impl Stream {
    fn packet(&self, i: usize) -> Vec<u8> {
        let ext = self.ext.encode();
        let mut p = vec![
            0x80 | if ext.is_some() { 0x10 } else { 0 } | self.csrcs.len() as u8,
            96 | if i % 7 == 0 { 0x80 } else { 0 },
        ];
        p.extend_from_slice(&self.first_seq.wrapping_add(i as u16).to_be_bytes());
        p.extend_from_slice(&(i as u32 * 3000).to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        for c in &self.csrcs {
            p.extend_from_slice(&c.to_be_bytes());
        }
        if let Some(ext) = ext {
            p.extend_from_slice(&ext);
        }
        p.extend_from_slice(&self.payloads[i]);
        p
    }

    fn ours(&self) -> SrtpContext {
        SrtpContext::new(self.profile, &self.key, &self.salt, Config::default()).unwrap()
    }

    fn theirs(&self) -> WebrtcContext {
        WebrtcContext::new(&self.key, &self.salt, theirs(self.profile), None, None).unwrap()
    }
}

/// A compound RTCP packet: RR with `blocks` report blocks of random bytes, then an SDES-like
/// packet of random words (any type is fine for SRTCP: only the first 8 bytes are read).
fn rtcp_packet(ssrc: u32, blocks: &[[u8; 24]], tail: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80 | blocks.len() as u8, 201];
    p.extend_from_slice(&((1 + 6 * blocks.len()) as u16).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    for b in blocks {
        p.extend_from_slice(b);
    }
    let words = tail.len() / 4;
    if words > 0 {
        p.extend_from_slice(&[0x81, 202]);
        p.extend_from_slice(&((words - 1) as u16).to_be_bytes());
        p.extend_from_slice(&tail[..words * 4]);
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn ferrtc_to_webrtc_srtp(s in stream()) {
        let mut ours = s.ours();
        let mut theirs = s.theirs();
        for i in 0..s.payloads.len() {
            let plain = s.packet(i);
            let mut buf = plain.clone();
            buf.resize(plain.len() + s.profile.rtp_overhead(), 0);
            let n = ours.protect_rtp(&mut buf, plain.len()).unwrap();
            let decrypted = theirs
                .decrypt_rtp(&buf[..n])
                .unwrap_or_else(|e| panic!("webrtc-srtp refused packet {i}: {e}"));
            prop_assert_eq!(&decrypted[..], &plain[..]);
        }
    }

    #[test]
    fn webrtc_srtp_to_ferrtc(s in stream()) {
        let mut ours = s.ours();
        let mut theirs = s.theirs();
        for i in 0..s.payloads.len() {
            let plain = s.packet(i);
            let mut buf = theirs.encrypt_rtp(&plain).unwrap().to_vec();
            let n = ours
                .unprotect_rtp(&mut buf)
                .unwrap_or_else(|e| panic!("ferrtc refused packet {i}: {e}"));
            prop_assert_eq!(&buf[..n], &plain[..]);
        }
        let first = s.first_seq as u32;
        let expected_roc = u32::from(first + s.payloads.len() as u32 - 1 > 0xffff);
        prop_assert_eq!(ours.remote_roc(Ssrc(s.ssrc)), Some(expected_roc));
    }

    #[test]
    fn srtcp_both_ways(
        profile in prop::sample::select(SrtpProfile::ALL.to_vec()),
        key in any::<[u8; 32]>(),
        salt in any::<[u8; 14]>(),
        ssrc in any::<u32>(),
        packets in prop::collection::vec(
            (prop::collection::vec(any::<[u8; 24]>(), 0..4), prop::collection::vec(any::<u8>(), 0..200)),
            1..10,
        ),
    ) {
        let key = &key[..profile.master_key_len()];
        let salt = &salt[..profile.master_salt_len()];
        let mut ours = SrtpContext::new(profile, key, salt, Config::default()).unwrap();
        let mut ours_rx = SrtpContext::new(profile, key, salt, Config::default()).unwrap();
        let mut theirs = WebrtcContext::new(key, salt, self::theirs(profile), None, None).unwrap();
        let mut theirs_rx = WebrtcContext::new(key, salt, self::theirs(profile), None, None).unwrap();
        for (blocks, tail) in &packets {
            let plain = rtcp_packet(ssrc, blocks, tail);
            let mut buf = plain.clone();
            buf.resize(plain.len() + profile.rtcp_overhead(), 0);
            let n = ours.protect_rtcp(&mut buf, plain.len()).unwrap();
            let decrypted = theirs_rx.decrypt_rtcp(&buf[..n]).unwrap();
            prop_assert_eq!(&decrypted[..], &plain[..]);

            let mut buf = theirs.encrypt_rtcp(&plain).unwrap().to_vec();
            let n = ours_rx.unprotect_rtcp(&mut buf).unwrap();
            prop_assert_eq!(&buf[..n], &plain[..]);
        }
    }
}

/// A long stream through two wraps, with gaps and losses, in both directions.
#[test]
fn two_wraps_with_losses_both_ways() {
    for profile in SrtpProfile::ALL {
        let key = vec![3u8; profile.master_key_len()];
        let salt = vec![5u8; profile.master_salt_len()];
        let mut ours_tx = SrtpContext::new(profile, &key, &salt, Config::default()).unwrap();
        let mut ours_rx = SrtpContext::new(profile, &key, &salt, Config::default()).unwrap();
        let mut theirs_tx = WebrtcContext::new(&key, &salt, theirs(profile), None, None).unwrap();
        let mut theirs_rx = WebrtcContext::new(&key, &salt, theirs(profile), None, None).unwrap();
        // Sequence numbers advance by 13 (as after bursts of loss), so that two wraps take
        // ten thousand packets.
        let mut seq = 1000u16;
        let mut i = 0u32;
        let mut packet = vec![0u8; 12 + 100 + 16];
        while i < 10_200 {
            seq = seq.wrapping_add(13);
            i += 1;
            packet[..12].copy_from_slice(&[0x80, 111, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0xef, 0x01]);
            packet[2..4].copy_from_slice(&seq.to_be_bytes());
            packet[12..112].fill(i as u8);
            let plain = packet[..112].to_vec();
            // Lose one packet in 97 (the receiver never sees it).
            let n = ours_tx.protect_rtp(&mut packet, 112).unwrap();
            if i % 97 != 0 {
                let d = theirs_rx.decrypt_rtp(&packet[..n]).unwrap();
                assert_eq!(&d[..], &plain[..], "{profile:?} seq {seq}");
            }
            let mut enc = theirs_tx.encrypt_rtp(&plain).unwrap().to_vec();
            if i % 89 != 0 {
                let m = ours_rx.unprotect_rtp(&mut enc).unwrap();
                assert_eq!(&enc[..m], &plain[..], "{profile:?} seq {seq}");
            }
        }
        assert_eq!(ours_tx.local_roc(Ssrc(0xabcd_ef01)), Some(2));
        assert_eq!(ours_rx.remote_roc(Ssrc(0xabcd_ef01)), Some(2));
    }
}
