//! `cargo xtask sim --board qemu-m7|qemu-m55 [--model M.tflite] [--input IN.bin --output
//! OUT.bin]... [--profile] [--functions]`: runs a model on an emulated board.
//!
//! The model is compiled into the `infer` firmware (its build script imports and plans it, and
//! sizes the arena at compile time); inputs are read by the firmware through semihosting from
//! copies in a scratch directory, and outputs come back as hex lines that this task decodes into
//! the `--output` files. Without `--input`, the model's golden inputs from `tests/data/golden/`
//! are used and the outputs are compared with the golden (TFLM) outputs. Every inference reports
//! its exact instruction count (QEMU `-icount`). `--profile` adds the firmware's per-op counts of the
//! first input; `--functions` runs the first input once more under QEMU's execution trace and
//! prints the instructions each function executed ([`crate::hot`]), the tool for finding where a
//! kernel's setup, rather than its loop, costs.

use crate::board::{self, Board};
use crate::qemu;
use crate::run::root;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The model `demo`, `sim` and `size` use when none is given: MLPerf Tiny visual wake words.
pub const DEFAULT_MODEL: &str = "tests/data/models/vww_96_int8.tflite";

/// Wall-clock limit for one QEMU run: generous, since QEMU with `-icount` runs about 10^8
/// instructions per second and the largest test model needs a few 10^8 per inference.
pub const TIMEOUT: Duration = Duration::from_secs(600);

/// `model` made absolute, or the default model; `Err` if the file does not exist.
pub fn model_or_default(model: Option<&str>) -> Result<PathBuf, String> {
    let p = match model {
        Some(m) => PathBuf::from(m),
        None => root().join(DEFAULT_MODEL),
    };
    let p = if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map_err(|e| e.to_string())?.join(p)
    };
    if !p.is_file() {
        return Err(format!("model file {} does not exist", p.display()));
    }
    Ok(p)
}

/// What one invocation in QEMU produced.
#[derive(Debug, Clone)]
pub struct Inference {
    /// Output 0's bytes.
    pub output: Vec<u8>,
    /// Every output's bytes, in graph order.
    pub outputs: Vec<Vec<u8>>,
    /// Instructions executed by the invocation (exact, QEMU `-icount`).
    pub instructions: Option<u64>,
}

/// The results of one firmware run over several inputs.
#[derive(Debug)]
pub struct SimRun {
    /// One per invocation, in order.
    pub inferences: Vec<Inference>,
    /// The informational (`#`) lines, e.g. the model summary and the per-op profile.
    pub info: Vec<String>,
    /// The results without informational lines (for snapshot comparison).
    pub snapshot: String,
    /// Wall-clock seconds QEMU ran.
    pub seconds: f64,
    /// The stack's high-water mark the firmware measured (`# stack-peak`), in bytes.
    pub stack_peak: Option<usize>,
}

/// Runs the already built `elf` on `board` for `inputs` (graph inputs in order, the model's
/// input count per invocation); with `profile`, the firmware also reports per-op instruction
/// counts of the first invocation.
pub fn run_firmware(
    board: &Board,
    elf: &Path,
    inputs: &[PathBuf],
    profile: bool,
) -> Result<SimRun, String> {
    let dir = scratch_dir(board)?;
    let mut args = Vec::new();
    if profile {
        args.push("--profile".to_string());
    }
    for (i, input) in inputs.iter().enumerate() {
        let name = format!("in_{i}.bin");
        std::fs::copy(input, dir.join(&name))
            .map_err(|e| format!("copying input {}: {e}", input.display()))?;
        args.push(name);
    }
    let run = qemu::run(board, elf, &dir, &args, TIMEOUT);
    let _ = std::fs::remove_dir_all(&dir);
    let run = run?;
    let lines = qemu::results(&run.stdout)?;
    let outputs = qemu::keyed(&lines, "output");
    let info: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("# ")).collect();
    let counts = qemu::keyed(&info, "instructions");
    let io = info
        .iter()
        .find_map(|l| l.strip_prefix("io "))
        .and_then(|l| {
            let mut p = l.split_whitespace().map(|v| v.parse::<usize>().ok());
            Some((p.next()??, p.next()??))
        })
        .filter(|&(i, k)| i > 0 && k > 0)
        .ok_or("the firmware did not report its input and output counts")?;
    let (n_in, n_out) = io;
    let mut inferences = Vec::new();
    for s in 0..inputs.len() / n_in {
        let mut outs = Vec::new();
        for k in 0..n_out {
            let key = s * n_out + k;
            let hex = outputs
                .iter()
                .find(|(i, _)| *i == key)
                .ok_or_else(|| format!("the firmware printed no output {k} for invocation {s}"))?
                .1;
            outs.push(qemu::unhex(hex)?);
        }
        let instructions = counts
            .iter()
            .find(|(i, _)| *i == s)
            .and_then(|(_, v)| v.trim().parse().ok());
        inferences.push(Inference {
            output: outs[0].clone(),
            outputs: outs,
            instructions,
        });
    }
    Ok(SimRun {
        inferences,
        info: lines
            .iter()
            .filter(|l| l.starts_with('#'))
            .map(|l| l.to_string())
            .collect(),
        snapshot: qemu::snapshot(&run.stdout)?,
        seconds: run.elapsed.as_secs_f64(),
        stack_peak: info
            .iter()
            .find_map(|l| l.strip_prefix("stack-peak "))
            .and_then(|v| v.trim().parse().ok()),
    })
}

/// Runs `elf` on one invocation's `inputs` under QEMU's execution trace and returns its instructions per function.
///
/// The trace (about 75 bytes per executed block: a gigabyte for the largest test models) goes
/// through a named pipe and is counted while QEMU runs, so it never lands on disk.
fn trace_functions(
    board: &Board,
    elf: &Path,
    inputs: &[PathBuf],
) -> Result<crate::hot::Profile, String> {
    let dir = scratch_dir(board)?;
    let r = (|| {
        let mut names = Vec::new();
        for (i, input) in inputs.iter().enumerate() {
            let name = format!("in_{i}.bin");
            std::fs::copy(input, dir.join(&name))
                .map_err(|e| format!("copying input {}: {e}", input.display()))?;
            names.push(name);
        }
        let fifo = dir.join("trace.fifo");
        let reader = trace_reader(&fifo)?;
        let run = qemu::run_traced(board, elf, &dir, &names, &fifo, TIMEOUT);
        if run.is_err() {
            release(&fifo, &reader);
        }
        let profile = reader
            .join()
            .map_err(|_| "the trace reader panicked".to_string())?;
        run?;
        profile
    })();
    let _ = std::fs::remove_dir_all(&dir);
    r
}

/// The thread counting a trace: its instructions per function once the writer closes the pipe.
type TraceReader = std::thread::JoinHandle<Result<crate::hot::Profile, String>>;

/// Makes the named pipe `fifo` and a thread that counts the trace coming through it, blocking
/// until a writer opens it (QEMU, or [`release`]).
fn trace_reader(fifo: &Path) -> Result<TraceReader, String> {
    let made = std::process::Command::new("mkfifo")
        .arg(fifo)
        .status()
        .map_err(|e| format!("mkfifo: {e}"))?;
    if !made.success() {
        return Err(format!("mkfifo {} failed ({made})", fifo.display()));
    }
    let fifo = fifo.to_path_buf();
    Ok(std::thread::spawn(move || {
        let f = std::fs::File::open(&fifo).map_err(|e| format!("{}: {e}", fifo.display()))?;
        crate::hot::parse(std::io::BufReader::new(f))
    }))
}

/// Ends `reader`'s trace when QEMU failed before opening the pipe: opens and closes it for
/// writing without blocking until the reader is done. Before the reader has opened the pipe an
/// attempt finds no reader and does nothing; the first one after pairs with it.
fn release(fifo: &Path, reader: &TraceReader) {
    use std::os::unix::fs::OpenOptionsExt;
    /// `O_NONBLOCK` on Linux.
    const O_NONBLOCK: i32 = 0o4000;
    while !reader.is_finished() {
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(O_NONBLOCK)
            .open(fifo);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn scratch_dir(board: &Board) -> Result<PathBuf, String> {
    let dir = board
        .target_dir()
        .join(format!("sim-{}-{}", board.name, std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// Runs `model` on the host for `inputs`, as `cargo xtask infer` does (same lowering, planner
/// and executor, in this process), and returns output 0 of each invocation (one input file per
/// invocation: a model with one input).
pub fn host_infer(model: &Path, inputs: &[PathBuf]) -> Result<Vec<Vec<u8>>, String> {
    Ok(host_invocations(model, inputs)?
        .into_iter()
        .map(|mut outs| outs.swap_remove(0))
        .collect())
}

/// Runs `model` on the host over `inputs`, the model's input count per invocation in graph
/// order, and returns every output of each invocation.
pub fn host_invocations(model: &Path, inputs: &[PathBuf]) -> Result<Vec<Vec<Vec<u8>>>, String> {
    host_invocations_of(&crate::infer::load(model)?, model, inputs)
}

/// [`host_invocations`] of a model already loaded from `model`.
pub fn host_invocations_of(
    loaded: &crate::infer::Loaded,
    model: &Path,
    inputs: &[PathBuf],
) -> Result<Vec<Vec<Vec<u8>>>, String> {
    let mut host = bfmd_import::lower::HostModel::new(loaded.blob.clone())
        .map_err(|e| format!("{}: {e}", model.display()))?;
    let n_in = host.model().map_err(|e| e.to_string())?.input_count();
    if !inputs.len().is_multiple_of(n_in) {
        return Err(format!(
            "{}: the model takes {n_in} input(s) per invocation, got {} --input",
            model.display(),
            inputs.len()
        ));
    }
    inputs
        .chunks(n_in)
        .map(|group| {
            let data = group
                .iter()
                .map(|p| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display())))
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
            host.run(&refs)
                .map_err(|e| format!("host inference on {}: {e}", group[0].display()))
        })
        .collect()
}

/// The input compiled into firmware for boards without a host to read inputs from: the model's
/// first golden input (for the default model, the astronaut photograph), or `None` (zeros).
pub fn sample_input(model: &Path) -> Option<PathBuf> {
    golden_dir(model)
        .and_then(|d| golden_pairs(&d).into_iter().next())
        .map(|(input, _)| input)
}

/// The golden folder of a model file: `tests/data/golden/<stem without _int8>/` (seeded inputs)
/// or `tests/data/golden/<stem>_real/` (photographs), if it exists.
pub fn golden_dir(model: &Path) -> Option<PathBuf> {
    let stem = model.file_stem()?.to_str()?;
    let golden = root().join("tests/data/golden");
    let seeded = golden.join(stem.strip_suffix("_int8").unwrap_or(stem));
    let real = golden.join(format!("{stem}_real"));
    [seeded, real]
        .into_iter()
        .find(|d| !golden_pairs(d).is_empty())
}

/// The golden `(input, expected output)` pairs in `dir`: `input_<i>.bin` / `output_<i>.bin`, or
/// else `<name>.input.bin` / `<name>.output.bin` in name order.
pub fn golden_pairs(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let seeded: Vec<_> = (0..)
        .map(|i| {
            (
                dir.join(format!("input_{i}.bin")),
                dir.join(format!("output_{i}.bin")),
            )
        })
        .take_while(|(i, o)| i.is_file() && o.is_file())
        .collect();
    if !seeded.is_empty() {
        return seeded;
    }
    let mut named: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".input.bin")?;
            let out = dir.join(format!("{stem}.output.bin"));
            out.is_file().then(|| (e.path(), out))
        })
        .collect();
    named.sort();
    named
}

/// `cargo xtask sim`.
pub fn run(args: &[String]) -> Result<(), String> {
    let (board, rest) = board::take_board(args, "sim")?;
    if board.machine.is_none() {
        return Err(format!(
            "board {} is not emulated; `cargo xtask sim` runs qemu-m7 or qemu-m55",
            board.name
        ));
    }
    let mut model = None;
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    let mut profile = false;
    let mut functions = false;
    let mut it = rest.into_iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{what} needs a path"))
        };
        match a {
            "--model" => model = Some(value("--model")?),
            "--input" => inputs.push(value("--input")?),
            "--output" => outputs.push(value("--output")?),
            "--profile" => profile = true,
            "--functions" => functions = true,
            other => return Err(format!("`cargo xtask sim`: unknown argument `{other}`")),
        }
    }
    crate::deps::ensure_all()?;
    let model = model_or_default(model.as_deref().and_then(Path::to_str))?;
    // Loaded once: for the counts here and for the host's run below.
    let loaded = crate::infer::load(&model)?;
    let (n_in, n_out) = {
        let m = loaded
            .blob
            .model()
            .map_err(|e| format!("{}: {e}", model.display()))?;
        (m.input_count(), m.output_count())
    };
    let mut expected = Vec::new();
    if inputs.is_empty() {
        if n_in != 1 || n_out != 1 {
            return Err(format!(
                "{}: the model has {n_in} input(s) and {n_out} output(s); give them with --input \
                 and --output, in graph order",
                model.display()
            ));
        }
        let dir = golden_dir(&model).ok_or_else(|| {
            format!(
                "no --input given and no golden inputs for {} in tests/data/golden/",
                model.display()
            )
        })?;
        for (i, o) in golden_pairs(&dir) {
            inputs.push(i);
            expected.push(Some(o));
        }
        eprintln!(
            "    using the {} golden inputs of {}",
            inputs.len(),
            dir.display()
        );
    }
    if !inputs.len().is_multiple_of(n_in) {
        return Err(format!(
            "{}: the model has {n_in} input(s): give --input a multiple of {n_in} times (got {})",
            model.display(),
            inputs.len()
        ));
    }
    let invocations = inputs.len() / n_in;
    if !outputs.is_empty() && outputs.len() != invocations * n_out {
        return Err(format!(
            "{}: {invocations} invocation(s) of a model with {n_out} output(s) need {} --output \
             (got {})",
            model.display(),
            invocations * n_out,
            outputs.len()
        ));
    }
    let elf = board.build("infer", Some(&model))?;
    let sim = run_firmware(board, &elf, &inputs, profile)?;
    let host = host_invocations_of(&loaded, &model, &inputs)?;
    for l in &sim.info {
        println!("{l}");
    }
    let mut mismatches = 0;
    for (s, inf) in sim.inferences.iter().enumerate() {
        let instr = inf
            .instructions
            .map(|n| format!("{n} instructions"))
            .unwrap_or_else(|| "instructions not reported".into());
        let group: Vec<String> = inputs[s * n_in..(s + 1) * n_in]
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let mut line = format!("invocation {s} ({}): {instr}", group.join(", "));
        for (k, out) in inf.outputs.iter().enumerate() {
            let name = if n_out == 1 {
                "output".to_string()
            } else {
                format!("output {k}")
            };
            if host[s].get(k) == Some(out) {
                line.push_str(&format!(", {name} == host"));
            } else {
                line.push_str(&format!(", {name} DIFFERS from host"));
                mismatches += 1;
            }
            if let Some(path) = outputs.get(s * n_out + k) {
                std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))?;
                line.push_str(&format!(", written to {}", path.display()));
            }
        }
        if let Some(Some(golden)) = expected.get(s) {
            let want = std::fs::read(golden).map_err(|e| format!("{}: {e}", golden.display()))?;
            if want == inf.output {
                line.push_str(", output == golden (TFLM)");
            } else {
                line.push_str(", output DIFFERS from golden (TFLM)");
                mismatches += 1;
            }
        }
        println!("{line}");
    }
    if let Some(n) = sim.stack_peak {
        println!("peak stack {n} B (measured: the firmware paints its stack at start-up)");
    }
    println!("QEMU ran {:.1} s", sim.seconds);
    if functions {
        let p = trace_functions(board, &elf, &inputs[..n_in])?;
        println!(
            "instructions per function, whole firmware run on invocation 0 (startup and I/O included):"
        );
        print!("{}", crate::hot::table(&p, 40));
    }
    if mismatches > 0 {
        return Err(format!(
            "{mismatches} output(s) differ from the host's or the golden outputs"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader blocked on a pipe nobody writes is released by `release`, as when QEMU fails
    /// before opening its trace.
    #[test]
    fn release_ends_a_waiting_reader() {
        let dir = std::env::temp_dir().join(format!("bfmd-release-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("t.fifo");
        let reader = trace_reader(&fifo).unwrap();
        release(&fifo, &reader);
        assert_eq!(
            reader.join().unwrap().unwrap(),
            crate::hot::Profile::default()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
