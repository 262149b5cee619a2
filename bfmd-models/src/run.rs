//! Running a lowered model on the host with `f32` data in and out, and the error measures
//! the tests, the README and `--compare` use.

use crate::error::{Error, Result};
use crate::lower::Lowered;
use bfmd_graph::builder::ModelBytes;
use bfmd_graph::{DType, Limits, Model};
use bfmd_kernels::half::f16;
use bfmd_kernels::quant::{dequantize_s8, quantize_f32_to_s8};

/// A model blob with its arena, run with `f32` inputs and read as `f32` outputs: int8 inputs
/// are quantized with the input tensor's scale and zero point (as firmware does before
/// calling the engine), int8 outputs dequantized; f16 converted both ways.
pub struct Runner {
    blob: ModelBytes,
    /// The arena: `ModelBytes` is simply 16-byte aligned host storage.
    arena: ModelBytes,
    /// What the blob is checked against each time it is parsed.
    limits: Limits,
}

impl Runner {
    /// A runner for a lowered model (the arena is allocated once, 16-byte aligned).
    pub fn new(l: &Lowered) -> Result<Self> {
        Self::from_blob(l.built.blob.as_bytes())
    }

    /// A runner for any bfmd blob (checked against the default [`Limits::HOST`]).
    pub fn from_blob(bytes: &[u8]) -> Result<Self> {
        Self::with_limits(bytes, &Limits::HOST)
    }

    /// A runner for a bfmd blob checked against `limits` before its arena is allocated.
    pub fn with_limits(bytes: &[u8], limits: &Limits) -> Result<Self> {
        let blob = ModelBytes::from_bytes(bytes);
        let n = blob.model_with_limits(limits)?.arena_bytes();
        Ok(Runner {
            blob,
            arena: ModelBytes::from_bytes(&vec![0u8; n.max(16)]),
            limits: *limits,
        })
    }

    /// The parsed model.
    pub fn model(&self) -> Result<Model<'_>> {
        Ok(self.blob.model_with_limits(&self.limits)?)
    }

    /// Writes graph input 0 from `input` (NHWC `f32`) and runs every op.
    pub fn run(&mut self, input: &[f32]) -> Result<()> {
        let model = self.blob.model_with_limits(&self.limits)?;
        let t = model.input_tensor(0)?;
        let info = model
            .tensor(t)
            .ok_or_else(|| Error::Run("no input tensor".into()))?;
        if input.len() != info.shape.len() {
            return Err(Error::Run(format!(
                "input has {} values, the model takes {} ({:?})",
                input.len(),
                info.shape.len(),
                info.shape
            )));
        }
        let arena = self.arena.as_bytes_mut();
        match info.dtype {
            DType::F32 => model.input_mut_as::<f32>(arena, 0)?.copy_from_slice(input),
            DType::F16 => {
                for (d, &s) in model.input_mut_as::<f16>(arena, 0)?.iter_mut().zip(input) {
                    *d = f16::from_f32(s);
                }
            }
            DType::S8 => {
                for (d, &s) in model.input_mut_as::<i8>(arena, 0)?.iter_mut().zip(input) {
                    *d = quantize_f32_to_s8(s, info.scale, info.zero_point);
                }
            }
            DType::I32 => return Err(Error::Run("int32 model input".into())),
        }
        bfmd_graph::exec::run(&model, arena, None)?;
        Ok(())
    }

    /// Graph output `i` after [`Runner::run`], as `f32` (dequantized for int8).
    pub fn output(&self, i: usize) -> Result<Vec<f32>> {
        let model = self.blob.model_with_limits(&self.limits)?;
        let t = model.output_tensor(i)?;
        let info = model
            .tensor(t)
            .ok_or_else(|| Error::Run("no output tensor".into()))?;
        let arena = self.arena.as_bytes();
        Ok(match info.dtype {
            DType::F32 => model.output_as::<f32>(arena, i)?.to_vec(),
            DType::F16 => model
                .output_as::<f16>(arena, i)?
                .iter()
                .map(|v| v.to_f32())
                .collect(),
            DType::S8 => model
                .output_as::<i8>(arena, i)?
                .iter()
                .map(|&q| dequantize_s8(q, info.scale, info.zero_point))
                .collect(),
            DType::I32 => return Err(Error::Run("int32 model output".into())),
        })
    }

    /// Runs `input` and returns output 0.
    pub fn infer(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        self.run(input)?;
        self.output(0)
    }
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Relative error in the max norm: `max|a - reference| / max|reference|` (0 when both are 0).
pub fn rel_max(a: &[f32], reference: &[f32]) -> f32 {
    let scale = reference.iter().map(|v| v.abs()).fold(0.0, f32::max);
    let d = max_abs_diff(a, reference);
    if scale == 0.0 {
        d
    } else {
        d / scale
    }
}

/// Cosine similarity, in `f64` (1 for two zero vectors, 0 when only one is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        ab += x as f64 * y as f64;
        aa += x as f64 * x as f64;
        bb += y as f64 * y as f64;
    }
    if aa == 0.0 && bb == 0.0 {
        1.0
    } else if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

/// Index of the largest value (the first on ties).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures() {
        assert_eq!(max_abs_diff(&[1.0, 2.0], &[1.5, 1.0]), 1.0);
        assert_eq!(rel_max(&[1.0, 2.0], &[1.5, 4.0]), 0.5);
        assert!((cosine(&[1.0, 0.0], &[1.0, 1.0]) - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(cosine(&[0.0], &[0.0]), 1.0);
        assert_eq!(argmax(&[0.5, 2.0, 2.0, -1.0]), 1);
    }
}
