//! Handshake protocol wire format: the DTLS handshake header with its fragment fields
//! (RFC 6347 §4.2.2) and every message of an ECDHE handshake (RFC 5246 §7.4, RFC 6347 §4.2.1,
//! RFC 8422 §5.4–5.7).

use crate::codec::{Len, Reader, put_u16, put_u24, put_vec};
use crate::error::DecodeError;
use crate::extension::{Extension, decode_extensions, encode_extensions};
use crate::record::{DTLS_1_0, DTLS_1_2};
use crate::types::{CipherSuite, NamedGroup, SignatureScheme};

/// Length of the DTLS handshake header (RFC 6347 §4.2.2).
pub const HEADER_LEN: usize = 12;

/// HandshakeType (RFC 5246 §7.4, RFC 6347 §4.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeType {
    /// hello_request (0x00).
    HelloRequest = 0x00,
    /// client_hello (0x01).
    ClientHello = 0x01,
    /// server_hello (0x02).
    ServerHello = 0x02,
    /// hello_verify_request (0x03).
    HelloVerifyRequest = 0x03,
    /// certificate (0x0b).
    Certificate = 0x0b,
    /// server_key_exchange (0x0c).
    ServerKeyExchange = 0x0c,
    /// certificate_request (0x0d).
    CertificateRequest = 0x0d,
    /// server_hello_done (0x0e).
    ServerHelloDone = 0x0e,
    /// certificate_verify (0x0f).
    CertificateVerify = 0x0f,
    /// client_key_exchange (0x10).
    ClientKeyExchange = 0x10,
    /// finished (0x14).
    Finished = 0x14,
}

impl TryFrom<u8> for HandshakeType {
    type Error = DecodeError;
    fn try_from(v: u8) -> Result<Self, DecodeError> {
        use HandshakeType as H;
        Ok(match v {
            0x00 => H::HelloRequest,
            0x01 => H::ClientHello,
            0x02 => H::ServerHello,
            0x03 => H::HelloVerifyRequest,
            0x0b => H::Certificate,
            0x0c => H::ServerKeyExchange,
            0x0d => H::CertificateRequest,
            0x0e => H::ServerHelloDone,
            0x0f => H::CertificateVerify,
            0x10 => H::ClientKeyExchange,
            0x14 => H::Finished,
            other => return Err(DecodeError::UnknownHandshakeType(other)),
        })
    }
}

/// One handshake fragment: the 12-byte header plus its slice of the message body
/// (RFC 6347 §4.2.2). Borrowed from the record it came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Message type.
    pub msg_type: HandshakeType,
    /// Length of the whole message body.
    pub length: u32,
    /// Handshake message sequence number.
    pub message_seq: u16,
    /// Offset of this fragment in the message body.
    pub fragment_offset: u32,
    /// The fragment bytes (`fragment_length` of them).
    pub body: &'a [u8],
}

impl<'a> Fragment<'a> {
    /// Reads one fragment from `r`, checking that it lies inside the message.
    pub fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let msg_type = HandshakeType::try_from(r.u8()?)?;
        let length = r.u24()?;
        let message_seq = r.u16()?;
        let fragment_offset = r.u24()?;
        let fragment_length = r.u24()?;
        if u64::from(fragment_offset) + u64::from(fragment_length) > u64::from(length) {
            return Err(DecodeError::FragmentOutOfBounds);
        }
        let body = r.take(fragment_length as usize)?;
        Ok(Fragment {
            msg_type,
            length,
            message_seq,
            fragment_offset,
            body,
        })
    }

    /// Parses every fragment in a handshake record's payload.
    pub fn parse_all(payload: &'a [u8]) -> Fragments<'a> {
        Fragments {
            r: Reader::new(payload),
            failed: false,
        }
    }

    /// True when this fragment is the whole message.
    pub fn is_complete(&self) -> bool {
        self.fragment_offset == 0 && self.body.len() as u32 == self.length
    }

    /// Appends header and body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        emit_header(
            out,
            self.msg_type,
            self.length,
            self.message_seq,
            self.fragment_offset,
            self.body.len() as u32,
        );
        out.extend_from_slice(self.body);
    }
}

/// Appends a 12-byte handshake header.
pub fn emit_header(
    out: &mut Vec<u8>,
    msg_type: HandshakeType,
    length: u32,
    message_seq: u16,
    fragment_offset: u32,
    fragment_length: u32,
) {
    out.push(msg_type as u8);
    put_u24(out, length);
    put_u16(out, message_seq);
    put_u24(out, fragment_offset);
    put_u24(out, fragment_length);
}

/// Iterator over the fragments of one handshake record; stops after the first error.
#[derive(Debug, Clone)]
pub struct Fragments<'a> {
    r: Reader<'a>,
    failed: bool,
}

impl<'a> Iterator for Fragments<'a> {
    type Item = Result<Fragment<'a>, DecodeError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.r.is_empty() {
            return None;
        }
        let out = Fragment::read(&mut self.r);
        self.failed = out.is_err();
        Some(out)
    }
}

/// ClientHello (RFC 6347 §4.2.1, RFC 5246 §7.4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// client_version.
    pub version: u16,
    /// random.
    pub random: [u8; 32],
    /// session_id<0..32>.
    pub session_id: Vec<u8>,
    /// cookie<0..2^8-1>.
    pub cookie: Vec<u8>,
    /// cipher_suites<2..2^16-2>.
    pub cipher_suites: Vec<CipherSuite>,
    /// compression_methods<1..2^8-1>.
    pub compression_methods: Vec<u8>,
    /// extensions.
    pub extensions: Vec<Extension>,
}

/// HelloVerifyRequest (RFC 6347 §4.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloVerifyRequest {
    /// server_version.
    pub version: u16,
    /// cookie<0..2^8-1>.
    pub cookie: Vec<u8>,
}

/// ServerHello (RFC 5246 §7.4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// server_version.
    pub version: u16,
    /// random.
    pub random: [u8; 32],
    /// session_id<0..32>.
    pub session_id: Vec<u8>,
    /// cipher_suite.
    pub cipher_suite: CipherSuite,
    /// compression_method.
    pub compression_method: u8,
    /// extensions.
    pub extensions: Vec<Extension>,
}

/// ServerKeyExchange for ECDHE (RFC 8422 §5.4): named-curve params plus a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerKeyExchange {
    /// The named curve.
    pub group: NamedGroup,
    /// The server's ephemeral public key.
    pub public_key: Vec<u8>,
    /// Signature scheme.
    pub scheme: SignatureScheme,
    /// Signature over client_random + server_random + params.
    pub signature: Vec<u8>,
}

/// curve_type named_curve (RFC 8422 §5.4).
pub const CURVE_TYPE_NAMED: u8 = 3;

impl ServerKeyExchange {
    /// The ServerECDHParams bytes, as signed.
    pub fn params(group: NamedGroup, public_key: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + public_key.len());
        out.push(CURVE_TYPE_NAMED);
        put_u16(&mut out, group.into());
        put_vec(&mut out, Len::U8, |o| o.extend_from_slice(public_key));
        out
    }
}

/// CertificateRequest (RFC 5246 §7.4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRequest {
    /// certificate_types<1..2^8-1>: rsa_sign(1), ecdsa_sign(64).
    pub certificate_types: Vec<u8>,
    /// supported_signature_algorithms<2..2^16-2>.
    pub signature_schemes: Vec<SignatureScheme>,
    /// certificate_authorities<0..2^16-1>, each a DistinguishedName<1..2^16-1>.
    pub authorities: Vec<Vec<u8>>,
}

/// ClientCertificateType rsa_sign (RFC 5246 §7.4.4).
pub const CERT_TYPE_RSA_SIGN: u8 = 1;
/// ClientCertificateType ecdsa_sign (RFC 8422 §5.5).
pub const CERT_TYPE_ECDSA_SIGN: u8 = 64;

/// A digitally-signed element (RFC 5246 §4.7): CertificateVerify's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitallySigned {
    /// Signature scheme.
    pub scheme: SignatureScheme,
    /// Signature bytes.
    pub signature: Vec<u8>,
}

/// A decoded handshake message body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeMessage {
    /// HelloRequest (empty): a renegotiation request, which we refuse.
    HelloRequest,
    /// ClientHello.
    ClientHello(ClientHello),
    /// HelloVerifyRequest.
    HelloVerifyRequest(HelloVerifyRequest),
    /// ServerHello.
    ServerHello(ServerHello),
    /// Certificate: the DER chain, leaf first.
    Certificate(Vec<Vec<u8>>),
    /// ServerKeyExchange (ECDHE).
    ServerKeyExchange(ServerKeyExchange),
    /// CertificateRequest.
    CertificateRequest(CertificateRequest),
    /// ServerHelloDone (empty).
    ServerHelloDone,
    /// ClientKeyExchange (ECDHE): the client's ephemeral public key (RFC 8422 §5.7).
    ClientKeyExchange(Vec<u8>),
    /// CertificateVerify.
    CertificateVerify(DigitallySigned),
    /// Finished: verify_data.
    Finished(Vec<u8>),
}

fn check_version(v: u16) -> Result<u16, DecodeError> {
    // A hello's version must look like DTLS; whether it is high enough is the state
    // machine's business (it answers protocol_version).
    if v >> 8 == 0xfe {
        Ok(v)
    } else {
        Err(DecodeError::UnsupportedVersion(v))
    }
}

fn session_id(r: &mut Reader<'_>) -> Result<Vec<u8>, DecodeError> {
    let s = r.vec8()?;
    if s.len() > 32 {
        return Err(DecodeError::InvalidLength);
    }
    Ok(s.to_vec())
}

fn optional_extensions(r: &mut Reader<'_>) -> Result<Vec<Extension>, DecodeError> {
    if r.is_empty() {
        Ok(Vec::new())
    } else {
        decode_extensions(r)
    }
}

fn schemes(list: &[u8]) -> Result<Vec<SignatureScheme>, DecodeError> {
    if list.len() % 2 != 0 || list.is_empty() {
        return Err(DecodeError::InvalidLength);
    }
    Ok(list
        .chunks_exact(2)
        .map(|c| SignatureScheme::from(u16::from_be_bytes([c[0], c[1]])))
        .collect())
}

impl HandshakeMessage {
    /// The message's type.
    pub fn typ(&self) -> HandshakeType {
        use HandshakeMessage as M;
        use HandshakeType as H;
        match self {
            M::HelloRequest => H::HelloRequest,
            M::ClientHello(_) => H::ClientHello,
            M::HelloVerifyRequest(_) => H::HelloVerifyRequest,
            M::ServerHello(_) => H::ServerHello,
            M::Certificate(_) => H::Certificate,
            M::ServerKeyExchange(_) => H::ServerKeyExchange,
            M::CertificateRequest(_) => H::CertificateRequest,
            M::ServerHelloDone => H::ServerHelloDone,
            M::ClientKeyExchange(_) => H::ClientKeyExchange,
            M::CertificateVerify(_) => H::CertificateVerify,
            M::Finished(_) => H::Finished,
        }
    }

    /// Decodes a complete (reassembled) message body of type `typ`; trailing bytes are an
    /// error.
    pub fn decode(typ: HandshakeType, body: &[u8]) -> Result<Self, DecodeError> {
        use HandshakeType as H;
        let mut r = Reader::new(body);
        let msg = match typ {
            H::HelloRequest => HandshakeMessage::HelloRequest,
            H::ServerHelloDone => HandshakeMessage::ServerHelloDone,
            H::ClientHello => {
                let version = check_version(r.u16()?)?;
                let random = r.array()?;
                let session_id = session_id(&mut r)?;
                let cookie = r.vec8()?.to_vec();
                let suites = r.vec16()?;
                if suites.len() % 2 != 0 || suites.is_empty() {
                    return Err(DecodeError::InvalidLength);
                }
                let cipher_suites = suites
                    .chunks_exact(2)
                    .map(|c| CipherSuite::from(u16::from_be_bytes([c[0], c[1]])))
                    .collect();
                let compression_methods = r.vec8()?.to_vec();
                if compression_methods.is_empty() {
                    return Err(DecodeError::InvalidLength);
                }
                let extensions = optional_extensions(&mut r)?;
                HandshakeMessage::ClientHello(ClientHello {
                    version,
                    random,
                    session_id,
                    cookie,
                    cipher_suites,
                    compression_methods,
                    extensions,
                })
            }
            H::HelloVerifyRequest => {
                let version = check_version(r.u16()?)?;
                let cookie = r.vec8()?.to_vec();
                HandshakeMessage::HelloVerifyRequest(HelloVerifyRequest { version, cookie })
            }
            H::ServerHello => {
                let version = check_version(r.u16()?)?;
                let random = r.array()?;
                let session_id = session_id(&mut r)?;
                let cipher_suite = CipherSuite::from(r.u16()?);
                let compression_method = r.u8()?;
                let extensions = optional_extensions(&mut r)?;
                HandshakeMessage::ServerHello(ServerHello {
                    version,
                    random,
                    session_id,
                    cipher_suite,
                    compression_method,
                    extensions,
                })
            }
            H::Certificate => {
                let mut list = Reader::new(r.vec24()?);
                let mut chain = Vec::new();
                while !list.is_empty() {
                    let cert = list.vec24()?;
                    if cert.is_empty() {
                        return Err(DecodeError::InvalidLength);
                    }
                    chain.push(cert.to_vec());
                }
                HandshakeMessage::Certificate(chain)
            }
            H::ServerKeyExchange => {
                let curve_type = r.u8()?;
                if curve_type != CURVE_TYPE_NAMED {
                    return Err(DecodeError::UnsupportedCurveType(curve_type));
                }
                let group = NamedGroup::from(r.u16()?);
                let public_key = r.vec8()?.to_vec();
                if public_key.is_empty() {
                    return Err(DecodeError::InvalidLength);
                }
                let scheme = SignatureScheme::from(r.u16()?);
                let signature = r.vec16()?.to_vec();
                HandshakeMessage::ServerKeyExchange(ServerKeyExchange {
                    group,
                    public_key,
                    scheme,
                    signature,
                })
            }
            H::CertificateRequest => {
                let certificate_types = r.vec8()?.to_vec();
                if certificate_types.is_empty() {
                    return Err(DecodeError::InvalidLength);
                }
                let signature_schemes = schemes(r.vec16()?)?;
                let mut cas = Reader::new(r.vec16()?);
                let mut authorities = Vec::new();
                while !cas.is_empty() {
                    let dn = cas.vec16()?;
                    if dn.is_empty() {
                        return Err(DecodeError::InvalidLength);
                    }
                    authorities.push(dn.to_vec());
                }
                HandshakeMessage::CertificateRequest(CertificateRequest {
                    certificate_types,
                    signature_schemes,
                    authorities,
                })
            }
            H::ClientKeyExchange => {
                let public = r.vec8()?;
                if public.is_empty() {
                    return Err(DecodeError::InvalidLength);
                }
                HandshakeMessage::ClientKeyExchange(public.to_vec())
            }
            H::CertificateVerify => {
                let scheme = SignatureScheme::from(r.u16()?);
                let signature = r.vec16()?.to_vec();
                HandshakeMessage::CertificateVerify(DigitallySigned { scheme, signature })
            }
            H::Finished => HandshakeMessage::Finished(r.take(r.remaining())?.to_vec()),
        };
        r.finish()?;
        Ok(msg)
    }

    /// Appends the message body (no handshake header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        use HandshakeMessage as M;
        match self {
            M::HelloRequest | M::ServerHelloDone => {}
            M::ClientHello(ch) => {
                put_u16(out, ch.version);
                out.extend_from_slice(&ch.random);
                put_vec(out, Len::U8, |o| o.extend_from_slice(&ch.session_id));
                put_vec(out, Len::U8, |o| o.extend_from_slice(&ch.cookie));
                put_vec(out, Len::U16, |o| {
                    for &s in &ch.cipher_suites {
                        put_u16(o, s.into());
                    }
                });
                put_vec(out, Len::U8, |o| {
                    o.extend_from_slice(&ch.compression_methods)
                });
                encode_extensions(out, &ch.extensions);
            }
            M::HelloVerifyRequest(hv) => {
                put_u16(out, hv.version);
                put_vec(out, Len::U8, |o| o.extend_from_slice(&hv.cookie));
            }
            M::ServerHello(sh) => {
                put_u16(out, sh.version);
                out.extend_from_slice(&sh.random);
                put_vec(out, Len::U8, |o| o.extend_from_slice(&sh.session_id));
                put_u16(out, sh.cipher_suite.into());
                out.push(sh.compression_method);
                encode_extensions(out, &sh.extensions);
            }
            M::Certificate(chain) => put_vec(out, Len::U24, |o| {
                for c in chain {
                    put_vec(o, Len::U24, |o| o.extend_from_slice(c));
                }
            }),
            M::ServerKeyExchange(ske) => {
                out.extend_from_slice(&ServerKeyExchange::params(ske.group, &ske.public_key));
                put_u16(out, ske.scheme.into());
                put_vec(out, Len::U16, |o| o.extend_from_slice(&ske.signature));
            }
            M::CertificateRequest(cr) => {
                put_vec(out, Len::U8, |o| o.extend_from_slice(&cr.certificate_types));
                put_vec(out, Len::U16, |o| {
                    for &s in &cr.signature_schemes {
                        put_u16(o, s.into());
                    }
                });
                put_vec(out, Len::U16, |o| {
                    for dn in &cr.authorities {
                        put_vec(o, Len::U16, |o| o.extend_from_slice(dn));
                    }
                });
            }
            M::ClientKeyExchange(pk) => put_vec(out, Len::U8, |o| o.extend_from_slice(pk)),
            M::CertificateVerify(ds) => {
                put_u16(out, ds.scheme.into());
                put_vec(out, Len::U16, |o| o.extend_from_slice(&ds.signature));
            }
            M::Finished(v) => out.extend_from_slice(v),
        }
    }

    /// The message as one unfragmented handshake (header with `fragment_offset` 0 and
    /// `fragment_length == length`): the form that goes into the transcript hash
    /// (RFC 6347 §4.2.6).
    pub fn to_unfragmented(&self, message_seq: u16) -> Vec<u8> {
        let mut body = Vec::new();
        self.encode(&mut body);
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        emit_header(
            &mut out,
            self.typ(),
            body.len() as u32,
            message_seq,
            0,
            body.len() as u32,
        );
        out.extend_from_slice(&body);
        out
    }
}

/// True for a version acceptable as DTLS 1.2 in a hello.
pub fn is_dtls12(v: u16) -> bool {
    v == DTLS_1_2
}

/// The version a HelloVerifyRequest carries: DTLS 1.0, so that any client accepts it
/// (RFC 6347 §4.2.1).
pub const HELLO_VERIFY_VERSION: u16 = DTLS_1_0;

#[cfg(test)]
mod tests {
    use super::*;
    use ferrtc_types::SrtpProfile;
    use hex_literal::hex;

    fn sample_messages() -> Vec<HandshakeMessage> {
        vec![
            HandshakeMessage::HelloRequest,
            HandshakeMessage::ClientHello(ClientHello {
                version: DTLS_1_2,
                random: [7; 32],
                session_id: vec![],
                cookie: vec![1, 2, 3],
                cipher_suites: vec![
                    CipherSuite::EcdheEcdsaWithAes128GcmSha256,
                    CipherSuite::EmptyRenegotiationInfoScsv,
                ],
                compression_methods: vec![0],
                extensions: vec![
                    Extension::SupportedGroups(vec![NamedGroup::X25519, NamedGroup::Secp256r1]),
                    Extension::EcPointFormats(vec![0]),
                    Extension::SignatureAlgorithms(vec![SignatureScheme::EcdsaSecp256r1Sha256]),
                    Extension::UseSrtp {
                        profiles: vec![SrtpProfile::AeadAes128Gcm.id()],
                        mki: vec![],
                    },
                    Extension::ExtendedMasterSecret,
                    Extension::RenegotiationInfo(vec![]),
                    Extension::Unknown {
                        typ: 0x1234,
                        data: vec![9, 9],
                    },
                ],
            }),
            HandshakeMessage::HelloVerifyRequest(HelloVerifyRequest {
                version: DTLS_1_0,
                cookie: vec![0xaa; 32],
            }),
            HandshakeMessage::ServerHello(ServerHello {
                version: DTLS_1_2,
                random: [3; 32],
                session_id: vec![1; 32],
                cipher_suite: CipherSuite::EcdheRsaWithAes256GcmSha384,
                compression_method: 0,
                extensions: vec![Extension::ExtendedMasterSecret],
            }),
            HandshakeMessage::Certificate(vec![vec![0x30, 0x01, 0x00], vec![0x30, 0x00]]),
            HandshakeMessage::Certificate(vec![]),
            HandshakeMessage::ServerKeyExchange(ServerKeyExchange {
                group: NamedGroup::X25519,
                public_key: vec![5; 32],
                scheme: SignatureScheme::EcdsaSecp256r1Sha256,
                signature: vec![0x30; 70],
            }),
            HandshakeMessage::CertificateRequest(CertificateRequest {
                certificate_types: vec![CERT_TYPE_ECDSA_SIGN, CERT_TYPE_RSA_SIGN],
                signature_schemes: vec![SignatureScheme::EcdsaSecp256r1Sha256],
                authorities: vec![vec![0x30, 0x00]],
            }),
            HandshakeMessage::ServerHelloDone,
            HandshakeMessage::ClientKeyExchange(vec![4; 65]),
            HandshakeMessage::CertificateVerify(DigitallySigned {
                scheme: SignatureScheme::RsaPkcs1Sha256,
                signature: vec![1; 256],
            }),
            HandshakeMessage::Finished(vec![0xf0; 12]),
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for m in sample_messages() {
            let mut body = Vec::new();
            m.encode(&mut body);
            let back = HandshakeMessage::decode(m.typ(), &body).unwrap();
            assert_eq!(back, m);
            let mut again = Vec::new();
            back.encode(&mut again);
            assert_eq!(again, body);
            // Any truncation is an error, never a panic.
            for cut in 0..body.len() {
                let _ = HandshakeMessage::decode(m.typ(), &body[..cut]);
            }
        }
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        assert_eq!(
            HandshakeMessage::decode(HandshakeType::ServerHelloDone, &[0]),
            Err(DecodeError::TrailingBytes)
        );
        let mut body = Vec::new();
        HandshakeMessage::ClientKeyExchange(vec![1; 32]).encode(&mut body);
        body.push(0);
        assert_eq!(
            HandshakeMessage::decode(HandshakeType::ClientKeyExchange, &body),
            Err(DecodeError::TrailingBytes)
        );
    }

    #[test]
    fn hello_verify_request_bytes() {
        // RFC 6347 §4.2.1: server_version then cookie<0..2^8-1>.
        let m = HandshakeMessage::HelloVerifyRequest(HelloVerifyRequest {
            version: DTLS_1_0,
            cookie: vec![0xab, 0xcd],
        });
        let wire = m.to_unfragmented(0);
        assert_eq!(wire, hex!("03 000005 0000 000000 000005 feff 02 abcd"));
    }

    #[test]
    fn fragments_parse_and_bound_check() {
        let payload = hex!("0b 000010 0002 000004 000003 aabbcc 0e 000000 0003 000000 000000");
        let frags: Vec<_> = Fragment::parse_all(&payload)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(frags.len(), 2);
        assert_eq!(frags[0].fragment_offset, 4);
        assert_eq!(frags[0].body, &[0xaa, 0xbb, 0xcc]);
        assert!(!frags[0].is_complete());
        assert!(frags[1].is_complete());
        let mut out = Vec::new();
        for f in &frags {
            f.emit(&mut out);
        }
        assert_eq!(out, payload);
        let oob = hex!("0b 000004 0000 000003 000002 aabb");
        assert_eq!(
            Fragment::parse_all(&oob).next().unwrap(),
            Err(DecodeError::FragmentOutOfBounds)
        );
    }
}
