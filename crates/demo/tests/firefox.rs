//! The demo against headless Firefox ESR, in a loopback-only network namespace: the page
//! starts a call by itself (`?autostart=1&test=1`) with Firefox's fake camera and microphone
//! (prefs from `interop/firefox-user.js`), and posts what it saw to the server's `/result`,
//! which prints it on stdout.
//!
//! Needs `unshare` (util-linux) and `firefox-esr` (`interop/install.sh` installs it), so
//! these tests are ignored by default; run them with
//! `cargo test --release -p ferrtc-demo -- --ignored`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const FIREFOX: &str = "firefox-esr";
/// The profile preferences of the interop harness.
const USER_JS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../interop/firefox-user.js"
));
/// The page gives up after 40 s and posts what it has; this is the test's own bound.
const DEADLINE: Duration = Duration::from_secs(120);

/// Run inside the namespace by `sh`: brings `lo` up, starts the demo, reads its first line
/// (`listening on URL`), opens the page in Firefox, and passes the demo's stdout on.
const SCRIPT: &str = r#"
ip link set lo up || exit 1
"$DEMO" --port 0 --test-results | {
    read -r first || exit 1
    url=${first#listening on }
    profile=$(mktemp -d)
    printf '%s\n' "$USER_JS" > "$profile/user.js"
    HOME="$profile" "$FIREFOX" --headless --no-remote --profile "$profile" "$url/?$QUERY" \
        >/dev/null 2>&1 &
    while read -r line; do echo "$line"; done
}
"#;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Runs the page with `query` and returns the result it posted.
async fn call(query: &str) -> Value {
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
        SCRIPT,
    ])
    .env("DEMO", env!("CARGO_BIN_EXE_ferrtc-demo"))
    .env("FIREFOX", FIREFOX)
    .env("USER_JS", USER_JS)
    .env("QUERY", query)
    .env("RUST_LOG", "warn")
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

fn number(v: &Value, path: &[&str]) -> f64 {
    path.iter()
        .fold(v, |v, k| &v[*k])
        .as_f64()
        .unwrap_or_else(|| panic!("{path:?} missing in {v}"))
}

#[tokio::test]
#[ignore = "needs Firefox ESR and unshare"]
async fn firefox_edges_on_vp8_with_every_data_channel_mode_and_audio() {
    let r = call("autostart=1&test=1&transform=edges&codec=VP8&dcmodes=all").await;
    assert_eq!(r["connection"], "connected", "{r}");
    assert!(number(&r, &["frames_decoded"]) > 30.0, "{r}");
    for mode in ["ordered", "unordered-rexmit0", "unordered-life500"] {
        assert!(number(&r, &["pongs_by_mode", mode]) >= 3.0, "{mode}: {r}");
    }
    assert!(number(&r, &["audio_packets"]) >= 50.0, "{r}");
    // Firefox's fake camera is a flat colour with a small barcode: edges are mostly dark.
    assert!(number(&r, &["picture", "dark"]) > 0.8, "{r}");
    assert!(number(&r, &["picture", "bright"]) > 0.001, "{r}");
}
