//! The incremental engine against the full computations, bit for bit: every output of
//! every bar of a series appended one bar at a time (and the forming bar evaluated before
//! each), and batches split at random points.

mod common;

use _native::batch::{compute_batch, BatchOut, BatchRows};
use _native::engine::{supported_levels, SimdLevel};
use _native::incremental::batch::{advance, forming, init, Block};
use _native::incremental::{BarDetail, Engine, SymbolState};
use _native::params::Params;
use _native::single::{compute_single, SingleOut};
use common::*;

/// Equal bits, or both NaN.
fn same(g: f64, w: f64) -> bool {
    (g.is_nan() && w.is_nan()) || g.to_bits() == w.to_bits()
}

fn check_bar(full: &SingleOut, t: usize, b: &_native::incremental::BarOut, d: &BarDetail, what: &str) {
    let n = full.bars;
    let ok = |g: f64, w: f64, name: &str| assert!(same(g, w), "{what}: bar {t} {name}: got {g}, want {w}");
    ok(b.average, full.average[t], "average");
    for f in 0..6 {
        ok(b.signals[f], full.signals[f * n + t], "signal");
        ok(b.family_equities[f], full.family_equities[f * n + t], "family equity");
    }
    ok(b.signal_base, full.signal_base[t], "signal_base");
    ok(b.direction, full.direction[t], "direction");
    let flags = [full.arrow_long[t], full.arrow_short[t], full.long[t], full.short[t]];
    assert_eq!(b.flags, flags, "{what}: bar {t} events");
    let det = full.detail.as_ref().expect("detail");
    for f in 0..6 {
        for k in 0..9 {
            let i = (f * 9 + k) * n + t;
            ok(d.mas[f][k], det.mas[i], &format!("MA {f}/{k}"));
            assert_eq!(d.states[f][k], det.states[i], "{what}: bar {t} state {f}/{k}");
            ok(d.equities[f][k], det.equities[i], &format!("equity {f}/{k}"));
        }
    }
}

/// Last event and bars since it over bars 0..=t of a full result.
fn events_until(full: &SingleOut, t: usize) -> (i8, i64) {
    match (0..=t).rev().find(|&u| full.long[u] || full.short[u]) {
        Some(u) => (if full.long[u] { 1 } else { -1 }, (t - u) as i64),
        None => (0, -1),
    }
}

fn stepwise(close: &[f64], src: Option<&[f64]>, p: &Params, what: &str) {
    for level in supported_levels() {
        stepwise_at(level, close, src, p, &format!("{what} {level:?}"));
    }
}

fn stepwise_at(level: SimdLevel, close: &[f64], src: Option<&[f64]>, p: &Params, what: &str) {
    let full = compute_single(close, src, p, true).unwrap();
    let eng = Engine::new(p).unwrap().at_level(level).unwrap();
    let mut st = eng.fresh();
    let mut buf = eng.scratch(0);
    for t in 0..close.len() {
        let x = src.map_or(close[t], |s| s[t]);
        let (mut d1, mut d2) = (BarDetail::default(), BarDetail::default());
        let before = st.clone();
        let peeked = eng.peek(&st, x, close[t], &mut buf, Some(&mut d1));
        let again = eng.peek(&st, x, close[t], &mut buf, None);
        assert_eq!(format!("{peeked:?}"), format!("{again:?}"), "{what}: peek twice at bar {t}");
        let b = eng.advance(&mut st, x, close[t], &mut buf, Some(&mut d2));
        assert_eq!(format!("{b:?}"), format!("{peeked:?}"), "{what}: peek ≠ advance at bar {t}");
        check_bar(&full, t, &b, &d2, what);
        check_bar(&full, t, &peeked, &d1, &format!("{what} (peek)"));
        assert_eq!((b.last_event, b.bars_since_event), events_until(&full, t), "{what}: bar {t} events so far");
        // The peek changed nothing: advancing the copy taken before gives the same bar.
        let mut replay = before;
        let b2 = eng.advance(&mut replay, x, close[t], &mut buf, None);
        assert_eq!(format!("{b2:?}"), format!("{b:?}"), "{what}: bar {t} after peeks");
    }
}

#[test]
fn every_bar_equals_the_full_computation() {
    for (name, p) in configs() {
        // 1100 bars: past the first growth row of the scratch space (g computed directly).
        for (len, seed) in [(1100, 1), (45, 3)] {
            let close = walk(len, seed, 0.03);
            stepwise(&close, None, &p, &format!("{name} n={len}"));
        }
    }
}

#[test]
fn a_separate_source_and_length_one_members() {
    let close = walk(400, 4, 0.03);
    let src: Vec<f64> = close.iter().enumerate().map(|(i, c)| c * (1.0 + 0.004 * ((i % 7) as f64 - 3.0))).collect();
    stepwise(&close, Some(&src), &Params::default(), "src");
    let short = [5, 6, 1, 2, 9, 4, 3, 2, 1];
    let p = Params { lengths: [short; 6], ..Params::default() };
    stepwise(&close, None, &p, "length one");
    stepwise(&close, None, &Params { hma_kind: _native::params::HmaKind::Hull, ..p }, "length one, Hull");
}

#[test]
fn cent_prices_with_ties_decide_as_the_full_computation() {
    // Flat stretches in cents: MAs meet the close to the last bit.
    let mut close = walk(900, 9, 0.02);
    for (i, c) in close.iter_mut().enumerate() {
        *c = (*c * 100.0 / if i % 3 == 0 { 1.0 } else { 1.002 }).round() / 100.0;
        if i % 5 < 2 {
            *c = (*c * 10.0).round() / 10.0;
        }
    }
    stepwise(&close, None, &Params::default(), "cents");
}

/// Owned batch rows of `symbols × tail`.
fn batch_out(symbols: usize, tail: usize) -> BatchOut {
    BatchOut {
        symbols,
        families: 6,
        tail,
        signals: vec![0.0; symbols * 6 * tail],
        family_equities: vec![0.0; symbols * 6 * tail],
        direction: vec![0.0; symbols * tail],
        long: vec![false; symbols * tail],
        short: vec![false; symbols * tail],
        last_event: vec![0; symbols],
        bars_since_event: vec![0; symbols],
        average: Some(vec![0.0; symbols * tail]),
    }
}

fn rows(o: &mut BatchOut) -> BatchRows<'_> {
    BatchRows {
        signals: &mut o.signals,
        family_equities: &mut o.family_equities,
        direction: &mut o.direction,
        long: &mut o.long,
        short: &mut o.short,
        last_event: &mut o.last_event,
        bars_since_event: &mut o.bars_since_event,
        average: o.average.as_deref_mut(),
    }
}

/// A block of new bars without a separate source.
fn block(closes: &[f64], cols: usize) -> Block<'_> {
    Block { closes, src: None, cols, name: "new_bars" }
}

/// Columns `c0..c1` of a `(symbols, bars)` array.
fn columns(a: &[f64], symbols: usize, bars: usize, c0: usize, c1: usize) -> Vec<f64> {
    (0..symbols).flat_map(|i| a[i * bars + c0..i * bars + c1].to_vec()).collect()
}

fn same_batch(got: &BatchOut, want: &BatchOut, what: &str) {
    // Debug output prints every f64 exactly, NaN included.
    assert_eq!(format!("{got:?}"), format!("{want:?}"), "{what}");
}

#[test]
fn batches_split_anywhere_equal_the_full_batch() {
    let (s, b) = (13, 300);
    let starts: Vec<usize> = (0..s).map(|i| [0, 0, 120, 0, 298, 3, 0, 261, 0, 0, 299, 0, 17][i]).collect();
    let mut closes = vec![f64::NAN; s * b];
    for i in 0..s {
        let w = walk(b - starts[i], 300 + i as u64, 0.03);
        closes[i * b + starts[i]..(i + 1) * b].copy_from_slice(&w);
    }
    for (name, p) in configs() {
        let eng = Engine::new(&p).unwrap();
        for (split, chunks) in [(1, vec![299]), (150, vec![1, 7, 142]), (262, vec![38]), (299, vec![1])] {
            let tail0 = split.min(5);
            let mut got = batch_out(s, tail0);
            let mut states: Vec<SymbolState> =
                init(&eng, &block(&columns(&closes, s, b, 0, split), split), s, tail0, rows(&mut got)).unwrap();
            let want =
                compute_batch(&columns(&closes, s, b, 0, split), s, split, &row_starts(&starts, split), &p, tail0, 6)
                    .unwrap();
            same_batch(&got, &want, &format!("{name}: init on {split} bars"));
            let mut at = split;
            for k in chunks {
                let mut got = batch_out(s, k);
                let new = columns(&closes, s, b, at, at + k);
                advance(&eng, &mut states, &block(&new, k), k, rows(&mut got)).unwrap();
                at += k;
                let want =
                    compute_batch(&columns(&closes, s, b, 0, at), s, at, &row_starts(&starts, at), &p, k, 6).unwrap();
                same_batch(&got, &want, &format!("{name}: {k} bars up to {at}"));
            }
        }
    }
}

/// Each row's first bar when only the first `bars` columns are present.
fn row_starts(starts: &[usize], bars: usize) -> Vec<usize> {
    starts.iter().map(|&s| s.min(bars)).collect()
}

#[test]
fn forming_bars_equal_the_next_closed_bar_and_change_nothing() {
    let (s, b) = (9, 200);
    let closes: Vec<f64> = (0..s).flat_map(|i| walk(b, 40 + i as u64, 0.03)).collect();
    let p = Params::default();
    let eng = Engine::new(&p).unwrap();
    let mut first = batch_out(s, 1);
    let mut states = init(&eng, &block(&columns(&closes, s, b, 0, b - 1), b - 1), s, 1, rows(&mut first)).unwrap();
    let last: Vec<f64> = (0..s).map(|i| closes[i * b + b - 1]).collect();
    // Symbol 4 has no forming bar: its outputs are na, its events its own.
    let mut with_gap = last.clone();
    with_gap[4] = f64::NAN;
    let before: Vec<String> = states.iter().map(|st| format!("{}", st.bars())).collect();
    let mut f1 = batch_out(s, 1);
    forming(&eng, &states, &block(&with_gap, 1), rows(&mut f1)).unwrap();
    let mut f2 = batch_out(s, 1);
    forming(&eng, &states, &block(&with_gap, 1), rows(&mut f2)).unwrap();
    same_batch(&f1, &f2, "forming twice");
    assert_eq!(before, states.iter().map(|st| format!("{}", st.bars())).collect::<Vec<_>>());
    let mut closed = batch_out(s, 1);
    advance(&eng, &mut states, &block(&last, 1), 1, rows(&mut closed)).unwrap();
    let want = compute_batch(&closes, s, b, &vec![0; s], &p, 1, 6).unwrap();
    same_batch(&closed, &want, "closed after forming");
    for i in (0..s).filter(|&i| i != 4) {
        for f in 0..6 {
            assert!(same(f1.signals[i * 6 + f], want.signals[i * 6 + f]));
            assert!(same(f1.family_equities[i * 6 + f], want.family_equities[i * 6 + f]));
        }
        assert!(same(f1.average.as_ref().unwrap()[i], want.average.as_ref().unwrap()[i]));
        assert!(same(f1.direction[i], want.direction[i]));
        assert_eq!((f1.long[i], f1.short[i], f1.last_event[i]), (want.long[i], want.short[i], want.last_event[i]));
        assert_eq!(f1.bars_since_event[i], want.bars_since_event[i]);
    }
    assert!(f1.average.as_ref().unwrap()[4].is_nan() && f1.direction[4].is_nan());
    assert_eq!(f1.last_event[4], first.last_event[4]);
    assert_eq!(f1.bars_since_event[4], first.bars_since_event[4]);
}

#[test]
fn bad_blocks_name_the_row_and_change_nothing() {
    let p = Params::default();
    let eng = Engine::new(&p).unwrap();
    let closes = walk(60, 2, 0.03);
    let mut out = batch_out(2, 1);
    let mut states = init(&eng, &block(&[closes.clone(), closes].concat(), 60), 2, 1, rows(&mut out)).unwrap();
    let bars: Vec<usize> = states.iter().map(|s| s.bars()).collect();
    let mut out = batch_out(2, 3);
    for (new, want) in [
        (vec![100.0, f64::NAN, 101.0, 100.0, 100.0, 100.0], "new_bars row 0 at bar 1 is NaN"),
        (vec![100.0, 100.0, 100.0, f64::NAN, -1.0, 100.0], "new_bars row 1 at bar 1 is -1"),
        (vec![100.0, 100.0, 100.0, f64::NAN, f64::INFINITY, 100.0], "new_bars row 1 at bar 1 is inf"),
    ] {
        let e = advance(&eng, &mut states, &block(&new, 3), 3, rows(&mut out)).unwrap_err();
        assert!(e.message.starts_with(want), "{}", e.message);
        assert_eq!(e.field, "new_bars");
    }
    let src = vec![100.0, 100.0, 100.0, 100.0, 100.0, 100.0];
    let closes = [f64::NAN, 1.0, 1.0, 1.0, 1.0, 1.0];
    let with_src = Block { src: Some(&src), ..block(&closes, 3) };
    let e = advance(&eng, &mut states, &with_src, 3, rows(&mut out)).unwrap_err();
    assert_eq!(e.field, "src");
    assert!(e.message.starts_with("src row 0 at bar 0 is 100"), "{}", e.message);
    assert_eq!(bars, states.iter().map(|s| s.bars()).collect::<Vec<_>>());
}

#[test]
fn default_state_fits_in_8_kb_once_seeded() {
    let eng = Engine::new(&Params::default()).unwrap();
    let mut st = eng.fresh();
    let mut buf = eng.scratch(0);
    let warm = st.nbytes();
    for (t, c) in walk(100, 5, 0.03).into_iter().enumerate() {
        eng.advance(&mut st, c, c, &mut buf, None);
        if t == 20 {
            assert_eq!(st.nbytes(), warm, "the warm-up state keeps its size");
        }
    }
    assert!(st.nbytes() < warm, "the seeds are dropped after the warm-up");
    assert!(st.nbytes() <= 8 * 1024, "{} bytes", st.nbytes());
}
