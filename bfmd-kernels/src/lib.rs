//! # bfmd-kernels
//!
//! Hand-written NHWC tensor kernels for the mobile CNN backbones, in three flavours per op:
//!
//! * [`reference`](mod@reference): naive `f32` loops, the oracle every other path is tested against, and the
//!   kernels bfmd runs for `f32` models;
//! * [`s8`]: int8 kernels with TensorFlow Lite quantization semantics (asymmetric int8
//!   activations, symmetric per-channel int8 weights, int32 bias, Q31 requantization with the
//!   rounding of the TFLite Micro reference kernels, see [`quant`]);
//! * [`f16`](mod@f16): kernels storing [`half::f16`] and accumulating in `f32`.
//!
//! Data-movement ops (concatenation, split, channel shuffle, pad, transpose) do not depend on the
//! element type and live once in [`movement`].
//!
//! Conventions shared by every kernel:
//!
//! * tensors are NHWC, row-major, densely packed, described by a [`Shape`];
//! * a kernel never allocates; the ones that need scratch take a caller-owned `&mut [u8]` whose
//!   size comes from a `const fn ..._scratch_len` next to the kernel;
//! * caller mistakes (bad dimensions, short buffers, out-of-range parameters) return an
//!   [`Error`], never panic;
//! * the architecture-specific inner loop is chosen at compile time; each op family exposes a
//!   `PATH` constant naming the path that runs, and the `force-portable` feature forces the
//!   portable loops everywhere.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod error;
pub mod f16;
pub mod fixedpoint;
pub mod movement;
pub mod path;
pub mod quant;
pub mod reference;
pub mod s8;
pub mod shape;

pub use error::{Error, Result};
pub use half;
pub use path::KernelPath;
pub use shape::{ConvGeometry, Padding, PoolGeometry, Shape};
