//! Softmax over the last axis in `f32` (TFLite SOFTMAX, `reference_ops::Softmax` for float).
//!
//! The tensor is a batch of rows of `depth` elements (for NHWC, `depth` is the channel count and
//! there are `n * h * w` rows); each row becomes `exp(beta * (x - max)) / sum(exp(beta * (x -
//! max)))`. Subtracting the row maximum keeps `exp` in range for any input.

use crate::error::{check_len, Error, Result};

/// Checks that `len` elements form whole rows of `depth` elements.
pub(crate) fn check_rows(depth: usize, len: usize) -> Result<()> {
    if depth == 0 {
        return Err(Error::BadParam {
            what: "softmax depth (row length)",
            value: 0,
        });
    }
    check_len(
        "input (a whole number of softmax rows)",
        len - len % depth,
        len,
    )
}

/// Softmax of every row of `data`, in place, for any element type that converts to and from
/// `f32`; arithmetic is `f32` throughout. Shared by the `f32` and `f16` kernels.
///
/// Three passes per row: the maximum, the sum of exponentials, then the quotients. The
/// exponentials are recomputed in the last pass rather than stored, so that a narrow element
/// type (f16) never rounds an intermediate value.
pub(crate) fn softmax_rows_inplace<T: Copy>(
    beta: f32,
    depth: usize,
    data: &mut [T],
    load: impl Fn(T) -> f32,
    store: impl Fn(f32) -> T,
) -> Result<()> {
    check_rows(depth, data.len())?;
    for row in data.chunks_exact_mut(depth) {
        let max = row
            .iter()
            .map(|&v| load(v))
            .fold(f32::MIN, |m, v| if v > m { v } else { m });
        let sum: f32 = row
            .iter()
            .map(|&v| libm::expf((load(v) - max) * beta))
            .sum();
        for v in row.iter_mut() {
            *v = store(libm::expf((load(*v) - max) * beta) / sum);
        }
    }
    Ok(())
}

/// Softmax along the last axis: `output` row `r` is the softmax of `input` row `r`, rows of
/// `depth` elements.
///
/// `beta` scales the logits (TFLite's `beta`, 1 for a plain softmax). Errors: `depth == 0`,
/// `input.len()` not a multiple of `depth`, `output.len() != input.len()`.
pub fn softmax_f32(beta: f32, depth: usize, input: &[f32], output: &mut [f32]) -> Result<()> {
    check_rows(depth, input.len())?;
    check_len("output", input.len(), output.len())?;
    output.copy_from_slice(input);
    softmax_f32_inplace(beta, depth, output)
}

/// [`softmax_f32`] overwriting its input.
pub fn softmax_f32_inplace(beta: f32, depth: usize, data: &mut [f32]) -> Result<()> {
    softmax_rows_inplace(beta, depth, data, |v| v, |v| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_row() {
        let mut out = [0.0f32; 3];
        softmax_f32(1.0, 3, &[1.0, 2.0, 3.0], &mut out).unwrap();
        let e = [libm::exp(-2.0), libm::exp(-1.0), 1.0];
        let s: f64 = e.iter().sum();
        for (o, e) in out.iter().zip(e) {
            assert!((*o as f64 - e / s).abs() < 1e-7);
        }
    }

    #[test]
    fn bad_shapes() {
        let mut out = [0.0f32; 4];
        assert!(softmax_f32(1.0, 0, &[0.0; 4], &mut out).is_err());
        assert!(softmax_f32(1.0, 3, &[0.0; 4], &mut out).is_err());
        assert!(softmax_f32(1.0, 2, &[0.0; 4], &mut out[..2]).is_err());
    }
}
