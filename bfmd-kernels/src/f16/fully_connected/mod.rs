//! Half-precision fully connected layer: f16 tensors, `f32` bias and accumulation (in the
//! reference's order, [`crate::reference::fully_connected::fully_connected_f32`]), one
//! rounding to f16.

use crate::error::{check_min_len, Result};
use crate::reference::conv::check_float_activation;
use crate::reference::fully_connected::{
    check_fc_shapes, fully_connected_float_loop, FullyConnectedF32Params, FullyConnectedGeometry,
};
use half::f16;

/// The path [`fully_connected_f16`] runs on this build.
pub const PATH: &str = "portable";

/// Parameters of [`fully_connected_f16`] (the float fully connected parameters).
pub type FullyConnectedF16Params = FullyConnectedF32Params;

/// Number of scratch bytes [`fully_connected_f16`] needs on this build's path: none.
pub const fn fully_connected_f16_scratch_len(_geometry: &FullyConnectedGeometry) -> usize {
    0
}

/// f16 fully connected layer: `output[b, o] = clamp(sum_i input[b, i] * weights[o, i] +
/// bias[o])`.
///
/// * `input`: `[batch, in_features]`; `weights`: `[out_features, in_features]`;
///   `bias`: `f32` `[out_features]` or `None`; `output`: `[batch, out_features]`;
/// * `scratch`: at least [`fully_connected_f16_scratch_len`] bytes (0 here; pass `&mut []`).
///
/// # Errors
/// [`crate::Error::BufferLength`] for a buffer of the wrong length,
/// [`crate::Error::BadParam`] for an inverted clamp range.
pub fn fully_connected_f16(
    p: &FullyConnectedF16Params,
    input: &[f16],
    weights: &[f16],
    bias: Option<&[f32]>,
    output: &mut [f16],
    scratch: &mut [u8],
) -> Result<()> {
    check_fc_shapes(
        &p.geometry,
        input.len(),
        weights.len(),
        bias.map(|b| b.len()),
        output.len(),
    )?;
    check_float_activation(p.act_min, p.act_max)?;
    check_min_len(
        "scratch",
        fully_connected_f16_scratch_len(&p.geometry),
        scratch.len(),
    )?;
    fully_connected_float_loop(p, input, weights, bias, output, f16::from_f32);
    Ok(())
}
