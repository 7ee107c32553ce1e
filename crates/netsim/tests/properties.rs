//! Properties that hold for every link configuration: nothing is created or lost without being
//! counted, delays respect the configured bounds, and a seed replays exactly.

use std::net::SocketAddr;
use std::time::Duration;

use ferrtc_netsim::endpoints::{Pacer, Recorder};
use ferrtc_netsim::{Bandwidth, LinkConfig, LinkStats, Sim};
use proptest::prelude::*;

fn config() -> impl Strategy<Value = LinkConfig> {
    (
        (0u64..50_000, 0u64..20_000, 0.0..=1.0f64, 0.0..=0.5f64),
        (
            0.0..=0.5f64,
            0u64..30_000,
            proptest::option::of((1u64..10_000_000, 0usize..50_000)),
        ),
        (proptest::option::of(0usize..1500), any::<bool>()),
    )
        .prop_map(
            |((lat, jit, loss, dup), (reo, reo_delay, bw), (mtu, in_order))| {
                let mut c = LinkConfig::ideal()
                    .latency(Duration::from_micros(lat))
                    .jitter(Duration::from_micros(jit))
                    .loss(loss)
                    .duplicate(dup)
                    .reorder(reo, Duration::from_micros(reo_delay))
                    .in_order(in_order);
                if let Some((rate, queue)) = bw {
                    c = c.bandwidth(Bandwidth::new(rate, queue));
                }
                if let Some(mtu) = mtu {
                    c = c.mtu(mtu);
                }
                c
            },
        )
}

struct Outcome {
    stats: LinkStats,
    /// (arrival offset, sequence number) at the receiver.
    received: Vec<(Duration, u64)>,
    /// Send offset of each sequence number.
    sent: Vec<Duration>,
}

fn run(seed: u64, cfg: &LinkConfig, count: u64, interval_us: u64, size: usize) -> Outcome {
    let a: SocketAddr = "10.0.0.1:1".parse().unwrap();
    let b: SocketAddr = "10.0.0.2:2".parse().unwrap();
    let mut sim = Sim::new(seed);
    let link = sim.add_link(a.ip(), b.ip(), cfg.clone());
    let p = sim.add_endpoint(
        [a],
        Pacer::new(a, b, count, Duration::from_micros(interval_us)).size(size),
    );
    let r = sim.add_endpoint([b], Recorder::new());
    sim.run_until_idle(Duration::from_secs(100_000)).unwrap();
    let epoch = sim.epoch();
    Outcome {
        stats: sim.link_stats(link),
        received: sim
            .endpoint(r)
            .received
            .iter()
            .map(|x| (x.at - epoch, Pacer::sequence_number(&x.data).unwrap()))
            .collect(),
        sent: sim.endpoint(p).sent.iter().map(|t| *t - epoch).collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_datagram_is_accounted_for(
        seed in any::<u64>(),
        cfg in config(),
        count in 1u64..300,
        interval_us in 0u64..5_000,
        size in 8usize..1600,
    ) {
        let o = run(seed, &cfg, count, interval_us, size);
        let s = o.stats;
        prop_assert_eq!(s.sent, count);
        prop_assert_eq!(s.delivered + s.dropped_loss + s.dropped_mtu + s.dropped_queue, s.sent + s.duplicated);
        prop_assert_eq!(o.received.len() as u64, s.delivered);
        prop_assert!(s.out_of_order <= s.delivered);
        if cfg.mtu.is_some_and(|m| size > m) {
            prop_assert_eq!(s.dropped_mtu, count);
        }
        // Without a bandwidth cap, the delay is latency + jitter (+ reorder delay); waiting
        // for an earlier datagram in order never goes past that bound either, since the
        // earlier one left first.
        if cfg.bandwidth.is_none() {
            let max_extra = cfg.jitter + cfg.reorder_delay;
            for &(at, seq) in &o.received {
                let d = at - o.sent[seq as usize];
                prop_assert!(d >= cfg.latency, "{:?} < {:?}", d, cfg.latency);
                prop_assert!(d <= cfg.latency + max_extra, "{:?}", d);
            }
        }
        // In order, without reordering or duplicates: nothing overtakes.
        if cfg.in_order && cfg.reorder == 0.0 && cfg.duplicate == 0.0 {
            prop_assert_eq!(s.out_of_order, 0);
            prop_assert!(o.received.windows(2).all(|w| w[0].1 < w[1].1));
        }
        // Arrivals are handed over in time order.
        prop_assert!(o.received.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn a_seed_replays_exactly(seed in any::<u64>(), cfg in config(), count in 1u64..200) {
        let one = run(seed, &cfg, count, 700, 100);
        let two = run(seed, &cfg, count, 700, 100);
        prop_assert_eq!(one.stats, two.stats);
        prop_assert_eq!(one.received, two.received);
    }
}
