//! # bfmd-graph
//!
//! The static graph layer: a model format borrowed zero-copy from flash, a liveness-based,
//! in-place-aware memory planner that puts every activation in one arena of known size, and an
//! executor that runs the plan op by op.
//!
//! * [`format`]: the blob layout and [`Model::parse`], which validates everything once;
//! * [`limits`]: [`Limits`], the bounds on arena, work and tensor size the parser enforces;
//! * [`ops`]: the op kinds and the parameter words each one carries;
//! * [`plan`]: the memory planner (no allocation; also usable on a device);
//! * [`exec`]: [`exec::run`], the executor, and the [`exec::Profiler`] hook;
//! * `builder` (feature `std`): [`builder::GraphBuilder`], which declares tensors and ops,
//!   computes quantization constants with the kernels' `from_scales`, plans and serializes.
//!
//! On the host, build, plan, serialize and run a model (the same blob runs on a board):
//!
//! ```
//! use bfmd_graph::builder::{BuildOptions, GraphBuilder, Quant};
//! use bfmd_graph::{exec, Arena, DType, OpKind};
//! use bfmd_kernels::Shape;
//!
//! let mut b = GraphBuilder::new();
//! let x = b.input("x", Shape::new(1, 2, 2, 3), DType::F32, Quant::NONE)?;
//! let y = b.unary("y", OpKind::Relu6, x, Quant::NONE)?;
//! b.output(y)?;
//! let built = b.finish(BuildOptions::default())?;
//! assert_eq!(built.report.arena_bytes, 48); // relu6 runs in place over its input
//!
//! let model = built.blob.model()?;
//! let mut arena = Arena::<48>::new();
//! let input = [-1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, -9.0, 10.0];
//! model.input_mut_as::<f32>(arena.as_mut_slice(), 0)?.copy_from_slice(&input);
//! exec::run(&model, arena.as_mut_slice(), None)?;
//! let out = model.output_as::<f32>(arena.as_slice(), 0)?;
//! assert_eq!(out, [0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 6.0, 6.0, 0.0, 6.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A firmware image embeds a model and its arena like this:
//!
//! ```text
//! static MODEL: bfmd_graph::AlignedBytes<{ model::BLOB_LEN }> =
//!     bfmd_graph::AlignedBytes(*include_bytes!("model.bfmd"));
//! static mut ARENA: bfmd_graph::Arena<{ model::ARENA_BYTES }> = bfmd_graph::Arena::new();
//! ```
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "std")]
pub mod builder;
mod crc;
mod dispatch;
mod dispatch_act;
pub mod elem;
pub mod error;
pub mod exec;
pub mod format;
mod kernels;
pub mod limits;
pub mod ops;
pub mod opset;
pub mod plan;
mod rows;
pub mod session;
mod validate;

pub use bfmd_kernels::KernelPath;
pub use crc::crc32;
pub use elem::Element;
pub use error::{GraphError, Result};
pub use format::{Model, OpRecord, Region, TensorInfo};
pub use limits::Limits;
pub use ops::{DType, OpKind, TensorKind, Variant};
pub use opset::{AllOps, Form, Linked, OpSet};
pub use session::Session;
pub use validate::overlap_output_offset;

/// A 16-byte aligned byte array: the arena of a model, usually a `static`.
///
/// The planner aligns every buffer offset to 16 bytes and [`Model::parse`] checks that every
/// tensor's offset is a multiple of its element size, so typed views of an `Arena` are always
/// aligned.
#[repr(C, align(16))]
pub struct Arena<const N: usize>(pub [u8; N]);

impl<const N: usize> Arena<N> {
    /// A zeroed arena (usable in a `static`).
    pub const fn new() -> Self {
        Arena([0; N])
    }

    /// The arena's bytes.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// The arena's bytes, read only.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// A 16-byte aligned byte array holding a model blob, for `include_bytes!` (whose bytes are
/// otherwise only 1-byte aligned, which [`Model::parse`] rejects).
#[repr(C, align(16))]
pub struct AlignedBytes<const N: usize>(pub [u8; N]);

impl<const N: usize> AlignedBytes<N> {
    /// The blob's bytes.
    pub const fn as_slice(&self) -> &[u8] {
        &self.0
    }
}
