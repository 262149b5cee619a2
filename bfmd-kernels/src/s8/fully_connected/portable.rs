//! Portable inner loop of the int8 fully connected layer, callable on every target.

use super::{check_fully_connected_s8, FullyConnectedS8Params};
use crate::error::Result;
use crate::s8::conv::portable::{dot_offset, finish};

/// [`super::fully_connected_s8`] on the portable path: one dot product per output.
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
    let q = &p.quant;
    for b in 0..p.geometry.batch {
        let x = &input[b * k..(b + 1) * k];
        let out_row = &mut output[b * n..(b + 1) * n];
        for (o, out_v) in out_row.iter_mut().enumerate() {
            let acc = dot_offset(x, &weights[o * k..(o + 1) * k], q.input_offset, |v: i8| {
                v as i32
            });
            *out_v = finish(q, acc, bias, o);
        }
    }
    Ok(())
}
