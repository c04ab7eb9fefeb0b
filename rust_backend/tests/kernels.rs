//! The streaming MA kernels, the member step and Layer 2 against naive restatements.

mod common;

use _native::family::{round2, Members, Phase};
use _native::layer2::{layer2_pass, Layer2Out, Layer2Params};
use _native::ma::{Dema, Ema, Kama, MaKernel, RESUM_PERIOD};
use _native::simd::Simd;
use _native::window::{Hull, Lsma, Sma, Wma};
use common::*;

/// Run kernel `K` over `series` in two calls.
fn run<V: Simd, K: MaKernel<V>>(ma: K, series: &[Vec<f64>]) -> Rows {
    run_kernel::<V, K>(ma, series, &[series[0].len() / 3])
}

const LENGTHS: [usize; 9] = [28, 29, 30, 32, 34, 27, 26, 24, 22];
const SHORT: [usize; 9] = [5, 6, 7, 8, 9, 4, 3, 2, 1];

type NaiveMa = fn(&[f64], usize) -> Vec<f64>;

fn check_family<V: Simd>(series: &[Vec<f64>], lengths: &[usize; 9]) {
    let cases: [(&str, NaiveMa, Rows, bool); 7] = [
        ("ema", ema, run::<V, _>(Ema::<V>::new(lengths), series), true),
        ("dema", dema, run::<V, _>(Dema::<V>::new(lengths), series), true),
        ("sma", sma, run::<V, _>(Sma::<V>::new(lengths), series), true),
        ("wma", wma, run::<V, _>(Wma::<V>::new(lengths), series), false),
        ("lsma", lsma, run::<V, _>(Lsma::<V>::new(lengths), series), false),
        ("kama", kama, run::<V, _>(Kama::<V>::new(lengths), series), true),
        ("hull", hull, run::<V, _>(Hull::<V>::new(lengths, series[0].len(), Vec::new()), series), false),
    ];
    for (name, naive, got, exact) in cases {
        for (l, s) in series.iter().enumerate() {
            for (k, &n) in lengths.iter().enumerate() {
                let want = naive(s, n);
                let what = format!("{name}({n}) lane {l}");
                if exact {
                    // The math.sum machine and the recursions repeat §4.8: bit for bit.
                    assert_same(&got[l][k], &want, &what);
                } else {
                    assert_close(&got[l][k], &want, 1e-11, &what);
                }
            }
        }
    }
}

#[test]
fn scalar_kernels_match_naive_definitions() {
    let s = vec![walk(700, 1, 0.03)];
    check_family::<f64>(&s, &LENGTHS);
    check_family::<f64>(&s, &SHORT);
}

#[test]
fn series_shorter_than_the_warm_up_stay_na() {
    let s = vec![walk(20, 2, 0.03)];
    check_family::<f64>(&s, &LENGTHS);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn vector_lanes_are_independent_series() {
    use _native::simd::F64x2;
    let s = vec![walk(500, 3, 0.02), walk(500, 4, 0.05)];
    check_family::<F64x2>(&s, &LENGTHS);
    check_family::<F64x2>(&s, &SHORT);
    if std::is_x86_feature_detected!("avx2") {
        use _native::simd::F64x4;
        let s: Vec<_> = (0..4).map(|i| walk(300, 10 + i, 0.03)).collect();
        check_family::<F64x4>(&s, &SHORT);
    }
    if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512dq") {
        use _native::simd::F64x8;
        let s: Vec<_> = (0..8).map(|i| walk(300, 20 + i, 0.03)).collect();
        check_family::<F64x8>(&s, &LENGTHS);
    }
}

#[test]
fn running_sums_stay_exact_over_long_series() {
    // Prices wander over orders of magnitude; without re-summation the subtract/add
    // updates would drift away from the window sums.
    let n = 80 * RESUM_PERIOD + 17;
    let s = vec![walk(n, 5, 0.09)];
    let (lo, hi) = s[0].iter().fold((f64::MAX, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(hi / lo > 1e3, "the walk must move across orders of magnitude");
    let got = run::<f64, _>(Sma::<f64>::new(&LENGTHS), &s);
    let wgot = run::<f64, _>(Wma::<f64>::new(&LENGTHS), &s);
    let lgot = run::<f64, _>(Lsma::<f64>::new(&LENGTHS), &s);
    for (k, &len) in LENGTHS.iter().enumerate() {
        assert_close(&got[0][k], &sma(&s[0], len), 1e-9, "sma");
        assert_close(&wgot[0][k], &wma(&s[0], len), 1e-9, "wma");
        assert_close(&lgot[0][k], &lsma(&s[0], len), 1e-9, "lsma");
    }
}

#[test]
fn the_equity_floor_is_pines_tolerant_comparison() {
    use _native::exact::PINE_TOLERANCE;
    use _native::family::{floor_equity, FLOORED_AT_MOST};
    // The boundary: floored exactly when 0.25 − e > 1e-10, and fl(0.25 − e) is monotone.
    const { assert!(0.25 - FLOORED_AT_MOST > PINE_TOLERANCE) };
    assert!(0.25 - FLOORED_AT_MOST.next_up() <= PINE_TOLERANCE);
    for e in [0.1, 0.2, FLOORED_AT_MOST.next_down(), FLOORED_AT_MOST] {
        assert_eq!(floor_equity::<f64>(e), 0.25, "{e}");
    }
    // Within 1e-10 below the floor Pine sees no `e < 0.25`: the equity stays.
    for e in [FLOORED_AT_MOST.next_up(), 0.25 - 5e-11, 0.25, 0.3, 7.0] {
        assert_eq!(floor_equity::<f64>(e), e, "{e}");
    }
    assert!(floor_equity::<f64>(f64::NAN).is_nan());
}

#[test]
fn round2_rounds_half_away_from_zero_with_pine_tie_tolerance() {
    let cases = [
        (0.125, 0.13),
        (-0.125, -0.13),
        (0.135, 0.14),
        (0.124, 0.12),
        (0.5, 0.5),
        (1.0, 1.0),
        (-1.0, -1.0),
        (0.0, 0.0),
        (0.004_999_999_999_9, 0.01), // remainder within 1e-10 below ½ counts as a tie
        (0.004_999_99, 0.0),
        (0.333_333, 0.33),
    ];
    for (v, want) in cases {
        assert_eq!(round2::<f64>(v), want, "round2({v})");
    }
    assert!(round2::<f64>(f64::NAN).is_nan());
}

#[cfg(target_arch = "x86_64")]
#[test]
fn vector_hundredths_equal_the_division_for_every_round2_unit() {
    fn check<V: Simd>() {
        for u in 0..=100 {
            let mut out = vec![0.0; V::LANES];
            unsafe { V::splat(u as f64).hundredths().store(out.as_mut_ptr()) };
            assert!(out.iter().all(|&q| q == u as f64 / 100.0), "{u}: {out:?}");
        }
    }
    check::<_native::simd::F64x2>();
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        check::<_native::simd::F64x4>();
    }
    if std::is_x86_feature_detected!("avx512f") {
        check::<_native::simd::F64x8>();
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn vector_quotients_equal_the_division() {
    // Random sums over every length up to 3000, and sums whose quotient lies next to a
    // rounding midpoint (the hard cases of a correction step), with their neighbours.
    fn check<V: Simd>() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut a = vec![0.0; 72];
        let mut out = vec![0.0; V::LANES];
        for n in 1..=3000usize {
            let d = n as f64;
            let recip = 1.0 / d;
            for _ in 0..64 {
                let q = (next() >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((next() % 9) as i32 - 2);
                let mid = q + (q.next_up() - q) / 2.0;
                let base = [(next() >> 11) as f64 * 2f64.powi(-40) * d, mid * d, q * d];
                for (i, v) in a.iter_mut().enumerate() {
                    let b = base[i % 3];
                    *v = match i / 3 % 3 {
                        0 => b,
                        1 => b.next_up(),
                        _ => b.next_down(),
                    };
                }
                for chunk in a.chunks(V::LANES) {
                    unsafe { V::load(chunk.as_ptr()).quotient(V::splat(d), V::splat(recip)).store(out.as_mut_ptr()) };
                    for (x, q) in chunk.iter().zip(&out) {
                        assert_eq!(q.to_bits(), (x / d).to_bits(), "{x} / {n}");
                    }
                }
            }
        }
    }
    check::<f64>();
    check::<_native::simd::F64x2>();
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        check::<_native::simd::F64x4>();
    }
    if std::is_x86_feature_detected!("avx512f") {
        check::<_native::simd::F64x8>();
    }
}

#[test]
fn crossover_states_and_equity_follow_the_spec() {
    // One member whose MA sits at 10; close crosses it up, goes flat, then crosses down.
    let close = [9.0, 11.0, 12.0, 12.0, 12.0, 8.0, 7.0];
    let ma = 10.0;
    let decay = 1.0 - 0.0003;
    let mut m = Members::<f64>::new();
    let mut states = vec![];
    let mut eqs = vec![];
    for t in 0..close.len() {
        let cp = if t == 0 { f64::NAN } else { close[t - 1] };
        let r = if t == 0 { f64::NAN } else { (close[t] - cp) / cp };
        m.bar(&[ma; 9], close[t], cp, r, Phase::of(t, 0), decay);
        states.push(m.state[0]);
        eqs.push(m.eq[0]);
    }
    assert_eq!(states, vec![0.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0]);
    let r = |t: usize| (close[t] - close[t - 1]) / close[t - 1];
    // Bar 0 starts at 1; on bar 1 the previous state is still 0, so a = 0.
    let mut want = vec![1.0, decay];
    // Bars 2–5 hold the long position of the previous bar (bar 5: state of bar 4 is +1),
    // bar 6 the short one; flat bars have R = 0.
    for (t, pos) in [(2, 1.0), (3, 1.0), (4, 1.0), (5, 1.0), (6, -1.0)] {
        let prev = want[t - 1];
        want.push(prev * decay * (1.0 + pos * r(t)));
    }
    assert_eq!(eqs, want);
}

#[test]
fn equity_floors_at_a_quarter_and_waits_for_the_cutout() {
    let mut m = Members::<f64>::new();
    // Before the cutout: na, untouched; the state still updates.
    m.bar(&[10.0; 9], 9.0, f64::NAN, f64::NAN, Phase::Before, 1.0);
    m.bar(&[10.0; 9], 11.0, 9.0, f64::NAN, Phase::Before, 1.0);
    assert!(m.eq[0].is_nan());
    assert_eq!(m.state[0], 1.0);
    m.bar(&[10.0; 9], 12.0, 11.0, 0.5, Phase::First, 1.0);
    assert_eq!(m.eq[0], 1.0);
    // Long while the price falls 80 %: 1 · (1 − 0.8) = 0.2 is floored at 0.25.
    m.bar(&[1.0; 9], 2.4, 12.0, -0.8, Phase::Running, 1.0);
    assert_eq!(m.eq[0], 0.25);
}

#[test]
fn family_equity_keeps_a_while_the_previous_signal_is_zero() {
    // Layer 2: the family signal goes back to 0, and `a` keeps the last growth-scaled
    // return (spec §6, pitfall P4) instead of resetting to 0.
    let sig = [0.2, 0.0, 0.0, -0.3, 0.0];
    let rg = [f64::NAN, 0.1, 0.05, -0.02, 0.04];
    let n = sig.len();
    let p = Layer2Params {
        families: 1,
        weights: [2.0; 6],
        decay: 1.0,
        cutout: 0,
        cut_threshold: 0.49,
        long_threshold: 0.1,
        short_threshold: -0.1,
        strategy: false,
        colbase: 1,
        alertbase: 1,
    };
    let (mut fs, mut base, mut dir) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut flags = [vec![false; n], vec![false; n], vec![false; n], vec![false; n]];
    let [al, ash, lg, sh] = &mut flags;
    let mut out = Layer2Out {
        fs: &mut fs,
        avg: &mut [],
        base: &mut base,
        direction: &mut dir,
        arrow_long: al,
        arrow_short: ash,
        long: lg,
        short: sh,
    };
    layer2_pass::<f64>(&p, &sig, &rg, n, &mut out);
    let mut want = vec![2.0];
    let a = [0.0, 0.1, 0.1, 0.1, -0.04];
    // bar 1: previous signal 0.2 > 0 → a = 0.1; bars 2, 3: previous 0 → a stays 0.1;
    // bar 4: previous −0.3 < 0 → a = −0.04.
    for t in 1..n {
        let prev: f64 = want[t - 1];
        want.push(prev * (1.0 + a[t]));
    }
    assert_eq!(fs, want);
}

#[test]
fn events_follow_direction_and_strategy_view_lags_only_the_base() {
    // One family (EMA only) drives direction and alerts; hand-made signal path.
    let sig = [0.0, 0.2, 0.3, -0.2, -0.3, 0.05, 0.2, 0.2];
    let n = sig.len();
    let rg = vec![0.0; n];
    let run = |strategy: bool| {
        let p = Layer2Params {
            families: 1,
            weights: [1.0; 6],
            decay: 1.0,
            cutout: 0,
            cut_threshold: 0.49,
            long_threshold: 0.1,
            short_threshold: -0.1,
            strategy,
            colbase: 1,
            alertbase: 1,
        };
        let (mut fs, mut base, mut dir) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let mut flags = [vec![false; n], vec![false; n], vec![false; n], vec![false; n]];
        let [al, ash, lg, sh] = &mut flags;
        let mut out = Layer2Out {
            fs: &mut fs,
            avg: &mut [],
            base: &mut base,
            direction: &mut dir,
            arrow_long: al,
            arrow_short: ash,
            long: lg,
            short: sh,
        };
        layer2_pass::<f64>(&p, &sig, &rg, n, &mut out);
        (base, dir, flags)
    };
    let (base, dir, [al, ash, lg, sh]) = run(false);
    assert_same(&base, &sig, "base");
    assert_same(&dir, &[NAN, 1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0], "direction");
    // The first crossing (bar 1) has no previous direction: no arrow, no alert.
    assert_eq!(al, vec![false, false, false, false, false, false, true, false]);
    assert_eq!(ash, vec![false, false, false, true, false, false, false, false]);
    assert_eq!(lg, al);
    assert_eq!(sh, ash);
    let (base, dir, [al, _, lg, sh]) = run(true);
    assert_same(&base, &[NAN, 0.0, 0.2, 0.3, -0.2, -0.3, 0.05, 0.2], "lagged base");
    assert_same(&dir, &[NAN, NAN, 1.0, 1.0, -1.0, -1.0, -1.0, 1.0], "lagged direction");
    assert_eq!(al, vec![false, false, false, false, false, false, false, true]);
    // Alerts use the unshifted signal but the lagged direction.
    assert_eq!(lg, vec![false, false, false, false, false, false, true, false]);
    assert_eq!(sh, vec![false, false, false, true, false, false, false, false]);
}
