//! The float network description every backbone builder produces: ops with `f32` weights in
//! bfmd's layouts, batch norm already folded, in execution order. [`crate::lower`] turns it
//! into a `bfmd-graph` model in f32, f16 or int8.
//!
//! [`NetBuilder`] is what the block builders call: each method reads the PyTorch tensors of
//! one module by name and shape from [`Weights`], folds the batch norm that follows a
//! convolution, and appends one op.

use crate::error::{Error, Result};
use crate::weights::Weights;
use bfmd_kernels::Shape;

/// A tensor of a [`Net`] (an index into [`Net::tensors`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct T(pub usize);

/// A clamp fused into the op that produces a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// None.
    None,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
}

/// A standalone elementwise activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
    /// `relu6(x + 3) / 6` (PyTorch `Hardsigmoid`).
    HardSigmoid,
    /// `x * relu6(x + 3) / 6` (PyTorch `Hardswish`).
    HardSwish,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `x * sigmoid(x)` (PyTorch `SiLU`).
    Swish,
}

/// A convolution (dense, grouped or depthwise) with batch norm folded in.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    /// Weights OHWI `[out_c, kh, kw, in_c / groups]` (a depthwise convolution has
    /// `in_c / groups == 1`).
    pub weight: Vec<f32>,
    /// Bias of `out_c` values (the folded batch norm's shift, or the convolution's own).
    pub bias: Option<Vec<f32>>,
    /// Input channels.
    pub in_c: usize,
    /// Output channels.
    pub out_c: usize,
    /// `(kh, kw)`.
    pub kernel: (usize, usize),
    /// `(sh, sw)`.
    pub stride: (usize, usize),
    /// `(dh, dw)`.
    pub dilation: (usize, usize),
    /// Padding `[top, bottom, left, right]`.
    pub pad: [usize; 4],
    /// Groups (PyTorch's `groups`).
    pub groups: usize,
    /// Fused clamp.
    pub act: Act,
    /// An elementwise per-channel affine map written as a 1x1 depthwise convolution
    /// (torchvision's `transform_input`): PyTorch computes it with elementwise ops, so it
    /// is not counted in [`Net::macs`].
    pub elementwise: bool,
}

impl Conv {
    /// A depthwise convolution: one group per input channel (channel multiplier
    /// `out_c / in_c`), lowered to `DEPTHWISE_CONV_2D`.
    pub fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.groups == self.in_c
    }
}

/// A fully connected layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    /// Weights `[out, in]`.
    pub weight: Vec<f32>,
    /// Bias of `out` values.
    pub bias: Option<Vec<f32>>,
    /// Input features.
    pub in_f: usize,
    /// Output features.
    pub out_f: usize,
    /// Fused clamp.
    pub act: Act,
}

/// A pooling window with explicit padding (already adjusted for PyTorch's `ceil_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    /// `(kh, kw)`.
    pub kernel: (usize, usize),
    /// `(sh, sw)`.
    pub stride: (usize, usize),
    /// Padding `[top, bottom, left, right]`.
    pub pad: [usize; 4],
    /// Average pooling divides by the whole window, padding included (PyTorch's default).
    pub count_include_pad: bool,
}

/// One op of a [`Net`].
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Convolution.
    Conv(Conv),
    /// Fully connected layer over the flattened input.
    Linear(Linear),
    /// Max pooling.
    MaxPool(Pool),
    /// Average pooling.
    AvgPool(Pool),
    /// Mean over height and width (`AdaptiveAvgPool2d(1)`), output `[1, 1, 1, C]`.
    Mean,
    /// Elementwise sum of two tensors, then a clamp.
    Add(Act),
    /// Input 0 times input 1 broadcast over height and width (the squeeze-and-excitation
    /// gate).
    Mul,
    /// Concatenation along channels.
    Concat,
    /// Split along channels into the outputs' widths.
    Split,
    /// Channel shuffle with this many groups.
    Shuffle(usize),
    /// Elementwise activation.
    Unary(Unary),
}

/// One node: an op, its input and output tensors, and the PyTorch module it comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The PyTorch module path (`features.3.conv.0`), used to name tensors in reports.
    pub name: String,
    /// What it computes.
    pub op: Op,
    /// Inputs.
    pub inputs: Vec<T>,
    /// Outputs.
    pub outputs: Vec<T>,
}

/// A tensor of a [`Net`].
#[derive(Clone, Debug, PartialEq)]
pub struct NetTensor {
    /// Name (the producing module's path).
    pub name: String,
    /// NHWC shape, batch 1.
    pub shape: Shape,
}

/// A float network, batch 1, NHWC.
#[derive(Clone, Debug, PartialEq)]
pub struct Net {
    /// Name of the backbone or block.
    pub name: String,
    /// Every tensor; 0 is the input.
    pub tensors: Vec<NetTensor>,
    /// Ops in execution order.
    pub nodes: Vec<Node>,
    /// The input tensor.
    pub input: T,
    /// The output tensor.
    pub output: T,
    /// Trainable parameters of the PyTorch module (weights, biases, BN affine; not running
    /// statistics), as `sum(p.numel() for p in m.parameters())` counts them.
    pub params: u64,
}

impl Net {
    /// Shape of tensor `t`.
    pub fn shape(&self, t: T) -> Shape {
        self.tensors[t.0].shape
    }

    /// Multiply-accumulates of the convolutions and linear layers, batch 1 (what the
    /// reference manifests and the papers count).
    pub fn macs(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| match &n.op {
                Op::Conv(c) if c.elementwise => 0,
                Op::Conv(c) => {
                    let o = self.shape(n.outputs[0]);
                    (o.h * o.w * c.out_c * c.kernel.0 * c.kernel.1 * (c.in_c / c.groups)) as u64
                }
                Op::Linear(l) => (l.in_f * l.out_f) as u64,
                _ => 0,
            })
            .sum()
    }

    /// Number of weights stored by the lowered model (folded convolutions, linear layers).
    pub fn stored_weights(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| match &n.op {
                Op::Conv(c) => (c.weight.len() + c.bias.as_ref().map_or(0, |b| b.len())) as u64,
                Op::Linear(l) => (l.weight.len() + l.bias.as_ref().map_or(0, |b| b.len())) as u64,
                _ => 0,
            })
            .sum()
    }
}

/// Hyper-parameters of a PyTorch `Conv2d` (weights come from the `state_dict`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    /// Output channels.
    pub out: usize,
    /// `(kh, kw)`.
    pub kernel: (usize, usize),
    /// `(sh, sw)`.
    pub stride: (usize, usize),
    /// PyTorch's symmetric `padding=(ph, pw)`.
    pub padding: (usize, usize),
    /// `(dh, dw)`.
    pub dilation: (usize, usize),
    /// Groups.
    pub groups: usize,
    /// The convolution has its own bias tensor.
    pub bias: bool,
}

impl ConvSpec {
    /// A `k x k` convolution to `out` channels: stride 1, no padding, dense, no bias.
    pub const fn new(out: usize, k: usize) -> Self {
        ConvSpec {
            out,
            kernel: (k, k),
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
            bias: false,
        }
    }

    /// A `kh x kw` window (Inception v3's factorized `1 x n` / `n x 1`).
    pub const fn rect(out: usize, kh: usize, kw: usize) -> Self {
        ConvSpec {
            kernel: (kh, kw),
            ..ConvSpec::new(out, 1)
        }
    }

    /// Stride `s` both ways.
    pub const fn stride(self, s: usize) -> Self {
        ConvSpec {
            stride: (s, s),
            ..self
        }
    }

    /// Padding `p` on every side.
    pub const fn pad(self, p: usize) -> Self {
        ConvSpec {
            padding: (p, p),
            ..self
        }
    }

    /// Padding `ph` rows above and below, `pw` columns left and right.
    pub const fn pad_hw(self, ph: usize, pw: usize) -> Self {
        ConvSpec {
            padding: (ph, pw),
            ..self
        }
    }

    /// PyTorch's usual `padding = (k - 1) / 2 * dilation` (torchvision's
    /// `Conv2dNormActivation` default, timm's symmetric padding for stride 1 and odd `k`).
    pub const fn same(self) -> Self {
        ConvSpec {
            padding: (
                (self.kernel.0 - 1) / 2 * self.dilation.0,
                (self.kernel.1 - 1) / 2 * self.dilation.1,
            ),
            ..self
        }
    }

    /// Groups.
    pub const fn groups(self, g: usize) -> Self {
        ConvSpec { groups: g, ..self }
    }

    /// With (`true`) or without its own bias.
    pub const fn bias(self, b: bool) -> Self {
        ConvSpec { bias: b, ..self }
    }

    /// Dilation `d` both ways (the seed's "Inception convolution" uses per-layer dilations).
    pub const fn dilation(self, d: usize) -> Self {
        ConvSpec {
            dilation: (d, d),
            ..self
        }
    }
}

/// A batch norm after a convolution: its module path and the `eps` the PyTorch definition
/// gives it (the weights may say otherwise, see [`Weights::bn_eps`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bn<'a> {
    /// Module path (`features.0.1`).
    pub name: &'a str,
    /// `eps` of the definition.
    pub eps: f64,
}

/// PyTorch's default `BatchNorm2d` epsilon.
pub const BN_EPS: f64 = 1e-5;

impl<'a> Bn<'a> {
    /// Module `name` with PyTorch's default `eps` (1e-5).
    pub const fn new(name: &'a str) -> Self {
        Bn { name, eps: BN_EPS }
    }

    /// Module `name` with the `eps` its definition writes.
    pub const fn eps(name: &'a str, eps: f64) -> Self {
        Bn { name, eps }
    }
}

/// Builds a [`Net`] op by op, reading weights as it goes.
pub struct NetBuilder<'w> {
    net: Net,
    w: &'w mut Weights,
}

/// Output size and `[before, after]` padding of one axis of a PyTorch pooling window
/// (`torch/nn/functional.py` `max_pool2d`, ATen `pooling_output_shape`): with `ceil_mode` the
/// last window may hang over the end, but must start inside the input or its left padding;
/// the extra rows become bottom/right padding, which max pooling ignores.
pub fn torch_pool_axis(
    input: usize,
    k: usize,
    s: usize,
    p: usize,
    ceil_mode: bool,
) -> Result<(usize, usize, usize)> {
    if s == 0 || k == 0 || 2 * p > k || input + 2 * p < k {
        return Err(Error::Config(format!(
            "pool window {k} stride {s} padding {p} does not fit an input of {input}"
        )));
    }
    let span = input + 2 * p - k;
    let mut out = if ceil_mode {
        span.div_ceil(s) + 1
    } else {
        span / s + 1
    };
    if ceil_mode && (out - 1) * s >= input + p {
        out -= 1;
    }
    let after = ((out - 1) * s + k).saturating_sub(input + p).max(p);
    Ok((out, p, after))
}

impl<'w> NetBuilder<'w> {
    /// A network named `name` with an NHWC input of `shape` (batch 1); returns the input.
    pub fn new(name: &str, shape: Shape, w: &'w mut Weights) -> (Self, T) {
        let net = Net {
            name: name.to_string(),
            tensors: vec![NetTensor {
                name: "input".to_string(),
                shape,
            }],
            nodes: Vec::new(),
            input: T(0),
            output: T(0),
            params: 0,
        };
        (NetBuilder { net, w }, T(0))
    }

    /// Shape of tensor `t`.
    pub fn shape(&self, t: T) -> Shape {
        self.net.tensors[t.0].shape
    }

    /// Channels of tensor `t`.
    pub fn channels(&self, t: T) -> usize {
        self.shape(t).c
    }

    /// The weights being read.
    pub fn weights(&mut self) -> &mut Weights {
        self.w
    }

    fn push(&mut self, name: &str, op: Op, inputs: Vec<T>, shapes: &[Shape]) -> Vec<T> {
        let mut outs = Vec::with_capacity(shapes.len());
        for (k, &s) in shapes.iter().enumerate() {
            let tname = if shapes.len() == 1 {
                name.to_string()
            } else {
                format!("{name}:{k}")
            };
            self.net.tensors.push(NetTensor {
                name: tname,
                shape: s,
            });
            outs.push(T(self.net.tensors.len() - 1));
        }
        self.net.nodes.push(Node {
            name: name.to_string(),
            op,
            inputs,
            outputs: outs.clone(),
        });
        outs
    }

    fn param(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let v = self.w.tensor(name, shape)?;
        self.net.params += v.len() as u64;
        Ok(v)
    }

    fn buffer(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        self.w.tensor(name, shape)
    }

    /// Batch-norm scale and shift of `c` channels: `y = x * scale + shift` with
    /// `scale = gamma / sqrt(var + eps)`, `shift = beta - mean * scale`, in f64.
    fn bn_affine(&mut self, bn: Bn<'_>, c: usize) -> Result<(Vec<f64>, Vec<f64>)> {
        let gamma = self.param(&format!("{}.weight", bn.name), &[c])?;
        let beta = self.param(&format!("{}.bias", bn.name), &[c])?;
        let mean = self.buffer(&format!("{}.running_mean", bn.name), &[c])?;
        let var = self.buffer(&format!("{}.running_var", bn.name), &[c])?;
        let eps = self.w.bn_eps(bn.name, bn.eps);
        let scale: Vec<f64> = (0..c)
            .map(|i| gamma[i] as f64 / (var[i] as f64 + eps).sqrt())
            .collect();
        let shift = (0..c)
            .map(|i| beta[i] as f64 - mean[i] as f64 * scale[i])
            .collect();
        Ok((scale, shift))
    }

    /// `Conv2d` module `name` (weights `name.weight`, OIHW), optionally followed by the
    /// `BatchNorm2d` `bn` (folded: `w' = w * scale`, `b' = (b - mean) * scale + beta`) and a
    /// clamp. The output tensor is named after the convolution.
    pub fn conv(
        &mut self,
        x: T,
        name: &str,
        spec: ConvSpec,
        bn: Option<Bn<'_>>,
        act: Act,
    ) -> Result<T> {
        let xs = self.shape(x);
        let in_c = xs.c;
        let g = spec.groups;
        if g == 0 || in_c % g != 0 || spec.out % g != 0 {
            return Err(Error::Config(format!(
                "{name}: groups {g} must divide {in_c} input and {} output channels",
                spec.out
            )));
        }
        let (kh, kw) = spec.kernel;
        let cg = in_c / g;
        let oihw = self.param(&format!("{name}.weight"), &[spec.out, cg, kh, kw])?;
        let own_bias = if spec.bias {
            Some(self.param(&format!("{name}.bias"), &[spec.out])?)
        } else {
            None
        };
        let out_h = conv_out(xs.h, kh, spec.stride.0, spec.padding.0, spec.dilation.0)
            .ok_or_else(|| Error::Config(format!("{name}: the window does not fit the input")))?;
        let out_w = conv_out(xs.w, kw, spec.stride.1, spec.padding.1, spec.dilation.1)
            .ok_or_else(|| Error::Config(format!("{name}: the window does not fit the input")))?;
        let (scale, shift) = match bn {
            Some(b) => {
                let (s, t) = self.bn_affine(b, spec.out)?;
                (Some(s), Some(t))
            }
            None => (None, None),
        };
        // OIHW -> OHWI, scaled by the folded batch norm.
        let mut weight = vec![0f32; oihw.len()];
        for o in 0..spec.out {
            let s = scale.as_ref().map_or(1.0, |s| s[o]);
            for i in 0..cg {
                for y in 0..kh {
                    for xx in 0..kw {
                        let v = oihw[((o * cg + i) * kh + y) * kw + xx] as f64;
                        weight[((o * kh + y) * kw + xx) * cg + i] = (v * s) as f32;
                    }
                }
            }
        }
        let bias = match (&own_bias, &scale, &shift) {
            (b, Some(s), Some(t)) => Some(
                (0..spec.out)
                    .map(|o| (b.as_ref().map_or(0.0, |b| b[o] as f64) * s[o] + t[o]) as f32)
                    .collect(),
            ),
            (b, _, _) => b.clone(),
        };
        let conv = Conv {
            weight,
            bias,
            in_c,
            out_c: spec.out,
            kernel: spec.kernel,
            stride: spec.stride,
            dilation: spec.dilation,
            pad: [
                spec.padding.0,
                spec.padding.0,
                spec.padding.1,
                spec.padding.1,
            ],
            groups: g,
            act,
            elementwise: false,
        };
        Ok(self.push(
            name,
            Op::Conv(conv),
            vec![x],
            &[Shape::new(1, out_h, out_w, spec.out)],
        )[0])
    }

    /// A `Conv2d` at `{prefix}.{i}` followed by its `BatchNorm2d` at `{prefix}.{i + 1}` with
    /// `eps`: the usual layout of an `nn.Sequential` block.
    pub fn seq_conv_bn(
        &mut self,
        x: T,
        prefix: &str,
        i: usize,
        spec: ConvSpec,
        eps: f64,
        act: Act,
    ) -> Result<T> {
        let (c, b) = (
            join(prefix, &i.to_string()),
            join(prefix, &(i + 1).to_string()),
        );
        self.conv(x, &c, spec, Some(Bn::eps(&b, eps)), act)
    }

    /// `y + x` when `shortcut` (an identity shortcut at `{prefix}.add`), else `y`.
    pub fn residual(&mut self, y: T, x: T, prefix: &str, shortcut: bool) -> Result<T> {
        if shortcut {
            self.add(y, x, &join(prefix, "add"), Act::None)
        } else {
            Ok(y)
        }
    }

    /// An elementwise per-channel affine map `y = x * scale + shift` as a 1x1 depthwise
    /// convolution (torchvision's `transform_input`), named `name`.
    pub fn channel_affine(&mut self, x: T, name: &str, scale: &[f32], shift: &[f32]) -> T {
        let c = self.channels(x);
        let conv = Conv {
            weight: scale.to_vec(),
            bias: Some(shift.to_vec()),
            in_c: c,
            out_c: c,
            kernel: (1, 1),
            stride: (1, 1),
            dilation: (1, 1),
            pad: [0; 4],
            groups: c,
            act: Act::None,
            elementwise: true,
        };
        let s = self.shape(x);
        self.push(name, Op::Conv(conv), vec![x], &[s])[0]
    }

    /// `Linear` module `name` (`[out, in]` weights, with bias when `bias`) over the flattened
    /// input.
    pub fn linear(&mut self, x: T, name: &str, out: usize, bias: bool, act: Act) -> Result<T> {
        let in_f = self.shape(x).len();
        let weight = self.param(&format!("{name}.weight"), &[out, in_f])?;
        let bias = if bias {
            Some(self.param(&format!("{name}.bias"), &[out])?)
        } else {
            None
        };
        let l = Linear {
            weight,
            bias,
            in_f,
            out_f: out,
            act,
        };
        Ok(self.push(name, Op::Linear(l), vec![x], &[Shape::new(1, 1, 1, out)])[0])
    }

    /// A `k x k` pooling window with PyTorch's padding and output size; `avg` chooses the
    /// op, `flag` is `ceil_mode` for max pooling and `count_include_pad` for averages.
    #[allow(clippy::too_many_arguments)]
    fn pool(
        &mut self,
        x: T,
        name: &str,
        avg: bool,
        k: usize,
        s: usize,
        p: usize,
        flag: bool,
    ) -> Result<T> {
        let xs = self.shape(x);
        let ceil_mode = flag && !avg;
        let (oh, t, b) = torch_pool_axis(xs.h, k, s, p, ceil_mode)?;
        let (ow, l, r) = torch_pool_axis(xs.w, k, s, p, ceil_mode)?;
        let pool = Pool {
            kernel: (k, k),
            stride: (s, s),
            pad: [t, b, l, r],
            count_include_pad: flag && avg,
        };
        let op = if avg {
            Op::AvgPool(pool)
        } else {
            Op::MaxPool(pool)
        };
        Ok(self.push(name, op, vec![x], &[Shape::new(1, oh, ow, xs.c)])[0])
    }

    /// `MaxPool2d(k, s, p, ceil_mode)`.
    pub fn max_pool(
        &mut self,
        x: T,
        name: &str,
        k: usize,
        s: usize,
        p: usize,
        ceil_mode: bool,
    ) -> Result<T> {
        self.pool(x, name, false, k, s, p, ceil_mode)
    }

    /// `AvgPool2d(k, s, p)` (`ceil_mode=False`), `count_include_pad` as given (PyTorch's
    /// default is `true`).
    pub fn avg_pool(
        &mut self,
        x: T,
        name: &str,
        k: usize,
        s: usize,
        p: usize,
        count_include_pad: bool,
    ) -> Result<T> {
        self.pool(x, name, true, k, s, p, count_include_pad)
    }

    /// `AdaptiveAvgPool2d(1)`: the mean over height and width.
    pub fn mean(&mut self, x: T, name: &str) -> T {
        let c = self.channels(x);
        self.push(name, Op::Mean, vec![x], &[Shape::new(1, 1, 1, c)])[0]
    }

    /// `a + b`, then a clamp.
    pub fn add(&mut self, a: T, b: T, name: &str, act: Act) -> Result<T> {
        let s = self.shape(a);
        if self.shape(b) != s {
            return Err(Error::Config(format!(
                "{name}: adding {:?} to {:?}",
                self.shape(b),
                s
            )));
        }
        Ok(self.push(name, Op::Add(act), vec![a, b], &[s])[0])
    }

    /// `x * gate` with `gate` of shape `[1, 1, 1, C]`.
    pub fn mul(&mut self, x: T, gate: T, name: &str) -> Result<T> {
        let s = self.shape(x);
        if self.shape(gate) != Shape::new(1, 1, 1, s.c) {
            return Err(Error::Config(format!(
                "{name}: the gate must be [1, 1, 1, {}]",
                s.c
            )));
        }
        Ok(self.push(name, Op::Mul, vec![x, gate], &[s])[0])
    }

    /// `torch.cat(xs, dim=1)`.
    pub fn concat(&mut self, xs: &[T], name: &str) -> Result<T> {
        let s0 = self.shape(xs[0]);
        let mut c = 0;
        for &x in xs {
            let s = self.shape(x);
            if (s.h, s.w) != (s0.h, s0.w) {
                return Err(Error::Config(format!(
                    "{name}: concatenating {s:?} with {s0:?}"
                )));
            }
            c += s.c;
        }
        Ok(self.push(
            name,
            Op::Concat,
            xs.to_vec(),
            &[Shape::new(1, s0.h, s0.w, c)],
        )[0])
    }

    /// `torch.split(x, sizes, dim=1)`.
    pub fn split(&mut self, x: T, sizes: &[usize], name: &str) -> Result<Vec<T>> {
        let s = self.shape(x);
        if sizes.iter().sum::<usize>() != s.c {
            return Err(Error::Config(format!(
                "{name}: split sizes {sizes:?} do not add up to {}",
                s.c
            )));
        }
        let shapes: Vec<Shape> = sizes.iter().map(|&c| Shape::new(1, s.h, s.w, c)).collect();
        Ok(self.push(name, Op::Split, vec![x], &shapes))
    }

    /// ShuffleNet's channel shuffle (`view(g, c/g) -> transpose -> view`).
    pub fn shuffle(&mut self, x: T, groups: usize, name: &str) -> Result<T> {
        let s = self.shape(x);
        if groups == 0 || s.c % groups != 0 {
            return Err(Error::Config(format!(
                "{name}: {groups} groups do not divide {} channels",
                s.c
            )));
        }
        Ok(self.push(name, Op::Shuffle(groups), vec![x], &[s])[0])
    }

    /// An elementwise activation.
    pub fn unary(&mut self, x: T, u: Unary, name: &str) -> T {
        let s = self.shape(x);
        self.push(name, Op::Unary(u), vec![x], &[s])[0]
    }

    /// Ends the network at `output`; fails when the weights hold tensors no module read (the
    /// weights belong to another configuration).
    pub fn finish(mut self, output: T) -> Result<Net> {
        let unused = self.w.unused();
        if !unused.is_empty() {
            return Err(Error::UnusedTensors(unused));
        }
        self.net.output = output;
        Ok(self.net)
    }
}

/// `prefix.name`, or `name` for an empty prefix: a PyTorch module path.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// PyTorch's convolution output size, `None` when the window does not fit.
fn conv_out(input: usize, k: usize, s: usize, p: usize, d: usize) -> Option<usize> {
    let dk = d * (k - 1) + 1;
    let padded = input + 2 * p;
    if s == 0 || padded < dk {
        return None;
    }
    Some((padded - dk) / s + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_axis_follows_torch() {
        // torchvision GoogLeNet: MaxPool2d(3, 2, ceil_mode=True) on 112 -> 56, on 56 -> 28,
        // on 14 -> 7 (ATen pooling_output_shape); floor mode gives 55 on 112.
        assert_eq!(torch_pool_axis(112, 3, 2, 0, true).unwrap(), (56, 0, 1));
        assert_eq!(torch_pool_axis(112, 3, 2, 0, false).unwrap(), (55, 0, 0));
        assert_eq!(torch_pool_axis(14, 3, 2, 0, true).unwrap(), (7, 0, 1));
        // GoogLeNet's 2x2 pool before stage 5 with ceil_mode: 14 -> 7, no extra padding.
        assert_eq!(torch_pool_axis(14, 2, 2, 0, true).unwrap(), (7, 0, 0));
        // A ceil window that would start in the right padding is dropped: 5 with k 2, s 2,
        // p 1 gives ceil(5/2) + 1 = 4 windows; the 4th starts at 6 >= 5 + 1, so 3.
        assert_eq!(torch_pool_axis(5, 2, 2, 1, true).unwrap(), (3, 1, 1));
        assert_eq!(torch_pool_axis(7, 3, 1, 1, false).unwrap(), (7, 1, 1));
        assert!(torch_pool_axis(2, 3, 1, 0, false).is_err());
    }

    #[test]
    fn conv_folds_batch_norm_with_its_eps() {
        let mut t = std::collections::HashMap::new();
        let w = |shape: Vec<usize>, data: Vec<f32>| crate::weights::Tensor { shape, data };
        // A 1x1 convolution 1 -> 2 channels with bias, then BN with eps 8 (the seed quirk).
        t.insert("c.weight".into(), w(vec![2, 1, 1, 1], vec![2.0, -1.0]));
        t.insert("c.bias".into(), w(vec![2], vec![1.0, 0.5]));
        t.insert("b.weight".into(), w(vec![2], vec![3.0, 1.0]));
        t.insert("b.bias".into(), w(vec![2], vec![0.25, -0.5]));
        t.insert("b.running_mean".into(), w(vec![2], vec![1.0, 2.0]));
        t.insert("b.running_var".into(), w(vec![2], vec![8.0, 1.0]));
        let mut ws = Weights::from_tensors(t);
        ws.set_bn_eps("b", 8.0);
        let (mut nb, x) = NetBuilder::new("t", Shape::new(1, 1, 1, 1), &mut ws);
        let spec = ConvSpec::new(2, 1).bias(true);
        let y = nb
            .conv(
                x,
                "c",
                spec,
                Some(Bn {
                    name: "b",
                    eps: BN_EPS,
                }),
                Act::None,
            )
            .unwrap();
        let net = nb.finish(y).unwrap();
        let Op::Conv(c) = &net.nodes[0].op else {
            panic!("expected a convolution")
        };
        // Channel 0: scale = 3 / sqrt(8 + 8) = 0.75; w = 1.5; b = (1 - 1) * 0.75 + 0.25.
        // Channel 1: scale = 1 / sqrt(1 + 8) = 1/3; w = -1/3; b = (0.5 - 2) / 3 - 0.5 = -1.
        assert_eq!(c.weight, vec![1.5, (-1.0f64 / 3.0) as f32]);
        assert_eq!(c.bias.as_deref(), Some(&[0.25f32, -1.0][..]));
        assert_eq!(net.params, 2 + 2 + 2 + 2);
    }
}
