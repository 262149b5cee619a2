//! `cargo xtask fuzz [--seconds N] [--target NAME] [--no-sanitizer]`: runs a cargo-fuzz
//! (libFuzzer) target of `fuzz/` for a bounded time, installing cargo-fuzz when it is missing.
//!
//! Only the stable toolchain exists on bfmd's machines, and cargo-fuzz needs nightly flags
//! (`-Zsanitizer=address`, SanitizerCoverage passes). `RUSTC_BOOTSTRAP=1` makes the stable
//! compiler accept them; it is set for the fuzz build only, never for the normal builds.
//!
//! The seed corpus is every model of `tests/data/models/`, copied into a directory under the
//! system temp dir that persists between runs (libFuzzer adds the inputs it finds interesting);
//! nothing of it is committed. Crashes land in `fuzz/artifacts/<target>/` (git-ignored) and fail
//! the task; replay one with
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/crash-...`.

use crate::run::{cargo, output, root, status};
use std::path::{Path, PathBuf};

/// Targets in `fuzz/fuzz_targets/`.
const TARGETS: &[&str] = &["parse_tflite"];

/// Default run time per invocation, in seconds.
const DEFAULT_SECONDS: u64 = 60;

/// The cargo-fuzz release line the task installs (`cargo install --version` requirement).
const CARGO_FUZZ_VERSION: &str = "0.13";

const USAGE: &str =
    "usage: cargo xtask fuzz [--seconds N] [--target parse_tflite] [--no-sanitizer]";

struct Args {
    seconds: u64,
    target: String,
    sanitizer: bool,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        seconds: DEFAULT_SECONDS,
        target: TARGETS[0].to_string(),
        sanitizer: true,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                let v = it.next().ok_or("--seconds needs a value")?;
                a.seconds = v
                    .parse()
                    .ok()
                    .filter(|&s| s > 0)
                    .ok_or_else(|| format!("--seconds takes a positive integer, got `{v}`"))?;
            }
            "--target" => {
                let v = it.next().ok_or("--target needs a value")?;
                if !TARGETS.contains(&v.as_str()) {
                    return Err(format!("unknown fuzz target `{v}` (known: {TARGETS:?})"));
                }
                a.target = v.clone();
            }
            "--no-sanitizer" => a.sanitizer = false,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(a)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let a = parse_args(args)?;
    ensure_cargo_fuzz()?;
    let (corpus, max_len) = seed_corpus(&a.target)?;
    let mut c = cargo();
    c.current_dir(root())
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "run"]);
    if !a.sanitizer {
        c.args(["--sanitizer", "none"]);
    }
    c.arg(&a.target)
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={}", a.seconds))
        // The largest seed must fit whole, or libFuzzer truncates the real models.
        .arg(format!("-max_len={max_len}"))
        .arg("-timeout=30")
        .arg("-rss_limit_mb=4096")
        .arg("-print_final_stats=1");
    let result = status(&format!("fuzz {} for {} s", a.target, a.seconds), &mut c);
    let artifacts = root().join("fuzz").join("artifacts").join(&a.target);
    let crashes = list(&artifacts);
    if !crashes.is_empty() {
        eprintln!("\n==> findings in {}:", artifacts.display());
        for f in &crashes {
            eprintln!("    {}", f.display());
        }
    }
    result.map_err(|e| {
        format!(
            "{e}\n(a crash is saved under {}; replay it with `RUSTC_BOOTSTRAP=1 cargo fuzz run {} \
             <file>` from the repository root)",
            artifacts.display(),
            a.target
        )
    })
}

/// Installs cargo-fuzz from crates.io unless `cargo fuzz` already works.
fn ensure_cargo_fuzz() -> Result<(), String> {
    if output(cargo().args(["fuzz", "--version"])).is_ok() {
        return Ok(());
    }
    status(
        "install cargo-fuzz",
        cargo().args([
            "install",
            "cargo-fuzz",
            "--locked",
            "--version",
            CARGO_FUZZ_VERSION,
        ]),
    )
}

/// Copies the test models into the persistent corpus directory of `target`; returns the
/// directory and the size of the largest seed.
fn seed_corpus(target: &str) -> Result<(PathBuf, usize), String> {
    let models = root().join("tests").join("data").join("models");
    let corpus = std::env::temp_dir().join("bfmd-fuzz-corpus").join(target);
    std::fs::create_dir_all(&corpus)
        .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
    let mut max_len = 4096;
    let mut seeds = 0;
    for path in list(&models) {
        if path.extension().is_none_or(|e| e != "tflite") {
            continue;
        }
        let name = path.file_name().ok_or("model without a file name")?;
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        max_len = max_len.max(bytes.len());
        std::fs::write(corpus.join(name), &bytes)
            .map_err(|e| format!("cannot write into {}: {e}", corpus.display()))?;
        seeds += 1;
    }
    if seeds == 0 {
        return Err(format!("no .tflite seeds in {}", models.display()));
    }
    eprintln!(
        "==> corpus {} ({seeds} seed models, {} files in all)",
        corpus.display(),
        list(&corpus).len()
    );
    Ok((corpus, max_len))
}

/// The files of `dir`, sorted; empty when it does not exist.
fn list(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}
