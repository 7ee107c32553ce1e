//! Session key derivation and the per-packet transforms: AES-CM + HMAC-SHA1 (RFC 3711) and
//! AES-GCM (RFC 7714). Key schedules are built once here; nothing in this module allocates.
//!
//! What is wiped on drop: the AES-CM key schedule (`aes` built with its `zeroize` feature), the
//! HMAC-SHA1 pad states (`hmac`/`sha1` with `zeroize`), every session salt, and every derived
//! session key while it sits in a temporary buffer. What cannot be wiped: ring's AES-GCM key
//! schedule inside [`ring::aead::LessSafeKey`] is opaque and ring does not zeroize it on drop.
//! The master key and salt are borrowed from the caller and never stored.

use aes::{Aes128Enc, Aes256Enc};
use ctr::cipher::{
    BlockCipherEncrypt, InnerIvInit, KeyInit, StreamCipher, StreamCipherCoreWrapper, consts::U16,
};
use hmac::{Hmac, Mac};
use ring::aead;
use sha1::Sha1;
use zeroize::{Zeroize, Zeroizing};

use ferrtc_types::SrtpProfile;

use crate::profile::ProfileExt;

/// Key derivation labels (RFC 3711 §4.3.1 and §4.3.2).
pub(crate) mod label {
    /// SRTP encryption key.
    pub const RTP_ENCRYPTION: u8 = 0x00;
    /// SRTP authentication key.
    pub const RTP_AUTH: u8 = 0x01;
    /// SRTP salting key.
    pub const RTP_SALT: u8 = 0x02;
    /// SRTCP encryption key.
    pub const RTCP_ENCRYPTION: u8 = 0x03;
    /// SRTCP authentication key.
    pub const RTCP_AUTH: u8 = 0x04;
    /// SRTCP salting key.
    pub const RTCP_SALT: u8 = 0x05;
}

/// HMAC-SHA1 session key length: 160 bits (RFC 3711 §8.2).
const AUTH_KEY_LEN: usize = 20;
/// Session salt length for AES-CM: 112 bits (RFC 3711 §8.2).
const CM_SALT_LEN: usize = 14;
/// Session salt length for AES-GCM: 96 bits (RFC 7714 §12).
const GCM_SALT_LEN: usize = 12;
/// AES-GCM tag length used by both AEAD profiles (RFC 7714 §14.2).
pub(crate) const GCM_TAG_LEN: usize = 16;

/// XORs the AES counter-mode keystream starting at counter block `iv` into `data`.
#[inline]
fn aes_ctr<C>(cipher: &C, iv: &[u8; 16], data: &mut [u8])
where
    C: BlockCipherEncrypt<BlockSize = U16>,
{
    let core = ctr::CtrCore::<&C, ctr::flavors::Ctr128BE>::inner_iv_init(cipher, iv.into());
    StreamCipherCoreWrapper::from_core(core).apply_keystream(data);
}

/// The AES-CM PRF of RFC 3711 §4.3.3 (AES_256_CM_PRF of RFC 6188 for a 32-byte key) with a key
/// derivation rate of zero: fills `out` with the session key for `label`.
///
/// `x = (label || r) XOR master_salt`, `r = 0`; the input block is `x * 2^16`. A 96-bit GCM
/// master salt is taken as the high 96 bits of the 112-bit field, as libsrtp and webrtc-srtp do.
pub(crate) fn derive(master_key: &[u8], master_salt: &[u8], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..master_salt.len()].copy_from_slice(master_salt);
    // The 56-bit key_id (8-bit label, 48-bit r = 0) is right-aligned in the 112-bit x.
    iv[7] ^= label;
    out.fill(0);
    if let Ok(aes) = Aes256Enc::new_from_slice(master_key) {
        aes_ctr(&aes, &iv, out);
    } else {
        // Profiles only have 16- and 32-byte master keys; the constructor checked the length.
        let aes = Aes128Enc::new_from_slice(master_key).expect("master key length checked");
        aes_ctr(&aes, &iv, out);
    }
    iv.zeroize();
}

/// AES-128 counter mode with HMAC-SHA1 (RFC 3711 §4.1.1, §4.2.1), one direction's session keys.
pub(crate) struct AesCmHmac {
    aes: Aes128Enc,
    salt: Zeroizing<[u8; CM_SALT_LEN]>,
    mac: Hmac<Sha1>,
}

impl AesCmHmac {
    fn derive(master_key: &[u8], master_salt: &[u8], labels: [u8; 3]) -> Self {
        let mut key = Zeroizing::new([0u8; 16]);
        let mut auth = Zeroizing::new([0u8; AUTH_KEY_LEN]);
        let mut salt = Zeroizing::new([0u8; CM_SALT_LEN]);
        derive(master_key, master_salt, labels[0], &mut key[..]);
        derive(master_key, master_salt, labels[1], &mut auth[..]);
        derive(master_key, master_salt, labels[2], &mut salt[..]);
        Self::from_session_keys(&key, &auth[..], &salt)
    }

    pub(crate) fn from_session_keys(key: &[u8; 16], auth: &[u8], salt: &[u8; CM_SALT_LEN]) -> Self {
        AesCmHmac {
            aes: Aes128Enc::new(key.into()),
            salt: Zeroizing::new(*salt),
            mac: <Hmac<Sha1> as KeyInit>::new_from_slice(auth).expect("HMAC takes any key length"),
        }
    }

    /// Counter block `(k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16)` (RFC 3711 §4.1.1), where `i`
    /// is the 48-bit SRTP index or the 31-bit SRTCP index.
    #[inline]
    fn iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..CM_SALT_LEN].copy_from_slice(&self.salt[..]);
        for (d, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *d ^= s;
        }
        for (d, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *d ^= s;
        }
        iv
    }

    /// Encrypts or decrypts `data` in place.
    #[inline]
    pub(crate) fn apply(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        let iv = self.iv(ssrc, index);
        aes_ctr(&self.aes, &iv, data);
    }

    /// Writes the tag over `authenticated || suffix` into `out` (truncated to `out.len()`).
    #[inline]
    pub(crate) fn sign(&self, authenticated: &[u8], suffix: &[u8], out: &mut [u8]) {
        let mut mac = self.mac.clone();
        mac.update(authenticated);
        mac.update(suffix);
        let full = mac.finalize().into_bytes();
        // A byte loop: `out` is 4 or 10 bytes, not worth a memcpy call.
        for (o, f) in out.iter_mut().zip(full.iter()) {
            *o = *f;
        }
    }

    /// Checks, in constant time, the truncated tag over `authenticated || suffix`.
    #[inline]
    pub(crate) fn verify(&self, authenticated: &[u8], suffix: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.mac.clone();
        mac.update(authenticated);
        mac.update(suffix);
        mac.verify_truncated_left(tag).is_ok()
    }
}

/// AES-GCM (RFC 7714), one direction's session key and salt.
pub(crate) struct Gcm {
    key: aead::LessSafeKey,
    salt: Zeroizing<[u8; GCM_SALT_LEN]>,
}

impl Gcm {
    fn derive(master_key: &[u8], master_salt: &[u8], labels: [u8; 2]) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        let key = &mut key[..master_key.len()];
        let mut salt = Zeroizing::new([0u8; GCM_SALT_LEN]);
        derive(master_key, master_salt, labels[0], key);
        derive(master_key, master_salt, labels[1], &mut salt[..]);
        Self::from_session_keys(key, &salt)
    }

    pub(crate) fn from_session_keys(key: &[u8], salt: &[u8; GCM_SALT_LEN]) -> Self {
        let alg = if key.len() == 32 {
            &aead::AES_256_GCM
        } else {
            &aead::AES_128_GCM
        };
        // The key length comes from the profile (16 or 32 bytes), which is what ring accepts.
        let key = aead::UnboundKey::new(alg, key).expect("AES-GCM key length from the profile");
        Gcm {
            key: aead::LessSafeKey::new(key),
            salt: Zeroizing::new(*salt),
        }
    }

    /// `IV = (0x0000 || SSRC || middle) XOR salt` where `middle` is `ROC || SEQ` for SRTP
    /// (RFC 7714 §8.1) and `0x0000 || 0 || SRTCP index` for SRTCP (§9.1); both are the low 48
    /// bits of `index`.
    #[inline]
    fn nonce(&self, ssrc: u32, index: u64) -> aead::Nonce {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[6..12].copy_from_slice(&index.to_be_bytes()[2..]);
        for (d, s) in iv.iter_mut().zip(self.salt.iter()) {
            *d ^= s;
        }
        aead::Nonce::assume_unique_for_key(iv)
    }

    /// Encrypts `data` in place and returns the tag.
    #[inline]
    pub(crate) fn seal(
        &self,
        ssrc: u32,
        index: u64,
        aad: &[u8],
        data: &mut [u8],
    ) -> [u8; GCM_TAG_LEN] {
        let tag = self
            .key
            .seal_in_place_separate_tag(self.nonce(ssrc, index), aead::Aad::from(aad), data)
            // ring fails only for inputs longer than GCM's 2^36-byte limit; `data` is a packet.
            .expect("packet shorter than the AES-GCM input limit");
        let mut out = [0u8; GCM_TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Decrypts `data_and_tag` in place; returns the plaintext length, or `None` if the tag is
    /// wrong.
    #[inline]
    pub(crate) fn open(
        &self,
        ssrc: u32,
        index: u64,
        aad: &[u8],
        data_and_tag: &mut [u8],
    ) -> Option<usize> {
        self.key
            .open_in_place(self.nonce(ssrc, index), aead::Aad::from(aad), data_and_tag)
            .ok()
            .map(|plain| plain.len())
    }
}

/// One direction's transform (SRTP or SRTCP).
// Both variants are key schedules of similar size and a context holds exactly two of them, built
// once; boxing would only add a pointer chase per packet.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Transform {
    AesCm(AesCmHmac),
    Gcm(Gcm),
}

/// The SRTP and SRTCP transforms derived from one master key and salt.
pub(crate) struct SessionKeys {
    pub(crate) rtp: Transform,
    pub(crate) rtcp: Transform,
}

impl SessionKeys {
    /// Derives every session key; lengths were checked against `profile` by the caller.
    pub(crate) fn derive(profile: SrtpProfile, master_key: &[u8], master_salt: &[u8]) -> Self {
        use label::*;
        if profile.is_aead() {
            SessionKeys {
                rtp: Transform::Gcm(Gcm::derive(
                    master_key,
                    master_salt,
                    [RTP_ENCRYPTION, RTP_SALT],
                )),
                rtcp: Transform::Gcm(Gcm::derive(
                    master_key,
                    master_salt,
                    [RTCP_ENCRYPTION, RTCP_SALT],
                )),
            }
        } else {
            SessionKeys {
                rtp: Transform::AesCm(AesCmHmac::derive(
                    master_key,
                    master_salt,
                    [RTP_ENCRYPTION, RTP_AUTH, RTP_SALT],
                )),
                rtcp: Transform::AesCm(AesCmHmac::derive(
                    master_key,
                    master_salt,
                    [RTCP_ENCRYPTION, RTCP_AUTH, RTCP_SALT],
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    /// RFC 3711 Appendix B.2: the AES-CM keystream, 65282 blocks.
    #[test]
    fn rfc3711_b2_aes_cm_keystream() {
        let key = hex!("2B7E151628AED2A6ABF7158809CF4F3C");
        let salt = hex!("F0F1F2F3F4F5F6F7F8F9FAFBFCFD");
        let cm = AesCmHmac::from_session_keys(&key, &[0u8; 20], &salt);
        let mut stream = vec![0u8; 1_044_512];
        cm.apply(0, 0, &mut stream);
        assert_eq!(stream.len() / 16, 65282);
        assert_eq!(&stream[..16], hex!("E03EAD0935C95E80E166B16DD92B4EB4"));
        assert_eq!(&stream[16..32], hex!("D23513162B02D0F72A43A2FE4A5F97AB"));
        assert_eq!(&stream[32..48], hex!("41E95B3BB0A2E8DD477901E4FCA894C0"));
        let n = stream.len();
        assert_eq!(
            &stream[n - 48..n - 32],
            hex!("EC8CDF7398607CB0F2D21675EA9EA1E4")
        );
        assert_eq!(
            &stream[n - 32..n - 16],
            hex!("362B7C3C6773516318A077D7FC5073AE")
        );
        assert_eq!(&stream[n - 16..], hex!("6A2CC3787889374FBEB4C81B17BA6C44"));
    }

    /// RFC 3711 Appendix B.3: key derivation (cipher key, cipher salt, 94-byte auth key).
    #[test]
    fn rfc3711_b3_key_derivation() {
        let master_key = hex!("E1F97A0D3E018BE0D64FA32C06DE4139");
        let master_salt = hex!("0EC675AD498AFEEBB6960B3AABE6");
        let mut key = [0u8; 16];
        derive(&master_key, &master_salt, label::RTP_ENCRYPTION, &mut key);
        assert_eq!(key, hex!("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut salt = [0u8; 14];
        derive(&master_key, &master_salt, label::RTP_SALT, &mut salt);
        assert_eq!(salt, hex!("30CBBC08863D8C85D49DB34A9AE1"));
        let mut auth = [0u8; 94];
        derive(&master_key, &master_salt, label::RTP_AUTH, &mut auth);
        assert_eq!(
            auth,
            hex!(
                "CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE"
                "E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25"
                "6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2"
            )
        );
    }

    /// What the module docs promise is wiped on drop is wiped on drop: a compile-time check
    /// that every type holding session key material implements `ZeroizeOnDrop`, so that it
    /// stops compiling if the `zeroize` feature of `aes` or `sha1` is lost. `Hmac<Sha1>` itself
    /// does not carry the marker (hmac 0.13); its keyed state is the inner and outer pad
    /// digests, two `Sha1Core` values, and those wipe themselves.
    #[test]
    fn key_material_types_wipe_themselves_on_drop() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<Aes128Enc>();
        wiped_on_drop::<Aes256Enc>();
        wiped_on_drop::<sha1::block_api::Sha1Core>();
        wiped_on_drop::<Zeroizing<[u8; CM_SALT_LEN]>>();
        wiped_on_drop::<Zeroizing<[u8; GCM_SALT_LEN]>>();
    }

    #[test]
    fn aes_cm_iv_layout() {
        let cm = AesCmHmac::from_session_keys(&[0; 16], &[0; 20], &[0; 14]);
        let iv = cm.iv(0x1122_3344, 0x5566_7788_99aa);
        assert_eq!(iv, hex!("00000000 11223344 5566778899aa 0000"));
    }
}
