//! int8 QUANTIZE (f32 -> int8), DEQUANTIZE (int8 -> f32) and requantization (int8 -> int8 with
//! another scale and zero point), bit-exact with the TFLite Micro reference kernels.
//!
//! * [`quantize_s8`]: TFLite's `AffineQuantize` (`reference/quantize.h`): `clamp(round(x /
//!   scale) + zero_point, -128, 127)`, the division and the rounding (half away from zero) in
//!   `f32`.
//! * [`dequantize_s8`]: `reference/dequantize.h`: `scale * (q - zero_point)` in `f32`.
//! * [`requantize_s8`]: TFLM's QUANTIZE with an int8 input (`micro/kernels/quantize_common.cc`,
//!   `reference/requantize.h`): `clamp(MultiplyByQuantizedMultiplier(q - in_zp, in_scale /
//!   out_scale) + out_zp)`. TFLite's `same_scale` shortcut only exists for int8 <-> uint8, so
//!   int8 -> int8 always takes the multiply, which is the identity for equal scales. Long
//!   tensors go through a table of the same function (see
//!   [`crate::s8::activation::LUT_MIN_LEN`]).
//!
//! Tensors may have any shape; `input` and `output` must have the same length.

pub mod portable;

use crate::error::{check_len, Result};
use crate::quant::quantize_multiplier;
use crate::reference::quantize::{check_quantization, check_range};
use crate::s8::activation::portable as activation_portable;
use crate::s8::activation::{apply_s8, apply_s8_inplace, LutS8};

/// The inner-loop implementation the dispatchers of this module run.
pub const PATH: &str = "portable";

/// Quantization of the int8 side of [`quantize_s8`] (its output) and [`dequantize_s8`] (its
/// input): TFLite's `QuantizationParams` / `DequantizationParams`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QuantizeS8Params {
    /// Scale of the int8 tensor (positive, finite).
    pub scale: f32,
    /// Zero point of the int8 tensor, `-128..=127`.
    pub zero_point: i32,
}

/// [`dequantize_s8`] takes the same parameters as [`quantize_s8`].
pub type DequantizeS8Params = QuantizeS8Params;

impl QuantizeS8Params {
    /// TFLM's `PrepareQuantizeReference` / `DequantizePrepare`: keeps the int8 tensor's scale
    /// and zero point. Errors: a scale that is not positive and finite, a zero point outside
    /// int8.
    pub fn from_scales(scale: f32, zero_point: i32) -> Result<Self> {
        let p = QuantizeS8Params { scale, zero_point };
        p.validate()?;
        Ok(p)
    }

    /// Checks the scale and zero point.
    pub fn validate(&self) -> Result<()> {
        check_quantization("scale", self.scale, "zero point", self.zero_point)
    }
}

/// QUANTIZE f32 -> int8. NaN becomes the zero point (TFLite's cast of NaN is undefined);
/// infinities saturate. Errors: invalid params, `output.len() != input.len()`.
pub fn quantize_s8(p: &QuantizeS8Params, input: &[f32], output: &mut [i8]) -> Result<()> {
    p.validate()?;
    check_len("output", input.len(), output.len())?;
    portable::quantize(p, input, output);
    Ok(())
}

/// DEQUANTIZE int8 -> f32. Errors: invalid params, `output.len() != input.len()`.
pub fn dequantize_s8(p: &DequantizeS8Params, input: &[i8], output: &mut [f32]) -> Result<()> {
    p.validate()?;
    check_len("output", input.len(), output.len())?;
    portable::dequantize(p, input, output);
    Ok(())
}

/// Parameters of [`requantize_s8`] (the int8 fields of TFLM's `OpDataQuantizeReference`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RequantizeS8Params {
    /// Minus the input zero point.
    pub input_offset: i32,
    /// The output zero point.
    pub output_offset: i32,
    /// Q31 significand of `input_scale / output_scale`.
    pub multiplier: i32,
    /// Exponent of `input_scale / output_scale`.
    pub shift: i32,
}

impl RequantizeS8Params {
    /// TFLM's `PrepareQuantizeReference` for int8 -> int8: `QuantizeMultiplier(input_scale /
    /// output_scale)` in `f64`. Errors: invalid scales or zero points, a scale ratio of `2^30`
    /// or more.
    pub fn from_scales(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
    ) -> Result<Self> {
        check_quantization(
            "input scale",
            input_scale,
            "input zero point",
            input_zero_point,
        )?;
        check_quantization(
            "output scale",
            output_scale,
            "output zero point",
            output_zero_point,
        )?;
        let (multiplier, shift) = quantize_multiplier(input_scale as f64 / output_scale as f64);
        let p = RequantizeS8Params {
            input_offset: -input_zero_point,
            output_offset: output_zero_point,
            multiplier,
            shift,
        };
        p.validate()?;
        Ok(p)
    }

    /// The requantization as a 256-entry table (see [`LutS8`]), identical to the element loop;
    /// `Err` when the params are invalid.
    pub fn to_lut(&self) -> Result<LutS8> {
        self.validate()?;
        Ok(activation_portable::table_of(|q| {
            portable::requantize_element(self, q)
        }))
    }

    /// Checks the ranges the kernel relies on.
    pub fn validate(&self) -> Result<()> {
        check_range("requantize input offset", self.input_offset, -127, 128)?;
        check_range("requantize output offset", self.output_offset, -128, 127)?;
        check_range("requantize multiplier", self.multiplier, 0, i32::MAX)?;
        check_range(
            "requantize shift (ratio of scales too large)",
            self.shift,
            -31,
            30,
        )
    }
}

/// Requantizes int8 -> int8. Errors: invalid params, `output.len() != input.len()`.
pub fn requantize_s8(p: &RequantizeS8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    p.validate()?;
    apply_s8(input, output, |q| portable::requantize_element(p, q))
}

/// Requantizes int8 -> int8 in place.
pub fn requantize_s8_inplace(p: &RequantizeS8Params, data: &mut [i8]) -> Result<()> {
    p.validate()?;
    apply_s8_inplace(data, |q| portable::requantize_element(p, q))
}
