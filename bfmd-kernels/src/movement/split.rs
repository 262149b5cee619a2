//! Split of an NHWC tensor along one axis into consecutive parts (TFLite SPLIT and SPLIT_V).
//!
//! The inverse of [`super::concat()`]: output `i` receives the `sizes[i]` slices of `axis` that
//! follow those of outputs `0..i`. [`split`] cuts into equal parts (SPLIT, `num_splits` outputs),
//! [`split_sizes`] into explicit sizes (SPLIT_V; the importer resolves SPLIT_V's one `-1` size to
//! the remainder before calling). Along channels this is ShuffleNetV2's channel split.
//!
//! The values are copied unchanged, so for int8 the outputs carry the input's quantization, as
//! TFLite requires of both ops.

use super::{dims, outer_inner, saturate, Axis};
use crate::error::{check_dim, check_len, Error, Result};
use crate::half::f16;
use crate::shape::Shape;

/// The one loop of every split: output `i` gets `size(i)` slices of `axis`.
fn split_with<T: Copy>(
    axis: Axis,
    input: &[T],
    shape: Shape,
    size: impl Fn(usize) -> usize,
    outputs: &mut [&mut [T]],
) -> Result<()> {
    check_len("input", shape.len(), input.len())?;
    let (outer, inner) = outer_inner(shape, axis);
    let mut total = 0usize;
    for (i, out) in outputs.iter().enumerate() {
        let s = size(i);
        check_len(
            "split output",
            outer.saturating_mul(s).saturating_mul(inner),
            out.len(),
        )?;
        total = total.saturating_add(s);
    }
    check_dim("sum of split sizes", dims(shape)[axis.index()], total)?;
    let mut pos = 0;
    for k in 0..outer {
        for (i, out) in outputs.iter_mut().enumerate() {
            let chunk = size(i) * inner;
            out[k * chunk..(k + 1) * chunk].copy_from_slice(&input[pos..pos + chunk]);
            pos += chunk;
        }
    }
    Ok(())
}

/// Splits `input` (NHWC `shape`) along `axis` into `outputs.len()` equal parts (TFLite SPLIT).
///
/// * Output `i` has `shape` with `axis` divided by `outputs.len()`, and covers slices
///   `i * part .. (i + 1) * part` of `axis`.
/// * Any element type; no scratch.
///
/// Errors: no output, a part count that does not divide the axis, an input or output of the
/// wrong length.
pub fn split<T: Copy>(
    axis: Axis,
    input: &[T],
    shape: Shape,
    outputs: &mut [&mut [T]],
) -> Result<()> {
    let parts = outputs.len();
    let d = dims(shape)[axis.index()];
    if parts == 0 || d % parts != 0 {
        return Err(Error::BadParam {
            what: "split count (must divide the split dimension)",
            value: saturate(parts),
        });
    }
    split_with(axis, input, shape, |_| d / parts, outputs)
}

/// Splits `input` (NHWC `shape`) along `axis` into parts of `sizes[i]` slices (TFLite
/// SPLIT_V); the sizes must add up to the axis.
///
/// * Output `i` has `shape` with `axis` replaced by `sizes[i]` (zero is allowed: an empty
///   output).
/// * Any element type; no scratch.
///
/// Errors: no output, `sizes.len() != outputs.len()`, sizes not adding up to the axis, an input
/// or output of the wrong length.
pub fn split_sizes<T: Copy>(
    axis: Axis,
    input: &[T],
    shape: Shape,
    sizes: &[usize],
    outputs: &mut [&mut [T]],
) -> Result<()> {
    if outputs.is_empty() {
        return Err(Error::BadParam {
            what: "split count",
            value: 0,
        });
    }
    check_len("split sizes", outputs.len(), sizes.len())?;
    split_with(axis, input, shape, |i| sizes[i], outputs)
}

/// [`split`] for int8 tensors.
pub fn split_s8(axis: Axis, input: &[i8], shape: Shape, outputs: &mut [&mut [i8]]) -> Result<()> {
    split(axis, input, shape, outputs)
}

/// [`split`] for `f16` tensors.
pub fn split_f16(
    axis: Axis,
    input: &[f16],
    shape: Shape,
    outputs: &mut [&mut [f16]],
) -> Result<()> {
    split(axis, input, shape, outputs)
}

/// [`split`] for `f32` tensors.
pub fn split_f32(
    axis: Axis,
    input: &[f32],
    shape: Shape,
    outputs: &mut [&mut [f32]],
) -> Result<()> {
    split(axis, input, shape, outputs)
}

/// [`split_sizes`] for int8 tensors.
pub fn split_sizes_s8(
    axis: Axis,
    input: &[i8],
    shape: Shape,
    sizes: &[usize],
    outputs: &mut [&mut [i8]],
) -> Result<()> {
    split_sizes(axis, input, shape, sizes, outputs)
}

/// [`split_sizes`] for `f16` tensors.
pub fn split_sizes_f16(
    axis: Axis,
    input: &[f16],
    shape: Shape,
    sizes: &[usize],
    outputs: &mut [&mut [f16]],
) -> Result<()> {
    split_sizes(axis, input, shape, sizes, outputs)
}

/// [`split_sizes`] for `f32` tensors.
pub fn split_sizes_f32(
    axis: Axis,
    input: &[f32],
    shape: Shape,
    sizes: &[usize],
    outputs: &mut [&mut [f32]],
) -> Result<()> {
    split_sizes(axis, input, shape, sizes, outputs)
}
