//! What the boards embed, against TFLM: models from `tests/data/models/` are imported and planned
//! as the boards' build scripts do, run on the host with bfmd's executor, and their int8 outputs
//! must equal the TFLM reference outputs in `tests/data/golden/` byte for byte.

use bfmd_graph::builder::ModelBytes;
use bfmd_graph::{exec, Model};
use std::path::{Path, PathBuf};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// Lowers `model` and returns the outputs for `inputs`.
fn run(model: &str, inputs: &[PathBuf]) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(data().join("models").join(model)).unwrap();
    let (blob, report) = bfmd_embed::import_tflite(&bytes).unwrap();
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

#[test]
fn embed_writes_the_blob_the_sample_input_and_the_constants() {
    let out = std::env::temp_dir().join(format!("bfmd-embed-test-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let model = data().join("models/vww_96_int8.tflite");
    let input = data().join("golden/vww_96_int8_real/astronaut.input.bin");
    let e = bfmd_embed::embed_into(&model, Some(&input), &out).unwrap();

    let blob = std::fs::read(out.join("model.bfmd")).unwrap();
    let (imported, _) = bfmd_embed::import_tflite(&std::fs::read(&model).unwrap()).unwrap();
    assert_eq!(blob, imported);
    let parsed = ModelBytes::from_bytes(&blob);
    let m = Model::parse(parsed.as_bytes()).unwrap();
    assert_eq!((e.arena_bytes, e.blob_len), (m.arena_bytes(), blob.len()));
    assert_eq!(
        std::fs::read(out.join("input.bin")).unwrap(),
        std::fs::read(&input).unwrap()
    );

    let rs = std::fs::read_to_string(out.join("model.rs")).unwrap();
    for line in [
        format!("pub const ARENA_BYTES: usize = {};", m.arena_bytes()),
        format!("pub const BLOB_LEN: usize = {};", blob.len()),
        "pub const NAME: &str = \"vww_96_int8\";".to_string(),
        "pub const INPUT_LENS: [usize; INPUT_COUNT] = [27648];".to_string(),
        "pub const OUTPUT_LENS: [usize; OUTPUT_COUNT] = [2];".to_string(),
        "pub const OUTPUT_SCALE: f32 = 0.00390625;".to_string(),
        "pub const OUTPUT_ZERO_POINT: i32 = -128;".to_string(),
        "#[link_section = \".bfmd_model\"]".to_string(),
        // Every input and output with its quantization (the VWW model's, from its .tflite).
        "    bfmd_graph::session::IoSpec { shape: [1, 96, 96, 3], dtype: bfmd_graph::DType::S8, \
         scale: 0.003921569, zero_point: -128, bytes: 27648 },"
            .to_string(),
        "    bfmd_graph::session::IoSpec { shape: [1, 1, 1, 2], dtype: bfmd_graph::DType::S8, \
         scale: 0.00390625, zero_point: -128, bytes: 2 },"
            .to_string(),
        // The kernels it runs, exactly: the linker keeps no others.
        "impl bfmd_graph::Linked for Ops {".to_string(),
    ] {
        assert!(rs.contains(&line), "model.rs lacks `{line}`:\n{rs}");
    }

    let set = bfmd_graph::OpSet::of_model(&m);
    let listed = rs.matches("        .with(bfmd_graph::OpKind::").count();
    assert_eq!(listed, set.iter().count());
    assert_eq!(
        set.iter()
            .map(|(k, d, f)| format!("{}/{d:?}/{}", k.name(), f.name()))
            .collect::<Vec<_>>(),
        [
            "Conv2d/S8/Plain",
            "Conv2d/S8/Overlapping",
            "Conv2d/S8/Rows",
            "DepthwiseConv2d/S8/Plain",
            "DepthwiseConv2d/S8/InPlace",
            "FullyConnected/S8/Packed",
            "AvgPool2d/S8/Plain",
            "Softmax/S8/InPlace",
        ]
    );

    // Without a sample input the firmware gets zeros of the input's size.
    bfmd_embed::embed_into(&model, None, &out).unwrap();
    assert_eq!(
        std::fs::read(out.join("input.bin")).unwrap(),
        vec![0u8; 27648]
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn caller_mistakes_are_errors_that_say_what_is_wrong() {
    let out = std::env::temp_dir().join(format!("bfmd-embed-err-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let model = data().join("models/vww_96_int8.tflite");
    let wrong_input = data().join("golden/vww_96_int8_real/astronaut.output.bin");
    let e = bfmd_embed::embed_into(&model, Some(&wrong_input), &out).unwrap_err();
    assert!(e.contains("2 bytes, the model's input has 27648"), "{e}");
    let e = bfmd_embed::embed_into(&data().join("README.md"), None, &out).unwrap_err();
    assert!(e.contains("expected a .tflite or .bfmd file"), "{e}");
    let e = bfmd_embed::embed_into(&out.join("missing.tflite"), None, &out).unwrap_err();
    assert!(e.contains("missing.tflite"), "{e}");
    assert!(bfmd_embed::import_tflite(b"not a model").is_err());
    std::fs::remove_dir_all(&out).unwrap();
}
