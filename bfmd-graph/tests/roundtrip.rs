//! Builder -> blob -> parse -> run for one-op graphs of every op kind, in int8, f16 and f32,
//! compared with calling the kernels directly on separate buffers: int8 must be bit-exact, and
//! so must the float types (the executor calls the same kernels, so the stated tolerance is
//! zero). Each test plans with in-place placement on and off, so both the normal and the
//! in-place/overlapping kernel variants are exercised against the same expected bytes.

mod common;

use bfmd_graph::builder::{
    BuildOptions, Built, ConvOptions, GraphBuilder, PoolOptions, Quant, DEFAULT_WIDE_FC_WEIGHTS,
};
use bfmd_graph::{DType, OpKind, Variant};
use bfmd_kernels::half::f16;
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::reference::{self as r};
use bfmd_kernels::{f16 as kh, movement as mv, s8, ConvGeometry, Padding, Shape};
use common::*;

// The lookup-table fold would replace the unary op under test by a `Lut` (bit-identical, but
// then this file would no longer exercise that op's dispatch); `tests/lut_fold.rs` covers it.
const BOTH: [BuildOptions; 2] = [
    BuildOptions {
        in_place: true,
        fuse_shuffles: true,
        fold_luts: false,
        wide_fc_weights: DEFAULT_WIDE_FC_WEIGHTS,
        path: bfmd_graph::KernelPath::HOST,
    },
    BuildOptions {
        in_place: false,
        fuse_shuffles: true,
        fold_luts: false,
        wide_fc_weights: DEFAULT_WIDE_FC_WEIGHTS,
        path: bfmd_graph::KernelPath::HOST,
    },
];

/// Runs `b` planned both ways and checks every output against `want`; returns the variants
/// chosen with in-place planning on.
fn check(b: &GraphBuilder, inputs: &[Vec<u8>], want: &[Vec<u8>]) -> Vec<Variant> {
    let mut variants = Vec::new();
    for (k, opts) in BOTH.iter().enumerate() {
        let built: Built = b.finish(*opts).unwrap();
        let got = run_built(&built, inputs);
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g, w, "output {i} differs (in_place = {})", opts.in_place);
        }
        if k == 0 {
            variants = built.report.ops.iter().map(|o| o.variant).collect();
            assert!(built.report.arena_bytes <= built.report.greedy_bytes);
        } else {
            assert!(built.report.ops.iter().all(|o| matches!(
                (o.kind, o.variant),
                (_, Variant::Normal) | (OpKind::Reshape, Variant::InPlace { input: 0 })
            )));
        }
    }
    variants
}

fn conv_case_s8(
    kind: OpKind,
    xs: Shape,
    out_c: usize,
    k: usize,
    stride: usize,
    groups: usize,
    padding: Padding,
) -> Vec<Variant> {
    let mut rng = Rng::new(xs.len() as u64 * 31 + out_c as u64 + k as u64);
    let depthwise = kind == OpKind::DepthwiseConv2d;
    let g = ConvGeometry::new(
        xs,
        out_c,
        (k, k),
        (stride, stride),
        (1, 1),
        padding,
        if depthwise { 1 } else { groups },
    )
    .unwrap();
    let fs = if depthwise {
        Shape::new(1, k, k, out_c)
    } else {
        Shape::new(out_c, k, k, xs.c / groups)
    };
    let (x, w, bias) = (
        rng.i8s(xs.len()),
        rng.i8s(fs.len()),
        rng.i32s(out_c, -3000, 3000),
    );
    let scales: Vec<f32> = (0..out_c).map(|i| 0.002 + 0.0005 * i as f32).collect();
    let (xq, yq) = (Quant::new(0.05, -3), Quant::new(0.09, 5));
    let act = FusedActivation::Relu6;

    let mut b = GraphBuilder::new();
    let xt = b.input("x", xs, DType::S8, xq).unwrap();
    let wt = b.constant_s8_per_channel("w", fs, &w, &scales).unwrap();
    let bt = b
        .constant_i32("b", Shape::new(1, 1, 1, out_c), &bias)
        .unwrap();
    let yt = b.tensor("y", g.output, DType::S8, yq).unwrap();
    let o = ConvOptions {
        stride: (stride, stride),
        padding,
        groups,
        activation: act,
        ..Default::default()
    };
    if depthwise {
        b.add_depthwise_conv2d(xt, wt, Some(bt), yt, o).unwrap();
    } else {
        b.add_conv2d(xt, wt, Some(bt), yt, o).unwrap();
    }
    b.output(yt).unwrap();

    let (mut m, mut s) = (vec![0; out_c], vec![0; out_c]);
    let p = s8::conv::ConvS8Params::from_scales(
        g,
        xq.scale,
        xq.zero_point,
        &scales,
        yq.scale,
        yq.zero_point,
        act,
        &mut m,
        &mut s,
    )
    .unwrap();
    let mut want = vec![0i8; g.output.len()];
    if depthwise {
        s8::depthwise::depthwise_conv_s8(&p, &x, &w, Some(&bias), &mut want, &mut []).unwrap();
    } else {
        s8::conv::conv_s8(&p, &x, &w, Some(&bias), &mut want, &mut []).unwrap();
    }
    check(&b, &[b8(&x)], &[b8(&want)])
}

#[test]
fn conv2d_s8_stride2_same() {
    let v = conv_case_s8(
        OpKind::Conv2d,
        Shape::new(1, 7, 6, 5),
        8,
        3,
        2,
        1,
        Padding::Same,
    );
    // Row-streamed over its input (the graph input dies at the op): `rows.rs`.
    assert_eq!(v, [Variant::Overlapping]);
}

#[test]
fn conv2d_s8_grouped() {
    conv_case_s8(
        OpKind::Conv2d,
        Shape::new(2, 5, 5, 6),
        9,
        3,
        1,
        3,
        Padding::Valid,
    );
}

#[test]
fn conv2d_s8_pointwise_overlaps_when_narrower_and_wider() {
    // Narrower output: the output starts where the input starts.
    let v = conv_case_s8(
        OpKind::Conv2d,
        Shape::new(1, 4, 5, 12),
        7,
        1,
        1,
        1,
        Padding::Valid,
    );
    assert_eq!(v, [Variant::Overlapping]);
    // Wider output: the output starts (pixels - 1) * (out_c - in_c) bytes below the input.
    let v = conv_case_s8(
        OpKind::Conv2d,
        Shape::new(1, 4, 5, 6),
        16,
        1,
        1,
        2,
        Padding::Valid,
    );
    assert_eq!(v, [Variant::Overlapping]);
}

#[test]
fn depthwise_s8_in_place_and_multiplier_two() {
    let v = conv_case_s8(
        OpKind::DepthwiseConv2d,
        Shape::new(1, 6, 7, 5),
        5,
        3,
        2,
        1,
        Padding::Same,
    );
    assert_eq!(v, [Variant::InPlace { input: 0 }]);
    let v = conv_case_s8(
        OpKind::DepthwiseConv2d,
        Shape::new(1, 5, 5, 3),
        6,
        3,
        1,
        1,
        Padding::Same,
    );
    assert_eq!(v, [Variant::Normal]);
}

/// A float element type under test.
trait Fl: Copy + PartialEq + std::fmt::Debug {
    const DT: DType;
    fn from(v: &[f32]) -> Vec<Self>;
    fn bytes(v: &[Self]) -> Vec<u8>;
    fn zero() -> Self;
}

impl Fl for f32 {
    const DT: DType = DType::F32;
    fn from(v: &[f32]) -> Vec<f32> {
        v.to_vec()
    }
    fn bytes(v: &[f32]) -> Vec<u8> {
        b32(v)
    }
    fn zero() -> f32 {
        0.0
    }
}

impl Fl for f16 {
    const DT: DType = DType::F16;
    fn from(v: &[f32]) -> Vec<f16> {
        h(v)
    }
    fn bytes(v: &[f16]) -> Vec<u8> {
        b16(v)
    }
    fn zero() -> f16 {
        f16::ZERO
    }
}

fn constant<T: Fl>(
    b: &mut GraphBuilder,
    name: &str,
    s: Shape,
    v: &[T],
) -> bfmd_graph::builder::TensorId {
    match T::DT {
        DType::F32 => b
            .constant_f32(name, s, &v.iter().map(|x| f32_of(*x)).collect::<Vec<_>>())
            .unwrap(),
        _ => b
            .constant_f16(
                name,
                s,
                &v.iter()
                    .map(|x| f16::from_f32(f32_of(*x)))
                    .collect::<Vec<_>>(),
            )
            .unwrap(),
    }
}

fn f32_of<T: Fl>(x: T) -> f32 {
    let b = T::bytes(&[x]);
    if b.len() == 4 {
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    } else {
        f16::from_le_bytes([b[0], b[1]]).to_f32()
    }
}

/// Float convolution, depthwise (multiplier 1, in place) and fully connected through the graph
/// and directly.
fn conv_family_float<T: Fl>(
    conv_f: impl Fn(&r::conv::ConvF32Params, &[T], &[T], Option<&[f32]>, &mut [T]),
    dw_f: impl Fn(&r::conv::ConvF32Params, &[T], &[T], Option<&[f32]>, &mut [T]),
    fc_f: impl Fn(&r::fully_connected::FullyConnectedF32Params, &[T], &[T], Option<&[f32]>, &mut [T]),
) {
    let mut rng = Rng::new(7);
    let xs = Shape::new(1, 6, 5, 4);
    let act = FusedActivation::Relu;
    // Convolution 3x3 stride 2 SAME, 6 filters.
    let g = ConvGeometry::new(xs, 6, (3, 3), (2, 2), (1, 1), Padding::Same, 2).unwrap();
    let fs = Shape::new(6, 3, 3, 2);
    let (x, w, bias) = (
        T::from(&rng.f32s(xs.len(), -1.0, 1.0)),
        T::from(&rng.f32s(fs.len(), -0.5, 0.5)),
        rng.f32s(6, -0.2, 0.2),
    );
    let mut b = GraphBuilder::new();
    let xt = b.input("x", xs, T::DT, Quant::NONE).unwrap();
    let wt = constant(&mut b, "w", fs, &w);
    let bt = b.constant_f32("b", Shape::new(1, 1, 1, 6), &bias).unwrap();
    let yt = b.tensor("y", g.output, T::DT, Quant::NONE).unwrap();
    b.add_conv2d(
        xt,
        wt,
        Some(bt),
        yt,
        ConvOptions {
            stride: (2, 2),
            groups: 2,
            activation: act,
            ..Default::default()
        },
    )
    .unwrap();
    b.output(yt).unwrap();
    let mut want = vec![T::zero(); g.output.len()];
    conv_f(
        &r::conv::ConvF32Params::new(g, act),
        &x,
        &w,
        Some(&bias),
        &mut want,
    );
    check(&b, &[T::bytes(&x)], &[T::bytes(&want)]);

    // Depthwise 3x3 stride 1, multiplier 1: runs in place when planned so.
    let g = ConvGeometry::new(xs, 4, (3, 3), (1, 1), (1, 1), Padding::Same, 1).unwrap();
    let fs = Shape::new(1, 3, 3, 4);
    let w = T::from(&rng.f32s(fs.len(), -0.5, 0.5));
    let mut b = GraphBuilder::new();
    let xt = b.input("x", xs, T::DT, Quant::NONE).unwrap();
    let wt = constant(&mut b, "w", fs, &w);
    let yt = b.tensor("y", g.output, T::DT, Quant::NONE).unwrap();
    b.add_depthwise_conv2d(
        xt,
        wt,
        None,
        yt,
        ConvOptions {
            activation: act,
            ..Default::default()
        },
    )
    .unwrap();
    b.output(yt).unwrap();
    let mut want = vec![T::zero(); g.output.len()];
    dw_f(
        &r::conv::ConvF32Params::new(g, act),
        &x,
        &w,
        None,
        &mut want,
    );
    let v = check(&b, &[T::bytes(&x)], &[T::bytes(&want)]);
    assert_eq!(v, [Variant::InPlace { input: 0 }]);

    // Fully connected over the flattened input: 120 -> 10.
    let ws = Shape::new(10, 1, 1, xs.len());
    let w = T::from(&rng.f32s(ws.len(), -0.1, 0.1));
    let bias = rng.f32s(10, -0.1, 0.1);
    let mut b = GraphBuilder::new();
    let xt = b.input("x", xs, T::DT, Quant::NONE).unwrap();
    let wt = constant(&mut b, "w", ws, &w);
    let bt = b.constant_f32("b", Shape::new(1, 1, 1, 10), &bias).unwrap();
    let yt = b
        .tensor("y", Shape::new(1, 1, 1, 10), T::DT, Quant::NONE)
        .unwrap();
    b.add_fully_connected(xt, wt, Some(bt), yt, FusedActivation::None)
        .unwrap();
    b.output(yt).unwrap();
    let mut want = vec![T::zero(); 10];
    let fg = r::fully_connected::FullyConnectedGeometry::new(1, xs.len(), 10);
    fc_f(
        &r::fully_connected::FullyConnectedF32Params::new(fg, FusedActivation::None),
        &x,
        &w,
        Some(&bias),
        &mut want,
    );
    check(&b, &[T::bytes(&x)], &[T::bytes(&want)]);
}

#[test]
fn conv_family_f32() {
    conv_family_float::<f32>(
        |p, x, w, b, y| r::conv::conv_f32(p, x, w, b, y).unwrap(),
        |p, x, w, b, y| r::depthwise::depthwise_conv_f32(p, x, w, b, y).unwrap(),
        |p, x, w, b, y| r::fully_connected::fully_connected_f32(p, x, w, b, y).unwrap(),
    );
}

#[test]
fn conv_family_f16() {
    conv_family_float::<f16>(
        |p, x, w, b, y| kh::conv::conv_f16(p, x, w, b, y, &mut []).unwrap(),
        |p, x, w, b, y| kh::depthwise::depthwise_conv_f16(p, x, w, b, y, &mut []).unwrap(),
        |p, x, w, b, y| kh::fully_connected::fully_connected_f16(p, x, w, b, y, &mut []).unwrap(),
    );
}

#[test]
fn fully_connected_s8_per_tensor_and_per_channel() {
    let mut rng = Rng::new(11);
    for per_channel in [false, true] {
        let (batch, inf, outf) = (2, 24, 7);
        let xs = Shape::new(batch, 1, 1, inf);
        let ws = Shape::new(outf, 1, 1, inf);
        let (x, w, bias) = (
            rng.i8s(xs.len()),
            rng.i8s(ws.len()),
            rng.i32s(outf, -500, 500),
        );
        let scales: Vec<f32> = if per_channel {
            (0..outf).map(|i| 0.01 + 0.001 * i as f32).collect()
        } else {
            vec![0.013]
        };
        let (xq, yq) = (Quant::new(0.04, 2), Quant::new(0.2, -10));
        let mut b = GraphBuilder::new();
        let xt = b.input("x", xs, DType::S8, xq).unwrap();
        let wt = if per_channel {
            b.constant_s8_per_channel("w", ws, &w, &scales).unwrap()
        } else {
            b.constant_s8("w", ws, &w, Quant::new(scales[0], 0))
                .unwrap()
        };
        let bt = b
            .constant_i32("b", Shape::new(1, 1, 1, outf), &bias)
            .unwrap();
        let yt = b
            .tensor("y", Shape::new(batch, 1, 1, outf), DType::S8, yq)
            .unwrap();
        b.add_fully_connected(xt, wt, Some(bt), yt, FusedActivation::Relu)
            .unwrap();
        b.output(yt).unwrap();
        let (mut m, mut s) = (vec![0; scales.len()], vec![0; scales.len()]);
        let g = r::fully_connected::FullyConnectedGeometry::new(batch, inf, outf);
        let p = s8::fully_connected::FullyConnectedS8Params::from_scales(
            g,
            xq.scale,
            xq.zero_point,
            &scales,
            yq.scale,
            yq.zero_point,
            FusedActivation::Relu,
            &mut m,
            &mut s,
        )
        .unwrap();
        let mut want = vec![0i8; batch * outf];
        s8::fully_connected::fully_connected_s8(&p, &x, &w, Some(&bias), &mut want, &mut [])
            .unwrap();
        check(&b, &[b8(&x)], &[b8(&want)]);
    }
}

#[test]
fn pools_and_mean_s8() {
    let mut rng = Rng::new(12);
    let xs = Shape::new(1, 7, 6, 5);
    let q = Quant::new(0.07, -4);
    let x = rng.i8s(xs.len());
    let o = PoolOptions {
        kernel: (3, 3),
        stride: (2, 2),
        padding: Padding::Same,
        activation: FusedActivation::Relu,
        count_include_pad: false,
    };
    let g = ConvGeometry::new(xs, 5, (3, 3), (2, 2), (1, 1), Padding::Same, 1).unwrap();
    for kind in [OpKind::MaxPool2d, OpKind::AvgPool2d] {
        for cip in [false, true] {
            let o = PoolOptions {
                count_include_pad: cip,
                ..o
            };
            let mut b = GraphBuilder::new();
            let xt = b.input("x", xs, DType::S8, q).unwrap();
            let yt = b.tensor("y", g.output, DType::S8, q).unwrap();
            if kind == OpKind::MaxPool2d {
                b.add_max_pool2d(xt, yt, o).unwrap();
            } else {
                b.add_avg_pool2d(xt, yt, o).unwrap();
            }
            b.output(yt).unwrap();
            let p = s8::pool::PoolS8Params::from_scales(
                g,
                q.scale,
                q.zero_point,
                q.scale,
                q.zero_point,
                FusedActivation::Relu,
            )
            .unwrap();
            let p = p.with_count_include_pad(cip && kind == OpKind::AvgPool2d);
            let mut want = vec![0i8; g.output.len()];
            if kind == OpKind::MaxPool2d {
                s8::pool::max_pool_s8(&p, &x, &mut want).unwrap();
            } else {
                s8::pool::avg_pool_s8(&p, &x, &mut want).unwrap();
            }
            check(&b, &[b8(&x)], &[b8(&want)]);
        }
    }
    // Mean with different input and output quantization.
    let yq = Quant::new(0.02, 3);
    let mut b = GraphBuilder::new();
    let xt = b.input("x", xs, DType::S8, q).unwrap();
    let yt = b
        .tensor("y", Shape::new(1, 1, 1, 5), DType::S8, yq)
        .unwrap();
    b.add_mean(xt, yt).unwrap();
    b.output(yt).unwrap();
    let p = s8::pool::MeanS8Params::from_scales(q.scale, q.zero_point, yq.scale, yq.zero_point)
        .unwrap();
    let mut want = vec![0i8; 5];
    s8::pool::mean_s8(&p, xs, &x, &mut want).unwrap();
    check(&b, &[b8(&x)], &[b8(&want)]);
}

fn pools_float<T: Fl>(
    maxp: impl Fn(&r::pool::PoolParams, &[T], &mut [T]),
    avgp: impl Fn(&r::pool::PoolParams, &[T], &mut [T]),
    meanf: impl Fn(Shape, &[T], &mut [T]),
) {
    let mut rng = Rng::new(13);
    let xs = Shape::new(2, 5, 6, 3);
    let x = T::from(&rng.f32s(xs.len(), -2.0, 2.0));
    let g = ConvGeometry::new(xs, 3, (2, 3), (2, 2), (1, 1), Padding::Same, 1).unwrap();
    for (k, cip) in [(0, false), (1, false), (1, true)] {
        let o = PoolOptions {
            kernel: (2, 3),
            stride: (2, 2),
            padding: Padding::Same,
            activation: FusedActivation::Relu6,
            count_include_pad: cip,
        };
        let mut b = GraphBuilder::new();
        let xt = b.input("x", xs, T::DT, Quant::NONE).unwrap();
        let yt = b.tensor("y", g.output, T::DT, Quant::NONE).unwrap();
        let p = r::pool::PoolParams::new(g, FusedActivation::Relu6)
            .unwrap()
            .with_count_include_pad(cip);
        let mut want = vec![T::zero(); g.output.len()];
        if k == 0 {
            b.add_max_pool2d(xt, yt, o).unwrap();
            maxp(&p, &x, &mut want);
        } else {
            b.add_avg_pool2d(xt, yt, o).unwrap();
            avgp(&p, &x, &mut want);
        }
        b.output(yt).unwrap();
        check(&b, &[T::bytes(&x)], &[T::bytes(&want)]);
    }
    let mut b = GraphBuilder::new();
    let xt = b.input("x", xs, T::DT, Quant::NONE).unwrap();
    let yt = b
        .tensor("y", Shape::new(2, 1, 1, 3), T::DT, Quant::NONE)
        .unwrap();
    b.add_mean(xt, yt).unwrap();
    b.output(yt).unwrap();
    let mut want = vec![T::zero(); 6];
    meanf(xs, &x, &mut want);
    check(&b, &[T::bytes(&x)], &[T::bytes(&want)]);
}

#[test]
fn pools_and_mean_f32() {
    pools_float::<f32>(
        |p, x, y| r::pool::max_pool_f32(p, x, y).unwrap(),
        |p, x, y| r::pool::avg_pool_f32(p, x, y).unwrap(),
        |s, x, y| r::pool::mean_f32(s, x, y).unwrap(),
    );
}

#[test]
fn pools_and_mean_f16() {
    pools_float::<f16>(
        |p, x, y| kh::pool::max_pool_f16(p, x, y).unwrap(),
        |p, x, y| kh::pool::avg_pool_f16(p, x, y).unwrap(),
        |s, x, y| kh::pool::mean_f16(s, x, y).unwrap(),
    );
}

/// `a (op) b` for the three operand forms: same shape, `[1,1,1,C]` second, `[1,1,1,C]` first.
fn binary_shapes() -> [(Shape, Shape); 3] {
    let full = Shape::new(1, 4, 3, 6);
    let vec = Shape::new(1, 1, 1, 6);
    [(full, full), (full, vec), (vec, full)]
}

#[test]
fn add_and_mul_s8_with_broadcast() {
    let mut rng = Rng::new(14);
    let (aq, bq, yq) = (
        Quant::new(0.05, -7),
        Quant::new(0.03, 11),
        Quant::new(0.08, 2),
    );
    for kind in [OpKind::Add, OpKind::Mul] {
        for (as_, bs) in binary_shapes() {
            let (a, bb) = (rng.i8s(as_.len()), rng.i8s(bs.len()));
            let ys = if as_.len() >= bs.len() { as_ } else { bs };
            let mut b = GraphBuilder::new();
            let at = b.input("a", as_, DType::S8, aq).unwrap();
            let bt = b.input("b", bs, DType::S8, bq).unwrap();
            let yt = b.tensor("y", ys, DType::S8, yq).unwrap();
            let mut want = vec![0i8; ys.len()];
            if kind == OpKind::Add {
                b.add_add(at, bt, yt, FusedActivation::Relu6).unwrap();
                let p = s8::elementwise::AddS8Params::from_scales(
                    aq.scale,
                    aq.zero_point,
                    bq.scale,
                    bq.zero_point,
                    yq.scale,
                    yq.zero_point,
                    FusedActivation::Relu6,
                )
                .unwrap();
                s8::elementwise::add_s8(&p, as_, &a, bs, &bb, &mut want).unwrap();
            } else {
                b.add_mul(at, bt, yt, FusedActivation::Relu6).unwrap();
                let p = s8::elementwise::MulS8Params::from_scales(
                    aq.scale,
                    aq.zero_point,
                    bq.scale,
                    bq.zero_point,
                    yq.scale,
                    yq.zero_point,
                    FusedActivation::Relu6,
                )
                .unwrap();
                s8::elementwise::mul_s8(&p, as_, &a, bs, &bb, &mut want).unwrap();
            }
            b.output(yt).unwrap();
            let v = check(&b, &[b8(&a), b8(&bb)], &[b8(&want)]);
            // Graph inputs die at the op: the full-size operand is overwritten.
            let slot = if as_ == ys { 0 } else { 1 };
            assert_eq!(
                v,
                [Variant::InPlace { input: slot }],
                "{kind:?} {as_:?} {bs:?}"
            );
        }
    }
}

fn binary_float<T: Fl>(
    add: impl Fn(Shape, &[T], Shape, &[T], &mut [T]),
    mul: impl Fn(Shape, &[T], Shape, &[T], &mut [T]),
) {
    let mut rng = Rng::new(15);
    for kind in [OpKind::Add, OpKind::Mul] {
        for (as_, bs) in binary_shapes() {
            let (a, bb) = (
                T::from(&rng.f32s(as_.len(), -3.0, 3.0)),
                T::from(&rng.f32s(bs.len(), -3.0, 3.0)),
            );
            let ys = if as_.len() >= bs.len() { as_ } else { bs };
            let mut b = GraphBuilder::new();
            let at = b.input("a", as_, T::DT, Quant::NONE).unwrap();
            let bt = b.input("b", bs, T::DT, Quant::NONE).unwrap();
            let yt = b.tensor("y", ys, T::DT, Quant::NONE).unwrap();
            let mut want = vec![T::zero(); ys.len()];
            if kind == OpKind::Add {
                b.add_add(at, bt, yt, FusedActivation::Relu6).unwrap();
                add(as_, &a, bs, &bb, &mut want);
            } else {
                b.add_mul(at, bt, yt, FusedActivation::Relu6).unwrap();
                mul(as_, &a, bs, &bb, &mut want);
            }
            b.output(yt).unwrap();
            check(&b, &[T::bytes(&a), T::bytes(&bb)], &[T::bytes(&want)]);
        }
    }
}

#[test]
fn add_and_mul_f32() {
    let p = r::elementwise::BinaryParams::new(FusedActivation::Relu6);
    binary_float::<f32>(
        |a_s, a, b_s, b, y| r::elementwise::add_f32(&p, a_s, a, b_s, b, y).unwrap(),
        |a_s, a, b_s, b, y| r::elementwise::mul_f32(&p, a_s, a, b_s, b, y).unwrap(),
    );
}

#[test]
fn add_and_mul_f16() {
    let p = r::elementwise::BinaryParams::new(FusedActivation::Relu6);
    binary_float::<f16>(
        |a_s, a, b_s, b, y| kh::elementwise::add_f16(&p, a_s, a, b_s, b, y).unwrap(),
        |a_s, a, b_s, b, y| kh::elementwise::mul_f16(&p, a_s, a, b_s, b, y).unwrap(),
    );
}

/// Concat, split, channel shuffle, pad, transpose and reshape for one element type, against
/// the movement kernels (which are dtype-generic).
fn movement_case<T: Fl>(x1: Vec<T>, x2: Vec<T>, q: Quant, pad_value: T, pad_real: f32) {
    let (s1, s2) = (Shape::new(1, 3, 4, 5), Shape::new(1, 3, 4, 3));
    let sc = Shape::new(1, 3, 4, 8);
    // Concat along channels, then split into 3 + 5, then shuffle the concatenation.
    let mut b = GraphBuilder::new();
    let a = b.input("a", s1, T::DT, q).unwrap();
    let c = b.input("c", s2, T::DT, q).unwrap();
    let cat = b.tensor("cat", sc, T::DT, q).unwrap();
    let p1 = b.tensor("p1", Shape::new(1, 3, 4, 3), T::DT, q).unwrap();
    let p2 = b.tensor("p2", Shape::new(1, 3, 4, 5), T::DT, q).unwrap();
    let sh = b.tensor("sh", sc, T::DT, q).unwrap();
    b.add_concat(&[a, c], cat, 3).unwrap();
    b.add_split(cat, &[p1, p2], 3).unwrap();
    b.add_channel_shuffle(cat, sh, 4).unwrap();
    for t in [p1, p2, sh] {
        b.output(t).unwrap();
    }
    let mut want_cat = vec![T::zero(); sc.len()];
    mv::concat::concat(mv::Axis::C, &[(&x1[..], s1), (&x2[..], s2)], &mut want_cat).unwrap();
    let (mut w1, mut w2) = (vec![T::zero(); 36], vec![T::zero(); 60]);
    mv::split::split_sizes(
        mv::Axis::C,
        &want_cat,
        sc,
        &[3, 5],
        &mut [&mut w1[..], &mut w2[..]],
    )
    .unwrap();
    let mut wsh = vec![T::zero(); sc.len()];
    mv::shuffle::channel_shuffle(4, &want_cat, sc, &mut wsh).unwrap();
    check(
        &b,
        &[T::bytes(&x1), T::bytes(&x2)],
        &[T::bytes(&w1), T::bytes(&w2), T::bytes(&wsh)],
    );

    // Pad, transpose and a reshape view between them.
    let before = [0, 1, 0, 2];
    let after = [0, 2, 1, 0];
    let ps = Shape::new(1, 6, 5, 7);
    let mut b = GraphBuilder::new();
    let a = b.input("a", s1, T::DT, q).unwrap();
    let pd = b.tensor("pad", ps, T::DT, q).unwrap();
    let rs = b.tensor("view", Shape::new(1, 30, 7, 1), T::DT, q).unwrap();
    let tr = b.tensor("tr", Shape::new(1, 7, 30, 1), T::DT, q).unwrap();
    b.add_pad(a, pd, before, after, pad_real).unwrap();
    b.add_reshape(pd, rs).unwrap();
    b.add_transpose(rs, tr, [0, 2, 1, 3]).unwrap();
    b.output(tr).unwrap();
    let mut wp = vec![T::zero(); ps.len()];
    mv::pad::pad(
        &x1,
        s1,
        &mv::pad::PadAmounts { before, after },
        pad_value,
        &mut wp,
    )
    .unwrap();
    let mut wt = vec![T::zero(); ps.len()];
    mv::transpose::transpose(&wp, Shape::new(1, 30, 7, 1), [0, 2, 1, 3], &mut wt).unwrap();
    check(&b, &[T::bytes(&x1)], &[T::bytes(&wt)]);
}

impl Fl for i8 {
    const DT: DType = DType::S8;
    fn from(v: &[f32]) -> Vec<i8> {
        v.iter().map(|&x| x as i8).collect()
    }
    fn bytes(v: &[i8]) -> Vec<u8> {
        b8(v)
    }
    fn zero() -> i8 {
        0
    }
}

#[test]
fn movement_s8() {
    let mut rng = Rng::new(16);
    // int8 pads with the quantized value of the real fill: 0.0 -> the zero point.
    movement_case::<i8>(rng.i8s(60), rng.i8s(36), Quant::new(0.1, -5), -5, 0.0);
}

#[test]
fn movement_f32() {
    let mut rng = Rng::new(17);
    movement_case::<f32>(
        rng.f32s(60, -1.0, 1.0),
        rng.f32s(36, -1.0, 1.0),
        Quant::NONE,
        0.5,
        0.5,
    );
}

#[test]
fn movement_f16() {
    let mut rng = Rng::new(18);
    movement_case::<f16>(
        h(&rng.f32s(60, -1.0, 1.0)),
        h(&rng.f32s(36, -1.0, 1.0)),
        Quant::NONE,
        f16::from_f32(-0.25),
        -0.25,
    );
}

/// One unary op in int8 through the graph, against the kernel called with parameters from
/// its own `from_scales`.
fn unary_s8(kind: OpKind, xq: Quant, yq: Quant, want: impl Fn(&[i8], &mut [i8])) {
    let xs = Shape::new(1, 4, 4, 16);
    // Every int8 value appears once.
    let x: Vec<i8> = (0..256).map(|v| (v as u8) as i8).collect();
    let mut b = GraphBuilder::new();
    let xt = b.input("x", xs, DType::S8, xq).unwrap();
    let yt = b.tensor("y", xs, DType::S8, yq).unwrap();
    if kind == OpKind::Softmax {
        b.add_softmax(xt, yt, 1.0).unwrap();
    } else {
        b.add_unary(kind, xt, yt).unwrap();
    }
    b.output(yt).unwrap();
    let mut w = vec![0i8; 256];
    want(&x, &mut w);
    let v = check(&b, &[b8(&x)], &[b8(&w)]);
    assert_eq!(v, [Variant::InPlace { input: 0 }], "{kind:?}");
}

#[test]
fn activations_s8() {
    use s8::activation as a;
    let (xq, yq) = (Quant::new(0.05, 3), Quant::new(0.04, -6));
    unary_s8(OpKind::Relu, xq, yq, |x, y| {
        a::relu_s8(
            &a::ReluS8Params::from_scales(0.05, 3, 0.04, -6).unwrap(),
            x,
            y,
        )
        .unwrap()
    });
    unary_s8(OpKind::ReluN1To1, xq, yq, |x, y| {
        let p = a::ReluS8Params::n1_to_1_from_scales(0.05, 3, 0.04, -6).unwrap();
        a::relu_n1_to_1_s8(&p, x, y).unwrap()
    });
    unary_s8(OpKind::Relu6, xq, xq, |x, y| {
        a::relu6_s8(&a::Relu6S8Params::from_scales(0.05, 3).unwrap(), x, y).unwrap()
    });
    unary_s8(OpKind::HardSwish, xq, yq, |x, y| {
        let p = a::HardSwishS8Params::from_scales(0.05, 3, 0.04, -6).unwrap();
        a::hard_swish_s8(&p, x, y).unwrap()
    });
    let sig = Quant::new(1.0 / 256.0, -128);
    unary_s8(OpKind::Logistic, xq, sig, |x, y| {
        let p = a::LogisticS8Params::from_scales(0.05, 3, 1.0 / 256.0, -128).unwrap();
        a::logistic_s8(&p, x, y).unwrap()
    });
    unary_s8(OpKind::Softmax, xq, sig, |x, y| {
        let p = s8::softmax::SoftmaxS8Params::from_scales(0.05, 1.0, 1.0 / 256.0, -128).unwrap();
        s8::softmax::softmax_s8(&p, 16, x, y).unwrap()
    });
    unary_s8(OpKind::HardSigmoid, xq, yq, |x, y| {
        let p = a::HardSigmoidS8Params::from_scales(0.05, 3, 0.04, -6).unwrap();
        a::hard_sigmoid_s8(&p, x, y).unwrap()
    });
    unary_s8(OpKind::Swish, xq, yq, |x, y| {
        let p = a::SwishS8Params::from_scales(0.05, 3, 0.04, -6).unwrap();
        a::swish_s8(&p, x, y).unwrap()
    });
    unary_s8(OpKind::Requantize, xq, yq, |x, y| {
        let p = s8::quantize::RequantizeS8Params::from_scales(0.05, 3, 0.04, -6).unwrap();
        s8::quantize::requantize_s8(&p, x, y).unwrap()
    });
}

#[test]
fn lut_s8_op() {
    let mut table = [0i8; 256];
    for (i, t) in table.iter_mut().enumerate() {
        *t = (i as u8).wrapping_mul(7).wrapping_add(3) as i8;
    }
    let xs = Shape::new(1, 2, 8, 16);
    let x = Rng::new(19).i8s(xs.len());
    let want: Vec<i8> = x.iter().map(|&v| table[v as u8 as usize]).collect();
    let mut b = GraphBuilder::new();
    let xt = b.input("x", xs, DType::S8, Quant::new(0.1, 0)).unwrap();
    let yt = b.tensor("y", xs, DType::S8, Quant::new(0.1, 0)).unwrap();
    b.add_lut(xt, yt, &table).unwrap();
    b.output(yt).unwrap();
    check(&b, &[b8(&x)], &[b8(&want)]);
}

#[test]
fn quantize_and_dequantize() {
    let xs = Shape::new(1, 3, 5, 7);
    let x = Rng::new(20).f32s(xs.len(), -4.0, 4.0);
    let q = Quant::new(0.03, -9);
    let mut b = GraphBuilder::new();
    let xt = b.input("x", xs, DType::F32, Quant::NONE).unwrap();
    let qt = b.tensor("q", xs, DType::S8, q).unwrap();
    let dt = b.tensor("d", xs, DType::F32, Quant::NONE).unwrap();
    b.add_quantize(xt, qt).unwrap();
    b.add_dequantize(qt, dt).unwrap();
    b.output(qt).unwrap();
    b.output(dt).unwrap();
    let p = s8::quantize::QuantizeS8Params::from_scales(0.03, -9).unwrap();
    let mut wq = vec![0i8; xs.len()];
    s8::quantize::quantize_s8(&p, &x, &mut wq).unwrap();
    let mut wd = vec![0f32; xs.len()];
    s8::quantize::dequantize_s8(&p, &wq, &mut wd).unwrap();
    check(&b, &[b32(&x)], &[b8(&wq), b32(&wd)]);
    // f16 has no quantize kernel: the builder says so instead of producing a model.
    let mut b = GraphBuilder::new();
    let xt = b.input("x", xs, DType::F16, Quant::NONE).unwrap();
    let qt = b.tensor("q", xs, DType::S8, q).unwrap();
    let e = b.add_quantize(xt, qt).unwrap_err();
    assert!(e.to_string().contains("f32"), "{e}");
}

/// A unary kernel called directly.
type UnaryFn<T> = fn(&[T], &mut [T]);

fn activations_float<T: Fl>(ops: &[(OpKind, UnaryFn<T>)]) {
    let xs = Shape::new(1, 3, 4, 10);
    let x = T::from(&Rng::new(21).f32s(xs.len(), -8.0, 8.0));
    for &(kind, f) in ops {
        let mut b = GraphBuilder::new();
        let xt = b.input("x", xs, T::DT, Quant::NONE).unwrap();
        let yt = b.tensor("y", xs, T::DT, Quant::NONE).unwrap();
        if kind == OpKind::Softmax {
            b.add_softmax(xt, yt, 1.0).unwrap();
        } else {
            b.add_unary(kind, xt, yt).unwrap();
        }
        b.output(yt).unwrap();
        let mut want = vec![T::zero(); xs.len()];
        f(&x, &mut want);
        let v = check(&b, &[T::bytes(&x)], &[T::bytes(&want)]);
        assert_eq!(v, [Variant::InPlace { input: 0 }]);
    }
}

#[test]
fn activations_f32() {
    use r::activation::*;
    activations_float::<f32>(&[
        (OpKind::Relu, |x, y| relu_f32(x, y).unwrap()),
        (OpKind::Relu6, |x, y| relu6_f32(x, y).unwrap()),
        (OpKind::ReluN1To1, |x, y| relu_n1_to_1_f32(x, y).unwrap()),
        (OpKind::HardSigmoid, |x, y| hard_sigmoid_f32(x, y).unwrap()),
        (OpKind::HardSwish, |x, y| hard_swish_f32(x, y).unwrap()),
        (OpKind::Logistic, |x, y| logistic_f32(x, y).unwrap()),
        (OpKind::Swish, |x, y| swish_f32(x, y).unwrap()),
        (OpKind::Softmax, |x, y| {
            r::softmax::softmax_f32(1.0, 10, x, y).unwrap()
        }),
    ]);
}

#[test]
fn activations_f16() {
    use kh::activation::*;
    activations_float::<f16>(&[
        (OpKind::Relu, |x, y| relu_f16(x, y).unwrap()),
        (OpKind::Relu6, |x, y| relu6_f16(x, y).unwrap()),
        (OpKind::ReluN1To1, |x, y| relu_n1_to_1_f16(x, y).unwrap()),
        (OpKind::HardSigmoid, |x, y| hard_sigmoid_f16(x, y).unwrap()),
        (OpKind::HardSwish, |x, y| hard_swish_f16(x, y).unwrap()),
        (OpKind::Logistic, |x, y| logistic_f16(x, y).unwrap()),
        (OpKind::Swish, |x, y| swish_f16(x, y).unwrap()),
        (OpKind::Softmax, |x, y| {
            kh::softmax::softmax_f16(1.0, 10, x, y).unwrap()
        }),
    ]);
}
