//! Graph-level op kinds, element types, execution variants and the parameter layout of each op.
//!
//! Every op record carries its parameters as little-endian 32-bit words; the modules below name
//! the word indices so that the builder (which writes them) and the executor (which reads them)
//! cannot disagree. Quantization constants (multipliers, shifts, offsets, clamp ranges) are
//! computed by the builder on the host with the kernels' `from_scales` constructors; the executor
//! only copies words into the kernels' parameter structs.

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DType {
    /// Signed 8-bit integer (TFLite int8 quantization).
    S8,
    /// Signed 32-bit integer (biases, multipliers, shifts).
    I32,
    /// IEEE single precision.
    F32,
    /// IEEE half precision (`half::f16`).
    F16,
}

impl DType {
    /// Size of one element in bytes.
    pub const fn size(self) -> usize {
        match self {
            DType::S8 => 1,
            DType::F16 => 2,
            DType::I32 | DType::F32 => 4,
        }
    }

    /// The code stored in the tensor table.
    pub const fn code(self) -> u8 {
        match self {
            DType::S8 => 0,
            DType::I32 => 1,
            DType::F32 => 2,
            DType::F16 => 3,
        }
    }

    /// Decodes a tensor-table code.
    pub const fn from_code(c: u8) -> Option<Self> {
        match c {
            0 => Some(DType::S8),
            1 => Some(DType::I32),
            2 => Some(DType::F32),
            3 => Some(DType::F16),
            _ => None,
        }
    }

    /// The dtype's name as printed in errors (`s8`, `i32`, `f32`, `f16`).
    pub const fn name(self) -> &'static str {
        match self {
            DType::S8 => "s8",
            DType::I32 => "i32",
            DType::F32 => "f32",
            DType::F16 => "f16",
        }
    }

    /// `true` for the floating-point types.
    pub const fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16)
    }
}

/// Where a tensor's bytes live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TensorKind {
    /// In the arena, at an offset chosen by the planner.
    Activation,
    /// In the blob's constant section (flash), read only.
    Constant,
}

/// How an op's output is placed relative to its inputs, as chosen by the planner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Variant {
    /// Output disjoint from every input.
    Normal,
    /// Output 0 starts at the same arena offset as input `input` (which dies at this op) and is
    /// no longer than it; the kernel's `_inplace` form runs. A `Reshape` is always
    /// `InPlace { input: 0 }` with identical regions: a view.
    InPlace {
        /// Which input is overwritten (0, or 1 for the symmetric `Add`/`Mul`).
        input: u8,
    },
    /// Output 0 overlaps input 0 at the offset the 1x1 convolution kernel accepts
    /// (`pointwise_conv_s8_overlapping`).
    Overlapping,
}

impl Variant {
    /// The code stored in the op record.
    pub const fn code(self) -> u8 {
        match self {
            Variant::Normal => 0,
            Variant::InPlace { input: 0 } => 1,
            Variant::InPlace { .. } => 2,
            Variant::Overlapping => 3,
        }
    }

    /// Decodes an op-record code.
    pub const fn from_code(c: u8) -> Option<Self> {
        match c {
            0 => Some(Variant::Normal),
            1 => Some(Variant::InPlace { input: 0 }),
            2 => Some(Variant::InPlace { input: 1 }),
            3 => Some(Variant::Overlapping),
            _ => None,
        }
    }
}

macro_rules! op_kinds {
    ($($(#[$doc:meta])* $name:ident = $code:literal,)*) => {
        /// One graph-level operation. The discriminant is the code stored in the op table.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[repr(u8)]
        pub enum OpKind {
            $($(#[$doc])* $name = $code,)*
        }

        impl OpKind {
            /// Every op kind, in code order.
            pub const ALL: &'static [OpKind] = &[$(OpKind::$name,)*];

            /// Decodes an op-table code.
            pub const fn from_code(c: u8) -> Option<Self> {
                match c {
                    $($code => Some(OpKind::$name),)*
                    _ => None,
                }
            }

            /// The op's name as printed in errors and plan reports.
            pub const fn name(self) -> &'static str {
                match self {
                    $(OpKind::$name => stringify!($name),)*
                }
            }
        }
    };
}

op_kinds! {
    /// 2-D convolution, dense or grouped, any window (TFLite `CONV_2D`).
    Conv2d = 1,
    /// Depthwise convolution with a channel multiplier (TFLite `DEPTHWISE_CONV_2D`).
    DepthwiseConv2d = 2,
    /// Fully connected layer, weights `[out, in]` (TFLite `FULLY_CONNECTED`).
    FullyConnected = 3,
    /// Max pooling (TFLite `MAX_POOL_2D`).
    MaxPool2d = 4,
    /// Average pooling (TFLite `AVERAGE_POOL_2D`, or PyTorch's `count_include_pad`).
    AvgPool2d = 5,
    /// Mean over height and width (TFLite `MEAN` with axis `[1, 2]`).
    Mean = 6,
    /// Elementwise addition with broadcasting of a `[1,1,1,C]` vector or a scalar.
    Add = 7,
    /// Elementwise multiplication with broadcasting of a `[1,1,1,C]` vector or a scalar.
    Mul = 8,
    /// Concatenation along one axis.
    Concat = 9,
    /// Split along one axis into outputs of any sizes.
    Split = 10,
    /// ShuffleNet channel shuffle with `groups`.
    ChannelShuffle = 11,
    /// Constant padding of the four dimensions.
    Pad = 12,
    /// Permutation of the four dimensions.
    Transpose = 13,
    /// A new shape for the same bytes: a view, no data movement.
    Reshape = 14,
    /// `max(x, 0)`.
    Relu = 15,
    /// `min(max(x, 0), 6)`.
    Relu6 = 16,
    /// `min(max(x, -1), 1)`.
    ReluN1To1 = 17,
    /// `relu6(x + 3) / 6` (PyTorch `Hardsigmoid`; int8 through a lookup table).
    HardSigmoid = 18,
    /// `x * relu6(x + 3) / 6` (TFLite `HARD_SWISH`).
    HardSwish = 19,
    /// `1 / (1 + exp(-x))` (TFLite `LOGISTIC`).
    Logistic = 20,
    /// `x * sigmoid(x)` (int8 through a lookup table).
    Swish = 21,
    /// Softmax over the channel axis (TFLite `SOFTMAX`).
    Softmax = 22,
    /// Float to int8 (TFLite `QUANTIZE`).
    Quantize = 23,
    /// Int8 to float (TFLite `DEQUANTIZE`).
    Dequantize = 24,
    /// Int8 to int8 with another scale and zero point (TFLite `QUANTIZE` int8 -> int8).
    Requantize = 25,
    /// Any int8 unary function as a 256-entry table (input 1 is the table).
    Lut = 26,
    /// ShuffleNet's concat -> channel shuffle -> split in one pass: the inputs are concatenated
    /// along channels, the `C` channels shuffled in `groups` groups and split into the outputs,
    /// equal channel parts. One input is a shuffle and split, one output a concat and shuffle.
    /// The builder's fusion pass writes it (`builder::fuse`); values are copied unchanged.
    ConcatShuffleSplit = 27,
    /// Parametric ReLU: `x` where `x >= 0`, else `alpha * x`, with input 1 the constant
    /// `alpha` broadcast against `x` (TFLite `PRELU`; f32).
    Prelu = 28,
    /// Bilinear resize of height and width (TFLite `RESIZE_BILINEAR`; f32). Parameters:
    /// [`resize`].
    ResizeBilinear = 29,
    /// Nearest-neighbour resize of height and width (TFLite `RESIZE_NEAREST_NEIGHBOR`; any
    /// dtype, values copied). Parameters: [`resize`].
    ResizeNearest = 30,
    /// Elementwise subtraction `a - b` with broadcasting (TFLite `SUB`); int8 parameters as
    /// `Add`'s.
    Sub = 31,
}

impl OpKind {
    /// `true` for ops whose kernels have an in-place form over their (same-shaped) input:
    /// the elementwise maps, and `Softmax`, which reads each row entirely before writing it.
    pub const fn is_unary_in_place(self) -> bool {
        matches!(
            self,
            OpKind::Relu
                | OpKind::Relu6
                | OpKind::ReluN1To1
                | OpKind::HardSigmoid
                | OpKind::HardSwish
                | OpKind::Logistic
                | OpKind::Swish
                | OpKind::Requantize
                | OpKind::Lut
                | OpKind::Softmax
        )
    }
}

/// The sentinel stored for an absent optional input (a convolution without bias).
pub const NO_TENSOR: u16 = 0xFFFF;

/// Parameter words of `Conv2d` and `DepthwiseConv2d`.
///
/// Inputs: `0` input, `1` filter, `2` bias (or [`NO_TENSOR`]), and for int8 `3` per-channel
/// multipliers and `4` per-channel shifts (i32 constants of `out_c` elements). For float models
/// `ACT_MIN`/`ACT_MAX` are `f32` bit patterns; for int8 they are the quantized clamp range.
pub mod conv {
    /// Window height.
    pub const KERNEL_H: usize = 0;
    /// Window width.
    pub const KERNEL_W: usize = 1;
    /// Vertical stride.
    pub const STRIDE_H: usize = 2;
    /// Horizontal stride.
    pub const STRIDE_W: usize = 3;
    /// Vertical dilation.
    pub const DILATION_H: usize = 4;
    /// Horizontal dilation.
    pub const DILATION_W: usize = 5;
    /// Padding rows above.
    pub const PAD_TOP: usize = 6;
    /// Padding rows below.
    pub const PAD_BOTTOM: usize = 7;
    /// Padding columns left.
    pub const PAD_LEFT: usize = 8;
    /// Padding columns right.
    pub const PAD_RIGHT: usize = 9;
    /// Groups (`Conv2d`) or channel multiplier (`DepthwiseConv2d`).
    pub const GROUPS: usize = 10;
    /// int8: `-input_zero_point`.
    pub const INPUT_OFFSET: usize = 11;
    /// int8: `output_zero_point`.
    pub const OUTPUT_OFFSET: usize = 12;
    /// Lower clamp.
    pub const ACT_MIN: usize = 13;
    /// Upper clamp.
    pub const ACT_MAX: usize = 14;
    /// Number of words.
    pub const WORDS: usize = 15;
}

/// Parameter words of `FullyConnected`.
///
/// Inputs: `0` input (`[batches, in]` as any shape of `batches * in` elements), `1` weights
/// (`[out, in]`, stored as shape `(out, 1, 1, in)`, or for int8 as int16 pairs, see
/// `fc::dims`), `2` bias or [`NO_TENSOR`], and for int8 `3` multipliers and `4` shifts (1
/// element for per-tensor, `out` for per-channel weights).
pub mod fc {
    /// int8: `-input_zero_point`.
    pub const INPUT_OFFSET: usize = 0;
    /// int8: `-weights_zero_point` (0 for TFLite's symmetric weights).
    pub const FILTER_OFFSET: usize = 1;
    /// int8: `output_zero_point`.
    pub const OUTPUT_OFFSET: usize = 2;
    /// Lower clamp (`f32` bits for float models).
    pub const ACT_MIN: usize = 3;
    /// Upper clamp (`f32` bits for float models).
    pub const ACT_MAX: usize = 4;
    /// Number of words.
    pub const WORDS: usize = 5;

    /// `(out, in, packed)` of a fully connected op of `dtype` from its weights' dtype and
    /// shape: int8 weights may be stored as int16 pairs (`builder/wide.rs`), `I32` words of
    /// shape `(out, 1, 1, in / 2)`.
    pub(crate) fn dims(
        dtype: super::DType,
        weights_dtype: super::DType,
        weights: bfmd_kernels::Shape,
    ) -> (usize, usize, bool) {
        let packed = dtype == super::DType::S8 && weights_dtype == super::DType::I32;
        let in_f = if packed { 2 * weights.c } else { weights.c };
        (weights.n, in_f, packed)
    }
}

/// Parameter words of `MaxPool2d` and `AvgPool2d`.
pub mod pool {
    /// Window height.
    pub const KERNEL_H: usize = 0;
    /// Window width.
    pub const KERNEL_W: usize = 1;
    /// Vertical stride.
    pub const STRIDE_H: usize = 2;
    /// Horizontal stride.
    pub const STRIDE_W: usize = 3;
    /// Padding rows above.
    pub const PAD_TOP: usize = 4;
    /// Padding rows below.
    pub const PAD_BOTTOM: usize = 5;
    /// Padding columns left.
    pub const PAD_LEFT: usize = 6;
    /// Padding columns right.
    pub const PAD_RIGHT: usize = 7;
    /// `AvgPool2d`: 1 to divide by the full window (PyTorch `count_include_pad`), 0 to divide
    /// by the in-bounds taps (TFLite).
    pub const COUNT_INCLUDE_PAD: usize = 8;
    /// Lower clamp (`f32` bits for float models).
    pub const ACT_MIN: usize = 9;
    /// Upper clamp (`f32` bits for float models).
    pub const ACT_MAX: usize = 10;
    /// Number of words.
    pub const WORDS: usize = 11;
}

/// Parameter words of `Concat` and `Split`.
pub mod axis {
    /// The axis, 0..=3 in NHWC order.
    pub const AXIS: usize = 0;
    /// Number of words.
    pub const WORDS: usize = 1;
}

/// Parameter words of `ChannelShuffle` and `ConcatShuffleSplit`.
pub mod shuffle {
    /// Number of groups.
    pub const GROUPS: usize = 0;
    /// Number of words.
    pub const WORDS: usize = 1;
}

/// Parameter words of `Pad`: padding before/after each NHWC dimension and the fill value.
pub mod pad {
    /// `BEFORE + d` is the padding before dimension `d` (0 = N ... 3 = C).
    pub const BEFORE: usize = 0;
    /// `AFTER + d` is the padding after dimension `d`.
    pub const AFTER: usize = 4;
    /// Fill value: the int8 zero point, or the `f32` bits of the float value.
    pub const VALUE: usize = 8;
    /// Number of words.
    pub const WORDS: usize = 9;
}

/// Parameter words of `Transpose`: output dimension `d` is input dimension `perm[d]`.
pub mod transpose {
    /// `PERM + d` holds `perm[d]`.
    pub const PERM: usize = 0;
    /// Number of words.
    pub const WORDS: usize = 4;
}

/// Parameter words of `Softmax` for float models.
pub mod softmax_f {
    /// `beta` as `f32` bits.
    pub const BETA: usize = 0;
    /// Number of words.
    pub const WORDS: usize = 1;
}

/// Parameter words of `Quantize` and `Dequantize`.
pub mod affine {
    /// The int8 side's scale as `f32` bits.
    pub const SCALE: usize = 0;
    /// The int8 side's zero point.
    pub const ZERO_POINT: usize = 1;
    /// Number of words.
    pub const WORDS: usize = 2;
}

/// Number of quantization words of the int8 forms of the elementwise and activation ops, in
/// the order of TFLM's `Prepare` outputs (the executor copies them into the kernels' parameter
/// structs; see `exec.rs` for the mapping).
pub mod s8_words {
    /// `Add`: TFLM `ArithmeticParams` for int8 add (`add_common.cc`): input1/2 offsets, left
    /// shift, input1/2 multiplier and shift, output multiplier, shift and offset, clamp range.
    pub const ADD: usize = 12;
    /// `Mul`: input1/2 offsets, output offset, output multiplier and shift, clamp range
    /// (`mul_common.cc`).
    pub const MUL: usize = 7;
    /// `Mean`: input zero point, output zero point, multiplier, shift (`reduce_common.cc`).
    pub const MEAN: usize = 4;
    /// `Relu`, `ReluN1To1`: input and output offsets, multiplier and shift, clamp range
    /// (`activations_common.cc`, `CalculateReluOpData`; `ReluS8Params` field order).
    pub const RELU: usize = 6;
    /// `Relu6`: the quantized 0 and 6 of the input (`Relu6Prepare`; equal in/out quantization).
    pub const RELU6: usize = 2;
    /// `HardSwish`: input and output zero points, reluish multiplier (int16) and exponent,
    /// output multiplier (int16) and exponent (`hard_swish_common.cc`).
    pub const HARD_SWISH: usize = 6;
    /// `Logistic`: input zero point, input range radius, input multiplier, input left shift
    /// (`logistic_common.cc`).
    pub const LOGISTIC: usize = 4;
    /// `Softmax`: input multiplier, input left shift, diff_min (`softmax_common.cc`).
    pub const SOFTMAX: usize = 3;
    /// `Requantize`: input offset, output offset, multiplier, shift (`quantize_common.cc`;
    /// `RequantizeS8Params` field order).
    pub const REQUANTIZE: usize = 4;
}

/// Number of parameter words an op of `kind` carries when its quantized side is `dtype` (the
/// input's type, except for `Quantize` where it is the output's).
pub const fn param_words(kind: OpKind, dtype: DType) -> usize {
    let s8 = matches!(dtype, DType::S8);
    match kind {
        OpKind::Conv2d | OpKind::DepthwiseConv2d => conv::WORDS,
        OpKind::FullyConnected => fc::WORDS,
        OpKind::MaxPool2d | OpKind::AvgPool2d => pool::WORDS,
        OpKind::Mean => {
            if s8 {
                s8_words::MEAN
            } else {
                0
            }
        }
        OpKind::Add => {
            if s8 {
                s8_words::ADD
            } else {
                2
            }
        }
        OpKind::Sub => {
            if s8 {
                s8_words::ADD
            } else {
                2
            }
        }
        OpKind::Mul => {
            if s8 {
                s8_words::MUL
            } else {
                2
            }
        }
        OpKind::Concat | OpKind::Split => axis::WORDS,
        OpKind::ChannelShuffle | OpKind::ConcatShuffleSplit => shuffle::WORDS,
        OpKind::Pad => pad::WORDS,
        OpKind::Transpose => transpose::WORDS,
        OpKind::Reshape => 0,
        OpKind::Relu | OpKind::ReluN1To1 => {
            if s8 {
                s8_words::RELU
            } else {
                0
            }
        }
        OpKind::Relu6 => {
            if s8 {
                s8_words::RELU6
            } else {
                0
            }
        }
        OpKind::HardSwish => {
            if s8 {
                s8_words::HARD_SWISH
            } else {
                0
            }
        }
        OpKind::Logistic => {
            if s8 {
                s8_words::LOGISTIC
            } else {
                0
            }
        }
        OpKind::Softmax => {
            if s8 {
                s8_words::SOFTMAX
            } else {
                softmax_f::WORDS
            }
        }
        OpKind::HardSigmoid | OpKind::Swish | OpKind::Lut => 0,
        OpKind::Prelu => 0,
        OpKind::ResizeBilinear | OpKind::ResizeNearest => resize::WORDS,
        OpKind::Quantize | OpKind::Dequantize => affine::WORDS,
        OpKind::Requantize => s8_words::REQUANTIZE,
    }
}

/// Parameter words of `ResizeBilinear` and `ResizeNearest` (TFLite's options, 0 or 1).
pub mod resize {
    /// `align_corners`.
    pub const ALIGN_CORNERS: usize = 0;
    /// `half_pixel_centers`.
    pub const HALF_PIXEL_CENTERS: usize = 1;
    /// Number of words.
    pub const WORDS: usize = 2;
}

/// Element type of the bias of a convolution-like op of `dtype`: int32 for int8 models, `f32`
/// for both float types (the f16 kernels accumulate and add biases in `f32`).
pub const fn bias_dtype(dtype: DType) -> DType {
    match dtype {
        DType::S8 | DType::I32 => DType::I32,
        DType::F32 | DType::F16 => DType::F32,
    }
}
