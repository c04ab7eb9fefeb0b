//! Layer 2 (family equities, Cut, Average_Signal; spec §8) and the direction, arrows and
//! alerts of §9, in one pass over the bars.

use crate::family::EQUITY_FLOOR;
use crate::lanes::{load, store};

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

/// Interleaved output rows, each `bars * L` long (`fs` holds `families` rows).
pub struct Layer2Out<'a> {
    pub fs: &'a mut [f64],
    /// Average_Signal; ignored (may be empty) with one family.
    pub avg: &'a mut [f64],
    pub base: &'a mut [f64],
    pub direction: &'a mut [f64],
    pub arrow_long: &'a mut [bool],
    pub arrow_short: &'a mut [bool],
    pub long: &'a mut [bool],
    pub short: &'a mut [bool],
}

/// Cut of §8: ±1 beyond ±threshold, else 0 (NaN → 0).
#[inline(always)]
pub fn cut(v: f64, threshold: f64) -> f64 {
    if v > threshold {
        1.0
    } else if v < -threshold {
        -1.0
    } else {
        0.0
    }
}

/// Run Layer 2 and the events over `bars` bars of `L` lanes; `signals` holds the
/// `p.families` Layer-1 rows (interleaved, `bars * L` each).
///
/// # Panics
/// If a buffer is too short or `p` is inconsistent.
#[inline(always)]
pub fn layer2_pass<const L: usize>(p: &Layer2Params, signals: &[f64], rg: &[f64], bars: usize, out: &mut Layer2Out<'_>) {
    let nf = p.families;
    let size = bars * L;
    assert!(nf == 6 || (nf == 1 && p.colbase == 1 && p.alertbase == 1));
    assert!(p.colbase <= nf && p.alertbase <= nf);
    assert!(signals.len() >= nf * size && rg.len() >= size && out.fs.len() >= nf * size);
    assert!(nf == 1 || out.avg.len() >= size);
    assert!(out.base.len() >= size && out.direction.len() >= size);
    for b in [&out.arrow_long, &out.arrow_short, &out.long, &out.short] {
        assert!(b.len() >= size);
    }
    let nan = [f64::NAN; L];
    let mut a = [[0.0; L]; 6];
    let mut e = [[f64::NAN; L]; 6];
    let mut cols_prev = nan;
    let mut base_prev = nan;
    let mut alert_prev = nan;
    let mut dir = nan;
    let (lt, st) = (p.long_threshold, p.short_threshold);
    for t in 0..bars {
        let active = t >= p.cutout;
        // SAFETY (all loads/stores of this loop): t < bars, rows hold `bars * L` (asserted).
        let r = unsafe { load::<L>(rg, t) };
        let mut sig = [nan; 6];
        for f in 0..nf {
            sig[f] = unsafe { load::<L>(&signals[f * size..], t) };
        }
        let mut fs = [nan; 6];
        if active {
            for f in 0..nf {
                let prev = if t == 0 { nan } else { unsafe { load::<L>(&signals[f * size..], t - 1) } };
                for l in 0..L {
                    // Only the sign of the previous Layer-1 value matters (§6).
                    let av = if prev[l] > 0.0 {
                        r[l]
                    } else if prev[l] < 0.0 {
                        -r[l]
                    } else {
                        a[f][l]
                    };
                    a[f][l] = av;
                    let ev = if t == p.cutout { p.weights[f] } else { e[f][l] * p.decay * (1.0 + av) };
                    e[f][l] = if ev < EQUITY_FLOOR { EQUITY_FLOOR } else { ev };
                }
                fs[f] = e[f];
            }
        }
        for f in 0..nf {
            unsafe { store::<L>(&mut out.fs[f * size..], t, fs[f]) };
        }
        let mut avg = nan;
        if nf == 6 {
            for l in 0..L {
                let mut num = cut(sig[0][l], p.cut_threshold) * fs[0][l];
                let mut den = fs[0][l];
                for f in 1..6 {
                    num += cut(sig[f][l], p.cut_threshold) * fs[f][l];
                    den += fs[f][l];
                }
                avg[l] = num / den;
            }
            unsafe { store::<L>(out.avg, t, avg) };
        }
        let pick = |i: usize| if i == 0 { avg } else { sig[i - 1] };
        let cols = pick(p.colbase);
        let alertb = pick(p.alertbase);
        // Strategy View lags the direction/arrow base only, never the alerts (§9.1, §9.3).
        let base = if p.strategy { cols_prev } else { cols };
        let mut d_out = [0.0; L];
        let mut flags = [[false; L]; 4];
        for l in 0..L {
            let up = (base[l] > lt) & (base_prev[l] <= lt);
            let down = (base[l] < st) & (base_prev[l] >= st);
            let alert_up = (alertb[l] > lt) & (alert_prev[l] <= lt);
            let alert_down = (alertb[l] < st) & (alert_prev[l] >= st);
            let was_short = dir[l] == -1.0;
            let was_long = dir[l] == 1.0;
            if up {
                dir[l] = 1.0;
            }
            if down {
                dir[l] = -1.0;
            }
            d_out[l] = dir[l];
            flags[0][l] = was_short & up;
            flags[1][l] = was_long & down;
            flags[2][l] = was_short & alert_up;
            flags[3][l] = was_long & alert_down;
        }
        unsafe {
            store::<L>(out.base, t, base);
            store::<L>(out.direction, t, d_out);
        }
        let row = t * L;
        out.arrow_long[row..row + L].copy_from_slice(&flags[0]);
        out.arrow_short[row..row + L].copy_from_slice(&flags[1]);
        out.long[row..row + L].copy_from_slice(&flags[2]);
        out.short[row..row + L].copy_from_slice(&flags[3]);
        cols_prev = cols;
        base_prev = base;
        alert_prev = alertb;
    }
}
