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
//! [`crate::s8::conv::neon`]. The in-place variant keeps the portable loop (its one-plane
//! scratch schedule walks a single channel at a time).

use super::{check_depthwise_s8, depthwise_conv_s8_scratch_len, DepthwiseS8Params};
use crate::error::{check_min_len, Result};
use crate::reference::conv::for_each_window;
use crate::s8::conv::neon::{load_s8x16, store_s8x16, StageS8};
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
        depthwise_conv_s8_scratch_len(&p.geometry),
        scratch.len(),
    )?;
    // SAFETY: this module is compiled only when the build enables NEON.
    unsafe { depthwise_loop(p, input, filter, bias, output, mult) };
    Ok(())
}

/// `acc += (x + off) * w` on sixteen channels (`acc[i]` holds channels `4i..4i + 4`).
#[target_feature(enable = "neon")]
#[inline]
fn mac16(acc: &mut [int32x4_t; 4], x: int8x16_t, w: int8x16_t, off: int16x8_t) {
    let (xl, xh) = (vaddw_s8(off, vget_low_s8(x)), vaddw_high_s8(off, x));
    let (wl, wh) = (vmovl_s8(vget_low_s8(w)), vmovl_high_s8(w));
    acc[0] = vmlal_s16(acc[0], vget_low_s16(xl), vget_low_s16(wl));
    acc[1] = vmlal_high_s16(acc[1], xl, wl);
    acc[2] = vmlal_s16(acc[2], vget_low_s16(xh), vget_low_s16(wh));
    acc[3] = vmlal_high_s16(acc[3], xh, wh);
}

/// The depthwise loop; arguments are checked.
#[target_feature(enable = "neon")]
fn depthwise_loop(
    p: &DepthwiseS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    mult: usize,
) {
    let g = &p.geometry;
    let (in_c, out_c) = (g.input.c, g.output.c);
    // The input offset is validated to -127..=128, so it fits an int16 lane.
    let off = vdupq_n_s16(p.quant.input_offset as i16);
    let mut c0 = 0;
    while c0 < out_c {
        let n = CB.min(out_c - c0);
        let stage = StageS8::new(&p.quant, bias, c0, n);
        for_each_window(g, |px, window| {
            let mut acc = [vdupq_n_s32(0); 4];
            window.for_each_tap(g, |ipx, t| {
                let x_px = &input[ipx * in_c..][..in_c];
                let x = if mult == 1 {
                    load_s8x16(&x_px[c0..c0 + n])
                } else {
                    let mut lanes = [0i8; CB];
                    for (j, l) in lanes[..n].iter_mut().enumerate() {
                        *l = x_px[(c0 + j) / mult];
                    }
                    load_s8x16(&lanes)
                };
                let w = load_s8x16(&filter[t * out_c + c0..][..n]);
                mac16(&mut acc, x, w, off);
            });
            let v = [0, 1, 2, 3].map(|i| stage.finish4(4 * i, acc[i]));
            store_s8x16(&mut output[px * out_c + c0..][..n], v);
        });
        c0 += n;
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
