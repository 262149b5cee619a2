//! Byte-for-byte checks of the int8 kernels against single-op golden vectors made by the TFLM
//! reference interpreter (`tests/data/kernels/`, see its README for the generator and versions).
//!
//! Each case folder holds the op's int8 input(s), constants, TFLM's output and a `case.json`
//! with shapes, options and quantization. The tests build the kernel's parameters with the
//! kernels' own `from_scales` constructors (TFLM's Prepare math) from the recorded scales, run
//! the kernel and require TFLM's bytes exactly. Every case of an op is found by scanning the
//! folder, so a new case is tested as soon as it is generated.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use bfmd_kernels::movement::{concat_s8, pad_s8, Axis, PadAmounts};
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::reference::fully_connected::FullyConnectedGeometry;
use bfmd_kernels::reference::pool::pool_geometry;
use bfmd_kernels::s8::activation::{
    hard_swish_s8, hard_swish_s8_inplace, logistic_s8, logistic_s8_inplace,
    portable as act_portable, relu6_s8, relu6_s8_inplace, relu_s8, relu_s8_inplace,
    HardSwishS8Params, LogisticS8Params, Relu6S8Params, ReluS8Params,
};
use bfmd_kernels::s8::conv::{
    conv_s8, pointwise_conv_s8_overlapping, pointwise_conv_s8_overlapping_scratch_len,
    pointwise_overlap_out_offset, portable as conv_portable, ConvS8Params,
};
use bfmd_kernels::s8::depthwise::{
    depthwise_conv_s8, depthwise_conv_s8_inplace, depthwise_conv_s8_inplace_scratch_len,
    portable as depthwise_portable,
};
use bfmd_kernels::s8::elementwise::{
    add_s8, add_s8_inplace, mul_s8, mul_s8_inplace, portable as elementwise_portable, AddS8Params,
    MulS8Params,
};
use bfmd_kernels::s8::fully_connected::{
    fully_connected_s8, portable as fc_portable, FullyConnectedS8Params,
};
use bfmd_kernels::s8::pool::{
    avg_pool_s8, max_pool_s8, mean_s8, portable as pool_portable, MeanS8Params, PoolS8Params,
};
use bfmd_kernels::s8::softmax::{
    portable as softmax_portable, softmax_s8, softmax_s8_inplace, SoftmaxS8Params,
};
use bfmd_kernels::{ConvGeometry, Padding, Shape};
use common::assert_bit_exact;
use serde_json::Value;

/// The golden data folder (the workspace's `tests/data/kernels`).
fn data_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/kernels")
}

/// One golden case: its folder and parsed `case.json`.
struct Case {
    name: String,
    dir: PathBuf,
    json: Value,
}

/// Every case whose `op` is `op`, in name order. Panics if there is none, so that a renamed
/// or deleted data set cannot make a test pass vacuously.
fn cases(op: &str) -> Vec<Case> {
    let mut v = Vec::new();
    let entries = fs::read_dir(data_root()).expect("tests/data/kernels is missing");
    for e in entries {
        let dir = e.unwrap().path();
        let file = dir.join("case.json");
        if !file.is_file() {
            continue;
        }
        let json: Value = serde_json::from_str(&fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|err| panic!("{}: {err}", file.display()));
        if json["op"] == op {
            let name = json["case"].as_str().unwrap().to_string();
            v.push(Case { name, dir, json });
        }
    }
    assert!(!v.is_empty(), "no golden case for {op}");
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

impl Case {
    /// The operator input with this role (`input`, `filter`, `bias`, `input_0`, ...).
    fn tensor(&self, role: &str) -> &Value {
        let inputs = self.json["inputs"].as_array().unwrap();
        inputs
            .iter()
            .find(|t| t["role"] == role)
            .unwrap_or_else(|| panic!("{}: no input with role {role}", self.name))
    }

    fn output(&self) -> &Value {
        &self.json["output"]
    }

    fn bytes(&self, t: &Value) -> Vec<u8> {
        let file = t["file"].as_str().unwrap();
        fs::read(self.dir.join(file)).unwrap_or_else(|e| panic!("{}/{file}: {e}", self.name))
    }

    fn i8s(&self, t: &Value) -> Vec<i8> {
        let v: Vec<i8> = self.bytes(t).into_iter().map(|b| b as i8).collect();
        assert_eq!(v.len(), self.shape_len(t), "{}: file length", self.name);
        v
    }

    fn i32s(&self, t: &Value) -> Vec<i32> {
        let b = self.bytes(t);
        assert_eq!(b.len(), 4 * self.shape_len(t), "{}: file length", self.name);
        b.chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    fn dims(&self, t: &Value) -> Vec<usize> {
        t["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect()
    }

    fn shape_len(&self, t: &Value) -> usize {
        self.dims(t).iter().product()
    }

    /// A rank 1 to 4 shape as NHWC with leading dimensions of 1.
    fn shape4(&self, t: &Value) -> Shape {
        let d = self.dims(t);
        assert!(
            (1..=4).contains(&d.len()),
            "{}: rank {}",
            self.name,
            d.len()
        );
        let mut s = [1usize; 4];
        s[4 - d.len()..].copy_from_slice(&d);
        Shape::new(s[0], s[1], s[2], s[3])
    }

    /// Scales as the model's `f32` (the JSON holds their exact decimal).
    fn scales(&self, t: &Value) -> Vec<f32> {
        t["scales"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_f64().unwrap() as f32)
            .collect()
    }

    fn scale(&self, t: &Value) -> f32 {
        let s = self.scales(t);
        assert_eq!(s.len(), 1, "{}: per-tensor scale expected", self.name);
        s[0]
    }

    fn zero_point(&self, t: &Value) -> i32 {
        t["zero_points"][0].as_i64().unwrap() as i32
    }

    fn param(&self, key: &str) -> &Value {
        let v = &self.json["params"][key];
        assert!(!v.is_null(), "{}: no param {key}", self.name);
        v
    }

    fn param_usize(&self, key: &str) -> usize {
        self.param(key).as_u64().unwrap() as usize
    }

    fn activation(&self) -> FusedActivation {
        match self.param("fused_activation").as_str().unwrap() {
            "NONE" => FusedActivation::None,
            "RELU" => FusedActivation::Relu,
            "RELU6" => FusedActivation::Relu6,
            "RELU_N1_TO_1" => FusedActivation::ReluN1To1,
            other => panic!("{}: activation {other}", self.name),
        }
    }

    fn padding(&self) -> Padding {
        match self.param("padding").as_str().unwrap() {
            "SAME" => Padding::Same,
            "VALID" => Padding::Valid,
            other => panic!("{}: padding {other}", self.name),
        }
    }

    /// Convolution-like geometry from the input, filter and output tensors and the options.
    fn conv_geometry(&self, groups: usize) -> ConvGeometry {
        let input = self.shape4(self.tensor("input"));
        let filter = self.dims(self.tensor("filter"));
        let output = self.shape4(self.output());
        let g = ConvGeometry::new(
            input,
            output.c,
            (filter[1], filter[2]),
            (self.param_usize("stride_h"), self.param_usize("stride_w")),
            (
                self.param_usize("dilation_h_factor"),
                self.param_usize("dilation_w_factor"),
            ),
            self.padding(),
            groups,
        )
        .unwrap_or_else(|e| panic!("{}: geometry: {e}", self.name));
        assert_eq!(g.output, output, "{}: output shape", self.name);
        g
    }

    fn expected(&self) -> Vec<i8> {
        self.i8s(self.output())
    }
}

/// One way of running a convolution-like op: a label and a function from the parameters,
/// input, filter and bias to the output, or `None` when the variant does not apply to the case.
type ConvVariant<'k> = (
    &'k str,
    &'k dyn Fn(&ConvS8Params, &[i8], &[i8], &[i32]) -> Option<Vec<i8>>,
);

/// Runs every CONV_2D or DEPTHWISE_CONV_2D case through every applicable variant; returns
/// the number of cases and of (case, variant) runs.
fn check_conv_like(
    op: &str,
    groups_of: impl Fn(&Case) -> usize,
    variants: &[ConvVariant],
) -> (usize, usize) {
    let all = cases(op);
    let mut runs = 0;
    for c in &all {
        let geometry = c.conv_geometry(groups_of(c));
        let input_t = c.tensor("input");
        let filter_t = c.tensor("filter");
        let filter_scales = c.scales(filter_t);
        let mut multipliers = vec![0; filter_scales.len()];
        let mut shifts = vec![0; filter_scales.len()];
        let p = ConvS8Params::from_scales(
            geometry,
            c.scale(input_t),
            c.zero_point(input_t),
            &filter_scales,
            c.scale(c.output()),
            c.zero_point(c.output()),
            c.activation(),
            &mut multipliers,
            &mut shifts,
        )
        .unwrap_or_else(|e| panic!("{}: params: {e}", c.name));
        let input = c.i8s(input_t);
        let filter = c.i8s(filter_t);
        let bias = c.i32s(c.tensor("bias"));
        let want = c.expected();
        for (label, run) in variants {
            if let Some(got) = run(&p, &input, &filter, &bias) {
                assert_bit_exact(&format!("{} ({label})", c.name), &got, &want);
                runs += 1;
            }
        }
    }
    (all.len(), runs)
}

/// A zeroed output buffer for `p`'s geometry.
fn out_buf(p: &ConvS8Params) -> Vec<i8> {
    vec![0i8; p.geometry.output.len()]
}

#[test]
fn conv_s8_matches_tflm() {
    let (n, runs) = check_conv_like(
        "CONV_2D",
        |c| c.param_usize("groups"),
        &[
            ("dispatcher", &|p, x, f, b| {
                let mut o = out_buf(p);
                conv_s8(p, x, f, Some(b), &mut o, &mut []).unwrap();
                Some(o)
            }),
            ("portable", &|p, x, f, b| {
                let mut o = out_buf(p);
                conv_portable::conv_s8(p, x, f, Some(b), &mut o, &mut []).unwrap();
                Some(o)
            }),
            ("portable general loop", &|p, x, f, b| {
                let mut o = out_buf(p);
                conv_portable::conv_s8_general(p, x, f, Some(b), &mut o).unwrap();
                Some(o)
            }),
            ("pointwise, overlapping buffer", &|p, x, f, b| {
                let g = &p.geometry;
                let pointwise = (g.kernel_h, g.kernel_w, g.stride_h, g.stride_w) == (1, 1, 1, 1)
                    && (g.pad_top, g.pad_bottom, g.pad_left, g.pad_right) == (0, 0, 0, 0);
                if !pointwise {
                    return None;
                }
                // The input leaves room below it for an output wider than the input.
                let (pixels, in_c, out_c) = (g.input.pixels(), g.input.c, g.output.c);
                let in_off = pixels * out_c;
                let out_off = pointwise_overlap_out_offset(in_off, pixels, in_c, out_c);
                let len = (in_off + pixels * in_c).max(out_off + pixels * out_c);
                let mut buf = vec![0i8; len];
                buf[in_off..in_off + x.len()].copy_from_slice(x);
                let mut scratch = vec![0u8; pointwise_conv_s8_overlapping_scratch_len(g)];
                pointwise_conv_s8_overlapping(
                    p,
                    &mut buf,
                    in_off,
                    out_off,
                    f,
                    Some(b),
                    &mut scratch,
                )
                .unwrap();
                Some(buf[out_off..out_off + pixels * out_c].to_vec())
            }),
        ],
    );
    assert!(n >= 9, "{n} CONV_2D cases");
    // Dispatcher, portable and general loop on every case, plus the two 1x1 cases overlapping.
    assert!(runs >= 3 * n + 2, "{runs} runs");
}

#[test]
fn depthwise_conv_s8_matches_tflm() {
    let (n, runs) = check_conv_like(
        "DEPTHWISE_CONV_2D",
        |c| {
            // The channel multiplier is implied by the shapes; check it against the option.
            let m = c.param_usize("depth_multiplier");
            let (i, o) = (c.shape4(c.tensor("input")), c.shape4(c.output()));
            assert_eq!(o.c, i.c * m, "{}: depth multiplier", c.name);
            1
        },
        &[
            ("dispatcher", &|p, x, f, b| {
                let mut o = out_buf(p);
                depthwise_conv_s8(p, x, f, Some(b), &mut o, &mut []).unwrap();
                Some(o)
            }),
            ("portable", &|p, x, f, b| {
                let mut o = out_buf(p);
                depthwise_portable::depthwise_conv_s8(p, x, f, Some(b), &mut o, &mut []).unwrap();
                Some(o)
            }),
            ("in place", &|p, x, f, b| {
                if p.geometry.output.c != p.geometry.input.c {
                    return None;
                }
                let mut buf = x.to_vec();
                let mut scratch = vec![0u8; depthwise_conv_s8_inplace_scratch_len(&p.geometry)];
                depthwise_conv_s8_inplace(p, &mut buf, f, Some(b), &mut scratch).unwrap();
                buf.truncate(p.geometry.output.len());
                Some(buf)
            }),
        ],
    );
    assert!(n >= 5, "{n} DEPTHWISE_CONV_2D cases");
    // Three of the cases have multiplier 1 and also run in place.
    assert!(runs >= 2 * n + 3, "{runs} runs");
}

#[test]
fn fully_connected_s8_matches_tflm() {
    for c in cases("FULLY_CONNECTED") {
        let input_t = c.tensor("input");
        let filter_t = c.tensor("filter");
        let w = c.dims(filter_t);
        let (out_features, in_features) = (w[0], w[1]);
        let batch = c.shape_len(input_t) / in_features;
        let geometry = FullyConnectedGeometry::new(batch, in_features, out_features);
        let scales = c.scales(filter_t);
        let mut multipliers = vec![0; scales.len()];
        let mut shifts = vec![0; scales.len()];
        let p = FullyConnectedS8Params::from_scales(
            geometry,
            c.scale(input_t),
            c.zero_point(input_t),
            &scales,
            c.scale(c.output()),
            c.zero_point(c.output()),
            c.activation(),
            &mut multipliers,
            &mut shifts,
        )
        .unwrap_or_else(|e| panic!("{}: params: {e}", c.name));
        let bias = c.i32s(c.tensor("bias"));
        let (input, weights) = (c.i8s(input_t), c.i8s(filter_t));
        let want = c.expected();
        let mut got = vec![0i8; want.len()];
        fully_connected_s8(&p, &input, &weights, Some(&bias), &mut got, &mut []).unwrap();
        assert_bit_exact(&c.name, &got, &want);
        let mut got = vec![0i8; want.len()];
        fc_portable::fully_connected_s8(&p, &input, &weights, Some(&bias), &mut got, &mut [])
            .unwrap();
        assert_bit_exact(&format!("{} (portable)", c.name), &got, &want);
    }
}

/// A pooling kernel: the dispatcher's or the portable path's.
type PoolKernel = fn(&PoolS8Params, &[i8], &mut [i8]) -> bfmd_kernels::Result<()>;

/// Runs AVERAGE_POOL_2D or MAX_POOL_2D cases through each of `kernels`.
fn check_pool(op: &str, kernels: [PoolKernel; 2]) {
    for c in cases(op) {
        let input_t = c.tensor("input_0");
        let input = c.shape4(input_t);
        let geometry = pool_geometry(
            input,
            (
                c.param_usize("filter_height"),
                c.param_usize("filter_width"),
            ),
            (c.param_usize("stride_h"), c.param_usize("stride_w")),
            c.padding(),
        )
        .unwrap();
        assert_eq!(geometry.output, c.shape4(c.output()), "{}", c.name);
        let p = PoolS8Params::from_scales(
            geometry,
            c.scale(input_t),
            c.zero_point(input_t),
            c.scale(c.output()),
            c.zero_point(c.output()),
            c.activation(),
        )
        .unwrap();
        let want = c.expected();
        for (path, kernel) in ["dispatcher", "portable"].iter().zip(kernels) {
            let mut got = vec![0i8; want.len()];
            kernel(&p, &c.i8s(input_t), &mut got).unwrap();
            assert_bit_exact(&format!("{} ({path})", c.name), &got, &want);
        }
    }
}

#[test]
fn avg_pool_s8_matches_tflm() {
    check_pool("AVERAGE_POOL_2D", [avg_pool_s8, pool_portable::avg_pool_s8]);
}

#[test]
fn max_pool_s8_matches_tflm() {
    check_pool("MAX_POOL_2D", [max_pool_s8, pool_portable::max_pool_s8]);
}

#[test]
fn mean_s8_matches_tflm() {
    let all = cases("MEAN");
    let mut requant = 0;
    for c in &all {
        let axis: Vec<i64> = c.tensor("axis")["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(axis, [1, 2], "{}: only MEAN over H, W is covered", c.name);
        let input_t = c.tensor("input");
        let (si, zi) = (c.scale(input_t), c.zero_point(input_t));
        let (so, zo) = (c.scale(c.output()), c.zero_point(c.output()));
        if (si, zi) != (so, zo) {
            requant += 1;
        }
        let p = MeanS8Params::from_scales(si, zi, so, zo).unwrap();
        let want = c.expected();
        let mut got = vec![0i8; want.len()];
        mean_s8(&p, c.shape4(input_t), &c.i8s(input_t), &mut got).unwrap();
        assert_bit_exact(&c.name, &got, &want);
        let mut got = vec![0i8; want.len()];
        pool_portable::mean_s8(&p, c.shape4(input_t), &c.i8s(input_t), &mut got).unwrap();
        assert_bit_exact(&format!("{} (portable)", c.name), &got, &want);
    }
    // Both the equal and the different quantization paths must be exercised.
    assert!(
        requant >= 1 && requant < all.len(),
        "{requant} of {}",
        all.len()
    );
}

#[test]
fn concatenation_matches_tflm() {
    for c in cases("CONCATENATION") {
        let axis = c.param("axis").as_i64().unwrap() as i32;
        let a_t = c.tensor("input_0");
        let b_t = c.tensor("input_1");
        // TFLM copies int8 bytes (see movement::concat); the converter makes that exact by
        // quantizing every input like the output, which this asserts.
        for t in [a_t, b_t] {
            assert_eq!(c.scale(t), c.scale(c.output()), "{}", c.name);
            assert_eq!(c.zero_point(t), c.zero_point(c.output()), "{}", c.name);
        }
        let rank = c.dims(c.output()).len();
        let axis = Axis::from_tflite(axis, rank).unwrap();
        let (a, b) = (c.i8s(a_t), c.i8s(b_t));
        let want = c.expected();
        let mut got = vec![0i8; want.len()];
        let shape = concat_s8(axis, &[(&a, c.shape4(a_t)), (&b, c.shape4(b_t))], &mut got).unwrap();
        assert_eq!(shape, c.shape4(c.output()), "{}", c.name);
        assert_bit_exact(&c.name, &got, &want);
    }
}

#[test]
fn pad_matches_tflm() {
    for c in cases("PAD") {
        let input_t = c.tensor("input");
        let flat: Vec<i32> = c.tensor("paddings")["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap() as i32)
            .collect();
        let rows: Vec<[i32; 2]> = flat.chunks_exact(2).map(|r| [r[0], r[1]]).collect();
        let pads = PadAmounts::from_tflite(&rows).unwrap();
        // TFLM's PAD (no constant operand) fills with the output zero point.
        let value = c.zero_point(c.output()) as i8;
        let want = c.expected();
        let mut got = vec![0i8; want.len()];
        let shape = pad_s8(&c.i8s(input_t), c.shape4(input_t), &pads, value, &mut got).unwrap();
        assert_eq!(shape, c.shape4(c.output()), "{}", c.name);
        assert_bit_exact(&c.name, &got, &want);
    }
}

/// The quantization of a binary op's two inputs and output, in `from_scales` order.
type BinaryQuant = (f32, i32, f32, i32, f32, i32);

/// An out-of-place binary kernel: the dispatcher's or the portable path's.
type BinaryKernel<P> = fn(&P, Shape, &[i8], Shape, &[i8], &mut [i8]) -> bfmd_kernels::Result<()>;

/// Runs ADD or MUL cases through the out-of-place kernels and the in-place kernel (the first operand,
/// which has the output's shape in every case, is overwritten).
fn check_binary<P>(
    op: &str,
    params: impl Fn(BinaryQuant, FusedActivation) -> P,
    kernels: [BinaryKernel<P>; 2],
    kernel_inplace: impl Fn(&P, Shape, &mut [i8], Shape, &[i8]),
) {
    for c in cases(op) {
        let (a_t, b_t, o_t) = (c.tensor("input_0"), c.tensor("input_1"), c.output());
        let q = (
            c.scale(a_t),
            c.zero_point(a_t),
            c.scale(b_t),
            c.zero_point(b_t),
            c.scale(o_t),
            c.zero_point(o_t),
        );
        let p = params(q, c.activation());
        let (a, b) = (c.i8s(a_t), c.i8s(b_t));
        let (sa, sb) = (c.shape4(a_t), c.shape4(b_t));
        let want = c.expected();
        for (path, kernel) in ["dispatcher", "portable"].iter().zip(kernels) {
            let mut got = vec![0i8; want.len()];
            kernel(&p, sa, &a, sb, &b, &mut got).unwrap();
            assert_bit_exact(&format!("{} ({path})", c.name), &got, &want);
        }
        assert_eq!(
            sa,
            c.shape4(o_t),
            "{}: first operand has the output shape",
            c.name
        );
        let mut a_and_out = a.clone();
        kernel_inplace(&p, sa, &mut a_and_out, sb, &b);
        assert_bit_exact(&format!("{} (in place)", c.name), &a_and_out, &want);
    }
}

#[test]
fn add_s8_matches_tflm() {
    check_binary(
        "ADD",
        |(s1, z1, s2, z2, so, zo), act| {
            AddS8Params::from_scales(s1, z1, s2, z2, so, zo, act).unwrap()
        },
        [add_s8, elementwise_portable::add_s8],
        |p, sa, a, sb, b| add_s8_inplace(p, sa, a, sb, b).unwrap(),
    );
}

#[test]
fn mul_s8_matches_tflm() {
    check_binary(
        "MUL",
        |(s1, z1, s2, z2, so, zo), act| {
            MulS8Params::from_scales(s1, z1, s2, z2, so, zo, act).unwrap()
        },
        [mul_s8, elementwise_portable::mul_s8],
        |p, sa, a, sb, b| mul_s8_inplace(p, sa, a, sb, b).unwrap(),
    );
}

/// The quantization of a unary op's input and output: `(in_scale, in_zp, out_scale, out_zp)`.
type UnaryQuant = (f32, i32, f32, i32);

/// An out-of-place unary kernel run, labelled with its path.
type UnaryRun<'k, P> = (&'k str, &'k dyn Fn(&P, &[i8], &mut [i8]));

/// An in-place unary kernel run, labelled with its path.
type UnaryRunInplace<'k, P> = (&'k str, &'k dyn Fn(&P, &mut [i8]));

/// Runs the cases of a one-input op through each out-of-place and in-place kernel; `params`
/// builds the kernel's parameters from the case (for op options) and the quantization.
/// Returns the number of cases.
fn check_unary<P>(
    op: &str,
    params: impl Fn(&Case, UnaryQuant) -> P,
    runs: &[UnaryRun<P>],
    runs_inplace: &[UnaryRunInplace<P>],
) -> usize {
    let all = cases(op);
    for c in &all {
        let (i_t, o_t) = (c.tensor("input_0"), c.output());
        let q = (
            c.scale(i_t),
            c.zero_point(i_t),
            c.scale(o_t),
            c.zero_point(o_t),
        );
        let p = params(c, q);
        let input = c.i8s(i_t);
        let want = c.expected();
        for (path, run) in runs {
            let mut got = vec![0i8; want.len()];
            run(&p, &input, &mut got);
            assert_bit_exact(&format!("{} ({path})", c.name), &got, &want);
        }
        for (path, run) in runs_inplace {
            let mut data = input.clone();
            run(&p, &mut data);
            assert_bit_exact(&format!("{} ({path})", c.name), &data, &want);
        }
    }
    all.len()
}

/// An activation kernel that may fail (the dispatcher) or not (the portable loop).
type Act<P> = fn(&P, &[i8], &mut [i8]) -> bfmd_kernels::Result<()>;
/// The portable loop of an activation.
type ActLoop<P> = fn(&P, &[i8], &mut [i8]);
/// An in-place activation kernel (the dispatcher).
type ActInplace<P> = fn(&P, &mut [i8]) -> bfmd_kernels::Result<()>;
/// The portable in-place loop of an activation.
type ActInplaceLoop<P> = fn(&P, &mut [i8]);

/// [`check_unary`] for an elementwise activation: the dispatcher, its portable loop and both
/// in-place forms. Returns the number of cases.
fn check_activation<P>(
    op: &str,
    params: impl Fn(UnaryQuant) -> P,
    kernels: (Act<P>, ActLoop<P>, ActInplace<P>, ActInplaceLoop<P>),
) -> usize {
    let (k, k_loop, k_inplace, k_inplace_loop) = kernels;
    check_unary(
        op,
        |_, q| params(q),
        &[
            ("dispatcher", &|p, x, o| k(p, x, o).unwrap()),
            ("portable", &|p, x, o| k_loop(p, x, o)),
        ],
        &[
            ("in place", &|p, d| k_inplace(p, d).unwrap()),
            ("portable in place", &|p, d| k_inplace_loop(p, d)),
        ],
    )
}

#[test]
fn relu_s8_matches_tflm() {
    check_activation(
        "RELU",
        |(si, zi, so, zo)| ReluS8Params::from_scales(si, zi, so, zo).unwrap(),
        (
            relu_s8,
            act_portable::relu,
            relu_s8_inplace,
            act_portable::relu_inplace,
        ),
    );
}

#[test]
fn relu6_s8_matches_tflm() {
    // TFLM's RELU6 works in the input's quantization only; relu6_requant holds the case where
    // the output's differs (TFLM ignores it, see tests/data/kernels/README.md).
    let n = check_activation(
        "RELU6",
        |(si, zi, _, _)| Relu6S8Params::from_scales(si, zi).unwrap(),
        (
            relu6_s8,
            act_portable::relu6,
            relu6_s8_inplace,
            act_portable::relu6_inplace,
        ),
    );
    assert!(n >= 2, "{n} RELU6 cases");
}

#[test]
fn hard_swish_s8_matches_tflm() {
    check_activation(
        "HARD_SWISH",
        |(si, zi, so, zo)| HardSwishS8Params::from_scales(si, zi, so, zo).unwrap(),
        (
            hard_swish_s8,
            act_portable::hard_swish,
            hard_swish_s8_inplace,
            act_portable::hard_swish_inplace,
        ),
    );
}

#[test]
fn logistic_s8_matches_tflm() {
    check_activation(
        "LOGISTIC",
        |(si, zi, so, zo)| LogisticS8Params::from_scales(si, zi, so, zo).unwrap(),
        (
            logistic_s8,
            act_portable::logistic,
            logistic_s8_inplace,
            act_portable::logistic_inplace,
        ),
    );
}

#[test]
fn softmax_s8_matches_tflm() {
    let n = check_unary(
        "SOFTMAX",
        |c, (si, _, so, zo)| {
            let beta = c.param("beta").as_f64().unwrap() as f32;
            // Softmax runs along the last axis of any rank.
            let depth = *c.dims(c.output()).last().unwrap();
            (
                SoftmaxS8Params::from_scales(si, beta, so, zo).unwrap(),
                depth,
            )
        },
        &[("dispatcher", &|(p, depth), x, o| {
            softmax_s8(p, *depth, x, o).unwrap()
        })],
        &[
            ("in place", &|(p, depth), d| {
                softmax_s8_inplace(p, *depth, d).unwrap()
            }),
            ("portable in place", &|(p, depth), d| {
                softmax_portable::softmax_inplace(p, *depth, d)
            }),
        ],
    );
    assert!(n >= 2, "{n} SOFTMAX cases");
}

/// Every op that a test above checks.
const COVERED_OPS: [&str; 15] = [
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "AVERAGE_POOL_2D",
    "MAX_POOL_2D",
    "MEAN",
    "CONCATENATION",
    "PAD",
    "ADD",
    "MUL",
    "RELU",
    "RELU6",
    "HARD_SWISH",
    "LOGISTIC",
    "SOFTMAX",
];

#[test]
fn every_golden_case_is_checked() {
    // A case for an op no test knows would otherwise be silently ignored.
    let mut n = 0;
    for e in fs::read_dir(data_root()).unwrap() {
        let dir = e.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let json: Value =
            serde_json::from_str(&fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
        let op = json["op"].as_str().unwrap();
        assert!(
            COVERED_OPS.contains(&op),
            "{}: op {op} has no test",
            dir.display()
        );
        n += 1;
    }
    assert!(n >= 35, "{n} cases");
}
