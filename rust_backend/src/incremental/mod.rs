//! Incremental ATC: everything the indicator carries from one bar to the next, per
//! symbol, so that a new closed bar costs one step instead of a recompute, and the
//! still-forming bar can be evaluated on every tick without touching the state.
//!
//! A [`SymbolState`] holds, for one parameter set (an [`Engine`]):
//! * one window of the latest source values, shared by every MA that looks back (the
//!   §4.8 WMA/LINREG/Hull window sums, the `math.sum` re-baselines, KAMA's x[t−n]):
//!   the longest length + 1 values;
//! * the two rolling `math.sum` machines (the SMA family, KAMA's noise): sums,
//!   compensations and the rings of realised addends;
//! * the EMA, DEMA and KAMA recursions (and the Hull MA's raw values with
//!   `hma_kind = "hull"`), each member's previous MA, crossover state and equity,
//!   Layer 2 with its `a`, the direction, and the last event;
//! * while some EMA or DEMA is still seeding, the seed sums and DEMA's E1 values since
//!   its first one (dropped once every seed exists).
//!
//! Every bar runs the arithmetic of the full single-series computation — the shared
//! `math.sum` step ([`compensated`], [`rebaseline`]), [`ema_next`], [`kama_next`], §4.8's
//! oldest-first window sums (`exact::seq_dot`, `exact::lin_sums`, [`LinregConst`]),
//! [`Members::bar`] and Layer 2 ([`SeriesLayer2`], [`Layer2::bar`]'s operations) — on the
//! same values in the same order, so every
//! output equals the full computation's bit for bit (the tests compare every bar, at
//! every instruction-set level). Members run as vector lanes where that changes nothing
//! per lane: the window sums always, the recursions once every member is past its
//! warm-up, the crossover states and equities with the families as lanes (as the
//! single-series stage B). The full computation itself keeps its block pipeline, which
//! evaluates the window sums over many bars at once; this module is the
//! one-bar-at-a-time form of the same arithmetic.
//!
//! [`Engine::advance`] commits a bar; [`Engine::peek`] evaluates one on a copy of the
//! small per-bar values and writes nothing (the rings are only read). The drivers over
//! batches of symbols are in [`batch`].

pub mod batch;

use std::sync::Arc;

use crate::engine::{check_level, default_level, growth_row, growth_value, layer2_params, SimdLevel};
use crate::exact::{seq_dot, seq_index_sum, Bars, MemberConsts, Steps, Terms, PINE_TOLERANCE};
use crate::family::{Members, Phase};
use crate::layer2::{FamilyBar, Layer2Params, SeriesLayer2, FAMILY_LANES};
use crate::ma::{ema_next, kama_next};
use crate::mathsum::{compensated, rebaseline};
use crate::params::{HmaKind, InputError, Params};
use crate::simd::Simd;
#[cfg(target_arch = "x86_64")]
use crate::simd::{F64x2, F64x4, F64x8};

const NAN: f64 = f64::NAN;
/// Member lanes of the window sums: nine members padded to a multiple of every vector
/// width.
const MEMBER_LANES: usize = 16;
/// Growth rows are fetched in multiples of this many bars.
const GROWTH_ROW_STEP: usize = 1024;

/// Per-thread scratch space of the steps: the source window, and g of the first bars
/// (`engine::growth_row`: one `pow` per bar is a visible share of a step).
pub struct Scratch {
    xs: Vec<f64>,
    growth: Arc<Vec<f64>>,
}

/// One bar's outputs (the batch result's columns, plus what the chart's row shows).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarOut {
    pub average: f64,
    pub signals: [f64; 6],
    pub family_equities: [f64; 6],
    pub signal_base: f64,
    pub direction: f64,
    /// arrow_long, arrow_short, long, short.
    pub flags: [bool; 4],
    /// After this bar: +1 long, −1 short, 0 none (whole history).
    pub last_event: i8,
    /// After this bar: bars since that event, −1 when none.
    pub bars_since_event: i64,
}

/// One bar's detail: the 54 MAs, crossover states and member equities (family-major,
/// member order of §4.1) and R.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarDetail {
    pub mas: [[f64; 9]; 6],
    pub states: [[i8; 9]; 6],
    pub equities: [[f64; 9]; 6],
    pub rate_of_change: f64,
}

impl Default for BarDetail {
    fn default() -> Self {
        Self { mas: [[NAN; 9]; 6], states: [[0; 9]; 6], equities: [[NAN; 9]; 6], rate_of_change: NAN }
    }
}

/// Constants of the Hull MA option, per member.
struct HullConsts {
    half: [usize; 9],
    root: [usize; 9],
    div_half: [f64; 9],
    div_n: [f64; 9],
    div_root: [f64; 9],
}

/// Everything derived from one parameter set, shared by all symbols' states.
pub struct Engine {
    p: Params,
    l2: Layer2Params,
    /// The families' Layer-2 weights (padding lanes 0).
    weights: [f64; FAMILY_LANES],
    /// Instruction-set level the steps are compiled for.
    level: SimdLevel,
    /// α = 2/(n + 1) per member (lanes beyond 9 unused).
    alpha_ema: [f64; MEMBER_LANES],
    alpha_dema: [f64; MEMBER_LANES],
    /// The WMA and LINREG members' norms and constants as lanes.
    consts: MemberConsts<MEMBER_LANES>,
    /// Bars the WMA and LINREG windows span together (their longest length), and each
    /// member's first bar in that span (`span − n`; padding lanes never start).
    span: usize,
    wma_first: [f64; MEMBER_LANES],
    lsma_first: [f64; MEMBER_LANES],
    /// LINREG's Σp·y is the WMA's accumulator when the two families' lengths agree.
    lsma_is_wma: bool,
    /// Positions of the span before every member's window has begun (the longest
    /// member's begins at 0).
    span_clamped: usize,
    hull: Option<HullConsts>,
    /// Source values kept: the longest length + 1 (KAMA reads x[t − n]).
    window: usize,
    /// Each member's ring in a state's store: SMA (unused with the Hull option), KAMA's
    /// noise, the Hull's raw values (unused without it).
    sma_off: [usize; 9],
    noise_off: [usize; 9],
    hull_off: [usize; 9],
    store_len: usize,
    /// Each DEMA member's E1 values in [`Warm::e1`].
    e1_off: [usize; 9],
    e1_len: usize,
    /// Bars after which no EMA or DEMA seed is open (the warm-up state is dropped).
    seeding: usize,
    /// First bar on which every EMA, SMA, DEMA and KAMA member is past its warm-up.
    steady: usize,
}

/// Nine member values padded to the member lanes.
fn lanes(v: &[f64; 9]) -> [f64; MEMBER_LANES] {
    let mut out = [0.0; MEMBER_LANES];
    out[..9].copy_from_slice(v);
    out
}

/// A member's n values laid end to end from `start`: the offsets and the end.
fn offsets(start: usize, n: &[usize; 9]) -> ([usize; 9], usize) {
    let mut off = [0; 9];
    let mut at = start;
    for k in 0..9 {
        off[k] = at;
        at += n[k];
    }
    (off, at)
}

impl Engine {
    /// The engine of a parameter set (validated).
    pub fn new(p: &Params) -> Result<Self, InputError> {
        p.validate()?;
        let l = &p.lengths;
        let longest = l.iter().flatten().copied().max().unwrap_or(1);
        let window = longest + 1;
        let hull = (p.hma_kind == HmaKind::Hull).then(|| {
            let half = l[1].map(|n| (n / 2).max(1));
            let root = l[1].map(|n| ((n as f64).sqrt().floor() as usize).max(1));
            HullConsts {
                half,
                root,
                div_half: half.map(seq_index_sum),
                div_n: l[1].map(seq_index_sum),
                div_root: root.map(seq_index_sum),
            }
        });
        let (sma_off, end) = offsets(window, if hull.is_some() { &[0; 9] } else { &l[1] });
        let (noise_off, end) = offsets(end, &l[5]);
        let (hull_off, store_len) = offsets(end, hull.as_ref().map_or(&[0; 9], |h| &h.root));
        let (e1_off, e1_len) = offsets(0, &l[3]);
        let span = l[2].iter().chain(&l[4]).copied().max().unwrap_or(1);
        let first = |n: &[usize; 9]| {
            let mut f = [(span + 1) as f64; MEMBER_LANES];
            for k in 0..9 {
                f[k] = (span - n[k]) as f64;
            }
            f
        };
        // EMA seeds take bars 0 … n − 1, DEMA's E2 seed bars n − 1 … 2n − 2.
        let seeding = l[0].iter().copied().chain(l[3].iter().map(|n| 2 * n - 1)).max();
        // ...and the SMA's and KAMA's machines evict on every member, and KAMA's signal
        // exists (its machine starts on bar 1).
        let sma = if hull.is_some() { 0 } else { l[1].iter().copied().max().unwrap_or(1) };
        let kama = l[5].iter().map(|n| n + 1).max().unwrap_or(2);
        let steady = seeding.unwrap_or(1).max(sma).max(kama);
        let l2 = layer2_params(p, 6);
        Ok(Self {
            p: p.clone(),
            weights: SeriesLayer2::weights(&l2),
            l2,
            level: default_level(),
            alpha_ema: lanes(&l[0].map(|n| 2.0 / (n + 1) as f64)),
            alpha_dema: lanes(&l[3].map(|n| 2.0 / (n + 1) as f64)),
            consts: MemberConsts::new(&l[2], &l[4]),
            span,
            wma_first: first(&l[2]),
            lsma_first: first(&l[4]),
            lsma_is_wma: l[2] == l[4],
            span_clamped: span - l[2].iter().chain(&l[4]).copied().min().unwrap_or(1),
            hull,
            window,
            sma_off,
            noise_off,
            hull_off,
            store_len,
            e1_off,
            e1_len,
            seeding: seeding.unwrap_or(1),
            steady,
        })
    }

    /// The same engine with its steps at another instruction-set level (one this CPU
    /// supports, see [`crate::engine::supported_levels`]); the results are the same.
    pub fn at_level(self, level: SimdLevel) -> Result<Self, InputError> {
        check_level(level)?;
        Ok(Self { level, ..self })
    }

    pub fn params(&self) -> &Params {
        &self.p
    }

    /// The state before bar 0.
    pub fn fresh(&self) -> SymbolState {
        SymbolState {
            core: Core {
                bars: 0,
                prev_close: NAN,
                ema: [NAN; 9],
                dema: [[NAN; 9]; 2],
                kama: [0.0; 9],
                sma: Rolling::default(),
                noise: Rolling::default(),
                prev_ma: [[NAN; FAMILY_LANES]; 9],
                state: [[0.0; FAMILY_LANES]; 9],
                eq: [[NAN; FAMILY_LANES]; 9],
                layer2: SeriesLayer2::new(),
                last_event: 0,
                since: -1,
            },
            store: vec![NAN; self.store_len].into_boxed_slice(),
            warm: Some(Box::new(Warm { seeds: [Seeds::default(); 3], e1: vec![NAN; self.e1_len].into_boxed_slice() })),
        }
    }

    /// Scratch space for the steps of bars before `bars` (more work beyond).
    pub fn scratch(&self, bars: usize) -> Scratch {
        // Rounded up, so that the rows of successive calls come from the cache.
        let bars = bars.max(1).next_multiple_of(GROWTH_ROW_STEP);
        Scratch { xs: Vec::with_capacity(self.window), growth: growth_row(bars, self.p.lam, self.p.cutout) }
    }

    /// Ask the CPU to bring what the next step of `st` reads into the cache: its per-bar
    /// values, its source window and the ring entries its rolling machines evict next.
    /// States are a few KB each and a batch's states do not fit in the caches, so without
    /// this a step waits on a dozen scattered cache misses; the drivers call it for the
    /// next symbol while stepping the current one. Only a hint: nothing is read or
    /// written.
    #[inline(always)]
    pub fn prefetch(&self, st: &SymbolState) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            const LINE: usize = 64;
            let hint = |p: *const u8| {
                // SAFETY: prefetching never faults or changes memory; every address is
                // inside the state anyway.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) }
            };
            let core = &st.core as *const Core as *const u8;
            for at in (0..std::mem::size_of::<Core>()).step_by(LINE) {
                hint(core.wrapping_add(at));
            }
            let store = st.store.as_ptr();
            for at in (0..self.window).step_by(LINE / 8) {
                hint(store.wrapping_add(at) as *const u8);
            }
            let c = &st.core;
            for k in 0..9 {
                if self.hull.is_none() {
                    hint(store.wrapping_add(self.sma_off[k] + c.sma.slot[k] as usize) as *const u8);
                }
                hint(store.wrapping_add(self.noise_off[k] + c.noise.slot[k] as usize) as *const u8);
            }
        }
    }

    /// Append the closed bar with close `c` and MA source `x` (the close itself unless
    /// the computation has a separate source). `buf` is scratch space.
    pub fn advance(
        &self,
        st: &mut SymbolState,
        x: f64,
        c: f64,
        buf: &mut Scratch,
        detail: Option<&mut BarDetail>,
    ) -> BarOut {
        self.bar(Target::Commit(st), x, c, buf, detail)
    }

    /// The outputs the bar (`x`, `c`) would have if it closed now; `st` is left as it is.
    pub fn peek(&self, st: &SymbolState, x: f64, c: f64, buf: &mut Scratch, detail: Option<&mut BarDetail>) -> BarOut {
        self.bar(Target::Peek(st), x, c, buf, detail)
    }

    /// [`Engine::advance`] or [`Engine::peek`] at the engine's instruction-set level.
    fn bar(&self, st: Target<'_>, x: f64, c: f64, buf: &mut Scratch, detail: Option<&mut BarDetail>) -> BarOut {
        match self.level {
            // SAFETY: the level was detected on this CPU (`default_level`).
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => unsafe { bar_avx512(self, st, x, c, buf, detail) },
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => unsafe { bar_avx2(self, st, x, c, buf, detail) },
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Baseline => self.bar_at::<F64x2>(st, x, c, buf, detail),
            #[cfg(not(target_arch = "x86_64"))]
            _ => self.bar_at::<f64>(st, x, c, buf, detail),
        }
    }

    /// [`Engine::bar`] with vectors `V`.
    #[inline(always)]
    fn bar_at<V: Simd>(
        &self,
        st: Target<'_>,
        x: f64,
        c: f64,
        buf: &mut Scratch,
        detail: Option<&mut BarDetail>,
    ) -> BarOut {
        match st {
            Target::Commit(st) => {
                let (seeds, e1) = match st.warm.as_deref_mut() {
                    Some(w) => (Some(&mut w.seeds), &mut w.e1[..]),
                    None => (None, &mut [][..]),
                };
                let out = self.step::<V, _, _>(
                    &mut st.core,
                    seeds,
                    &mut Commit(&mut st.store),
                    &mut Commit(e1),
                    x,
                    c,
                    buf,
                    detail,
                );
                if st.core.bars >= self.seeding {
                    st.warm = None;
                }
                out
            }
            Target::Peek(st) => {
                let mut core = st.core;
                let mut seeds = st.warm.as_ref().map(|w| w.seeds);
                let e1: &[f64] = st.warm.as_ref().map_or(&[], |w| &w.e1);
                self.step::<V, _, _>(&mut core, seeds.as_mut(), &mut Peek(&st.store), &mut Peek(e1), x, c, buf, detail)
            }
        }
    }

    /// One bar: `core` and `seeds` are advanced in place, the rings read through `store`
    /// and `e1` and written through them (a [`Peek`] drops the writes).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn step<V: Simd, S: Store, E: Store>(
        &self,
        core: &mut Core,
        seeds: Option<&mut [Seeds; 3]>,
        store: &mut S,
        e1: &mut E,
        x: f64,
        c: f64,
        scratch: &mut Scratch,
        detail: Option<&mut BarDetail>,
    ) -> BarOut {
        let p = &self.p;
        let l = &p.lengths;
        let t = core.bars;
        let w = self.window;
        // The source window, newest last at `newest = w − 1`: the last min(t, w − 1)
        // values and x, zeros before bar 0 (read only by the window sums' lanes that
        // are still na, with weight 0).
        let back = t.min(w - 1);
        let first = (t - back) % w;
        let buf = &mut scratch.xs;
        buf.clear();
        buf.resize(w - 1 - back, 0.0);
        let ring = &store.data()[..w];
        if first + back <= w {
            buf.extend_from_slice(&ring[first..first + back]);
        } else {
            buf.extend_from_slice(&ring[first..]);
            buf.extend_from_slice(&ring[..first + back - w]);
        }
        buf.push(x);
        let xs = &buf[..];
        let newest = w - 1;
        let raw = Bars(xs);
        let cp = core.prev_close;
        // R·g as `engine::fill_rg` computes it (NaN on bar 0 and before the cutout).
        let r = (c - cp) / cp;
        let g = match scratch.growth.get(t) {
            Some(&g) => g,
            None => growth_value(t, p.lam, p.cutout),
        };
        let rg = if t == 0 { NAN } else { r * g };
        let mut ma = [[NAN; 9]; 6];

        // The recursive families and the SMA: member by member while some member is
        // warming up, as vectors of members afterwards (the same operations per lane).
        if t >= self.steady {
            self.recursions_steady::<V, S>(core, store, xs, x, &mut ma);
        } else {
            self.recursions_warm(core, seeds, store, e1, xs, x, &mut ma);
        }
        if let Some(h) = &self.hull {
            for k in 0..9 {
                ma[1][k] = self.hull_bar(h, k, store, &raw, newest, t);
            }
        }

        // WMA and LINREG: §4.8's oldest-first window sums, then their values with the
        // members as lanes.
        let (wsum, sy, sxy) = self.window_sums::<V>(xs);
        let (mut wma, mut lsma) = ([0.0; MEMBER_LANES], [0.0; MEMBER_LANES]);
        for at in (0..9).step_by(V::LANES) {
            let w = V::load_from(&wsum[at..]);
            let sxy = if self.lsma_is_wma { w } else { V::load_from(&sxy[at..]) };
            let (wv, lv) = self.consts.values(at, w, V::load_from(&sy[at..]), sxy);
            wv.store_to(&mut wma[at..]);
            lv.store_to(&mut lsma[at..]);
        }
        for k in 0..9 {
            let n = l[2][k];
            ma[2][k] = if t + 1 < n { NAN } else { wma[k] };
            let n = l[4][k];
            ma[4][k] = if n == 1 {
                x
            } else if t + 1 < n {
                NAN
            } else {
                lsma[k]
            };
        }

        // Crossover states, equities and Layer 1 with the families as lanes (as the
        // single-series stage B), then Layer 2 and the events.
        let phase = Phase::of(t, p.cutout);
        let fam = self.members::<V>(core, &ma, c, cp, rg, phase);
        let (average, signal_base, direction, bits) = core.layer2.finish(&self.l2, &fam);
        let flags = bits.map(|b| b & 1 == 1);
        if flags[2] || flags[3] {
            core.last_event = if flags[2] { 1 } else { -1 };
            core.since = 0;
        } else if core.last_event != 0 {
            core.since += 1;
        }
        if let Some(d) = detail {
            d.mas = ma;
            for f in 0..6 {
                for k in 0..9 {
                    d.states[f][k] = core.state[k][f] as i8;
                    d.equities[f][k] = if phase == Phase::Before { NAN } else { core.eq[k][f] };
                }
            }
            d.rate_of_change = if t == 0 { NAN } else { r };
        }
        store.put(t % w, x);
        core.prev_close = c;
        core.bars = t + 1;
        BarOut {
            average,
            signals: [fam.sig[0], fam.sig[1], fam.sig[2], fam.sig[3], fam.sig[4], fam.sig[5]],
            family_equities: [fam.e[0], fam.e[1], fam.e[2], fam.e[3], fam.e[4], fam.e[5]],
            signal_base,
            direction,
            flags,
            last_event: core.last_event,
            bars_since_event: core.since,
        }
    }

    /// EMA, SMA, DEMA and KAMA on a bar where some member is still warming up: member
    /// by member, as §4 writes them.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn recursions_warm<S: Store, E: Store>(
        &self,
        core: &mut Core,
        mut seeds: Option<&mut [Seeds; 3]>,
        store: &mut S,
        e1: &mut E,
        xs: &[f64],
        x: f64,
        ma: &mut [[f64; 9]; 6],
    ) {
        let l = &self.p.lengths;
        let t = core.bars;
        let newest = xs.len() - 1;
        let raw = Bars(xs);
        // EMA: the seed through the machine (never evicts), then the recursion.
        for k in 0..9 {
            let n = l[0][k];
            if t < n {
                let s = seeds.as_deref_mut().expect("EMA seeding needs the warm-up state")[0]
                    .push(k, n, x, &raw, newest, t);
                if t == n - 1 {
                    core.ema[k] = s / n as f64;
                }
            } else {
                core.ema[k] = ema_next(core.ema[k], self.alpha_ema[k], x);
            }
            ma[0][k] = core.ema[k];
        }

        // "HMA": ta.sma through the rolling machine (the Hull option is done by the caller).
        if self.hull.is_none() {
            for k in 0..9 {
                let n = l[1][k];
                let s = core.sma.push(k, n, store, self.sma_off[k], x, &raw, newest, t);
                ma[1][k] = if t + 1 < n {
                    NAN
                } else if n == 1 {
                    x
                } else {
                    s / n as f64
                };
            }
        }

        // DEMA: E1 seeded like the EMA; E2 seeded with the mean of E1's first n values.
        for k in 0..9 {
            let n = l[3][k];
            let a = self.alpha_dema[k];
            if t < 2 * n - 1 {
                let sd = seeds.as_deref_mut().expect("DEMA seeding needs the warm-up state");
                if t < n {
                    let s = sd[1].push(k, n, x, &raw, newest, t);
                    if t == n - 1 {
                        core.dema[0][k] = s / n as f64;
                    }
                } else {
                    core.dema[0][k] = ema_next(core.dema[0][k], a, x);
                }
                if t + 1 >= n {
                    // E2 sees E1 from bar n − 1 on (ta.ema skips na).
                    let j = t + 1 - n;
                    let y1 = core.dema[0][k];
                    let off = self.e1_off[k];
                    e1.put(off + j, y1);
                    let row = Bars(&e1.data()[off..off + n]);
                    let s = sd[2].push(k, n, y1, &row, j, j);
                    if t == 2 * n - 2 {
                        core.dema[1][k] = s / n as f64;
                    }
                }
            } else {
                core.dema[0][k] = ema_next(core.dema[0][k], a, x);
                core.dema[1][k] = ema_next(core.dema[1][k], a, core.dema[0][k]);
            }
            ma[3][k] = 2.0 * core.dema[0][k] - core.dema[1][k];
        }

        // KAMA: noise through the rolling machine (bar 0's step is na, not pushed).
        let steps = Steps(xs);
        for k in 0..9 {
            let n = l[5][k];
            let mut ratio = 0.0;
            if t > 0 {
                let step = (x - xs[newest - 1]).abs();
                let noise = core.noise.push(k, n, store, self.noise_off[k], step, &steps, newest, t - 1);
                if t >= n {
                    let signal = (x - xs[newest - n]).abs();
                    ratio = if noise.abs() > PINE_TOLERANCE { signal / noise } else { 0.0 };
                }
            }
            core.kama[k] = kama_next(core.kama[k], x, ratio);
            ma[5][k] = core.kama[k];
        }
    }

    /// EMA, SMA, DEMA and KAMA on a bar where every member is past its warm-up, the
    /// recursions with the members as vector lanes: each lane performs the operations
    /// of [`Engine::recursions_warm`]'s steady branches (the same shared steps).
    #[inline(always)]
    fn recursions_steady<V: Simd, S: Store>(
        &self,
        core: &mut Core,
        store: &mut S,
        xs: &[f64],
        x: f64,
        ma: &mut [[f64; 9]; 6],
    ) {
        let l = &self.p.lengths;
        let newest = xs.len() - 1;
        let xv = V::splat(x);
        let two = V::splat(2.0);
        let (mut ema, mut y1, mut y2) = (lanes(&core.ema), lanes(&core.dema[0]), lanes(&core.dema[1]));
        let mut kama = lanes(&core.kama);
        let mut dema = [0.0; MEMBER_LANES];
        // KAMA's noise (|x − x[1]|, bar 0 long past) and signal |x − x[t − n]|. The
        // machines stay member by member: their rings are scattered, and gathering the
        // evicted entries into a vector costs more than the scalar steps.
        let t = core.bars;
        let step = (x - xs[newest - 1]).abs();
        let (mut noise, mut signal) = ([0.0; MEMBER_LANES], [0.0; MEMBER_LANES]);
        for k in 0..9 {
            let n = l[5][k];
            noise[k] = core.noise.push(k, n, store, self.noise_off[k], step, &Steps(xs), newest, t - 1);
            signal[k] = (x - xs[newest - n]).abs();
        }
        let (zero, tol) = (V::splat(0.0), V::splat(PINE_TOLERANCE));
        for ch in 0..9usize.div_ceil(V::LANES) {
            let at = ch * V::LANES;
            // A macro, not a closure: a closure might stay out of line and then not be
            // compiled for the dispatched instruction set.
            macro_rules! ld {
                ($a:expr) => {
                    V::load($a.as_ptr().add(at))
                };
            }
            // SAFETY (loads/stores): at + LANES ≤ MEMBER_LANES for every width.
            unsafe {
                ema_next(ld!(&ema), ld!(&self.alpha_ema), xv).store(ema.as_mut_ptr().add(at));
                let a = ld!(&self.alpha_dema);
                let e1 = ema_next(ld!(&y1), a, xv);
                let e2 = ema_next(ld!(&y2), a, e1);
                e1.store(y1.as_mut_ptr().add(at));
                e2.store(y2.as_mut_ptr().add(at));
                (two * e1 - e2).store(dema.as_mut_ptr().add(at));
                let nz = ld!(&noise);
                let ratio = V::select(nz.abs().gt(tol), ld!(&signal) / nz, zero);
                kama_next(ld!(&kama), xv, ratio).store(kama.as_mut_ptr().add(at));
            }
        }
        core.ema.copy_from_slice(&ema[..9]);
        core.dema[0].copy_from_slice(&y1[..9]);
        core.dema[1].copy_from_slice(&y2[..9]);
        core.kama.copy_from_slice(&kama[..9]);
        ma[0].copy_from_slice(&ema[..9]);
        ma[3].copy_from_slice(&dema[..9]);
        ma[5].copy_from_slice(&kama[..9]);
        if self.hull.is_none() {
            for k in 0..9 {
                let n = l[1][k];
                let s = core.sma.push(k, n, store, self.sma_off[k], x, &Bars(xs), newest, t);
                ma[1][k] = if n == 1 { x } else { s / n as f64 };
            }
        }
    }

    /// The WMA accumulators (Σp·y) and LINREG's Σy and Σp·y of every member on the
    /// newest bar of `xs`, the members as vector lanes. All lanes walk the span's bars
    /// oldest first; a member adds weight 0 (and 0 to Σy) before its own window starts,
    /// which leaves its sums at +0 exactly, so each lane performs §4.8's sequential sums
    /// (`exact::seq_dot`, `exact::lin_sums`) operation for operation. Lanes whose
    /// window reaches before bar 0 hold garbage (their MAs are na).
    #[inline(always)]
    fn window_sums<V: Simd>(&self, xs: &[f64]) -> ([f64; MEMBER_LANES], [f64; MEMBER_LANES], [f64; MEMBER_LANES]) {
        let chunks = 9usize.div_ceil(V::LANES);
        let zero = V::splat(0.0);
        let one = V::splat(1.0);
        let x0 = xs.len() - self.span;
        let all = self.span_clamped;
        // Weights p − first, at p = 1 first.
        let mut ww = [zero; MEMBER_LANES];
        let mut lw = [zero; MEMBER_LANES];
        let p0 = one;
        for ch in 0..chunks {
            // SAFETY: ch·LANES + LANES ≤ MEMBER_LANES for every width.
            unsafe {
                ww[ch] = p0 - V::load(self.wma_first.as_ptr().add(ch * V::LANES));
                lw[ch] = p0 - V::load(self.lsma_first.as_ptr().add(ch * V::LANES));
            }
        }
        let (mut wacc, mut sy, mut sxy) = ([zero; MEMBER_LANES], [zero; MEMBER_LANES], [zero; MEMBER_LANES]);
        // Until `all`, some members' windows have not begun: they take weight
        // max(w, 0) = 0 (and add 0 to Σy); from `all` on every member's window has
        // (w ≥ 1, no clamp, Σy adds y·1 = y).
        for &v in &xs[x0..x0 + all] {
            let y = V::splat(v);
            for ch in 0..chunks {
                wacc[ch] = wacc[ch] + y * ww[ch].max(zero);
                let l = lw[ch].max(zero);
                sy[ch] = sy[ch] + y * l.min(one);
                if !self.lsma_is_wma {
                    sxy[ch] = sxy[ch] + y * l;
                }
                ww[ch] = ww[ch] + one;
                lw[ch] = lw[ch] + one;
            }
        }
        for &v in &xs[x0 + all..] {
            let y = V::splat(v);
            for ch in 0..chunks {
                wacc[ch] = wacc[ch] + y * ww[ch];
                sy[ch] = sy[ch] + y;
                if !self.lsma_is_wma {
                    sxy[ch] = sxy[ch] + y * lw[ch];
                }
                ww[ch] = ww[ch] + one;
                lw[ch] = lw[ch] + one;
            }
        }
        let mut out = ([0.0; MEMBER_LANES], [0.0; MEMBER_LANES], [0.0; MEMBER_LANES]);
        for ch in 0..chunks {
            let at = ch * V::LANES;
            // SAFETY: as above.
            unsafe {
                wacc[ch].store(out.0.as_mut_ptr().add(at));
                sy[ch].store(out.1.as_mut_ptr().add(at));
                sxy[ch].store(out.2.as_mut_ptr().add(at));
            }
        }
        out
    }

    /// Crossover states, equities and Layer-1 signals of the six families (§5–§7) on
    /// one bar, and Layer 2's family equities (§8), family `f` in lane `f` as in the
    /// single-series stage B.
    #[inline(always)]
    fn members<V: Simd>(
        &self,
        core: &mut Core,
        ma: &[[f64; 9]; 6],
        c: f64,
        cp: f64,
        rg: f64,
        phase: Phase,
    ) -> FamilyBar {
        let mut lanes = [[NAN; FAMILY_LANES]; 9];
        for f in 0..6 {
            for k in 0..9 {
                lanes[k][f] = ma[f][k];
            }
        }
        let (cv, cpv, rv, decay) = (V::splat(c), V::splat(cp), V::splat(rg), V::splat(1.0 - self.p.delta));
        let mut bar = FamilyBar::default();
        let t = core.bars;
        for ch in 0..6usize.div_ceil(V::LANES) {
            let at = ch * V::LANES;
            // Loops, not closures: a closure might stay out of line and then not be
            // compiled for the dispatched instruction set.
            let mut m = Members::<V>::new();
            let mut cur = [V::splat(NAN); 9];
            // SAFETY (loads/stores): at + LANES ≤ FAMILY_LANES for every width.
            unsafe {
                for k in 0..9 {
                    m.prev_ma[k] = V::load(core.prev_ma[k].as_ptr().add(at));
                    m.state[k] = V::load(core.state[k].as_ptr().add(at));
                    m.eq[k] = V::load(core.eq[k].as_ptr().add(at));
                    cur[k] = V::load(lanes[k].as_ptr().add(at));
                }
                let sig = m.bar(&cur, cv, cpv, rv, phase, decay);
                core.layer2.families(&self.l2, t, at, sig, rv, V::load_from(&self.weights[at..]), &mut bar);
                for k in 0..9 {
                    m.prev_ma[k].store(core.prev_ma[k].as_mut_ptr().add(at));
                    m.state[k].store(core.state[k].as_mut_ptr().add(at));
                    m.eq[k].store(core.eq[k].as_mut_ptr().add(at));
                }
            }
        }
        bar
    }

    /// Hull member `k` on bar `t` (§4.8 WMAs as `exact::hull_bars` evaluates them): the
    /// raw value 2·WMA(x, n/2) − WMA(x, n), stored in the member's ring, and the outer
    /// WMA over the last ⌊√n⌋ raw values.
    #[inline(always)]
    fn hull_bar<S: Store>(
        &self,
        h: &HullConsts,
        k: usize,
        store: &mut S,
        raw: &Bars<'_>,
        newest: usize,
        t: usize,
    ) -> f64 {
        let (n, half, root) = (self.p.lengths[1][k], h.half[k], h.root[k]);
        let wma = |m: usize, div: f64| {
            // SAFETY: the window's m ≤ newest + 1 bars end at `newest`.
            if t + 1 < m {
                NAN
            } else {
                unsafe { seq_dot::<f64, _>(raw, newest + 1 - m, m, 1) / div }
            }
        };
        let rv = 2.0 * wma(half, h.div_half[k]) - wma(n, h.div_n[k]);
        let off = self.hull_off[k];
        let value = if t + 1 < root {
            NAN
        } else {
            // Oldest first over the raw values of bars t − root + 1 … t (ring by bar).
            let ring = &store.data()[off..off + root];
            let mut acc = 0.0;
            for i in 0..root {
                let j = t + 1 - root + i;
                let v = if j == t { rv } else { ring[j % root] };
                acc += v * (i + 1) as f64;
            }
            acc / h.div_root[k]
        };
        store.put(off + t % root, rv);
        value
    }
}

/// The per-bar values of a state, copied when the forming bar is evaluated.
#[derive(Clone, Copy)]
struct Core {
    /// Bars appended so far (the index of the next bar).
    bars: usize,
    prev_close: f64,
    /// EMA values (NaN until seeded).
    ema: [f64; 9],
    /// DEMA's E1 and E2.
    dema: [[f64; 9]; 2],
    kama: [f64; 9],
    sma: Rolling,
    noise: Rolling,
    /// Each member's previous MA, crossover state and equity, `[member][family]`
    /// (lanes 6 and 7 are padding).
    prev_ma: [[f64; FAMILY_LANES]; 9],
    state: [[f64; FAMILY_LANES]; 9],
    eq: [[f64; FAMILY_LANES]; 9],
    layer2: SeriesLayer2,
    last_event: i8,
    since: i64,
}

/// Sums, compensations and ring positions of a rolling `math.sum` machine's nine
/// members (their rings live in the state's store).
#[derive(Clone, Copy, Default)]
struct Rolling {
    s: [f64; 9],
    c: [f64; 9],
    /// Next ring slot (inputs seen mod n).
    slot: [u32; 9],
}

impl Rolling {
    /// Push member `k`'s input `v` (its `seen`-th; member ring of `n` entries at `off`)
    /// and return the sum, as `MathSum::push`. `raw.at(newest − i)` is the input `i`
    /// inputs before `v`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn push<S: Store, T: Terms<f64>>(
        &mut self,
        k: usize,
        n: usize,
        store: &mut S,
        off: usize,
        v: f64,
        raw: &T,
        newest: usize,
        seen: usize,
    ) -> f64 {
        if n == 1 {
            return v;
        }
        let slot = self.slot[k] as usize;
        let c = self.c[k];
        let w = if seen < n { c } else { store.data()[off + slot] + c };
        let stored = settle(&mut self.s[k], &mut self.c[k], w, v, raw, newest, (seen + 1).min(n));
        store.put(off + slot, stored);
        self.slot[k] = if slot + 1 == n { 0 } else { slot as u32 + 1 };
        self.s[k]
    }
}

/// The seed sums of one family's nine members: `math.sum` machines that never evict
/// (a seed takes the first n inputs), so they need no ring.
#[derive(Clone, Copy, Default)]
struct Seeds {
    s: [f64; 9],
    c: [f64; 9],
}

impl Seeds {
    /// As [`Rolling::push`] while warming up (`seen` < n).
    #[inline(always)]
    fn push<T: Terms<f64>>(&mut self, k: usize, n: usize, v: f64, raw: &T, newest: usize, seen: usize) -> f64 {
        if n == 1 {
            return v;
        }
        let c = self.c[k];
        settle(&mut self.s[k], &mut self.c[k], c, v, raw, newest, seen + 1);
        self.s[k]
    }
}

/// The machine's step on `s` and `c` (see [`compensated`]; a fire re-baselines from the
/// `m` newest raw inputs); returns the entry to store for later eviction.
#[inline(always)]
fn settle<T: Terms<f64>>(s: &mut f64, c: &mut f64, w: f64, v: f64, raw: &T, newest: usize, m: usize) -> f64 {
    let st = compensated(*s, *c, w, v);
    if st.fire {
        // SAFETY: the raw series holds the m − 1 inputs before `newest`.
        *s = unsafe { rebaseline(v, raw, newest, m) };
        *c = 0.0;
        v
    } else {
        *s = st.s;
        *c = st.c;
        st.y
    }
}

/// The warm-up part of a state: seed sums of the EMA, DEMA's E1 and DEMA's E2, and
/// DEMA's E1 values from bar n − 1 on (E2's seed window).
#[derive(Clone)]
struct Warm {
    seeds: [Seeds; 3],
    e1: Box<[f64]>,
}

/// Everything one symbol carries from bar to bar (see the module documentation).
#[derive(Clone)]
pub struct SymbolState {
    core: Core,
    /// The source window, then the rings of the rolling machines and the Hull.
    store: Box<[f64]>,
    warm: Option<Box<Warm>>,
}

impl SymbolState {
    /// Bars appended so far.
    pub fn bars(&self) -> usize {
        self.core.bars
    }

    /// +1 long, −1 short, 0 none: the last event over the whole history.
    pub fn last_event(&self) -> i8 {
        self.core.last_event
    }

    /// Bars since [`SymbolState::last_event`], −1 when none.
    pub fn bars_since_event(&self) -> i64 {
        self.core.since
    }

    /// Memory held by this state, its heap parts included.
    pub fn nbytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + std::mem::size_of_val(&*self.store)
            + self.warm.as_ref().map_or(0, |w| std::mem::size_of::<Warm>() + std::mem::size_of_val(&*w.e1))
    }
}

/// How a step reaches the state's rings: [`Commit`] writes, [`Peek`] only reads.
trait Store {
    fn data(&self) -> &[f64];
    fn put(&mut self, i: usize, v: f64);
}

struct Commit<'a>(&'a mut [f64]);

impl Store for Commit<'_> {
    #[inline(always)]
    fn data(&self) -> &[f64] {
        self.0
    }
    #[inline(always)]
    fn put(&mut self, i: usize, v: f64) {
        self.0[i] = v;
    }
}

/// The forming bar's view: it reads what the closed bars left and writes nothing.
struct Peek<'a>(&'a [f64]);

impl Store for Peek<'_> {
    #[inline(always)]
    fn data(&self) -> &[f64] {
        self.0
    }
    #[inline(always)]
    fn put(&mut self, _i: usize, _v: f64) {}
}

/// Which state a bar goes to: appended to it, or evaluated on a copy of its per-bar
/// values (the forming bar).
enum Target<'a> {
    Commit(&'a mut SymbolState),
    Peek(&'a SymbolState),
}

/// The step compiled for an instruction-set level.
macro_rules! level {
    ($name:ident, $v:ty, $features:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name(
            eng: &Engine,
            st: Target<'_>,
            x: f64,
            c: f64,
            buf: &mut Scratch,
            detail: Option<&mut BarDetail>,
        ) -> BarOut {
            eng.bar_at::<$v>(st, x, c, buf, detail)
        }
    };
}

level!(bar_avx512, F64x8, "avx512f,avx512vl,avx512dq,avx2,fma,avx,sse4.1,sse4.2");
level!(bar_avx2, F64x4, "avx2,fma,avx,sse4.1,sse4.2");
