//! `cargo xtask bench [--shapes-only] [--models a,b,...] [--no-portable] [--no-m55] [--no-host]`:
//! measures bfmd and writes `bench/results.json` and the tables of `bench/README.md`.
//!
//! * Kernel shapes (`../shared/BENCH.md`): the `shapes` program of `boards/bench` on the emulated
//!   Cortex-M7 (and M55), built normally (the DSP paths) and with `force-portable`; exact
//!   instruction counts (QEMU `-icount`), each set against CMSIS-NN's count from BENCH.md.
//! * Models (`tests/data/models/*int8*.tflite`): the `infer` program of `boards/qemu` with the
//!   model compiled in, on the M7 and the M55 (and the M7 with the portable kernels), on the
//!   model's first golden input, whose output must equal TFLM's; instructions per inference,
//!   MACs, arena and RAM bytes (against TFLM's arena from the golden manifests) and flash bytes
//!   of the ELF.
//! * Host latency per model: the criterion benchmark `benches/benches/models.rs` (x86-64, one
//!   thread), read back from criterion's estimates.
//!
//! Speed is measured here and reported, never asserted by a test.

use crate::board::{self, Board};
use crate::run::{root, status};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// CMSIS-NN's instruction counts on the emulated Cortex-M7 (`../shared/BENCH.md`: commit
/// 99f736a, arm-none-eabi-gcc 12.2 -O3, QEMU 7.2 mps2-an500 `-icount shift=7`), by shape id:
/// (description, MACs or elements, DSP count, pure-C count, M55 Helium count).
const CMSIS_NN: &[(&str, &str, u64, u64, u64, u64)] = &[
    (
        "a",
        "depthwise 3x3 s1 pad 1, 48x48x32",
        663_552,
        5_846_690,
        6_708_869,
        1_785_998,
    ),
    (
        "b",
        "depthwise 3x3 s2 pad 1, 48x48x64 -> 24x24x64",
        331_776,
        2_869_274,
        3_317_453,
        764_700,
    ),
    (
        "c",
        "1x1 conv 24x24x64 -> 128",
        4_718_592,
        9_558_778,
        14_544_080,
        1_849_417,
    ),
    (
        "d",
        "1x1 conv 12x12x128 -> 128",
        2_359_296,
        4_076_794,
        6_630_838,
        665_233,
    ),
    (
        "e",
        "conv 3x3 s2 SAME, 96x96x3 -> 48x48x8",
        497_664,
        3_101_671,
        3_474_709,
        990_658,
    ),
    (
        "f1",
        "global average pool 3x3x256",
        2_304,
        17_493,
        44_228,
        5_525,
    ),
    (
        "f2",
        "fully connected 256 -> 10",
        2_560,
        5_433,
        9_756,
        1_747,
    ),
    (
        "g",
        "elementwise add 24x24x32 (two scales)",
        18_432,
        1_481_596,
        1_548_373,
        253_530,
    ),
];

/// Shapes of the `shapes` program with no CMSIS-NN count in BENCH.md, by id: (description,
/// MACs). h checks that rows wider than a fixed buffer once held stay on the DSP loop (issue
/// 12): its instructions per MAC should be shape a's.
const EXTRA_SHAPES: &[(&str, &str, u64)] = &[(
    "h",
    "depthwise 3x3 s1 pad 1, 12x481x32 (rows of 481 pixels)",
    1_662_336,
)];

/// The "must show" limits of issue 6: every shape at most this fraction of CMSIS-NN's count.
const MAX_RATIO: f64 = 0.7;
/// Issue 6's bar for the visual-wake-words model end to end on the Cortex-M7: instructions per MAC.
const VWW_MAX_PER_MAC: f64 = 1.5;

/// Options of one run.
struct Options {
    shapes_only: bool,
    models: Option<Vec<String>>,
    portable: bool,
    m55: bool,
    host: bool,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        shapes_only: false,
        models: None,
        portable: true,
        m55: true,
        host: true,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--shapes-only" => o.shapes_only = true,
            "--no-portable" => o.portable = false,
            "--no-m55" => o.m55 = false,
            "--no-host" => o.host = false,
            "--models" => {
                let v = it.next().ok_or("--models needs a comma-separated list")?;
                o.models = Some(v.split(',').map(str::to_string).collect());
            }
            other => return Err(format!("`cargo xtask bench`: unknown option `{other}`")),
        }
    }
    Ok(o)
}

/// `cargo` in a firmware crate's directory with its own target directory, like
/// `Board::build` but with extra features and environment (the portable comparison builds).
fn firmware_cargo(b: &Board, crate_dir: &str, variant: &str) -> (Command, PathBuf) {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let base = if base.is_absolute() {
        base
    } else {
        root().join(base)
    };
    let target_dir = base.join("boards").join(format!("{crate_dir}{variant}"));
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root().join("boards").join(crate_dir))
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("BFMD_FORCE_PORTABLE")
        .args(["build", "--release", "--target", b.target]);
    let elf_dir = target_dir.join(b.target).join("release");
    (c, elf_dir)
}

/// Builds the `shapes` program for `b`, portable or not; returns the ELF.
fn build_shapes(b: &Board, portable: bool) -> Result<PathBuf, String> {
    let variant = if portable { "-portable" } else { "" };
    let (mut c, dir) = firmware_cargo(b, "bench", variant);
    c.args(["--bin", "shapes"]);
    if portable {
        c.args(["--features", "force-portable"]);
    }
    status(&format!("build {} shapes{variant}", b.name), &mut c)?;
    Ok(dir.join("shapes"))
}

/// One `shape` line of the `shapes` program.
#[derive(Debug, Clone)]
struct ShapeLine {
    id: String,
    path: String,
    instructions: u64,
    macs: u64,
}

/// Parses the `shape <id> <path> <instructions> <macs>` lines; the first line of each id is
/// the dispatcher's, the second the portable loop's.
fn parse_shapes(stdout: &str) -> Result<Vec<ShapeLine>, String> {
    let lines = crate::qemu::results(stdout)?;
    let mut v = Vec::new();
    for l in lines {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() == 5 && f[0] == "shape" {
            let num = |s: &str| {
                s.parse::<u64>()
                    .map_err(|e| format!("bad number `{s}` in `{l}`: {e}"))
            };
            v.push(ShapeLine {
                id: f[1].to_string(),
                path: f[2].to_string(),
                instructions: num(f[3])?,
                macs: num(f[4])?,
            });
        }
    }
    if v.is_empty() {
        return Err("the shapes program printed no `shape` line".into());
    }
    Ok(v)
}

/// Runs `shapes` on `b`: per shape id, the dispatcher's line (the first of the id) and the
/// portable loop's line in the same firmware (the second), when there is one.
fn run_shapes(b: &Board, elf: &Path) -> Result<Vec<(ShapeLine, Option<ShapeLine>)>, String> {
    let dir = std::env::temp_dir();
    let out = crate::qemu::run(b, elf, &dir, &[], Duration::from_secs(600))?;
    let mut pairs: Vec<(ShapeLine, Option<ShapeLine>)> = Vec::new();
    for s in parse_shapes(&out.stdout)? {
        match pairs.iter_mut().find(|p| p.0.id == s.id) {
            Some(p) if p.1.is_none() => p.1 = Some(s),
            Some(_) => {}
            None => pairs.push((s, None)),
        }
    }
    Ok(pairs)
}

/// The kernel-shape section of the results.
fn shapes(o: &Options) -> Result<Value, String> {
    let m7 = board::find("qemu-m7")?;
    let m55 = board::find("qemu-m55")?;
    let dsp: Vec<ShapeLine> = run_shapes(m7, &build_shapes(m7, false)?)?
        .into_iter()
        .map(|p| p.0)
        .collect();
    let portable = if o.portable {
        Some(
            run_shapes(m7, &build_shapes(m7, true)?)?
                .into_iter()
                .map(|p| p.0)
                .collect::<Vec<_>>(),
        )
    } else {
        None
    };
    let m55_lines = if o.m55 {
        Some(run_shapes(m55, &build_shapes(m55, false)?)?)
    } else {
        None
    };
    let mut map = Map::new();
    // BENCH.md's shapes with CMSIS-NN's counts, then the extra ones.
    let all = CMSIS_NN
        .iter()
        .map(|&(id, what, macs, dsp, c, m55)| (id, what, macs, Some((dsp, c, m55))))
        .chain(
            EXTRA_SHAPES
                .iter()
                .map(|&(id, what, macs)| (id, what, macs, None)),
        );
    for (id, what, macs, cmsis_counts) in all {
        let Some(s) = dsp.iter().find(|s| s.id == id) else {
            return Err(format!("the shapes program did not measure shape {id}"));
        };
        if s.macs != macs {
            return Err(format!(
                "shape {id}: the program counts {} MACs, bench.rs {macs}",
                s.macs
            ));
        }
        let find = |v: &Option<Vec<ShapeLine>>| {
            v.as_ref()
                .and_then(|v| v.iter().find(|x| x.id == id))
                .map(|x| (x.instructions, x.path.clone()))
        };
        let m55_pair = m55_lines
            .as_ref()
            .and_then(|v| v.iter().find(|p| p.0.id == id));
        let mut e = json!({
            "what": what,
            "instructions": s.instructions,
            "macs": s.macs,
            "path": s.path,
            "instructions_per_mac": s.instructions as f64 / macs as f64,
        });
        let cmsis = cmsis_counts.map(|(c, _, _)| c);
        if let Some((cmsis, cmsis_c, cmsis_m55)) = cmsis_counts {
            e["cmsis_nn_instructions"] = json!(cmsis);
            e["ratio_to_cmsis_nn"] = json!(s.instructions as f64 / cmsis as f64);
            e["cmsis_nn_pure_c_instructions"] = json!(cmsis_c);
            e["cmsis_nn_m55_helium_instructions"] = json!(cmsis_m55);
        }
        if let Some((n, path)) = find(&portable) {
            e["portable_instructions"] = json!(n);
            e["portable_path"] = json!(path);
        }
        // A shape whose default layer stores its weights in another layout (f2: int16 pairs)
        // is also measured with int8 weights, as `<id>-int8`.
        if let Some(v) = dsp.iter().find(|x| x.id == format!("{id}-int8")) {
            e["int8_weights_instructions"] = json!(v.instructions);
            e["int8_weights_path"] = json!(v.path);
            if let Some(c) = cmsis {
                e["int8_weights_ratio_to_cmsis_nn"] = json!(v.instructions as f64 / c as f64);
            }
        }
        if let Some((d, p)) = m55_pair {
            e["m55_instructions"] = json!(d.instructions);
            e["m55_path"] = json!(d.path);
            // The M55 has no force-portable build here: the portable loop's count comes from
            // the same firmware, which runs it on the same data after the dispatcher.
            if let Some(p) = p {
                e["m55_portable_instructions"] = json!(p.instructions);
            }
        }
        map.insert(id.to_string(), e);
    }
    Ok(Value::Object(map))
}

/// The int8 test models to measure, by file stem.
fn model_files(o: &Options) -> Result<Vec<(String, PathBuf)>, String> {
    let dir = root().join("tests/data/models");
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "tflite"))
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?.to_string();
            stem.contains("int8").then_some((stem, p))
        })
        .collect();
    v.sort();
    if let Some(want) = &o.models {
        v.retain(|(s, _)| {
            want.iter()
                .any(|w| s == w || s.strip_suffix("_int8") == Some(w))
        });
        if v.is_empty() {
            return Err(format!("no model in {} matches {want:?}", dir.display()));
        }
    }
    Ok(v)
}

/// TFLM's arena bytes for a model, from its golden folder (`manifest.json` of the seeded
/// backbones, `tflm_arena.json` of the photographs).
pub(crate) fn tflm_arena(model: &Path) -> Option<u64> {
    let dir = crate::sim::golden_dir(model)?;
    for f in ["manifest.json", "tflm_arena.json"] {
        let Ok(text) = std::fs::read_to_string(dir.join(f)) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if let Some(n) = v["tflm_arena"]["recorded_total_bytes"].as_u64() {
            return Some(n);
        }
    }
    None
}

/// One model on one board and kernel variant: instructions of the first golden input (whose
/// output must be TFLM's), and the ELF's memory use.
fn run_model(b: &Board, model: &Path, portable: bool) -> Result<Value, String> {
    let variant = if portable { "-portable" } else { "" };
    let (mut c, dir) = firmware_cargo(b, "qemu", variant);
    c.args(["--bin", "infer", "--features", "model"])
        .env("BFMD_MODEL", model);
    if portable {
        c.env("BFMD_FORCE_PORTABLE", "1");
    }
    status(
        &format!("build {} infer{variant} ({})", b.name, model.display()),
        &mut c,
    )?;
    let elf = dir.join("infer");
    let golden = crate::sim::golden_dir(model)
        .map(|d| crate::sim::golden_pairs(&d))
        .unwrap_or_default();
    let Some((input, expected)) = golden.first() else {
        return Err(format!("{} has no golden input", model.display()));
    };
    let run = crate::sim::run_firmware(b, &elf, std::slice::from_ref(input), false)?;
    let inf = run
        .inferences
        .first()
        .ok_or("the firmware reported no inference")?;
    let want = std::fs::read(expected).map_err(|e| format!("{}: {e}", expected.display()))?;
    if inf.output != want {
        return Err(format!(
            "{} on {}{variant}: output differs from TFLM's {}",
            model.display(),
            b.name,
            expected.display()
        ));
    }
    let u = crate::size::usage_of(&elf, b)?;
    Ok(json!({
        "instructions": inf.instructions,
        "ram_bytes": u.ram(),
        "arena_bytes": u.arena,
        "flash_bytes": u.flash(),
        "model_bytes": u.model,
    }))
}

/// The model section of the results.
fn models(o: &Options) -> Result<Value, String> {
    let m7 = board::find("qemu-m7")?;
    let m55 = board::find("qemu-m55")?;
    let mut map = Map::new();
    for (stem, path) in model_files(o)? {
        let loaded = crate::infer::load(&path)?;
        let macs = loaded
            .lowered
            .as_ref()
            .map(|l| l.built.report.macs)
            .ok_or("a .tflite model lowers with a report")?;
        let r7 = run_model(m7, &path, false)?;
        let n7 = r7["instructions"].as_u64().unwrap_or(0);
        let mut e = json!({
            "macs": macs,
            "instructions_m7": n7,
            "instructions_per_mac_m7": n7 as f64 / macs.max(1) as f64,
            "ram_bytes": r7["ram_bytes"],
            "arena_bytes": r7["arena_bytes"],
            "flash_bytes": r7["flash_bytes"],
            "model_bytes": r7["model_bytes"],
        });
        if let Some(t) = tflm_arena(&path) {
            e["tflm_arena_bytes"] = json!(t);
        }
        if o.m55 {
            let r55 = run_model(m55, &path, false)?;
            e["instructions_m55"] = r55["instructions"].clone();
        }
        if o.portable {
            let rp = run_model(m7, &path, true)?;
            e["instructions_m7_portable"] = rp["instructions"].clone();
        }
        eprintln!("    {stem}: {e}");
        map.insert(stem, e);
    }
    Ok(Value::Object(map))
}

/// Runs the criterion benchmark and reads the mean time of each model (milliseconds).
fn host_latency() -> Result<Map<String, Value>, String> {
    let mut c = crate::run::cargo();
    c.args([
        "bench",
        "-p",
        "bfmd-bench",
        "--bench",
        "models",
        "--",
        "--noplot",
    ]);
    status("criterion host benchmark", &mut c)?;
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let dir = base.join("criterion/models");
    let mut map = Map::new();
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for e in entries.filter_map(|e| e.ok()) {
        let est = e.path().join("new/estimates.json");
        let Ok(text) = std::fs::read_to_string(&est) else {
            continue;
        };
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", est.display()))?;
        if let Some(ns) = v["mean"]["point_estimate"].as_f64() {
            map.insert(
                e.file_name().to_string_lossy().into_owned(),
                json!(ns / 1e6),
            );
        }
    }
    Ok(map)
}

/// The Markdown tables of the results.
fn tables(results: &Value) -> String {
    let mut s = String::new();
    s.push_str(
        "| shape | what | path | bfmd M7 instructions | instr/MAC | CMSIS-NN M7 (DSP) | ratio | M7 portable | bfmd M55 | M55 portable loop |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    if let Some(m) = results["shapes"].as_object() {
        for (id, e) in m {
            let per = if id == "f1" || id == "g" {
                format!(
                    "{:.2} /element",
                    e["instructions_per_mac"].as_f64().unwrap_or(0.0)
                )
            } else {
                format!("{:.2}", e["instructions_per_mac"].as_f64().unwrap_or(0.0))
            };
            let (cmsis, ratio) = match e.get("cmsis_nn_instructions") {
                Some(c) => (
                    c.to_string(),
                    format!("**{:.2}x**", e["ratio_to_cmsis_nn"].as_f64().unwrap_or(0.0)),
                ),
                None => ("-".to_string(), "-".to_string()),
            };
            s.push_str(&format!(
                "| {id} | {} | {} | {} | {per} | {cmsis} | {ratio} | {} | {} | {} |\n",
                e["what"].as_str().unwrap_or(""),
                e["path"].as_str().unwrap_or(""),
                e["instructions"],
                e.get("portable_instructions")
                    .map_or("-".into(), |v| v.to_string()),
                e.get("m55_instructions")
                    .map_or("-".into(), |v| v.to_string()),
                e.get("m55_portable_instructions")
                    .map_or("-".into(), |v| v.to_string()),
            ));
        }
    }
    if let Some(m) = results["shapes"].as_object() {
        for (id, e) in m {
            if let Some(n) = e.get("int8_weights_instructions") {
                s.push_str(&format!(
                    "\n{id}: path `{}` reads weights the importer stored as int16 pairs \
                     (fully connected layers of up to {} weights, twice their flash); \
                     with int8 weights (`{}`) the layer takes {n} instructions ({:.2}x).\n",
                    e["path"].as_str().unwrap_or(""),
                    bfmd_graph::builder::DEFAULT_WIDE_FC_WEIGHTS,
                    e["int8_weights_path"].as_str().unwrap_or(""),
                    e["int8_weights_ratio_to_cmsis_nn"].as_f64().unwrap_or(0.0),
                ));
            }
        }
    }
    if let Some(m) = results["models"].as_object() {
        s.push_str(
            "\n| model | MACs | M7 instructions | instr/MAC | M7 portable | M55 instructions | arena B | TFLM arena B | arena / TFLM | RAM B | flash B | host ms |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for (name, e) in m {
            let opt = |k: &str| e.get(k).map_or("-".to_string(), |v| v.to_string());
            s.push_str(&format!(
                "| {name} | {} | {} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                e["macs"],
                e["instructions_m7"],
                e["instructions_per_mac_m7"].as_f64().unwrap_or(0.0),
                opt("instructions_m7_portable"),
                opt("instructions_m55"),
                e["arena_bytes"],
                opt("tflm_arena_bytes"),
                match (e["arena_bytes"].as_f64(), e["tflm_arena_bytes"].as_f64()) {
                    (Some(a), Some(t)) if t > 0.0 => format!("{:.2}", a / t),
                    _ => "-".to_string(),
                },
                e["ram_bytes"],
                e["flash_bytes"],
                e.get("host_ms")
                    .and_then(|v| v.as_f64())
                    .map_or("-".to_string(), |v| format!("{v:.3}")),
            ));
        }
    }
    s
}

/// The bars, met or not, in a few lines for the repository's README: the worst shape
/// against CMSIS-NN, depthwise instructions per MAC, the add per element, and the
/// visual-wake-words model end to end.
fn summary(results: &Value) -> String {
    let mut s = String::new();
    let f = |e: &Value, k: &str| e[k].as_f64().unwrap_or(f64::NAN);
    if let Some(sh) = results["shapes"].as_object() {
        // Shapes with a CMSIS-NN count (not the extra ones).
        let ratios: Vec<(&String, f64)> = sh
            .iter()
            .filter_map(|(id, e)| e["ratio_to_cmsis_nn"].as_f64().map(|r| (id, r)))
            .collect();
        let best = ratios.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
        if let Some((worst_id, worst)) = ratios.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1)) {
            let over: Vec<&str> = ratios
                .iter()
                .filter(|r| r.1 > MAX_RATIO)
                .map(|r| r.0.as_str())
                .collect();
            let verdict = if over.is_empty() {
                format!("bar: {MAX_RATIO}x, met by every shape")
            } else {
                format!("bar: {MAX_RATIO}x; **above it: {}**", over.join(", "))
            };
            s.push_str(&format!(
                "- Kernel shapes on the Cortex-M7: {best:.2}x to {worst:.2}x (shape {worst_id}) of \
                 CMSIS-NN's instruction count ({verdict}).\n"
            ));
        }
        if let (Some(a), Some(b), Some(g)) = (sh.get("a"), sh.get("b"), sh.get("g")) {
            s.push_str(&format!(
                "- Depthwise 3x3: {:.2} (a, stride 1) and {:.2} (b, stride 2) instructions per \
                 MAC (bar: 4); add (g): {:.1} instructions per element (bar: 20).\n",
                f(a, "instructions_per_mac"),
                f(b, "instructions_per_mac"),
                f(g, "instructions_per_mac"),
            ));
        }
        if let Some(h) = sh.get("h") {
            s.push_str(&format!(
                "- Depthwise 3x3 on rows of 481 pixels (h): {:.2} instructions per MAC, path `{}` \
                 (shape a's rate: no fixed buffer caps the DSP loop).\n",
                f(h, "instructions_per_mac"),
                h["path"].as_str().unwrap_or(""),
            ));
        }
    }
    if let Some(v) = results["models"].get("vww_96_int8") {
        let ipm = f(v, "instructions_m7") / f(v, "macs");
        let met = if ipm <= VWW_MAX_PER_MAC {
            "met"
        } else {
            "not met"
        };
        s.push_str(&format!(
            "- Visual wake words end to end on the Cortex-M7: {} instructions for {} MACs, \
             **{ipm:.2} instructions per MAC** (bar: {VWW_MAX_PER_MAC}, {met})",
            v["instructions_m7"], v["macs"]
        ));
        if let Some(n) = v.get("instructions_m55") {
            s.push_str(&format!("; {n} on the Cortex-M55"));
        }
        if let Some(n) = v.get("instructions_m7_portable") {
            s.push_str(&format!("; {n} on the M7 with the portable kernels"));
        }
        s.push_str(".\n");
    }
    s
}

/// Replaces the generated part (between the `<!-- {tag}: begin -->` and `end` markers) of
/// each of `files` with `body`, so the figures the READMEs quote are the last run's.
pub(crate) fn update_readmes(body: &str, files: &[&str], tag: &str) -> Result<(), String> {
    let (begin, end) = (
        format!("<!-- {tag}: begin -->"),
        format!("<!-- {tag}: end -->"),
    );
    let (begin, end) = (begin.as_str(), end.as_str());
    for file in files {
        let path = root().join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let generated = format!("{begin}\n{body}{end}");
        let new = match (text.find(begin), text.find(end)) {
            (Some(a), Some(b)) if b > a => {
                format!("{}{generated}{}", &text[..a], &text[b + end.len()..])
            }
            _ => format!("{text}\n{generated}\n"),
        };
        std::fs::write(&path, new).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// `cargo xtask bench`.
pub fn run(args: &[String]) -> Result<(), String> {
    let o = parse_args(args)?;
    crate::deps::ensure_all()?;
    let mut results = json!({
        "generator": "cargo xtask bench",
        "qemu": "qemu-system-arm 7.2, -icount shift=7 (mps2-an500, Cortex-M7) / shift=6 (mps3-an547, Cortex-M55)",
        "shapes": shapes(&o)?,
    });
    if !o.shapes_only {
        let mut m = models(&o)?;
        if o.host {
            let host = host_latency()?;
            if let Some(obj) = m.as_object_mut() {
                for (name, e) in obj.iter_mut() {
                    if let Some(ms) = host.get(name) {
                        e["host_ms"] = ms.clone();
                    }
                }
            }
        }
        results["models"] = m;
    }
    let dir = root().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = dir.join("results.json");
    let text = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())? + "\n";
    std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
    let t = tables(&results);
    update_readmes(&t, &["bench/README.md", "README.md"], "cargo xtask bench")?;
    update_readmes(&summary(&results), &["README.md"], "speed")?;
    println!("{t}");
    eprintln!(
        "    wrote {}, bench/README.md and README.md",
        file.display()
    );
    // Report (not assert) the limits.
    if let Some(m) = results["shapes"].as_object() {
        for (id, e) in m {
            let Some(r) = e["ratio_to_cmsis_nn"].as_f64() else {
                continue;
            };
            if r > MAX_RATIO {
                eprintln!("    note: shape {id} is at {r:.2}x CMSIS-NN, above {MAX_RATIO}x");
            }
        }
    }
    Ok(())
}

/// `cargo xtask test`'s on-target kernel battery: the `battery` program of `boards/bench` (every
/// int8 dispatcher against the portable loop, bit for bit) on the emulated Cortex-M7 and M55,
/// where the DSP paths run; a failing case fails the step with the firmware's report.
pub fn battery_steps(f: &mut crate::run::Failures) {
    for name in ["qemu-m7", "qemu-m55"] {
        let step = format!("QEMU int8 kernel battery ({name})");
        let r = (|| {
            let b = board::find(name)?;
            let (mut c, dir) = firmware_cargo(b, "bench", "");
            c.args(["--bin", "battery"]);
            status(&format!("build {name} battery"), &mut c)?;
            let out = crate::qemu::run(
                b,
                &dir.join("battery"),
                &std::env::temp_dir(),
                &[],
                Duration::from_secs(300),
            )?;
            let summary = out
                .stdout
                .lines()
                .find(|l| l.starts_with("battery passed"))
                .ok_or_else(|| format!("{step}: no `battery passed` line"))?;
            eprintln!("    {name}: {summary}");
            Ok(())
        })();
        f.record(&step, r);
    }
}
