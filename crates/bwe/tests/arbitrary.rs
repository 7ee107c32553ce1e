//! Arbitrary input never panics the estimator and never takes its target outside the
//! configured bounds: seeded random sends, feedback (any sequence numbers, any receive
//! deltas including the extremes, losses, duplicates, wrong reference times), REMB values
//! and timer calls, in any order.

use std::time::{Duration, Instant};

use ferrtc_bwe::{BweConfig, BweEvent, CongestionController, PacketKind, RembEstimator};
use ferrtc_rtp_codecs::rtcp::{PacketStatus, TransportFeedback, TwccPackets};
use ferrtc_types::{SeqNo, Ssrc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn status(rng: &mut ChaCha8Rng) -> PacketStatus {
    match rng.random_range(0..4) {
        0 => PacketStatus::NotReceived,
        1 => PacketStatus::ReceivedSmall(rng.random()),
        2 => PacketStatus::ReceivedLarge(rng.random()),
        _ => PacketStatus::ReceivedLarge(if rng.random() { i16::MAX } else { i16::MIN }),
    }
}

#[test]
fn arbitrary_feedback_never_panics_nor_leaves_bounds() {
    for seed in 0..20u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let config = BweConfig {
            start_bitrate_bps: rng.random_range(0..5_000_000),
            min_bitrate_bps: rng.random_range(10_000..200_000),
            max_bitrate_bps: rng.random_range(200_000..10_000_000),
            ..BweConfig::default()
        };
        let (min, max) = (config.min_bitrate_bps, config.max_bitrate_bps);
        let t0 = Instant::now();
        let mut now = t0;
        let mut cc: CongestionController<u32> =
            CongestionController::new(config, now, SeqNo(rng.random()));
        let mut remb = RembEstimator::new(now, rng.random_range(0..5_000_000), min, max);
        let mut statuses = Vec::new();
        let mut sent = 0u32;
        for _ in 0..5_000 {
            now += Duration::from_micros(rng.random_range(0..20_000));
            match rng.random_range(0..10) {
                0..=3 => cc.enqueue(now, PacketKind::Video, rng.random_range(0..1500), 0),
                4 => cc.enqueue(now, PacketKind::Audio, rng.random_range(0..300), 0),
                5 => cc.enqueue(
                    now,
                    PacketKind::Retransmission,
                    rng.random_range(0..1500),
                    0,
                ),
                6 => {
                    statuses.clear();
                    for _ in 0..rng.random_range(0..300) {
                        statuses.push(status(&mut rng));
                    }
                    let fb = TransportFeedback {
                        sender_ssrc: Ssrc(1),
                        media_ssrc: Ssrc(2),
                        base_seq: SeqNo(rng.random()),
                        reference_time: rng.random::<u32>() & 0xff_ffff,
                        fb_pkt_count: rng.random(),
                        packets: TwccPackets::Statuses(&statuses),
                    };
                    cc.handle_transport_feedback(now, &fb);
                }
                7 => {
                    // Plausible feedback: the last packets sent, arriving with random delays.
                    let n = rng.random_range(0..50u32);
                    let base = sent.saturating_sub(n);
                    let items = (base..sent).map(|i| {
                        let arrival = (rng.random::<f64>() < 0.9)
                            .then(|| i64::from(i) * 1000 + rng.random_range(-50_000..50_000));
                        (SeqNo(i as u16), arrival)
                    });
                    let items: Vec<_> = items.collect();
                    cc.handle_feedback(now, items);
                }
                8 => cc.handle_remb(now, rng.random_range(0..u64::MAX >> 1)),
                _ => cc.handle_timeout(now),
            }
            while cc.poll_transmit().is_some() {
                sent += 1;
            }
            while let Some(BweEvent::TargetBitrate { bitrate_bps, .. }) = cc.poll_event() {
                assert!(
                    (min..=max).contains(&bitrate_bps),
                    "seed {seed}: {bitrate_bps}"
                );
            }
            let t = cc.target_bitrate_bps();
            assert!((min..=max).contains(&t), "seed {seed}: {t}");
            assert!(cc.poll_timeout().is_some());
            // The receive side: any abs-send-time, any size.
            remb.handle_packet(now, rng.random(), rng.random_range(0..1500));
            remb.handle_timeout(now);
            if let Some(bps) = remb.poll_remb(now) {
                assert!((min..=max).contains(&bps), "seed {seed}: REMB {bps}");
            }
        }
    }
}
