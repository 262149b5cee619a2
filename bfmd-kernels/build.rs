//! Decides whether the Arm DSP-extension inner loops (`s8::*::dsp`) are compiled in.
//!
//! Stable Rust does not expose Arm target features to `cfg` (`target_feature = "dsp"` is never
//! set: Arm features are still unstable), so this script derives the capability from what the
//! build targets and emits `cfg(bfmd_dsp)`:
//!
//! * any `thumbv7em-*` target: Armv7E-M is Armv7-M plus the DSP extension (Cortex-M4, M7);
//! * `thumbv8m.main-*` with `-C target-cpu=cortex-m55` or `cortex-m85` (cores that always have
//!   the DSP extension) or with `-C target-feature=+dsp` (Cortex-M33/M35P built with it);
//! * any target whose reported features include `dsp` (a future compiler).
//!
//! It also emits `cfg(bfmd_neon)` for aarch64 targets with NEON (phones), which compiles the
//! NEON loops (`s8::*::neon`, `f16::*::neon`); those test `target_feature = "dotprod"` and
//! `"fp16"` themselves, since aarch64 features are stable in `cfg`.
//!
//! The `force-portable` feature turns the DSP and NEON paths off everywhere. So does
//! `BFMD_FORCE_PORTABLE=1` in the build's environment, for builds that cannot name the feature
//! (a firmware crate that reaches this crate through `bfmd-graph`, which `cargo xtask bench`
//! builds both ways to compare the paths).

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(bfmd_dsp)");
    println!("cargo::rustc-check-cfg=cfg(bfmd_neon)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=BFMD_FORCE_PORTABLE");
    if env::var_os("CARGO_FEATURE_FORCE_PORTABLE").is_some()
        || env::var("BFMD_FORCE_PORTABLE").is_ok_and(|v| v == "1")
    {
        return;
    }
    let target = env::var("TARGET").unwrap_or_default();
    let features = env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if has_dsp(&target, &features, &flags) {
        println!("cargo::rustc-cfg=bfmd_dsp");
    }
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if arch == "aarch64" && features.split(',').any(|f| f == "neon") {
        println!("cargo::rustc-cfg=bfmd_neon");
    }
}

/// `true` when code for `target`, built with the reported `features` (comma separated) and the
/// encoded rustflags `flags` (0x1f separated), may use the DSP extension's instructions.
fn has_dsp(target: &str, features: &str, flags: &str) -> bool {
    if features.split(',').any(|f| f == "dsp") {
        return true;
    }
    // Flags arrive either as `-C target-cpu=x` (two words) or `-Ctarget-cpu=x` (one).
    let words: Vec<&str> = flags.split('\x1f').collect();
    let mut cpu = None;
    // The last explicit `+dsp` / `-dsp` wins, as it does for the compiler.
    let mut explicit = None;
    for (i, w) in words.iter().enumerate() {
        let opt = match w.strip_prefix("-C") {
            Some("") => words.get(i + 1).copied().unwrap_or(""),
            Some(rest) => rest,
            None => continue,
        };
        if let Some(c) = opt.strip_prefix("target-cpu=") {
            cpu = Some(c);
        } else if let Some(f) = opt.strip_prefix("target-feature=") {
            for part in f.split(',') {
                match part {
                    "+dsp" => explicit = Some(true),
                    "-dsp" => explicit = Some(false),
                    _ => {}
                }
            }
        }
    }
    let by_target = target.starts_with("thumbv7em")
        || (target.starts_with("thumbv8m.main")
            && matches!(cpu, Some("cortex-m55" | "cortex-m85")));
    let arm_m = target.starts_with("thumbv7em") || target.starts_with("thumbv8m.main");
    explicit.map_or(by_target, |on| on && arm_m)
}
