//! `cargo xtask infer` on the hostile and careless inputs of issue 16 (`tests/data/hostile/`,
//! see its README): each must fail at once (well under a second) with one line naming the
//! problem, and the flags that allow a case must work.

#[path = "../../bfmd-import/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn data(rel: &str) -> String {
    common::data_dir().join(rel).to_string_lossy().into_owned()
}

fn tmp(name: &str, bytes: &[u8]) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("xtask_hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_string_lossy().into_owned()
}

fn out() -> String {
    tmp("out.bin", &[])
}

/// Runs `xtask infer ARGS`; returns (success, stderr) after checking the time.
fn infer(args: &[&str]) -> (bool, String) {
    xtask("infer", args)
}

/// Runs `xtask TASK ARGS`; returns (success, stderr) after checking the time.
fn xtask(task: &str, args: &[&str]) -> (bool, String) {
    let t = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .arg(task)
        .args(args)
        .output()
        .expect("xtask runs");
    let took = t.elapsed();
    assert!(took < Duration::from_secs(1), "{args:?} took {took:?}");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The error line of a failing `xtask infer ARGS`, without the `error: ` prefix: the last
/// line of stderr and the only one that is an error (`--backbone` reports the network it
/// built on the lines before).
fn error(args: &[&str]) -> String {
    let (ok, err) = infer(args);
    assert!(!ok, "{args:?} succeeded");
    let lines: Vec<&str> = err.lines().collect();
    let errors = lines.iter().filter(|l| l.starts_with("error: ")).count();
    assert_eq!(errors, 1, "not one error line: {err}");
    let last = lines.last().expect("a message");
    last.strip_prefix("error: ")
        .unwrap_or_else(|| panic!("the error is not the last line: {err}"))
        .to_string()
}

fn model_error(model: &str, input: &str, extra: &[&str]) -> String {
    let o = out();
    let mut args = vec!["--model", model, "--input", input, "--output", &o];
    args.extend_from_slice(extra);
    error(&args)
}

#[test]
fn blob_reproducers_fail_at_once_with_one_line() {
    let z = tmp("z.bin", &[0; 27648]);
    let work = |kind: &str, value: u64, limit: u64| {
        format!(
            "invalid model: op 0 ({kind}): work per op (MACs, window taps or element \
             operations) is {value}, above the limit of {limit} (raise it with --max-work N)"
        )
    };
    for (file, kind, value) in [
        (
            "maxpool_bomb_4096_k2048.bfmd",
            "MaxPool2d",
            17_609_370_107_904,
        ),
        (
            "maxpool_bomb_2048_k1024.bfmd",
            "MaxPool2d",
            1_101_660_160_000,
        ),
        (
            "avgpool_bomb_f32_4096_k2048.bfmd",
            "AvgPool2d",
            17_609_370_107_904,
        ),
    ] {
        let m = data(&format!("hostile/{file}"));
        assert_eq!(
            model_error(&m, &z, &[]),
            format!("{m}: {}", work(kind, value, 1_000_000_000_000))
        );
    }
    let m = data("hostile/maxpool_bomb_512_k256.bfmd");
    assert_eq!(
        model_error(&m, &z, &["--max-work", "1000000000"]),
        format!("{m}: {}", work("MaxPool2d", 4_328_587_264, 1_000_000_000))
    );
    // The shared reproducers were made against an older plan of VWW, whose packed fully
    // connected layer had no scratch: they still fail at once in one line, now at that op.
    for file in ["arena_4g_vww.bfmd", "reserved_fields_nonzero_vww.bfmd"] {
        let m = data(&format!("hostile/{file}"));
        let e = model_error(&m, &z, &[]);
        assert!(e.starts_with(&format!("{m}: invalid model: ")), "{e}");
    }
    // The same two corruptions of today's VWW blob reach the checks they are about.
    let vww = bfmd_import::lower::tflite_bytes_to_graph(
        &std::fs::read(data("models/vww_96_int8.tflite")).unwrap(),
        &bfmd_import::lower::LowerOptions::default(),
    )
    .unwrap();
    let planned = vww.report.arena_bytes;
    let corrupt = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = vww.blob.as_bytes().to_vec();
        f(&mut b);
        let crc = bfmd_graph::crc32(&b[16..]);
        b[12..16].copy_from_slice(&crc.to_le_bytes());
        b
    };
    let m = tmp(
        "arena_4g_now.bfmd",
        &corrupt(&|b| b[16..20].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes())),
    );
    assert_eq!(
        model_error(&m, &z, &[]),
        format!(
            "{m}: invalid model: model header: arena_bytes is 4294967280 but the planned \
             regions need {planned} (header and plan disagree)"
        )
    );
    let m = tmp("reserved_now.bfmd", &corrupt(&|b| b[52..64].fill(0xAA)));
    assert_eq!(
        model_error(&m, &z, &[]),
        format!("{m}: invalid model: model header: reserved field not zero")
    );
    // A lower arena bound on a sound model.
    let m = data("models/vww_96_int8.tflite");
    assert_eq!(
        model_error(&m, &z, &["--max-arena", "4096"]),
        format!(
            "{m}: model: arena bytes is 39184, above the limit of 4096 (raise it with \
             --max-arena BYTES)"
        )
    );
}

#[test]
fn tflite_reproducers_fail_naming_the_operator_or_tensor() {
    let name = "conv_with_4_inputs_mobilenet_v2_int8.tflite";
    let m = tmp(name, &common::hostile(name));
    let z = tmp("z.bin", &[0; 27648]);
    assert_eq!(
        model_error(&m, &z, &[]),
        format!(
            "{m}: model.subgraphs[0].operators[0]: op 0 (CONV_2D): CONV_2D takes 2 or 3 \
             inputs, it has 4"
        )
    );
    let z = tmp("z110k.bin", &[0; 110_592]);
    for (name, tensor) in [
        (
            "zero_dim_shuffle_intermediate_shufflenet_v2_f32.tflite",
            "tensor 133 'shufflenet_v2_1/permute_1/transpose': zero-size tensor [1, 144, 0, 2]",
        ),
        (
            "scalar_shape_shuffle_intermediate_shufflenet_v2_f32.tflite",
            "tensor 205 'shufflenet_v2_1/permute_8_1/transpose': a scalar",
        ),
    ] {
        let m = tmp(name, &common::hostile(name));
        let e = model_error(&m, &z, &[]);
        assert!(e.contains(tensor), "{e}");
        assert!(
            e.ends_with("inside a channel shuffle (RESHAPE -> TRANSPOSE -> RESHAPE)"),
            "{e}"
        );
    }
}

#[test]
fn non_finite_and_empty_inputs_are_errors() {
    let m = data("models/vww_96_float.tflite");
    for f in ["nan_96x96x3.f32", "inf_96x96x3.f32"] {
        let x = data(&format!("hostile/{f}"));
        assert_eq!(
            model_error(&m, &x, &[]),
            format!(
                "{x}: input file has non-finite values (27648 of 27648 are NaN or infinite); \
                 pass --allow-non-finite to run anyway"
            )
        );
    }
    // Allowed on request: the run completes (two class probabilities).
    let x = data("hostile/nan_96x96x3.f32");
    let o = tmp("nan.out.bin", &[]);
    let (ok, err) = infer(&[
        "--model",
        &m,
        "--input",
        &x,
        "--output",
        &o,
        "--allow-non-finite",
    ]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(&o).unwrap().len(), 8);
    let e = data("hostile/empty_input.f32");
    assert_eq!(
        model_error(&m, &e, &[]),
        format!("{e}: input file is empty (input 0 (FLOAT32 1x96x96x3) takes 110592 bytes)")
    );
}

#[test]
fn backbone_inputs_calibration_and_keys_are_checked() {
    let w = data("torch/mobilenet_v2/mobilenet_v2.safetensors");
    let x = data("torch/mobilenet_v2/input_0.nhwc.f32");
    let nan = data("hostile/nan_96x96x3.f32");
    let empty = data("hostile/empty_input.f32");
    let o = out();
    let base = [
        "--backbone",
        "mobilenet_v2",
        "--weights",
        &w,
        "--output",
        &o,
    ];
    let run = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        error(&a)
    };
    assert_eq!(
        run(&["--input", &x, "--dtype", "int8", "--calibrate", &nan]),
        format!(
            "{nan}: calibration image 0 has non-finite values (27648 of 27648 are NaN or \
             infinite)"
        )
    );
    assert_eq!(
        run(&["--input", &empty]),
        format!("{empty}: input file is empty")
    );
    assert_eq!(
        run(&["--input", &x, "--set", "resolution=0"]),
        "--set resolution=0: the resolution must be at least 1 pixel"
    );
    assert_eq!(
        run(&["--input", &x, "--set", "depth=3"]),
        "--set depth=3: mobilenet_v2 does not use `depth` (its keys: width, resolution, \
         classes)"
    );
    assert_eq!(
        run(&["--input", &x, "--max-work", "1000000"]),
        "mobilenet_v2 width 0.35 at 96x96, 10 classes: 10666928 MACs per inference, above the \
         limit of 1000000 (raise it with --max-work N)"
    );
    assert_eq!(
        run(&["--input", &nan]),
        format!(
            "{nan}: input file has non-finite values (27648 of 27648 are NaN or infinite); \
             pass --allow-non-finite to run anyway"
        )
    );
}

#[test]
fn firmware_tasks_reject_a_bad_model_before_building() {
    // `size` and `flash` load the model as `infer` does before any firmware build: one line,
    // at once, instead of a build script's panic.
    let bomb = data("hostile/maxpool_bomb_4096_k2048.bfmd");
    let arena = data("hostile/arena_4g_vww.bfmd");
    for (task, args, model) in [
        ("size", vec!["--board", "qemu-m7", "--model", &bomb], &bomb),
        (
            "flash",
            vec!["--board", "stm32h7", "--model", &arena, "--dry-run"],
            &arena,
        ),
    ] {
        let (ok, err) = xtask(task, &args);
        assert!(!ok, "{task} succeeded");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{task}: not one line: {err}");
        assert!(
            lines[0].starts_with(&format!("error: {model}: invalid model: ")),
            "{task}: {err}"
        );
    }
}
