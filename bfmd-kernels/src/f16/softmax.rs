//! Softmax over the last axis on `f16` tensors, computed in `f32` (the same three passes as
//! [`crate::reference::softmax::softmax_f32`]; no intermediate is stored in `f16`, so each output
//! is the `f16` rounding of the `f32` result on the `f16` input).

use half::f16;

use crate::error::{check_len, Result};
use crate::reference::softmax::{check_rows, softmax_rows_inplace};

/// Softmax of every row of `depth` elements. Errors: `depth == 0`, `input.len()` not a multiple
/// of `depth`, `output.len() != input.len()`.
pub fn softmax_f16(beta: f32, depth: usize, input: &[f16], output: &mut [f16]) -> Result<()> {
    check_rows(depth, input.len())?;
    check_len("output", input.len(), output.len())?;
    output.copy_from_slice(input);
    softmax_f16_inplace(beta, depth, output)
}

/// [`softmax_f16`] overwriting its input.
pub fn softmax_f16_inplace(beta: f32, depth: usize, data: &mut [f16]) -> Result<()> {
    softmax_rows_inplace(beta, depth, data, f16::to_f32, f16::from_f32)
}
