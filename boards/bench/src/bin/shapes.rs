//! The kernel shapes of `../shared/BENCH.md` with exact instruction counts.
//!
//! Each shape runs through the dispatcher (the path this build selected: `dsp` on Cortex-M4/M7/M55
//! unless built with `force-portable`) and through the portable loop on the same data; the two
//! outputs must be identical or the program fails. For each shape it prints
//!
//! ```text
//! shape <id> <path> <instructions> <macs>
//! shape <id> portable <instructions> <macs>
//! ```
//!
//! where `<macs>` is BENCH.md's count (additions for the pool, elements for the add).
//! Quantization follows BENCH.md: int8 NHWC, batch 1, per-channel filter scales, input offset 128,
//! output offset -128, activation range [-128, 127].
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use bfmd_board_bench::bench_quant::{INPUT_ZERO_POINT, OUTPUT_ZERO_POINT};
use bfmd_board_bench::board::semihosting::println;
use bfmd_board_bench::board::{fail, icount, BEGIN, CPU, END, MACHINE};
use bfmd_board_bench::{reset_heap, Rng};
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::reference::fully_connected::FullyConnectedGeometry;
use bfmd_kernels::reference::pool::pool_geometry;
use bfmd_kernels::s8::conv::{self, ConvS8Params};
use bfmd_kernels::s8::depthwise;
use bfmd_kernels::s8::elementwise::{self, AddS8Params};
use bfmd_kernels::s8::fully_connected::{self, FullyConnectedS8Params};
use bfmd_kernels::s8::pool::{self, PoolS8Params};
use bfmd_kernels::{ConvGeometry, Padding, Shape};
use cortex_m_rt::entry;

/// Input scale of every shape (a symmetric image-like range).
const INPUT_SCALE: f32 = 0.02;

/// Per-channel filter scales around `base`, spread over a factor of two like trained weights.
fn filter_scales(rng: &mut Rng, n: usize, base: f32) -> Vec<f32> {
    (0..n).map(|_| base * rng.f32(0.7, 1.4)).collect()
}

/// The counts of one shape on both paths.
struct Measured {
    fast: u64,
    portable: u64,
}

/// Measures `fast` and `portable` (each writing its output), requires equal outputs, and prints
/// the two `shape` lines.
fn report(
    id: &str,
    path: &str,
    macs: u64,
    out_len: usize,
    fast: impl FnOnce(&mut [i8]) -> bfmd_kernels::Result<()>,
    portable: impl FnOnce(&mut [i8]) -> bfmd_kernels::Result<()>,
) -> Measured {
    let mut a = vec![0i8; out_len];
    let mut b = vec![0x55i8; out_len];
    let (ra, fast_n) = icount::measure(|| fast(&mut a));
    let (rb, portable_n) = icount::measure(|| portable(&mut b));
    if let Err(e) = ra.and(rb) {
        fail(format_args!("shape {id}: {e}"));
    }
    if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
        fail(format_args!(
            "shape {id}: {path} output {i} is {}, portable gives {}",
            a[i], b[i]
        ));
    }
    println!("shape {} {} {} {}", id, path, fast_n, macs);
    println!("shape {} portable {} {}", id, portable_n, macs);
    Measured {
        fast: fast_n,
        portable: portable_n,
    }
}

/// Depthwise 3x3, channel multiplier 1 (shapes a, b and h), with the scratch the dispatcher's
/// path needs.
fn depthwise_shape(rng: &mut Rng, id: &str, g: ConvGeometry) -> Measured {
    let c = g.output.c;
    let mut input = vec![0i8; g.input.len()];
    rng.fill_i8(&mut input);
    let mut filter = vec![0i8; 9 * c];
    rng.fill_i8(&mut filter);
    let mut bias = vec![0i32; c];
    rng.fill_i32(&mut bias, -20_000, 20_000);
    let scales = filter_scales(rng, c, 0.004);
    let (mut m, mut s) = (vec![0i32; c], vec![0i32; c]);
    let p = ConvS8Params::from_scales(
        g,
        INPUT_SCALE,
        INPUT_ZERO_POINT,
        &scales,
        0.5,
        OUTPUT_ZERO_POINT,
        FusedActivation::None,
        &mut m,
        &mut s,
    )
    .unwrap_or_else(|e| fail(format_args!("shape {id}: {e}")));
    let mut scratch = vec![0u8; depthwise::depthwise_conv_s8_scratch_len(&g)];
    report(
        id,
        depthwise::PATH,
        g.depthwise_macs() as u64,
        g.output.len(),
        |out| depthwise::depthwise_conv_s8(&p, &input, &filter, Some(&bias), out, &mut scratch),
        |out| {
            depthwise::portable::depthwise_conv_s8(&p, &input, &filter, Some(&bias), out, &mut [])
        },
    )
}

/// A convolution (shapes c, d and e); `out_scale` keeps the outputs inside the int8 range.
fn conv_shape(rng: &mut Rng, id: &str, g: ConvGeometry, out_scale: f32) -> Measured {
    let c = g.output.c;
    let taps = g.kernel_h * g.kernel_w * g.input.c;
    let mut input = vec![0i8; g.input.len()];
    rng.fill_i8(&mut input);
    let mut filter = vec![0i8; c * taps];
    rng.fill_i8(&mut filter);
    let mut bias = vec![0i32; c];
    rng.fill_i32(&mut bias, -20_000, 20_000);
    let scales = filter_scales(rng, c, 0.004);
    let (mut m, mut s) = (vec![0i32; c], vec![0i32; c]);
    let p = ConvS8Params::from_scales(
        g,
        INPUT_SCALE,
        INPUT_ZERO_POINT,
        &scales,
        out_scale,
        OUTPUT_ZERO_POINT,
        FusedActivation::None,
        &mut m,
        &mut s,
    )
    .unwrap_or_else(|e| fail(format_args!("shape {id}: {e}")));
    let mut scratch = vec![0u8; conv::conv_s8_scratch_len(&g)];
    report(
        id,
        conv::PATH,
        g.conv_macs() as u64,
        g.output.len(),
        |out| conv::conv_s8(&p, &input, &filter, Some(&bias), out, &mut scratch),
        |out| conv::portable::conv_s8(&p, &input, &filter, Some(&bias), out, &mut []),
    )
}

/// f1: average pool 3x3 over 3x3x256 (a global average pool).
fn avgpool_shape(rng: &mut Rng) -> Measured {
    let g = pool_geometry(Shape::new(1, 3, 3, 256), (3, 3), (1, 1), Padding::Valid)
        .unwrap_or_else(|e| fail(format_args!("shape f1: {e}")));
    let p = PoolS8Params::from_scales(g, 0.02, -128, 0.02, -128, FusedActivation::None)
        .unwrap_or_else(|e| fail(format_args!("shape f1: {e}")));
    let mut input = vec![0i8; g.input.len()];
    rng.fill_i8(&mut input);
    report(
        "f1",
        pool::PATH,
        (g.input.len()) as u64,
        g.output.len(),
        |out| pool::avg_pool_s8(&p, &input, out),
        |out| pool::portable::avg_pool_s8(&p, &input, out),
    )
}

/// f2: fully connected 256 -> 10.
fn fc_shape(rng: &mut Rng) -> Measured {
    let g = FullyConnectedGeometry::new(1, 256, 10);
    let mut input = vec![0i8; 256];
    rng.fill_i8(&mut input);
    let mut w = vec![0i8; 2560];
    rng.fill_i8(&mut w);
    let mut bias = vec![0i32; 10];
    rng.fill_i32(&mut bias, -20_000, 20_000);
    let scales = filter_scales(rng, 10, 0.004);
    let (mut m, mut s) = (vec![0i32; 10], vec![0i32; 10]);
    let p = FullyConnectedS8Params::from_scales(
        g,
        INPUT_SCALE,
        INPUT_ZERO_POINT,
        &scales,
        1.0,
        OUTPUT_ZERO_POINT,
        FusedActivation::None,
        &mut m,
        &mut s,
    )
    .unwrap_or_else(|e| fail(format_args!("shape f2: {e}")));
    let mut scratch = vec![0u8; fully_connected::fully_connected_s8_wide_scratch_len(&g)];
    // The graph stores small layers' weights packed as int16 pairs (packed once, by the
    // importer, so not counted here): that is the layer a model runs. The int8-weight layer is
    // measured too, as `f2-int8`.
    let mut packed = vec![0i32; fully_connected::fully_connected_s8_wide_len(&g)];
    fully_connected::pack_fully_connected_s8_wide(&g, &w, &mut packed)
        .unwrap_or_else(|e| fail(format_args!("shape f2: {e}")));
    let wide_path = alloc::format!("{}-w16", fully_connected::WIDE_PATH);
    let m = report(
        "f2",
        &wide_path,
        2560,
        10,
        |out| {
            fully_connected::fully_connected_s8_wide(
                &p,
                &input,
                &packed,
                Some(&bias),
                out,
                &mut scratch,
            )
        },
        |out| {
            fully_connected::portable::fully_connected_s8(&p, &input, &w, Some(&bias), out, &mut [])
        },
    );
    report(
        "f2-int8",
        fully_connected::PATH,
        2560,
        10,
        |out| fully_connected::fully_connected_s8(&p, &input, &w, Some(&bias), out, &mut scratch),
        |out| {
            fully_connected::portable::fully_connected_s8(&p, &input, &w, Some(&bias), out, &mut [])
        },
    );
    m
}

/// g: elementwise add of two 24x24x32 tensors with different input scales.
fn add_shape(rng: &mut Rng) -> Measured {
    let s = Shape::new(1, 24, 24, 32);
    let p = AddS8Params::from_scales(0.02, -128, 0.035, 5, 0.05, -128, FusedActivation::None)
        .unwrap_or_else(|e| fail(format_args!("shape g: {e}")));
    let mut a = vec![0i8; s.len()];
    let mut b = vec![0i8; s.len()];
    rng.fill_i8(&mut a);
    rng.fill_i8(&mut b);
    report(
        "g",
        elementwise::PATH,
        s.len() as u64,
        s.len(),
        |out| elementwise::add_s8(&p, s, &a, s, &b, out),
        |out| elementwise::portable::add_s8(&p, s, &a, s, &b, out),
    )
}

fn geometry(
    id: &str,
    input: Shape,
    out_c: usize,
    k: usize,
    stride: usize,
    padding: Padding,
) -> ConvGeometry {
    ConvGeometry::new(input, out_c, (k, k), (stride, stride), (1, 1), padding, 1)
        .unwrap_or_else(|e| fail(format_args!("shape {id}: {e}")))
}

#[entry]
fn main() -> ! {
    icount::init();
    println!("{}", BEGIN);
    println!(
        "# kernel shapes on {} ({}), -icount {}",
        MACHINE,
        CPU,
        icount::QEMU_ICOUNT
    );
    let mut rng = Rng::new(0xbe4c);
    let pad1 = Padding::Explicit {
        top: 1,
        bottom: 1,
        left: 1,
        right: 1,
    };
    // Shape b: CMSIS-NN's `pad 1` with stride 2 pads the top and left; 48 -> 24 needs nothing below.
    let pad_tl = Padding::Explicit {
        top: 1,
        bottom: 0,
        left: 1,
        right: 0,
    };
    // Counts of every shape (not a `Vec`: the heap is reset between shapes).
    let mut all = [const {
        Measured {
            fast: 0,
            portable: 0,
        }
    }; 9];
    let mut next = 0;
    let mut push = |m: Measured| {
        all[next] = m;
        next += 1;
    };
    let g = geometry("a", Shape::new(1, 48, 48, 32), 32, 3, 1, pad1);
    push(depthwise_shape(&mut rng, "a", g));
    reset_heap();
    let g = geometry("b", Shape::new(1, 48, 48, 64), 64, 3, 2, pad_tl);
    push(depthwise_shape(&mut rng, "b", g));
    reset_heap();
    let g = geometry("c", Shape::new(1, 24, 24, 64), 128, 1, 1, Padding::Valid);
    push(conv_shape(&mut rng, "c", g, 1.0));
    reset_heap();
    let g = geometry("d", Shape::new(1, 12, 12, 128), 128, 1, 1, Padding::Valid);
    push(conv_shape(&mut rng, "d", g, 1.5));
    reset_heap();
    let g = geometry("e", Shape::new(1, 96, 96, 3), 8, 3, 2, Padding::Same);
    push(conv_shape(&mut rng, "e", g, 0.5));
    reset_heap();
    push(avgpool_shape(&mut rng));
    reset_heap();
    push(fc_shape(&mut rng));
    reset_heap();
    push(add_shape(&mut rng));
    reset_heap();
    // Shape h: shape a's layer on rows of 481 pixels (a PoseNet-class input), wider than the
    // 256 pixels a fixed 3,072-byte plane held: the scratch follows the row width, so the layer
    // stays on the DSP loop.
    let g = geometry("h", Shape::new(1, 12, 481, 32), 32, 3, 1, pad1);
    push(depthwise_shape(&mut rng, "h", g));
    let (fast, portable) = all
        .iter()
        .fold((0, 0), |(f, p), m| (f + m.fast, p + m.portable));
    println!("# total {} instructions, portable {}", fast, portable);
    println!("{}", END);
    bfmd_board_bench::board::exit(0)
}
