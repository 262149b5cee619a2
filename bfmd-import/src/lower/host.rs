//! Running a lowered model on the host: the blob plus a heap arena, as `cargo xtask infer` and
//! the whole-model tests use it. Firmware uses a `static` [`bfmd_graph::Arena`] instead; the
//! executor is the same.

use bfmd_graph::builder::ModelBytes;
use bfmd_graph::{exec, GraphError, Limits, Model};

/// A model blob and an arena of the size its plan asks for, both 16-byte aligned.
pub struct HostModel {
    blob: ModelBytes,
    arena: ModelBytes,
    limits: Limits,
}

impl std::fmt::Debug for HostModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HostModel({} blob bytes, {} arena bytes)",
            self.blob.as_bytes().len(),
            self.arena.as_bytes().len()
        )
    }
}

impl HostModel {
    /// Checks the blob ([`Model::parse`], the default [`Limits::HOST`]) and allocates its
    /// arena.
    pub fn new(blob: ModelBytes) -> Result<Self, GraphError> {
        HostModel::with_limits(blob, &Limits::HOST)
    }

    /// Checks the blob against `limits` ([`Model::parse_with_limits`]: the header's arena size
    /// must be the planned one and within `limits`) and only then allocates the arena.
    pub fn with_limits(blob: ModelBytes, limits: &Limits) -> Result<Self, GraphError> {
        let arena_bytes = blob.model_with_limits(limits)?.arena_bytes();
        // `ModelBytes` is the host's 16-byte aligned byte buffer; the arena needs exactly that.
        let arena = ModelBytes::from_bytes(&vec![0u8; arena_bytes]);
        Ok(HostModel {
            blob,
            arena,
            limits: *limits,
        })
    }

    /// The parsed model.
    pub fn model(&self) -> Result<Model<'_>, GraphError> {
        self.blob.model_with_limits(&self.limits)
    }

    /// Bytes of graph input `i` (element size times element count).
    pub fn input_len(&self, i: usize) -> Result<usize, GraphError> {
        let m = self.model()?;
        let t = m.input_tensor(i)?;
        Ok(m.tensor(t).map_or(0, |info| info.region.len))
    }

    /// Runs the model on `inputs` (raw little-endian bytes of each graph input, in order) and
    /// returns the raw bytes of every graph output.
    ///
    /// Errors: a wrong number of inputs or an input of the wrong length (as
    /// [`GraphError::Io`]), or any error of [`exec::run`].
    pub fn run(&mut self, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>, GraphError> {
        let model = self.blob.model_with_limits(&self.limits)?;
        if inputs.len() != model.input_count() {
            return Err(GraphError::Io {
                what: "wrong number of inputs for the model",
                index: inputs.len(),
            });
        }
        let arena = self.arena.as_bytes_mut();
        for (i, x) in inputs.iter().enumerate() {
            let dst = model.input_mut(arena, i)?;
            if dst.len() != x.len() {
                return Err(GraphError::Io {
                    what: "input has the wrong number of bytes",
                    index: i,
                });
            }
            dst.copy_from_slice(x);
        }
        exec::run(&model, arena, None)?;
        (0..model.output_count())
            .map(|k| model.output(arena, k).map(<[u8]>::to_vec))
            .collect()
    }
}
