//! The `bwe` group (issue 14): ferrtc's send-side bandwidth estimation beside str0m 0.24's
//! and webrtc-rs's GCC (`rtc-interceptor` 0.21, the sans-IO successor of webrtc-rs 0.17's
//! `interceptor`, from webrtc-rs/rtc), each driving a synthetic 30 fps video encoder through
//! the same seeded netsim bottleneck (50 ms round trip, a 300 ms tail-drop queue), in virtual
//! time. The scenarios and both reference harnesses are `ferrtc-bwe`'s own test support
//! (`crates/bwe/tests/support`), shared with its `str0m_side_by_side` and `wrs_side_by_side`
//! tests, not a copy.
//!
//! Each row: the workload names the scenario, the window measured and both p95 queueing
//! delays; the figures are link utilisation (delivered media bits over capacity) and the
//! ratio is ferrtc's utilisation over the reference's. The two-flow fairness row has no
//! reference implementation yet (the harnesses run one pair); its reference is one ferrtc
//! flow on the same link, and its workload names the two flows' share gap.
//!
//! The webrtc-rs rows drive its public interceptors: a `Registry` chain of its
//! `CongestionControlInterceptor` around its `Gcc`, its `TwccSenderInterceptor` (stamping
//! the transport-wide sequence number) and its `PacerInterceptor`, the encoder following the
//! `TargetBitrateChanged` attribute the chain delivers with each feedback packet, and on the
//! receiving side its `TwccReceiverInterceptor` (50 ms interval, as ferrtc's receiver).
//! webrtc-rs 0.17 itself has no row: its `interceptor` crate 0.17 holds only the TWCC stamping
//! and feedback generator, with no estimator.

#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../../crates/bwe/tests/support/mod.rs"]
mod support;

use std::time::Duration;

use support::Scenario;
use support::str0m_run::Str0mRun;
use support::wrs_run::WrsRun;

use crate::{Config, Row, Unit};

const SEED: u64 = 1;
const MBPS: u64 = 1_000_000;

/// (utilisation, p95 queueing) of ferrtc's flow `i` in `[start, end)` s.
fn ferrtc_measure(s: &Scenario, i: usize, start: f64, end: f64, cap: f64) -> (f64, Duration) {
    let rx = s.receiver();
    (
        rx.throughput(i, start, end) / cap,
        rx.delay_percentile(i, start, end, 0.95),
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn row(name: &str, reference: &'static str, ours: (f64, Duration), theirs: (f64, Duration)) -> Row {
    Row {
        workload: format!(
            "bwe {name}: link utilisation (p95 queueing ferrtc {:.0} ms, {reference} {:.0} ms)",
            ms(ours.1),
            ms(theirs.1)
        ),
        ours_name: "ferrtc",
        reference_name: reference,
        ours_per_sec: ours.0,
        reference_per_sec: theirs.0,
        unit: Unit::Fraction,
    }
}

/// The group's rows. Virtual time: `cfg` does not change them (one seed, fixed windows).
pub fn rows(_cfg: &Config) -> Vec<Row> {
    const STR0M: &str = "str0m 0.24";
    const WRS: &str = "webrtc-rs rtc-interceptor 0.21 GCC";
    let mut rows = Vec::new();

    // 2.5 Mbit/s, 50 ms RTT: 5 s to 30 s.
    let cap = 2.5 * MBPS as f64;
    let mut ours = Scenario::new(SEED, cap as u64, 0.0, &[Duration::ZERO]);
    ours.run_to(30.0);
    let mut theirs = Str0mRun::new(SEED, cap as u64, 0.0);
    theirs.run_to(30.0);
    let mut wrs = WrsRun::new(SEED, cap as u64, 0.0);
    wrs.run_to(30.0);
    let name = "2.5 Mbit/s, 50 ms RTT (5-30 s)";
    let m = ferrtc_measure(&ours, 0, 5.0, 30.0, cap);
    rows.push(row(name, STR0M, m, theirs.measure(5.0, 30.0, cap)));
    rows.push(row(name, WRS, m, wrs.measure(5.0, 30.0, cap)));

    // 3 -> 1 -> 3 Mbit/s, 10 s each.
    let mut ours = Scenario::new(SEED, 3 * MBPS, 0.0, &[Duration::ZERO]);
    let mut theirs = Str0mRun::new(SEED, 3 * MBPS, 0.0);
    let mut wrs = WrsRun::new(SEED, 3 * MBPS, 0.0);
    for (to, next) in [(10.0, MBPS), (20.0, 3 * MBPS)] {
        ours.run_to(to);
        theirs.run_to(to);
        wrs.run_to(to);
        ours.set_capacity(next);
        theirs.set_capacity(next);
        wrs.set_capacity(next);
    }
    ours.run_to(30.0);
    theirs.run_to(30.0);
    wrs.run_to(30.0);
    for (name, start, end, cap) in [
        ("3 -> 1 Mbit/s step (10-20 s)", 10.0, 20.0, 1e6),
        ("1 -> 3 Mbit/s step (20-30 s)", 20.0, 30.0, 3e6),
    ] {
        let m = ferrtc_measure(&ours, 0, start, end, cap);
        rows.push(row(name, STR0M, m, theirs.measure(start, end, cap)));
        rows.push(row(name, WRS, m, wrs.measure(start, end, cap)));
    }

    // 2% random loss at 5 Mbit/s: 5 s to 30 s.
    let cap = 5.0 * MBPS as f64;
    let mut ours = Scenario::new(SEED, cap as u64, 0.02, &[Duration::ZERO]);
    ours.run_to(30.0);
    let mut theirs = Str0mRun::new(SEED, cap as u64, 0.02);
    theirs.run_to(30.0);
    let mut wrs = WrsRun::new(SEED, cap as u64, 0.02);
    wrs.run_to(30.0);
    let name = "5 Mbit/s, 2% loss (5-30 s)";
    let m = ferrtc_measure(&ours, 0, 5.0, 30.0, cap);
    rows.push(row(name, STR0M, m, theirs.measure(5.0, 30.0, cap)));
    rows.push(row(name, WRS, m, wrs.measure(5.0, 30.0, cap)));

    // Two ferrtc flows sharing 4 Mbit/s, 27 s to 32 s, beside one flow alone.
    let cap = 4.0 * MBPS as f64;
    let mut two = Scenario::new(SEED, cap as u64, 0.0, &[Duration::ZERO, Duration::ZERO]);
    two.run_to(32.0);
    let (a, pa) = ferrtc_measure(&two, 0, 27.0, 32.0, cap);
    let (b, pb) = ferrtc_measure(&two, 1, 27.0, 32.0, cap);
    let gap = (a - b).abs() / a.max(b).max(1e-9);
    let mut one = Scenario::new(SEED, cap as u64, 0.0, &[Duration::ZERO]);
    one.run_to(32.0);
    let mut r = row(
        &format!(
            "two flows share 4 Mbit/s (27-32 s, share gap {:.0}%)",
            gap * 100.0
        ),
        "ferrtc one flow",
        (a + b, pa.max(pb)),
        ferrtc_measure(&one, 0, 27.0, 32.0, cap),
    );
    r.ours_name = "ferrtc two flows";
    rows.push(r);
    rows
}
