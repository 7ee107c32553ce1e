//! The demo against headless Firefox ESR, in a loopback-only network namespace: the page
//! starts a call by itself (`?autostart=1&test=1`) with Firefox's fake camera and microphone
//! (prefs from `interop/firefox-user.js`), and posts what it saw to the server's `/result`,
//! which prints it on stdout.
//!
//! Needs `unshare` (util-linux) and `firefox-esr` (`interop/install.sh` installs it), so
//! these tests are ignored by default; run them with
//! `cargo test --release -p ferrtc-demo -- --ignored`.

mod browser;

use browser::number;
use serde_json::Value;

const FIREFOX: &str = "firefox-esr";
/// The profile preferences of the interop harness.
const USER_JS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../interop/firefox-user.js"
));

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

/// Runs the page with `query` and returns the result it posted.
async fn call(query: &str) -> Value {
    browser::call(SCRIPT, &[("FIREFOX", FIREFOX), ("USER_JS", USER_JS)], query).await
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
