//! Portable inner loop of the int8 fully connected layer, callable on every target.

use super::{check_fully_connected_s8, FullyConnectedS8Params};
use crate::error::Result;
use crate::s8::conv::portable::{i8_to_i32, pointwise_pixel};

/// [`super::fully_connected_s8`] on the portable path: one blocked matrix-vector product per
/// batch row.
///
/// # Errors
/// Those of [`super::fully_connected_s8`].
pub fn fully_connected_s8(
    p: &FullyConnectedS8Params,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) -> Result<()> {
    check_fully_connected_s8(
        p,
        input.len(),
        weights.len(),
        bias,
        output.len(),
        scratch.len(),
    )?;
    let (k, n) = (p.geometry.in_features, p.geometry.out_features);
    // A fully connected row is a pointwise convolution of one pixel: reuse its blocked loop
    // (four outputs share each input load).
    for b in 0..p.geometry.batch {
        let x = &input[b * k..(b + 1) * k];
        let out_row = &mut output[b * n..(b + 1) * n];
        pointwise_pixel(&p.quant, x, i8_to_i32, weights, bias, out_row, k, n);
    }
    Ok(())
}
