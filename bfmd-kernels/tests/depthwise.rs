//! Test battery of the depthwise convolution family (`depthwise_conv_f32`,
//! `depthwise_conv_s8`, `depthwise_conv_f16` and their in-place variants), run against the
//! dispatchers and `portable::`.
//!
//! A depthwise convolution with multiplier `m` is the grouped convolution with
//! `groups = in_c` and `out_c = in_c * m` once its filter `[1, kh, kw, out_c]` is reordered to
//! OHWI `[out_c, kh, kw, 1]`. The battery generates operands for that grouped convolution and
//! checks:
//! * int8 bit for bit against the literal TFLM `ConvPerChannel` transcription (`conv_oracle`),
//!   which for this geometry computes exactly TFLM's `DepthwiseConvPerChannel`, and against
//!   `conv_s8` on the grouped form;
//! * int8 against the real-valued result within the analytic requantization bound;
//! * f32 and f16 against an `f64` evaluation within the bounds derived in `conv_oracle`;
//! * the in-place variants bit for bit against the out-of-place kernels.

mod common;
mod conv_oracle;

use bfmd_kernels::f16::depthwise as f16dw;
use bfmd_kernels::half::f16;
use bfmd_kernels::quant::{activation_range_f32, FusedActivation};
use bfmd_kernels::reference::depthwise::{
    depthwise_conv_f32, depthwise_conv_f32_inplace, depthwise_conv_f32_inplace_scratch_len,
    DepthwiseF32Params,
};
use bfmd_kernels::s8::conv::conv_s8;
use bfmd_kernels::s8::depthwise::{
    self as s8dw, depthwise_conv_s8, depthwise_conv_s8_inplace,
    depthwise_conv_s8_inplace_scratch_len, portable, DepthwiseS8Params,
};
use bfmd_kernels::{ConvGeometry, Error, Padding, Shape};
use common::{assert_bit_exact, from_f16, to_f16};
use conv_oracle::*;
use proptest::prelude::*;

#[derive(Clone, Copy, Debug)]
struct Case {
    name: &'static str,
    input: Shape,
    mult: usize,
    kernel: (usize, usize),
    stride: (usize, usize),
    dilation: (usize, usize),
    padding: Padding,
    bias: bool,
    act: FusedActivation,
    per_channel: bool,
}

const fn case(name: &'static str, input: Shape, mult: usize, kernel: (usize, usize)) -> Case {
    Case {
        name,
        input,
        mult,
        kernel,
        stride: (1, 1),
        dilation: (1, 1),
        padding: Padding::Same,
        bias: true,
        act: FusedActivation::None,
        per_channel: true,
    }
}

fn shape(n: usize, h: usize, w: usize, c: usize) -> Shape {
    Shape::new(n, h, w, c)
}

/// `[out_c, kh, kw, 1]` (OHWI of the grouped form) to the depthwise `[1, kh, kw, out_c]`.
fn ohwi_to_depthwise<T: Copy>(ohwi: &[T], taps: usize, out_c: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(ohwi.len());
    for t in 0..taps {
        for o in 0..out_c {
            out.push(ohwi[o * taps + t]);
        }
    }
    out
}

/// The grouped-convolution form (for the oracles) and the depthwise geometry of a case.
fn geometries(c: &Case) -> Option<(ConvGeometry, ConvGeometry)> {
    let out_c = c.input.c * c.mult;
    let grouped = ConvGeometry::new(
        c.input, out_c, c.kernel, c.stride, c.dilation, c.padding, c.input.c,
    )
    .ok()?;
    // The depthwise kernels ignore `groups`; 1 shows that.
    let dw = ConvGeometry {
        groups: 1,
        ..grouped
    };
    Some((grouped, dw))
}

fn run_case(c: &Case, seed: u64) {
    let (gc, g) = geometries(c).unwrap_or_else(|| panic!("{}: bad case geometry", c.name));
    let name = c.name;
    let d = Data::new(gc, seed, c.per_channel, c.bias);
    let (taps_hw, out_c) = (g.kernel_h * g.kernel_w, g.output.c);
    let filter = ohwi_to_depthwise(&d.filter, taps_hw, out_c);
    let (mut m, mut s) = (Vec::new(), Vec::new());
    let p: DepthwiseS8Params = d.params(g, c.act, &mut m, &mut s);
    let bias = d.bias.as_deref();
    let want = d.oracle_s8(&p);

    // int8 paths against the TFLM transcription.
    let mut out = vec![0i8; g.output.len()];
    depthwise_conv_s8(&p, &d.input, &filter, bias, &mut out, &mut []).unwrap();
    assert_bit_exact(&format!("{name}: depthwise_conv_s8"), &out, &want);
    let mut out2 = vec![0i8; g.output.len()];
    portable::depthwise_conv_s8(&p, &d.input, &filter, bias, &mut out2, &mut []).unwrap();
    assert_bit_exact(
        &format!("{name}: portable::depthwise_conv_s8"),
        &out2,
        &want,
    );
    // The same numbers through the grouped convolution.
    let pc = bfmd_kernels::s8::conv::ConvS8Params { geometry: gc, ..p };
    out2.fill(0);
    conv_s8(&pc, &d.input, &d.filter, bias, &mut out2, &mut []).unwrap();
    assert_bit_exact(&format!("{name}: conv_s8 with groups = in_c"), &out2, &want);

    let inplace = c.mult == 1 && g.output.h * g.output.w <= g.input.h * g.input.w;
    if inplace {
        let mut buf = d.input.clone();
        let mut scratch = vec![0u8; depthwise_conv_s8_inplace_scratch_len(&g)];
        depthwise_conv_s8_inplace(&p, &mut buf, &filter, bias, &mut scratch).unwrap();
        assert_bit_exact(
            &format!("{name}: depthwise_conv_s8_inplace"),
            &buf[..g.output.len()],
            &want,
        );
    }

    // int8 against the real-valued result.
    let (real, mag) = conv_f64_oracle(&gc, &d.x_real, &d.w_real, d.b_real.as_deref());
    let n = taps_hw;
    let act = (p.quant.act_min, p.quant.act_max);
    let (out_scale, out_zp) = (d.q.out_scale, d.q.out_zp);
    let what = format!("{name}: int8 vs real");
    assert_within_quant_bound(&what, &out, &real, &mag, n, out_scale, out_zp, act);
    let w_real = ohwi_to_depthwise(&d.w_real, taps_hw, out_c);
    let b_real = d.b_real.as_deref();
    let (lo, hi) = real_clamp(out_scale, out_zp, act);
    let pq = DepthwiseF32Params {
        geometry: g,
        act_min: lo,
        act_max: hi,
    };
    let mut ref_q = vec![0f32; g.output.len()];
    depthwise_conv_f32(&pq, &d.x_real, &w_real, b_real, &mut ref_q).unwrap();
    let what = format!("{name}: int8 vs f32 reference");
    assert_within_quant_bound_of_f32(&what, &out, &ref_q, &mag, n, out_scale, out_zp, act);

    // f32.
    let pf = DepthwiseF32Params::new(g, c.act);
    let act_f = activation_range_f32(c.act);
    let mut out_f = vec![0f32; g.output.len()];
    depthwise_conv_f32(&pf, &d.x_real, &w_real, b_real, &mut out_f).unwrap();
    assert_f32_within(&format!("{name}: f32"), &out_f, &real, &mag, n, act_f);
    if inplace {
        let mut buf = d.x_real.clone();
        let mut scratch = vec![0u8; depthwise_conv_f32_inplace_scratch_len(&g)];
        depthwise_conv_f32_inplace(&pf, &mut buf, &w_real, b_real, &mut scratch).unwrap();
        let same = buf[..g.output.len()]
            .iter()
            .zip(&out_f)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{name}: depthwise_conv_f32_inplace differs");
    }

    // f16 on f16-rounded operands.
    let x16 = to_f16(&d.x_real);
    let w16 = to_f16(&w_real);
    let w16_ohwi = to_f16(&d.w_real);
    let x16f = from_f16(&x16);
    let (real16, mag16) = conv_f64_oracle(&gc, &x16f, &from_f16(&w16_ohwi), b_real);
    let mut out_h = vec![f16::ZERO; g.output.len()];
    f16dw::depthwise_conv_f16(&pf, &x16, &w16, b_real, &mut out_h, &mut []).unwrap();
    let got = from_f16(&out_h);
    let in_f16 = f16dw::ACCUMULATES_IN_F16;
    assert_f16_within(
        &format!("{name}: f16"),
        &got,
        &real16,
        &mag16,
        n,
        act_f,
        in_f16,
    );
    let mut ref16 = vec![0f32; g.output.len()];
    depthwise_conv_f32(&pf, &x16f, &from_f16(&w16), b_real, &mut ref16).unwrap();
    let what = format!("{name}: f16 vs f32 reference");
    assert_f16_within_f32_reference(&what, &got, &ref16, &mag16, n, act_f, in_f16);
    // Every f16 depthwise path accumulates in f32 in the same order: bit-identical.
    let mut out_p = vec![f16::ZERO; g.output.len()];
    f16dw::portable::depthwise_conv_f16(&pf, &x16, &w16, b_real, &mut out_p, &mut []).unwrap();
    assert_eq!(out_h, out_p, "{name}: f16 dispatcher vs portable");
    if inplace {
        let mut buf = x16.clone();
        let mut scratch = vec![0u8; f16dw::depthwise_conv_f16_inplace_scratch_len(&g)];
        f16dw::depthwise_conv_f16_inplace(&pf, &mut buf, &w16, b_real, &mut scratch).unwrap();
        assert_eq!(&buf[..g.output.len()], &out_h[..], "{name}: f16 in place");
    }
}

#[test]
fn battery() {
    let cases = [
        case("mult1_3x3_same_odd_channels", shape(1, 7, 5, 3), 1, (3, 3)),
        case("mult2_3x3_same", shape(1, 6, 5, 5), 2, (3, 3)),
        case("mult3_5x5_same", shape(1, 7, 6, 3), 3, (5, 5)),
        Case {
            stride: (2, 2),
            ..case(
                "mult1_stride2_same_even_input",
                shape(1, 8, 8, 7),
                1,
                (3, 3),
            )
        },
        Case {
            stride: (2, 2),
            ..case("mult2_stride2_same", shape(1, 8, 6, 3), 2, (3, 3))
        },
        Case {
            stride: (2, 2),
            ..case("mult1_5x5_stride2", shape(1, 9, 10, 5), 1, (5, 5))
        },
        Case {
            padding: Padding::Explicit {
                top: 2,
                bottom: 0,
                left: 0,
                right: 1,
            },
            ..case("explicit_asymmetric_padding", shape(1, 6, 6, 5), 1, (3, 3))
        },
        Case {
            padding: Padding::Valid,
            ..case("valid", shape(1, 6, 7, 5), 1, (3, 3))
        },
        Case {
            dilation: (2, 2),
            ..case("dilation_2", shape(1, 7, 7, 3), 1, (3, 3))
        },
        case("spatial_1x1_input", shape(1, 1, 1, 7), 1, (3, 3)),
        case("kernel_1x5", shape(1, 4, 9, 3), 1, (1, 5)),
        case("kernel_5x1", shape(1, 9, 4, 3), 2, (5, 1)),
        case("batch_2", shape(2, 5, 4, 3), 1, (3, 3)),
        Case {
            bias: false,
            ..case("null_bias", shape(1, 5, 5, 3), 1, (3, 3))
        },
        Case {
            act: FusedActivation::Relu,
            ..case("relu", shape(1, 5, 5, 6), 1, (3, 3))
        },
        Case {
            act: FusedActivation::Relu6,
            stride: (2, 2),
            ..case("relu6_stride2", shape(1, 6, 6, 6), 1, (3, 3))
        },
        Case {
            per_channel: false,
            ..case("per_tensor", shape(1, 5, 5, 4), 2, (3, 3))
        },
        // More channels than one accumulator block (32), with multipliers 1 and 2.
        Case {
            padding: Padding::Explicit {
                top: 3,
                bottom: 2,
                left: 3,
                right: 3,
            },
            ..case("windows_entirely_in_padding", shape(1, 2, 3, 3), 2, (2, 2))
        },
        case("wide_37_channels", shape(1, 4, 4, 37), 1, (3, 3)),
        case("wide_mult2_crosses_block", shape(1, 3, 3, 21), 2, (3, 3)),
        Case {
            stride: (2, 2),
            ..case("batch_2_wide_stride2", shape(2, 6, 6, 40), 1, (3, 3))
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        run_case(c, 2000 + i as u64);
    }
}

/// Three channels, multiplier 1, all-ones 2x2 filter: checks the channel-to-filter mapping and
/// the skipped (not zero-point) padding by hand.
#[test]
fn hand_computed() {
    // Input 1x2x2x2, channel 0 = [[1, 2], [3, 4]], channel 1 = [[10, 20], [30, 40]], zero
    // point 0; filter [1, 2, 2, 2] with channel 0 taps all 1 and channel 1 taps all -1.
    // VALID: one output pixel: channel 0 = 10, channel 1 = -100. Scale 1 * 1 / 2 halves
    // them: 5, -50.
    let g = ConvGeometry::new(
        shape(1, 2, 2, 2),
        2,
        (2, 2),
        (1, 1),
        (1, 1),
        Padding::Valid,
        1,
    )
    .unwrap();
    let (mut m, mut s) = ([0; 1], [0; 1]);
    let p = DepthwiseS8Params::from_scales(
        g,
        1.0,
        0,
        &[1.0],
        2.0,
        0,
        FusedActivation::None,
        &mut m,
        &mut s,
    )
    .unwrap();
    let input = [1, 10, 2, 20, 3, 30, 4, 40];
    let filter = [1, -1, 1, -1, 1, -1, 1, -1];
    let mut out = [0i8; 2];
    depthwise_conv_s8(&p, &input, &filter, None, &mut out, &mut []).unwrap();
    assert_eq!(out, [5, -50]);
    // Multiplier 2: output channels (0, 1) read input channel 0, (2, 3) read channel 1.
    let g2 = ConvGeometry::new(
        shape(1, 1, 1, 2),
        4,
        (1, 1),
        (1, 1),
        (1, 1),
        Padding::Valid,
        1,
    )
    .unwrap();
    let (mut m, mut s) = ([0; 1], [0; 1]);
    let p2 = DepthwiseS8Params::from_scales(
        g2,
        1.0,
        0,
        &[1.0],
        1.0,
        0,
        FusedActivation::None,
        &mut m,
        &mut s,
    )
    .unwrap();
    let mut out = [0i8; 4];
    depthwise_conv_s8(
        &p2,
        &[3, 5],
        &[1, 2, 3, 4],
        Some(&[0, 0, 0, 1]),
        &mut out,
        &mut [],
    )
    .unwrap();
    assert_eq!(out, [3, 6, 15, 21]);
}

#[test]
fn errors() {
    let g = ConvGeometry::new(
        shape(1, 4, 4, 3),
        6,
        (3, 3),
        (1, 1),
        (1, 1),
        Padding::Same,
        1,
    )
    .unwrap();
    let quant = plain_quant(&[1 << 30], &[0]);
    let p = DepthwiseS8Params { geometry: g, quant };
    let input = vec![0i8; 48];
    let filter = vec![0i8; 54];
    let mut out = vec![0i8; 96];
    let names = ["input", "filter", "bias", "output"];
    check_s8_lengths(names, [48, 54, 6, 96], |x, f, b, y| {
        depthwise_conv_s8(&p, x, f, b, y, &mut [])
    });

    // Output channels that are not a multiple of the input channels.
    let mut bad = g;
    bad.output.c = 5;
    let pb = DepthwiseS8Params { geometry: bad, ..p };
    let err = depthwise_conv_s8(&pb, &input, &filter[..45], None, &mut out[..80], &mut []);
    assert!(matches!(err, Err(Error::DimMismatch { .. })), "{err:?}");
    // Zero stride, and an output shape that does not follow from the geometry.
    let mut bad = g;
    bad.stride_h = 0;
    let pb = DepthwiseS8Params { geometry: bad, ..p };
    let err = depthwise_conv_s8(&pb, &input, &filter, None, &mut out, &mut []);
    assert_eq!(
        err,
        Err(Error::BadParam {
            what: "stride",
            value: 0
        })
    );
    let mut bad = g;
    bad.output.w = 3;
    let pb = DepthwiseS8Params { geometry: bad, ..p };
    let err = depthwise_conv_s8(&pb, &input, &filter, None, &mut out[..72], &mut []);
    assert_eq!(
        err,
        Err(Error::DimMismatch {
            what: "output width",
            expected: 4,
            got: 3
        })
    );

    // In place: multiplier 2 is refused, so are more output pixels than input pixels and a
    // short scratch.
    let mut buf = vec![0i8; 48];
    let mut scratch = vec![0u8; 16];
    let err = depthwise_conv_s8_inplace(&p, &mut buf, &filter, None, &mut scratch);
    assert!(matches!(err, Err(Error::Unsupported(_))), "{err:?}");
    let g1 = ConvGeometry::new(
        shape(1, 4, 4, 3),
        3,
        (3, 3),
        (1, 1),
        (1, 1),
        Padding::Same,
        1,
    )
    .unwrap();
    let p1 = DepthwiseS8Params { geometry: g1, ..p };
    let err = depthwise_conv_s8_inplace(&p1, &mut buf, &filter[..27], None, &mut scratch[..15]);
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
    let grow = ConvGeometry::new(
        shape(1, 4, 4, 3),
        3,
        (1, 1),
        (1, 1),
        (1, 1),
        Padding::Explicit {
            top: 1,
            bottom: 0,
            left: 0,
            right: 0,
        },
        1,
    )
    .unwrap();
    let pg = DepthwiseS8Params {
        geometry: grow,
        ..p
    };
    let err = depthwise_conv_s8_inplace(&pg, &mut buf, &filter[..3], None, &mut scratch);
    assert!(matches!(err, Err(Error::DimMismatch { .. })), "{err:?}");
    // The buffer must be exactly the input.
    let err = depthwise_conv_s8_inplace(&p1, &mut buf[..47], &filter[..27], None, &mut scratch);
    assert!(
        matches!(err, Err(Error::BufferLength { what: "input", .. })),
        "{err:?}"
    );

    // The float kernels check the same things.
    let pf = DepthwiseF32Params::new(g, FusedActivation::Relu6);
    let mut out_f = vec![0f32; 96];
    let err = depthwise_conv_f32(&pf, &[0.0; 48], &[0.0; 53], None, &mut out_f);
    assert!(
        matches!(err, Err(Error::BufferLength { what: "filter", .. })),
        "{err:?}"
    );
    let mut out_h = vec![f16::ZERO; 96];
    let err = f16dw::depthwise_conv_f16(
        &pf,
        &[f16::ZERO; 48],
        &[f16::ZERO; 54],
        Some(&[0.0; 7]),
        &mut out_h,
        &mut [],
    );
    assert!(
        matches!(err, Err(Error::BufferLength { what: "bias", .. })),
        "{err:?}"
    );
    let mut fbuf = vec![f16::ZERO; 48];
    let err = f16dw::depthwise_conv_f16_inplace(&pf, &mut fbuf, &[f16::ZERO; 54], None, &mut []);
    assert!(matches!(err, Err(Error::Unsupported(_))), "{err:?}");
}

#[test]
fn scratch_lengths_and_path() {
    let g = ConvGeometry::new(
        shape(1, 12, 10, 16),
        16,
        (3, 3),
        (2, 2),
        (1, 1),
        Padding::Same,
        1,
    )
    .unwrap();
    assert_eq!(s8dw::depthwise_conv_s8_scratch_len(&g), 0);
    assert_eq!(depthwise_conv_s8_inplace_scratch_len(&g), 120);
    assert_eq!(f16dw::depthwise_conv_f16_inplace_scratch_len(&g), 240);
    assert_eq!(depthwise_conv_f32_inplace_scratch_len(&g), 480);
    // Usable in constant expressions, so the planner can size arenas at compile time.
    const G: ConvGeometry = ConvGeometry {
        input: Shape::new(1, 8, 8, 4),
        output: Shape::new(1, 8, 8, 4),
        kernel_h: 3,
        kernel_w: 3,
        stride_h: 1,
        stride_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: 1,
        pad_bottom: 1,
        pad_left: 1,
        pad_right: 1,
        groups: 1,
    };
    const SCRATCH: usize = depthwise_conv_s8_inplace_scratch_len(&G);
    assert_eq!(SCRATCH, 64);
    // The NEON depthwise loop has no SDOT form (see `s8::depthwise::neon`).
    let neon = cfg!(bfmd_neon);
    assert_eq!(s8dw::PATH, if neon { "neon" } else { "portable" });
    assert_eq!(g.depthwise_macs(), 6 * 5 * 16 * 9);
}

fn arb_case() -> impl Strategy<Value = (Case, u64)> {
    (
        (1usize..=2, 1usize..=8, 1usize..=8, 1usize..=40, 1usize..=3),
        (
            1usize..=5,
            1usize..=5,
            1usize..=2,
            1usize..=2,
            1usize..=2,
            1usize..=2,
        ),
        (0usize..3, 0usize..=2, 0usize..=2, 0usize..=2, 0usize..=2),
        (any::<bool>(), 0usize..3, any::<bool>(), any::<u64>()),
    )
        .prop_map(
            |((n, h, w, c, mult), (kh, kw, sh, sw, dh, dw), pad, flags)| {
                let padding = sweep_padding(pad.0, pad.1, pad.2, pad.3, pad.4);
                let act = sweep_activation(flags.1);
                let c = Case {
                    name: "proptest",
                    input: shape(n, h, w, c),
                    mult,
                    kernel: (kh, kw),
                    stride: (sh, sw),
                    dilation: (dh, dw),
                    padding,
                    bias: flags.0,
                    act,
                    per_channel: flags.2,
                };
                (c, flags.3)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Every path against the TFLM transcription (bit-exact), the real-valued result
    /// (analytic bound) and, for multiplier 1, the in-place variants (bit-identical).
    #[test]
    fn sweep((c, seed) in arb_case()) {
        prop_assume!(geometries(&c).is_some());
        run_case(&c, seed);
    }
}

/// The DSP path's scratch follows the geometry: bands of rows for stride-1 layers (as many as a
/// 3,072-byte plane of four channels holds when rows are narrow, the window's height and three
/// more rows when they are wider, so no row is too wide for the fast loop), plus the 600-byte
/// filter block; the other paths need none out of place.
#[test]
fn dsp_scratch_follows_the_geometry() {
    use bfmd_kernels::s8::depthwise as dw;
    use bfmd_kernels::KernelPath;
    let pad1 = Padding::Explicit {
        top: 1,
        bottom: 1,
        left: 1,
        right: 1,
    };
    let g = |h, w, c, stride, mult| {
        ConvGeometry::new(
            Shape::new(1, h, w, c),
            c * mult,
            (3, 3),
            (stride, stride),
            (1, 1),
            pad1,
            1,
        )
        .unwrap()
    };
    // Bench shape a: 15 padded rows of 50 pixels (8 bytes each when widened) and 16 output rows
    // of 48 pixels (4 bytes), the filter block, 7 bytes to align.
    let a = g(48, 48, 32, 1, 1);
    assert_eq!(
        dw::depthwise_conv_s8_scratch_len_dsp(&a),
        15 * 50 * 8 + 16 * 48 * 4 + 600 + 7
    );
    // Rows of 481 pixels: 3 + 3 padded rows of 483 pixels, 4 output rows.
    let h = g(12, 481, 32, 1, 1);
    assert_eq!(
        dw::depthwise_conv_s8_scratch_len_dsp(&h),
        6 * 483 * 8 + 4 * 481 * 4 + 600 + 7
    );
    // Strided layers only widen the filter; a channel multiplier of 2 runs the portable loop.
    assert_eq!(
        dw::depthwise_conv_s8_scratch_len_dsp(&g(48, 48, 64, 2, 1)),
        607
    );
    assert_eq!(dw::depthwise_conv_s8_scratch_len_dsp(&g(8, 8, 4, 1, 2)), 0);
    for p in [KernelPath::Portable, KernelPath::Neon] {
        assert_eq!(dw::depthwise_conv_s8_scratch_len_for(p, &h), 0);
    }
    assert_eq!(
        dw::depthwise_conv_s8_scratch_len_for(KernelPath::Mve, &h),
        dw::depthwise_conv_s8_scratch_len_dsp(&h)
    );
    // In place: at least the portable loop's channel plane, which it falls back to.
    assert!(dw::depthwise_conv_s8_inplace_scratch_len_dsp(&h) >= 12 * 481);
    assert_eq!(
        dw::depthwise_conv_s8_inplace_scratch_len_portable(&h),
        12 * 481
    );
    // This build's length is its path's.
    assert_eq!(
        dw::depthwise_conv_s8_scratch_len(&h),
        dw::depthwise_conv_s8_scratch_len_for(KernelPath::HOST, &h)
    );
}
