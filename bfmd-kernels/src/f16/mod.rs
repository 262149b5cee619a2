//! Half-precision kernels: tensors store [`half::f16`], arithmetic accumulates in `f32` on the
//! portable path.

pub mod activation;
pub mod conv;
pub mod depthwise;
pub mod elementwise;
pub mod fully_connected;
pub mod pool;
pub mod softmax;
