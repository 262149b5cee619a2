//! int8 activations: ReLU, ReLU6, ReLU_N1_TO_1, hard-swish and logistic with the arithmetic of
//! the TFLite Micro reference kernels; hard-sigmoid, swish and any other unary function through
//! a 256-entry lookup table.
//!
//! Every op has a `Copy` params struct whose `from_scales` does exactly what TFLM's `Prepare`
//! does (so the graph computes it once, at import), a kernel `<op>_s8(params, input, output)` and
//! an in-place kernel `<op>_s8_inplace(params, data)`. Tensors may have any shape (the ops are
//! element-wise); `input` and `output` must have the same length. Kernels validate the params
//! they are given (they may come from a model blob) and return [`Error`] rather than panic.
//!
//! | op | semantics | int8 source |
//! |---|---|---|
//! | [`relu_s8`] | requantize `in -> out`, clamp at the output zero point | TFLM `ReluQuantized` (`micro/kernels/activations.cc`, `activations_common.cc`) |
//! | [`relu_n1_to_1_s8`] | requantize, clamp to the quantized `[-1, 1]` | LiteRT `QuantizedReluX(-1, 1)` (`lite/kernels/activations.cc`; TFLM has no RELU_N1_TO_1) |
//! | [`relu6_s8`] | clamp to the quantized `[0, 6]` of the **input** scale, no requantization | TFLM `Relu6Quantized` |
//! | [`hard_swish_s8`] | int16 fixed point with the "reluish" multiplier | TFLM `reference_ops::HardSwish` (`reference/hard_swish.h`, `micro/kernels/hard_swish_common.cc`) |
//! | [`logistic_s8`] | Q4.27 input, gemmlowp `logistic`, output scale 1/256 zero point -128 | TFLM `reference_integer_ops::Logistic` (`reference/integer_ops/logistic.h`, `micro/kernels/logistic_common.cc`) |
//! | [`hard_sigmoid_s8`], [`swish_s8`], [`lut_s8`] | table lookup, table from the `f32` definition | **bfmd-defined** (no TFLite builtin) |
//!
//! The inner loops are in [`portable`]; this module checks arguments and dispatches. For
//! tensors of [`LUT_MIN_LEN`] elements or more, the arithmetic ops run as a lookup in a table
//! the dispatcher computes with the same element function (bit-identical, about 256 element
//! evaluations per call instead of one per element).

pub mod portable;

use crate::error::{check_len, Error, Result};
use crate::fixedpoint::down_scale_i32_to_i16_multiplier;
use crate::quant::{activation_range_s8, quantize_f32_to_s8, quantize_multiplier, FusedActivation};
use crate::reference::activation as f32_ref;
use crate::reference::quantize::{check_quantization, check_range};

/// The inner-loop implementation the dispatchers of this module run.
pub const PATH: &str = "portable";

/// From this many elements on, the dispatchers of the arithmetic ops (ReLU, ReLU_N1_TO_1,
/// hard-swish, logistic, requantize) first tabulate the op's element function for the 256 int8
/// inputs (256 bytes of stack) and then look every element up. The table holds exactly what the
/// element loop computes, so the results are identical; only the cost changes (256 evaluations
/// instead of one per element). Each params struct also offers `to_lut()` so a graph can store
/// the table once instead.
pub const LUT_MIN_LEN: usize = 512;

/// Runs an element-wise int8 op: the element loop for short tensors, a table built from
/// `element` for long ones (see [`LUT_MIN_LEN`]).
pub(crate) fn apply_s8(input: &[i8], output: &mut [i8], element: impl Fn(i8) -> i8) -> Result<()> {
    check_len("output", input.len(), output.len())?;
    if input.len() >= LUT_MIN_LEN {
        portable::lut(&portable::table_of(element), input, output);
    } else {
        portable::map(input, output, element);
    }
    Ok(())
}

/// In-place form of [`apply_s8`].
pub(crate) fn apply_s8_inplace(data: &mut [i8], element: impl Fn(i8) -> i8) -> Result<()> {
    if data.len() >= LUT_MIN_LEN {
        portable::lut_inplace(&portable::table_of(element), data);
    } else {
        portable::map_inplace(data, element);
    }
    Ok(())
}

/// Checks the scales and zero points of a unary op's input and output tensors.
fn check_in_out(in_scale: f32, in_zp: i32, out_scale: f32, out_zp: i32) -> Result<()> {
    check_quantization("input scale", in_scale, "input zero point", in_zp)?;
    check_quantization("output scale", out_scale, "output zero point", out_zp)
}

// ---------------------------------------------------------------------------------------------
// ReLU and ReLU_N1_TO_1

/// Parameters of [`relu_s8`] and [`relu_n1_to_1_s8`] (TFLite's `ReluParams`).
///
/// `output = clamp(output_offset + MultiplyByQuantizedMultiplier(input + input_offset,
/// multiplier, shift), act_min, act_max)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReluS8Params {
    /// Minus the input zero point.
    pub input_offset: i32,
    /// The output zero point.
    pub output_offset: i32,
    /// Q31 significand of `input_scale / output_scale`.
    pub multiplier: i32,
    /// Exponent of `input_scale / output_scale` (see [`quantize_multiplier`]).
    pub shift: i32,
    /// Lower clamp, in the output quantization.
    pub act_min: i32,
    /// Upper clamp, in the output quantization.
    pub act_max: i32,
}

impl ReluS8Params {
    /// RELU: TFLM's `CalculateReluOpData<int8_t>`: multiplier `input_scale / output_scale`
    /// (computed in `f64`), clamp `[max(-128, output_zero_point), 127]`.
    pub fn from_scales(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
    ) -> Result<Self> {
        Self::with_range(
            FusedActivation::Relu,
            input_scale,
            input_zero_point,
            output_scale,
            output_zero_point,
        )
    }

    /// RELU_N1_TO_1: LiteRT's `QuantizedReluX<int8_t>(-1, 1)`: the same requantization as RELU,
    /// clamp `[max(-128, zp + round(-1 / scale)), min(127, zp + round(1 / scale))]` in the output
    /// quantization.
    pub fn n1_to_1_from_scales(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
    ) -> Result<Self> {
        Self::with_range(
            FusedActivation::ReluN1To1,
            input_scale,
            input_zero_point,
            output_scale,
            output_zero_point,
        )
    }

    fn with_range(
        act: FusedActivation,
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
    ) -> Result<Self> {
        check_in_out(
            input_scale,
            input_zero_point,
            output_scale,
            output_zero_point,
        )?;
        let (multiplier, shift) = quantize_multiplier(input_scale as f64 / output_scale as f64);
        let (act_min, act_max) = activation_range_s8(act, output_scale, output_zero_point);
        let p = ReluS8Params {
            input_offset: -input_zero_point,
            output_offset: output_zero_point,
            multiplier,
            shift,
            act_min,
            act_max,
        };
        p.validate()?;
        Ok(p)
    }

    /// The op as a 256-entry table (see [`LutS8`]), identical to the element loop on every
    /// input; `Err` when the params are invalid.
    pub fn to_lut(&self) -> Result<LutS8> {
        self.validate()?;
        Ok(portable::table_of(|x| portable::relu_element(self, x)))
    }

    /// Checks the ranges the kernel relies on (the fields are public so a model blob can carry
    /// them).
    pub fn validate(&self) -> Result<()> {
        check_range("relu input offset", self.input_offset, -127, 128)?;
        check_range("relu output offset", self.output_offset, -128, 127)?;
        check_range("relu multiplier", self.multiplier, 0, i32::MAX)?;
        check_range(
            "relu shift (ratio of scales too large)",
            self.shift,
            -31,
            30,
        )?;
        check_range("relu act_min", self.act_min, -128, 127)?;
        check_range("relu act_max", self.act_max, self.act_min, 127)
    }
}

/// int8 RELU. Errors: invalid params, `output.len() != input.len()`.
pub fn relu_s8(p: &ReluS8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    p.validate()?;
    apply_s8(input, output, |x| portable::relu_element(p, x))
}

/// int8 RELU in place.
pub fn relu_s8_inplace(p: &ReluS8Params, data: &mut [i8]) -> Result<()> {
    p.validate()?;
    apply_s8_inplace(data, |x| portable::relu_element(p, x))
}

/// int8 RELU_N1_TO_1: the [`relu_s8`] loop with the params of
/// [`ReluS8Params::n1_to_1_from_scales`].
pub fn relu_n1_to_1_s8(p: &ReluS8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    relu_s8(p, input, output)
}

/// int8 RELU_N1_TO_1 in place.
pub fn relu_n1_to_1_s8_inplace(p: &ReluS8Params, data: &mut [i8]) -> Result<()> {
    relu_s8_inplace(p, data)
}

// ---------------------------------------------------------------------------------------------
// ReLU6

/// Parameters of [`relu6_s8`] (TFLM's `Relu6OpData`): the quantized 0 and 6 of the input.
///
/// TFLM's RELU6 does not requantize: the output is written in the input's quantization. The
/// TFLite converter gives a RELU6 equal input and output quantization; a graph whose RELU6
/// changes quantization must requantize separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Relu6S8Params {
    /// The input zero point (the real value 0).
    pub zero: i8,
    /// `clamp(round(6 / input_scale) + input_zero_point)`.
    pub six: i8,
}

impl Relu6S8Params {
    /// TFLM's `Relu6Prepare`: `zero = input_zero_point`, `six = FloatToQuantizedType<int8_t>(6,
    /// input_scale, input_zero_point)`.
    pub fn from_scales(input_scale: f32, input_zero_point: i32) -> Result<Self> {
        check_quantization(
            "input scale",
            input_scale,
            "input zero point",
            input_zero_point,
        )?;
        Ok(Relu6S8Params {
            zero: input_zero_point as i8,
            six: quantize_f32_to_s8(6.0, input_scale, input_zero_point),
        })
    }
}

/// int8 RELU6: values above `six` become `six`, values below `zero` become `zero` (TFLM's
/// comparison order, so a hand-made `zero > six` cannot panic). Errors: `output.len() !=
/// input.len()`.
pub fn relu6_s8(p: &Relu6S8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    check_len("output", input.len(), output.len())?;
    portable::relu6(p, input, output);
    Ok(())
}

/// int8 RELU6 in place.
pub fn relu6_s8_inplace(p: &Relu6S8Params, data: &mut [i8]) -> Result<()> {
    portable::relu6_inplace(p, data);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Hard-swish

/// Parameters of [`hard_swish_s8`] (TFLite's `HardSwishParams`, same field names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HardSwishS8Params {
    /// The input zero point.
    pub input_zero_point: i16,
    /// The output zero point.
    pub output_zero_point: i16,
    /// Q15 significand of `(input_scale / 128) / (3 / 32768)`: maps the input to the scale on
    /// which 3.0 is 32768.
    pub reluish_multiplier_fixedpoint_int16: i16,
    /// Exponent of the reluish multiplier (either sign).
    pub reluish_multiplier_exponent: i32,
    /// Q15 significand of `(input_scale / 128) / output_scale`.
    pub output_multiplier_fixedpoint_int16: i16,
    /// Exponent of the output multiplier; TFLM requires it to be `<= 0`.
    pub output_multiplier_exponent: i32,
}

impl HardSwishS8Params {
    /// TFLM's `HardSwishPrepare` (`micro/kernels/hard_swish_common.cc`). The scale ratios are
    /// divided in `f32`, then encoded with [`quantize_multiplier`] and rounded to Q15 with
    /// TFLite's `DownScaleInt32ToInt16Multiplier`.
    ///
    /// Errors: invalid scales or zero points; an output multiplier of 1 or more (`output_scale
    /// <= input_scale / 128`), which TFLM rejects too.
    pub fn from_scales(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
    ) -> Result<Self> {
        check_in_out(
            input_scale,
            input_zero_point,
            output_scale,
            output_zero_point,
        )?;
        let hires_input_scale = (1.0f32 / 128.0) * input_scale;
        let reluish_scale = 3.0f32 / 32768.0;
        let (output_multiplier, output_exponent) =
            quantize_multiplier((hires_input_scale / output_scale) as f64);
        let (reluish_multiplier, reluish_exponent) =
            quantize_multiplier((hires_input_scale / reluish_scale) as f64);
        let p = HardSwishS8Params {
            input_zero_point: input_zero_point as i16,
            output_zero_point: output_zero_point as i16,
            reluish_multiplier_fixedpoint_int16: down_scale_i32_to_i16_multiplier(
                reluish_multiplier,
            ),
            reluish_multiplier_exponent: reluish_exponent,
            output_multiplier_fixedpoint_int16: down_scale_i32_to_i16_multiplier(output_multiplier),
            output_multiplier_exponent: output_exponent,
        };
        p.validate()?;
        Ok(p)
    }

    /// The op as a 256-entry table (see [`LutS8`]), identical to the element loop on every
    /// input; `Err` when the params are invalid.
    pub fn to_lut(&self) -> Result<LutS8> {
        self.validate()?;
        Ok(portable::table_of(|x| {
            portable::hard_swish_element(self, x)
        }))
    }

    /// Checks the ranges the kernel relies on.
    pub fn validate(&self) -> Result<()> {
        check_range(
            "hard-swish input zero point",
            self.input_zero_point as i32,
            -128,
            127,
        )?;
        check_range(
            "hard-swish output zero point",
            self.output_zero_point as i32,
            -128,
            127,
        )?;
        check_range(
            "hard-swish output multiplier exponent (must be <= 0)",
            self.output_multiplier_exponent,
            -31,
            0,
        )?;
        check_range(
            "hard-swish reluish multiplier exponent",
            self.reluish_multiplier_exponent,
            -31,
            31,
        )
    }
}

/// int8 HARD_SWISH, bit-exact with TFLM. Errors: invalid params, `output.len() !=
/// input.len()`.
pub fn hard_swish_s8(p: &HardSwishS8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    p.validate()?;
    apply_s8(input, output, |x| portable::hard_swish_element(p, x))
}

/// int8 HARD_SWISH in place.
pub fn hard_swish_s8_inplace(p: &HardSwishS8Params, data: &mut [i8]) -> Result<()> {
    p.validate()?;
    apply_s8_inplace(data, |x| portable::hard_swish_element(p, x))
}

// ---------------------------------------------------------------------------------------------
// Logistic

/// Number of integer bits of the fixed-point logistic input (TFLM's `kInputIntegerBits`).
pub const LOGISTIC_INPUT_INTEGER_BITS: i32 = 4;

/// Parameters of [`logistic_s8`] (TFLM's `OpDataLogistic`, int8 fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LogisticS8Params {
    /// The input zero point.
    pub input_zero_point: i32,
    /// Inputs (minus the zero point) at or beyond `±input_range_radius` saturate to -128 / 127.
    pub input_range_radius: i32,
    /// Q31 significand of `input_scale * 2^27` (the input rescaled to Q4.27).
    pub input_multiplier: i32,
    /// Exponent of that multiplier (a left shift when positive).
    pub input_left_shift: i32,
}

impl LogisticS8Params {
    /// TFLM's `CalculateArithmeticOpDataLogistic` for int8: `frexp(input_scale * 2^27)` rounded
    /// to Q31, radius `CalculateInputRadius(4, input_left_shift, 31)`.
    ///
    /// The int8 LOGISTIC output is fixed at scale 1/256, zero point -128 (TFLite's quantization
    /// spec). TFLM checks only the zero point and silently computes in 1/256 whatever the
    /// scale; bfmd rejects any other output scale or zero point instead of producing wrong
    /// values.
    pub fn from_scales(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
    ) -> Result<Self> {
        check_in_out(
            input_scale,
            input_zero_point,
            output_scale,
            output_zero_point,
        )?;
        if output_zero_point != -128 {
            return Err(Error::BadParam {
                what: "logistic output zero point (must be -128)",
                value: output_zero_point as i64,
            });
        }
        if output_scale != 1.0 / 256.0 {
            return Err(Error::Unsupported(
                "logistic output scale must be 1/256 (TFLite int8 spec)",
            ));
        }
        // TFLM takes frexp and rounds `q * 2^31` without the carry fix of QuantizeMultiplier;
        // the two agree because an f32 scale times 2^27 has a 24-bit significand, which can
        // never round up to 2^31. QuantizeMultiplier's flush below 2^-31 needs a scale below
        // 2^-58 and is rejected.
        let (input_multiplier, input_left_shift) = quantize_multiplier(
            input_scale as f64 * (1i64 << (31 - LOGISTIC_INPUT_INTEGER_BITS)) as f64,
        );
        if input_multiplier == 0 {
            return Err(Error::Unsupported("logistic input scale too small"));
        }
        let p = LogisticS8Params {
            input_zero_point,
            input_range_radius: crate::fixedpoint::calculate_input_radius(
                LOGISTIC_INPUT_INTEGER_BITS,
                input_left_shift,
                31,
            ),
            input_multiplier,
            input_left_shift,
        };
        p.validate()?;
        Ok(p)
    }

    /// The op as a 256-entry table (see [`LutS8`]), identical to the element loop on every
    /// input; `Err` when the params are invalid.
    pub fn to_lut(&self) -> Result<LutS8> {
        self.validate()?;
        Ok(portable::table_of(|x| portable::logistic_element(self, x)))
    }

    /// Checks the ranges the kernel relies on. A left shift above 30 is only allowed with a
    /// zero radius, where every input saturates and the multiplier is never applied.
    pub fn validate(&self) -> Result<()> {
        check_range(
            "logistic input zero point",
            self.input_zero_point,
            -128,
            127,
        )?;
        check_range(
            "logistic input range radius",
            self.input_range_radius,
            0,
            i32::MAX,
        )?;
        check_range(
            "logistic input multiplier",
            self.input_multiplier,
            0,
            i32::MAX,
        )?;
        if self.input_range_radius > 0 {
            check_range("logistic input left shift", self.input_left_shift, -31, 30)?;
        }
        Ok(())
    }
}

/// int8 LOGISTIC, bit-exact with TFLM; output scale 1/256, zero point -128. Errors: invalid
/// params, `output.len() != input.len()`.
pub fn logistic_s8(p: &LogisticS8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    p.validate()?;
    apply_s8(input, output, |x| portable::logistic_element(p, x))
}

/// int8 LOGISTIC in place.
pub fn logistic_s8_inplace(p: &LogisticS8Params, data: &mut [i8]) -> Result<()> {
    p.validate()?;
    apply_s8_inplace(data, |x| portable::logistic_element(p, x))
}

// ---------------------------------------------------------------------------------------------
// Lookup tables (bfmd-defined int8 ops)

/// A 256-entry int8 lookup table for a unary function; entry `i` is the output for the input
/// whose two's-complement bits are `i` (`table[x as u8 as usize]`, LiteRT's `LUTLookup`
/// indexing: entries 0..=127 for inputs 0..=127, entries 128..=255 for inputs -128..=-1).
pub type LutS8 = [i8; 256];

/// Builds the table of `f` between two int8 quantizations (bfmd-defined, not a TFLM rule).
///
/// Entry for input `q`: `x = in_scale * (q - in_zp)` in `f32`, `y = f(x)`, output `clamp(round(y
/// / out_scale) + out_zp, -128, 127)` rounding half away from zero in `f32` (TFLite's
/// `AffineQuantize` rule). The output is therefore the correctly rounded quantization of
/// `f(dequantized input)` up to `f32` rounding of `x`, `y` and `y / out_scale`. NaN outputs map
/// to the zero point. Errors: invalid scales or zero points.
pub fn build_lut_s8(
    f: impl Fn(f32) -> f32,
    in_scale: f32,
    in_zp: i32,
    out_scale: f32,
    out_zp: i32,
) -> Result<LutS8> {
    check_in_out(in_scale, in_zp, out_scale, out_zp)?;
    let mut table = [0i8; 256];
    for q in -128i32..=127 {
        let x = in_scale * (q - in_zp) as f32;
        table[q as i8 as u8 as usize] = quantize_f32_to_s8(f(x), out_scale, out_zp);
    }
    Ok(table)
}

/// Applies a lookup table to every element. Errors: `output.len() != input.len()`.
pub fn lut_s8(table: &LutS8, input: &[i8], output: &mut [i8]) -> Result<()> {
    check_len("output", input.len(), output.len())?;
    portable::lut(table, input, output);
    Ok(())
}

/// Applies a lookup table in place.
pub fn lut_s8_inplace(table: &LutS8, data: &mut [i8]) -> Result<()> {
    portable::lut_inplace(table, data);
    Ok(())
}

/// Parameters of [`hard_sigmoid_s8`]: the lookup table of `relu6(x + 3) / 6`.
///
/// bfmd-defined: TFLite has no HARD_SIGMOID builtin (Keras exports it as a chain of ops), so
/// native models quantized by bfmd use this table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HardSigmoidS8Params {
    /// The table, see [`LutS8`].
    pub lut: LutS8,
}

impl HardSigmoidS8Params {
    /// Builds the table with [`build_lut_s8`] from [`f32_ref::hard_sigmoid`].
    pub fn from_scales(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
    ) -> Result<Self> {
        Ok(HardSigmoidS8Params {
            lut: build_lut_s8(
                f32_ref::hard_sigmoid,
                input_scale,
                input_zero_point,
                output_scale,
                output_zero_point,
            )?,
        })
    }
}

/// int8 hard-sigmoid (bfmd-defined, table lookup). Errors: `output.len() != input.len()`.
pub fn hard_sigmoid_s8(p: &HardSigmoidS8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    lut_s8(&p.lut, input, output)
}

/// int8 hard-sigmoid in place.
pub fn hard_sigmoid_s8_inplace(p: &HardSigmoidS8Params, data: &mut [i8]) -> Result<()> {
    lut_s8_inplace(&p.lut, data)
}

/// Parameters of [`swish_s8`]: the lookup table of `x * logistic(x)`.
///
/// bfmd-defined: TFLite has no SWISH builtin (it exports LOGISTIC then MUL, which rounds
/// twice); native EfficientNets quantized by bfmd use this single-rounding table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwishS8Params {
    /// The table, see [`LutS8`].
    pub lut: LutS8,
}

impl SwishS8Params {
    /// Builds the table with [`build_lut_s8`] from [`f32_ref::swish`].
    pub fn from_scales(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
    ) -> Result<Self> {
        Ok(SwishS8Params {
            lut: build_lut_s8(
                f32_ref::swish,
                input_scale,
                input_zero_point,
                output_scale,
                output_zero_point,
            )?,
        })
    }
}

/// int8 swish (bfmd-defined, table lookup). Errors: `output.len() != input.len()`.
pub fn swish_s8(p: &SwishS8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    lut_s8(&p.lut, input, output)
}

/// int8 swish in place.
pub fn swish_s8_inplace(p: &SwishS8Params, data: &mut [i8]) -> Result<()> {
    lut_s8_inplace(&p.lut, data)
}
