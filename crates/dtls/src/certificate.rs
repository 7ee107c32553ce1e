//! Certificates: a self-signed ECDSA P-256 or RSA 2048 certificate made with `rcgen`, its
//! fingerprints (RFC 8122 §5), and the signing key behind it. The [`Fingerprint`] and
//! [`HashAlgorithm`] types are `ferrtc-types'`; computing and checking one is done here,
//! with ring.
//!
//! ECDSA signatures come in two kinds. By default ring signs, with a nonce hedged from the
//! system generator, the key and the message (ring takes no caller generator). With
//! [`Config::deterministic_signatures`](crate::Config::deterministic_signatures) RustCrypto's
//! `p256`/`p384` sign with RFC 6979 deterministic nonces, so a seeded run replays byte for
//! byte; that costs about nine times ring's signing time (no precomputed base-point
//! tables). RSA signs through ring; its PKCS#1 v1.5 signatures (RFC 8017 §8.2) are
//! deterministic either way (ring's generator only blinds), PSS ones never are.

use ferrtc_types::{Fingerprint, HashAlgorithm};
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature;

use crate::error::Error;
use crate::types::{AuthKind, NamedGroup, SignatureScheme};
/// ring's digest for a fingerprint hash function.
fn ring_digest(algorithm: HashAlgorithm) -> &'static digest::Algorithm {
    match algorithm {
        HashAlgorithm::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        HashAlgorithm::Sha256 => &digest::SHA256,
        HashAlgorithm::Sha384 => &digest::SHA384,
        HashAlgorithm::Sha512 => &digest::SHA512,
    }
}

/// The fingerprint of a DER certificate (RFC 8122 §5): the `algorithm` digest of its bytes.
pub fn fingerprint_of(algorithm: HashAlgorithm, cert_der: &[u8]) -> Fingerprint {
    let d = digest::digest(ring_digest(algorithm), cert_der);
    // ring's output length is the algorithm's, which is all `Fingerprint::new` checks.
    Fingerprint::new(algorithm, d.as_ref()).expect("a digest has its algorithm's length")
}

/// True if the DER certificate `cert_der` has the fingerprint `expected`.
pub fn matches_fingerprint(cert_der: &[u8], expected: &Fingerprint) -> bool {
    let actual = digest::digest(ring_digest(expected.algorithm()), cert_der);
    // Fingerprints are public; a plain comparison leaks nothing secret.
    actual.as_ref() == expected.digest()
}

/// The kind of key a generated certificate carries (see [`Certificate::generate_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KeyKind {
    /// ECDSA over P-256, what browsers make for WebRTC (RFC 8827 §6.5). The default.
    #[default]
    EcdsaP256,
    /// RSA with a 2048-bit modulus, for peers that only take the
    /// `TLS_ECDHE_RSA_WITH_*` suites.
    Rsa2048,
}

enum SigningKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Rsa(signature::RsaKeyPair),
}

/// Our certificate and its private key: ECDSA P-256 or P-384, or RSA (2048 to 8192 bits).
pub struct Certificate {
    der: Vec<u8>,
    key: SigningKey,
    /// The ECDSA key again, in ring's form, for fast hedged signatures.
    ring_ecdsa: Option<signature::EcdsaKeyPair>,
}

impl core::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Certificate")
            .field(
                "fingerprint",
                &self.fingerprint(HashAlgorithm::Sha256).to_string(),
            )
            .finish_non_exhaustive()
    }
}

/// The schemes an RSA key signs with, in our preference order: PKCS#1 v1.5 first, the
/// scheme every TLS 1.2 peer takes (RFC 5246 §7.4.1.4.1), and deterministic.
const RSA_SCHEMES: [SignatureScheme; 6] = [
    SignatureScheme::RsaPkcs1Sha256,
    SignatureScheme::RsaPkcs1Sha384,
    SignatureScheme::RsaPkcs1Sha512,
    SignatureScheme::RsaPssRsaeSha256,
    SignatureScheme::RsaPssRsaeSha384,
    SignatureScheme::RsaPssRsaeSha512,
];

/// Reads the first PEM block labelled one of `labels` (RFC 7468 §2) from `text`.
fn pem_block(text: &str, labels: &[&str]) -> Result<(String, Vec<u8>), Error> {
    pem::parse_many(text)
        .map_err(|_| Error::Certificate)?
        .into_iter()
        .find(|p| labels.contains(&p.tag()))
        .map(|p| (p.tag().to_owned(), p.into_contents()))
        .ok_or(Error::Certificate)
}

impl Certificate {
    /// Generates a fresh ECDSA P-256 self-signed certificate (what browsers make for
    /// WebRTC, RFC 8827 §6.5). Its validity is the rcgen default, wide enough that no
    /// clock is needed.
    pub fn generate() -> Result<Self, Error> {
        Self::generate_for(KeyKind::EcdsaP256)
    }

    /// Generates a fresh self-signed certificate with a key of `kind`, with `rcgen`.
    pub fn generate_for(kind: KeyKind) -> Result<Self, Error> {
        let key = match kind {
            KeyKind::EcdsaP256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyKind::Rsa2048 => {
                rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
            }
        }
        .map_err(|_| Error::Certificate)?;
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|_| Error::Certificate)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "WebRTC");
        let cert = params.self_signed(&key).map_err(|_| Error::Certificate)?;
        Certificate::from_der(cert.der().to_vec(), &key.serialize_der())
    }

    /// Loads a DER certificate and its private key: PKCS#8 (ECDSA P-256 or P-384, or
    /// RSA), or the older forms `openssl` also writes, SEC 1 `ECPrivateKey` (RFC 5915) and
    /// PKCS#1 `RSAPrivateKey` (RFC 8017 §A.1.2).
    ///
    /// # Errors
    /// [`Error::Certificate`] when the key does not parse as one of these, or is not the
    /// key the certificate carries.
    pub fn from_der(cert_der: Vec<u8>, private_key: &[u8]) -> Result<Self, Error> {
        use p256::pkcs8::DecodePrivateKey;
        let key = if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(private_key) {
            SigningKey::P256(k)
        } else if let Ok(k) = p384::ecdsa::SigningKey::from_pkcs8_der(private_key) {
            SigningKey::P384(k)
        } else if let Ok(k) = signature::RsaKeyPair::from_pkcs8(private_key) {
            SigningKey::Rsa(k)
        } else if let Ok(k) = p256::SecretKey::from_sec1_der(private_key) {
            SigningKey::P256(k.into())
        } else if let Ok(k) = p384::SecretKey::from_sec1_der(private_key) {
            SigningKey::P384(k.into())
        } else if let Ok(k) = signature::RsaKeyPair::from_der(private_key) {
            SigningKey::Rsa(k)
        } else {
            return Err(Error::Certificate);
        };
        // The certificate must carry this key, or every peer would reject our signatures.
        let public = crate::crypto::x509::public_key(&cert_der).map_err(|_| Error::Certificate)?;
        use crate::crypto::x509::PublicKey as P;
        let matches = match (&key, &public) {
            (SigningKey::P256(k), P::EcdsaP256(p)) => {
                k.verifying_key().to_encoded_point(false).as_bytes() == p.as_slice()
            }
            (SigningKey::P384(k), P::EcdsaP384(p)) => {
                k.verifying_key().to_encoded_point(false).as_bytes() == p.as_slice()
            }
            (SigningKey::Rsa(k), P::Rsa(p)) => {
                signature::KeyPair::public_key(k).as_ref() == p.as_slice()
            }
            _ => false,
        };
        if !matches {
            return Err(Error::Certificate);
        }
        let ring_ecdsa = match &key {
            SigningKey::P256(k) => Some(signature::EcdsaKeyPair::from_private_key_and_public_key(
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                &k.to_bytes(),
                k.verifying_key().to_encoded_point(false).as_bytes(),
                &SystemRandom::new(),
            )),
            SigningKey::P384(k) => Some(signature::EcdsaKeyPair::from_private_key_and_public_key(
                &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                &k.to_bytes(),
                k.verifying_key().to_encoded_point(false).as_bytes(),
                &SystemRandom::new(),
            )),
            SigningKey::Rsa(_) => None,
        }
        .transpose()
        .map_err(|_| Error::Certificate)?;
        Ok(Certificate {
            der: cert_der,
            key,
            ring_ecdsa,
        })
    }

    /// Loads a PEM certificate (`CERTIFICATE`) and its PEM private key (`PRIVATE KEY`,
    /// `EC PRIVATE KEY` or `RSA PRIVATE KEY`), as `openssl req` and `openssl genpkey`
    /// write them (RFC 7468). Only the first certificate of a chain is used: WebRTC
    /// trusts the leaf by fingerprint.
    ///
    /// # Errors
    /// [`Error::Certificate`] as for [`from_der`](Self::from_der), or when either text
    /// holds no such block.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, Error> {
        let (_, der) = pem_block(cert_pem, &["CERTIFICATE"])?;
        let (_, key) = pem_block(
            key_pem,
            &["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"],
        )?;
        Certificate::from_der(der, &key)
    }

    /// The DER certificate.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Its fingerprint, for our SDP `a=fingerprint`.
    pub fn fingerprint(&self, algorithm: HashAlgorithm) -> Fingerprint {
        fingerprint_of(algorithm, &self.der)
    }

    /// The suite authentication our key serves: the server picks only
    /// `TLS_ECDHE_<this>_WITH_*` suites.
    pub fn auth_kind(&self) -> AuthKind {
        match self.key {
            SigningKey::P256(_) | SigningKey::P384(_) => AuthKind::Ecdsa,
            SigningKey::Rsa(_) => AuthKind::Rsa,
        }
    }

    /// The schemes our key can sign with, preferred first.
    pub fn schemes(&self) -> &'static [SignatureScheme] {
        match self.key {
            SigningKey::P256(_) => &[SignatureScheme::EcdsaSecp256r1Sha256],
            SigningKey::P384(_) => &[SignatureScheme::EcdsaSecp384r1Sha384],
            SigningKey::Rsa(_) => &RSA_SCHEMES,
        }
    }

    /// The scheme our signatures use when the peer states no preference.
    pub fn scheme(&self) -> SignatureScheme {
        self.schemes()[0]
    }

    /// Our preferred scheme among those the peer listed (its signature_algorithms
    /// extension or CertificateRequest, RFC 5246 §7.4.1.4.1), if any.
    pub fn scheme_for(&self, peer: &[SignatureScheme]) -> Option<SignatureScheme> {
        self.schemes().iter().copied().find(|s| peer.contains(s))
    }

    /// The curve of an ECDSA key, which a TLS 1.2 client must list in supported_groups to
    /// accept our certificate (RFC 8422 §5.1.1). An RSA key binds no curve; for it this
    /// is P-256, which [`ecdsa_curve`](Self::ecdsa_curve) tells apart.
    pub fn curve(&self) -> NamedGroup {
        self.ecdsa_curve().unwrap_or(NamedGroup::Secp256r1)
    }

    /// The curve of an ECDSA key; `None` for RSA.
    pub fn ecdsa_curve(&self) -> Option<NamedGroup> {
        match self.key {
            SigningKey::P256(_) => Some(NamedGroup::Secp256r1),
            SigningKey::P384(_) => Some(NamedGroup::Secp384r1),
            SigningKey::Rsa(_) => None,
        }
    }

    /// Signs `msg` with our preferred [`scheme`](Self::scheme) (ECDSA: an ASN.1 DER
    /// signature, ring's hedged nonce; RSA: PKCS#1 v1.5).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        self.sign_with(self.scheme(), msg)
    }

    /// Signs `msg` with `scheme`, which must be one of [`schemes`](Self::schemes). ECDSA
    /// nonces are ring's, hedged from the system generator.
    ///
    /// # Errors
    /// [`Error::Crypto`] for a scheme our key cannot sign with, or a failed signature.
    pub fn sign_with(&self, scheme: SignatureScheme, msg: &[u8]) -> Result<Vec<u8>, Error> {
        match (&self.ring_ecdsa, scheme) {
            (Some(k), s) if self.schemes().contains(&s) => k
                .sign(&SystemRandom::new(), msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::Crypto),
            _ => self.sign_deterministic(scheme, msg),
        }
    }

    /// Signs `msg` with `scheme` deterministically: the same message gets the same
    /// signature. ECDSA with RFC 6979 nonces (RustCrypto, about nine times slower than
    /// [`sign_with`](Self::sign_with)); RSA PKCS#1 v1.5. RSA-PSS, randomised by design
    /// (RFC 8017 §9.1), is signed as by `sign_with`.
    ///
    /// # Errors
    /// [`Error::Crypto`] for a scheme our key cannot sign with, or a failed signature.
    pub fn sign_deterministic(
        &self,
        scheme: SignatureScheme,
        msg: &[u8],
    ) -> Result<Vec<u8>, Error> {
        use SignatureScheme as S;
        match (&self.key, scheme) {
            (SigningKey::P256(k), S::EcdsaSecp256r1Sha256) => {
                let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(k, msg);
                Ok(sig.to_der().as_bytes().to_vec())
            }
            (SigningKey::P384(k), S::EcdsaSecp384r1Sha384) => {
                let sig: p384::ecdsa::Signature = p384::ecdsa::signature::Signer::sign(k, msg);
                Ok(sig.to_der().as_bytes().to_vec())
            }
            (SigningKey::Rsa(k), s) => {
                let padding: &'static dyn signature::RsaEncoding = match s {
                    S::RsaPkcs1Sha256 => &signature::RSA_PKCS1_SHA256,
                    S::RsaPkcs1Sha384 => &signature::RSA_PKCS1_SHA384,
                    S::RsaPkcs1Sha512 => &signature::RSA_PKCS1_SHA512,
                    S::RsaPssRsaeSha256 => &signature::RSA_PSS_SHA256,
                    S::RsaPssRsaeSha384 => &signature::RSA_PSS_SHA384,
                    S::RsaPssRsaeSha512 => &signature::RSA_PSS_SHA512,
                    _ => return Err(Error::Crypto),
                };
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(padding, &SystemRandom::new(), msg, &mut sig)
                    .map_err(|_| Error::Crypto)?;
                Ok(sig)
            }
            _ => Err(Error::Crypto),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{sign, x509};

    #[test]
    fn generated_certificate_signs_and_verifies() {
        let c = Certificate::generate().unwrap();
        let key = x509::public_key(c.der()).unwrap();
        assert!(matches!(key, x509::PublicKey::EcdsaP256(_)));
        let sig = c.sign(b"transcript").unwrap();
        sign::verify(&key, c.scheme(), b"transcript", &sig).unwrap();
        assert!(sign::verify(&key, c.scheme(), b"transcripT", &sig).is_err());
        // Hedged (ring): two signatures of one message differ; both verify.
        let again = c.sign(b"transcript").unwrap();
        assert_ne!(again, sig);
        sign::verify(&key, c.scheme(), b"transcript", &again).unwrap();
        // RFC 6979: the same message gets the same signature, which verifies.
        let det = c.sign_deterministic(c.scheme(), b"transcript").unwrap();
        assert_eq!(
            c.sign_deterministic(c.scheme(), b"transcript").unwrap(),
            det
        );
        sign::verify(&key, c.scheme(), b"transcript", &det).unwrap();
    }

    #[test]
    fn rsa_certificate_signs_every_scheme_and_verifies() {
        let c = Certificate::generate_for(KeyKind::Rsa2048).unwrap();
        assert_eq!(c.auth_kind(), AuthKind::Rsa);
        assert_eq!(c.ecdsa_curve(), None);
        let key = x509::public_key(c.der()).unwrap();
        let x509::PublicKey::Rsa(der) = &key else {
            panic!("an RSA key: {key:?}");
        };
        // A 2048-bit modulus: the RSAPublicKey DER is 270 bytes.
        assert_eq!(der.len(), 270);
        for &scheme in c.schemes() {
            let sig = c.sign_with(scheme, b"transcript").unwrap();
            assert_eq!(sig.len(), 256);
            sign::verify(&key, scheme, b"transcript", &sig).unwrap();
            assert!(sign::verify(&key, scheme, b"transcripT", &sig).is_err());
        }
        // PKCS#1 v1.5 is deterministic.
        assert_eq!(c.sign(b"x").unwrap(), c.sign(b"x").unwrap());
        assert_eq!(
            c.scheme_for(&[SignatureScheme::RsaPssRsaeSha256]),
            Some(SignatureScheme::RsaPssRsaeSha256)
        );
        assert_eq!(c.scheme_for(&[SignatureScheme::EcdsaSecp256r1Sha256]), None);
        assert!(
            c.sign_with(SignatureScheme::EcdsaSecp256r1Sha256, b"x")
                .is_err()
        );
    }

    #[test]
    fn pem_round_trip_and_mismatched_key_refused() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["a.example".to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let pem_of = |tag: &str, der: &[u8]| pem::encode(&pem::Pem::new(tag, der.to_vec()));
        let cert_pem = pem_of("CERTIFICATE", cert.der());
        let c =
            Certificate::from_pem(&cert_pem, &pem_of("PRIVATE KEY", &key.serialize_der())).unwrap();
        assert_eq!(c.der(), &cert.der()[..]);
        let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        assert!(
            Certificate::from_pem(&cert_pem, &pem_of("PRIVATE KEY", &other.serialize_der()))
                .is_err()
        );
        assert!(Certificate::from_pem("garbage", "garbage").is_err());
    }

    #[test]
    fn fingerprints_print_and_parse() {
        let c = Certificate::generate().unwrap();
        for alg in [
            HashAlgorithm::Sha1,
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ] {
            let fp = c.fingerprint(alg);
            let text = fp.to_string();
            let (name, hex) = text.split_once(' ').unwrap();
            assert_eq!(name, alg.name());
            let back = Fingerprint::parse_parts(name, &hex.to_lowercase()).unwrap();
            assert_eq!(back, fp);
            assert!(matches_fingerprint(c.der(), &back));
        }
        assert!(Fingerprint::parse_parts("sha-256", "AB:CD").is_err());
        assert!(Fingerprint::parse_parts("md5", "AB").is_err());
    }
}
