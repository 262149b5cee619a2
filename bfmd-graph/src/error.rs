//! The one error type of the graph layer.

use crate::ops::OpKind;
use core::fmt;

/// What is wrong with a model blob, a plan, or a run.
///
/// Every variant says where: the op index and kind, the tensor index, and a sentence fragment
/// naming the problem, so that a firmware log line such as
/// `op 12 (DepthwiseConv2d), tensor 40: output overlaps an input the variant does not allow`
/// is enough to find the fault without a debugger.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GraphError {
    /// The header or the section table is wrong (magic, version, lengths, CRC).
    Header(&'static str),
    /// A buffer is not aligned as the format requires.
    Misaligned {
        /// Which buffer (`"blob"`, `"arena"`, `"constant"`, ...).
        what: &'static str,
        /// The alignment required, in bytes.
        align: usize,
    },
    /// A tensor record is inconsistent.
    Tensor {
        /// Index of the tensor in the tensor table.
        tensor: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// An op record is inconsistent with its kind, its tensors or the memory plan.
    Op {
        /// Index of the op in execution order.
        op: usize,
        /// The op's kind, when the kind code itself was valid.
        kind: Option<OpKind>,
        /// The tensor concerned, when there is one.
        tensor: Option<usize>,
        /// What is wrong.
        what: &'static str,
    },
    /// A kernel rejected its arguments while running (parse should have caught it; reported
    /// rather than hidden).
    Kernel {
        /// Index of the op in execution order.
        op: usize,
        /// The op's kind.
        kind: OpKind,
        /// The kernel's own error.
        error: bfmd_kernels::Error,
    },
    /// A graph input or output index is out of range, or an accessor was used with the wrong
    /// element type.
    Io {
        /// What is wrong.
        what: &'static str,
        /// The index passed.
        index: usize,
    },
    /// The arena passed to the executor is too small.
    ArenaTooSmall {
        /// Bytes the plan needs.
        needed: usize,
        /// Bytes passed.
        got: usize,
    },
    /// The model runs a kernel this program was not compiled with (see [`crate::Linked`]).
    NotLinked {
        /// Index of the op in execution order.
        op: usize,
        /// The op's kind.
        kind: OpKind,
        /// The dtype it runs in.
        dtype: crate::ops::DType,
        /// Its form.
        form: crate::opset::Form,
    },
    /// The model asks for more than the [`crate::Limits`] given to the parser allow (arena
    /// bytes, work of an op or of an inference, elements of a tensor).
    Limit {
        /// The op concerned, when the bound is per op.
        op: Option<usize>,
        /// The op's kind, when the bound is per op.
        kind: Option<OpKind>,
        /// The tensor concerned, when the bound is per tensor.
        tensor: Option<usize>,
        /// Which quantity, e.g. `"work per op (MACs, window taps or element operations)"`.
        what: &'static str,
        /// What the model asks for.
        value: u64,
        /// The limit it exceeds.
        limit: u64,
    },
    /// The header's arena size differs from the arena the planned regions need (the end of
    /// the last activation or scratch region, rounded up to 16 bytes).
    ArenaMismatch {
        /// Bytes the header records.
        header: usize,
        /// Bytes the planned regions need.
        planned: usize,
    },
    /// The planner was given an inconsistent graph or too little working memory.
    Plan {
        /// The tensor concerned, when there is one.
        tensor: Option<usize>,
        /// What is wrong.
        what: &'static str,
    },
}

/// Result alias of the graph layer.
pub type Result<T> = core::result::Result<T, GraphError>;

impl GraphError {
    /// An [`GraphError::Op`] error without a tensor.
    pub(crate) fn op(op: usize, kind: OpKind, what: &'static str) -> Self {
        GraphError::Op {
            op,
            kind: Some(kind),
            tensor: None,
            what,
        }
    }

    /// An [`GraphError::Op`] error about one of the op's tensors.
    pub(crate) fn op_tensor(op: usize, kind: OpKind, tensor: usize, what: &'static str) -> Self {
        GraphError::Op {
            op,
            kind: Some(kind),
            tensor: Some(tensor),
            what,
        }
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::Header(what) => write!(f, "model header: {what}"),
            GraphError::Misaligned { what, align } => {
                write!(f, "{what} is not aligned to {align} bytes")
            }
            GraphError::Tensor { tensor, what } => write!(f, "tensor {tensor}: {what}"),
            GraphError::Op {
                op,
                kind,
                tensor,
                what,
            } => {
                write!(f, "op {op}")?;
                if let Some(k) = kind {
                    write!(f, " ({})", k.name())?;
                }
                if let Some(t) = tensor {
                    write!(f, ", tensor {t}")?;
                }
                write!(f, ": {what}")
            }
            GraphError::Kernel { op, kind, error } => {
                write!(f, "op {op} ({}): kernel error: {error}", kind.name())
            }
            GraphError::Io { what, index } => write!(f, "{what} (index {index})"),
            GraphError::ArenaTooSmall { needed, got } => {
                write!(f, "arena has {got} bytes, the plan needs {needed}")
            }
            GraphError::NotLinked {
                op,
                kind,
                dtype,
                form,
            } => write!(
                f,
                "op {op} ({k}): {k} {d} ({fm}) is not compiled into this program (build it for this model)",
                k = kind.name(),
                d = dtype.name(),
                fm = form.name()
            ),
            GraphError::Limit {
                op,
                kind,
                tensor,
                what,
                value,
                limit,
            } => {
                match (op, tensor) {
                    (Some(op), _) => write!(f, "op {op}")?,
                    (None, Some(t)) => write!(f, "tensor {t}")?,
                    (None, None) => write!(f, "model")?,
                }
                if let Some(k) = kind {
                    write!(f, " ({})", k.name())?;
                }
                write!(f, ": {what} is {value}, above the limit of {limit}")
            }
            GraphError::ArenaMismatch { header, planned } => write!(
                f,
                "model header: arena_bytes is {header} but the planned regions need {planned} \
                 (header and plan disagree)"
            ),
            GraphError::Plan { tensor, what } => match tensor {
                Some(t) => write!(f, "planner: tensor {t}: {what}"),
                None => write!(f, "planner: {what}"),
            },
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for GraphError {}
