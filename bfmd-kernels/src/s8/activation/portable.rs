//! Portable inner loops of the int8 activations: one scalar function per op, applied by a plain
//! loop. These do not check their arguments (the dispatchers in the parent module do); with
//! unequal `input` and `output` lengths they process the shorter one.

use super::{HardSwishS8Params, LogisticS8Params, LutS8, Relu6S8Params, ReluS8Params};
use crate::fixedpoint::{
    logistic as fixed_logistic, rounding_divide_by_pot_i16, saturating_doubling_high_mul_i16,
    saturating_left_shift_i16, saturating_rounding_doubling_high_mul_i16, FixedPoint,
};
use crate::quant::{multiply_by_quantized_multiplier, rounding_divide_by_pot};

/// Applies `f` to every element (the shorter slice bounds the loop).
#[inline(always)]
pub(crate) fn map(input: &[i8], output: &mut [i8], f: impl Fn(i8) -> i8) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = f(x);
    }
}

/// Applies `f` to every element in place.
#[inline(always)]
pub(crate) fn map_inplace(data: &mut [i8], f: impl Fn(i8) -> i8) {
    for v in data.iter_mut() {
        *v = f(*v);
    }
}

/// One element of RELU / RELU_N1_TO_1 (TFLM `ReluQuantized`).
#[inline(always)]
pub fn relu_element(p: &ReluS8Params, x: i8) -> i8 {
    // Wrapping like the C++ int addition on every target TFLM runs on (it cannot overflow with
    // the shift range the dispatcher validates, but the loop must not panic on any params).
    let requantized = p
        .output_offset
        .wrapping_add(multiply_by_quantized_multiplier(
            x as i32 + p.input_offset,
            p.multiplier,
            p.shift,
        ));
    requantized.max(p.act_min).min(p.act_max) as i8
}

/// RELU / RELU_N1_TO_1 loop.
pub fn relu(p: &ReluS8Params, input: &[i8], output: &mut [i8]) {
    map(input, output, |x| relu_element(p, x));
}

/// RELU / RELU_N1_TO_1 loop, in place.
pub fn relu_inplace(p: &ReluS8Params, data: &mut [i8]) {
    map_inplace(data, |x| relu_element(p, x));
}

/// One element of RELU6 (TFLM `Relu6Quantized`: `val > upper ? upper : val < lower ? lower :
/// val`).
#[inline(always)]
pub fn relu6_element(p: &Relu6S8Params, x: i8) -> i8 {
    if x > p.six {
        p.six
    } else if x < p.zero {
        p.zero
    } else {
        x
    }
}

/// RELU6 loop.
pub fn relu6(p: &Relu6S8Params, input: &[i8], output: &mut [i8]) {
    map(input, output, |x| relu6_element(p, x));
}

/// RELU6 loop, in place.
pub fn relu6_inplace(p: &Relu6S8Params, data: &mut [i8]) {
    map_inplace(data, |x| relu6_element(p, x));
}

/// One element of HARD_SWISH, step for step TFLite's `reference_ops::HardSwish<int8_t>`
/// (`reference/hard_swish.h`). All intermediate values are `i16`; C++ stores of wider results
/// into `int16_t` wrap, which `as i16` reproduces.
#[inline(always)]
pub fn hard_swish_element(p: &HardSwishS8Params, x: i8) -> i8 {
    let input_value = (x as i32 - p.input_zero_point as i32) as i16;
    // Use the high bits of the i16 for precision: |input_value| <= 255, times 2^7 fits.
    let input_value_on_hires_input_scale = (input_value as i32 * (1 << 7)) as i16;
    // The input on the output scale, before the final right shift.
    let input_value_on_preshift_output_scale = saturating_rounding_doubling_high_mul_i16(
        input_value_on_hires_input_scale,
        p.output_multiplier_fixedpoint_int16,
    );
    // The "reluish" value: the input rescaled so that 3.0 is 32768 (saturating), i.e. the part
    // of relu6(x + 3) / 6 in [-1, 1] before the shift to [0, 1].
    let mut reluish_value = input_value_on_hires_input_scale;
    if p.reluish_multiplier_exponent > 0 {
        // Shift left by one less than needed so that saturation here cannot affect the result;
        // the last bit comes after the multiply.
        reluish_value = saturating_left_shift_i16(reluish_value, p.reluish_multiplier_exponent - 1);
    }
    reluish_value = saturating_rounding_doubling_high_mul_i16(
        reluish_value,
        p.reluish_multiplier_fixedpoint_int16,
    );
    if p.reluish_multiplier_exponent > 0 {
        reluish_value = saturating_left_shift_i16(reluish_value, 1);
    }
    if p.reluish_multiplier_exponent < 0 {
        reluish_value = rounding_divide_by_pot_i16(reluish_value, -p.reluish_multiplier_exponent);
    }
    // From [-1, 1] to [0, 1] in Q0.15.
    reluish_value = ((reluish_value as i32 + (1 << 15)) >> 1) as i16;
    // TFLite uses the truncating doubling multiply here on purpose: it cancels the bias of the
    // rounding one above (see the table in hard_swish.h).
    let preshift_output_value =
        saturating_doubling_high_mul_i16(reluish_value, input_value_on_preshift_output_scale);
    let mut output_value =
        rounding_divide_by_pot_i16(preshift_output_value, -p.output_multiplier_exponent);
    output_value = (output_value as i32 + p.output_zero_point as i32) as i16;
    output_value.clamp(i8::MIN as i16, i8::MAX as i16) as i8
}

/// HARD_SWISH loop.
pub fn hard_swish(p: &HardSwishS8Params, input: &[i8], output: &mut [i8]) {
    map(input, output, |x| hard_swish_element(p, x));
}

/// HARD_SWISH loop, in place.
pub fn hard_swish_inplace(p: &HardSwishS8Params, data: &mut [i8]) {
    map_inplace(data, |x| hard_swish_element(p, x));
}

/// One element of LOGISTIC, TFLite's `reference_integer_ops::Logistic` for int8
/// (`reference/integer_ops/logistic.h`): saturate outside the radius, otherwise rescale to Q4.27,
/// take gemmlowp's fixed-point logistic (Q0.31) and round it to Q0.8 with zero point -128.
#[inline(always)]
pub fn logistic_element(p: &LogisticS8Params, x: i8) -> i8 {
    let input = x as i32 - p.input_zero_point;
    if input <= -p.input_range_radius {
        i8::MIN
    } else if input >= p.input_range_radius {
        i8::MAX
    } else {
        let input_in_q4 =
            multiply_by_quantized_multiplier(input, p.input_multiplier, p.input_left_shift);
        let output_in_q0 = fixed_logistic(FixedPoint::<4>::from_raw(input_in_q4)).raw();
        // Q0.31 -> Q0.8 (31 - 8 = 23 bits), then the -128 zero point.
        let output_in_q23 = rounding_divide_by_pot(output_in_q0, 31 - 8);
        (output_in_q23 - 128).clamp(i8::MIN as i32, i8::MAX as i32) as i8
    }
}

/// LOGISTIC loop.
pub fn logistic(p: &LogisticS8Params, input: &[i8], output: &mut [i8]) {
    map(input, output, |x| logistic_element(p, x));
}

/// LOGISTIC loop, in place.
pub fn logistic_inplace(p: &LogisticS8Params, data: &mut [i8]) {
    map_inplace(data, |x| logistic_element(p, x));
}

/// Tabulates an element function over the 256 int8 inputs (layout of [`LutS8`]).
pub fn table_of(element: impl Fn(i8) -> i8) -> LutS8 {
    let mut table = [0i8; 256];
    for (i, t) in table.iter_mut().enumerate() {
        *t = element(i as u8 as i8);
    }
    table
}

/// Table lookup loop.
pub fn lut(table: &LutS8, input: &[i8], output: &mut [i8]) {
    map(input, output, |x| table[x as u8 as usize]);
}

/// Table lookup loop, in place.
pub fn lut_inplace(table: &LutS8, data: &mut [i8]) {
    map_inplace(data, |x| table[x as u8 as usize]);
}
