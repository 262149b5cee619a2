//! Shared helpers of the host test suite (paths to `tests/data`, comparison utilities).
