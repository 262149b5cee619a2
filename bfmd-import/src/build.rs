//! The firmware form of a TFLite model, for build scripts: [`compile_tflite`] lowers and plans a
//! `.tflite` file on the host and writes into `OUT_DIR`
//!
//! * `model.bfmd`: the blob (graph, plan and weights; [`bfmd_graph::Model::parse`] reads it in
//!   place from flash);
//! * `model.rs`: the constants, the model's kernel set and the embedded blob (see
//!   [`model_rs`], the one generator also behind the boards' build scripts), for
//!   `include!(concat!(env!("OUT_DIR"), "/model.rs"))`.
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
//! let arena = bfmd_graph::static_arena!(model::ARENA_BYTES).unwrap();
//! let mut net = bfmd_graph::Session::<model::Ops>::new(model::BLOB.as_slice(), arena.as_mut_slice())?;
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
    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let blob_path = out_dir.join("model.bfmd");
    let rust_path = out_dir.join("model.rs");
    write_if_changed(&blob_path, built.blob.as_bytes()).map_err(io(&blob_path))?;
    let name = model
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model");
    let rs = model_rs(&ModelRs {
        model: &m,
        blob_len: built.blob.as_bytes().len(),
        name,
        source: model,
        blob_path: &blob_path,
        macs: Some(built.report.macs),
        link_section: options.link_section.as_deref(),
        export_name: None,
        sample_input: None,
    });
    write_if_changed(&rust_path, rs.as_bytes()).map_err(io(&rust_path))?;
    Ok(Report {
        model: model.to_path_buf(),
        blob_path,
        rust_path,
        plan: built.report,
    })
}

/// What [`model_rs`] describes.
#[derive(Clone, Copy, Debug)]
pub struct ModelRs<'a> {
    /// The parsed blob.
    pub model: &'a bfmd_graph::Model<'a>,
    /// Bytes of the blob file (`BLOB_LEN`).
    pub blob_len: usize,
    /// `NAME` (the model file's stem).
    pub name: &'a str,
    /// The source model file, named in the header comment.
    pub source: &'a Path,
    /// The blob file `BLOB` includes.
    pub blob_path: &'a Path,
    /// Multiply-accumulates of one inference, when known (`MACS`; a `.bfmd` blob does not
    /// record them).
    pub macs: Option<u64>,
    /// `#[link_section]` of `BLOB`, if any.
    pub link_section: Option<&'a str>,
    /// `#[export_name]` of `BLOB`, if any (keeps it whole in its section under LTO).
    pub export_name: Option<&'a str>,
    /// A file with graph input 0's bytes for `SAMPLE_INPUT`, if any.
    pub sample_input: Option<&'a Path>,
}

/// The generated `model.rs`: the one generator behind [`compile_tflite`] and the boards' build
/// scripts (`bfmd-embed`, for `.tflite` files and `.bfmd` blobs alike).
///
/// ```text
/// pub const NAME: &str;  ARENA_BYTES: usize;  RAM_BYTES: usize;  WEIGHTS_BYTES: usize;
/// pub const BLOB_LEN: usize;  MACS: u64 (when known);  INPUT_COUNT: usize;  OUTPUT_COUNT: usize;
/// pub const INPUTS: [bfmd_graph::session::IoSpec; INPUT_COUNT];   // shape, dtype, scale,
/// pub const OUTPUTS: [bfmd_graph::session::IoSpec; OUTPUT_COUNT]; // zero point, bytes
/// pub const INPUT_LENS: [usize; INPUT_COUNT];  OUTPUT_LENS: [usize; OUTPUT_COUNT];
/// pub const INPUT_BYTES: usize;  OUTPUT_BYTES: usize;              // input 0, output 0
/// pub const OUTPUT_SCALE: f32;  OUTPUT_ZERO_POINT: i32;            // output 0
/// pub struct Ops;  // impl bfmd_graph::Linked: the (op, dtype, form) the model runs
/// pub static BLOB: bfmd_graph::AlignedBytes<BLOB_LEN>;
/// pub static SAMPLE_INPUT: [u8; INPUT_BYTES];                      // with a sample input
/// ```
pub fn model_rs(spec: &ModelRs<'_>) -> String {
    let m = spec.model;
    let info = |t: Result<usize, bfmd_graph::GraphError>| t.ok().and_then(|t| m.tensor(t));
    let inputs: Vec<_> = (0..m.input_count())
        .filter_map(|i| info(m.input_tensor(i)))
        .collect();
    let outputs: Vec<_> = (0..m.output_count())
        .filter_map(|i| info(m.output_tensor(i)))
        .collect();
    let spec_of = |i: &bfmd_graph::TensorInfo| {
        let s = i.shape;
        format!(
            "    bfmd_graph::session::IoSpec {{ shape: [{}, {}, {}, {}], dtype: bfmd_graph::DType::{:?}, \
             scale: {:?}, zero_point: {}, bytes: {} }},\n",
            s.n, s.h, s.w, s.c, i.dtype, i.scale, i.zero_point, i.region.len
        )
    };
    let lens = |v: &[bfmd_graph::TensorInfo]| v.iter().map(|i| i.region.len).collect::<Vec<_>>();
    let (scale, zero_point) = outputs
        .first()
        .map_or((1.0, 0), |t| (t.scale, t.zero_point));
    let mut rs = format!(
        "// Generated by bfmd_import::build::model_rs from {:?}; do not edit.\n\
         // Every item allows dead code: a firmware uses some of them, and `include!` files\n\
         // cannot carry an inner attribute.\n",
        spec.source
    );
    let mut item = |doc: &str, code: String| {
        // `write!` into a `String` cannot fail.
        let _ = write!(rs, "\n/// {doc}\n#[allow(dead_code)]\n{code}\n");
    };
    item(
        "The model's name (its file's stem).",
        format!("pub const NAME: &str = {:?};", spec.name),
    );
    item(
        "Bytes of the arena the plan needs (`bfmd_graph::static_arena!(ARENA_BYTES)`).",
        format!("pub const ARENA_BYTES: usize = {};", m.arena_bytes()),
    );
    item(
        "The arena plus the executor's state on the stack (host figure; the kernels' frames are \
         not in it: `cargo xtask size` measures the firmware's peak stack).",
        format!("pub const RAM_BYTES: usize = {};", m.ram_bytes()),
    );
    item(
        "Bytes of constants (weights, biases, multipliers, tables) in the blob.",
        format!("pub const WEIGHTS_BYTES: usize = {};", m.constant_bytes()),
    );
    item(
        "Bytes of the model blob.",
        format!("pub const BLOB_LEN: usize = {};", spec.blob_len),
    );
    if let Some(macs) = spec.macs {
        item(
            "Multiply-accumulates of one inference.",
            format!("pub const MACS: u64 = {macs};"),
        );
    }
    item(
        "Number of graph inputs.",
        format!("pub const INPUT_COUNT: usize = {};", inputs.len()),
    );
    item(
        "Number of graph outputs.",
        format!("pub const OUTPUT_COUNT: usize = {};", outputs.len()),
    );
    item(
        "Every graph input in graph order: shape (NHWC), dtype, scale, zero point, bytes.",
        format!(
            "pub const INPUTS: [bfmd_graph::session::IoSpec; INPUT_COUNT] = [\n{}];",
            inputs.iter().map(spec_of).collect::<String>()
        ),
    );
    item(
        "Every graph output in graph order.",
        format!(
            "pub const OUTPUTS: [bfmd_graph::session::IoSpec; OUTPUT_COUNT] = [\n{}];",
            outputs.iter().map(spec_of).collect::<String>()
        ),
    );
    item(
        "Bytes of each graph input.",
        format!(
            "pub const INPUT_LENS: [usize; INPUT_COUNT] = {:?};",
            lens(&inputs)
        ),
    );
    item(
        "Bytes of each graph output.",
        format!(
            "pub const OUTPUT_LENS: [usize; OUTPUT_COUNT] = {:?};",
            lens(&outputs)
        ),
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
    let ops: String = bfmd_graph::OpSet::of_model(m)
        .iter()
        .map(|(k, d, f)| {
            format!(
                "\n        .with(bfmd_graph::OpKind::{}, bfmd_graph::DType::{d:?}, bfmd_graph::Form::{})",
                k.name(),
                f.name()
            )
        })
        .collect();
    item(
        "The kernels this model runs: a program instantiates the executor for exactly these\n\
         /// (`bfmd_graph::Session::<Ops>`), so the linker keeps no other kernel.",
        format!(
            "pub struct Ops;\nimpl bfmd_graph::Linked for Ops {{\n    \
             const OPS: bfmd_graph::OpSet = bfmd_graph::OpSet::EMPTY{ops};\n}}"
        ),
    );
    let mut attrs = String::new();
    if let Some(s) = spec.link_section {
        let _ = writeln!(attrs, "#[link_section = {s:?}]");
    }
    if let Some(n) = spec.export_name {
        let _ = writeln!(attrs, "#[export_name = {n:?}]");
    }
    item(
        "The model blob, 16-byte aligned as `bfmd_graph::Model::parse` requires.",
        format!(
            "{attrs}pub static BLOB: bfmd_graph::AlignedBytes<BLOB_LEN> =\n    \
             bfmd_graph::AlignedBytes(*include_bytes!({:?}));",
            spec.blob_path
        ),
    );
    if let Some(p) = spec.sample_input {
        item(
            "A sample input (graph input 0) for boards without a host to read one from.",
            format!("pub static SAMPLE_INPUT: [u8; INPUT_BYTES] = *include_bytes!({p:?});"),
        );
    }
    rs
}

/// Writes `bytes` unless the file already holds them, so that cargo does not rebuild what
/// includes an unchanged file.
fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes)
}
