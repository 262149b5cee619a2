//! Test battery of QUANTIZE (f32 -> int8), DEQUANTIZE (int8 -> f32), requantize (int8 -> int8)
//! and the f32 fake quantization, against the dispatcher and the portable path: rounding ties,
//! clamping, round trips, TFLite's double-rounding requantization, and the error cases.

mod common;

use bfmd_kernels::reference::quantize::{fake_quantize_f32, fake_quantize_f32_inplace};
use bfmd_kernels::s8::quantize::{
    dequantize_s8, portable, quantize_s8, requantize_s8, requantize_s8_inplace, DequantizeS8Params,
    QuantizeS8Params, RequantizeS8Params,
};
use bfmd_kernels::Error;
use common::{assert_bit_exact, Rng};

fn quantize_both(p: &QuantizeS8Params, x: &[f32]) -> Vec<i8> {
    let mut out = vec![0i8; x.len()];
    quantize_s8(p, x, &mut out).unwrap();
    let mut port = vec![0i8; x.len()];
    portable::quantize(p, x, &mut port);
    assert_bit_exact("quantize: portable vs dispatcher", &port, &out);
    out
}

fn dequantize_both(p: &DequantizeS8Params, q: &[i8]) -> Vec<f32> {
    let mut out = vec![0.0f32; q.len()];
    dequantize_s8(p, q, &mut out).unwrap();
    let mut port = vec![0.0f32; q.len()];
    portable::dequantize(p, q, &mut port);
    assert_eq!(port, out, "dequantize: portable vs dispatcher");
    out
}

fn requantize_all(p: &RequantizeS8Params, q: &[i8]) -> Vec<i8> {
    let mut out = vec![0i8; q.len()];
    requantize_s8(p, q, &mut out).unwrap();
    let mut in_place = q.to_vec();
    requantize_s8_inplace(p, &mut in_place).unwrap();
    assert_bit_exact("requantize: in place vs dispatcher", &in_place, &out);
    let mut port = vec![0i8; q.len()];
    portable::requantize(p, q, &mut port);
    assert_bit_exact("requantize: portable vs dispatcher", &port, &out);
    out
}

fn all_int8() -> Vec<i8> {
    (-128i32..=127).map(|v| v as i8).collect()
}

#[test]
fn quantize_rounds_ties_away_from_zero_and_clamps() {
    let p = QuantizeS8Params::from_scales(0.5, 0).unwrap();
    // x / 0.5: 0.5 -> 1, -0.5 -> -1, 1.5 -> 2, -1.5 -> -2, 2.5 -> 3 (not banker's rounding),
    // 0.4 -> 0, -0.6 -> -1.
    let x = [0.25, -0.25, 0.75, -0.75, 1.25, 0.2, -0.3];
    assert_eq!(quantize_both(&p, &x), vec![1, -1, 2, -2, 3, 0, -1]);
    // With a zero point, and saturation at both ends; infinities saturate, NaN is the zero point.
    let p = QuantizeS8Params::from_scales(0.1, -100).unwrap();
    let x = [
        0.0,
        22.7,
        22.8,
        -2.8,
        -2.9,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
    ];
    // 22.7 / 0.1 = 227 -> 127; 22.8 -> 228 -> 128 -> 127; -2.8 -> -28 -> -128; -2.9 -> -129.
    assert_eq!(
        quantize_both(&p, &x),
        vec![-100, 127, 127, -128, -128, 127, -128, -100]
    );
}

/// Every int8 value survives dequantize -> quantize for any scale (the f32 product is within
/// half an f32 ulp of the exact multiple, far from a rounding boundary).
#[test]
fn dequantize_then_quantize_is_the_identity() {
    let q = all_int8();
    for &(scale, zp) in &[
        (0.1f32, 0),
        (0.0037, -128),
        (3.7, 127),
        (1e-5, 17),
        (123.456, -3),
    ] {
        let qp = QuantizeS8Params::from_scales(scale, zp).unwrap();
        let x = dequantize_both(&qp, &q);
        // DEQUANTIZE is one f32 rounding of the exact product (TFLite multiplies in f32).
        for (&qi, &xi) in q.iter().zip(&x) {
            assert_eq!(xi, (scale as f64 * (qi as i32 - zp) as f64) as f32);
        }
        assert_bit_exact("round trip", &quantize_both(&qp, &x), &q);
    }
}

/// quantize -> dequantize moves a value inside the representable range by at most half a step
/// (plus f32 rounding of `x / scale`: 1e-6 of a step is generous).
#[test]
fn quantize_then_dequantize_is_within_half_a_step() {
    let mut rng = Rng::new(31);
    for &(scale, zp) in &[(0.02f32, 3), (0.25, -128), (1.5, 60)] {
        let lo = scale * (-128 - zp) as f32;
        let hi = scale * (127 - zp) as f32;
        let x = rng.vec_f32(2000, lo, hi);
        let p = QuantizeS8Params::from_scales(scale, zp).unwrap();
        let back = dequantize_both(&p, &quantize_both(&p, &x));
        for (xi, bi) in x.iter().zip(&back) {
            let steps = ((xi - bi) / scale).abs();
            assert!(steps <= 0.5 + 1e-6, "{xi} -> {bi} ({steps} steps)");
        }
        let mut fq = vec![0.0f32; x.len()];
        fake_quantize_f32(scale, zp, &x, &mut fq).unwrap();
        assert_eq!(fq, back, "fake quantization is dequantize(quantize(x))");
        let mut in_place = x.clone();
        fake_quantize_f32_inplace(scale, zp, &mut in_place).unwrap();
        assert_eq!(in_place, back);
    }
}

#[test]
fn requantize_equal_scales_moves_the_zero_point_only() {
    let q = all_int8();
    let p = RequantizeS8Params::from_scales(0.07, 10, 0.07, -20).unwrap();
    assert_eq!((p.multiplier, p.shift), (1 << 30, 1));
    let out = requantize_all(&p, &q);
    for (&qi, &o) in q.iter().zip(&out) {
        assert_eq!(o as i32, (qi as i32 - 10 - 20).clamp(-128, 127));
    }
}

/// Power-of-two ratios are exact multipliers, so the result shows TFLite's rounding alone:
/// doubling is exact; halving goes through SaturatingRoundingDoublingHighMul, whose exact
/// halves round toward +infinity (-1.5 -> -1, 1.5 -> 2); a quarter adds RoundingDivideByPOT,
/// whose halves round away from zero (-0.5 -> -1 after the high multiply's exact -1 / 2).
#[test]
fn requantize_power_of_two_ratios_show_tflite_rounding() {
    let p = RequantizeS8Params::from_scales(0.2, 0, 0.1, 0).unwrap();
    assert_eq!(
        requantize_all(&p, &[-3, 3, 63, 64, -64, -65]),
        vec![-6, 6, 126, 127, -128, -128]
    );
    let p = RequantizeS8Params::from_scales(0.1, 0, 0.2, 0).unwrap();
    assert_eq!(
        requantize_all(&p, &[-3, 3, -1, 1, 5, -5]),
        vec![-1, 2, 0, 1, 3, -2]
    );
    let p = RequantizeS8Params::from_scales(0.1, 0, 0.4, 0).unwrap();
    // x / 4 = high multiply x / 2 (ties up), then rounding shift by 1 (ties away from zero):
    // -2 -> -1 -> -0.5 -> -1; 2 -> 1 -> 0.5 -> 1; -6 -> -3 -> -1.5 -> -2; 6 -> 3 -> 2 (1.5);
    // -5 -> -2 (tie -2.5 up) -> -1.
    assert_eq!(
        requantize_all(&p, &[-2, 2, -6, 6, -5]),
        vec![-1, 1, -2, 2, -1]
    );
}

/// Any ratio: within one output step of the exact value (two roundings of at most half a step
/// each; the Q31 multiplier's relative error of 2^-31 is negligible), then clamped.
#[test]
fn requantize_is_within_one_step_of_exact() {
    let q = all_int8();
    let mut rng = Rng::new(32);
    for _ in 0..200 {
        let in_scale = rng.f32(0.001, 1.0);
        let out_scale = rng.f32(0.001, 1.0);
        let in_zp = rng.range_i64(-128, 127) as i32;
        let out_zp = rng.range_i64(-128, 127) as i32;
        let p = RequantizeS8Params::from_scales(in_scale, in_zp, out_scale, out_zp).unwrap();
        let out = requantize_all(&p, &q);
        for (&qi, &o) in q.iter().zip(&out) {
            let exact =
                (qi as i32 - in_zp) as f64 * in_scale as f64 / out_scale as f64 + out_zp as f64;
            let target = exact.clamp(-128.0, 127.0);
            assert!(
                (o as f64 - target).abs() <= 1.0,
                "{qi} ({in_scale}, {in_zp}) -> ({out_scale}, {out_zp}): {o} vs {exact}"
            );
        }
    }
}

/// Long tensors go through a table of the same element function; the result is identical.
#[test]
fn requantize_long_tensors_match_the_element_loop() {
    let mut rng = Rng::new(33);
    let q = rng.vec_i8(3001);
    assert!(q.len() >= bfmd_kernels::s8::activation::LUT_MIN_LEN);
    let p = RequantizeS8Params::from_scales(0.031, -7, 0.047, 12).unwrap();
    let out = requantize_all(&p, &q);
    let table = p.to_lut().unwrap();
    for (&qi, &o) in q.iter().zip(&out) {
        assert_eq!(o, portable::requantize_element(&p, qi));
        assert_eq!(o, table[qi as u8 as usize]);
    }
}

#[test]
fn errors_are_reported() {
    assert!(QuantizeS8Params::from_scales(0.0, 0).is_err());
    assert!(QuantizeS8Params::from_scales(f32::NAN, 0).is_err());
    assert!(QuantizeS8Params::from_scales(-1.0, 0).is_err());
    assert_eq!(
        QuantizeS8Params::from_scales(1.0, 128),
        Err(Error::BadParam {
            what: "zero point",
            value: 128
        })
    );
    let p = QuantizeS8Params::from_scales(1.0, 0).unwrap();
    assert_eq!(
        quantize_s8(&p, &[0.0; 3], &mut [0; 2]),
        Err(Error::BufferLength {
            what: "output",
            expected: 3,
            got: 2
        })
    );
    assert!(dequantize_s8(&p, &[0; 3], &mut [0.0; 4]).is_err());
    let bad = QuantizeS8Params {
        scale: 0.0,
        zero_point: 0,
    };
    assert!(quantize_s8(&bad, &[0.0], &mut [0]).is_err());
    assert!(dequantize_s8(&bad, &[0], &mut [0.0]).is_err());

    assert!(RequantizeS8Params::from_scales(0.1, 0, 0.0, 0).is_err());
    assert!(RequantizeS8Params::from_scales(0.1, -200, 0.1, 0).is_err());
    // A ratio of 2^31 needs a shift the kernel does not support.
    assert!(RequantizeS8Params::from_scales(2f32.powi(20), 0, 2f32.powi(-11), 0).is_err());
    let r = RequantizeS8Params::from_scales(0.1, 0, 0.2, 0).unwrap();
    assert!(requantize_s8(&r, &[0; 3], &mut [0; 1]).is_err());
    let mut bad = r;
    bad.shift = -40;
    assert!(requantize_s8_inplace(&bad, &mut [0; 3]).is_err());
    let mut bad = r;
    bad.multiplier = -1;
    assert!(requantize_s8(&bad, &[0; 3], &mut [0; 3]).is_err());

    assert!(fake_quantize_f32(0.1, 0, &[0.0; 2], &mut [0.0; 3]).is_err());
    assert!(fake_quantize_f32_inplace(0.1, -129, &mut [0.0; 2]).is_err());
}
