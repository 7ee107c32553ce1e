//! Interop with an implementation written elsewhere: webrtc-rs's `stun` crate decodes and
//! verifies what ferrtc builds, and ferrtc decodes and verifies what webrtc-rs builds.

use std::net::SocketAddr;

use ferrtc_stun_ice::stun::{
    Attribute, AttributeType, Class, ErrorCode, IntegrityKey, Message, MessageBuilder, MessageType,
    Method, TransactionId,
};
use stun::attributes::{
    ATTR_ICE_CONTROLLING, ATTR_NONCE, ATTR_PRIORITY, ATTR_REALM, ATTR_SOFTWARE, ATTR_USERNAME,
};
use stun::fingerprint::FINGERPRINT;
use stun::integrity::MessageIntegrity;
use stun::message::{BINDING_REQUEST, BINDING_SUCCESS, Getter, Message as WMessage, Setter};
use stun::textattrs::TextAttribute;
use stun::xoraddr::XorMappedAddress;

const PWD: &str = "asd88jd7a9kfjd8sa7fd9a8s";

#[test]
fn webrtc_rs_verifies_what_ferrtc_builds() {
    let key = IntegrityKey::short_term(PWD);
    for addr in ["203.0.113.7:54321", "[2001:db8::42]:3478"] {
        let addr: SocketAddr = addr.parse().unwrap();
        let mut out = Vec::new();
        // Odd-length texts exercise padding.
        MessageBuilder::new(
            &mut out,
            MessageType::new(Class::SuccessResponse, Method::BINDING),
            TransactionId([0x5a; 12]),
        )
        .add(&Attribute::Username("abcd:efg"))
        .unwrap()
        .add(&Attribute::Software("ferrtc 0.1 interop"))
        .unwrap()
        .add(&Attribute::XorMappedAddress(addr))
        .unwrap()
        .add(&Attribute::Priority(0x6e7f_1eff))
        .unwrap()
        .add(&Attribute::IceControlling(0x0102_0304_0506_0708))
        .unwrap()
        .add_message_integrity(&key)
        .unwrap()
        .add_fingerprint()
        .unwrap();

        let mut m = WMessage::new();
        m.unmarshal_binary(&out).unwrap();
        assert_eq!(m.typ, BINDING_SUCCESS);
        assert_eq!(m.transaction_id.0, [0x5a; 12]);
        MessageIntegrity::new_short_term_integrity(PWD.to_owned())
            .check(&mut m)
            .unwrap();
        FINGERPRINT.check(&m).unwrap();
        assert!(
            MessageIntegrity::new_short_term_integrity("wrong".to_owned())
                .check(&mut m)
                .is_err()
        );
        let user = TextAttribute::get_from_as(&m, ATTR_USERNAME).unwrap();
        assert_eq!(user.text, "abcd:efg");
        let sw = TextAttribute::get_from_as(&m, ATTR_SOFTWARE).unwrap();
        assert_eq!(sw.text, "ferrtc 0.1 interop");
        let mut xor = XorMappedAddress::default();
        xor.get_from(&m).unwrap();
        assert_eq!(SocketAddr::new(xor.ip, xor.port), addr);
        assert_eq!(m.get(ATTR_PRIORITY).unwrap(), 0x6e7f_1effu32.to_be_bytes());
        assert_eq!(
            m.get(ATTR_ICE_CONTROLLING).unwrap(),
            0x0102_0304_0506_0708u64.to_be_bytes()
        );
    }
}

#[test]
fn ferrtc_verifies_what_webrtc_rs_builds() {
    for addr in ["198.51.100.9:40000", "[fe80::1:2:3:4]:9"] {
        let addr: SocketAddr = addr.parse().unwrap();
        let mut m = WMessage::new();
        let setters: Vec<Box<dyn Setter>> = vec![
            Box::new(BINDING_REQUEST),
            Box::new(stun::agent::TransactionId([9; 12])),
            Box::new(TextAttribute::new(ATTR_USERNAME, "u1:u2".to_owned())),
            Box::new(TextAttribute::new(ATTR_SOFTWARE, "webrtc-rs".to_owned())),
            Box::new(XorMappedAddress {
                ip: addr.ip(),
                port: addr.port(),
            }),
            Box::new(MessageIntegrity::new_short_term_integrity(PWD.to_owned())),
            Box::new(FINGERPRINT),
        ];
        m.build(&setters).unwrap();
        let bytes = m.marshal_binary().unwrap();

        let msg = Message::new_checked(&bytes).unwrap();
        assert_eq!(
            (msg.class(), msg.method()),
            (Class::Request, Method::BINDING)
        );
        assert_eq!(msg.transaction_id(), TransactionId([9; 12]));
        msg.require_known().unwrap();
        msg.check_fingerprint().unwrap();
        msg.check_integrity(&IntegrityKey::short_term(PWD)).unwrap();
        assert!(
            msg.check_integrity(&IntegrityKey::short_term("nope"))
                .is_err()
        );
        assert_eq!(msg.username(), Some("u1:u2"));
        assert_eq!(msg.software(), Some("webrtc-rs"));
        assert_eq!(msg.xor_mapped_address(), Some(addr));
    }
}

#[test]
fn long_term_credentials_agree() {
    let (user, realm, pass, nonce) = ("alice", "interop", "s3cret", "c0ffee-nonce");
    // webrtc-rs builds, ferrtc checks.
    let mut m = WMessage::new();
    let setters: Vec<Box<dyn Setter>> = vec![
        Box::new(BINDING_REQUEST),
        Box::new(stun::agent::TransactionId([1; 12])),
        Box::new(TextAttribute::new(ATTR_USERNAME, user.to_owned())),
        Box::new(TextAttribute::new(ATTR_REALM, realm.to_owned())),
        Box::new(TextAttribute::new(ATTR_NONCE, nonce.to_owned())),
        Box::new(MessageIntegrity::new_long_term_integrity(
            user.to_owned(),
            realm.to_owned(),
            pass.to_owned(),
        )),
    ];
    m.build(&setters).unwrap();
    let bytes = m.marshal_binary().unwrap();
    let msg = Message::new_checked(&bytes).unwrap();
    msg.check_integrity(&IntegrityKey::long_term(user, realm, pass))
        .unwrap();
    assert_eq!(msg.nonce(), Some(nonce));

    // ferrtc builds (an Allocate error response with ERROR-CODE), webrtc-rs checks.
    let key = IntegrityKey::long_term(user, realm, pass);
    let mut out = Vec::new();
    MessageBuilder::new(
        &mut out,
        MessageType::new(Class::ErrorResponse, Method::ALLOCATE),
        TransactionId([2; 12]),
    )
    .add(&Attribute::ErrorCode(ErrorCode {
        code: ErrorCode::STALE_NONCE,
        reason: "Stale Nonce",
    }))
    .unwrap()
    .add(&Attribute::Realm(realm))
    .unwrap()
    .add(&Attribute::Nonce(nonce))
    .unwrap()
    .add_message_integrity(&key)
    .unwrap();
    let mut m = WMessage::new();
    m.unmarshal_binary(&out).unwrap();
    MessageIntegrity::new_long_term_integrity(user.to_owned(), realm.to_owned(), pass.to_owned())
        .check(&mut m)
        .unwrap();
    let mut ec = stun::error_code::ErrorCodeAttribute::default();
    ec.get_from(&m).unwrap();
    assert_eq!(ec.code.0, 438);
    assert_eq!(ec.reason, b"Stale Nonce");
    assert!(
        Message::new_checked(&out)
            .unwrap()
            .contains(AttributeType::NONCE)
    );
}
