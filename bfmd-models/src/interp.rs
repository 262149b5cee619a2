//! A plain `f32` interpreter of a [`Net`], written with naive loops and independent of
//! `bfmd-graph` and the kernels: the oracle for the lowering, and the "local" reference of
//! `--compare` (each op evaluated in f32 on the inputs another precision actually saw, so a
//! layer's own error is told apart from the error it inherits).

use crate::error::{Error, Result};
use crate::net::{Act, Net, Node, Op, Pool, Unary};
use bfmd_kernels::reference::activation as a;
use bfmd_kernels::Shape;

fn clamp(v: f32, act: Act) -> f32 {
    match act {
        Act::None => v,
        Act::Relu => v.max(0.0),
        Act::Relu6 => v.clamp(0.0, 6.0),
    }
}

fn pool(x: &[f32], xs: Shape, ys: Shape, p: &Pool, max: bool) -> Vec<f32> {
    let mut y = vec![0f32; ys.len()];
    for oy in 0..ys.h {
        for ox in 0..ys.w {
            for c in 0..ys.c {
                let (mut acc, mut n) = (if max { f32::NEG_INFINITY } else { 0.0 }, 0usize);
                for ky in 0..p.kernel.0 {
                    for kx in 0..p.kernel.1 {
                        let iy = (oy * p.stride.0 + ky) as isize - p.pad[0] as isize;
                        let ix = (ox * p.stride.1 + kx) as isize - p.pad[2] as isize;
                        if iy < 0 || ix < 0 || iy >= xs.h as isize || ix >= xs.w as isize {
                            continue;
                        }
                        let v = x[xs.index(0, iy as usize, ix as usize, c)];
                        if max {
                            acc = acc.max(v);
                        } else {
                            acc += v;
                        }
                        n += 1;
                    }
                }
                y[ys.index(0, oy, ox, c)] = if max {
                    acc
                } else if p.count_include_pad {
                    // PyTorch divides by the window clipped to the padded input.
                    let hend = (oy * p.stride.0 + p.kernel.0).min(xs.h + p.pad[0] + p.pad[1]);
                    let wend = (ox * p.stride.1 + p.kernel.1).min(xs.w + p.pad[2] + p.pad[3]);
                    acc / ((hend - oy * p.stride.0) * (wend - ox * p.stride.1)) as f32
                } else {
                    acc / n.max(1) as f32
                };
            }
        }
    }
    y
}

/// Evaluates one node of `net` on `inputs` (one slice per node input, NHWC); returns one
/// vector per node output.
pub fn eval_node(net: &Net, node: &Node, inputs: &[&[f32]]) -> Result<Vec<Vec<f32>>> {
    let xs = net.shape(node.inputs[0]);
    let ys = net.shape(node.outputs[0]);
    let x = inputs[0];
    if inputs.len() != node.inputs.len() || x.len() != xs.len() {
        return Err(Error::Run(format!("{}: wrong inputs", node.name)));
    }
    let out = match &node.op {
        Op::Conv(c) => {
            let (kh, kw) = c.kernel;
            let cg = c.in_c / c.groups;
            let og = c.out_c / c.groups;
            let mut y = vec![0f32; ys.len()];
            for oy in 0..ys.h {
                for ox in 0..ys.w {
                    for o in 0..c.out_c {
                        let g = o / og;
                        let mut acc = 0f64;
                        for ky in 0..kh {
                            let iy =
                                (oy * c.stride.0 + ky * c.dilation.0) as isize - c.pad[0] as isize;
                            if iy < 0 || iy >= xs.h as isize {
                                continue;
                            }
                            for kx in 0..kw {
                                let ix = (ox * c.stride.1 + kx * c.dilation.1) as isize
                                    - c.pad[2] as isize;
                                if ix < 0 || ix >= xs.w as isize {
                                    continue;
                                }
                                for i in 0..cg {
                                    let w = c.weight[((o * kh + ky) * kw + kx) * cg + i];
                                    let v = x[xs.index(0, iy as usize, ix as usize, g * cg + i)];
                                    acc += w as f64 * v as f64;
                                }
                            }
                        }
                        let b = c.bias.as_ref().map_or(0.0, |b| b[o] as f64);
                        y[ys.index(0, oy, ox, o)] = clamp((acc + b) as f32, c.act);
                    }
                }
            }
            vec![y]
        }
        Op::Linear(l) => {
            let y = (0..l.out_f)
                .map(|o| {
                    let acc: f64 = (0..l.in_f)
                        .map(|i| l.weight[o * l.in_f + i] as f64 * x[i] as f64)
                        .sum();
                    let b = l.bias.as_ref().map_or(0.0, |b| b[o] as f64);
                    clamp((acc + b) as f32, l.act)
                })
                .collect();
            vec![y]
        }
        Op::MaxPool(p) => vec![pool(x, xs, ys, p, true)],
        Op::AvgPool(p) => vec![pool(x, xs, ys, p, false)],
        Op::Mean => {
            let px = (xs.h * xs.w) as f64;
            let y = (0..xs.c)
                .map(|c| {
                    let s: f64 = (0..xs.h * xs.w).map(|p| x[p * xs.c + c] as f64).sum();
                    (s / px) as f32
                })
                .collect();
            vec![y]
        }
        Op::Add(act) => vec![x
            .iter()
            .zip(inputs[1])
            .map(|(u, v)| clamp(u + v, *act))
            .collect()],
        Op::Mul => {
            let g = inputs[1];
            vec![x.iter().enumerate().map(|(i, v)| v * g[i % xs.c]).collect()]
        }
        Op::Concat => {
            let mut y = vec![0f32; ys.len()];
            let mut off = 0;
            for (t, part) in node.inputs.iter().zip(inputs) {
                let c = net.shape(*t).c;
                for p in 0..ys.h * ys.w {
                    y[p * ys.c + off..p * ys.c + off + c]
                        .copy_from_slice(&part[p * c..(p + 1) * c]);
                }
                off += c;
            }
            vec![y]
        }
        Op::Split => {
            let mut off = 0;
            let mut outs = Vec::new();
            for t in &node.outputs {
                let c = net.shape(*t).c;
                let mut y = vec![0f32; xs.h * xs.w * c];
                for p in 0..xs.h * xs.w {
                    y[p * c..(p + 1) * c].copy_from_slice(&x[p * xs.c + off..p * xs.c + off + c]);
                }
                off += c;
                outs.push(y);
            }
            outs
        }
        Op::Shuffle(g) => {
            // view(g, c/g) -> transpose -> view: output channel j * g + i reads i * (c/g) + j.
            let cpg = xs.c / g;
            let mut y = vec![0f32; ys.len()];
            for p in 0..xs.h * xs.w {
                for i in 0..*g {
                    for j in 0..cpg {
                        y[p * xs.c + j * g + i] = x[p * xs.c + i * cpg + j];
                    }
                }
            }
            vec![y]
        }
        Op::Unary(u) => {
            let f: fn(f32) -> f32 = match u {
                Unary::Relu => |v| v.max(0.0),
                Unary::Relu6 => |v| v.clamp(0.0, 6.0),
                Unary::HardSigmoid => a::hard_sigmoid,
                Unary::HardSwish => a::hard_swish,
                Unary::Sigmoid => a::logistic,
                Unary::Swish => a::swish,
            };
            vec![x.iter().map(|&v| f(v)).collect()]
        }
    };
    Ok(out)
}

/// Evaluates `net` on `input` (NHWC); returns every tensor.
pub fn eval(net: &Net, input: &[f32]) -> Result<Vec<Vec<f32>>> {
    let mut t: Vec<Vec<f32>> = vec![Vec::new(); net.tensors.len()];
    if input.len() != net.shape(net.input).len() {
        return Err(Error::Run("input size differs from the net's".into()));
    }
    t[net.input.0] = input.to_vec();
    for node in &net.nodes {
        let ins: Vec<&[f32]> = node.inputs.iter().map(|i| t[i.0].as_slice()).collect();
        let outs = eval_node(net, node, &ins)?;
        for (o, v) in node.outputs.iter().zip(outs) {
            t[o.0] = v;
        }
    }
    Ok(t)
}
