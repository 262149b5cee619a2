//! Per-op checks run once by [`Model::parse`]: tensor indices, dtypes, shapes and parameters
//! consistent with the op kind, and a memory plan that cannot make an op read or write outside
//! its own buffers (outputs never overlap inputs unless the recorded variant allows exactly that
//! overlap).

use crate::error::{GraphError, Result};
use crate::format::{Model, OpRecord, Region, TensorInfo, MAX_OP_INPUTS, MAX_OP_OUTPUTS};
use crate::ops::{self, param_words, DType, OpKind, TensorKind, Variant};
use crate::opset::Linked;

/// Whether the program's kernel set `L` (in scope) holds any kernel of one of the kinds: a
/// constant, so the checks of kinds a firmware does not link are not compiled into it.
macro_rules! linked {
    ($($kind:ident),+) => {
        const { false $(|| L::OPS.has_kind(OpKind::$kind))+ }
    };
}
use bfmd_kernels::{ConvGeometry, Shape};

/// Arena offset (in elements) at which `Overlapping` 1x1 convolution places its output, given
/// its input at `in_off`: the output is written pixel by pixel with the current input pixel
/// copied to scratch first, so output pixel `p` may only cover input pixels `<= p`. With
/// `out_c <= in_c` the output can start where the input starts; with `out_c > in_c` it must start
/// `(pixels - 1) * (out_c - in_c)` elements lower. `None` when that would be below 0.
pub const fn overlap_output_offset(
    in_off: usize,
    pixels: usize,
    in_c: usize,
    out_c: usize,
) -> Option<usize> {
    if out_c <= in_c {
        return Some(in_off);
    }
    let shift = pixels.saturating_sub(1).saturating_mul(out_c - in_c);
    in_off.checked_sub(shift)
}

struct Ctx<'m, 'a> {
    m: &'m Model<'a>,
    op: &'m OpRecord<'a>,
}

impl Ctx<'_, '_> {
    fn err(&self, what: &'static str) -> GraphError {
        GraphError::op(self.op.index, self.op.kind, what)
    }

    fn err_t(&self, t: usize, what: &'static str) -> GraphError {
        GraphError::op_tensor(self.op.index, self.op.kind, t, what)
    }

    fn ensure(&self, cond: bool, what: &'static str) -> Result<()> {
        if cond {
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn info(&self, t: usize) -> Result<TensorInfo> {
        self.m
            .tensor(t)
            .ok_or(self.err_t(t, "tensor index out of range"))
    }

    /// Required input `i`.
    fn input(&self, i: usize) -> Result<(usize, TensorInfo)> {
        let t = self
            .op
            .input(i)
            .ok_or(self.err("a required input is absent"))?;
        Ok((t, self.info(t)?))
    }

    /// Optional input `i`.
    fn opt_input(&self, i: usize) -> Result<Option<(usize, TensorInfo)>> {
        match self.op.input(i) {
            None => Ok(None),
            Some(t) => Ok(Some((t, self.info(t)?))),
        }
    }

    fn output(&self, i: usize) -> Result<(usize, TensorInfo)> {
        let t = self.op.output(i);
        Ok((t, self.info(t)?))
    }

    /// Checks a one-input, one-output op and returns its input, of the op's dtype.
    fn single_input(&self, dtype: DType) -> Result<(usize, TensorInfo)> {
        self.counts(1, 1)?;
        let x = self.input(0)?;
        self.same_dtype(x, dtype)?;
        Ok(x)
    }

    fn counts(&self, n_in: usize, n_out: usize) -> Result<()> {
        self.ensure(self.op.num_inputs() == n_in, "wrong number of inputs")?;
        self.ensure(self.op.num_outputs() == n_out, "wrong number of outputs")
    }

    fn constant(&self, (t, info): (usize, TensorInfo), dtype: DType, len: usize) -> Result<()> {
        if info.kind != TensorKind::Constant {
            return Err(self.err_t(t, "must be a constant"));
        }
        if info.dtype != dtype {
            return Err(self.err_t(t, "constant has the wrong dtype"));
        }
        if info.len() != len {
            return Err(self.err_t(t, "constant has the wrong number of elements"));
        }
        Ok(())
    }

    fn same_dtype(&self, (t, info): (usize, TensorInfo), dtype: DType) -> Result<()> {
        if info.dtype != dtype {
            return Err(self.err_t(t, "dtype differs from the op's dtype"));
        }
        Ok(())
    }

    fn same_shape(&self, (t, info): (usize, TensorInfo), shape: Shape) -> Result<()> {
        if info.shape != shape {
            return Err(self.err_t(t, "shape differs from the one the op implies"));
        }
        Ok(())
    }

    fn kernel(&self, r: bfmd_kernels::Result<()>) -> Result<()> {
        r.map_err(|error| GraphError::Kernel {
            op: self.op.index,
            kind: self.op.kind,
            error,
        })
    }
}

/// Window geometry recorded in a convolution op.
pub(crate) fn conv_geometry(op: &OpRecord<'_>, input: Shape, output: Shape) -> ConvGeometry {
    use ops::conv::*;
    ConvGeometry {
        input,
        output,
        kernel_h: op.param_usize(KERNEL_H),
        kernel_w: op.param_usize(KERNEL_W),
        stride_h: op.param_usize(STRIDE_H),
        stride_w: op.param_usize(STRIDE_W),
        dilation_h: op.param_usize(DILATION_H),
        dilation_w: op.param_usize(DILATION_W),
        pad_top: op.param_usize(PAD_TOP),
        pad_bottom: op.param_usize(PAD_BOTTOM),
        pad_left: op.param_usize(PAD_LEFT),
        pad_right: op.param_usize(PAD_RIGHT),
        groups: match op.kind {
            OpKind::Conv2d => op.param_usize(GROUPS),
            _ => 1,
        },
    }
}

/// Window geometry recorded in a pooling op.
pub(crate) fn pool_geometry(op: &OpRecord<'_>, input: Shape, output: Shape) -> ConvGeometry {
    use ops::pool::*;
    ConvGeometry {
        input,
        output,
        kernel_h: op.param_usize(KERNEL_H),
        kernel_w: op.param_usize(KERNEL_W),
        stride_h: op.param_usize(STRIDE_H),
        stride_w: op.param_usize(STRIDE_W),
        dilation_h: 1,
        dilation_w: 1,
        pad_top: op.param_usize(PAD_TOP),
        pad_bottom: op.param_usize(PAD_BOTTOM),
        pad_left: op.param_usize(PAD_LEFT),
        pad_right: op.param_usize(PAD_RIGHT),
        groups: 1,
    }
}

/// Largest window parameter or spatial size a model may record. Real networks stay far below;
/// the bound keeps the window arithmetic of `ConvGeometry::validate` from overflowing a 32-bit
/// `usize` on hostile blobs.
const MAX_WINDOW: usize = 0xFFFF;

fn check_window(c: &Ctx<'_, '_>, g: &ConvGeometry) -> Result<()> {
    let all = [
        g.kernel_h,
        g.kernel_w,
        g.stride_h,
        g.stride_w,
        g.dilation_h,
        g.dilation_w,
        g.pad_top,
        g.pad_bottom,
        g.pad_left,
        g.pad_right,
        g.input.h,
        g.input.w,
    ];
    c.ensure(
        all.iter().all(|&v| v <= MAX_WINDOW),
        "window parameter or spatial size above 65535",
    )
}

/// NHWC dimensions as an array.
pub(crate) fn dims(s: Shape) -> [usize; 4] {
    [s.n, s.h, s.w, s.c]
}

/// The dtype an op is quantized in (its input's, or for `Quantize` its output's), used to pick
/// its parameter layout.
fn op_dtype(c: &Ctx<'_, '_>) -> Result<DType> {
    let (_, out) = c.output(0)?;
    Ok(match c.op.kind {
        OpKind::Quantize => out.dtype,
        OpKind::Dequantize => c.input(0)?.1.dtype,
        _ => out.dtype,
    })
}

/// Checks one op record against its kind, its tensors and the memory plan; returns its work
/// ([`op_work`]). Only the checks of the kinds `L` links are compiled.
pub(crate) fn check_op<L: Linked>(m: &Model<'_>, op: &OpRecord<'_>) -> Result<u64> {
    let c = Ctx { m, op };
    c.ensure(op.num_inputs() <= MAX_OP_INPUTS, "too many inputs")?;
    c.ensure(
        (1..=MAX_OP_OUTPUTS).contains(&op.num_outputs()),
        "needs 1..=16 outputs",
    )?;
    for i in 0..op.num_outputs() {
        let (t, info) = c.output(i)?;
        if info.kind != TensorKind::Activation {
            return Err(c.err_t(t, "an output must be an activation tensor"));
        }
    }
    for i in 0..op.num_inputs() {
        if let Some(t) = op.input(i) {
            c.info(t)?;
        }
    }
    let dtype = op_dtype(&c)?;
    c.ensure(
        op.num_params() == param_words(op.kind, dtype),
        "wrong number of parameter words for this kind and dtype",
    )?;
    check_kind::<L>(&c, dtype)?;
    check_params::<L>(&c, dtype)?;
    check_memory(&c)?;
    op_work(&c)
}

/// The work of a checked op, from its geometry: multiply-accumulates of a convolution or a
/// fully connected layer, window taps of a pooling, and for every other op the elements it
/// reads and writes. Saturating: a hostile geometry cannot wrap it below a limit.
fn op_work(c: &Ctx<'_, '_>) -> Result<u64> {
    let op = c.op;
    let n = |v: usize| v as u64;
    let (x, y) = (c.input(0)?.1.shape, c.output(0)?.1.shape);
    let window = |kh: usize, kw: usize| n(y.len()).saturating_mul(n(kh).saturating_mul(n(kw)));
    Ok(match op.kind {
        OpKind::Conv2d => {
            let g = conv_geometry(op, x, y);
            window(g.kernel_h, g.kernel_w).saturating_mul(n(x.c / g.groups.max(1)))
        }
        OpKind::DepthwiseConv2d => {
            let g = conv_geometry(op, x, y);
            window(g.kernel_h, g.kernel_w)
        }
        OpKind::FullyConnected => {
            let w = c.input(1)?.1;
            let (_, in_f, _) = ops::fc::dims(op_dtype(c)?, w.dtype, w.shape);
            n(y.len()).saturating_mul(n(in_f))
        }
        OpKind::MaxPool2d | OpKind::AvgPool2d => {
            let g = pool_geometry(op, x, y);
            window(g.kernel_h, g.kernel_w)
        }
        _ => {
            let mut sum = 0u64;
            for i in 0..op.num_inputs() {
                if let Some(t) = op.input(i) {
                    sum = sum.saturating_add(n(c.info(t)?.len()));
                }
            }
            for k in 0..op.num_outputs() {
                sum = sum.saturating_add(n(c.output(k)?.1.len()));
            }
            sum
        }
    })
}

fn check_kind<L: Linked>(c: &Ctx<'_, '_>, dtype: DType) -> Result<()> {
    let op = c.op;
    let s8 = dtype == DType::S8;
    match op.kind {
        OpKind::Conv2d | OpKind::DepthwiseConv2d if linked!(Conv2d, DepthwiseConv2d) => {
            c.counts(if s8 { 5 } else { 3 }, 1)?;
            let x = c.input(0)?;
            let y = c.output(0)?;
            c.same_dtype(x, dtype)?;
            let (xi, yi) = (x.1.shape, y.1.shape);
            let g = conv_geometry(op, xi, yi);
            let groups = op.param_usize(ops::conv::GROUPS);
            let filter = if op.kind == OpKind::Conv2d {
                c.ensure(groups >= 1, "groups must be >= 1")?;
                c.ensure(
                    xi.c % groups == 0 && yi.c % groups == 0,
                    "channels not divisible by groups",
                )?;
                Shape::new(yi.c, g.kernel_h, g.kernel_w, xi.c / groups)
            } else {
                c.ensure(
                    groups >= 1 && xi.c.checked_mul(groups) == Some(yi.c),
                    "output channels must be input channels times the multiplier",
                )?;
                Shape::new(1, g.kernel_h, g.kernel_w, yi.c)
            };
            check_window(c, &g)?;
            c.kernel(g.validate())?;
            let f = c.input(1)?;
            c.constant(f, dtype, filter.len())?;
            c.same_shape(f, filter)?;
            if let Some(b) = c.opt_input(2)? {
                c.constant(b, ops::bias_dtype(dtype), yi.c)?;
            }
            if s8 {
                c.constant(c.input(3)?, DType::I32, yi.c)?;
                c.constant(c.input(4)?, DType::I32, yi.c)?;
                check_conv_scratch(c, &g)?;
            }
        }
        OpKind::FullyConnected if linked!(FullyConnected) => {
            c.counts(if s8 { 5 } else { 3 }, 1)?;
            let x = c.input(0)?;
            let (wt, w) = c.input(1)?;
            let y = c.output(0)?;
            c.same_dtype(x, dtype)?;
            c.ensure(
                w.shape.h == 1 && w.shape.w == 1,
                "weights must be [out, in]",
            )?;
            // Packed int16 pairs: every lane must hold an int8 value.
            let (out_f, in_f, wide) = ops::fc::dims(dtype, w.dtype, w.shape);
            if wide {
                c.constant((wt, w), DType::I32, w.len())?;
                c.ensure(in_f % 4 == 0, "packed weights need rows of a multiple of 4")?;
                c.ensure(
                    bfmd_kernels::s8::fully_connected::fully_connected_s8_wide_valid(
                        c.m.constant_as::<i32>(wt)?,
                    ),
                    "packed weights hold a value outside int8",
                )?;
            } else {
                c.constant((wt, w), dtype, out_f * in_f)?;
            }
            c.ensure(in_f > 0, "weights have no in features")?;
            c.ensure(
                x.1.len() % in_f == 0,
                "input length not a multiple of in features",
            )?;
            c.ensure(
                (x.1.len() / in_f).checked_mul(out_f) == Some(y.1.len()),
                "output length must be batches x out features",
            )?;
            if let Some(b) = c.opt_input(2)? {
                c.constant(b, ops::bias_dtype(dtype), out_f)?;
            }
            if s8 {
                let (mt, mi) = c.input(3)?;
                let n = if mi.len() == 1 { 1 } else { out_f };
                c.constant((mt, mi), DType::I32, n)?;
                c.constant(c.input(4)?, DType::I32, n)?;
                // The kernels of this build refuse a shorter scratch at run time.
                use bfmd_kernels::reference::fully_connected::FullyConnectedGeometry;
                use bfmd_kernels::s8::fully_connected as fc;
                let g = FullyConnectedGeometry::new(x.1.len() / in_f, in_f, out_f);
                let need = if wide {
                    fc::fully_connected_s8_wide_scratch_len(&g)
                } else {
                    fc::fully_connected_s8_scratch_len(&g)
                };
                c.ensure(
                    op.scratch.len >= need,
                    "scratch shorter than the kernel needs",
                )?;
            }
        }
        OpKind::MaxPool2d | OpKind::AvgPool2d if linked!(MaxPool2d, AvgPool2d) => {
            c.counts(1, 1)?;
            let x = c.input(0)?;
            let y = c.output(0)?;
            c.same_dtype(x, dtype)?;
            c.ensure(
                x.1.shape.c == y.1.shape.c,
                "pooling keeps the channel count",
            )?;
            let g = pool_geometry(op, x.1.shape, y.1.shape);
            check_window(c, &g)?;
            // The kernels' own check (every window overlaps the input, the area bound), for
            // every dtype: the int8 parameters run it too, the float ones did not.
            c.kernel(bfmd_kernels::reference::pool::check_pool_geometry(&g))?;
        }
        OpKind::Mean if linked!(Mean) => {
            let x = c.single_input(dtype)?;
            let s = x.1.shape;
            c.same_shape(c.output(0)?, Shape::new(s.n, 1, 1, s.c))?;
        }
        OpKind::Add | OpKind::Mul | OpKind::Sub if linked!(Add, Mul, Sub) => {
            c.counts(2, 1)?;
            let (a, b, y) = (c.input(0)?, c.input(1)?, c.output(0)?);
            c.same_dtype(a, dtype)?;
            c.same_dtype(b, dtype)?;
            let ys = y.1.shape;
            let fits = |s: Shape| s == ys || s == Shape::new(1, 1, 1, ys.c) || s.len() == 1;
            c.ensure(
                (a.1.shape == ys && fits(b.1.shape)) || (b.1.shape == ys && fits(a.1.shape)),
                "operands must match the output or broadcast as [1,1,1,C] or a scalar",
            )?;
        }
        OpKind::Concat | OpKind::Split if linked!(Concat, Split) => {
            let axis = op.param_usize(ops::axis::AXIS);
            c.ensure(axis < 4, "axis must be 0..=3")?;
            let (many, one, n) = if op.kind == OpKind::Concat {
                c.ensure(op.num_outputs() == 1, "concat has one output")?;
                c.ensure(op.num_inputs() >= 1, "concat needs inputs")?;
                (true, c.output(0)?, op.num_inputs())
            } else {
                c.ensure(op.num_inputs() == 1, "split has one input")?;
                (false, c.input(0)?, op.num_outputs())
            };
            c.same_dtype(one, dtype)?;
            let total = dims(one.1.shape);
            let mut sum = 0usize;
            for i in 0..n {
                let part = if many { c.input(i)? } else { c.output(i)? };
                c.same_dtype(part, dtype)?;
                let d = dims(part.1.shape);
                for k in 0..4 {
                    if k != axis && d[k] != total[k] {
                        return Err(c.err_t(part.0, "dimension off the axis differs"));
                    }
                }
                // Checked: hostile part sizes could wrap a 32-bit usize.
                sum = sum.checked_add(d[axis]).ok_or(c.err("parts overflow"))?;
            }
            c.ensure(sum == total[axis], "parts do not add up along the axis")?;
        }
        OpKind::ChannelShuffle if linked!(ChannelShuffle) => {
            let x = c.single_input(dtype)?;
            c.same_shape(c.output(0)?, x.1.shape)?;
            let g = op.param_usize(ops::shuffle::GROUPS);
            c.ensure(
                g >= 1 && x.1.shape.c % g == 0,
                "channels not divisible by groups",
            )?;
        }
        OpKind::ConcatShuffleSplit if linked!(ConcatShuffleSplit) => {
            check_concat_shuffle_split(c, dtype)?
        }
        OpKind::Pad if linked!(Pad) => {
            let x = c.single_input(dtype)?;
            let (xd, yd) = (dims(x.1.shape), dims(c.output(0)?.1.shape));
            for k in 0..4 {
                let want = xd[k]
                    .checked_add(op.param_usize(ops::pad::BEFORE + k))
                    .and_then(|v| v.checked_add(op.param_usize(ops::pad::AFTER + k)));
                c.ensure(
                    want == Some(yd[k]),
                    "output dims must be input plus padding",
                )?;
            }
        }
        OpKind::Transpose if linked!(Transpose) => {
            let x = c.single_input(dtype)?;
            let (xd, yd) = (dims(x.1.shape), dims(c.output(0)?.1.shape));
            let mut seen = [false; 4];
            for (k, &y) in yd.iter().enumerate() {
                let p = op.param_usize(ops::transpose::PERM + k);
                c.ensure(p < 4 && !seen[p], "perm is not a permutation of 0..4")?;
                seen[p] = true;
                c.ensure(xd[p] == y, "output dims must be the permuted input dims")?;
            }
        }
        OpKind::Reshape => {
            let x = c.single_input(dtype)?;
            c.ensure(
                x.1.len() == c.output(0)?.1.len(),
                "reshape changes the element count",
            )?;
            c.ensure(
                op.variant == Variant::InPlace { input: 0 },
                "reshape must be recorded as a view (variant in place over input 0)",
            )?;
            c.ensure(
                x.1.kind == TensorKind::Activation && x.1.region == c.output(0)?.1.region,
                "a reshape view must share its input's arena region",
            )?;
        }
        OpKind::Relu
        | OpKind::Relu6
        | OpKind::ReluN1To1
        | OpKind::HardSwish
        | OpKind::Logistic
        | OpKind::Softmax
        | OpKind::Requantize
            if linked!(Relu, Relu6, ReluN1To1, HardSwish, Logistic, Softmax, Requantize) =>
        {
            let x = c.single_input(dtype)?;
            c.ensure(
                op.kind != OpKind::Requantize || dtype == DType::S8,
                "requantize is int8 to int8",
            )?;
            c.same_shape(c.output(0)?, x.1.shape)?;
        }
        OpKind::HardSigmoid | OpKind::Swish | OpKind::Lut if linked!(HardSigmoid, Swish, Lut) => {
            c.ensure(op.kind != OpKind::Lut || s8, "a lookup table is int8 only")?;
            c.counts(if s8 { 2 } else { 1 }, 1)?;
            let x = c.input(0)?;
            c.same_dtype(x, dtype)?;
            c.same_shape(c.output(0)?, x.1.shape)?;
            if s8 {
                c.constant(c.input(1)?, DType::S8, 256)?;
            }
        }
        OpKind::Quantize | OpKind::Dequantize if linked!(Quantize, Dequantize) => {
            c.counts(1, 1)?;
            let (x, y) = (c.input(0)?, c.output(0)?);
            let (f, q) = if op.kind == OpKind::Quantize {
                (x, y)
            } else {
                (y, x)
            };
            // The kernels quantize from and dequantize to f32 only.
            c.ensure(f.1.dtype == DType::F32, "the float side must be f32")?;
            c.ensure(q.1.dtype == DType::S8, "the quantized side must be int8")?;
            c.same_shape(y, x.1.shape)?;
            let scale = op.param_f32(ops::affine::SCALE);
            c.ensure(
                scale.is_finite() && scale > 0.0,
                "scale must be finite and positive",
            )?;
        }
        OpKind::Prelu if linked!(Prelu) => {
            c.ensure(dtype == DType::F32, "PReLU runs in f32 only")?;
            c.counts(2, 1)?;
            let x = c.input(0)?;
            c.same_dtype(x, dtype)?;
            let (at, a) = c.input(1)?;
            c.constant((at, a), DType::F32, a.len())?;
            c.kernel(bfmd_kernels::reference::prelu::check_alpha(x.1.shape, a.shape).map(|_| ()))?;
            c.same_shape(c.output(0)?, x.1.shape)?;
        }
        OpKind::ResizeBilinear | OpKind::ResizeNearest
            if linked!(ResizeBilinear, ResizeNearest) =>
        {
            c.ensure(
                op.kind == OpKind::ResizeNearest || dtype == DType::F32,
                "bilinear resize runs in f32 only",
            )?;
            let x = c.single_input(dtype)?;
            let y = c.output(0)?;
            let (xs, ys) = (x.1.shape, y.1.shape);
            c.ensure(
                xs.n == ys.n && xs.c == ys.c,
                "resize keeps batch and channels",
            )?;
            for w in [ops::resize::ALIGN_CORNERS, ops::resize::HALF_PIXEL_CENTERS] {
                c.ensure(op.param(w) <= 1, "resize options must be 0 or 1")?;
            }
            c.kernel(crate::dispatch::resize_params(op).check())?;
            if dtype == DType::S8 {
                c.ensure(
                    x.1.scale == y.1.scale && x.1.zero_point == y.1.zero_point,
                    "an int8 nearest resize keeps the quantization",
                )?;
            }
        }
        _ => return Err(c.err("op kind not compiled into this program")),
    }
    Ok(())
}

/// `ConcatShuffleSplit`: inputs sharing `n, h, w` whose channels add up to `C`, a multiple
/// of `groups`; outputs of `C / outputs` channels each; for int8 one quantization throughout,
/// since the kernel copies bytes (`movement::shuffle`).
fn check_concat_shuffle_split(c: &Ctx<'_, '_>, dtype: DType) -> Result<()> {
    let op = c.op;
    c.ensure(op.num_inputs() >= 1, "needs at least one input")?;
    let (_, y0) = c.output(0)?;
    let mut channels = 0usize;
    for i in 0..op.num_inputs() {
        let x = c.input(i)?;
        same_quant_parts(c, x, y0, dtype)?;
        let s = x.1.shape;
        if (s.n, s.h, s.w) != (y0.shape.n, y0.shape.h, y0.shape.w) {
            return Err(c.err_t(x.0, "n, h, w differ from the outputs'"));
        }
        // Checked: hostile channel counts could wrap a 32-bit usize.
        channels = channels
            .checked_add(s.c)
            .ok_or(c.err("channels overflow"))?;
    }
    c.ensure(
        y0.shape.c.checked_mul(op.num_outputs()) == Some(channels),
        "outputs must split the input channels into equal parts",
    )?;
    for k in 0..op.num_outputs() {
        let y = c.output(k)?;
        same_quant_parts(c, y, y0, dtype)?;
        c.same_shape(y, y0.shape)?;
    }
    let g = op.param_usize(ops::shuffle::GROUPS);
    c.ensure(
        g >= 1 && channels % g == 0,
        "channels not divisible by groups",
    )
}

/// Checks that `part` has the op's dtype and, for int8, exactly the quantization of `like`.
fn same_quant_parts(
    c: &Ctx<'_, '_>,
    part: (usize, TensorInfo),
    like: TensorInfo,
    dtype: DType,
) -> Result<()> {
    c.same_dtype(part, dtype)?;
    let p = part.1;
    if dtype == DType::S8
        && (p.zero_point != like.zero_point || p.scale.to_bits() != like.scale.to_bits())
    {
        return Err(c.err_t(part.0, "quantization differs (data is moved, not rescaled)"));
    }
    Ok(())
}

fn region_of(c: &Ctx<'_, '_>, t: usize) -> Result<Option<Region>> {
    let info = c.info(t)?;
    Ok(match info.kind {
        TensorKind::Activation => Some(info.region),
        TensorKind::Constant => None,
    })
}

fn check_memory(c: &Ctx<'_, '_>) -> Result<()> {
    let op = c.op;
    let s = op.scratch;
    c.ensure(
        s.start
            .checked_add(s.len)
            .is_some_and(|e| e <= c.m.arena_bytes()),
        "scratch out of the arena",
    )?;
    let mut ins: heapless::Vec<(usize, usize, Region), MAX_OP_INPUTS> = heapless::Vec::new();
    for i in 0..op.num_inputs() {
        if let Some(t) = op.input(i) {
            if let Some(r) = region_of(c, t)? {
                // Capacity: num_inputs <= MAX_OP_INPUTS was checked first.
                let _ = ins.push((i, t, r));
            }
        }
    }
    for k in 0..op.num_outputs() {
        let (ot, oinfo) = c.output(k)?;
        let o = oinfo.region;
        if s.overlaps(&o) {
            return Err(c.err_t(ot, "scratch overlaps an output"));
        }
        for k2 in 0..k {
            if c.output(k2)?.1.region.overlaps(&o) {
                return Err(c.err_t(ot, "two outputs overlap"));
            }
        }
        for &(i, it, r) in ins.iter() {
            if !o.overlaps(&r) {
                continue;
            }
            let allowed = k == 0 && allowed_overlap(c, i, r, o)?;
            if !allowed {
                return Err(c.err_t(
                    it,
                    "output overlaps an input in a way the recorded variant does not allow",
                ));
            }
        }
    }
    for &(_, it, r) in ins.iter() {
        if s.overlaps(&r) {
            return Err(c.err_t(it, "scratch overlaps an input"));
        }
    }
    // The executor hands the overwritten input to the kernel as one `&mut` buffer (for
    // `Overlapping`, the union of input 0 and output 0): no other input may share it.
    let shared = match op.variant {
        Variant::Normal => None,
        Variant::InPlace { input } => ins
            .iter()
            .find(|e| e.0 == input as usize)
            .map(|e| (e.0, e.2)),
        Variant::Overlapping => {
            let o = c.output(0)?.1.region;
            ins.iter().find(|e| e.0 == 0).map(|e| {
                let start = e.2.start.min(o.start);
                (
                    0,
                    Region {
                        start,
                        len: e.2.end().max(o.end()) - start,
                    },
                )
            })
        }
    };
    match (op.variant, shared) {
        (Variant::Normal, _) => {}
        (_, None) => return Err(c.err("the variant overwrites an input that is not in the arena")),
        (_, Some((slot, region))) => {
            // The recorded variant must describe the actual placement (an in-place output
            // elsewhere in the arena would make the kernel write into its input instead).
            let input_region = ins
                .iter()
                .find(|e| e.0 == slot)
                .map(|e| e.2)
                .unwrap_or(region);
            if !allowed_overlap(c, slot, input_region, c.output(0)?.1.region)? {
                return Err(c.err("output placement does not match the recorded variant"));
            }
            if op.kind != OpKind::Reshape {
                for &(i, it, r) in ins.iter() {
                    if i != slot && r.overlaps(&region) {
                        return Err(c.err_t(it, "another input shares the overwritten buffer"));
                    }
                }
                if s.overlaps(&region) {
                    return Err(c.err("scratch overlaps the overwritten buffer"));
                }
            }
        }
    }
    Ok(())
}

/// The scratch of an int8 convolution or depthwise convolution is at least what this build's
/// kernel asks for under the op's variant (the kernels refuse a shorter one at run time, and a
/// model that parses must run); the row-streamed variant is checked with its placement.
fn check_conv_scratch(c: &Ctx<'_, '_>, g: &ConvGeometry) -> Result<()> {
    use bfmd_kernels::s8::{conv as cv, depthwise as dw};
    let op = c.op;
    let need = match (op.kind, op.variant) {
        (OpKind::DepthwiseConv2d, Variant::InPlace { .. }) => {
            dw::depthwise_conv_s8_inplace_scratch_len(g)
        }
        (OpKind::DepthwiseConv2d, _) => dw::depthwise_conv_s8_scratch_len(g),
        (_, Variant::Overlapping) if bfmd_kernels::reference::conv::is_pointwise(g) => {
            cv::pointwise_conv_s8_overlapping_scratch_len(g)
        }
        (_, Variant::Overlapping) => 0,
        _ => cv::conv_s8_scratch_len(g),
    };
    c.ensure(
        op.scratch.len >= need,
        "scratch shorter than the kernel needs",
    )
}

/// Whether output 0 at `o` may overlap input slot `i` at `r` under the op's variant.
fn allowed_overlap(c: &Ctx<'_, '_>, i: usize, r: Region, o: Region) -> Result<bool> {
    let op = c.op;
    Ok(match op.variant {
        Variant::Normal => false,
        Variant::InPlace { input } => {
            if input as usize != i || o.start != r.start {
                return Ok(false);
            }
            match op.kind {
                OpKind::Reshape => o.len == r.len,
                OpKind::Add | OpKind::Mul => {
                    // Only the full-size operand can be overwritten.
                    o.len == r.len && c.input(i)?.1.shape == c.output(0)?.1.shape
                }
                // Not symmetric: only the minuend can be overwritten.
                OpKind::Sub => {
                    i == 0 && o.len == r.len && c.input(0)?.1.shape == c.output(0)?.1.shape
                }
                OpKind::DepthwiseConv2d => {
                    let x = c.input(0)?.1.shape;
                    op.param_usize(ops::conv::GROUPS) == 1
                        && o.len <= r.len
                        && op.scratch.len >= x.h * x.w * c.input(0)?.1.dtype.size()
                }
                k => k.is_unary_in_place() && o.len == r.len,
            }
        }
        Variant::Overlapping => {
            if op.kind != OpKind::Conv2d || i != 0 {
                return Ok(false);
            }
            let (x, y) = (c.input(0)?.1, c.output(0)?.1);
            let g = conv_geometry(op, x.shape, y.shape);
            let pointwise = g.kernel_h == 1
                && g.kernel_w == 1
                && g.stride_h == 1
                && g.stride_w == 1
                && g.pad_top + g.pad_bottom + g.pad_left + g.pad_right == 0;
            let size = x.dtype.size();
            if pointwise && x.dtype == DType::S8 {
                overlap_output_offset(r.start / size, x.shape.pixels(), x.shape.c, y.shape.c)
                    == Some(o.start / size)
                    && op.scratch.len >= x.shape.c * size
            } else {
                // Row-streamed (`rows.rs`): exactly the planner's shift below the input.
                crate::rows::row_overlap_shift(&g, size)
                    .is_some_and(|shift| o.start.checked_add(shift) == Some(r.start))
                    && op.scratch.len
                        >= crate::rows::row_scratch_len(&g, x.dtype, bfmd_kernels::KernelPath::HOST)
            }
        }
    })
}

/// Checks the parameter words against the ranges the kernels accept (their own `validate` /
/// `check` functions), so that a model that parses does not fail in a kernel at run time.
fn check_params<L: Linked>(c: &Ctx<'_, '_>, dtype: DType) -> Result<()> {
    use crate::kernels::s8_params as sp;
    use bfmd_kernels::s8;
    let op = c.op;
    let float_clamp = |lo: usize, hi: usize| {
        // `<=` is false for NaN bounds too.
        c.ensure(
            op.param_f32(lo) <= op.param_f32(hi),
            "clamp range inverted or NaN",
        )
    };
    let r = match (op.kind, dtype) {
        (OpKind::Conv2d | OpKind::DepthwiseConv2d | OpKind::FullyConnected, DType::S8)
            if linked!(Conv2d, DepthwiseConv2d, FullyConnected) =>
        {
            let (io, oo, lo, hi) = if op.kind == OpKind::FullyConnected {
                use ops::fc::*;
                (INPUT_OFFSET, OUTPUT_OFFSET, ACT_MIN, ACT_MAX)
            } else {
                use ops::conv::*;
                (INPUT_OFFSET, OUTPUT_OFFSET, ACT_MIN, ACT_MAX)
            };
            let constant = |i: usize| -> Result<&[i32]> {
                let t = c.input(i)?.0;
                c.m.constant_as::<i32>(t)
            };
            let q = s8::conv::ChannelQuantS8 {
                input_offset: op.param_i32(io),
                output_offset: op.param_i32(oo),
                multipliers: constant(3)?,
                shifts: constant(4)?,
                act_min: op.param_i32(lo),
                act_max: op.param_i32(hi),
            };
            q.validate(c.output(0)?.1.shape.c)
        }
        (OpKind::Conv2d | OpKind::DepthwiseConv2d, _) if linked!(Conv2d, DepthwiseConv2d) => {
            return float_clamp(ops::conv::ACT_MIN, ops::conv::ACT_MAX)
        }
        (OpKind::FullyConnected, _) if linked!(FullyConnected) => {
            return float_clamp(ops::fc::ACT_MIN, ops::fc::ACT_MAX)
        }
        (OpKind::MaxPool2d | OpKind::AvgPool2d, DType::S8) if linked!(MaxPool2d, AvgPool2d) => {
            let (x, y) = (c.input(0)?.1, c.output(0)?.1);
            let p = s8::pool::PoolS8Params {
                geometry: pool_geometry(op, x.shape, y.shape),
                zero_point: x.zero_point,
                act_min: op.param_i32(ops::pool::ACT_MIN),
                act_max: op.param_i32(ops::pool::ACT_MAX),
                count_include_pad: op.param(ops::pool::COUNT_INCLUDE_PAD) != 0,
            };
            p.check(x.len(), y.len())
        }
        (OpKind::MaxPool2d | OpKind::AvgPool2d, _) if linked!(MaxPool2d, AvgPool2d) => {
            return float_clamp(ops::pool::ACT_MIN, ops::pool::ACT_MAX)
        }
        (OpKind::Mean, DType::S8) if linked!(Mean) => sp::mean(op).check(),
        (OpKind::Add | OpKind::Sub, DType::S8) if linked!(Add, Sub) => {
            crate::kernels::add_s8_params(op).check()
        }
        (OpKind::Mul, DType::S8) if linked!(Mul) => crate::kernels::mul_s8_params(op).check(),
        (OpKind::Add | OpKind::Mul | OpKind::Sub, _) if linked!(Add, Mul, Sub) => {
            return float_clamp(0, 1)
        }
        (OpKind::Relu | OpKind::ReluN1To1, DType::S8) if linked!(Relu, ReluN1To1) => {
            sp::relu(op).validate()
        }
        (OpKind::HardSwish, DType::S8) if linked!(HardSwish) => sp::hard_swish(op).validate(),
        (OpKind::Logistic, DType::S8) if linked!(Logistic) => sp::logistic(op).validate(),
        (OpKind::Softmax, DType::S8) if linked!(Softmax) => sp::softmax(op).validate(),
        (OpKind::Softmax, _) if linked!(Softmax) => {
            let beta = op.param_f32(ops::softmax_f::BETA);
            return c.ensure(beta.is_finite(), "softmax beta must be finite");
        }
        (OpKind::Requantize, _) if linked!(Requantize) => sp::requantize(op).validate(),
        (OpKind::Quantize | OpKind::Dequantize, _) if linked!(Quantize, Dequantize) => {
            sp::affine(op).validate()
        }
        _ => Ok(()),
    };
    c.kernel(r)
}
