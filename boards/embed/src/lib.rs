//! # bfmd-embed
//!
//! Used by the board crates' build scripts (a build-dependency, so it runs on the host): takes the
//! model named by `BFMD_MODEL` (a `.tflite` file, imported and planned here, or an already built
//! `.bfmd` blob), validates it with [`bfmd_graph::Model::parse`], and writes into `OUT_DIR`:
//!
//! * `model.bfmd`: the blob;
//! * `input.bin`: a sample input compiled into boards without a host (`BFMD_INPUT`, or zeros);
//! * `model.rs`: constants and statics for the firmware, included with
//!   `include!(concat!(env!("OUT_DIR"), "/model.rs"))`:
//!
//! ```text
//! pub const NAME: &str;            // the model file's stem
//! pub const ARENA_BYTES: usize;    // from the plan: the arena is sized at compile time
//! pub const BLOB_LEN: usize;
//! pub const INPUT_COUNT: usize;
//! pub const OUTPUT_COUNT: usize;
//! pub const INPUTS: [bfmd_graph::session::IoSpec; INPUT_COUNT];   // shape, dtype, scale,
//! pub const OUTPUTS: [bfmd_graph::session::IoSpec; OUTPUT_COUNT]; // zero point, bytes
//! pub const INPUT_BYTES: usize;    // graph input 0
//! pub const OUTPUT_BYTES: usize;   // graph output 0
//! pub const OUTPUT_SCALE: f32;     // output 0 quantization (1.0 / 0 for float outputs)
//! pub const OUTPUT_ZERO_POINT: i32;
//! pub struct Ops;                  // impl bfmd_graph::Linked: the kernels the model runs
//! pub static BLOB: bfmd_graph::AlignedBytes<BLOB_LEN>;  // in section `.bfmd_model`
//! pub static SAMPLE_INPUT: [u8; INPUT_BYTES];
//! ```
//!
//! A program binds the blob to its arena with `bfmd_graph::Session::<model::Ops>::new`, which
//! instantiates the executor for the model's kernels only; the arena is a static the program
//! takes once (`bfmd_graph::static_arena!(model::ARENA_BYTES)`), placed in the memory region the
//! board chooses for it from [`Embedded::arena_bytes`].

use bfmd_graph::Model;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What [`embed`] compiled in.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// The model file.
    pub path: PathBuf,
    /// Arena bytes the plan needs.
    pub arena_bytes: usize,
    /// Blob bytes (weights, tables and plan).
    pub blob_len: usize,
}

/// Turns a `.tflite` file into a planned bfmd blob and its plan report, with the importer's
/// lowering and the default options (in-place planning, channel shuffles folded).
pub fn import_tflite(bytes: &[u8]) -> Result<(Vec<u8>, String), String> {
    let built = bfmd_import::lower::tflite_bytes_to_graph(
        bytes,
        &bfmd_import::lower::LowerOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    Ok((built.blob.as_bytes().to_vec(), built.report.to_string()))
}

/// The model bytes as a bfmd blob: `.bfmd` files as they are, `.tflite` files imported.
pub fn load(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("bfmd") => Ok(bytes),
        Some("tflite") => import_tflite(&bytes)
            .map(|(blob, _report)| blob)
            .map_err(|e| format!("importing {}: {e}", path.display())),
        _ => Err(format!(
            "{}: expected a .tflite or .bfmd file",
            path.display()
        )),
    }
}

/// Runs in a board's build script: embeds `BFMD_MODEL` (or `default_model`) and `BFMD_INPUT` into
/// `OUT_DIR` as described in the crate documentation.
pub fn embed(default_model: &Path) -> Result<Embedded, String> {
    println!("cargo::rerun-if-env-changed=BFMD_MODEL");
    println!("cargo::rerun-if-env-changed=BFMD_INPUT");
    let path = std::env::var_os("BFMD_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| default_model.to_path_buf());
    println!("cargo::rerun-if-changed={}", path.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let input = std::env::var_os("BFMD_INPUT").map(PathBuf::from);
    if let Some(i) = &input {
        println!("cargo::rerun-if-changed={}", i.display());
    }
    embed_into(&path, input.as_deref(), &out)
}

/// [`embed`] with explicit paths (testable without a build script's environment).
pub fn embed_into(path: &Path, input: Option<&Path>, out: &Path) -> Result<Embedded, String> {
    let blob = load(path)?;
    let model =
        Model::parse(&blob).map_err(|e| format!("{}: invalid model: {e}", path.display()))?;
    let inp = model
        .input_tensor(0)
        .ok()
        .and_then(|t| model.tensor(t))
        .ok_or_else(|| format!("{}: the model has no input 0", path.display()))?;
    let input_bytes = inp.region.len;
    let sample = match input {
        Some(p) => {
            let b = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            if b.len() != input_bytes {
                return Err(format!(
                    "{}: {} bytes, the model's input has {input_bytes}",
                    p.display(),
                    b.len()
                ));
            }
            b
        }
        None => vec![0; input_bytes],
    };
    let blob_path = out.join("model.bfmd");
    let input_path = out.join("input.bin");
    write(&blob_path, &blob)?;
    write(&input_path, &sample)?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model")
        .to_string();
    let rs = model_rs(&model, blob.len(), &name, path, &blob_path, &input_path)?;
    write(&out.join("model.rs"), rs.as_bytes())?;
    Ok(Embedded {
        path: path.to_path_buf(),
        arena_bytes: model.arena_bytes(),
        blob_len: blob.len(),
    })
}

/// The generated `model.rs` (see the crate documentation).
fn model_rs(
    model: &Model<'_>,
    blob_len: usize,
    name: &str,
    path: &Path,
    blob_path: &Path,
    input_path: &Path,
) -> Result<String, String> {
    let spec = |t: usize| -> Result<(String, bfmd_graph::TensorInfo), String> {
        let i = model
            .tensor(t)
            .ok_or_else(|| format!("{}: graph tensor {t} is missing", path.display()))?;
        let s = i.shape;
        Ok((
            format!(
                "bfmd_graph::session::IoSpec {{ shape: [{}, {}, {}, {}], dtype: bfmd_graph::DType::{:?}, \
                 scale: {:?}, zero_point: {}, bytes: {} }}",
                s.n, s.h, s.w, s.c, i.dtype, i.scale, i.zero_point, i.region.len
            ),
            i,
        ))
    };
    let mut inputs = Vec::new();
    for k in 0..model.input_count() {
        inputs.push(spec(model.input_tensor(k).map_err(|e| e.to_string())?)?);
    }
    let mut outputs = Vec::new();
    for k in 0..model.output_count() {
        outputs.push(spec(model.output_tensor(k).map_err(|e| e.to_string())?)?);
    }
    let list = |v: &[(String, bfmd_graph::TensorInfo)]| {
        v.iter()
            .map(|(s, _)| format!("    {s},\n"))
            .collect::<String>()
    };
    let ops: String = bfmd_graph::OpSet::of_model(model)
        .iter()
        .map(|(k, d, f)| {
            format!(
                "\n        .with(bfmd_graph::OpKind::{}, bfmd_graph::DType::{:?}, bfmd_graph::Form::{})",
                k.name(),
                d,
                f.name()
            )
        })
        .collect();
    let (inp, outp) = (&inputs[0].1, &outputs[0].1);
    let mut rs = String::new();
    let _ = write!(
        rs,
        "// Generated by bfmd-embed from {path:?}; do not edit.\n\n\
         /// The model's name (its file's stem).\n\
         pub const NAME: &str = {name:?};\n\
         /// Bytes of the arena the plan needs.\n\
         pub const ARENA_BYTES: usize = {arena};\n\
         /// Bytes of the model blob.\n\
         pub const BLOB_LEN: usize = {blob_len};\n\
         /// Number of graph inputs.\n\
         pub const INPUT_COUNT: usize = {n_in};\n\
         /// Number of graph outputs.\n\
         pub const OUTPUT_COUNT: usize = {n_out};\n\
         /// Every graph input, in graph order: shape, dtype, scale, zero point, bytes.\n\
         pub const INPUTS: [bfmd_graph::session::IoSpec; INPUT_COUNT] = [\n{inputs}];\n\
         /// Every graph output, in graph order.\n\
         pub const OUTPUTS: [bfmd_graph::session::IoSpec; OUTPUT_COUNT] = [\n{outputs}];\n\
         /// Bytes of graph input 0.\n\
         pub const INPUT_BYTES: usize = {input_bytes};\n\
         /// Bytes of graph output 0.\n\
         pub const OUTPUT_BYTES: usize = {output_bytes};\n\
         /// Quantization scale of output 0.\n\
         pub const OUTPUT_SCALE: f32 = {scale:?};\n\
         /// Quantization zero point of output 0.\n\
         pub const OUTPUT_ZERO_POINT: i32 = {zp};\n\
         /// The kernels this model runs: a program instantiates the executor for exactly these\n\
         /// (`bfmd_graph::Session::<Ops>`), so the linker keeps no other kernel.\n\
         pub struct Ops;\n\
         impl bfmd_graph::Linked for Ops {{\n    \
             const OPS: bfmd_graph::OpSet = bfmd_graph::OpSet::EMPTY{ops};\n\
         }}\n\
         /// The model blob, 16-byte aligned as `Model::parse` requires, in the section the board's\n\
         /// `memory.x` places where weights belong. Exported under a fixed name so that link-time\n\
         /// optimization keeps it whole in that section instead of folding it into `.rodata`.\n\
         #[link_section = \".bfmd_model\"]\n\
         #[export_name = \"BFMD_MODEL_BLOB\"]\n\
         pub static BLOB: bfmd_graph::AlignedBytes<BLOB_LEN> =\n    \
             bfmd_graph::AlignedBytes(*include_bytes!({blob_path:?}));\n\
         /// A sample input (graph input 0) for boards without a host to read one from.\n\
         pub static SAMPLE_INPUT: [u8; INPUT_BYTES] = *include_bytes!({input_path:?});\n",
        arena = model.arena_bytes(),
        n_in = model.input_count(),
        n_out = model.output_count(),
        inputs = list(&inputs),
        outputs = list(&outputs),
        input_bytes = inp.region.len,
        output_bytes = outp.region.len,
        scale = outp.scale,
        zp = outp.zero_point,
    );
    Ok(rs)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    // Leave an unchanged file alone so that cargo does not rebuild what includes it.
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}
