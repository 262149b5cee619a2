//! Arm DSP-extension inner loops of the int8 convolution (Cortex-M4, M7, M33 with DSP, M55), and
//! the instruction wrappers and requantization shared by every int8 DSP path.
//!
//! Compiled only when the build has the DSP extension (`cfg(bfmd_dsp)`, see `build.rs`). The
//! `core::arch::arm` DSP intrinsics are unstable, so each instruction is a one-line `asm!` that
//! the compiler schedules and allocates registers for like any other operation.
//!
//! # Why the results are bit-identical to the portable loops
//!
//! * Products and sums: `SXTAB16` widens two int8 lanes to int16 and adds the input offset
//!   (`x + input_offset` is in `-255..=255`, so it fits); `SMLAD` / `SMLABB` / `SMLATT` multiply
//!   16x16 and add into a 32-bit accumulator modulo 2^32, which is the wrapping `int32`
//!   accumulation of TFLM; integer sums do not depend on their order.
//! * Requantization ([`FastRq`]): TFLM's `MultiplyByQuantizedMultiplier` rounds twice
//!   (`SaturatingRoundingDoublingHighMul`, then `RoundingDivideByPOT`). When the accumulator is
//!   known to be small enough (checked once per call by [`fast_requant_ok`]), both roundings have
//!   short exact forms; otherwise the kernels call the portable
//!   [`ChannelQuantS8::requantize`] for every output of the call.

use super::ChannelQuantS8;
use core::arch::asm;

/// `SSAT r, #8, x`: `x` clamped to `-128..=127`.
#[inline(always)]
pub(crate) fn ssat8(x: i32) -> i32 {
    let r;
    // SAFETY: a register-only saturation instruction (it may set the sticky Q flag).
    unsafe {
        asm!("ssat {r}, #8, {x}", r = lateout(reg) r, x = in(reg) x,
             options(pure, nomem, nostack));
    }
    r
}

/// `(lo, hi)` packed into the two int16 lanes of a word.
#[inline(always)]
pub(crate) const fn pack16(lo: i32, hi: i32) -> u32 {
    (lo as u32 & 0xffff) | ((hi as u32) << 16)
}

/// `SMMLAR r, a, b, add`: `add + ((a * b + 2^31) >> 32)` (64-bit product, arithmetic shift).
#[inline(always)]
pub(crate) fn smmlar(a: i32, b: i32, add: i32) -> i32 {
    let r;
    // SAFETY: a register-only multiply-accumulate of the DSP extension.
    unsafe {
        asm!("smmlar {r}, {a}, {b}, {c}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b,
             c = in(reg) add, options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// Largest `max|bias| + taps * 255 * 128` for which [`FastRq`] is exact (see
/// [`fast_requant_ok`]).
const FAST_ACC_LIMIT: u64 = 1 << 29;

/// Smallest requantization shift (largest right shift) [`FastRq`] handles.
const FAST_MIN_SHIFT: i32 = -21;

/// Whether every output of a convolution-like op with these parameters can use [`FastRq`].
///
/// `taps` is the number of products summed per output; each is `(x + input_offset) * w` with
/// `|x + input_offset| <= 255` and `|w| <= 128`, so `|acc| <= B = max|bias| + taps * 255 * 128`.
/// [`FastRq`] needs `B < 2^29` (so that the doubled accumulator it takes is below `2^30`), every
/// shift in `-21..=-1` (a right shift, no left shift) and every multiplier non-negative. Costs
/// one pass over the bias and the multipliers.
pub(crate) fn fast_requant_ok(q: &ChannelQuantS8, bias: Option<&[i32]>, taps: usize) -> bool {
    let max_bias = bias.map_or(0, |b| b.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0)) as u64;
    let bound = max_bias.saturating_add((taps as u64).saturating_mul(255 * 128));
    bound < FAST_ACC_LIMIT
        && q.shifts.iter().all(|s| (FAST_MIN_SHIFT..=-1).contains(s))
        && q.multipliers.iter().all(|&m| m >= 0)
}

/// One output channel's requantization in the form the DSP loops evaluate: TFLM's
/// `MultiplyByQuantizedMultiplier(acc, multiplier, shift) + output_offset`, saturated to int8,
/// computed from the doubled accumulator `a = 2 * acc` (the loops double the filter and the
/// bias, which is free).
///
/// With the right shift `e = -shift >= 1`:
///
/// * `SaturatingRoundingDoublingHighMul(acc, m) = (acc * m + 2^30) >> 31`: gemmlowp's nudge of
///   `1 - 2^30` for negative products followed by truncation toward zero rounds the same way as
///   adding `2^30` and flooring. That is `(a * m + 2^31) >> 32`, so `SMMLAR(a, m, R)` gives it
///   plus `R` in one instruction;
/// * `RoundingDivideByPOT(x, e)` (half away from zero) is `(x + 2^(e-1) - [x < 0]) >> e`, and
///   adding `output_offset << e` before the shift adds the offset exactly, so
///   `R = 2^(e-1) + output_offset * 2^e`;
/// * `[x < 0]` may be replaced by `[acc < 0]`: with `m >= 0` they differ only when `x == 0`,
///   where both give `output_offset` because `2^(e-1) - 1 < 2^e`.
///
/// [`fast_requant_ok`] guarantees the ranges: `|a| < 2^30`, `|x| < 2^29`, `|R| < 2^28`, so
/// nothing overflows.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub(crate) struct FastRq {
    /// The Q31 multiplier.
    pub(crate) mult: i32,
    /// `2^(e-1) + output_offset * 2^e`.
    pub(crate) round: i32,
    /// `e`, the right shift.
    pub(crate) shift: u32,
}

impl FastRq {
    /// The form of output channel `ch` of `q`; the caller has checked [`fast_requant_ok`].
    #[inline]
    pub(crate) fn new(q: &ChannelQuantS8, ch: usize) -> Self {
        let i = if q.multipliers.len() == 1 { 0 } else { ch };
        let e = (-q.shifts[i]) as u32;
        FastRq {
            mult: q.multipliers[i],
            round: (1i32 << (e - 1)) + (q.output_offset << e),
            shift: e,
        }
    }

    /// Requantizes the doubled accumulator `a` (bias included), saturated to `-128..=127` (the
    /// caller applies a narrower activation clamp).
    #[inline(always)]
    pub(crate) fn apply(self, a: i32) -> i32 {
        let t = smmlar(a, self.mult, self.round).wrapping_sub(((a as u32) >> 31) as i32);
        ssat8(t >> self.shift)
    }
}

/// Whether the clamp `act_min..=act_max` is narrower than int8 (then the loops apply it after
/// [`FastRq::apply`]'s saturation).
#[inline]
pub(crate) fn needs_clamp(q: &ChannelQuantS8) -> bool {
    q.act_min > -128 || q.act_max < 127
}
