//! int8 fully connected layer (TFLite `FULLY_CONNECTED`), per-tensor or per-channel weights.
//!
//! Bit-exact with TFLM's `reference_integer_ops::FullyConnected` (per-tensor) and
//! `FullyConnectedPerChannel`
//! (`tensorflow/lite/kernels/internal/reference/integer_ops/fully_connected.h`):
//! `acc = sum_i w[o, i] * (x[b, i] + input_offset) + bias[o]`, requantized like the
//! convolution ([`ChannelQuantS8::requantize`]). Weights are symmetric (zero point 0, as TFLM
//! requires for int8: `fully_connected_common.cc` checks `filter->params.zero_point == 0`).

use crate::error::{check_min_len, Result};
use crate::quant::FusedActivation;
use crate::reference::fully_connected::{check_fc_shapes, FullyConnectedGeometry};
pub use crate::s8::conv::ChannelQuantS8;
use crate::s8::conv::{check_filter_scale, check_scale};

#[cfg(bfmd_dsp)]
pub(crate) mod dsp;
#[cfg(bfmd_neon)]
mod neon;
pub mod portable;

/// The path [`fully_connected_s8`] runs on this build: `"dsp"` on cores with the Arm DSP
/// extension (rows of a multiple of 4 elements on 4-byte aligned weights; others run the
/// portable loop) but without Helium, `"portable-mve"` on cores with Helium (Cortex-M55/M85),
/// where the compiler's auto-vectorized portable loop beats the DSP loop (3,084 against 4,427
/// instructions for 256 -> 10 on the emulated M55), `"portable"` elsewhere or with the
/// `force-portable` feature.
/// On aarch64 with NEON (unless `force-portable`) the dispatcher runs the NEON tiles of the
/// convolution: `"neon-dotprod"` with the dot-product extension, `"neon"` otherwise.
pub const PATH: &str = if cfg!(bfmd_mve) {
    "portable-mve"
} else if cfg!(bfmd_dsp) {
    "dsp"
} else if cfg!(bfmd_neon) {
    if cfg!(target_feature = "dotprod") {
        "neon-dotprod"
    } else {
        "neon"
    }
} else {
    "portable"
};

/// Parameters of [`fully_connected_s8`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FullyConnectedS8Params<'a> {
    /// Dimensions.
    pub geometry: FullyConnectedGeometry,
    /// Requantization and clamp; one multiplier (per-tensor weights) or `out_features`.
    pub quant: ChannelQuantS8<'a>,
}

impl<'a> FullyConnectedS8Params<'a> {
    /// Parameters from real scales, exactly as TFLM's `CalculateOpDataFullyConnected`
    /// (`tensorflow/lite/micro/kernels/fully_connected_common.cc`) computes them:
    ///
    /// * per-tensor weights (`weight_scales.len() == 1`): `GetQuantizedConvolutionMultipler`
    ///   (`kernel_util.cc`) multiplies the scales in **`f32`** first:
    ///   `(double)(input_scale * weight_scale) / (double)output_scale`;
    /// * per-channel weights (`weight_scales.len() == out_features`): per channel,
    ///   `(double)input_scale * (double)weight_scale / (double)output_scale`.
    ///
    /// The two formulas can differ in the last bit of the multiplier, which is why both are
    /// kept. `multipliers` and `shifts` have `weight_scales.len()` entries. TFLM also checks
    /// that the bias scale is close to `input_scale * weight_scale`; bfmd's importer does that.
    ///
    /// # Errors
    /// Those of [`ChannelQuantS8::from_scales`], and [`crate::Error::BufferLength`] when
    /// `weight_scales` has neither 1 nor `out_features` entries.
    #[allow(clippy::too_many_arguments)]
    pub fn from_scales(
        geometry: FullyConnectedGeometry,
        input_scale: f32,
        input_zero_point: i32,
        weight_scales: &[f32],
        output_scale: f32,
        output_zero_point: i32,
        activation: FusedActivation,
        multipliers: &'a mut [i32],
        shifts: &'a mut [i32],
    ) -> Result<Self> {
        check_scale("input scale", input_scale)?;
        for &s in weight_scales {
            check_filter_scale(s)?;
        }
        let per_tensor = weight_scales.len() == 1;
        let quant = ChannelQuantS8::from_real_multipliers(
            input_zero_point,
            weight_scales.len(),
            output_scale,
            output_zero_point,
            activation,
            multipliers,
            shifts,
            |i| {
                Ok(if per_tensor {
                    (input_scale * weight_scales[0]) as f64 / output_scale as f64
                } else {
                    input_scale as f64 * weight_scales[i] as f64 / output_scale as f64
                })
            },
        )?;
        quant.validate(geometry.out_features)?;
        Ok(FullyConnectedS8Params { geometry, quant })
    }
}

/// Number of scratch bytes [`fully_connected_s8`] needs on this build's path: none.
pub const fn fully_connected_s8_scratch_len(_geometry: &FullyConnectedGeometry) -> usize {
    0
}

/// Checks every argument of an int8 fully connected layer.
pub(crate) fn check_fully_connected_s8(
    p: &FullyConnectedS8Params,
    input_len: usize,
    weights_len: usize,
    bias: Option<&[i32]>,
    output_len: usize,
    scratch_len: usize,
) -> Result<()> {
    check_fc_shapes(
        &p.geometry,
        input_len,
        weights_len,
        bias.map(|b| b.len()),
        output_len,
    )?;
    p.quant.validate(p.geometry.out_features)?;
    check_min_len(
        "scratch",
        fully_connected_s8_scratch_len(&p.geometry),
        scratch_len,
    )
}

/// int8 fully connected layer, TFLite semantics.
///
/// * `input`: int8 `[batch, in_features]`;
/// * `weights`: int8 `[out_features, in_features]`, symmetric, per-tensor or per-channel
///   scale;
/// * `bias`: int32 `[out_features]` (scale `input_scale * weight_scale[o]`) or `None`;
/// * `output`: int8 `[batch, out_features]`;
/// * `scratch`: at least [`fully_connected_s8_scratch_len`] bytes (0 here; pass `&mut []`).
///
/// # Errors
/// [`crate::Error::BufferLength`] for a buffer of the wrong length (or a `multipliers` slice
/// with neither 1 nor `out_features` entries), [`crate::Error::BadParam`] for quantization
/// parameters out of range.
pub fn fully_connected_s8(
    p: &FullyConnectedS8Params,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) -> Result<()> {
    #[cfg(bfmd_dsp)]
    {
        check_fully_connected_s8(
            p,
            input.len(),
            weights.len(),
            bias,
            output.len(),
            scratch.len(),
        )?;
        // With Helium the compiler's vectorized portable loop is faster (see [`PATH`]).
        if !cfg!(bfmd_mve) && dsp::rows_supported(p.geometry.in_features, weights) {
            dsp::fully_connected_loop(p, input, weights, bias, output);
            return Ok(());
        }
    }
    #[cfg(bfmd_neon)]
    return neon::fully_connected_s8(p, input, weights, bias, output, scratch);
    #[allow(unreachable_code)]
    portable::fully_connected_s8(p, input, weights, bias, output, scratch)
}
