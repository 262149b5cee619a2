//! Trained third-party models (`tests/data/real/`, copied from the shared set with their
//! manifests) through bfmd's lowering, planner and executor, every output against LiteRT's
//! reference kernels (`ai-edge-litert` 2.3.0, `BUILTIN_REF`): float outputs within 1e-5
//! relative (max-norm per output).

mod tflite_common;

use bfmd_import::lower::{tflite_bytes_to_graph, HostModel, LowerOptions};
use tflite_common::read;

/// Little-endian f32 values.
fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Runs `real/<dir>/<dir>.tflite` on `input_0.bin` and compares its `outputs` outputs with
/// `output_0_<k>.bin`; returns the largest relative error.
fn check(dir: &str, outputs: usize) -> f32 {
    let bytes = read(&format!("real/{dir}/{dir}.tflite"));
    let built = tflite_bytes_to_graph(&bytes, &LowerOptions::default())
        .unwrap_or_else(|e| panic!("{dir}: {e}"));
    let mut h = HostModel::new(built.blob).unwrap_or_else(|e| panic!("{dir}: {e}"));
    let x = read(&format!("real/{dir}/input_0.bin"));
    let out = h.run(&[&x]).unwrap_or_else(|e| panic!("{dir}: {e}"));
    assert_eq!(out.len(), outputs, "{dir}: graph outputs");
    let mut worst = 0f32;
    for (k, got) in out.iter().enumerate() {
        let want = f32s(&read(&format!("real/{dir}/output_0_{k}.bin")));
        let got = f32s(got);
        assert_eq!(got.len(), want.len(), "{dir} output {k}: length");
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        let err = got
            .iter()
            .zip(&want)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        let rel = if scale > 0.0 { err / scale } else { err };
        assert!(rel <= 1e-5, "{dir} output {k}: {rel} relative to LiteRT");
        worst = worst.max(rel);
    }
    worst
}

/// MediaPipe's short-range BlazeFace: two outputs (regressors, classificators), float16
/// weights folded from DEQUANTIZE.
#[test]
fn face_detection_short_range_matches_litert() {
    check("face_detection_short_range", 2);
}

/// MediaPipe's hand landmark (lite): four outputs; its fully connected layers read float16
/// weights through DEQUANTIZE (once refused with "fully connected weights must be constant").
#[test]
fn hand_landmark_lite_matches_litert() {
    check("hand_landmark_lite", 4);
}

/// MediaPipe's face mesh (lite): PRELU with per-channel alpha after every convolution.
#[test]
fn face_landmark_matches_litert() {
    check("face_landmark", 2);
}

/// MediaPipe's palm detector (lite): PRELU and RESIZE_BILINEAR (its FPN upsampling).
#[test]
fn palm_detection_lite_matches_litert() {
    check("palm_detection_lite", 2);
}
