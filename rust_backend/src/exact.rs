//! TradingView's WMA and LINREG (spec §4.8) evaluated exactly as written, the safe band
//! that decides when a running-sum value may stand in for them, and the term series the
//! window sums read.
//!
//! `ta.wma` and `ta.linreg` re-sum their whole window oldest first on every bar. The
//! batch kernels keep O(1) running sums instead and only recompute the §4.8 value where
//! the running value lies within the band of the close ([`TieScan`]); single-series
//! detail results evaluate §4.8 on every bar, vectorised over bars ([`wma_bars`],
//! [`lsma_bars`], and [`hull_bars`] for the optional Hull MA).
//!
//! Everything here is inlined into the kernels and makes no calls: every vector register
//! is caller-saved, and an out-of-line call anywhere in a kernel, even on a rarely taken
//! path, slowed its steady bar loop by 10–15% when measured. No fused multiply-add is
//! used anywhere: every product and sum is one IEEE operation, as §4.8 prescribes.

use crate::simd::{load_at, Simd};

/// Pine's tolerance for the script's own comparisons (spec §4.8): a and b are equal when
/// |a − b| ≤ 1e-10 (`noise != 0`, `e < 0.25`, `v > 0.49`, `p > 0`); built-in crossovers
/// compare exactly.
pub const PINE_TOLERANCE: f64 = 1e-10;

/// Relative width of the safe band: a running WMA/LSMA/Hull value within
/// `TIE_BAND · M` of the close is replaced by the exact §4.8 value before the crossover
/// test, where `M` is the largest source price that entered any running sum since the
/// last exact re-sum.
///
/// Why this is safe (u = 2⁻⁵³, N the member's length, T = [`RESUM_PERIOD`] the most
/// slides between two exact re-sums; prices are validated finite and > 0, so the plain
/// sum S, the weighted sum W (= LINREG's Σp·y) and W − S are sums of non-negative terms,
/// S ≤ N·M, W ≤ N(N+1)/2·M):
/// * after an exact re-sum, |S − ΣS| ≤ N·u·S and |W − ΣW| ≤ (N+1)·u·W;
/// * each slide S' = (S − old) + v adds ≤ 2u·N·M to S's error; W' = (W − S) + N·v adds
///   S's error plus ≤ 3u·W_max; so after T slides the WMA value W/div is off the true
///   weighted mean by at most (N + 4 + 5T + 4T²/(N+1))·u·M ≤ 1.5·10⁻¹¹·M for T = 256;
/// * LINREG's running value c_s·S + c_p·W has |c_s| ≤ 4/N and |c_p| ≤ 6/N², which turns
///   the same sum errors into at most ≈ 12T²/N·u·M + 40u·M ≤ 5·10⁻¹¹·M; the Hull's raw
///   values 2·WMA − WMA (|raw| ≤ 3M) give at most 3× the WMA bound again;
/// * the §4.8 values themselves (sequential sums of N terms, then the formula) are
///   within (N + 20)·u·3M of the true values, < 10⁻¹¹·M for any N ≤ 10⁴.
///
/// So |running − exact| < 10⁻¹⁰·M, a tenth of the band: outside the band the running
/// value lies strictly on the same side of the close as the exact one and every crossover
/// comparison (§5) comes out the same.
pub const TIE_BAND: f64 = 1e-9;

/// Bars between exact re-sums of the running window sums (see [`TIE_BAND`]).
pub const RESUM_PERIOD: usize = 256;

/// One bar's test for running values near the close: `|ma − close| ≤ TIE_BAND · M`.
#[derive(Clone, Copy)]
pub struct TieScan<V: Simd> {
    close: V,
    band: V,
}

impl<V: Simd> TieScan<V> {
    /// `pmax` is the `M` of [`TIE_BAND`].
    #[inline(always)]
    pub fn new(close: V, pmax: V) -> Self {
        Self { close, band: pmax * V::splat(TIE_BAND) }
    }

    /// Lanes where `ma` is within the band (false for NaN).
    #[inline(always)]
    pub fn tie(&self, ma: V) -> V::Mask {
        (ma - self.close).abs().le(self.band)
    }

    /// Whether any lane of any of the nine members is within the band, leaving out the
    /// members whose `skip` ([`tie_skip`]) is +∞ (their value is always exact already)
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

/// `V::LANES` consecutive bars of a plain (one-lane) series starting at bar `i`: lane `l`
/// is bar `i + l`, so a sum over these terms evaluates `LANES` bars' windows at once.
#[derive(Clone, Copy)]
pub struct Shifted<'a>(pub &'a [f64]);

impl<V: Simd> Terms<V> for Shifted<'_> {
    /// # Safety
    /// `i + V::LANES <= x.len()`.
    #[inline(always)]
    unsafe fn at(&self, i: usize) -> V {
        debug_assert!(i + V::LANES <= self.0.len());
        unsafe { V::load(self.0.as_ptr().add(i)) }
    }
}

/// `Σ w(lo + i)·(i + w0)` for i = 0 … n − 1, left to right from 0.0. With `w0 = 1` this
/// is `ta.wma`'s accumulator (weights 1 oldest … n newest) and LINREG's Σp·y.
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

/// `Σ w(lo + i)` left to right from 0.0.
///
/// # Safety
/// Every index `lo … lo + n − 1` is valid for `w`.
#[inline(always)]
pub unsafe fn seq_sum<V: Simd, T: Terms<V>>(w: &T, lo: usize, n: usize) -> V {
    let mut r = V::splat(0.0);
    for i in 0..n {
        r = r + unsafe { w.at(lo + i) };
    }
    r
}

/// LINREG's Σy and Σp·y (p = 1 … n) of terms `lo … lo + n − 1`, in one oldest-first pass.
///
/// # Safety
/// Every index `lo … lo + n − 1` is valid for `w`.
#[inline(always)]
pub unsafe fn lin_sums<V: Simd, T: Terms<V>>(w: &T, lo: usize, n: usize) -> (V, V) {
    let (mut sy, mut sxy) = (V::splat(0.0), V::splat(0.0));
    for i in 0..n {
        let y = unsafe { w.at(lo + i) };
        sy = sy + y;
        sxy = sxy + y * V::splat((i + 1) as f64);
    }
    (sy, sxy)
}

/// 1 + 2 + … + n summed sequentially in float64 (`ta.wma`'s norm, LINREG's sx).
pub fn seq_index_sum(n: usize) -> f64 {
    (1..=n).fold(0.0, |a, i| a + i as f64)
}

/// LINREG's constants of one length (§4.8).
#[derive(Clone, Copy, Debug)]
pub struct LinregConst {
    pub n: f64,
    pub sx: f64,
    pub den: f64,
    /// 1/n and 1/den correctly rounded, for [`Simd::quotient`].
    recip_n: f64,
    recip_den: f64,
}

impl LinregConst {
    /// The constants of length `n` ≥ 2 (LINREG of length 1 is the source itself).
    pub fn new(n: usize) -> Self {
        let nf = n as f64;
        let sx = seq_index_sum(n);
        let sx2 = (1..=n).fold(0.0, |a, i| a + (i as f64) * (i as f64));
        let den = nf * sx2 - sx * sx;
        Self { n: nf, sx, den, recip_n: 1.0 / nf, recip_den: 1.0 / den }
    }

    /// The value from Σy and Σp·y, operation for operation as §4.8 writes it (see
    /// [`linreg_value`]).
    #[inline(always)]
    pub fn value<V: Simd>(&self, sy: V, sxy: V) -> V {
        let c =
            [V::splat(self.n), V::splat(self.sx), V::splat(self.den), V::splat(self.recip_n), V::splat(self.recip_den)];
        linreg_value(&c, sy, sxy)
    }
}

/// LINREG's value from Σy and Σp·y given its constants `[n, sx, den, 1/n, 1/den]` (lane
/// by lane), operation for operation as §4.8 writes it. The three divisions are by
/// constants, so they run as [`Simd::quotient`]s (the same bits; vector division is the
/// slowest instruction here): prices lie within 1e±100, so no quotient overflows or is
/// subnormal.
#[inline(always)]
fn linreg_value<V: Simd>(c: &[V; 5], sy: V, sxy: V) -> V {
    let [n, sx, den, recip_n, recip_den] = *c;
    let slope = (n * sxy - sx * sy).quotient(den, recip_den);
    let avg = sy.quotient(n, recip_n);
    let intercept = (avg - (slope * sx).quotient(n, recip_n)) + slope;
    intercept + slope * (n - V::splat(1.0))
}

/// The WMA norms and LINREG constants of several members side by side (lane `k`: member
/// `k`'s; `L` a multiple of every vector width), for their values with the members as
/// vector lanes. The padding lanes repeat member 0's.
#[derive(Clone, Copy, Debug)]
pub struct MemberConsts<const L: usize> {
    wma: [[f64; L]; 2],
    linreg: [[f64; L]; 5],
}

impl<const L: usize> MemberConsts<L> {
    /// The constants of the WMA lengths `wma` and the LINREG lengths `lsma` (LINREG's
    /// of length 1 are unused: its value is the source).
    pub fn new(wma: &[usize], lsma: &[usize]) -> Self {
        assert!(wma.len() == lsma.len() && !wma.is_empty() && wma.len() <= L);
        let pick = |k: usize| if k < wma.len() { k } else { 0 };
        Self {
            wma: [0, 1].map(|i| {
                std::array::from_fn(|k| {
                    let norm = seq_index_sum(wma[pick(k)]);
                    [norm, 1.0 / norm][i]
                })
            }),
            linreg: [0, 1, 2, 3, 4].map(|i| {
                std::array::from_fn(|k| {
                    let c = LinregConst::new(lsma[pick(k)].max(2));
                    [c.n, c.sx, c.den, c.recip_n, c.recip_den][i]
                })
            }),
        }
    }

    /// The WMAs from Σp·y and the LINREGs from Σy and Σp·y of lanes `at … at + LANES − 1`.
    #[inline(always)]
    pub fn values<V: Simd>(&self, at: usize, wsum: V, sy: V, sxy: V) -> (V, V) {
        let wma = wsum.quotient(V::load_from(&self.wma[0][at..]), V::load_from(&self.wma[1][at..]));
        // Loads written out: a closure might stay out of line and then not be compiled
        // for the dispatched instruction set.
        let l = &self.linreg;
        let c = [
            V::load_from(&l[0][at..]),
            V::load_from(&l[1][at..]),
            V::load_from(&l[2][at..]),
            V::load_from(&l[3][at..]),
            V::load_from(&l[4][at..]),
        ];
        (wma, linreg_value(&c, sy, sxy))
    }
}

/// `ta.wma(x, n)` of a plain series into `out[t − t0]` for bars `t0..t1` (NaN before bar
/// n − 1), `V::LANES` bars per vector and eight vectors in flight, so the sequential
/// accumulations of neighbouring bars overlap.
///
/// # Panics
/// If `t1 > x.len()` or `out` is shorter than `t1 − t0`.
#[inline(always)]
pub fn wma_bars<V: Simd>(x: &[f64], n: usize, t0: usize, t1: usize, out: &mut [f64]) {
    bars_kernel::<V, 1>(x, n, t0, t1, out, Finish::Wma(WmaNorm::new(n)), None);
}

/// The real Hull MA (option `hma_kind = "hull"`) of a plain series into `out[t − t0]` for
/// bars `t0..t1`, as `core/atc/moving_averages.py` `hull` evaluates it: the raw series
/// 2·WMA(x, n/2) − WMA(x, n) and the outer WMA(raw, ⌊√n⌋), all three WMAs the §4.8
/// re-sums of [`wma_bars`] on every bar (NaN wherever a window reaches before bar 0 or
/// holds a NaN raw value). `scratch` is reused storage for the raw values of bars
/// `t0 − ⌊√n⌋ + 1 … t1 − 1`.
///
/// # Panics
/// As [`wma_bars`].
#[inline(always)]
pub fn hull_bars<V: Simd>(x: &[f64], n: usize, t0: usize, t1: usize, scratch: &mut Vec<f64>, out: &mut [f64]) {
    assert!(t0 <= t1 && t1 <= x.len() && out.len() >= t1 - t0);
    let half = (n / 2).max(1);
    let root = ((n as f64).sqrt().floor() as usize).max(1);
    // The outer windows of bars t0..t1 start at r0 (or at bar 0).
    let r0 = t0.saturating_sub(root - 1);
    let len = t1 - r0;
    scratch.clear();
    scratch.resize(2 * len, 0.0);
    let (raw, long) = scratch.split_at_mut(len);
    wma_bars::<V>(x, half, r0, t1, raw);
    wma_bars::<V>(x, n, r0, t1, long);
    for (r, l) in raw.iter_mut().zip(long.iter()) {
        *r = 2.0 * *r - *l;
    }
    wma_bars::<V>(raw, root, t0 - r0, len, out);
}

/// `ta.linreg(x, n, 0)` of a plain series into `out[t − t0]` for bars `t0..t1` (x itself
/// for n = 1), like [`wma_bars`].
///
/// # Panics
/// As [`wma_bars`].
#[inline(always)]
pub fn lsma_bars<V: Simd>(x: &[f64], n: usize, t0: usize, t1: usize, out: &mut [f64]) {
    if n == 1 {
        out[..t1 - t0].copy_from_slice(&x[t0..t1]);
        return;
    }
    bars_kernel::<V, 2>(x, n, t0, t1, out, Finish::Linreg(LinregConst::new(n)), None);
}

/// [`lsma_bars`] and [`wma_bars`] of the same length in one pass: LINREG's Σp·y is, bit
/// for bit, `ta.wma`'s accumulator (the same products added in the same order).
///
/// # Panics
/// As [`wma_bars`].
#[inline(always)]
pub fn wma_lsma_bars<V: Simd>(x: &[f64], n: usize, t0: usize, t1: usize, wma: &mut [f64], lsma: &mut [f64]) {
    if n == 1 {
        wma[..t1 - t0].copy_from_slice(&x[t0..t1]);
        lsma[..t1 - t0].copy_from_slice(&x[t0..t1]);
        return;
    }
    bars_kernel::<V, 2>(x, n, t0, t1, lsma, Finish::Linreg(LinregConst::new(n)), Some((wma, WmaNorm::new(n))));
}

/// `ta.wma`'s norm 1 + 2 + … + n and its correctly rounded reciprocal.
#[derive(Clone, Copy)]
struct WmaNorm {
    norm: f64,
    recip: f64,
}

impl WmaNorm {
    fn new(n: usize) -> Self {
        let norm = seq_index_sum(n);
        Self { norm, recip: 1.0 / norm }
    }

    /// Σp·y / norm, as a [`Simd::quotient`] (the same bits; see [`LinregConst::value`]).
    #[inline(always)]
    fn of<V: Simd>(self, acc: V) -> V {
        acc.quotient(V::splat(self.norm), V::splat(self.recip))
    }
}

/// How [`bars_kernel`] turns the sums into the value (an enum, not a closure: closures
/// may stay un-inlined and then are not compiled for the dispatched instruction set).
#[derive(Clone, Copy)]
enum Finish {
    /// Σp·y / norm.
    Wma(WmaNorm),
    /// §4.8's LINREG formula from Σy and Σp·y.
    Linreg(LinregConst),
}

impl Finish {
    #[inline(always)]
    fn value<V: Simd, const K: usize>(self, acc: [V; K]) -> V {
        match self {
            Finish::Wma(norm) => norm.of(acc[K - 1]),
            Finish::Linreg(lc) => lc.value(acc[0], acc[K - 1]),
        }
    }
}

/// The shared loop of [`wma_bars`] and [`lsma_bars`]: for each bar, the window's Σy and
/// Σp·y oldest first (only Σp·y when `K = 1`), then `finish`.
#[inline(always)]
fn bars_kernel<V: Simd, const K: usize>(
    x: &[f64],
    n: usize,
    t0: usize,
    t1: usize,
    out: &mut [f64],
    finish: Finish,
    mut wma: Option<(&mut [f64], WmaNorm)>,
) {
    assert!(t1 <= x.len() && out.len() >= t1 - t0);
    assert!(wma.as_ref().is_none_or(|(w, _)| w.len() >= t1 - t0));
    const G: usize = 8;
    let first = t0.max(n - 1).min(t1);
    out[..first - t0].fill(f64::NAN);
    if let Some((w, _)) = wma.as_mut() {
        w[..first - t0].fill(f64::NAN);
    }
    let l = V::LANES;
    let mut t = first;
    // Eight vectors of LANES bars each (enough independent additions to keep the
    // adders busy); lane j of group g is bar t + g·LANES + j.
    while t < t1 && t1 - first >= G * l {
        // The last group ends at t1, overlapping bars already done: every bar is computed
        // on its own, so they are written again with the same bits.
        t = t.min(t1 - G * l);
        let lo = t + 1 - n;
        let mut acc = [[V::splat(0.0); K]; G];
        for i in 0..n {
            let w = V::splat((i + 1) as f64);
            for g in 0..G {
                // SAFETY: lo + i + g·l + l ≤ t + G·l ≤ t1 ≤ x.len().
                let y = unsafe { V::load(x.as_ptr().add(lo + i + g * l)) };
                if K == 2 {
                    acc[g][0] = acc[g][0] + y;
                }
                acc[g][K - 1] = acc[g][K - 1] + y * w;
            }
        }
        for g in 0..G {
            // SAFETY: bars t + g·l … + l − 1 are below t1; out holds t1 − t0 values.
            unsafe { finish.value(acc[g]).store(out.as_mut_ptr().add(t - t0 + g * l)) };
            if let Some((w, norm)) = wma.as_mut() {
                // SAFETY: as above (w holds t1 − t0 values, asserted).
                unsafe { norm.of(acc[g][K - 1]).store(w.as_mut_ptr().add(t - t0 + g * l)) };
            }
        }
        t += G * l;
    }
    // A range shorter than one group, one bar at a time.
    while t < t1 {
        let lo = t + 1 - n;
        let mut acc = [0.0f64; K];
        for i in 0..n {
            let y = x[lo + i];
            if K == 2 {
                acc[0] += y;
            }
            acc[K - 1] += y * (i + 1) as f64;
        }
        out[t - t0] = finish.value::<f64, K>(acc);
        if let Some((w, norm)) = wma.as_mut() {
            w[t - t0] = norm.of(acc[K - 1]);
        }
        t += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::{lin_sums, seq_dot, Bars, LinregConst, Shifted, WmaNorm};
    use crate::simd::Simd;

    /// §4.8's LINREG formula with plain divisions.
    fn linreg_divided(n: usize, sy: f64, sxy: f64) -> f64 {
        let lc = LinregConst::new(n);
        let slope = (lc.n * sxy - lc.sx * sy) / lc.den;
        let intercept = (sy / lc.n - (slope * lc.sx) / lc.n) + slope;
        intercept + slope * (lc.n - 1.0)
    }

    /// The quotients by constants give the divisions' bits on windows of price walks
    /// from 1e-100 to 1e100, flat stretches (slope 0) included, at every vector width.
    fn check<V: Simd>() {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        for scale in [1e-100, 1e-3, 1.0, 37.0, 1e6, 1e100] {
            let mut p = scale;
            let x: Vec<f64> = (0..3000)
                .map(|i| {
                    if i % 500 >= 450 {
                        return p; // flat
                    }
                    p = (p * (1.0 + 0.05 * (next() - 0.5))).clamp(1e-100, 1e100);
                    p
                })
                .collect();
            for n in (2..40).chain([64, 99, 120, 255, 256, 1000]) {
                let (norm, lc) = (WmaNorm::new(n), LinregConst::new(n));
                for t in (n - 1..x.len() - V::LANES).step_by(11) {
                    let lo = t + 1 - n;
                    // SAFETY: bars lo … t + LANES − 1 are in x.
                    let (sy, sxy) = unsafe { lin_sums::<V, _>(&Shifted(&x), lo, n) };
                    let (mut got_l, mut got_w, mut sums) = ([0.0; 8], [0.0; 8], [0.0; 16]);
                    unsafe {
                        lc.value(sy, sxy).store(got_l.as_mut_ptr());
                        norm.of(sxy).store(got_w.as_mut_ptr());
                        sy.store(sums.as_mut_ptr());
                        sxy.store(sums.as_mut_ptr().add(8));
                    }
                    for l in 0..V::LANES {
                        let (sy, sxy) = (sums[l], sums[8 + l]);
                        assert_eq!(sxy, unsafe { seq_dot::<f64, _>(&Bars(&x), lo + l, n, 1) });
                        let want = linreg_divided(n, sy, sxy);
                        assert_eq!(got_l[l].to_bits(), want.to_bits(), "LINREG n={n} bar {}", t + l);
                        assert_eq!(got_w[l].to_bits(), (sxy / norm.norm).to_bits(), "WMA n={n} bar {}", t + l);
                    }
                }
            }
        }
    }

    #[test]
    fn quotients_by_the_lengths_constants_are_the_divisions() {
        crate::at_every_width!(check);
    }
}
