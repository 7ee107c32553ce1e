"""The PyAV side of the media report's transcode row (benches/src/media.rs runs it).

    python media_pyav.py CLIP.ivf MIN_CPU_SECONDS

Reads the IVF clip's frames, then decodes each (libvpx through PyAV, one thread), hands the
picture on untouched and encodes it again with libvpx at the settings ferrtc-media's
VpxEncoder uses, whole passes over the clip until MIN_CPU_SECONDS of process CPU time have
gone. Prints one line: `frames <n> cpu_seconds <s> bytes <b> libvpx <version>`.
"""

import fractions
import struct
import sys
import time

import av


def ivf_frames(path):
    with open(path, "rb") as f:
        data = f.read()
    header_len = struct.unpack_from("<H", data, 6)[0]
    width, height = struct.unpack_from("<HH", data, 12)
    frames, at = [], header_len
    while at + 12 <= len(data):
        (size,) = struct.unpack_from("<I", data, at)
        frames.append(data[at + 12 : at + 12 + size])
        at += 12 + size
    return width, height, frames


def encoder(width, height, bitrate):
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height = width, height
    enc.pix_fmt = "yuv420p"
    enc.time_base = fractions.Fraction(1, 90_000)
    enc.framerate = fractions.Fraction(30, 1)
    enc.bit_rate = bitrate
    enc.thread_count = 1
    # ferrtc-media's VpxEncoder settings in FFmpeg's libvpx wrapper's terms: CBR (minrate =
    # maxrate = bit_rate), one pass, realtime deadline, speed -6, no look-ahead, quantizer
    # 2..56, buffer 1000 ms starting at 500 ms, undershoot 100 %, overshoot 15 %, no frame
    # dropping, key frames only when libvpx decides (at most every 3000 frames).
    enc.options = {
        "deadline": "realtime",
        "cpu-used": "-6",
        "lag-in-frames": "0",
        "noise-sensitivity": "0",
        "static-thresh": "1",
        "max-intra-rate": "900",
        "undershoot-pct": "100",
        "overshoot-pct": "15",
        "error-resilient": "0",
        "drop-threshold": "0",
        "minrate": str(bitrate),
        "maxrate": str(bitrate),
        "bufsize": str(bitrate),
        "rc_init_occupancy": str(bitrate // 2),
        "qmin": "2",
        "qmax": "56",
        "g": "3000",
        "threads": "1",
    }
    enc.open()
    return enc


def main():
    path, min_seconds = sys.argv[1], float(sys.argv[2])
    bitrate = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    width, height, frames = ivf_frames(path)
    packets = [av.Packet(f) for f in frames]
    count, out_bytes = 0, 0
    start = time.process_time()
    while True:
        # A new decoder and encoder per pass, as ferrtc's side does.
        dec = av.CodecContext.create("libvpx", "r")
        dec.thread_count = 1
        enc = encoder(width, height, bitrate)
        for i, packet in enumerate(packets):
            for picture in dec.decode(packet):
                # The no-op transform: the decoded picture goes to the encoder as it is.
                picture.pts = i * 3000
                picture.time_base = enc.time_base
                for out in enc.encode(picture):
                    out_bytes += out.size
                count += 1
        for out in enc.encode(None):
            out_bytes += out.size
        spent = time.process_time() - start
        if spent >= min_seconds:
            break
    version = av.codec.Codec("libvpx", "w").long_name
    print(f"frames {count} cpu_seconds {spent:.6f} bytes {out_bytes} libvpx {version}")


if __name__ == "__main__":
    main()
