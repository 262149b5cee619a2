//! Portable inner loops of the int8 convolution, callable on every target.
//!
//! Each public function checks its arguments exactly like [`super::conv_s8`] and then runs
//! loops that index freely. The accumulation order differs from TFLM's (taps are summed per
//! channel block rather than one MAC at a time), which cannot change the result: the sum is
//! computed in wrapping 32-bit integer arithmetic, which is associative.

use super::{check_conv_s8, conv_s8_scratch_len_portable, ChannelQuantS8, ConvS8Params};
use crate::error::{check_min_len, Error, Result};
use crate::reference::conv::{for_each_window, is_pointwise, Window};
use crate::shape::ConvGeometry;

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
pub(crate) fn i8_to_i32(x: i8) -> i32 {
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
    check_min_len(
        "scratch",
        conv_s8_scratch_len_portable(&p.geometry),
        scratch.len(),
    )?;
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
    let out_c = g.output.c;
    let taps_c = g.kernel_h * g.kernel_w * cin_g;
    // With dense channels and unit horizontal dilation, the taps of one filter row read one
    // contiguous run of input: one dot product per row instead of one per tap.
    let rows = cin_g == g.input.c && g.dilation_w == 1;
    for_each_window(g, |px, window| {
        let out_px = &mut output[px * out_c..(px + 1) * out_c];
        let runs = Runs::new(g, *window, rows, cin_g);
        let shape = BlockShape {
            taps_c,
            cin_g,
            cout_g,
        };
        pixel_blocks(
            &p.quant, input, i8_to_i32, filter, bias, out_px, shape, runs,
        );
    });
}

/// The input runs of one output pixel's window: `(input element index of the run's first
/// tap, channel 0 of the group; offset of that tap in a filter; run length)`. A run is one
/// filter row when `rows` (dense channels, unit horizontal dilation: the row's taps are
/// contiguous in memory) and one tap otherwise.
#[derive(Clone)]
struct Runs<'g> {
    g: &'g ConvGeometry,
    window: Window,
    rows: bool,
    cin_g: usize,
    ky: usize,
    kx: usize,
}

impl<'g> Runs<'g> {
    fn new(g: &'g ConvGeometry, window: Window, rows: bool, cin_g: usize) -> Self {
        // A window with no valid column has no run; starting past the last row says so (and
        // keeps `next` from computing the index of a tap that does not exist).
        let ky = if window.kx.0 == window.kx.1 {
            window.ky.1
        } else {
            window.ky.0
        };
        Runs {
            g,
            window,
            rows,
            cin_g,
            ky,
            kx: window.kx.0,
        }
    }
}

impl Iterator for Runs<'_> {
    type Item = (usize, usize, usize);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let (g, w) = (self.g, &self.window);
        if self.ky >= w.ky.1 {
            return None;
        }
        let (ky, kx) = (self.ky, self.kx);
        let run = if self.rows {
            self.ky += 1;
            (w.kx.1 - w.kx.0) * self.cin_g
        } else {
            self.kx += 1;
            if self.kx == w.kx.1 {
                self.kx = w.kx.0;
                self.ky += 1;
            }
            self.cin_g
        };
        let x0 = w.pixel(g, ky, kx) * g.input.c;
        Some((x0, (ky * g.kernel_w + kx) * self.cin_g, run))
    }
}

/// How output channels map to filters and input channels.
#[derive(Clone, Copy)]
struct BlockShape {
    /// Filter elements per output channel (`kernel_h * kernel_w * cin_g`).
    taps_c: usize,
    /// Input channels per group.
    cin_g: usize,
    /// Output channels per group.
    cout_g: usize,
}

/// `[sum f_k[i] * (x[i] + off) for k in 0..4]`: four dot products sharing each input load, so
/// a MAC costs one filter load instead of two loads (the usual register blocking of
/// CMSIS-NN's 1x1 kernels, here in portable form).
#[inline(always)]
fn dot4_offset<T: Copy>(x: &[T], f: [&[i8]; 4], off: i32, to_i32: impl Fn(T) -> i32) -> [i32; 4] {
    let n = x.len();
    let (f0, f1, f2, f3) = (&f[0][..n], &f[1][..n], &f[2][..n], &f[3][..n]);
    let mut a = [0i32; 4];
    for ((((&xv, &w0), &w1), &w2), &w3) in x.iter().zip(f0).zip(f1).zip(f2).zip(f3) {
        let xo = to_i32(xv).wrapping_add(off);
        a[0] = a[0].wrapping_add(xo.wrapping_mul(w0 as i32));
        a[1] = a[1].wrapping_add(xo.wrapping_mul(w1 as i32));
        a[2] = a[2].wrapping_add(xo.wrapping_mul(w2 as i32));
        a[3] = a[3].wrapping_add(xo.wrapping_mul(w3 as i32));
    }
    a
}

/// All output channels of one output pixel: blocks of four channels of one group share each
/// input load ([`dot4_offset`]), the remaining channels of the group go one at a time. `runs`
/// are the window's input runs (indices into `x`, group channel 0).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pixel_blocks<T: Copy>(
    q: &ChannelQuantS8,
    x: &[T],
    to_i32: impl Fn(T) -> i32 + Copy,
    filter: &[i8],
    bias: Option<&[i32]>,
    out_px: &mut [i8],
    s: BlockShape,
    runs: impl Iterator<Item = (usize, usize, usize)> + Clone,
) {
    let off = q.input_offset;
    let groups = out_px.len().checked_div(s.cout_g).unwrap_or(0);
    for grp in 0..groups {
        let x_ch = grp * s.cin_g;
        let end = (grp + 1) * s.cout_g;
        let mut o = grp * s.cout_g;
        while o + 4 <= end {
            let f = |k: usize| &filter[(o + k) * s.taps_c..(o + k + 1) * s.taps_c];
            let (f0, f1, f2, f3) = (f(0), f(1), f(2), f(3));
            let mut acc = [0i32; 4];
            for (x0, t0, len) in runs.clone() {
                let xs = &x[x0 + x_ch..][..len];
                let fs = [&f0[t0..], &f1[t0..], &f2[t0..], &f3[t0..]];
                let d = dot4_offset(xs, fs, off, to_i32);
                for (a, d) in acc.iter_mut().zip(d) {
                    *a = a.wrapping_add(d);
                }
            }
            for (k, &a) in acc.iter().enumerate() {
                out_px[o + k] = finish(q, a, bias, o + k);
            }
            o += 4;
        }
        for o in o..end {
            let f_o = &filter[o * s.taps_c..(o + 1) * s.taps_c];
            let mut acc = 0i32;
            for (x0, t0, len) in runs.clone() {
                let xs = &x[x0 + x_ch..][..len];
                acc = acc.wrapping_add(dot_offset(xs, &f_o[t0..t0 + len], off, to_i32));
            }
            out_px[o] = finish(q, acc, bias, o);
        }
    }
}

/// One output pixel of a pointwise convolution from one input pixel `x` (`in_c` values).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn pointwise_pixel<T: Copy>(
    q: &ChannelQuantS8,
    x: &[T],
    to_i32: impl Fn(T) -> i32 + Copy,
    filter: &[i8],
    bias: Option<&[i32]>,
    out_px: &mut [i8],
    cin_g: usize,
    cout_g: usize,
) {
    let shape = BlockShape {
        taps_c: cin_g,
        cin_g,
        cout_g,
    };
    let run = core::iter::once((0, 0, cin_g));
    pixel_blocks(q, x, to_i32, filter, bias, out_px, shape, run);
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
/// the overlap condition and the scratch length. (NEON builds run `neon::overlapping_loop`.)
#[allow(clippy::too_many_arguments)]
#[cfg_attr(bfmd_neon, allow(dead_code))]
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
