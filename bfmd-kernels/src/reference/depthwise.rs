//! Reference `f32` depthwise convolution, NHWC, channel multiplier >= 1.
//!
//! Semantics of TFLite's float `reference_ops::DepthwiseConv` (`reference/depthwise_conv.h`):
//! output channel `oc = ic * multiplier + m` reads input channel `ic` through filter column
//! `oc`; padded taps are skipped; products are summed in `(filter_y, filter_x)` order, the bias
//! is added last and the sum is clamped.
//!
//! The loop runs over blocks of output channels so that the innermost loop walks contiguous
//! filter and output channels; the per-output sum order is that of the naive loop.

use crate::error::{check_len, check_min_len, Error, Result};
use crate::reference::conv::{check_float_activation, for_each_window, ConvF32Params, Window};
use crate::shape::{ConvGeometry, Shape};
use half::f16;

/// Depthwise convolutions use the float convolution parameters; `geometry.groups` is ignored
/// and the channel multiplier is `geometry.output.c / geometry.input.c`.
pub type DepthwiseF32Params = ConvF32Params;

/// Number of output channels accumulated together: enough to keep the inner loop long, small
/// enough for a stack array on a microcontroller (128 bytes of `f32` or `i32`).
pub(crate) const CHANNEL_BLOCK: usize = 32;

/// Checks a depthwise convolution's arguments and returns its channel multiplier.
///
/// Shared by the f32, f16 and int8 depthwise convolutions.
pub(crate) fn check_depthwise_shapes(
    g: &ConvGeometry,
    input_len: usize,
    filter_len: usize,
    bias_len: Option<usize>,
    output_len: usize,
) -> Result<usize> {
    g.validate()?;
    if g.input.c == 0 || g.output.c % g.input.c != 0 || g.output.c == 0 {
        return Err(Error::DimMismatch {
            what:
                "depthwise output channels (must be input channels * multiplier, multiplier >= 1)",
            expected: g.input.c,
            got: g.output.c,
        });
    }
    let mult = g.output.c / g.input.c;
    check_len("input", g.input.len(), input_len)?;
    let filter_expected = g
        .kernel_h
        .saturating_mul(g.kernel_w)
        .saturating_mul(g.output.c);
    check_len("filter", filter_expected, filter_len)?;
    if let Some(b) = bias_len {
        check_len("bias", g.output.c, b)?;
    }
    check_len("output", g.output.len(), output_len)?;
    Ok(mult)
}

/// Number of scratch bytes [`depthwise_conv_f32`] needs: none.
pub const fn depthwise_conv_f32_scratch_len(_geometry: &ConvGeometry) -> usize {
    0
}

/// Number of scratch bytes [`depthwise_conv_f32_inplace`] needs: one input channel plane
/// (`in_h * in_w` values of 4 bytes).
pub const fn depthwise_conv_f32_inplace_scratch_len(geometry: &ConvGeometry) -> usize {
    geometry
        .input
        .h
        .saturating_mul(geometry.input.w)
        .saturating_mul(4)
}

/// Float depthwise convolution, NHWC (TFLite `DEPTHWISE_CONV_2D`).
///
/// * `input`: `[n, in_h, in_w, in_c]`;
/// * `filter`: `[1, kernel_h, kernel_w, in_c * multiplier]`;
/// * `bias`: `[in_c * multiplier]` or `None`;
/// * `output`: `[n, out_h, out_w, in_c * multiplier]`.
///
/// Any kernel size, stride, dilation and padding that [`ConvGeometry::validate`] accepts. No
/// scratch.
///
/// # Errors
/// [`Error::BufferLength`] for a buffer of the wrong length, [`Error::DimMismatch`] when the
/// output channels are not a positive multiple of the input channels, [`Error::BadParam`] for
/// an inverted clamp range, and whatever [`ConvGeometry::validate`] reports.
pub fn depthwise_conv_f32(
    p: &DepthwiseF32Params,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<()> {
    let g = &p.geometry;
    let mult = check_depthwise_shapes(
        g,
        input.len(),
        filter.len(),
        bias.map(|b| b.len()),
        output.len(),
    )?;
    check_float_activation(p.act_min, p.act_max)?;
    depthwise_float_loop(p, input, filter, bias, output, mult, |v| v);
    Ok(())
}

/// The float depthwise loop shared by [`depthwise_conv_f32`] and the f16 depthwise
/// convolution: `f32` accumulation in `(filter_y, filter_x)` order per output, bias last,
/// clamp, then `narrow`. Arguments are checked.
pub(crate) fn depthwise_float_loop<T: Copy + Into<f32>>(
    p: &DepthwiseF32Params,
    input: &[T],
    filter: &[T],
    bias: Option<&[f32]>,
    output: &mut [T],
    mult: usize,
    narrow: impl Fn(f32) -> T,
) {
    depthwise_block_loop(
        &p.geometry,
        input,
        filter,
        output,
        mult,
        0.0f32,
        |a, x, f| a + x.into() * f.into(),
        |a, c| {
            let v = match bias {
                Some(bias) => a + bias[c],
                None => a,
            };
            narrow(v.max(p.act_min).min(p.act_max))
        },
    );
}

/// The depthwise loop of every dtype: for each output pixel and block of [`CHANNEL_BLOCK`]
/// output channels, `mac(acc, x, f)` over the valid taps in `(filter_y, filter_x)` order, then
/// `finish(acc, channel)`. The block keeps the innermost loop on contiguous filter and output
/// channels; each output's own sum order is the naive loop's. Arguments are checked.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn depthwise_block_loop<T: Copy, A: Copy, O>(
    g: &ConvGeometry,
    input: &[T],
    filter: &[T],
    output: &mut [O],
    mult: usize,
    zero: A,
    mac: impl Fn(A, T, T) -> A,
    finish: impl Fn(A, usize) -> O,
) {
    let (in_c, out_c) = (g.input.c, g.output.c);
    let mut acc = [zero; CHANNEL_BLOCK];
    for_each_window(g, |px, window| {
        let out_base = px * out_c;
        let mut c0 = 0;
        while c0 < out_c {
            let n = CHANNEL_BLOCK.min(out_c - c0);
            let acc = &mut acc[..n];
            acc.fill(zero);
            window.for_each_tap(g, |ipx, t| {
                let x_px = &input[ipx * in_c..][..in_c];
                let fs = &filter[t * out_c + c0..][..n];
                if mult == 1 {
                    let xs = &x_px[c0..c0 + n];
                    for ((a, &x), &f) in acc.iter_mut().zip(xs).zip(fs) {
                        *a = mac(*a, x, f);
                    }
                } else {
                    for (j, (a, &f)) in acc.iter_mut().zip(fs).enumerate() {
                        *a = mac(*a, x_px[(c0 + j) / mult], f);
                    }
                }
            });
            let out_blk = &mut output[out_base + c0..out_base + c0 + n];
            for (j, (o, &a)) in out_blk.iter_mut().zip(acc.iter()).enumerate() {
                *o = finish(a, c0 + j);
            }
            c0 += n;
        }
    });
}

/// An element type the in-place depthwise convolutions park in byte scratch.
///
/// Scratch is `&mut [u8]` for every kernel (the planner sizes it in bytes); encoding the plane
/// as little-endian bytes avoids any alignment requirement on the scratch buffer.
pub(crate) trait PlaneElem: Copy {
    /// Bytes per element.
    const BYTES: usize;
    /// Writes `self` to `dst[..BYTES]`.
    fn store(self, dst: &mut [u8]);
    /// Reads an element from `src[..BYTES]`.
    fn load(src: &[u8]) -> Self;
}

impl PlaneElem for i8 {
    const BYTES: usize = 1;
    #[inline(always)]
    fn store(self, dst: &mut [u8]) {
        dst[0] = self as u8;
    }
    #[inline(always)]
    fn load(src: &[u8]) -> Self {
        src[0] as i8
    }
}

impl PlaneElem for f16 {
    const BYTES: usize = 2;
    #[inline(always)]
    fn store(self, dst: &mut [u8]) {
        dst[..2].copy_from_slice(&self.to_bits().to_le_bytes());
    }
    #[inline(always)]
    fn load(src: &[u8]) -> Self {
        f16::from_bits(u16::from_le_bytes([src[0], src[1]]))
    }
}

impl PlaneElem for f32 {
    const BYTES: usize = 4;
    #[inline(always)]
    fn store(self, dst: &mut [u8]) {
        dst[..4].copy_from_slice(&self.to_bits().to_le_bytes());
    }
    #[inline(always)]
    fn load(src: &[u8]) -> Self {
        f32::from_bits(u32::from_le_bytes([src[0], src[1], src[2], src[3]]))
    }
}

/// Checks an in-place depthwise convolution: the shapes of the out-of-place kernel with the
/// input filling `buf`, channel multiplier 1, no more output than input pixels per image, and
/// a scratch of one input plane of `elem_bytes`-byte elements.
pub(crate) fn check_depthwise_inplace(
    g: &ConvGeometry,
    buf_len: usize,
    filter_len: usize,
    bias_len: Option<usize>,
    scratch_len: usize,
    elem_bytes: usize,
) -> Result<()> {
    g.validate()?;
    if g.output.c != g.input.c {
        return Err(Error::Unsupported(
            "in-place depthwise convolution needs channel multiplier 1",
        ));
    }
    check_depthwise_shapes(g, buf_len, filter_len, bias_len, g.output.len())?;
    let in_px = g.input.h.saturating_mul(g.input.w);
    let out_px = g.output.h.saturating_mul(g.output.w);
    if out_px > in_px {
        return Err(Error::DimMismatch {
            what: "in-place depthwise output pixels per image (must not exceed input pixels)",
            expected: in_px,
            got: out_px,
        });
    }
    check_min_len("scratch", in_px.saturating_mul(elem_bytes), scratch_len)
}

/// The in-place schedule shared by every dtype (TinyEngine's trick): for each image and
/// channel, park the channel's input plane in `scratch`, then write that channel's outputs
/// with `out_value(channel, plane, window)`.
///
/// Why it is safe: input and output are NHWC with the same channel count, so an output
/// element of channel `c` lands on an input element of channel `c` (index mod `c`); its own
/// plane is already in scratch, and the output of image `b` ends before image `b + 1`'s
/// input starts because it has no more pixels. Callers have run
/// [`check_depthwise_inplace`].
pub(crate) fn depthwise_inplace_planes<T: PlaneElem>(
    g: &ConvGeometry,
    buf: &mut [T],
    scratch: &mut [u8],
    mut out_value: impl FnMut(usize, &[u8], &Window) -> T,
) {
    let (h, w, c) = (g.input.h, g.input.w, g.input.c);
    let (oh, ow) = (g.output.h, g.output.w);
    // One image at a time: window pixel indices are then indices into the parked plane.
    let image = ConvGeometry {
        input: Shape::new(1, h, w, c),
        output: Shape::new(1, oh, ow, c),
        ..*g
    };
    let plane = &mut scratch[..h * w * T::BYTES];
    for b in 0..g.input.n {
        let in_base = b * h * w * c;
        let out_base = b * oh * ow * c;
        for ch in 0..c {
            for (i, dst) in plane.chunks_exact_mut(T::BYTES).enumerate() {
                buf[in_base + i * c + ch].store(dst);
            }
            for_each_window(&image, |px, window| {
                buf[out_base + px * c + ch] = out_value(ch, plane, window);
            });
        }
    }
}

/// Float depthwise convolution with multiplier 1 whose output overwrites its input in `buf`
/// (TinyEngine's in-place schedule), bit-identical to [`depthwise_conv_f32`].
///
/// `buf` holds the input `[n, in_h, in_w, c]`; on return its first `n * out_h * out_w * c`
/// elements are the output. `scratch` must hold
/// [`depthwise_conv_f32_inplace_scratch_len`] bytes (one input plane). Needs
/// `out_h * out_w <= in_h * in_w`, which holds for stride >= 1 with SAME or VALID padding.
///
/// # Errors
/// Those of [`depthwise_conv_f32`] (with `buf` as the input), [`Error::Unsupported`] for a
/// channel multiplier other than 1, [`Error::DimMismatch`] when the output has more pixels
/// than the input, [`Error::BufferLength`] for a short scratch.
pub fn depthwise_conv_f32_inplace(
    p: &DepthwiseF32Params,
    buf: &mut [f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    scratch: &mut [u8],
) -> Result<()> {
    let g = &p.geometry;
    check_depthwise_inplace(
        g,
        buf.len(),
        filter.len(),
        bias.map(|b| b.len()),
        scratch.len(),
        4,
    )?;
    check_float_activation(p.act_min, p.act_max)?;
    depthwise_float_inplace_loop(p, buf, filter, bias, scratch, |v| v);
    Ok(())
}

/// The float in-place loop shared by [`depthwise_conv_f32_inplace`] and the f16 one; the
/// per-output arithmetic is that of [`depthwise_float_loop`], so results are bit-identical.
pub(crate) fn depthwise_float_inplace_loop<T: PlaneElem + Into<f32>>(
    p: &DepthwiseF32Params,
    buf: &mut [T],
    filter: &[T],
    bias: Option<&[f32]>,
    scratch: &mut [u8],
    narrow: impl Fn(f32) -> T,
) {
    let g = &p.geometry;
    depthwise_inplace_planes(g, buf, scratch, |ch, plane, window| {
        let mut acc = 0.0f32;
        window.for_each_tap(g, |i, t| {
            acc += T::load(&plane[i * T::BYTES..]).into() * filter[t * g.output.c + ch].into();
        });
        if let Some(bias) = bias {
            acc += bias[ch];
        }
        narrow(acc.max(p.act_min).min(p.act_max))
    });
}
