//! Properties of the pipeline under random loss, reordering and duplication.
//!
//! - TWCC: over the wire and back, the feedback messages describe each transport sequence
//!   number at most once, in order, never call a packet that did not arrive received, and
//!   their deltas give back every reported arrival time to within 250 us.
//! - NACK: a request never names a packet that has arrived, every packet that stays missing
//!   is requested, and the list stays bounded.
//! - Jitter buffer: frames come out in sequence order, each at most once and intact.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ferrtc_rtp_codecs::codec::Packetizer;
use ferrtc_rtp_codecs::codec::vp8::{Vp8Depacketizer, Vp8Packetizer};
use ferrtc_rtp_codecs::pipeline::{
    JitterBuffer, JitterConfig, JitterEvent, NackConfig, NackGenerator, TwccConfig, TwccGenerator,
};
use ferrtc_rtp_codecs::rtcp::{Compound, RtcpPacket};
use ferrtc_rtp_codecs::{SeqNo, SeqUnwrapper, Ssrc};
use proptest::prelude::*;

/// A packet's fate: lost, or delivered after `delay_us` (possibly twice).
#[derive(Debug, Clone)]
struct Fate {
    lost: bool,
    delay_us: u32,
    duplicate: bool,
}

fn fates(n: usize) -> impl Strategy<Value = Vec<Fate>> {
    prop::collection::vec(
        (
            prop::bool::weighted(0.1),
            0u32..30_000,
            prop::bool::weighted(0.05),
        )
            .prop_map(|(lost, delay_us, duplicate)| Fate {
                lost,
                delay_us,
                duplicate,
            }),
        1..n,
    )
}

/// Arrivals (time offset in microseconds, index) sorted by time, packets sent 1 ms apart.
fn arrivals(f: &[Fate]) -> Vec<(u64, usize)> {
    let mut v = Vec::new();
    for (i, x) in f.iter().enumerate() {
        if x.lost {
            continue;
        }
        let at = i as u64 * 1000 + u64::from(x.delay_us);
        v.push((at, i));
        if x.duplicate {
            v.push((at + 500, i));
        }
    }
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn twcc_feedback_reconstructs_arrivals(f in fates(600), first in any::<u16>(), poll_ms in 5u64..200) {
        let t0 = Instant::now();
        let mut g = TwccGenerator::new(Ssrc(1), Ssrc(2), TwccConfig::default());
        let arr = arrivals(&f);
        // First arrival per index: what the generator must report.
        let mut first_arrival: BTreeMap<usize, u64> = BTreeMap::new();
        for &(at, i) in &arr {
            first_arrival.entry(i).or_insert(at);
        }
        // Keyed by packet index (transport number minus `first`).
        let mut described: BTreeMap<u64, Option<i64>> = BTreeMap::new();
        let mut unwrap = SeqUnwrapper::new();
        let origin = unwrap.unwrap(SeqNo(first));
        let mut collect = |g: &mut TwccGenerator, now: Instant| {
            while let Some(fb) = g.poll_feedback(now) {
                let mut buf = Vec::new();
                RtcpPacket::TransportFeedback(fb).emit_vec(&mut buf).unwrap();
                let Some(Ok(RtcpPacket::TransportFeedback(p))) = Compound::new(&buf).next() else {
                    panic!("feedback does not parse back");
                };
                let mut at = i64::from(p.reference_time) * 64_000;
                for (seq, st) in p.statuses() {
                    let ext = unwrap.unwrap(seq) - origin;
                    let arrival = st.delta().map(|d| {
                        at += i64::from(d) * 250;
                        at
                    });
                    prop_assert!(described.insert(ext, arrival).is_none(), "seq {ext} twice");
                }
            }
            Ok(())
        };
        let mut next_poll = t0;
        for &(at, i) in &arr {
            let now = t0 + Duration::from_micros(at);
            while next_poll <= now {
                collect(&mut g, next_poll)?;
                next_poll += Duration::from_millis(poll_ms);
            }
            g.handle_packet(now, SeqNo(first.wrapping_add(i as u16)));
        }
        collect(&mut g, t0 + Duration::from_secs(100))?;
        let Some((&lo, _)) = described.iter().next() else {
            prop_assert!(arr.is_empty());
            return Ok(());
        };
        let hi = *described.keys().next_back().unwrap();
        // Contiguous: every number from the first described to the last, once.
        prop_assert_eq!(described.len() as u64, hi - lo + 1);
        // The last arrival's number is described (the final poll drains everything), and
        // every arrival inside the range is described.
        prop_assert_eq!(*first_arrival.keys().next_back().unwrap() as u64, hi);
        let mut offsets = Vec::new();
        let mut late = 0;
        for (&i, arrival) in &described {
            let real = first_arrival.get(&(i as usize)).copied();
            match arrival {
                Some(t) => {
                    prop_assert!(real.is_some(), "index {i} reported received, never arrived");
                    // The generator's origin is its first arrival; compare offsets.
                    offsets.push(*t - real.unwrap() as i64);
                }
                // Reported lost, yet it came: only by arriving after that report.
                None => late += usize::from(real.is_some()),
            }
        }
        prop_assert!(late * 10 <= first_arrival.len().max(10), "{late} reported lost but arrived");
        // All offsets agree to within the 250 us resolution.
        if let (Some(min), Some(max)) = (offsets.iter().min(), offsets.iter().max()) {
            prop_assert!(max - min < 250, "offsets {min}..{max}");
        }
    }

    #[test]
    fn nack_requests_only_missing_packets(f in fates(400), first in any::<u16>(), rtt_ms in 1u64..300) {
        let t0 = Instant::now();
        let cfg = NackConfig { max_entries: 100, ..NackConfig::default() };
        let mut g = NackGenerator::new(Ssrc(1), Ssrc(2), cfg);
        g.set_rtt(Duration::from_millis(rtt_ms));
        let arr = arrivals(&f);
        let mut arrived: BTreeSet<usize> = BTreeSet::new();
        let mut requested: BTreeSet<usize> = BTreeSet::new();
        let mut unwrap = SeqUnwrapper::new();
        let origin = unwrap.unwrap(SeqNo(first));
        let index = |unwrap: &mut SeqUnwrapper, s: SeqNo| (unwrap.unwrap(s) - origin) as usize;
        for &(at, i) in &arr {
            let now = t0 + Duration::from_micros(at);
            g.handle_packet(now, SeqNo(first.wrapping_add(i as u16)));
            arrived.insert(i);
            while let Some(n) = g.poll_nack(now) {
                for s in n.lost() {
                    let j = index(&mut unwrap, s);
                    prop_assert!(!arrived.contains(&j), "requested {j}, which arrived");
                    requested.insert(j);
                }
            }
            prop_assert!(g.missing_count() <= 100);
        }
        // Drain the rest.
        let mut now = t0 + Duration::from_micros(arr.last().map_or(0, |a| a.0));
        for _ in 0..200 {
            now += Duration::from_millis(10);
            while let Some(n) = g.poll_nack(now) {
                for s in n.lost() {
                    let j = index(&mut unwrap, s);
                    prop_assert!(!arrived.contains(&j));
                    requested.insert(j);
                }
            }
        }
        // Every gap below the highest arrival was requested, unless a list overflow
        // (PLI) dropped it.
        if g.poll_pli().is_none() && !arrived.is_empty() {
            let lo = *arrived.iter().next().unwrap();
            let hi = *arrived.iter().next_back().unwrap();
            for j in lo..hi {
                if !arrived.contains(&j) {
                    prop_assert!(requested.contains(&j), "missing {j} never requested");
                }
            }
        }
        prop_assert_eq!(g.missing_count(), 0);
    }

    #[test]
    fn jitter_buffer_hands_out_frames_in_order_and_intact(f in fates(300), first in any::<u16>()) {
        // 3-packet VP8 frames; packet i belongs to frame i / 3.
        let mut pk = Vp8Packetizer::with_picture_id(0);
        let n_frames = f.len().div_ceil(3);
        let mut packets = Vec::new();
        let mut frames = Vec::new();
        for k in 0..n_frames {
            let mut data = vec![(k % 251) as u8; 60];
            data[0] = u8::from(k % 10 != 0);
            let mut out = Vec::new();
            pk.packetize(&data, 30, &mut out).unwrap();
            prop_assert_eq!(out.len(), 3);
            for (j, p) in out.into_iter().enumerate() {
                packets.push((k as u32 * 3000, j == 2, p));
            }
            frames.push(data);
        }
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(Vp8Depacketizer::new(), 90_000, JitterConfig::default());
        let mut out = Vec::new();
        for &(at, i) in &arrivals(&f) {
            let now = t0 + Duration::from_micros(at);
            let (ts, m, p) = &packets[i];
            jb.handle_packet(now, SeqNo(first.wrapping_add(i as u16)), *ts, *m, p);
            while let Some(e) = jb.poll_event(now) {
                out.push(e);
            }
        }
        let end = t0 + Duration::from_secs(100);
        while let Some(e) = jb.poll_event(end) {
            out.push(e);
        }
        let mut last_ts: Option<u32> = None;
        for e in out {
            let frame = match e {
                JitterEvent::Frame(fr) | JitterEvent::NeedsKeyframe(fr) => fr,
                JitterEvent::Lost { .. } => continue,
                other => panic!("{other:?}"),
            };
            let k = (frame.timestamp / 3000) as usize;
            prop_assert_eq!(&frame.data[..], &frames[k][..]);
            if let Some(l) = last_ts {
                prop_assert!(frame.timestamp > l, "out of order or repeated");
            }
            last_ts = Some(frame.timestamp);
        }
    }
}
