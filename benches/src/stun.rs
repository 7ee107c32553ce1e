//! STUN: decode a message and check its MESSAGE-INTEGRITY and FINGERPRINT, and build one,
//! ferrtc-stun-ice beside webrtc-rs's `stun` crate.

use std::hint::black_box;

use ferrtc_stun_ice::stun::{
    Attribute, Class, IntegrityKey, Message, MessageBuilder, MessageType, Method, TransactionId,
};
use stun::attributes::{ATTR_ICE_CONTROLLING, ATTR_PRIORITY, ATTR_USERNAME};
use stun::fingerprint::FINGERPRINT;
use stun::integrity::MessageIntegrity;
use stun::message::{BINDING_REQUEST, Message as WMessage, Setter};
use stun::textattrs::TextAttribute;

use crate::{Case, Config, Row, Unit, compare};

/// RFC 5769 section 2.1, Sample Request: SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
/// MESSAGE-INTEGRITY, FINGERPRINT.
pub const RFC5769_REQUEST: [u8; 108] = hex_literal::hex!(
    "00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74"
    "00 24 00 04 6e 00 01 ff"
    "80 29 00 08 93 2f f9 b1 51 26 3b 36"
    "00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20"
    "00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2"
    "80 28 00 04 e5 7a 3b cf"
);

/// The short-term password of the RFC 5769 vectors.
pub const PASSWORD: &str = "VOkJxbRl1RmTxUk/WvJxBt";

/// ferrtc: decode, check MESSAGE-INTEGRITY with a prepared key, check FINGERPRINT, read
/// USERNAME. True if everything passed.
pub fn check_ferrtc(bytes: &[u8], key: &IntegrityKey) -> bool {
    let Ok(msg) = Message::new_checked(bytes) else {
        return false;
    };
    msg.check_integrity(key).is_ok() && msg.check_fingerprint().is_ok() && msg.username().is_some()
}

/// webrtc-rs: decode into a reused message, check MESSAGE-INTEGRITY and FINGERPRINT, read
/// USERNAME. True if everything passed.
pub fn check_webrtc_rs(m: &mut WMessage, bytes: &[u8], integrity: &MessageIntegrity) -> bool {
    if m.unmarshal_binary(bytes).is_err() {
        return false;
    }
    integrity.check(m).is_ok()
        && FINGERPRINT.check(m).is_ok()
        && TextAttribute::get_from_as(m, ATTR_USERNAME).is_ok()
}

/// ferrtc: an ICE Binding request (USERNAME, PRIORITY, ICE-CONTROLLING, MESSAGE-INTEGRITY,
/// FINGERPRINT) written into a reused buffer; returns its length.
pub fn build_ferrtc(out: &mut Vec<u8>, key: &IntegrityKey, txid: TransactionId) -> usize {
    out.clear();
    let mut b = MessageBuilder::new(out, MessageType::new(Class::Request, Method::BINDING), txid);
    let built = b
        .add(&Attribute::Username("evtj:h6vY"))
        .and_then(|b| b.add(&Attribute::Priority(0x6e00_01ff)))
        .and_then(|b| b.add(&Attribute::IceControlling(0x932f_f9b1_5126_3b36)))
        .and_then(|b| b.add_message_integrity(key))
        .and_then(|b| b.add_fingerprint());
    match built {
        Ok(_) => b.finish().len(),
        Err(_) => 0,
    }
}

/// webrtc-rs: the same Binding request built into a reused message; returns its length.
pub fn build_webrtc_rs(m: &mut WMessage, integrity: &MessageIntegrity, txid: [u8; 12]) -> usize {
    m.reset();
    let setters: [&dyn Setter; 4] = [
        &BINDING_REQUEST,
        &stun::agent::TransactionId(txid),
        &TextAttribute::new(ATTR_USERNAME, "evtj:h6vY".to_owned()),
        integrity,
    ];
    // `Message::build` takes boxed setters; adding them one by one is the same work without
    // the boxes, which keeps the comparison about the codec.
    m.write_header();
    for s in &setters[..3] {
        if s.add_to(m).is_err() {
            return 0;
        }
    }
    m.add(ATTR_PRIORITY, &0x6e00_01ffu32.to_be_bytes());
    m.add(
        ATTR_ICE_CONTROLLING,
        &0x932f_f9b1_5126_3b36u64.to_be_bytes(),
    );
    if setters[3].add_to(m).is_err() || FINGERPRINT.add_to(m).is_err() {
        return 0;
    }
    m.raw.len()
}

/// The STUN group.
pub fn rows(cfg: &Config) -> Vec<Row> {
    let mut rows = Vec::new();
    let bytes = RFC5769_REQUEST;

    let key = IntegrityKey::short_term(PASSWORD);
    let integrity = MessageIntegrity::new_short_term_integrity(PASSWORD.to_owned());
    let mut wm = WMessage::new();
    rows.extend(compare(
        cfg,
        "decode + MESSAGE-INTEGRITY + FINGERPRINT check, RFC 5769 request (108 B)",
        Unit::Ops,
        Case::new("ferrtc", || {
            assert!(check_ferrtc(black_box(&bytes), black_box(&key)));
        }),
        vec![Case::new("stun 0.17 (webrtc-rs)", || {
            assert!(check_webrtc_rs(
                &mut wm,
                black_box(&bytes),
                black_box(&integrity)
            ));
        })],
    ));

    let mut wm = WMessage::new();
    rows.extend(compare(
        cfg,
        "same check, key derived from the password per message",
        Unit::Ops,
        Case::new("ferrtc", || {
            let key = IntegrityKey::short_term(black_box(PASSWORD));
            assert!(check_ferrtc(black_box(&bytes), &key));
        }),
        vec![Case::new("stun 0.17 (webrtc-rs)", || {
            let integrity =
                MessageIntegrity::new_short_term_integrity(black_box(PASSWORD).to_owned());
            assert!(check_webrtc_rs(&mut wm, black_box(&bytes), &integrity));
        })],
    ));

    let mut out = Vec::with_capacity(128);
    let mut wm = WMessage::new();
    let txid = [
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    ];
    rows.extend(compare(
        cfg,
        "build ICE Binding request with MESSAGE-INTEGRITY + FINGERPRINT",
        Unit::Ops,
        Case::new("ferrtc", || {
            assert_eq!(
                build_ferrtc(&mut out, black_box(&key), TransactionId(txid)),
                88
            );
        }),
        vec![Case::new("stun 0.17 (webrtc-rs)", || {
            assert_eq!(build_webrtc_rs(&mut wm, black_box(&integrity), txid), 88);
        })],
    ));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_verify_the_vector() {
        let key = IntegrityKey::short_term(PASSWORD);
        let integrity = MessageIntegrity::new_short_term_integrity(PASSWORD.to_owned());
        let mut m = WMessage::new();
        assert!(check_ferrtc(&RFC5769_REQUEST, &key));
        assert!(check_webrtc_rs(&mut m, &RFC5769_REQUEST, &integrity));
        // And both reject a wrong password, so the rows measure the success path.
        let wrong = IntegrityKey::short_term("wrong");
        assert!(!check_ferrtc(&RFC5769_REQUEST, &wrong));
        let wrong = MessageIntegrity::new_short_term_integrity("wrong".to_owned());
        assert!(!check_webrtc_rs(&mut m, &RFC5769_REQUEST, &wrong));
    }

    #[test]
    fn both_builders_make_the_same_valid_message() {
        let key = IntegrityKey::short_term(PASSWORD);
        let integrity = MessageIntegrity::new_short_term_integrity(PASSWORD.to_owned());
        let txid = [3u8; 12];
        let mut out = Vec::new();
        let mut m = WMessage::new();
        assert_eq!(build_ferrtc(&mut out, &key, TransactionId(txid)), 88);
        assert_eq!(build_webrtc_rs(&mut m, &integrity, txid), 88);
        assert_eq!(out, m.raw);
        assert!(check_ferrtc(&out, &key));
    }
}
