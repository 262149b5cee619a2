//! The fit check run before a firmware is built (`sim`, `size`, `flash`, `demo`): the model's
//! blob (weights, tables and plan), an estimate of the code, and the planned arena with the
//! stack the board keeps free, against the board's memory regions. A model that cannot fit
//! stops here with one line naming the bytes and the region, instead of a linker error
//! (`rust-lld: error: section '.bfmd_model' will not fit in region 'FLASH': overflowed by N
//! bytes`) at the end of a build. The linker still checks the exact sizes; [`linker_overflow`]
//! turns its message into the same kind of line when the estimate was too low.

use crate::board::Board;
use std::path::Path;

/// Where a board's firmware puts each part, as its `memory.x` (or `build.rs`) does.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Index in [`Board::regions`] of the region holding code and read-only data.
    pub code: usize,
    /// Index of the region holding the model blob (`.bfmd_model`).
    pub model: usize,
    /// Regions the arena may go to, in order of preference, each with the largest arena the
    /// board's build script places there (`None`: the whole region less the stack reserve).
    pub arena: &'static [(usize, Option<u64>)],
    /// Index of the region holding the stack, `.data` and `.bss`.
    pub stack: usize,
    /// Bytes the linker script keeps free for the stack.
    pub stack_reserve: u64,
}

/// Code and read-only data every model's firmware links at least (the runtime, the executor
/// and the int8 kernels of a small classifier: the visual-wake-words firmware's text plus
/// rodata without its sample photograph is about 190 KB on the STM32H7). A lower bound, so the
/// check never refuses a model that fits; the linker has the last word.
pub const CODE_ESTIMATE: u64 = 64 * 1024;

/// What a model needs of a board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Need {
    /// Bytes of the blob.
    pub blob: u64,
    /// Bytes of the planned arena.
    pub arena: u64,
}

impl Need {
    /// The needs of `model` on `board` (a `.tflite` file imported and planned as the board's
    /// build script does, with its kernels' scratch, or a `.bfmd` blob).
    pub fn of(model: &Path, board: &Board) -> Result<Need, String> {
        let loaded = crate::infer::load_for(model, board.kernel_path())?;
        let m = bfmd_graph::Model::parse(loaded.blob.as_bytes())
            .map_err(|e| format!("{}: {e}", model.display()))?;
        Ok(Need {
            blob: loaded.blob.as_bytes().len() as u64,
            arena: m.arena_bytes() as u64,
        })
    }
}

/// `Err` with one line when `need` cannot fit `board`.
pub fn check(board: &Board, name: &str, need: Need) -> Result<(), String> {
    let l = board.layout;
    let region = |i: usize| &board.regions[i];
    let mut flash_use = vec![0u64; board.regions.len()];
    flash_use[l.code] += CODE_ESTIMATE;
    flash_use[l.model] += need.blob;
    for (i, &used) in flash_use.iter().enumerate() {
        let r = region(i);
        if used > r.length {
            let what = if i == l.model && i == l.code {
                format!(
                    "the model's {} B blob and about {} B of code",
                    need.blob, CODE_ESTIMATE
                )
            } else if i == l.model {
                format!("the model's {} B blob", need.blob)
            } else {
                format!("about {} B of code", CODE_ESTIMATE)
            };
            return Err(format!(
                "{name} does not fit {}: {what} need {used} B of {} ({} B at {:#010x}), {} B too many",
                board.name,
                r.name,
                r.length,
                r.origin,
                used - r.length
            ));
        }
    }
    let fits = l.arena.iter().any(|&(i, max)| {
        let r = region(i);
        let reserve = if i == l.stack { l.stack_reserve } else { 0 };
        let cap = max.unwrap_or(r.length.saturating_sub(reserve));
        need.arena <= cap && need.arena + reserve <= r.length
    });
    if !fits {
        let (i, max) = *l.arena.last().expect("a board has an arena region");
        let r = region(i);
        let cap =
            max.unwrap_or(
                r.length
                    .saturating_sub(if i == l.stack { l.stack_reserve } else { 0 }),
            );
        return Err(format!(
            "{name} does not fit {}: its arena needs {} B, the largest RAM for it ({}, {} B at \
             {:#010x}) takes at most {cap} B, {} B too many",
            board.name,
            need.arena,
            r.name,
            r.length,
            r.origin,
            need.arena - cap
        ));
    }
    Ok(())
}

/// The one line for a linker's region overflow in `stderr` (the estimate let a model through
/// that does not fit), or `None`.
pub fn linker_overflow(board: &Board, name: &str, stderr: &str) -> Option<String> {
    let line = stderr
        .lines()
        .find(|l| l.contains("will not fit in region") || l.contains("overflowed by"))?;
    let region = line
        .split("region '")
        .nth(1)
        .or_else(|| line.split("region `").nth(1))
        .and_then(|r| r.split(['\'', '`']).next())
        .unwrap_or("?");
    let bytes = line
        .split("overflowed by ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or("?");
    Some(format!(
        "{name} does not fit {}: the linker's region {region} overflowed by {bytes} bytes",
        board.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::find;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn a_model_within_every_region_fits() {
        let vww = Need {
            blob: 249_888,
            arena: 39_184,
        };
        for b in ["qemu-m7", "qemu-m55", "stm32h7"] {
            check(find(b).unwrap(), "vww", vww).unwrap();
        }
    }

    #[test]
    fn weights_larger_than_the_flash_are_refused_in_one_line() {
        let big = Need {
            blob: 3 * MIB,
            arena: 150_000,
        };
        let e = check(find("stm32h7").unwrap(), "mobilenet_v3_large", big).unwrap_err();
        assert_eq!(
            e,
            format!(
                "mobilenet_v3_large does not fit stm32h7: the model's {} B blob and about {} B of \
                 code need {} B of FLASH (2097152 B at 0x08000000), {} B too many",
                3 * MIB,
                CODE_ESTIMATE,
                3 * MIB + CODE_ESTIMATE,
                3 * MIB + CODE_ESTIMATE - 2 * MIB
            )
        );
        assert!(!e.contains('\n'));
        // The M55 keeps its weights in a 4 MiB SRAM of their own.
        check(find("qemu-m55").unwrap(), "mobilenet_v3_large", big).unwrap();
    }

    #[test]
    fn an_arena_larger_than_every_ram_is_refused_in_one_line() {
        let e = check(
            find("stm32h7").unwrap(),
            "huge",
            Need {
                blob: 100_000,
                arena: 600 * 1024,
            },
        )
        .unwrap_err();
        assert_eq!(
            e,
            "huge does not fit stm32h7: its arena needs 614400 B, the largest RAM for it \
             (AXISRAM, 524288 B at 0x24000000) takes at most 524288 B, 90112 B too many"
        );
        // The M55 takes it in its 2 MiB SRAM, not 3 MiB.
        let m55 = find("qemu-m55").unwrap();
        let need = |arena| Need {
            blob: 100_000,
            arena,
        };
        check(m55, "big", need(600 * 1024)).unwrap();
        let e = check(m55, "huge", need(3 * MIB)).unwrap_err();
        assert_eq!(
            e,
            "huge does not fit qemu-m55: its arena needs 3145728 B, the largest RAM for it \
             (SRAM, 2097152 B at 0x01000000) takes at most 2097152 B, 1048576 B too many"
        );
    }

    #[test]
    fn a_linker_overflow_becomes_one_line() {
        let stderr = "   Compiling x\nrust-lld: error: section '.bfmd_model' will not fit in region 'FLASH': overflowed by 1234 bytes\nerror: could not compile";
        assert_eq!(
            linker_overflow(find("stm32h7").unwrap(), "m", stderr).unwrap(),
            "m does not fit stm32h7: the linker's region FLASH overflowed by 1234 bytes"
        );
        assert_eq!(
            linker_overflow(find("stm32h7").unwrap(), "m", "error: other"),
            None
        );
    }

    /// `size`, `flash` and `sim` stop with the one-line error before building anything.
    #[test]
    fn size_flash_and_sim_refuse_a_model_that_does_not_fit() {
        let big = crate::run::root().join("tests/data/models/mobilenet_v3_large_int8.tflite");
        let big = big.to_str().unwrap().to_string();
        let args = |task: &[&str]| -> Vec<String> { task.iter().map(|s| s.to_string()).collect() };
        for r in [
            crate::size::run(&args(&["--board", "stm32h7", "--model", &big])),
            crate::flash::run(&args(&["--board", "stm32h7", "--model", &big, "--dry-run"])),
        ] {
            let e = r.unwrap_err();
            assert!(
                e.starts_with("mobilenet_v3_large_int8.tflite does not fit stm32h7: the model's "),
                "{e}"
            );
            assert!(
                e.contains("of FLASH (2097152 B at 0x08000000)") && !e.contains('\n'),
                "{e}"
            );
        }

        // An arena of 24 MiB (a 2048x1024x3 f32 image through ReLU) fits no emulated board.
        use bfmd_graph::builder::{BuildOptions, GraphBuilder, Quant};
        use bfmd_graph::{DType, OpKind};
        let mut b = GraphBuilder::new();
        let x = b
            .input(
                "x",
                bfmd_kernels::Shape::new(1, 2048, 1024, 3),
                DType::F32,
                Quant::NONE,
            )
            .unwrap();
        let y = b.unary("y", OpKind::Relu, x, Quant::NONE).unwrap();
        b.output(y).unwrap();
        let built = b.finish(BuildOptions::default()).unwrap();
        let dir = std::env::temp_dir().join(format!("bfmd-fit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let model = dir.join("huge_arena.bfmd");
        std::fs::write(&model, built.blob.as_bytes()).unwrap();
        let input = dir.join("in.f32");
        std::fs::write(&input, []).unwrap();
        let (m, i) = (model.to_str().unwrap(), input.to_str().unwrap());
        for board in ["qemu-m7", "qemu-m55"] {
            let e = crate::sim::run(&args(&["--board", board, "--model", m, "--input", i]))
                .unwrap_err();
            assert!(
                e.starts_with(&format!(
                    "huge_arena.bfmd does not fit {board}: its arena needs 25165824 B"
                )),
                "{e}"
            );
            assert!(!e.contains('\n'), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
