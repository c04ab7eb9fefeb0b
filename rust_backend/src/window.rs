//! The window families: SMA (§4.3) through the exact `math.sum` machine, and WMA (§4.4),
//! LSMA (§4.6) and the optional Hull MA as O(1) running window sums with a safe band.
//!
//! A running sum adds the new value and drops the old one each bar; it starts from the
//! first full window summed directly and is rebuilt directly every
//! [`RESUM_PERIOD`](crate::exact::RESUM_PERIOD) bars (see [`drive`](crate::ma::drive)).
//! Where a member's running value lands within the safe band
//! ([`TIE_BAND`](crate::exact::TIE_BAND)) of the close it is compared with (checked once
//! per family and bar, [`TieScan`]), that member's value is replaced by the exact §4.8
//! value, its sums by the exact window sums, so every crossover is decided as TradingView
//! decides it. Lanes are independent: only the lanes in the band take the exact values.

use crate::exact::{lin_sums, seq_dot, seq_index_sum, seq_sum, tie_skip, Bars, LinregConst, TieScan};
use crate::ma::MaKernel;
use crate::mathsum::MathSum;
use crate::simd::{load_at, store_at, Simd};

const NAN: f64 = f64::NAN;

/// Plain sum of bars `first … first + n − 1` per lane, oldest first.
///
/// # Panics
/// If `x` holds fewer than `first + n` bars.
#[inline(always)]
fn window_sum<V: Simd>(x: &[f64], first: usize, n: usize) -> V {
    assert!((first + n) * V::LANES <= x.len());
    // SAFETY: bars first … first + n − 1 are in x (asserted).
    unsafe { seq_sum(&Bars(x), first, n) }
}

/// `ta.wma`'s accumulator over bars `first … first + n − 1` per lane (weights 1 … n).
///
/// # Panics
/// If `x` holds fewer than `first + n` bars.
#[inline(always)]
fn window_dot<V: Simd>(x: &[f64], first: usize, n: usize) -> V {
    assert!((first + n) * V::LANES <= x.len());
    // SAFETY: as above.
    unsafe { seq_dot(&Bars(x), first, n, 1) }
}

/// Largest value per lane of bars `first ..= last` (the band's `M` after a re-sum).
#[inline(always)]
fn window_max<V: Simd>(x: &[f64], first: usize, last: usize) -> V {
    assert!((last + 1) * V::LANES <= x.len());
    let mut m = V::splat(0.0);
    for j in first..=last {
        // SAFETY: j ≤ last, in x (asserted).
        m = m.max(unsafe { load_at::<V>(x, j) });
    }
    m
}

// ---------------------------------------------------------------------------------------
/// `ta.sma` (§4.3, the script's "HMA"): `math.sum(x, n) / n` through the §4.8 machine,
/// exact on every bar.
pub struct Sma<V: Simd> {
    n: [usize; 9],
    n_v: [V; 9],
    /// 1/n correctly rounded, for [`Simd::quotient`].
    recip: [V; 9],
    sum: MathSum<V>,
}

impl<V: Simd> Sma<V> {
    #[inline(always)]
    pub fn new(n: &[usize; 9]) -> Self {
        Self {
            n: *n,
            n_v: n.map(|n| V::splat(n as f64)),
            recip: n.map(|n| V::splat(1.0 / n as f64)),
            sum: MathSum::new(n),
        }
    }
}

impl<V: Simd> MaKernel<V> for Sma<V> {
    #[inline(always)]
    fn steady_from(&self) -> usize {
        self.n.iter().copied().max().unwrap_or(1)
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], _close: &[f64], t: usize, out: &mut [V; 9]) {
        let xv = unsafe { load_at::<V>(x, t) };
        for k in 0..9 {
            // SAFETY: bars up to t are in x; the machine reads at most n − 1 bars back.
            let s = unsafe { self.sum.push(k, xv, &Bars(x), t) };
            out[k] = if WARM && t + 1 < self.n[k] { V::splat(NAN) } else { s.quotient(self.n_v[k], self.recip[k]) };
        }
    }

    #[inline(always)]
    unsafe fn resum(&mut self, _x: &[f64], _t: usize) {}
}

// ---------------------------------------------------------------------------------------
/// Running plain (`s`) and weighted (`w`, weights 1 oldest … n newest) window sums: the
/// WMA, LINREG and Hull building block.
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

    /// Both sums of bars `first … first + n − 1`, oldest first.
    #[inline(always)]
    fn exact(x: &[f64], first: usize, n: usize) -> Self {
        assert!((first + n) * V::LANES <= x.len());
        // SAFETY: bars first … first + n − 1 are in x (asserted).
        let (s, w) = unsafe { lin_sums(&Bars(x), first, n) };
        Self { s, w }
    }

    /// Slide a full window of length `n` by one bar: drop `old`, add `v`.
    #[inline(always)]
    fn slide(&mut self, n: V, old: V, v: V) {
        self.w = (self.w - self.s) + n * v;
        self.s = (self.s - old) + v;
    }
}

/// `ta.wma` (§4.4, §4.8): weights n (newest) … 1 (oldest); running sums, and in the band
/// of the close the exact oldest-first re-sum divided by the sequential norm.
pub struct Wma<V: Simd> {
    n: [usize; 9],
    nmax: usize,
    /// Length 1 needs no band check: W = S = x exactly.
    skip: [V; 9],
    /// Whether some member is skipped.
    skipping: bool,
    n_v: [V; 9],
    norm: [V; 9],
    inv: [V; 9],
    sums: [WSums<V>; 9],
    /// The band's M (see [`crate::exact::TIE_BAND`]).
    pmax: V,
}

impl<V: Simd> Wma<V> {
    #[inline(always)]
    pub fn new(n: &[usize; 9]) -> Self {
        Self {
            n: *n,
            nmax: n.iter().copied().max().unwrap_or(1),
            skip: n.map(|n| tie_skip(n == 1)),
            skipping: n.contains(&1),
            n_v: n.map(|n| V::splat(n as f64)),
            norm: n.map(|n| V::splat(seq_index_sum(n))),
            inv: n.map(|n| V::splat(1.0 / seq_index_sum(n))),
            sums: [WSums::zero(); 9],
            pmax: V::splat(0.0),
        }
    }
}

impl<V: Simd> MaKernel<V> for Wma<V> {
    #[inline(always)]
    fn steady_from(&self) -> usize {
        self.nmax
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], close: &[f64], t: usize, out: &mut [V; 9]) {
        let xv = unsafe { load_at::<V>(x, t) };
        self.pmax = self.pmax.max(xv);
        let scan = TieScan::new(unsafe { load_at::<V>(close, t) }, self.pmax);
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
                    let w = window_dot(x, t + 1 - n, n);
                    self.sums[k].w = V::select(tie, w, self.sums[k].w);
                    out[k] = V::select(tie, w / self.norm[k], out[k]);
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
        self.pmax = window_max(x, t + 1 - self.nmax, t);
    }
}

// ---------------------------------------------------------------------------------------
/// `ta.linreg(x, n, 0)` (§4.6, §4.8): least-squares line over the window, at the newest
/// bar.
///
/// With S = Σy and P = Σp·y (p = 1 oldest … n newest), sx = Σp and den of §4.8, the value
/// equals S/n + slope·(n−1)/2 with slope = (n·P − sx·S)/den, i.e. c_s·S + c_p·P with
/// c_p = n(n−1)/(2·den) and c_s = 1/n − sx·(n−1)/(2·den), which the running path uses;
/// in the band of the close, S and P are re-summed oldest first and §4.8's formula is
/// evaluated. Running update: as the WMA's (P is its weighted sum).
pub struct Lsma<V: Simd> {
    n: [usize; 9],
    nmax: usize,
    /// Length 1 is x itself: no band check.
    skip: [V; 9],
    /// Whether some member is skipped.
    skipping: bool,
    n_v: [V; 9],
    c_s: [V; 9],
    c_p: [V; 9],
    lc: [LinregConst; 9],
    sums: [WSums<V>; 9],
    /// The band's M (see [`crate::exact::TIE_BAND`]).
    pmax: V,
}

impl<V: Simd> Lsma<V> {
    #[inline(always)]
    pub fn new(n: &[usize; 9]) -> Self {
        let lc = n.map(LinregConst::new);
        let mut c_s = [V::splat(0.0); 9];
        let mut c_p = [V::splat(0.0); 9];
        for k in 0..9 {
            let l = lc[k];
            // n = 1 takes its own exact path and never uses these.
            if n[k] > 1 {
                let half_span = (l.n - 1.0) / 2.0;
                c_p[k] = V::splat(l.n * half_span / l.den);
                c_s[k] = V::splat(1.0 / l.n - l.sx * half_span / l.den);
            }
        }
        Self {
            n: *n,
            nmax: n.iter().copied().max().unwrap_or(1),
            skip: n.map(|n| tie_skip(n == 1)),
            skipping: n.contains(&1),
            n_v: n.map(|n| V::splat(n as f64)),
            c_s,
            c_p,
            lc,
            sums: [WSums::zero(); 9],
            pmax: V::splat(0.0),
        }
    }
}

impl<V: Simd> MaKernel<V> for Lsma<V> {
    #[inline(always)]
    fn steady_from(&self) -> usize {
        self.nmax
    }

    #[inline(always)]
    unsafe fn step<const WARM: bool>(&mut self, x: &[f64], close: &[f64], t: usize, out: &mut [V; 9]) {
        let xv = unsafe { load_at::<V>(x, t) };
        self.pmax = self.pmax.max(xv);
        let scan = TieScan::new(unsafe { load_at::<V>(close, t) }, self.pmax);
        for k in 0..9 {
            let n = self.n[k];
            if n == 1 {
                out[k] = xv;
                continue;
            }
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
            out[k] = self.c_s[k] * self.sums[k].s + self.c_p[k] * self.sums[k].w;
        }
        if scan.any::<WARM>(out, &self.skip, self.skipping) {
            // A regression through cent prices can land exactly on the close.
            for k in 0..9 {
                let n = self.n[k];
                let tie = scan.tie(out[k]);
                if n > 1 && V::bits(tie) != 0 {
                    let e = WSums::<V>::exact(x, t + 1 - n, n);
                    self.sums[k].s = V::select(tie, e.s, self.sums[k].s);
                    self.sums[k].w = V::select(tie, e.w, self.sums[k].w);
                    out[k] = V::select(tie, self.lc[k].value(e.s, e.w), out[k]);
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn resum(&mut self, x: &[f64], t: usize) {
        for k in 0..9 {
            let n = self.n[k];
            if n > 1 {
                self.sums[k] = WSums::exact(x, t + 1 - n, n);
            }
        }
        self.pmax = window_max(x, t + 1 - self.nmax, t);
    }
}

// ---------------------------------------------------------------------------------------
/// A real Hull MA (option `hma_kind = "hull"`): WMA(2·WMA(x, n/2) − WMA(x, n), ⌊√n⌋),
/// as `core/atc/moving_averages.py` `hull`. Keeps each member's raw series, over which
/// the outer WMA slides. In the band of the close, the raw values of the outer window
/// and the outer WMA are recomputed as the reference evaluates them. Single-series detail
/// results show [`hull_bars`](crate::exact::hull_bars)'s exact values instead.
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
    nmax: usize,
    /// The band's M (see [`crate::exact::TIE_BAND`]).
    pmax: V,
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
            inv_half: half.map(|n| V::splat(1.0 / seq_index_sum(n))),
            inv_n: n.map(|n| V::splat(1.0 / seq_index_sum(n))),
            inv_root: root.map(|n| V::splat(1.0 / seq_index_sum(n))),
            s_half: [WSums::zero(); 9],
            s_n: [WSums::zero(); 9],
            s_root: [WSums::zero(); 9],
            raw,
            bars,
            nmax: n.iter().copied().max().unwrap_or(1),
            pmax: V::splat(0.0),
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
        let (div_n, div_half) = (V::splat(seq_index_sum(n)), V::splat(seq_index_sum(half)));
        let raw = &mut self.raw[k * stride..(k + 1) * stride];
        let (mut wh, mut wn) = (V::splat(0.0), V::splat(0.0));
        for j in t + 1 - root..=t {
            wh = window_dot(x, j + 1 - half, half);
            wn = window_dot(x, j + 1 - n, n);
            let exact = V::splat(2.0) * (wh / div_half) - wn / div_n;
            // SAFETY: j ≤ t < bars, the raw rows' length.
            unsafe { store_at::<V>(raw, j, V::select(tie, exact, load_at::<V>(raw, j))) };
        }
        let first = t + 1 - root;
        let (rs, rw) = (window_sum(raw, first, root), window_dot(raw, first, root));
        self.s_root[k].s = V::select(tie, rs, self.s_root[k].s);
        self.s_root[k].w = V::select(tie, rw, self.s_root[k].w);
        self.s_half[k].w = V::select(tie, wh, self.s_half[k].w);
        self.s_n[k].w = V::select(tie, wn, self.s_n[k].w);
        rw / V::splat(seq_index_sum(root))
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
        self.pmax = self.pmax.max(unsafe { load_at::<V>(x, t) });
        let scan = TieScan::new(unsafe { load_at::<V>(close, t) }, self.pmax);
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
        self.pmax = window_max(x, t + 1 - self.nmax, t);
    }
}
