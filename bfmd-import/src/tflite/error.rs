//! What `parse` reports: which table, which operator or tensor (index and name), and what is
//! wrong with it.

use super::ir::DType;

/// Why a `.tflite` file cannot be imported.
///
/// The `Display` text starts with the table path (`model.subgraphs[0].operators[12]`) and then
/// names the operator (`op 12 (DEPTHWISE_CONV_2D)`) or tensor (`tensor 5 'conv1/weights'`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ImportError {
    /// The bytes are not a TFLite flatbuffer (too short, or the file identifier is not `TFL3`).
    NotTflite {
        /// What was found instead.
        detail: String,
    },
    /// The flatbuffer itself is malformed (an offset, length, string or enum tag is invalid).
    Malformed {
        /// The table or field being read (`model.subgraphs[0].tensors[7].shape`).
        location: String,
        /// The flatbuffer reader's description of the fault.
        detail: String,
    },
    /// A table or vector that bfmd needs is absent.
    Missing {
        /// Where it should be.
        location: String,
    },
    /// `Model.version` is not 3, the only schema version TFLite and TFLM run.
    UnsupportedSchemaVersion {
        /// The version found.
        version: u32,
    },
    /// A subgraph other than subgraph 0 holds operators (control flow or a decomposition), and
    /// bfmd imports subgraph 0 only.
    ExtraSubgraph {
        /// Index of the subgraph.
        subgraph: usize,
        /// How many operators it has.
        operators: usize,
    },
    /// An operator's `opcode_index` is past the end of `Model.operator_codes`.
    OpcodeIndex {
        /// Operator index in subgraph 0.
        op: usize,
        /// The index found.
        opcode_index: u32,
        /// Length of `Model.operator_codes`.
        codes: usize,
    },
    /// An operator refers to a tensor that does not exist.
    OpTensorIndex {
        /// Operator index in subgraph 0.
        op: usize,
        /// TFLite name of the operator.
        op_name: String,
        /// `"input"`, `"output"` or `"intermediate"`.
        role: &'static str,
        /// Position in the operator's list.
        slot: usize,
        /// The tensor index found.
        tensor: i32,
        /// How many tensors subgraph 0 has.
        tensors: usize,
    },
    /// `SubGraph.inputs` or `SubGraph.outputs` refers to a tensor that does not exist.
    IoTensorIndex {
        /// `"input"` or `"output"`.
        role: &'static str,
        /// Position in the list.
        slot: usize,
        /// The tensor index found.
        tensor: i32,
        /// How many tensors subgraph 0 has.
        tensors: usize,
    },
    /// A tensor's buffer index is past the end of `Model.buffers`.
    BufferIndex {
        /// Tensor index.
        tensor: usize,
        /// Tensor name.
        name: String,
        /// The buffer index found.
        buffer: u32,
        /// Length of `Model.buffers`.
        buffers: usize,
    },
    /// A buffer stored outside the flatbuffer (`offset`/`size`, for models over 2 GB) does not
    /// lie within the file.
    BufferRange {
        /// Tensor index.
        tensor: usize,
        /// Tensor name.
        name: String,
        /// Buffer index.
        buffer: usize,
        /// `Buffer.offset`.
        offset: u64,
        /// `Buffer.size`.
        size: u64,
        /// Length of the file.
        file_len: usize,
    },
    /// A tensor's shape is negative, too long, or too large.
    InvalidShape {
        /// Tensor index.
        tensor: usize,
        /// Tensor name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// A tensor's type code is not in the schema.
    UnknownDtype {
        /// Tensor index.
        tensor: usize,
        /// Tensor name.
        name: String,
        /// The code found.
        code: i128,
    },
    /// A tensor's quantization parameters are inconsistent.
    InvalidQuantization {
        /// Tensor index.
        tensor: usize,
        /// Tensor name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// A constant tensor's data length differs from what its shape and dtype require.
    DataLength {
        /// Tensor index.
        tensor: usize,
        /// Tensor name.
        name: String,
        /// Tensor dtype.
        dtype: DType,
        /// Tensor shape.
        shape: Vec<usize>,
        /// Bytes the shape and dtype require.
        expected: usize,
        /// Bytes in the buffer.
        actual: usize,
    },
    /// A tensor uses a feature bfmd does not import (sparsity, blockwise quantization).
    UnsupportedTensor {
        /// Tensor index.
        tensor: usize,
        /// Tensor name.
        name: String,
        /// The feature.
        detail: String,
    },
    /// An operator's builtin options are of the wrong type or hold impossible values.
    InvalidOptions {
        /// Operator index in subgraph 0.
        op: usize,
        /// TFLite name of the operator.
        op_name: String,
        /// What is wrong.
        detail: String,
    },
    /// The operator is not one bfmd can run (from [`TfliteModel::ensure_supported`]).
    ///
    /// [`TfliteModel::ensure_supported`]: super::TfliteModel::ensure_supported
    UnsupportedOp {
        /// Operator index in subgraph 0.
        op: usize,
        /// TFLite name of the operator.
        op_name: String,
    },
    /// Several operators of the model are not ones bfmd can run: every one of them, in
    /// operator order, so that a user sees the whole list at once.
    UnsupportedOps {
        /// Operator index in subgraph 0 and its name (custom operators as `custom op `name``).
        ops: Vec<(usize, String)>,
    },
    /// The model parsed but cannot be lowered to bfmd's graph (`crate::lower`): a shape,
    /// dtype, quantization or parameter the kernels do not support, or a planning failure.
    Lowering {
        /// Operator index in subgraph 0 and its TFLite name, when the fault is at an operator.
        op: Option<(usize, String)>,
        /// Tensor index in subgraph 0 and its name, when the fault concerns one tensor.
        tensor: Option<(usize, String)>,
        /// What is wrong.
        detail: String,
    },
}

/// Path of operator `op` in the flatbuffer.
pub(crate) fn op_path(op: usize) -> String {
    format!("model.subgraphs[0].operators[{op}]")
}

/// Path of tensor `tensor` in the flatbuffer.
pub(crate) fn tensor_path(tensor: usize) -> String {
    format!("model.subgraphs[0].tensors[{tensor}]")
}

impl ImportError {
    /// The flatbuffer path the error is about (`model.subgraphs[0].tensors[5]`), empty when it
    /// concerns the file as a whole.
    pub fn location(&self) -> String {
        use ImportError::*;
        match self {
            NotTflite { .. } => String::new(),
            Malformed { location, .. } | Missing { location } => location.clone(),
            UnsupportedSchemaVersion { .. } => "model.version".into(),
            ExtraSubgraph { subgraph, .. } => format!("model.subgraphs[{subgraph}]"),
            OpcodeIndex { op, .. }
            | OpTensorIndex { op, .. }
            | InvalidOptions { op, .. }
            | UnsupportedOp { op, .. } => op_path(*op),
            Lowering {
                op: Some((op, _)), ..
            } => op_path(*op),
            Lowering {
                tensor: Some((tensor, _)),
                ..
            } => tensor_path(*tensor),
            Lowering { .. } => String::new(),
            UnsupportedOps { .. } => "model.subgraphs[0].operators".into(),
            IoTensorIndex { role, .. } => format!("model.subgraphs[0].{role}s"),
            BufferIndex { tensor, .. }
            | BufferRange { tensor, .. }
            | InvalidShape { tensor, .. }
            | UnknownDtype { tensor, .. }
            | InvalidQuantization { tensor, .. }
            | DataLength { tensor, .. }
            | UnsupportedTensor { tensor, .. } => tensor_path(*tensor),
        }
    }
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ImportError::*;
        let location = self.location();
        if !location.is_empty() {
            write!(f, "{location}: ")?;
        }
        match self {
            NotTflite { detail } => write!(f, "not a TFLite model: {detail}"),
            Malformed { detail, .. } => write!(f, "malformed flatbuffer: {detail}"),
            Missing { .. } => write!(f, "required table or vector is absent"),
            UnsupportedSchemaVersion { version } => write!(
                f,
                "schema version {version} is not supported (TFLite runs version 3 only)"
            ),
            ExtraSubgraph { operators, .. } => write!(
                f,
                "has {operators} operators; bfmd imports subgraph 0 only (control flow and \
                 multi-subgraph models are not supported)"
            ),
            OpcodeIndex {
                op,
                opcode_index,
                codes,
            } => write!(
                f,
                "op {op}: opcode_index {opcode_index} is out of range, model has {codes} \
                 operator codes"
            ),
            OpTensorIndex {
                op,
                op_name,
                role,
                slot,
                tensor,
                tensors,
            } => write!(
                f,
                "op {op} ({op_name}): {role} {slot} refers to tensor {tensor}, model has \
                 {tensors} tensors"
            ),
            IoTensorIndex {
                role,
                slot,
                tensor,
                tensors,
            } => write!(
                f,
                "model {role} {slot} refers to tensor {tensor}, model has {tensors} tensors"
            ),
            BufferIndex {
                tensor,
                name,
                buffer,
                buffers,
            } => write!(
                f,
                "tensor {tensor} '{name}': buffer {buffer} is out of range, model has \
                 {buffers} buffers"
            ),
            BufferRange {
                tensor,
                name,
                buffer,
                offset,
                size,
                file_len,
            } => write!(
                f,
                "tensor {tensor} '{name}': buffer {buffer} lies outside the file (offset \
                 {offset}, size {size}, file is {file_len} bytes)"
            ),
            InvalidShape {
                tensor,
                name,
                detail,
            } => write!(f, "tensor {tensor} '{name}': {detail}"),
            UnknownDtype { tensor, name, code } => write!(
                f,
                "tensor {tensor} '{name}': unknown type code {code} (not a TensorType of the \
                 schema)"
            ),
            InvalidQuantization {
                tensor,
                name,
                detail,
            } => write!(
                f,
                "tensor {tensor} '{name}': invalid quantization: {detail}"
            ),
            DataLength {
                tensor,
                name,
                dtype,
                shape,
                expected,
                actual,
            } => write!(
                f,
                "tensor {tensor} '{name}' ({dtype} {shape:?}): constant data is {actual} bytes, \
                 shape and dtype need {expected}"
            ),
            UnsupportedTensor {
                tensor,
                name,
                detail,
            } => write!(f, "tensor {tensor} '{name}': {detail} is not supported"),
            InvalidOptions {
                op,
                op_name,
                detail,
            } => write!(f, "op {op} ({op_name}): {detail}"),
            UnsupportedOp { op, op_name } => {
                write!(f, "op {op} ({op_name}) is not supported by bfmd")
            }
            UnsupportedOps { ops } => {
                write!(f, "{} operators are not supported by bfmd: ", ops.len())?;
                for (k, (op, name)) in ops.iter().enumerate() {
                    let sep = if k == 0 { "" } else { ", " };
                    write!(f, "{sep}op {op} ({name})")?;
                }
                Ok(())
            }
            Lowering { op, tensor, detail } => {
                if let Some((op, op_name)) = op {
                    write!(f, "op {op} ({op_name}): ")?;
                }
                if let Some((tensor, name)) = tensor {
                    write!(f, "tensor {tensor} '{name}': ")?;
                }
                write!(f, "{detail}")
            }
        }
    }
}

impl std::error::Error for ImportError {}
