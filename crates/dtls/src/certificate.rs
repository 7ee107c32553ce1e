//! Certificates: a self-signed ECDSA certificate made with `rcgen`, its fingerprints
//! (RFC 8122 §5), and the signing key behind it. The [`Fingerprint`] and [`HashAlgorithm`]
//! types are `ferrtc-types`'; computing and checking one is done here, with ring.

use ferrtc_types::{Fingerprint, HashAlgorithm};
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair};

use crate::error::Error;
use crate::types::SignatureScheme;

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
        fingerprint_of(algorithm, &self.der)
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
            let back = Fingerprint::parse_parts(name, &hex.to_lowercase()).unwrap();
            assert_eq!(back, fp);
            assert!(matches_fingerprint(c.der(), &back));
        }
        assert!(Fingerprint::parse_parts("sha-256", "AB:CD").is_err());
        assert!(Fingerprint::parse_parts("md5", "AB").is_err());
    }
}
