//! Buffers reused across frames, so that the hot path (capture, decode, convert) does not
//! allocate once the pool is warm.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// A pool of sample buffers (`u8` for video planes, `i16`/`f32` for audio).
///
/// [`BufferPool::take`] hands out a [`PooledBuffer`]; when the last frame holding it is dropped,
/// the storage goes back to the pool (up to `max_idle` buffers are kept). Cloning the pool
/// clones a handle to the same storage.
///
/// ```
/// use ferrtc_media::BufferPool;
///
/// let pool: BufferPool<u8> = BufferPool::new(4);
/// drop(pool.take(1024));
/// let again = pool.take(1000);
/// assert_eq!(again.len(), 1000);
/// assert_eq!(pool.stats().allocations, 1); // the second take reused the first buffer
/// ```
pub struct BufferPool<T> {
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    idle: Mutex<Vec<Vec<T>>>,
    max_idle: usize,
    allocations: AtomicU64,
    reuses: AtomicU64,
}

/// What a pool has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Buffers that had to be allocated (or grown).
    pub allocations: u64,
    /// Buffers served from idle storage without allocating.
    pub reuses: u64,
}

impl<T> Clone for BufferPool<T> {
    fn clone(&self) -> Self {
        BufferPool {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Copy + Default> fmt::Debug for BufferPool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferPool")
            .field("max_idle", &self.shared.max_idle)
            .field("stats", &self.stats())
            .finish()
    }
}

impl<T: Copy + Default> BufferPool<T> {
    /// A pool that keeps at most `max_idle` returned buffers.
    pub fn new(max_idle: usize) -> Self {
        BufferPool {
            shared: Arc::new(Shared {
                idle: Mutex::new(Vec::with_capacity(max_idle)),
                max_idle,
                allocations: AtomicU64::new(0),
                reuses: AtomicU64::new(0),
            }),
        }
    }

    /// A buffer of `len` samples. Its contents are unspecified (what the previous user left, or
    /// zeros): callers overwrite it.
    pub fn take(&self, len: usize) -> PooledBuffer<T> {
        let recycled = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let data = match recycled {
            Some(mut v) if v.capacity() >= len => {
                self.shared.reuses.fetch_add(1, Ordering::Relaxed);
                // Only grows the length within the capacity: no allocation. Shrinking is free.
                v.resize(len, T::default());
                v
            }
            other => {
                drop(other);
                self.shared.allocations.fetch_add(1, Ordering::Relaxed);
                vec![T::default(); len]
            }
        };
        PooledBuffer {
            data,
            home: Some(Arc::downgrade(&self.shared)),
        }
    }

    /// Counts of allocations and reuses so far.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            allocations: self.shared.allocations.load(Ordering::Relaxed),
            reuses: self.shared.reuses.load(Ordering::Relaxed),
        }
    }
}

/// A buffer from a [`BufferPool`] (or a plain vector that belongs to none); derefs to a slice.
pub struct PooledBuffer<T> {
    data: Vec<T>,
    home: Option<Weak<Shared<T>>>,
}

impl<T> PooledBuffer<T> {
    /// Wraps a vector that belongs to no pool (no copy).
    pub fn unpooled(data: Vec<T>) -> Self {
        PooledBuffer { data, home: None }
    }
}

impl<T> PooledBuffer<T> {
    /// Shortens the buffer to `len` samples (no effect if it is not longer).
    pub fn truncate(&mut self, len: usize) {
        self.data.truncate(len);
    }
}

impl<T: Clone> Clone for PooledBuffer<T> {
    /// A copy that belongs to no pool.
    fn clone(&self) -> Self {
        PooledBuffer::unpooled(self.data.clone())
    }
}

impl<T> fmt::Debug for PooledBuffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PooledBuffer({} samples, pooled: {})",
            self.data.len(),
            self.home.is_some()
        )
    }
}

impl<T> Deref for PooledBuffer<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.data
    }
}

impl<T> DerefMut for PooledBuffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.data
    }
}

impl<T> Drop for PooledBuffer<T> {
    fn drop(&mut self) {
        let Some(shared) = self.home.take().and_then(|w| w.upgrade()) else {
            return;
        };
        let mut idle = shared.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < shared.max_idle {
            idle.push(std::mem::take(&mut self.data));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_state_reuses_and_bounds_idle() {
        let pool: BufferPool<u8> = BufferPool::new(2);
        for _ in 0..100 {
            let a = pool.take(640 * 480);
            let b = pool.take(640 * 480);
            drop((a, b));
        }
        assert_eq!(pool.stats().allocations, 2);
        assert_eq!(pool.stats().reuses, 198);
        // Three live at once: the third allocates, and only two are kept afterwards.
        let (a, b, c) = (pool.take(10), pool.take(10), pool.take(10));
        drop((a, b, c));
        assert_eq!(pool.stats().allocations, 3);
        assert_eq!(pool.shared.idle.lock().unwrap().len(), 2);
    }

    #[test]
    fn buffer_outlives_its_pool() {
        let pool: BufferPool<i16> = BufferPool::new(1);
        let buf = pool.take(4);
        drop(pool);
        assert_eq!(buf.len(), 4);
        drop(buf);
    }
}
