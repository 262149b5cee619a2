//! Runs the dispatched kernels and the portable loops on the shapes of `BENCH.md` (a-g), in
//! int8 and (for the convolutions and the fully connected layer) f16, for comparing the NEON
//! paths with the portable ones.
//!
//! ```text
//! cargo run --release --target aarch64-unknown-linux-gnu -p bfmd-kernels --example neon_timing
//! cargo run ... --example neon_timing -- run <case> <dispatch|portable> <calls>
//! ```
//!
//! Without arguments it prints a table of wall-clock time per MAC (per add for the pool, per
//! element for the add). With `run` it only sets up case number `<case>` (the table's row
//! order) and calls one of its two paths `<calls>` times, so that an instruction-counting QEMU
//! plugin can measure one call as the difference of two runs.
//!
//! Under `qemu-aarch64` (the runner in `.cargo/config.toml`) the times are those of an
//! emulator: QEMU translates each guest instruction to host code of very different cost (many
//! NEON instructions become calls to helper functions), so even the ratio between two paths
//! says little about a phone. Speed is never asserted; this program only prints.

use bfmd_kernels::f16::{conv as hconv, depthwise as hdw, fully_connected as hfc};
use bfmd_kernels::half::f16;
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::reference::conv::ConvF32Params;
use bfmd_kernels::reference::fully_connected::{FullyConnectedF32Params, FullyConnectedGeometry};
use bfmd_kernels::reference::pool::pool_geometry;
use bfmd_kernels::s8::conv::{self, ChannelQuantS8, ConvS8Params};
use bfmd_kernels::s8::depthwise;
use bfmd_kernels::s8::elementwise::{self, AddS8Params};
use bfmd_kernels::s8::fully_connected::{self as fc, FullyConnectedS8Params};
use bfmd_kernels::s8::pool::{self, PoolS8Params};
use bfmd_kernels::{ConvGeometry, Padding, Shape};
use std::hint::black_box;
use std::time::Instant;

/// Seconds per call of `f`, repeated until at least `budget` seconds have passed.
fn time(budget: f64, f: &mut dyn FnMut()) -> f64 {
    f();
    let mut n = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        let dt = t.elapsed().as_secs_f64();
        if dt >= budget {
            return dt / n as f64;
        }
        n *= 2;
    }
}

/// Deterministic pseudo-random bytes.
fn bytes(n: usize, seed: u64) -> Vec<i8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as i8
        })
        .collect()
}

fn halves(n: usize, seed: u64) -> Vec<f16> {
    bytes(n, seed)
        .into_iter()
        .map(|b| f16::from_f32(b as f32 / 256.0))
        .collect()
}

/// BENCH.md's quantization: input offset 128, output offset -128, full int8 range, one
/// multiplier per output channel.
fn quant<'a>(m: &'a [i32], s: &'a [i32]) -> ChannelQuantS8<'a> {
    ChannelQuantS8 {
        input_offset: 128,
        output_offset: -128,
        multipliers: m,
        shifts: s,
        act_min: -128,
        act_max: 127,
    }
}

/// One benchmark row: the two paths as closures owning their data.
struct Case {
    id: &'static str,
    what: String,
    path: &'static str,
    /// MACs (adds for the pool, elements for the add).
    work: usize,
    dispatch: Box<dyn FnMut()>,
    /// The portable loop, where the crate exposes one (`None` for the in-place variants: time
    /// those in a `force-portable` build, whose dispatcher is the portable loop).
    portable: Option<Box<dyn FnMut()>>,
}

const MULT: i32 = 1_500_000_000;
const SHIFT: i32 = -9;

/// The int8 and f16 cases of a convolution (`dw`: depthwise) shape.
fn conv_cases(id: &'static str, what: &str, g: ConvGeometry, dw: bool) -> [Case; 2] {
    let taps = g.kernel_h * g.kernel_w * if dw { 1 } else { g.input.c };
    let (oc, work) = (g.output.c, g.output.len() * taps);
    let filter = bytes(taps * oc, 2);
    let input = bytes(g.input.len(), 1);
    let bias: Vec<i32> = bytes(oc, 3).iter().map(|&b| b as i32 * 64).collect();
    let (m, s) = (vec![MULT; oc], vec![SHIFT; oc]);
    let mut out = vec![0i8; g.output.len()];
    let (f2, i2, b2, m2, s2, mut o2) = (
        filter.clone(),
        input.clone(),
        bias.clone(),
        m.clone(),
        s.clone(),
        out.clone(),
    );
    let s8 = if dw {
        Case {
            id,
            what: format!("{what}, int8"),
            path: depthwise::PATH,
            work,
            dispatch: Box::new(move || {
                let p = ConvS8Params {
                    geometry: g,
                    quant: quant(&m, &s),
                };
                depthwise::depthwise_conv_s8(&p, &input, &filter, Some(&bias), &mut out, &mut [])
                    .unwrap();
                black_box(&out);
            }),
            portable: Some(Box::new(move || {
                let p = ConvS8Params {
                    geometry: g,
                    quant: quant(&m2, &s2),
                };
                depthwise::portable::depthwise_conv_s8(&p, &i2, &f2, Some(&b2), &mut o2, &mut [])
                    .unwrap();
                black_box(&o2);
            })),
        }
    } else {
        Case {
            id,
            what: format!("{what}, int8"),
            path: conv::PATH,
            work,
            dispatch: Box::new(move || {
                let p = ConvS8Params {
                    geometry: g,
                    quant: quant(&m, &s),
                };
                conv::conv_s8(&p, &input, &filter, Some(&bias), &mut out, &mut []).unwrap();
                black_box(&out);
            }),
            portable: Some(Box::new(move || {
                let p = ConvS8Params {
                    geometry: g,
                    quant: quant(&m2, &s2),
                };
                conv::portable::conv_s8(&p, &i2, &f2, Some(&b2), &mut o2, &mut []).unwrap();
                black_box(&o2);
            })),
        }
    };
    let (x, w) = (halves(g.input.len(), 4), halves(taps * oc, 5));
    let b: Vec<f32> = bytes(oc, 6).iter().map(|&v| v as f32 / 64.0).collect();
    let pf = ConvF32Params::new(g, FusedActivation::Relu6);
    let mut out = vec![f16::ZERO; g.output.len()];
    let (x2, w2, bb2, mut o2) = (x.clone(), w.clone(), b.clone(), out.clone());
    let f16_case = if dw {
        Case {
            id,
            what: format!("{what}, f16"),
            path: hdw::PATH,
            work,
            dispatch: Box::new(move || {
                hdw::depthwise_conv_f16(&pf, &x, &w, Some(&b), &mut out, &mut []).unwrap();
                black_box(&out);
            }),
            portable: Some(Box::new(move || {
                hdw::portable::depthwise_conv_f16(&pf, &x2, &w2, Some(&bb2), &mut o2, &mut [])
                    .unwrap();
                black_box(&o2);
            })),
        }
    } else {
        Case {
            id,
            what: format!("{what}, f16"),
            path: hconv::PATH,
            work,
            dispatch: Box::new(move || {
                hconv::conv_f16(&pf, &x, &w, Some(&b), &mut out, &mut []).unwrap();
                black_box(&out);
            }),
            portable: Some(Box::new(move || {
                hconv::portable::conv_f16(&pf, &x2, &w2, Some(&bb2), &mut o2, &mut []).unwrap();
                black_box(&o2);
            })),
        }
    };
    [s8, f16_case]
}

/// Shape a in place (the planner's choice when it saves memory), int8.
fn depthwise_inplace_case(g: ConvGeometry) -> Case {
    let (taps, c) = (g.kernel_h * g.kernel_w, g.output.c);
    let (filter, input) = (bytes(taps * c, 2), bytes(g.input.len(), 1));
    let bias: Vec<i32> = bytes(c, 3).iter().map(|&b| b as i32 * 64).collect();
    let (m, s) = (vec![MULT; c], vec![SHIFT; c]);
    let mut buf = input.clone();
    let mut scratch = vec![0u8; depthwise::depthwise_conv_s8_inplace_scratch_len(&g)];
    Case {
        id: "a",
        what: "depthwise 3x3 s1 48x48x32, int8 in place".into(),
        path: depthwise::PATH,
        work: g.output.len() * taps,
        dispatch: Box::new(move || {
            let p = ConvS8Params {
                geometry: g,
                quant: quant(&m, &s),
            };
            // Each call overwrites its input; restoring it is part of the measured work
            // (a copy of 73 KB, small next to the convolution).
            buf.copy_from_slice(&input);
            depthwise::depthwise_conv_s8_inplace(&p, &mut buf, &filter, Some(&bias), &mut scratch)
                .unwrap();
            black_box(&buf);
        }),
        portable: None,
    }
}

/// Shape c with the output overlapping the input in one buffer, int8.
fn overlapping_case(g: ConvGeometry) -> Case {
    let (k, oc) = (g.input.c, g.output.c);
    let (filter, input) = (bytes(k * oc, 2), bytes(g.input.len(), 1));
    let bias: Vec<i32> = bytes(oc, 3).iter().map(|&b| b as i32 * 64).collect();
    let (m, s) = (vec![MULT; oc], vec![SHIFT; oc]);
    let pixels = g.input.pixels();
    // The output starts at 0 and overlaps the input as much as the rule allows.
    let in_off = (pixels - 1) * (oc - k);
    let out_off = conv::pointwise_overlap_out_offset(in_off, pixels, k, oc);
    let mut buf = vec![0i8; (in_off + input.len()).max(out_off + pixels * oc)];
    let mut scratch = vec![0u8; conv::pointwise_conv_s8_overlapping_scratch_len(&g)];
    Case {
        id: "c",
        what: "1x1 24x24x64->128, int8 overlapping".into(),
        path: conv::PATH,
        work: g.output.len() * k,
        dispatch: Box::new(move || {
            let p = ConvS8Params {
                geometry: g,
                quant: quant(&m, &s),
            };
            buf[in_off..in_off + input.len()].copy_from_slice(&input);
            conv::pointwise_conv_s8_overlapping(
                &p,
                &mut buf,
                in_off,
                out_off,
                &filter,
                Some(&bias),
                &mut scratch,
            )
            .unwrap();
            black_box(&buf);
        }),
        portable: None,
    }
}

fn cases() -> Vec<Case> {
    let s = Shape::new;
    let pad1 = Padding::Explicit {
        top: 1,
        bottom: 1,
        left: 1,
        right: 1,
    };
    let valid = Padding::Valid;
    let geo = |i, o, k, st, p| ConvGeometry::new(i, o, k, st, (1, 1), p, 1).unwrap();
    let mut v = Vec::new();
    let a = geo(s(1, 48, 48, 32), 32, (3, 3), (1, 1), pad1);
    v.extend(conv_cases("a", "depthwise 3x3 s1 48x48x32", a, true));
    v.push(depthwise_inplace_case(a));
    let b = geo(s(1, 48, 48, 64), 64, (3, 3), (2, 2), pad1);
    v.extend(conv_cases("b", "depthwise 3x3 s2 48x48x64", b, true));
    let c = geo(s(1, 24, 24, 64), 128, (1, 1), (1, 1), valid);
    v.extend(conv_cases("c", "1x1 24x24x64->128", c, false));
    v.push(overlapping_case(c));
    let d = geo(s(1, 12, 12, 128), 128, (1, 1), (1, 1), valid);
    v.extend(conv_cases("d", "1x1 12x12x128->128", d, false));
    let e = geo(s(1, 96, 96, 3), 8, (3, 3), (2, 2), Padding::Same);
    v.extend(conv_cases("e", "3x3 s2 96x96x3->8", e, false));

    // f1: global average pool 3x3x256 (TFLite AVERAGE_POOL_2D over the whole input).
    let g = pool_geometry(s(1, 3, 3, 256), (3, 3), (1, 1), valid).unwrap();
    let p = PoolS8Params::from_scales(g, 0.05, -128, 0.05, -128, FusedActivation::None).unwrap();
    let input = bytes(g.input.len(), 6);
    let i2 = input.clone();
    let (mut out, mut o2) = (vec![0i8; 256], vec![0i8; 256]);
    v.push(Case {
        id: "f1",
        what: "avg pool 3x3x256, int8 (per add)".into(),
        path: pool::PATH,
        work: 2304,
        dispatch: Box::new(move || {
            pool::avg_pool_s8(&p, &input, &mut out).unwrap();
            black_box(&out);
        }),
        portable: Some(Box::new(move || {
            pool::portable::avg_pool_s8(&p, &i2, &mut o2).unwrap();
            black_box(&o2);
        })),
    });

    // f2: fully connected 256 -> 10, int8 and f16.
    let fg = FullyConnectedGeometry::new(1, 256, 10);
    let (x, w) = (bytes(256, 7), bytes(2560, 8));
    let (x2, w2) = (x.clone(), w.clone());
    let (m, sh) = (vec![MULT; 10], vec![SHIFT; 10]);
    let (m2, sh2) = (m.clone(), sh.clone());
    let (mut out, mut o2) = (vec![0i8; 10], vec![0i8; 10]);
    v.push(Case {
        id: "f2",
        what: "fully connected 256->10, int8".into(),
        path: fc::PATH,
        work: 2560,
        dispatch: Box::new(move || {
            let p = FullyConnectedS8Params {
                geometry: fg,
                quant: quant(&m, &sh),
            };
            fc::fully_connected_s8(&p, &x, &w, None, &mut out, &mut []).unwrap();
            black_box(&out);
        }),
        portable: Some(Box::new(move || {
            let p = FullyConnectedS8Params {
                geometry: fg,
                quant: quant(&m2, &sh2),
            };
            fc::portable::fully_connected_s8(&p, &x2, &w2, None, &mut o2, &mut []).unwrap();
            black_box(&o2);
        })),
    });
    let pf = FullyConnectedF32Params::new(fg, FusedActivation::None);
    let (x, w) = (halves(256, 9), halves(2560, 10));
    let (x2, w2) = (x.clone(), w.clone());
    let (mut out, mut o2) = (vec![f16::ZERO; 10], vec![f16::ZERO; 10]);
    v.push(Case {
        id: "f2",
        what: "fully connected 256->10, f16".into(),
        path: hfc::PATH,
        work: 2560,
        dispatch: Box::new(move || {
            hfc::fully_connected_f16(&pf, &x, &w, None, &mut out, &mut []).unwrap();
            black_box(&out);
        }),
        portable: Some(Box::new(move || {
            hfc::portable::fully_connected_f16(&pf, &x2, &w2, None, &mut o2, &mut []).unwrap();
            black_box(&o2);
        })),
    });

    // g: elementwise add 24x24x32 with two input scales.
    let p = AddS8Params::from_scales(0.05, -3, 0.1, 4, 0.1, -10, FusedActivation::None).unwrap();
    let sh = s(1, 24, 24, 32);
    let (a, b) = (bytes(sh.len(), 11), bytes(sh.len(), 12));
    let (a2, b2) = (a.clone(), b.clone());
    let (mut out, mut o2) = (vec![0i8; sh.len()], vec![0i8; sh.len()]);
    v.push(Case {
        id: "g",
        what: "add 24x24x32, int8 (per element)".into(),
        path: elementwise::PATH,
        work: sh.len(),
        dispatch: Box::new(move || {
            elementwise::add_s8(&p, sh, &a, sh, &b, &mut out).unwrap();
            black_box(&out);
        }),
        portable: Some(Box::new(move || {
            elementwise::portable::add_s8(&p, sh, &a2, sh, &b2, &mut o2).unwrap();
            black_box(&o2);
        })),
    });
    v
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cases = cases();
    if args.first().map(String::as_str) == Some("run") {
        let usage = "usage: neon_timing run <case> <dispatch|portable> <calls>";
        let i: usize = args.get(1).and_then(|a| a.parse().ok()).expect(usage);
        let calls: usize = args.get(3).and_then(|a| a.parse().ok()).expect(usage);
        let c = cases.get_mut(i).expect("no such case");
        let f = match args.get(2).map(String::as_str) {
            Some("dispatch") => &mut c.dispatch,
            Some("portable") => c.portable.as_mut().expect("no portable loop for this case"),
            _ => panic!("{usage}"),
        };
        for _ in 0..calls {
            f();
        }
        return;
    }
    if args.first().map(String::as_str) == Some("list") {
        for (i, c) in cases.iter().enumerate() {
            let portable = if c.portable.is_some() { "yes" } else { "no" };
            println!(
                "{i}\t{}\t{}\t{}\t{}\t{portable}",
                c.id, c.what, c.path, c.work
            );
        }
        return;
    }
    println!(
        "| id | shape | path | dispatcher ns/unit | portable ns/unit | portable / dispatcher |"
    );
    println!("|---|---|---|---|---|---|");
    for c in &mut cases {
        let fast = time(0.3, &mut c.dispatch);
        let w = c.work as f64;
        let (portable, ratio) = match c.portable.as_mut() {
            Some(f) => {
                let t = time(0.3, f);
                (format!("{:.3}", t * 1e9 / w), format!("{:.2}x", t / fast))
            }
            None => ("-".into(), "-".into()),
        };
        println!(
            "| {} | {} | {} | {:.3} | {portable} | {ratio} |",
            c.id,
            c.what,
            c.path,
            fast * 1e9 / w
        );
    }
}
