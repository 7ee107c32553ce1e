#!/usr/bin/env python3
"""Opt-in measurement: how fast headless Chromium's send-side bandwidth estimate ramps up
when it sends its fake camera to a server under test, beside references.

    sudo interop/rampup.py --server target/release/examples/echo_server [--seconds 20]

For each target (default: ferrtc, aiortc, loopback) a fresh Chromium opens web/rampup.html,
which sends a 1280x720 fake camera (VP8 first in Chromium's offer) and samples getStats once
a second: outbound-rtp targetBitrate, the send rate, frameWidth, qualityLimitationReason,
the candidate pair's availableOutgoingBitrate. Targets:

  ferrtc    the `--server` command (echo contract: POST /offer, echoes media back)
  aiortc    peers/aiortc_echo_server.py with `--python` (aiortc 1.16 answers goog-remb,
            not transport-cc: Chromium's estimate then moves by its RR-loss rule, +8 %/s,
            capped by aiortc's REMB)
  loopback  a second RTCPeerConnection in the same page (Chromium to Chromium)

It prints one table per target side by side and writes the samples to `--out` as JSON
(`rampup.json`, with each target's log beside it). `--pcap FILE` captures lo's UDP with
tshark for the whole run (RTP headers and extensions are in clear; decode with
`-d udp.port==PORT,rtp`).
It judges nothing (no exit status from the figures): it is not one of run.py's cases.
Like run.py it re-executes itself in `unshare --net --pid --fork --mount-proc` (only lo).
Python 3 stdlib only.
"""

import argparse
import http.server
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# The browser and its flags are the interop harness's own (run.py is importable: its main is
# guarded); the harness adds logging flags this script does not want.
from run import CHROMIUM, CHROMIUM_FLAGS as _HARNESS_FLAGS, LOOPBACK, WEB  # noqa: E402

INNER_ENV = "FERRTC_RAMPUP_IN_NETNS"
CHROMIUM_FLAGS = [f for f in _HARNESS_FLAGS if not f.startswith(("--enable-logging", "--v="))]
SERVER_PORTS = {"ferrtc": 8701, "aiortc": 8702}


class State:
    offer_url = None
    result = None
    cond = threading.Condition()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _reply(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path
        files = {"/rampup.html": ("rampup.html", "text/html"),
                 "/rampup.js": ("rampup.js", "application/javascript")}
        if path not in files:
            return self._reply(404, b"")
        name, ctype = files[path]
        with open(os.path.join(WEB, name), "rb") as f:
            self._reply(200, f.read(), ctype)

    def do_POST(self):
        path = urllib.parse.urlparse(self.path).path
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path == "/offer":
            req = urllib.request.Request(State.offer_url, data=body,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return self._reply(r.status, r.read())
            except Exception as e:  # the page reports the failure
                return self._reply(502, json.dumps({"error": str(e)}).encode())
        if path == "/result":
            with State.cond:
                State.result = json.loads(body)
                State.cond.notify_all()
        return self._reply(204, b"")


def start(cmd, log):
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(5)
            return
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue


def wait_port(port, proc, deadline):
    """Whether something accepts TCP on 127.0.0.1:port before the deadline (and before
    proc exits)."""
    import socket
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection((LOOPBACK, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)  # polling a port that is not up yet, bounded by the deadline
    return False


def run_target(args, target, harness_port, outdir):
    server = None
    log = open(os.path.join(outdir, f"rampup-{target}.log"), "wb")
    try:
        if target in SERVER_PORTS:
            port = SERVER_PORTS[target]
            cmd = (shlex.split(args.server) if target == "ferrtc"
                   else [args.python, os.path.join(HERE, "peers", "aiortc_echo_server.py")])
            server = start(cmd + ["--host", LOOPBACK, "--port", str(port)], log)
            if not wait_port(port, server, time.monotonic() + 60):
                return {"ok": False, "reason": f"{target} server did not listen"}
            State.offer_url = f"http://{LOOPBACK}:{port}/offer"
        State.result = None
        q = urllib.parse.urlencode({"run": target, "seconds": args.seconds,
                                    "target": "loopback" if target == "loopback" else "server",
                                    "width": args.width, "height": args.height})
        profile = tempfile.mkdtemp(prefix="ferrtc-rampup-")
        browser = start([CHROMIUM] + CHROMIUM_FLAGS + [f"--user-data-dir={profile}",
                        f"http://{LOOPBACK}:{harness_port}/rampup.html?{q}"], log)
        try:
            with State.cond:
                State.cond.wait_for(lambda: State.result is not None, args.seconds + 60)
            return State.result or {"ok": False, "reason": "no result from the page"}
        finally:
            stop(browser)
    finally:
        stop(server)
        log.close()


def fmt(v, w):
    if v is None:
        return "-".rjust(w)
    return str(v).rjust(w)


def table(results, targets):
    cols = ["tgt", "sent", "avail", "w", "lim"]
    widths = [6, 6, 6, 5, 10]
    head = "  s | " + " | ".join(
        " ".join(c.rjust(w) for c, w in zip(cols, widths)) + f"  [{t}]" for t in targets)
    lines = [head, "-" * len(head)]
    n = max((len(results[t].get("samples", [])) for t in targets), default=0)
    for i in range(n):
        cells = []
        for t in targets:
            s = (results[t].get("samples") or [])
            s = s[i] if i < len(s) else {}
            k = lambda x: None if s.get(x) is None else round(s[x] / 1000)
            cells.append(" ".join([fmt(k("targetBitrate"), 6), fmt(s.get("sendKbps"), 6),
                                   fmt(k("availableOutgoingBitrate"), 6),
                                   fmt(s.get("frameWidth"), 5),
                                   fmt(s.get("qualityLimitationReason"), 10)])
                         + " " * (len(t) + 4))
        lines.append(f"{i + 1:3d} | " + " | ".join(cells))
    lines.append("(kbit/s: tgt = outbound-rtp targetBitrate, sent = bytesSent rate, "
                 "avail = candidate-pair availableOutgoingBitrate; w = frameWidth)")
    return "\n".join(lines)


def inner(args):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    if any(l.split(":")[1].strip() != "lo" for l in links.splitlines() if l.strip()):
        raise SystemExit("the namespace holds a link other than lo: refusing to run")
    httpd = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    os.makedirs(args.out, exist_ok=True)
    targets = args.targets.split(",")
    results = {}
    capture = None
    if args.pcap:
        # tshark says "Capturing on" once the capture runs: wait for that line
        capture = subprocess.Popen(["tshark", "-q", "-i", "lo", "-f", "udp", "-w", args.pcap],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   start_new_session=True)
        for line in capture.stderr:
            if b"Capturing on" in line:
                break
    for t in targets:
        print(f"rampup: {t} ...", flush=True)
        results[t] = run_target(args, t, httpd.server_address[1], args.out)
        print(f"rampup: {t}: {'ok' if results[t].get('ok') else 'FAIL'} "
              f"{results[t].get('reason')}", flush=True)
    if capture is not None:
        stop(capture)
    with open(os.path.join(args.out, "rampup.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(table(results, targets))
    return 0 if all(r.get("ok") for r in results.values()) else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--server", default=None, help="ferrtc's echo_server command")
    p.add_argument("--python", default=os.path.join(HERE, ".venv", "bin", "python"))
    p.add_argument("--targets", default="ferrtc,aiortc,loopback")
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--out", default=os.path.join(HERE, "out"))
    p.add_argument("--pcap", default=None, help="capture lo's UDP into this file (tshark)")
    args = p.parse_args()
    if "ferrtc" in args.targets.split(",") and not args.server:
        p.error("the ferrtc target needs --server")
    if os.environ.get(INNER_ENV) != "1":
        unshare = ["unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child=SIGTERM"]
        if os.geteuid() != 0:
            unshare[1:1] = ["--user", "--map-root-user"]
        env = dict(os.environ, **{INNER_ENV: "1"})
        return subprocess.call(unshare + [sys.executable, os.path.abspath(__file__)]
                               + sys.argv[1:], env=env)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return inner(args)


if __name__ == "__main__":
    sys.exit(main())
