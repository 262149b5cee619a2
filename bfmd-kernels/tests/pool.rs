//! Test battery of the pooling family: max pool, average pool (TFLite divisor and
//! `count_include_pad`) and MEAN over height and width, in f32, int8 and f16.
//!
//! * int8 is checked bit for bit against outputs of the TFLite Micro reference kernels (small
//!   vectors below) and between the dispatcher and the portable path;
//! * int8 is checked against the f32 reference on dequantized inputs within the analytic
//!   quantization bound of each op (stated at `int8_bound_*`), as a `proptest` sweep;
//! * f16 is checked against the f32 reference within a stated tolerance;
//! * caller mistakes return errors.
//!
//! The `TFLM_*` vectors were produced by single-op int8 `.tflite` models (converted by
//! TensorFlow 2.21, quantization then set to the values given here) run through the
//! `tflite-micro` Python interpreter 0.dev20261023; inputs are seeded random int8 tensors.

mod common;
mod int8_support;

use bfmd_kernels::half::f16;
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::reference::pool::{
    avg_pool_f32, check_pool_geometry, max_pool_f32, mean_f32, pool_geometry, pool_window,
    PoolParams,
};
use bfmd_kernels::s8::pool::{
    avg_pool_s8, max_pool_s8, mean_s8, portable, MeanS8Params, PoolS8Params,
};
use bfmd_kernels::{f16 as kf16, ConvGeometry, Error, Padding, PoolGeometry, Shape};
use common::{assert_bit_exact, dequantize, from_f16, to_f16, Rng};
use int8_support::{act_strategy, golden_cases, saturate};
use proptest::prelude::*;

type PoolS8Fn = fn(&PoolS8Params, &[i8], &mut [i8]) -> bfmd_kernels::Result<()>;
type MeanS8Fn = fn(&MeanS8Params, Shape, &[i8], &mut [i8]) -> bfmd_kernels::Result<()>;

/// Every int8 max-pool path: the dispatcher and the portable loop.
const MAX_POOL_PATHS: [(&str, PoolS8Fn); 2] = [
    ("dispatch", max_pool_s8),
    ("portable", portable::max_pool_s8),
];
/// Every int8 average-pool path.
const AVG_POOL_PATHS: [(&str, PoolS8Fn); 2] = [
    ("dispatch", avg_pool_s8),
    ("portable", portable::avg_pool_s8),
];
/// Every int8 MEAN path.
const MEAN_PATHS: [(&str, MeanS8Fn); 2] = [("dispatch", mean_s8), ("portable", portable::mean_s8)];

fn run_pool(f: PoolS8Fn, p: &PoolS8Params, input: &[i8]) -> Vec<i8> {
    let mut out = vec![0i8; p.geometry.output.len()];
    f(p, input, &mut out).unwrap();
    out
}

fn run_mean(f: MeanS8Fn, p: &MeanS8Params, shape: Shape, input: &[i8]) -> Vec<i8> {
    let mut out = vec![0i8; shape.n * shape.c];
    f(p, shape, input, &mut out).unwrap();
    out
}

// ---------------------------------------------------------------------------------------------
// int8 against TFLite Micro.

/// AVERAGE_POOL_2D 3x3, stride 2, SAME on 1x5x6x3 (width padding 0 left / 1 right, height 1/1),
/// fused RELU6, scale 0.05, zero point -7.
#[rustfmt::skip]
const TFLM_AVG_IN: [i8; 90] = [127, 100, -94, -7, 115, 61, -122, 3, -26, 40, -46, 65, 59, 22, -47,
    115, 77, -104, 108, -120, 118, 36, 103, -92, 82, -17, 44, 82, 46, 48, 90, 114, 41, -14, 77, -65,
    32, -81, 84, -49, -56, -16, -8, 94, -59, -97, -33, -20, -92, -19, 110, -59, -77, -47, 100, 83,
    74, -70, 74, -63, -52, -58, 65, -24, -86, 122, 81, 36, -126, -84, 50, 12, -30, -126, 115, -107,
    -78, -99, -114, -121, -75, -78, 23, 93, -82, -68, 102, 64, 36, 28];
#[rustfmt::skip]
const TFLM_AVG_OUT: [i8; 27] = [37, 31, 2, 39, 20, 21, 63, 73, -7, 20, 2, 17, 7, 9, 25, -7, 30,
    -7, -7, -7, 3, -7, -7, 30, -5, 14, 4];

#[test]
fn avg_pool_s8_matches_tflm_same_padding_relu6() {
    let g = pool_geometry(Shape::new(1, 5, 6, 3), (3, 3), (2, 2), Padding::Same).unwrap();
    assert_eq!(
        (g.pad_top, g.pad_bottom, g.pad_left, g.pad_right),
        (1, 1, 0, 1)
    );
    let p = PoolS8Params::from_scales(g, 0.05, -7, 0.05, -7, FusedActivation::Relu6).unwrap();
    assert_eq!((p.act_min, p.act_max), (-7, 113));
    for (name, f) in AVG_POOL_PATHS {
        assert_bit_exact(name, &run_pool(f, &p, &TFLM_AVG_IN), &TFLM_AVG_OUT);
    }
}

/// MAX_POOL_2D 2x2, stride 2, SAME on 1x5x5x3 (padding only at the bottom/right), no
/// activation, scale 0.1, zero point 3.
#[rustfmt::skip]
const TFLM_MAX_IN: [i8; 75] = [65, -40, -21, 86, -56, -125, 121, -62, -28, -15, 123, -101, -29, 106,
    -23, -52, -98, 49, 111, -23, -97, -103, -15, 80, 125, -17, 6, -13, 29, 77, 7, -105, 85, 100,
    58, -43, -91, -80, 32, 25, -23, -84, -83, 80, -45, 113, 2, 58, -111, 123, -85, 126, 100, -56,
    -102, -80, 31, 30, -42, 97, 96, -106, -98, -114, -19, 100, 103, 14, -6, -28, -28, -58, 75, 73,
    11];
#[rustfmt::skip]
const TFLM_MAX_OUT: [i8; 27] = [111, -23, 49, 125, 123, 80, -13, 106, 77, 113, 123, 85, 126, 100,
    32, 30, 80, 97, 96, -19, 100, 103, 14, -6, 75, 73, 11];

#[test]
fn max_pool_s8_matches_tflm_asymmetric_same_padding() {
    let g = pool_geometry(Shape::new(1, 5, 5, 3), (2, 2), (2, 2), Padding::Same).unwrap();
    assert_eq!(
        (g.pad_top, g.pad_bottom, g.pad_left, g.pad_right),
        (0, 1, 0, 1)
    );
    let p = PoolS8Params::from_scales(g, 0.1, 3, 0.1, 3, FusedActivation::None).unwrap();
    for (name, f) in MAX_POOL_PATHS {
        assert_bit_exact(name, &run_pool(f, &p, &TFLM_MAX_IN), &TFLM_MAX_OUT);
    }
}

/// MEAN over axes [1, 2] of 2x3x4x5, keep_dims false, input (0.02, -5), output (0.011, 9).
#[rustfmt::skip]
const TFLM_MEAN_IN: [i8; 120] = [120, 66, 62, 79, 19, -102, 109, -107, 117, 83, 111, -83, -123, 29,
    31, -68, -74, 108, -19, -82, 71, -46, -96, 77, -92, -121, 6, 94, -71, 18, -120, 21, -114, -113,
    -106, -118, 16, 80, -104, -104, -121, -87, -117, -43, -69, -24, 97, -18, 98, 73, -120, 31,
    -102, -101, 35, -6, -95, -87, 73, -61, -58, 38, 100, -88, -78, 51, -128, 49, 9, -65, -115, 60,
    127, -64, -34, -120, -120, 28, -103, -99, 29, 18, 62, -13, 91, 7, -89, -28, 109, -1, -56, 99,
    40, -107, -55, 4, -112, 25, 12, -21, -48, 35, -67, -18, -81, 101, 20, 42, -31, -18, -72, 22,
    -54, 65, -66, -84, 110, 111, 98, 60];
const TFLM_MEAN_OUT: [i8; 10] = [-57, 12, -46, 22, -21, -37, 11, 84, -2, -38];

#[test]
fn mean_s8_matches_tflm_batch2_requantized() {
    let p = MeanS8Params::from_scales(0.02, -5, 0.011, 9).unwrap();
    let shape = Shape::new(2, 3, 4, 5);
    for (name, f) in MEAN_PATHS {
        assert_bit_exact(name, &run_mean(f, &p, shape, &TFLM_MEAN_IN), &TFLM_MEAN_OUT);
    }
}

/// MEAN over axes [1, 2] of 1x3x3x4, keep_dims true, input and output both (0.02, -5). TFLM
/// still runs the integer `QuantizedMeanOrSum` path here; a truncating sum / count (the old
/// equal-quantization shortcut) would give [27, -47, 37, 57].
#[rustfmt::skip]
const TFLM_MEAN_EQ_IN: [i8; 36] = [-50, -89, 120, 57, 123, -97, -20, 113, 53, -87, 35, 97, 76, -36,
    102, 2, 67, 14, 64, 112, 4, -101, 107, 121, -74, 44, -28, 120, -18, 43, 49, -108, 51, -109,
    -102, -12];
const TFLM_MEAN_EQ_OUT: [i8; 4] = [26, -47, 36, 56];

#[test]
fn mean_s8_matches_tflm_equal_quantization() {
    let p = MeanS8Params::from_scales(0.02, -5, 0.02, -5).unwrap();
    let shape = Shape::new(1, 3, 3, 4);
    for (name, f) in MEAN_PATHS {
        assert_bit_exact(
            name,
            &run_mean(f, &p, shape, &TFLM_MEAN_EQ_IN),
            &TFLM_MEAN_EQ_OUT,
        );
    }
}

#[test]
fn mean_fold_matches_tflm_formula() {
    // 0.02 / 0.011 = 1.818...: QuantizeMultiplier gives (1952257829, 1).
    let p = MeanS8Params::from_scales(0.02, -5, 0.011, 9).unwrap();
    assert_eq!((p.multiplier, p.shift), (1_952_257_829, 1));
    // 12 elements: fold = floor(log2 12) = 3; (m << 3) / 12 truncated; shift 1 - 3.
    assert_eq!(p.folded(12), (((1_952_257_829i64 << 3) / 12) as i32, -2));
    // The fold is capped at 31 + shift so the final shift stays >= -31.
    let small = MeanS8Params { shift: -29, ..p };
    assert_eq!(
        small.folded(1 << 10),
        (((1_952_257_829i64 << 2) / 1024) as i32, -31)
    );
}

/// The pooling and MEAN cases of `tests/data/kernels/` (TFLM goldens, see its README) on every
/// path, and the f32 reference on their dequantized inputs within the analytic bound of TFLM's
/// outputs.
#[test]
fn tflm_golden_cases_on_every_path() {
    type F32Fn = fn(&PoolParams, &[f32], &mut [f32]) -> bfmd_kernels::Result<()>;
    type Paths = [(&'static str, PoolS8Fn); 2];
    let ops: [(&str, Paths, F32Fn); 2] = [
        ("AVERAGE_POOL_2D", AVG_POOL_PATHS, avg_pool_f32),
        ("MAX_POOL_2D", MAX_POOL_PATHS, max_pool_f32),
    ];
    for (op, paths, f32_fn) in ops {
        for c in golden_cases(op) {
            let (x, y) = (c.input("input_0"), c.output());
            let g = pool_geometry(
                x.shape(),
                (
                    c.option_usize("filter_height"),
                    c.option_usize("filter_width"),
                ),
                (c.option_usize("stride_h"), c.option_usize("stride_w")),
                c.padding(),
            )
            .unwrap();
            assert_eq!(g.output, y.shape(), "{}", c.name);
            let (s, z) = (y.scale(), y.zero_point());
            let p = PoolS8Params::from_scales(g, x.scale(), x.zero_point(), s, z, c.activation())
                .unwrap();
            let (input, want) = (x.i8s(), y.i8s());
            for (name, f) in paths {
                assert_bit_exact(
                    &format!("{} {name}", c.name),
                    &run_pool(f, &p, &input),
                    &want,
                );
            }
            let pf = PoolParams::new(g, c.activation()).unwrap();
            let mut real = vec![0.0f32; g.output.len()];
            f32_fn(
                &pf,
                &dequantize(&input, x.scale(), x.zero_point()),
                &mut real,
            )
            .unwrap();
            for (i, (&t, &r)) in dequantize(&want, s, z).iter().zip(&real).enumerate() {
                let r = saturate(r, s, z);
                let bound = int8_bound_avg(s, 128.0 * s);
                assert!(
                    (t - r).abs() <= bound,
                    "{} [{i}]: TFLM {t} vs f32 {r}",
                    c.name
                );
            }
        }
    }
    for c in golden_cases("MEAN") {
        let (x, y) = (c.input("input"), c.output());
        let p = MeanS8Params::from_scales(x.scale(), x.zero_point(), y.scale(), y.zero_point())
            .unwrap();
        let (input, want) = (x.i8s(), y.i8s());
        for (name, f) in MEAN_PATHS {
            let got = run_mean(f, &p, x.shape(), &input);
            assert_bit_exact(&format!("{} {name}", c.name), &got, &want);
        }
        let mut real = vec![0.0f32; want.len()];
        mean_f32(
            x.shape(),
            &dequantize(&input, x.scale(), x.zero_point()),
            &mut real,
        )
        .unwrap();
        let (s, z) = (y.scale(), y.zero_point());
        for (i, (&t, &r)) in dequantize(&want, s, z).iter().zip(&real).enumerate() {
            let r = saturate(r, s, z);
            let bound = int8_bound_mean(s, 256.0 * x.scale());
            assert!(
                (t - r).abs() <= bound,
                "{} [{i}]: TFLM {t} vs f32 {r}",
                c.name
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// int8 rounding and count_include_pad, computed by hand.

#[test]
fn avg_pool_s8_rounds_half_away_from_zero() {
    // A 1x2 window over 1x1x2x4: sums 3, -3, 1, -1 over 2 taps.
    let g = pool_geometry(Shape::new(1, 1, 2, 4), (1, 2), (1, 1), Padding::Valid).unwrap();
    let p = PoolS8Params::from_scales(g, 0.5, 0, 0.5, 0, FusedActivation::None).unwrap();
    let input = [1, -1, 0, 0, 2, -2, 1, -1];
    // 1.5 -> 2, -1.5 -> -2, 0.5 -> 1, -0.5 -> -1.
    for (name, f) in AVG_POOL_PATHS {
        assert_bit_exact(name, &run_pool(f, &p, &input), &[2, -2, 1, -1]);
    }
}

#[test]
fn avg_pool_s8_count_include_pad_uses_the_zero_point() {
    // 2x2 input, 3x3 window, stride 1, padding 1: every window sees the 4 input taps and 5
    // padded taps (real 0, stored as the zero point 10).
    let g = pool_geometry(
        Shape::new(1, 2, 2, 1),
        (3, 3),
        (1, 1),
        Padding::Explicit {
            top: 1,
            bottom: 1,
            left: 1,
            right: 1,
        },
    )
    .unwrap();
    let base = PoolS8Params::from_scales(g, 0.1, 10, 0.1, 10, FusedActivation::None).unwrap();
    let input = [20, 30, 40, 57];
    // TFLite divisor: (20 + 30 + 40 + 57) / 4 = 36.75 -> 37.
    for (name, f) in AVG_POOL_PATHS {
        assert_bit_exact(name, &run_pool(f, &base, &input), &[37; 4]);
    }
    // count_include_pad: (147 + 5 * 10) / 9 = 21.89 -> 22, i.e. 10 + round(107 / 9).
    let p = base.with_count_include_pad(true);
    for (name, f) in AVG_POOL_PATHS {
        assert_bit_exact(name, &run_pool(f, &p, &input), &[22; 4]);
    }
}

#[test]
fn max_pool_s8_clamps_to_the_activation_range() {
    let g = pool_geometry(Shape::new(1, 2, 2, 1), (2, 2), (2, 2), Padding::Valid).unwrap();
    // scale 0.1, zero point -20: RELU6 keeps -20..=40.
    let p = PoolS8Params::from_scales(g, 0.1, -20, 0.1, -20, FusedActivation::Relu6).unwrap();
    assert_eq!((p.act_min, p.act_max), (-20, 40));
    for (name, f) in MAX_POOL_PATHS {
        assert_eq!(run_pool(f, &p, &[-100, -50, -30, -21]), [-20], "{name}");
        assert_eq!(run_pool(f, &p, &[100, 0, 0, 0]), [40], "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// The shapes the battery sweeps: odd channels, stride 2, asymmetric SAME padding, windows larger
// than the input, 1x1 spatial size, batch 2.

fn battery_geometries() -> Vec<(&'static str, PoolGeometry)> {
    let pg = |s, k, st, pad| pool_geometry(s, k, st, pad).unwrap();
    vec![
        (
            "3x3_s2_same_odd_c",
            pg(Shape::new(1, 7, 6, 5), (3, 3), (2, 2), Padding::Same),
        ),
        (
            "2x2_s2_same_bottom_right",
            pg(Shape::new(1, 5, 7, 3), (2, 2), (2, 2), Padding::Same),
        ),
        (
            "window_larger_than_input",
            pg(Shape::new(1, 3, 2, 7), (5, 4), (1, 1), Padding::Same),
        ),
        (
            "1x1_spatial",
            pg(Shape::new(1, 1, 1, 9), (3, 3), (2, 2), Padding::Same),
        ),
        (
            "batch2_valid_stride3",
            pg(Shape::new(2, 8, 7, 3), (3, 2), (3, 2), Padding::Valid),
        ),
        (
            "explicit_pytorch_padding",
            pg(
                Shape::new(2, 6, 5, 4),
                (3, 3),
                (2, 2),
                Padding::Explicit {
                    top: 1,
                    bottom: 1,
                    left: 1,
                    right: 1,
                },
            ),
        ),
        (
            "global_7x7",
            pg(Shape::new(1, 7, 7, 11), (7, 7), (1, 1), Padding::Valid),
        ),
    ]
}

#[test]
fn battery_geometries_are_what_they_claim() {
    let gs = battery_geometries();
    let by = |name: &str| gs.iter().find(|(n, _)| *n == name).unwrap().1;
    let g = by("2x2_s2_same_bottom_right");
    assert_eq!(
        (g.pad_top, g.pad_bottom, g.pad_left, g.pad_right),
        (0, 1, 0, 1)
    );
    let g = by("window_larger_than_input");
    assert!(g.kernel_h > g.input.h && g.kernel_w > g.input.w);
    assert_eq!((g.output.h, g.output.w), (3, 2));
    let g = by("1x1_spatial");
    assert_eq!((g.output.h, g.output.w), (1, 1));
}

/// An independent, literal transcription of TFLM's `reference_integer_ops::AveragePool` and
/// `MaxPool` index arithmetic (signed origins and `max`/`min` clipping as in `pooling.h`), used
/// to check the shared window walk on every battery shape.
fn tflm_like_pool(g: &PoolGeometry, input: &[i8], avg: bool, act: (i32, i32)) -> Vec<i8> {
    let (is, os) = (g.input, g.output);
    let mut out = vec![0i8; os.len()];
    for b in 0..os.n {
        for oy in 0..os.h as i64 {
            for ox in 0..os.w as i64 {
                for ch in 0..os.c {
                    let in_x_origin = ox * g.stride_w as i64 - g.pad_left as i64;
                    let in_y_origin = oy * g.stride_h as i64 - g.pad_top as i64;
                    let fx0 = 0.max(-in_x_origin);
                    let fx1 = (g.kernel_w as i64).min(is.w as i64 - in_x_origin);
                    let fy0 = 0.max(-in_y_origin);
                    let fy1 = (g.kernel_h as i64).min(is.h as i64 - in_y_origin);
                    let (mut acc, mut count, mut max) = (0i32, 0i32, i8::MIN);
                    for fy in fy0..fy1 {
                        for fx in fx0..fx1 {
                            let v = input[is.index(
                                b,
                                (in_y_origin + fy) as usize,
                                (in_x_origin + fx) as usize,
                                ch,
                            )];
                            acc += v as i32;
                            count += 1;
                            max = max.max(v);
                        }
                    }
                    let v = if avg {
                        if acc > 0 {
                            (acc + count / 2) / count
                        } else {
                            (acc - count / 2) / count
                        }
                    } else {
                        max as i32
                    };
                    out[os.index(b, oy as usize, ox as usize, ch)] = v.clamp(act.0, act.1) as i8;
                }
            }
        }
    }
    out
}

#[test]
fn pool_s8_paths_agree_with_a_literal_tflm_transcription() {
    let mut rng = Rng::new(11);
    for (case, g) in battery_geometries() {
        let input = rng.vec_i8(g.input.len());
        for act in [FusedActivation::None, FusedActivation::Relu6] {
            let p = PoolS8Params::from_scales(g, 0.03, -4, 0.03, -4, act).unwrap();
            let act_range = (p.act_min, p.act_max);
            let want_avg = tflm_like_pool(&g, &input, true, act_range);
            let want_max = tflm_like_pool(&g, &input, false, act_range);
            for (name, f) in AVG_POOL_PATHS {
                assert_bit_exact(
                    &format!("{case} avg {name}"),
                    &run_pool(f, &p, &input),
                    &want_avg,
                );
            }
            for (name, f) in MAX_POOL_PATHS {
                assert_bit_exact(
                    &format!("{case} max {name}"),
                    &run_pool(f, &p, &input),
                    &want_max,
                );
            }
        }
        // count_include_pad: both paths agree with each other.
        let p = PoolS8Params::from_scales(g, 0.03, -4, 0.03, -4, FusedActivation::None)
            .unwrap()
            .with_count_include_pad(true);
        let a = run_pool(avg_pool_s8, &p, &input);
        assert_bit_exact(case, &run_pool(portable::avg_pool_s8, &p, &input), &a);
    }
}

// ---------------------------------------------------------------------------------------------
// f32 reference, checked by hand.

#[test]
fn f32_pools_by_hand() {
    // 1x3x3x1, 2x2 window, stride 2, SAME: windows {0,1,3,4}, {2,5}, {6,7}, {8}.
    let g = pool_geometry(Shape::new(1, 3, 3, 1), (2, 2), (2, 2), Padding::Same).unwrap();
    let input = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, -8.0, 9.0];
    let p = PoolParams::new(g, FusedActivation::None).unwrap();
    let mut out = [0.0f32; 4];
    avg_pool_f32(&p, &input, &mut out).unwrap();
    assert_eq!(out, [3.0, 4.5, -0.5, 9.0]);
    // count_include_pad divides by 4 everywhere.
    avg_pool_f32(&p.with_count_include_pad(true), &input, &mut out).unwrap();
    assert_eq!(out, [3.0, 2.25, -0.25, 2.25]);
    max_pool_f32(&p, &input, &mut out).unwrap();
    assert_eq!(out, [5.0, 6.0, 7.0, 9.0]);
    let relu6 = PoolParams::new(g, FusedActivation::Relu6).unwrap();
    max_pool_f32(&relu6, &input, &mut out).unwrap();
    assert_eq!(out, [5.0, 6.0, 6.0, 6.0]);
    avg_pool_f32(&relu6, &input, &mut out).unwrap();
    assert_eq!(out, [3.0, 4.5, 0.0, 6.0]);

    // MEAN of batch 2, 2x2, 2 channels.
    let shape = Shape::new(2, 2, 2, 2);
    let input: Vec<f32> = (0..16).map(|v| v as f32).collect();
    let mut out = [0.0f32; 4];
    mean_f32(shape, &input, &mut out).unwrap();
    assert_eq!(out, [3.0, 4.0, 11.0, 12.0]);
}

// ---------------------------------------------------------------------------------------------
// int8 against the f32 reference within the analytic bound.

/// Max pool: dequantization is monotonic, so the int8 max is exact; the only error is the clamp
/// bound, `quantize(6.0)` vs `6.0`, at most half a quantization step.
fn int8_bound_max(scale: f32) -> f32 {
    0.5 * scale + 1e-6
}

/// Average pool: the exact average of the quantized taps is rounded once (half a step), and the
/// clamp bounds are within half a step too; f32 summation noise is covered by a 1e-5 relative
/// margin.
fn int8_bound_avg(scale: f32, magnitude: f32) -> f32 {
    0.5 * scale + 1e-5 * magnitude + 1e-6
}

/// MEAN: `MultiplyByQuantizedMultiplier` rounds twice (the doubling high multiply, then the
/// rounding shift), at most one output step in total; the Q31 multiplier and the truncated
/// `1 / count` fold are exact to about 2^-29 relative, far below a step over the int8 range.
fn int8_bound_mean(out_scale: f32, magnitude: f32) -> f32 {
    out_scale + 1e-5 * magnitude + 1e-6
}

/// A random pooling geometry: VALID (falling back to SAME when the window does not fit),
/// PyTorch-style symmetric padding of `kernel / 2`, or SAME.
fn geometry_strategy() -> impl Strategy<Value = PoolGeometry> {
    (
        (1usize..=2, 1usize..=8, 1usize..=8, 1usize..=7),
        (1usize..=4, 1usize..=4),
        (1usize..=3, 1usize..=3),
        0usize..3,
    )
        .prop_map(|((n, h, w, c), k, s, pad)| {
            let input = Shape::new(n, h, w, c);
            let padding = match pad {
                0 if h >= k.0 && w >= k.1 => Padding::Valid,
                1 => Padding::Explicit {
                    top: k.0 / 2,
                    bottom: k.0 / 2,
                    left: k.1 / 2,
                    right: k.1 / 2,
                },
                _ => Padding::Same,
            };
            pool_geometry(input, k, s, padding).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn pool_s8_within_bound_of_f32(
        g in geometry_strategy(),
        scale in 0.001f32..0.2,
        zp in -128i32..=127,
        act in act_strategy(),
        include_pad in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let input = Rng::new(seed).vec_i8(g.input.len());
        let real = dequantize(&input, scale, zp);
        let p8 = PoolS8Params::from_scales(g, scale, zp, scale, zp, act)
            .unwrap()
            .with_count_include_pad(include_pad);
        let pf = PoolParams::new(g, act).unwrap().with_count_include_pad(include_pad);
        let mut want = vec![0.0f32; g.output.len()];

        max_pool_f32(&pf, &real, &mut want).unwrap();
        for (name, f) in MAX_POOL_PATHS {
            let got = dequantize(&run_pool(f, &p8, &input), scale, zp);
            for (i, (&g8, &w)) in got.iter().zip(&want).enumerate() {
                let w = saturate(w, scale, zp);
                prop_assert!((g8 - w).abs() <= int8_bound_max(scale), "max {name} [{i}]: {g8} vs {w}");
            }
        }

        avg_pool_f32(&pf, &real, &mut want).unwrap();
        let magnitude = 128.0 * scale;
        for (name, f) in AVG_POOL_PATHS {
            let got = dequantize(&run_pool(f, &p8, &input), scale, zp);
            for (i, (&g8, &w)) in got.iter().zip(&want).enumerate() {
                let w = saturate(w, scale, zp);
                prop_assert!(
                    (g8 - w).abs() <= int8_bound_avg(scale, magnitude),
                    "avg {name} [{i}]: {g8} vs {w}"
                );
            }
        }
    }

    #[test]
    fn mean_s8_within_bound_of_f32(
        (n, h, w, c) in (1usize..=2, 1usize..=9, 1usize..=9, 1usize..=6),
        in_scale in 0.001f32..0.2,
        in_zp in -128i32..=127,
        ratio in 0.05f32..4.0,
        out_zp in -128i32..=127,
        seed in any::<u64>(),
    ) {
        let shape = Shape::new(n, h, w, c);
        let out_scale = in_scale * ratio;
        let input = Rng::new(seed).vec_i8(shape.len());
        let real = dequantize(&input, in_scale, in_zp);
        let mut want = vec![0.0f32; n * c];
        mean_f32(shape, &real, &mut want).unwrap();
        let p = MeanS8Params::from_scales(in_scale, in_zp, out_scale, out_zp).unwrap();
        for (name, f) in MEAN_PATHS {
            let got = dequantize(&run_mean(f, &p, shape, &input), out_scale, out_zp);
            for (i, (&g8, &wv)) in got.iter().zip(&want).enumerate() {
                let wv = saturate(wv, out_scale, out_zp);
                prop_assert!(
                    (g8 - wv).abs() <= int8_bound_mean(out_scale, 256.0 * in_scale),
                    "mean {name} [{i}]: {g8} vs {wv}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// f16 against f32.

/// f16 tolerance: inputs are rounded to f16 (relative error 2^-11 each, and an average or max
/// of rounded values is off by at most 2^-11 times the largest input magnitude), then the
/// result is rounded once more (2^-11 relative); 2^-24 covers f16 subnormals.
fn f16_tolerance(input_magnitude: f32, value: f32) -> f32 {
    2f32.powi(-11) * (input_magnitude + value.abs()) + 2f32.powi(-24)
}

#[test]
fn f16_pools_within_tolerance_of_f32() {
    let mut rng = Rng::new(5);
    for (case, g) in battery_geometries() {
        let real = rng.vec_f32(g.input.len(), -4.0, 4.0);
        let half = to_f16(&real);
        for act in [FusedActivation::None, FusedActivation::Relu6] {
            for include_pad in [false, true] {
                let p = PoolParams::new(g, act)
                    .unwrap()
                    .with_count_include_pad(include_pad);
                let mut want = vec![0.0f32; g.output.len()];
                let mut got = vec![f16::ZERO; g.output.len()];
                type F32Fn = fn(&PoolParams, &[f32], &mut [f32]) -> bfmd_kernels::Result<()>;
                type F16Fn = fn(&PoolParams, &[f16], &mut [f16]) -> bfmd_kernels::Result<()>;
                let pairs: [(&str, F32Fn, F16Fn); 2] = [
                    ("max", max_pool_f32, kf16::pool::max_pool_f16),
                    ("avg", avg_pool_f32, kf16::pool::avg_pool_f16),
                ];
                for (op, f32_fn, f16_fn) in pairs {
                    f32_fn(&p, &real, &mut want).unwrap();
                    f16_fn(&p, &half, &mut got).unwrap();
                    for (i, (&h, &w)) in from_f16(&got).iter().zip(&want).enumerate() {
                        assert!(
                            (h - w).abs() <= f16_tolerance(4.0, w),
                            "{case} {op} {act:?} pad {include_pad} [{i}]: {h} vs {w}"
                        );
                    }
                }
            }
        }
        let shape = g.input;
        let mut want = vec![0.0f32; shape.n * shape.c];
        let mut got = vec![f16::ZERO; shape.n * shape.c];
        mean_f32(shape, &real, &mut want).unwrap();
        kf16::pool::mean_f16(shape, &half, &mut got).unwrap();
        for (i, (&h, &w)) in from_f16(&got).iter().zip(&want).enumerate() {
            assert!(
                (h - w).abs() <= f16_tolerance(4.0, w),
                "{case} mean [{i}]: {h} vs {w}"
            );
        }
    }
}

#[test]
fn f16_pools_round_the_f32_result_of_the_widened_inputs_once() {
    // With f16-representable inputs, the f16 kernels compute exactly the f32 reference's sums,
    // so each output is that result rounded to nearest f16.
    let mut rng = Rng::new(9);
    let g = pool_geometry(Shape::new(2, 6, 5, 3), (3, 3), (2, 2), Padding::Same).unwrap();
    let half = to_f16(&rng.vec_f32(g.input.len(), -2.0, 2.0));
    let widened = from_f16(&half);
    let p = PoolParams::new(g, FusedActivation::None).unwrap();
    let mut want = vec![0.0f32; g.output.len()];
    let mut got = vec![f16::ZERO; g.output.len()];
    avg_pool_f32(&p, &widened, &mut want).unwrap();
    kf16::pool::avg_pool_f16(&p, &half, &mut got).unwrap();
    assert_eq!(got, to_f16(&want));
}

// ---------------------------------------------------------------------------------------------
// Errors.

#[test]
fn pool_errors() {
    let g = pool_geometry(Shape::new(1, 4, 4, 3), (2, 2), (2, 2), Padding::Valid).unwrap();
    let p = PoolS8Params::from_scales(g, 0.1, 0, 0.1, 0, FusedActivation::None).unwrap();
    let mut out = [0i8; 12];
    assert_eq!(
        avg_pool_s8(&p, &[0; 47], &mut out),
        Err(Error::BufferLength {
            what: "input",
            expected: 48,
            got: 47
        })
    );
    assert_eq!(
        max_pool_s8(&p, &[0; 48], &mut out[..11]),
        Err(Error::BufferLength {
            what: "output",
            expected: 12,
            got: 11
        })
    );
    // Different input and output quantization: TFLM refuses int8 pooling.
    assert!(matches!(
        PoolS8Params::from_scales(g, 0.1, 0, 0.2, 0, FusedActivation::None),
        Err(Error::Unsupported(_))
    ));
    assert!(matches!(
        PoolS8Params::from_scales(g, 0.1, 0, 0.1, 1, FusedActivation::None),
        Err(Error::Unsupported(_))
    ));
    assert!(matches!(
        PoolS8Params::from_scales(g, 0.0, 0, 0.0, 0, FusedActivation::None),
        Err(Error::BadParam { .. })
    ));
    assert!(matches!(
        PoolS8Params::from_scales(g, 0.1, 200, 0.1, 200, FusedActivation::None),
        Err(Error::BadParam { .. })
    ));
    // Hand-made parameters are checked too.
    let bad = PoolS8Params {
        act_min: 10,
        act_max: 5,
        ..p
    };
    assert!(matches!(
        avg_pool_s8(&bad, &[0; 48], &mut out),
        Err(Error::BadParam {
            what: "act_max",
            ..
        })
    ));
    let mut bad = p;
    bad.geometry.output.c = 4;
    assert!(matches!(
        portable::max_pool_s8(&bad, &[0; 48], &mut [0; 16]),
        Err(Error::DimMismatch { .. })
    ));
    // A window that lies entirely in the padding.
    let g2 = ConvGeometry::new(
        Shape::new(1, 3, 3, 1),
        1,
        (2, 2),
        (1, 1),
        (1, 1),
        Padding::Explicit {
            top: 0,
            bottom: 0,
            left: 2,
            right: 0,
        },
        1,
    )
    .unwrap();
    assert!(check_pool_geometry(&g2).is_err());
    assert!(PoolParams::new(g2, FusedActivation::None).is_err());
    // Dilation has no meaning for pooling.
    let g3 = ConvGeometry::new(
        Shape::new(1, 5, 5, 1),
        1,
        (2, 2),
        (1, 1),
        (2, 2),
        Padding::Valid,
        1,
    )
    .unwrap();
    assert_eq!(
        check_pool_geometry(&g3),
        Err(Error::Unsupported("dilated pooling window"))
    );
    // f32 / f16 length and activation errors.
    let pf = PoolParams::new(g, FusedActivation::None).unwrap();
    assert!(max_pool_f32(&pf, &[0.0; 48], &mut [0.0; 13]).is_err());
    assert!(kf16::pool::avg_pool_f16(&pf, &[f16::ZERO; 49], &mut [f16::ZERO; 12]).is_err());
    let nan = PoolParams {
        act_min: f32::NAN,
        ..pf
    };
    assert!(avg_pool_f32(&nan, &[0.0; 48], &mut [0.0; 12]).is_err());
}

#[test]
fn mean_errors() {
    let p = MeanS8Params::from_scales(0.1, 0, 0.05, 0).unwrap();
    let shape = Shape::new(1, 2, 2, 3);
    assert_eq!(
        mean_s8(&p, shape, &[0; 12], &mut [0; 4]),
        Err(Error::BufferLength {
            what: "output",
            expected: 3,
            got: 4
        })
    );
    assert!(mean_s8(&p, shape, &[0; 11], &mut [0; 3]).is_err());
    assert!(mean_s8(&p, Shape::new(1, 0, 2, 3), &[], &mut [0; 3]).is_err());
    assert!(mean_f32(Shape::new(1, 2, 0, 3), &[], &mut [0.0; 3]).is_err());
    // A reduction too large for the i32 sum.
    let big = Shape::new(1, 4096, 4096, 1);
    assert!(matches!(
        mean_s8(&p, big, &[], &mut [0; 1]),
        Err(Error::BadParam { .. })
    ));
    let bad = MeanS8Params { shift: 31, ..p };
    assert!(mean_s8(&bad, shape, &[0; 12], &mut [0; 3]).is_err());
    assert!(MeanS8Params::from_scales(f32::NAN, 0, 0.1, 0).is_err());
    assert!(MeanS8Params::from_scales(0.1, 0, 0.1, -129).is_err());
}

#[test]
fn pool_window_clips_asymmetric_padding() {
    // 4 -> 2 with a 3x3 window at stride 2 needs 1 row of padding, at the bottom.
    let g = pool_geometry(Shape::new(1, 4, 4, 1), (3, 3), (2, 2), Padding::Same).unwrap();
    assert_eq!((g.pad_top, g.pad_bottom), (0, 1));
    let w = pool_window(&g, 1, 1);
    assert_eq!(
        (w.y_start, w.y_end, w.x_start, w.x_end, w.in_bounds()),
        (2, 4, 2, 4, 4)
    );
}
