//! NEON (aarch64) loop of the f16 depthwise convolution: sixteen output channels per step,
//! widened to `f32` with `FCVTL`, each channel's taps accumulated in order with `FMLA .4s`,
//! then bias, clamp and one rounding (`FCVTN`). Bit-identical to the portable loop (see
//! [`super`]): a fused multiply-add rounds once, like the portable add of an exact product.
//! A channel multiplier above 1 gathers input channel `oc / multiplier` into each lane; a
//! block narrower than sixteen channels loads zero-filled copies and stores only its lanes.

use super::{check, DepthwiseF16Params};
use crate::error::Result;
use crate::f16::conv::neon::{bits, load_f16x8, store_f16x4, widen_hi, widen_lo, StageF16};
use crate::reference::conv::{for_each_window, tap_range};
use crate::s8::depthwise::neon::interior_columns;
use core::arch::aarch64::*;
use half::f16;

/// Output channels per block: four `f32` accumulators.
const CB: usize = 16;

/// [`super::depthwise_conv_f16`] on the NEON path.
pub(crate) fn depthwise_conv_f16(
    p: &DepthwiseF16Params,
    input: &[f16],
    filter: &[f16],
    bias: Option<&[f32]>,
    output: &mut [f16],
    scratch: &mut [u8],
) -> Result<()> {
    let mult = check(p, input, filter, bias, output, scratch)?;
    // SAFETY: this module is compiled only when the build enables NEON.
    unsafe { depthwise_loop(p, input, filter, bias, output, mult) };
    Ok(())
}

/// Sixteen lanes of `s` (fewer when `s` is shorter, zero-filled) as two f16x8 registers.
#[target_feature(enable = "neon")]
#[inline]
fn load16(s: &[f16]) -> [uint16x8_t; 2] {
    let hi = if s.len() > 8 { &s[8..] } else { &[] };
    [load_f16x8(s), load_f16x8(hi)]
}

/// Taps whose widened weights [`block16`] keeps on the stack (5x5; 1.6 KB).
const MAX_TAPS: usize = 25;

/// The depthwise loop; arguments are checked. Full blocks of sixteen channels with
/// multiplier 1 take [`block16`], the rest the lane-by-lane gathering loop [`block_any`].
#[target_feature(enable = "neon")]
fn depthwise_loop(
    p: &DepthwiseF16Params,
    input: &[f16],
    filter: &[f16],
    bias: Option<&[f32]>,
    output: &mut [f16],
    mult: usize,
) {
    let g = &p.geometry;
    let out_c = g.output.c;
    let mut c0 = 0;
    while c0 < out_c {
        let n = CB.min(out_c - c0);
        let stage = StageF16::new(bias, p.act_min, p.act_max, c0, n);
        if mult == 1 && n == CB && g.kernel_h * g.kernel_w <= MAX_TAPS {
            block16(p, input, filter, output, c0, &stage);
        } else {
            block_any(p, input, filter, output, mult, c0, n, &stage);
        }
        c0 += n;
    }
}

/// Sums of sixteen channels: bias, clamp, one rounding, store.
#[target_feature(enable = "neon")]
#[inline]
fn finish16(stage: &StageF16, acc: &[float32x4_t; 4], out: &mut [f16]) {
    for (i, chunk) in out.chunks_mut(4).enumerate() {
        store_f16x4(chunk, stage.finish4(4 * i, acc[i]));
    }
}

/// Channels `c0..c0 + 16` (multiplier 1, at most [`MAX_TAPS`] taps) of every output pixel.
///
/// The block's weights are widened to `f32` once; each output's taps are accumulated in
/// `(filter_y, filter_x)` order from zero, as in the portable loop. The columns whose windows
/// lie inside the input horizontally are known once per call; each pixel's input reads are
/// bounds-checked once, at the window's last tap (the largest index).
#[target_feature(enable = "neon")]
fn block16(
    p: &DepthwiseF16Params,
    input: &[f16],
    filter: &[f16],
    output: &mut [f16],
    c0: usize,
    stage: &StageF16,
) {
    let g = &p.geometry;
    let (h, w, c) = (g.input.h, g.input.w, g.input.c);
    let (oh, ow) = (g.output.h, g.output.w);
    let (kw, taps) = (g.kernel_w, g.kernel_h * g.kernel_w);
    let (sw, dw, pl) = (g.stride_w, g.dilation_w, g.pad_left);
    let mut wf = [[vdupq_n_f32(0.0); 4]; MAX_TAPS];
    for (t, wt) in wf.iter_mut().enumerate().take(taps) {
        let [lo, hi] = load16(&filter[t * c + c0..][..CB]);
        *wt = [widen_lo(lo), widen_hi(lo), widen_lo(hi), widen_hi(hi)];
    }
    let (lo, hi) = interior_columns(g);
    let x = bits(input);
    for b in 0..g.input.n {
        for oy in 0..oh {
            let (ky0, ky1) = tap_range(oy, g.stride_h, g.pad_top, g.dilation_h, g.kernel_h, h);
            let out_row = (b * oh + oy) * ow;
            for ox in 0..ow {
                let (kx0, kx1) = if (lo..hi).contains(&ox) {
                    (0, kw)
                } else {
                    tap_range(ox, sw, pl, dw, kw, w)
                };
                // Element index of tap (ky, kx), channel c0 (valid taps only).
                let at = |ky: usize, kx: usize| {
                    let iy = b * h + oy * g.stride_h + ky * g.dilation_h - g.pad_top;
                    (iy * w + ox * sw + kx * dw - pl) * c + c0
                };
                let mut acc = [vdupq_n_f32(0.0); 4];
                if ky0 < ky1 && kx0 < kx1 {
                    let last = at(ky1 - 1, kx1 - 1);
                    assert!(last + CB <= x.len());
                    for ky in ky0..ky1 {
                        for kx in kx0..kx1 {
                            let i = at(ky, kx);
                            // SAFETY: `i <= last` (indices grow with ky and kx), whose sixteen
                            // halves the assertion above keeps in bounds.
                            let (v0, v1) = unsafe {
                                (
                                    vld1q_u16(x.as_ptr().add(i)),
                                    vld1q_u16(x.as_ptr().add(i + 8)),
                                )
                            };
                            let wt = &wf[ky * kw + kx];
                            acc[0] = vfmaq_f32(acc[0], widen_lo(v0), wt[0]);
                            acc[1] = vfmaq_f32(acc[1], widen_hi(v0), wt[1]);
                            acc[2] = vfmaq_f32(acc[2], widen_lo(v1), wt[2]);
                            acc[3] = vfmaq_f32(acc[3], widen_hi(v1), wt[3]);
                        }
                    }
                }
                let o = (out_row + ox) * g.output.c + c0;
                finish16(stage, &acc, &mut output[o..o + CB]);
            }
        }
    }
}

/// Channels `c0..c0 + n` (`n <= 16`) of every output pixel, any multiplier and window:
/// input channel `oc / mult` is gathered into each lane, the block's weights are zero-padded.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "neon")]
fn block_any(
    p: &DepthwiseF16Params,
    input: &[f16],
    filter: &[f16],
    output: &mut [f16],
    mult: usize,
    c0: usize,
    n: usize,
    stage: &StageF16,
) {
    let g = &p.geometry;
    let (in_c, out_c) = (g.input.c, g.output.c);
    for_each_window(g, |px, window| {
        let mut acc = [vdupq_n_f32(0.0); 4];
        window.for_each_tap(g, |ipx, t| {
            let x_px = &input[ipx * in_c..][..in_c];
            let x = if mult == 1 {
                load16(&x_px[c0..c0 + n])
            } else {
                let mut lanes = [f16::ZERO; CB];
                for (j, l) in lanes[..n].iter_mut().enumerate() {
                    *l = x_px[(c0 + j) / mult];
                }
                load16(&lanes)
            };
            let w = load16(&filter[t * out_c + c0..][..n]);
            for h in 0..2 {
                acc[2 * h] = vfmaq_f32(acc[2 * h], widen_lo(x[h]), widen_lo(w[h]));
                acc[2 * h + 1] = vfmaq_f32(acc[2 * h + 1], widen_hi(x[h]), widen_hi(w[h]));
            }
        });
        finish16(stage, &acc, &mut output[px * out_c + c0..][..n]);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::f16::depthwise::portable;
    use crate::quant::FusedActivation;
    use crate::s8::conv::neon::tests::Rng;
    use crate::shape::{ConvGeometry, Padding, Shape};

    #[test]
    fn matches_portable_bit_for_bit() {
        let mut rng = Rng::new(4);
        let cases = [
            (Shape::new(1, 9, 8, 32), 1, (3, 3), (1, 1), Padding::Same),
            (Shape::new(1, 9, 8, 40), 1, (3, 3), (2, 2), Padding::Same),
            (Shape::new(2, 7, 6, 21), 1, (5, 5), (1, 1), Padding::Same),
            (Shape::new(1, 5, 5, 7), 3, (3, 3), (1, 2), Padding::Valid),
            (Shape::new(1, 8, 9, 32), 1, (5, 5), (2, 1), Padding::Same),
            (Shape::new(1, 8, 9, 16), 1, (7, 7), (1, 1), Padding::Same),
        ];
        for (input, mult, kernel, stride, padding) in cases {
            let out_c = input.c * mult;
            let g = ConvGeometry::new(input, out_c, kernel, stride, (1, 1), padding, 1).unwrap();
            let mut real = |n: usize| -> Vec<f16> {
                (0..n)
                    .map(|_| f16::from_f32(rng.range(-3000, 3000) as f32 / 1024.0))
                    .collect()
            };
            let x = real(g.input.len());
            let w = real(kernel.0 * kernel.1 * out_c);
            let bias: Vec<f32> = real(out_c).iter().map(|v| v.to_f32()).collect();
            for act in [FusedActivation::None, FusedActivation::Relu6] {
                let p = DepthwiseF16Params::new(g, act);
                let mut want = vec![f16::ZERO; g.output.len()];
                portable::depthwise_conv_f16(&p, &x, &w, Some(&bias), &mut want, &mut []).unwrap();
                let mut got = vec![f16::ZERO; g.output.len()];
                depthwise_conv_f16(&p, &x, &w, Some(&bias), &mut got, &mut []).unwrap();
                assert_eq!(got, want, "{input:?} x{mult}");
            }
        }
    }
}
