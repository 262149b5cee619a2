//! shuffle kernels (to be written).
