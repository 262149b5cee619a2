//! Portable int8 pooling loops (plain Rust, any target).
//!
//! Each function checks its arguments like the dispatcher in [`super`] does, so tests and
//! benchmarks can call this path directly on any target.

use super::{check_mean_s8, MeanS8Params, PoolS8Params};
use crate::error::Result;
use crate::quant::multiply_by_quantized_multiplier;
use crate::reference::pool::pool_window;
use crate::shape::Shape;

/// Portable [`super::max_pool_s8`].
pub fn max_pool_s8(p: &PoolS8Params, input: &[i8], output: &mut [i8]) -> Result<()> {
    p.check(input.len(), output.len())?;
    let g = &p.geometry;
    let (is, os) = (g.input, g.output);
    for n in 0..os.n {
        for oy in 0..os.h {
            for ox in 0..os.w {
                let win = pool_window(g, oy, ox);
                for c in 0..os.c {
                    let mut m = i8::MIN;
                    for y in win.y_start..win.y_end {
                        for x in win.x_start..win.x_end {
                            m = m.max(input[is.index(n, y, x, c)]);
                        }
                    }
                    output[os.index(n, oy, ox, c)] = (m as i32).clamp(p.act_min, p.act_max) as i8;
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
                for c in 0..os.c {
                    let mut sum = pad_sum;
                    for y in win.y_start..win.y_end {
                        for x in win.x_start..win.x_end {
                            sum += input[is.index(n, y, x, c)] as i32;
                        }
                    }
                    output[os.index(n, oy, ox, c)] =
                        rounded_average(sum, count).clamp(p.act_min, p.act_max) as i8;
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
    let pixels = input.h * input.w;
    for n in 0..input.n {
        let image = &input_data[n * pixels * input.c..(n + 1) * pixels * input.c];
        for c in 0..input.c {
            let sum: i32 = image
                .iter()
                .skip(c)
                .step_by(input.c)
                .map(|&v| v as i32)
                .sum();
            let scaled = multiply_by_quantized_multiplier(sum - zero_sum, multiplier, shift);
            output[n * input.c + c] = (scaled + p.output_zero_point).clamp(-128, 127) as i8;
        }
    }
    Ok(())
}
