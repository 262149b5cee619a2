//! depthwise kernels (to be written).
