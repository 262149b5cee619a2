//! The plan reserves the scratch of the kernels it is built for (`BuildOptions::path`): a
//! Cortex-M7 firmware's DSP loops copy depthwise bands, gather convolution windows and widen
//! fully connected inputs in the arena, where the portable loops need nothing.

mod common;

use bfmd_graph::builder::{BuildOptions, Built, ConvOptions, GraphBuilder, Quant};
use bfmd_graph::{DType, KernelPath, OpKind};
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::reference::fully_connected::FullyConnectedGeometry;
use bfmd_kernels::s8::{conv, depthwise, fully_connected};
use bfmd_kernels::{ConvGeometry, Padding, Shape};
use common::*;

const W: usize = 481;

/// `x (1x6x481x8) -> depthwise 3x3 SAME -> conv 3x3 stride 2 to 4 channels -> fully connected
/// to 10`, int8.
fn graph(rng: &mut Rng) -> GraphBuilder {
    let mut b = GraphBuilder::new();
    let q = Quant::new(0.02, -3);
    let x = b.input("x", Shape::new(1, 6, W, 8), DType::S8, q).unwrap();
    let dw = b
        .constant_s8_per_channel("dw", Shape::new(1, 3, 3, 8), &rng.i8s(72), &[0.01; 8])
        .unwrap();
    let y = b.tensor("y", Shape::new(1, 6, W, 8), DType::S8, q).unwrap();
    let same = ConvOptions {
        padding: Padding::Same,
        ..ConvOptions::default()
    };
    b.add_depthwise_conv2d(x, dw, None, y, same).unwrap();
    let cw = b
        .constant_s8_per_channel("cw", Shape::new(4, 3, 3, 8), &rng.i8s(288), &[0.01; 4])
        .unwrap();
    let z = b
        .tensor("z", Shape::new(1, 3, 241, 4), DType::S8, q)
        .unwrap();
    let s2 = ConvOptions {
        stride: (2, 2),
        ..same
    };
    b.add_conv2d(y, cw, None, z, s2).unwrap();
    let fw = b
        .constant_s8_per_channel(
            "fw",
            Shape::new(10, 1, 1, 2892),
            &rng.i8s(28_920),
            &[0.01; 10],
        )
        .unwrap();
    let o = b
        .tensor("o", Shape::new(1, 1, 1, 10), DType::S8, q)
        .unwrap();
    b.add_fully_connected(z, fw, None, o, FusedActivation::None)
        .unwrap();
    b.output(o).unwrap();
    b
}

fn build(path: KernelPath) -> Built {
    let options = BuildOptions {
        in_place: false,
        path,
        ..BuildOptions::default()
    };
    graph(&mut Rng::new(7)).finish(options).unwrap()
}

/// The scratch bytes the plan gave the op of `kind`.
fn scratch_of(b: &Built, kind: OpKind) -> usize {
    let op = b.report.ops.iter().find(|o| o.kind == kind).unwrap();
    op.scratch.len
}

#[test]
fn plans_reserve_the_paths_scratch() {
    let dw = ConvGeometry::new(
        Shape::new(1, 6, W, 8),
        8,
        (3, 3),
        (1, 1),
        (1, 1),
        Padding::Same,
        1,
    )
    .unwrap();
    let cv = ConvGeometry::new(dw.output, 4, (3, 3), (2, 2), (1, 1), Padding::Same, 1).unwrap();
    let fc = FullyConnectedGeometry::new(1, 2892, 10);
    let dsp = build(KernelPath::Dsp);
    let portable = build(KernelPath::Portable);
    // The DSP loops' needs, sized by the geometry (rows of 481 pixels fit the depthwise
    // band), are what the plan reserves; the portable loops need none.
    let want_dw = depthwise::depthwise_conv_s8_scratch_len_dsp(&dw);
    assert!(want_dw >= 6 * (W + 2) * 8, "{want_dw}");
    assert_eq!(scratch_of(&dsp, OpKind::DepthwiseConv2d), want_dw);
    assert_eq!(scratch_of(&portable, OpKind::DepthwiseConv2d), 0);
    let want_conv = conv::conv_s8_scratch_len_dsp(&cv);
    assert!(want_conv > 0);
    assert_eq!(scratch_of(&dsp, OpKind::Conv2d), want_conv);
    assert_eq!(scratch_of(&portable, OpKind::Conv2d), 0);
    // A row of 2,892 inputs is widened in chunks of 1,024 with 64 accumulators.
    let want_fc = fully_connected::fully_connected_s8_scratch_len_dsp(&fc);
    assert_eq!(want_fc, 2 * 1024 + 4 * 64 + 7);
    assert_eq!(scratch_of(&dsp, OpKind::FullyConnected), want_fc);
    assert_eq!(scratch_of(&portable, OpKind::FullyConnected), 0);
    assert!(dsp.report.arena_bytes >= portable.report.arena_bytes + want_dw);
    // Helium cores run the DSP convolution loops and the portable fully connected one.
    let mve = build(KernelPath::Mve);
    assert_eq!(scratch_of(&mve, OpKind::DepthwiseConv2d), want_dw);
    assert_eq!(scratch_of(&mve, OpKind::FullyConnected), 0);
    // The default plans for this build's kernels.
    assert_eq!(BuildOptions::default().path, KernelPath::HOST);
    let host = build(KernelPath::HOST);
    let want_host = depthwise::depthwise_conv_s8_scratch_len(&dw);
    assert_eq!(scratch_of(&host, OpKind::DepthwiseConv2d), want_host);
}
