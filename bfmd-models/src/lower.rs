//! Lowering a float [`Net`] to a `bfmd-graph` model in f32, f16 or int8.
//!
//! * f32: the folded weights as they are.
//! * f16: weights and activations in half precision, biases in `f32` (the f16 kernels
//!   accumulate in `f32`); the graph input and output are f16 too.
//! * int8: TFLite's full-integer scheme, so the same kernels run it as an imported TFLite
//!   model: asymmetric per-tensor int8 activations ([`QuantPlan`], from calibration),
//!   symmetric per-channel int8 weights (`scale = max|w| / 127`, TFLite
//!   `tools/optimize/quantization_utils.cc`, `SymmetricPerChannelQuantization`), int32 biases
//!   with `bias_scale = input_scale * weight_scale`; int8 graph input and output.
//!
//! With `keep_all`, every tensor of the net is also a graph output, so the planner keeps it
//! alive and readable after a run (calibration and `--compare` read them all).

use crate::calib::QuantPlan;
use crate::error::{Error, Result};
use crate::net::{Act, Conv, Linear, Net, Op, Pool, Unary};
use bfmd_graph::builder::{
    BuildOptions, Built, ConvOptions, GraphBuilder, PoolOptions, Quant, TensorId,
};
use bfmd_graph::{DType, OpKind};
use bfmd_kernels::half::f16;
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::{Padding, Shape};

/// The number format of a lowered model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// IEEE single precision.
    F32,
    /// IEEE half precision (f32 accumulation).
    F16,
    /// TFLite-style int8.
    Int8,
}

impl Precision {
    /// The command-line name (`f32`, `f16`, `int8`).
    pub const fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Int8 => "int8",
        }
    }

    /// The precision of a command-line name.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "f32" => Some(Precision::F32),
            "f16" => Some(Precision::F16),
            "int8" | "s8" => Some(Precision::Int8),
            _ => None,
        }
    }

    /// Element type of activations and weights.
    pub const fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::F16 => DType::F16,
            Precision::Int8 => DType::S8,
        }
    }
}

/// A lowered model.
#[derive(Debug)]
pub struct Lowered {
    /// The blob and its plan.
    pub built: Built,
    /// The precision it was lowered to.
    pub precision: Precision,
    /// For a `keep_all` lowering: the graph output index of every net tensor (the net's
    /// output is always graph output 0).
    pub outputs: Vec<Option<usize>>,
}

fn fused(a: Act) -> FusedActivation {
    match a {
        Act::None => FusedActivation::None,
        Act::Relu => FusedActivation::Relu,
        Act::Relu6 => FusedActivation::Relu6,
    }
}

fn explicit(pad: [usize; 4]) -> Padding {
    Padding::Explicit {
        top: pad[0],
        bottom: pad[1],
        left: pad[2],
        right: pad[3],
    }
}

/// Symmetric per-channel int8 weights: channel `o` is the `len / channels` values at
/// `index(o, k)`; returns the quantized values (same order as `w`) and one scale per channel.
fn quantize_per_channel(
    w: &[f32],
    channels: usize,
    channel_of: impl Fn(usize) -> usize,
) -> (Vec<i8>, Vec<f32>) {
    let mut max = vec![0f32; channels];
    for (i, &v) in w.iter().enumerate() {
        let o = channel_of(i);
        max[o] = max[o].max(v.abs());
    }
    // An all-zero channel (a batch norm with gamma 0) gets a unit-range scale: its weights
    // quantize to 0 whatever the scale, and its bias keeps a sensible int32 resolution.
    let scales: Vec<f32> = max
        .iter()
        .map(|&m| if m > 0.0 { m / 127.0 } else { 1.0 / 127.0 })
        .collect();
    let q = w
        .iter()
        .enumerate()
        .map(|(i, &v)| (v / scales[channel_of(i)]).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (q, scales)
}

/// int32 bias with `bias_scale = input_scale * weight_scale[o]`, rounded to nearest.
fn quantize_bias(b: &[f32], input_scale: f32, w_scales: &[f32]) -> Vec<i32> {
    b.iter()
        .zip(w_scales)
        .map(|(&v, &s)| {
            let q = (v as f64 / (input_scale as f64 * s as f64)).round();
            q.clamp(i32::MIN as f64, i32::MAX as f64) as i32
        })
        .collect()
}

struct Lowerer<'a> {
    net: &'a Net,
    p: Precision,
    plan: Option<&'a QuantPlan>,
    gb: GraphBuilder,
    ids: Vec<Option<TensorId>>,
}

impl Lowerer<'_> {
    fn quant(&self, t: crate::net::T) -> Quant {
        match (self.p, self.plan) {
            (Precision::Int8, Some(plan)) => plan.quant[t.0],
            _ => Quant::NONE,
        }
    }

    fn id(&self, t: crate::net::T) -> Result<TensorId> {
        self.ids[t.0].ok_or_else(|| {
            Error::Build(format!(
                "tensor `{}` is read before it is written",
                self.net.tensors[t.0].name
            ))
        })
    }

    fn new_tensor(&mut self, t: crate::net::T) -> Result<TensorId> {
        let info = &self.net.tensors[t.0];
        let id = self
            .gb
            .tensor(&info.name, info.shape, self.p.dtype(), self.quant(t))?;
        self.ids[t.0] = Some(id);
        Ok(id)
    }

    /// Weights of a convolution-like op as a constant of `shape`; `channel_of(i)` names the
    /// output channel of element `i` (per-channel int8 scales). Returns the constant and the
    /// weight scales (int8 only).
    fn weights(
        &mut self,
        name: &str,
        shape: Shape,
        w: &[f32],
        channels: usize,
        channel_of: impl Fn(usize) -> usize,
    ) -> Result<(TensorId, Vec<f32>)> {
        let cname = format!("{name}/weights");
        Ok(match self.p {
            Precision::F32 => (self.gb.constant_f32(&cname, shape, w)?, vec![]),
            Precision::F16 => {
                let h: Vec<f16> = w.iter().map(|&v| f16::from_f32(v)).collect();
                (self.gb.constant_f16(&cname, shape, &h)?, vec![])
            }
            Precision::Int8 => {
                let (q, scales) = quantize_per_channel(w, channels, channel_of);
                (
                    self.gb
                        .constant_s8_per_channel(&cname, shape, &q, &scales)?,
                    scales,
                )
            }
        })
    }

    fn bias(
        &mut self,
        name: &str,
        b: Option<&Vec<f32>>,
        input_scale: f32,
        w_scales: &[f32],
    ) -> Result<Option<TensorId>> {
        let Some(b) = b else { return Ok(None) };
        let cname = format!("{name}/bias");
        let shape = Shape::new(1, 1, 1, b.len());
        Ok(Some(match self.p {
            Precision::Int8 => {
                let q = quantize_bias(b, input_scale, w_scales);
                self.gb.constant_i32(&cname, shape, &q)?
            }
            _ => self.gb.constant_f32(&cname, shape, b)?,
        }))
    }

    fn conv(&mut self, name: &str, c: &Conv, x: TensorId, y: TensorId) -> Result<()> {
        let (kh, kw) = c.kernel;
        let in_scale = self.gb.quant(x)?.scale;
        let o = ConvOptions {
            stride: c.stride,
            dilation: c.dilation,
            padding: explicit(c.pad),
            groups: c.groups,
            activation: fused(c.act),
        };
        if c.is_depthwise() {
            // OHWI [out, kh, kw, 1] -> TFLite depthwise [1, kh, kw, out].
            let mut dw = vec![0f32; c.weight.len()];
            for oc in 0..c.out_c {
                for k in 0..kh * kw {
                    dw[k * c.out_c + oc] = c.weight[oc * kh * kw + k];
                }
            }
            let out_c = c.out_c;
            let (f, s) = self.weights(name, Shape::new(1, kh, kw, out_c), &dw, out_c, |i| {
                i % out_c
            })?;
            let b = self.bias(name, c.bias.as_ref(), in_scale, &s)?;
            self.gb.add_depthwise_conv2d(x, f, b, y, o)?;
        } else {
            let per_out = kh * kw * (c.in_c / c.groups);
            let (f, s) = self.weights(
                name,
                Shape::new(c.out_c, kh, kw, c.in_c / c.groups),
                &c.weight,
                c.out_c,
                |i| i / per_out,
            )?;
            let b = self.bias(name, c.bias.as_ref(), in_scale, &s)?;
            self.gb.add_conv2d(x, f, b, y, o)?;
        }
        Ok(())
    }

    fn linear(&mut self, name: &str, l: &Linear, x: TensorId, y: TensorId) -> Result<()> {
        let in_scale = self.gb.quant(x)?.scale;
        let in_f = l.in_f;
        let (f, s) = self.weights(
            name,
            Shape::new(l.out_f, 1, 1, l.in_f),
            &l.weight,
            l.out_f,
            |i| i / in_f,
        )?;
        let b = self.bias(name, l.bias.as_ref(), in_scale, &s)?;
        self.gb.add_fully_connected(x, f, b, y, fused(l.act))?;
        Ok(())
    }

    fn pool(&mut self, max: bool, p: &Pool, x: TensorId, y: TensorId) -> Result<()> {
        let o = PoolOptions {
            kernel: p.kernel,
            stride: p.stride,
            padding: explicit(p.pad),
            activation: FusedActivation::None,
            count_include_pad: p.count_include_pad,
        };
        if max {
            self.gb.add_max_pool2d(x, y, o)?;
        } else {
            self.gb.add_avg_pool2d(x, y, o)?;
        }
        Ok(())
    }
}

/// Lowers `net` to `precision` (`plan` is required for int8) and plans it with the
/// in-place-aware planner. With `keep_all`, every net tensor is a graph output as well.
pub fn lower(
    net: &Net,
    precision: Precision,
    plan: Option<&QuantPlan>,
    keep_all: bool,
) -> Result<Lowered> {
    if precision == Precision::Int8 && plan.is_none() {
        return Err(Error::Config(
            "int8 needs activation ranges: calibrate first".into(),
        ));
    }
    let mut l = Lowerer {
        net,
        p: precision,
        plan,
        gb: GraphBuilder::new(),
        ids: vec![None; net.tensors.len()],
    };
    let it = net.input;
    let info = &net.tensors[it.0];
    let q = l.quant(it);
    l.ids[it.0] = Some(l.gb.input(&info.name, info.shape, precision.dtype(), q)?);
    for node in &net.nodes {
        let xs: Vec<TensorId> = node
            .inputs
            .iter()
            .map(|&t| l.id(t))
            .collect::<Result<_>>()?;
        let ys: Vec<TensorId> = node
            .outputs
            .iter()
            .map(|&t| l.new_tensor(t))
            .collect::<Result<_>>()?;
        let (x, y) = (xs[0], ys[0]);
        let r: Result<()> = match &node.op {
            Op::Conv(c) => l.conv(&node.name, c, x, y),
            Op::Linear(li) => l.linear(&node.name, li, x, y),
            Op::MaxPool(p) => l.pool(true, p, x, y),
            Op::AvgPool(p) => l.pool(false, p, x, y),
            Op::Mean => l.gb.add_mean(x, y).map(|_| ()).map_err(Error::from),
            Op::Add(a) => {
                l.gb.add_add(x, xs[1], y, fused(*a))
                    .map(|_| ())
                    .map_err(Error::from)
            }
            Op::Mul => {
                l.gb.add_mul(x, xs[1], y, FusedActivation::None)
                    .map(|_| ())
                    .map_err(Error::from)
            }
            Op::Concat => l.gb.add_concat(&xs, y, 3).map(|_| ()).map_err(Error::from),
            Op::Split => l.gb.add_split(x, &ys, 3).map(|_| ()).map_err(Error::from),
            Op::Shuffle(g) => {
                l.gb.add_channel_shuffle(x, y, *g)
                    .map(|_| ())
                    .map_err(Error::from)
            }
            Op::Unary(u) => {
                let kind = match u {
                    Unary::Relu => OpKind::Relu,
                    Unary::Relu6 => OpKind::Relu6,
                    Unary::HardSigmoid => OpKind::HardSigmoid,
                    Unary::HardSwish => OpKind::HardSwish,
                    Unary::Sigmoid => OpKind::Logistic,
                    Unary::Swish => OpKind::Swish,
                };
                l.gb.add_unary(kind, x, y).map(|_| ()).map_err(Error::from)
            }
        };
        r.map_err(|e| Error::Build(format!("{} ({}): {e}", node.name, net.name)))?;
    }
    let out = l.id(net.output)?;
    l.gb.output(out)?;
    let mut outputs = vec![None; net.tensors.len()];
    outputs[net.output.0] = Some(0);
    if keep_all {
        let mut k = 1;
        for (i, id) in l.ids.iter().enumerate() {
            if i != net.output.0 {
                if let Some(id) = id {
                    l.gb.output(*id)?;
                    outputs[i] = Some(k);
                    k += 1;
                }
            }
        }
    }
    if net.shape(net.output).h == 1 && net.shape(net.output).w == 1 {
        // A classifier's logits: record TFLite's `[1, classes]` rank.
        l.gb.set_rank(out, 2)?;
    }
    let built = l.gb.finish(BuildOptions::default())?;
    Ok(Lowered {
        built,
        precision,
        outputs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_channel_weights_are_symmetric_with_max_over_127() {
        // Two channels of three weights, channel = i / 3.
        let w = [0.5, -1.0, 0.25, 0.0, 0.0, 0.0];
        let (q, s) = quantize_per_channel(&w, 2, |i| i / 3);
        assert_eq!(s[0], 1.0 / 127.0);
        assert_eq!(s[1], 1.0 / 127.0);
        // 0.5 * 127 = 63.5 rounds away from zero to 64 (f32 round).
        assert_eq!(q, vec![64, -127, 32, 0, 0, 0]);
        let b = quantize_bias(&[0.1, -0.2], 0.5, &[0.01, 0.02]);
        assert_eq!(b, vec![20, -20]);
    }
}

#[cfg(test)]
mod lowering_tests {
    use crate::calib::quantize;
    use crate::interp::eval;
    use crate::lower::{lower, Precision};
    use crate::net::{Act, NetBuilder};
    use crate::run::{cosine, Runner};
    use crate::weights::{Tensor, Weights};
    use bfmd_kernels::Shape;
    use std::collections::HashMap;

    #[test]
    fn int8_linear_with_per_channel_scales() {
        // Rows of very different magnitudes: each needs its own weight scale.
        let (n_in, n_out) = (64, 10);
        let w: Vec<f32> = (0..n_in * n_out)
            .map(|i| {
                let o = i / n_in;
                ((i * 37 % 101) as f32 / 50.0 - 1.0) * (o + 1) as f32 * 0.1
            })
            .collect();
        let b: Vec<f32> = (0..n_out).map(|o| 0.05 * o as f32 - 0.2).collect();
        let mut t = HashMap::new();
        t.insert(
            "fc.weight".to_string(),
            Tensor {
                shape: vec![n_out, n_in],
                data: w,
            },
        );
        t.insert(
            "fc.bias".to_string(),
            Tensor {
                shape: vec![n_out],
                data: b,
            },
        );
        let mut ws = Weights::from_tensors(t);
        let (mut nb, x) = NetBuilder::new("fc", Shape::new(1, 1, 1, n_in), &mut ws);
        let y = nb.linear(x, "fc", n_out, true, Act::None).unwrap();
        let net = nb.finish(y).unwrap();
        let inputs: Vec<Vec<f32>> = (0..4)
            .map(|k| {
                (0..n_in)
                    .map(|i| ((i * 13 + k * 7) % 17) as f32 / 8.0 - 1.0)
                    .collect()
            })
            .collect();
        let plan = quantize(&net, &inputs).unwrap();
        let l = lower(&net, Precision::Int8, Some(&plan), false).unwrap();
        let mut r = Runner::new(&l).unwrap();
        for x in &inputs {
            let want = eval(&net, x).unwrap().pop().unwrap();
            let got = r.infer(x).unwrap();
            let c = cosine(&got, &want);
            assert!(c > 0.999, "cosine {c}: {got:?} vs {want:?}");
        }
    }
}
