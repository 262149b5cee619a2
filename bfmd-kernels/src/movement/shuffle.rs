//! Channel shuffle (ShuffleNet), in one pass, and its fusions with the channel concatenation
//! before it and the channel split after it.
//!
//! With `groups = g` and `C = g * k` channels, the shuffle moves input channel `i * k + j` to
//! output channel `j * g + i` (`0 <= i < g`, `0 <= j < k`): the reshape `[.., g, k]` ->
//! transpose `[.., k, g]` -> reshape that TFLite models spell out as three ops, done directly.
//!
//! ShuffleNetV2's stride-1 unit ends with concat(`x1`, branch) -> shuffle(2) and the next unit
//! begins with a channel split into halves, so all three fused forms are provided, each a
//! single pass over the data:
//!
//! * [`channel_shuffle`]: one input, one output;
//! * [`concat_channel_shuffle`]: concatenate the inputs along channels, then shuffle;
//! * [`channel_shuffle_split`]: shuffle, then split the channels into equal parts;
//! * [`concat_shuffle_split`]: all three.
//!
//! Values are copied unchanged (for int8 every input and output shares one quantization, as
//! TFLite's RESHAPE / TRANSPOSE / CONCATENATION / SPLIT require). No scratch; outputs must not
//! alias inputs.

use super::{concat::concat_shape, saturate, Axis};
use crate::error::{check_len, Error, Result};
use crate::half::f16;
use crate::shape::Shape;

/// Concatenates `inputs` along channels, shuffles the `C` channels in `groups` groups and
/// splits them into `outputs.len()` equal parts, in one pass.
///
/// * Layout: NHWC. The inputs share `n, h, w`; their channels add up to `C`, a multiple of
///   `groups`; output `p` is `[n, h, w, C / outputs.len()]` and holds shuffled channels
///   `p * C / P .. (p + 1) * C / P`.
/// * With one input and one output this is [`channel_shuffle`].
///
/// Errors: no input or no output, inputs disagreeing on `n, h, w`, `groups` zero or not
/// dividing `C`, a part count not dividing `C`, a buffer of the wrong length.
pub fn concat_shuffle_split<T: Copy>(
    groups: usize,
    inputs: &[(&[T], Shape)],
    outputs: &mut [&mut [T]],
) -> Result<()> {
    let shape = concat_shape(Axis::C, inputs)?;
    let channels = shape.c;
    if groups == 0 || channels % groups != 0 {
        return Err(Error::BadParam {
            what: "shuffle groups (must divide the channels)",
            value: saturate(groups),
        });
    }
    let parts = outputs.len();
    if parts == 0 || channels % parts != 0 {
        return Err(Error::BadParam {
            what: "shuffle split count (must divide the channels)",
            value: saturate(parts),
        });
    }
    let part = channels / parts;
    for out in outputs.iter() {
        check_len(
            "shuffle output",
            shape.pixels().saturating_mul(part),
            out.len(),
        )?;
    }
    if channels == 0 {
        return Ok(());
    }
    let k = channels / groups;
    for px in 0..shape.pixels() {
        // Walk the concatenated channels in source order `s = i * k + j`. Consecutive sources
        // of one group `i` land `groups` apart (`m = j * g + i`), so copy them as runs that stay
        // within one group, one input row and one output part: a strided copy each, with the
        // divisions done once per run instead of per element.
        let mut s = 0;
        for &(data, shape_t) in inputs {
            let row = &data[px * shape_t.c..(px + 1) * shape_t.c];
            let mut r = 0;
            while r < row.len() {
                let (i, j) = (s / k, s % k);
                let m = j * groups + i;
                let (p, o) = (m / part, m % part);
                let n = (k - j).min(row.len() - r).min((part - o).div_ceil(groups));
                let dst = &mut outputs[p][px * part + o..(px + 1) * part];
                // A plain strided index: fewer instructions than `step_by` or `chunks_mut`
                // (callgrind, x86-64), and `n` keeps `at` inside `dst`.
                let mut at = 0;
                for &v in &row[r..r + n] {
                    dst[at] = v;
                    at += groups;
                }
                r += n;
                s += n;
            }
        }
    }
    Ok(())
}

/// Shuffles the channels of `input` (NHWC `shape`, `C = groups * k`) into `output` (same
/// shape): output channel `j * groups + i` is input channel `i * k + j`.
///
/// Errors: `groups` zero or not dividing the channels, a buffer of the wrong length.
pub fn channel_shuffle<T: Copy>(
    groups: usize,
    input: &[T],
    shape: Shape,
    output: &mut [T],
) -> Result<()> {
    concat_shuffle_split(groups, &[(input, shape)], &mut [output])
}

/// Concatenates `inputs` along channels and shuffles the result in `groups` groups into
/// `output`, in one pass; returns the output shape. ShuffleNetV2's unit tail: with two inputs
/// of `k` channels and `groups = 2`, `output` interleaves them channel by channel.
///
/// Errors: those of [`concat_shuffle_split`].
pub fn concat_channel_shuffle<T: Copy>(
    groups: usize,
    inputs: &[(&[T], Shape)],
    output: &mut [T],
) -> Result<Shape> {
    let shape = concat_shape(Axis::C, inputs)?;
    concat_shuffle_split(groups, inputs, &mut [output])?;
    Ok(shape)
}

/// Shuffles the channels of `input` (NHWC `shape`) in `groups` groups and splits the result
/// into `outputs.len()` equal channel parts, in one pass (a shuffle writing straight into the
/// halves of ShuffleNetV2's next channel split).
///
/// Errors: those of [`concat_shuffle_split`].
pub fn channel_shuffle_split<T: Copy>(
    groups: usize,
    input: &[T],
    shape: Shape,
    outputs: &mut [&mut [T]],
) -> Result<()> {
    concat_shuffle_split(groups, &[(input, shape)], outputs)
}

/// [`channel_shuffle`] for int8 tensors.
pub fn channel_shuffle_s8(
    groups: usize,
    input: &[i8],
    shape: Shape,
    output: &mut [i8],
) -> Result<()> {
    channel_shuffle(groups, input, shape, output)
}

/// [`channel_shuffle`] for `f16` tensors.
pub fn channel_shuffle_f16(
    groups: usize,
    input: &[f16],
    shape: Shape,
    output: &mut [f16],
) -> Result<()> {
    channel_shuffle(groups, input, shape, output)
}

/// [`channel_shuffle`] for `f32` tensors.
pub fn channel_shuffle_f32(
    groups: usize,
    input: &[f32],
    shape: Shape,
    output: &mut [f32],
) -> Result<()> {
    channel_shuffle(groups, input, shape, output)
}

/// [`concat_channel_shuffle`] for int8 tensors.
pub fn concat_channel_shuffle_s8(
    groups: usize,
    inputs: &[(&[i8], Shape)],
    output: &mut [i8],
) -> Result<Shape> {
    concat_channel_shuffle(groups, inputs, output)
}

/// [`concat_channel_shuffle`] for `f16` tensors.
pub fn concat_channel_shuffle_f16(
    groups: usize,
    inputs: &[(&[f16], Shape)],
    output: &mut [f16],
) -> Result<Shape> {
    concat_channel_shuffle(groups, inputs, output)
}

/// [`concat_channel_shuffle`] for `f32` tensors.
pub fn concat_channel_shuffle_f32(
    groups: usize,
    inputs: &[(&[f32], Shape)],
    output: &mut [f32],
) -> Result<Shape> {
    concat_channel_shuffle(groups, inputs, output)
}

/// [`channel_shuffle_split`] for int8 tensors.
pub fn channel_shuffle_split_s8(
    groups: usize,
    input: &[i8],
    shape: Shape,
    outputs: &mut [&mut [i8]],
) -> Result<()> {
    channel_shuffle_split(groups, input, shape, outputs)
}

/// [`channel_shuffle_split`] for `f16` tensors.
pub fn channel_shuffle_split_f16(
    groups: usize,
    input: &[f16],
    shape: Shape,
    outputs: &mut [&mut [f16]],
) -> Result<()> {
    channel_shuffle_split(groups, input, shape, outputs)
}

/// [`channel_shuffle_split`] for `f32` tensors.
pub fn channel_shuffle_split_f32(
    groups: usize,
    input: &[f32],
    shape: Shape,
    outputs: &mut [&mut [f32]],
) -> Result<()> {
    channel_shuffle_split(groups, input, shape, outputs)
}

/// [`concat_shuffle_split`] for int8 tensors.
pub fn concat_shuffle_split_s8(
    groups: usize,
    inputs: &[(&[i8], Shape)],
    outputs: &mut [&mut [i8]],
) -> Result<()> {
    concat_shuffle_split(groups, inputs, outputs)
}

/// [`concat_shuffle_split`] for `f16` tensors.
pub fn concat_shuffle_split_f16(
    groups: usize,
    inputs: &[(&[f16], Shape)],
    outputs: &mut [&mut [f16]],
) -> Result<()> {
    concat_shuffle_split(groups, inputs, outputs)
}

/// [`concat_shuffle_split`] for `f32` tensors.
pub fn concat_shuffle_split_f32(
    groups: usize,
    inputs: &[(&[f32], Shape)],
    outputs: &mut [&mut [f32]],
) -> Result<()> {
    concat_shuffle_split(groups, inputs, outputs)
}
