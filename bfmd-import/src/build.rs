//! The firmware form of a TFLite model, for build scripts: [`compile_tflite`] lowers and plans a
//! `.tflite` file on the host and writes into `OUT_DIR`
//!
//! * `model.bfmd`: the blob (graph, plan and weights; [`bfmd_graph::Model::parse`] reads it in
//!   place from flash);
//! * `model.rs`: the constants and the embedded blob, for
//!   `include!(concat!(env!("OUT_DIR"), "/model.rs"))`:
//!
//! ```text
//! pub const NAME: &str;                  // the model file's stem
//! pub const ARENA_BYTES: usize;          // planned arena: `static ARENA: Arena<ARENA_BYTES>`
//! pub const RAM_BYTES: usize;            // arena plus the executor's run-time state
//! pub const WEIGHTS_BYTES: usize;        // constants in the blob (flash)
//! pub const BLOB_LEN: usize;             // the whole blob (flash)
//! pub const MACS: u64;
//! pub const INPUT_COUNT: usize;  pub const OUTPUT_COUNT: usize;
//! pub const INPUT_LENS: [usize; INPUT_COUNT];   // bytes of each graph input
//! pub const OUTPUT_LENS: [usize; OUTPUT_COUNT]; // bytes of each graph output
//! pub const INPUT_BYTES: usize;  pub const OUTPUT_BYTES: usize;  // input 0, output 0
//! pub const OUTPUT_SCALE: f32;   pub const OUTPUT_ZERO_POINT: i32; // output 0 quantization
//! pub static BLOB: bfmd_graph::AlignedBytes<BLOB_LEN>;  // 16-byte aligned include_bytes!
//! ```
//!
//! A board's `build.rs` (with `bfmd-import` as a build-dependency and `bfmd-graph` as a normal
//! dependency):
//!
//! ```no_run
//! // The body of `fn main` in build.rs:
//! let out = std::env::var("OUT_DIR").unwrap();
//! let report = bfmd_import::build::compile_tflite("models/vww_96_int8.tflite", &out)
//!     .unwrap_or_else(|e| panic!("{e}"));
//! println!("cargo:warning=arena {} bytes", report.plan.arena_bytes);
//! ```
//!
//! and its firmware:
//!
//! ```text
//! mod model { include!(concat!(env!("OUT_DIR"), "/model.rs")); }
//! static mut ARENA: bfmd_graph::Arena<{ model::ARENA_BYTES }> = bfmd_graph::Arena::new();
//! let m = bfmd_graph::Model::parse(model::BLOB.as_slice())?;
//! ```
//!
//! The arena size is a compile-time constant because the plan is made here, at build time, by
//! the same planner that wrote the offsets into the blob.

use crate::lower::{lower, LowerOptions};
use crate::tflite::ImportError;
use bfmd_graph::builder::PlanReport;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What [`compile_tflite`] wrote.
#[derive(Clone, Debug)]
pub struct Report {
    /// The `.tflite` file.
    pub model: PathBuf,
    /// The blob written (`<out_dir>/model.bfmd`).
    pub blob_path: PathBuf,
    /// The Rust written (`<out_dir>/model.rs`).
    pub rust_path: PathBuf,
    /// The plan: arena, RAM, weight bytes, MACs, one line per op.
    pub plan: PlanReport,
}

/// How [`compile_tflite_with`] writes the firmware form.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Lowering and planning options.
    pub lower: LowerOptions,
    /// A `#[link_section]` for the blob (a board whose `memory.x` places weights in a section
    /// of its own); `None` leaves it in `.rodata`.
    pub link_section: Option<String>,
    /// Print `cargo:rerun-if-changed=<model>` (for build scripts; [`compile_tflite`] does).
    pub rerun_if_changed: bool,
}

/// Why [`compile_tflite`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum CompileError {
    /// Reading the model or writing an output file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The model does not parse or lower.
    Import {
        /// The model file.
        path: PathBuf,
        /// The error, naming the table, operator or tensor.
        error: ImportError,
    },
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompileError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            CompileError::Import { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for CompileError {}

/// Lowers and plans the `.tflite` file `model` and writes `model.bfmd` and `model.rs` into
/// `out_dir` (see the module documentation), printing `cargo:rerun-if-changed` for the model.
pub fn compile_tflite(
    model: impl AsRef<Path>,
    out_dir: impl AsRef<Path>,
) -> Result<Report, CompileError> {
    let options = CompileOptions {
        rerun_if_changed: true,
        ..CompileOptions::default()
    };
    compile_tflite_with(model, out_dir, &options)
}

/// [`compile_tflite`] with explicit options.
pub fn compile_tflite_with(
    model: impl AsRef<Path>,
    out_dir: impl AsRef<Path>,
    options: &CompileOptions,
) -> Result<Report, CompileError> {
    let (model, out_dir) = (model.as_ref(), out_dir.as_ref());
    if options.rerun_if_changed {
        println!("cargo:rerun-if-changed={}", model.display());
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| CompileError::Io { path, error }
    };
    let import = |error| CompileError::Import {
        path: model.to_path_buf(),
        error,
    };
    let bytes = std::fs::read(model).map_err(io(model))?;
    let parsed = crate::tflite::parse(&bytes).map_err(import)?;
    let lowered = lower(&parsed, &options.lower).map_err(import)?;
    let built = lowered.built;
    let m = built.blob.model().map_err(|e| {
        import(ImportError::Lowering {
            op: None,
            tensor: None,
            detail: format!("the planned blob does not parse: {e}"),
        })
    })?;
    let lens = |count: usize, tensor: &dyn Fn(usize) -> Option<usize>| -> Vec<usize> {
        (0..count)
            .map(|i| {
                tensor(i)
                    .and_then(|t| m.tensor(t))
                    .map_or(0, |t| t.region.len)
            })
            .collect()
    };
    let input_lens = lens(m.input_count(), &|i| m.input_tensor(i).ok());
    let output_lens = lens(m.output_count(), &|i| m.output_tensor(i).ok());
    let (scale, zero_point) = m
        .output_tensor(0)
        .ok()
        .and_then(|t| m.tensor(t))
        .map_or((1.0, 0), |t| (t.scale, t.zero_point));

    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let blob_path = out_dir.join("model.bfmd");
    let rust_path = out_dir.join("model.rs");
    write_if_changed(&blob_path, built.blob.as_bytes()).map_err(io(&blob_path))?;
    let name = model
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model");
    let p = &built.report;
    let section = options
        .link_section
        .as_ref()
        .map_or(String::new(), |s| format!("#[link_section = {s:?}]\n"));
    let mut rs = format!(
        "// Generated by bfmd_import::build::compile_tflite from {model:?}; do not edit.\n\
         // Every item allows dead code: a firmware uses some of them, and `include!` files\n\
         // cannot carry an inner attribute.\n"
    );
    let mut item = |doc: &str, code: String| {
        // `write!` into a `String` cannot fail.
        let _ = write!(rs, "\n/// {doc}\n#[allow(dead_code)]\n{code}\n");
    };
    item(
        "The model's name (its file's stem).",
        format!("pub const NAME: &str = {name:?};"),
    );
    item(
        "Bytes of the arena the plan needs: `static ARENA: bfmd_graph::Arena<ARENA_BYTES>`.",
        format!("pub const ARENA_BYTES: usize = {};", p.arena_bytes),
    );
    item(
        "RAM at run time: the arena plus the executor's state on the stack.",
        format!("pub const RAM_BYTES: usize = {};", p.ram_bytes),
    );
    item(
        "Bytes of constants (weights, biases, multipliers) in the blob.",
        format!("pub const WEIGHTS_BYTES: usize = {};", p.weights_bytes),
    );
    item(
        "Bytes of the model blob.",
        format!(
            "pub const BLOB_LEN: usize = {};",
            built.blob.as_bytes().len()
        ),
    );
    item(
        "Multiply-accumulates of one inference.",
        format!("pub const MACS: u64 = {};", p.macs),
    );
    item(
        "Number of graph inputs.",
        format!("pub const INPUT_COUNT: usize = {};", input_lens.len()),
    );
    item(
        "Number of graph outputs.",
        format!("pub const OUTPUT_COUNT: usize = {};", output_lens.len()),
    );
    item(
        "Bytes of each graph input.",
        format!("pub const INPUT_LENS: [usize; INPUT_COUNT] = {input_lens:?};"),
    );
    item(
        "Bytes of each graph output.",
        format!("pub const OUTPUT_LENS: [usize; OUTPUT_COUNT] = {output_lens:?};"),
    );
    item(
        "Bytes of graph input 0.",
        "pub const INPUT_BYTES: usize = INPUT_LENS[0];".to_string(),
    );
    item(
        "Bytes of graph output 0.",
        "pub const OUTPUT_BYTES: usize = OUTPUT_LENS[0];".to_string(),
    );
    item(
        "Quantization scale of output 0 (1.0 for a float output).",
        format!("pub const OUTPUT_SCALE: f32 = {scale:?};"),
    );
    item(
        "Quantization zero point of output 0 (0 for a float output).",
        format!("pub const OUTPUT_ZERO_POINT: i32 = {zero_point};"),
    );
    item(
        "The model blob, 16-byte aligned as `bfmd_graph::Model::parse` requires.",
        format!(
            "{section}pub static BLOB: bfmd_graph::AlignedBytes<BLOB_LEN> =\n    \
             bfmd_graph::AlignedBytes(*include_bytes!({blob_path:?}));"
        ),
    );
    write_if_changed(&rust_path, rs.as_bytes()).map_err(io(&rust_path))?;
    Ok(Report {
        model: model.to_path_buf(),
        blob_path,
        rust_path,
        plan: built.report,
    })
}

/// Writes `bytes` unless the file already holds them, so that cargo does not rebuild what
/// includes an unchanged file.
fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes)
}
