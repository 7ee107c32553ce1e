//! Side by side with str0m's send-side BWE (str0m 0.24, whose estimator is reachable only
//! inside its `Rtc`): two str0m peers, a VP8 sender whose encoder follows str0m's
//! `EgressBitrateEstimate` and a receiver, over the same netsim bottleneck, seeds and
//! synthetic encoder as ferrtc's scenarios in `tests/netsim.rs`. Queueing delay is read
//! from the simulator's trace (each datagram's send and delivery matched by digest).
//! Prints one row per scenario and reference: utilisation, p95 queueing, and ferrtc's
//! utilisation divided by str0m's. Seed 1 unless `FERRTC_BWE_SEEDS` names others
//! (`1-5`, or `1,3`): a str0m run costs tens of seconds in a debug build. The str0m side is driven through its public API only; its full queues and its
//! slow climb after the 1 -> 3 Mbit/s step have not yet been cross-checked against
//! str0m's own BWE tests, so read its figures as this harness's, not as str0m's best.

mod support;

use std::time::Duration;

use support::Scenario;
use support::str0m_run::Str0mRun;

/// ferrtc's figures for the same window, from its scenario.
fn ferrtc_measure(s: &Scenario, start: f64, end: f64, cap: f64) -> (f64, Duration) {
    let rx = s.receiver();
    (
        rx.throughput(0, start, end) / cap,
        rx.delay_percentile(0, start, end, 0.95),
    )
}

/// Prints a row; returns (ferrtc / str0m utilisation, ferrtc p95, str0m p95).
fn row(
    name: &str,
    seed: u64,
    ours: (f64, Duration),
    theirs: (f64, Duration),
) -> (f64, Duration, Duration) {
    let ratio = ours.0 / theirs.0.max(1e-9);
    eprintln!(
        "| {name} | seed {seed} | str0m 0.24 | {:.2} | {:.0} ms | ferrtc {:.2} | {:.0} ms | {ratio:.2} |",
        theirs.0,
        theirs.1.as_secs_f64() * 1e3,
        ours.0,
        ours.1.as_secs_f64() * 1e3,
    );
    (ratio, ours.1, theirs.1)
}

#[test]
fn side_by_side_with_str0m() {
    eprintln!(
        "| scenario | seed | reference | its utilisation | its p95 queueing | ferrtc utilisation | ferrtc p95 queueing | ferrtc / reference |"
    );
    let mut ratios = Vec::new();
    for seed in support::side_by_side_seeds() {
        // 2.5 Mbit/s, 50 ms RTT: utilisation and queueing from 5 s to 30 s.
        let cap = 2_500_000.0;
        let mut theirs = Str0mRun::new(seed, cap as u64, 0.0);
        theirs.run_to(30.0);
        let mut ours = Scenario::new(seed, cap as u64, 0.0, &[Duration::ZERO]);
        ours.run_to(30.0);
        eprintln!("str0m estimate at 30 s: {}", theirs.estimate());
        ratios.push(row(
            "2.5 Mbit/s",
            seed,
            ferrtc_measure(&ours, 5.0, 30.0, cap),
            theirs.measure(5.0, 30.0, cap),
        ));

        // 3 -> 1 -> 3 Mbit/s: utilisation and queueing over the 10 s after each step.
        let mut theirs = Str0mRun::new(seed, 3_000_000, 0.0);
        let mut ours = Scenario::new(seed, 3_000_000, 0.0, &[Duration::ZERO]);
        theirs.run_to(10.0);
        ours.run_to(10.0);
        theirs.set_capacity(1_000_000);
        ours.set_capacity(1_000_000);
        theirs.run_to(20.0);
        ours.run_to(20.0);
        theirs.set_capacity(3_000_000);
        ours.set_capacity(3_000_000);
        theirs.run_to(30.0);
        ours.run_to(30.0);
        ratios.push(row(
            "3 -> 1 Mbit/s (10-20 s)",
            seed,
            ferrtc_measure(&ours, 10.0, 20.0, 1e6),
            theirs.measure(10.0, 20.0, 1e6),
        ));
        ratios.push(row(
            "1 -> 3 Mbit/s (20-30 s)",
            seed,
            ferrtc_measure(&ours, 20.0, 30.0, 3e6),
            theirs.measure(20.0, 30.0, 3e6),
        ));

        // 2% loss at 5 Mbit/s, 5 s to 30 s.
        let cap = 5_000_000.0;
        let mut theirs = Str0mRun::new(seed, cap as u64, 0.02);
        theirs.run_to(30.0);
        let mut ours = Scenario::new(seed, cap as u64, 0.02, &[Duration::ZERO]);
        ours.run_to(30.0);
        ratios.push(row(
            "5 Mbit/s, 2% loss",
            seed,
            ferrtc_measure(&ours, 5.0, 30.0, cap),
            theirs.measure(5.0, 30.0, cap),
        ));
    }
    // Measured at seeds 1-5 (FERRTC_BWE_SEEDS=1-5): after the steps ferrtc uses more than
    // str0m (1.24-1.44 after the fall, 2.37-5.82 after the rise); at steady 2.5 Mbit/s
    // (0.93-1.06) and under 2% loss (0.94-1.31) at least 90% of it, str0m's higher figures
    // there coming with a p95 queue of 180-296 ms where ferrtc's is 29-41 ms. Asserted:
    // ratio >= 1.0 after the steps, >= 0.9 at steady state and under loss, and a shorter
    // queue than str0m's where the link stays steady (2.5 Mbit/s, 2% loss).
    for (i, &(ratio, ours, theirs)) in ratios.iter().enumerate() {
        let floor = if i % 4 == 1 || i % 4 == 2 { 1.0 } else { 0.9 };
        assert!(ratio >= floor, "row {i}: utilisation ratio {ratio:.2}");
        if i % 4 == 0 || i % 4 == 3 {
            assert!(ours <= theirs, "row {i}: p95 {ours:?} vs str0m {theirs:?}");
        }
    }
}
