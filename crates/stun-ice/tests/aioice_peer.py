"""The remote ICE agent of crates/stun-ice/tests/ice_aioice.rs: aiortc's aioice.

Usage: python aioice_peer.py controlling|controlled [TIE_BREAKER]

TIE_BREAKER (0 to 2**64 - 1) replaces aioice's random one, so that the outcome of a role
conflict (RFC 8445 section 7.3.1.1) is known in advance.

Everything is bound to 127.0.0.1; no STUN or TURN server is configured, so nothing outside
the machine is ever contacted. The test and this script talk over stdin/stdout, one line
per message, words separated by single spaces:

  we print      ufrag U / pwd P / candidate SDP (one per line) / end-of-candidates
  we read       ufrag U / pwd P / candidate SDP / end-of-candidates
  we print      connected ROLE LOCAL_HOST LOCAL_PORT REMOTE_HOST REMOTE_PORT
                (once connect() returned; the pair is aioice's nominated one), then send
                HELLO on that pair, then echo every datagram D received as b"echo:" + D
  we read       bye
  we print      bye N (N the number of datagrams echoed) and exit 0

Any failure prints "error REASON" and exits 1; the whole run is bounded by LIMIT seconds.
aioice's own log goes to stderr, which the test shows when it fails.
"""

import asyncio
import logging
import sys

import aioice
import aioice.ice

LIMIT = 60.0

# Not STUN for aioice's parser (shorter than a STUN header), and in the RTP/RTCP range
# (first byte 128..191) for ours (RFC 7983).
HELLO = b"\x80hello from aioice"


def loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """aioice leaves 127.0.0.1 out of its host addresses; this peer uses nothing else."""
    return ["127.0.0.1"] if use_ipv4 else []


aioice.ice.get_host_addresses = loopback_only


def say(*words: object) -> None:
    print(*words, flush=True)


async def stdin_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    return reader


async def read_line(reader: asyncio.StreamReader) -> tuple[str, str]:
    line = (await reader.readline()).decode()
    if not line:
        raise EOFError("stdin closed")
    word, _, rest = line.strip().partition(" ")
    return word, rest


async def run(controlling: bool, tie_breaker: int | None) -> None:
    conn = aioice.Connection(ice_controlling=controlling, use_ipv6=False)
    if tie_breaker is not None:
        # aioice 0.13 draws it in the constructor and offers no parameter for it.
        conn._tie_breaker = tie_breaker
    await conn.gather_candidates()
    if not conn.local_candidates:
        raise RuntimeError("aioice gathered no candidate")
    say("ufrag", conn.local_username)
    say("pwd", conn.local_password)
    for candidate in conn.local_candidates:
        say("candidate", candidate.to_sdp())
    say("end-of-candidates")

    stdin = await stdin_reader()
    while True:
        word, rest = await read_line(stdin)
        if word == "ufrag":
            conn.remote_username = rest
        elif word == "pwd":
            conn.remote_password = rest
        elif word == "candidate":
            await conn.add_remote_candidate(aioice.Candidate.from_sdp(rest))
        elif word == "end-of-candidates":
            await conn.add_remote_candidate(None)
            break
        else:
            raise ValueError(f"unexpected line {word} {rest}")

    await conn.connect()
    # aioice 0.13 has no public accessor for the nominated pair.
    pair = conn._nominated[1]
    role = "controlling" if conn.ice_controlling else "controlled"
    say("connected", role, *pair.local_addr, *pair.remote_addr)
    await conn.send(HELLO)

    echoed = 0

    async def echo() -> None:
        nonlocal echoed
        while True:
            data = await conn.recv()
            await conn.send(b"echo:" + data)
            echoed += 1

    echo_task = asyncio.create_task(echo())
    bye = asyncio.create_task(read_line(stdin))
    done, _ = await asyncio.wait(
        [echo_task, bye], return_when=asyncio.FIRST_COMPLETED
    )
    if echo_task in done:
        # recv() only ends with an error: the connection was lost.
        echo_task.result()
        raise RuntimeError("echo loop ended")
    word, rest = bye.result()
    if word != "bye":
        raise ValueError(f"unexpected line {word} {rest}")
    echo_task.cancel()
    await conn.close()
    say("bye", echoed)


def main() -> int:
    if len(sys.argv) not in (2, 3) or sys.argv[1] not in ("controlling", "controlled"):
        say("error usage: aioice_peer.py controlling|controlled [TIE_BREAKER]")
        return 1
    tie_breaker = int(sys.argv[2]) if len(sys.argv) == 3 else None
    if tie_breaker is not None and not 0 <= tie_breaker < 2**64:
        say("error tie-breaker out of range")
        return 1
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(relativeCreated)d %(message)s"
    )
    try:
        asyncio.run(asyncio.wait_for(run(sys.argv[1] == "controlling", tie_breaker), LIMIT))
    except Exception as exc:  # reported to the test, which fails with it
        say("error", type(exc).__name__, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
