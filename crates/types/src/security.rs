//! DTLS roles, SRTP protection profiles, the DTLS-SRTP key split and certificate
//! fingerprints: what the DTLS layer settles and the SRTP layer and SDP speak of.

use core::fmt;

use zeroize::Zeroize;

use crate::ValueError;

/// Which side of the DTLS handshake an endpoint plays. It sets who sends the ClientHello,
/// which half of the DTLS-SRTP keying material protects what we send (RFC 5764 §4.2), and
/// whether our data channels take even or odd SCTP stream ids (RFC 8832 §6). SDP's
/// `a=setup:active` is the client, `passive` the server (RFC 8842 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtlsRole {
    /// Sends the ClientHello; protects with the client write key; even stream ids.
    Client,
    /// Answers it; protects with the server write key; odd stream ids.
    Server,
}

impl DtlsRole {
    /// The other role.
    #[must_use]
    pub const fn opposite(self) -> DtlsRole {
        match self {
            DtlsRole::Client => DtlsRole::Server,
            DtlsRole::Server => DtlsRole::Client,
        }
    }
}

/// An SRTP protection profile: cipher, authentication and key sizes, as negotiated by the
/// DTLS `use_srtp` extension (RFC 5764 §4.1.2, RFC 7714 §14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpProfile {
    /// `SRTP_AES128_CM_HMAC_SHA1_80`: AES-128 counter mode, HMAC-SHA1 tag of 80 bits
    /// (RFC 5764 §4.1.2, id 0x0001).
    Aes128CmHmacSha1_80,
    /// `SRTP_AES128_CM_HMAC_SHA1_32`: as above with a 32-bit SRTP tag; SRTCP keeps its 80-bit
    /// tag (RFC 5764 §4.1.2, id 0x0002).
    Aes128CmHmacSha1_32,
    /// `SRTP_AEAD_AES_128_GCM`: AES-128-GCM with a 16-byte tag (RFC 7714 §14.2, id 0x0007).
    AeadAes128Gcm,
    /// `SRTP_AEAD_AES_256_GCM`: AES-256-GCM with a 16-byte tag (RFC 7714 §14.2, id 0x0008).
    AeadAes256Gcm,
}

impl SrtpProfile {
    /// Every profile, in ferrtc's default order of preference (GCM first: authenticated
    /// encryption in one pass, and the fastest with AES instructions).
    pub const ALL: [SrtpProfile; 4] = [
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm,
        SrtpProfile::Aes128CmHmacSha1_80,
        SrtpProfile::Aes128CmHmacSha1_32,
    ];

    /// The DTLS-SRTP protection profile identifier.
    #[must_use]
    pub const fn id(self) -> u16 {
        match self {
            // RFC 5764 §4.1.2
            SrtpProfile::Aes128CmHmacSha1_80 => 0x0001,
            SrtpProfile::Aes128CmHmacSha1_32 => 0x0002,
            // RFC 7714 §14.2
            SrtpProfile::AeadAes128Gcm => 0x0007,
            SrtpProfile::AeadAes256Gcm => 0x0008,
        }
    }

    /// The profile with this DTLS-SRTP identifier, if it is one of the four.
    #[must_use]
    pub const fn from_id(id: u16) -> Option<SrtpProfile> {
        match id {
            0x0001 => Some(SrtpProfile::Aes128CmHmacSha1_80),
            0x0002 => Some(SrtpProfile::Aes128CmHmacSha1_32),
            0x0007 => Some(SrtpProfile::AeadAes128Gcm),
            0x0008 => Some(SrtpProfile::AeadAes256Gcm),
            _ => None,
        }
    }

    /// The name used in the DTLS and SDES registries, e.g. `SRTP_AEAD_AES_128_GCM`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            SrtpProfile::Aes128CmHmacSha1_80 => "SRTP_AES128_CM_HMAC_SHA1_80",
            SrtpProfile::Aes128CmHmacSha1_32 => "SRTP_AES128_CM_HMAC_SHA1_32",
            SrtpProfile::AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
            SrtpProfile::AeadAes256Gcm => "SRTP_AEAD_AES_256_GCM",
        }
    }

    /// Master key length in bytes (also the session encryption key length).
    #[must_use]
    pub const fn master_key_len(self) -> usize {
        match self {
            SrtpProfile::Aes128CmHmacSha1_80
            | SrtpProfile::Aes128CmHmacSha1_32
            | SrtpProfile::AeadAes128Gcm => 16,
            SrtpProfile::AeadAes256Gcm => 32,
        }
    }

    /// Master salt length in bytes: 112 bits for AES-CM (RFC 3711 §8.2), 96 bits for GCM
    /// (RFC 7714 §12).
    #[must_use]
    pub const fn master_salt_len(self) -> usize {
        match self {
            SrtpProfile::Aes128CmHmacSha1_80 | SrtpProfile::Aes128CmHmacSha1_32 => 14,
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => 12,
        }
    }

    /// Bytes of DTLS exporter output the key split needs (RFC 5764 §4.2): two keys and two
    /// salts.
    #[must_use]
    pub const fn keying_material_len(self) -> usize {
        2 * (self.master_key_len() + self.master_salt_len())
    }

    /// Bytes SRTP appends to an RTP packet (the authentication tag; no MKI).
    #[must_use]
    pub const fn rtp_overhead(self) -> usize {
        match self {
            SrtpProfile::Aes128CmHmacSha1_80 => 10,
            SrtpProfile::Aes128CmHmacSha1_32 => 4,
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => 16,
        }
    }

    /// Bytes SRTCP appends to an RTCP packet: the 4-byte E-flag and index word plus the tag
    /// (80-bit HMAC for both AES-CM profiles, RFC 5764 §4.1.2; 16 bytes for GCM).
    #[must_use]
    pub const fn rtcp_overhead(self) -> usize {
        match self {
            SrtpProfile::Aes128CmHmacSha1_80 | SrtpProfile::Aes128CmHmacSha1_32 => 4 + 10,
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => 4 + 16,
        }
    }
}

impl fmt::Display for SrtpProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The longest master key of any profile (AES-256).
const MAX_KEY: usize = 32;
/// The longest master salt of any profile (AES-CM's 112 bits).
const MAX_SALT: usize = 14;

/// SRTP master keys and salts for both directions, split from the DTLS exporter output
/// (`EXTRACTOR-dtls_srtp`, RFC 5764 §4.2). This is the one place the split is done: the DTLS
/// layer hands it over, the SRTP layer keys its contexts from it. Zeroed on drop.
///
/// ```
/// use ferrtc_types::{DtlsRole, SrtpKeys, SrtpProfile};
///
/// let profile = SrtpProfile::Aes128CmHmacSha1_80;
/// let material: Vec<u8> = (0..60).collect();
/// let client = SrtpKeys::split(profile, DtlsRole::Client, &material).unwrap();
/// let server = SrtpKeys::split(profile, DtlsRole::Server, &material).unwrap();
/// assert_eq!(client.local_key(), &material[..16]);
/// assert_eq!(client.local_salt(), &material[32..46]);
/// assert_eq!(client.local_key(), server.remote_key());
/// assert_eq!(client.remote_salt(), server.local_salt());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    profile: SrtpProfile,
    local_key: [u8; MAX_KEY],
    local_salt: [u8; MAX_SALT],
    remote_key: [u8; MAX_KEY],
    remote_salt: [u8; MAX_SALT],
}

impl SrtpKeys {
    /// Splits exporter output laid out as client key, server key, client salt, server salt
    /// (RFC 5764 §4.2); `role` is ours, so the client's half is `local` for a client.
    /// `None` unless `material` is exactly [`SrtpProfile::keying_material_len`] bytes.
    #[must_use]
    pub fn split(profile: SrtpProfile, role: DtlsRole, material: &[u8]) -> Option<SrtpKeys> {
        if material.len() != profile.keying_material_len() {
            return None;
        }
        let (k, s) = (profile.master_key_len(), profile.master_salt_len());
        let (keys, salts) = material.split_at(2 * k);
        let (client_key, server_key) = keys.split_at(k);
        let (client_salt, server_salt) = salts.split_at(s);
        let (local_key, remote_key, local_salt, remote_salt) = match role {
            DtlsRole::Client => (client_key, server_key, client_salt, server_salt),
            DtlsRole::Server => (server_key, client_key, server_salt, client_salt),
        };
        Some(SrtpKeys::new(
            profile,
            local_key,
            local_salt,
            remote_key,
            remote_salt,
        ))
    }

    /// Keys given directly, e.g. from a test vector. `None` unless each length is the
    /// profile's.
    #[must_use]
    pub fn from_parts(
        profile: SrtpProfile,
        local_key: &[u8],
        local_salt: &[u8],
        remote_key: &[u8],
        remote_salt: &[u8],
    ) -> Option<SrtpKeys> {
        let (k, s) = (profile.master_key_len(), profile.master_salt_len());
        if local_key.len() != k
            || remote_key.len() != k
            || local_salt.len() != s
            || remote_salt.len() != s
        {
            return None;
        }
        Some(SrtpKeys::new(
            profile,
            local_key,
            local_salt,
            remote_key,
            remote_salt,
        ))
    }

    /// Lengths are checked by both callers.
    fn new(
        profile: SrtpProfile,
        local_key: &[u8],
        local_salt: &[u8],
        remote_key: &[u8],
        remote_salt: &[u8],
    ) -> SrtpKeys {
        let mut keys = SrtpKeys {
            profile,
            local_key: [0; MAX_KEY],
            local_salt: [0; MAX_SALT],
            remote_key: [0; MAX_KEY],
            remote_salt: [0; MAX_SALT],
        };
        keys.local_key[..local_key.len()].copy_from_slice(local_key);
        keys.local_salt[..local_salt.len()].copy_from_slice(local_salt);
        keys.remote_key[..remote_key.len()].copy_from_slice(remote_key);
        keys.remote_salt[..remote_salt.len()].copy_from_slice(remote_salt);
        keys
    }

    /// The negotiated profile.
    #[must_use]
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// Master key for what we send.
    #[must_use]
    pub fn local_key(&self) -> &[u8] {
        &self.local_key[..self.profile.master_key_len()]
    }

    /// Master salt for what we send.
    #[must_use]
    pub fn local_salt(&self) -> &[u8] {
        &self.local_salt[..self.profile.master_salt_len()]
    }

    /// Master key for what the peer sends.
    #[must_use]
    pub fn remote_key(&self) -> &[u8] {
        &self.remote_key[..self.profile.master_key_len()]
    }

    /// Master salt for what the peer sends.
    #[must_use]
    pub fn remote_salt(&self) -> &[u8] {
        &self.remote_salt[..self.profile.master_salt_len()]
    }
}

impl Drop for SrtpKeys {
    fn drop(&mut self) {
        self.local_key.zeroize();
        self.local_salt.zeroize();
        self.remote_key.zeroize();
        self.remote_salt.zeroize();
    }
}

impl fmt::Debug for SrtpKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKeys")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// A hash function of an SDP `a=fingerprint` (RFC 8122 §5, `hash-func`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// `sha-1` (still listed by RFC 8122 §5; accepted for verification).
    Sha1,
    /// `sha-256`, what WebRTC peers send.
    Sha256,
    /// `sha-384`.
    Sha384,
    /// `sha-512`.
    Sha512,
}

impl HashAlgorithm {
    /// Every algorithm.
    pub const ALL: [HashAlgorithm; 4] = [
        HashAlgorithm::Sha1,
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
    ];

    /// The SDP token: `sha-1`, `sha-256`, ...
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha1 => "sha-1",
            HashAlgorithm::Sha256 => "sha-256",
            HashAlgorithm::Sha384 => "sha-384",
            HashAlgorithm::Sha512 => "sha-512",
        }
    }

    /// The algorithm an SDP token names, matched without regard to case (RFC 8122 §5 says
    /// the names are case-insensitive).
    #[must_use]
    pub fn from_name(name: &str) -> Option<HashAlgorithm> {
        HashAlgorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// Digest length in bytes.
    #[must_use]
    pub const fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha1 => 20,
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A certificate fingerprint (RFC 8122 §5): a hash algorithm and the digest of the DER
/// certificate, of exactly that algorithm's length. Computing one is the DTLS layer's work;
/// this type only holds, parses and writes it. Comparing two is a plain comparison:
/// fingerprints are public.
///
/// ```
/// use ferrtc_types::{Fingerprint, HashAlgorithm};
///
/// let text = "sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:\
///             AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
/// let fp: Fingerprint = text.parse().unwrap();
/// assert_eq!(fp.algorithm(), HashAlgorithm::Sha256);
/// assert_eq!(fp.to_string(), text);
/// assert!(Fingerprint::new(HashAlgorithm::Sha256, &[0; 20]).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    algorithm: HashAlgorithm,
    digest: [u8; 64],
}

impl Fingerprint {
    /// A fingerprint from a digest.
    ///
    /// # Errors
    /// [`ValueError::FingerprintLength`] if `digest` is not `algorithm`'s output length.
    pub fn new(algorithm: HashAlgorithm, digest: &[u8]) -> Result<Fingerprint, ValueError> {
        let expected = algorithm.output_len();
        if digest.len() != expected {
            return Err(ValueError::FingerprintLength {
                algorithm,
                expected,
                actual: digest.len(),
            });
        }
        let mut fp = Fingerprint {
            algorithm,
            digest: [0; 64],
        };
        fp.digest[..expected].copy_from_slice(digest);
        Ok(fp)
    }

    /// Parses the two parts of the SDP form: the hash name and colon-separated hex pairs in
    /// either case.
    ///
    /// # Errors
    /// [`ValueError::UnknownHashAlgorithm`], [`ValueError::MalformedFingerprint`] or
    /// [`ValueError::FingerprintLength`].
    pub fn parse_parts(algorithm: &str, hex: &str) -> Result<Fingerprint, ValueError> {
        let algorithm =
            HashAlgorithm::from_name(algorithm).ok_or(ValueError::UnknownHashAlgorithm)?;
        let mut digest = [0u8; 64];
        let mut len = 0;
        for pair in hex.split(':') {
            let &[hi, lo] = pair.as_bytes() else {
                return Err(ValueError::MalformedFingerprint);
            };
            let (Some(hi), Some(lo)) = (hex_value(hi), hex_value(lo)) else {
                return Err(ValueError::MalformedFingerprint);
            };
            let Some(slot) = digest.get_mut(len) else {
                return Err(ValueError::FingerprintLength {
                    algorithm,
                    expected: algorithm.output_len(),
                    actual: hex.split(':').count(),
                });
            };
            *slot = hi << 4 | lo;
            len += 1;
        }
        Fingerprint::new(algorithm, &digest[..len])
    }

    /// The hash function.
    #[must_use]
    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The digest bytes.
    #[must_use]
    pub fn digest(&self) -> &[u8] {
        &self.digest[..self.algorithm.output_len()]
    }

    /// The digest as SDP writes it: upper-case hex pairs joined by colons.
    #[must_use]
    pub fn digest_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut s = String::with_capacity(self.digest().len() * 3);
        for (i, b) in self.digest().iter().enumerate() {
            if i > 0 {
                s.push(':');
            }
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        s
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl core::str::FromStr for Fingerprint {
    type Err = ValueError;

    /// The SDP attribute value: `sha-256 AB:CD:...`.
    fn from_str(s: &str) -> Result<Fingerprint, ValueError> {
        let (algorithm, hex) = s.split_once(' ').ok_or(ValueError::MalformedFingerprint)?;
        Fingerprint::parse_parts(algorithm, hex)
    }
}

impl fmt::Display for Fingerprint {
    /// The SDP attribute value: `sha-256 AB:CD:...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.algorithm, self.digest_hex())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_ids_round_trip() {
        for p in SrtpProfile::ALL {
            assert_eq!(SrtpProfile::from_id(p.id()), Some(p));
        }
        assert_eq!(SrtpProfile::from_id(0x0003), None);
        assert_eq!(SrtpProfile::Aes128CmHmacSha1_80.keying_material_len(), 60);
        assert_eq!(SrtpProfile::AeadAes128Gcm.keying_material_len(), 56);
        assert_eq!(SrtpProfile::AeadAes256Gcm.keying_material_len(), 88);
    }

    #[test]
    fn split_mirrors_between_roles() {
        for p in SrtpProfile::ALL {
            let material: Vec<u8> = (0..p.keying_material_len() as u8).collect();
            let c = SrtpKeys::split(p, DtlsRole::Client, &material).unwrap();
            let s = SrtpKeys::split(p, DtlsRole::Server, &material).unwrap();
            let k = p.master_key_len();
            assert_eq!(c.local_key(), &material[..k]);
            assert_eq!(c.remote_key(), &material[k..2 * k]);
            assert_eq!(
                c.local_salt(),
                &material[2 * k..2 * k + p.master_salt_len()]
            );
            assert_eq!(c.local_key(), s.remote_key());
            assert_eq!(c.local_salt(), s.remote_salt());
            assert_eq!(c.remote_salt(), s.local_salt());
            assert!(SrtpKeys::split(p, DtlsRole::Client, &material[1..]).is_none());
        }
    }

    #[test]
    fn fingerprint_parse_and_write() {
        let hex = (0..32)
            .map(|i| format!("{i:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        let fp = Fingerprint::parse_parts("SHA-256", &hex).unwrap();
        assert_eq!(fp.digest(), (0..32).collect::<Vec<u8>>().as_slice());
        assert_eq!(fp.to_string(), format!("sha-256 {}", hex.to_uppercase()));
        assert_eq!(fp.to_string().parse::<Fingerprint>(), Ok(fp));
        assert_eq!(
            Fingerprint::parse_parts("md5", "AB"),
            Err(ValueError::UnknownHashAlgorithm)
        );
        assert_eq!(
            Fingerprint::parse_parts("sha-1", "AB:C"),
            Err(ValueError::MalformedFingerprint)
        );
        assert!(matches!(
            Fingerprint::parse_parts("sha-1", &hex),
            Err(ValueError::FingerprintLength {
                expected: 20,
                actual: 32,
                ..
            })
        ));
        let long = vec!["00"; 70].join(":");
        assert!(matches!(
            Fingerprint::parse_parts("sha-512", &long),
            Err(ValueError::FingerprintLength { expected: 64, .. })
        ));
    }
}
