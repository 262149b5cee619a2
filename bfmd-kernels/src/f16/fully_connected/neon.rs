//! NEON (aarch64) loop of the f16 fully connected layer: the pointwise tiles of the f16
//! convolution ([`crate::f16::conv`]'s NEON path) with batch rows as pixels.

use super::{check, FullyConnectedF16Params};
use crate::error::Result;
use crate::f16::conv::neon::F16Tiles;
use crate::s8::conv::neon::{pointwise, Dense};
use half::f16;

/// [`super::fully_connected_f16`] on the NEON path.
pub(crate) fn fully_connected_f16(
    p: &FullyConnectedF16Params,
    input: &[f16],
    weights: &[f16],
    bias: Option<&[f32]>,
    output: &mut [f16],
    scratch: &mut [u8],
) -> Result<()> {
    check(p, input, weights, bias, output, scratch)?;
    let g = &p.geometry;
    let d = Dense {
        pixels: g.batch,
        in_c: g.in_features,
        out_c: g.out_features,
        cin_g: g.in_features,
        cout_g: g.out_features,
    };
    let kern = F16Tiles::new(bias, p.act_min, p.act_max);
    // SAFETY: this module is compiled only when the build enables NEON.
    unsafe { pointwise(&kern, d, input, weights, output) };
    Ok(())
}
