//! Concatenation of NHWC tensors along one axis (TFLite CONCATENATION).
//!
//! Inputs agree on every dimension but `axis`; the output's `axis` dimension is the sum of the
//! inputs'. Along channels (`Axis::C`) this is the Inception / DenseNet / ShuffleNet channel
//! concatenation: every output pixel is the inputs' channel vectors side by side.
//!
//! # int8 with differing quantization
//!
//! TFLM's CONCATENATION (`tensorflow/lite/micro/kernels/concatenation.cc`) records every input's
//! scale and zero point in `Prepare` but its int8 `Eval` runs the plain
//! `reference_ops::Concatenation`, a byte copy: it never rescales. LiteRT's kernel
//! (`tensorflow/lite/kernels/concatenation.cc`) instead refuses int8 inputs whose scale or zero
//! point differ from the output's, and the TFLite converter always gives every CONCATENATION
//! input the output's quantization. So for imported models [`concat_s8`] (a copy) is what TFLM
//! computes. [`concat_s8_requant`] serves models whose inputs really do differ (native models
//! quantized by bfmd): it follows `reference_ops::ConcatenationWithScaling`
//! (`tensorflow/lite/kernels/internal/reference/concatenation.h`, written there for uint8),
//! copying inputs whose quantization equals the output's and rescaling the others in `f32`.

use super::{dims, outer_inner, shape_of, Axis};
use crate::error::{check_dim, check_len, Error, Result};
use crate::half::f16;
use crate::shape::Shape;

/// Checks the inputs of a concatenation along `axis` and returns the output shape.
pub(crate) fn concat_shape<T>(axis: Axis, inputs: &[(&[T], Shape)]) -> Result<Shape> {
    let Some(&(_, first)) = inputs.first() else {
        return Err(Error::BadParam {
            what: "concatenation input count",
            value: 0,
        });
    };
    let a = axis.index();
    let d0 = dims(first);
    let mut total = 0usize;
    for &(data, shape) in inputs {
        check_len("concatenation input", shape.len(), data.len())?;
        let d = dims(shape);
        for j in 0..4 {
            if j != a {
                check_dim("concatenation input dimension off the axis", d0[j], d[j])?;
            }
        }
        total = total.checked_add(d[a]).ok_or(Error::BadParam {
            what: "concatenated dimension",
            value: i64::MAX,
        })?;
    }
    let mut out = d0;
    out[a] = total;
    Ok(shape_of(out))
}

/// The one loop of every concatenation: for each slab of the dimensions before `axis`, hand
/// each input's contiguous chunk and the output range it lands in to `copy(input_index, src,
/// dst)`.
fn concat_with<T, U>(
    axis: Axis,
    inputs: &[(&[T], Shape)],
    output: &mut [U],
    mut copy: impl FnMut(usize, &[T], &mut [U]),
) -> Result<Shape> {
    let out_shape = concat_shape(axis, inputs)?;
    check_len("output", out_shape.len(), output.len())?;
    let (outer, inner) = outer_inner(out_shape, axis);
    let a = axis.index();
    let mut pos = 0;
    for k in 0..outer {
        for (t, &(data, shape)) in inputs.iter().enumerate() {
            let chunk = dims(shape)[a] * inner;
            copy(
                t,
                &data[k * chunk..(k + 1) * chunk],
                &mut output[pos..pos + chunk],
            );
            pos += chunk;
        }
    }
    Ok(out_shape)
}

/// Concatenates `inputs` (each a buffer and its NHWC shape) along `axis` into `output`, and
/// returns the output shape.
///
/// * Layout: NHWC, dense. The inputs agree on every dimension but `axis`.
/// * `output` must hold exactly the sum of the inputs' lengths.
/// * Any element type; nothing is interpreted, so for int8 this is TFLM's CONCATENATION
///   (inputs quantized like the output).
/// * No scratch. `output` must not alias an input (the borrow checker enforces it).
///
/// Errors: no input, an input whose length does not match its shape, inputs disagreeing off
/// the axis, an output of the wrong length.
pub fn concat<T: Copy>(axis: Axis, inputs: &[(&[T], Shape)], output: &mut [T]) -> Result<Shape> {
    concat_with(axis, inputs, output, |_, src, dst| dst.copy_from_slice(src))
}

/// [`concat()`] for int8 tensors sharing one quantization (what TFLM computes for every int8
/// CONCATENATION, see the module docs).
pub fn concat_s8(axis: Axis, inputs: &[(&[i8], Shape)], output: &mut [i8]) -> Result<Shape> {
    concat(axis, inputs, output)
}

/// [`concat()`] for `f16` tensors.
pub fn concat_f16(axis: Axis, inputs: &[(&[f16], Shape)], output: &mut [f16]) -> Result<Shape> {
    concat(axis, inputs, output)
}

/// [`concat()`] for `f32` tensors.
pub fn concat_f32(axis: Axis, inputs: &[(&[f32], Shape)], output: &mut [f32]) -> Result<Shape> {
    concat(axis, inputs, output)
}

/// How one int8 input of [`concat_s8_requant`] is brought to the output's quantization.
///
/// Built by [`ConcatRequantS8::from_scales`] with the float arithmetic of
/// `reference_ops::ConcatenationWithScaling`; the rescale itself stays in `f32` at run time
/// because that is the rule being reproduced (TFLite's own comment calls it "not fully
/// quantized").
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConcatRequantS8 {
    /// The input's scale and zero point equal the output's: copy the bytes.
    pub copy: bool,
    /// `input_scale * (1 / output_scale)`, in `f32`.
    pub scale: f32,
    /// `-input_zero_point * scale`, in `f32`.
    pub bias: f32,
    /// Output zero point, added after rounding.
    pub output_zero_point: i32,
}

impl ConcatRequantS8 {
    /// The rescale from an input quantized `(input_scale, input_zero_point)` to the output's
    /// `(output_scale, output_zero_point)`.
    ///
    /// Errors: an output scale that is not finite and positive.
    pub fn from_scales(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
    ) -> Result<Self> {
        if !(output_scale.is_finite() && output_scale > 0.0) {
            return Err(Error::BadParam {
                what: "concatenation output scale (must be finite and positive)",
                value: output_scale as i64,
            });
        }
        // ConcatenationWithScaling: `inverse_output_scale = 1.f / output_scale`, then
        // `scale = input_scale * inverse_output_scale` and `bias = -input_zeropoint * scale`,
        // every step rounded to f32 as the C++ does (negating after the exact int-to-float
        // conversion gives the same float and cannot overflow).
        let inverse_output_scale = 1.0f32 / output_scale;
        let scale = input_scale * inverse_output_scale;
        let bias = -(input_zero_point as f32) * scale;
        Ok(ConcatRequantS8 {
            copy: input_zero_point == output_zero_point && input_scale == output_scale,
            scale,
            bias,
            output_zero_point,
        })
    }

    /// Rescales one value: `clamp(round(q * scale + bias) + output_zero_point)`, rounding half
    /// away from zero (`TfLiteRound`).
    #[inline]
    pub fn apply(&self, q: i8) -> i8 {
        if self.copy {
            return q;
        }
        let r = libm::roundf(q as f32 * self.scale + self.bias) as i32;
        r.saturating_add(self.output_zero_point).clamp(-128, 127) as i8
    }
}

/// Concatenates int8 `inputs` whose quantizations differ, rescaling each input with its
/// `requant[i]` (from [`ConcatRequantS8::from_scales`]); returns the output shape.
///
/// Semantics of `reference_ops::ConcatenationWithScaling` with the int8 range: inputs with the
/// output's quantization are copied, the others rescaled in `f32` and clamped to `-128..=127`.
/// This is bfmd-defined for int8: TFLM itself copies int8 bytes without rescaling (see the
/// module docs), so use [`concat_s8`] for imported TFLite models.
///
/// Errors: those of [`concat()`], and `requant.len() != inputs.len()`.
pub fn concat_s8_requant(
    axis: Axis,
    inputs: &[(&[i8], Shape)],
    requant: &[ConcatRequantS8],
    output: &mut [i8],
) -> Result<Shape> {
    check_len(
        "concatenation requantization parameters",
        inputs.len(),
        requant.len(),
    )?;
    concat_with(axis, inputs, output, |t, src, dst| {
        let rq = requant[t];
        if rq.copy {
            dst.copy_from_slice(src);
        } else {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = rq.apply(s);
            }
        }
    })
}
