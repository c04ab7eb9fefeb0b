//! Per-member crossover states (§5) and equities (§6), and the Layer-1 signal (§7) of a
//! family, for all lanes of a vector at once.
//!
//! The lanes are independent series: symbols in a batch, or the six families of one
//! series (member `k` of every family side by side). Either way the nine members are
//! summed in member order, exactly as the reference.

use crate::ma::{drive, BarSink, MaKernel};
use crate::simd::{load_at, store_at, Simd};

/// Equities never fall below this (spec §6 step 4).
pub const EQUITY_FLOOR: f64 = 0.25;

/// The largest equity that Pine's tolerant `e < 0.25` floors: fl(0.25 − e) > 1e-10
/// exactly when e ≤ this value, because fl(0.25 − e) falls monotonically as e grows (the
/// tests check the two neighbours of this boundary).
pub const FLOORED_AT_MOST: f64 = 0.2499999999;

/// The floor of §6 step 4 with Pine's tolerant `e < 0.25`: floored only when
/// 0.25 − e > 1e-10 (|e − 0.25| is that difference, computed in either order), i.e. when
/// e ≤ [`FLOORED_AT_MOST`]; NaN stays NaN.
#[inline(always)]
pub fn floor_equity<V: Simd>(e: V) -> V {
    V::select(e.le(V::splat(FLOORED_AT_MOST)), V::splat(EQUITY_FLOOR), e)
}
/// Pine's `math.round(v, 2)` counts a remainder within 1e-10 below ½ as a tie (§7).
pub const ROUND_TIE: f64 = 0.5 - 1e-10;

/// Pine `math.round(v, 2)`: nearest 0.01, ties (within 1e-10) away from zero; NaN stays.
/// (sign·u)/100 of the spec equals sign·(u/100) exactly.
#[inline(always)]
pub fn round2<V: Simd>(v: V) -> V {
    let zero = V::splat(0.0);
    let one = V::splat(1.0);
    let a = v.abs() * V::splat(100.0);
    let u = a.floor();
    let u = V::select((a - u).ge(V::splat(ROUND_TIE)), u + one, u);
    // numpy's sign: ±1, and v itself for ±0 and NaN (f64::signum would give ±1 for ±0).
    let sign = V::select(v.gt(zero), one, V::select(v.lt(zero), -one, v));
    sign * u.hundredths()
}

/// State of the nine members of one family: previous MA, crossover state (−1/0/+1 as
/// f64) and equity.
///
/// The equity's persistent `a` (§6) needs no storage here: a member's state is 0 only
/// until its first crossover and ±1 ever after, so `a` is state[t−1]·R·g whenever it is
/// updated and keeps its initial 0 (= 0·R·g) until then. (Layer 2's family signals do
/// return to 0, so `layer2` keeps `a`.)
#[derive(Clone, Copy)]
pub struct Members<V: Simd> {
    pub prev_ma: [V; 9],
    pub state: [V; 9],
    pub eq: [V; 9],
}

/// Where the current bar stands relative to the cutout (§3 "active bars").
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// t < cutout: equities are na and untouched.
    Before,
    /// t = cutout: equities start.
    First,
    /// t > cutout.
    Running,
}

impl Phase {
    #[inline(always)]
    pub fn of(t: usize, cutout: usize) -> Phase {
        if t > cutout {
            Phase::Running
        } else if t == cutout {
            Phase::First
        } else {
            Phase::Before
        }
    }
}

impl<V: Simd> Members<V> {
    #[inline(always)]
    pub fn new() -> Self {
        Self { prev_ma: [V::splat(f64::NAN); 9], state: [V::splat(0.0); 9], eq: [V::splat(f64::NAN); 9] }
    }

    /// Advance one bar given the members' MA values `ma`, close `c` and previous close
    /// `cp`, and R·g `r`; returns the Layer-1 signal (NaN before the cutout).
    #[inline(always)]
    pub fn bar(&mut self, ma: &[V; 9], c: V, cp: V, r: V, phase: Phase, decay: V) -> V {
        let one = V::splat(1.0);
        for k in 0..9 {
            let m = ma[k];
            let mp = self.prev_ma[k];
            // §5: NaN anywhere makes both comparisons false.
            let up = V::and(c.gt(m), cp.le(mp));
            let down = V::and(c.lt(m), cp.ge(mp));
            let s_old = self.state[k];
            self.state[k] = V::select(down, -one, V::select(up, one, s_old));
            self.prev_ma[k] = m;
            if phase == Phase::Running {
                // §6: the position is the state at the previous close; ±1·r is exact, and
                // the state is 0 or ±1, so Pine's tolerant sign test changes nothing.
                let e = self.eq[k] * decay * (one + s_old * r);
                self.eq[k] = floor_equity(e);
            } else if phase == Phase::First {
                self.eq[k] = one;
            }
        }
        if phase == Phase::Before {
            return V::splat(f64::NAN);
        }
        // §7: sums left to right in member order.
        let mut num = self.state[0] * self.eq[0];
        let mut den = self.eq[0];
        for k in 1..9 {
            num = num + self.state[k] * self.eq[k];
            den = den + self.eq[k];
        }
        round2(num / den)
    }
}

impl<V: Simd> Default for Members<V> {
    fn default() -> Self {
        Self::new()
    }
}

/// Inputs shared by every family of one group of lanes (interleaved, `bars * LANES`).
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

/// One family over all bars for lanes = series: MAs, states, equities and the Layer-1
/// signal, written interleaved to `signal`.
///
/// # Panics
/// If a buffer is shorter than `inp.bars * V::LANES`.
#[inline(always)]
pub fn family_pass<V: Simd, K: MaKernel<V>>(ma: &mut K, inp: &PassInput<'_>, signal: &mut [f64]) {
    let size = inp.bars * V::LANES;
    assert!(inp.x.len() >= size && inp.close.len() >= size && inp.rg.len() >= size && signal.len() >= size);
    let mut sink = FamilySink { members: Members::<V>::new(), inp, signal, cp: V::splat(f64::NAN) };
    drive(ma, inp.x, inp.close, 0, inp.bars, &mut sink);
}

struct FamilySink<'a, 'b, V: Simd> {
    members: Members<V>,
    inp: &'a PassInput<'b>,
    signal: &'a mut [f64],
    cp: V,
}

impl<V: Simd> BarSink<V> for FamilySink<'_, '_, V> {
    #[inline(always)]
    fn bar(&mut self, t: usize, ma: &[V; 9]) {
        let inp = self.inp;
        // SAFETY: t < bars, buffers asserted in family_pass.
        let c = unsafe { load_at::<V>(inp.close, t) };
        let r = unsafe { load_at::<V>(inp.rg, t) };
        let sig = self.members.bar(ma, c, self.cp, r, Phase::of(t, inp.cutout), V::splat(inp.decay));
        unsafe { store_at::<V>(self.signal, t, sig) };
        self.cp = c;
    }
}
