//! Portable int8 ADD and MUL (plain Rust, any target).
//!
//! The row kernels (`*_row`, `*_row_inplace`) are the inner-loop contract an architecture
//! path replaces: each operand is a full row or one repeated element. The whole ops check their
//! arguments like the dispatchers in [`super`], so tests can call this path directly.

use super::{AddS8Params, MulS8Params};
use crate::error::Result;
use crate::quant::{
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_smaller_than_one_exp,
};
use crate::reference::elementwise::{
    apply_row, apply_row_inplace, binary_rows, binary_rows_inplace, Operand,
};
use crate::shape::Shape;

/// ADD's and SUB's common steps (TFLM `AddFunc`, TFLite `SubElementwise`): both inputs
/// offset, shifted left by `left_shift` and rescaled to the common scale.
#[inline(always)]
fn scaled_inputs(p: &AddS8Params, x: i8, y: i8) -> (i32, i32) {
    let shifted1 = (p.input1_offset + x as i32) * (1 << p.left_shift);
    let shifted2 = (p.input2_offset + y as i32) * (1 << p.left_shift);
    (
        multiply_by_quantized_multiplier_smaller_than_one_exp(
            shifted1,
            p.input1_multiplier,
            p.input1_shift,
        ),
        multiply_by_quantized_multiplier_smaller_than_one_exp(
            shifted2,
            p.input2_multiplier,
            p.input2_shift,
        ),
    )
}

/// The sum or difference of the scaled inputs, rescaled to the output and clamped.
#[inline(always)]
fn requantized(p: &AddS8Params, raw: i32) -> i8 {
    let out = multiply_by_quantized_multiplier_smaller_than_one_exp(
        raw,
        p.output_multiplier,
        p.output_shift,
    ) + p.output_offset;
    out.clamp(p.act_min, p.act_max) as i8
}

/// One int8 ADD, TFLM `AddFunc` (`reference/integer_ops/add.h`).
#[inline(always)]
pub fn add_one(p: &AddS8Params, x: i8, y: i8) -> i8 {
    let (a, b) = scaled_inputs(p, x, y);
    requantized(p, a + b)
}

/// One int8 SUB, TFLite's `SubElementwise` (`reference/sub.h`, which TFLM's `EvalSubQuantized`
/// runs): ADD's rescaling of both inputs (the same `ArithmeticParams`, from TFLM's
/// `CalculateOpDataSub`, identical to `CalculateOpDataAdd`), then their difference.
#[inline(always)]
pub fn sub_one(p: &AddS8Params, x: i8, y: i8) -> i8 {
    let (a, b) = scaled_inputs(p, x, y);
    requantized(p, a - b)
}

/// int8 SUB with broadcasting (every target runs this portable loop).
pub fn sub_s8(
    p: &AddS8Params,
    a_shape: Shape,
    a: &[i8],
    b_shape: Shape,
    b: &[i8],
    output: &mut [i8],
) -> Result<()> {
    p.check()?;
    binary_rows(a_shape, a, b_shape, b, output, |x, y, o| {
        apply_row(x, y, o, |x, y| sub_one(p, x, y))
    })
}

/// In-place [`sub_s8`]: the result overwrites the minuend `a_and_out`, which must have the
/// output shape.
pub fn sub_s8_inplace(
    p: &AddS8Params,
    a_shape: Shape,
    a_and_out: &mut [i8],
    b_shape: Shape,
    b: &[i8],
) -> Result<()> {
    p.check()?;
    binary_rows_inplace(a_shape, a_and_out, b_shape, b, |x, y| {
        apply_row_inplace(x, y, |x, y| sub_one(p, x, y))
    })
}

/// One int8 MUL, TFLM `MulElementwise` (`reference/integer_ops/mul.h`).
#[inline(always)]
pub fn mul_one(p: &MulS8Params, x: i8, y: i8) -> i8 {
    let product = (p.input1_offset + x as i32) * (p.input2_offset + y as i32);
    let raw = multiply_by_quantized_multiplier(product, p.output_multiplier, p.output_shift)
        + p.output_offset;
    raw.clamp(p.act_min, p.act_max) as i8
}

/// ADD over one output row.
pub fn add_row(p: &AddS8Params, a: Operand<'_, i8>, b: Operand<'_, i8>, out: &mut [i8]) {
    apply_row(a, b, out, |x, y| add_one(p, x, y));
}

/// In-place ADD over one row of the first operand.
pub fn add_row_inplace(p: &AddS8Params, a_and_out: &mut [i8], b: Operand<'_, i8>) {
    apply_row_inplace(a_and_out, b, |x, y| add_one(p, x, y));
}

/// MUL over one output row.
pub fn mul_row(p: &MulS8Params, a: Operand<'_, i8>, b: Operand<'_, i8>, out: &mut [i8]) {
    apply_row(a, b, out, |x, y| mul_one(p, x, y));
}

/// In-place MUL over one row of the first operand.
pub fn mul_row_inplace(p: &MulS8Params, a_and_out: &mut [i8], b: Operand<'_, i8>) {
    apply_row_inplace(a_and_out, b, |x, y| mul_one(p, x, y));
}

/// Portable [`super::add_s8`].
pub fn add_s8(
    p: &AddS8Params,
    a_shape: Shape,
    a: &[i8],
    b_shape: Shape,
    b: &[i8],
    output: &mut [i8],
) -> Result<()> {
    p.check()?;
    binary_rows(a_shape, a, b_shape, b, output, |x, y, o| {
        add_row(p, x, y, o)
    })
}

/// Portable [`super::add_s8_inplace`].
pub fn add_s8_inplace(
    p: &AddS8Params,
    a_shape: Shape,
    a_and_out: &mut [i8],
    b_shape: Shape,
    b: &[i8],
) -> Result<()> {
    p.check()?;
    binary_rows_inplace(a_shape, a_and_out, b_shape, b, |x, y| {
        add_row_inplace(p, x, y)
    })
}

/// Portable [`super::mul_s8`].
pub fn mul_s8(
    p: &MulS8Params,
    a_shape: Shape,
    a: &[i8],
    b_shape: Shape,
    b: &[i8],
    output: &mut [i8],
) -> Result<()> {
    p.check()?;
    binary_rows(a_shape, a, b_shape, b, output, |x, y, o| {
        mul_row(p, x, y, o)
    })
}

/// Portable [`super::mul_s8_inplace`].
pub fn mul_s8_inplace(
    p: &MulS8Params,
    a_shape: Shape,
    a_and_out: &mut [i8],
    b_shape: Shape,
    b: &[i8],
) -> Result<()> {
    p.check()?;
    binary_rows_inplace(a_shape, a_and_out, b_shape, b, |x, y| {
        mul_row_inplace(p, x, y)
    })
}
