//! `cargo xtask <task>`: the one entry point for everything a user or CI does with bfmd.
//!
//! One module per task (rust-analyzer's xtask habit). Every task installs what it needs
//! (Rust targets, Debian packages) through [`deps`] and reports every failure of a run at the end.

mod backbone;
mod bench;
mod board;
mod demo;
mod deps;
mod fit;
mod flash;
mod frames;
mod fuzz;
mod hot;
mod infer;
mod models;
mod plan;
mod qemu;
mod ram;
mod run;
mod sim;
mod size;
mod test;
mod tidy;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task> [options]

tasks:
  test                 fmt, clippy, host tests, no_std builds for every MCU target,
                       aarch64 tests under qemu-aarch64; reports every failure at the end
  test boards          only the firmware builds and the QEMU snapshot tests
  deps                 install the Rust targets and Debian packages the other tasks need
  bench [--shapes-only] [--models a,b] [--no-portable] [--no-m55] [--no-host]
                       kernel shapes of BENCH.md and every int8 test model on the emulated
                       Cortex-M7/M55 (exact instruction counts vs CMSIS-NN, RAM, flash) and host
                       latency (criterion); writes bench/results.json and bench/README.md
  demo                 person detection (MLPerf Tiny VWW) on an emulated Cortex-M7 in QEMU:
                       label, probability and instructions per photograph; arena and flash bytes
  sim --board qemu-m7|qemu-m55 [--model M.tflite] [--input IN.bin]... [--output OUT.bin]...
      [--profile] [--functions]
                       run a model on an emulated board, every input and output in graph order
                       (inputs s*I..s*I+I-1 are invocation s; no --input: its golden inputs,
                       checked); prints the measured peak stack;
                       --profile: instructions per op, --functions: per function (QEMU trace)
  flash --board stm32h7 [--model M.tflite] [--dry-run]
                       build, flash with probe-rs and stream the defmt log (--dry-run: build and
                       print chip, ELF, flash and RAM use)
  size --board qemu-m7|qemu-m55|stm32h7 [--model M.tflite]
                       text, rodata, model, data, bss and arena bytes of the firmware's ELF
  infer --model M.tflite|M.bfmd --input IN.bin --output OUT.bin [--max-work N]
        [--max-arena BYTES] [--allow-non-finite]
                       run a model once on the host: raw input tensor bytes in (int8 or
                       little-endian f32), raw output tensor bytes out (repeat --input and
                       --output for models with several); the model must stay within 10^12
                       operations and 1 GiB of arena (--max-work, --max-arena change that);
                       NaN or infinite float inputs are an error unless --allow-non-finite
  infer --backbone NAME --weights W.safetensors --input IN.f32 --output OUT.f32
        [--dtype f32|f16|int8] [--calibrate FILE...] [--set key=value ...] [--compare]
        [--save M.bfmd] [--allow-non-finite] [--max-work N] [--max-arena BYTES]
                       build a native backbone (mobilenet_v1 mobilenet_v2 mobilenet_v3_small
                       mobilenet_v3_large mobilenext shufflenet_v1 shufflenet_v2 googlenet
                       inception_v3 xception efficientnet_b0 efficientnet_lite0 blazeface) from
                       a PyTorch state_dict, quantize it on the --calibrate images (int8) and
                       run it; NHWC f32 in and out; --compare: per-layer error against f32
  models               params, MACs, int8/f16 arena and weight bytes of every native backbone
                       at the standard and the reference configurations
  ram [--models a,b] [--readme]
                       every int8 test model's firmware on the emulated Cortex-M7: code,
                       weights, arena, static data and measured peak stack, RAM against TFLM's
                       arena (--readme: rewrite the README's RAM table)
  plan --model M.tflite [--json]
                       arena, other RAM, weights, MACs and per op its buffers' offsets and
                       sizes (--json: one JSON object)
  frames FIRMWARE.elf [N]
                       the N (default 20) largest stack frames of a Thumb-2 firmware's functions
  fuzz [--seconds N] [--target NAME]... [--no-sanitizer]
                       run every cargo-fuzz target (parse_tflite tflite_pipeline bfmd_blob
                       safetensors_backbone; or the ones named) for N s each (default 60);
                       installs cargo-fuzz =0.13.2 and rustup's nightly when missing; prints
                       executions, coverage and findings per target
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match task.as_str() {
        "test" => test::run(rest),
        "deps" => deps::ensure_all().map(|_| ()),
        "demo" => demo::run(rest),
        "sim" => sim::run(rest),
        "bench" => bench::run(rest),
        "flash" => flash::run(rest),
        "size" => size::run(rest),
        "fuzz" => fuzz::run(rest),
        "infer" => infer::run(rest),
        "plan" => plan::run(rest),
        "ram" => ram::run(rest),
        "frames" => frames::run(rest),
        "models" => models::run(rest),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown task `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
