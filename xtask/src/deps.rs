//! Installs what the tasks need on a fresh Debian machine with only Rust: rustup targets and
//! components, and Debian packages (installed with apt-get when running as root, otherwise the
//! exact command is printed).

use crate::run::{output, status};
use std::process::Command;

/// Bare-metal and phone targets bfmd builds for.
pub const TARGETS: &[&str] = &[
    "thumbv6m-none-eabi",
    "thumbv7em-none-eabihf",
    "thumbv8m.main-none-eabihf",
    "aarch64-unknown-linux-gnu",
];

/// Debian packages and the program each one provides.
pub const PACKAGES: &[(&str, &str)] = &[
    ("qemu-system-arm", "qemu-system-arm"),
    ("qemu-user", "qemu-aarch64"),
    ("gcc-aarch64-linux-gnu", "aarch64-linux-gnu-gcc"),
    (
        "libc6-dev-arm64-cross",
        "/usr/aarch64-linux-gnu/lib/libc.so",
    ),
];

/// Installs targets, components and packages; returns what it did.
pub fn ensure_all() -> Result<Vec<String>, String> {
    let mut done = ensure_rust()?;
    done.extend(ensure_packages()?);
    Ok(done)
}

/// Adds the missing rustup targets and the rustfmt/clippy components.
pub fn ensure_rust() -> Result<Vec<String>, String> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))?;
    let missing: Vec<&str> = TARGETS
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    let mut done = Vec::new();
    if !missing.is_empty() {
        status(
            "rustup target add",
            Command::new("rustup")
                .args(["target", "add"])
                .args(&missing),
        )?;
        done.push(format!("rustup target add {}", missing.join(" ")));
    }
    let comps = output(Command::new("rustup").args(["component", "list", "--installed"]))?;
    let want: Vec<&str> = ["rustfmt", "clippy"]
        .into_iter()
        .filter(|c| !comps.lines().any(|l| l.starts_with(c)))
        .collect();
    if !want.is_empty() {
        status(
            "rustup component add",
            Command::new("rustup")
                .args(["component", "add"])
                .args(&want),
        )?;
        done.push(format!("rustup component add {}", want.join(" ")));
    }
    Ok(done)
}

fn have(program: &str) -> bool {
    if program.starts_with('/') {
        return std::path::Path::new(program).exists();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u"))
        .map(|s| s.trim() == "0")
        .unwrap_or(false)
}

/// Installs the missing Debian packages (as root), or fails with the exact command to run.
pub fn ensure_packages() -> Result<Vec<String>, String> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, prog)| !have(prog))
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let line = format!("apt-get install -y {}", missing.join(" "));
    if !is_root() {
        return Err(format!(
            "missing Debian packages; run: sudo apt-get update && sudo {line}"
        ));
    }
    status(
        "apt-get update",
        Command::new("apt-get").args(["update", "-qq"]),
    )?;
    status(
        "apt-get install",
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing),
    )?;
    Ok(vec![line])
}
