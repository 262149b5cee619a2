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
//! It emits `cfg(bfmd_mve)` where the M-profile Vector Extension (Helium) is on (`thumbv8m.main`
//! built for `cortex-m55`/`cortex-m85` or with `+mve`): the compiler auto-vectorizes the portable
//! loops there, and a dispatcher whose DSP loop loses to that (the fully connected layer's)
//! prefers the portable loop.
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
    println!("cargo::rustc-check-cfg=cfg(bfmd_mve)");
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
    if has_mve(&target, &features, &flags) {
        println!("cargo::rustc-cfg=bfmd_mve");
    }
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if arch == "aarch64" && features.split(',').any(|f| f == "neon") {
        println!("cargo::rustc-cfg=bfmd_neon");
    }
}

/// `true` when code for `target`, built with the reported `features` (comma separated) and the
/// encoded rustflags `flags` (0x1f separated), may use the DSP extension's instructions.
fn has_dsp(target: &str, features: &str, flags: &str) -> bool {
    let arm_m = target.starts_with("thumbv7em") || target.starts_with("thumbv8m.main");
    has_feature(target, features, flags, "dsp", arm_m, |target, cpu| {
        target.starts_with("thumbv7em")
            || (target.starts_with("thumbv8m.main")
                && matches!(cpu, Some("cortex-m55" | "cortex-m85")))
    })
}

/// `true` when the code may use the M-profile Vector Extension (Helium: Cortex-M55, M85). The
/// compiler then auto-vectorizes plain loops, which can beat the DSP extension's loops (the
/// fully connected layer does), so dispatchers may prefer the portable loop there.
fn has_mve(target: &str, features: &str, flags: &str) -> bool {
    let v8m = target.starts_with("thumbv8m.main");
    has_feature(target, features, flags, "mve", v8m, |target, cpu| {
        target.starts_with("thumbv8m.main") && matches!(cpu, Some("cortex-m55" | "cortex-m85"))
    })
}

/// Whether target feature `name` is on: reported by the compiler, or implied by the target and
/// `-C target-cpu` (`by_target`), with the last explicit `-C target-feature=+name`/`-name`
/// winning as it does for the compiler (`+name` only counts where `allowed`).
fn has_feature(
    target: &str,
    features: &str,
    flags: &str,
    name: &str,
    allowed: bool,
    by_target: impl Fn(&str, Option<&str>) -> bool,
) -> bool {
    if features.split(',').any(|f| f == name) {
        return true;
    }
    // Flags arrive either as `-C target-cpu=x` (two words) or `-Ctarget-cpu=x` (one).
    let words: Vec<&str> = flags.split('\x1f').collect();
    let mut cpu = None;
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
                match part.split_at_checked(1) {
                    Some(("+", n)) if n == name || n.starts_with(&format!("{name}.")) => {
                        explicit = Some(true)
                    }
                    Some(("-", n)) if n == name => explicit = Some(false),
                    _ => {}
                }
            }
        }
    }
    explicit.map_or(by_target(target, cpu), |on| on && allowed)
}
