//! Prints what `bfmd_import::tflite::parse` reads from `.tflite` files: tensors, operators
//! with their options, inputs and outputs.
//!
//! `cargo run -p bfmd-import --example tflite_dump -- tests/data/models/mobilenet_v1_int8.tflite`

use bfmd_import::tflite::{parse, TfliteModel};

fn main() -> std::process::ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: tflite_dump <model.tflite>...");
        return std::process::ExitCode::from(2);
    }
    let mut failed = false;
    for path in &paths {
        match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| parse(&b).map_err(|e| e.to_string()))
        {
            Ok(model) => dump(path, &model),
            Err(e) => {
                eprintln!("{path}: {e}");
                failed = true;
            }
        }
    }
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

fn dump(path: &str, m: &TfliteModel) {
    println!(
        "{path}: schema v{}, {:?}, subgraph {:?} ({} subgraphs), {} tensors, {} operators",
        m.version,
        m.description,
        m.subgraph_name,
        m.num_subgraphs,
        m.tensors.len(),
        m.operators.len()
    );
    for (i, t) in m.tensors.iter().enumerate() {
        let data = t.data.as_ref().map(|r| r.len());
        println!(
            "  t{i:<4} {:<8} {:?} q={:?} data={data:?} {:?}",
            t.dtype.name(),
            t.shape,
            t.quantization.as_ref().map(short_quant),
            t.name
        );
    }
    for (i, op) in m.operators.iter().enumerate() {
        println!(
            "  op{i:<3} {} v{} in={:?} out={:?} {:?}",
            op.code, op.version, op.inputs, op.outputs, op.options
        );
    }
    println!("  inputs {:?} outputs {:?}", m.inputs, m.outputs);
}

fn short_quant(q: &bfmd_import::tflite::Quantization) -> String {
    match q {
        bfmd_import::tflite::Quantization::PerTensor { scale, zero_point } => {
            format!("{scale}/{zero_point}")
        }
        bfmd_import::tflite::Quantization::PerChannel { scales, axis, .. } => {
            format!("{} scales on axis {axis}", scales.len())
        }
    }
}
