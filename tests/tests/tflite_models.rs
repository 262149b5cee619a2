//! Whole TFLite models through bfmd's lowering, planner and executor against TFLM.
//!
//! * every int8 seed backbone of `tests/data/models/` reproduces TFLM's output
//!   (`tests/data/golden/<model>/output_<i>.bin`) byte for byte on all four golden inputs;
//! * the visual-wake-words model reproduces TFLM on the four real photographs and classifies
//!   them as TFLM does (the astronaut is a person, the cat, the coffee and the brick wall not);
//! * every plan needs less RAM (arena plus executor state) than TFLM's arena for the same model,
//!   and the ratio is printed (`cargo test -p bfmd-tests --test tflite_models -- --nocapture`).

mod tflite_common;

use bfmd_import::lower::{HostModel, Lowered};
use tflite_common::{host, read, tflm_arena_bytes, INPUTS, INT8_MODELS};

#[test]
fn int8_backbones_match_tflm_byte_for_byte() {
    let mut failures = Vec::new();
    for name in INT8_MODELS {
        let (mut h, _) = host(&format!("{name}_int8.tflite"));
        for i in 0..INPUTS {
            let x = read(&format!("golden/{name}/input_{i}.bin"));
            let want = read(&format!("golden/{name}/output_{i}.bin"));
            let out = h
                .run(&[&x])
                .unwrap_or_else(|e| panic!("{name} input {i}: {e}"));
            assert_eq!(out.len(), 1, "{name}: one output");
            if out[0] != want {
                let first = out[0].iter().zip(&want).position(|(a, b)| a != b);
                failures.push(format!(
                    "{name} input {i}: {} of {} bytes differ, first at {first:?}",
                    out[0].iter().zip(&want).filter(|(a, b)| a != b).count(),
                    want.len()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn visual_wake_words_photographs_match_tflm() {
    let (mut h, _) = host("vww_96_int8.tflite");
    let mut outputs = Vec::new();
    for name in ["astronaut", "chelsea", "coffee", "brick"] {
        let x = read(&format!("golden/vww_96_int8_real/{name}.input.bin"));
        let want = read(&format!("golden/vww_96_int8_real/{name}.output.bin"));
        let out = h.run(&[&x]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out[0], want, "{name}");
        outputs.push((name, out[0][0] as i8, out[0][1] as i8));
    }
    // Output `[no_person, person]`: TFLM says person for the astronaut only.
    for (name, no_person, person) in outputs {
        let is_person = person > no_person;
        assert_eq!(
            is_person,
            name == "astronaut",
            "{name}: {no_person} {person}"
        );
    }
}

#[test]
fn ram_is_below_the_tflm_arena() {
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>6}",
        "model", "arena", "ram", "tflm", "ratio"
    );
    let mut over = Vec::new();
    for name in INT8_MODELS.iter().copied().chain(["vww_96"]) {
        let (_, r) = host(&format!("{name}_int8.tflite"));
        let tflm = tflm_arena_bytes(name);
        let ratio = r.ram_bytes as f64 / tflm as f64;
        println!(
            "{name:<22} {:>9} {:>9} {tflm:>9} {ratio:>6.3}",
            r.arena_bytes, r.ram_bytes
        );
        assert!(r.ram_bytes >= r.arena_bytes);
        if r.ram_bytes >= tflm {
            over.push(format!("{name}: {} >= {tflm}", r.ram_bytes));
        }
    }
    assert!(over.is_empty(), "{over:#?}");
}

/// The channel-shuffle fold is an optimisation, not a semantic change: ShuffleNetV1 and V2
/// lowered without it (RESHAPE views and a TRANSPOSE per shuffle) give TFLM's bytes too, and
/// with it each RESHAPE -> TRANSPOSE -> RESHAPE becomes one `ChannelShuffle`.
#[test]
fn channel_shuffle_fold_matches_the_unfolded_ops() {
    use bfmd_import::lower::{lower, HostModel, LowerOptions};
    for name in ["shufflenet_v1", "shufflenet_v2"] {
        let m = bfmd_import::tflite::parse(&read(&format!("models/{name}_int8.tflite"))).unwrap();
        let transposes = m
            .operators
            .iter()
            .filter(|o| o.code == bfmd_import::tflite::OpCode::Transpose)
            .count();
        assert_eq!(transposes, 16, "{name}");
        // Without the builder's fusion, which would merge most folded shuffles with their
        // neighbours (`shuffle_chains_fuse_in_shufflenets`).
        let unfused = LowerOptions {
            fuse_shuffles: false,
            ..LowerOptions::default()
        };
        let unfolded = LowerOptions {
            fold_channel_shuffles: false,
            ..unfused.clone()
        };
        let folded = lower(&m, &unfused).unwrap();
        let plain = lower(&m, &unfolded).unwrap();
        let count = |l: &bfmd_import::lower::Lowered, k: bfmd_graph::OpKind| {
            l.built.report.ops.iter().filter(|o| o.kind == k).count()
        };
        use bfmd_graph::OpKind::{ChannelShuffle, Reshape, Transpose};
        assert_eq!(count(&folded, ChannelShuffle), 16, "{name}");
        assert_eq!(count(&folded, Transpose), 0, "{name}");
        assert_eq!(count(&plain, ChannelShuffle), 0, "{name}");
        assert_eq!(count(&plain, Transpose), 16, "{name}");
        assert_eq!(
            count(&plain, Reshape),
            count(&folded, Reshape) + 32,
            "{name}"
        );
        assert_eq!(
            folded.built.report.op_count + 32,
            plain.built.report.op_count
        );
        let x = read(&format!("golden/{name}/input_0.bin"));
        let want = read(&format!("golden/{name}/output_0.bin"));
        for l in [folded, plain] {
            let mut h = HostModel::new(l.built.blob).unwrap();
            assert_eq!(h.run(&[&x]).unwrap()[0], want, "{name}");
        }
    }
}

/// The builder's fusion (issue 6): in ShuffleNetV2 every folded shuffle follows the unit's
/// channel concatenation, and all but the last of each stage precede the next unit's channel
/// split; each such chain becomes one `ConcatShuffleSplit`. The outputs stay TFLM's, the arena
/// does not grow, and the TFLite side of a fused op names the whole chain. ShuffleNetV1
/// shuffles the output of a grouped convolution and feeds a depthwise one: nothing to fuse.
#[test]
fn shuffle_chains_fuse_in_shufflenets() {
    use bfmd_graph::OpKind::{ChannelShuffle, Concat, ConcatShuffleSplit, Split};
    use bfmd_import::lower::{lower, LowerOptions};
    let count = |l: &Lowered, k: bfmd_graph::OpKind| {
        l.built.report.ops.iter().filter(|o| o.kind == k).count()
    };
    // (model, fused ops, of which absorbed a split)
    for (name, fused_ops, with_split) in [("shufflenet_v2", 16, 13), ("shufflenet_v1", 0, 0)] {
        let m = bfmd_import::tflite::parse(&read(&format!("models/{name}_int8.tflite"))).unwrap();
        let fused = lower(&m, &LowerOptions::default()).unwrap();
        let plain = lower(
            &m,
            &LowerOptions {
                fuse_shuffles: false,
                ..LowerOptions::default()
            },
        )
        .unwrap();
        assert_eq!(count(&fused, ConcatShuffleSplit), fused_ops, "{name}");
        assert_eq!(
            count(&fused, ChannelShuffle),
            count(&plain, ChannelShuffle) - fused_ops,
            "{name}"
        );
        assert_eq!(
            count(&fused, Concat),
            count(&plain, Concat) - fused_ops,
            "{name}"
        );
        assert_eq!(
            count(&fused, Split),
            count(&plain, Split) - with_split,
            "{name}"
        );
        assert_eq!(
            fused.built.report.op_count + fused_ops + with_split,
            plain.built.report.op_count,
            "{name}"
        );
        println!(
            "{name}: arena {} B fused, {} B unfused; {} ops fused, {} unfused",
            fused.built.report.arena_bytes,
            plain.built.report.arena_bytes,
            fused.built.report.op_count,
            plain.built.report.op_count
        );
        assert!(fused.built.report.arena_bytes <= plain.built.report.arena_bytes);
        if fused_ops > 0 {
            let (j, first) = fused
                .built
                .report
                .ops
                .iter()
                .enumerate()
                .find(|(_, o)| o.kind == ConcatShuffleSplit)
                .unwrap();
            assert_eq!(
                fused.sources[j].op_name, "CONCATENATION+RESHAPE+TRANSPOSE+RESHAPE+SPLIT",
                "{name}"
            );
            assert_eq!(first.sources.len(), 3, "{name}");
        }
        for l in [fused, plain] {
            assert_goldens(name, l);
        }
    }
}

/// Runs a lowered `name` on its four golden inputs and checks TFLM's bytes.
fn assert_goldens(name: &str, l: Lowered) {
    let mut h = HostModel::new(l.built.blob).unwrap();
    for i in 0..INPUTS {
        let x = read(&format!("golden/{name}/input_{i}.bin"));
        let want = read(&format!("golden/{name}/output_{i}.bin"));
        assert_eq!(h.run(&[&x]).unwrap()[0], want, "{name} input {i}");
    }
}

/// `LowerOptions::extra_outputs` exposes intermediate tensors (for hunting a first differing
/// op against a reference interpreter) without changing the model's own outputs; a tensor the
/// lowering folded away cannot be exposed, and the error names it.
#[test]
fn extra_outputs_expose_intermediate_tensors() {
    use bfmd_import::lower::{lower, HostModel, LowerOptions};
    use bfmd_import::tflite::{parse, ImportError};
    let m = parse(&read("models/shufflenet_v2_int8.tflite")).unwrap();
    let stem = m.operators[0].outputs[0];
    let last = m.outputs[0];
    let options = LowerOptions {
        extra_outputs: vec![stem, last],
        ..LowerOptions::default()
    };
    let l = lower(&m, &options).unwrap();
    let mut h = HostModel::new(l.built.blob).unwrap();
    let out = h.run(&[&read("golden/shufflenet_v2/input_0.bin")]).unwrap();
    let want = read("golden/shufflenet_v2/output_0.bin");
    assert_eq!(out.len(), 3);
    assert_eq!(out[0], want);
    assert_eq!(out[1].len(), m.tensors[stem].num_elements());
    assert_eq!(out[2], want, "the graph output exposed again");
    // The stem's ReLU output: no value below the output zero point.
    let zp = match &m.tensors[stem].quantization {
        Some(bfmd_import::tflite::Quantization::PerTensor { zero_point, .. }) => *zero_point,
        q => panic!("{q:?}"),
    };
    assert!(out[1].iter().all(|&v| i32::from(v as i8) >= zp));

    // Operator 8 is the first shuffle's RESHAPE; its output exists only in TFLite.
    let folded = m.operators[8].outputs[0];
    let options = LowerOptions {
        extra_outputs: vec![folded],
        ..LowerOptions::default()
    };
    match lower(&m, &options) {
        Err(ImportError::Lowering {
            tensor: Some((t, _)),
            ..
        }) => assert_eq!(t, folded),
        other => panic!("expected an error naming tensor {folded}, got {other:?}"),
    }
}

/// The lookup-table fold (`bfmd-graph/src/builder/lut.rs`): EfficientNet's swish (`LOGISTIC`
/// then `MUL` of the same tensor) and MobileNetV3's `HARD_SWISH` become `Lut` ops, counted here
/// from the TFLite operators independently of the pass; the folded models still give TFLM's
/// bytes on every golden input, as the unfolded ones do, and the arena does not grow.
#[test]
fn elementwise_chains_fold_into_tables() {
    use bfmd_graph::OpKind::{HardSwish, Logistic, Lut, Mul};
    use bfmd_import::lower::{lower, LowerOptions};
    use bfmd_import::tflite::OpCode;
    let count = |l: &Lowered, k: bfmd_graph::OpKind| {
        l.built.report.ops.iter().filter(|o| o.kind == k).count()
    };
    // (model, swish sites, large HARD_SWISH ops) as counted below, written out so that a
    // model or importer change that silently stops the fold fails here.
    for (name, swishes, hard_swishes) in [
        ("efficientnet_b0_w040", 33, 0),
        ("mobilenet_v3_small", 0, 19),
        ("mobilenet_v3_large", 0, 21),
    ] {
        let m = bfmd_import::tflite::parse(&read(&format!("models/{name}_int8.tflite"))).unwrap();
        let elements = |t: usize| m.tensors[t].num_elements();
        let producer = |t: usize| m.operators.iter().find(|o| o.outputs.contains(&t));
        // MUL(x, LOGISTIC(x)), operands in either order, on 256 elements or more.
        let swish_sites = m
            .operators
            .iter()
            .filter(|o| o.code == OpCode::Mul)
            .filter(|o| {
                let (a, b) = (o.inputs[0].unwrap(), o.inputs[1].unwrap());
                let gate_of = |x: usize, s: usize| {
                    producer(s)
                        .is_some_and(|p| p.code == OpCode::Logistic && p.inputs[0] == Some(x))
                };
                elements(a) >= 256 && elements(a) == elements(b) && (gate_of(a, b) || gate_of(b, a))
            })
            .count();
        let large = |code: OpCode| {
            m.operators
                .iter()
                .filter(|o| o.code == code && elements(o.inputs[0].unwrap()) >= 256)
                .count()
        };
        let large_hard_swishes = large(OpCode::HardSwish);
        let large_logistics = large(OpCode::Logistic);
        println!(
            "{name}: {swish_sites} swishes, {large_hard_swishes} large HARD_SWISH, \
             {large_logistics} large LOGISTIC"
        );
        assert_eq!(
            (swish_sites, large_hard_swishes),
            (swishes, hard_swishes),
            "{name}"
        );
        let folded = lower(&m, &LowerOptions::default()).unwrap();
        let plain = lower(
            &m,
            &LowerOptions {
                fold_luts: false,
                ..LowerOptions::default()
            },
        )
        .unwrap();
        let counts = |l: &Lowered| [Mul, HardSwish, Logistic, Lut].map(|k| count(l, k));
        let p = counts(&plain);
        assert_eq!(p[3], 0, "{name}: tables before the fold");
        // Each swish, each large HARD_SWISH and each large LOGISTIC outside a swish becomes one
        // table (none of them follows another elementwise op in these models).
        assert_eq!(
            counts(&folded),
            [
                p[0] - swish_sites,
                p[1] - large_hard_swishes,
                p[2] - large_logistics,
                large_hard_swishes + large_logistics,
            ],
            "{name}: Mul, HardSwish, Logistic, Lut"
        );
        if swish_sites > 0 {
            let j = folded
                .sources
                .iter()
                .position(|s| s.op_name == "LOGISTIC+MUL");
            assert!(j.is_some(), "{name}: no fused swish named LOGISTIC+MUL");
        }
        println!(
            "{name}: arena {} B folded, {} B unfolded; blob {} B folded, {} B unfolded; \
             {} ops folded, {} unfolded",
            folded.built.report.arena_bytes,
            plain.built.report.arena_bytes,
            folded.built.report.blob_bytes,
            plain.built.report.blob_bytes,
            folded.built.report.op_count,
            plain.built.report.op_count
        );
        assert!(folded.built.report.arena_bytes <= plain.built.report.arena_bytes);
        for l in [folded, plain] {
            assert_goldens(name, l);
        }
    }
}
