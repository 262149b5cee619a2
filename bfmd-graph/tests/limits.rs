//! The parser's limits and its checks of the header's arena size and of reserved fields, on
//! the hostile reproducers of issue 16 (`tests/data/hostile/`, see its README) and on targeted
//! edits of a small built model (CRC recomputed, so only the deep checks can stop them).

use bfmd_graph::builder::{BuildOptions, GraphBuilder, ModelBytes, PoolOptions, Quant};
use bfmd_graph::format::{header, HEADER_LEN, OP_HEADER_LEN, TENSOR_LEN};
use bfmd_graph::{crc32, DType, GraphError, Limits, Model, OpKind};
use bfmd_kernels::{Padding, Shape};
use std::time::{Duration, Instant};

const WORK_PER_OP: &str = "work per op (MACs, window taps or element operations)";

fn hostile(name: &str) -> ModelBytes {
    let path = format!(
        "{}/../tests/data/hostile/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    ModelBytes::from_bytes(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

/// Parses with `limits`, checking that the answer takes well under a second.
fn parse_timed(blob: &ModelBytes, limits: &Limits) -> Result<usize, GraphError> {
    let t = Instant::now();
    let r = Model::parse_with_limits(blob.as_bytes(), limits).map(|m| m.arena_bytes());
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "parse took {:?}",
        t.elapsed()
    );
    r
}

fn work_error(value: u64, limit: u64) -> GraphError {
    GraphError::Limit {
        op: Some(0),
        kind: Some(OpKind::MaxPool2d),
        tensor: None,
        what: WORK_PER_OP,
        value,
        limit,
    }
}

/// Window taps of a stride-1 valid pooling of a `side`x`side` single-channel input with a
/// `k`x`k` window: `(side - k + 1)^2` outputs of `k^2` taps.
fn taps(side: u64, k: u64) -> u64 {
    (side - k + 1).pow(2) * k * k
}

#[test]
fn pooling_bombs_are_rejected_by_the_default_work_limit() {
    let limit = Limits::HOST.max_op_work;
    assert_eq!(limit, 1_000_000_000_000);
    let e = parse_timed(&hostile("maxpool_bomb_4096_k2048.bfmd"), &Limits::HOST).unwrap_err();
    assert_eq!(taps(4096, 2048), 17_609_370_107_904);
    assert_eq!(e, work_error(taps(4096, 2048), limit));
    assert_eq!(
        e.to_string(),
        "op 0 (MaxPool2d): work per op (MACs, window taps or element operations) is \
         17609370107904, above the limit of 1000000000000"
    );
    let e = parse_timed(&hostile("maxpool_bomb_2048_k1024.bfmd"), &Limits::HOST).unwrap_err();
    assert_eq!(e, work_error(taps(2048, 1024), limit));
    let e = parse_timed(&hostile("avgpool_bomb_f32_4096_k2048.bfmd"), &Limits::HOST).unwrap_err();
    assert_eq!(
        e,
        GraphError::Limit {
            op: Some(0),
            kind: Some(OpKind::AvgPool2d),
            tensor: None,
            what: WORK_PER_OP,
            value: taps(4096, 2048),
            limit,
        }
    );
}

#[test]
fn the_small_pooling_bomb_runs_under_the_default_and_fails_under_a_lower_limit() {
    // 4.3e9 taps (about 13 s on a host core): within the defaults, so it parses; a caller
    // with a tighter budget says so.
    let blob = hostile("maxpool_bomb_512_k256.bfmd");
    assert_eq!(
        parse_timed(&blob, &Limits::HOST),
        Ok((512 * 512 + 257 * 257usize).next_multiple_of(16))
    );
    let tight = Limits::HOST.with_work(1_000_000_000);
    assert_eq!(
        parse_timed(&blob, &tight).unwrap_err(),
        work_error(taps(512, 256), 1_000_000_000)
    );
}

/// A small planned int8 model with scratch (a depthwise in place) and a pooling.
fn small_model() -> bfmd_graph::builder::Built {
    let q = Quant::new(0.05, -3);
    let mut b = GraphBuilder::new();
    let x = b.input("x", Shape::new(1, 8, 8, 4), DType::S8, q).unwrap();
    let w = b
        .constant_s8_per_channel("w", Shape::new(1, 3, 3, 4), &[1i8; 36], &[0.02; 4])
        .unwrap();
    let o = bfmd_graph::builder::ConvOptions::default();
    let d = b.depthwise_conv2d("dw", x, w, None, o, q).unwrap();
    let p = b
        .max_pool2d(
            "pool",
            d,
            PoolOptions {
                padding: Padding::Valid,
                ..PoolOptions::square(2, 2)
            },
        )
        .unwrap();
    b.output(p).unwrap();
    b.finish(BuildOptions::default()).unwrap()
}

#[test]
fn an_arena_size_the_plan_does_not_need_is_rejected() {
    // A planned model with `arena_bytes` = 0xFFFFFFF0 (CRC fixed): a host would allocate 4 GiB.
    // (The shared reproducer `arena_4g_vww.bfmd` is an older VWW plan whose packed fully
    // connected layer had no scratch; `xtask/tests/hostile.rs` checks it still fails.)
    let built = small_model();
    let planned = built.report.arena_bytes;
    let mut blob = built.blob.as_bytes().to_vec();
    blob[header::ARENA_BYTES..header::ARENA_BYTES + 4]
        .copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    fix_crc(&mut blob);
    let e = parse_timed(&ModelBytes::from_bytes(&blob), &Limits::NONE).unwrap_err();
    assert_eq!(
        e,
        GraphError::ArenaMismatch {
            header: 0xFFFF_FFF0,
            planned
        }
    );
    blob[header::ARENA_BYTES..header::ARENA_BYTES + 4]
        .copy_from_slice(&(planned as u32).to_le_bytes());
    fix_crc(&mut blob);
    assert_eq!(
        parse_timed(&ModelBytes::from_bytes(&blob), &Limits::HOST),
        Ok(planned)
    );
}

#[test]
fn nonzero_reserved_header_bytes_are_rejected() {
    let e = parse_timed(&hostile("reserved_fields_nonzero_vww.bfmd"), &Limits::HOST).unwrap_err();
    assert_eq!(e, GraphError::Header("reserved field not zero"));
    assert_eq!(e.to_string(), "model header: reserved field not zero");
}

/// One max pooling of a `side`x`side`x`c` int8 input with a `k`x`k` window.
fn pool(side: usize, c: usize, k: usize) -> ModelBytes {
    let q = Quant::new(0.1, 0);
    let mut b = GraphBuilder::new();
    let x = b
        .input("x", Shape::new(1, side, side, c), DType::S8, q)
        .unwrap();
    let o = side - k + 1;
    let y = b.tensor("y", Shape::new(1, o, o, c), DType::S8, q).unwrap();
    let opts = PoolOptions {
        padding: Padding::Valid,
        ..PoolOptions::square(k, 1)
    };
    b.add_max_pool2d(x, y, opts).unwrap();
    b.output(y).unwrap();
    b.finish(BuildOptions::default()).unwrap().blob
}

fn fix_crc(b: &mut [u8]) {
    let c = crc32(&b[header::CRC_START..]);
    b[header::CRC..header::CRC + 4].copy_from_slice(&c.to_le_bytes());
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

#[test]
fn each_limit_names_its_quantity() {
    let blob = pool(8, 3, 3);
    // 8x8x3 input (192 bytes) and 6x6x3 output (108 bytes) at 16-byte aligned offsets.
    assert_eq!(blob.model().unwrap().arena_bytes(), 192 + 112);
    let ok = parse_timed(&blob, &Limits::HOST);
    assert_eq!(ok, Ok(304));
    let arena = Limits::HOST.with_arena_bytes(300);
    assert_eq!(
        parse_timed(&blob, &arena).unwrap_err(),
        GraphError::Limit {
            op: None,
            kind: None,
            tensor: None,
            what: "arena bytes",
            value: 304,
            limit: 300
        }
    );
    let elements = Limits {
        max_tensor_elements: 191,
        ..Limits::HOST
    };
    assert_eq!(
        parse_timed(&blob, &elements).unwrap_err().to_string(),
        "tensor 0: elements is 192, above the limit of 191"
    );
    // 108 outputs of 9 taps.
    let per_op = Limits {
        max_op_work: 971,
        ..Limits::HOST
    };
    assert_eq!(
        parse_timed(&blob, &per_op).unwrap_err(),
        work_error(972, 971)
    );
    assert_eq!(parse_timed(&blob, &per_op.with_work(972)), Ok(304));
    let total = Limits {
        max_total_work: 900,
        ..Limits::HOST
    };
    assert_eq!(
        parse_timed(&blob, &total).unwrap_err().to_string(),
        "op 0 (MaxPool2d): work per inference up to this op (MACs, window taps or element \
         operations) is 972, above the limit of 900"
    );
}

#[test]
fn the_header_arena_must_equal_the_planned_one_both_ways() {
    let blob = pool(8, 3, 3);
    for arena in [288u32, 320, 1 << 20] {
        let mut b = blob.as_bytes().to_vec();
        b[header::ARENA_BYTES..header::ARENA_BYTES + 4].copy_from_slice(&arena.to_le_bytes());
        fix_crc(&mut b);
        let e = ModelBytes::from_bytes(&b).model().unwrap_err();
        if arena < 304 {
            // Smaller than a planned region: that region is out of bounds first.
            assert!(
                matches!(
                    e,
                    GraphError::Tensor {
                        what: "arena region out of bounds",
                        ..
                    }
                ),
                "{e:?}"
            );
        } else {
            assert_eq!(
                e,
                GraphError::ArenaMismatch {
                    header: arena as usize,
                    planned: 304
                }
            );
        }
    }
}

#[test]
fn nonzero_reserved_tensor_and_op_bytes_are_rejected() {
    let blob = pool(8, 3, 3);
    let bytes = blob.as_bytes();
    let tensors = u32_at(bytes, header::TENSORS);
    for at in [3, 36, 39] {
        let mut b = bytes.to_vec();
        b[tensors + TENSOR_LEN + at] = 1;
        fix_crc(&mut b);
        assert_eq!(
            ModelBytes::from_bytes(&b).model().unwrap_err(),
            GraphError::Tensor {
                tensor: 1,
                what: "reserved field not zero"
            }
        );
    }
    let mut b = bytes.to_vec();
    b[HEADER_LEN - 1] = 0x80;
    fix_crc(&mut b);
    assert_eq!(
        ModelBytes::from_bytes(&b).model().unwrap_err(),
        GraphError::Header("reserved field not zero")
    );
    // The pooling's two u16 indices need no padding; a split into two outputs has three
    // (6 bytes) and 2 bytes of padding before its parameter words.
    let q = Quant::new(0.1, 0);
    let mut g = GraphBuilder::new();
    let x = g.input("x", Shape::new(1, 2, 2, 4), DType::S8, q).unwrap();
    let y0 = g
        .tensor("y0", Shape::new(1, 2, 2, 1), DType::S8, q)
        .unwrap();
    let y1 = g
        .tensor("y1", Shape::new(1, 2, 2, 3), DType::S8, q)
        .unwrap();
    g.add_split(x, &[y0, y1], 3).unwrap();
    g.output(y0).unwrap();
    g.output(y1).unwrap();
    let split = g.finish(BuildOptions::default()).unwrap().blob;
    let bytes = split.as_bytes();
    let ops = u32_at(bytes, header::OPS);
    let mut b = bytes.to_vec();
    b[ops + OP_HEADER_LEN + 6] = 0xAA;
    fix_crc(&mut b);
    assert_eq!(
        ModelBytes::from_bytes(&b).model().unwrap_err().to_string(),
        "op 0: reserved field not zero (index padding)"
    );
}
