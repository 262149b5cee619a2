//! Activations, softmax, lookup tables and (de/re)quantization: the unary ops. Each runs out
//! of place or, when the planner chose `InPlace`, through the kernel's `_inplace` form.

use crate::elem::Element;
use crate::error::Result;
use crate::exec::OpIo;
use crate::kernels::s8_params as sp;
use crate::ops::{DType, OpKind, Variant};
use bfmd_kernels::half::f16;
use bfmd_kernels::s8::{activation as a, quantize as q, softmax as sm};
use bfmd_kernels::{f16 as h, reference as r};

type KResult = bfmd_kernels::Result<()>;

/// Runs `out_of_place(input, output)` or `in_place(data)` as the op's variant says.
fn unary<T: Element>(
    io: &mut OpIo<'_, '_>,
    out_of_place: impl FnOnce(&[T], &mut [T]) -> KResult,
    in_place: impl FnOnce(&mut [T]) -> KResult,
) -> Result<()> {
    let r = match io.op.variant {
        Variant::Normal => {
            let x = io.input::<T>(0)?;
            out_of_place(x, io.output::<T>(0)?)
        }
        Variant::InPlace { input: 0 } => in_place(io.shared::<T>()?.0),
        _ => return Err(io.err("variant not supported by this op")),
    };
    io.kernel(r)
}

pub(crate) fn dispatch(io: &mut OpIo<'_, '_>, dtype: DType) -> Result<()> {
    match dtype {
        DType::S8 => dispatch_s8(io),
        DType::F16 => dispatch_f16(io),
        _ => dispatch_f32(io),
    }
}

fn dispatch_s8(io: &mut OpIo<'_, '_>) -> Result<()> {
    let op = io.op;
    match op.kind {
        OpKind::Relu | OpKind::ReluN1To1 => {
            let p = sp::relu(&op);
            // The two differ only in the clamp range the builder stored.
            unary::<i8>(
                io,
                |x, y| a::relu_s8(&p, x, y),
                |d| a::relu_s8_inplace(&p, d),
            )
        }
        OpKind::Relu6 => {
            let p = sp::relu6(&op);
            unary::<i8>(
                io,
                |x, y| a::relu6_s8(&p, x, y),
                |d| a::relu6_s8_inplace(&p, d),
            )
        }
        OpKind::HardSwish => {
            let p = sp::hard_swish(&op);
            unary::<i8>(
                io,
                |x, y| a::hard_swish_s8(&p, x, y),
                |d| a::hard_swish_s8_inplace(&p, d),
            )
        }
        OpKind::Logistic => {
            let p = sp::logistic(&op);
            unary::<i8>(
                io,
                |x, y| a::logistic_s8(&p, x, y),
                |d| a::logistic_s8_inplace(&p, d),
            )
        }
        OpKind::Softmax => {
            let p = sp::softmax(&op);
            let depth = io.in_shape(0)?.c;
            unary::<i8>(
                io,
                |x, y| sm::softmax_s8(&p, depth, x, y),
                |d| sm::softmax_s8_inplace(&p, depth, d),
            )
        }
        OpKind::Requantize => {
            let p = sp::requantize(&op);
            unary::<i8>(
                io,
                |x, y| q::requantize_s8(&p, x, y),
                |d| q::requantize_s8_inplace(&p, d),
            )
        }
        OpKind::HardSigmoid | OpKind::Swish | OpKind::Lut => {
            // Parse checked that input 1 is an int8 constant of 256 entries.
            let table: &a::LutS8 = io
                .input::<i8>(1)?
                .try_into()
                .map_err(|_| io.err("lookup table must have 256 entries"))?;
            unary::<i8>(
                io,
                |x, y| a::lut_s8(table, x, y),
                |d| a::lut_s8_inplace(table, d),
            )
        }
        OpKind::Quantize => {
            let p = sp::affine(&op);
            let x = io.input::<f32>(0)?;
            let r = q::quantize_s8(&p, x, io.output::<i8>(0)?);
            io.kernel(r)
        }
        OpKind::Dequantize => {
            let p = sp::affine(&op);
            let x = io.input::<i8>(0)?;
            let r = q::dequantize_s8(&p, x, io.output::<f32>(0)?);
            io.kernel(r)
        }
        _ => Err(io.err("no int8 kernel for this op")),
    }
}

fn dispatch_f32(io: &mut OpIo<'_, '_>) -> Result<()> {
    use r::activation::*;
    let beta = io.op.param_f32(0);
    match io.op.kind {
        OpKind::Relu => unary::<f32>(io, relu_f32, relu_f32_inplace),
        OpKind::Relu6 => unary::<f32>(io, relu6_f32, relu6_f32_inplace),
        OpKind::ReluN1To1 => unary::<f32>(io, relu_n1_to_1_f32, relu_n1_to_1_f32_inplace),
        OpKind::HardSigmoid => unary::<f32>(io, hard_sigmoid_f32, hard_sigmoid_f32_inplace),
        OpKind::HardSwish => unary::<f32>(io, hard_swish_f32, hard_swish_f32_inplace),
        OpKind::Logistic => unary::<f32>(io, logistic_f32, logistic_f32_inplace),
        OpKind::Swish => unary::<f32>(io, swish_f32, swish_f32_inplace),
        OpKind::Softmax => {
            let depth = io.in_shape(0)?.c;
            unary::<f32>(
                io,
                |x, y| r::softmax::softmax_f32(beta, depth, x, y),
                |d| r::softmax::softmax_f32_inplace(beta, depth, d),
            )
        }
        _ => Err(io.err("no f32 kernel for this op")),
    }
}

fn dispatch_f16(io: &mut OpIo<'_, '_>) -> Result<()> {
    use h::activation::*;
    let beta = io.op.param_f32(0);
    match io.op.kind {
        OpKind::Relu => unary::<f16>(io, relu_f16, relu_f16_inplace),
        OpKind::Relu6 => unary::<f16>(io, relu6_f16, relu6_f16_inplace),
        OpKind::ReluN1To1 => unary::<f16>(io, relu_n1_to_1_f16, relu_n1_to_1_f16_inplace),
        OpKind::HardSigmoid => unary::<f16>(io, hard_sigmoid_f16, hard_sigmoid_f16_inplace),
        OpKind::HardSwish => unary::<f16>(io, hard_swish_f16, hard_swish_f16_inplace),
        OpKind::Logistic => unary::<f16>(io, logistic_f16, logistic_f16_inplace),
        OpKind::Swish => unary::<f16>(io, swish_f16, swish_f16_inplace),
        OpKind::Softmax => {
            let depth = io.in_shape(0)?.c;
            unary::<f16>(
                io,
                |x, y| h::softmax::softmax_f16(beta, depth, x, y),
                |d| h::softmax::softmax_f16_inplace(beta, depth, d),
            )
        }
        _ => Err(io.err("no f16 kernel for this op")),
    }
}
