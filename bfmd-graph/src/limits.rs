//! Bounds on what a model may ask for: arena bytes, work per op and per inference, elements per
//! tensor. [`crate::Model::parse_with_limits`] checks them before anything is allocated or run,
//! so a small hostile blob (a 224-byte max pooling over a 4096x4096 input with a 2048x2048
//! window declares about 1.8e13 window taps) is rejected at once instead of running for hours.
//!
//! The work of an op is computed from its geometry (see [`crate::format::OpRecord`] and
//! `validate::op_work`): multiply-accumulates for convolutions and fully connected layers,
//! window taps for pooling, and for every other op the elements it reads and writes.

/// The most a model may ask for; see [`Limits::HOST`] for the defaults [`crate::Model::parse`]
/// uses.
///
/// A firmware knows its arena at compile time and can tighten the arena bound:
/// `Limits::HOST.with_arena_bytes(ARENA_BYTES)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Limits {
    /// Most arena bytes (activations and op scratch, as planned).
    pub max_arena_bytes: usize,
    /// Most work one op may do: multiply-accumulates, window taps or element operations.
    pub max_op_work: u64,
    /// Most work of one inference (the sum over the ops).
    pub max_total_work: u64,
    /// Most elements of one tensor (activation or constant).
    pub max_tensor_elements: usize,
}

impl Limits {
    /// Defaults generous for a host: 1 GiB of arena, 10^12 operations per op and per
    /// inference (tens of minutes of a host core; the largest test model, Inception v3 at
    /// 299x299, does 5.7e9), 2^28 elements per tensor.
    pub const HOST: Limits = Limits {
        max_arena_bytes: 1 << 30,
        max_op_work: 1_000_000_000_000,
        max_total_work: 1_000_000_000_000,
        max_tensor_elements: 1 << 28,
    };

    /// No bound at all: for the builder's check of its own output (the caller applies its
    /// limits afterwards) and for tests.
    pub const NONE: Limits = Limits {
        max_arena_bytes: usize::MAX,
        max_op_work: u64::MAX,
        max_total_work: u64::MAX,
        max_tensor_elements: usize::MAX,
    };

    /// These limits with the arena bound set to `bytes` (a firmware's `ARENA_BYTES`).
    pub const fn with_arena_bytes(self, bytes: usize) -> Limits {
        Limits {
            max_arena_bytes: bytes,
            ..self
        }
    }

    /// These limits with both work bounds (per op and per inference) set to `ops`.
    pub const fn with_work(self, ops: u64) -> Limits {
        Limits {
            max_op_work: ops,
            max_total_work: ops,
            ..self
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::HOST
    }
}
