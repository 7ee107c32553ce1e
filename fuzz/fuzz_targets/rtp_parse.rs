//! RTP parse: any bytes through `RtpPacket::new_checked`; where it succeeds, the header is
//! read as values and re-emitted with the payload and padding count, which must give the same
//! bytes (padding contents aside), and every extension element is decoded under a map
//! holding every known kind, re-encoded and decoded again to the same value. The packet is
//! also wrapped as an RTX packet and unwrapped in place.
#![no_main]

use ferrtc_rtp_codecs::{ExtensionId, ExtensionKind, ExtensionMap, RtpHeader, RtpPacket};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = RtpPacket::new_checked(data) else {
        let _ = RtpPacket::new_checked_header(data);
        return;
    };
    let h = RtpHeader::parse(&p);
    let mut out = vec![0u8; data.len()];
    // A checked packet's padding count fits one octet.
    let pad = u8::try_from(p.padding_len()).expect("padding count is one octet");
    let n = h
        .emit_packet(p.payload(), pad, &mut out)
        .expect("re-emit of a parsed header");
    assert_eq!(n, data.len());
    let keep = n - p.padding_len();
    assert_eq!(&out[..keep], &data[..keep]);
    let q = RtpPacket::new_checked(&out[..n]).expect("re-emitted packet parses");
    assert_eq!(RtpHeader::parse(&q), h);

    // RTX (RFC 4588): wrap, then unwrap in place, gives the same header and payload.
    let mut rtx = vec![0u8; data.len() + 2];
    let pt = ferrtc_rtp_codecs::PayloadType::new(99).expect("7 bits");
    let n = ferrtc_rtp_codecs::rtx::encapsulate(
        &p,
        pt,
        ferrtc_rtp_codecs::Ssrc(5),
        ferrtc_rtp_codecs::SeqNo(1),
        &mut rtx,
    )
    .expect("room for header, OSN and payload");
    let at =
        ferrtc_rtp_codecs::rtx::decapsulate_in_place(&mut rtx[..n], p.payload_type(), p.ssrc())
            .expect("unwrap what was wrapped");
    let back = RtpPacket::new_checked(&rtx[at..n]).expect("unwrapped packet parses");
    assert_eq!(RtpHeader::parse(&back), h);
    assert_eq!(back.payload(), p.payload());

    let mut map = ExtensionMap::new();
    for (id, k) in (1..).filter_map(ExtensionId::new).zip(ExtensionKind::ALL) {
        map.insert(id, k);
    }
    if let Some(ext) = p.extension() {
        for e in ext.elements().flatten() {
            if let Some(Ok(v)) = map.decode(e) {
                let mut buf = [0u8; ferrtc_rtp_codecs::ext::MAX_VALUE_LEN];
                let len = v.write_value(&mut buf);
                let kind = map.kind(e.id).expect("decoded, so mapped");
                let back = ferrtc_rtp_codecs::Extension::parse(kind, &buf[..len]);
                assert_eq!(back, Ok(v), "typed value re-encodes");
            }
        }
    }
});
