//! `cargo xtask test`: the whole test suite, every failure reported at the end.

use crate::deps;
use crate::run::{cargo, status, Failures};

/// The `no_std` crates that must build for every bare-metal target.
const NO_STD_CRATES: &[&str] = &["bfmd-kernels", "bfmd-graph", "bfmd-models"];

pub fn run(args: &[String]) -> Result<(), String> {
    // `cargo xtask test boards`: only the firmware builds and the QEMU snapshot tests.
    if args.len() == 1 && args[0] == "boards" {
        deps::ensure_all()?;
        let mut f = Failures::default();
        crate::qemu::test_steps(&mut f);
        crate::bench::battery_steps(&mut f);
        return f.finish("cargo xtask test boards");
    }
    if let Some(a) = args.first() {
        return Err(format!(
            "`cargo xtask test` takes no arguments but `boards` (got `{a}`)"
        ));
    }
    deps::ensure_all()?;
    let mut f = Failures::default();

    f.record(
        "fmt",
        status("fmt", cargo().args(["fmt", "--all", "--", "--check"])),
    );
    f.record(
        "clippy",
        status(
            "clippy",
            cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        ),
    );
    f.record(
        "host tests",
        status("host tests", cargo().args(["test", "--workspace"])),
    );
    f.record(
        "host tests (force-portable)",
        status(
            "host tests (force-portable)",
            cargo().args(["test", "-p", "bfmd-kernels", "--features", "force-portable"]),
        ),
    );
    for target in deps::TARGETS.iter().filter(|t| t.contains("none")) {
        let name = format!("no_std build {target}");
        let mut c = cargo();
        c.args(["build", "--target", target]);
        for k in NO_STD_CRATES {
            c.args(["-p", k]);
        }
        f.record(&name, status(&name, &mut c));
    }
    let name = "aarch64 tests (qemu-aarch64)";
    let mut c = cargo();
    c.args(["test", "--target", "aarch64-unknown-linux-gnu"]);
    for k in NO_STD_CRATES {
        c.args(["-p", k]);
    }
    f.record(name, status(name, &mut c));
    aarch64_kernel_steps(&mut f);

    crate::qemu::test_steps(&mut f);
    crate::bench::battery_steps(&mut f);

    f.finish("cargo xtask test")
}

/// The kernels' other aarch64 builds, under `qemu-aarch64 -cpu max` (which has both
/// extensions): the NEON paths with the dot-product and FP16 extensions (SDOT tiles, f16
/// accumulation; the step above runs the baseline NEON paths) and the portable loops
/// (`force-portable`). Only `bfmd-kernels`, whose batteries run every dispatcher, to keep the
/// extra time modest. Each build has its own target directory so that neither rebuilds the
/// other's artifacts on every run.
fn aarch64_kernel_steps(f: &mut Failures) {
    let base = crate::board::workspace_target_dir();
    let builds: [(&str, &str, &[&str], &str); 2] = [
        (
            "aarch64 kernel tests, +dotprod,+fp16 (qemu-aarch64)",
            "-C target-feature=+dotprod,+fp16",
            &[],
            "aarch64-dotprod-fp16",
        ),
        (
            "aarch64 kernel tests, force-portable (qemu-aarch64)",
            "",
            &["--features", "force-portable"],
            "aarch64-force-portable",
        ),
    ];
    for (name, flags, extra, dir) in builds {
        let mut c = cargo();
        c.args([
            "test",
            "--target",
            "aarch64-unknown-linux-gnu",
            "-p",
            "bfmd-kernels",
        ])
        .args(extra)
        .env("CARGO_TARGET_DIR", base.join(dir));
        if !flags.is_empty() {
            c.env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS", flags);
        }
        f.record(name, status(name, &mut c));
    }
}
