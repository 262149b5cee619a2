//! The host-side builder: declare tensors and ops, then [`GraphBuilder::finish`] validates,
//! computes every quantization constant once (through the kernels' `from_scales`), plans the
//! arena and serializes the blob.
//!
//! Two callers shape this API:
//!
//! * the TFLite importer, which has every tensor with its quantization up front and maps each
//!   TFLite op 1:1 onto an `add_*` method taking the output tensor it already declared;
//! * the native PyTorch backbones, which prefer to get the output back: the same ops have
//!   forms without the `add_` prefix (`conv2d`, `relu6`, ...) that create the output tensor
//!   with the shape the op implies and the quantization the caller gives (ignored for float).

use crate::error::GraphError;
use crate::format::{self, header, OpRecord, Region, ALIGN, HEADER_LEN, TENSOR_LEN};
use crate::ops::{self, DType, OpKind, Variant, NO_TENSOR};
use crate::plan::{self, Alias, OpSlot, PlanOp, PlanTensor, TensorSlot, Work};
use crate::Model;
use bfmd_kernels::half::f16;
use bfmd_kernels::quant::{activation_range_f32, FusedActivation};
use bfmd_kernels::reference::fully_connected::FullyConnectedGeometry;
use bfmd_kernels::{ConvGeometry, KernelPath, Padding, Shape};
use std::fmt;

mod auto;
mod fuse;
mod lut;
mod wide;

/// What went wrong while building a model: which op (index, kind) or tensor, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildError {
    /// The op being added or checked, with its kind.
    pub op: Option<(usize, OpKind)>,
    /// The tensor concerned.
    pub tensor: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((i, k)) = self.op {
            write!(f, "op {i} ({}): ", k.name())?;
        }
        if let Some(t) = self.tensor {
            write!(f, "tensor {t}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for BuildError {}

impl From<GraphError> for BuildError {
    fn from(e: GraphError) -> Self {
        BuildError {
            op: None,
            tensor: None,
            message: e.to_string(),
        }
    }
}

/// Result alias of the builder.
pub type BuildResult<T> = Result<T, BuildError>;

/// Per-tensor quantization: `real = scale * (q - zero_point)`. Float tensors use
/// [`Quant::NONE`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quant {
    /// Scale.
    pub scale: f32,
    /// Zero point.
    pub zero_point: i32,
}

impl Quant {
    /// The quantization of a float tensor (scale 1, zero point 0).
    pub const NONE: Quant = Quant {
        scale: 1.0,
        zero_point: 0,
    };

    /// A quantization from its scale and zero point.
    pub const fn new(scale: f32, zero_point: i32) -> Self {
        Quant { scale, zero_point }
    }
}

/// A tensor declared in a [`GraphBuilder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(pub u16);

/// Options of a convolution (TFLite `Conv2DOptions` / `DepthwiseConv2DOptions`, PyTorch
/// `Conv2d` arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvOptions {
    /// `(stride_h, stride_w)`.
    pub stride: (usize, usize),
    /// `(dilation_h, dilation_w)`.
    pub dilation: (usize, usize),
    /// Padding rule.
    pub padding: Padding,
    /// Groups of a `Conv2d` (ignored by depthwise, whose multiplier comes from the shapes).
    pub groups: usize,
    /// Fused activation.
    pub activation: FusedActivation,
}

impl Default for ConvOptions {
    fn default() -> Self {
        ConvOptions {
            stride: (1, 1),
            dilation: (1, 1),
            padding: Padding::Same,
            groups: 1,
            activation: FusedActivation::None,
        }
    }
}

/// Options of a pooling op (TFLite `Pool2DOptions`, PyTorch `MaxPool2d` / `AvgPool2d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolOptions {
    /// `(kernel_h, kernel_w)`.
    pub kernel: (usize, usize),
    /// `(stride_h, stride_w)`.
    pub stride: (usize, usize),
    /// Padding rule.
    pub padding: Padding,
    /// Fused activation.
    pub activation: FusedActivation,
    /// Average pooling: divide by the whole window, padding included (PyTorch's default);
    /// `false` is TFLite's rule.
    pub count_include_pad: bool,
}

impl PoolOptions {
    /// A `k x k` window with stride `s`, TFLite `VALID` padding, no activation.
    pub const fn square(k: usize, s: usize) -> Self {
        PoolOptions {
            kernel: (k, k),
            stride: (s, s),
            padding: Padding::Valid,
            activation: FusedActivation::None,
            count_include_pad: false,
        }
    }
}

/// How [`GraphBuilder::finish`] plans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildOptions {
    /// Try in-place and overlapping placements (keeping each only if the arena does not grow).
    pub in_place: bool,
    /// Fuse `Concat -> ChannelShuffle -> Split` along channels (and the two-op patterns) into
    /// one `ConcatShuffleSplit` op where no intermediate tensor is read elsewhere (see
    /// `builder/fuse.rs`). `false` keeps the ops as added.
    pub fuse_shuffles: bool,
    /// Fold int8 elementwise chains (unary ops, and `Mul`/`Add` of a tensor with a unary
    /// chain of itself, such as swish) on tensors of 256 elements or more into one `Lut` op
    /// each, tables computed by running the original ops on the 256 int8 values (see
    /// `builder/lut.rs`). `false` keeps the ops as added.
    pub fold_luts: bool,
    /// Store the weights of int8 fully connected layers with at most this many weights (and
    /// rows of a multiple of 4 elements) as int16 pairs, the layout the DSP loop multiplies
    /// without widening (see `builder/wide.rs`): 20 % fewer instructions for a 256 -> 10
    /// layer on the Cortex-M7 (9 % fewer on the M55), twice the flash for its weights. `0`
    /// keeps every layer int8.
    pub wide_fc_weights: usize,
    /// The kernels the model will run on, whose scratch the plan reserves in the arena:
    /// [`KernelPath::HOST`] (this build's) by default; a firmware's build script passes its
    /// target's (`KernelPath::Dsp` for a Cortex-M7). A blob planned for another path may fail
    /// with a kernel's short-scratch error where that path needs more.
    pub path: KernelPath,
}

/// The default of [`BuildOptions::wide_fc_weights`]: layers of up to 16 KiB of int8 weights
/// (a classifier head such as 1024 -> 16), so at most 16 KiB more flash per layer.
pub const DEFAULT_WIDE_FC_WEIGHTS: usize = 16_384;

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            in_place: true,
            fuse_shuffles: true,
            fold_luts: true,
            wide_fc_weights: DEFAULT_WIDE_FC_WEIGHTS,
            path: KernelPath::HOST,
        }
    }
}

#[derive(Clone, Debug)]
struct BTensor {
    name: String,
    dtype: DType,
    shape: Shape,
    rank: u8,
    quant: Quant,
    channel_scales: Option<Vec<f32>>,
    data: Option<Vec<u8>>,
    graph_input: bool,
    graph_output: bool,
}

#[derive(Clone, Debug)]
struct BOp {
    kind: OpKind,
    inputs: Vec<u16>,
    outputs: Vec<u16>,
    params: Vec<u32>,
    scratch: usize,
    alias: Alias,
    macs: u64,
    /// What `scratch` and `alias` depend on when they follow the kernel path planned for.
    memory: Memory,
}

/// An op's memory needs that depend on the kernel path ([`BuildOptions::path`]); the plan
/// computes them for its path, other ops keep their `scratch` and `alias`.
#[derive(Clone, Copy, Debug)]
enum Memory {
    /// `scratch` and `alias` as given.
    Fixed,
    /// A convolution or depthwise convolution (`kernels::conv_memory`).
    Conv(OpKind, DType, ConvGeometry),
    /// A fully connected layer (`kernels::fc_scratch`; `true` once its weights are packed
    /// as int16 pairs), no aliasing.
    FullyConnected(DType, FullyConnectedGeometry, bool),
}

impl BOp {
    /// `(scratch, alias)` of the op on the kernels of `path`.
    fn memory_for(&self, path: KernelPath) -> (usize, Alias) {
        match self.memory {
            Memory::Fixed => (self.scratch, self.alias),
            Memory::Conv(kind, dtype, g) => crate::kernels::conv_memory(kind, dtype, &g, path),
            Memory::FullyConnected(dtype, g, packed) => (
                crate::kernels::fc_scratch(dtype, &g, packed, path),
                Alias::None,
            ),
        }
    }
}

/// Declares a model's tensors and ops; [`GraphBuilder::finish`] turns it into a blob.
#[derive(Clone, Debug, Default)]
pub struct GraphBuilder {
    tensors: Vec<BTensor>,
    ops: Vec<BOp>,
    inputs: Vec<u16>,
    outputs: Vec<u16>,
}

/// A model blob owned on the host, 16-byte aligned as [`Model::parse`] requires.
#[derive(Clone)]
pub struct ModelBytes {
    words: Vec<u128>,
    len: usize,
}

impl ModelBytes {
    /// Copies `bytes` into aligned storage.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut words = vec![0u128; bytes.len().div_ceil(16)];
        for (w, chunk) in words.iter_mut().zip(bytes.chunks(16)) {
            let mut b = [0u8; 16];
            b[..chunk.len()].copy_from_slice(chunk);
            *w = u128::from_ne_bytes(b);
        }
        ModelBytes {
            words,
            len: bytes.len(),
        }
    }

    /// The blob's bytes (aligned to 16).
    pub fn as_bytes(&self) -> &[u8] {
        let all = crate::elem::cast_words(&self.words);
        &all[..self.len]
    }

    /// The blob's bytes, writable (tests corrupt them on purpose).
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        let all = crate::elem::cast_words_mut(&mut self.words);
        &mut all[..self.len]
    }

    /// Parses the blob with the default limits ([`Model::parse`]).
    pub fn model(&self) -> Result<Model<'_>, GraphError> {
        Model::parse(self.as_bytes())
    }

    /// Parses the blob with `limits` ([`Model::parse_with_limits`]).
    pub fn model_with_limits(&self, limits: &crate::Limits) -> Result<Model<'_>, GraphError> {
        Model::parse_with_limits(self.as_bytes(), limits)
    }
}

impl fmt::Debug for ModelBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelBytes({} bytes)", self.len)
    }
}

/// One op's line of a [`PlanReport`].
#[derive(Clone, Debug, PartialEq)]
pub struct OpReport {
    /// Kind of the op.
    pub kind: OpKind,
    /// Name of its (first) output tensor.
    pub output: String,
    /// Shape of its first output.
    pub output_shape: Shape,
    /// Arena region of its first output.
    pub region: Region,
    /// Arena region of its scratch.
    pub scratch: Region,
    /// Variant the planner chose.
    pub variant: Variant,
    /// Multiply-accumulates.
    pub macs: u64,
    /// Indices (in the order they were added to the builder) of the ops this op performs: one,
    /// or the whole chain for an op the fusion pass made.
    pub sources: Vec<usize>,
}

/// What [`GraphBuilder::finish`] planned.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanReport {
    /// Arena bytes of the chosen plan (the `ARENA_BYTES` to put in firmware).
    pub arena_bytes: usize,
    /// Arena bytes of TFLM-style greedy planning of the same tensors (no in-place decisions).
    pub greedy_bytes: usize,
    /// RAM at run time: the arena plus the executor's state ([`Model::ram_bytes`]).
    pub ram_bytes: usize,
    /// Bytes of constants (flash).
    pub weights_bytes: usize,
    /// Bytes of the whole blob (flash).
    pub blob_bytes: usize,
    /// Total multiply-accumulates.
    pub macs: u64,
    /// Number of ops.
    pub op_count: usize,
    /// Ops running in place or overlapping.
    pub in_place_ops: usize,
    /// One line per op.
    pub ops: Vec<OpReport>,
}

impl fmt::Display for PlanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>4} {:<16} {:<24} {:<18} {:>9} {:>9} {:>9} {:>12}",
            "op", "kind", "output", "shape", "offset", "bytes", "scratch", "variant"
        )?;
        for (i, o) in self.ops.iter().enumerate() {
            let s = o.output_shape;
            writeln!(
                f,
                "{:>4} {:<16} {:<24} {:<18} {:>9} {:>9} {:>9} {:>12}",
                i,
                o.kind.name(),
                o.output,
                format!("{}x{}x{}x{}", s.n, s.h, s.w, s.c),
                o.region.start,
                o.region.len,
                o.scratch.len,
                format!("{:?}", o.variant)
            )?;
        }
        writeln!(
            f,
            "arena {} B (TFLM-style greedy {} B, {} ops in place), RAM {} B, weights {} B, blob {} B, {} MACs, {} ops",
            self.arena_bytes,
            self.greedy_bytes,
            self.in_place_ops,
            self.ram_bytes,
            self.weights_bytes,
            self.blob_bytes,
            self.macs,
            self.op_count
        )
    }
}

/// The result of [`GraphBuilder::finish`].
#[derive(Debug)]
pub struct Built {
    /// The model blob.
    pub blob: ModelBytes,
    /// The plan and sizes.
    pub report: PlanReport,
}

fn f32_words(v: (f32, f32)) -> [u32; 2] {
    [v.0.to_bits(), v.1.to_bits()]
}

impl GraphBuilder {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    fn err(&self, message: impl Into<String>) -> BuildError {
        BuildError {
            op: None,
            tensor: None,
            message: message.into(),
        }
    }

    /// An error about the op being added (its index will be `ops.len()`).
    fn op_err(&self, kind: OpKind, message: impl Into<String>) -> BuildError {
        BuildError {
            op: Some((self.ops.len(), kind)),
            tensor: None,
            message: message.into(),
        }
    }

    fn push_tensor(&mut self, t: BTensor) -> BuildResult<TensorId> {
        if self.tensors.len() >= format::MAX_TENSORS - 1 {
            return Err(self.err("too many tensors"));
        }
        if t.shape.n == 0 || t.shape.h == 0 || t.shape.w == 0 || t.shape.c == 0 {
            return Err(self.err(format!("tensor `{}` has a zero dimension", t.name)));
        }
        if !(t.quant.scale.is_finite() && t.quant.scale > 0.0) {
            return Err(self.err(format!(
                "tensor `{}`: scale must be finite and positive",
                t.name
            )));
        }
        self.tensors.push(t);
        Ok(TensorId((self.tensors.len() - 1) as u16))
    }

    fn activation_tensor(
        &mut self,
        name: &str,
        shape: Shape,
        dtype: DType,
        quant: Quant,
    ) -> BuildResult<TensorId> {
        if dtype == DType::I32 {
            return Err(self.err(format!(
                "activation `{name}`: int32 activations are not supported"
            )));
        }
        self.push_tensor(BTensor {
            name: name.to_string(),
            dtype,
            shape,
            rank: 4,
            quant: if dtype == DType::S8 {
                quant
            } else {
                Quant::NONE
            },
            channel_scales: None,
            data: None,
            graph_input: false,
            graph_output: false,
        })
    }

    /// Declares a graph input (written by the caller before each run).
    pub fn input(
        &mut self,
        name: &str,
        shape: Shape,
        dtype: DType,
        quant: Quant,
    ) -> BuildResult<TensorId> {
        let t = self.activation_tensor(name, shape, dtype, quant)?;
        self.tensors[t.0 as usize].graph_input = true;
        self.inputs.push(t.0);
        Ok(t)
    }

    /// Declares an activation tensor (the output of an op added later).
    pub fn tensor(
        &mut self,
        name: &str,
        shape: Shape,
        dtype: DType,
        quant: Quant,
    ) -> BuildResult<TensorId> {
        self.activation_tensor(name, shape, dtype, quant)
    }

    /// Marks `t` as a graph output (read by the caller after each run).
    pub fn output(&mut self, t: TensorId) -> BuildResult<()> {
        let info = self.get(t)?;
        if info.data.is_some() {
            return Err(self.err(format!(
                "`{}` is a constant and cannot be a graph output",
                info.name
            )));
        }
        self.tensors[t.0 as usize].graph_output = true;
        self.outputs.push(t.0);
        Ok(())
    }

    /// Records the logical rank (1..=4) of `t`, kept in the blob for importers and reports.
    pub fn set_rank(&mut self, t: TensorId, rank: u8) -> BuildResult<()> {
        if !(1..=4).contains(&rank) {
            return Err(self.err("rank must be 1..=4"));
        }
        self.get(t)?;
        self.tensors[t.0 as usize].rank = rank;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn constant_bytes(
        &mut self,
        name: &str,
        shape: Shape,
        dtype: DType,
        quant: Quant,
        channel_scales: Option<Vec<f32>>,
        len: usize,
        bytes: Vec<u8>,
    ) -> BuildResult<TensorId> {
        if len != shape.len() {
            return Err(self.err(format!(
                "constant `{name}` has {len} elements, its shape needs {}",
                shape.len()
            )));
        }
        self.push_tensor(BTensor {
            name: name.to_string(),
            dtype,
            shape,
            rank: 4,
            quant,
            channel_scales,
            data: Some(bytes),
            graph_input: false,
            graph_output: false,
        })
    }

    /// An int8 constant with per-tensor quantization.
    pub fn constant_s8(
        &mut self,
        name: &str,
        shape: Shape,
        data: &[i8],
        quant: Quant,
    ) -> BuildResult<TensorId> {
        let bytes = data.iter().map(|&v| v as u8).collect();
        self.constant_bytes(name, shape, DType::S8, quant, None, data.len(), bytes)
    }

    /// An int8 filter with one scale per output channel (the first dimension of a convolution
    /// or fully connected filter, the last of a depthwise filter), zero point 0.
    pub fn constant_s8_per_channel(
        &mut self,
        name: &str,
        shape: Shape,
        data: &[i8],
        scales: &[f32],
    ) -> BuildResult<TensorId> {
        if scales.is_empty() || scales.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return Err(self.err(format!(
                "constant `{name}`: scales must be finite and positive"
            )));
        }
        let bytes = data.iter().map(|&v| v as u8).collect();
        let quant = Quant::new(scales[0], 0);
        self.constant_bytes(
            name,
            shape,
            DType::S8,
            quant,
            Some(scales.to_vec()),
            data.len(),
            bytes,
        )
    }

    /// An int32 constant (biases).
    pub fn constant_i32(
        &mut self,
        name: &str,
        shape: Shape,
        data: &[i32],
    ) -> BuildResult<TensorId> {
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.constant_bytes(
            name,
            shape,
            DType::I32,
            Quant::NONE,
            None,
            data.len(),
            bytes,
        )
    }

    /// An `f32` constant.
    pub fn constant_f32(
        &mut self,
        name: &str,
        shape: Shape,
        data: &[f32],
    ) -> BuildResult<TensorId> {
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.constant_bytes(
            name,
            shape,
            DType::F32,
            Quant::NONE,
            None,
            data.len(),
            bytes,
        )
    }

    /// An `f16` constant.
    pub fn constant_f16(
        &mut self,
        name: &str,
        shape: Shape,
        data: &[f16],
    ) -> BuildResult<TensorId> {
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.constant_bytes(
            name,
            shape,
            DType::F16,
            Quant::NONE,
            None,
            data.len(),
            bytes,
        )
    }

    fn get(&self, t: TensorId) -> BuildResult<&BTensor> {
        self.tensors
            .get(t.0 as usize)
            .ok_or_else(|| self.err(format!("tensor id {} was not declared here", t.0)))
    }

    /// Shape of a declared tensor.
    pub fn shape(&self, t: TensorId) -> BuildResult<Shape> {
        Ok(self.get(t)?.shape)
    }

    /// Element type of a declared tensor.
    pub fn dtype(&self, t: TensorId) -> BuildResult<DType> {
        Ok(self.get(t)?.dtype)
    }

    /// Per-tensor quantization of a declared tensor.
    pub fn quant(&self, t: TensorId) -> BuildResult<Quant> {
        Ok(self.get(t)?.quant)
    }

    /// Number of ops added so far.
    pub fn op_count(&self) -> usize {
        self.ops.len()
    }
}

impl GraphBuilder {
    #[allow(clippy::too_many_arguments)]
    fn push_op(
        &mut self,
        kind: OpKind,
        inputs: Vec<u16>,
        outputs: Vec<u16>,
        params: Vec<u32>,
        scratch: usize,
        alias: Alias,
        macs: u64,
    ) -> BuildResult<usize> {
        for &o in &outputs {
            let t = self.get(TensorId(o))?;
            if t.data.is_some() || t.graph_input {
                return Err(self.op_err(
                    kind,
                    format!("output `{}` must be a fresh activation tensor", t.name),
                ));
            }
            if self.ops.iter().any(|op| op.outputs.contains(&o)) {
                return Err(self.op_err(
                    kind,
                    format!("output `{}` is already written by another op", t.name),
                ));
            }
        }
        for &i in inputs.iter().filter(|&&i| i != NO_TENSOR) {
            let t = self.get(TensorId(i))?;
            let produced = self.ops.iter().any(|op| op.outputs.contains(&i));
            if t.data.is_none() && !t.graph_input && !produced {
                return Err(self.op_err(
                    kind,
                    format!("input `{}` is read before any op writes it", t.name),
                ));
            }
        }
        if inputs.len() > format::MAX_OP_INPUTS || outputs.len() > format::MAX_OP_OUTPUTS {
            return Err(self.op_err(kind, "at most 16 inputs and 16 outputs"));
        }
        self.ops.push(BOp {
            kind,
            inputs,
            outputs,
            params,
            scratch,
            alias,
            macs,
            memory: Memory::Fixed,
        });
        Ok(self.ops.len() - 1)
    }

    fn kernel_err(&self, kind: OpKind, e: bfmd_kernels::Error) -> BuildError {
        self.op_err(kind, format!("kernel rejects the parameters: {e}"))
    }

    fn same_dtype(&self, kind: OpKind, ts: &[TensorId], dtype: DType) -> BuildResult<()> {
        for &t in ts {
            let info = self.get(t)?;
            if info.dtype != dtype {
                return Err(self.op_err(
                    kind,
                    format!("`{}` is {:?}, the op is {:?}", info.name, info.dtype, dtype),
                ));
            }
        }
        Ok(())
    }

    fn expect_shape(&self, kind: OpKind, t: TensorId, want: Shape) -> BuildResult<()> {
        let info = self.get(t)?;
        if info.shape != want {
            return Err(self.op_err(
                kind,
                format!(
                    "`{}` has shape {:?}, the op produces {:?}",
                    info.name, info.shape, want
                ),
            ));
        }
        Ok(())
    }

    /// Clamp words of a fused activation: quantized for int8, `f32` bits for float.
    fn act_words(&self, dtype: DType, out: Quant, a: FusedActivation) -> [u32; 2] {
        if dtype == DType::S8 {
            let (lo, hi) = bfmd_kernels::quant::activation_range_s8(a, out.scale, out.zero_point);
            [lo as u32, hi as u32]
        } else {
            f32_words(activation_range_f32(a))
        }
    }

    /// Per-channel multipliers and shifts of an int8 convolution-like op as i32 constants
    /// (TFLM `PopulateConvolutionQuantizationParams`, via `ChannelQuantS8::from_scales`);
    /// returns the constants and the offset/clamp words.
    fn channel_quant(
        &mut self,
        kind: OpKind,
        input: TensorId,
        filter: TensorId,
        output: TensorId,
        channels: usize,
        a: FusedActivation,
    ) -> BuildResult<(u16, u16, [u32; 4])> {
        let (x, f, y) = (
            self.get(input)?.clone(),
            self.get(filter)?.clone(),
            self.get(output)?.clone(),
        );
        let mut scales = f
            .channel_scales
            .clone()
            .unwrap_or_else(|| vec![f.quant.scale]);
        if scales.len() == 1 && kind != OpKind::FullyConnected {
            scales = vec![scales[0]; channels];
        }
        if scales.len() != channels && scales.len() != 1 {
            return Err(self.op_err(
                kind,
                format!(
                    "filter has {} scales, expected 1 or {channels}",
                    scales.len()
                ),
            ));
        }
        let mut m = vec![0i32; scales.len()];
        let mut s = vec![0i32; scales.len()];
        let q = if kind == OpKind::FullyConnected {
            // TFLM's fully connected Prepare multiplies per-tensor scales in f32 first, unlike
            // the convolutions (see `FullyConnectedS8Params::from_scales`).
            let batch = x.shape.len() / f.shape.c;
            let g = bfmd_kernels::reference::fully_connected::FullyConnectedGeometry::new(
                batch, f.shape.c, channels,
            );
            bfmd_kernels::s8::fully_connected::FullyConnectedS8Params::from_scales(
                g,
                x.quant.scale,
                x.quant.zero_point,
                &scales,
                y.quant.scale,
                y.quant.zero_point,
                a,
                &mut m,
                &mut s,
            )
            .map(|p| p.quant)
        } else {
            bfmd_kernels::s8::conv::ChannelQuantS8::from_scales(
                x.quant.scale,
                x.quant.zero_point,
                &scales,
                y.quant.scale,
                y.quant.zero_point,
                a,
                &mut m,
                &mut s,
            )
        }
        .map_err(|e| self.kernel_err(kind, e))?;
        let words = [
            q.input_offset as u32,
            q.output_offset as u32,
            q.act_min as u32,
            q.act_max as u32,
        ];
        let shape = Shape::new(1, 1, 1, m.len());
        let mt = self.constant_i32(&format!("{}/multipliers", y.name), shape, &m)?;
        let st = self.constant_i32(&format!("{}/shifts", y.name), shape, &s)?;
        Ok((mt.0, st.0, words))
    }

    fn check_bias(
        &self,
        kind: OpKind,
        bias: Option<TensorId>,
        dtype: DType,
        channels: usize,
    ) -> BuildResult<u16> {
        let Some(b) = bias else {
            return Ok(NO_TENSOR);
        };
        let info = self.get(b)?;
        let want = ops::bias_dtype(dtype);
        if info.data.is_none() || info.dtype != want || info.shape.len() != channels {
            return Err(self.op_err(
                kind,
                format!("bias must be a {want:?} constant of {channels} elements"),
            ));
        }
        Ok(b.0)
    }

    /// `CONV_2D`: `filter` is OHWI `[out_c, kh, kw, in_c / groups]`; `bias` has `out_c`
    /// elements (int32 for int8 models). The output's shape must be the one the geometry
    /// implies.
    pub fn add_conv2d(
        &mut self,
        input: TensorId,
        filter: TensorId,
        bias: Option<TensorId>,
        output: TensorId,
        o: ConvOptions,
    ) -> BuildResult<usize> {
        self.atomic(|b| b.add_conv_like(OpKind::Conv2d, input, filter, bias, output, o))
    }

    /// `DEPTHWISE_CONV_2D`: `filter` is `[1, kh, kw, in_c * multiplier]`; the multiplier is
    /// `out_c / in_c` (`o.groups` is ignored).
    pub fn add_depthwise_conv2d(
        &mut self,
        input: TensorId,
        filter: TensorId,
        bias: Option<TensorId>,
        output: TensorId,
        o: ConvOptions,
    ) -> BuildResult<usize> {
        self.atomic(|b| b.add_conv_like(OpKind::DepthwiseConv2d, input, filter, bias, output, o))
    }

    fn add_conv_like(
        &mut self,
        kind: OpKind,
        input: TensorId,
        filter: TensorId,
        bias: Option<TensorId>,
        output: TensorId,
        o: ConvOptions,
    ) -> BuildResult<usize> {
        let dtype = self.get(input)?.dtype;
        self.same_dtype(kind, &[input, filter, output], dtype)?;
        let (xs, fs, ys) = (self.shape(input)?, self.shape(filter)?, self.shape(output)?);
        if self.get(filter)?.data.is_none() {
            return Err(self.op_err(kind, "the filter must be a constant"));
        }
        let depthwise = kind == OpKind::DepthwiseConv2d;
        let groups = if depthwise { 1 } else { o.groups };
        let g = ConvGeometry::new(
            xs,
            ys.c,
            (fs.h, fs.w),
            o.stride,
            o.dilation,
            o.padding,
            groups,
        )
        .map_err(|e| self.kernel_err(kind, e))?;
        self.expect_shape(kind, output, g.output)?;
        let (want_filter, word10) = if depthwise {
            if ys.c % xs.c != 0 {
                return Err(
                    self.op_err(kind, "output channels must be a multiple of input channels")
                );
            }
            (Shape::new(1, fs.h, fs.w, ys.c), ys.c / xs.c)
        } else {
            if groups == 0 || xs.c % groups != 0 || ys.c % groups != 0 {
                return Err(self.op_err(kind, "groups must divide both channel counts"));
            }
            (Shape::new(ys.c, fs.h, fs.w, xs.c / groups), groups)
        };
        self.expect_shape(kind, filter, want_filter)?;
        let b = self.check_bias(kind, bias, dtype, ys.c)?;
        let mut inputs = vec![input.0, filter.0, b];
        let mut p = vec![0u32; ops::conv::WORDS];
        p[ops::conv::KERNEL_H] = g.kernel_h as u32;
        p[ops::conv::KERNEL_W] = g.kernel_w as u32;
        p[ops::conv::STRIDE_H] = g.stride_h as u32;
        p[ops::conv::STRIDE_W] = g.stride_w as u32;
        p[ops::conv::DILATION_H] = g.dilation_h as u32;
        p[ops::conv::DILATION_W] = g.dilation_w as u32;
        p[ops::conv::PAD_TOP] = g.pad_top as u32;
        p[ops::conv::PAD_BOTTOM] = g.pad_bottom as u32;
        p[ops::conv::PAD_LEFT] = g.pad_left as u32;
        p[ops::conv::PAD_RIGHT] = g.pad_right as u32;
        p[ops::conv::GROUPS] = word10 as u32;
        if dtype == DType::S8 {
            let (m, s, w) = self.channel_quant(kind, input, filter, output, ys.c, o.activation)?;
            inputs.extend([m, s]);
            p[ops::conv::INPUT_OFFSET] = w[0];
            p[ops::conv::OUTPUT_OFFSET] = w[1];
            p[ops::conv::ACT_MIN] = w[2];
            p[ops::conv::ACT_MAX] = w[3];
        } else {
            let [lo, hi] = f32_words(activation_range_f32(o.activation));
            p[ops::conv::ACT_MIN] = lo;
            p[ops::conv::ACT_MAX] = hi;
        }
        let (scratch, alias) = crate::kernels::conv_memory(kind, dtype, &g, KernelPath::HOST);
        let macs = if depthwise {
            g.depthwise_macs()
        } else {
            g.conv_macs()
        } as u64;
        let j = self.push_op(kind, inputs, vec![output.0], p, scratch, alias, macs)?;
        self.ops[j].memory = Memory::Conv(kind, dtype, g);
        Ok(j)
    }

    /// `FULLY_CONNECTED`: `weights` is `[out, in]` stored as shape `(out, 1, 1, in)`; the
    /// input has `batches * in` elements and the output `batches * out`.
    pub fn add_fully_connected(
        &mut self,
        input: TensorId,
        weights: TensorId,
        bias: Option<TensorId>,
        output: TensorId,
        activation: FusedActivation,
    ) -> BuildResult<usize> {
        self.atomic(|b| b.fully_connected_op(input, weights, bias, output, activation))
    }

    fn fully_connected_op(
        &mut self,
        input: TensorId,
        weights: TensorId,
        bias: Option<TensorId>,
        output: TensorId,
        activation: FusedActivation,
    ) -> BuildResult<usize> {
        let kind = OpKind::FullyConnected;
        let dtype = self.get(input)?.dtype;
        self.same_dtype(kind, &[input, weights, output], dtype)?;
        let (xs, ws, ys) = (
            self.shape(input)?,
            self.shape(weights)?,
            self.shape(output)?,
        );
        if self.get(weights)?.data.is_none() || ws.h != 1 || ws.w != 1 {
            return Err(self.op_err(kind, "weights must be a constant of shape (out, 1, 1, in)"));
        }
        let (out_f, in_f) = (ws.n, ws.c);
        if xs.len() % in_f != 0 || ys.len() != xs.len() / in_f * out_f {
            return Err(self.op_err(kind, "input must be batches x in and output batches x out"));
        }
        let b = self.check_bias(kind, bias, dtype, out_f)?;
        let mut inputs = vec![input.0, weights.0, b];
        let mut p = vec![0u32; ops::fc::WORDS];
        if dtype == DType::S8 {
            let (m, s, w) = self.channel_quant(kind, input, weights, output, out_f, activation)?;
            inputs.extend([m, s]);
            p[ops::fc::INPUT_OFFSET] = w[0];
            p[ops::fc::FILTER_OFFSET] = 0;
            p[ops::fc::OUTPUT_OFFSET] = w[1];
            p[ops::fc::ACT_MIN] = w[2];
            p[ops::fc::ACT_MAX] = w[3];
        } else {
            let [lo, hi] = f32_words(activation_range_f32(activation));
            p[ops::fc::ACT_MIN] = lo;
            p[ops::fc::ACT_MAX] = hi;
        }
        let macs = (ys.len() * in_f) as u64;
        let g = FullyConnectedGeometry::new(xs.len() / in_f, in_f, out_f);
        let scratch = crate::kernels::fc_scratch(dtype, &g, false, KernelPath::HOST);
        let j = self.push_op(kind, inputs, vec![output.0], p, scratch, Alias::None, macs)?;
        self.ops[j].memory = Memory::FullyConnected(dtype, g, false);
        Ok(j)
    }

    fn add_pool(
        &mut self,
        kind: OpKind,
        input: TensorId,
        output: TensorId,
        o: PoolOptions,
    ) -> BuildResult<usize> {
        let dtype = self.get(input)?.dtype;
        self.same_dtype(kind, &[input, output], dtype)?;
        let xs = self.shape(input)?;
        let g = ConvGeometry::new(xs, xs.c, o.kernel, o.stride, (1, 1), o.padding, 1)
            .map_err(|e| self.kernel_err(kind, e))?;
        self.expect_shape(kind, output, g.output)?;
        let (xq, yq) = (self.quant(input)?, self.quant(output)?);
        let clamp = if dtype == DType::S8 {
            let p = bfmd_kernels::s8::pool::PoolS8Params::from_scales(
                g,
                xq.scale,
                xq.zero_point,
                yq.scale,
                yq.zero_point,
                o.activation,
            )
            .map_err(|e| self.kernel_err(kind, e))?;
            [p.act_min as u32, p.act_max as u32]
        } else {
            self.act_words(dtype, yq, o.activation)
        };
        let mut p = vec![0u32; ops::pool::WORDS];
        p[ops::pool::KERNEL_H] = g.kernel_h as u32;
        p[ops::pool::KERNEL_W] = g.kernel_w as u32;
        p[ops::pool::STRIDE_H] = g.stride_h as u32;
        p[ops::pool::STRIDE_W] = g.stride_w as u32;
        p[ops::pool::PAD_TOP] = g.pad_top as u32;
        p[ops::pool::PAD_BOTTOM] = g.pad_bottom as u32;
        p[ops::pool::PAD_LEFT] = g.pad_left as u32;
        p[ops::pool::PAD_RIGHT] = g.pad_right as u32;
        p[ops::pool::COUNT_INCLUDE_PAD] = (kind == OpKind::AvgPool2d && o.count_include_pad) as u32;
        p[ops::pool::ACT_MIN] = clamp[0];
        p[ops::pool::ACT_MAX] = clamp[1];
        self.push_op(kind, vec![input.0], vec![output.0], p, 0, Alias::None, 0)
    }

    /// `MAX_POOL_2D`.
    pub fn add_max_pool2d(
        &mut self,
        input: TensorId,
        output: TensorId,
        o: PoolOptions,
    ) -> BuildResult<usize> {
        self.add_pool(OpKind::MaxPool2d, input, output, o)
    }

    /// `AVERAGE_POOL_2D` (or PyTorch's `AvgPool2d` with `o.count_include_pad`).
    pub fn add_avg_pool2d(
        &mut self,
        input: TensorId,
        output: TensorId,
        o: PoolOptions,
    ) -> BuildResult<usize> {
        self.add_pool(OpKind::AvgPool2d, input, output, o)
    }

    /// `MEAN` over height and width; the output is `[n, 1, 1, c]` (TFLite's `keep_dims`
    /// false gives the same bytes; record rank 2 with [`GraphBuilder::set_rank`]).
    pub fn add_mean(&mut self, input: TensorId, output: TensorId) -> BuildResult<usize> {
        let kind = OpKind::Mean;
        let dtype = self.get(input)?.dtype;
        self.same_dtype(kind, &[input, output], dtype)?;
        let xs = self.shape(input)?;
        self.expect_shape(kind, output, Shape::new(xs.n, 1, 1, xs.c))?;
        let p = if dtype == DType::S8 {
            let (xq, yq) = (self.quant(input)?, self.quant(output)?);
            let m = bfmd_kernels::s8::pool::MeanS8Params::from_scales(
                xq.scale,
                xq.zero_point,
                yq.scale,
                yq.zero_point,
            )
            .map_err(|e| self.kernel_err(kind, e))?;
            vec![
                m.input_zero_point as u32,
                m.output_zero_point as u32,
                m.multiplier as u32,
                m.shift as u32,
            ]
        } else {
            vec![]
        };
        self.push_op(kind, vec![input.0], vec![output.0], p, 0, Alias::None, 0)
    }

    fn add_binary(
        &mut self,
        kind: OpKind,
        a: TensorId,
        b: TensorId,
        output: TensorId,
        activation: FusedActivation,
    ) -> BuildResult<usize> {
        let dtype = self.get(a)?.dtype;
        self.same_dtype(kind, &[a, b, output], dtype)?;
        let (as_, bs, ys) = (self.shape(a)?, self.shape(b)?, self.shape(output)?);
        let fits = |s: Shape| s == ys || s == Shape::new(1, 1, 1, ys.c) || s.len() == 1;
        if !((as_ == ys && fits(bs)) || (bs == ys && fits(as_))) {
            return Err(self.op_err(
                kind,
                "operands must match the output or broadcast as [1,1,1,C] or a scalar",
            ));
        }
        let (aq, bq, yq) = (self.quant(a)?, self.quant(b)?, self.quant(output)?);
        let p: Vec<u32> = match (kind, dtype) {
            (OpKind::Add | OpKind::Sub, DType::S8) => {
                let q = bfmd_kernels::s8::elementwise::AddS8Params::from_scales(
                    aq.scale,
                    aq.zero_point,
                    bq.scale,
                    bq.zero_point,
                    yq.scale,
                    yq.zero_point,
                    activation,
                )
                .map_err(|e| self.kernel_err(kind, e))?;
                crate::kernels::add_s8_words(&q).to_vec()
            }
            (_, DType::S8) => {
                let q = bfmd_kernels::s8::elementwise::MulS8Params::from_scales(
                    aq.scale,
                    aq.zero_point,
                    bq.scale,
                    bq.zero_point,
                    yq.scale,
                    yq.zero_point,
                    activation,
                )
                .map_err(|e| self.kernel_err(kind, e))?;
                crate::kernels::mul_s8_words(&q).to_vec()
            }
            _ => f32_words(activation_range_f32(activation)).to_vec(),
        };
        let activation_inputs =
            |t: TensorId| self.get(t).map(|i| i.data.is_none() && i.shape == ys);
        // SUB is not symmetric: only its minuend may be overwritten.
        let second = kind != OpKind::Sub && activation_inputs(b)?;
        let slots = activation_inputs(a)? as u8 | ((second as u8) << 1);
        let alias = if slots != 0 {
            Alias::InPlace { slots, scratch: 0 }
        } else {
            Alias::None
        };
        self.push_op(
            kind,
            vec![a.0, b.0],
            vec![output.0],
            p,
            0,
            alias,
            ys.len() as u64,
        )
    }

    /// `ADD` with independent input quantizations; one operand may be `[1,1,1,C]` or a scalar.
    pub fn add_add(
        &mut self,
        a: TensorId,
        b: TensorId,
        output: TensorId,
        activation: FusedActivation,
    ) -> BuildResult<usize> {
        self.add_binary(OpKind::Add, a, b, output, activation)
    }

    /// `SUB` (`a - b`) with independent input quantizations (TFLM's ADD parameters); one
    /// operand may be `[1,1,1,C]` or a scalar.
    pub fn add_sub(
        &mut self,
        a: TensorId,
        b: TensorId,
        output: TensorId,
        activation: FusedActivation,
    ) -> BuildResult<usize> {
        self.add_binary(OpKind::Sub, a, b, output, activation)
    }

    /// `MUL` with independent input quantizations; one operand may be `[1,1,1,C]` (the
    /// squeeze-and-excitation gate) or a scalar.
    pub fn add_mul(
        &mut self,
        a: TensorId,
        b: TensorId,
        output: TensorId,
        activation: FusedActivation,
    ) -> BuildResult<usize> {
        self.add_binary(OpKind::Mul, a, b, output, activation)
    }

    fn same_quant(&self, kind: OpKind, ts: &[TensorId]) -> BuildResult<()> {
        let q0 = self.quant(ts[0])?;
        for &t in &ts[1..] {
            let q = self.quant(t)?;
            if self.dtype(t)? == DType::S8
                && (q.zero_point != q0.zero_point || (q.scale - q0.scale).abs() > 1e-6 * q0.scale)
            {
                return Err(self.op_err(kind, format!("`{}` must have the same quantization as `{}` (data is moved, not rescaled)", self.get(t)?.name, self.get(ts[0])?.name)));
            }
        }
        Ok(())
    }

    /// `CONCATENATION` along `axis` (0..=3, NHWC). int8 inputs must share the output's
    /// quantization (as TFLM's int8 concatenation assumes: it copies bytes).
    pub fn add_concat(
        &mut self,
        inputs: &[TensorId],
        output: TensorId,
        axis: usize,
    ) -> BuildResult<usize> {
        self.add_concat_split(OpKind::Concat, inputs, &[output], axis)
    }

    /// `SPLIT` / `SPLIT_V` along `axis` into outputs of any sizes.
    pub fn add_split(
        &mut self,
        input: TensorId,
        outputs: &[TensorId],
        axis: usize,
    ) -> BuildResult<usize> {
        self.add_concat_split(OpKind::Split, &[input], outputs, axis)
    }

    fn add_concat_split(
        &mut self,
        kind: OpKind,
        inputs: &[TensorId],
        outputs: &[TensorId],
        axis: usize,
    ) -> BuildResult<usize> {
        if axis > 3 || inputs.is_empty() || outputs.is_empty() {
            return Err(self.op_err(
                kind,
                "axis must be 0..=3 with at least one input and output",
            ));
        }
        let dtype = self.dtype(inputs[0])?;
        let all: Vec<TensorId> = outputs.iter().chain(inputs).copied().collect();
        self.same_dtype(kind, &all, dtype)?;
        self.same_quant(kind, &all)?;
        let (whole, parts) = if kind == OpKind::Concat {
            (outputs[0], inputs)
        } else {
            (inputs[0], outputs)
        };
        let wd = crate::validate::dims(self.shape(whole)?);
        let mut sum = 0;
        for &t in parts {
            let d = crate::validate::dims(self.shape(t)?);
            if (0..4).any(|k| k != axis && d[k] != wd[k]) {
                return Err(self.op_err(
                    kind,
                    format!("`{}` differs off the axis", self.get(t)?.name),
                ));
            }
            sum += d[axis];
        }
        if sum != wd[axis] {
            return Err(self.op_err(kind, "parts do not add up along the axis"));
        }
        self.push_op(
            kind,
            inputs.iter().map(|t| t.0).collect(),
            outputs.iter().map(|t| t.0).collect(),
            vec![axis as u32],
            0,
            Alias::None,
            0,
        )
    }

    /// ShuffleNet channel shuffle with `groups`.
    pub fn add_channel_shuffle(
        &mut self,
        input: TensorId,
        output: TensorId,
        groups: usize,
    ) -> BuildResult<usize> {
        let kind = OpKind::ChannelShuffle;
        let dtype = self.dtype(input)?;
        self.same_dtype(kind, &[output], dtype)?;
        self.same_quant(kind, &[input, output])?;
        let xs = self.shape(input)?;
        self.expect_shape(kind, output, xs)?;
        if groups == 0 || xs.c % groups != 0 {
            return Err(self.op_err(kind, "groups must divide the channel count"));
        }
        self.push_op(
            kind,
            vec![input.0],
            vec![output.0],
            vec![groups as u32],
            0,
            Alias::None,
            0,
        )
    }

    /// `PAD` / `PADV2` with a constant: `before[d]`/`after[d]` elements around NHWC dimension
    /// `d`, filled with the real `value`. int8 stores `value` quantized with the output's
    /// quantization (TFLite `PAD`: `value` 0 gives the zero point; `PADV2`: pass the
    /// dequantized constant, which shares that quantization, so it maps back exactly).
    pub fn add_pad(
        &mut self,
        input: TensorId,
        output: TensorId,
        before: [usize; 4],
        after: [usize; 4],
        value: f32,
    ) -> BuildResult<usize> {
        let kind = OpKind::Pad;
        let dtype = self.dtype(input)?;
        self.same_dtype(kind, &[output], dtype)?;
        self.same_quant(kind, &[input, output])?;
        let xd = crate::validate::dims(self.shape(input)?);
        let want = Shape::new(
            xd[0] + before[0] + after[0],
            xd[1] + before[1] + after[1],
            xd[2] + before[2] + after[2],
            xd[3] + before[3] + after[3],
        );
        self.expect_shape(kind, output, want)?;
        let fill = match dtype {
            DType::S8 => bfmd_kernels::quant::quantize_f32_to_s8(
                value,
                self.quant(output)?.scale,
                self.quant(output)?.zero_point,
            ) as i32 as u32,
            DType::F16 => f16::from_f32(value).to_bits() as u32,
            _ => value.to_bits(),
        };
        let mut p: Vec<u32> = before.iter().chain(&after).map(|&v| v as u32).collect();
        p.push(fill);
        self.push_op(kind, vec![input.0], vec![output.0], p, 0, Alias::None, 0)
    }

    /// `PRELU` (f32): `output = input >= 0 ? input : alpha * input`, `alpha` an f32 constant
    /// that broadcasts to the input's shape (per channel `[1, 1, 1, C]`, per position...).
    pub fn add_prelu(
        &mut self,
        input: TensorId,
        alpha: TensorId,
        output: TensorId,
    ) -> BuildResult<usize> {
        let kind = OpKind::Prelu;
        if self.dtype(input)? != DType::F32 {
            return Err(self.op_err(kind, "PReLU runs in f32 only"));
        }
        self.same_dtype(kind, &[alpha, output], DType::F32)?;
        let xs = self.shape(input)?;
        bfmd_kernels::reference::prelu::check_alpha(xs, self.shape(alpha)?)
            .map_err(|e| self.kernel_err(kind, e))?;
        self.expect_shape(kind, output, xs)?;
        let macs = xs.len() as u64;
        self.push_op(
            kind,
            vec![input.0, alpha.0],
            vec![output.0],
            Vec::new(),
            0,
            Alias::None,
            macs,
        )
    }

    /// `RESIZE_BILINEAR` (`bilinear`, f32) or `RESIZE_NEAREST_NEIGHBOR` (any dtype, same
    /// quantization) of height and width to the output's, with TFLite's `align_corners` and
    /// `half_pixel_centers`.
    pub fn add_resize(
        &mut self,
        input: TensorId,
        output: TensorId,
        bilinear: bool,
        align_corners: bool,
        half_pixel_centers: bool,
    ) -> BuildResult<usize> {
        let kind = if bilinear {
            OpKind::ResizeBilinear
        } else {
            OpKind::ResizeNearest
        };
        let dtype = self.dtype(input)?;
        if bilinear && dtype != DType::F32 {
            return Err(self.op_err(kind, "bilinear resize runs in f32 only"));
        }
        let options = bfmd_kernels::reference::resize::ResizeParams {
            align_corners,
            half_pixel_centers,
        };
        options.check().map_err(|e| self.kernel_err(kind, e))?;
        self.same_dtype(kind, &[output], dtype)?;
        self.same_quant(kind, &[input, output])?;
        let (xs, ys) = (self.shape(input)?, self.shape(output)?);
        self.expect_shape(kind, output, Shape::new(xs.n, ys.h, ys.w, xs.c))?;
        let macs = if bilinear { 4 * ys.len() as u64 } else { 0 };
        self.push_op(
            kind,
            vec![input.0],
            vec![output.0],
            vec![u32::from(align_corners), u32::from(half_pixel_centers)],
            0,
            Alias::None,
            macs,
        )
    }

    /// `TRANSPOSE`: output dimension `d` is input dimension `perm[d]` (NHWC indices).
    pub fn add_transpose(
        &mut self,
        input: TensorId,
        output: TensorId,
        perm: [usize; 4],
    ) -> BuildResult<usize> {
        let kind = OpKind::Transpose;
        let dtype = self.dtype(input)?;
        self.same_dtype(kind, &[output], dtype)?;
        self.same_quant(kind, &[input, output])?;
        let want = bfmd_kernels::movement::transpose::transpose_shape(self.shape(input)?, perm)
            .map_err(|e| self.kernel_err(kind, e))?;
        self.expect_shape(kind, output, want)?;
        self.push_op(
            kind,
            vec![input.0],
            vec![output.0],
            perm.iter().map(|&v| v as u32).collect(),
            0,
            Alias::None,
            0,
        )
    }

    /// `RESHAPE`: a view, no data movement (the output shares the input's arena bytes). A
    /// constant cannot be reshaped here: declare the constant with the new shape instead.
    pub fn add_reshape(&mut self, input: TensorId, output: TensorId) -> BuildResult<usize> {
        let kind = OpKind::Reshape;
        let dtype = self.dtype(input)?;
        self.same_dtype(kind, &[output], dtype)?;
        self.same_quant(kind, &[input, output])?;
        if self.get(input)?.data.is_some() {
            return Err(self.op_err(
                kind,
                "reshape of a constant: declare the constant with the new shape",
            ));
        }
        if self.shape(input)?.len() != self.shape(output)?.len() {
            return Err(self.op_err(kind, "reshape changes the element count"));
        }
        self.push_op(
            kind,
            vec![input.0],
            vec![output.0],
            vec![],
            0,
            Alias::View,
            0,
        )
    }

    /// `QUANTIZE` float to int8 with the output's quantization.
    pub fn add_quantize(&mut self, input: TensorId, output: TensorId) -> BuildResult<usize> {
        self.add_affine(OpKind::Quantize, input, output)
    }

    /// `DEQUANTIZE` int8 to float with the input's quantization.
    pub fn add_dequantize(&mut self, input: TensorId, output: TensorId) -> BuildResult<usize> {
        self.add_affine(OpKind::Dequantize, input, output)
    }

    /// Quantize (f32 -> int8) or dequantize (int8 -> f32); the word pair is the int8 side's
    /// scale and zero point.
    fn add_affine(
        &mut self,
        kind: OpKind,
        input: TensorId,
        output: TensorId,
    ) -> BuildResult<usize> {
        let quantize = kind == OpKind::Quantize;
        let (float, int) = if quantize {
            (input, output)
        } else {
            (output, input)
        };
        if self.dtype(float)? != DType::F32 || self.dtype(int)? != DType::S8 {
            return Err(self.op_err(
                kind,
                "the float side must be f32 and the other int8 (the kernels have no f16 form)",
            ));
        }
        self.expect_shape(kind, output, self.shape(input)?)?;
        let q = self.quant(int)?;
        let words = vec![q.scale.to_bits(), q.zero_point as u32];
        self.push_op(
            kind,
            vec![input.0],
            vec![output.0],
            words,
            0,
            Alias::None,
            0,
        )
    }

    /// A unary elementwise op (`Relu`, `Relu6`, `ReluN1To1`, `HardSigmoid`, `HardSwish`,
    /// `Logistic`, `Swish`, `Requantize`) or `Softmax` (with `beta` 1), int8 constants computed
    /// by the kernels' `from_scales`.
    pub fn add_unary(
        &mut self,
        kind: OpKind,
        input: TensorId,
        output: TensorId,
    ) -> BuildResult<usize> {
        if !kind.is_unary_in_place() || kind == OpKind::Lut {
            return Err(self.op_err(kind, "not a unary elementwise op"));
        }
        self.atomic(|b| b.add_softmax_or_unary(kind, input, output, 1.0))
    }

    /// `SOFTMAX` over the channel axis with `beta`.
    pub fn add_softmax(
        &mut self,
        input: TensorId,
        output: TensorId,
        beta: f32,
    ) -> BuildResult<usize> {
        self.atomic(|b| b.add_softmax_or_unary(OpKind::Softmax, input, output, beta))
    }

    fn add_softmax_or_unary(
        &mut self,
        kind: OpKind,
        input: TensorId,
        output: TensorId,
        beta: f32,
    ) -> BuildResult<usize> {
        let dtype = self.dtype(input)?;
        self.same_dtype(kind, &[output], dtype)?;
        self.expect_shape(kind, output, self.shape(input)?)?;
        let (xq, yq) = (self.quant(input)?, self.quant(output)?);
        let (p, table) =
            crate::kernels::unary_params(kind, dtype, xq, yq, beta).map_err(|e| match e {
                crate::kernels::ParamError::Kernel(e) => self.kernel_err(kind, e),
                crate::kernels::ParamError::Unsupported(m) => self.op_err(kind, m),
            })?;
        let mut inputs = vec![input.0];
        if let Some(t) = table {
            let name = format!("{}/table", self.get(output)?.name);
            inputs.push(
                self.constant_s8(&name, Shape::new(1, 1, 1, 256), &t, Quant::NONE)?
                    .0,
            );
        }
        // Every unary kernel has an `_inplace` form in every dtype.
        let alias = Alias::InPlace {
            slots: 1,
            scratch: 0,
        };
        let n = self.shape(input)?.len() as u64;
        self.push_op(kind, inputs, vec![output.0], p, 0, alias, n)
    }

    /// An int8 unary op given as a 256-entry table indexed by `input as u8` (bfmd-defined).
    pub fn add_lut(
        &mut self,
        input: TensorId,
        output: TensorId,
        table: &[i8; 256],
    ) -> BuildResult<usize> {
        self.atomic(|b| b.lut_op(input, output, table))
    }

    fn lut_op(
        &mut self,
        input: TensorId,
        output: TensorId,
        table: &[i8; 256],
    ) -> BuildResult<usize> {
        let kind = OpKind::Lut;
        if self.dtype(input)? != DType::S8 || self.dtype(output)? != DType::S8 {
            return Err(self.op_err(kind, "a lookup table is int8 only"));
        }
        self.expect_shape(kind, output, self.shape(input)?)?;
        let name = format!("{}/table", self.get(output)?.name);
        let t = self.constant_s8(&name, Shape::new(1, 1, 1, 256), table, Quant::NONE)?;
        let alias = Alias::InPlace {
            slots: 1,
            scratch: 0,
        };
        let n = self.shape(input)?.len() as u64;
        self.push_op(
            kind,
            vec![input.0, t.0],
            vec![output.0],
            vec![],
            0,
            alias,
            n,
        )
    }
}

fn put_u16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

impl GraphBuilder {
    /// Validates the graph, packs small fully connected layers' weights (unless
    /// [`BuildOptions::wide_fc_weights`] is 0), fuses channel-shuffle chains (unless
    /// [`BuildOptions::fuse_shuffles`] is off), folds int8 elementwise chains into lookup
    /// tables (unless [`BuildOptions::fold_luts`] is off), plans the arena (see [`crate::plan`]),
    /// serializes the blob, parses it back as a self-check, and reports the plan.
    pub fn finish(&self, options: BuildOptions) -> BuildResult<Built> {
        match wide::pack_fc_weights(self, options.wide_fc_weights) {
            Some(packed) => packed.finish_packed(options),
            None => self.finish_packed(options),
        }
    }

    /// [`GraphBuilder::finish`] after the weight packing.
    fn finish_packed(&self, options: BuildOptions) -> BuildResult<Built> {
        if self.inputs.is_empty() || self.outputs.is_empty() {
            return Err(self.err("a model needs at least one graph input and one graph output"));
        }
        for (i, t) in self.tensors.iter().enumerate() {
            let written = self.ops.iter().any(|op| op.outputs.contains(&(i as u16)));
            if t.data.is_none() && !t.graph_input && !written {
                return Err(BuildError {
                    op: None,
                    tensor: Some(i),
                    message: format!("activation `{}` is never written by an op", t.name),
                });
            }
        }
        let sources: Vec<Vec<usize>> = (0..self.ops.len()).map(|j| vec![j]).collect();
        let fused = options
            .fuse_shuffles
            .then(|| fuse::fuse_shuffles(self))
            .flatten();
        let mut best = self.plan_and_serialize(options, &sources)?;
        // A fused op holds all its inputs and outputs at once, each padded to 16 bytes, where
        // the unfused ops held one larger intermediate: a few bytes more are possible. RAM
        // comes first on a microcontroller, so each rewritten graph (fused, then folded into
        // lookup tables) is kept only if its arena is no larger.
        let mut base = None;
        if let Some(f) = fused {
            let built = f.graph.plan_and_serialize(options, &f.sources)?;
            if built.report.arena_bytes <= best.report.arena_bytes {
                best = built;
                base = Some(f);
            }
        }
        if options.fold_luts {
            let g = base.as_ref().map_or(self, |f| &f.graph);
            if let Some(l) = lut::fold_luts(g)? {
                let base_sources = base.as_ref().map(|f| f.sources.as_slice());
                let sources = lut::compose_sources(base_sources, &l.sources);
                let built = l.graph.plan_and_serialize(options, &sources)?;
                if built.report.arena_bytes <= best.report.arena_bytes {
                    best = built;
                }
            }
        }
        Ok(best)
    }

    /// Plans (for [`BuildOptions::in_place`] and [`BuildOptions::path`]), serializes and reports
    /// a checked (and possibly fused) graph; `sources[j]` lists the original ops behind op `j`.
    fn plan_and_serialize(
        &self,
        options: BuildOptions,
        sources: &[Vec<usize>],
    ) -> BuildResult<Built> {
        let in_place = options.in_place;
        let memory: Vec<(usize, Alias)> = self
            .ops
            .iter()
            .map(|o| o.memory_for(options.path))
            .collect();
        let pt: Vec<PlanTensor> = self
            .tensors
            .iter()
            .map(|t| PlanTensor {
                bytes: t.shape.len() * t.dtype.size(),
                activation: t.data.is_none(),
                graph_input: t.graph_input,
                graph_output: t.graph_output,
            })
            .collect();
        let po: Vec<PlanOp<'_>> = self
            .ops
            .iter()
            .zip(&memory)
            .map(|(o, &(scratch, alias))| PlanOp {
                inputs: &o.inputs,
                outputs: &o.outputs,
                scratch,
                alias,
            })
            .collect();
        let mut ts = vec![TensorSlot::default(); pt.len()];
        let mut os = vec![OpSlot::default(); po.len()];
        let mut order = vec![0u32; 2 * (pt.len() + po.len())];
        let mut work = Work {
            tensors: &mut ts,
            ops: &mut os,
            order: &mut order,
        };
        let sizes = plan::plan(&pt, &po, in_place, &mut work)?;
        let bytes = self.serialize(&ts, &os, sizes.arena_bytes);
        let blob = ModelBytes::from_bytes(&bytes);
        // A self-check of the serializer: the caller applies its own limits afterwards (a
        // model too large for the default ones may still be built on purpose).
        let model = blob
            .model_with_limits(&crate::Limits::NONE)
            .map_err(|e| BuildError {
                op: None,
                tensor: None,
                message: format!("the serialized model does not parse (a builder bug): {e}"),
            })?;
        let report = PlanReport {
            arena_bytes: sizes.arena_bytes,
            greedy_bytes: sizes.greedy_bytes,
            ram_bytes: model.ram_bytes(),
            weights_bytes: model.constant_bytes(),
            blob_bytes: bytes.len(),
            macs: self.ops.iter().map(|o| o.macs).sum(),
            op_count: self.ops.len(),
            in_place_ops: sizes.in_place_ops,
            ops: self
                .ops
                .iter()
                .zip(&os)
                .zip(sources)
                .map(|((o, s), sources)| {
                    let t = o.outputs[0] as usize;
                    let info = &self.tensors[t];
                    OpReport {
                        kind: o.kind,
                        output: info.name.clone(),
                        output_shape: info.shape,
                        region: Region {
                            start: ts[t].offset,
                            len: pt[t].bytes,
                        },
                        scratch: s.scratch,
                        variant: s.variant,
                        macs: o.macs,
                        sources: sources.clone(),
                    }
                })
                .collect(),
        };
        Ok(Built { blob, report })
    }

    fn serialize(&self, ts: &[TensorSlot], os: &[OpSlot], arena_bytes: usize) -> Vec<u8> {
        let n_t = self.tensors.len();
        let tensors_off = HEADER_LEN;
        let ops_off = tensors_off + n_t * TENSOR_LEN;
        let ops_len: usize = self
            .ops
            .iter()
            .map(|o| OpRecord::record_len(o.inputs.len(), o.outputs.len(), o.params.len()))
            .sum();
        let io_off = ops_off + ops_len;
        let io_len = 2 * (self.inputs.len() + self.outputs.len());
        let consts_off = (io_off + io_len).next_multiple_of(ALIGN);
        // Constant offsets, each 16-byte aligned inside the section.
        let mut const_at = vec![0usize; n_t];
        let mut cursor = 0usize;
        for (i, t) in self.tensors.iter().enumerate() {
            if let Some(d) = &t.data {
                cursor = cursor.next_multiple_of(ALIGN);
                const_at[i] = cursor;
                cursor += d.len();
            }
        }
        let consts_len = cursor;
        let total = consts_off + consts_len;
        let mut b = vec![0u8; total];
        b[..4].copy_from_slice(&format::MAGIC);
        put_u16(&mut b, header::VERSION, format::VERSION);
        put_u16(&mut b, header::HEADER_LEN, HEADER_LEN as u16);
        put_u32(&mut b, header::TOTAL_LEN, total as u32);
        put_u32(&mut b, header::ARENA_BYTES, arena_bytes as u32);
        put_u16(&mut b, header::TENSOR_COUNT, n_t as u16);
        put_u16(&mut b, header::OP_COUNT, self.ops.len() as u16);
        put_u16(&mut b, header::INPUT_COUNT, self.inputs.len() as u16);
        put_u16(&mut b, header::OUTPUT_COUNT, self.outputs.len() as u16);
        put_u32(&mut b, header::TENSORS, tensors_off as u32);
        put_u32(&mut b, header::OPS, ops_off as u32);
        put_u32(&mut b, header::OPS_LEN, ops_len as u32);
        put_u32(&mut b, header::IO, io_off as u32);
        put_u32(&mut b, header::CONSTS, consts_off as u32);
        put_u32(&mut b, header::CONSTS_LEN, consts_len as u32);
        for (i, t) in self.tensors.iter().enumerate() {
            let r = tensors_off + i * TENSOR_LEN;
            b[r] = t.dtype.code();
            b[r + 1] = if t.data.is_some() { 1 } else { 0 };
            b[r + 2] = t.rank;
            let s = t.shape;
            for (k, d) in [s.n, s.h, s.w, s.c].into_iter().enumerate() {
                put_u32(&mut b, r + 4 + 4 * k, d as u32);
            }
            put_u32(&mut b, r + 20, t.quant.scale.to_bits());
            put_u32(&mut b, r + 24, t.quant.zero_point as u32);
            let offset = match &t.data {
                Some(d) => {
                    let at = consts_off + const_at[i];
                    b[at..at + d.len()].copy_from_slice(d);
                    const_at[i]
                }
                None => ts[i].offset,
            };
            put_u32(&mut b, r + 28, offset as u32);
            put_u32(&mut b, r + 32, (s.len() * t.dtype.size()) as u32);
        }
        let mut r = ops_off;
        for (o, s) in self.ops.iter().zip(os) {
            let len = OpRecord::record_len(o.inputs.len(), o.outputs.len(), o.params.len());
            b[r] = o.kind as u8;
            b[r + 1] = s.variant.code();
            b[r + 2] = o.inputs.len() as u8;
            b[r + 3] = o.outputs.len() as u8;
            put_u16(&mut b, r + 4, o.params.len() as u16);
            put_u16(&mut b, r + 6, len as u16);
            put_u32(&mut b, r + 8, s.scratch.start as u32);
            put_u32(&mut b, r + 12, s.scratch.len as u32);
            let mut at = r + format::OP_HEADER_LEN;
            for &t in o.inputs.iter().chain(&o.outputs) {
                put_u16(&mut b, at, t);
                at += 2;
            }
            let mut at = r + len - 4 * o.params.len();
            for &w in &o.params {
                put_u32(&mut b, at, w);
                at += 4;
            }
            r += len;
        }
        for (k, &t) in self.inputs.iter().chain(&self.outputs).enumerate() {
            put_u16(&mut b, io_off + 2 * k, t);
        }
        let crc = crate::crc32(&b[header::CRC_START..]);
        put_u32(&mut b, header::CRC, crc);
        b
    }
}
