//! What the Chromium and Firefox tests share: run the demo and a headless browser inside a
//! fresh, loopback-only network namespace and read the result the page posted. Each test
//! file uses part of it.

#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The page gives up after 40 s and posts what it has; this is the test's own bound.
pub const DEADLINE: Duration = Duration::from_secs(120);

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Runs `script` with `sh` in the namespace, with `DEMO` (the demo binary), `QUERY` and
/// `envs` set; the script starts the demo and the browser on the page with `QUERY` and passes
/// the demo's stdout on. Returns the result the page posted.
pub async fn call(script: &str, envs: &[(&str, &str)], query: &str) -> Value {
    let mut cmd = tokio::process::Command::new("unshare");
    if !is_root() {
        cmd.args(["--user", "--map-root-user"]);
    }
    // A fresh network and PID namespace: only `lo`, and every process started in it dies
    // with its first one when the test drops the child.
    cmd.args([
        "--net",
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child=SIGKILL",
        "sh",
        "-c",
        script,
    ])
    .env("DEMO", env!("CARGO_BIN_EXE_ferrtc-demo"))
    .envs(envs.iter().copied())
    .env("QUERY", query)
    // FERRTC_DEMO_LOG (a RUST_LOG filter) shows more of the demo's log when a test fails.
    .env(
        "RUST_LOG",
        std::env::var("FERRTC_DEMO_LOG").unwrap_or_else(|_| "warn".into()),
    )
    .stdout(Stdio::piped())
    .kill_on_drop(true);
    let mut child = cmd.spawn().expect("unshare runs");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let result = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.expect("stdout readable") {
            if let Some(json) = line.strip_prefix("result ") {
                return serde_json::from_str::<Value>(json).expect("result is JSON");
            }
        }
        panic!("the demo ended without a result");
    })
    .await
    .expect("a result in time");
    let _ = child.start_kill();
    let _ = child.wait().await;
    eprintln!("{query}: {result}");
    result
}

/// The number at `path` in the result.
pub fn number(v: &Value, path: &[&str]) -> f64 {
    path.iter()
        .fold(v, |v, k| &v[*k])
        .as_f64()
        .unwrap_or_else(|| panic!("{path:?} missing in {v}"))
}

/// What every cell of the transform matrix shows, whatever the transform: the call
/// connected; the camera was opened at 640x480; video came back in `codec` (`"video/VP8"`)
/// and the browser decoded more than 30 frames, at least [`MIN_DECODED_PER_SECOND`] a
/// second on average; the data channel's pings were answered; the server's
/// audio arrived.
pub fn assert_call(r: &Value, codec: &str) {
    assert_eq!(r["connection"], "connected", "{r}");
    assert_eq!(number(r, &["local_picture", "width"]), 640.0, "{r}");
    assert_eq!(number(r, &["local_picture", "height"]), 480.0, "{r}");
    assert_eq!(r["video_codec"], codec, "{r}");
    assert!(number(r, &["frames_decoded"]) > 30.0, "{r}");
    assert!(
        number(r, &["decoded_per_second"]) >= MIN_DECODED_PER_SECOND,
        "{r}"
    );
    assert!(number(r, &["pongs"]) >= 3.0, "{r}");
    assert!(number(r, &["audio_packets"]) >= 50.0, "{r}");
}

/// The least mean decoded frame rate of a call (since its first decoded frame, until the
/// page has seen more than 30). Measured on a loaded two-core machine (5 Chromium runs of
/// the 14 tests plus 20 edges calls, 4 Firefox runs): 20 to 32 a second while the browser
/// sends 640 wide; 6.2 to 16 in the calls whose browser had dropped to 480 or 320 wide
/// (bandwidth), a freeze while it switches; 2.2 to 3.5 in the calls that hit the known stall
/// (the browser at 320 or 480 wide, the server decoding few of its frames, 31 frames taking
/// 8.6 to 14 s). The threshold fails the stall and lets the switch pass, with thin margins
/// both ways (1.4x above the worst stall, 1.2x below the slowest switch); one VP9 edges
/// call (not a matrix cell) fell between, 4.1 a second at 480 wide, 31 frames in 6.9 s.
pub const MIN_DECODED_PER_SECOND: f64 = 5.0;

/// Edges came back: white lines on black, no colour. Measured on every edges cell (Chromium's
/// clip, Firefox's own picture): dark 0.97 to 1.0 (threshold 0.8), bright 0.0028 to 0.033
/// (threshold 0.001), colour 0 (the page's mean of max - min of R, G, B; threshold 5, the
/// other transforms' pictures have 72 to 236).
pub fn assert_edges(r: &Value) {
    assert!(number(r, &["picture", "dark"]) > 0.8, "{r}");
    assert!(number(r, &["picture", "bright"]) > 0.001, "{r}");
    assert!(number(r, &["picture", "colour"]) < 5.0, "{r}");
}

/// The picture came back turned: its corners are black (what the rotation uncovers) at
/// some poll of the call (`corners_dark_max`; the page polls every 500 ms): at 45 degrees a
/// second the picture passes upside down, corners filled, about one second in four, so the
/// figure at the call's last moment alone (`corners_dark`, measured 0.55 to 0.98) can miss.
/// Measured 0.95 to 1.0 of the corner pixels black at the darkest poll (threshold 0.5);
/// untransformed 0 at every poll (each none cell asserts below 0.2).
pub fn assert_rotated(r: &Value) {
    assert!(number(r, &["picture", "corners_dark_max"]) > 0.5, "{r}");
}
