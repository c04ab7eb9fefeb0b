//! Scheduling of the single-series stages. Each block of bars needs its exact rows
//! (stage E, no state: any thread may compute any block's), its recursive MAs (stage A,
//! block after block) and then stage B, which runs on the calling thread. For longer
//! series an opportunistic helper task on the thread pool runs stage A ahead; whenever
//! the next block is not ready, the consumer computes what it still lacks, or the exact
//! rows of the blocks ahead while the helper fills it, and the helper computes exact rows
//! while the ring is full or the consumer fills a block itself. So the two threads share
//! stage A and E's work whichever of them is the slower, results and their order of
//! operations never depend on who computes what, and the caller never waits for the
//! helper to be scheduled.

use std::cell::{RefCell, UnsafeCell};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::engine::fill_rg;
use crate::family::PassInput;
use crate::params::Params;
use crate::stage::{ExactRows, Isa, Rows, SingleRows, StageA, StageB, StageE, BLOCK_STRIDE, EXACT_ROWS};

/// Bars per block for short series (buffers stay in L2).
const BLOCK: usize = 256;
/// Bars per block for long series (fewer hand-overs).
const PIPELINE_BLOCK: usize = 1024;
/// Series at least this long get the helper task.
const PIPELINE_MIN_BARS: usize = 1024;

thread_local! {
    /// Block buffers per calling thread, reused across calls.
    static BLOCKS: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
    /// Stage E's scratch per thread (the Hull's raw values).
    static HULL_RAW: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Block buffers in flight between the stages.
const RING: usize = 3;

/// One checked series: the MA source `x`, the close and the growth factor, `close.len()`
/// bars each.
pub(crate) struct SeriesInput<'a> {
    pub(crate) x: &'a [f64],
    pub(crate) close: &'a [f64],
    pub(crate) g: &'a [f64],
}

/// The stages over all blocks of one series (see the module documentation): on one
/// thread or a busy machine this is the sequential loop.
pub(crate) fn run<I: Isa>(p: &Params, series: &SeriesInput<'_>, rows: &mut SingleRows<'_>) {
    let n = series.close.len();
    let mut b = StageB::<I::V>::new(p);
    let block = if n >= 4 * PIPELINE_BLOCK { PIPELINE_BLOCK } else { BLOCK };
    let blocks = n.div_ceil(block);
    let slot_len = block * BLOCK_STRIDE;
    // Stages A and E write the MA rows (whoever fills a block); stage B only reads the
    // exact ones. Without them, each slot's exact rows have a buffer of their own.
    let mas = rows.detail.as_mut().map_or(std::ptr::null_mut(), |d| d.mas.as_mut_ptr());
    let exact_len = if mas.is_null() { EXACT_ROWS * block } else { 0 };
    BLOCKS.with(|cell| {
        let mut bufs = cell.borrow_mut();
        bufs.resize(RING * (slot_len + exact_len) + n, 0.0);
        let (slots, rg) = bufs.split_at_mut(RING * (slot_len + exact_len));
        let shared = Arc::new(Pipeline {
            busy: AtomicBool::new(false),
            producer: UnsafeCell::new(Producer { a: StageA::new(p), next: 0 }),
            e: StageE::new(p),
            x: series.x.as_ptr(),
            close: series.close.as_ptr(),
            bars: n,
            block,
            blocks,
            slots: slots.as_mut_ptr(),
            mas,
            slot_len,
            exact_len,
            filled: AtomicUsize::new(0),
            exact_next: AtomicUsize::new(0),
            exact_done: std::array::from_fn(|_| AtomicUsize::new(0)),
            consumed: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            helper: OnceLock::new(),
        });
        if n >= PIPELINE_MIN_BARS && rayon::current_num_threads() > 1 {
            let helper = Arc::clone(&shared);
            rayon::spawn(move || helper.help::<I>());
        }
        // Whatever happens below (even unwinding), the helper must stop touching the
        // input and the buffers before this function returns.
        let _finish = Finish(&shared);
        // R·g only stage B reads: computed while the helper fills the first block.
        fill_rg::<f64>(series.close, series.g, n, rg);
        let inp = PassInput { x: series.x, close: series.close, rg, bars: n, cutout: p.cutout, decay: 1.0 - p.delta };
        for i in 0..blocks {
            shared.prepare::<I>(i);
            let (b0, b1) = shared.span(i);
            // SAFETY: block i is filled and its exact rows computed; neither is touched
            // again before `consumed` passes i; the level was checked by
            // compute_single_into.
            unsafe { I::stage_b(&mut b, &inp, b0, b1, shared.slot(i), &shared.exact_rows(i), rows) };
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
}

/// State shared by the consumer and the helper task.
struct Pipeline {
    /// Whoever sets this owns `producer` (stage A runs without blocking the other side).
    busy: AtomicBool,
    producer: UnsafeCell<Producer>,
    e: StageE,
    /// The MA source and the close, `bars` long each.
    x: *const f64,
    close: *const f64,
    bars: usize,
    block: usize,
    blocks: usize,
    /// RING block slots of `slot_len`, then (without MA rows) RING slots of exact rows
    /// of `exact_len`.
    slots: *mut f64,
    /// The (54, bars) MA rows with detail, else null.
    mas: *mut f64,
    slot_len: usize,
    exact_len: usize,
    /// Blocks filled by stage A (in order).
    filled: AtomicUsize,
    /// The next block whose exact rows nobody computes yet.
    exact_next: AtomicUsize,
    /// Per slot, 1 + the block whose exact rows it holds complete.
    exact_done: [AtomicUsize; RING],
    /// Blocks finished by stage B.
    consumed: AtomicUsize,
    /// Set by the consumer when it leaves: the helper must not touch the input or the
    /// buffers any more.
    closed: AtomicBool,
    /// Whether the helper is at work (it checks `closed` after raising this).
    active: AtomicUsize,
    /// The helper's thread, to wake it when a slot frees up or the work is done.
    helper: OnceLock<std::thread::Thread>,
}

// SAFETY: the helper reads the input and writes the buffers only between raising `active`
// and lowering it, and only while `closed` is false, i.e. while the consumer (which owns
// the input and the buffers) is still inside `run`. `producer` is accessed only by the
// holder of the `busy` claim (acquire/release); a block's slot and exact rows are written
// by one thread each (the `busy` claim, and `exact_next` which hands every block's exact
// rows to one thread) before `consumed` shows the slot free, and are handed to the
// consumer through `filled` and `exact_done` with release/acquire.
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

/// The helper at work on a pipeline that is not closed; lowers `active` on drop.
struct Active<'a>(&'a Pipeline);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Pipeline {
    fn span(&self, i: usize) -> (usize, usize) {
        (i * self.block, ((i + 1) * self.block).min(self.bars))
    }

    fn try_claim(&self) -> Option<Claim<'_>> {
        self.busy.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).ok().map(|_| Claim(self))
    }

    /// For the helper: leave to work while the consumer is inside `run` (SeqCst with
    /// [`Finish`]: either it sees the helper active, or the helper sees `closed`).
    fn enter(&self) -> Option<Active<'_>> {
        self.active.fetch_add(1, Ordering::SeqCst);
        let active = Active(self);
        (!self.closed.load(Ordering::SeqCst)).then_some(active)
    }

    /// Whether block `i`'s slot is free to be filled.
    fn slot_free(&self, i: usize) -> bool {
        i < self.consumed.load(Ordering::Acquire) + RING
    }

    /// Slot of block `i`.
    ///
    /// # Safety
    /// The caller owns that slot per the protocol above.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slot(&self, i: usize) -> &mut [f64] {
        unsafe { std::slice::from_raw_parts_mut(self.slots.add((i % RING) * self.slot_len), self.slot_len) }
    }

    /// Where block `i`'s exact rows are.
    fn exact_rows(&self, i: usize) -> ExactRows {
        if self.mas.is_null() {
            let at = self.slots.wrapping_add(RING * self.slot_len + (i % RING) * self.exact_len);
            ExactRows::in_block(at, self.block, self.span(i).0)
        } else {
            ExactRows::in_mas(Rows { at: self.mas, bars: self.bars })
        }
    }

    /// Fill the next block.
    ///
    /// # Safety
    /// `prod` comes from a claim on this pipeline, the caller is the consumer or an
    /// active helper, and the next block's slot is free.
    unsafe fn fill<I: Isa>(&self, prod: &mut Producer) {
        let i = prod.next;
        let (b0, b1) = self.span(i);
        unsafe {
            let x = std::slice::from_raw_parts(self.x, self.bars);
            let close = std::slice::from_raw_parts(self.close, self.bars);
            let mas = (!self.mas.is_null()).then_some(Rows { at: self.mas, bars: self.bars });
            I::stage_a(&mut prod.a, x, close, b0, b1, self.slot(i), mas);
        }
        prod.next = i + 1;
        self.filled.store(i + 1, Ordering::Release);
    }

    /// Take the next block whose exact rows nobody computes yet, if its slot is free.
    fn claim_exact(&self) -> Option<usize> {
        let mut j = self.exact_next.load(Ordering::Acquire);
        while j < self.blocks && self.slot_free(j) {
            match self.exact_next.compare_exchange_weak(j, j + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(j),
                Err(now) => j = now,
            }
        }
        None
    }

    /// Compute the exact rows of block `j`.
    ///
    /// # Safety
    /// `j` comes from [`Pipeline::claim_exact`], and the caller is the consumer or an
    /// active helper.
    unsafe fn exact<I: Isa>(&self, j: usize) {
        let (b0, b1) = self.span(j);
        HULL_RAW.with(|scratch| unsafe {
            let x = std::slice::from_raw_parts(self.x, self.bars);
            I::stage_e(&self.e, x, b0, b1, &self.exact_rows(j), &mut scratch.borrow_mut());
        });
        self.exact_done[j % RING].store(j + 1, Ordering::Release);
    }

    fn exact_ready(&self, i: usize) -> bool {
        self.exact_done[i % RING].load(Ordering::Acquire) == i + 1
    }

    /// For the consumer: wait until block `i` (every block before it consumed) is filled
    /// and has its exact rows, computing what the helper is not computing meanwhile.
    fn prepare<I: Isa>(&self, i: usize) {
        let mut spins = 0u32;
        loop {
            let filled = self.filled.load(Ordering::Acquire) > i;
            if filled && self.exact_ready(i) {
                return;
            }
            if !filled {
                if let Some(mut prod) = self.try_claim() {
                    if self.filled.load(Ordering::Acquire) <= i {
                        // SAFETY: claimed by the consumer; block i's slot is free since
                        // everything before i was consumed.
                        unsafe { self.fill::<I>(prod.get()) };
                    }
                    continue;
                }
            }
            // The helper is filling block i right now (or it is filled): compute exact
            // rows meanwhile, else wait.
            match self.claim_exact() {
                // SAFETY: claimed, by the consumer.
                Some(j) => unsafe { self.exact::<I>(j) },
                None => backoff(&mut spins),
            }
        }
    }

    fn wake_helper(&self) {
        if let Some(t) = self.helper.get() {
            t.unpark();
        }
    }

    /// The helper task: fill blocks ahead of the consumer, and compute exact rows when
    /// it cannot.
    fn help<I: Isa>(&self) {
        let _ = self.helper.set(std::thread::current());
        let mut spins = 0u32;
        loop {
            let Some(active) = self.enter() else { return };
            // Stage A first: it is the chain that cannot be shared.
            let (mut stage_a_done, mut ring_full) = (false, false);
            if let Some(mut claim) = self.try_claim() {
                let prod = claim.get();
                stage_a_done = prod.next >= self.blocks;
                if !stage_a_done && self.slot_free(prod.next) {
                    // SAFETY: claimed, active, slot free.
                    unsafe { self.fill::<I>(prod) };
                    spins = 0;
                    continue;
                }
                ring_full = !stage_a_done;
            }
            if let Some(j) = self.claim_exact() {
                // SAFETY: claimed, active.
                unsafe { self.exact::<I>(j) };
                spins = 0;
                continue;
            }
            if stage_a_done {
                if self.exact_next.load(Ordering::Acquire) >= self.blocks {
                    return;
                }
                // The exact rows left wait for a free slot.
                ring_full = true;
            }
            drop(active);
            if ring_full {
                // The consumer frees a slot (or finishes) and unparks us.
                std::thread::park();
            } else {
                // The consumer is filling a block itself.
                backoff(&mut spins);
            }
        }
    }
}

/// Closes the pipeline when the consumer leaves `run`, normally or by unwinding; waits
/// for the helper to finish the work in hand first.
struct Finish<'a>(&'a Pipeline);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::SeqCst);
        self.0.wake_helper();
        let mut spins = 0u32;
        while self.0.active.load(Ordering::SeqCst) != 0 {
            backoff(&mut spins);
        }
    }
}
