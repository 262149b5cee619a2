//! `cargo xtask fuzz [--seconds N] [--target NAME] [--no-sanitizer]`: runs the cargo-fuzz
//! (libFuzzer) targets of `fuzz/` for a bounded time each (all of them, or the one named),
//! installing what they need when it is missing, and prints executions, coverage and findings
//! per target.
//!
//! cargo-fuzz needs a nightly compiler (`-Zsanitizer=address`, SanitizerCoverage passes): the
//! task installs rustup's `nightly` toolchain (minimal profile) when it is missing and builds
//! the fuzz targets with it (`rustup run nightly cargo fuzz ...`); the normal builds stay on
//! the pinned stable toolchain. cargo-fuzz itself is installed with an exact version
//! ([`CARGO_FUZZ_VERSION`], `cargo install --locked`).
//!
//! Seed corpora, written under the system temp dir and kept between runs (libFuzzer adds the
//! inputs it finds interesting; nothing of it is committed): small models cut out of the test
//! models, one per operator code and dtype (`tests/data/fuzz/tflite/`, the `.tflite`
//! targets), small blobs of every op kind (`tests/data/fuzz/bfmd_blob/`, for `bfmd_blob`),
//! small synthetic backbone weights (`tests/data/fuzz/safetensors/`) and BlazeFace's real
//! ones (`safetensors_backbone`). Crashes land in
//! `fuzz/artifacts/<target>/` (git-ignored) and fail the task; replay one with
//! `rustup run nightly cargo fuzz run <target> fuzz/artifacts/<target>/crash-...`, and make it
//! a test.

use crate::run::{cargo, display, output, root, status};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Targets in `fuzz/fuzz_targets/`.
const TARGETS: &[&str] = &[
    "parse_tflite",
    "tflite_pipeline",
    "bfmd_blob",
    "safetensors_backbone",
];

/// Default run time per target, in seconds.
const DEFAULT_SECONDS: u64 = 60;

/// The cargo-fuzz release the task installs: an exact requirement, which `cargo install`
/// accepts (a bare `0.13` is rejected by today's cargo).
const CARGO_FUZZ_VERSION: &str = "=0.13.2";

/// The rustup toolchain the fuzz targets are built with.
const NIGHTLY: &str = "nightly";

const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [--target parse_tflite|tflite_pipeline|bfmd_blob|safetensors_backbone] [--no-sanitizer]";

struct Args {
    seconds: u64,
    targets: Vec<String>,
    sanitizer: bool,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        seconds: DEFAULT_SECONDS,
        targets: Vec::new(),
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
                a.targets.push(v.clone());
            }
            "--no-sanitizer" => a.sanitizer = false,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if a.targets.is_empty() {
        a.targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    Ok(a)
}

/// What one target's run reported.
struct Report {
    target: String,
    executions: Option<u64>,
    coverage: String,
    findings: Vec<PathBuf>,
    result: Result<(), String>,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let a = parse_args(args)?;
    ensure_nightly()?;
    ensure_cargo_fuzz()?;
    let reports: Vec<Report> = a
        .targets
        .iter()
        .map(|t| fuzz_one(t, a.seconds, a.sanitizer))
        .collect::<Result<_, _>>()?;
    eprintln!("\n==> fuzz: {} s per target", a.seconds);
    eprintln!("    | target | executions | coverage | findings |");
    eprintln!("    |---|---|---|---|");
    for r in &reports {
        eprintln!(
            "    | `{}` | {} | {} | {} |",
            r.target,
            r.executions.map_or("?".into(), |n| n.to_string()),
            r.coverage,
            r.findings.len()
        );
        for f in &r.findings {
            eprintln!("      finding: {}", f.display());
        }
    }
    let failed: Vec<String> = reports
        .into_iter()
        .filter_map(|r| r.result.err().map(|e| format!("{}: {e}", r.target)))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n(replay a finding with `rustup run {NIGHTLY} cargo fuzz run <target> <file>` \
             from the repository root)",
            failed.join("\n")
        ))
    }
}

/// Runs one target for `seconds`; its libFuzzer log goes to the terminal and to
/// `fuzz/artifacts/<target>.log`, from which the summary is read.
fn fuzz_one(target: &str, seconds: u64, sanitizer: bool) -> Result<Report, String> {
    let (corpus, max_len) = seed_corpus(target)?;
    let artifacts = root().join("fuzz").join("artifacts").join(target);
    std::fs::create_dir_all(&artifacts)
        .map_err(|e| format!("cannot create {}: {e}", artifacts.display()))?;
    let log_path = root()
        .join("fuzz")
        .join("artifacts")
        .join(format!("{target}.log"));
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let before = list(&artifacts).len();
    let mut c = Command::new("rustup");
    c.current_dir(root())
        .args(["run", NIGHTLY, "cargo", "fuzz", "run"]);
    if !sanitizer {
        c.args(["--sanitizer", "none"]);
    }
    c.arg(target)
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        // The largest seed must fit whole, or libFuzzer truncates the real models.
        .arg(format!("-max_len={max_len}"))
        .arg("-timeout=30")
        .arg("-rss_limit_mb=4096")
        .arg("-print_final_stats=1")
        .stderr(Stdio::from(log));
    let result = status(
        &format!(
            "fuzz {target} for {seconds} s (log: {})",
            log_path.display()
        ),
        &mut c,
    );
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(12).collect();
    for l in tail.iter().rev() {
        eprintln!("    {l}");
    }
    let findings: Vec<PathBuf> = list(&artifacts).into_iter().skip(before).collect();
    Ok(Report {
        target: target.to_string(),
        executions: stat(&text, "stat::number_of_executed_units:"),
        coverage: coverage(&text),
        findings,
        result: result.map_err(|e| format!("{e} (see {})", log_path.display())),
    })
}

/// The integer after `key` on libFuzzer's final stats line.
fn stat(log: &str, key: &str) -> Option<u64> {
    log.lines()
        .rev()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

/// `cov: N ft: M corp: K` of the last status line of a libFuzzer log.
fn coverage(log: &str) -> String {
    let Some(line) = log.lines().rev().find(|l| l.contains(" cov: ")) else {
        return "?".into();
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |key: &str| {
        words
            .iter()
            .position(|w| *w == key)
            .and_then(|i| words.get(i + 1))
            .copied()
            .unwrap_or("?")
    };
    format!(
        "{} edges, {} features, corpus {}",
        after("cov:"),
        after("ft:"),
        after("corp:")
    )
}

/// Installs rustup's nightly toolchain (minimal profile) when `rustup run nightly rustc`
/// does not work.
fn ensure_nightly() -> Result<(), String> {
    let mut probe = Command::new("rustup");
    probe.args(["run", NIGHTLY, "rustc", "--version"]);
    if output(&mut probe).is_ok() {
        return Ok(());
    }
    let mut install = Command::new("rustup");
    install.args(["toolchain", "install", NIGHTLY, "--profile", "minimal"]);
    status("install the nightly toolchain for cargo-fuzz", &mut install).map_err(|e| {
        format!(
            "{e} (cargo-fuzz needs a nightly compiler; `{}` by hand)",
            display(&install)
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

/// Writes the seeds of `target` into its persistent corpus directory; returns the directory
/// and the size of the largest seed.
fn seed_corpus(target: &str) -> Result<(PathBuf, usize), String> {
    let corpus = std::env::temp_dir().join("bfmd-fuzz-corpus").join(target);
    std::fs::create_dir_all(&corpus)
        .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
    let data = root().join("tests").join("data");
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    match target {
        "safetensors_backbone" => {
            // Small synthetic weights of each backbone that builds at 32x32 and fits in 512 KiB
            // (`bfmd-models/tests/fuzz_seeds.rs` makes them); the real weights of the other
            // backbones, and BlazeFace's, the smallest (`block_*` hold single blocks).
            let synthetic = list(&data.join("fuzz").join("safetensors"));
            let stems: Vec<String> = synthetic
                .iter()
                .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .collect();
            for p in &synthetic {
                seeds.push((name(p).unwrap_or_default(), read(p)?));
            }
            let mut real: Vec<PathBuf> = std::fs::read_dir(data.join("torch"))
                .into_iter()
                .flatten()
                .flatten()
                .flat_map(|e| list(&e.path()))
                .collect();
            real.sort();
            for p in real {
                let Some(n) = name(&p).filter(|n| n.ends_with(".safetensors")) else {
                    continue;
                };
                let covered = stems.iter().any(|s| n.starts_with(s.as_str()));
                if !n.starts_with("block_") && (!covered || n.starts_with("blazeface")) {
                    seeds.push((format!("real_{n}"), read(&p)?));
                }
            }
        }
        "bfmd_blob" => {
            // Small models of every op kind (`bfmd-graph/tests/hostile.rs` makes them). The
            // test models lowered are not seeds: at 0.2-3 MB they cut libFuzzer's speed from
            // about 12,000 to 600 executions per second and reach no more code.
            for p in list(&data.join("fuzz").join("bfmd_blob")) {
                seeds.push((name(&p).unwrap_or_default(), read(&p)?));
            }
        }
        _ => {
            // Windows of 1 to 3 operators of the test models, one per operator code and
            // dtype (`bfmd-import/tests/tflite_hostile.rs` makes them): the whole models
            // (0.2-3 MB) run a hundred times slower and reach no more code.
            for p in list(&data.join("fuzz").join("tflite")) {
                if let Some(n) = name(&p).filter(|n| n.ends_with(".tflite")) {
                    seeds.push((n, read(&p)?));
                }
            }
        }
    }
    if seeds.is_empty() {
        return Err(format!("no seeds for {target} in {}", data.display()));
    }
    let mut max_len = 4096;
    for (n, bytes) in &seeds {
        max_len = max_len.max(bytes.len());
        std::fs::write(corpus.join(n), bytes)
            .map_err(|e| format!("cannot write into {}: {e}", corpus.display()))?;
    }
    eprintln!(
        "==> corpus {} ({} seeds, {} files in all)",
        corpus.display(),
        seeds.len(),
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
