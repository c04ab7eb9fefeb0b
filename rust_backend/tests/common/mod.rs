//! Naive, bar-by-bar restatements of the spec for the kernel tests: direct window sums,
//! no running state beyond what the spec itself keeps.
#![allow(dead_code)]

use _native::ma::{drive, BarSink, MaKernel};
use _native::params::{HmaKind, Params};
use _native::simd::Simd;

pub const NAN: f64 = f64::NAN;

/// A positive random walk (xorshift noise), deterministic per seed.
pub fn walk(n: usize, seed: u64, vol: f64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut p = 100.0f64;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            p *= (vol * u).exp();
            p
        })
        .collect()
}

/// `math.sum(x, n)` of spec §4.8, restated literally (raw inputs kept in a list, the
/// realised addends in a ring indexed by the input count): na inputs skipped.
// The re-baseline is written `x_prev + acc` as in the spec.
#[allow(clippy::assign_op_pattern)]
pub fn math_sum(x: &[f64], n: usize) -> Vec<f64> {
    if n == 1 {
        return x.to_vec();
    }
    let mut out = vec![NAN; x.len()];
    let mut stored = vec![0.0; n];
    let mut raw: Vec<f64> = vec![];
    let (mut s, mut c, mut k) = (0.0f64, 0.0f64, 0usize);
    for (t, &v) in x.iter().enumerate() {
        if v.is_nan() {
            if k == n {
                out[t] = s;
            }
            continue;
        }
        let mut fire = false;
        if c != 0.0 && v != 0.0 {
            let b = c.abs();
            let r = v + b;
            if r != 0.0 && r.is_finite() {
                fire = (b - (r - v)) > 0.0;
            }
        }
        raw.push(v);
        let slot = (raw.len() - 1) % n;
        let y1 = if k < n {
            k += 1;
            -c
        } else {
            -stored[slot] - c
        };
        if fire {
            let mut acc = v;
            for back in 2..=k {
                acc = raw[raw.len() - back] + acc;
            }
            s = acc;
            c = 0.0;
            stored[slot] = v;
        } else {
            let tmp = s + y1;
            let e1 = (tmp - s) - y1;
            let y2 = v - e1;
            let s2 = tmp + y2;
            c = (s2 - tmp) - y2;
            s = s2;
            stored[slot] = y2;
        }
        if k == n {
            out[t] = s;
        }
    }
    out
}

pub fn sma(x: &[f64], n: usize) -> Vec<f64> {
    math_sum(x, n).iter().map(|s| s / n as f64).collect()
}

/// `ta.ema`: na skipped, seeded with `ta.sma` on the bar it first exists.
pub fn ema(x: &[f64], n: usize) -> Vec<f64> {
    let alpha = 2.0 / (n + 1) as f64;
    let seed = sma(x, n);
    let mut y = NAN;
    x.iter()
        .zip(&seed)
        .map(|(&v, &sd)| {
            if v.is_nan() {
                return NAN;
            }
            y = if y.is_nan() { sd } else { y + alpha * (v - y) };
            y
        })
        .collect()
}

fn window(x: &[f64], t: usize, n: usize) -> Option<&[f64]> {
    (t + 1 >= n).then(|| &x[t + 1 - n..=t])
}

fn index_sum(n: usize) -> f64 {
    let mut s = 0.0;
    for i in 1..=n {
        s += i as f64;
    }
    s
}

/// `ta.wma` of §4.8: the window re-summed oldest first with w = 1, 2, …
pub fn wma(x: &[f64], n: usize) -> Vec<f64> {
    let norm = index_sum(n);
    (0..x.len())
        .map(|t| {
            window(x, t, n).map_or(NAN, |win| {
                let (mut w, mut acc) = (0.0, 0.0);
                for &y in win {
                    w += 1.0;
                    acc += y * w;
                }
                acc / norm
            })
        })
        .collect()
}

pub fn dema(x: &[f64], n: usize) -> Vec<f64> {
    let e1 = ema(x, n);
    let e2 = ema(&e1, n);
    e1.iter().zip(&e2).map(|(a, b)| 2.0 * a - b).collect()
}

/// `ta.linreg(x, n, 0)` of §4.8.
pub fn lsma(x: &[f64], n: usize) -> Vec<f64> {
    if n == 1 {
        return x.to_vec();
    }
    let nf = n as f64;
    let sx = index_sum(n);
    let mut sx2 = 0.0;
    for i in 1..=n {
        sx2 += (i * i) as f64;
    }
    let den = nf * sx2 - sx * sx;
    (0..x.len())
        .map(|t| {
            window(x, t, n).map_or(NAN, |win| {
                let (mut sy, mut sxy) = (0.0, 0.0);
                for (i, &y) in win.iter().enumerate() {
                    sy += y;
                    sxy += y * (i + 1) as f64;
                }
                let slope = (nf * sxy - sx * sy) / den;
                let avg = sy / nf;
                let intercept = (avg - (slope * sx) / nf) + slope;
                intercept + slope * (nf - 1.0)
            })
        })
        .collect()
}

/// The script's KAMA: noise through `math.sum` (bar 0's step na), `noise != 0` tolerant.
pub fn kama(x: &[f64], n: usize) -> Vec<f64> {
    let steps: Vec<f64> = (0..x.len()).map(|t| if t == 0 { NAN } else { (x[t] - x[t - 1]).abs() }).collect();
    let noise = math_sum(&steps, n);
    let mut prev = 0.0;
    (0..x.len())
        .map(|t| {
            let nz = noise[t];
            let ratio = if !nz.is_nan() && (nz - 0.0).abs() > 1e-10 { (x[t] - x[t - n]).abs() / nz } else { 0.0 };
            let sc = ratio * (0.666 - 0.064) + 0.064;
            prev = prev + sc * sc * (x[t] - prev);
            prev
        })
        .collect()
}

pub fn hull(x: &[f64], n: usize) -> Vec<f64> {
    let half = (n / 2).max(1);
    let root = ((n as f64).sqrt().floor() as usize).max(1);
    let (a, b) = (wma(x, half), wma(x, n));
    let raw: Vec<f64> = a.iter().zip(&b).map(|(a, b)| 2.0 * a - b).collect();
    // A window containing na is na.
    wma(&raw, root)
}

pub fn family_ma(f: usize, kind: HmaKind) -> fn(&[f64], usize) -> Vec<f64> {
    match f {
        0 => ema,
        1 if kind == HmaKind::Hull => hull,
        1 => sma,
        2 => wma,
        3 => dema,
        4 => lsma,
        _ => kama,
    }
}

fn round2(v: f64) -> f64 {
    let a = v.abs() * 100.0;
    let mut u = a.floor();
    if a - u >= 0.5 - 1e-10 {
        u += 1.0;
    }
    let sign = if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        v
    };
    sign * u / 100.0
}

fn cross_up(a: f64, ap: f64, b: f64, bp: f64) -> bool {
    a > b && ap <= bp
}

fn cross_down(a: f64, ap: f64, b: f64, bp: f64) -> bool {
    a < b && ap >= bp
}

/// eq(start, sig, R) of spec §6.
fn equity(start: f64, sig: &[f64], rg: &[f64], cutout: usize, decay: f64) -> Vec<f64> {
    let (mut a, mut e) = (0.0, NAN);
    (0..sig.len())
        .map(|t| {
            if t < cutout {
                return NAN;
            }
            let p = if t >= 1 { sig[t - 1] } else { NAN };
            // Pine's tolerant comparisons (|a − b| ≤ 1e-10 is equal).
            if p > 0.0 && p.abs() > 1e-10 {
                a = rg[t];
            } else if p < 0.0 && p.abs() > 1e-10 {
                a = -rg[t];
            }
            e = if t == cutout { start } else { e * decay * (1.0 + a) };
            if e < 0.25 && (e - 0.25).abs() > 1e-10 {
                e = 0.25;
            }
            e
        })
        .collect()
}

/// Every output of the spec, computed the slow way.
pub struct Naive {
    pub mas: Vec<Vec<f64>>,
    pub states: Vec<Vec<f64>>,
    pub equities: Vec<Vec<f64>>,
    pub signals: Vec<Vec<f64>>,
    pub fs: Vec<Vec<f64>>,
    pub average: Vec<f64>,
    pub base: Vec<f64>,
    pub direction: Vec<f64>,
    pub arrow_long: Vec<bool>,
    pub arrow_short: Vec<bool>,
    pub long: Vec<bool>,
    pub short: Vec<bool>,
}

pub fn naive_atc(close: &[f64], src: Option<&[f64]>, p: &Params, families: usize) -> Naive {
    let n = close.len();
    let x = src.unwrap_or(close);
    let decay = 1.0 - p.delta;
    let rg: Vec<f64> = (0..n)
        .map(|t| {
            if t == 0 || t < p.cutout {
                NAN
            } else {
                let g = std::f64::consts::E.powf(p.lam * (t - p.cutout) as f64);
                (close[t] - close[t - 1]) / close[t - 1] * g
            }
        })
        .collect();
    let (mut mas, mut states, mut equities, mut signals, mut fs) = (vec![], vec![], vec![], vec![], vec![]);
    for f in 0..families {
        let ma_of = family_ma(f, p.hma_kind);
        let (mut num, mut den) = (vec![0.0; n], vec![0.0; n]);
        for m in 0..9 {
            let ma = ma_of(x, p.lengths[f][m]);
            let mut s = 0.0;
            let st: Vec<f64> = (0..n)
                .map(|t| {
                    if t >= 1 && cross_up(close[t], close[t - 1], ma[t], ma[t - 1]) {
                        s = 1.0;
                    }
                    if t >= 1 && cross_down(close[t], close[t - 1], ma[t], ma[t - 1]) {
                        s = -1.0;
                    }
                    s
                })
                .collect();
            let eq = equity(1.0, &st, &rg, p.cutout, decay);
            for t in 0..n {
                if m == 0 {
                    num[t] = st[t] * eq[t];
                    den[t] = eq[t];
                } else {
                    num[t] += st[t] * eq[t];
                    den[t] += eq[t];
                }
            }
            mas.push(ma);
            states.push(st);
            equities.push(eq);
        }
        let sig: Vec<f64> = (0..n).map(|t| round2(num[t] / den[t])).collect();
        fs.push(equity(p.weights[f], &sig, &rg, p.cutout, decay));
        signals.push(sig);
    }
    let cut = |v: f64| {
        if v > p.cut_threshold && (v - p.cut_threshold).abs() > 1e-10 {
            1.0
        } else if v < -p.cut_threshold && (v + p.cut_threshold).abs() > 1e-10 {
            -1.0
        } else {
            0.0
        }
    };
    let average: Vec<f64> = (0..n)
        .map(|t| {
            if families < 6 {
                return NAN;
            }
            let mut num = cut(signals[0][t]) * fs[0][t];
            let mut den = fs[0][t];
            for f in 1..6 {
                num += cut(signals[f][t]) * fs[f][t];
                den += fs[f][t];
            }
            num / den
        })
        .collect();
    let pick = |i: usize| {
        if families < 6 {
            signals[0].clone()
        } else if i == 0 {
            average.clone()
        } else {
            signals[i - 1].clone()
        }
    };
    let cols = pick(p.colbase);
    let alertb = pick(p.alertbase);
    let base: Vec<f64> =
        if p.strategy { (0..n).map(|t| if t == 0 { NAN } else { cols[t - 1] }).collect() } else { cols };
    let (lt, st) = (p.long_threshold, p.short_threshold);
    let mut direction = vec![NAN; n];
    let (mut arrow_long, mut arrow_short, mut long, mut short) =
        (vec![false; n], vec![false; n], vec![false; n], vec![false; n]);
    let mut d = NAN;
    for t in 0..n {
        let prev = |v: &Vec<f64>| if t == 0 { NAN } else { v[t - 1] };
        let up = cross_up(base[t], prev(&base), lt, lt);
        let down = cross_down(base[t], prev(&base), st, st);
        let aup = cross_up(alertb[t], prev(&alertb), lt, lt);
        let adown = cross_down(alertb[t], prev(&alertb), st, st);
        let was = d;
        if up {
            d = 1.0;
        }
        if down {
            d = -1.0;
        }
        direction[t] = d;
        arrow_long[t] = was == -1.0 && up;
        arrow_short[t] = was == 1.0 && down;
        long[t] = was == -1.0 && aup;
        short[t] = was == 1.0 && adown;
    }
    Naive { mas, states, equities, signals, fs, average, base, direction, arrow_long, arrow_short, long, short }
}

/// Continuous comparison: |a − b| ≤ tol·max(1, |b|), NaN only against NaN.
pub fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || (g - w).abs() <= tol * w.abs().max(1.0);
        assert!(ok, "{what}: bar {i}: got {g}, want {w}");
    }
}

/// Discrete comparison: exactly equal, NaN only against NaN.
pub fn assert_same(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g.is_nan() && w.is_nan()) || g == w, "{what}: bar {i}: got {g}, want {w}");
    }
}

/// Values per lane, member and bar.
pub type Rows = Vec<Vec<Vec<f64>>>;

/// Collects every member's values, lane by lane.
pub struct Collect<V: Simd> {
    pub rows: Rows,
    _v: std::marker::PhantomData<V>,
}

impl<V: Simd> BarSink<V> for Collect<V> {
    fn bar(&mut self, _t: usize, ma: &[V; 9]) {
        for (k, v) in ma.iter().enumerate() {
            let mut lanes = vec![0.0; V::LANES];
            unsafe { v.store(lanes.as_mut_ptr()) };
            for (l, x) in lanes.into_iter().enumerate() {
                self.rows[l][k].push(x);
            }
        }
    }
}

/// One series per lane, interleaved bar by bar.
pub fn interleave(series: &[Vec<f64>]) -> Vec<f64> {
    let (lanes, n) = (series.len(), series[0].len());
    let mut x = vec![0.0; n * lanes];
    for (l, s) in series.iter().enumerate() {
        for t in 0..n {
            x[t * lanes + l] = s[t];
        }
    }
    x
}

/// Kernel `K` over `series` (one per lane, each its own close), driven in calls that stop
/// at each bar of `cuts` (the kernels must resume exactly where they stopped); returns
/// [lane][member][bar].
pub fn run_kernel<V: Simd, K: MaKernel<V>>(mut ma: K, series: &[Vec<f64>], cuts: &[usize]) -> Rows {
    assert_eq!(series.len(), V::LANES);
    let x = interleave(series);
    let n = series[0].len();
    let mut sink = Collect::<V> { rows: vec![vec![vec![]; 9]; V::LANES], _v: Default::default() };
    let mut b0 = 0;
    for &b1 in cuts.iter().chain(std::iter::once(&n)) {
        drive(&mut ma, &x, &x, b0, b1, &mut sink);
        b0 = b1;
    }
    sink.rows
}

/// Parameter sets every driver test runs: the defaults, short lengths with a cutout and
/// weights, the Hull option with Strategy View and other bases, a Cut threshold, and a
/// cutout beyond the data.
pub fn configs() -> Vec<(&'static str, Params)> {
    let d = Params::default();
    let narrow = [10, 11, 12, 13, 14, 9, 8, 7, 6];
    vec![
        ("default", d.clone()),
        (
            "narrow_cutout_weights",
            Params {
                lengths: [narrow, [5, 6, 7, 8, 9, 4, 3, 2, 1], narrow, narrow, [5, 6, 7, 8, 9, 4, 3, 2, 1], narrow],
                weights: [0.0, 2.0, 1.0, 0.5, 3.0, 1.0],
                lam: 0.00031,
                delta: 0.002,
                cutout: 57,
                long_threshold: 0.3,
                short_threshold: -0.05,
                ..d.clone()
            },
        ),
        (
            "hull_strategy_bases",
            Params { hma_kind: HmaKind::Hull, strategy: true, colbase: 6, alertbase: 2, ..d.clone() },
        ),
        ("cut_threshold", Params { cut_threshold: 0.1, colbase: 0, alertbase: 4, ..d.clone() }),
        ("cutout_past_end", Params { cutout: 10_000, ..d }),
    ]
}
