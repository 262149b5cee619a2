//! # bfmd-import
//!
//! Host-side (std) import: TFLite flatbuffers and PyTorch safetensors into bfmd's model format.

pub mod build;
pub mod lower;
pub mod tflite;
