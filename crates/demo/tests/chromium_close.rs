//! The page's Stop button in headless Chromium ends the server's call at once: Stop runs
//! `pc.close()`, Chromium sends a DTLS close_notify, the server's DTLS transport closes (its
//! connection state stays `Connected`, as W3C webrtc-pc §4.3.3 says), so the call ends and is
//! freed (`call ended` on stdout with `--test-results`) long before ICE consent would expire
//! (30 s, RFC 7675 §5.1), which is how the call ended before.
//!
//! The button is clicked through chromedriver (plain W3C WebDriver over HTTP with `curl`),
//! all inside a loopback-only network namespace like the other browser tests. Needs
//! `unshare`, Chromium at `/usr/lib/chromium/chromium`, chromedriver, `curl` and `jq`, so it
//! is ignored by default:
//! `cargo test --release -p ferrtc-demo --test chromium_close -- --ignored`.

mod browser;

use browser::number;

/// Run inside the namespace by `sh`: starts the demo and chromedriver, opens the page with
/// `autostart=1` in a WebDriver session, waits (in the page, bounded) until the call is
/// connected and a ping came back, clicks Stop, and times how long the demo takes to print
/// `call ended`. Prints `result {JSON}` for the test.
const SCRIPT: &str = r#"
ip link set lo up || exit 1
"$DEMO" --port 0 --test-results | {
    read -r first || exit 1
    url=${first#listening on }
    wd=http://127.0.0.1:9515
    chromedriver --port=9515 >/dev/null 2>&1 &
    curl -sf --retry 100 --retry-connrefused --retry-delay 0 --retry-max-time 30 \
        "$wd/status" >/dev/null || { echo 'result {"error":"no chromedriver"}'; exit 1; }
    profile=$(mktemp -d)
    caps=$(jq -nc --arg bin "$CHROMIUM" --arg profile "--user-data-dir=$profile" '{capabilities:
        {alwaysMatch: {browserName: "chrome", "goog:chromeOptions": {binary: $bin, args: [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required", "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns", $profile]}}}}')
    session=$(curl -sf -X POST -H 'Content-Type: application/json' -d "$caps" "$wd/session" \
        | jq -r .value.sessionId)
    [ -n "$session" ] && [ "$session" != null ] || { echo 'result {"error":"no session"}'; exit 1; }
    s="$wd/session/$session"
    curl -sf -X POST -H 'Content-Type: application/json' \
        -d "$(jq -nc --arg u "$url/?$QUERY" '{url: $u}')" "$s/url" >/dev/null
    # The page's own state, polled in the page on its event loop: connected, and a pong.
    curl -sf -X POST -H 'Content-Type: application/json' -d '{"timeouts": {"script": 60000}}' \
        "$s/timeouts" >/dev/null
    ready=$(curl -sf -X POST -H 'Content-Type: application/json' -d '{"args": [], "script":
        "const done = arguments[arguments.length - 1]; const check = () => { if (pc && pc.connectionState === \"connected\" && pongs > 0) done(true); else setTimeout(check, 100); }; check();"}' \
        "$s/execute/async" | jq -r .value)
    [ "$ready" = true ] || { echo "result {\"error\":\"not connected: $ready\"}"; exit 1; }
    start=$(date +%s%N)
    state=$(curl -sf -X POST -H 'Content-Type: application/json' -d '{"args": [], "script":
        "document.getElementById(\"stop\").click(); return pc === null ? \"closed\" : pc.connectionState;"}' \
        "$s/execute/sync" | jq -r .value)
    while read -r line; do
        if [ "$line" = "call ended" ]; then
            ms=$(( ($(date +%s%N) - start) / 1000000 ))
            echo "result {\"call_ended_ms\": $ms, \"page\": \"$state\"}"
            break
        fi
    done
    curl -sf -X DELETE "$s" >/dev/null
}
"#;

#[tokio::test]
#[ignore = "needs Chromium, chromedriver and unshare"]
async fn the_pages_stop_button_ends_the_call_at_once() {
    let r = browser::call(
        SCRIPT,
        &[("CHROMIUM", "/usr/lib/chromium/chromium")],
        "autostart=1&transform=none",
    )
    .await;
    assert_eq!(r["page"], "closed", "{r}");
    let ms = number(&r, &["call_ended_ms"]);
    eprintln!("the demo ended the call {ms} ms after Stop was clicked");
    // Far below ICE consent expiry (30 s), the only way the call ended before.
    assert!(ms < 5_000.0, "{r}");
}
