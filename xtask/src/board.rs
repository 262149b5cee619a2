//! The boards bfmd has firmware for, and building that firmware.
//!
//! Each board crate lives in `boards/<crate>/`, outside the host workspace, with its own
//! `.cargo/config.toml` and `memory.x`. It is built by running cargo in its directory with a target
//! directory of its own (`<target>/boards/<crate>`), so that its profile, its lock file and the
//! host workspace's builds never mix.

use crate::run::{root, status, status_keeping_stderr};
use std::path::{Path, PathBuf};
use std::process::Command;

/// An emulated machine: how QEMU is started for it.
#[derive(Clone, Copy, Debug)]
pub struct Machine {
    /// `qemu-system-arm -M <name>`.
    pub name: &'static str,
    /// `-icount shift=<shift>`: one instruction is 2^shift ns of virtual time.
    pub icount_shift: u32,
}

/// A real chip flashed with probe-rs.
#[derive(Clone, Copy, Debug)]
pub struct Chip {
    /// probe-rs chip name.
    pub name: &'static str,
}

/// One memory region of a board.
#[derive(Clone, Copy, Debug)]
pub struct Region {
    /// Name used in the board's `memory.x`.
    pub name: &'static str,
    /// First address.
    pub origin: u64,
    /// Size in bytes.
    pub length: u64,
}

/// A board: a firmware crate built for one target, run in QEMU or flashed to a chip.
#[derive(Clone, Copy, Debug)]
pub struct Board {
    /// The name used on the command line (`--board`).
    pub name: &'static str,
    /// One line for `--help` and reports.
    pub description: &'static str,
    /// The firmware crate's directory under `boards/`.
    pub crate_dir: &'static str,
    /// The Rust target.
    pub target: &'static str,
    /// Set for boards that run in QEMU.
    pub machine: Option<Machine>,
    /// Set for boards that are flashed.
    pub chip: Option<Chip>,
    /// Memory regions (for the size report).
    pub regions: &'static [Region],
    /// Cargo feature that compiles the model in, when the crate has programs without one.
    pub model_feature: Option<&'static str>,
    /// Where the firmware puts code, model, arena and stack (for the fit check).
    pub layout: crate::fit::Layout,
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// Every board, in the order `--help` lists them.
pub const BOARDS: &[Board] = &[
    Board {
        name: "qemu-m7",
        description: "Cortex-M7, QEMU mps2-an500",
        crate_dir: "qemu",
        target: "thumbv7em-none-eabihf",
        machine: Some(Machine {
            name: "mps2-an500",
            icount_shift: 7,
        }),
        chip: None,
        model_feature: Some("model"),
        // memory-an500.x: code and model in SSRAM1, data and stack in SSRAM2/3; build.rs puts
        // the arena there too when 16 KiB stay free for the stack, else in PSRAM.
        layout: crate::fit::Layout {
            code: 0,
            model: 0,
            arena: &[(1, None), (2, None)],
            stack: 1,
            stack_reserve: 16 * KIB,
        },
        regions: &[
            Region {
                name: "SSRAM1 (flash role)",
                origin: 0x0000_0000,
                length: 4 * MIB,
            },
            Region {
                name: "SSRAM2/3",
                origin: 0x2000_0000,
                length: 4 * MIB,
            },
            Region {
                name: "PSRAM",
                origin: 0x6000_0000,
                length: 16 * MIB,
            },
        ],
    },
    Board {
        name: "qemu-m55",
        description: "Cortex-M55, QEMU mps3-an547",
        crate_dir: "qemu",
        target: "thumbv8m.main-none-eabihf",
        machine: Some(Machine {
            name: "mps3-an547",
            icount_shift: 6,
        }),
        chip: None,
        model_feature: Some("model"),
        // memory-an547.x: code in ITCM, the model in SRAM2, data and stack in DTCM; build.rs
        // puts the arena there too when 16 KiB stay free for the stack, else in the 2 MiB SRAM.
        layout: crate::fit::Layout {
            code: 0,
            model: 2,
            arena: &[(1, None), (3, None)],
            stack: 1,
            stack_reserve: 16 * KIB,
        },
        regions: &[
            Region {
                name: "ITCM",
                origin: 0x0000_0000,
                length: 512 * KIB,
            },
            Region {
                name: "DTCM",
                origin: 0x2000_0000,
                length: 512 * KIB,
            },
            Region {
                name: "SRAM2 (weights)",
                origin: 0x2100_0000,
                length: 4 * MIB,
            },
            Region {
                name: "SRAM",
                origin: 0x0100_0000,
                length: 2 * MIB,
            },
        ],
    },
    Board {
        name: "stm32h7",
        description: "NUCLEO-H743ZI2 (STM32H743ZI, Cortex-M7 at 480 MHz)",
        crate_dir: "stm32h7",
        target: "thumbv7em-none-eabihf",
        machine: None,
        chip: Some(Chip {
            name: "STM32H743ZITx",
        }),
        regions: H743_REGIONS,
        model_feature: None,
        // boards/stm32h7/build.rs: code and model in flash; the arena in DTCM up to 104 KiB
        // (16 KiB of DTCM stay for the stack), else in AXI SRAM.
        layout: crate::fit::Layout {
            code: 0,
            model: 0,
            arena: &[(1, Some(104 * KIB)), (2, None)],
            stack: 1,
            stack_reserve: 16 * KIB,
        },
    },
];

const H743_REGIONS: &[Region] = &[
    Region {
        name: "FLASH",
        origin: 0x0800_0000,
        length: 2 * MIB,
    },
    Region {
        name: "DTCM",
        origin: 0x2000_0000,
        length: 128 * KIB,
    },
    Region {
        name: "AXISRAM",
        origin: 0x2400_0000,
        length: 512 * KIB,
    },
];

/// Looks a board up by its command-line name.
pub fn find(name: &str) -> Result<&'static Board, String> {
    BOARDS.iter().find(|b| b.name == name).ok_or_else(|| {
        let names: Vec<&str> = BOARDS.iter().map(|b| b.name).collect();
        format!("unknown board `{name}`; boards: {}", names.join(", "))
    })
}

impl Board {
    /// The kernels the firmware runs: its build script plans scratch for them
    /// (`bfmd_embed::target_path`: the target and the core its `.cargo/config.toml` names,
    /// Cortex-M7 for thumbv7em, Cortex-M55 for thumbv8m.main).
    pub fn kernel_path(&self) -> bfmd_graph::KernelPath {
        let cpu = if self.target.starts_with("thumbv8m.main") {
            Some("cortex-m55")
        } else {
            Some("cortex-m7")
        };
        bfmd_graph::KernelPath::for_target(self.target, "", cpu)
    }

    /// The firmware crate's directory.
    pub fn dir(&self) -> PathBuf {
        root().join("boards").join(self.crate_dir)
    }

    /// The target directory the firmware is built in.
    pub fn target_dir(&self) -> PathBuf {
        workspace_target_dir().join("boards").join(self.crate_dir)
    }

    /// The ELF of `bin` once built (release profile).
    pub fn elf(&self, bin: &str) -> PathBuf {
        self.target_dir()
            .join(self.target)
            .join("release")
            .join(bin)
    }

    /// Builds `bin` in release mode; with `model`, the build script imports and plans that
    /// `.tflite` (or `.bfmd`) file and compiles it in (`BFMD_MODEL`). Returns the ELF's path.
    pub fn build(&self, bin: &str, model: Option<&Path>) -> Result<PathBuf, String> {
        self.build_with_input(bin, model, None)
    }

    /// [`Board::build`] with a sample input compiled in too (`BFMD_INPUT`), for boards that have
    /// no host to read inputs from.
    ///
    /// The model is first loaded here as `cargo xtask infer` loads it (parsed, lowered,
    /// planned, checked by `Model::parse` with the default limits), so that `sim`, `size`,
    /// `flash` and `demo` report a bad model in one line instead of a build script's panic.
    pub fn build_with_input(
        &self,
        bin: &str,
        model: Option<&Path>,
        input: Option<&Path>,
    ) -> Result<PathBuf, String> {
        let mut c = self.cargo();
        c.args(["build", "--release", "--bin", bin, "--target", self.target]);
        let abs =
            |p: &Path| std::fs::canonicalize(p).map_err(|e| format!("`{}`: {e}", p.display()));
        match model {
            Some(m) => {
                c.env("BFMD_MODEL", abs(m)?);
                if let Some(f) = self.model_feature {
                    c.args(["--features", f]);
                }
            }
            None => {
                c.env_remove("BFMD_MODEL");
            }
        }
        match input {
            Some(i) => {
                c.env("BFMD_INPUT", abs(i)?);
            }
            None => {
                c.env_remove("BFMD_INPUT");
            }
        }
        let what = match model {
            Some(m) => format!("build {} firmware `{bin}` ({})", self.name, m.display()),
            None => format!("build {} firmware `{bin}`", self.name),
        };
        let name = model
            .and_then(|m| m.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(m) = model {
            // A bad model or one that cannot fit: one line, before cargo starts.
            crate::fit::check(self, &name, crate::fit::Need::of(m, self)?)?;
        }
        let stderr = status_keeping_stderr(&what, &mut c).map_err(|(e, stderr)| {
            crate::fit::linker_overflow(self, &name, &stderr).unwrap_or(e)
        })?;
        drop(stderr);
        let elf = self.elf(bin);
        if !elf.is_file() {
            return Err(format!(
                "{what}: cargo succeeded but {} is missing",
                elf.display()
            ));
        }
        Ok(elf)
    }

    /// Runs clippy on the firmware crate for this board's target.
    pub fn clippy(&self) -> Result<(), String> {
        let mut c = self.cargo();
        c.args(["clippy", "--release", "--bins", "--target", self.target]);
        if let Some(f) = self.model_feature {
            c.args(["--features", f]);
        }
        c.args(["--", "-D", "warnings"]);
        status(&format!("clippy {} firmware", self.name), &mut c)
    }

    /// `cargo` in the firmware crate's directory, with the firmware's target directory and
    /// without the host's flag overrides (`RUSTFLAGS` would replace the board's linker script
    /// flags from its `.cargo/config.toml`).
    fn cargo(&self) -> Command {
        let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        c.current_dir(self.dir())
            .env("CARGO_TARGET_DIR", self.target_dir())
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("CARGO_BUILD_RUSTFLAGS");
        c
    }
}

/// The host workspace's target directory (`$CARGO_TARGET_DIR` or `target/`).
pub fn workspace_target_dir() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    if base.is_absolute() {
        base
    } else {
        root().join(base)
    }
}

/// `cargo` in `boards/embed` (the host crate the board build scripts use); returns the command
/// and its target directory. That is the host workspace's: the crate is built with the same
/// profile as the workspace's tests, so the workspace crates it uses are not compiled again.
pub fn embed_cargo() -> (Command, PathBuf) {
    let base = workspace_target_dir();
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root().join("boards/embed"))
        .env("CARGO_TARGET_DIR", &base);
    (c, base)
}

/// Parses `--board NAME` (required) from `args`, returning the board and the other arguments.
pub fn take_board<'a>(
    args: &'a [String],
    task: &str,
) -> Result<(&'static Board, Vec<&'a str>), String> {
    let mut board = None;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--board" {
            let v = it
                .next()
                .ok_or_else(|| format!("`cargo xtask {task}`: --board needs a value"))?;
            board = Some(find(v)?);
        } else if let Some(v) = a.strip_prefix("--board=") {
            board = Some(find(v)?);
        } else {
            rest.push(a.as_str());
        }
    }
    let names: Vec<&str> = BOARDS.iter().map(|b| b.name).collect();
    let board = board
        .ok_or_else(|| format!("`cargo xtask {task}` needs --board ({})", names.join(" | ")))?;
    Ok((board, rest))
}
