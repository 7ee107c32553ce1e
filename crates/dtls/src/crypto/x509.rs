//! Just enough DER (X.690) to find the subject public key in an X.509 certificate
//! (RFC 5280 §4.1). The certificate itself is trusted by fingerprint, not by chain.

use crate::codec::Reader;
use crate::error::DecodeError;

/// A public key taken from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// ECDSA over P-256: an uncompressed point.
    EcdsaP256(Vec<u8>),
    /// ECDSA over P-384: an uncompressed point.
    EcdsaP384(Vec<u8>),
    /// RSA: the DER RSAPublicKey.
    Rsa(Vec<u8>),
}

// OIDs, DER-encoded content bytes.
/// id-ecPublicKey 1.2.840.10045.2.1 (RFC 5480 §2.1.1).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// secp256r1 1.2.840.10045.3.1.7 (RFC 5480 §2.1.1.1).
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// secp384r1 1.3.132.0.34 (RFC 5480 §2.1.1.1).
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
/// rsaEncryption 1.2.840.113549.1.1.1 (RFC 8017 Appendix C).
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;
const BIT_STRING: u8 = 0x03;
const VERSION_TAG: u8 = 0xa0;

/// Reads one TLV with a single-byte tag; returns (tag, contents).
fn tlv<'a>(r: &mut Reader<'a>) -> Result<(u8, &'a [u8]), DecodeError> {
    let tag = r.u8()?;
    let first = r.u8()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 3 {
            return Err(DecodeError::MalformedCertificate);
        }
        let mut len = 0usize;
        for b in r.take(n)? {
            len = (len << 8) | *b as usize;
        }
        len
    };
    Ok((tag, r.take(len)?))
}

fn expect<'a>(r: &mut Reader<'a>, tag: u8) -> Result<&'a [u8], DecodeError> {
    match tlv(r)? {
        (t, body) if t == tag => Ok(body),
        _ => Err(DecodeError::MalformedCertificate),
    }
}

/// Extracts the subject public key from a DER certificate.
pub fn public_key(cert_der: &[u8]) -> Result<PublicKey, DecodeError> {
    let mut outer = Reader::new(cert_der);
    let cert = expect(&mut outer, SEQUENCE)?;
    let mut cert = Reader::new(cert);
    let tbs = expect(&mut cert, SEQUENCE)?;
    let mut tbs = Reader::new(tbs);
    let (mut tag, _) = tlv(&mut tbs)?;
    if tag == VERSION_TAG {
        // version present: next is serialNumber
        (tag, _) = tlv(&mut tbs)?;
    }
    let _ = tag; // serialNumber
    for _ in 0..4 {
        // signature, issuer, validity, subject
        tlv(&mut tbs)?;
    }
    let spki = expect(&mut tbs, SEQUENCE)?;
    let mut spki = Reader::new(spki);
    let alg = expect(&mut spki, SEQUENCE)?;
    let bits = expect(&mut spki, BIT_STRING)?;
    let mut bits = Reader::new(bits);
    if bits.u8()? != 0 {
        return Err(DecodeError::MalformedCertificate);
    }
    let key = bits.rest().to_vec();
    let mut alg = Reader::new(alg);
    let oid = expect(&mut alg, OID)?;
    if oid == OID_EC_PUBLIC_KEY {
        let curve = expect(&mut alg, OID)?;
        if curve == OID_P256 {
            Ok(PublicKey::EcdsaP256(key))
        } else if curve == OID_P384 {
            Ok(PublicKey::EcdsaP384(key))
        } else {
            Err(DecodeError::MalformedCertificate)
        }
    } else if oid == OID_RSA {
        Ok(PublicKey::Rsa(key))
    } else {
        Err(DecodeError::MalformedCertificate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error() {
        assert!(public_key(&[]).is_err());
        assert!(public_key(&[0x30, 0x84, 0, 0, 0, 0]).is_err());
        assert!(public_key(&[0x30, 0x03, 0x30, 0x01, 0x00]).is_err());
    }
}
