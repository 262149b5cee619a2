//! Test battery of softmax (last axis, batch of rows, `beta`) in f32 (reference), int8
//! (dispatcher and portable path) and f16.
//!
//! int8 is checked bit for bit against TFLM on rows of 16, 32 and 256 elements holding every
//! int8 value, in order and shuffled (`tflm_exhaustive/tables.rs`), and against the exact
//! softmax within the bound stated below on rows of odd lengths (1 included) and on small and
//! large input scales.

mod common;
#[allow(dead_code)]
#[path = "tflm_exhaustive/tables.rs"]
mod tflm;

use bfmd_kernels::half::f16;
use bfmd_kernels::reference::softmax::{softmax_f32, softmax_f32_inplace};
use bfmd_kernels::s8::softmax::{portable, softmax_s8, softmax_s8_inplace, SoftmaxS8Params};
use bfmd_kernels::Error;
use common::{assert_bit_exact, from_f16, to_f16, Rng};

const OUT_SCALE: f32 = 1.0 / 256.0;

/// Runs the int8 softmax through the dispatcher, in place and the portable loop; asserts they
/// agree and returns the output.
fn run_s8(p: &SoftmaxS8Params, depth: usize, input: &[i8]) -> Vec<i8> {
    let mut out = vec![0i8; input.len()];
    softmax_s8(p, depth, input, &mut out).unwrap();
    let mut in_place = input.to_vec();
    softmax_s8_inplace(p, depth, &mut in_place).unwrap();
    assert_bit_exact("softmax: in place vs dispatcher", &in_place, &out);
    let mut port = input.to_vec();
    portable::softmax_inplace(p, depth, &mut port);
    assert_bit_exact("softmax: portable vs dispatcher", &port, &out);
    out
}

/// Exact softmax (f64) of each row of `x`, rows of `depth`.
fn exact_softmax(x: &[f64], depth: usize, beta: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks(depth) {
        let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|&v| ((v - max) * beta).exp()).collect();
        let s: f64 = e.iter().sum();
        out.extend(e.iter().map(|v| v / s));
    }
    out
}

#[test]
fn int8_matches_tflm_on_every_input() {
    let ordered: Vec<i8> = (-128i32..=127).map(|v| v as i8).collect();
    let mut checked = 0;
    for case in tflm::CASES.iter().filter(|c| c.op == "SOFTMAX") {
        assert_eq!(
            (case.output_scale, case.output_zero_point),
            (OUT_SCALE, -128)
        );
        let p =
            SoftmaxS8Params::from_scales(case.input_scale, 1.0, case.output_scale, -128).unwrap();
        assert_eq!(case.rows * case.cols, 256);
        let got = run_s8(&p, case.cols, &ordered);
        assert_bit_exact(case.name, &got, &case.output);
        let got = run_s8(&p, case.cols, &case.shuffled_input);
        assert_bit_exact(
            &format!("{} (shuffled)", case.name),
            &got,
            &case.shuffled_output,
        );
        checked += 1;
    }
    assert_eq!(checked, 5, "every softmax case of the table ran");
}

/// int8 against the exact softmax of the dequantized input, in output steps (1/256):
/// gemmlowp's exp is accurate to 2.5e-7 and the reciprocal to about 1e-9, so before the last
/// rounding the value is within 1e-4 steps of `256 p - 128`; the rounding adds half a step, and
/// a probability of 1 (256 - 128 = 128) saturates to 127. Bound: 0.5 + 1e-3 steps, measured
/// against the clamped target.
#[test]
fn int8_is_rounded_exact_softmax() {
    let mut rng = Rng::new(21);
    // (input scale, beta): fine, typical and coarse scales, and beta != 1.
    let configs: &[(f32, f32)] = &[
        (0.001, 1.0),
        (0.0125, 1.0),
        (0.05, 1.0),
        (0.1, 0.5),
        (0.2, 2.0),
        (0.6, 1.0),
        (3.0, 1.0),
    ];
    for &(scale, beta) in configs {
        let p = SoftmaxS8Params::from_scales(scale, beta, OUT_SCALE, -128).unwrap();
        for &depth in &[1usize, 2, 3, 5, 7, 10, 17, 33, 101] {
            let rows = 3;
            let zp = rng.range_i64(-20, 20) as i32;
            let input = rng.vec_i8(rows * depth);
            let out = run_s8(&p, depth, &input);
            let real: Vec<f64> = input
                .iter()
                .map(|&q| scale as f64 * (q as i32 - zp) as f64)
                .collect();
            let probs = exact_softmax(&real, depth, beta as f64);
            for (i, (&q, &pr)) in out.iter().zip(&probs).enumerate() {
                let target = (pr * 256.0 - 128.0).clamp(-128.0, 127.0);
                assert!(
                    (q as f64 - target).abs() <= 0.5 + 1e-3,
                    "scale {scale} beta {beta} depth {depth} element {i}: {q} vs {target}"
                );
            }
            if depth == 1 {
                // A single element has probability 1, which saturates.
                assert!(out.iter().all(|&q| q == 127));
            }
        }
    }
}

/// Long tensors use the tabulated exponentials; rows of the TFLM cases repeated past
/// `LUT_MIN_LEN` must still give TFLM's bytes, and the table path equals the direct loop.
#[test]
fn long_tensors_use_the_exp_table_and_stay_bit_exact() {
    for case in tflm::CASES.iter().filter(|c| c.op == "SOFTMAX") {
        let p = SoftmaxS8Params::from_scales(case.input_scale, 1.0, OUT_SCALE, -128).unwrap();
        let input: Vec<i8> = (0..3).flat_map(|_| case.shuffled_input).collect();
        let want: Vec<i8> = (0..3).flat_map(|_| case.shuffled_output).collect();
        assert!(input.len() >= bfmd_kernels::s8::activation::LUT_MIN_LEN);
        assert_bit_exact(case.name, &run_s8(&p, case.cols, &input), &want);
        let mut tabled = input.clone();
        portable::softmax_inplace_with_table(&p, case.cols, &mut tabled, &portable::exp_table(&p));
        assert_bit_exact(case.name, &tabled, &want);
    }
}

#[test]
fn params_match_tflm_prepare() {
    // Scale 1/16, beta 1: 2^-4 * 2^26 = 2^22 -> (2^30, 23); radius floor(31 * 2^26 / 2^23) =
    // 248.
    let p = SoftmaxS8Params::from_scales(1.0 / 16.0, 1.0, OUT_SCALE, -128).unwrap();
    assert_eq!(
        p,
        SoftmaxS8Params {
            input_multiplier: 1 << 30,
            input_left_shift: 23,
            diff_min: -248,
        }
    );
    // A huge beta * scale is capped at 2^31 - 1 (shift 31), and then only the maxima count.
    let p = SoftmaxS8Params::from_scales(100.0, 1.0, OUT_SCALE, -128).unwrap();
    assert_eq!(
        (p.input_multiplier, p.input_left_shift, p.diff_min),
        (i32::MAX, 31, 0)
    );
    let out = run_s8(&p, 4, &[5, 5, 4, -100]);
    // Two maxima share the probability: 0.5 -> 128 - 128 = 0.
    assert_eq!(out, vec![0, 0, -128, -128]);
}

/// A row whose exponentials sum to 512 or more makes TFLM abort (`TFLITE_CHECK(exponent <=
/// 31)`); bfmd returns -128 there, which is the rounding of probabilities below 1/512.
#[test]
fn long_flat_rows_do_not_abort() {
    let p = SoftmaxS8Params::from_scales(0.05, 1.0, OUT_SCALE, -128).unwrap();
    for &depth in &[511usize, 512, 1000, 5000] {
        let out = run_s8(&p, depth, &vec![3i8; depth]);
        let want = ((256.0 / depth as f64) - 128.0).round() as i8;
        assert!(
            out.iter().all(|&q| q == want),
            "depth {depth}: {:?}",
            &out[..3]
        );
    }
}

#[test]
fn errors_are_reported() {
    let p = SoftmaxS8Params::from_scales(0.1, 1.0, OUT_SCALE, -128).unwrap();
    let mut out = [0i8; 6];
    assert!(matches!(
        softmax_s8(&p, 0, &[0; 6], &mut out),
        Err(Error::BadParam { .. })
    ));
    assert!(matches!(
        softmax_s8(&p, 4, &[0; 6], &mut out),
        Err(Error::BufferLength { .. })
    ));
    assert!(matches!(
        softmax_s8(&p, 3, &[0; 6], &mut out[..5]),
        Err(Error::BufferLength { what: "output", .. })
    ));
    assert!(softmax_s8_inplace(&p, 4, &mut out).is_err());
    // TFLM's checks: output scale exactly 1/256, zero point -128.
    assert!(SoftmaxS8Params::from_scales(0.1, 1.0, 1.0 / 255.0, -128).is_err());
    assert!(SoftmaxS8Params::from_scales(0.1, 1.0, OUT_SCALE, 0).is_err());
    // beta * scale * 2^26 must exceed 1.
    assert!(SoftmaxS8Params::from_scales(1e-9, 1.0, OUT_SCALE, -128).is_err());
    assert!(SoftmaxS8Params::from_scales(0.1, 0.0, OUT_SCALE, -128).is_err());
    assert!(SoftmaxS8Params::from_scales(0.1, f32::NAN, OUT_SCALE, -128).is_err());
    assert!(SoftmaxS8Params::from_scales(-0.1, 1.0, OUT_SCALE, -128).is_err());
    // Hand-made params out of range.
    let mut bad = p;
    bad.input_left_shift = 32;
    assert!(softmax_s8_inplace(&bad, 3, &mut out).is_err());
    let mut bad = p;
    bad.diff_min = 1;
    assert!(softmax_s8(&bad, 3, &[0; 6], &mut out).is_err());
    // f32 and f16.
    assert!(softmax_f32(1.0, 0, &[], &mut []).is_err());
    assert!(softmax_f32(1.0, 2, &[0.0; 3], &mut [0.0; 3]).is_err());
    assert!(
        bfmd_kernels::f16::softmax::softmax_f16(1.0, 2, &[f16::ZERO; 4], &mut [f16::ZERO; 2])
            .is_err()
    );
}

/// f32 against the exact softmax in f64: each output is one quotient of f32 exponentials (each
/// within 1 ulp, `expf`) by an f32 sum of up to 101 terms (relative error below 101 * 2^-24),
/// so within 2e-5 relative plus 1e-12 absolute.
#[test]
fn f32_matches_exact_softmax() {
    let mut rng = Rng::new(22);
    for &depth in &[1usize, 3, 10, 101] {
        for &beta in &[1.0f32, 0.5, 3.0] {
            let x = rng.vec_f32(4 * depth, -20.0, 20.0);
            let mut out = vec![0.0f32; x.len()];
            softmax_f32(beta, depth, &x, &mut out).unwrap();
            let mut in_place = x.clone();
            softmax_f32_inplace(beta, depth, &mut in_place).unwrap();
            assert_eq!(in_place, out);
            let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let want = exact_softmax(&x64, depth, beta as f64);
            for (o, w) in out.iter().zip(&want) {
                assert!(
                    (*o as f64 - w).abs() <= 2e-5 * w + 1e-12,
                    "depth {depth} beta {beta}: {o} vs {w}"
                );
            }
            for row in out.chunks(depth) {
                let s: f32 = row.iter().sum();
                assert!((s - 1.0).abs() < 1e-5);
            }
        }
    }
    // Large logits do not overflow thanks to the max subtraction.
    let mut out = [0.0f32; 2];
    softmax_f32(1.0, 2, &[1000.0, 1000.0], &mut out).unwrap();
    assert_eq!(out, [0.5, 0.5]);
}

/// f16 against f32 on the same f16 inputs: f16 computes in f32 and rounds each output once, so
/// within half an f16 ulp (relative 2^-11; 2^-25 absolute for subnormal outputs).
#[test]
fn f16_within_half_ulp_of_f32() {
    let mut rng = Rng::new(23);
    for &depth in &[1usize, 7, 64] {
        let x16 = to_f16(&rng.vec_f32(3 * depth, -8.0, 8.0));
        let x32 = from_f16(&x16);
        let mut want = vec![0.0f32; x32.len()];
        softmax_f32(1.0, depth, &x32, &mut want).unwrap();
        let mut got = vec![f16::ZERO; x16.len()];
        bfmd_kernels::f16::softmax::softmax_f16(1.0, depth, &x16, &mut got).unwrap();
        let mut in_place = x16.clone();
        bfmd_kernels::f16::softmax::softmax_f16_inplace(1.0, depth, &mut in_place).unwrap();
        assert_eq!(in_place, got);
        common::assert_close(
            "softmax_f16",
            &from_f16(&got),
            &want,
            2f32.powi(-25),
            2f32.powi(-11),
        );
    }
}
