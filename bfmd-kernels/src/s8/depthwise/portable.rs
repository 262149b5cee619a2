//! Portable inner loops of the int8 depthwise convolution, callable on every target.
//!
//! The out-of-place loop accumulates a block of output channels at once so that the innermost
//! loop walks contiguous filter and output channels; integer sums are associative, so the
//! result is the same as TFLM's one-MAC-at-a-time order.

use super::{check_depthwise_s8, depthwise_conv_s8_scratch_len_portable, DepthwiseS8Params};
use crate::error::{check_min_len, Result};
use crate::reference::depthwise::{depthwise_block_loop, depthwise_inplace_planes};
use crate::s8::conv::portable::{finish, mac};

/// [`super::depthwise_conv_s8`] on the portable path.
///
/// # Errors
/// Those of [`super::depthwise_conv_s8`].
pub fn depthwise_conv_s8(
    p: &DepthwiseS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) -> Result<()> {
    let mult = check_depthwise_s8(p, input.len(), filter.len(), bias, output.len())?;
    check_min_len(
        "scratch",
        depthwise_conv_s8_scratch_len_portable(&p.geometry),
        scratch.len(),
    )?;
    let q = &p.quant;
    let off = q.input_offset;
    depthwise_block_loop(
        &p.geometry,
        input,
        filter,
        output,
        mult,
        0i32,
        |a, x: i8, f: i8| mac(a, x as i32, off, f as i32),
        |a, c| finish(q, a, bias, c),
    );
    Ok(())
}

/// The loop of [`super::depthwise_conv_s8_inplace`]; the caller has checked everything.
/// (NEON builds run `neon::depthwise_inplace_loop`.)
#[cfg_attr(bfmd_neon, allow(dead_code))]
pub(crate) fn depthwise_inplace_loop(
    p: &DepthwiseS8Params,
    buf: &mut [i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    scratch: &mut [u8],
) {
    let g = &p.geometry;
    let q = &p.quant;
    depthwise_inplace_planes(g, buf, scratch, |ch, plane, window| {
        let mut acc = 0i32;
        window.for_each_tap(g, |i, t| {
            // One byte per element: read it directly rather than through `PlaneElem::load`.
            let x = plane[i] as i8 as i32;
            acc = mac(acc, x, q.input_offset, filter[t * g.output.c + ch] as i32);
        });
        finish(q, acc, bias, ch)
    });
}
