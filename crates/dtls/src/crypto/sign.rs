//! Handshake signatures: ECDSA signing with our certificate's key, and verification of
//! ECDSA and RSA (PKCS#1 v1.5, PSS) signatures by the peer's key, through
//! `ring::signature`.

use ring::signature;

use crate::crypto::x509::PublicKey;
use crate::error::{Error, PeerMisbehaved};
use crate::types::{AuthKind, SignatureScheme};

/// Verifies `sig` over `msg` under the peer's `key` with `scheme`.
///
/// TLS 1.2 does not tie an ECDSA hash to a curve, so a P-256 key may sign with SHA-384.
pub fn verify(
    key: &PublicKey,
    scheme: SignatureScheme,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), Error> {
    use SignatureScheme as S;
    let (alg, der): (&'static dyn signature::VerificationAlgorithm, &[u8]) = match (key, scheme) {
        (PublicKey::EcdsaP256(k), S::EcdsaSecp256r1Sha256) => {
            (&signature::ECDSA_P256_SHA256_ASN1, k)
        }
        (PublicKey::EcdsaP256(k), S::EcdsaSecp384r1Sha384) => {
            (&signature::ECDSA_P256_SHA384_ASN1, k)
        }
        (PublicKey::EcdsaP384(k), S::EcdsaSecp256r1Sha256) => {
            (&signature::ECDSA_P384_SHA256_ASN1, k)
        }
        (PublicKey::EcdsaP384(k), S::EcdsaSecp384r1Sha384) => {
            (&signature::ECDSA_P384_SHA384_ASN1, k)
        }
        (PublicKey::Rsa(k), S::RsaPkcs1Sha256) => (&signature::RSA_PKCS1_2048_8192_SHA256, k),
        (PublicKey::Rsa(k), S::RsaPkcs1Sha384) => (&signature::RSA_PKCS1_2048_8192_SHA384, k),
        (PublicKey::Rsa(k), S::RsaPkcs1Sha512) => (&signature::RSA_PKCS1_2048_8192_SHA512, k),
        (PublicKey::Rsa(k), S::RsaPssRsaeSha256) => (&signature::RSA_PSS_2048_8192_SHA256, k),
        (PublicKey::Rsa(k), S::RsaPssRsaeSha384) => (&signature::RSA_PSS_2048_8192_SHA384, k),
        (PublicKey::Rsa(k), S::RsaPssRsaeSha512) => (&signature::RSA_PSS_2048_8192_SHA512, k),
        _ => return Err(PeerMisbehaved::SelectedUnofferedParameter.into()),
    };
    signature::UnparsedPublicKey::new(alg, der)
        .verify(msg, sig)
        .map_err(|_| PeerMisbehaved::BadSignature.into())
}

impl PublicKey {
    /// The suite authentication this key can serve.
    pub fn auth_kind(&self) -> AuthKind {
        match self {
            PublicKey::EcdsaP256(_) | PublicKey::EcdsaP384(_) => AuthKind::Ecdsa,
            PublicKey::Rsa(_) => AuthKind::Rsa,
        }
    }
}
