//! The window-sum families: SMA (§4.3), WMA (§4.4), LSMA (§4.6) and the optional Hull MA,
//! as running plain/weighted window sums.
//!
//! A running sum adds the new value and drops the old one each bar; it starts from the
//! first full window summed directly and is rebuilt directly every
//! [`RESUM_PERIOD`](crate::ma::RESUM_PERIOD) bars (see [`drive`](crate::ma::drive)), both
//! in the reference's order ([`crate::exact`]). Where a member's value lands within
//! [`TIE_BAND`](crate::exact::TIE_BAND) of the close it is compared with (checked once
//! per family and bar, [`TieScan`]), that member's sums are recomputed from the window in
//! the reference's order and its value is evaluated with the reference's formula, so
//! exact ties with the close come out as in the reference; the recomputed sums become the
//! running state. Lanes are independent: only the lanes near a tie take the recomputed
//! values.

use crate::exact::{pairwise_sum, seq_dot, tie_skip, Bars, TieScan};
use crate::ma::MaKernel;
use crate::simd::{load_at, store_at, Simd};

const NAN: f64 = f64::NAN;

/// Sum of bars `first … first + n − 1` per lane, in numpy's pairwise order.
///
/// # Panics
/// If `x` holds fewer than `first + n` bars.
#[inline(always)]
fn window_sum<V: Simd>(x: &[f64], first: usize, n: usize) -> V {
    assert!((first + n) * V::LANES <= x.len());
    // SAFETY: bars first … first + n − 1 are in x (asserted).
    unsafe { pairwise_sum(&Bars(x), first, n) }
}

/// Dot product of bars `first … first + n − 1` with weights `w0 … w0 + n − 1` per lane,
/// left to right as numpy's matmul.
///
/// # Panics
/// If `x` holds fewer than `first + n` bars.
#[inline(always)]
fn window_dot<V: Simd>(x: &[f64], first: usize, n: usize, w0: usize) -> V {
    assert!((first + n) * V::LANES <= x.len());
    // SAFETY: as above.
    unsafe { seq_dot(&Bars(x), first, n, w0) }
}

// ---------------------------------------------------------------------------------------
/// `ta.sma` (§4.3, the script's "HMA"): running window sum times 1/n; near a tie with the
/// close, the pairwise window sum divided by n as the reference.
pub struct Sma<V: Simd> {
    n: [usize; 9],
    /// Length 1 needs no tie recompute: (S − x_{t−1}) + x_t = x_t exactly.
    skip: [V; 9],
    /// Whether some member is skipped.
    skipping: bool,
    n_v: [V; 9],
    inv: [V; 9],
    sum: [V; 9],
}

impl<V: Simd> Sma<V> {
    #[inline(always)]
    pub fn new(n: &[usize; 9]) -> Self {
        Self {
            n: *n,
            skip: n.map(|n| tie_skip(n == 1)),
            skipping: n.contains(&1),
            n_v: n.map(|n| V::splat(n as f64)),
            inv: n.map(|n| V::splat(1.0 / n as f64)),
            sum: [V::splat(0.0); 9],
        }
    }
}

impl<V: Simd> MaKernel<V> for Sma<V> {
    #[inline(always)]
    fn steady_from(&self) -> usize {
        self.n.iter().copied().max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], close: &[f64], t: usize, out: &mut [V; 9]) {
        let xv = unsafe { load_at::<V>(x, t) };
        let scan = TieScan::new(unsafe { load_at::<V>(close, t) });
        for k in 0..9 {
            let n = self.n[k];
            if WARM && t + 1 < n {
                out[k] = V::splat(NAN);
                continue;
            }
            if WARM && t + 1 == n {
                self.sum[k] = window_sum(x, 0, n);
            } else {
                let old = unsafe { load_at::<V>(x, t - n) };
                self.sum[k] = (self.sum[k] - old) + xv;
            }
            out[k] = self.sum[k] * self.inv[k];
        }
        if scan.any::<WARM>(out, &self.skip, self.skipping) {
            for k in 0..9 {
                let n = self.n[k];
                let tie = scan.tie(out[k]);
                if n > 1 && V::bits(tie) != 0 {
                    let s = window_sum(x, t + 1 - n, n);
                    self.sum[k] = V::select(tie, s, self.sum[k]);
                    out[k] = V::select(tie, s / self.n_v[k], out[k]);
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn resum(&mut self, x: &[f64], t: usize) {
        for k in 0..9 {
            let n = self.n[k];
            self.sum[k] = window_sum(x, t + 1 - n, n);
        }
    }
}

// ---------------------------------------------------------------------------------------
/// Running plain (`s`) and weighted (`w`, weights 1 oldest … n newest) window sums: the
/// WMA and Hull building block.
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

    /// Both sums of bars `first … first + n − 1` in the reference's order.
    #[inline(always)]
    fn exact(x: &[f64], first: usize, n: usize) -> Self {
        Self { s: window_sum(x, first, n), w: window_dot(x, first, n, 1) }
    }

    /// Slide a full window of length `n` by one bar: drop `old`, add `v`.
    #[inline(always)]
    fn slide(&mut self, n: V, old: V, v: V) {
        self.w = (self.w - self.s) + n * v;
        self.s = (self.s - old) + v;
    }
}

/// The WMA divisor n(n+1)/2 (exact).
fn wma_div(n: usize) -> f64 {
    n as f64 * (n + 1) as f64 / 2.0
}

/// `ta.wma` (§4.4): weights n (newest) … 1 (oldest), divisor n(n+1)/2; near a tie with
/// the close, the left-to-right weighted sum divided by the divisor as the reference.
pub struct Wma<V: Simd> {
    n: [usize; 9],
    /// Length 1 needs no tie recompute: W = S = x_t exactly.
    skip: [V; 9],
    /// Whether some member is skipped.
    skipping: bool,
    n_v: [V; 9],
    div: [V; 9],
    inv: [V; 9],
    sums: [WSums<V>; 9],
}

impl<V: Simd> Wma<V> {
    #[inline(always)]
    pub fn new(n: &[usize; 9]) -> Self {
        Self {
            n: *n,
            skip: n.map(|n| tie_skip(n == 1)),
            skipping: n.contains(&1),
            n_v: n.map(|n| V::splat(n as f64)),
            div: n.map(|n| V::splat(wma_div(n))),
            inv: n.map(|n| V::splat(1.0 / wma_div(n))),
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
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], close: &[f64], t: usize, out: &mut [V; 9]) {
        let xv = unsafe { load_at::<V>(x, t) };
        let scan = TieScan::new(unsafe { load_at::<V>(close, t) });
        for k in 0..9 {
            let n = self.n[k];
            if WARM && t + 1 < n {
                out[k] = V::splat(NAN);
                continue;
            }
            if WARM && t + 1 == n {
                self.sums[k] = WSums::exact(x, 0, n);
            } else {
                let old = unsafe { load_at::<V>(x, t - n) };
                self.sums[k].slide(self.n_v[k], old, xv);
            }
            out[k] = self.sums[k].w * self.inv[k];
        }
        if scan.any::<WARM>(out, &self.skip, self.skipping) {
            for k in 0..9 {
                let n = self.n[k];
                let tie = scan.tie(out[k]);
                if n > 1 && V::bits(tie) != 0 {
                    let w = window_dot(x, t + 1 - n, n, 1);
                    self.sums[k].w = V::select(tie, w, self.sums[k].w);
                    out[k] = V::select(tie, w / self.div[k], out[k]);
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn resum(&mut self, x: &[f64], t: usize) {
        for k in 0..9 {
            let n = self.n[k];
            self.sums[k] = WSums::exact(x, t + 1 - n, n);
        }
    }
}

// ---------------------------------------------------------------------------------------
/// `ta.linreg(x, n, 0)` (§4.6): least-squares line over the window, at the newest bar.
///
/// With S = Σy, P = Σp·y (p = 0 oldest … n−1 newest), Σp = n(n−1)/2 and
/// D = n·Σp² − (Σp)², the reference evaluates slope = (n·P − Σp·S)/D,
/// intercept = (S − slope·Σp)/n and intercept + slope·(n−1). That value equals
/// S/n + slope·(n−1)/2 = c_s·S + c_p·P with c_p = n(n−1)/(2D) and
/// c_s = 1/n − Σp·(n−1)/(2D), which the running path uses; near a tie with the close, S
/// and P are recomputed from the window and the reference's formula is evaluated.
/// Running update: S_t = S_{t−1} − x_{t−n} + x_t, P_t = P_{t−1} + n·x_t − S_t.
pub struct Lsma<V: Simd> {
    n: [usize; 9],
    /// Lengths 1 and 2 need no tie recompute: their values repeat the reference's
    /// arithmetic.
    skip: [V; 9],
    /// Whether some member is skipped.
    skipping: bool,
    n_v: [V; 9],
    c_s: [V; 9],
    c_p: [V; 9],
    sum_p: [V; 9],
    den: [V; 9],
    s: [V; 9],
    p: [V; 9],
}

impl<V: Simd> Lsma<V> {
    #[inline(always)]
    pub fn new(n: &[usize; 9]) -> Self {
        let mut c_s = [V::splat(0.0); 9];
        let mut c_p = [V::splat(0.0); 9];
        let mut sum_p = [V::splat(0.0); 9];
        let mut den = [V::splat(1.0); 9];
        for k in 0..9 {
            let nf = n[k] as f64;
            // Σp and Σp² as integers: exactly the reference's pos.sum() and
            // (pos·pos).sum(), whose partial sums are integers below 2^53.
            let nn = n[k].max(1) as u128;
            let sp = (nn * (nn - 1) / 2) as f64;
            let spp = ((nn - 1) * nn * (2 * nn - 1) / 6) as f64;
            let d = nf * spp - sp * sp;
            // n = 1 and n = 2 take their own exact paths and never use these.
            if d > 0.0 {
                let half_span = (nf - 1.0) / 2.0;
                c_p[k] = V::splat(nf * half_span / d);
                c_s[k] = V::splat(1.0 / nf - sp * half_span / d);
                sum_p[k] = V::splat(sp);
                den[k] = V::splat(d);
            }
        }
        Self {
            n: *n,
            skip: n.map(|n| tie_skip(n <= 2)),
            skipping: n.iter().any(|&n| n <= 2),
            n_v: n.map(|n| V::splat(n as f64)),
            c_s,
            c_p,
            sum_p,
            den,
            s: [V::splat(0.0); 9],
            p: [V::splat(0.0); 9],
        }
    }

    /// The reference's formula from S and P.
    #[inline(always)]
    fn exact_value(&self, k: usize, s: V, p: V) -> V {
        let n = self.n_v[k];
        let slope = (n * p - self.sum_p[k] * s) / self.den[k];
        let intercept = (s - slope * self.sum_p[k]) / n;
        intercept + slope * (n - V::splat(1.0))
    }

    /// S and P of bars `first … first + n − 1` in the reference's order.
    #[inline(always)]
    fn set_exact(&mut self, k: usize, x: &[f64], first: usize) {
        let n = self.n[k];
        self.s[k] = window_sum(x, first, n);
        self.p[k] = window_dot(x, first, n, 0);
    }
}

impl<V: Simd> MaKernel<V> for Lsma<V> {
    #[inline(always)]
    fn steady_from(&self) -> usize {
        self.n.iter().copied().max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], close: &[f64], t: usize, out: &mut [V; 9]) {
        let xv = unsafe { load_at::<V>(x, t) };
        let scan = TieScan::new(unsafe { load_at::<V>(close, t) });
        for k in 0..9 {
            let n = self.n[k];
            if n == 1 {
                out[k] = xv;
                continue;
            }
            if n == 2 {
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
                continue;
            }
            if WARM && t + 1 < n {
                out[k] = V::splat(NAN);
                continue;
            }
            if WARM && t + 1 == n {
                self.set_exact(k, x, 0);
            } else {
                let old = unsafe { load_at::<V>(x, t - n) };
                self.s[k] = (self.s[k] - old) + xv;
                self.p[k] = (self.p[k] + self.n_v[k] * xv) - self.s[k];
            }
            out[k] = self.c_s[k] * self.s[k] + self.c_p[k] * self.p[k];
        }
        if scan.any::<WARM>(out, &self.skip, self.skipping) {
            // A regression through cent prices can land exactly on the close.
            for k in 0..9 {
                let n = self.n[k];
                let tie = scan.tie(out[k]);
                if n > 2 && V::bits(tie) != 0 {
                    let s = window_sum(x, t + 1 - n, n);
                    let p = window_dot(x, t + 1 - n, n, 0);
                    self.s[k] = V::select(tie, s, self.s[k]);
                    self.p[k] = V::select(tie, p, self.p[k]);
                    out[k] = V::select(tie, self.exact_value(k, s, p), out[k]);
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn resum(&mut self, x: &[f64], t: usize) {
        for k in 0..9 {
            let n = self.n[k];
            if n > 2 {
                self.set_exact(k, x, t + 1 - n);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
/// A real Hull MA (option `hma_kind = "hull"`): WMA(2·WMA(x, n/2) − WMA(x, n), ⌊√n⌋),
/// as `core/atc/moving_averages.py` `hull`. Keeps each member's raw series, over which
/// the outer WMA slides. Near a tie with the close, the raw values of the outer window
/// and the outer WMA are recomputed as the reference evaluates them.
pub struct Hull<V: Simd> {
    n: [usize; 9],
    /// Length 1 needs no tie recompute: the value is 2·x − x = x exactly.
    skip: [V; 9],
    /// Whether some member is skipped.
    skipping: bool,
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
            skip: n.map(|n| tie_skip(n == 1)),
            skipping: n.contains(&1),
            half,
            root,
            inv_half: half.map(|n| V::splat(1.0 / wma_div(n))),
            inv_n: n.map(|n| V::splat(1.0 / wma_div(n))),
            inv_root: root.map(|n| V::splat(1.0 / wma_div(n))),
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

    /// Member `k` near a tie with the close on bar `t` (lanes in `tie`; bar
    /// `t ≥ n + root − 2`): the raw values raw[j] = 2·WMA(x, half)[j] − WMA(x, n)[j] of the
    /// outer window's bars j = t − root + 1 … t and the outer WMA recomputed as the
    /// reference evaluates them, the raw values written back, the outer window's sums and
    /// the inner WMAs' weighted sums reset to match (all in the `tie` lanes only). Returns
    /// the value (exact in the `tie` lanes).
    #[inline(always)]
    fn settle(&mut self, k: usize, x: &[f64], t: usize, tie: V::Mask) -> V {
        let stride = self.bars * V::LANES;
        let (n, half, root) = (self.n[k], self.half[k], self.root[k]);
        let (div_n, div_half) = (V::splat(wma_div(n)), V::splat(wma_div(half)));
        let raw = &mut self.raw[k * stride..(k + 1) * stride];
        let (mut wh, mut wn) = (V::splat(0.0), V::splat(0.0));
        for j in t + 1 - root..=t {
            wh = window_dot(x, j + 1 - half, half, 1);
            wn = window_dot(x, j + 1 - n, n, 1);
            let exact = V::splat(2.0) * (wh / div_half) - wn / div_n;
            // SAFETY: j ≤ t < bars, the raw rows' length.
            unsafe { store_at::<V>(raw, j, V::select(tie, exact, load_at::<V>(raw, j))) };
        }
        let first = t + 1 - root;
        let (rs, rw) = (window_sum(raw, first, root), window_dot(raw, first, root, 1));
        self.s_root[k].s = V::select(tie, rs, self.s_root[k].s);
        self.s_root[k].w = V::select(tie, rw, self.s_root[k].w);
        self.s_half[k].w = V::select(tie, wh, self.s_half[k].w);
        self.s_n[k].w = V::select(tie, wn, self.s_n[k].w);
        rw / V::splat(wma_div(root))
    }
}

/// One of the Hull's WMAs over `x` at bar `t`: NaN before its first full window, the
/// window summed directly on it, a slide after.
///
/// # Safety
/// `x` holds bar `t`; bars before `t` were stepped.
#[inline(always)]
unsafe fn hull_wma<V: Simd, const WARM: bool>(sums: &mut WSums<V>, x: &[f64], t: usize, n: usize, inv: V) -> V {
    if WARM && t + 1 < n {
        return V::splat(NAN);
    }
    if WARM && t + 1 == n {
        *sums = WSums::exact(x, 0, n);
    } else {
        let old = unsafe { load_at::<V>(x, t - n) };
        sums.slide(V::splat(n as f64), old, unsafe { load_at::<V>(x, t) });
    }
    sums.w * inv
}

impl<V: Simd> MaKernel<V> for Hull<V> {
    #[inline(always)]
    fn steady_from(&self) -> usize {
        (0..9).map(|k| self.n[k] + self.root[k] - 1).max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], close: &[f64], t: usize, out: &mut [V; 9]) {
        let stride = self.bars * V::LANES;
        let scan = TieScan::new(unsafe { load_at::<V>(close, t) });
        for k in 0..9 {
            let (n, half, root) = (self.n[k], self.half[k], self.root[k]);
            // SAFETY (all three): bars up to t are in x / raw, stepped in order.
            let vh = unsafe { hull_wma::<V, WARM>(&mut self.s_half[k], x, t, half, self.inv_half[k]) };
            let vn = unsafe { hull_wma::<V, WARM>(&mut self.s_n[k], x, t, n, self.inv_n[k]) };
            let rv = V::splat(2.0) * vh - vn;
            let raw = &mut self.raw[k * stride..(k + 1) * stride];
            unsafe { store_at::<V>(raw, t, rv) };
            // The outer WMA over the raw series, which exists from bar n−1 on.
            if WARM && t + 1 < n {
                out[k] = V::splat(NAN);
                continue;
            }
            let u = t + 1 - n;
            let v = unsafe {
                hull_wma::<V, WARM>(&mut self.s_root[k], &raw[(n - 1) * V::LANES..], u, root, self.inv_root[k])
            };
            out[k] = v;
        }
        if scan.any::<WARM>(out, &self.skip, self.skipping) {
            for k in 0..9 {
                let tie = scan.tie(out[k]);
                if self.n[k] > 1 && V::bits(tie) != 0 {
                    out[k] = V::select(tie, self.settle(k, x, t, tie), out[k]);
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn resum(&mut self, x: &[f64], t: usize) {
        let stride = self.bars * V::LANES;
        for k in 0..9 {
            let (n, half, root) = (self.n[k], self.half[k], self.root[k]);
            self.s_half[k] = WSums::exact(x, t + 1 - half, half);
            self.s_n[k] = WSums::exact(x, t + 1 - n, n);
            let raw = &self.raw[k * stride..(k + 1) * stride];
            self.s_root[k] = WSums::exact(raw, t + 1 - root, root);
        }
    }
}
