//! Exact instruction counting under QEMU's `-icount`.
//!
//! With `-icount shift=N` every guest instruction advances QEMU's virtual clock by exactly 2^N ns,
//! so a timer clocked from virtual time is an instruction counter that does not depend on host
//! load (`../shared/QEMU.md`). A region's instruction count is `round(ticks * ns_per_tick /
//! 2^N)`; the rounding is exact because a tick is shorter than one instruction.
//!
//! * mps2-an500 (Cortex-M7): CMSDK APB timer0 at 25 MHz (40 ns), `shift=7` (128 ns), so one
//!   instruction is 3.2 ticks. The 32-bit counter wraps every 1.3e9 instructions.
//! * mps3-an547 (Cortex-M55): SysTick on the 32 MHz core clock (31.25 ns), `shift=6` (64 ns),
//!   2.048 ticks per instruction. The 24-bit counter wraps every 8.2e6 instructions.
//!
//! Both counters are extended to 64 bits by a wrap interrupt whose handler is written in assembly
//! so that its length is known ([`HANDLER_INSTRUCTIONS`]); every handler run inside a region is
//! subtracted, and so is the cost of taking the two stamps (measured once by [`init`]). The result
//! is the number of instructions the region itself executed: the `calibrate` program checks that a
//! two-instruction loop of `n` iterations measures `2n + c` for a constant `c`, with and without
//! wraps.

use core::sync::atomic::{AtomicU32, Ordering};

/// Virtual nanoseconds per instruction (`2^shift`) on this machine.
#[cfg(machine = "an500")]
pub const NS_PER_INSTRUCTION: u64 = 1 << 7;
/// Virtual nanoseconds per instruction (`2^shift`) on this machine.
#[cfg(machine = "an547")]
pub const NS_PER_INSTRUCTION: u64 = 1 << 6;

/// The `-icount` option QEMU must be started with for the counts to be right.
#[cfg(machine = "an500")]
pub const QEMU_ICOUNT: &str = "shift=7";
/// The `-icount` option QEMU must be started with for the counts to be right.
#[cfg(machine = "an547")]
pub const QEMU_ICOUNT: &str = "shift=6";

/// Instructions executed by one run of the wrap interrupt handler (see the assembly below).
#[cfg(machine = "an500")]
pub const HANDLER_INSTRUCTIONS: u64 = 8;
/// Instructions executed by one run of the wrap interrupt handler (see the assembly below).
#[cfg(machine = "an547")]
pub const HANDLER_INSTRUCTIONS: u64 = 5;

/// Ticks to instructions: `instructions = round(ticks * NUM / DEN)`.
/// an500: 40 ns / 128 ns = 5/16.
#[cfg(machine = "an500")]
const TICKS_TO_INSTR: (u64, u64) = (5, 16);
/// an547: 31.25 ns / 64 ns = 125/256.
#[cfg(machine = "an547")]
const TICKS_TO_INSTR: (u64, u64) = (125, 256);

/// The counter's full reload value.
#[cfg(machine = "an500")]
pub const MAX_RELOAD: u32 = u32::MAX;
/// The counter's full reload value (SysTick is 24 bits wide).
#[cfg(machine = "an547")]
pub const MAX_RELOAD: u32 = 0x00FF_FFFF;

/// Wrap interrupts handled so far; incremented only by the assembly handler.
#[no_mangle]
static BFMD_ICOUNT_WRAPS: AtomicU32 = AtomicU32::new(0);
/// The reload value in use (period = reload + 1 ticks).
static RELOAD: AtomicU32 = AtomicU32::new(MAX_RELOAD);
/// Instructions counted for an empty region (two back-to-back stamps), subtracted from every
/// measurement.
static OVERHEAD: AtomicU32 = AtomicU32::new(0);

/// A point in instruction time: 64-bit extended timer ticks plus the number of wrap handler runs
/// seen so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    ticks: u64,
    handled: u32,
}

impl Stamp {
    /// Instructions executed between `self` and `later`, excluding the wrap handler runs and the
    /// cost of taking the stamps.
    pub fn instructions_until(self, later: Stamp) -> u64 {
        raw_instructions(self, later).saturating_sub(u64::from(OVERHEAD.load(Ordering::Relaxed)))
    }

    /// Extended timer ticks since [`init`] (for a profiler that only sees differences).
    pub fn ticks(self) -> u64 {
        self.ticks
    }
}

/// Converts a tick difference to instructions (rounded to nearest: exact, see the module doc).
pub fn ticks_to_instructions(ticks: u64) -> u64 {
    let (num, den) = TICKS_TO_INSTR;
    (ticks * num + den / 2) / den
}

fn raw_instructions(a: Stamp, b: Stamp) -> u64 {
    let handled = u64::from(b.handled.wrapping_sub(a.handled));
    ticks_to_instructions(b.ticks.wrapping_sub(a.ticks))
        .saturating_sub(handled * HANDLER_INSTRUCTIONS)
}

/// Starts the counter with the full period and measures the stamp overhead. Call once, early,
/// with interrupts enabled (the default after reset).
pub fn init() {
    init_with_reload(MAX_RELOAD);
}

/// Like [`init`] but with a shorter period, so that a test can make the counter wrap often and
/// check that wraps are accounted for exactly. `reload` is clamped to `255..=MAX_RELOAD`.
pub fn init_with_reload(reload: u32) {
    let reload = reload.clamp(255, MAX_RELOAD);
    RELOAD.store(reload, Ordering::Relaxed);
    hw::start(reload);
    // The first stamps after start-up may see the counter's initial load; take a few and keep the
    // smallest count, which is the cost of the stamps themselves.
    OVERHEAD.store(0, Ordering::Relaxed);
    let mut best = u64::MAX;
    for _ in 0..4 {
        best = best.min(measure(|| ()).1);
    }
    OVERHEAD.store(best as u32, Ordering::Relaxed);
}

/// Instructions counted for an empty region, already subtracted by
/// [`Stamp::instructions_until`].
pub fn overhead() -> u32 {
    OVERHEAD.load(Ordering::Relaxed)
}

/// Reads the counter.
///
/// Interrupts are masked for the few instructions of the read (and re-enabled afterwards, as this
/// firmware always runs with them enabled) so that the counter value, its pending wrap flag and
/// the handled-wrap count are consistent.
#[inline(never)]
pub fn stamp() -> Stamp {
    let (value, pending, handled) = cortex_m::interrupt::free(|_| {
        let value = hw::value();
        let pending = hw::wrap_pending();
        (value, pending, BFMD_ICOUNT_WRAPS.load(Ordering::Relaxed))
    });
    let reload = RELOAD.load(Ordering::Relaxed);
    let period = u64::from(reload) + 1;
    // Both counters count down and raise their interrupt when they reach 0, then reload. Phase 0 is
    // therefore the first tick of a period, and value `reload` the second.
    let phase = (period - u64::from(value)) % period;
    // A wrap whose interrupt is still pending (masked above) has happened but is not in `handled`
    // yet; it can only be recent, i.e. the phase is small.
    let unseen = u64::from(pending & (phase < period / 2));
    Stamp {
        ticks: (u64::from(handled) + unseen) * period + phase,
        handled,
    }
}

/// Runs `f` and returns its result with the number of instructions it executed.
#[inline(always)]
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let a = stamp();
    let r = f();
    let b = stamp();
    (r, a.instructions_until(b))
}

#[cfg(machine = "an500")]
mod hw {
    //! CMSDK APB timer0 at 0x4000_0000, interrupt IRQ 8 (QEMU `hw/arm/mps2.c`).
    use core::ptr::{read_volatile, write_volatile};

    const BASE: usize = 0x4000_0000;
    const CTRL: *mut u32 = BASE as *mut u32;
    const VALUE: *mut u32 = (BASE + 0x04) as *mut u32;
    const RELOAD: *mut u32 = (BASE + 0x08) as *mut u32;
    const INTSTATUS: *mut u32 = (BASE + 0x0C) as *mut u32;
    const CTRL_ENABLE: u32 = 1 << 0;
    const CTRL_IRQ_ENABLE: u32 = 1 << 3;

    /// The interrupt number of timer0.
    #[derive(Clone, Copy)]
    struct Timer0Irq;
    // SAFETY: 8 is timer0's interrupt number on mps2-an500 and fits the NVIC's range.
    unsafe impl cortex_m::interrupt::InterruptNumber for Timer0Irq {
        fn number(self) -> u16 {
            8
        }
    }

    pub(super) fn start(reload: u32) {
        // SAFETY: timer0's registers are valid MMIO on mps2-an500; nothing else uses the timer.
        unsafe {
            write_volatile(CTRL, 0);
            write_volatile(INTSTATUS, 1);
            write_volatile(RELOAD, reload);
            write_volatile(VALUE, reload);
            cortex_m::peripheral::NVIC::unpend(Timer0Irq);
            cortex_m::peripheral::NVIC::unmask(Timer0Irq);
            write_volatile(CTRL, CTRL_ENABLE | CTRL_IRQ_ENABLE);
        }
    }

    #[inline(always)]
    pub(super) fn value() -> u32 {
        // SAFETY: reading timer0's current value register has no side effects.
        unsafe { read_volatile(VALUE) }
    }

    #[inline(always)]
    pub(super) fn wrap_pending() -> bool {
        // SAFETY: reading timer0's interrupt status register has no side effects.
        unsafe { read_volatile(INTSTATUS) & 1 != 0 }
    }

    // The wrap handler: counts the wrap and clears the timer's interrupt. Eight instructions,
    // `HANDLER_INSTRUCTIONS`; it clobbers only r0 and r1, which the exception entry saved.
    core::arch::global_asm!(
        ".section .text.BfmdTimer0,\"ax\",%progbits",
        ".global BfmdTimer0",
        ".type BfmdTimer0,%function",
        ".thumb_func",
        "BfmdTimer0:",
        "    ldr r0, =BFMD_ICOUNT_WRAPS",
        "    ldr r1, [r0]",
        "    adds r1, r1, #1",
        "    str r1, [r0]",
        "    ldr r0, =0x4000000C",
        "    movs r1, #1",
        "    str r1, [r0]",
        "    bx lr",
        ".ltorg",
        ".size BfmdTimer0, . - BfmdTimer0",
    );
}

#[cfg(machine = "an547")]
mod hw {
    //! SysTick on the core clock (32 MHz on mps3-an547).
    use cortex_m::peripheral::syst::SystClkSource;
    use cortex_m::peripheral::{SCB, SYST};

    pub(super) fn start(reload: u32) {
        // SAFETY: this module is the only user of SysTick in this firmware; stealing gives access
        // to its registers without claiming the other peripherals.
        let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
        syst.disable_counter();
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(reload);
        syst.clear_current();
        SCB::clear_pendst();
        syst.enable_interrupt();
        syst.enable_counter();
    }

    #[inline(always)]
    pub(super) fn value() -> u32 {
        SYST::get_current()
    }

    #[inline(always)]
    pub(super) fn wrap_pending() -> bool {
        SCB::is_pendst_pending()
    }

    // The wrap handler (the `SysTick` symbol overrides cortex-m-rt's default): five instructions,
    // `HANDLER_INSTRUCTIONS`; it clobbers only r0 and r1, which the exception entry saved.
    core::arch::global_asm!(
        ".section .text.SysTick,\"ax\",%progbits",
        ".global SysTick",
        ".type SysTick,%function",
        ".thumb_func",
        "SysTick:",
        "    ldr r0, =BFMD_ICOUNT_WRAPS",
        "    ldr r1, [r0]",
        "    adds r1, r1, #1",
        "    str r1, [r0]",
        "    bx lr",
        ".ltorg",
        ".size SysTick, . - SysTick",
    );
}

/// A [`bfmd_graph::exec::Profiler`] that prints each op's instruction count as
/// `# op <index> <name> <instructions>`.
///
/// The executor calls `now()` before and after each op and then `record()`; the profiler keeps
/// the two stamps so that `record()` converts them exactly (wrap handler runs and the stamp cost
/// subtracted) instead of using the tick difference it is passed. The counts include the
/// profiler's own call (a few instructions per op).
pub struct OpProfiler {
    before: Stamp,
    after: Stamp,
    /// Sum of the per-op counts recorded so far.
    pub total: u64,
}

impl OpProfiler {
    /// A profiler with nothing recorded.
    pub fn new() -> Self {
        let s = stamp();
        OpProfiler {
            before: s,
            after: s,
            total: 0,
        }
    }
}

impl Default for OpProfiler {
    fn default() -> Self {
        Self::new()
    }
}

impl bfmd_graph::exec::Profiler for OpProfiler {
    fn now(&mut self) -> u64 {
        let s = stamp();
        self.before = self.after;
        self.after = s;
        s.ticks()
    }

    fn record(&mut self, op_index: usize, op_name: &'static str, _elapsed: u64) {
        let n = self.before.instructions_until(self.after);
        self.total += n;
        semihosting::println!("# op {} {} {}", op_index, op_name, n);
    }
}
