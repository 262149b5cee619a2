//! int8 pooling with TensorFlow Lite Micro semantics: MAX_POOL_2D, AVERAGE_POOL_2D and MEAN
//! over height and width (the global average pool Keras' `GlobalAveragePooling2D` converts to).
//!
//! Layout: NHWC, dense, `i8`. No kernel here needs scratch or over-reads its inputs.
//!
//! * Max and average pool require the output quantization to equal the input's (TFLM
//!   `pooling_common.cc`, `PoolingPrepare`), so they work on the quantized values directly.
//!   The average is TFLM's: the sum of the in-bounds taps divided by their count, rounded half
//!   away from zero (`reference/integer_ops/pooling.h`).
//! * `count_include_pad` (PyTorch's `AvgPool2d` default) is a **bfmd-defined** int8 mode for
//!   native models: padded taps hold the quantized zero (the zero point, i.e. real 0), the
//!   divisor is the full window area, and the rounding rule is TFLM's.
//! * MEAN requantizes from the input to the output quantization with TFLM's integer
//!   `QuantizedMeanOrSum` (`reference/reduce.h`), whatever the two quantizations are.
//!
//! The inner loops live in [`portable`]; `PATH` names the one the dispatchers run.
//!
//! # Running a TFLite op
//!
//! Build the parameters once from the tensors' scales and zero points (TFLM's Prepare math),
//! then call the kernel on the raw int8 buffers:
//!
//! ```
//! use bfmd_kernels::quant::FusedActivation;
//! use bfmd_kernels::reference::pool::pool_geometry;
//! use bfmd_kernels::s8::pool::{avg_pool_s8, mean_s8, MeanS8Params, PoolS8Params};
//! use bfmd_kernels::{Padding, Shape};
//!
//! // AVERAGE_POOL_2D 2x2, stride 2, VALID on 1x2x2x1; input and output (0.5, 0).
//! let g = pool_geometry(Shape::new(1, 2, 2, 1), (2, 2), (2, 2), Padding::Valid)?;
//! let p = PoolS8Params::from_scales(g, 0.5, 0, 0.5, 0, FusedActivation::None)?;
//! let mut out = [0i8; 1];
//! avg_pool_s8(&p, &[1, 2, 3, 5], &mut out)?;
//! assert_eq!(out, [3]); // 11 / 4 = 2.75, rounded half away from zero
//!
//! // MEAN over H, W (keep_dims or not: same bytes), input (0.5, 0) to output (0.25, 10).
//! let p = MeanS8Params::from_scales(0.5, 0, 0.25, 10)?;
//! mean_s8(&p, Shape::new(1, 2, 2, 1), &[1, 2, 3, 5], &mut out)?;
//! assert_eq!(out, [16]); // 2.75 * 0.5 / 0.25 = 5.5 -> 6, plus the zero point 10
//! # Ok::<(), bfmd_kernels::Error>(())
//! ```

#[cfg(bfmd_dsp)]
mod dsp;
#[cfg(bfmd_neon)]
mod neon;
pub mod portable;

use crate::error::{Error, Result};
use crate::quant::{activation_range_s8, quantize_multiplier, FusedActivation};
use crate::reference::pool::{check_mean_call, check_pool_geometry};
use crate::shape::{PoolGeometry, Shape};

/// The inner-loop path the dispatchers in this module run: `"dsp"` on cores with the Arm DSP
/// extension, `"portable"` elsewhere or with the `force-portable` feature.
/// On aarch64 with NEON (unless `force-portable`) the dispatcher runs the NEON loops, `"neon"`.
pub const PATH: &str = if cfg!(bfmd_dsp) {
    "dsp"
} else if cfg!(bfmd_neon) {
    "neon"
} else {
    "portable"
};

/// Checks that a quantization scale is a positive finite number.
pub(crate) fn check_scale(what: &'static str, scale: f32) -> Result<()> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(Error::BadParam {
            what,
            value: scale as i64,
        })
    }
}

/// Returns [`Error::BadParam`] naming `what` unless `min <= value <= max`.
pub(crate) fn check_range(what: &'static str, value: i32, min: i32, max: i32) -> Result<()> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(Error::BadParam {
            what,
            value: value as i64,
        })
    }
}

/// Checks that a zero point lies in the int8 range.
pub(crate) fn check_zero_point(what: &'static str, zero_point: i32) -> Result<()> {
    check_range(what, zero_point, -128, 127)
}

/// Checks an int8 activation clamp range.
pub(crate) fn check_act_range(act_min: i32, act_max: i32) -> Result<()> {
    check_range("act_min", act_min, -128, 127)?;
    check_range("act_max", act_max, act_min, 127)
}

/// Parameters of int8 max and average pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PoolS8Params {
    /// Window geometry (see [`crate::reference::pool::pool_geometry`]).
    pub geometry: PoolGeometry,
    /// Zero point of the input, which is also the output's. Only the `count_include_pad`
    /// average uses it: it is the quantized value of a padded tap.
    pub zero_point: i32,
    /// Lower clamp, quantized (TFLite `quantized_activation_min`).
    pub act_min: i32,
    /// Upper clamp, quantized (TFLite `quantized_activation_max`).
    pub act_max: i32,
    /// Average pool only: divide by the full window area, padded taps counting as real zero
    /// (bfmd-defined for int8, see the module documentation). `false` is TFLite's rule.
    pub count_include_pad: bool,
}

impl PoolS8Params {
    /// TFLM's `PoolingPrepare` (`micro/kernels/pooling_common.cc`): the input and output
    /// quantization must agree (scales within `1e-6`, equal zero points); the clamp range is
    /// `CalculateActivationRangeQuantized` of the fused activation on the output.
    pub fn from_scales(
        geometry: PoolGeometry,
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
        act: FusedActivation,
    ) -> Result<Self> {
        check_pool_geometry(&geometry)?;
        check_scale("input scale", input_scale)?;
        check_scale("output scale", output_scale)?;
        check_zero_point("input zero point", input_zero_point)?;
        check_zero_point("output zero point", output_zero_point)?;
        // |s_in - s_out| <= 1e-6 in f64, as a range test so that no_std needs no float `abs`.
        let scale_diff = input_scale as f64 - output_scale as f64;
        if !(-1.0e-6..=1.0e-6).contains(&scale_diff) || input_zero_point != output_zero_point {
            return Err(Error::Unsupported(
                "int8 pooling with different input and output quantization",
            ));
        }
        let (act_min, act_max) = activation_range_s8(act, output_scale, output_zero_point);
        Ok(PoolS8Params {
            geometry,
            zero_point: output_zero_point,
            act_min,
            act_max,
            count_include_pad: false,
        })
    }

    /// The same parameters with the `count_include_pad` average switched on or off.
    pub fn with_count_include_pad(self, count_include_pad: bool) -> Self {
        PoolS8Params {
            count_include_pad,
            ..self
        }
    }

    /// Checks the parameters and the buffer lengths of a pooling call.
    pub fn check(&self, input_len: usize, output_len: usize) -> Result<()> {
        check_pool_geometry(&self.geometry)?;
        check_zero_point("zero point", self.zero_point)?;
        check_act_range(self.act_min, self.act_max)?;
        crate::error::check_len("input", self.geometry.input.len(), input_len)?;
        crate::error::check_len("output", self.geometry.output.len(), output_len)
    }
}

/// int8 MAX_POOL_2D: the largest in-bounds tap of each window, clamped to
/// `act_min..=act_max` (TFLM `reference_integer_ops::MaxPool`).
///
/// `input` is NHWC `p.geometry.input`, `output` NHWC `p.geometry.output`.
pub fn max_pool_s8(p: &PoolS8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    #[cfg(bfmd_dsp)]
    {
        p.check(input.len(), output.len())?;
        dsp::max_pool(p, input, output);
        return Ok(());
    }
    #[cfg(bfmd_neon)]
    return neon::max_pool_s8(p, input, output);
    #[allow(unreachable_code)]
    portable::max_pool_s8(p, input, output)
}

/// int8 AVERAGE_POOL_2D (TFLM `reference_integer_ops::AveragePool`): for each window, the sum
/// of its in-bounds taps divided by their count, rounded half away from zero, clamped.
///
/// With `p.count_include_pad` the divisor is the window area and each padded tap adds
/// `p.zero_point` to the sum (bfmd-defined, same rounding).
pub fn avg_pool_s8(p: &PoolS8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    #[cfg(bfmd_dsp)]
    {
        p.check(input.len(), output.len())?;
        dsp::avg_pool(p, input, output);
        return Ok(());
    }
    #[cfg(bfmd_neon)]
    return neon::avg_pool_s8(p, input, output);
    #[allow(unreachable_code)]
    portable::avg_pool_s8(p, input, output)
}

/// Parameters of int8 MEAN over height and width.
///
/// `multiplier` and `shift` encode `input_scale / output_scale` exactly as TFLM's
/// `PrepareMeanOrSumHelper` stores them; the `1 / (h * w)` factor is folded in per call by
/// [`MeanS8Params::folded`], as TFLM's `QuantizedMeanOrSum` does at every evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MeanS8Params {
    /// Zero point of the input (TFLite passes it as is, not negated, to `QuantizedMeanOrSum`).
    pub input_zero_point: i32,
    /// Zero point of the output.
    pub output_zero_point: i32,
    /// Q31 significand of `input_scale / output_scale`.
    pub multiplier: i32,
    /// Exponent of `input_scale / output_scale` (see [`crate::quant::Requant`]).
    pub shift: i32,
}

impl MeanS8Params {
    /// TFLM's Prepare for MEAN (`micro/kernels/reduce_common.cc`, `PrepareMeanOrSumHelper`):
    /// `QuantizeMultiplier(input_scale / output_scale)` computed in `f64` from the `f32` scales.
    pub fn from_scales(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
    ) -> Result<Self> {
        check_scale("input scale", input_scale)?;
        check_scale("output scale", output_scale)?;
        check_zero_point("input zero point", input_zero_point)?;
        check_zero_point("output zero point", output_zero_point)?;
        let (multiplier, shift) = quantize_multiplier(input_scale as f64 / output_scale as f64);
        let p = MeanS8Params {
            input_zero_point,
            output_zero_point,
            multiplier,
            shift,
        };
        p.check()?;
        Ok(p)
    }

    /// Checks the ranges TFLM assumes (`MultiplyByQuantizedMultiplier` pre-conditions).
    pub fn check(&self) -> Result<()> {
        check_zero_point("input zero point", self.input_zero_point)?;
        check_zero_point("output zero point", self.output_zero_point)?;
        check_range("MEAN multiplier", self.multiplier, 0, i32::MAX)?;
        check_range("MEAN shift", self.shift, -31, 30)
    }

    /// The multiplier and shift with `1 / count` folded in, TFLM `QuantizedMeanOrSum`
    /// (`reference/reduce.h`): `fold = min(floor(log2(count)), 32, 31 + shift)`,
    /// `multiplier' = (multiplier << fold) / count` (truncating), `shift' = shift - fold`.
    ///
    /// `count >= 1` and [`MeanS8Params::check`] must hold.
    pub fn folded(&self, count: usize) -> (i32, i32) {
        let count = count.max(1) as u64;
        let log2 = 63 - count.leading_zeros() as i32;
        let fold = log2.min(32).min(31 + self.shift).max(0);
        let multiplier = ((self.multiplier as i64) << fold) / count as i64;
        (multiplier as i32, self.shift - fold)
    }
}

/// int8 MEAN over height and width of an NHWC tensor (axes `[1, 2]`), TFLM's int8 path.
///
/// `output[n, c] = clamp(MultiplyByQuantizedMultiplier(sum(input[n, :, :, c]) -
/// input_zero_point * h * w, multiplier', shift') + output_zero_point)`, with the folded
/// multiplier of [`MeanS8Params::folded`]. `output` has `n * c` elements, which is both the
/// `keep_dims` shape `[n, 1, 1, c]` and the `[n, c]` one.
///
/// TFLM runs this integer path whether or not the input and output quantization are equal:
/// checked against the `tflite-micro` Python runtime (0.dev20261023), where some older TFLM
/// trees instead took a truncating `reference_ops::Mean` for equal quantization.
pub fn mean_s8(p: &MeanS8Params, input: Shape, input_data: &[i8], output: &mut [i8]) -> Result<()> {
    #[cfg(bfmd_dsp)]
    {
        let count = check_mean_s8(p, input, input_data.len(), output.len())?;
        dsp::mean(p, input, input_data, output, count);
        return Ok(());
    }
    #[cfg(bfmd_neon)]
    return neon::mean_s8(p, input, input_data, output);
    #[allow(unreachable_code)]
    portable::mean_s8(p, input, input_data, output)
}

/// Checks a MEAN call; returns the reduction size `h * w`.
pub(crate) fn check_mean_s8(
    p: &MeanS8Params,
    input: Shape,
    input_len: usize,
    output_len: usize,
) -> Result<usize> {
    p.check()?;
    check_mean_call(input, input_len, output_len)
}
