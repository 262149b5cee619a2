//! pad kernels (to be written).
