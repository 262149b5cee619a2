//! The builder's two faces produce the same model, a rejected op leaves nothing behind, the
//! profiler hook sees every op, and the plan report adds up.

mod common;

use bfmd_graph::builder::{BuildOptions, ConvOptions, GraphBuilder, PoolOptions, Quant};
use bfmd_graph::exec::{run, Profiler};
use bfmd_graph::{Arena, DType, OpKind};
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::{Padding, Shape};
use common::*;

const Q: Quant = Quant::new(0.05, -1);

/// A tiny int8 classifier through the auto-output face.
fn auto_model(rng: &mut Rng) -> GraphBuilder {
    let mut b = GraphBuilder::new();
    let x = b.input("x", Shape::new(1, 8, 8, 3), DType::S8, Q).unwrap();
    let w = b
        .constant_s8_per_channel("stem/w", Shape::new(8, 3, 3, 3), &rng.i8s(216), &[0.01; 8])
        .unwrap();
    let o = ConvOptions {
        stride: (2, 2),
        activation: FusedActivation::Relu6,
        ..Default::default()
    };
    let s = b.conv2d("stem", x, w, None, o, Q).unwrap();
    let w = b
        .constant_s8_per_channel("dw/w", Shape::new(1, 3, 3, 8), &rng.i8s(72), &[0.02; 8])
        .unwrap();
    let d = b
        .depthwise_conv2d("dw", s, w, None, ConvOptions::default(), Q)
        .unwrap();
    let h = b.unary("hswish", OpKind::HardSwish, d, Q).unwrap();
    let p = b
        .avg_pool2d(
            "pool",
            h,
            PoolOptions {
                padding: Padding::Same,
                ..PoolOptions::square(2, 2)
            },
        )
        .unwrap();
    let m = b.mean("gap", p, Q).unwrap();
    let w = b
        .constant_s8(
            "fc/w",
            Shape::new(5, 1, 1, 8),
            &rng.i8s(40),
            Quant::new(0.01, 0),
        )
        .unwrap();
    let l = b
        .fully_connected("fc", m, w, None, FusedActivation::None, Quant::new(0.1, 0))
        .unwrap();
    let y = b
        .softmax("prob", l, 1.0, Quant::new(1.0 / 256.0, -128))
        .unwrap();
    b.output(y).unwrap();
    b
}

/// The same classifier with every output declared first (the importer's face).
fn declared_model(rng: &mut Rng) -> GraphBuilder {
    let mut b = GraphBuilder::new();
    let x = b.input("x", Shape::new(1, 8, 8, 3), DType::S8, Q).unwrap();
    let w = b
        .constant_s8_per_channel("stem/w", Shape::new(8, 3, 3, 3), &rng.i8s(216), &[0.01; 8])
        .unwrap();
    let s = b
        .tensor("stem", Shape::new(1, 4, 4, 8), DType::S8, Q)
        .unwrap();
    let o = ConvOptions {
        stride: (2, 2),
        activation: FusedActivation::Relu6,
        ..Default::default()
    };
    b.add_conv2d(x, w, None, s, o).unwrap();
    let w = b
        .constant_s8_per_channel("dw/w", Shape::new(1, 3, 3, 8), &rng.i8s(72), &[0.02; 8])
        .unwrap();
    let d = b
        .tensor("dw", Shape::new(1, 4, 4, 8), DType::S8, Q)
        .unwrap();
    b.add_depthwise_conv2d(s, w, None, d, ConvOptions::default())
        .unwrap();
    let h = b
        .tensor("hswish", Shape::new(1, 4, 4, 8), DType::S8, Q)
        .unwrap();
    b.add_unary(OpKind::HardSwish, d, h).unwrap();
    let p = b
        .tensor("pool", Shape::new(1, 2, 2, 8), DType::S8, Q)
        .unwrap();
    b.add_avg_pool2d(
        h,
        p,
        PoolOptions {
            padding: Padding::Same,
            ..PoolOptions::square(2, 2)
        },
    )
    .unwrap();
    let m = b
        .tensor("gap", Shape::new(1, 1, 1, 8), DType::S8, Q)
        .unwrap();
    b.add_mean(p, m).unwrap();
    let w = b
        .constant_s8(
            "fc/w",
            Shape::new(5, 1, 1, 8),
            &rng.i8s(40),
            Quant::new(0.01, 0),
        )
        .unwrap();
    let l = b
        .tensor("fc", Shape::new(1, 1, 1, 5), DType::S8, Quant::new(0.1, 0))
        .unwrap();
    b.add_fully_connected(m, w, None, l, FusedActivation::None)
        .unwrap();
    let y = b
        .tensor(
            "prob",
            Shape::new(1, 1, 1, 5),
            DType::S8,
            Quant::new(1.0 / 256.0, -128),
        )
        .unwrap();
    b.add_softmax(l, y, 1.0).unwrap();
    b.output(y).unwrap();
    b
}

#[test]
fn both_builder_faces_make_the_same_blob() {
    let a = auto_model(&mut Rng::new(1))
        .finish(BuildOptions::default())
        .unwrap();
    let d = declared_model(&mut Rng::new(1))
        .finish(BuildOptions::default())
        .unwrap();
    assert_eq!(a.blob.as_bytes(), d.blob.as_bytes());
    assert_eq!(a.report, d.report);
}

#[test]
fn a_rejected_op_leaves_no_tensor_behind() {
    let mut b = auto_model(&mut Rng::new(2));
    let x = b.input("x2", Shape::new(1, 4, 4, 8), DType::S8, Q).unwrap();
    // An input no op reads yet is allowed.
    b.finish(BuildOptions::default()).unwrap();
    // A convolution whose filter has the wrong channel count is rejected...
    let w = b
        .constant_s8_per_channel("bad/w", Shape::new(4, 1, 1, 5), &[0; 20], &[0.1; 4])
        .unwrap();
    let e = b
        .conv2d("bad", x, w, None, ConvOptions::default(), Q)
        .unwrap_err();
    assert_eq!(e.op.map(|o| o.1), Some(OpKind::Conv2d));
    assert!(e.to_string().contains("bad/w"), "{e}");
    // ...and its output does not linger as a never-written activation.
    let y = b.unary("ok", OpKind::Relu, x, Q).unwrap();
    b.output(y).unwrap();
    b.finish(BuildOptions::default()).unwrap();
}

struct Counter {
    t: u64,
    seen: Vec<(usize, &'static str, u64)>,
}

impl Profiler for Counter {
    fn now(&mut self) -> u64 {
        self.t += 10;
        self.t
    }
    fn record(&mut self, op_index: usize, op_name: &'static str, elapsed: u64) {
        self.seen.push((op_index, op_name, elapsed));
    }
}

#[test]
fn profiler_sees_every_op_and_the_report_adds_up() {
    let built = auto_model(&mut Rng::new(3))
        .finish(BuildOptions::default())
        .unwrap();
    let m = built.blob.model().unwrap();
    let mut arena: Box<Arena<4096>> = Box::default();
    assert!(m.arena_bytes() <= 4096);
    m.input_mut_as::<i8>(arena.as_mut_slice(), 0)
        .unwrap()
        .fill(7);
    let mut p = Counter {
        t: 0,
        seen: Vec::new(),
    };
    run(&m, arena.as_mut_slice(), Some(&mut p)).unwrap();
    let names: Vec<&str> = p.seen.iter().map(|s| s.1).collect();
    assert_eq!(
        names,
        [
            "Conv2d",
            "DepthwiseConv2d",
            "HardSwish",
            "AvgPool2d",
            "Mean",
            "FullyConnected",
            "Softmax"
        ]
    );
    assert!(p
        .seen
        .iter()
        .enumerate()
        .all(|(i, s)| s.0 == i && s.2 == 10));
    // A softmax output sums to about 1 (256 in its 1/256 scale, minus rounding).
    let out = m.output_as::<i8>(arena.as_slice(), 0).unwrap();
    let total: i32 = out.iter().map(|&v| v as i32 + 128).sum();
    assert!((250..=262).contains(&total), "{out:?}");

    let r = &built.report;
    // MACs: stem 4*4*8 outputs x 27 taps, depthwise 128 x 9, FC 8 x 5, elementwise counts.
    let conv_macs = 4 * 4 * 8 * 27 + 4 * 4 * 8 * 9 + 8 * 5;
    assert_eq!(
        r.ops
            .iter()
            .filter(|o| matches!(
                o.kind,
                OpKind::Conv2d | OpKind::DepthwiseConv2d | OpKind::FullyConnected
            ))
            .map(|o| o.macs)
            .sum::<u64>(),
        conv_macs
    );
    assert_eq!(r.macs, r.ops.iter().map(|o| o.macs).sum::<u64>());
    assert_eq!(r.op_count, 7);
    assert_eq!(r.arena_bytes, m.arena_bytes());
    assert_eq!(
        r.ram_bytes,
        m.arena_bytes() + bfmd_graph::exec::EXEC_STATE_BYTES
    );
    assert_eq!(r.blob_bytes, built.blob.as_bytes().len());
    assert!(r.weights_bytes >= 216 + 72 + 40);
    assert!(r.to_string().contains("TFLM-style greedy"));
}
