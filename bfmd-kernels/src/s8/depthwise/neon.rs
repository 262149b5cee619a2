//! NEON (aarch64) inner loop of the int8 depthwise convolution.
//!
//! Sixteen output channels per step: for each block of channels the bias and requantization
//! constants are staged once ([`StageS8`]), then every output pixel accumulates its valid taps
//! in four int32x4 registers: `x + input_offset` widened to int16 with `SADDW`, the filter
//! with `SXTL`, products accumulated with `SMLAL`/`SMLAL2`. A channel multiplier above 1 gathers
//! input channel `oc / multiplier` into each lane; a block narrower than 16 channels loads
//! zero-padded copies (a zero weight contributes nothing) and stores only its channels.
//!
//! `SDOT` is not used even when the build has it: it sums four products along a vector, but a
//! depthwise output sums along taps, which NHWC stores `channels` apart; rearranging them would
//! cost more than it saves for 3x3 and 5x5 windows.
//!
//! Bit-identical to the portable loop: integer sums in wrapping 32-bit arithmetic do not depend
//! on their order, and the requantization is the exact vector form of
//! [`crate::s8::conv::neon`]. The in-place variant ([`depthwise_inplace_loop`]) keeps the
//! portable one-plane schedule and vectorizes across output columns instead.

use super::{check_depthwise_s8, depthwise_conv_s8_scratch_len_neon, DepthwiseS8Params};
use crate::error::{check_min_len, Result};
use crate::reference::conv::{for_each_window, tap_range};
use crate::s8::conv::neon::{load_s8x16, requantize4, store_i8x16, store_s8x4, StageS8};
use crate::s8::conv::portable::{finish, mac};
use crate::shape::ConvGeometry;
use core::arch::aarch64::*;

/// Output channels per block: one int8x16 register.
const CB: usize = 16;

/// [`super::depthwise_conv_s8`] on the NEON path.
pub(crate) fn depthwise_conv_s8(
    p: &DepthwiseS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) -> Result<()> {
    let mult = check_depthwise_s8(p, input.len(), filter.len(), bias, output.len())?;
    check_min_len(
        "scratch",
        depthwise_conv_s8_scratch_len_neon(&p.geometry),
        scratch.len(),
    )?;
    // SAFETY: this module is compiled only when the build enables NEON.
    unsafe { depthwise_loop(p, input, filter, bias, output, mult) };
    Ok(())
}

/// `acc += (x + off) * w` on sixteen channels (`acc[i]` holds channels `4i..4i + 4`), the
/// weights already widened to int16 (`w[0]`: channels 0..8, `w[1]`: 8..16).
#[target_feature(enable = "neon")]
#[inline]
fn mac16(acc: &mut [int32x4_t; 4], x: int8x16_t, w: [int16x8_t; 2], off: int16x8_t) {
    let (xl, xh) = (vaddw_s8(off, vget_low_s8(x)), vaddw_high_s8(off, x));
    acc[0] = vmlal_s16(acc[0], vget_low_s16(xl), vget_low_s16(w[0]));
    acc[1] = vmlal_high_s16(acc[1], xl, w[0]);
    acc[2] = vmlal_s16(acc[2], vget_low_s16(xh), vget_low_s16(w[1]));
    acc[3] = vmlal_high_s16(acc[3], xh, w[1]);
}

/// Sixteen int8 weights widened to int16.
#[target_feature(enable = "neon")]
#[inline]
fn widen16(w: int8x16_t) -> [int16x8_t; 2] {
    [vmovl_s8(vget_low_s8(w)), vmovl_high_s8(w)]
}

/// The depthwise loop; arguments are checked. Full blocks of sixteen channels with
/// multiplier 1 take [`block16`]; the rest (a channel tail, multipliers above 1) the lane-by-lane
/// gathering loop [`block_any`].
#[target_feature(enable = "neon")]
fn depthwise_loop(
    p: &DepthwiseS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    mult: usize,
) {
    let out_c = p.geometry.output.c;
    let mut c0 = 0;
    while c0 < out_c {
        let n = CB.min(out_c - c0);
        let stage = StageS8::new(&p.quant, bias, c0, n);
        if mult == 1 && n == CB {
            block16(p, input, filter, output, c0, &stage);
        } else {
            block_any(p, input, filter, output, mult, c0, n, &stage);
        }
        c0 += n;
    }
}

/// The output columns `lo..hi` whose windows lie inside the input horizontally: `ox * sw >= pl`
/// and `ox * sw - pl + (kw - 1) * dw <= w - 1`.
pub(crate) fn interior_columns(g: &ConvGeometry) -> (usize, usize) {
    let (w, ow, kw) = (g.input.w, g.output.w, g.kernel_w);
    let (sw, dw, pl) = (g.stride_w, g.dilation_w, g.pad_left);
    let span = (kw - 1) * dw;
    let lo = pl.div_ceil(sw).min(ow);
    let hi = if w + pl > span {
        ((w - 1 + pl - span) / sw + 1).clamp(lo, ow)
    } else {
        lo
    };
    (lo, hi)
}

/// Channels `c0..c0 + 16` (multiplier 1) of every output pixel.
///
/// The output columns whose windows lie inside the input horizontally are known once per call
/// (`interior`); along each row they go two at a time, sharing each widened weight, and the
/// columns at the borders go one at a time with their clipped windows. Accumulators start at
/// the bias. Each pixel's input reads are bounds-checked once (at the window's last tap, the
/// largest index) and then made without per-tap checks.
#[target_feature(enable = "neon")]
fn block16(
    p: &DepthwiseS8Params,
    input: &[i8],
    filter: &[i8],
    output: &mut [i8],
    c0: usize,
    stage: &StageS8,
) {
    let g = &p.geometry;
    let (h, w, c) = (g.input.h, g.input.w, g.input.c);
    let (oh, ow) = (g.output.h, g.output.w);
    let (kw, taps) = (g.kernel_w, g.kernel_h * g.kernel_w);
    let (sw, dw, pl) = (g.stride_w, g.dilation_w, g.pad_left);
    let off = vdupq_n_s16(p.quant.input_offset as i16);
    let bias = [
        stage.bias4(0),
        stage.bias4(4),
        stage.bias4(8),
        stage.bias4(12),
    ];
    // Filter tap `t` of this block is filter[t * c + c0..][..16]; the last one ends in bounds.
    assert!(taps == 0 || (taps - 1) * c + c0 + CB <= filter.len());
    let wtap = |t: usize| {
        // SAFETY: `t < taps`, and the assertion above bounds the last tap's 16 bytes.
        widen16(unsafe { vld1q_s8(filter.as_ptr().add(t * c + c0)) })
    };
    let (lo, hi) = interior_columns(g);
    let step = sw * c;
    for b in 0..g.input.n {
        for oy in 0..oh {
            let (ky0, ky1) = tap_range(oy, g.stride_h, g.pad_top, g.dilation_h, g.kernel_h, h);
            let out_row = (b * oh + oy) * ow;
            // `P` pixels from column `ox` whose valid taps are `kx0..kx1`.
            let mut pixels = |ox: usize, (kx0, kx1): (usize, usize), pair: bool| {
                // Element index of tap (ky, kx) of pixel `ox`, channel c0 (valid taps only).
                let at = |ky: usize, kx: usize| {
                    let iy = b * h + oy * g.stride_h + ky * g.dilation_h - g.pad_top;
                    (iy * w + ox * sw + kx * dw - pl) * c + c0
                };
                let mut acc = bias;
                let mut acc2 = bias;
                if ky0 < ky1 && kx0 < kx1 {
                    // The largest index read: the last tap, plus the second pixel's step.
                    let last = at(ky1 - 1, kx1 - 1) + if pair { step } else { 0 };
                    assert!(last + CB <= input.len());
                    for ky in ky0..ky1 {
                        for kx in kx0..kx1 {
                            let i = at(ky, kx);
                            let wv = wtap(ky * kw + kx);
                            // SAFETY: `i` is at most `last` (indices grow with ky and kx),
                            // whose 16 bytes the assertion above keeps in bounds.
                            let x = unsafe { vld1q_s8(input.as_ptr().add(i)) };
                            mac16(&mut acc, x, wv, off);
                            if pair {
                                // SAFETY: as above, `i + step <= last`.
                                let x2 = unsafe { vld1q_s8(input.as_ptr().add(i + step)) };
                                mac16(&mut acc2, x2, wv, off);
                            }
                        }
                    }
                }
                let o = (out_row + ox) * g.output.c + c0;
                store_i8x16(&mut output[o..o + CB], stage.finish16_biased(0, acc));
                if pair {
                    let o = o + g.output.c;
                    store_i8x16(&mut output[o..o + CB], stage.finish16_biased(0, acc2));
                }
            };
            let clipped = |ox: usize| tap_range(ox, sw, pl, dw, kw, w);
            for ox in 0..lo {
                pixels(ox, clipped(ox), false);
            }
            let mut ox = lo;
            while ox + 2 <= hi {
                pixels(ox, (0, kw), true);
                ox += 2;
            }
            for ox in ox..ow {
                pixels(ox, clipped(ox), false);
            }
        }
    }
}

/// Channels `c0..c0 + n` (`n <= 16`) of every output pixel, any multiplier: input channel
/// `oc / mult` is gathered into each lane, the block's weights are zero-padded.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "neon")]
fn block_any(
    p: &DepthwiseS8Params,
    input: &[i8],
    filter: &[i8],
    output: &mut [i8],
    mult: usize,
    c0: usize,
    n: usize,
    stage: &StageS8,
) {
    let g = &p.geometry;
    let (in_c, out_c) = (g.input.c, g.output.c);
    let off = vdupq_n_s16(p.quant.input_offset as i16);
    for_each_window(g, |px, window| {
        let mut acc = [vdupq_n_s32(0); 4];
        window.for_each_tap(g, |ipx, t| {
            let x_px = &input[ipx * in_c..][..in_c];
            let mut lanes = [0i8; CB];
            for (j, l) in lanes[..n].iter_mut().enumerate() {
                *l = x_px[(c0 + j) / mult];
            }
            let w = widen16(load_s8x16(&filter[t * out_c + c0..][..n]));
            mac16(&mut acc, load_s8x16(&lanes), w, off);
        });
        let acc = [
            vaddq_s32(acc[0], stage.bias4(0)),
            vaddq_s32(acc[1], stage.bias4(4)),
            vaddq_s32(acc[2], stage.bias4(8)),
            vaddq_s32(acc[3], stage.bias4(12)),
        ];
        store_i8x16(
            &mut output[px * out_c + c0..][..n],
            stage.finish16_biased(0, acc),
        );
    });
}

/// The loop of [`super::depthwise_conv_s8_inplace`] on NEON; the caller has checked
/// everything.
///
/// The schedule is the portable one (each channel's input plane is parked in `scratch`, then
/// that channel's outputs are written over its input), so the same placements are valid; the
/// plane is then processed eight output columns at a time where the windows lie inside the
/// input horizontally and the stride is 1 or 2 (`SMLAL` by the tap's weight, the columns of
/// stride 2 deinterleaved by `LD2`), one column at a time with the portable arithmetic
/// elsewhere. Bit-identical: the same integer sums and the exact vector requantization.
pub(crate) fn depthwise_inplace_loop(
    p: &DepthwiseS8Params,
    buf: &mut [i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    scratch: &mut [u8],
) {
    // SAFETY: this module is compiled only when the build enables NEON.
    unsafe { inplace(p, buf, filter, bias, scratch) };
}

/// Output columns per vector step of the in-place loop.
const COLS: usize = 8;

#[target_feature(enable = "neon")]
fn inplace(
    p: &DepthwiseS8Params,
    buf: &mut [i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    scratch: &mut [u8],
) {
    let g = &p.geometry;
    let q = &p.quant;
    let (h, w, c) = (g.input.h, g.input.w, g.input.c);
    let (oh, ow) = (g.output.h, g.output.w);
    let (kw, sw, dw, pl) = (g.kernel_w, g.stride_w, g.dilation_w, g.pad_left);
    let (lo, hi) = interior_columns(g);
    let off = vdupq_n_s16(q.input_offset as i16);
    let (omin, omax) = (vdupq_n_s32(q.act_min), vdupq_n_s32(q.act_max));
    let ooff = vdupq_n_s32(q.output_offset);
    let plane = &mut scratch[..h * w];
    for b in 0..g.input.n {
        let (in_base, out_base) = (b * h * w * c, b * oh * ow * c);
        for ch in 0..c {
            for (i, d) in plane.iter_mut().enumerate() {
                *d = buf[in_base + i * c + ch] as u8;
            }
            // SAFETY: `u8` and `i8` have the same size and alignment; the view lives no longer
            // than `plane`, which is not written while it exists.
            let x: &[i8] =
                unsafe { core::slice::from_raw_parts(plane.as_ptr().cast::<i8>(), plane.len()) };
            let (m, shift) = q.params(ch);
            let (mult, left, right) = (
                vdupq_n_s32(m),
                vdupq_n_s32(shift.max(0)),
                vdupq_n_s32(shift.min(0)),
            );
            let bias_v = vdupq_n_s32(bias.map_or(0, |b| b[ch]));
            for oy in 0..oh {
                let (ky0, ky1) = tap_range(oy, g.stride_h, g.pad_top, g.dilation_h, g.kernel_h, h);
                // Plane index of tap (ky, kx) of output column `ox` (valid taps only).
                let at = |ky: usize, kx: usize, ox: usize| {
                    (oy * g.stride_h + ky * g.dilation_h - g.pad_top) * w + ox * sw + kx * dw - pl
                };
                let out_row = out_base + oy * ow * c + ch;
                // One column with the portable arithmetic.
                let column = |ox: usize, buf: &mut [i8]| {
                    let (kx0, kx1) = tap_range(ox, sw, pl, dw, kw, w);
                    let mut acc = 0i32;
                    for ky in ky0..ky1 {
                        for kx in kx0..kx1 {
                            let t = filter[(ky * kw + kx) * c + ch] as i32;
                            acc = mac(acc, x[at(ky, kx, ox)] as i32, q.input_offset, t);
                        }
                    }
                    buf[out_row + ox * c] = finish(q, acc, bias, ch);
                };
                // Eight interior columns from `ox`: stride 1 reads eight bytes a tap, stride 2
                // sixteen (LD2 keeps the even ones). The last tap's read, the largest index,
                // is checked once (the other taps read below it); `false` when it would leave
                // the plane (stride 2 at the end of the last row), leaving the columns to
                // the caller.
                let span = if sw == 1 { COLS } else { 2 * COLS };
                let block = |ox: usize, buf: &mut [i8]| {
                    let last = at(ky1 - 1, kw - 1, ox);
                    if last + span > x.len() {
                        return false;
                    }
                    let mut acc = [bias_v, bias_v];
                    for ky in ky0..ky1 {
                        let row = at(ky, 0, ox);
                        for kx in 0..kw {
                            let ptr = x.as_ptr().wrapping_add(row + kx * dw);
                            let v = if sw == 1 {
                                // SAFETY: `row + kx * dw <= last`, and the assertion above keeps
                                // `span` bytes from `last` in bounds.
                                unsafe { vld1_s8(ptr) }
                            } else {
                                // SAFETY: as above.
                                unsafe { vld2_s8(ptr) }.0
                            };
                            let xv = vaddw_s8(off, v);
                            let t = filter[(ky * kw + kx) * c + ch] as i16;
                            acc[0] = vmlal_n_s16(acc[0], vget_low_s16(xv), t);
                            acc[1] = vmlal_high_n_s16(acc[1], xv, t);
                        }
                    }
                    let r0 = requantize4(acc[0], mult, left, right);
                    let r1 = requantize4(acc[1], mult, left, right);
                    let mut lanes = [0i8; COLS];
                    store_s8x4(
                        &mut lanes[..4],
                        vminq_s32(vmaxq_s32(vaddq_s32(r0, ooff), omin), omax),
                    );
                    store_s8x4(
                        &mut lanes[4..],
                        vminq_s32(vmaxq_s32(vaddq_s32(r1, ooff), omin), omax),
                    );
                    for (j, &l) in lanes.iter().enumerate() {
                        buf[out_row + (ox + j) * c] = l;
                    }
                    true
                };
                // Vector blocks from `lo`, the last one ending at `hi` (it may recompute a few
                // columns, with the same result); each helper has one call site so that it is
                // inlined. `done` is the first column no block wrote.
                let mut done = lo;
                if sw <= 2 && ky0 < ky1 && hi - lo >= COLS {
                    let mut ox = lo;
                    while ox < hi {
                        let start = ox.min(hi - COLS);
                        if !block(start, buf) {
                            break;
                        }
                        ox = start + COLS;
                        done = ox;
                    }
                }
                for ox in (0..lo).chain(done..ow) {
                    column(ox, buf);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s8::conv::neon::tests::Case;
    use crate::s8::conv::ConvS8Params;
    use crate::s8::depthwise::portable;
    use crate::shape::{ConvGeometry, Padding, Shape};

    #[test]
    fn inplace_matches_portable_on_wide_planes() {
        let same = Padding::Same;
        let explicit = Padding::Explicit {
            top: 0,
            bottom: 2,
            left: 3,
            right: 1,
        };
        // (input, kernel, stride, dilation, padding): rows wide enough for several 8-column
        // steps plus border columns, strides 1, 2 (LD2) and 3 (scalar), dilation.
        let cases = [
            (Shape::new(1, 6, 29, 5), (3, 3), (1, 1), (1, 1), same),
            (Shape::new(2, 7, 40, 3), (3, 3), (2, 2), (1, 1), same),
            (Shape::new(1, 9, 36, 4), (5, 5), (1, 2), (1, 1), explicit),
            (Shape::new(1, 5, 30, 2), (3, 3), (1, 1), (2, 2), same),
            (Shape::new(1, 4, 27, 3), (3, 3), (3, 3), (1, 1), same),
        ];
        for (i, (input, kernel, stride, dilation, padding)) in cases.into_iter().enumerate() {
            let g =
                ConvGeometry::new(input, input.c, kernel, stride, dilation, padding, 1).unwrap();
            let taps = kernel.0 * kernel.1;
            for per_channel in [true, false] {
                let c = Case::new(g, taps * input.c, taps, per_channel, 40 + i as u64);
                let p = ConvS8Params {
                    geometry: g,
                    quant: c.quant(),
                };
                let bias = c.bias.as_deref();
                let mut want = vec![0i8; g.output.len()];
                portable::depthwise_conv_s8(&p, &c.input, &c.filter, bias, &mut want, &mut [])
                    .unwrap();
                let mut buf = c.input.clone();
                let mut scratch = vec![0u8; input.h * input.w];
                super::super::depthwise_conv_s8_inplace(
                    &p,
                    &mut buf,
                    &c.filter,
                    bias,
                    &mut scratch,
                )
                .unwrap();
                assert_eq!(
                    &buf[..want.len()],
                    &want[..],
                    "case {i}, per-channel {per_channel}"
                );
            }
        }
    }

    #[test]
    fn matches_portable_on_channel_blocks_and_multipliers() {
        let explicit = Padding::Explicit {
            top: 1,
            bottom: 2,
            left: 0,
            right: 1,
        };
        // (input, multiplier, kernel, stride, dilation, padding)
        let cases = [
            (
                Shape::new(1, 9, 8, 32),
                1,
                (3, 3),
                (1, 1),
                (1, 1),
                Padding::Same,
            ),
            (
                Shape::new(1, 9, 8, 64),
                1,
                (3, 3),
                (2, 2),
                (1, 1),
                Padding::Same,
            ),
            (
                Shape::new(2, 7, 6, 40),
                1,
                (5, 5),
                (1, 1),
                (1, 1),
                Padding::Same,
            ),
            (Shape::new(1, 6, 7, 24), 1, (5, 5), (2, 2), (1, 1), explicit),
            (
                Shape::new(1, 5, 5, 7),
                3,
                (3, 3),
                (1, 2),
                (2, 1),
                Padding::Same,
            ),
            (
                Shape::new(1, 4, 4, 9),
                2,
                (2, 3),
                (1, 1),
                (1, 1),
                Padding::Valid,
            ),
            (
                Shape::new(1, 1, 1, 33),
                1,
                (3, 3),
                (1, 1),
                (1, 1),
                Padding::Same,
            ),
        ];
        for (i, &(input, mult, kernel, stride, dilation, padding)) in cases.iter().enumerate() {
            let out_c = input.c * mult;
            let g = ConvGeometry::new(input, out_c, kernel, stride, dilation, padding, 1).unwrap();
            let taps = kernel.0 * kernel.1;
            for per_channel in [true, false] {
                let c = Case::new(g, taps * out_c, taps, per_channel, i as u64 * 2 + 1);
                let p = ConvS8Params {
                    geometry: g,
                    quant: c.quant(),
                };
                let bias = c.bias.as_deref();
                let mut want = vec![0i8; g.output.len()];
                portable::depthwise_conv_s8(&p, &c.input, &c.filter, bias, &mut want, &mut [])
                    .unwrap();
                let mut got = vec![0i8; g.output.len()];
                depthwise_conv_s8(&p, &c.input, &c.filter, bias, &mut got, &mut []).unwrap();
                assert_eq!(got, want, "case {i}, per-channel {per_channel}");
            }
        }
    }
}
