//! One series: every output of the spec, with the six families as vector lanes.
//!
//! The bars are processed in blocks. Stage A streams each family's nine MAs over a block
//! into a buffer laid out `[bar][member][family]` (scalar code: nine independent
//! recursions per family keep the core busy). Stage B then advances member `k` of all six
//! families as one vector (crossover states, equities, Layer 1; member order is preserved
//! because members are separate vectors) and runs Layer 2 and the events over the block.
//! On long series the two stages run as a pipeline on two threads.

use std::cell::RefCell;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::engine::{check_level, check_prices, default_level, fill_rg, growth_row, layer2_params, SimdLevel};
use crate::family::{Members, PassInput, Phase};
use crate::layer2::{Layer2, Layer2Out, Layer2Params};
use crate::ma::{step_one, Dema, Ema, Hull, Kama, Lsma, MaKernel, Sma, Wma};
use crate::params::{HmaKind, InputError, Params};
use crate::simd::Simd;
#[cfg(target_arch = "x86_64")]
use crate::simd::{F64x2, F64x4, F64x8};

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

/// Family lanes in the block buffer: six used, padded so every vector width divides it.
const FAMILY_LANES: usize = 8;
/// Bars per block for short series (the pipeline fills early; buffers stay in L2).
const BLOCK: usize = 256;
/// Bars per block for long series (fewer hand-overs).
const PIPELINE_BLOCK: usize = 1024;
/// Series at least this long get a helper task that runs stage A ahead on another thread.
const PIPELINE_MIN_BARS: usize = 1024;
const BLOCK_STRIDE: usize = 9 * FAMILY_LANES;

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

/// Where [`compute_single_into`] writes, each row `bars` long (every element is written).
pub struct SingleRows<'a> {
    pub average: &'a mut [f64],
    /// (6, bars)
    pub signals: &'a mut [f64],
    /// (6, bars)
    pub family_equities: &'a mut [f64],
    pub signal_base: &'a mut [f64],
    pub direction: &'a mut [f64],
    /// arrow_long, arrow_short, long, short.
    pub flags: [&'a mut [bool]; 4],
    pub detail: Option<DetailRows<'a>>,
}

/// (54, bars) each.
pub struct DetailRows<'a> {
    pub mas: &'a mut [f64],
    pub states: &'a mut [i8],
    pub equities: &'a mut [f64],
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
    check_prices("close", close)?;
    if let Some(s) = src {
        if s.len() != n {
            return Err(InputError::new("src", format!("src has {} bars but close has {n}", s.len())));
        }
        check_prices("src", s)?;
    }
    let sizes_ok = rows.average.len() == n
        && rows.signals.len() == 6 * n
        && rows.family_equities.len() == 6 * n
        && rows.signal_base.len() == n
        && rows.direction.len() == n
        && rows.flags.iter().all(|f| f.len() == n)
        && rows
            .detail
            .as_ref()
            .is_none_or(|d| d.mas.len() == 54 * n && d.states.len() == 54 * n && d.equities.len() == 54 * n);
    if !sizes_ok {
        return Err(InputError::new("out", format!("output rows do not match the {n} bars")));
    }
    let g = growth_row(n, p.lam, p.cutout);
    let mut rg = vec![0.0; n];
    fill_rg::<f64>(close, &g[..n], n, &mut rg);
    let inp = PassInput { x: src.unwrap_or(close), close, rg: &rg, bars: n, cutout: p.cutout, decay: 1.0 - p.delta };
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

/// The "HMA" family's kernel, resolved once per series.
// One per call and stepped every bar: a box would only add an indirection.
#[allow(clippy::large_enum_variant)]
enum HmaKernel {
    Sma(Sma<f64>),
    Hull(Hull<f64>),
}

/// Stage A: the 54 MAs.
struct StageA {
    ema: Ema<f64>,
    hma: HmaKernel,
    wma: Wma<f64>,
    dema: Dema<f64>,
    lsma: Lsma<f64>,
    kama: Kama<f64>,
    /// Each family's first steady bar.
    steady: [usize; 6],
}

impl StageA {
    fn new(p: &Params, bars: usize) -> Self {
        let l = &p.lengths;
        let hma = match p.hma_kind {
            HmaKind::Sma => HmaKernel::Sma(Sma::new(&l[1])),
            HmaKind::Hull => HmaKernel::Hull(Hull::new(&l[1], bars, Vec::new())),
        };
        let mut a = Self {
            ema: Ema::new(&l[0]),
            hma,
            wma: Wma::new(&l[2]),
            dema: Dema::new(&l[3]),
            lsma: Lsma::new(&l[4]),
            kama: Kama::new(&l[5]),
            steady: [0; 6],
        };
        a.steady = [
            MaKernel::<f64>::steady_from(&a.ema),
            match &a.hma {
                HmaKernel::Sma(k) => k.steady_from(),
                HmaKernel::Hull(k) => k.steady_from(),
            },
            MaKernel::<f64>::steady_from(&a.wma),
            MaKernel::<f64>::steady_from(&a.dema),
            MaKernel::<f64>::steady_from(&a.lsma),
            MaKernel::<f64>::steady_from(&a.kama),
        ];
        a
    }

    /// MAs of bars `b0..b1` into `blk` (`[bar − b0][member][family]`) and, with detail,
    /// into the (54, n) rows `mas`. Bar by bar over all six families, so their recursions
    /// overlap instead of running one latency chain at a time.
    #[inline(always)]
    fn fill(&mut self, x: &[f64], b0: usize, b1: usize, blk: &mut [f64], mas: Option<&mut [f64]>) {
        assert!(blk.len() >= (b1 - b0) * BLOCK_STRIDE);
        let n = x.len();
        let mut mas = mas.inspect(|m| assert!(m.len() >= 54 * n && b1 <= n));
        let st = self.steady;
        for t in b0..b1 {
            let row = &mut blk[(t - b0) * BLOCK_STRIDE..][..BLOCK_STRIDE];
            let mut cur = [[0.0; 9]; 6];
            step_one(&mut self.ema, x, t, st[0], &mut cur[0]);
            match &mut self.hma {
                HmaKernel::Sma(k) => step_one(k, x, t, st[1], &mut cur[1]),
                HmaKernel::Hull(k) => step_one(k, x, t, st[1], &mut cur[1]),
            }
            step_one(&mut self.wma, x, t, st[2], &mut cur[2]);
            step_one(&mut self.dema, x, t, st[3], &mut cur[3]);
            step_one(&mut self.lsma, x, t, st[4], &mut cur[4]);
            step_one(&mut self.kama, x, t, st[5], &mut cur[5]);
            for k in 0..9 {
                for f in 0..6 {
                    row[k * FAMILY_LANES + f] = cur[f][k];
                }
            }
            if let Some(m) = mas.as_deref_mut() {
                let m = m.as_mut_ptr();
                for f in 0..6 {
                    for k in 0..9 {
                        // SAFETY: (f·9 + k)·n + t < 54·n (asserted above).
                        unsafe { *m.add((f * 9 + k) * n + t) = cur[f][k] };
                    }
                }
            }
        }
    }
}

/// Stage B: member states and equities with families as lanes, then Layer 2 and events.
struct StageB<V: Simd> {
    members: [Members<V>; FAMILY_LANES],
    layer2: Layer2<f64>,
    params: Layer2Params,
}

impl<V: Simd> StageB<V> {
    fn new(p: &Params) -> Self {
        Self { members: [Members::new(); FAMILY_LANES], layer2: Layer2::new(), params: layer2_params(p, 6) }
    }

    /// Bars `b0..b1`: member states, equities and Layer-1 signals from the MAs in `blk`,
    /// then Layer 2 and the events.
    #[inline(always)]
    fn run(&mut self, inp: &PassInput<'_>, b0: usize, b1: usize, blk: &[f64], rows: &mut SingleRows<'_>) {
        let n = inp.bars;
        let len = (b1 - b0) * BLOCK_STRIDE;
        assert!(blk.len() >= len && b1 <= n);
        assert!(inp.close.len() >= n && inp.rg.len() >= n && rows.signals.len() >= 6 * n);
        // States and equities go straight to their rows; the MA rows are written by stage A.
        let detail_out = rows.detail.as_mut().map(|d| {
            assert!(d.states.len() >= 54 * n && d.equities.len() >= 54 * n);
            (d.states.as_mut_ptr(), d.equities.as_mut_ptr())
        });
        let chunks = 6usize.div_ceil(V::LANES);
        let decay = V::splat(inp.decay);
        for t in b0..b1 {
            let c = V::splat(inp.close[t]);
            let cp = V::splat(if t == 0 { f64::NAN } else { inp.close[t - 1] });
            let r = V::splat(inp.rg[t]);
            let phase = Phase::of(t, inp.cutout);
            let at = (t - b0) * BLOCK_STRIDE;
            let row = &blk[at..at + BLOCK_STRIDE];
            for (ch, mem) in self.members.iter_mut().enumerate().take(chunks) {
                let lane0 = ch * V::LANES;
                let mut cur = [V::splat(0.0); 9];
                for (k, v) in cur.iter_mut().enumerate() {
                    // SAFETY: lane0 + LANES ≤ FAMILY_LANES, inside this member's row.
                    *v = unsafe { V::load(row.as_ptr().add(k * FAMILY_LANES + lane0)) };
                }
                let sig = mem.bar(&cur, c, cp, r, phase, decay);
                let mut lanes = [0.0; FAMILY_LANES];
                // SAFETY: `lanes` holds FAMILY_LANES ≥ LANES values.
                unsafe { sig.store(lanes.as_mut_ptr()) };
                for f in lane0..(lane0 + V::LANES).min(6) {
                    rows.signals[f * n + t] = lanes[f - lane0];
                }
                if let Some((st_out, eq_out)) = detail_out {
                    let (mut st, mut eq) = ([0.0; FAMILY_LANES], [0.0; FAMILY_LANES]);
                    for k in 0..9 {
                        // SAFETY: both arrays hold FAMILY_LANES ≥ LANES values.
                        unsafe {
                            mem.state[k].store(st.as_mut_ptr());
                            mem.eq[k].store(eq.as_mut_ptr());
                        }
                        for f in lane0..(lane0 + V::LANES).min(6) {
                            let i = (f * 9 + k) * n + t;
                            let e = if phase == Phase::Before { f64::NAN } else { eq[f - lane0] };
                            // SAFETY: i < 54·n, the rows' length (asserted above).
                            unsafe {
                                *st_out.add(i) = st[f - lane0] as i8;
                                *eq_out.add(i) = e;
                            }
                        }
                    }
                }
            }
        }
        let [al, ash, lg, sh] = &mut rows.flags;
        let mut out = Layer2Out {
            fs: rows.family_equities,
            avg: rows.average,
            base: rows.signal_base,
            direction: rows.direction,
            arrow_long: al,
            arrow_short: ash,
            long: lg,
            short: sh,
        };
        self.layer2.run(&self.params, rows.signals, inp.rg, n, b0, b1, &mut out);
    }
}

/// One instruction-set level: its vector type and the stage entry points compiled for it.
trait Isa {
    type V: Simd + Send;
    /// # Safety
    /// The CPU supports this level.
    unsafe fn stage_a(a: &mut StageA, x: &[f64], b0: usize, b1: usize, blk: &mut [f64], mas: Option<&mut [f64]>);
    /// # Safety
    /// The CPU supports this level.
    unsafe fn stage_b(
        b: &mut StageB<Self::V>,
        inp: &PassInput<'_>,
        b0: usize,
        b1: usize,
        blk: &[f64],
        rows: &mut SingleRows<'_>,
    );
}

macro_rules! isa {
    ($name:ident, $v:ty, $($features:literal)?) => {
        struct $name;

        impl Isa for $name {
            type V = $v;

            $(#[target_feature(enable = $features)])?
            unsafe fn stage_a(
                a: &mut StageA,
                x: &[f64],
                b0: usize,
                b1: usize,
                blk: &mut [f64],
                mas: Option<&mut [f64]>,
            ) {
                a.fill(x, b0, b1, blk, mas)
            }

            $(#[target_feature(enable = $features)])?
            unsafe fn stage_b(
                b: &mut StageB<$v>,
                inp: &PassInput<'_>,
                b0: usize,
                b1: usize,
                blk: &[f64],
                rows: &mut SingleRows<'_>,
            ) {
                b.run(inp, b0, b1, blk, rows)
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
isa!(Avx512, F64x8, "avx512f,avx512vl,avx512dq,avx2,fma,avx,sse4.1,sse4.2");
#[cfg(target_arch = "x86_64")]
isa!(Avx2, F64x4, "avx2,fma,avx,sse4.1,sse4.2");
#[cfg(target_arch = "x86_64")]
isa!(Sse2, F64x2,);
#[cfg(not(target_arch = "x86_64"))]
isa!(Scalar, f64,);

thread_local! {
    /// Block buffers per calling thread, reused across calls.
    static BLOCKS: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Block buffers in flight between the two stages.
const RING: usize = 3;

/// Stages A and B over all blocks.
///
/// Stage B (the consumer) runs on the calling thread. For longer series a helper task
/// is handed to the thread pool to run stage A ahead; whenever the next block is neither
/// ready nor being filled, the consumer fills it itself. The result and its order of
/// operations never depend on the helper: on one thread or a busy machine this is the
/// sequential loop, and the caller never waits for the helper to be scheduled.
fn run<I: Isa>(p: &Params, inp: &PassInput<'_>, rows: &mut SingleRows<'_>) {
    let n = inp.bars;
    let mut b = StageB::<I::V>::new(p);
    let block = if n >= 4 * PIPELINE_BLOCK { PIPELINE_BLOCK } else { BLOCK };
    let blocks = n.div_ceil(block);
    let slot_len = block * BLOCK_STRIDE;
    BLOCKS.with(|cell| {
        let mut bufs = cell.borrow_mut();
        bufs.resize(RING * slot_len, 0.0);
        // Stage A writes the MA rows (whoever fills a block); stage B never touches them.
        let mas = rows.detail.as_mut().map_or(std::ptr::null_mut(), |d| d.mas.as_mut_ptr());
        let shared = Arc::new(Pipeline {
            busy: AtomicBool::new(false),
            producer: UnsafeCell::new(Producer { a: StageA::new(p, n), next: 0, done: false }),
            x: inp.x.as_ptr(),
            bars: n,
            block,
            blocks,
            slots: bufs.as_mut_ptr(),
            mas,
            slot_len,
            filled: AtomicUsize::new(0),
            consumed: AtomicUsize::new(0),
            helper: OnceLock::new(),
        });
        if n >= PIPELINE_MIN_BARS && rayon::current_num_threads() > 1 {
            let helper = Arc::clone(&shared);
            rayon::spawn(move || helper.help::<I>());
        }
        // Whatever happens below (even unwinding), the helper must stop touching the
        // input and the buffers before this function returns.
        let _finish = Finish(&shared);
        for i in 0..blocks {
            let mut spins = 0u32;
            while shared.filled.load(Ordering::Acquire) <= i {
                if let Some(mut prod) = shared.try_claim() {
                    if shared.filled.load(Ordering::Acquire) <= i {
                        // SAFETY: claimed, not done (set only by `_finish`), and block i's
                        // slot is free since everything before i was consumed.
                        unsafe { shared.fill::<I>(prod.get()) };
                    }
                } else {
                    // The helper is filling block i right now: wait for it.
                    backoff(&mut spins);
                }
            }
            let (b0, b1) = shared.span(i);
            // SAFETY: block i is filled and its slot is not refilled before `consumed`
            // passes i; the level was checked by compute_single_into.
            unsafe { I::stage_b(&mut b, inp, b0, b1, shared.slot(i), rows) };
            shared.consumed.store(i + 1, Ordering::Release);
            shared.wake_helper();
        }
    });
}

/// Spin a little, then give the core away.
fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Stage A's state and the next block it fills.
struct Producer {
    a: StageA,
    next: usize,
    /// Set by the consumer when it leaves: the helper must not touch the input or the
    /// buffers any more.
    done: bool,
}

/// State shared by the consumer and the helper task.
struct Pipeline {
    /// Whoever sets this owns `producer` (stage A runs without blocking the other side).
    busy: AtomicBool,
    producer: UnsafeCell<Producer>,
    /// The MA source, `bars` long; read only by the claim holder while not `done`.
    x: *const f64,
    bars: usize,
    block: usize,
    blocks: usize,
    /// RING slots of `slot_len`; written only by the claim holder while not `done`.
    slots: *mut f64,
    /// The (54, bars) MA rows with detail, else null; written like the slots.
    mas: *mut f64,
    slot_len: usize,
    /// Blocks filled by stage A (in order).
    filled: AtomicUsize,
    /// Blocks finished by stage B.
    consumed: AtomicUsize,
    /// The helper's thread, to wake it when a slot frees up or the work is done.
    helper: OnceLock<std::thread::Thread>,
}

// SAFETY: `producer`, `x` and `slots` are accessed only by the holder of the `busy` claim
// (acquire/release) and, for `x` and `slots`, only while `done` is false, i.e. while the
// consumer (which owns the input and the buffers) is still inside `run`; slots are handed
// to the consumer through `filled`/`consumed` with release/acquire.
unsafe impl Send for Pipeline {}
unsafe impl Sync for Pipeline {}

/// The `busy` claim on a pipeline's producer; released on drop.
struct Claim<'a>(&'a Pipeline);

impl Claim<'_> {
    #[allow(clippy::mut_from_ref)]
    fn get(&mut self) -> &mut Producer {
        // SAFETY: the claim gives exclusive access until it is dropped.
        unsafe { &mut *self.0.producer.get() }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Release);
    }
}

impl Pipeline {
    fn span(&self, i: usize) -> (usize, usize) {
        (i * self.block, ((i + 1) * self.block).min(self.bars))
    }

    fn try_claim(&self) -> Option<Claim<'_>> {
        self.busy.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).ok().map(|_| Claim(self))
    }

    /// Slot of block `i`.
    ///
    /// # Safety
    /// The caller owns that slot per the protocol above.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slot(&self, i: usize) -> &mut [f64] {
        unsafe { std::slice::from_raw_parts_mut(self.slots.add((i % RING) * self.slot_len), self.slot_len) }
    }

    /// Fill the next block.
    ///
    /// # Safety
    /// `prod` comes from a claim on this pipeline, is not `done`, and its next block's
    /// slot is free (`consumed + RING > next`).
    unsafe fn fill<I: Isa>(&self, prod: &mut Producer) {
        let i = prod.next;
        let (b0, b1) = self.span(i);
        unsafe {
            let x = std::slice::from_raw_parts(self.x, self.bars);
            let mas = (!self.mas.is_null()).then(|| std::slice::from_raw_parts_mut(self.mas, 54 * self.bars));
            I::stage_a(&mut prod.a, x, b0, b1, self.slot(i), mas);
        }
        prod.next = i + 1;
        self.filled.store(i + 1, Ordering::Release);
    }

    fn wake_helper(&self) {
        if let Some(t) = self.helper.get() {
            t.unpark();
        }
    }

    /// The helper task: fill blocks ahead of the consumer while it runs.
    fn help<I: Isa>(&self) {
        let _ = self.helper.set(std::thread::current());
        let mut spins = 0u32;
        loop {
            let Some(mut claim) = self.try_claim() else {
                // The consumer is filling a block itself.
                backoff(&mut spins);
                continue;
            };
            let prod = claim.get();
            if prod.done || prod.next >= self.blocks {
                return;
            }
            if prod.next < self.consumed.load(Ordering::Acquire) + RING {
                // SAFETY: claimed, not done, slot free.
                unsafe { self.fill::<I>(prod) };
                spins = 0;
            } else {
                // Ring full: the consumer frees a slot (or finishes) and unparks us.
                drop(claim);
                std::thread::park();
            }
        }
    }
}

/// Marks the pipeline done when the consumer leaves `run`, normally or by unwinding;
/// waits for a running stage A to finish first.
struct Finish<'a>(&'a Pipeline);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        let mut spins = 0u32;
        loop {
            if let Some(mut claim) = self.0.try_claim() {
                claim.get().done = true;
                break;
            }
            backoff(&mut spins);
        }
        self.0.wake_helper();
    }
}
