//! `cargo xtask` — the project's commands, written in Rust so they run the same everywhere.
//!
//! - `cargo xtask test`: the whole suite (fmt, clippy, tests, docs, fuzz smoke). Installs what
//!   it needs when missing. This is what CI runs.
//! - `cargo xtask fuzz [TARGET] [--seconds N]`: longer fuzzing of one or every target.
//! - `cargo xtask bench [GROUP...]`: the `ferrtc-benches` report; `cargo xtask bench demo`:
//!   the demo server beside aiortc's (`crates/demo/benches/demo.rs`).
//! - `cargo xtask demo [--host H] [--port P]`: builds and runs the demo server
//!   (`crates/demo`): camera to Rust and back, transformed, in the browser.
//!   `cargo xtask demo test`: its tests against headless Chromium.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// How long each fuzz target runs in the `test` smoke pass.
const SMOKE_FUZZ_SECONDS: u64 = 15;
/// How long each fuzz target runs under `cargo xtask fuzz` by default.
const DEFAULT_FUZZ_SECONDS: u64 = 300;

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    STARTED.get_or_init(Instant::now);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("interop") => interop(&args[1..]).map(|_| ()),
        Some("demo") => demo(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask test [--no-fuzz]\n       \
                 cargo xtask fuzz [TARGET] [--seconds N]\n       \
                 cargo xtask bench [sdp|srtp|...|all]\n       \
                 cargo xtask interop [--peers P,...] [--cases C,...]\n       \
                 cargo xtask demo [--host HOST] [--port PORT] | cargo xtask demo test"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    // xtask lives in <root>/xtask; CARGO_MANIFEST_DIR is set by cargo at build time.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent directory")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    // The suite builds each crate once per profile: incremental caches would only add
    // gigabytes to a fresh machine's disk (a CI run ran out of it). A caller's own choice wins.
    if std::env::var_os("CARGO_INCREMENTAL").is_none() {
        c.env("CARGO_INCREMENTAL", "0");
    }
    c
}

/// When this xtask started: each step's heading gives the time since, so a slow CI run shows
/// which step took it.
static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn step(name: &str) {
    let at = STARTED.get_or_init(Instant::now).elapsed().as_secs();
    println!(
        "\n=== xtask: {name} (at {}:{:02}, {}) ===",
        at / 60,
        at % 60,
        disk_free()
    );
}

/// Free space on the build directory's file system, as `df` reports it, so that a run that
/// fills the disk shows where it grew.
fn disk_free() -> String {
    let out = Command::new("df")
        .args(["-Pk"])
        .arg(root())
        .stderr(Stdio::null())
        .output();
    let kib = out.ok().and_then(|o| {
        // The second line's fourth column is the space available, in KiB.
        let text = String::from_utf8_lossy(&o.stdout);
        text.lines()
            .nth(1)?
            .split_whitespace()
            .nth(3)?
            .parse::<u64>()
            .ok()
    });
    match kib {
        Some(k) => format!("{:.1} GiB free", k as f64 / (1024.0 * 1024.0)),
        None => "free disk unknown".to_owned(),
    }
}

fn run(mut cmd: Command) -> Result {
    let shown = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| format!("{shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed: {status}"))
    }
}

/// Runs a command, echoing its stdout, and sums the `test result:` lines cargo's test harness
/// prints. Returns (passed, failed).
fn run_counting_tests(mut cmd: Command) -> Result<(u64, u64)> {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (mut passed, mut failed) = (0, 0);
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            passed += count_before(rest, " passed");
            failed += count_before(rest, " failed");
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!(
            "{shown} failed: {status} ({passed} passed, {failed} failed)"
        ));
    }
    Ok((passed, failed))
}

/// In "ok. 12 passed; 0 failed; ...", the number just before `word`.
fn count_before(s: &str, word: &str) -> u64 {
    s.find(word)
        .and_then(|end| s[..end].rsplit([' ', '.']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn have(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Debian packages the test suite's real peers need: OpenSSL's `s_server`/`s_client` (DTLS
/// interop), coturn's `turnserver` (TURN interop), libsrtp2 and a C compiler (SRTP interop),
/// and what `ferrtc-media` links: libvpx (VP8/VP9) and libopus, found through pkg-config.
/// Tests that use them fail, not skip, when they are missing, so they are installed first.
const TEST_PACKAGES: &[&str] = &[
    "openssl",
    "coturn",
    "libsrtp2-dev",
    "gcc",
    "libvpx-dev",
    "libopus-dev",
    "pkg-config",
    // ferrtc-media's `av1` feature (on by default) links libdav1d.
    "libdav1d-dev",
    // ffprobe checks the containers ferrtc-media writes.
    "ffmpeg",
    // ferrtc-peerconnection's wire-conformance test reads its capture with tshark.
    "tshark",
];

/// Installs Debian packages that are missing (as root; CI machines run as root).
fn ensure_apt(packages: &[&str]) -> Result {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    step(&format!("apt-get install {}", missing.join(" ")));
    run({
        let mut c = Command::new("apt-get");
        c.arg("update").arg("-q");
        c
    })?;
    let mut c = Command::new("apt-get");
    c.env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing);
    run(c)
}

/// Python packages the interop tests drive as real peers, pinned so a run is repeatable.
/// aioice is aiortc's ICE agent.
const TEST_PYTHON_PACKAGES: &[&str] = &["aioice==0.13.0"];

/// Where the interop virtualenv lives; tests find its interpreter at
/// `<root>/target/interop-venv/bin/python` (or through `FERRTC_INTEROP_PYTHON`).
fn interop_venv() -> PathBuf {
    root().join("target/interop-venv")
}

/// Creates the interop virtualenv and installs [`TEST_PYTHON_PACKAGES`] when missing.
fn ensure_python_venv() -> Result {
    let venv = interop_venv();
    let python = venv.join("bin/python");
    let stamp = venv.join("ferrtc-packages.txt");
    let wanted = TEST_PYTHON_PACKAGES.join("\n");
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(());
    }
    step("python interop venv");
    if !python.exists() {
        let mut c = Command::new("python3");
        c.args(["-m", "venv"]).arg(&venv);
        run(c)?;
    }
    let mut c = Command::new(&python);
    c.args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .args(TEST_PYTHON_PACKAGES);
    run(c)?;
    std::fs::write(&stamp, wanted).map_err(|e| e.to_string())
}

fn ensure_cargo_fuzz() -> Result {
    if have("cargo-fuzz", "--version") {
        return Ok(());
    }
    step("cargo install cargo-fuzz");
    let mut c = cargo();
    c.args(["install", "cargo-fuzz", "--locked"]);
    run(c)
}

/// Debian packages ferrtc-media's `ffmpeg` feature (MP4/MKV, off in the workspace build) is
/// built and tested against: FFmpeg 5.1's development files, and libclang for
/// `ffmpeg-sys-next`'s bindgen.
const FFMPEG_PACKAGES: &[&str] = &[
    "libavformat-dev",
    "libavcodec-dev",
    "libavutil-dev",
    "libswscale-dev",
    "libswresample-dev",
    "libavdevice-dev",
    "libavfilter-dev",
    "libclang-dev",
    "clang",
];

fn test(args: &[String]) -> Result {
    let no_fuzz = args.iter().any(|a| a == "--no-fuzz");
    // Before clippy: ferrtc-media's build scripts look for libvpx and libopus.
    ensure_apt(TEST_PACKAGES)?;

    step("cargo fmt --check");
    let mut c = cargo();
    c.args(["fmt", "--all", "--check"]);
    run(c)?;
    if !fuzz_targets()?.is_empty() {
        let mut c = cargo();
        c.args(["fmt", "--check", "--manifest-path", "fuzz/Cargo.toml"]);
        run(c)?;
    }

    step("cargo clippy (workspace, all targets, -D warnings)");
    let mut c = cargo();
    c.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]);
    run(c)?;

    step("cargo doc (warnings denied)");
    let mut c = cargo();
    c.args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings");
    run(c)?;

    if !no_fuzz {
        ensure_cargo_fuzz()?;
        fuzz_build_all()?;
        for target in fuzz_targets()? {
            fuzz_one(&target, SMOKE_FUZZ_SECONDS)?;
        }
    }

    ensure_python_venv()?;
    step("cargo test (workspace)");
    let mut c = cargo();
    c.args(["test", "--workspace", "--locked"])
        .env("FERRTC_INTEROP_PYTHON", interop_venv().join("bin/python"));
    let (mut passed, mut failed) = run_counting_tests(c)?;

    // ferrtc-media's `ffmpeg` feature (MP4/MKV through the system's FFmpeg, GPL in Debian) is
    // off in the workspace build: its clippy and tests run here, on that crate only.
    ensure_apt(FFMPEG_PACKAGES)?;
    step("cargo clippy -p ferrtc-media --features ffmpeg (all targets, -D warnings)");
    let mut c = cargo();
    c.args([
        "clippy",
        "-p",
        "ferrtc-media",
        "--features",
        "ffmpeg",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]);
    run(c)?;
    step("cargo test -p ferrtc-media --features ffmpeg");
    let mut c = cargo();
    c.args([
        "test",
        "-p",
        "ferrtc-media",
        "--features",
        "ffmpeg",
        "--locked",
    ]);
    let (p, f) = run_counting_tests(c)?;
    passed += p;
    failed += f;

    let cells = interop(&[])?;
    // The browser demo against headless Chromium (camera -> Rust transform -> browser).
    demo(&["test".to_owned()])?;

    println!(
        "\nxtask: whole suite green in {:.0} s",
        STARTED.get_or_init(Instant::now).elapsed().as_secs_f64()
    );
    println!("interop: {cells} cells passed (matrix in target/interop/matrix.md)");
    println!("tests: {passed} passed, {failed} failed");
    println!("disk: {} at the end", disk_free());
    Ok(())
}

/// Where cargo puts what it builds: `CARGO_TARGET_DIR` (relative to the workspace root, as
/// cargo reads it, when relative) or `<root>/target`.
fn cargo_target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root().join(dir),
        _ => root().join("target"),
    }
}

/// Runs ferrtc's examples against headless Chromium, headless Firefox ESR and aiortc in a
/// loopback-only network namespace (interop/run.py; interop/README.md says what each case
/// checks). Installs what it needs first (interop/install.sh). Fails if any cell is red.
/// Returns how many cells passed. Arguments go to run.py (`--peers`, `--cases`, ...).
fn interop(args: &[String]) -> Result<usize> {
    let out = root().join("target/interop");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    step("interop: browsers, tshark and aiortc (interop/install.sh)");
    let mut c = Command::new("sh");
    c.arg(root().join("interop/install.sh"));
    run(c)?;
    step("interop: ferrtc's examples (release)");
    let mut c = cargo();
    c.args([
        "build",
        "--release",
        "--locked",
        "-p",
        "ferrtc",
        "--examples",
    ]);
    run(c)?;
    step("interop: the matrix (ferrtc as server and as offerer)");
    let examples = cargo_target_dir().join("release/examples");
    let mut c = Command::new("python3");
    c.arg(root().join("interop/run.py"))
        .arg("--server")
        .arg(examples.join("echo_server"))
        .arg("--offerer")
        .arg(examples.join("echo_offerer"))
        .arg("--webrtc-rs")
        .arg(examples.join("webrtc_rs_peer"))
        .arg("--bwe-sender")
        .arg(examples.join("bwe_sender"))
        .arg("--matrix-out")
        .arg(out.join("matrix.md"))
        .arg("--pcap")
        .arg(out.join("chromium.pcap"))
        .arg("--out")
        .arg(out.join("logs"))
        .args(args);
    run(c)?;
    let results =
        std::fs::read_to_string(out.join("logs/results.json")).map_err(|e| e.to_string())?;
    Ok(results.matches("\"pass\": true").count())
}

/// `cargo xtask demo [FLAGS]`: installs what `ferrtc-media` links (libvpx, libopus, libdav1d,
/// pkg-config), builds `ferrtc-demo` in release and runs it with every flag after `demo`;
/// it prints its URL and serves until stopped.
///
/// `cargo xtask demo test`: the demo's tests against headless Chromium and Firefox ESR (the page makes a
/// call by itself in a loopback-only namespace), after installing the browsers as
/// `interop` does.
fn demo(args: &[String]) -> Result {
    ensure_apt(&["libvpx-dev", "libopus-dev", "libdav1d-dev", "pkg-config"])?;
    if args.first().map(String::as_str) == Some("test") {
        step("demo: browsers (interop/install.sh)");
        let mut c = Command::new("sh");
        c.arg(root().join("interop/install.sh"));
        run(c)?;
        step("demo: tests against headless Chromium and Firefox ESR");
        let mut c = cargo();
        c.args([
            "test",
            "--release",
            "--locked",
            "-p",
            "ferrtc-demo",
            "--",
            "--ignored",
            // One browser call at a time: with five at once on two cores the 640x480 edges
            // call sometimes stalls after its first frame (an open bug, see README).
            "--test-threads=1",
        ]);
        return run(c);
    }
    step("build ferrtc-demo (release)");
    let mut c = cargo();
    c.args(["build", "--release", "-p", "ferrtc-demo"]);
    run(c)?;
    step("ferrtc-demo (Ctrl-C stops it)");
    let mut c = Command::new(root().join("target/release/ferrtc-demo"));
    c.args(args);
    run(c)
}

fn fuzz_targets() -> Result<Vec<String>> {
    let dir = root().join("fuzz/fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Builds every fuzz target in one cargo invocation, so the runs that follow start at once.
fn fuzz_build_all() -> Result {
    step("cargo fuzz build (every target)");
    let mut c = cargo();
    c.current_dir(root().join("fuzz"))
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "build"]);
    run(c)
}

fn fuzz_one(target: &str, seconds: u64) -> Result {
    step(&format!("fuzz {target} for {seconds} s"));
    let corpus = root().join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&corpus).map_err(|e| e.to_string())?;
    let seeds = root().join("fuzz/seeds").join(target);
    let mut c = cargo();
    c.current_dir(root().join("fuzz"))
        // cargo-fuzz wants nightly flags; the stable compiler accepts them with this.
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "run", target, "--"])
        .arg(&corpus);
    if seeds.is_dir() {
        c.arg(&seeds);
    }
    c.arg(format!("-max_total_time={seconds}"))
        .arg("-rss_limit_mb=2048")
        .arg("-print_final_stats=1");
    // libFuzzer reports every new input; keep that in a log and show only the outcome, or the
    // whole log's tail when the run fails.
    let logs = root().join("target/fuzz-logs");
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let log_path = logs.join(format!("{target}.log"));
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    c.stdout(log).stderr(log2);
    let outcome = run(c);
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let shown: Vec<&str> = if outcome.is_ok() {
        lines
            .iter()
            .copied()
            .filter(|l| l.starts_with("Done ") || l.starts_with("stat::number_of_executed_units"))
            .collect()
    } else {
        lines[lines.len().saturating_sub(80)..].to_vec()
    };
    for l in shown {
        println!("{l}");
    }
    println!("(full log: {})", log_path.display());
    outcome
}

fn fuzz(args: &[String]) -> Result {
    let mut seconds = DEFAULT_FUZZ_SECONDS;
    let mut target = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--seconds needs a number")?;
            }
            t => target = Some(t.to_owned()),
        }
    }
    ensure_cargo_fuzz()?;
    let targets = match target {
        Some(t) => vec![t],
        None => fuzz_targets()?,
    };
    fuzz_build_all()?;
    for t in targets {
        fuzz_one(&t, seconds)?;
    }
    Ok(())
}

fn bench(args: &[String]) -> Result {
    // `demo`: the demo server beside aiortc's (crates/demo/benches/demo.rs); flags after it
    // (--frames N, --rounds R, --out FILE) go to it.
    if args.first().map(String::as_str) == Some("demo") {
        ensure_apt(&["libvpx-dev", "libopus-dev", "libdav1d-dev", "pkg-config"])?;
        let mut c = cargo();
        c.args([
            "bench",
            "--locked",
            "-p",
            "ferrtc-demo",
            "--bench",
            "demo",
            "--",
        ])
        .args(&args[1..]);
        return run(c);
    }
    let mut c = cargo();
    c.args([
        "run",
        "--release",
        "--locked",
        "-p",
        "ferrtc-benches",
        "--bin",
        "report",
        "--",
    ]);
    if args.is_empty() {
        c.arg("all");
    } else {
        c.args(args);
    }
    run(c)
}
