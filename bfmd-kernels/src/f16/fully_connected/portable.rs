//! Portable loop of the f16 fully connected layer, callable on every target: `f32`
//! accumulation in input order, bias last, one rounding to f16.

use super::{check, FullyConnectedF16Params};
use crate::error::Result;
use crate::reference::fully_connected::fully_connected_float_loop;
use half::f16;

/// [`super::fully_connected_f16`] on the portable path.
///
/// # Errors
/// As [`super::fully_connected_f16`].
pub fn fully_connected_f16(
    p: &FullyConnectedF16Params,
    input: &[f16],
    weights: &[f16],
    bias: Option<&[f32]>,
    output: &mut [f16],
    scratch: &mut [u8],
) -> Result<()> {
    check(p, input, weights, bias, output, scratch)?;
    fully_connected_float_loop(p, input, weights, bias, output, f16::from_f32);
    Ok(())
}
