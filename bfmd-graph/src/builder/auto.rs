//! The builder's second face, for callers that build models op by op (the native PyTorch
//! backbones): each method creates its output tensor with the shape the op implies, the input's
//! dtype and the quantization given (ignored for float models), and returns it.

use super::{BuildResult, ConvOptions, GraphBuilder, PoolOptions, Quant, TensorId};
use crate::ops::{DType, OpKind};
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::{ConvGeometry, Shape};

impl GraphBuilder {
    /// Runs `f`; if it fails, forgets every tensor it declared, so a rejected op leaves no
    /// dangling output or constant behind.
    pub(crate) fn atomic<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> BuildResult<T>,
    ) -> BuildResult<T> {
        let n = self.tensors.len();
        let r = f(self);
        if r.is_err() {
            self.tensors.truncate(n);
        }
        r
    }

    fn new_like(
        &mut self,
        name: &str,
        input: TensorId,
        shape: Shape,
        quant: Quant,
    ) -> BuildResult<TensorId> {
        let dtype = self.dtype(input)?;
        self.tensor(name, shape, dtype, quant)
    }

    #[allow(clippy::too_many_arguments)]
    fn conv_auto(
        &mut self,
        kind: OpKind,
        name: &str,
        input: TensorId,
        filter: TensorId,
        bias: Option<TensorId>,
        o: ConvOptions,
        out: Quant,
    ) -> BuildResult<TensorId> {
        self.atomic(|b| {
            let (xs, fs) = (b.shape(input)?, b.shape(filter)?);
            let (out_c, groups) = if kind == OpKind::DepthwiseConv2d {
                (fs.c, 1)
            } else {
                (fs.n, o.groups)
            };
            let g = ConvGeometry::new(
                xs,
                out_c,
                (fs.h, fs.w),
                o.stride,
                o.dilation,
                o.padding,
                groups,
            )
            .map_err(|e| b.kernel_err(kind, e))?;
            let y = b.new_like(name, input, g.output, out)?;
            b.add_conv_like(kind, input, filter, bias, y, o)?;
            Ok(y)
        })
    }

    /// A convolution whose output is created here; see [`GraphBuilder::add_conv2d`].
    pub fn conv2d(
        &mut self,
        name: &str,
        input: TensorId,
        filter: TensorId,
        bias: Option<TensorId>,
        o: ConvOptions,
        out: Quant,
    ) -> BuildResult<TensorId> {
        self.conv_auto(OpKind::Conv2d, name, input, filter, bias, o, out)
    }

    /// A depthwise convolution whose output is created here; see
    /// [`GraphBuilder::add_depthwise_conv2d`].
    pub fn depthwise_conv2d(
        &mut self,
        name: &str,
        input: TensorId,
        filter: TensorId,
        bias: Option<TensorId>,
        o: ConvOptions,
        out: Quant,
    ) -> BuildResult<TensorId> {
        self.conv_auto(OpKind::DepthwiseConv2d, name, input, filter, bias, o, out)
    }

    /// A fully connected layer with output `(batches, 1, 1, out)`; see
    /// [`GraphBuilder::add_fully_connected`].
    pub fn fully_connected(
        &mut self,
        name: &str,
        input: TensorId,
        weights: TensorId,
        bias: Option<TensorId>,
        activation: FusedActivation,
        out: Quant,
    ) -> BuildResult<TensorId> {
        self.atomic(|b| {
            let (xs, ws) = (b.shape(input)?, b.shape(weights)?);
            let batches = xs.len() / ws.c.max(1);
            let y = b.new_like(name, input, Shape::new(batches.max(1), 1, 1, ws.n), out)?;
            b.add_fully_connected(input, weights, bias, y, activation)?;
            Ok(y)
        })
    }

    fn pool_auto(
        &mut self,
        kind: OpKind,
        name: &str,
        input: TensorId,
        o: PoolOptions,
    ) -> BuildResult<TensorId> {
        self.atomic(|b| {
            let xs = b.shape(input)?;
            let g = ConvGeometry::new(xs, xs.c, o.kernel, o.stride, (1, 1), o.padding, 1)
                .map_err(|e| b.kernel_err(kind, e))?;
            let q = b.quant(input)?;
            let y = b.new_like(name, input, g.output, q)?;
            b.add_pool(kind, input, y, o)?;
            Ok(y)
        })
    }

    /// Max pooling with the input's quantization; see [`GraphBuilder::add_max_pool2d`].
    pub fn max_pool2d(
        &mut self,
        name: &str,
        input: TensorId,
        o: PoolOptions,
    ) -> BuildResult<TensorId> {
        self.pool_auto(OpKind::MaxPool2d, name, input, o)
    }

    /// Average pooling with the input's quantization; see [`GraphBuilder::add_avg_pool2d`].
    pub fn avg_pool2d(
        &mut self,
        name: &str,
        input: TensorId,
        o: PoolOptions,
    ) -> BuildResult<TensorId> {
        self.pool_auto(OpKind::AvgPool2d, name, input, o)
    }

    /// Mean over height and width, output `(n, 1, 1, c)`.
    pub fn mean(&mut self, name: &str, input: TensorId, out: Quant) -> BuildResult<TensorId> {
        self.atomic(|b| {
            let xs = b.shape(input)?;
            let y = b.new_like(name, input, Shape::new(xs.n, 1, 1, xs.c), out)?;
            b.add_mean(input, y)?;
            Ok(y)
        })
    }

    fn binary_auto(
        &mut self,
        kind: OpKind,
        name: &str,
        a: TensorId,
        x: TensorId,
        activation: FusedActivation,
        out: Quant,
    ) -> BuildResult<TensorId> {
        self.atomic(|b| {
            let (sa, sx) = (b.shape(a)?, b.shape(x)?);
            let shape = if sa.len() >= sx.len() { sa } else { sx };
            let y = b.new_like(name, a, shape, out)?;
            b.add_binary(kind, a, x, y, activation)?;
            Ok(y)
        })
    }

    /// Elementwise addition (one operand may be `[1,1,1,C]` or a scalar).
    pub fn add(
        &mut self,
        name: &str,
        a: TensorId,
        b: TensorId,
        activation: FusedActivation,
        out: Quant,
    ) -> BuildResult<TensorId> {
        self.binary_auto(OpKind::Add, name, a, b, activation, out)
    }

    /// Elementwise multiplication (one operand may be `[1,1,1,C]` or a scalar).
    pub fn mul(
        &mut self,
        name: &str,
        a: TensorId,
        b: TensorId,
        activation: FusedActivation,
        out: Quant,
    ) -> BuildResult<TensorId> {
        self.binary_auto(OpKind::Mul, name, a, b, activation, out)
    }

    /// A unary op (`Relu`, `Relu6`, `HardSwish`, `Swish`, ...); see
    /// [`GraphBuilder::add_unary`].
    pub fn unary(
        &mut self,
        name: &str,
        kind: OpKind,
        input: TensorId,
        out: Quant,
    ) -> BuildResult<TensorId> {
        self.atomic(|b| {
            let y = b.new_like(name, input, b.shape(input)?, out)?;
            b.add_unary(kind, input, y)?;
            Ok(y)
        })
    }

    /// Softmax over channels with `beta`; int8 outputs must use TFLite's scale 1/256 and zero
    /// point -128.
    pub fn softmax(
        &mut self,
        name: &str,
        input: TensorId,
        beta: f32,
        out: Quant,
    ) -> BuildResult<TensorId> {
        self.atomic(|b| {
            let y = b.new_like(name, input, b.shape(input)?, out)?;
            b.add_softmax(input, y, beta)?;
            Ok(y)
        })
    }

    /// Concatenation along `axis` with the first input's quantization.
    pub fn concat(
        &mut self,
        name: &str,
        inputs: &[TensorId],
        axis: usize,
    ) -> BuildResult<TensorId> {
        self.atomic(|b| {
            let first = *inputs
                .first()
                .ok_or_else(|| b.op_err(OpKind::Concat, "no inputs"))?;
            let mut d = crate::validate::dims(b.shape(first)?);
            if axis > 3 {
                return Err(b.op_err(OpKind::Concat, "axis must be 0..=3"));
            }
            d[axis] = 0;
            for &t in inputs {
                d[axis] += crate::validate::dims(b.shape(t)?)[axis];
            }
            let q = b.quant(first)?;
            let y = b.new_like(name, first, Shape::new(d[0], d[1], d[2], d[3]), q)?;
            b.add_concat(inputs, y, axis)?;
            Ok(y)
        })
    }

    /// Split along `axis` into parts of `sizes` (named `name/0`, `name/1`, ...).
    pub fn split(
        &mut self,
        name: &str,
        input: TensorId,
        sizes: &[usize],
        axis: usize,
    ) -> BuildResult<Vec<TensorId>> {
        self.atomic(|b| {
            if axis > 3 {
                return Err(b.op_err(OpKind::Split, "axis must be 0..=3"));
            }
            let d = crate::validate::dims(b.shape(input)?);
            let q = b.quant(input)?;
            let mut outs = Vec::new();
            for (i, &s) in sizes.iter().enumerate() {
                let mut p = d;
                p[axis] = s;
                outs.push(b.new_like(
                    &format!("{name}/{i}"),
                    input,
                    Shape::new(p[0], p[1], p[2], p[3]),
                    q,
                )?);
            }
            b.add_split(input, &outs, axis)?;
            Ok(outs)
        })
    }

    /// Channel shuffle with `groups`.
    pub fn channel_shuffle(
        &mut self,
        name: &str,
        input: TensorId,
        groups: usize,
    ) -> BuildResult<TensorId> {
        self.atomic(|b| {
            let (s, q) = (b.shape(input)?, b.quant(input)?);
            let y = b.new_like(name, input, s, q)?;
            b.add_channel_shuffle(input, y, groups)?;
            Ok(y)
        })
    }

    /// Constant padding (int8 pads with the quantized `value`).
    pub fn pad(
        &mut self,
        name: &str,
        input: TensorId,
        before: [usize; 4],
        after: [usize; 4],
        value: f32,
    ) -> BuildResult<TensorId> {
        self.atomic(|b| {
            let d = crate::validate::dims(b.shape(input)?);
            let s = Shape::new(
                d[0] + before[0] + after[0],
                d[1] + before[1] + after[1],
                d[2] + before[2] + after[2],
                d[3] + before[3] + after[3],
            );
            let q = b.quant(input)?;
            let y = b.new_like(name, input, s, q)?;
            b.add_pad(input, y, before, after, value)?;
            Ok(y)
        })
    }

    /// Permutation of the NHWC dimensions.
    pub fn transpose(
        &mut self,
        name: &str,
        input: TensorId,
        perm: [usize; 4],
    ) -> BuildResult<TensorId> {
        self.atomic(|b| {
            let s = bfmd_kernels::movement::transpose::transpose_shape(b.shape(input)?, perm)
                .map_err(|e| b.kernel_err(OpKind::Transpose, e))?;
            let q = b.quant(input)?;
            let y = b.new_like(name, input, s, q)?;
            b.add_transpose(input, y, perm)?;
            Ok(y)
        })
    }

    /// A view of `input` with another shape of the same element count.
    pub fn reshape(&mut self, name: &str, input: TensorId, shape: Shape) -> BuildResult<TensorId> {
        self.atomic(|b| {
            let q = b.quant(input)?;
            let y = b.new_like(name, input, shape, q)?;
            b.add_reshape(input, y)?;
            Ok(y)
        })
    }

    /// `f32` to int8 with quantization `out`.
    pub fn quantize(&mut self, name: &str, input: TensorId, out: Quant) -> BuildResult<TensorId> {
        self.atomic(|b| {
            let y = b.tensor(name, b.shape(input)?, DType::S8, out)?;
            b.add_quantize(input, y)?;
            Ok(y)
        })
    }

    /// int8 to `f32`.
    pub fn dequantize(&mut self, name: &str, input: TensorId) -> BuildResult<TensorId> {
        self.atomic(|b| {
            let y = b.tensor(name, b.shape(input)?, DType::F32, Quant::NONE)?;
            b.add_dequantize(input, y)?;
            Ok(y)
        })
    }
}
