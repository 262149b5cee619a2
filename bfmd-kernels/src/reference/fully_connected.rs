//! fully connected kernels (to be written).
