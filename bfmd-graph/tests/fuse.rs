//! The builder's channel-shuffle fusion (`builder/fuse.rs`, issue 6): `Concat -> ChannelShuffle
//! -> Split` along channels, and the two-op patterns, become one `ConcatShuffleSplit` op.
//!
//! Every graph is finished twice, fused and unfused, in int8, f16 and f32: the outputs must be
//! byte-identical, the fused arena no larger, and the op kinds counted show what fused. The
//! main chains are also checked against a naive shuffle written here, so that a fusion that
//! broke both paths the same way would still fail. Patterns that must not fuse (an
//! intermediate with a second reader or exposed as a graph output, int8 quantization that
//! differs, another axis, an unequal split) keep their ops.

mod common;

use bfmd_graph::builder::{BuildOptions, Built, GraphBuilder, Quant, TensorId};
use bfmd_graph::{DType, OpKind};
use bfmd_kernels::Shape;
use common::*;

const DTYPES: [DType; 3] = [DType::S8, DType::F16, DType::F32];
/// Spatial size of the tensors: 16 pixels, so that every buffer's bytes are a multiple of the
/// planner's 16-byte alignment and the fused arena is never larger for padding (see
/// `fusion_is_dropped_when_padding_would_grow_the_arena` for 3 x 5).
const H: usize = 4;
const W: usize = 4;

/// A graph under construction in one dtype, with one int8 quantization for every tensor.
struct G {
    b: GraphBuilder,
    dtype: DType,
    q: Quant,
    /// Height and width of every tensor.
    hw: (usize, usize),
    /// Raw bytes of each graph input, in order.
    inputs: Vec<Vec<u8>>,
    rng: Rng,
}

impl G {
    fn new(dtype: DType, seed: u64) -> Self {
        Self::sized(dtype, seed, (H, W))
    }

    fn sized(dtype: DType, seed: u64, hw: (usize, usize)) -> Self {
        let q = if dtype == DType::S8 {
            Quant::new(0.05, -3)
        } else {
            Quant::NONE
        };
        G {
            b: GraphBuilder::new(),
            dtype,
            q,
            hw,
            inputs: Vec::new(),
            rng: Rng::new(seed),
        }
    }

    fn shape(&self, c: usize) -> Shape {
        Shape::new(1, self.hw.0, self.hw.1, c)
    }

    /// A graph input of `c` channels filled with random values of the dtype.
    fn input(&mut self, c: usize) -> TensorId {
        let n = self.hw.0 * self.hw.1 * c;
        let bytes = match self.dtype {
            DType::S8 => b8(&self.rng.i8s(n)),
            DType::F16 => b16(&h(&self.rng.f32s(n, -4.0, 4.0))),
            _ => b32(&self.rng.f32s(n, -4.0, 4.0)),
        };
        self.inputs.push(bytes);
        let name = format!("in{}", self.inputs.len());
        let shape = self.shape(c);
        self.b.input(&name, shape, self.dtype, self.q).unwrap()
    }

    /// An activation of `shape` with quantization `q`.
    fn tensor_q(&mut self, shape: Shape, q: Quant) -> TensorId {
        let name = format!("t{}", self.b.op_count() * 100 + self.inputs.len());
        let name = format!("{name}_{}", self.rng.next_u64());
        self.b.tensor(&name, shape, self.dtype, q).unwrap()
    }

    fn tensor(&mut self, c: usize) -> TensorId {
        self.tensor_q(self.shape(c), self.q)
    }

    fn concat(&mut self, xs: &[TensorId], c: usize) -> TensorId {
        let y = self.tensor(c);
        self.b.add_concat(xs, y, 3).unwrap();
        y
    }

    fn shuffle(&mut self, x: TensorId, c: usize, groups: usize) -> TensorId {
        let y = self.tensor(c);
        self.b.add_channel_shuffle(x, y, groups).unwrap();
        y
    }

    fn split(&mut self, x: TensorId, sizes: &[usize]) -> Vec<TensorId> {
        let ys: Vec<TensorId> = sizes.iter().map(|&c| self.tensor(c)).collect();
        self.b.add_split(x, &ys, 3).unwrap();
        ys
    }

    /// Fresh inputs of `chans` channels -> concat -> shuffle in `groups` groups -> split into
    /// `parts` equal parts; returns the concatenation, the shuffle and the parts.
    fn chain(
        &mut self,
        chans: &[usize],
        groups: usize,
        parts: usize,
    ) -> (TensorId, TensorId, Vec<TensorId>) {
        let xs: Vec<TensorId> = chans.iter().map(|&c| self.input(c)).collect();
        let total: usize = chans.iter().sum();
        let cat = self.concat(&xs, total);
        let sh = self.shuffle(cat, total, groups);
        let ys = self.split(sh, &vec![total / parts; parts]);
        (cat, sh, ys)
    }

    /// Marks `ts` as graph outputs.
    fn outputs(&mut self, ts: impl IntoIterator<Item = TensorId>) {
        for t in ts {
            self.b.output(t).unwrap();
        }
    }

    /// A reader after the chain, so that its outputs are consumed by an op too.
    fn relu(&mut self, x: TensorId, c: usize) -> TensorId {
        let y = self.tensor(c);
        self.b.add_unary(OpKind::Relu, x, y).unwrap();
        y
    }
}

/// Number of ops of `kind` in the plan.
fn count(built: &Built, kind: OpKind) -> usize {
    built.report.ops.iter().filter(|o| o.kind == kind).count()
}

/// Finishes `g` fused and unfused (in place on, as in production), checks that both give the
/// same bytes and that fusion did not grow the arena, and returns the fused build.
fn fused_and_plain(g: &G) -> Built {
    let fused = g.b.finish(BuildOptions::default()).unwrap();
    let plain =
        g.b.finish(BuildOptions {
            fuse_shuffles: false,
            ..BuildOptions::default()
        })
        .unwrap();
    assert_eq!(count(&plain, OpKind::ConcatShuffleSplit), 0);
    let (a, b) = (run_built(&fused, &g.inputs), run_built(&plain, &g.inputs));
    assert_eq!(a, b, "{:?}: fused and unfused outputs differ", g.dtype);
    assert!(
        fused.report.arena_bytes <= plain.report.arena_bytes,
        "{:?}: fusion grew the arena: {} > {}",
        g.dtype,
        fused.report.arena_bytes,
        plain.report.arena_bytes
    );
    fused
}

/// The naive composition: concatenate the inputs' channels, shuffle in `groups` groups, split
/// into `parts` equal parts (bytes of elements of `size` bytes).
fn naive(
    inputs: &[Vec<u8>],
    chans: &[usize],
    groups: usize,
    parts: usize,
    size: usize,
) -> Vec<Vec<u8>> {
    let total: usize = chans.iter().sum();
    let k = total / groups;
    let part = total / parts;
    let mut out = vec![Vec::new(); parts];
    for px in 0..H * W {
        let mut cat: Vec<&[u8]> = Vec::new();
        for (x, &c) in inputs.iter().zip(chans) {
            for ch in 0..c {
                let at = (px * c + ch) * size;
                cat.push(&x[at..at + size]);
            }
        }
        // Output channel `m = j * groups + i` is concatenated channel `i * k + j`.
        for m in 0..total {
            let (j, i) = (m / groups, m % groups);
            out[m / part].extend_from_slice(cat[i * k + j]);
        }
    }
    out
}

/// Concat -> shuffle -> split with odd channel counts, groups 2, 3 and 4 and several parts:
/// one `ConcatShuffleSplit`, equal to the unfused ops and to the naive composition.
#[test]
fn three_op_chains_fuse_and_match() {
    // (input channels, groups, parts)
    let cases: [(&[usize], usize, usize); 5] = [
        (&[7, 7], 2, 2),
        (&[5, 4, 6], 3, 3),
        (&[5, 4, 6], 3, 5),
        (&[5, 7], 4, 4),
        (&[3, 9], 4, 2),
    ];
    for dtype in DTYPES {
        for (n, &(chans, groups, parts)) in cases.iter().enumerate() {
            let mut g = G::new(dtype, 10 + n as u64);
            let (_, _, ys) = g.chain(chans, groups, parts);
            for &y in &ys {
                g.b.output(y).unwrap();
            }
            let built = fused_and_plain(&g);
            assert_eq!(
                count(&built, OpKind::ConcatShuffleSplit),
                1,
                "{dtype:?} {n}"
            );
            assert_eq!(built.report.op_count, 1, "{dtype:?} {n}");
            assert_eq!(built.report.ops[0].sources, vec![0, 1, 2]);
            let want = naive(&g.inputs, chans, groups, parts, dtype.size());
            assert_eq!(run_built(&built, &g.inputs), want, "{dtype:?} {n}");
        }
    }
}

/// ShuffleNetV2's tail without a following split (concat -> shuffle, the shuffle read by two
/// branches) and head without a concat (shuffle -> split): each becomes one fused op.
#[test]
fn two_op_chains_fuse() {
    for dtype in DTYPES {
        // Concat -> shuffle, the shuffled tensor read twice.
        let mut g = G::new(dtype, 20);
        let (a, b) = (g.input(5), g.input(7));
        let cat = g.concat(&[a, b], 12);
        let sh = g.shuffle(cat, 12, 3);
        let r1 = g.relu(sh, 12);
        let r2 = g.relu(sh, 12);
        g.b.output(r1).unwrap();
        g.b.output(r2).unwrap();
        let built = fused_and_plain(&g);
        assert_eq!(count(&built, OpKind::ConcatShuffleSplit), 1, "{dtype:?}");
        assert_eq!(count(&built, OpKind::Concat), 0, "{dtype:?}");
        assert_eq!(count(&built, OpKind::ChannelShuffle), 0, "{dtype:?}");

        // Shuffle -> split, the shuffle reading a graph input; parts read by other ops.
        let mut g = G::new(dtype, 21);
        let x = g.input(9);
        let sh = g.shuffle(x, 9, 3);
        let ys = g.split(sh, &[3, 3, 3]);
        for y in ys {
            let r = g.relu(y, 3);
            g.b.output(r).unwrap();
        }
        let built = fused_and_plain(&g);
        assert_eq!(count(&built, OpKind::ConcatShuffleSplit), 1, "{dtype:?}");
        assert_eq!(count(&built, OpKind::Split), 0, "{dtype:?}");
        assert_eq!(built.report.op_count, 4, "{dtype:?}");
        let want = naive(&g.inputs, &[9], 3, 3, dtype.size());
        let model_out = run_built(&built, &g.inputs);
        if dtype == DType::F32 {
            // The inputs are in -4..4, so after the ReLU each part is its shuffled values
            // clamped at 0: check one element of each part against the naive shuffle.
            for (got, want) in model_out.iter().zip(&want) {
                let v = f32::from_le_bytes(want[..4].try_into().unwrap()).max(0.0);
                assert_eq!(got[..4], v.to_le_bytes());
            }
        }
    }
}

/// Two chains back to back (ShuffleNetV2 stride-1 units): the split of one unit is the head of
/// the next unit's chain; both fuse and the middle tensors disappear.
#[test]
fn consecutive_units_fuse() {
    for dtype in DTYPES {
        let mut g = G::new(dtype, 30);
        let x = g.input(8);
        let mut cur = x;
        for _ in 0..3 {
            let sh = g.shuffle(cur, 8, 2);
            let halves = g.split(sh, &[4, 4]);
            let branch = g.relu(halves[1], 4);
            cur = g.concat(&[halves[0], branch], 8);
        }
        g.b.output(cur).unwrap();
        let built = fused_and_plain(&g);
        // Unit 1: shuffle -> split (x is a graph input); units 2 and 3: concat -> shuffle
        // -> split; the last concat has no shuffle after it.
        assert_eq!(count(&built, OpKind::ConcatShuffleSplit), 3, "{dtype:?}");
        assert_eq!(count(&built, OpKind::ChannelShuffle), 0, "{dtype:?}");
        assert_eq!(count(&built, OpKind::Split), 0, "{dtype:?}");
        assert_eq!(count(&built, OpKind::Concat), 1, "{dtype:?}");
    }
}

/// An intermediate tensor with a second reader, or exposed as a graph output, keeps the op
/// that writes or reads it unfused (the rest of the chain may still fuse).
#[test]
fn shared_or_exposed_intermediates_stay() {
    for dtype in DTYPES {
        // The concat's output is also read by a ReLU: the concat stays, shuffle -> split fuses.
        let mut g = G::new(dtype, 40);
        let (cat, _, ys) = g.chain(&[3, 5], 2, 2);
        let r = g.relu(cat, 8);
        g.outputs(ys.into_iter().chain([r]));
        let built = fused_and_plain(&g);
        assert_eq!(count(&built, OpKind::Concat), 1, "{dtype:?}");
        assert_eq!(count(&built, OpKind::ConcatShuffleSplit), 1, "{dtype:?}");

        // The shuffle's output is a graph output: the split stays, concat -> shuffle fuses.
        let mut g = G::new(dtype, 41);
        let (_, sh, ys) = g.chain(&[3, 5], 4, 2);
        g.outputs(ys.into_iter().chain([sh]));
        let built = fused_and_plain(&g);
        assert_eq!(count(&built, OpKind::Split), 1, "{dtype:?}");
        assert_eq!(count(&built, OpKind::ConcatShuffleSplit), 1, "{dtype:?}");

        // Both intermediates exposed: nothing fuses.
        let mut g = G::new(dtype, 42);
        let (cat, sh, ys) = g.chain(&[3, 5], 2, 2);
        g.outputs(ys.into_iter().chain([cat, sh]));
        let built = fused_and_plain(&g);
        assert_eq!(count(&built, OpKind::ConcatShuffleSplit), 0, "{dtype:?}");
        assert_eq!(built.report.op_count, 3, "{dtype:?}");
    }
}

/// Another axis or an unequal split keeps the concat or split out of the fused op.
#[test]
fn other_axes_and_unequal_splits_stay() {
    for dtype in DTYPES {
        // Concat along W, split into unequal channel parts: only the shuffle remains, alone.
        let mut g = G::new(dtype, 50);
        let (a, b) = (g.input(6), g.input(6));
        let cat = g.tensor_q(Shape::new(1, H, 2 * W, 6), g.q);
        g.b.add_concat(&[a, b], cat, 2).unwrap();
        let sh = g.tensor_q(Shape::new(1, H, 2 * W, 6), g.q);
        g.b.add_channel_shuffle(cat, sh, 3).unwrap();
        let (y1, y2) = (
            g.tensor_q(Shape::new(1, H, 2 * W, 2), g.q),
            g.tensor_q(Shape::new(1, H, 2 * W, 4), g.q),
        );
        g.b.add_split(sh, &[y1, y2], 3).unwrap();
        g.b.output(y1).unwrap();
        g.b.output(y2).unwrap();
        let built = fused_and_plain(&g);
        assert_eq!(count(&built, OpKind::ConcatShuffleSplit), 0, "{dtype:?}");
        assert_eq!(built.report.op_count, 3, "{dtype:?}");

        // Concat along channels, split along H: concat -> shuffle fuses, the split stays.
        let mut g = G::new(dtype, 51);
        let (a, b) = (g.input(2), g.input(4));
        let cat = g.concat(&[a, b], 6);
        let sh = g.shuffle(cat, 6, 2);
        let (y1, y2) = (
            g.tensor_q(Shape::new(1, 1, W, 6), g.q),
            g.tensor_q(Shape::new(1, H - 1, W, 6), g.q),
        );
        g.b.add_split(sh, &[y1, y2], 1).unwrap();
        g.b.output(y1).unwrap();
        g.b.output(y2).unwrap();
        let built = fused_and_plain(&g);
        assert_eq!(count(&built, OpKind::ConcatShuffleSplit), 1, "{dtype:?}");
        assert_eq!(count(&built, OpKind::Split), 1, "{dtype:?}");
    }
}

/// int8 tensors whose scales differ by less than the builder's tolerance (so each op is
/// accepted) but not bit for bit: the fusion requires one exact quantization and stays out.
#[test]
fn int8_quantization_must_match_exactly() {
    let mut g = G::new(DType::S8, 60);
    let (a, b) = (g.input(3), g.input(3));
    let near = Quant::new(g.q.scale * (1.0 + 3e-7), g.q.zero_point);
    assert_ne!(near.scale.to_bits(), g.q.scale.to_bits());
    let cat = g.tensor_q(g.shape(6), near);
    g.b.add_concat(&[a, b], cat, 3).unwrap();
    let sh = g.tensor_q(g.shape(6), g.q);
    g.b.add_channel_shuffle(cat, sh, 2).unwrap();
    let (y1, y2) = (g.tensor_q(g.shape(3), g.q), g.tensor_q(g.shape(3), near));
    g.b.add_split(sh, &[y1, y2], 3).unwrap();
    g.b.output(y1).unwrap();
    g.b.output(y2).unwrap();
    let built = fused_and_plain(&g);
    assert_eq!(count(&built, OpKind::ConcatShuffleSplit), 0);
    assert_eq!(built.report.op_count, 3);

    // A different zero point on a concat input is rejected by the builder already (the
    // concatenation would have to rescale), so no such chain can reach the fusion.
    let mut g = G::new(DType::S8, 61);
    let a = g.input(3);
    let other =
        g.b.input("other", g.shape(3), DType::S8, Quant::new(0.05, 4))
            .unwrap();
    let cat = g.tensor(6);
    assert!(g.b.add_concat(&[a, other], cat, 3).is_err());
}

/// 16 channels of 15 pixels in int8 as inputs of 90 + 150 bytes and outputs of 4 x 60 bytes,
/// each padded to 16: the fused op (all six live at once) needs 512 B where the unfused ops
/// peak at 496 B, so `finish` keeps the unfused graph. In f32 the padding is the same both
/// ways and the chain fuses.
#[test]
fn fusion_is_dropped_when_padding_would_grow_the_arena() {
    for (dtype, fused_ops) in [(DType::S8, 0), (DType::F32, 1)] {
        let mut g = G::sized(dtype, 80, (3, 5));
        for y in g.chain(&[6, 10], 4, 4).2 {
            g.b.output(y).unwrap();
        }
        let built = fused_and_plain(&g);
        assert_eq!(
            count(&built, OpKind::ConcatShuffleSplit),
            fused_ops,
            "{dtype:?}"
        );
        if dtype == DType::S8 {
            assert_eq!(built.report.arena_bytes, 496);
        }
    }
}

/// `fuse_shuffles: false` keeps every op as added.
#[test]
fn fusion_can_be_turned_off() {
    let mut g = G::new(DType::S8, 70);
    for y in g.chain(&[4, 4], 2, 2).2 {
        g.b.output(y).unwrap();
    }
    let plain =
        g.b.finish(BuildOptions {
            fuse_shuffles: false,
            ..BuildOptions::default()
        })
        .unwrap();
    let kinds: Vec<OpKind> = plain.report.ops.iter().map(|o| o.kind).collect();
    assert_eq!(
        kinds,
        [OpKind::Concat, OpKind::ChannelShuffle, OpKind::Split]
    );
    let sources: Vec<Vec<usize>> = plain.report.ops.iter().map(|o| o.sources.clone()).collect();
    assert_eq!(sources, [vec![0], vec![1], vec![2]]);
}
