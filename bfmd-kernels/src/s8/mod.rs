//! int8 kernels with TensorFlow Lite quantization semantics.
//!
//! Activations are asymmetric int8 (`scale`, `zero_point`), weights symmetric per-channel int8,
//! biases int32; outputs are requantized with [`crate::quant`] exactly as the TFLite Micro
//! reference kernels do, so results are bit-identical to TFLM.

pub mod activation;
pub mod conv;
pub mod depthwise;
pub mod elementwise;
pub mod fully_connected;
pub mod pool;
pub mod quantize;
pub mod softmax;
