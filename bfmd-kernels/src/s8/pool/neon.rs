//! NEON (aarch64) loops of int8 max pool, average pool and MEAN, sixteen channels per step.
//!
//! Bit-identical to the portable loops:
//!
//! * max pool: `SMAX` over the window from -128, then the clamp (`SMAX`/`SMIN`);
//! * average pool: the window sum in int32 lanes (`SXTL` + `SADDW`), then TFLM's rounded
//!   division, exactly ([`rounded_average4`]);
//! * MEAN: the int32 channel sums, then the exact vector requantization of
//!   [`crate::s8::conv::neon`].
//!
//! Channels past a multiple of 16 load zero-padded copies and store only their lanes.

use super::{check_mean_s8, MeanS8Params, PoolS8Params};
use crate::error::Result;
use crate::reference::pool::{for_each_window, PoolWindow};
use crate::s8::conv::neon::{load_s8x16, requantize4, store_i8x16, store_s8x16};
use crate::shape::Shape;
use core::arch::aarch64::*;

/// Channels per step.
const CB: usize = 16;

/// NEON [`super::max_pool_s8`].
pub(crate) fn max_pool_s8(p: &PoolS8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    p.check(input.len(), output.len())?;
    // SAFETY: this module is compiled only when the build enables NEON.
    unsafe { max_loop(p, input, output) };
    Ok(())
}

/// Calls `tap(x)` with sixteen channels `c0..c0 + len` of every in-bounds tap of window
/// `win` of image `n` (fewer than sixteen: zero-filled). Full blocks are read without per-tap
/// bounds checks after checking the window's last tap, the largest index.
#[target_feature(enable = "neon")]
#[inline]
fn for_each_tap16(
    input: &[i8],
    is: Shape,
    n: usize,
    win: PoolWindow,
    c0: usize,
    len: usize,
    mut tap: impl FnMut(int8x16_t),
) {
    if win.y_start == win.y_end || win.x_start == win.x_end {
        return;
    }
    let at = |y: usize, x: usize| is.index(n, y, x, c0);
    if len == CB {
        let last = at(win.y_end - 1, win.x_end - 1);
        assert!(last + CB <= input.len());
        for y in win.y_start..win.y_end {
            let row = at(y, win.x_start);
            for i in 0..win.x_end - win.x_start {
                // SAFETY: the index is at most `last` (it grows with y and x), whose 16 bytes
                // the assertion above keeps in bounds.
                tap(unsafe { vld1q_s8(input.as_ptr().add(row + i * is.c)) });
            }
        }
    } else {
        for y in win.y_start..win.y_end {
            for x in win.x_start..win.x_end {
                let i = at(y, x);
                tap(load_s8x16(&input[i..i + len]));
            }
        }
    }
}

#[target_feature(enable = "neon")]
fn max_loop(p: &PoolS8Params, input: &[i8], output: &mut [i8]) {
    let (is, c) = (p.geometry.input, p.geometry.output.c);
    // The clamp bounds are checked to lie in the int8 range.
    let (lo, hi) = (vdupq_n_s8(p.act_min as i8), vdupq_n_s8(p.act_max as i8));
    for_each_window(&p.geometry, |n, out, win| {
        for c0 in (0..c).step_by(CB) {
            let len = CB.min(c - c0);
            let mut m = vdupq_n_s8(-128);
            for_each_tap16(input, is, n, win, c0, len, |x| m = vmaxq_s8(m, x));
            let m = vminq_s8(vmaxq_s8(m, lo), hi);
            store_i8x16(&mut output[out + c0..out + c0 + len], m);
        }
    });
}

/// Adds sixteen int8 lanes to four int32x4 sums (lanes in order).
#[target_feature(enable = "neon")]
#[inline]
fn add16(acc: &mut [int32x4_t; 4], x: int8x16_t) {
    let (lo, hi) = (vmovl_s8(vget_low_s8(x)), vmovl_high_s8(x));
    acc[0] = vaddw_s16(acc[0], vget_low_s16(lo));
    acc[1] = vaddw_high_s16(acc[1], lo);
    acc[2] = vaddw_s16(acc[2], vget_low_s16(hi));
    acc[3] = vaddw_high_s16(acc[3], hi);
}

/// TFLM's rounded average ([`super::portable::rounded_average`]) of four sums by one `count` in `1..=2^23`,
/// with `|sum| <= 128 * count`.
///
/// The rounded dividend `a = sum +- count / 2` is divided in `f32` by multiplying with
/// `1 / count`: relative error below `3 * 2^-24`, so for `|a / count| <= 129` the estimate is
/// within `2.4e-5` of the quotient and its truncation within one of C's truncating division.
/// The remainder `a - q * count` (exact in int32) then says which way to correct: `q` is right
/// when the remainder lies in `0..count` for `a >= 0` and in `-count + 1..=0` for `a < 0`.
#[target_feature(enable = "neon")]
#[inline]
fn rounded_average4(sum: int32x4_t, count: i32) -> int32x4_t {
    let c = vdupq_n_s32(count);
    let half = vdupq_n_s32(count / 2);
    let zero = vdupq_n_s32(0);
    let positive = vcgtq_s32(sum, zero);
    let a = vbslq_s32(positive, vaddq_s32(sum, half), vsubq_s32(sum, half));
    let q = vcvtq_s32_f32(vmulq_f32(vcvtq_f32_s32(a), vdupq_n_f32(1.0 / count as f32)));
    let r = vmlsq_s32(a, q, c);
    let nonneg = vcgeq_s32(a, zero);
    let too_big = vbslq_u32(nonneg, vcgeq_s32(r, c), vcgtq_s32(r, zero));
    let too_small = vbslq_u32(nonneg, vcltq_s32(r, zero), vcleq_s32(r, vnegq_s32(c)));
    // Masks are all ones (-1) where set: subtracting `too_big` adds 1, adding `too_small`
    // subtracts 1.
    vaddq_s32(
        vsubq_s32(q, vreinterpretq_s32_u32(too_big)),
        vreinterpretq_s32_u32(too_small),
    )
}

/// NEON [`super::avg_pool_s8`].
pub(crate) fn avg_pool_s8(p: &PoolS8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    p.check(input.len(), output.len())?;
    // SAFETY: this module is compiled only when the build enables NEON.
    unsafe { avg_loop(p, input, output) };
    Ok(())
}

#[target_feature(enable = "neon")]
fn avg_loop(p: &PoolS8Params, input: &[i8], output: &mut [i8]) {
    let (is, c) = (p.geometry.input, p.geometry.output.c);
    // The window area is at most 2^23 (checked by `PoolS8Params::check`).
    let full = (p.geometry.kernel_h * p.geometry.kernel_w) as i32;
    let (lo, hi) = (vdupq_n_s32(p.act_min), vdupq_n_s32(p.act_max));
    for_each_window(&p.geometry, |n, out, win: PoolWindow| {
        let taps = win.in_bounds() as i32;
        // TFLite divides by the in-bounds taps; `count_include_pad` by the whole window, the
        // padded taps adding the zero point (see the portable loop).
        let (init, count) = if p.count_include_pad {
            ((full - taps) * p.zero_point, full)
        } else {
            (0, taps)
        };
        for c0 in (0..c).step_by(CB) {
            let len = CB.min(c - c0);
            let mut acc = [vdupq_n_s32(init); 4];
            for_each_tap16(input, is, n, win, c0, len, |x| add16(&mut acc, x));
            let f = |s: int32x4_t| vminq_s32(vmaxq_s32(rounded_average4(s, count), lo), hi);
            let v = [f(acc[0]), f(acc[1]), f(acc[2]), f(acc[3])];
            store_s8x16(&mut output[out + c0..out + c0 + len], v);
        }
    });
}

/// NEON [`super::mean_s8`].
pub(crate) fn mean_s8(
    p: &MeanS8Params,
    input: Shape,
    input_data: &[i8],
    output: &mut [i8],
) -> Result<()> {
    let count = check_mean_s8(p, input, input_data.len(), output.len())?;
    // SAFETY: this module is compiled only when the build enables NEON.
    unsafe { mean_loop(p, input, input_data, output, count) };
    Ok(())
}

#[target_feature(enable = "neon")]
fn mean_loop(p: &MeanS8Params, input: Shape, data: &[i8], output: &mut [i8], count: usize) {
    let (multiplier, shift) = p.folded(count);
    let (mult, left, right) = (
        vdupq_n_s32(multiplier),
        vdupq_n_s32(shift.max(0)),
        vdupq_n_s32(shift.min(0)),
    );
    // count <= 2^23, so neither the sums nor the zero-point correction overflow an i32.
    let zero_sum = vdupq_n_s32(p.input_zero_point * count as i32);
    let (zp_out, lo, hi) = (
        vdupq_n_s32(p.output_zero_point),
        vdupq_n_s32(-128),
        vdupq_n_s32(127),
    );
    let c = input.c;
    for n in 0..input.n {
        let image = &data[n * count * c..(n + 1) * count * c];
        for c0 in (0..c).step_by(CB) {
            let len = CB.min(c - c0);
            let mut acc = [vdupq_n_s32(0); 4];
            for pixel in image.chunks_exact(c) {
                add16(&mut acc, load_s8x16(&pixel[c0..c0 + len]));
            }
            let f = |s: int32x4_t| {
                let scaled = requantize4(vsubq_s32(s, zero_sum), mult, left, right);
                vminq_s32(vmaxq_s32(vaddq_s32(scaled, zp_out), lo), hi)
            };
            let v = [f(acc[0]), f(acc[1]), f(acc[2]), f(acc[3])];
            store_s8x16(&mut output[n * c + c0..n * c + c0 + len], v);
        }
    }
}

/// [`rounded_average4`] against the scalar rule, lane by lane.
#[cfg(test)]
#[target_feature(enable = "neon")]
fn rounded_average_lanes(sums: [i32; 4], count: i32) -> [i32; 4] {
    let v = rounded_average4(crate::s8::conv::neon::load_i32x4(&sums), count);
    let mut out = [0i32; 4];
    // SAFETY: `out` holds four writable `i32`.
    unsafe { vst1q_s32(out.as_mut_ptr(), v) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::FusedActivation;
    use crate::reference::pool::pool_geometry;
    use crate::s8::conv::neon::tests::Rng;
    use crate::s8::pool::portable;
    use crate::s8::pool::portable::rounded_average;
    use crate::shape::Padding;

    fn check_division(sums: [i32; 4], count: i32) {
        let want = sums.map(|s| rounded_average(s, count));
        // SAFETY: the test binary runs on the NEON CPU this module is built for.
        let got = unsafe { rounded_average_lanes(sums, count) };
        assert_eq!(got, want, "sums {sums:?} / {count}");
    }

    #[test]
    fn vector_rounded_average_is_exact() {
        // Every sum of every count up to 64 (exhaustive), then large counts at the extremes
        // and around every multiple of the count (where an estimate could truncate wrongly).
        for count in 1..=64 {
            let lim = 128 * count;
            let mut s = -lim;
            while s <= lim {
                check_division([s, s + 1, s + 2, s + 3].map(|v| v.min(lim)), count);
                s += 4;
            }
        }
        let mut rng = Rng::new(5);
        for _ in 0..100_000 {
            let count = rng.range(1, 1 << 23) as i32;
            let lim = 128 * count as i64;
            let base = rng.range(-128, 127) * count as i64;
            let sums = [0; 4].map(|_| {
                (base + rng.range(-2, 2) + (count / 2) as i64 * rng.range(-1, 1)).clamp(-lim, lim)
                    as i32
            });
            check_division(sums, count);
            let sums = [0; 4].map(|_| rng.range(-lim, lim) as i32);
            check_division(sums, count);
        }
    }

    #[test]
    fn pools_match_portable() {
        let mut rng = Rng::new(9);
        let shapes = [
            (Shape::new(1, 3, 3, 256), (3, 3), (1, 1), Padding::Valid),
            (Shape::new(2, 7, 6, 37), (3, 3), (2, 2), Padding::Same),
            (Shape::new(1, 5, 5, 20), (2, 3), (1, 2), Padding::Same),
            (Shape::new(1, 9, 4, 3), (5, 5), (3, 1), Padding::Same),
        ];
        for (shape, kernel, stride, padding) in shapes {
            let g = pool_geometry(shape, kernel, stride, padding).unwrap();
            let input = rng.vec_i8(shape.len());
            for act in [FusedActivation::None, FusedActivation::Relu6] {
                let zp = rng.range(-128, 127) as i32;
                let base = PoolS8Params::from_scales(g, 0.05, zp, 0.05, zp, act).unwrap();
                for p in [base, base.with_count_include_pad(true)] {
                    let mut want = vec![0i8; g.output.len()];
                    let mut got = vec![0i8; g.output.len()];
                    portable::avg_pool_s8(&p, &input, &mut want).unwrap();
                    avg_pool_s8(&p, &input, &mut got).unwrap();
                    assert_eq!(got, want, "avg {shape:?} {p:?}");
                    portable::max_pool_s8(&p, &input, &mut want).unwrap();
                    max_pool_s8(&p, &input, &mut got).unwrap();
                    assert_eq!(got, want, "max {shape:?} {p:?}");
                }
            }
            let (s_in, s_out) = (
                0.01 * rng.range(1, 100) as f32,
                0.01 * rng.range(1, 100) as f32,
            );
            let z = rng.range(-128, 127) as i32;
            let p = MeanS8Params::from_scales(s_in, z, s_out, -z / 2).unwrap();
            let mut want = vec![0i8; shape.n * shape.c];
            let mut got = vec![0i8; shape.n * shape.c];
            portable::mean_s8(&p, shape, &input, &mut want).unwrap();
            mean_s8(&p, shape, &input, &mut got).unwrap();
            assert_eq!(got, want, "mean {shape:?} {p:?}");
        }
    }
}
