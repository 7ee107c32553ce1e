//! Workloads for the criterion benches and the side-by-side `report` binary.
//!
//! Every figure ferrtc publishes is a ratio: our implementation beside a reference (a peer
//! implementation nobody here wrote, or the raw crypto ceiling), measured in the same process,
//! interleaved, so that a shared or throttled machine slows both sides alike.
//!
//! A group (one per layer) lives in its own module with
//! `pub fn rows(cfg: &Config) -> Vec<Row>` and is registered in [`GROUPS`]. Inside, each
//! workload is measured with [`compare`]:
//!
//! ```no_run
//! use ferrtc_benches::{compare, Case, Config, Unit};
//! let cfg = Config::default();
//! let data = vec![7u8; 1200];
//! let rows = compare(
//!     &cfg,
//!     "sum 1200 bytes",
//!     Unit::Bytes(1200),
//!     Case::new("ferrtc", || {
//!         std::hint::black_box(data.iter().map(|&b| b as u64).sum::<u64>());
//!     }),
//!     vec![Case::new("fold", || {
//!         std::hint::black_box(data.iter().fold(0u64, |a, &b| a + b as u64));
//!     })],
//! );
//! println!("{}", ferrtc_benches::markdown(&rows));
//! ```
#![warn(missing_docs)]

pub mod alloc;
pub mod bwe;
pub mod dtls;
pub mod facade;
pub mod ice;
pub mod media;
pub mod pc;
pub mod rtp;
pub mod sctp;
pub mod sdp;
pub mod srtp;
pub mod stun;
pub mod turn;
pub mod wrs;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A group's entry point: measures its workloads and returns their rows.
pub type GroupFn = fn(&Config) -> Vec<Row>;

/// Every group the report knows, by name, in the order `all` runs them.
pub const GROUPS: &[(&str, GroupFn)] = &[
    ("sdp", sdp::rows),
    ("stun", stun::rows),
    ("srtp", srtp::rows),
    ("rtp", rtp::rows),
    ("sctp", sctp::rows),
    ("dtls", dtls::rows),
    ("ice", ice::rows),
    ("turn", turn::rows),
    ("pc", pc::rows),
    ("facade", facade::rows),
    ("bwe", bwe::rows),
    ("media", media::rows),
];

/// How long and how carefully to measure.
#[derive(Debug, Clone)]
pub struct Config {
    /// Wall time spent on one workload, all cases together.
    pub seconds_per_workload: f64,
    /// Number of interleaved rounds; each case runs once per round, in rotating order.
    pub rounds: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seconds_per_workload: 3.0,
            rounds: 15,
        }
    }
}

/// What one iteration of a workload processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Each iteration processes this many bytes: rates are shown as bytes per second.
    Bytes(u64),
    /// Each iteration is one operation: rates are shown as operations per second.
    Ops,
    /// Not a rate: both figures are bytes held per object (e.g. per connection), and the
    /// ratio is reference / ferrtc, so above 1 still means ferrtc is better (uses less).
    Memory,
    /// Not a rate: both figures are seconds per operation (a median latency), and the ratio
    /// is reference / ferrtc, so above 1 still means ferrtc is better (faster).
    Seconds,
    /// Not a rate: both figures are fractions of a whole (e.g. link utilisation, 0.93 for
    /// 93%), shown as percentages; the ratio is ferrtc / reference, as for rates.
    Fraction,
}

/// One implementation of a workload: a name and a closure doing one iteration.
pub struct Case<'a> {
    name: &'static str,
    run: Box<dyn FnMut() + 'a>,
}

impl<'a> Case<'a> {
    /// A case named `name` (e.g. `"ferrtc"`, `"webrtc-srtp 0.17"`, `"ring seal"`) running `run`
    /// once per iteration. Wrap results in [`std::hint::black_box`] so the work is not optimised
    /// away.
    pub fn new(name: &'static str, run: impl FnMut() + 'a) -> Self {
        Case {
            name,
            run: Box::new(run),
        }
    }
}

/// One line of the report: ferrtc beside one reference on one workload.
#[derive(Debug, Clone)]
pub struct Row {
    /// The workload's name.
    pub workload: String,
    /// Name of our case.
    pub ours_name: &'static str,
    /// Name of the reference case.
    pub reference_name: &'static str,
    /// Our rate, iterations per second (median over rounds); bytes for [`Unit::Memory`],
    /// seconds for [`Unit::Seconds`].
    pub ours_per_sec: f64,
    /// The reference's rate, iterations per second (median over rounds); bytes for
    /// [`Unit::Memory`], seconds for [`Unit::Seconds`].
    pub reference_per_sec: f64,
    /// What one iteration processes.
    pub unit: Unit,
}

impl Row {
    /// Our rate divided by the reference's: above 1 means ferrtc is faster. For
    /// [`Unit::Memory`] and [`Unit::Seconds`] the other way round (reference / ours): above
    /// 1 means ferrtc uses less, or takes less time.
    pub fn ratio(&self) -> f64 {
        match self.unit {
            Unit::Memory | Unit::Seconds => self.reference_per_sec / self.ours_per_sec,
            _ => self.ours_per_sec / self.reference_per_sec,
        }
    }
}

/// Measures `ours` and every reference on the same workload, interleaved, and returns one row
/// per reference.
///
/// Each case is first calibrated to a batch size that takes about a millisecond, then the
/// cases take turns for [`Config::rounds`] rounds (the order rotating each round); the rate of
/// each case is the median of its per-round rates.
pub fn compare(
    cfg: &Config,
    workload: &str,
    unit: Unit,
    ours: Case<'_>,
    references: Vec<Case<'_>>,
) -> Vec<Row> {
    let mut cases: Vec<Case<'_>> = std::iter::once(ours).chain(references).collect();
    let n = cases.len();
    let rounds = cfg.rounds.max(1);
    let slice = Duration::from_secs_f64(cfg.seconds_per_workload / (rounds * n) as f64);
    let batches: Vec<u64> = cases.iter_mut().map(calibrate).collect();
    let mut rates: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        for k in 0..n {
            let i = (k + round) % n;
            let (iters, elapsed) = run_for(&mut cases[i], batches[i], slice);
            rates[i].push(iters as f64 / elapsed.as_secs_f64());
        }
    }
    let medians: Vec<f64> = rates.iter_mut().map(|r| median(r)).collect();
    (1..n)
        .map(|i| Row {
            workload: workload.to_owned(),
            ours_name: cases[0].name,
            reference_name: cases[i].name,
            ours_per_sec: medians[0],
            reference_per_sec: medians[i],
            unit,
        })
        .collect()
}

/// One implementation of a workload that needs untimed preparation between timed batches
/// (fresh SRTP packets that a replay window would otherwise refuse, say).
pub struct BatchCase<'a> {
    name: &'static str,
    prepare: Box<dyn FnMut() + 'a>,
    run: Box<dyn FnMut() -> u64 + 'a>,
}

impl<'a> BatchCase<'a> {
    /// A case named `name`: `prepare` sets up one batch (not timed), `run` processes it
    /// (timed) and returns how many operations it did.
    pub fn new(
        name: &'static str,
        prepare: impl FnMut() + 'a,
        run: impl FnMut() -> u64 + 'a,
    ) -> Self {
        BatchCase {
            name,
            prepare: Box::new(prepare),
            run: Box::new(run),
        }
    }
}

/// As [`compare`], for cases that prepare each batch outside the timed part: per round each
/// case, in rotating order, prepares and runs batches until its timed share of the round has
/// passed; its rate for the round is operations over timed time only. One row per reference.
pub fn compare_batched(
    cfg: &Config,
    workload: &str,
    unit: Unit,
    ours: BatchCase<'_>,
    references: Vec<BatchCase<'_>>,
) -> Vec<Row> {
    let mut cases: Vec<BatchCase<'_>> = std::iter::once(ours).chain(references).collect();
    let n = cases.len();
    let rounds = cfg.rounds.max(1);
    // Preparation takes time too: give the timed part about half of the budget.
    let slice = Duration::from_secs_f64(cfg.seconds_per_workload / (2 * rounds * n) as f64);
    for c in &mut cases {
        // A warm-up batch, not counted.
        (c.prepare)();
        (c.run)();
    }
    let mut rates: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        for k in 0..n {
            let i = (k + round) % n;
            let c = &mut cases[i];
            let (mut ops, mut timed) = (0u64, Duration::ZERO);
            while timed < slice {
                (c.prepare)();
                let start = Instant::now();
                ops += (c.run)();
                timed += start.elapsed();
            }
            rates[i].push(ops as f64 / timed.as_secs_f64());
        }
    }
    let medians: Vec<f64> = rates.iter_mut().map(|r| median(r)).collect();
    (1..n)
        .map(|i| Row {
            workload: workload.to_owned(),
            ours_name: cases[0].name,
            reference_name: cases[i].name,
            ours_per_sec: medians[0],
            reference_per_sec: medians[i],
            unit,
        })
        .collect()
}

/// Finds a batch size whose run takes about a millisecond.
fn calibrate(case: &mut Case<'_>) -> u64 {
    let mut batch = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..batch {
            (case.run)();
        }
        let took = start.elapsed();
        if took >= Duration::from_micros(500) || batch >= 1 << 30 {
            let per = took.as_secs_f64() / batch as f64;
            return ((1e-3 / per.max(1e-12)) as u64).clamp(1, 1 << 30);
        }
        batch *= 2;
    }
}

/// Runs whole batches until `slice` has passed; returns iterations and time taken.
fn run_for(case: &mut Case<'_>, batch: u64, slice: Duration) -> (u64, Duration) {
    let start = Instant::now();
    let mut iters = 0u64;
    loop {
        for _ in 0..batch {
            (case.run)();
        }
        iters += batch;
        let elapsed = start.elapsed();
        if elapsed >= slice {
            return (iters, elapsed);
        }
    }
}

/// The median of `v` (sorted in place); NaN when empty.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Formats a rate in the unit's terms: bytes become MB/s and Gbit/s, operations ops/s;
/// [`Unit::Memory`] figures are bytes, shown in KiB.
pub fn format_rate(per_sec: f64, unit: Unit) -> String {
    match unit {
        Unit::Bytes(n) => {
            let bytes = per_sec * n as f64;
            format!("{:.0} MB/s ({:.2} Gbit/s)", bytes / 1e6, bytes * 8.0 / 1e9)
        }
        Unit::Ops if per_sec >= 1e6 => format!("{:.2} M/s", per_sec / 1e6),
        Unit::Ops if per_sec >= 1e3 => format!("{:.1} k/s", per_sec / 1e3),
        Unit::Ops => format!("{per_sec:.1} /s"),
        Unit::Memory => format!("{:.1} KiB", per_sec / 1024.0),
        Unit::Seconds if per_sec < 1.0 => format!("{:.2} ms", per_sec * 1e3),
        Unit::Seconds => format!("{per_sec:.2} s"),
        Unit::Fraction => format!("{:.1}%", per_sec * 100.0),
    }
}

/// The report's markdown table for `rows`: workload, ours, reference, ratio.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| workload | ferrtc | reference | reference rate | ratio (ferrtc / reference) |\n\
         | --- | ---: | --- | ---: | ---: |\n",
    );
    for r in rows {
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.2}x |",
            r.workload,
            format_rate(r.ours_per_sec, r.unit),
            r.reference_name,
            format_rate(r.reference_per_sec, r.unit),
            r.ratio()
        );
    }
    out
}

/// Makes (or reuses) a Python virtual environment at `venv` holding `packages` (pip
/// requirement strings, space-separated, e.g. `"av==18.1.0"`); returns its interpreter. A
/// stamp file in the venv records what was installed, so a second run installs nothing.
pub fn python_venv(venv: &Path, packages: &str) -> Result<PathBuf, String> {
    let python = venv.join("bin/python");
    let stamp = venv.join("ferrtc-packages.txt");
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == packages) {
        return Ok(python);
    }
    let run = |c: &mut Command| -> Result<(), String> {
        let shown = format!("{c:?}");
        match c.status() {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(format!("{shown} failed: {s}")),
            Err(e) => Err(format!("{shown}: {e}")),
        }
    };
    eprintln!("creating {} with {packages}", venv.display());
    if !python.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
    }
    run(Command::new(&python)
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .args(packages.split_whitespace()))?;
    std::fs::write(&stamp, packages).map_err(|e| e.to_string())?;
    Ok(python)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn compare_ranks_more_work_as_slower() {
        let cfg = Config {
            seconds_per_workload: 0.3,
            rounds: 3,
        };
        let small = vec![1u8; 64];
        let big = vec![1u8; 64 * 256];
        let sum = |d: &[u8]| d.iter().map(|&b| b as u64).sum::<u64>();
        let rows = compare(
            &cfg,
            "sum",
            Unit::Ops,
            Case::new("small", || {
                std::hint::black_box(sum(std::hint::black_box(&small)));
            }),
            vec![Case::new("big", || {
                std::hint::black_box(sum(std::hint::black_box(&big)));
            })],
        );
        assert_eq!(rows.len(), 1);
        // 256x the work: even on a noisy shared machine the small case must be clearly faster.
        assert!(rows[0].ratio() > 4.0, "ratio {}", rows[0].ratio());
        let table = markdown(&rows);
        assert!(table.contains("| sum |"), "{table}");
    }

    #[test]
    fn rates_are_formatted_in_their_unit() {
        assert_eq!(
            format_rate(1e6, Unit::Bytes(1000)),
            "1000 MB/s (8.00 Gbit/s)"
        );
        assert_eq!(format_rate(2.5e6, Unit::Ops), "2.50 M/s");
        assert_eq!(format_rate(2500.0, Unit::Ops), "2.5 k/s");
        assert_eq!(format_rate(0.0042, Unit::Seconds), "4.20 ms");
        assert_eq!(format_rate(1.5, Unit::Seconds), "1.50 s");
    }
}
