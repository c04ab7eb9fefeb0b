//! Lane arrays: `L` independent series advanced in lock-step.
//!
//! Every kernel keeps its state as `[f64; L]` (or `[[f64; L]; 9]` for a family's nine
//! members) and updates it with plain per-lane loops. Inlined into a function compiled
//! for AVX2/AVX-512 those loops become vector instructions; with `L = 1` the member loops
//! themselves are what the compiler vectorises. Buffers are interleaved: lane `l` of bar
//! `t` lives at `t * L + l`.

/// State of the nine members of one family, one row per member.
pub type Members<const L: usize> = [[f64; L]; 9];

/// A lane array with every lane set to `v`.
#[inline(always)]
pub fn splat<const L: usize>(v: f64) -> [f64; L] {
    [v; L]
}

/// Bar `t` of an interleaved buffer, all lanes.
///
/// # Safety
/// `(t + 1) * L <= buf.len()`.
#[inline(always)]
pub unsafe fn load<const L: usize>(buf: &[f64], t: usize) -> [f64; L] {
    debug_assert!((t + 1) * L <= buf.len());
    // SAFETY: the caller guarantees the whole bar lies inside `buf`.
    unsafe { *(buf.as_ptr().add(t * L) as *const [f64; L]) }
}

/// Store all lanes of bar `t` of an interleaved buffer.
///
/// # Safety
/// `(t + 1) * L <= buf.len()`.
#[inline(always)]
pub unsafe fn store<const L: usize>(buf: &mut [f64], t: usize, v: [f64; L]) {
    debug_assert!((t + 1) * L <= buf.len());
    // SAFETY: the caller guarantees the whole bar lies inside `buf`.
    unsafe { *(buf.as_mut_ptr().add(t * L) as *mut [f64; L]) = v }
}
