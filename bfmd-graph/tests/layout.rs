//! The byte layout of a blob, decoded by hand from the documentation in `format.rs` (not with
//! the crate's reader), so that an accidental format change fails here.

use bfmd_graph::builder::{BuildOptions, ConvOptions, GraphBuilder, Quant};
use bfmd_graph::crc32;
use bfmd_graph::DType;
use bfmd_kernels::Shape;

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

#[test]
fn a_one_conv_model_has_the_documented_layout() {
    let mut b = GraphBuilder::new();
    let x = b
        .input("x", Shape::new(1, 4, 4, 2), DType::S8, Quant::new(0.5, -3))
        .unwrap();
    let w = b
        .constant_s8(
            "w",
            Shape::new(3, 1, 1, 2),
            &[1, 2, 3, 4, 5, 6],
            Quant::new(0.25, 0),
        )
        .unwrap();
    let y = b
        .tensor("y", Shape::new(1, 4, 4, 3), DType::S8, Quant::new(1.0, 0))
        .unwrap();
    b.add_conv2d(x, w, None, y, ConvOptions::default()).unwrap();
    b.output(y).unwrap();
    let built = b
        .finish(BuildOptions {
            in_place: false,
            ..BuildOptions::default()
        })
        .unwrap();
    let blob = built.blob.as_bytes();

    // Header.
    assert_eq!(&blob[..4], b"BFMD");
    assert_eq!((u16_at(blob, 4), u16_at(blob, 6)), (3, 64));
    assert_eq!(u32_at(blob, 8) as usize, blob.len());
    assert_eq!(u32_at(blob, 12), crc32(&blob[16..]));
    // Largest first: the output (48 bytes) at 0, the input (32 bytes, live at the op too) at 48.
    assert_eq!(u32_at(blob, 16), 80);
    // Tensors: x, w, y, and the builder's per-channel multipliers and shifts.
    assert_eq!(
        (
            u16_at(blob, 20),
            u16_at(blob, 22),
            u16_at(blob, 24),
            u16_at(blob, 26)
        ),
        (5, 1, 1, 1)
    );
    let tensors = u32_at(blob, 28) as usize;
    assert_eq!(tensors, 64);
    let ops = u32_at(blob, 32) as usize;
    assert_eq!(ops, 64 + 5 * 40);

    // Tensor 0 (x): s8 activation, rank 4, dims 1x4x4x2, scale 0.5, zero point -3, 32 bytes.
    let t = &blob[tensors..tensors + 40];
    assert_eq!(&t[..4], &[0, 0, 4, 0]);
    assert_eq!(
        (u32_at(t, 4), u32_at(t, 8), u32_at(t, 12), u32_at(t, 16)),
        (1, 4, 4, 2)
    );
    assert_eq!(
        (
            f32::from_bits(u32_at(t, 20)),
            u32_at(t, 24) as i32,
            u32_at(t, 32)
        ),
        (0.5, -3, 32)
    );
    // Tensor 1 (w): s8 constant at offset 0 of the 16-byte aligned constant section.
    let t = &blob[tensors + 40..tensors + 80];
    assert_eq!(&t[..2], &[0, 1]);
    let consts = u32_at(blob, 44) as usize;
    assert_eq!(consts % 16, 0);
    assert_eq!(u32_at(t, 28), 0);
    assert_eq!(&blob[consts..consts + 6], &[1, 2, 3, 4, 5, 6]);
    // Tensor 3 (multipliers): i32, 3 elements, 16-byte aligned after the 6 filter bytes.
    let t = &blob[tensors + 120..tensors + 160];
    assert_eq!((t[0], t[1], u32_at(t, 28), u32_at(t, 32)), (1, 1, 16, 12));
    // 0.5 * 0.25 / 1.0 = 0.125 = 2^30 * 2^(-2 - 31 + 1): multiplier 2^30, shift -2.
    assert_eq!(u32_at(blob, consts + 16) as i32, 1 << 30);
    let shifts = consts + u32_at(&blob[tensors + 160..], 28) as usize;
    assert_eq!(u32_at(blob, shifts) as i32, -2);

    // The op: Conv2d (1), Normal (0), 5 input slots (x, w, no bias, multipliers, shifts), 1
    // output, 15 parameter words; 16 + 12 bytes of indices + 60 of words = 88 bytes.
    let op = &blob[ops..];
    assert_eq!(&op[..4], &[1, 0, 5, 1]);
    assert_eq!((u16_at(op, 4), u16_at(op, 6)), (15, 88));
    assert_eq!(u32_at(blob, 36), 88);
    let idx: Vec<u16> = (0..6).map(|i| u16_at(op, 16 + 2 * i)).collect();
    assert_eq!(idx, [0, 1, 0xFFFF, 3, 4, 2]);
    // Words: kernel 1x1, stride 1, dilation 1, no padding, 1 group, input offset 3, output
    // offset 0, clamp -128..=127.
    let words: Vec<i32> = (0..15).map(|i| u32_at(op, 28 + 4 * i) as i32).collect();
    assert_eq!(words, [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 3, 0, -128, 127]);
    // Graph inputs then outputs.
    let io = u32_at(blob, 40) as usize;
    assert_eq!((u16_at(blob, io), u16_at(blob, io + 2)), (0, 2));
}
