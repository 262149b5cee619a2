//! The decoded model: plain Rust data, validated once by [`parse`](super::parse), with no
//! reference into the flatbuffer left.

use std::ops::Range;

pub use super::options::{
    Activation, AddOptions, ConcatenationOptions, Conv2dOptions, DepthwiseConv2dOptions,
    FullyConnectedOptions, MulOptions, Options, Padding, Pool2dOptions, ReducerOptions,
    ReshapeOptions, SoftmaxOptions, SplitOptions, SubOptions, WeightsFormat,
};

/// Subgraph 0 of a `.tflite` model, decoded and validated.
///
/// Every tensor index stored here (operator inputs and outputs, model inputs and outputs) is
/// `< tensors.len()`, every shape's element count fits in an `i32` (as TFLite requires), and every
/// constant tensor's data has exactly the length its shape and dtype call for.
#[derive(Clone, Debug, PartialEq)]
pub struct TfliteModel {
    /// `Model.version`: the schema version (always 3, the only version `parse` accepts).
    pub version: u32,
    /// `Model.description`, the converter's note (e.g. `"MLIR Converted."`).
    pub description: Option<String>,
    /// `SubGraph.name` of subgraph 0 (e.g. `"main"`).
    pub subgraph_name: Option<String>,
    /// How many subgraphs the file has; only subgraph 0 may hold operators.
    pub num_subgraphs: usize,
    /// The tensors of subgraph 0, indexed by the tensor indices used everywhere else.
    pub tensors: Vec<Tensor>,
    /// The operators of subgraph 0 in execution order.
    pub operators: Vec<Operator>,
    /// Indices of the model's input tensors (`SubGraph.inputs`).
    pub inputs: Vec<usize>,
    /// Indices of the model's output tensors (`SubGraph.outputs`).
    pub outputs: Vec<usize>,
    /// The whole file, so that constant data can be returned as slices of it.
    pub(crate) file: Vec<u8>,
}

impl TfliteModel {
    /// The constant data of tensor `index`, or `None` for a tensor without data (an activation)
    /// or an index out of range.
    pub fn tensor_data(&self, index: usize) -> Option<&[u8]> {
        let range = self.tensors.get(index)?.data.clone()?;
        self.file.get(range)
    }

    /// The whole `.tflite` file the model was parsed from.
    pub fn file(&self) -> &[u8] {
        &self.file
    }

    /// Returns the first operator that `is_supported` rejects as
    /// [`ImportError::UnsupportedOp`](super::ImportError::UnsupportedOp), naming its index and
    /// TFLite name.
    pub fn ensure_supported(
        &self,
        mut is_supported: impl FnMut(&Operator) -> bool,
    ) -> Result<(), super::ImportError> {
        match self.operators.iter().position(|op| !is_supported(op)) {
            None => Ok(()),
            Some(index) => Err(super::ImportError::UnsupportedOp {
                op: index,
                op_name: self.operators[index].code.name().to_string(),
            }),
        }
    }

    /// Counts the operators of each kind, by TFLite name (`"CONV_2D" -> 15`), sorted by name.
    pub fn op_counts(&self) -> Vec<(String, usize)> {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for op in &self.operators {
            *counts.entry(op.code.name()).or_default() += 1;
        }
        counts
            .into_iter()
            .map(|(name, n)| (name.to_string(), n))
            .collect()
    }
}

/// One tensor of subgraph 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// `Tensor.name` (empty when the file has none).
    pub name: String,
    /// Dimensions, outermost first (NHWC for activations). Empty for a scalar.
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: DType,
    /// Affine quantization, when the tensor has scales.
    pub quantization: Option<Quantization>,
    /// `Tensor.buffer`: index into the model's buffer table (several tensors may share one).
    pub buffer: usize,
    /// Byte range of the constant data within the file ([`TfliteModel::tensor_data`]), `None`
    /// for activations.
    pub data: Option<Range<usize>>,
    /// `Tensor.is_variable`: a mutable state tensor (RNN state); bfmd's backbones have none.
    pub is_variable: bool,
}

impl Tensor {
    /// Number of elements (the product of the dimensions; 1 for a scalar).
    pub fn num_elements(&self) -> usize {
        self.shape
            .iter()
            .fold(1usize, |acc, &d| acc.saturating_mul(d))
    }

    /// Whether the tensor holds constant data (weights, biases, shape operands).
    pub fn is_constant(&self) -> bool {
        self.data.is_some()
    }
}

/// Affine quantization: `real = scale * (q - zero_point)`.
#[derive(Clone, Debug, PartialEq)]
pub enum Quantization {
    /// One scale and zero point for the whole tensor.
    PerTensor {
        /// The scale (finite, > 0).
        scale: f32,
        /// The zero point (within the range of the tensor's integer dtype).
        zero_point: i32,
    },
    /// One scale and zero point per slice along `axis` (`scales.len() == shape[axis]`), as
    /// TFLite uses for convolution and fully connected weights (and their biases).
    PerChannel {
        /// The scales (finite, > 0), one per channel.
        scales: Vec<f32>,
        /// The zero points, one per channel.
        zero_points: Vec<i32>,
        /// `QuantizationParameters.quantized_dimension`: the channel axis.
        axis: usize,
    },
}

/// Element type of a tensor (`TensorType` in the schema).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // The variants are the schema's type names.
pub enum DType {
    F32,
    F16,
    I32,
    U8,
    I64,
    String,
    Bool,
    I16,
    Complex64,
    I8,
    F64,
    Complex128,
    U64,
    Resource,
    Variant,
    U32,
    U16,
    I4,
    BF16,
}

impl DType {
    /// The schema's name of the type (`"INT8"`, `"FLOAT32"`).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "FLOAT32",
            DType::F16 => "FLOAT16",
            DType::I32 => "INT32",
            DType::U8 => "UINT8",
            DType::I64 => "INT64",
            DType::String => "STRING",
            DType::Bool => "BOOL",
            DType::I16 => "INT16",
            DType::Complex64 => "COMPLEX64",
            DType::I8 => "INT8",
            DType::F64 => "FLOAT64",
            DType::Complex128 => "COMPLEX128",
            DType::U64 => "UINT64",
            DType::Resource => "RESOURCE",
            DType::Variant => "VARIANT",
            DType::U32 => "UINT32",
            DType::U16 => "UINT16",
            DType::I4 => "INT4",
            DType::BF16 => "BFLOAT16",
        }
    }

    /// Bytes of constant data that `elements` values of this type occupy, or `None` for the
    /// types without a fixed size (strings, resources, variants) and on overflow.
    ///
    /// INT4 constants are packed two to a byte, low nibble first, as TFLite stores them.
    pub fn data_len(self, elements: usize) -> Option<usize> {
        let size = match self {
            DType::String | DType::Resource | DType::Variant => return None,
            DType::I4 => return Some(elements.div_ceil(2)),
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::F16 | DType::BF16 | DType::I16 | DType::U16 => 2,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::F64 | DType::I64 | DType::U64 | DType::Complex64 => 8,
            DType::Complex128 => 16,
        };
        elements.checked_mul(size)
    }

    /// The range of stored values for the integer types that carry zero points, `None` for the
    /// others.
    pub fn integer_range(self) -> Option<(i64, i64)> {
        match self {
            DType::I4 => Some((-8, 7)),
            DType::I8 => Some((i8::MIN.into(), i8::MAX.into())),
            DType::U8 => Some((0, u8::MAX.into())),
            DType::I16 => Some((i16::MIN.into(), i16::MAX.into())),
            DType::U16 => Some((0, u16::MAX.into())),
            DType::I32 => Some((i32::MIN.into(), i32::MAX.into())),
            _ => None,
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One operator of subgraph 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Operator {
    /// What the operator computes.
    pub code: OpCode,
    /// `OperatorCode.version`: the operator's version (kernels key features on it).
    pub version: i32,
    /// Input tensor indices; `None` for an omitted optional input (`-1` in the file), such as a
    /// missing bias.
    pub inputs: Vec<Option<usize>>,
    /// Output tensor indices.
    pub outputs: Vec<usize>,
    /// `Operator.intermediates`: tensors internal to the op (quantized LSTM), usually empty.
    pub intermediates: Vec<usize>,
    /// The decoded builtin options (see [`Options`] for the defaults of an absent table).
    pub options: Options,
}

impl Operator {
    /// Input `slot` as a tensor index, `None` when the slot is absent or omitted.
    pub fn input(&self, slot: usize) -> Option<usize> {
        self.inputs.get(slot).copied().flatten()
    }
}

/// What an operator computes: the builtin operators bfmd lowers, by name, and every other code.
///
/// The code is `max(builtin_code, deprecated_builtin_code)`, TFLite's rule for files written
/// before and after the 8-bit code field ran out (`tensorflow/lite/schema/schema_utils.cc`,
/// `GetBuiltinCode`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // The variants are TFLite's operator names.
pub enum OpCode {
    Add,
    AveragePool2d,
    Concatenation,
    Conv2d,
    DepthwiseConv2d,
    Dequantize,
    FullyConnected,
    HardSwish,
    Logistic,
    MaxPool2d,
    Mean,
    Mul,
    Pad,
    PadV2,
    Prelu,
    Quantize,
    Relu,
    Relu6,
    Reshape,
    ResizeBilinear,
    ResizeNearestNeighbor,
    Softmax,
    Split,
    SplitV,
    Sub,
    Transpose,
    /// `CUSTOM` (code 32) with its `custom_code` name.
    Custom(String),
    /// Any other builtin code with the schema's name for it (`"UNKNOWN"` for a code newer than
    /// the schema bfmd was generated from).
    Other(i32, String),
}

impl OpCode {
    /// Decodes a builtin code (and, for `CUSTOM`, the custom op's name).
    pub fn from_code(code: i32, custom_code: Option<&str>) -> OpCode {
        match code {
            0 => OpCode::Add,
            1 => OpCode::AveragePool2d,
            2 => OpCode::Concatenation,
            3 => OpCode::Conv2d,
            4 => OpCode::DepthwiseConv2d,
            6 => OpCode::Dequantize,
            9 => OpCode::FullyConnected,
            14 => OpCode::Logistic,
            17 => OpCode::MaxPool2d,
            18 => OpCode::Mul,
            19 => OpCode::Relu,
            21 => OpCode::Relu6,
            22 => OpCode::Reshape,
            23 => OpCode::ResizeBilinear,
            25 => OpCode::Softmax,
            32 => OpCode::Custom(custom_code.unwrap_or_default().to_string()),
            34 => OpCode::Pad,
            39 => OpCode::Transpose,
            40 => OpCode::Mean,
            41 => OpCode::Sub,
            49 => OpCode::Split,
            54 => OpCode::Prelu,
            60 => OpCode::PadV2,
            97 => OpCode::ResizeNearestNeighbor,
            102 => OpCode::SplitV,
            114 => OpCode::Quantize,
            117 => OpCode::HardSwish,
            other => OpCode::Other(other, builtin_name(other).to_string()),
        }
    }

    /// The builtin code (`CONV_2D` is 3; `CUSTOM` is 32).
    pub fn code(&self) -> i32 {
        match self {
            OpCode::Add => 0,
            OpCode::AveragePool2d => 1,
            OpCode::Concatenation => 2,
            OpCode::Conv2d => 3,
            OpCode::DepthwiseConv2d => 4,
            OpCode::Dequantize => 6,
            OpCode::FullyConnected => 9,
            OpCode::Logistic => 14,
            OpCode::MaxPool2d => 17,
            OpCode::Mul => 18,
            OpCode::Relu => 19,
            OpCode::Relu6 => 21,
            OpCode::Reshape => 22,
            OpCode::ResizeBilinear => 23,
            OpCode::Softmax => 25,
            OpCode::Custom(_) => 32,
            OpCode::Pad => 34,
            OpCode::Transpose => 39,
            OpCode::Mean => 40,
            OpCode::Sub => 41,
            OpCode::Split => 49,
            OpCode::Prelu => 54,
            OpCode::PadV2 => 60,
            OpCode::ResizeNearestNeighbor => 97,
            OpCode::SplitV => 102,
            OpCode::Quantize => 114,
            OpCode::HardSwish => 117,
            OpCode::Other(code, _) => *code,
        }
    }

    /// TFLite's name of the operator (`"DEPTHWISE_CONV_2D"`); a custom op's own name.
    pub fn name(&self) -> &str {
        match self {
            OpCode::Custom(name) => name,
            OpCode::Other(_, name) => name,
            known => builtin_name(known.code()),
        }
    }

    /// Whether this is one of the operators named in this enum (not `Custom` or `Other`).
    pub fn is_known(&self) -> bool {
        !matches!(self, OpCode::Custom(_) | OpCode::Other(..))
    }
}

impl std::fmt::Display for OpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The schema's name of builtin code `code`, `"UNKNOWN"` outside the schema's range.
pub fn builtin_name(code: i32) -> &'static str {
    usize::try_from(code)
        .ok()
        .and_then(|i| BUILTIN_NAMES.get(i))
        .copied()
        .unwrap_or("UNKNOWN")
}

/// `BuiltinOperator` names indexed by code, as in `schema.fbs` (a test checks the two agree).
pub(crate) const BUILTIN_NAMES: [&str; 210] = [
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE",
    "DEQUANTIZE",
    "EMBEDDING_LOOKUP",
    "FLOOR",
    "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION",
    "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC",
    "LSH_PROJECTION",
    "LSTM",
    "MAX_POOL_2D",
    "MUL",
    "RELU",
    "RELU_N1_TO_1",
    "RELU6",
    "RESHAPE",
    "RESIZE_BILINEAR",
    "RNN",
    "SOFTMAX",
    "SPACE_TO_DEPTH",
    "SVDF",
    "TANH",
    "CONCAT_EMBEDDINGS",
    "SKIP_GRAM",
    "CALL",
    "CUSTOM",
    "EMBEDDING_LOOKUP_SPARSE",
    "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN",
    "GATHER",
    "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND",
    "TRANSPOSE",
    "MEAN",
    "SUB",
    "DIV",
    "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE",
    "BIDIRECTIONAL_SEQUENCE_RNN",
    "EXP",
    "TOPK_V2",
    "SPLIT",
    "LOG_SOFTMAX",
    "DELEGATE",
    "BIDIRECTIONAL_SEQUENCE_LSTM",
    "CAST",
    "PRELU",
    "MAXIMUM",
    "ARG_MAX",
    "MINIMUM",
    "LESS",
    "NEG",
    "PADV2",
    "GREATER",
    "GREATER_EQUAL",
    "LESS_EQUAL",
    "SELECT",
    "SLICE",
    "SIN",
    "TRANSPOSE_CONV",
    "SPARSE_TO_DENSE",
    "TILE",
    "EXPAND_DIMS",
    "EQUAL",
    "NOT_EQUAL",
    "LOG",
    "SUM",
    "SQRT",
    "RSQRT",
    "SHAPE",
    "POW",
    "ARG_MIN",
    "FAKE_QUANT",
    "REDUCE_PROD",
    "REDUCE_MAX",
    "PACK",
    "LOGICAL_OR",
    "ONE_HOT",
    "LOGICAL_AND",
    "LOGICAL_NOT",
    "UNPACK",
    "REDUCE_MIN",
    "FLOOR_DIV",
    "REDUCE_ANY",
    "SQUARE",
    "ZEROS_LIKE",
    "FILL",
    "FLOOR_MOD",
    "RANGE",
    "RESIZE_NEAREST_NEIGHBOR",
    "LEAKY_RELU",
    "SQUARED_DIFFERENCE",
    "MIRROR_PAD",
    "ABS",
    "SPLIT_V",
    "UNIQUE",
    "CEIL",
    "REVERSE_V2",
    "ADD_N",
    "GATHER_ND",
    "COS",
    "WHERE",
    "RANK",
    "ELU",
    "REVERSE_SEQUENCE",
    "MATRIX_DIAG",
    "QUANTIZE",
    "MATRIX_SET_DIAG",
    "ROUND",
    "HARD_SWISH",
    "IF",
    "WHILE",
    "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND",
    "SELECT_V2",
    "DENSIFY",
    "SEGMENT_SUM",
    "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES",
    "CUMSUM",
    "CALL_ONCE",
    "BROADCAST_TO",
    "RFFT2D",
    "CONV_3D",
    "IMAG",
    "REAL",
    "COMPLEX_ABS",
    "HASHTABLE",
    "HASHTABLE_FIND",
    "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE",
    "REDUCE_ALL",
    "CONV_3D_TRANSPOSE",
    "VAR_HANDLE",
    "READ_VARIABLE",
    "ASSIGN_VARIABLE",
    "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE",
    "RANDOM_UNIFORM",
    "MULTINOMIAL",
    "GELU",
    "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD",
    "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM",
    "ATAN2",
    "UNSORTED_SEGMENT_MIN",
    "SIGN",
    "BITCAST",
    "BITWISE_XOR",
    "RIGHT_SHIFT",
    "STABLEHLO_LOGISTIC",
    "STABLEHLO_ADD",
    "STABLEHLO_DIVIDE",
    "STABLEHLO_MULTIPLY",
    "STABLEHLO_MAXIMUM",
    "STABLEHLO_RESHAPE",
    "STABLEHLO_CLAMP",
    "STABLEHLO_CONCATENATE",
    "STABLEHLO_BROADCAST_IN_DIM",
    "STABLEHLO_CONVOLUTION",
    "STABLEHLO_SLICE",
    "STABLEHLO_CUSTOM_CALL",
    "STABLEHLO_REDUCE",
    "STABLEHLO_ABS",
    "STABLEHLO_AND",
    "STABLEHLO_COSINE",
    "STABLEHLO_EXPONENTIAL",
    "STABLEHLO_FLOOR",
    "STABLEHLO_LOG",
    "STABLEHLO_MINIMUM",
    "STABLEHLO_NEGATE",
    "STABLEHLO_OR",
    "STABLEHLO_POWER",
    "STABLEHLO_REMAINDER",
    "STABLEHLO_RSQRT",
    "STABLEHLO_SELECT",
    "STABLEHLO_SUBTRACT",
    "STABLEHLO_TANH",
    "STABLEHLO_SCATTER",
    "STABLEHLO_COMPARE",
    "STABLEHLO_CONVERT",
    "STABLEHLO_DYNAMIC_SLICE",
    "STABLEHLO_DYNAMIC_UPDATE_SLICE",
    "STABLEHLO_PAD",
    "STABLEHLO_IOTA",
    "STABLEHLO_DOT_GENERAL",
    "STABLEHLO_REDUCE_WINDOW",
    "STABLEHLO_SORT",
    "STABLEHLO_WHILE",
    "STABLEHLO_GATHER",
    "STABLEHLO_TRANSPOSE",
    "DILATE",
    "STABLEHLO_RNG_BIT_GENERATOR",
    "REDUCE_WINDOW",
    "STABLEHLO_COMPOSITE",
    "STABLEHLO_SHIFT_LEFT",
    "STABLEHLO_CBRT",
    "STABLEHLO_CASE",
];
