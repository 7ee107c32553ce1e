//! The facade group: ferrtc's async `PeerConnection` (the `ferrtc` crate, on tokio, real UDP
//! sockets on 127.0.0.1) beside webrtc-rs (the `webrtc` crate, [`crate::wrs`]) on the same
//! runtime, and beside plain UDP on the same loopback.
//!
//! Both stacks run on one 2-worker multi-thread tokio runtime ([`runtime`]); every
//! connection pair is two peer connections in this process, SDP exchanged as text with the
//! candidates inside (no trickle), one data channel opened by the offerer.
//!
//! - goodput: one reliable ordered channel, the offerer sends 64 KiB (65,536-byte) binary
//!   messages, the answerer reads them; a batch is [`GOODPUT_BATCH`] messages sent back to
//!   back and counts when the last byte has been read. ferrtc's `DataChannel::send` waits by
//!   itself while more than 1 MiB is buffered; the webrtc-rs sender waits for the
//!   buffered-amount-low event at the same 1 MiB, and reads detached (see [`crate::wrs`]).
//!   The ceiling is plain UDP on the same loopback ([`UdpBlast`]): 1200-byte datagrams (the
//!   size ferrtc's SCTP packets are cut to) from one thread to another, at most
//!   [`BLAST_WINDOW`] bytes unread at a time so the receiver's socket buffer never drops.
//! - set-up: two peer connections built (not timed; each makes its DTLS certificate), then
//!   timed from `create_data_channel` through offer, answer and ICE, DTLS, SCTP to the channel
//!   open at both ends; the median of [`SETUP_RUNS`] runs per stack, interleaved.
//! - memory: live heap bytes per idle connection with one open data channel, counted by the
//!   byte-counting allocator ([`crate::alloc::live_bytes_per_connection`]): tasks, queues,
//!   buffers and the protocol state, not kernel socket memory.
//! - a ping beside a bulk transfer: one channel sends [`BULK_MESSAGE`]-byte messages back to
//!   back while a second channel carries 4-byte pings every [`PING_GAP`], echoed by the
//!   answerer; the median round trip of [`PINGS`] pings, with user message interleaving (RFC
//!   8260 I-DATA) on both ends against plain DATA, where a ping waits behind the message
//!   being sent ([`ping_beside_bulk`]).
//! - resident memory: the measure, RSS growth over [`FERRTC_CONNECTIONS`] idle
//!   connections divided by their number, taken in a fresh child process per stack
//!   ([`rss_child`]) so that memory freed by earlier workloads cannot hide the growth.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrtc::net::HostAddresses;
use ferrtc::{Configuration, DataChannel, DataChannelInit, Event, PeerConnection, StatsValue};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use crate::wrs::{self, WEBRTC_RS};
use crate::{BatchCase, Config, Row, Unit, compare_batched, median};

/// The message size of the goodput row.
pub const MESSAGE: usize = 64 * 1024;
/// Messages per timed goodput batch (2 MiB).
pub const GOODPUT_BATCH: usize = 32;
/// The datagram size of the plain UDP ceiling.
pub const BLAST_DATAGRAM: usize = 1200;
/// Bytes the UDP ceiling's sender lets be sent and not yet read.
pub const BLAST_WINDOW: u64 = 64 * 1024;
/// Set-ups timed per stack.
pub const SETUP_RUNS: usize = 15;
/// ferrtc facade connections held for the memory row (as pairs: 500 pairs).
pub const FERRTC_CONNECTIONS: usize = 1000;
/// webrtc-rs connections held for the memory row (fewer: each takes real time to connect).
pub const WRS_CONNECTIONS: usize = 50;
/// Real time the connections stay idle before memory is read.
pub const IDLE: Duration = Duration::from_secs(5);

/// The environment variable under which the report binary runs as a resident-memory child
/// ([`rss_child`]); its value names the stack (`ferrtc` or `webrtc-rs`).
pub const RSS_CHILD_ENV: &str = "FERRTC_BENCH_FACADE_RSS_CHILD";

/// The aiortc the aiortc rows install into `target/bench-aiortc-venv`.
pub const AIORTC: &str = "aiortc==1.16.0";
/// The aiortc rows' reference name.
const AIORTC_NAME: &str = "aiortc 1.16 (aiortc to aiortc, `interop/bench_aiortc.py`, own process)";
/// aiortc set-ups timed (as [`SETUP_RUNS`] for the two Rust stacks).
const AIORTC_CONNECTS: usize = SETUP_RUNS;
/// MiB aiortc sends for its goodput figure (at its 5-20 Mbit/s, a few seconds).
const AIORTC_MIB: usize = 8;

/// The bulk channel's message size in the ping-beside-bulk row (what the `dc-interleave`
/// interop case echoes).
pub const BULK_MESSAGE: usize = 8 * 1024 * 1024;
/// Pings timed in the ping-beside-bulk row.
pub const PINGS: usize = 100;
/// The gap between two pings.
pub const PING_GAP: Duration = Duration::from_millis(10);

/// How long one ferrtc step may take before the bench gives up.
const DEADLINE: Duration = Duration::from_secs(30);

/// The runtime every async case runs on: multi-thread, 2 workers (the machine's cores).
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("ferrtc: {what} within {DEADLINE:?}"),
    }
}

// ----- ferrtc -----

fn config() -> Configuration {
    Configuration::new().with_host_addresses(HostAddresses::loopback())
}

/// Two ferrtc facade peer connections, built and not negotiated.
pub struct FerrtcPeers {
    a: PeerConnection,
    b: PeerConnection,
}

/// Builds two ferrtc peer connections on 127.0.0.1 (each binds its socket and makes its
/// certificate).
pub async fn ferrtc_peers() -> FerrtcPeers {
    ferrtc_peers_with(config).await
}

/// [`ferrtc_peers`] with each end's configuration from `config`.
async fn ferrtc_peers_with(config: impl Fn() -> Configuration) -> FerrtcPeers {
    FerrtcPeers {
        a: PeerConnection::new(config())
            .await
            .expect("ferrtc PeerConnection::new"),
        b: PeerConnection::new(config())
            .await
            .expect("ferrtc PeerConnection::new"),
    }
}

/// The ping-beside-bulk workload once: two ferrtc peers with interleaving on or off at both
/// ends and a largest message of twice `bulk`; the pair's channel sends `bulk`-byte messages
/// back to back, a second channel (opened after the first, over the same association)
/// carries `pings` 4-byte pings [`PING_GAP`] apart, each echoed by the answerer and awaited
/// before the next. Returns the median round trip in seconds. Panics if the association
/// did not negotiate what was asked.
pub async fn ping_beside_bulk(interleaving: bool, bulk: usize, pings: usize) -> f64 {
    let largest = u64::try_from(bulk * 2).unwrap_or(u64::MAX);
    let pair = ferrtc_peers_with(|| {
        let mut c = config();
        c.data_channels = ferrtc::DataChannelSettings {
            max_message_size: largest,
            interleaving,
        };
        c
    })
    .await
    .connect()
    .await;
    let stats = pair.a.stats().await.expect("ferrtc stats");
    assert_eq!(
        stats.get("T").and_then(|t| t.get("sctpInterleaving")),
        Some(&StatsValue::Bool(interleaving)),
        "interleaving as asked"
    );
    let ping = pair
        .a
        .create_data_channel("ping", DataChannelInit::default())
        .await
        .expect("ferrtc create_data_channel");
    let echo = next_channel(&pair.b).await;
    within("ping channel open", ping.opened())
        .await
        .expect("ferrtc channel open");
    tokio::spawn(async move {
        while let Some(m) = echo.recv().await {
            if echo.send(m.data).await.is_err() {
                break;
            }
        }
    });
    let sink = pair.db.clone();
    tokio::spawn(async move { while sink.recv().await.is_some() {} });
    let stop = Arc::new(AtomicBool::new(false));
    let (source, halt) = (pair.da.clone(), Arc::clone(&stop));
    let message = Bytes::from(vec![0x5au8; bulk]);
    let sender = tokio::spawn(async move {
        while !halt.load(Ordering::Acquire) {
            if source.send(message.clone()).await.is_err() {
                break;
            }
        }
    });
    // The bulk channel under way before the first ping.
    tokio::time::sleep(PING_GAP).await;
    let mut rtts = Vec::with_capacity(pings);
    for i in (0u32..).take(pings) {
        let tag = Bytes::copy_from_slice(&i.to_be_bytes());
        let start = Instant::now();
        ping.send(tag.clone()).await.expect("ferrtc ping send");
        let back = within("a pong", ping.recv())
            .await
            .expect("ferrtc: ping channel ended");
        assert_eq!(back.data, tag, "pongs come back in order");
        rtts.push(start.elapsed().as_secs_f64());
        tokio::time::sleep(PING_GAP).await;
    }
    stop.store(true, Ordering::Release);
    let _ = within("the bulk sender", sender).await;
    pair.close().await;
    median(&mut rtts)
}

/// The next data channel `pc`'s peer opens.
async fn next_channel(pc: &PeerConnection) -> DataChannel {
    within("the peer's channel", async {
        loop {
            match pc.next_event().await {
                Some(Event::DataChannel(dc)) => return dc,
                Some(_) => {}
                None => panic!("ferrtc: connection ended before its channel came"),
            }
        }
    })
    .await
}

/// Two connected ferrtc facade peer connections with one open channel.
pub struct FerrtcPair {
    /// The offerer.
    pub a: PeerConnection,
    /// The answerer.
    pub b: PeerConnection,
    /// The offerer's end of the channel.
    pub da: DataChannel,
    /// The answerer's end of the channel.
    pub db: DataChannel,
}

impl FerrtcPeers {
    /// `a` creates a reliable ordered channel and offers, `b` answers; returns once the
    /// channel is open at both ends.
    pub async fn connect(self) -> FerrtcPair {
        let FerrtcPeers { a, b } = self;
        let da = a
            .create_data_channel("bench", DataChannelInit::default())
            .await
            .expect("ferrtc create_data_channel");
        a.set_local_description(None).await.expect("ferrtc offer");
        within("gathering", a.gathering_complete())
            .await
            .expect("ferrtc gathering");
        b.set_remote_description(a.local_description().expect("offer"))
            .await
            .expect("ferrtc set_remote_description (offer)");
        b.set_local_description(None).await.expect("ferrtc answer");
        within("gathering", b.gathering_complete())
            .await
            .expect("ferrtc gathering");
        a.set_remote_description(b.local_description().expect("answer"))
            .await
            .expect("ferrtc set_remote_description (answer)");
        let db = next_channel(&b).await;
        within("channel open", da.opened())
            .await
            .expect("ferrtc channel open");
        within("channel open", db.opened())
            .await
            .expect("ferrtc channel open");
        FerrtcPair { a, b, da, db }
    }
}

impl FerrtcPair {
    /// Two ferrtc facade peer connections connected with one open channel.
    pub async fn new() -> FerrtcPair {
        ferrtc_peers().await.connect().await
    }

    /// Closes both ends.
    pub async fn close(self) {
        self.a.close().await;
        self.b.close().await;
    }
}

/// A goodput sender and counting reader over one ferrtc channel.
pub struct FerrtcGoodput {
    pair: FerrtcPair,
    received: Arc<AtomicU64>,
    arrived: Arc<Notify>,
    sent: u64,
}

impl FerrtcGoodput {
    /// Connects a pair and starts the reader task.
    pub async fn new() -> FerrtcGoodput {
        let pair = FerrtcPair::new().await;
        let received = Arc::new(AtomicU64::new(0));
        let arrived = Arc::new(Notify::new());
        let (db, r, n) = (pair.db.clone(), Arc::clone(&received), Arc::clone(&arrived));
        tokio::spawn(async move {
            while let Some(m) = db.recv().await {
                r.fetch_add(m.data.len() as u64, Ordering::AcqRel);
                n.notify_waiters();
            }
        });
        FerrtcGoodput {
            pair,
            received,
            arrived,
            sent: 0,
        }
    }

    /// Sends `n` messages of `message` and waits until the reader has all of them; returns
    /// the payload bytes moved.
    pub async fn batch(&mut self, message: &Bytes, n: usize) -> u64 {
        for _ in 0..n {
            self.pair
                .da
                .send(message.clone())
                .await
                .expect("ferrtc send");
        }
        let moved = (n * message.len()) as u64;
        self.sent += moved;
        let target = self.sent;
        within("the batch read", async {
            loop {
                let arrived = self.arrived.notified();
                tokio::pin!(arrived);
                arrived.as_mut().enable();
                if self.received.load(Ordering::Acquire) >= target {
                    return;
                }
                arrived.await;
            }
        })
        .await;
        moved
    }
}

/// A goodput sender and counting reader over one webrtc-rs channel (detached).
pub struct WrsGoodput {
    pair: wrs::Pair,
    sent: u64,
}

impl WrsGoodput {
    /// Connects a pair (data channels detached) and starts the reader task.
    pub async fn new() -> WrsGoodput {
        let api = wrs::api(true);
        let pair = wrs::Pair::new(&api).await;
        pair.db.read_detached().await;
        pair.da.arm_back_pressure().await;
        WrsGoodput { pair, sent: 0 }
    }

    /// As [`FerrtcGoodput::batch`].
    pub async fn batch(&mut self, message: &Bytes, n: usize) -> u64 {
        for _ in 0..n {
            self.pair.da.send(message).await;
        }
        let moved = (n * message.len()) as u64;
        self.sent += moved;
        tokio::time::timeout(wrs::DEADLINE, self.pair.db.received_at_least(self.sent))
            .await
            .expect("webrtc-rs: the batch read within the deadline");
        moved
    }
}

// ----- the plain UDP ceiling -----

/// Plain UDP on 127.0.0.1 from this thread to a reader thread: the ceiling for any
/// transport over the same loopback.
pub struct UdpBlast {
    tx: UdpSocket,
    sent: u64,
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
    datagram: Vec<u8>,
}

impl UdpBlast {
    /// Binds both sockets and starts the reader thread.
    pub fn new() -> UdpBlast {
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let tx = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        tx.connect(rx.local_addr().expect("local address"))
            .expect("connect");
        rx.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (Arc::clone(&received), Arc::clone(&stop));
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0u8; 2048];
            while !s.load(Ordering::Acquire) {
                if let Ok(n) = rx.recv(&mut buf) {
                    r.fetch_add(n as u64, Ordering::AcqRel);
                }
            }
        });
        UdpBlast {
            tx,
            sent: 0,
            received,
            stop,
            reader: Some(reader),
            datagram: vec![0x5a; BLAST_DATAGRAM],
        }
    }

    /// Sends `bytes` (rounded up to whole datagrams) with at most [`BLAST_WINDOW`] unread,
    /// and waits until the reader has them; returns the bytes that arrived (a datagram the
    /// kernel dropped anyway is not counted, and the wait for it ends after 50 ms without
    /// progress).
    pub fn batch(&mut self, bytes: u64) -> u64 {
        let start = self.received.load(Ordering::Acquire);
        let end = self.sent + bytes;
        while self.sent < end {
            while self.sent - self.received.load(Ordering::Acquire) > BLAST_WINDOW {
                std::hint::spin_loop();
            }
            if self.tx.send(&self.datagram).is_ok() {
                self.sent += BLAST_DATAGRAM as u64;
            }
        }
        let mut last = (self.received.load(Ordering::Acquire), Instant::now());
        loop {
            let now = self.received.load(Ordering::Acquire);
            if now >= self.sent {
                break;
            }
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > Duration::from_millis(50) {
                // Lost on the way: count only what arrived, and stop waiting for the rest.
                self.sent = now;
                break;
            }
            std::thread::yield_now();
        }
        self.received.load(Ordering::Acquire) - start
    }
}

impl Default for UdpBlast {
    fn default() -> Self {
        UdpBlast::new()
    }
}

impl Drop for UdpBlast {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

// ----- resident memory -----

/// This process's resident set size in bytes (`VmRSS` of `/proc/self/status`), if readable.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The child side of the resident-memory row, run in a fresh process by the report binary
/// when [`RSS_CHILD_ENV`] is set: connects one warm-up pair and closes it, takes the RSS,
/// connects [`FERRTC_CONNECTIONS`] (ferrtc) or [`WRS_CONNECTIONS`] (webrtc-rs) connections as
/// pairs with one open channel each, lets them idle for [`IDLE`], takes the RSS again and
/// prints `rss-per-connection BYTES` on stdout. Returns false for an unknown stack.
pub fn rss_child(stack: &str) -> bool {
    let rt = runtime();
    let (growth, connections) = match stack {
        "ferrtc" => (
            rss_growth(
                &rt,
                FERRTC_CONNECTIONS / 2,
                FerrtcPair::new,
                FerrtcPair::close,
            ),
            FERRTC_CONNECTIONS,
        ),
        "webrtc-rs" => {
            let api = wrs::api(false);
            let growth = rss_growth(
                &rt,
                WRS_CONNECTIONS / 2,
                || wrs::Pair::new(&api),
                wrs::Pair::close,
            );
            (growth, WRS_CONNECTIONS)
        }
        _ => return false,
    };
    println!("rss-per-connection {}", growth as f64 / connections as f64);
    true
}

/// RSS growth in bytes while `pairs` connected pairs are held idle for [`IDLE`].
fn rss_growth<P, C, CF, D, DF>(rt: &Runtime, pairs: usize, mut connect: C, mut close: D) -> i64
where
    C: FnMut() -> CF,
    CF: std::future::Future<Output = P>,
    D: FnMut(P) -> DF,
    DF: std::future::Future<Output = ()>,
{
    rt.block_on(async {
        let warm = connect().await;
        close(warm).await;
        // Let the warm-up pair's tasks wind down before the baseline.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = resident_bytes().expect("/proc/self/status VmRSS");
        let mut held = Vec::with_capacity(pairs);
        for _ in 0..pairs {
            held.push(connect().await);
        }
        tokio::time::sleep(IDLE).await;
        let after = resident_bytes().expect("/proc/self/status VmRSS");
        for p in held {
            close(p).await;
        }
        after as i64 - before as i64
    })
}

/// Runs this executable again as a resident-memory child for `stack` and returns its figure
/// (bytes per connection), or `None` if the child failed.
fn rss_per_connection(stack: &str) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .env(RSS_CHILD_ENV, stack)
        .stderr(std::process::Stdio::inherit())
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "facade: the {stack} resident-memory child failed: {}",
            out.status
        );
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("rss-per-connection ")?.trim().parse().ok())
}

// ----- aiortc -----

/// aiortc to aiortc on the same workloads, from `interop/bench_aiortc.py` run in its own
/// process (two aiortc peer connections in one asyncio loop, 127.0.0.1 only).
struct AiortcFigures {
    /// Median seconds from `createOffer` to the offerer's channel open.
    connect_seconds: f64,
    /// Payload bytes per second, 64 KiB reliable ordered messages.
    goodput: f64,
}

/// Installs aiortc into `target/bench-aiortc-venv` if needed, runs the script and reads the
/// JSON object it prints on its last line.
fn aiortc_figures() -> Result<AiortcFigures, String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("benches lives in the workspace")?
        .to_path_buf();
    let python = crate::python_venv(&root.join("target/bench-aiortc-venv"), AIORTC)?;
    let out = std::process::Command::new(python)
        .arg(root.join("interop/bench_aiortc.py"))
        .args(["--connects", &AIORTC_CONNECTS.to_string()])
        .args(["--mib", &AIORTC_MIB.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("bench_aiortc.py failed ({}): {text}", out.status));
    }
    let last = text.lines().last().unwrap_or_default();
    let number_after = |key: &str| -> Option<f64> {
        let rest = &last[last.find(key)? + key.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))
            .unwrap_or(rest.len());
        rest[..end].trim().parse().ok()
    };
    match (
        number_after("\"median\": "),
        number_after("\"goodput_mbit_s\": "),
    ) {
        (Some(ms), Some(mbit)) if ms > 0.0 && mbit > 0.0 => Ok(AiortcFigures {
            connect_seconds: ms / 1e3,
            goodput: mbit * 1e6 / 8.0,
        }),
        _ => Err(format!("unexpected bench_aiortc.py output: {last}")),
    }
}

// ----- set-up latency -----

/// Seconds from `create_data_channel` to the channel open at both ends, ferrtc facade
/// (the two peer connections are built first, not timed).
pub fn ferrtc_setup(rt: &Runtime) -> f64 {
    let peers = rt.block_on(ferrtc_peers());
    let start = Instant::now();
    let pair = rt.block_on(peers.connect());
    let took = start.elapsed().as_secs_f64();
    rt.block_on(pair.close());
    took
}

/// As [`ferrtc_setup`], webrtc-rs.
pub fn wrs_setup(rt: &Runtime, api: &webrtc::api::API) -> f64 {
    let peers = rt.block_on(wrs::peers(api));
    let start = Instant::now();
    let pair = rt.block_on(peers.connect("bench"));
    let took = start.elapsed().as_secs_f64();
    rt.block_on(pair.close());
    took
}

/// The group's rows.
pub fn rows(cfg: &Config) -> Vec<Row> {
    let rt = runtime();
    let mut rows = Vec::new();
    let message = Bytes::from(vec![0xa5u8; MESSAGE]);
    let batch_bytes = (GOODPUT_BATCH * MESSAGE) as u64;

    // (a) goodput.
    {
        let ferrtc = std::cell::RefCell::new(rt.block_on(FerrtcGoodput::new()));
        let webrtc_rs = std::cell::RefCell::new(rt.block_on(WrsGoodput::new()));
        let mut blast = UdpBlast::new();
        rows.extend(compare_batched(
            cfg,
            "data channel goodput over 127.0.0.1 UDP, reliable ordered, 64 KiB messages, \
             one channel, both ends in one process",
            Unit::Bytes(1),
            BatchCase::new(
                "ferrtc",
                || {},
                || rt.block_on(ferrtc.borrow_mut().batch(&message, GOODPUT_BATCH)),
            ),
            vec![
                BatchCase::new(
                    "plain UDP, 1200-byte datagrams, 64 KiB window (ceiling)",
                    || {},
                    || blast.batch(batch_bytes),
                ),
                BatchCase::new(
                    WEBRTC_RS,
                    || {},
                    || rt.block_on(webrtc_rs.borrow_mut().batch(&message, GOODPUT_BATCH)),
                ),
            ],
        ));
        rt.block_on(ferrtc.into_inner().pair.close());
        rt.block_on(webrtc_rs.into_inner().pair.close());
    }
    let aiortc = aiortc_figures()
        .map_err(|e| eprintln!("facade: aiortc rows left out: {e}"))
        .ok();
    if let (Some(a), Some(ours)) = (&aiortc, rows.first().map(|r| r.ours_per_sec)) {
        rows.push(Row {
            workload: rows[0].workload.clone(),
            ours_name: "ferrtc",
            reference_name: AIORTC_NAME,
            ours_per_sec: ours,
            reference_per_sec: a.goodput,
            unit: Unit::Bytes(1),
        });
    }

    // (b) set-up latency, interleaved, median.
    {
        let api = wrs::api(false);
        // One warm-up each, not counted.
        ferrtc_setup(&rt);
        wrs_setup(&rt, &api);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for i in 0..SETUP_RUNS {
            if i % 2 == 0 {
                ours.push(ferrtc_setup(&rt));
                theirs.push(wrs_setup(&rt, &api));
            } else {
                theirs.push(wrs_setup(&rt, &api));
                ours.push(ferrtc_setup(&rt));
            }
        }
        rows.push(Row {
            workload: format!(
                "offer to data channel open on 127.0.0.1 UDP: create_data_channel, offer, \
                 answer (candidates inside, gathering waited for), ICE, DTLS, SCTP, open at \
                 both ends; peer connections built beforehand; median of {SETUP_RUNS}"
            ),
            ours_name: "ferrtc",
            reference_name: WEBRTC_RS,
            ours_per_sec: median(&mut ours),
            reference_per_sec: median(&mut theirs),
            unit: Unit::Seconds,
        });
        if let Some(a) = &aiortc {
            let ours = rows.last().map(|r| (r.workload.clone(), r.ours_per_sec));
            if let Some((workload, ours)) = ours {
                rows.push(Row {
                    workload,
                    ours_name: "ferrtc",
                    reference_name: AIORTC_NAME,
                    ours_per_sec: ours,
                    reference_per_sec: a.connect_seconds,
                    unit: Unit::Seconds,
                });
            }
        }
    }

    // (b2) a small message's round trip beside a bulk transfer, I-DATA against DATA.
    {
        let with = rt.block_on(ping_beside_bulk(true, BULK_MESSAGE, PINGS));
        let without = rt.block_on(ping_beside_bulk(false, BULK_MESSAGE, PINGS));
        rows.push(Row {
            workload: format!(
                "round trip of a 4-byte ping on one channel while another sends {} MiB \
                 messages back to back, ferrtc to ferrtc over 127.0.0.1 UDP, median of \
                 {PINGS}: user message interleaving (I-DATA) on at both ends against off (DATA)",
                BULK_MESSAGE >> 20
            ),
            ours_name: "ferrtc, I-DATA",
            reference_name: "ferrtc, DATA",
            ours_per_sec: with,
            reference_per_sec: without,
            unit: Unit::Seconds,
        });
    }

    // (c) memory per idle connection.
    {
        let ours = crate::alloc::live_bytes_per_connection(
            &rt,
            FERRTC_CONNECTIONS / 2,
            2,
            IDLE,
            FerrtcPair::new,
            FerrtcPair::close,
        );
        let api = wrs::api(false);
        let theirs = crate::alloc::live_bytes_per_connection(
            &rt,
            WRS_CONNECTIONS / 2,
            2,
            IDLE,
            || wrs::Pair::new(&api),
            wrs::Pair::close,
        );
        if let (Some(ours), Some(theirs)) = (ours, theirs) {
            rows.push(Row {
                workload: format!(
                    "memory per idle connection, one open data channel, whole stack on tokio \
                     over 127.0.0.1 UDP: live heap bytes (counting allocator; tasks, queues, \
                     buffers, protocol state; not kernel socket memory) / connections; \
                     ferrtc {FERRTC_CONNECTIONS} connections, webrtc-rs {WRS_CONNECTIONS}; \
                     {} s idle",
                    IDLE.as_secs()
                ),
                ours_name: "ferrtc",
                reference_name: WEBRTC_RS,
                ours_per_sec: ours,
                reference_per_sec: theirs,
                unit: Unit::Memory,
            });
        } else {
            eprintln!("facade: memory row left out (the byte-counting allocator is not installed)");
        }
    }

    // (d) resident memory per idle connection, each stack in a fresh child process.
    if let (Some(ours), Some(theirs)) = (
        rss_per_connection("ferrtc"),
        rss_per_connection("webrtc-rs"),
    ) {
        rows.push(Row {
            workload: format!(
                "memory per idle connection, one open data channel, whole stack on tokio over \
                 127.0.0.1 UDP: RSS growth / connections, each stack in a fresh process \
                 (warm-up pair first); ferrtc {FERRTC_CONNECTIONS} connections, webrtc-rs \
                 {WRS_CONNECTIONS}; {} s idle",
                IDLE.as_secs()
            ),
            ours_name: "ferrtc",
            reference_name: WEBRTC_RS,
            ours_per_sec: ours,
            reference_per_sec: theirs,
            unit: Unit::Memory,
        });
    } else {
        eprintln!("facade: resident-memory row left out (a child process failed)");
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_beside_bulk_times_echoed_pings_with_and_without_interleaving() {
        let rt = runtime();
        for interleaving in [true, false] {
            let rtt = rt.block_on(ping_beside_bulk(interleaving, 256 * 1024, 5));
            assert!(rtt > 0.0 && rtt < DEADLINE.as_secs_f64(), "{rtt}");
        }
    }

    #[test]
    fn every_case_moves_what_it_says() {
        let rt = runtime();
        let message = Bytes::from(vec![1u8; MESSAGE]);
        let mut f = rt.block_on(FerrtcGoodput::new());
        assert_eq!(rt.block_on(f.batch(&message, 4)), 4 * MESSAGE as u64);
        assert_eq!(f.received.load(Ordering::Acquire), 4 * MESSAGE as u64);
        rt.block_on(f.pair.close());

        let mut w = rt.block_on(WrsGoodput::new());
        assert_eq!(rt.block_on(w.batch(&message, 4)), 4 * MESSAGE as u64);
        assert_eq!(
            w.pair.db.received.load(Ordering::Acquire),
            4 * MESSAGE as u64
        );
        rt.block_on(w.pair.close());

        let mut blast = UdpBlast::new();
        let got = blast.batch(100 * BLAST_DATAGRAM as u64);
        assert!(got > 0 && got <= 100 * BLAST_DATAGRAM as u64, "{got}");
    }

    #[test]
    fn both_stacks_time_a_set_up() {
        let rt = runtime();
        assert!(ferrtc_setup(&rt) > 0.0);
        let api = wrs::api(false);
        assert!(wrs_setup(&rt, &api) > 0.0);
    }
}
