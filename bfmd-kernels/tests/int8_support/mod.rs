//! Helpers of the int8 test batteries, included with `mod int8_support;`: a small reader of the
//! single-op TFLM golden vectors in `tests/data/kernels/` (their README names the generator and
//! versions), for batteries that run a case through more paths than `tflm_golden.rs` does; the
//! saturation of a reference value to an int8 tensor's range; a strategy over fused activations.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use bfmd_kernels::quant::{dequantize_s8, FusedActivation};
use bfmd_kernels::{Padding, Shape};
use proptest::prelude::*;
use serde_json::Value;

/// Clamps a reference value to what an int8 tensor with this quantization can hold, so that it
/// can be compared with a kernel's saturated output.
pub fn saturate(v: f32, scale: f32, zero_point: i32) -> f32 {
    v.clamp(
        dequantize_s8(-128, scale, zero_point),
        dequantize_s8(127, scale, zero_point),
    )
}

/// Every fused activation TFLite attaches to int8 ops.
pub fn act_strategy() -> impl Strategy<Value = FusedActivation> {
    prop_oneof![
        Just(FusedActivation::None),
        Just(FusedActivation::Relu),
        Just(FusedActivation::Relu6),
        Just(FusedActivation::ReluN1To1),
    ]
}

/// One case folder and its parsed `case.json`.
pub struct Golden {
    /// The case name (its folder).
    pub name: String,
    dir: PathBuf,
    json: Value,
}

/// Every case whose operator is `op` (`"ADD"`, `"MEAN"`, ...), sorted by name. Panics when there
/// is none, so that a renamed data set cannot make a test pass without checking anything.
pub fn golden_cases(op: &str) -> Vec<Golden> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/kernels");
    let mut found: Vec<Golden> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|entry| {
            let dir = entry.ok()?.path();
            let text = fs::read_to_string(dir.join("case.json")).ok()?;
            let json: Value = serde_json::from_str(&text).expect("case.json does not parse");
            (json["op"] == op).then(|| Golden {
                name: json["case"].as_str().unwrap_or("?").to_string(),
                dir,
                json,
            })
        })
        .collect();
    assert!(!found.is_empty(), "no golden case for {op}");
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// One tensor of a case: an operator input (by role) or the output.
pub struct GoldenTensor<'a> {
    case: &'a Golden,
    json: &'a Value,
}

impl Golden {
    /// The operator input with this role (`"input_0"`, `"input_1"`, `"axis"`, ...).
    pub fn input(&self, role: &str) -> GoldenTensor<'_> {
        let json = self.json["inputs"]
            .as_array()
            .and_then(|v| v.iter().find(|t| t["role"] == role))
            .unwrap_or_else(|| panic!("{}: no input {role}", self.name));
        GoldenTensor { case: self, json }
    }

    /// The operator's output (TFLM's answer).
    pub fn output(&self) -> GoldenTensor<'_> {
        GoldenTensor {
            case: self,
            json: &self.json["output"],
        }
    }

    /// A builtin option (`"stride_h"`, `"padding"`, `"fused_activation"`, `"keep_dims"`, ...).
    pub fn option(&self, key: &str) -> &Value {
        let v = &self.json["params"][key];
        assert!(!v.is_null(), "{}: no option {key}", self.name);
        v
    }

    /// An unsigned integer option.
    pub fn option_usize(&self, key: &str) -> usize {
        self.option(key).as_u64().expect("unsigned option") as usize
    }

    /// The fused activation option.
    pub fn activation(&self) -> FusedActivation {
        match self.option("fused_activation").as_str() {
            Some("NONE") => FusedActivation::None,
            Some("RELU") => FusedActivation::Relu,
            Some("RELU6") => FusedActivation::Relu6,
            Some("RELU_N1_TO_1") => FusedActivation::ReluN1To1,
            other => panic!("{}: activation {other:?}", self.name),
        }
    }

    /// The padding option.
    pub fn padding(&self) -> Padding {
        match self.option("padding").as_str() {
            Some("SAME") => Padding::Same,
            Some("VALID") => Padding::Valid,
            other => panic!("{}: padding {other:?}", self.name),
        }
    }
}

impl GoldenTensor<'_> {
    /// The shape as NHWC, lower ranks padded with leading 1s.
    pub fn shape(&self) -> Shape {
        let dims: Vec<usize> = self.json["shape"]
            .as_array()
            .expect("shape")
            .iter()
            .map(|d| d.as_u64().expect("dimension") as usize)
            .collect();
        assert!((1..=4).contains(&dims.len()), "{}: rank", self.case.name);
        let mut s = [1usize; 4];
        s[4 - dims.len()..].copy_from_slice(&dims);
        Shape::new(s[0], s[1], s[2], s[3])
    }

    /// The per-tensor scale, as the model's `f32`.
    pub fn scale(&self) -> f32 {
        let s = self.json["scales"].as_array().expect("scales");
        assert_eq!(s.len(), 1, "{}: per-tensor scale expected", self.case.name);
        s[0].as_f64().expect("scale") as f32
    }

    /// The per-tensor zero point.
    pub fn zero_point(&self) -> i32 {
        self.json["zero_points"][0].as_i64().expect("zero point") as i32
    }

    /// The raw int8 data of the tensor's file.
    pub fn i8s(&self) -> Vec<i8> {
        let file = self.json["file"].as_str().expect("file");
        let bytes = fs::read(self.case.dir.join(file))
            .unwrap_or_else(|e| panic!("{}/{file}: {e}", self.case.name));
        assert_eq!(
            bytes.len(),
            self.shape().len(),
            "{}: {file}",
            self.case.name
        );
        bytes.into_iter().map(|b| b as i8).collect()
    }
}
