//! The arena of a whole MobileNetV2 (alpha 0.35, 96x96x3, 10 classes, int8; random weights,
//! the structure of `shared/models/mobilenet_v2_int8.tflite`) against TFLM's.
//!
//! TFLM's number comes from the golden manifest (`shared/golden/mobilenet_v2/manifest.json`,
//! `tflm_arena.recording_detail`: "Arena allocation head 138240 bytes", the part TFLM's greedy
//! planner lays out for activations and scratch; the tail of 72048 bytes is TFLM's interpreter
//! bookkeeping, which bfmd does not need: its tensor and op tables live in flash).

mod common;

use bfmd_graph::builder::{BuildOptions, ConvOptions, GraphBuilder, Quant, TensorId};
use bfmd_graph::{DType, OpKind, Variant};
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::Shape;
use common::*;

/// TFLM's planned activation area for this model ("Arena allocation head").
const TFLM_HEAD_BYTES: usize = 138_240;

struct Net<'a> {
    b: GraphBuilder,
    rng: &'a mut Rng,
    n: usize,
}

impl Net<'_> {
    fn q(&mut self) -> Quant {
        Quant::new(
            0.02 + 0.001 * (self.n % 7) as f32,
            -128 + (self.n % 5) as i32,
        )
    }

    fn conv(
        &mut self,
        x: TensorId,
        out_c: usize,
        k: usize,
        stride: usize,
        depthwise: bool,
        act: FusedActivation,
    ) -> TensorId {
        self.n += 1;
        let xs = self.b.shape(x).unwrap();
        let fs = if depthwise {
            Shape::new(1, k, k, xs.c)
        } else {
            Shape::new(out_c, k, k, xs.c)
        };
        let w = self.rng.i8s(fs.len());
        let scales: Vec<f32> = (0..out_c)
            .map(|i| 0.003 + 0.0001 * (i % 11) as f32)
            .collect();
        let w = self
            .b
            .constant_s8_per_channel(&format!("w{}", self.n), fs, &w, &scales)
            .unwrap();
        let bias = self
            .b
            .constant_i32(
                &format!("b{}", self.n),
                Shape::new(1, 1, 1, out_c),
                &self.rng.i32s(out_c, -500, 500),
            )
            .unwrap();
        let o = ConvOptions {
            stride: (stride, stride),
            activation: act,
            ..Default::default()
        };
        let q = self.q();
        let name = format!("t{}", self.n);
        if depthwise {
            self.b
                .depthwise_conv2d(&name, x, w, Some(bias), o, q)
                .unwrap()
        } else {
            self.b.conv2d(&name, x, w, Some(bias), o, q).unwrap()
        }
    }
}

fn mobilenet_v2(rng: &mut Rng) -> GraphBuilder {
    let mut net = Net {
        b: GraphBuilder::new(),
        rng,
        n: 0,
    };
    let x = net
        .b
        .input(
            "image",
            Shape::new(1, 96, 96, 3),
            DType::S8,
            Quant::new(0.0078, -1),
        )
        .unwrap();
    let relu6 = FusedActivation::Relu6;
    let mut t = net.conv(x, 16, 3, 2, false, relu6);
    // (expansion, channels, repeats, first stride) of MobileNetV2 at alpha 0.35.
    for (e, c, n, s) in [
        (1, 8, 1, 1),
        (6, 8, 2, 2),
        (6, 16, 3, 2),
        (6, 24, 4, 2),
        (6, 32, 3, 1),
        (6, 56, 3, 2),
        (6, 112, 1, 1),
    ] {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            let in_c = net.b.shape(t).unwrap().c;
            let h = if e == 1 {
                t
            } else {
                net.conv(t, in_c * e, 1, 1, false, relu6)
            };
            let h = net.conv(h, in_c * e, 3, stride, true, relu6);
            let h = net.conv(h, c, 1, 1, false, FusedActivation::None);
            t = if stride == 1 && in_c == c {
                let q = net.q();
                net.b
                    .add(&format!("add{}", net.n), t, h, FusedActivation::None, q)
                    .unwrap()
            } else {
                h
            };
        }
    }
    let t = net.conv(t, 1280, 1, 1, false, relu6);
    let m = net.b.mean("gap", t, Quant::new(0.02, -128)).unwrap();
    let w = net.rng.i8s(12800);
    let w = net
        .b
        .constant_s8("fc/w", Shape::new(10, 1, 1, 1280), &w, Quant::new(0.004, 0))
        .unwrap();
    let l = net
        .b
        .fully_connected(
            "logits",
            m,
            w,
            None,
            FusedActivation::None,
            Quant::new(0.1, 0),
        )
        .unwrap();
    let y = net
        .b
        .softmax("prob", l, 1.0, Quant::new(1.0 / 256.0, -128))
        .unwrap();
    net.b.output(y).unwrap();
    net.b
}

#[test]
fn mobilenet_v2_arena_beats_tflm() {
    let b = mobilenet_v2(&mut Rng::new(7));
    let plain = b
        .finish(BuildOptions {
            in_place: false,
            ..BuildOptions::default()
        })
        .unwrap();
    let best = b.finish(BuildOptions::default()).unwrap();
    let r = &best.report;
    println!("{r}");
    // The same op list as the TFLite model: 35 convolutions, 17 depthwise, 10 adds, mean, FC,
    // softmax.
    let count = |k| r.ops.iter().filter(|o| o.kind == k).count();
    assert_eq!(
        (
            r.op_count,
            count(OpKind::Conv2d),
            count(OpKind::DepthwiseConv2d),
            count(OpKind::Add)
        ),
        (65, 35, 17, 10)
    );
    // Multiply-accumulates of the convolutions and the classifier, as the manifest counts them.
    let conv_like = [
        OpKind::Conv2d,
        OpKind::DepthwiseConv2d,
        OpKind::FullyConnected,
    ];
    let macs: u64 = r
        .ops
        .iter()
        .filter(|o| conv_like.contains(&o.kind))
        .map(|o| o.macs)
        .sum();
    assert_eq!(macs, 10_666_928);
    // Plain greedy over the same tensors is exactly TFLM's planned head: the peak is the
    // second block's expansion (48x48x48) next to its stride-2 depthwise output (24x24x48).
    assert_eq!(plain.report.arena_bytes, TFLM_HEAD_BYTES);
    assert_eq!(r.greedy_bytes, TFLM_HEAD_BYTES);
    // In place, that depthwise overwrites the expansion (plus one 48x48 plane of scratch).
    assert_eq!(r.arena_bytes, 48 * 48 * 48 + 48 * 48);
    assert!(r.ops.iter().any(|o| o.variant == Variant::Overlapping));

    // Both plans compute the same bytes on a real input.
    let x: Vec<i8> = Rng::new(8).i8s(96 * 96 * 3);
    let a = run_built(&plain, &[b8(&x)]);
    let c = run_built(&best, &[b8(&x)]);
    assert_eq!(a, c);
}
