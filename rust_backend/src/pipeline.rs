//! Scheduling of the single-series stages: stage B (the consumer) on the calling thread,
//! and for longer series an opportunistic helper task on the thread pool that runs
//! stage A ahead. Whenever the next block is neither ready nor being filled, the consumer
//! fills it itself, so results and their order of operations never depend on the helper
//! and the caller never waits for it to be scheduled.

use std::cell::{RefCell, UnsafeCell};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::family::PassInput;
use crate::params::Params;
use crate::stage::{Isa, SingleRows, StageA, StageB, BLOCK_STRIDE};

/// Bars per block for short series (buffers stay in L2).
const BLOCK: usize = 256;
/// Bars per block for long series (fewer hand-overs).
const PIPELINE_BLOCK: usize = 1024;
/// Series at least this long get the helper task.
const PIPELINE_MIN_BARS: usize = 1024;

thread_local! {
    /// Block buffers per calling thread, reused across calls.
    static BLOCKS: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Block buffers in flight between the two stages.
const RING: usize = 3;

/// Stages A and B over all blocks of one series (see the module documentation): on one
/// thread or a busy machine this is the sequential loop.
pub(crate) fn run<I: Isa>(p: &Params, inp: &PassInput<'_>, rows: &mut SingleRows<'_>) {
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
            producer: UnsafeCell::new(Producer { a: StageA::new(p, block, !mas.is_null()), next: 0, done: false }),
            x: inp.x.as_ptr(),
            close: inp.close.as_ptr(),
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
    /// The MA source and the close, `bars` long each; read only by the claim holder
    /// while not `done`.
    x: *const f64,
    close: *const f64,
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

// SAFETY: `producer`, `x`, `close` and `slots` are accessed only by the holder of the `busy`
// claim (acquire/release) and, for `x`, `close` and `slots`, only while `done` is false, i.e.
// while the consumer (which owns the input and the buffers) is still inside `run`; slots are
// handed to the consumer through `filled`/`consumed` with release/acquire.
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
            let close = std::slice::from_raw_parts(self.close, self.bars);
            let mas = (!self.mas.is_null()).then(|| std::slice::from_raw_parts_mut(self.mas, 54 * self.bars));
            I::stage_a(&mut prod.a, x, close, b0, b1, self.slot(i), mas);
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
