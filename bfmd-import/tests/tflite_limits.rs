//! The importer's structural checks and limits on the `.tflite` reproducers of issue 16
//! (`tests/data/hostile/`, rebuilt from `tests/data/models/` by one-byte patches) and on real
//! models lowered under tight limits: each gives a one-line error naming the operator or the
//! tensor, in well under a second, before any arena exists.

mod common;

use bfmd_graph::Limits;
use bfmd_import::lower::{lower, LowerOptions};
use bfmd_import::tflite::parse;
use std::time::{Duration, Instant};

/// The lowering error of `bytes` under `options`, checked to be one line and quick.
fn lowering_error(bytes: &[u8], options: &LowerOptions) -> String {
    let t = Instant::now();
    let m = parse(bytes).expect("the reproducer parses (the fault is in the graph)");
    let e = lower(&m, options)
        .expect_err("the hostile model lowered")
        .to_string();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    assert!(!e.contains('\n'), "not one line: {e}");
    e
}

#[test]
fn a_conv_with_four_inputs_is_rejected() {
    let bytes = common::hostile("conv_with_4_inputs_mobilenet_v2_int8.tflite");
    assert_eq!(
        lowering_error(&bytes, &LowerOptions::default()),
        "model.subgraphs[0].operators[0]: op 0 (CONV_2D): CONV_2D takes 2 or 3 inputs, it has 4"
    );
}

#[test]
fn zero_size_and_scalar_shuffle_intermediates_are_rejected() {
    let e = lowering_error(
        &common::hostile("zero_dim_shuffle_intermediate_shufflenet_v2_f32.tflite"),
        &LowerOptions::default(),
    );
    assert_eq!(
        e,
        "model.subgraphs[0].operators[8]: op 8 (RESHAPE): tensor 133 \
         'shufflenet_v2_1/permute_1/transpose': zero-size tensor [1, 144, 0, 2] inside a \
         channel shuffle (RESHAPE -> TRANSPOSE -> RESHAPE)"
    );
    let e = lowering_error(
        &common::hostile("scalar_shape_shuffle_intermediate_shufflenet_v2_f32.tflite"),
        &LowerOptions::default(),
    );
    assert_eq!(
        e,
        "model.subgraphs[0].operators[73]: op 73 (RESHAPE): tensor 205 \
         'shufflenet_v2_1/permute_8_1/transpose': a scalar inside a channel shuffle (RESHAPE \
         -> TRANSPOSE -> RESHAPE)"
    );
}

#[test]
fn a_model_over_the_work_limit_is_rejected_naming_the_operator() {
    let bytes = common::model("vww_96_int8.tflite");
    let options = LowerOptions {
        limits: Limits::HOST.with_work(1_000_000),
        ..LowerOptions::default()
    };
    assert_eq!(
        lowering_error(&bytes, &options),
        "model.subgraphs[0].operators[3]: op 3 (DEPTHWISE_CONV_2D): work per inference up to \
         this op (MACs, window taps or element operations) is 1041408, above the limit of \
         1000000"
    );
    let options = LowerOptions {
        limits: Limits {
            max_op_work: 500_000,
            ..Limits::HOST
        },
        ..LowerOptions::default()
    };
    assert_eq!(
        lowering_error(&bytes, &options),
        "model.subgraphs[0].operators[6]: op 6 (CONV_2D): work per op (MACs, window taps or \
         element operations) is 589824, above the limit of 500000"
    );
    let options = LowerOptions {
        limits: Limits::HOST.with_arena_bytes(1000),
        ..LowerOptions::default()
    };
    assert_eq!(
        lowering_error(&bytes, &options),
        "model: arena bytes is 39184, above the limit of 1000"
    );
    // Under the defaults it lowers.
    lower(&parse(&bytes).unwrap(), &LowerOptions::default()).unwrap();
}

#[test]
fn a_shuffle_transpose_output_of_the_wrong_shape_is_rejected() {
    // The byte the zero-size reproducer sets to 0 (dim 2 of that TRANSPOSE output, 24), set
    // to 12 instead: a shape that is no swap of the input's.
    let mut bytes = common::model("shufflenet_v2_f32.tflite");
    assert_eq!(bytes[1_426_424], 24);
    bytes[1_426_424] = 12;
    assert_eq!(
        lowering_error(&bytes, &LowerOptions::default()),
        "model.subgraphs[0].operators[8]: op 8 (RESHAPE): tensor 133 \
         'shufflenet_v2_1/permute_1/transpose': the TRANSPOSE output of a channel shuffle has \
         shape [1, 144, 12, 2], its input with the last two axes swapped is [1, 144, 24, 2]"
    );
}
