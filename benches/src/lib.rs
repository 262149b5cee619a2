//! Host benchmarks of bfmd (a crate of its own so that the library crates carry no benchmark
//! dependencies).
//!
//! `benches/models.rs` times one inference of every int8 test model in `tests/data/models/`
//! (imported from `.tflite`, planned and run by the same executor the boards use) on one thread
//! with criterion; `cargo xtask bench` runs it and reads criterion's estimates into
//! `bench/results.json`.
