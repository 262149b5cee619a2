//! Person detection (or any compiled-in model) on the NUCLEO-H743ZI2.
//!
//! Sets the core to 480 MHz (VOS0, PLL1 from the ST-LINK's 8 MHz clock), enables the caches,
//! runs the model on the compiled-in sample input (`BFMD_INPUT`, see `bfmd-embed`) a few times,
//! and logs over defmt/RTT: the DWT cycle count of each inference, a per-op cycle profile of the
//! last one, and every output tensor. Then it halts on a breakpoint, which ends `probe-rs run`.
//!
//! The model is bound to its arena through `bfmd_graph::Session::<model::Ops>`, so the program
//! links only the kernels the model runs; there is no `unsafe` here. Inputs other than input 0
//! are zeros (the sample input is graph input 0).
#![no_std]
#![no_main]

use bfmd_graph::{exec, Session};
use cortex_m::peripheral::DWT;
use cortex_m_rt::entry;
use defmt_rtt as _;
use panic_probe as _;
use stm32h7xx_hal::{pac, prelude::*, rcc::PllConfigStrategy};

// Generated constants and statics; each program uses only some of them.
#[allow(missing_docs, dead_code)]
mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
    include!(concat!(env!("OUT_DIR"), "/arena_region.rs"));
}

/// Core clock.
const SYSCLK_HZ: u32 = 480_000_000;
/// Inferences timed: the first one also pays for filling the caches.
const RUNS: usize = 3;

/// The DWT cycle counter extended to 64 bits (it wraps every 8.9 s at 480 MHz; the executor
/// reads it at least once per op, far more often).
struct Cycles {
    high: u64,
    last: u32,
}

impl Cycles {
    fn now(&mut self) -> u64 {
        let c = DWT::cycle_count();
        if c < self.last {
            self.high += 1 << 32;
        }
        self.last = c;
        self.high | u64::from(c)
    }
}

/// Logs each op's cycles.
struct Profiler {
    cycles: Cycles,
    total: u64,
}

impl exec::Profiler for Profiler {
    fn now(&mut self) -> u64 {
        self.cycles.now()
    }

    fn record(&mut self, op_index: usize, op_name: &'static str, elapsed: u64) {
        self.total += elapsed;
        defmt::info!(
            "op {=usize} {=str}: {=u64} cycles",
            op_index,
            op_name,
            elapsed
        );
    }
}

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().unwrap();
    let dp = pac::Peripherals::take().unwrap();

    // 480 MHz needs voltage scale 0 (revision V silicon) and PLL1's wide-range VCO (960 MHz max),
    // which the HAL's iterative strategy selects; its default strategy uses the medium-range VCO
    // (420 MHz max) and fails an assertion at 480 MHz. The HAL also sets the flash latency.
    let pwrcfg = dp.PWR.constrain().vos0(&dp.SYSCFG).freeze();
    let ccdr = dp
        .RCC
        .constrain()
        .use_hse(8.MHz())
        .bypass_hse()
        .sys_ck(SYSCLK_HZ.Hz())
        .hclk(240.MHz())
        .pll1_strategy(PllConfigStrategy::Iterative)
        .freeze(pwrcfg, &dp.SYSCFG);
    cp.SCB.enable_icache();
    cp.SCB.enable_dcache(&mut cp.CPUID);
    cp.DCB.enable_trace();
    DWT::unlock();
    cp.DWT.enable_cycle_counter();
    defmt::info!(
        "bfmd on STM32H743ZI: sysclk {=u32} Hz, model {=str}: arena {=usize} B in {=str}, blob {=usize} B",
        ccdr.clocks.sys_ck().raw(),
        model::NAME,
        model::ARENA_BYTES,
        model::ARENA_REGION,
        model::BLOB_LEN
    );

    // The arena, sized by the planner at compile time, in the section `build.rs` places in DTCM
    // or AXI SRAM (`cargo xtask size` finds it by its symbol, `BFMD_ARENA`).
    let Some(arena) = bfmd_graph::static_arena!(model::ARENA_BYTES, section = ".bfmd_arena") else {
        halt("the arena was already taken")
    };
    let mut net = match Session::<model::Ops>::new(model::BLOB.as_slice(), arena.as_mut_slice()) {
        Ok(s) => s,
        Err(e) => halt_with_error("model", e),
    };
    let mut cycles = Cycles { high: 0, last: 0 };
    for run in 0..RUNS {
        load_inputs(&mut net);
        let t0 = cycles.now();
        if let Err(e) = net.run() {
            halt_with_error("inference", e);
        }
        let n = cycles.now() - t0;
        defmt::info!(
            "inference {=usize}: {=u64} cycles = {=u64} us",
            run,
            n,
            n / u64::from(SYSCLK_HZ / 1_000_000)
        );
    }
    load_inputs(&mut net);
    let mut profiler = Profiler { cycles, total: 0 };
    if let Err(e) = net.run_profiled(&mut profiler) {
        halt_with_error("profiled inference", e);
    }
    defmt::info!("profile: {=u64} cycles in ops", profiler.total);
    for (k, spec) in model::OUTPUTS.iter().enumerate() {
        match net.output(k) {
            Ok(out) => defmt::info!(
                "output {=usize} ({=f32} * (q - {=i32})): {=[u8]:02x}",
                k,
                spec.scale,
                spec.zero_point,
                out
            ),
            Err(e) => halt_with_error("output", e),
        }
    }
    loop {
        cortex_m::asm::bkpt();
    }
}

/// Writes the sample input into graph input 0 and zeros into the others.
fn load_inputs(net: &mut Session<'_, '_, model::Ops>) {
    for k in 0..model::INPUT_COUNT {
        match net.input(k) {
            Ok(buf) if k == 0 => buf.copy_from_slice(&model::SAMPLE_INPUT),
            Ok(buf) => buf.fill(0),
            Err(e) => halt_with_error("input", e),
        }
    }
}

/// Logs `what` failed with `e` and halts (probe-rs shows the log and stops).
fn halt_with_error(what: &str, e: bfmd_graph::GraphError) -> ! {
    defmt::error!("{=str} failed: {}", what, e);
    loop {
        cortex_m::asm::bkpt();
    }
}

/// Logs `why` and halts.
fn halt(why: &str) -> ! {
    defmt::error!("{=str}", why);
    loop {
        cortex_m::asm::bkpt();
    }
}
