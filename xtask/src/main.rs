//! `cargo xtask <task>`: the one entry point for everything a user or CI does with bfmd.
//!
//! One module per task (rust-analyzer's xtask habit). Every task installs what it needs
//! (Rust targets, Debian packages) through [`deps`] and reports every failure of a run at the end.

mod deps;
mod run;
mod test;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task> [options]

tasks:
  test                 fmt, clippy, host tests, no_std builds for every MCU target,
                       aarch64 tests under qemu-aarch64; reports every failure at the end
  deps                 install the Rust targets and Debian packages the other tasks need
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match task.as_str() {
        "test" => test::run(rest),
        "deps" => deps::ensure_all().map(|_| ()),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown task `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
