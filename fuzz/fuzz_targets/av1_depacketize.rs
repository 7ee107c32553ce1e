//! AV1 depacketize: arbitrary payload lists through the depacketizer and the frame
//! assembler; a temporal unit that comes out is packetized again and must depacketize to
//! itself.
#![no_main]

use ferrtc_rtp_codecs::SeqNo;
use ferrtc_rtp_codecs::codec::av1::{Av1Depacketizer, Av1Packetizer};
use ferrtc_rtp_codecs::codec::{Depacketizer, FrameAssembler, Packetizer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<(bool, Vec<u8>)>, u16)| {
    let (packets, max) = input;
    let refs: Vec<&[u8]> = packets.iter().map(|(_, p)| &p[..]).collect();
    let mut d = Av1Depacketizer::new();
    let mut tu = Vec::new();
    if d.depacketize(&refs, &mut tu).is_ok() {
        let max = usize::from(max).max(3);
        let mut pkts = Vec::new();
        // The output is low-overhead OBUs behind a temporal delimiter, which the packetizer
        // drops and the depacketizer writes back.
        Av1Packetizer::new()
            .packetize(&tu, max, &mut pkts)
            .expect("a depacketized temporal unit packetizes");
        let again: Vec<&[u8]> = pkts.iter().map(|b| &b[..]).collect();
        let mut back = Vec::new();
        d.depacketize(&again, &mut back)
            .expect("re-packetized temporal unit");
        assert_eq!(back, tu);
    }
    let mut a = FrameAssembler::new(Av1Depacketizer::new(), 64);
    for (i, (m, p)) in packets.iter().enumerate() {
        a.push(SeqNo(i as u16), (i / 3) as u32, *m, p);
    }
    while a.poll_frame().is_some() {}
});
