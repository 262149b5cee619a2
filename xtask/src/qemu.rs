//! Running firmware in QEMU and reading what it printed.
//!
//! The firmware (`boards/qemu`) talks to the host through semihosting: its output arrives on
//! QEMU's stdout, its exit status becomes QEMU's, and it reads its inputs from files named on its
//! command line (relative to QEMU's working directory). Results are the lines between
//! `=== bfmd begin` and `=== bfmd end`; lines starting with `#` are informational (instruction
//! counts, which change whenever a kernel does) and are left out of snapshot comparisons.

use crate::board::{Board, Machine};
use crate::run::display;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Line the firmware prints before its results.
pub const BEGIN: &str = "=== bfmd begin";
/// Line the firmware prints after its results.
pub const END: &str = "=== bfmd end";

/// What a QEMU run produced.
#[derive(Debug)]
pub struct Run {
    /// Everything the firmware printed on stdout.
    pub stdout: String,
    /// What it (or QEMU) printed on stderr.
    pub stderr: String,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

/// `qemu-system-arm` with the options for `machine`: no display, semihosting on stdout, and
/// deterministic instruction counting.
fn command(machine: &Machine, elf: &Path, args: &[String]) -> Command {
    let mut c = Command::new("qemu-system-arm");
    // The semihosting command line: the program name, then `args` (plain file names: QEMU splits
    // `arg=` values at commas, so callers pass names without them).
    let mut sh = String::from("enable=on,target=native,chardev=sh0,arg=firmware");
    for a in args {
        sh.push_str(",arg=");
        sh.push_str(a);
    }
    c.args(["-M", machine.name])
        .args(["-nographic", "-monitor", "none", "-serial", "none"])
        .args(["-semihosting-config", &sh])
        .args(["-chardev", "stdio,id=sh0"])
        .args(["-icount", &format!("shift={}", machine.icount_shift)])
        .arg("-kernel")
        .arg(elf);
    c
}

/// Runs `elf` on `board`'s emulated machine in `cwd` with the semihosting arguments `args`, and
/// fails with a message that says why if QEMU does not exit with status 0 within `timeout`.
pub fn run(
    board: &Board,
    elf: &Path,
    cwd: &Path,
    args: &[String],
    timeout: Duration,
) -> Result<Run, String> {
    run_with(board, elf, cwd, args, &[], timeout)
}

/// [`run`] with QEMU's execution trace written to `log`: every translated block's instructions
/// (`-d in_asm`) and every execution of a block (`-d exec`, unchained so that none is
/// skipped), which [`crate::hot`] turns into instructions per function.
pub fn run_traced(
    board: &Board,
    elf: &Path,
    cwd: &Path,
    args: &[String],
    log: &Path,
    timeout: Duration,
) -> Result<Run, String> {
    let log = log
        .to_str()
        .ok_or_else(|| format!("trace path {} is not UTF-8", log.display()))?;
    let extra = ["-d", "in_asm,exec,nochain", "-D", log];
    run_with(board, elf, cwd, args, &extra, timeout)
}

/// [`run`] with `extra` QEMU options.
fn run_with(
    board: &Board,
    elf: &Path,
    cwd: &Path,
    args: &[String],
    extra: &[&str],
    timeout: Duration,
) -> Result<Run, String> {
    let machine = board
        .machine
        .as_ref()
        .ok_or_else(|| format!("board {} is not emulated", board.name))?;
    if let Some(bad) = args.iter().find(|a| a.contains(',') || a.contains(' ')) {
        return Err(format!(
            "semihosting argument `{bad}` contains a comma or a space"
        ));
    }
    let mut cmd = command(machine, elf, args);
    cmd.args(extra);
    cmd.current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = display(&cmd);
    eprintln!("    $ (cd {} && {shown})", cwd.display());
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        format!("cannot start qemu-system-arm ({e}); `cargo xtask deps` installs it")
    })?;
    // Drain both pipes on threads so that a chatty firmware cannot block on a full pipe.
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut err = child.stderr.take().expect("stderr is piped");
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let status = loop {
        if let Some(st) = child
            .try_wait()
            .map_err(|e| format!("waiting for QEMU: {e}"))?
        {
            break Some(st);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
    let run = Run {
        stdout,
        stderr,
        elapsed: start.elapsed(),
    };
    let why = match status {
        None => format!("timed out after {:.0} s", timeout.as_secs_f64()),
        Some(st) => match st.code() {
            Some(0) => return Ok(run),
            Some(1) => "the firmware reported an error (exit status 1)".to_string(),
            Some(3) => "the CPU faulted (exit status 3)".to_string(),
            Some(101) => "the firmware panicked (exit status 101)".to_string(),
            Some(c) => format!("QEMU exited with status {c}"),
            None => format!("QEMU was killed ({st})"),
        },
    };
    Err(format!(
        "{} on {}: {why}\n--- stdout (last lines)\n{}\n--- stderr\n{}",
        elf.display(),
        machine.name,
        tail(&run.stdout, 20),
        tail(&run.stderr, 20)
    ))
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The lines between the markers; `Err` if the markers are missing.
pub fn results(stdout: &str) -> Result<Vec<&str>, String> {
    let mut lines = stdout.lines().skip_while(|l| l.trim_end() != BEGIN);
    if lines.next().is_none() {
        return Err(format!("no `{BEGIN}` line in the firmware's output"));
    }
    let mut body = Vec::new();
    for l in lines {
        if l.trim_end() == END {
            return Ok(body);
        }
        body.push(l.trim_end());
    }
    Err(format!("no `{END}` line in the firmware's output"))
}

/// The results without informational (`#`) lines, one per line, for snapshot comparison.
pub fn snapshot(stdout: &str) -> Result<String, String> {
    let mut s = String::new();
    for l in results(stdout)? {
        if !l.starts_with('#') {
            s.push_str(l);
            s.push('\n');
        }
    }
    Ok(s)
}

/// The value of every `<key> <index> <value>` line, indexed.
pub fn keyed<'a>(lines: &[&'a str], key: &str) -> Vec<(usize, &'a str)> {
    lines
        .iter()
        .filter_map(|l| {
            let mut p = l.splitn(3, ' ');
            if p.next()? != key {
                return None;
            }
            let i = p.next()?.parse().ok()?;
            Some((i, p.next().unwrap_or("")))
        })
        .collect()
}

/// Decodes a lowercase or uppercase hex string.
pub fn unhex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd-length hex string ({} digits)", s.len()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16)
                .map_err(|e| format!("bad hex `{}`: {e}", &s[i..i + 2]))
        })
        .collect()
}

/// Compares `actual` with the expected-output file `expected`; with `bless`, writes it instead.
pub fn check_snapshot(expected: &Path, actual: &str, bless: bool) -> Result<(), String> {
    if bless {
        if let Some(d) = expected.parent() {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        std::fs::write(expected, actual).map_err(|e| format!("{}: {e}", expected.display()))?;
        eprintln!("    blessed {}", expected.display());
        return Ok(());
    }
    let want = std::fs::read_to_string(expected).map_err(|e| {
        format!(
            "{}: {e} (run with --bless to create it from this output)",
            expected.display()
        )
    })?;
    if want == actual {
        return Ok(());
    }
    let first = want
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| want.lines().count().min(actual.lines().count()));
    let line = |s: &str| {
        s.lines()
            .nth(first)
            .unwrap_or("<end of output>")
            .chars()
            .take(160)
            .collect::<String>()
    };
    Err(format!(
        "output differs from {} at line {}:\n  expected: {}\n  actual:   {}",
        expected.display(),
        first + 1,
        line(&want),
        line(actual)
    ))
}

/// Expected-output files of the QEMU programs (`boards/qemu/expected/<program>.out`).
pub fn expected_dir() -> std::path::PathBuf {
    crate::run::root().join("boards/qemu/expected")
}

/// Models the QEMU snapshot tests run (files in `tests/data/models/`), chosen to cover every op
/// family of the seed backbones while keeping QEMU time to a few minutes: standard and depthwise
/// convolutions and pooling (vww, MobileNetV1), split/concat/shuffle (ShuffleNetV2), hard-swish,
/// squeeze-excite multiplies and residual adds (MobileNetV3-small), and a raw feature-map output
/// (BlazeFace, the most sensitive check).
pub const SNAPSHOT_MODELS: &[&str] = &[
    "vww_96_int8",
    "mobilenet_v1_int8",
    "shufflenet_v2_int8",
    "mobilenet_v3_small_int8",
    "blazeface_backbone_int8",
];

/// The expected output of the `infer` firmware for golden outputs `outputs`: one
/// `output <i> <hex>` line per input. It is derived from the TFLM goldens, never from a run.
pub fn expected_infer_output(outputs: &[Vec<u8>]) -> String {
    let mut s = String::new();
    for (i, o) in outputs.iter().enumerate() {
        s.push_str(&format!("output {i} "));
        for b in o {
            s.push_str(&format!("{b:02x}"));
        }
        s.push('\n');
    }
    s
}

/// Runs `model` on `board` for its golden inputs and checks, byte for byte: the firmware's output
/// against `expected/<model>.out`, that file against the TFLM goldens, and every output against
/// its golden file and against the host's. With `bless`, (re)writes the expected file from the goldens first.
pub fn model_snapshot(board: &Board, model: &str, bless: bool) -> Result<String, String> {
    let path = crate::run::root().join(format!("tests/data/models/{model}.tflite"));
    let dir = crate::sim::golden_dir(&path)
        .ok_or_else(|| format!("no golden data for {}", path.display()))?;
    let pairs = crate::sim::golden_pairs(&dir);
    let goldens = pairs
        .iter()
        .map(|(_, o)| std::fs::read(o).map_err(|e| format!("{}: {e}", o.display())))
        .collect::<Result<Vec<_>, _>>()?;
    let expected_file = expected_dir().join(format!("{model}.out"));
    let from_goldens = expected_infer_output(&goldens);
    if bless {
        check_snapshot(&expected_file, &from_goldens, true)?;
    }
    check_snapshot(&expected_file, &from_goldens, false).map_err(|e| {
        format!(
            "{} is stale against the goldens: {e}",
            expected_file.display()
        )
    })?;
    let elf = board.build("infer", Some(&path))?;
    let inputs: Vec<_> = pairs.iter().map(|(i, _)| i.clone()).collect();
    let run = crate::sim::run_firmware(board, &elf, &inputs, false)?;
    check_snapshot(&expected_file, &run.snapshot, false)?;
    let host = crate::sim::host_infer(&path, &inputs)?;
    for (i, (inf, golden)) in run.inferences.iter().zip(&goldens).enumerate() {
        if &inf.output != golden {
            return Err(format!(
                "{model} input {i}: output differs from {}",
                pairs[i].1.display()
            ));
        }
        if inf.output != host[i] {
            return Err(format!(
                "{model} input {i}: output differs from the host's (`cargo xtask infer`)"
            ));
        }
    }
    let counts: Vec<String> = run
        .inferences
        .iter()
        .map(|i| i.instructions.map_or("?".into(), |n| n.to_string()))
        .collect();
    Ok(format!(
        "{model} on {}: {} outputs == TFLM == host, instructions {} ({:.1} s)",
        board.name,
        goldens.len(),
        counts.join(" "),
        run.seconds
    ))
}

/// Builds the NUCLEO-H743ZI2 firmware (it cannot run here) and checks what can be checked
/// from its ELF: it fits the chip; its code is of the same order as the emulated Cortex-M7's
/// (same target and executor: a build whose start-up code the compiler proved to panic, as with
/// an impossible clock configuration, drops everything after it and shrinks to a few KiB); and
/// build.rs put the arena in DTCM for the visual-wake-words model (54 KiB) and in AXI SRAM for
/// BlazeFace (192 KiB).
fn stm32h7_checks() -> Result<(), String> {
    use crate::board::find;
    use crate::size::{render, usage_of};
    let (h7, m7) = (find("stm32h7")?, find("qemu-m7")?);
    let vww = crate::sim::model_or_default(None)?;
    let sample = crate::sim::sample_input(&vww);
    let h = usage_of(
        &h7.build_with_input("infer", Some(&vww), sample.as_deref())?,
        h7,
    )?;
    let q = usage_of(&m7.build("infer", Some(&vww))?, m7)?;
    render(h7, &h).1?;
    if h.text * 2 < q.text {
        return Err(format!(
            "stm32h7 text is {} B, the qemu-m7 firmware's {} B: the inference code was dropped",
            h.text, q.text
        ));
    }
    // Regions in board order: FLASH, DTCM, AXISRAM.
    if h.regions[1] < h.arena || h.regions[2] != 0 {
        return Err(format!(
            "vww arena ({} B) is not in DTCM: {:?}",
            h.arena, h.regions
        ));
    }
    let blaze = crate::run::root().join("tests/data/models/blazeface_backbone_int8.tflite");
    let b = usage_of(&h7.build("infer", Some(&blaze))?, h7)?;
    render(h7, &b).1?;
    if b.regions[2] < b.arena || b.arena <= 104 * 1024 {
        return Err(format!(
            "blazeface arena ({} B) is not in AXI SRAM: {:?}",
            b.arena, b.regions
        ));
    }
    Ok(())
}

/// The README's example program (`minimal`) with the visual-wake-words model and the
/// astronaut photograph compiled in: its output must be TFLM's.
fn minimal_example_check() -> Result<(), String> {
    let m7 = crate::board::find("qemu-m7")?;
    let vww = crate::sim::model_or_default(None)?;
    let photo = crate::run::root().join("tests/data/golden/vww_96_int8_real/astronaut.input.bin");
    let golden = std::fs::read(photo.with_file_name("astronaut.output.bin"))
        .map_err(|e| format!("astronaut.output.bin: {e}"))?;
    let elf = m7.build_with_input("minimal", Some(&vww), Some(&photo))?;
    let out = run(
        m7,
        &elf,
        &std::env::temp_dir(),
        &[],
        Duration::from_secs(120),
    )?;
    // The example prints no result markers: its one `output 0 <hex>` line is all it says.
    let lines: Vec<&str> = out.stdout.lines().map(str::trim_end).collect();
    let printed = keyed(&lines, "output");
    match printed.first() {
        Some((0, hex)) if unhex(hex)? == golden => Ok(()),
        _ => Err(format!(
            "the minimal example printed {printed:?}, TFLM's output is {golden:02x?}"
        )),
    }
}

/// MediaPipe's BlazeFace detector (two float32 outputs, `tests/data/real/`) on `board`: both
/// outputs byte-identical to the host's, and within 1e-5 (max-norm relative, per output) of
/// LiteRT's reference kernels.
fn two_output_check(board: &Board) -> Result<(), String> {
    let dir = crate::run::root().join("tests/data/real/face_detection_short_range");
    let model = dir.join("face_detection_short_range.tflite");
    let inputs = [dir.join("input_0.bin")];
    let elf = board.build("infer", Some(&model))?;
    let run = crate::sim::run_firmware(board, &elf, &inputs, false)?;
    let host = crate::sim::host_invocations(&model, &inputs)?;
    let inf = run
        .inferences
        .first()
        .ok_or("the firmware ran no invocation")?;
    if inf.outputs.len() != 2 || host[0] != inf.outputs {
        return Err(format!(
            "{}: the firmware's {} output(s) differ from the host's",
            board.name,
            inf.outputs.len()
        ));
    }
    for (k, out) in inf.outputs.iter().enumerate() {
        let path = dir.join(format!("output_0_{k}.bin"));
        let want = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let f32s = |b: &[u8]| -> Vec<f32> {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        let (got, want) = (f32s(out), f32s(&want));
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        let err = got
            .iter()
            .zip(&want)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        if got.len() != want.len() || err > 1e-5 * scale {
            return Err(format!(
                "{}: output {k} is {err} (max-norm) from LiteRT's, more than 1e-5 x {scale}",
                board.name
            ));
        }
    }
    Ok(())
}

/// `cargo xtask test`'s board steps: clippy and builds for every board, then the QEMU programs
/// (Cortex-M7 and M55) compared with their expected-output files. `BFMD_BLESS=1` rewrites the
/// expected files (of models: from the goldens) instead of comparing.
pub fn test_steps(f: &mut crate::run::Failures) {
    let bless = std::env::var_os("BFMD_BLESS").is_some_and(|v| v == "1");
    for b in crate::board::BOARDS {
        let name = format!("clippy {} firmware", b.name);
        f.record(&name, b.clippy());
    }
    let (mut c, _) = crate::board::embed_cargo();
    c.args(["clippy", "--all-targets", "--", "-D", "warnings"]);
    f.record(
        "clippy boards/embed",
        crate::run::status("clippy boards/embed", &mut c),
    );
    let (mut c, _) = crate::board::embed_cargo();
    c.arg("test");
    f.record(
        "boards/embed tests",
        crate::run::status("boards/embed tests", &mut c),
    );
    let qemu_boards = || crate::board::BOARDS.iter().filter(|b| b.machine.is_some());
    for b in qemu_boards() {
        let name = format!("QEMU calibration ({})", b.name);
        let r = (|| {
            let elf = b.build("calibrate", None)?;
            let dir = std::env::temp_dir();
            let out = run(b, &elf, &dir, &[], Duration::from_secs(120))?;
            check_snapshot(
                &expected_dir().join("calibrate.out"),
                &snapshot(&out.stdout)?,
                bless,
            )
        })();
        f.record(&name, r);
    }
    f.record(
        "stm32h7 firmware: fits, holds the executor, arena in DTCM or AXI SRAM by size",
        stm32h7_checks(),
    );
    f.record(
        "qemu-m7 infer: no stack frame over 1 KiB",
        crate::frames::check_qemu_m7(),
    );
    f.record(
        "QEMU README firmware example (minimal, qemu-m7)",
        minimal_example_check(),
    );
    for b in qemu_boards() {
        let name = format!(
            "QEMU two-output model, face_detection_short_range ({})",
            b.name
        );
        f.record(&name, two_output_check(b));
    }
    let mut summary = Vec::new();
    for b in qemu_boards() {
        for m in SNAPSHOT_MODELS {
            let name = format!("QEMU {m} ({})", b.name);
            let r = model_snapshot(b, m, bless).map(|s| summary.push(s));
            f.record(&name, r);
        }
    }
    for s in summary {
        eprintln!("    {s}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "boot\n=== bfmd begin\n# instructions 0 123\noutput 0 0aff\noutput 1 80\n=== bfmd end\nbye\n";

    #[test]
    fn results_are_the_lines_between_the_markers() {
        assert_eq!(
            results(OUT).unwrap(),
            ["# instructions 0 123", "output 0 0aff", "output 1 80"]
        );
        assert_eq!(snapshot(OUT).unwrap(), "output 0 0aff\noutput 1 80\n");
        assert!(results("=== bfmd begin\noutput 0 00\n").is_err());
        assert!(results("output 0 00\n=== bfmd end\n").is_err());
    }

    #[test]
    fn keyed_lines_and_hex() {
        let r = results(OUT).unwrap();
        let outs = keyed(&r, "output");
        assert_eq!(outs, [(0, "0aff"), (1, "80")]);
        assert_eq!(unhex(outs[0].1).unwrap(), [0x0a, 0xff]);
        assert!(unhex("abc").is_err());
        assert!(unhex("zz").is_err());
    }

    #[test]
    fn snapshot_mismatch_names_the_line() {
        let dir = std::env::temp_dir().join(format!("bfmd-xtask-snap-{}", std::process::id()));
        let f = dir.join("x.out");
        check_snapshot(&f, "a\nb\n", true).unwrap();
        check_snapshot(&f, "a\nb\n", false).unwrap();
        let e = check_snapshot(&f, "a\nc\n", false).unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        assert!(
            e.contains("expected: b") && e.contains("actual:   c"),
            "{e}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
