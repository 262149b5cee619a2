//! Test battery of the convolution family (`conv_f32`, `conv_s8`, `conv_f16`, the pointwise
//! loops and `pointwise_conv_s8_overlapping`), run against the dispatchers and `portable::`.
//!
//! * int8 is compared bit for bit with a literal transcription of TFLM's
//!   `reference_integer_ops::ConvPerChannel` (`conv_oracle`), and with the real-valued result
//!   within the analytic requantization bound (`conv_oracle::assert_within_quant_bound`);
//! * f32 is compared with an `f64` evaluation within the `f32` summation bound;
//! * f16 is compared with the `f64` evaluation of the same f16 operands within one f16
//!   rounding plus the `f32` summation bound (`conv_oracle::assert_f16_within`).

mod common;
mod conv_oracle;

use bfmd_kernels::f16::conv::{self as f16conv, ConvF16Params};
use bfmd_kernels::half::f16;
use bfmd_kernels::quant::{activation_range_f32, FusedActivation};
use bfmd_kernels::reference::conv::{conv_f32, ConvF32Params};
use bfmd_kernels::s8::conv::{
    self as s8conv, conv_s8, pointwise_conv_s8_overlapping, pointwise_overlap_out_offset, portable,
    ChannelQuantS8, ConvS8Params,
};
use bfmd_kernels::{ConvGeometry, Error, Padding, Shape};
use common::{assert_bit_exact, from_f16, to_f16};
use conv_oracle::*;
use proptest::prelude::*;

/// One convolution to test: shapes, hyper-parameters and quantization choices.
#[derive(Clone, Copy, Debug)]
struct Case {
    name: &'static str,
    input: Shape,
    out_c: usize,
    kernel: (usize, usize),
    stride: (usize, usize),
    dilation: (usize, usize),
    padding: Padding,
    groups: usize,
    bias: bool,
    act: FusedActivation,
    per_channel: bool,
}

const fn case(name: &'static str, input: Shape, out_c: usize, kernel: (usize, usize)) -> Case {
    Case {
        name,
        input,
        out_c,
        kernel,
        stride: (1, 1),
        dilation: (1, 1),
        padding: Padding::Same,
        groups: 1,
        bias: true,
        act: FusedActivation::None,
        per_channel: true,
    }
}

fn make_data(c: &Case, seed: u64) -> Data {
    let g = ConvGeometry::new(
        c.input, c.out_c, c.kernel, c.stride, c.dilation, c.padding, c.groups,
    )
    .unwrap_or_else(|e| panic!("{}: bad case geometry: {e}", c.name));
    Data::new(g, seed, c.per_channel, c.bias)
}

/// Runs every path of every dtype on one case and checks them.
fn run_case(c: &Case, seed: u64) {
    let d = make_data(c, seed);
    let g = d.g;
    let name = c.name;
    let (mut m, mut s) = (Vec::new(), Vec::new());
    let p = d.params(g, c.act, &mut m, &mut s);
    let act = (p.quant.act_min, p.quant.act_max);
    let bias = d.bias.as_deref();
    let want = d.oracle_s8(&p);

    // int8: every path bit-exact with the TFLM transcription.
    let mut out = vec![0i8; g.output.len()];
    conv_s8(&p, &d.input, &d.filter, bias, &mut out, &mut []).unwrap();
    assert_bit_exact(&format!("{name}: conv_s8"), &out, &want);
    let mut out2 = vec![0i8; g.output.len()];
    portable::conv_s8(&p, &d.input, &d.filter, bias, &mut out2, &mut []).unwrap();
    assert_bit_exact(&format!("{name}: portable::conv_s8"), &out2, &want);
    out2.fill(0);
    portable::conv_s8_general(&p, &d.input, &d.filter, bias, &mut out2).unwrap();
    assert_bit_exact(&format!("{name}: portable::conv_s8_general"), &out2, &want);
    let pointwise = g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1;
    let unpadded = g.pad_top + g.pad_bottom + g.pad_left + g.pad_right == 0;
    if pointwise && unpadded {
        out2.fill(0);
        portable::pointwise_conv_s8(&p, &d.input, &d.filter, bias, &mut out2).unwrap();
        assert_bit_exact(
            &format!("{name}: portable::pointwise_conv_s8"),
            &out2,
            &want,
        );
    }

    // int8 against the real-valued result of the quantized operands.
    let (real, mag) = conv_f64_oracle(&g, &d.x_real, &d.w_real, d.b_real.as_deref());
    let n = taps(&g);
    assert_within_quant_bound(
        &format!("{name}: int8 vs real"),
        &out,
        &real,
        &mag,
        n,
        d.q.out_scale,
        d.q.out_zp,
        act,
    );
    // ... and against the f32 reference on the dequantized operands, clamped where int8 is.
    let (lo, hi) = real_clamp(d.q.out_scale, d.q.out_zp, act);
    let pq = ConvF32Params {
        geometry: g,
        act_min: lo,
        act_max: hi,
    };
    let mut ref_q = vec![0f32; g.output.len()];
    conv_f32(&pq, &d.x_real, &d.w_real, d.b_real.as_deref(), &mut ref_q).unwrap();
    let what = format!("{name}: int8 vs f32 reference");
    let (s_out, zp_out) = (d.q.out_scale, d.q.out_zp);
    assert_within_quant_bound_of_f32(&what, &out, &ref_q, &mag, n, s_out, zp_out, act);

    // f32 reference against the exact result of the same operands.
    let pf = ConvF32Params::new(g, c.act);
    let act_f = activation_range_f32(c.act);
    let mut out_f = vec![0f32; g.output.len()];
    conv_f32(&pf, &d.x_real, &d.w_real, d.b_real.as_deref(), &mut out_f).unwrap();
    assert_f32_within(&format!("{name}: conv_f32"), &out_f, &real, &mag, n, act_f);

    // f16 on f16-rounded operands against the exact result of those operands.
    let x16 = to_f16(&d.x_real);
    let w16 = to_f16(&d.w_real);
    let (real16, mag16) =
        conv_f64_oracle(&g, &from_f16(&x16), &from_f16(&w16), d.b_real.as_deref());
    let ph: ConvF16Params = pf;
    let mut out_h = vec![f16::ZERO; g.output.len()];
    f16conv::conv_f16(&ph, &x16, &w16, d.b_real.as_deref(), &mut out_h, &mut []).unwrap();
    assert_f16_within(
        &format!("{name}: conv_f16"),
        &from_f16(&out_h),
        &real16,
        &mag16,
        n,
        act_f,
        f16conv::ACCUMULATES_IN_F16,
    );
    // ... and against the f32 reference on the same operands.
    let mut ref16 = vec![0f32; g.output.len()];
    let (x16f, w16f) = (from_f16(&x16), from_f16(&w16));
    conv_f32(&pf, &x16f, &w16f, d.b_real.as_deref(), &mut ref16).unwrap();
    let what = format!("{name}: conv_f16 vs conv_f32");
    let in_f16 = f16conv::ACCUMULATES_IN_F16;
    let h = from_f16(&out_h);
    assert_f16_within_f32_reference(&what, &h, &ref16, &mag16, n, act_f, in_f16);
    // The portable loops agree bit for bit; so does the dispatcher when it runs them (a NEON
    // path sums in another order and is held to the bounds above instead).
    let b = d.b_real.as_deref();
    let mut out_p = vec![f16::ZERO; g.output.len()];
    f16conv::portable::conv_f16(&ph, &x16, &w16, b, &mut out_p, &mut []).unwrap();
    if f16conv::PATH == "portable" {
        assert_eq!(out_h, out_p, "{name}: conv_f16 vs portable::conv_f16");
    }
    let p16 = from_f16(&out_p);
    assert_f16_within(
        &format!("{name}: portable::conv_f16"),
        &p16,
        &real16,
        &mag16,
        n,
        act_f,
        false,
    );
    let mut out_h2 = vec![f16::ZERO; g.output.len()];
    f16conv::conv_f16_general(&ph, &x16, &w16, b, &mut out_h2).unwrap();
    assert_eq!(
        out_p, out_h2,
        "{name}: portable::conv_f16 vs conv_f16_general"
    );
    if pointwise && unpadded {
        out_h2.fill(f16::ZERO);
        f16conv::pointwise_conv_f16(&ph, &x16, &w16, b, &mut out_h2).unwrap();
        assert_eq!(
            out_p, out_h2,
            "{name}: portable::conv_f16 vs pointwise_conv_f16"
        );
    }
}

fn shape(n: usize, h: usize, w: usize, c: usize) -> Shape {
    Shape::new(n, h, w, c)
}

#[test]
fn battery() {
    let explicit = Padding::Explicit {
        top: 2,
        bottom: 0,
        left: 1,
        right: 3,
    };
    let cases = [
        case("odd_channels_3x3_same", shape(1, 7, 5, 3), 5, (3, 3)),
        Case {
            stride: (2, 2),
            ..case("stride2_same_even_input", shape(1, 8, 6, 3), 7, (3, 3))
        },
        Case {
            padding: explicit,
            ..case("explicit_asymmetric_padding", shape(1, 5, 6, 5), 3, (3, 2))
        },
        Case {
            padding: Padding::Valid,
            stride: (2, 1),
            ..case("valid_stride_2x1", shape(1, 9, 7, 3), 4, (3, 3))
        },
        case("spatial_1x1_input", shape(1, 1, 1, 7), 5, (3, 3)),
        case("kernel_1x5", shape(1, 6, 9, 3), 4, (1, 5)),
        case("kernel_5x1", shape(1, 9, 6, 3), 4, (5, 1)),
        Case {
            groups: 2,
            ..case("groups_2", shape(1, 5, 5, 6), 4, (3, 3))
        },
        Case {
            groups: 3,
            ..case("groups_3", shape(1, 5, 4, 9), 6, (3, 3))
        },
        Case {
            groups: 4,
            stride: (2, 2),
            ..case("groups_4_stride2", shape(1, 6, 6, 8), 8, (3, 3))
        },
        Case {
            groups: 8,
            ..case("groups_8", shape(1, 4, 4, 16), 24, (3, 3))
        },
        Case {
            dilation: (2, 2),
            ..case("dilation_2_same", shape(1, 7, 7, 3), 5, (3, 3))
        },
        Case {
            dilation: (2, 1),
            padding: Padding::Valid,
            ..case("dilation_2x1_valid", shape(1, 8, 6, 3), 2, (3, 3))
        },
        case("batch_2", shape(2, 5, 4, 3), 5, (3, 3)),
        Case {
            bias: false,
            ..case("null_bias", shape(1, 5, 5, 3), 5, (3, 3))
        },
        Case {
            act: FusedActivation::Relu,
            ..case("relu", shape(1, 5, 5, 3), 5, (3, 3))
        },
        Case {
            act: FusedActivation::Relu6,
            ..case("relu6", shape(1, 5, 5, 3), 5, (3, 3))
        },
        Case {
            act: FusedActivation::ReluN1To1,
            ..case("relu_n1_to_1", shape(1, 5, 5, 3), 5, (3, 3))
        },
        Case {
            per_channel: false,
            ..case("per_tensor", shape(1, 5, 5, 3), 5, (3, 3))
        },
        case("pointwise", shape(1, 4, 5, 7), 9, (1, 1)),
        Case {
            groups: 3,
            ..case("pointwise_grouped_3", shape(2, 3, 3, 9), 6, (1, 1))
        },
        Case {
            groups: 4,
            per_channel: false,
            bias: false,
            ..case(
                "pointwise_grouped_4_per_tensor_no_bias",
                shape(1, 3, 3, 8),
                12,
                (1, 1),
            )
        },
        Case {
            stride: (2, 2),
            ..case("one_by_one_stride_2", shape(1, 6, 5, 4), 3, (1, 1))
        },
        Case {
            padding: Padding::Explicit {
                top: 1,
                bottom: 0,
                left: 0,
                right: 1,
            },
            ..case("one_by_one_padded", shape(1, 3, 3, 4), 3, (1, 1))
        },
        Case {
            stride: (2, 2),
            ..case("stem_3ch_stride2", shape(1, 16, 16, 3), 8, (3, 3))
        },
        // Padding wider than the kernel: the corner windows read no input at all.
        Case {
            padding: Padding::Explicit {
                top: 3,
                bottom: 2,
                left: 3,
                right: 3,
            },
            ..case("windows_entirely_in_padding", shape(1, 2, 3, 3), 4, (2, 2))
        },
        Case {
            padding: Padding::Explicit {
                top: 3,
                bottom: 0,
                left: 0,
                right: 3,
            },
            groups: 3,
            ..case("grouped_windows_in_padding", shape(1, 2, 2, 3), 3, (2, 2))
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        run_case(c, 1000 + i as u64);
    }
}

#[test]
fn tflite_same_padding_on_even_input_with_stride_2_pads_bottom_right() {
    let g = ConvGeometry::new(
        shape(1, 8, 6, 3),
        4,
        (3, 3),
        (2, 2),
        (1, 1),
        Padding::Same,
        1,
    )
    .unwrap();
    assert_eq!((g.output.h, g.output.w), (4, 3));
    assert_eq!(
        (g.pad_top, g.pad_bottom, g.pad_left, g.pad_right),
        (0, 1, 0, 1)
    );
}

/// A case small enough to compute by hand: padded taps are skipped (they do not contribute
/// `zero_point * filter`), and requantization doubles the accumulator.
#[test]
fn hand_computed_same_padding() {
    // Input [[1, 2], [3, 4]], zero point 1, so the offset values are [[0, 1], [2, 3]].
    // Filter 2x2 of ones, SAME, stride 1: padding goes bottom/right, so output (y, x) sums
    // input rows y..=y+1, columns x..=x+1 that exist: [[0+1+2+3, 1+3], [2+3, 3]] = [[6, 4],
    // [5, 3]]. Bias 1 each: [[7, 5], [6, 4]]. Scales 1 * 1 / 0.5: times 2: [[14, 10], [12, 8]].
    // Output zero point -5: [[9, 5], [7, 3]].
    let g = ConvGeometry::new(
        shape(1, 2, 2, 1),
        1,
        (2, 2),
        (1, 1),
        (1, 1),
        Padding::Same,
        1,
    )
    .unwrap();
    let (mut m, mut s) = ([0], [0]);
    let p = ConvS8Params::from_scales(
        g,
        1.0,
        1,
        &[1.0],
        0.5,
        -5,
        FusedActivation::None,
        &mut m,
        &mut s,
    )
    .unwrap();
    assert_eq!((p.quant.multipliers[0], p.quant.shifts[0]), (1 << 30, 2));
    let mut out = [0i8; 4];
    conv_s8(
        &p,
        &[1, 2, 3, 4],
        &[1, 1, 1, 1],
        Some(&[1]),
        &mut out,
        &mut [],
    )
    .unwrap();
    assert_eq!(out, [9, 5, 7, 3]);
    // Relu6 with scale 0.5 and zero point -5 clamps to [-5, 7].
    let (mut m, mut s) = ([0], [0]);
    let p = ConvS8Params::from_scales(
        g,
        1.0,
        1,
        &[1.0],
        0.5,
        -5,
        FusedActivation::Relu6,
        &mut m,
        &mut s,
    )
    .unwrap();
    assert_eq!((p.quant.act_min, p.quant.act_max), (-5, 7));
    conv_s8(
        &p,
        &[1, 2, 3, 4],
        &[1, 1, 1, 1],
        Some(&[1]),
        &mut out,
        &mut [],
    )
    .unwrap();
    assert_eq!(out, [7, 5, 7, 3]);
    // The float reference gives the same numbers before quantization.
    let pf = ConvF32Params::new(g, FusedActivation::None);
    let mut out_f = [0f32; 4];
    conv_f32(
        &pf,
        &[0.0, 1.0, 2.0, 3.0],
        &[1.0; 4],
        Some(&[1.0]),
        &mut out_f,
    )
    .unwrap();
    assert_eq!(out_f, [7.0, 5.0, 6.0, 4.0]);
}

/// TFLM's Prepare computes `(double)input_scale * (double)filter_scale / (double)output_scale`;
/// per-tensor scales give one multiplier that the kernel broadcasts.
#[test]
fn from_scales_follows_tflm_prepare() {
    let g = ConvGeometry::new(
        shape(1, 3, 3, 2),
        3,
        (1, 1),
        (1, 1),
        (1, 1),
        Padding::Valid,
        1,
    )
    .unwrap();
    let scales = [0.0123f32, 0.5, 0.0];
    let (mut m, mut s) = ([0; 3], [0; 3]);
    let p = ConvS8Params::from_scales(
        g,
        0.02,
        -3,
        &scales,
        0.1,
        7,
        FusedActivation::Relu,
        &mut m,
        &mut s,
    )
    .unwrap();
    for (i, &fs) in scales.iter().enumerate() {
        let real = 0.02f32 as f64 * fs as f64 / 0.1f32 as f64;
        let want = bfmd_kernels::quant::quantize_multiplier(real);
        assert_eq!((p.quant.multipliers[i], p.quant.shifts[i]), want);
    }
    // A zero filter scale (all-zero channel) encodes as a zero multiplier.
    assert_eq!((p.quant.multipliers[2], p.quant.shifts[2]), (0, 0));
    assert_eq!(p.quant.input_offset, 3);
    assert_eq!(p.quant.output_offset, 7);
    assert_eq!((p.quant.act_min, p.quant.act_max), (7, 127));
    // Two scales for three output channels: neither per-tensor nor per-channel.
    let (mut m, mut s) = ([0; 2], [0; 2]);
    let err = ConvS8Params::from_scales(
        g,
        0.02,
        0,
        &[0.1, 0.2],
        0.1,
        0,
        FusedActivation::None,
        &mut m,
        &mut s,
    );
    assert!(matches!(err, Err(Error::BufferLength { .. })), "{err:?}");
    let (mut m, mut s) = ([0], [0]);
    let err = ConvS8Params::from_scales(
        g,
        0.0,
        0,
        &[0.1],
        0.1,
        0,
        FusedActivation::None,
        &mut m,
        &mut s,
    );
    assert!(
        matches!(
            err,
            Err(Error::BadParam {
                what: "input scale",
                ..
            })
        ),
        "{err:?}"
    );
    let err = ConvS8Params::from_scales(
        g,
        0.1,
        200,
        &[0.1],
        0.1,
        0,
        FusedActivation::None,
        &mut m,
        &mut s,
    );
    assert!(
        matches!(
            err,
            Err(Error::BadParam {
                what: "input zero point",
                value: 200
            })
        ),
        "{err:?}"
    );
}

/// Runs the overlapping pointwise kernel with the output at `out_off` and compares it with the
/// out-of-place kernel.
fn overlap_case(in_c: usize, out_c: usize, groups: usize, pixels_hw: (usize, usize), slack: usize) {
    let c = Case {
        groups,
        padding: Padding::Valid,
        ..case(
            "overlap",
            shape(1, pixels_hw.0, pixels_hw.1, in_c),
            out_c,
            (1, 1),
        )
    };
    let d = make_data(&c, (in_c * 100 + out_c) as u64);
    let g = d.g;
    let (mut m, mut s) = (Vec::new(), Vec::new());
    let p = d.params(g, FusedActivation::None, &mut m, &mut s);
    let bias = d.bias.as_deref();
    let mut want = vec![0i8; g.output.len()];
    conv_s8(&p, &d.input, &d.filter, bias, &mut want, &mut []).unwrap();

    let pixels = g.input.pixels();
    let in_off = slack + pixels.saturating_sub(1) * out_c.saturating_sub(in_c);
    let out_off = pointwise_overlap_out_offset(in_off, pixels, in_c, out_c);
    // Slack at the end so that the rejected placements below fail the overlap rule, not the
    // bounds check.
    let len = (in_off + pixels * in_c).max(out_off + pixels * out_c) + 8;
    let mut buf = vec![0x55u8 as i8; len];
    buf[in_off..in_off + pixels * in_c].copy_from_slice(&d.input);
    let mut scratch = vec![0u8; s8conv::pointwise_conv_s8_overlapping_scratch_len(&g)];
    pointwise_conv_s8_overlapping(&p, &mut buf, in_off, out_off, &d.filter, bias, &mut scratch)
        .unwrap();
    assert_bit_exact(
        &format!("overlapping in_c={in_c} out_c={out_c} groups={groups}"),
        &buf[out_off..out_off + pixels * out_c],
        &want,
    );
    if out_c > in_c && pixels > 1 {
        // One element lower than the bound is still accepted; one higher is refused.
        let too_high = out_off + 1;
        let err = pointwise_conv_s8_overlapping(
            &p,
            &mut buf,
            in_off,
            too_high,
            &d.filter,
            bias,
            &mut scratch,
        );
        assert!(matches!(err, Err(Error::BadParam { .. })), "{err:?}");
    }
    if out_c < in_c && pixels > 1 {
        // Past `in_off + (in_c - out_c)` the second pixel's output would clobber unread input.
        let err = pointwise_conv_s8_overlapping(
            &p,
            &mut buf,
            in_off,
            in_off + (in_c - out_c) + 1,
            &d.filter,
            bias,
            &mut scratch,
        );
        assert!(matches!(err, Err(Error::BadParam { .. })), "{err:?}");
    }
}

#[test]
fn pointwise_overlapping_is_bit_identical() {
    overlap_case(8, 3, 1, (4, 5), 0); // out_c < in_c
    overlap_case(6, 6, 1, (3, 3), 0); // out_c == in_c
    overlap_case(3, 8, 1, (4, 3), 0); // out_c > in_c
    overlap_case(4, 12, 4, (3, 5), 5); // grouped, out_c > in_c
    overlap_case(12, 6, 3, (2, 2), 2); // grouped, out_c < in_c
    overlap_case(5, 9, 1, (1, 1), 0); // one pixel: any placement works
}

#[test]
fn pointwise_overlap_offset_rule() {
    assert_eq!(pointwise_overlap_out_offset(100, 10, 8, 4), 100);
    assert_eq!(pointwise_overlap_out_offset(100, 10, 4, 4), 100);
    assert_eq!(pointwise_overlap_out_offset(100, 10, 4, 8), 100 - 9 * 4);
    assert_eq!(pointwise_overlap_out_offset(10, 10, 4, 8), 0);
    // An output entirely after the input is always accepted.
    let g = ConvGeometry::new(
        shape(1, 2, 2, 2),
        4,
        (1, 1),
        (1, 1),
        (1, 1),
        Padding::Valid,
        1,
    )
    .unwrap();
    let p = ConvS8Params {
        geometry: g,
        quant: plain_quant(&[1 << 30], &[1]),
    };
    let input: Vec<i8> = (1..=8).collect();
    let filter: Vec<i8> = (0..8).map(|i| (i % 3) as i8 - 1).collect();
    let mut want = vec![0i8; 16];
    conv_s8(&p, &input, &filter, None, &mut want, &mut []).unwrap();
    let mut buf = vec![0i8; 24];
    buf[..8].copy_from_slice(&input);
    let mut scratch = [0u8; 2];
    pointwise_conv_s8_overlapping(&p, &mut buf, 0, 8, &filter, None, &mut scratch).unwrap();
    assert_eq!(&buf[8..], &want[..]);
    // A 3x3 geometry is not pointwise.
    let g3 = ConvGeometry::new(
        shape(1, 3, 3, 2),
        2,
        (3, 3),
        (1, 1),
        (1, 1),
        Padding::Same,
        1,
    )
    .unwrap();
    let p3 = ConvS8Params { geometry: g3, ..p };
    let err = pointwise_conv_s8_overlapping(&p3, &mut buf, 0, 0, &[0; 36], None, &mut scratch);
    assert!(matches!(err, Err(Error::Unsupported(_))), "{err:?}");
    // Short scratch.
    let err = pointwise_conv_s8_overlapping(&p, &mut buf, 0, 8, &filter, None, &mut [0u8; 1]);
    assert!(
        matches!(
            err,
            Err(Error::BufferLength {
                what: "scratch",
                ..
            })
        ),
        "{err:?}"
    );
    // Regions past the end of the buffer.
    let err = pointwise_conv_s8_overlapping(&p, &mut buf, 0, 9, &filter, None, &mut scratch);
    assert!(matches!(err, Err(Error::BufferLength { .. })), "{err:?}");
}

#[test]
fn errors() {
    let g = ConvGeometry::new(
        shape(1, 4, 4, 6),
        4,
        (3, 3),
        (1, 1),
        (1, 1),
        Padding::Same,
        2,
    )
    .unwrap();
    let quant = plain_quant(&[1 << 30], &[0]);
    let p = ConvS8Params { geometry: g, quant };
    let input = vec![0i8; 96];
    let filter = vec![0i8; 4 * 9 * 3];
    let mut out = vec![0i8; 64];
    let names = ["input", "filter", "bias", "output"];
    check_s8_lengths(names, [96, 108, 4, 64], |x, f, b, y| {
        conv_s8(&p, x, f, b, y, &mut [])
    });

    // Groups that do not divide the channels.
    let mut bad = g;
    bad.groups = 4;
    let pb = ConvS8Params { geometry: bad, ..p };
    let err = conv_s8(&pb, &input, &filter, None, &mut out, &mut []);
    assert!(
        matches!(err, Err(Error::BadParam { value: 4, .. })),
        "{err:?}"
    );
    bad.groups = 0;
    let pb = ConvS8Params { geometry: bad, ..p };
    let err = conv_s8(&pb, &input, &filter, None, &mut out, &mut []);
    assert_eq!(
        err,
        Err(Error::BadParam {
            what: "groups",
            value: 0
        })
    );

    // Zero stride.
    let mut bad = g;
    bad.stride_w = 0;
    let pb = ConvS8Params { geometry: bad, ..p };
    let err = conv_s8(&pb, &input, &filter, None, &mut out, &mut []);
    assert_eq!(
        err,
        Err(Error::BadParam {
            what: "stride",
            value: 0
        })
    );

    // An output shape that does not follow from the window arithmetic.
    let mut bad = g;
    bad.output.h = 5;
    let pb = ConvS8Params { geometry: bad, ..p };
    let mut out5 = vec![0i8; 80];
    let err = conv_s8(&pb, &input, &filter, None, &mut out5, &mut []);
    assert_eq!(
        err,
        Err(Error::DimMismatch {
            what: "output height",
            expected: 4,
            got: 5
        })
    );

    // Quantization parameters out of range.
    let bad_q = |quant: ChannelQuantS8| {
        let pb = ConvS8Params { geometry: g, quant };
        let mut out = vec![0i8; 64];
        conv_s8(&pb, &input, &filter, None, &mut out, &mut [])
    };
    let err = bad_q(ChannelQuantS8 {
        multipliers: &[1, 2],
        shifts: &[0, 0],
        ..quant
    });
    assert!(matches!(err, Err(Error::BufferLength { .. })), "{err:?}");
    let err = bad_q(ChannelQuantS8 {
        shifts: &[31],
        ..quant
    });
    assert!(
        matches!(
            err,
            Err(Error::BadParam {
                what: "requantization shift",
                value: 31
            })
        ),
        "{err:?}"
    );
    let err = bad_q(ChannelQuantS8 {
        act_min: 10,
        act_max: 5,
        ..quant
    });
    assert!(matches!(err, Err(Error::BadParam { .. })), "{err:?}");
    let err = bad_q(ChannelQuantS8 {
        input_offset: 129,
        ..quant
    });
    assert!(
        matches!(
            err,
            Err(Error::BadParam {
                what: "input offset",
                ..
            })
        ),
        "{err:?}"
    );

    // The float kernels check the same things.
    let pf = ConvF32Params::new(g, FusedActivation::None);
    let mut out_f = vec![0f32; 64];
    let err = conv_f32(&pf, &[0.0; 95], &[0.0; 108], None, &mut out_f);
    assert!(
        matches!(err, Err(Error::BufferLength { what: "input", .. })),
        "{err:?}"
    );
    let inverted = ConvF32Params {
        act_min: 1.0,
        act_max: 0.0,
        ..pf
    };
    let err = conv_f32(&inverted, &[0.0; 96], &[0.0; 108], None, &mut out_f);
    assert!(matches!(err, Err(Error::BadParam { .. })), "{err:?}");
    let mut out_h = vec![f16::ZERO; 64];
    let err = f16conv::conv_f16(
        &pf,
        &[f16::ZERO; 96],
        &[f16::ZERO; 107],
        None,
        &mut out_h,
        &mut [],
    );
    assert!(
        matches!(err, Err(Error::BufferLength { what: "filter", .. })),
        "{err:?}"
    );
    let err =
        f16conv::pointwise_conv_f16(&pf, &[f16::ZERO; 96], &[f16::ZERO; 108], None, &mut out_h);
    assert!(matches!(err, Err(Error::Unsupported(_))), "{err:?}");
    let err = portable::pointwise_conv_s8(&p, &input, &filter, None, &mut out);
    assert!(matches!(err, Err(Error::Unsupported(_))), "{err:?}");
}

#[test]
fn scratch_lengths_and_path() {
    let g = ConvGeometry::new(
        shape(1, 8, 8, 16),
        32,
        (1, 1),
        (1, 1),
        (1, 1),
        Padding::Valid,
        1,
    )
    .unwrap();
    assert_eq!(s8conv::conv_s8_scratch_len(&g), 0);
    assert_eq!(f16conv::conv_f16_scratch_len(&g), 0);
    assert_eq!(s8conv::pointwise_conv_s8_overlapping_scratch_len(&g), 16);
    // The NEON tiles use SDOT when the build enables the dot-product extension.
    let neon = cfg!(bfmd_neon);
    let want = match (neon, cfg!(target_feature = "dotprod")) {
        (false, _) => "portable",
        (true, false) => "neon",
        (true, true) => "neon-dotprod",
    };
    assert_eq!(s8conv::PATH, want);
    assert_eq!(g.conv_macs(), 8 * 8 * 32 * 16);
}

/// Random geometries for the property sweep.
fn arb_case() -> impl Strategy<Value = (Case, u64)> {
    (
        (1usize..=2, 1usize..=7, 1usize..=7),
        (1usize..=3, 1usize..=4, 1usize..=4),
        (
            1usize..=3,
            1usize..=3,
            1usize..=2,
            1usize..=2,
            1usize..=2,
            1usize..=2,
        ),
        (0usize..3, 0usize..=2, 0usize..=2, 0usize..=2, 0usize..=2),
        (any::<bool>(), 0usize..3, any::<bool>(), any::<u64>()),
    )
        .prop_map(
            |((n, h, w), (groups, cin_g, cout_g), (kh, kw, sh, sw, dh, dw), pad, flags)| {
                let padding = sweep_padding(pad.0, pad.1, pad.2, pad.3, pad.4);
                let act = sweep_activation(flags.1);
                (
                    Case {
                        name: "proptest",
                        input: shape(n, h, w, groups * cin_g),
                        out_c: groups * cout_g,
                        kernel: (kh, kw),
                        stride: (sh, sw),
                        dilation: (dh, dw),
                        padding,
                        groups,
                        bias: flags.0,
                        act,
                        per_channel: flags.2,
                    },
                    flags.3,
                )
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Every path against the TFLM transcription (bit-exact) and the real-valued result
    /// (analytic bound), over random geometries, groups, paddings, activations and
    /// quantization granularities.
    #[test]
    fn sweep((c, seed) in arb_case()) {
        let valid = ConvGeometry::new(c.input, c.out_c, c.kernel, c.stride, c.dilation, c.padding, c.groups);
        prop_assume!(valid.is_ok());
        run_case(&c, seed);
    }
}

/// The DSP path's scratch follows the geometry: the four output channels' widened filters
/// (160 header bytes and two words per two window elements, rounded to 8), then the chunk of
/// widened pixels (pointwise) or a run of gathered windows (im2col, at most 2 KiB); the
/// portable and NEON loops need none.
#[test]
fn dsp_scratch_follows_the_geometry() {
    use bfmd_kernels::s8::conv as cv;
    use bfmd_kernels::KernelPath;
    // Visual wake words' 6x6x128 pointwise layers: all 36 pixels widened in one chunk.
    let pw = ConvGeometry::new(
        Shape::new(1, 6, 6, 128),
        128,
        (1, 1),
        (1, 1),
        (1, 1),
        Padding::Valid,
        1,
    )
    .unwrap();
    let block = (160usize + 4 * (2 * 128 + 1)).next_multiple_of(8);
    assert_eq!(cv::conv_s8_scratch_len_dsp(&pw), block + 36 * 256 + 7);
    // An RGB stem: windows of 27 elements padded to 28, 73 of them per gathered run.
    let stem = ConvGeometry::new(
        Shape::new(1, 96, 96, 3),
        8,
        (3, 3),
        (2, 2),
        (1, 1),
        Padding::Same,
        1,
    )
    .unwrap();
    assert_eq!(
        cv::conv_s8_scratch_len_dsp(&stem),
        (160usize + 4 * 57).next_multiple_of(8) + 73 * 28 + 7
    );
    for p in [KernelPath::Portable, KernelPath::Neon] {
        assert_eq!(cv::conv_s8_scratch_len_for(p, &stem), 0);
    }
    // Overlapping pointwise: the DSP loop's, at least the portable loop's one pixel.
    assert_eq!(
        cv::pointwise_conv_s8_overlapping_scratch_len_dsp(&pw),
        cv::conv_s8_scratch_len_dsp(&pw)
    );
    assert_eq!(
        cv::pointwise_conv_s8_overlapping_scratch_len_portable(&pw),
        128
    );
    // Windows too long for the filter blocks run the fully connected layer's loop on the DSP
    // path (one row of 960 inputs widened), the portable loop on Helium cores.
    let long = ConvGeometry::new(
        Shape::new(1, 2, 2, 960),
        9,
        (1, 1),
        (1, 1),
        (1, 1),
        Padding::Valid,
        1,
    )
    .unwrap();
    assert_eq!(cv::conv_s8_scratch_len_dsp(&long), 2 * 960 + 7);
    assert_eq!(cv::conv_s8_scratch_len_mve(&long), 0);
}
