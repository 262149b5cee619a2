//! Test battery of the binary elementwise family: ADD and MUL with independent input
//! quantization, broadcasting and a fused activation, in f32, int8 and f16, out of place and in
//! place.
//!
//! * int8 is checked bit for bit against outputs of the TFLite Micro reference kernels (small
//!   vectors below), against a literal transcription of TFLM's 4-D broadcast loops on every
//!   broadcast form, and between the dispatcher, the portable path and the in-place variants;
//! * int8 is checked against the f32 reference within the analytic bound of each op (stated at
//!   `int8_bound_*`), as a `proptest` sweep;
//! * f16 is checked against the f32 reference within a stated tolerance;
//! * shapes that do not broadcast and other caller mistakes return errors.
//!
//! The `TFLM_*` vectors were produced by single-op int8 `.tflite` models (converted by
//! TensorFlow 2.21, quantization then set to the values given here) run through the
//! `tflite-micro` Python interpreter 0.dev20261023; inputs are seeded random int8 tensors.

mod common;
mod int8_support;

use bfmd_kernels::half::f16;
use bfmd_kernels::quant::{
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_smaller_than_one_exp,
    FusedActivation,
};
use bfmd_kernels::reference::elementwise::{
    add_f32, add_f32_inplace, broadcast_shape, mul_f32, mul_f32_inplace, BinaryParams, Broadcast,
};
use bfmd_kernels::s8::elementwise::{
    add_s8, add_s8_inplace, mul_s8, mul_s8_inplace, portable, AddS8Params, MulS8Params,
    ADD_LEFT_SHIFT_S8,
};
use bfmd_kernels::{f16 as kf16, Error, Shape};
use common::{assert_bit_exact, dequantize, from_f16, to_f16, Rng};
use int8_support::{act_strategy, golden_cases, saturate};
use proptest::prelude::*;

type BinaryFn<P> = fn(&P, Shape, &[i8], Shape, &[i8], &mut [i8]) -> bfmd_kernels::Result<()>;
type InplaceFn<P> = fn(&P, Shape, &mut [i8], Shape, &[i8]) -> bfmd_kernels::Result<()>;

/// Every int8 ADD path: the dispatcher and the portable loop, out of place and in place.
const ADD_PATHS: [(&str, BinaryFn<AddS8Params>); 2] =
    [("dispatch", add_s8), ("portable", portable::add_s8)];
const ADD_INPLACE_PATHS: [(&str, InplaceFn<AddS8Params>); 2] = [
    ("dispatch inplace", add_s8_inplace),
    ("portable inplace", portable::add_s8_inplace),
];
/// Every int8 MUL path.
const MUL_PATHS: [(&str, BinaryFn<MulS8Params>); 2] =
    [("dispatch", mul_s8), ("portable", portable::mul_s8)];
const MUL_INPLACE_PATHS: [(&str, InplaceFn<MulS8Params>); 2] = [
    ("dispatch inplace", mul_s8_inplace),
    ("portable inplace", portable::mul_s8_inplace),
];

/// int8 parameters of a symmetric op: the same op with the operands the other way round.
trait Swapped {
    fn swap(&self) -> Self;
}

impl Swapped for AddS8Params {
    fn swap(&self) -> Self {
        self.swapped()
    }
}

impl Swapped for MulS8Params {
    fn swap(&self) -> Self {
        self.swapped()
    }
}

/// Runs every path of an op (out of place, in place when an operand has the output shape, and
/// with the operands swapped) and asserts they all give `want`.
#[allow(clippy::too_many_arguments)]
fn check_paths<P: Swapped>(
    paths: &[(&str, BinaryFn<P>)],
    inplace_paths: &[(&str, InplaceFn<P>)],
    p: &P,
    sa: Shape,
    a: &[i8],
    sb: Shape,
    b: &[i8],
    want: &[i8],
) {
    let out_shape = broadcast_shape(sa, sb).unwrap();
    for (name, f) in paths {
        let mut out = vec![0i8; out_shape.len()];
        f(p, sa, a, sb, b, &mut out).unwrap();
        assert_bit_exact(name, &out, want);
        f(&p.swap(), sb, b, sa, a, &mut out).unwrap();
        assert_bit_exact(&format!("{name} swapped"), &out, want);
    }
    for (name, f) in inplace_paths {
        if sa == out_shape {
            let mut buf = a.to_vec();
            f(p, sa, &mut buf, sb, b).unwrap();
            assert_bit_exact(name, &buf, want);
        }
        if sb == out_shape {
            let mut buf = b.to_vec();
            f(&p.swap(), sb, &mut buf, sa, a).unwrap();
            assert_bit_exact(&format!("{name} swapped"), &buf, want);
        }
    }
}

fn check_add_paths(p: &AddS8Params, sa: Shape, a: &[i8], sb: Shape, b: &[i8], want: &[i8]) {
    check_paths(&ADD_PATHS, &ADD_INPLACE_PATHS, p, sa, a, sb, b, want);
}

fn check_mul_paths(p: &MulS8Params, sa: Shape, a: &[i8], sb: Shape, b: &[i8], want: &[i8]) {
    check_paths(&MUL_PATHS, &MUL_INPLACE_PATHS, p, sa, a, sb, b, want);
}

// ---------------------------------------------------------------------------------------------
// int8 against TFLite Micro.

/// ADD, same shape 1x2x3x5, fused RELU, inputs (0.03, -3) and (0.07, 10), output (0.09, -20).
#[rustfmt::skip]
const TFLM_ADD_A: [i8; 30] = [40, 101, 56, 43, 110, 43, -108, 78, 117, 25, 76, -123, -91, -75, 85,
    78, 64, 45, -122, -8, -65, -32, 108, 3, -10, -124, -41, 33, -4, -57];
#[rustfmt::skip]
const TFLM_ADD_B: [i8; 30] = [109, -112, 66, 122, -118, -25, 78, -115, 15, -126, -90, -57, 5, -10,
    -92, -30, 68, -93, -71, 18, -78, 51, 17, -24, 78, -75, 13, -95, 53, -89];
#[rustfmt::skip]
const TFLM_ADD_OUT: [i8; 30] = [71, -20, 43, 82, -20, -20, -2, -20, 24, -20, -20, -20, -20, -20,
    -20, -20, 47, -20, -20, -15, -20, 2, 22, -20, 31, -20, -20, -20, 13, -20];

#[test]
fn add_s8_matches_tflm_unequal_scales_relu() {
    let p = AddS8Params::from_scales(0.03, -3, 0.07, 10, 0.09, -20, FusedActivation::Relu).unwrap();
    assert_eq!((p.act_min, p.act_max), (-20, 127));
    let s = Shape::new(1, 2, 3, 5);
    check_add_paths(&p, s, &TFLM_ADD_A, s, &TFLM_ADD_B, &TFLM_ADD_OUT);
}

/// ADD, 1x2x3x5 + 1x1x1x5 (per-channel broadcast), inputs (0.04, 2) and (0.015, -1), output
/// (0.05, 0), no activation.
#[rustfmt::skip]
const TFLM_ADDB_A: [i8; 30] = [126, 2, 110, -15, 17, -93, 69, 9, 95, -112, 12, 4, 7, 25, 96, -41,
    111, -77, -74, 114, 76, -80, -5, -34, -27, -77, -31, 40, -96, -123];
const TFLM_ADDB_B: [i8; 5] = [-19, 33, -83, -13, 99];
#[rustfmt::skip]
const TFLM_ADDB_OUT: [i8; 30] = [94, 10, 62, -17, 42, -81, 64, -19, 71, -61, 3, 12, -21, 15, 105,
    -40, 97, -88, -64, 120, 54, -55, -30, -32, 7, -69, -16, 6, -82, -70];

#[test]
fn add_s8_matches_tflm_channel_broadcast() {
    let p = AddS8Params::from_scales(0.04, 2, 0.015, -1, 0.05, 0, FusedActivation::None).unwrap();
    check_add_paths(
        &p,
        Shape::new(1, 2, 3, 5),
        &TFLM_ADDB_A,
        Shape::new(1, 1, 1, 5),
        &TFLM_ADDB_B,
        &TFLM_ADDB_OUT,
    );
}

/// MUL, 2x2x2x3 * 2x1x1x3 (squeeze-and-excitation gate with batch 2), inputs (0.05, -4) and
/// (1/256, -128), output (0.045, -2), no activation.
#[rustfmt::skip]
const TFLM_SE_X: [i8; 24] = [11, -54, 101, 113, 41, -63, -122, 32, 21, -22, -90, 47, 60, 77, 47,
    101, -30, 121, -118, 20, -33, -42, 19, 70];
const TFLM_SE_GATE: [i8; 6] = [-62, -89, -22, 85, 43, -83];
#[rustfmt::skip]
const TFLM_SE_OUT: [i8; 24] = [2, -10, 46, 32, 6, -29, -36, 4, 10, -7, -17, 21, 57, 58, 8, 95, -21,
    22, -107, 16, -8, -37, 15, 12];

#[test]
fn mul_s8_matches_tflm_se_gate_batch2() {
    let p = MulS8Params::from_scales(
        0.05,
        -4,
        1.0 / 256.0,
        -128,
        0.045,
        -2,
        FusedActivation::None,
    )
    .unwrap();
    check_mul_paths(
        &p,
        Shape::new(2, 2, 2, 3),
        &TFLM_SE_X,
        Shape::new(2, 1, 1, 3),
        &TFLM_SE_GATE,
        &TFLM_SE_OUT,
    );
}

/// MUL, 1x2x2x3 * scalar, inputs (0.02, 1) and (0.01, 0), output (0.012, 5), no activation.
const TFLM_MULS_A: [i8; 12] = [116, -29, -76, 56, 2, -12, 52, -45, -7, 19, -120, -68];
const TFLM_MULS_OUT: [i8; 12] = [127, -40, -111, 88, 7, -15, 82, -64, -7, 32, -128, -99];

#[test]
fn mul_s8_matches_tflm_scalar() {
    let p = MulS8Params::from_scales(0.02, 1, 0.01, 0, 0.012, 5, FusedActivation::None).unwrap();
    check_mul_paths(
        &p,
        Shape::new(1, 2, 2, 3),
        &TFLM_MULS_A,
        Shape::new(1, 1, 1, 1),
        &[90],
        &TFLM_MULS_OUT,
    );
}

/// The ADD and MUL cases of `tests/data/kernels/` (TFLM goldens, see its README) on every path,
/// in place and with the operands swapped, and the f32 reference on their dequantized inputs
/// within the analytic bound of TFLM's outputs.
#[test]
fn tflm_golden_cases_on_every_path() {
    for op in ["ADD", "MUL"] {
        for c in golden_cases(op) {
            let (x1, x2, y) = (c.input("input_0"), c.input("input_1"), c.output());
            let (sa, sb) = (x1.shape(), x2.shape());
            assert_eq!(broadcast_shape(sa, sb).unwrap(), y.shape(), "{}", c.name);
            let (a, b, want) = (x1.i8s(), x2.i8s(), y.i8s());
            let q = (x1.scale(), x1.zero_point(), x2.scale(), x2.zero_point());
            let (s, z) = (y.scale(), y.zero_point());
            let (ra, rb) = (dequantize(&a, q.0, q.1), dequantize(&b, q.2, q.3));
            let fp = BinaryParams::new(c.activation());
            let mut real = vec![0.0f32; want.len()];
            let bound = if op == "ADD" {
                let p = AddS8Params::from_scales(q.0, q.1, q.2, q.3, s, z, c.activation()).unwrap();
                check_add_paths(&p, sa, &a, sb, &b, &want);
                add_f32(&fp, sa, &ra, sb, &rb, &mut real).unwrap();
                int8_bound_add(q.0, q.2, s, 128.0 * (q.0 + q.2))
            } else {
                let p = MulS8Params::from_scales(q.0, q.1, q.2, q.3, s, z, c.activation()).unwrap();
                check_mul_paths(&p, sa, &a, sb, &b, &want);
                mul_f32(&fp, sa, &ra, sb, &rb, &mut real).unwrap();
                int8_bound_mul(s, 65536.0 * q.0 * q.2)
            };
            for (i, (&t, &r)) in dequantize(&want, s, z).iter().zip(&real).enumerate() {
                let r = saturate(r, s, z);
                assert!(
                    (t - r).abs() <= bound,
                    "{} [{i}]: TFLM {t} vs f32 {r}",
                    c.name
                );
            }
        }
    }
}

#[test]
fn add_params_follow_tflm_prepare() {
    // Equal scales: each input multiplier is 0.5 = 2^30 * 2^-31, exponent 0; the output
    // multiplier is 2 * s / (2^20 * s_out).
    let p = AddS8Params::from_scales(0.1, 5, 0.1, -5, 0.2, 0, FusedActivation::None).unwrap();
    assert_eq!(p.left_shift, ADD_LEFT_SHIFT_S8);
    assert_eq!((p.input1_multiplier, p.input1_shift), (1 << 30, 0));
    assert_eq!((p.input2_multiplier, p.input2_shift), (1 << 30, 0));
    // 2 * 0.1 / (2^20 * 0.2) = 2^-20 = 0.5 * 2^-19.
    assert_eq!((p.output_multiplier, p.output_shift), (1 << 30, -19));
    assert_eq!(
        (p.input1_offset, p.input2_offset, p.output_offset),
        (-5, 5, 0)
    );
    // Swapping twice is the identity; swapping exchanges the input halves only.
    let q = AddS8Params::from_scales(0.03, -3, 0.07, 10, 0.09, -20, FusedActivation::Relu).unwrap();
    assert_eq!(q.swapped().swapped(), q);
    let r = AddS8Params::from_scales(0.07, 10, 0.03, -3, 0.09, -20, FusedActivation::Relu).unwrap();
    assert_eq!(q.swapped(), r);
    let m = MulS8Params::from_scales(0.05, -4, 0.5, 3, 0.1, 1, FusedActivation::Relu6).unwrap();
    assert_eq!(
        m.swapped(),
        MulS8Params::from_scales(0.5, 3, 0.05, -4, 0.1, 1, FusedActivation::Relu6).unwrap()
    );
    // 0.05 * 0.5 / 0.1 = 0.25.
    assert_eq!((m.output_multiplier, m.output_shift), (1 << 30, -1));
    assert_eq!((m.act_min, m.act_max), (1, 61));
}

// ---------------------------------------------------------------------------------------------
// Broadcast forms, against a literal transcription of TFLM's broadcast loops.

/// Index of `(b, y, x, c)` in a tensor of shape `s` broadcast to the output, TFLM's
/// `NdArrayDesc` / `SubscriptToIndex` rule: a dimension of size 1 has stride 0.
fn subscript(s: Shape, b: usize, y: usize, x: usize, c: usize) -> usize {
    let pick = |i: usize, d: usize| if d == 1 { 0 } else { i };
    s.index(pick(b, s.n), pick(y, s.h), pick(x, s.w), pick(c, s.c))
}

/// TFLM `AddFunc` (`reference/integer_ops/add.h`), written out from the parameters.
fn tflm_add(p: &AddS8Params, x: i8, y: i8) -> i8 {
    let a = (p.input1_offset + x as i32) * (1 << p.left_shift);
    let b = (p.input2_offset + y as i32) * (1 << p.left_shift);
    let a = multiply_by_quantized_multiplier_smaller_than_one_exp(
        a,
        p.input1_multiplier,
        p.input1_shift,
    );
    let b = multiply_by_quantized_multiplier_smaller_than_one_exp(
        b,
        p.input2_multiplier,
        p.input2_shift,
    );
    let raw = multiply_by_quantized_multiplier_smaller_than_one_exp(
        a + b,
        p.output_multiplier,
        p.output_shift,
    ) + p.output_offset;
    raw.max(p.act_min).min(p.act_max) as i8
}

/// TFLM `BroadcastMul4DSlow`'s element (`reference/integer_ops/mul.h`).
fn tflm_mul(p: &MulS8Params, x: i8, y: i8) -> i8 {
    let v = (p.input1_offset + x as i32) * (p.input2_offset + y as i32);
    let raw =
        p.output_offset + multiply_by_quantized_multiplier(v, p.output_multiplier, p.output_shift);
    raw.max(p.act_min).min(p.act_max) as i8
}

/// TFLM's 4-D broadcast loop nest (batch, y, x, channel), calling `f` per element.
fn tflm_broadcast(
    sa: Shape,
    a: &[i8],
    sb: Shape,
    b: &[i8],
    out: Shape,
    f: impl Fn(i8, i8) -> i8,
) -> Vec<i8> {
    let mut o = vec![0i8; out.len()];
    for n in 0..out.n {
        for y in 0..out.h {
            for x in 0..out.w {
                for c in 0..out.c {
                    o[out.index(n, y, x, c)] =
                        f(a[subscript(sa, n, y, x, c)], b[subscript(sb, n, y, x, c)]);
                }
            }
        }
    }
    o
}

/// The broadcast forms the battery sweeps, as `(name, a, b)`: same shape, SE gate with and
/// without batch, scalar, spatial map, both operands broadcast, odd channel counts, 1x1
/// spatial size.
fn broadcast_forms() -> Vec<(&'static str, Shape, Shape)> {
    let s = Shape::new;
    vec![
        ("same_shape_odd_c", s(1, 3, 5, 7), s(1, 3, 5, 7)),
        ("channel_vector", s(1, 4, 3, 5), s(1, 1, 1, 5)),
        ("se_gate_batch2", s(2, 3, 3, 9), s(2, 1, 1, 9)),
        ("scalar", s(2, 2, 3, 3), s(1, 1, 1, 1)),
        ("spatial_map", s(1, 3, 4, 6), s(1, 3, 4, 1)),
        ("vector_first", s(1, 1, 1, 5), s(2, 3, 2, 5)),
        ("both_broadcast", s(2, 1, 4, 1), s(1, 3, 1, 5)),
        ("row_vector", s(1, 3, 4, 2), s(1, 1, 4, 2)),
        ("1x1_spatial_batch2", s(2, 1, 1, 11), s(2, 1, 1, 11)),
    ]
}

#[test]
fn s8_broadcast_forms_match_tflm_loops() {
    let mut rng = Rng::new(3);
    // Unequal input scales with RELU6, and equal ones (the residual-add case) with no clamp.
    let adds = [
        AddS8Params::from_scales(0.06, 7, 0.02, -9, 0.05, 3, FusedActivation::Relu6).unwrap(),
        AddS8Params::from_scales(0.04, -2, 0.04, 5, 0.07, -1, FusedActivation::None).unwrap(),
    ];
    let muls = [
        MulS8Params::from_scales(0.06, 7, 0.02, -9, 0.011, -3, FusedActivation::None).unwrap(),
        MulS8Params::from_scales(0.04, -2, 0.04, 5, 0.2, 0, FusedActivation::Relu).unwrap(),
    ];
    for (case, sa, sb) in broadcast_forms() {
        let (a, b) = (rng.vec_i8(sa.len()), rng.vec_i8(sb.len()));
        let out = broadcast_shape(sa, sb).unwrap();
        // A failing assertion's message names the path; this names the form.
        println!("{case}");
        for add in &adds {
            let want = tflm_broadcast(sa, &a, sb, &b, out, |x, y| tflm_add(add, x, y));
            check_add_paths(add, sa, &a, sb, &b, &want);
        }
        for mul in &muls {
            let want = tflm_broadcast(sa, &a, sb, &b, out, |x, y| tflm_mul(mul, x, y));
            check_mul_paths(mul, sa, &a, sb, &b, &want);
        }
    }
}

#[test]
fn broadcast_plans_use_long_rows() {
    let s = Shape::new;
    let plan = |a, b| Broadcast::new(a, b).unwrap();
    // Same shape: one row over the whole tensor.
    assert_eq!(plan(s(2, 3, 4, 5), s(2, 3, 4, 5)).row_len(), 120);
    // Scalar: one row, the scalar repeated.
    assert_eq!(plan(s(2, 3, 4, 5), s(1, 1, 1, 1)).row_len(), 120);
    // Channel vector and SE gate: rows of one pixel.
    assert_eq!(plan(s(2, 3, 4, 5), s(1, 1, 1, 5)).row_len(), 5);
    assert_eq!(plan(s(2, 3, 4, 5), s(2, 1, 1, 5)).row_len(), 5);
    // Spatial map: rows of one pixel, the map's value repeated.
    assert_eq!(plan(s(2, 3, 4, 5), s(2, 3, 4, 1)).row_len(), 5);
    // [1, 1, W, C] against [N, H, W, C]: rows of W * C.
    assert_eq!(plan(s(2, 3, 4, 5), s(1, 1, 4, 5)).row_len(), 20);
    let p = plan(s(2, 1, 4, 1), s(1, 3, 1, 5));
    assert_eq!(p.output(), s(2, 3, 4, 5));
    let mut rows = 0;
    p.for_each_row(|_, _, o| {
        assert_eq!(o, rows * p.row_len());
        rows += 1;
    });
    assert_eq!(rows * p.row_len(), 120);
}

// ---------------------------------------------------------------------------------------------
// f32 reference by hand.

#[test]
fn f32_add_mul_by_hand() {
    let none = BinaryParams::new(FusedActivation::None);
    let relu6 = BinaryParams::new(FusedActivation::Relu6);
    let sa = Shape::new(1, 1, 2, 3);
    let a = [1.0, -2.0, 3.0, 4.5, 5.0, -6.0];
    let sb = Shape::new(1, 1, 1, 3);
    let b = [0.5, 10.0, -1.0];
    let mut out = [0.0f32; 6];
    add_f32(&none, sa, &a, sb, &b, &mut out).unwrap();
    assert_eq!(out, [1.5, 8.0, 2.0, 5.0, 15.0, -7.0]);
    add_f32(&relu6, sa, &a, sb, &b, &mut out).unwrap();
    assert_eq!(out, [1.5, 6.0, 2.0, 5.0, 6.0, 0.0]);
    mul_f32(&none, sa, &a, sb, &b, &mut out).unwrap();
    assert_eq!(out, [0.5, -20.0, -3.0, 2.25, 50.0, 6.0]);
    // The vector may come first.
    mul_f32(&none, sb, &b, sa, &a, &mut out).unwrap();
    assert_eq!(out, [0.5, -20.0, -3.0, 2.25, 50.0, 6.0]);
    let mut buf = a;
    mul_f32_inplace(&relu6, sa, &mut buf, sb, &b).unwrap();
    assert_eq!(buf, [0.5, 0.0, 0.0, 2.25, 6.0, 6.0]);
    let mut buf = a;
    add_f32_inplace(&none, sa, &mut buf, Shape::new(1, 1, 1, 1), &[1.0]).unwrap();
    assert_eq!(buf, [2.0, -1.0, 4.0, 5.5, 6.0, -5.0]);
}

// ---------------------------------------------------------------------------------------------
// int8 against the f32 reference within the analytic bound.

/// ADD: each input is rescaled to units of `u = 2 * max(s1, s2) / 2^20` with a double rounding
/// (at most one unit each), and the sum is requantized with another double rounding (at most
/// one output step): `|error| <= s_out + 2u`. The f32 reference's own rounding is covered by a
/// 1e-5 relative margin; the activation bounds are within half an output step.
fn int8_bound_add(s1: f32, s2: f32, s_out: f32, magnitude: f32) -> f32 {
    s_out + 4.0 * s1.max(s2) / (1 << 20) as f32 + 1e-5 * magnitude + 1e-6
}

/// MUL: the integer product is exact and requantized with one double rounding, at most one
/// output step; the Q31 multiplier is exact to 2^-31 relative.
fn int8_bound_mul(s_out: f32, magnitude: f32) -> f32 {
    s_out + 1e-5 * magnitude + 1e-6
}

/// Two shapes that broadcast: a random base shape, and for each operand a random set of
/// dimensions collapsed to 1 (covering same shape, vectors, SE gates, scalars, maps).
fn shapes_strategy() -> impl Strategy<Value = (Shape, Shape)> {
    (
        (1usize..=2, 1usize..=4, 1usize..=4, 1usize..=7),
        0u8..16,
        0u8..16,
    )
        .prop_map(|((n, h, w, c), ma, mb)| {
            let collapse = |m: u8| {
                let d = |bit: u8, v: usize| if m & (1 << bit) != 0 { 1 } else { v };
                Shape::new(d(0, n), d(1, h), d(2, w), d(3, c))
            };
            (collapse(ma), collapse(mb))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn add_mul_s8_within_bound_of_f32(
        (sa, sb) in shapes_strategy(),
        (s1, z1) in (0.002f32..0.2, -128i32..=127),
        (s2, z2) in (0.002f32..0.2, -128i32..=127),
        out_ratio in 0.3f32..3.0,
        z_out in -128i32..=127,
        act in act_strategy(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::new(seed);
        let (a, b) = (rng.vec_i8(sa.len()), rng.vec_i8(sb.len()));
        let (ra, rb) = (dequantize(&a, s1, z1), dequantize(&b, s2, z2));
        let out_shape = broadcast_shape(sa, sb).unwrap();
        let fp = BinaryParams::new(act);
        let mut want = vec![0.0f32; out_shape.len()];
        let mut got = vec![0i8; out_shape.len()];

        // ADD: the output scale follows the sum's range.
        let s_add = (s1 + s2) * out_ratio;
        let p = AddS8Params::from_scales(s1, z1, s2, z2, s_add, z_out, act).unwrap();
        add_f32(&fp, sa, &ra, sb, &rb, &mut want).unwrap();
        let magnitude = 256.0 * (s1 + s2);
        for (name, f) in ADD_PATHS {
            f(&p, sa, &a, sb, &b, &mut got).unwrap();
            for (i, (&g8, &w)) in dequantize(&got, s_add, z_out).iter().zip(&want).enumerate() {
                let w = saturate(w, s_add, z_out);
                prop_assert!(
                    (g8 - w).abs() <= int8_bound_add(s1, s2, s_add, magnitude),
                    "add {name} [{i}]: {g8} vs {w}"
                );
            }
        }

        // MUL: the output scale follows the product's range.
        let s_mul = s1 * s2 * 128.0 * out_ratio;
        let p = MulS8Params::from_scales(s1, z1, s2, z2, s_mul, z_out, act).unwrap();
        mul_f32(&fp, sa, &ra, sb, &rb, &mut want).unwrap();
        let magnitude = 65536.0 * s1 * s2;
        for (name, f) in MUL_PATHS {
            f(&p, sa, &a, sb, &b, &mut got).unwrap();
            for (i, (&g8, &w)) in dequantize(&got, s_mul, z_out).iter().zip(&want).enumerate() {
                let w = saturate(w, s_mul, z_out);
                prop_assert!(
                    (g8 - w).abs() <= int8_bound_mul(s_mul, magnitude),
                    "mul {name} [{i}]: {g8} vs {w}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// f16 against f32.

#[test]
fn f16_add_mul_within_tolerance_of_f32() {
    // Inputs in [-4, 4] are rounded to f16 (2^-11 relative each), the f32 result is rounded
    // once more (2^-11 relative); 2^-24 covers f16 subnormals. For ADD the input error is at
    // most 2^-11 * (|a| + |b|) <= 2^-11 * 8, for MUL at most about 2^-10 * |a b| <= 2^-10 * 16.
    let tol_add = |v: f32| 2f32.powi(-11) * (8.0 + v.abs()) + 2f32.powi(-24);
    let tol_mul = |v: f32| 2f32.powi(-10) * 16.0 + 2f32.powi(-11) * v.abs() + 2f32.powi(-24);
    let mut rng = Rng::new(17);
    type F32Fn =
        fn(&BinaryParams, Shape, &[f32], Shape, &[f32], &mut [f32]) -> bfmd_kernels::Result<()>;
    type F16Fn =
        fn(&BinaryParams, Shape, &[f16], Shape, &[f16], &mut [f16]) -> bfmd_kernels::Result<()>;
    type F16InplaceFn =
        fn(&BinaryParams, Shape, &mut [f16], Shape, &[f16]) -> bfmd_kernels::Result<()>;
    type Tolerance<'a> = &'a dyn Fn(f32) -> f32;
    let ops: [(&str, F32Fn, F16Fn, F16InplaceFn, Tolerance); 2] = [
        (
            "add",
            add_f32,
            kf16::elementwise::add_f16,
            kf16::elementwise::add_f16_inplace,
            &tol_add,
        ),
        (
            "mul",
            mul_f32,
            kf16::elementwise::mul_f16,
            kf16::elementwise::mul_f16_inplace,
            &tol_mul,
        ),
    ];
    for (case, sa, sb) in broadcast_forms() {
        let (ra, rb) = (
            rng.vec_f32(sa.len(), -4.0, 4.0),
            rng.vec_f32(sb.len(), -4.0, 4.0),
        );
        let (ha, hb) = (to_f16(&ra), to_f16(&rb));
        let out_shape = broadcast_shape(sa, sb).unwrap();
        for act in [FusedActivation::None, FusedActivation::Relu6] {
            let p = BinaryParams::new(act);
            for (op, f32_fn, f16_fn, f16_inplace, tol) in &ops {
                let mut want = vec![0.0f32; out_shape.len()];
                let mut got = vec![f16::ZERO; out_shape.len()];
                f32_fn(&p, sa, &ra, sb, &rb, &mut want).unwrap();
                f16_fn(&p, sa, &ha, sb, &hb, &mut got).unwrap();
                for (i, (&h, &w)) in from_f16(&got).iter().zip(&want).enumerate() {
                    assert!(
                        (h - w).abs() <= tol(w),
                        "{case} {op} {act:?} [{i}]: {h} vs {w}"
                    );
                }
                if sa == out_shape {
                    let mut buf = ha.clone();
                    f16_inplace(&p, sa, &mut buf, sb, &hb).unwrap();
                    assert_eq!(buf, got, "{case} {op} in place");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors.

#[test]
fn shapes_that_do_not_broadcast_are_errors() {
    let p = AddS8Params::from_scales(0.1, 0, 0.1, 0, 0.1, 0, FusedActivation::None).unwrap();
    let (sa, sb) = (Shape::new(1, 2, 2, 4), Shape::new(1, 1, 1, 3));
    let mut out = [0i8; 16];
    assert_eq!(
        add_s8(&p, sa, &[0; 16], sb, &[0; 3], &mut out),
        Err(Error::DimMismatch {
            what: "broadcast channels",
            expected: 4,
            got: 3
        })
    );
    assert!(matches!(
        broadcast_shape(Shape::new(2, 1, 1, 1), Shape::new(3, 1, 1, 1)),
        Err(Error::DimMismatch {
            what: "broadcast batch",
            ..
        })
    ));
    let none = BinaryParams::new(FusedActivation::None);
    assert!(mul_f32(&none, sa, &[0.0; 16], sb, &[0.0; 3], &mut [0.0; 16]).is_err());
    assert!(kf16::elementwise::add_f16(
        &none,
        sa,
        &[f16::ZERO; 16],
        sb,
        &[f16::ZERO; 3],
        &mut [f16::ZERO; 16]
    )
    .is_err());
}

#[test]
fn inplace_needs_the_full_operand_first() {
    let p = MulS8Params::from_scales(0.1, 0, 0.1, 0, 0.1, 0, FusedActivation::None).unwrap();
    let (full, vec) = (Shape::new(1, 2, 2, 3), Shape::new(1, 1, 1, 3));
    let mut small = [0i8; 3];
    assert!(matches!(
        mul_s8_inplace(&p, vec, &mut small, full, &[0; 12]),
        Err(Error::DimMismatch { .. })
    ));
    let none = BinaryParams::new(FusedActivation::None);
    assert!(add_f32_inplace(&none, vec, &mut [0.0; 3], full, &[0.0; 12]).is_err());
    // The right way round works.
    // 0.1 * 5 * 0.1 * 20 = 1.0, i.e. 10 at scale 0.1.
    let mut buf = [5i8; 12];
    mul_s8_inplace(&p, full, &mut buf, vec, &[20, 20, 20]).unwrap();
    assert_eq!(buf, [10; 12]);
}

#[test]
fn buffer_lengths_are_checked() {
    let p = AddS8Params::from_scales(0.1, 0, 0.1, 0, 0.1, 0, FusedActivation::None).unwrap();
    let s = Shape::new(1, 2, 2, 3);
    assert_eq!(
        add_s8(&p, s, &[0; 11], s, &[0; 12], &mut [0; 12]),
        Err(Error::BufferLength {
            what: "first operand",
            expected: 12,
            got: 11
        })
    );
    assert_eq!(
        portable::add_s8(&p, s, &[0; 12], s, &[0; 13], &mut [0; 12]),
        Err(Error::BufferLength {
            what: "second operand",
            expected: 12,
            got: 13
        })
    );
    assert_eq!(
        add_s8_inplace(&p, s, &mut [0; 12], Shape::new(1, 1, 1, 1), &[]),
        Err(Error::BufferLength {
            what: "second operand",
            expected: 1,
            got: 0
        })
    );
    let m = MulS8Params::from_scales(0.1, 0, 0.1, 0, 0.1, 0, FusedActivation::None).unwrap();
    assert!(matches!(
        mul_s8(&m, s, &[0; 12], s, &[0; 12], &mut [0; 11]),
        Err(Error::BufferLength { what: "output", .. })
    ));
}

#[test]
fn quantization_errors() {
    // 2 * max input scale / (2^20 * output scale) must stay below 1 (TFLM aborts otherwise).
    assert!(matches!(
        AddS8Params::from_scales(1.0, 0, 1.0, 0, 1e-7, 0, FusedActivation::None),
        Err(Error::BadParam { .. })
    ));
    assert!(AddS8Params::from_scales(0.1, 0, -0.1, 0, 0.1, 0, FusedActivation::None).is_err());
    assert!(AddS8Params::from_scales(0.1, 128, 0.1, 0, 0.1, 0, FusedActivation::None).is_err());
    assert!(
        MulS8Params::from_scales(0.1, 0, 0.1, 0, f32::INFINITY, 0, FusedActivation::None).is_err()
    );
    // A real multiplier of 2^20 would overflow the product's left shift.
    assert!(MulS8Params::from_scales(1.0, 0, 1.0, 0, 1e-6, 0, FusedActivation::None).is_err());
    // Hand-made parameters are checked before use.
    let p = AddS8Params::from_scales(0.1, 0, 0.1, 0, 0.1, 0, FusedActivation::None).unwrap();
    let s = Shape::new(1, 1, 1, 2);
    let bad = AddS8Params {
        left_shift: 31,
        ..p
    };
    assert!(add_s8(&bad, s, &[0; 2], s, &[0; 2], &mut [0; 2]).is_err());
    let bad = AddS8Params {
        output_shift: 3,
        ..p
    };
    assert!(add_s8(&bad, s, &[0; 2], s, &[0; 2], &mut [0; 2]).is_err());
    let bad = AddS8Params { act_min: -129, ..p };
    assert!(add_s8_inplace(&bad, s, &mut [0; 2], s, &[0; 2]).is_err());
    let m = MulS8Params::from_scales(0.1, 0, 0.1, 0, 0.1, 0, FusedActivation::None).unwrap();
    let bad = MulS8Params {
        input1_offset: 129,
        ..m
    };
    assert!(mul_s8(&bad, s, &[0; 2], s, &[0; 2], &mut [0; 2]).is_err());
    let bad_f = BinaryParams {
        act_min: 1.0,
        act_max: 0.0,
    };
    assert!(add_f32(&bad_f, s, &[0.0; 2], s, &[0.0; 2], &mut [0.0; 2]).is_err());
}

/// int8 SUB: TFLite's `SubElementwise` on ADD's parameters. Values chosen so that the real
/// results are exact in the output quantization.
#[test]
fn sub_s8_follows_tflite_on_exact_values() {
    use bfmd_kernels::s8::elementwise::{sub_s8, sub_s8_inplace, AddS8Params};
    // Inputs (0.05, -3) and (0.1, 4), output (0.1, -10).
    let p = AddS8Params::from_scales(0.05, -3, 0.1, 4, 0.1, -10, FusedActivation::None).unwrap();
    let s = Shape::new(1, 1, 2, 2);
    let (a, b) = ([17i8, 17, -3, 97], [14i8, -26, 4, 4]);
    // Real values: 1 - 1 = 0, 1 + 3 = 4, 0 - 0 = 0, 5 - 0 = 5.
    let mut out = [0i8; 4];
    sub_s8(&p, s, &a, s, &b, &mut out).unwrap();
    assert_eq!(out, [-10, 30, -10, 40]);
    let mut x = a;
    sub_s8_inplace(&p, s, &mut x, s, &b).unwrap();
    assert_eq!(x, out);
    // Broadcast subtrahend [1,1,1,2]: (1 - 1, 1 - (-3)), (0 - 1, 5 - (-3)); RELU clamps -1.
    let p = AddS8Params::from_scales(0.05, -3, 0.1, 4, 0.1, -10, FusedActivation::Relu).unwrap();
    sub_s8(&p, s, &a, Shape::new(1, 1, 1, 2), &[14, -26], &mut out).unwrap();
    assert_eq!(out, [-10, 30, -10, 70]);
}

/// int8 SUB against the f32 reference on random operands: within one output step (the
/// fixed-point rescaling rounds twice).
#[test]
fn sub_s8_is_within_one_step_of_f32() {
    use bfmd_kernels::s8::elementwise::{sub_s8, AddS8Params};
    let (s1, z1, s2, z2, so, zo) = (0.031f32, 5, 0.017f32, -20, 0.04f32, 3);
    let p = AddS8Params::from_scales(s1, z1, s2, z2, so, zo, FusedActivation::None).unwrap();
    let mut state = 0x1234_5678u32;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state >> 24) as i8
    };
    let n = 4096;
    let a: Vec<i8> = (0..n).map(|_| next()).collect();
    let b: Vec<i8> = (0..n).map(|_| next()).collect();
    let s = Shape::new(1, 1, 1, n);
    let mut out = vec![0i8; n];
    sub_s8(&p, s, &a, s, &b, &mut out).unwrap();
    for i in 0..n {
        let real = s1 * (a[i] as i32 - z1) as f32 - s2 * (b[i] as i32 - z2) as f32;
        let want = (real / so).round() as i32 + zo;
        let want = want.clamp(-128, 127);
        assert!(
            (out[i] as i32 - want).abs() <= 1,
            "{} - {}: {} vs {want}",
            a[i],
            b[i],
            out[i]
        );
    }
}

#[test]
fn sub_f32_and_f16_subtract_with_broadcast() {
    use bfmd_kernels::reference::elementwise::{sub_f32, BinaryParams};
    let p = BinaryParams::new(FusedActivation::None);
    let s = Shape::new(1, 1, 2, 2);
    let mut out = [0f32; 4];
    sub_f32(
        &p,
        s,
        &[1.0, 2.0, 3.0, 4.0],
        Shape::new(1, 1, 1, 2),
        &[0.5, -1.0],
        &mut out,
    )
    .unwrap();
    assert_eq!(out, [0.5, 3.0, 2.5, 5.0]);
    // Subtraction is not symmetric: a scalar minuend.
    sub_f32(
        &p,
        Shape::new(1, 1, 1, 1),
        &[1.0],
        s,
        &[1.0, 2.0, 3.0, 4.0],
        &mut out,
    )
    .unwrap();
    assert_eq!(out, [0.0, -1.0, -2.0, -3.0]);
    use bfmd_kernels::f16::elementwise::sub_f16;
    use bfmd_kernels::half::f16;
    let h = |v: &[f32]| v.iter().map(|&x| f16::from_f32(x)).collect::<Vec<_>>();
    let mut o16 = h(&[0.0; 4]);
    let relu = BinaryParams::new(FusedActivation::Relu);
    sub_f16(
        &relu,
        s,
        &h(&[1.0, 2.0, 3.0, 4.0]),
        s,
        &h(&[2.0, 1.0, 3.5, 0.0]),
        &mut o16,
    )
    .unwrap();
    assert_eq!(o16, h(&[0.0, 1.0, 0.0, 4.0]));
}
