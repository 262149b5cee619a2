//! Portable inner loop of the int8 fully connected layer, callable on every target.

use super::{
    check_fully_connected_s8, check_fully_connected_s8_wide,
    fully_connected_s8_wide_scratch_len_portable, FullyConnectedS8Params, WIDE_CHUNK,
};
use crate::error::{check_min_len, Result};
use crate::s8::conv::portable::{i8_to_i32, pointwise_pixel};

/// [`super::fully_connected_s8`] on the portable path: one blocked matrix-vector product per
/// batch row.
///
/// # Errors
/// Those of [`super::fully_connected_s8`].
pub fn fully_connected_s8(
    p: &FullyConnectedS8Params,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) -> Result<()> {
    check_fully_connected_s8(
        p,
        input.len(),
        weights.len(),
        bias,
        output.len(),
        scratch.len(),
    )?;
    let (k, n) = (p.geometry.in_features, p.geometry.out_features);
    // A fully connected row is a pointwise convolution of one pixel: reuse its blocked loop
    // (four outputs share each input load).
    for b in 0..p.geometry.batch {
        let x = &input[b * k..(b + 1) * k];
        let out_row = &mut output[b * n..(b + 1) * n];
        pointwise_pixel(&p.quant, x, i8_to_i32, weights, bias, out_row, k, n);
    }
    Ok(())
}

/// Outputs accumulated together while a long row is summed a chunk at a time.
const WIDE_GROUP: usize = 32;

/// The packed words of `weights` as their int16 lanes in memory order: the int16 weights
/// `[out_features, in_features]`, row-major.
fn wide_lanes(words: &[i32]) -> &[i16] {
    const _: () = assert!(
        cfg!(target_endian = "little"),
        "the packed lanes are read in little-endian order"
    );
    // SAFETY: `i16` has no invalid bit patterns and an alignment (2) dividing `i32`'s; the
    // slice covers exactly the words' bytes and borrows them for the same lifetime. On a
    // little-endian target the low lane of each word comes first (checked above).
    unsafe { core::slice::from_raw_parts(words.as_ptr().cast::<i16>(), 2 * words.len()) }
}

/// [`super::fully_connected_s8_wide`] on the portable path: each chunk of the input row is
/// widened once, with the input offset added, to int16, so every output is a plain int16 dot
/// product over contiguous lanes, which compilers vectorize (Helium `VMLAVA.S16`, NEON,
/// SSE2 `PMADDWD`). The widened chunk lives in `scratch`
/// ([`super::fully_connected_s8_wide_scratch_len_portable`] bytes).
///
/// # Errors
/// Those of [`super::fully_connected_s8_wide`].
pub fn fully_connected_s8_wide(
    p: &FullyConnectedS8Params,
    input: &[i8],
    weights: &[i32],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) -> Result<()> {
    check_fully_connected_s8_wide(
        p,
        input.len(),
        weights.len(),
        bias,
        output.len(),
        scratch.len(),
    )?;
    let need = fully_connected_s8_wide_scratch_len_portable(&p.geometry);
    check_min_len("scratch", need, scratch.len())?;
    let (k, n) = (p.geometry.in_features, p.geometry.out_features);
    let off = p.quant.input_offset;
    let lanes = wide_lanes(weights);
    let chunk = k.min(WIDE_CHUNK);
    let got = scratch.len();
    // Never `None`: the length was checked above, with the alignment slack.
    let Some((xw, _)) = crate::path::split_aligned(scratch, 2 * chunk) else {
        return Err(crate::Error::BufferLength {
            what: "scratch",
            expected: need,
            got,
        });
    };
    // SAFETY: `xw` holds `2 * chunk` bytes from an 8-byte boundary, borrowed exclusively
    // here; every bit pattern is an `i16`.
    let xw = unsafe { core::slice::from_raw_parts_mut(xw.as_mut_ptr().cast::<i16>(), chunk) };
    let mut acc = [0i32; WIDE_GROUP];
    for b in 0..p.geometry.batch {
        let x = &input[b * k..(b + 1) * k];
        let out_row = &mut output[b * n..(b + 1) * n];
        for g0 in (0..n).step_by(WIDE_GROUP) {
            let gn = WIDE_GROUP.min(n - g0);
            for (j, a) in acc[..gn].iter_mut().enumerate() {
                *a = bias.map_or(0, |b| b[g0 + j]);
            }
            for c0 in (0..k).step_by(WIDE_CHUNK) {
                let cl = WIDE_CHUNK.min(k - c0);
                // `x + off` is in -255..=255 (`validate` bounds the offset): it fits int16.
                for (w, &x) in xw[..cl].iter_mut().zip(&x[c0..c0 + cl]) {
                    *w = (x as i32 + off) as i16;
                }
                // Two outputs per pass share each load of the widened input. Products of
                // int16 values fit in i32; the sums wrap like TFLM's.
                let row = |j: usize| &lanes[(g0 + j) * k + c0..(g0 + j) * k + c0 + cl];
                let mut j = 0;
                while j + 1 < gn {
                    let (r0, r1) = (row(j), row(j + 1));
                    let (mut a0, mut a1) = (acc[j], acc[j + 1]);
                    for ((&x, &w0), &w1) in xw[..cl].iter().zip(r0).zip(r1) {
                        a0 = a0.wrapping_add(w0 as i32 * x as i32);
                        a1 = a1.wrapping_add(w1 as i32 * x as i32);
                    }
                    (acc[j], acc[j + 1]) = (a0, a1);
                    j += 2;
                }
                if j < gn {
                    acc[j] = row(j)
                        .iter()
                        .zip(&xw[..cl])
                        .fold(acc[j], |a, (&w, &x)| a.wrapping_add(w as i32 * x as i32));
                }
            }
            for (j, &a) in acc[..gn].iter().enumerate() {
                out_row[g0 + j] = p.quant.requantize(a, g0 + j);
            }
        }
    }
    Ok(())
}
