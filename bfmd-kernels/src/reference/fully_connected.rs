//! Reference `f32` fully connected layer (TFLite `FULLY_CONNECTED`), and the geometry every
//! fully connected kernel shares.
//!
//! Semantics of TFLite's float `reference_ops::FullyConnected`
//! (`tensorflow/lite/kernels/internal/reference/fully_connected.h`): `out[b, o] =
//! clamp(sum_i in[b, i] * w[o, i] + bias[o])`, products summed in `i` order, bias added last.

use crate::error::{check_len, Result};
use crate::quant::{activation_range_f32, FusedActivation};
use crate::reference::conv::check_float_activation;

/// Dimensions of a fully connected layer: `input [batch, in_features]`, weights
/// `[out_features, in_features]` (TFLite layout), `output [batch, out_features]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FullyConnectedGeometry {
    /// Rows of the input and output (TFLite flattens every leading dimension into this).
    pub batch: usize,
    /// Input features (the accumulation depth).
    pub in_features: usize,
    /// Output features.
    pub out_features: usize,
}

impl FullyConnectedGeometry {
    /// A geometry from its three dimensions.
    pub const fn new(batch: usize, in_features: usize, out_features: usize) -> Self {
        FullyConnectedGeometry {
            batch,
            in_features,
            out_features,
        }
    }

    /// Number of input elements (saturating).
    pub const fn input_len(&self) -> usize {
        self.batch.saturating_mul(self.in_features)
    }

    /// Number of weight elements (saturating).
    pub const fn weights_len(&self) -> usize {
        self.out_features.saturating_mul(self.in_features)
    }

    /// Number of output elements (saturating).
    pub const fn output_len(&self) -> usize {
        self.batch.saturating_mul(self.out_features)
    }

    /// Number of multiply-accumulates: `batch * in_features * out_features`.
    pub const fn macs(&self) -> usize {
        self.input_len().saturating_mul(self.out_features)
    }
}

/// Checks the buffer lengths of a fully connected layer; shared by every dtype.
pub(crate) fn check_fc_shapes(
    g: &FullyConnectedGeometry,
    input_len: usize,
    weights_len: usize,
    bias_len: Option<usize>,
    output_len: usize,
) -> Result<()> {
    check_len("input", g.input_len(), input_len)?;
    check_len("weights", g.weights_len(), weights_len)?;
    if let Some(b) = bias_len {
        check_len("bias", g.out_features, b)?;
    }
    check_len("output", g.output_len(), output_len)
}

/// Parameters of a float (`f32` or `f16`) fully connected layer.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FullyConnectedF32Params {
    /// Dimensions.
    pub geometry: FullyConnectedGeometry,
    /// Lower clamp of the output.
    pub act_min: f32,
    /// Upper clamp of the output.
    pub act_max: f32,
}

impl FullyConnectedF32Params {
    /// Parameters with the clamp range of a TFLite fused activation.
    pub fn new(geometry: FullyConnectedGeometry, activation: FusedActivation) -> Self {
        let (act_min, act_max) = activation_range_f32(activation);
        FullyConnectedF32Params {
            geometry,
            act_min,
            act_max,
        }
    }
}

/// Number of scratch bytes [`fully_connected_f32`] needs: none.
pub const fn fully_connected_f32_scratch_len(_geometry: &FullyConnectedGeometry) -> usize {
    0
}

/// Float fully connected layer: `output[b, o] = clamp(sum_i input[b, i] * weights[o, i] +
/// bias[o])`.
///
/// * `input`: `[batch, in_features]`; `weights`: `[out_features, in_features]`;
/// * `bias`: `[out_features]` or `None`; `output`: `[batch, out_features]`.
///
/// # Errors
/// [`crate::Error::BufferLength`] for a buffer of the wrong length,
/// [`crate::Error::BadParam`] for an inverted clamp range.
pub fn fully_connected_f32(
    p: &FullyConnectedF32Params,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<()> {
    let g = &p.geometry;
    check_fc_shapes(
        g,
        input.len(),
        weights.len(),
        bias.map(|b| b.len()),
        output.len(),
    )?;
    check_float_activation(p.act_min, p.act_max)?;
    fully_connected_float_loop(p, input, weights, bias, output, |v| v);
    Ok(())
}

/// The float fully connected loop shared by [`fully_connected_f32`] and the f16 layer: `f32`
/// accumulation in input order, bias last, clamp, then `narrow`. Arguments are checked.
pub(crate) fn fully_connected_float_loop<T: Copy + Into<f32>>(
    p: &FullyConnectedF32Params,
    input: &[T],
    weights: &[T],
    bias: Option<&[f32]>,
    output: &mut [T],
    narrow: impl Fn(f32) -> T,
) {
    let g = &p.geometry;
    let (k, n) = (g.in_features, g.out_features);
    for b in 0..g.batch {
        let x = &input[b * k..(b + 1) * k];
        let out_row = &mut output[b * n..(b + 1) * n];
        for (o, out_v) in out_row.iter_mut().enumerate() {
            let w = &weights[o * k..(o + 1) * k];
            let mut acc = 0.0f32;
            for (&xv, &wv) in x.iter().zip(w) {
                acc += xv.into() * wv.into();
            }
            if let Some(bias) = bias {
                acc += bias[o];
            }
            *out_v = narrow(acc.max(p.act_min).min(p.act_max));
        }
    }
}
