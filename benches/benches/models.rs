//! One inference of every int8 test model on the host, one thread.
//!
//! Each model in `tests/data/models/` whose name contains `int8` is imported and planned once,
//! outside the measurement; the measured closure runs the executor on the model's first golden
//! input (zeros when it has none). Benchmark ids are `models/<file stem>`.

use bfmd_import::lower::{lower, HostModel, LowerOptions};
use bfmd_import::tflite;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The repository's `tests/data`.
fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data")
}

/// The int8 test models, by file stem.
fn models() -> Vec<(String, PathBuf)> {
    let mut v: Vec<_> = std::fs::read_dir(data().join("models"))
        .expect("tests/data/models exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "tflite"))
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?.to_string();
            stem.contains("int8").then_some((stem, p))
        })
        .collect();
    v.sort();
    v
}

/// The model's first golden input, if the repository has one of the right size.
fn golden_input(stem: &str, len: usize) -> Option<Vec<u8>> {
    let golden = data().join("golden");
    let seeded = golden
        .join(stem.strip_suffix("_int8").unwrap_or(stem))
        .join("input_0.bin");
    let real = golden
        .join(format!("{stem}_real"))
        .join("astronaut.input.bin");
    [seeded, real]
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .find(|b| b.len() == len)
}

fn bench_models(c: &mut Criterion) {
    let mut group = c.benchmark_group("models");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (stem, path) in models() {
        let bytes = std::fs::read(&path).expect("model file is readable");
        let m = tflite::parse(&bytes).expect("test model parses");
        let l = lower(&m, &LowerOptions::default()).expect("test model lowers");
        let mut host = HostModel::new(l.built.blob.clone()).expect("model blob is valid");
        let len = bfmd_graph_input_len(&l);
        let input = golden_input(&stem, len).unwrap_or_else(|| vec![0; len]);
        group.bench_function(&stem, |b| {
            b.iter(|| black_box(host.run(&[black_box(&input)]).expect("inference runs")))
        });
    }
    group.finish();
}

/// Bytes of graph input 0 of a lowered model.
fn bfmd_graph_input_len(l: &bfmd_import::lower::Lowered) -> usize {
    let blob = l.built.blob.as_bytes();
    let model = bfmd_graph::Model::parse(blob).expect("model blob is valid");
    let t = model.input_tensor(0).expect("the model has an input");
    model.tensor(t).expect("input tensor exists").region.len
}

// The macros generate undocumented items.
#[allow(missing_docs)]
mod harness {
    use super::*;
    criterion_group!(benches, bench_models);
}
criterion_main!(harness::benches);
