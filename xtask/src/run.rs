//! Running commands and collecting failures.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Root of the repository (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in a subdirectory of the repository")
        .to_path_buf()
}

/// `cargo` as invoked by the user (respects `$CARGO`).
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// Runs `cmd` with inherited stdio; `Err` names the step and the exit status.
pub fn status(name: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("\n==> {name}\n    $ {}", display(cmd));
    let t = Instant::now();
    let st = cmd
        .status()
        .map_err(|e| format!("{name}: cannot start `{}`: {e}", display(cmd)))?;
    eprintln!("    ({name}: {:.1}s)", t.elapsed().as_secs_f64());
    if st.success() {
        Ok(())
    } else {
        Err(format!("{name}: `{}` exited with {st}", display(cmd)))
    }
}

/// [`status`] that also keeps what `cmd` wrote to stderr (echoed as it comes), returned with
/// the error when the command fails, so a caller can recognise a known failure in it.
pub fn status_keeping_stderr(name: &str, cmd: &mut Command) -> Result<String, (String, String)> {
    use std::io::{BufRead, BufReader};
    eprintln!("\n==> {name}\n    $ {}", display(cmd));
    let t = Instant::now();
    let mut child = cmd
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            (
                format!("{name}: cannot start `{}`: {e}", display(cmd)),
                String::new(),
            )
        })?;
    let mut kept = String::new();
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            eprintln!("{line}");
            kept.push_str(&line);
            kept.push('\n');
        }
    }
    let st = child
        .wait()
        .map_err(|e| (format!("{name}: {e}"), kept.clone()))?;
    eprintln!("    ({name}: {:.1}s)", t.elapsed().as_secs_f64());
    if st.success() {
        Ok(kept)
    } else {
        Err((format!("{name}: `{}` exited with {st}", display(cmd)), kept))
    }
}

/// Runs `cmd` and returns its stdout; `Err` carries stderr.
pub fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", display(cmd)))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{}` exited with {}: {}",
            display(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A command line as the user would type it.
pub fn display(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Collects the failures of a multi-step task so that one run reports all of them.
#[derive(Default)]
pub struct Failures {
    list: Vec<String>,
    passed: Vec<String>,
}

impl Failures {
    /// Records the outcome of one step.
    pub fn record(&mut self, name: &str, r: Result<(), String>) {
        match r {
            Ok(()) => self.passed.push(name.to_string()),
            Err(e) => {
                eprintln!("    FAILED: {e}");
                self.list.push(e);
            }
        }
    }

    /// Prints the summary; `Err` when any step failed.
    pub fn finish(self, task: &str) -> Result<(), String> {
        eprintln!("\n==> {task}: {} step(s) passed", self.passed.len());
        for p in &self.passed {
            eprintln!("    ok    {p}");
        }
        if self.list.is_empty() {
            Ok(())
        } else {
            for f in &self.list {
                eprintln!("    FAIL  {f}");
            }
            Err(format!("{task}: {} step(s) failed", self.list.len()))
        }
    }
}
