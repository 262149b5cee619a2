//! `cargo xtask infer --model M.tflite --input IN.bin [--input ...] --output OUT.bin
//! [--output ...]`: runs a model once on the host, through the same lowering, planner and
//! executor as the boards.
//!
//! Inputs are the raw bytes of each graph input tensor (int8, or little-endian f32, as the
//! model's input type says), in graph input order; each output file receives the raw bytes of
//! one graph output. `--model` takes a `.tflite` file (lowered and planned here) or an already
//! built `.bfmd` blob. On any error the task prints one line naming the problem and exits with
//! a non-zero code.
//!
//! The model is checked against [`Limits::HOST`] (1 GiB of arena, 10^12 operations per op and
//! per inference) before its arena is allocated; `--max-work N` and `--max-arena BYTES` raise
//! or lower those bounds. Float inputs holding NaN or infinity are an error (a float model
//! answers them with confident garbage) unless `--allow-non-finite` is given.

use bfmd_graph::builder::ModelBytes;
use bfmd_graph::{DType, Limits, Model};
use bfmd_import::lower::{lower, HostModel, LowerOptions, Lowered};
use bfmd_import::tflite;
use std::path::{Path, PathBuf};

const USAGE: &str = "usage: cargo xtask infer --model M.tflite|M.bfmd --input IN.bin [--input ...] --output OUT.bin [--output ...] [--outputs NAME[,NAME...]] [--max-work N] [--max-arena BYTES] [--allow-non-finite]";

/// A model file loaded and planned.
pub struct Loaded {
    /// The blob.
    pub blob: ModelBytes,
    /// The lowering, for `.tflite` files (names, MACs, the plan report).
    pub lowered: Option<Lowered>,
    /// The TFLite model, for `.tflite` files.
    pub tflite: Option<tflite::TfliteModel>,
}

/// Reads `path`: a `.tflite` file is parsed, lowered and planned with the default options, a
/// `.bfmd` blob is taken as it is (and checked by `Model::parse`).
pub fn load(path: &Path) -> Result<Loaded, String> {
    load_with(path, &Limits::HOST, &[], bfmd_graph::KernelPath::HOST)
}

/// [`load`] with a `.tflite` file's scratch planned for the kernels of `kernels`.
pub fn load_for(path: &Path, kernels: bfmd_graph::KernelPath) -> Result<Loaded, String> {
    load_with(path, &Limits::HOST, &[], kernels)
}

/// [`load`] with `limits`, the graph cut at the TFLite tensors named in `outputs` (empty:
/// the model's own outputs; see `LowerOptions::outputs`) and the scratch planned for the
/// kernels of `kernels`.
pub fn load_with(
    path: &Path,
    limits: &Limits,
    outputs: &[String],
    kernels: bfmd_graph::KernelPath,
) -> Result<Loaded, String> {
    if !outputs.is_empty() && path.extension().and_then(|e| e.to_str()) == Some("bfmd") {
        return Err(format!(
            "{}: --outputs cuts a .tflite model; a .bfmd blob's outputs were fixed when it was built",
            path.display()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let loaded = match path.extension().and_then(|e| e.to_str()) {
        Some("bfmd") => Loaded {
            blob: ModelBytes::from_bytes(&bytes),
            lowered: None,
            tflite: None,
        },
        Some("tflite") => {
            let fail = |e: tflite::ImportError| format!("{}: {e}", path.display());
            let m = tflite::parse(&bytes).map_err(fail)?;
            let options = LowerOptions {
                limits: *limits,
                outputs: outputs.to_vec(),
                path: kernels,
                ..LowerOptions::default()
            };
            let l = lower(&m, &options).map_err(fail)?;
            Loaded {
                blob: l.built.blob.clone(),
                lowered: Some(l),
                tflite: Some(m),
            }
        }
        _ => {
            return Err(format!(
                "{}: expected a .tflite or .bfmd file",
                path.display()
            ))
        }
    };
    loaded
        .blob
        .model_with_limits(limits)
        .map_err(|e| format!("{}: invalid model: {e}", path.display()))?;
    Ok(loaded)
}

/// `msg` with the flag that raises the limit it reports, for the commands that take the
/// flags (`infer`): `GraphError::Limit` messages say `arena bytes is` or `work per ...`.
pub fn with_limit_hint(msg: String) -> String {
    if !msg.contains("above the limit of") {
        msg
    } else if msg.contains("arena bytes is") {
        msg + " (raise it with --max-arena BYTES)"
    } else if msg.contains("work per") || msg.contains("MACs per inference") {
        msg + " (raise it with --max-work N)"
    } else {
        msg
    }
}

/// `limits` with the bound of option `flag` set from its value.
pub fn set_limit(limits: &mut Limits, flag: &str, value: &str) -> Result<(), String> {
    let n: u64 = value
        .replace('_', "")
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{flag} takes a positive integer, got `{value}`"))?;
    match flag {
        "--max-work" => *limits = limits.with_work(n),
        _ => {
            let bytes = usize::try_from(n).map_err(|_| format!("{flag} {n} is too large"))?;
            *limits = limits.with_arena_bytes(bytes);
        }
    }
    Ok(())
}

/// The number of NaN or infinite values of `bytes` read as little-endian `dtype` (0 for the
/// integer types).
pub fn non_finite(bytes: &[u8], dtype: DType) -> usize {
    match dtype {
        DType::F32 => bytes
            .chunks_exact(4)
            .filter(|c| !f32::from_le_bytes([c[0], c[1], c[2], c[3]]).is_finite())
            .count(),
        DType::F16 => bytes
            .chunks_exact(2)
            // An IEEE half is NaN or infinite when its 5 exponent bits are all ones.
            .filter(|c| u16::from_le_bytes([c[0], c[1]]) & 0x7C00 == 0x7C00)
            .count(),
        DType::S8 | DType::I32 => 0,
    }
}

/// One line per graph input and output: index, dtype and shape, and for int8 the scale and
/// zero point a caller needs to feed it real data (`real = scale * (q - zero_point)`).
pub fn io_summary(model: &Model<'_>) -> String {
    let mut s = String::new();
    let mut line = |what: &str, k: usize, t: Result<usize, bfmd_graph::GraphError>| {
        let Ok(t) = t else { return };
        let quant = match model.tensor(t) {
            Some(i) if i.dtype == DType::S8 => {
                format!(", scale {:e}, zero point {}", i.scale, i.zero_point)
            }
            _ => String::new(),
        };
        s.push_str(&format!("{what} {k}: {}{quant}\n", describe(model, t)));
    };
    for k in 0..model.input_count() {
        line("input", k, model.input_tensor(k));
    }
    for k in 0..model.output_count() {
        line("output", k, model.output_tensor(k));
    }
    s
}

/// `INT8 1x96x96x3`: a tensor's type and shape for messages.
pub fn describe(model: &Model<'_>, t: usize) -> String {
    match model.tensor(t) {
        Some(i) => {
            let s = i.shape;
            let dtype = match i.dtype {
                DType::S8 => "INT8",
                DType::I32 => "INT32",
                DType::F32 => "FLOAT32",
                DType::F16 => "FLOAT16",
            };
            format!("{dtype} {}x{}x{}x{}", s.n, s.h, s.w, s.c)
        }
        None => format!("tensor {t}"),
    }
}

struct Args {
    model: PathBuf,
    cut: Vec<String>,
    inputs: Vec<PathBuf>,
    outputs: Vec<PathBuf>,
    limits: Limits,
    allow_non_finite: bool,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let (mut model, mut inputs, mut outputs) = (None, Vec::new(), Vec::new());
    let mut cut = Vec::new();
    let (mut limits, mut allow_non_finite) = (Limits::HOST, false);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{arg} needs a value ({USAGE})"))
        };
        match arg.as_str() {
            "--model" => model = Some(value()?),
            "--input" => inputs.push(value()?),
            "--output" => outputs.push(value()?),
            "--outputs" => {
                let v = value()?;
                cut = v
                    .to_string_lossy()
                    .split(',')
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect();
                if cut.is_empty() {
                    return Err(format!("--outputs needs tensor names ({USAGE})"));
                }
            }
            "--max-work" | "--max-arena" => {
                let v = value()?;
                set_limit(&mut limits, arg, &v.to_string_lossy())?;
            }
            "--allow-non-finite" => allow_non_finite = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}` ({USAGE})")),
        }
    }
    let model = model.ok_or_else(|| format!("--model is required ({USAGE})"))?;
    if inputs.is_empty() || outputs.is_empty() {
        return Err(format!(
            "at least one --input and one --output are required ({USAGE})"
        ));
    }
    Ok(Args {
        model,
        cut,
        inputs,
        outputs,
        limits,
        allow_non_finite,
    })
}

pub fn run(args: &[String]) -> Result<(), String> {
    // Native backbones from PyTorch weights (bfmd-models) have their own options.
    if args.iter().any(|a| a == "--backbone") {
        return crate::backbone::run(args);
    }
    let a = parse_args(args)?;
    let loaded = load_with(&a.model, &a.limits, &a.cut, bfmd_graph::KernelPath::HOST)
        .map_err(with_limit_hint)?;
    let m = loaded
        .blob
        .model_with_limits(&a.limits)
        .map_err(|e| format!("{}: {e}", a.model.display()))?;
    print!("{}", io_summary(&m));
    if a.inputs.len() != m.input_count() || a.outputs.len() != m.output_count() {
        return Err(format!(
            "{}: the model has {} input(s) and {} output(s), got {} --input and {} --output",
            a.model.display(),
            m.input_count(),
            m.output_count(),
            a.inputs.len(),
            a.outputs.len()
        ));
    }
    let mut data = Vec::new();
    for (i, p) in a.inputs.iter().enumerate() {
        let x = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let t = m.input_tensor(i).map_err(|e| e.to_string())?;
        let want = m.tensor(t).map_or(0, |info| info.region.len);
        if x.is_empty() {
            return Err(format!(
                "{}: input file is empty (input {i} ({}) takes {want} bytes)",
                p.display(),
                describe(&m, t)
            ));
        }
        if x.len() != want {
            return Err(format!(
                "{}: {} bytes, but input {i} ({}) takes {want}",
                p.display(),
                x.len(),
                describe(&m, t)
            ));
        }
        let bad = m.tensor(t).map_or(0, |info| non_finite(&x, info.dtype));
        if bad > 0 && !a.allow_non_finite {
            return Err(format!(
                "{}: input file has non-finite values ({bad} of {} are NaN or infinite); \
                 pass --allow-non-finite to run anyway",
                p.display(),
                want / m.tensor(t).map_or(1, |info| info.dtype.size())
            ));
        }
        data.push(x);
    }
    let mut host =
        HostModel::with_limits(loaded.blob.clone(), &a.limits).map_err(|e| e.to_string())?;
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    let outputs = host
        .run(&refs)
        .map_err(|e| format!("{}: inference failed: {e}", a.model.display()))?;
    for (p, y) in a.outputs.iter().zip(&outputs) {
        std::fs::write(p, y).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}
