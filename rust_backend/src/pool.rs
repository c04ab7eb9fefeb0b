//! Recycled output memory.
//!
//! Each call returns fresh arrays to Python. Allocated anew every time, their pages are
//! faulted in (and, once freed, often handed back to the OS) on every call, which costs
//! more than computing a short series. The Python layer therefore takes its output
//! buffers from these pools and returns them when the last array using them is dropped.

use std::sync::Mutex;

/// Buffers kept per pool.
const MAX_KEPT: usize = 8;
/// Bytes kept per pool; larger outputs are simply freed.
const MAX_KEPT_BYTES: usize = 64 << 20;

/// A bounded set of reusable vectors of one element type.
pub struct Pool<T: Copy + Default> {
    free: Mutex<Vec<Vec<T>>>,
}

impl<T: Copy + Default> Pool<T> {
    pub const fn new() -> Self {
        Self { free: Mutex::new(Vec::new()) }
    }

    /// A vector of exactly `len` elements with unspecified (but initialised) contents.
    pub fn take(&self, len: usize) -> Vec<T> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        // Smallest kept buffer that fits, so big ones stay available for big requests.
        let best = free
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= len)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        let mut v = match best {
            Some(i) => free.swap_remove(i),
            None => Vec::new(),
        };
        drop(free);
        if v.len() > len {
            v.truncate(len);
        } else {
            v.resize(len, T::default());
        }
        v
    }

    /// Keep `v` for a later [`Pool::take`], unless the pool is full.
    pub fn give(&self, v: Vec<T>) {
        let bytes = v.capacity() * std::mem::size_of::<T>();
        if bytes == 0 || bytes > MAX_KEPT_BYTES {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let kept: usize = free.iter().map(|b| b.capacity() * std::mem::size_of::<T>()).sum();
        if free.len() < MAX_KEPT && kept + bytes <= MAX_KEPT_BYTES {
            free.push(v);
        }
    }

    /// Buffers currently kept.
    pub fn kept(&self) -> usize {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl<T: Copy + Default> Default for Pool<T> {
    fn default() -> Self {
        Self::new()
    }
}

pub static F64_POOL: Pool<f64> = Pool::new();
pub static BYTE_POOL: Pool<u8> = Pool::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_memory_of_a_returned_buffer() {
        let pool = Pool::<f64>::new();
        let v = pool.take(1000);
        assert_eq!(v.len(), 1000);
        let ptr = v.as_ptr();
        pool.give(v);
        let w = pool.take(600);
        assert_eq!(w.len(), 600);
        assert_eq!(w.as_ptr(), ptr, "a kept buffer that fits is reused");
        let bigger = pool.take(5000);
        assert_eq!(bigger.len(), 5000);
        assert_ne!(bigger.as_ptr(), ptr);
    }

    #[test]
    fn picks_the_smallest_fitting_buffer_and_stays_bounded() {
        let pool = Pool::<u8>::new();
        let (a, b) = (pool.take(100), pool.take(10_000));
        let small = a.as_ptr();
        pool.give(b);
        pool.give(a);
        let reused = pool.take(50);
        assert_eq!(reused.as_ptr(), small);
        for _ in 0..2 * MAX_KEPT {
            pool.give(vec![0u8; 16]);
        }
        assert!(pool.kept() <= MAX_KEPT);
        pool.give(vec![0u8; MAX_KEPT_BYTES + 1]);
        assert!(pool.kept() <= MAX_KEPT);
    }
}
