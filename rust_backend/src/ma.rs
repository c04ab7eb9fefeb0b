//! The moving-average families of spec §4 as O(1)-state streaming kernels.
//!
//! Each kernel advances the nine members of one family by one bar for all lanes of a
//! vector `V` at once (lanes are independent series). `step::<true>` handles every bar
//! including the warm-up; `step::<false>` is the branch-free steady state, valid from
//! [`MaKernel::steady_from`] on. Recursive averages (EMA, DEMA, KAMA) repeat the
//! reference's arithmetic operation for operation. Window sums (SMA, WMA, LSMA, KAMA
//! noise, Hull) run as add/subtract updates and are rebuilt from the window every
//! [`RESUM_PERIOD`] bars (see [`drive`]), so rounding cannot accumulate over long series.
//!
//! Sources are interleaved: lane `l` of bar `t` is `x[t * V::LANES + l]`.

use crate::simd::{load_at, store_at, Simd};

/// Bars between exact re-summations of running window sums (spec §13.8).
pub const RESUM_PERIOD: usize = 1024;

pub const KAMA_FAST: f64 = 0.666;
pub const KAMA_SLOW: f64 = 0.064;

const NAN: f64 = f64::NAN;

/// One family's nine members advanced bar by bar.
pub trait MaKernel<V: Simd> {
    /// First bar from which `step::<false>` is valid for every member.
    fn steady_from(&self) -> usize;

    /// Advance all members to bar `t` and write their values (NaN while warming up).
    ///
    /// # Safety
    /// Bars are stepped in order from 0; `x.len() >= (t + 1) * V::LANES`; with
    /// `WARM = false`, `t >= self.steady_from()`.
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut [V; 9]);

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

/// Step `ma` over bars `t0..t1` (continuing from `t0 − 1`), handing each bar's values to
/// `sink`: warm-up bars through the branchy path, the rest through the steady one, with
/// an exact re-summation before every bar that is a multiple of [`RESUM_PERIOD`].
///
/// # Panics
/// If `x` holds fewer than `t1` bars.
#[inline(always)]
pub fn drive<V: Simd, K: MaKernel<V>, S: BarSink<V>>(ma: &mut K, x: &[f64], t0: usize, t1: usize, sink: &mut S) {
    assert!(x.len() >= t1 * V::LANES);
    let mut cur = [V::splat(NAN); 9];
    let steady = ma.steady_from();
    let mut t = t0;
    while t < t1 && t < steady {
        // SAFETY: t < t1 ≤ bars in x, stepped in order.
        unsafe { ma.step::<true>(x, t, &mut cur) };
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
            unsafe { ma.step::<false>(x, u, &mut cur) };
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
/// If `x` holds fewer than `t + 1` bars.
#[inline(always)]
pub fn step_one<V: Simd, K: MaKernel<V>>(ma: &mut K, x: &[f64], t: usize, steady: usize, out: &mut [V; 9]) {
    assert!(x.len() >= (t + 1) * V::LANES);
    if t < steady {
        // SAFETY: t is in x, bars stepped in order.
        unsafe { ma.step::<true>(x, t, out) };
    } else {
        if t.is_multiple_of(RESUM_PERIOD) {
            // SAFETY: t ≥ steady ≥ 1 and bars up to t − 1 were stepped.
            unsafe { ma.resum(x, t - 1) };
        }
        // SAFETY: t ≥ steady_from.
        unsafe { ma.step::<false>(x, t, out) };
    }
}

/// Exact sum of `x[t+1-n ..= t]` per lane, oldest first.
///
/// # Safety
/// `t + 1 >= n` and `x.len() >= (t + 1) * V::LANES`.
#[inline(always)]
unsafe fn window_sum<V: Simd>(x: &[f64], t: usize, n: usize) -> V {
    let mut s = V::splat(0.0);
    for j in t + 1 - n..=t {
        s = s + unsafe { load_at::<V>(x, j) };
    }
    s
}

/// Exact (plain, weighted) sums of `x[t+1-n ..= t]`: weights 1 (oldest) … n (newest).
///
/// # Safety
/// `t + 1 >= n` and `x.len() >= (t + 1) * V::LANES`.
#[inline(always)]
unsafe fn window_wsum<V: Simd>(x: &[f64], t: usize, n: usize) -> WSums<V> {
    let mut acc = WSums::zero();
    let first = t + 1 - n;
    for j in first..=t {
        acc.grow(j - first, unsafe { load_at::<V>(x, j) });
    }
    acc
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
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut [V; 9]) {
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
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut [V; 9]) {
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
/// `ta.sma` (§4.3, the script's "HMA"): running window sum times 1/n.
pub struct Sma<V: Simd> {
    n: [usize; 9],
    inv: [V; 9],
    sum: [V; 9],
}

impl<V: Simd> Sma<V> {
    #[inline(always)]
    pub fn new(n: &[usize; 9]) -> Self {
        Self { n: *n, inv: n.map(|n| V::splat(1.0 / n as f64)), sum: [V::splat(0.0); 9] }
    }
}

impl<V: Simd> MaKernel<V> for Sma<V> {
    #[inline(always)]
    fn steady_from(&self) -> usize {
        self.n.iter().copied().max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut [V; 9]) {
        let xv = unsafe { load_at::<V>(x, t) };
        for k in 0..9 {
            let n = self.n[k];
            if WARM && t < n {
                self.sum[k] = self.sum[k] + xv;
                out[k] = if t == n - 1 { self.sum[k] * self.inv[k] } else { V::splat(NAN) };
            } else {
                let old = unsafe { load_at::<V>(x, t - n) };
                // (sum − old) + new is exact for n = 1, so an SMA(1) equals its source.
                self.sum[k] = (self.sum[k] - old) + xv;
                out[k] = self.sum[k] * self.inv[k];
            }
        }
    }

    #[inline(always)]
    unsafe fn resum(&mut self, x: &[f64], t: usize) {
        for k in 0..9 {
            self.sum[k] = unsafe { window_sum::<V>(x, t, self.n[k]) };
        }
    }
}

// ---------------------------------------------------------------------------------------
/// Running plain (`s`) and weighted (`w`, weights 1 oldest … n newest) window sums: the
/// WMA/LSMA/Hull building block.
#[derive(Clone, Copy)]
struct WSums<V: Simd> {
    s: V,
    w: V,
}

impl<V: Simd> WSums<V> {
    #[inline(always)]
    fn zero() -> Self {
        Self { s: V::splat(0.0), w: V::splat(0.0) }
    }

    /// Warm-up: add bar `u` (0-based within the first window).
    #[inline(always)]
    fn grow(&mut self, u: usize, v: V) {
        self.s = self.s + v;
        self.w = self.w + V::splat((u + 1) as f64) * v;
    }

    /// Slide a full window of length `n` by one bar: drop `old`, add `v`.
    #[inline(always)]
    fn slide(&mut self, n: V, old: V, v: V) {
        self.w = (self.w - self.s) + n * v;
        self.s = (self.s - old) + v;
    }
}

fn wma_inv(n: usize) -> f64 {
    1.0 / (n as f64 * (n + 1) as f64 / 2.0)
}

/// `ta.wma` (§4.4): weights n (newest) … 1 (oldest), divisor n(n+1)/2.
pub struct Wma<V: Simd> {
    n: [usize; 9],
    n_v: [V; 9],
    inv: [V; 9],
    sums: [WSums<V>; 9],
}

impl<V: Simd> Wma<V> {
    #[inline(always)]
    pub fn new(n: &[usize; 9]) -> Self {
        Self {
            n: *n,
            n_v: n.map(|n| V::splat(n as f64)),
            inv: n.map(|n| V::splat(wma_inv(n))),
            sums: [WSums::zero(); 9],
        }
    }
}

impl<V: Simd> MaKernel<V> for Wma<V> {
    #[inline(always)]
    fn steady_from(&self) -> usize {
        self.n.iter().copied().max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut [V; 9]) {
        let xv = unsafe { load_at::<V>(x, t) };
        for k in 0..9 {
            let n = self.n[k];
            if WARM && t < n {
                self.sums[k].grow(t, xv);
                out[k] = if t == n - 1 { self.sums[k].w * self.inv[k] } else { V::splat(NAN) };
            } else {
                let old = unsafe { load_at::<V>(x, t - n) };
                self.sums[k].slide(self.n_v[k], old, xv);
                out[k] = self.sums[k].w * self.inv[k];
            }
        }
    }

    #[inline(always)]
    unsafe fn resum(&mut self, x: &[f64], t: usize) {
        for k in 0..9 {
            self.sums[k] = unsafe { window_wsum::<V>(x, t, self.n[k]) };
        }
    }
}

// ---------------------------------------------------------------------------------------
/// `ta.linreg(x, n, 0)` (§4.6): least-squares line over the window, at the newest bar.
///
/// With S = Σy, W = Σ(p+1)·y (the WMA sum; p = 0 oldest … n−1 newest) and
/// D = n·Σp² − (Σp)², the value at p = n−1 is S/n + slope·(n−1)/2 with
/// slope = (n·(W − S) − Σp·S)/D, i.e. c_s·S + c_w·W with
/// c_w = n(n−1)/(2D) and c_s = 1/n − (n + Σp)(n−1)/(2D).
pub struct Lsma<V: Simd> {
    n: [usize; 9],
    n_v: [V; 9],
    c_s: [V; 9],
    c_w: [V; 9],
    sums: [WSums<V>; 9],
}

impl<V: Simd> Lsma<V> {
    #[inline(always)]
    pub fn new(n: &[usize; 9]) -> Self {
        let mut c_s = [V::splat(0.0); 9];
        let mut c_w = [V::splat(0.0); 9];
        for k in 0..9 {
            let nf = n[k] as f64;
            let sum_p = nf * (nf - 1.0) / 2.0;
            let sum_pp = (nf - 1.0) * nf * (2.0 * nf - 1.0) / 6.0;
            let den = nf * sum_pp - sum_p * sum_p;
            // n = 1 and n = 2 take their own exact paths and never use these.
            if den > 0.0 {
                let half_span = (nf - 1.0) / 2.0;
                c_w[k] = V::splat(nf * half_span / den);
                c_s[k] = V::splat(1.0 / nf - (nf + sum_p) * half_span / den);
            }
        }
        Self { n: *n, n_v: n.map(|n| V::splat(n as f64)), c_s, c_w, sums: [WSums::zero(); 9] }
    }

    #[inline(always)]
    fn value(&self, k: usize) -> V {
        self.c_s[k] * self.sums[k].s + self.c_w[k] * self.sums[k].w
    }
}

impl<V: Simd> MaKernel<V> for Lsma<V> {
    #[inline(always)]
    fn steady_from(&self) -> usize {
        self.n.iter().copied().max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut [V; 9]) {
        let xv = unsafe { load_at::<V>(x, t) };
        for k in 0..9 {
            let n = self.n[k];
            if n == 1 {
                out[k] = xv;
            } else if n == 2 {
                // A line through two points ends on the newest one: the value is the close
                // up to rounding, so which side it lands on decides crossovers. Repeat the
                // reference's arithmetic exactly (Σy = x0 + x1, Σp·y = x1).
                out[k] = if WARM && t == 0 {
                    V::splat(NAN)
                } else {
                    let prev = unsafe { load_at::<V>(x, t - 1) };
                    let sum_y = prev + xv;
                    let slope = V::splat(2.0) * xv - sum_y;
                    let intercept = (sum_y - slope) / V::splat(2.0);
                    intercept + slope
                };
            } else if WARM && t < n {
                self.sums[k].grow(t, xv);
                out[k] = if t == n - 1 { self.value(k) } else { V::splat(NAN) };
            } else {
                let old = unsafe { load_at::<V>(x, t - n) };
                self.sums[k].slide(self.n_v[k], old, xv);
                out[k] = self.value(k);
            }
        }
    }

    #[inline(always)]
    unsafe fn resum(&mut self, x: &[f64], t: usize) {
        for k in 0..9 {
            self.sums[k] = unsafe { window_wsum::<V>(x, t, self.n[k]) };
        }
    }
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
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut [V; 9]) {
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
                if t >= 1 {
                    self.noise[k] = self.noise[k] + step;
                }
                if t == n {
                    let noise = self.noise[k];
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
            let mut s = V::splat(0.0);
            for j in t + 1 - self.n[k]..=t {
                let a = unsafe { load_at::<V>(x, j) };
                let b = unsafe { load_at::<V>(x, j - 1) };
                s = s + (a - b).abs();
            }
            self.noise[k] = s;
        }
    }
}

// ---------------------------------------------------------------------------------------
/// A real Hull MA (option `hma_kind = "hull"`): WMA(2·WMA(x, n/2) − WMA(x, n), ⌊√n⌋),
/// as `core/atc/moving_averages.py` `hull`. Keeps each member's raw series, over which
/// the outer WMA slides.
pub struct Hull<V: Simd> {
    n: [usize; 9],
    half: [usize; 9],
    root: [usize; 9],
    inv_half: [V; 9],
    inv_n: [V; 9],
    inv_root: [V; 9],
    s_half: [WSums<V>; 9],
    s_n: [WSums<V>; 9],
    s_root: [WSums<V>; 9],
    /// Raw series, member-major, interleaved: `raw[k * bars * LANES + t * LANES + l]`.
    raw: Vec<f64>,
    bars: usize,
}

impl<V: Simd> Hull<V> {
    /// `raw` is reused storage (contents overwritten); take it back with
    /// [`Hull::into_storage`].
    #[inline(always)]
    pub fn new(n: &[usize; 9], bars: usize, mut raw: Vec<f64>) -> Self {
        let half = n.map(|n| (n / 2).max(1));
        let root = n.map(|n| ((n as f64).sqrt().floor() as usize).max(1));
        raw.clear();
        raw.resize(9 * bars * V::LANES, NAN);
        Self {
            n: *n,
            half,
            root,
            inv_half: half.map(|n| V::splat(wma_inv(n))),
            inv_n: n.map(|n| V::splat(wma_inv(n))),
            inv_root: root.map(|n| V::splat(wma_inv(n))),
            s_half: [WSums::zero(); 9],
            s_n: [WSums::zero(); 9],
            s_root: [WSums::zero(); 9],
            raw,
            bars,
        }
    }

    pub fn into_storage(self) -> Vec<f64> {
        self.raw
    }
}

impl<V: Simd> MaKernel<V> for Hull<V> {
    #[inline(always)]
    fn steady_from(&self) -> usize {
        (0..9).map(|k| self.n[k] + self.root[k] - 1).max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut [V; 9]) {
        let xv = unsafe { load_at::<V>(x, t) };
        let nan = V::splat(NAN);
        let stride = self.bars * V::LANES;
        for k in 0..9 {
            let (n, half, root) = (self.n[k], self.half[k], self.root[k]);
            let vh = if WARM && t < half {
                self.s_half[k].grow(t, xv);
                if t == half - 1 {
                    self.s_half[k].w * self.inv_half[k]
                } else {
                    nan
                }
            } else {
                let old = unsafe { load_at::<V>(x, t - half) };
                self.s_half[k].slide(V::splat(half as f64), old, xv);
                self.s_half[k].w * self.inv_half[k]
            };
            let vn = if WARM && t < n {
                self.s_n[k].grow(t, xv);
                if t == n - 1 {
                    self.s_n[k].w * self.inv_n[k]
                } else {
                    nan
                }
            } else {
                let old = unsafe { load_at::<V>(x, t - n) };
                self.s_n[k].slide(V::splat(n as f64), old, xv);
                self.s_n[k].w * self.inv_n[k]
            };
            let rv = V::splat(2.0) * vh - vn;
            let raw = &mut self.raw[k * stride..(k + 1) * stride];
            unsafe { store_at::<V>(raw, t, rv) };
            // The outer WMA over the raw series, which exists from bar n−1 on.
            out[k] = if WARM && t + 1 < n {
                nan
            } else if WARM && t + 1 < n + root {
                let u = t + 1 - n;
                self.s_root[k].grow(u, rv);
                if u == root - 1 {
                    self.s_root[k].w * self.inv_root[k]
                } else {
                    nan
                }
            } else {
                let old = unsafe { load_at::<V>(raw, t - root) };
                self.s_root[k].slide(V::splat(root as f64), old, rv);
                self.s_root[k].w * self.inv_root[k]
            };
        }
    }

    #[inline(always)]
    unsafe fn resum(&mut self, x: &[f64], t: usize) {
        let stride = self.bars * V::LANES;
        for k in 0..9 {
            self.s_half[k] = unsafe { window_wsum::<V>(x, t, self.half[k]) };
            self.s_n[k] = unsafe { window_wsum::<V>(x, t, self.n[k]) };
            let raw = &self.raw[k * stride..(k + 1) * stride];
            self.s_root[k] = unsafe { window_wsum::<V>(raw, t, self.root[k]) };
        }
    }
}
