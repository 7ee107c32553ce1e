//! Property tests: every RTP header and every RTCP packet type round-trips through
//! emit -> parse, and no input makes the parsers panic.

use ferrtc_rtp_codecs::rtcp::{
    App, Bye, Compound, DlrrItem, Fir, FirEntry, List, Nack, NackPair, PacketStatus, Pli,
    ReceiverReport, Remb, ReportBlock, RtcpPacket, Sdes, SdesChunk, SdesItem, SenderReport,
    TransportFeedback, TwccPackets, Xr, XrBlock,
};
use ferrtc_rtp_codecs::{
    Csrcs, ExtensionElement, ExtensionForm, ExtensionId, ExtensionWriter, PayloadType, RtpHeader,
    RtpPacket, SeqNo, Ssrc,
};
use proptest::prelude::*;

fn ssrc() -> impl Strategy<Value = Ssrc> {
    any::<u32>().prop_map(Ssrc)
}

/// Extension elements: id and value.
type Elements = Vec<(u8, Vec<u8>)>;

#[derive(Debug, Clone)]
struct RtpCase {
    marker: bool,
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    csrcs: Vec<u32>,
    ext: Option<(bool, Elements)>,
    payload: Vec<u8>,
    padding: u8,
}

fn rtp_case() -> impl Strategy<Value = RtpCase> {
    let one = prop::collection::vec((1u8..=14, prop::collection::vec(any::<u8>(), 1..=16)), 0..6);
    let two = prop::collection::vec((1u8..=255, prop::collection::vec(any::<u8>(), 0..40)), 0..6);
    let ext = prop_oneof![
        Just(None),
        one.prop_map(|e| Some((false, e))),
        two.prop_map(|e| Some((true, e))),
    ];
    (
        (
            any::<bool>(),
            0u8..128,
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
        ),
        prop::collection::vec(any::<u32>(), 0..=15),
        ext,
        prop::collection::vec(any::<u8>(), 0..1300),
        any::<u8>(),
    )
        .prop_map(
            |((marker, pt, seq, ts, ssrc), csrcs, ext, payload, padding)| RtpCase {
                marker,
                pt,
                seq,
                ts,
                ssrc,
                csrcs,
                ext,
                payload,
                padding,
            },
        )
}

proptest! {
    #[test]
    fn rtp_round_trip(c in rtp_case()) {
        let mut store = [0u8; 512];
        let mut elements = vec![];
        let ext = match &c.ext {
            None => None,
            Some((two, els)) => {
                let form = if *two { ExtensionForm::TwoByte } else { ExtensionForm::OneByte };
                let mut w = ExtensionWriter::new(&mut store, form);
                for (id, v) in els {
                    w.push(ExtensionId::new(*id).expect("generated ids are not 0"), v).unwrap();
                    elements.push((*id, v.clone()));
                }
                Some(w.finish().unwrap())
            }
        };
        let csrcs: Vec<Ssrc> = c.csrcs.iter().map(|&x| Ssrc(x)).collect();
        let h = RtpHeader {
            marker: c.marker,
            payload_type: PayloadType::new(c.pt).unwrap(),
            sequence_number: SeqNo(c.seq),
            timestamp: c.ts,
            ssrc: Ssrc(c.ssrc),
            csrcs: Csrcs::from_slice(&csrcs).unwrap(),
            extension: ext,
        };
        let mut buf = vec![0u8; 2048];
        let n = h.emit_packet(&c.payload, c.padding, &mut buf).unwrap();
        let p = RtpPacket::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!(RtpHeader::parse(&p), h);
        prop_assert_eq!(p.payload(), &c.payload[..]);
        prop_assert_eq!(p.padding_len(), usize::from(c.padding));
        let got: Vec<(u8, Vec<u8>)> = p
            .extension()
            .map(|e| e.elements().map(|r| {
                let ExtensionElement { id, data } = r.unwrap();
                (id.get(), data.to_vec())
            }).collect())
            .unwrap_or_default();
        prop_assert_eq!(got, elements);
        let mut again = vec![0u8; 2048];
        let m = RtpHeader::parse(&p).emit_packet(p.payload(), c.padding, &mut again).unwrap();
        prop_assert_eq!(&again[..m], &buf[..n]);
    }

    #[test]
    fn rtx_round_trip(data in prop::collection::vec(any::<u8>(), 12..300), rtx_seq in any::<u16>()) {
        let Ok(p) = RtpPacket::new_checked(&data[..]) else { return Ok(()) };
        let mut out = vec![0u8; 400];
        let n = ferrtc_rtp_codecs::rtx::encapsulate(
            &p, PayloadType::new(120).unwrap(), Ssrc(0x5555), SeqNo(rtx_seq), &mut out,
        ).unwrap();
        let at = ferrtc_rtp_codecs::rtx::decapsulate_in_place(
            &mut out[..n], p.payload_type(), p.ssrc(),
        ).unwrap();
        let back = RtpPacket::new_checked(&out[at..n]).unwrap();
        prop_assert_eq!(RtpHeader::parse(&back), RtpHeader::parse(&p));
        prop_assert_eq!(back.payload(), p.payload());
    }

    #[test]
    fn rtp_random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(p) = RtpPacket::new_checked(&data[..]) {
            let h = RtpHeader::parse(&p);
            let mut out = vec![0u8; 400];
            let n = h.emit_packet(p.payload(), p.padding_len() as u8, &mut out).unwrap();
            let q = RtpPacket::new_checked(&out[..n]).unwrap();
            prop_assert_eq!(RtpHeader::parse(&q), h);
            prop_assert_eq!(q.payload(), p.payload());
            if let Some(e) = p.extension() {
                for _ in e.elements() {}
            }
        }
    }

    #[test]
    fn rtcp_random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..300)) {
        for pkt in Compound::new(&data).flatten() {
            let mut out = vec![];
            pkt.emit_vec(&mut out).unwrap();
            let back = Compound::new(&out).next().unwrap().unwrap();
            prop_assert_eq!(back, pkt);
        }
    }
}

fn report_block() -> impl Strategy<Value = ReportBlock> {
    (
        ssrc(),
        any::<u8>(),
        -0x80_0000i32..0x80_0000,
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(ssrc, f, c, h, j, l, d)| ReportBlock {
            ssrc,
            fraction_lost: f,
            cumulative_lost: c,
            highest_seq: h,
            jitter: j,
            last_sr: l,
            delay_since_last_sr: d,
        })
}

fn words() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<[u8; 4]>(), 0..4).prop_map(|v| v.concat())
}

/// Owned data for one RTCP packet of each kind.
#[derive(Debug, Clone)]
enum Owned {
    Sr(Ssrc, u64, u32, u32, u32, Vec<ReportBlock>, Vec<u8>),
    Rr(Ssrc, Vec<ReportBlock>, Vec<u8>),
    Sdes(Vec<(Ssrc, Elements)>),
    Bye(Vec<Ssrc>, Option<Vec<u8>>),
    App(u8, Ssrc, [u8; 4], Vec<u8>),
    Nack(Ssrc, Ssrc, Vec<NackPair>),
    Pli(Ssrc, Ssrc),
    Fir(Ssrc, Vec<FirEntry>),
    Remb(Ssrc, u8, u32, Vec<Ssrc>),
    Twcc(Ssrc, Ssrc, u16, u32, u8, Vec<PacketStatus>),
    Xr(Ssrc, Vec<u64>, Vec<DlrrItem>, Option<(u8, u8, Vec<u8>)>),
}

fn status() -> impl Strategy<Value = PacketStatus> {
    prop_oneof![
        Just(PacketStatus::NotReceived),
        any::<u8>().prop_map(PacketStatus::ReceivedSmall),
        any::<i16>().prop_map(PacketStatus::ReceivedLarge),
    ]
}

fn statuses() -> impl Strategy<Value = Vec<PacketStatus>> {
    // Long runs as well as mixed stretches.
    prop::collection::vec((status(), 1usize..40), 0..12).prop_map(|runs| {
        runs.into_iter()
            .flat_map(|(s, n)| std::iter::repeat_n(s, if n > 20 { n } else { 1 }))
            .collect()
    })
}

fn owned() -> impl Strategy<Value = Owned> {
    let blocks = || prop::collection::vec(report_block(), 0..=31);
    prop_oneof![
        (
            ssrc(),
            any::<u64>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            blocks(),
            words()
        )
            .prop_map(|(a, b, c, d, e, f, g)| Owned::Sr(a, b, c, d, e, f, g)),
        (ssrc(), blocks(), words()).prop_map(|(a, b, c)| Owned::Rr(a, b, c)),
        prop::collection::vec(
            (
                ssrc(),
                prop::collection::vec((1u8..=255, prop::collection::vec(any::<u8>(), 0..30)), 0..4)
            ),
            0..=31
        )
        .prop_map(Owned::Sdes),
        (
            prop::collection::vec(ssrc(), 0..=31),
            prop::option::of(prop::collection::vec(any::<u8>(), 0..=255))
        )
            .prop_map(|(a, b)| Owned::Bye(a, b)),
        (0u8..32, ssrc(), any::<[u8; 4]>(), words())
            .prop_map(|(a, b, c, d)| Owned::App(a, b, c, d)),
        (
            ssrc(),
            ssrc(),
            prop::collection::vec((any::<u16>(), any::<u16>()), 1..20)
        )
            .prop_map(|(a, b, c)| Owned::Nack(
                a,
                b,
                c.into_iter()
                    .map(|(p, m)| NackPair {
                        pid: SeqNo(p),
                        blp: m
                    })
                    .collect()
            )),
        (ssrc(), ssrc()).prop_map(|(a, b)| Owned::Pli(a, b)),
        (ssrc(), prop::collection::vec((ssrc(), any::<u8>()), 1..8)).prop_map(|(a, b)| Owned::Fir(
            a,
            b.into_iter()
                .map(|(s, q)| FirEntry { ssrc: s, seq: q })
                .collect()
        )),
        (
            ssrc(),
            0u8..64,
            0u32..0x4_0000,
            prop::collection::vec(ssrc(), 0..10)
        )
            .prop_map(|(a, b, c, d)| Owned::Remb(a, b, c, d)),
        (
            ssrc(),
            ssrc(),
            any::<u16>(),
            0u32..0x100_0000,
            any::<u8>(),
            statuses()
        )
            .prop_map(|(a, b, c, d, e, f)| Owned::Twcc(a, b, c, d, e, f)),
        (
            ssrc(),
            prop::collection::vec(any::<u64>(), 0..3),
            prop::collection::vec((ssrc(), any::<u32>(), any::<u32>()), 0..4),
            prop::option::of((6u8..=255, any::<u8>(), words())),
        )
            .prop_map(|(a, b, c, d)| Owned::Xr(
                a,
                b,
                c.into_iter()
                    .map(|(s, l, d)| DlrrItem {
                        ssrc: s,
                        last_rr: l,
                        delay_since_last_rr: d
                    })
                    .collect(),
                d
            )),
    ]
}

fn check(p: RtcpPacket<'_>) -> Result<(), TestCaseError> {
    let mut out = vec![];
    let n = p.emit_vec(&mut out).unwrap();
    prop_assert_eq!(n, p.buffer_len());
    prop_assert_eq!(out.len() % 4, 0);
    let mut it = Compound::new(&out);
    let back = it.next().unwrap().unwrap();
    prop_assert!(it.next().is_none());
    prop_assert_eq!(back, p);
    // The parsed (wire-backed) form re-emits the same bytes.
    let mut again = vec![];
    back.emit_vec(&mut again).unwrap();
    prop_assert_eq!(again, out);
    Ok(())
}

proptest! {
    #[test]
    fn rtcp_round_trip(o in owned()) {
        match &o {
            Owned::Sr(s, ntp, rtp, pc, oc, rb, ext) => check(RtcpPacket::SenderReport(SenderReport {
                ssrc: *s, ntp_time: *ntp, rtp_time: *rtp, packet_count: *pc, octet_count: *oc,
                reports: List::Items(rb), profile_extension: ext,
            }))?,
            Owned::Rr(s, rb, ext) => check(RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: *s, reports: List::Items(rb), profile_extension: ext,
            }))?,
            Owned::Sdes(chunks) => {
                let items: Vec<Vec<SdesItem<'_>>> = chunks.iter()
                    .map(|(_, it)| it.iter().map(|(k, v)| SdesItem { kind: *k, value: v }).collect())
                    .collect();
                let cs: Vec<SdesChunk<'_>> = chunks.iter().zip(&items)
                    .map(|((s, _), it)| SdesChunk { ssrc: *s, items: List::Items(it) })
                    .collect();
                check(RtcpPacket::Sdes(Sdes { chunks: List::Items(&cs) }))?
            }
            Owned::Bye(s, r) => check(RtcpPacket::Bye(Bye { ssrcs: List::Items(s), reason: r.as_deref() }))?,
            Owned::App(st, s, name, d) => check(RtcpPacket::App(App { subtype: *st, ssrc: *s, name: *name, data: d }))?,
            Owned::Nack(a, b, pairs) => check(RtcpPacket::Nack(Nack { sender_ssrc: *a, media_ssrc: *b, pairs: List::Items(pairs) }))?,
            Owned::Pli(a, b) => check(RtcpPacket::Pli(Pli { sender_ssrc: *a, media_ssrc: *b }))?,
            Owned::Fir(a, e) => check(RtcpPacket::Fir(Fir { sender_ssrc: *a, media_ssrc: Ssrc(0), entries: List::Items(e) }))?,
            Owned::Remb(a, e, m, s) => check(RtcpPacket::Remb(Remb {
                sender_ssrc: *a, media_ssrc: Ssrc(0), exponent: *e, mantissa: *m, ssrcs: List::Items(s),
            }))?,
            Owned::Twcc(a, b, base, rt, fb, st) => check(RtcpPacket::TransportFeedback(TransportFeedback {
                sender_ssrc: *a, media_ssrc: *b, base_seq: SeqNo(*base), reference_time: *rt,
                fb_pkt_count: *fb, packets: TwccPackets::Statuses(st),
            }))?,
            Owned::Xr(s, rrtr, dlrr, unknown) => {
                let mut blocks: Vec<XrBlock<'_>> = rrtr.iter().map(|&t| XrBlock::Rrtr { ntp_time: t }).collect();
                if !dlrr.is_empty() {
                    blocks.push(XrBlock::Dlrr(List::Items(dlrr)));
                }
                if let Some((bt, ts, d)) = unknown {
                    blocks.push(XrBlock::Unknown { block_type: *bt, type_specific: *ts, data: d });
                }
                check(RtcpPacket::Xr(Xr { ssrc: *s, blocks: List::Items(&blocks) }))?
            }
        }
    }

    #[test]
    fn nack_pack_covers_every_loss(mut lost in prop::collection::btree_set(0u16..2000, 1..100)) {
        let v: Vec<SeqNo> = std::mem::take(&mut lost).into_iter().map(SeqNo).collect();
        let mut pairs = vec![];
        NackPair::pack(v.iter().copied(), &mut pairs);
        let back: Vec<SeqNo> = pairs.iter().flat_map(|p| p.lost().collect::<Vec<_>>()).collect();
        prop_assert_eq!(back, v);
    }
}
