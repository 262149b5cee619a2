//! Targeted hostile models: a real model decoded into the generated owned types, one field made
//! wrong, serialized again with planus, and parsed. Each case checks the exact error text, so the
//! messages stay precise (table path, op index and name, tensor index and name, values).
//!
//! The base model is `blazeface_backbone_int8.tflite`: 129 tensors, 52 operators; op 0 is the
//! 5x5 stride-2 stem CONV_2D (input t0, filter t76 `[24, 5, 5, 3]` with 24 per-channel scales,
//! bias t75), op 3 an ADD, op 12 a DEPTHWISE_CONV_2D.

mod common;

use bfmd_import::tflite::generated::tflite as fb;
use bfmd_import::tflite::{
    parse, Activation, DType, ImportError, OpCode, Options, Quantization, SplitOptions, SubOptions,
    TfliteModel,
};
use planus::ReadAsRoot;

fn base() -> fb::Model {
    let bytes = common::model(common::SMALL_INT8);
    let root = fb::ModelRef::read_as_root(&bytes).expect("model reads");
    fb::Model::try_from(root).expect("model decodes into owned types")
}

fn write(model: &fb::Model) -> Vec<u8> {
    let mut builder = planus::Builder::new();
    let mut out = builder.finish(model, Some(*b"TFL3")).to_vec();
    // planus 1.3's `Builder::finish` writes the file identifier into bytes 0..4 and the root
    // offset into 4..8, swapped (planus-org/planus#377). Put them where flatbuffers has them;
    // the offset is relative to its own position, which moves 4 bytes back.
    let root = u32::from_le_bytes(out[4..8].try_into().expect("4 bytes")) + 4;
    out[0..4].copy_from_slice(&root.to_le_bytes());
    out[4..8].copy_from_slice(b"TFL3");
    out
}

fn parse_model(model: &fb::Model) -> Result<TfliteModel, ImportError> {
    parse(&write(model))
}

fn error_of(model: &fb::Model) -> String {
    match parse_model(model) {
        Ok(_) => panic!("the hostile model parsed without error"),
        Err(e) => e.to_string(),
    }
}

fn sg(model: &mut fb::Model) -> &mut fb::SubGraph {
    &mut model.subgraphs.as_mut().expect("subgraphs")[0]
}

fn op(model: &mut fb::Model, i: usize) -> &mut fb::Operator {
    &mut sg(model).operators.as_mut().expect("operators")[i]
}

fn tensor(model: &mut fb::Model, i: usize) -> &mut fb::Tensor {
    &mut sg(model).tensors.as_mut().expect("tensors")[i]
}

fn tensor_name(model: &fb::Model, i: usize) -> String {
    model.subgraphs.as_ref().expect("subgraphs")[0]
        .tensors
        .as_ref()
        .expect("tensors")[i]
        .name
        .clone()
        .unwrap_or_default()
}

/// Appends an operator code and returns its index.
fn add_code(model: &mut fb::Model, code: fb::OperatorCode) -> u32 {
    let codes = model.operator_codes.as_mut().expect("operator codes");
    codes.push(code);
    (codes.len() - 1) as u32
}

fn code(builtin: fb::BuiltinOperator, deprecated: i8) -> fb::OperatorCode {
    fb::OperatorCode {
        deprecated_builtin_code: deprecated,
        custom_code: None,
        version: 1,
        builtin_code: builtin,
    }
}

#[test]
fn rewritten_model_parses_like_the_original() {
    // The harness itself: decoding to owned types and writing back changes nothing bfmd reads.
    let original = parse(&common::model(common::SMALL_INT8)).expect("original parses");
    let rewritten = parse_model(&base()).expect("rewritten parses");
    assert_eq!(rewritten.operators, original.operators);
    assert_eq!(rewritten.inputs, original.inputs);
    assert_eq!(rewritten.outputs, original.outputs);
    assert_eq!(rewritten.tensors.len(), 129);
    for (i, (a, b)) in original.tensors.iter().zip(&rewritten.tensors).enumerate() {
        assert_eq!(
            (&a.name, &a.shape, a.dtype, &a.quantization),
            (&b.name, &b.shape, b.dtype, &b.quantization),
            "tensor {i}"
        );
        assert_eq!(
            original.tensor_data(i),
            rewritten.tensor_data(i),
            "tensor {i} data"
        );
    }
}

#[test]
fn operator_input_out_of_range() {
    let mut m = base();
    op(&mut m, 12).inputs.as_mut().expect("inputs")[1] = 400;
    assert_eq!(
        error_of(&m),
        "model.subgraphs[0].operators[12]: op 12 (DEPTHWISE_CONV_2D): input 1 refers to tensor \
         400, model has 129 tensors"
    );
    let err = parse_model(&m).expect_err("rejected");
    assert_eq!(
        err,
        ImportError::OpTensorIndex {
            op: 12,
            op_name: "DEPTHWISE_CONV_2D".into(),
            role: "input",
            slot: 1,
            tensor: 400,
            tensors: 129,
        }
    );
}

#[test]
fn negative_output_and_intermediate_indices() {
    let mut m = base();
    op(&mut m, 3).outputs.as_mut().expect("outputs")[0] = -5;
    assert_eq!(
        error_of(&m),
        "model.subgraphs[0].operators[3]: op 3 (ADD): output 0 refers to tensor -5, model has \
         129 tensors"
    );
    let mut m = base();
    op(&mut m, 0).intermediates = Some(vec![7, 129]);
    assert_eq!(
        error_of(&m),
        "model.subgraphs[0].operators[0]: op 0 (CONV_2D): intermediate 1 refers to tensor 129, \
         model has 129 tensors"
    );
}

#[test]
fn omitted_optional_input_is_none() {
    let mut m = base();
    // A convolution without bias: TFLite marks the omitted input with -1.
    op(&mut m, 0).inputs.as_mut().expect("inputs")[2] = -1;
    let parsed = parse_model(&m).expect("-1 is a valid optional input");
    assert_eq!(parsed.operators[0].inputs, vec![Some(0), Some(76), None]);
    assert_eq!(parsed.operators[0].input(2), None);
    // Any other negative index is an error.
    op(&mut m, 0).inputs.as_mut().expect("inputs")[2] = -2;
    assert!(error_of(&m).ends_with("input 2 refers to tensor -2, model has 129 tensors"));
}

#[test]
fn model_input_out_of_range() {
    let mut m = base();
    sg(&mut m).inputs = Some(vec![999]);
    assert_eq!(
        error_of(&m),
        "model.subgraphs[0].inputs: model input 0 refers to tensor 999, model has 129 tensors"
    );
    let mut m = base();
    sg(&mut m).outputs = Some(vec![128, -1]);
    assert_eq!(
        error_of(&m),
        "model.subgraphs[0].outputs: model output 1 refers to tensor -1, model has 129 tensors"
    );
}

#[test]
fn buffer_index_out_of_range() {
    let mut m = base();
    let n_buffers = m.buffers.as_ref().expect("buffers").len();
    tensor(&mut m, 5).buffer = 10_000;
    let name = tensor_name(&m, 5);
    assert_eq!(
        error_of(&m),
        format!(
            "model.subgraphs[0].tensors[5]: tensor 5 '{name}': buffer 10000 is out of range, \
             model has {n_buffers} buffers"
        )
    );
}

#[test]
fn negative_huge_and_overlong_shapes() {
    let name = tensor_name(&base(), 77);
    let mut m = base();
    tensor(&mut m, 77).shape = Some(vec![1, -3, 64, 24]);
    assert_eq!(
        error_of(&m),
        format!(
            "model.subgraphs[0].tensors[77]: tensor 77 '{name}': dimension 1 is -3 (dimensions \
             must be >= 0)"
        )
    );
    // 2^16 * 2^16 = 2^32 elements: more than TFLite's int flat sizes hold.
    tensor(&mut m, 77).shape = Some(vec![65536, 65536]);
    assert_eq!(
        error_of(&m),
        format!(
            "model.subgraphs[0].tensors[77]: tensor 77 '{name}': shape [65536, 65536] has more \
             than 2147483647 elements"
        )
    );
    // Overflows usize on the way: still an error, not a panic.
    tensor(&mut m, 77).shape = Some(vec![i32::MAX; 8]);
    assert!(error_of(&m).ends_with("has more than 2147483647 elements"));
    tensor(&mut m, 77).shape = Some(vec![1; 9]);
    assert_eq!(
        error_of(&m),
        format!(
            "model.subgraphs[0].tensors[77]: tensor 77 '{name}': rank 9 exceeds the maximum of 8"
        )
    );
}

fn filter_quant(m: &mut fb::Model) -> &mut fb::QuantizationParameters {
    tensor(m, 76)
        .quantization
        .as_mut()
        .expect("filter is quantized")
}

#[test]
fn per_channel_scales_of_the_wrong_length() {
    let name = tensor_name(&base(), 76);
    let prefix =
        format!("model.subgraphs[0].tensors[76]: tensor 76 '{name}': invalid quantization: ");
    let mut m = base();
    let q = filter_quant(&mut m);
    q.scale.as_mut().expect("scales").pop();
    q.zero_point.as_mut().expect("zero points").pop();
    assert_eq!(
        error_of(&m),
        format!(
            "{prefix}23 per-channel scales but dimension 0 (quantized_dimension) has 24 entries"
        )
    );

    let mut m = base();
    filter_quant(&mut m)
        .zero_point
        .as_mut()
        .expect("zero points")
        .pop();
    assert_eq!(
        error_of(&m),
        format!("{prefix}23 zero points for 24 scales (must be equal)")
    );

    let mut m = base();
    filter_quant(&mut m).zero_point = None;
    assert_eq!(
        error_of(&m),
        format!("{prefix}has scales but no zero_point vector")
    );

    let mut m = base();
    filter_quant(&mut m).quantized_dimension = 4;
    assert_eq!(
        error_of(&m),
        format!("{prefix}quantized_dimension 4 is outside the tensor's rank 4")
    );

    let mut m = base();
    filter_quant(&mut m).scale.as_mut().expect("scales")[3] = 0.0;
    assert_eq!(
        error_of(&m),
        format!("{prefix}scale 3 is 0 (scales must be finite and > 0)")
    );

    let mut m = base();
    filter_quant(&mut m).scale.as_mut().expect("scales")[0] = f32::NAN;
    assert_eq!(
        error_of(&m),
        format!("{prefix}scale 0 is NaN (scales must be finite and > 0)")
    );

    let mut m = base();
    filter_quant(&mut m)
        .zero_point
        .as_mut()
        .expect("zero points")[2] = 200;
    assert_eq!(
        error_of(&m),
        format!("{prefix}zero point 2 is 200, outside the range of INT8")
    );
}

#[test]
fn quantization_without_scales_is_none_and_one_scale_is_per_tensor() {
    let mut m = base();
    filter_quant(&mut m).scale = Some(vec![]);
    assert_eq!(
        parse_model(&m).expect("parses").tensors[76].quantization,
        None
    );

    let mut m = base();
    let q = filter_quant(&mut m);
    q.scale = Some(vec![0.5]);
    q.zero_point = Some(vec![0]);
    assert_eq!(
        parse_model(&m).expect("parses").tensors[76].quantization,
        Some(Quantization::PerTensor {
            scale: 0.5,
            zero_point: 0
        })
    );
}

#[test]
fn constant_data_of_the_wrong_length() {
    let name = tensor_name(&base(), 76);
    let mut m = base();
    let buffer = tensor(&mut m, 76).buffer as usize;
    m.buffers.as_mut().expect("buffers")[buffer]
        .data
        .as_mut()
        .expect("filter data")
        .pop();
    assert_eq!(
        error_of(&m),
        format!(
            "model.subgraphs[0].tensors[76]: tensor 76 '{name}' (INT8 [24, 5, 5, 3]): constant \
             data is 1799 bytes, shape and dtype need 1800"
        )
    );
    // The same bytes read as INT32 need four times as many.
    let mut m = base();
    tensor(&mut m, 76).type_ = fb::TensorType::Int32;
    assert!(error_of(&m).ends_with("constant data is 1800 bytes, shape and dtype need 7200"));
}

#[test]
fn buffers_after_the_flatbuffer() {
    // Models over 2 GB keep constants after the flatbuffer, located by Buffer.offset/size.
    let mut m = base();
    let buffer = tensor(&mut m, 76).buffer as usize;
    let data = m.buffers.as_mut().expect("buffers")[buffer]
        .data
        .take()
        .expect("filter data");
    // Writing a non-default offset takes the same space whatever its value: measure, then fix.
    m.buffers.as_mut().expect("buffers")[buffer].offset = 2;
    m.buffers.as_mut().expect("buffers")[buffer].size = data.len() as u64;
    let len = write(&m).len();
    m.buffers.as_mut().expect("buffers")[buffer].offset = len as u64;
    let mut file = write(&m);
    assert_eq!(file.len(), len);
    file.extend_from_slice(&data);
    let parsed = parse(&file).expect("external buffer parses");
    assert_eq!(parsed.tensor_data(76), Some(&data[..]));
    assert_eq!(parsed.tensors[76].data, Some(len..len + data.len()));

    // Pointing past the end of the file is an error naming the numbers.
    m.buffers.as_mut().expect("buffers")[buffer].offset = len as u64 + 100;
    let name = tensor_name(&m, 76);
    let file = write(&m);
    assert_eq!(
        parse(&file).expect_err("outside the file").to_string(),
        format!(
            "model.subgraphs[0].tensors[76]: tensor 76 '{name}': buffer {buffer} lies outside \
             the file (offset {}, size 1800, file is {} bytes)",
            len + 100,
            file.len()
        )
    );
}

#[test]
fn unknown_dtype_code() {
    // Owned types cannot hold an unknown enum value, so patch the serialized file: make tensor
    // 77 the only BFLOAT16 (code 18) tensor, then try each byte equal to 18 until the parse
    // reports tensor 77's type as the patched code.
    let mut m = base();
    tensor(&mut m, 77).type_ = fb::TensorType::Bfloat16;
    let file = write(&m);
    let name = tensor_name(&m, 77);
    let mut found = false;
    for pos in (0..file.len()).filter(|&i| file[i] == 18) {
        let mut patched = file.clone();
        patched[pos] = 99;
        if let Err(ImportError::UnknownDtype {
            tensor: 77, code, ..
        }) = parse(&patched)
        {
            assert_eq!(code, 99);
            assert_eq!(
                parse(&patched).expect_err("rejected").to_string(),
                format!(
                    "model.subgraphs[0].tensors[77]: tensor 77 '{name}': unknown type code 99 \
                     (not a TensorType of the schema)"
                )
            );
            found = true;
            break;
        }
    }
    assert!(found, "no byte of the file was tensor 77's type");
}

#[test]
fn file_identifier_length_and_version() {
    assert_eq!(
        parse(b"TFL3").expect_err("short").to_string(),
        "not a TFLite model: 4 bytes is shorter than a flatbuffer header (8 bytes)"
    );
    let mut file = write(&base());
    file[4..8].copy_from_slice(b"ONNX");
    assert_eq!(
        parse(&file).expect_err("wrong identifier").to_string(),
        "not a TFLite model: file identifier is \"ONNX\", expected \"TFL3\""
    );
    let mut m = base();
    m.version = 2;
    assert_eq!(
        error_of(&m),
        "model.version: schema version 2 is not supported (TFLite runs version 3 only)"
    );
}

#[test]
fn missing_tables() {
    let mut m = base();
    m.subgraphs = None;
    assert_eq!(
        error_of(&m),
        "model.subgraphs: required table or vector is absent"
    );
    let mut m = base();
    m.subgraphs = Some(vec![]);
    assert_eq!(
        error_of(&m),
        "model.subgraphs[0]: required table or vector is absent"
    );
    let mut m = base();
    m.buffers = None;
    assert_eq!(
        error_of(&m),
        "model.buffers: required table or vector is absent"
    );
}

#[test]
fn only_subgraph_zero_may_have_operators() {
    let mut m = base();
    let main = m.subgraphs.as_ref().expect("subgraphs")[0].clone();
    let empty = fb::SubGraph {
        operators: None,
        ..main.clone()
    };
    m.subgraphs.as_mut().expect("subgraphs").push(empty);
    let parsed = parse_model(&m).expect("an operator-less extra subgraph is harmless");
    assert_eq!(parsed.num_subgraphs, 2);
    m.subgraphs.as_mut().expect("subgraphs").push(main);
    assert_eq!(
        error_of(&m),
        "model.subgraphs[2]: has 52 operators; bfmd imports subgraph 0 only (control flow and \
         multi-subgraph models are not supported)"
    );
}

#[test]
fn opcode_index_out_of_range() {
    let mut m = base();
    let n_codes = m.operator_codes.as_ref().expect("codes").len();
    op(&mut m, 7).opcode_index = 77;
    assert_eq!(
        error_of(&m),
        format!(
            "model.subgraphs[0].operators[7]: op 7: opcode_index 77 is out of range, model has \
             {n_codes} operator codes"
        )
    );
}

#[test]
fn builtin_code_is_the_larger_of_the_two_fields() {
    // tensorflow/lite/schema/schema_utils.cc, GetBuiltinCode: max(builtin_code,
    // deprecated_builtin_code).
    let cases = [
        // A file from before the 32-bit field: only the 8-bit one says CONV_2D.
        (fb::BuiltinOperator::Add, 3, OpCode::Conv2d),
        // Codes above 127 live in builtin_code; the 8-bit field holds the placeholder 127.
        (
            fb::BuiltinOperator::Gelu,
            127,
            OpCode::Other(150, "GELU".into()),
        ),
        // Both set and equal, as the current converter writes them.
        (fb::BuiltinOperator::HardSwish, 117, OpCode::HardSwish),
        // Only the new field set.
        (fb::BuiltinOperator::Quantize, 0, OpCode::Quantize),
    ];
    for (builtin, deprecated, want) in cases {
        let mut m = base();
        let index = add_code(&mut m, code(builtin, deprecated));
        // Op 3 is an ADD; as a CONV_2D it needs op 0's Conv2DOptions, the other codes read no
        // options.
        let conv_options = op(&mut m, 0).builtin_options.clone();
        let o = op(&mut m, 3);
        o.opcode_index = index;
        o.builtin_options = if want == OpCode::Conv2d {
            conv_options
        } else {
            None
        };
        let parsed = parse_model(&m).unwrap_or_else(|e| panic!("{builtin:?}/{deprecated}: {e}"));
        assert_eq!(parsed.operators[3].code, want, "{builtin:?}/{deprecated}");
    }
}

#[test]
fn custom_and_other_operators_parse_and_are_reported_unsupported() {
    let mut m = base();
    let custom = add_code(
        &mut m,
        fb::OperatorCode {
            custom_code: Some("MyOp".into()),
            ..code(fb::BuiltinOperator::Custom, 32)
        },
    );
    let resize = add_code(&mut m, code(fb::BuiltinOperator::StridedSlice, 45));
    op(&mut m, 3).opcode_index = custom;
    op(&mut m, 5).opcode_index = resize;
    op(&mut m, 5).builtin_options = None;
    let parsed = parse_model(&m).expect("unknown ops parse");
    assert_eq!(parsed.operators[3].code, OpCode::Custom("MyOp".into()));
    assert_eq!(parsed.operators[3].options, Options::None);
    assert_eq!(
        parsed.operators[5].code,
        OpCode::Other(45, "STRIDED_SLICE".into())
    );
    let err = parsed
        .ensure_supported(|op| op.code.is_known())
        .expect_err("custom op");
    assert_eq!(
        err.to_string(),
        "model.subgraphs[0].operators[3]: op 3 (MyOp) is not supported by bfmd"
    );
    let err = parsed
        .ensure_supported(|op| op.code.is_known() || op.code == OpCode::Custom("MyOp".into()))
        .expect_err("strided slice");
    assert_eq!(
        err.to_string(),
        "model.subgraphs[0].operators[5]: op 5 (STRIDED_SLICE) is not supported by bfmd"
    );
    assert_eq!(
        err,
        ImportError::UnsupportedOp {
            op: 5,
            op_name: "STRIDED_SLICE".into()
        }
    );
}

#[test]
fn convolution_options_are_validated() {
    let prefix = "model.subgraphs[0].operators[0]: op 0 (CONV_2D): ";
    let mut m = base();
    op(&mut m, 0).builtin_options = None;
    assert_eq!(
        error_of(&m),
        format!(
            "{prefix}has no Conv2DOptions; TFLite would run it with zeroed parameters (stride 0)"
        )
    );

    let conv = |m: &mut fb::Model| -> fb::Conv2DOptions {
        match op(m, 0).builtin_options.clone() {
            Some(fb::BuiltinOptions::Conv2DOptions(o)) => *o,
            other => panic!("op 0 options: {other:?}"),
        }
    };
    let mut m = base();
    let mut o = conv(&mut m);
    o.stride_w = 0;
    op(&mut m, 0).builtin_options = Some(fb::BuiltinOptions::Conv2DOptions(Box::new(o)));
    assert_eq!(
        error_of(&m),
        format!("{prefix}stride_w is 0 (must be >= 1)")
    );

    let mut o = conv(&mut base());
    o.dilation_h_factor = -2;
    op(&mut m, 0).builtin_options = Some(fb::BuiltinOptions::Conv2DOptions(Box::new(o)));
    assert_eq!(
        error_of(&m),
        format!("{prefix}dilation_h_factor is -2 (must be >= 1)")
    );

    op(&mut m, 0).builtin_options = Some(fb::BuiltinOptions::Pool2DOptions(Box::default()));
    assert_eq!(
        error_of(&m),
        format!("{prefix}builtin_options is Pool2DOptions, expected Conv2DOptions")
    );

    // A dilated convolution decodes its factors.
    let mut o = conv(&mut base());
    o.dilation_w_factor = 2;
    o.dilation_h_factor = 3;
    o.fused_activation_function = fb::ActivationFunctionType::Relu6;
    op(&mut m, 0).builtin_options = Some(fb::BuiltinOptions::Conv2DOptions(Box::new(o)));
    match &parse_model(&m).expect("parses").operators[0].options {
        Options::Conv2d(c) => {
            assert_eq!((c.dilation_w, c.dilation_h), (2, 3));
            assert_eq!(c.activation, Activation::Relu6);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn absent_options_get_tflite_zero_defaults() {
    // Without an options table TFLite zero-initialises the parameters
    // (tensorflow/lite/core/api/flatbuffer_conversions.cc): ADD has no activation and
    // pot_scale_int16 false, not the schema default true.
    let mut m = base();
    op(&mut m, 3).builtin_options = None;
    assert_eq!(
        parse_model(&m).expect("parses").operators[3].options,
        Options::Add(bfmd_import::tflite::AddOptions {
            activation: Activation::None,
            pot_scale_int16: false
        })
    );
}

#[test]
fn options_of_operators_the_test_models_lack() {
    // SUB, SPLIT_V, PADV2 and the activations do not occur in the backbones: re-code op 3
    // (ADD, inputs t79 and t77) and give it the options table of the new code.
    let cases: Vec<(
        fb::BuiltinOperator,
        Option<fb::BuiltinOptions>,
        OpCode,
        Options,
    )> = vec![
        (
            fb::BuiltinOperator::Sub,
            Some(fb::BuiltinOptions::SubOptions(Box::new(fb::SubOptions {
                fused_activation_function: fb::ActivationFunctionType::Relu6,
                pot_scale_int16: false,
            }))),
            OpCode::Sub,
            Options::Sub(SubOptions {
                activation: Activation::Relu6,
                pot_scale_int16: false,
            }),
        ),
        (
            fb::BuiltinOperator::SplitV,
            Some(fb::BuiltinOptions::SplitVOptions(Box::new(
                fb::SplitVOptions { num_splits: 3 },
            ))),
            OpCode::SplitV,
            Options::Split(SplitOptions { num_splits: 3 }),
        ),
        (
            fb::BuiltinOperator::Padv2,
            Some(fb::BuiltinOptions::PadV2Options(Box::default())),
            OpCode::PadV2,
            Options::None,
        ),
        (
            fb::BuiltinOperator::Relu6,
            None,
            OpCode::Relu6,
            Options::None,
        ),
        (
            fb::BuiltinOperator::Dequantize,
            None,
            OpCode::Dequantize,
            Options::None,
        ),
        (
            fb::BuiltinOperator::Softmax,
            None,
            OpCode::Softmax,
            Options::Softmax(bfmd_import::tflite::SoftmaxOptions { beta: 0.0 }),
        ),
    ];
    for (builtin, options, want_code, want_options) in cases {
        let mut m = base();
        let deprecated = builtin as i32 as i8;
        let index = add_code(&mut m, code(builtin, deprecated));
        let o = op(&mut m, 3);
        o.opcode_index = index;
        o.builtin_options = options;
        let parsed = parse_model(&m).unwrap_or_else(|e| panic!("{builtin:?}: {e}"));
        assert_eq!(parsed.operators[3].code, want_code);
        assert_eq!(parsed.operators[3].options, want_options, "{builtin:?}");
    }
}

#[test]
fn sparse_and_blockwise_tensors_are_refused() {
    let name = tensor_name(&base(), 76);
    let mut m = base();
    tensor(&mut m, 76).sparsity = Some(Box::default());
    assert_eq!(
        error_of(&m),
        format!(
            "model.subgraphs[0].tensors[76]: tensor 76 '{name}': sparse storage \
             (SparsityParameters) is not supported"
        )
    );
    let mut m = base();
    filter_quant(&mut m).details = Some(fb::QuantizationDetails::BlockwiseQuantization(
        Box::default(),
    ));
    assert!(error_of(&m).ends_with(
        "custom or blockwise quantization (QuantizationParameters.details) is not supported"
    ));
}

#[test]
fn dtype_sizes() {
    assert_eq!(DType::I8.data_len(10), Some(10));
    assert_eq!(DType::F16.data_len(10), Some(20));
    assert_eq!(DType::I32.data_len(10), Some(40));
    assert_eq!(DType::Complex128.data_len(3), Some(48));
    // INT4 packs two values per byte; an odd count rounds up.
    assert_eq!(DType::I4.data_len(5), Some(3));
    assert_eq!(DType::String.data_len(5), None);
    assert_eq!(DType::F64.data_len(usize::MAX), None);
}

/// The lowering error of a hostile model that parses.
fn lowering_error_of(model: &fb::Model) -> String {
    let parsed = parse_model(model).expect("the hostile model parses");
    bfmd_import::lower::lower(&parsed, &Default::default())
        .expect_err("the hostile model lowered")
        .to_string()
}

#[test]
fn operator_input_and_output_counts_are_exact() {
    // ADD (op 3) with one input, and with a third.
    let mut m = base();
    op(&mut m, 3).inputs.as_mut().expect("inputs").truncate(1);
    assert_eq!(
        lowering_error_of(&m),
        "model.subgraphs[0].operators[3]: op 3 (ADD): ADD takes 2 inputs, it has 1"
    );
    let mut m = base();
    op(&mut m, 3).inputs.as_mut().expect("inputs").push(0);
    assert_eq!(
        lowering_error_of(&m),
        "model.subgraphs[0].operators[3]: op 3 (ADD): ADD takes 2 inputs, it has 3"
    );
    // The stem CONV_2D with a second output, and with no bias slot (2 inputs are fine).
    let mut m = base();
    op(&mut m, 0).outputs.as_mut().expect("outputs").push(1);
    assert_eq!(
        lowering_error_of(&m),
        "model.subgraphs[0].operators[0]: op 0 (CONV_2D): CONV_2D takes 1 output, it has 2"
    );
    let mut m = base();
    op(&mut m, 0).inputs.as_mut().expect("inputs").truncate(2);
    let parsed = parse_model(&m).expect("parses");
    bfmd_import::lower::lower(&parsed, &Default::default()).expect("a conv without bias lowers");
}

/// Operators `start..start + len` of `model` as a model of their own: the activations they
/// read from outside become the graph inputs, the last operator's outputs the graph outputs,
/// and the buffers of every other tensor are emptied, so the file holds only their weights.
fn window(model: &fb::Model, start: usize, len: usize) -> fb::Model {
    use std::collections::BTreeSet;
    let mut m = model.clone();
    let g = &model.subgraphs.as_ref().expect("subgraphs")[0];
    let tensors = g.tensors.as_ref().expect("tensors");
    let ops = g.operators.as_ref().expect("operators")[start..start + len].to_vec();
    let list = |v: &Option<Vec<i32>>| v.clone().unwrap_or_default();
    let produced: BTreeSet<i32> = ops.iter().flat_map(|o| list(&o.outputs)).collect();
    let used: BTreeSet<i32> = ops
        .iter()
        .flat_map(|o| list(&o.inputs))
        .filter(|&t| t >= 0)
        .collect();
    let buffers = m.buffers.as_mut().expect("buffers");
    let constant = |t: i32| {
        let b = tensors[t as usize].buffer as usize;
        buffers[b].data.as_ref().is_some_and(|d| !d.is_empty())
    };
    let inputs: Vec<i32> = used
        .iter()
        .copied()
        .filter(|t| !produced.contains(t) && !constant(*t))
        .collect();
    let keep: BTreeSet<usize> = used
        .union(&produced)
        .map(|&t| tensors[t as usize].buffer as usize)
        .collect();
    for (i, b) in buffers.iter_mut().enumerate() {
        if !keep.contains(&i) {
            b.data = None;
        }
    }
    let outputs = list(&ops[len - 1].outputs);
    let s = sg(&mut m);
    // Per-channel scales and zero points of the other tensors would be most of the file.
    for (t, x) in s.tensors.as_mut().expect("tensors").iter_mut().enumerate() {
        if !used.contains(&(t as i32)) && !produced.contains(&(t as i32)) {
            x.quantization = None;
        }
    }
    s.operators = Some(ops);
    s.inputs = Some(inputs);
    s.outputs = Some(outputs);
    m
}

/// Largest window file kept as a fuzz seed, in bytes.
const MAX_SEED: usize = 64 << 10;

/// The seeds of the `.tflite` fuzz targets (`tests/data/fuzz/tflite/`, read by `cargo xtask
/// fuzz`): for every operator code, in the int8 and in the float test models, the window of up
/// to 3 operators starting at its first use (a channel shuffle's RESHAPE -> TRANSPOSE -> RESHAPE stays
/// whole), as a model of its own of at most 64 KiB that parses and lowers. A few KiB each,
/// so libFuzzer runs them hundreds of times faster than the whole models. Committed, and
/// checked here to be current; `BFMD_UPDATE_FUZZ_SEEDS=1` rewrites them.
#[test]
fn fuzz_seeds_are_current() {
    let dir = common::data_dir().join("fuzz").join("tflite");
    let mut want = std::collections::BTreeMap::new();
    // One window per (operator code, int8 or float model), over all the models.
    let mut seen = std::collections::BTreeSet::new();
    for (name, bytes) in common::models() {
        let model = fb::Model::try_from(fb::ModelRef::read_as_root(&bytes).expect("reads"))
            .expect("decodes");
        let ops = model.subgraphs.as_ref().expect("subgraphs")[0]
            .operators
            .as_ref()
            .expect("operators");
        let codes = model.operator_codes.as_ref().expect("operator codes");
        for (start, op) in ops.iter().enumerate() {
            let code = &codes[op.opcode_index as usize];
            let key = (
                format!("{:?}/{}", code.builtin_code, code.deprecated_builtin_code),
                name.contains("int8"),
            );
            if seen.contains(&key) {
                continue;
            }
            for len in [3.min(ops.len() - start), 1] {
                let file = write(&window(&model, start, len));
                let lowers = parse(&file)
                    .is_ok_and(|m| bfmd_import::lower::lower(&m, &Default::default()).is_ok());
                if file.len() <= MAX_SEED && lowers {
                    let stem = name.trim_end_matches(".tflite");
                    want.insert(format!("{stem}_op{start}.tflite"), file);
                    seen.insert(key);
                    break;
                }
            }
        }
    }
    assert!(want.len() >= 20, "only {} seeds", want.len());
    if std::env::var_os("BFMD_UPDATE_FUZZ_SEEDS").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("seed directory");
        for (n, b) in &want {
            std::fs::write(dir.join(n), b).expect("seed written");
        }
    }
    let mut have = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.ends_with(".tflite") {
            have.insert(n, std::fs::read(e.path()).expect("seed reads"));
        }
    }
    assert!(
        have == want,
        "{} is stale: rerun with BFMD_UPDATE_FUZZ_SEEDS=1",
        dir.display()
    );
}
