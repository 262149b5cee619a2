//! Lowering of a parsed TFLite model ([`TfliteModel`]) to a planned bfmd model: a
//! [`GraphBuilder`] graph, its memory plan and its blob.
//!
//! One TFLite operator becomes one graph op, with these exceptions:
//!
//! * the converter's channel shuffle, `RESHAPE` to `[.., g, c/g]`, `TRANSPOSE` of the last two
//!   axes, `RESHAPE` back to the input's shape, becomes one `ChannelShuffle` with `g` groups
//!   (only when the permutation really is that shuffle and the intermediate tensors have no
//!   other reader; otherwise the three ops are lowered one by one);
//! * `RESHAPE` is a view: the planner gives its output the input's bytes, nothing runs;
//! * constant operands that are parameters (axes, permutations, shapes, paddings, split sizes)
//!   become op parameters instead of tensors;
//! * `DEQUANTIZE` of a constant (weights stored as f16 or int8 in a float model) is folded into
//!   an `f32` constant.
//!
//! Quantization constants (multipliers, shifts, clamp ranges, lookup tables) are computed once
//! here by the builder with the kernels' `from_scales` constructors, which do what TFLM's
//! `Prepare` functions do; the executor never touches a float for an int8 model.
//!
//! Shapes: bfmd tensors are NHWC with rank <= 4. A TFLite shape of rank `r < 4` gets `4 - r`
//! leading 1s (`[1, 10]` is `1x1x1x10`), as the kernels' `perm_from_tflite` assumes, so axis `a`
//! of a rank-`r` tensor is NHWC axis `a + 4 - r`. Fully connected weights `[out, in]` are stored
//! as `(out, 1, 1, in)`, the layout the builder's fully connected op takes.
//!
//! Every error names the TFLite operator (index and name) and, where one tensor is at fault, the
//! tensor (index and name): [`ImportError::Lowering`].
//!
//! The first version of this lowering was written for the boards' build scripts
//! (`boards/embed/src/lower.rs`); this one replaced it, and the boards call it.

mod host;

pub use host::HostModel;

use crate::tflite::{
    self, Activation, DType as TfDType, ImportError, OpCode, Operator, Options,
    Padding as TfPadding, Quantization, TfliteModel,
};
use bfmd_graph::builder::{
    BuildError, BuildOptions, Built, ConvOptions, GraphBuilder, PoolOptions, Quant, TensorId,
};
use bfmd_graph::{DType, GraphError, Limits, OpKind};
use bfmd_kernels::half::f16;
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::{Padding, Shape};
use std::collections::HashMap;

/// How [`tflite_to_graph`] lowers and plans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LowerOptions {
    /// Let the planner run ops in place or overlapping where a kernel variant allows it (keeping
    /// each such decision only if the arena does not grow). `false` gives TFLM-style planning.
    pub in_place: bool,
    /// Fold `RESHAPE -> TRANSPOSE -> RESHAPE` channel shuffles into one `ChannelShuffle` op.
    pub fold_channel_shuffles: bool,
    /// Let the builder fuse `CONCATENATION -> shuffle -> SPLIT` along channels into one
    /// `ConcatShuffleSplit` op ([`BuildOptions::fuse_shuffles`]; needs the shuffle folded).
    pub fuse_shuffles: bool,
    /// Let the builder fold int8 elementwise chains (`LOGISTIC -> MUL` swish, `HARD_SWISH`,
    /// activations, requantizations) into one lookup-table op each
    /// ([`BuildOptions::fold_luts`]; bit-identical by construction).
    pub fold_luts: bool,
    /// Let the builder store the weights of int8 fully connected layers with at most this many
    /// weights as int16 pairs ([`BuildOptions::wide_fc_weights`]; bit-identical, faster on DSP
    /// cores, twice those weights' flash); `0` keeps them int8.
    pub wide_fc_weights: usize,
    /// TFLite tensor indices to expose as extra graph outputs after the model's own, to compare
    /// intermediate tensors with a reference interpreter. They live to the end of the run, so
    /// the arena grows.
    pub extra_outputs: Vec<usize>,
    /// Names of the TFLite tensors to make the graph outputs, in this order, instead of the
    /// model's own (empty: the model's). Operators that feed none of the outputs are dropped,
    /// so a model whose tail is an operator bfmd does not run (a custom decoder) runs up to the
    /// tensors before it. Operators that feed no output are dropped in any case.
    pub outputs: Vec<String>,
    /// Bounds on the lowered model's arena, work and tensor sizes, checked by
    /// [`bfmd_graph::Model::parse_with_limits`] on the blob before anything runs or allocates
    /// an arena; an operator over a bound is an error naming it. Default: [`Limits::HOST`].
    pub limits: Limits,
    /// The kernels the model will run on, whose scratch the plan reserves
    /// ([`BuildOptions::path`]; [`bfmd_graph::KernelPath::HOST`] by default, a firmware's
    /// build script passes its target's).
    pub path: bfmd_graph::KernelPath,
}

impl Default for LowerOptions {
    fn default() -> Self {
        LowerOptions {
            in_place: true,
            fold_channel_shuffles: true,
            fuse_shuffles: true,
            fold_luts: true,
            wide_fc_weights: bfmd_graph::builder::DEFAULT_WIDE_FC_WEIGHTS,
            extra_outputs: Vec::new(),
            outputs: Vec::new(),
            limits: Limits::HOST,
            path: bfmd_graph::KernelPath::HOST,
        }
    }
}

/// A lowered and planned model with, for each bfmd op, the TFLite operator it came from.
#[derive(Debug)]
pub struct Lowered {
    /// The blob and the plan report.
    pub built: Built,
    /// `sources[j]` says where bfmd op `j` comes from.
    pub sources: Vec<Source>,
}

/// The TFLite side of one bfmd op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// Index of the TFLite operator lowered (for a folded channel shuffle, its first
    /// `RESHAPE`; for a fused chain, its first operator).
    pub op: usize,
    /// TFLite's name of that operator (`"CONV_2D"`; `"RESHAPE+TRANSPOSE+RESHAPE"` for a folded
    /// channel shuffle; the names joined by `+` for a fused chain, e.g.
    /// `"CONCATENATION+RESHAPE+TRANSPOSE+RESHAPE+SPLIT"`).
    pub op_name: String,
    /// The TFLite tensors the bfmd op writes, in output order.
    pub outputs: Vec<usize>,
}

/// Lowers and plans `model`: the blob (ready for [`bfmd_graph::Model::parse`]) and the plan
/// report (arena, RAM and weight bytes, MACs, one line per op).
pub fn tflite_to_graph(model: &TfliteModel, options: &LowerOptions) -> Result<Built, ImportError> {
    lower(model, options).map(|l| l.built)
}

/// Parses a `.tflite` file and lowers it with [`tflite_to_graph`].
pub fn tflite_bytes_to_graph(bytes: &[u8], options: &LowerOptions) -> Result<Built, ImportError> {
    tflite_to_graph(&tflite::parse(bytes)?, options)
}

/// [`tflite_to_graph`], also returning the TFLite operator behind every bfmd op.
pub fn lower(model: &TfliteModel, options: &LowerOptions) -> Result<Lowered, ImportError> {
    let outputs = graph_outputs(model, &options.outputs)?;
    let needed = needed_operators(model, outputs.iter().chain(&options.extra_outputs));
    check_operators(model, &needed)?;
    let mut l = Lowering::new(model);
    l.needed = needed;
    l.lower_ops(options.fold_channel_shuffles)?;
    l.mark_outputs(&outputs, &options.extra_outputs)?;
    let built =
        l.g.finish(BuildOptions {
            in_place: options.in_place,
            fuse_shuffles: options.fuse_shuffles,
            fold_luts: options.fold_luts,
            wide_fc_weights: options.wide_fc_weights,
            path: options.path,
        })
        .map_err(|e| {
            let op = e.op.and_then(|(j, _)| l.sources.get(j).map(|s| s.op));
            l.build_err(op, e)
        })?;
    let sources = fused_sources(&l.sources, &built);
    check_limits(&l, &built, &sources, &options.limits)?;
    Ok(Lowered { built, sources })
}

/// How an unsupported operator is named in errors: its TFLite name, custom operators as
/// custom, recurrent ones as out of scope.
fn unsupported_name(code: &OpCode) -> String {
    match code {
        OpCode::Custom(name) => format!("custom op `{name}`"),
        other => {
            let name = other.name();
            if ["LSTM", "RNN", "GRU"].iter().any(|r| name.contains(r)) {
                format!("{name}: recurrent operators are not supported")
            } else {
                name.to_string()
            }
        }
    }
}

/// The TFLite tensors that become the graph outputs: the model's own, or those named.
fn graph_outputs(model: &TfliteModel, names: &[String]) -> Result<Vec<usize>, ImportError> {
    if names.is_empty() {
        return Ok(model.outputs.clone());
    }
    names
        .iter()
        .map(|n| {
            model
                .tensors
                .iter()
                .position(|t| &t.name == n)
                .ok_or_else(|| ImportError::Lowering {
                    op: None,
                    tensor: None,
                    detail: format!("no tensor named `{n}` to make a graph output"),
                })
        })
        .collect()
}

/// Which operators compute something an output needs (walking back from `outputs`).
fn needed_operators<'a>(
    model: &TfliteModel,
    outputs: impl Iterator<Item = &'a usize>,
) -> Vec<bool> {
    let mut wanted = vec![false; model.tensors.len()];
    for &t in outputs {
        if let Some(w) = wanted.get_mut(t) {
            *w = true;
        }
    }
    let mut needed = vec![false; model.operators.len()];
    for (i, o) in model.operators.iter().enumerate().rev() {
        if o.outputs
            .iter()
            .any(|&t| wanted.get(t).copied().unwrap_or(false))
        {
            needed[i] = true;
            for &t in o.inputs.iter().flatten() {
                if let Some(w) = wanted.get_mut(t) {
                    *w = true;
                }
            }
        }
    }
    needed
}

/// `Err` naming every needed operator of `model` the lowering has no rule for, before any is
/// lowered.
fn check_operators(model: &TfliteModel, needed: &[bool]) -> Result<(), ImportError> {
    let mut ops: Vec<(usize, String)> = model
        .operators
        .iter()
        .enumerate()
        // Every operator named in `OpCode` has a lowering rule (`Lowering::lower_op`).
        .filter(|(i, o)| needed[*i] && !o.code.is_known())
        .map(|(i, o)| (i, unsupported_name(&o.code)))
        .collect();
    match ops.len() {
        0 => Ok(()),
        1 => {
            let (op, op_name) = ops.remove(0);
            Err(ImportError::UnsupportedOp { op, op_name })
        }
        _ => Err(ImportError::UnsupportedOps { ops }),
    }
}

/// Parses the built blob with `limits`: a model over a bound (a pooling window of millions of
/// taps, an arena of gigabytes) is rejected here, before a caller allocates its arena or runs
/// it, with the TFLite operator named.
fn check_limits(
    l: &Lowering<'_>,
    built: &Built,
    sources: &[Source],
    limits: &Limits,
) -> Result<(), ImportError> {
    let Err(e) = built.blob.model_with_limits(limits) else {
        return Ok(());
    };
    let (op, detail) = match e {
        GraphError::Limit {
            op: Some(j),
            what,
            value,
            limit,
            ..
        } => (
            sources.get(j).map(|s| s.op),
            format!("{what} is {value}, above the limit of {limit}"),
        ),
        e => (None, e.to_string()),
    };
    Err(ImportError::Lowering {
        op: op.map(|op| l.op_id(op)),
        tensor: None,
        detail,
    })
}

/// The TFLite side of each op of `built`, from the side of each op added to the builder: a
/// fused op starts at its first source's operator, joins the names, and writes its last
/// source's outputs.
fn fused_sources(added: &[Source], built: &Built) -> Vec<Source> {
    built
        .report
        .ops
        .iter()
        .map(|o| {
            let parts: Vec<&Source> = o.sources.iter().filter_map(|&j| added.get(j)).collect();
            match (parts.first(), parts.last()) {
                (Some(first), Some(last)) => Source {
                    op: first.op,
                    op_name: parts
                        .iter()
                        .map(|s| s.op_name.as_str())
                        .collect::<Vec<_>>()
                        .join("+"),
                    outputs: last.outputs.clone(),
                },
                _ => Source {
                    op: 0,
                    op_name: "?".into(),
                    outputs: Vec::new(),
                },
            }
        })
        .collect()
}

/// TFLite's fused activation as the kernels' clamp rule.
fn fused(a: Activation) -> Option<FusedActivation> {
    match a {
        Activation::None => Some(FusedActivation::None),
        Activation::Relu => Some(FusedActivation::Relu),
        Activation::Relu6 => Some(FusedActivation::Relu6),
        Activation::ReluN1To1 => Some(FusedActivation::ReluN1To1),
        Activation::Tanh | Activation::SignBit => None,
    }
}

fn padding(p: TfPadding) -> Padding {
    match p {
        TfPadding::Same => Padding::Same,
        TfPadding::Valid => Padding::Valid,
    }
}

/// The input and output counts (`(min, max)` each) a TFLite operator of `code` takes: TFLite's
/// kernels' `NumInputs` / `NumOutputs` checks, with optional inputs (a bias, PAD's value,
/// RESHAPE's shape) counted as slots, absent ones stored as -1. `None` for the codes bfmd does
/// not lower (reported as unsupported).
fn arity(code: &OpCode) -> Option<((usize, usize), (usize, usize))> {
    use OpCode::*;
    let one = (1, 1);
    Some(match code {
        Conv2d | DepthwiseConv2d | FullyConnected => ((2, 3), one),
        AveragePool2d | MaxPool2d | HardSwish | Logistic | Relu | Relu6 | Softmax | Quantize
        | Dequantize => (one, one),
        Mean | Add | Mul | Sub | Transpose | Prelu => ((2, 2), one),
        ResizeBilinear | ResizeNearestNeighbor => ((2, 2), one),
        Reshape => ((1, 2), one),
        Pad | PadV2 => ((2, 3), one),
        Concatenation => ((1, usize::MAX), one),
        Split => ((2, 2), (1, usize::MAX)),
        SplitV => ((3, 3), (1, usize::MAX)),
        Custom(_) | Other(..) => return None,
    })
}

/// `"2 or 3 inputs"`, `"1 output"`, `"at least 1 input"`: a count range for messages.
fn count_phrase((lo, hi): (usize, usize), noun: &str) -> String {
    let s = |n: usize| if n == 1 { "" } else { "s" };
    match hi {
        usize::MAX => format!("at least {lo} {noun}{}", s(lo)),
        _ if hi == lo => format!("{lo} {noun}{}", s(lo)),
        _ if hi == lo + 1 => format!("{lo} or {hi} {noun}s"),
        _ => format!("{lo} to {hi} {noun}s"),
    }
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

/// The NHWC axis of TFLite axis `axis` (negative counts from the end, as TFLite allows) of a
/// rank-`rank` tensor, `None` when out of range.
fn nhwc_axis(axis: i64, rank: usize) -> Option<usize> {
    let r = i64::try_from(rank).ok().filter(|&r| r <= 4)?;
    let a = if axis < 0 { axis + r } else { axis };
    (0..r).contains(&a).then(|| (a + 4 - r) as usize)
}

/// The state of one lowering: the builder and the TFLite-to-builder tensor map.
struct Lowering<'m> {
    m: &'m TfliteModel,
    g: GraphBuilder,
    /// Builder tensor of each TFLite tensor declared so far.
    ids: HashMap<usize, TensorId>,
    /// TFLite tensor of each builder tensor the lowering declared (the builder adds its own
    /// constants, multipliers and tables, which have none).
    tflite_of: HashMap<TensorId, usize>,
    /// Float constants made by folding `DEQUANTIZE` of a constant, by TFLite output tensor.
    folded: HashMap<usize, Vec<f32>>,
    /// Number of operators reading each tensor, plus one for a graph output.
    readers: Vec<usize>,
    /// TFLite operator of each builder op.
    sources: Vec<Source>,
    /// The TFLite operator being lowered, for errors.
    current: Option<usize>,
    /// Whether each operator feeds a graph output (the others are not lowered).
    needed: Vec<bool>,
}

impl<'m> Lowering<'m> {
    fn new(m: &'m TfliteModel) -> Self {
        let mut readers = vec![0usize; m.tensors.len()];
        for t in m
            .operators
            .iter()
            .flat_map(|o| o.inputs.iter().flatten())
            .chain(&m.outputs)
        {
            // `parse` checked every index; `get_mut` keeps this panic-free regardless.
            if let Some(r) = readers.get_mut(*t) {
                *r += 1;
            }
        }
        Lowering {
            m,
            g: GraphBuilder::new(),
            ids: HashMap::new(),
            tflite_of: HashMap::new(),
            folded: HashMap::new(),
            readers,
            sources: Vec::new(),
            current: None,
            needed: vec![true; m.operators.len()],
        }
    }

    /// `(index, name)` of operator `op`, for errors.
    fn op_id(&self, op: usize) -> (usize, String) {
        let name = self
            .m
            .operators
            .get(op)
            .map_or("?", |o| o.code.name())
            .to_string();
        (op, name)
    }

    /// `(index, name)` of tensor `t`, for errors.
    fn tensor_id(&self, t: usize) -> (usize, String) {
        let name = self.m.tensors.get(t).map_or("?", |x| x.name.as_str());
        (t, name.to_string())
    }

    /// An error at the current operator, about TFLite tensor `tensor` when given.
    fn err(&self, tensor: Option<usize>, detail: impl Into<String>) -> ImportError {
        ImportError::Lowering {
            op: self.current.map(|op| self.op_id(op)),
            tensor: tensor.map(|t| self.tensor_id(t)),
            detail: detail.into(),
        }
    }

    /// A builder error at TFLite operator `op`, naming the TFLite tensor behind the builder's
    /// tensor when there is one.
    fn build_err(&self, op: Option<usize>, e: BuildError) -> ImportError {
        let tensor = e
            .tensor
            .and_then(|t| u16::try_from(t).ok())
            .and_then(|t| self.tflite_of.get(&TensorId(t)).copied());
        ImportError::Lowering {
            op: op.map(|op| self.op_id(op)),
            tensor: tensor.map(|t| self.tensor_id(t)),
            detail: e.message,
        }
    }

    /// Maps a builder result to the current operator's error.
    fn b<T>(&self, r: Result<T, BuildError>) -> Result<T, ImportError> {
        r.map_err(|e| self.build_err(self.current, e))
    }

    /// Records that the op just added came from the current operator and writes its outputs.
    fn added(&mut self, r: Result<usize, BuildError>) -> Result<(), ImportError> {
        let op = self.current.unwrap_or(0);
        let (name, outputs) = self
            .m
            .operators
            .get(op)
            .map_or(("?", Vec::new()), |o| (o.code.name(), o.outputs.clone()));
        self.added_as(r, name.to_string(), outputs)
    }

    /// Records the op just added with an explicit name and outputs.
    fn added_as(
        &mut self,
        r: Result<usize, BuildError>,
        op_name: String,
        outputs: Vec<usize>,
    ) -> Result<(), ImportError> {
        self.b(r)?;
        self.sources.push(Source {
            op: self.current.unwrap_or(0),
            op_name,
            outputs,
        });
        Ok(())
    }

    fn tensor_info(&self, t: usize) -> Result<&'m tflite::Tensor, ImportError> {
        self.m
            .tensors
            .get(t)
            .ok_or_else(|| self.err(None, format!("tensor index {t} is out of range")))
    }

    /// The values of integer constant `t` (INT32 or INT64): axes, permutations, paddings.
    fn ints(&self, t: usize) -> Result<Vec<i64>, ImportError> {
        let info = self.tensor_info(t)?;
        let data = self.m.tensor_data(t).ok_or_else(|| {
            self.err(
                Some(t),
                "must be a constant (bfmd needs axes, shapes and paddings at import time)",
            )
        })?;
        match info.dtype {
            TfDType::I32 => Ok(data
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect()),
            TfDType::I64 => Ok(data
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect()),
            d => Err(self.err(Some(t), format!("is {d}, expected INT32 or INT64"))),
        }
    }

    fn dtype(&self, t: usize) -> Result<DType, ImportError> {
        match self.tensor_info(t)?.dtype {
            TfDType::I8 => Ok(DType::S8),
            TfDType::I32 => Ok(DType::I32),
            TfDType::F32 => Ok(DType::F32),
            TfDType::F16 => Ok(DType::F16),
            d => Err(self.err(
                Some(t),
                format!("dtype {d} is not supported (bfmd runs INT8, FLOAT32 and FLOAT16)"),
            )),
        }
    }

    /// The per-tensor quantization of activation `t` (`Quant::NONE` for float tensors).
    fn activation_quant(&self, t: usize, dtype: DType) -> Result<Quant, ImportError> {
        match (&self.tensor_info(t)?.quantization, dtype) {
            (_, DType::F32 | DType::F16 | DType::I32) => Ok(Quant::NONE),
            (Some(Quantization::PerTensor { scale, zero_point }), DType::S8) => {
                Ok(Quant::new(*scale, *zero_point))
            }
            (Some(Quantization::PerChannel { .. }), DType::S8) => Err(self.err(
                Some(t),
                "an int8 activation must have one scale and zero point (it has one per channel)",
            )),
            (None, DType::S8) => Err(self.err(Some(t), "an int8 activation has no quantization")),
        }
    }

    /// The builder tensor of TFLite tensor `t`, declared on first use.
    fn tensor(&mut self, t: usize) -> Result<TensorId, ImportError> {
        if let Some(id) = self.ids.get(&t) {
            return Ok(*id);
        }
        let info = self.tensor_info(t)?;
        let shape = nhwc(&info.shape).ok_or_else(|| {
            self.err(
                Some(t),
                format!(
                    "rank {} is not supported (bfmd tensors have rank <= 4)",
                    info.shape.len()
                ),
            )
        })?;
        let id = if let Some(values) = self.folded.get(&t) {
            let r = self.g.constant_f32(&info.name, shape, values);
            self.b(r)?
        } else if let Some(data) = self.m.tensor_data(t) {
            self.constant(t, shape, data)?
        } else {
            if info.is_variable {
                return Err(self.err(Some(t), "variable (state) tensors are not supported"));
            }
            let dtype = self.dtype(t)?;
            let q = self.activation_quant(t, dtype)?;
            let r = if self.m.inputs.contains(&t) {
                self.g.input(&info.name, shape, dtype, q)
            } else {
                self.g.tensor(&info.name, shape, dtype, q)
            };
            self.b(r)?
        };
        let rank = info.shape.len().clamp(1, 4) as u8;
        let r = self.g.set_rank(id, rank);
        self.b(r)?;
        self.ids.insert(t, id);
        self.tflite_of.insert(id, t);
        Ok(id)
    }

    /// Declares constant `t` with `shape` from its file bytes.
    fn constant(&mut self, t: usize, shape: Shape, data: &[u8]) -> Result<TensorId, ImportError> {
        let info = self.tensor_info(t)?;
        let name = info.name.as_str();
        let r = match self.dtype(t)? {
            DType::S8 => {
                let v: Vec<i8> = data.iter().map(|&b| b as i8).collect();
                match &info.quantization {
                    Some(Quantization::PerChannel {
                        scales,
                        zero_points,
                        ..
                    }) => {
                        if zero_points.iter().any(|&z| z != 0) {
                            return Err(self.err(
                                Some(t),
                                "per-channel int8 weights must have zero points 0 (TFLM's rule)",
                            ));
                        }
                        self.g.constant_s8_per_channel(name, shape, &v, scales)
                    }
                    Some(Quantization::PerTensor { scale, zero_point }) => {
                        self.g
                            .constant_s8(name, shape, &v, Quant::new(*scale, *zero_point))
                    }
                    None => self.g.constant_s8(name, shape, &v, Quant::NONE),
                }
            }
            DType::I32 => {
                let v: Vec<i32> = data
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                self.g.constant_i32(name, shape, &v)
            }
            DType::F32 => {
                let v: Vec<f32> = data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                self.g.constant_f32(name, shape, &v)
            }
            DType::F16 => {
                let v: Vec<f16> = data
                    .chunks_exact(2)
                    .map(|c| f16::from_le_bytes([c[0], c[1]]))
                    .collect();
                self.g.constant_f16(name, shape, &v)
            }
        };
        self.b(r)
    }

    /// Required input `slot` of `o` as a TFLite tensor index.
    fn input_index(&self, o: &Operator, slot: usize) -> Result<usize, ImportError> {
        o.input(slot)
            .ok_or_else(|| self.err(None, format!("input {slot} is missing")))
    }

    /// Required input `slot` of `o` as a builder tensor.
    fn input(&mut self, o: &Operator, slot: usize) -> Result<TensorId, ImportError> {
        let t = self.input_index(o, slot)?;
        self.tensor(t)
    }

    /// Optional input `slot` of `o` (a bias).
    fn opt_input(&mut self, o: &Operator, slot: usize) -> Result<Option<TensorId>, ImportError> {
        o.input(slot).map(|t| self.tensor(t)).transpose()
    }

    /// Output `slot` of `o` as a builder tensor, which must be an activation.
    fn output(&mut self, o: &Operator, slot: usize) -> Result<TensorId, ImportError> {
        let t = *o
            .outputs
            .get(slot)
            .ok_or_else(|| self.err(None, format!("output {slot} is missing")))?;
        if self.tensor_info(t)?.is_constant() {
            return Err(self.err(Some(t), "an operator output cannot be a constant"));
        }
        self.tensor(t)
    }

    /// The TFLite rank of input `slot` of `o`.
    fn rank(&self, o: &Operator, slot: usize) -> Result<usize, ImportError> {
        let t = self.input_index(o, slot)?;
        Ok(self.tensor_info(t)?.shape.len())
    }

    /// The NHWC axis of `axis` for a rank-`rank` tensor.
    fn axis(&self, axis: i64, rank: usize, t: usize) -> Result<usize, ImportError> {
        nhwc_axis(axis, rank).ok_or_else(|| {
            self.err(
                Some(t),
                format!("axis {axis} is out of range for rank {rank} (or rank > 4)"),
            )
        })
    }

    fn activation(&self, a: Activation) -> Result<FusedActivation, ImportError> {
        fused(a).ok_or_else(|| {
            self.err(
                None,
                format!(
                    "fused activation {a:?} is not supported (NONE, RELU, RELU6, RELU_N1_TO_1 are)"
                ),
            )
        })
    }

    /// Checks that weight tensor `t` has its per-channel scales on `axis` (the output channel
    /// axis the kernels index their multipliers by).
    fn check_channel_axis(&self, t: usize, axis: usize) -> Result<(), ImportError> {
        match &self.tensor_info(t)?.quantization {
            Some(Quantization::PerChannel { axis: a, .. }) if *a != axis => Err(self.err(
                Some(t),
                format!("per-channel scales on axis {a}; this operator needs them on axis {axis}"),
            )),
            Some(Quantization::PerTensor { zero_point, .. }) if *zero_point != 0 => Err(self.err(
                Some(t),
                format!("int8 weights must have zero point 0 (TFLM's rule), found {zero_point}"),
            )),
            _ => Ok(()),
        }
    }

    /// Whether operators `i..i + 3` are a channel shuffle: `RESHAPE a -> s` with `s = [.., g,
    /// k]` and `g * k` the channels of `a`, `TRANSPOSE` swapping exactly the last two axes of
    /// `s`, `RESHAPE` back to `a`'s shape, with neither intermediate read elsewhere or exposed.
    /// Then output channel `j * g + i` is input channel `i * k + j`, which is the
    /// `ChannelShuffle` kernel's definition. Returns `(groups, a, b)`.
    ///
    /// The intermediates are never declared to the builder, so their shapes are checked here:
    /// once the pattern matches, a scalar or zero-size intermediate, or a `TRANSPOSE` output
    /// that is not its input with the last two axes swapped, is an error naming the tensor.
    fn shuffle_at(&self, i: usize) -> Result<Option<(usize, usize, usize)>, ImportError> {
        let Some((groups, a, b, s, s_t)) = self.shuffle_pattern(i) else {
            return Ok(None);
        };
        let shape = |t: usize| {
            self.m
                .tensors
                .get(t)
                .map_or(&[][..], |x| x.shape.as_slice())
        };
        for t in [s, s_t] {
            let d = shape(t);
            if d.is_empty() {
                return Err(self.err(
                    Some(t),
                    "a scalar inside a channel shuffle (RESHAPE -> TRANSPOSE -> RESHAPE)",
                ));
            }
            if d.contains(&0) {
                return Err(self.err(
                    Some(t),
                    format!(
                        "zero-size tensor {d:?} inside a channel shuffle (RESHAPE -> TRANSPOSE \
                         -> RESHAPE)"
                    ),
                ));
            }
        }
        // `shuffle_pattern` matched only a rank >= 3 `s`, so both indices exist.
        let mut want = shape(s).to_vec();
        let n = want.len();
        want.swap(n - 2, n - 1);
        if shape(s_t) != want.as_slice() {
            return Err(self.err(
                Some(s_t),
                format!(
                    "the TRANSPOSE output of a channel shuffle has shape {:?}, its input with \
                     the last two axes swapped is {want:?}",
                    shape(s_t)
                ),
            ));
        }
        Ok(Some((groups, a, b)))
    }

    /// The structural part of [`Self::shuffle_at`]: `(groups, a, b, s, s_t)` when operators
    /// `i..i + 3` are wired as a channel shuffle of `a` into `b` through `s` and `s_t`.
    fn shuffle_pattern(&self, i: usize) -> Option<(usize, usize, usize, usize, usize)> {
        let ops = &self.m.operators;
        let (r1, tr, r2) = (ops.get(i)?, ops.get(i + 1)?, ops.get(i + 2)?);
        if (&r1.code, &tr.code, &r2.code)
            != (&OpCode::Reshape, &OpCode::Transpose, &OpCode::Reshape)
        {
            return None;
        }
        let (a, s) = (r1.input(0)?, *r1.outputs.first()?);
        let (s_t, b) = (*tr.outputs.first()?, *r2.outputs.first()?);
        if tr.input(0)? != s || r2.input(0)? != s_t || r1.outputs.len() != 1 {
            return None;
        }
        let t = |x: usize| self.m.tensors.get(x);
        let (sa, ss, sb) = (&t(a)?.shape, &t(s)?.shape, &t(b)?.shape);
        let perm = self.ints(tr.input(1)?).ok()?;
        let n = ss.len();
        if n < 3 {
            return None;
        }
        let swap_last: Vec<i64> = (0..n as i64 - 2)
            .chain([n as i64 - 1, n as i64 - 2])
            .collect();
        let c = *sa.last()?;
        let (g, k) = (ss[n - 2], ss[n - 1]);
        let lead: usize = ss[..n - 2].iter().product();
        let total: usize = sa.iter().product();
        let ok = perm == swap_last
            && sa == sb
            && g.checked_mul(k) == Some(c)
            && lead.checked_mul(c) == Some(total)
            && g > 0
            && self.readers.get(s) == Some(&1)
            && self.readers.get(s_t) == Some(&1)
            && !self.m.inputs.contains(&a);
        ok.then_some((g, a, b, s, s_t))
    }

    fn lower_ops(&mut self, fold: bool) -> Result<(), ImportError> {
        // Every operator's input and output counts first, folded or not.
        for (i, o) in self.m.operators.iter().enumerate() {
            self.current = Some(i);
            let Some((ins, outs)) = arity(&o.code) else {
                continue;
            };
            for (n, range, noun) in [
                (o.inputs.len(), ins, "input"),
                (o.outputs.len(), outs, "output"),
            ] {
                if n < range.0 || n > range.1 {
                    return Err(self.err(
                        None,
                        format!(
                            "{} takes {}, it has {n}",
                            o.code.name(),
                            count_phrase(range, noun)
                        ),
                    ));
                }
            }
        }
        self.current = None;
        // Graph inputs first, so that bfmd's input `i` is TFLite's input `i`.
        for &t in &self.m.inputs {
            self.tensor(t)?;
        }
        let mut i = 0;
        while i < self.m.operators.len() {
            self.current = Some(i);
            // An operator that feeds no graph output is not lowered.
            if !self.needed[i] {
                i += 1;
                continue;
            }
            if fold {
                if let Some((groups, a, b)) = self.shuffle_at(i)? {
                    let x = self.tensor(a)?;
                    let y = self.tensor(b)?;
                    let r = self.g.add_channel_shuffle(x, y, groups);
                    self.added_as(r, "RESHAPE+TRANSPOSE+RESHAPE".into(), vec![b])?;
                    i += 3;
                    continue;
                }
            }
            self.lower_op(i)?;
            i += 1;
        }
        self.current = None;
        Ok(())
    }

    fn mark_outputs(&mut self, outputs: &[usize], extra: &[usize]) -> Result<(), ImportError> {
        for &t in outputs.iter().chain(extra) {
            let info = self.tensor_info(t)?;
            if info.is_constant() {
                return Err(self.err(Some(t), "a graph output cannot be a constant"));
            }
            let id = self.ids.get(&t).copied().ok_or_else(|| {
                self.err(
                    Some(t),
                    "is not computed by the lowered graph (never written, or folded away)",
                )
            })?;
            let r = self.g.output(id);
            self.b(r)?;
        }
        Ok(())
    }

    fn lower_op(&mut self, i: usize) -> Result<(), ImportError> {
        let m = self.m;
        let o = &m.operators[i];
        match (&o.code, &o.options) {
            (OpCode::Conv2d, Options::Conv2d(c)) => {
                let (x, ft) = (self.input(o, 0)?, self.input_index(o, 1)?);
                self.check_channel_axis(ft, 0)?;
                let f = self.tensor(ft)?;
                let bias = self.opt_input(o, 2)?;
                let y = self.output(o, 0)?;
                let in_c = self.b(self.g.shape(x))?.c;
                let f_c = self.b(self.g.shape(f))?.c;
                if f_c == 0 || in_c % f_c != 0 {
                    return Err(self.err(
                        Some(ft),
                        format!("filter depth {f_c} does not divide the {in_c} input channels"),
                    ));
                }
                let opts = ConvOptions {
                    stride: (c.stride_h, c.stride_w),
                    dilation: (c.dilation_h, c.dilation_w),
                    padding: padding(c.padding),
                    // TFLite infers groups from the shapes (`conv.cc`: `groups = input_channel
                    // / filter_input_channel`).
                    groups: in_c / f_c,
                    activation: self.activation(c.activation)?,
                };
                let r = self.g.add_conv2d(x, f, bias, y, opts);
                self.added(r)
            }
            (OpCode::DepthwiseConv2d, Options::DepthwiseConv2d(c)) => {
                let (x, ft) = (self.input(o, 0)?, self.input_index(o, 1)?);
                self.check_channel_axis(ft, 3)?;
                let f = self.tensor(ft)?;
                let bias = self.opt_input(o, 2)?;
                let y = self.output(o, 0)?;
                let opts = ConvOptions {
                    stride: (c.stride_h, c.stride_w),
                    dilation: (c.dilation_h, c.dilation_w),
                    padding: padding(c.padding),
                    groups: 1,
                    activation: self.activation(c.activation)?,
                };
                let r = self.g.add_depthwise_conv2d(x, f, bias, y, opts);
                self.added(r)
            }
            (OpCode::FullyConnected, Options::FullyConnected(c)) => {
                let x = self.input(o, 0)?;
                let wt = self.input_index(o, 1)?;
                let w = self.fc_weights(wt)?;
                let bias = self.opt_input(o, 2)?;
                let y = self.output(o, 0)?;
                let act = self.activation(c.activation)?;
                let r = self.g.add_fully_connected(x, w, bias, y, act);
                self.added(r)
            }
            (OpCode::AveragePool2d | OpCode::MaxPool2d, Options::Pool2d(p)) => {
                let x = self.input(o, 0)?;
                let y = self.output(o, 0)?;
                let opts = PoolOptions {
                    kernel: (p.filter_h, p.filter_w),
                    stride: (p.stride_h, p.stride_w),
                    padding: padding(p.padding),
                    activation: self.activation(p.activation)?,
                    count_include_pad: false,
                };
                let r = if o.code == OpCode::MaxPool2d {
                    self.g.add_max_pool2d(x, y, opts)
                } else {
                    self.g.add_avg_pool2d(x, y, opts)
                };
                self.added(r)
            }
            (OpCode::Mean, _) => self.lower_mean(o),
            (OpCode::Add, Options::Add(a)) => self.lower_binary(o, OpKind::Add, a.activation),
            (OpCode::Mul, Options::Mul(a)) => self.lower_binary(o, OpKind::Mul, a.activation),
            (OpCode::Sub, Options::Sub(a)) => self.lower_binary(o, OpKind::Sub, a.activation),
            (OpCode::Concatenation, Options::Concatenation(c)) => {
                if c.activation != Activation::None {
                    return Err(self.err(
                        None,
                        format!(
                            "fused activation {:?} on a concatenation is not supported",
                            c.activation
                        ),
                    ));
                }
                let first = self.input_index(o, 0)?;
                let axis = self.axis(i64::from(c.axis), self.rank(o, 0)?, first)?;
                let xs = (0..o.inputs.len())
                    .map(|s| self.input(o, s))
                    .collect::<Result<Vec<_>, _>>()?;
                let y = self.output(o, 0)?;
                let r = self.g.add_concat(&xs, y, axis);
                self.added(r)
            }
            (OpCode::Split | OpCode::SplitV, _) => self.lower_split(o),
            (OpCode::Reshape, _) => {
                let xt = self.input_index(o, 0)?;
                if self.tensor_info(xt)?.is_constant() {
                    return Err(self.err(Some(xt), "RESHAPE of a constant is not supported"));
                }
                let x = self.tensor(xt)?;
                let y = self.output(o, 0)?;
                let r = self.g.add_reshape(x, y);
                self.added(r)
            }
            (OpCode::Transpose, _) => {
                let pt = self.input_index(o, 1)?;
                let perm: Vec<i32> = self
                    .ints(pt)?
                    .into_iter()
                    .map(|v| i32::try_from(v).unwrap_or(i32::MAX))
                    .collect();
                if perm.len() != self.rank(o, 0)? {
                    return Err(self.err(
                        Some(pt),
                        "the permutation's length differs from the input's rank",
                    ));
                }
                let p = bfmd_kernels::movement::transpose::perm_from_tflite(&perm)
                    .map_err(|e| self.err(Some(pt), format!("invalid permutation: {e}")))?;
                let x = self.input(o, 0)?;
                let y = self.output(o, 0)?;
                let r = self.g.add_transpose(x, y, p);
                self.added(r)
            }
            (OpCode::Pad | OpCode::PadV2, _) => self.lower_pad(o),
            (OpCode::HardSwish | OpCode::Logistic | OpCode::Relu | OpCode::Relu6, _) => {
                let kind = match o.code {
                    OpCode::HardSwish => OpKind::HardSwish,
                    OpCode::Logistic => OpKind::Logistic,
                    OpCode::Relu => OpKind::Relu,
                    _ => OpKind::Relu6,
                };
                let x = self.input(o, 0)?;
                let y = self.output(o, 0)?;
                let r = self.g.add_unary(kind, x, y);
                self.added(r)
            }
            (OpCode::Softmax, Options::Softmax(s)) => {
                let x = self.input(o, 0)?;
                let y = self.output(o, 0)?;
                let r = self.g.add_softmax(x, y, s.beta);
                self.added(r)
            }
            (OpCode::Quantize, _) => {
                let x = self.input(o, 0)?;
                let y = self.output(o, 0)?;
                // int8 -> int8 is TFLM's requantize (`quantize.cc`, `Requantize`).
                let r = if self.b(self.g.dtype(x))? == DType::S8 {
                    self.g.add_unary(OpKind::Requantize, x, y)
                } else {
                    self.g.add_quantize(x, y)
                };
                self.added(r)
            }
            (OpCode::Dequantize, _) => {
                let xt = self.input_index(o, 0)?;
                if self.tensor_info(xt)?.is_constant() {
                    return self.fold_dequantize(o, xt);
                }
                let x = self.tensor(xt)?;
                let y = self.output(o, 0)?;
                let r = self.g.add_dequantize(x, y);
                self.added(r)
            }
            (OpCode::Prelu, _) => {
                let x = self.input(o, 0)?;
                let alpha = self.input(o, 1)?;
                let y = self.output(o, 0)?;
                let r = self.g.add_prelu(x, alpha, y);
                self.added(r)
            }
            (OpCode::ResizeBilinear | OpCode::ResizeNearestNeighbor, Options::Resize(r)) => {
                // Input 1, the output size, is a constant; the output tensor's shape says the
                // same, which the builder checks against the input's batch and channels.
                let size = self.ints(self.input_index(o, 1)?)?;
                let x = self.input(o, 0)?;
                let y = self.output(o, 0)?;
                let ys = self.b(self.g.shape(y))?;
                if size.len() != 2 || size != [ys.h as i64, ys.w as i64] {
                    return Err(self.err(
                        None,
                        format!(
                            "the size input {size:?} differs from the output's height and width"
                        ),
                    ));
                }
                let bilinear = o.code == OpCode::ResizeBilinear;
                let r = self
                    .g
                    .add_resize(x, y, bilinear, r.align_corners, r.half_pixel_centers);
                self.added(r)
            }
            (code, _) if code.is_known() => Err(self.err(
                None,
                "options table of the wrong type (the parser should have rejected it)",
            )),
            (code, _) => Err(ImportError::UnsupportedOp {
                op: i,
                op_name: code.name().to_string(),
            }),
        }
    }

    /// Fully connected weights `[out, in]` as the builder's `(out, 1, 1, in)`.
    fn fc_weights(&mut self, wt: usize) -> Result<TensorId, ImportError> {
        if let Some(id) = self.ids.get(&wt) {
            return Ok(*id);
        }
        let info = self.tensor_info(wt)?;
        // Weights behind a folded DEQUANTIZE (float16 or int8 constants of a float model) are
        // constants too, as for convolutions.
        let folded = self.folded.get(&wt);
        let data = self.m.tensor_data(wt);
        if folded.is_none() && data.is_none() {
            return Err(self.err(Some(wt), "fully connected weights must be constant"));
        }
        let &[out_f, in_f] = info.shape.as_slice() else {
            return Err(self.err(
                Some(wt),
                format!(
                    "fully connected weights must have rank 2, shape is {:?}",
                    info.shape
                ),
            ));
        };
        self.check_channel_axis(wt, 0)?;
        let shape = Shape::new(out_f, 1, 1, in_f);
        let id = match (folded, data) {
            (Some(values), _) => {
                let r = self.g.constant_f32(&info.name, shape, values);
                self.b(r)?
            }
            (None, Some(data)) => self.constant(wt, shape, data)?,
            (None, None) => unreachable!("checked above"),
        };
        let r = self.g.set_rank(id, 2);
        self.b(r)?;
        self.ids.insert(wt, id);
        self.tflite_of.insert(id, wt);
        Ok(id)
    }

    fn lower_binary(
        &mut self,
        o: &Operator,
        kind: OpKind,
        act: Activation,
    ) -> Result<(), ImportError> {
        let a = self.input(o, 0)?;
        let b = self.input(o, 1)?;
        let y = self.output(o, 0)?;
        let act = self.activation(act)?;
        let r = match kind {
            OpKind::Add => self.g.add_add(a, b, y, act),
            OpKind::Sub => self.g.add_sub(a, b, y, act),
            _ => self.g.add_mul(a, b, y, act),
        };
        self.added(r)
    }

    /// `MEAN` over height and width of a rank-4 tensor (the global average pool of every
    /// backbone), with or without `keep_dims` (the same bytes either way).
    fn lower_mean(&mut self, o: &Operator) -> Result<(), ImportError> {
        let rank = self.rank(o, 0)?;
        let at = self.input_index(o, 1)?;
        let mut axes = Vec::new();
        for a in self.ints(at)? {
            axes.push(self.axis(a, rank, at)?);
        }
        axes.sort_unstable();
        axes.dedup();
        if rank != 4 || axes != [1, 2] {
            return Err(self.err(
                Some(at),
                format!(
                    "MEAN over axes {axes:?} of a rank-{rank} tensor is not supported (only over \
                     height and width of NHWC)"
                ),
            ));
        }
        let x = self.input(o, 0)?;
        let y = self.output(o, 0)?;
        let r = self.g.add_mean(x, y);
        self.added(r)
    }

    /// `SPLIT` (inputs: axis, data) and `SPLIT_V` (inputs: data, size_splits, axis).
    fn lower_split(&mut self, o: &Operator) -> Result<(), ImportError> {
        let (data_slot, axis_slot) = if o.code == OpCode::Split {
            (1, 0)
        } else {
            (0, 2)
        };
        let at = self.input_index(o, axis_slot)?;
        let axis = match self.ints(at)?.as_slice() {
            [a] => *a,
            v => {
                return Err(self.err(
                    Some(at),
                    format!("the axis must hold one value, it holds {}", v.len()),
                ))
            }
        };
        let axis = self.axis(axis, self.rank(o, data_slot)?, at)?;
        if let Options::Split(s) = &o.options {
            let n = o.outputs.len();
            if usize::try_from(s.num_splits).ok() != Some(n) {
                return Err(self.err(
                    None,
                    format!(
                        "num_splits is {} but the operator has {n} outputs",
                        s.num_splits
                    ),
                ));
            }
        }
        let x = self.input(o, data_slot)?;
        let ys = (0..o.outputs.len())
            .map(|s| self.output(o, s))
            .collect::<Result<Vec<_>, _>>()?;
        // The builder checks that the outputs tile the input along the axis, which is what
        // SPLIT's equal parts and SPLIT_V's size_splits (with its -1) both come to.
        let r = self.g.add_split(x, &ys, axis);
        self.added(r)
    }

    /// `PAD` / `PADV2` with constant paddings `[rank, 2]`.
    fn lower_pad(&mut self, o: &Operator) -> Result<(), ImportError> {
        let rank = self.rank(o, 0)?;
        let pt = self.input_index(o, 1)?;
        let pads = self.ints(pt)?;
        if rank > 4 || pads.len() != 2 * rank || pads.iter().any(|&p| p < 0) {
            return Err(self.err(
                Some(pt),
                format!("paddings must be {rank}x2 non-negative values, found {pads:?}"),
            ));
        }
        let (mut before, mut after) = ([0usize; 4], [0usize; 4]);
        for d in 0..rank {
            before[4 - rank + d] = pads[2 * d] as usize;
            after[4 - rank + d] = pads[2 * d + 1] as usize;
        }
        let x = self.input(o, 0)?;
        let y = self.output(o, 0)?;
        let dtype = self.b(self.g.dtype(x))?;
        // TFLM `pad.cc`: int8 pads with PADV2's constant when given, else with the output's
        // zero point (real 0); floats with the constant or 0. The builder takes a real value
        // and quantizes it with the output's quantization, which maps `scale * (v - zp)` back
        // to `v` exactly.
        let value = match o.input(2) {
            None => 0.0,
            Some(vt) => {
                let data = self
                    .m
                    .tensor_data(vt)
                    .ok_or_else(|| self.err(Some(vt), "the pad value must be a constant"))?;
                match (self.tensor_info(vt)?.dtype, dtype, data) {
                    (TfDType::F32, DType::F32, [a, b, c, d]) => {
                        f32::from_le_bytes([*a, *b, *c, *d])
                    }
                    (TfDType::I8, DType::S8, [v]) => {
                        let q = self.b(self.g.quant(y))?;
                        q.scale * (i32::from(*v as i8) - q.zero_point) as f32
                    }
                    _ => {
                        return Err(self.err(
                            Some(vt),
                            "the pad value must be one element of the input's dtype",
                        ))
                    }
                }
            }
        };
        let r = self.g.add_pad(x, y, before, after, value);
        self.added(r)
    }

    /// `DEQUANTIZE` of a constant (f16 or int8 weights of a float model): computed here, the
    /// output becomes an `f32` constant and no op runs.
    fn fold_dequantize(&mut self, o: &Operator, xt: usize) -> Result<(), ImportError> {
        let yt = *o
            .outputs
            .first()
            .ok_or_else(|| self.err(None, "output 0 is missing"))?;
        let info = self.tensor_info(xt)?;
        let data = self.m.tensor_data(xt).unwrap_or_default();
        let values: Vec<f32> = match (info.dtype, &info.quantization) {
            (TfDType::F16, _) => data
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            (TfDType::I8, Some(Quantization::PerTensor { scale, zero_point })) => data
                .iter()
                .map(|&b| scale * (i32::from(b as i8) - zero_point) as f32)
                .collect(),
            _ => {
                return Err(self.err(
                    Some(xt),
                    "DEQUANTIZE of a constant is folded for FLOAT16 and per-tensor INT8 only",
                ))
            }
        };
        if self.tensor_info(yt)?.dtype != TfDType::F32 {
            return Err(self.err(Some(yt), "DEQUANTIZE must produce FLOAT32"));
        }
        self.folded.insert(yt, values);
        Ok(())
    }
}
