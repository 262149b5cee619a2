//! Builtin operator options: the per-op parameters of the operators bfmd lowers.
//!
//! When an operator carries no options table, TFLite runs it with its parameter struct
//! zero-initialised (`tensorflow/lite/core/api/flatbuffer_conversions.cc`: every `Parse*` leaves
//! the `AllocatePOD` zeros when `builtin_options_as_*()` is null), not with the schema's field
//! defaults. bfmd keeps those zeros where they are a valid setting (activation NONE, axis 0,
//! `keep_dims` false, beta 0) and rejects the operators for which they are not: a convolution
//! or pool with stride 0 has no defined output size.

use super::error::{op_path, ImportError};
use super::generated::tflite as fb;
use super::ir::{DType, OpCode};

/// Padding scheme of convolutions and pools (`Padding` in the schema).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Padding {
    /// Output size `ceil(in / stride)`, padding split with the extra row/column at the
    /// bottom/right.
    Same,
    /// No padding: output size `ceil((in - effective_filter + 1) / stride)`.
    Valid,
}

/// Activation fused into an operator's output (`ActivationFunctionType` in the schema).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// No activation.
    None,
    /// `max(x, 0)`.
    Relu,
    /// `clamp(x, -1, 1)`.
    ReluN1To1,
    /// `clamp(x, 0, 6)`.
    Relu6,
    /// `tanh(x)`.
    Tanh,
    /// `SIGN_BIT` (unused by the converter; kept so that no valid file is rejected).
    SignBit,
}

/// `FullyConnectedOptions.weights_format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeightsFormat {
    /// Plain `[out_features, in_features]` weights.
    Default,
    /// The shuffled int8 layout of TFLite's optimized kernels (not produced for int8 models).
    Shuffled4x16Int8,
}

/// `Conv2DOptions` (CONV_2D).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv2dOptions {
    /// Padding scheme.
    pub padding: Padding,
    /// Horizontal stride (>= 1).
    pub stride_w: usize,
    /// Vertical stride (>= 1).
    pub stride_h: usize,
    /// Horizontal dilation (>= 1).
    pub dilation_w: usize,
    /// Vertical dilation (>= 1).
    pub dilation_h: usize,
    /// Fused activation.
    pub activation: Activation,
    /// `quantized_bias_type`: bias and accumulator type for quantized convolutions; `F32` (code
    /// 0) means "not set", i.e. the default (INT32 for int8 models).
    pub quantized_bias_type: DType,
}

/// `DepthwiseConv2DOptions` (DEPTHWISE_CONV_2D).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DepthwiseConv2dOptions {
    /// Padding scheme.
    pub padding: Padding,
    /// Horizontal stride (>= 1).
    pub stride_w: usize,
    /// Vertical stride (>= 1).
    pub stride_h: usize,
    /// `depth_multiplier` as stored. The schema calls it redundant (kernels of TF 2.x derive it
    /// from the filter and input channel counts), so it is passed on unchecked.
    pub depth_multiplier: i32,
    /// Horizontal dilation (>= 1).
    pub dilation_w: usize,
    /// Vertical dilation (>= 1).
    pub dilation_h: usize,
    /// Fused activation.
    pub activation: Activation,
}

/// `Pool2DOptions` (AVERAGE_POOL_2D, MAX_POOL_2D).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pool2dOptions {
    /// Padding scheme.
    pub padding: Padding,
    /// Horizontal stride (>= 1).
    pub stride_w: usize,
    /// Vertical stride (>= 1).
    pub stride_h: usize,
    /// Window width (>= 1).
    pub filter_w: usize,
    /// Window height (>= 1).
    pub filter_h: usize,
    /// Fused activation.
    pub activation: Activation,
}

/// `FullyConnectedOptions` (FULLY_CONNECTED).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FullyConnectedOptions {
    /// Fused activation.
    pub activation: Activation,
    /// Weight layout.
    pub weights_format: WeightsFormat,
    /// Keep the input's leading dimensions in the output instead of flattening to 2-D.
    pub keep_num_dims: bool,
    /// Hybrid (float activations, int8 weights) models only.
    pub asymmetric_quantize_inputs: bool,
    /// As [`Conv2dOptions::quantized_bias_type`].
    pub quantized_bias_type: DType,
}

/// `SoftmaxOptions` (SOFTMAX).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoftmaxOptions {
    /// `softmax(beta * x)`.
    pub beta: f32,
}

/// `ConcatenationOptions` (CONCATENATION).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConcatenationOptions {
    /// Axis to concatenate along; negative counts from the end, as in TFLite.
    pub axis: i32,
    /// Fused activation.
    pub activation: Activation,
}

/// `AddOptions` (ADD).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AddOptions {
    /// Fused activation.
    pub activation: Activation,
    /// int16 only: power-of-two scales (the schema's default is true when the table exists).
    pub pot_scale_int16: bool,
}

/// `SubOptions` (SUB).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SubOptions {
    /// Fused activation.
    pub activation: Activation,
    /// int16 only: power-of-two scales.
    pub pot_scale_int16: bool,
}

/// `MulOptions` (MUL).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MulOptions {
    /// Fused activation.
    pub activation: Activation,
}

/// `ReducerOptions` (MEAN; the axes are the constant second input).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReducerOptions {
    /// Keep reduced dimensions with size 1.
    pub keep_dims: bool,
}

/// `SplitOptions` / `SplitVOptions` (SPLIT, SPLIT_V; the axis is a constant input).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SplitOptions {
    /// Number of outputs, as stored (TFLite checks it against the output count at Prepare).
    pub num_splits: i32,
}

/// `ReshapeOptions` (RESHAPE).
#[derive(Clone, Debug, PartialEq)]
pub struct ReshapeOptions {
    /// `new_shape`, when the file has it (`-1` marks the inferred dimension); the converter
    /// also passes the shape as the constant second input.
    pub new_shape: Option<Vec<i32>>,
}

/// `ResizeBilinearOptions` and `ResizeNearestNeighborOptions`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResizeOptions {
    /// `align_corners`.
    pub align_corners: bool,
    /// `half_pixel_centers`.
    pub half_pixel_centers: bool,
}

/// The decoded builtin options of an operator.
#[derive(Clone, Debug, PartialEq)]
pub enum Options {
    /// The operator has no options bfmd decodes: PAD, PADV2, TRANSPOSE, QUANTIZE, DEQUANTIZE,
    /// the activations, and every `Custom` and `Other` operator (whose options are not read).
    None,
    /// CONV_2D.
    Conv2d(Conv2dOptions),
    /// DEPTHWISE_CONV_2D.
    DepthwiseConv2d(DepthwiseConv2dOptions),
    /// AVERAGE_POOL_2D and MAX_POOL_2D.
    Pool2d(Pool2dOptions),
    /// FULLY_CONNECTED.
    FullyConnected(FullyConnectedOptions),
    /// SOFTMAX.
    Softmax(SoftmaxOptions),
    /// CONCATENATION.
    Concatenation(ConcatenationOptions),
    /// ADD.
    Add(AddOptions),
    /// SUB.
    Sub(SubOptions),
    /// MUL.
    Mul(MulOptions),
    /// MEAN.
    Reducer(ReducerOptions),
    /// SPLIT and SPLIT_V.
    Split(SplitOptions),
    /// RESHAPE.
    Reshape(ReshapeOptions),
    /// RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR.
    Resize(ResizeOptions),
}

fn padding(p: fb::Padding) -> Padding {
    match p {
        fb::Padding::Same => Padding::Same,
        fb::Padding::Valid => Padding::Valid,
    }
}

fn activation(a: fb::ActivationFunctionType) -> Activation {
    match a {
        fb::ActivationFunctionType::None => Activation::None,
        fb::ActivationFunctionType::Relu => Activation::Relu,
        fb::ActivationFunctionType::ReluN1To1 => Activation::ReluN1To1,
        fb::ActivationFunctionType::Relu6 => Activation::Relu6,
        fb::ActivationFunctionType::Tanh => Activation::Tanh,
        fb::ActivationFunctionType::SignBit => Activation::SignBit,
    }
}

/// Maps the schema's tensor type to [`DType`].
pub(crate) fn dtype(t: fb::TensorType) -> DType {
    match t {
        fb::TensorType::Float32 => DType::F32,
        fb::TensorType::Float16 => DType::F16,
        fb::TensorType::Int32 => DType::I32,
        fb::TensorType::Uint8 => DType::U8,
        fb::TensorType::Int64 => DType::I64,
        fb::TensorType::String => DType::String,
        fb::TensorType::Bool => DType::Bool,
        fb::TensorType::Int16 => DType::I16,
        fb::TensorType::Complex64 => DType::Complex64,
        fb::TensorType::Int8 => DType::I8,
        fb::TensorType::Float64 => DType::F64,
        fb::TensorType::Complex128 => DType::Complex128,
        fb::TensorType::Uint64 => DType::U64,
        fb::TensorType::Resource => DType::Resource,
        fb::TensorType::Variant => DType::Variant,
        fb::TensorType::Uint32 => DType::U32,
        fb::TensorType::Uint16 => DType::U16,
        fb::TensorType::Int4 => DType::I4,
        fb::TensorType::Bfloat16 => DType::BF16,
    }
}

/// Reads options of one operator, turning reader faults and bad values into [`ImportError`]s
/// that name the operator.
struct Reader<'n> {
    op: usize,
    op_name: &'n str,
}

impl Reader<'_> {
    /// Unwraps a field read, naming the field on a malformed buffer.
    fn get<T>(&self, r: planus::Result<T>, field: &str) -> Result<T, ImportError> {
        r.map_err(|e| ImportError::Malformed {
            location: format!("{}.builtin_options.{field}", op_path(self.op)),
            detail: e.to_string(),
        })
    }

    fn invalid(&self, detail: String) -> ImportError {
        ImportError::InvalidOptions {
            op: self.op,
            op_name: self.op_name.to_string(),
            detail,
        }
    }

    /// A stride, dilation or window size: TFLite divides by it and multiplies with it, so it
    /// must be at least 1.
    fn positive(&self, r: planus::Result<i32>, field: &str) -> Result<usize, ImportError> {
        let v = self.get(r, field)?;
        match usize::try_from(v) {
            Ok(u) if u >= 1 => Ok(u),
            _ => Err(self.invalid(format!("{field} is {v} (must be >= 1)"))),
        }
    }

    fn missing(&self, table: &str) -> ImportError {
        self.invalid(format!(
            "has no {table}; TFLite would run it with zeroed parameters (stride 0)"
        ))
    }

    fn wrong_type(&self, expected: &str, found: &fb::BuiltinOptionsRef<'_>) -> ImportError {
        self.invalid(format!(
            "builtin_options is {}, expected {expected}",
            options_type_name(found)
        ))
    }
}

/// Decodes the builtin options of operator `op` (code `code`).
pub(crate) fn decode(
    op: usize,
    code: &OpCode,
    raw: planus::Result<Option<fb::BuiltinOptionsRef<'_>>>,
) -> Result<Options, ImportError> {
    let r = Reader {
        op,
        op_name: code.name(),
    };
    // Operators bfmd does not lower keep their options unread: a table of a newer schema (an
    // unknown union tag) must not make an otherwise readable model fail here.
    let wanted = matches!(
        code,
        OpCode::Conv2d
            | OpCode::DepthwiseConv2d
            | OpCode::AveragePool2d
            | OpCode::MaxPool2d
            | OpCode::FullyConnected
            | OpCode::Softmax
            | OpCode::Concatenation
            | OpCode::Add
            | OpCode::Sub
            | OpCode::Mul
            | OpCode::Mean
            | OpCode::Split
            | OpCode::SplitV
            | OpCode::Reshape
            | OpCode::ResizeBilinear
            | OpCode::ResizeNearestNeighbor
    );
    if !wanted {
        return Ok(Options::None);
    }
    let raw = r.get(raw, "type")?;
    use fb::BuiltinOptionsRef as B;
    let options = match (code, raw) {
        (OpCode::Conv2d, Some(B::Conv2DOptions(o))) => Options::Conv2d(Conv2dOptions {
            padding: padding(r.get(o.padding(), "padding")?),
            stride_w: r.positive(o.stride_w(), "stride_w")?,
            stride_h: r.positive(o.stride_h(), "stride_h")?,
            dilation_w: r.positive(o.dilation_w_factor(), "dilation_w_factor")?,
            dilation_h: r.positive(o.dilation_h_factor(), "dilation_h_factor")?,
            activation: activation(r.get(o.fused_activation_function(), "activation")?),
            quantized_bias_type: dtype(r.get(o.quantized_bias_type(), "quantized_bias_type")?),
        }),
        (OpCode::Conv2d, None) => return Err(r.missing("Conv2DOptions")),
        (OpCode::Conv2d, Some(other)) => return Err(r.wrong_type("Conv2DOptions", &other)),

        (OpCode::DepthwiseConv2d, Some(B::DepthwiseConv2DOptions(o))) => {
            Options::DepthwiseConv2d(DepthwiseConv2dOptions {
                padding: padding(r.get(o.padding(), "padding")?),
                stride_w: r.positive(o.stride_w(), "stride_w")?,
                stride_h: r.positive(o.stride_h(), "stride_h")?,
                depth_multiplier: r.get(o.depth_multiplier(), "depth_multiplier")?,
                dilation_w: r.positive(o.dilation_w_factor(), "dilation_w_factor")?,
                dilation_h: r.positive(o.dilation_h_factor(), "dilation_h_factor")?,
                activation: activation(r.get(o.fused_activation_function(), "activation")?),
            })
        }
        (OpCode::DepthwiseConv2d, None) => return Err(r.missing("DepthwiseConv2DOptions")),
        (OpCode::DepthwiseConv2d, Some(other)) => {
            return Err(r.wrong_type("DepthwiseConv2DOptions", &other))
        }

        (OpCode::AveragePool2d | OpCode::MaxPool2d, Some(B::Pool2DOptions(o))) => {
            Options::Pool2d(Pool2dOptions {
                padding: padding(r.get(o.padding(), "padding")?),
                stride_w: r.positive(o.stride_w(), "stride_w")?,
                stride_h: r.positive(o.stride_h(), "stride_h")?,
                filter_w: r.positive(o.filter_width(), "filter_width")?,
                filter_h: r.positive(o.filter_height(), "filter_height")?,
                activation: activation(r.get(o.fused_activation_function(), "activation")?),
            })
        }
        (OpCode::AveragePool2d | OpCode::MaxPool2d, None) => return Err(r.missing("Pool2DOptions")),
        (OpCode::AveragePool2d | OpCode::MaxPool2d, Some(other)) => {
            return Err(r.wrong_type("Pool2DOptions", &other))
        }

        (OpCode::FullyConnected, Some(B::FullyConnectedOptions(o))) => {
            Options::FullyConnected(FullyConnectedOptions {
                activation: activation(r.get(o.fused_activation_function(), "activation")?),
                weights_format: match r.get(o.weights_format(), "weights_format")? {
                    fb::FullyConnectedOptionsWeightsFormat::Default => WeightsFormat::Default,
                    fb::FullyConnectedOptionsWeightsFormat::Shuffled4x16Int8 => {
                        WeightsFormat::Shuffled4x16Int8
                    }
                },
                keep_num_dims: r.get(o.keep_num_dims(), "keep_num_dims")?,
                asymmetric_quantize_inputs: r
                    .get(o.asymmetric_quantize_inputs(), "asymmetric_quantize_inputs")?,
                quantized_bias_type: dtype(r.get(o.quantized_bias_type(), "quantized_bias_type")?),
            })
        }
        (OpCode::FullyConnected, None) => Options::FullyConnected(FullyConnectedOptions {
            activation: Activation::None,
            weights_format: WeightsFormat::Default,
            keep_num_dims: false,
            asymmetric_quantize_inputs: false,
            quantized_bias_type: DType::F32,
        }),

        (OpCode::Softmax, Some(B::SoftmaxOptions(o))) => Options::Softmax(SoftmaxOptions {
            beta: r.get(o.beta(), "beta")?,
        }),
        (OpCode::Softmax, None) => Options::Softmax(SoftmaxOptions { beta: 0.0 }),

        (OpCode::Concatenation, Some(B::ConcatenationOptions(o))) => {
            Options::Concatenation(ConcatenationOptions {
                axis: r.get(o.axis(), "axis")?,
                activation: activation(r.get(o.fused_activation_function(), "activation")?),
            })
        }
        (OpCode::Concatenation, None) => Options::Concatenation(ConcatenationOptions {
            axis: 0,
            activation: Activation::None,
        }),

        (OpCode::Add, Some(B::AddOptions(o))) => Options::Add(AddOptions {
            activation: activation(r.get(o.fused_activation_function(), "activation")?),
            pot_scale_int16: r.get(o.pot_scale_int16(), "pot_scale_int16")?,
        }),
        (OpCode::Add, None) => Options::Add(AddOptions {
            activation: Activation::None,
            pot_scale_int16: false,
        }),

        (OpCode::Sub, Some(B::SubOptions(o))) => Options::Sub(SubOptions {
            activation: activation(r.get(o.fused_activation_function(), "activation")?),
            pot_scale_int16: r.get(o.pot_scale_int16(), "pot_scale_int16")?,
        }),
        (OpCode::Sub, None) => Options::Sub(SubOptions {
            activation: Activation::None,
            pot_scale_int16: false,
        }),

        (OpCode::Mul, Some(B::MulOptions(o))) => Options::Mul(MulOptions {
            activation: activation(r.get(o.fused_activation_function(), "activation")?),
        }),
        (OpCode::Mul, None) => Options::Mul(MulOptions {
            activation: Activation::None,
        }),

        (OpCode::Mean, Some(B::ReducerOptions(o))) => Options::Reducer(ReducerOptions {
            keep_dims: r.get(o.keep_dims(), "keep_dims")?,
        }),
        (OpCode::Mean, None) => Options::Reducer(ReducerOptions { keep_dims: false }),

        (OpCode::Split, Some(B::SplitOptions(o))) => Options::Split(SplitOptions {
            num_splits: r.get(o.num_splits(), "num_splits")?,
        }),
        (OpCode::SplitV, Some(B::SplitVOptions(o))) => Options::Split(SplitOptions {
            num_splits: r.get(o.num_splits(), "num_splits")?,
        }),
        (OpCode::Split | OpCode::SplitV, None) => Options::Split(SplitOptions { num_splits: 0 }),

        (OpCode::Reshape, Some(B::ReshapeOptions(o))) => {
            let shape = r.get(o.new_shape(), "new_shape")?;
            Options::Reshape(ReshapeOptions {
                new_shape: shape.map(|v| v.iter().collect()),
            })
        }
        (OpCode::Reshape, None) => Options::Reshape(ReshapeOptions { new_shape: None }),

        (OpCode::ResizeBilinear, Some(B::ResizeBilinearOptions(o))) => {
            Options::Resize(ResizeOptions {
                align_corners: r.get(o.align_corners(), "align_corners")?,
                half_pixel_centers: r.get(o.half_pixel_centers(), "half_pixel_centers")?,
            })
        }
        (OpCode::ResizeNearestNeighbor, Some(B::ResizeNearestNeighborOptions(o))) => {
            Options::Resize(ResizeOptions {
                align_corners: r.get(o.align_corners(), "align_corners")?,
                half_pixel_centers: r.get(o.half_pixel_centers(), "half_pixel_centers")?,
            })
        }
        (OpCode::ResizeBilinear | OpCode::ResizeNearestNeighbor, None) => {
            Options::Resize(ResizeOptions::default())
        }

        (_, Some(other)) => {
            let expected = match code {
                OpCode::FullyConnected => "FullyConnectedOptions",
                OpCode::Softmax => "SoftmaxOptions",
                OpCode::Concatenation => "ConcatenationOptions",
                OpCode::Add => "AddOptions",
                OpCode::Sub => "SubOptions",
                OpCode::Mul => "MulOptions",
                OpCode::Mean => "ReducerOptions",
                OpCode::Split => "SplitOptions",
                OpCode::SplitV => "SplitVOptions",
                OpCode::ResizeBilinear => "ResizeBilinearOptions",
                OpCode::ResizeNearestNeighbor => "ResizeNearestNeighborOptions",
                _ => "ReshapeOptions",
            };
            return Err(r.wrong_type(expected, &other));
        }
        (_, None) => Options::None,
    };
    Ok(options)
}

/// The schema name of an options table, for error messages.
fn options_type_name(o: &fb::BuiltinOptionsRef<'_>) -> &'static str {
    use fb::BuiltinOptionsRef as B;
    match o {
        B::Conv2DOptions(_) => "Conv2DOptions",
        B::DepthwiseConv2DOptions(_) => "DepthwiseConv2DOptions",
        B::Pool2DOptions(_) => "Pool2DOptions",
        B::FullyConnectedOptions(_) => "FullyConnectedOptions",
        B::SoftmaxOptions(_) => "SoftmaxOptions",
        B::ConcatenationOptions(_) => "ConcatenationOptions",
        B::AddOptions(_) => "AddOptions",
        B::SubOptions(_) => "SubOptions",
        B::MulOptions(_) => "MulOptions",
        B::ReducerOptions(_) => "ReducerOptions",
        B::SplitOptions(_) => "SplitOptions",
        B::SplitVOptions(_) => "SplitVOptions",
        B::ReshapeOptions(_) => "ReshapeOptions",
        B::PadOptions(_) => "PadOptions",
        B::TransposeOptions(_) => "TransposeOptions",
        B::ResizeBilinearOptions(_) => "ResizeBilinearOptions",
        B::ResizeNearestNeighborOptions(_) => "ResizeNearestNeighborOptions",
        _ => "another operator's options table",
    }
}
