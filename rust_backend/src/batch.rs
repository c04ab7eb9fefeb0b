//! Batches: right-aligned `(symbols, bars)` arrays, groups of symbols that share a start
//! bar advanced as vector lanes, groups spread over the thread pool, and only the last
//! `tail` bars copied out.

use std::cell::RefCell;

use rayon::prelude::*;

use crate::engine::{check_level, default_level, fill_rg, growth_row, layer2_params, run_family, SimdLevel};
use crate::family::PassInput;
use crate::layer2::{layer2_pass, Layer2Out};
use crate::params::{InputError, Params};
use crate::simd::Simd;
#[cfg(target_arch = "x86_64")]
use crate::simd::{F64x2, F64x4, F64x8};

/// Batch outputs for the last `tail` bars (row-major, symbol first).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchOut {
    pub symbols: usize,
    pub families: usize,
    pub tail: usize,
    /// (symbols, families, tail)
    pub signals: Vec<f64>,
    pub family_equities: Vec<f64>,
    /// (symbols, tail)
    pub direction: Vec<f64>,
    pub long: Vec<bool>,
    pub short: Vec<bool>,
    /// (symbols,): +1 long, −1 short, 0 none, over the whole history.
    pub last_event: Vec<i8>,
    /// (symbols,): bars since that event, −1 when none.
    pub bars_since_event: Vec<i64>,
    /// (symbols, tail) with six families.
    pub average: Option<Vec<f64>>,
}

/// Batch ATC at the default SIMD level. `closes` is `(symbols, bars)` row-major; row `i`
/// starts at bar `starts[i]` (NaN-left-padded); `families` is 6 (full) or 1 (EMA only).
pub fn compute_batch(
    closes: &[f64],
    symbols: usize,
    bars: usize,
    starts: &[usize],
    p: &Params,
    tail: usize,
    families: usize,
) -> Result<BatchOut, InputError> {
    compute_batch_at(default_level(), closes, symbols, bars, starts, p, tail, families)
}

/// Raw output pointers shared by the workers; each symbol's rows are written by exactly
/// one group, so writes never overlap.
struct OutPtrs {
    signals: *mut f64,
    fs: *mut f64,
    direction: *mut f64,
    long: *mut bool,
    short: *mut bool,
    last_event: *mut i8,
    since: *mut i64,
    average: *mut f64,
}

// SAFETY: the pointers target buffers that outlive the parallel section, and every
// symbol's elements are written by one worker only.
unsafe impl Send for OutPtrs {}
unsafe impl Sync for OutPtrs {}

/// A group of up to `L` symbols sharing a start bar; short groups repeat their last
/// symbol in the spare lanes and discard those results.
struct Group {
    start: usize,
    symbols: Vec<usize>,
}

/// Per-thread buffers reused across groups and calls.
#[derive(Default)]
struct Scratch {
    x: Vec<f64>,
    rg: Vec<f64>,
    signals: Vec<f64>,
    fs: Vec<f64>,
    avg: Vec<f64>,
    base: Vec<f64>,
    direction: Vec<f64>,
    flags: [Vec<bool>; 4],
    hull_raw: Vec<f64>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Batch ATC at a given SIMD level (see [`compute_batch`]).
#[allow(clippy::too_many_arguments)]
pub fn compute_batch_at(
    level: SimdLevel,
    closes: &[f64],
    symbols: usize,
    bars: usize,
    starts: &[usize],
    p: &Params,
    tail: usize,
    families: usize,
) -> Result<BatchOut, InputError> {
    let nf = families;
    let mut out = BatchOut {
        symbols,
        families: nf,
        tail,
        signals: vec![0.0; symbols * nf * tail],
        family_equities: vec![0.0; symbols * nf * tail],
        direction: vec![0.0; symbols * tail],
        long: vec![false; symbols * tail],
        short: vec![false; symbols * tail],
        last_event: vec![0; symbols],
        bars_since_event: vec![0; symbols],
        average: (nf == 6).then(|| vec![0.0; symbols * tail]),
    };
    let rows = BatchRows {
        signals: &mut out.signals,
        family_equities: &mut out.family_equities,
        direction: &mut out.direction,
        long: &mut out.long,
        short: &mut out.short,
        last_event: &mut out.last_event,
        bars_since_event: &mut out.bars_since_event,
        average: out.average.as_deref_mut(),
    };
    compute_batch_into(level, closes, symbols, bars, starts, p, tail, families, rows)?;
    Ok(out)
}

/// Where [`compute_batch_into`] writes (shapes as in [`BatchOut`]); every element is
/// written, bars before a symbol's start as NaN / false.
pub struct BatchRows<'a> {
    pub signals: &'a mut [f64],
    pub family_equities: &'a mut [f64],
    pub direction: &'a mut [f64],
    pub long: &'a mut [bool],
    pub short: &'a mut [bool],
    pub last_event: &'a mut [i8],
    pub bars_since_event: &'a mut [i64],
    /// Required with six families, ignored with one.
    pub average: Option<&'a mut [f64]>,
}

impl BatchRows<'_> {
    /// Whether the rows hold the outputs of `symbols × families × tail` (Average_Signal
    /// too with six families).
    pub fn fit(&self, symbols: usize, families: usize, tail: usize) -> bool {
        let (cube, plane) = (symbols * families * tail, symbols * tail);
        self.signals.len() == cube
            && self.family_equities.len() == cube
            && self.direction.len() == plane
            && self.long.len() == plane
            && self.short.len() == plane
            && self.last_event.len() == symbols
            && self.bars_since_event.len() == symbols
            && (families == 1 || self.average.as_ref().is_some_and(|a| a.len() == plane))
    }
}

/// Batch ATC into caller-provided rows.
#[allow(clippy::too_many_arguments)]
pub fn compute_batch_into(
    level: SimdLevel,
    closes: &[f64],
    symbols: usize,
    bars: usize,
    starts: &[usize],
    p: &Params,
    tail: usize,
    families: usize,
    rows: BatchRows<'_>,
) -> Result<(), InputError> {
    p.validate()?;
    check_level(level)?;
    if families != 6 && families != 1 {
        return Err(InputError::new("mode", format!("families = {families}: must be 6 (full) or 1 (ema_only)")));
    }
    if symbols.checked_mul(bars) != Some(closes.len()) {
        return Err(InputError::new(
            "closes",
            format!("closes holds {} values, not symbols × bars = {symbols} × {bars}", closes.len()),
        ));
    }
    if bars < 1 {
        return Err(InputError::new("closes", "closes has no bars; at least 1 is needed"));
    }
    if starts.len() != symbols {
        return Err(InputError::new("starts", format!("starts has {} entries for {symbols} symbols", starts.len())));
    }
    if let Some(i) = starts.iter().position(|&s| s > bars) {
        return Err(InputError::new("starts", format!("starts[{i}] = {} is beyond the {bars} bars", starts[i])));
    }
    if tail < 1 || tail > bars {
        return Err(InputError::new("tail", format!("tail = {tail} is out of range: allowed 1 … {bars} (bars)")));
    }
    let nf = families;
    if !rows.fit(symbols, nf, tail) {
        return Err(InputError::new("out", "output rows do not match symbols × tail"));
    }
    let BatchRows { signals, family_equities, direction, long, short, last_event, bars_since_event, average } = rows;
    let average = if nf == 6 { average } else { None };
    // Bars before a symbol's start stay na / false; the kernels overwrite the rest.
    signals.fill(f64::NAN);
    family_equities.fill(f64::NAN);
    direction.fill(f64::NAN);
    long.fill(false);
    short.fill(false);
    last_event.fill(0);
    bars_since_event.fill(-1);

    let lanes = level.lanes();
    let mut order: Vec<usize> = (0..symbols).collect();
    order.sort_by_key(|&i| starts[i]);
    let mut groups = Vec::with_capacity(symbols / lanes + 8);
    for run in order.chunk_by(|&a, &b| starts[a] == starts[b]) {
        for chunk in run.chunks(lanes) {
            groups.push(Group { start: starts[chunk[0]], symbols: chunk.to_vec() });
        }
    }
    let ptrs = OutPtrs {
        signals: signals.as_mut_ptr(),
        fs: family_equities.as_mut_ptr(),
        direction: direction.as_mut_ptr(),
        long: long.as_mut_ptr(),
        short: short.as_mut_ptr(),
        last_event: last_event.as_mut_ptr(),
        since: bars_since_event.as_mut_ptr(),
        average: match average {
            Some(a) => {
                a.fill(f64::NAN);
                a.as_mut_ptr()
            }
            None => std::ptr::null_mut(),
        },
    };
    let g = growth_row(bars, p.lam, p.cutout);
    let job = BatchJob { closes, bars, p, tail, families: nf, g: &g[..bars], out: &ptrs };
    groups.par_iter().for_each(|grp| {
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            // SAFETY: `level` is supported; groups partition the symbols.
            unsafe { batch_group(level, &job, grp, &mut scratch) };
        })
    });
    Ok(())
}

/// What every group of one batch call shares.
struct BatchJob<'a> {
    closes: &'a [f64],
    bars: usize,
    p: &'a Params,
    tail: usize,
    families: usize,
    g: &'a [f64],
    out: &'a OutPtrs,
}

/// One group of `V::LANES` symbols: transpose, Layer 1 per family, Layer 2 and events,
/// then copy the tail of each real symbol out.
///
/// # Safety
/// `job.out` points to buffers sized for the batch; no other group holds these symbols.
#[inline(always)]
unsafe fn run_group<V: Simd>(job: &BatchJob<'_>, grp: &Group, s: &mut Scratch) {
    let lanes = V::LANES;
    let bars = job.bars;
    let m = bars - grp.start;
    if m == 0 {
        return;
    }
    let size = m * lanes;
    let nf = job.families;
    s.x.resize(size, 0.0);
    for l in 0..lanes {
        let sym = grp.symbols[l.min(grp.symbols.len() - 1)];
        let row = &job.closes[sym * bars + grp.start..(sym + 1) * bars];
        for (t, &v) in row.iter().enumerate() {
            s.x[t * lanes + l] = v;
        }
    }
    s.rg.resize(size, 0.0);
    fill_rg::<V>(&s.x, job.g, m, &mut s.rg);
    s.signals.resize(nf * size, 0.0);
    let p = job.p;
    {
        let inp = PassInput { x: &s.x, close: &s.x, rg: &s.rg, bars: m, cutout: p.cutout, decay: 1.0 - p.delta };
        for f in 0..nf {
            run_family::<V>(f, p, &inp, &mut s.signals[f * size..(f + 1) * size], &mut s.hull_raw);
        }
    }
    s.fs.resize(nf * size, 0.0);
    s.avg.resize(if nf == 6 { size } else { 0 }, 0.0);
    s.base.resize(size, 0.0);
    s.direction.resize(size, 0.0);
    for f in s.flags.iter_mut() {
        f.resize(size, false);
    }
    let [al, ash, lg, sh] = &mut s.flags;
    let mut l2 = Layer2Out {
        fs: &mut s.fs,
        avg: &mut s.avg,
        base: &mut s.base,
        direction: &mut s.direction,
        arrow_long: al,
        arrow_short: ash,
        long: lg,
        short: sh,
    };
    layer2_pass::<V>(&layer2_params(p, nf), &s.signals, &s.rg, m, &mut l2);

    let tail = job.tail;
    let k = tail.min(m);
    let (off, t0) = (tail - k, m - k);
    let o = job.out;
    for (l, &sym) in grp.symbols.iter().enumerate() {
        // SAFETY: sym < symbols; every index below stays inside that symbol's rows.
        unsafe {
            for f in 0..nf {
                let dst = (sym * nf + f) * tail + off;
                for j in 0..k {
                    let src = f * size + (t0 + j) * lanes + l;
                    *o.signals.add(dst + j) = s.signals[src];
                    *o.fs.add(dst + j) = s.fs[src];
                }
            }
            let dst = sym * tail + off;
            for j in 0..k {
                let src = (t0 + j) * lanes + l;
                *o.direction.add(dst + j) = s.direction[src];
                *o.long.add(dst + j) = s.flags[2][src];
                *o.short.add(dst + j) = s.flags[3][src];
                if !o.average.is_null() {
                    *o.average.add(dst + j) = s.avg[src];
                }
            }
            if let Some(t) = (0..m).rev().find(|&t| s.flags[2][t * lanes + l] || s.flags[3][t * lanes + l]) {
                *o.last_event.add(sym) = if s.flags[2][t * lanes + l] { 1 } else { -1 };
                *o.since.add(sym) = (m - 1 - t) as i64;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Run-time dispatch: the generic kernels are inlined into one function per level, each
// compiled for that level's instruction set.

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma,avx,sse4.1,sse4.2")]
unsafe fn group_avx512(job: &BatchJob<'_>, grp: &Group, s: &mut Scratch) {
    unsafe { run_group::<F64x8>(job, grp, s) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx,sse4.1,sse4.2")]
unsafe fn group_avx2(job: &BatchJob<'_>, grp: &Group, s: &mut Scratch) {
    unsafe { run_group::<F64x4>(job, grp, s) }
}

/// # Safety
/// `level` must be supported by this CPU; see [`run_group`].
unsafe fn batch_group(level: SimdLevel, job: &BatchJob<'_>, grp: &Group, s: &mut Scratch) {
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => unsafe { group_avx512(job, grp, s) },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => unsafe { group_avx2(job, grp, s) },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Baseline => unsafe { run_group::<F64x2>(job, grp, s) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unsafe { run_group::<f64>(job, grp, s) },
    }
}
