//! NEON (aarch64) inner loop of the int8 fully connected layer: the pointwise tiles of the
//! convolution ([`crate::s8::conv::neon`]) with batch rows as pixels, so `SDOT` on builds with
//! the dot-product extension and `SMLAL` otherwise, and the same exact vector requantization.
//! Bit-identical to the portable loop for the reasons given there.

use super::{check_fully_connected_s8, FullyConnectedS8Params};
use crate::error::Result;
use crate::s8::conv::neon::{pointwise, Dense, S8Tiles};

/// [`super::fully_connected_s8`] on the NEON path.
pub(crate) fn fully_connected_s8(
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
    let g = &p.geometry;
    let d = Dense {
        pixels: g.batch,
        in_c: g.in_features,
        out_c: g.out_features,
        cin_g: g.in_features,
        cout_g: g.out_features,
    };
    // SAFETY: this module is compiled only when the build enables NEON.
    unsafe { pointwise(&S8Tiles::new(&p.quant, bias), d, input, weights, output) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::fully_connected::FullyConnectedGeometry;
    use crate::s8::conv::neon::tests::{Case, Rng};
    use crate::s8::fully_connected::portable;
    use crate::shape::{ConvGeometry, Padding, Shape};

    #[test]
    fn matches_portable_across_tile_boundaries() {
        let mut rng = Rng::new(3);
        for (batch, k, n) in [
            (1, 256, 10),
            (1, 300, 70),
            (2, 17, 5),
            (5, 64, 130),
            (3, 1, 1),
        ] {
            for per_channel in [true, false] {
                let seed = rng.next();
                // A fully connected layer is a pointwise convolution of `batch` pixels.
                let cg = ConvGeometry::new(
                    Shape::new(1, 1, batch, k),
                    n,
                    (1, 1),
                    (1, 1),
                    (1, 1),
                    Padding::Valid,
                    1,
                )
                .unwrap();
                let c = Case::new(cg, n * k, k, per_channel, seed);
                let p = FullyConnectedS8Params {
                    geometry: FullyConnectedGeometry::new(batch, k, n),
                    quant: c.quant(),
                };
                let bias = c.bias.as_deref();
                let mut want = vec![0i8; batch * n];
                portable::fully_connected_s8(&p, &c.input, &c.filter, bias, &mut want, &mut [])
                    .unwrap();
                let mut got = vec![0i8; batch * n];
                fully_connected_s8(&p, &c.input, &c.filter, bias, &mut got, &mut []).unwrap();
                assert_eq!(got, want, "batch {batch}, {k} -> {n}");
            }
        }
    }
}
