//! What the single-series and batch drivers share: instruction-set levels and their
//! run-time detection, the growth factor, R·g, and input checks.

use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

use crate::family::{family_pass, PassInput};
use crate::layer2::Layer2Params;
use crate::ma::{Dema, Ema, Kama};
use crate::params::{HmaKind, InputError, Params};
use crate::simd::{load_at, store_at, Simd};
use crate::window::{Hull, Lsma, Sma, Wma};

/// Instruction-set level the kernels were dispatched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    /// Whatever the build target guarantees (SSE2 on x86-64).
    Baseline,
    Avx2,
    Avx512,
}

impl SimdLevel {
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Baseline => "baseline",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// Symbols advanced together by the batch kernel at this level.
    pub fn lanes(self) -> usize {
        match self {
            SimdLevel::Baseline if cfg!(target_arch = "x86_64") => 2,
            SimdLevel::Baseline => 1,
            SimdLevel::Avx2 => 4,
            SimdLevel::Avx512 => 8,
        }
    }
}

/// Every level this CPU can run, lowest first.
pub fn supported_levels() -> Vec<SimdLevel> {
    let mut levels = vec![SimdLevel::Baseline];
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            levels.push(SimdLevel::Avx2);
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512vl")
                && std::is_x86_feature_detected!("avx512dq")
            {
                levels.push(SimdLevel::Avx512);
            }
        }
    }
    levels
}

/// The level used by default: the best supported one, or a lower one named by the
/// environment variable `ATC_RUST_SIMD` (`baseline`, `avx2`, `avx512`).
pub fn default_level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let levels = supported_levels();
        let best = *levels.last().expect("baseline is always supported");
        match std::env::var("ATC_RUST_SIMD").ok().as_deref() {
            Some(want) => levels.iter().copied().find(|l| l.name() == want).unwrap_or(best),
            None => best,
        }
    })
}

/// `g[t] = e^(λ·(t − cutout))` for t ≥ cutout, NaN before (§3), computed with `pow` as
/// the Pine (and the reference) do.
pub fn growth_value(t: usize, lam: f64, cutout: usize) -> f64 {
    if t >= cutout {
        std::f64::consts::E.powf(lam * (t - cutout) as f64)
    } else {
        f64::NAN
    }
}

/// Recently used growth rows per (λ, cutout); g depends only on the bar, so the longest
/// row serves every shorter series. One `pow` per bar is a visible share of a long series.
static GROWTH_ROWS: Mutex<Vec<GrowthRow>> = Mutex::new(Vec::new());
/// (λ bits, cutout, row).
type GrowthRow = (u64, usize, Arc<Vec<f64>>);
const GROWTH_ROWS_KEPT: usize = 4;

/// g for bars `0..bars` (at least; the row may be longer).
pub fn growth_row(bars: usize, lam: f64, cutout: usize) -> Arc<Vec<f64>> {
    let key = (lam.to_bits(), cutout);
    let mut cache = GROWTH_ROWS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(row) = cache.iter().find(|(l, c, r)| (*l, *c) == key && r.len() >= bars) {
        return Arc::clone(&row.2);
    }
    drop(cache);
    let row: Vec<f64> = if bars >= 16_384 {
        (0..bars).into_par_iter().map(|t| growth_value(t, lam, cutout)).collect()
    } else {
        (0..bars).map(|t| growth_value(t, lam, cutout)).collect()
    };
    let row = Arc::new(row);
    cache = GROWTH_ROWS.lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|(l, c, _)| (*l, *c) != key);
    if cache.len() >= GROWTH_ROWS_KEPT {
        cache.remove(0);
    }
    cache.push((key.0, key.1, Arc::clone(&row)));
    row
}

/// R[t]·g[t] over an interleaved close (§3, §6 step 1); NaN on bar 0.
#[inline(always)]
pub(crate) fn fill_rg<V: Simd>(close: &[f64], g: &[f64], bars: usize, rg: &mut [f64]) {
    assert!(close.len() >= bars * V::LANES && rg.len() >= bars * V::LANES && g.len() >= bars);
    if bars == 0 {
        return;
    }
    // SAFETY (loads/stores): t < bars, sizes asserted above.
    unsafe { store_at::<V>(rg, 0, V::splat(f64::NAN)) };
    let mut cp = unsafe { load_at::<V>(close, 0) };
    for t in 1..bars {
        let c = unsafe { load_at::<V>(close, t) };
        unsafe { store_at::<V>(rg, t, (c - cp) / cp * V::splat(g[t])) };
        cp = c;
    }
}

/// Family `f` over one group of lanes (Layer 1), lanes = series.
#[inline(always)]
pub(crate) fn run_family<V: Simd>(
    f: usize,
    p: &Params,
    inp: &PassInput<'_>,
    signal: &mut [f64],
    hull_raw: &mut Vec<f64>,
) {
    let n = &p.lengths[f];
    match f {
        0 => family_pass(&mut Ema::<V>::new(n), inp, signal),
        1 => match p.hma_kind {
            HmaKind::Sma => family_pass(&mut Sma::<V>::new(n), inp, signal),
            HmaKind::Hull => {
                let mut hull = Hull::<V>::new(n, inp.bars, std::mem::take(hull_raw));
                family_pass(&mut hull, inp, signal);
                *hull_raw = hull.into_storage();
            }
        },
        2 => family_pass(&mut Wma::<V>::new(n), inp, signal),
        3 => family_pass(&mut Dema::<V>::new(n), inp, signal),
        4 => family_pass(&mut Lsma::<V>::new(n), inp, signal),
        _ => family_pass(&mut Kama::<V>::new(n), inp, signal),
    }
}

pub(crate) fn layer2_params(p: &Params, families: usize) -> Layer2Params {
    let (colbase, alertbase) = if families == 6 { (p.colbase, p.alertbase) } else { (1, 1) };
    Layer2Params {
        families,
        weights: p.weights,
        decay: 1.0 - p.delta,
        cutout: p.cutout,
        cut_threshold: p.cut_threshold,
        long_threshold: p.long_threshold,
        short_threshold: p.short_threshold,
        strategy: p.strategy,
        colbase,
        alertbase,
    }
}

pub(crate) fn check_level(level: SimdLevel) -> Result<(), InputError> {
    if supported_levels().contains(&level) {
        Ok(())
    } else {
        Err(InputError::new("simd", format!("this CPU does not support the {} kernels", level.name())))
    }
}

/// Whether every value lies within `lo … hi` (NaN does not): one pass, split over the
/// thread pool for large inputs.
pub fn all_within(v: &[f64], lo: f64, hi: f64) -> bool {
    const CHUNK: usize = 1 << 16;
    let within = |c: &[f64]| c.iter().fold(true, |ok, &x| ok & (x >= lo) & (x <= hi));
    if v.len() > CHUNK {
        v.par_chunks(CHUNK).all(within)
    } else {
        within(v)
    }
}

pub(crate) fn check_prices(name: &'static str, v: &[f64]) -> Result<(), InputError> {
    // The common case, every price finite and > 0, as one maximum the compiler
    // vectorises: those are the values whose bits, read as an integer, lie in
    // 1 ..= f64::MAX's (negative values have the sign bit set, NaN and ∞ lie above); the
    // search for the bar only on failure.
    if v.iter().fold(0u64, |m, &x| m.max(x.to_bits().wrapping_sub(1))) < f64::MAX.to_bits() {
        return Ok(());
    }
    match v.iter().position(|x| !(x.is_finite() && *x > 0.0)) {
        None => Ok(()),
        Some(i) => Err(InputError::new(name, format!("{name} at bar {i} is {}; prices must be finite and > 0", v[i]))),
    }
}

/// A series' closes (`name` in messages) and its MA source, when separate: prices, of
/// the same length.
pub(crate) fn check_series(name: &'static str, close: &[f64], src: Option<&[f64]>) -> Result<(), InputError> {
    check_prices(name, close)?;
    if let Some(s) = src {
        if s.len() != close.len() {
            return Err(InputError::new("src", format!("src has {} bars but {name} has {}", s.len(), close.len())));
        }
        check_prices("src", s)?;
    }
    Ok(())
}
