//! The whole import (parse, lower, plan, run) on truncated, bit-flipped and hostile models:
//! errors that name what is wrong, never a panic, never an out-of-bounds access.
//!
//! `bfmd-import/tests/tflite_corruption.rs` hammers the parser alone; here every corrupted file
//! that still parses is lowered and planned, and every one that still lowers is checked by
//! `Model::parse` and run, so a fault that slips through one stage must be caught by the next
//! without panicking. Each stage runs under `catch_unwind`; a panic fails the test with the
//! model, the corruption and the seed. Hostile operators (unsupported codes, ranks, dtypes,
//! permutations) are made by editing a parsed model or its file.

mod tflite_common;

use bfmd_graph::builder::ModelBytes;
use bfmd_import::lower::{lower, HostModel, LowerOptions};
use bfmd_import::tflite::{parse, DType, ImportError, OpCode, TfliteModel};
use std::panic::{catch_unwind, AssertUnwindSafe};
use tflite_common::read;

/// Seeded mutations per model.
const MUTATIONS: usize = 96;
/// Seeded mutations of the two models whose lowering takes longest in debug builds
/// (EfficientNet-B0 and MobileNetV3-large: 240 and 120 ops through the in-place planner's
/// sweeps, about 0.6 s and 0.15 s), to keep the test near 20 s.
const MUTATIONS_LARGE: usize = 16;
/// Of the corrupted models that still lower, run every `RUN_EVERY`-th (a run costs tens of
/// milliseconds in debug builds; lowering and `Model::parse` check every one).
const RUN_EVERY: usize = 4;

/// xorshift64*: a small seeded generator, so that every failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[derive(Default, Debug)]
struct Tally {
    not_parsed: usize,
    not_lowered: usize,
    run_ok: usize,
    run_err: usize,
    lowered: usize,
}

/// Parses, lowers, checks and (when `run`) runs `bytes`; `Err` only for a panic.
fn import(bytes: &[u8], run: bool, tally: &mut Tally) -> Result<(), String> {
    let m = match catch_unwind(|| parse(bytes)) {
        Err(_) => return Err("parse panicked".into()),
        Ok(Err(e)) => {
            check_message(&e)?;
            tally.not_parsed += 1;
            return Ok(());
        }
        Ok(Ok(m)) => m,
    };
    let lowered = match catch_unwind(AssertUnwindSafe(|| lower(&m, &LowerOptions::default()))) {
        Err(_) => return Err("lower panicked".into()),
        Ok(Err(e)) => {
            check_message(&e)?;
            tally.not_lowered += 1;
            return Ok(());
        }
        Ok(Ok(l)) => l,
    };
    tally.lowered += 1;
    let blob = ModelBytes::from_bytes(lowered.built.blob.as_bytes());
    let ran = catch_unwind(AssertUnwindSafe(|| -> Result<bool, String> {
        let mut h = HostModel::new(blob).map_err(|e| format!("lowered blob invalid: {e}"))?;
        if !run {
            return Ok(false);
        }
        let inputs: Vec<Vec<u8>> = (0..h.model().map_err(|e| e.to_string())?.input_count())
            .map(|i| vec![0u8; h.input_len(i).unwrap_or(0)])
            .collect();
        let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
        Ok(h.run(&refs).is_ok())
    }));
    match ran {
        Err(_) => Err("Model::parse or the run panicked".into()),
        Ok(Err(e)) => Err(e),
        Ok(Ok(true)) => {
            tally.run_ok += 1;
            Ok(())
        }
        Ok(Ok(false)) => {
            tally.run_err += usize::from(run);
            Ok(())
        }
    }
}

/// Every error must say what is wrong, and where unless the file as a whole is not TFLite.
fn check_message(e: &ImportError) -> Result<(), String> {
    let text = e.to_string();
    let located = matches!(e, ImportError::NotTflite { .. })
        || !e.location().is_empty()
        || text.contains("op ")
        || text.contains("tensor ");
    if text.is_empty() || !located {
        return Err(format!("error without a location: {e:?}"));
    }
    Ok(())
}

/// Byte positions of the flatbuffer's tables (everything outside constant tensor data), where a
/// flip changes structure rather than a weight.
fn structure_positions(m: &TfliteModel, len: usize) -> Vec<usize> {
    let mut data: Vec<_> = m.tensors.iter().filter_map(|t| t.data.clone()).collect();
    data.sort_by_key(|r| r.start);
    let mut out = Vec::new();
    let mut at = 0;
    for r in data {
        out.extend(at..r.start.min(len));
        at = at.max(r.end);
    }
    out.extend(at..len);
    out
}

#[test]
fn truncated_and_bit_flipped_models_error_and_never_panic() {
    // Every model of `tests/data/models/`, int8 and float.
    let mut files: Vec<String> = std::fs::read_dir(tflite_common::data().join("models"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.ends_with(".tflite"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 16, "{files:?}");
    let mut failures = Vec::new();
    let mut total = Tally::default();
    for (k, file) in files.iter().enumerate() {
        let bytes = read(&format!("models/{file}"));
        let m = parse(&bytes).unwrap();
        let structure = structure_positions(&m, bytes.len());
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ k as u64);
        let mut tally = Tally::default();
        // Truncations: every length below 64 bytes (the root table and its offsets), then
        // points spread over the file.
        let mut cuts: Vec<usize> = (0..64).collect();
        cuts.extend((1..24).map(|i| bytes.len() * i / 24));
        cuts.push(bytes.len() - 1);
        for cut in cuts {
            if let Err(e) = import(&bytes[..cut], false, &mut tally) {
                failures.push(format!("{file} truncated to {cut}: {e}"));
            }
        }
        let large = file.starts_with("efficientnet") || file.starts_with("mobilenet_v3_large");
        for i in 0..if large { MUTATIONS_LARGE } else { MUTATIONS } {
            let seed = rng.next();
            let mut r = Rng(seed | 1);
            let mut b = bytes.clone();
            let at = if i % 4 == 3 {
                r.below(b.len())
            } else {
                structure[r.below(structure.len())]
            };
            let what = match r.below(3) {
                0 => {
                    b[at] ^= 1 << r.below(8);
                    "bit flip"
                }
                1 => {
                    b[at] = r.next() as u8;
                    "byte overwrite"
                }
                _ => {
                    // A little-endian word of 0xff..ff, the usual hostile length or offset.
                    for x in b.iter_mut().skip(at & !3).take(4) {
                        *x = 0xff;
                    }
                    "word of ones"
                }
            };
            let run = tally.lowered % RUN_EVERY == 0;
            if let Err(e) = import(&b, run, &mut tally) {
                failures.push(format!("{file}: {what} at {at} (seed {seed:#x}): {e}"));
            }
        }
        println!("{file}: {tally:?}");
        total.not_parsed += tally.not_parsed;
        total.not_lowered += tally.not_lowered;
        total.lowered += tally.lowered;
        total.run_ok += tally.run_ok;
    }
    println!("all: {total:?}");
    assert!(failures.is_empty(), "{failures:#?}");
    // The corruptions reach every stage: some files fail to parse, some to lower, some run.
    assert!(total.not_parsed > 0 && total.not_lowered > 0 && total.run_ok > 0);
}

fn parsed(file: &str) -> TfliteModel {
    parse(&read(&format!("models/{file}"))).unwrap()
}

/// Every unsupported operator of a model in one error: builtin, custom and recurrent ones,
/// each with its index, in operator order.
#[test]
fn three_unsupported_ops_are_named_in_one_error() {
    let mut m = parsed("mobilenet_v2_int8.tflite");
    let adds: Vec<usize> = m
        .operators
        .iter()
        .enumerate()
        .filter(|(_, o)| o.code == OpCode::Add)
        .map(|(i, _)| i)
        .take(3)
        .collect();
    m.operators[adds[0]].code = OpCode::from_code(42, None); // DIV
    m.operators[adds[1]].code = OpCode::from_code(32, Some("MyDecoder"));
    m.operators[adds[2]].code = OpCode::from_code(44, None); // UNIDIRECTIONAL_SEQUENCE_LSTM
    let e = lower(&m, &LowerOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "model.subgraphs[0].operators: 3 operators are not supported by bfmd: op {} (DIV), \
             op {} (custom op `MyDecoder`), op {} (UNIDIRECTIONAL_SEQUENCE_LSTM: recurrent \
             operators are not supported)",
            adds[0], adds[1], adds[2]
        )
    );
    assert!(!e.to_string().contains('\n'));
}

/// A model whose tail is an operator bfmd does not run (here its softmax turned into a custom
/// decoder) runs once cut before it: `LowerOptions::outputs` names the tensor before the tail,
/// the tail is dropped, and the cut output is the tensor the full model computes there (read
/// through `extra_outputs` of the original model, whose own output is TFLM's).
#[test]
fn a_graph_cut_before_an_unsupported_tail_runs() {
    let original = parsed("mobilenet_v2_int8.tflite");
    let last = original.operators.len() - 1;
    let logits = original.operators[last].inputs[0].unwrap();
    let name = original.tensors[logits].name.clone();
    let mut m = original.clone();
    m.operators[last].code = OpCode::from_code(32, Some("Decoder"));
    let e = lower(&m, &LowerOptions::default()).unwrap_err();
    assert!(e.to_string().contains("custom op `Decoder`"), "{e}");
    let cut = LowerOptions {
        outputs: vec![name.clone()],
        ..LowerOptions::default()
    };
    let l = lower(&m, &cut).unwrap_or_else(|e| panic!("cut at {name}: {e}"));
    let full = lower(
        &original,
        &LowerOptions {
            extra_outputs: vec![logits],
            ..LowerOptions::default()
        },
    )
    .unwrap();
    assert!(
        l.sources.iter().all(|s| s.op != last),
        "the tail was dropped"
    );
    let x = read("golden/mobilenet_v2/input_0.bin");
    let mut h = HostModel::new(l.built.blob).unwrap();
    let mut f = HostModel::new(full.built.blob).unwrap();
    let (y, yf) = (h.run(&[&x]).unwrap(), f.run(&[&x]).unwrap());
    assert_eq!(y.len(), 1);
    assert_eq!(
        yf[0],
        read("golden/mobilenet_v2/output_0.bin"),
        "full model is TFLM's"
    );
    assert_eq!(
        y[0], yf[1],
        "the cut output is the full model's tensor `{name}`"
    );
    let e = lower(
        &m,
        &LowerOptions {
            outputs: vec!["no such tensor".into()],
            ..LowerOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("no tensor named `no such tensor`"),
        "{e}"
    );
}

#[test]
fn an_unsupported_op_is_named_with_its_index() {
    let mut m = parsed("mobilenet_v2_int8.tflite");
    let k = m
        .operators
        .iter()
        .position(|o| o.code == OpCode::Add)
        .unwrap();
    m.operators[k].code = OpCode::from_code(42, None); // DIV
    match lower(&m, &LowerOptions::default()) {
        Err(ImportError::UnsupportedOp { op, op_name }) => {
            assert_eq!((op, op_name.as_str()), (k, "DIV"));
        }
        other => panic!("expected UnsupportedOp, got {other:?}"),
    }
    m.operators[k].code = OpCode::Sub;
    let e = lower(&m, &LowerOptions::default()).unwrap_err();
    assert!(e.to_string().contains(&format!("op {k} (SUB)")), "{e}");
}

#[test]
fn a_bad_tensor_is_named_with_the_op_reading_it() {
    // A rank-5 activation (bfmd tensors have rank <= 4).
    let mut m = parsed("mobilenet_v1_int8.tflite");
    let t = m.operators[3].outputs[0];
    m.tensors[t].shape = vec![1, 1, 24, 24, 16];
    let e = lower(&m, &LowerOptions::default()).unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(&e, ImportError::Lowering { op: Some((3, _)), tensor: Some((tt, _)), .. } if *tt == t),
        "{text}"
    );
    assert!(
        text.contains("rank 5") && text.contains(&m.tensors[t].name),
        "{text}"
    );

    // An int16 activation.
    let mut m = parsed("mobilenet_v1_int8.tflite");
    let t = m.operators[2].outputs[0];
    m.tensors[t].dtype = DType::I16;
    let e = lower(&m, &LowerOptions::default()).unwrap_err();
    assert!(
        matches!(&e, ImportError::Lowering { op: Some((2, _)), tensor: Some((tt, _)), .. } if *tt == t),
        "{e}"
    );
    assert!(e.to_string().contains("INT16"), "{e}");

    // A shape the operator cannot produce: the builder's complaint, mapped to the TFLite op.
    let mut m = parsed("mobilenet_v1_int8.tflite");
    let t = m.operators[4].outputs[0];
    m.tensors[t].shape[1] += 1;
    let e = lower(&m, &LowerOptions::default()).unwrap_err();
    assert!(
        matches!(&e, ImportError::Lowering { op: Some((4, name)), .. } if name == "CONV_2D"),
        "{e}"
    );
}

#[test]
fn only_a_real_channel_shuffle_is_folded() {
    // ShuffleNetV1 op 5 is the TRANSPOSE of its first shuffle, permutation [0, 1, 3, 2] in
    // tensor 2. Any other permutation of the same tensors is not a shuffle: the fold must be
    // refused, and the TRANSPOSE lowered as such then fails on the shapes the file declares.
    let bytes = read("models/shufflenet_v1_int8.tflite");
    let m = parse(&bytes).unwrap();
    assert_eq!(m.operators[5].code, OpCode::Transpose);
    let perm = m.operators[5].input(1).unwrap();
    let range = m.tensors[perm].data.clone().unwrap();
    let words = |v: [i32; 4]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    assert_eq!(&bytes[range.clone()], words([0, 1, 3, 2]).as_slice());
    for bad in [[0, 1, 2, 3], [0, 2, 1, 3], [1, 0, 3, 2]] {
        let mut b = bytes.clone();
        b[range.clone()].copy_from_slice(&words(bad));
        let m = parse(&b).unwrap();
        let e = lower(&m, &LowerOptions::default()).unwrap_err();
        assert!(
            matches!(&e, ImportError::Lowering { op: Some((5, name)), .. } if name == "TRANSPOSE"),
            "{bad:?}: {e}"
        );
    }
}
