//! The SCTP data path allocates nothing per packet in steady state: sending, bundling,
//! acknowledging and delivering unfragmented messages. A fragmented message costs one
//! allocation at the receiver (its contiguous buffer), not one per packet.
//!
//! Only allocations made inside the associations' methods are counted. Between them, the test
//! plays the DTLS layer: it copies each packet into a buffer of its own (as decryption would),
//! so the association's transmit buffer is free again, as it is in a real stack.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrtc_sctp_datachannel::{Association, Config, Event, SendOptions};
use rand::SeedableRng;

const A: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1);
const B: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2);

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);

/// Runs `f` with allocation counting on.
fn counted<T>(f: impl FnOnce() -> T) -> T {
    COUNTING.store(true, Ordering::SeqCst);
    let r = f();
    COUNTING.store(false, Ordering::SeqCst);
    r
}

/// The "DTLS layer": decrypts (here: copies) each packet into its own receive buffer and
/// hands the receiver a frozen slice of it, as a real DTLS layer does (not counted).
fn wire(pool: &mut BytesMut, p: Bytes) -> Bytes {
    if pool.capacity() < p.len() {
        pool.reserve(64 * 1024);
    }
    pool.extend_from_slice(&p);
    pool.split().freeze()
}

// Test-only allocator that counts calls and defers to the system allocator.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::SeqCst) {
            ALLOCS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: forwards the caller's layout to the system allocator.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from `System.alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if COUNTING.load(Ordering::SeqCst) {
            ALLOCS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: `p` came from `System.alloc` with layout `l`.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Pair {
    a: Association,
    b: Association,
    now: Instant,
    delivered: usize,
    packets: usize,
    pool: BytesMut,
}

impl Pair {
    fn pump(&mut self) {
        let now = self.now;
        loop {
            let mut moved = false;
            // The contract: transmits until `None`, then events.
            while let Some(t) = counted(|| self.a.poll_transmit(now)) {
                self.packets += 1;
                let p = wire(&mut self.pool, t.contents);
                let _ = counted(|| self.b.handle_receive(now, A, p));
                moved = true;
            }
            while let Some(t) = counted(|| self.b.poll_transmit(now)) {
                self.packets += 1;
                let p = wire(&mut self.pool, t.contents);
                let _ = counted(|| self.a.handle_receive(now, B, p));
                moved = true;
            }
            while let Some(e) = counted(|| self.b.poll_event()) {
                if let Event::Message(m) = e {
                    assert!(!m.data.is_empty());
                    self.delivered += 1;
                }
            }
            while counted(|| self.a.poll_event()).is_some() {}
            if !moved {
                break;
            }
        }
    }

    fn run(&mut self, msg: &Bytes, count: usize) {
        let want = self.delivered + count;
        let mut sent = 0;
        while self.delivered < want {
            while sent < count
                && counted(|| {
                    self.a
                        .send(self.now, 1, 53, msg.clone(), SendOptions::default())
                })
                .is_ok()
            {
                sent += 1;
            }
            self.now += Duration::from_micros(100);
            let now = self.now;
            counted(|| self.a.handle_timeout(now));
            counted(|| self.b.handle_timeout(now));
            self.pump();
        }
    }
}

/// DATA, then the same with I-DATA (RFC 8260) negotiated: chunks get their TSNs one at a
/// time and the receiver reassembles by MID and FSN, still without an allocation per packet.
/// One test, so that the counting allocator never sees two runs at once.
#[test]
fn steady_state_data_path_does_not_allocate_per_packet() {
    steady_state(false);
    steady_state(true);
}

fn steady_state(interleaving: bool) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let now = Instant::now();
    let cfg = Config {
        heartbeat_interval: None,
        interleaving,
        ..Config::default()
    };
    let mut p = Pair {
        a: Association::new(cfg.clone(), now, &mut rng),
        b: Association::new(cfg, now, &mut rng),
        now,
        delivered: 0,
        packets: 0,
        pool: BytesMut::new(),
    };
    p.a.connect(now, B);
    p.pump();
    assert!(p.a.is_established() && p.b.is_established());
    assert_eq!(p.a.interleaving(), interleaving);

    // Small messages, bundled several to a packet: zero allocations once warm.
    static SMALL: [u8; 200] = [7; 200];
    let small = Bytes::from_static(&SMALL);
    p.run(&small, 20_000);
    p.run(&small, 20_000);
    let (before, packets) = (ALLOCS.load(Ordering::SeqCst), p.packets);
    p.run(&small, 20_000);
    let allocs = ALLOCS.load(Ordering::SeqCst) - before;
    let packets = p.packets - packets;
    eprintln!("small: {allocs} allocations for {packets} packets");
    assert!(packets > 1000);
    assert_eq!(allocs, 0, "{allocs} allocations for {packets} packets");

    // One-packet messages.
    static MTU: [u8; 1100] = [9; 1100];
    let one = Bytes::from_static(&MTU);
    p.run(&one, 5_000);
    let (before, packets) = (ALLOCS.load(Ordering::SeqCst), p.packets);
    p.run(&one, 5_000);
    let allocs = ALLOCS.load(Ordering::SeqCst) - before;
    let packets = p.packets - packets;
    eprintln!("1100 B: {allocs} allocations for {packets} packets");
    assert_eq!(allocs, 0, "{allocs} allocations for {packets} packets");

    // 64 KiB messages: one allocation per message (the reassembled buffer), whatever the
    // number of packets it takes.
    static BIG: [u8; 65536] = [3; 65536];
    let big = Bytes::from_static(&BIG);
    p.run(&big, 200);
    let (before, packets) = (ALLOCS.load(Ordering::SeqCst), p.packets);
    p.run(&big, 500);
    let allocs = ALLOCS.load(Ordering::SeqCst) - before;
    let packets = p.packets - packets;
    eprintln!("64 KiB: {allocs} allocations for 500 messages, {packets} packets");
    assert!(allocs <= 500, "{allocs} allocations for 500 messages");
}
