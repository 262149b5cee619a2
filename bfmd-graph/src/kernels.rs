//! What the graph needs to know about the kernels beyond calling them: scratch sizes and
//! in-place capabilities per (op, dtype), and the parameter words of the int8 kernels whose
//! parameter structs are plain integers.

use crate::format::OpRecord;
#[cfg(feature = "std")]
use crate::ops::{DType, OpKind};
#[cfg(feature = "std")]
use crate::plan::Alias;
#[cfg(feature = "std")]
use bfmd_kernels::reference::fully_connected::FullyConnectedGeometry;
use bfmd_kernels::s8::elementwise::{AddS8Params, MulS8Params};
#[cfg(feature = "std")]
use bfmd_kernels::{ConvGeometry, KernelPath};

/// Scratch bytes and in-place capability of a convolution-like op on the kernels of `path`.
#[cfg(feature = "std")]
pub(crate) fn conv_memory(
    kind: OpKind,
    dtype: DType,
    g: &ConvGeometry,
    path: KernelPath,
) -> (usize, Alias) {
    use bfmd_kernels::{f16 as h, reference as r, s8};
    let depthwise = kind == OpKind::DepthwiseConv2d;
    let scratch = match (depthwise, dtype) {
        (false, DType::S8) => s8::conv::conv_s8_scratch_len_for(path, g),
        (false, DType::F16) => h::conv::conv_f16_scratch_len(g),
        (false, _) => r::conv::conv_f32_scratch_len(g),
        (true, DType::S8) => s8::depthwise::depthwise_conv_s8_scratch_len_for(path, g),
        (true, DType::F16) => h::depthwise::depthwise_conv_f16_scratch_len(g),
        (true, _) => r::depthwise::depthwise_conv_f32_scratch_len(g),
    };
    let alias = if depthwise {
        let fits = g.output.h * g.output.w <= g.input.h * g.input.w;
        if g.output.c == g.input.c && fits {
            let scratch = match dtype {
                DType::S8 => s8::depthwise::depthwise_conv_s8_inplace_scratch_len_for(path, g),
                DType::F16 => h::depthwise::depthwise_conv_f16_inplace_scratch_len(g),
                _ => r::depthwise::depthwise_conv_f32_inplace_scratch_len(g),
            };
            Alias::InPlace { slots: 1, scratch }
        } else {
            Alias::None
        }
    } else if dtype == DType::S8 && r::conv::is_pointwise(g) {
        // `pointwise_overlap_out_offset`: the output starts (pixels - 1) * (out_c - in_c)
        // elements below the input when it is wider, at the same place otherwise.
        let shift = g.input.pixels().saturating_sub(1) * g.output.c.saturating_sub(g.input.c);
        Alias::Overlap {
            shift,
            scratch: s8::conv::pointwise_conv_s8_overlapping_scratch_len_for(path, g),
        }
    } else if let Some(shift) = crate::rows::row_overlap_shift(g, dtype.size()) {
        // Any other convolution can be row-streamed over its input (`rows.rs`).
        Alias::Rows {
            shift,
            scratch: crate::rows::row_scratch_len(g, dtype, path),
        }
    } else {
        Alias::None
    };
    (scratch, alias)
}

/// Scratch bytes of a fully connected op (int8 weights, or `packed` int16 pairs) on the
/// kernels of `path`; the f32 layers need none.
#[cfg(feature = "std")]
pub(crate) fn fc_scratch(
    dtype: DType,
    g: &FullyConnectedGeometry,
    packed: bool,
    path: KernelPath,
) -> usize {
    use bfmd_kernels::{f16 as h, s8};
    match dtype {
        DType::S8 if packed => {
            s8::fully_connected::fully_connected_s8_wide_scratch_len_for(path, g)
        }
        DType::S8 => s8::fully_connected::fully_connected_s8_scratch_len_for(path, g),
        DType::F16 => h::fully_connected::fully_connected_f16_scratch_len(g),
        _ => 0,
    }
}

/// `AddS8Params` as parameter words, in field order.
#[cfg(feature = "std")]
pub(crate) fn add_s8_words(p: &AddS8Params) -> [u32; crate::ops::s8_words::ADD] {
    [
        p.input1_offset,
        p.input2_offset,
        p.output_offset,
        p.left_shift,
        p.input1_multiplier,
        p.input1_shift,
        p.input2_multiplier,
        p.input2_shift,
        p.output_multiplier,
        p.output_shift,
        p.act_min,
        p.act_max,
    ]
    .map(|v| v as u32)
}

/// `AddS8Params` from an op's parameter words.
pub(crate) fn add_s8_params(op: &OpRecord<'_>) -> AddS8Params {
    let w = |i| op.param_i32(i);
    AddS8Params {
        input1_offset: w(0),
        input2_offset: w(1),
        output_offset: w(2),
        left_shift: w(3),
        input1_multiplier: w(4),
        input1_shift: w(5),
        input2_multiplier: w(6),
        input2_shift: w(7),
        output_multiplier: w(8),
        output_shift: w(9),
        act_min: w(10),
        act_max: w(11),
    }
}

/// `MulS8Params` as parameter words, in field order.
#[cfg(feature = "std")]
pub(crate) fn mul_s8_words(p: &MulS8Params) -> [u32; crate::ops::s8_words::MUL] {
    [
        p.input1_offset,
        p.input2_offset,
        p.output_offset,
        p.output_multiplier,
        p.output_shift,
        p.act_min,
        p.act_max,
    ]
    .map(|v| v as u32)
}

/// `MulS8Params` from an op's parameter words.
pub(crate) fn mul_s8_params(op: &OpRecord<'_>) -> MulS8Params {
    let w = |i| op.param_i32(i);
    MulS8Params {
        input1_offset: w(0),
        input2_offset: w(1),
        output_offset: w(2),
        output_multiplier: w(3),
        output_shift: w(4),
        act_min: w(5),
        act_max: w(6),
    }
}

/// The int8 unary and reduction parameter structs, decoded from an op's words in the order the
/// builder wrote them (`unary_params`, `GraphBuilder::add_mean`, `add_affine`).
pub(crate) mod s8_params {
    use crate::format::OpRecord;
    use bfmd_kernels::s8::{activation as a, pool, quantize as q, softmax as sm};

    /// `Relu` / `ReluN1To1`.
    pub(crate) fn relu(op: &OpRecord<'_>) -> a::ReluS8Params {
        let w = |i| op.param_i32(i);
        a::ReluS8Params {
            input_offset: w(0),
            output_offset: w(1),
            multiplier: w(2),
            shift: w(3),
            act_min: w(4),
            act_max: w(5),
        }
    }

    /// `Relu6`.
    pub(crate) fn relu6(op: &OpRecord<'_>) -> a::Relu6S8Params {
        a::Relu6S8Params {
            zero: op.param_i32(0) as i8,
            six: op.param_i32(1) as i8,
        }
    }

    /// `HardSwish` (the int16 fields were stored sign-extended).
    pub(crate) fn hard_swish(op: &OpRecord<'_>) -> a::HardSwishS8Params {
        let w = |i| op.param_i32(i);
        a::HardSwishS8Params {
            input_zero_point: w(0) as i16,
            output_zero_point: w(1) as i16,
            reluish_multiplier_fixedpoint_int16: w(2) as i16,
            reluish_multiplier_exponent: w(3),
            output_multiplier_fixedpoint_int16: w(4) as i16,
            output_multiplier_exponent: w(5),
        }
    }

    /// `Logistic`.
    pub(crate) fn logistic(op: &OpRecord<'_>) -> a::LogisticS8Params {
        let w = |i| op.param_i32(i);
        a::LogisticS8Params {
            input_zero_point: w(0),
            input_range_radius: w(1),
            input_multiplier: w(2),
            input_left_shift: w(3),
        }
    }

    /// `Softmax`.
    pub(crate) fn softmax(op: &OpRecord<'_>) -> sm::SoftmaxS8Params {
        let w = |i| op.param_i32(i);
        sm::SoftmaxS8Params {
            input_multiplier: w(0),
            input_left_shift: w(1),
            diff_min: w(2),
        }
    }

    /// `Requantize`.
    pub(crate) fn requantize(op: &OpRecord<'_>) -> q::RequantizeS8Params {
        let w = |i| op.param_i32(i);
        q::RequantizeS8Params {
            input_offset: w(0),
            output_offset: w(1),
            multiplier: w(2),
            shift: w(3),
        }
    }

    /// `Quantize` / `Dequantize`: the int8 side's scale and zero point.
    pub(crate) fn affine(op: &OpRecord<'_>) -> q::QuantizeS8Params {
        q::QuantizeS8Params {
            scale: op.param_f32(0),
            zero_point: op.param_i32(1),
        }
    }

    /// `Mean`.
    pub(crate) fn mean(op: &OpRecord<'_>) -> pool::MeanS8Params {
        let w = |i| op.param_i32(i);
        pool::MeanS8Params {
            input_zero_point: w(0),
            output_zero_point: w(1),
            multiplier: w(2),
            shift: w(3),
        }
    }
}

/// Why the builder could not compute an op's parameters.
#[cfg(feature = "std")]
pub(crate) enum ParamError {
    /// The kernel's `from_scales` rejected the quantization.
    Kernel(bfmd_kernels::Error),
    /// No kernel for this combination.
    Unsupported(&'static str),
}

#[cfg(feature = "std")]
impl From<bfmd_kernels::Error> for ParamError {
    fn from(e: bfmd_kernels::Error) -> Self {
        ParamError::Kernel(e)
    }
}

/// Parameter words (and for table-driven int8 ops, the 256-entry table) of a unary op or
/// softmax, computed with the kernels' `from_scales` (TFLM's Prepare math for the TFLite ops,
/// `build_lut_s8` for bfmd's table-driven hard-sigmoid and swish).
#[cfg(feature = "std")]
#[allow(clippy::type_complexity)]
pub(crate) fn unary_params(
    kind: OpKind,
    dtype: DType,
    x: crate::builder::Quant,
    y: crate::builder::Quant,
    beta: f32,
) -> Result<(Vec<u32>, Option<[i8; 256]>), ParamError> {
    use bfmd_kernels::s8::{activation as a, quantize as q, softmax as sm};
    let w = |v: &[i32]| v.iter().map(|&x| x as u32).collect::<Vec<u32>>();
    if dtype != DType::S8 {
        return Ok(match kind {
            OpKind::Softmax => (vec![beta.to_bits()], None),
            OpKind::Requantize => return Err(ParamError::Unsupported("requantize is int8 only")),
            _ => (vec![], None),
        });
    }
    let (xs, xz, ys, yz) = (x.scale, x.zero_point, y.scale, y.zero_point);
    Ok(match kind {
        OpKind::Relu | OpKind::ReluN1To1 => {
            let p = if kind == OpKind::Relu {
                a::ReluS8Params::from_scales(xs, xz, ys, yz)?
            } else {
                a::ReluS8Params::n1_to_1_from_scales(xs, xz, ys, yz)?
            };
            (
                w(&[
                    p.input_offset,
                    p.output_offset,
                    p.multiplier,
                    p.shift,
                    p.act_min,
                    p.act_max,
                ]),
                None,
            )
        }
        OpKind::Relu6 => {
            if xz != yz || (xs - ys).abs() > 1e-6 * xs {
                // TFLM's int8 RELU6 clamps without requantizing.
                return Err(ParamError::Unsupported(
                    "int8 relu6 needs equal input and output quantization (add a requantize)",
                ));
            }
            let p = a::Relu6S8Params::from_scales(xs, xz)?;
            (w(&[p.zero as i32, p.six as i32]), None)
        }
        OpKind::HardSwish => {
            let p = a::HardSwishS8Params::from_scales(xs, xz, ys, yz)?;
            (
                w(&[
                    p.input_zero_point as i32,
                    p.output_zero_point as i32,
                    p.reluish_multiplier_fixedpoint_int16 as i32,
                    p.reluish_multiplier_exponent,
                    p.output_multiplier_fixedpoint_int16 as i32,
                    p.output_multiplier_exponent,
                ]),
                None,
            )
        }
        OpKind::Logistic => {
            let p = a::LogisticS8Params::from_scales(xs, xz, ys, yz)?;
            (
                w(&[
                    p.input_zero_point,
                    p.input_range_radius,
                    p.input_multiplier,
                    p.input_left_shift,
                ]),
                None,
            )
        }
        OpKind::Softmax => {
            let p = sm::SoftmaxS8Params::from_scales(xs, beta, ys, yz)?;
            (
                w(&[p.input_multiplier, p.input_left_shift, p.diff_min]),
                None,
            )
        }
        OpKind::Requantize => {
            let p = q::RequantizeS8Params::from_scales(xs, xz, ys, yz)?;
            (
                w(&[p.input_offset, p.output_offset, p.multiplier, p.shift]),
                None,
            )
        }
        OpKind::HardSigmoid => (
            vec![],
            Some(a::HardSigmoidS8Params::from_scales(xs, xz, ys, yz)?.lut),
        ),
        OpKind::Swish => (
            vec![],
            Some(a::SwishS8Params::from_scales(xs, xz, ys, yz)?.lut),
        ),
        _ => return Err(ParamError::Unsupported("not a unary op")),
    })
}
