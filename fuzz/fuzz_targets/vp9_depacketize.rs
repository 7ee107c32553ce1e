//! VP9 depacketize: arbitrary payload lists through the depacketizer and the frame
//! assembler; a frame that comes out is packetized again (both modes) and must depacketize
//! to itself.
#![no_main]

use ferrtc_rtp_codecs::SeqNo;
use ferrtc_rtp_codecs::codec::vp9::{Vp9Depacketizer, Vp9Mode, Vp9Packetizer};
use ferrtc_rtp_codecs::codec::{Depacketizer, FrameAssembler, Packetizer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<(bool, Vec<u8>)>, u16)| {
    let (packets, max) = input;
    let refs: Vec<&[u8]> = packets.iter().map(|(_, p)| &p[..]).collect();
    let mut d = Vp9Depacketizer::new();
    let mut frame = Vec::new();
    if d.depacketize(&refs, &mut frame).is_ok() {
        let max = usize::from(max).max(8);
        for mode in [Vp9Mode::NonFlexible, Vp9Mode::Flexible] {
            let mut pkts = Vec::new();
            Vp9Packetizer::new(mode, 0)
                .packetize(&frame, max, &mut pkts)
                .expect("a depacketized frame is not empty");
            let again: Vec<&[u8]> = pkts.iter().map(|b| &b[..]).collect();
            let mut back = Vec::new();
            d.depacketize(&again, &mut back)
                .expect("re-packetized frame");
            assert_eq!(back, frame);
        }
    }
    let mut a = FrameAssembler::new(Vp9Depacketizer::new(), 64);
    for (i, (m, p)) in packets.iter().enumerate() {
        a.push(SeqNo(i as u16), (i / 3) as u32, *m, p);
    }
    while a.poll_frame().is_some() {}
});
