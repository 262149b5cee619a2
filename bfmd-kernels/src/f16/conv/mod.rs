//! Half-precision convolution: dense, grouped and pointwise (1x1), NHWC.
//!
//! Tensors are [`half::f16`]; products are accumulated in `f32` in the order of the `f32` reference
//! ([`crate::reference::conv::conv_f32`]: `(filter_y, filter_x, in_channel)`, bias last), the
//! sum is clamped in `f32` and rounded once to f16 (round to nearest even). Biases are `f32`.
//! Given the same (f16-representable) operands, the result is therefore the reference result
//! rounded to f16.

use crate::error::{check_min_len, Error, Result};
use crate::reference::conv::{
    check_conv_shapes, check_float_activation, conv_float_loop, is_pointwise, ConvF32Params,
};
use crate::shape::ConvGeometry;
use half::f16;

/// The path [`conv_f16`] runs on this build.
pub const PATH: &str = "portable";

/// Parameters of [`conv_f16`]: the float convolution parameters (the clamp range is `f32`
/// because accumulation is).
pub type ConvF16Params = ConvF32Params;

/// Number of scratch bytes [`conv_f16`] needs on this build's path: none.
pub const fn conv_f16_scratch_len(_geometry: &ConvGeometry) -> usize {
    0
}

fn check(
    p: &ConvF16Params,
    input: &[f16],
    filter: &[f16],
    bias: Option<&[f32]>,
    output: &[f16],
) -> Result<(usize, usize)> {
    let dims = check_conv_shapes(
        &p.geometry,
        input.len(),
        filter.len(),
        bias.map(|b| b.len()),
        output.len(),
    )?;
    check_float_activation(p.act_min, p.act_max)?;
    Ok(dims)
}

/// f16 2-D convolution, NHWC, dense or grouped.
///
/// * `input`: `[n, in_h, in_w, in_c]`; `filter`: OHWI `[out_c, kernel_h, kernel_w,
///   in_c / groups]`; `bias`: `f32` `[out_c]` or `None`; `output`: `[n, out_h, out_w, out_c]`;
/// * `scratch`: at least [`conv_f16_scratch_len`] bytes (0 here; pass `&mut []`).
///
/// Any geometry [`ConvGeometry::validate`] accepts; 1x1 / stride 1 / no padding runs the
/// pointwise loop ([`pointwise_conv_f16`]), which gives identical results.
///
/// # Errors
/// As [`crate::reference::conv::conv_f32`], plus [`Error::BufferLength`] for a short scratch.
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
/// As [`conv_f16`].
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
/// As [`conv_f16`], and [`Error::Unsupported`] for a geometry that is not pointwise.
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
