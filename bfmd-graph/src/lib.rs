//! # bfmd-graph
//!
//! The static graph layer: a model format borrowed zero-copy from flash, a liveness-based,
//! in-place-aware memory planner that puts every activation in one arena of known size, and an
//! executor that runs the plan op by op.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
