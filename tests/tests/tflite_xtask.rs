//! `cargo xtask infer` and `cargo xtask plan` end to end: the commands are built and run by
//! cargo as a user runs them, on the smallest int8 model (visual wake words, 96x96).
//!
//! The commands run in a child `cargo run -p xtask`, which reuses this test run's target
//! directory (`CARGO_TARGET_DIR` is inherited), so after the first build they start at once.

mod tflite_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tflite_common::{data, lower_file, model_path, read};

fn xtask(args: &[&str]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    Command::new(cargo)
        .current_dir(&root)
        .args(["run", "--quiet", "-p", "xtask", "--"])
        .args(args)
        .output()
        .expect("cargo runs")
}

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tflite_xtask");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn infer_reproduces_tflm_and_plan_reports_the_lowering() {
    let model = model_path("vww_96_int8.tflite");
    let model = model.to_str().unwrap();
    let input = data().join("golden/vww_96_int8_real/astronaut.input.bin");
    let out = tmp("astronaut.out.bin");
    let _ = std::fs::remove_file(&out);
    let o = xtask(&[
        "infer",
        "--model",
        model,
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "infer failed: {}", stderr(&o));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        read("golden/vww_96_int8_real/astronaut.output.bin")
    );
    // Every input's and output's quantization, to feed and read real values.
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "input 0: INT8 1x96x96x3, scale 3.921569e-3, zero point -128\n\
         output 0: INT8 1x1x1x2, scale 3.90625e-3, zero point -128\n"
    );

    // Cut before the softmax: the logits, as the full model computes them there.
    let m = bfmd_import::tflite::parse(&read("models/vww_96_int8.tflite")).unwrap();
    let last = m.operators.len() - 1;
    let logits = m.operators[last].inputs[0].unwrap();
    let cut = tmp("astronaut.logits.bin");
    let o = xtask(&[
        "infer",
        "--model",
        model,
        "--input",
        input.to_str().unwrap(),
        "--output",
        cut.to_str().unwrap(),
        "--outputs",
        &m.tensors[logits].name,
    ]);
    assert!(o.status.success(), "infer --outputs failed: {}", stderr(&o));
    let full = bfmd_import::lower::lower(
        &m,
        &bfmd_import::lower::LowerOptions {
            extra_outputs: vec![logits],
            ..Default::default()
        },
    )
    .unwrap();
    let mut h = bfmd_import::lower::HostModel::new(full.built.blob).unwrap();
    let y = h.run(&[&std::fs::read(&input).unwrap()]).unwrap();
    assert_eq!(std::fs::read(&cut).unwrap(), y[1]);

    // The same through a blob built beforehand (what a board embeds).
    let blob = tmp("vww.bfmd");
    let want = lower_file("vww_96_int8.tflite").built;
    std::fs::write(&blob, want.blob.as_bytes()).unwrap();
    let out_blob = tmp("astronaut.blob.out.bin");
    let o = xtask(&[
        "infer",
        "--model",
        blob.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        out_blob.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "infer (.bfmd) failed: {}", stderr(&o));
    assert_eq!(
        std::fs::read(&out_blob).unwrap(),
        std::fs::read(&out).unwrap()
    );

    let o = xtask(&["plan", "--model", model, "--json"]);
    assert!(o.status.success(), "plan failed: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    let want = want.report;
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("no `{k}` in {v}")) as usize;
    assert_eq!(n("arena_bytes"), want.arena_bytes);
    assert_eq!(n("ram_bytes"), want.ram_bytes);
    assert_eq!(n("weights_bytes"), want.weights_bytes);
    assert_eq!(n("macs") as u64, want.macs);
    assert_eq!(n("op_count"), want.op_count);
    let ops = v["ops"].as_array().unwrap();
    assert_eq!(ops.len(), want.op_count);
    for (j, (op, r)) in ops.iter().zip(&want.ops).enumerate() {
        assert_eq!(op["kind"], r.kind.name(), "op {j}");
        let first = &op["outputs"][0];
        assert_eq!(
            first["offset"].as_u64(),
            Some(r.region.start as u64),
            "op {j}"
        );
        assert_eq!(first["bytes"].as_u64(), Some(r.region.len as u64), "op {j}");
        assert_eq!(first["name"].as_str(), Some(r.output.as_str()), "op {j}");
        let s = r.output_shape;
        assert_eq!(
            first["shape"],
            serde_json::json!([s.n, s.h, s.w, s.c]),
            "op {j}"
        );
        assert_eq!(op["scratch"]["bytes"].as_u64(), Some(r.scratch.len as u64));
    }
    // The first op of VWW is its stem convolution, TFLite operator 0.
    assert_eq!(ops[0]["tflite_name"], "CONV_2D");
    assert_eq!(ops[0]["tflite_op"], 0);

    // The text form carries the same totals.
    let o = xtask(&["plan", "--model", model]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        text.contains(&format!("arena bytes {:>15}", want.arena_bytes)),
        "{text}"
    );
}

#[test]
fn infer_fails_with_one_line_naming_the_problem() {
    let model = model_path("vww_96_int8.tflite");
    let model = model.to_str().unwrap();
    let wrong = data().join("golden/mobilenet_v1/output_0.bin");
    let out = tmp("never_written.bin");
    let _ = std::fs::remove_file(&out);
    for (args, needle) in [
        (
            vec![
                "infer",
                "--model",
                model,
                "--input",
                wrong.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
            ],
            "takes 27648",
        ),
        (
            vec![
                "infer",
                "--model",
                "no_such.tflite",
                "--input",
                "x",
                "--output",
                "y",
            ],
            "no_such.tflite",
        ),
        (vec!["infer", "--model", model], "--input"),
        (vec!["plan", "--model", model, "--yaml"], "--yaml"),
    ] {
        let o = xtask(&args);
        let e = stderr(&o);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert_eq!(
            e.trim_end().lines().count(),
            1,
            "{args:?}: not one line: {e}"
        );
        assert!(e.contains(needle), "{args:?}: {e}");
    }
    assert!(!out.exists(), "a failed run wrote its output");
}
