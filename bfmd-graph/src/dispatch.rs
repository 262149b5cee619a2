//! The mapping from (op kind, dtype, variant) to kernel calls. Parameter words were computed by
//! the builder; here they are only copied into the kernels' parameter structs.

use crate::elem::Element;
use crate::error::Result;
use crate::exec::OpIo;
use crate::ops::{self, DType, OpKind, Variant};
use crate::opset::{Form, Linked};
use crate::validate::{conv_geometry, dims, pool_geometry};
use bfmd_kernels::half::f16;
use bfmd_kernels::movement::{self as mv, Axis};
use bfmd_kernels::reference::elementwise::BinaryParams;
use bfmd_kernels::reference::fully_connected::FullyConnectedGeometry;
use bfmd_kernels::reference::pool::PoolParams;
use bfmd_kernels::s8::conv::{ChannelQuantS8, ConvS8Params};
use bfmd_kernels::{f16 as h, reference as r, s8, ConvGeometry, Shape};

/// An element type whose fill value (for `Pad`) is stored in one parameter word.
pub(crate) trait FromWord: Element {
    /// Decodes the word.
    fn from_word(w: u32) -> Self;
}

impl FromWord for i8 {
    fn from_word(w: u32) -> Self {
        w as i32 as i8
    }
}

impl FromWord for f32 {
    fn from_word(w: u32) -> Self {
        f32::from_bits(w)
    }
}

impl FromWord for f16 {
    fn from_word(w: u32) -> Self {
        f16::from_bits(w as u16)
    }
}

/// Returns `NotLinked` from the enclosing function unless the program's [`Linked`] set `L`
/// holds the kernel; the condition is a constant, so the arm after it is compiled only when it
/// does (and its kernels are linked only then).
macro_rules! need {
    ($io:expr, $kind:ident, $dtype:expr, $form:ident) => {
        if !const { L::OPS.contains(OpKind::$kind, $dtype, Form::$form) } {
            return Err($io.not_linked(OpKind::$kind, $dtype, Form::$form));
        }
    };
}

pub(crate) use need;

// Out of line, as it was before it became generic: inlined into the executor's op loop it made
// every op copy the carved arena once more (+12k instructions per VWW inference on the M7).
#[inline(never)]
pub(crate) fn dispatch<L: Linked>(io: &mut OpIo<'_, '_>) -> Result<()> {
    // The rule of `opset::kernel_dtype`, through the op's own view (cheaper per op).
    let dtype = match io.op.kind {
        OpKind::Dequantize => io.in_info(0)?.dtype,
        _ => io.out_info(0)?.dtype,
    };
    match io.op.kind {
        OpKind::Conv2d | OpKind::DepthwiseConv2d => match dtype {
            DType::S8 => conv_s8::<L>(io),
            DType::F16 => conv_float::<L, f16>(
                io,
                h::conv::conv_f16,
                h::depthwise::depthwise_conv_f16,
                h::depthwise::depthwise_conv_f16_inplace,
            ),
            // The f32 kernels need no scratch.
            _ => conv_float::<L, f32>(
                io,
                |p, x, f, b, y, _| r::conv::conv_f32(p, x, f, b, y),
                |p, x, f, b, y, _| r::depthwise::depthwise_conv_f32(p, x, f, b, y),
                r::depthwise::depthwise_conv_f32_inplace,
            ),
        },
        OpKind::FullyConnected => fully_connected::<L>(io, dtype),
        OpKind::MaxPool2d | OpKind::AvgPool2d => pool::<L>(io, dtype),
        OpKind::Mean => mean::<L>(io, dtype),
        OpKind::Add | OpKind::Mul | OpKind::Sub => binary::<L>(io, dtype),
        OpKind::Concat
        | OpKind::Split
        | OpKind::ChannelShuffle
        | OpKind::ConcatShuffleSplit
        | OpKind::Pad
        | OpKind::Transpose => match dtype {
            DType::S8 => movement::<L, i8>(io),
            DType::F16 => movement::<L, f16>(io),
            _ => movement::<L, f32>(io),
        },
        // A view: nothing moves (`exec::run_op` returns before carving).
        OpKind::Reshape => Ok(()),
        OpKind::Prelu => prelu::<L>(io),
        OpKind::ResizeBilinear => resize_bilinear::<L>(io),
        OpKind::ResizeNearest => match dtype {
            DType::S8 => resize_nearest::<L, i8>(io),
            DType::F16 => resize_nearest::<L, f16>(io),
            _ => resize_nearest::<L, f32>(io),
        },
        _ => crate::dispatch_act::dispatch::<L>(io, dtype),
    }
}

fn clamp_f32(io: &OpIo<'_, '_>, lo: usize, hi: usize) -> (f32, f32) {
    (io.op.param_f32(lo), io.op.param_f32(hi))
}

fn geometry(io: &OpIo<'_, '_>) -> Result<ConvGeometry> {
    Ok(conv_geometry(&io.op, io.in_shape(0)?, io.out_shape(0)?))
}

fn channel_quant<'m: 'a, 'a>(io: &OpIo<'m, 'a>, offsets: [usize; 4]) -> Result<ChannelQuantS8<'a>> {
    Ok(ChannelQuantS8 {
        input_offset: io.op.param_i32(offsets[0]),
        output_offset: io.op.param_i32(offsets[1]),
        multipliers: io.input::<i32>(3)?,
        shifts: io.input::<i32>(4)?,
        act_min: io.op.param_i32(offsets[2]),
        act_max: io.op.param_i32(offsets[3]),
    })
}

fn conv_s8<L: Linked>(io: &mut OpIo<'_, '_>) -> Result<()> {
    use ops::conv::*;
    let p = ConvS8Params {
        geometry: geometry(io)?,
        quant: channel_quant(io, [INPUT_OFFSET, OUTPUT_OFFSET, ACT_MIN, ACT_MAX])?,
    };
    let filter = io.input::<i8>(1)?;
    let bias = io.opt_input::<i32>(2)?;
    let scratch = io.scratch()?;
    let depthwise = io.op.kind == OpKind::DepthwiseConv2d;
    let r = match (io.op.variant, depthwise) {
        (Variant::Normal, false) => {
            need!(io, Conv2d, DType::S8, Plain);
            let x = io.input::<i8>(0)?;
            let y = io.output::<i8>(0)?;
            s8::conv::conv_s8(&p, x, filter, bias, y, scratch)
        }
        (Variant::Normal, true) => {
            need!(io, DepthwiseConv2d, DType::S8, Plain);
            let x = io.input::<i8>(0)?;
            let y = io.output::<i8>(0)?;
            s8::depthwise::depthwise_conv_s8(&p, x, filter, bias, y, scratch)
        }
        (Variant::Overlapping, false) if r::conv::is_pointwise(&p.geometry) => {
            need!(io, Conv2d, DType::S8, Overlapping);
            let (buf, i, o) = io.shared::<i8>()?;
            s8::conv::pointwise_conv_s8_overlapping(&p, buf, i, o, filter, bias, scratch)
        }
        (Variant::Overlapping, false) => {
            need!(io, Conv2d, DType::S8, Rows);
            let (buf, i, o) = io.shared::<i8>()?;
            let rows = crate::rows::run_rows(&p.geometry, buf, i, o, |g, x, y| {
                let row = ConvS8Params {
                    geometry: *g,
                    quant: p.quant,
                };
                s8::conv::conv_s8(&row, x, filter, bias, y, scratch)
            });
            return rows_result(io, rows);
        }
        (Variant::InPlace { .. }, true) => {
            need!(io, DepthwiseConv2d, DType::S8, InPlace);
            let (buf, _, _) = io.shared::<i8>()?;
            s8::depthwise::depthwise_conv_s8_inplace(&p, buf, filter, bias, scratch)
        }
        _ => return Err(io.err("variant not supported by this op")),
    };
    io.kernel(r)
}

/// A float convolution or depthwise kernel: `(params, input, filter, bias, output, scratch)`.
type ConvFn<T> = fn(
    &r::conv::ConvF32Params,
    &[T],
    &[T],
    Option<&[f32]>,
    &mut [T],
    &mut [u8],
) -> bfmd_kernels::Result<()>;
/// A float in-place depthwise kernel: `(params, buffer, filter, bias, scratch)`.
type ConvInPlaceFn<T> = fn(
    &r::conv::ConvF32Params,
    &mut [T],
    &[T],
    Option<&[f32]>,
    &mut [u8],
) -> bfmd_kernels::Result<()>;

/// Runs a float convolution (`conv`) or depthwise convolution (`depthwise`, or
/// `depthwise_inplace` when planned in place) of element type `T`.
fn conv_float<L: Linked, T: Element>(
    io: &mut OpIo<'_, '_>,
    conv: ConvFn<T>,
    depthwise_fn: ConvFn<T>,
    depthwise_inplace: ConvInPlaceFn<T>,
) -> Result<()> {
    use ops::conv::*;
    let (act_min, act_max) = clamp_f32(io, ACT_MIN, ACT_MAX);
    let p = r::conv::ConvF32Params {
        geometry: geometry(io)?,
        act_min,
        act_max,
    };
    let filter = io.input::<T>(1)?;
    let bias = io.opt_input::<f32>(2)?;
    let scratch = io.scratch()?;
    let depthwise = io.op.kind == OpKind::DepthwiseConv2d;
    let r = match (io.op.variant, depthwise) {
        (Variant::Normal, true) => {
            need!(io, DepthwiseConv2d, T::DTYPE, Plain);
            let x = io.input::<T>(0)?;
            let y = io.output::<T>(0)?;
            depthwise_fn(&p, x, filter, bias, y, scratch)
        }
        (Variant::Normal, false) => {
            need!(io, Conv2d, T::DTYPE, Plain);
            let x = io.input::<T>(0)?;
            let y = io.output::<T>(0)?;
            conv(&p, x, filter, bias, y, scratch)
        }
        (Variant::InPlace { .. }, true) => {
            need!(io, DepthwiseConv2d, T::DTYPE, InPlace);
            let (buf, _, _) = io.shared::<T>()?;
            depthwise_inplace(&p, buf, filter, bias, scratch)
        }
        (Variant::Overlapping, false) => {
            need!(io, Conv2d, T::DTYPE, Rows);
            let (buf, i, o) = io.shared::<T>()?;
            let rows = crate::rows::run_rows(&p.geometry, buf, i, o, |g, x, y| {
                let row = r::conv::ConvF32Params { geometry: *g, ..p };
                conv(&row, x, filter, bias, y, scratch)
            });
            return rows_result(io, rows);
        }
        _ => return Err(io.err("variant not supported by this op")),
    };
    io.kernel(r)
}

/// The result of a row-streamed convolution as the op's result.
fn rows_result(
    io: &OpIo<'_, '_>,
    r: core::result::Result<(), crate::rows::RowError>,
) -> Result<()> {
    match r {
        Ok(()) => Ok(()),
        Err(crate::rows::RowError::Kernel(e)) => io.kernel(Err(e)),
        Err(crate::rows::RowError::Placement) => {
            Err(io.err("output placement does not allow row streaming"))
        }
    }
}

fn fully_connected<L: Linked>(io: &mut OpIo<'_, '_>, dtype: DType) -> Result<()> {
    use ops::fc::*;
    let w = io.in_info(1)?;
    // int8 weights stored as int16 pairs (validated at parse time) run the packed kernel.
    let (out_f, in_f, wide) = ops::fc::dims(dtype, w.dtype, w.shape);
    let geometry = FullyConnectedGeometry::new(io.in_shape(0)?.len() / in_f.max(1), in_f, out_f);
    let scratch = io.scratch()?;
    let r = match dtype {
        DType::S8 => {
            let p = s8::fully_connected::FullyConnectedS8Params {
                geometry,
                quant: channel_quant(io, [INPUT_OFFSET, OUTPUT_OFFSET, ACT_MIN, ACT_MAX])?,
            };
            let (x, b) = (io.input::<i8>(0)?, io.opt_input::<i32>(2)?);
            let y = io.output::<i8>(0)?;
            if wide {
                need!(io, FullyConnected, DType::S8, Packed);
                let wt = io.input::<i32>(1)?;
                s8::fully_connected::fully_connected_s8_wide(&p, x, wt, b, y, scratch)
            } else {
                need!(io, FullyConnected, DType::S8, Plain);
                let wt = io.input::<i8>(1)?;
                s8::fully_connected::fully_connected_s8(&p, x, wt, b, y, scratch)
            }
        }
        DType::F16 => {
            need!(io, FullyConnected, DType::F16, Plain);
            let (act_min, act_max) = clamp_f32(io, ACT_MIN, ACT_MAX);
            let p = r::fully_connected::FullyConnectedF32Params {
                geometry,
                act_min,
                act_max,
            };
            let (x, wt, b) = (
                io.input::<f16>(0)?,
                io.input::<f16>(1)?,
                io.opt_input::<f32>(2)?,
            );
            let y = io.output::<f16>(0)?;
            h::fully_connected::fully_connected_f16(&p, x, wt, b, y, scratch)
        }
        _ => {
            need!(io, FullyConnected, DType::F32, Plain);
            let (act_min, act_max) = clamp_f32(io, ACT_MIN, ACT_MAX);
            let p = r::fully_connected::FullyConnectedF32Params {
                geometry,
                act_min,
                act_max,
            };
            let (x, wt, b) = (
                io.input::<f32>(0)?,
                io.input::<f32>(1)?,
                io.opt_input::<f32>(2)?,
            );
            let y = io.output::<f32>(0)?;
            r::fully_connected::fully_connected_f32(&p, x, wt, b, y)
        }
    };
    io.kernel(r)
}

fn pool<L: Linked>(io: &mut OpIo<'_, '_>, dtype: DType) -> Result<()> {
    use ops::pool::*;
    let geometry = pool_geometry(&io.op, io.in_shape(0)?, io.out_shape(0)?);
    let count_include_pad = io.op.param(COUNT_INCLUDE_PAD) != 0;
    let max = io.op.kind == OpKind::MaxPool2d;
    let r = match dtype {
        DType::S8 => {
            let p = s8::pool::PoolS8Params {
                geometry,
                zero_point: io.in_info(0)?.zero_point,
                act_min: io.op.param_i32(ACT_MIN),
                act_max: io.op.param_i32(ACT_MAX),
                count_include_pad,
            };
            let x = io.input::<i8>(0)?;
            let y = io.output::<i8>(0)?;
            if max {
                need!(io, MaxPool2d, DType::S8, Plain);
                s8::pool::max_pool_s8(&p, x, y)
            } else {
                need!(io, AvgPool2d, DType::S8, Plain);
                s8::pool::avg_pool_s8(&p, x, y)
            }
        }
        _ => {
            let (act_min, act_max) = clamp_f32(io, ACT_MIN, ACT_MAX);
            let p = PoolParams {
                geometry,
                act_min,
                act_max,
                count_include_pad,
            };
            if dtype == DType::F16 {
                let x = io.input::<f16>(0)?;
                let y = io.output::<f16>(0)?;
                if max {
                    need!(io, MaxPool2d, DType::F16, Plain);
                    h::pool::max_pool_f16(&p, x, y)
                } else {
                    need!(io, AvgPool2d, DType::F16, Plain);
                    h::pool::avg_pool_f16(&p, x, y)
                }
            } else {
                let x = io.input::<f32>(0)?;
                let y = io.output::<f32>(0)?;
                if max {
                    need!(io, MaxPool2d, DType::F32, Plain);
                    r::pool::max_pool_f32(&p, x, y)
                } else {
                    need!(io, AvgPool2d, DType::F32, Plain);
                    r::pool::avg_pool_f32(&p, x, y)
                }
            }
        }
    };
    io.kernel(r)
}

fn mean<L: Linked>(io: &mut OpIo<'_, '_>, dtype: DType) -> Result<()> {
    let shape = io.in_shape(0)?;
    let r = match dtype {
        DType::S8 => {
            need!(io, Mean, DType::S8, Plain);
            let p = crate::kernels::s8_params::mean(&io.op);
            let x = io.input::<i8>(0)?;
            s8::pool::mean_s8(&p, shape, x, io.output::<i8>(0)?)
        }
        DType::F16 => {
            need!(io, Mean, DType::F16, Plain);
            let x = io.input::<f16>(0)?;
            h::pool::mean_f16(shape, x, io.output::<f16>(0)?)
        }
        _ => {
            need!(io, Mean, DType::F32, Plain);
            let x = io.input::<f32>(0)?;
            r::pool::mean_f32(shape, x, io.output::<f32>(0)?)
        }
    };
    io.kernel(r)
}

/// An out-of-place binary kernel: `(params, a_shape, a, b_shape, b, output)`.
type BinaryFn<T, P> = fn(&P, Shape, &[T], Shape, &[T], &mut [T]) -> bfmd_kernels::Result<()>;
/// An in-place binary kernel: `(params, a_shape, a_and_output, b_shape, b)`.
type BinaryInPlaceFn<T, P> = fn(&P, Shape, &mut [T], Shape, &[T]) -> bfmd_kernels::Result<()>;

fn binary<L: Linked>(io: &mut OpIo<'_, '_>, dtype: DType) -> Result<()> {
    use s8::elementwise as e;
    const ADD: u8 = OpKind::Add as u8;
    const MUL: u8 = OpKind::Mul as u8;
    const SUB: u8 = OpKind::Sub as u8;
    let f = BinaryParams {
        act_min: io.op.param_f32(0),
        act_max: io.op.param_f32(1),
    };
    match (dtype, io.op.kind) {
        (DType::S8, OpKind::Add) => {
            let p = crate::kernels::add_s8_params(&io.op);
            binary_t::<L, i8, _, ADD>(io, p, p.swapped(), e::add_s8, e::add_s8_inplace)
        }
        (DType::S8, OpKind::Sub) => {
            // SUB is not symmetric: the plan only ever overwrites the minuend.
            let p = crate::kernels::add_s8_params(&io.op);
            binary_t::<L, i8, _, SUB>(io, p, p, e::sub_s8, e::sub_s8_inplace)
        }
        (DType::S8, _) => {
            let p = crate::kernels::mul_s8_params(&io.op);
            binary_t::<L, i8, _, MUL>(io, p, p.swapped(), e::mul_s8, e::mul_s8_inplace)
        }
        (DType::F16, OpKind::Add) => binary_t::<L, f16, _, ADD>(
            io,
            f,
            f,
            h::elementwise::add_f16,
            h::elementwise::add_f16_inplace,
        ),
        (DType::F16, OpKind::Sub) => binary_t::<L, f16, _, SUB>(
            io,
            f,
            f,
            h::elementwise::sub_f16,
            h::elementwise::sub_f16_inplace,
        ),
        (DType::F16, _) => binary_t::<L, f16, _, MUL>(
            io,
            f,
            f,
            h::elementwise::mul_f16,
            h::elementwise::mul_f16_inplace,
        ),
        (_, OpKind::Add) => binary_t::<L, f32, _, ADD>(
            io,
            f,
            f,
            r::elementwise::add_f32,
            r::elementwise::add_f32_inplace,
        ),
        (_, OpKind::Sub) => binary_t::<L, f32, _, SUB>(
            io,
            f,
            f,
            r::elementwise::sub_f32,
            r::elementwise::sub_f32_inplace,
        ),
        (_, _) => binary_t::<L, f32, _, MUL>(
            io,
            f,
            f,
            r::elementwise::mul_f32,
            r::elementwise::mul_f32_inplace,
        ),
    }
}

/// Runs a binary op of kind code `KIND` with the variant the plan recorded; `swapped`
/// describes the operands the other way round (ADD and MUL are symmetric), for overwriting the
/// second operand.
fn binary_t<L: Linked, T: Element, P, const KIND: u8>(
    io: &mut OpIo<'_, '_>,
    p: P,
    swapped: P,
    run: BinaryFn<T, P>,
    run_inplace: BinaryInPlaceFn<T, P>,
) -> Result<()> {
    let (a_s, b_s) = (io.in_shape(0)?, io.in_shape(1)?);
    let in_place = matches!(io.op.variant, Variant::InPlace { .. });
    if in_place && !const { L::OPS.contains_code(KIND, T::DTYPE, Form::InPlace) } {
        return Err(io.not_linked(io.op.kind, T::DTYPE, Form::InPlace));
    }
    if !in_place && !const { L::OPS.contains_code(KIND, T::DTYPE, Form::Plain) } {
        return Err(io.not_linked(io.op.kind, T::DTYPE, Form::Plain));
    }
    let r = match io.op.variant {
        Variant::Normal => {
            let (a, b) = (io.input::<T>(0)?, io.input::<T>(1)?);
            let y = io.output::<T>(0)?;
            run(&p, a_s, a, b_s, b, y)
        }
        Variant::InPlace { input: 0 } => {
            let b = io.input::<T>(1)?;
            let (buf, _, _) = io.shared::<T>()?;
            run_inplace(&p, a_s, buf, b_s, b)
        }
        Variant::InPlace { .. } if KIND != OpKind::Sub as u8 => {
            let a = io.input::<T>(0)?;
            let (buf, _, _) = io.shared::<T>()?;
            run_inplace(&swapped, b_s, buf, a_s, a)
        }
        _ => return Err(io.err("variant not supported by this op")),
    };
    io.kernel(r)
}

fn movement<L: Linked, T: FromWord>(io: &mut OpIo<'_, '_>) -> Result<()> {
    let op = io.op;
    let r = match op.kind {
        OpKind::Concat => {
            need!(io, Concat, T::DTYPE, Plain);
            let axis = io.kernel(Axis::from_index(op.param_usize(ops::axis::AXIS)))?;
            let parts = inputs_with_shapes::<T>(io)?;
            mv::concat::concat(axis, &parts, io.output::<T>(0)?).map(|_| ())
        }
        OpKind::ConcatShuffleSplit => {
            need!(io, ConcatShuffleSplit, T::DTYPE, Plain);
            let parts = inputs_with_shapes::<T>(io)?;
            let mut outs: heapless::Vec<&mut [T], { crate::format::MAX_OP_OUTPUTS }> =
                heapless::Vec::new();
            for k in 0..op.num_outputs() {
                let o = io.output::<T>(k)?;
                outs.push(o).map_err(|_| io.err("too many outputs"))?;
            }
            let g = op.param_usize(ops::shuffle::GROUPS);
            mv::shuffle::concat_shuffle_split(g, &parts, &mut outs)
        }
        OpKind::Split => {
            need!(io, Split, T::DTYPE, Plain);
            let axis = io.kernel(Axis::from_index(op.param_usize(ops::axis::AXIS)))?;
            let mut outs: heapless::Vec<&mut [T], { crate::format::MAX_OP_OUTPUTS }> =
                heapless::Vec::new();
            let mut sizes: heapless::Vec<usize, { crate::format::MAX_OP_OUTPUTS }> =
                heapless::Vec::new();
            for k in 0..op.num_outputs() {
                let d = dims(io.out_shape(k)?)[axis.index()];
                sizes.push(d).map_err(|_| io.err("too many outputs"))?;
                let o = io.output::<T>(k)?;
                outs.push(o).map_err(|_| io.err("too many outputs"))?;
            }
            let x = io.input::<T>(0)?;
            mv::split::split_sizes(axis, x, io.in_shape(0)?, &sizes, &mut outs)
        }
        OpKind::ChannelShuffle => {
            need!(io, ChannelShuffle, T::DTYPE, Plain);
            let x = io.input::<T>(0)?;
            let g = op.param_usize(ops::shuffle::GROUPS);
            mv::shuffle::channel_shuffle(g, x, io.in_shape(0)?, io.output::<T>(0)?)
        }
        OpKind::Pad => {
            need!(io, Pad, T::DTYPE, Plain);
            let w = |i| op.param_usize(i);
            let pads = mv::pad::PadAmounts {
                before: [w(0), w(1), w(2), w(3)],
                after: [w(4), w(5), w(6), w(7)],
            };
            let x = io.input::<T>(0)?;
            let value = T::from_word(op.param(ops::pad::VALUE));
            mv::pad::pad(x, io.in_shape(0)?, &pads, value, io.output::<T>(0)?).map(|_| ())
        }
        _ => {
            need!(io, Transpose, T::DTYPE, Plain);
            let w = |i| op.param_usize(ops::transpose::PERM + i);
            let x = io.input::<T>(0)?;
            mv::transpose::transpose(
                x,
                io.in_shape(0)?,
                [w(0), w(1), w(2), w(3)],
                io.output::<T>(0)?,
            )
            .map(|_| ())
        }
    };
    io.kernel(r)
}

/// Every input of the op with its shape, as the concatenating kernels take them.
fn inputs_with_shapes<'m: 'a, 'a, T: Element>(
    io: &OpIo<'m, 'a>,
) -> Result<heapless::Vec<(&'a [T], Shape), { crate::format::MAX_OP_INPUTS }>> {
    let mut parts = heapless::Vec::new();
    for i in 0..io.op.num_inputs() {
        let part = (io.input::<T>(i)?, io.in_shape(i)?);
        parts.push(part).map_err(|_| io.err("too many inputs"))?;
    }
    Ok(parts)
}

/// `Prelu` (f32; parse checked the dtype and that alpha broadcasts to the input).
fn prelu<L: Linked>(io: &mut OpIo<'_, '_>) -> Result<()> {
    need!(io, Prelu, DType::F32, Plain);
    let (xs, a_s) = (io.in_shape(0)?, io.in_shape(1)?);
    let (x, alpha) = (io.input::<f32>(0)?, io.input::<f32>(1)?);
    let y = io.output::<f32>(0)?;
    let r = r::prelu::prelu_f32(xs, x, a_s, alpha, y);
    io.kernel(r)
}

/// The options of a resize op (parse checked each word is 0 or 1).
pub(crate) fn resize_params(op: &crate::format::OpRecord<'_>) -> r::resize::ResizeParams {
    r::resize::ResizeParams {
        align_corners: op.param(ops::resize::ALIGN_CORNERS) != 0,
        half_pixel_centers: op.param(ops::resize::HALF_PIXEL_CENTERS) != 0,
    }
}

/// `ResizeBilinear` (f32; parse checked the dtype).
fn resize_bilinear<L: Linked>(io: &mut OpIo<'_, '_>) -> Result<()> {
    need!(io, ResizeBilinear, DType::F32, Plain);
    let p = resize_params(&io.op);
    let (xs, ys) = (io.in_shape(0)?, io.out_shape(0)?);
    let x = io.input::<f32>(0)?;
    let y = io.output::<f32>(0)?;
    let r = r::resize::resize_bilinear_f32(&p, xs, x, ys, y);
    io.kernel(r)
}

/// `ResizeNearest` (any dtype: values are copied).
fn resize_nearest<L: Linked, T: Element>(io: &mut OpIo<'_, '_>) -> Result<()> {
    need!(io, ResizeNearest, T::DTYPE, Plain);
    let p = resize_params(&io.op);
    let (xs, ys) = (io.in_shape(0)?, io.out_shape(0)?);
    let x = io.input::<T>(0)?;
    let y = io.output::<T>(0)?;
    let r = r::resize::resize_nearest(&p, xs, x, ys, y);
    io.kernel(r)
}
