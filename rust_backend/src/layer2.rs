//! Layer 2 (family equities, Cut, Average_Signal; spec §8) and the direction, arrows and
//! alerts of §9, in one pass over the bars, for all lanes (series) of a vector at once.

use crate::exact::PINE_TOLERANCE;
use crate::family::floor_equity;
use crate::simd::{load_at, store_at, Simd};

/// Settings of the Layer-2 / events pass.
pub struct Layer2Params {
    /// Families computed: 6, or 1 (EMA only, screening).
    pub families: usize,
    pub weights: [f64; 6],
    pub decay: f64,
    pub cutout: usize,
    pub cut_threshold: f64,
    pub long_threshold: f64,
    pub short_threshold: f64,
    pub strategy: bool,
    /// 0 = Average_Signal, 1 + f = family f's signal. With one family both must be 1.
    pub colbase: usize,
    pub alertbase: usize,
}

/// Interleaved output rows, each `bars * LANES` long (`fs` holds `families` rows).
pub struct Layer2Out<'a> {
    pub fs: &'a mut [f64],
    /// Average_Signal; unused (may be empty) with one family.
    pub avg: &'a mut [f64],
    pub base: &'a mut [f64],
    pub direction: &'a mut [f64],
    pub arrow_long: &'a mut [bool],
    pub arrow_short: &'a mut [bool],
    pub long: &'a mut [bool],
    pub short: &'a mut [bool],
}

/// Cut of §8 with Pine's tolerant comparisons: +1 when v > threshold by more than 1e-10,
/// −1 when v < −threshold by more than 1e-10, else 0 (NaN → 0).
#[inline(always)]
pub fn cut<V: Simd>(v: V, threshold: V) -> V {
    let one = V::splat(1.0);
    let tol = V::splat(PINE_TOLERANCE);
    V::select((v - threshold).gt(tol), one, V::select((v + threshold).lt(-tol), -one, V::splat(0.0)))
}

/// Run Layer 2 and the events over all `bars` bars; see [`Layer2::run`].
#[inline(always)]
pub fn layer2_pass<V: Simd>(p: &Layer2Params, signals: &[f64], rg: &[f64], bars: usize, out: &mut Layer2Out<'_>) {
    Layer2::<V>::new().run(p, signals, rg, bars, 0, bars, out);
}

/// One bar's Layer-2 and event outputs (family equities hold NaN before the cutout).
pub struct Layer2Bar<V: Simd> {
    pub fs: [V; 6],
    /// Average_Signal; NaN with one family.
    pub avg: V,
    pub base: V,
    pub direction: V,
    /// arrow_long, arrow_short, long, short: bit `l` set where lane `l` has the event.
    pub flags: [u32; 4],
}

/// One family's Layer-2 equity on a bar at or after the cutout (§8): the persistent `a`
/// follows the sign of the family's previous Layer-1 signal `prev` (Pine's tolerant
/// `p > 0`, `p < 0`), then the equity starts at the family's weight `w` on the cutout
/// bar (`first`) and compounds afterwards, floored. Lane-wise, so the lanes may be
/// series (the batch) or the families of one series.
#[inline(always)]
pub fn family_equity<V: Simd>(a: &mut V, e: &mut V, prev: V, r: V, w: V, decay: V, first: bool) {
    let tol = V::splat(PINE_TOLERANCE);
    *a = V::select(prev.gt(tol), r, V::select(prev.lt(-tol), -r, *a));
    let ev = if first { w } else { *e * decay * (V::splat(1.0) + *a) };
    *e = floor_equity(ev);
}

/// Average_Signal (§8) from each family's Cut·equity and equity, summed left to right in
/// family order.
#[inline(always)]
pub fn average<V: Simd>(cut_e: &[V; 6], e: &[V; 6]) -> V {
    let mut num = cut_e[0];
    let mut den = e[0];
    for f in 1..6 {
        num = num + cut_e[f];
        den = den + e[f];
    }
    num / den
}

/// The §9 state carried from bar to bar: direction, arrows and alerts.
#[derive(Clone, Copy)]
pub struct Events<V: Simd> {
    cols_prev: V,
    base_prev: V,
    alert_prev: V,
    dir: V,
}

impl<V: Simd> Default for Events<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Simd> Events<V> {
    #[inline(always)]
    pub fn new() -> Self {
        let nan = V::splat(f64::NAN);
        Self { cols_prev: nan, base_prev: nan, alert_prev: nan, dir: nan }
    }

    /// Advance one bar given the series the colours (`cols`) and the alerts (`alertb`)
    /// follow; returns the signal base, the direction and the four event flags
    /// (arrow_long, arrow_short, long, short; bit `l` set where lane `l` has the event).
    #[inline(always)]
    pub fn bar(&mut self, p: &Layer2Params, cols: V, alertb: V) -> (V, V, [u32; 4]) {
        let one = V::splat(1.0);
        let (lt, st) = (V::splat(p.long_threshold), V::splat(p.short_threshold));
        let Events { cols_prev, base_prev, alert_prev, dir } = self;
        // Strategy View lags the direction/arrow base only, never the alerts (§9.1, §9.3).
        let base = if p.strategy { *cols_prev } else { cols };
        let up = V::and(base.gt(lt), base_prev.le(lt));
        let down = V::and(base.lt(st), base_prev.ge(st));
        let alert_up = V::and(alertb.gt(lt), alert_prev.le(lt));
        let alert_down = V::and(alertb.lt(st), alert_prev.ge(st));
        let was_short = dir.eq(-one);
        let was_long = dir.eq(one);
        *dir = V::select(down, -one, V::select(up, one, *dir));
        let flags = [
            V::bits(V::and(was_short, up)),
            V::bits(V::and(was_long, down)),
            V::bits(V::and(was_short, alert_up)),
            V::bits(V::and(was_long, alert_down)),
        ];
        *cols_prev = cols;
        *base_prev = base;
        *alert_prev = alertb;
        (base, *dir, flags)
    }
}

/// Family lanes of [`SeriesLayer2`]: six families padded to a multiple of every vector
/// width.
pub const FAMILY_LANES: usize = 8;

/// One bar's family values of one series, family `f` at index `f` (the padding lanes
/// unused): Layer-1 signals, family equities and Cut·equity.
#[derive(Clone, Copy, Default)]
pub struct FamilyBar {
    pub sig: [f64; FAMILY_LANES],
    pub e: [f64; FAMILY_LANES],
    pub cut_e: [f64; FAMILY_LANES],
}

/// Layer 2 and the events of one series with its families as vector lanes: §8 per family
/// lane by lane ([`SeriesLayer2::families`], a group of LANES families at a time), then
/// Average_Signal and §9 once per bar ([`SeriesLayer2::finish`]). The same operations on
/// the same values as [`Layer2::bar`] with the series as lanes. Plain arrays, so the
/// state does not depend on the vector width.
#[derive(Clone, Copy)]
pub struct SeriesLayer2 {
    a: [f64; FAMILY_LANES],
    e: [f64; FAMILY_LANES],
    /// The previous bar's Layer-1 signals.
    prev: [f64; FAMILY_LANES],
    events: Events<f64>,
}

impl Default for SeriesLayer2 {
    fn default() -> Self {
        Self::new()
    }
}

impl SeriesLayer2 {
    /// The families' weights as lanes (padding lanes 0), for [`SeriesLayer2::families`].
    pub fn weights(p: &Layer2Params) -> [f64; FAMILY_LANES] {
        let mut w = [0.0; FAMILY_LANES];
        w[..6].copy_from_slice(&p.weights);
        w
    }

    pub fn new() -> Self {
        let nan = [f64::NAN; FAMILY_LANES];
        Self { a: [0.0; FAMILY_LANES], e: nan, prev: nan, events: Events::new() }
    }

    /// Families `at … at + LANES − 1` on bar `t`, given their Layer-1 signals `sig`, R·g
    /// `r` and their weights `w`; their signals, equities and Cut·equities go to `bar`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn families<V: Simd>(
        &mut self,
        p: &Layer2Params,
        t: usize,
        at: usize,
        sig: V,
        r: V,
        w: V,
        bar: &mut FamilyBar,
    ) {
        let mut e = V::load_from(&self.e[at..]);
        if t >= p.cutout {
            let mut a = V::load_from(&self.a[at..]);
            family_equity(&mut a, &mut e, V::load_from(&self.prev[at..]), r, w, V::splat(p.decay), t == p.cutout);
            a.store_to(&mut self.a[at..]);
            e.store_to(&mut self.e[at..]);
        }
        sig.store_to(&mut self.prev[at..]);
        sig.store_to(&mut bar.sig[at..]);
        e.store_to(&mut bar.e[at..]);
        (cut(sig, V::splat(p.cut_threshold)) * e).store_to(&mut bar.cut_e[at..]);
    }

    /// Average_Signal and the events of the bar whose families are in `bar`: the average,
    /// the signal base, the direction and the four event flags (arrow_long, arrow_short,
    /// long, short; 1 where the bar has the event).
    #[inline(always)]
    pub fn finish(&mut self, p: &Layer2Params, bar: &FamilyBar) -> (f64, f64, f64, [u32; 4]) {
        let six = |v: &[f64; FAMILY_LANES]| [v[0], v[1], v[2], v[3], v[4], v[5]];
        let avg = average::<f64>(&six(&bar.cut_e), &six(&bar.e));
        let sig = &bar.sig;
        let series = [avg, sig[0], sig[1], sig[2], sig[3], sig[4], sig[5]];
        let (base, direction, flags) = self.events.bar(p, series[p.colbase], series[p.alertbase]);
        (avg, base, direction, flags)
    }
}

/// Layer-2 and event state carried from bar to bar, so the pass can run in blocks or
/// bar by bar.
#[derive(Clone, Copy)]
pub struct Layer2<V: Simd> {
    a: [V; 6],
    e: [V; 6],
    sig_prev: [V; 6],
    events: Events<V>,
}

impl<V: Simd> Default for Layer2<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Simd> Layer2<V> {
    #[inline(always)]
    pub fn new() -> Self {
        let nan = V::splat(f64::NAN);
        Self { a: [V::splat(0.0); 6], e: [nan; 6], sig_prev: [nan; 6], events: Events::new() }
    }

    /// Advance over bars `t0..t1` (continuing from `t0 − 1`). `signals` holds the
    /// `p.families` Layer-1 rows and every row is `bars * LANES` long, interleaved.
    ///
    /// # Panics
    /// If a buffer is too short or `p` is inconsistent.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        p: &Layer2Params,
        signals: &[f64],
        rg: &[f64],
        bars: usize,
        t0: usize,
        t1: usize,
        out: &mut Layer2Out<'_>,
    ) {
        let nf = p.families;
        let size = bars * V::LANES;
        assert!(t1 <= bars);
        assert!(nf == 6 || (nf == 1 && p.colbase == 1 && p.alertbase == 1));
        assert!(signals.len() >= nf * size && rg.len() >= size && out.fs.len() >= nf * size);
        assert!(nf == 1 || out.avg.len() >= size);
        assert!(out.base.len() >= size && out.direction.len() >= size);
        for b in [&out.arrow_long, &out.arrow_short, &out.long, &out.short] {
            assert!(b.len() >= size);
        }
        let nan = V::splat(f64::NAN);
        for t in t0..t1 {
            // SAFETY (every load/store below): t < bars and each row holds `bars * LANES`.
            let r = unsafe { load_at::<V>(rg, t) };
            let mut sig = [nan; 6];
            for f in 0..nf {
                sig[f] = unsafe { load_at::<V>(&signals[f * size..], t) };
            }
            let b = self.bar(p, t, &sig, r);
            for f in 0..nf {
                unsafe { store_at::<V>(&mut out.fs[f * size..], t, b.fs[f]) };
            }
            if nf == 6 {
                unsafe { store_at::<V>(out.avg, t, b.avg) };
            }
            unsafe {
                store_at::<V>(out.base, t, b.base);
                store_at::<V>(out.direction, t, b.direction);
            }
            let row = t * V::LANES;
            for (dst, bits) in
                [&mut *out.arrow_long, &mut *out.arrow_short, &mut *out.long, &mut *out.short].into_iter().zip(b.flags)
            {
                for l in 0..V::LANES {
                    dst[row + l] = (bits >> l) & 1 == 1;
                }
            }
        }
    }

    /// Advance one bar `t` (bar index of the series, for the cutout) given the Layer-1
    /// signals (the first `p.families`; the others must be NaN) and R·g `r`.
    #[inline(always)]
    pub fn bar(&mut self, p: &Layer2Params, t: usize, signals: &[V; 6], r: V) -> Layer2Bar<V> {
        let nf = p.families;
        let nan = V::splat(f64::NAN);
        let decay = V::splat(p.decay);
        let sig = *signals;
        if t >= p.cutout {
            for f in 0..nf {
                let w = V::splat(p.weights[f]);
                family_equity(&mut self.a[f], &mut self.e[f], self.sig_prev[f], r, w, decay, t == p.cutout);
            }
        }
        let e = self.e;
        let avg = if nf == 6 {
            let cut_t = V::splat(p.cut_threshold);
            let mut cut_e = e;
            for f in 0..6 {
                cut_e[f] = cut(sig[f], cut_t) * e[f];
            }
            average(&cut_e, &e)
        } else {
            nan
        };
        let series = [avg, sig[0], sig[1], sig[2], sig[3], sig[4], sig[5]];
        let (base, direction, flags) = self.events.bar(p, series[p.colbase], series[p.alertbase]);
        self.sig_prev = sig;
        Layer2Bar { fs: e, avg, base, direction, flags }
    }
}
