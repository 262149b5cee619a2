//! Portable inner loops of the int8 convolution, callable on every target.
//!
//! Each public function checks its arguments exactly like [`super::conv_s8`] and then runs
//! loops that index freely. The accumulation order differs from TFLM's (taps are summed per
//! channel block rather than one MAC at a time), which cannot change the result: the sum is
//! computed in wrapping 32-bit integer arithmetic, which is associative.

use super::{check_conv_s8, conv_s8_scratch_len, ChannelQuantS8, ConvS8Params};
use crate::error::{check_min_len, Error, Result};
use crate::reference::conv::{for_each_window, is_pointwise};

/// One multiply-accumulate `acc + f * (x + off)`.
///
/// `x + off` is in `-255..=255` (offsets are validated) and `f` in `-128..=127`, so only the
/// accumulation can overflow; it wraps like TFLM's `int32_t` accumulator. The wrapping forms
/// are used for the add and multiply too because they cannot overflow and, unlike `+` and `*`,
/// carry no overflow check in debug builds, where tests run whole models.
#[inline(always)]
pub(crate) fn mac(acc: i32, x: i32, off: i32, f: i32) -> i32 {
    acc.wrapping_add(x.wrapping_add(off).wrapping_mul(f))
}

/// `sum(f[i] * (x[i] + off))` with [`mac`] (wrapping 32-bit accumulation).
#[inline(always)]
pub(crate) fn dot_offset<T: Copy>(x: &[T], f: &[i8], off: i32, to_i32: impl Fn(T) -> i32) -> i32 {
    x.iter()
        .zip(f)
        .fold(0i32, |acc, (&x, &f)| mac(acc, to_i32(x), off, f as i32))
}

#[inline(always)]
fn i8_to_i32(x: i8) -> i32 {
    x as i32
}

/// Adds the bias of channel `o` (if any) and requantizes.
#[inline(always)]
pub(crate) fn finish(q: &ChannelQuantS8, acc: i32, bias: Option<&[i32]>, o: usize) -> i8 {
    let acc = match bias {
        Some(b) => acc.wrapping_add(b[o]),
        None => acc,
    };
    q.requantize(acc, o)
}

/// [`super::conv_s8`] on the portable path: checks, then the pointwise loop for 1x1 / stride 1 /
/// no padding and the general loop otherwise.
///
/// # Errors
/// Those of [`super::conv_s8`].
pub fn conv_s8(
    p: &ConvS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) -> Result<()> {
    let (cin_g, cout_g) = check_conv_s8(p, input.len(), filter.len(), bias, output.len())?;
    check_min_len("scratch", conv_s8_scratch_len(&p.geometry), scratch.len())?;
    if is_pointwise(&p.geometry) {
        pointwise_loop(p, input, filter, bias, output, cin_g, cout_g);
    } else {
        general_loop(p, input, filter, bias, output, cin_g, cout_g);
    }
    Ok(())
}

/// The general convolution loop for any geometry, even one [`conv_s8`] would send to the
/// pointwise loop; tests use it to show both loops agree.
///
/// # Errors
/// Those of [`super::conv_s8`].
pub fn conv_s8_general(
    p: &ConvS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) -> Result<()> {
    let (cin_g, cout_g) = check_conv_s8(p, input.len(), filter.len(), bias, output.len())?;
    general_loop(p, input, filter, bias, output, cin_g, cout_g);
    Ok(())
}

/// The pointwise loop: a 1x1, stride 1, unpadded (optionally grouped) convolution as one
/// matrix product per pixel.
///
/// # Errors
/// Those of [`super::conv_s8`], and [`Error::Unsupported`] for a geometry that is not pointwise.
pub fn pointwise_conv_s8(
    p: &ConvS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) -> Result<()> {
    let (cin_g, cout_g) = check_conv_s8(p, input.len(), filter.len(), bias, output.len())?;
    if !is_pointwise(&p.geometry) {
        return Err(Error::Unsupported(
            "pointwise loop needs a 1x1 kernel, stride 1 and no padding",
        ));
    }
    pointwise_loop(p, input, filter, bias, output, cin_g, cout_g);
    Ok(())
}

fn general_loop(
    p: &ConvS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    cin_g: usize,
    cout_g: usize,
) {
    let g = &p.geometry;
    let q = &p.quant;
    let (in_c, out_c) = (g.input.c, g.output.c);
    let taps_c = g.kernel_h * g.kernel_w * cin_g;
    // With dense channels and unit horizontal dilation, the taps of one filter row read one
    // contiguous run of input: one dot product per row instead of one per tap.
    let rows_contiguous = cin_g == in_c && g.dilation_w == 1;
    let off = q.input_offset;
    for_each_window(g, |px, window| {
        let out_px = &mut output[px * out_c..(px + 1) * out_c];
        let (kx0, kx1) = window.kx;
        for (o, out_v) in out_px.iter_mut().enumerate() {
            let x_ch = (o / cout_g) * cin_g;
            let f_o = &filter[o * taps_c..(o + 1) * taps_c];
            let mut acc = 0i32;
            if rows_contiguous {
                // An empty column range (window entirely in the left/right padding) must not
                // compute a pixel index: tap `kx0` does not exist then.
                let len = (kx1 - kx0) * cin_g;
                let ky_range = if len == 0 {
                    0..0
                } else {
                    window.ky.0..window.ky.1
                };
                for ky in ky_range {
                    let x0 = window.pixel(g, ky, kx0) * in_c;
                    let f0 = (ky * g.kernel_w + kx0) * cin_g;
                    let xs = &input[x0..x0 + len];
                    let dot = dot_offset(xs, &f_o[f0..f0 + len], off, i8_to_i32);
                    acc = acc.wrapping_add(dot);
                }
            } else {
                window.for_each_tap(g, |ipx, t| {
                    let xs = &input[ipx * in_c + x_ch..][..cin_g];
                    let dot = dot_offset(xs, &f_o[t * cin_g..][..cin_g], off, i8_to_i32);
                    acc = acc.wrapping_add(dot);
                });
            }
            *out_v = finish(q, acc, bias, o);
        }
    });
}

/// One output pixel of a pointwise convolution from one input pixel `x` (`in_c` values).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pointwise_pixel<T: Copy>(
    q: &ChannelQuantS8,
    x: &[T],
    to_i32: impl Fn(T) -> i32 + Copy,
    filter: &[i8],
    bias: Option<&[i32]>,
    out_px: &mut [i8],
    cin_g: usize,
    cout_g: usize,
) {
    for (o, out_v) in out_px.iter_mut().enumerate() {
        let x0 = (o / cout_g) * cin_g;
        let acc = dot_offset(
            &x[x0..x0 + cin_g],
            &filter[o * cin_g..(o + 1) * cin_g],
            q.input_offset,
            to_i32,
        );
        *out_v = finish(q, acc, bias, o);
    }
}

fn pointwise_loop(
    p: &ConvS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    cin_g: usize,
    cout_g: usize,
) {
    let (in_c, out_c) = (p.geometry.input.c, p.geometry.output.c);
    // Indexing by pixel (not `chunks_exact`) keeps zero-channel tensors well defined.
    for px in 0..p.geometry.input.pixels() {
        let x = &input[px * in_c..(px + 1) * in_c];
        let out_px = &mut output[px * out_c..(px + 1) * out_c];
        pointwise_pixel(&p.quant, x, i8_to_i32, filter, bias, out_px, cin_g, cout_g);
    }
}

/// The loop of [`super::pointwise_conv_s8_overlapping`]; the caller has checked the regions,
/// the overlap condition and the scratch length.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pointwise_overlapping_loop(
    q: &ChannelQuantS8,
    buf: &mut [i8],
    in_off: usize,
    out_off: usize,
    pixels: usize,
    in_c: usize,
    out_c: usize,
    cin_g: usize,
    cout_g: usize,
    filter: &[i8],
    bias: Option<&[i32]>,
    scratch: &mut [u8],
) {
    let x = &mut scratch[..in_c];
    for px in 0..pixels {
        let src = in_off + px * in_c;
        for (s, &v) in x.iter_mut().zip(&buf[src..src + in_c]) {
            *s = v as u8;
        }
        let dst = out_off + px * out_c;
        let out_px = &mut buf[dst..dst + out_c];
        pointwise_pixel(
            q,
            x,
            |v: u8| v as i8 as i32,
            filter,
            bias,
            out_px,
            cin_g,
            cout_g,
        );
    }
}
