//! NEON (aarch64) loop of the f16 depthwise convolution: sixteen output channels per step,
//! widened to `f32` with `FCVTL`, each channel's taps accumulated in order with `FMLA .4s`,
//! then bias, clamp and one rounding (`FCVTN`). Bit-identical to the portable loop (see
//! [`super`]): a fused multiply-add rounds once, like the portable add of an exact product.
//! A channel multiplier above 1 gathers input channel `oc / multiplier` into each lane; a
//! block narrower than sixteen channels loads zero-filled copies and stores only its lanes.

use super::{check, DepthwiseF16Params};
use crate::error::Result;
use crate::f16::conv::neon::{load_f16x8, store_f16x4, widen_hi, widen_lo, StageF16};
use crate::reference::conv::for_each_window;
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

/// The depthwise loop; arguments are checked.
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
    let (in_c, out_c) = (g.input.c, g.output.c);
    let mut c0 = 0;
    while c0 < out_c {
        let n = CB.min(out_c - c0);
        let stage = StageF16::new(bias, p.act_min, p.act_max, c0, n);
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
            let out = &mut output[px * out_c + c0..][..n];
            for (i, chunk) in out.chunks_mut(4).enumerate() {
                store_f16x4(chunk, stage.finish4(4 * i, acc[i]));
            }
        });
        c0 += n;
    }
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
