//! Pooling in `f32`: max pool, average pool (TFLite's in-bounds divisor or PyTorch's
//! `count_include_pad`) and MEAN over height and width (global average pool).
//!
//! This module also holds the window arithmetic every pooling path shares ([`pool_window`],
//! [`check_pool_geometry`]), so the int8 and f16 kernels walk exactly the same taps.
//!
//! Layout: NHWC, dense. Pooling keeps the channel count: `output.c == input.c`.

use crate::error::{check_dim, check_len, Error, Result};
use crate::quant::{activation_range_f32, FusedActivation};
use crate::shape::{ConvGeometry, Padding, PoolGeometry, Shape};

/// Largest window area (and MEAN reduction size) the pooling kernels accept.
///
/// The int8 kernels sum up to this many values of magnitude at most 255 in an `i32`
/// (`255 * 2^23 < 2^31`), so no sum can overflow; TFLM would silently wrap instead.
pub const MAX_POOL_AREA: usize = 1 << 23;

/// Geometry of a pooling op: a `kernel.0 x kernel.1` window moved by `stride` over `input`.
///
/// `Padding::Same` splits the padding like TFLite (the odd row or column at the bottom/right);
/// `Padding::Explicit` gives PyTorch's symmetric `padding=p` as `{p, p, p, p}`. The output keeps
/// the input's channel count. A global average pool as an AVERAGE_POOL_2D is
/// `pool_geometry(input, (input.h, input.w), (1, 1), Padding::Valid)`.
pub fn pool_geometry(
    input: Shape,
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
) -> Result<PoolGeometry> {
    let g = ConvGeometry::new(input, input.c, kernel, stride, (1, 1), padding, 1)?;
    check_pool_geometry(&g)?;
    Ok(g)
}

/// Checks a pooling geometry (for instance one read from a model file).
///
/// Beyond [`ConvGeometry::validate`]: output channels equal input channels, no dilation, a
/// window area of at most [`MAX_POOL_AREA`], and every output window overlaps the input
/// (explicit padding wider than the window would leave windows with no input tap, for which
/// TFLM's average pool fails at run time; bfmd rejects them up front).
pub fn check_pool_geometry(g: &PoolGeometry) -> Result<()> {
    g.validate()?;
    check_dim("pooling output channels", g.input.c, g.output.c)?;
    if g.dilation_h != 1 || g.dilation_w != 1 {
        return Err(Error::Unsupported("dilated pooling window"));
    }
    let area = g.kernel_h.saturating_mul(g.kernel_w);
    if area > MAX_POOL_AREA {
        return Err(Error::BadParam {
            what: "pooling window area",
            value: area as i64,
        });
    }
    // Windows move monotonically, so the first and the last along each axis are the only
    // ones that can miss the input entirely.
    let misses = |pad_before: usize, kernel: usize, stride: usize, out: usize, len: usize| {
        out > 0 && (kernel <= pad_before || (out - 1) * stride >= len + pad_before)
    };
    if misses(g.pad_top, g.kernel_h, g.stride_h, g.output.h, g.input.h)
        || misses(g.pad_left, g.kernel_w, g.stride_w, g.output.w, g.input.w)
    {
        return Err(Error::BadParam {
            what: "pooling window lying entirely in the padding",
            value: g.pad_top.max(g.pad_left) as i64,
        });
    }
    Ok(())
}

/// The input taps of one output position: rows `y_start..y_end`, columns `x_start..x_end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolWindow {
    /// First input row inside the window.
    pub y_start: usize,
    /// One past the last input row inside the window.
    pub y_end: usize,
    /// First input column inside the window.
    pub x_start: usize,
    /// One past the last input column inside the window.
    pub x_end: usize,
}

impl PoolWindow {
    /// Number of taps that fall inside the input (TFLite's `filter_count`).
    pub fn in_bounds(&self) -> usize {
        (self.y_end - self.y_start) * (self.x_end - self.x_start)
    }
}

/// The window of output position `(out_y, out_x)`, clipped to the input exactly as TFLite's
/// reference pooling clips it (`reference/integer_ops/pooling.h`: `filter_x_start` ...).
///
/// `g` must have passed [`check_pool_geometry`], which guarantees a non-empty window.
#[inline]
pub fn pool_window(g: &PoolGeometry, out_y: usize, out_x: usize) -> PoolWindow {
    let clip = |o: usize, stride: usize, pad: usize, kernel: usize, len: usize| {
        let origin = o * stride;
        // Window rows in padded coordinates: origin..origin + kernel; the input starts at pad.
        let start = origin.max(pad) - pad;
        let end = (origin + kernel).min(len + pad).saturating_sub(pad);
        (start, end.max(start))
    };
    let (y_start, y_end) = clip(out_y, g.stride_h, g.pad_top, g.kernel_h, g.input.h);
    let (x_start, x_end) = clip(out_x, g.stride_w, g.pad_left, g.kernel_w, g.input.w);
    PoolWindow {
        y_start,
        y_end,
        x_start,
        x_end,
    }
}

impl PoolWindow {
    /// Offsets in an NHWC tensor of shape `shape` of channel 0 of every in-bounds tap of batch
    /// `n`, row by row (the order TFLite's reference loops sum in).
    #[inline]
    pub fn taps(self, shape: Shape, n: usize) -> impl Iterator<Item = usize> {
        (self.y_start..self.y_end)
            .flat_map(move |y| (self.x_start..self.x_end).map(move |x| shape.index(n, y, x, 0)))
    }
}

/// Calls `f(n, out_offset, window)` for every output pixel of `g` in memory order, where
/// `out_offset` is the output index of the pixel's channel 0 and `n` its batch.
///
/// `g` must have passed [`check_pool_geometry`].
#[inline]
pub fn for_each_window(g: &PoolGeometry, mut f: impl FnMut(usize, usize, PoolWindow)) {
    let os = g.output;
    for n in 0..os.n {
        for oy in 0..os.h {
            for ox in 0..os.w {
                f(n, os.index(n, oy, ox, 0), pool_window(g, oy, ox));
            }
        }
    }
}

/// Parameters of a floating-point pooling op (`f32` here, also used by the `f16` kernels).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PoolParams {
    /// Window geometry (see [`pool_geometry`]).
    pub geometry: PoolGeometry,
    /// Lower clamp of the fused activation.
    pub act_min: f32,
    /// Upper clamp of the fused activation.
    pub act_max: f32,
    /// Average pool only: divide by the full window area, padding included (PyTorch's default
    /// `count_include_pad=True`, padded taps are zeros). `false` divides by the number of taps
    /// inside the input, which is what TFLite's AVERAGE_POOL_2D always does.
    pub count_include_pad: bool,
}

impl PoolParams {
    /// Parameters for `geometry` with fused activation `act`, TFLite's divisor.
    pub fn new(geometry: PoolGeometry, act: FusedActivation) -> Result<Self> {
        check_pool_geometry(&geometry)?;
        let (act_min, act_max) = activation_range_f32(act);
        Ok(PoolParams {
            geometry,
            act_min,
            act_max,
            count_include_pad: false,
        })
    }

    /// The same parameters with PyTorch's `count_include_pad` divisor switched on or off.
    pub fn with_count_include_pad(self, count_include_pad: bool) -> Self {
        PoolParams {
            count_include_pad,
            ..self
        }
    }
}

/// Checks the parameters and buffer lengths of a floating-point pooling call.
pub(crate) fn check_pool_call(p: &PoolParams, input_len: usize, output_len: usize) -> Result<()> {
    check_pool_geometry(&p.geometry)?;
    if p.act_min.is_nan() || p.act_max.is_nan() || p.act_min > p.act_max {
        return Err(Error::BadParam {
            what: "activation range (min > max or NaN)",
            value: 0,
        });
    }
    check_len("input", p.geometry.input.len(), input_len)?;
    check_len("output", p.geometry.output.len(), output_len)
}

/// Checks a MEAN-over-height-and-width call and returns the reduction size `h * w`.
///
/// The output holds `n * c` values: `[n, 1, 1, c]` with `keep_dims`, `[n, c]` without; the two
/// have the same bytes, so the kernels do not need to know which.
pub fn check_mean_call(input: Shape, input_len: usize, output_len: usize) -> Result<usize> {
    let count = input.h.saturating_mul(input.w);
    if count == 0 {
        return Err(Error::BadParam {
            what: "MEAN reduction size (height * width)",
            value: 0,
        });
    }
    if count > MAX_POOL_AREA {
        return Err(Error::BadParam {
            what: "MEAN reduction size (height * width)",
            value: count as i64,
        });
    }
    check_len("input", input.len(), input_len)?;
    check_len("output", input.n.saturating_mul(input.c), output_len)?;
    Ok(count)
}

/// Max pool, `f32`, NHWC: the largest input tap of each window, then the activation clamp.
///
/// Padded taps never win (TFLite `reference_ops::MaxPool`). `input` has
/// `p.geometry.input.len()` elements, `output` `p.geometry.output.len()`.
pub fn max_pool_f32(p: &PoolParams, input: &[f32], output: &mut [f32]) -> Result<()> {
    max_pool_with(p, input, output, |x| x, |x| x)
}

/// Average pool, `f32`, NHWC: the sum of the in-bounds taps divided by their number (TFLite
/// `reference_ops::AveragePool`), or by the full window area when `p.count_include_pad`
/// (PyTorch `AvgPool2d` default, padded taps count as zeros), then the activation clamp.
pub fn avg_pool_f32(p: &PoolParams, input: &[f32], output: &mut [f32]) -> Result<()> {
    avg_pool_with(p, input, output, |x| x, |x| x)
}

/// MEAN over height and width (global average pool), `f32`: `output[n, c]` is the average of
/// `input[n, :, :, c]`, summed row by row like TFLite's `reference_ops::Mean` (4-D, axes 1 and 2).
///
/// `output` has `input.n * input.c` elements (`keep_dims` does not change the bytes). MEAN has
/// no fused activation.
pub fn mean_f32(input: Shape, input_data: &[f32], output: &mut [f32]) -> Result<()> {
    mean_with(input, input_data, output, |x| x, |x| x)
}

// The loops below are shared by the f32 and f16 kernels: elements are widened to f32 on load
// and narrowed on store, so f16 accumulates in f32 exactly like the reference.

/// [`max_pool_f32`] over any element type convertible to and from `f32`.
pub(crate) fn max_pool_with<T: Copy>(
    p: &PoolParams,
    input: &[T],
    output: &mut [T],
    load: impl Fn(T) -> f32,
    store: impl Fn(f32) -> T,
) -> Result<()> {
    pool_with(
        p,
        input,
        output,
        load,
        store,
        f32::NEG_INFINITY,
        f32::max,
        |m, _| m,
    )
}

/// [`avg_pool_f32`] over any element type convertible to and from `f32`.
pub(crate) fn avg_pool_with<T: Copy>(
    p: &PoolParams,
    input: &[T],
    output: &mut [T],
    load: impl Fn(T) -> f32,
    store: impl Fn(f32) -> T,
) -> Result<()> {
    let full = p.geometry.kernel_h.saturating_mul(p.geometry.kernel_w) as f32;
    let average = |sum: f32, win: &PoolWindow| {
        let divisor = if p.count_include_pad {
            full
        } else {
            win.in_bounds() as f32
        };
        sum / divisor
    };
    pool_with(p, input, output, load, store, 0.0, |s, v| s + v, average)
}

/// The float pooling loop: for each output element, the taps are folded with `step` from
/// `init`, `finish`ed, clamped to the activation range and narrowed.
#[allow(clippy::too_many_arguments)]
fn pool_with<T: Copy>(
    p: &PoolParams,
    input: &[T],
    output: &mut [T],
    load: impl Fn(T) -> f32,
    store: impl Fn(f32) -> T,
    init: f32,
    step: impl Fn(f32, f32) -> f32,
    finish: impl Fn(f32, &PoolWindow) -> f32,
) -> Result<()> {
    check_pool_call(p, input.len(), output.len())?;
    let (is, channels) = (p.geometry.input, p.geometry.output.c);
    for_each_window(&p.geometry, |n, out, win| {
        for c in 0..channels {
            let acc = win
                .taps(is, n)
                .fold(init, |a, t| step(a, load(input[t + c])));
            output[out + c] = store(finish(acc, &win).max(p.act_min).min(p.act_max));
        }
    });
    Ok(())
}

/// [`mean_f32`] over any element type convertible to and from `f32`.
pub(crate) fn mean_with<T: Copy>(
    input: Shape,
    input_data: &[T],
    output: &mut [T],
    load: impl Fn(T) -> f32,
    store: impl Fn(f32) -> T,
) -> Result<()> {
    let count = check_mean_call(input, input_data.len(), output.len())?;
    for n in 0..input.n {
        for c in 0..input.c {
            let mut sum = 0.0f32;
            for y in 0..input.h {
                for x in 0..input.w {
                    sum += load(input_data[input.index(n, y, x, c)]);
                }
            }
            output[n * input.c + c] = store(sum / count as f32);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_clip_to_the_input() {
        // 5x5 input, 3x3 window, stride 2, SAME: padding 1 on each side.
        let g = pool_geometry(Shape::new(1, 5, 5, 1), (3, 3), (2, 2), Padding::Same).unwrap();
        assert_eq!((g.output.h, g.pad_top, g.pad_bottom), (3, 1, 1));
        let w = pool_window(&g, 0, 0);
        assert_eq!((w.y_start, w.y_end, w.x_start, w.x_end), (0, 2, 0, 2));
        let w = pool_window(&g, 2, 1);
        assert_eq!((w.y_start, w.y_end, w.x_start, w.x_end), (3, 5, 1, 4));
        assert_eq!(w.in_bounds(), 6);
    }

    #[test]
    fn windows_in_the_padding_are_rejected() {
        let g = ConvGeometry::new(
            Shape::new(1, 4, 4, 2),
            2,
            (2, 2),
            (1, 1),
            (1, 1),
            Padding::Explicit {
                top: 2,
                bottom: 0,
                left: 0,
                right: 0,
            },
            1,
        )
        .unwrap();
        assert!(matches!(
            check_pool_geometry(&g),
            Err(Error::BadParam { .. })
        ));
    }
}
