//! Where an idle facade connection's bytes are: a diagnostic, not a pass/fail test (ignored;
//! run with `cargo test -p ferrtc-benches --test alloc_sites -- --ignored --nocapture`).
//!
//! A tracking global allocator records, for every allocation made while tracking is on, its
//! size and a backtrace; what is still live after [`PAIRS`] pairs are connected and idle is
//! grouped by its first frames inside ferrtc and printed, largest first, in bytes per
//! connection. Slow (a backtrace per allocation), so few pairs.
#![allow(unsafe_code)] // a GlobalAlloc impl is unsafe by definition; it forwards to System

use std::alloc::{GlobalAlloc, Layout, System};
use std::backtrace::Backtrace;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ferrtc_benches::facade::{FerrtcPair, runtime};

static TRACKING: AtomicBool = AtomicBool::new(false);
static LIVE: Mutex<Option<HashMap<usize, (usize, Backtrace)>>> = Mutex::new(None);

thread_local! {
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

struct Tracking;

fn record(p: *mut u8, size: usize) {
    if !TRACKING.load(Ordering::Relaxed) {
        return;
    }
    let _ = INSIDE.try_with(|inside| {
        if inside.replace(true) {
            return;
        }
        let bt = Backtrace::force_capture();
        if let Ok(mut m) = LIVE.lock() {
            m.get_or_insert_with(HashMap::new)
                .insert(p as usize, (size, bt));
        }
        inside.set(false);
    });
}

fn forget(p: *mut u8) {
    let _ = INSIDE.try_with(|inside| {
        if inside.replace(true) {
            return;
        }
        if let Ok(mut m) = LIVE.lock()
            && let Some(m) = m.as_mut()
        {
            m.remove(&(p as usize));
        }
        inside.set(false);
    });
}

// SAFETY: every method forwards to the system allocator with the caller's arguments
// unchanged; the bookkeeping runs with a reentrancy guard and allocates through System.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            record(p, layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            record(p, layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        forget(ptr);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            forget(ptr);
            record(p, new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// Pairs held (two connections each).
const PAIRS: usize = 4;

/// The frames that say where an allocation comes from: function names of the first few
/// frames in ferrtc's crates (or any non-std frames when there are none).
fn site(bt: &Backtrace, depth: usize) -> String {
    let text = bt.to_string();
    let mut names = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some((_, name)) = line.split_once(": ") else {
            continue;
        };
        if line.starts_with("at ") {
            continue;
        }
        let ours = (name.contains("ferrtc")
            || (std::env::var_os("SITE_ALL").is_some()
                && !name.starts_with("std::")
                && !name.starts_with("alloc::")
                && !name.starts_with("<alloc::")
                && !name.starts_with("core::")
                && !name.contains("__rust")
                && !name.contains("GlobalAlloc")))
            && !name.contains("alloc_sites");
        if ours {
            // Strip the hash suffix.
            let name = name.rsplit_once("::h").map_or(name, |(n, _)| n);
            names.push(name.to_string());
            if names.len() == depth {
                break;
            }
        }
    }
    if names.is_empty() {
        // Keep the first non-std frames.
        for line in text.lines() {
            let line = line.trim();
            let Some((_, name)) = line.split_once(": ") else {
                continue;
            };
            if line.starts_with("at ")
                || name.starts_with("std::")
                || name.starts_with("alloc::")
                || name.starts_with("core::")
                || name.starts_with("<alloc::")
                || name.starts_with("<core::")
                || name.contains("alloc_sites")
                || name.contains("__rust")
            {
                continue;
            }
            let name = name.rsplit_once("::h").map_or(name, |(n, _)| n);
            names.push(name.to_string());
            if names.len() == depth {
                break;
            }
        }
    }
    names.join(" <- ")
}

#[test]
#[ignore = "diagnostic: prints allocation sites, slow"]
fn where_an_idle_facade_connections_bytes_are() {
    let rt = runtime();
    rt.block_on(async {
        let warm = FerrtcPair::new().await;
        warm.close().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    });
    *LIVE.lock().unwrap() = Some(HashMap::new());
    TRACKING.store(true, Ordering::SeqCst);
    let pairs = rt.block_on(async {
        let mut v = Vec::with_capacity(PAIRS);
        for _ in 0..PAIRS {
            v.push(FerrtcPair::new().await);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        v
    });
    TRACKING.store(false, Ordering::SeqCst);
    let live = LIVE.lock().unwrap().take().unwrap();
    let connections = (PAIRS * 2) as f64;
    let depth: usize = std::env::var("SITE_DEPTH")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(3);
    let mut sites: HashMap<String, (usize, usize)> = HashMap::new();
    let mut total = 0;
    for (_, (size, bt)) in live.iter() {
        total += size;
        let e = sites.entry(site(bt, depth)).or_default();
        e.0 += size;
        e.1 += 1;
    }
    let mut sites: Vec<_> = sites.into_iter().collect();
    sites.sort_by_key(|s| std::cmp::Reverse(s.1.0));
    eprintln!(
        "total {:.1} KiB per connection, {} live allocations",
        total as f64 / connections / 1024.0,
        live.len()
    );
    for (name, (bytes, count)) in sites.iter().take(60) {
        eprintln!(
            "{:8.0} B/conn {:6.1} allocs/conn  {name}",
            *bytes as f64 / connections,
            *count as f64 / connections
        );
    }
    drop(live);
    rt.block_on(async {
        for p in pairs {
            p.close().await;
        }
    });
}
