//! Portable inner loops of QUANTIZE, DEQUANTIZE and requantize. No argument checks; with unequal
//! lengths the shorter slice bounds the loop.

use super::{DequantizeS8Params, QuantizeS8Params, RequantizeS8Params};
use crate::quant::{
    dequantize_s8 as dequantize_one, multiply_by_quantized_multiplier, quantize_f32_to_s8,
};

/// f32 -> int8 with TFLite's `AffineQuantize` rounding.
pub fn quantize(p: &QuantizeS8Params, input: &[f32], output: &mut [i8]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = quantize_f32_to_s8(x, p.scale, p.zero_point);
    }
}

/// int8 -> f32. TFLite multiplies in `f32` (`static_cast<float>(scale) * (q - zero_point)`);
/// the product of a 24-bit significand and a 9-bit integer is rounded once either way.
pub fn dequantize(p: &DequantizeS8Params, input: &[i8], output: &mut [f32]) {
    for (o, &q) in output.iter_mut().zip(input) {
        *o = dequantize_one(q, p.scale, p.zero_point);
    }
}

/// One element of requantization (TFLite's `reference_ops::Requantize`).
#[inline(always)]
pub fn requantize_element(p: &RequantizeS8Params, q: i8) -> i8 {
    let output = multiply_by_quantized_multiplier(q as i32 + p.input_offset, p.multiplier, p.shift)
        .wrapping_add(p.output_offset);
    output.clamp(i8::MIN as i32, i8::MAX as i32) as i8
}

/// int8 -> int8 requantization loop.
pub fn requantize(p: &RequantizeS8Params, input: &[i8], output: &mut [i8]) {
    for (o, &q) in output.iter_mut().zip(input) {
        *o = requantize_element(p, q);
    }
}

/// int8 -> int8 requantization loop, in place.
pub fn requantize_inplace(p: &RequantizeS8Params, data: &mut [i8]) {
    for v in data.iter_mut() {
        *v = requantize_element(p, *v);
    }
}
