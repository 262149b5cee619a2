//! Per-layer error of an f16 or int8 lowering against the f32 one: where a quantized model
//! departs from the float model, and by how much.

use crate::calib::QuantPlan;
use crate::error::Result;
use crate::interp::eval_node;
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
    /// The op's own error: its output against the f32 op evaluated on the very inputs this
    /// precision gave it ([`crate::interp`]), max-norm relative.
    pub local_rel: f32,
    /// The op's own error as a cosine.
    pub local_cos: f64,
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
    // Local references: every op in f32 on the inputs the other precision produced.
    let mut local: Vec<Vec<f32>> = vec![Vec::new(); n];
    local[net.input.0] = b[net.input.0].clone();
    let k = inputs.len();
    for node in &net.nodes {
        for i in 0..k {
            let ins: Vec<&[f32]> = node
                .inputs
                .iter()
                .map(|t| {
                    let per = b[t.0].len() / k;
                    &b[t.0][i * per..(i + 1) * per]
                })
                .collect();
            for (o, v) in node.outputs.iter().zip(eval_node(net, node, &ins)?) {
                local[o.0].extend(v);
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
            // The input has no op: its own error is its conversion.
            let lref = if t == net.input.0 { &a[t] } else { &local[t] };
            LayerError {
                tensor: net.tensors[t].name.clone(),
                op,
                shape: format!("{}x{}x{}", s.h, s.w, s.c),
                max_abs: max_abs_diff(&b[t], &a[t]),
                rel: rel_max(&b[t], &a[t]),
                cosine: cosine(&b[t], &a[t]),
                local_rel: rel_max(&b[t], lref),
                local_cos: cosine(&b[t], lref),
            }
        })
        .collect())
}

/// The comparison as a table, one line per tensor: the error accumulated since the input
/// (against the f32 model) and the op's own error (against the f32 op on the same inputs).
/// Lines whose accumulated cosine falls below `flag_below` are marked `<`; the summary names
/// the first such tensor and the op with the largest own error.
pub fn format_table(rows: &[LayerError], flag_below: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<40} {:<11} {:<13} {:>10} {:>9} {:>9} | {:>9} {:>9}",
        "tensor", "op", "shape", "max abs", "rel", "cosine", "own rel", "own cos"
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
            "{:<40} {:<11} {:<13} {:>10.4e} {:>9.5} {:>9.6} | {:>9.5} {:>9.6}{mark}",
            r.tensor, r.op, r.shape, r.max_abs, r.rel, r.cosine, r.local_rel, r.local_cos
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
    if let Some(w) = worst_local(rows) {
        let _ = writeln!(
            s,
            "largest own error: {} ({}, own rel {:.5}, own cosine {:.6})",
            w.tensor, w.op, w.local_rel, w.local_cos
        );
    }
    s
}

/// The op with the lowest own cosine (the input's conversion excluded).
pub fn worst_local(rows: &[LayerError]) -> Option<&LayerError> {
    rows.iter()
        .skip(1)
        .min_by(|a, b| a.local_cos.total_cmp(&b.local_cos))
}

/// `net` with every convolution and linear weight passed through `f`, called once per
/// output channel's weights.
fn map_weights(net: &Net, f: impl Fn(&mut [f32])) -> Net {
    let mut n = net.clone();
    for node in &mut n.nodes {
        let (w, c) = match &mut node.op {
            Op::Conv(c) => (&mut c.weight, c.out_c),
            Op::Linear(l) => (&mut l.weight, l.out_f),
            _ => continue,
        };
        let per = w.len() / c;
        w.chunks_mut(per).for_each(&f);
    }
    n
}

/// The part of the f16 error no f16 engine avoids: the f32 model's output when only its
/// input and its weights are rounded to f16 (as the f16 model stores them), against
/// `reference` (the f32 outputs of `inputs`); max-norm relative, worst input.
pub fn f16_floor(net: &Net, inputs: &[Vec<f32>], reference: &[Vec<f32>]) -> Result<f32> {
    use bfmd_kernels::half::f16;
    let r16 = |v: &mut f32| *v = f16::from_f32(*v).to_f32();
    let rounded = map_weights(net, |ch| ch.iter_mut().for_each(r16));
    let mut r = Runner::new(&lower(&rounded, Precision::F32, None, false)?)?;
    let mut worst = 0f32;
    for (x, y) in inputs.iter().zip(reference) {
        let mut xr = x.clone();
        xr.iter_mut().for_each(r16);
        worst = worst.max(rel_max(&r.infer(&xr)?, y));
    }
    Ok(worst)
}

/// The part of the int8 error no int8 engine avoids: the f32 model's output when only its
/// input is quantized (with `plan`'s input quantization) and its weights are quantized per
/// channel (`scale = max|w| / 127`), against `reference`; cosine, worst input.
pub fn int8_floor(
    net: &Net,
    plan: &QuantPlan,
    inputs: &[Vec<f32>],
    reference: &[Vec<f32>],
) -> Result<f64> {
    use bfmd_kernels::quant::{dequantize_s8, quantize_f32_to_s8};
    let fq = map_weights(net, |ch| {
        let m = ch.iter().fold(0f32, |a, v| a.max(v.abs()));
        if m > 0.0 {
            let s = m / 127.0;
            ch.iter_mut().for_each(|v| *v = (*v / s).round() * s);
        }
    });
    let q = plan.quant[net.input.0];
    let mut r = Runner::new(&lower(&fq, Precision::F32, None, false)?)?;
    let mut worst = 1f64;
    for (x, y) in inputs.iter().zip(reference) {
        let xq: Vec<f32> = x
            .iter()
            .map(|&v| {
                let i = quantize_f32_to_s8(v, q.scale, q.zero_point);
                dequantize_s8(i, q.scale, q.zero_point)
            })
            .collect();
        worst = worst.min(cosine(&r.infer(&xq)?, y));
    }
    Ok(worst)
}
