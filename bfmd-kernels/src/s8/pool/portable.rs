//! Portable int8 pooling loops (plain Rust, any target).
//!
//! Each function checks its arguments like the dispatcher in [`super`] does, so tests and
//! benchmarks can call this path directly on any target.

use super::{check_mean_s8, MeanS8Params, PoolS8Params};
use crate::error::Result;
use crate::quant::multiply_by_quantized_multiplier;
use crate::reference::pool::pool_window;
use crate::shape::Shape;

/// Channels handled per pass: the accumulators of one chunk live in registers or on the stack,
/// so the window is read along contiguous channels without a scratch buffer.
const CHUNK: usize = 32;

/// Portable [`super::max_pool_s8`].
pub fn max_pool_s8(p: &PoolS8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    p.check(input.len(), output.len())?;
    let g = &p.geometry;
    let (is, os) = (g.input, g.output);
    for n in 0..os.n {
        for oy in 0..os.h {
            for ox in 0..os.w {
                let win = pool_window(g, oy, ox);
                let out_base = os.index(n, oy, ox, 0);
                for c0 in (0..os.c).step_by(CHUNK) {
                    let len = CHUNK.min(os.c - c0);
                    let mut acc = [i8::MIN; CHUNK];
                    for y in win.y_start..win.y_end {
                        for x in win.x_start..win.x_end {
                            let tap = &input[is.index(n, y, x, c0)..][..len];
                            for (a, &v) in acc.iter_mut().zip(tap) {
                                *a = (*a).max(v);
                            }
                        }
                    }
                    for (o, &a) in output[out_base + c0..][..len].iter_mut().zip(&acc) {
                        *o = (a as i32).clamp(p.act_min, p.act_max) as i8;
                    }
                }
            }
        }
    }
    Ok(())
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
    p.check(input.len(), output.len())?;
    let g = &p.geometry;
    let (is, os) = (g.input, g.output);
    // The window area is at most MAX_POOL_AREA (2^23), checked above, so it fits an i32.
    let full = (g.kernel_h * g.kernel_w) as i32;
    for n in 0..os.n {
        for oy in 0..os.h {
            for ox in 0..os.w {
                let win = pool_window(g, oy, ox);
                let taps = win.in_bounds() as i32;
                let (count, pad_sum) = if p.count_include_pad {
                    (full, (full - taps) * p.zero_point)
                } else {
                    (taps, 0)
                };
                let out_base = os.index(n, oy, ox, 0);
                for c0 in (0..os.c).step_by(CHUNK) {
                    let len = CHUNK.min(os.c - c0);
                    let mut acc = [pad_sum; CHUNK];
                    for y in win.y_start..win.y_end {
                        for x in win.x_start..win.x_end {
                            let tap = &input[is.index(n, y, x, c0)..][..len];
                            for (a, &v) in acc.iter_mut().zip(tap) {
                                *a += v as i32;
                            }
                        }
                    }
                    for (o, &a) in output[out_base + c0..][..len].iter_mut().zip(&acc) {
                        *o = rounded_average(a, count).clamp(p.act_min, p.act_max) as i8;
                    }
                }
            }
        }
    }
    Ok(())
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
