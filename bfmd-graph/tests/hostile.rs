//! Hostile blobs: truncations, bit flips, and field overwrites with the CRC recomputed (so the
//! deep validation, not just the checksum, is exercised). `Model::parse` must return `Err`
//! (or `Ok` for a still-consistent blob) and never panic; a blob that parses must run without
//! panicking or touching memory outside the arena.

mod common;

use bfmd_graph::builder::{
    BuildOptions, ConvOptions, GraphBuilder, ModelBytes, PoolOptions, Quant,
};
use bfmd_graph::exec::run;
use bfmd_graph::format::{header, HEADER_LEN, TENSOR_LEN};
use bfmd_graph::{crc32, DType, GraphError, Model, OpKind};
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::{Padding, Shape};
use common::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A small int8 model touching most op kinds, so that corruption reaches every validator.
fn zoo() -> ModelBytes {
    let mut rng = Rng::new(200);
    let q = Quant::new(0.05, -3);
    let mut b = GraphBuilder::new();
    let x = b.input("x", Shape::new(1, 6, 6, 4), DType::S8, q).unwrap();
    let w = b
        .constant_s8_per_channel("w", Shape::new(8, 1, 1, 4), &rng.i8s(32), &[0.01; 8])
        .unwrap();
    let c = b.tensor("c", Shape::new(1, 6, 6, 8), DType::S8, q).unwrap();
    b.add_conv2d(x, w, None, c, ConvOptions::default()).unwrap();
    let wd = b
        .constant_s8_per_channel("wd", Shape::new(1, 3, 3, 8), &rng.i8s(72), &[0.02; 8])
        .unwrap();
    let bd = b
        .constant_i32("bd", Shape::new(1, 1, 1, 8), &rng.i32s(8, -99, 99))
        .unwrap();
    let d = b.tensor("d", Shape::new(1, 3, 3, 8), DType::S8, q).unwrap();
    let o = ConvOptions {
        stride: (2, 2),
        activation: FusedActivation::Relu6,
        ..Default::default()
    };
    b.add_depthwise_conv2d(c, wd, Some(bd), d, o).unwrap();
    let hs = b
        .tensor("hs", Shape::new(1, 3, 3, 8), DType::S8, q)
        .unwrap();
    b.add_unary(OpKind::HardSwish, d, hs).unwrap();
    let (s1, s2) = (
        b.tensor("s1", Shape::new(1, 3, 3, 3), DType::S8, q)
            .unwrap(),
        b.tensor("s2", Shape::new(1, 3, 3, 5), DType::S8, q)
            .unwrap(),
    );
    b.add_split(hs, &[s1, s2], 3).unwrap();
    let p = b.tensor("p", Shape::new(1, 4, 3, 3), DType::S8, q).unwrap();
    b.add_pad(s1, p, [0, 1, 0, 0], [0; 4], 0.0).unwrap();
    let t = b.tensor("t", Shape::new(1, 3, 4, 3), DType::S8, q).unwrap();
    b.add_transpose(p, t, [0, 2, 1, 3]).unwrap();
    let mp = b
        .tensor("mp", Shape::new(1, 3, 3, 5), DType::S8, q)
        .unwrap();
    b.add_max_pool2d(
        s2,
        mp,
        PoolOptions {
            kernel: (2, 2),
            stride: (1, 1),
            padding: Padding::Same,
            ..PoolOptions::square(2, 1)
        },
    )
    .unwrap();
    let mean = b
        .tensor(
            "mean",
            Shape::new(1, 1, 1, 5),
            DType::S8,
            Quant::new(0.02, 1),
        )
        .unwrap();
    b.add_mean(mp, mean).unwrap();
    let g = b.tensor("g", Shape::new(1, 3, 3, 5), DType::S8, q).unwrap();
    b.add_mul(mp, mean, g, FusedActivation::None).unwrap();
    let cat = b
        .tensor("cat", Shape::new(1, 3, 3, 8), DType::S8, q)
        .unwrap();
    let t2 = b
        .tensor("t2", Shape::new(1, 3, 3, 3), DType::S8, q)
        .unwrap();
    b.add_max_pool2d(
        t,
        t2,
        PoolOptions {
            kernel: (1, 2),
            stride: (1, 1),
            padding: Padding::Valid,
            ..PoolOptions::square(1, 1)
        },
    )
    .unwrap();
    b.add_concat(&[t2, g], cat, 3).unwrap();
    let flat = b
        .tensor("flat", Shape::new(1, 1, 1, 72), DType::S8, q)
        .unwrap();
    b.add_reshape(cat, flat).unwrap();
    let fw = b
        .constant_s8(
            "fw",
            Shape::new(10, 1, 1, 72),
            &rng.i8s(720),
            Quant::new(0.01, 0),
        )
        .unwrap();
    let logits = b
        .tensor(
            "logits",
            Shape::new(1, 1, 1, 10),
            DType::S8,
            Quant::new(0.1, 0),
        )
        .unwrap();
    b.add_fully_connected(flat, fw, None, logits, FusedActivation::None)
        .unwrap();
    let prob = b
        .tensor(
            "prob",
            Shape::new(1, 1, 1, 10),
            DType::S8,
            Quant::new(1.0 / 256.0, -128),
        )
        .unwrap();
    b.add_softmax(logits, prob, 1.0).unwrap();
    b.output(prob).unwrap();
    b.finish(BuildOptions::default()).unwrap().blob
}

/// A float model (f32 and f16 halves) whose plan uses in-place depthwise, add and activations.
fn float_zoo() -> ModelBytes {
    let mut rng = Rng::new(203);
    let n = Quant::NONE;
    let mut b = GraphBuilder::new();
    let x = b.input("x", Shape::new(1, 6, 6, 4), DType::F32, n).unwrap();
    let w = b
        .constant_f32("w", Shape::new(8, 1, 1, 4), &rng.f32s(32, -1.0, 1.0))
        .unwrap();
    let c = b
        .conv2d("c", x, w, None, ConvOptions::default(), n)
        .unwrap();
    let wd = b
        .constant_f32("wd", Shape::new(1, 3, 3, 8), &rng.f32s(72, -1.0, 1.0))
        .unwrap();
    let d = b
        .depthwise_conv2d("d", c, wd, None, ConvOptions::default(), n)
        .unwrap();
    let s = b.unary("s", OpKind::Swish, d, n).unwrap();
    let a = b.add("a", s, c, FusedActivation::Relu, n).unwrap();
    let m = b.mean("m", a, n).unwrap();
    let g = b.mul("g", a, m, FusedActivation::None, n).unwrap();
    let q = b.quantize("q", g, Quant::new(0.05, 0)).unwrap();
    let r = b.unary("r", OpKind::Relu, q, Quant::new(0.05, 0)).unwrap();
    let y = b.dequantize("y", r).unwrap();
    b.output(y).unwrap();
    let h = b.input("h", Shape::new(1, 4, 4, 6), DType::F16, n).unwrap();
    let hw = b
        .constant_f16("hw", Shape::new(1, 3, 3, 6), &h16(&rng.f32s(54, -1.0, 1.0)))
        .unwrap();
    let hd = b
        .depthwise_conv2d("hd", h, hw, None, ConvOptions::default(), n)
        .unwrap();
    let hp = b.max_pool2d("hp", hd, PoolOptions::square(2, 2)).unwrap();
    let hs = b.softmax("hs", hp, 1.0, n).unwrap();
    b.output(hs).unwrap();
    b.finish(BuildOptions::default()).unwrap().blob
}

/// Two fused channel-shuffle chains (`ConcatShuffleSplit`): int8 concat -> shuffle(3) ->
/// split into 3, and f16 shuffle(2) -> split into 2.
fn shuffle_zoo() -> ModelBytes {
    let q = Quant::new(0.05, -3);
    let mut b = GraphBuilder::new();
    let s = |c| Shape::new(1, 2, 2, c);
    let x1 = b.input("x1", s(3), DType::S8, q).unwrap();
    let x2 = b.input("x2", s(3), DType::S8, q).unwrap();
    let cat = b.tensor("cat", s(6), DType::S8, q).unwrap();
    b.add_concat(&[x1, x2], cat, 3).unwrap();
    let sh = b.tensor("sh", s(6), DType::S8, q).unwrap();
    b.add_channel_shuffle(cat, sh, 3).unwrap();
    let parts: Vec<_> = (0..3)
        .map(|k| b.tensor(&format!("p{k}"), s(2), DType::S8, q).unwrap())
        .collect();
    b.add_split(sh, &parts, 3).unwrap();
    let r = b.tensor("r", s(2), DType::S8, q).unwrap();
    b.add_unary(OpKind::Relu, parts[0], r).unwrap();
    for t in [r, parts[1], parts[2]] {
        b.output(t).unwrap();
    }
    let n = Quant::NONE;
    let e = b.input("e", s(4), DType::F16, n).unwrap();
    let esh = b.tensor("esh", s(4), DType::F16, n).unwrap();
    b.add_channel_shuffle(e, esh, 2).unwrap();
    let (e1, e2) = (
        b.tensor("e1", s(2), DType::F16, n).unwrap(),
        b.tensor("e2", s(2), DType::F16, n).unwrap(),
    );
    b.add_split(esh, &[e1, e2], 3).unwrap();
    b.output(e1).unwrap();
    b.output(e2).unwrap();
    b.finish(BuildOptions::default()).unwrap().blob
}

fn h16(v: &[f32]) -> Vec<bfmd_kernels::half::f16> {
    h(v)
}

thread_local! {
    /// Errors returned by runs of blobs that parsed (the tests expect none: parse checks every
    /// parameter the kernels check).
    static RUN_ERRORS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Parses and, if that succeeds, runs `bytes` (copied to aligned storage) under
/// `catch_unwind`; returns whether it parsed. A panic fails the test with `what`.
fn parse_and_run(bytes: &[u8], what: &str) -> bool {
    let blob = ModelBytes::from_bytes(bytes);
    let r = catch_unwind(AssertUnwindSafe(|| {
        let Ok(m) = blob.model() else {
            return false;
        };
        // Hostile arena sizes are capped so the test cannot exhaust memory; larger ones are
        // still parsed above.
        if m.arena_bytes() <= 1 << 20 {
            let mut a = arena(m.arena_bytes());
            let arena = bytes_mut(&mut a);
            for i in 0..m.input_count() {
                for (k, v) in m.input_mut(arena, i).unwrap().iter_mut().enumerate() {
                    *v = (k * 37) as u8;
                }
            }
            if let Err(e) = run(&m, arena, None) {
                RUN_ERRORS.with(|v| v.borrow_mut().push(e.to_string()));
            }
        }
        true
    }));
    match r {
        Ok(parsed) => parsed,
        Err(_) => panic!("panic on hostile blob ({what})"),
    }
}

fn fix_crc(b: &mut [u8]) {
    let c = crc32(&b[header::CRC_START..]);
    b[header::CRC..header::CRC + 4].copy_from_slice(&c.to_le_bytes());
}

#[test]
fn the_zoo_models_run() {
    assert!(parse_and_run(zoo().as_bytes(), "pristine"));
    assert!(parse_and_run(float_zoo().as_bytes(), "pristine float"));
    assert!(parse_and_run(shuffle_zoo().as_bytes(), "pristine shuffle"));
}

#[test]
fn every_truncation_is_an_error() {
    let blob = zoo();
    let bytes = blob.as_bytes();
    for n in 0..bytes.len() {
        assert!(
            !parse_and_run(&bytes[..n], "truncation"),
            "truncated to {n} bytes parsed"
        );
    }
}

#[test]
fn bit_flips_are_caught_by_the_crc() {
    let blob = zoo();
    let mut rng = Rng::new(201);
    for _ in 0..2000 {
        let mut b = blob.as_bytes().to_vec();
        let bit = rng.range(0, (b.len() * 8 - 1) as i64) as usize;
        b[bit / 8] ^= 1 << (bit % 8);
        assert!(
            !parse_and_run(&b, "bit flip"),
            "bit {bit} flipped still parses"
        );
    }
}

#[test]
fn overwrites_with_a_valid_crc_never_panic() {
    overwrite_campaign(&zoo(), 202);
}

#[test]
fn overwrites_of_a_float_model_never_panic() {
    overwrite_campaign(&float_zoo(), 204);
}

#[test]
fn overwrites_of_fused_shuffles_never_panic() {
    overwrite_campaign(&shuffle_zoo(), 205);
}

/// Byte offset of the record of op `index` in the op table.
fn op_record(b: &[u8], index: usize) -> usize {
    let mut at = u32::from_le_bytes(b[header::OPS..header::OPS + 4].try_into().unwrap()) as usize;
    for _ in 0..index {
        at += u16::from_le_bytes([b[at + 6], b[at + 7]]) as usize;
    }
    at
}

#[test]
fn fused_shuffle_corruptions_name_the_problem() {
    let blob = shuffle_zoo();
    let m = blob.model().unwrap();
    let kinds: Vec<OpKind> = m.ops().map(|o| o.kind).collect();
    assert_eq!(
        kinds,
        [
            OpKind::ConcatShuffleSplit,
            OpKind::Relu,
            OpKind::ConcatShuffleSplit
        ]
    );
    let op0 = m.ops().next().unwrap();
    let err = |b: &[u8], what: &'static str, tensor: Option<usize>| {
        assert_eq!(
            parse_err(b),
            GraphError::Op {
                op: 0,
                kind: Some(OpKind::ConcatShuffleSplit),
                tensor,
                what
            }
        );
    };
    // Groups that do not divide the 6 channels (the last word of the record).
    let rec = op_record(blob.as_bytes(), 0);
    let len = u16::from_le_bytes([blob.as_bytes()[rec + 6], blob.as_bytes()[rec + 7]]) as usize;
    let mut b = blob.as_bytes().to_vec();
    b[rec + len - 4..rec + len].copy_from_slice(&4u32.to_le_bytes());
    fix_crc(&mut b);
    err(&b, "channels not divisible by groups", None);
    // An output scale one ulp away: the kernel copies bytes, so it would not rescale.
    let p1 = op0.output(1);
    let scale = m.tensor(p1).unwrap().scale;
    let mut b = blob.as_bytes().to_vec();
    tensor_field(&mut b, p1, 20, scale.to_bits() + 1);
    err(
        &b,
        "quantization differs (data is moved, not rescaled)",
        Some(p1),
    );
    // An input's zero point changed.
    let x2 = op0.input(1).unwrap();
    let mut b = blob.as_bytes().to_vec();
    tensor_field(&mut b, x2, 24, 5);
    err(
        &b,
        "quantization differs (data is moved, not rescaled)",
        Some(x2),
    );
    // An input one row shorter (its byte length follows the shape).
    let mut b = blob.as_bytes().to_vec();
    tensor_field(&mut b, x2, 8, 1);
    tensor_field(&mut b, x2, 32, 6);
    err(&b, "n, h, w differ from the outputs'", Some(x2));
    // Outputs that are not equal parts: the first part one channel wider (with the byte
    // length to match; the shape checks come before the memory checks).
    let p0 = op0.output(0);
    let mut b = blob.as_bytes().to_vec();
    tensor_field(&mut b, p0, 16, 3);
    tensor_field(&mut b, p0, 32, 12);
    err(
        &b,
        "outputs must split the input channels into equal parts",
        None,
    );
}

fn overwrite_campaign(blob: &ModelBytes, default_seed: u64) {
    let len = blob.as_bytes().len();
    // `BFMD_HOSTILE_ITERS` runs a longer campaign locally; CI runs the default.
    let iters: usize = std::env::var("BFMD_HOSTILE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6000);
    let seed: u64 = std::env::var("BFMD_HOSTILE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_seed);
    let mut rng = Rng::new(seed);
    let mut parsed = 0;
    // The tables (tensor, op and io records) end where the constant section starts.
    let consts = &blob.as_bytes()[header::CONSTS..header::CONSTS + 4];
    let tables_end = u32::from_le_bytes(consts.try_into().unwrap()) as usize;
    for i in 0..iters {
        let mut b = blob.as_bytes().to_vec();
        // Mostly the tables (where offsets, indices, shapes and parameters live), sometimes
        // the header; 1-4 bytes, random or extreme values.
        let n = rng.range(1, 4);
        for _ in 0..n {
            let at = match i % 5 {
                0 => rng.range(16, HEADER_LEN as i64 - 1),
                1 => rng.range(HEADER_LEN as i64, len as i64 - 1),
                _ => rng.range(HEADER_LEN as i64, tables_end as i64 - 1),
            } as usize;
            b[at] = match rng.range(0, 3) {
                0 => 0,
                1 => 0xFF,
                _ => rng.next_u64() as u8,
            };
        }
        fix_crc(&mut b);
        parsed += parse_and_run(&b, "overwrite") as usize;
    }
    // Most overwrites must be rejected; the ones that parse (weights, harmless fields) ran.
    println!("{parsed} of {iters} corrupted blobs parsed and ran");
    assert!(parsed < iters, "{parsed}");
    let errors = RUN_ERRORS.with(|v| std::mem::take(&mut *v.borrow_mut()));
    assert!(
        errors.is_empty(),
        "{} parsed blobs failed to run, first: {:?}",
        errors.len(),
        errors.first()
    );
}

fn tensor_field(b: &mut [u8], t: usize, field: usize, v: u32) {
    let base =
        u32::from_le_bytes(b[header::TENSORS..header::TENSORS + 4].try_into().unwrap()) as usize;
    let at = base + t * TENSOR_LEN + field;
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    fix_crc(b);
}

fn parse_err(b: &[u8]) -> GraphError {
    ModelBytes::from_bytes(b).model().unwrap_err()
}

#[test]
fn targeted_corruptions_name_the_problem() {
    let blob = zoo();
    let m = blob.model().unwrap();
    let x = m.input_tensor(0).unwrap();
    // An activation placed past the arena.
    let mut b = blob.as_bytes().to_vec();
    tensor_field(&mut b, x, 28, m.arena_bytes() as u32);
    assert_eq!(
        parse_err(&b),
        GraphError::Tensor {
            tensor: x,
            what: "arena region out of bounds"
        }
    );
    // A constant whose data lies outside the constant section.
    let w = (0..m.tensor_count())
        .find(|&t| m.tensor(t).unwrap().kind == bfmd_graph::TensorKind::Constant)
        .unwrap();
    let mut b = blob.as_bytes().to_vec();
    tensor_field(&mut b, w, 28, 0x7FFF_FFF0);
    assert_eq!(
        parse_err(&b),
        GraphError::Tensor {
            tensor: w,
            what: "constant data out of bounds"
        }
    );
    // A byte length that disagrees with the shape.
    let mut b = blob.as_bytes().to_vec();
    tensor_field(&mut b, x, 32, 7);
    assert_eq!(
        parse_err(&b),
        GraphError::Tensor {
            tensor: x,
            what: "byte length does not match shape and dtype"
        }
    );
    // The first op's output moved onto its input: an overlap the Normal variant forbids, or a
    // region mismatch; either way op 0 is named.
    let op0 = m.ops().next().unwrap();
    let out = op0.output(0);
    let mut b = blob.as_bytes().to_vec();
    tensor_field(&mut b, out, 28, m.tensor(x).unwrap().region.start as u32);
    match parse_err(&b) {
        GraphError::Op {
            op: 0,
            kind: Some(OpKind::Conv2d),
            ..
        }
        | GraphError::Tensor { .. } => {}
        e => panic!("unexpected {e:?}"),
    }
    // An op input index past the tensor table.
    let ops_off = u32::from_le_bytes(
        blob.as_bytes()[header::OPS..header::OPS + 4]
            .try_into()
            .unwrap(),
    ) as usize;
    let mut b = blob.as_bytes().to_vec();
    b[ops_off + 16..ops_off + 18].copy_from_slice(&999u16.to_le_bytes());
    fix_crc(&mut b);
    assert_eq!(
        parse_err(&b),
        GraphError::Op {
            op: 0,
            kind: Some(OpKind::Conv2d),
            tensor: Some(999),
            what: "tensor index out of range"
        }
    );
    // A bad magic, a bad version, a wrong CRC.
    let mut b = blob.as_bytes().to_vec();
    b[0] = b'X';
    assert_eq!(
        parse_err(&b),
        GraphError::Header("bad magic (not a bfmd model)")
    );
    let mut b = blob.as_bytes().to_vec();
    b[4] = 9;
    assert_eq!(
        parse_err(&b),
        GraphError::Header("unsupported format version")
    );
    let mut b = blob.as_bytes().to_vec();
    let last = b.len() - 1;
    b[last] ^= 0x40;
    assert_eq!(
        parse_err(&b),
        GraphError::Header("CRC mismatch (corrupted model)")
    );
}

#[test]
fn misaligned_blobs_and_arenas_are_errors() {
    let blob = zoo();
    let bytes = blob.as_bytes();
    let mut shifted = vec![0u128; bytes.len() / 16 + 2];
    let raw = bytes_mut(&mut shifted);
    raw[1..1 + bytes.len()].copy_from_slice(bytes);
    assert_eq!(
        Model::parse(&raw[1..1 + bytes.len()]).unwrap_err(),
        GraphError::Misaligned {
            what: "model blob",
            align: 16
        }
    );
    let m = blob.model().unwrap();
    let mut a = arena(m.arena_bytes() + 16);
    let arena = bytes_mut(&mut a);
    let n = m.arena_bytes();
    assert_eq!(
        run(&m, &mut arena[1..1 + n], None).unwrap_err(),
        GraphError::Misaligned {
            what: "arena",
            align: 16
        }
    );
    assert_eq!(
        run(&m, &mut arena[..n - 1], None).unwrap_err(),
        GraphError::ArenaTooSmall {
            needed: n,
            got: n - 1
        }
    );
    // Typed accessors check the element type.
    assert!(matches!(
        m.input_mut_as::<f32>(arena, 0),
        Err(GraphError::Io { .. })
    ));
    assert_eq!(m.input_mut_as::<i8>(arena, 0).unwrap().len(), 144);
    assert!(matches!(
        m.output_as::<i8>(arena, 1),
        Err(GraphError::Io { index: 1, .. })
    ));
}

/// The small models of this file are the seeds of the `bfmd_blob` fuzz target
/// (`tests/data/fuzz/bfmd_blob/`, read by `cargo xtask fuzz`): committed, and checked here to
/// be what the builder makes today. `BFMD_UPDATE_FUZZ_SEEDS=1 cargo test -p bfmd-graph --test
/// hostile` rewrites them.
#[test]
fn fuzz_seeds_are_current() {
    // The seeds are the plans the fuzzer's host (x86-64: the portable kernels) makes; a host
    // with other kernels (aarch64: NEON) plans other scratch sizes, so its blobs differ.
    if bfmd_graph::KernelPath::HOST != bfmd_graph::KernelPath::Portable {
        eprintln!("fuzz seeds are x86-64 plans; not compared on this host's kernel path");
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/fuzz/bfmd_blob");
    let update = std::env::var_os("BFMD_UPDATE_FUZZ_SEEDS").is_some();
    for (name, blob) in [
        ("zoo_int8.bfmd", zoo()),
        ("zoo_float.bfmd", float_zoo()),
        ("zoo_shuffle.bfmd", shuffle_zoo()),
    ] {
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, blob.as_bytes()).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == blob.as_bytes(),
            "{} is stale: rerun with BFMD_UPDATE_FUZZ_SEEDS=1",
            path.display()
        );
    }
}

/// A finding of the `bfmd_blob` fuzz target (`tests/data/hostile/fuzz_*`, as libFuzzer wrote
/// it: the target recomputes the CRC before parsing, so the test does too).
fn fuzz_finding(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/hostile")
        .join(name);
    let mut b = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // As `bfmd_fuzz::fix_crc`: over the recorded length (libFuzzer may leave bytes after it).
    let total = u32::from_le_bytes(b[8..12].try_into().unwrap()) as usize;
    let end = total.clamp(header::CRC_START, b.len());
    let c = crc32(&b[header::CRC_START..end]);
    b[header::CRC..header::CRC + 4].copy_from_slice(&c.to_le_bytes());
    b
}

#[test]
fn a_float_pooling_window_entirely_in_the_padding_is_rejected_by_parse() {
    // Found by `bfmd_blob` in 2 minutes: the f32 max pooling of `float_zoo` with its padding
    // raised past the window parsed (only the int8 path ran the kernel's full geometry check)
    // and then failed in the kernel.
    let b = fuzz_finding("fuzz_bfmd_blob_pool_window_in_padding.bfmd");
    let e = parse_err(&b);
    assert_eq!(
        e.to_string(),
        "op 10 (MaxPool2d): kernel error: bad pooling window lying entirely in the padding: 2"
    );
}
