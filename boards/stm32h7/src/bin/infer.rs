//! Person detection (or any compiled-in model) on the NUCLEO-H743ZI2.
//!
//! Sets the core to 480 MHz (VOS0, PLL1 from the ST-LINK's 8 MHz clock), enables the caches,
//! runs the model on the compiled-in sample input (`BFMD_INPUT`, see `bfmd-embed`) a few times,
//! and logs over defmt/RTT: the DWT cycle count of each inference, a per-op cycle profile of the
//! last one, and the output tensor. Then it halts on a breakpoint, which ends `probe-rs run`.
#![no_std]
#![no_main]

use bfmd_graph::{exec, Arena, Model};
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

// The programs run graph input 0 and read graph output 0 only.
const _: () = assert!(
    model::INPUT_COUNT == 1 && model::OUTPUT_COUNT == 1,
    "this firmware runs models with one input and one output"
);

/// The tensor arena, sized by the planner at compile time and placed by `build.rs` in DTCM or
/// AXI SRAM; `cargo xtask size` finds it by this symbol.
#[no_mangle]
#[link_section = ".bfmd_arena"]
static mut BFMD_ARENA: Arena<{ model::ARENA_BYTES }> = Arena::new();

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

    let model = match Model::parse(model::BLOB.as_slice()) {
        Ok(m) => m,
        Err(e) => halt_with_error("model", e),
    };
    let arena_ptr = &raw mut BFMD_ARENA;
    // SAFETY: the pointer comes from the static, so it is valid and aligned; `main` runs once and
    // no interrupt handler touches the arena, so this is the only reference to it.
    let arena: &mut [u8] = unsafe { (*arena_ptr).as_mut_slice() };
    let mut cycles = Cycles { high: 0, last: 0 };
    for run in 0..RUNS {
        match model.input_mut(arena, 0) {
            Ok(input) => input.copy_from_slice(&model::SAMPLE_INPUT),
            Err(e) => halt_with_error("input", e),
        }
        let t0 = cycles.now();
        if let Err(e) = exec::run(&model, arena, None) {
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
    match model.input_mut(arena, 0) {
        Ok(input) => input.copy_from_slice(&model::SAMPLE_INPUT),
        Err(e) => halt_with_error("input", e),
    }
    let mut profiler = Profiler { cycles, total: 0 };
    if let Err(e) = exec::run(&model, arena, Some(&mut profiler)) {
        halt_with_error("profiled inference", e);
    }
    defmt::info!("profile: {=u64} cycles in ops", profiler.total);
    match model.output(arena, 0) {
        Ok(out) => defmt::info!(
            "output 0 ({=f32} * (q - {=i32})): {=[u8]:02x}",
            model::OUTPUT_SCALE,
            model::OUTPUT_ZERO_POINT,
            out
        ),
        Err(e) => halt_with_error("output", e),
    }
    loop {
        cortex_m::asm::bkpt();
    }
}

/// Logs `what` failed with `e` and halts (probe-rs shows the log and stops).
fn halt_with_error(what: &str, e: bfmd_graph::GraphError) -> ! {
    defmt::error!("{=str} failed: {}", what, defmt::Debug2Format(&e));
    loop {
        cortex_m::asm::bkpt();
    }
}
