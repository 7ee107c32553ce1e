//! Property tests: builder -> view round trip, and no panic on arbitrary input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ferrtc_stun_ice::framing::{ChannelData, rfc4571, stream_frame_len};
use ferrtc_stun_ice::stun::{
    AddressFamily, Attribute, AttributeType, Class, ErrorCode, IntegrityKey, Message,
    MessageBuilder, MessageType, Method, PasswordAlgorithm, PasswordAlgorithmId, TransactionId,
};
use proptest::prelude::*;

/// An attribute with owned values, turned into a borrowed [`Attribute`] for building.
#[derive(Debug, Clone)]
enum Owned {
    Addr(u8, SocketAddr),
    Text(u8, String),
    UserHash([u8; 32]),
    ErrorCode(u16, String),
    U32(u8, u32),
    U64(bool, u64),
    Flag(bool),
    ChannelNumber(u16),
    Data(Vec<u8>),
    Family(bool, bool),
    EvenPort(bool),
    Transport(u8),
    Token([u8; 8]),
    Icmp(u8, u8, u32),
    PasswordAlgorithm(u16, Vec<u8>),
    Unknown(u16, Vec<u8>),
}

impl Owned {
    fn attr(&self) -> Attribute<'_> {
        match self {
            Owned::Addr(k, a) => match k % 5 {
                0 => Attribute::MappedAddress(*a),
                1 => Attribute::XorMappedAddress(*a),
                2 => Attribute::AlternateServer(*a),
                3 => Attribute::XorPeerAddress(*a),
                _ => Attribute::XorRelayedAddress(*a),
            },
            Owned::Text(k, s) => match k % 5 {
                0 => Attribute::Username(s),
                1 => Attribute::Realm(s),
                2 => Attribute::Nonce(s),
                3 => Attribute::Software(s),
                _ => Attribute::AlternateDomain(s),
            },
            Owned::UserHash(h) => Attribute::UserHash(h),
            Owned::ErrorCode(code, reason) => Attribute::ErrorCode(ErrorCode {
                code: *code,
                reason,
            }),
            Owned::U32(k, v) => match k % 2 {
                0 => Attribute::Priority(*v),
                _ => Attribute::Lifetime(*v),
            },
            Owned::U64(controlling, v) => {
                if *controlling {
                    Attribute::IceControlling(*v)
                } else {
                    Attribute::IceControlled(*v)
                }
            }
            Owned::Flag(k) => {
                if *k {
                    Attribute::UseCandidate
                } else {
                    Attribute::DontFragment
                }
            }
            Owned::ChannelNumber(n) => Attribute::ChannelNumber(*n),
            Owned::Data(d) => Attribute::Data(d),
            Owned::Family(additional, v6) => {
                let f = if *v6 {
                    AddressFamily::V6
                } else {
                    AddressFamily::V4
                };
                if *additional {
                    Attribute::AdditionalAddressFamily(f)
                } else {
                    Attribute::RequestedAddressFamily(f)
                }
            }
            Owned::EvenPort(r) => Attribute::EvenPort { reserve: *r },
            Owned::Transport(p) => Attribute::RequestedTransport(*p),
            Owned::Token(t) => Attribute::ReservationToken(*t),
            Owned::Icmp(t, c, d) => Attribute::Icmp {
                icmp_type: *t,
                code: *c,
                error_data: *d,
            },
            Owned::PasswordAlgorithm(a, p) => Attribute::PasswordAlgorithm(PasswordAlgorithm {
                algorithm: PasswordAlgorithmId(*a),
                parameters: p,
            }),
            Owned::Unknown(t, v) => Attribute::Unknown {
                attr: AttributeType(*t),
                value: v,
            },
        }
    }
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<u32>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)),
        (any::<u128>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port)),
    ]
}

fn owned() -> impl Strategy<Value = Owned> {
    prop_oneof![
        (any::<u8>(), socket_addr()).prop_map(|(k, a)| Owned::Addr(k, a)),
        (any::<u8>(), "\\PC{0,40}").prop_map(|(k, s)| Owned::Text(k, s)),
        any::<[u8; 32]>().prop_map(Owned::UserHash),
        (0u16..800, "\\PC{0,20}").prop_map(|(c, r)| Owned::ErrorCode(c, r)),
        (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Owned::U32(k, v)),
        (any::<bool>(), any::<u64>()).prop_map(|(k, v)| Owned::U64(k, v)),
        any::<bool>().prop_map(Owned::Flag),
        any::<u16>().prop_map(Owned::ChannelNumber),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Owned::Data),
        (any::<bool>(), any::<bool>()).prop_map(|(a, b)| Owned::Family(a, b)),
        any::<bool>().prop_map(Owned::EvenPort),
        any::<u8>().prop_map(Owned::Transport),
        any::<[u8; 8]>().prop_map(Owned::Token),
        (any::<u8>(), any::<u8>(), any::<u32>()).prop_map(|(t, c, d)| Owned::Icmp(t, c, d)),
        (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..9))
            .prop_map(|(a, p)| Owned::PasswordAlgorithm(a, p)),
        (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..12))
            .prop_filter("unknown types only", |(t, _)| !AttributeType(*t).is_known())
            .prop_map(|(t, v)| Owned::Unknown(t, v)),
    ]
}

#[derive(Debug, Clone, Copy)]
struct Trailer {
    integrity: bool,
    integrity_sha256: Option<usize>,
    fingerprint: bool,
}

fn trailer() -> impl Strategy<Value = Trailer> {
    (
        any::<bool>(),
        proptest::option::of(prop_oneof![
            Just(16usize),
            Just(20),
            Just(24),
            Just(28),
            Just(32)
        ]),
        any::<bool>(),
    )
        .prop_map(|(integrity, integrity_sha256, fingerprint)| Trailer {
            integrity,
            integrity_sha256,
            fingerprint,
        })
}

fn build(
    mt: MessageType,
    txid: TransactionId,
    padding: u8,
    attrs: &[Attribute<'_>],
    key: &IntegrityKey,
    t: Trailer,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, mt, txid).with_padding(padding);
    for a in attrs {
        b.add(a).unwrap();
    }
    if t.integrity {
        b.add_message_integrity(key).unwrap();
    }
    if let Some(len) = t.integrity_sha256 {
        b.add_message_integrity_sha256_truncated(key, len).unwrap();
    }
    if t.fingerprint {
        b.add_fingerprint().unwrap();
    }
    out
}

proptest! {
    #[test]
    fn builder_to_view_round_trip(
        method in 0u16..=0x0FFF,
        class in 0u16..4,
        txid in any::<[u8; 12]>(),
        padding in any::<u8>(),
        owned in proptest::collection::vec(owned(), 0..12),
        password in "\\PC{0,16}",
        t in trailer(),
    ) {
        let mt = MessageType::new(Class::from_bits(class), Method::new(method).unwrap());
        let txid = TransactionId(txid);
        let key = IntegrityKey::short_term(&password);
        let attrs: Vec<Attribute<'_>> = owned.iter().map(Owned::attr).collect();
        let out = build(mt, txid, padding, &attrs, &key, t);

        let msg = Message::new_checked(&out).unwrap();
        prop_assert_eq!(msg.message_type(), mt);
        prop_assert_eq!(msg.transaction_id(), txid);
        let body: Vec<Attribute<'_>> = msg
            .attributes()
            .filter(|a| {
                ![
                    AttributeType::MESSAGE_INTEGRITY,
                    AttributeType::MESSAGE_INTEGRITY_SHA256,
                    AttributeType::FINGERPRINT,
                ]
                .contains(&a.attribute_type())
            })
            .collect();
        prop_assert_eq!(&body, &attrs);
        prop_assert_eq!(msg.has_integrity(), t.integrity);
        prop_assert_eq!(msg.has_integrity_sha256(), t.integrity_sha256.is_some());
        if t.integrity || t.integrity_sha256.is_some() {
            prop_assert!(msg.check_integrity(&key).is_ok());
            let other = IntegrityKey::short_term(&format!("{password}x"));
            prop_assert!(msg.check_integrity(&other).is_err());
        }
        if t.fingerprint {
            prop_assert!(msg.check_fingerprint().is_ok());
        }
        let unknown_required = attrs.iter().any(|a| {
            matches!(a, Attribute::Unknown { attr, .. } if attr.is_comprehension_required())
        });
        prop_assert_eq!(msg.require_known().is_err(), unknown_required);

        // Rebuilding from what was decoded gives the same bytes.
        let again = build(mt, txid, padding, &body, &key, t);
        prop_assert_eq!(again, out);
    }

    #[test]
    fn any_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..200), fix in any::<bool>()) {
        if fix && bytes.len() >= 20 {
            // Make the header valid so the attribute walk is reached.
            bytes[0] &= 0x3F;
            bytes[4..8].copy_from_slice(&0x2112_A442u32.to_be_bytes());
            let len = ((bytes.len() - 20) & !3) as u16;
            bytes.truncate(20 + usize::from(len));
            bytes[2..4].copy_from_slice(&len.to_be_bytes());
        }
        if let Ok(msg) = Message::new_checked(&bytes) {
            let key = IntegrityKey::short_term("k");
            let _ = msg.check_integrity(&key);
            let _ = msg.check_fingerprint();
            let _ = msg.require_known();
            let n = msg.attributes().count();
            let processed = msg.raw_attributes().filter(|r| matches!(r, Ok(r) if !r.ignored)).count();
            prop_assert_eq!(n, processed);
            let _ = format!("{msg:?}");
        }
        let _ = ChannelData::new_checked(&bytes);
        let _ = stream_frame_len(&bytes);
        let _ = rfc4571::decode(&bytes);
    }
}
