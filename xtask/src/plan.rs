//! `cargo xtask plan --model M.tflite [--json] [--kernels P]`: what the model costs, from the
//! plan the lowering made for the kernels `P` (`host`, the default, or `portable`, `dsp`,
//! `neon`, `mve`: a Cortex-M7 firmware plans for `dsp`): arena bytes, the executor's other run-time RAM, weight bytes, MACs, op count,
//! and per op its kind, the TFLite operator it comes from, its output shapes and the arena
//! offset and size of every buffer it writes (outputs and scratch).
//!
//! `--json` prints one JSON object with (at least) `arena_bytes`, `ram_bytes`, `weights_bytes`,
//! `macs` and `ops`; see [`json`] for every key.
//!
//! `ram_bytes` is `arena_bytes` plus `other_ram_bytes`, the executor's state that lives on the
//! stack while an op runs ([`bfmd_graph::exec::EXEC_STATE_BYTES`]: the arena carved into the
//! op's regions and the largest per-op tensor list). The kernels' buffers are scratch in the
//! arena (sized for `P`). Not counted: the kernels' own stack frames (scalars and loop state,
//! at most 1 KiB each, checked by `xtask/src/frames.rs`) and the caller's.

use crate::infer::{describe, Loaded};
use bfmd_graph::{Model, Region, Variant};
use serde_json::{json, Value};
use std::io::Write as _;
use std::path::PathBuf;

const USAGE: &str =
    "usage: cargo xtask plan --model M.tflite [--json] [--kernels host|portable|dsp|neon|mve]";

/// One buffer an op writes.
struct Buffer {
    name: String,
    shape: [usize; 4],
    what: String,
    region: Region,
}

/// One op's line.
struct OpLine {
    kind: &'static str,
    tflite_op: Option<usize>,
    tflite_name: String,
    variant: Variant,
    macs: u64,
    outputs: Vec<Buffer>,
    scratch: Region,
}

/// The plan of a loaded `.tflite` model.
struct Plan {
    arena_bytes: usize,
    ram_bytes: usize,
    greedy_bytes: usize,
    weights_bytes: usize,
    blob_bytes: usize,
    macs: u64,
    tflite_ops: usize,
    in_place_ops: usize,
    ops: Vec<OpLine>,
}

fn collect(loaded: &Loaded, m: &Model<'_>) -> Result<Plan, String> {
    let (Some(l), Some(tf)) = (&loaded.lowered, &loaded.tflite) else {
        return Err("plan needs a .tflite model (a .bfmd blob keeps no MACs or names)".into());
    };
    let r = &l.built.report;
    let mut ops = Vec::new();
    for (j, op) in m.ops().enumerate() {
        let src = l.sources.get(j);
        let outputs = (0..op.num_outputs())
            .map(|k| {
                let t = op.output(k);
                let info = m.tensor(t);
                let name = src
                    .and_then(|s| s.outputs.get(k))
                    .and_then(|&t| tf.tensors.get(t))
                    .map_or_else(|| format!("tensor {t}"), |x| x.name.clone());
                Buffer {
                    name,
                    shape: info.map_or([0; 4], |i| [i.shape.n, i.shape.h, i.shape.w, i.shape.c]),
                    what: describe(m, t),
                    region: info.map_or(Region { start: 0, len: 0 }, |i| i.region),
                }
            })
            .collect();
        ops.push(OpLine {
            kind: op.kind.name(),
            tflite_op: src.map(|s| s.op),
            tflite_name: src.map_or_else(String::new, |s| s.op_name.clone()),
            variant: op.variant,
            macs: r.ops.get(j).map_or(0, |o| o.macs),
            outputs,
            scratch: op.scratch,
        });
    }
    Ok(Plan {
        arena_bytes: m.arena_bytes(),
        ram_bytes: m.ram_bytes(),
        greedy_bytes: r.greedy_bytes,
        weights_bytes: m.constant_bytes(),
        blob_bytes: loaded.blob.as_bytes().len(),
        macs: r.macs,
        tflite_ops: tf.operators.len(),
        in_place_ops: r.in_place_ops,
        ops,
    })
}

fn variant_name(v: Variant) -> &'static str {
    match v {
        Variant::Normal => "normal",
        Variant::InPlace { input: 0 } => "in_place_0",
        Variant::InPlace { .. } => "in_place_1",
        Variant::Overlapping => "overlapping",
    }
}

/// The plan as one JSON object: `arena_bytes`, `ram_bytes`, `other_ram_bytes`,
/// `weights_bytes`, `blob_bytes`, `macs`, `op_count`, `tflite_op_count`, `in_place_ops`,
/// `greedy_arena_bytes` (the plan without in-place decisions), and `ops`, each with `index`,
/// `kind`, `tflite_op`, `tflite_name`, `variant`, `macs`, `outputs` (`name`, `shape`, `type`,
/// `offset`, `bytes`) and `scratch` (`offset`, `bytes`).
fn json(p: &Plan, model: &str) -> Value {
    let ops: Vec<Value> = p
        .ops
        .iter()
        .enumerate()
        .map(|(j, o)| {
            json!({
                "index": j,
                "kind": o.kind,
                "tflite_op": o.tflite_op,
                "tflite_name": o.tflite_name,
                "variant": variant_name(o.variant),
                "macs": o.macs,
                "outputs": o.outputs.iter().map(|b| json!({
                    "name": b.name,
                    "shape": b.shape,
                    "type": b.what,
                    "offset": b.region.start,
                    "bytes": b.region.len,
                })).collect::<Vec<_>>(),
                "scratch": {"offset": o.scratch.start, "bytes": o.scratch.len},
            })
        })
        .collect();
    json!({
        "model": model,
        "arena_bytes": p.arena_bytes,
        "ram_bytes": p.ram_bytes,
        "other_ram_bytes": p.ram_bytes - p.arena_bytes,
        "weights_bytes": p.weights_bytes,
        "blob_bytes": p.blob_bytes,
        "macs": p.macs,
        "op_count": p.ops.len(),
        "tflite_op_count": p.tflite_ops,
        "in_place_ops": p.in_place_ops,
        "greedy_arena_bytes": p.greedy_bytes,
        "ops": ops,
    })
}

fn text(p: &Plan, model: &str) -> String {
    let mut s = format!(
        "{model}\n\
         arena bytes      {:>10}  (without in-place decisions: {})\n\
         other RAM bytes  {:>10}  (executor state on the stack while an op runs)\n\
         RAM bytes        {:>10}\n\
         weights bytes    {:>10}  (blob {} bytes)\n\
         MACs             {:>10}\n\
         ops              {:>10}  ({} TFLite operators; {} in place or overlapping)\n\n",
        p.arena_bytes,
        p.greedy_bytes,
        p.ram_bytes - p.arena_bytes,
        p.ram_bytes,
        p.weights_bytes,
        p.blob_bytes,
        p.macs,
        p.ops.len(),
        p.tflite_ops,
        p.in_place_ops,
    );
    s.push_str(&format!(
        "{:>4} {:<18} {:<10} {:<22} {:>8} {:>8} {:>8} {:>7} {:<11} {}\n",
        "op",
        "kind",
        "tflite",
        "output",
        "offset",
        "bytes",
        "scratch@",
        "scratch",
        "variant",
        "name"
    ));
    for (j, o) in p.ops.iter().enumerate() {
        let tflite = o.tflite_op.map_or_else(String::new, |i| format!("#{i}"));
        for (k, b) in o.outputs.iter().enumerate() {
            let first = k == 0;
            s.push_str(&format!(
                "{:>4} {:<18} {:<10} {:<22} {:>8} {:>8} {:>8} {:>7} {:<11} {}\n",
                if first { j.to_string() } else { String::new() },
                if first { o.kind } else { "" },
                if first { tflite.as_str() } else { "" },
                b.what,
                b.region.start,
                b.region.len,
                if first && o.scratch.len > 0 {
                    o.scratch.start.to_string()
                } else {
                    String::new()
                },
                if first && o.scratch.len > 0 {
                    o.scratch.len.to_string()
                } else {
                    String::new()
                },
                if first { variant_name(o.variant) } else { "" },
                b.name
            ));
        }
    }
    s
}

pub fn run(args: &[String]) -> Result<(), String> {
    let (mut model, mut as_json) = (None, false);
    let mut kernels = bfmd_graph::KernelPath::HOST;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--model" => {
                model = Some(PathBuf::from(
                    it.next()
                        .ok_or_else(|| format!("--model needs a value ({USAGE})"))?,
                ))
            }
            "--json" => as_json = true,
            "--kernels" => {
                use bfmd_graph::KernelPath as K;
                kernels = match it.next().map(String::as_str) {
                    Some("host") => K::HOST,
                    Some("portable") => K::Portable,
                    Some("dsp") => K::Dsp,
                    Some("neon") => K::Neon,
                    Some("mve") => K::Mve,
                    _ => return Err(format!("--kernels needs a path ({USAGE})")),
                }
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}` ({USAGE})")),
        }
    }
    let model = model.ok_or_else(|| format!("--model is required ({USAGE})"))?;
    let loaded = crate::infer::load_for(&model, kernels)?;
    let m = loaded
        .blob
        .model()
        .map_err(|e| format!("{}: {e}", model.display()))?;
    let p = collect(&loaded, &m).map_err(|e| format!("{}: {e}", model.display()))?;
    let name = model.display().to_string();
    let out = if as_json {
        format!("{}\n", json(&p, &name))
    } else {
        text(&p, &name)
    };
    // A reader that stops early (`| head`) is not an error of the plan.
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("stdout: {e}")),
        _ => Ok(()),
    }
}
