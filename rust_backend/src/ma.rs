//! The moving-average families of spec §4 as O(1)-state streaming kernels: the kernel
//! trait and its drivers, and the recursive families (EMA, DEMA, KAMA); the window-sum
//! families live in [`crate::window`].
//!
//! Each kernel advances the nine members of one family by one bar for all lanes of a
//! vector `V` at once (lanes are independent series). `step::<true>` handles every bar
//! including the warm-up; `step::<false>` is the branch-free steady state, valid from
//! [`MaKernel::steady_from`] on. The SMA, every EMA seed and KAMA's noise run through
//! TradingView's `math.sum` machine ([`crate::mathsum`]), the EMA steps and KAMA repeat
//! §4.8 operation for operation: all of them are exact on every bar. WMA, LSMA and Hull
//! run as add/subtract updates rebuilt from the window every [`RESUM_PERIOD`] bars (see
//! [`drive`]).
//!
//! Kernels also see the close, each MA's crossover partner (§5; the MAs themselves run on
//! the source, which may differ): WMA, LSMA and Hull values within the safe band
//! ([`TIE_BAND`](crate::exact::TIE_BAND)) of it are replaced by their exact §4.8 values.
//!
//! Sources are interleaved: lane `l` of bar `t` is `x[t * V::LANES + l]`.

use crate::exact::{Bars, Steps, PINE_TOLERANCE};
use crate::mathsum::MathSum;
use crate::simd::{load_at, store_at, Simd};

pub use crate::exact::RESUM_PERIOD;

pub const KAMA_FAST: f64 = 0.666;
pub const KAMA_SLOW: f64 = 0.064;

const NAN: f64 = f64::NAN;

/// One family's nine members advanced bar by bar.
pub trait MaKernel<V: Simd> {
    /// First bar from which `step::<false>` is valid for every member.
    fn steady_from(&self) -> usize;

    /// Advance all members to bar `t` of the source `x` and write their values (NaN while
    /// warming up). `close` is the series the values are compared with (§5).
    ///
    /// # Safety
    /// Bars are stepped in order from 0; `x.len()` and `close.len()` are at least
    /// `(t + 1) * V::LANES`; with `WARM = false`, `t >= self.steady_from()`.
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], close: &[f64], t: usize, out: &mut [V; 9]);

    /// Rebuild running window sums exactly from the windows ending at bar `t`.
    ///
    /// # Safety
    /// `t + 1 >= self.steady_from()`, `x.len() >= (t + 1) * V::LANES`, bars up to `t`
    /// stepped.
    unsafe fn resum(&mut self, x: &[f64], t: usize);
}

/// Receives each bar's MA values from [`drive`].
///
/// A trait rather than a closure: closures are separate functions that may stay
/// un-inlined, and then would not be compiled for the dispatched instruction set.
pub trait BarSink<V: Simd> {
    fn bar(&mut self, t: usize, ma: &[V; 9]);
}

/// Step `ma` over bars `t0..t1` of source `x` and close `close` (continuing from
/// `t0 − 1`), handing each bar's values to `sink`: warm-up bars through the branchy path,
/// the rest through the steady one, with an exact re-summation before every bar that is a
/// multiple of [`RESUM_PERIOD`].
///
/// # Panics
/// If `x` or `close` holds fewer than `t1` bars.
#[inline(always)]
pub fn drive<V: Simd, K: MaKernel<V>, S: BarSink<V>>(
    ma: &mut K,
    x: &[f64],
    close: &[f64],
    t0: usize,
    t1: usize,
    sink: &mut S,
) {
    assert!(x.len() >= t1 * V::LANES && close.len() >= t1 * V::LANES);
    let mut cur = [V::splat(NAN); 9];
    let steady = ma.steady_from();
    let mut t = t0;
    while t < t1 && t < steady {
        // SAFETY: t < t1 ≤ bars in x, stepped in order.
        unsafe { ma.step::<true>(x, close, t, &mut cur) };
        sink.bar(t, &cur);
        t += 1;
    }
    while t < t1 {
        if t.is_multiple_of(RESUM_PERIOD) {
            // SAFETY: t ≥ steady ≥ 1, so t − 1 + 1 ≥ steady_from; bars up to t − 1 stepped.
            unsafe { ma.resum(x, t - 1) };
        }
        let end = ((t / RESUM_PERIOD + 1) * RESUM_PERIOD).min(t1);
        for u in t..end {
            // SAFETY: steady_from ≤ u < t1.
            unsafe { ma.step::<false>(x, close, u, &mut cur) };
            sink.bar(u, &cur);
        }
        t = end;
    }
}

/// Advance `ma` to bar `t` (bars stepped in order): the per-bar form of [`drive`], for
/// interleaving several kernels so their recursions overlap. `steady` is
/// `ma.steady_from()`.
///
/// # Panics
/// If `x` or `close` holds fewer than `t + 1` bars.
#[inline(always)]
pub fn step_one<V: Simd, K: MaKernel<V>>(
    ma: &mut K,
    x: &[f64],
    close: &[f64],
    t: usize,
    steady: usize,
    out: &mut [V; 9],
) {
    assert!(x.len() >= (t + 1) * V::LANES && close.len() >= (t + 1) * V::LANES);
    if t < steady {
        // SAFETY: t is in x and close, bars stepped in order.
        unsafe { ma.step::<true>(x, close, t, out) };
    } else {
        if t.is_multiple_of(RESUM_PERIOD) {
            // SAFETY: t ≥ steady ≥ 1 and bars up to t − 1 were stepped.
            unsafe { ma.resum(x, t - 1) };
        }
        // SAFETY: t ≥ steady_from.
        unsafe { ma.step::<false>(x, close, t, out) };
    }
}

/// One `ta.ema` step after the seed (§4.8): `y + α·(x − y)`, in that order.
#[inline(always)]
pub fn ema_next<V: Simd>(y: V, alpha: V, x: V) -> V {
    y + alpha * (x - y)
}

/// One step of the script's KAMA (§4.7) from the previous value `p` (0 for na) and the
/// efficiency ratio: smooth = (ratio·(fast − slow) + slow)², `p + smooth·(x − p)`.
#[inline(always)]
pub fn kama_next<V: Simd>(p: V, x: V, ratio: V) -> V {
    let sc = ratio * V::splat(KAMA_FAST - KAMA_SLOW) + V::splat(KAMA_SLOW);
    let smooth = sc * sc;
    p + smooth * (x - p)
}

// ---------------------------------------------------------------------------------------
/// `ta.ema` (§4.2, §4.8): seeded with `ta.sma` (the `math.sum` machine over the first `n`
/// bars, which never evicts), then `y + α·(x − y)` with α = 2/(n+1).
pub struct Ema<V: Simd> {
    n: [usize; 9],
    n_v: [V; 9],
    alpha: [V; 9],
    seed: MathSum<V>,
    y: [V; 9],
}

impl<V: Simd> Ema<V> {
    #[inline(always)]
    pub fn new(n: &[usize; 9]) -> Self {
        Self {
            n: *n,
            n_v: n.map(|n| V::splat(n as f64)),
            alpha: n.map(|n| V::splat(2.0 / (n + 1) as f64)),
            seed: MathSum::new(n),
            y: [V::splat(NAN); 9],
        }
    }
}

impl<V: Simd> MaKernel<V> for Ema<V> {
    #[inline(always)]
    fn steady_from(&self) -> usize {
        self.n.iter().copied().max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], _close: &[f64], t: usize, out: &mut [V; 9]) {
        let xv = unsafe { load_at::<V>(x, t) };
        for k in 0..9 {
            let n = self.n[k];
            if WARM && t < n {
                // SAFETY: bars up to t are in x.
                let s = unsafe { self.seed.push(k, xv, &Bars(x), t) };
                if t == n - 1 {
                    self.y[k] = s / self.n_v[k];
                }
            } else {
                self.y[k] = ema_next(self.y[k], self.alpha[k], xv);
            }
            out[k] = self.y[k];
        }
    }

    #[inline(always)]
    unsafe fn resum(&mut self, _x: &[f64], _t: usize) {}
}

// ---------------------------------------------------------------------------------------
/// TradingView/ta `dema` (§4.5): `2·E1 − E2`, E2 an EMA of E1 seeded with `ta.sma` of E1
/// over bars n−1 … 2n−2 (E1's na bars are skipped); both seeds through the `math.sum`
/// machine.
pub struct Dema<V: Simd> {
    n: [usize; 9],
    n_v: [V; 9],
    alpha: [V; 9],
    seed1: MathSum<V>,
    y1: [V; 9],
    seed2: MathSum<V>,
    y2: [V; 9],
    /// E1 of bars n−1 … 2n−2 per member (interleaved), the raw window of E2's seed:
    /// member `k` at `e1[off[k] * LANES ..]`.
    e1: Vec<f64>,
    off: [usize; 9],
}

impl<V: Simd> Dema<V> {
    #[inline(always)]
    pub fn new(n: &[usize; 9]) -> Self {
        let mut off = [0; 9];
        let mut total = 0;
        for k in 0..9 {
            off[k] = total;
            total += n[k];
        }
        Self {
            n: *n,
            n_v: n.map(|n| V::splat(n as f64)),
            alpha: n.map(|n| V::splat(2.0 / (n + 1) as f64)),
            seed1: MathSum::new(n),
            y1: [V::splat(NAN); 9],
            seed2: MathSum::new(n),
            y2: [V::splat(NAN); 9],
            e1: vec![NAN; total * V::LANES],
            off,
        }
    }
}

impl<V: Simd> Dema<V> {
    /// E1 and E2 of every member after the last bar stepped.
    pub fn ema_states(&self) -> ([V; 9], [V; 9]) {
        (self.y1, self.y2)
    }
}

impl<V: Simd> MaKernel<V> for Dema<V> {
    #[inline(always)]
    fn steady_from(&self) -> usize {
        self.n.iter().map(|n| 2 * n - 1).max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], _close: &[f64], t: usize, out: &mut [V; 9]) {
        let xv = unsafe { load_at::<V>(x, t) };
        let two = V::splat(2.0);
        for k in 0..9 {
            let n = self.n[k];
            let a = self.alpha[k];
            if WARM && t < 2 * n - 1 {
                if t < n {
                    // SAFETY: bars up to t are in x.
                    let s = unsafe { self.seed1.push(k, xv, &Bars(x), t) };
                    if t == n - 1 {
                        self.y1[k] = s / self.n_v[k];
                    }
                } else {
                    self.y1[k] = ema_next(self.y1[k], a, xv);
                }
                // E2 sees E1 only from bar n−1 on (ta.ema skips na).
                if t + 1 >= n {
                    let j = t + 1 - n;
                    let row = &mut self.e1[self.off[k] * V::LANES..(self.off[k] + n) * V::LANES];
                    // SAFETY: j < n, the row's bars.
                    unsafe { store_at::<V>(row, j, self.y1[k]) };
                    let s = unsafe { self.seed2.push(k, self.y1[k], &Bars(row), j) };
                    if t == 2 * n - 2 {
                        self.y2[k] = s / self.n_v[k];
                    }
                }
                out[k] = two * self.y1[k] - self.y2[k];
            } else {
                let e1 = ema_next(self.y1[k], a, xv);
                let e2 = ema_next(self.y2[k], a, e1);
                self.y1[k] = e1;
                self.y2[k] = e2;
                out[k] = two * e1 - e2;
            }
        }
    }

    #[inline(always)]
    unsafe fn resum(&mut self, _x: &[f64], _t: usize) {}
}

// ---------------------------------------------------------------------------------------
/// The script's KAMA (§4.7): from 0, smoothing (ratio·(fast − slow) + slow)², ratio 0
/// until the noise window exists on bar n. The noise is `math.sum(|x − x[1]|, n)` through
/// the machine (bar 0's step is na and skipped); `noise != 0` is Pine's tolerant test.
pub struct Kama<V: Simd> {
    n: [usize; 9],
    noise: MathSum<V>,
    kama: [V; 9],
}

impl<V: Simd> Kama<V> {
    #[inline(always)]
    pub fn new(n: &[usize; 9]) -> Self {
        Self { n: *n, noise: MathSum::new(n), kama: [V::splat(0.0); 9] }
    }
}

impl<V: Simd> MaKernel<V> for Kama<V> {
    #[inline(always)]
    fn steady_from(&self) -> usize {
        self.n.iter().map(|n| n + 1).max().unwrap_or(2)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], _close: &[f64], t: usize, out: &mut [V; 9]) {
        let xv = unsafe { load_at::<V>(x, t) };
        let zero = V::splat(0.0);
        let tol = V::splat(PINE_TOLERANCE);
        let first = WARM && t == 0;
        // |x[t] − x[t−1]|, shared by every member; na on bar 0 (not pushed).
        let step = if first { zero } else { (xv - unsafe { load_at::<V>(x, t - 1) }).abs() };
        for k in 0..9 {
            let n = self.n[k];
            let mut ratio = zero;
            if !first {
                // SAFETY: the machine reads steps of bars ≥ 1 up to t.
                let noise = unsafe { self.noise.push(k, step, &Steps(x), t) };
                if !WARM || t >= n {
                    let signal = (xv - unsafe { load_at::<V>(x, t - n) }).abs();
                    // `noise != 0` within Pine's tolerance: after a huge step leaves the window the
                    // compensated sum can even turn negative; a discarded division by 0 is harmless.
                    ratio = V::select(noise.abs().gt(tol), signal / noise, zero);
                }
            }
            self.kama[k] = kama_next(self.kama[k], xv, ratio);
            out[k] = self.kama[k];
        }
    }

    #[inline(always)]
    unsafe fn resum(&mut self, _x: &[f64], _t: usize) {}
}
