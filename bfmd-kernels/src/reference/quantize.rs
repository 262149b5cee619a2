//! quantize kernels (to be written).
