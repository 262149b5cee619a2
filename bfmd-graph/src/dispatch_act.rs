//! Activations, softmax, lookup tables and (de/re)quantization: the unary ops. Each runs out
//! of place or, when the planner chose `InPlace`, through the kernel's `_inplace` form.

use crate::dispatch::need;
use crate::elem::Element;
use crate::error::Result;
use crate::exec::OpIo;
use crate::kernels::s8_params as sp;
use crate::ops::{DType, OpKind, Variant};
use crate::opset::{Form, Linked};
use bfmd_kernels::half::f16;
use bfmd_kernels::s8::{activation as a, quantize as q, softmax as sm};
use bfmd_kernels::{f16 as h, reference as r};

type KResult = bfmd_kernels::Result<()>;

/// Runs `out_of_place(input, output)` or `in_place(data)` as the op's variant says, for op kind
/// code `KIND`: each form only when the program `L` links it (a constant condition, so a form
/// it does not link is not compiled, nor are the kernels behind it).
fn unary<L: Linked, T: Element, const KIND: u8>(
    io: &mut OpIo<'_, '_>,
    out_of_place: impl FnOnce(&[T], &mut [T]) -> KResult,
    in_place: impl FnOnce(&mut [T]) -> KResult,
) -> Result<()> {
    let plain = const { L::OPS.contains_code(KIND, T::DTYPE, Form::Plain) };
    let inplace = const { L::OPS.contains_code(KIND, T::DTYPE, Form::InPlace) };
    let r = match io.op.variant {
        Variant::Normal if plain => {
            let x = io.input::<T>(0)?;
            out_of_place(x, io.output::<T>(0)?)
        }
        Variant::InPlace { input: 0 } if inplace => in_place(io.shared::<T>()?.0),
        Variant::Normal => return Err(io.not_linked(io.op.kind, T::DTYPE, Form::Plain)),
        Variant::InPlace { input: 0 } => {
            return Err(io.not_linked(io.op.kind, T::DTYPE, Form::InPlace))
        }
        _ => return Err(io.err("variant not supported by this op")),
    };
    io.kernel(r)
}

/// [`unary`] for op kind `$kind` with element type `$t`.
macro_rules! unary_op {
    ($kind:ident, $t:ty, $io:expr, $plain:expr, $in_place:expr) => {
        unary::<L, $t, { OpKind::$kind as u8 }>($io, $plain, $in_place)
    };
}

pub(crate) fn dispatch<L: Linked>(io: &mut OpIo<'_, '_>, dtype: DType) -> Result<()> {
    match dtype {
        DType::S8 => dispatch_s8::<L>(io),
        DType::F16 => dispatch_f16::<L>(io),
        _ => dispatch_f32::<L>(io),
    }
}

fn dispatch_s8<L: Linked>(io: &mut OpIo<'_, '_>) -> Result<()> {
    let op = io.op;
    match op.kind {
        // Relu and ReluN1To1 differ only in the clamp range the builder stored.
        OpKind::Relu => {
            let p = sp::relu(&op);
            unary_op!(Relu, i8, io, |x, y| a::relu_s8(&p, x, y), |d| {
                a::relu_s8_inplace(&p, d)
            })
        }
        OpKind::ReluN1To1 => {
            let p = sp::relu(&op);
            unary_op!(ReluN1To1, i8, io, |x, y| a::relu_s8(&p, x, y), |d| {
                a::relu_s8_inplace(&p, d)
            })
        }
        OpKind::Relu6 => {
            let p = sp::relu6(&op);
            unary_op!(Relu6, i8, io, |x, y| a::relu6_s8(&p, x, y), |d| {
                a::relu6_s8_inplace(&p, d)
            })
        }
        OpKind::HardSwish => {
            let p = sp::hard_swish(&op);
            unary_op!(HardSwish, i8, io, |x, y| a::hard_swish_s8(&p, x, y), |d| {
                a::hard_swish_s8_inplace(&p, d)
            })
        }
        OpKind::Logistic => {
            let p = sp::logistic(&op);
            unary_op!(Logistic, i8, io, |x, y| a::logistic_s8(&p, x, y), |d| {
                a::logistic_s8_inplace(&p, d)
            })
        }
        OpKind::Softmax => {
            let p = sp::softmax(&op);
            let depth = io.in_shape(0)?.c;
            unary_op!(
                Softmax,
                i8,
                io,
                |x, y| sm::softmax_s8(&p, depth, x, y),
                |d| sm::softmax_s8_inplace(&p, depth, d)
            )
        }
        OpKind::Requantize => {
            let p = sp::requantize(&op);
            unary_op!(Requantize, i8, io, |x, y| q::requantize_s8(&p, x, y), |d| {
                q::requantize_s8_inplace(&p, d)
            })
        }
        OpKind::HardSigmoid => lut::<L, { OpKind::HardSigmoid as u8 }>(io),
        OpKind::Swish => lut::<L, { OpKind::Swish as u8 }>(io),
        OpKind::Lut => lut::<L, { OpKind::Lut as u8 }>(io),
        OpKind::Quantize => {
            need!(io, Quantize, DType::S8, Plain);
            let p = sp::affine(&op);
            let x = io.input::<f32>(0)?;
            let r = q::quantize_s8(&p, x, io.output::<i8>(0)?);
            io.kernel(r)
        }
        OpKind::Dequantize => {
            need!(io, Dequantize, DType::S8, Plain);
            let p = sp::affine(&op);
            let x = io.input::<i8>(0)?;
            let r = q::dequantize_s8(&p, x, io.output::<f32>(0)?);
            io.kernel(r)
        }
        _ => Err(io.err("no int8 kernel for this op")),
    }
}

/// An int8 op run through its 256-entry table (input 1; parse checked that it is an int8
/// constant of 256 entries).
fn lut<L: Linked, const KIND: u8>(io: &mut OpIo<'_, '_>) -> Result<()> {
    let table: &a::LutS8 = io
        .input::<i8>(1)?
        .try_into()
        .map_err(|_| io.err("lookup table must have 256 entries"))?;
    unary::<L, i8, KIND>(
        io,
        |x, y| a::lut_s8(table, x, y),
        |d| a::lut_s8_inplace(table, d),
    )
}

fn dispatch_f32<L: Linked>(io: &mut OpIo<'_, '_>) -> Result<()> {
    use r::activation::*;
    let beta = io.op.param_f32(0);
    match io.op.kind {
        OpKind::Relu => unary_op!(Relu, f32, io, relu_f32, relu_f32_inplace),
        OpKind::Relu6 => unary_op!(Relu6, f32, io, relu6_f32, relu6_f32_inplace),
        OpKind::ReluN1To1 => unary_op!(
            ReluN1To1,
            f32,
            io,
            relu_n1_to_1_f32,
            relu_n1_to_1_f32_inplace
        ),
        OpKind::HardSigmoid => unary_op!(
            HardSigmoid,
            f32,
            io,
            hard_sigmoid_f32,
            hard_sigmoid_f32_inplace
        ),
        OpKind::HardSwish => unary_op!(HardSwish, f32, io, hard_swish_f32, hard_swish_f32_inplace),
        OpKind::Logistic => unary_op!(Logistic, f32, io, logistic_f32, logistic_f32_inplace),
        OpKind::Swish => unary_op!(Swish, f32, io, swish_f32, swish_f32_inplace),
        OpKind::Softmax => {
            let depth = io.in_shape(0)?.c;
            unary_op!(
                Softmax,
                f32,
                io,
                |x, y| r::softmax::softmax_f32(beta, depth, x, y),
                |d| r::softmax::softmax_f32_inplace(beta, depth, d)
            )
        }
        _ => Err(io.err("no f32 kernel for this op")),
    }
}

fn dispatch_f16<L: Linked>(io: &mut OpIo<'_, '_>) -> Result<()> {
    use h::activation::*;
    let beta = io.op.param_f32(0);
    match io.op.kind {
        OpKind::Relu => unary_op!(Relu, f16, io, relu_f16, relu_f16_inplace),
        OpKind::Relu6 => unary_op!(Relu6, f16, io, relu6_f16, relu6_f16_inplace),
        OpKind::ReluN1To1 => unary_op!(
            ReluN1To1,
            f16,
            io,
            relu_n1_to_1_f16,
            relu_n1_to_1_f16_inplace
        ),
        OpKind::HardSigmoid => unary_op!(
            HardSigmoid,
            f16,
            io,
            hard_sigmoid_f16,
            hard_sigmoid_f16_inplace
        ),
        OpKind::HardSwish => unary_op!(HardSwish, f16, io, hard_swish_f16, hard_swish_f16_inplace),
        OpKind::Logistic => unary_op!(Logistic, f16, io, logistic_f16, logistic_f16_inplace),
        OpKind::Swish => unary_op!(Swish, f16, io, swish_f16, swish_f16_inplace),
        OpKind::Softmax => {
            let depth = io.in_shape(0)?.c;
            unary_op!(
                Softmax,
                f16,
                io,
                |x, y| h::softmax::softmax_f16(beta, depth, x, y),
                |d| h::softmax::softmax_f16_inplace(beta, depth, d)
            )
        }
        _ => Err(io.err("no f16 kernel for this op")),
    }
}
