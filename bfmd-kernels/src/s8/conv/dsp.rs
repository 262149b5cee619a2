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
//!   known to be small enough (checked per block of channels by [`fast_requant_ok`]), both roundings have
//!   short exact forms. Blocks whose accumulators may be larger (trained layers have channels
//!   with tiny weight scales and huge biases) use [`WideRq`], one rounding of the 64-bit
//!   product, when their shifts are right shifts; the rest call the portable
//!   [`ChannelQuantS8::requantize`].

use super::{ChannelQuantS8, ConvS8Params};
use crate::reference::conv::is_pointwise;
use crate::shape::ConvGeometry;
use core::arch::asm;
use core::mem::MaybeUninit;

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

/// `SXTB16 r, x`: `(sext(x.b0), sext(x.b2))` as two int16 lanes.
#[inline(always)]
pub(crate) fn sxtb16(x: u32) -> u32 {
    let r;
    // SAFETY: a register-only instruction of the DSP extension.
    unsafe {
        asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x,
             options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// `SXTB16 r, x, ROR #8`: `(sext(x.b1), sext(x.b3))`.
#[inline(always)]
pub(crate) fn sxtb16_ror8(x: u32) -> u32 {
    let r;
    // SAFETY: a register-only instruction of the DSP extension.
    unsafe {
        asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x,
             options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// `SXTAB16 r, a, x`: `(a.lo + sext(x.b0), a.hi + sext(x.b2))`.
#[inline(always)]
pub(crate) fn sxtab16(a: u32, x: u32) -> u32 {
    let r;
    // SAFETY: a register-only instruction of the DSP extension.
    unsafe {
        asm!("sxtab16 {r}, {a}, {x}", r = lateout(reg) r, a = in(reg) a, x = in(reg) x,
             options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// `SXTAB16 r, a, x, ROR #8`: `(a.lo + sext(x.b1), a.hi + sext(x.b3))`.
#[inline(always)]
pub(crate) fn sxtab16_ror8(a: u32, x: u32) -> u32 {
    let r;
    // SAFETY: a register-only instruction of the DSP extension.
    unsafe {
        asm!("sxtab16 {r}, {a}, {x}, ror #8", r = lateout(reg) r, a = in(reg) a, x = in(reg) x,
             options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// `SADD16 r, a, b`: lane-wise int16 sums (modulo 2^16).
#[inline(always)]
pub(crate) fn sadd16(a: u32, b: u32) -> u32 {
    let r;
    // SAFETY: a register-only instruction of the DSP extension (it sets the GE flags).
    unsafe {
        asm!("sadd16 {r}, {a}, {b}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b,
             options(pure, nomem, nostack));
    }
    r
}

/// `SMLAD r, a, b, acc`: `acc + a.lo * b.lo + a.hi * b.hi` (int16 lanes), modulo 2^32.
#[inline(always)]
pub(crate) fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    let r;
    // SAFETY: a register-only instruction of the DSP extension (it may set the sticky Q flag).
    unsafe {
        asm!("smlad {r}, {a}, {b}, {c}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b,
             c = in(reg) acc, options(pure, nomem, nostack));
    }
    r
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

/// Whether every output channel in `channels` of a convolution-like op can use [`FastRq`]
/// (the loops decide per block of channels, so one channel outside the fast form only sends
/// its own block to the general requantization).
///
/// `taps` is the number of products summed per output; each is `(x + input_offset) * w` with
/// `|x + input_offset| <= 255` and `|w| <= 128`, so `|acc| <= B = |bias| + taps * 255 * 128`.
/// [`FastRq`] needs `B < 2^29` (so that the doubled accumulator it takes is below `2^30`), a
/// shift in `-21..=-1` (a right shift, no left shift) and a non-negative multiplier.
pub(crate) fn fast_requant_ok(
    q: &ChannelQuantS8,
    bias: Option<&[i32]>,
    taps: usize,
    channels: core::ops::Range<usize>,
) -> bool {
    let tap_bound = (taps as u64).saturating_mul(255 * 128);
    if tap_bound >= FAST_ACC_LIMIT {
        return false;
    }
    // `|bias|` must stay below this; the bound is hoisted out of the channel loop.
    let lim = (FAST_ACC_LIMIT - tap_bound) as u32;
    let ok = |m: i32, s: i32| (s - FAST_MIN_SHIFT) as u32 <= (-1 - FAST_MIN_SHIFT) as u32 && m >= 0;
    let (ms, ss) = if q.multipliers.len() == 1 {
        if !ok(q.multipliers[0], q.shifts[0]) {
            return false;
        }
        (&[][..], &[][..])
    } else {
        (
            &q.multipliers[channels.clone()],
            &q.shifts[channels.clone()],
        )
    };
    let bias_ok = match bias {
        Some(b) => b[channels].iter().all(|b| b.unsigned_abs() < lim),
        None => true,
    };
    bias_ok && ms.iter().zip(ss).all(|(&m, &s)| ok(m, s))
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
        let (mult, shift) = q.params(ch);
        let e = (-shift) as u32;
        FastRq {
            mult,
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

/// Whether every output channel in `channels` can use [`WideRq`]: a right shift
/// (`shift` in `-31..=-1`) and a non-negative multiplier, or a zero multiplier (an all-zero
/// filter of scale 0, common in trained layers, whose outputs are the output offset whatever
/// the shift). Unlike [`fast_requant_ok`] there is no
/// bound on the accumulator, so channels whose tiny weight scale gives them a huge bias (common
/// in trained models) keep a fast form.
pub(crate) fn wide_requant_ok(q: &ChannelQuantS8, channels: core::ops::Range<usize>) -> bool {
    channels.into_iter().all(|c| {
        let (m, s) = q.params(c);
        m == 0 || ((-31..=-1).contains(&s) && m > 0)
    })
}

/// One output channel's requantization for any accumulator: TFLM's
/// `MultiplyByQuantizedMultiplier(acc, multiplier, shift) + output_offset`, saturated to int8,
/// with one rounding of the 64-bit product (`SMLAL`).
///
/// With `P = acc * m` and the right shift `e = -shift >= 1`:
///
/// * `x = SaturatingRoundingDoublingHighMul(acc, m) = floor((P + 2^30) / 2^31)` (see
///   [`FastRq`]; `m >= 0` rules out the one saturating case);
/// * `RoundingDivideByPOT(x, e) = floor((x + 2^(e-1) - [x < 0]) / 2^e)`, and since the added
///   term is an integer the two floors merge:
///   `floor((P + 2^30 + 2^(30+e) - [x < 0] * 2^31) / 2^(31+e))`;
/// * `[x < 0]` may be replaced by `[acc < 0]` for the reason given in [`FastRq`].
///
/// The numerator `Q` is below `2^63` in magnitude (`|P| < 2^62`), so the 64-bit sum is exact,
/// and `floor(Q / 2^(31+e))` is the high word of `Q` shifted right by `e - 1`; the output offset
/// is added to that (no overflow: the quotient is below `2^31` in magnitude).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub(crate) struct WideRq {
    /// `2^30 + 2^(30+e)` as a 64-bit value: low word first.
    pub(crate) k: [u32; 2],
    /// The Q31 multiplier.
    pub(crate) mult: i32,
    /// `e - 1`, the right shift of the high word.
    pub(crate) shift: u32,
}

impl WideRq {
    /// The form of output channel `ch` of `q`; the caller has checked [`wide_requant_ok`].
    #[inline]
    pub(crate) fn new(q: &ChannelQuantS8, ch: usize) -> Self {
        let (mult, shift) = q.params(ch);
        // A zero multiplier gives `SaturatingRoundingDoublingHighMul = 0` and then 0 for any
        // shift; the form with `e = 1` gives 0 too (`floor(Q / 2^32)` with `0 < Q < 2^32`).
        let e = if mult == 0 { 1 } else { (-shift) as u32 };
        let k = (1u64 << 30) + (1u64 << (30 + e));
        WideRq {
            k: [k as u32, (k >> 32) as u32],
            mult,
            shift: e - 1,
        }
    }

    /// Requantizes the accumulator `acc` (bias included) and adds `output_offset`, saturated to
    /// `-128..=127` (the caller applies a narrower activation clamp).
    #[inline(always)]
    pub(crate) fn apply(self, acc: i32, output_offset: i32) -> i32 {
        let k = (self.k[0] as u64 | ((self.k[1] as u64) << 32)) as i64;
        let neg = ((acc as u32) >> 31) as i64;
        let q = k
            .wrapping_add(acc as i64 * self.mult as i64)
            .wrapping_sub(neg << 31);
        ssat8((((q >> 32) as i32) >> self.shift).wrapping_add(output_offset))
    }
}

/// Assembly of [`WideRq::apply`] for accumulator `$a`, result in `$a`: `$k` addresses the
/// channel's 64-bit `k`, `$m` its multiplier and `$sh` its shift. Expects the output offset in
/// `{v}` and `0x8000_0000` in `{n}`; uses `{w0}`, `{w1}` and `{t}` as temporaries.
macro_rules! requant_wide {
    ($a:literal, $k:literal, $m:literal, $sh:literal) => {
        concat!(
            "ldrd {w0}, {w1}, ",
            $k,
            "\n",
            "ldr {t}, ",
            $m,
            "\n",
            "smlal {w0}, {w1}, ",
            $a,
            ", {t}\n",
            "lsr {t}, ",
            $a,
            ", #31\n",
            "smlal {w0}, {w1}, {t}, {n}\n",
            "ldr {t}, ",
            $sh,
            "\n",
            "asr {w1}, {w1}, {t}\n",
            "add {w1}, {w1}, {v}\n",
            "ssat ",
            $a,
            ", #8, {w1}\n",
        )
    };
}

/// Assembly of [`FastRq::apply`] for accumulator `$a` (a register operand such as `"{a0}"`),
/// result in `$a`: `$mr` addresses the channel's `(mult, round)` pair, `$sh` its `shift`.
/// Uses the operands `{w0}`, `{w1}` and `{t}` as temporaries.
macro_rules! requant {
    ($a:literal, $mr:literal, $sh:literal) => {
        concat!(
            "ldrd {w0}, {w1}, ",
            $mr,
            "\n",
            "smmlar {t}, ",
            $a,
            ", {w0}, {w1}\n",
            "ldr {w0}, ",
            $sh,
            "\n",
            "add {t}, {t}, ",
            $a,
            ", asr #31\n",
            "asr {t}, {t}, {w0}\n",
            "ssat ",
            $a,
            ", #8, {t}\n",
        )
    };
}
pub(crate) use requant;

/// Assembly storing four saturated results `{a0}..{a3}` as the bytes at `{y}`.
macro_rules! store_bytes {
    () => {
        concat!(
            "strb {a0}, [{y}]\n",
            "strb {a1}, [{y}, #1]\n",
            "strb {a2}, [{y}, #2]\n",
            "strb {a3}, [{y}, #3]\n",
        )
    };
}
pub(crate) use store_bytes;

/// Assembly packing four saturated results `{a0}..{a3}`, clamping them lane by lane to the
/// `(act_min, act_max)` lane words at `$clamp` (`SSUB8` + `SEL`) and storing them as one word
/// at `{y}`. Uses `{w0}`, `{w1}` and `{t}` as temporaries.
macro_rules! store_clamped {
    ($clamp:literal) => {
        concat!(
            "pkhbt {a0}, {a0}, {a2}, lsl #16\n",
            "pkhbt {a1}, {a1}, {a3}, lsl #16\n",
            "uxtb16 {a0}, {a0}\n",
            "uxtb16 {a1}, {a1}\n",
            "orr {a0}, {a0}, {a1}, lsl #8\n",
            "ldrd {w0}, {w1}, ",
            $clamp,
            "\n",
            "ssub8 {t}, {a0}, {w0}\n",
            "sel {a0}, {a0}, {w0}\n",
            "ssub8 {t}, {w1}, {a0}\n",
            "sel {a0}, {a0}, {w1}\n",
            "str {a0}, [{y}]\n",
        )
    };
}
pub(crate) use store_clamped;

/// Whether the clamp `act_min..=act_max` is narrower than int8 (then the loops apply it after
/// [`FastRq::apply`]'s saturation).
#[inline]
pub(crate) fn needs_clamp(q: &ChannelQuantS8) -> bool {
    q.act_min > -128 || q.act_max < 127
}

/// Packs `n <= 4` saturated results into the low bytes of a word (lane 0 lowest).
#[inline(always)]
pub(crate) fn pack8(v: [i32; 4]) -> u32 {
    (v[0] as u32 & 0xff)
        | ((v[1] as u32 & 0xff) << 8)
        | ((v[2] as u32 & 0xff) << 16)
        | ((v[3] as u32) << 24)
}

/// `max(min(v, hi), lo)` on each of the four int8 lanes of `v` (`SSUB8` + `SEL`).
#[inline(always)]
pub(crate) fn clamp4(v: u32, lo: u32, hi: u32) -> u32 {
    let r;
    // SAFETY: register-only DSP instructions; the GE flags they set and read are clobbered
    // (the block does not preserve flags).
    unsafe {
        asm!(
            "ssub8 {t}, {v}, {lo}",
            "sel {v}, {v}, {lo}",
            "ssub8 {t}, {hi}, {v}",
            "sel {v}, {v}, {hi}",
            v = inout(reg) v => r,
            lo = in(reg) lo,
            hi = in(reg) hi,
            t = out(reg) _,
            options(pure, nomem, nostack),
        );
    }
    r
}

/// `v` broadcast to the four int8 lanes of a word.
#[inline(always)]
pub(crate) const fn lanes8(v: i32) -> u32 {
    (v as u8 as u32) * 0x0101_0101
}

/// How a block of four output channels is requantized.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rq4 {
    /// [`FastRq`] on doubled accumulators (doubled filters and bias).
    Fast([FastRq; 4]),
    /// [`WideRq`] on plain accumulators.
    Wide([WideRq; 4]),
    /// TFLM's general form ([`ChannelQuantS8::requantize`]).
    General,
}

/// The requantization of a block of four output channels: the fast form when
/// [`fast_requant_ok`] holds for the block (the accumulators are then doubled), the wide form
/// when [`wide_requant_ok`] does, TFLM's general form otherwise; then the activation clamp when
/// it is narrower than int8.
pub(crate) struct Finish4<'q, 'a> {
    q: &'q ChannelQuantS8<'a>,
    /// The channel whose parameters each lane uses (lanes past the op's last channel, which are
    /// computed but never stored, use the block's first channel).
    ch: [usize; 4],
    /// The block's channels (lanes stored).
    lanes: usize,
    /// Per-channel form.
    rq: Rq4,
    /// `(act_min, act_max)` broadcast to four lanes, when narrower than int8.
    clamp: Option<(u32, u32)>,
}

impl<'q, 'a> Finish4<'q, 'a> {
    /// The block of channels `c0..min(c0 + 4, channels)`; `fast` says whether
    /// [`fast_requant_ok`] holds for it (the caller then doubles the accumulators).
    #[inline(always)]
    pub(crate) fn new(q: &'q ChannelQuantS8<'a>, c0: usize, channels: usize, fast: bool) -> Self {
        let ch = core::array::from_fn(|j| if c0 + j < channels { c0 + j } else { c0 });
        let rq = if fast {
            Rq4::Fast(ch.map(|c| FastRq::new(q, c)))
        } else if wide_requant_ok(q, c0..channels.min(c0 + 4)) {
            Rq4::Wide(ch.map(|c| WideRq::new(q, c)))
        } else {
            Rq4::General
        };
        Finish4 {
            q,
            ch,
            lanes: channels.min(c0 + 4) - c0,
            rq,
            clamp: needs_clamp(q).then(|| (lanes8(q.act_min), lanes8(q.act_max))),
        }
    }

    /// The per-channel fast forms (`None` unless the block uses [`FastRq`]).
    pub(crate) fn fast(&self) -> Option<[FastRq; 4]> {
        match self.rq {
            Rq4::Fast(rq) => Some(rq),
            _ => None,
        }
    }

    /// The block's form.
    pub(crate) fn form(&self) -> Rq4 {
        self.rq
    }

    /// The number of channels in the block (one to four).
    pub(crate) fn lanes(&self) -> usize {
        self.lanes
    }

    /// Whether a clamp narrower than int8 applies.
    pub(crate) fn clamps(&self) -> bool {
        self.clamp.is_some()
    }

    /// `(act_min, act_max)` broadcast to four lanes.
    pub(crate) fn clamp_lanes(&self) -> [u32; 2] {
        [lanes8(self.q.act_min), lanes8(self.q.act_max)]
    }

    /// The four output bytes of accumulators `acc` (bias included; doubled on the fast path),
    /// packed little-endian.
    #[inline(always)]
    pub(crate) fn apply(&self, acc: [i32; 4]) -> u32 {
        let v = match &self.rq {
            Rq4::Fast(rq) => pack8([
                rq[0].apply(acc[0]),
                rq[1].apply(acc[1]),
                rq[2].apply(acc[2]),
                rq[3].apply(acc[3]),
            ]),
            Rq4::Wide(rq) => {
                let off = self.q.output_offset;
                pack8([
                    rq[0].apply(acc[0], off),
                    rq[1].apply(acc[1], off),
                    rq[2].apply(acc[2], off),
                    rq[3].apply(acc[3], off),
                ])
            }
            Rq4::General => pack8(core::array::from_fn(|j| {
                self.q.requantize(acc[j], self.ch[j]) as i32
            })),
        };
        match self.clamp {
            Some((lo, hi)) => clamp4(v, lo, hi),
            None => v,
        }
    }
}

#[allow(unused_imports)] // For the documentation's links.
use super::MAX_K;
use super::{dot_block_bytes, OVERLAP_BLOCK_BYTES};
use super::{QUAD_WINDOW, XW_BYTES};
use crate::path::split_aligned;

/// Four output channels' widened filters and everything the dot loop reads, at the byte
/// offsets its assembly uses (relative to `w`, checked below). Made in scratch
/// ([`DotBlock::in_scratch`], [`dot_block_bytes`] bytes): `w` holds the widened filter of
/// windows of up to `(w.len() - 1) / 2` elements and its byte length.
#[repr(C, align(8))]
struct DotBlock<W: ?Sized = [MaybeUninit<u32>]> {
    /// The four channels' bias with `input_offset * sum(w)` folded in (doubled on the fast
    /// path): windows are summed as `sum w * x` on raw int8 inputs.
    bias: [i32; 4],
    /// Fast requantization of the four channels.
    rq: [FastRq; 4],
    /// Wide requantization of the four channels.
    wide: [WideRq; 4],
    /// `(act_min, act_max)` broadcast to four lanes.
    clamp: [u32; 2],
    /// Eight-element steps per window.
    steps: u32,
    /// Bytes from the end of one window to the start of the next.
    x_skip: isize,
    /// Bytes from one output pixel to the next.
    y_step: usize,
    /// Windows left in the run.
    count: u32,
    /// The output offset ([`WideRq`] adds it after the shift).
    off: i32,
    /// Four-element quads per window (`kp / 4`; odd only for [`QUAD_WINDOW`], which
    /// [`DotBlock::run_short`] and [`DotBlock::dot`] take unrolled). Also keeps `w` 8-byte
    /// aligned.
    quads: u32,
    /// Per four window elements `e..e + 4` and filter `k`: `(w[k, e], w[k, e + 2])` and
    /// `(w[k, e + 1], w[k, e + 3])` as int16 pairs (doubled on the fast path), so that one
    /// `SXTB16` pair of the inputs feeds `SMLAD` directly; then the byte length of the widened
    /// filter, which the loop subtracts to rewind.
    /// Not initialized when the block is made: [`DotBlock::widen`] writes every word the loops
    /// then read.
    w: W,
}

/// A [`DotBlock`] with one word of filter, for the layout checks.
type DotBlock1 = DotBlock<[MaybeUninit<u32>; 1]>;

/// Bytes of a [`DotBlock`] before its widened filter.
pub(crate) const DOT_HEAD_BYTES: usize = core::mem::offset_of!(DotBlock1, w);

const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(DotBlock1, bias) == 0);
    assert!(offset_of!(DotBlock1, rq) == 16);
    assert!(offset_of!(DotBlock1, wide) == 64);
    assert!(offset_of!(DotBlock1, clamp) == 128);
    assert!(offset_of!(DotBlock1, steps) == 136);
    assert!(offset_of!(DotBlock1, x_skip) == 140);
    assert!(offset_of!(DotBlock1, y_step) == 144);
    assert!(offset_of!(DotBlock1, count) == 148);
    assert!(offset_of!(DotBlock1, off) == 152);
    assert!(offset_of!(DotBlock1, w) == 160);
    assert!(DOT_HEAD_BYTES == super::DOT_HEAD);
    assert!(core::mem::align_of::<DotBlock1>() == 8);
    assert!(core::mem::size_of::<FastRq>() == 12);
    assert!(core::mem::size_of::<WideRq>() == 16);
    assert!(offset_of!(WideRq, mult) == 8);
    assert!(offset_of!(WideRq, shift) == 12);
};

/// Four input elements against four widened filters: `SXTB16` splits the inputs into even and
/// odd int16 lanes, each `SMLAD` adds two products. `{x}` and `{w}` advance.
macro_rules! dot4x4 {
    () => {
        concat!(
            "ldr {v}, [{x}], #4\n",
            "sxtb16 {t}, {v}\n",
            "sxtb16 {v}, {v}, ror #8\n",
            "ldrd {w0}, {w1}, [{w}], #8\n",
            "smlad {a0}, {t}, {w0}, {a0}\n",
            "smlad {a0}, {v}, {w1}, {a0}\n",
            "ldrd {w0}, {w1}, [{w}], #8\n",
            "smlad {a1}, {t}, {w0}, {a1}\n",
            "smlad {a1}, {v}, {w1}, {a1}\n",
            "ldrd {w0}, {w1}, [{w}], #8\n",
            "smlad {a2}, {t}, {w0}, {a2}\n",
            "smlad {a2}, {v}, {w1}, {a2}\n",
            "ldrd {w0}, {w1}, [{w}], #8\n",
            "smlad {a3}, {t}, {w0}, {a3}\n",
            "smlad {a3}, {v}, {w1}, {a3}\n",
        )
    };
}

/// Four pre-widened input elements (two words of int16 pairs laid out like the widened
/// filter, see [`widen_pixels`]) against four widened filters: one `LDRD` of inputs and no
/// `SXTB16`. `{x}` and `{w}` advance.
macro_rules! dot4x4w {
    () => {
        concat!(
            "ldrd {v}, {t}, [{x}], #8\n",
            "ldrd {w0}, {w1}, [{w}], #8\n",
            "smlad {a0}, {v}, {w0}, {a0}\n",
            "smlad {a0}, {t}, {w1}, {a0}\n",
            "ldrd {w0}, {w1}, [{w}], #8\n",
            "smlad {a1}, {v}, {w0}, {a1}\n",
            "smlad {a1}, {t}, {w1}, {a1}\n",
            "ldrd {w0}, {w1}, [{w}], #8\n",
            "smlad {a2}, {v}, {w0}, {a2}\n",
            "smlad {a2}, {t}, {w1}, {a2}\n",
            "ldrd {w0}, {w1}, [{w}], #8\n",
            "smlad {a3}, {v}, {w0}, {a3}\n",
            "smlad {a3}, {t}, {w1}, {a3}\n",
        )
    };
}

/// Eight [`dot4x4w`]: thirty-two widened input elements.
macro_rules! dot4x8w {
    () => {
        concat!(
            dot4x4w!(),
            dot4x4w!(),
            dot4x4w!(),
            dot4x4w!(),
            dot4x4w!(),
            dot4x4w!(),
            dot4x4w!(),
            dot4x4w!(),
        )
    };
}

/// Seven [`dot4x4`]: one [`QUAD_WINDOW`] of raw inputs.
macro_rules! dot4x7 {
    () => {
        concat!(
            dot4x4!(),
            dot4x4!(),
            dot4x4!(),
            dot4x4!(),
            dot4x4!(),
            dot4x4!(),
            dot4x4!(),
        )
    };
}

/// The window loop: `[{w}, #-24]` steps of eight elements, four at a time by `$dot4`
/// ([`dot4x4`] on raw int8 inputs, [`dot4x4w`] on widened ones). Two steps per iteration
/// (the loop overhead is a tenth of a step on long windows); an odd step count enters the
/// loop at its second step, with `(steps + 1) / 2` iterations.
macro_rules! dot_window {
    ($dot4:expr) => {
        concat!(
            "ldr {n}, [{w}, #-24]\n",
            "adds {n}, {n}, #1\n",
            "lsrs {n}, {n}, #1\n",
            "bcc 4f\n",
            "3:\n",
            $dot4,
            $dot4,
            "4:\n",
            $dot4,
            $dot4,
            "subs {n}, {n}, #1\n",
            "bne 3b\n",
            "ldr {v}, [{w}]\n",
            "sub {w}, {w}, {v}\n",
        )
    };
}

/// The fast requantization of the four accumulators ([`FastRq`] at `[{w}, #-144]`).
macro_rules! requant4_fast {
    () => {
        concat!(
            requant!("{a0}", "[{w}, #-144]", "[{w}, #-136]"),
            requant!("{a1}", "[{w}, #-132]", "[{w}, #-124]"),
            requant!("{a2}", "[{w}, #-120]", "[{w}, #-112]"),
            requant!("{a3}", "[{w}, #-108]", "[{w}, #-100]"),
        )
    };
}

/// The wide requantization of the four accumulators ([`WideRq`] at `[{w}, #-96]`, the output
/// offset at `[{w}, #-8]`).
macro_rules! requant4_wide {
    () => {
        concat!(
            "mov {n}, #0x80000000\n",
            "ldr {v}, [{w}, #-8]\n",
            requant_wide!("{a0}", "[{w}, #-96]", "[{w}, #-88]", "[{w}, #-84]"),
            requant_wide!("{a1}", "[{w}, #-80]", "[{w}, #-72]", "[{w}, #-68]"),
            requant_wide!("{a2}", "[{w}, #-64]", "[{w}, #-56]", "[{w}, #-52]"),
            requant_wide!("{a3}", "[{w}, #-48]", "[{w}, #-40]", "[{w}, #-36]"),
        )
    };
}

/// The run loop: `[{w}, #-12]` windows, each biased, summed, requantized (`$requant`) and
/// stored (`$store`), then `{y}` and `{x}` advance.
macro_rules! dot_run {
    ($dot4:expr, $requant:expr, $store:expr) => {
        concat!(
            "2:\n",
            "ldrd {a0}, {a1}, [{w}, #-160]\n",
            "ldrd {a2}, {a3}, [{w}, #-152]\n",
            dot_window!($dot4),
            $requant,
            $store,
            "ldr {v}, [{w}, #-16]\n",
            "add {y}, {y}, {v}\n",
            "ldr {v}, [{w}, #-20]\n",
            "add {x}, {x}, {v}\n",
            "ldr {v}, [{w}, #-12]\n",
            "subs {v}, {v}, #1\n",
            "str {v}, [{w}, #-12]\n",
            "bne 2b\n",
        )
    };
}

/// The run loop for windows of one, two, four, eight or sixteen eight-element steps that
/// follow each other with no gap (`x_skip == 0`): the window is unrolled (`$dot`, rewinding
/// `{w}` by the `$rewind` bytes it advanced), which saves the step loop, the rewind load and the
/// input skip of [`dot_run`] (8 to 24 instructions per window). `$next` counts the windows:
/// [`next_reg`] keeps the count in `{n}` (the fast requantization leaves it alone), [`next_mem`]
/// in the block (the wide one uses `{n}`).
macro_rules! dot_run_short {
    ($dot:expr, $rewind:literal, $requant:expr, $store:expr, $next:expr) => {
        concat!(
            "2:\n",
            "ldrd {a0}, {a1}, [{w}, #-160]\n",
            "ldrd {a2}, {a3}, [{w}, #-152]\n",
            $dot,
            "sub {w}, {w}, #",
            $rewind,
            "\n",
            $requant,
            $store,
            "ldr {v}, [{w}, #-16]\n",
            "add {y}, {y}, {v}\n",
            $next,
        )
    };
}

/// The window count of [`dot_run_short`] in `{n}`.
macro_rules! next_reg {
    () => {
        concat!("subs {n}, {n}, #1\n", "bne 2b\n")
    };
}

/// The window count of [`dot_run_short`] in the block (`[{w}, #-12]`).
macro_rules! next_mem {
    () => {
        concat!(
            "ldr {v}, [{w}, #-12]\n",
            "subs {v}, {v}, #1\n",
            "str {v}, [{w}, #-12]\n",
            "bne 2b\n",
        )
    };
}

/// Widens `n` words of four int8 weights at `f` into int16 pairs `(w0, w2)`, `(w1, w3)`
/// (doubled when `double`) at `d`, `d + 1`, then `d + 8`, ... (one block row every 32 bytes);
/// returns the sum of the widened weights.
///
/// # Safety
/// `f` has `4 * n` readable bytes; `d + 8 * s` and `d + 8 * s + 1` are writable words for
/// `s < n`, and `d` is word aligned.
#[inline(always)]
unsafe fn widen_words(f: *const i8, d: *mut u32, n: usize, double: bool) -> i32 {
    let mut sum = 0i32;
    if n == 0 {
        return sum;
    }
    macro_rules! go {
        ($double:expr) => {
            // SAFETY: the caller guarantees the reads and writes.
            unsafe {
                asm!(
                    "2:",
                    "ldr {v}, [{f}], #4",
                    "sxtb16 {lo}, {v}",
                    "sxtb16 {hi}, {v}, ror #8",
                    $double,
                    "smlad {s}, {lo}, {ones}, {s}",
                    "smlad {s}, {hi}, {ones}, {s}",
                    "strd {lo}, {hi}, [{d}], #32",
                    "subs {n}, {n}, #1",
                    "bne 2b",
                    f = inout(reg) f => _,
                    d = inout(reg) d => _,
                    n = inout(reg) n => _,
                    s = inout(reg) sum,
                    ones = in(reg) 0x0001_0001u32,
                    v = out(reg) _,
                    lo = out(reg) _,
                    hi = out(reg) _,
                    options(nostack),
                )
            }
        };
    }
    if double {
        go!("sadd16 {lo}, {lo}, {lo}\nsadd16 {hi}, {hi}, {hi}");
    } else {
        go!("");
    }
    sum
}

impl DotBlock {
    /// A block for windows of up to `kp` elements at the front of `scratch` (from its first
    /// 8-byte boundary), and the scratch after it; `None` when `scratch` is too short.
    fn in_scratch(scratch: &mut [u8], kp: usize) -> Option<(&mut DotBlock, &mut [u8])> {
        let (b, rest) = split_aligned(scratch, dot_block_bytes(kp))?;
        let words = (b.len() - DOT_HEAD_BYTES) / 4;
        let w = core::ptr::slice_from_raw_parts_mut(b.as_mut_ptr() as *mut MaybeUninit<u32>, words);
        // SAFETY: `b` is 8-byte aligned (the block's alignment) and holds the header and
        // `words` words (`DOT_HEAD_BYTES + 4 * words <= b.len()`); every header field is an
        // integer, valid for any initialized bytes, and the words are `MaybeUninit`. The block
        // borrows `b` exclusively for as long as the returned reference lives.
        let blk = unsafe { &mut *(w as *mut DotBlock) };
        blk.bias = [0; 4];
        blk.rq = [FastRq::default(); 4];
        blk.wide = [WideRq::default(); 4];
        blk.clamp = [0; 2];
        blk.steps = 0;
        blk.x_skip = 0;
        blk.y_step = 0;
        blk.count = 0;
        blk.off = 0;
        blk.quads = 0;
        Some((blk, rest))
    }

    /// Widens the filter rows starting at `rows[j]` (`k` elements each; absent rows are zero)
    /// for windows of `kp` elements (`k` rounded up to a multiple of 8, the excess zero),
    /// doubled when `double`; returns each row's sum of widened weights.
    #[inline(always)]
    fn widen(
        &mut self,
        filter: &[i8],
        rows: [Option<usize>; 4],
        k: usize,
        kp: usize,
        double: bool,
    ) -> [i32; 4] {
        const ONES: u32 = 0x0001_0001;
        let mut sums = [0i32; 4];
        let (quads, full) = (kp / 4, k / 4);
        // One bounds check for the block (the widened filter and its length word after it).
        let dst = &mut self.w[..8 * quads + 1];
        for (j, row) in rows.iter().enumerate() {
            let Some(r) = *row else {
                for s in 0..quads {
                    dst[8 * s + 2 * j].write(0);
                    dst[8 * s + 2 * j + 1].write(0);
                }
                continue;
            };
            let f = &filter[r..r + k];
            // SAFETY: the loop reads the `4 * full <= k` bytes of `f` (unaligned loads are
            // allowed on these cores) and writes words `8 * s + 2 * j` and `8 * s + 2 * j + 1`
            // of `dst` for `s < full <= quads` (`j < 4`; word aligned, as `STRD` needs).
            let mut sum = unsafe {
                widen_words(f.as_ptr(), dst.as_mut_ptr().add(2 * j).cast(), full, double)
            };
            // The last, partial quad and the zero padding up to `kp` (none when `k` is a
            // multiple of 4 and of 8, as for every pointwise layer).
            if full < quads {
                for (s, d) in dst[..8 * quads].chunks_exact_mut(8).enumerate().skip(full) {
                    let e = 4 * s;
                    let word = {
                        let b = |i: usize| if e + i < k { f[e + i] as u8 } else { 0 };
                        u32::from_le_bytes([b(0), b(1), b(2), b(3)])
                    };
                    let (mut lo, mut hi) = (sxtb16(word), sxtb16_ror8(word));
                    if double {
                        lo = sadd16(lo, lo);
                        hi = sadd16(hi, hi);
                    }
                    sum = smlad(hi, ONES, smlad(lo, ONES, sum));
                    d[2 * j].write(lo);
                    d[2 * j + 1].write(hi);
                }
            }
            sums[j] = sum;
        }
        self.w[2 * kp].write((8 * kp) as u32);
        self.steps = (kp / 8) as u32;
        self.quads = (kp / 4) as u32;
        sums
    }

    /// Widens output channels `o0..min(o0 + 4, o_end)` of the filter (windows of `k` elements,
    /// `kp` after padding) with their bias and requantization; returns the block's
    /// requantization and whether [`DotBlock::run`] can take it (`Some(wide)`: four channels
    /// with the fast or the wide form).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn prepare<'q, 'a>(
        &mut self,
        p: &'q ConvS8Params<'a>,
        filter: &[i8],
        bias: Option<&[i32]>,
        o0: usize,
        o_end: usize,
        k: usize,
        kp: usize,
    ) -> (Finish4<'q, 'a>, Option<bool>) {
        let q = &p.quant;
        let nb = (o_end - o0).min(4);
        let fast = fast_requant_ok(q, bias, k, o0..o0 + nb);
        let scale = if fast { 2 } else { 1 };
        let rows = core::array::from_fn(|j| (j < nb).then_some((o0 + j) * k));
        let sums = self.widen(filter, rows, k, kp, fast);
        let off = q.input_offset;
        let b = |j: usize| bias.map_or(0, |b| b[(o0 + j).min(o_end - 1)]);
        self.bias = core::array::from_fn(|j| {
            b(j).wrapping_mul(scale)
                .wrapping_add(off.wrapping_mul(sums[j]))
        });
        let fin = Finish4::new(q, o0, o_end, fast);
        let wide = match fin.form() {
            Rq4::Fast(rq) => {
                self.rq = rq;
                Some(false)
            }
            Rq4::Wide(rq) => {
                self.wide = rq;
                self.off = q.output_offset;
                Some(true)
            }
            Rq4::General => None,
        };
        self.clamp = fin.clamp_lanes();
        (fin, wide.filter(|_| nb == 4))
    }

    /// Sums `count` windows against the prepared block and stores the requantized outputs:
    /// the assembly loop when `wide` is `Some`, else one window at a time with `fin` (storing
    /// only the block's channels). Windows are raw int8 (`kp = 4 * quads` bytes each) or, when
    /// `widened`, widened by [`widen_pixels`] (`2 * kp` bytes, word aligned).
    ///
    /// # Safety
    /// Window `i` is the readable window at `x + i * stride` (`stride` at least the window's
    /// bytes); output `i` is the block's channels (four when `wide` is `Some`), writable, at
    /// `y + i * y_step`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn windows(
        &mut self,
        fin: &Finish4,
        wide: Option<bool>,
        widened: bool,
        x: *const i8,
        stride: usize,
        count: usize,
        y: *mut i8,
    ) {
        if count == 0 {
            return;
        }
        let bytes = 4 * self.quads as usize * if widened { 2 } else { 1 };
        if let Some(wide) = wide {
            self.count = count as u32;
            self.x_skip = (stride - bytes) as isize;
            // SAFETY: the caller guarantees the windows and the outputs.
            unsafe { self.run(widened, wide, fin.clamps(), x, y) };
            return;
        }
        let nb = fin.lanes();
        for i in 0..count {
            let mut acc = self.bias;
            // SAFETY: window `i` has `kp` readable bytes (the caller's guarantee).
            unsafe { self.dot(widened, &mut acc, x.wrapping_add(i * stride)) };
            let v = fin.apply(acc).to_le_bytes();
            let yi = y.wrapping_add(i * self.y_step);
            for (j, &b) in v.iter().enumerate().take(nb) {
                // SAFETY: output `i` holds the block's `nb` channels (the caller's guarantee).
                unsafe { *yi.add(j) = b as i8 };
            }
        }
    }

    /// Runs `self.count` (at least one) windows through the loop, requantizing with the
    /// block's [`FastRq`] forms (`wide` false) or [`WideRq`] forms (`wide` true).
    ///
    /// # Safety
    /// `x` starts the first window; each window reads `4 * quads` bytes and the next starts
    /// `x_skip` bytes after its end; `y` points at the first output and the outputs are
    /// `y_step` bytes apart, four bytes each.
    #[inline(always)]
    unsafe fn run(&mut self, widened: bool, wide: bool, clamp: bool, x: *const i8, y: *mut i8) {
        let short = match self.steps {
            _ if self.quads as usize * 4 == QUAD_WINDOW => !widened,
            1 | 2 | 4 => true,
            8 | 16 => widened,
            _ => false,
        };
        if self.x_skip == 0 && short {
            // SAFETY: the caller's guarantee, with the windows back to back.
            unsafe { self.run_short(widened, wide, clamp, x, y) };
            return;
        }
        let w = self.w.as_mut_ptr() as *mut u32;
        // SAFETY: the caller guarantees every input read and output write; the loop reads the
        // block through `w` (its fields sit at the negative offsets checked above) and writes
        // only `count`, which nothing else touches meanwhile.
        unsafe {
            macro_rules! go {
                ($dot4:expr, $requant:expr, $store:expr) => {
                    asm!(
                        dot_run!($dot4, $requant, $store),
                        a0 = out(reg) _, a1 = out(reg) _, a2 = out(reg) _, a3 = out(reg) _,
                        x = inout(reg) x => _, y = inout(reg) y => _, w = inout(reg) w => _,
                        n = out(reg) _, v = out(reg) _, t = out(reg) _, w0 = out(reg) _,
                        w1 = out(reg) _,
                        options(nostack),
                    )
                };
            }
            macro_rules! rq {
                ($dot4:expr) => {
                    match (wide, clamp) {
                        (false, false) => go!($dot4, requant4_fast!(), store_bytes!()),
                        (false, true) => {
                            go!($dot4, requant4_fast!(), store_clamped!("[{w}, #-32]"))
                        }
                        (true, false) => go!($dot4, requant4_wide!(), store_bytes!()),
                        (true, true) => {
                            go!($dot4, requant4_wide!(), store_clamped!("[{w}, #-32]"))
                        }
                    }
                };
            }
            if widened {
                rq!(dot4x4w!());
            } else {
                rq!(dot4x4!());
            }
        }
    }

    /// [`DotBlock::run`] for windows of one, two or four steps, of [`QUAD_WINDOW`] raw
    /// elements, or of eight or sixteen widened steps, that follow each other with no gap
    /// ([`dot_run_short`]).
    ///
    /// # Safety
    /// As for [`DotBlock::run`], with `x_skip == 0` and those step counts.
    unsafe fn run_short(
        &mut self,
        widened: bool,
        wide: bool,
        clamp: bool,
        x: *const i8,
        y: *mut i8,
    ) {
        let w = self.w.as_mut_ptr() as *mut u32;
        let count = self.count;
        // SAFETY: the caller guarantees every input read and output write; the loop reads the
        // block through `w` (its fields sit at the negative offsets checked above), leaves `w`
        // where it started after each window and writes only `count`, which nothing else
        // touches meanwhile.
        unsafe {
            macro_rules! go {
                ($dot:expr, $rewind:literal, $requant:expr, $store:expr, $next:expr) => {
                    asm!(
                        dot_run_short!($dot, $rewind, $requant, $store, $next),
                        a0 = out(reg) _, a1 = out(reg) _, a2 = out(reg) _, a3 = out(reg) _,
                        x = inout(reg) x => _, y = inout(reg) y => _, w = inout(reg) w => _,
                        n = inout(reg) count => _, v = out(reg) _, t = out(reg) _,
                        w0 = out(reg) _, w1 = out(reg) _,
                        options(nostack),
                    )
                };
            }
            macro_rules! rq {
                ($rewind:literal, $dot:expr) => {
                    match (wide, clamp) {
                        (false, false) => {
                            go!($dot, $rewind, requant4_fast!(), store_bytes!(), next_reg!())
                        }
                        (false, true) => go!(
                            $dot,
                            $rewind,
                            requant4_fast!(),
                            store_clamped!("[{w}, #-32]"),
                            next_reg!()
                        ),
                        (true, false) => {
                            go!($dot, $rewind, requant4_wide!(), store_bytes!(), next_mem!())
                        }
                        (true, true) => go!(
                            $dot,
                            $rewind,
                            requant4_wide!(),
                            store_clamped!("[{w}, #-32]"),
                            next_mem!()
                        ),
                    }
                };
            }
            macro_rules! steps {
                ($d:expr) => {
                    match self.steps {
                        1 => rq!("64", concat!($d, $d)),
                        2 => rq!("128", concat!($d, $d, $d, $d)),
                        // Four steps: `run` sends no other count here.
                        _ => rq!("256", concat!($d, $d, $d, $d, $d, $d, $d, $d)),
                    }
                };
            }
            match (widened, self.steps) {
                (false, _) if self.quads as usize * 4 == QUAD_WINDOW => rq!("224", dot4x7!()),
                (true, 8) => rq!("512", concat!(dot4x8w!(), dot4x8w!())),
                (true, 16) => rq!(
                    "1024",
                    concat!(dot4x8w!(), dot4x8w!(), dot4x8w!(), dot4x8w!())
                ),
                (true, _) => steps!(dot4x4w!()),
                (false, _) => steps!(dot4x4!()),
            }
        }
    }

    /// Adds one window of `4 * quads` input bytes at `x` to `acc` (the block's four filters).
    ///
    /// # Safety
    /// `x` and the window's bytes are readable.
    unsafe fn dot(&self, widened: bool, acc: &mut [i32; 4], x: *const i8) {
        let w = self.w.as_ptr() as *const u32;
        if !widened && self.quads as usize * 4 == QUAD_WINDOW {
            // SAFETY: as below, for the window's seven quads (unrolled: the step loop takes
            // whole eight-element steps only).
            unsafe {
                asm!(
                    dot4x7!(),
                    a0 = inout(reg) acc[0], a1 = inout(reg) acc[1],
                    a2 = inout(reg) acc[2], a3 = inout(reg) acc[3],
                    x = inout(reg) x => _, w = inout(reg) w => _,
                    v = out(reg) _, t = out(reg) _, w0 = out(reg) _, w1 = out(reg) _,
                    options(nostack, readonly),
                );
            }
            return;
        }
        // SAFETY: the caller guarantees the input reads; the filter reads stay in `self.w`,
        // in the words `widen` wrote.
        unsafe {
            macro_rules! go {
                ($dot4:expr) => {
                    asm!(
                        dot_window!($dot4),
                        a0 = inout(reg) acc[0], a1 = inout(reg) acc[1],
                        a2 = inout(reg) acc[2], a3 = inout(reg) acc[3],
                        x = inout(reg) x => _, w = inout(reg) w => _,
                        n = out(reg) _, v = out(reg) _, t = out(reg) _, w0 = out(reg) _,
                        w1 = out(reg) _,
                        options(nostack, readonly),
                    )
                };
            }
            if widened {
                go!(dot4x4w!());
            } else {
                go!(dot4x4!());
            }
        }
    }
}

/// Copies `len` bytes: unaligned words, then the last one to three bytes. Written in assembly
/// because the compiler turns the loop into a `memcpy` call, which costs more than the copy for
/// the short runs of a window row.
///
/// # Safety
/// Both ranges are valid for `len` bytes and do not overlap.
#[inline(always)]
unsafe fn copy_run(dst: *mut u8, src: *const u8, len: usize) {
    // SAFETY: the loop copies `len & !3` bytes as words and the tail as bytes, all inside the
    // two ranges the caller guarantees.
    unsafe {
        asm!(
            "cmp {n}, #4",
            "blo 3f",
            "2:",
            "ldr {t}, [{s}], #4",
            "subs {n}, {n}, #4",
            "str {t}, [{d}], #4",
            "cmp {n}, #4",
            "bhs 2b",
            "3:",
            "cmp {n}, #0",
            "beq 5f",
            "4:",
            "ldrb {t}, [{s}], #1",
            "subs {n}, {n}, #1",
            "strb {t}, [{d}], #1",
            "bne 4b",
            "5:",
            s = inout(reg) src => _,
            d = inout(reg) dst => _,
            n = inout(reg) len => _,
            t = out(reg) _,
            options(nostack),
        );
    }
}

/// The valid taps `lo..hi` of one window axis, like `reference::conv::tap_range` but in
/// pointer-sized arithmetic (one 32-bit division on these cores instead of 64-bit library
/// calls, which would dominate small windows). Window positions are bounded by the validated
/// geometry of tensors that exist in memory, so nothing overflows.
#[inline(always)]
pub(crate) fn tap_span(
    out: usize,
    stride: usize,
    pad: usize,
    dil: usize,
    k: usize,
    input: usize,
) -> (usize, usize) {
    let origin = (out * stride) as isize - pad as isize;
    let lo = if origin >= 0 {
        0
    } else {
        ((-origin) as usize).div_ceil(dil)
    };
    let last = input as isize - 1 - origin;
    let hi = if last < 0 {
        0
    } else {
        (last as usize / dil + 1).min(k)
    };
    (lo.min(hi), hi)
}

/// Fills `dst` with `v` (a plain loop: windows are short and a `memset` call costs more).
#[inline(always)]
fn fill(dst: &mut [u8], v: u8) {
    for d in dst {
        *d = v;
    }
}

/// Gathers the windows of output pixels `px0..px0 + count` (group channels from `ch0`) into
/// `dst`, one window of `kp` bytes after another (`kernel_h * kernel_w * cin_g` bytes,
/// tap-major like the OHWI filter, then `kp - k` bytes the caller has zeroed). Padded taps are
/// written as `pad`, the input zero point, whose products vanish once `input_offset * sum(w)`
/// is added (the kernels fold it into the bias).
#[allow(clippy::too_many_arguments)]
fn gather(
    g: &ConvGeometry,
    input: &[i8],
    px0: usize,
    count: usize,
    ch0: usize,
    cin_g: usize,
    pad: u8,
    kp: usize,
    dst: &mut [u8],
) {
    let (kh, kw) = (g.kernel_h, g.kernel_w);
    let row_len = kw * cin_g;
    // A row's taps are one contiguous run of input when the group spans every channel and the
    // taps are adjacent.
    let contiguous = cin_g == g.input.c && g.dilation_w == 1;
    let (ow, oh) = (g.output.w, g.output.h);
    let (mut n, mut oy, mut ox) = (px0 / (oh * ow), px0 / ow % oh, px0 % ow);
    let src = input.as_ptr() as *const u8;
    // Output columns whose window rows lie inside the input, and whether a row's window rows
    // all do: such windows are copied row by row without any tap arithmetic.
    let (x_lo, x_hi) = if contiguous {
        full_span(
            g.stride_w,
            g.pad_left,
            (kw - 1) * g.dilation_w,
            g.input.w,
            ow,
        )
    } else {
        (0, 0)
    };
    let (y_lo, y_hi) = full_span(
        g.stride_h,
        g.pad_top,
        (kh - 1) * g.dilation_h,
        g.input.h,
        oh,
    );
    let in_row = g.input.w * g.input.c;
    let mut i = 0;
    while i < count {
        if oy >= y_lo && oy < y_hi && ox >= x_lo && ox < x_hi {
            let run = (x_hi - ox).min(count - i);
            let iy = oy * g.stride_h - g.pad_top;
            let ix = ox * g.stride_w - g.pad_left;
            let at = ((n * g.input.h + iy) * g.input.w + ix) * g.input.c + ch0;
            let d = &mut dst[i * kp..(i + run) * kp];
            // SAFETY: the `run` windows of columns `ox..ox + run` (below `x_hi`) of row `oy`
            // (in `y_lo..y_hi`) lie inside the input, each row of taps a contiguous run of
            // `row_len` bytes (`contiguous`); the windows' `kh * row_len <= kp` bytes are in
            // `d`.
            unsafe {
                gather_interior(
                    src.add(at),
                    d.as_mut_ptr(),
                    run,
                    kh,
                    row_len,
                    g.dilation_h * in_row,
                    g.stride_w * g.input.c,
                    kp,
                )
            };
            i += run;
            ox += run;
            if ox == ow {
                ox = 0;
                oy += 1;
                if oy == oh {
                    oy = 0;
                    n += 1;
                }
            }
            continue;
        }
        let d = &mut dst[i * kp..i * kp + kh * row_len];
        let ky = tap_span(oy, g.stride_h, g.pad_top, g.dilation_h, kh, g.input.h);
        let kx = tap_span(ox, g.stride_w, g.pad_left, g.dilation_w, kw, g.input.w);
        let iy0 = (oy * g.stride_h) as isize - g.pad_top as isize;
        let ix0 = (ox * g.stride_w) as isize - g.pad_left as isize;
        let pixel = |r: usize, t: usize| {
            let iy = (iy0 + (r * g.dilation_h) as isize) as usize;
            let ix = (ix0 + (t * g.dilation_w) as isize) as usize;
            ((n * g.input.h + iy) * g.input.w + ix) * g.input.c + ch0
        };
        if contiguous && kx == (0, kw) && ky == (0, kh) {
            for r in 0..kh {
                let at = pixel(r, 0);
                // SAFETY: the row's `kw` taps are inside the input (full tap ranges) and
                // contiguous (`contiguous`), so `at..at + row_len` is in `input`; the
                // destination row is in `d`.
                unsafe { copy_run(d[r * row_len..].as_mut_ptr(), src.add(at), row_len) };
            }
        } else {
            for r in 0..kh {
                let dr = &mut d[r * row_len..(r + 1) * row_len];
                if r < ky.0 || r >= ky.1 || kx.0 == kx.1 {
                    fill(dr, pad);
                    continue;
                }
                fill(&mut dr[..kx.0 * cin_g], pad);
                fill(&mut dr[kx.1 * cin_g..], pad);
                for t in kx.0..kx.1 {
                    let s = &input[pixel(r, t)..pixel(r, t) + cin_g];
                    // SAFETY: `s` and the destination tap have `cin_g` bytes each.
                    unsafe {
                        copy_run(dr[t * cin_g..].as_mut_ptr(), s.as_ptr() as *const u8, cin_g)
                    };
                }
            }
        }
        i += 1;
        ox += 1;
        if ox == ow {
            ox = 0;
            oy += 1;
            if oy == oh {
                oy = 0;
                n += 1;
            }
        }
    }
}

/// Output positions `lo..hi` along one axis whose window (`span + 1` input positions from
/// `out * stride - pad`) lies entirely inside `0..input`.
fn full_span(stride: usize, pad: usize, span: usize, input: usize, out: usize) -> (usize, usize) {
    let lo = pad.div_ceil(stride).min(out);
    let hi = if input + pad > span {
        ((input + pad - 1 - span) / stride + 1).min(out)
    } else {
        0
    };
    (lo, hi.max(lo))
}

/// Copies `count` windows of `kh` rows of `row_len` bytes each: row `r` of window `i` from
/// `src + i * src_step + r * row_stride` to `dst + i * kp + r * row_len`.
///
/// # Safety
/// Every source row and destination window is valid and the two do not overlap.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn gather_interior(
    src: *const u8,
    dst: *mut u8,
    count: usize,
    kh: usize,
    row_len: usize,
    row_stride: usize,
    src_step: usize,
    kp: usize,
) {
    if kh == 3 && row_len == 9 && count > 0 {
        // The 3x3 stem on three channels: every window is three rows of nine bytes, copied
        // with two words and a byte each (the generic loop costs three times as much).
        // SAFETY: window `i` reads rows `src + i * src_step + r * row_stride` (`r < 3`, nine
        // bytes each) and writes the 27 bytes at `dst + i * kp`, as the caller guarantees;
        // unaligned word accesses are allowed on these cores.
        unsafe {
            asm!(
                "2:",
                "ldr {t}, [{s}]",
                "ldr {u}, [{s}, #4]",
                "ldrb {v}, [{s}, #8]",
                "str {t}, [{d}]",
                "str {u}, [{d}, #4]",
                "strb {v}, [{d}, #8]",
                "add {r}, {s}, {rs}",
                "ldr {t}, [{r}]",
                "ldr {u}, [{r}, #4]",
                "ldrb {v}, [{r}, #8]",
                "str {t}, [{d}, #9]",
                "str {u}, [{d}, #13]",
                "strb {v}, [{d}, #17]",
                "add {r}, {r}, {rs}",
                "ldr {t}, [{r}]",
                "ldr {u}, [{r}, #4]",
                "ldrb {v}, [{r}, #8]",
                "str {t}, [{d}, #18]",
                "str {u}, [{d}, #22]",
                "strb {v}, [{d}, #26]",
                "add {s}, {s}, {ss}",
                "add {d}, {d}, {kp}",
                "subs {n}, {n}, #1",
                "bne 2b",
                s = inout(reg) src => _,
                d = inout(reg) dst => _,
                n = inout(reg) count => _,
                rs = in(reg) row_stride,
                ss = in(reg) src_step,
                kp = in(reg) kp,
                r = out(reg) _,
                t = out(reg) _,
                u = out(reg) _,
                v = out(reg) _,
                options(nostack),
            );
        }
        return;
    }
    let (mut s0, mut d0) = (src, dst);
    for _ in 0..count {
        let (mut s, mut d) = (s0, d0);
        for _ in 0..kh {
            // SAFETY: one source row and its destination, as the caller guarantees.
            unsafe { copy_run(d, s, row_len) };
            s = s.wrapping_add(row_stride);
            d = d.wrapping_add(row_len);
        }
        s0 = s0.wrapping_add(src_step);
        d0 = d0.wrapping_add(kp);
    }
}

/// Whether [`conv_loop`] handles this convolution: windows of at most [`MAX_K`] elements.
pub(crate) fn conv_supports(g: &ConvGeometry) -> bool {
    super::dsp_conv_supports(g)
}

/// Runs of at least this many gathered windows are gathered once for every block of output
/// channels (the blocks' filters are then widened again per run, which costs less than
/// gathering the windows again); runs of longer windows keep the blocks outermost.
const GATHER_OUTER_MIN_RUN: usize = 32;

/// `len` words of `buf` (8-byte aligned at its start, at least `4 * len` bytes) as
/// possibly uninitialized words; `None` when `buf` is short.
fn words_of(buf: &mut [u8], len: usize) -> Option<&mut [MaybeUninit<u32>]> {
    let b = buf.get_mut(..4 * len)?;
    debug_assert!(b.as_ptr() as usize % 4 == 0);
    // SAFETY: `b` holds `4 * len` bytes, starts word aligned (every piece of a kernel's
    // scratch starts on an 8-byte boundary: the first from `split_aligned`, the others after
    // pieces of multiples of 8 bytes), and is borrowed exclusively for the result's lifetime;
    // `MaybeUninit<u32>` accepts any bytes.
    Some(unsafe { core::slice::from_raw_parts_mut(b.as_mut_ptr() as *mut MaybeUninit<u32>, len) })
}

/// The int8 convolution on widened filter blocks; the caller has checked every argument (as
/// `check_conv_s8` does) and [`conv_supports`]. `false` (nothing written) when `scratch` is
/// shorter than `super::conv_loop_scratch_len` says.
///
/// For each group and block of four output channels, the filters are widened in scratch
/// (with `input_offset * sum(w)` folded into the bias), then every output pixel's window is
/// summed against them: read in place for pointwise convolutions whose group width is a
/// multiple of 8, gathered (im2col) otherwise. With a fast or wide requantization and four
/// channels, one assembly loop runs all windows of a pixel run; a final block of fewer than four
/// channels and the general requantization sum each window with the same loop and requantize in
/// Rust.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_loop(
    p: &ConvS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    cin_g: usize,
    cout_g: usize,
    scratch: &mut [u8],
) -> bool {
    let g = &p.geometry;
    let in_c = g.input.c;
    let in_place = is_pointwise(g) && cin_g % 8 == 0;
    if in_place && 2 * in_c <= XW_BYTES {
        let (x, y) = (input.as_ptr(), output.as_mut_ptr());
        // SAFETY: `input` holds the pixels' `in_c` channels and `output` their `out_c`
        // channels (checked by the caller); the two do not overlap.
        return unsafe {
            pointwise(
                p,
                x,
                y,
                g.output.pixels(),
                filter,
                bias,
                cin_g,
                cout_g,
                scratch,
            )
        };
    }
    blocks_loop(
        p, input, filter, bias, output, cin_g, cout_g, in_place, scratch,
    )
}

/// [`conv_loop`] on raw int8 windows: read in place (`in_place`, pointwise) or gathered into
/// scratch after the filter block.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn blocks_loop(
    p: &ConvS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    cin_g: usize,
    cout_g: usize,
    in_place: bool,
    scratch: &mut [u8],
) -> bool {
    let g = &p.geometry;
    let k = g.kernel_h * g.kernel_w * cin_g;
    // Gathered windows are back to back, which the unrolled [`QUAD_WINDOW`] loop needs.
    let kp = if !in_place && k.next_multiple_of(4) == QUAD_WINDOW {
        QUAD_WINDOW
    } else {
        k.next_multiple_of(8)
    };
    let pad = (-p.quant.input_offset) as u8;
    let (in_c, out_c) = (g.input.c, g.output.c);
    let pixels = g.output.pixels();
    let per_run = super::gather_run(kp);
    let gather_outer = per_run >= GATHER_OUTER_MIN_RUN;
    let Some((blk, rest)) = DotBlock::in_scratch(scratch, kp) else {
        return false;
    };
    blk.y_step = out_c;
    let gather_len = if in_place {
        0
    } else {
        per_run.min(pixels) * kp
    };
    let Some(gbuf) = rest.get_mut(..gather_len) else {
        return false;
    };
    // Zero once: the gather never writes the bytes past each window's `k` elements.
    // SAFETY: `gbuf` starts 8-byte aligned (after the block) and holds `gather_len` bytes, a
    // multiple of 4 (`kp` is 28 or a multiple of 8): whole words.
    unsafe { core::ptr::write_bytes(gbuf.as_mut_ptr() as *mut u32, 0, gather_len / 4) };
    let y = output.as_mut_ptr();
    let gx = gbuf.as_ptr() as *const i8;
    for grp in 0..g.groups {
        let (o_first, o_end) = (grp * cout_g, (grp + 1) * cout_g);
        let ch0 = grp * cin_g;
        let block = |blk: &mut DotBlock, o0: usize, x: *const i8, stride: usize, px, run| {
            let (fin, wide) = blk.prepare(p, filter, bias, o0, o_end, k, kp);
            // SAFETY: the caller passes `run` windows of `kp` readable bytes, `stride` bytes
            // apart, at `x`; output pixels `px..px + run` exist and hold channels `o0..o_end`.
            let y = y.wrapping_add(px * out_c + o0);
            unsafe { blk.windows(&fin, wide, false, x, stride, run, y) };
        };
        if in_place {
            if pixels > 0 {
                let x = input.as_ptr().wrapping_add(ch0);
                for o0 in (o_first..o_end).step_by(4) {
                    // Pixel `i`'s window is the `kp` group channels of input pixel `i`.
                    block(&mut *blk, o0, x, in_c, 0, pixels);
                }
            }
            continue;
        }
        if gather_outer {
            for px in (0..pixels).step_by(per_run) {
                let run = per_run.min(pixels - px);
                gather(g, input, px, run, ch0, cin_g, pad, kp, gbuf);
                for o0 in (o_first..o_end).step_by(4) {
                    block(&mut *blk, o0, gx, kp, px, run);
                }
            }
            continue;
        }
        for o0 in (o_first..o_end).step_by(4) {
            for px in (0..pixels).step_by(per_run) {
                let run = per_run.min(pixels - px);
                gather(g, input, px, run, ch0, cin_g, pad, kp, gbuf);
                block(&mut *blk, o0, gx, kp, px, run);
            }
        }
    }
    true
}

/// [`pointwise_chunks`] with the chunk of widened pixels `super::pointwise_chunk` sizes:
/// larger for group widths up to 256, whose filter block is smaller.
///
/// # Safety
/// As for [`pointwise_chunks`]; `cin_g % 8 == 0` and `2 * in_c <= XW_BYTES`.
#[allow(clippy::too_many_arguments)]
unsafe fn pointwise(
    p: &ConvS8Params,
    x: *const i8,
    y: *mut i8,
    pixels: usize,
    filter: &[i8],
    bias: Option<&[i32]>,
    cin_g: usize,
    cout_g: usize,
    scratch: &mut [u8],
) -> bool {
    // SAFETY: the caller's guarantee.
    unsafe { pointwise_chunks(p, x, y, pixels, filter, bias, cin_g, cout_g, scratch) }
}

/// Widens `len` (a multiple of 8) int8 inputs at `x` into `dst` the way [`DotBlock::widen`]
/// lays out a filter: per four inputs, `(x0, x2)` and `(x1, x3)` as int16 pairs.
///
/// # Safety
/// `x` has `len` readable bytes and `dst` at least `len / 2` words.
#[inline(always)]
unsafe fn widen_pixels(x: *const i8, len: usize, dst: &mut [MaybeUninit<u32>]) {
    if len < 8 {
        return;
    }
    // SAFETY: the loop reads the `len` bytes at `x` (unaligned loads are allowed) and writes
    // `len / 2` words of `dst` (word aligned, as `STRD` needs), as the caller guarantees.
    unsafe {
        asm!(
            "2:",
            "ldr {a}, [{x}], #4",
            "ldr {b}, [{x}], #4",
            "sxtb16 {c}, {a}",
            "sxtb16 {a}, {a}, ror #8",
            "strd {c}, {a}, [{d}], #8",
            "sxtb16 {c}, {b}",
            "sxtb16 {b}, {b}, ror #8",
            "strd {c}, {b}, [{d}], #8",
            "subs {n}, {n}, #1",
            "bne 2b",
            x = inout(reg) x => _,
            d = inout(reg) dst.as_mut_ptr() => _,
            n = inout(reg) len / 8 => _,
            a = out(reg) _,
            b = out(reg) _,
            c = out(reg) _,
            options(nostack),
        );
    }
}

/// The pointwise convolution (group widths a multiple of 8, `2 * in_c <= XW_BYTES`) of
/// `pixels` pixels at `x` into `y`, a chunk of pixels at a time: the chunk's inputs are widened
/// once into scratch (after the filter block), then every block of four output channels runs
/// the widened-input loop over them. `false` (nothing written) when `scratch` is short.
///
/// # Safety
/// `x` holds `pixels * in_c` readable bytes and `y` `pixels * out_c` writable ones; output
/// pixel `i` may overlap input pixels up to `i` only (a chunk's inputs are read before any of
/// its outputs is written).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn pointwise_chunks(
    p: &ConvS8Params,
    x: *const i8,
    y: *mut i8,
    pixels: usize,
    filter: &[i8],
    bias: Option<&[i32]>,
    cin_g: usize,
    cout_g: usize,
    scratch: &mut [u8],
) -> bool {
    let g = &p.geometry;
    let (in_c, out_c) = (g.input.c, g.output.c);
    let chunk = super::pointwise_chunk(in_c, cin_g);
    let Some((blk, rest)) = DotBlock::in_scratch(scratch, cin_g) else {
        return false;
    };
    blk.y_step = out_c;
    // Not zeroed: the loops read only the words `widen_pixels` has just written.
    let Some(xw) = words_of(rest, chunk.min(pixels) * in_c / 2) else {
        return false;
    };
    let xp = xw.as_ptr() as *const i8;
    for p0 in (0..pixels).step_by(chunk) {
        let n = chunk.min(pixels - p0);
        // SAFETY: the chunk's `n * in_c` input bytes, widened into `n * in_c / 2` words of
        // `xw`.
        unsafe { widen_pixels(x.wrapping_add(p0 * in_c), n * in_c, xw) };
        let yc = y.wrapping_add(p0 * out_c);
        for grp in 0..g.groups {
            let (o_first, o_end) = (grp * cout_g, (grp + 1) * cout_g);
            // The group's channels start `2 * ch0` bytes into each widened pixel.
            let xg = xp.wrapping_add(2 * grp * cin_g);
            for o0 in (o_first..o_end).step_by(4) {
                let (fin, wide) = blk.prepare(p, filter, bias, o0, o_end, cin_g, cin_g);
                // SAFETY: `n` widened windows of `2 * cin_g` bytes, `2 * in_c` apart, in `xw`;
                // output pixels `p0..p0 + n` hold channels `o0..o_end` at `yc + o0`.
                unsafe { blk.windows(&fin, wide, true, xg, 2 * in_c, n, yc.wrapping_add(o0)) };
            }
        }
    }
    true
}

/// The pointwise convolution whose output overlaps its input in one buffer
/// (`pointwise_conv_s8_overlapping`) on the widened-filter loop, or for windows above
/// [`MAX_K`] on the fully connected layer's ([`overlapping_long`]): `Some(true)` when it ran,
/// `Some(false)` (nothing written) when `scratch` is shorter than
/// `super::pointwise_conv_s8_overlapping_scratch_len_dsp`, `None` when the geometry needs the
/// portable loop (a long window [`long_supported`] rejects). The caller has checked every
/// argument and the overlap condition.
///
/// Pixels go in blocks: a block's input pixels are copied to scratch, then [`conv_loop`]
/// computes the block's outputs from the copy into `buf`. The overlap condition says output
/// pixel `p` never reaches an input pixel after `p`, so a block's writes only reach input pixels
/// of this block (already copied) or earlier ones (no longer needed).
#[allow(clippy::too_many_arguments)]
pub(crate) fn overlapping(
    p: &ConvS8Params,
    buf: &mut [i8],
    in_off: usize,
    out_off: usize,
    filter: &[i8],
    bias: Option<&[i32]>,
    cin_g: usize,
    cout_g: usize,
    scratch: &mut [u8],
) -> Option<bool> {
    let g = &p.geometry;
    let (in_c, pixels) = (g.input.c, g.input.pixels());
    if in_c == 0 {
        return None;
    }
    if !conv_supports(g) {
        return long_supported(g, filter)
            .then(|| overlapping_long(p, buf, in_off, out_off, filter, bias, scratch));
    }
    if cin_g % 8 == 0 && 2 * in_c <= XW_BYTES {
        let base = buf.as_mut_ptr();
        let (x, y) = (
            base.wrapping_add(in_off) as *const i8,
            base.wrapping_add(out_off),
        );
        // SAFETY: the caller checked that `buf` holds the input at `in_off` and the output at
        // `out_off` and the overlap condition: output pixel `p` never reaches an input pixel
        // after `p`, which `pointwise_chunks` allows.
        return Some(unsafe { pointwise(p, x, y, pixels, filter, bias, cin_g, cout_g, scratch) });
    }
    Some(overlapping_copies(
        p, buf, in_off, out_off, filter, bias, cin_g, cout_g, scratch,
    ))
}

/// Whether [`pointwise_long`] (and [`overlapping_long`]) take a convolution the widened filter
/// blocks do not ([`conv_supports`]: windows above [`MAX_K`] elements, e.g. MobileNetV3-Large's
/// 960-channel projections, which otherwise ran the portable loop at 4.8 instructions per
/// MAC): pointwise, one group, and rows the fully connected layer's DSP loop reads
/// (`rows_supported`). Not on Helium cores, whose compiler-vectorized portable loop is faster
/// (as for the fully connected layer).
pub(crate) fn long_supported(g: &ConvGeometry, filter: &[i8]) -> bool {
    !cfg!(bfmd_mve)
        && is_pointwise(g)
        && g.groups == 1
        && crate::s8::fully_connected::dsp::rows_supported(g.input.c, filter)
}

/// The pointwise convolution with windows too long for the widened filter blocks, on the fully
/// connected layer's DSP loop: every pixel is a fully connected layer (`[out_c, in_c]`
/// weights, the same requantization). The caller has checked every argument and
/// [`long_supported`].
pub(crate) fn pointwise_long(
    p: &ConvS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) -> bool {
    let (in_c, out_c) = (p.geometry.input.c, p.geometry.output.c);
    if scratch.len() < crate::s8::fully_connected::rows_scratch_len_dsp(in_c) {
        return false;
    }
    for (x, y) in input.chunks_exact(in_c).zip(output.chunks_exact_mut(out_c)) {
        crate::s8::fully_connected::dsp::rows(&p.quant, x, filter, bias, y, scratch);
    }
    true
}

/// [`pointwise_long`] with the output overlapping the input in `buf` (the condition of
/// [`overlapping`]): each input pixel is copied to scratch before its output is written.
/// `false` (nothing written) when `scratch` is short.
#[inline(never)]
fn overlapping_long(
    p: &ConvS8Params,
    buf: &mut [i8],
    in_off: usize,
    out_off: usize,
    filter: &[i8],
    bias: Option<&[i32]>,
    scratch: &mut [u8],
) -> bool {
    let g = &p.geometry;
    let (in_c, out_c) = (g.input.c, g.output.c);
    let Some((x, rest)) = split_aligned(scratch, in_c.next_multiple_of(8)) else {
        return false;
    };
    // `rest` starts 8-byte aligned (`x` is a multiple of 8 bytes): the rows need no slack.
    let rows_len =
        crate::s8::fully_connected::rows_scratch_len_dsp(in_c) - crate::path::ALIGN_SLACK;
    if rest.len() < rows_len {
        return false;
    }
    // SAFETY: `i8` and `u8` have the same layout and accept any bits; `x` is borrowed
    // exclusively for this call.
    let x = unsafe { core::slice::from_raw_parts_mut(x.as_mut_ptr() as *mut i8, in_c) };
    for px in 0..g.input.pixels() {
        x.copy_from_slice(&buf[in_off + px * in_c..in_off + (px + 1) * in_c]);
        let y = &mut buf[out_off + px * out_c..out_off + (px + 1) * out_c];
        crate::s8::fully_connected::dsp::rows(&p.quant, x, filter, bias, y, rest);
    }
    true
}

/// [`overlapping`] for group widths that are not a multiple of 8: blocks of pixels copied to
/// scratch, then [`conv_loop`] over the copy (with the rest of the scratch). `false` (nothing
/// written) when `scratch` is short.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn overlapping_copies(
    p: &ConvS8Params,
    buf: &mut [i8],
    in_off: usize,
    out_off: usize,
    filter: &[i8],
    bias: Option<&[i32]>,
    cin_g: usize,
    cout_g: usize,
    scratch: &mut [u8],
) -> bool {
    let g = &p.geometry;
    let (in_c, out_c, pixels) = (g.input.c, g.output.c, g.input.pixels());
    let per_block = (OVERLAP_BLOCK_BYTES / in_c).max(1);
    let copy_len = (per_block.min(pixels) * in_c).next_multiple_of(8);
    let Some((x, rest)) = split_aligned(scratch, copy_len) else {
        return false;
    };
    // SAFETY: `i8` and `u8` have the same layout and accept any bits; `x` is borrowed
    // exclusively for this call.
    let x = unsafe { core::slice::from_raw_parts_mut(x.as_mut_ptr() as *mut i8, copy_len) };
    let mut p0 = 0;
    while p0 < pixels {
        let n = per_block.min(pixels - p0);
        x[..n * in_c].copy_from_slice(&buf[in_off + p0 * in_c..in_off + (p0 + n) * in_c]);
        let block = ConvGeometry {
            input: crate::shape::Shape::new(1, 1, n, in_c),
            output: crate::shape::Shape::new(1, 1, n, out_c),
            ..*g
        };
        let bp = ConvS8Params {
            geometry: block,
            quant: p.quant,
        };
        let out = &mut buf[out_off + p0 * out_c..out_off + (p0 + n) * out_c];
        if !conv_loop(&bp, &x[..n * in_c], filter, bias, out, cin_g, cout_g, rest) {
            // Only the first block can stop (every later one needs no more scratch), before
            // anything is written.
            debug_assert!(p0 == 0);
            return false;
        }
        p0 += n;
    }
    true
}
