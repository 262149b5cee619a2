//! The ops added for trained third-party models (SUB, PRELU, RESIZE_BILINEAR,
//! RESIZE_NEAREST_NEIGHBOR) through the builder, the planner and the executor: the graph's bytes
//! are the kernels' called directly, SUB is planned in place over its minuend only, and the
//! builder refuses what the kernels do not run.

mod common;

use bfmd_graph::builder::{BuildOptions, GraphBuilder, Quant};
use bfmd_graph::{exec, Arena, DType, OpKind, Variant};
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::reference::resize::ResizeParams;
use bfmd_kernels::s8::elementwise::{sub_s8, AddS8Params};
use bfmd_kernels::Shape;
use common::*;

#[test]
fn int8_sub_runs_in_place_over_its_minuend() {
    let mut rng = Rng::new(7);
    let s = Shape::new(1, 4, 4, 8);
    let (qa, qb, qy) = (
        Quant::new(0.05, -3),
        Quant::new(0.1, 4),
        Quant::new(0.08, 2),
    );
    let mut b = GraphBuilder::new();
    let x = b.input("x", s, DType::S8, qa).unwrap();
    let bias = b.input("b", Shape::new(1, 1, 1, 8), DType::S8, qb).unwrap();
    let relu = b.unary("relu", OpKind::Relu, x, qa).unwrap();
    let y = b.tensor("y", s, DType::S8, qy).unwrap();
    b.add_sub(relu, bias, y, FusedActivation::None).unwrap();
    b.output(y).unwrap();
    let built = b.finish(BuildOptions::default()).unwrap();
    let m = built.blob.model().unwrap();
    let sub = m.ops().find(|o| o.kind == OpKind::Sub).unwrap();
    assert_eq!(sub.variant, Variant::InPlace { input: 0 });

    let (xa, xb) = (rng.i8s(s.len()), rng.i8s(8));
    let mut arena = Arena::<1024>::new();
    m.input_mut_as::<i8>(arena.as_mut_slice(), 0)
        .unwrap()
        .copy_from_slice(&xa);
    m.input_mut_as::<i8>(arena.as_mut_slice(), 1)
        .unwrap()
        .copy_from_slice(&xb);
    exec::run(&m, arena.as_mut_slice(), None).unwrap();
    // By hand: ReLU in the input's quantization (max with the zero point), then SUB.
    let relu: Vec<i8> = xa.iter().map(|&v| v.max(-3)).collect();
    let p = AddS8Params::from_scales(0.05, -3, 0.1, 4, 0.08, 2, FusedActivation::None).unwrap();
    let mut want = vec![0i8; s.len()];
    sub_s8(&p, s, &relu, Shape::new(1, 1, 1, 8), &xb, &mut want).unwrap();
    assert_eq!(m.output_as::<i8>(arena.as_slice(), 0).unwrap(), want);
}

#[test]
fn sub_never_overwrites_its_subtrahend() {
    // The full-size operand is the subtrahend: the output cannot go over it.
    let s = Shape::new(1, 2, 2, 4);
    let mut b = GraphBuilder::new();
    let x = b.input("x", s, DType::F32, Quant::NONE).unwrap();
    let a = b
        .constant_f32("a", Shape::new(1, 1, 1, 4), &[1.0, 2.0, 3.0, 4.0])
        .unwrap();
    let r = b.unary("r", OpKind::Relu, x, Quant::NONE).unwrap();
    let y = b.tensor("y", s, DType::F32, Quant::NONE).unwrap();
    b.add_sub(a, r, y, FusedActivation::None).unwrap();
    b.output(y).unwrap();
    let built = b.finish(BuildOptions::default()).unwrap();
    let m = built.blob.model().unwrap();
    let sub = m.ops().find(|o| o.kind == OpKind::Sub).unwrap();
    assert_eq!(sub.variant, Variant::Normal);
    let mut arena = Arena::<1024>::new();
    let input: Vec<f32> = (0..16).map(|v| v as f32 - 8.0).collect();
    m.input_mut_as::<f32>(arena.as_mut_slice(), 0)
        .unwrap()
        .copy_from_slice(&input);
    exec::run(&m, arena.as_mut_slice(), None).unwrap();
    let out = m.output_as::<f32>(arena.as_slice(), 0).unwrap();
    for (i, o) in out.iter().enumerate() {
        assert_eq!(*o, (i % 4 + 1) as f32 - input[i].max(0.0), "{i}");
    }
}

#[test]
fn prelu_and_resizes_run_as_the_kernels_do() {
    let mut b = GraphBuilder::new();
    let x = b
        .input("x", Shape::new(1, 2, 3, 2), DType::F32, Quant::NONE)
        .unwrap();
    let alpha = b
        .constant_f32("alpha", Shape::new(1, 1, 1, 2), &[0.5, 0.25])
        .unwrap();
    let p = b
        .tensor("p", Shape::new(1, 2, 3, 2), DType::F32, Quant::NONE)
        .unwrap();
    b.add_prelu(x, alpha, p).unwrap();
    let up = b
        .tensor("up", Shape::new(1, 4, 6, 2), DType::F32, Quant::NONE)
        .unwrap();
    b.add_resize(p, up, true, false, true).unwrap();
    let nn = b
        .tensor("nn", Shape::new(1, 3, 2, 2), DType::F32, Quant::NONE)
        .unwrap();
    b.add_resize(up, nn, false, true, false).unwrap();
    b.output(nn).unwrap();
    let built = b.finish(BuildOptions::default()).unwrap();
    let m = built.blob.model().unwrap();
    let input: Vec<f32> = (0..12).map(|v| v as f32 - 6.0).collect();
    let mut arena = Arena::<4096>::new();
    m.input_mut_as::<f32>(arena.as_mut_slice(), 0)
        .unwrap()
        .copy_from_slice(&input);
    exec::run(&m, arena.as_mut_slice(), None).unwrap();

    use bfmd_kernels::reference::{prelu::prelu_f32, resize};
    let mut pw = [0f32; 12];
    prelu_f32(
        Shape::new(1, 2, 3, 2),
        &input,
        Shape::new(1, 1, 1, 2),
        &[0.5, 0.25],
        &mut pw,
    )
    .unwrap();
    let half = ResizeParams {
        align_corners: false,
        half_pixel_centers: true,
    };
    let mut uw = [0f32; 48];
    resize::resize_bilinear_f32(
        &half,
        Shape::new(1, 2, 3, 2),
        &pw,
        Shape::new(1, 4, 6, 2),
        &mut uw,
    )
    .unwrap();
    let align = ResizeParams {
        align_corners: true,
        half_pixel_centers: false,
    };
    let mut nw = [0f32; 12];
    resize::resize_nearest(
        &align,
        Shape::new(1, 4, 6, 2),
        &uw,
        Shape::new(1, 3, 2, 2),
        &mut nw,
    )
    .unwrap();
    assert_eq!(m.output_as::<f32>(arena.as_slice(), 0).unwrap(), nw);
}

#[test]
fn the_builder_refuses_what_the_kernels_do_not_run() {
    let mut b = GraphBuilder::new();
    let q = Quant::new(0.1, 0);
    let x = b.input("x", Shape::new(1, 2, 2, 1), DType::S8, q).unwrap();
    let y = b.tensor("y", Shape::new(1, 4, 4, 1), DType::S8, q).unwrap();
    let e = b.add_resize(x, y, true, false, false).unwrap_err();
    assert!(
        e.to_string().contains("bilinear resize runs in f32 only"),
        "{e}"
    );
    let e = b.add_resize(x, y, false, true, true).unwrap_err();
    assert!(e.to_string().contains("cannot both be set"), "{e}");
    b.add_resize(x, y, false, false, true).unwrap();
    let alpha = b.constant_s8("a", Shape::new(1, 1, 1, 1), &[1], q).unwrap();
    let z = b.tensor("z", Shape::new(1, 2, 2, 1), DType::S8, q).unwrap();
    let e = b.add_prelu(x, alpha, z).unwrap_err();
    assert!(e.to_string().contains("PReLU runs in f32 only"), "{e}");
}
