#!/usr/bin/env python3
"""aiortc to aiortc reference figures for the facade report (issue 11's rows).

    interop/.venv/bin/python interop/bench_aiortc.py [--connects 20] [--mib 8]

Two aiortc peer connections in one process, on 127.0.0.1 only (aioice is told 127.0.0.1 is
the host address; no ICE servers), signalling in process (the offer and answer objects
handed over, ICE gathered before each is returned):

- `connect`: offer created -> the offerer's data channel `open` event, wall clock, for
  `--connects` fresh pairs; median, min, max in ms;
- `goodput`: a reliable ordered channel, `--mib` MiB of 64 KiB binary messages sent as
  fast as aiortc takes them (waiting on `bufferedamountlow` above 1 MiB buffered), from the
  first send to the last byte received at the other end; Mbit/s of payload.

Prints one JSON object on the last line (`{"connect_ms": {...}, "goodput_mbit_s": ...}`)
so a Rust bench can run this script and read it; the lines before it are for people.
"""

import argparse
import asyncio
import json
import statistics
import sys
import time

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection

# Loopback only: aioice skips 127.0.0.1 when gathering unless told it is the host address.
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]

MESSAGE = 64 * 1024
HIGH_WATER = 1024 * 1024


def config():
    return RTCConfiguration(iceServers=[])


async def pair(channel_kwargs=None):
    """A connected offerer/answerer pair; returns (offerer, answerer, the offerer's channel,
    the answerer's channel, ms from createOffer to the offerer's channel open)."""
    a, b = RTCPeerConnection(config()), RTCPeerConnection(config())
    remote = asyncio.get_running_loop().create_future()
    b.on("datachannel", lambda ch: remote.done() or remote.set_result(ch))
    t0 = time.perf_counter()
    ch = a.createDataChannel("bench", **(channel_kwargs or {}))
    opened = asyncio.Event()
    ch.on("open", opened.set)
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    await asyncio.wait_for(opened.wait(), 30)
    ms = (time.perf_counter() - t0) * 1000
    other = await asyncio.wait_for(remote, 30)
    return a, b, ch, other, ms


async def connect_times(n):
    out = []
    for _ in range(n):
        a, b, _, _, ms = await pair()
        out.append(ms)
        await a.close()
        await b.close()
    return out


async def goodput(mib):
    a, b, ch, other, _ = await pair()
    total = mib * 1024 * 1024
    count = total // MESSAGE
    got = 0
    done = asyncio.Event()

    @other.on("message")
    def on_message(m):
        nonlocal got
        got += len(m)
        if got >= count * MESSAGE:
            done.set()

    ch.bufferedAmountLowThreshold = HIGH_WATER // 2
    low = asyncio.Event()
    ch.on("bufferedamountlow", low.set)
    payload = bytes(range(256)) * (MESSAGE // 256)
    t0 = time.perf_counter()
    for _ in range(count):
        while ch.bufferedAmount > HIGH_WATER:
            low.clear()
            await asyncio.wait_for(low.wait(), 60)
        ch.send(payload)
    await asyncio.wait_for(done.wait(), 300)
    secs = time.perf_counter() - t0
    await a.close()
    await b.close()
    return count * MESSAGE * 8 / secs / 1e6, secs


async def main(args):
    times = await connect_times(args.connects)
    med = statistics.median(times)
    print(f"aiortc -> aiortc offer to data channel open: median {med:.1f} ms "
          f"(min {min(times):.1f}, max {max(times):.1f}, n={len(times)})")
    mbit, secs = await goodput(args.mib)
    print(f"aiortc -> aiortc goodput, {args.mib} MiB of 64 KiB reliable ordered messages: "
          f"{mbit:.1f} Mbit/s ({secs:.2f} s)")
    print(json.dumps({
        "peer": "aiortc", "connect_ms": {"median": round(med, 2), "min": round(min(times), 2),
                                         "max": round(max(times), 2), "n": len(times)},
        "goodput_mbit_s": round(mbit, 2), "goodput_bytes": args.mib * 1024 * 1024,
        "goodput_s": round(secs, 3), "message_bytes": MESSAGE,
    }))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--connects", type=int, default=20, help="pairs to time (default 20)")
    p.add_argument("--mib", type=int, default=8, help="MiB to send for goodput (default 8)")
    sys.exit(asyncio.run(main(p.parse_args())))
