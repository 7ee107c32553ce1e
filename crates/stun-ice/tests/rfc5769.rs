//! RFC 5769 test vectors (and RFC 8489 appendix B.1): decode, integrity and fingerprint
//! checks, and byte-exact rebuilding with the builder.

use ferrtc_stun_ice::stun::{
    Attribute, AttributeType, Class, Error, IntegrityKey, Message, MessageBuilder, MessageType,
    Method, PasswordAlgorithmId, TransactionId, long_term_key_sha256, userhash,
};
use hex_literal::hex;

const PASSWORD: &str = "VOkJxbRl1RmTxUk/WvJxBt";
const TXID: TransactionId = TransactionId(hex!("b7e7a701bc34d686fa87dfae"));

/// RFC 5769 section 2.1, Sample Request.
const REQUEST: [u8; 108] = hex!(
    "00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74"
    "00 24 00 04 6e 00 01 ff"
    "80 29 00 08 93 2f f9 b1 51 26 3b 36"
    "00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20"
    "00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2"
    "80 28 00 04 e5 7a 3b cf"
);

/// RFC 5769 section 2.2, Sample IPv4 Response.
const RESPONSE_V4: [u8; 80] = hex!(
    "01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
    "00 20 00 08 00 01 a1 47 e1 12 a6 43"
    "00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7"
    "80 28 00 04 c0 7d 4c 96"
);

/// RFC 5769 section 2.3, Sample IPv6 Response.
const RESPONSE_V6: [u8; 92] = hex!(
    "01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
    "00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9"
    "00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41"
    "80 28 00 04 c8 fb 0b 4c"
);

/// RFC 5769 section 2.4, Sample Request with Long-Term Authentication.
const LONG_TERM_REQUEST: [u8; 116] = hex!(
    "00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e"
    "00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00"
    "00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41"
    "00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00"
    "00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66"
);

/// The username of section 2.4, "マトリックス".
const LT_USERNAME: &str = "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}";
/// The password of section 2.4 after SASLprep.
const LT_PASSWORD: &str = "TheMatrIX";
const LT_NONCE: &str = "f//499k954d6OL34oL9FSTvy64sA";
const LT_REALM: &str = "example.org";

fn build(
    class: Class,
    txid: TransactionId,
    padding: u8,
    attrs: &[Attribute<'_>],
    key: &IntegrityKey,
    fingerprint: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, MessageType::new(class, Method::BINDING), txid)
        .with_padding(padding);
    for a in attrs {
        b.add(a).unwrap();
    }
    b.add_message_integrity(key).unwrap();
    if fingerprint {
        b.add_fingerprint().unwrap();
    }
    out
}

#[test]
fn sample_request_decodes_and_verifies() {
    let msg = Message::new_checked(&REQUEST).unwrap();
    assert_eq!(msg.class(), Class::Request);
    assert_eq!(msg.method(), Method::BINDING);
    assert_eq!(msg.transaction_id(), TXID);
    let attrs: Vec<_> = msg.attributes().collect();
    assert_eq!(
        attrs,
        [
            Attribute::Software("STUN test client"),
            Attribute::Priority(0x6e00_01ff),
            Attribute::IceControlled(0x932f_f9b1_5126_3b36),
            Attribute::Username("evtj:h6vY"),
            Attribute::MessageIntegrity(&hex!("9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2")),
            Attribute::Fingerprint(0xe57a_3bcf),
        ]
    );
    msg.require_known().unwrap();
    msg.check_fingerprint().unwrap();
    msg.check_integrity(&IntegrityKey::short_term(PASSWORD))
        .unwrap();
}

#[test]
fn sample_request_rebuilds_byte_for_byte() {
    let out = build(
        Class::Request,
        TXID,
        0x20,
        &[
            Attribute::Software("STUN test client"),
            Attribute::Priority(0x6e00_01ff),
            Attribute::IceControlled(0x932f_f9b1_5126_3b36),
            Attribute::Username("evtj:h6vY"),
        ],
        &IntegrityKey::short_term(PASSWORD),
        true,
    );
    assert_eq!(out, REQUEST);
}

#[test]
fn sample_ipv4_response() {
    let msg = Message::new_checked(&RESPONSE_V4).unwrap();
    assert_eq!(msg.class(), Class::SuccessResponse);
    assert_eq!(msg.software(), Some("test vector"));
    assert_eq!(
        msg.xor_mapped_address(),
        Some("192.0.2.1:32853".parse().unwrap())
    );
    msg.check_fingerprint().unwrap();
    msg.check_integrity(&IntegrityKey::short_term(PASSWORD))
        .unwrap();

    let out = build(
        Class::SuccessResponse,
        TXID,
        0x20,
        &[
            Attribute::Software("test vector"),
            Attribute::XorMappedAddress("192.0.2.1:32853".parse().unwrap()),
        ],
        &IntegrityKey::short_term(PASSWORD),
        true,
    );
    assert_eq!(out, RESPONSE_V4);
}

#[test]
fn sample_ipv6_response() {
    let msg = Message::new_checked(&RESPONSE_V6).unwrap();
    let addr = "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
        .parse()
        .unwrap();
    assert_eq!(msg.xor_mapped_address(), Some(addr));
    msg.check_fingerprint().unwrap();
    msg.check_integrity(&IntegrityKey::short_term(PASSWORD))
        .unwrap();

    let out = build(
        Class::SuccessResponse,
        TXID,
        0x20,
        &[
            Attribute::Software("test vector"),
            Attribute::XorMappedAddress(addr),
        ],
        &IntegrityKey::short_term(PASSWORD),
        true,
    );
    assert_eq!(out, RESPONSE_V6);
}

#[test]
fn sample_long_term_request() {
    let msg = Message::new_checked(&LONG_TERM_REQUEST).unwrap();
    assert_eq!(msg.username(), Some(LT_USERNAME));
    assert_eq!(msg.nonce(), Some(LT_NONCE));
    assert_eq!(msg.realm(), Some(LT_REALM));
    assert!(!msg.has_fingerprint());
    assert_eq!(msg.check_fingerprint(), Err(Error::MissingFingerprint));
    let key = IntegrityKey::long_term(LT_USERNAME, LT_REALM, LT_PASSWORD);
    msg.check_integrity(&key).unwrap();

    let txid = TransactionId(hex!("78ad3433c6ad72c029da412e"));
    let out = build(
        Class::Request,
        txid,
        0x00,
        &[
            Attribute::Username(LT_USERNAME),
            Attribute::Nonce(LT_NONCE),
            Attribute::Realm(LT_REALM),
        ],
        &key,
        false,
    );
    assert_eq!(out, LONG_TERM_REQUEST);
}

#[test]
fn wrong_key_is_rejected_with_a_typed_error() {
    for v in [&REQUEST[..], &RESPONSE_V4, &RESPONSE_V6] {
        let msg = Message::new_checked(v).unwrap();
        assert_eq!(
            msg.check_integrity(&IntegrityKey::short_term("VOkJxbRl1RmTxUk/WvJxBu")),
            Err(Error::IntegrityMismatch)
        );
        assert_eq!(
            msg.check_integrity(&IntegrityKey::short_term("")),
            Err(Error::IntegrityMismatch)
        );
    }
    let msg = Message::new_checked(&LONG_TERM_REQUEST).unwrap();
    // The password before SASLprep is not the key.
    let wrong = IntegrityKey::long_term(LT_USERNAME, LT_REALM, "The\u{00AD}M\u{00AA}tr\u{2168}");
    assert_eq!(msg.check_integrity(&wrong), Err(Error::IntegrityMismatch));
}

#[test]
fn tampering_any_byte_is_caught() {
    let key = IntegrityKey::short_term(PASSWORD);
    for i in 0..REQUEST.len() {
        let mut m = REQUEST;
        m[i] ^= 0x01;
        let Ok(msg) = Message::new_checked(&m) else {
            // Header or structure broken: rejected before any check.
            continue;
        };
        // Every byte is covered by the CRC, and every byte before MESSAGE-INTEGRITY (padding
        // included) by the HMAC; a changed attribute header makes the check attribute vanish,
        // which fails too.
        assert!(
            msg.check_fingerprint().is_err(),
            "byte {i} changed but FINGERPRINT passed"
        );
        if i < REQUEST.len() - 8 {
            assert!(
                msg.check_integrity(&key).is_err(),
                "byte {i} changed but MESSAGE-INTEGRITY passed"
            );
        }
    }
}

#[test]
fn rfc8489_appendix_b1_vector() {
    // RFC 8489 appendix B.1 (USERHASH, MESSAGE-INTEGRITY-SHA256). As printed, its header
    // length (0x9c) does not match the 0x88 bytes of attributes it lists, so the message is
    // rejected; its HMAC was computed with that 0x9c length and the SHA-256 long-term key
    // (algorithm 0x0002) although no PASSWORD-ALGORITHM is present. Both are checked here:
    // the rejection, USERHASH and the other attributes with the length corrected, and the
    // printed HMAC recomputed from `long_term_key_sha256` over the printed bytes.
    let mut v = hex!(
        "00 01 00 9c 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e"
        "00 1e 00 20 4a 3c f3 8f ef 69 92 bd a9 52 c6 78 04 17 da 0f 24 81 94 15 56 9e 60 b2 05 c4 6e 41 40 7f 17 04"
        "00 15 00 29 6f 62 4d 61 74 4a 6f 73 32 41 41 41 43 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41 00 00 00"
        "00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00"
        "00 1c 00 20 e4 68 6c 8f 0e de b5 90 13 e0 70 90 01 0a 93 ef cc bc cc 54 4c 0a 45 d9 f8 30 aa 6d 6f 73 5a 01"
    );
    assert_eq!(
        Message::new_checked(&v).unwrap_err(),
        Error::LengthMismatch {
            declared: 0x9c,
            actual: 0x88
        }
    );
    let mi_offset = v.len() - 36;
    let key = long_term_key_sha256(LT_USERNAME, LT_REALM, LT_PASSWORD);
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
        &v[..mi_offset],
    );
    assert_eq!(tag.as_ref(), &v[mi_offset + 4..]);

    v[3] = 0x88;
    let msg = Message::new_checked(&v).unwrap();
    assert_eq!(msg.userhash(), Some(&userhash(LT_USERNAME, LT_REALM)));
    assert_eq!(
        msg.nonce(),
        Some("obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA")
    );
    assert_eq!(msg.realm(), Some(LT_REALM));
    assert!(msg.has_integrity_sha256() && !msg.has_integrity());
    assert!(msg.contains(AttributeType::MESSAGE_INTEGRITY_SHA256));
    // With the corrected length the HMAC input differs, so the printed value cannot match.
    let ikey = IntegrityKey::long_term_with(
        PasswordAlgorithmId::SHA256,
        LT_USERNAME,
        LT_REALM,
        LT_PASSWORD,
    )
    .unwrap();
    assert_eq!(
        msg.check_integrity(&ikey),
        Err(Error::IntegritySha256Mismatch)
    );
}

#[test]
fn sha256_integrity_round_trip_long_term() {
    let key = IntegrityKey::long_term_with(
        PasswordAlgorithmId::SHA256,
        LT_USERNAME,
        LT_REALM,
        LT_PASSWORD,
    )
    .unwrap();
    let hash = userhash(LT_USERNAME, LT_REALM);
    let mut out = Vec::new();
    let txid = TransactionId(hex!("78ad3433c6ad72c029da412e"));
    MessageBuilder::new(
        &mut out,
        MessageType::new(Class::Request, Method::ALLOCATE),
        txid,
    )
    .add(&Attribute::UserHash(&hash))
    .unwrap()
    .add(&Attribute::Nonce(
        "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA",
    ))
    .unwrap()
    .add(&Attribute::Realm(LT_REALM))
    .unwrap()
    .add_message_integrity_sha256(&key)
    .unwrap()
    .add_fingerprint()
    .unwrap();
    let msg = Message::new_checked(&out).unwrap();
    msg.check_integrity(&key).unwrap();
    msg.check_fingerprint().unwrap();
    let md5 = IntegrityKey::long_term(LT_USERNAME, LT_REALM, LT_PASSWORD);
    assert_eq!(
        msg.check_integrity(&md5),
        Err(Error::IntegritySha256Mismatch)
    );
}
