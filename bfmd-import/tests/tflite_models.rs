//! Every model of `tests/data/models/` parses, and what the reader returns matches the TFLM
//! golden manifests (`tests/data/golden/<model>/manifest.json`, written by the generator that
//! ran TFLM, not by this code): operator order and counts, each operator's tensor shapes and
//! dtypes, and the input and output shapes and quantization.

mod common;

use bfmd_import::tflite::{parse, DType, OpCode, Quantization, TfliteModel};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The golden folders with a model manifest (every int8 seed backbone).
const GOLDEN: &[&str] = &[
    "blazeface_backbone",
    "efficientnet_b0_w040",
    "googlenet",
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "mobilenext",
    "shufflenet_v1",
    "shufflenet_v2",
];

fn manifest(dir: &str) -> Value {
    let path = common::data_dir()
        .join("golden")
        .join(dir)
        .join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("manifest is JSON")
}

fn golden_file(dir: &str, name: &str) -> Vec<u8> {
    let path = common::data_dir().join("golden").join(dir).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn shape_of(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("shape is an array")
        .iter()
        .map(|d| d.as_u64().expect("dimension is a number") as usize)
        .collect()
}

fn dtype_name(d: DType) -> &'static str {
    // The manifests use numpy's names.
    match d {
        DType::I8 => "int8",
        DType::I32 => "int32",
        DType::F32 => "float32",
        DType::U8 => "uint8",
        DType::I16 => "int16",
        DType::I64 => "int64",
        other => other.name(),
    }
}

fn parse_file(name: &str) -> TfliteModel {
    parse(&common::model(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_model_parses_and_is_consistent() {
    let models = common::models();
    // 10 int8 backbones, 4 f32 twins, the two visual-wake-words models.
    assert_eq!(models.len(), 16, "tests/data/models/ should hold 16 models");
    for (name, bytes) in &models {
        let m = parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.version, 3, "{name}");
        assert_eq!(m.num_subgraphs, 1, "{name}");
        assert_eq!(m.inputs.len(), 1, "{name}");
        assert_eq!(m.outputs.len(), 1, "{name}");
        assert!(!m.operators.is_empty(), "{name}");
        // Every operator is one bfmd lowers.
        m.ensure_supported(|op| op.code.is_known())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for (i, t) in m.tensors.iter().enumerate() {
            if let Some(data) = m.tensor_data(i) {
                let want = t
                    .dtype
                    .data_len(t.num_elements())
                    .expect("fixed-size dtype");
                assert_eq!(data.len(), want, "{name}: tensor {i} '{}'", t.name);
            }
        }
        // The models are either fully int8 (int8 in and out) or fully float.
        let is_int8 = name.contains("int8");
        let io = if is_int8 { DType::I8 } else { DType::F32 };
        for &t in m.inputs.iter().chain(&m.outputs) {
            assert_eq!(m.tensors[t].dtype, io, "{name}: tensor {t}");
            assert_eq!(
                m.tensors[t].quantization.is_some(),
                is_int8,
                "{name}: tensor {t}"
            );
        }
    }
}

/// Checks the parsed operators against a manifest's `ops`, `op_counts`, `n_ops` and, when
/// given, `ops_detail`.
fn check_ops(
    what: &str,
    m: &TfliteModel,
    ops: Option<&Value>,
    counts: &Value,
    detail: Option<&Value>,
) {
    let names: Vec<&str> = m.operators.iter().map(|op| op.code.name()).collect();
    if let Some(ops) = ops {
        let want: Vec<&str> = ops
            .as_array()
            .expect("ops is an array")
            .iter()
            .map(|v| v.as_str().expect("op name"))
            .collect();
        assert_eq!(names, want, "{what}: operator order");
    }
    let want_counts: Vec<(String, usize)> = counts
        .as_object()
        .expect("op_counts is an object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().expect("count") as usize))
        .collect();
    assert_eq!(m.op_counts(), want_counts, "{what}: op_counts");
    let Some(detail) = detail else { return };
    let detail = detail.as_array().expect("ops_detail is an array");
    assert_eq!(detail.len(), m.operators.len(), "{what}: ops_detail length");
    for (i, (op, d)) in m.operators.iter().zip(detail).enumerate() {
        let ins: Vec<Vec<usize>> = op
            .inputs
            .iter()
            .map(|t| {
                m.tensors[t.expect("no omitted inputs in these models")]
                    .shape
                    .clone()
            })
            .collect();
        let want_ins: Vec<Vec<usize>> = d["in"]
            .as_array()
            .expect("in")
            .iter()
            .map(shape_of)
            .collect();
        assert_eq!(ins, want_ins, "{what}: op {i} ({}) input shapes", op.code);
        let dtypes: Vec<&str> = op
            .inputs
            .iter()
            .map(|t| dtype_name(m.tensors[t.expect("present")].dtype))
            .collect();
        let want_dtypes: Vec<&str> = d["in_dtypes"]
            .as_array()
            .expect("in_dtypes")
            .iter()
            .map(|v| v.as_str().expect("dtype"))
            .collect();
        assert_eq!(
            dtypes, want_dtypes,
            "{what}: op {i} ({}) input dtypes",
            op.code
        );
        let outs: Vec<Vec<usize>> = op
            .outputs
            .iter()
            .map(|&t| m.tensors[t].shape.clone())
            .collect();
        let want_outs: Vec<Vec<usize>> = d["out"]
            .as_array()
            .expect("out")
            .iter()
            .map(shape_of)
            .collect();
        assert_eq!(
            outs, want_outs,
            "{what}: op {i} ({}) output shapes",
            op.code
        );
    }
}

/// Checks tensor `t` against a manifest's `input`/`output` entry (shape, scale, zero point).
fn check_quantized_io(what: &str, m: &TfliteModel, t: usize, want: &Value) {
    let tensor = &m.tensors[t];
    assert_eq!(tensor.shape, shape_of(&want["shape"]), "{what}: shape");
    assert_eq!(
        dtype_name(tensor.dtype),
        want["dtype"].as_str().expect("dtype"),
        "{what}: dtype"
    );
    let scale = want["scale"].as_f64().expect("scale");
    let zero_point = want["zero_point"].as_i64().expect("zero_point");
    match &tensor.quantization {
        Some(Quantization::PerTensor {
            scale: s,
            zero_point: z,
        }) => {
            // The manifest holds the f32 scale widened to f64, so the match is exact.
            assert_eq!(f64::from(*s), scale, "{what}: scale");
            assert_eq!(i64::from(*z), zero_point, "{what}: zero point");
        }
        other => panic!("{what}: expected per-tensor quantization, got {other:?}"),
    }
}

#[test]
fn int8_models_match_golden_manifests() {
    for dir in GOLDEN {
        let man = manifest(dir);
        let file = man["int8_model"].as_str().expect("int8_model");
        let m = parse_file(file);
        assert_eq!(
            m.operators.len() as u64,
            man["n_ops"].as_u64().expect("n_ops"),
            "{dir}"
        );
        check_ops(
            dir,
            &m,
            Some(&man["ops"]),
            &man["op_counts"],
            Some(&man["ops_detail"]),
        );
        check_quantized_io(&format!("{dir} input"), &m, m.inputs[0], &man["input"]);
        check_quantized_io(&format!("{dir} output"), &m, m.outputs[0], &man["output"]);
    }
}

#[test]
fn f32_twins_match_golden_manifests() {
    let mut twins = 0;
    for dir in GOLDEN {
        let man = manifest(dir);
        if !man["f32_in_repo"].as_bool().expect("f32_in_repo") {
            continue;
        }
        twins += 1;
        let file = man["f32_model"].as_str().expect("f32_model");
        let m = parse_file(file);
        check_ops(&format!("{dir} f32"), &m, None, &man["f32_op_counts"], None);
        let input = &m.tensors[m.inputs[0]];
        assert_eq!(input.dtype, DType::F32, "{dir}");
        assert_eq!(input.shape, shape_of(&man["input"]["shape"]), "{dir}");
        let output = &m.tensors[m.outputs[0]];
        assert_eq!(output.dtype, DType::F32, "{dir}");
        assert_eq!(output.shape, shape_of(&man["f32_output"]["shape"]), "{dir}");
        // Float models carry no quantized weights.
        assert!(
            m.tensors.iter().all(|t| t.dtype != DType::I8),
            "{dir}: f32 model has int8 tensors"
        );
    }
    assert_eq!(
        twins, 4,
        "blazeface, mobilenet_v1, shufflenet_v1 and v2 have f32 twins"
    );
}

#[test]
fn golden_files_match_manifest_shapes_and_hashes() {
    for dir in GOLDEN {
        let man = manifest(dir);
        let n_in: usize = shape_of(&man["input"]["shape"]).iter().product();
        let n_out: usize = shape_of(&man["output"]["shape"]).iter().product();
        let twin = man["f32_in_repo"].as_bool().expect("f32_in_repo");
        let per_input = man["per_input"].as_array().expect("per_input");
        assert_eq!(per_input.len(), 4, "{dir}");
        for (i, entry) in per_input.iter().enumerate() {
            assert_eq!(
                golden_file(dir, &format!("input_{i}.bin")).len(),
                n_in,
                "{dir} input {i}"
            );
            let out = golden_file(dir, &format!("output_{i}.bin"));
            assert_eq!(out.len(), n_out, "{dir} output {i}");
            let sha: String = Sha256::digest(&out)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(
                sha,
                entry["output_sha256"].as_str().expect("sha"),
                "{dir} output {i}"
            );
            let f32_path = common::data_dir()
                .join("golden")
                .join(dir)
                .join(format!("output_f32_{i}.bin"));
            assert_eq!(
                f32_path.exists(),
                twin,
                "{dir}: output_f32_{i}.bin iff the f32 twin is here"
            );
            if twin {
                let n: usize = shape_of(&man["f32_output"]["shape"]).iter().product();
                assert_eq!(
                    std::fs::read(&f32_path).expect("readable").len(),
                    4 * n,
                    "{dir}"
                );
            }
        }
    }
}

#[test]
fn visual_wake_words_models_match_the_real_photo_goldens() {
    let man = manifest("vww_96_int8_real");
    let m = parse_file("vww_96_int8.tflite");
    let input = &m.tensors[m.inputs[0]];
    assert_eq!(
        (input.dtype, input.shape.as_slice()),
        (DType::I8, &[1, 96, 96, 3][..])
    );
    let output = &m.tensors[m.outputs[0]];
    assert_eq!(
        (output.dtype, output.shape.as_slice()),
        (DType::I8, &[1, 2][..])
    );
    // The manifest's preprocessing is `q = pixel - 128`: scale 1/255-ish, zero point -128.
    match input.quantization {
        Some(Quantization::PerTensor { zero_point, .. }) => assert_eq!(zero_point, -128),
        ref other => panic!("vww input quantization: {other:?}"),
    }
    let results = man["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    for r in results {
        let image = r["image"].as_str().expect("image");
        let bin = golden_file("vww_96_int8_real", &format!("{image}.input.bin"));
        assert_eq!(bin.len(), input.num_elements(), "{image}");
        let out = golden_file("vww_96_int8_real", &format!("{image}.output.bin"));
        let want: Vec<i8> = r["output"]
            .as_array()
            .expect("output")
            .iter()
            .map(|v| v.as_i64().expect("int") as i8)
            .collect();
        assert_eq!(
            out.iter().map(|&b| b as i8).collect::<Vec<_>>(),
            want,
            "{image}"
        );
        let png = golden_file("vww_96_int8_real", &format!("{image}_96.png"));
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{image}_96.png is a PNG");
    }
    // The float twin has the same graph with float tensors.
    let f = parse_file("vww_96_float.tflite");
    assert_eq!(f.op_counts(), m.op_counts());
    assert_eq!(f.tensors[f.inputs[0]].dtype, DType::F32);
    assert_eq!(f.tensors[f.inputs[0]].shape, input.shape);
}

#[test]
fn conv_weights_are_per_channel_and_options_decode() {
    let m = parse_file("mobilenet_v1_int8.tflite");
    // The stem: 3x3 stride-2 SAME convolution with a fused ReLU (Keras Conv-BN-ReLU folded),
    // 8 output channels, one weight scale per output channel on axis 0.
    let op = &m.operators[0];
    assert_eq!(op.code, OpCode::Conv2d);
    match &op.options {
        bfmd_import::tflite::Options::Conv2d(o) => {
            assert_eq!(
                (o.stride_w, o.stride_h, o.dilation_w, o.dilation_h),
                (2, 2, 1, 1)
            );
            assert_eq!(o.padding, bfmd_import::tflite::Padding::Same);
        }
        other => panic!("op 0 options: {other:?}"),
    }
    let w = &m.tensors[op.input(1).expect("filter")];
    assert_eq!(w.shape, vec![8, 3, 3, 3]);
    assert_eq!(w.dtype, DType::I8);
    match &w.quantization {
        Some(Quantization::PerChannel {
            scales,
            zero_points,
            axis,
        }) => {
            assert_eq!((scales.len(), *axis), (8, 0));
            assert!(
                zero_points.iter().all(|&z| z == 0),
                "TFLite int8 weights are symmetric"
            );
        }
        other => panic!("filter quantization: {other:?}"),
    }
    let b = &m.tensors[op.input(2).expect("bias")];
    assert_eq!((b.dtype, b.shape.as_slice()), (DType::I32, &[8][..]));
    assert_eq!(
        m.tensor_data(op.input(2).expect("bias")).map(<[u8]>::len),
        Some(32)
    );
    // The input is an activation: no constant data.
    assert!(m.tensor_data(op.input(0).expect("input")).is_none());
}
