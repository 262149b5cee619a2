//! Runs the compiled-in model (see `bfmd-embed`) on every input file named on the semihosting
//! command line, and prints for input `i`:
//!
//! ```text
//! output <i> <hex of output 0>
//! # instructions <i> <exact instruction count of the inference>
//! ```
//!
//! With `--profile` first on the command line, the first input is run once more with the
//! per-op profiler (`# op <index> <name> <instructions>` lines). Exits with status 1 after
//! printing `error: ...` if the model, an input file or an inference fails.
#![no_std]
#![no_main]

use bfmd_board_qemu::semihosting::println;
use bfmd_board_qemu::{fail, icount, print_hex_line, read_exact_file, BEGIN, CPU, END, MACHINE};
use bfmd_graph::{exec, Arena, Model};
use cortex_m_rt::entry;

// Generated constants and statics; each program uses only some of them.
#[allow(missing_docs, dead_code)]
mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}

// The programs run graph input 0 and read graph output 0 only.
const _: () = assert!(
    model::INPUT_COUNT == 1 && model::OUTPUT_COUNT == 1,
    "this firmware runs models with one input and one output"
);

/// The tensor arena, sized by the planner at compile time; `size` finds it by this symbol.
#[no_mangle]
static mut BFMD_ARENA: Arena<{ model::ARENA_BYTES }> = Arena::new();

/// Longest semihosting command line accepted (the host passes short scratch file names).
const CMDLINE_BYTES: usize = 4096;

/// Writes input `path` into the model's input 0, or ends the run naming the problem.
fn load_input(model: &Model<'_>, arena: &mut [u8], i: usize, path: &str) {
    let buf = match model.input_mut(arena, 0) {
        Ok(b) => b,
        Err(e) => fail(format_args!("input tensor: {e}")),
    };
    if let Err(e) = read_exact_file(path, buf) {
        fail(format_args!("input {i} ({path}): {e}"));
    }
}

#[entry]
fn main() -> ! {
    icount::init();
    let model = match Model::parse(model::BLOB.as_slice()) {
        Ok(m) => m,
        Err(e) => fail(format_args!("model {}: {e}", model::NAME)),
    };
    let arena_ptr = &raw mut BFMD_ARENA;
    // SAFETY: the pointer comes from the static, so it is valid and aligned; `main` runs once and
    // no interrupt handler touches the arena, so this is the only reference to it.
    let arena: &mut [u8] = unsafe { (*arena_ptr).as_mut_slice() };
    let args = match bfmd_board_qemu::semihosting::experimental::env::args::<CMDLINE_BYTES>() {
        Ok(a) => a,
        Err(_) => fail(format_args!("cannot read the semihosting command line")),
    };
    let mut profile = false;
    let mut first_input = None;

    println!("{}", BEGIN);
    println!(
        "# model {} on {} ({}): arena {} B, blob {} B, {} ops",
        model::NAME,
        MACHINE,
        CPU,
        model::ARENA_BYTES,
        model::BLOB_LEN,
        model.op_count()
    );
    println!(
        "# output-quant 0 {} {}",
        model::OUTPUT_SCALE,
        model::OUTPUT_ZERO_POINT
    );
    let mut index = 0;
    // The first argument is the program name.
    for arg in (&args).skip(1) {
        let Ok(path) = arg else {
            fail(format_args!("a command-line argument is not UTF-8"));
        };
        if path == "--profile" {
            profile = true;
            continue;
        }
        load_input(&model, arena, index, path);
        let (result, instructions) = icount::measure(|| exec::run(&model, arena, None));
        if let Err(e) = result {
            fail(format_args!("inference {index}: {e}"));
        }
        match model.output(arena, 0) {
            Ok(out) => print_hex_line("output", index, out),
            Err(e) => fail(format_args!("output tensor: {e}")),
        }
        println!("# instructions {} {}", index, instructions);
        first_input.get_or_insert(path);
        index += 1;
    }
    if let (true, Some(path)) = (profile, first_input) {
        // The arena was reused by the last inference: load the first input again.
        load_input(&model, arena, 0, path);
        let mut p = icount::OpProfiler::new();
        if let Err(e) = exec::run(&model, arena, Some(&mut p)) {
            fail(format_args!("profiled inference: {e}"));
        }
        println!("# profile total {} instructions", p.total);
    }
    println!("{}", END);
    bfmd_board_qemu::exit(0)
}
