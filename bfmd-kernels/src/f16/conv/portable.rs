//! Portable loops of the f16 convolution, callable on every target: `f32` accumulation in the
//! order of the `f32` reference, one rounding to f16.

use super::{check, conv_f16_scratch_len, ConvF16Params};
use crate::error::{check_min_len, Error, Result};
use crate::reference::conv::{conv_float_loop, is_pointwise};
use half::f16;

/// [`super::conv_f16`] on the portable path: the pointwise loop for 1x1 / stride 1 / no
/// padding, the general loop otherwise (both give the same results).
///
/// # Errors
/// As [`super::conv_f16`].
pub fn conv_f16(
    p: &ConvF16Params,
    input: &[f16],
    filter: &[f16],
    bias: Option<&[f32]>,
    output: &mut [f16],
    scratch: &mut [u8],
) -> Result<()> {
    let (cin_g, cout_g) = check(p, input, filter, bias, output)?;
    check_min_len("scratch", conv_f16_scratch_len(&p.geometry), scratch.len())?;
    if is_pointwise(&p.geometry) {
        pointwise_loop(p, input, filter, bias, output, cin_g, cout_g);
    } else {
        conv_float_loop(p, input, filter, bias, output, cin_g, cout_g, f16::from_f32);
    }
    Ok(())
}

/// The general f16 convolution loop for any geometry (tests compare it with the pointwise
/// loop).
///
/// # Errors
/// As [`super::conv_f16`].
pub fn conv_f16_general(
    p: &ConvF16Params,
    input: &[f16],
    filter: &[f16],
    bias: Option<&[f32]>,
    output: &mut [f16],
) -> Result<()> {
    let (cin_g, cout_g) = check(p, input, filter, bias, output)?;
    conv_float_loop(p, input, filter, bias, output, cin_g, cout_g, f16::from_f32);
    Ok(())
}

/// The f16 pointwise loop: a 1x1, stride 1, unpadded (optionally grouped) convolution as one
/// matrix product per pixel.
///
/// # Errors
/// As [`super::conv_f16`], and [`Error::Unsupported`] for a geometry that is not pointwise.
pub fn pointwise_conv_f16(
    p: &ConvF16Params,
    input: &[f16],
    filter: &[f16],
    bias: Option<&[f32]>,
    output: &mut [f16],
) -> Result<()> {
    let (cin_g, cout_g) = check(p, input, filter, bias, output)?;
    if !is_pointwise(&p.geometry) {
        return Err(Error::Unsupported(
            "pointwise loop needs a 1x1 kernel, stride 1 and no padding",
        ));
    }
    pointwise_loop(p, input, filter, bias, output, cin_g, cout_g);
    Ok(())
}

fn pointwise_loop(
    p: &ConvF16Params,
    input: &[f16],
    filter: &[f16],
    bias: Option<&[f32]>,
    output: &mut [f16],
    cin_g: usize,
    cout_g: usize,
) {
    let (in_c, out_c) = (p.geometry.input.c, p.geometry.output.c);
    for px in 0..p.geometry.input.pixels() {
        let x = &input[px * in_c..(px + 1) * in_c];
        let out_px = &mut output[px * out_c..(px + 1) * out_c];
        for (o, out_v) in out_px.iter_mut().enumerate() {
            let x0 = (o / cout_g) * cin_g;
            let xs = &x[x0..x0 + cin_g];
            let fs = &filter[o * cin_g..(o + 1) * cin_g];
            let mut acc = 0.0f32;
            for (x, f) in xs.iter().zip(fs) {
                acc += x.to_f32() * f.to_f32();
            }
            if let Some(bias) = bias {
                acc += bias[o];
            }
            *out_v = f16::from_f32(acc.max(p.act_min).min(p.act_max));
        }
    }
}
