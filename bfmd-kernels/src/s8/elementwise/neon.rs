//! NEON (aarch64) row kernels of int8 ADD and MUL, sixteen elements per step; the last
//! `len % 16` elements of a row go through the portable per-element functions.
//!
//! Bit-identical to the portable rows: `x + offset` is formed in int16 (it is in
//! `-255..=255`), ADD shifts it left in int32 (the shifted value is below `2^28`) and MUL
//! multiplies two of them exactly in int32 (`SMULL`; at most `255^2`); each requantization is
//! the exact vector form of TFLM's `MultiplyByQuantizedMultiplier` documented in
//! [`crate::s8::conv::neon`] (with a zero left shift for ADD's
//! `MultiplyByQuantizedMultiplierSmallerThanOneExp`), and the output offset and clamp are the
//! same integer operations.

use super::portable::{add_one, mul_one};
use super::{AddS8Params, MulS8Params};
use crate::error::Result;
use crate::reference::elementwise::{binary_rows, binary_rows_inplace, Operand};
use crate::s8::conv::neon::{requantize4, store_s8x16};
use crate::shape::Shape;
use core::arch::aarch64::*;

/// Elements per step.
const STEP: usize = 16;

/// One operand of a row: sixteen elements at `i`, and element `i`.
#[derive(Clone, Copy)]
enum Lanes<'a> {
    Row(&'a [i8]),
    Splat(int8x16_t, i8),
}

impl<'a> Lanes<'a> {
    #[target_feature(enable = "neon")]
    #[inline]
    fn new(op: Operand<'a, i8>) -> Self {
        match op {
            Operand::Row(r) => Lanes::Row(r),
            Operand::Scalar(v) => Lanes::Splat(vdupq_n_s8(v), v),
        }
    }

    /// Elements `i..i + 16` (the caller keeps `i + 16` within the row).
    #[target_feature(enable = "neon")]
    #[inline]
    fn load(self, i: usize) -> int8x16_t {
        match self {
            Lanes::Row(r) => {
                let r = &r[i..i + STEP];
                // SAFETY: `r` has exactly 16 readable bytes.
                unsafe { vld1q_s8(r.as_ptr()) }
            }
            Lanes::Splat(v, _) => v,
        }
    }

    fn get(self, i: usize) -> i8 {
        match self {
            Lanes::Row(r) => r[i],
            Lanes::Splat(_, v) => v,
        }
    }
}

/// `x + off` of sixteen int8 lanes as four int32x4 (lanes in order).
#[target_feature(enable = "neon")]
#[inline]
fn widen_offset(x: int8x16_t, off: int16x8_t) -> [int32x4_t; 4] {
    let (lo, hi) = (vaddw_s8(off, vget_low_s8(x)), vaddw_high_s8(off, x));
    [
        vmovl_s16(vget_low_s16(lo)),
        vmovl_high_s16(lo),
        vmovl_s16(vget_low_s16(hi)),
        vmovl_high_s16(hi),
    ]
}

/// `clamp(v + out_offset, act_min, act_max)`.
#[derive(Clone, Copy)]
struct Output {
    offset: int32x4_t,
    min: int32x4_t,
    max: int32x4_t,
}

impl Output {
    #[target_feature(enable = "neon")]
    #[inline]
    fn new(offset: i32, min: i32, max: i32) -> Self {
        Output {
            offset: vdupq_n_s32(offset),
            min: vdupq_n_s32(min),
            max: vdupq_n_s32(max),
        }
    }

    #[target_feature(enable = "neon")]
    #[inline]
    fn apply(self, v: int32x4_t) -> int32x4_t {
        vminq_s32(vmaxq_s32(vaddq_s32(v, self.offset), self.min), self.max)
    }
}

/// The multiplier and shift of one requantization as `requantize4` operands.
#[derive(Clone, Copy)]
struct Rq {
    mult: int32x4_t,
    left: int32x4_t,
    right: int32x4_t,
}

impl Rq {
    #[target_feature(enable = "neon")]
    #[inline]
    fn new(mult: i32, shift: i32) -> Self {
        Rq {
            mult: vdupq_n_s32(mult),
            left: vdupq_n_s32(shift.max(0)),
            right: vdupq_n_s32(shift.min(0)),
        }
    }

    #[target_feature(enable = "neon")]
    #[inline]
    fn apply(self, v: int32x4_t) -> int32x4_t {
        requantize4(v, self.mult, self.left, self.right)
    }
}

/// The ADD constants, splatted once per row.
#[derive(Clone, Copy)]
struct AddLanes {
    off1: int16x8_t,
    off2: int16x8_t,
    left: int32x4_t,
    rq1: Rq,
    rq2: Rq,
    rq_out: Rq,
    out: Output,
}

impl AddLanes {
    #[target_feature(enable = "neon")]
    #[inline]
    fn new(p: &AddS8Params) -> Self {
        // Offsets are checked to -127..=128 and shifts to -31..=0 (`AddS8Params::check`).
        AddLanes {
            off1: vdupq_n_s16(p.input1_offset as i16),
            off2: vdupq_n_s16(p.input2_offset as i16),
            left: vdupq_n_s32(p.left_shift),
            rq1: Rq::new(p.input1_multiplier, p.input1_shift),
            rq2: Rq::new(p.input2_multiplier, p.input2_shift),
            rq_out: Rq::new(p.output_multiplier, p.output_shift),
            out: Output::new(p.output_offset, p.act_min, p.act_max),
        }
    }

    /// TFLM `AddFunc` on four lanes of `x + off1` and `y + off2`.
    #[target_feature(enable = "neon")]
    #[inline]
    fn add4(self, x: int32x4_t, y: int32x4_t) -> int32x4_t {
        let s1 = self.rq1.apply(vshlq_s32(x, self.left));
        let s2 = self.rq2.apply(vshlq_s32(y, self.left));
        self.out.apply(self.rq_out.apply(vaddq_s32(s1, s2)))
    }

    /// TFLM `AddFunc` on sixteen lanes (written out: `array::map` is not always inlined).
    #[target_feature(enable = "neon")]
    #[inline]
    fn add16(self, x: int8x16_t, y: int8x16_t) -> [int32x4_t; 4] {
        let (xs, ys) = (widen_offset(x, self.off1), widen_offset(y, self.off2));
        [
            self.add4(xs[0], ys[0]),
            self.add4(xs[1], ys[1]),
            self.add4(xs[2], ys[2]),
            self.add4(xs[3], ys[3]),
        ]
    }
}

/// The MUL constants, splatted once per row.
#[derive(Clone, Copy)]
struct MulLanes {
    off1: int16x8_t,
    off2: int16x8_t,
    rq: Rq,
    out: Output,
}

impl MulLanes {
    #[target_feature(enable = "neon")]
    #[inline]
    fn new(p: &MulS8Params) -> Self {
        MulLanes {
            off1: vdupq_n_s16(p.input1_offset as i16),
            off2: vdupq_n_s16(p.input2_offset as i16),
            rq: Rq::new(p.output_multiplier, p.output_shift),
            out: Output::new(p.output_offset, p.act_min, p.act_max),
        }
    }

    /// TFLM `MulElementwise` on sixteen lanes.
    #[target_feature(enable = "neon")]
    #[inline]
    fn mul16(self, x: int8x16_t, y: int8x16_t) -> [int32x4_t; 4] {
        let (xl, xh) = (
            vaddw_s8(self.off1, vget_low_s8(x)),
            vaddw_high_s8(self.off1, x),
        );
        let (yl, yh) = (
            vaddw_s8(self.off2, vget_low_s8(y)),
            vaddw_high_s8(self.off2, y),
        );
        let f = |v: int32x4_t| self.out.apply(self.rq.apply(v));
        [
            f(vmull_s16(vget_low_s16(xl), vget_low_s16(yl))),
            f(vmull_high_s16(xl, yl)),
            f(vmull_s16(vget_low_s16(xh), vget_low_s16(yh))),
            f(vmull_high_s16(xh, yh)),
        ]
    }
}

/// A row of `out.len()` elements: sixteen at a time with `f16`, the tail with `f1`.
#[target_feature(enable = "neon")]
#[inline]
fn row(
    a: Lanes,
    b: Lanes,
    out: &mut [i8],
    f16: impl Fn(int8x16_t, int8x16_t) -> [int32x4_t; 4],
    f1: impl Fn(i8, i8) -> i8,
) {
    let n = out.len();
    let mut i = 0;
    while i + STEP <= n {
        store_s8x16(&mut out[i..i + STEP], f16(a.load(i), b.load(i)));
        i += STEP;
    }
    for (j, o) in out.iter_mut().enumerate().skip(i) {
        *o = f1(a.get(j), b.get(j));
    }
}

/// A row written over its first operand.
#[target_feature(enable = "neon")]
#[inline]
fn row_inplace(
    a_and_out: &mut [i8],
    b: Lanes,
    f16: impl Fn(int8x16_t, int8x16_t) -> [int32x4_t; 4],
    f1: impl Fn(i8, i8) -> i8,
) {
    let n = a_and_out.len();
    let mut i = 0;
    while i + STEP <= n {
        let chunk = &mut a_and_out[i..i + STEP];
        // SAFETY: `chunk` has exactly 16 readable bytes.
        let x = unsafe { vld1q_s8(chunk.as_ptr()) };
        store_s8x16(chunk, f16(x, b.load(i)));
        i += STEP;
    }
    for (j, o) in a_and_out.iter_mut().enumerate().skip(i) {
        *o = f1(*o, b.get(j));
    }
}

#[target_feature(enable = "neon")]
fn add_row(p: &AddS8Params, a: Operand<'_, i8>, b: Operand<'_, i8>, out: &mut [i8]) {
    let c = AddLanes::new(p);
    row(
        Lanes::new(a),
        Lanes::new(b),
        out,
        |x, y| c.add16(x, y),
        |x, y| add_one(p, x, y),
    );
}

#[target_feature(enable = "neon")]
fn add_row_inplace(p: &AddS8Params, a_and_out: &mut [i8], b: Operand<'_, i8>) {
    let c = AddLanes::new(p);
    row_inplace(
        a_and_out,
        Lanes::new(b),
        |x, y| c.add16(x, y),
        |x, y| add_one(p, x, y),
    );
}

#[target_feature(enable = "neon")]
fn mul_row(p: &MulS8Params, a: Operand<'_, i8>, b: Operand<'_, i8>, out: &mut [i8]) {
    let c = MulLanes::new(p);
    row(
        Lanes::new(a),
        Lanes::new(b),
        out,
        |x, y| c.mul16(x, y),
        |x, y| mul_one(p, x, y),
    );
}

#[target_feature(enable = "neon")]
fn mul_row_inplace(p: &MulS8Params, a_and_out: &mut [i8], b: Operand<'_, i8>) {
    let c = MulLanes::new(p);
    row_inplace(
        a_and_out,
        Lanes::new(b),
        |x, y| c.mul16(x, y),
        |x, y| mul_one(p, x, y),
    );
}

/// NEON [`super::add_s8`].
pub(crate) fn add_s8(
    p: &AddS8Params,
    a_shape: Shape,
    a: &[i8],
    b_shape: Shape,
    b: &[i8],
    output: &mut [i8],
) -> Result<()> {
    p.check()?;
    binary_rows(a_shape, a, b_shape, b, output, |x, y, o| {
        // SAFETY: this module is compiled only when the build enables NEON.
        unsafe { add_row(p, x, y, o) }
    })
}

/// NEON [`super::add_s8_inplace`].
pub(crate) fn add_s8_inplace(
    p: &AddS8Params,
    a_shape: Shape,
    a_and_out: &mut [i8],
    b_shape: Shape,
    b: &[i8],
) -> Result<()> {
    p.check()?;
    binary_rows_inplace(a_shape, a_and_out, b_shape, b, |x, y| {
        // SAFETY: this module is compiled only when the build enables NEON.
        unsafe { add_row_inplace(p, x, y) }
    })
}

/// NEON [`super::mul_s8`].
pub(crate) fn mul_s8(
    p: &MulS8Params,
    a_shape: Shape,
    a: &[i8],
    b_shape: Shape,
    b: &[i8],
    output: &mut [i8],
) -> Result<()> {
    p.check()?;
    binary_rows(a_shape, a, b_shape, b, output, |x, y, o| {
        // SAFETY: this module is compiled only when the build enables NEON.
        unsafe { mul_row(p, x, y, o) }
    })
}

/// NEON [`super::mul_s8_inplace`].
pub(crate) fn mul_s8_inplace(
    p: &MulS8Params,
    a_shape: Shape,
    a_and_out: &mut [i8],
    b_shape: Shape,
    b: &[i8],
) -> Result<()> {
    p.check()?;
    binary_rows_inplace(a_shape, a_and_out, b_shape, b, |x, y| {
        // SAFETY: this module is compiled only when the build enables NEON.
        unsafe { mul_row_inplace(p, x, y) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::FusedActivation;
    use crate::s8::conv::neon::tests::Rng;

    /// Every element pair of a 256 x 256 table, as rows of 256 (16-lane steps only) plus an
    /// odd-length row and a scalar operand (tails and splats), against the portable kernel.
    #[test]
    fn add_and_mul_match_portable_on_every_input_pair() {
        let mut rng = Rng::new(11);
        let xs: Vec<i8> = (0..256 * 256).map(|i| (i / 256) as u8 as i8).collect();
        let ys: Vec<i8> = (0..256 * 256).map(|i| (i % 256) as u8 as i8).collect();
        let full = Shape::new(1, 256, 256, 1);
        let acts = [FusedActivation::None, FusedActivation::Relu6];
        for round in 0..6 {
            let s = |rng: &mut Rng| 0.01 + (rng.range(1, 1000) as f32) * 1e-3;
            let zp = |rng: &mut Rng| rng.range(-128, 127) as i32;
            let (s1, s2, so) = (s(&mut rng), s(&mut rng), s(&mut rng) * 2.0);
            let (z1, z2, zo) = (zp(&mut rng), zp(&mut rng), zp(&mut rng));
            let act = acts[round % 2];
            let pa = AddS8Params::from_scales(s1, z1, s2, z2, so, zo, act).unwrap();
            let pm = MulS8Params::from_scales(s1, z1, s2, z2, so * s1 * 8.0, zo, act).unwrap();
            let shapes = [
                (full, full),
                (Shape::new(1, 3, 1, 37), Shape::new(1, 3, 1, 37)),
                (Shape::new(1, 2, 3, 19), Shape::new(1, 1, 1, 1)),
            ];
            for (sa, sb) in shapes {
                let (a, b) = (&xs[..sa.len()], &ys[..sb.len()]);
                let mut want = vec![0i8; sa.len()];
                let mut got = vec![0i8; sa.len()];
                super::super::portable::add_s8(&pa, sa, a, sb, b, &mut want).unwrap();
                add_s8(&pa, sa, a, sb, b, &mut got).unwrap();
                assert_eq!(got, want, "add {sa:?} {sb:?} {pa:?}");
                let mut inplace = a.to_vec();
                add_s8_inplace(&pa, sa, &mut inplace, sb, b).unwrap();
                assert_eq!(inplace, want, "add in place {pa:?}");
                super::super::portable::mul_s8(&pm, sa, a, sb, b, &mut want).unwrap();
                mul_s8(&pm, sa, a, sb, b, &mut got).unwrap();
                assert_eq!(got, want, "mul {sa:?} {sb:?} {pm:?}");
                let mut inplace = a.to_vec();
                mul_s8_inplace(&pm, sa, &mut inplace, sb, b).unwrap();
                assert_eq!(inplace, want, "mul in place {pm:?}");
            }
        }
    }
}
