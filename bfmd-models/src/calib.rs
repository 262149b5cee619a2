//! Post-training calibration: run the f32 model on the user's images keeping every
//! intermediate tensor, record each tensor's range, and choose TFLite's asymmetric int8
//! quantization per tensor.
//!
//! Rules:
//!
//! * **Range**: the minimum and maximum over every element of every calibration image (TFLite's
//!   default min/max calibrator), widened to include 0 so that real 0 is exact.
//! * **Scale and zero point**: `scale = (max - min) / 255`, `zero_point = round(-128 - min /
//!   scale)` clamped to the int8 range: TFLite's `GetAsymmetricQuantizationParams`
//!   (`tensorflow/lite/tools/optimize/quantization_utils.cc`), written anew here.
//! * **Shared quantization**: ops that move int8 bytes without rescaling (concatenation,
//!   split, channel shuffle, max and average pooling) and int8 RELU6 (which TFLM runs as a
//!   clamp) need one quantization on all their tensors. Such tensors are merged into groups
//!   (union-find) and each group gets the union of its members' ranges, as TFLite's converter
//!   forces "same scale" operands.
//! * **Fixed outputs**: sigmoid outputs use TFLite's fixed `1/256, -128` (the int8 LOGISTIC
//!   kernel requires it).

use crate::error::{Error, Result};
use crate::lower::{lower, Precision};
use crate::net::{Net, Op, Unary};
use crate::run::Runner;
use bfmd_graph::builder::Quant;

/// Per-tensor ranges of a [`Net`] over the calibration images.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranges {
    /// Minimum of every tensor.
    pub min: Vec<f32>,
    /// Maximum of every tensor.
    pub max: Vec<f32>,
    /// Number of images seen.
    pub images: usize,
}

/// The int8 quantization of every tensor of a [`Net`].
#[derive(Clone, Debug, PartialEq)]
pub struct QuantPlan {
    /// Quantization of tensor `i`.
    pub quant: Vec<Quant>,
}

/// Runs the f32 lowering of `net` on every image (NHWC `f32`, the net's input shape) keeping
/// every tensor, and returns their ranges.
pub fn calibrate(net: &Net, images: &[Vec<f32>]) -> Result<Ranges> {
    if images.is_empty() {
        return Err(Error::Config("calibration needs at least one image".into()));
    }
    let l = lower(net, Precision::F32, None, true)?;
    let mut r = Runner::new(&l)?;
    let n = net.tensors.len();
    let mut ranges = Ranges {
        min: vec![f32::INFINITY; n],
        max: vec![f32::NEG_INFINITY; n],
        images: 0,
    };
    for img in images {
        r.run(img)?;
        for (t, o) in l.outputs.iter().enumerate() {
            let Some(o) = *o else { continue };
            for v in r.output(o)? {
                ranges.min[t] = ranges.min[t].min(v);
                ranges.max[t] = ranges.max[t].max(v);
            }
        }
        ranges.images += 1;
    }
    Ok(ranges)
}

/// TFLite's asymmetric int8 quantization of the range `[min, max]` (widened to contain 0).
pub fn asymmetric_quant(min: f32, max: f32) -> Quant {
    let (qmin, qmax) = (-128f64, 127f64);
    let min = (min as f64).min(0.0);
    let max = (max as f64).max(0.0);
    if max - min <= 0.0 || !(max - min).is_finite() {
        // A tensor that is always 0: any scale represents it; keep 0 at -128.
        return Quant::new(1.0 / 255.0, -128);
    }
    let scale = (max - min) / (qmax - qmin);
    let zp_from_min = qmin - min / scale;
    let zp = if zp_from_min < qmin {
        qmin
    } else if zp_from_min > qmax {
        qmax
    } else {
        zp_from_min.round()
    };
    Quant::new(scale as f32, zp as i32)
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        parent[rb.max(ra)] = rb.min(ra);
    }
}

impl QuantPlan {
    /// The quantization of every tensor from calibrated ranges (rules in the module docs).
    pub fn from_ranges(net: &Net, r: &Ranges) -> Result<Self> {
        let n = net.tensors.len();
        if r.min.len() != n || r.max.len() != n {
            return Err(Error::Config(format!(
                "ranges cover {} tensors, the net has {n}",
                r.min.len()
            )));
        }
        let mut parent: Vec<usize> = (0..n).collect();
        for node in &net.nodes {
            let shared = matches!(
                node.op,
                Op::Concat
                    | Op::Split
                    | Op::Shuffle(_)
                    | Op::MaxPool(_)
                    | Op::AvgPool(_)
                    | Op::Unary(Unary::Relu6)
            );
            if shared {
                let first = node.inputs[0].0;
                for t in node.inputs.iter().chain(&node.outputs) {
                    union(&mut parent, first, t.0);
                }
            }
        }
        let mut lo = vec![f32::INFINITY; n];
        let mut hi = vec![f32::NEG_INFINITY; n];
        for t in 0..n {
            let g = find(&mut parent, t);
            lo[g] = lo[g].min(r.min[t]);
            hi[g] = hi[g].max(r.max[t]);
        }
        let mut quant: Vec<Quant> = (0..n)
            .map(|t| {
                let g = find(&mut parent, t);
                asymmetric_quant(lo[g], hi[g])
            })
            .collect();
        for node in &net.nodes {
            if node.op == Op::Unary(Unary::Sigmoid) {
                let t = node.outputs[0].0;
                if (0..n).any(|u| u != t && find(&mut parent, u) == find(&mut parent, t)) {
                    return Err(Error::Config(format!(
                        "{}: a sigmoid output cannot share its quantization",
                        node.name
                    )));
                }
                quant[t] = Quant::new(1.0 / 256.0, -128);
            }
        }
        Ok(QuantPlan { quant })
    }
}

/// Calibrates `net` on `images` and returns its int8 quantization.
pub fn quantize(net: &Net, images: &[Vec<f32>]) -> Result<QuantPlan> {
    let r = calibrate(net, images)?;
    QuantPlan::from_ranges(net, &r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asymmetric_params_follow_tflite() {
        // [-1, 1]: scale 2/255, zero point -128 + 127.5 = -0.5 -> rounds to -1 (half away
        // from zero), as TFLite's `std::round`.
        let q = asymmetric_quant(-1.0, 1.0);
        assert_eq!(q.scale, (2.0f64 / 255.0) as f32);
        assert_eq!(q.zero_point, -1);
        // A ReLU output [0, 6]: zero point at the bottom.
        let q = asymmetric_quant(0.5, 6.0);
        assert_eq!(q.scale, (6.0f64 / 255.0) as f32);
        assert_eq!(q.zero_point, -128);
        // All negative: the range is widened to 0 at the top.
        let q = asymmetric_quant(-5.1, -1.0);
        assert_eq!(q.zero_point, 127);
        assert_eq!(asymmetric_quant(0.0, 0.0), Quant::new(1.0 / 255.0, -128));
    }
}
