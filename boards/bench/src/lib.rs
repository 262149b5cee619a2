//! # bfmd-board-bench
//!
//! Two QEMU programs for the emulated Cortex-M7 (mps2-an500) and Cortex-M55 (mps3-an547), built on
//! `bfmd-board-qemu` (instruction counting, semihosting, markers and exit codes):
//!
//! * `shapes`: the kernel shapes of `../shared/BENCH.md`, each run through the dispatcher (the
//!   path this build selected) and through the portable loop, with exact instruction counts; the
//!   two outputs must be identical. `cargo xtask bench` parses its `shape` lines.
//! * `battery`: the int8 kernel battery on the target: every dispatcher against the portable loop
//!   over the cases of the host batteries (odd channels, stride 2, asymmetric padding, 1x1 spatial,
//!   channel multiplier, groups, dilation, extreme quantization, error cases and a seeded random
//!   sweep). The host cannot execute DSP instructions, so this is where the DSP paths are proven
//!   bit-identical; `cargo xtask test` runs it for both cores.
//!
//! This library holds what both programs share: a seeded generator, a heap for test tensors and
//! the BENCH.md quantization.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};

pub use bfmd_board_qemu as board;

/// SplitMix64, the generator of the host batteries (`bfmd-kernels/tests/common`), so that a seed
/// means the same tensors on the host and on the target.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform integer in `lo..=hi`.
    pub fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi - lo + 1) as u64;
        lo + (self.next_u64() % span) as i64
    }

    /// Uniform `usize` in `lo..=hi`.
    pub fn range_usize(&mut self, lo: usize, hi: usize) -> usize {
        self.range_i64(lo as i64, hi as i64) as usize
    }

    /// Uniform `f32` in `[lo, hi)`.
    pub fn f32(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }

    /// Fills `dst` with uniform int8 values.
    pub fn fill_i8(&mut self, dst: &mut [i8]) {
        for d in dst {
            *d = self.next_u64() as i8;
        }
    }

    /// Fills `dst` with uniform values in `lo..=hi`.
    pub fn fill_i32(&mut self, dst: &mut [i32], lo: i32, hi: i32) {
        for d in dst {
            *d = self.range_i64(lo as i64, hi as i64) as i32;
        }
    }
}

/// A bump allocator over a memory region the linker does not use (PSRAM on mps2-an500, SRAM2 on
/// mps3-an547). Nothing is freed until [`reset`], which a program calls between test cases when
/// no allocation is alive.
struct Bump;

/// Next free byte, as an offset from the heap's base.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The heap region `(base, bytes)` of the machine this firmware runs on.
fn heap() -> (usize, usize) {
    match board::MACHINE {
        "mps2-an500" => (0x6000_0000, 16 << 20),
        // SRAM2 holds the model blob of the `infer` program; these programs have none.
        "mps3-an547" => (0x2100_0000, 4 << 20),
        _ => (0, 0),
    }
}

// SAFETY: `alloc` hands out disjoint, aligned ranges of a region nothing else uses (an atomic
// bump pointer, so even a re-entrant call cannot hand out a range twice); `dealloc` frees nothing.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let (base, size) = heap();
        let mut cur = NEXT.load(Ordering::Relaxed);
        loop {
            let start = (base + cur).next_multiple_of(layout.align().max(4)) - base;
            let end = match start.checked_add(layout.size()) {
                Some(e) if e <= size => e,
                _ => return core::ptr::null_mut(),
            };
            match NEXT.compare_exchange(cur, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return (base + start) as *mut u8,
                Err(now) => cur = now,
            }
        }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOCATOR: Bump = Bump;

/// Frees every allocation at once. Call only when no `Vec` or `Box` from earlier is alive.
pub fn reset_heap() {
    NEXT.store(0, Ordering::Relaxed);
}

/// Bytes handed out since the last [`reset_heap`].
pub fn heap_used() -> usize {
    NEXT.load(Ordering::Relaxed)
}

/// BENCH.md's activation quantization: input zero point -128 (input offset 128), output zero
/// point -128, no fused activation (clamp [-128, 127]).
pub mod bench_quant {
    /// Input zero point.
    pub const INPUT_ZERO_POINT: i32 = -128;
    /// Output zero point.
    pub const OUTPUT_ZERO_POINT: i32 = -128;
}
