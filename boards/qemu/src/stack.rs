//! The stack's high-water mark, by painting: [`paint`] fills the stack below the caller's frame
//! with a pattern, [`peak`] finds the lowest word that no longer holds it. What a program
//! reports as its peak stack is every byte between the top of the stack (`_stack_start`) and
//! that word: its own frames, the executor's, the kernels' and the interrupt handlers'.

use core::ptr::{addr_of, read_volatile, write_volatile};

/// The pattern painted on the free stack.
const PAINT: u32 = 0x5AFE_C0DE;

/// Bytes left unpainted below the stack pointer at [`paint`]: the painting function's own frame
/// and a margin.
const MARGIN: usize = 256;

extern "C" {
    /// Lowest address of the stack (cortex-m-rt's `link.x`).
    static _stack_end: u32;
    /// One past the highest address of the stack (the initial stack pointer).
    static _stack_start: u32;
}

fn bounds() -> (usize, usize) {
    // Only the symbols' addresses are taken (the linker defines both).
    (
        addr_of!(_stack_end) as usize,
        addr_of!(_stack_start) as usize,
    )
}

/// Paints the free stack, from its lowest address to [`MARGIN`] bytes below the current stack
/// pointer. Call once, early in `main`.
#[inline(never)]
pub fn paint() {
    let (bottom, _) = bounds();
    let top = (cortex_m::register::msp::read() as usize).saturating_sub(MARGIN) & !3;
    let mut p = bottom;
    while p < top {
        // SAFETY: `[bottom, top)` is the stack's unused part: below every live frame (the
        // current one included, MARGIN bytes up) and above the sections the linker placed below
        // the stack; nothing else writes it while this loop runs (no interrupt is enabled yet).
        unsafe { write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Bytes of stack used since [`paint`]: from the top of the stack down to the lowest word whose
/// paint was overwritten.
pub fn peak() -> usize {
    let (bottom, top) = bounds();
    let mut p = bottom;
    // SAFETY: reads of the stack region between its bounds, word by word.
    while p < top && unsafe { read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    top - p
}
