//! The firmware API: a parsed model bound once to its arena, with typed access to every graph
//! input and output, and a `static` arena that a program takes once without `unsafe`.
//!
//! ```
//! use bfmd_graph::builder::{BuildOptions, GraphBuilder, Quant};
//! use bfmd_graph::{Arena, DType, OpKind, Session};
//! use bfmd_kernels::Shape;
//!
//! let mut b = GraphBuilder::new();
//! let x = b.input("x", Shape::new(1, 1, 1, 4), DType::F32, Quant::NONE)?;
//! let y = b.unary("y", OpKind::Relu, x, Quant::NONE)?;
//! b.output(y)?;
//! let built = b.finish(BuildOptions::default())?;
//!
//! let mut arena = Arena::<16>::new();
//! let mut s: Session<'_, '_> = Session::new(built.blob.as_bytes(), arena.as_mut_slice())?;
//! assert_eq!(s.input_info(0)?.shape, Shape::new(1, 1, 1, 4));
//! s.input_as::<f32>(0)?.copy_from_slice(&[-1.0, 2.0, -3.0, 4.0]);
//! s.run()?;
//! assert_eq!(s.output_as::<f32>(0)?, [0.0, 2.0, 0.0, 4.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::elem::Element;
use crate::error::{GraphError, Result};
use crate::exec::{self, Profiler};
use crate::format::{Model, TensorInfo};
use crate::opset::{AllOps, Linked};
use core::marker::PhantomData;

/// A model parsed for the kernels of `L` and bound to an arena that holds its plan.
///
/// [`Session::new`] checks the blob (with [`Model::parse_for::<L>`]) and the arena's size and
/// alignment once; after that [`Session::run`] cannot fail on either. In a firmware `L` is the
/// `model::Ops` type the build step generates, so only the model's kernels are linked; on a
/// host the default [`AllOps`] takes any model.
pub struct Session<'m, 'a, L: Linked = AllOps> {
    model: Model<'m>,
    arena: &'a mut [u8],
    linked: PhantomData<L>,
}

impl<'m, 'a, L: Linked> Session<'m, 'a, L> {
    /// Parses `blob` for the kernels of `L` and binds it to `arena` (at least the plan's
    /// arena bytes, 16-byte aligned: an [`crate::Arena`] is), with [`crate::Limits::HOST`]'s
    /// work limits; a plan needing more than `arena` (a firmware's compiled `ARENA_BYTES`) is
    /// [`GraphError::ArenaTooSmall`].
    pub fn new(blob: &'m [u8], arena: &'a mut [u8]) -> Result<Self> {
        let model = Model::parse_for::<L>(blob)?;
        Self::bind(model, arena)
    }

    /// Binds an already parsed model (parsed with [`Model::parse_for::<L>`] or for a superset
    /// of `L`; an op outside `L` then fails when it runs) to `arena`.
    pub fn bind(model: Model<'m>, arena: &'a mut [u8]) -> Result<Self> {
        exec::check_arena(&model, arena)?;
        Ok(Session {
            model,
            arena,
            linked: PhantomData,
        })
    }

    /// The parsed model.
    pub fn model(&self) -> &Model<'m> {
        &self.model
    }

    /// Number of graph inputs.
    pub fn input_count(&self) -> usize {
        self.model.input_count()
    }

    /// Number of graph outputs.
    pub fn output_count(&self) -> usize {
        self.model.output_count()
    }

    /// Graph input `i`'s record: shape, dtype, scale and zero point (`real = scale * (q -
    /// zero_point)` for int8).
    pub fn input_info(&self, i: usize) -> Result<TensorInfo> {
        let t = self.model.input_tensor(i)?;
        self.model.tensor(t).ok_or(GraphError::Io {
            what: "no such tensor",
            index: i,
        })
    }

    /// Graph output `i`'s record: shape, dtype, scale and zero point.
    pub fn output_info(&self, i: usize) -> Result<TensorInfo> {
        let t = self.model.output_tensor(i)?;
        self.model.tensor(t).ok_or(GraphError::Io {
            what: "no such tensor",
            index: i,
        })
    }

    /// The bytes of graph input `i`, to fill before every [`Session::run`] (an op may reuse
    /// an input's bytes once nothing reads them).
    pub fn input(&mut self, i: usize) -> Result<&mut [u8]> {
        self.model.input_mut(self.arena, i)
    }

    /// Graph input `i` as elements of `T` (`Err` when `T` is not its dtype).
    pub fn input_as<T: Element>(&mut self, i: usize) -> Result<&mut [T]> {
        self.model.input_mut_as::<T>(self.arena, i)
    }

    /// The bytes of graph output `i`, valid after [`Session::run`].
    pub fn output(&self, i: usize) -> Result<&[u8]> {
        self.model.output(self.arena, i)
    }

    /// Graph output `i` as elements of `T` (`Err` when `T` is not its dtype).
    pub fn output_as<T: Element>(&self, i: usize) -> Result<&[T]> {
        self.model.output_as::<T>(self.arena, i)
    }

    /// Runs the model once over the inputs written since the last run.
    pub fn run(&mut self) -> Result<()> {
        exec::run_checked::<L>(&self.model, self.arena, None)
    }

    /// [`Session::run`] with `profiler` told each op's time.
    pub fn run_profiled(&mut self, profiler: &mut dyn Profiler) -> Result<()> {
        exec::run_checked::<L>(&self.model, self.arena, Some(profiler))
    }
}

/// The storage behind [`static_arena!`]: an [`crate::Arena`] in a `static`, handed out once.
#[doc(hidden)]
pub struct ArenaCell<const N: usize> {
    arena: core::cell::UnsafeCell<crate::Arena<N>>,
}

// SAFETY: the only access is through `ArenaCell::take_with`, which hands out the one `&mut`
// under a flag that a single atomic swap sets (see `static_arena!`).
unsafe impl<const N: usize> Sync for ArenaCell<N> {}

impl<const N: usize> ArenaCell<N> {
    /// A zeroed arena (the bytes may also live in a section the start-up code does not zero:
    /// the executor writes every activation before it reads it).
    #[doc(hidden)]
    pub const fn new() -> Self {
        ArenaCell {
            arena: core::cell::UnsafeCell::new(crate::Arena::new()),
        }
    }

    /// The arena, the first time `flag` is taken.
    ///
    /// # Safety
    /// `flag` must be this cell's own flag, used for no other cell and taken nowhere else (the
    /// macro declares both side by side in one block).
    #[doc(hidden)]
    #[cfg(target_has_atomic = "8")]
    // The `&mut` comes out of the `UnsafeCell` under the flag, once.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn take_with(
        &'static self,
        flag: &'static core::sync::atomic::AtomicBool,
    ) -> Option<&'static mut crate::Arena<N>> {
        if flag.swap(true, core::sync::atomic::Ordering::AcqRel) {
            return None;
        }
        // SAFETY: the swap returned `false` once for this flag, which belongs to this cell only
        // (the caller's contract), so no other reference to the arena exists or will.
        Some(unsafe { &mut *self.arena.get() })
    }
}

/// A `static` [`crate::Arena`] of `$n` bytes, taken once: `Some(&'static mut Arena<$n>)` the
/// first time the expression runs, `None` after (the `StaticCell` idiom, without `unsafe` in
/// the program). The static is exported as `BFMD_ARENA` (what `cargo xtask size` reads);
/// `section = "..."` places it in a linker section of the board's `memory.x` (for example a
/// `NOLOAD` section in another RAM). Needs atomic swaps (not on Cortex-M0/M0+).
///
/// ```text
/// let arena = bfmd_graph::static_arena!(model::ARENA_BYTES).expect("taken once");
/// let mut net = bfmd_graph::Session::<model::Ops>::new(model::BLOB.as_slice(), arena.as_mut_slice())?;
/// ```
#[macro_export]
macro_rules! static_arena {
    ($n:expr) => {{
        #[export_name = "BFMD_ARENA"]
        static BFMD_ARENA: $crate::session::ArenaCell<{ $n }> = $crate::session::ArenaCell::new();
        static TAKEN: ::core::sync::atomic::AtomicBool =
            ::core::sync::atomic::AtomicBool::new(false);
        // SAFETY: `TAKEN` is declared for this cell alone, in this block.
        unsafe { BFMD_ARENA.take_with(&TAKEN) }
    }};
    ($n:expr, section = $section:literal) => {{
        #[export_name = "BFMD_ARENA"]
        #[link_section = $section]
        static BFMD_ARENA: $crate::session::ArenaCell<{ $n }> = $crate::session::ArenaCell::new();
        static TAKEN: ::core::sync::atomic::AtomicBool =
            ::core::sync::atomic::AtomicBool::new(false);
        // SAFETY: `TAKEN` is declared for this cell alone, in this block.
        unsafe { BFMD_ARENA.take_with(&TAKEN) }
    }};
}

/// A graph input or output as the build step describes it in the generated `model.rs`: what a
/// program needs to feed or read the tensor without parsing the blob.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IoSpec {
    /// NHWC dimensions (a rank-2 `[batch, features]` tensor is `[batch, 1, 1, features]`).
    pub shape: [usize; 4],
    /// Element type.
    pub dtype: crate::DType,
    /// Quantization scale (`real = scale * (q - zero_point)`; 1.0 for float tensors).
    pub scale: f32,
    /// Quantization zero point (0 for float tensors).
    pub zero_point: i32,
    /// Bytes of the tensor.
    pub bytes: usize,
}
