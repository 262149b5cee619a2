//! The boring reference: naive `f32` loops, no `unsafe`, no `cfg`.
//!
//! These kernels are the oracle every int8 and f16 path is tested against, and the kernels bfmd
//! runs for `f32` models. They favour obviousness over speed.

pub mod activation;
pub mod conv;
pub mod depthwise;
pub mod elementwise;
pub mod fully_connected;
pub mod pool;
pub mod prelu;
pub mod quantize;
pub mod resize;
pub mod softmax;
