//! libFuzzer target: `bfmd_import::tflite::parse` on arbitrary bytes.
//!
//! `parse` must return `Ok` or `Err` for every input, never panic or read out of bounds
//! (AddressSanitizer is on under cargo-fuzz). On `Ok`, the guarantees it documents are checked
//! too, so a model that parses but breaks one is a finding as well.

#![no_main]

use bfmd_import::tflite::{parse, MAX_ELEMENTS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let model = match parse(data) {
        Ok(model) => model,
        Err(e) => {
            // The message is part of the contract: building it must not panic either.
            let _ = e.to_string();
            return;
        }
    };
    let n = model.tensors.len();
    for op in &model.operators {
        for &t in op
            .inputs
            .iter()
            .flatten()
            .chain(&op.outputs)
            .chain(&op.intermediates)
        {
            assert!(t < n, "operator tensor index {t} of {n} survived parse");
        }
    }
    for &t in model.inputs.iter().chain(&model.outputs) {
        assert!(t < n, "model io tensor index {t} of {n} survived parse");
    }
    for (i, t) in model.tensors.iter().enumerate() {
        let elements = t
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&e| e <= MAX_ELEMENTS);
        assert!(
            elements.is_some(),
            "tensor {i}: shape {:?} survived parse",
            t.shape
        );
        if t.data.is_some() {
            let data = model.tensor_data(i);
            assert!(data.is_some(), "tensor {i}: data range outside the file");
            if let (Some(data), Some(want)) = (data, elements.and_then(|e| t.dtype.data_len(e))) {
                assert_eq!(data.len(), want, "tensor {i}: data length");
            }
        }
    }
});
