//! Calibrates the instruction counter: a two-instruction loop of `n` iterations must measure
//! exactly `2n + c` for one constant `c` (the call and return around the loop), with the counter's
//! natural period and with a period so short that the wrap interrupt fires thousands of times.
//! Prints the result for every count (compared with `expected/calibrate.out`; the raw counts are on
//! `#` lines, which the comparison skips) and exits with status 1 if any is off.
#![no_std]
#![no_main]

use bfmd_board_qemu::{icount, semihosting::println, BEGIN, CPU, END, MACHINE};
use cortex_m_rt::entry;

/// Iteration counts; the largest runs 2e7 instructions, several SysTick wraps on mps3-an547.
const COUNTS: [u32; 6] = [1, 2, 10, 1_000, 100_000, 10_000_000];

/// Runs `subs; bne` `n` times (n >= 1): exactly `2n` instructions plus the call and return.
#[inline(never)]
fn spin(n: u32) {
    // SAFETY: the loop only decrements a register it owns and touches no memory.
    unsafe {
        core::arch::asm!(
            "2:",
            "subs {0}, {0}, #1",
            "bne 2b",
            inout(reg) n => _,
            options(nomem, nostack),
        );
    }
}

/// Measures `spin(n)`; not inlined, so that every `n` is measured by the same instructions.
#[inline(never)]
fn measured_spin(n: u32) -> u64 {
    icount::measure(|| spin(n)).1
}

/// Measures every count; true if each is `2n + c` with the same `c` as before.
fn sweep(label: &str, constant: &mut Option<u64>) -> bool {
    let mut ok = true;
    for n in COUNTS {
        let m = measured_spin(n);
        let c = m.wrapping_sub(2 * u64::from(n));
        let expected = *constant.get_or_insert(c);
        // The constant depends on the compiler's code around the loop, so it is printed on an
        // informational (`#`) line that the snapshot comparison skips.
        println!("# {label} n={n} instructions={m}");
        if c == expected {
            println!("{label} n={n}: 2n + c");
        } else {
            println!("{label} n={n}: 2n + {c}, expected 2n + {expected}");
            ok = false;
        }
    }
    ok
}

#[entry]
fn main() -> ! {
    println!("{BEGIN}");
    println!(
        "# calibrate on {MACHINE} ({CPU}), -icount {}",
        icount::QEMU_ICOUNT
    );
    let mut constant = None;
    icount::init();
    let mut ok = sweep("full-period", &mut constant);
    // A 4096-tick period wraps every ~1300 (an500) or ~2000 (an547) instructions.
    icount::init_with_reload(4095);
    ok &= sweep("short-period", &mut constant);
    println!(
        "# c = {}, empty region = {} instruction(s)",
        constant.unwrap_or(0),
        icount::measure(|| ()).1
    );
    println!("{END}");
    if ok {
        println!("calibration exact");
        bfmd_board_qemu::exit(0)
    } else {
        println!("calibration NOT exact");
        bfmd_board_qemu::exit(bfmd_board_qemu::EXIT_FAILURE)
    }
}
