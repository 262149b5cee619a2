//! The host side of what the boards embed, for checking them:
//!
//! * `bfmd-embed plan MODEL [OUT.bfmd]`: imports and plans a model exactly as the boards' build
//!   scripts do, prints the plan, and optionally writes the blob;
//! * `bfmd-embed infer MODEL IN.bin OUT.bin [IN.bin OUT.bin]...`: runs that blob on the host with
//!   the same executor the firmware uses, so board outputs can be compared byte for byte.

use bfmd_graph::{exec, Model};
use std::process::ExitCode;

const USAGE: &str = "usage: bfmd-embed plan MODEL [OUT.bfmd]\n       bfmd-embed infer MODEL IN.bin OUT.bin [IN.bin OUT.bin]...";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    match args {
        [cmd, model, rest @ ..] if cmd == "plan" && rest.len() <= 1 => {
            let bytes = std::fs::read(model).map_err(|e| format!("{model}: {e}"))?;
            let (blob, report) =
                bfmd_embed::import_tflite(&bytes).map_err(|e| format!("{model}: {e}"))?;
            print!("{report}");
            if let Some(out) = rest.first() {
                std::fs::write(out, &blob).map_err(|e| format!("{out}: {e}"))?;
            }
            Ok(())
        }
        [cmd, model, pairs @ ..] if cmd == "infer" && !pairs.is_empty() && pairs.len() % 2 == 0 => {
            let blob = bfmd_embed::load(std::path::Path::new(model))?;
            // Model::parse wants a 16-byte aligned blob, as the firmware's AlignedBytes is.
            let words = bfmd_graph::builder::ModelBytes::from_bytes(&blob);
            let m = Model::parse(words.as_bytes()).map_err(|e| format!("{model}: {e}"))?;
            let mut arena = vec![0u128; m.arena_bytes().div_ceil(16)];
            // SAFETY: a u128 slice is 16-byte aligned and its bytes are plain memory of exactly
            // `len * 16` bytes; u8 has no alignment or validity requirement.
            let arena: &mut [u8] = unsafe {
                std::slice::from_raw_parts_mut(arena.as_mut_ptr().cast::<u8>(), arena.len() * 16)
            };
            for pair in pairs.chunks(2) {
                let (inp, out) = (&pair[0], &pair[1]);
                let x = std::fs::read(inp).map_err(|e| format!("{inp}: {e}"))?;
                let dst = m.input_mut(arena, 0).map_err(|e| e.to_string())?;
                if dst.len() != x.len() {
                    return Err(format!(
                        "{inp}: {} bytes, the model's input has {}",
                        x.len(),
                        dst.len()
                    ));
                }
                dst.copy_from_slice(&x);
                exec::run(&m, arena, None).map_err(|e| format!("{inp}: {e}"))?;
                let y = m.output(arena, 0).map_err(|e| e.to_string())?;
                std::fs::write(out, y).map_err(|e| format!("{out}: {e}"))?;
            }
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    }
}
