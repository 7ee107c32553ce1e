//! Congestion control over a simulated bottleneck (issue #14's scenarios): one or two
//! synthetic video flows whose encoders follow ferrtc-bwe's target, transport-wide
//! feedback every 50 ms, virtual time, seeded.

mod support;

use std::time::Duration;

use support::Scenario;

const MBPS: u64 = 1_000_000;

fn print(samples: &[(f64, Vec<u64>)]) {
    for (t, v) in samples.iter().step_by(5) {
        eprintln!("{t:6.1} {v:?}");
    }
}

/// Mean of flow 0's target over samples.
fn mean(w: &[(f64, Vec<u64>)]) -> f64 {
    w.iter().map(|x| x.1[0] as f64).sum::<f64>() / w.len() as f64
}

#[test]
fn ramps_to_85_percent_of_2_5_mbps_within_5_s_with_low_delay() {
    for seed in [1, 2, 3] {
        let cap = 2_500_000;
        let mut s = Scenario::new(seed, cap, 0.0, &[Duration::ZERO]);
        let ramp = s.sample(6.0, 0.1);
        print(&ramp);
        // Reached by 5 s: the target's mean over the second from then on is 85% of
        // capacity.
        let reached = ramp
            .windows(10)
            .find(|w| w[0].0 <= 5.0 && mean(w) >= 0.85 * cap as f64)
            .map(|w| &w[0]);
        assert!(reached.is_some(), "seed {seed}: never reached 85% in 5 s");
        let rest = s.sample(30.0, 0.1);
        print(&rest);
        let rx = s.receiver();
        let p95 = rx.delay_percentile(0, 5.0, 30.0, 0.95);
        let util = rx.throughput(0, 5.0, 30.0) / cap as f64;
        eprintln!(
            "seed {seed}: reached at {:?}, p95 queue {p95:?}, utilisation {util:.3}",
            reached.map(|r| r.0)
        );
        assert!(p95 < Duration::from_millis(100), "seed {seed}: p95 {p95:?}");
        assert!(util > 0.7, "seed {seed}: utilisation {util}");
    }
}

#[test]
fn follows_capacity_steps_3_1_3_mbps() {
    for seed in [1, 2, 3] {
        let mut s = Scenario::new(seed, 3 * MBPS, 0.0, &[Duration::ZERO]);
        let before = s.sample(10.0, 0.1);
        print(&before);
        s.set_capacity(MBPS);
        let low = s.sample(20.0, 0.05);
        print(&low);
        let below = low.iter().find(|(_, v)| v[0] < MBPS).map(|x| x.0 - 10.0);
        s.set_capacity(3 * MBPS);
        let high = s.sample(35.0, 0.1);
        print(&high);
        // Recovered: the target's mean over the next second is 85% (a probe's momentary
        // spike does not count).
        let recovered = high
            .windows(10)
            .find(|w| mean(w) >= 0.85 * 3e6)
            .map(|w| w[0].0 - 20.0);
        eprintln!(
            "seed {seed}: below capacity {below:?} s after the drop, 85% {recovered:?} s after the rise"
        );
        assert!(
            below.is_some_and(|b| b <= 1.0 + 1e-6),
            "seed {seed}: {below:?}"
        );
        // Once down it stays near the new capacity: never above 1.5x it after 3 s.
        let late_max = low
            .iter()
            .filter(|x| x.0 > 13.0)
            .map(|x| x.1[0])
            .max()
            .unwrap();
        assert!(late_max < 1_500_000, "seed {seed}: {late_max}");
        assert!(
            recovered.is_some_and(|r| r <= 10.0 + 1e-6),
            "seed {seed}: {recovered:?}"
        );
    }
}

#[test]
fn two_percent_loss_at_5_mbps_does_not_collapse() {
    for seed in [1, 2, 3] {
        let cap = 5 * MBPS;
        let mut s = Scenario::new(seed, cap, 0.02, &[Duration::ZERO]);
        let ramp = s.sample(5.0, 0.1);
        print(&ramp);
        let rest = s.sample(30.0, 0.1);
        print(&rest);
        let min = rest.iter().map(|x| x.1[0]).min().unwrap();
        let util = s.receiver().throughput(0, 5.0, 30.0) / cap as f64;
        eprintln!("seed {seed}: min after ramp-up {min}, utilisation {util:.3}");
        assert!(min as f64 >= 0.5 * cap as f64, "seed {seed}: {min}");
    }
}

/// Slower links keep the queue short too: one flow on 500 kbit/s or 1 Mbit/s holds p95
/// queueing under 100 ms from 5 s to 30 s. A frame there takes 10-30 ms to cross the
/// link, so the estimator has less room than at 2.5 Mbit/s; a faster additive increase
/// tried for issue 14 kept a standing queue of 135-243 ms here (docs/performance.md).
#[test]
fn slower_links_keep_the_queue_short() {
    for cap in [500_000, MBPS] {
        for seed in [1, 2, 3] {
            let mut s = Scenario::new(seed, cap, 0.0, &[Duration::ZERO]);
            s.run_to(30.0);
            let rx = s.receiver();
            let p95 = rx.delay_percentile(0, 5.0, 30.0, 0.95);
            let util = rx.throughput(0, 5.0, 30.0) / cap as f64;
            eprintln!("{cap} bit/s, seed {seed}: p95 queue {p95:?}, utilisation {util:.3}");
            assert!(
                p95 < Duration::from_millis(100),
                "{cap}, seed {seed}: {p95:?}"
            );
            assert!(util > 0.7, "{cap}, seed {seed}: utilisation {util}");
        }
    }
}
