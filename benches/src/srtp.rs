//! The SRTP group: ferrtc-srtp beside the raw crypto it is built on (ring's AES-GCM; RustCrypto
//! AES-CTR + HMAC-SHA1) and beside `webrtc-srtp` 0.17, on 1200-byte (video) and 172-byte
//! (20 ms audio) RTP packets.
//!
//! Every case works on its own buffer, in place, one new packet (sequence number) per
//! iteration. "protect+unprotect" runs both halves on the same buffer, so the packet really
//! round-trips.

use std::hint::black_box;

use aes::Aes128Enc;
use ctr::cipher::{InnerIvInit, KeyInit, StreamCipher, StreamCipherCoreWrapper};
use ferrtc_srtp::{Config as SrtpConfig, SrtpContext, SrtpProfile};
use hmac::{Hmac, Mac};
use ring::aead;
use sha1::Sha1;
use webrtc_srtp::context::Context as WebrtcContext;
use webrtc_srtp::protection_profile::ProtectionProfile;

use crate::{Case, Config, Row, Unit, compare};

/// RTP packet sizes measured (header included): a full video packet and a 20 ms audio packet.
pub const SIZES: [usize; 2] = [1200, 172];

const SSRC: u32 = 0x1234_5678;
const TAG_ROOM: usize = 16;

/// An RTP packet of `size` bytes (12-byte header, payload of a repeating pattern) in a buffer
/// with room for the largest SRTP tag.
pub fn rtp_packet(size: usize) -> Vec<u8> {
    let mut p = vec![0x80, 96, 0, 0, 0, 0, 0x0b, 0xb8];
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend((12..size).map(|i| i as u8));
    p.resize(size + TAG_ROOM, 0);
    p
}

fn master(profile: SrtpProfile) -> (Vec<u8>, Vec<u8>) {
    (
        (0..profile.master_key_len() as u8).collect(),
        (0..profile.master_salt_len() as u8)
            .map(|b| b ^ 0xa5)
            .collect(),
    )
}

/// ferrtc-srtp: a sending and a receiving context and one buffer.
pub struct Ferrtc {
    tx: SrtpContext,
    rx: SrtpContext,
    buf: Vec<u8>,
    len: usize,
    seq: u16,
}

impl Ferrtc {
    /// Contexts for `profile` and a `size`-byte packet.
    pub fn new(profile: SrtpProfile, size: usize) -> Self {
        let (key, salt) = master(profile);
        Ferrtc {
            tx: SrtpContext::new(profile, &key, &salt, SrtpConfig::default()).unwrap(),
            rx: SrtpContext::new(profile, &key, &salt, SrtpConfig::default()).unwrap(),
            buf: rtp_packet(size),
            len: size,
            seq: 0,
        }
    }

    fn next(&mut self) {
        self.seq = self.seq.wrapping_add(1);
        self.buf[2..4].copy_from_slice(&self.seq.to_be_bytes());
    }

    /// Protects the next packet in place.
    pub fn protect(&mut self) {
        self.next();
        let n = self.tx.protect_rtp(&mut self.buf, self.len).unwrap();
        black_box(&self.buf[..n]);
    }

    /// Protects the next packet, then unprotects it, in place.
    pub fn round_trip(&mut self) {
        self.next();
        let n = self.tx.protect_rtp(&mut self.buf, self.len).unwrap();
        let m = self.rx.unprotect_rtp(&mut self.buf[..n]).unwrap();
        black_box(&self.buf[..m]);
    }
}

/// webrtc-srtp 0.17: contexts without replay protection (its default) and the plaintext.
pub struct Webrtc {
    tx: WebrtcContext,
    rx: WebrtcContext,
    plain: Vec<u8>,
    seq: u16,
}

impl Webrtc {
    /// Contexts for `profile` and a `size`-byte packet.
    pub fn new(profile: SrtpProfile, size: usize) -> Self {
        let (key, salt) = master(profile);
        let p = match profile {
            SrtpProfile::Aes128CmHmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            SrtpProfile::Aes128CmHmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
            SrtpProfile::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
            SrtpProfile::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
        };
        let mut plain = rtp_packet(size);
        plain.truncate(size);
        Webrtc {
            tx: WebrtcContext::new(&key, &salt, p, None, None).unwrap(),
            rx: WebrtcContext::new(&key, &salt, p, None, None).unwrap(),
            plain,
            seq: 0,
        }
    }

    fn next(&mut self) {
        self.seq = self.seq.wrapping_add(1);
        self.plain[2..4].copy_from_slice(&self.seq.to_be_bytes());
    }

    /// Protects the next packet (webrtc-srtp returns a new buffer).
    pub fn protect(&mut self) {
        self.next();
        black_box(self.tx.encrypt_rtp(&self.plain).unwrap());
    }

    /// Protects the next packet, then unprotects it.
    pub fn round_trip(&mut self) {
        self.next();
        let enc = self.tx.encrypt_rtp(&self.plain).unwrap();
        black_box(self.rx.decrypt_rtp(&enc).unwrap());
    }
}

/// The AES-GCM ceiling: ring's `seal_in_place_separate_tag` / `open_in_place` on the same
/// buffer layout (header as AAD, payload in place, tag after it), nothing else.
pub struct RingGcm {
    key: aead::LessSafeKey,
    buf: Vec<u8>,
    len: usize,
    counter: u64,
}

impl RingGcm {
    /// A key for `profile` (an AEAD one) and a `size`-byte packet.
    pub fn new(profile: SrtpProfile, size: usize) -> Self {
        let alg = if profile == SrtpProfile::AeadAes256Gcm {
            &aead::AES_256_GCM
        } else {
            &aead::AES_128_GCM
        };
        let key = master(profile).0;
        RingGcm {
            key: aead::LessSafeKey::new(aead::UnboundKey::new(alg, &key).unwrap()),
            buf: rtp_packet(size),
            len: size,
            counter: 0,
        }
    }

    fn nonce(&self) -> aead::Nonce {
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&self.counter.to_be_bytes());
        aead::Nonce::assume_unique_for_key(n)
    }

    /// Seals the payload in place and appends the tag.
    pub fn seal(&mut self) {
        self.counter += 1;
        let nonce = self.nonce();
        let (head, rest) = self.buf.split_at_mut(12);
        let (payload, tag_room) = rest.split_at_mut(self.len - 12);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, aead::Aad::from(&*head), payload)
            .unwrap();
        tag_room[..16].copy_from_slice(tag.as_ref());
        black_box(&self.buf);
    }

    /// Seals, then opens, in place.
    pub fn seal_open(&mut self) {
        self.seal();
        let nonce = self.nonce();
        let (head, rest) = self.buf.split_at_mut(12);
        let plain = self
            .key
            .open_in_place(
                nonce,
                aead::Aad::from(&*head),
                &mut rest[..self.len - 12 + 16],
            )
            .unwrap();
        black_box(plain);
    }
}

/// The AES-CM + HMAC-SHA1 ceiling: RustCrypto AES-128-CTR over the payload and HMAC-SHA1 over
/// the packet and a 4-byte counter, tag truncated to 80 bits; nothing else.
pub struct RawCtrHmac {
    aes: Aes128Enc,
    mac: Hmac<Sha1>,
    ring_mac: ring::hmac::Key,
    buf: Vec<u8>,
    len: usize,
    counter: u64,
}

impl RawCtrHmac {
    /// Keys and a `size`-byte packet.
    pub fn new(size: usize) -> Self {
        RawCtrHmac {
            aes: Aes128Enc::new(&[7u8; 16].into()),
            mac: <Hmac<Sha1> as KeyInit>::new_from_slice(&[9u8; 20]).unwrap(),
            ring_mac: ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &[9u8; 20]),
            buf: rtp_packet(size),
            len: size,
            counter: 0,
        }
    }

    fn ctr(&mut self) {
        let mut iv = [0u8; 16];
        iv[6..14].copy_from_slice(&self.counter.to_be_bytes());
        let core = ctr::CtrCore::<&Aes128Enc, ctr::flavors::Ctr128BE>::inner_iv_init(
            &self.aes,
            &iv.into(),
        );
        StreamCipherCoreWrapper::from_core(core).apply_keystream(&mut self.buf[12..self.len]);
    }

    fn tag(&self) -> [u8; 20] {
        let mut mac = self.mac.clone();
        mac.update(&self.buf[..self.len]);
        mac.update(&((self.counter >> 16) as u32).to_be_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Encrypts the payload and appends the 80-bit tag.
    pub fn protect(&mut self) {
        self.counter += 1;
        self.ctr();
        let tag = self.tag();
        let len = self.len;
        self.buf[len..len + 10].copy_from_slice(&tag[..10]);
        black_box(&self.buf);
    }

    /// Protects, then verifies the tag (constant time) and decrypts.
    pub fn round_trip(&mut self) {
        self.protect();
        let mut mac = self.mac.clone();
        mac.update(&self.buf[..self.len]);
        mac.update(&((self.counter >> 16) as u32).to_be_bytes());
        mac.verify_truncated_left(&self.buf[self.len..self.len + 10])
            .unwrap();
        self.ctr();
        black_box(&self.buf);
    }

    /// HMAC-SHA1 of the packet with RustCrypto `hmac` + `sha1` (the one ferrtc uses).
    pub fn hmac_rustcrypto(&mut self) {
        black_box(self.tag());
    }

    /// HMAC-SHA1 of the packet with ring.
    pub fn hmac_ring(&mut self) {
        let mut ctx = ring::hmac::Context::with_key(&self.ring_mac);
        ctx.update(&self.buf[..self.len]);
        ctx.update(&((self.counter >> 16) as u32).to_be_bytes());
        black_box(ctx.sign());
    }
}

fn name(profile: SrtpProfile) -> &'static str {
    match profile {
        SrtpProfile::Aes128CmHmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
        SrtpProfile::Aes128CmHmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        SrtpProfile::AeadAes128Gcm => "AEAD_AES_128_GCM",
        SrtpProfile::AeadAes256Gcm => "AEAD_AES_256_GCM",
    }
}

/// The rows of the SRTP group.
pub fn rows(cfg: &Config) -> Vec<Row> {
    let mut rows = Vec::new();
    for size in SIZES {
        let unit = Unit::Bytes(size as u64);
        for profile in SrtpProfile::ALL {
            let p = name(profile);
            // protect
            let mut ours = Ferrtc::new(profile, size);
            let mut theirs = Webrtc::new(profile, size);
            let mut refs = Vec::new();
            if profile.rtp_overhead() == 16 {
                let mut raw = RingGcm::new(profile, size);
                refs.push(Case::new(
                    if profile == SrtpProfile::AeadAes128Gcm {
                        "ring AES-128-GCM seal (raw)"
                    } else {
                        "ring AES-256-GCM seal (raw)"
                    },
                    move || raw.seal(),
                ));
            } else if profile == SrtpProfile::Aes128CmHmacSha1_80 {
                let mut raw = RawCtrHmac::new(size);
                refs.push(Case::new(
                    "aes-ctr + hmac-sha1 (raw, RustCrypto)",
                    move || raw.protect(),
                ));
            }
            refs.push(Case::new("webrtc-srtp 0.17", move || theirs.protect()));
            rows.extend(compare(
                cfg,
                &format!("SRTP {p} protect, {size} B RTP"),
                unit,
                Case::new("ferrtc", move || ours.protect()),
                refs,
            ));

            // protect + unprotect
            let mut ours = Ferrtc::new(profile, size);
            let mut theirs = Webrtc::new(profile, size);
            let mut refs = Vec::new();
            if profile.rtp_overhead() == 16 {
                let mut raw = RingGcm::new(profile, size);
                refs.push(Case::new(
                    if profile == SrtpProfile::AeadAes128Gcm {
                        "ring AES-128-GCM seal+open (raw)"
                    } else {
                        "ring AES-256-GCM seal+open (raw)"
                    },
                    move || raw.seal_open(),
                ));
            } else if profile == SrtpProfile::Aes128CmHmacSha1_80 {
                let mut raw = RawCtrHmac::new(size);
                refs.push(Case::new(
                    "aes-ctr + hmac-sha1 both ways (raw, RustCrypto)",
                    move || raw.round_trip(),
                ));
            }
            refs.push(Case::new("webrtc-srtp 0.17", move || theirs.round_trip()));
            rows.extend(compare(
                cfg,
                &format!("SRTP {p} protect+unprotect, {size} B RTP"),
                unit,
                Case::new("ferrtc", move || ours.round_trip()),
                refs,
            ));
        }
        // Why HMAC-SHA1 comes from RustCrypto: ring's SHA-1 is portable code, RustCrypto's uses
        // SHA-NI where the CPU has it.
        let mut a = RawCtrHmac::new(size);
        let mut b = RawCtrHmac::new(size);
        rows.extend(compare(
            cfg,
            &format!("HMAC-SHA1 of {size} B (choice of crate)"),
            unit,
            Case::new("RustCrypto hmac+sha1 (used)", move || a.hmac_rustcrypto()),
            vec![Case::new("ring HMAC-SHA1", move || b.hmac_ring())],
        ));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fixture does real work that round-trips (so the benches measure what they say).
    #[test]
    fn fixtures_round_trip() {
        for size in SIZES {
            for profile in SrtpProfile::ALL {
                let mut f = Ferrtc::new(profile, size);
                for _ in 0..3 {
                    f.round_trip();
                }
                assert_eq!(
                    &f.buf[..size],
                    &{
                        let mut p = rtp_packet(size);
                        p[2..4].copy_from_slice(&3u16.to_be_bytes());
                        p
                    }[..size]
                );
                let mut w = Webrtc::new(profile, size);
                w.round_trip();
                w.protect();
            }
            let mut g = RingGcm::new(SrtpProfile::AeadAes128Gcm, size);
            g.seal_open();
            assert_eq!(&g.buf[..size], &rtp_packet(size)[..size]);
            let mut r = RawCtrHmac::new(size);
            r.round_trip();
            assert_eq!(&r.buf[..size], &rtp_packet(size)[..size]);
            r.hmac_ring();
            r.hmac_rustcrypto();
        }
    }
}
