//! Incremental ATC over many symbols: the new bars' checks, and the drivers that append
//! closed bars, evaluate forming bars and report one symbol's detail into the same rows
//! the full computations fill ([`BatchRows`], [`SingleRows`]). Symbols are independent
//! and spread over the thread pool.
//!
//! Blocks of new bars follow the batch contract: `(symbols, columns)`, right-aligned, a
//! row's bars after its NaN left padding (a row of NaN has no new bar). With a separate
//! MA source, `src` has a value exactly where `closes` has one.

use rayon::prelude::*;

use super::{BarDetail, BarOut, Engine, SymbolState};
use crate::batch::BatchRows;
use crate::engine::check_series;
use crate::params::InputError;
use crate::single::SingleRows;

/// A `(symbols, cols)` block of bars (see the module documentation).
#[derive(Clone, Copy)]
pub struct Block<'a> {
    pub closes: &'a [f64],
    /// The MA source where the computation has one.
    pub src: Option<&'a [f64]>,
    pub cols: usize,
    /// The block's name in messages (the Python argument).
    pub name: &'static str,
}

impl Block<'_> {
    /// Bar `j` of row `i`: (MA source, close).
    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> (f64, f64) {
        let at = i * self.cols + j;
        (self.src.map_or(self.closes[at], |s| s[at]), self.closes[at])
    }
}

/// Each row's first bar (`cols` for a row of padding only) of a block of `rows` rows,
/// after checking that every value from there on is a price and that `src` has a value
/// exactly where `closes` has.
pub fn row_starts(block: &Block<'_>, rows: usize) -> Result<Vec<usize>, InputError> {
    let Block { closes, src, cols, name } = *block;
    if rows.checked_mul(cols) != Some(closes.len()) {
        return Err(InputError::new(name, format!("{name} holds {} values, not {rows} × {cols}", closes.len())));
    }
    if let Some(s) = src {
        if s.len() != closes.len() {
            return Err(InputError::new(
                "src",
                format!("src holds {} values but {name} holds {}", s.len(), closes.len()),
            ));
        }
    }
    (0..rows)
        .map(|i| {
            let row = &closes[i * cols..(i + 1) * cols];
            let start = row.iter().position(|v| !v.is_nan()).unwrap_or(cols);
            if let Some(j) = row[start..].iter().position(|v| !(v.is_finite() && *v > 0.0)) {
                let j = start + j;
                return Err(InputError::new(
                    name,
                    format!(
                        "{name} row {i} at bar {j} is {}; after a symbol's first price every bar must be finite \
                         and > 0 (clean gaps before computing)",
                        row[j]
                    ),
                ));
            }
            if let Some(s) = src {
                let srow = &s[i * cols..(i + 1) * cols];
                let bad = (0..cols).find(|&j| {
                    let v = srow[j];
                    if j < start {
                        !v.is_nan()
                    } else {
                        !(v.is_finite() && v > 0.0)
                    }
                });
                if let Some(j) = bad {
                    return Err(InputError::new(
                        "src",
                        format!(
                            "src row {i} at bar {j} is {} where {name} is {}: src must hold a price (finite, > 0) \
                             exactly where {name} does",
                            srow[j], row[j]
                        ),
                    ));
                }
            }
            Ok(start)
        })
        .collect()
}

/// Symbols stepped one after the other by one task (the next one's state prefetched,
/// see [`Engine::prefetch`]).
const RUN: usize = 32;

/// One symbol's slices of [`BatchRows`] (six families).
struct SymbolRows<'a> {
    signals: &'a mut [f64],
    family_equities: &'a mut [f64],
    direction: &'a mut [f64],
    long: &'a mut [bool],
    short: &'a mut [bool],
    average: &'a mut [f64],
    last_event: &'a mut i8,
    since: &'a mut i64,
}

impl SymbolRows<'_> {
    /// Column `j` of the `tail` columns.
    fn put(&mut self, j: usize, tail: usize, o: &BarOut) {
        for f in 0..6 {
            self.signals[f * tail + j] = o.signals[f];
            self.family_equities[f * tail + j] = o.family_equities[f];
        }
        self.direction[j] = o.direction;
        self.long[j] = o.flags[2];
        self.short[j] = o.flags[3];
        self.average[j] = o.average;
    }
}

/// Check the sizes of `rows` for `symbols` × `tail` and fill them with na / false (what
/// columns without a bar show).
fn prepare<'a>(rows: BatchRows<'a>, symbols: usize, tail: usize) -> Result<Vec<SymbolRows<'a>>, InputError> {
    if rows.average.is_none() {
        return Err(InputError::new("out", "the incremental ATC is the full one: Average_Signal rows are required"));
    }
    if tail == 0 || !rows.fit(symbols, 6, tail) {
        return Err(InputError::new("out", "output rows do not match symbols × tail"));
    }
    let BatchRows { signals, family_equities, direction, long, short, last_event, bars_since_event, average } = rows;
    let average = average.unwrap_or_default();
    for v in [&mut *signals, &mut *family_equities, &mut *direction, &mut *average] {
        v.fill(f64::NAN);
    }
    long.fill(false);
    short.fill(false);
    Ok(signals
        .chunks_mut(6 * tail)
        .zip(family_equities.chunks_mut(6 * tail))
        .zip(direction.chunks_mut(tail))
        .zip(long.chunks_mut(tail))
        .zip(short.chunks_mut(tail))
        .zip(average.chunks_mut(tail))
        .zip(last_event.iter_mut())
        .zip(bars_since_event.iter_mut())
        .map(|(((((((signals, family_equities), direction), long), short), average), last_event), since)| SymbolRows {
            signals,
            family_equities,
            direction,
            long,
            short,
            average,
            last_event,
            since,
        })
        .collect())
}

/// Append each row of a block of closed bars (`(states.len(), cols)`, see the module
/// documentation) to its symbol's state, and write the outputs of the block's last
/// `tail` columns to `rows` (shapes of [`BatchRows`] with six families). Nothing is
/// changed when the block or the rows are invalid.
pub fn advance(
    eng: &Engine,
    states: &mut [SymbolState],
    block: &Block<'_>,
    tail: usize,
    rows: BatchRows<'_>,
) -> Result<(), InputError> {
    let cols = block.cols;
    if tail < 1 || tail > cols {
        return Err(InputError::new("tail", format!("tail = {tail} is out of range: allowed 1 … {cols} (columns)")));
    }
    let starts = row_starts(block, states.len())?;
    let mut out = prepare(rows, states.len(), tail)?;
    let bars = states.iter().map(|s| s.bars()).max().unwrap_or(0) + cols;
    let scratch = || eng.scratch(bars);
    let skip = cols - tail;
    states.par_chunks_mut(RUN).zip(out.par_chunks_mut(RUN)).enumerate().for_each_init(
        scratch,
        |buf, (r, (sts, os))| {
            eng.prefetch(&sts[0]);
            for (j, o) in os.iter_mut().enumerate() {
                if let Some(next) = sts.get(j + 1) {
                    eng.prefetch(next);
                }
                let (i, st) = (r * RUN + j, &mut sts[j]);
                for col in starts[i]..cols {
                    let (x, c) = block.at(i, col);
                    let b = eng.advance(st, x, c, buf, None);
                    if col >= skip {
                        o.put(col - skip, tail, &b);
                    }
                }
                *o.last_event = st.last_event();
                *o.since = st.bars_since_event();
            }
        },
    );
    Ok(())
}

/// A fresh state per row of the block (`symbols` rows), advanced over the row's bars;
/// the outputs of the last `tail` columns go to `rows`.
pub fn init(
    eng: &Engine,
    block: &Block<'_>,
    symbols: usize,
    tail: usize,
    rows: BatchRows<'_>,
) -> Result<Vec<SymbolState>, InputError> {
    let mut states: Vec<SymbolState> = (0..symbols).map(|_| eng.fresh()).collect();
    advance(eng, &mut states, block, tail, rows)?;
    Ok(states)
}

/// The outputs of each symbol's forming bar (a block of one column, NaN for none) into
/// `rows` with `tail = 1`, as if it closed now; the states are not changed.
/// `last_event` and `bars_since_event` count the forming bar (a symbol without one keeps
/// its own).
pub fn forming(eng: &Engine, states: &[SymbolState], block: &Block<'_>, rows: BatchRows<'_>) -> Result<(), InputError> {
    if block.cols != 1 {
        return Err(InputError::new(block.name, format!("{} must hold one bar per symbol", block.name)));
    }
    let starts = row_starts(block, states.len())?;
    let mut out = prepare(rows, states.len(), 1)?;
    let bars = states.iter().map(|s| s.bars()).max().unwrap_or(0) + 1;
    let scratch = || eng.scratch(bars);
    states.par_chunks(RUN).zip(out.par_chunks_mut(RUN)).enumerate().for_each_init(scratch, |buf, (r, (sts, os))| {
        eng.prefetch(&sts[0]);
        for (j, (st, o)) in sts.iter().zip(os).enumerate() {
            if let Some(next) = sts.get(j + 1) {
                eng.prefetch(next);
            }
            if starts[r * RUN + j] == 0 {
                let (x, c) = block.at(r * RUN + j, 0);
                let b = eng.peek(st, x, c, buf, None);
                o.put(0, 1, &b);
                *o.last_event = b.last_event;
                *o.since = b.bars_since_event;
            } else {
                *o.last_event = st.last_event();
                *o.since = st.bars_since_event();
            }
        }
    });
    Ok(())
}

/// One symbol's bars `closes` (all prices) with every output of the single-series
/// computation, detail included, into `rows` and R into `rate_of_change`: appended to
/// `st` when `commit`, else evaluated on a copy (forming bars; `st` is not changed).
pub fn detail(
    eng: &Engine,
    st: &mut SymbolState,
    closes: &[f64],
    src: Option<&[f64]>,
    commit: bool,
    mut rows: SingleRows<'_>,
    rate_of_change: &mut [f64],
) -> Result<(), InputError> {
    let n = closes.len();
    check_series("closes", closes, src)?;
    if !rows.fit(n) || rate_of_change.len() != n {
        return Err(InputError::new("out", format!("output rows do not match the {n} bars")));
    }
    let mut copy;
    let st = if commit {
        st
    } else {
        copy = st.clone();
        &mut copy
    };
    let mut buf = eng.scratch(st.bars() + n);
    let mut d = BarDetail::default();
    for t in 0..n {
        let b = eng.advance(st, src.map_or(closes[t], |s| s[t]), closes[t], &mut buf, Some(&mut d));
        rows.average[t] = b.average;
        for f in 0..6 {
            rows.signals[f * n + t] = b.signals[f];
            rows.family_equities[f * n + t] = b.family_equities[f];
        }
        rows.signal_base[t] = b.signal_base;
        rows.direction[t] = b.direction;
        for (row, v) in rows.flags.iter_mut().zip(b.flags) {
            row[t] = v;
        }
        rate_of_change[t] = d.rate_of_change;
        if let Some(dr) = rows.detail.as_mut() {
            for f in 0..6 {
                for k in 0..9 {
                    let i = (f * 9 + k) * n + t;
                    dr.mas[i] = d.mas[f][k];
                    dr.states[i] = d.states[f][k];
                    dr.equities[i] = d.equities[f][k];
                }
            }
        }
    }
    Ok(())
}
