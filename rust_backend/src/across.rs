//! The `math.sum` machine of one series with the nine members as vector lanes: the
//! single-series SMA family and KAMA (whose nine members all read the same input), so a
//! bar costs a few vector operations instead of nine scalar machines.
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
use crate::family::PINE_TOLERANCE;
use crate::ma::kama_next;
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
        Self { n: *n, nf, recip, s: [0.0; ROW], c: [0.0; ROW], ring: vec![0.0; rows * ROW], mask: rows - 1, count: 0 }
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
        for k in 0..9 {
            self.ring[((j + self.n[k]) & self.mask) * ROW + k] = added[k];
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
    sums: MemberSums,
}

impl SmaAcross {
    pub fn new(n: &[usize; 9]) -> Self {
        Self { n: *n, sums: MemberSums::new(n) }
    }

    /// Bar `t` (bars stepped in order from 0): each member's value, NaN while warming up.
    #[inline(always)]
    pub fn step<V: Simd>(&mut self, x: &[f64], t: usize, out: &mut [f64; 9]) {
        // SAFETY: the machine reads bars t − i ≥ 0 of x.
        unsafe { self.sums.push::<V, _>(x[t], &Plain(x), t) };
        // The quotients straight from the sums' vector state (no round trip through
        // scalar stores); lanes of length 1 take the input itself below.
        let (sums, nf, recip) = (&self.sums.s, &self.sums.nf, &self.sums.recip);
        let mut q = [0.0; ROW];
        for ch in 0..9usize.div_ceil(V::LANES) {
            let at = ch * V::LANES;
            // SAFETY: at + LANES ≤ ROW.
            unsafe {
                let (sv, d, r) =
                    (V::load(sums.as_ptr().add(at)), V::load(nf.as_ptr().add(at)), V::load(recip.as_ptr().add(at)));
                sv.quotient(d, r).store(q.as_mut_ptr().add(at))
            };
        }
        for k in 0..9 {
            let n = self.n[k];
            out[k] = if t + 1 < n {
                f64::NAN
            } else if n == 1 {
                x[t]
            } else {
                q[k]
            };
        }
    }
}

/// The script's KAMA of the nine members of one series (§4.7, §4.8).
pub struct KamaAcross {
    n: [usize; 9],
    noise: MemberSums,
    kama: [f64; ROW],
}

impl KamaAcross {
    pub fn new(n: &[usize; 9]) -> Self {
        Self { n: *n, noise: MemberSums::new(n), kama: [0.0; ROW] }
    }

    /// Bar `t` (bars stepped in order from 0): each member's value.
    #[inline(always)]
    pub fn step<V: Simd>(&mut self, x: &[f64], t: usize, out: &mut [f64; 9]) {
        let xt = x[t];
        let mut noise = [0.0; ROW];
        let mut signal = [0.0; ROW];
        // ratio exists (noise is a number) from bar n on; lanes without it get 0.
        let mut valid = [0.0; ROW];
        if t > 0 {
            // SAFETY: the machine reads steps of bars t − i ≥ 1.
            noise = unsafe { self.noise.push::<V, _>((xt - x[t - 1]).abs(), &PlainSteps(x), t) };
            for k in 0..9 {
                if t >= self.n[k] {
                    signal[k] = (xt - x[t - self.n[k]]).abs();
                    valid[k] = 1.0;
                }
            }
        }
        let zero = V::splat(0.0);
        let tol = V::splat(PINE_TOLERANCE);
        let xv = V::splat(xt);
        for ch in 0..9usize.div_ceil(V::LANES) {
            let at = ch * V::LANES;
            // SAFETY (loads/stores): at + LANES ≤ ROW.
            unsafe {
                let nz = V::load(noise.as_ptr().add(at));
                let sig = V::load(signal.as_ptr().add(at));
                let ok = V::and(V::load(valid.as_ptr().add(at)).gt(zero), nz.abs().gt(tol));
                let ratio = V::select(ok, sig / nz, zero);
                let p = V::load(self.kama.as_ptr().add(at));
                kama_next(p, xv, ratio).store(self.kama.as_mut_ptr().add(at));
            }
        }
        out.copy_from_slice(&self.kama[..9]);
    }
}
