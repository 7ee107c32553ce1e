//! Certificates: a self-signed ECDSA certificate made with `rcgen`, its fingerprints
//! (RFC 8122 §5), and the signing key behind it.

use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair};

use crate::error::Error;
use crate::types::SignatureScheme;

/// A hash function named in an SDP `a=fingerprint` (RFC 8122 §5, "hash-func").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// sha-1 (accepted for verification only; RFC 8122 §5 still lists it).
    Sha1,
    /// sha-256, what WebRTC peers send.
    Sha256,
    /// sha-384.
    Sha384,
    /// sha-512.
    Sha512,
}

impl HashAlgorithm {
    /// The SDP token: "sha-1", "sha-256", ...
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha1 => "sha-1",
            HashAlgorithm::Sha256 => "sha-256",
            HashAlgorithm::Sha384 => "sha-384",
            HashAlgorithm::Sha512 => "sha-512",
        }
    }

    /// Parses an SDP token, case-insensitively.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            HashAlgorithm::Sha1,
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ]
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            HashAlgorithm::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlgorithm::Sha256 => &digest::SHA256,
            HashAlgorithm::Sha384 => &digest::SHA384,
            HashAlgorithm::Sha512 => &digest::SHA512,
        }
    }
}

/// A certificate fingerprint: hash algorithm plus digest of the DER certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// The hash function.
    pub algorithm: HashAlgorithm,
    /// The digest bytes.
    pub value: Vec<u8>,
}

impl Fingerprint {
    /// Fingerprint of a DER certificate.
    pub fn of(algorithm: HashAlgorithm, cert_der: &[u8]) -> Self {
        Fingerprint {
            algorithm,
            value: digest::digest(algorithm.digest(), cert_der)
                .as_ref()
                .to_vec(),
        }
    }

    /// Parses the SDP form: hash-func name and colon-separated upper or lower hex
    /// (`"sha-256"`, `"AB:CD:..."`). The digest length must match the hash.
    pub fn parse(algorithm: &str, hex: &str) -> Option<Self> {
        let algorithm = HashAlgorithm::from_name(algorithm)?;
        let mut value = Vec::new();
        for pair in hex.split(':') {
            if pair.len() != 2 {
                return None;
            }
            value.push(u8::from_str_radix(pair, 16).ok()?);
        }
        if value.len() != algorithm.digest().output_len() {
            return None;
        }
        Some(Fingerprint { algorithm, value })
    }

    /// True if `cert_der` has this fingerprint.
    pub fn matches(&self, cert_der: &[u8]) -> bool {
        let actual = digest::digest(self.algorithm.digest(), cert_der);
        // Fingerprints are public; a plain comparison leaks nothing secret.
        actual.as_ref() == self.value.as_slice()
    }
}

impl core::fmt::Display for Fingerprint {
    /// The SDP form: `sha-256 AB:CD:...`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.algorithm.name())?;
        f.write_str(" ")?;
        for (i, b) in self.value.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// Our certificate and its private key: ECDSA P-256 or P-384.
pub struct Certificate {
    der: Vec<u8>,
    key: EcdsaKeyPair,
    scheme: SignatureScheme,
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

impl Certificate {
    /// Generates a fresh ECDSA P-256 self-signed certificate (what browsers make for
    /// WebRTC, RFC 8827 §6.5). Its validity is the rcgen default, wide enough that no
    /// clock is needed.
    pub fn generate() -> Result<Self, Error> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
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

    /// Loads a DER certificate and its PKCS#8 ECDSA (P-256 or P-384) private key.
    pub fn from_der(cert_der: Vec<u8>, pkcs8: &[u8]) -> Result<Self, Error> {
        let rng = SystemRandom::new();
        let (key, scheme) = if let Ok(k) =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &rng)
        {
            (k, SignatureScheme::EcdsaSecp256r1Sha256)
        } else {
            let k =
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_ASN1_SIGNING, pkcs8, &rng)
                    .map_err(|_| Error::Certificate)?;
            (k, SignatureScheme::EcdsaSecp384r1Sha384)
        };
        // The certificate must carry this key, or every peer would reject our signatures.
        let public = crate::crypto::x509::public_key(&cert_der).map_err(|_| Error::Certificate)?;
        let matches = match &public {
            crate::crypto::x509::PublicKey::EcdsaP256(p)
            | crate::crypto::x509::PublicKey::EcdsaP384(p) => {
                p.as_slice() == signature::KeyPair::public_key(&key).as_ref()
            }
            crate::crypto::x509::PublicKey::Rsa(_) => false,
        };
        if !matches {
            return Err(Error::Certificate);
        }
        Ok(Certificate {
            der: cert_der,
            key,
            scheme,
        })
    }

    /// The DER certificate.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Its fingerprint, for our SDP `a=fingerprint`.
    pub fn fingerprint(&self, algorithm: HashAlgorithm) -> Fingerprint {
        Fingerprint::of(algorithm, &self.der)
    }

    /// The scheme our signatures use.
    pub fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    /// The curve of our key, which a TLS 1.2 client must list in supported_groups to accept
    /// our certificate (RFC 8422 §5.1.1).
    pub fn curve(&self) -> crate::types::NamedGroup {
        match self.scheme {
            SignatureScheme::EcdsaSecp384r1Sha384 => crate::types::NamedGroup::Secp384r1,
            _ => crate::types::NamedGroup::Secp256r1,
        }
    }

    /// Signs `msg` (ECDSA, ASN.1 DER signature). The nonce comes from ring's system
    /// generator: ring seals `SecureRandom`, and hedges the nonce with the key and message.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        self.key
            .sign(&SystemRandom::new(), msg)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| Error::Crypto)
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
            let back = Fingerprint::parse(name, &hex.to_lowercase()).unwrap();
            assert_eq!(back, fp);
            assert!(back.matches(c.der()));
        }
        assert!(Fingerprint::parse("sha-256", "AB:CD").is_none());
        assert!(Fingerprint::parse("md5", "AB").is_none());
    }
}
