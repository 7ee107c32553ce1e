//! Congestion control under arbitrary input: the bytes are read as a script of operations on
//! one `CongestionController` and one `RembEstimator` (queue packets of any kind and size,
//! advance virtual time by any step, feed RTCP parsed from the script's own bytes, feed REMB
//! values and RFC 8888-style arrival lists, fire timers). Nothing may panic, the target must
//! stay inside the configured bounds, and the pacer's queue stays bounded by what was queued.
#![no_main]

use std::time::{Duration, Instant};

use ferrtc_bwe::{BweConfig, BweEvent, CongestionController, PacketKind, RembEstimator};
use ferrtc_rtp_codecs::rtcp::{Compound, RtcpPacket};
use ferrtc_types::SeqNo;
use libfuzzer_sys::fuzz_target;

/// Operations per input, so one input cannot run for long.
const MAX_OPS: usize = 4_000;

struct Script<'a> {
    data: &'a [u8],
}

impl<'a> Script<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.byte()?, self.byte()?]))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes([
            self.byte()?,
            self.byte()?,
            self.byte()?,
            self.byte()?,
        ]))
    }
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }
}

fuzz_target!(|data: &[u8]| {
    let mut s = Script { data };
    let (Some(a), Some(b), Some(c)) = (s.u32(), s.u32(), s.u32()) else {
        return;
    };
    let min = u64::from(a % 500_000) + 10_000;
    let max = min + u64::from(b % 20_000_000);
    let config = BweConfig {
        start_bitrate_bps: u64::from(c % 30_000_000),
        min_bitrate_bps: min,
        max_bitrate_bps: max,
        ..BweConfig::default()
    };
    let t0 = Instant::now();
    let mut now = t0;
    let mut cc: CongestionController<u32> =
        CongestionController::new(config, now, SeqNo(s.u16().unwrap_or(0)));
    let mut remb = RembEstimator::new(now, u64::from(c), min, max);
    let mut queued = 0usize;
    let mut sent = 0usize;
    let mut arrivals = Vec::new();
    for _ in 0..MAX_OPS {
        let Some(op) = s.byte() else { break };
        match op % 9 {
            0 => {
                let size = usize::from(s.u16().unwrap_or(0) % 1500);
                let kind = match op / 9 % 3 {
                    0 => PacketKind::Video,
                    1 => PacketKind::Audio,
                    _ => PacketKind::Retransmission,
                };
                cc.enqueue(now, kind, size, 0);
                queued += 1;
            }
            1 => now += Duration::from_micros(u64::from(s.u16().unwrap_or(0)) * 8),
            2 => {
                let len = usize::from(s.byte().unwrap_or(0)) * 4;
                let rtcp = s.bytes(len);
                for packet in Compound::new(rtcp).flatten() {
                    match packet {
                        RtcpPacket::TransportFeedback(fb) => cc.handle_transport_feedback(now, &fb),
                        RtcpPacket::Remb(r) => cc.handle_remb(now, r.bitrate()),
                        _ => {}
                    }
                }
            }
            3 => cc.handle_remb(now, u64::from(s.u32().unwrap_or(0)) << (op % 32)),
            4 => {
                arrivals.clear();
                let base = s.u16().unwrap_or(0);
                for i in 0..u16::from(s.byte().unwrap_or(0)) {
                    let at = s.u32().map(|v| i64::from(v as i32) * i64::from(op));
                    arrivals.push((SeqNo(base.wrapping_add(i)), at));
                }
                cc.handle_feedback(now, arrivals.iter().copied());
            }
            5 => {
                remb.handle_packet(
                    now,
                    s.u32().unwrap_or(0) & 0xff_ffff,
                    usize::from(s.u16().unwrap_or(0)),
                );
            }
            6 => remb.handle_timeout(now),
            7 => {
                if let Some(bps) = remb.poll_remb(now) {
                    assert!(
                        (min..=max).contains(&bps),
                        "REMB {bps} outside {min}..={max}"
                    );
                }
            }
            _ => {
                if let Some(at) = cc.poll_timeout() {
                    now = now.max(at);
                }
                cc.handle_timeout(now);
            }
        }
        while let Some(out) = cc.poll_transmit() {
            if matches!(out.paced, ferrtc_bwe::Paced::Packet { .. }) {
                sent += 1;
            }
        }
        assert!(
            sent <= queued,
            "the pacer sent {sent} packets of {queued} queued"
        );
        while let Some(event) = cc.poll_event() {
            if let BweEvent::TargetBitrate { bitrate_bps, .. } = event {
                assert!(
                    (min..=max).contains(&bitrate_bps),
                    "{bitrate_bps} outside {min}..={max}"
                );
            }
        }
        let target = cc.target_bitrate_bps();
        assert!(
            (min..=max).contains(&target),
            "{target} outside {min}..={max}"
        );
    }
});
