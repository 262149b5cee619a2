//! The memory planner: liveness-based greedy placement (TFLM's `GreedyMemoryPlanner`) plus
//! in-place and overlapping placements where a kernel variant allows them.
//!
//! It runs without allocation, in caller-provided slices, so the same code plans on the host
//! (called by the builder) and could re-plan on a device.
//!
//! * **Liveness**: a tensor lives from the op that defines it (graph inputs: from the start) to
//!   the last op that reads it (graph outputs: to the end); an op's scratch lives during its op.
//! * **Storage groups**: a `Reshape` output always shares its input's storage (a view). When an
//!   op has an in-place or overlapping variant and its input dies at the op (every tensor sharing
//!   that storage is last read there and none is a graph output), its output may join the
//!   input's storage, at the same start or, for the overlapping 1x1 convolution, `shift` bytes
//!   below it.
//! * **Placement**: storage groups and scratch buffers are placed one by one at the lowest
//!   16-byte aligned offset that does not collide with an already placed buffer whose lifetime
//!   overlaps (TFLM `greedy_memory_planner.cc`, with its `kBufferAlignment` of 16). TFLM places
//!   largest first; that order can strand a small early buffer (a graph input) above a large
//!   group that would have fitted beside it, so with in-place decisions the planner also tries
//!   first-use order (the smaller of simultaneous items first) and keeps the smaller arena.
//! * **Choosing**: [`plan`] with `in_place` first plans without in-place decisions (the
//!   TFLM-style size), then sweeps the candidate ops in execution order, keeping a decision
//!   only if the arena does not grow and dropping one only if that shrinks it, until a sweep
//!   changes nothing; the result is never larger than the plain greedy plan.

use crate::error::{GraphError, Result};
use crate::format::{Region, ALIGN};
use crate::ops::{Variant, NO_TENSOR};

/// What the planner needs to know about one tensor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanTensor {
    /// Size in bytes.
    pub bytes: usize,
    /// `true` for arena tensors; constants are ignored.
    pub activation: bool,
    /// Written by the caller before the run: live from the start.
    pub graph_input: bool,
    /// Read by the caller after the run: live to the end, never overwritten in place.
    pub graph_output: bool,
}

/// Which placements of output 0 relative to an input an op's kernels support.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Alias {
    /// Output disjoint from the inputs.
    #[default]
    None,
    /// The output is a view of input 0 (a reshape): always shared, never a choice.
    View,
    /// The output may start where one of the inputs in the bit mask `slots` starts (bit `i`
    /// for input slot `i`), overwriting it; the kernel then needs `scratch` bytes instead of
    /// the op's normal scratch.
    InPlace {
        /// Bit mask of input slots that may be overwritten.
        slots: u8,
        /// Scratch bytes of the in-place kernel.
        scratch: usize,
    },
    /// The output may start `shift` bytes below input 0 (which lies inside the output's
    /// storage; the 1x1 convolution's overlapping kernel); the kernel then needs `scratch`
    /// bytes.
    Overlap {
        /// Bytes by which the output starts below the input.
        shift: usize,
        /// Scratch bytes of the overlapping kernel.
        scratch: usize,
    },
    /// Like [`Alias::Overlap`], for a convolution computed row by row over its input (any
    /// window; the output's rows stay below the input rows still to be read). Its decisions are
    /// made after every other candidate's: taken early, the long storage chains they build
    /// (the input image, the stem's output, the next block...) can block larger gains later.
    Rows {
        /// Bytes by which the output starts below the input.
        shift: usize,
        /// Scratch bytes of the row-streamed convolution.
        scratch: usize,
    },
}

/// What the planner needs to know about one op.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlanOp<'a> {
    /// Input tensor indices ([`NO_TENSOR`] for an absent optional input).
    pub inputs: &'a [u16],
    /// Output tensor indices.
    pub outputs: &'a [u16],
    /// Scratch bytes of the normal (out-of-place) kernel.
    pub scratch: usize,
    /// The placements the op's kernels support.
    pub alias: Alias,
}

/// The planner's working state and result for one tensor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TensorSlot {
    /// Planned arena offset (activations only).
    pub offset: usize,
    /// First op index at which the tensor is live.
    pub first: usize,
    /// Last op index at which the tensor is live (`ops.len()` for graph outputs).
    pub last: usize,
    /// Representative tensor of the storage group.
    pub group: u16,
    /// Offset relative to the group's reference point (may be negative).
    rel: i64,
    // Group summary, valid on the representative.
    g_lo: i64,
    g_hi: i64,
    // The group's members as a list: `head` on the representative, `next` on each member
    // (`NO_TENSOR` ends it), in index order.
    head: u16,
    next: u16,
}

/// The members of group `g` (activations only), in index order.
fn members(ts: &[TensorSlot], g: usize) -> impl Iterator<Item = usize> + '_ {
    let first = ts[g].head;
    core::iter::successors((first != NO_TENSOR).then_some(first as usize), move |&m| {
        let next = ts[m].next;
        (next != NO_TENSOR).then_some(next as usize)
    })
}

/// The planner's result for one op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpSlot {
    /// The variant the op runs with.
    pub variant: Variant,
    /// Scratch region in the arena.
    pub scratch: Region,
}

impl Default for OpSlot {
    fn default() -> Self {
        OpSlot {
            variant: Variant::Normal,
            scratch: Region { start: 0, len: 0 },
        }
    }
}

/// Caller-provided working memory: one slot per tensor, one per op, and `order` of at least
/// `2 * (tensors + ops)` entries.
pub struct Work<'w> {
    /// Per-tensor state and result.
    pub tensors: &'w mut [TensorSlot],
    /// Per-op result.
    pub ops: &'w mut [OpSlot],
    /// Sorting scratch.
    pub order: &'w mut [u32],
}

/// Sizes of one planning run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanSizes {
    /// Arena bytes of the chosen plan.
    pub arena_bytes: usize,
    /// Arena bytes of the plain greedy plan (views only, no in-place decision): what TFLM's
    /// greedy planner would need for the same tensors.
    pub greedy_bytes: usize,
    /// Number of ops running in place or overlapping.
    pub in_place_ops: usize,
}

fn align_up(v: usize) -> usize {
    v.div_ceil(ALIGN) * ALIGN
}

fn plan_err(tensor: Option<usize>, what: &'static str) -> GraphError {
    GraphError::Plan { tensor, what }
}

/// Computes liveness and checks the graph's indices.
fn liveness(tensors: &[PlanTensor], ops: &[PlanOp<'_>], work: &mut Work<'_>) -> Result<()> {
    if work.tensors.len() < tensors.len() || work.ops.len() < ops.len() {
        return Err(plan_err(None, "working memory too small"));
    }
    if work.order.len() < 2 * (tensors.len() + ops.len()) {
        return Err(plan_err(None, "order scratch too small"));
    }
    let n = tensors.len();
    let end = ops.len();
    for (i, t) in tensors.iter().enumerate() {
        let s = &mut work.tensors[i];
        *s = TensorSlot::default();
        s.first = if t.graph_input { 0 } else { usize::MAX };
        s.last = if t.graph_output { end } else { 0 };
    }
    for (j, op) in ops.iter().enumerate() {
        // Inputs first: an op cannot read the tensor it writes.
        for &i in op.inputs {
            if i == NO_TENSOR {
                continue;
            }
            let i = i as usize;
            if i >= n {
                return Err(plan_err(Some(i), "op input out of range"));
            }
            if tensors[i].activation {
                let s = &mut work.tensors[i];
                if s.first == usize::MAX || s.first > j {
                    return Err(plan_err(Some(i), "tensor read before it is written"));
                }
                s.last = s.last.max(j);
            }
        }
        for &o in op.outputs {
            let o = o as usize;
            if o >= n || !tensors[o].activation {
                return Err(plan_err(Some(o), "op output is not an activation tensor"));
            }
            let s = &mut work.tensors[o];
            if s.first != usize::MAX {
                return Err(plan_err(Some(o), "tensor defined twice (or a graph input)"));
            }
            s.first = j;
            s.last = s.last.max(j);
        }
    }
    for (i, t) in tensors.iter().enumerate() {
        let s = &mut work.tensors[i];
        if t.activation && s.first == usize::MAX {
            // Never written and not a graph input: the builder rejects such tensors; give it
            // an empty lifetime at the start so the plan stays well defined.
            s.first = 0;
        }
        s.last = s.last.max(s.first);
    }
    Ok(())
}

/// Whether `t`'s whole storage group is dead after op `j` (and may be overwritten there).
fn group_dies_at(tensors: &[PlanTensor], slots: &[TensorSlot], t: usize, j: usize) -> bool {
    let g = slots[t].group;
    slots
        .iter()
        .zip(tensors)
        .all(|(s, pt)| s.group != g || !pt.activation || (s.last <= j && !pt.graph_output))
}

/// Builds storage groups from views and the decisions in `work.ops[..].variant`; returns
/// `false` if a decision is not legal (its input does not die at the op).
fn build_groups(tensors: &[PlanTensor], ops: &[PlanOp<'_>], work: &mut Work<'_>) -> bool {
    for (i, s) in work.tensors.iter_mut().enumerate().take(tensors.len()) {
        s.group = i as u16;
        s.rel = 0;
    }
    for (j, op) in ops.iter().enumerate() {
        let Some(&out) = op.outputs.first() else {
            continue;
        };
        let out = out as usize;
        let (slot, shift) = match (op.alias, work.ops[j].variant) {
            (Alias::View, _) => (0usize, 0i64),
            (_, Variant::Normal) => continue,
            (_, Variant::InPlace { input }) => (input as usize, 0),
            (Alias::Overlap { shift, .. } | Alias::Rows { shift, .. }, Variant::Overlapping) => {
                (0, shift as i64)
            }
            _ => return false,
        };
        let Some(&inp) = op.inputs.get(slot) else {
            return false;
        };
        if inp == NO_TENSOR || !tensors[inp as usize].activation {
            if op.alias == Alias::View {
                // A view of a constant cannot share arena storage; the builder rejects it.
                continue;
            }
            return false;
        }
        let inp = inp as usize;
        if op.alias != Alias::View {
            if !group_dies_at(tensors, work.tensors, inp, j) {
                return false;
            }
            // Another input slot reading the same storage would be clobbered while read.
            let g = work.tensors[inp].group;
            for (k, &other) in op.inputs.iter().enumerate() {
                if k != slot
                    && other != NO_TENSOR
                    && tensors[other as usize].activation
                    && work.tensors[other as usize].group == g
                {
                    return false;
                }
            }
        }
        let (g, rel) = (work.tensors[inp].group, work.tensors[inp].rel);
        work.tensors[out].group = g;
        work.tensors[out].rel = rel - shift;
    }
    true
}

/// Places storage groups and scratch buffers greedily; returns the arena size.
///
/// A group is placed as a whole (its members keep their relative offsets) but collisions are
/// checked member by member with each member's own lifetime, so a group's early, dead members
/// do not reserve memory while its later members live (TFLM's first fit, generalised from
/// single buffers to groups).
fn place(tensors: &[PlanTensor], ops: &[PlanOp<'_>], work: &mut Work<'_>, by: Order) -> usize {
    let n = tensors.len();
    // Group extents on the representatives.
    for s in work.tensors.iter_mut().take(n) {
        s.g_lo = i64::MAX;
        s.g_hi = i64::MIN;
    }
    for (i, t) in tensors.iter().enumerate() {
        if !t.activation {
            continue;
        }
        let (g, rel) = (work.tensors[i].group as usize, work.tensors[i].rel);
        let r = &mut work.tensors[g];
        r.g_lo = r.g_lo.min(rel);
        r.g_hi = r.g_hi.max(rel + t.bytes as i64);
    }
    for s in work.tensors.iter_mut().take(n) {
        s.head = NO_TENSOR;
    }
    // Prepending in reverse index order leaves each list in index order.
    for m in (0..n).rev() {
        if tensors[m].activation {
            let g = work.tensors[m].group as usize;
            work.tensors[m].next = work.tensors[g].head;
            work.tensors[g].head = m as u16;
        }
    }
    for (op, slot) in ops.iter().zip(work.ops.iter_mut()) {
        let len = match (op.alias, slot.variant) {
            (Alias::InPlace { scratch, .. }, Variant::InPlace { .. }) => scratch,
            (
                Alias::Overlap { scratch, .. } | Alias::Rows { scratch, .. },
                Variant::Overlapping,
            ) => scratch,
            _ => op.scratch,
        };
        slot.scratch = Region { start: 0, len };
    }
    let Work {
        tensors: ts,
        ops: os,
        order,
    } = work;
    // Items: group representatives (id < n) and op scratch (id = n + j).
    let (order, placed) = order.split_at_mut(n + ops.len());
    let mut count = 0;
    for id in 0..n + ops.len() {
        let is_item = if id < n {
            tensors[id].activation && ts[id].group as usize == id && extent(ts, os, n, id) > 0
        } else {
            os[id - n].scratch.len > 0
        };
        if is_item {
            order[count] = id as u32;
            count += 1;
        }
    }
    let order = &mut order[..count];
    // Insertion sort, first place first; ties keep index order so plans are deterministic.
    let key = |id: usize| -> (usize, usize) {
        let size = extent(ts, os, n, id);
        let first = if id < n { ts[id].first } else { id - n };
        match by {
            Order::Largest => (usize::MAX - size, 0),
            Order::FirstUse => (first, size),
        }
    };
    for a in 1..order.len() {
        let mut b = a;
        while b > 0 && key(order[b - 1] as usize) > key(order[b] as usize) {
            order.swap(b - 1, b);
            b -= 1;
        }
    }
    // `placed[..n_placed]` lists placed tensors (id < n) and scratch buffers (n + j), whose
    // absolute regions are final.
    let mut n_placed = 0;
    let mut arena = 0usize;
    for &item in order.iter() {
        let item = item as usize;
        let lo = if item < n { ts[item].g_lo } else { 0 };
        // First fit: raise the base past each conflict until none is left. Every base between
        // the old and the new one keeps that conflict, so the result is the lowest aligned
        // base that fits.
        let mut base = 0usize;
        loop {
            let placed = &placed[..n_placed];
            let bump = if item < n {
                members(ts, item).find_map(|m| {
                    let r = Rect {
                        off: (ts[m].rel - lo) as usize,
                        size: tensors[m].bytes,
                        first: ts[m].first,
                        last: ts[m].last,
                    };
                    conflict(tensors, ts, os, placed, base, r)
                })
            } else {
                let j = item - n;
                let r = Rect {
                    off: 0,
                    size: os[j].scratch.len,
                    first: j,
                    last: j,
                };
                conflict(tensors, ts, os, placed, base, r)
            };
            match bump {
                Some(b) => base = b,
                None => break,
            }
        }
        // Record the placement.
        if item < n {
            let mut at = ts[item].head;
            while at != NO_TENSOR {
                let m = at as usize;
                ts[m].offset = base + (ts[m].rel - lo) as usize;
                arena = arena.max(ts[m].offset + tensors[m].bytes);
                if tensors[m].bytes > 0 {
                    placed[n_placed] = m as u32;
                    n_placed += 1;
                }
                at = ts[m].next;
            }
        } else {
            os[item - n].scratch.start = base;
            arena = arena.max(base + os[item - n].scratch.len);
            placed[n_placed] = item as u32;
            n_placed += 1;
        }
    }
    // Empty groups (only zero-byte tensors, which the builder never makes) sit at 0.
    for m in 0..n {
        if tensors[m].activation && extent(ts, os, n, ts[m].group as usize) == 0 {
            ts[m].offset = 0;
        }
    }
    align_up(arena)
}

/// A group member (or a scratch buffer) relative to its group's base.
#[derive(Clone, Copy)]
struct Rect {
    off: usize,
    size: usize,
    first: usize,
    last: usize,
}

/// With the group at `base`, the smallest aligned base that clears the first placed buffer
/// `r` collides with (in time and in bytes), or `None` when `r` collides with nothing.
fn conflict(
    tensors: &[PlanTensor],
    ts: &[TensorSlot],
    os: &[OpSlot],
    placed: &[u32],
    base: usize,
    r: Rect,
) -> Option<usize> {
    if r.size == 0 {
        return None;
    }
    let n = tensors.len();
    let start = base + r.off;
    placed.iter().find_map(|&q| {
        let (qs, qlen, qf, ql) = placed_region(tensors, ts, os, n, q as usize);
        let hit = qf <= r.last && r.first <= ql && start < qs + qlen && qs < start + r.size;
        // `qs + qlen > start >= r.off`, so the subtraction cannot underflow.
        hit.then(|| align_up(qs + qlen - r.off))
    })
}

/// Bytes spanned by an item: a group's extent or a scratch buffer's length.
fn extent(ts: &[TensorSlot], os: &[OpSlot], n: usize, id: usize) -> usize {
    if id < n {
        (ts[id].g_hi - ts[id].g_lo).max(0) as usize
    } else {
        os[id - n].scratch.len
    }
}

/// `(start, len, first, last)` of a placed tensor or scratch buffer.
fn placed_region(
    tensors: &[PlanTensor],
    ts: &[TensorSlot],
    os: &[OpSlot],
    n: usize,
    id: usize,
) -> (usize, usize, usize, usize) {
    if id < n {
        (ts[id].offset, tensors[id].bytes, ts[id].first, ts[id].last)
    } else {
        let j = id - n;
        (os[j].scratch.start, os[j].scratch.len, j, j)
    }
}

/// The order in which [`place`] places storage groups and scratch buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    /// Largest extent first (TFLM's greedy planner).
    Largest,
    /// Earliest first use first; among items first used by the same op, the smallest first.
    FirstUse,
}

/// One plan with the variants currently in `work.ops` (views always applied), placed in each of
/// `orders`, keeping the smallest arena (the first on a tie); `None` when a recorded decision is
/// illegal.
fn plan_fixed(
    tensors: &[PlanTensor],
    ops: &[PlanOp<'_>],
    work: &mut Work<'_>,
    orders: &[Order],
) -> Option<usize> {
    if !build_groups(tensors, ops, work) {
        return None;
    }
    let mut best: Option<(usize, Order)> = None;
    for &by in orders {
        let size = place(tensors, ops, work, by);
        if best.is_none_or(|(b, _)| size < b) {
            best = Some((size, by));
        }
    }
    let (size, by) = best?;
    if orders.last() != Some(&by) {
        // `work` holds the last placement tried; redo the one kept.
        place(tensors, ops, work, by);
    }
    Some(size)
}

/// Most sweeps over the in-place candidates; one or two settle every graph tried, the bound
/// keeps the work predictable on pathological ones.
const MAX_SWEEPS: usize = 4;

/// The in-place placements an op supports, in the order they are tried; [`Alias::Rows`] only
/// when `late`.
fn candidates(alias: Alias, late: bool) -> [Option<Variant>; 2] {
    match alias {
        // The op record can name input 0 or 1 as the overwritten one.
        Alias::InPlace { slots, .. } => [
            (slots & 1 != 0).then_some(Variant::InPlace { input: 0 }),
            (slots & 2 != 0).then_some(Variant::InPlace { input: 1 }),
        ],
        Alias::Overlap { .. } => [Some(Variant::Overlapping), None],
        Alias::Rows { .. } if late => [Some(Variant::Overlapping), None],
        _ => [None, None],
    }
}

/// Views always, every other op `Normal`.
fn reset_variants(ops: &[PlanOp<'_>], work: &mut Work<'_>) {
    for (j, op) in ops.iter().enumerate() {
        work.ops[j].variant = match op.alias {
            Alias::View => Variant::InPlace { input: 0 },
            _ => Variant::Normal,
        };
    }
}

/// Makes the in-place decisions from none, starting from an arena of `start`, in execution
/// order; with `staged`, a first round leaves the row-streamed convolutions ([`Alias::Rows`])
/// out and a second adds them. Returns the arena of the decisions left in `work`.
///
/// Later decisions change which earlier ones pay off, so each round sweeps until nothing
/// changes (at most MAX_SWEEPS times): a Normal op takes the first placement that does not
/// grow the arena, an in-place op goes back to Normal only if that shrinks it, so the arena
/// never grows.
fn decide(
    tensors: &[PlanTensor],
    ops: &[PlanOp<'_>],
    work: &mut Work<'_>,
    orders: &[Order],
    start: usize,
    staged: bool,
) -> usize {
    reset_variants(ops, work);
    let mut best = start;
    let rounds: &[bool] = if staged { &[false, true] } else { &[true] };
    for &late in rounds {
        for _ in 0..MAX_SWEEPS {
            let mut changed = false;
            for j in 0..ops.len() {
                let current = work.ops[j].variant;
                if ops[j].alias == Alias::View {
                    continue;
                }
                if current != Variant::Normal {
                    work.ops[j].variant = Variant::Normal;
                    match plan_fixed(tensors, ops, work, orders) {
                        Some(size) if size < best => {
                            best = size;
                            changed = true;
                        }
                        _ => work.ops[j].variant = current,
                    }
                    continue;
                }
                for v in candidates(ops[j].alias, late).into_iter().flatten() {
                    work.ops[j].variant = v;
                    match plan_fixed(tensors, ops, work, orders) {
                        Some(size) if size <= best => {
                            best = size;
                            changed = true;
                            break;
                        }
                        _ => work.ops[j].variant = Variant::Normal,
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }
    best
}

/// Plans the arena. With `in_place`, tries the in-place and overlapping candidates in execution
/// order and keeps each one that does not grow the arena; without, returns the plain greedy
/// plan. The result is in `work` (tensor offsets, op variants and scratch regions).
///
/// A decision that costs nothing where it is made can block a larger gain later: a stem
/// convolution row-streamed over the input image ties the image, the stem's output and the
/// next block into one storage chain that MobileNeXt's first expansion then no longer fits
/// beside, while MobileNetV3-small gains most when its row-streamed convolutions are decided
/// with the rest. So the decisions are made twice, staged ([`Alias::Rows`] after the others)
/// and all together, and the smaller arena is kept (staged on a tie).
pub fn plan(
    tensors: &[PlanTensor],
    ops: &[PlanOp<'_>],
    in_place: bool,
    work: &mut Work<'_>,
) -> Result<PlanSizes> {
    liveness(tensors, ops, work)?;
    reset_variants(ops, work);
    // Without in-place decisions, TFLM's order: `greedy_bytes` is what TFLM's planner needs.
    let greedy = plan_fixed(tensors, ops, work, &[Order::Largest])
        .ok_or(plan_err(None, "a view is illegal"))?;
    let orders: &[Order] = if in_place {
        &[Order::Largest, Order::FirstUse]
    } else {
        &[Order::Largest]
    };
    let has_rows = ops.iter().any(|o| matches!(o.alias, Alias::Rows { .. }));
    if in_place {
        if has_rows {
            let together = decide(tensors, ops, work, orders, greedy, false);
            let staged = decide(tensors, ops, work, orders, greedy, true);
            if together < staged {
                // `work` holds the staged decisions; redo the others (deterministic).
                decide(tensors, ops, work, orders, greedy, false);
            }
        } else {
            decide(tensors, ops, work, orders, greedy, true);
        }
    }
    let in_place_ops = work.ops[..ops.len()]
        .iter()
        .zip(ops)
        .filter(|(s, o)| s.variant != Variant::Normal && o.alias != Alias::View)
        .count();
    // Re-run the kept decisions so that `work` holds exactly the chosen plan.
    let arena_bytes =
        plan_fixed(tensors, ops, work, orders).ok_or(plan_err(None, "inconsistent plan"))?;
    Ok(PlanSizes {
        arena_bytes,
        greedy_bytes: greedy,
        in_place_ops,
    })
}
