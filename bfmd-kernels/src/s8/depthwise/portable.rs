//! Portable inner loops of the int8 depthwise convolution, callable on every target.
//!
//! The out-of-place loop accumulates a block of output channels at once so that the innermost
//! loop walks contiguous filter and output channels; integer sums are associative, so the
//! result is the same as TFLM's one-MAC-at-a-time order.

use super::{check_depthwise_s8, depthwise_conv_s8_scratch_len, DepthwiseS8Params};
use crate::error::{check_min_len, Result};
use crate::reference::conv::for_each_window;
use crate::reference::depthwise::{depthwise_inplace_planes, CHANNEL_BLOCK};
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
        depthwise_conv_s8_scratch_len(&p.geometry),
        scratch.len(),
    )?;
    let g = &p.geometry;
    let q = &p.quant;
    let off = q.input_offset;
    let (in_c, out_c) = (g.input.c, g.output.c);
    let mut acc = [0i32; CHANNEL_BLOCK];
    for_each_window(g, |px, window| {
        let out_base = px * out_c;
        let mut c0 = 0;
        while c0 < out_c {
            let n = CHANNEL_BLOCK.min(out_c - c0);
            let acc = &mut acc[..n];
            acc.fill(0);
            window.for_each_tap(g, |ipx, t| {
                let x_px = &input[ipx * in_c..][..in_c];
                let fs = &filter[t * out_c + c0..][..n];
                if mult == 1 {
                    let xs = &x_px[c0..c0 + n];
                    for ((a, &x), &f) in acc.iter_mut().zip(xs).zip(fs) {
                        *a = mac(*a, x as i32, off, f as i32);
                    }
                } else {
                    for (j, (a, &f)) in acc.iter_mut().zip(fs).enumerate() {
                        *a = mac(*a, x_px[(c0 + j) / mult] as i32, off, f as i32);
                    }
                }
            });
            let out_blk = &mut output[out_base + c0..out_base + c0 + n];
            for (j, (o, &a)) in out_blk.iter_mut().zip(acc.iter()).enumerate() {
                *o = finish(q, a, bias, c0 + j);
            }
            c0 += n;
        }
    });
    Ok(())
}

/// The loop of [`super::depthwise_conv_s8_inplace`]; the caller has checked everything.
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
