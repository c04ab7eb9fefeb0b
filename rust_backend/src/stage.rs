//! The stages of the single-series computation and the rows they write, shared by the
//! driver ([`crate::single`]) and the scheduler ([`crate::pipeline`]).
//!
//! Stage E computes a block's WMA, LSMA (and Hull) values as §4.8's exact re-sums
//! vectorised over bars, into rows of their own; it keeps no state, so blocks may be
//! computed in any order and on any thread. Stage A computes the other families' MAs
//! bar by bar with the members as lanes, all of them together so their recursions
//! overlap, into a buffer laid out `[bar][member][family]`. Stage B then advances member
//! `k` of all six families as one vector, read from that buffer with the exact values
//! put into their lanes (crossover states, equities, Layer 1 and Layer 2's family
//! equities; member order is preserved because members are separate vectors), then
//! Average_Signal and the events. [`Isa`] compiles the stages for one instruction-set
//! level.

use crate::across::{DemaAcross, EmaAcross, KamaAcross, SmaAcross};
use crate::engine::layer2_params;
use crate::exact::{hull_bars, lsma_bars, wma_bars, wma_lsma_bars};
use crate::family::{Members, PassInput, Phase};
use crate::layer2::{FamilyBar, Layer2Params, SeriesLayer2, FAMILY_LANES};
use crate::params::{HmaKind, Params};
use crate::simd::Simd;
#[cfg(target_arch = "x86_64")]
use crate::simd::{F64x2, F64x4, F64x8};

/// Values per bar in a block buffer.
pub(crate) const BLOCK_STRIDE: usize = 9 * FAMILY_LANES;

/// Where the single-series computation writes, each row `bars` long (every element is
/// written).
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

impl SingleRows<'_> {
    /// Whether every row holds exactly `n` bars.
    pub fn fit(&self, n: usize) -> bool {
        self.average.len() == n
            && self.signals.len() == 6 * n
            && self.family_equities.len() == 6 * n
            && self.signal_base.len() == n
            && self.direction.len() == n
            && self.flags.iter().all(|f| f.len() == n)
            && self
                .detail
                .as_ref()
                .is_none_or(|d| d.mas.len() == 54 * n && d.states.len() == 54 * n && d.equities.len() == 54 * n)
    }
}

/// Rows of a block's exact values without detail: WMA, LSMA and Hull members.
pub(crate) const EXACT_ROWS: usize = 27;

/// Where the exact WMA, LSMA and Hull rows of a block are: the value of row `r` at bar
/// `t` is at `at + r·stride + (t − origin)`. With detail these are the result's MA rows
/// (rows 18–26, 36–44 and 9–17 of the (54, n) block); without, a buffer of
/// [`EXACT_ROWS`] rows that holds one block.
#[derive(Clone, Copy)]
pub(crate) struct ExactRows {
    at: *mut f64,
    stride: usize,
    origin: usize,
    wma: usize,
    lsma: usize,
    hull: usize,
}

impl ExactRows {
    /// The MA rows of a result with detail, `n` bars each.
    pub(crate) fn in_mas(mas: Rows<f64>) -> Self {
        Self { at: mas.at, stride: mas.bars, origin: 0, wma: 18, lsma: 36, hull: 9 }
    }

    /// A buffer of [`EXACT_ROWS`] rows of `block` values that holds bars
    /// `b0..b0 + block`.
    pub(crate) fn in_block(at: *mut f64, block: usize, b0: usize) -> Self {
        Self { at, stride: block, origin: b0, wma: 0, lsma: 9, hull: 18 }
    }

    /// Bars `t0..t1` of row `r`.
    ///
    /// # Safety
    /// The rows hold those bars, and nothing else refers to them meanwhile.
    #[allow(clippy::mut_from_ref)]
    unsafe fn row(&self, r: usize, t0: usize, t1: usize) -> &mut [f64] {
        unsafe { std::slice::from_raw_parts_mut(self.at.add(r * self.stride + t0 - self.origin), t1 - t0) }
    }

    /// Row `r` at bar `t`.
    ///
    /// # Safety
    /// The rows hold that bar.
    #[inline(always)]
    unsafe fn get(&self, r: usize, t: usize) -> f64 {
        unsafe { *self.at.add(r * self.stride + t - self.origin) }
    }
}

/// Stage A: the MAs of the EMA, DEMA and KAMA families, and of the SMA "HMA" family.
pub(crate) struct StageA {
    ema: EmaAcross,
    /// The SMA "HMA" family (None with `hma_kind = "hull"`, an exact row of stage E).
    sma: Option<SmaAcross>,
    dema: DemaAcross,
    kama: KamaAcross,
}

impl StageA {
    pub(crate) fn new(p: &Params) -> Self {
        let l = &p.lengths;
        Self {
            ema: EmaAcross::new(&l[0]),
            sma: (p.hma_kind == HmaKind::Sma).then(|| SmaAcross::new(&l[1])),
            dema: DemaAcross::new(&l[3]),
            kama: KamaAcross::new(&l[5]),
        }
    }

    /// MAs of bars `b0..b1` of the source `x` into their lanes of `blk`
    /// (`[bar − b0][member][family]`) and, with detail, into their rows of the (54, n)
    /// MA rows `mas`; `close` is their crossover partner. Bar by bar over all families,
    /// so their recursions overlap instead of running one latency chain at a time.
    ///
    /// # Safety
    /// `mas`, when given, holds 54 rows of `x.len()` bars, and nothing else refers to
    /// these families' rows meanwhile.
    #[inline(always)]
    unsafe fn fill<V: Simd>(
        &mut self,
        x: &[f64],
        close: &[f64],
        b0: usize,
        b1: usize,
        blk: &mut [f64],
        mas: Option<Rows<f64>>,
    ) {
        assert!(blk.len() >= (b1 - b0) * BLOCK_STRIDE && close.len() == x.len() && b1 <= x.len());
        for t in b0..b1 {
            let row = &mut blk[(t - b0) * BLOCK_STRIDE..][..BLOCK_STRIDE];
            put(row, 0, self.ema.advance::<V>(x, close, t));
            if let Some(k) = &mut self.sma {
                put(row, 1, k.advance::<V>(x, t));
            }
            put(row, 3, self.dema.advance::<V>(x, close, t));
            put(row, 5, self.kama.advance::<V>(x, t));
        }
        // The MA rows of the families computed here, from the block, row after row.
        if let Some(m) = mas {
            let streamed = if self.sma.is_some() { FamilySet::EMA_HMA_DEMA_KAMA } else { FamilySet::EMA_DEMA_KAMA };
            // SAFETY: bars b0..b1 are below n, the MA rows' length (as the caller
            // guarantees).
            unsafe { flush::<V, f64>(blk, BLOCK_STRIDE, 9, streamed, b0, b1 - b0, m) };
        }
    }
}

/// Stage E: the exact WMA and LSMA rows (and the Hull's with `hma_kind = "hull"`).
/// (The batch kernels run WMA, LSMA and Hull as running sums decided exactly in the band
/// of the close instead: the same crossovers, see `exact::TIE_BAND`, but the exact values
/// are the detail rows and cost less here.)
#[derive(Clone, Copy)]
pub(crate) struct StageE {
    lengths: [[usize; 9]; 6],
    hull: bool,
}

impl StageE {
    pub(crate) fn new(p: &Params) -> Self {
        Self { lengths: p.lengths, hull: p.hma_kind == HmaKind::Hull }
    }

    /// The exact rows of bars `b0..b1` of the source `x` (see [`exact_rows`]); `hull_raw`
    /// is scratch.
    ///
    /// # Safety
    /// As [`ExactRows::row`] for bars `b0..b1` of every row written.
    #[inline(always)]
    unsafe fn fill<V: Simd>(&self, x: &[f64], b0: usize, b1: usize, rows: &ExactRows, hull_raw: &mut Vec<f64>) {
        assert!(b0 <= b1 && b1 <= x.len());
        unsafe { exact_rows::<V>(&self.lengths, self.hull, x, b0, b1, rows, hull_raw) };
    }
}

/// Family `f`'s nine member values into a block row (`[member][family]`).
#[inline(always)]
fn put(row: &mut [f64], f: usize, values: &[f64]) {
    assert!(row.len() >= BLOCK_STRIDE && f < FAMILY_LANES && values.len() >= 9);
    for k in 0..9 {
        row[k * FAMILY_LANES + f] = values[k];
    }
}

/// The exact WMA and LSMA rows, and the Hull's when `hull`, of bars `t0..t1` for the
/// members' `lengths`: §4.8's full oldest-first re-sums on every bar, `V::LANES` bars
/// per vector (one pass when the WMA and LSMA lengths agree: LINREG's Σp·y is the WMA
/// accumulator).
///
/// # Safety
/// As [`ExactRows::row`] for bars `t0..t1` of every row written.
#[inline(always)]
unsafe fn exact_rows<V: Simd>(
    lengths: &[[usize; 9]; 6],
    hull: bool,
    x: &[f64],
    t0: usize,
    t1: usize,
    rows: &ExactRows,
    hull_raw: &mut Vec<f64>,
) {
    for k in 0..9 {
        let (lw, ll) = (lengths[2][k], lengths[4][k]);
        // SAFETY (rows): as the caller guarantees; the rows are distinct.
        let (wma, lsma) = unsafe { (rows.row(rows.wma + k, t0, t1), rows.row(rows.lsma + k, t0, t1)) };
        if lw == ll {
            wma_lsma_bars::<V>(x, lw, t0, t1, wma, lsma);
        } else {
            wma_bars::<V>(x, lw, t0, t1, wma);
            lsma_bars::<V>(x, ll, t0, t1, lsma);
        }
    }
    if hull {
        for k in 0..9 {
            hull_bars::<V>(x, lengths[1][k], t0, t1, hull_raw, unsafe { rows.row(rows.hull + k, t0, t1) });
        }
    }
}

/// Stage B: member states and equities, Layer 1 and Layer 2's family equities with the
/// families as lanes, then Average_Signal and the events per bar.
pub(crate) struct StageB<V: Simd> {
    members: [Members<V>; FAMILY_LANES],
    /// Whether the "HMA" family is the Hull, an exact row.
    hull: bool,
    layer2: SeriesLayer2,
    /// The families' weights (padding lanes 0).
    weights: [f64; FAMILY_LANES],
    params: Layer2Params,
    group: Group,
}

/// The per-bar vectors of up to [`FAMILY_LANES`] bars, `[bar][row][family]` (row: the
/// nine members, or the one Layer-1 signal or family equity), written by vector stores
/// bar by bar and flushed to the `(family, bars)` output rows by transposing
/// `LANES × LANES` tiles, so every output value is written by a contiguous store instead
/// of one strided store each.
#[derive(Clone, Copy)]
struct Group {
    signals: [f64; FAMILY_LANES * FAMILY_LANES],
    /// Layer 2's family equities.
    equities: [f64; FAMILY_LANES * FAMILY_LANES],
    /// The members' crossover states (−1, 0, +1).
    member_states: [f64; FAMILY_LANES * BLOCK_STRIDE],
    member_equities: [f64; FAMILY_LANES * BLOCK_STRIDE],
}

/// Output rows: `rows` rows (families × members) of `bars` values each.
#[derive(Clone, Copy)]
pub(crate) struct Rows<T> {
    pub(crate) at: *mut T,
    pub(crate) bars: usize,
}

impl<V: Simd> StageB<V> {
    pub(crate) fn new(p: &Params) -> Self {
        let params = layer2_params(p, 6);
        Self {
            members: [Members::new(); FAMILY_LANES],
            hull: p.hma_kind == HmaKind::Hull,
            layer2: SeriesLayer2::new(),
            weights: SeriesLayer2::weights(&params),
            params,
            group: Group {
                signals: [0.0; FAMILY_LANES * FAMILY_LANES],
                equities: [0.0; FAMILY_LANES * FAMILY_LANES],
                member_states: [0.0; FAMILY_LANES * BLOCK_STRIDE],
                member_equities: [0.0; FAMILY_LANES * BLOCK_STRIDE],
            },
        }
    }

    /// Bars `b0..b1`: member states, equities, Layer 1 and Layer 2 from the MAs in `blk`
    /// and, for the exact families, in `exact`. The same operations on the same values as
    /// [`Layer2::bar`](crate::layer2::Layer2::bar) with the series as lanes.
    ///
    /// # Safety
    /// `exact` holds bars `b0..b1`, filled by [`StageE::fill`].
    #[inline(always)]
    unsafe fn run(
        &mut self,
        inp: &PassInput<'_>,
        b0: usize,
        b1: usize,
        blk: &[f64],
        exact: &ExactRows,
        rows: &mut SingleRows<'_>,
    ) {
        let n = inp.bars;
        let len = (b1 - b0) * BLOCK_STRIDE;
        assert!(blk.len() >= len && b1 <= n);
        assert!(inp.close.len() >= n && inp.rg.len() >= n && rows.fit(n));
        // States and equities go to their rows here; the MA rows are written by stage A.
        let detail_out = rows
            .detail
            .as_mut()
            .map(|d| (Rows { at: d.states.as_mut_ptr(), bars: n }, Rows { at: d.equities.as_mut_ptr(), bars: n }));
        let signals_out = Rows { at: rows.signals.as_mut_ptr(), bars: n };
        let equities_out = Rows { at: rows.family_equities.as_mut_ptr(), bars: n };
        let chunks = 6usize.div_ceil(V::LANES);
        let decay = V::splat(inp.decay);
        let p = &self.params;
        let g = &mut self.group;
        for t in b0..b1 {
            let c = V::splat(inp.close[t]);
            let cp = V::splat(if t == 0 { f64::NAN } else { inp.close[t - 1] });
            let r = V::splat(inp.rg[t]);
            let phase = Phase::of(t, inp.cutout);
            let at = (t - b0) * BLOCK_STRIDE;
            let row = &blk[at..at + BLOCK_STRIDE];
            // Bar `j` of the group of LANES bars that starts at `t − j`.
            let j = (t - b0) % V::LANES;
            let mut bar = FamilyBar::default();
            for (ch, mem) in self.members.iter_mut().enumerate().take(chunks) {
                let lane0 = ch * V::LANES;
                let mut cur = [V::splat(0.0); 9];
                for (k, v) in cur.iter_mut().enumerate() {
                    // SAFETY: lane0 + LANES ≤ FAMILY_LANES, inside this member's row;
                    // `exact` holds bar t.
                    unsafe {
                        *v = V::load(row.as_ptr().add(k * FAMILY_LANES + lane0));
                        *v = with_exact(*v, lane0, 2, exact.get(exact.wma + k, t));
                        *v = with_exact(*v, lane0, 4, exact.get(exact.lsma + k, t));
                        if self.hull {
                            *v = with_exact(*v, lane0, 1, exact.get(exact.hull + k, t));
                        }
                    }
                }
                let sig = mem.bar(&cur, c, cp, r, phase, decay);
                let w = V::load_from(&self.weights[lane0..]);
                self.layer2.families(p, t, lane0, sig, r, w, &mut bar);
                let i = j * FAMILY_LANES + lane0;
                sig.store_to(&mut g.signals[i..]);
                V::load_from(&bar.e[lane0..]).store_to(&mut g.equities[i..]);
                if detail_out.is_some() {
                    for k in 0..9 {
                        let i = j * BLOCK_STRIDE + k * FAMILY_LANES + lane0;
                        // Before the cutout the equities are still NaN (untouched since
                        // `Members::new`), the na the rows need there.
                        mem.state[k].store_to(&mut g.member_states[i..]);
                        mem.eq[k].store_to(&mut g.member_equities[i..]);
                    }
                }
            }
            // Average_Signal and the events, one value per bar.
            let (avg, base, direction, flags) = self.layer2.finish(p, &bar);
            rows.average[t] = avg;
            rows.signal_base[t] = base;
            rows.direction[t] = direction;
            for (row, bits) in rows.flags.iter_mut().zip(flags) {
                row[t] = bits == 1;
            }
            if j + 1 == V::LANES || t + 1 == b1 {
                let (g0, count) = (t - j, j + 1);
                // SAFETY: the group's bars g0..g0 + count are below n, the rows' length
                // (`rows.fit(n)`).
                unsafe {
                    flush::<V, f64>(&g.signals, FAMILY_LANES, 1, FamilySet::ALL, g0, count, signals_out);
                    flush::<V, f64>(&g.equities, FAMILY_LANES, 1, FamilySet::ALL, g0, count, equities_out);
                    if let Some((st, eq)) = detail_out {
                        flush::<V, i8>(&g.member_states, BLOCK_STRIDE, 9, FamilySet::ALL, g0, count, st);
                        flush::<V, f64>(&g.member_equities, BLOCK_STRIDE, 9, FamilySet::ALL, g0, count, eq);
                    }
                }
            }
        }
    }
}

/// `v`, the lanes `lane0 …` of a member's families, with family `f`'s value `value` when
/// `f` is among them.
#[inline(always)]
fn with_exact<V: Simd>(v: V, lane0: usize, f: usize, value: f64) -> V {
    if (lane0..lane0 + V::LANES).contains(&f) {
        v.with_lane(f - lane0, value)
    } else {
        v
    }
}

/// The families (bit `f` for family `f`) whose rows [`flush`] writes.
#[derive(Clone, Copy)]
struct FamilySet(u8);

impl FamilySet {
    const ALL: Self = Self(0b11_1111);
    /// The MA families stage A streams bar by bar, with and without the SMA "HMA" family;
    /// the others' rows are the exact rows of stage E ([`exact_rows`]).
    const EMA_HMA_DEMA_KAMA: Self = Self(0b10_1011);
    const EMA_DEMA_KAMA: Self = Self(0b10_1001);

    #[inline(always)]
    fn has(self, f: usize) -> bool {
        self.0 >> f & 1 == 1
    }
}

/// An output value type of [`flush`]: f64 as is, i8 for the crossover states.
trait RowValue: Copy {
    fn of(v: f64) -> Self;
    /// # Safety
    /// `p` is valid for writing `V::LANES` values.
    unsafe fn store<V: Simd>(v: V, p: *mut Self);
}

impl RowValue for f64 {
    #[inline(always)]
    fn of(v: f64) -> Self {
        v
    }
    #[inline(always)]
    unsafe fn store<V: Simd>(v: V, p: *mut f64) {
        unsafe { v.store(p) }
    }
}

impl RowValue for i8 {
    #[inline(always)]
    fn of(v: f64) -> Self {
        v as i8
    }
    #[inline(always)]
    unsafe fn store<V: Simd>(v: V, p: *mut i8) {
        unsafe { v.store_i8(p) }
    }
}

/// Bars `g0..g0 + count` of a buffer laid out `[bar][row][family]` (`bar_stride` values
/// per bar, `members` rows) into output rows `(family·members + member, bar)` of the
/// `families` among the six: LANES bars at a time by transposed tiles, the last few value
/// by value, row after row.
///
/// # Safety
/// `out` holds `6·members` rows of `out.bars ≥ g0 + count` values.
#[inline(always)]
unsafe fn flush<V: Simd, T: RowValue>(
    buf: &[f64],
    bar_stride: usize,
    members: usize,
    families: FamilySet,
    g0: usize,
    count: usize,
    out: Rows<T>,
) {
    let l = V::LANES;
    assert!(buf.len() >= count * bar_stride && members * FAMILY_LANES <= bar_stride);
    let whole = count - count % l;
    for lane0 in (0..6).step_by(l) {
        let used = l.min(6 - lane0);
        if (0..used).all(|f| !families.has(lane0 + f)) {
            continue;
        }
        for k in 0..members {
            let col = k * FAMILY_LANES + lane0;
            let dst = |f: usize, i: usize| unsafe { out.at.add(((lane0 + f) * members + k) * out.bars + g0 + i) };
            for i0 in (0..whole).step_by(l) {
                let mut tile = [V::splat(0.0); FAMILY_LANES];
                for (i, v) in tile.iter_mut().take(l).enumerate() {
                    // SAFETY: bar i0 + i < count of the buffer, lanes col … col + LANES − 1 of it.
                    *v = unsafe { V::load(buf.as_ptr().add((i0 + i) * bar_stride + col)) };
                }
                V::transpose(&mut tile[..l]);
                for (f, v) in tile.iter().take(used).enumerate() {
                    if families.has(lane0 + f) {
                        // SAFETY: row (lane0 + f)·members + k < 6·members, bars g0 + i0 … + LANES − 1.
                        unsafe { T::store(*v, dst(f, i0)) };
                    }
                }
            }
            for f in (0..used).filter(|&f| families.has(lane0 + f)) {
                for i in whole..count {
                    // SAFETY: as above, for bars g0 + whole … g0 + count − 1.
                    unsafe { *dst(f, i) = T::of(buf[i * bar_stride + col + f]) };
                }
            }
        }
    }
}

/// One instruction-set level: its vector type and the stage entry points compiled for it.
pub(crate) trait Isa {
    type V: Simd + Send;
    /// [`StageA::fill`].
    ///
    /// # Safety
    /// The CPU supports this level; as [`StageA::fill`].
    unsafe fn stage_a(
        a: &mut StageA,
        x: &[f64],
        close: &[f64],
        b0: usize,
        b1: usize,
        blk: &mut [f64],
        mas: Option<Rows<f64>>,
    );
    /// [`StageE::fill`].
    ///
    /// # Safety
    /// The CPU supports this level; as [`StageE::fill`].
    unsafe fn stage_e(e: &StageE, x: &[f64], b0: usize, b1: usize, rows: &ExactRows, hull_raw: &mut Vec<f64>);
    /// [`StageB::run`].
    ///
    /// # Safety
    /// The CPU supports this level; as [`StageB::run`].
    unsafe fn stage_b(
        b: &mut StageB<Self::V>,
        inp: &PassInput<'_>,
        b0: usize,
        b1: usize,
        blk: &[f64],
        exact: &ExactRows,
        rows: &mut SingleRows<'_>,
    );
}

macro_rules! isa {
    ($name:ident, $v:ty, $($features:literal)?) => {
        pub(crate) struct $name;

        impl Isa for $name {
            type V = $v;

            $(#[target_feature(enable = $features)])?
            unsafe fn stage_a(
                a: &mut StageA,
                x: &[f64],
                close: &[f64],
                b0: usize,
                b1: usize,
                blk: &mut [f64],
                mas: Option<Rows<f64>>,
            ) {
                unsafe { a.fill::<$v>(x, close, b0, b1, blk, mas) }
            }

            $(#[target_feature(enable = $features)])?
            unsafe fn stage_e(
                e: &StageE,
                x: &[f64],
                b0: usize,
                b1: usize,
                rows: &ExactRows,
                hull_raw: &mut Vec<f64>,
            ) {
                unsafe { e.fill::<$v>(x, b0, b1, rows, hull_raw) }
            }

            $(#[target_feature(enable = $features)])?
            unsafe fn stage_b(
                b: &mut StageB<$v>,
                inp: &PassInput<'_>,
                b0: usize,
                b1: usize,
                blk: &[f64],
                exact: &ExactRows,
                rows: &mut SingleRows<'_>,
            ) {
                unsafe { b.run(inp, b0, b1, blk, exact, rows) }
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
