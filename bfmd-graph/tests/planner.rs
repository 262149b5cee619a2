//! Property tests of the memory planner on random DAGs, checked by an independent oracle:
//! no two simultaneously live tensors share a byte unless a view or the recorded in-place /
//! overlapping variant of the op between them allows it (and then the overwritten input dies
//! at that op), scratch never overlaps a live tensor, everything fits in the arena, and the
//! in-place plan is never larger than plain greedy.

mod common;

use bfmd_graph::ops::{Variant, NO_TENSOR};
use bfmd_graph::plan::{plan, Alias, OpSlot, PlanOp, PlanTensor, TensorSlot, Work};
use common::Rng;
use proptest::prelude::*;

struct Dag {
    tensors: Vec<PlanTensor>,
    ops: Vec<(Vec<u16>, Vec<u16>, usize, Alias)>,
}

/// A random DAG: 1-2 graph inputs, then ops reading 1-3 earlier tensors (sometimes a
/// constant or an absent optional input) and writing 1-2 new ones.
fn random_dag(seed: u64, n_ops: usize) -> Dag {
    let mut rng = Rng::new(seed);
    let mut tensors = Vec::new();
    let mut live: Vec<u16> = Vec::new();
    let size = |rng: &mut Rng| (rng.range(1, 64) * rng.range(1, 16)) as usize;
    for _ in 0..rng.range(1, 2) {
        tensors.push(PlanTensor {
            bytes: size(&mut rng),
            activation: true,
            graph_input: true,
            graph_output: false,
        });
        live.push((tensors.len() - 1) as u16);
    }
    tensors.push(PlanTensor {
        bytes: 64,
        activation: false,
        graph_input: false,
        graph_output: false,
    });
    let constant = (tensors.len() - 1) as u16;
    let mut ops = Vec::new();
    for _ in 0..n_ops {
        let n_in = rng.range(1, 3) as usize;
        let mut inputs: Vec<u16> = (0..n_in)
            .map(|_| live[rng.range(0, live.len() as i64 - 1) as usize])
            .collect();
        if rng.range(0, 5) == 0 {
            inputs.push(constant);
        }
        if rng.range(0, 7) == 0 {
            inputs.push(NO_TENSOR);
        }
        let n_out = if rng.range(0, 6) == 0 { 2 } else { 1 };
        let first_in = tensors[inputs[0] as usize].bytes;
        let kind = rng.range(0, 9);
        let alias = match kind {
            0 => Alias::View,
            1..=3 => Alias::InPlace {
                slots: if n_in > 1 && rng.range(0, 1) == 0 {
                    3
                } else {
                    1
                },
                scratch: rng.range(0, 3) as usize * 16,
            },
            4 | 5 => Alias::Overlap {
                shift: rng.range(0, 4) as usize * 8,
                scratch: rng.range(1, 40) as usize,
            },
            _ => Alias::None,
        };
        let mut outputs = Vec::new();
        for k in 0..n_out {
            let bytes = match (alias, k) {
                (Alias::View, 0) => first_in,
                (Alias::InPlace { .. }, 0) => {
                    (first_in / 2).max(1) + rng.range(0, (first_in / 2) as i64) as usize
                }
                _ => size(&mut rng),
            };
            tensors.push(PlanTensor {
                bytes,
                activation: true,
                graph_input: false,
                graph_output: false,
            });
            outputs.push((tensors.len() - 1) as u16);
            live.push((tensors.len() - 1) as u16);
        }
        let scratch = if rng.range(0, 3) == 0 {
            rng.range(1, 100) as usize
        } else {
            0
        };
        ops.push((inputs, outputs, scratch, alias));
    }
    // The last op's outputs and a few random tensors are graph outputs.
    if let Some((_, outs, _, _)) = ops.last() {
        for &o in outs {
            tensors[o as usize].graph_output = true;
        }
    }
    for _ in 0..rng.range(0, 2) {
        let t = live[rng.range(0, live.len() as i64 - 1) as usize] as usize;
        tensors[t].graph_output = true;
    }
    Dag { tensors, ops }
}

struct Planned {
    arena: usize,
    greedy: usize,
    offsets: Vec<usize>,
    ops: Vec<OpSlot>,
}

fn run_plan(d: &Dag, in_place: bool) -> Planned {
    let ops: Vec<PlanOp<'_>> = d
        .ops
        .iter()
        .map(|(i, o, s, a)| PlanOp {
            inputs: i,
            outputs: o,
            scratch: *s,
            alias: *a,
        })
        .collect();
    let mut ts = vec![TensorSlot::default(); d.tensors.len()];
    let mut os = vec![OpSlot::default(); ops.len()];
    let mut order = vec![0u32; 2 * (ts.len() + os.len())];
    let sizes = plan(
        &d.tensors,
        &ops,
        in_place,
        &mut Work {
            tensors: &mut ts,
            ops: &mut os,
            order: &mut order,
        },
    )
    .unwrap();
    Planned {
        arena: sizes.arena_bytes,
        greedy: sizes.greedy_bytes,
        offsets: ts.iter().map(|t| t.offset).collect(),
        ops: os,
    }
}

/// The oracle: recomputes liveness and view classes from the DAG alone and checks the plan.
fn check_plan(d: &Dag, p: &Planned) -> Result<(), String> {
    let n = d.tensors.len();
    let end = d.ops.len();
    let (mut first, mut last) = (vec![usize::MAX; n], vec![0usize; n]);
    for (t, pt) in d.tensors.iter().enumerate() {
        if pt.graph_input {
            first[t] = 0;
        }
        if pt.graph_output {
            last[t] = end;
        }
    }
    for (j, (ins, outs, _, _)) in d.ops.iter().enumerate() {
        for &o in outs {
            first[o as usize] = j;
            last[o as usize] = last[o as usize].max(j);
        }
        for &i in ins.iter().filter(|&&i| i != NO_TENSOR) {
            last[i as usize] = last[i as usize].max(j);
        }
    }
    // View classes (union-find over reshape-like ops).
    let mut class: Vec<usize> = (0..n).collect();
    fn find(c: &mut [usize], t: usize) -> usize {
        if c[t] == t {
            t
        } else {
            let r = find(c, c[t]);
            c[t] = r;
            r
        }
    }
    for (ins, outs, _, a) in &d.ops {
        if *a == Alias::View && d.tensors[ins[0] as usize].activation {
            let (x, y) = (
                find(&mut class, ins[0] as usize),
                find(&mut class, outs[0] as usize),
            );
            class[y] = x;
        }
    }
    let cls: Vec<usize> = (0..n).map(|t| find(&mut class, t)).collect();
    let class_last = |c: usize| {
        (0..n)
            .filter(|&t| cls[t] == c && d.tensors[t].activation)
            .map(|t| last[t])
            .max()
            .unwrap_or(0)
    };
    let class_out = |c: usize| (0..n).any(|t| cls[t] == c && d.tensors[t].graph_output);
    // Pairs allowed to overlap: (overwritten input's class, output's class) at op j.
    let mut allowed: Vec<(usize, usize, usize)> = Vec::new();
    for (j, ((ins, outs, _, _), slot)) in d.ops.iter().zip(&p.ops).enumerate() {
        let s = match slot.variant {
            Variant::Normal => continue,
            Variant::InPlace { input } => input as usize,
            Variant::Overlapping => 0,
        };
        if matches!(d.ops[j].3, Alias::View) {
            continue;
        }
        let t = ins[s] as usize;
        let c = cls[t];
        if class_last(c) != j || class_out(c) {
            return Err(format!(
                "op {j} overwrites tensor {t} which is still needed"
            ));
        }
        allowed.push((c, cls[outs[0] as usize], j));
    }
    let region = |t: usize| (p.offsets[t], p.offsets[t] + d.tensors[t].bytes);
    for t in 0..n {
        if !d.tensors[t].activation {
            continue;
        }
        if region(t).1 > p.arena {
            return Err(format!("tensor {t} ends past the arena"));
        }
        for u in t + 1..n {
            if !d.tensors[u].activation || first[t] > last[u] || first[u] > last[t] {
                continue;
            }
            let ((a0, a1), (b0, b1)) = (region(t), region(u));
            if a0 >= b1 || b0 >= a1 || cls[t] == cls[u] {
                continue;
            }
            let ok = allowed.iter().any(|&(ci, co, j)| {
                let (tc, uc) = (cls[t], cls[u]);
                let pair = (tc == ci && uc == co) || (tc == co && uc == ci);
                // The overwritten side's last use and the output side's first use meet at j.
                pair && ((tc == ci && last[t] <= j && first[u] >= j)
                    || (uc == ci && last[u] <= j && first[t] >= j))
            });
            if !ok {
                return Err(format!("tensors {t} and {u} are live together and overlap"));
            }
        }
    }
    for (j, slot) in p.ops.iter().enumerate() {
        let s = slot.scratch;
        if s.len == 0 {
            continue;
        }
        if s.start + s.len > p.arena {
            return Err(format!("scratch of op {j} ends past the arena"));
        }
        for t in (0..n).filter(|&t| d.tensors[t].activation && first[t] <= j && j <= last[t]) {
            let (a0, a1) = region(t);
            if a0 < s.start + s.len && s.start < a1 {
                return Err(format!("scratch of op {j} overlaps live tensor {t}"));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn plans_are_safe_and_in_place_never_grows(seed in any::<u64>(), n_ops in 1usize..40) {
        let d = random_dag(seed, n_ops);
        let plain = run_plan(&d, false);
        let best = run_plan(&d, true);
        prop_assert_eq!(plain.arena, plain.greedy);
        prop_assert_eq!(best.greedy, plain.arena);
        prop_assert!(best.arena <= plain.arena, "in place {} > greedy {}", best.arena, plain.arena);
        prop_assert!(plain.ops.iter().zip(&d.ops).all(|(s, o)| s.variant == Variant::Normal || o.3 == Alias::View));
        if let Err(e) = check_plan(&d, &plain) {
            prop_assert!(false, "plain plan: {}", e);
        }
        if let Err(e) = check_plan(&d, &best) {
            prop_assert!(false, "in-place plan: {}", e);
        }
    }
}

#[test]
fn the_oracle_rejects_an_unsafe_plan() {
    // Two tensors live at once, placed on top of each other: the oracle must object, or the
    // property above proves nothing.
    let d = Dag {
        tensors: vec![
            PlanTensor {
                bytes: 32,
                activation: true,
                graph_input: true,
                graph_output: false,
            },
            PlanTensor {
                bytes: 32,
                activation: true,
                graph_input: false,
                graph_output: false,
            },
            PlanTensor {
                bytes: 32,
                activation: true,
                graph_input: false,
                graph_output: true,
            },
        ],
        ops: vec![
            (vec![0], vec![1], 0, Alias::None),
            (vec![0, 1], vec![2], 0, Alias::None),
        ],
    };
    let mut p = run_plan(&d, true);
    assert!(check_plan(&d, &p).is_ok());
    p.offsets[1] = p.offsets[0];
    assert!(check_plan(&d, &p).unwrap_err().contains("overlap"));
    // An in-place decision over an input that is read later is rejected too.
    let mut p = run_plan(&d, true);
    p.ops[0].variant = Variant::InPlace { input: 0 };
    assert!(check_plan(&d, &p).unwrap_err().contains("still needed"));
}

#[test]
fn planner_reports_bad_graphs() {
    let t = |bytes| PlanTensor {
        bytes,
        activation: true,
        graph_input: false,
        graph_output: false,
    };
    let tensors = [
        PlanTensor {
            graph_input: true,
            ..t(16)
        },
        t(16),
    ];
    let (i0, i1, o1) = ([0u16], [1u16], [1u16]);
    // Tensor 1 read before written.
    let ops = [PlanOp {
        inputs: &i1,
        outputs: &o1,
        scratch: 0,
        alias: Alias::None,
    }];
    let mut ts = vec![TensorSlot::default(); 2];
    let mut os = vec![OpSlot::default(); 1];
    let mut order = vec![0u32; 6];
    let e = plan(
        &tensors,
        &ops,
        true,
        &mut Work {
            tensors: &mut ts,
            ops: &mut os,
            order: &mut order,
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("read before"), "{e}");
    // Too little working memory is an error, not a panic.
    let ops = [PlanOp {
        inputs: &i0,
        outputs: &o1,
        scratch: 0,
        alias: Alias::None,
    }];
    let mut order = vec![0u32; 2];
    let e = plan(
        &tensors,
        &ops,
        true,
        &mut Work {
            tensors: &mut ts,
            ops: &mut os,
            order: &mut order,
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("too small"), "{e}");
}
