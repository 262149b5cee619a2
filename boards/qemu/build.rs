//! Picks the machine from the compilation target and hands its linker scripts to cortex-m-rt.
//!
//! `thumbv7em-none-eabihf` builds for QEMU's mps2-an500 (Cortex-M7) and
//! `thumbv8m.main-none-eabihf` for mps3-an547 (Cortex-M55); the firmware code sees the choice as
//! `cfg(machine = "an500")` / `cfg(machine = "an547")`.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo::rustc-check-cfg=cfg(machine, values(\"an500\", \"an547\"))");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=memory-an500.x");
    println!("cargo::rerun-if-changed=memory-an547.x");

    let machine = match target.as_str() {
        "thumbv7em-none-eabihf" => "an500",
        "thumbv8m.main-none-eabihf" => "an547",
        // Host builds (e.g. `cargo check` without a target) compile nothing target-specific.
        _ => return,
    };
    println!("cargo::rustc-cfg=machine=\"{machine}\"");
    let memory = fs::read(format!("memory-{machine}.x")).expect("memory-<machine>.x exists");
    fs::write(out.join("memory.x"), memory).expect("OUT_DIR is writable");
    // cortex-m-rt's `device` feature includes `device.x`; the interrupt handlers this crate uses
    // are defined directly (see `src/icount.rs`), so the file only has to exist.
    fs::write(
        out.join("device.x"),
        "/* Interrupt handlers are defined by bfmd-board-qemu itself. */\n",
    )
    .expect("OUT_DIR is writable");
    println!("cargo::rustc-link-search={}", out.display());

    #[cfg(feature = "model")]
    {
        let default = PathBuf::from("../../tests/data/models/vww_96_int8.tflite");
        if let Err(e) = bfmd_embed::embed(&default) {
            panic!("cannot embed the model: {e}");
        }
    }
}
