//! The drivers end to end: every output against the naive restatement of the spec, every
//! instruction-set level against each other, batches against single series, and input
//! errors.

mod common;

use _native::batch::compute_batch_at;
use _native::engine::{all_within, supported_levels, SimdLevel};
use _native::params::{HmaKind, Params};
use _native::single::{compute_single_at, SingleOut};
use common::*;

fn check_single(got: &SingleOut, want: &Naive, what: &str) {
    let n = got.bars;
    for f in 0..6 {
        let r = f * n..(f + 1) * n;
        assert_same(&got.signals[r.clone()], &want.signals[f], &format!("{what} signal {f}"));
        assert_close(&got.family_equities[r], &want.fs[f], 1e-9, &format!("{what} fs {f}"));
    }
    assert_close(&got.average, &want.average, 1e-9, &format!("{what} average"));
    assert_close(&got.signal_base, &want.base, 1e-9, &format!("{what} base"));
    assert_same(&got.direction, &want.direction, &format!("{what} direction"));
    assert_eq!(got.arrow_long, want.arrow_long, "{what} arrow_long");
    assert_eq!(got.arrow_short, want.arrow_short, "{what} arrow_short");
    assert_eq!(got.long, want.long, "{what} long");
    assert_eq!(got.short, want.short, "{what} short");
    if let Some(d) = &got.detail {
        for i in 0..54 {
            let r = i * n..(i + 1) * n;
            // Detail MAs are §4.8's values bit for bit (the Hull's included).
            assert_same(&d.mas[r.clone()], &want.mas[i], &format!("{what} ma {i}"));
            let st: Vec<f64> = d.states[r.clone()].iter().map(|&s| s as f64).collect();
            assert_same(&st, &want.states[i], &format!("{what} state {i}"));
            assert_close(&d.equities[r], &want.equities[i], 1e-9, &format!("{what} equity {i}"));
        }
    }
}

#[test]
fn single_series_match_the_naive_spec_at_every_level() {
    for (name, p) in configs() {
        for (len, seed) in [(900, 1), (5000, 2), (40, 3)] {
            let close = walk(len, seed, 0.03);
            let want = naive_atc(&close, None, &p, 6);
            for level in supported_levels() {
                let got = compute_single_at(level, &close, None, &p, true).unwrap();
                check_single(&got, &want, &format!("{name} n={len} {level:?}"));
            }
        }
    }
}

#[test]
fn a_separate_source_feeds_only_the_mas() {
    let close = walk(600, 4, 0.03);
    let src: Vec<f64> = close.iter().enumerate().map(|(i, c)| c * (1.0 + 0.004 * ((i % 7) as f64 - 3.0))).collect();
    let p = Params::default();
    let want = naive_atc(&close, Some(&src), &p, 6);
    for level in supported_levels() {
        let got = compute_single_at(level, &close, Some(&src), &p, true).unwrap();
        check_single(&got, &want, &format!("src {level:?}"));
    }
}

#[test]
fn levels_agree_bit_for_bit() {
    let close = walk(3000, 6, 0.02);
    let p = Params { hma_kind: HmaKind::Hull, cutout: 30, ..Params::default() };
    let levels = supported_levels();
    let base = compute_single_at(levels[0], &close, None, &p, true).unwrap();
    // Debug output prints every f64 exactly (shortest round-trip form), NaN included.
    let base = format!("{base:?}");
    for &level in &levels[1..] {
        let got = format!("{:?}", compute_single_at(level, &close, None, &p, true).unwrap());
        assert!(got == base, "{level:?} differs from {:?}", levels[0]);
    }
    let (s, b) = (19, 400);
    let closes: Vec<f64> = (0..s).flat_map(|i| walk(b, 100 + i as u64, 0.03)).collect();
    let starts = vec![0; s];
    let first = format!("{:?}", compute_batch_at(levels[0], &closes, s, b, &starts, &p, 25, 6).unwrap());
    for &level in &levels[1..] {
        let got = format!("{:?}", compute_batch_at(level, &closes, s, b, &starts, &p, 25, 6).unwrap());
        assert!(got == first, "{level:?} differs from {:?}", levels[0]);
    }
}

#[test]
fn batch_rows_are_their_single_series() {
    let (s, b, tail) = (21, 500, 40);
    let starts: Vec<usize> = (0..s).map(|i| [0, 0, 0, 120, 0, 498, 0, 3, 0, 0, 461][i % 11]).collect();
    let mut closes = vec![f64::NAN; s * b];
    for i in 0..s {
        let w = walk(b - starts[i], 200 + i as u64, 0.03);
        closes[i * b + starts[i]..(i + 1) * b].copy_from_slice(&w);
    }
    for (name, p) in configs() {
        for families in [6, 1] {
            for level in supported_levels() {
                let got = compute_batch_at(level, &closes, s, b, &starts, &p, tail, families).unwrap();
                for i in 0..s {
                    let row = &closes[i * b + starts[i]..(i + 1) * b];
                    let m = row.len();
                    let want = naive_atc(row, None, &p, families);
                    let k = tail.min(m);
                    let what = format!("{name} families={families} {level:?} row {i}");
                    let pad = |v: &[f64]| -> Vec<f64> {
                        let mut out = vec![f64::NAN; tail - k];
                        out.extend_from_slice(&v[m - k..]);
                        out
                    };
                    for f in 0..families {
                        let r = (i * families + f) * tail..(i * families + f + 1) * tail;
                        assert_same(&got.signals[r.clone()], &pad(&want.signals[f]), &format!("{what} signal"));
                        assert_close(&got.family_equities[r], &pad(&want.fs[f]), 1e-9, &format!("{what} fs"));
                    }
                    let r = i * tail..(i + 1) * tail;
                    assert_same(&got.direction[r.clone()], &pad(&want.direction), &format!("{what} direction"));
                    let padb = |v: &[bool]| -> Vec<bool> {
                        let mut out = vec![false; tail - k];
                        out.extend_from_slice(&v[m - k..]);
                        out
                    };
                    assert_eq!(got.long[r.clone()], padb(&want.long)[..], "{what} long");
                    assert_eq!(got.short[r.clone()], padb(&want.short)[..], "{what} short");
                    match &got.average {
                        Some(a) => assert_close(&a[r], &pad(&want.average), 1e-9, &format!("{what} average")),
                        None => assert_eq!(families, 1),
                    }
                    let last = (0..m).rev().find(|&t| want.long[t] || want.short[t]);
                    let (ev, since) = match last {
                        Some(t) => (if want.long[t] { 1 } else { -1 }, (m - 1 - t) as i64),
                        None => (0, -1),
                    };
                    assert_eq!((got.last_event[i], got.bars_since_event[i]), (ev, since), "{what} last event");
                }
            }
        }
    }
}

#[test]
fn invalid_inputs_are_errors_not_panics() {
    let p = Params::default();
    let level = SimdLevel::Baseline;
    let close = walk(50, 7, 0.03);
    let e = compute_single_at(level, &[], None, &p, false).unwrap_err();
    assert_eq!(e.field, "close");
    let mut bad = close.clone();
    bad[10] = f64::NAN;
    let e = compute_single_at(level, &bad, None, &p, false).unwrap_err();
    assert!(e.message.contains("bar 10"), "{e}");
    bad[10] = -1.0;
    assert_eq!(compute_single_at(level, &bad, None, &p, false).unwrap_err().field, "close");
    let e = compute_single_at(level, &close, Some(&close[1..]), &p, false).unwrap_err();
    assert_eq!(e.field, "src");
    let mut short = p.clone();
    short.lengths[3][8] = 0;
    let e = compute_single_at(level, &close, None, &short, false).unwrap_err();
    assert_eq!(e.field, "lengths");
    assert!(e.message.contains("DEMA"), "{e}");
    let nan_lam = Params { lam: f64::NAN, ..p.clone() };
    assert_eq!(compute_single_at(level, &close, None, &nan_lam, false).unwrap_err().field, "lam");
    let bad_base = Params { colbase: 7, ..p.clone() };
    assert_eq!(compute_single_at(level, &close, None, &bad_base, false).unwrap_err().field, "colbase");

    let closes = walk(100, 8, 0.03);
    let e = compute_batch_at(level, &closes, 3, 40, &[0, 0, 0], &p, 1, 6).unwrap_err();
    assert_eq!(e.field, "closes");
    let e = compute_batch_at(level, &closes, 2, 50, &[0], &p, 1, 6).unwrap_err();
    assert_eq!(e.field, "starts");
    let e = compute_batch_at(level, &closes, 2, 50, &[0, 51], &p, 1, 6).unwrap_err();
    assert_eq!(e.field, "starts");
    for tail in [0, 51] {
        let e = compute_batch_at(level, &closes, 2, 50, &[0, 0], &p, tail, 6).unwrap_err();
        assert_eq!(e.field, "tail");
    }
    let e = compute_batch_at(level, &closes, 2, 50, &[0, 0], &p, 1, 3).unwrap_err();
    assert_eq!(e.field, "mode");
    // A row that is all padding is no error: its outputs stay na.
    let mut padded = closes.clone();
    padded[50..].fill(f64::NAN);
    let out = compute_batch_at(level, &padded, 2, 50, &[0, 50], &p, 2, 6).unwrap();
    assert!(out.signals[12..].iter().all(|v| v.is_nan()));
    assert_eq!((out.last_event[1], out.bars_since_event[1]), (0, -1));
}

#[test]
fn a_batch_is_within_its_bounds_unless_a_value_is_nan_or_outside() {
    // Long enough to be split over the thread pool; the bounds themselves are inside.
    let mut v: Vec<f64> = (0..300_000).map(|i| 1.0 + (i % 7) as f64 / 6.0).collect();
    assert!(all_within(&v, 1.0, 2.0) && all_within(&v[..100], 1.0, 2.0));
    for (at, bad) in [(0, f64::NAN), (150_001, 2.0000001), (299_999, 0.9999999), (70_000, f64::INFINITY)] {
        let kept = std::mem::replace(&mut v[at], bad);
        assert!(!all_within(&v, 1.0, 2.0), "{bad} at {at}");
        v[at] = kept;
    }
    assert!(!all_within(&[1.5, f64::NAN], 1.0, 2.0));
}
