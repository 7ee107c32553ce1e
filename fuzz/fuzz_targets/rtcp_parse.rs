//! RTCP parse: any bytes through the compound iterator; every packet that parses is
//! re-emitted, and the re-emitted bytes must parse to an equal packet and re-emit to the
//! same bytes. The compound-packet check runs in both modes.
#![no_main]

use ferrtc_rtp_codecs::rtcp::Compound;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let full = ferrtc_rtp_codecs::rtcp::check_compound(data, false).is_ok();
    let reduced = ferrtc_rtp_codecs::rtcp::check_compound(data, true).is_ok();
    // The full compound rules are stricter than reduced-size ones.
    assert!(!full || reduced);
    for pkt in Compound::new(data).flatten() {
        let mut out = Vec::new();
        let n = pkt.emit_vec(&mut out).expect("re-emit of a parsed packet");
        assert_eq!(n, pkt.buffer_len());
        let mut it = Compound::new(&out);
        let back = it
            .next()
            .expect("one packet")
            .expect("re-emitted packet parses");
        assert!(it.next().is_none());
        assert_eq!(back, pkt);
        let mut again = Vec::new();
        back.emit_vec(&mut again).expect("second re-emit");
        assert_eq!(again, out);
    }
});
