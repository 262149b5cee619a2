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
    // The one generator of `model.rs`, shared with `bfmd_import::build::compile_tflite`.
    let rs = bfmd_import::build::model_rs(&bfmd_import::build::ModelRs {
        model: &model,
        blob_len: blob.len(),
        name: &name,
        source: path,
        blob_path: &blob_path,
        macs: None,
        // Where the board's `memory.x` puts weights, under a fixed name so that link-time
        // optimization keeps the blob whole in that section instead of folding it into
        // `.rodata`.
        link_section: Some(".bfmd_model"),
        export_name: Some("BFMD_MODEL_BLOB"),
        sample_input: Some(&input_path),
    });
    write(&out.join("model.rs"), rs.as_bytes())?;
    Ok(Embedded {
        path: path.to_path_buf(),
        arena_bytes: model.arena_bytes(),
        blob_len: blob.len(),
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    // Leave an unchanged file alone so that cargo does not rebuild what includes it.
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}
