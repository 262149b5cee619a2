//! int8 softmax over the last axis, bit-exact with the TFLite Micro reference kernel.
//!
//! TFLM runs int8-in/int8-out SOFTMAX through `reference_ops::Softmax<int8_t, int8_t>`
//! (`reference/softmax.h`) with the parameters of `CalculateSoftmaxParams`
//! (`micro/kernels/softmax_common.cc`); it has no lookup-table path for int8 (its LUTs are for
//! int16). Per row of `depth` elements:
//!
//! 1. `diff = x - max(row)`; elements with `diff < diff_min` contribute nothing and output -128;
//! 2. `diff` is scaled by `beta * input_scale` into Q5.26 ([`SCALED_DIFF_INTEGER_BITS`]) and
//!    exponentiated with gemmlowp's `exp_on_negative_values`;
//! 3. the exponentials are summed in Q12.19 ([`ACCUMULATION_INTEGER_BITS`]), the sum inverted
//!    with TFLite's `GetReciprocal`;
//! 4. each output is `exp * reciprocal`, rounded to 1/256 steps, minus 128, clamped.
//!
//! The output quantization is fixed by TFLite's int8 spec: scale 1/256, zero point -128. The
//! input zero point does not matter (only differences are used).
//!
//! The exponential depends only on the difference to the row maximum (256 possible values), so
//! for tensors of [`crate::s8::activation::LUT_MIN_LEN`] elements or more the dispatcher
//! tabulates it once per call (1 KiB of stack) instead of evaluating it twice per element; the
//! bits are the same.

pub mod portable;

use crate::error::{check_len, Error, Result};
use crate::fixedpoint::{calculate_input_radius, preprocess_softmax_scaling};
use crate::reference::quantize::check_quantization;
use crate::reference::softmax::check_rows;

/// The inner-loop implementation the dispatchers of this module run.
pub const PATH: &str = "portable";

/// Integer bits of the scaled input differences (TFLite's `kScaledDiffIntegerBits`).
pub const SCALED_DIFF_INTEGER_BITS: i32 = 5;
/// Integer bits of the sum of exponentials (TFLite's `kAccumulationIntegerBits`).
pub const ACCUMULATION_INTEGER_BITS: i32 = 12;

/// Parameters of [`softmax_s8`] (TFLite's `SoftmaxParams`, int8 fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SoftmaxS8Params {
    /// Q31 significand of `beta * input_scale * 2^26` (capped at `2^31 - 1`).
    pub input_multiplier: i32,
    /// Left shift of that multiplier, `0..=31`.
    pub input_left_shift: i32,
    /// Most negative `x - max` that still contributes (`-CalculateInputRadius(5, shift)`).
    pub diff_min: i32,
}

impl SoftmaxS8Params {
    /// TFLM's `CalculateSoftmaxParams` for int8 input and int8 output:
    /// `PreprocessSoftmaxScaling(beta, input_scale, 5)` and `diff_min =
    /// -CalculateInputRadius(5, input_left_shift)`.
    ///
    /// Errors: invalid input scale; a `beta` that is not positive and finite; an output zero
    /// point other than -128 or an output scale other than exactly 1/256 (TFLM's checks); a
    /// `beta * input_scale` so small that TFLite's multiplier would not exceed 1 (TFLM aborts).
    pub fn from_scales(
        input_scale: f32,
        beta: f32,
        output_scale: f32,
        output_zero_point: i32,
    ) -> Result<Self> {
        // The input zero point is irrelevant; 0 only satisfies the helper's range check.
        check_quantization("input scale", input_scale, "input zero point", 0)?;
        if !(beta.is_finite() && beta > 0.0) {
            return Err(Error::BadParam {
                what: "softmax beta (must be positive and finite)",
                value: beta as i64,
            });
        }
        if output_zero_point != -128 {
            return Err(Error::BadParam {
                what: "softmax output zero point (must be -128)",
                value: output_zero_point as i64,
            });
        }
        if output_scale != 1.0 / 256.0 {
            return Err(Error::Unsupported(
                "softmax output scale must be exactly 1/256 (TFLite int8 spec)",
            ));
        }
        let (input_multiplier, input_left_shift) =
            preprocess_softmax_scaling(beta as f64, input_scale as f64, SCALED_DIFF_INTEGER_BITS)?;
        let p = SoftmaxS8Params {
            input_multiplier,
            input_left_shift,
            diff_min: -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, input_left_shift, 31),
        };
        p.validate()?;
        Ok(p)
    }

    /// Checks the ranges the kernel relies on.
    pub fn validate(&self) -> Result<()> {
        if self.input_multiplier < 0 {
            return Err(Error::BadParam {
                what: "softmax input multiplier",
                value: self.input_multiplier as i64,
            });
        }
        if !(0..=31).contains(&self.input_left_shift) {
            return Err(Error::BadParam {
                what: "softmax input left shift",
                value: self.input_left_shift as i64,
            });
        }
        if self.diff_min > 0 {
            return Err(Error::BadParam {
                what: "softmax diff_min (must be <= 0)",
                value: self.diff_min as i64,
            });
        }
        Ok(())
    }
}

/// int8 SOFTMAX along the last axis: `input` is a batch of rows of `depth` elements (for NHWC,
/// `depth = c` and there are `n * h * w` rows). Output scale 1/256, zero point -128.
///
/// Errors: invalid params, `depth == 0`, `input.len()` not a multiple of `depth`,
/// `output.len() != input.len()`.
///
/// Where TFLM is undefined bfmd picks the continuous behaviour: a row whose exponentials sum
/// to 512 or more (over 512 elements within rounding of the maximum) aborts TFLM's
/// `TFLITE_CHECK(exponent <= 31)`; here those outputs round to -128, the value the same formula
/// gives with the wider shift. A sum of 4096 or more (rows longer than 4095) would overflow TFLM's
/// Q12.19 accumulator; here it saturates.
pub fn softmax_s8(
    p: &SoftmaxS8Params,
    depth: usize,
    input: &[i8],
    output: &mut [i8],
) -> Result<()> {
    p.validate()?;
    check_rows(depth, input.len())?;
    check_len("output", input.len(), output.len())?;
    output.copy_from_slice(input);
    run(p, depth, output);
    Ok(())
}

/// The portable loop, with the exponentials tabulated first when the tensor is long enough to
/// pay for the 256 evaluations (bit-identical either way).
fn run(p: &SoftmaxS8Params, depth: usize, data: &mut [i8]) {
    if data.len() >= crate::s8::activation::LUT_MIN_LEN {
        portable::softmax_inplace_with_table(p, depth, data, &portable::exp_table(p));
    } else {
        portable::softmax_inplace(p, depth, data);
    }
}

/// [`softmax_s8`] overwriting its input (each row is read entirely before it is written).
pub fn softmax_s8_inplace(p: &SoftmaxS8Params, depth: usize, data: &mut [i8]) -> Result<()> {
    p.validate()?;
    check_rows(depth, data.len())?;
    run(p, depth, data);
    Ok(())
}
