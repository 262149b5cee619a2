//! `cargo xtask ram [--models a,b] [--readme]`: every byte of RAM and flash each int8 model's
//! firmware uses on the emulated Cortex-M7, next to TFLM's arena.
//!
//! RAM is the planned arena, the static data (`.data` + `.bss`) and the stack's high-water mark
//! that the firmware measures itself (it paints its stack at start-up, see
//! `boards/qemu/src/stack.rs`) over one golden inference: the kernels' and the executor's frames
//! are in it. Code is what the linker kept (`.text` + `.rodata`, vector table included); weights
//! are the model blob. TFLM's figure is the arena its recording allocator reported (golden
//! manifests), without TFLM's own stack and static data, so the ratio favours TFLM.
//! `--readme` rewrites the table between `<!-- ram: begin -->` and `<!-- ram: end -->` in
//! README.md.

use crate::board::{self, Board};
use crate::run::root;
use std::path::{Path, PathBuf};

/// What one model's firmware uses, measured.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// `.text` + `.rodata` bytes (code and its constants).
    pub code: u64,
    /// The model blob's bytes (weights, tables, plan).
    pub weights: u64,
    /// The planned arena's bytes.
    pub arena: u64,
    /// `.data` + `.bss` bytes.
    pub statics: u64,
    /// The stack's high-water mark over one inference, bytes.
    pub stack: u64,
}

impl Measured {
    /// Every byte of RAM: arena, static data and peak stack.
    pub fn ram(&self) -> u64 {
        self.arena + self.statics + self.stack
    }
}

/// Builds `model`'s firmware for the emulated `board`, runs one invocation (`inputs`, or
/// zero-filled inputs when empty) and reads the ELF and the measured stack.
pub fn measure(board: &Board, model: &Path, inputs: &[PathBuf]) -> Result<Measured, String> {
    let elf = board.build("infer", Some(model))?;
    measure_elf(board, &elf, model, inputs)
}

/// [`measure`] of the `infer` firmware `elf`, already built for `model` and `board`.
pub fn measure_elf(
    board: &Board,
    elf: &Path,
    model: &Path,
    inputs: &[PathBuf],
) -> Result<Measured, String> {
    let zeros;
    let inputs = if inputs.is_empty() {
        zeros = zero_inputs(model)?;
        zeros.as_slice()
    } else {
        inputs
    };
    let run = crate::sim::run_firmware(board, elf, inputs, false)?;
    let u = crate::size::usage_of(elf, board)?;
    let stack = run
        .stack_peak
        .ok_or("the firmware did not report its peak stack")? as u64;
    Ok(Measured {
        code: u.text + u.rodata,
        weights: u.model,
        arena: u.arena,
        statics: u.data + u.bss,
        stack,
    })
}

/// Zero-filled input files for one invocation of `model`, in a scratch directory.
fn zero_inputs(model: &Path) -> Result<Vec<PathBuf>, String> {
    let loaded = crate::infer::load(model)?;
    let m = bfmd_graph::Model::parse(loaded.blob.as_bytes()).map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("bfmd-ram-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    for k in 0..m.input_count() {
        let t = m.input_tensor(k).map_err(|e| e.to_string())?;
        let len = m.tensor(t).map(|i| i.region.len).unwrap_or(0);
        let p = dir.join(format!("zeros_{k}.bin"));
        std::fs::write(&p, vec![0u8; len]).map_err(|e| e.to_string())?;
        files.push(p);
    }
    Ok(files)
}

/// The markdown table of `rows` (model name, measurement, TFLM arena).
pub fn table(rows: &[(String, Measured, Option<u64>)]) -> String {
    let mut s = String::from(
        "| model (int8) | code B | weights B | arena B | static B | peak stack B | **RAM B** | TFLM arena B | RAM / TFLM |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (name, m, tflm) in rows {
        let ratio = tflm.map_or("-".to_string(), |t| {
            format!("**{:.2}**", m.ram() as f64 / t as f64)
        });
        s.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {ratio} |\n",
            m.code,
            m.weights,
            m.arena,
            m.statics,
            m.stack,
            m.ram(),
            tflm.map_or("-".to_string(), |t| t.to_string()),
        ));
    }
    s
}

/// `cargo xtask ram`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut only: Option<Vec<String>> = None;
    let mut readme = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--models" => {
                let v = it.next().ok_or("--models needs a comma-separated list")?;
                only = Some(v.split(',').map(str::to_string).collect());
            }
            "--readme" => readme = true,
            other => return Err(format!("`cargo xtask ram`: unknown argument `{other}`")),
        }
    }
    crate::deps::ensure_all()?;
    let m7 = board::find("qemu-m7")?;
    let dir = root().join("tests/data/models");
    let mut stems: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix("_int8.tflite").map(str::to_string))
        .collect();
    stems.sort();
    if let Some(o) = &only {
        for m in o {
            if !stems.contains(m) {
                return Err(format!(
                    "no model `{m}` in tests/data/models (int8 models: {})",
                    stems.join(", ")
                ));
            }
        }
        stems.retain(|s| o.contains(s));
    }
    let mut rows = Vec::new();
    for stem in stems {
        let path = dir.join(format!("{stem}_int8.tflite"));
        let golden = crate::sim::golden_dir(&path)
            .map(|d| crate::sim::golden_pairs(&d))
            .unwrap_or_default();
        let inputs: Vec<PathBuf> = golden.first().map(|(i, _)| i.clone()).into_iter().collect();
        let m = measure(m7, &path, &inputs)?;
        rows.push((stem.clone(), m, crate::bench::tflm_arena(&path)));
    }
    let t = table(&rows);
    print!("{t}");
    if readme {
        crate::bench::update_readmes(&t, &["README.md"], "ram")?;
    }
    Ok(())
}
