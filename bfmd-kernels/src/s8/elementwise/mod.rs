//! int8 ADD and MUL with TensorFlow Lite Micro semantics: each operand and the output has its
//! own quantization, operands broadcast, and a fused activation clamps the result.
//!
//! Layout: NHWC, dense, `i8`; broadcasting follows [`crate::reference::elementwise`] (same
//! shape, `[1,1,1,C]` / `[N,1,1,C]` against `[N,H,W,C]`, scalar, ...); shapes that do not
//! broadcast return [`Error::DimMismatch`]. No scratch, no over-read.
//!
//! The `_inplace` variants overwrite the first operand, which must have the output shape.
//! Both ops are symmetric: to overwrite the other operand, pass the operands the other way
//! round with [`AddS8Params::swapped`] / [`MulS8Params::swapped`].
//!
//! TFLM runs the same per-element arithmetic on its broadcast and non-broadcast paths
//! (`reference/integer_ops/add.h` `AddFunc`, `reference/integer_ops/mul.h`), so one row
//! kernel per op serves every broadcast form here.
//!
//! # Running a TFLite op
//!
//! ```
//! use bfmd_kernels::quant::FusedActivation;
//! use bfmd_kernels::s8::elementwise::{add_s8, mul_s8_inplace, AddS8Params, MulS8Params};
//! use bfmd_kernels::Shape;
//!
//! // ADD of two 1x1x2x2 tensors, inputs (0.05, -3) and (0.1, 4), output (0.1, -10), RELU.
//! let p = AddS8Params::from_scales(0.05, -3, 0.1, 4, 0.1, -10, FusedActivation::Relu)?;
//! let s = Shape::new(1, 1, 2, 2);
//! let mut out = [0i8; 4];
//! add_s8(&p, s, &[17, 17, -3, 97], s, &[14, -26, 4, 4], &mut out)?;
//! // Real values: 1.0 + 1.0 = 2.0; 1.0 - 3.0 = -2.0 (RELU: 0); 0 + 0; 5.0 + 0.
//! assert_eq!(out, [10, -10, -10, 40]);
//!
//! // Squeeze-and-excitation gate, in place: x[1,1,2,2] *= gate[1,1,1,2].
//! let p = MulS8Params::from_scales(0.1, 0, 1.0 / 256.0, -128, 0.1, 0, FusedActivation::None)?;
//! let mut x = [40i8, -40, 20, 100];
//! mul_s8_inplace(&p, s, &mut x, Shape::new(1, 1, 1, 2), &[-64, 0])?; // gates 0.25, 0.5
//! assert_eq!(x, [10, -20, 5, 50]);
//! # Ok::<(), bfmd_kernels::Error>(())
//! ```

#[cfg(bfmd_dsp)]
mod dsp;
#[cfg(bfmd_neon)]
mod neon;
pub mod portable;

use super::pool::{check_act_range, check_range, check_scale, check_zero_point};
use crate::error::{Error, Result};
use crate::quant::{activation_range_s8, quantize_multiplier, FusedActivation};
use crate::shape::Shape;

/// The inner-loop path the dispatchers in this module run: `"dsp"` on cores with the Arm DSP
/// extension (exact short requantization forms, tabulated ADD inputs for long calls; parameters
/// outside those forms run TFLM's element functions), `"portable"` elsewhere or with the
/// `force-portable` feature.
/// On aarch64 with NEON (unless `force-portable`) the dispatcher runs the NEON rows, `"neon"`.
pub const PATH: &str = if cfg!(bfmd_dsp) {
    "dsp"
} else if cfg!(bfmd_neon) {
    "neon"
} else {
    "portable"
};

/// Left shift TFLM applies to int8 ADD inputs before rescaling (`add_common.cc`: 20 for int8,
/// 15 for int16), keeping 20 bits of headroom for the rescaled sum.
pub const ADD_LEFT_SHIFT_S8: i32 = 20;

/// TFLite's `QuantizeMultiplierSmallerThanOneExp` (`quantization_util.cc`): the multiplier
/// must lie in `(0, 1)`, so the exponent is `<= 0`; TFLM aborts otherwise, bfmd returns `Err`.
pub fn quantize_multiplier_smaller_than_one_exp(
    what: &'static str,
    real: f64,
) -> Result<(i32, i32)> {
    if !(real > 0.0 && real < 1.0) {
        return Err(Error::BadParam {
            what,
            value: real as i64,
        });
    }
    let (multiplier, shift) = quantize_multiplier(real);
    if shift > 0 {
        return Err(Error::BadParam {
            what,
            value: shift as i64,
        });
    }
    Ok((multiplier, shift))
}

/// Checks a (multiplier, shift) pair: a non-negative Q31 significand and an exponent in
/// `-31..=max_shift`, the ranges TFLite's fixed-point helpers assume.
fn check_requant(what: &'static str, multiplier: i32, shift: i32, max_shift: i32) -> Result<()> {
    check_range(what, multiplier, 0, i32::MAX)?;
    check_range(what, shift, -31, max_shift)
}

/// Parameters of int8 ADD (TFLite `ArithmeticParams` for the 8-bit path).
///
/// `output = clamp(Rescale_out(Rescale_1((q1 + input1_offset) << left_shift) +
/// Rescale_2((q2 + input2_offset) << left_shift)) + output_offset)` where each `Rescale` is
/// `MultiplyByQuantizedMultiplierSmallerThanOneExp` with the matching multiplier and shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AddS8Params {
    /// `-input1_zero_point`.
    pub input1_offset: i32,
    /// `-input2_zero_point`.
    pub input2_offset: i32,
    /// `output_zero_point`.
    pub output_offset: i32,
    /// Left shift of both inputs ([`ADD_LEFT_SHIFT_S8`]).
    pub left_shift: i32,
    /// Q31 multiplier of `input1_scale / (2 * max_input_scale)`.
    pub input1_multiplier: i32,
    /// Exponent (`<= 0`) of the first input's multiplier.
    pub input1_shift: i32,
    /// Q31 multiplier of `input2_scale / (2 * max_input_scale)`.
    pub input2_multiplier: i32,
    /// Exponent (`<= 0`) of the second input's multiplier.
    pub input2_shift: i32,
    /// Q31 multiplier of `2 * max_input_scale / (2^left_shift * output_scale)`.
    pub output_multiplier: i32,
    /// Exponent (`<= 0`) of the output multiplier.
    pub output_shift: i32,
    /// Lower clamp, quantized.
    pub act_min: i32,
    /// Upper clamp, quantized.
    pub act_max: i32,
}

impl AddS8Params {
    /// TFLM's `CalculateOpDataAdd` (`micro/kernels/add_common.cc`) for int8: left shift 20,
    /// `twice_max_input_scale = 2 * max(s1, s2)`, the three multipliers from
    /// `QuantizeMultiplierSmallerThanOneExp` (in `f64` from the `f32` scales), and the clamp
    /// range of `act` on the output quantization.
    ///
    /// Fails when `2 * max(s1, s2) / (2^20 * output_scale)` is not below 1 (TFLM aborts).
    pub fn from_scales(
        input1_scale: f32,
        input1_zero_point: i32,
        input2_scale: f32,
        input2_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
        act: FusedActivation,
    ) -> Result<Self> {
        check_scale("first input scale", input1_scale)?;
        check_scale("second input scale", input2_scale)?;
        check_scale("output scale", output_scale)?;
        check_zero_point("first input zero point", input1_zero_point)?;
        check_zero_point("second input zero point", input2_zero_point)?;
        check_zero_point("output zero point", output_zero_point)?;
        let left_shift = ADD_LEFT_SHIFT_S8;
        let twice_max_input_scale = 2.0 * (input1_scale.max(input2_scale) as f64);
        let real1 = input1_scale as f64 / twice_max_input_scale;
        let real2 = input2_scale as f64 / twice_max_input_scale;
        let real_out = twice_max_input_scale / ((1i64 << left_shift) as f64 * output_scale as f64);
        let (input1_multiplier, input1_shift) =
            quantize_multiplier_smaller_than_one_exp("first input ADD multiplier", real1)?;
        let (input2_multiplier, input2_shift) =
            quantize_multiplier_smaller_than_one_exp("second input ADD multiplier", real2)?;
        let (output_multiplier, output_shift) = quantize_multiplier_smaller_than_one_exp(
            "ADD output multiplier (output scale too small for the input scales)",
            real_out,
        )?;
        let (act_min, act_max) = activation_range_s8(act, output_scale, output_zero_point);
        Ok(AddS8Params {
            input1_offset: -input1_zero_point,
            input2_offset: -input2_zero_point,
            output_offset: output_zero_point,
            left_shift,
            input1_multiplier,
            input1_shift,
            input2_multiplier,
            input2_shift,
            output_multiplier,
            output_shift,
            act_min,
            act_max,
        })
    }

    /// The parameters for the operands passed the other way round (ADD is symmetric).
    pub fn swapped(&self) -> Self {
        AddS8Params {
            input1_offset: self.input2_offset,
            input2_offset: self.input1_offset,
            input1_multiplier: self.input2_multiplier,
            input1_shift: self.input2_shift,
            input2_multiplier: self.input1_multiplier,
            input2_shift: self.input1_shift,
            ..*self
        }
    }

    /// Checks the ranges the kernel relies on (TFLM `CheckArithmeticParams` and the
    /// pre-conditions of its fixed-point helpers), so hand-made parameters cannot overflow.
    pub fn check(&self) -> Result<()> {
        check_range("first input offset", self.input1_offset, -127, 128)?;
        check_range("second input offset", self.input2_offset, -127, 128)?;
        check_range("output offset", self.output_offset, -128, 127)?;
        // (255 << left_shift) must fit an i32.
        check_range("ADD left shift", self.left_shift, 0, 23)?;
        check_requant(
            "first input ADD multiplier",
            self.input1_multiplier,
            self.input1_shift,
            0,
        )?;
        check_requant(
            "second input ADD multiplier",
            self.input2_multiplier,
            self.input2_shift,
            0,
        )?;
        check_requant(
            "ADD output multiplier",
            self.output_multiplier,
            self.output_shift,
            0,
        )?;
        check_act_range(self.act_min, self.act_max)
    }
}

/// Parameters of int8 MUL (TFLite `ArithmeticParams` for the 8-bit path).
///
/// `output = clamp(MultiplyByQuantizedMultiplier((q1 + input1_offset) * (q2 + input2_offset),
/// output_multiplier, output_shift) + output_offset)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MulS8Params {
    /// `-input1_zero_point`.
    pub input1_offset: i32,
    /// `-input2_zero_point`.
    pub input2_offset: i32,
    /// `output_zero_point`.
    pub output_offset: i32,
    /// Q31 multiplier of `input1_scale * input2_scale / output_scale`.
    pub output_multiplier: i32,
    /// Exponent of the output multiplier.
    pub output_shift: i32,
    /// Lower clamp, quantized.
    pub act_min: i32,
    /// Upper clamp, quantized.
    pub act_max: i32,
}

impl MulS8Params {
    /// TFLM's `CalculateOpDataMul` (`micro/kernels/mul_common.cc`) for int8:
    /// `QuantizeMultiplier(s1 * s2 / s_out)` in `f64` from the `f32` scales, and the clamp
    /// range of `act` on the output quantization.
    pub fn from_scales(
        input1_scale: f32,
        input1_zero_point: i32,
        input2_scale: f32,
        input2_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
        act: FusedActivation,
    ) -> Result<Self> {
        check_scale("first input scale", input1_scale)?;
        check_scale("second input scale", input2_scale)?;
        check_scale("output scale", output_scale)?;
        check_zero_point("first input zero point", input1_zero_point)?;
        check_zero_point("second input zero point", input2_zero_point)?;
        check_zero_point("output zero point", output_zero_point)?;
        let real = input1_scale as f64 * input2_scale as f64 / output_scale as f64;
        let (output_multiplier, output_shift) = quantize_multiplier(real);
        let (act_min, act_max) = activation_range_s8(act, output_scale, output_zero_point);
        let p = MulS8Params {
            input1_offset: -input1_zero_point,
            input2_offset: -input2_zero_point,
            output_offset: output_zero_point,
            output_multiplier,
            output_shift,
            act_min,
            act_max,
        };
        p.check()?;
        Ok(p)
    }

    /// The parameters for the operands passed the other way round (MUL is symmetric).
    pub fn swapped(&self) -> Self {
        MulS8Params {
            input1_offset: self.input2_offset,
            input2_offset: self.input1_offset,
            ..*self
        }
    }

    /// Checks the ranges the kernel relies on. The product of two offset inputs is at most
    /// `2^16` in magnitude, so shifts up to 14 cannot overflow the left shift of
    /// `MultiplyByQuantizedMultiplier`.
    pub fn check(&self) -> Result<()> {
        check_range("first input offset", self.input1_offset, -127, 128)?;
        check_range("second input offset", self.input2_offset, -127, 128)?;
        check_range("output offset", self.output_offset, -128, 127)?;
        check_requant(
            "MUL output multiplier",
            self.output_multiplier,
            self.output_shift,
            14,
        )?;
        check_act_range(self.act_min, self.act_max)
    }
}

/// int8 ADD with broadcasting: `output = a + b` in real terms, requantized to the output
/// quantization and clamped (TFLM `reference_integer_ops::Add` / `BroadcastAdd6DSlow`).
///
/// `a` and `b` are NHWC `a_shape` and `b_shape`; `output` has their broadcast shape.
pub fn add_s8(
    p: &AddS8Params,
    a_shape: Shape,
    a: &[i8],
    b_shape: Shape,
    b: &[i8],
    output: &mut [i8],
) -> Result<()> {
    #[cfg(bfmd_dsp)]
    {
        p.check()?;
        let k = dsp::Add::new(p, output.len());
        return crate::reference::elementwise::binary_rows(
            a_shape,
            a,
            b_shape,
            b,
            output,
            |x, y, o| k.row(x, y, o),
        );
    }
    #[cfg(bfmd_neon)]
    return neon::add_s8(p, a_shape, a, b_shape, b, output);
    #[allow(unreachable_code)]
    portable::add_s8(p, a_shape, a, b_shape, b, output)
}

/// int8 SUB with broadcasting: `output = a - b` in real terms, with ADD's parameters
/// ([`AddS8Params::from_scales`] is TFLM's `CalculateOpDataSub` too). Every path runs the
/// portable loop ([`portable::sub_s8`]).
pub fn sub_s8(
    p: &AddS8Params,
    a_shape: Shape,
    a: &[i8],
    b_shape: Shape,
    b: &[i8],
    output: &mut [i8],
) -> Result<()> {
    portable::sub_s8(p, a_shape, a, b_shape, b, output)
}

/// In-place [`sub_s8`] over the minuend `a_and_out` (SUB is not symmetric: only the first
/// operand can be overwritten).
pub fn sub_s8_inplace(
    p: &AddS8Params,
    a_shape: Shape,
    a_and_out: &mut [i8],
    b_shape: Shape,
    b: &[i8],
) -> Result<()> {
    portable::sub_s8_inplace(p, a_shape, a_and_out, b_shape, b)
}

/// In-place [`add_s8`]: the result overwrites `a_and_out`, whose shape must be the output
/// shape; `p` describes `a_and_out` as the first input.
pub fn add_s8_inplace(
    p: &AddS8Params,
    a_shape: Shape,
    a_and_out: &mut [i8],
    b_shape: Shape,
    b: &[i8],
) -> Result<()> {
    #[cfg(bfmd_dsp)]
    {
        p.check()?;
        let k = dsp::Add::new(p, a_and_out.len());
        return crate::reference::elementwise::binary_rows_inplace(
            a_shape,
            a_and_out,
            b_shape,
            b,
            |x, y| k.row_inplace(x, y),
        );
    }
    #[cfg(bfmd_neon)]
    return neon::add_s8_inplace(p, a_shape, a_and_out, b_shape, b);
    #[allow(unreachable_code)]
    portable::add_s8_inplace(p, a_shape, a_and_out, b_shape, b)
}

/// int8 MUL with broadcasting: `output = a * b` in real terms, requantized to the output
/// quantization and clamped (TFLM `reference_integer_ops::Mul` / `BroadcastMul4DSlow`).
///
/// `a` and `b` are NHWC `a_shape` and `b_shape`; `output` has their broadcast shape. The
/// squeeze-and-excitation gate is `mul_s8(p, features_shape, features, [n, 1, 1, c], gate, out)`.
pub fn mul_s8(
    p: &MulS8Params,
    a_shape: Shape,
    a: &[i8],
    b_shape: Shape,
    b: &[i8],
    output: &mut [i8],
) -> Result<()> {
    #[cfg(bfmd_dsp)]
    {
        p.check()?;
        let k = dsp::Mul::new(p);
        return crate::reference::elementwise::binary_rows(
            a_shape,
            a,
            b_shape,
            b,
            output,
            |x, y, o| k.row(x, y, o),
        );
    }
    #[cfg(bfmd_neon)]
    return neon::mul_s8(p, a_shape, a, b_shape, b, output);
    #[allow(unreachable_code)]
    portable::mul_s8(p, a_shape, a, b_shape, b, output)
}

/// In-place [`mul_s8`]: the result overwrites `a_and_out`, whose shape must be the output
/// shape; `p` describes `a_and_out` as the first input.
pub fn mul_s8_inplace(
    p: &MulS8Params,
    a_shape: Shape,
    a_and_out: &mut [i8],
    b_shape: Shape,
    b: &[i8],
) -> Result<()> {
    #[cfg(bfmd_dsp)]
    {
        p.check()?;
        let k = dsp::Mul::new(p);
        return crate::reference::elementwise::binary_rows_inplace(
            a_shape,
            a_and_out,
            b_shape,
            b,
            |x, y| k.row_inplace(x, y),
        );
    }
    #[cfg(bfmd_neon)]
    return neon::mul_s8_inplace(p, a_shape, a_and_out, b_shape, b);
    #[allow(unreachable_code)]
    portable::mul_s8_inplace(p, a_shape, a_and_out, b_shape, b)
}
