//! The window-sum families: SMA (§4.3), WMA (§4.4), LSMA (§4.6) and the optional Hull MA,
//! as running plain/weighted window sums that [`drive`](crate::ma::drive) re-sums exactly
//! every [`RESUM_PERIOD`](crate::ma::RESUM_PERIOD) bars.

use crate::ma::MaKernel;
use crate::simd::{load_at, store_at, Simd};

const NAN: f64 = f64::NAN;

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
