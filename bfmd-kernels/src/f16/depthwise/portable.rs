//! Portable loop of the f16 depthwise convolution, callable on every target: `f32`
//! accumulation of each output's taps in `(filter_y, filter_x)` order, bias last, one rounding
//! to f16.

use super::{check, DepthwiseF16Params};
use crate::error::Result;
use crate::reference::depthwise::depthwise_float_loop;
use half::f16;

/// [`super::depthwise_conv_f16`] on the portable path.
///
/// # Errors
/// As [`super::depthwise_conv_f16`].
pub fn depthwise_conv_f16(
    p: &DepthwiseF16Params,
    input: &[f16],
    filter: &[f16],
    bias: Option<&[f32]>,
    output: &mut [f16],
    scratch: &mut [u8],
) -> Result<()> {
    let mult = check(p, input, filter, bias, output, scratch)?;
    depthwise_float_loop(p, input, filter, bias, output, mult, f16::from_f32);
    Ok(())
}
