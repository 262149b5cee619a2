//! Parametric ReLU in `f32` (TFLite `PRELU`): `y = x` where `x >= 0`, else `alpha * x`, with
//! `alpha` broadcast against `x` by the rules of [`super::elementwise`] (per channel
//! `[1, 1, 1, C]`, per position `[1, H, W, C]`, a scalar...). LiteRT's reference kernel
//! (`reference_ops::BroadcastPrelu4DSlow`, float): `input >= 0 ? input : input * alpha`.

use super::elementwise::{Broadcast, Operand};
use crate::error::{Error, Result};
use crate::shape::Shape;

/// `Ok` when `alpha_shape` broadcasts to `x_shape` without enlarging it (the shapes
/// [`prelu_f32`] takes); the graph's builder and parser check a model with it.
pub fn check_alpha(x_shape: Shape, alpha_shape: Shape) -> Result<Broadcast> {
    let b = Broadcast::new(x_shape, alpha_shape)?;
    if b.output() != x_shape {
        return Err(Error::DimMismatch {
            what: "prelu alpha broadcast to the input's shape",
            expected: x_shape.len(),
            got: b.output().len(),
        });
    }
    Ok(b)
}

/// PReLU of `x` (NHWC, `x_shape`) with slopes `alpha` (`alpha_shape`, broadcast to `x_shape`)
/// into `y` (`x_shape`).
///
/// Errors: `alpha_shape` does not broadcast to `x_shape` (or would enlarge it), or a length
/// differs from its shape.
pub fn prelu_f32(
    x_shape: Shape,
    x: &[f32],
    alpha_shape: Shape,
    alpha: &[f32],
    y: &mut [f32],
) -> Result<()> {
    let b = check_alpha(x_shape, alpha_shape)?;
    b.check_lens(x.len(), alpha.len(), y.len())?;
    let at = |o: &Operand<'_, f32>, i: usize| match *o {
        Operand::Row(r) => r[i],
        Operand::Scalar(v) => v,
    };
    b.run(x, alpha, y, |xr, ar, yr| {
        for (i, y) in yr.iter_mut().enumerate() {
            let x = at(&xr, i);
            *y = if x >= 0.0 { x } else { x * at(&ar, i) };
        }
    });
    Ok(())
}
