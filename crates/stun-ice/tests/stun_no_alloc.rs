//! Decoding and checking a STUN message, and building one into a buffer with room, allocate
//! nothing: a counting global allocator watches the path an ICE agent runs per check.

use ferrtc_stun_ice::framing::{self, ChannelData};
use ferrtc_stun_ice::stun::{
    Attribute, Class, IntegrityKey, Message, MessageBuilder, MessageType, Method, TransactionId,
};
use ferrtc_test_alloc::allocations;

// The counting allocator lives in `ferrtc-test-alloc`; counts are per thread.
#[global_allocator]
static GLOBAL: ferrtc_test_alloc::Counting = ferrtc_test_alloc::Counting;

fn build(out: &mut Vec<u8>, key: &IntegrityKey, txid: TransactionId) -> usize {
    out.clear();
    let mut b = MessageBuilder::new(out, MessageType::new(Class::Request, Method::BINDING), txid);
    b.add(&Attribute::Username("remote:local"))
        .unwrap()
        .add(&Attribute::Priority(0x6e00_01ff))
        .unwrap()
        .add(&Attribute::IceControlling(7))
        .unwrap()
        .add(&Attribute::UseCandidate)
        .unwrap()
        .add(&Attribute::XorMappedAddress(
            "[2001:db8::1]:5000".parse().unwrap(),
        ))
        .unwrap()
        .add_message_integrity(key)
        .unwrap()
        .add_message_integrity_sha256(key)
        .unwrap()
        .add_fingerprint()
        .unwrap();
    b.finish().len()
}

#[test]
fn check_and_build_do_not_allocate() {
    let base = allocations();
    let probe = std::hint::black_box(vec![0u8; 64]);
    assert!(allocations() > base, "counting allocator is active");
    drop(probe);

    let key = IntegrityKey::short_term("password");
    let wrong = IntegrityKey::short_term("wrong");
    let mut out = Vec::with_capacity(512);
    let mut frames = Vec::with_capacity(512);
    let before = allocations();
    for i in 0..1000u32 {
        let mut txid = [0u8; 12];
        txid[..4].copy_from_slice(&i.to_be_bytes());
        let len = build(&mut out, &key, TransactionId(txid));
        assert!(framing::is_stun(&out[..len]));
        let msg = Message::new_checked(&out[..len]).unwrap();
        msg.check_integrity(&key).unwrap();
        assert!(msg.check_integrity(&wrong).is_err());
        msg.check_fingerprint().unwrap();
        msg.require_known().unwrap();
        assert_eq!(msg.username(), Some("remote:local"));
        assert!(msg.use_candidate());
        assert_eq!(msg.attributes().count(), 8);

        frames.clear();
        ChannelData {
            channel: 0x4000,
            data: &out[..len],
        }
        .encode(true, &mut frames)
        .unwrap();
        let cd = ChannelData::new_checked(&frames).unwrap();
        assert_eq!(cd.data.len(), len);
        // A rejected message allocates nothing either.
        assert!(Message::new_checked(&frames).is_err());
    }
    assert_eq!(allocations() - before, 0, "the STUN path allocated");
}
