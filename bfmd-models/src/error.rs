//! Errors of the host-side model tools: which tensor, which shape, which op.

use std::fmt;

/// What went wrong while loading weights, building, quantizing or running a backbone.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// The `state_dict` has no tensor of this name.
    MissingTensor {
        /// PyTorch name of the tensor.
        tensor: String,
        /// Shape the architecture needs.
        expected: Vec<usize>,
    },
    /// The tensor exists with another shape.
    ShapeMismatch {
        /// PyTorch name of the tensor.
        tensor: String,
        /// Shape the architecture needs.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// Tensors the architecture did not read: the weights belong to another configuration.
    UnusedTensors(Vec<String>),
    /// A weights file that cannot be read as such.
    Weights(String),
    /// A configuration the builder cannot make (bad width, resolution too small, ...).
    Config(String),
    /// The graph builder rejected an op (a bug in a lowering, or a kernel limit).
    Build(String),
    /// The executor failed.
    Run(String),
    /// A file could not be read or written.
    Io(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::MissingTensor { tensor, expected } => write!(
                f,
                "weights: tensor `{tensor}` is missing (expected shape {expected:?})"
            ),
            Error::ShapeMismatch {
                tensor,
                expected,
                found,
            } => write!(
                f,
                "weights: tensor `{tensor}` has shape {found:?}, expected {expected:?}"
            ),
            Error::UnusedTensors(v) => {
                let shown: Vec<&str> = v.iter().take(8).map(|s| s.as_str()).collect();
                write!(
                    f,
                    "weights: {} tensor(s) not used by this configuration (another width, depth or class count?): {}{}",
                    v.len(),
                    shown.join(", "),
                    if v.len() > shown.len() { ", ..." } else { "" }
                )
            }
            Error::Weights(m) => write!(f, "weights: {m}"),
            Error::Config(m) => write!(f, "configuration: {m}"),
            Error::Build(m) => write!(f, "graph: {m}"),
            Error::Run(m) => write!(f, "run: {m}"),
            Error::Io(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<bfmd_graph::builder::BuildError> for Error {
    fn from(e: bfmd_graph::builder::BuildError) -> Self {
        Error::Build(e.to_string())
    }
}

impl From<bfmd_graph::GraphError> for Error {
    fn from(e: bfmd_graph::GraphError) -> Self {
        Error::Run(e.to_string())
    }
}

/// Result alias of the host-side model tools.
pub type Result<T> = std::result::Result<T, Error>;
