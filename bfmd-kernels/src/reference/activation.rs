//! Element-wise activations in `f32`: the definitions every int8 and f16 activation is measured
//! against, and the kernels of `f32` models.
//!
//! | op | definition | source |
//! |---|---|---|
//! | ReLU | `max(x, 0)` | TFLite RELU |
//! | ReLU6 | `min(max(x, 0), 6)` | TFLite RELU6 |
//! | ReLU_N1_TO_1 | `min(max(x, -1), 1)` | TFLite RELU_N1_TO_1 |
//! | hard-sigmoid | `relu6(x + 3) / 6` | PyTorch `Hardsigmoid` (no TFLite builtin) |
//! | hard-swish | `x * relu6(x + 3) / 6` | TFLite HARD_SWISH, PyTorch `Hardswish` |
//! | logistic | `1 / (1 + exp(-x))` | TFLite LOGISTIC, PyTorch `Sigmoid` |
//! | swish | `x * logistic(x)` | PyTorch `SiLU` (EfficientNet; no TFLite builtin) |
//!
//! Each op has a scalar function (`hard_swish(x)`), a kernel `<op>_f32(input, output)` and an
//! in-place kernel `<op>_f32_inplace(data)`. The tensors may have any shape; only their lengths
//! matter. NaN propagates through every op (the clamps are TFLite's `val < lower ? lower : val`
//! comparisons, which let NaN through).

use crate::error::{check_len, Result};

/// `max(x, 0)`, written as TFLite's `ReluFloat` (`x < 0 ? 0 : x`).
#[inline(always)]
pub fn relu(x: f32) -> f32 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// `min(max(x, 0), 6)` (TFLite's `Relu6Float`; `clamp` gives the same result for every input,
/// NaN and -0 included).
#[inline(always)]
pub fn relu6(x: f32) -> f32 {
    x.clamp(0.0, 6.0)
}

/// `min(max(x, -1), 1)` (TFLite's `Relu1`).
#[inline(always)]
pub fn relu_n1_to_1(x: f32) -> f32 {
    x.clamp(-1.0, 1.0)
}

/// `relu6(x + 3) / 6` (PyTorch `Hardsigmoid`).
#[inline(always)]
pub fn hard_sigmoid(x: f32) -> f32 {
    relu6(x + 3.0) / 6.0
}

/// `x * relu6(x + 3) / 6`, in TFLite's evaluation order (`reference/hard_swish.h`: the product
/// first, then the division).
#[inline(always)]
pub fn hard_swish(x: f32) -> f32 {
    x * relu6(x + 3.0) / 6.0
}

/// `1 / (1 + exp(-x))`.
#[inline(always)]
pub fn logistic(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

/// `x * logistic(x)` (swish / SiLU).
#[inline(always)]
pub fn swish(x: f32) -> f32 {
    x * logistic(x)
}

/// Applies `f` element-wise from `input` to `output` after checking the lengths agree.
#[inline(always)]
fn map(input: &[f32], output: &mut [f32], f: impl Fn(f32) -> f32) -> Result<()> {
    check_len("output", input.len(), output.len())?;
    for (o, &x) in output.iter_mut().zip(input) {
        *o = f(x);
    }
    Ok(())
}

/// Applies `f` element-wise in place.
#[inline(always)]
fn map_inplace(data: &mut [f32], f: impl Fn(f32) -> f32) -> Result<()> {
    for v in data.iter_mut() {
        *v = f(*v);
    }
    Ok(())
}

/// ReLU of every element. `Err` when `output.len() != input.len()`.
pub fn relu_f32(input: &[f32], output: &mut [f32]) -> Result<()> {
    map(input, output, relu)
}

/// ReLU in place (never fails; returns `Result` like every kernel).
pub fn relu_f32_inplace(data: &mut [f32]) -> Result<()> {
    map_inplace(data, relu)
}

/// ReLU6 of every element. `Err` when `output.len() != input.len()`.
pub fn relu6_f32(input: &[f32], output: &mut [f32]) -> Result<()> {
    map(input, output, relu6)
}

/// ReLU6 in place.
pub fn relu6_f32_inplace(data: &mut [f32]) -> Result<()> {
    map_inplace(data, relu6)
}

/// ReLU_N1_TO_1 (clamp to `[-1, 1]`) of every element. `Err` when the lengths differ.
pub fn relu_n1_to_1_f32(input: &[f32], output: &mut [f32]) -> Result<()> {
    map(input, output, relu_n1_to_1)
}

/// ReLU_N1_TO_1 in place.
pub fn relu_n1_to_1_f32_inplace(data: &mut [f32]) -> Result<()> {
    map_inplace(data, relu_n1_to_1)
}

/// Hard-sigmoid of every element. `Err` when the lengths differ.
pub fn hard_sigmoid_f32(input: &[f32], output: &mut [f32]) -> Result<()> {
    map(input, output, hard_sigmoid)
}

/// Hard-sigmoid in place.
pub fn hard_sigmoid_f32_inplace(data: &mut [f32]) -> Result<()> {
    map_inplace(data, hard_sigmoid)
}

/// Hard-swish of every element. `Err` when the lengths differ.
pub fn hard_swish_f32(input: &[f32], output: &mut [f32]) -> Result<()> {
    map(input, output, hard_swish)
}

/// Hard-swish in place.
pub fn hard_swish_f32_inplace(data: &mut [f32]) -> Result<()> {
    map_inplace(data, hard_swish)
}

/// Logistic (sigmoid) of every element. `Err` when the lengths differ.
pub fn logistic_f32(input: &[f32], output: &mut [f32]) -> Result<()> {
    map(input, output, logistic)
}

/// Logistic in place.
pub fn logistic_f32_inplace(data: &mut [f32]) -> Result<()> {
    map_inplace(data, logistic)
}

/// Swish (`x * logistic(x)`) of every element. `Err` when the lengths differ.
pub fn swish_f32(input: &[f32], output: &mut [f32]) -> Result<()> {
    map(input, output, swish)
}

/// Swish in place.
pub fn swish_f32_inplace(data: &mut [f32]) -> Result<()> {
    map_inplace(data, swish)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_definitions() {
        assert_eq!(relu(-0.5), 0.0);
        assert_eq!(relu(2.5), 2.5);
        assert_eq!(relu6(7.0), 6.0);
        assert_eq!(relu_n1_to_1(-3.0), -1.0);
        assert_eq!(relu_n1_to_1(0.25), 0.25);
        assert_eq!(hard_sigmoid(0.0), 0.5);
        assert_eq!(hard_sigmoid(-3.0), 0.0);
        assert_eq!(hard_sigmoid(3.0), 1.0);
        assert_eq!(hard_swish(1.0), 1.0 * 4.0 / 6.0);
        assert_eq!(hard_swish(-4.0), 0.0);
        assert_eq!(hard_swish(4.0), 4.0);
        assert_eq!(logistic(0.0), 0.5);
        assert!((logistic(2.0) - 0.880_797_1).abs() < 1e-7);
        assert!((swish(-1.0) + 0.268_941_4).abs() < 1e-7);
    }
}
