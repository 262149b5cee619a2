//! transpose kernels (to be written).
