//! One series: every output of the spec, with the six families as vector lanes.
//!
//! The bars are processed in blocks by the two stages of [`crate::stage`] (stage A: the
//! MAs; stage B: members, Layer 1, Layer 2 and the events), which [`crate::pipeline`]
//! schedules; this module checks the input and dispatches to the instruction-set level.

use crate::engine::{check_level, check_series, default_level, growth_row, SimdLevel};
use crate::params::{InputError, Params};
use crate::pipeline::{run, SeriesInput};
#[cfg(not(target_arch = "x86_64"))]
use crate::stage::Scalar;
#[cfg(target_arch = "x86_64")]
use crate::stage::{Avx2, Avx512, Sse2};
pub use crate::stage::{DetailRows, SingleRows};

/// Every output of the spec for one series (rows are bar-contiguous).
#[derive(Debug, Clone, PartialEq)]
pub struct SingleOut {
    pub bars: usize,
    pub average: Vec<f64>,
    /// (6, bars) Layer-1 signals.
    pub signals: Vec<f64>,
    /// (6, bars) Layer-2 equities.
    pub family_equities: Vec<f64>,
    pub signal_base: Vec<f64>,
    pub direction: Vec<f64>,
    pub arrow_long: Vec<bool>,
    pub arrow_short: Vec<bool>,
    pub long: Vec<bool>,
    pub short: Vec<bool>,
    pub detail: Option<SingleDetail>,
}

/// (54, bars) each, rows in `MA_NAMES` order: MAs, crossover states, member equities.
#[derive(Debug, Clone, PartialEq)]
pub struct SingleDetail {
    pub mas: Vec<f64>,
    pub states: Vec<i8>,
    pub equities: Vec<f64>,
}

/// Full ATC of one series at the default SIMD level.
pub fn compute_single(close: &[f64], src: Option<&[f64]>, p: &Params, detail: bool) -> Result<SingleOut, InputError> {
    compute_single_at(default_level(), close, src, p, detail)
}

/// Full ATC of one series at a given SIMD level (see [`crate::engine::supported_levels`]).
pub fn compute_single_at(
    level: SimdLevel,
    close: &[f64],
    src: Option<&[f64]>,
    p: &Params,
    detail: bool,
) -> Result<SingleOut, InputError> {
    let n = close.len();
    let mut out = SingleOut {
        bars: n,
        average: vec![0.0; n],
        signals: vec![0.0; 6 * n],
        family_equities: vec![0.0; 6 * n],
        signal_base: vec![0.0; n],
        direction: vec![0.0; n],
        arrow_long: vec![false; n],
        arrow_short: vec![false; n],
        long: vec![false; n],
        short: vec![false; n],
        detail: detail.then(|| SingleDetail {
            mas: vec![0.0; 54 * n],
            states: vec![0; 54 * n],
            equities: vec![0.0; 54 * n],
        }),
    };
    let rows = SingleRows {
        average: &mut out.average,
        signals: &mut out.signals,
        family_equities: &mut out.family_equities,
        signal_base: &mut out.signal_base,
        direction: &mut out.direction,
        flags: [&mut out.arrow_long, &mut out.arrow_short, &mut out.long, &mut out.short],
        detail: out.detail.as_mut().map(|d| DetailRows {
            mas: &mut d.mas,
            states: &mut d.states,
            equities: &mut d.equities,
        }),
    };
    compute_single_into(level, close, src, p, rows)?;
    Ok(out)
}

/// Full ATC of one series into caller-provided rows.
pub fn compute_single_into(
    level: SimdLevel,
    close: &[f64],
    src: Option<&[f64]>,
    p: &Params,
    mut rows: SingleRows<'_>,
) -> Result<(), InputError> {
    p.validate()?;
    check_level(level)?;
    let n = close.len();
    if n < 1 {
        return Err(InputError::new("close", "close has no bars; at least 1 is needed"));
    }
    check_series("close", close, src)?;
    if !rows.fit(n) {
        return Err(InputError::new("out", format!("output rows do not match the {n} bars")));
    }
    let g = growth_row(n, p.lam, p.cutout);
    let inp = SeriesInput { x: src.unwrap_or(close), close, g: &g[..n] };
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => run::<Avx512>(p, &inp, &mut rows),
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => run::<Avx2>(p, &inp, &mut rows),
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Baseline => run::<Sse2>(p, &inp, &mut rows),
        #[cfg(not(target_arch = "x86_64"))]
        _ => run::<Scalar>(p, &inp, &mut rows),
    }
    Ok(())
}
