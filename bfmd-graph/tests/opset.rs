//! The kernel set a program links: `OpSet::of_model` lists exactly what a plan runs,
//! `Model::parse_for` refuses a model that needs a kernel outside the compiled set (naming the
//! op), and a `Session` for a model's own set runs it to the same bytes as the full executor.

mod common;

use bfmd_graph::builder::{BuildOptions, ConvOptions, GraphBuilder, Quant};
use bfmd_graph::{exec, Arena, DType, Form, GraphError, Linked, Model, OpKind, OpSet, Session};
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::Shape;
use common::*;

const Q: Quant = Quant::new(0.05, -1);

/// Conv (+ReLU6) -> depthwise -> mean -> fully connected -> softmax, int8.
fn classifier(rng: &mut Rng) -> bfmd_graph::builder::Built {
    let mut b = GraphBuilder::new();
    let x = b.input("x", Shape::new(1, 8, 8, 3), DType::S8, Q).unwrap();
    let w = b
        .constant_s8_per_channel("stem/w", Shape::new(8, 3, 3, 3), &rng.i8s(216), &[0.01; 8])
        .unwrap();
    let o = ConvOptions {
        stride: (2, 2),
        activation: FusedActivation::Relu6,
        ..Default::default()
    };
    let s = b.conv2d("stem", x, w, None, o, Q).unwrap();
    let w = b
        .constant_s8_per_channel("dw/w", Shape::new(1, 3, 3, 8), &rng.i8s(72), &[0.02; 8])
        .unwrap();
    let d = b
        .depthwise_conv2d("dw", s, w, None, ConvOptions::default(), Q)
        .unwrap();
    let m = b.mean("gap", d, Q).unwrap();
    let w = b
        .constant_s8(
            "fc/w",
            Shape::new(5, 1, 1, 8),
            &rng.i8s(40),
            Quant::new(0.01, 0),
        )
        .unwrap();
    let l = b
        .fully_connected("fc", m, w, None, FusedActivation::None, Quant::new(0.1, 0))
        .unwrap();
    let y = b
        .softmax("prob", l, 1.0, Quant::new(1.0 / 256.0, -128))
        .unwrap();
    b.output(y).unwrap();
    let opts = BuildOptions {
        // Keep the int8 weights: the packed form is checked separately below.
        wide_fc_weights: 0,
        ..BuildOptions::default()
    };
    b.finish(opts).unwrap()
}

/// The set the classifier's plan needs, written out by hand.
struct Classifier;
impl Linked for Classifier {
    const OPS: OpSet = OpSet::EMPTY
        .with(OpKind::Conv2d, DType::S8, Form::Rows)
        .with(OpKind::DepthwiseConv2d, DType::S8, Form::InPlace)
        .with(OpKind::Mean, DType::S8, Form::Plain)
        .with(OpKind::FullyConnected, DType::S8, Form::Plain)
        .with(OpKind::Softmax, DType::S8, Form::InPlace);
}

/// The classifier's set without its softmax.
struct NoSoftmax;
impl Linked for NoSoftmax {
    const OPS: OpSet = OpSet::EMPTY
        .with(OpKind::Conv2d, DType::S8, Form::Rows)
        .with(OpKind::DepthwiseConv2d, DType::S8, Form::InPlace)
        .with(OpKind::Mean, DType::S8, Form::Plain)
        .with(OpKind::FullyConnected, DType::S8, Form::Plain);
}

/// The classifier's set with the softmax in f32 only.
struct FloatSoftmax;
impl Linked for FloatSoftmax {
    const OPS: OpSet = NoSoftmax::OPS.with(OpKind::Softmax, DType::F32, Form::InPlace);
}

#[test]
fn of_model_lists_the_kernels_the_plan_runs() {
    let built = classifier(&mut Rng::new(1));
    let m = built.blob.model().unwrap();
    let set = OpSet::of_model(&m);
    let got: Vec<_> = set.iter().collect();
    assert_eq!(
        got,
        [
            // The stem's output overlaps its input, streamed row by row.
            (OpKind::Conv2d, DType::S8, Form::Rows),
            (OpKind::DepthwiseConv2d, DType::S8, Form::InPlace),
            (OpKind::FullyConnected, DType::S8, Form::Plain),
            (OpKind::Mean, DType::S8, Form::Plain),
            (OpKind::Softmax, DType::S8, Form::InPlace),
        ]
    );
    assert_eq!(set, Classifier::OPS);
    assert!(OpSet::ALL.includes(&set) && !set.includes(&OpSet::ALL));
    assert!(!set.has(OpKind::Softmax, DType::F32));
}

#[test]
fn parse_for_refuses_a_kernel_outside_the_set_naming_the_op() {
    let built = classifier(&mut Rng::new(2));
    let blob = built.blob.as_bytes();
    Model::parse_for::<Classifier>(blob).unwrap();
    let softmax_op = built.blob.model().unwrap().op_count() - 1;
    for err in [
        Model::parse_for::<NoSoftmax>(blob).unwrap_err(),
        Model::parse_for::<FloatSoftmax>(blob).unwrap_err(),
    ] {
        assert_eq!(
            err,
            GraphError::NotLinked {
                op: softmax_op,
                kind: OpKind::Softmax,
                dtype: DType::S8,
                form: Form::InPlace,
            }
        );
        let msg = err.to_string();
        assert!(
            msg.contains("Softmax s8 (InPlace) is not compiled into this program"),
            "{msg}"
        );
    }
}

#[test]
fn a_session_for_the_models_own_set_matches_the_full_executor() {
    let mut rng = Rng::new(3);
    let built = classifier(&mut rng);
    let blob = built.blob.as_bytes();
    let input = rng.i8s(8 * 8 * 3);
    let mut full = Arena::<4096>::new();
    let m = Model::parse(blob).unwrap();
    m.input_mut_as::<i8>(full.as_mut_slice(), 0)
        .unwrap()
        .copy_from_slice(&input);
    exec::run(&m, full.as_mut_slice(), None).unwrap();
    let want = m.output(full.as_slice(), 0).unwrap().to_vec();

    let mut arena = Arena::<4096>::new();
    let mut s = Session::<Classifier>::new(blob, arena.as_mut_slice()).unwrap();
    assert_eq!(s.input_count(), 1);
    assert_eq!(s.output_count(), 1);
    let i = s.input_info(0).unwrap();
    assert_eq!(
        (i.shape, i.dtype, i.scale, i.zero_point),
        (Shape::new(1, 8, 8, 3), DType::S8, 0.05, -1)
    );
    let o = s.output_info(0).unwrap();
    assert_eq!(
        (o.dtype, o.scale, o.zero_point),
        (DType::S8, 1.0 / 256.0, -128)
    );
    s.input_as::<i8>(0).unwrap().copy_from_slice(&input);
    s.run().unwrap();
    assert_eq!(s.output(0).unwrap(), want.as_slice());
    assert!(s.input_as::<f32>(0).is_err(), "the input is int8");

    // The executor compiled for a smaller set refuses the op when it comes to it.
    let err = exec::run_linked::<NoSoftmax>(&m, full.as_mut_slice(), None).unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::NotLinked {
                kind: OpKind::Softmax,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_session_checks_the_arena_once() {
    let built = classifier(&mut Rng::new(4));
    let blob = built.blob.as_bytes();
    let needed = built.report.arena_bytes;
    let mut small = vec![0u8; needed - 1];
    assert_eq!(
        Session::<Classifier>::new(blob, &mut small).err(),
        Some(GraphError::ArenaTooSmall {
            needed,
            got: needed - 1
        })
    );
    let mut arena = Arena::<4096>::new();
    let misaligned = &mut arena.as_mut_slice()[1..];
    assert!(matches!(
        Session::<Classifier>::new(blob, misaligned).err(),
        Some(GraphError::Misaligned { what: "arena", .. })
    ));
}

#[test]
fn packed_fully_connected_weights_are_their_own_form() {
    let mut rng = Rng::new(5);
    let mut b = GraphBuilder::new();
    let x = b.input("x", Shape::new(1, 1, 1, 8), DType::S8, Q).unwrap();
    let w = b
        .constant_s8(
            "w",
            Shape::new(4, 1, 1, 8),
            &rng.i8s(32),
            Quant::new(0.01, 0),
        )
        .unwrap();
    let y = b
        .fully_connected("fc", x, w, None, FusedActivation::None, Q)
        .unwrap();
    b.output(y).unwrap();
    let built = b.finish(BuildOptions::default()).unwrap();
    let set = OpSet::of_model(&built.blob.model().unwrap());
    assert_eq!(
        set.iter().collect::<Vec<_>>(),
        [(OpKind::FullyConnected, DType::S8, Form::Packed)]
    );
}
