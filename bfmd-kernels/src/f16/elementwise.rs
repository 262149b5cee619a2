//! Half-precision ADD and MUL with broadcasting and a fused activation clamp.
//!
//! Tensors store [`half::f16`]; each element is widened to `f32`, added or multiplied, clamped
//! and rounded back to `f16` (nearest, ties to even): one rounding per output element.
//! Broadcasting and the in-place rules are those of [`crate::reference::elementwise`].
//!
//! Layout: NHWC, dense. No scratch, no over-read.

use crate::error::Result;
use crate::reference::elementwise::{binary_inplace_with, binary_with, BinaryParams};
use crate::shape::Shape;
use half::f16;

/// `f32` arithmetic on two `f16` values, clamped and rounded once.
#[inline(always)]
fn widen(p: &BinaryParams, x: f16, y: f16, op: impl Fn(f32, f32) -> f32) -> f16 {
    f16::from_f32(p.clamp(op(x.to_f32(), y.to_f32())))
}

/// `output = clamp(a + b)` with broadcasting, `f16`, NHWC; `output` has the broadcast shape.
pub fn add_f16(
    p: &BinaryParams,
    a_shape: Shape,
    a: &[f16],
    b_shape: Shape,
    b: &[f16],
    output: &mut [f16],
) -> Result<()> {
    binary_with(p, a_shape, a, b_shape, b, output, |x, y| {
        widen(p, x, y, |x, y| x + y)
    })
}

/// In-place [`add_f16`]: the result overwrites `a_and_out`, which must have the output shape.
pub fn add_f16_inplace(
    p: &BinaryParams,
    a_shape: Shape,
    a_and_out: &mut [f16],
    b_shape: Shape,
    b: &[f16],
) -> Result<()> {
    binary_inplace_with(p, a_shape, a_and_out, b_shape, b, |x, y| {
        widen(p, x, y, |x, y| x + y)
    })
}

/// `output = clamp(a * b)` with broadcasting, `f16`, NHWC; `output` has the broadcast shape.
pub fn mul_f16(
    p: &BinaryParams,
    a_shape: Shape,
    a: &[f16],
    b_shape: Shape,
    b: &[f16],
    output: &mut [f16],
) -> Result<()> {
    binary_with(p, a_shape, a, b_shape, b, output, |x, y| {
        widen(p, x, y, |x, y| x * y)
    })
}

/// In-place [`mul_f16`]: the result overwrites `a_and_out`, which must have the output shape.
pub fn mul_f16_inplace(
    p: &BinaryParams,
    a_shape: Shape,
    a_and_out: &mut [f16],
    b_shape: Shape,
    b: &[f16],
) -> Result<()> {
    binary_inplace_with(p, a_shape, a_and_out, b_shape, b, |x, y| {
        widen(p, x, y, |x, y| x * y)
    })
}

/// `output = clamp(a - b)` with broadcasting, `f16` (computed in `f32`), NHWC.
pub fn sub_f16(
    p: &BinaryParams,
    a_shape: Shape,
    a: &[f16],
    b_shape: Shape,
    b: &[f16],
    output: &mut [f16],
) -> Result<()> {
    binary_with(p, a_shape, a, b_shape, b, output, |x, y| {
        widen(p, x, y, |x, y| x - y)
    })
}

/// In-place [`sub_f16`]: the result overwrites the minuend `a_and_out`, which must have the
/// output shape.
pub fn sub_f16_inplace(
    p: &BinaryParams,
    a_shape: Shape,
    a_and_out: &mut [f16],
    b_shape: Shape,
    b: &[f16],
) -> Result<()> {
    binary_inplace_with(p, a_shape, a_and_out, b_shape, b, |x, y| {
        widen(p, x, y, |x, y| x - y)
    })
}
