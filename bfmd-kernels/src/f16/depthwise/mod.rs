//! Half-precision depthwise convolution, NHWC, channel multiplier >= 1, and its in-place
//! variant (multiplier 1).
//!
//! f16 tensors, `f32` biases, `f32` accumulation in the reference's order
//! ([`crate::reference::depthwise::depthwise_conv_f32`]), one rounding to f16 at the end, on
//! every path: the NEON loop ([`PATH`] `"neon"`) widens eight channels at a time with `FCVTL`
//! and accumulates each channel's taps in order with `FMLA .4s`, whose single rounding equals
//! the portable multiply-then-add because the product of two halves is exact in `f32`. So the
//! paths, and the in-place variant, are bit-identical.

use crate::error::{check_min_len, Result};
use crate::reference::conv::check_float_activation;
use crate::reference::depthwise::{
    check_depthwise_inplace, check_depthwise_shapes, depthwise_float_inplace_loop,
    DepthwiseF32Params,
};
use crate::shape::ConvGeometry;
use half::f16;

#[cfg(bfmd_neon)]
mod neon;
pub mod portable;

/// The path [`depthwise_conv_f16`] runs on this build: `"neon"` on aarch64 with NEON,
/// `"portable"` elsewhere or with the `force-portable` feature.
pub const PATH: &str = if cfg!(bfmd_neon) { "neon" } else { "portable" };

/// Whether [`depthwise_conv_f16`] accumulates in f16 on this build: never (see the module
/// documentation).
pub const ACCUMULATES_IN_F16: bool = false;

/// Parameters of [`depthwise_conv_f16`] (the float depthwise parameters).
pub type DepthwiseF16Params = DepthwiseF32Params;

/// Number of scratch bytes [`depthwise_conv_f16`] needs on this build's path: none.
pub const fn depthwise_conv_f16_scratch_len(_geometry: &ConvGeometry) -> usize {
    0
}

/// Number of scratch bytes [`depthwise_conv_f16_inplace`] needs: one input channel plane,
/// `in_h * in_w * 2` bytes.
pub const fn depthwise_conv_f16_inplace_scratch_len(geometry: &ConvGeometry) -> usize {
    geometry
        .input
        .h
        .saturating_mul(geometry.input.w)
        .saturating_mul(2)
}

/// Checks every argument of an f16 depthwise convolution; returns the channel multiplier.
pub(crate) fn check(
    p: &DepthwiseF16Params,
    input: &[f16],
    filter: &[f16],
    bias: Option<&[f32]>,
    output: &[f16],
    scratch: &[u8],
) -> Result<usize> {
    let mult = check_depthwise_shapes(
        &p.geometry,
        input.len(),
        filter.len(),
        bias.map(|b| b.len()),
        output.len(),
    )?;
    check_float_activation(p.act_min, p.act_max)?;
    check_min_len(
        "scratch",
        depthwise_conv_f16_scratch_len(&p.geometry),
        scratch.len(),
    )?;
    Ok(mult)
}

/// f16 depthwise convolution, NHWC.
///
/// * `input`: `[n, in_h, in_w, in_c]`; `filter`: `[1, kernel_h, kernel_w, in_c * multiplier]`;
///   `bias`: `f32` `[in_c * multiplier]` or `None`; `output`: `[n, out_h, out_w,
///   in_c * multiplier]`;
/// * `scratch`: at least [`depthwise_conv_f16_scratch_len`] bytes (0 here; pass `&mut []`).
///
/// # Errors
/// As [`crate::reference::depthwise::depthwise_conv_f32`], plus
/// [`crate::Error::BufferLength`] for a short scratch.
pub fn depthwise_conv_f16(
    p: &DepthwiseF16Params,
    input: &[f16],
    filter: &[f16],
    bias: Option<&[f32]>,
    output: &mut [f16],
    scratch: &mut [u8],
) -> Result<()> {
    #[cfg(bfmd_neon)]
    return neon::depthwise_conv_f16(p, input, filter, bias, output, scratch);
    #[allow(unreachable_code)]
    portable::depthwise_conv_f16(p, input, filter, bias, output, scratch)
}

/// f16 depthwise convolution with multiplier 1 whose output overwrites its input in `buf`
/// (TinyEngine's in-place schedule); bit-identical to [`depthwise_conv_f16`].
///
/// `buf` holds the input `[n, in_h, in_w, c]`; on return its first `n * out_h * out_w * c`
/// elements are the output. `scratch`: at least [`depthwise_conv_f16_inplace_scratch_len`]
/// bytes. Needs `out_h * out_w <= in_h * in_w`.
///
/// # Errors
/// As [`depthwise_conv_f16`] (with `buf` as the input), [`crate::Error::Unsupported`] for a
/// channel multiplier other than 1, [`crate::Error::DimMismatch`] when the output has more
/// pixels than the input.
pub fn depthwise_conv_f16_inplace(
    p: &DepthwiseF16Params,
    buf: &mut [f16],
    filter: &[f16],
    bias: Option<&[f32]>,
    scratch: &mut [u8],
) -> Result<()> {
    check_depthwise_inplace(
        &p.geometry,
        buf.len(),
        filter.len(),
        bias.map(|b| b.len()),
        scratch.len(),
        2,
    )?;
    check_float_activation(p.act_min, p.act_max)?;
    depthwise_float_inplace_loop(p, buf, filter, bias, scratch, f16::from_f32);
    Ok(())
}
