//! H.264 depacketize: arbitrary payload lists through the depacketizer and the frame
//! assembler. An access unit that comes out is packetized again (modes 0 and 1) without
//! panicking.
#![no_main]

use ferrtc_rtp_codecs::SeqNo;
use ferrtc_rtp_codecs::codec::h264::{H264Depacketizer, H264Packetizer, PacketizationMode};
use ferrtc_rtp_codecs::codec::{Depacketizer, FrameAssembler, Packetizer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<(bool, Vec<u8>)>, u16)| {
    let (packets, max) = input;
    let refs: Vec<&[u8]> = packets.iter().map(|(_, p)| &p[..]).collect();
    let mut d = H264Depacketizer::new();
    let mut frame = Vec::new();
    if d.depacketize(&refs, &mut frame).is_ok() {
        let mut pkts = Vec::new();
        for mode in [
            PacketizationMode::SingleNal,
            PacketizationMode::NonInterleaved,
        ] {
            let _ = H264Packetizer::new(mode).packetize(&frame, usize::from(max), &mut pkts);
        }
        let again: Vec<&[u8]> = pkts.iter().map(|b| &b[..]).collect();
        let _ = d.depacketize(&again, &mut Vec::new());
    }
    let mut a = FrameAssembler::new(H264Depacketizer::new(), 64);
    for (i, (m, p)) in packets.iter().enumerate() {
        a.push(SeqNo(i as u16), (i / 3) as u32, *m, p);
    }
    while a.poll_frame().is_some() {}
});
