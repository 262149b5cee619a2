//! The lowering against TFLM: models from `tests/data/models/` are lowered and planned as the
//! boards' build scripts do, run on the host with bfmd's executor, and their int8 outputs must
//! equal the TFLM reference outputs in `tests/data/golden/` byte for byte.

use bfmd_graph::builder::ModelBytes;
use bfmd_graph::{exec, Model};
use std::path::{Path, PathBuf};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// Lowers `model` and returns the outputs for `inputs`.
fn run(model: &str, inputs: &[PathBuf]) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(data().join("models").join(model)).unwrap();
    let (blob, report) = bfmd_embed::lower::tflite_to_blob(&bytes).unwrap();
    assert!(report.contains("arena"), "{report}");
    let blob = ModelBytes::from_bytes(&blob);
    let m = Model::parse(blob.as_bytes()).unwrap();
    let mut arena = bfmd_graph::Arena::<{ 256 * 1024 }>::new();
    assert!(m.arena_bytes() <= 256 * 1024);
    inputs
        .iter()
        .map(|p| {
            let x = std::fs::read(p).unwrap();
            m.input_mut(arena.as_mut_slice(), 0)
                .unwrap()
                .copy_from_slice(&x);
            exec::run(&m, arena.as_mut_slice(), None).unwrap();
            m.output(arena.as_slice(), 0).unwrap().to_vec()
        })
        .collect()
}

#[test]
fn visual_wake_words_photographs_match_tflm() {
    let dir = data().join("golden/vww_96_int8_real");
    let names = ["astronaut", "brick", "chelsea", "coffee"];
    let inputs: Vec<_> = names
        .iter()
        .map(|n| dir.join(format!("{n}.input.bin")))
        .collect();
    let outputs = run("vww_96_int8.tflite", &inputs);
    for (n, out) in names.iter().zip(&outputs) {
        let golden = std::fs::read(dir.join(format!("{n}.output.bin"))).unwrap();
        assert_eq!(out, &golden, "{n}");
    }
    // The astronaut is a person, the others are not (output [no person, person]).
    assert!((outputs[0][1] as i8) > (outputs[0][0] as i8));
    for out in &outputs[1..] {
        assert!((out[1] as i8) < (out[0] as i8));
    }
}

/// ShuffleNetV2 exercises the channel-shuffle pattern (RESHAPE, TRANSPOSE, RESHAPE), SPLIT and
/// CONCATENATION; MobileNetV3-small hard-swish, squeeze-excite MUL and MEAN.
#[test]
fn shufflenet_v2_and_mobilenet_v3_small_match_tflm() {
    for (model, dir) in [
        ("shufflenet_v2_int8.tflite", "shufflenet_v2"),
        ("mobilenet_v3_small_int8.tflite", "mobilenet_v3_small"),
    ] {
        let dir = data().join("golden").join(dir);
        let inputs = [dir.join("input_0.bin"), dir.join("input_1.bin")];
        let outputs = run(model, &inputs);
        for (i, out) in outputs.iter().enumerate() {
            let golden = std::fs::read(dir.join(format!("output_{i}.bin"))).unwrap();
            assert_eq!(out, &golden, "{model} input {i}");
        }
    }
}

#[test]
fn shuffle_pattern_becomes_one_op_and_unsupported_ops_are_named() {
    let bytes = std::fs::read(data().join("models/shufflenet_v2_int8.tflite")).unwrap();
    let (_, report) = bfmd_embed::lower::tflite_to_blob(&bytes).unwrap();
    // 137 TFLite ops, 16 shuffles of three ops each become 16 ops.
    assert!(report.contains(" 105 ops"), "{report}");
    assert_eq!(report.matches("ChannelShuffle").count(), 16, "{report}");
    assert!(bfmd_embed::lower::tflite_to_blob(b"not a model").is_err());
}
