//! A minimal vector-of-f64 abstraction so each kernel is written once and compiled for
//! scalar, SSE2, AVX2 and AVX-512.
//!
//! Only IEEE operations with a single rounding each are exposed (no fused multiply-add
//! except inside `hundredths`, where it yields the exactly rounded quotient), so every
//! lane computes bit for bit what the scalar code computes. Comparisons follow
//! Rust's (and Pine's) rules: ordered, false when a NaN is involved, except `ne`.
//!
//! The x86 types call intrinsics of their instruction set: they may only be used in code
//! that runs after the CPU was checked for that set (see `engine`'s dispatch), and their
//! methods are `#[inline(always)]` so they compile inside the dispatched functions.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// A vector of `LANES` f64 values.
pub trait Simd:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
{
    const LANES: usize;
    type Mask: Copy;

    fn splat(v: f64) -> Self;
    /// # Safety
    /// `p` must be valid for reading `LANES` consecutive f64.
    unsafe fn load(p: *const f64) -> Self;
    /// # Safety
    /// `p` must be valid for writing `LANES` consecutive f64.
    unsafe fn store(self, p: *mut f64);
    /// The first `LANES` values of `s`.
    ///
    /// # Panics
    /// If `s` holds fewer.
    #[inline(always)]
    fn load_from(s: &[f64]) -> Self {
        assert!(s.len() >= Self::LANES);
        // SAFETY: LANES values are in `s`.
        unsafe { Self::load(s.as_ptr()) }
    }
    /// Store to the first `LANES` values of `s`.
    ///
    /// # Panics
    /// If `s` holds fewer.
    #[inline(always)]
    fn store_to(self, s: &mut [f64]) {
        assert!(s.len() >= Self::LANES);
        // SAFETY: LANES values are in `s`.
        unsafe { self.store(s.as_mut_ptr()) }
    }
    fn abs(self) -> Self;
    fn floor(self) -> Self;
    /// The larger of two non-NaN values (NaN lanes are unspecified).
    fn max(self, o: Self) -> Self;
    /// The smaller of two non-NaN values (NaN lanes are unspecified).
    fn min(self, o: Self) -> Self;
    fn gt(self, o: Self) -> Self::Mask;
    fn lt(self, o: Self) -> Self::Mask;
    fn ge(self, o: Self) -> Self::Mask;
    fn le(self, o: Self) -> Self::Mask;
    fn eq(self, o: Self) -> Self::Mask;
    /// True where the lanes differ or either is NaN (Rust's `!=`).
    fn ne(self, o: Self) -> Self::Mask;
    fn and(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    fn or(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    /// `m ? t : f` per lane.
    fn select(m: Self::Mask, t: Self, f: Self) -> Self;
    /// Bit `l` set where lane `l` of the mask is true.
    fn bits(m: Self::Mask) -> u32;
    /// `self / 100`, correctly rounded, for the integers 0 … 100 (`round2`'s units).
    /// Vectors with FMA multiply by 0.01 and correct once with the exact residual
    /// (Markstein), which the tests check equals the division for every such integer.
    #[inline(always)]
    fn hundredths(self) -> Self {
        self / Self::splat(100.0)
    }
    /// `self / d`, correctly rounded (bit for bit the division), given `recip`, the
    /// correctly rounded `1 / d` (`d` finite, nonzero; `self / d` neither overflowing nor
    /// subnormal). Vectors with FMA avoid the slow divider: q = self·recip is within one
    /// ulp of the quotient, its residual self − q·d is exact in one FMA, and
    /// q + residual·recip rounds to the quotient (Markstein's theorem).
    #[inline(always)]
    fn quotient(self, d: Self, recip: Self) -> Self {
        let _ = recip;
        self / d
    }
    /// `self` with lane `lane` (< LANES) replaced by `v`.
    #[inline(always)]
    fn with_lane(self, lane: usize, v: f64) -> Self {
        let mut a = [0.0; 8];
        assert!(lane < Self::LANES && Self::LANES <= a.len());
        // SAFETY: `a` holds LANES values.
        unsafe {
            self.store(a.as_mut_ptr());
            a[lane] = v;
            Self::load(a.as_ptr())
        }
    }
    /// Transposes `LANES` vectors in place (`m.len() == LANES`): afterwards `m[j]` holds
    /// lane `j` of every original vector, in their order. Turns `LANES` bars of
    /// lane-per-series vectors into one row segment per series, stored contiguously.
    fn transpose(m: &mut [Self]);
    /// Stores the lanes, small integers (the crossover states −1, 0, +1), as `i8`.
    ///
    /// # Safety
    /// `p` must be valid for writing `LANES` consecutive i8.
    #[inline(always)]
    unsafe fn store_i8(self, p: *mut i8) {
        let mut v = [0.0; 8];
        debug_assert!(Self::LANES <= v.len());
        unsafe { self.store(v.as_mut_ptr()) };
        for (l, x) in v.iter().take(Self::LANES).enumerate() {
            unsafe { *p.add(l) = *x as i8 };
        }
    }
}

/// Load `V` from element `i * LANES` of a slice.
///
/// # Safety
/// `(i + 1) * V::LANES <= buf.len()`.
#[inline(always)]
pub unsafe fn load_at<V: Simd>(buf: &[f64], i: usize) -> V {
    debug_assert!((i + 1) * V::LANES <= buf.len());
    unsafe { V::load(buf.as_ptr().add(i * V::LANES)) }
}

/// Store `v` at element `i * LANES` of a slice.
///
/// # Safety
/// `(i + 1) * V::LANES <= buf.len()`.
#[inline(always)]
pub unsafe fn store_at<V: Simd>(buf: &mut [f64], i: usize, v: V) {
    debug_assert!((i + 1) * V::LANES <= buf.len());
    unsafe { v.store(buf.as_mut_ptr().add(i * V::LANES)) }
}

// ---------------------------------------------------------------------------------------
impl Simd for f64 {
    const LANES: usize = 1;
    type Mask = bool;

    #[inline(always)]
    fn splat(v: f64) -> Self {
        v
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Self {
        unsafe { *p }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64) {
        unsafe { *p = self }
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f64::abs(self)
    }
    #[inline(always)]
    fn floor(self) -> Self {
        f64::floor(self)
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        f64::max(self, o)
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        // minsd's semantics (no NaN fix-up, unlike f64::min).
        if self < o {
            self
        } else {
            o
        }
    }
    #[inline(always)]
    fn gt(self, o: Self) -> bool {
        self > o
    }
    #[inline(always)]
    fn lt(self, o: Self) -> bool {
        self < o
    }
    #[inline(always)]
    fn ge(self, o: Self) -> bool {
        self >= o
    }
    #[inline(always)]
    fn le(self, o: Self) -> bool {
        self <= o
    }
    #[inline(always)]
    fn eq(self, o: Self) -> bool {
        self == o
    }
    #[inline(always)]
    fn ne(self, o: Self) -> bool {
        self != o
    }
    #[inline(always)]
    fn and(a: bool, b: bool) -> bool {
        a & b
    }
    #[inline(always)]
    fn or(a: bool, b: bool) -> bool {
        a | b
    }
    #[inline(always)]
    fn select(m: bool, t: Self, f: Self) -> Self {
        if m {
            t
        } else {
            f
        }
    }
    #[inline(always)]
    fn bits(m: bool) -> u32 {
        m as u32
    }
    #[inline(always)]
    fn with_lane(self, lane: usize, v: f64) -> Self {
        debug_assert_eq!(lane, 0);
        v
    }
    #[inline(always)]
    fn transpose(m: &mut [Self]) {
        debug_assert_eq!(m.len(), 1);
    }
}

// ---------------------------------------------------------------------------------------
#[cfg(target_arch = "x86_64")]
pub use x86::{F64x2, F64x4, F64x8};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Simd;
    use std::arch::x86_64::*;
    use std::ops::{Add, Div, Mul, Neg, Sub};

    macro_rules! binops {
        ($t:ident, $add:ident, $sub:ident, $mul:ident, $div:ident, $xor:ident, $set1:ident) => {
            impl Add for $t {
                type Output = $t;
                #[inline(always)]
                fn add(self, o: $t) -> $t {
                    $t(unsafe { $add(self.0, o.0) })
                }
            }
            impl Sub for $t {
                type Output = $t;
                #[inline(always)]
                fn sub(self, o: $t) -> $t {
                    $t(unsafe { $sub(self.0, o.0) })
                }
            }
            impl Mul for $t {
                type Output = $t;
                #[inline(always)]
                fn mul(self, o: $t) -> $t {
                    $t(unsafe { $mul(self.0, o.0) })
                }
            }
            impl Div for $t {
                type Output = $t;
                #[inline(always)]
                fn div(self, o: $t) -> $t {
                    $t(unsafe { $div(self.0, o.0) })
                }
            }
            impl Neg for $t {
                type Output = $t;
                /// Flips the sign bit, exactly like scalar negation.
                #[inline(always)]
                fn neg(self) -> $t {
                    $t(unsafe { $xor(self.0, $set1(-0.0)) })
                }
            }
        };
    }

    /// Two lanes, SSE2 (the x86-64 baseline).
    #[derive(Clone, Copy)]
    pub struct F64x2(__m128d);
    binops!(F64x2, _mm_add_pd, _mm_sub_pd, _mm_mul_pd, _mm_div_pd, _mm_xor_pd, _mm_set1_pd);

    impl Simd for F64x2 {
        const LANES: usize = 2;
        type Mask = __m128d;

        #[inline(always)]
        fn splat(v: f64) -> Self {
            F64x2(unsafe { _mm_set1_pd(v) })
        }
        #[inline(always)]
        unsafe fn load(p: *const f64) -> Self {
            F64x2(unsafe { _mm_loadu_pd(p) })
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f64) {
            unsafe { _mm_storeu_pd(p, self.0) }
        }
        #[inline(always)]
        fn abs(self) -> Self {
            F64x2(unsafe { _mm_andnot_pd(_mm_set1_pd(-0.0), self.0) })
        }
        #[inline(always)]
        fn floor(self) -> Self {
            // SSE2 has no rounding instruction; this is the slow fallback level anyway.
            let mut v = [0.0; 2];
            unsafe { _mm_storeu_pd(v.as_mut_ptr(), self.0) };
            F64x2(unsafe { _mm_set_pd(v[1].floor(), v[0].floor()) })
        }
        #[inline(always)]
        fn max(self, o: Self) -> Self {
            F64x2(unsafe { _mm_max_pd(self.0, o.0) })
        }
        #[inline(always)]
        fn min(self, o: Self) -> Self {
            F64x2(unsafe { _mm_min_pd(self.0, o.0) })
        }
        #[inline(always)]
        fn gt(self, o: Self) -> __m128d {
            unsafe { _mm_cmpgt_pd(self.0, o.0) }
        }
        #[inline(always)]
        fn lt(self, o: Self) -> __m128d {
            unsafe { _mm_cmplt_pd(self.0, o.0) }
        }
        #[inline(always)]
        fn ge(self, o: Self) -> __m128d {
            unsafe { _mm_cmpge_pd(self.0, o.0) }
        }
        #[inline(always)]
        fn le(self, o: Self) -> __m128d {
            unsafe { _mm_cmple_pd(self.0, o.0) }
        }
        #[inline(always)]
        fn eq(self, o: Self) -> __m128d {
            unsafe { _mm_cmpeq_pd(self.0, o.0) }
        }
        #[inline(always)]
        fn ne(self, o: Self) -> __m128d {
            unsafe { _mm_cmpneq_pd(self.0, o.0) }
        }
        #[inline(always)]
        fn and(a: __m128d, b: __m128d) -> __m128d {
            unsafe { _mm_and_pd(a, b) }
        }
        #[inline(always)]
        fn or(a: __m128d, b: __m128d) -> __m128d {
            unsafe { _mm_or_pd(a, b) }
        }
        #[inline(always)]
        fn select(m: __m128d, t: Self, f: Self) -> Self {
            F64x2(unsafe { _mm_or_pd(_mm_and_pd(m, t.0), _mm_andnot_pd(m, f.0)) })
        }
        #[inline(always)]
        fn bits(m: __m128d) -> u32 {
            unsafe { _mm_movemask_pd(m) as u32 }
        }
        #[inline(always)]
        fn with_lane(self, lane: usize, v: f64) -> Self {
            unsafe {
                let v = _mm_set_sd(v);
                F64x2(if lane == 0 { _mm_move_sd(self.0, v) } else { _mm_unpacklo_pd(self.0, v) })
            }
        }
        #[inline(always)]
        fn transpose(m: &mut [Self]) {
            let [a, b] = m else { panic!("transpose needs 2 vectors") };
            let (lo, hi) = unsafe { (_mm_unpacklo_pd(a.0, b.0), _mm_unpackhi_pd(a.0, b.0)) };
            (a.0, b.0) = (lo, hi);
        }
    }

    /// Four lanes, AVX2.
    #[derive(Clone, Copy)]
    pub struct F64x4(__m256d);
    binops!(F64x4, _mm256_add_pd, _mm256_sub_pd, _mm256_mul_pd, _mm256_div_pd, _mm256_xor_pd, _mm256_set1_pd);

    impl Simd for F64x4 {
        const LANES: usize = 4;
        type Mask = __m256d;

        #[inline(always)]
        fn splat(v: f64) -> Self {
            F64x4(unsafe { _mm256_set1_pd(v) })
        }
        #[inline(always)]
        unsafe fn load(p: *const f64) -> Self {
            F64x4(unsafe { _mm256_loadu_pd(p) })
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f64) {
            unsafe { _mm256_storeu_pd(p, self.0) }
        }
        #[inline(always)]
        fn abs(self) -> Self {
            F64x4(unsafe { _mm256_andnot_pd(_mm256_set1_pd(-0.0), self.0) })
        }
        #[inline(always)]
        fn floor(self) -> Self {
            F64x4(unsafe { _mm256_floor_pd(self.0) })
        }
        #[inline(always)]
        fn max(self, o: Self) -> Self {
            F64x4(unsafe { _mm256_max_pd(self.0, o.0) })
        }
        #[inline(always)]
        fn min(self, o: Self) -> Self {
            F64x4(unsafe { _mm256_min_pd(self.0, o.0) })
        }
        #[inline(always)]
        fn gt(self, o: Self) -> __m256d {
            unsafe { _mm256_cmp_pd::<_CMP_GT_OQ>(self.0, o.0) }
        }
        #[inline(always)]
        fn lt(self, o: Self) -> __m256d {
            unsafe { _mm256_cmp_pd::<_CMP_LT_OQ>(self.0, o.0) }
        }
        #[inline(always)]
        fn ge(self, o: Self) -> __m256d {
            unsafe { _mm256_cmp_pd::<_CMP_GE_OQ>(self.0, o.0) }
        }
        #[inline(always)]
        fn le(self, o: Self) -> __m256d {
            unsafe { _mm256_cmp_pd::<_CMP_LE_OQ>(self.0, o.0) }
        }
        #[inline(always)]
        fn eq(self, o: Self) -> __m256d {
            unsafe { _mm256_cmp_pd::<_CMP_EQ_OQ>(self.0, o.0) }
        }
        #[inline(always)]
        fn ne(self, o: Self) -> __m256d {
            unsafe { _mm256_cmp_pd::<_CMP_NEQ_UQ>(self.0, o.0) }
        }
        #[inline(always)]
        fn and(a: __m256d, b: __m256d) -> __m256d {
            unsafe { _mm256_and_pd(a, b) }
        }
        #[inline(always)]
        fn or(a: __m256d, b: __m256d) -> __m256d {
            unsafe { _mm256_or_pd(a, b) }
        }
        #[inline(always)]
        fn select(m: __m256d, t: Self, f: Self) -> Self {
            F64x4(unsafe { _mm256_blendv_pd(f.0, t.0, m) })
        }
        #[inline(always)]
        fn with_lane(self, lane: usize, v: f64) -> Self {
            unsafe {
                let v = _mm256_set1_pd(v);
                F64x4(match lane {
                    0 => _mm256_blend_pd::<1>(self.0, v),
                    1 => _mm256_blend_pd::<2>(self.0, v),
                    2 => _mm256_blend_pd::<4>(self.0, v),
                    _ => _mm256_blend_pd::<8>(self.0, v),
                })
            }
        }
        #[inline(always)]
        fn bits(m: __m256d) -> u32 {
            unsafe { _mm256_movemask_pd(m) as u32 }
        }
        #[inline(always)]
        fn transpose(m: &mut [Self]) {
            let [a, b, c, d] = m else { panic!("transpose needs 4 vectors") };
            unsafe {
                // Pairs within 128-bit halves, then the halves.
                let (ab0, ab1) = (_mm256_unpacklo_pd(a.0, b.0), _mm256_unpackhi_pd(a.0, b.0));
                let (cd0, cd1) = (_mm256_unpacklo_pd(c.0, d.0), _mm256_unpackhi_pd(c.0, d.0));
                a.0 = _mm256_permute2f128_pd::<0x20>(ab0, cd0);
                b.0 = _mm256_permute2f128_pd::<0x20>(ab1, cd1);
                c.0 = _mm256_permute2f128_pd::<0x31>(ab0, cd0);
                d.0 = _mm256_permute2f128_pd::<0x31>(ab1, cd1);
            }
        }
        #[inline(always)]
        fn hundredths(self) -> Self {
            // SAFETY: the AVX2 level requires FMA (see engine::supported_levels).
            unsafe {
                let q = _mm256_mul_pd(self.0, _mm256_set1_pd(0.01));
                let r = _mm256_fnmadd_pd(q, _mm256_set1_pd(100.0), self.0);
                F64x4(_mm256_fmadd_pd(r, _mm256_set1_pd(0.01), q))
            }
        }
        #[inline(always)]
        fn quotient(self, d: Self, recip: Self) -> Self {
            // SAFETY: the AVX2 level requires FMA (see engine::supported_levels).
            unsafe {
                let q = _mm256_mul_pd(self.0, recip.0);
                let r = _mm256_fnmadd_pd(q, d.0, self.0);
                F64x4(_mm256_fmadd_pd(r, recip.0, q))
            }
        }
    }

    /// Eight lanes, AVX-512 (F + DQ).
    #[derive(Clone, Copy)]
    pub struct F64x8(__m512d);
    binops!(F64x8, _mm512_add_pd, _mm512_sub_pd, _mm512_mul_pd, _mm512_div_pd, _mm512_xor_pd, _mm512_set1_pd);

    impl Simd for F64x8 {
        const LANES: usize = 8;
        type Mask = __mmask8;

        #[inline(always)]
        fn splat(v: f64) -> Self {
            F64x8(unsafe { _mm512_set1_pd(v) })
        }
        #[inline(always)]
        unsafe fn load(p: *const f64) -> Self {
            F64x8(unsafe { _mm512_loadu_pd(p) })
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f64) {
            unsafe { _mm512_storeu_pd(p, self.0) }
        }
        #[inline(always)]
        fn abs(self) -> Self {
            F64x8(unsafe { _mm512_abs_pd(self.0) })
        }
        #[inline(always)]
        fn floor(self) -> Self {
            F64x8(unsafe { _mm512_roundscale_pd::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(self.0) })
        }
        #[inline(always)]
        fn max(self, o: Self) -> Self {
            F64x8(unsafe { _mm512_max_pd(self.0, o.0) })
        }
        #[inline(always)]
        fn min(self, o: Self) -> Self {
            F64x8(unsafe { _mm512_min_pd(self.0, o.0) })
        }
        #[inline(always)]
        fn gt(self, o: Self) -> __mmask8 {
            unsafe { _mm512_cmp_pd_mask::<_CMP_GT_OQ>(self.0, o.0) }
        }
        #[inline(always)]
        fn lt(self, o: Self) -> __mmask8 {
            unsafe { _mm512_cmp_pd_mask::<_CMP_LT_OQ>(self.0, o.0) }
        }
        #[inline(always)]
        fn ge(self, o: Self) -> __mmask8 {
            unsafe { _mm512_cmp_pd_mask::<_CMP_GE_OQ>(self.0, o.0) }
        }
        #[inline(always)]
        fn le(self, o: Self) -> __mmask8 {
            unsafe { _mm512_cmp_pd_mask::<_CMP_LE_OQ>(self.0, o.0) }
        }
        #[inline(always)]
        fn eq(self, o: Self) -> __mmask8 {
            unsafe { _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(self.0, o.0) }
        }
        #[inline(always)]
        fn ne(self, o: Self) -> __mmask8 {
            unsafe { _mm512_cmp_pd_mask::<_CMP_NEQ_UQ>(self.0, o.0) }
        }
        #[inline(always)]
        fn and(a: __mmask8, b: __mmask8) -> __mmask8 {
            a & b
        }
        #[inline(always)]
        fn or(a: __mmask8, b: __mmask8) -> __mmask8 {
            a | b
        }
        #[inline(always)]
        fn select(m: __mmask8, t: Self, f: Self) -> Self {
            F64x8(unsafe { _mm512_mask_blend_pd(m, f.0, t.0) })
        }
        #[inline(always)]
        fn bits(m: __mmask8) -> u32 {
            m as u32
        }
        #[inline(always)]
        fn with_lane(self, lane: usize, v: f64) -> Self {
            F64x8(unsafe { _mm512_mask_broadcastsd_pd(self.0, 1 << lane, _mm_set_sd(v)) })
        }
        #[inline(always)]
        fn transpose(m: &mut [Self]) {
            let [r0, r1, r2, r3, r4, r5, r6, r7] = m else { panic!("transpose needs 8 vectors") };
            unsafe {
                // Pairs of rows interleaved (columns 2i, 2i + 1 of two rows per 128 bits) ...
                let a = [
                    _mm512_unpacklo_pd(r0.0, r1.0),
                    _mm512_unpackhi_pd(r0.0, r1.0),
                    _mm512_unpacklo_pd(r2.0, r3.0),
                    _mm512_unpackhi_pd(r2.0, r3.0),
                    _mm512_unpacklo_pd(r4.0, r5.0),
                    _mm512_unpackhi_pd(r4.0, r5.0),
                    _mm512_unpacklo_pd(r6.0, r7.0),
                    _mm512_unpackhi_pd(r6.0, r7.0),
                ];
                // ... then four rows per 256 bits (columns c and c + 4) ...
                let lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
                let hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
                let b = [
                    _mm512_permutex2var_pd(a[0], lo, a[2]),
                    _mm512_permutex2var_pd(a[1], lo, a[3]),
                    _mm512_permutex2var_pd(a[0], hi, a[2]),
                    _mm512_permutex2var_pd(a[1], hi, a[3]),
                    _mm512_permutex2var_pd(a[4], lo, a[6]),
                    _mm512_permutex2var_pd(a[5], lo, a[7]),
                    _mm512_permutex2var_pd(a[4], hi, a[6]),
                    _mm512_permutex2var_pd(a[5], hi, a[7]),
                ];
                // ... then all eight rows: column c from the low, c + 4 from the high halves.
                r0.0 = _mm512_shuffle_f64x2::<0x44>(b[0], b[4]);
                r1.0 = _mm512_shuffle_f64x2::<0x44>(b[1], b[5]);
                r2.0 = _mm512_shuffle_f64x2::<0x44>(b[2], b[6]);
                r3.0 = _mm512_shuffle_f64x2::<0x44>(b[3], b[7]);
                r4.0 = _mm512_shuffle_f64x2::<0xEE>(b[0], b[4]);
                r5.0 = _mm512_shuffle_f64x2::<0xEE>(b[1], b[5]);
                r6.0 = _mm512_shuffle_f64x2::<0xEE>(b[2], b[6]);
                r7.0 = _mm512_shuffle_f64x2::<0xEE>(b[3], b[7]);
            }
        }
        #[inline(always)]
        unsafe fn store_i8(self, p: *mut i8) {
            // Exact for the small integers stored here (any rounding mode).
            unsafe { _mm_storel_epi64(p as *mut __m128i, _mm256_cvtepi32_epi8(_mm512_cvtpd_epi32(self.0))) }
        }
        #[inline(always)]
        fn hundredths(self) -> Self {
            unsafe {
                let q = _mm512_mul_pd(self.0, _mm512_set1_pd(0.01));
                let r = _mm512_fnmadd_pd(q, _mm512_set1_pd(100.0), self.0);
                F64x8(_mm512_fmadd_pd(r, _mm512_set1_pd(0.01), q))
            }
        }
        #[inline(always)]
        fn quotient(self, d: Self, recip: Self) -> Self {
            unsafe {
                let q = _mm512_mul_pd(self.0, recip.0);
                let r = _mm512_fnmadd_pd(q, d.0, self.0);
                F64x8(_mm512_fmadd_pd(r, recip.0, q))
            }
        }
    }
}

/// Runs a generic test function `$check::<V>()` at every vector width this CPU has
/// (scalar, SSE2, and AVX2/AVX-512 where detected), so a lane-wise kernel is compared with
/// its scalar form at each width the dispatch can pick. Exported (hidden) for the
/// integration tests in `tests/`.
#[doc(hidden)]
#[macro_export]
macro_rules! at_every_width {
    ($check:ident) => {{
        $check::<f64>();
        #[cfg(target_arch = "x86_64")]
        {
            $check::<$crate::simd::F64x2>();
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                $check::<$crate::simd::F64x4>();
            }
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512vl")
                && std::is_x86_feature_detected!("avx512dq")
            {
                $check::<$crate::simd::F64x8>();
            }
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::Simd;

    /// `transpose`, `store_i8` and `with_lane` at one vector width: the tile's (row, lane)
    /// value comes back at (lane, row), the states as the same small integers, and a
    /// replaced lane alone changes.
    fn check<V: Simd>() {
        let l = V::LANES;
        let mut tile: Vec<V> = (0..l)
            .map(|r| {
                let row: Vec<f64> = (0..l).map(|c| (10 * r + c) as f64).collect();
                unsafe { V::load(row.as_ptr()) }
            })
            .collect();
        V::transpose(&mut tile);
        for (c, v) in tile.iter().enumerate() {
            let mut got = vec![0.0; l];
            unsafe { v.store(got.as_mut_ptr()) };
            let want: Vec<f64> = (0..l).map(|r| (10 * r + c) as f64).collect();
            assert_eq!(got, want, "column {c} of a {l}-lane tile");
        }
        let states: Vec<f64> = (0..l).map(|i| [-1.0, 0.0, 1.0][i % 3]).collect();
        let mut bytes = vec![7i8; l + 1];
        unsafe { V::load(states.as_ptr()).store_i8(bytes.as_mut_ptr()) };
        let want: Vec<i8> = states.iter().map(|&s| s as i8).chain([7]).collect();
        assert_eq!(bytes, want, "{l}-lane states");
        for lane in 0..l {
            let mut got = vec![0.0; l];
            unsafe { V::load(states.as_ptr()).with_lane(lane, 9.5).store(got.as_mut_ptr()) };
            let want: Vec<f64> = (0..l).map(|i| if i == lane { 9.5 } else { states[i] }).collect();
            assert_eq!(got, want, "lane {lane} of {l} replaced");
        }
    }

    #[test]
    fn tiles_transpose_and_states_store_as_bytes_at_every_width() {
        crate::at_every_width!(check);
    }
}
