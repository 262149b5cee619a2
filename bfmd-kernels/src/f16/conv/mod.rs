//! Half-precision convolution: dense, grouped and pointwise (1x1), NHWC.
//!
//! Tensors are [`half::f16`], biases `f32`. The sum of products is clamped in `f32` and
//! rounded once to f16 (round to nearest even). How the sum is accumulated depends on the path
//! ([`PATH`], [`ACCUMULATES_IN_F16`]):
//!
//! * portable ([`portable`]): in `f32`, in the order of the `f32` reference
//!   ([`crate::reference::conv::conv_f32`]: `(filter_y, filter_x, in_channel)`, bias last), so
//!   given the same (f16-representable) operands the result is the reference result rounded to
//!   f16;
//! * NEON without the FP16 extension (`"neon"`): in `f32` (`FCVTL` widens four halves, `FMLA
//!   .4s` accumulates), four partial sums per output channel added at the end: the `f32`
//!   summation error bound is the same, the last bit may differ from the portable loop;
//! * NEON with the FP16 extension (`"neon-fp16"`, `-C target-feature=+fp16`): products
//!   accumulated in f16 by `FMLA .8h`, eight partial sums per output channel widened to `f32`
//!   and added there with the bias. f16 accumulation is twice as fast and much less precise:
//!   each of the `n / 8` additions of a lane rounds to 11 bits, so the error bound is that of
//!   `f32` accumulation with the unit roundoff `2^-11` instead of `2^-24`, about
//!   `2 * (n + 2) * 2^-11 * sum |x * w|` for `n` products (the battery's
//!   `f16_kernel_sum_error`), plus `2^-25` per addition in f16's subnormal range. Sums that
//!   exceed 65504 in a lane overflow to infinity. Use the portable or `"neon"` build where
//!   that matters.

use crate::error::Result;
use crate::reference::conv::{check_conv_shapes, check_float_activation, ConvF32Params};
use crate::shape::ConvGeometry;
use half::f16;

#[cfg(bfmd_neon)]
pub(crate) mod neon;
pub mod portable;

pub use portable::{conv_f16_general, pointwise_conv_f16};

/// The path [`conv_f16`] runs on this build: `"neon-fp16"` on aarch64 with the FP16 extension
/// (f16 accumulation), `"neon"` on other aarch64 builds (`f32` accumulation), `"portable"`
/// elsewhere or with the `force-portable` feature.
pub const PATH: &str = if cfg!(all(bfmd_neon, target_feature = "fp16")) {
    "neon-fp16"
} else if cfg!(bfmd_neon) {
    "neon"
} else {
    "portable"
};

/// Whether [`conv_f16`] accumulates in f16 on this build (the `"neon-fp16"` path) rather than
/// in `f32`; see the module documentation for what that does to the error bound.
pub const ACCUMULATES_IN_F16: bool = cfg!(all(bfmd_neon, target_feature = "fp16"));

/// Parameters of [`conv_f16`]: the float convolution parameters (the clamp range is `f32`
/// because the final sum is).
pub type ConvF16Params = ConvF32Params;

/// Number of scratch bytes [`conv_f16`] needs on this build's path: none.
pub const fn conv_f16_scratch_len(_geometry: &ConvGeometry) -> usize {
    0
}

/// Checks every argument of an f16 convolution; returns `(in_c / groups, out_c / groups)`.
pub(crate) fn check(
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
/// pointwise loop. Accumulation precision: see the module documentation.
///
/// # Errors
/// As [`crate::reference::conv::conv_f32`], plus [`crate::Error::BufferLength`] for a short
/// scratch.
pub fn conv_f16(
    p: &ConvF16Params,
    input: &[f16],
    filter: &[f16],
    bias: Option<&[f32]>,
    output: &mut [f16],
    scratch: &mut [u8],
) -> Result<()> {
    #[cfg(bfmd_neon)]
    return neon::conv_f16(p, input, filter, bias, output, scratch);
    #[allow(unreachable_code)]
    portable::conv_f16(p, input, filter, bias, output, scratch)
}
