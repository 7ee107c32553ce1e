//! The demo against headless Firefox ESR, in a loopback-only network namespace: the page
//! starts a call by itself (`?autostart=1&test=1`) with Firefox's fake camera and microphone
//! (prefs from `interop/firefox-user.js`), and posts what it saw to the server's `/result`,
//! which prints it on stdout.
//!
//! Needs `unshare` (util-linux) and `firefox-esr` (`interop/install.sh` installs it), so
//! these tests are ignored by default; run them with
//! `cargo test --release -p ferrtc-demo -- --ignored`.

mod browser;

use browser::{assert_call, assert_edges, assert_rotated, number};
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

/// Runs the page with `query` and returns the result it posted. The page does not wait to
/// hear the server's chime (`chime=0`): headless Firefox's audio graph hears nothing of the
/// remote track, so it would wait its whole 40 s; the audio packets are still counted.
async fn call(query: &str) -> Value {
    let query = format!("{query}&chime=0");
    browser::call(
        SCRIPT,
        &[("FIREFOX", FIREFOX), ("USER_JS", USER_JS)],
        &query,
    )
    .await
}

#[tokio::test]
#[ignore = "needs Firefox ESR and unshare"]
async fn firefox_edges_on_vp8_with_every_data_channel_mode_and_audio() {
    let r = call("autostart=1&test=1&transform=edges&codec=VP8&dcmodes=all").await;
    assert_call(&r, "video/VP8");
    for mode in ["ordered", "unordered-rexmit0", "unordered-life500"] {
        assert!(number(&r, &["pongs_by_mode", mode]) >= 3.0, "{mode}: {r}");
    }
    // Firefox's fake camera is a flat colour with a small barcode: edges are mostly dark.
    assert_edges(&r);
}

/// The mean luma (0 to 255, of the RGB the page draws) the returned picture has above the
/// camera's own, `local_picture`, drawn the same way at the same moment.
fn luma_gain(r: &Value) -> f64 {
    number(r, &["picture", "luma"]) - number(r, &["local_picture", "luma"])
}

/// The least `luma_gain` of a cartoon, and the most of an untransformed picture: measured
/// cartoon +11.2 to +13.2, untransformed -0.1 to +0.4 (five runs, see
/// [`firefox_cartoon_on_vp8`]);
/// the threshold is about half-way.
const CARTOON_LUMA_GAIN: f64 = 6.5;

#[tokio::test]
#[ignore = "needs Firefox ESR and unshare"]
async fn firefox_untransformed_on_vp8() {
    let r = call("autostart=1&test=1&transform=none&codec=VP8").await;
    assert_call(&r, "video/VP8");
    // Firefox's flat picture came back as flat and as bright, in colour, corners unblacked.
    assert!(luma_gain(&r).abs() < CARTOON_LUMA_GAIN, "{r}");
    assert!(number(&r, &["picture", "colour"]) > 50.0, "{r}");
    assert!(number(&r, &["picture", "dark"]) < 0.1, "{r}");
    assert!(number(&r, &["picture", "corners_dark_max"]) < 0.2, "{r}");
}

/// Firefox's fake camera cannot show a file (its only other source is a v4l2loopback
/// device, `media.video_loopback_dev`, which needs a kernel module), so the cartoon is
/// told apart on Firefox's own picture: a flat luma of 128 (limited range) under a colour
/// that cycles, with a small barcode of the time. The cartoon's posterizing puts 128 in its
/// 120..160 band, drawn at the band's middle, 140: the picture comes back brighter than it
/// went by about 12 luma steps (14 in the page's full-range RGB, less where the colour
/// clips), which neither none nor edges nor rotate does; it keeps its colour and is not
/// mostly dark (unlike edges).
#[tokio::test]
#[ignore = "needs Firefox ESR and unshare"]
async fn firefox_cartoon_on_vp8() {
    let r = call("autostart=1&test=1&transform=cartoon&codec=VP8").await;
    assert_call(&r, "video/VP8");
    assert!(luma_gain(&r) > CARTOON_LUMA_GAIN, "{r}");
    assert!(number(&r, &["picture", "colour"]) > 50.0, "{r}");
    assert!(number(&r, &["picture", "dark"]) < 0.1, "{r}");
}

#[tokio::test]
#[ignore = "needs Firefox ESR and unshare"]
async fn firefox_rotate_on_vp8() {
    let r = call("autostart=1&test=1&transform=rotate&codec=VP8").await;
    assert_call(&r, "video/VP8");
    assert_rotated(&r);
}

#[tokio::test]
#[ignore = "needs Firefox ESR and unshare"]
async fn firefox_audio_in_each_codec_it_offers_beside_opus() {
    // Opus is the default (the edges test above); here each other codec Firefox offers is
    // forced by the page (setCodecPreferences) and must be what was negotiated, with the
    // server's audio packets arriving. One call each, audio and data channel only. Firefox
    // headless plays nothing audible, so the chime itself is not judged (Chromium's tests do).
    for codec in ["G722/8000", "PCMU/8000", "PCMA/8000"] {
        let r = call(&format!("autostart=1&test=1&video=0&audiocodec={codec}")).await;
        assert_eq!(r["connection"], "connected", "{codec}: {r}");
        assert_eq!(r["audio_codec"], format!("audio/{codec}"), "{codec}: {r}");
        assert!(number(&r, &["audio_packets"]) >= 50.0, "{codec}: {r}");
        assert!(number(&r, &["pongs"]) >= 3.0, "{codec}: {r}");
    }
}
