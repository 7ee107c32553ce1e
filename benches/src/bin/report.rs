//! The side-by-side report: `cargo run --release -p ferrtc-benches --bin report -- [GROUP...|all]
//! [--seconds S] [--out FILE]`. Prints a markdown table per group: workload, ferrtc, reference,
//! ratio.

use std::process::ExitCode;

use ferrtc_benches::{Config, GROUPS, markdown};

// Counts live bytes only while a memory row is being taken (the `pc` group); a plain
// forward to the system allocator otherwise.
#[global_allocator]
static GLOBAL: ferrtc_benches::alloc::CountingBytes = ferrtc_benches::alloc::CountingBytes;

fn main() -> ExitCode {
    // The facade group's resident-memory row runs this binary again, one fresh process per
    // stack, so that no earlier workload's freed memory hides the growth.
    if let Ok(stack) = std::env::var(ferrtc_benches::facade::RSS_CHILD_ENV) {
        return if ferrtc_benches::facade::rss_child(&stack) {
            ExitCode::SUCCESS
        } else {
            usage(&format!("unknown resident-memory stack {stack:?}"))
        };
    }
    let mut cfg = Config::default();
    let mut wanted: Vec<String> = Vec::new();
    let mut out_file = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => match args.next().and_then(|s| s.parse().ok()) {
                Some(s) => cfg.seconds_per_workload = s,
                None => return usage("--seconds needs a number"),
            },
            "--out" => match args.next() {
                Some(f) => out_file = Some(f),
                None => return usage("--out needs a file"),
            },
            "all" => wanted.extend(GROUPS.iter().map(|(n, _)| (*n).to_owned())),
            g if GROUPS.iter().any(|(n, _)| *n == g) => wanted.push(g.to_owned()),
            other => return usage(&format!("unknown group {other:?}")),
        }
    }
    if wanted.is_empty() {
        wanted.extend(GROUPS.iter().map(|(n, _)| (*n).to_owned()));
    }
    let mut report = format!(
        "# ferrtc performance report\n\n{} s per workload, {} interleaved rounds, median rate per \
         case. Ratios above 1 mean ferrtc is faster.\n",
        cfg.seconds_per_workload, cfg.rounds
    );
    print!("{report}");
    for (name, rows) in GROUPS {
        if !wanted.iter().any(|w| w == name) {
            continue;
        }
        eprintln!("measuring {name} ...");
        let table = markdown(&rows(&cfg));
        let section = format!("\n## {name}\n\n{table}");
        print!("{section}");
        report.push_str(&section);
    }
    if let Some(f) = out_file {
        if let Err(e) = std::fs::write(&f, report) {
            eprintln!("report: cannot write {f}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn usage(why: &str) -> ExitCode {
    let names: Vec<&str> = GROUPS.iter().map(|(n, _)| *n).collect();
    eprintln!(
        "report: {why}\nusage: report [{}|all]... [--seconds S] [--out FILE]",
        names.join("|")
    );
    ExitCode::from(2)
}
