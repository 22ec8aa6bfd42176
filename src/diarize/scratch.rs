//! Zeroed `f32` buffers reused from call to call on the same thread. The speaker models
//! need several megabytes of activations per window and per embedding; taken fresh from the
//! allocator each time they would either stay resident after use (glibc's heap) or be
//! mapped and faulted in anew (the fixed mmap threshold the binary sets), which cost ~20%
//! of diarization time.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

/// Buffers kept per thread; more are freed normally.
const KEEP: usize = 16;

thread_local! {
    static FREE: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A zeroed buffer that goes back to its thread's free list when dropped.
pub(super) struct Buf(Vec<f32>);

/// `n` zeros, in the smallest free buffer that holds them (else a new one).
pub(super) fn zeroed(n: usize) -> Buf {
    let reused = FREE
        .try_with(|free| {
            let mut free = free.borrow_mut();
            let best = free
                .iter()
                .enumerate()
                .filter(|(_, v)| v.capacity() >= n)
                .min_by_key(|(_, v)| v.capacity())
                .map(|(i, _)| i);
            best.map(|i| free.swap_remove(i))
        })
        .ok()
        .flatten();
    let mut v = reused.unwrap_or_default();
    v.clear();
    v.resize(n, 0.0);
    Buf(v)
}

/// Frees this thread's kept buffers (after a batch of windows: the kept ones would otherwise
/// add up to more than any one model call holds at once).
pub(super) fn release() {
    let _ = FREE.try_with(|free| free.borrow_mut().clear());
}

impl Drop for Buf {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.0);
        if v.capacity() == 0 {
            return;
        }
        // During thread exit the list may be gone: then the buffer is simply freed.
        let _ = FREE.try_with(|free| {
            let mut free = free.borrow_mut();
            if free.len() < KEEP {
                free.push(v);
            } else if let Some(small) = free.iter_mut().min_by_key(|b| b.capacity()) {
                // Keep the larger of the two: the next call of that size needs no allocation.
                if small.capacity() < v.capacity() {
                    *small = v;
                }
            }
        });
    }
}

impl Deref for Buf {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl DerefMut for Buf {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_zeroed_and_are_reused() {
        let mut a = zeroed(1000);
        a.iter_mut().for_each(|x| *x = 7.0);
        let ptr = a.as_ptr();
        drop(a);
        let b = zeroed(500);
        assert_eq!(b.as_ptr(), ptr, "the freed buffer is reused");
        assert!(b.iter().all(|&x| x == 0.0));
        assert_eq!(b.len(), 500);
        let c = zeroed(2000);
        assert_ne!(c.as_ptr(), ptr);
        assert_eq!(c.len(), 2000);
        drop(b);
        release();
        assert_eq!(FREE.with(|f| f.borrow().len()), 0);
    }
}
