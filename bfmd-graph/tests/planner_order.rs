//! The planner's placement order: largest first (TFLM) can strand a graph input above a large
//! overlapping group that fits beside it; placing in first-use order finds the smaller arena,
//! and the planner keeps whichever order gives less.

mod common;

use bfmd_graph::builder::{BuildOptions, ConvOptions, GraphBuilder, Quant};
use bfmd_graph::ops::Variant;
use bfmd_graph::plan::{plan, Alias, OpSlot, PlanOp, PlanTensor, TensorSlot, Work};
use bfmd_graph::DType;
use bfmd_kernels::{Padding, Shape};
use common::Rng;

/// `x` (graph input, 384 B) -> op 0 -> `a` (256 B) -> op 1 -> `b` (graph output, 512 B), op 1
/// able to write `b` starting 252 bytes below `a` (a 1x1 convolution from 4 to 8 channels over
/// 64 pixels: `(64 - 1) * (8 - 4)`).
#[test]
fn first_use_order_keeps_the_graph_input_below_an_overlapping_group() {
    let t = |bytes, graph_input, graph_output| PlanTensor {
        bytes,
        activation: true,
        graph_input,
        graph_output,
    };
    let tensors = [
        t(384, true, false),
        t(256, false, false),
        t(512, false, true),
    ];
    let ops = [
        PlanOp {
            inputs: &[0],
            outputs: &[1],
            scratch: 0,
            alias: Alias::None,
        },
        PlanOp {
            inputs: &[1],
            outputs: &[2],
            scratch: 0,
            alias: Alias::Overlap {
                shift: 252,
                scratch: 4,
            },
        },
    ];
    let mut ts = [TensorSlot::default(); 3];
    let mut os = [OpSlot::default(); 2];
    let mut order = [0u32; 10];
    let mut work = Work {
        tensors: &mut ts,
        ops: &mut os,
        order: &mut order,
    };
    let sizes = plan(&tensors, &ops, true, &mut work).unwrap();
    // Without the overlap, largest first: `b` at 0, `x` at 0 (dead when `b` is born), `a`
    // above both at 512: 768 bytes.
    assert_eq!(sizes.greedy_bytes, 768);
    // With it, largest first puts the group (512 bytes) at 0 and `x` above it at 512 (896
    // bytes, worse than greedy, so the overlap would be refused); first use puts `x` at 0 and
    // the group at 144, where `a` (at 144 + 252) clears `x`: 656 bytes.
    assert_eq!(sizes.arena_bytes, 656);
    assert_eq!(os[1].variant, Variant::Overlapping);
    assert_eq!([ts[0].offset, ts[1].offset, ts[2].offset], [0, 396, 144]);
    assert_eq!(os[1].scratch.len, 4);
    assert!(
        os[1].scratch.start + 4 <= 144,
        "scratch below the group, where x was"
    );
}

/// The same graph with real int8 convolutions: the smaller plan computes the same bytes as the
/// plain greedy plan.
#[test]
fn the_first_use_plan_runs_like_the_greedy_plan() {
    let mut rng = Rng::new(7);
    let q = Quant::new(0.05, 3);
    let mut g = GraphBuilder::new();
    let x = g.input("x", Shape::new(1, 8, 8, 6), DType::S8, q).unwrap();
    let f0 = g
        .constant_s8_per_channel(
            "f0",
            Shape::new(4, 3, 3, 6),
            &rng.i8s(4 * 9 * 6),
            &[0.01; 4],
        )
        .unwrap();
    let f1 = g
        .constant_s8_per_channel("f1", Shape::new(8, 1, 1, 4), &rng.i8s(8 * 4), &[0.02; 8])
        .unwrap();
    let same = ConvOptions {
        padding: Padding::Same,
        ..ConvOptions::default()
    };
    let a = g
        .conv2d("a", x, f0, None, same, Quant::new(0.1, -2))
        .unwrap();
    let b = g
        .conv2d("b", a, f1, None, same, Quant::new(0.2, 1))
        .unwrap();
    g.output(b).unwrap();
    let input: Vec<i8> = rng.i8s(8 * 8 * 6);
    let mut outputs = Vec::new();
    for in_place in [false, true] {
        let built = g
            .finish(BuildOptions {
                in_place,
                ..BuildOptions::default()
            })
            .unwrap();
        if in_place {
            assert!(built.report.arena_bytes < built.report.greedy_bytes);
            assert_eq!(built.report.ops[1].variant, Variant::Overlapping);
        }
        outputs.push(common::run_built(&built, &[common::b8(&input)]));
    }
    assert_eq!(outputs[0], outputs[1]);
}
