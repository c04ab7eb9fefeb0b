//! The nine members of one series' family as vector lanes, for the families whose
//! members all read the same input: the `math.sum` machine of the SMA family and of
//! KAMA's noise, and the EMA and DEMA recursions once their seeds are in (the warm-up
//! runs the scalar kernels of [`crate::ma`]), so a bar costs a few vector operations
//! instead of nine scalar steps. Each kernel's `advance` returns the nine members'
//! values of the bar.
//!
//! Every lane computes exactly what [`crate::mathsum::MathSum`] computes for that
//! member (the same operations on the same values), so the values are the §4.8 ones.
//! The realised addends live in one ring of rows indexed by the input count at which
//! they are evicted: member `k`'s addend of input `j` is written to row `j + n_k` (lane
//! `k`), so input `j` reads every member's evicted entry with one vector load of row
//! `j`, long after the scalar writes. The ring has more rows than the longest length, so
//! an entry is read before its row is written again. Rows not written yet are 0, which
//! is exactly the warm-up's `y1 = −c` (0 + c = c). State is kept in plain
//! arrays, so the kernels need no vector type of their own and the caller picks one.

use crate::exact::Terms;
use crate::exact::PINE_TOLERANCE;
use crate::ma::{ema_next, kama_next, step_one, Dema, Ema, MaKernel};
use crate::mathsum::{compensated, rebaseline};
use crate::simd::Simd;

/// Lanes per row: nine members padded to a multiple of every vector width.
const ROW: usize = 16;

/// `math.sum` of one input stream for nine lengths at once.
pub struct MemberSums {
    n: [usize; 9],
    /// Lengths as f64 and their correctly rounded reciprocals (padding lanes 1).
    nf: [f64; ROW],
    recip: [f64; ROW],
    s: [f64; ROW],
    c: [f64; ROW],
    /// `rows × ROW` addends, `rows` a power of two above the longest length.
    ring: Vec<f64>,
    mask: usize,
    /// Where member `k`'s addend of input `j` goes: `(j·ROW + evict[k]) & (ring.len() − 1)`.
    evict: [usize; 9],
    count: usize,
}

impl MemberSums {
    pub fn new(n: &[usize; 9]) -> Self {
        let rows = (n.iter().copied().max().unwrap_or(1) + 1).next_power_of_two();
        let mut nf = [1.0; ROW];
        for k in 0..9 {
            nf[k] = n[k] as f64;
        }
        let recip = nf.map(|v| 1.0 / v);
        let evict = std::array::from_fn(|k| n[k] * ROW + k);
        Self {
            n: *n,
            nf,
            recip,
            s: [0.0; ROW],
            c: [0.0; ROW],
            ring: vec![0.0; rows * ROW],
            mask: rows - 1,
            evict,
            count: 0,
        }
    }

    /// Push input `v` to every member; returns each member's sum (member `k`'s output
    /// once it has seen `n_k` inputs; `v` itself for length 1). `raw.at(newest − i)` is
    /// the input `i` inputs before this one (read on a fire only).
    ///
    /// # Safety
    /// Those indices are valid for `raw`, for `i` up to the longest length − 1 or the
    /// inputs seen, whichever is less.
    #[inline(always)]
    pub unsafe fn push<V: Simd, T: Terms<f64>>(&mut self, v: f64, raw: &T, newest: usize) -> [f64; ROW] {
        let j = self.count;
        let lanes = V::LANES;
        let chunks = 9usize.div_ceil(lanes);
        let row = (j & self.mask) * ROW;
        assert!(row + ROW <= self.ring.len());
        let mut added = [0.0; ROW];
        let vv = V::splat(v);
        let mut sums = [0.0; ROW];
        let mut fired = 0u32;
        for ch in 0..chunks {
            let at = ch * lanes;
            // SAFETY (loads/stores): at + lanes ≤ ROW for every width (ROW is a multiple).
            // The evicted entries (0 while a member is warming up, see the module docs).
            let (s, c, dv) = unsafe {
                (
                    V::load(self.s.as_ptr().add(at)),
                    V::load(self.c.as_ptr().add(at)),
                    V::load(self.ring.as_ptr().add(row + at)),
                )
            };
            // As MathSum::push.
            let st = compensated(s, c, dv + c, vv);
            unsafe {
                st.s.store(self.s.as_mut_ptr().add(at));
                st.c.store(self.c.as_mut_ptr().add(at));
                st.y.store(added.as_mut_ptr().add(at));
            }
            fired |= V::bits(st.fire) << at;
        }
        if fired != 0 {
            // Re-baseline the fired members from the raw window, newest first.
            for k in 0..9 {
                if fired & (1 << k) != 0 && self.n[k] > 1 {
                    let acc = unsafe { rebaseline(v, raw, newest, (j + 1).min(self.n[k])) };
                    self.s[k] = acc;
                    self.c[k] = 0.0;
                    added[k] = v;
                }
            }
        }
        // The ring's length is a power of two (rows · ROW).
        let wrap = self.ring.len() - 1;
        for k in 0..9 {
            let i = (j * ROW + self.evict[k]) & wrap;
            // SAFETY: i ≤ wrap < ring.len().
            unsafe { *self.ring.get_unchecked_mut(i) = added[k] };
        }
        self.count = j + 1;
        sums[..9].copy_from_slice(&self.s[..9]);
        for k in 0..9 {
            if self.n[k] == 1 {
                sums[k] = v;
            }
        }
        sums
    }

    /// Inputs pushed so far.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// A plain series by bar (one lane).
struct Plain<'a>(&'a [f64]);

impl Terms<f64> for Plain<'_> {
    #[inline(always)]
    unsafe fn at(&self, i: usize) -> f64 {
        self.0[i]
    }
}

/// `|x[i] − x[i−1]|` of a plain series.
struct PlainSteps<'a>(&'a [f64]);

impl Terms<f64> for PlainSteps<'_> {
    #[inline(always)]
    unsafe fn at(&self, i: usize) -> f64 {
        (self.0[i] - self.0[i - 1]).abs()
    }
}

/// `ta.sma` of the nine members of one series (§4.3, §4.8).
pub struct SmaAcross {
    n: [usize; 9],
    /// From this bar on every member has a value and none is the input itself (length 1).
    plain_from: usize,
    sums: MemberSums,
    out: [f64; ROW],
}

impl SmaAcross {
    pub fn new(n: &[usize; 9]) -> Self {
        let plain_from = if n.contains(&1) { usize::MAX } else { n.iter().copied().max().unwrap_or(1) - 1 };
        Self { n: *n, plain_from, sums: MemberSums::new(n), out: [0.0; ROW] }
    }

    /// [`SmaAcross::advance`] into `out`.
    #[inline(always)]
    pub fn step<V: Simd>(&mut self, x: &[f64], t: usize, out: &mut [f64; 9]) {
        out.copy_from_slice(self.advance::<V>(x, t));
    }

    /// Bar `t` (bars stepped in order from 0): each member's value, NaN while warming up.
    #[inline(always)]
    pub fn advance<V: Simd>(&mut self, x: &[f64], t: usize) -> &[f64] {
        // SAFETY: the machine reads bars t − i ≥ 0 of x.
        unsafe { self.sums.push::<V, _>(x[t], &Plain(x), t) };
        // The quotients straight from the sums' vector state (no round trip through
        // scalar stores); lanes of length 1 take the input itself below.
        let (sums, nf, recip) = (&self.sums.s, &self.sums.nf, &self.sums.recip);
        for ch in 0..9usize.div_ceil(V::LANES) {
            let at = ch * V::LANES;
            let q = V::load_from(&sums[at..]).quotient(V::load_from(&nf[at..]), V::load_from(&recip[at..]));
            q.store_to(&mut self.out[at..]);
        }
        if t < self.plain_from {
            for k in 0..9 {
                let n = self.n[k];
                if t + 1 < n {
                    self.out[k] = f64::NAN;
                } else if n == 1 {
                    self.out[k] = x[t];
                }
            }
        }
        &self.out[..9]
    }
}

/// `ta.ema` of the nine members of one series (§4.2, §4.8): the scalar kernel while any
/// member is seeding, then `y + α·(x − y)` for all members at once.
pub struct EmaAcross {
    warm: Ema<f64>,
    steady: usize,
    y: [f64; ROW],
    alpha: [f64; ROW],
}

impl EmaAcross {
    pub fn new(n: &[usize; 9]) -> Self {
        let warm = Ema::new(n);
        let mut alpha = [0.0; ROW];
        for k in 0..9 {
            alpha[k] = 2.0 / (n[k] + 1) as f64;
        }
        Self { steady: MaKernel::<f64>::steady_from(&warm), warm, y: [0.0; ROW], alpha }
    }

    /// Bar `t` (bars stepped in order from 0): each member's value, NaN while seeding.
    #[inline(always)]
    pub fn advance<V: Simd>(&mut self, x: &[f64], close: &[f64], t: usize) -> &[f64] {
        if t < self.steady {
            // The scalar kernel's values are its state.
            let y: &mut [f64; 9] = self.y.first_chunk_mut().expect("nine members");
            step_one(&mut self.warm, x, close, t, self.steady, y);
        } else {
            let xv = V::splat(x[t]);
            for ch in 0..9usize.div_ceil(V::LANES) {
                let at = ch * V::LANES;
                ema_next(V::load_from(&self.y[at..]), V::load_from(&self.alpha[at..]), xv).store_to(&mut self.y[at..]);
            }
        }
        &self.y[..9]
    }
}

/// `dema` of the nine members of one series (§4.5): the scalar kernel while any member
/// is seeding E1 or E2, then both EMA steps and `2·E1 − E2` for all members at once.
pub struct DemaAcross {
    warm: Dema<f64>,
    steady: usize,
    y1: [f64; ROW],
    y2: [f64; ROW],
    alpha: [f64; ROW],
    out: [f64; ROW],
}

impl DemaAcross {
    pub fn new(n: &[usize; 9]) -> Self {
        let warm = Dema::new(n);
        let mut alpha = [0.0; ROW];
        for k in 0..9 {
            alpha[k] = 2.0 / (n[k] + 1) as f64;
        }
        let steady = MaKernel::<f64>::steady_from(&warm);
        Self { warm, steady, y1: [0.0; ROW], y2: [0.0; ROW], alpha, out: [0.0; ROW] }
    }

    /// Bar `t` (bars stepped in order from 0): each member's value, NaN while seeding.
    #[inline(always)]
    pub fn advance<V: Simd>(&mut self, x: &[f64], close: &[f64], t: usize) -> &[f64] {
        if t < self.steady {
            let out: &mut [f64; 9] = self.out.first_chunk_mut().expect("nine members");
            step_one(&mut self.warm, x, close, t, self.steady, out);
            if t + 1 == self.steady {
                let (y1, y2) = self.warm.ema_states();
                self.y1[..9].copy_from_slice(&y1);
                self.y2[..9].copy_from_slice(&y2);
            }
        } else {
            let xv = V::splat(x[t]);
            for ch in 0..9usize.div_ceil(V::LANES) {
                let at = ch * V::LANES;
                let a = V::load_from(&self.alpha[at..]);
                let e1 = ema_next(V::load_from(&self.y1[at..]), a, xv);
                let e2 = ema_next(V::load_from(&self.y2[at..]), a, e1);
                e1.store_to(&mut self.y1[at..]);
                e2.store_to(&mut self.y2[at..]);
                (V::splat(2.0) * e1 - e2).store_to(&mut self.out[at..]);
            }
        }
        &self.out[..9]
    }
}

/// The script's KAMA of the nine members of one series (§4.7, §4.8).
pub struct KamaAcross {
    n: [usize; 9],
    /// From this bar on every member's noise window exists.
    full_from: usize,
    noise: MemberSums,
    kama: [f64; ROW],
}

impl KamaAcross {
    pub fn new(n: &[usize; 9]) -> Self {
        let full_from = n.iter().copied().max().unwrap_or(1);
        Self { n: *n, full_from, noise: MemberSums::new(n), kama: [0.0; ROW] }
    }

    /// [`KamaAcross::advance`] into `out`.
    #[inline(always)]
    pub fn step<V: Simd>(&mut self, x: &[f64], t: usize, out: &mut [f64; 9]) {
        out.copy_from_slice(self.advance::<V>(x, t));
    }

    /// Bar `t` (bars stepped in order from 0): each member's value.
    #[inline(always)]
    pub fn advance<V: Simd>(&mut self, x: &[f64], t: usize) -> &[f64] {
        let xt = x[t];
        let mut noise = [0.0; ROW];
        let mut signal = [0.0; ROW];
        // ratio exists (noise is a number) from bar n on; lanes without it get 0.
        let mut valid = [0.0; ROW];
        let full = t >= self.full_from;
        if t > 0 {
            // SAFETY: the machine reads steps of bars t − i ≥ 1.
            noise = unsafe { self.noise.push::<V, _>((xt - x[t - 1]).abs(), &PlainSteps(x), t) };
            if full {
                for k in 0..9 {
                    signal[k] = (xt - x[t - self.n[k]]).abs();
                }
            } else {
                for k in 0..9 {
                    if t >= self.n[k] {
                        signal[k] = (xt - x[t - self.n[k]]).abs();
                        valid[k] = 1.0;
                    }
                }
            }
        }
        let zero = V::splat(0.0);
        let tol = V::splat(PINE_TOLERANCE);
        let xv = V::splat(xt);
        for ch in 0..9usize.div_ceil(V::LANES) {
            let at = ch * V::LANES;
            let nz = V::load_from(&noise[at..]);
            let sig = V::load_from(&signal[at..]);
            // Every lane has its window once `full` (the padding lanes' noise is 0).
            let some = nz.abs().gt(tol);
            let ok = if full { some } else { V::and(V::load_from(&valid[at..]).gt(zero), some) };
            let ratio = V::select(ok, sig / nz, zero);
            kama_next(V::load_from(&self.kama[at..]), xv, ratio).store_to(&mut self.kama[at..]);
        }
        &self.kama[..9]
    }
}

#[cfg(test)]
mod tests {
    use super::{DemaAcross, EmaAcross};
    use crate::ma::{step_one, Dema, Ema, MaKernel};
    use crate::simd::Simd;

    /// A positive random walk.
    fn walk(bars: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut p = 100.0;
        (0..bars)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                p *= 1.0 + 0.04 * ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5);
                p
            })
            .collect()
    }

    /// The members-as-lanes EMA and DEMA give the scalar kernels' values bit for bit on
    /// every bar, seeds and lengths of 1 included.
    fn check<V: Simd>() {
        for (seed, lens) in [(1u64, [28usize, 29, 30, 32, 34, 27, 26, 24, 22]), (2, [5, 1, 2, 3, 90, 4, 130, 7, 2])] {
            let x = walk(1000, seed);
            let (mut ema, mut dema) = (Ema::<f64>::new(&lens), Dema::<f64>::new(&lens));
            let (se, sd) = (MaKernel::<f64>::steady_from(&ema), MaKernel::<f64>::steady_from(&dema));
            let (mut ema_l, mut dema_l) = (EmaAcross::new(&lens), DemaAcross::new(&lens));
            for t in 0..x.len() {
                let (mut e, mut d) = ([0.0; 9], [0.0; 9]);
                step_one(&mut ema, &x, &x, t, se, &mut e);
                step_one(&mut dema, &x, &x, t, sd, &mut d);
                let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(ema_l.advance::<V>(&x, &x, t)), bits(&e), "EMA {lens:?} bar {t}");
                assert_eq!(bits(dema_l.advance::<V>(&x, &x, t)), bits(&d), "DEMA {lens:?} bar {t}");
            }
        }
    }

    #[test]
    fn ema_and_dema_as_lanes_are_the_scalar_kernels_bit_for_bit() {
        crate::at_every_width!(check);
    }
}
