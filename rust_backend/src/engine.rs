//! Drivers: one series (families in parallel, every output) and batches (lanes of
//! symbols in parallel, last `tail` bars only), with run-time CPU dispatch.

use std::cell::RefCell;
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::family::{family_pass, Members, PassInput, Phase};
use crate::layer2::{layer2_pass, Layer2Out, Layer2Params};
use crate::ma::{drive, BarSink, Dema, Ema, Hull, Kama, Lsma, MaKernel, Sma, Wma};
use crate::params::{HmaKind, InputError, Params};
use crate::simd::{load_at, store_at, Simd};

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
        if std::is_x86_feature_detected!("avx2") {
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

/// g[t] = e^(λ·(t − cutout)) for t ≥ cutout, NaN before (§3); `pow` as in the Pine.
pub fn growth_row(bars: usize, lam: f64, cutout: usize) -> Vec<f64> {
    (0..bars)
        .map(|t| if t >= cutout { std::f64::consts::E.powf(lam * (t - cutout) as f64) } else { f64::NAN })
        .collect()
}

/// R[t]·g[t] over an interleaved close (§3, §6 step 1); NaN on bar 0.
#[inline(always)]
fn fill_rg<V: Simd>(close: &[f64], g: &[f64], bars: usize, rg: &mut [f64]) {
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
fn run_family<V: Simd>(f: usize, p: &Params, inp: &PassInput<'_>, signal: &mut [f64], hull_raw: &mut Vec<f64>) {
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

fn layer2_params(p: &Params, families: usize) -> Layer2Params {
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

// ---------------------------------------------------------------------------------------
// One series.

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
    /// (54, bars) each: MAs, crossover states, member equities.
    pub detail: Option<SingleDetail>,
}

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

/// Full ATC of one series at a given SIMD level (see [`supported_levels`]).
pub fn compute_single_at(
    level: SimdLevel,
    close: &[f64],
    src: Option<&[f64]>,
    p: &Params,
    detail: bool,
) -> Result<SingleOut, InputError> {
    p.validate()?;
    check_level(level)?;
    let n = close.len();
    if n < 1 {
        return Err(InputError::new("close", "close has no bars; at least 1 is needed"));
    }
    check_prices("close", close)?;
    if let Some(s) = src {
        if s.len() != n {
            return Err(InputError::new("src", format!("src has {} bars but close has {n}", s.len())));
        }
        check_prices("src", s)?;
    }
    let g = growth_row(n, p.lam, p.cutout);
    let mut rg = vec![0.0; n];
    fill_rg::<f64>(close, &g, n, &mut rg);
    let inp = PassInput { x: src.unwrap_or(close), close, rg: &rg, bars: n, cutout: p.cutout, decay: 1.0 - p.delta };
    let mut signals = vec![0.0; 6 * n];
    let mut det = detail.then(|| SingleDetail {
        mas: vec![0.0; 54 * n],
        states: vec![0; 54 * n],
        equities: vec![0.0; 54 * n],
    });
    // SAFETY: `level` was checked to be supported by this CPU.
    unsafe { single_layer1(level, p, &inp, &mut signals, det.as_mut()) };

    let mut out = SingleOut {
        bars: n,
        average: vec![0.0; n],
        signals,
        family_equities: vec![0.0; 6 * n],
        signal_base: vec![0.0; n],
        direction: vec![0.0; n],
        arrow_long: vec![false; n],
        arrow_short: vec![false; n],
        long: vec![false; n],
        short: vec![false; n],
        detail: det,
    };
    let mut l2 = Layer2Out {
        fs: &mut out.family_equities,
        avg: &mut out.average,
        base: &mut out.signal_base,
        direction: &mut out.direction,
        arrow_long: &mut out.arrow_long,
        arrow_short: &mut out.arrow_short,
        long: &mut out.long,
        short: &mut out.short,
    };
    layer2_pass::<f64>(&layer2_params(p, 6), &out.signals, &rg, n, &mut l2);
    Ok(out)
}

/// Bars per block of the single-series kernel: the MAs of a block are computed family by
/// family into a small buffer, then the members advance over it.
const SINGLE_BLOCK: usize = 128;
/// Family lanes in the block buffer (six used, padded to a multiple of every vector).
const FAMILY_LANES: usize = 8;

/// Layer 1 of one series, lanes = families: per block, each family's nine MAs are
/// streamed (scalar, nine independent recursions per family) into `[bar][member][family]`;
/// then member `k` of all six families advances as one vector.
#[inline(always)]
fn single_kernel<V: Simd, H: MaKernel<f64>>(
    p: &Params,
    inp: &PassInput<'_>,
    mut hma: H,
    signals: &mut [f64],
    mut detail: Option<&mut SingleDetail>,
) {
    let n = inp.bars;
    assert!(inp.x.len() >= n && inp.close.len() >= n && inp.rg.len() >= n && signals.len() >= 6 * n);
    if let Some(d) = detail.as_deref() {
        assert!(d.mas.len() >= 54 * n && d.states.len() >= 54 * n && d.equities.len() >= 54 * n);
    }
    let chunks = 6usize.div_ceil(V::LANES);
    let mut ema = Ema::<f64>::new(&p.lengths[0]);
    let mut wma = Wma::<f64>::new(&p.lengths[2]);
    let mut dema = Dema::<f64>::new(&p.lengths[3]);
    let mut lsma = Lsma::<f64>::new(&p.lengths[4]);
    let mut kama = Kama::<f64>::new(&p.lengths[5]);
    let mut members = [Members::<V>::new(); FAMILY_LANES];
    let mut blk: Block = [[[0.0; FAMILY_LANES]; 9]; SINGLE_BLOCK];
    let decay = V::splat(inp.decay);
    let mut b0 = 0;
    while b0 < n {
        let b1 = (b0 + SINGLE_BLOCK).min(n);
        fill_block(&mut ema, inp.x, b0, b1, 0, &mut blk);
        fill_block(&mut hma, inp.x, b0, b1, 1, &mut blk);
        fill_block(&mut wma, inp.x, b0, b1, 2, &mut blk);
        fill_block(&mut dema, inp.x, b0, b1, 3, &mut blk);
        fill_block(&mut lsma, inp.x, b0, b1, 4, &mut blk);
        fill_block(&mut kama, inp.x, b0, b1, 5, &mut blk);
        for t in b0..b1 {
            let c = V::splat(inp.close[t]);
            let cp = V::splat(if t == 0 { f64::NAN } else { inp.close[t - 1] });
            let r = V::splat(inp.rg[t]);
            let phase = Phase::of(t, inp.cutout);
            let row = &blk[t - b0];
            for (ch, mem) in members.iter_mut().enumerate().take(chunks) {
                let lane0 = ch * V::LANES;
                let mut cur = [V::splat(0.0); 9];
                for k in 0..9 {
                    // SAFETY: lane0 + LANES ≤ FAMILY_LANES (LANES divides 8).
                    cur[k] = unsafe { V::load(row[k].as_ptr().add(lane0)) };
                }
                let sig = mem.bar(&cur, c, cp, r, phase, decay);
                let mut lanes = [0.0; FAMILY_LANES];
                unsafe { sig.store(lanes.as_mut_ptr()) };
                let fams = lane0..(lane0 + V::LANES).min(6);
                for f in fams.clone() {
                    signals[f * n + t] = lanes[f - lane0];
                }
                if let Some(d) = detail.as_deref_mut() {
                    for k in 0..9 {
                        let (mut st, mut eq) = ([0.0; FAMILY_LANES], [0.0; FAMILY_LANES]);
                        unsafe {
                            mem.state[k].store(st.as_mut_ptr());
                            mem.eq[k].store(eq.as_mut_ptr());
                        }
                        for f in fams.clone() {
                            let i = (f * 9 + k) * n + t;
                            d.mas[i] = row[k][f];
                            d.states[i] = st[f - lane0] as i8;
                            d.equities[i] = if phase == Phase::Before { f64::NAN } else { eq[f - lane0] };
                        }
                    }
                }
            }
        }
        b0 = b1;
    }
}

type Block = [[[f64; FAMILY_LANES]; 9]; SINGLE_BLOCK];

/// Stream family `f`'s MAs over bars `b0..b1` into lane `f` of the block buffer.
#[inline(always)]
fn fill_block<K: MaKernel<f64>>(ma: &mut K, x: &[f64], b0: usize, b1: usize, f: usize, blk: &mut Block) {
    drive(ma, x, b0, b1, &mut BlockSink { blk, b0, f });
}

struct BlockSink<'a> {
    blk: &'a mut Block,
    b0: usize,
    f: usize,
}

impl BarSink<f64> for BlockSink<'_> {
    #[inline(always)]
    fn bar(&mut self, t: usize, ma: &[f64; 9]) {
        for k in 0..9 {
            self.blk[t - self.b0][k][self.f] = ma[k];
        }
    }
}

/// [`single_kernel`] with the "HMA" family's kind resolved.
#[inline(always)]
fn single_layer1_generic<V: Simd>(p: &Params, inp: &PassInput<'_>, signals: &mut [f64], detail: Option<&mut SingleDetail>) {
    match p.hma_kind {
        HmaKind::Sma => single_kernel::<V, _>(p, inp, Sma::<f64>::new(&p.lengths[1]), signals, detail),
        HmaKind::Hull => {
            let hull = Hull::<f64>::new(&p.lengths[1], inp.bars, Vec::new());
            single_kernel::<V, _>(p, inp, hull, signals, detail)
        }
    }
}

fn check_level(level: SimdLevel) -> Result<(), InputError> {
    if supported_levels().contains(&level) {
        Ok(())
    } else {
        Err(InputError::new("simd", format!("this CPU does not support the {} kernels", level.name())))
    }
}

fn check_prices(name: &'static str, v: &[f64]) -> Result<(), InputError> {
    match v.iter().position(|x| !(x.is_finite() && *x > 0.0)) {
        None => Ok(()),
        Some(i) => Err(InputError::new(
            name,
            format!("{name} at bar {i} is {}; prices must be finite and > 0", v[i]),
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Batches.

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

    let lanes = level.lanes();
    let mut order: Vec<usize> = (0..symbols).collect();
    order.sort_by_key(|&i| starts[i]);
    let mut groups = Vec::with_capacity(symbols / lanes + 8);
    for run in order.chunk_by(|&a, &b| starts[a] == starts[b]) {
        for chunk in run.chunks(lanes) {
            groups.push(Group { start: starts[chunk[0]], symbols: chunk.to_vec() });
        }
    }

    let nf = families;
    let mut out = BatchOut {
        symbols,
        families: nf,
        tail,
        signals: vec![f64::NAN; symbols * nf * tail],
        family_equities: vec![f64::NAN; symbols * nf * tail],
        direction: vec![f64::NAN; symbols * tail],
        long: vec![false; symbols * tail],
        short: vec![false; symbols * tail],
        last_event: vec![0; symbols],
        bars_since_event: vec![-1; symbols],
        average: (nf == 6).then(|| vec![f64::NAN; symbols * tail]),
    };
    let ptrs = OutPtrs {
        signals: out.signals.as_mut_ptr(),
        fs: out.family_equities.as_mut_ptr(),
        direction: out.direction.as_mut_ptr(),
        long: out.long.as_mut_ptr(),
        short: out.short.as_mut_ptr(),
        last_event: out.last_event.as_mut_ptr(),
        since: out.bars_since_event.as_mut_ptr(),
        average: out.average.as_mut().map_or(std::ptr::null_mut(), |v| v.as_mut_ptr()),
    };
    let g = growth_row(bars, p.lam, p.cutout);
    let job = BatchJob { closes, bars, p, tail, families: nf, g: &g, out: &ptrs };
    groups.par_iter().for_each(|grp| {
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            // SAFETY: `level` is supported; groups partition the symbols.
            unsafe { batch_group(level, &job, grp, &mut scratch) };
        })
    });
    Ok(out)
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

macro_rules! x86_entries {
    ($group:ident, $single:ident, $features:literal, $v:ty) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $group(job: &BatchJob<'_>, grp: &Group, s: &mut Scratch) {
            unsafe { run_group::<$v>(job, grp, s) }
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $single(p: &Params, inp: &PassInput<'_>, signals: &mut [f64], detail: Option<&mut SingleDetail>) {
            single_layer1_generic::<$v>(p, inp, signals, detail)
        }
    };
}

#[cfg(target_arch = "x86_64")]
use crate::simd::{F64x2, F64x4, F64x8};

x86_entries!(group_avx512, single_avx512, "avx512f,avx512vl,avx512dq,avx2,avx,sse4.1,sse4.2", F64x8);
x86_entries!(group_avx2, single_avx2, "avx2,avx,sse4.1,sse4.2", F64x4);

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

/// # Safety
/// `level` must be supported by this CPU.
unsafe fn single_layer1(level: SimdLevel, p: &Params, inp: &PassInput<'_>, signals: &mut [f64], detail: Option<&mut SingleDetail>) {
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => unsafe { single_avx512(p, inp, signals, detail) },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => unsafe { single_avx2(p, inp, signals, detail) },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Baseline => single_layer1_generic::<F64x2>(p, inp, signals, detail),
        #[cfg(not(target_arch = "x86_64"))]
        _ => single_layer1_generic::<f64>(p, inp, signals, detail),
    }
}
