//! gemmlowp's fixed-point arithmetic, as the TFLite Micro reference kernels use it for LOGISTIC,
//! SOFTMAX and HARD_SWISH.
//!
//! Everything here mirrors `fixedpoint/fixedpoint.h` of gemmlowp (scalar paths) and the helpers
//! TFLite builds on it (`GetReciprocal` in `kernels/internal/common.h`; `CalculateInputRadius`,
//! `PreprocessSoftmaxScaling` and `DownScaleInt32ToInt16Multiplier` in
//! `kernels/internal/quantization_util.cc` / `common.h`; the int16 helpers of
//! `reference/hard_swish.h`). Bit-exactness with TFLM is the contract, so every rounding and
//! saturation rule is reproduced, including the ones that look accidental. Integer overflow that
//! is undefined behaviour in the C++ wraps here, which is what the compiled TFLM does on every
//! two's-complement target.
//!
//! A [`FixedPoint<I>`] holds an `i32` whose real value is `raw / 2^(31 - I)`: `I` integer bits
//! (not counting the sign), `31 - I` fractional bits, range `[-2^I, 2^I)`. Multiplying a `Q(a)` by
//! a `Q(b)` gives a `Q(a + b)`; gemmlowp encodes that in the C++ type, Rust's stable const
//! generics cannot compute `a + b` in a type, so [`FixedPoint::mul`] takes the result format as
//! a parameter and checks `K == I + J` at compile time.

use core::ops::{Add, BitAnd, Neg, Sub};

use crate::error::{Error, Result};
use crate::quant::{
    quantize_multiplier, rounding_divide_by_pot, saturating_rounding_doubling_high_mul,
};

/// A signed 32-bit fixed-point number with `INTEGER_BITS` integer bits (gemmlowp's
/// `FixedPoint<std::int32_t, tIntegerBits>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FixedPoint<const INTEGER_BITS: u32> {
    raw: i32,
}

impl<const I: u32> FixedPoint<I> {
    /// Number of integer bits (excluding the sign bit).
    pub const INTEGER_BITS: u32 = I;
    /// Number of fractional bits, `31 - INTEGER_BITS`.
    pub const FRACTIONAL_BITS: u32 = {
        assert!(
            I < 32,
            "a 32-bit fixed-point number has at most 31 integer bits"
        );
        31 - I
    };
    /// The value zero.
    pub const ZERO: Self = FixedPoint { raw: 0 };

    /// Wraps a raw integer without conversion.
    #[inline(always)]
    pub const fn from_raw(raw: i32) -> Self {
        FixedPoint { raw }
    }

    /// The underlying integer.
    #[inline(always)]
    pub const fn raw(self) -> i32 {
        self.raw
    }

    /// The value one, or the largest representable value when there are no integer bits
    /// (gemmlowp `One()`: in Q0.31, 1.0 is not representable and saturates to `i32::MAX`).
    #[inline(always)]
    pub const fn one() -> Self {
        if I == 0 {
            FixedPoint { raw: i32::MAX }
        } else {
            FixedPoint {
                raw: 1 << Self::FRACTIONAL_BITS,
            }
        }
    }

    /// `2^E`, exactly (gemmlowp `ConstantPOT<E>()`); the offset `FRACTIONAL_BITS + E` must lie in
    /// `0..31`, which is checked at compile time.
    #[inline(always)]
    pub const fn constant_pot<const E: i32>() -> Self {
        let offset = const {
            let offset = (31 - I as i32) + E;
            assert!(
                offset >= 0 && offset < 31,
                "constant not exactly representable in this format"
            );
            offset
        };
        FixedPoint { raw: 1 << offset }
    }

    /// The nearest representable value to `x` (ties away from zero), saturated to the range
    /// (gemmlowp `FromDouble`). Meant for constants and tests, not for kernels.
    pub fn from_f64(x: f64) -> Self {
        let scaled = libm::round(x * (1u64 << Self::FRACTIONAL_BITS) as f64);
        FixedPoint {
            raw: scaled.clamp(i32::MIN as f64, i32::MAX as f64) as i32,
        }
    }

    /// The real value (gemmlowp `ToDouble`).
    pub fn to_f64(self) -> f64 {
        self.raw as f64 / (1u64 << Self::FRACTIONAL_BITS) as f64
    }

    /// Fixed-point product: a rounding, saturating doubling high multiply of the raw values
    /// (gemmlowp `operator*`). The result has `I + J` integer bits; `K` must equal that, which is
    /// checked at compile time.
    // Not `core::ops::Mul`: its `Output` would have to be `FixedPoint<{ I + J }>`, which stable
    // Rust cannot express.
    #[allow(clippy::should_implement_trait)]
    #[inline(always)]
    pub fn mul<const J: u32, const K: u32>(self, rhs: FixedPoint<J>) -> FixedPoint<K> {
        const { assert!(I + J == K, "the product of Q(I) and Q(J) is Q(I + J)") };
        FixedPoint::from_raw(saturating_rounding_doubling_high_mul(self.raw, rhs.raw))
    }

    /// Multiplies by `2^(K - I)` exactly by relabelling the format; the raw value is unchanged
    /// (gemmlowp `ExactMulByPot<K - I>`).
    #[inline(always)]
    pub const fn exact_mul_by_pot<const K: u32>(self) -> FixedPoint<K> {
        FixedPoint::from_raw(self.raw)
    }

    /// Converts to `K` integer bits, keeping the real value: a saturating left shift when `K <
    /// I`, a rounding right shift when `K > I` (gemmlowp `Rescale<K>`).
    #[inline(always)]
    pub fn rescale<const K: u32>(self) -> FixedPoint<K> {
        FixedPoint::from_raw(saturating_rounding_multiply_by_pot(
            self.raw,
            I as i32 - K as i32,
        ))
    }

    /// Multiplies by `2^exponent` keeping the format: saturating for positive exponents,
    /// rounding to nearest for negative ones (gemmlowp `SaturatingRoundingMultiplyByPOT`).
    #[inline(always)]
    pub fn saturating_rounding_multiply_by_pot(self, exponent: i32) -> Self {
        FixedPoint::from_raw(saturating_rounding_multiply_by_pot(self.raw, exponent))
    }

    /// `(self + other) / 2`, rounded to nearest with ties away from zero (gemmlowp
    /// `RoundingHalfSum`, the NEON `VRHADD`).
    #[inline(always)]
    pub fn rounding_half_sum(self, other: Self) -> Self {
        let sum = self.raw as i64 + other.raw as i64;
        let sign = if sum >= 0 { 1 } else { -1 };
        FixedPoint::from_raw(((sum + sign) / 2) as i32)
    }
}

/// Wrapping addition, like gemmlowp's `Add` on a two's-complement target.
impl<const I: u32> Add for FixedPoint<I> {
    type Output = Self;
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        FixedPoint::from_raw(self.raw.wrapping_add(rhs.raw))
    }
}

/// Wrapping subtraction, like gemmlowp's `Sub`.
impl<const I: u32> Sub for FixedPoint<I> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        FixedPoint::from_raw(self.raw.wrapping_sub(rhs.raw))
    }
}

/// Wrapping negation, like gemmlowp's `Neg`.
impl<const I: u32> Neg for FixedPoint<I> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        FixedPoint::from_raw(self.raw.wrapping_neg())
    }
}

/// Bitwise and of the raw values (used to take a value modulo a power of two).
impl<const I: u32> BitAnd for FixedPoint<I> {
    type Output = Self;
    #[inline(always)]
    fn bitand(self, rhs: Self) -> Self {
        FixedPoint::from_raw(self.raw & rhs.raw)
    }
}

/// gemmlowp `SaturatingRoundingMultiplyByPOT` on a raw `i32`: `x * 2^exponent`, saturating when
/// `exponent > 0`, rounding to nearest (ties away from zero) when `exponent < 0`.
///
/// `exponent` must lie in `-31..=31`.
#[inline(always)]
pub fn saturating_rounding_multiply_by_pot(x: i32, exponent: i32) -> i32 {
    debug_assert!((-31..=31).contains(&exponent));
    if exponent > 0 {
        // gemmlowp saturates when |x| exceeds (2^(31 - exponent) - 1), then shifts.
        let threshold = ((1i64 << (31 - exponent)) - 1) as i32;
        if x > threshold {
            i32::MAX
        } else if x < -threshold {
            i32::MIN
        } else {
            x.wrapping_shl(exponent as u32)
        }
    } else if exponent < 0 {
        rounding_divide_by_pot(x, -exponent)
    } else {
        x
    }
}

/// `exp(a)` for `a` in `[-1/4, 0)`, a Taylor expansion around `-1/8` (gemmlowp
/// `exp_on_interval_between_negative_one_quarter_and_0_excl`).
pub fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: FixedPoint<0>) -> FixedPoint<0> {
    type F = FixedPoint<0>;
    // exp(-1/8) and 1/3 in Q0.31, gemmlowp's constants.
    let constant_term = F::from_raw(1_895_147_668);
    let constant_1_over_3 = F::from_raw(715_827_883);
    let x = a + F::constant_pot::<-3>();
    let x2: F = x.mul(x);
    let x3: F = x2.mul(x);
    let x4: F = x2.mul(x2);
    let x4_over_4 = x4.saturating_rounding_multiply_by_pot(-2);
    let x4_over_24_plus_x3_over_6_plus_x2_over_2 =
        ((x4_over_4 + x3).mul::<0, 0>(constant_1_over_3) + x2)
            .saturating_rounding_multiply_by_pot(-1);
    // gemmlowp's AddSaturatingIf16Bit is a plain (wrapping) addition for 32-bit values.
    constant_term + constant_term.mul::<0, 0>(x + x4_over_24_plus_x3_over_6_plus_x2_over_2)
}

/// `exp(-2^k)` in Q0.31 for `k = -2..=4`, the multipliers of gemmlowp's exp barrel shifter.
const EXP_BARREL_SHIFTER: [(i32, i32); 7] = [
    (-2, 1_672_461_947),
    (-1, 1_302_514_674),
    (0, 790_015_084),
    (1, 290_630_308),
    (2, 39_332_535),
    (3, 720_401),
    (4, 242),
];

/// `exp(a)` for `a <= 0`, in Q0.31 (gemmlowp `exp_on_negative_values`). `exp(0)` saturates to
/// the largest Q0.31 value.
///
/// The input's fractional part modulo 1/4 goes through the Taylor expansion, each set bit of
/// the rest multiplies by a constant `exp(-2^k)`. `INTEGER_BITS` must be at most 29 (checked at
/// compile time).
pub fn exp_on_negative_values<const I: u32>(a: FixedPoint<I>) -> FixedPoint<0> {
    const {
        assert!(
            I <= 29,
            "exp_on_negative_values needs 1/4 to be representable"
        )
    };
    let fractional_bits = 31 - I as i32;
    let one_quarter = 1i32 << (fractional_bits - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a.raw() & mask).wrapping_sub(one_quarter);
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        FixedPoint::<I>::from_raw(a_mod_quarter_minus_one_quarter).rescale::<0>(),
    );
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a.raw());
    for &(exponent, multiplier) in EXP_BARREL_SHIFTER.iter() {
        // Only the bits the input format has: gemmlowp's `if (kIntegerBits > Exponent)`.
        if (I as i32) > exponent {
            let shift = fractional_bits + exponent;
            if remainder & (1 << shift) != 0 {
                result = result.mul::<0, 0>(FixedPoint::from_raw(multiplier));
            }
        }
    }
    if I > 5 {
        // Below -32 the result is 0 in Q0.31; the formats with more integer bits clamp there.
        let clamp = -(1i32 << (36 - I));
        if a.raw() < clamp {
            result = FixedPoint::ZERO;
        }
    }
    if a.raw() == 0 {
        result = FixedPoint::one();
    }
    result
}

/// `1 / (1 + a)` for `a` in `(0, 1)`, by three Newton-Raphson steps from the `48/17 - 32/17 d`
/// estimate (gemmlowp `one_over_one_plus_x_for_x_in_0_1`).
pub fn one_over_one_plus_x_for_x_in_0_1(a: FixedPoint<0>) -> FixedPoint<0> {
    type F2 = FixedPoint<2>;
    let half_denominator = a.rounding_half_sum(FixedPoint::<0>::one());
    let constant_48_over_17 = F2::from_raw(1_515_870_810);
    let constant_neg_32_over_17 = F2::from_raw(-1_010_580_540);
    let mut x: F2 = constant_48_over_17 + half_denominator.mul::<2, 2>(constant_neg_32_over_17);
    for _ in 0..3 {
        let half_denominator_times_x: F2 = half_denominator.mul(x);
        let one_minus_half_denominator_times_x = F2::one() - half_denominator_times_x;
        x = x + x
            .mul::<2, 4>(one_minus_half_denominator_times_x)
            .rescale::<2>();
    }
    // x approximates 1 / half_denominator = 2 / (1 + a); halve it by relabelling (Q2 -> Q1),
    // then bring it to Q0.31.
    x.exact_mul_by_pot::<1>().rescale::<0>()
}

/// `1 / (1 + exp(-a))` for any `a`, in Q0.31 (gemmlowp `logistic`).
pub fn logistic<const I: u32>(a: FixedPoint<I>) -> FixedPoint<0> {
    if a.raw() == 0 {
        // gemmlowp returns exactly one half at zero.
        return FixedPoint::from_raw(1 << 30);
    }
    let positive = a.raw() > 0;
    let abs_input = if positive { a } else { -a };
    let result_if_positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-abs_input));
    if positive {
        result_if_positive
    } else {
        FixedPoint::<0>::one() - result_if_positive
    }
}

/// TFLite's `GetReciprocal(x, x_integer_digits, &num_bits_over_unit)` (`kernels/internal/
/// common.h`): for `x > 0` in `Q(x_integer_digits)`, returns `(scale, num_bits_over_unit)` with
/// `scale` a Q0.31 value such that `1 / x ~= scale * 2^-num_bits_over_unit`.
///
/// `x` is normalized so that its leading one sits at bit 31, the part above one is fed to
/// [`one_over_one_plus_x_for_x_in_0_1`]. `x <= 0` is outside the contract (TFLite never passes
/// it: a softmax row always contains `exp(0)`); it returns a finite but meaningless pair.
pub fn get_reciprocal(x: i32, x_integer_digits: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros();
    let num_bits_over_unit = x_integer_digits - headroom_plus_one as i32;
    let shifted_sum_minus_one = (x as u32)
        .checked_shl(headroom_plus_one)
        .unwrap_or(0)
        .wrapping_sub(1u32 << 31) as i32;
    let shifted_scale =
        one_over_one_plus_x_for_x_in_0_1(FixedPoint::from_raw(shifted_sum_minus_one));
    (shifted_scale.raw(), num_bits_over_unit)
}

/// TFLite's `CalculateInputRadius` (`quantization_util.cc`): the largest input magnitude (in
/// input quantization steps) that, after scaling by a multiplier with `input_left_shift`, still
/// fits in a fixed-point number with `input_integer_bits` integer bits out of
/// `total_signed_bits`.
///
/// `floor((2^input_integer_bits - 1) * 2^(total_signed_bits - input_integer_bits) /
/// 2^input_left_shift)`, in `f64` as TFLite computes it (saturated to `i32`).
pub fn calculate_input_radius(
    input_integer_bits: i32,
    input_left_shift: i32,
    total_signed_bits: i32,
) -> i32 {
    let max_input_rescaled = ((1i64 << input_integer_bits) - 1) as f64
        * (1i64 << (total_signed_bits - input_integer_bits)) as f64
        / libm::pow(2.0, input_left_shift as f64);
    // `as` saturates where the C++ cast would be undefined.
    libm::floor(max_input_rescaled) as i32
}

/// TFLite's `PreprocessSoftmaxScaling(beta, input_scale, input_integer_bits)`
/// (`quantization_util.cc`, double-rounding build): the multiplier that maps an int8 input
/// difference to a `Q(input_integer_bits)` fixed-point value of `beta * input_scale * diff`.
///
/// Returns `(multiplier, left_shift)` as [`quantize_multiplier`] encodes it. The real multiplier
/// `beta * input_scale * 2^(31 - input_integer_bits)` is capped at `2^31 - 1` (larger values only
/// push non-maximal inputs further below `exp` underflow); TFLite then requires it to exceed 1
/// (`QuantizeMultiplierGreaterThanOne` aborts otherwise), which is an error here.
pub fn preprocess_softmax_scaling(
    beta: f64,
    input_scale: f64,
    input_integer_bits: i32,
) -> Result<(i32, i32)> {
    let max_real_multiplier = (1i64 << 31) as f64 - 1.0;
    // Same association as the C++: (beta * input_scale) * 2^(31 - input_integer_bits).
    let real = beta * input_scale * (1i64 << (31 - input_integer_bits)) as f64;
    // std::min<double>(real, max) keeps `real` unless max < real.
    let real = if max_real_multiplier < real {
        max_real_multiplier
    } else {
        real
    };
    if real.is_nan() || real <= 1.0 {
        return Err(Error::Unsupported(
            "softmax: beta * input_scale * 2^26 must exceed 1 (TFLite's \
             QuantizeMultiplierGreaterThanOne)",
        ));
    }
    let (multiplier, shift) = quantize_multiplier(real);
    if shift < 0 {
        return Err(Error::Unsupported(
            "softmax: the input multiplier needs a right shift",
        ));
    }
    Ok((multiplier, shift))
}

/// gemmlowp `SaturatingRoundingDoublingHighMul` for `i16` (NEON `VQRDMULH.S16`):
/// `round(a * b / 2^15)` with gemmlowp's nudge (ties toward +infinity), saturating
/// `-32768 * -32768` to `32767`.
#[inline(always)]
pub fn saturating_rounding_doubling_high_mul_i16(a: i16, b: i16) -> i16 {
    if a == i16::MIN && b == i16::MIN {
        return i16::MAX;
    }
    let ab = a as i32 * b as i32;
    let nudge = if ab >= 0 { 1 << 14 } else { 1 - (1 << 14) };
    // C++ division truncates toward zero, as Rust's does; the cast keeps the low 16 bits.
    ((ab + nudge) / (1 << 15)) as i16
}

/// TFLite's `SaturatingDoublingHighMul` for `i16` (`reference/hard_swish.h`, like ARM
/// `SQDMULH`): `a * b / 2^15` truncated toward zero, saturating `-32768 * -32768` to `32767`.
#[inline(always)]
pub fn saturating_doubling_high_mul_i16(a: i16, b: i16) -> i16 {
    if a == i16::MIN && b == i16::MIN {
        return i16::MAX;
    }
    ((a as i32 * b as i32) / (1 << 15)) as i16
}

/// gemmlowp `RoundingDivideByPOT` instantiated for `i16`: `x / 2^exponent` rounded to nearest,
/// ties away from zero, with the C++ integer conversions reproduced for every `exponent` in
/// `0..=62` (for `exponent >= 16` gemmlowp's `i16` mask wraps to -1 and the result is 1 for
/// `x >= 0`, -1 for `x < 0`; TFLM computes the same).
#[inline(always)]
pub fn rounding_divide_by_pot_i16(x: i16, exponent: i32) -> i16 {
    debug_assert!((0..=62).contains(&exponent));
    // `Dup<int16_t>((1ll << exponent) - 1)`: the mask is truncated to 16 bits.
    let mask = ((1i64 << exponent) - 1) as i16;
    let remainder = x & mask;
    let threshold = (mask >> 1).wrapping_add((x < 0) as i16);
    // `x >> exponent` on the promoted int; shifting an i16 by 15 or 31 gives the same result.
    let quotient = ((x as i32) >> exponent.min(31)) as i16;
    quotient.wrapping_add((remainder > threshold) as i16)
}

/// TFLite's `SaturatingLeftShift(int16 value, amount)` (`reference/hard_swish.h`): `value *
/// 2^amount` saturated to the `i16` range. `amount` must lie in `0..=30`.
#[inline(always)]
pub fn saturating_left_shift_i16(value: i16, amount: i32) -> i16 {
    debug_assert!((0..=30).contains(&amount));
    (value as i64 * (1i64 << amount)).clamp(i16::MIN as i64, i16::MAX as i64) as i16
}

/// TFLite's `DownScaleInt32ToInt16Multiplier` (`kernels/internal/common.h`): rounds a Q31
/// multiplier (from [`quantize_multiplier`], so non-negative) to Q15, saturating at `i16::MAX`.
#[inline]
pub fn down_scale_i32_to_i16_multiplier(multiplier: i32) -> i16 {
    const ROUNDING_OFFSET: i32 = 1 << 15;
    if multiplier >= i32::MAX - ROUNDING_OFFSET {
        return i16::MAX;
    }
    ((multiplier + ROUNDING_OFFSET) >> 16) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    type F0 = FixedPoint<0>;
    type F5 = FixedPoint<5>;

    #[test]
    fn gemmlowp_constants_match_their_real_values() {
        // gemmlowp checks these with GEMMLOWP_CHECKED_FIXEDPOINT_CONSTANT; so do we.
        assert_eq!(F0::from_f64(libm::exp(-1.0 / 8.0)).raw(), 1_895_147_668);
        assert_eq!(F0::from_f64(1.0 / 3.0).raw(), 715_827_883);
        for &(k, m) in EXP_BARREL_SHIFTER.iter() {
            assert_eq!(
                F0::from_f64(libm::exp(-libm::pow(2.0, k as f64))).raw(),
                m,
                "k = {k}"
            );
        }
        assert_eq!(FixedPoint::<2>::from_f64(48.0 / 17.0).raw(), 1_515_870_810);
        assert_eq!(
            FixedPoint::<2>::from_f64(-32.0 / 17.0).raw(),
            -1_010_580_540
        );
    }

    #[test]
    fn formats_and_constants() {
        assert_eq!(F0::one().raw(), i32::MAX);
        assert_eq!(F5::one().raw(), 1 << 26);
        assert_eq!(F5::FRACTIONAL_BITS, 26);
        assert_eq!(F0::constant_pot::<-3>().raw(), 1 << 28);
        assert_eq!(FixedPoint::<12>::constant_pot::<2>().to_f64(), 4.0);
        assert_eq!(F5::from_f64(-1.5).to_f64(), -1.5);
        assert_eq!(F0::from_f64(2.0).raw(), i32::MAX);
    }

    #[test]
    fn multiply_adds_integer_bits() {
        let a = FixedPoint::<2>::from_f64(1.5);
        let b = FixedPoint::<3>::from_f64(-2.25);
        let c: FixedPoint<5> = a.mul(b);
        assert_eq!(c.to_f64(), -3.375);
    }

    #[test]
    fn rescale_saturates_and_rounds() {
        // 3.0 does not fit Q1.30: saturates.
        assert_eq!(
            FixedPoint::<4>::from_f64(3.0).rescale::<1>().raw(),
            i32::MAX
        );
        assert_eq!(
            FixedPoint::<4>::from_f64(-3.0).rescale::<1>().raw(),
            i32::MIN
        );
        assert_eq!(
            FixedPoint::<4>::from_f64(1.25).rescale::<1>().to_f64(),
            1.25
        );
        // Going to more integer bits rounds the dropped bits half away from zero.
        assert_eq!(FixedPoint::<0>::from_raw(3).rescale::<1>().raw(), 2);
        assert_eq!(FixedPoint::<0>::from_raw(-3).rescale::<1>().raw(), -2);
        assert_eq!(saturating_rounding_multiply_by_pot(-5, 0), -5);
        assert_eq!(saturating_rounding_multiply_by_pot(1 << 29, 2), i32::MAX);
        assert_eq!(saturating_rounding_multiply_by_pot(1 << 28, 2), 1 << 30);
    }

    #[test]
    fn exp_on_negative_values_is_accurate() {
        // Over [-16, 0] in Q5.26 the result is within the truncation error of gemmlowp's
        // fourth-order Taylor expansion on [-1/4, 0): (1/8)^5 / 120 ~= 2.5e-7.
        let mut worst = 0.0f64;
        let mut raw = 0i32;
        while raw > -(16 << 26) {
            let x = F5::from_raw(raw);
            let got = exp_on_negative_values(x).to_f64();
            let want = libm::exp(x.to_f64());
            worst = worst.max((got - want).abs());
            raw -= 9_999_991; // a prime stride so that the low bits vary
        }
        assert!(worst < 2.5e-7, "worst error {worst}");
        assert_eq!(exp_on_negative_values(F5::ZERO).raw(), i32::MAX);
        // Q6 clamps below -32.
        let below = FixedPoint::<6>::from_f64(-33.0);
        assert_eq!(exp_on_negative_values(below).raw(), 0);
    }

    #[test]
    fn reciprocal_and_logistic_are_accurate() {
        for &v in &[0.001, 0.25, 0.5, 0.75, 0.999] {
            let got = one_over_one_plus_x_for_x_in_0_1(F0::from_f64(v)).to_f64();
            assert!((got - 1.0 / (1.0 + v)).abs() < 1e-8, "{v}: {got}");
        }
        for &v in &[-7.9, -1.0, -0.01, 0.0, 0.3, 2.0, 7.9] {
            let got = logistic(FixedPoint::<4>::from_f64(v)).to_f64();
            let want = 1.0 / (1.0 + libm::exp(-v));
            // The exp error (above) dominates.
            assert!((got - want).abs() < 2.5e-7, "{v}: {got} vs {want}");
        }
        // Sum of exps 3.5 in Q12.19: reciprocal 1/3.5 = 0.5714... = scale * 2^-1.
        let x = FixedPoint::<12>::from_f64(3.5).raw();
        let (scale, bits) = get_reciprocal(x, 12);
        assert_eq!(bits, 1);
        let approx = F0::from_raw(scale).to_f64() * 0.5;
        assert!((approx - 1.0 / 3.5).abs() < 1e-8, "{approx}");
    }

    #[test]
    fn input_radius_and_softmax_scaling() {
        // 15 * 2^27 / 2^24 = 120.
        assert_eq!(calculate_input_radius(4, 24, 31), 120);
        // 31 * 2^26 / 2^30 = 1.9375 -> 1.
        assert_eq!(calculate_input_radius(5, 30, 31), 1);
        // beta 1, scale 1/16: 2^-4 * 2^26 = 2^22 = 0.5 * 2^23.
        assert_eq!(
            preprocess_softmax_scaling(1.0, 0.0625, 5),
            Ok((1 << 30, 23))
        );
        // Capped at 2^31 - 1.
        let (m, s) = preprocess_softmax_scaling(1.0, 1e6, 5).unwrap();
        assert_eq!((m, s), (i32::MAX, 31));
        assert!(preprocess_softmax_scaling(1.0, 1e-9, 5).is_err());
    }

    #[test]
    fn int16_helpers() {
        assert_eq!(
            saturating_rounding_doubling_high_mul_i16(i16::MIN, i16::MIN),
            i16::MAX
        );
        // 3 * 2^14 / 2^15 = 1.5 -> 2 (tie toward +inf); -1.5 -> -1.
        assert_eq!(saturating_rounding_doubling_high_mul_i16(3, 1 << 14), 2);
        assert_eq!(saturating_rounding_doubling_high_mul_i16(-3, 1 << 14), -1);
        // Truncation toward zero: -1.5 -> -1, 1.5 -> 1.
        assert_eq!(saturating_doubling_high_mul_i16(-3, 1 << 14), -1);
        assert_eq!(saturating_doubling_high_mul_i16(3, 1 << 14), 1);
        assert_eq!(rounding_divide_by_pot_i16(5, 1), 3);
        assert_eq!(rounding_divide_by_pot_i16(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot_i16(-6, 2), -2);
        assert_eq!(rounding_divide_by_pot_i16(i16::MAX, 0), i16::MAX);
        // The wrapped-mask behaviour of exponents >= 16.
        assert_eq!(rounding_divide_by_pot_i16(0, 20), 1);
        assert_eq!(rounding_divide_by_pot_i16(-7, 20), -1);
        assert_eq!(saturating_left_shift_i16(300, 7), i16::MAX);
        assert_eq!(saturating_left_shift_i16(-300, 7), i16::MIN);
        assert_eq!(saturating_left_shift_i16(-3, 2), -12);
        assert_eq!(down_scale_i32_to_i16_multiplier(1 << 30), 1 << 14);
        assert_eq!(down_scale_i32_to_i16_multiplier(i32::MAX), i16::MAX);
        // (2^31 - 2^15 - 1 + 2^15) >> 16 = 32767.
        assert_eq!(
            down_scale_i32_to_i16_multiplier(i32::MAX - (1 << 15) - 1),
            i16::MAX
        );
        assert_eq!(down_scale_i32_to_i16_multiplier(0x4000_8000), 0x4001);
    }
}
