//! Half-precision fully connected layer: f16 tensors, `f32` bias, one rounding to f16.
//!
//! The accumulation depends on the path exactly as for the convolution
//! ([`crate::f16::conv`]): `f32` in the reference's order on the portable path
//! ([`crate::reference::fully_connected::fully_connected_f32`]), `f32` with four partial sums
//! on `"neon"`, f16 with eight partial sums on `"neon-fp16"` ([`ACCUMULATES_IN_F16`]; error
//! bound about `2 * (in_features + 2) * 2^-11 * sum |x * w|`).

use crate::error::{check_min_len, Result};
use crate::reference::conv::check_float_activation;
use crate::reference::fully_connected::{
    check_fc_shapes, FullyConnectedF32Params, FullyConnectedGeometry,
};
use half::f16;

#[cfg(bfmd_neon)]
mod neon;
pub mod portable;

/// The path [`fully_connected_f16`] runs on this build (see [`crate::f16::conv::PATH`]).
pub const PATH: &str = crate::f16::conv::PATH;

/// Whether [`fully_connected_f16`] accumulates in f16 on this build.
pub const ACCUMULATES_IN_F16: bool = crate::f16::conv::ACCUMULATES_IN_F16;

/// Parameters of [`fully_connected_f16`] (the float fully connected parameters).
pub type FullyConnectedF16Params = FullyConnectedF32Params;

/// Number of scratch bytes [`fully_connected_f16`] needs on this build's path: none.
pub const fn fully_connected_f16_scratch_len(_geometry: &FullyConnectedGeometry) -> usize {
    0
}

/// Checks every argument of an f16 fully connected layer.
pub(crate) fn check(
    p: &FullyConnectedF16Params,
    input: &[f16],
    weights: &[f16],
    bias: Option<&[f32]>,
    output: &[f16],
    scratch: &[u8],
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
    )
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
    #[cfg(bfmd_neon)]
    return neon::fully_connected_f16(p, input, weights, bias, output, scratch);
    #[allow(unreachable_code)]
    portable::fully_connected_f16(p, input, weights, bias, output, scratch)
}
