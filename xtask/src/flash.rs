//! `cargo xtask flash --board stm32h7 [--model M.tflite] [--dry-run]`: builds the firmware with
//! the model compiled in, flashes it with probe-rs and streams its defmt log.
//!
//! The probe-rs CLI (`probe-rs run`, from the `probe-rs-tools` crate) does the flashing and the
//! RTT/defmt decoding; it is installed with `cargo install probe-rs-tools --locked` the first time
//! a probe is actually there, not for `--dry-run` and not when no probe is attached (it takes
//! several minutes to build). `--dry-run` builds and prints what would be flashed.

use crate::board::{self, Board};
use crate::run::status;
use crate::size;
use std::path::Path;
use std::process::Command;

/// USB vendor/product ids of debug probes probe-rs drives: ST-LINK/V2, V2-1, V3 (the NUCLEO's
/// on-board probe is an ST-LINK/V3E, 0483:374e), SEGGER J-Link (any product), DAPLink.
const PROBES: &[(&str, Option<&str>, &str)] = &[
    ("0483", Some("3748"), "ST-LINK/V2"),
    ("0483", Some("374b"), "ST-LINK/V2-1"),
    ("0483", Some("374d"), "ST-LINK/V3"),
    ("0483", Some("374e"), "ST-LINK/V3"),
    ("0483", Some("374f"), "ST-LINK/V3"),
    ("0483", Some("3752"), "ST-LINK/V2-1"),
    ("0483", Some("3753"), "ST-LINK/V3"),
    ("0483", Some("3754"), "ST-LINK/V3"),
    ("0483", Some("3757"), "ST-LINK/V3PWR"),
    ("1366", None, "SEGGER J-Link"),
    ("0d28", Some("0204"), "DAPLink (CMSIS-DAP)"),
];

/// The debug probes visible on USB, from `/sys/bus/usb/devices` (Linux).
fn usb_probes() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/sys/bus/usb/devices") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for e in dir.flatten() {
        let read = |f: &str| {
            std::fs::read_to_string(e.path().join(f))
                .map(|s| s.trim().to_lowercase())
                .unwrap_or_default()
        };
        let (vid, pid) = (read("idVendor"), read("idProduct"));
        for (v, p, name) in PROBES {
            if vid == *v && p.is_none_or(|p| p == pid) {
                found.push(format!("{name} ({vid}:{pid})"));
            }
        }
    }
    found
}

fn have_probe_rs() -> bool {
    Command::new("probe-rs")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Fails with a message saying where the ELF is and what to connect, when no probe is attached.
fn find_probe(board: &Board, chip: &str, elf: &Path) -> Result<(), String> {
    let usb = usb_probes();
    let listed = if have_probe_rs() {
        let out = Command::new("probe-rs")
            .arg("list")
            .output()
            .map_err(|e| format!("probe-rs list: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        Some(!text.contains("No debug probes were found") && text.contains('['))
    } else {
        None
    };
    if listed == Some(true) || (listed.is_none() && !usb.is_empty()) {
        return Ok(());
    }
    Err(format!(
        "no debug probe found for {} ({chip}): connect the NUCLEO-H743ZI2's ST-LINK USB port (CN1) \
         and check that this machine can see it ({}).\n  The firmware is built: {}\n  \
         To flash it elsewhere: probe-rs run --chip {chip} {}",
        board.name,
        if listed.is_some() {
            "`probe-rs list` shows none"
        } else {
            "no ST-LINK, J-Link or DAPLink in /sys/bus/usb/devices"
        },
        elf.display(),
        elf.display()
    ))
}

/// `cargo xtask flash`.
pub fn run(args: &[String]) -> Result<(), String> {
    let (board, rest) = board::take_board(args, "flash")?;
    let chip = board.chip.ok_or_else(|| {
        format!(
            "board {} is emulated, not flashed; use `cargo xtask sim --board {}`",
            board.name, board.name
        )
    })?;
    let mut model = None;
    let mut dry_run = false;
    let mut it = rest.into_iter();
    while let Some(a) = it.next() {
        match a {
            "--model" => model = Some(it.next().ok_or("--model needs a path")?.to_string()),
            "--dry-run" => dry_run = true,
            other => return Err(format!("`cargo xtask flash`: unknown argument `{other}`")),
        }
    }
    crate::deps::ensure_rust()?;
    let model = crate::sim::model_or_default(model.as_deref())?;
    // The board has no host to read inputs from: compile in the model's first golden input (for
    // the default model, the astronaut photograph), or zeros when there is none.
    let sample = crate::sim::sample_input(&model);
    let elf = board.build_with_input("infer", Some(&model), sample.as_deref())?;
    let usage = size::usage_of(&elf, board)?;
    let (report, fits) = size::render(board, &usage);
    println!(
        "chip   {}\nboard  {}\nmodel  {}\ninput  {}\nELF    {}\n{report}",
        chip.name,
        board.description,
        model.display(),
        sample
            .as_deref()
            .map_or("zeros".to_string(), |p| p.display().to_string()),
        elf.display()
    );
    fits.map_err(|e| format!("the firmware does not fit the {}: {e}", chip.name))?;
    if dry_run {
        println!(
            "dry run: would run `probe-rs run --chip {} {}`",
            chip.name,
            elf.display()
        );
        return Ok(());
    }
    find_probe(board, chip.name, &elf)?;
    if !have_probe_rs() {
        status(
            "install probe-rs",
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())).args([
                "install",
                "probe-rs-tools",
                "--locked",
            ]),
        )?;
    }
    // `probe-rs run` erases and programs the flash, resets the core and prints the defmt log
    // (the ELF carries the defmt table) until the firmware halts at its final breakpoint.
    status(
        "flash and run",
        Command::new("probe-rs")
            .args(["run", "--chip", chip.name])
            .arg(&elf),
    )
}
