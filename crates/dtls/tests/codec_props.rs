//! Property tests: every handshake message, extension, record header and fragment
//! round-trips through encode and decode.

use ferrtc_dtls::extension::Extension;
use ferrtc_dtls::handshake::{
    CertificateRequest, ClientHello, DigitallySigned, Fragment, HandshakeMessage,
    HelloVerifyRequest, ServerHello, ServerKeyExchange,
};
use ferrtc_dtls::record::{ContentType, Record, RecordHeader};
use ferrtc_dtls::{CipherSuite, NamedGroup, SignatureScheme};
use proptest::collection::vec;
use proptest::prelude::*;

const KNOWN: [u16; 6] = [0x000a, 0x000b, 0x000d, 0x000e, 0x0017, 0xff01];

fn extension() -> impl Strategy<Value = Extension> {
    prop_oneof![
        vec(any::<u16>(), 1..8).prop_map(|g| Extension::SupportedGroups(
            g.into_iter().map(NamedGroup::from).collect()
        )),
        vec(any::<u8>(), 1..4).prop_map(Extension::EcPointFormats),
        vec(any::<u16>(), 1..8).prop_map(|s| Extension::SignatureAlgorithms(
            s.into_iter().map(SignatureScheme::from).collect()
        )),
        (vec(any::<u16>(), 1..5), vec(any::<u8>(), 0..4))
            .prop_map(|(p, mki)| Extension::UseSrtp { profiles: p, mki }),
        Just(Extension::ExtendedMasterSecret),
        vec(any::<u8>(), 0..12).prop_map(Extension::RenegotiationInfo),
        (
            any::<u16>().prop_filter("unknown", |t| !KNOWN.contains(t)),
            vec(any::<u8>(), 0..20)
        )
            .prop_map(|(typ, data)| Extension::Unknown { typ, data }),
    ]
}

fn extensions() -> impl Strategy<Value = Vec<Extension>> {
    vec(extension(), 0..8).prop_map(|mut v| {
        let mut seen = std::collections::HashSet::new();
        v.retain(|e| seen.insert(e.typ()));
        v
    })
}

fn message() -> impl Strategy<Value = HandshakeMessage> {
    prop_oneof![
        (
            any::<[u8; 32]>(),
            vec(any::<u8>(), 0..=32),
            vec(any::<u8>(), 0..=255),
            vec(any::<u16>(), 1..20),
            vec(any::<u8>(), 1..4),
            extensions()
        )
            .prop_map(
                |(random, session_id, cookie, suites, compression_methods, extensions)| {
                    HandshakeMessage::ClientHello(ClientHello {
                        version: 0xfefd,
                        random,
                        session_id,
                        cookie,
                        cipher_suites: suites.into_iter().map(CipherSuite::from).collect(),
                        compression_methods,
                        extensions,
                    })
                }
            ),
        vec(any::<u8>(), 0..=255).prop_map(|cookie| HandshakeMessage::HelloVerifyRequest(
            HelloVerifyRequest {
                version: 0xfeff,
                cookie
            }
        )),
        (
            any::<[u8; 32]>(),
            vec(any::<u8>(), 0..=32),
            any::<u16>(),
            any::<u8>(),
            extensions()
        )
            .prop_map(
                |(random, session_id, suite, compression_method, extensions)| {
                    HandshakeMessage::ServerHello(ServerHello {
                        version: 0xfefd,
                        random,
                        session_id,
                        cipher_suite: CipherSuite::from(suite),
                        compression_method,
                        extensions,
                    })
                }
            ),
        vec(vec(any::<u8>(), 1..300), 0..4).prop_map(HandshakeMessage::Certificate),
        (
            any::<u16>(),
            vec(any::<u8>(), 1..=255),
            any::<u16>(),
            vec(any::<u8>(), 0..200)
        )
            .prop_map(|(g, public_key, s, signature)| {
                HandshakeMessage::ServerKeyExchange(ServerKeyExchange {
                    group: NamedGroup::from(g),
                    public_key,
                    scheme: SignatureScheme::from(s),
                    signature,
                })
            }),
        (
            vec(any::<u8>(), 1..4),
            vec(any::<u16>(), 1..10),
            vec(vec(any::<u8>(), 1..40), 0..3)
        )
            .prop_map(|(certificate_types, s, authorities)| {
                HandshakeMessage::CertificateRequest(CertificateRequest {
                    certificate_types,
                    signature_schemes: s.into_iter().map(SignatureScheme::from).collect(),
                    authorities,
                })
            }),
        Just(HandshakeMessage::ServerHelloDone),
        Just(HandshakeMessage::HelloRequest),
        vec(any::<u8>(), 1..=255).prop_map(HandshakeMessage::ClientKeyExchange),
        (any::<u16>(), vec(any::<u8>(), 0..300)).prop_map(|(s, signature)| {
            HandshakeMessage::CertificateVerify(DigitallySigned {
                scheme: SignatureScheme::from(s),
                signature,
            })
        }),
        vec(any::<u8>(), 0..40).prop_map(HandshakeMessage::Finished),
    ]
}

proptest! {
    #[test]
    fn handshake_messages_round_trip(m in message(), seq in any::<u16>()) {
        let mut body = Vec::new();
        m.encode(&mut body);
        prop_assert_eq!(&HandshakeMessage::decode(m.typ(), &body).unwrap(), &m);
        // The unfragmented form parses as one complete fragment carrying that body.
        let whole = m.to_unfragmented(seq);
        let frags: Vec<_> = Fragment::parse_all(&whole).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(frags.len(), 1);
        prop_assert!(frags[0].is_complete());
        prop_assert_eq!(frags[0].message_seq, seq);
        prop_assert_eq!(frags[0].body, &body[..]);
    }

    #[test]
    fn record_headers_round_trip(
        ty in 0x14u8..=0x17,
        epoch in any::<u16>(),
        seq in 0u64..(1 << 48),
        payload in vec(any::<u8>(), 0..300),
    ) {
        let header = RecordHeader {
            content_type: ContentType::try_from(ty).unwrap(),
            version: 0xfefd,
            epoch,
            sequence_number: seq,
            length: payload.len() as u16,
        };
        let mut wire = Vec::new();
        header.emit(&mut wire);
        wire.extend_from_slice(&payload);
        let rec = Record::new_checked(&wire[..]).unwrap();
        prop_assert_eq!(rec.repr(), header);
        prop_assert_eq!(rec.fragment(), &payload[..]);
    }
}
