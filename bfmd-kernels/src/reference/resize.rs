//! Bilinear and nearest-neighbour resizing in `f32` (TFLite `RESIZE_BILINEAR`,
//! `RESIZE_NEAREST_NEIGHBOR`), NHWC, every batch and channel alike.
//!
//! Coordinates follow LiteRT's reference kernels exactly
//! (`tensorflow/lite/kernels/internal/reference/resize_bilinear.h`, `ResizeBilinear` with
//! `ComputeInterpolationValues`, and `resize_nearest_neighbor.h`): the scale is
//! `in / out`, or `(in - 1) / (out - 1)` with `align_corners` (and `out > 1`); with
//! `half_pixel_centers` a coordinate is `(o + 0.5) * scale - 0.5`, else `o * scale`. Bilinear
//! takes the floor (clamped at 0) and the ceiling (clamped at `in - 1`) and weighs the four
//! neighbours in LiteRT's order of operations, so results are bit-identical to it.

use crate::error::{check_len, Error, Result};
use crate::shape::Shape;

/// The options of a resize op.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResizeParams {
    /// `align_corners`: the corner pixels of input and output are aligned.
    pub align_corners: bool,
    /// `half_pixel_centers`: pixels are sampled at their centres.
    pub half_pixel_centers: bool,
}

impl ResizeParams {
    /// `Err` for options TFLite refuses together (`align_corners` with
    /// `half_pixel_centers`); the graph's builder and parser check a model with it.
    pub fn check(&self) -> Result<()> {
        if self.align_corners && self.half_pixel_centers {
            return Err(Error::Unsupported(
                "align_corners and half_pixel_centers cannot both be set",
            ));
        }
        Ok(())
    }

    /// The input-to-output scale of one axis.
    fn scale(&self, input: usize, output: usize) -> f32 {
        if self.align_corners && output > 1 {
            (input - 1) as f32 / (output - 1) as f32
        } else {
            input as f32 / output as f32
        }
    }
}

/// Shapes and lengths of a resize: the output keeps batch and channels.
fn check(x_shape: Shape, x_len: usize, y_shape: Shape, y_len: usize) -> Result<()> {
    if x_shape.n != y_shape.n {
        return Err(Error::DimMismatch {
            what: "resize output batch",
            expected: x_shape.n,
            got: y_shape.n,
        });
    }
    if x_shape.c != y_shape.c {
        return Err(Error::DimMismatch {
            what: "resize output channels",
            expected: x_shape.c,
            got: y_shape.c,
        });
    }
    check_len("resize input", x_shape.len(), x_len)?;
    check_len("resize output", y_shape.len(), y_len)
}

/// `ComputeInterpolationValues`: the source coordinate of output position `o` and its lower and
/// upper neighbours.
fn interpolation(o: usize, scale: f32, half_pixel: bool, input: usize) -> (f32, usize, usize) {
    let v = if half_pixel {
        (o as f32 + 0.5) * scale - 0.5
    } else {
        o as f32 * scale
    };
    let lower = (libm::floorf(v) as i64).max(0) as usize;
    let upper = (libm::ceilf(v) as i64).min(input as i64 - 1).max(0) as usize;
    (v, lower.min(input - 1), upper)
}

/// Bilinear resize of `x` (`x_shape`) to `y` (`y_shape`: same batch and channels).
pub fn resize_bilinear_f32(
    p: &ResizeParams,
    x_shape: Shape,
    x: &[f32],
    y_shape: Shape,
    y: &mut [f32],
) -> Result<()> {
    check(x_shape, x.len(), y_shape, y.len())?;
    let (ih, iw, c) = (x_shape.h, x_shape.w, x_shape.c);
    let (sh, sw) = (p.scale(ih, y_shape.h), p.scale(iw, y_shape.w));
    let at = |b: usize, yy: usize, xx: usize, ch: usize| x[((b * ih + yy) * iw + xx) * c + ch];
    let mut o = 0;
    for b in 0..y_shape.n {
        for oy in 0..y_shape.h {
            let (input_y, y0, y1) = interpolation(oy, sh, p.half_pixel_centers, ih);
            let dy = input_y - y0 as f32;
            for ox in 0..y_shape.w {
                let (input_x, x0, x1) = interpolation(ox, sw, p.half_pixel_centers, iw);
                let dx = input_x - x0 as f32;
                for ch in 0..c {
                    // LiteRT's expression, term by term and in its order.
                    y[o] = at(b, y0, x0, ch) * (1.0 - dy) * (1.0 - dx)
                        + at(b, y1, x0, ch) * dy * (1.0 - dx)
                        + at(b, y0, x1, ch) * (1.0 - dy) * dx
                        + at(b, y1, x1, ch) * dy * dx;
                    o += 1;
                }
            }
        }
    }
    Ok(())
}

/// Nearest-neighbour resize of `x` to `y` (LiteRT's `ResizeNearestNeighbor`: the source index is
/// `floor(o * scale)`, or `round(o * scale)` with `align_corners`, from `o + 0.5` with
/// `half_pixel_centers`, clamped to the input), for any element type.
pub fn resize_nearest<T: Copy>(
    p: &ResizeParams,
    x_shape: Shape,
    x: &[T],
    y_shape: Shape,
    y: &mut [T],
) -> Result<()> {
    check(x_shape, x.len(), y_shape, y.len())?;
    let (ih, iw, c) = (x_shape.h, x_shape.w, x_shape.c);
    let (sh, sw) = (p.scale(ih, y_shape.h), p.scale(iw, y_shape.w));
    let source = |o: usize, scale: f32, input: usize| {
        let offset = if p.half_pixel_centers { 0.5 } else { 0.0 };
        let v = (o as f32 + offset) * scale;
        let i = if p.align_corners {
            libm::roundf(v)
        } else {
            libm::floorf(v)
        } as i64;
        i.clamp(0, input as i64 - 1) as usize
    };
    let mut o = 0;
    for b in 0..y_shape.n {
        for oy in 0..y_shape.h {
            let iy = source(oy, sh, ih);
            for ox in 0..y_shape.w {
                let ix = source(ox, sw, iw);
                let s = ((b * ih + iy) * iw + ix) * c;
                y[o..o + c].copy_from_slice(&x[s..s + c]);
                o += c;
            }
        }
    }
    Ok(())
}
