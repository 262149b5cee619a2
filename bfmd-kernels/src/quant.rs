//! Integer requantization with the arithmetic of the TensorFlow Lite Micro reference kernels.
//!
//! The rules here come from the TFLite int8 quantization specification
//! (<https://www.tensorflow.org/lite/performance/quantization_spec>) and from TFLite's
//! `quantization_util.cc` / `common.cc` and gemmlowp's `fixedpoint.h`, which the TFLM reference
//! kernels use. TFLM is built without `TFLITE_SINGLE_ROUNDING`, so requantization rounds twice
//! (a rounding doubling high multiply, then a rounding right shift); bfmd does the same because
//! bit-exactness against TFLM is the contract.
//!
//! `real = scale * (q - zero_point)` throughout.

/// A real multiplier `m` encoded as `multiplier * 2^(shift - 31)`, `multiplier` in
/// `[2^30, 2^31)` (or 0), as TFLite's `QuantizeMultiplier` produces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Requant {
    /// Q31 significand.
    pub multiplier: i32,
    /// Power-of-two exponent: positive shifts left, negative shifts right.
    pub shift: i32,
}

impl Requant {
    /// Encodes a real multiplier (see [`quantize_multiplier`]).
    pub fn from_real(real: f64) -> Self {
        let (multiplier, shift) = quantize_multiplier(real);
        Requant { multiplier, shift }
    }

    /// Applies the multiplier to an int32 accumulator (see [`multiply_by_quantized_multiplier`]).
    #[inline(always)]
    pub fn apply(self, x: i32) -> i32 {
        multiply_by_quantized_multiplier(x, self.multiplier, self.shift)
    }
}

/// `frexp` for finite doubles: `x = m * 2^e` with `0.5 <= |m| < 1`, written out because `core`
/// has none. Exact (only the exponent field changes).
fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: scale into the normal range first.
        let (m, e) = frexp(x * f64::from_bits(0x43f0_0000_0000_0000)); // 2^64
        return (m, e - 64);
    }
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022u64 << 52));
    (m, exp - 1022)
}

/// TFLite's `QuantizeMultiplier` (`quantization_util.cc`): returns `(multiplier, shift)` with
/// `real ~= multiplier * 2^(shift - 31)`.
///
/// The significand is rounded half away from zero (`TfLiteRound`); a significand that rounds up
/// to `2^31` is halved and the shift incremented; multipliers below `2^-31` flush to zero.
/// Non-finite inputs encode as zero (TFLite would abort; bfmd's importer rejects them earlier).
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    if real == 0.0 || !real.is_finite() {
        return (0, 0);
    }
    let (q, mut shift) = frexp(real);
    let mut q_fixed = libm::round(q * (1u64 << 31) as f64) as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    (q_fixed as i32, shift)
}

/// gemmlowp `SaturatingRoundingDoublingHighMul`: `round(a * b / 2^31)` with ties away from
/// zero, saturating the single overflow case `i32::MIN * i32::MIN`.
#[inline(always)]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge = if ab >= 0 {
        1i64 << 30
    } else {
        1 - (1i64 << 30)
    };
    // C++ integer division truncates toward zero, as Rust's does.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp `RoundingDivideByPOT`: `x / 2^exponent` rounded to nearest, ties away from zero.
/// `exponent` must be in `0..=31`.
#[inline(always)]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    debug_assert!((0..=31).contains(&exponent));
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + (x < 0) as i32;
    (x >> exponent) + (remainder > threshold) as i32
}

/// TFLite's double-rounding `MultiplyByQuantizedMultiplier(int32 x, multiplier, shift)`.
///
/// The left shift wraps like the C++ it mirrors (`x * (1 << left_shift)` on two's complement).
#[inline(always)]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left = if shift > 0 { shift } else { 0 };
    let right = if shift > 0 { 0 } else { -shift };
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x.wrapping_mul(1i32 << left), multiplier),
        right,
    )
}

/// TFLite's `MultiplyByQuantizedMultiplierSmallerThanOneExp(x, multiplier, left_shift)`
/// (`left_shift <= 0`).
#[inline(always)]
pub fn multiply_by_quantized_multiplier_smaller_than_one_exp(
    x: i32,
    multiplier: i32,
    left_shift: i32,
) -> i32 {
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x, multiplier),
        -left_shift,
    )
}

/// TFLite's `MultiplyByQuantizedMultiplierGreaterThanOne(x, multiplier, left_shift)`
/// (`left_shift >= 0`).
#[inline(always)]
pub fn multiply_by_quantized_multiplier_greater_than_one(
    x: i32,
    multiplier: i32,
    left_shift: i32,
) -> i32 {
    saturating_rounding_doubling_high_mul(x.wrapping_mul(1i32 << left_shift), multiplier)
}

/// TFLite's `Quantize(scale, zero_point, f)` used for activation ranges: `zero_point +
/// round(f / scale)` computed in `f32`, rounding half away from zero. Saturates at the `i32`
/// range instead of failing.
pub fn quantize_f32_to_i32(f: f32, scale: f32, zero_point: i32) -> i32 {
    let t = libm::roundf(f / scale);
    let q = if t >= i32::MAX as f32 {
        i32::MAX
    } else if t <= i32::MIN as f32 {
        i32::MIN
    } else {
        t as i32
    };
    zero_point.saturating_add(q)
}

/// TFLite's int8 `AffineQuantize` of one value: `clamp(round(f / scale) + zero_point)`.
///
/// TFLite computes `round(f / scale)` in `f32` with ties away from zero (`TfLiteRound`).
pub fn quantize_f32_to_s8(f: f32, scale: f32, zero_point: i32) -> i8 {
    quantize_f32_to_i32(f, scale, zero_point).clamp(-128, 127) as i8
}

/// `scale * (q - zero_point)`.
#[inline(always)]
pub fn dequantize_s8(q: i8, scale: f32, zero_point: i32) -> f32 {
    scale * (q as i32 - zero_point) as f32
}

/// A fused activation, as TFLite attaches it to convolution, add, mul, pooling, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FusedActivation {
    /// No clamping beyond the type's range.
    #[default]
    None,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
    /// `min(max(x, -1), 1)`.
    ReluN1To1,
}

/// Clamp range of a quantized op's output, TFLite's `CalculateActivationRangeQuantized`
/// (`kernel_util.cc`) for int8 outputs.
///
/// Returns `(act_min, act_max)` in the quantized domain.
pub fn activation_range_s8(act: FusedActivation, scale: f32, zero_point: i32) -> (i32, i32) {
    let (qmin, qmax) = (-128, 127);
    let q = |f: f32| quantize_f32_to_i32(f, scale, zero_point);
    match act {
        FusedActivation::None => (qmin, qmax),
        FusedActivation::Relu => (qmin.max(q(0.0)), qmax),
        FusedActivation::Relu6 => (qmin.max(q(0.0)), qmax.min(q(6.0))),
        FusedActivation::ReluN1To1 => (qmin.max(q(-1.0)), qmax.min(q(1.0))),
    }
}

/// Clamp range of a float op's output (TFLite `CalculateActivationRange<float>`).
pub fn activation_range_f32(act: FusedActivation) -> (f32, f32) {
    match act {
        FusedActivation::None => (f32::NEG_INFINITY, f32::INFINITY),
        FusedActivation::Relu => (0.0, f32::INFINITY),
        FusedActivation::Relu6 => (0.0, 6.0),
        FusedActivation::ReluN1To1 => (-1.0, 1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_matches_definition() {
        for &x in &[
            1.0,
            0.5,
            0.75,
            3.0,
            1e-9,
            123456.789,
            2f64.powi(-40),
            3e-310,
        ] {
            let (m, e) = frexp(x);
            assert!((0.5..1.0).contains(&m), "{x}: {m}");
            // Scale in two steps so that 2^e itself does not underflow for subnormal x.
            assert_eq!(m * 2f64.powi(e + 600) * 2f64.powi(-600), x);
        }
    }

    #[test]
    fn quantize_multiplier_known_values() {
        assert_eq!(quantize_multiplier(0.0), (0, 0));
        assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
        assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
        assert_eq!(quantize_multiplier(0.25), (1 << 30, -1));
        // 0.75 = 0.75 * 2^0 -> round(0.75 * 2^31).
        assert_eq!(quantize_multiplier(0.75), (1_610_612_736, 0));
        // A significand that rounds to 2^31 is halved.
        let just_below_one = 1.0 - 1e-12;
        assert_eq!(quantize_multiplier(just_below_one), (1 << 30, 1));
        // Below 2^-31: flushed to zero.
        assert_eq!(quantize_multiplier(1e-12), (0, 0));
        // Reconstruction error of at most half a unit of the significand.
        for &r in &[0.0123, 0.987, 3.3e-4, 17.5, 0.3333333] {
            let (m, s) = quantize_multiplier(r);
            let back = m as f64 * 2f64.powi(s - 31);
            assert!((back - r).abs() <= 2f64.powi(s - 32), "{r} -> {back}");
        }
    }

    #[test]
    fn srdhm_rounds_half_up() {
        // 2^30 * 2^30 / 2^31 = 2^29 exactly.
        assert_eq!(
            saturating_rounding_doubling_high_mul(1 << 30, 1 << 30),
            1 << 29
        );
        // gemmlowp's nudge of 1 - 2^30 for negative products, followed by truncating division,
        // sends ties toward +infinity: 1.5 -> 2, -1.5 -> -1, 0.5 -> 1, -0.5 -> 0.
        assert_eq!(saturating_rounding_doubling_high_mul(3, 1 << 30), 2);
        assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);
        assert_eq!(saturating_rounding_doubling_high_mul(1, 1 << 30), 1);
        assert_eq!(saturating_rounding_doubling_high_mul(-1, 1 << 30), 0);
        // Off ties, nearest: -1.75 -> -2.
        assert_eq!(saturating_rounding_doubling_high_mul(-7, 1 << 29), -2);
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
    }

    #[test]
    fn rounding_divide_by_pot_rounds_half_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3); // 2.5 -> 3
        assert_eq!(rounding_divide_by_pot(-5, 1), -3); // -2.5 -> -3
        assert_eq!(rounding_divide_by_pot(7, 2), 2); // 1.75 -> 2
        assert_eq!(rounding_divide_by_pot(-6, 2), -2); // -1.5 -> -2
        assert_eq!(rounding_divide_by_pot(-5, 2), -1); // -1.25 -> -1
        assert_eq!(rounding_divide_by_pot(123, 0), 123);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
    }

    #[test]
    fn multiply_by_quantized_multiplier_tracks_real_product() {
        // The double rounding may differ from one rounding by at most one unit.
        for &(x, r) in &[
            (1000, 0.0123),
            (-77777, 0.000456),
            (12, 3.5),
            (-3, 0.75),
            (0, 0.3),
        ] {
            let (m, s) = quantize_multiplier(r);
            let got = multiply_by_quantized_multiplier(x, m, s) as f64;
            let want = x as f64 * r;
            assert!((got - want).abs() <= 1.0, "{x} * {r}: {got} vs {want}");
        }
        // Exact halves of the high multiply go toward +infinity (see srdhm_rounds_half_up).
        let (m, s) = quantize_multiplier(0.5);
        assert_eq!(multiply_by_quantized_multiplier(3, m, s), 2);
        assert_eq!(multiply_by_quantized_multiplier(-3, m, s), -1);
        // Halves of the rounding shift go away from zero: -6 * 0.25 = -1.5 -> -2.
        let (m, s) = quantize_multiplier(0.25);
        assert_eq!((m, s), (1 << 30, -1));
        assert_eq!(multiply_by_quantized_multiplier(-6, m, s), -2);
    }

    #[test]
    fn activation_ranges() {
        // scale 6/255 with zero point -128: relu6 spans the whole int8 range.
        assert_eq!(
            activation_range_s8(FusedActivation::Relu6, 6.0 / 255.0, -128),
            (-128, 127)
        );
        assert_eq!(activation_range_s8(FusedActivation::Relu, 0.1, 5), (5, 127));
        assert_eq!(activation_range_s8(FusedActivation::Relu6, 0.1, 5), (5, 65));
        assert_eq!(
            activation_range_s8(FusedActivation::None, 0.1, 5),
            (-128, 127)
        );
    }

    #[test]
    fn quantize_rounds_half_away_from_zero() {
        assert_eq!(quantize_f32_to_s8(0.25, 0.5, 0), 1); // 0.5 -> 1
        assert_eq!(quantize_f32_to_s8(-0.25, 0.5, 0), -1);
        assert_eq!(quantize_f32_to_s8(1000.0, 0.5, 0), 127);
        assert_eq!(quantize_f32_to_s8(-1000.0, 0.5, 3), -128);
        assert_eq!(dequantize_s8(10, 0.5, 4), 3.0);
    }
}
