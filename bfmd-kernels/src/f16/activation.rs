//! Element-wise activations on `f16` tensors: each element is widened to `f32`, goes through the
//! `f32` definition of [`crate::reference::activation`] and is rounded back to `f16` (round to
//! nearest even). The result is therefore the correctly rounded `f16` of the `f32` reference
//! applied to the `f16` input: within half an `f16` ulp (relative `2^-11`) of it.
//!
//! Kernels `<op>_f16(input, output)` and `<op>_f16_inplace(data)`; any shape, equal lengths.

use half::f16;

use crate::error::{check_len, Result};
use crate::reference::activation as r;

#[inline(always)]
fn map(input: &[f16], output: &mut [f16], f: impl Fn(f32) -> f32) -> Result<()> {
    check_len("output", input.len(), output.len())?;
    for (o, x) in output.iter_mut().zip(input) {
        *o = f16::from_f32(f(x.to_f32()));
    }
    Ok(())
}

#[inline(always)]
fn map_inplace(data: &mut [f16], f: impl Fn(f32) -> f32) -> Result<()> {
    for v in data.iter_mut() {
        *v = f16::from_f32(f(v.to_f32()));
    }
    Ok(())
}

/// ReLU. Errors: `output.len() != input.len()`.
pub fn relu_f16(input: &[f16], output: &mut [f16]) -> Result<()> {
    map(input, output, r::relu)
}

/// ReLU in place.
pub fn relu_f16_inplace(data: &mut [f16]) -> Result<()> {
    map_inplace(data, r::relu)
}

/// ReLU6. Errors: `output.len() != input.len()`.
pub fn relu6_f16(input: &[f16], output: &mut [f16]) -> Result<()> {
    map(input, output, r::relu6)
}

/// ReLU6 in place.
pub fn relu6_f16_inplace(data: &mut [f16]) -> Result<()> {
    map_inplace(data, r::relu6)
}

/// ReLU_N1_TO_1 (clamp to `[-1, 1]`). Errors: `output.len() != input.len()`.
pub fn relu_n1_to_1_f16(input: &[f16], output: &mut [f16]) -> Result<()> {
    map(input, output, r::relu_n1_to_1)
}

/// ReLU_N1_TO_1 in place.
pub fn relu_n1_to_1_f16_inplace(data: &mut [f16]) -> Result<()> {
    map_inplace(data, r::relu_n1_to_1)
}

/// Hard-sigmoid, `relu6(x + 3) / 6`. Errors: `output.len() != input.len()`.
pub fn hard_sigmoid_f16(input: &[f16], output: &mut [f16]) -> Result<()> {
    map(input, output, r::hard_sigmoid)
}

/// Hard-sigmoid in place.
pub fn hard_sigmoid_f16_inplace(data: &mut [f16]) -> Result<()> {
    map_inplace(data, r::hard_sigmoid)
}

/// Hard-swish, `x * relu6(x + 3) / 6`. Errors: `output.len() != input.len()`.
pub fn hard_swish_f16(input: &[f16], output: &mut [f16]) -> Result<()> {
    map(input, output, r::hard_swish)
}

/// Hard-swish in place.
pub fn hard_swish_f16_inplace(data: &mut [f16]) -> Result<()> {
    map_inplace(data, r::hard_swish)
}

/// Logistic, `1 / (1 + exp(-x))`. Errors: `output.len() != input.len()`.
pub fn logistic_f16(input: &[f16], output: &mut [f16]) -> Result<()> {
    map(input, output, r::logistic)
}

/// Logistic in place.
pub fn logistic_f16_inplace(data: &mut [f16]) -> Result<()> {
    map_inplace(data, r::logistic)
}

/// Swish, `x * logistic(x)`. Errors: `output.len() != input.len()`.
pub fn swish_f16(input: &[f16], output: &mut [f16]) -> Result<()> {
    map(input, output, r::swish)
}

/// Swish in place.
pub fn swish_f16_inplace(data: &mut [f16]) -> Result<()> {
    map_inplace(data, r::swish)
}
