//! Per-layer error of an f16 or int8 lowering against the f32 one: where a quantized model
//! departs from the float model, and by how much.

use crate::calib::QuantPlan;
use crate::error::Result;
use crate::lower::{lower, Precision};
use crate::net::{Net, Op};
use crate::run::{cosine, max_abs_diff, rel_max, Runner};
use std::fmt::Write as _;

/// The error of one tensor, over every compared input.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerError {
    /// The tensor (its PyTorch module).
    pub tensor: String,
    /// The op producing it.
    pub op: &'static str,
    /// Its NHWC shape as text.
    pub shape: String,
    /// Largest absolute difference to f32.
    pub max_abs: f32,
    /// `max_abs / max|f32|`.
    pub rel: f32,
    /// Cosine similarity to f32.
    pub cosine: f64,
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Conv(c) if c.is_depthwise() => "depthwise",
        Op::Conv(_) => "conv",
        Op::Linear(_) => "linear",
        Op::MaxPool(_) => "maxpool",
        Op::AvgPool(_) => "avgpool",
        Op::Mean => "mean",
        Op::Add(_) => "add",
        Op::Mul => "mul",
        Op::Concat => "concat",
        Op::Split => "split",
        Op::Shuffle(_) => "shuffle",
        Op::Unary(u) => match u {
            crate::net::Unary::Relu => "relu",
            crate::net::Unary::Relu6 => "relu6",
            crate::net::Unary::HardSigmoid => "hardsigmoid",
            crate::net::Unary::HardSwish => "hardswish",
            crate::net::Unary::Sigmoid => "sigmoid",
            crate::net::Unary::Swish => "swish",
        },
    }
}

/// Runs the f32 and the `other` lowering of `net` on `inputs`, keeping every tensor, and
/// measures each tensor of `other` against f32 (in execution order, the input first).
pub fn compare(
    net: &Net,
    other: Precision,
    plan: Option<&QuantPlan>,
    inputs: &[Vec<f32>],
) -> Result<Vec<LayerError>> {
    let lf = lower(net, Precision::F32, None, true)?;
    let lo = lower(net, other, plan, true)?;
    let (mut rf, mut ro) = (Runner::new(&lf)?, Runner::new(&lo)?);
    let n = net.tensors.len();
    let mut a: Vec<Vec<f32>> = vec![Vec::new(); n];
    let mut b: Vec<Vec<f32>> = vec![Vec::new(); n];
    for x in inputs {
        rf.run(x)?;
        ro.run(x)?;
        for t in 0..n {
            if let (Some(i), Some(j)) = (lf.outputs[t], lo.outputs[t]) {
                a[t].extend(rf.output(i)?);
                b[t].extend(ro.output(j)?);
            }
        }
    }
    let mut order = vec![(net.input.0, "input")];
    for node in &net.nodes {
        for o in &node.outputs {
            order.push((o.0, op_name(&node.op)));
        }
    }
    Ok(order
        .into_iter()
        .filter(|&(t, _)| !a[t].is_empty())
        .map(|(t, op)| {
            let s = net.tensors[t].shape;
            LayerError {
                tensor: net.tensors[t].name.clone(),
                op,
                shape: format!("{}x{}x{}", s.h, s.w, s.c),
                max_abs: max_abs_diff(&b[t], &a[t]),
                rel: rel_max(&b[t], &a[t]),
                cosine: cosine(&b[t], &a[t]),
            }
        })
        .collect())
}

/// The comparison as a table, one line per tensor; lines whose cosine falls below
/// `flag_below` are marked `<`, and the first such line is named at the end.
pub fn format_table(rows: &[LayerError], flag_below: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<40} {:<11} {:<13} {:>10} {:>9} {:>9}",
        "tensor", "op", "shape", "max abs", "rel", "cosine"
    );
    let mut first = None;
    for r in rows {
        let mark = if r.cosine < flag_below {
            if first.is_none() {
                first = Some(r.tensor.clone());
            }
            " <"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "{:<40} {:<11} {:<13} {:>10.4e} {:>9.5} {:>9.6}{mark}",
            r.tensor, r.op, r.shape, r.max_abs, r.rel, r.cosine
        );
    }
    match first {
        Some(t) => {
            let _ = writeln!(s, "first tensor below cosine {flag_below}: {t}");
        }
        None => {
            let _ = writeln!(s, "every tensor at cosine >= {flag_below}");
        }
    }
    s
}
