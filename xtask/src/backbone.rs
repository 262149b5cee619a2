//! `cargo xtask infer --backbone NAME --weights W.safetensors --input IN.f32 --output OUT.f32
//! [--dtype f32|f16|int8] [--calibrate FILE...] [--set key=value ...] [--compare]
//! [--save M.bfmd]`: builds one of bfmd-models' native backbones from a PyTorch
//! `state_dict`, lowers it to the precision asked for (int8: calibrated here on the
//! `--calibrate` images) and runs it on the host through the same planner and executor as
//! the boards.
//!
//! Inputs, outputs and calibration images are NHWC `f32` little-endian; a file may hold
//! several images back to back (the output file then holds one result per image). The input
//! resolution comes from `--set resolution=N`, else from the input file taken as one square
//! RGB image (a file of 4 images of 96x96 reads as one 192x192 image: give the resolution
//! for files of several images). Other hyper-parameters are derived from the weights where they can be
//! (class count, width, ShuffleNetV1 groups, GoogLeNet style), else they are the paper's or
//! come from `--set` (keys: `bfmd_models::Config::KEYS`).
//!
//! Every `--set` key must be one the backbone uses ([`Backbone::keys`]); an empty input file, a
//! zero resolution, NaN or infinite input values (unless `--allow-non-finite`) and non-finite
//! calibration images are errors, as is a network above the work limit (its MACs, checked
//! before any activation is allocated; [`Limits::HOST`], `--max-work N` and `--max-arena
//! BYTES` as for `infer --model`).
//!
//! `--compare` prints, per layer, the int8 or f16 error against f32 (accumulated since the
//! input, and the layer's own error against the f32 op fed the same inputs). `--save` writes
//! the planned blob, the firmware form (the boards embed `.bfmd` files like imported TFLite
//! models).

use bfmd_graph::Limits;
use bfmd_models::calib::quantize;
use bfmd_models::compare::{compare, format_table};
use bfmd_models::lower::{lower, Precision};
use bfmd_models::run::Runner;
use bfmd_models::weights::Weights;
use bfmd_models::{build, derive_config, parse_set, Backbone, Config};
use std::path::{Path, PathBuf};

const USAGE: &str = "usage: cargo xtask infer --backbone NAME --weights W.safetensors --input IN.f32 --output OUT.f32 [--dtype f32|f16|int8] [--calibrate FILE...] [--set key=value ...] [--compare] [--save M.bfmd] [--allow-non-finite] [--max-work N] [--max-arena BYTES]";

struct Args {
    backbone: Backbone,
    weights: PathBuf,
    input: PathBuf,
    output: Option<PathBuf>,
    precision: Precision,
    calibrate: Vec<PathBuf>,
    sets: Vec<String>,
    compare: bool,
    save: Option<PathBuf>,
    allow_non_finite: bool,
    limits: Limits,
}

fn backbone_names() -> String {
    Backbone::ALL
        .iter()
        .map(|b| b.name())
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut backbone = None;
    let (mut weights, mut input, mut output, mut save) = (None, None, None, None);
    let mut precision = Precision::F32;
    let (mut calibrate, mut sets, mut cmp) = (Vec::new(), Vec::new(), false);
    let (mut allow_non_finite, mut limits) = (false, Limits::HOST);
    let mut i = 0;
    let value = |i: usize| -> Result<&String, String> {
        args.get(i + 1)
            .ok_or_else(|| format!("{} needs a value ({USAGE})", args[i]))
    };
    while i < args.len() {
        match args[i].as_str() {
            "--backbone" => {
                let v = value(i)?;
                backbone = Some(Backbone::from_name(v).ok_or_else(|| {
                    format!("unknown backbone `{v}` (one of: {})", backbone_names())
                })?);
                i += 1;
            }
            "--weights" => {
                weights = Some(PathBuf::from(value(i)?));
                i += 1;
            }
            "--input" => {
                input = Some(PathBuf::from(value(i)?));
                i += 1;
            }
            "--output" => {
                output = Some(PathBuf::from(value(i)?));
                i += 1;
            }
            "--save" => {
                save = Some(PathBuf::from(value(i)?));
                i += 1;
            }
            "--dtype" => {
                let v = value(i)?;
                precision = Precision::from_name(v)
                    .ok_or_else(|| format!("--dtype `{v}`: one of f32, f16, int8"))?;
                i += 1;
            }
            "--set" => {
                sets.push(value(i)?.clone());
                i += 1;
            }
            "--calibrate" => {
                // Every following argument up to the next option is a calibration file.
                while i + 1 < args.len() && !args[i + 1].starts_with("--") {
                    calibrate.push(PathBuf::from(&args[i + 1]));
                    i += 1;
                }
                if calibrate.is_empty() {
                    return Err(format!("--calibrate needs at least one file ({USAGE})"));
                }
            }
            "--compare" => cmp = true,
            "--allow-non-finite" => allow_non_finite = true,
            "--max-work" | "--max-arena" => {
                crate::infer::set_limit(&mut limits, &args[i], value(i)?)?;
                i += 1;
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}` ({USAGE})")),
        }
        i += 1;
    }
    let need =
        |v: Option<PathBuf>, what: &str| v.ok_or_else(|| format!("{what} is required ({USAGE})"));
    Ok(Args {
        backbone: backbone.ok_or_else(|| format!("--backbone is required ({USAGE})"))?,
        weights: need(weights, "--weights")?,
        input: need(input, "--input")?,
        output,
        precision,
        calibrate,
        sets,
        compare: cmp,
        save,
        allow_non_finite,
        limits,
    })
}

/// Little-endian `f32` values of a file.
fn read_f32(path: &Path) -> Result<Vec<f32>, String> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if b.len() % 4 != 0 {
        return Err(format!(
            "{}: {} bytes is not a whole number of f32 values",
            path.display(),
            b.len()
        ));
    }
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// The images of a file of `per` values each.
fn images(path: &Path, per: usize) -> Result<Vec<Vec<f32>>, String> {
    let v = read_f32(path)?;
    if v.is_empty() {
        return Err(format!("{}: input file is empty", path.display()));
    }
    if v.len() % per != 0 {
        return Err(format!(
            "{}: {} values is not a whole number of images of {per} values",
            path.display(),
            v.len()
        ));
    }
    Ok(v.chunks(per).map(<[f32]>::to_vec).collect())
}

/// The configuration: the paper's, then `--set`, then the resolution from the input file,
/// then what the weights say.
fn configure(a: &Args, w: &mut Weights) -> Result<Config, String> {
    let mut cfg = a.backbone.standard();
    let mut explicit = Vec::new();
    let keys = a.backbone.keys();
    for kv in &a.sets {
        let key = parse_set(&mut cfg, kv).map_err(|e| e.to_string())?;
        if !keys.contains(&key) {
            return Err(format!(
                "--set {kv}: {} does not use `{key}` (its keys: {})",
                a.backbone.name(),
                keys.join(", ")
            ));
        }
        explicit.push(key);
    }
    if cfg.resolution == 0 {
        return Err("--set resolution=0: the resolution must be at least 1 pixel".into());
    }
    let positive = |v: f32| v.is_finite() && v > 0.0;
    if !positive(cfg.width) || !positive(cfg.depth) {
        return Err("--set: width and depth must be positive numbers".into());
    }
    if !explicit.contains(&"resolution") {
        let n = std::fs::metadata(&a.input)
            .map_err(|e| format!("{}: {e}", a.input.display()))?
            .len() as usize
            / 4;
        let side = ((n / 3) as f64).sqrt().round() as usize;
        if side * side * 3 != n {
            return Err(format!(
                "{}: {n} values is not one square RGB image; give --set resolution=N",
                a.input.display()
            ));
        }
        cfg.resolution = side;
        explicit.push("resolution");
    }
    derive_config(a.backbone, w, cfg, &explicit).map_err(|e| {
        format!(
            "{}: the weights fit no {} configuration: {e}",
            a.weights.display(),
            a.backbone.name()
        )
    })
}

fn describe(b: Backbone, c: &Config) -> String {
    let mut s = format!(
        "{} width {} at {}x{}",
        b.name(),
        c.width,
        c.resolution,
        c.resolution
    );
    if b.is_classifier() {
        s += &format!(", {} classes", c.classes);
    }
    match b {
        Backbone::ShuffleNetV1 => s += &format!(", groups {}", c.groups),
        Backbone::MobileNeXt => s += &format!(", scale_last {}", c.scale_last),
        Backbone::GoogLeNet => {
            s += if c.seed_style {
                ", seed style"
            } else {
                ", torchvision"
            }
        }
        _ => {}
    }
    if c.transform_input {
        s += ", transform_input";
    }
    s
}

/// An error naming `what` (`"input file"`, `"calibration image 3"`) when `values` holds NaN
/// or infinity.
fn check_finite(path: &Path, what: &str, values: &[f32]) -> Result<(), String> {
    let bad = values.iter().filter(|v| !v.is_finite()).count();
    if bad == 0 {
        return Ok(());
    }
    Err(format!(
        "{}: {what} has non-finite values ({bad} of {} are NaN or infinite)",
        path.display(),
        values.len()
    ))
}

/// Runs `infer --backbone`.
pub fn run(args: &[String]) -> Result<(), String> {
    run_inner(args).map_err(crate::infer::with_limit_hint)
}

/// [`run`] without the hint on limit errors.
fn run_inner(args: &[String]) -> Result<(), String> {
    let a = parse_args(args)?;
    // Before the weights: an empty input is not the weights' fault.
    let len = std::fs::metadata(&a.input)
        .map_err(|e| format!("{}: {e}", a.input.display()))?
        .len();
    if len == 0 {
        return Err(format!("{}: input file is empty", a.input.display()));
    }
    let mut w = Weights::load(&a.weights).map_err(|e| e.to_string())?;
    let cfg = configure(&a, &mut w)?;
    let net =
        build(a.backbone, &cfg, &mut w).map_err(|e| format!("{}: {e}", a.weights.display()))?;
    let per = net.shape(net.input).len();
    // The f32 interpreter and the calibration allocate every activation: bound the work first.
    let limit = a.limits.max_total_work;
    if net.macs() > limit {
        return Err(format!(
            "{}: {} MACs per inference, above the limit of {limit}",
            describe(a.backbone, &cfg),
            net.macs()
        ));
    }
    let inputs = images(&a.input, per)?;
    if !a.allow_non_finite {
        for (k, x) in inputs.iter().enumerate() {
            let what = if inputs.len() == 1 {
                "input file".to_string()
            } else {
                format!("input image {k}")
            };
            check_finite(&a.input, &what, x)
                .map_err(|e| format!("{e}; pass --allow-non-finite to run anyway"))?;
        }
    }
    eprintln!(
        "{}: {} params, {} MACs",
        describe(a.backbone, &cfg),
        net.params,
        net.macs()
    );
    let plan = if a.precision == Precision::Int8 || !a.calibrate.is_empty() {
        if a.calibrate.is_empty() {
            return Err("--dtype int8 needs calibration images: --calibrate FILE...".into());
        }
        let mut cal = Vec::new();
        for p in &a.calibrate {
            // Non-finite values would become the quantization ranges: always an error.
            for (k, x) in images(p, per)?.into_iter().enumerate() {
                check_finite(p, &format!("calibration image {k}"), &x)?;
                cal.push(x);
            }
        }
        eprintln!("calibrated on {} image(s)", cal.len());
        Some(quantize(&net, &cal).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let l = lower(&net, a.precision, plan.as_ref(), false).map_err(|e| e.to_string())?;
    let rep = &l.built.report;
    eprintln!(
        "{}: arena {} B, weights {} B, blob {} B, {} ops",
        a.precision.name(),
        rep.arena_bytes,
        rep.weights_bytes,
        rep.blob_bytes,
        rep.op_count
    );
    let mut runner =
        Runner::with_limits(l.built.blob.as_bytes(), &a.limits).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for x in &inputs {
        let y = runner.infer(x).map_err(|e| e.to_string())?;
        out.extend(y.iter().flat_map(|v| v.to_le_bytes()));
    }
    if let Some(p) = &a.output {
        std::fs::write(p, &out).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    if let Some(p) = &a.save {
        std::fs::write(p, l.built.blob.as_bytes()).map_err(|e| format!("{}: {e}", p.display()))?;
        eprintln!(
            "wrote {} (ARENA_BYTES = {})",
            p.display(),
            l.built.report.arena_bytes
        );
    }
    if a.compare {
        if a.precision == Precision::F32 {
            return Err(
                "--compare measures f16 or int8 against f32: add --dtype f16 or int8".into(),
            );
        }
        let rows = compare(&net, a.precision, plan.as_ref(), &inputs).map_err(|e| e.to_string())?;
        print!("{}", format_table(&rows, 0.98));
    } else if a.output.is_none() {
        return Err(format!("--output is required without --compare ({USAGE})"));
    }
    Ok(())
}
