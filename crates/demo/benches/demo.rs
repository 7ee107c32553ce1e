//! `cargo xtask bench demo`: the demo server beside aiortc's, on the same clip.
//!
//! A scripted sender (ferrtc's facade) streams one 640x480 VP8 clip at 30 frames per second
//! to each server with `video_transform: edges`, and counts the frames that come back
//! (decoding them, to check they are edges). Measured per server: the CPU seconds its
//! process used while the clip streamed (utime + stime from `/proc/PID/stat`, before the
//! first frame and after the last frame came back), the frames returned, frames per
//! CPU-second and the CPU use as a fraction of one core.
//!
//! - ferrtc: `ferrtc-demo` (decode, Canny on the luma plane, encode, in Rust);
//! - aiortc: `bench/aiortc_server.py`, aiortc's `examples/server` behaviour (each frame to
//!   BGR, `cv2.Canny(img, 100, 200)`, back to a frame), in the venv `interop/install.sh`
//!   makes (`interop/.venv`), into which this installs `opencv-python-headless` if missing.
//!
//! The clip is made and encoded once here (a moving pattern, a key frame every 2 s), so both
//! servers receive the same bytes. Everything runs inside a fresh loopback-only network
//! namespace (`unshare --net`), which this program enters by running itself again.
//!
//! ```sh
//! cargo bench -p ferrtc-demo --bench demo -- [--frames N] [--rounds R] [--out FILE]
//! ```

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrtc::net::HostAddresses;
use ferrtc::{
    ConnectionState, Description, Event, MediaKind, PeerConnection, SdpType, TransceiverInit,
};
use ferrtc_media::{
    PixelFormat, VideoDecoder, VideoEncoder, VideoEncoderConfig, VideoFrame, VpxDecoder, VpxEncoder,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// The clip's size and rate.
const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;
const FPS: u32 = 30;
/// The sender's bitrate (what a browser sends at 640x480).
const BITRATE_BPS: u32 = 1_500_000;
/// A key frame this often, so that a server that lost one recovers.
const KEY_FRAME_EVERY: usize = 60;
/// Set in the copy of this program that runs inside the namespace.
const INSIDE: &str = "FERRTC_DEMO_BENCH_NETNS";
/// How long the last frames may take to come back, at most.
const DRAIN: Duration = Duration::from_secs(5);
/// The last frame is in when none has come for this long.
const QUIET: Duration = Duration::from_millis(700);
/// Setting up a call (signalling, ICE, DTLS) must not take longer than this.
const CONNECT_DEADLINE: Duration = Duration::from_secs(30);

struct Options {
    frames: usize,
    rounds: usize,
    out: Option<PathBuf>,
}

fn parse_args() -> std::result::Result<Options, String> {
    let mut o = Options {
        frames: 300,
        rounds: 2,
        out: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut number = |what: &str| {
            args.next()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .ok_or(format!("{what} needs a positive number"))
        };
        match a.as_str() {
            "--frames" => o.frames = number("--frames")?,
            "--rounds" => o.rounds = number("--rounds")?,
            "--out" => o.out = Some(args.next().ok_or("--out needs a file")?.into()),
            // What `cargo bench` adds.
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("demo bench: {e}\nusage: demo [--frames N] [--rounds R] [--out FILE]");
            return ExitCode::from(2);
        }
    };
    let outcome = if std::env::var_os(INSIDE).is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(Into::into)
            .and_then(|rt| rt.block_on(measure(&options)))
    } else {
        prepare_python().and_then(|python| enter_namespace(&python))
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv with aiortc (made by `interop/install.sh` when missing) and OpenCV (installed
/// into it when missing); outside the namespace, where the package index is reachable.
fn prepare_python() -> Result<PathBuf> {
    let root = workspace_root();
    let venv = std::env::var_os("FERRTC_AIORTC_VENV")
        .map_or_else(|| root.join("interop/.venv"), PathBuf::from);
    let python = venv.join("bin/python");
    let imports = |modules: &str| {
        std::process::Command::new(&python)
            .args(["-c", &format!("import {modules}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !imports("aiortc, aiohttp") {
        eprintln!("demo bench: making the aiortc venv (interop/install.sh)");
        let status = std::process::Command::new("sh")
            .arg(root.join("interop/install.sh"))
            .env("VENV", &venv)
            .status()?;
        if !status.success() {
            return Err("interop/install.sh failed".into());
        }
    }
    if !imports("cv2") {
        eprintln!(
            "demo bench: installing opencv-python-headless into {}",
            venv.display()
        );
        let status = std::process::Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "-q",
                "--disable-pip-version-check",
                "opencv-python-headless",
            ])
            .status()?;
        if !status.success() || !imports("cv2") {
            return Err("opencv-python-headless did not install".into());
        }
    }
    Ok(python)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Runs this program again in a fresh network namespace holding only `lo`.
fn enter_namespace(python: &Path) -> Result {
    let me = std::env::current_exe()?;
    let mut c = std::process::Command::new("unshare");
    if !is_root() {
        c.args(["--user", "--map-root-user"]);
    }
    c.args(["--net", "--fork", "--kill-child=SIGKILL", "sh", "-c"])
        .arg(r#"ip link set lo up && exec "$@""#)
        .arg("sh")
        .arg(me)
        .args(std::env::args_os().skip(1))
        .env(INSIDE, "1")
        .env("FERRTC_AIORTC_PYTHON", python);
    let status = c.status()?;
    if !status.success() {
        return Err(format!("the run inside the namespace failed: {status}").into());
    }
    Ok(())
}

/// One encoded frame of the clip.
struct ClipFrame {
    data: Bytes,
}

/// The clip: a moving pattern (a gradient, bars and boxes) with edges to find, encoded
/// with VP8 as a browser would send it.
fn make_clip(frames: usize) -> Result<Vec<ClipFrame>> {
    let mut encoder = VpxEncoder::vp8(VideoEncoderConfig {
        width: WIDTH,
        height: HEIGHT,
        bitrate_bps: BITRATE_BPS,
        frame_rate: FPS,
    })?;
    let mut clip = Vec::with_capacity(frames);
    let mut out = Vec::new();
    for i in 0..frames {
        let frame = pattern(i)?;
        if i % KEY_FRAME_EVERY == 0 {
            encoder.request_key_frame();
        }
        out.clear();
        encoder.encode(&frame, &mut out)?;
        let mut data = Vec::new();
        for e in out.drain(..) {
            data.extend_from_slice(&e.data);
        }
        if data.is_empty() {
            return Err(format!("the encoder gave nothing for frame {i}").into());
        }
        clip.push(ClipFrame {
            data: Bytes::from(data),
        });
    }
    Ok(clip)
}

/// Frame `i` of the pattern, I420.
fn pattern(i: usize) -> Result<VideoFrame> {
    let mut frame = VideoFrame::new(PixelFormat::I420, WIDTH, HEIGHT)?;
    let t = i as i64;
    let (w, h) = (WIDTH as i64, HEIGHT as i64);
    let stride = frame.stride(0);
    {
        let y = frame.plane_mut(0);
        for row in 0..h {
            for col in 0..w {
                // A slow diagonal gradient under vertical bars that scroll, and three boxes
                // moving across.
                let mut v = 40 + (col + row + 2 * t) % 160;
                if ((col + 3 * t) / 40) % 4 == 0 {
                    v = 220;
                }
                for (k, size) in [(0i64, 90i64), (1, 60), (2, 120)] {
                    let x0 = (t * (4 + 3 * k) + 150 * k) % w;
                    let y0 = 60 + 130 * k;
                    if (x0..x0 + size).contains(&col) && (y0..y0 + size / 2).contains(&row) {
                        v = 30 + 60 * k;
                    }
                }
                y[row as usize * stride + col as usize] = v as u8;
            }
        }
    }
    for p in [1, 2] {
        let stride = frame.stride(p);
        let rows = frame.plane_rows(p);
        let plane = frame.plane_mut(p);
        for row in 0..rows {
            for col in 0..stride {
                plane[row * stride + col] = (96 + (col + row + p * 40 + i) % 64) as u8;
            }
        }
    }
    frame.pts = t * i64::from(90_000 / FPS);
    Ok(frame)
}

/// One server under test.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Server {
    Ferrtc,
    Aiortc,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Ferrtc => "ferrtc",
            Server::Aiortc => "aiortc",
        }
    }

    fn command(self) -> Result<tokio::process::Command> {
        Ok(match self {
            Server::Ferrtc => {
                let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferrtc-demo"));
                c.args(["--host", "127.0.0.1", "--port", "0"])
                    .env("RUST_LOG", "warn");
                c
            }
            Server::Aiortc => {
                let python = std::env::var_os("FERRTC_AIORTC_PYTHON")
                    .ok_or("FERRTC_AIORTC_PYTHON not set")?;
                let mut c = tokio::process::Command::new(python);
                c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/aiortc_server.py"))
                    .args(["--host", "127.0.0.1", "--port", "0"]);
                c
            }
        })
    }
}

/// What one run measured.
struct Run {
    sent: usize,
    returned: u64,
    decoded_dark: f64,
    cpu_seconds: f64,
    wall_seconds: f64,
}

impl Run {
    fn frames_per_cpu_second(&self) -> f64 {
        self.returned as f64 / self.cpu_seconds
    }

    fn cores(&self) -> f64 {
        self.cpu_seconds / self.wall_seconds
    }
}

/// The clock ticks per second of `/proc/PID/stat`'s times.
fn clock_ticks() -> Result<f64> {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()?;
    Ok(String::from_utf8(out.stdout)?.trim().parse()?)
}

/// utime + stime of a process (every thread), in ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').ok_or("bad /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 (proc(5)); `rest` starts at field 3.
    let utime: u64 = fields.get(11).ok_or("no utime")?.parse()?;
    let stime: u64 = fields.get(12).ok_or("no stime")?.parse()?;
    Ok(utime + stime)
}

async fn measure(options: &Options) -> Result {
    let ticks = clock_ticks()?;
    eprintln!(
        "demo bench: encoding the clip ({} frames of {WIDTH}x{HEIGHT})",
        options.frames
    );
    let clip = Arc::new(make_clip(options.frames)?);
    let mut runs: Vec<(Server, Run)> = Vec::new();
    for round in 0..options.rounds {
        // Alternate which goes first.
        let order = if round % 2 == 0 {
            [Server::Ferrtc, Server::Aiortc]
        } else {
            [Server::Aiortc, Server::Ferrtc]
        };
        for server in order {
            let run = run_one(server, &clip, ticks).await?;
            eprintln!(
                "demo bench: round {} {}: {} of {} frames back, {:.2} CPU s over {:.2} s \
                 ({:.2} core), {:.1} frames per CPU-second, returned frames {:.0}% dark",
                round + 1,
                server.name(),
                run.returned,
                run.sent,
                run.cpu_seconds,
                run.wall_seconds,
                run.cores(),
                run.frames_per_cpu_second(),
                run.decoded_dark * 100.0
            );
            runs.push((server, run));
        }
    }
    let report = report(options, &runs);
    print!("{report}");
    if let Some(f) = &options.out {
        std::fs::write(f, &report)?;
    }
    Ok(())
}

/// The median of what `f` says of `server`'s runs.
fn median_of(runs: &[(Server, Run)], server: Server, f: impl Fn(&Run) -> f64) -> f64 {
    let mut v: Vec<f64> = runs
        .iter()
        .filter(|(s, _)| *s == server)
        .map(|(_, r)| f(r))
        .collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The report's markdown section: workload, ferrtc, reference, its figure, ratio.
fn report(options: &Options, runs: &[(Server, Run)]) -> String {
    let m = |s, f: &dyn Fn(&Run) -> f64| median_of(runs, s, f);
    let fps_ours = m(Server::Ferrtc, &Run::frames_per_cpu_second);
    let fps_ref = m(Server::Aiortc, &Run::frames_per_cpu_second);
    let cores_ours = m(Server::Ferrtc, &Run::cores);
    let cores_ref = m(Server::Aiortc, &Run::cores);
    let back_ours = m(Server::Ferrtc, &|r| r.returned as f64);
    let back_ref = m(Server::Aiortc, &|r| r.returned as f64);
    let reference = "aiortc 1.16 demo server (OpenCV Canny)";
    let workload = format!(
        "{WIDTH}x{HEIGHT} VP8 at {FPS} fps, decode -> edges (Canny 100/200) -> encode, \
         {} frames from a scripted sender, median of {} runs",
        options.frames, options.rounds
    );
    format!(
        "\n## demo\n\n\
         | workload | ferrtc | reference | reference rate | ratio (ferrtc / reference) |\n\
         | --- | ---: | --- | ---: | ---: |\n\
         | {workload}: frames returned per CPU-second of the server process | {fps_ours:.1} /s | \
         {reference} | {fps_ref:.1} /s | {:.2}x |\n\
         | {workload}: server CPU while streaming, in cores (less is better) | {cores_ours:.2} core | \
         {reference} | {cores_ref:.2} core | {:.2}x |\n\
         | {workload}: frames returned | {back_ours:.0} | {reference} | {back_ref:.0} | {:.2}x |\n",
        fps_ours / fps_ref,
        cores_ref / cores_ours,
        back_ours / back_ref,
    )
}

/// Starts `server`, streams the clip to it and measures.
async fn run_one(server: Server, clip: &Arc<Vec<ClipFrame>>, ticks: f64) -> Result<Run> {
    let mut child = server
        .command()?
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or("server ended at once")?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let first = tokio::time::timeout(CONNECT_DEADLINE, lines.next_line())
        .await
        .map_err(|_| format!("{} did not start", server.name()))??
        .ok_or("server ended")?;
    let url = first
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("unexpected first line {first:?}"))?
        .to_owned();
    // Keep reading its stdout so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let result = tokio::time::timeout(
        CONNECT_DEADLINE + Duration::from_secs(clip.len() as u64 / u64::from(FPS)) + DRAIN * 2,
        stream(&url, pid, clip, ticks),
    )
    .await
    .map_err(|_| format!("{}: the run did not finish in time", server.name()))?;
    let _ = child.start_kill();
    let _ = child.wait().await;
    result
}

/// POSTs JSON over HTTP/1.1 and returns the response body.
async fn post_json(url: &str, body: &str) -> Result<String> {
    let authority = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs")?
        .trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    let request = format!(
        "POST /offer HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8(response)?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("bad HTTP response")?;
    if head.split(' ').nth(1) != Some("200") {
        return Err(format!("offer refused: {head} {body}").into());
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Err("chunked answer: not expected of either server".into());
    }
    Ok(body.to_owned())
}

/// The encoding name of the first payload type of the first video m-line.
fn first_video_codec(sdp: &str) -> Option<String> {
    let m = sdp.lines().find(|l| l.starts_with("m=video"))?;
    let pt = m.split_whitespace().nth(3)?;
    let prefix = format!("a=rtpmap:{pt} ");
    let rtpmap = sdp.lines().find_map(|l| l.strip_prefix(prefix.as_str()))?;
    Some(rtpmap.split('/').next()?.to_owned())
}

/// A call to the server at `url`: the clip out at 30 fps, the frames back counted.
async fn stream(url: &str, pid: u32, clip: &Arc<Vec<ClipFrame>>, ticks: f64) -> Result<Run> {
    let mut config = ferrtc::Configuration::new().with_host_addresses(HostAddresses::loopback());
    config.codec_preferences = vec!["VP8".into()];
    let pc = Arc::new(PeerConnection::new(config).await?);
    let video = pc
        .add_transceiver(MediaKind::Video, TransceiverInit::default())
        .await?;
    pc.set_receive_frames(video, true)?;
    pc.set_local_description(None).await?;
    pc.gathering_complete().await?;
    let offer = pc.local_description().ok_or("no offer")?;
    let body = serde_json::json!({
        "sdp": offer.sdp,
        "type": "offer",
        "video_transform": "edges",
    })
    .to_string();
    let reply: serde_json::Value = serde_json::from_str(&post_json(url, &body).await?)?;
    let sdp = reply["sdp"]
        .as_str()
        .ok_or("answer without sdp")?
        .to_owned();
    if first_video_codec(&sdp).is_none_or(|c| !c.eq_ignore_ascii_case("VP8")) {
        return Err(format!("the answer's video is not VP8: {sdp}").into());
    }
    pc.set_remote_description(Description {
        sdp_type: SdpType::Answer,
        sdp,
    })
    .await?;

    // Frames back: counted and decoded; the last decoded one's dark fraction kept.
    let returned = Arc::new(AtomicU64::new(0));
    let back = Arc::new(tokio::sync::Notify::new());
    let dark_permille = Arc::new(AtomicU64::new(0));
    let (connected_tx, connected_rx) = tokio::sync::oneshot::channel::<()>();
    let events = {
        let pc = Arc::clone(&pc);
        let returned = Arc::clone(&returned);
        let back = Arc::clone(&back);
        let dark_permille = Arc::clone(&dark_permille);
        tokio::spawn(async move {
            let mut connected = Some(connected_tx);
            let mut decoder = VpxDecoder::vp8().ok();
            while let Some(event) = pc.next_event().await {
                match event {
                    Event::ConnectionStateChange(ConnectionState::Connected, _) => {
                        if let Some(tx) = connected.take() {
                            let _ = tx.send(());
                        }
                    }
                    Event::ConnectionStateChange(
                        ConnectionState::Failed | ConnectionState::Closed,
                        _,
                    ) => break,
                    Event::Frame { frame, .. } => {
                        returned.fetch_add(1, Ordering::Relaxed);
                        back.notify_one();
                        let decoded = decoder
                            .as_mut()
                            .and_then(|d| d.decode(&frame.data, 0).ok().flatten());
                        if let Some(f) = decoded {
                            dark_permille.store(dark_fraction(&f), Ordering::Relaxed);
                        }
                    }
                    _ => {}
                }
            }
        })
    };
    tokio::time::timeout(CONNECT_DEADLINE, connected_rx)
        .await
        .map_err(|_| "not connected in time")?
        .map_err(|_| "the connection ended before it was up")?;

    let cpu_before = cpu_ticks(pid)?;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / FPS);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for (i, frame) in clip.iter().enumerate() {
        tick.tick().await;
        let ts = (i as u32).wrapping_mul(90_000 / FPS);
        pc.write_frame(video, frame.data.clone(), ts)?;
    }
    // The last frames come back: until none has come for QUIET, at most DRAIN.
    let sent_all = Instant::now();
    let mut ended = sent_all;
    while sent_all.elapsed() < DRAIN {
        match tokio::time::timeout(QUIET, back.notified()).await {
            Ok(()) => ended = Instant::now(),
            Err(_) => break,
        }
    }
    let cpu_after = cpu_ticks(pid)?;
    let last = returned.load(Ordering::Relaxed);
    pc.close().await;
    events.abort();
    Ok(Run {
        sent: clip.len(),
        returned: last,
        decoded_dark: dark_permille.load(Ordering::Relaxed) as f64 / 1000.0,
        cpu_seconds: (cpu_after - cpu_before) as f64 / ticks,
        wall_seconds: ended.duration_since(started).as_secs_f64(),
    })
}

/// Per mille of a frame's luma below 48.
fn dark_fraction(frame: &VideoFrame) -> u64 {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let stride = frame.stride(0);
    let y = frame.plane(0);
    let dark = (0..h)
        .flat_map(|r| &y[r * stride..r * stride + w])
        .filter(|v| **v < 48)
        .count();
    (dark * 1000 / (w * h).max(1)) as u64
}
