//! Multi-op blocks planned with and without in-place placement: a MobileNetV2 inverted
//! residual (1x1 expand, depthwise, 1x1 project, residual add) and a ShuffleNetV2 stage (a
//! stride-2 unit with two branches, then a stride-1 unit with split, branch, concat and
//! shuffle). Outputs must be bit-identical to the kernels chained by hand on separate buffers,
//! both ways, and the in-place arena must be smaller.

mod common;

use bfmd_graph::builder::{BuildOptions, ConvOptions, GraphBuilder, Quant, TensorId};
use bfmd_graph::{DType, Variant};
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::{movement as mv, reference as r, s8, ConvGeometry, Padding, Shape};
use common::*;

/// An int8 convolution-like layer: its weights and quantization, usable both to add the op to
/// a graph and to run the kernel directly.
struct ConvS8 {
    depthwise: bool,
    g: ConvGeometry,
    w: Vec<i8>,
    scales: Vec<f32>,
    bias: Vec<i32>,
    xq: Quant,
    yq: Quant,
    act: FusedActivation,
}

impl ConvS8 {
    #[allow(clippy::too_many_arguments)]
    fn new(
        rng: &mut Rng,
        depthwise: bool,
        x: Shape,
        out_c: usize,
        k: usize,
        stride: usize,
        groups: usize,
        xq: Quant,
        yq: Quant,
        act: FusedActivation,
    ) -> Self {
        let g = ConvGeometry::new(
            x,
            out_c,
            (k, k),
            (stride, stride),
            (1, 1),
            Padding::Same,
            if depthwise { 1 } else { groups },
        )
        .unwrap();
        let fs = if depthwise {
            Shape::new(1, k, k, out_c)
        } else {
            Shape::new(out_c, k, k, x.c / groups)
        };
        ConvS8 {
            depthwise,
            g,
            w: rng.i8s(fs.len()),
            scales: (0..out_c)
                .map(|i| 0.004 + 0.0003 * (i % 7) as f32)
                .collect(),
            bias: rng.i32s(out_c, -2000, 2000),
            xq,
            yq,
            act,
        }
    }

    fn filter_shape(&self) -> Shape {
        let (k, g) = (self.g.kernel_h, self.g.groups);
        if self.depthwise {
            Shape::new(1, k, k, self.g.output.c)
        } else {
            Shape::new(self.g.output.c, k, k, self.g.input.c / g)
        }
    }

    fn add(&self, b: &mut GraphBuilder, name: &str, x: TensorId) -> TensorId {
        let w = b
            .constant_s8_per_channel(
                &format!("{name}/w"),
                self.filter_shape(),
                &self.w,
                &self.scales,
            )
            .unwrap();
        let bias = b
            .constant_i32(
                &format!("{name}/b"),
                Shape::new(1, 1, 1, self.g.output.c),
                &self.bias,
            )
            .unwrap();
        let y = b.tensor(name, self.g.output, DType::S8, self.yq).unwrap();
        let o = ConvOptions {
            stride: (self.g.stride_h, self.g.stride_w),
            groups: self.g.groups,
            activation: self.act,
            ..Default::default()
        };
        if self.depthwise {
            b.add_depthwise_conv2d(x, w, Some(bias), y, o).unwrap();
        } else {
            b.add_conv2d(x, w, Some(bias), y, o).unwrap();
        }
        y
    }

    fn run(&self, x: &[i8]) -> Vec<i8> {
        let n = self.g.output.c;
        let (mut m, mut s) = (vec![0; n], vec![0; n]);
        let p = s8::conv::ConvS8Params::from_scales(
            self.g,
            self.xq.scale,
            self.xq.zero_point,
            &self.scales,
            self.yq.scale,
            self.yq.zero_point,
            self.act,
            &mut m,
            &mut s,
        )
        .unwrap();
        let mut y = vec![0i8; self.g.output.len()];
        if self.depthwise {
            s8::depthwise::depthwise_conv_s8(&p, x, &self.w, Some(&self.bias), &mut y, &mut [])
                .unwrap();
        } else {
            s8::conv::conv_s8(&p, x, &self.w, Some(&self.bias), &mut y, &mut []).unwrap();
        }
        y
    }
}

fn add_s8_ref(a: &[i8], aq: Quant, b: &[i8], bq: Quant, yq: Quant, s: Shape) -> Vec<i8> {
    let p = s8::elementwise::AddS8Params::from_scales(
        aq.scale,
        aq.zero_point,
        bq.scale,
        bq.zero_point,
        yq.scale,
        yq.zero_point,
        FusedActivation::None,
    )
    .unwrap();
    let mut y = vec![0i8; s.len()];
    s8::elementwise::add_s8(&p, s, a, s, b, &mut y).unwrap();
    y
}

/// Builds both plans, checks outputs against `want`, returns (in-place arena, plain arena).
fn both_ways(b: &GraphBuilder, x: &[i8], want: &[i8]) -> (usize, usize) {
    let mut sizes = [0; 2];
    for (k, in_place) in [true, false].into_iter().enumerate() {
        let built = b
            .finish(BuildOptions {
                in_place,
                ..BuildOptions::default()
            })
            .unwrap();
        let got = run_built(&built, &[b8(x)]);
        assert_eq!(got[0], b8(want), "in_place = {in_place}");
        sizes[k] = built.report.arena_bytes;
        if in_place {
            println!("{}", built.report);
            assert_eq!(
                built.report.greedy_bytes,
                b.finish(BuildOptions {
                    in_place: false,
                    ..BuildOptions::default()
                })
                .unwrap()
                .report
                .arena_bytes
            );
        }
    }
    (sizes[0], sizes[1])
}

#[test]
fn mobilenet_v2_block_s8() {
    let mut rng = Rng::new(100);
    let xs = Shape::new(1, 16, 16, 16);
    let (q0, q1, q2, q3, q4) = (
        Quant::new(0.05, -2),
        Quant::new(0.03, -128),
        Quant::new(0.025, -128),
        Quant::new(0.06, 4),
        Quant::new(0.07, 1),
    );
    let expand = ConvS8::new(
        &mut rng,
        false,
        xs,
        96,
        1,
        1,
        1,
        q0,
        q1,
        FusedActivation::Relu6,
    );
    let dw = ConvS8::new(
        &mut rng,
        true,
        expand.g.output,
        96,
        3,
        1,
        1,
        q1,
        q2,
        FusedActivation::Relu6,
    );
    let project = ConvS8::new(
        &mut rng,
        false,
        dw.g.output,
        16,
        1,
        1,
        1,
        q2,
        q3,
        FusedActivation::None,
    );
    let x = rng.i8s(xs.len());

    let mut b = GraphBuilder::new();
    let xt = b.input("x", xs, DType::S8, q0).unwrap();
    let e = expand.add(&mut b, "expand", xt);
    let d = dw.add(&mut b, "dw", e);
    let p = project.add(&mut b, "project", d);
    let y = b.tensor("y", xs, DType::S8, q4).unwrap();
    b.add_add(xt, p, y, FusedActivation::None).unwrap();
    b.output(y).unwrap();

    let want = add_s8_ref(&x, q0, &project.run(&dw.run(&expand.run(&x))), q3, q4, xs);
    let (with, without) = both_ways(&b, &x, &want);
    // Plain greedy holds x, the expansion and the depthwise output at once; in place, the
    // depthwise output and the projection reuse the expansion's storage, and the depthwise
    // kernel needs one 16x16 channel plane of scratch.
    assert_eq!(without, 4096 + 2 * 24576);
    assert_eq!(with, 4096 + 24576 + 256);
    let built = b.finish(BuildOptions::default()).unwrap();
    let v: Vec<Variant> = built.report.ops.iter().map(|o| o.variant).collect();
    // The add overwrites x (its first operand, tried first), which dies there too.
    assert_eq!(
        v,
        [
            Variant::Normal,
            Variant::InPlace { input: 0 },
            Variant::Overlapping,
            Variant::InPlace { input: 0 }
        ]
    );
}

#[test]
fn mobilenet_v2_block_f32() {
    let mut rng = Rng::new(101);
    let xs = Shape::new(1, 8, 8, 8);
    let we = rng.f32s(48 * 8, -0.3, 0.3);
    let wd = rng.f32s(9 * 48, -0.3, 0.3);
    let wp = rng.f32s(8 * 48, -0.3, 0.3);
    let x = rng.f32s(xs.len(), -1.0, 1.0);
    let ge = ConvGeometry::new(xs, 48, (1, 1), (1, 1), (1, 1), Padding::Same, 1).unwrap();
    let gd = ConvGeometry::new(ge.output, 48, (3, 3), (1, 1), (1, 1), Padding::Same, 1).unwrap();
    let gp = ConvGeometry::new(gd.output, 8, (1, 1), (1, 1), (1, 1), Padding::Same, 1).unwrap();
    let relu6 = ConvOptions {
        activation: FusedActivation::Relu6,
        ..Default::default()
    };

    let mut b = GraphBuilder::new();
    let xt = b.input("x", xs, DType::F32, Quant::NONE).unwrap();
    let cw = b.constant_f32("we", Shape::new(48, 1, 1, 8), &we).unwrap();
    let e = b.tensor("e", ge.output, DType::F32, Quant::NONE).unwrap();
    b.add_conv2d(xt, cw, None, e, relu6).unwrap();
    let cw = b.constant_f32("wd", Shape::new(1, 3, 3, 48), &wd).unwrap();
    let d = b.tensor("d", gd.output, DType::F32, Quant::NONE).unwrap();
    b.add_depthwise_conv2d(e, cw, None, d, relu6).unwrap();
    let cw = b.constant_f32("wp", Shape::new(8, 1, 1, 48), &wp).unwrap();
    let p = b.tensor("p", gp.output, DType::F32, Quant::NONE).unwrap();
    b.add_conv2d(d, cw, None, p, ConvOptions::default())
        .unwrap();
    let y = b.tensor("y", xs, DType::F32, Quant::NONE).unwrap();
    b.add_add(xt, p, y, FusedActivation::None).unwrap();
    b.output(y).unwrap();

    let mut ev = vec![0f32; ge.output.len()];
    r::conv::conv_f32(
        &r::conv::ConvF32Params::new(ge, FusedActivation::Relu6),
        &x,
        &we,
        None,
        &mut ev,
    )
    .unwrap();
    let mut dv = vec![0f32; gd.output.len()];
    r::depthwise::depthwise_conv_f32(
        &r::conv::ConvF32Params::new(gd, FusedActivation::Relu6),
        &ev,
        &wd,
        None,
        &mut dv,
    )
    .unwrap();
    let mut pv = vec![0f32; gp.output.len()];
    r::conv::conv_f32(
        &r::conv::ConvF32Params::new(gp, FusedActivation::None),
        &dv,
        &wp,
        None,
        &mut pv,
    )
    .unwrap();
    let mut want = vec![0f32; xs.len()];
    r::elementwise::add_f32(
        &r::elementwise::BinaryParams::new(FusedActivation::None),
        xs,
        &x,
        xs,
        &pv,
        &mut want,
    )
    .unwrap();

    let mut sizes = [0; 2];
    for (k, in_place) in [true, false].into_iter().enumerate() {
        let built = b
            .finish(BuildOptions {
                in_place,
                ..BuildOptions::default()
            })
            .unwrap();
        let got = run_built(&built, &[b32(&x)]);
        assert_eq!(got[0], b32(&want), "in_place = {in_place}");
        sizes[k] = built.report.arena_bytes;
    }
    // f32 has no overlapping 1x1 kernel: the depthwise and the add run in place.
    assert!(sizes[0] < sizes[1], "{sizes:?}");
}

#[test]
fn shufflenet_v2_stage_s8() {
    let mut rng = Rng::new(102);
    let xs = Shape::new(1, 16, 16, 32);
    let q = Quant::new(0.05, -3);
    let (qa, qb) = (Quant::new(0.04, -128), Quant::new(0.06, -5));
    let relu = FusedActivation::Relu;
    // Stride-2 unit: branch 1 = dw s2 -> 1x1; branch 2 = 1x1 -> dw s2 -> 1x1; concat; shuffle.
    let b1_dw = ConvS8::new(
        &mut rng,
        true,
        xs,
        32,
        3,
        2,
        1,
        q,
        qb,
        FusedActivation::None,
    );
    let b1_pw = ConvS8::new(&mut rng, false, b1_dw.g.output, 32, 1, 1, 1, qb, q, relu);
    let b2_pw1 = ConvS8::new(&mut rng, false, xs, 32, 1, 1, 1, q, qa, relu);
    let b2_dw = ConvS8::new(
        &mut rng,
        true,
        xs,
        32,
        3,
        2,
        1,
        qa,
        qb,
        FusedActivation::None,
    );
    let b2_pw2 = ConvS8::new(&mut rng, false, b2_dw.g.output, 32, 1, 1, 1, qb, q, relu);
    let hs = Shape::new(1, 8, 8, 32);
    let cs = Shape::new(1, 8, 8, 64);
    // Stride-1 unit on the 64 shuffled channels: split 32/32, branch on the second half.
    let u_pw1 = ConvS8::new(&mut rng, false, hs, 32, 1, 1, 1, q, qa, relu);
    let u_dw = ConvS8::new(
        &mut rng,
        true,
        hs,
        32,
        3,
        1,
        1,
        qa,
        qb,
        FusedActivation::None,
    );
    let u_pw2 = ConvS8::new(&mut rng, false, hs, 32, 1, 1, 1, qb, q, relu);
    let x = rng.i8s(xs.len());

    let mut b = GraphBuilder::new();
    let xt = b.input("x", xs, DType::S8, q).unwrap();
    let t1 = b1_dw.add(&mut b, "b1_dw", xt);
    let t1 = b1_pw.add(&mut b, "b1_pw", t1);
    let t2 = b2_pw1.add(&mut b, "b2_pw1", xt);
    let t2 = b2_dw.add(&mut b, "b2_dw", t2);
    let t2 = b2_pw2.add(&mut b, "b2_pw2", t2);
    let cat = b.tensor("cat", cs, DType::S8, q).unwrap();
    b.add_concat(&[t1, t2], cat, 3).unwrap();
    let sh = b.tensor("shuffle", cs, DType::S8, q).unwrap();
    b.add_channel_shuffle(cat, sh, 2).unwrap();
    let left = b.tensor("left", hs, DType::S8, q).unwrap();
    let right = b.tensor("right", hs, DType::S8, q).unwrap();
    b.add_split(sh, &[left, right], 3).unwrap();
    let r1 = u_pw1.add(&mut b, "u_pw1", right);
    let r1 = u_dw.add(&mut b, "u_dw", r1);
    let r1 = u_pw2.add(&mut b, "u_pw2", r1);
    let cat2 = b.tensor("cat2", cs, DType::S8, q).unwrap();
    b.add_concat(&[left, r1], cat2, 3).unwrap();
    let y = b.tensor("y", cs, DType::S8, q).unwrap();
    b.add_channel_shuffle(cat2, y, 2).unwrap();
    b.output(y).unwrap();

    let v1 = b1_pw.run(&b1_dw.run(&x));
    let v2 = b2_pw2.run(&b2_dw.run(&b2_pw1.run(&x)));
    let mut c = vec![0i8; cs.len()];
    mv::concat::concat(mv::Axis::C, &[(&v1[..], hs), (&v2[..], hs)], &mut c).unwrap();
    let mut s = vec![0i8; cs.len()];
    mv::shuffle::channel_shuffle(2, &c, cs, &mut s).unwrap();
    let (mut l, mut rt) = (vec![0i8; hs.len()], vec![0i8; hs.len()]);
    mv::split::split(mv::Axis::C, &s, cs, &mut [&mut l[..], &mut rt[..]]).unwrap();
    let rv = u_pw2.run(&u_dw.run(&u_pw1.run(&rt)));
    mv::concat::concat(mv::Axis::C, &[(&l[..], hs), (&rv[..], hs)], &mut c).unwrap();
    let mut want = vec![0i8; cs.len()];
    mv::shuffle::channel_shuffle(2, &c, cs, &mut want).unwrap();

    let (with, without) = both_ways(&b, &x, &want);
    assert!(with < without, "in place {with} vs plain {without}");
}
