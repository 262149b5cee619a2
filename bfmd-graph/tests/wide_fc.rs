//! The weight-packing pass (`builder/wide.rs`): small int8 fully connected layers get their
//! weights stored as int16 pairs and give the same bytes as the int8 layer, for several inputs
//! and planning modes; layers the pass must leave alone (rows not a multiple of 4, more weights
//! than the limit, float graphs) keep int8 weights; a packed lane outside int8 is refused when
//! the model is parsed.

mod common;

use bfmd_graph::builder::{BuildOptions, Built, GraphBuilder, ModelBytes, Quant};
use bfmd_graph::format::header;
use bfmd_graph::{crc32, DType, GraphError, OpKind};
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::Shape;
use common::*;

/// An int8 graph `x (batch x in) -> FullyConnected(out, per-channel) -> y`.
fn fc_graph(rng: &mut Rng, batch: usize, in_f: usize, out_f: usize) -> GraphBuilder {
    let mut b = GraphBuilder::new();
    let x = b
        .input(
            "x",
            Shape::new(batch, 1, 1, in_f),
            DType::S8,
            Quant::new(0.02, -5),
        )
        .unwrap();
    let scales: Vec<f32> = (0..out_f).map(|o| 0.003 + 0.0004 * o as f32).collect();
    let w = b
        .constant_s8_per_channel(
            "w",
            Shape::new(out_f, 1, 1, in_f),
            &rng.i8s(out_f * in_f),
            &scales,
        )
        .unwrap();
    let bias = b
        .constant_i32(
            "b",
            Shape::new(1, 1, 1, out_f),
            &rng.i32s(out_f, -3000, 3000),
        )
        .unwrap();
    let y = b
        .tensor(
            "y",
            Shape::new(batch, 1, 1, out_f),
            DType::S8,
            Quant::new(0.05, 3),
        )
        .unwrap();
    b.add_fully_connected(x, w, Some(bias), y, FusedActivation::None)
        .unwrap();
    b.output(y).unwrap();
    b
}

fn options(in_place: bool, wide_fc_weights: usize) -> BuildOptions {
    BuildOptions {
        in_place,
        wide_fc_weights,
        ..BuildOptions::default()
    }
}

/// The dtype and shape of the fully connected op's weights in `built`.
fn weights(built: &Built) -> (DType, Shape) {
    let m = built.blob.model().unwrap();
    let op = m.ops().find(|o| o.kind == OpKind::FullyConnected).unwrap();
    let t = m.tensor(op.input(1).unwrap()).unwrap();
    (t.dtype, t.shape)
}

#[test]
fn packed_layers_give_the_int8_layers_bytes() {
    let mut rng = Rng::new(41);
    for (batch, in_f, out_f) in [(1, 256, 10), (2, 12, 7), (1, 1028, 3), (3, 64, 1)] {
        let b = fc_graph(&mut rng, batch, in_f, out_f);
        let inputs: Vec<Vec<Vec<u8>>> = (0..4).map(|_| vec![b8(&rng.i8s(batch * in_f))]).collect();
        let plain = b.finish(options(true, 0)).unwrap();
        assert_eq!(weights(&plain), (DType::S8, Shape::new(out_f, 1, 1, in_f)));
        for in_place in [true, false] {
            let packed = b.finish(options(in_place, out_f * in_f)).unwrap();
            assert_eq!(
                weights(&packed),
                (DType::I32, Shape::new(out_f, 1, 1, in_f / 2)),
                "{in_f} -> {out_f}"
            );
            // Twice the weights' bytes (each constant padded to 16 bytes).
            let pad = |n: usize| n.div_ceil(16) * 16;
            assert_eq!(
                packed.report.weights_bytes - plain.report.weights_bytes,
                pad(2 * out_f * in_f) - pad(out_f * in_f)
            );
            // The packed layer's loop widens the input in scratch, which the int8 loop of
            // this build may not need: the arena grows by at most that (16-byte aligned).
            let g = bfmd_kernels::reference::fully_connected::FullyConnectedGeometry::new(
                batch, in_f, out_f,
            );
            let wide = bfmd_kernels::s8::fully_connected::fully_connected_s8_wide_scratch_len(&g);
            assert!(
                packed.report.arena_bytes <= plain.report.arena_bytes + wide.next_multiple_of(16)
            );
            assert!(packed.report.arena_bytes >= plain.report.arena_bytes);
            for x in &inputs {
                assert_eq!(
                    run_built(&packed, x),
                    run_built(&plain, x),
                    "{in_f} -> {out_f}, in_place {in_place}"
                );
            }
        }
    }
}

#[test]
fn ineligible_layers_keep_int8_weights() {
    let mut rng = Rng::new(42);
    // Rows of 30: not a multiple of 4.
    let b = fc_graph(&mut rng, 1, 30, 5);
    let built = b.finish(BuildOptions::default()).unwrap();
    assert_eq!(weights(&built).0, DType::S8);
    // One weight more than the limit.
    let b = fc_graph(&mut rng, 1, 64, 4);
    assert_eq!(weights(&b.finish(options(true, 255)).unwrap()).0, DType::S8);
    assert_eq!(
        weights(&b.finish(options(true, 256)).unwrap()).0,
        DType::I32
    );
    // The default limit packs a 256 -> 10 head and leaves a 1024 -> 1000 classifier alone.
    let b = fc_graph(&mut rng, 1, 256, 10);
    assert_eq!(
        weights(&b.finish(BuildOptions::default()).unwrap()).0,
        DType::I32
    );
    let b = fc_graph(&mut rng, 1, 1024, 1000);
    assert_eq!(
        weights(&b.finish(BuildOptions::default()).unwrap()).0,
        DType::S8
    );
    // Float layers are never packed.
    let mut f = GraphBuilder::new();
    let x = f
        .input("x", Shape::new(1, 1, 1, 8), DType::F32, Quant::NONE)
        .unwrap();
    let w = f
        .constant_f32("w", Shape::new(2, 1, 1, 8), &rng.f32s(16, -1.0, 1.0))
        .unwrap();
    let y = f
        .tensor("y", Shape::new(1, 1, 1, 2), DType::F32, Quant::NONE)
        .unwrap();
    f.add_fully_connected(x, w, None, y, FusedActivation::None)
        .unwrap();
    f.output(y).unwrap();
    assert_eq!(
        weights(&f.finish(BuildOptions::default()).unwrap()).0,
        DType::F32
    );
}

#[test]
fn a_packed_lane_outside_int8_is_refused() {
    let mut rng = Rng::new(43);
    let b = fc_graph(&mut rng, 1, 16, 2);
    let built = b.finish(BuildOptions::default()).unwrap();
    let blob = built.blob.as_bytes();
    let m = built.blob.model().unwrap();
    let op = m.ops().find(|o| o.kind == OpKind::FullyConnected).unwrap();
    let wt = op.input(1).unwrap();
    let at = m.constant(wt).as_ptr() as usize - blob.as_ptr() as usize;
    for lane in [128i32, -129] {
        let mut bad = blob.to_vec();
        // The high lane of the third word.
        bad[at + 8..at + 12].copy_from_slice(&(lane << 16).to_le_bytes());
        let c = crc32(&bad[header::CRC_START..]);
        bad[header::CRC..header::CRC + 4].copy_from_slice(&c.to_le_bytes());
        match ModelBytes::from_bytes(&bad).model() {
            Err(GraphError::Op { kind, what, .. }) => {
                assert_eq!(kind, Some(OpKind::FullyConnected));
                assert_eq!(what, "packed weights hold a value outside int8");
            }
            other => panic!("lane {lane}: {other:?}"),
        }
    }
}
