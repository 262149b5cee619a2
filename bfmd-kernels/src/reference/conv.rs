//! Reference `f32` convolution: dense, grouped and pointwise (1x1), NHWC.
//!
//! This is the oracle the int8 and f16 convolutions are tested against and the kernel bfmd runs
//! for `f32` models. It follows TFLite's float `reference_ops::Conv` (`reference/conv.h`): the
//! window skips padded taps instead of reading zeros, the products are summed in
//! `(filter_y, filter_x, in_channel)` order, the bias is added last and the sum is clamped to
//! the fused activation range.
//!
//! The window bounds are computed once per output row and column so the innermost loop
//! is a plain dot product over contiguous channels; the sum order is the same as the naive loop.

use crate::error::{check_len, Error, Result};
use crate::quant::{activation_range_f32, FusedActivation};
use crate::shape::ConvGeometry;

/// Geometry and fused activation of a float (`f32` or `f16`) convolution or depthwise
/// convolution.
///
/// The clamp range is in `f32` for both dtypes because f16 kernels accumulate in `f32` and
/// clamp before the final rounding to f16.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConvF32Params {
    /// Window geometry; `geometry.output.c` is the number of output channels.
    pub geometry: ConvGeometry,
    /// Lower clamp of the output (`-inf` when there is no activation).
    pub act_min: f32,
    /// Upper clamp of the output (`+inf` when there is no activation).
    pub act_max: f32,
}

impl ConvF32Params {
    /// Parameters with the clamp range of a TFLite fused activation
    /// ([`activation_range_f32`]).
    pub fn new(geometry: ConvGeometry, activation: FusedActivation) -> Self {
        let (act_min, act_max) = activation_range_f32(activation);
        ConvF32Params {
            geometry,
            act_min,
            act_max,
        }
    }
}

/// Returns `Err` unless `act_min <= act_max` (NaN bounds are rejected too, because a NaN clamp
/// would silently turn every output into NaN).
pub(crate) fn check_float_activation(act_min: f32, act_max: f32) -> Result<()> {
    if act_min <= act_max {
        Ok(())
    } else {
        Err(Error::BadParam {
            what: "activation range (act_min > act_max or NaN)",
            value: 0,
        })
    }
}

/// Checks the parts of a convolution's arguments that do not depend on the dtype and returns
/// `(input channels per group, output channels per group)`.
///
/// Shared by the f32, f16 and int8 convolutions so that all of them reject the same mistakes
/// with the same errors.
pub(crate) fn check_conv_shapes(
    g: &ConvGeometry,
    input_len: usize,
    filter_len: usize,
    bias_len: Option<usize>,
    output_len: usize,
) -> Result<(usize, usize)> {
    g.validate()?;
    let groups = g.groups;
    if g.input.c % groups != 0 || g.output.c % groups != 0 {
        return Err(Error::BadParam {
            what: "groups (must divide input and output channels)",
            value: groups as i64,
        });
    }
    let cin_g = g.input.c / groups;
    let cout_g = g.output.c / groups;
    check_len("input", g.input.len(), input_len)?;
    let filter_expected = g
        .output
        .c
        .saturating_mul(g.kernel_h)
        .saturating_mul(g.kernel_w)
        .saturating_mul(cin_g);
    check_len("filter", filter_expected, filter_len)?;
    if let Some(b) = bias_len {
        check_len("bias", g.output.c, b)?;
    }
    check_len("output", g.output.len(), output_len)?;
    Ok((cin_g, cout_g))
}

/// The filter taps of one window axis that fall inside the input: tap `k` in `lo..hi` reads
/// input row (or column) `out * stride - pad + k * dilation`, which is in `0..input`.
///
/// Padding is not read at all (TFLite's reference kernels skip taps outside the image), so
/// the valid taps of every output position form one contiguous range.
#[inline]
pub(crate) fn tap_range(
    out: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
    kernel: usize,
    input: usize,
) -> (usize, usize) {
    // i64 holds every value here: the geometry was validated, so these are tensor sizes.
    let origin = (out * stride) as i64 - pad as i64;
    let d = dilation as i64;
    let lo = if origin >= 0 {
        0
    } else {
        (-origin + d - 1) / d
    };
    let last = input as i64 - 1 - origin;
    let hi = if last < 0 {
        0
    } else {
        (last / d + 1).min(kernel as i64)
    };
    let lo = lo.min(hi);
    (lo as usize, hi as usize)
}

/// The valid taps of one output pixel's window (padding taps excluded).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    /// Valid filter rows `ky.0..ky.1`.
    pub(crate) ky: (usize, usize),
    /// Valid filter columns `kx.0..kx.1`.
    pub(crate) kx: (usize, usize),
    /// Input row and column of tap `(0, 0)` (negative inside the top/left padding).
    iy0: i64,
    ix0: i64,
    /// Index of the image's first row among all `n * in_h` input rows.
    row0: usize,
}

impl Window {
    /// Index (among the `n * in_h * in_w` input pixels) of the pixel tap `(ky, kx)` reads;
    /// only meaningful for valid taps.
    #[inline(always)]
    pub(crate) fn pixel(&self, g: &ConvGeometry, ky: usize, kx: usize) -> usize {
        let iy = (self.iy0 + (ky * g.dilation_h) as i64) as usize;
        let ix = (self.ix0 + (kx * g.dilation_w) as i64) as usize;
        (self.row0 + iy) * g.input.w + ix
    }

    /// Calls `tap(input pixel, ky * kernel_w + kx)` for every valid tap in `(ky, kx)` order,
    /// the summation order of TFLite's reference kernels.
    ///
    /// Indices advance by additions from the first valid tap: this runs once per tap of every
    /// output, so the multiplications of [`Window::pixel`] would dominate small kernels.
    #[inline(always)]
    pub(crate) fn for_each_tap(&self, g: &ConvGeometry, mut tap: impl FnMut(usize, usize)) {
        let ((ky0, ky1), (kx0, kx1)) = (self.ky, self.kx);
        if ky0 == ky1 || kx0 == kx1 {
            return;
        }
        let row_step = g.dilation_h * g.input.w;
        let mut row_px = self.pixel(g, ky0, kx0);
        for ky in ky0..ky1 {
            let (mut px, mut t) = (row_px, ky * g.kernel_w + kx0);
            for _ in kx0..kx1 {
                tap(px, t);
                px += g.dilation_w;
                t += 1;
            }
            row_px += row_step;
        }
    }
}

/// Calls `f(output pixel index, window)` for every output pixel in NHWC order, computing the
/// valid tap ranges once per row and column instead of testing every tap.
#[inline(always)]
pub(crate) fn for_each_window(g: &ConvGeometry, mut f: impl FnMut(usize, &Window)) {
    let (in_h, in_w) = (g.input.h, g.input.w);
    let (out_h, out_w) = (g.output.h, g.output.w);
    for b in 0..g.input.n {
        for oy in 0..out_h {
            let ky = tap_range(oy, g.stride_h, g.pad_top, g.dilation_h, g.kernel_h, in_h);
            let iy0 = (oy * g.stride_h) as i64 - g.pad_top as i64;
            for ox in 0..out_w {
                let window = Window {
                    ky,
                    kx: tap_range(ox, g.stride_w, g.pad_left, g.dilation_w, g.kernel_w, in_w),
                    iy0,
                    ix0: (ox * g.stride_w) as i64 - g.pad_left as i64,
                    row0: b * in_h,
                };
                f((b * out_h + oy) * out_w + ox, &window);
            }
        }
    }
}

/// `true` when the geometry is a pointwise (1x1) convolution that maps every input pixel to
/// the output pixel at the same index: 1x1 kernel, stride 1, no padding.
pub const fn is_pointwise(g: &ConvGeometry) -> bool {
    g.kernel_h == 1
        && g.kernel_w == 1
        && g.stride_h == 1
        && g.stride_w == 1
        && g.pad_top == 0
        && g.pad_bottom == 0
        && g.pad_left == 0
        && g.pad_right == 0
}

/// Number of scratch bytes [`conv_f32`] needs: none.
pub const fn conv_f32_scratch_len(_geometry: &ConvGeometry) -> usize {
    0
}

/// Float 2-D convolution, NHWC, dense or grouped (TFLite `CONV_2D`).
///
/// * `input`: `[n, in_h, in_w, in_c]` (`p.geometry.input`);
/// * `filter`: OHWI `[out_c, kernel_h, kernel_w, in_c / groups]`; output channel `o` belongs
///   to group `o / (out_c / groups)` and reads the input channels of that group;
/// * `bias`: `[out_c]` or `None`;
/// * `output`: `[n, out_h, out_w, out_c]` (`p.geometry.output`).
///
/// Any kernel size, stride, dilation and padding that [`ConvGeometry::validate`] accepts.
/// Padded taps contribute nothing. No scratch.
///
/// # Errors
/// [`Error::BufferLength`] for a buffer whose length does not match its shape,
/// [`Error::BadParam`] for groups that do not divide both channel counts or an inverted clamp
/// range, and whatever [`ConvGeometry::validate`] reports for an inconsistent geometry.
pub fn conv_f32(
    p: &ConvF32Params,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<()> {
    let g = &p.geometry;
    let (cin_g, cout_g) = check_conv_shapes(
        g,
        input.len(),
        filter.len(),
        bias.map(|b| b.len()),
        output.len(),
    )?;
    check_float_activation(p.act_min, p.act_max)?;
    conv_float_loop(p, input, filter, bias, output, cin_g, cout_g, |v| v);
    Ok(())
}

/// The float convolution loop shared by [`conv_f32`] and the f16 convolution: elements are
/// widened to `f32`, accumulated in `f32` in `(filter_y, filter_x, in_channel)` order, the
/// bias is added last, the sum is clamped and narrowed with `narrow`. Arguments are checked.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_float_loop<T: Copy + Into<f32>>(
    p: &ConvF32Params,
    input: &[T],
    filter: &[T],
    bias: Option<&[f32]>,
    output: &mut [T],
    cin_g: usize,
    cout_g: usize,
    narrow: impl Fn(f32) -> T,
) {
    let g = &p.geometry;
    let (in_c, out_c) = (g.input.c, g.output.c);
    let taps_c = g.kernel_h * g.kernel_w * cin_g;
    for_each_window(g, |px, window| {
        let out_px = &mut output[px * out_c..(px + 1) * out_c];
        for (o, out_v) in out_px.iter_mut().enumerate() {
            let x_ch = (o / cout_g) * cin_g;
            let f_o = &filter[o * taps_c..(o + 1) * taps_c];
            let mut acc = 0.0f32;
            window.for_each_tap(g, |ipx, t| {
                let xs = &input[ipx * in_c + x_ch..][..cin_g];
                let fs = &f_o[t * cin_g..][..cin_g];
                for (&x, &f) in xs.iter().zip(fs) {
                    acc += x.into() * f.into();
                }
            });
            if let Some(bias) = bias {
                acc += bias[o];
            }
            *out_v = narrow(acc.max(p.act_min).min(p.act_max));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_range_clips_padding_and_dilation() {
        // Output 0 of a 3-tap window with one row of padding: tap 0 reads row -1.
        assert_eq!(tap_range(0, 1, 1, 1, 3, 5), (1, 3));
        // Last output of the same window: tap 2 reads row 5 (past the end).
        assert_eq!(tap_range(4, 1, 1, 1, 3, 5), (0, 2));
        // Dilation 2, padding 2: taps read rows -2, 0, 2.
        assert_eq!(tap_range(0, 1, 2, 2, 3, 5), (1, 3));
        // A window entirely in the padding reads nothing.
        assert_eq!(tap_range(3, 1, 0, 1, 2, 3), (0, 0));
    }
}
