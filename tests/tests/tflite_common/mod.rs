//! Helpers shared by the `tflite_*` whole-model tests: test data paths, lowering, running.

#![allow(dead_code)] // Each test file uses its own subset.

use bfmd_import::lower::{lower, HostModel, LowerOptions, Lowered};
use std::path::PathBuf;

/// The int8 seed backbones with TFLM goldens in `tests/data/golden/<name>/`.
pub const INT8_MODELS: [&str; 10] = [
    "blazeface_backbone",
    "efficientnet_b0_w040",
    "googlenet",
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "mobilenext",
    "shufflenet_v1",
    "shufflenet_v2",
];

/// The backbones whose float32 twin and `output_f32_<i>.bin` are in the repository.
pub const F32_TWINS: [&str; 4] = [
    "blazeface_backbone",
    "mobilenet_v1",
    "shufflenet_v1",
    "shufflenet_v2",
];

/// Golden inputs per model (`input_0.bin` .. `input_3.bin`).
pub const INPUTS: usize = 4;

/// `tests/data`.
pub fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// `tests/data/models/<file>`.
pub fn model_path(file: &str) -> PathBuf {
    data().join("models").join(file)
}

/// The bytes of `tests/data/<rel>`, with the path in the panic message when missing.
pub fn read(rel: &str) -> Vec<u8> {
    let p = data().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Parses and lowers `tests/data/models/<file>` with the default options.
pub fn lower_file(file: &str) -> Lowered {
    let bytes = read(&format!("models/{file}"));
    let m = bfmd_import::tflite::parse(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
    lower(&m, &LowerOptions::default()).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// A lowered model ready to run on the host.
pub fn host(file: &str) -> (HostModel, bfmd_graph::builder::PlanReport) {
    let l = lower_file(file);
    let report = l.built.report.clone();
    let h = HostModel::new(l.built.blob).unwrap_or_else(|e| panic!("{file}: {e}"));
    (h, report)
}

/// TFLM's arena bytes for `model` from its golden manifest
/// (`tflm_arena.recorded_total_bytes`: what TFLM's recording allocator took from the arena,
/// interpreter bookkeeping included).
/// The visual-wake-words model's number is in `golden/vww_96_int8_real/tflm_arena.json`.
pub fn tflm_arena_bytes(model: &str) -> usize {
    let file = if model == "vww_96" {
        "golden/vww_96_int8_real/tflm_arena.json".to_string()
    } else {
        format!("golden/{model}/manifest.json")
    };
    let v: serde_json::Value = serde_json::from_slice(&read(&file)).unwrap();
    v["tflm_arena"]["recorded_total_bytes"]
        .as_u64()
        .unwrap_or_else(|| panic!("{model}: manifest has no tflm_arena.recorded_total_bytes"))
        as usize
}
