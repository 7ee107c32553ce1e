//! Hello extensions (RFC 5246 §7.4.1.4) this endpoint speaks: supported_groups and
//! ec_point_formats (RFC 8422 §5.1), signature_algorithms (RFC 5246 §7.4.1.4.1), use_srtp
//! (RFC 5764 §4.1.1), extended_master_secret (RFC 7627 §5.1), renegotiation_info
//! (RFC 5746 §3.2). Anything else is kept as raw bytes.

use crate::codec::{Len, Reader, put_u16, put_vec};
use crate::error::DecodeError;
use crate::types::{NamedGroup, SignatureScheme};

/// supported_groups (RFC 8422 §5.1.1), formerly elliptic_curves.
pub const SUPPORTED_GROUPS: u16 = 0x000a;
/// ec_point_formats (RFC 8422 §5.1.2).
pub const EC_POINT_FORMATS: u16 = 0x000b;
/// signature_algorithms (RFC 5246 §7.4.1.4.1).
pub const SIGNATURE_ALGORITHMS: u16 = 0x000d;
/// use_srtp (RFC 5764 §9).
pub const USE_SRTP: u16 = 0x000e;
/// extended_master_secret (RFC 7627 §5.1).
pub const EXTENDED_MASTER_SECRET: u16 = 0x0017;
/// renegotiation_info (RFC 5746 §6).
pub const RENEGOTIATION_INFO: u16 = 0xff01;

/// ECPointFormat uncompressed (RFC 8422 §5.1.2).
pub const POINT_FORMAT_UNCOMPRESSED: u8 = 0;

/// One hello extension.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Extension {
    /// supported_groups: the ECDHE groups offered.
    SupportedGroups(Vec<NamedGroup>),
    /// ec_point_formats.
    EcPointFormats(Vec<u8>),
    /// signature_algorithms.
    SignatureAlgorithms(Vec<SignatureScheme>),
    /// use_srtp: protection profiles plus the (normally empty) MKI.
    UseSrtp {
        /// Profiles, in preference order; the server echoes exactly one.
        profiles: Vec<u16>,
        /// srtp_mki.
        mki: Vec<u8>,
    },
    /// extended_master_secret (empty body).
    ExtendedMasterSecret,
    /// renegotiation_info: empty for an initial handshake.
    RenegotiationInfo(Vec<u8>),
    /// An extension we do not interpret.
    Unknown {
        /// ExtensionType.
        typ: u16,
        /// extension_data.
        data: Vec<u8>,
    },
}

fn u16_list(data: &[u8], min: usize) -> Result<Vec<u16>, DecodeError> {
    let mut r = Reader::new(data);
    let body = r.vec16()?;
    r.finish()?;
    if body.len() % 2 != 0 || body.len() < min {
        return Err(DecodeError::InvalidLength);
    }
    Ok(body
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect())
}

fn put_u16_list(out: &mut Vec<u8>, items: impl Iterator<Item = u16>) {
    put_vec(out, Len::U16, |o| {
        for v in items {
            put_u16(o, v);
        }
    });
}

impl Extension {
    /// The ExtensionType code point.
    pub fn typ(&self) -> u16 {
        match self {
            Extension::SupportedGroups(_) => SUPPORTED_GROUPS,
            Extension::EcPointFormats(_) => EC_POINT_FORMATS,
            Extension::SignatureAlgorithms(_) => SIGNATURE_ALGORITHMS,
            Extension::UseSrtp { .. } => USE_SRTP,
            Extension::ExtendedMasterSecret => EXTENDED_MASTER_SECRET,
            Extension::RenegotiationInfo(_) => RENEGOTIATION_INFO,
            Extension::Unknown { typ, .. } => *typ,
        }
    }

    /// Decodes one extension body of type `typ`.
    pub fn decode(typ: u16, data: &[u8]) -> Result<Self, DecodeError> {
        Ok(match typ {
            SUPPORTED_GROUPS => Extension::SupportedGroups(
                u16_list(data, 2)?
                    .into_iter()
                    .map(NamedGroup::from)
                    .collect(),
            ),
            EC_POINT_FORMATS => {
                let mut r = Reader::new(data);
                let list = r.vec8()?;
                r.finish()?;
                if list.is_empty() {
                    return Err(DecodeError::InvalidLength);
                }
                Extension::EcPointFormats(list.to_vec())
            }
            SIGNATURE_ALGORITHMS => Extension::SignatureAlgorithms(
                u16_list(data, 2)?
                    .into_iter()
                    .map(SignatureScheme::from)
                    .collect(),
            ),
            USE_SRTP => {
                let mut r = Reader::new(data);
                let list = r.vec16()?;
                let mki = r.vec8()?.to_vec();
                r.finish()?;
                if list.len() % 2 != 0 || list.is_empty() {
                    return Err(DecodeError::InvalidLength);
                }
                let profiles = list
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                Extension::UseSrtp { profiles, mki }
            }
            EXTENDED_MASTER_SECRET => {
                if !data.is_empty() {
                    return Err(DecodeError::TrailingBytes);
                }
                Extension::ExtendedMasterSecret
            }
            RENEGOTIATION_INFO => {
                let mut r = Reader::new(data);
                let v = r.vec8()?.to_vec();
                r.finish()?;
                Extension::RenegotiationInfo(v)
            }
            _ => Extension::Unknown {
                typ,
                data: data.to_vec(),
            },
        })
    }

    /// Appends type, length and body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u16(out, self.typ());
        put_vec(out, Len::U16, |o| match self {
            Extension::SupportedGroups(g) => put_u16_list(o, g.iter().map(|&g| g.into())),
            Extension::EcPointFormats(f) => put_vec(o, Len::U8, |o| o.extend_from_slice(f)),
            Extension::SignatureAlgorithms(s) => put_u16_list(o, s.iter().map(|&s| s.into())),
            Extension::UseSrtp { profiles, mki } => {
                put_u16_list(o, profiles.iter().copied());
                put_vec(o, Len::U8, |o| o.extend_from_slice(mki));
            }
            Extension::ExtendedMasterSecret => {}
            Extension::RenegotiationInfo(v) => put_vec(o, Len::U8, |o| o.extend_from_slice(v)),
            Extension::Unknown { data, .. } => o.extend_from_slice(data),
        });
    }
}

/// Decodes an `Extension extensions<0..2^16-1>` block (length prefix included). Rejects
/// duplicates (RFC 5246 §7.4.1.4).
pub fn decode_extensions(r: &mut Reader<'_>) -> Result<Vec<Extension>, DecodeError> {
    let mut block = Reader::new(r.vec16()?);
    let mut out = Vec::new();
    while !block.is_empty() {
        let typ = block.u16()?;
        let data = block.vec16()?;
        out.push(Extension::decode(typ, data)?);
    }
    let mut types: Vec<u16> = out.iter().map(Extension::typ).collect();
    types.sort_unstable();
    if let Some(w) = types.windows(2).find(|w| w[0] == w[1]) {
        return Err(DecodeError::DuplicateExtension(w[0]));
    }
    Ok(out)
}

/// Encodes an extensions block; nothing at all when `exts` is empty (the block is optional
/// in both hellos).
pub fn encode_extensions(out: &mut Vec<u8>, exts: &[Extension]) {
    if exts.is_empty() {
        return;
    }
    put_vec(out, Len::U16, |o| {
        for e in exts {
            e.encode(o);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn use_srtp_wire_format() {
        // RFC 5764 §4.1.1: profiles list then MKI.
        let e = Extension::UseSrtp {
            profiles: vec![0x0001, 0x0007],
            mki: vec![],
        };
        let mut out = Vec::new();
        e.encode(&mut out);
        assert_eq!(out, hex!("000e 0007 0004 0001 0007 00"));
        assert_eq!(Extension::decode(USE_SRTP, &out[4..]).unwrap(), e);
    }

    #[test]
    fn rejects_duplicates_and_bad_lists() {
        let block = hex!("0008 0017 0000 0017 0000");
        assert_eq!(
            decode_extensions(&mut Reader::new(&block)),
            Err(DecodeError::DuplicateExtension(0x17))
        );
        assert_eq!(
            Extension::decode(SUPPORTED_GROUPS, &hex!("0003 001d 00")),
            Err(DecodeError::InvalidLength)
        );
        assert_eq!(
            Extension::decode(EXTENDED_MASTER_SECRET, &[0]),
            Err(DecodeError::TrailingBytes)
        );
    }
}
