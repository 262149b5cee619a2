//! Arm DSP-extension loops of int8 max pool, average pool and MEAN.
//!
//! Four channels at a time, one 32-bit load per tap:
//!
//! * max: `SSUB8` + `SEL` keep the lane-wise maximum (and clamp to the activation range);
//! * average and MEAN: `SXTAB16` adds the four int8 lanes into two pairs of int16 lanes, which
//!   hold any sum of up to 255 taps exactly (`255 * 128 < 2^15`); longer windows and MEAN's
//!   reductions move the lanes into `i32` sums every 255 taps.
//!
//! The sums are then divided and requantized with the portable code's arithmetic (TFLM's), so
//! the results are bit-identical to [`super::portable`]: the sums are exact integers either way.
//! The one to three channels left over when the channel count is not a multiple of four are
//! summed one by one.

use super::{MeanS8Params, PoolS8Params};
use crate::quant::multiply_by_quantized_multiplier;
use crate::reference::pool::for_each_window;
use crate::s8::conv::dsp::{clamp4, lanes8, sxtab16, sxtab16_ror8};
use crate::shape::Shape;
use core::arch::asm;
use core::ptr::{read_unaligned, write_unaligned};

/// Taps the int16 lane sums take before they are moved into `i32` (`255 * 128 < 2^15`).
const LANE_TAPS: usize = 255;

/// Lane-wise signed maximum of four int8 lanes (`SSUB8` sets the GE flags, `SEL` picks).
#[inline(always)]
fn max4(a: u32, b: u32) -> u32 {
    let r;
    // SAFETY: register-only DSP instructions; the GE flags they set and read are clobbered.
    unsafe {
        asm!(
            "ssub8 {t}, {a}, {b}",
            "sel {a}, {a}, {b}",
            a = inout(reg) a => r,
            b = in(reg) b,
            t = out(reg) _,
            options(pure, nomem, nostack),
        );
    }
    r
}

/// The four `i32` lane sums of int16 pair words `(s02, s13)` added to `acc`.
#[inline(always)]
fn spill(acc: &mut [i32; 4], s02: u32, s13: u32) {
    acc[0] += s02 as i16 as i32;
    acc[1] += s13 as i16 as i32;
    acc[2] += (s02 >> 16) as i16 as i32;
    acc[3] += (s13 >> 16) as i16 as i32;
}

/// TFLM's rounded division of a pooled sum (`reference/integer_ops/pooling.h`, as
/// [`super::portable::rounded_average`]): `(sum + half) / count` for positive sums and
/// `(sum - half) / count` otherwise, `half = count / 2`, truncating like C. `count >= 1`. One
/// `SDIV`: Rust's `/` would add checks for a zero divisor and for `i32::MIN / -1`, which cannot
/// happen here.
#[inline(always)]
fn rounded_div(sum: i32, count: i32, half: i32) -> i32 {
    let n = if sum > 0 { sum + half } else { sum - half };
    let r;
    // SAFETY: a register-only divide; `count >= 1`, so it neither traps nor overflows.
    unsafe {
        asm!("sdiv {r}, {n}, {d}", r = lateout(reg) r, n = in(reg) n, d = in(reg) count,
             options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// Sums channels `c0..c0 + 4` over the pixels at byte offsets `taps` (channel 0 of each), four
/// lanes at a time.
///
/// # Safety
/// Every `tap + c0 + 4` is at most `base`'s length.
#[inline(always)]
unsafe fn sum4(base: *const i8, c0: usize, taps: impl Iterator<Item = usize>) -> [i32; 4] {
    let mut acc = [0i32; 4];
    let (mut s02, mut s13, mut n) = (0u32, 0u32, 0);
    for t in taps {
        // SAFETY: the caller guarantees the four bytes; unaligned loads are allowed here.
        let v = unsafe { read_unaligned(base.add(t + c0) as *const u32) };
        s02 = sxtab16(s02, v);
        s13 = sxtab16_ror8(s13, v);
        n += 1;
        if n == LANE_TAPS {
            spill(&mut acc, s02, s13);
            (s02, s13, n) = (0, 0, 0);
        }
    }
    spill(&mut acc, s02, s13);
    acc
}

/// Sums channels `c0..c0 + 4` over a window of at most [`LANE_TAPS`] taps: rows `rows` of
/// `cols` pixels, the first at `first`, pixels `c` bytes and rows `row` bytes apart.
///
/// # Safety
/// Every tap's four bytes are inside the input.
#[inline(always)]
unsafe fn window_sum4(
    first: *const i8,
    rows: usize,
    cols: usize,
    row: usize,
    c: usize,
) -> [i32; 4] {
    let (mut s02, mut s13) = (0u32, 0u32);
    let mut r = first;
    for _ in 0..rows {
        let mut t = r;
        for _ in 0..cols {
            // SAFETY: the caller guarantees the tap; unaligned loads are allowed here.
            let v = unsafe { read_unaligned(t as *const u32) };
            s02 = sxtab16(s02, v);
            s13 = sxtab16_ror8(s13, v);
            t = t.wrapping_add(c);
        }
        r = r.wrapping_add(row);
    }
    let mut acc = [0i32; 4];
    spill(&mut acc, s02, s13);
    acc
}

/// Max pool; the caller has checked the parameters and lengths (`p.check`).
pub(crate) fn max_pool(p: &PoolS8Params, input: &[i8], output: &mut [i8]) {
    let (is, c) = (p.geometry.input, p.geometry.input.c);
    let (lo, hi) = (lanes8(p.act_min), lanes8(p.act_max));
    let x = input.as_ptr();
    for_each_window(&p.geometry, |n, out, win| {
        for c0 in (0..c & !3).step_by(4) {
            let mut m = lanes8(-128);
            for t in win.taps(is, n) {
                // SAFETY: `t` is channel 0 of an input pixel and `c0 + 4 <= c`.
                m = max4(m, unsafe { read_unaligned(x.add(t + c0) as *const u32) });
            }
            // SAFETY: output pixel `out` holds channels `c0..c0 + 4`.
            unsafe {
                write_unaligned(
                    output.as_mut_ptr().add(out + c0) as *mut u32,
                    clamp4(m, lo, hi),
                )
            };
        }
        for ch in c & !3..c {
            let m = win
                .taps(is, n)
                .fold(-128, |m, t| m.max(input[t + ch] as i32));
            output[out + ch] = m.clamp(p.act_min, p.act_max) as i8;
        }
    });
}

/// Average pool (TFLite's in-bounds divisor, or `count_include_pad`); the caller has checked
/// the parameters and lengths (`p.check`).
pub(crate) fn avg_pool(p: &PoolS8Params, input: &[i8], output: &mut [i8]) {
    let g = &p.geometry;
    let (is, c) = (g.input, g.input.c);
    // The window area is at most MAX_POOL_AREA (2^23), so it and the sums fit an i32.
    let full = (g.kernel_h * g.kernel_w) as i32;
    let x = input.as_ptr();
    for_each_window(g, |n, out, win| {
        let taps = win.in_bounds() as i32;
        // Padded taps hold the zero point and the divisor is the whole window
        // (`count_include_pad`), or the divisor is the in-bounds count (TFLite).
        let (extra, count) = if p.count_include_pad {
            ((full - taps) * p.zero_point, full)
        } else {
            (0, taps)
        };
        let half = count / 2;
        // An average of int8 values is inside int8: only a narrower clamp needs applying.
        let clamp = p.act_min > -128 || p.act_max < 127;
        let finish = |sum: i32| {
            let v = rounded_div(sum + extra, count, half);
            if clamp {
                v.max(p.act_min).min(p.act_max) as i8
            } else {
                v as i8
            }
        };
        let (rows, cols) = (win.y_end - win.y_start, win.x_end - win.x_start);
        let first = is.index(n, win.y_start, win.x_start, 0);
        for c0 in (0..c & !3).step_by(4) {
            let s = if rows * cols <= LANE_TAPS {
                // SAFETY: the window's taps are input pixels and `c0 + 4 <= c`.
                unsafe { window_sum4(x.add(first + c0), rows, cols, is.w * c, c) }
            } else {
                // SAFETY: as above.
                unsafe { sum4(x, c0, win.taps(is, n)) }
            };
            let o = &mut output[out + c0..out + c0 + 4];
            for (o, &v) in o.iter_mut().zip(&s) {
                *o = finish(v);
            }
        }
        for ch in c & !3..c {
            let s = win.taps(is, n).fold(0, |s, t| s + input[t + ch] as i32);
            output[out + ch] = finish(s);
        }
    });
}

/// MEAN over height and width; the caller has checked the call (`check_mean_s8`), which gave
/// `count = h * w`.
pub(crate) fn mean(p: &MeanS8Params, input: Shape, data: &[i8], output: &mut [i8], count: usize) {
    let (multiplier, shift) = p.folded(count);
    // count <= 2^23, so neither the sum nor the zero-point correction can overflow an i32.
    let zero_sum = p.input_zero_point * count as i32;
    let c = input.c;
    let finish = |sum: i32| -> i8 {
        let scaled = multiply_by_quantized_multiplier(sum - zero_sum, multiplier, shift);
        (scaled + p.output_zero_point).clamp(-128, 127) as i8
    };
    for n in 0..input.n {
        let image = n * count * c;
        let pixels = (0..count).map(|i| image + i * c);
        for c0 in (0..c & !3).step_by(4) {
            // SAFETY: every pixel offset is channel 0 of a pixel of image `n` and `c0 + 4 <= c`.
            let s = unsafe { sum4(data.as_ptr(), c0, pixels.clone()) };
            for (j, &v) in s.iter().enumerate() {
                output[n * c + c0 + j] = finish(v);
            }
        }
        for ch in c & !3..c {
            let s = pixels.clone().fold(0, |s, t| s + data[t + ch] as i32);
            output[n * c + ch] = finish(s);
        }
    }
}
