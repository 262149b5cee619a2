//! The firmware form (`bfmd_import::build`): what a board's build script gets for a model.
//!
//! Compiling the generated `model.rs` into a program needs a build script; that was checked by
//! hand with a scratch crate (see `docs/tflite.md`). Here the files themselves are checked: the
//! blob is the lowering's blob and runs bit-exact, and `model.rs` states the plan's numbers and
//! embeds that blob.

mod tflite_common;

use bfmd_graph::builder::ModelBytes;
use bfmd_import::build::{compile_tflite_with, CompileError, CompileOptions};
use bfmd_import::lower::HostModel;
use std::path::PathBuf;
use tflite_common::{lower_file, model_path, read};

fn out_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn quiet() -> CompileOptions {
    CompileOptions {
        rerun_if_changed: false,
        ..CompileOptions::default()
    }
}

#[test]
fn firmware_form_of_vww_embeds_the_planned_blob() {
    let dir = out_dir("firmware_form_vww");
    let options = CompileOptions {
        link_section: Some(".bfmd_model".into()),
        ..quiet()
    };
    let r = compile_tflite_with(model_path("vww_96_int8.tflite"), &dir, &options).unwrap();
    let want = lower_file("vww_96_int8.tflite").built;
    let blob = std::fs::read(&r.blob_path).unwrap();
    assert_eq!(blob, want.blob.as_bytes(), "the blob is the lowering's");
    assert_eq!(r.plan, want.report);

    // The blob as written runs the astronaut photograph exactly as TFLM does.
    let mut h = HostModel::new(ModelBytes::from_bytes(&blob)).unwrap();
    let x = read("golden/vww_96_int8_real/astronaut.input.bin");
    let y = h.run(&[&x]).unwrap();
    assert_eq!(y[0], read("golden/vww_96_int8_real/astronaut.output.bin"));

    let rs = std::fs::read_to_string(&r.rust_path).unwrap();
    for line in [
        "pub const NAME: &str = \"vww_96_int8\";".to_string(),
        format!("pub const ARENA_BYTES: usize = {};", r.plan.arena_bytes),
        format!("pub const RAM_BYTES: usize = {};", r.plan.ram_bytes),
        format!("pub const WEIGHTS_BYTES: usize = {};", r.plan.weights_bytes),
        format!("pub const BLOB_LEN: usize = {};", blob.len()),
        format!("pub const MACS: u64 = {};", r.plan.macs),
        "pub const INPUT_LENS: [usize; INPUT_COUNT] = [27648];".to_string(),
        "pub const OUTPUT_LENS: [usize; OUTPUT_COUNT] = [2];".to_string(),
        "pub const OUTPUT_SCALE: f32 = 0.00390625;".to_string(),
        "pub const OUTPUT_ZERO_POINT: i32 = -128;".to_string(),
        "#[link_section = \".bfmd_model\"]".to_string(),
        format!("include_bytes!({:?})", r.blob_path),
        // The same generator as the boards': every input's quantization and the kernel set.
        "bfmd_graph::session::IoSpec { shape: [1, 96, 96, 3], dtype: bfmd_graph::DType::S8, \
         scale: 0.003921569, zero_point: -128, bytes: 27648 },"
            .to_string(),
        ".with(bfmd_graph::OpKind::Softmax, bfmd_graph::DType::S8, bfmd_graph::Form::InPlace)"
            .to_string(),
    ] {
        assert!(rs.contains(&line), "model.rs lacks `{line}`:\n{rs}");
    }
    assert!(r.plan.arena_bytes > 0 && r.plan.arena_bytes % 16 == 0);

    // A second run leaves identical files untouched (cargo would otherwise rebuild firmware).
    let before = std::fs::metadata(&r.rust_path).unwrap().modified().unwrap();
    compile_tflite_with(model_path("vww_96_int8.tflite"), &dir, &options).unwrap();
    let after = std::fs::metadata(&r.rust_path).unwrap().modified().unwrap();
    assert_eq!(before, after);
}

#[test]
fn firmware_form_errors_name_the_file_and_the_fault() {
    let dir = out_dir("firmware_form_errors");
    let missing = dir.join("no_such_model.tflite");
    match compile_tflite_with(&missing, &dir, &quiet()) {
        Err(e @ CompileError::Io { .. }) => {
            assert!(e.to_string().contains("no_such_model.tflite"), "{e}")
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("truncated.tflite");
    let bytes = read("models/mobilenet_v1_int8.tflite");
    std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();
    match compile_tflite_with(&bad, &dir, &quiet()) {
        Err(e @ CompileError::Import { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("truncated.tflite") && text.contains("model"),
                "{text}"
            )
        }
        other => panic!("expected an import error, got {other:?}"),
    }
}
