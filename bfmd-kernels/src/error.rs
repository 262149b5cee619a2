//! The one error type of the kernels.

use core::fmt;

/// What a kernel found wrong with its arguments.
///
/// Every variant names the offending argument so that the graph layer can report
/// "op 12 (DEPTHWISE_CONV_2D): filter has 27 elements, expected 72" instead of a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// A buffer's length does not match the length its shape implies.
    BufferLength {
        /// Which argument (`"input"`, `"filter"`, `"bias"`, `"output"`, `"scratch"`, ...).
        what: &'static str,
        /// Number of elements (or bytes, for scratch) the shape requires.
        expected: usize,
        /// Number of elements (or bytes) passed.
        got: usize,
    },
    /// Two dimensions that must agree do not.
    DimMismatch {
        /// Which dimension (`"output height"`, `"input channels"`, ...).
        what: &'static str,
        /// The value implied by the other arguments.
        expected: usize,
        /// The value passed.
        got: usize,
    },
    /// A parameter is outside the range the op supports (zero stride, zero groups, ...).
    BadParam {
        /// Which parameter.
        what: &'static str,
        /// The value passed (saturated to `i64`).
        value: i64,
    },
    /// A valid combination that this kernel does not implement.
    Unsupported(&'static str),
}

/// Result alias used by every kernel.
pub type Result<T> = core::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BufferLength {
                what,
                expected,
                got,
            } => {
                write!(f, "{what} has {got} elements, expected {expected}")
            }
            Error::DimMismatch {
                what,
                expected,
                got,
            } => {
                write!(f, "{what} is {got}, expected {expected}")
            }
            Error::BadParam { what, value } => write!(f, "bad {what}: {value}"),
            Error::Unsupported(what) => write!(f, "unsupported: {what}"),
        }
    }
}

/// Returns [`Error::BufferLength`] unless `got == expected`.
#[inline]
pub fn check_len(what: &'static str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::BufferLength {
            what,
            expected,
            got,
        })
    }
}

/// Returns [`Error::BufferLength`] unless `got >= expected` (scratch buffers may be larger).
#[inline]
pub fn check_min_len(what: &'static str, expected: usize, got: usize) -> Result<()> {
    if got >= expected {
        Ok(())
    } else {
        Err(Error::BufferLength {
            what,
            expected,
            got,
        })
    }
}

/// Returns [`Error::DimMismatch`] unless `got == expected`.
#[inline]
pub fn check_dim(what: &'static str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::DimMismatch {
            what,
            expected,
            got,
        })
    }
}
