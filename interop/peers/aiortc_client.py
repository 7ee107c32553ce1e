#!/usr/bin/env python3
"""aiortc as a test peer for the ferrtc interop harness.

Three modes (the contracts are written out in interop/README.md):

  offer (default)   aiortc_client.py --url http://127.0.0.1:P/offer --case CASE
      aiortc is the OFFERER: createOffer, wait for ICE gathering to complete, POST the offer
      to the server under test, apply its answer, run the case, print one JSON line.

  --serve           aiortc_client.py --serve --host 127.0.0.1 --port P --case CASE
      aiortc is the ANSWERER: it serves POST /offer, answers the first offer it gets, runs the
      case against the offerer (which must echo), prints one JSON line and exits.

  --echo-offerer    aiortc_client.py --echo-offerer --url URL [--audio] [--video] [--codec C]
      aiortc plays an "offerer under test": it offers a data channel (and the media asked
      for), echoes every data-channel message and every track back, and runs until killed.
      It is the reference the harness uses to prove --serve before ferrtc can offer.

Cases: dc-ordered, dc-unordered, audio, video, bundle (ordered data channel + audio + video
on one transport). The exit status is 0 when the case passed, 1 when it failed.
"""

import argparse
import array
import asyncio
import fractions
import json
import logging
import math
import sys
import time

import aioice.ice
from aiohttp import ClientSession, ClientTimeout, web
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

# The harness runs in a network namespace whose only interface is lo: aioice skips
# 127.0.0.1 when gathering, so tell it that 127.0.0.1 is the host address.
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]

log = logging.getLogger("aiortc-client")

CASES = {
    # name: (data channel kind or None, audio, video)
    "dc-ordered": ("ordered", False, False),
    "dc-unordered": ("unordered", False, False),
    "audio": (None, True, False),
    "video": (None, False, True),
    "bundle": ("ordered", True, True),
    # ordered channel open, then a video track added and renegotiated (the offerer adds it;
    # as answerer we ask with "renegotiate add-video" and answer with our pattern)
    "renegotiation": ("ordered", False, False),
}

DC_PINGS = 50                 # "ping 0" .. "ping 49"
VIDEO_FRAMES_NEEDED = 30      # echoed video frames to receive (about 1 s at 30 fps)
AUDIO_FRAMES_NEEDED = 50      # echoed audio frames to receive (1 s of 20 ms frames)
UNORDERED_MIN_FRACTION = 0.9  # maxRetransmits=0 may drop; on loopback it should not
VIDEO_W, VIDEO_H = 320, 240


def config():
    # No STUN/TURN server: nothing outside the namespace can be reached.
    return RTCConfiguration(iceServers=[])


# --------------------------------------------------------------------------------------
# generated media (no MediaPlayer, no files)


class PatternVideoTrack(VideoStreamTrack):
    """320x240 frames at 30 fps: a horizontal luma ramp that moves every frame."""

    def __init__(self):
        super().__init__()
        self.n = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=VIDEO_W, height=VIDEO_H, format="yuv420p")
        y, u, v = frame.planes
        shift = (self.n * 4) & 0xFF
        row = bytes(((x + shift) & 0xFF) for x in range(y.line_size))
        y.update(row * (y.buffer_size // y.line_size))
        u.update(b"\x60" * u.buffer_size)
        v.update(b"\xa0" * v.buffer_size)
        self.n += 1
        frame.pts = pts
        frame.time_base = time_base
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """48 kHz mono 440 Hz tone in 20 ms frames, paced in real time."""

    kind = "audio"
    RATE = 48000
    SAMPLES = 960

    def __init__(self):
        super().__init__()
        self._start = None
        self._ts = 0

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._ts += self.SAMPLES
            await asyncio.sleep(self._start + self._ts / self.RATE - time.time())
        samples = array.array(
            "h",
            (int(8000 * math.sin(2 * math.pi * 440 * (self._ts + i) / self.RATE))
             for i in range(self.SAMPLES)),
        )
        frame = AudioFrame(format="s16", layout="mono", samples=self.SAMPLES)
        frame.planes[0].update(samples.tobytes())
        frame.pts = self._ts
        frame.sample_rate = self.RATE
        frame.time_base = fractions.Fraction(1, self.RATE)
        return frame


def pattern_check(frame):
    """None if `frame` looks like what PatternVideoTrack sends (a horizontal luma ramp, the
    same on every row, at our size), else why not. Survives lossy coding; a flat frame or a
    camera picture does not pass."""
    if (frame.width, frame.height) != (VIDEO_W, VIDEO_H):
        return f"echoed video is {frame.width}x{frame.height}, we sent {VIDEO_W}x{VIDEO_H}"
    frame = frame.reformat(format="yuv420p")
    y = frame.planes[0]
    buf, ls, w, h = bytes(y), y.line_size, frame.width, frame.height
    top = buf[(h // 4) * ls:(h // 4) * ls + w]
    bottom = buf[(3 * h // 4) * ls:(3 * h // 4) * ls + w]
    vertical = sum(abs(a - b) for a, b in zip(top, bottom)) / w
    steps = [(top[x + 1] - top[x]) % 256 for x in range(w - 1)]
    ramp = sum(1 for d in steps if d <= 3) / len(steps)
    spread = max(top) - min(top)
    pattern_check.last = {"row_difference": round(vertical, 1), "ramp_steps": round(ramp, 2),
                          "luma_spread": spread}
    if vertical > 12 or ramp < 0.8 or spread < 100:
        return (f"echoed picture is not our ramp (row difference {vertical:.1f}, "
                f"ramp steps {ramp:.0%}, luma spread {spread})")
    return None


class FrameCounter:
    """Consumes remote tracks and counts what comes back."""

    def __init__(self):
        self.counts = {"audio": 0, "video": 0}
        self.sizes = set()
        self.last_video = None
        self.changed = asyncio.Event()
        self.tasks = []

    def add(self, track):
        log.info("remote %s track arrived", track.kind)
        self.tasks.append(asyncio.ensure_future(self._consume(track)))

    async def _consume(self, track):
        try:
            while True:
                frame = await track.recv()
                self.counts[track.kind] += 1
                if track.kind == "video":
                    self.sizes.add((frame.width, frame.height))
                    self.last_video = frame
                self.changed.set()
        except MediaStreamError:
            pass

    async def wait_for(self, audio, video, deadline):
        while True:
            ok = (not audio or self.counts["audio"] >= AUDIO_FRAMES_NEEDED) and (
                not video or self.counts["video"] >= VIDEO_FRAMES_NEEDED)
            remaining = deadline - time.monotonic()
            if ok or remaining <= 0:
                return ok
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def stop(self):
        for t in self.tasks:
            t.cancel()


# --------------------------------------------------------------------------------------
# checks


def dc_payloads():
    """What we send and what must come back, in send order."""
    sent, expected = [], []
    big = "".join(chr(0x41 + i % 26) for i in range(16000))
    binary = bytes((i * 7 + 3) & 0xFF for i in range(1200))
    for i in range(DC_PINGS):
        sent.append(f"ping {i}")
        expected.append(f"pong {i}")
        if i == 10:
            sent.append(binary)
            expected.append(binary)
        if i == 30:
            sent.append(big)
            expected.append(big)
    return sent, expected


def describe(m):
    if isinstance(m, bytes):
        return f"<{len(m)} bytes>"
    return m if len(m) <= 40 else f"<text of {len(m)} chars>"


async def dc_echo_check(channel, unordered, deadline):
    """Send pings, a binary and a 16 kB text message; check what is echoed."""
    opened = asyncio.Event()
    if channel.readyState == "open":
        opened.set()
    channel.on("open", opened.set)
    received = []
    all_in = asyncio.Event()
    sent, expected = dc_payloads()

    @channel.on("message")
    def on_message(m):
        received.append(m)
        if len(received) >= len(expected):
            all_in.set()

    try:
        await asyncio.wait_for(opened.wait(), max(0.1, deadline - time.monotonic()))
    except asyncio.TimeoutError:
        return False, f"data channel never opened (state {channel.readyState})", {}
    t_open = time.monotonic()
    for m in sent:
        channel.send(m)
    try:
        await asyncio.wait_for(all_in.wait(), max(0.1, deadline - time.monotonic()))
    except asyncio.TimeoutError:
        pass
    rtt = time.monotonic() - t_open
    details = {"sent": len(sent), "echoed": len(received),
               "ordered_kept": received == expected[:len(received)],
               "echo_all_ms": round(rtt * 1000)}
    if not unordered:
        if received == expected:
            return True, f"{len(received)}/{len(expected)} echoed in order", details
        for i, (got, want) in enumerate(zip(received, expected)):
            if got != want:
                return False, (f"echo #{i}: got {describe(got)!r}, want {describe(want)!r}"), details
        return False, f"only {len(received)}/{len(expected)} echoed before timeout", details
    # unordered, maxRetransmits=0: any order, small loss tolerated
    pool = list(expected)
    for got in received:
        if got in pool:
            pool.remove(got)
        else:
            return False, f"unexpected echo {describe(got)!r}", details
    got_n = len(expected) - len(pool)
    if got_n >= UNORDERED_MIN_FRACTION * len(expected):
        return True, f"{got_n}/{len(expected)} echoed", details
    return False, f"only {got_n}/{len(expected)} echoed", details


def set_codec(transceiver, kind, codec):
    if not codec:
        return
    caps = RTCRtpSender.getCapabilities(kind).codecs
    want = [c for c in caps if c.mimeType.lower() == f"{kind}/{codec}".lower()]
    if not want:
        raise SystemExit(f"aiortc does not support {kind} codec {codec}")
    rtx = [c for c in caps if c.mimeType.lower().endswith("/rtx")]
    transceiver.setCodecPreferences(want + rtx)


def negotiated_codec(sdp, kind):
    """First payload type of the m=<kind> line of an SDP, as its rtpmap name."""
    pt, names = None, {}
    section = None
    for line in sdp.splitlines():
        if line.startswith("m="):
            section = line[2:].split()[0]
            if section == kind and pt is None:
                fmts = line.split()[3:]
                pt = fmts[0] if fmts else None
        elif section == kind and line.startswith("a=rtpmap:"):
            p, name = line[9:].split(" ", 1)
            names[p] = name.split("/")[0]
    return names.get(pt)


def check_remote_media(sdp, who, dc, audio, video, codec=None):
    """Raise if the remote description cannot bring our media back: an m-section we need is
    missing, rejected (port 0, unless bundle-only) or not sendrecv."""
    sections = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            kind, port = line[2:].split()[:2]
            sections.append({"kind": kind, "port": int(port), "dir": "sendrecv", "bo": False})
        elif sections and line == "a=bundle-only":
            sections[-1]["bo"] = True
        elif sections and line[2:] in ("sendrecv", "sendonly", "recvonly", "inactive"):
            sections[-1]["dir"] = line[2:]
    want = [k for k, on in (("audio", audio), ("video", video), ("application", dc)) if on]
    for kind in want:
        sec = next((m for m in sections if m["kind"] == kind), None)
        if sec is None:
            raise RuntimeError(f"{who} has no m={kind}")
        if sec["port"] == 0 and not sec["bo"]:
            hint = f": no {codec}?" if kind == "video" and codec else ""
            raise RuntimeError(f"{who} rejected m={kind} (port 0){hint}")
        if kind != "application" and sec["dir"] != "sendrecv":
            raise RuntimeError(f"{who} says a={sec['dir']} on m={kind}: it will not echo")


def result_line(mode, case, ok, reason, details, t0):
    details = dict(details)
    details["total_ms"] = round((time.monotonic() - t0) * 1000)
    out = {"peer": "aiortc", "mode": mode, "case": case, "pass": bool(ok),
           "reason": reason, "details": details}
    print(json.dumps(out), flush=True)
    return 0 if ok else 1


async def run_checks(pc, counter, case, channel, t0, timeout, state):
    dc_kind, audio, video = CASES[case]
    deadline = t0 + timeout
    reasons, details, ok = [], {}, True
    jobs = []
    if channel is not None:
        jobs.append(("dc", dc_echo_check(channel, dc_kind == "unordered", deadline)))

    async def media():
        got = await counter.wait_for(audio, video, deadline)
        d = dict(counter.counts)
        if video:
            d["video_sizes"] = sorted(counter.sizes)
        if got and video:
            why = pattern_check(counter.last_video)
            d["pattern"] = getattr(pattern_check, "last", None)
            if why:
                return False, why, d
        if got:
            bits = []
            if audio:
                bits.append(f"{counter.counts['audio']} audio frames")
            if video:
                bits.append(f"{counter.counts['video']} video frames (our pattern)")
            return True, " + ".join(bits) + " echoed", d
        bits = []
        if audio:
            bits.append(f"audio {counter.counts['audio']}/{AUDIO_FRAMES_NEEDED}")
        if video:
            bits.append(f"video {counter.counts['video']}/{VIDEO_FRAMES_NEEDED}")
        return False, (f"echoed frames in {timeout:.0f} s: " + ", ".join(bits) +
                       f" (ICE/connection: {state()})"), d

    if audio or video:
        jobs.append(("media", media()))
    results = await asyncio.gather(*(j for _, j in jobs))
    for (name, _), (good, why, d) in zip(jobs, results):
        ok = ok and good
        reasons.append(why)
        details[name] = d
    return ok, "; ".join(reasons), details


# --------------------------------------------------------------------------------------
# the renegotiation case: the channel carries messages before, during and after a second
# offer/answer that adds a video track; the echoed video must come back


async def reneg_check(channel, counter, deadline, renegotiate):
    """Messages before, during and after `renegotiate()` (which adds video), then the
    echoed video. Returns (ok, reason, details)."""
    opened = asyncio.Event()
    if channel.readyState == "open":
        opened.set()
    channel.on("open", opened.set)
    received, sent, expected = [], [], []
    arrived = asyncio.Event()

    @channel.on("message")
    def on_message(m):
        received.append(m)
        arrived.set()

    async def echoed(n):
        while len(received) < n:
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), max(0.1, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                return False
        return True

    def send(m, want=None):
        channel.send(m)
        sent.append(m)
        expected.append(m if want is None else want)

    try:
        await asyncio.wait_for(opened.wait(), max(0.1, deadline - time.monotonic()))
    except asyncio.TimeoutError:
        return False, f"data channel never opened (state {channel.readyState})", {}
    binary = bytes((i * 7 + 3) & 0xFF for i in range(1200))
    big = "".join(chr(0x41 + i % 26) for i in range(16000))
    for i in range(20):
        send(f"ping {i}", f"pong {i}")
        if i == 10:
            send(binary)
    if not await echoed(len(expected)):
        return False, f"only {len(received)}/{len(expected)} echoed before the renegotiation", {}
    send("renegotiate add-video")
    for i in range(20, 30):
        send(f"ping {i}", f"pong {i}")
    t = time.monotonic()
    await renegotiate()
    reneg_ms = round((time.monotonic() - t) * 1000)
    for i in range(30, 50):
        send(f"ping {i}", f"pong {i}")
        if i == 30:
            send(big)
    await echoed(len(expected))
    details = {"sent": len(sent), "echoed": len(received), "renegotiation_ms": reneg_ms}
    for i, (got, want) in enumerate(zip(received, expected)):
        if got != want:
            return False, f"echo #{i}: got {describe(got)!r}, want {describe(want)!r}", details
    if len(received) != len(expected):
        return False, f"only {len(received)}/{len(expected)} echoed in order", details
    got = await counter.wait_for(False, True, deadline)
    details["video_frames"] = counter.counts["video"]
    if not got:
        return False, (f"{len(received)}/{len(expected)} echoed in order, but the added video: "
                       f"{counter.counts['video']}/{VIDEO_FRAMES_NEEDED} frames"), details
    why = pattern_check(counter.last_video)
    details["pattern"] = getattr(pattern_check, "last", None)
    if why:
        return False, f"added video: {why}", details
    return True, (f"{len(received)}/{len(expected)} echoed in order across the renegotiation; "
                  f"added video: {counter.counts['video']} frames (our pattern) echoed"), details


# --------------------------------------------------------------------------------------
# offer mode: aiortc offers to the server under test


async def offer_mode(args):
    t0 = time.monotonic()
    dc_kind, audio, video = CASES[args.case]
    pc = RTCPeerConnection(config())
    counter = FrameCounter()
    timings = {}
    pc.on("track", counter.add)

    @pc.on("connectionstatechange")
    def on_state():
        timings.setdefault(pc.connectionState + "_ms", round((time.monotonic() - t0) * 1000))

    channel = None
    if dc_kind == "ordered":
        channel = pc.createDataChannel("echo")
    elif dc_kind == "unordered":
        channel = pc.createDataChannel("echo", ordered=False, maxRetransmits=0)
    if audio:
        pc.addTransceiver(ToneAudioTrack(), direction="sendrecv")
    if video:
        set_codec(pc.addTransceiver(PatternVideoTrack(), direction="sendrecv"), "video",
                  args.codec)
    try:
        offer = await pc.createOffer()
        await pc.setLocalDescription(offer)  # returns once ICE gathering is complete
        body = {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type,
                "video_transform": "none"}
        async with ClientSession(timeout=ClientTimeout(total=args.timeout)) as http:
            async with http.post(args.url, json=body) as resp:
                text = await resp.text()
                if resp.status != 200:
                    raise RuntimeError(f"POST /offer: HTTP {resp.status}: {text[:200]}")
                answer = json.loads(text)
        if answer.get("type") != "answer":
            raise RuntimeError(f"POST /offer: reply type {answer.get('type')!r}, want answer")
        if "\na=candidate" not in "\n" + answer["sdp"]:
            raise RuntimeError("answer has no a=candidate line (the contract is no trickle)")
        check_remote_media(answer["sdp"], "answer", dc_kind, audio, video, args.codec)
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        if args.case == "renegotiation":
            async def renegotiate():
                set_codec(pc.addTransceiver(PatternVideoTrack(), direction="sendrecv"), "video",
                          args.codec or "VP8")
                await pc.setLocalDescription(await pc.createOffer())
                body = {"sdp": pc.localDescription.sdp, "type": "offer",
                        "session": answer.get("session")}
                async with ClientSession(timeout=ClientTimeout(total=args.timeout)) as http:
                    async with http.post(args.url, json=body) as resp:
                        text = await resp.text()
                        if resp.status != 200:
                            raise RuntimeError(f"renegotiation POST /offer: HTTP {resp.status}: "
                                               f"{text[:200]}")
                        again = json.loads(text)
                check_remote_media(again["sdp"], "answer 2", None, False, True)
                await pc.setRemoteDescription(RTCSessionDescription(again["sdp"], again["type"]))

            ok, reason, details = await reneg_check(channel, counter, t0 + args.timeout,
                                                    renegotiate)
        else:
            ok, reason, details = await run_checks(
                pc, counter, args.case, channel, t0, args.timeout,
                lambda: f"{pc.iceConnectionState}/{pc.connectionState}")
        if video:
            details["video_codec"] = negotiated_codec(answer["sdp"], "video")
    except Exception as exc:
        ok, reason, details = False, f"{type(exc).__name__}: {exc}", {}
    details["timings"] = timings
    counter.stop()
    await pc.close()
    return result_line("offer", args.case, ok, reason, details, t0)


# --------------------------------------------------------------------------------------
# serve mode: aiortc answers an offer POSTed to it, then tests the offerer


async def serve_mode(args):
    dc_kind, audio, video = CASES[args.case]
    done = asyncio.get_running_loop().create_future()
    # the renegotiation case: the second offer (the offerer adds video), answered with our
    # pattern; its outcome (None or an error) resolves `reneg`
    reneg = asyncio.get_running_loop().create_future()
    state = {"pc": None}

    async def on_reoffer(request):
        pc = state["pc"]
        try:
            params = await request.json()
            check_remote_media(params["sdp"], "offer 2", None, False, True)
            await pc.setRemoteDescription(RTCSessionDescription(params["sdp"], params["type"]))
            pc.addTrack(PatternVideoTrack())  # takes the new video transceiver
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            if not reneg.done():
                reneg.set_result(f"renegotiation: {type(exc).__name__}: {exc}")
            return web.json_response({"error": str(exc)}, status=500)
        if not reneg.done():
            reneg.set_result(None)
        return web.json_response({"sdp": pc.localDescription.sdp,
                                  "type": pc.localDescription.type})

    async def on_offer(request):
        if state["pc"] is not None:
            if args.case == "renegotiation" and not reneg.done():
                return await on_reoffer(request)
            return web.json_response({"error": "this peer answers one offer only"}, status=409)
        t0 = time.monotonic()
        params = await request.json()
        pc = RTCPeerConnection(config())
        state["pc"] = pc
        counter = FrameCounter()
        timings = {}

        @pc.on("connectionstatechange")
        def on_state():
            timings.setdefault(pc.connectionState + "_ms",
                               round((time.monotonic() - t0) * 1000))

        @pc.on("datachannel")
        def on_datachannel(ch):  # be a polite peer: echo the offerer's own channels
            ch.on("message", lambda m, ch=ch: ch.send(
                "pong" + m[4:] if isinstance(m, str) and m.startswith("ping") else m))

        pc.on("track", counter.add)
        try:
            offer = RTCSessionDescription(sdp=params["sdp"], type=params["type"])
            check_remote_media(offer.sdp, "offer", dc_kind, audio, video)
            if "\na=candidate" not in "\n" + offer.sdp:
                raise RuntimeError("offer has no a=candidate line (the contract is no trickle)")
            await pc.setRemoteDescription(offer)
            if audio:
                pc.addTrack(ToneAudioTrack())
            if video:
                pc.addTrack(PatternVideoTrack())
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
        except Exception as exc:
            if not done.done():
                done.set_result((False, f"negotiation: {type(exc).__name__}: {exc}", {}, t0))
            return web.json_response({"error": str(exc)}, status=500)

        channel = None
        if dc_kind == "ordered":
            channel = pc.createDataChannel("aiortc-answerer")
        elif dc_kind == "unordered":
            channel = pc.createDataChannel("aiortc-answerer", ordered=False, maxRetransmits=0)

        async def renegotiated():
            # asked for by reneg_check's "renegotiate add-video"; the offerer offers
            err = await asyncio.wait_for(asyncio.shield(reneg),
                                         max(0.1, t0 + args.timeout - time.monotonic()))
            if err:
                raise RuntimeError(err)

        async def run():
            try:
                if args.case == "renegotiation":
                    ok, reason, details = await reneg_check(channel, counter,
                                                            t0 + args.timeout, renegotiated)
                else:
                    ok, reason, details = await run_checks(
                        pc, counter, args.case, channel, t0, args.timeout,
                        lambda: f"{pc.iceConnectionState}/{pc.connectionState}")
                if video:
                    details["video_codec"] = negotiated_codec(pc.localDescription.sdp, "video")
            except Exception as exc:
                ok, reason, details = False, f"{type(exc).__name__}: {exc}", {}
            details["timings"] = timings
            counter.stop()
            if not done.done():
                done.set_result((ok, reason, details, t0))

        asyncio.ensure_future(run())
        return web.json_response({"sdp": pc.localDescription.sdp,
                                  "type": pc.localDescription.type})

    app = web.Application()
    app.router.add_post("/offer", on_offer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port).start()
    log.info("answerer listening on http://%s:%d/offer", args.host, args.port)
    t_listen = time.monotonic()
    try:
        ok, reason, details, t0 = await asyncio.wait_for(done, args.wait_offer + args.timeout)
    except asyncio.TimeoutError:
        ok, reason, details, t0 = False, "no offer was POSTed", {}, t_listen
    if state["pc"] is not None:
        await state["pc"].close()
    await runner.cleanup()
    return result_line("answer", args.case, ok, reason, details, t0)


# --------------------------------------------------------------------------------------
# echo-offerer mode: the reference "offerer under test"


async def echo_offerer_mode(args):
    pc = RTCPeerConnection(config())
    relay = MediaRelay()

    def echo(ch):
        @ch.on("message")
        def on_message(m):
            ch.send("pong" + m[4:] if isinstance(m, str) and m.startswith("ping") else m)

    echo(pc.createDataChannel("offerer-echo"))
    pc.on("datachannel", echo)
    transceivers = {}
    if args.audio:
        transceivers["audio"] = pc.addTransceiver("audio", direction="sendrecv")
    if args.video:
        transceivers["video"] = pc.addTransceiver("video", direction="sendrecv")
        set_codec(transceivers["video"], "video", args.codec)

    @pc.on("track")
    def on_track(track):
        log.info("echoing %s track back", track.kind)
        transceivers[track.kind].sender.replaceTrack(relay.subscribe(track))

    closed = asyncio.Event()

    @pc.on("connectionstatechange")
    def on_state():
        log.info("connection state %s", pc.connectionState)
        if pc.connectionState in ("failed", "closed"):
            closed.set()

    await pc.setLocalDescription(await pc.createOffer())
    async with ClientSession(timeout=ClientTimeout(total=60)) as http:
        async with http.post(args.url, json={"sdp": pc.localDescription.sdp,
                                             "type": pc.localDescription.type}) as resp:
            answer = json.loads(await resp.text())
    if "sdp" not in answer:
        log.error("no answer: %s", answer)
        return 1
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    await closed.wait()  # until the peer goes away or the harness kills us
    await pc.close()
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", help="server under test's offer URL (offer / echo-offerer modes)")
    p.add_argument("--case", choices=sorted(CASES), default="dc-ordered")
    p.add_argument("--codec", default=None, help="video codec to prefer: VP8 or H264")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds for the whole case")
    p.add_argument("--serve", action="store_true", help="be the answerer (see module doc)")
    p.add_argument("--echo-offerer", action="store_true", help="be the reference offerer")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument("--wait-offer", type=float, default=60.0,
                   help="--serve: seconds to wait for the offer")
    p.add_argument("--audio", action="store_true", help="--echo-offerer: offer audio")
    p.add_argument("--video", action="store_true", help="--echo-offerer: offer video")
    p.add_argument("--verbose", "-v", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.serve:
        rc = asyncio.run(serve_mode(args))
    elif args.echo_offerer:
        if not args.url:
            p.error("--echo-offerer needs --url")
        rc = asyncio.run(echo_offerer_mode(args))
    else:
        if not args.url:
            p.error("offer mode needs --url")
        rc = asyncio.run(offer_mode(args))
    sys.exit(rc)


if __name__ == "__main__":
    main()
