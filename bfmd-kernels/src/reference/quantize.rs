//! Quantization seen from the `f32` side: what storing a tensor as int8 does to its values.
//!
//! The int8 QUANTIZE / DEQUANTIZE / requantize kernels themselves are in
//! [`crate::s8::quantize`]. Here is their `f32` counterpart, fake quantization
//! (`dequantize(quantize(x))`, TensorFlow's `fake_quant` with TFLite's rounding): it lets an `f32`
//! model or a test see exactly the values an int8 tensor with the same `scale` and `zero_point`
//! can hold, and so measure quantization error without leaving `f32`.

use crate::error::{check_len, Error, Result};
use crate::quant::{dequantize_s8, quantize_f32_to_s8};

/// Checks that a quantization scale is positive and finite and that a zero point fits int8.
pub(crate) fn check_quantization(
    scale_what: &'static str,
    scale: f32,
    zero_point_what: &'static str,
    zero_point: i32,
) -> Result<()> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(Error::BadParam {
            what: scale_what,
            // Saturating conversion: 0 for zero and NaN, the sign for the rest.
            value: scale as i64,
        });
    }
    check_range(zero_point_what, zero_point, -128, 127)
}

/// Returns [`Error::BadParam`] unless `lo <= value <= hi` (the int8 kernels check the fields of
/// their params structs with it).
pub(crate) fn check_range(what: &'static str, value: i32, lo: i32, hi: i32) -> Result<()> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(Error::BadParam {
            what,
            value: value as i64,
        })
    }
}

/// One value through int8 storage: `scale * (clamp(round(x / scale) + zero_point) -
/// zero_point)`, rounding half away from zero in `f32` as TFLite's `AffineQuantize` does.
#[inline(always)]
pub fn fake_quantize(x: f32, scale: f32, zero_point: i32) -> f32 {
    dequantize_s8(quantize_f32_to_s8(x, scale, zero_point), scale, zero_point)
}

/// [`fake_quantize`] of every element. Errors: a scale that is not positive and finite, a zero
/// point outside `-128..=127`, `output.len() != input.len()`.
pub fn fake_quantize_f32(
    scale: f32,
    zero_point: i32,
    input: &[f32],
    output: &mut [f32],
) -> Result<()> {
    check_quantization("scale", scale, "zero point", zero_point)?;
    check_len("output", input.len(), output.len())?;
    for (o, &x) in output.iter_mut().zip(input) {
        *o = fake_quantize(x, scale, zero_point);
    }
    Ok(())
}

/// [`fake_quantize_f32`] overwriting its input.
pub fn fake_quantize_f32_inplace(scale: f32, zero_point: i32, data: &mut [f32]) -> Result<()> {
    check_quantization("scale", scale, "zero point", zero_point)?;
    for v in data.iter_mut() {
        *v = fake_quantize(*v, scale, zero_point);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snaps_to_the_grid_and_clamps() {
        let mut out = [0.0f32; 5];
        fake_quantize_f32(0.5, 2, &[0.2, 0.25, -0.3, 100.0, -100.0], &mut out).unwrap();
        // 0.2 / 0.5 = 0.4 -> 0; 0.5 (a tie) -> 1; -0.6 -> -1; 200 -> clamp 127 - 2 = 125;
        // -200 -> clamp(-198) = -128 - 2 = -130.
        assert_eq!(out, [0.0, 0.5, -0.5, 62.5, -65.0]);
        assert!(fake_quantize_f32(0.0, 0, &[1.0], &mut out[..1]).is_err());
        assert!(fake_quantize_f32(1.0, 200, &[1.0], &mut out[..1]).is_err());
        assert!(fake_quantize_f32_inplace(f32::NAN, 0, &mut out).is_err());
    }
}
