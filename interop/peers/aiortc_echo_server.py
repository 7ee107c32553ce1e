#!/usr/bin/env python3
"""Reference "server under test" for the ferrtc interop harness, written with aiortc.

Contract (the same as aiortc's examples/server signalling; see interop/README.md):

    aiortc_echo_server.py --host 127.0.0.1 --port P

  * POST /offer with JSON {"sdp": ..., "type": "offer"} (an extra "video_transform" key is
    accepted and ignored) is answered with JSON {"sdp": ..., "type": "answer"}; the answer
    carries every ICE candidate (no trickle).
  * every data-channel message is echoed on the channel it came from; a text message
    "ping N" is answered with "pong N".
  * every received audio/video track is sent back to the peer.

Loopback-only hosts: aioice skips 127.0.0.1 when gathering, so it is patched in here, and
no STUN server is configured.
"""

import argparse
import asyncio
import logging
import sys

import aioice.ice
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
from aiortc.contrib.media import MediaRelay
from av import VideoFrame

# Loopback is the only interface inside the harness's network namespace; aioice would
# otherwise gather no host candidate at all.
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]

log = logging.getLogger("echo-server")
pcs = set()
relay = MediaRelay()

# Deliberate faults, so the harness can prove it notices a broken server (run.py --selftest).
FAULTS = {
    "none": "behave",
    "no-dc-echo": "never echo data-channel messages",
    "bad-pong": "answer 'ping N' with 'pong N+1'",
    "no-media-echo": "never send received tracks back (the answer says recvonly)",
    "silent-media": "answer sendrecv but never send a frame",
    "own-media": "send its own 352x288 grey video and silence instead of the echo",
    "no-candidates": "strip every a=candidate line from the answer",
    "http-500": "answer POST /offer with HTTP 500",
}
fault = "none"


class GreyVideoTrack(VideoStreamTrack):
    """Fault own-media: a picture that is not an echo."""

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=352, height=288, format="yuv420p")
        for plane in frame.planes:
            plane.update(b"\x80" * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


class SilentTrack(MediaStreamTrack):
    """Fault silent-media: a track that never yields a frame."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    async def recv(self):
        await asyncio.Future()  # forever


def echo_of(message):
    if isinstance(message, str) and message.startswith("ping"):
        if fault == "bad-pong":
            return "pong " + str(int(message[5:]) + 1)
        return "pong" + message[4:]
    return message


async def offer(request):
    try:
        params = await request.json()
        desc = RTCSessionDescription(sdp=params["sdp"], type=params["type"])
    except Exception as exc:  # malformed request: tell the client why
        return web.json_response({"error": f"bad offer request: {exc}"}, status=400)
    if fault == "http-500":
        return web.json_response({"error": "fault injected: http-500"}, status=500)

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pcs.add(pc)
    pc_id = f"pc{len(pcs)}-{id(pc) & 0xFFFF:04x}"
    log.info("%s: offer received (%d bytes of SDP)", pc_id, len(desc.sdp))

    @pc.on("datachannel")
    def on_datachannel(channel):
        log.info("%s: data channel %r id=%s ordered=%s maxRetransmits=%s", pc_id,
                 channel.label, channel.id, channel.ordered, channel.maxRetransmits)

        @channel.on("message")
        def on_message(message):
            if fault != "no-dc-echo":
                channel.send(echo_of(message))

    @pc.on("connectionstatechange")
    async def on_connectionstatechange():
        log.info("%s: connection state %s", pc_id, pc.connectionState)
        if pc.connectionState in ("failed", "closed"):
            await pc.close()
            pcs.discard(pc)

    @pc.on("track")
    def on_track(track):
        log.info("%s: track %s received, echoing it back", pc_id, track.kind)
        # The transceiver the offer created is reused by addTrack (same kind, no track yet),
        # so the answer says sendrecv on the same m-line.
        if fault == "silent-media":
            pc.addTrack(SilentTrack(track.kind))
        elif fault == "own-media":
            pc.addTrack(GreyVideoTrack() if track.kind == "video" else AudioStreamTrack())
        elif fault != "no-media-echo":
            pc.addTrack(relay.subscribe(track))

    try:
        await pc.setRemoteDescription(desc)
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)  # aiortc gathers all candidates here
    except Exception as exc:
        log.exception("%s: negotiation failed", pc_id)
        await pc.close()
        pcs.discard(pc)
        return web.json_response({"error": f"negotiation failed: {exc}"}, status=500)

    sdp = pc.localDescription.sdp
    if fault == "no-candidates":
        sdp = "".join(l for l in sdp.splitlines(True) if not l.startswith("a=candidate"))
    return web.json_response({"sdp": sdp, "type": pc.localDescription.type})


async def on_shutdown(app):
    await asyncio.gather(*(pc.close() for pc in list(pcs)))
    pcs.clear()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.add_argument("--fault", choices=sorted(FAULTS), default="none",
                        help="misbehave on purpose (harness self-test): " +
                        "; ".join(f"{k}: {v}" for k, v in FAULTS.items()))
    args = parser.parse_args()
    global fault
    fault = args.fault
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    app = web.Application()
    app.on_shutdown.append(on_shutdown)
    app.router.add_post("/offer", offer)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
