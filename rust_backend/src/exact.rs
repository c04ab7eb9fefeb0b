//! Window sums in the reference's exact order of operations, and the tie test.
//!
//! The reference (`core/atc/moving_averages.py`) sums every window directly: `win.sum()`
//! is numpy's pairwise summation, `win @ weights` a left-to-right dot product. The kernels
//! keep running sums instead, which drift from those by a few units in the last place.
//! Where that matters (an MA that may equal the close exactly, see [`TieScan`]) and
//! wherever a running sum is rebuilt, the window is summed here, bit for bit as numpy
//! does, in every lane of a vector at once.
//!
//! Everything here is inlined into the kernels and makes no calls: every vector register
//! is caller-saved, and an out-of-line call anywhere in a kernel, even on a rarely taken
//! path, slowed its steady bar loop by 10–15% when measured.

use crate::simd::{load_at, Simd};

/// A running-sum MA within this relative distance of the close it is compared with is
/// recomputed from its window in the reference's order before the crossover test. On
/// cent-rounded prices an MA often equals the close exactly (an average of a flat
/// stretch, a regression through the newest price); the reference then sees no crossing,
/// while a running sum a few ulps off would. The running sums' error is many orders of
/// magnitude below this band, so every tie it could decide differently is recomputed.
pub const TIE_BAND: f64 = 1e-9;

/// numpy's `PW_BLOCKSIZE`: windows up to this many terms are summed by one block.
const PW_BLOCK: usize = 128;
/// Open splits of [`pairwise_sum`] (a split leaves at most 9/16 of its terms to either
/// half, so this covers any length that fits in memory).
const PW_DEPTH: usize = 64;

/// One bar's test for MAs near a tie with the close: `|ma − close| ≤ |close|·TIE_BAND`.
#[derive(Clone, Copy)]
pub struct TieScan<V: Simd> {
    close: V,
    band: V,
}

impl<V: Simd> TieScan<V> {
    #[inline(always)]
    pub fn new(close: V) -> Self {
        Self { close, band: close.abs() * V::splat(TIE_BAND) }
    }

    /// Lanes where `ma` is near a tie (false for NaN).
    #[inline(always)]
    pub fn tie(&self, ma: V) -> V::Mask {
        (ma - self.close).abs().le(self.band)
    }

    /// Whether any lane of any of the nine members is near a tie, leaving out the members
    /// whose `skip` ([`tie_skip`]) is +∞ (their value is always the reference's already)
    /// when `skipping`. The common case, no tie anywhere, costs three independent vector
    /// operations per member (distance, folded into a minimum by a tree) and one test.
    /// The minimum assumes no NaN value (`min` does not skip NaN), which holds on steady
    /// bars for finite prices; warm-up bars (`WARM`) hold NaN values, and there the
    /// members' tests are combined instead.
    #[inline(always)]
    pub fn any<const WARM: bool>(&self, ma: &[V; 9], skip: &[V; 9], skipping: bool) -> bool {
        // A macro rather than a closure: closures may stay un-inlined, and would then not
        // be compiled for the dispatched instruction set.
        macro_rules! d {
            ($k:expr) => {{
                let d = (ma[$k] - self.close).abs();
                if skipping {
                    d + skip[$k]
                } else {
                    d
                }
            }};
        }
        if WARM {
            macro_rules! t {
                ($k:expr) => {
                    d!($k).le(self.band)
                };
            }
            let lo = V::or(V::or(t!(0), t!(1)), V::or(t!(2), t!(3)));
            let hi = V::or(V::or(t!(4), t!(5)), V::or(t!(6), t!(7)));
            V::bits(V::or(V::or(lo, hi), t!(8))) != 0
        } else {
            let lo = d!(0).min(d!(1)).min(d!(2).min(d!(3)));
            let hi = d!(4).min(d!(5)).min(d!(6).min(d!(7)));
            V::bits(lo.min(hi).min(d!(8)).le(self.band)) != 0
        }
    }
}

/// [`TieScan::any`]'s `skip` for a member: +∞ when `exempt`.
pub fn tie_skip<V: Simd>(exempt: bool) -> V {
    V::splat(if exempt { f64::INFINITY } else { 0.0 })
}

/// The terms of a sum, by index.
pub trait Terms<V: Simd> {
    /// # Safety
    /// `i` is a valid index for this series (see each implementation).
    unsafe fn at(&self, i: usize) -> V;
}

/// Bar `i` of an interleaved series (lane `l` of bar `i` is `x[i * V::LANES + l]`).
#[derive(Clone, Copy)]
pub struct Bars<'a>(pub &'a [f64]);

impl<V: Simd> Terms<V> for Bars<'_> {
    /// # Safety
    /// `(i + 1) * V::LANES <= x.len()`.
    #[inline(always)]
    unsafe fn at(&self, i: usize) -> V {
        unsafe { load_at::<V>(self.0, i) }
    }
}

/// `|x[i] − x[i−1]|` of an interleaved series: KAMA's noise terms.
#[derive(Clone, Copy)]
pub struct Steps<'a>(pub &'a [f64]);

impl<V: Simd> Terms<V> for Steps<'_> {
    /// # Safety
    /// `i ≥ 1` and `(i + 1) * V::LANES <= x.len()`.
    #[inline(always)]
    unsafe fn at(&self, i: usize) -> V {
        unsafe { (load_at::<V>(self.0, i) - load_at::<V>(self.0, i - 1)).abs() }
    }
}

/// numpy's pairwise sum of up to [`PW_BLOCK`] terms `lo … lo + n − 1`.
///
/// # Safety
/// Every index `lo … lo + n − 1` is valid for `w`.
#[inline(always)]
unsafe fn pairwise_block<V: Simd, T: Terms<V>>(w: &T, lo: usize, n: usize) -> V {
    if n < 8 {
        let mut r = V::splat(0.0);
        for i in 0..n {
            r = r + unsafe { w.at(lo + i) };
        }
        return r;
    }
    let mut r = [V::splat(0.0); 8];
    for (j, v) in r.iter_mut().enumerate() {
        *v = unsafe { w.at(lo + j) };
    }
    let mut i = 8;
    while i < n - n % 8 {
        for (j, v) in r.iter_mut().enumerate() {
            *v = *v + unsafe { w.at(lo + i + j) };
        }
        i += 8;
    }
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    while i < n {
        res = res + unsafe { w.at(lo + i) };
        i += 1;
    }
    res
}

/// Where numpy splits `n > PW_BLOCK` terms: ⌊n/2⌋ rounded down to a multiple of 8.
#[inline(always)]
fn pw_split(n: usize) -> usize {
    let h = n / 2;
    h - h % 8
}

/// numpy's pairwise summation of the terms `lo … lo + n − 1` (what `np.add.reduce` does
/// along a contiguous axis, e.g. the reference's `win.sum(axis=1)`): below 8 terms,
/// sequentially from 0.0; up to 128 terms, eight interleaved accumulators combined as
/// ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) and the remaining terms added in order; above 128
/// terms, the sums of the first ⌊n/2⌋ (rounded down to a multiple of 8) and of the rest,
/// each pairwise, added. numpy recurses; this walks the same tree with an explicit stack.
///
/// # Safety
/// Every index `lo … lo + n − 1` is valid for `w`.
///
/// # Panics
/// Never for lengths that fit in memory (the split depth is logarithmic).
#[inline(always)]
pub unsafe fn pairwise_sum<V: Simd, T: Terms<V>>(w: &T, lo: usize, n: usize) -> V {
    if n <= PW_BLOCK {
        return unsafe { pairwise_block(w, lo, n) };
    }
    // Splits on the path from the root to the current block: their (lo, n), and the sum
    // of their first half once it is known.
    let mut open = [(0usize, 0usize); PW_DEPTH];
    let mut left = [None::<V>; PW_DEPTH];
    let mut depth = 0;
    let (mut at, mut len) = (lo, n);
    loop {
        while len > PW_BLOCK {
            open[depth] = (at, len);
            left[depth] = None;
            depth += 1;
            len = pw_split(len);
        }
        let mut v = unsafe { pairwise_block(w, at, len) };
        loop {
            if depth == 0 {
                return v;
            }
            let (plo, pn) = open[depth - 1];
            match left[depth - 1] {
                None => {
                    // First half done: descend into the second.
                    left[depth - 1] = Some(v);
                    let h = pw_split(pn);
                    (at, len) = (plo + h, pn - h);
                    break;
                }
                Some(l) => {
                    v = l + v;
                    depth -= 1;
                }
            }
        }
    }
}

/// `Σ w(lo + i)·(i + w0)` for i = 0 … n − 1, left to right from 0.0: numpy's matmul of a
/// window view with a weight vector (strides that BLAS cannot take) runs this loop.
///
/// # Safety
/// Every index `lo … lo + n − 1` is valid for `w`.
#[inline(always)]
pub unsafe fn seq_dot<V: Simd, T: Terms<V>>(w: &T, lo: usize, n: usize, w0: usize) -> V {
    let mut r = V::splat(0.0);
    for i in 0..n {
        r = r + unsafe { w.at(lo + i) } * V::splat((i + w0) as f64);
    }
    r
}

/// numpy's `a.sum()` of a slice (pairwise).
pub fn pairwise_sum_slice(a: &[f64]) -> f64 {
    // SAFETY: indices 0 … len − 1 of a one-lane series.
    unsafe { pairwise_sum::<f64, _>(&Bars(a), 0, a.len()) }
}

/// `a @ [w0, w0 + 1, …]` as numpy's matmul of a window view computes it.
pub fn seq_dot_slice(a: &[f64], w0: usize) -> f64 {
    // SAFETY: as above.
    unsafe { seq_dot::<f64, _>(&Bars(a), 0, a.len(), w0) }
}
