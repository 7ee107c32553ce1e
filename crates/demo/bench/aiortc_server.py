#!/usr/bin/env python3
"""aiortc's demo server (its examples/server), video part, as the reference of `cargo xtask
bench demo`.

aiortc's examples/server/server.py is not in the aiortc wheel, so this is our own server with
the same behaviour: `POST /offer` with JSON `{"sdp", "type", "video_transform"}` answered with
`{"sdp", "type"}`; every received video track is sent back through a transform track whose
`edges` does what aiortc's demo does, on each frame:
`cv2.Canny(frame.to_ndarray(format="bgr24"), 100, 200)`, back to BGR, into a new frame with
the old one's pts and time_base. Received audio is discarded (aiortc's MediaBlackhole).

    python aiortc_server.py [--host 127.0.0.1] [--port 0]

Prints `listening on http://HOST:PORT` as its first line (the port it got when 0). Loopback
only: aioice is told 127.0.0.1 is the host address, and no ICE server is used.
"""

import argparse
import asyncio
import json
import sys

import aioice.ice
import cv2
from aiohttp import web
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaBlackhole, MediaRelay
from av import VideoFrame

# aioice skips loopback addresses when gathering; on a loopback-only host there is no other.
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]

relay = MediaRelay()
connections = set()


class VideoTransformTrack(MediaStreamTrack):
    """A video track that transforms the frames of another track (aiortc's demo's)."""

    kind = "video"

    def __init__(self, track, transform):
        super().__init__()
        self.track = track
        self.transform = transform

    async def recv(self):
        frame = await self.track.recv()
        if self.transform != "edges":
            return frame
        img = frame.to_ndarray(format="bgr24")
        img = cv2.cvtColor(cv2.Canny(img, 100, 200), cv2.COLOR_GRAY2BGR)
        out = VideoFrame.from_ndarray(img, format="bgr24")
        out.pts = frame.pts
        out.time_base = frame.time_base
        return out


async def offer(request):
    params = await request.json()
    description = RTCSessionDescription(sdp=params["sdp"], type=params["type"])
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    connections.add(pc)
    blackhole = MediaBlackhole()

    @pc.on("connectionstatechange")
    async def on_connectionstatechange():
        if pc.connectionState in ("failed", "closed"):
            await pc.close()
            connections.discard(pc)

    @pc.on("track")
    def on_track(track):
        if track.kind == "video":
            pc.addTrack(
                VideoTransformTrack(relay.subscribe(track), params.get("video_transform"))
            )
        else:
            blackhole.addTrack(track)

        @track.on("ended")
        async def on_ended():
            await blackhole.stop()

    await pc.setRemoteDescription(description)
    await blackhole.start()
    await pc.setLocalDescription(await pc.createAnswer())
    body = {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}
    return web.Response(content_type="application/json", text=json.dumps(body))


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    app = web.Application()
    app.router.add_post("/offer", offer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    host, port = site._server.sockets[0].getsockname()[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
