//! One family's pass over the bars: its nine MAs, their crossover states (§5), their
//! equities (§6) and the Layer-1 signal (§7), fused so every member keeps O(1) state.

use crate::lanes::{load, store, Members};
use crate::ma::{MaKernel, RESUM_PERIOD};

/// Equities never fall below this (spec §6 step 4).
pub const EQUITY_FLOOR: f64 = 0.25;
/// Pine's `math.round(v, 2)` counts a remainder within 1e-10 below ½ as a tie (§7).
pub const ROUND_TIE: f64 = 0.5 - 1e-10;

/// Inputs shared by every family of one group of lanes (interleaved, `bars * L` long).
pub struct PassInput<'a> {
    /// The MA source (`src`, close by default).
    pub x: &'a [f64],
    pub close: &'a [f64],
    /// R·g per bar (§6 step 1); NaN where R or g is na.
    pub rg: &'a [f64],
    pub bars: usize,
    pub cutout: usize,
    /// 1 − δ.
    pub decay: f64,
}

/// Per-member rows of one family (each `9` rows of `bars * L`), filled with `detail`.
pub struct Detail<'a> {
    pub mas: &'a mut [f64],
    pub states: &'a mut [i8],
    pub equities: &'a mut [f64],
}

/// Pine `math.round(v, 2)`: nearest 0.01, ties (within 1e-10) away from zero; NaN stays.
#[inline(always)]
pub fn round2(v: f64) -> f64 {
    let a = v.abs() * 100.0;
    let mut u = a.floor();
    if a - u >= ROUND_TIE {
        u += 1.0;
    }
    // numpy's sign: 0 for ±0, NaN for NaN (f64::signum would give ±1 for ±0).
    let sign = if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        v
    };
    sign * u / 100.0
}

/// Run one family over bars `0..inp.bars`, writing its Layer-1 signal (interleaved) to
/// `signal` and, when given, every member's MA, state and equity to `detail`.
///
/// # Panics
/// If a buffer is shorter than `inp.bars * L`.
#[inline(always)]
pub fn family_pass<const L: usize, K: MaKernel<L>>(
    ma: &mut K,
    inp: &PassInput<'_>,
    signal: &mut [f64],
    mut detail: Option<&mut Detail<'_>>,
) {
    let bars = inp.bars;
    let size = bars * L;
    assert!(inp.x.len() >= size && inp.close.len() >= size && inp.rg.len() >= size);
    assert!(signal.len() >= size);
    if let Some(d) = detail.as_deref_mut() {
        assert!(d.mas.len() >= 9 * size && d.states.len() >= 9 * size && d.equities.len() >= 9 * size);
    }
    let mut st = PassState::<L>::new();
    // Warm-up bars (MAs filling, equities not yet started) take the branchy path.
    let steady = ma.steady_from().max(inp.cutout + 1).min(bars);
    for t in 0..steady {
        // SAFETY: t < bars and every buffer holds `bars * L` values (asserted above).
        unsafe { st.bar::<true, K>(ma, inp, t, signal, detail.as_deref_mut()) };
    }
    let mut t0 = steady;
    while t0 < bars {
        let t1 = ((t0 / RESUM_PERIOD + 1) * RESUM_PERIOD).min(bars);
        for t in t0..t1 {
            // SAFETY: steady_from ≤ t < bars.
            unsafe { st.bar::<false, K>(ma, inp, t, signal, detail.as_deref_mut()) };
        }
        if t1 < bars {
            // SAFETY: t1 − 1 ≥ steady − 1 ≥ steady_from − 1, all bars up to it stepped.
            unsafe { ma.resum(inp.x, t1 - 1) };
        }
        t0 = t1;
    }
}

/// Crossover and equity state of the nine members.
struct PassState<const L: usize> {
    cur: Members<L>,
    prev_ma: Members<L>,
    state: Members<L>,
    a: Members<L>,
    eq: Members<L>,
}

impl<const L: usize> PassState<L> {
    fn new() -> Self {
        Self {
            cur: [[f64::NAN; L]; 9],
            prev_ma: [[f64::NAN; L]; 9],
            state: [[0.0; L]; 9],
            a: [[0.0; L]; 9],
            eq: [[f64::NAN; L]; 9],
        }
    }

    /// # Safety
    /// `t < inp.bars`, buffers sized as asserted in [`family_pass`], bars in order, and
    /// with `WARM = false`, `t >= ma.steady_from()` and `t > inp.cutout`.
    #[inline(always)]
    unsafe fn bar<const WARM: bool, K: MaKernel<L>>(
        &mut self,
        ma: &mut K,
        inp: &PassInput<'_>,
        t: usize,
        signal: &mut [f64],
        detail: Option<&mut Detail<'_>>,
    ) {
        unsafe { ma.step::<WARM>(inp.x, t, &mut self.cur) };
        let c = unsafe { load::<L>(inp.close, t) };
        let cp = if WARM && t == 0 { [f64::NAN; L] } else { unsafe { load::<L>(inp.close, t - 1) } };
        let r = unsafe { load::<L>(inp.rg, t) };
        let active = !WARM || t >= inp.cutout;
        let first = WARM && t == inp.cutout;
        let decay = inp.decay;
        for k in 0..9 {
            for l in 0..L {
                let m = self.cur[k][l];
                let mp = self.prev_ma[k][l];
                // §5: NaN anywhere makes both comparisons false.
                let up = (c[l] > m) & (cp[l] <= mp);
                let down = (c[l] < m) & (cp[l] >= mp);
                let s_old = self.state[k][l];
                self.state[k][l] = if down {
                    -1.0
                } else if up {
                    1.0
                } else {
                    s_old
                };
                self.prev_ma[k][l] = m;
                if active {
                    // §6: the position is the state at the close of the previous bar; `a`
                    // keeps its value while that state is 0.
                    let a = if s_old > 0.0 {
                        r[l]
                    } else if s_old < 0.0 {
                        -r[l]
                    } else {
                        self.a[k][l]
                    };
                    self.a[k][l] = a;
                    let e = if first { 1.0 } else { self.eq[k][l] * decay * (1.0 + a) };
                    self.eq[k][l] = if e < EQUITY_FLOOR { EQUITY_FLOOR } else { e };
                }
            }
        }
        // §7: sums left to right in member order.
        let mut sig = [f64::NAN; L];
        if active {
            let mut num = [0.0; L];
            let mut den = [0.0; L];
            for l in 0..L {
                num[l] = self.state[0][l] * self.eq[0][l];
                den[l] = self.eq[0][l];
            }
            for k in 1..9 {
                for l in 0..L {
                    num[l] += self.state[k][l] * self.eq[k][l];
                    den[l] += self.eq[k][l];
                }
            }
            for l in 0..L {
                sig[l] = round2(num[l] / den[l]);
            }
        }
        unsafe { store::<L>(signal, t, sig) };
        if let Some(d) = detail {
            let size = inp.bars * L;
            for k in 0..9 {
                let row = k * size + t * L;
                for l in 0..L {
                    // SAFETY: row + l < 9 * size, asserted in family_pass.
                    unsafe {
                        *d.mas.get_unchecked_mut(row + l) = self.cur[k][l];
                        *d.states.get_unchecked_mut(row + l) = self.state[k][l] as i8;
                        *d.equities.get_unchecked_mut(row + l) =
                            if active { self.eq[k][l] } else { f64::NAN };
                    }
                }
            }
        }
    }
}
