//! Runs the compiled-in model (see `bfmd-embed`) over the input files named on the semihosting
//! command line, `INPUT_COUNT` files per invocation in graph-input order (invocation `s` reads
//! files `s*I .. s*I+I-1`), and prints for invocation `s` of a model with `K` outputs:
//!
//! ```text
//! output <s*K+k> <hex of output k>      (for every k < K)
//! # instructions <s> <exact instruction count of the invocation>
//! ```
//!
//! With `--profile` first on the command line, the first invocation is run once more with the
//! per-op profiler (`# op <index> <name> <instructions>` lines). The last line before the end
//! marker is `# stack-peak <bytes>`: the stack's high-water mark (painted at start-up). Exits with status 1 after
//! printing `error: ...` if the model, an input file or an inference fails.
//!
//! The model is bound to its arena through `bfmd_graph::Session::<model::Ops>`, so the firmware
//! links only the kernels the model runs; there is no `unsafe` here.
#![no_std]
#![no_main]

use bfmd_board_qemu::semihosting::println;
use bfmd_board_qemu::{fail, icount, print_hex_line, read_exact_file, BEGIN, CPU, END, MACHINE};
use bfmd_graph::Session;
use cortex_m_rt::entry;

// Generated constants and statics; each program uses only some of them.
#[allow(missing_docs, dead_code)]
mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}

/// Longest semihosting command line accepted: the host passes short scratch file names
/// (`in_<i>.bin`, about 200 of them fit). The buffer is on `main`'s stack, so it is in the
/// measured peak stack: kept small.
const CMDLINE_BYTES: usize = 2048;

/// The session this program runs: the model's kernels only.
type Net<'m, 'a> = Session<'m, 'a, model::Ops>;

/// Writes `path` into graph input `k`, or ends the run naming the problem.
fn load_input(net: &mut Net<'_, '_>, k: usize, path: &str) {
    let buf = match net.input(k) {
        Ok(b) => b,
        Err(e) => fail(format_args!("input tensor {k}: {e}")),
    };
    if let Err(e) = read_exact_file(path, buf) {
        fail(format_args!("input {k} ({path}): {e}"));
    }
}

#[entry]
fn main() -> ! {
    bfmd_board_qemu::stack::paint();
    icount::init();
    // In the RAM build.rs chose for the planned size (data RAM, or PSRAM/SRAM when larger).
    let Some(arena) = bfmd_graph::static_arena!(model::ARENA_BYTES, section = ".bfmd_arena") else {
        fail(format_args!("the arena was already taken"))
    };
    let mut net = match Net::new(model::BLOB.as_slice(), arena.as_mut_slice()) {
        Ok(n) => n,
        Err(e) => fail(format_args!("model {}: {e}", model::NAME)),
    };
    let args = match bfmd_board_qemu::semihosting::experimental::env::args::<CMDLINE_BYTES>() {
        Ok(a) => a,
        Err(_) => fail(format_args!("cannot read the semihosting command line")),
    };

    println!("{}", BEGIN);
    println!(
        "# model {} on {} ({}): arena {} B, blob {} B, {} ops",
        model::NAME,
        MACHINE,
        CPU,
        model::ARENA_BYTES,
        model::BLOB_LEN,
        net.model().op_count()
    );
    println!("# io {} {}", model::INPUT_COUNT, model::OUTPUT_COUNT);
    // Quantization as raw f32 bits: the firmware formats no floats.
    for (k, spec) in model::OUTPUTS.iter().enumerate() {
        println!(
            "# output-quant {} {:08x} {}",
            k,
            spec.scale.to_bits(),
            spec.zero_point
        );
    }
    let mut profile = false;
    let mut group: [&str; model::INPUT_COUNT] = [""; model::INPUT_COUNT];
    let mut first: Option<[&str; model::INPUT_COUNT]> = None;
    let (mut filled, mut invocation) = (0, 0);
    // The first argument is the program name.
    for arg in (&args).skip(1) {
        let Ok(path) = arg else {
            fail(format_args!("a command-line argument is not UTF-8"));
        };
        if path == "--profile" {
            profile = true;
            continue;
        }
        group[filled] = path;
        filled += 1;
        if filled < model::INPUT_COUNT {
            continue;
        }
        filled = 0;
        for (k, p) in group.iter().enumerate() {
            load_input(&mut net, k, p);
        }
        let (result, instructions) = icount::measure(|| net.run());
        if let Err(e) = result {
            fail(format_args!("inference {invocation}: {e}"));
        }
        for k in 0..model::OUTPUT_COUNT {
            match net.output(k) {
                Ok(out) => print_hex_line("output", invocation * model::OUTPUT_COUNT + k, out),
                Err(e) => fail(format_args!("output tensor {k}: {e}")),
            }
        }
        println!("# instructions {} {}", invocation, instructions);
        first.get_or_insert(group);
        invocation += 1;
    }
    if filled != 0 {
        fail(format_args!(
            "{filled} input file(s) left over: the model takes {} per invocation",
            model::INPUT_COUNT
        ));
    }
    if let (true, Some(paths)) = (profile, first) {
        // The arena was reused by the last inference: load the first inputs again.
        for (k, p) in paths.iter().enumerate() {
            load_input(&mut net, k, p);
        }
        let mut p = icount::OpProfiler::new();
        if let Err(e) = net.run_profiled(&mut p) {
            fail(format_args!("profiled inference: {e}"));
        }
        println!("# profile total {} instructions", p.total);
    }
    // Every byte of stack the program used, kernels and executor included.
    println!("# stack-peak {}", bfmd_board_qemu::stack::peak());
    println!("{}", END);
    bfmd_board_qemu::exit(0)
}
