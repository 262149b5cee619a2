//! Wall-clock timing of the dispatched kernels against the portable loops on the shapes of
//! `BENCH.md` (a-g), for comparing the NEON paths with the portable ones.
//!
//! ```text
//! cargo run --release --target aarch64-unknown-linux-gnu -p bfmd-kernels --example neon_timing
//! ```
//!
//! Under `qemu-aarch64` (the runner in `.cargo/config.toml`) the times are those of an
//! emulator: only the ratio between two paths of the same run means anything, and even that
//! only roughly (QEMU translates each guest instruction to host code of varying cost). Speed is
//! never asserted; this program only prints. On a real phone the same command (with the binary
//! copied over) gives real figures.

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
fn time(budget: f64, mut f: impl FnMut()) -> f64 {
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

struct Row {
    id: &'static str,
    what: &'static str,
    path: &'static str,
    work: f64,
    fast: f64,
    portable: f64,
}

fn main() {
    let budget = 0.3;
    let mut rows = Vec::new();
    let mult = vec![1_500_000_000; 256];
    let shift = vec![-9; 256];

    let conv_case = |id, what, g: ConvGeometry, dw: bool, rows: &mut Vec<Row>| {
        let taps = if dw {
            g.kernel_h * g.kernel_w
        } else {
            g.kernel_h * g.kernel_w * g.input.c
        };
        let filter = bytes(taps * g.output.c, 2);
        let input = bytes(g.input.len(), 1);
        let bias: Vec<i32> = bytes(g.output.c, 3)
            .iter()
            .map(|&b| b as i32 * 64)
            .collect();
        let p = ConvS8Params {
            geometry: g,
            quant: quant(&mult[..g.output.c], &shift[..g.output.c]),
        };
        let mut out = vec![0i8; g.output.len()];
        let b = Some(&bias[..]);
        let (fast, portable, path) = if dw {
            (
                time(budget, || {
                    depthwise::depthwise_conv_s8(&p, &input, &filter, b, &mut out, &mut [])
                        .unwrap();
                    black_box(&out);
                }),
                time(budget, || {
                    depthwise::portable::depthwise_conv_s8(
                        &p,
                        &input,
                        &filter,
                        b,
                        &mut out,
                        &mut [],
                    )
                    .unwrap();
                    black_box(&out);
                }),
                depthwise::PATH,
            )
        } else {
            (
                time(budget, || {
                    conv::conv_s8(&p, &input, &filter, b, &mut out, &mut []).unwrap();
                    black_box(&out);
                }),
                time(budget, || {
                    conv::portable::conv_s8(&p, &input, &filter, b, &mut out, &mut []).unwrap();
                    black_box(&out);
                }),
                conv::PATH,
            )
        };
        let work = (g.output.len() * taps) as f64;
        rows.push(Row {
            id,
            what,
            path,
            work,
            fast,
            portable,
        });

        // The same shape in f16 (f32 bias), dispatcher against the portable loop.
        let x16 = halves(g.input.len(), 4);
        let w16 = halves(filter.len(), 5);
        let b32: Vec<f32> = bias.iter().map(|&v| v as f32 / 4096.0).collect();
        let pf = ConvF32Params::new(g, FusedActivation::Relu6);
        let mut out16 = vec![f16::ZERO; g.output.len()];
        let b = Some(&b32[..]);
        let (fast, portable, path) = if dw {
            (
                time(budget, || {
                    hdw::depthwise_conv_f16(&pf, &x16, &w16, b, &mut out16, &mut []).unwrap();
                    black_box(&out16);
                }),
                time(budget, || {
                    hdw::portable::depthwise_conv_f16(&pf, &x16, &w16, b, &mut out16, &mut [])
                        .unwrap();
                    black_box(&out16);
                }),
                hdw::PATH,
            )
        } else {
            (
                time(budget, || {
                    hconv::conv_f16(&pf, &x16, &w16, b, &mut out16, &mut []).unwrap();
                    black_box(&out16);
                }),
                time(budget, || {
                    hconv::portable::conv_f16(&pf, &x16, &w16, b, &mut out16, &mut []).unwrap();
                    black_box(&out16);
                }),
                hconv::PATH,
            )
        };
        rows.push(Row {
            id,
            what: "  same, f16",
            path,
            work,
            fast,
            portable,
        });
    };

    let s = Shape::new;
    let pad1 = Padding::Explicit {
        top: 1,
        bottom: 1,
        left: 1,
        right: 1,
    };
    let g = ConvGeometry::new(s(1, 48, 48, 32), 32, (3, 3), (1, 1), (1, 1), pad1, 1).unwrap();
    conv_case("a", "depthwise 3x3 s1, 48x48x32", g, true, &mut rows);
    let g = ConvGeometry::new(s(1, 48, 48, 64), 64, (3, 3), (2, 2), (1, 1), pad1, 1).unwrap();
    conv_case("b", "depthwise 3x3 s2, 48x48x64", g, true, &mut rows);
    let g = ConvGeometry::new(
        s(1, 24, 24, 64),
        128,
        (1, 1),
        (1, 1),
        (1, 1),
        Padding::Valid,
        1,
    )
    .unwrap();
    conv_case("c", "1x1 conv 24x24x64 -> 128", g, false, &mut rows);
    let g = ConvGeometry::new(
        s(1, 12, 12, 128),
        128,
        (1, 1),
        (1, 1),
        (1, 1),
        Padding::Valid,
        1,
    )
    .unwrap();
    conv_case("d", "1x1 conv 12x12x128 -> 128", g, false, &mut rows);
    let g =
        ConvGeometry::new(s(1, 96, 96, 3), 8, (3, 3), (2, 2), (1, 1), Padding::Same, 1).unwrap();
    conv_case("e", "conv 3x3 s2, 96x96x3 -> 8", g, false, &mut rows);

    // f1: global average pool 3x3x256.
    let g = pool_geometry(s(1, 3, 3, 256), (3, 3), (1, 1), Padding::Valid).unwrap();
    let p = PoolS8Params::from_scales(g, 0.05, -128, 0.05, -128, FusedActivation::None).unwrap();
    let input = bytes(g.input.len(), 6);
    let mut out = vec![0i8; 256];
    rows.push(Row {
        id: "f1",
        what: "avg pool 3x3x256 (adds)",
        path: pool::PATH,
        work: 2304.0,
        fast: time(budget, || {
            pool::avg_pool_s8(&p, &input, &mut out).unwrap();
            black_box(&out);
        }),
        portable: time(budget, || {
            pool::portable::avg_pool_s8(&p, &input, &mut out).unwrap();
            black_box(&out);
        }),
    });

    // f2: fully connected 256 -> 10, int8 and f16.
    let fg = FullyConnectedGeometry::new(1, 256, 10);
    let p = FullyConnectedS8Params {
        geometry: fg,
        quant: quant(&mult[..10], &shift[..10]),
    };
    let (x, w) = (bytes(256, 7), bytes(2560, 8));
    let mut out = vec![0i8; 10];
    rows.push(Row {
        id: "f2",
        what: "fully connected 256 -> 10",
        path: fc::PATH,
        work: 2560.0,
        fast: time(budget, || {
            fc::fully_connected_s8(&p, &x, &w, None, &mut out, &mut []).unwrap();
            black_box(&out);
        }),
        portable: time(budget, || {
            fc::portable::fully_connected_s8(&p, &x, &w, None, &mut out, &mut []).unwrap();
            black_box(&out);
        }),
    });
    let pf = FullyConnectedF32Params::new(fg, FusedActivation::None);
    let (x16, w16) = (halves(256, 9), halves(2560, 10));
    let mut out16 = vec![f16::ZERO; 10];
    rows.push(Row {
        id: "f2",
        what: "  same, f16",
        path: hfc::PATH,
        work: 2560.0,
        fast: time(budget, || {
            hfc::fully_connected_f16(&pf, &x16, &w16, None, &mut out16, &mut []).unwrap();
            black_box(&out16);
        }),
        portable: time(budget, || {
            hfc::portable::fully_connected_f16(&pf, &x16, &w16, None, &mut out16, &mut []).unwrap();
            black_box(&out16);
        }),
    });

    // g: elementwise add 24x24x32 with two input scales.
    let p = AddS8Params::from_scales(0.05, -3, 0.1, 4, 0.1, -10, FusedActivation::None).unwrap();
    let sh = s(1, 24, 24, 32);
    let (a, b) = (bytes(sh.len(), 11), bytes(sh.len(), 12));
    let mut out = vec![0i8; sh.len()];
    rows.push(Row {
        id: "g",
        what: "add 24x24x32 (elements)",
        path: elementwise::PATH,
        work: sh.len() as f64,
        fast: time(budget, || {
            elementwise::add_s8(&p, sh, &a, sh, &b, &mut out).unwrap();
            black_box(&out);
        }),
        portable: time(budget, || {
            elementwise::portable::add_s8(&p, sh, &a, sh, &b, &mut out).unwrap();
            black_box(&out);
        }),
    });

    println!("| id | shape | path | dispatcher ns/MAC | portable ns/MAC | portable / dispatcher |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.2}x |",
            r.id,
            r.what,
            r.path,
            r.fast * 1e9 / r.work,
            r.portable * 1e9 / r.work,
            r.portable / r.fast
        );
    }
}
