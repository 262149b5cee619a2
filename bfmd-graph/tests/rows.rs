//! Row-streamed convolutions (`Alias::Rows`, run by `rows.rs`): a convolution's output written
//! over its own input, row by row. Every case runs planned with and without in-place decisions
//! and must give the same bytes (int8, f32 and f16 alike: each output row is the same
//! computation, only restricted to the input rows it reads); the overlap must be chosen where
//! it saves memory, and a blob whose output sits anywhere but exactly `shift` below the input
//! must be rejected by `Model::parse`.

mod common;

use bfmd_graph::builder::{BuildOptions, Built, ConvOptions, GraphBuilder, Quant};
use bfmd_graph::format::{header, TENSOR_LEN};
use bfmd_graph::{DType, Model, OpKind, Variant};
use bfmd_kernels::{Padding, Shape};
use common::{b16, b32, b8, h, run_built, Rng};

/// One convolution case: input shape, output channels, kernel, stride, dilation, padding,
/// groups.
struct Case {
    name: &'static str,
    input: Shape,
    out_c: usize,
    kernel: (usize, usize),
    stride: (usize, usize),
    dilation: (usize, usize),
    padding: Padding,
    groups: usize,
}

fn cases() -> Vec<Case> {
    let c = |name, input, out_c, kernel, stride, padding| Case {
        name,
        input,
        out_c,
        kernel,
        stride,
        dilation: (1, 1),
        padding,
        groups: 1,
    };
    vec![
        // The seed models' stem: a 3-channel image, 3x3 stride 2, SAME (bottom padding).
        c(
            "stem_3x3_s2_same",
            Shape::new(1, 16, 16, 3),
            8,
            (3, 3),
            (2, 2),
            Padding::Same,
        ),
        c(
            "narrowing_3x3_s1_same",
            Shape::new(1, 9, 7, 12),
            4,
            (3, 3),
            (1, 1),
            Padding::Same,
        ),
        c(
            "widening_5x5_s1_valid",
            Shape::new(1, 10, 9, 3),
            16,
            (5, 5),
            (1, 1),
            Padding::Valid,
        ),
        c(
            "tall_3x1_stride_2x1",
            Shape::new(1, 11, 5, 4),
            6,
            (3, 1),
            (2, 1),
            Padding::Same,
        ),
        Case {
            dilation: (2, 2),
            ..c(
                "dilated_3x3",
                Shape::new(1, 12, 12, 4),
                8,
                (3, 3),
                (1, 1),
                Padding::Same,
            )
        },
        Case {
            groups: 2,
            ..c(
                "grouped_3x3_s2",
                Shape::new(1, 10, 10, 8),
                12,
                (3, 3),
                (2, 2),
                Padding::Same,
            )
        },
        c(
            "explicit_asymmetric_padding",
            Shape::new(1, 8, 8, 3),
            8,
            (3, 3),
            (2, 2),
            Padding::Explicit {
                top: 2,
                bottom: 0,
                left: 1,
                right: 2,
            },
        ),
        c(
            "pointwise_widening",
            Shape::new(1, 6, 6, 4),
            12,
            (1, 1),
            (1, 1),
            Padding::Valid,
        ),
    ]
}

/// Builds `input -> conv -> output` in `dtype` with seeded weights.
fn build(c: &Case, dtype: DType, in_place: bool) -> (Built, Vec<u8>) {
    let mut rng = Rng::new(c.name.len() as u64 * 31 + c.out_c as u64);
    let mut g = GraphBuilder::new();
    let s8 = dtype == DType::S8;
    let q = |scale, zp| {
        if s8 {
            Quant::new(scale, zp)
        } else {
            Quant::NONE
        }
    };
    let x = g.input("x", c.input, dtype, q(0.04, -3)).unwrap();
    let fshape = Shape::new(c.out_c, c.kernel.0, c.kernel.1, c.input.c / c.groups);
    let n = fshape.len();
    let f = match dtype {
        DType::S8 => {
            let scales: Vec<f32> = (0..c.out_c).map(|i| 0.01 + 0.001 * i as f32).collect();
            g.constant_s8_per_channel("f", fshape, &rng.i8s(n), &scales)
        }
        DType::F16 => g.constant_f16("f", fshape, &h(&rng.f32s(n, -1.0, 1.0))),
        _ => g.constant_f32("f", fshape, &rng.f32s(n, -1.0, 1.0)),
    }
    .unwrap();
    let o = ConvOptions {
        stride: c.stride,
        dilation: c.dilation,
        padding: c.padding,
        groups: c.groups,
        ..ConvOptions::default()
    };
    let y = g.conv2d("y", x, f, None, o, q(0.2, 5)).unwrap();
    g.output(y).unwrap();
    let len = c.input.len();
    let input = match dtype {
        DType::S8 => b8(&rng.i8s(len)),
        DType::F16 => b16(&h(&rng.f32s(len, -2.0, 2.0))),
        _ => b32(&rng.f32s(len, -2.0, 2.0)),
    };
    (
        g.finish(BuildOptions {
            in_place,
            ..BuildOptions::default()
        })
        .unwrap(),
        input,
    )
}

#[test]
fn row_streamed_convolutions_compute_what_the_plain_plan_computes() {
    for c in cases() {
        for dtype in [DType::S8, DType::F32, DType::F16] {
            let (plain, input) = build(&c, dtype, false);
            let (rows, _) = build(&c, dtype, true);
            let what = format!("{} {dtype:?}", c.name);
            let r = &rows.report;
            assert_eq!(r.ops[0].kind, OpKind::Conv2d);
            // With the input dying at the convolution, writing over it always saves memory.
            assert_eq!(r.ops[0].variant, Variant::Overlapping, "{what}:\n{r}");
            assert!(r.arena_bytes < plain.report.arena_bytes, "{what}:\n{r}");
            assert_eq!(
                run_built(&rows, std::slice::from_ref(&input)),
                run_built(&plain, &[input]),
                "{what}"
            );
        }
    }
}

#[test]
fn the_stem_fits_in_the_input_image_plus_the_shift() {
    // 96x96x3 int8 to 48x48x24: 27 648 + 55 296 bytes side by side; row-streamed, the output
    // starts 28 224 bytes below the image (see `rows.rs`), so 55 872 bytes in all.
    let c = Case {
        name: "stem_96",
        input: Shape::new(1, 96, 96, 3),
        out_c: 24,
        kernel: (3, 3),
        stride: (2, 2),
        dilation: (1, 1),
        padding: Padding::Same,
        groups: 1,
    };
    let (built, _) = build(&c, DType::S8, true);
    let r = &built.report;
    assert_eq!(r.greedy_bytes, 27_648 + 55_296);
    assert_eq!(r.arena_bytes, 55_872);
    let m = built.blob.model().unwrap();
    let x = m.tensor(m.input_tensor(0).unwrap()).unwrap().region;
    let y = m.tensor(m.output_tensor(0).unwrap()).unwrap().region;
    assert_eq!(x.start - y.start, 28_224);
}

#[test]
fn a_row_streamed_output_moved_off_its_shift_is_rejected() {
    let c = &cases()[0];
    let (built, _) = build(c, DType::S8, true);
    let m = built.blob.model().unwrap();
    let t = m.output_tensor(0).unwrap();
    let at = usize::try_from(u32::from_le_bytes(
        built.blob.as_bytes()[header::TENSORS..header::TENSORS + 4]
            .try_into()
            .unwrap(),
    ))
    .unwrap()
        + t * TENSOR_LEN
        + 28;
    for delta in [16i64, -16] {
        let mut blob = built.blob.clone();
        let bytes = blob.as_bytes_mut();
        let off = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as i64 + delta;
        if off < 0 {
            continue;
        }
        bytes[at..at + 4].copy_from_slice(&(off as u32).to_le_bytes());
        let crc = bfmd_graph::crc32(&bytes[header::CRC_START..]);
        bytes[header::CRC..header::CRC + 4].copy_from_slice(&crc.to_le_bytes());
        let e = Model::parse(blob.as_bytes()).expect_err("moved output accepted");
        let text = e.to_string();
        assert!(text.contains("op 0"), "{delta}: {text}");
    }
}
