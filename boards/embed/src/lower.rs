//! Lowering of a parsed TFLite model ([`bfmd_import::tflite::TfliteModel`]) to a planned bfmd
//! blob through [`bfmd_graph::builder::GraphBuilder`].
//!
//! One TFLite operator becomes one graph op, with two exceptions: the converter's channel shuffle
//! (`RESHAPE` to rank 5, `TRANSPOSE` of the last two axes, `RESHAPE` back) becomes one
//! `ChannelShuffle`, and constant operands that are parameters (axes, permutations, shapes,
//! paddings) become op parameters instead of tensors. Quantization constants (multipliers,
//! shifts, clamp ranges) are computed by the builder with the kernels' `from_scales`, exactly as
//! TFLM's `Prepare` does.
//!
//! Shapes: bfmd tensors are NHWC with rank <= 4; a TFLite shape of rank `r < 4` is padded with
//! leading 1s (`[1, 10]` is `1x1x1x10`), so an axis `a` of rank `r` is NHWC axis `a + 4 - r`.
//! Fully connected weights `[out, in]` are stored as `(out, 1, 1, in)`.
//!
//! This lives with the boards because their build scripts need it and the importer has no
//! lowering yet; it uses only `bfmd-import`'s public IR and `bfmd-graph`'s public builder.

use bfmd_graph::builder::{BuildOptions, ConvOptions, GraphBuilder, PoolOptions, Quant, TensorId};
use bfmd_graph::{DType, OpKind};
use bfmd_import::tflite::{
    self, Activation, OpCode, Operator, Options, Padding as TfPadding, Quantization, TfliteModel,
};
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::{Padding, Shape};
use std::collections::HashMap;

/// Parses, lowers and plans a `.tflite` file; returns the blob and the plan report's text.
pub fn tflite_to_blob(bytes: &[u8]) -> Result<(Vec<u8>, String), String> {
    let model = tflite::parse(bytes).map_err(|e| e.to_string())?;
    let mut l = Lowering::new(&model);
    let g = l.lower()?;
    let built = g
        .finish(BuildOptions::default())
        .map_err(|e| format!("planning: {e}"))?;
    Ok((built.blob.as_bytes().to_vec(), built.report.to_string()))
}

struct Lowering<'m> {
    m: &'m TfliteModel,
    g: GraphBuilder,
    ids: HashMap<usize, TensorId>,
}

/// An error message naming operator `op` of `m`.
fn op_err(m: &TfliteModel, op: usize, what: impl std::fmt::Display) -> String {
    let name = m
        .operators
        .get(op)
        .map_or("?".into(), |o| o.code.name().to_string());
    format!("op {op} ({name}): {what}")
}

/// The NHWC shape of a TFLite shape of rank <= 4 (leading 1s added).
fn nhwc(shape: &[usize]) -> Option<Shape> {
    if shape.len() > 4 {
        return None;
    }
    let mut d = [1usize; 4];
    d[4 - shape.len()..].copy_from_slice(shape);
    Some(Shape::new(d[0], d[1], d[2], d[3]))
}

fn fused(a: Activation, op: usize) -> Result<FusedActivation, String> {
    match a {
        Activation::None => Ok(FusedActivation::None),
        Activation::Relu => Ok(FusedActivation::Relu),
        Activation::Relu6 => Ok(FusedActivation::Relu6),
        Activation::ReluN1To1 => Ok(FusedActivation::ReluN1To1),
        other => Err(format!(
            "op {op}: fused activation {other:?} is not supported"
        )),
    }
}

fn padding(p: TfPadding) -> Padding {
    match p {
        TfPadding::Same => Padding::Same,
        TfPadding::Valid => Padding::Valid,
    }
}

/// Maps a TFLite axis (possibly negative) of a rank-`rank` tensor to its NHWC axis.
fn nhwc_axis(axis: i64, rank: usize, op: usize) -> Result<usize, String> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if !(0..r).contains(&a) || rank > 4 {
        return Err(format!("op {op}: axis {axis} out of range for rank {rank}"));
    }
    Ok((a + 4 - r) as usize)
}

impl<'m> Lowering<'m> {
    fn new(m: &'m TfliteModel) -> Self {
        Lowering {
            m,
            g: GraphBuilder::new(),
            ids: HashMap::new(),
        }
    }

    fn err(&self, op: usize, what: impl std::fmt::Display) -> String {
        op_err(self.m, op, what)
    }

    /// The integer values of constant tensor `t` (int32 or int64).
    fn ints(&self, t: usize, op: usize) -> Result<Vec<i64>, String> {
        let info = &self.m.tensors[t];
        let data = self.m.tensor_data(t).ok_or_else(|| {
            self.err(op, format!("tensor {t} ({}) must be a constant", info.name))
        })?;
        match info.dtype {
            tflite::DType::I32 => Ok(data
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect()),
            tflite::DType::I64 => Ok(data
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8-byte chunk")))
                .collect()),
            d => Err(self.err(op, format!("tensor {t}: expected int32/int64, got {d:?}"))),
        }
    }

    fn dtype(&self, t: usize, op: usize) -> Result<DType, String> {
        match self.m.tensors[t].dtype {
            tflite::DType::I8 => Ok(DType::S8),
            tflite::DType::I32 => Ok(DType::I32),
            tflite::DType::F32 => Ok(DType::F32),
            tflite::DType::F16 => Ok(DType::F16),
            d => Err(self.err(op, format!("tensor {t}: dtype {d:?} is not supported"))),
        }
    }

    fn quant(&self, t: usize) -> Quant {
        match &self.m.tensors[t].quantization {
            Some(Quantization::PerTensor { scale, zero_point }) => Quant::new(*scale, *zero_point),
            _ => Quant::NONE,
        }
    }

    /// The builder tensor of TFLite tensor `t`, declared on first use. `weights` marks a fully
    /// connected weight matrix (`[out, in]`, stored `(out, 1, 1, in)`).
    fn tensor(&mut self, t: usize, op: usize, weights: bool) -> Result<TensorId, String> {
        if let Some(id) = self.ids.get(&t) {
            return Ok(*id);
        }
        let m = self.m;
        let info = &m.tensors[t];
        let shape = if weights && info.shape.len() == 2 {
            Shape::new(info.shape[0], 1, 1, info.shape[1])
        } else {
            nhwc(&info.shape).ok_or_else(|| {
                self.err(
                    op,
                    format!(
                        "tensor {t} ({}) has rank {} > 4",
                        info.name,
                        info.shape.len()
                    ),
                )
            })?
        };
        let dtype = self.dtype(t, op)?;
        let q = self.quant(t);
        let name = info.name.clone();
        let be = |e: bfmd_graph::builder::BuildError| op_err(m, op, e);
        let id = if let Some(data) = m.tensor_data(t) {
            match dtype {
                DType::S8 => {
                    let v: Vec<i8> = data.iter().map(|&b| b as i8).collect();
                    match &info.quantization {
                        Some(Quantization::PerChannel { scales, .. }) => {
                            self.g.constant_s8_per_channel(&name, shape, &v, scales)
                        }
                        _ => self.g.constant_s8(&name, shape, &v, q),
                    }
                }
                DType::I32 => {
                    let v: Vec<i32> = data
                        .chunks_exact(4)
                        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    self.g.constant_i32(&name, shape, &v)
                }
                DType::F32 => {
                    let v: Vec<f32> = data
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    self.g.constant_f32(&name, shape, &v)
                }
                DType::F16 => {
                    let v: Vec<half::f16> = data
                        .chunks_exact(2)
                        .map(|c| half::f16::from_le_bytes([c[0], c[1]]))
                        .collect();
                    self.g.constant_f16(&name, shape, &v)
                }
            }
            .map_err(be)?
        } else if m.inputs.contains(&t) {
            self.g.input(&name, shape, dtype, q).map_err(be)?
        } else {
            self.g.tensor(&name, shape, dtype, q).map_err(be)?
        };
        let rank = info.shape.len().clamp(1, 4) as u8;
        if !weights {
            self.g.set_rank(id, rank).map_err(|e| self.err(op, e))?;
        }
        self.ids.insert(t, id);
        Ok(id)
    }

    fn input(&mut self, o: &Operator, slot: usize, op: usize) -> Result<TensorId, String> {
        let t = o
            .input(slot)
            .ok_or_else(|| self.err(op, format!("input {slot} is missing")))?;
        self.tensor(t, op, false)
    }

    fn output(&mut self, o: &Operator, slot: usize, op: usize) -> Result<TensorId, String> {
        let t = *o
            .outputs
            .get(slot)
            .ok_or_else(|| self.err(op, format!("output {slot} is missing")))?;
        self.tensor(t, op, false)
    }

    fn rank(&self, o: &Operator, slot: usize) -> usize {
        o.input(slot).map_or(0, |t| self.m.tensors[t].shape.len())
    }

    /// How many operators read tensor `t`, plus one if it is a graph output.
    fn readers(&self, t: usize) -> usize {
        self.m
            .operators
            .iter()
            .flat_map(|o| o.inputs.iter())
            .filter(|i| **i == Some(t))
            .count()
            + usize::from(self.m.outputs.contains(&t))
    }

    /// `RESHAPE a -> [.., g, c/g]` (rank 5), `TRANSPOSE` of the last two axes, `RESHAPE` back to
    /// `a`'s shape: a channel shuffle with `g` groups. Returns `(groups, input, output)` tensors.
    fn shuffle_at(&self, i: usize) -> Option<(usize, usize, usize)> {
        let ops = &self.m.operators;
        let (r1, tr, r2) = (ops.get(i)?, ops.get(i + 1)?, ops.get(i + 2)?);
        if r1.code != OpCode::Reshape || tr.code != OpCode::Transpose || r2.code != OpCode::Reshape
        {
            return None;
        }
        let (a, t5) = (r1.input(0)?, *r1.outputs.first()?);
        let t5b = *tr.outputs.first()?;
        let b = *r2.outputs.first()?;
        if tr.input(0)? != t5 || r2.input(0)? != t5b {
            return None;
        }
        let (sa, s5, sb) = (
            &self.m.tensors[a].shape,
            &self.m.tensors[t5].shape,
            &self.m.tensors[b].shape,
        );
        let perm = self.ints(tr.input(1)?, i + 1).ok()?;
        let n = s5.len();
        let swap_last: Vec<i64> = (0..n as i64 - 2)
            .chain([n as i64 - 1, n as i64 - 2])
            .collect();
        let c = *sa.last()?;
        let ok = n >= 3
            && perm == swap_last
            && sa == sb
            && s5[n - 2] * s5[n - 1] == c
            && s5[..n - 2].iter().product::<usize>() * c == sa.iter().product::<usize>()
            && self.readers(t5) == 1
            && self.readers(t5b) == 1;
        ok.then_some((s5[n - 2], a, b))
    }

    fn lower(&mut self) -> Result<GraphBuilder, String> {
        let m = self.m;
        let mut i = 0;
        while i < m.operators.len() {
            if let Some((groups, a, b)) = self.shuffle_at(i) {
                let x = self.tensor(a, i, false)?;
                let y = self.tensor(b, i + 2, false)?;
                self.g
                    .add_channel_shuffle(x, y, groups)
                    .map_err(|e| self.err(i, format!("channel shuffle: {e}")))?;
                i += 3;
                continue;
            }
            self.lower_op(i)?;
            i += 1;
        }
        for &t in &m.outputs {
            let id = self.tensor(t, m.operators.len(), false)?;
            self.g
                .output(id)
                .map_err(|e| format!("graph output {t}: {e}"))?;
        }
        Ok(std::mem::take(&mut self.g))
    }

    fn lower_op(&mut self, i: usize) -> Result<(), String> {
        let m = self.m;
        let o = &m.operators[i];
        let be = |e: bfmd_graph::builder::BuildError| op_err(m, i, e);
        match (&o.code, &o.options) {
            (OpCode::Conv2d, Options::Conv2d(c)) => {
                let x = self.input(o, 0, i)?;
                let f = self.input(o, 1, i)?;
                let b = match o.input(2) {
                    Some(t) => Some(self.tensor(t, i, false)?),
                    None => None,
                };
                let y = self.output(o, 0, i)?;
                let in_c = self.g.shape(x).map_err(be)?.c;
                let f_c = self.g.shape(f).map_err(be)?.c;
                if f_c == 0 || in_c % f_c != 0 {
                    return Err(self.err(i, "filter channels do not divide input channels"));
                }
                let opts = ConvOptions {
                    stride: (c.stride_h, c.stride_w),
                    dilation: (c.dilation_h, c.dilation_w),
                    padding: padding(c.padding),
                    groups: in_c / f_c,
                    activation: fused(c.activation, i)?,
                };
                self.g.add_conv2d(x, f, b, y, opts).map_err(be)?;
            }
            (OpCode::DepthwiseConv2d, Options::DepthwiseConv2d(c)) => {
                let x = self.input(o, 0, i)?;
                let f = self.input(o, 1, i)?;
                let b = match o.input(2) {
                    Some(t) => Some(self.tensor(t, i, false)?),
                    None => None,
                };
                let y = self.output(o, 0, i)?;
                let opts = ConvOptions {
                    stride: (c.stride_h, c.stride_w),
                    dilation: (c.dilation_h, c.dilation_w),
                    padding: padding(c.padding),
                    groups: 1,
                    activation: fused(c.activation, i)?,
                };
                self.g.add_depthwise_conv2d(x, f, b, y, opts).map_err(be)?;
            }
            (OpCode::FullyConnected, Options::FullyConnected(c)) => {
                let x = self.input(o, 0, i)?;
                let wt = o.input(1).ok_or_else(|| self.err(i, "weights missing"))?;
                let w = self.tensor(wt, i, true)?;
                let b = match o.input(2) {
                    Some(t) => Some(self.tensor(t, i, false)?),
                    None => None,
                };
                let y = self.output(o, 0, i)?;
                self.g
                    .add_fully_connected(x, w, b, y, fused(c.activation, i)?)
                    .map_err(be)?;
            }
            (OpCode::AveragePool2d | OpCode::MaxPool2d, Options::Pool2d(p)) => {
                let x = self.input(o, 0, i)?;
                let y = self.output(o, 0, i)?;
                let opts = PoolOptions {
                    kernel: (p.filter_h, p.filter_w),
                    stride: (p.stride_h, p.stride_w),
                    padding: padding(p.padding),
                    activation: fused(p.activation, i)?,
                    count_include_pad: false,
                };
                if o.code == OpCode::MaxPool2d {
                    self.g.add_max_pool2d(x, y, opts)
                } else {
                    self.g.add_avg_pool2d(x, y, opts)
                }
                .map_err(be)?;
            }
            (OpCode::Mean, _) => {
                let rank = self.rank(o, 0);
                let axes_t = o.input(1).ok_or_else(|| self.err(i, "axes missing"))?;
                let mut axes = self
                    .ints(axes_t, i)?
                    .into_iter()
                    .map(|a| nhwc_axis(a, rank, i))
                    .collect::<Result<Vec<_>, _>>()?;
                axes.sort_unstable();
                if rank != 4 || axes != [1, 2] {
                    return Err(self.err(i, "only the mean over height and width is supported"));
                }
                let x = self.input(o, 0, i)?;
                let y = self.output(o, 0, i)?;
                self.g.add_mean(x, y).map_err(be)?;
            }
            (OpCode::Add | OpCode::Mul, opts) => {
                let act = match opts {
                    Options::Add(a) => a.activation,
                    Options::Mul(m) => m.activation,
                    _ => Activation::None,
                };
                let a = self.input(o, 0, i)?;
                let b = self.input(o, 1, i)?;
                let y = self.output(o, 0, i)?;
                let act = fused(act, i)?;
                if o.code == OpCode::Add {
                    self.g.add_add(a, b, y, act)
                } else {
                    self.g.add_mul(a, b, y, act)
                }
                .map_err(be)?;
            }
            (OpCode::Concatenation, Options::Concatenation(c)) => {
                if c.activation != Activation::None {
                    return Err(self.err(i, "fused activation on a concatenation"));
                }
                let axis = nhwc_axis(i64::from(c.axis), self.rank(o, 0), i)?;
                let xs = (0..o.inputs.len())
                    .map(|s| self.input(o, s, i))
                    .collect::<Result<Vec<_>, _>>()?;
                let y = self.output(o, 0, i)?;
                self.g.add_concat(&xs, y, axis).map_err(be)?;
            }
            (OpCode::Split, _) | (OpCode::SplitV, _) => {
                // SPLIT: (axis, data); SPLIT_V: (data, size_splits, axis).
                let (data_slot, axis_slot) = if o.code == OpCode::Split {
                    (1, 0)
                } else {
                    (0, 2)
                };
                let axis_t = o
                    .input(axis_slot)
                    .ok_or_else(|| self.err(i, "axis missing"))?;
                let axis = *self
                    .ints(axis_t, i)?
                    .first()
                    .ok_or_else(|| self.err(i, "empty axis"))?;
                let axis = nhwc_axis(axis, self.rank(o, data_slot), i)?;
                let x = self.input(o, data_slot, i)?;
                let ys = (0..o.outputs.len())
                    .map(|s| self.output(o, s, i))
                    .collect::<Result<Vec<_>, _>>()?;
                self.g.add_split(x, &ys, axis).map_err(be)?;
            }
            (OpCode::Reshape, _) => {
                let x = self.input(o, 0, i)?;
                let y = self.output(o, 0, i)?;
                self.g.add_reshape(x, y).map_err(be)?;
            }
            (OpCode::Transpose, _) => {
                let rank = self.rank(o, 0);
                let perm_t = o.input(1).ok_or_else(|| self.err(i, "perm missing"))?;
                let perm = self.ints(perm_t, i)?;
                if rank > 4 || perm.len() != rank {
                    return Err(self.err(i, format!("permutation of rank {rank} not supported")));
                }
                // Leading (padded) axes stay in place; the others move as `perm` says.
                let lead = 4 - rank;
                let mut p = [0, 1, 2, 3];
                for (d, &v) in perm.iter().enumerate() {
                    p[lead + d] = nhwc_axis(v, rank, i)?;
                }
                let x = self.input(o, 0, i)?;
                let y = self.output(o, 0, i)?;
                self.g.add_transpose(x, y, p).map_err(be)?;
            }
            (OpCode::Pad | OpCode::PadV2, _) => {
                let rank = self.rank(o, 0);
                let pads_t = o.input(1).ok_or_else(|| self.err(i, "paddings missing"))?;
                let pads = self.ints(pads_t, i)?;
                if rank > 4 || pads.len() != 2 * rank || pads.iter().any(|&p| p < 0) {
                    return Err(self.err(i, "paddings must be non-negative, two per dimension"));
                }
                let (mut before, mut after) = ([0usize; 4], [0usize; 4]);
                for d in 0..rank {
                    before[4 - rank + d] = pads[2 * d] as usize;
                    after[4 - rank + d] = pads[2 * d + 1] as usize;
                }
                // PADV2's constant matters for float tensors only: int8 pads with the zero point.
                let value = match o.input(2) {
                    Some(t) if m.tensors[t].dtype == tflite::DType::F32 => m
                        .tensor_data(t)
                        .filter(|v| v.len() >= 4)
                        .map_or(0.0, |v| f32::from_le_bytes([v[0], v[1], v[2], v[3]])),
                    _ => 0.0,
                };
                let x = self.input(o, 0, i)?;
                let y = self.output(o, 0, i)?;
                self.g.add_pad(x, y, before, after, value).map_err(be)?;
            }
            (OpCode::HardSwish | OpCode::Logistic | OpCode::Relu | OpCode::Relu6, _) => {
                let kind = match o.code {
                    OpCode::HardSwish => OpKind::HardSwish,
                    OpCode::Logistic => OpKind::Logistic,
                    OpCode::Relu => OpKind::Relu,
                    _ => OpKind::Relu6,
                };
                let x = self.input(o, 0, i)?;
                let y = self.output(o, 0, i)?;
                self.g.add_unary(kind, x, y).map_err(be)?;
            }
            (OpCode::Softmax, opts) => {
                let beta = match opts {
                    Options::Softmax(s) => s.beta,
                    _ => 1.0,
                };
                let x = self.input(o, 0, i)?;
                let y = self.output(o, 0, i)?;
                self.g.add_softmax(x, y, beta).map_err(be)?;
            }
            (OpCode::Quantize, _) => {
                let x = self.input(o, 0, i)?;
                let y = self.output(o, 0, i)?;
                self.g.add_quantize(x, y).map_err(be)?;
            }
            (OpCode::Dequantize, _) => {
                let x = self.input(o, 0, i)?;
                let y = self.output(o, 0, i)?;
                self.g.add_dequantize(x, y).map_err(be)?;
            }
            (code, _) => {
                return Err(self.err(i, format!("{} is not supported", code.name())));
            }
        }
        Ok(())
    }
}
