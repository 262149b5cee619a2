//! The lookup-table pass [`GraphBuilder::finish`] runs before planning (unless
//! [`BuildOptions::fold_luts`] is off): int8 elementwise work whose every output byte depends
//! only on one input byte becomes one `Lut` op, a 256-entry table indexed by `input as u8`.
//!
//! Three patterns fold, each only on tensors of at least [`MIN_ELEMENTS`] elements (a table is
//! 256 bytes of flash, more than a smaller tensor's ops can save):
//!
//! * `Mul(x, u(x))` and `Add(x, u(x))`: one operand is `x`, the other the output of a chain of
//!   int8 unary ops of `x` (possibly no op at all, `Mul(x, x)`), with both operands and the
//!   output of the same shape (no broadcast). EfficientNet's swish, TFLite `LOGISTIC` then
//!   `MUL`, is this pattern. The chain disappears when every tensor along it has one reader
//!   and is not a graph output; otherwise it stays for its other readers and only the `Mul`
//!   becomes a table.
//! * Two consecutive int8 unary ops (`HardSwish`, `Logistic`, `HardSigmoid`, `Swish`, `Relu`,
//!   `Relu6`, `ReluN1To1`, `Requantize`, `Lut`) whose intermediate tensor has one reader and is
//!   not a graph output compose into one table; repeated, a whole chain becomes one op.
//! * A single int8 unary op that computes (everything above but the ones that are tables
//!   already: `HardSigmoid`, `Swish`, `Lut`) becomes a table.
//!
//! Every table is computed by running the original ops, with the parameter words they already
//! carry, through the executor on a 256-element tensor holding every int8 value: the folded
//! graph is bit-identical to the unfolded one by construction, whatever the kernels compute.
//!
//! The `Lut` takes the output tensor of the last op it replaces (so graph outputs keep their
//! identity and quantization) and the place in the execution order of the first one: its input
//! exists there already, and every position up to the last replaced op held an intermediate
//! tensor of the same size before. `finish` still plans both graphs and keeps the folded one
//! only if its arena is no larger.

use super::fuse::{internal, Fused, Uses};
use super::{BOp, BTensor, BuildError, BuildOptions, BuildResult, GraphBuilder};
use crate::ops::{DType, OpKind, NO_TENSOR};
use crate::plan::Alias;
use bfmd_kernels::Shape;

/// Smallest tensor (elements) worth a table.
const MIN_ELEMENTS: usize = 256;

/// The longest unary chain followed back from a `Mul`/`Add` operand to the other operand.
const MAX_CHAIN: usize = 8;

/// The 256 int8 values in table order: entry `i` is the input whose byte is `i`.
fn all_inputs() -> [i8; 256] {
    core::array::from_fn(|i| i as u8 as i8)
}

/// `true` for the unary kinds a table can replace.
fn foldable_kind(kind: OpKind) -> bool {
    matches!(
        kind,
        OpKind::HardSwish
            | OpKind::Logistic
            | OpKind::HardSigmoid
            | OpKind::Swish
            | OpKind::Relu
            | OpKind::Relu6
            | OpKind::ReluN1To1
            | OpKind::Requantize
            | OpKind::Lut
    )
}

/// `true` for the kinds that already run as a table: alone, converting them gains nothing.
fn is_table(kind: OpKind) -> bool {
    matches!(kind, OpKind::HardSigmoid | OpKind::Swish | OpKind::Lut)
}

/// `true` when `t` is an int8 activation of at least [`MIN_ELEMENTS`] elements.
fn big_s8_activation(g: &GraphBuilder, t: u16) -> bool {
    let info = &g.tensors[t as usize];
    info.dtype == DType::S8 && info.data.is_none() && info.shape.len() >= MIN_ELEMENTS
}

/// `true` when op `j` is an int8 unary op a table can replace, on a tensor large enough.
fn unary_s8(g: &GraphBuilder, j: usize) -> bool {
    let op = &g.ops[j];
    foldable_kind(op.kind)
        && big_s8_activation(g, op.inputs[0])
        && g.tensors[op.outputs[0] as usize].dtype == DType::S8
}

/// The unary ops leading from `x` to `y`, in execution order (empty when `x == y`), if `y` is
/// a unary chain of `x` of at most [`MAX_CHAIN`] ops.
fn chain_between(g: &GraphBuilder, r: &Uses, x: u16, y: u16) -> Option<Vec<usize>> {
    let mut ops = Vec::new();
    let mut t = y;
    while t != x {
        if ops.len() == MAX_CHAIN {
            return None;
        }
        let p = r.producer[t as usize]?;
        if !unary_s8(g, p) {
            return None;
        }
        ops.push(p);
        t = g.ops[p].inputs[0];
    }
    ops.reverse();
    Some(ops)
}

/// One rewrite: the ops run to compute the table of `input` (in execution order; the last one
/// writes the tensor the `Lut` will write), the ops the `Lut` replaces, and the op whose place
/// in the execution order it takes (one of `removed`).
struct Site {
    eval: Vec<usize>,
    removed: Vec<usize>,
    input: u16,
    at: usize,
}

/// The first `Mul(x, u(x))` / `Add(x, u(x))` of `g`.
fn binary_site(g: &GraphBuilder, r: &Uses) -> Option<Site> {
    for (j, op) in g.ops.iter().enumerate() {
        if !matches!(op.kind, OpKind::Mul | OpKind::Add) {
            continue;
        }
        let (a, b, y) = (op.inputs[0], op.inputs[1], op.outputs[0]);
        let shape = |t: u16| g.tensors[t as usize].shape;
        if !(big_s8_activation(g, a)
            && big_s8_activation(g, b)
            && shape(a) == shape(y)
            && shape(b) == shape(y)
            && g.tensors[y as usize].dtype == DType::S8)
        {
            continue;
        }
        for (x, u) in [(a, b), (b, a)] {
            let Some(chain) = chain_between(g, r, x, u) else {
                continue;
            };
            let eval: Vec<usize> = chain.iter().copied().chain([j]).collect();
            // The chain goes with the `Mul` only if nobody else sees its tensors; otherwise it
            // stays for its other readers and the table only replaces the `Mul`.
            let private = chain.iter().all(|&c| internal(g, r, g.ops[c].outputs[0]));
            let (removed, at) = if private {
                (eval.clone(), eval[0])
            } else {
                (vec![j], j)
            };
            return Some(Site {
                eval,
                removed,
                input: x,
                at,
            });
        }
    }
    None
}

/// The first pair of consecutive unary ops of `g` whose intermediate tensor is private, or else
/// the first unary op that computes rather than looks up.
fn unary_site(g: &GraphBuilder, r: &Uses) -> Option<Site> {
    let unary: Vec<usize> = (0..g.ops.len()).filter(|&j| unary_s8(g, j)).collect();
    let site = |ops: Vec<usize>| Site {
        input: g.ops[ops[0]].inputs[0],
        at: ops[0],
        eval: ops.clone(),
        removed: ops,
    };
    for &j in &unary {
        let t = g.ops[j].outputs[0];
        let next = r.reader[t as usize];
        if internal(g, r, t) && unary_s8(g, next) && g.ops[next].inputs[0] == t {
            return Some(site(vec![j, next]));
        }
    }
    unary
        .into_iter()
        .find(|&j| !is_table(g.ops[j].kind))
        .map(|j| site(vec![j]))
}

/// The table of the ops `eval` of `g` applied to `x`: a graph of those ops alone, with the
/// parameter words they carry and every activation shaped `[1, 1, 1, 256]`, run by the
/// executor on the 256 int8 values.
fn table(g: &GraphBuilder, eval: &[usize], x: u16) -> BuildResult<[i8; 256]> {
    let mut sub = GraphBuilder::default();
    // `index[t]`: tensor `t` of `g` in `sub`.
    let mut index = vec![NO_TENSOR; g.tensors.len()];
    let input = copy_tensor(g, &mut sub, &mut index, x, true);
    sub.tensors[input as usize].graph_input = true;
    sub.inputs.push(input);
    for &j in eval {
        let op = &g.ops[j];
        let mut inputs = Vec::with_capacity(op.inputs.len());
        for &t in &op.inputs {
            inputs.push(match t {
                NO_TENSOR => t,
                _ if index[t as usize] != NO_TENSOR => index[t as usize],
                _ if g.tensors[t as usize].data.is_some() => {
                    copy_tensor(g, &mut sub, &mut index, t, false)
                }
                _ => {
                    return Err(fold_bug(
                        j,
                        op.kind,
                        "an operand is not derived from the input",
                    ))
                }
            });
        }
        let outputs = op
            .outputs
            .iter()
            .map(|&t| copy_tensor(g, &mut sub, &mut index, t, true))
            .collect();
        sub.ops.push(BOp {
            inputs,
            outputs,
            ..op.clone()
        });
    }
    let last = sub.ops.last().map_or(input, |op| op.outputs[0]);
    sub.tensors[last as usize].graph_output = true;
    sub.outputs.push(last);
    let built = sub.finish(BuildOptions {
        in_place: false,
        fuse_shuffles: false,
        fold_luts: false,
        wide_fc_weights: 0,
        // The tables are computed here, on this machine's kernels.
        path: bfmd_kernels::KernelPath::HOST,
    })?;
    let model = built.blob.model()?;
    let mut words = vec![0u128; model.arena_bytes().div_ceil(16)];
    let arena = crate::elem::cast_words_mut(&mut words);
    model
        .input_mut_as::<i8>(arena, 0)?
        .copy_from_slice(&all_inputs());
    crate::exec::run(&model, arena, None)?;
    let out = model.output_as::<i8>(arena, 0)?;
    out.try_into()
        .map_err(|_| fold_bug(eval[0], g.ops[eval[0]].kind, "the table is not 256 entries"))
}

/// Copies tensor `t` of `g` into `sub` (an activation reshaped to `[1, 1, 1, 256]`, a constant
/// as it is) and records its index there.
fn copy_tensor(
    g: &GraphBuilder,
    sub: &mut GraphBuilder,
    index: &mut [u16],
    t: u16,
    activation: bool,
) -> u16 {
    let info = &g.tensors[t as usize];
    let copy = if activation {
        BTensor {
            shape: Shape::new(1, 1, 1, 256),
            rank: 4,
            data: None,
            graph_input: false,
            graph_output: false,
            ..info.clone()
        }
    } else {
        info.clone()
    };
    sub.tensors.push(copy);
    index[t as usize] = (sub.tensors.len() - 1) as u16;
    index[t as usize]
}

/// An error of the pass itself (the graph was valid, so this is a builder bug).
fn fold_bug(j: usize, kind: OpKind, message: &str) -> BuildError {
    BuildError {
        op: Some((j, kind)),
        tensor: None,
        message: format!("lookup-table folding: {message} (a builder bug)"),
    }
}

/// Finds the patterns of `g` and folds them, one at a time until none is left; `None` when
/// nothing folds.
pub(super) fn fold_luts(g: &GraphBuilder) -> BuildResult<Option<Fused>> {
    let mut w = g.clone();
    let mut sources: Vec<Vec<usize>> = (0..g.ops.len()).map(|j| vec![j]).collect();
    let mut folded = false;
    loop {
        let r = Uses::new(&w);
        let Some(site) = binary_site(&w, &r).or_else(|| unary_site(&w, &r)) else {
            break;
        };
        let lut = table(&w, &site.eval, site.input)?;
        let last = *site.removed.last().unwrap_or(&site.at);
        let y = w.ops[last].outputs[0];
        let name = format!("{}/table", w.tensors[y as usize].name);
        w.tensors.push(BTensor {
            name,
            dtype: DType::S8,
            shape: Shape::new(1, 1, 1, 256),
            rank: 4,
            quant: super::Quant::NONE,
            channel_scales: None,
            data: Some(lut.iter().map(|&v| v as u8).collect()),
            graph_input: false,
            graph_output: false,
        });
        let t = (w.tensors.len() - 1) as u16;
        let merged: Vec<usize> = site
            .removed
            .iter()
            .flat_map(|&j| sources[j].iter().copied())
            .collect();
        w.ops[site.at] = BOp {
            kind: OpKind::Lut,
            inputs: vec![site.input, t],
            outputs: vec![y],
            params: vec![],
            scratch: 0,
            alias: Alias::InPlace {
                slots: 1,
                scratch: 0,
            },
            macs: w.tensors[y as usize].shape.len() as u64,
            memory: super::Memory::Fixed,
        };
        sources[site.at] = merged;
        let gone = |j: usize| j != site.at && site.removed.contains(&j);
        w.ops = without(std::mem::take(&mut w.ops), gone);
        sources = without(sources, gone);
        folded = true;
    }
    if !folded {
        return Ok(None);
    }
    Ok(Some(Fused {
        graph: drop_orphans(g, w),
        sources,
    }))
}

/// `items` without those whose index `gone` names.
fn without<T>(items: Vec<T>, gone: impl Fn(usize) -> bool) -> Vec<T> {
    items
        .into_iter()
        .enumerate()
        .filter(|(j, _)| !gone(*j))
        .map(|(_, x)| x)
        .collect()
}

/// Removes from `w` the tensors that some op of `g` used, or the pass added, and none of `w`
/// uses any more (the intermediate tensors and tables of the replaced ops), renumbering the
/// others in order.
fn drop_orphans(g: &GraphBuilder, mut w: GraphBuilder) -> GraphBuilder {
    let used = |b: &GraphBuilder| {
        let mut u = vec![false; b.tensors.len()];
        for op in &b.ops {
            for &t in op.inputs.iter().chain(&op.outputs) {
                if t != NO_TENSOR {
                    u[t as usize] = true;
                }
            }
        }
        u
    };
    let (before, now) = (used(g), used(&w));
    let mut new_index = vec![NO_TENSOR; w.tensors.len()];
    let mut next = 0u16;
    for (t, info) in w.tensors.iter().enumerate() {
        // A tensor the pass added (a table) and no longer uses is an orphan too: tables of
        // partial chains are replaced as the chain grows.
        let orphan = before.get(t).copied().unwrap_or(true)
            && !now[t]
            && !info.graph_input
            && !info.graph_output;
        if !orphan {
            new_index[t] = next;
            next += 1;
        }
    }
    let map = |ts: &mut Vec<u16>| {
        for t in ts.iter_mut().filter(|t| **t != NO_TENSOR) {
            *t = new_index[*t as usize];
        }
    };
    for op in &mut w.ops {
        map(&mut op.inputs);
        map(&mut op.outputs);
    }
    map(&mut w.inputs);
    map(&mut w.outputs);
    w.tensors = without(std::mem::take(&mut w.tensors), |t| {
        new_index[t] == NO_TENSOR
    });
    w
}

/// The sources of a graph folded from `base` (itself made from the builder's ops as
/// `base_sources` says, or the builder itself when `None`) in terms of the builder's ops.
pub(super) fn compose_sources(
    base_sources: Option<&[Vec<usize>]>,
    folded: &[Vec<usize>],
) -> Vec<Vec<usize>> {
    folded
        .iter()
        .map(|s| match base_sources {
            Some(b) => s.iter().flat_map(|&j| b[j].iter().copied()).collect(),
            None => s.clone(),
        })
        .collect()
}
