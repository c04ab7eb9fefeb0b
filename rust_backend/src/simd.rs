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
        fn bits(m: __m256d) -> u32 {
            unsafe { _mm256_movemask_pd(m) as u32 }
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
