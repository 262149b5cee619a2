//! Constant padding of an NHWC tensor (TFLite PAD and PADV2).
//!
//! Every one of the four dimensions gets its own number of elements before and after, all set
//! to one constant. For int8, TFLM's PAD fills with the output zero point (a real zero) and
//! PADV2 with its quantized `constant_values` (`tensorflow/lite/micro/kernels/pad.cc`; the
//! input, output and constant share one quantization), so [`pad_s8`] takes the int8 value to
//! write and the caller passes whichever of the two applies.

use super::{dims, saturate, shape_of};
use crate::error::{check_len, Error, Result};
use crate::half::f16;
use crate::shape::Shape;

/// Elements added before and after each dimension, in NHWC order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PadAmounts {
    /// Elements added before dimension `[n, h, w, c]`.
    pub before: [usize; 4],
    /// Elements added after dimension `[n, h, w, c]`.
    pub after: [usize; 4],
}

impl PadAmounts {
    /// Spatial padding only: rows above and below, columns left and right.
    pub const fn spatial(top: usize, bottom: usize, left: usize, right: usize) -> Self {
        PadAmounts {
            before: [0, top, left, 0],
            after: [0, bottom, right, 0],
        }
    }

    /// From a TFLite `paddings` tensor (`[rank, 2]` int32, `rank` 1 to 4, one `[before,
    /// after]` row per dimension), mapped onto NHWC with leading dimensions of 1.
    ///
    /// Errors: an empty or over-long table, a negative amount.
    pub fn from_tflite(paddings: &[[i32; 2]]) -> Result<Self> {
        let rank = paddings.len();
        if !(1..=4).contains(&rank) {
            return Err(Error::BadParam {
                what: "pad rank",
                value: saturate(rank),
            });
        }
        let mut p = PadAmounts::default();
        for (d, row) in paddings.iter().enumerate() {
            for (side, &v) in row.iter().enumerate() {
                let v = usize::try_from(v).map_err(|_| Error::BadParam {
                    what: "padding amount (must not be negative)",
                    value: v as i64,
                })?;
                if side == 0 {
                    p.before[d + 4 - rank] = v;
                } else {
                    p.after[d + 4 - rank] = v;
                }
            }
        }
        Ok(p)
    }

    /// Shape of `input` padded by these amounts.
    ///
    /// Errors: a dimension that overflows `usize`.
    pub fn output_shape(&self, input: Shape) -> Result<Shape> {
        let mut d = dims(input);
        for (i, x) in d.iter_mut().enumerate() {
            *x = x
                .checked_add(self.before[i])
                .and_then(|v| v.checked_add(self.after[i]))
                .ok_or(Error::BadParam {
                    what: "padded dimension",
                    value: i64::MAX,
                })?;
        }
        Ok(shape_of(d))
    }
}

/// Pads `input` (NHWC `shape`) with `value` by `pads` into `output`, and returns the output
/// shape (`shape` plus the amounts on each dimension).
///
/// * Any element type; no scratch; `output` must not alias `input`.
/// * int8: see [`pad_s8`] for the value to pass.
///
/// Errors: an input or output of the wrong length, a padded dimension overflowing `usize`.
pub fn pad<T: Copy>(
    input: &[T],
    shape: Shape,
    pads: &PadAmounts,
    value: T,
    output: &mut [T],
) -> Result<Shape> {
    check_len("input", shape.len(), input.len())?;
    let out_shape = pads.output_shape(shape)?;
    check_len("output", out_shape.len(), output.len())?;
    let [b0, b1, b2, b3] = pads.before;
    let c = shape.c;
    let oc = out_shape.c;
    if oc == 0 {
        return Ok(out_shape);
    }
    // Walk the output one channel row (one (n, y, x) position) at a time: a row outside the
    // input in n, h or w is all padding; a row inside is padding, the input's row, padding.
    for (r, row) in output.chunks_exact_mut(oc).enumerate() {
        let x = r % out_shape.w;
        let y = (r / out_shape.w) % out_shape.h;
        let n = r / (out_shape.w * out_shape.h);
        let inside = (b0..b0 + shape.n).contains(&n)
            && (b1..b1 + shape.h).contains(&y)
            && (b2..b2 + shape.w).contains(&x);
        if inside {
            let src = shape.index(n - b0, y - b1, x - b2, 0);
            row[..b3].fill(value);
            row[b3..b3 + c].copy_from_slice(&input[src..src + c]);
            row[b3 + c..].fill(value);
        } else {
            row.fill(value);
        }
    }
    Ok(out_shape)
}

/// [`pad`] for int8 tensors: `pad_value` is the output zero point for TFLite PAD, or the
/// quantized constant for PADV2 (as TFLM's `PadEval` chooses).
pub fn pad_s8(
    input: &[i8],
    shape: Shape,
    pads: &PadAmounts,
    pad_value: i8,
    output: &mut [i8],
) -> Result<Shape> {
    pad(input, shape, pads, pad_value, output)
}

/// [`pad`] for `f16` tensors.
pub fn pad_f16(
    input: &[f16],
    shape: Shape,
    pads: &PadAmounts,
    value: f16,
    output: &mut [f16],
) -> Result<Shape> {
    pad(input, shape, pads, value, output)
}

/// [`pad`] for `f32` tensors.
pub fn pad_f32(
    input: &[f32],
    shape: Shape,
    pads: &PadAmounts,
    value: f32,
    output: &mut [f32],
) -> Result<Shape> {
    pad(input, shape, pads, value, output)
}
