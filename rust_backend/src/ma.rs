//! The moving-average families of spec §4 as O(1)-state streaming kernels: the kernel
//! trait and its drivers, and the recursive families (EMA, DEMA, KAMA); the window-sum
//! families live in [`crate::window`].
//!
//! Each kernel advances the nine members of one family by one bar for all lanes of a
//! vector `V` at once (lanes are independent series). `step::<true>` handles every bar
//! including the warm-up; `step::<false>` is the branch-free steady state, valid from
//! [`MaKernel::steady_from`] on. Recursive averages repeat the reference's arithmetic
//! operation for operation. Window sums (SMA, WMA, LSMA, KAMA noise, Hull) run as
//! add/subtract updates, start from the first window summed directly and are rebuilt from
//! the window every [`RESUM_PERIOD`] bars (see [`drive`]), both in the reference's order
//! ([`crate::exact`]), so rounding cannot accumulate over long series.
//!
//! Kernels also see the close, each MA's crossover partner (§5; the MAs themselves run on
//! the source, which may differ): SMA, WMA, LSMA and Hull values within
//! [`TIE_BAND`](crate::exact::TIE_BAND) of it are recomputed in the reference's order.
//!
//! Sources are interleaved: lane `l` of bar `t` is `x[t * V::LANES + l]`.

use crate::exact::{pairwise_sum, Steps};
use crate::simd::{load_at, Simd};

pub use crate::window::{Hull, Lsma, Sma, Wma};

/// Bars between exact re-summations of running window sums (spec §13.8).
pub const RESUM_PERIOD: usize = 1024;

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

// ---------------------------------------------------------------------------------------
/// `ta.ema` (§4.2): SMA seed over the first `n` bars, then `y + α·(x − y)`.
pub struct Ema<V: Simd> {
    n: [usize; 9],
    alpha: [V; 9],
    total: [V; 9],
    y: [V; 9],
}

impl<V: Simd> Ema<V> {
    #[inline(always)]
    pub fn new(n: &[usize; 9]) -> Self {
        Self {
            n: *n,
            alpha: n.map(|n| V::splat(2.0 / (n + 1) as f64)),
            total: [V::splat(0.0); 9],
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
                self.total[k] = self.total[k] + xv;
                if t == n - 1 {
                    self.y[k] = self.total[k] / V::splat(n as f64);
                }
            } else {
                let y = self.y[k];
                self.y[k] = y + self.alpha[k] * (xv - y);
            }
            out[k] = self.y[k];
        }
    }

    #[inline(always)]
    unsafe fn resum(&mut self, _x: &[f64], _t: usize) {}
}

// ---------------------------------------------------------------------------------------
/// TradingView/ta `dema` (§4.5): `2·E1 − E2`, E2 an EMA of E1 seeded with the mean of E1
/// over bars n−1 … 2n−2.
pub struct Dema<V: Simd> {
    n: [usize; 9],
    alpha: [V; 9],
    total1: [V; 9],
    y1: [V; 9],
    total2: [V; 9],
    y2: [V; 9],
}

impl<V: Simd> Dema<V> {
    #[inline(always)]
    pub fn new(n: &[usize; 9]) -> Self {
        Self {
            n: *n,
            alpha: n.map(|n| V::splat(2.0 / (n + 1) as f64)),
            total1: [V::splat(0.0); 9],
            y1: [V::splat(NAN); 9],
            total2: [V::splat(0.0); 9],
            y2: [V::splat(NAN); 9],
        }
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
                    self.total1[k] = self.total1[k] + xv;
                    if t == n - 1 {
                        self.y1[k] = self.total1[k] / V::splat(n as f64);
                    }
                } else {
                    let y = self.y1[k];
                    self.y1[k] = y + a * (xv - y);
                }
                // E2 sees E1 only from bar n−1 on (ta.ema skips na).
                if t + 1 >= n {
                    self.total2[k] = self.total2[k] + self.y1[k];
                }
                if t == 2 * n - 2 {
                    self.y2[k] = self.total2[k] / V::splat(n as f64);
                }
                out[k] = two * self.y1[k] - self.y2[k];
            } else {
                let y1 = self.y1[k];
                let e1 = y1 + a * (xv - y1);
                let y2 = self.y2[k];
                let e2 = y2 + a * (e1 - y2);
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
/// until the noise window exists on bar n.
pub struct Kama<V: Simd> {
    n: [usize; 9],
    noise: [V; 9],
    kama: [V; 9],
}

impl<V: Simd> Kama<V> {
    #[inline(always)]
    pub fn new(n: &[usize; 9]) -> Self {
        Self { n: *n, noise: [V::splat(0.0); 9], kama: [V::splat(0.0); 9] }
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
        // |x[t] − x[t−1]|, shared by every member; absent on bar 0.
        let step = if WARM && t == 0 { zero } else { (xv - unsafe { load_at::<V>(x, t - 1) }).abs() };
        let span = V::splat(KAMA_FAST - KAMA_SLOW);
        let slow = V::splat(KAMA_SLOW);
        for k in 0..9 {
            let n = self.n[k];
            let mut ratio = zero;
            if WARM && t <= n {
                if t == n {
                    // The first noise window, bars 1 … n, summed as the reference.
                    // SAFETY: bars 0 … n are in x.
                    let noise = unsafe { pairwise_sum::<V, _>(&Steps(x), 1, n) };
                    self.noise[k] = noise;
                    let signal = (xv - unsafe { load_at::<V>(x, t - n) }).abs();
                    ratio = V::select(noise.ne(zero), signal / noise, zero);
                }
            } else {
                let back = unsafe { load_at::<V>(x, t - n) };
                let back1 = unsafe { load_at::<V>(x, t - n - 1) };
                let noise = (self.noise[k] - (back - back1).abs()) + step;
                self.noise[k] = noise;
                let signal = (xv - back).abs();
                // Division by a zero noise is discarded by the select (flat window → 0).
                ratio = V::select(noise.ne(zero), signal / noise, zero);
            }
            let sc = ratio * span + slow;
            let smooth = sc * sc;
            let p = self.kama[k];
            self.kama[k] = p + smooth * (xv - p);
            out[k] = self.kama[k];
        }
    }

    #[inline(always)]
    unsafe fn resum(&mut self, x: &[f64], t: usize) {
        for k in 0..9 {
            let n = self.n[k];
            // SAFETY: t ≥ n (t + 1 ≥ steady_from = max n + 1) and bar t is in x.
            self.noise[k] = unsafe { pairwise_sum::<V, _>(&Steps(x), t + 1 - n, n) };
        }
    }
}
