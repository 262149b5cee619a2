//! Half-precision pooling: max pool, average pool and MEAN over height and width.
//!
//! Tensors store [`half::f16`]; every sum and average is computed in `f32` by the same loops
//! as the `f32` reference ([`crate::reference::pool`]) and rounded to `f16` (nearest, ties to
//! even) once per output, so an f16 result is the f32 reference's result on the widened inputs,
//! rounded once. Parameters are the float ones, [`PoolParams`].
//!
//! Layout: NHWC, dense. No scratch, no over-read.

use crate::error::Result;
use crate::reference::pool::{avg_pool_with, max_pool_with, mean_with, PoolParams};
use crate::shape::Shape;
use half::f16;

/// Max pool, `f16`, NHWC, clamped to `p.act_min..=p.act_max` (see
/// [`crate::reference::pool::max_pool_f32`]).
pub fn max_pool_f16(p: &PoolParams, input: &[f16], output: &mut [f16]) -> Result<()> {
    max_pool_with(p, input, output, f16::to_f32, f16::from_f32)
}

/// Average pool, `f16`, NHWC: TFLite's in-bounds divisor, or the full window area with
/// `p.count_include_pad` (see [`crate::reference::pool::avg_pool_f32`]).
pub fn avg_pool_f16(p: &PoolParams, input: &[f16], output: &mut [f16]) -> Result<()> {
    avg_pool_with(p, input, output, f16::to_f32, f16::from_f32)
}

/// MEAN over height and width (global average pool), `f16`: `output` has `input.n * input.c`
/// elements (see [`crate::reference::pool::mean_f32`]).
pub fn mean_f16(input: Shape, input_data: &[f16], output: &mut [f16]) -> Result<()> {
    mean_with(input, input_data, output, f16::to_f32, f16::from_f32)
}
