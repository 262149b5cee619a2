//! The float32 twins of the seed backbones through bfmd's lowering, planner and executor
//! against the float32 reference outputs (`tests/data/golden/<model>/output_f32_<i>.bin`, the
//! LiteRT float model fed `dequantize(input_<i>)`).
//!
//! Measure: normwise relative error in the max norm, `max_i |y_i - r_i| / max_i |r_i|`, at most
//! 1e-4 per output tensor. An elementwise relative error is meaningless for outputs near zero
//! (softmax tails, ReLU zeros); the max norm of the reference sets the scale instead. The
//! elementwise relative error of the elements with `|r_i| > 1e-3 * max |r|` is printed too.

mod tflite_common;

use bfmd_import::tflite::{parse, Quantization};
use tflite_common::{host, read, F32_TWINS, INPUTS};

/// Largest accepted `max |y - r| / max |r|`.
const TOLERANCE: f64 = 1e-4;

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The float input matching the int8 input `q` of `int8_model` (`models/<file>`): each value
/// dequantized with that model's input scale and zero point, as little-endian f32 bytes.
fn dequantized(int8_model: &str, q: &[u8]) -> Vec<u8> {
    let m = parse(&read(&format!("models/{int8_model}"))).unwrap();
    let (scale, zero_point) = match &m.tensors[m.inputs[0]].quantization {
        Some(Quantization::PerTensor { scale, zero_point }) => (*scale, *zero_point),
        other => panic!("{int8_model}: input quantization {other:?}"),
    };
    q.iter()
        .flat_map(|&v| (scale * (i32::from(v as i8) - zero_point) as f32).to_le_bytes())
        .collect()
}

#[test]
fn f32_twins_match_the_float_reference() {
    let mut failures = Vec::new();
    for name in F32_TWINS {
        let (mut h, r) = host(&format!("{name}_f32.tflite"));
        for i in 0..INPUTS {
            let q = read(&format!("golden/{name}/input_{i}.bin"));
            let x = dequantized(&format!("{name}_int8.tflite"), &q);
            let want = f32s(&read(&format!("golden/{name}/output_f32_{i}.bin")));
            let out = h
                .run(&[&x])
                .unwrap_or_else(|e| panic!("{name} input {i}: {e}"));
            let got = f32s(&out[0]);
            assert_eq!(got.len(), want.len(), "{name}: output length");
            let scale_ref = want.iter().fold(0f64, |m, &v| m.max(f64::from(v.abs())));
            let max_err = got
                .iter()
                .zip(&want)
                .fold(0f64, |m, (&a, &b)| m.max(f64::from((a - b).abs())));
            let rel = max_err / scale_ref.max(f64::MIN_POSITIVE);
            let elem_rel = got
                .iter()
                .zip(&want)
                .filter(|(_, &b)| f64::from(b.abs()) > 1e-3 * scale_ref)
                .fold(0f64, |m, (&a, &b)| {
                    m.max(f64::from((a - b).abs()) / f64::from(b.abs()))
                });
            println!(
                "{name} input {i}: max |y - r| / max |r| = {rel:.2e}, elementwise {elem_rel:.2e} \
                 (arena {} B)",
                r.arena_bytes
            );
            // A NaN error fails too.
            if rel.is_nan() || rel > TOLERANCE {
                failures.push(format!("{name} input {i}: {rel:.3e} > {TOLERANCE:e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The float visual-wake-words model has no float reference outputs in the repository; it must
/// at least classify the four photographs as TFLM's int8 model does, fed the dequantized int8
/// input.
#[test]
fn float_visual_wake_words_classifies_the_photographs_like_tflm() {
    let (mut h, _) = host("vww_96_float.tflite");
    for name in ["astronaut", "chelsea", "coffee", "brick"] {
        let q = read(&format!("golden/vww_96_int8_real/{name}.input.bin"));
        let x = dequantized("vww_96_int8.tflite", &q);
        let y = f32s(&h.run(&[&x]).unwrap()[0]);
        let tflm = read(&format!("golden/vww_96_int8_real/{name}.output.bin"));
        let (p_float, p_int8) = (y[1], (i32::from(tflm[1] as i8) + 128) as f32 / 256.0);
        println!("{name}: float p(person) {p_float:.4}, TFLM int8 {p_int8:.4}");
        assert_eq!(y.len(), 2, "{name}");
        assert_eq!(
            y[1] > y[0],
            (tflm[1] as i8) > (tflm[0] as i8),
            "{name}: {y:?}"
        );
        assert!(
            (y[0] + y[1] - 1.0).abs() < 1e-5,
            "{name}: softmax sums to 1: {y:?}"
        );
    }
}
