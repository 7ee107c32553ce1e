//! `ferrtc-media`: a VP8 clip decoded, passed through a no-op transform and encoded again,
//! against PyAV (aiortc's codec layer) doing the same; and conversion between I420 and RGB24
//! against the `yuv` crate called directly.
//!
//! **Transcode.** Both sides take the same 640x480 VP8 clip (made here by ferrtc-media's
//! encoder from a moving synthetic picture, written to an IVF file) and run whole passes
//! over it: a fresh decoder and encoder per pass, each frame decoded, the picture handed on
//! untouched and encoded again at 1 Mbit/s CBR, realtime deadline, speed -6, one thread, no
//! look-ahead, no frame dropping. The figure is frames per second of **process CPU time**
//! (not wall time): ours from the kernel's per-thread run time (`/proc/self/task/*/
//! schedstat`), PyAV's from Python's `time.process_time()` around its loop in its own
//! process, after its imports. The rounds alternate: ours, then a PyAV subprocess, and so
//! on; each side's figure is the median over rounds.
//!
//! PyAV is installed by this group itself, pinned, into a virtualenv under
//! `target/bench-venv` (`python3 -m venv`, then `pip install`), as `cargo xtask test` makes
//! the interop venv; nothing is installed by hand. Known differences: PyAV's wheel bundles
//! its own libvpx (1.16), ferrtc-media links Debian's (1.12); PyAV's decoder is FFmpeg's
//! libvpx wrapper (`libvpx`, not FFmpeg's own `vp8`), so both sides decode with libvpx; FFmpeg
//! sets libvpx's optimal buffer level to 5/6 of the buffer (833 ms) where ours is 600 ms.
//!
//! **RGB.** A 640x480 I420 frame to packed RGB24 (`VideoFrame::to_rgb` into a caller's
//! buffer) and back (`VideoFrame::from_rgb` into a pooled frame), against the `yuv` calls
//! they make, on the same planes with the same range, matrix and mode: the cost of our frame
//! type over the converter's raw speed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ferrtc_media::container::{IvfReader, IvfWriter};
use ferrtc_media::{
    BufferPool, Codec, EncodedFrame, PixelFormat, RgbFormat, TimeBase, VideoDecoder, VideoEncoder,
    VideoEncoderConfig, VideoFrame, VpxDecoder, VpxEncoder,
};
use yuv::{
    BufferStoreMut, YuvConversionMode, YuvPlanarImage, YuvPlanarImageMut, YuvRange,
    YuvStandardMatrix,
};

use crate::{Case, Config, Row, Unit, compare, median};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;
/// Frames in the clip: two seconds at 30 fps.
const CLIP_FRAMES: u32 = 60;
const BITRATE_BPS: u32 = 1_000_000;
/// The PyAV release the reference runs (the one aiortc 1.16 installs here).
const PYAV: &str = "av==18.1.0";
const PYAV_SCRIPT: &str = include_str!("media_pyav.py");

/// The media group's rows.
pub fn rows(cfg: &Config) -> Vec<Row> {
    let mut rows = transcode_rows(cfg);
    rows.extend(rgb_rows(cfg));
    rows
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches lives in the workspace")
        .to_path_buf()
}

/// A picture with smooth gradients, moving bars and a moving textured square, so that the
/// encoder has motion to search and detail to code.
fn synthetic_frame(i: u32) -> VideoFrame {
    let mut frame = VideoFrame::new(PixelFormat::I420, WIDTH, HEIGHT).expect("valid size");
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    let t = i as usize;
    let (stride, cstride) = (frame.stride(0), frame.stride(1));
    let [y, u, v] = frame.planes_mut();
    let (bx, by) = ((40 + 7 * t) % (w - 160), (30 + 5 * t) % (h - 160));
    for r in 0..h {
        for c in 0..w {
            let bars = (((c + 4 * t) / 40) % 2) as u8 * 40;
            let mut luma = ((c * 160 / w + r * 60 / h) as u8).wrapping_add(bars);
            if (bx..bx + 160).contains(&c) && (by..by + 160).contains(&r) {
                // A texture that moves with the square.
                let (x, z) = (c - bx, r - by);
                luma = (((x * 13) ^ (z * 7)) % 200) as u8 + 30;
            }
            y[r * stride + c] = luma;
        }
    }
    for r in 0..h / 2 {
        for c in 0..w / 2 {
            u[r * cstride + c] = (96 + (c + t) % 64) as u8;
            v[r * cstride + c] = (160 - (r + 2 * t) % 64) as u8;
        }
    }
    frame.pts = i64::from(i) * 3000;
    frame.time_base = TimeBase::VIDEO_90KHZ;
    frame
}

fn encoder() -> VpxEncoder {
    VpxEncoder::vp8(VideoEncoderConfig {
        width: WIDTH,
        height: HEIGHT,
        bitrate_bps: BITRATE_BPS,
        frame_rate: 30,
    })
    .expect("VP8 encoder")
}

/// Encodes the clip and writes it as IVF to `path`; returns its frames.
fn make_clip(path: &Path) -> Vec<Vec<u8>> {
    let mut enc = encoder();
    let mut frames = Vec::new();
    for i in 0..CLIP_FRAMES {
        enc.encode(&synthetic_frame(i), &mut frames)
            .expect("encoding the clip");
    }
    let tb = TimeBase::VIDEO_90KHZ;
    let mut ivf = IvfWriter::new(
        std::io::Cursor::new(Vec::new()),
        Codec::Vp8,
        WIDTH as u16,
        HEIGHT as u16,
        tb,
    )
    .expect("in memory");
    for f in &frames {
        ivf.write_frame(f).expect("in memory");
    }
    let bytes = ivf.finish().expect("in memory").into_inner();
    std::fs::write(path, &bytes).expect("writing the clip");
    // Read back through the reader, as the other side reads the file.
    let mut reader = IvfReader::new(std::io::Cursor::new(bytes)).expect("our clip");
    let mut out = Vec::new();
    while let Some(f) = reader.read_frame().expect("our clip") {
        out.push(f.data);
    }
    out
}

/// CPU time this process has run so far, all threads, from the kernel's scheduler
/// statistics (nanoseconds).
fn process_cpu() -> Duration {
    let mut total = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(task.path().join("schedstat")) {
                total += s
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(total)
}

/// One pass: fresh decoder and encoder, every frame decoded and encoded again. Returns the
/// frames transcoded and the bytes encoded.
fn transcode_pass(clip: &[Vec<u8>], out: &mut Vec<EncodedFrame>) -> (u64, usize) {
    let mut dec = VpxDecoder::vp8().expect("VP8 decoder");
    let mut enc = encoder();
    let (mut frames, mut bytes) = (0, 0);
    for (i, data) in clip.iter().enumerate() {
        if let Some(picture) = dec.decode(data, i as i64 * 3000).expect("our clip decodes") {
            // The no-op transform: the decoded picture goes to the encoder as it is.
            out.clear();
            enc.encode(&picture, out).expect("encoding");
            bytes += out.iter().map(|f| f.data.len()).sum::<usize>();
            frames += 1;
        }
    }
    (frames, bytes)
}

/// Makes (or reuses) `target/bench-venv` with [`PYAV`]; returns its interpreter.
fn pyav_python() -> Result<PathBuf, String> {
    crate::python_venv(&root().join("target/bench-venv"), PYAV)
}

/// One PyAV round: frames per CPU-second and the libvpx it names.
fn pyav_round(python: &Path, script: &Path, clip: &Path, seconds: f64) -> Result<f64, String> {
    let out = Command::new(python)
        .arg(script)
        .arg(clip)
        .arg(format!("{seconds}"))
        .arg(BITRATE_BPS.to_string())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "PyAV run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let field = |name: &str| -> Option<f64> {
        let i = words.iter().position(|w| *w == name)?;
        words.get(i + 1)?.parse().ok()
    };
    match (field("frames"), field("cpu_seconds")) {
        (Some(frames), Some(cpu)) if cpu > 0.0 => Ok(frames / cpu),
        _ => Err(format!("unexpected PyAV output: {text}")),
    }
}

fn transcode_rows(cfg: &Config) -> Vec<Row> {
    let dir = root().join("target/bench-media");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("media: {}: {e}; transcode row skipped", dir.display());
        return Vec::new();
    }
    let clip_path = dir.join("clip-640x480-vp8.ivf");
    let script = dir.join("media_pyav.py");
    let clip = make_clip(&clip_path);
    if let Err(e) = std::fs::write(&script, PYAV_SCRIPT) {
        eprintln!("media: {}: {e}; transcode row skipped", script.display());
        return Vec::new();
    }
    let python = match pyav_python() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("media: PyAV unavailable ({e}); transcode row skipped");
            return Vec::new();
        }
    };
    // A round gives each side this much CPU time; at most 7 rounds (each PyAV round starts
    // a Python process, whose start-up is not counted but takes wall time).
    let rounds = cfg.rounds.clamp(1, 7);
    let slice = (cfg.seconds_per_workload / (2 * rounds) as f64).max(0.5);
    let mut out = Vec::new();
    // Warm-up, not counted.
    transcode_pass(&clip, &mut out);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = process_cpu();
        let mut frames = 0;
        while (process_cpu() - start).as_secs_f64() < slice {
            frames += transcode_pass(&clip, &mut out).0;
        }
        ours.push(frames as f64 / (process_cpu() - start).as_secs_f64());
        match pyav_round(&python, &script, &clip_path, slice) {
            Ok(fps) => theirs.push(fps),
            Err(e) => {
                eprintln!("media: {e}; transcode row skipped");
                return Vec::new();
            }
        }
    }
    vec![Row {
        workload: format!(
            "VP8 decode -> no-op -> encode, {WIDTH}x{HEIGHT} clip of {CLIP_FRAMES} frames, \
             1 Mbit/s CBR realtime, 1 thread; frames per CPU-second (ours: Debian libvpx 1.12; \
             PyAV: its wheel's libvpx 1.16)"
        ),
        ours_name: "ferrtc-media",
        reference_name: "PyAV 18.1 (aiortc's codec layer)",
        ours_per_sec: median(&mut ours),
        reference_per_sec: median(&mut theirs),
        unit: Unit::Ops,
    }]
}

fn rgb_rows(cfg: &Config) -> Vec<Row> {
    let frame = synthetic_frame(3);
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    let rgb_stride = w * 3;
    let (range, matrix, mode) = (
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
        YuvConversionMode::Balanced,
    );
    let mut rows = Vec::new();

    let mut ours_out = vec![0u8; rgb_stride * h];
    let mut raw_out = vec![0u8; rgb_stride * h];
    rows.extend(compare(
        cfg,
        "I420 -> RGB24, 640x480 frame (into the caller's buffer)",
        Unit::Bytes((rgb_stride * h) as u64),
        Case::new("ferrtc-media VideoFrame::to_rgb", || {
            frame
                .to_rgb(RgbFormat::Rgb24, &mut ours_out, rgb_stride)
                .expect("conversion");
            std::hint::black_box(&ours_out);
        }),
        vec![Case::new("yuv 0.8 yuv420_to_rgb (raw)", || {
            let img = YuvPlanarImage {
                y_plane: frame.plane(0),
                y_stride: frame.stride(0) as u32,
                u_plane: frame.plane(1),
                u_stride: frame.stride(1) as u32,
                v_plane: frame.plane(2),
                v_stride: frame.stride(2) as u32,
                width: WIDTH,
                height: HEIGHT,
            };
            yuv::yuv420_to_rgb(&img, &mut raw_out, rgb_stride as u32, range, matrix)
                .expect("conversion");
            std::hint::black_box(&raw_out);
        })],
    ));
    assert_eq!(ours_out, raw_out, "both sides compute the same picture");

    let rgb = frame.to_rgb_vec(RgbFormat::Rgb24).expect("conversion");
    let pool = BufferPool::new(4);
    let (ys, cs) = (frame.stride(0), frame.stride(1));
    let mut planes = (
        vec![0u8; ys * h],
        vec![0u8; cs * h / 2],
        vec![0u8; cs * h / 2],
    );
    rows.extend(compare(
        cfg,
        "RGB24 -> I420, 640x480 frame (into a pooled frame)",
        Unit::Bytes((rgb_stride * h) as u64),
        Case::new("ferrtc-media VideoFrame::from_rgb", || {
            let f = VideoFrame::from_rgb(
                &rgb,
                rgb_stride,
                RgbFormat::Rgb24,
                WIDTH,
                HEIGHT,
                PixelFormat::I420,
                Some(&pool),
            )
            .expect("conversion");
            std::hint::black_box(&f);
        }),
        vec![Case::new("yuv 0.8 rgb_to_yuv420 (raw)", || {
            let mut img = YuvPlanarImageMut {
                y_plane: BufferStoreMut::Borrowed(&mut planes.0),
                y_stride: ys as u32,
                u_plane: BufferStoreMut::Borrowed(&mut planes.1),
                u_stride: cs as u32,
                v_plane: BufferStoreMut::Borrowed(&mut planes.2),
                v_stride: cs as u32,
                width: WIDTH,
                height: HEIGHT,
            };
            yuv::rgb_to_yuv420(&mut img, &rgb, rgb_stride as u32, range, matrix, mode)
                .expect("conversion");
            std::hint::black_box(&img.y_plane);
        })],
    ));
    rows
}
