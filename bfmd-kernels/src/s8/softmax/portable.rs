//! Portable inner loop of the int8 softmax (TFLite's `reference_ops::Softmax<int8_t, int8_t>`).
//! No argument checks: `depth` must be non-zero (a trailing partial row is ignored).

use super::SoftmaxS8Params;
use crate::fixedpoint::{exp_on_negative_values, get_reciprocal, FixedPoint};
use crate::quant::{multiply_by_quantized_multiplier_greater_than_one, rounding_divide_by_pot};

/// `exp(beta * input_scale * diff)` in Q0.31 for `diff <= 0` (the scaled difference is Q5.26).
#[inline(always)]
fn exp_of_diff(p: &SoftmaxS8Params, input_diff: i32) -> FixedPoint<0> {
    let input_diff_rescaled = multiply_by_quantized_multiplier_greater_than_one(
        input_diff,
        p.input_multiplier,
        p.input_left_shift,
    );
    exp_on_negative_values(FixedPoint::<5>::from_raw(input_diff_rescaled))
}

/// `exp_of_diff` for the 256 possible differences: entry `d` holds the Q0.31 raw value for
/// `x - max = -d` (entries below `diff_min` are never read). The exponential depends only on
/// the difference, so a table computed once per call gives the same bits as the direct loop.
pub fn exp_table(p: &SoftmaxS8Params) -> [i32; 256] {
    let mut table = [0i32; 256];
    for (d, t) in table.iter_mut().enumerate() {
        if -(d as i32) >= p.diff_min {
            *t = exp_of_diff(p, -(d as i32)).raw();
        }
    }
    table
}

/// Softmax of every row of `data`, in place. Each row is read in full (maximum, then sum of
/// exponentials) before any element of it is written, and each element is written only after it
/// has been read for the last time, so overwriting the input is safe.
pub fn softmax_inplace(p: &SoftmaxS8Params, depth: usize, data: &mut [i8]) {
    softmax_rows(p, depth, data, |diff| exp_of_diff(p, diff));
}

/// [`softmax_inplace`] with the exponentials looked up in `table` (from [`exp_table`] for the
/// same params): identical results, one table instead of two exponentials per element.
pub fn softmax_inplace_with_table(
    p: &SoftmaxS8Params,
    depth: usize,
    data: &mut [i8],
    table: &[i32; 256],
) {
    softmax_rows(p, depth, data, |diff| {
        FixedPoint::from_raw(table[(-diff) as usize])
    });
}

/// The row loop of TFLite's quantized softmax; `exp_of(diff)` gives `exp` of a scaled
/// difference `diff` in `diff_min..=0`.
#[inline(always)]
fn softmax_rows(
    p: &SoftmaxS8Params,
    depth: usize,
    data: &mut [i8],
    exp_of: impl Fn(i32) -> FixedPoint<0>,
) {
    for row in data.chunks_exact_mut(depth) {
        let max_in_row = row.iter().copied().fold(i8::MIN, i8::max) as i32;

        let mut sum_of_exps = FixedPoint::<12>::ZERO;
        for &x in row.iter() {
            let input_diff = x as i32 - max_in_row;
            if input_diff >= p.diff_min {
                let term = exp_of(input_diff).rescale::<12>();
                // TFLite adds with int32 overflow (undefined) past 4096; saturate instead.
                sum_of_exps = FixedPoint::from_raw(sum_of_exps.raw().saturating_add(term.raw()));
            }
        }

        let (shifted_scale, num_bits_over_unit) = get_reciprocal(sum_of_exps.raw(), 12);
        let shifted_scale = FixedPoint::<0>::from_raw(shifted_scale);
        // 31 - 8: from Q0.31 to the 256 steps of the int8 output. The sum includes exp(0) = 1,
        // so the exponent is at least 23; TFLM aborts above 31 (see `softmax_s8`).
        let exponent = num_bits_over_unit + 31 - 8;

        for v in row.iter_mut() {
            let input_diff = *v as i32 - max_in_row;
            *v = if input_diff >= p.diff_min && exponent <= 31 {
                let exp_in_0 = exp_of(input_diff);
                let product: FixedPoint<0> = shifted_scale.mul(exp_in_0);
                let unsat_output = rounding_divide_by_pot(product.raw(), exponent.max(0));
                (unsat_output - 128).clamp(i8::MIN as i32, i8::MAX as i32) as i8
            } else {
                // Below diff_min TFLite writes the minimum directly; with exponent > 31 the
                // rounding shift of a Q0.31 value gives 0, i.e. the minimum too.
                i8::MIN
            };
        }
    }
}
