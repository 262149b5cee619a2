//! int8 depthwise convolution (TFLite `DEPTHWISE_CONV_2D`), NHWC, channel multiplier >= 1.
//!
//! Bit-exact with TFLM's `reference_integer_ops::DepthwiseConvPerChannel`
//! (`tensorflow/lite/kernels/internal/reference/integer_ops/depthwise_conv.h`): output channel
//! `oc = ic * multiplier + m` accumulates `filter[ky, kx, oc] * (input[iy, ix, ic] +
//! input_offset)` over the valid taps (padded taps are skipped), adds `bias[oc]`, and is
//! requantized with `multiplier[oc]`, `shift[oc]` like the convolution
//! ([`ChannelQuantS8::requantize`]).
//!
//! Entry points: [`depthwise_conv_s8`] and the in-place [`depthwise_conv_s8_inplace`] (for the
//! graph's memory planner); [`portable`] holds the loops.

use crate::error::Result;
use crate::reference::depthwise::{check_depthwise_inplace, check_depthwise_shapes};
pub use crate::s8::conv::ChannelQuantS8;
use crate::s8::conv::ConvS8Params;
use crate::shape::ConvGeometry;

#[cfg(bfmd_dsp)]
mod dsp;
#[cfg(bfmd_neon)]
pub(crate) mod neon;
pub mod portable;

// The loop of `depthwise_conv_s8_inplace` on this build.
#[cfg(bfmd_neon)]
use neon::depthwise_inplace_loop as inplace_loop;
#[cfg(not(bfmd_neon))]
use portable::depthwise_inplace_loop as inplace_loop;

/// The path [`depthwise_conv_s8`] runs on this build: `"dsp"` on cores with the Arm DSP
/// extension (channel multiplier 1, windows of up to 64 taps; other shapes run the portable
/// loop), `"portable"` elsewhere or with the `force-portable` feature.
/// On aarch64 with NEON (unless `force-portable`) the dispatcher runs the NEON loop, `"neon"`
/// (SMLAL; SDOT does not fit depthwise sums).
pub const PATH: &str = if cfg!(bfmd_dsp) {
    "dsp"
} else if cfg!(bfmd_neon) {
    "neon"
} else {
    "portable"
};

/// Parameters of the int8 depthwise convolution: the convolution's, with `geometry.groups`
/// ignored and the channel multiplier `geometry.output.c / geometry.input.c`.
/// [`ConvS8Params::from_scales`] builds them (TFLM's depthwise `Prepare` uses the same
/// `PopulateConvolutionQuantizationParams`).
pub type DepthwiseS8Params<'a> = ConvS8Params<'a>;

/// Number of scratch bytes [`depthwise_conv_s8`] needs on this build's path: none.
pub const fn depthwise_conv_s8_scratch_len(_geometry: &ConvGeometry) -> usize {
    0
}

/// Number of scratch bytes [`depthwise_conv_s8_inplace`] needs: one input channel plane,
/// `in_h * in_w` bytes.
pub const fn depthwise_conv_s8_inplace_scratch_len(geometry: &ConvGeometry) -> usize {
    geometry.input.h.saturating_mul(geometry.input.w)
}

/// Checks every argument of an int8 depthwise convolution; returns the channel multiplier.
pub(crate) fn check_depthwise_s8(
    p: &DepthwiseS8Params,
    input_len: usize,
    filter_len: usize,
    bias: Option<&[i32]>,
    output_len: usize,
) -> Result<usize> {
    let mult = check_depthwise_shapes(
        &p.geometry,
        input_len,
        filter_len,
        bias.map(|b| b.len()),
        output_len,
    )?;
    p.quant.validate(p.geometry.output.c)?;
    Ok(mult)
}

/// int8 depthwise convolution, NHWC, TFLite semantics (bit-exact with TFLM's
/// `reference_integer_ops::DepthwiseConvPerChannel`).
///
/// * `input`: int8 `[n, in_h, in_w, in_c]`;
/// * `filter`: int8 `[1, kernel_h, kernel_w, in_c * multiplier]`, symmetric, per-channel or
///   per-tensor scale;
/// * `bias`: int32 `[in_c * multiplier]` or `None`;
/// * `output`: int8 `[n, out_h, out_w, in_c * multiplier]`;
/// * `scratch`: at least [`depthwise_conv_s8_scratch_len`] bytes (0 here; pass `&mut []`).
///
/// Any kernel size, stride, dilation and padding [`ConvGeometry::validate`] accepts. No
/// over-reads.
///
/// # Errors
/// [`crate::Error::BufferLength`] for a buffer of the wrong length,
/// [`crate::Error::DimMismatch`] when the output channels are not a positive multiple of the
/// input channels, [`crate::Error::BadParam`] for quantization parameters out of range, and
/// whatever [`ConvGeometry::validate`] reports.
pub fn depthwise_conv_s8(
    p: &DepthwiseS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) -> Result<()> {
    #[cfg(bfmd_dsp)]
    {
        let mult = check_depthwise_s8(p, input.len(), filter.len(), bias, output.len())?;
        crate::error::check_min_len(
            "scratch",
            depthwise_conv_s8_scratch_len(&p.geometry),
            scratch.len(),
        )?;
        if dsp::supports(&p.geometry, mult) {
            dsp::depthwise_loop(p, input, filter, bias, output);
            return Ok(());
        }
    }
    #[cfg(bfmd_neon)]
    return neon::depthwise_conv_s8(p, input, filter, bias, output, scratch);
    #[allow(unreachable_code)]
    portable::depthwise_conv_s8(p, input, filter, bias, output, scratch)
}

/// int8 depthwise convolution with channel multiplier 1 whose output overwrites its input
/// (TinyEngine's in-place schedule); bit-identical to [`depthwise_conv_s8`].
///
/// `buf` holds the input `[n, in_h, in_w, c]` (exactly); on return its first
/// `n * out_h * out_w * c` elements are the output and the rest is unspecified. `scratch` holds
/// at least [`depthwise_conv_s8_inplace_scratch_len`] bytes: each channel's input plane is
/// parked there before that channel's outputs are written. Needs
/// `out_h * out_w <= in_h * in_w` (true for SAME or VALID padding with any stride).
///
/// # Errors
/// Those of [`depthwise_conv_s8`] (with `buf` as the input), [`crate::Error::Unsupported`] for
/// a channel multiplier other than 1, [`crate::Error::DimMismatch`] when the output has more
/// pixels than the input, [`crate::Error::BufferLength`] for a short scratch.
pub fn depthwise_conv_s8_inplace(
    p: &DepthwiseS8Params,
    buf: &mut [i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    scratch: &mut [u8],
) -> Result<()> {
    let g = &p.geometry;
    check_depthwise_inplace(
        g,
        buf.len(),
        filter.len(),
        bias.map(|b| b.len()),
        scratch.len(),
        1,
    )?;
    p.quant.validate(g.output.c)?;
    #[cfg(bfmd_dsp)]
    if dsp::inplace(p, buf, filter, bias) {
        return Ok(());
    }
    inplace_loop(p, buf, filter, bias, scratch);
    Ok(())
}
