//! TradingView's rolling sum `math.sum(x, N)` (spec §4.8), bit for bit, for the nine
//! members of a family and every lane of a vector at once.
//!
//! It is behind `ta.sma` (the "HMA" family), every EMA seed (EMA, DEMA's E1 and E2) and
//! KAMA's noise. Per member: the sum `s`, its compensation `c`, the count of inputs seen
//! (at most N matter) and a ring of the N *realised* addends `y2` (the evicted entry is
//! taken back out). Before each input the "fire" test asks whether `|c|` can still be
//! added to the input without loss; when it cannot, the sum is rebuilt from the raw
//! window, newest first, and `c` restarts at 0. Fires are rare (≈ 0.3 % of inputs), so
//! the machine is O(1) per bar; in a vector the rebuild runs when any lane fires and is
//! selected into those lanes only.
//!
//! Inputs are never na here: the callers skip na inputs (KAMA's bar 0, DEMA's E1 warm-up)
//! by simply not pushing them. Lanes advance together, so every lane of a member has
//! seen the same number of inputs.

use crate::exact::Terms;
use crate::simd::Simd;

/// The nine members' `math.sum` states.
pub struct MathSum<V: Simd> {
    n: [usize; 9],
    s: [V; 9],
    c: [V; 9],
    /// Inputs pushed so far, per member.
    count: [usize; 9],
    /// Member `k`'s ring is `ring[off[k] .. off[k] + n[k]]`; its next slot (count mod n,
    /// absolute) is `slot[k]`.
    ring: Vec<V>,
    off: [usize; 9],
    slot: [usize; 9],
}

impl<V: Simd> MathSum<V> {
    pub fn new(n: &[usize; 9]) -> Self {
        let mut off = [0; 9];
        let mut total = 0;
        for k in 0..9 {
            off[k] = total;
            total += n[k].max(1);
        }
        Self {
            n: *n,
            s: [V::splat(0.0); 9],
            c: [V::splat(0.0); 9],
            count: [0; 9],
            ring: vec![V::splat(0.0); total],
            off,
            slot: off,
        }
    }

    /// Inputs member `k` has seen.
    #[inline(always)]
    pub fn count(&self, k: usize) -> usize {
        self.count[k]
    }

    /// Push input `v` to member `k` and return the sum, which is `math.sum`'s output once
    /// `count(k) ≥ n` (before that it is the partial warm-up sum). `raw.at(newest − i)`
    /// must be the input pushed `i` inputs before this one (`i = 1 … min(count, n) − 1`;
    /// read only on a fire). For `n = 1` the result is `v` itself.
    ///
    /// # Safety
    /// Those indices are valid for `raw` (see the `Terms` implementation).
    #[inline(always)]
    pub unsafe fn push<T: Terms<V>>(&mut self, k: usize, v: V, raw: &T, newest: usize) -> V {
        let n = self.n[k];
        if n == 1 {
            self.count[k] += 1;
            return v;
        }
        let (s, c) = (self.s[k], self.c[k]);
        let seen = self.count[k];
        let slot = self.slot[k];
        assert!(slot < self.ring.len());
        self.slot[k] = if slot + 1 == self.off[k] + n { self.off[k] } else { slot + 1 };
        // SAFETY (ring accesses): slot < ring.len() (asserted).
        let w = if seen < n { c } else { unsafe { *self.ring.get_unchecked(slot) + c } };
        let st = compensated(s, c, w, v);
        if V::bits(st.fire) == 0 {
            self.s[k] = st.s;
            self.c[k] = st.c;
            unsafe { *self.ring.get_unchecked_mut(slot) = st.y };
        } else {
            let acc = unsafe { rebaseline(v, raw, newest, (seen + 1).min(n)) };
            self.s[k] = V::select(st.fire, acc, st.s);
            self.c[k] = V::select(st.fire, V::splat(0.0), st.c);
            self.ring[slot] = V::select(st.fire, v, st.y);
        }
        self.count[k] = seen + 1;
        self.s[k]
    }
}

/// One input's step of the machine before any re-baseline: whether it fires, and the
/// compensated update's new sum, compensation and realised addend.
pub struct Compensated<V: Simd> {
    pub fire: V::Mask,
    pub s: V,
    pub c: V,
    /// The realised addend `y2`, the entry stored for later eviction.
    pub y: V,
}

/// §4.8's fire test and compensated update of input `v` on the sum `s` with
/// compensation `c`; `w = −y1` is `c` while warming up and `fl(d + c)` in the steady
/// state, `d` the evicted entry. Shared by every form of the machine, so they all compute
/// the same bits.
#[inline(always)]
pub fn compensated<V: Simd>(s: V, c: V, w: V, v: V) -> Compensated<V> {
    // 1. Fire test, exactly in this operand order (no swap): b = |c|, r = v + b,
    // fire = b − (r − v) > 0. The spec's guards (c ≠ 0, v ≠ 0, r ≠ 0, r finite) need
    // no test of their own for finite v: each makes b − (r − v) zero or −∞.
    let b = c.abs();
    let fire = (b - ((v + b) - v)).gt(V::splat(0.0));
    // 2./3. The compensated update with y1 = −c (warm-up) or y1 = fl(−d − c) (steady),
    // written with w = −y1: fl(−d − c) = −fl(d + c), and s + y1 = s − w,
    // (t − s) − y1 = (t − s) + w exactly, so the bits are the spec's.
    let t = s - w;
    let e1 = (t - s) + w;
    let y = v - e1;
    let s2 = t + y;
    Compensated { fire, s: s2, c: (s2 - t) - y, y }
}

/// The re-baseline after a fire: the `m` newest raw inputs summed newest first,
/// acc = v, then acc = x_prev + acc one input further back each time; `raw.at(newest − i)`
/// is the input `i` inputs before `v`.
///
/// # Safety
/// Indices `newest − 1 … newest − (m − 1)` are valid for `raw`.
#[inline(always)]
// The re-baseline is written `x_prev + acc` as in the spec.
#[allow(clippy::assign_op_pattern)]
pub unsafe fn rebaseline<V: Simd, T: Terms<V>>(v: V, raw: &T, newest: usize, m: usize) -> V {
    let mut acc = v;
    for i in 1..m {
        acc = unsafe { raw.at(newest - i) } + acc;
    }
    acc
}

/// `math.sum(x, n)` of a whole scalar series, na skipped (output na during the warm-up,
/// the current sum on a later na bar): the machine above as a plain function, for tests
/// and short series.
pub fn math_sum(x: &[f64], n: usize) -> Vec<f64> {
    if n <= 1 {
        return x.to_vec();
    }
    let mut lens = [1usize; 9];
    lens[0] = n.max(1);
    let mut m = MathSum::<f64>::new(&lens);
    let raw: Vec<f64> = x.iter().copied().filter(|v| !v.is_nan()).collect();
    let mut j = 0;
    let mut last = f64::NAN;
    x.iter()
        .map(|&v| {
            if v.is_nan() {
                return if m.count(0) >= n { last } else { f64::NAN };
            }
            // SAFETY: indices j − i ≥ 0 of the non-na inputs.
            last = unsafe { m.push(0, v, &crate::exact::Bars(&raw), j) };
            j += 1;
            if m.count(0) >= n {
                last
            } else {
                f64::NAN
            }
        })
        .collect()
}
