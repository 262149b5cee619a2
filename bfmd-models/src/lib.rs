//! # bfmd-models
//!
//! The seed's mobile backbones as graph builders on `bfmd-graph`.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
