//! The fusion pass [`GraphBuilder::finish`] runs before planning (unless
//! [`BuildOptions::fuse_shuffles`](super::BuildOptions) is off): ShuffleNet's
//! `Concat(channels) -> ChannelShuffle -> Split(channels, equal parts)` becomes one
//! `ConcatShuffleSplit` op (issue 6), and so do the two-op patterns `Concat -> ChannelShuffle`
//! and `ChannelShuffle -> Split`.
//!
//! Unfused, each of the three ops moves every byte once and keeps an intermediate tensor alive;
//! fused, the movement kernel (`movement::shuffle::concat_shuffle_split`) reads each input byte
//! once and writes it straight to its place in the split's outputs.
//!
//! A neighbour is absorbed only when the tensor between it and the shuffle has exactly one
//! reader (the next op of the chain) and is not a graph output, so no value anybody can see
//! disappears; when the concatenation or split is along channels (an equal split for the
//! split, as the kernel produces equal parts); and, for int8, when every tensor of the chain
//! has exactly the same scale and zero point (the kernel copies bytes; the builder already
//! requires this of each op within a relative `1e-6`, the fusion requires the same bits).
//!
//! The fused op takes the place of the first op of its chain in the execution order: its inputs
//! exist there already, and in every later position up to the chain's last op its outputs
//! (`C` channels in all) stand in for the intermediate tensor (`C` channels) that lived there
//! before. Only the 16-byte padding of each buffer can make the fused plan larger (all inputs
//! and outputs live at once, where the unfused ops had one intermediate on one side), so
//! `finish` plans both graphs and keeps the fused one only if its arena is no larger.

use super::{BOp, GraphBuilder};
use crate::ops::{shuffle, DType, OpKind, NO_TENSOR};
use crate::plan::Alias;

/// The channel axis in the `axis` parameter of `Concat` and `Split` (NHWC).
const CHANNELS: u32 = 3;

/// A graph after fusion: the rewritten builder and, for each of its ops, the indices of the
/// original builder ops it performs, in execution order.
pub(super) struct Fused {
    /// The rewritten graph (fused ops, the intermediate tensors removed).
    pub graph: GraphBuilder,
    /// `sources[j]`: the original ops behind op `j` of `graph`.
    pub sources: Vec<Vec<usize>>,
}

/// One chain to fuse: the optional `Concat` before the shuffle, the shuffle, the optional
/// `Split` after it (op indices).
#[derive(Clone, Copy)]
struct Chain {
    concat: Option<usize>,
    shuffle: usize,
    split: Option<usize>,
}

impl Chain {
    fn first(&self) -> usize {
        self.concat.unwrap_or(self.shuffle)
    }

    fn ops(&self) -> Vec<usize> {
        self.concat
            .into_iter()
            .chain([self.shuffle])
            .chain(self.split)
            .collect()
    }
}

/// Who reads and writes each tensor (also used by the lookup-table pass, `lut.rs`).
pub(super) struct Uses {
    /// Number of input slots (over all ops) reading the tensor.
    pub(super) readers: Vec<usize>,
    /// The last op reading the tensor (meaningful when `readers` is 1).
    pub(super) reader: Vec<usize>,
    /// The op writing the tensor, if any.
    pub(super) producer: Vec<Option<usize>>,
}

impl Uses {
    pub(super) fn new(g: &GraphBuilder) -> Self {
        let n = g.tensors.len();
        let mut u = Uses {
            readers: vec![0; n],
            reader: vec![0; n],
            producer: vec![None; n],
        };
        for (j, op) in g.ops.iter().enumerate() {
            for &t in op.inputs.iter().filter(|&&t| t != NO_TENSOR) {
                u.readers[t as usize] += 1;
                u.reader[t as usize] = j;
            }
            for &t in &op.outputs {
                u.producer[t as usize] = Some(j);
            }
        }
        u
    }
}

/// `true` when `t` may disappear inside a fused op: one reader and not a graph output.
pub(super) fn internal(g: &GraphBuilder, u: &Uses, t: u16) -> bool {
    u.readers[t as usize] == 1 && !g.tensors[t as usize].graph_output
}

/// `true` when every tensor in `ts` shares the quantization of `like` exactly (int8), or the
/// tensors are float (nothing to rescale).
fn same_quant(g: &GraphBuilder, like: u16, ts: &[u16]) -> bool {
    let q = g.tensors[like as usize].quant;
    ts.iter().all(|&t| {
        let b = &g.tensors[t as usize];
        b.dtype != DType::S8
            || (b.quant.zero_point == q.zero_point && b.quant.scale.to_bits() == q.scale.to_bits())
    })
}

/// The `Concat` along channels whose output `x` feeds the shuffle and nothing else.
fn concat_before(g: &GraphBuilder, u: &Uses, x: u16) -> Option<usize> {
    let c = u.producer[x as usize]?;
    let op = &g.ops[c];
    let ok = op.kind == OpKind::Concat
        && op.params.first() == Some(&CHANNELS)
        && internal(g, u, x)
        && same_quant(g, x, &op.inputs);
    ok.then_some(c)
}

/// The equal `Split` along channels that is the only reader of the shuffle's output `y`.
fn split_after(g: &GraphBuilder, u: &Uses, y: u16) -> Option<usize> {
    if !internal(g, u, y) {
        return None;
    }
    let s = u.reader[y as usize];
    let op = &g.ops[s];
    let shape = |t: u16| g.tensors[t as usize].shape;
    let ok = op.kind == OpKind::Split
        && op.params.first() == Some(&CHANNELS)
        && op.outputs.iter().all(|&o| shape(o) == shape(op.outputs[0]))
        && same_quant(g, y, &op.outputs);
    ok.then_some(s)
}

/// Finds the chains of `g` and rewrites them; `None` when nothing fuses.
pub(super) fn fuse_shuffles(g: &GraphBuilder) -> Option<Fused> {
    let u = Uses::new(g);
    let mut chains = Vec::new();
    for (s, op) in g.ops.iter().enumerate() {
        if op.kind != OpKind::ChannelShuffle {
            continue;
        }
        let (x, y) = (op.inputs[0], op.outputs[0]);
        let concat = concat_before(g, &u, x);
        let split = split_after(g, &u, y);
        if concat.is_some() || split.is_some() {
            chains.push(Chain {
                concat,
                shuffle: s,
                split,
            });
        }
    }
    if chains.is_empty() {
        return None;
    }
    Some(rewrite(g, &chains))
}

/// Replaces each chain by one `ConcatShuffleSplit` at the chain's first op and drops the
/// tensors that no op writes any more.
fn rewrite(g: &GraphBuilder, chains: &[Chain]) -> Fused {
    // What happens at each original op: kept, replaced by chain `k`, or dropped.
    let mut at: Vec<Option<Option<usize>>> = vec![Some(None); g.ops.len()];
    let mut dead = vec![false; g.tensors.len()];
    for (k, ch) in chains.iter().enumerate() {
        for j in ch.ops() {
            at[j] = None;
        }
        at[ch.first()] = Some(Some(k));
        let shuffle = &g.ops[ch.shuffle];
        if ch.concat.is_some() {
            dead[shuffle.inputs[0] as usize] = true;
        }
        if ch.split.is_some() {
            dead[shuffle.outputs[0] as usize] = true;
        }
    }
    // Renumber the surviving tensors, keeping their order.
    let mut new_index = vec![NO_TENSOR; g.tensors.len()];
    let mut tensors = Vec::with_capacity(g.tensors.len());
    for (t, info) in g.tensors.iter().enumerate() {
        if !dead[t] {
            new_index[t] = tensors.len() as u16;
            tensors.push(info.clone());
        }
    }
    let map = |ts: &[u16]| -> Vec<u16> {
        ts.iter()
            .map(|&t| {
                if t == NO_TENSOR {
                    t
                } else {
                    new_index[t as usize]
                }
            })
            .collect()
    };
    let mut ops = Vec::with_capacity(g.ops.len());
    let mut sources = Vec::with_capacity(g.ops.len());
    for (j, what) in at.iter().enumerate() {
        match what {
            None => {}
            Some(None) => {
                let op = &g.ops[j];
                ops.push(BOp {
                    inputs: map(&op.inputs),
                    outputs: map(&op.outputs),
                    ..op.clone()
                });
                sources.push(vec![j]);
            }
            Some(Some(k)) => {
                let ch = chains[*k];
                let shuffle = &g.ops[ch.shuffle];
                let inputs = ch.concat.map_or(&shuffle.inputs, |c| &g.ops[c].inputs);
                let outputs = ch.split.map_or(&shuffle.outputs, |s| &g.ops[s].outputs);
                ops.push(BOp {
                    kind: OpKind::ConcatShuffleSplit,
                    inputs: map(inputs),
                    outputs: map(outputs),
                    params: vec![shuffle.params[shuffle::GROUPS]],
                    scratch: 0,
                    alias: Alias::None,
                    macs: 0,
                    memory: super::Memory::Fixed,
                });
                sources.push(ch.ops());
            }
        }
    }
    let graph = GraphBuilder {
        tensors,
        ops,
        inputs: map(&g.inputs),
        outputs: map(&g.outputs),
    };
    Fused { graph, sources }
}
