//! The lookup-table fold (`builder/lut.rs`): every pattern that folds gives the same bytes as
//! the ops it replaces on every one of the 256 int8 input values (with varied scales and zero
//! points, planned in place and not), the expected `Lut` ops appear and the others disappear,
//! and the arena does not grow. Patterns that must not fold (an intermediate read twice or
//! exposed as a graph output, a broadcast or a foreign operand, float graphs, small tensors)
//! keep their ops.

mod common;

use bfmd_graph::builder::{BuildOptions, Built, GraphBuilder, Quant, TensorId};
use bfmd_graph::{DType, OpKind};
use bfmd_kernels::half::f16;
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::Shape;
use common::*;

/// 512 elements: large enough to fold (256 or more).
const SHAPE: Shape = Shape::new(1, 4, 8, 16);

/// Input quantizations: small and large scales, zero points at both ends and in the middle.
const INPUT_QUANTS: [Quant; 4] = [
    Quant::new(0.05, -3),
    Quant::new(0.1173, 25),
    Quant::new(0.0235, -128),
    Quant::new(0.31, 127),
];

/// TFLite's only int8 `LOGISTIC` output quantization.
const SIGMOID_OUT: Quant = Quant::new(1.0 / 256.0, -128);

/// Every int8 value twice, in a scrambled order (167 is odd, so `i * 167 mod 256` visits all
/// 256 bytes in each half).
fn every_value(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 167 % 256) as u8).collect()
}

fn count(built: &Built, kind: OpKind) -> usize {
    built.report.ops.iter().filter(|o| o.kind == kind).count()
}

/// Builds `b` with and without the fold, each planned in place and not; checks that the four
/// builds give the same bytes for `inputs`, that the fold did not grow the arena, and returns
/// `(folded, plain)` planned in place.
fn folded_and_plain(b: &GraphBuilder, inputs: &[Vec<u8>]) -> (Built, Built) {
    let opts = |in_place, fold_luts| BuildOptions {
        in_place,
        fold_luts,
        ..BuildOptions::default()
    };
    let want = run_built(&b.finish(opts(false, false)).unwrap(), inputs);
    let mut builds = Vec::new();
    for in_place in [true, false] {
        let folded = b.finish(opts(in_place, true)).unwrap();
        let plain = b.finish(opts(in_place, false)).unwrap();
        for (what, built) in [("folded", &folded), ("plain", &plain)] {
            assert_eq!(
                run_built(built, inputs),
                want,
                "{what} (in_place = {in_place}) differs"
            );
        }
        assert!(
            folded.report.arena_bytes <= plain.report.arena_bytes,
            "the fold grew the arena: {} > {}",
            folded.report.arena_bytes,
            plain.report.arena_bytes
        );
        builds.push((folded, plain));
    }
    builds.swap_remove(0)
}

/// A graph with one int8 input of `SHAPE` quantized `q`.
fn graph(q: Quant) -> (GraphBuilder, TensorId) {
    let mut b = GraphBuilder::new();
    let x = b.input("x", SHAPE, DType::S8, q).unwrap();
    (b, x)
}

/// Output quantization of a unary op of `kind` over an input quantized `q`.
fn out_quant(kind: OpKind, q: Quant, k: usize) -> Quant {
    match kind {
        OpKind::Logistic => SIGMOID_OUT,
        OpKind::Relu6 => q,
        // Requantize and the others: a different scale and zero point per case.
        _ => Quant::new(
            q.scale * [0.7, 1.9, 0.37, 1.1][k % 4],
            [-9, 40, -128, 3][k % 4],
        ),
    }
}

/// A test-defined table: not monotone, uses both ends of the int8 range.
fn custom_table() -> [i8; 256] {
    core::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11) as i8)
}

/// `y = kind(x)` in `b`, the table kinds through `add_lut` for `Lut`.
fn unary(b: &mut GraphBuilder, name: &str, kind: OpKind, x: TensorId, k: usize) -> TensorId {
    let q = b.quant(x).unwrap();
    if kind == OpKind::Lut {
        let y = b.tensor(name, SHAPE, DType::S8, q).unwrap();
        b.add_lut(x, y, &custom_table()).unwrap();
        return y;
    }
    b.unary(name, kind, x, out_quant(kind, q, k)).unwrap()
}

const COMPUTED: [OpKind; 6] = [
    OpKind::HardSwish,
    OpKind::Logistic,
    OpKind::Relu,
    OpKind::Relu6,
    OpKind::ReluN1To1,
    OpKind::Requantize,
];

const TABLES: [OpKind; 3] = [OpKind::HardSigmoid, OpKind::Swish, OpKind::Lut];

#[test]
fn each_computed_unary_op_becomes_a_table() {
    for kind in COMPUTED {
        for (k, q) in INPUT_QUANTS.into_iter().enumerate() {
            let (mut b, x) = graph(q);
            let y = unary(&mut b, "y", kind, x, k);
            b.output(y).unwrap();
            let (folded, plain) = folded_and_plain(&b, &[every_value(SHAPE.len())]);
            assert_eq!(count(&plain, kind), 1, "{kind:?}");
            assert_eq!(count(&folded, kind), 0, "{kind:?}");
            assert_eq!(count(&folded, OpKind::Lut), 1, "{kind:?}");
            assert_eq!(folded.report.ops[0].sources, vec![0], "{kind:?}");
        }
    }
}

/// `HardSigmoid`, `Swish` and `Lut` already run as tables: alone they stay as they are.
#[test]
fn a_single_table_op_stays() {
    for kind in TABLES {
        let (mut b, x) = graph(INPUT_QUANTS[1]);
        let y = unary(&mut b, "y", kind, x, 1);
        b.output(y).unwrap();
        let (folded, _) = folded_and_plain(&b, &[every_value(SHAPE.len())]);
        assert_eq!(count(&folded, kind), 1, "{kind:?}");
        assert_eq!(folded.report.op_count, 1, "{kind:?}");
    }
}

/// Pairs of every kind after every kind, then longer chains: each chain is one `Lut`.
#[test]
fn unary_chains_compose_into_one_table() {
    let all: Vec<OpKind> = COMPUTED.iter().chain(&TABLES).copied().collect();
    let mut k = 0;
    for &first in &all {
        for &second in &all {
            k += 1;
            let q = INPUT_QUANTS[k % 4];
            let (mut b, x) = graph(q);
            let t = unary(&mut b, "t", first, x, k);
            let y = unary(&mut b, "y", second, t, k + 1);
            b.output(y).unwrap();
            let (folded, _) = folded_and_plain(&b, &[every_value(SHAPE.len())]);
            assert_eq!(folded.report.op_count, 1, "{first:?} -> {second:?}");
            assert_eq!(count(&folded, OpKind::Lut), 1, "{first:?} -> {second:?}");
            assert_eq!(folded.report.ops[0].sources, vec![0, 1]);
        }
    }
    let chains: [&[OpKind]; 3] = [
        &[
            OpKind::Requantize,
            OpKind::HardSwish,
            OpKind::Relu,
            OpKind::Logistic,
        ],
        &[OpKind::Lut, OpKind::Swish, OpKind::ReluN1To1, OpKind::Relu6],
        &[
            OpKind::HardSigmoid,
            OpKind::Requantize,
            OpKind::Requantize,
            OpKind::HardSwish,
            OpKind::Lut,
        ],
    ];
    for (c, chain) in chains.iter().enumerate() {
        let (mut b, mut t) = graph(INPUT_QUANTS[c]);
        for (i, &kind) in chain.iter().enumerate() {
            t = unary(&mut b, &format!("t{i}"), kind, t, c + i);
        }
        b.output(t).unwrap();
        let (folded, plain) = folded_and_plain(&b, &[every_value(SHAPE.len())]);
        assert_eq!(plain.report.op_count, chain.len());
        assert_eq!(folded.report.op_count, 1, "{chain:?}");
        assert_eq!(
            folded.report.ops[0].sources,
            (0..chain.len()).collect::<Vec<_>>()
        );
        // One table is left: the replaced ops' tables are dropped from the blob.
        let tables = chain.iter().filter(|k| TABLES.contains(k)).count();
        assert_eq!(plain.report.weights_bytes, 256 * tables, "{chain:?}");
        assert_eq!(folded.report.weights_bytes, 256, "{chain:?}");
    }
}

/// `op(x, gate(x))` with the gate a chain of `gate` kinds.
fn binary_of_chain(
    q: Quant,
    kind: OpKind,
    gate: &[OpKind],
    x_first: bool,
    act: FusedActivation,
    k: usize,
) -> GraphBuilder {
    let (mut b, x) = graph(q);
    let mut u = x;
    for (i, &g) in gate.iter().enumerate() {
        u = unary(&mut b, &format!("u{i}"), g, u, k + i);
    }
    let (lhs, rhs) = if x_first { (x, u) } else { (u, x) };
    let out = Quant::new(q.scale * [0.8, 1.3, 0.45][k % 3], [-20, 7, 90][k % 3]);
    let y = if kind == OpKind::Mul {
        b.mul("y", lhs, rhs, act, out).unwrap()
    } else {
        b.add("y", lhs, rhs, act, out).unwrap()
    };
    b.output(y).unwrap();
    b
}

/// EfficientNet's swish (`LOGISTIC` then `MUL`), MobileNetV3-style `x * hard_sigmoid(x)`,
/// longer gates, `Mul(x, x)` and `Add(x, relu(x))`, operands in both orders, with and without
/// a fused activation: one `Lut` of `x` each.
#[test]
fn mul_and_add_of_a_chain_of_the_same_tensor_become_one_table() {
    let gates: [&[OpKind]; 6] = [
        &[OpKind::Logistic],
        &[OpKind::HardSigmoid],
        &[OpKind::Requantize, OpKind::Logistic],
        &[OpKind::HardSwish, OpKind::Relu6],
        &[],
        &[OpKind::Relu],
    ];
    let mut k = 0;
    for kind in [OpKind::Mul, OpKind::Add] {
        for gate in gates {
            for x_first in [true, false] {
                for act in [FusedActivation::None, FusedActivation::Relu6] {
                    k += 1;
                    let b = binary_of_chain(INPUT_QUANTS[k % 4], kind, gate, x_first, act, k);
                    let (folded, plain) = folded_and_plain(&b, &[every_value(SHAPE.len())]);
                    let what = format!("{kind:?}(x, {gate:?}(x)), x first {x_first}, {act:?}");
                    assert_eq!(plain.report.op_count, gate.len() + 1, "{what}");
                    assert_eq!(folded.report.op_count, 1, "{what}");
                    assert_eq!(count(&folded, OpKind::Lut), 1, "{what}");
                    assert_eq!(folded.report.weights_bytes, 256, "{what}");
                    assert_eq!(
                        folded.report.ops[0].sources,
                        (0..=gate.len()).collect::<Vec<_>>(),
                        "{what}"
                    );
                }
            }
        }
    }
}

/// The swish gate is also read elsewhere (a second graph output): the `Mul` still becomes a
/// table, the `Logistic` stays for its other reader (and becomes a table of its own).
#[test]
fn a_gate_with_another_reader_stays() {
    let (mut b, x) = graph(INPUT_QUANTS[0]);
    let s = b.unary("s", OpKind::Logistic, x, SIGMOID_OUT).unwrap();
    let y = b
        .mul("y", x, s, FusedActivation::None, Quant::new(0.03, -5))
        .unwrap();
    let z = b
        .unary("z", OpKind::Relu, s, Quant::new(0.01, -100))
        .unwrap();
    b.output(y).unwrap();
    b.output(z).unwrap();
    let (folded, plain) = folded_and_plain(&b, &[every_value(SHAPE.len())]);
    assert_eq!(count(&plain, OpKind::Mul), 1);
    assert_eq!(count(&folded, OpKind::Mul), 0);
    // The Mul's table, and the Logistic -> Relu chain (its intermediate `s` now has one
    // reader) as another.
    assert_eq!(count(&folded, OpKind::Lut), 2);
    assert_eq!(folded.report.op_count, 2);
}

/// An intermediate that is a graph output keeps its op; one with a second reader too.
#[test]
fn exposed_or_shared_intermediates_keep_their_ops() {
    // `t` a graph output: Requantize and HardSwish each become a table, not one. `t` read by a
    // second op: three tables, nothing composed.
    for (k, exposed) in [(2, true), (3, false)] {
        let (mut b, x) = graph(INPUT_QUANTS[k]);
        let t = unary(&mut b, "t", OpKind::Requantize, x, 0);
        let y = unary(&mut b, "y", OpKind::HardSwish, t, 1);
        let other = if exposed {
            t
        } else {
            unary(&mut b, "z", OpKind::Relu, t, 2)
        };
        b.output(y).unwrap();
        b.output(other).unwrap();
        let (folded, plain) = folded_and_plain(&b, &[every_value(SHAPE.len())]);
        assert_eq!(folded.report.op_count, plain.report.op_count, "{exposed}");
        assert_eq!(
            count(&folded, OpKind::Lut),
            plain.report.op_count,
            "{exposed}"
        );
    }

    // The swish gate is a graph output: the Mul folds, the Logistic stays a Logistic-turned-
    // table that still writes the exposed tensor.
    let (mut b, x) = graph(INPUT_QUANTS[1]);
    let s = b.unary("s", OpKind::Logistic, x, SIGMOID_OUT).unwrap();
    let y = b
        .mul("y", x, s, FusedActivation::None, Quant::new(0.04, 3))
        .unwrap();
    b.output(y).unwrap();
    b.output(s).unwrap();
    let (folded, _) = folded_and_plain(&b, &[every_value(SHAPE.len())]);
    assert_eq!(folded.report.op_count, 2);
    assert_eq!(count(&folded, OpKind::Mul), 0);
    assert_eq!(
        folded
            .report
            .ops
            .iter()
            .map(|o| o.output.as_str())
            .collect::<Vec<_>>(),
        ["s", "y"]
    );
}

/// A broadcast `Mul` (the squeeze-and-excitation gate) and a `Mul` of two different tensors are
/// not functions of one byte: they stay.
#[test]
fn broadcast_and_foreign_operands_stay() {
    // Broadcast: y = x * logistic(v), v a [1,1,1,C] graph input.
    let (mut b, x) = graph(INPUT_QUANTS[0]);
    let v = b
        .input(
            "v",
            Shape::new(1, 1, 1, SHAPE.c),
            DType::S8,
            Quant::new(0.2, 0),
        )
        .unwrap();
    let s = b.unary("s", OpKind::Logistic, v, SIGMOID_OUT).unwrap();
    let y = b
        .mul("y", x, s, FusedActivation::None, Quant::new(0.05, 1))
        .unwrap();
    b.output(y).unwrap();
    let inputs = [every_value(SHAPE.len()), every_value(SHAPE.c)];
    let (folded, plain) = folded_and_plain(&b, &inputs);
    assert_eq!(count(&folded, OpKind::Mul), 1);
    // The 16-element Logistic is too small to be worth a table.
    assert_eq!(count(&folded, OpKind::Logistic), 1);
    assert_eq!(folded.report.op_count, plain.report.op_count);

    // Foreign operand: y = x * logistic(z), z another full-size input.
    let (mut b, x) = graph(INPUT_QUANTS[1]);
    let z = b.input("z", SHAPE, DType::S8, INPUT_QUANTS[2]).unwrap();
    let s = b.unary("s", OpKind::Logistic, z, SIGMOID_OUT).unwrap();
    let y = b
        .mul("y", x, s, FusedActivation::None, Quant::new(0.05, 1))
        .unwrap();
    b.output(y).unwrap();
    let mut zs = every_value(SHAPE.len());
    zs.reverse();
    let (folded, _) = folded_and_plain(&b, &[every_value(SHAPE.len()), zs]);
    assert_eq!(count(&folded, OpKind::Mul), 1);
    // The Logistic alone still becomes a table.
    assert_eq!(count(&folded, OpKind::Lut), 1);
}

/// Below 256 elements a table (256 bytes of flash) does not pay: nothing folds.
#[test]
fn small_tensors_stay() {
    let mut b = GraphBuilder::new();
    let shape = Shape::new(1, 3, 5, 17); // 255 elements
    let x = b.input("x", shape, DType::S8, INPUT_QUANTS[0]).unwrap();
    let s = b.unary("s", OpKind::Logistic, x, SIGMOID_OUT).unwrap();
    let y = b
        .mul("y", x, s, FusedActivation::None, Quant::new(0.05, 1))
        .unwrap();
    let z = b
        .unary("z", OpKind::HardSwish, y, Quant::new(0.05, 0))
        .unwrap();
    b.output(z).unwrap();
    let (folded, plain) = folded_and_plain(&b, &[every_value(shape.len())]);
    assert_eq!(folded.report.ops, plain.report.ops);
}

/// Float graphs have no 256-value domain: their ops stay.
#[test]
fn float_graphs_stay() {
    for dtype in [DType::F32, DType::F16] {
        let mut b = GraphBuilder::new();
        let x = b.input("x", SHAPE, dtype, Quant::NONE).unwrap();
        let s = b.unary("s", OpKind::Logistic, x, Quant::NONE).unwrap();
        let y = b
            .mul("y", x, s, FusedActivation::None, Quant::NONE)
            .unwrap();
        let z = b.unary("z", OpKind::HardSwish, y, Quant::NONE).unwrap();
        let w = b.unary("w", OpKind::Relu6, z, Quant::NONE).unwrap();
        b.output(w).unwrap();
        let values: Vec<f32> = (0..SHAPE.len()).map(|i| i as f32 * 0.037 - 9.0).collect();
        let input = if dtype == DType::F32 {
            b32(&values)
        } else {
            b16(&values.iter().map(|&v| f16::from_f32(v)).collect::<Vec<_>>())
        };
        let (folded, plain) = folded_and_plain(&b, &[input]);
        assert_eq!(folded.report.ops, plain.report.ops, "{dtype:?}");
        assert_eq!(count(&folded, OpKind::Lut), 0, "{dtype:?}");
    }
}

/// The fold keeps graph outputs' tensors: the same names, shapes and quantization, in order.
#[test]
fn graph_outputs_keep_their_identity() {
    let b = binary_of_chain(
        INPUT_QUANTS[0],
        OpKind::Mul,
        &[OpKind::Logistic],
        true,
        FusedActivation::None,
        0,
    );
    let (folded, plain) = folded_and_plain(&b, &[every_value(SHAPE.len())]);
    let out = |built: &Built| {
        let m = built.blob.model().unwrap();
        let t = m.output_tensor(0).unwrap();
        let info = m.tensor(t).unwrap();
        (info.shape, info.scale, info.zero_point, info.dtype)
    };
    assert_eq!(out(&folded), out(&plain));
    assert_eq!(folded.report.ops[0].output, "y");
}
