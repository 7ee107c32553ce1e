//! A counting global allocator for tests that prove a hot path allocates nothing.
//!
//! The one place in the workspace where the allocator's `unsafe` lives; each test binary
//! installs it with two lines:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: ferrtc_test_alloc::Counting = ferrtc_test_alloc::Counting;
//! ```
//!
//! Counts are per thread: libtest runs tests on parallel threads, and a test must see only
//! the allocations its own code makes.
#![warn(missing_docs)]
#![allow(unsafe_code)] // a GlobalAlloc impl is unsafe by definition; it only forwards to System

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting `alloc` and `realloc` calls made on each thread.
pub struct Counting;

fn bump() {
    // `try_with`: the thread-local may already be gone while a thread shuts down.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to the system allocator with the caller's arguments unchanged;
// the only addition is a thread-local counter, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations (and reallocations) made so far on the calling thread.
pub fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Runs `f` and returns its result with the number of allocations it made on this thread.
pub fn counted<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = allocations();
    let out = f();
    (out, allocations() - before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    #[test]
    fn counts_this_threads_allocations_and_nothing_else() {
        let (v, n) = counted(|| vec![1u8; 100]);
        assert_eq!(n, 1);
        let (_, n) = counted(|| {
            let mut v = v;
            v.reserve_exact(10_000);
            v
        });
        assert_eq!(n, 1, "a realloc counts");
        let (_, n) = counted(|| std::hint::black_box(2u64) * 3);
        assert_eq!(n, 0);
        // Another thread's allocations do not show up here.
        let other = std::thread::spawn(|| counted(|| vec![0u8; 64]).1);
        assert_eq!(other.join().unwrap(), 1);
    }
}
