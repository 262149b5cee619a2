//! Portable int8 pooling loops (plain Rust, any target).
//!
//! Each function checks its arguments like the dispatcher in [`super`] does, so tests and
//! benchmarks can call this path directly on any target.

use super::{check_mean_s8, MeanS8Params, PoolS8Params};
use crate::error::Result;
use crate::quant::multiply_by_quantized_multiplier;
use crate::reference::pool::{for_each_window, PoolWindow};
use crate::shape::Shape;

/// Channels handled per pass: the accumulators of one chunk live in registers or on the stack,
/// so the window is read along contiguous channels without a scratch buffer.
const CHUNK: usize = 32;

/// The int8 pooling loop: for each output element, the window's taps are folded with `step`
/// from `init(window)` in an `i32`, then `finish`ed, 32 contiguous channels at a time.
fn pool_chunks(
    p: &PoolS8Params,
    input: &[i8],
    output: &mut [i8],
    init: impl Fn(&PoolWindow) -> i32,
    step: impl Fn(i32, i8) -> i32,
    finish: impl Fn(i32, &PoolWindow) -> i32,
) -> Result<()> {
    p.check(input.len(), output.len())?;
    let (is, channels) = (p.geometry.input, p.geometry.output.c);
    for_each_window(&p.geometry, |n, out, win| {
        for c0 in (0..channels).step_by(CHUNK) {
            let len = CHUNK.min(channels - c0);
            let mut acc = [init(&win); CHUNK];
            for tap in win.taps(is, n) {
                for (a, &v) in acc.iter_mut().zip(&input[tap + c0..tap + c0 + len]) {
                    *a = step(*a, v);
                }
            }
            for (o, &a) in output[out + c0..out + c0 + len].iter_mut().zip(&acc) {
                *o = finish(a, &win).clamp(p.act_min, p.act_max) as i8;
            }
        }
    });
    Ok(())
}

/// Portable [`super::max_pool_s8`].
pub fn max_pool_s8(p: &PoolS8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    pool_chunks(p, input, output, |_| -128, |m, v| m.max(v as i32), |m, _| m)
}

/// TFLM's rounded division of a pooled sum (`reference/integer_ops/pooling.h`): half away
/// from zero, with C's truncating division (Rust's `/` truncates the same way).
#[inline(always)]
pub fn rounded_average(sum: i32, count: i32) -> i32 {
    if sum > 0 {
        (sum + count / 2) / count
    } else {
        (sum - count / 2) / count
    }
}

/// Portable [`super::avg_pool_s8`].
pub fn avg_pool_s8(p: &PoolS8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    // The window area is at most MAX_POOL_AREA (2^23), checked by `pool_chunks` before any
    // window is visited, so it and the sums fit an i32.
    let full = p.geometry.kernel_h.saturating_mul(p.geometry.kernel_w) as i32;
    let taps = |win: &PoolWindow| win.in_bounds() as i32;
    if p.count_include_pad {
        // Padded taps hold the zero point and the divisor is the whole window (bfmd-defined).
        let init = |win: &PoolWindow| (full - taps(win)) * p.zero_point;
        pool_chunks(
            p,
            input,
            output,
            init,
            |s, v| s + v as i32,
            |s, _| rounded_average(s, full),
        )
    } else {
        let finish = |s: i32, win: &PoolWindow| rounded_average(s, taps(win));
        pool_chunks(p, input, output, |_| 0, |s, v| s + v as i32, finish)
    }
}

/// Portable [`super::mean_s8`].
pub fn mean_s8(p: &MeanS8Params, input: Shape, input_data: &[i8], output: &mut [i8]) -> Result<()> {
    let count = check_mean_s8(p, input, input_data.len(), output.len())?;
    let (multiplier, shift) = p.folded(count);
    // count <= 2^23, so neither the sum nor the zero-point correction can overflow an i32.
    let zero_sum = p.input_zero_point * count as i32;
    let c = input.c;
    for n in 0..input.n {
        let image = &input_data[n * count * c..(n + 1) * count * c];
        for c0 in (0..c).step_by(CHUNK) {
            let len = CHUNK.min(c - c0);
            let mut acc = [0i32; CHUNK];
            for pixel in image.chunks_exact(c) {
                for (a, &v) in acc.iter_mut().zip(&pixel[c0..c0 + len]) {
                    *a += v as i32;
                }
            }
            for (o, &sum) in output[n * c + c0..][..len].iter_mut().zip(&acc) {
                let scaled = multiply_by_quantized_multiplier(sum - zero_sum, multiplier, shift);
                *o = (scaled + p.output_zero_point).clamp(-128, 127) as i8;
            }
        }
    }
    Ok(())
}
