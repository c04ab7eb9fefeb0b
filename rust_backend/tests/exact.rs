//! Window sums in numpy's order, and MAs that tie with the close exactly as the reference.

mod common;

use _native::exact::{pairwise_sum, pairwise_sum_slice, seq_dot, seq_dot_slice, Bars, Steps};
use _native::family::{Members, Phase};
use _native::ma::{Hull, Lsma, MaKernel, Sma, Wma};
use _native::simd::Simd;
use common::{run_kernel, walk, Rows};

/// The test series of the numpy literals below:
/// `x = np.array([((i * 7919) % 1009) / 97.0 + 1.0 / (i + 1) for i in range(2100)])`
/// (one division and one addition per term, so Rust and Python produce the same doubles).
fn numpy_series() -> Vec<f64> {
    (0..2100).map(|i| ((i * 7919) % 1009) as f64 / 97.0 + 1.0 / (i + 1) as f64).collect()
}

/// (lo, n, Σ, Σ i·x, Σ (i+1)·x) over the window `x[lo : lo + n]`, computed with numpy 2.4.6
/// exactly as the reference sums its windows:
/// `win = sliding_window_view(x[lo : lo + n + 1], n)`, then `repr` of
/// `win.sum(axis=1)[0]`, `(win @ np.arange(n, dtype=np.float64))[0]` and
/// `(win @ np.arange(1, n + 1, dtype=np.float64))[0]`.
const NUMPY_WINDOWS: [(usize, usize, f64, f64, f64); 11] = [
    (0, 5, 28.118384879725085, 59.41769759450172, 87.5360824742268),
    (0, 8, 41.76940353460972, 148.52956553755524, 190.29896907216494),
    (0, 13, 67.38631932214406, 388.8404848015673, 456.22680412371136),
    (0, 127, 668.7243036647543, 41812.43033551052, 42481.15463917524),
    (0, 128, 676.4537656492902, 42794.0720075466, 43470.52577319586),
    (0, 129, 682.6058474841818, 43581.53848241274, 44264.144329896895),
    (0, 300, 1568.2311174885467, 233700.00599591364, 235268.23711340205),
    (0, 1000, 5210.351450241994, 2599929.112467282, 2605139.463917526),
    (0, 2007, 10441.367428131372, 10464764.271747125, 10475205.63917527),
    (37, 129, 670.7999046040109, 42965.16032607852, 43635.960230682525),
    (37, 300, 1552.1662674821382, 231551.02204186417, 233103.18830934647),
];

#[test]
fn pairwise_sum_is_numpys_order() {
    let x = numpy_series();
    let mut differs_from_sequential = 0;
    for (lo, n, sum, dot0, dot1) in NUMPY_WINDOWS {
        let w = &x[lo..lo + n];
        assert_eq!(pairwise_sum_slice(w), sum, "sum of x[{lo}..+{n}]");
        assert_eq!(seq_dot_slice(w, 0), dot0, "dot 0.. of x[{lo}..+{n}]");
        assert_eq!(seq_dot_slice(w, 1), dot1, "dot 1.. of x[{lo}..+{n}]");
        // SAFETY: lo + n ≤ x.len().
        unsafe {
            assert_eq!(pairwise_sum::<f64, _>(&Bars(&x), lo, n), sum, "sum of bars {lo}..+{n}");
            assert_eq!(seq_dot::<f64, _>(&Bars(&x), lo, n, 1), dot1, "dot of bars {lo}..+{n}");
        }
        let sequential = w.iter().fold(0.0, |a, &v| a + v);
        differs_from_sequential += usize::from(sequential != sum);
    }
    // The literals tell the orders apart (127, 129, 300, 1000 and 2007 terms differ).
    assert!(differs_from_sequential >= 5);
}

/// Window sums of every lane of an interleaved series, lane `l` of bar `j` at
/// `x[j * LANES + l]`: the series of the literals in one lane, others elsewhere.
fn check_lanes<V: Simd>() {
    let x = numpy_series();
    let lanes = V::LANES;
    let mut il = vec![0.0; x.len() * lanes];
    for (j, &v) in x.iter().enumerate() {
        for l in 0..lanes {
            il[j * lanes + l] = if l == lanes / 2 { v } else { 1e6 + (j * (l + 1)) as f64 };
        }
    }
    let lane = |v: V| {
        let mut a = [0.0; 8];
        unsafe { v.store(a.as_mut_ptr()) };
        a[lanes / 2]
    };
    for (lo, n, sum, dot0, dot1) in NUMPY_WINDOWS {
        // SAFETY: lo + n ≤ bars.
        unsafe {
            assert_eq!(lane(pairwise_sum::<V, _>(&Bars(&il), lo, n)), sum);
            assert_eq!(lane(seq_dot::<V, _>(&Bars(&il), lo, n, 0)), dot0);
            assert_eq!(lane(seq_dot::<V, _>(&Bars(&il), lo, n, 1)), dot1);
        }
    }
    // KAMA's noise: the pairwise sum of |x[j] − x[j−1]| over j = first … first + n − 1.
    let steps: Vec<f64> = (1..x.len()).map(|j| (x[j] - x[j - 1]).abs()).collect();
    for (first, n) in [(1, 7), (1, 128), (5, 129), (100, 1500)] {
        // SAFETY: 1 ≤ first, first + n ≤ bars.
        let got = unsafe { pairwise_sum::<V, _>(&Steps(&il), first, n) };
        assert_eq!(lane(got), pairwise_sum_slice(&steps[first - 1..first - 1 + n]));
    }
}

#[test]
fn window_sums_are_numpys_in_every_lane() {
    check_lanes::<f64>();
    #[cfg(target_arch = "x86_64")]
    {
        use _native::simd::{F64x2, F64x4, F64x8};
        check_lanes::<F64x2>();
        if std::is_x86_feature_detected!("avx2") {
            check_lanes::<F64x4>();
        }
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512dq") {
            check_lanes::<F64x8>();
        }
    }
}

// ---------------------------------------------------------------------------------------
// The reference's MAs (core/atc/moving_averages.py) in its order of operations.

fn window(x: &[f64], t: usize, n: usize) -> Option<&[f64]> {
    (t + 1 >= n).then(|| &x[t + 1 - n..=t])
}

fn sma_ref(x: &[f64], n: usize) -> Vec<f64> {
    (0..x.len()).map(|t| window(x, t, n).map_or(f64::NAN, |w| pairwise_sum_slice(w) / n as f64)).collect()
}

fn wma_ref(x: &[f64], n: usize) -> Vec<f64> {
    let div = n as f64 * (n + 1) as f64 / 2.0;
    (0..x.len()).map(|t| window(x, t, n).map_or(f64::NAN, |w| seq_dot_slice(w, 1) / div)).collect()
}

fn lsma_ref(x: &[f64], n: usize) -> Vec<f64> {
    if n == 1 {
        return x.to_vec();
    }
    let nf = n as f64;
    let pos: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let sum_p = pairwise_sum_slice(&pos);
    let sum_pp = pairwise_sum_slice(&pos.iter().map(|p| p * p).collect::<Vec<_>>());
    (0..x.len())
        .map(|t| {
            window(x, t, n).map_or(f64::NAN, |w| {
                let sum_y = pairwise_sum_slice(w);
                let sum_py = seq_dot_slice(w, 0);
                let slope = (nf * sum_py - sum_p * sum_y) / (nf * sum_pp - sum_p * sum_p);
                let intercept = (sum_y - slope * sum_p) / nf;
                intercept + slope * (nf - 1.0)
            })
        })
        .collect()
}

fn hull_ref(x: &[f64], n: usize) -> Vec<f64> {
    let half = (n / 2).max(1);
    let root = ((n as f64).sqrt().floor() as usize).max(1);
    let (a, b) = (wma_ref(x, half), wma_ref(x, n));
    let raw: Vec<f64> = a.iter().zip(&b).map(|(a, b)| 2.0 * a - b).collect();
    // A window holding na is na.
    wma_ref(&raw, root)
}

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

/// Every MA lands on the same side of the close as the reference's (ties included) and
/// stays within 1e-12 of it; returns how many exact ties the reference has on members
/// longer than 2 (shorter ones tie by construction).
fn check_ties<V: Simd>(lengths: &[usize; 9], series: &[Vec<f64>]) -> [usize; 4] {
    let bars = series[0].len();
    let got: [(&str, RefMa, Rows); 4] = [
        ("sma", sma_ref, run::<V, _>(Sma::<V>::new(lengths), series)),
        ("wma", wma_ref, run::<V, _>(Wma::<V>::new(lengths), series)),
        ("lsma", lsma_ref, run::<V, _>(Lsma::<V>::new(lengths), series)),
        ("hull", hull_ref, run::<V, _>(Hull::<V>::new(lengths, bars, Vec::new()), series)),
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
                    assert!((g - w).abs() <= 1e-12 * w.abs(), "{what}");
                    ties[f] += usize::from(w == c && n > 2);
                }
            }
        }
    }
    ties
}

const CENT_LENGTHS: [usize; 9] = [28, 31, 33, 35, 37, 25, 3, 2, 1];
const CENT_BARS: usize = 2600; // past two re-summations (bars 1024 and 2048)

#[test]
fn cent_prices_tie_with_the_close_as_the_reference_scalar() {
    let ties = check_ties::<f64>(&CENT_LENGTHS, &[cent_walk(CENT_BARS, 41)]);
    // Members longer than 2 must tie often (SMA 258, WMA 158, LSMA 241 and Hull 153
    // times), or this proves little.
    for (f, &n) in ties.iter().enumerate() {
        assert!(n >= 100, "family {f}: only {n} ties");
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn cent_prices_tie_with_the_close_as_the_reference_vector() {
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

/// Hand-picked cases where a running window sum misses an exact tie with the close by a
/// few ulps (2.9499999999999993 for the SMA, 3.0400000000000005 for the WMA,
/// 2.9000000000000012 for the LSMA, found by replaying the running updates in Python)
/// while the reference's direct sums land exactly on it. The last bar must be a tie, with
/// the reference's crossover states: for the SMA and the WMA the close was on one side of
/// the MA the bar before, and a tie is no crossing (a running value would cross).
#[test]
fn a_tie_missed_by_the_running_sum_is_recomputed() {
    let mut sma_x = vec![2.95; 10];
    sma_x[0] = 2.98;
    let mut wma_x = vec![3.04; 10];
    wma_x[0] = 2.99;
    let lsma_x = vec![2.98, 2.97, 2.96, 2.96, 2.97, 2.96, 2.94, 2.93, 2.91, 2.9, 2.92, 2.9];
    let cases: [(&str, usize, RefMa, Vec<f64>); 3] =
        [("sma", 9, sma_ref, sma_x), ("wma", 9, wma_ref, wma_x), ("lsma", 11, lsma_ref, lsma_x)];
    for (name, n, reference, x) in cases {
        let series = std::slice::from_ref(&x);
        let rows = match name {
            "sma" => run::<f64, _>(Sma::<f64>::new(&[n; 9]), series),
            "wma" => run::<f64, _>(Wma::<f64>::new(&[n; 9]), series),
            _ => run::<f64, _>(Lsma::<f64>::new(&[n; 9]), series),
        };
        let (got, want) = (&rows[0][0], reference(&x, n));
        let last = x.len() - 1;
        assert_eq!(want[last], x[last], "{name}: the reference ties");
        assert_eq!(got[last], x[last], "{name}: the kernel ties");
        let s = states(&x, got);
        assert_eq!(s, states(&x, &want), "{name}: crossover states");
        if name != "lsma" {
            assert_eq!(s[last], 0.0, "{name}: a tie is no crossing");
        }
    }
}
