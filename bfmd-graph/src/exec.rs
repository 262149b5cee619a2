//! The executor: runs a parsed model's ops in order over one arena, with the variant (normal,
//! in place, overlapping) the planner recorded for each op.
//!
//! Borrowing without `unsafe`: for each op the arena is split ("carved") into the op's mutable
//! regions (its outputs and scratch, or for an in-place op the overwritten input) and the
//! read-only gaps between them. [`Model::parse`] proved that inputs never overlap those mutable
//! regions except as the recorded variant allows, so every input is found inside one gap.

use crate::elem::{cast, cast_mut, Element};
use crate::error::{GraphError, Result};
use crate::format::{Model, OpRecord, Region, TensorInfo, ALIGN, MAX_OP_OUTPUTS};
use crate::ops::{DType, OpKind, TensorKind, Variant};
use crate::opset::{AllOps, Form, Linked};
use bfmd_kernels::Shape;

/// Most mutable regions one op carves out of the arena: its outputs and its scratch.
const MAX_MUT: usize = MAX_OP_OUTPUTS + 1;

/// A timing hook: boards plug in a DWT cycle counter, QEMU an instruction counter, the host a
/// clock.
pub trait Profiler {
    /// The current time in any monotonic unit (cycles, instructions, nanoseconds).
    fn now(&mut self) -> u64;
    /// Called after each op with its index, its name and `now()` after minus `now()` before.
    fn record(&mut self, op_index: usize, op_name: &'static str, elapsed: u64);
}

/// The arena split for one op: mutable regions and the read-only gaps between them.
pub(crate) struct Carved<'a> {
    muts: heapless::Vec<(Region, &'a mut [u8]), MAX_MUT>,
    gaps: heapless::Vec<(usize, &'a [u8]), { MAX_MUT + 1 }>,
}

/// Bytes of executor state kept on the stack while an op runs: the carved arena, the list of
/// regions to carve, and the largest per-op state (a concatenation's inputs, a split's outputs
/// and sizes, or a row-streamed convolution's geometry and per-row parameters). Counted by
/// [`Model::ram_bytes`]; the kernels' own frames (scalars and loop state, no arrays) and the
/// caller's frames are not.
pub const EXEC_STATE_BYTES: usize = {
    use core::mem::size_of;
    let concat =
        size_of::<heapless::Vec<(&'static [u8], Shape), { crate::format::MAX_OP_INPUTS }>>();
    let split = size_of::<heapless::Vec<&'static mut [u8], MAX_OP_OUTPUTS>>()
        + size_of::<heapless::Vec<usize, MAX_OP_OUTPUTS>>();
    let rows = 2 * size_of::<bfmd_kernels::ConvGeometry>()
        + size_of::<bfmd_kernels::s8::conv::ConvS8Params<'static>>();
    let lists = if concat > split { concat } else { split };
    size_of::<Carved<'static>>()
        + size_of::<heapless::Vec<Region, MAX_MUT>>()
        + if lists > rows { lists } else { rows }
};

impl<'a> Carved<'a> {
    /// Nothing carved yet.
    fn empty() -> Self {
        Carved {
            muts: heapless::Vec::new(),
            gaps: heapless::Vec::new(),
        }
    }

    /// Splits `arena` at the given disjoint regions (any order; empty regions are skipped),
    /// in place: the carved lists are a few hundred bytes, and building them where the op's
    /// view lives saves moving them per op (about 400 instructions per op on a Cortex-M7).
    fn split(
        &mut self,
        arena: &'a mut [u8],
        regions: &mut heapless::Vec<Region, MAX_MUT>,
    ) -> Option<()> {
        regions.retain(|r| r.len > 0);
        // Insertion sort: at most MAX_MUT regions, and no `core::slice::sort` in firmware
        // (its quicksort costs about 7 KB of flash).
        for i in 1..regions.len() {
            let mut j = i;
            while j > 0 && regions[j - 1].start > regions[j].start {
                regions.swap(j - 1, j);
                j -= 1;
            }
        }
        let (muts, gaps) = (&mut self.muts, &mut self.gaps);
        muts.clear();
        gaps.clear();
        let mut rest = arena;
        let mut base = 0usize;
        for r in regions.iter() {
            let gap_len = r.start.checked_sub(base)?;
            if rest.len() < gap_len + r.len {
                return None;
            }
            let (gap, tail) = rest.split_at_mut(gap_len);
            let (m, tail) = tail.split_at_mut(r.len);
            gaps.push((base, &*gap)).ok()?;
            muts.push((*r, m)).ok()?;
            base = r.end();
            rest = tail;
        }
        gaps.push((base, &*rest)).ok()?;
        Some(())
    }

    /// The read-only bytes of `r`, which must lie inside one gap.
    fn read(&self, r: Region) -> Option<&'a [u8]> {
        for &(start, gap) in self.gaps.iter() {
            if r.start >= start && r.end() <= start + gap.len() {
                return gap.get(r.start - start..r.end() - start);
            }
        }
        None
    }

    /// Takes the mutable region `r` (exactly as carved).
    fn take(&mut self, r: Region) -> Option<&'a mut [u8]> {
        if r.len == 0 {
            return Some(&mut []);
        }
        let i = self.muts.iter().position(|(m, _)| *m == r)?;
        Some(self.muts.swap_remove(i).1)
    }
}

/// One op's view of its tensors while it runs.
pub(crate) struct OpIo<'m, 'a> {
    pub(crate) model: &'m Model<'m>,
    pub(crate) op: OpRecord<'m>,
    carved: Carved<'a>,
    shared: Region,
}

impl<'m, 'a> OpIo<'m, 'a> {
    pub(crate) fn err(&self, what: &'static str) -> GraphError {
        GraphError::op(self.op.index, self.op.kind, what)
    }

    /// The error for a kernel this program does not link (parse refuses such models first).
    pub(crate) fn not_linked(&self, kind: OpKind, dtype: DType, form: Form) -> GraphError {
        GraphError::NotLinked {
            op: self.op.index,
            kind,
            dtype,
            form,
        }
    }

    pub(crate) fn kernel<T>(&self, r: bfmd_kernels::Result<T>) -> Result<T> {
        r.map_err(|error| GraphError::Kernel {
            op: self.op.index,
            kind: self.op.kind,
            error,
        })
    }

    fn tensor(&self, t: usize) -> Result<TensorInfo> {
        self.model
            .tensor(t)
            .ok_or(self.err("tensor index out of range"))
    }

    /// Decoded record of input slot `i`.
    pub(crate) fn in_info(&self, i: usize) -> Result<TensorInfo> {
        let t = self
            .op
            .input(i)
            .ok_or(self.err("a required input is absent"))?;
        self.tensor(t)
    }

    /// Decoded record of output `k`.
    pub(crate) fn out_info(&self, k: usize) -> Result<TensorInfo> {
        self.tensor(self.op.output(k))
    }

    /// Shape of input slot `i`.
    pub(crate) fn in_shape(&self, i: usize) -> Result<Shape> {
        Ok(self.in_info(i)?.shape)
    }

    /// Shape of output `k`.
    pub(crate) fn out_shape(&self, k: usize) -> Result<Shape> {
        Ok(self.out_info(k)?.shape)
    }

    /// Input slot `i` as elements of `T`, `None` when the slot is absent.
    pub(crate) fn opt_input<T: Element>(&self, i: usize) -> Result<Option<&'a [T]>>
    where
        'm: 'a,
    {
        let Some(t) = self.op.input(i) else {
            return Ok(None);
        };
        let info = self.tensor(t)?;
        let bytes: &'a [u8] = match info.kind {
            TensorKind::Constant => self.model.constant(t),
            TensorKind::Activation => self
                .carved
                .read(info.region)
                .ok_or(self.err("input overlaps a region the op writes"))?,
        };
        if info.dtype != T::DTYPE {
            return Err(self.err("input dtype differs from the kernel's"));
        }
        cast(bytes).map(Some).ok_or(GraphError::Misaligned {
            what: "op input",
            align: core::mem::align_of::<T>(),
        })
    }

    /// Required input slot `i` as elements of `T`.
    pub(crate) fn input<T: Element>(&self, i: usize) -> Result<&'a [T]>
    where
        'm: 'a,
    {
        self.opt_input(i)?
            .ok_or(self.err("a required input is absent"))
    }

    /// Output `k` as elements of `T` (each output can be taken once).
    pub(crate) fn output<T: Element>(&mut self, k: usize) -> Result<&'a mut [T]> {
        let info = self.out_info(k)?;
        if info.dtype != T::DTYPE {
            return Err(self.err("output dtype differs from the kernel's"));
        }
        let bytes = self
            .carved
            .take(info.region)
            .ok_or(self.err("output region was not carved"))?;
        cast_mut(bytes).ok_or(GraphError::Misaligned {
            what: "op output",
            align: core::mem::align_of::<T>(),
        })
    }

    /// The buffer an in-place or overlapping op overwrites, with the offsets (in elements of
    /// `T`) of input 0 and output 0 inside it.
    pub(crate) fn shared<T: Element>(&mut self) -> Result<(&'a mut [T], usize, usize)> {
        let r = self.shared;
        let size = core::mem::size_of::<T>();
        let in_slot = match self.op.variant {
            Variant::InPlace { input } => input as usize,
            _ => 0,
        };
        let (i, o) = (self.in_info(in_slot)?, self.out_info(0)?);
        if i.dtype != T::DTYPE || o.dtype != T::DTYPE {
            return Err(self.err("dtype differs from the kernel's"));
        }
        let bytes = self
            .carved
            .take(r)
            .ok_or(self.err("shared region was not carved"))?;
        let buf = cast_mut(bytes).ok_or(GraphError::Misaligned {
            what: "in-place buffer",
            align: core::mem::align_of::<T>(),
        })?;
        let rel = |start: usize| {
            start
                .checked_sub(r.start)
                .map(|d| d / size)
                .ok_or(self.err("tensor lies outside the shared buffer"))
        };
        Ok((buf, rel(i.region.start)?, rel(o.region.start)?))
    }

    /// The op's scratch bytes.
    pub(crate) fn scratch(&mut self) -> Result<&'a mut [u8]> {
        let r = self.op.scratch;
        self.carved
            .take(r)
            .ok_or(self.err("scratch region was not carved"))
    }
}

/// Runs every op of `model` over `arena` (at least [`Model::arena_bytes`] long, 16-byte
/// aligned: an [`crate::Arena`] is). Graph inputs must have been written with
/// [`Model::input_mut`]; outputs are read with [`Model::output`] afterwards.
///
/// Links every kernel (see [`run_linked`] for a program that runs known models).
pub fn run(model: &Model<'_>, arena: &mut [u8], profiler: Option<&mut dyn Profiler>) -> Result<()> {
    run_linked::<AllOps>(model, arena, profiler)
}

/// [`run`] compiled for the kernels of `L` only: an op outside [`Linked::OPS`] fails with
/// [`GraphError::NotLinked`] (a model parsed with [`Model::parse_for::<L>`] has none), and
/// the kernels of every other (kind, dtype, form) are not part of the program.
pub fn run_linked<L: Linked>(
    model: &Model<'_>,
    arena: &mut [u8],
    profiler: Option<&mut dyn Profiler>,
) -> Result<()> {
    check_arena(model, arena)?;
    run_checked::<L>(model, arena, profiler)
}

/// [`run_linked`] on an arena [`check_arena`] accepted (a [`crate::Session`] checks it once,
/// when it binds the model).
pub(crate) fn run_checked<L: Linked>(
    model: &Model<'_>,
    arena: &mut [u8],
    mut profiler: Option<&mut dyn Profiler>,
) -> Result<()> {
    for op in model.ops() {
        let t0 = match profiler.as_mut() {
            Some(p) => p.now(),
            None => 0,
        };
        run_op::<L>(model, op, arena)?;
        if let Some(p) = profiler.as_mut() {
            let t1 = p.now();
            p.record(op.index, op.kind.name(), t1.wrapping_sub(t0));
        }
    }
    Ok(())
}

/// `Err` unless `arena` holds `model`'s plan: at least its arena bytes, 16-byte aligned.
pub(crate) fn check_arena(model: &Model<'_>, arena: &[u8]) -> Result<()> {
    if arena.len() < model.arena_bytes() {
        return Err(GraphError::ArenaTooSmall {
            needed: model.arena_bytes(),
            got: arena.len(),
        });
    }
    if (arena.as_ptr() as usize) % ALIGN != 0 {
        return Err(GraphError::Misaligned {
            what: "arena",
            align: ALIGN,
        });
    }
    Ok(())
}

fn run_op<'m, L: Linked>(model: &'m Model<'m>, op: OpRecord<'m>, arena: &mut [u8]) -> Result<()> {
    if op.kind == OpKind::Reshape {
        // A view: parse checked that output and input share one region.
        return Ok(());
    }
    let err = |what| GraphError::op(op.index, op.kind, what);
    let region = |t: usize| -> Result<Region> {
        model
            .tensor(t)
            .map(|i| i.region)
            .ok_or(err("tensor index out of range"))
    };
    let mut regions: heapless::Vec<Region, MAX_MUT> = heapless::Vec::new();
    let mut shared = Region { start: 0, len: 0 };
    match op.variant {
        Variant::Normal => {
            for k in 0..op.num_outputs() {
                regions
                    .push(region(op.output(k))?)
                    .map_err(|_| err("too many outputs"))?;
            }
        }
        Variant::InPlace { input } => {
            let t = op
                .input(input as usize)
                .ok_or(err("in-place input absent"))?;
            shared = region(t)?;
            let _ = regions.push(shared);
        }
        Variant::Overlapping => {
            let i = region(op.input(0).ok_or(err("input absent"))?)?;
            let o = region(op.output(0))?;
            let start = i.start.min(o.start);
            shared = Region {
                start,
                len: i.end().max(o.end()) - start,
            };
            let _ = regions.push(shared);
        }
    }
    regions
        .push(op.scratch)
        .map_err(|_| err("too many outputs"))?;
    let mut io = OpIo {
        model,
        op,
        carved: Carved::empty(),
        shared,
    };
    io.carved
        .split(arena, &mut regions)
        .ok_or(err("regions overlap or leave the arena"))?;
    crate::dispatch::dispatch::<L>(&mut io)
}
