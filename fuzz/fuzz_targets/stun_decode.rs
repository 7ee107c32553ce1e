//! STUN decode: any bytes through `Message::new_checked`; where it succeeds, every check runs,
//! the processed attributes are rebuilt with `MessageBuilder`, and the rebuilt message must
//! decode to the same attributes and re-encode to the same bytes. ChannelData and the stream
//! framers get the same bytes.
#![no_main]

use ferrtc_stun_ice::framing::{self, ChannelData};
use ferrtc_stun_ice::stun::{Attribute, IntegrityKey, Message, MessageBuilder};
use libfuzzer_sys::fuzz_target;

fn rebuild(msg: &Message<'_>, attrs: &[Attribute<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, msg.message_type(), msg.transaction_id());
    for a in attrs {
        // The view yields only attributes in an order a receiver processes, which is the
        // order the builder accepts, and never more bytes than the input had.
        b.add(a).expect("builder refused a decoded attribute");
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let _ = framing::is_stun(data);
    let _ = framing::classify(data);
    if let Ok(msg) = Message::new_checked(data) {
        let key = IntegrityKey::short_term("fuzz");
        let _ = msg.check_integrity(&key);
        let _ = msg.check_fingerprint();
        let _ = msg.require_known();
        let _ = format!("{msg:?}");
        for a in msg.attributes() {
            let _ = a.to_string();
        }

        let attrs: Vec<Attribute<'_>> = msg.attributes().collect();
        let out = rebuild(&msg, &attrs);
        assert!(out.len() <= data.len());
        let again = Message::new_checked(&out).expect("rebuilt message does not decode");
        let attrs2: Vec<Attribute<'_>> = again.attributes().collect();
        assert_eq!(attrs, attrs2);
        assert_eq!(again.message_type(), msg.message_type());
        assert_eq!(rebuild(&again, &attrs2), out);
    }
    if let Ok((cd, used)) = ChannelData::read(data) {
        let mut out = Vec::new();
        cd.encode(false, &mut out)
            .expect("decoded ChannelData does not encode");
        assert_eq!(&out[..], &data[..used]);
    }
    let _ = ChannelData::new_checked(data);
    let _ = framing::stream_frame_len(data);
    if let Some((packet, used)) = framing::rfc4571::decode(data) {
        assert_eq!(used, packet.len() + 2);
    }
});
