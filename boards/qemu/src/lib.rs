//! # bfmd-board-qemu
//!
//! Support code for bfmd firmware on QEMU's emulated Arm boards: the interrupt vector table,
//! fault handlers that report and exit, exact instruction counting ([`icount`]), and the
//! semihosting conventions the host side (`cargo xtask sim`, `demo`, `test`) relies on:
//!
//! * output goes to QEMU's stdout through semihosting; lines that carry data start with a keyword
//!   (`output 0 <hex>`, `instructions 0 <n>`) and everything the host compares is between the
//!   markers [`BEGIN`] and [`END`];
//! * the exit status is QEMU's exit status: 0 on success, [`EXIT_FAILURE`] on a reported error,
//!   [`EXIT_FAULT`] on a CPU fault, 101 on a Rust panic (the `semihosting` crate's handler).
//!
//! The machine follows from the target (see `build.rs`): `thumbv7em-none-eabihf` is mps2-an500
//! (Cortex-M7), `thumbv8m.main-none-eabihf` is mps3-an547 (Cortex-M55).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(any(machine = "an500", machine = "an547"))]
pub mod icount;
#[cfg(any(machine = "an500", machine = "an547"))]
pub mod stack;

use core::fmt::Write as _;
use semihosting::io::Write as _;

pub use semihosting;

/// QEMU machine name this firmware was built for.
#[cfg(machine = "an500")]
pub const MACHINE: &str = "mps2-an500";
/// QEMU machine name this firmware was built for.
#[cfg(machine = "an547")]
pub const MACHINE: &str = "mps3-an547";
/// QEMU machine name this firmware was built for (none: not a firmware build).
#[cfg(not(any(machine = "an500", machine = "an547")))]
pub const MACHINE: &str = "host";

/// The core of [`MACHINE`].
#[cfg(machine = "an500")]
pub const CPU: &str = "Cortex-M7";
/// The core of [`MACHINE`].
#[cfg(machine = "an547")]
pub const CPU: &str = "Cortex-M55";
/// The core of [`MACHINE`] (none: not a firmware build).
#[cfg(not(any(machine = "an500", machine = "an547")))]
pub const CPU: &str = "host";

/// Line printed before the results the host parses.
pub const BEGIN: &str = "=== bfmd begin";
/// Line printed after the results the host parses.
pub const END: &str = "=== bfmd end";

/// Exit status for an error the firmware detected and reported.
pub const EXIT_FAILURE: i32 = 1;
/// Exit status for a CPU fault (HardFault or an unexpected exception).
pub const EXIT_FAULT: i32 = 3;

/// Exits QEMU with `code` as its exit status.
pub fn exit(code: i32) -> ! {
    semihosting::process::exit(code)
}

/// Prints `msg` on stderr as `error: <msg>` and exits with [`EXIT_FAILURE`].
pub fn fail(msg: core::fmt::Arguments<'_>) -> ! {
    semihosting::eprintln!("error: {}", msg);
    exit(EXIT_FAILURE)
}

/// Prints `<key> <index> <hex of bytes>` as one line, in chunks so that a large tensor costs few
/// semihosting calls and no big buffer.
pub fn print_hex_line(key: &str, index: usize, bytes: &[u8]) {
    let mut out = semihosting::io::stdout().ok();
    let mut chunk = heapless_line::Line::new();
    let _ = write!(chunk, "{key} {index} ");
    for b in bytes {
        if chunk.remaining() < 3 {
            flush(&mut out, &mut chunk);
        }
        let _ = write!(chunk, "{b:02x}");
    }
    let _ = chunk.write_char('\n');
    flush(&mut out, &mut chunk);
}

fn flush(out: &mut Option<semihosting::io::Stdout>, chunk: &mut heapless_line::Line) {
    if let Some(o) = out.as_mut() {
        let _ = o.write_all(chunk.as_bytes());
    }
    chunk.clear();
}

/// A fixed-capacity text buffer for [`print_hex_line`].
mod heapless_line {
    const CAP: usize = 512;

    /// Up to 512 bytes of text.
    pub struct Line {
        buf: [u8; CAP],
        len: usize,
    }

    impl Line {
        pub const fn new() -> Self {
            Self {
                buf: [0; CAP],
                len: 0,
            }
        }
        pub fn remaining(&self) -> usize {
            CAP - self.len
        }
        pub fn as_bytes(&self) -> &[u8] {
            &self.buf[..self.len]
        }
        pub fn clear(&mut self) {
            self.len = 0;
        }
    }

    impl core::fmt::Write for Line {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let b = s.as_bytes();
            let end = self.len.checked_add(b.len()).ok_or(core::fmt::Error)?;
            if end > CAP {
                return Err(core::fmt::Error);
            }
            self.buf[self.len..end].copy_from_slice(b);
            self.len = end;
            Ok(())
        }
    }
}

/// Reads the host file `path` (relative to QEMU's working directory) into `buf`, which it must
/// fill exactly: a model input has one size.
pub fn read_exact_file(path: &str, buf: &mut [u8]) -> Result<(), FileError> {
    use semihosting::io::Read as _;
    let mut name = [0u8; 256];
    let cpath = c_path(path, &mut name).ok_or(FileError::BadName)?;
    let mut f = semihosting::fs::File::open(cpath).map_err(|_| FileError::Open)?;
    let len = f.metadata().map_err(|_| FileError::Read)?.len();
    if len != buf.len() as u64 {
        return Err(FileError::Size {
            expected: buf.len(),
            actual: len,
        });
    }
    let mut done = 0;
    while done < buf.len() {
        let n = f.read(&mut buf[done..]).map_err(|_| FileError::Read)?;
        if n == 0 {
            return Err(FileError::Read);
        }
        done += n;
    }
    Ok(())
}

fn c_path<'b>(path: &str, buf: &'b mut [u8; 256]) -> Option<&'b core::ffi::CStr> {
    let b = path.as_bytes();
    if b.len() >= buf.len() || b.contains(&0) {
        return None;
    }
    buf[..b.len()].copy_from_slice(b);
    buf[b.len()] = 0;
    core::ffi::CStr::from_bytes_with_nul(&buf[..=b.len()]).ok()
}

/// Why [`read_exact_file`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileError {
    /// The path is longer than 255 bytes or contains a NUL byte.
    BadName,
    /// The host could not open the file.
    Open,
    /// The host could not read the file.
    Read,
    /// The file's size is not the size of the buffer.
    Size {
        /// Bytes the buffer holds.
        expected: usize,
        /// Bytes in the file.
        actual: u64,
    },
}

impl core::fmt::Display for FileError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FileError::BadName => f.write_str("file name too long or contains NUL"),
            FileError::Open => f.write_str("cannot open the file on the host"),
            FileError::Read => f.write_str("cannot read the file on the host"),
            FileError::Size { expected, actual } => {
                write!(f, "file has {actual} bytes, expected {expected}")
            }
        }
    }
}

#[cfg(any(machine = "an500", machine = "an547"))]
mod vectors {
    //! The device part of the vector table and the fault handlers.
    use cortex_m_rt::{exception, ExceptionFrame};

    /// One entry of the interrupt vector table.
    #[repr(C)]
    pub union Vector {
        handler: unsafe extern "C" fn(),
        reserved: usize,
    }

    extern "C" {
        fn DefaultHandler();
        #[cfg(machine = "an500")]
        fn BfmdTimer0();
    }

    #[cfg(machine = "an500")]
    const TIMER0: Vector = Vector {
        handler: BfmdTimer0,
    };
    #[cfg(machine = "an547")]
    const TIMER0: Vector = Vector {
        handler: DefaultHandler,
    };
    const DEFAULT: Vector = Vector {
        handler: DefaultHandler,
    };

    /// IRQ 0..31: only timer0 (IRQ 8 on mps2-an500) is used, for the instruction counter; the
    /// others end the run through `DefaultHandler`.
    #[link_section = ".vector_table.interrupts"]
    #[no_mangle]
    static __INTERRUPTS: [Vector; 32] = {
        let mut v = [DEFAULT; 32];
        v[8] = TIMER0;
        v
    };

    #[exception]
    unsafe fn HardFault(ef: &ExceptionFrame) -> ! {
        semihosting::eprintln!("error: HardFault at pc={:#010x}", ef.pc());
        super::exit(super::EXIT_FAULT)
    }

    #[exception]
    unsafe fn DefaultHandler(irqn: i16) {
        semihosting::eprintln!("error: unexpected exception {}", irqn);
        super::exit(super::EXIT_FAULT)
    }
}
