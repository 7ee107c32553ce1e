//! The RTP hot path allocates nothing: parsing, reading extensions, rewriting in place and
//! emitting a header into a caller buffer. So does walking a compound RTCP packet.

use ferrtc_rtp_codecs::rtcp::{Compound, RtcpPacket};
use ferrtc_rtp_codecs::{
    Extension, ExtensionForm, ExtensionId, ExtensionKind, ExtensionMap, ExtensionWriter, RtpHeader,
    RtpPacket, SeqNo,
};
use ferrtc_test_alloc::allocations;

// The counting allocator lives in `ferrtc-test-alloc`; counts are per thread.
#[global_allocator]
static GLOBAL: ferrtc_test_alloc::Counting = ferrtc_test_alloc::Counting;

/// A test's extension id (never 0).
fn ext_id(n: u8) -> ExtensionId {
    ExtensionId::new(n).expect("test ids are not 0")
}

#[test]
fn rtp_parse_and_rewrite_allocate_nothing() {
    let mut map = ExtensionMap::new();
    map.insert(ext_id(1), ExtensionKind::AudioLevel);
    map.insert(ext_id(3), ExtensionKind::TransportCc);
    map.insert(ext_id(4), ExtensionKind::Mid);
    let mut ext_store = [0u8; 32];
    let mut w = ExtensionWriter::new(&mut ext_store, ExtensionForm::OneByte);
    w.push(ext_id(1), &[0x85]).unwrap();
    w.push(ext_id(3), &[0x00, 0x07]).unwrap();
    w.push(ext_id(4), b"0").unwrap();
    w.push(ext_id(9), &[1, 2, 3]).unwrap();
    let ext = w.finish().unwrap();
    let header = RtpHeader {
        marker: true,
        payload_type: ferrtc_rtp_codecs::PayloadType::new(111).unwrap(),
        sequence_number: SeqNo(1),
        timestamp: 960,
        ssrc: ferrtc_rtp_codecs::Ssrc(42),
        csrcs: Default::default(),
        extension: Some(ext),
    };
    let mut datagram = vec![0u8; 1500];
    let n = header.emit_packet(&[0xab; 160], 0, &mut datagram).unwrap();
    datagram.truncate(n);
    let mut out = [0u8; 1500];
    let rtcp = [
        0x81, 0xc9, 0x00, 0x07, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x05, 0xff, 0xff,
        0xfe, 0x00, 0x01, 0x00, 0x20, 0x00, 0x00, 0x00, 0x10, 0xaa, 0xbb, 0xcc, 0xdd, 0x00, 0x00,
        0x10, 0x00, 0x81, 0xcd, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00,
        0x64, 0x00, 0x05,
    ];

    let before = allocations();
    let mut checksum = 0u64;
    for i in 0..1000u16 {
        let mut p = RtpPacket::new_checked(&mut datagram[..]).unwrap();
        p.set_sequence_number(SeqNo(i));
        p.extension_value_mut(ext_id(3))
            .unwrap()
            .copy_from_slice(&i.to_be_bytes());
        let p = RtpPacket::new_checked(&datagram[..]).unwrap();
        let ext = p.extension().unwrap();
        for e in ext.elements() {
            let e = e.unwrap();
            if let Some(Ok(Extension::TransportCc(s))) = map.decode(e) {
                checksum += u64::from(s);
            }
        }
        if let Some(Extension::AudioLevel { level, .. }) = map.find(&ext, ExtensionKind::AudioLevel)
        {
            checksum += u64::from(level);
        }
        checksum += p.payload().len() as u64;
        let h = RtpHeader::parse(&p);
        checksum += h.emit_packet(p.payload(), 0, &mut out).unwrap() as u64;
        for pkt in Compound::new(&rtcp) {
            match pkt.unwrap() {
                RtcpPacket::ReceiverReport(rr) => {
                    checksum += rr.reports.iter().map(|r| u64::from(r.jitter)).sum::<u64>()
                }
                RtcpPacket::Nack(n) => checksum += n.lost().count() as u64,
                _ => unreachable!("fixture holds an RR and a NACK"),
            }
        }
    }
    let after = allocations();
    assert_eq!(after - before, 0, "allocations on the hot path");
    assert_eq!(datagram[..], out[..n]);
    // Sum of 0..1000 (TWCC) + 5 (level) * 1000 + (160 + n) * 1000 + RTCP.
    assert_eq!(
        checksum,
        499_500 + 5_000 + 160_000 + n as u64 * 1000 + (16 + 3) * 1000
    );
}
