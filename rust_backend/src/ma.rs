//! The moving-average families of spec §4 as O(1)-state streaming kernels.
//!
//! Each kernel advances the nine members of one family by one bar for `L` lanes at once.
//! `step::<true>` handles every bar including the warm-up; `step::<false>` is the
//! branch-free steady state, valid from [`MaKernel::steady_from`] on. Recursive averages
//! (EMA, DEMA, KAMA) repeat the reference's arithmetic operation for operation. Window
//! sums (SMA, WMA, LSMA, KAMA noise, Hull) run as add/subtract updates and are rebuilt
//! from the window by [`MaKernel::resum`] every [`RESUM_PERIOD`] bars, so rounding cannot
//! accumulate over long series.

use crate::lanes::{load, splat, Members};

/// Bars between exact re-summations of running window sums (spec §13.8).
pub const RESUM_PERIOD: usize = 1024;

pub const KAMA_FAST: f64 = 0.666;
pub const KAMA_SLOW: f64 = 0.064;

/// One family's nine members advanced bar by bar over an interleaved source `x`.
pub trait MaKernel<const L: usize> {
    /// First bar from which `step::<false>` is valid for every member.
    fn steady_from(&self) -> usize;

    /// Advance all members to bar `t` and write their values (NaN while warming up).
    ///
    /// # Safety
    /// Bars must be stepped in order from 0; `x.len() >= (t + 1) * L`; with
    /// `WARM = false`, `t >= self.steady_from()`.
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut Members<L>);

    /// Rebuild running window sums exactly from the windows ending at bar `t`.
    ///
    /// # Safety
    /// `t >= self.steady_from() - 1`, `x.len() >= (t + 1) * L` and bars up to `t` stepped.
    unsafe fn resum(&mut self, x: &[f64], t: usize);
}

const NAN: f64 = f64::NAN;

/// Exact sum of `x[t+1-n ..= t]` per lane, oldest first.
///
/// # Safety
/// `t + 1 >= n` and `x.len() >= (t + 1) * L`.
#[inline(always)]
unsafe fn window_sum<const L: usize>(x: &[f64], t: usize, n: usize) -> [f64; L] {
    let mut s = splat::<L>(0.0);
    for j in t + 1 - n..=t {
        let v = unsafe { load::<L>(x, j) };
        for l in 0..L {
            s[l] += v[l];
        }
    }
    s
}

/// Exact (plain, weighted) sums of `x[t+1-n ..= t]`: weights 1 (oldest) … n (newest).
///
/// # Safety
/// `t + 1 >= n` and `x.len() >= (t + 1) * L`.
#[inline(always)]
unsafe fn window_wsum<const L: usize>(x: &[f64], t: usize, n: usize) -> ([f64; L], [f64; L]) {
    let mut s = splat::<L>(0.0);
    let mut w = splat::<L>(0.0);
    let first = t + 1 - n;
    for j in first..=t {
        let v = unsafe { load::<L>(x, j) };
        let weight = (j - first + 1) as f64;
        for l in 0..L {
            s[l] += v[l];
            w[l] += weight * v[l];
        }
    }
    (s, w)
}

// ---------------------------------------------------------------------------------------
/// `ta.ema` (§4.2): SMA seed over the first `n` bars, then `y + α·(x − y)`.
pub struct Ema<const L: usize> {
    n: [usize; 9],
    alpha: [f64; 9],
    total: Members<L>,
    y: Members<L>,
}

impl<const L: usize> Ema<L> {
    pub fn new(n: &[usize; 9]) -> Self {
        Self { n: *n, alpha: n.map(|n| 2.0 / (n + 1) as f64), total: [[0.0; L]; 9], y: [[NAN; L]; 9] }
    }
}

impl<const L: usize> MaKernel<L> for Ema<L> {
    fn steady_from(&self) -> usize {
        self.n.iter().copied().max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut Members<L>) {
        let xv = unsafe { load::<L>(x, t) };
        for k in 0..9 {
            let n = self.n[k];
            if WARM && t < n {
                for l in 0..L {
                    self.total[k][l] += xv[l];
                }
                if t == n - 1 {
                    for l in 0..L {
                        self.y[k][l] = self.total[k][l] / n as f64;
                    }
                }
                out[k] = self.y[k];
            } else {
                let a = self.alpha[k];
                for l in 0..L {
                    let y = self.y[k][l];
                    self.y[k][l] = y + a * (xv[l] - y);
                }
                out[k] = self.y[k];
            }
        }
    }

    unsafe fn resum(&mut self, _x: &[f64], _t: usize) {}
}

// ---------------------------------------------------------------------------------------
/// TradingView/ta `dema` (§4.5): `2·E1 − E2`, E2 an EMA of E1 seeded with the mean of E1
/// over bars n−1 … 2n−2.
pub struct Dema<const L: usize> {
    n: [usize; 9],
    alpha: [f64; 9],
    total1: Members<L>,
    y1: Members<L>,
    total2: Members<L>,
    y2: Members<L>,
}

impl<const L: usize> Dema<L> {
    pub fn new(n: &[usize; 9]) -> Self {
        Self {
            n: *n,
            alpha: n.map(|n| 2.0 / (n + 1) as f64),
            total1: [[0.0; L]; 9],
            y1: [[NAN; L]; 9],
            total2: [[0.0; L]; 9],
            y2: [[NAN; L]; 9],
        }
    }
}

impl<const L: usize> MaKernel<L> for Dema<L> {
    fn steady_from(&self) -> usize {
        self.n.iter().map(|n| 2 * n - 1).max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut Members<L>) {
        let xv = unsafe { load::<L>(x, t) };
        for k in 0..9 {
            let n = self.n[k];
            let a = self.alpha[k];
            if WARM && t < 2 * n - 1 {
                // E1 warm-up or its first steps.
                if t < n {
                    for l in 0..L {
                        self.total1[k][l] += xv[l];
                    }
                    if t == n - 1 {
                        for l in 0..L {
                            self.y1[k][l] = self.total1[k][l] / n as f64;
                        }
                    }
                } else {
                    for l in 0..L {
                        let y = self.y1[k][l];
                        self.y1[k][l] = y + a * (xv[l] - y);
                    }
                }
                // E2 sees E1 only from bar n−1 on (ta.ema skips na).
                if t + 1 >= n {
                    for l in 0..L {
                        self.total2[k][l] += self.y1[k][l];
                    }
                }
                if t == 2 * n - 2 {
                    for l in 0..L {
                        self.y2[k][l] = self.total2[k][l] / n as f64;
                    }
                }
                for l in 0..L {
                    out[k][l] = 2.0 * self.y1[k][l] - self.y2[k][l];
                }
            } else {
                for l in 0..L {
                    let y1 = self.y1[k][l];
                    let e1 = y1 + a * (xv[l] - y1);
                    let y2 = self.y2[k][l];
                    let e2 = y2 + a * (e1 - y2);
                    self.y1[k][l] = e1;
                    self.y2[k][l] = e2;
                    out[k][l] = 2.0 * e1 - e2;
                }
            }
        }
    }

    unsafe fn resum(&mut self, _x: &[f64], _t: usize) {}
}

// ---------------------------------------------------------------------------------------
/// `ta.sma` (§4.3, the script's "HMA"): running window sum times 1/n.
pub struct Sma<const L: usize> {
    n: [usize; 9],
    inv: [f64; 9],
    sum: Members<L>,
}

impl<const L: usize> Sma<L> {
    pub fn new(n: &[usize; 9]) -> Self {
        Self { n: *n, inv: n.map(|n| 1.0 / n as f64), sum: [[0.0; L]; 9] }
    }
}

impl<const L: usize> MaKernel<L> for Sma<L> {
    fn steady_from(&self) -> usize {
        self.n.iter().copied().max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut Members<L>) {
        let xv = unsafe { load::<L>(x, t) };
        for k in 0..9 {
            let n = self.n[k];
            let inv = self.inv[k];
            if WARM && t < n {
                for l in 0..L {
                    self.sum[k][l] += xv[l];
                    out[k][l] = if t == n - 1 { self.sum[k][l] * inv } else { NAN };
                }
            } else {
                let old = unsafe { load::<L>(x, t - n) };
                for l in 0..L {
                    // (sum − old) + new: exact when n = 1, so an SMA(1) equals its source.
                    let s = (self.sum[k][l] - old[l]) + xv[l];
                    self.sum[k][l] = s;
                    out[k][l] = s * inv;
                }
            }
        }
    }

    unsafe fn resum(&mut self, x: &[f64], t: usize) {
        for k in 0..9 {
            self.sum[k] = unsafe { window_sum::<L>(x, t, self.n[k]) };
        }
    }
}

// ---------------------------------------------------------------------------------------
/// Running plain and weighted window sums of one member: the WMA/LSMA building block.
#[derive(Clone, Copy)]
struct WSums<const L: usize> {
    s: [f64; L],
    w: [f64; L],
}

impl<const L: usize> WSums<L> {
    const ZERO: Self = Self { s: [0.0; L], w: [0.0; L] };

    /// Warm-up: add bar `u` (0-based within the first window) of value `v`.
    #[inline(always)]
    fn grow(&mut self, u: usize, v: &[f64; L]) {
        let weight = (u + 1) as f64;
        for l in 0..L {
            self.s[l] += v[l];
            self.w[l] += weight * v[l];
        }
    }

    /// Slide the full window of length `n_f` by one: drop `old`, add `v`.
    #[inline(always)]
    fn slide(&mut self, n_f: f64, old: &[f64; L], v: &[f64; L]) {
        for l in 0..L {
            self.w[l] = (self.w[l] - self.s[l]) + n_f * v[l];
            self.s[l] = (self.s[l] - old[l]) + v[l];
        }
    }
}

/// `ta.wma` (§4.4): weights n (newest) … 1 (oldest), divisor n(n+1)/2.
pub struct Wma<const L: usize> {
    n: [usize; 9],
    n_f: [f64; 9],
    inv: [f64; 9],
    sums: [WSums<L>; 9],
}

impl<const L: usize> Wma<L> {
    pub fn new(n: &[usize; 9]) -> Self {
        Self {
            n: *n,
            n_f: n.map(|n| n as f64),
            inv: n.map(|n| 1.0 / (n as f64 * (n + 1) as f64 / 2.0)),
            sums: [WSums::ZERO; 9],
        }
    }
}

impl<const L: usize> MaKernel<L> for Wma<L> {
    fn steady_from(&self) -> usize {
        self.n.iter().copied().max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut Members<L>) {
        let xv = unsafe { load::<L>(x, t) };
        for k in 0..9 {
            let n = self.n[k];
            let inv = self.inv[k];
            if WARM && t < n {
                self.sums[k].grow(t, &xv);
                for l in 0..L {
                    out[k][l] = if t == n - 1 { self.sums[k].w[l] * inv } else { NAN };
                }
            } else {
                let old = unsafe { load::<L>(x, t - n) };
                self.sums[k].slide(self.n_f[k], &old, &xv);
                for l in 0..L {
                    out[k][l] = self.sums[k].w[l] * inv;
                }
            }
        }
    }

    unsafe fn resum(&mut self, x: &[f64], t: usize) {
        for k in 0..9 {
            let (s, w) = unsafe { window_wsum::<L>(x, t, self.n[k]) };
            self.sums[k] = WSums { s, w };
        }
    }
}

// ---------------------------------------------------------------------------------------
/// `ta.linreg(x, n, 0)` (§4.6): least-squares line over the window, at the newest bar.
///
/// With S = Σy and P = Σp·y (p = 0 oldest … n−1 newest; P = W − S for the WMA sum W):
/// slope = (n·P − Σp·S) / (n·Σp² − (Σp)²) and the value at p = n−1 is
/// S/n + slope·(n−1)/2.
pub struct Lsma<const L: usize> {
    n: [usize; 9],
    n_f: [f64; 9],
    sum_p: [f64; 9],
    inv_den: [f64; 9],
    inv_n: [f64; 9],
    half_span: [f64; 9],
    sums: [WSums<L>; 9],
}

impl<const L: usize> Lsma<L> {
    pub fn new(n: &[usize; 9]) -> Self {
        let nf = n.map(|n| n as f64);
        let sum_p = nf.map(|n| n * (n - 1.0) / 2.0);
        let sum_pp = nf.map(|n| (n - 1.0) * n * (2.0 * n - 1.0) / 6.0);
        let mut inv_den = [0.0; 9];
        for k in 0..9 {
            let den = nf[k] * sum_pp[k] - sum_p[k] * sum_p[k];
            // n = 1 is the identity and never uses the slope.
            inv_den[k] = if den > 0.0 { 1.0 / den } else { 0.0 };
        }
        Self {
            n: *n,
            n_f: nf,
            sum_p,
            inv_den,
            inv_n: nf.map(|n| 1.0 / n),
            half_span: nf.map(|n| (n - 1.0) / 2.0),
            sums: [WSums::ZERO; 9],
        }
    }

    #[inline(always)]
    fn value(&self, k: usize, l: usize) -> f64 {
        let s = self.sums[k].s[l];
        let p = self.sums[k].w[l] - s;
        let slope = (self.n_f[k] * p - self.sum_p[k] * s) * self.inv_den[k];
        s * self.inv_n[k] + slope * self.half_span[k]
    }
}

impl<const L: usize> MaKernel<L> for Lsma<L> {
    fn steady_from(&self) -> usize {
        self.n.iter().copied().max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut Members<L>) {
        let xv = unsafe { load::<L>(x, t) };
        for k in 0..9 {
            let n = self.n[k];
            if n == 1 {
                out[k] = xv;
            } else if n == 2 {
                // A line through two points ends on the newest one: the value is the close
                // up to rounding, so which side it falls on decides crossovers. Repeat the
                // reference's arithmetic exactly (Σy = x0 + x1, Σp·y = x1).
                if t >= 1 {
                    let prev = unsafe { load::<L>(x, t - 1) };
                    for l in 0..L {
                        let sum_y = prev[l] + xv[l];
                        let slope = 2.0 * xv[l] - sum_y;
                        let intercept = (sum_y - slope) / 2.0;
                        out[k][l] = intercept + slope;
                    }
                } else {
                    out[k] = splat(NAN);
                }
            } else if WARM && t < n {
                self.sums[k].grow(t, &xv);
                for l in 0..L {
                    out[k][l] = if t == n - 1 { self.value(k, l) } else { NAN };
                }
            } else {
                let old = unsafe { load::<L>(x, t - n) };
                self.sums[k].slide(self.n_f[k], &old, &xv);
                for l in 0..L {
                    out[k][l] = self.value(k, l);
                }
            }
        }
    }

    unsafe fn resum(&mut self, x: &[f64], t: usize) {
        for k in 0..9 {
            let (s, w) = unsafe { window_wsum::<L>(x, t, self.n[k]) };
            self.sums[k] = WSums { s, w };
        }
    }
}

// ---------------------------------------------------------------------------------------
/// The script's KAMA (§4.7): from 0, smoothing (ratio·(fast − slow) + slow)², ratio 0
/// until the noise window exists on bar n.
pub struct Kama<const L: usize> {
    n: [usize; 9],
    noise: Members<L>,
    kama: Members<L>,
}

impl<const L: usize> Kama<L> {
    pub fn new(n: &[usize; 9]) -> Self {
        Self { n: *n, noise: [[0.0; L]; 9], kama: [[0.0; L]; 9] }
    }
}

impl<const L: usize> MaKernel<L> for Kama<L> {
    fn steady_from(&self) -> usize {
        self.n.iter().map(|n| n + 1).max().unwrap_or(2)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut Members<L>) {
        let xv = unsafe { load::<L>(x, t) };
        // |x[t] − x[t−1]|, shared by every member; absent on bar 0.
        let mut step = splat::<L>(0.0);
        if !WARM || t >= 1 {
            let xp = unsafe { load::<L>(x, t - 1) };
            for l in 0..L {
                step[l] = (xv[l] - xp[l]).abs();
            }
        }
        let span = KAMA_FAST - KAMA_SLOW;
        for k in 0..9 {
            let n = self.n[k];
            let mut ratio = splat::<L>(0.0);
            if WARM && t <= n {
                if t >= 1 {
                    for l in 0..L {
                        self.noise[k][l] += step[l];
                    }
                }
                if t == n {
                    let back = unsafe { load::<L>(x, t - n) };
                    for l in 0..L {
                        let noise = self.noise[k][l];
                        let signal = (xv[l] - back[l]).abs();
                        ratio[l] = if noise != 0.0 { signal / noise } else { 0.0 };
                    }
                }
            } else {
                let back = unsafe { load::<L>(x, t - n) };
                let back1 = unsafe { load::<L>(x, t - n - 1) };
                for l in 0..L {
                    let noise = (self.noise[k][l] - (back[l] - back1[l]).abs()) + step[l];
                    self.noise[k][l] = noise;
                    let signal = (xv[l] - back[l]).abs();
                    ratio[l] = if noise != 0.0 { signal / noise } else { 0.0 };
                }
            }
            for l in 0..L {
                let sc = ratio[l] * span + KAMA_SLOW;
                let smooth = sc * sc;
                let p = self.kama[k][l];
                let v = p + smooth * (xv[l] - p);
                self.kama[k][l] = v;
                out[k][l] = v;
            }
        }
    }

    unsafe fn resum(&mut self, x: &[f64], t: usize) {
        for k in 0..9 {
            let n = self.n[k];
            let mut s = splat::<L>(0.0);
            for j in t + 1 - n..=t {
                let a = unsafe { load::<L>(x, j) };
                let b = unsafe { load::<L>(x, j - 1) };
                for l in 0..L {
                    s[l] += (a[l] - b[l]).abs();
                }
            }
            self.noise[k] = s;
        }
    }
}

// ---------------------------------------------------------------------------------------
/// A real Hull MA (option `hma_kind = "hull"`): WMA(2·WMA(x, n/2) − WMA(x, n), ⌊√n⌋).
/// Keeps the raw series per member, because the outer WMA slides over it.
pub struct Hull<const L: usize> {
    n: [usize; 9],
    half: [usize; 9],
    root: [usize; 9],
    inv_half: [f64; 9],
    inv_n: [f64; 9],
    inv_root: [f64; 9],
    s_half: [WSums<L>; 9],
    s_n: [WSums<L>; 9],
    s_root: [WSums<L>; 9],
    /// Raw series, member-major, interleaved: `raw[k * bars * L + t * L + l]`.
    raw: Vec<f64>,
    bars: usize,
}

fn wma_inv(n: usize) -> f64 {
    1.0 / (n as f64 * (n + 1) as f64 / 2.0)
}

impl<const L: usize> Hull<L> {
    /// `raw` is reused storage (its contents are overwritten); get it back with
    /// [`Hull::into_storage`].
    pub fn new(n: &[usize; 9], bars: usize, mut raw: Vec<f64>) -> Self {
        let half = n.map(|n| (n / 2).max(1));
        let root = n.map(|n| ((n as f64).sqrt().floor() as usize).max(1));
        raw.clear();
        raw.resize(9 * bars * L, NAN);
        Self {
            n: *n,
            half,
            root,
            inv_half: half.map(wma_inv),
            inv_n: n.map(wma_inv),
            inv_root: root.map(wma_inv),
            s_half: [WSums::ZERO; 9],
            s_n: [WSums::ZERO; 9],
            s_root: [WSums::ZERO; 9],
            raw,
            bars,
        }
    }

    pub fn into_storage(self) -> Vec<f64> {
        self.raw
    }
}

impl<const L: usize> MaKernel<L> for Hull<L> {
    fn steady_from(&self) -> usize {
        (0..9).map(|k| self.n[k] + self.root[k] - 1).max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], t: usize, out: &mut Members<L>) {
        let xv = unsafe { load::<L>(x, t) };
        let stride = self.bars * L;
        for k in 0..9 {
            let (n, half, root) = (self.n[k], self.half[k], self.root[k]);
            let raw = &mut self.raw[k * stride..(k + 1) * stride];
            // Inner WMAs over x.
            let mut vh = splat::<L>(NAN);
            if WARM && t < half {
                self.s_half[k].grow(t, &xv);
                if t == half - 1 {
                    vh = self.s_half[k].w.map(|w| w * self.inv_half[k]);
                }
            } else {
                let old = unsafe { load::<L>(x, t - half) };
                self.s_half[k].slide(half as f64, &old, &xv);
                vh = self.s_half[k].w.map(|w| w * self.inv_half[k]);
            }
            let mut vn = splat::<L>(NAN);
            if WARM && t < n {
                self.s_n[k].grow(t, &xv);
                if t == n - 1 {
                    vn = self.s_n[k].w.map(|w| w * self.inv_n[k]);
                }
            } else {
                let old = unsafe { load::<L>(x, t - n) };
                self.s_n[k].slide(n as f64, &old, &xv);
                vn = self.s_n[k].w.map(|w| w * self.inv_n[k]);
            }
            let mut rv = splat::<L>(0.0);
            for l in 0..L {
                rv[l] = 2.0 * vh[l] - vn[l];
            }
            unsafe { crate::lanes::store::<L>(raw, t, rv) };
            // Outer WMA over the raw series, which exists from bar n−1 on.
            if WARM && t + 1 < n {
                out[k] = splat(NAN);
            } else if WARM && t + 1 < n + root {
                let u = t + 1 - n;
                self.s_root[k].grow(u, &rv);
                out[k] = if u == root - 1 {
                    self.s_root[k].w.map(|w| w * self.inv_root[k])
                } else {
                    splat(NAN)
                };
            } else {
                let old = unsafe { load::<L>(raw, t - root) };
                self.s_root[k].slide(root as f64, &old, &rv);
                out[k] = self.s_root[k].w.map(|w| w * self.inv_root[k]);
            }
        }
    }

    unsafe fn resum(&mut self, x: &[f64], t: usize) {
        let stride = self.bars * L;
        for k in 0..9 {
            let (s, w) = unsafe { window_wsum::<L>(x, t, self.half[k]) };
            self.s_half[k] = WSums { s, w };
            let (s, w) = unsafe { window_wsum::<L>(x, t, self.n[k]) };
            self.s_n[k] = WSums { s, w };
            let raw = &self.raw[k * stride..(k + 1) * stride];
            let (s, w) = unsafe { window_wsum::<L>(raw, t, self.root[k]) };
            self.s_root[k] = WSums { s, w };
        }
    }
}
