//! Packets sent by Chrome, as captured and decoded by Wireshark and published in the
//! olivermichel/webrtc-analysis repository (test/include/data.h; RTP payloads were cut off
//! there, headers and RTCP are whole). Each must parse to what Wireshark decoded and
//! re-serialize byte for byte.
//!
//! A compound RTCP packet from a packet dump published in pion/rtcp (packet_test.go; its
//! CNAME has Firefox's `{uuid}` form): RR, SDES, BYE, PLI and a rapid resynchronisation
//! request (RTPFB FMT 5), which this crate does not interpret and must pass through.
//!
//! The extension ids are those of that session's SDP as the values show: 2 abs-send-time,
//! 3 video orientation, 4 transport-wide sequence number, 9 mid; 6, 7 and 13 are extensions
//! this crate does not type (video-content-type, video-timing, a frame descriptor) and must
//! pass through untouched.

use ferrtc_rtp_codecs::rtcp::{Compound, PacketStatus, RtcpPacket, TransportFeedback, TwccPackets};
use ferrtc_rtp_codecs::{
    Extension, ExtensionForm, ExtensionKind, ExtensionMap, RtpHeader, RtpPacket, SeqNo, Ssrc,
};
use hex_literal::hex;

const TWCC: [u8; 32] = hex!(
    "af cd 00 07 00 00 00 01 dd 58 6e b6 00 01 00 09"
    "5e 91 10 00 20 09 1c 0c 2c 38 00 04 00 08 18 01"
);

const RTP_ONE_BYTE: [u8; 28] = hex!(
    "90 2d 1a 5f d4 09 05 49 f7 b1 6e 83 be de 00 03"
    "22 f3 43 50 41 00 9b d2 81 00 45 00"
);

const RTP_ONE_BYTE_MANY: [u8; 48] = hex!(
    "90 ad 19 d4 d4 05 e7 97 f7 b1 6e 83 be de 00 08"
    "22 ea 43 2b 41 00 04 90 30 30 00 60 02"
    "7c 01 00 03 00 09 00 0a 00 23 00 00 00 00"
    "d2 40 00 01 00"
);

const RTP_TWO_BYTE: [u8; 84] = hex!(
    "90 2d 61 c5 95 0a 0f ee 8d 38 14 e5 10 00 00 11"
    "02 03 03 f7 ae  04 02 00 02  09 01 30  03 01 00  06 01 02"
    "07 0d 01 00 01 00 07 00 07 00 0a 00 00 00 00"
    "0d 21 c0 00 01 80 03 18 7a aa f1 30 a0 a0 14 d1 41 38 23 04 60 08 64 22 22 26 50 09 f0 07 70 13 f0 0e f0"
);

const COMPOUND_DUMP: [u8; 116] = hex!(
    "81 c9 00 07 90 2f 9e 2e bc 5e 9a 40 00 00 00 00 00 00 46 e1 00 00 01 11 09 f3 64 32 00 02 4a 79"
    "81 ca 00 0c 90 2f 9e 2e 01 26"
    "7b 39 63 30 30 65 62 39 32 2d 31 61 66 62 2d 39 64 34 39 2d 61 34 37 64 2d 39 31 66 36 34 65 65 65 36 39 66 35 7d"
    "00 00 00 00"
    "81 cb 00 01 90 2f 9e 2e"
    "81 ce 00 02 90 2f 9e 2e 90 2f 9e 2e"
    "85 cd 00 02 90 2f 9e 2e 90 2f 9e 2e"
);

fn chrome_map() -> ExtensionMap {
    let mut m = ExtensionMap::new();
    m.insert_uri(
        2,
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    );
    m.insert_uri(3, "urn:3gpp:video-orientation");
    m.insert_uri(
        4,
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    );
    m.insert_uri(9, "urn:ietf:params:rtp-hdrext:sdes:mid");
    m
}

fn reemit(bytes: &[u8]) {
    let p = RtpPacket::new_checked(bytes).unwrap();
    let h = RtpHeader::parse(&p);
    let mut out = vec![0u8; bytes.len()];
    let n = h.emit_packet(p.payload(), 0, &mut out).unwrap();
    assert_eq!(&out[..n], bytes);
}

#[test]
fn chrome_rtp_one_byte_extensions() {
    let p = RtpPacket::new_checked(&RTP_ONE_BYTE[..]).unwrap();
    assert!(!p.marker());
    assert_eq!(p.payload_type().get(), 45);
    assert_eq!(p.sequence_number(), SeqNo(6751));
    assert_eq!(p.timestamp(), 3_557_360_969);
    assert_eq!(p.ssrc(), Ssrc(0xf7b1_6e83));
    let ext = p.extension().unwrap();
    assert_eq!(ext.form(), Some(ExtensionForm::OneByte));
    let ids: Vec<(u8, Vec<u8>)> = ext
        .elements()
        .map(|e| e.unwrap())
        .map(|e| (e.id, e.data.to_vec()))
        .collect();
    assert_eq!(
        ids,
        vec![
            (2, hex!("f3 43 50").to_vec()),
            (4, hex!("00 9b").to_vec()),
            (13, hex!("81 00 45").to_vec())
        ]
    );
    let map = chrome_map();
    assert_eq!(
        map.find(&ext, ExtensionKind::AbsSendTime),
        Some(Extension::AbsSendTime(0xf3_4350))
    );
    assert_eq!(
        map.find(&ext, ExtensionKind::TransportCc),
        Some(Extension::TransportCc(0x9b))
    );
    reemit(&RTP_ONE_BYTE);
}

#[test]
fn chrome_rtp_many_extensions() {
    let p = RtpPacket::new_checked(&RTP_ONE_BYTE_MANY[..]).unwrap();
    assert!(p.marker());
    assert_eq!(p.sequence_number(), SeqNo(6612));
    assert_eq!(p.timestamp(), 3_557_156_759);
    let ext = p.extension().unwrap();
    let map = chrome_map();
    let decoded: Vec<_> = ext
        .elements()
        .map(|e| e.unwrap())
        .map(|e| (e.id, e.data.len(), map.decode(e)))
        .collect();
    assert_eq!(
        decoded,
        vec![
            (2, 3, Some(Ok(Extension::AbsSendTime(0xea_432b)))),
            (4, 2, Some(Ok(Extension::TransportCc(4)))),
            (9, 1, Some(Ok(Extension::Mid("0")))),
            (
                3,
                1,
                Some(Ok(Extension::VideoOrientation {
                    back_camera: false,
                    flip: false,
                    rotation: 0
                }))
            ),
            (6, 1, None),
            (7, 13, None),
            (13, 3, None),
        ]
    );
    reemit(&RTP_ONE_BYTE_MANY);

    // Forwarding: rewrite the transport-wide sequence number in place; nothing else moves.
    let mut buf = RTP_ONE_BYTE_MANY;
    let mut p = RtpPacket::new_checked(&mut buf[..]).unwrap();
    p.extension_value_mut(4)
        .unwrap()
        .copy_from_slice(&0x1234u16.to_be_bytes());
    let p = RtpPacket::new_checked(&buf[..]).unwrap();
    assert_eq!(
        map.find(&p.extension().unwrap(), ExtensionKind::TransportCc),
        Some(Extension::TransportCc(0x1234))
    );
    let diff: Vec<usize> = (0..buf.len())
        .filter(|&i| buf[i] != RTP_ONE_BYTE_MANY[i])
        .collect();
    assert_eq!(diff, vec![21, 22]);
}

#[test]
fn chrome_rtp_two_byte_extensions() {
    let p = RtpPacket::new_checked(&RTP_TWO_BYTE[..]).unwrap();
    assert_eq!(p.sequence_number(), SeqNo(25029));
    assert_eq!(p.timestamp(), 2_500_464_622);
    assert_eq!(p.ssrc(), Ssrc(0x8d38_14e5));
    let ext = p.extension().unwrap();
    assert_eq!(ext.form(), Some(ExtensionForm::TwoByte));
    let lens: Vec<(u8, usize)> = ext
        .elements()
        .map(|e| e.unwrap())
        .map(|e| (e.id, e.data.len()))
        .collect();
    assert_eq!(
        lens,
        vec![(2, 3), (4, 2), (9, 1), (3, 1), (6, 1), (7, 13), (13, 33)]
    );
    assert_eq!(
        chrome_map().find(&ext, ExtensionKind::Mid),
        Some(Extension::Mid("0"))
    );
    reemit(&RTP_TWO_BYTE);
}

#[test]
fn chrome_transport_feedback() {
    let mut it = Compound::new(&TWCC);
    let Some(Ok(RtcpPacket::TransportFeedback(t))) = it.next() else {
        panic!("not transport feedback")
    };
    assert!(it.next().is_none());
    assert_eq!(t.sender_ssrc, Ssrc(1));
    assert_eq!(t.media_ssrc, Ssrc(0xdd58_6eb6));
    assert_eq!(t.base_seq, SeqNo(1));
    // Wireshark's "Reference Time: 6197520" is the raw 24-bit field, 0x5e9110 (64 ms units).
    assert_eq!(t.reference_time, 6_197_520);
    assert_eq!(t.fb_pkt_count, 0);
    let deltas: Vec<PacketStatus> = t.packets.iter().collect();
    assert_eq!(
        deltas,
        [0x1c, 0x0c, 0x2c, 0x38, 0x00, 0x04, 0x00, 0x08, 0x18]
            .map(PacketStatus::ReceivedSmall)
            .to_vec()
    );
    let mut out = vec![];
    RtcpPacket::TransportFeedback(t).emit_vec(&mut out).unwrap();
    assert_eq!(out, TWCC);
    // Built from the statuses, our chunk choice matches Chrome's here (one run-length chunk),
    // and so does the padding (P bit, count in the last byte).
    let rebuilt = TransportFeedback {
        packets: TwccPackets::Statuses(&deltas),
        ..t
    };
    let mut out = vec![];
    RtcpPacket::TransportFeedback(rebuilt)
        .emit_vec(&mut out)
        .unwrap();
    assert_eq!(out, TWCC);
}

#[test]
fn dumped_compound_rtcp() {
    let pkts: Vec<RtcpPacket<'_>> = Compound::new(&COMPOUND_DUMP).map(Result::unwrap).collect();
    assert_eq!(pkts.len(), 5);
    let RtcpPacket::ReceiverReport(rr) = pkts[0] else {
        panic!("RR first")
    };
    assert_eq!(rr.ssrc, Ssrc(0x902f_9e2e));
    let rb: Vec<_> = rr.reports.iter().collect();
    assert_eq!(rb.len(), 1);
    assert_eq!(rb[0].ssrc, Ssrc(0xbc5e_9a40));
    assert_eq!(rb[0].highest_seq, 0x46e1);
    assert_eq!(rb[0].jitter, 273);
    assert_eq!(rb[0].last_sr, 0x09f3_6432);
    assert_eq!(rb[0].delay_since_last_sr, 150_137);
    let RtcpPacket::Sdes(sdes) = pkts[1] else {
        panic!("SDES second")
    };
    let chunk = sdes.chunks.iter().next().unwrap();
    let item = chunk.items.iter().next().unwrap();
    assert_eq!(item.kind, 1);
    assert_eq!(item.value, b"{9c00eb92-1afb-9d49-a47d-91f64eee69f5}");
    assert!(matches!(pkts[2], RtcpPacket::Bye(b) if b.reason.is_none() && b.ssrcs.len() == 1));
    assert!(matches!(pkts[3], RtcpPacket::Pli(p) if p.media_ssrc == Ssrc(0x902f_9e2e)));
    let RtcpPacket::Unknown(rrr) = pkts[4] else {
        panic!("RRR is not interpreted")
    };
    assert_eq!((rrr.packet_type, rrr.count), (205, 5));
    let mut out = vec![];
    for p in &pkts {
        p.emit_vec(&mut out).unwrap();
    }
    assert_eq!(out, COMPOUND_DUMP);
}
