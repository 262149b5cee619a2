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
//! pub const INPUT_BYTES: usize;    // graph input 0
//! pub const OUTPUT_BYTES: usize;   // graph output 0
//! pub const OUTPUT_SCALE: f32;     // output 0 quantization (1.0 / 0 for float outputs)
//! pub const OUTPUT_ZERO_POINT: i32;
//! pub static BLOB: bfmd_graph::AlignedBytes<BLOB_LEN>;  // in section `.bfmd_model`
//! pub static SAMPLE_INPUT: [u8; INPUT_BYTES];
//! ```
//!
//! The arena itself is declared by the firmware (`static mut BFMD_ARENA: Arena<ARENA_BYTES>`), in
//! the memory region the board chooses for it from [`Embedded::arena_bytes`].

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
/// lowering and the default options (in-place planning, channel shuffles folded), its scratch
/// sized for the kernels of the firmware being built ([`target_path`]).
pub fn import_tflite(bytes: &[u8]) -> Result<(Vec<u8>, String), String> {
    let options = bfmd_import::lower::LowerOptions {
        path: target_path(),
        ..Default::default()
    };
    let built =
        bfmd_import::lower::tflite_bytes_to_graph(bytes, &options).map_err(|e| e.to_string())?;
    Ok((built.blob.as_bytes().to_vec(), built.report.to_string()))
}

/// The kernels the firmware being built runs, from the build script's environment: `TARGET`,
/// `CARGO_CFG_TARGET_FEATURE` and `-C target-cpu` in `CARGO_ENCODED_RUSTFLAGS`, decided as
/// `bfmd-kernels`' build script decides (`BFMD_FORCE_PORTABLE=1` gives the portable loops, as
/// there); this machine's kernels outside a build script (no `TARGET`).
pub fn target_path() -> bfmd_graph::KernelPath {
    use bfmd_graph::KernelPath;
    let Ok(target) = std::env::var("TARGET") else {
        return KernelPath::HOST;
    };
    println!("cargo::rerun-if-env-changed=BFMD_FORCE_PORTABLE");
    if std::env::var("BFMD_FORCE_PORTABLE").is_ok_and(|v| v == "1") {
        return KernelPath::Portable;
    }
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    KernelPath::for_target(&target, &features, target_cpu(&flags))
}

/// The last `-C target-cpu` of `CARGO_ENCODED_RUSTFLAGS` (words separated by `\x1f`), given as
/// `-C target-cpu=x` (two words) or `-Ctarget-cpu=x` (one).
fn target_cpu(flags: &str) -> Option<&str> {
    let words: Vec<&str> = flags.split('\x1f').collect();
    words.iter().enumerate().rev().find_map(|(i, w)| {
        let opt = match w.strip_prefix("-C")? {
            "" => words.get(i + 1).copied()?,
            rest => rest,
        };
        opt.strip_prefix("target-cpu=")
    })
}

/// The model bytes as a bfmd blob: `.bfmd` files as they are (with the plan they were built
/// with, whose scratch may be short for the target's kernels), `.tflite` files imported.
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
    let io = |what: &str, t: Result<usize, bfmd_graph::GraphError>| {
        t.ok()
            .and_then(|t| model.tensor(t))
            .ok_or_else(|| format!("{}: the model has no {what} 0", path.display()))
    };
    let inp = io("input", model.input_tensor(0))?;
    let outp = io("output", model.output_tensor(0))?;
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
         /// Bytes of graph input 0.\n\
         pub const INPUT_BYTES: usize = {input_bytes};\n\
         /// Bytes of graph output 0.\n\
         pub const OUTPUT_BYTES: usize = {output_bytes};\n\
         /// Quantization scale of output 0.\n\
         pub const OUTPUT_SCALE: f32 = {scale:?};\n\
         /// Quantization zero point of output 0.\n\
         pub const OUTPUT_ZERO_POINT: i32 = {zp};\n\
         /// The model blob, 16-byte aligned as `Model::parse` requires, in the section the board's\n\
         /// `memory.x` places where weights belong. Exported under a fixed name so that link-time\n\
         /// optimization keeps it whole in that section instead of folding it into `.rodata`.\n\
         #[link_section = \".bfmd_model\"]\n\
         #[export_name = \"BFMD_MODEL_BLOB\"]\n\
         pub static BLOB: bfmd_graph::AlignedBytes<BLOB_LEN> =\n    \
             bfmd_graph::AlignedBytes(*include_bytes!({blob_path:?}));\n\
         /// A sample input for boards without a host to read one from.\n\
         pub static SAMPLE_INPUT: [u8; INPUT_BYTES] = *include_bytes!({input_path:?});\n",
        arena = model.arena_bytes(),
        blob_len = blob.len(),
        n_in = model.input_count(),
        n_out = model.output_count(),
        output_bytes = outp.region.len,
        scale = outp.scale,
        zp = outp.zero_point,
    );
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

#[cfg(test)]
mod tests {
    #[test]
    fn target_cpu_in_either_spelling() {
        let two = "-C\x1flink-arg=-Tlink.x\x1f-C\x1ftarget-cpu=cortex-m55";
        assert_eq!(super::target_cpu(two), Some("cortex-m55"));
        let last = "-Ctarget-cpu=cortex-m4\x1f-Ctarget-cpu=cortex-m7";
        assert_eq!(super::target_cpu(last), Some("cortex-m7"));
        assert_eq!(super::target_cpu("-C\x1fopt-level=3"), None);
        assert_eq!(super::target_cpu(""), None);
    }
}
