//! Receive pipeline state machines driven by an arbitrary peer: packets with any sequence
//! numbers, timestamps, markers, payloads and transport numbers, at any pace, with RTT
//! changes and sender reports, into ReceiverStats, NackGenerator, JitterBuffer (VP8) and
//! TwccGenerator; NACKs answered from a SendHistory. Nothing may panic, every bound holds,
//! every NACK and TWCC message produced parses back to itself, and once drained nothing
//! asks to be woken at the current instant again.
#![no_main]

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use ferrtc_rtp_codecs::codec::vp8::Vp8Depacketizer;
use ferrtc_rtp_codecs::pipeline::{
    JitterBuffer, JitterConfig, NackConfig, NackGenerator, NtpTime, ReceiverStats, SendHistory,
    TwccConfig, TwccGenerator,
};
use ferrtc_rtp_codecs::rtcp::{Compound, RtcpPacket};
use ferrtc_rtp_codecs::{Csrcs, PayloadType, RtpHeader, SeqNo, Ssrc};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Op {
    Packet {
        after_us: u16,
        seq: u16,
        ts: u32,
        marker: bool,
        tseq: u16,
        payload: Vec<u8>,
    },
    Wait {
        ms: u16,
    },
    Rtt {
        ms: u16,
    },
    SenderReport {
        ntp: u64,
    },
}

fn roundtrip(p: RtcpPacket<'_>) -> Vec<u8> {
    let mut buf = Vec::new();
    p.emit_vec(&mut buf).expect("own packet fits");
    let back = Compound::new(&buf).next().expect("one").expect("parses");
    assert_eq!(back, p);
    buf
}

fuzz_target!(|ops: Vec<Op>| {
    let mut now = Instant::now();
    let media = Ssrc(2);
    let nack_cfg = NackConfig {
        max_entries: 200,
        ..NackConfig::default()
    };
    let jb_cfg = JitterConfig {
        capacity: 64,
        max_frames: 16,
        ..JitterConfig::default()
    };
    let mut stats = ReceiverStats::new(media, 90_000);
    let mut nack = NackGenerator::new(Ssrc(1), media, nack_cfg);
    let mut jb = JitterBuffer::new(Vp8Depacketizer::new(), 90_000, jb_cfg);
    let mut twcc = TwccGenerator::new(
        Ssrc(1),
        media,
        TwccConfig {
            max_pending: 256,
            ..TwccConfig::default()
        },
    );
    let mut history = SendHistory::new(64, 1500, Duration::from_secs(1)).with_rtx(
        PayloadType::new(97).expect("7-bit"),
        Ssrc(3),
        SeqNo(0),
    );
    let mut out = vec![0u8; 1600];
    for op in ops {
        match op {
            Op::Packet {
                after_us,
                seq,
                ts,
                marker,
                tseq,
                payload,
            } => {
                now += Duration::from_micros(u64::from(after_us));
                let payload = &payload[..payload.len().min(1200)];
                stats.handle_packet(now, SeqNo(seq), ts);
                nack.handle_packet(now, SeqNo(seq));
                jb.handle_packet(now, SeqNo(seq), ts, marker, payload);
                twcc.handle_packet(now, SeqNo(tseq));
                let h = RtpHeader {
                    marker,
                    payload_type: PayloadType::new(96).expect("7-bit"),
                    sequence_number: SeqNo(seq),
                    timestamp: ts,
                    ssrc: media,
                    csrcs: Csrcs::new(),
                    extension: None,
                };
                let n = h.emit_packet(payload, 0, &mut out).expect("fits");
                let packet = out[..n].to_vec();
                history.handle_sent(now, &packet).expect("own packet");
            }
            Op::Wait { ms } => now += Duration::from_millis(u64::from(ms)),
            Op::Rtt { ms } => {
                let rtt = Duration::from_millis(u64::from(ms));
                nack.set_rtt(rtt);
                jb.set_rtt(rtt);
                history.set_rtt(rtt);
            }
            Op::SenderReport { ntp } => {
                stats.handle_sender_report(now, NtpTime(ntp));
                let b = stats.report_block(now).unwrap_or_default();
                assert!((-0x80_0000..=0x7f_ffff).contains(&b.cumulative_lost));
            }
        }
        while jb.poll_event(now).is_some() {}
        jb.poll_keyframe_request(now);
        let mut lost = Vec::new();
        while let Some(n) = nack.poll_nack(now) {
            assert!(n.pairs.len() <= nack_cfg.max_pairs);
            lost.extend(n.lost());
            roundtrip(RtcpPacket::Nack(n));
        }
        for seq in lost {
            let _ = history.retransmit(now, seq, &mut out).expect("buffer fits");
        }
        nack.poll_pli();
        while let Some(fb) = twcc.poll_feedback(now) {
            assert!(fb.packets.count() <= TwccConfig::default().max_statuses);
            roundtrip(RtcpPacket::TransportFeedback(fb));
        }
        // Drained at `now`, nothing may still be due at `now`: a sans-IO loop would spin.
        assert!(nack.poll_timeout().is_none_or(|t| t > now));
        assert!(jb.poll_timeout().is_none_or(|t| t > now));
        assert!(twcc.poll_timeout().is_none_or(|t| t > now));
        assert!(nack.missing_count() <= nack_cfg.max_entries);
        assert!(jb.waiting_frames() <= jb_cfg.max_frames + 1);
        assert!(jb.assembler().pending_bytes() <= ferrtc_rtp_codecs::codec::DEFAULT_BYTE_BUDGET);
    }
});
