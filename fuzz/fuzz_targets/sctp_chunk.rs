//! SCTP packet and chunk parser (and DCEP): whatever parses re-emits to bytes that parse to the
//! same representation.
#![no_main]

use bytes::BytesMut;
use ferrtc_sctp_datachannel::DcepMessage;
use ferrtc_sctp_datachannel::wire::{ChunkRepr, Chunks, Packet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let _ = p.verify_checksum();
        let _ = (p.src_port(), p.dst_port(), p.verification_tag());
    }
    for c in Chunks::new(data) {
        let Ok(c) = c else { break };
        let Ok(repr) = ChunkRepr::parse(c) else {
            continue;
        };
        let mut out = BytesMut::new();
        repr.emit(&mut out);
        assert_eq!(out.len(), repr.buffer_len());
        let again = Chunks::new(&out).next().unwrap().unwrap();
        assert_eq!(ChunkRepr::parse(again).unwrap(), repr);
    }
    if let Ok(m) = DcepMessage::parse(data) {
        let mut out = BytesMut::new();
        m.emit(&mut out);
        assert_eq!(&out[..], data);
    }
});
