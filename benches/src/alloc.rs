//! A byte-counting global allocator for the memory rows, switched on only while a memory
//! figure is taken, so the timed workloads of every other group run on the plain system
//! allocator (one relaxed load of a flag per call).
//!
//! `ferrtc-test-alloc` counts allocation calls per thread for the no-allocation tests; a
//! memory row needs live bytes across threads (a reference may run a runtime's threads), so
//! this one counts bytes in a process-wide counter. The `report` binary installs it:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: ferrtc_benches::alloc::CountingBytes = ferrtc_benches::alloc::CountingBytes;
//! ```
//!
//! Where it is not installed (the criterion benches) [`installed`] is false and the memory
//! rows are left out.
#![allow(unsafe_code)] // a GlobalAlloc impl is unsafe by definition; it only forwards to System

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicI64 = AtomicI64::new(0);

/// The system allocator; while counting is on, it adds what is allocated and subtracts what
/// is freed (on any thread) from one counter of live bytes.
pub struct CountingBytes;

fn add(bytes: usize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE.fetch_add(bytes as i64, Ordering::Relaxed);
    }
}

fn sub(bytes: usize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE.fetch_sub(bytes as i64, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to the system allocator with the caller's arguments unchanged;
// the only addition is an atomic counter, which does not allocate.
unsafe impl GlobalAlloc for CountingBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        sub(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size);
            sub(layout.size());
        }
        p
    }
}

/// Runs `f` with counting on and returns its result with the change in live bytes it caused
/// (allocated minus freed while it ran, on every thread).
pub fn live_bytes_during<T>(f: impl FnOnce() -> T) -> (T, i64) {
    let before = LIVE.load(Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let out = f();
    COUNTING.store(false, Ordering::SeqCst);
    (out, LIVE.load(Ordering::SeqCst) - before)
}

/// Whether [`CountingBytes`] is this process's global allocator.
pub fn installed() -> bool {
    // The vector outlives the counted part, so a working counter sees its 4096 bytes.
    let (v, n) = live_bytes_during(|| std::hint::black_box(vec![0u8; 4096]));
    drop(v);
    n >= 4096
}

/// Live bytes per connection held by `n` items (each holding `per_item` connections) made one
/// after another by `connect` on the tokio runtime `rt`, read after every item exists and
/// `idle` more has passed (real time, the runtime's tasks running meanwhile). One warm-up
/// item is made and closed first, so one-time global set-up is not counted; the baseline is
/// taken after it, with the runtime (and its threads) already there. Everything is closed
/// with `close` afterwards. `None` when [`CountingBytes`] is not installed.
pub fn live_bytes_per_connection<P, C, CF, D, DF>(
    rt: &tokio::runtime::Runtime,
    n: usize,
    per_item: usize,
    idle: std::time::Duration,
    mut connect: C,
    mut close: D,
) -> Option<f64>
where
    C: FnMut() -> CF,
    CF: std::future::Future<Output = P>,
    D: FnMut(P) -> DF,
    DF: std::future::Future<Output = ()>,
{
    if !installed() {
        return None;
    }
    rt.block_on(async {
        let warm = connect().await;
        close(warm).await;
        // Let the warm-up item's tasks wind down before the baseline.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    });
    let (items, bytes) = live_bytes_during(|| {
        rt.block_on(async {
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(connect().await);
            }
            tokio::time::sleep(idle).await;
            v
        })
    });
    rt.block_on(async {
        for p in items {
            close(p).await;
        }
    });
    Some(bytes as f64 / (n * per_item) as f64)
}
