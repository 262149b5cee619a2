//! Transpose: any permutation of the four dimensions of a dense tensor (TFLite TRANSPOSE).
//!
//! Output dimension `d` is input dimension `perm[d]`, as in TFLite and NumPy. A tensor of rank
//! below 4 is the same buffer with leading dimensions of 1, and [`perm_from_tflite`] extends
//! its permutation accordingly. The [`Shape`] fields are used positionally here: after a
//! transpose the "c" field simply holds the innermost dimension.

use super::{dims, saturate, shape_of};
use crate::error::{check_len, Error, Result};
use crate::half::f16;
use crate::shape::Shape;

/// Checks that `perm` is a permutation of `0..4`.
fn check_perm(perm: [usize; 4]) -> Result<()> {
    let mut seen = [false; 4];
    for &p in &perm {
        if p >= 4 || seen[p] {
            return Err(Error::BadParam {
                what: "transpose permutation entry (out of range or repeated)",
                value: saturate(p),
            });
        }
        seen[p] = true;
    }
    Ok(())
}

/// Shape of `shape` transposed by `perm`: dimension `d` is `shape`'s dimension `perm[d]`.
///
/// Errors: `perm` not a permutation of `0..4`.
pub fn transpose_shape(shape: Shape, perm: [usize; 4]) -> Result<Shape> {
    check_perm(perm)?;
    let d = dims(shape);
    Ok(shape_of([d[perm[0]], d[perm[1]], d[perm[2]], d[perm[3]]]))
}

/// Extends a TFLite permutation of a rank-`r` tensor (`r` = `perm.len()`, 1 to 4) to the four
/// dimensions of the same buffer seen with `4 - r` leading dimensions of 1.
///
/// Errors: an empty or over-long permutation, an entry out of `0..r` (TFLite's TRANSPOSE has no
/// negative entries), a repeated entry.
pub fn perm_from_tflite(perm: &[i32]) -> Result<[usize; 4]> {
    let rank = perm.len();
    if !(1..=4).contains(&rank) {
        return Err(Error::BadParam {
            what: "transpose rank",
            value: saturate(rank),
        });
    }
    let lead = 4 - rank;
    let mut out = [0, 1, 2, 3];
    for (d, &p) in perm.iter().enumerate() {
        let p = usize::try_from(p)
            .ok()
            .filter(|&p| p < rank)
            .ok_or(Error::BadParam {
                what: "transpose permutation entry",
                value: p as i64,
            })?;
        out[lead + d] = lead + p;
    }
    check_perm(out)?;
    Ok(out)
}

/// Transposes `input` (dense, dimensions `shape` in NHWC order) by `perm` into `output`, and
/// returns the output shape ([`transpose_shape`]).
///
/// * Output element `(a, b, c, d)` is input element `x` with `x[perm[0]] = a`, `x[perm[1]] =
///   b`, `x[perm[2]] = c`, `x[perm[3]] = d`.
/// * Any element type; no scratch; `output` must not alias `input`. Rows that stay contiguous
///   (`perm[3] == 3`) are copied as slices.
///
/// Errors: `perm` not a permutation of `0..4`, an input or output of the wrong length.
pub fn transpose<T: Copy>(
    input: &[T],
    shape: Shape,
    perm: [usize; 4],
    output: &mut [T],
) -> Result<Shape> {
    let out_shape = transpose_shape(shape, perm)?;
    check_len("input", shape.len(), input.len())?;
    check_len("output", out_shape.len(), output.len())?;
    // An empty tensor may have huge dimensions beside its zero one; return before the strides
    // below multiply them.
    if input.is_empty() {
        return Ok(out_shape);
    }
    if perm == [0, 1, 2, 3] {
        output.copy_from_slice(input);
        return Ok(out_shape);
    }
    let d = dims(shape);
    let in_strides = [d[1] * d[2] * d[3], d[2] * d[3], d[3], 1];
    let st = [
        in_strides[perm[0]],
        in_strides[perm[1]],
        in_strides[perm[2]],
        in_strides[perm[3]],
    ];
    let od = dims(out_shape);
    let mut pos = 0;
    for a in 0..od[0] {
        for b in 0..od[1] {
            for c in 0..od[2] {
                let base = a * st[0] + b * st[1] + c * st[2];
                let row = &mut output[pos..pos + od[3]];
                if st[3] == 1 {
                    row.copy_from_slice(&input[base..base + od[3]]);
                } else {
                    for (e, o) in row.iter_mut().enumerate() {
                        *o = input[base + e * st[3]];
                    }
                }
                pos += od[3];
            }
        }
    }
    Ok(out_shape)
}

/// [`transpose`] for int8 tensors (quantization is unchanged, as TFLite requires).
pub fn transpose_s8(
    input: &[i8],
    shape: Shape,
    perm: [usize; 4],
    output: &mut [i8],
) -> Result<Shape> {
    transpose(input, shape, perm, output)
}

/// [`transpose`] for `f16` tensors.
pub fn transpose_f16(
    input: &[f16],
    shape: Shape,
    perm: [usize; 4],
    output: &mut [f16],
) -> Result<Shape> {
    transpose(input, shape, perm, output)
}

/// [`transpose`] for `f32` tensors.
pub fn transpose_f32(
    input: &[f32],
    shape: Shape,
    perm: [usize; 4],
    output: &mut [f32],
) -> Result<Shape> {
    transpose(input, shape, perm, output)
}
