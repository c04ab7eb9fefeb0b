//! TradingView's arithmetic (spec §4.8): the `math.sum` machine on hand-computed cases,
//! the exact WMA/LINREG evaluated over bars, and running-sum values decided exactly in
//! the band of the close.

mod common;

use _native::at_every_width;
use _native::exact::{hull_bars, lsma_bars, wma_bars, wma_lsma_bars, Bars};
use _native::family::{Members, Phase};
use _native::ma::MaKernel;
use _native::mathsum::{math_sum, MathSum};
use _native::simd::Simd;
use _native::window::{Hull, Lsma, Sma, Wma};
use common::{run_kernel, walk, Rows, NAN};

fn same(got: &[f64], want: &[f64]) -> bool {
    got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (g.is_nan() && w.is_nan()) || g == w)
}

// ---------------------------------------------------------------------------------------
// The math.sum machine.

#[test]
fn machine_warm_up_and_steady_state_by_hand() {
    // Integers are exact: the compensation stays 0, so this is the plain rolling sum.
    let got = math_sum(&[1.0, 2.0, 3.0, 4.0, 10.0], 3);
    assert!(same(&got, &[NAN, NAN, 6.0, 9.0, 17.0]), "{got:?}");
    // 0.1 + 0.2 rounds up to 0.30000000000000004, leaving c = (s − t) − y2 ≠ 0; the
    // eviction of 0.1 then takes the realised addend back out together with c.
    let got = math_sum(&[0.1, 0.2, 0.3], 2);
    assert_eq!(got[1], 0.30000000000000004);
    assert_eq!(got[2], 0.5);
}

#[test]
fn a_fire_re_baselines_newest_first_over_the_raw_window() {
    // n = 3 over 0.1, 0.1, 0.1, 1.1. After three inputs s = 0.30000000000000004 with a
    // compensation c ≈ 2.8e-17 ≠ 0. On the fourth input v = 1.1: b = |c| is below half an
    // ulp of 1.1, so r = v + b = 1.1, r − v = 0 and b − 0 > 0: the machine fires and
    // rebuilds the sum newest first from the raw window: 0.1 + (0.1 + 1.1) =
    // 0.1 + 1.2000000000000002 = 1.3000000000000003. (Without the fire the compensated
    // update gives 1.3, and so does the oldest-first sum (0.1 + 0.1) + 1.1.)
    let x = [0.1, 0.1, 0.1, 1.1];
    let got = math_sum(&x, 3);
    assert!(same(&got, &[NAN, NAN, 0.30000000000000004, 1.3000000000000003]), "{got:?}");
    assert_eq!(0.1 + (0.1 + 1.1), 1.3000000000000003);
    assert_eq!((0.1 + 0.1) + 1.1, 1.3);
    // The naive restatement agrees, and the stored entry of the fired bar is the raw v:
    // evicting it later removes exactly 1.1.
    let longer = [0.1, 0.1, 0.1, 1.1, 2.0, 3.0, 5.0];
    assert!(same(&math_sum(&longer, 3), &common::math_sum(&longer, 3)));
}

#[test]
fn na_inputs_are_skipped_and_length_one_is_the_input() {
    // na during the warm-up: output na, the state untouched; after it: the current sum.
    let got = math_sum(&[NAN, 1.0, NAN, 2.0, 4.0, NAN, 8.0], 2);
    assert!(same(&got, &[NAN, NAN, NAN, 3.0, 6.0, 6.0, 12.0]), "{got:?}");
    let x = [3.5, 0.1, NAN, 7.25];
    assert!(same(&math_sum(&x, 1), &x));
}

#[test]
fn machine_matches_the_naive_restatement_and_every_lane() {
    // Random walks (fires happen on ≈ 0.3 % of inputs) and cent prices.
    for (seed, n) in [(1u64, 2usize), (2, 5), (3, 28), (4, 100)] {
        let x = walk(3000, seed, 0.04);
        assert!(same(&math_sum(&x, n), &common::math_sum(&x, n)), "walk {seed} n={n}");
        let cents: Vec<f64> = x.iter().map(|p| (p * 100.0).round() / 100.0).collect();
        assert!(same(&math_sum(&cents, n), &common::math_sum(&cents, n)), "cents {seed} n={n}");
    }
    fn lanes<V: Simd>() {
        let series: Vec<Vec<f64>> = (0..V::LANES).map(|l| walk(2000, 40 + l as u64, 0.05)).collect();
        let il = common::interleave(&series);
        let lens = [2, 3, 5, 9, 28, 1, 40, 7, 13];
        let mut m = MathSum::<V>::new(&lens);
        let mut rows = vec![vec![vec![]; 9]; V::LANES];
        for t in 0..2000 {
            let v = unsafe { _native::simd::load_at::<V>(&il, t) };
            for k in 0..9 {
                let s = unsafe { m.push(k, v, &Bars(&il), t) };
                let mut a = [0.0; 8];
                unsafe { s.store(a.as_mut_ptr()) };
                for l in 0..V::LANES {
                    rows[l][k].push(if t + 1 >= lens[k] { a[l] } else { NAN });
                }
            }
        }
        for l in 0..V::LANES {
            for k in 0..9 {
                assert!(same(&rows[l][k], &common::math_sum(&series[l], lens[k])), "lane {l} n={}", lens[k]);
            }
        }
    }
    at_every_width!(lanes);
}

// ---------------------------------------------------------------------------------------
// Exact WMA / LINREG over bars (the detail path).

fn check_bars<V: Simd>() {
    let x = walk(1000, 9, 0.03);
    for n in [1usize, 2, 3, 7, 22, 28, 34, 130] {
        for (t0, t1) in [(0, 1000), (5, 37), (300, 301), (990, 1000)] {
            let mut w = vec![0.0; t1 - t0];
            let mut l = vec![0.0; t1 - t0];
            wma_bars::<V>(&x, n, t0, t1, &mut w);
            lsma_bars::<V>(&x, n, t0, t1, &mut l);
            assert!(same(&w, &common::wma(&x, n)[t0..t1]), "wma n={n} {t0}..{t1}");
            assert!(same(&l, &common::lsma(&x, n)[t0..t1]), "lsma n={n} {t0}..{t1}");
            let (mut w2, mut l2) = (vec![0.0; t1 - t0], vec![0.0; t1 - t0]);
            wma_lsma_bars::<V>(&x, n, t0, t1, &mut w2, &mut l2);
            assert!(same(&w2, &w) && same(&l2, &l), "one pass n={n} {t0}..{t1}");
        }
    }
    // The Hull MA's three WMAs re-summed on every bar, any bar range (a range starting
    // mid-series needs the raw values of the outer window before it).
    let cents: Vec<f64> = x.iter().map(|v| (v * 100.0).round() / 100.0).collect();
    let mut scratch = Vec::new();
    for src in [&x, &cents] {
        for n in [1usize, 2, 3, 4, 9, 16, 28, 60, 130] {
            let want = common::hull(src, n);
            for (t0, t1) in [(0, 1000), (5, 37), (300, 301), (990, 1000), (0, 3), (500, 500)] {
                let mut h = vec![0.0; t1 - t0];
                hull_bars::<V>(src, n, t0, t1, &mut scratch, &mut h);
                assert!(same(&h, &want[t0..t1]), "hull n={n} {t0}..{t1}");
            }
        }
    }
}

#[test]
fn exact_wma_linreg_and_hull_over_bars_are_section_4_8() {
    at_every_width!(check_bars);
}

// ---------------------------------------------------------------------------------------
// Running sums decided exactly in the band of the close.

/// Kernel `K` over `series` in one call.
fn run<V: Simd, K: MaKernel<V>>(ma: K, series: &[Vec<f64>]) -> Rows {
    run_kernel::<V, K>(ma, series, &[])
}

/// A low-priced walk rounded to cents: flat stretches and short regressions put SMAs,
/// WMAs, LSMAs and Hull MAs exactly on the close.
fn cent_walk(n: usize, seed: u64) -> Vec<f64> {
    walk(n, seed, 0.01).iter().map(|p| (p * 3.0).round() / 100.0).collect()
}

type RefMa = fn(&[f64], usize) -> Vec<f64>;

/// Every MA lands on the same side of the close as the §4.8 value (ties included) and
/// stays within 1e-12 of it (the SMA is the exact value); returns how many exact ties
/// members longer than 2 have.
fn check_ties<V: Simd>(lengths: &[usize; 9], series: &[Vec<f64>]) -> [usize; 4] {
    let bars = series[0].len();
    let got: [(&str, RefMa, Rows); 4] = [
        ("sma", common::sma, run::<V, _>(Sma::<V>::new(lengths), series)),
        ("wma", common::wma, run::<V, _>(Wma::<V>::new(lengths), series)),
        ("lsma", common::lsma, run::<V, _>(Lsma::<V>::new(lengths), series)),
        ("hull", common::hull, run::<V, _>(Hull::<V>::new(lengths, bars, Vec::new()), series)),
    ];
    let mut ties = [0; 4];
    for (f, (name, reference, rows)) in got.iter().enumerate() {
        for (l, x) in series.iter().enumerate() {
            for (k, &n) in lengths.iter().enumerate() {
                let want = reference(x, n);
                for t in 0..x.len() {
                    let (g, w, c) = (rows[l][k][t], want[t], x[t]);
                    let what = format!("{name}({n}) lane {l} bar {t}: got {g:e}, want {w:e}, close {c}");
                    assert_eq!(w.is_nan(), g.is_nan(), "{what}");
                    if w.is_nan() {
                        continue;
                    }
                    assert_eq!(g.partial_cmp(&c), w.partial_cmp(&c), "{what}");
                    if f == 0 {
                        assert_eq!(g, w, "{what}");
                    }
                    assert!((g - w).abs() <= 1e-12 * w.abs(), "{what}");
                    ties[f] += usize::from(w == c && n > 2);
                }
            }
        }
    }
    ties
}

const CENT_LENGTHS: [usize; 9] = [28, 31, 33, 35, 37, 25, 3, 2, 1];
const CENT_BARS: usize = 2600; // past several re-sums of the running sums

#[test]
fn cent_prices_tie_with_the_close_as_section_4_8_scalar() {
    let ties = check_ties::<f64>(&CENT_LENGTHS, &[cent_walk(CENT_BARS, 41)]);
    // Members longer than 2 must tie often, or this proves little (SMA 25, WMA 158,
    // LSMA 192 and Hull 153 times).
    for (f, (&n, want)) in ties.iter().zip([20, 100, 100, 100]).enumerate() {
        assert!(n >= want, "family {f}: only {n} ties");
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn cent_prices_tie_with_the_close_as_section_4_8_vector() {
    use _native::simd::F64x2;
    let series: Vec<_> = (0..8).map(|i| cent_walk(CENT_BARS, 50 + i)).collect();
    check_ties::<F64x2>(&CENT_LENGTHS, &series[..2]);
    if std::is_x86_feature_detected!("avx2") {
        use _native::simd::F64x4;
        check_ties::<F64x4>(&CENT_LENGTHS, &series[..4]);
    }
    if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512dq") {
        use _native::simd::F64x8;
        check_ties::<F64x8>(&CENT_LENGTHS, &series);
    }
}

/// Members' crossover states (§5) over one member's MA row, close = `x`.
fn states(x: &[f64], ma: &[f64]) -> Vec<f64> {
    let mut m = Members::<f64>::new();
    let mut cp = f64::NAN;
    let mut out = vec![];
    for (t, &c) in x.iter().enumerate() {
        let mut row = [f64::NAN; 9];
        row[0] = ma[t];
        m.bar(&row, c, cp, f64::NAN, Phase::Before, 1.0);
        out.push(m.state[0]);
        cp = c;
    }
    out
}

/// A flat stretch after a move: the exact WMA of the flat window equals the close, while
/// the running sums (which carried the earlier values) are off by a few ulps. The kernel
/// must report the tie, and no crossing on it.
#[test]
fn a_tie_missed_by_the_running_sum_is_recomputed() {
    let mut wma_x = vec![3.04; 12];
    wma_x[0] = 2.99;
    wma_x[1] = 3.17;
    let lsma_x = vec![2.98, 2.97, 2.96, 2.96, 2.97, 2.96, 2.94, 2.93, 2.91, 2.9, 2.92, 2.9];
    for (name, n, reference, x) in
        [("wma", 9, common::wma as RefMa, wma_x), ("lsma", 11, common::lsma as RefMa, lsma_x)]
    {
        let series = std::slice::from_ref(&x);
        let rows = match name {
            "wma" => run::<f64, _>(Wma::<f64>::new(&[n; 9]), series),
            _ => run::<f64, _>(Lsma::<f64>::new(&[n; 9]), series),
        };
        let (got, want) = (&rows[0][0], reference(&x, n));
        let s = states(&x, got);
        assert_eq!(s, states(&x, &want), "{name}: crossover states");
        for t in 0..x.len() {
            if want[t] == x[t] {
                assert_eq!(got[t], x[t], "{name} bar {t}: the kernel ties");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The machine with the nine members as lanes (single series).

fn check_across<V: Simd>() {
    use _native::across::{KamaAcross, SmaAcross};
    for (seed, lens) in [(61u64, [28usize, 29, 30, 32, 34, 27, 26, 24, 22]), (62, [5, 1, 2, 3, 90, 4, 130, 7, 2])] {
        let walk = walk(4000, seed, 0.04);
        let cents: Vec<f64> = walk.iter().map(|p| (p * 100.0).round() / 100.0).collect();
        for x in [walk, cents] {
            let (mut sma, mut kama) = (SmaAcross::new(&lens), KamaAcross::new(&lens));
            let mut rows = vec![vec![vec![]; 9]; 2];
            for t in 0..x.len() {
                let (mut a, mut b) = ([0.0; 9], [0.0; 9]);
                sma.step::<V>(&x, t, &mut a);
                kama.step::<V>(&x, t, &mut b);
                for k in 0..9 {
                    rows[0][k].push(a[k]);
                    rows[1][k].push(b[k]);
                }
            }
            for (k, &n) in lens.iter().enumerate() {
                assert!(same(&rows[0][k], &common::sma(&x, n)), "sma n={n} seed {seed}");
                assert!(same(&rows[1][k], &common::kama(&x, n)), "kama n={n} seed {seed}");
            }
        }
    }
}

#[test]
fn members_as_lanes_are_the_machine_bit_for_bit() {
    at_every_width!(check_across);
}
