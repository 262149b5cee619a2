//! The int8 kernel battery on the target: every dispatcher (the path this build selected, `dsp` on
//! Cortex-M4/M7/M55) against the portable loop of the same family, bit for bit.
//!
//! The host batteries (`bfmd-kernels/tests/`) prove the portable loops bit-exact against TFLM; the
//! host cannot execute DSP instructions, so this program proves the DSP paths equal to the portable
//! ones, over the same kinds of cases: odd channel counts, stride 2, asymmetric padding, windows in
//! the padding, 1x1 spatial size, channel multiplier > 1, groups, dilation, batch 2, per-tensor and
//! per-channel quantization, multipliers above 1, large biases and narrow activation clamps (which
//! take the kernels' general requantization), extreme zero points, in-place variants, broadcasting,
//! the error cases, and a seeded random sweep. It prints one `ok <family> <cases>` line per family
//! and exits with status 1 after printing every mismatch.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use bfmd_board_bench::board::semihosting::println;
use bfmd_board_bench::board::{BEGIN, CPU, END, EXIT_FAILURE, MACHINE};
use bfmd_board_bench::{reset_heap, Rng};
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::reference::fully_connected::FullyConnectedGeometry;
use bfmd_kernels::reference::pool::pool_geometry;
use bfmd_kernels::s8::conv::{self, ChannelQuantS8, ConvS8Params};
use bfmd_kernels::s8::depthwise;
use bfmd_kernels::s8::elementwise::{self, AddS8Params, MulS8Params};
use bfmd_kernels::s8::fully_connected::{self, FullyConnectedS8Params};
use bfmd_kernels::s8::pool::{self, MeanS8Params, PoolS8Params};
use bfmd_kernels::{ConvGeometry, Error, Padding, Shape};
use cortex_m_rt::entry;

/// Cases run and mismatches found.
#[derive(Default)]
struct Tally {
    cases: u32,
    failures: u32,
}

impl Tally {
    /// Compares one case's results: both calls must agree on success or on the same error, and
    /// on every output byte.
    fn check(
        &mut self,
        what: &str,
        case: &str,
        fast: (Result<(), Error>, &[i8]),
        portable: (Result<(), Error>, &[i8]),
    ) {
        self.cases += 1;
        if fast.0 != portable.0 {
            self.failures += 1;
            println!(
                "FAIL {} {}: dispatcher {:?}, portable {:?}",
                what, case, fast.0, portable.0
            );
            return;
        }
        if let Some(i) = fast.1.iter().zip(portable.1).position(|(a, b)| a != b) {
            self.failures += 1;
            println!(
                "FAIL {} {}: output {} of {} is {}, portable gives {}",
                what,
                case,
                i,
                fast.1.len(),
                fast.1[i],
                portable.1[i]
            );
        }
    }
}

/// Scratch of `len` bytes for a dispatcher, as the contract allows it at its worst: filled with
/// garbage (no kernel may rely on its contents) and starting one byte past an 8-byte boundary
/// (kernels align their pieces themselves). Slice it with [`odd`].
fn garbage_scratch(len: usize) -> Vec<u8> {
    vec![0xa5u8; len + 8]
}

/// The `len` bytes of `v` ([`garbage_scratch`]) starting one byte past an 8-byte boundary.
fn odd(v: &mut [u8], len: usize) -> &mut [u8] {
    let at = (9 - v.as_ptr() as usize % 8) % 8;
    &mut v[at..at + len]
}

/// Checks that a dispatcher given one byte less scratch than its `*_scratch_len` refuses with
/// [`Error::BufferLength`] (`run` calls it with the short scratch); nothing to check when the
/// path needs none.
fn short_scratch(
    t: &mut Tally,
    what: &str,
    case: &str,
    len: usize,
    run: impl FnOnce(&mut [u8]) -> Result<(), Error>,
) {
    if len == 0 {
        return;
    }
    t.cases += 1;
    let mut v = garbage_scratch(len);
    match run(odd(&mut v, len - 1)) {
        Err(Error::BufferLength { .. }) => {}
        r => {
            t.failures += 1;
            println!(
                "FAIL {} {}: {} of {} scratch bytes gave {:?}",
                what,
                case,
                len - 1,
                len,
                r
            );
        }
    }
}

/// How a case quantizes: the requantization regimes the kernels treat differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Regime {
    /// Realistic per-channel scales, moderate bias, no clamp.
    Typical,
    /// One filter scale for every channel.
    PerTensor,
    /// Real multipliers above 1 (positive shifts).
    MultiplierAboveOne,
    /// Biases near the int32 limits (the accumulators may wrap).
    HugeBias,
    /// A ReLU6 clamp narrower than int8.
    Relu6,
    /// A ReLU clamp.
    Relu,
    /// Zero points at the ends of the int8 range and one zero filter scale.
    Extreme,
    /// Very small multipliers (large right shifts).
    TinyMultiplier,
    /// No bias.
    NoBias,
    /// Channels of a trained layer side by side: every third channel "dead" (a filter scale a
    /// million times smaller, so a right shift near 28, and a bias near 2^30), every seventh
    /// with a real multiplier above 1, the others typical. Blocks of channels then mix the
    /// requantization forms the DSP loops choose between.
    DeadChannels,
}

const REGIMES: [Regime; 10] = [
    Regime::Typical,
    Regime::PerTensor,
    Regime::MultiplierAboveOne,
    Regime::HugeBias,
    Regime::Relu6,
    Regime::Relu,
    Regime::Extreme,
    Regime::TinyMultiplier,
    Regime::NoBias,
    Regime::DeadChannels,
];

/// Operands and quantization of one convolution-like case.
struct Operands {
    input: Vec<i8>,
    filter: Vec<i8>,
    bias: Option<Vec<i32>>,
    multipliers: Vec<i32>,
    shifts: Vec<i32>,
    input_offset: i32,
    output_offset: i32,
    act: (i32, i32),
}

impl Operands {
    /// Random operands for `channels` output channels of `taps` products each, quantized
    /// per `regime`.
    fn new(
        rng: &mut Rng,
        regime: Regime,
        input_len: usize,
        filter_len: usize,
        channels: usize,
        taps: usize,
    ) -> Self {
        let mut input = vec![0i8; input_len];
        rng.fill_i8(&mut input);
        let mut filter = vec![0i8; filter_len];
        rng.fill_i8(&mut filter);
        let (in_zp, out_zp) = match regime {
            Regime::Extreme => (127, -128),
            _ => (
                rng.range_i64(-128, 127) as i32,
                rng.range_i64(-128, 127) as i32,
            ),
        };
        let in_scale = 0.02f32;
        let base = 0.004f32;
        let per_tensor = regime == Regime::PerTensor;
        let n = if per_tensor { 1 } else { channels.max(1) };
        let mut filter_scales: Vec<f32> = (0..n).map(|_| base * rng.f32(0.5, 2.0)).collect();
        if regime == Regime::Extreme {
            filter_scales[0] = 0.0;
        }
        let dead = |i: usize| regime == Regime::DeadChannels && i % 3 == 1;
        let above_one = |i: usize| regime == Regime::DeadChannels && i % 7 == 5;
        // Accumulators spread about sqrt(taps) * 74 * 147: aim the output at +-60 steps.
        let spread = (taps.max(1).isqrt() as f32) * 74.0 * 147.0;
        let out_scale = match regime {
            Regime::MultiplierAboveOne => in_scale * base / 3.0,
            Regime::TinyMultiplier => in_scale * base * spread * 4000.0,
            _ => in_scale * base * spread / 60.0,
        };
        for (i, f) in filter_scales.iter_mut().enumerate() {
            if dead(i) {
                *f *= 1e-6;
            } else if above_one(i) {
                *f = out_scale / in_scale * 1.5;
            }
        }
        let act = match regime {
            Regime::Relu6 => FusedActivation::Relu6,
            Regime::Relu => FusedActivation::Relu,
            _ => FusedActivation::None,
        };
        let (mut multipliers, mut shifts) = (vec![0i32; n], vec![0i32; n]);
        // The multiplier tables outlive the borrowed parameters: copy the fields out.
        let (input_offset, output_offset, act) = {
            let q = ChannelQuantS8::from_scales(
                in_scale,
                in_zp,
                &filter_scales,
                out_scale.max(1e-9),
                out_zp,
                act,
                &mut multipliers,
                &mut shifts,
            )
            .expect("battery quantization is valid");
            (q.input_offset, q.output_offset, (q.act_min, q.act_max))
        };
        let bias_range = match regime {
            Regime::HugeBias => i32::MAX - 1,
            _ => 30_000,
        };
        let bias = (regime != Regime::NoBias).then(|| {
            let mut b = vec![0i32; channels];
            rng.fill_i32(&mut b, -bias_range, bias_range);
            for (i, b) in b.iter_mut().enumerate() {
                if dead(i) {
                    *b = rng.range_i64(-(1 << 30), 1 << 30) as i32;
                }
            }
            b
        });
        Operands {
            input,
            filter,
            bias,
            multipliers,
            shifts,
            input_offset,
            output_offset,
            act,
        }
    }

    fn quant(&self) -> ChannelQuantS8<'_> {
        ChannelQuantS8 {
            input_offset: self.input_offset,
            output_offset: self.output_offset,
            multipliers: &self.multipliers,
            shifts: &self.shifts,
            act_min: self.act.0,
            act_max: self.act.1,
        }
    }
}

/// A convolution-like case: geometry and the kind of kernel.
#[derive(Clone, Copy)]
struct ConvCase {
    name: &'static str,
    input: Shape,
    out_c: usize,
    kernel: (usize, usize),
    stride: (usize, usize),
    dilation: (usize, usize),
    padding: Padding,
    groups: usize,
}

const fn cc(name: &'static str, input: Shape, out_c: usize, kernel: (usize, usize)) -> ConvCase {
    ConvCase {
        name,
        input,
        out_c,
        kernel,
        stride: (1, 1),
        dilation: (1, 1),
        padding: Padding::Same,
        groups: 1,
    }
}

const fn s(n: usize, h: usize, w: usize, c: usize) -> Shape {
    Shape::new(n, h, w, c)
}

const fn pad(top: usize, bottom: usize, left: usize, right: usize) -> Padding {
    Padding::Explicit {
        top,
        bottom,
        left,
        right,
    }
}

impl ConvCase {
    fn geometry(&self, groups: usize) -> Option<ConvGeometry> {
        ConvGeometry::new(
            self.input,
            self.out_c,
            self.kernel,
            self.stride,
            self.dilation,
            self.padding,
            groups,
        )
        .ok()
    }
}

/// Runs a depthwise case (`out_c` a multiple of `in_c`) in every regime, out of place and (for
/// multiplier 1) in place.
fn depthwise_case(t: &mut Tally, rng: &mut Rng, c: &ConvCase, regimes: &[Regime]) {
    let Some(g) = c.geometry(1) else {
        println!("FAIL depthwise {}: bad case geometry", c.name);
        t.failures += 1;
        return;
    };
    let taps = g.kernel_h * g.kernel_w;
    for &regime in regimes {
        let d = Operands::new(
            rng,
            regime,
            g.input.len(),
            taps * g.output.c,
            g.output.c,
            taps,
        );
        let p = ConvS8Params {
            geometry: g,
            quant: d.quant(),
        };
        let bias = d.bias.as_deref();
        let mut a = vec![0i8; g.output.len()];
        let mut b = vec![1i8; g.output.len()];
        let len = depthwise::depthwise_conv_s8_scratch_len(&g);
        let mut scratch = garbage_scratch(len);
        let sc = odd(&mut scratch, len);
        let ra = depthwise::depthwise_conv_s8(&p, &d.input, &d.filter, bias, &mut a, sc);
        let rb =
            depthwise::portable::depthwise_conv_s8(&p, &d.input, &d.filter, bias, &mut b, &mut []);
        t.check("depthwise", c.name, (ra, &a), (rb, &b));
        short_scratch(t, "depthwise_short_scratch", c.name, len, |sc| {
            depthwise::depthwise_conv_s8(&p, &d.input, &d.filter, bias, &mut a, sc)
        });
        let in_place = g.output.c == g.input.c && g.output.h * g.output.w <= g.input.h * g.input.w;
        if in_place {
            let mut buf = d.input.clone();
            let len = depthwise::depthwise_conv_s8_inplace_scratch_len(&g);
            let mut scratch = garbage_scratch(len);
            let sc = odd(&mut scratch, len);
            let r = depthwise::depthwise_conv_s8_inplace(&p, &mut buf, &d.filter, bias, sc);
            t.check(
                "depthwise_inplace",
                c.name,
                (r, &buf[..g.output.len()]),
                (rb, &b),
            );
            short_scratch(t, "depthwise_inplace_short_scratch", c.name, len, |sc| {
                let mut buf = d.input.clone();
                depthwise::depthwise_conv_s8_inplace(&p, &mut buf, &d.filter, bias, sc)
            });
        }
    }
}

/// Runs a convolution case (dense or grouped) in every regime, and for pointwise geometries the
/// overlapping in-place variant.
fn conv_case(t: &mut Tally, rng: &mut Rng, c: &ConvCase, regimes: &[Regime]) {
    let Some(g) = c.geometry(c.groups) else {
        println!("FAIL conv {}: bad case geometry", c.name);
        t.failures += 1;
        return;
    };
    let cin_g = g.input.c / g.groups;
    let taps = g.kernel_h * g.kernel_w * cin_g;
    for &regime in regimes {
        let d = Operands::new(
            rng,
            regime,
            g.input.len(),
            taps * g.output.c,
            g.output.c,
            taps,
        );
        let p = ConvS8Params {
            geometry: g,
            quant: d.quant(),
        };
        let bias = d.bias.as_deref();
        let len = conv::conv_s8_scratch_len(&g);
        let mut scratch = garbage_scratch(len);
        let mut a = vec![0i8; g.output.len()];
        let mut b = vec![1i8; g.output.len()];
        let sc = odd(&mut scratch, len);
        let ra = conv::conv_s8(&p, &d.input, &d.filter, bias, &mut a, sc);
        let rb = conv::portable::conv_s8(&p, &d.input, &d.filter, bias, &mut b, &mut []);
        t.check("conv", c.name, (ra, &a), (rb, &b));
        short_scratch(t, "conv_short_scratch", c.name, len, |sc| {
            conv::conv_s8(&p, &d.input, &d.filter, bias, &mut a, sc)
        });
        let pointwise = g.kernel_h == 1
            && g.kernel_w == 1
            && g.stride_h == 1
            && g.stride_w == 1
            && g.pad_top + g.pad_bottom + g.pad_left + g.pad_right == 0;
        if pointwise {
            // The output starts where `pointwise_overlap_out_offset` allows, over the input.
            let (px, ic, oc) = (g.input.pixels(), g.input.c, g.output.c);
            let in_off = px.saturating_sub(1) * oc.saturating_sub(ic);
            let out_off = conv::pointwise_overlap_out_offset(in_off, px, ic, oc);
            let len = (in_off + px * ic).max(out_off + px * oc);
            let mut buf = vec![0i8; len];
            buf[in_off..in_off + px * ic].copy_from_slice(&d.input);
            let len = conv::pointwise_conv_s8_overlapping_scratch_len(&g);
            let mut scratch = garbage_scratch(len);
            let r = conv::pointwise_conv_s8_overlapping(
                &p,
                &mut buf,
                in_off,
                out_off,
                &d.filter,
                bias,
                odd(&mut scratch, len),
            );
            t.check(
                "pointwise_overlapping",
                c.name,
                (r, &buf[out_off..out_off + px * oc]),
                (rb, &b),
            );
        }
    }
}

/// Runs a fully connected case in every regime.
fn fc_case(
    t: &mut Tally,
    rng: &mut Rng,
    name: &str,
    g: FullyConnectedGeometry,
    regimes: &[Regime],
) {
    for &regime in regimes {
        let d = Operands::new(
            rng,
            regime,
            g.batch * g.in_features,
            g.in_features * g.out_features,
            g.out_features,
            g.in_features,
        );
        let p = FullyConnectedS8Params {
            geometry: g,
            quant: d.quant(),
        };
        let bias = d.bias.as_deref();
        let len = fully_connected::fully_connected_s8_scratch_len(&g);
        let mut scratch = garbage_scratch(len);
        let mut a = vec![0i8; g.batch * g.out_features];
        let mut b = vec![1i8; g.batch * g.out_features];
        let ra = fully_connected::fully_connected_s8(
            &p,
            &d.input,
            &d.filter,
            bias,
            &mut a,
            odd(&mut scratch, len),
        );
        short_scratch(t, "fully_connected_short_scratch", name, len, |sc| {
            fully_connected::fully_connected_s8(&p, &d.input, &d.filter, bias, &mut a, sc)
        });
        let rb = fully_connected::portable::fully_connected_s8(
            &p,
            &d.input,
            &d.filter,
            bias,
            &mut b,
            &mut [],
        );
        t.check("fully_connected", name, (ra, &a), (rb, &b));
        if g.in_features.is_multiple_of(4) {
            // The packed-weight layer must give the int8 portable loop's bytes too.
            let mut packed = vec![0i32; fully_connected::fully_connected_s8_wide_len(&g)];
            let rp = fully_connected::pack_fully_connected_s8_wide(&g, &d.filter, &mut packed);
            let mut c = vec![2i8; g.batch * g.out_features];
            let len = fully_connected::fully_connected_s8_wide_scratch_len(&g);
            let mut scratch = garbage_scratch(len);
            let rc = rp.and_then(|()| {
                fully_connected::fully_connected_s8_wide(
                    &p,
                    &d.input,
                    &packed,
                    bias,
                    &mut c,
                    odd(&mut scratch, len),
                )
            });
            t.check("fully_connected_wide", name, (rc, &c), (rb, &b));
            short_scratch(t, "fully_connected_wide_short_scratch", name, len, |sc| {
                fully_connected::fully_connected_s8_wide(&p, &d.input, &packed, bias, &mut c, sc)
            });
        }
    }
}

/// The fixed depthwise cases (those of `bfmd-kernels/tests/depthwise.rs` plus the benchmark
/// shapes' edges).
const DEPTHWISE: &[ConvCase] = &[
    cc("mult1_3x3_same_odd_channels", s(1, 7, 5, 3), 3, (3, 3)),
    cc("mult1_3x3_same_4_channels", s(1, 7, 5, 4), 4, (3, 3)),
    cc("mult1_3x3_same_12_channels", s(1, 6, 9, 12), 12, (3, 3)),
    cc("mult2_3x3_same", s(1, 6, 5, 5), 10, (3, 3)),
    cc("mult3_5x5_same", s(1, 7, 6, 3), 9, (5, 5)),
    cc("mult1_5x5_same_8_channels", s(1, 9, 8, 8), 8, (5, 5)),
    ConvCase {
        stride: (2, 2),
        ..cc("mult1_stride2_same_even_input", s(1, 8, 8, 7), 7, (3, 3))
    },
    ConvCase {
        stride: (2, 2),
        ..cc(
            "mult1_stride2_same_16_channels",
            s(1, 10, 12, 16),
            16,
            (3, 3),
        )
    },
    ConvCase {
        stride: (2, 2),
        padding: pad(1, 0, 1, 0),
        ..cc("stride2_pad_top_left", s(1, 12, 12, 8), 8, (3, 3))
    },
    ConvCase {
        stride: (2, 2),
        ..cc("mult2_stride2_same", s(1, 8, 6, 3), 6, (3, 3))
    },
    ConvCase {
        stride: (2, 2),
        ..cc("mult1_5x5_stride2", s(1, 9, 10, 5), 5, (5, 5))
    },
    ConvCase {
        stride: (2, 2),
        ..cc("mult1_5x5_stride2_8_channels", s(1, 11, 10, 8), 8, (5, 5))
    },
    ConvCase {
        padding: pad(2, 0, 0, 1),
        ..cc("explicit_asymmetric_padding", s(1, 6, 6, 8), 8, (3, 3))
    },
    ConvCase {
        padding: Padding::Valid,
        ..cc("valid", s(1, 6, 7, 8), 8, (3, 3))
    },
    ConvCase {
        dilation: (2, 2),
        ..cc("dilation_2", s(1, 7, 7, 4), 4, (3, 3))
    },
    ConvCase {
        dilation: (1, 2),
        stride: (2, 1),
        ..cc("dilation_1x2_stride_2x1", s(1, 9, 9, 8), 8, (3, 3))
    },
    cc("spatial_1x1_input", s(1, 1, 1, 8), 8, (3, 3)),
    cc("spatial_1x1_odd", s(1, 1, 1, 7), 7, (3, 3)),
    cc("kernel_1x5", s(1, 4, 9, 4), 4, (1, 5)),
    cc("kernel_5x1", s(1, 9, 4, 4), 4, (5, 1)),
    cc("kernel_7x7", s(1, 9, 9, 4), 4, (7, 7)),
    cc("kernel_9x9_portable", s(1, 10, 10, 4), 4, (9, 9)),
    cc("batch_2", s(2, 5, 4, 8), 8, (3, 3)),
    ConvCase {
        padding: pad(3, 2, 3, 3),
        ..cc("windows_entirely_in_padding", s(1, 2, 3, 4), 4, (2, 2))
    },
    cc("wide_37_channels", s(1, 4, 4, 37), 37, (3, 3)),
    cc("wide_mult2_crosses_block", s(1, 3, 3, 21), 42, (3, 3)),
    ConvCase {
        stride: (2, 2),
        ..cc("batch_2_wide_stride2", s(2, 6, 6, 40), 40, (3, 3))
    },
    cc("bench_a_corner", s(1, 6, 6, 32), 32, (3, 3)),
    // Images larger than the in-place loop's 4 KiB of rows: it runs in several bands.
    cc("inplace_bands_24x24x32", s(1, 24, 24, 32), 32, (3, 3)),
    ConvCase {
        stride: (2, 2),
        ..cc("inplace_bands_48x48x8_s2", s(1, 48, 48, 8), 8, (3, 3))
    },
    ConvCase {
        stride: (2, 2),
        padding: pad(1, 0, 1, 0),
        ..cc("inplace_bands_s2_pad_tl", s(2, 20, 20, 64), 64, (3, 3))
    },
    cc("inplace_bands_5x5", s(1, 20, 18, 24), 24, (5, 5)),
    // Images taller than one stack plane of rows: several bands per channel block, rows
    // carried from band to band (in place, they may have been overwritten).
    cc("planes_bands_5x5", s(1, 40, 37, 8), 8, (5, 5)),
    cc("planes_bands_batch_2", s(2, 30, 40, 4), 4, (3, 3)),
    // Rows wider than a fixed 3,072-byte plane held (256 pixels for a 3x3 window, 151 for
    // 5x5): the scratch grows with the row, and the layer stays on the DSP loop (PoseNet-class
    // inputs are 481 pixels wide).
    cc("wide_rows_481_3x3", s(1, 7, 481, 8), 8, (3, 3)),
    cc("wide_rows_300_5x5", s(1, 9, 300, 4), 4, (5, 5)),
    // Rows of all channels wider than the in-place band loop's 4 KiB (channels not a multiple
    // of four).
    cc(
        "wide_rows_inplace_bands_300x15",
        s(1, 6, 300, 15),
        15,
        (3, 3),
    ),
    // The visual-wake-words model's stride-1 depthwise layers (run in place, SAME padding).
    cc("vww_depthwise_12x12x64", s(1, 12, 12, 64), 64, (3, 3)),
    cc("vww_depthwise_6x6x128", s(1, 6, 6, 128), 128, (3, 3)),
    cc("vww_depthwise_3x3x256", s(1, 3, 3, 256), 256, (3, 3)),
    ConvCase {
        padding: Padding::Valid,
        ..cc("inplace_bands_valid_odd", s(1, 30, 22, 13), 13, (3, 3))
    },
];

/// The fixed convolution cases (those of `bfmd-kernels/tests/conv.rs` plus the benchmark shapes'
/// kinds).
const CONV: &[ConvCase] = &[
    cc("pointwise_16_to_8", s(1, 5, 5, 16), 8, (1, 1)),
    cc("pointwise_odd_channels", s(1, 3, 7, 13), 11, (1, 1)),
    cc("pointwise_64_to_20", s(1, 4, 3, 64), 20, (1, 1)),
    cc("pointwise_1_channel", s(1, 4, 4, 1), 5, (1, 1)),
    cc("pointwise_to_1_channel", s(1, 4, 4, 24), 1, (1, 1)),
    cc("pointwise_batch_2", s(2, 3, 3, 32), 12, (1, 1)),
    cc("pointwise_1x1_spatial", s(1, 1, 1, 40), 24, (1, 1)),
    ConvCase {
        groups: 3,
        ..cc("grouped_pointwise_3", s(1, 4, 4, 24), 36, (1, 1))
    },
    ConvCase {
        groups: 2,
        ..cc("grouped_pointwise_odd", s(1, 3, 3, 10), 6, (1, 1))
    },
    ConvCase {
        groups: 4,
        ..cc("grouped_3x3", s(1, 6, 6, 16), 8, (3, 3))
    },
    ConvCase {
        groups: 8,
        ..cc("grouped_as_depthwise", s(1, 5, 5, 8), 8, (3, 3))
    },
    cc("stem_3x3_3ch", s(1, 9, 9, 3), 8, (3, 3)),
    ConvCase {
        stride: (2, 2),
        ..cc("stem_3x3_s2_same", s(1, 12, 12, 3), 8, (3, 3))
    },
    ConvCase {
        stride: (2, 2),
        ..cc("stem_3x3_s2_odd_input", s(1, 11, 9, 3), 6, (3, 3))
    },
    cc("conv_3x3_same_16", s(1, 6, 6, 16), 16, (3, 3)),
    cc("conv_3x3_odd", s(1, 5, 7, 5), 7, (3, 3)),
    cc("conv_5x5", s(1, 7, 7, 4), 6, (5, 5)),
    cc("conv_1x7", s(1, 5, 9, 6), 5, (1, 7)),
    cc("conv_7x1", s(1, 9, 5, 6), 5, (7, 1)),
    ConvCase {
        padding: pad(2, 0, 0, 1),
        ..cc("conv_asymmetric_padding", s(1, 6, 6, 8), 4, (3, 3))
    },
    ConvCase {
        padding: Padding::Valid,
        stride: (2, 2),
        ..cc("conv_valid_stride2", s(1, 9, 8, 4), 4, (3, 3))
    },
    ConvCase {
        dilation: (2, 2),
        ..cc("conv_dilation_2", s(1, 8, 8, 4), 4, (3, 3))
    },
    ConvCase {
        stride: (2, 2),
        ..cc("conv_1x1_stride2", s(1, 6, 6, 8), 4, (1, 1))
    },
    ConvCase {
        padding: pad(1, 1, 1, 1),
        ..cc("conv_1x1_padded", s(1, 3, 3, 4), 4, (1, 1))
    },
    cc("conv_batch_2", s(2, 4, 4, 6), 4, (3, 3)),
    cc("conv_spatial_1x1", s(1, 1, 1, 9), 4, (3, 3)),
    ConvCase {
        padding: pad(3, 2, 3, 3),
        ..cc("conv_windows_in_padding", s(1, 2, 3, 4), 4, (2, 2))
    },
    cc("conv_wide_input_80", s(1, 3, 3, 80), 6, (3, 3)),
    // The visual-wake-words model's pointwise layers (the planner runs most of them with the
    // output overlapping the input): cout > cin and cout == cin, down to 3x3 pixels.
    cc("vww_pointwise_48x48x8_to_16", s(1, 48, 48, 8), 16, (1, 1)),
    // Two- and four-step windows on the unrolled run loop (vww's ops 4 and 6).
    cc("vww_pointwise_24x24x16_to_32", s(1, 24, 24, 16), 32, (1, 1)),
    cc("vww_pointwise_12x12x32", s(1, 12, 12, 32), 32, (1, 1)),
    // Group width above 256: the pointwise path's full-size filter block and smaller chunks.
    cc("pointwise_320_to_12", s(1, 5, 5, 320), 12, (1, 1)),
    // Windows above the widened blocks' 512 elements: every pixel on the fully connected
    // layer's loop (MobileNetV3-Large's projections); an odd output count (the last row paired
    // with itself) and a row longer than its 1024-input chunk.
    cc("pointwise_long_528_to_88", s(1, 3, 3, 528), 88, (1, 1)),
    cc("pointwise_long_960_to_9", s(1, 2, 2, 960), 9, (1, 1)),
    cc("pointwise_long_1280_to_6", s(1, 2, 1, 1280), 6, (1, 1)),
    cc("vww_pointwise_12x12x64", s(1, 12, 12, 64), 64, (1, 1)),
    cc("vww_pointwise_6x6x128", s(1, 6, 6, 128), 128, (1, 1)),
    cc("vww_pointwise_3x3x128_to_256", s(1, 3, 3, 128), 256, (1, 1)),
    cc("vww_pointwise_3x3x256", s(1, 3, 3, 256), 256, (1, 1)),
];

/// A random convolution-like case (the host batteries' property sweep, with a seeded
/// generator).
fn random_case(rng: &mut Rng, depthwise: bool) -> ConvCase {
    let c = rng.range_usize(1, 40);
    let mult = if depthwise { rng.range_usize(1, 3) } else { 1 };
    let groups = if depthwise {
        1
    } else {
        [1, 1, 1, 2, 3][rng.range_usize(0, 4)]
    };
    let cin = if depthwise {
        c
    } else {
        c.div_ceil(groups) * groups
    };
    let out_c = if depthwise {
        c * mult
    } else {
        rng.range_usize(1, 24).div_ceil(groups) * groups
    };
    let padding = match rng.range_usize(0, 2) {
        0 => Padding::Same,
        1 => Padding::Valid,
        _ => pad(
            rng.range_usize(0, 2),
            rng.range_usize(0, 2),
            rng.range_usize(0, 2),
            rng.range_usize(0, 2),
        ),
    };
    ConvCase {
        name: "random",
        input: s(
            rng.range_usize(1, 2),
            rng.range_usize(1, 9),
            rng.range_usize(1, 9),
            cin,
        ),
        out_c,
        kernel: (rng.range_usize(1, 5), rng.range_usize(1, 5)),
        stride: (rng.range_usize(1, 2), rng.range_usize(1, 2)),
        dilation: (rng.range_usize(1, 2), rng.range_usize(1, 2)),
        padding,
        groups,
    }
}

fn depthwise_battery(t: &mut Tally, rng: &mut Rng) {
    for c in DEPTHWISE {
        depthwise_case(t, rng, c, &REGIMES);
        reset_heap();
    }
    let mut done = 0;
    while done < 300 {
        let c = random_case(rng, true);
        if c.geometry(1).is_some() {
            let regime = REGIMES[rng.range_usize(0, REGIMES.len() - 1)];
            depthwise_case(t, rng, &c, &[regime]);
            done += 1;
        }
        reset_heap();
    }
    // The benchmark shapes themselves.
    let a = ConvCase {
        padding: pad(1, 1, 1, 1),
        ..cc("bench_a", s(1, 48, 48, 32), 32, (3, 3))
    };
    let b = ConvCase {
        padding: pad(1, 0, 1, 0),
        stride: (2, 2),
        ..cc("bench_b", s(1, 48, 48, 64), 64, (3, 3))
    };
    for c in [a, b] {
        depthwise_case(t, rng, &c, &[Regime::Typical]);
        reset_heap();
    }
    depthwise_errors(t);
}

fn conv_battery(t: &mut Tally, rng: &mut Rng) {
    for c in CONV {
        conv_case(t, rng, c, &REGIMES);
        reset_heap();
    }
    let mut done = 0;
    while done < 300 {
        let c = random_case(rng, false);
        if c.geometry(c.groups).is_some() {
            let regime = REGIMES[rng.range_usize(0, REGIMES.len() - 1)];
            conv_case(t, rng, &c, &[regime]);
            done += 1;
        }
        reset_heap();
    }
    let shapes = [
        cc("bench_c", s(1, 24, 24, 64), 128, (1, 1)),
        cc("bench_d", s(1, 12, 12, 128), 128, (1, 1)),
        ConvCase {
            stride: (2, 2),
            ..cc("bench_e", s(1, 96, 96, 3), 8, (3, 3))
        },
    ];
    for c in &shapes {
        conv_case(t, rng, c, &[Regime::Typical]);
        reset_heap();
    }
    conv_errors(t);
}

fn fc_battery(t: &mut Tally, rng: &mut Rng) {
    let cases = [
        ("fc_256_to_10", FullyConnectedGeometry::new(1, 256, 10)),
        ("fc_odd_features", FullyConnectedGeometry::new(1, 37, 11)),
        ("fc_batch_3", FullyConnectedGeometry::new(3, 24, 7)),
        ("fc_1_feature", FullyConnectedGeometry::new(2, 1, 5)),
        ("fc_to_1_output", FullyConnectedGeometry::new(1, 64, 1)),
        (
            "fc_wide_1280_to_20",
            FullyConnectedGeometry::new(1, 1280, 20),
        ),
        ("fc_9_to_16", FullyConnectedGeometry::new(1, 9, 16)),
        ("fc_12_to_5_tail", FullyConnectedGeometry::new(2, 12, 5)),
        ("fc_2052_to_3_long", FullyConnectedGeometry::new(1, 2052, 3)),
        (
            "fc_520_to_70_groups",
            FullyConnectedGeometry::new(1, 520, 70),
        ),
    ];
    for (name, g) in cases {
        fc_case(t, rng, name, g, &REGIMES);
        reset_heap();
    }
    for _ in 0..100 {
        let g = FullyConnectedGeometry::new(
            rng.range_usize(1, 3),
            rng.range_usize(1, 100),
            rng.range_usize(1, 30),
        );
        let regime = REGIMES[rng.range_usize(0, REGIMES.len() - 1)];
        fc_case(t, rng, "random", g, &[regime]);
        reset_heap();
    }
}

/// Every error a convolution-like call can report must come out of the dispatcher exactly as
/// out of the portable loop (same variant, same naming), with nothing written that matters.
fn conv_errors(t: &mut Tally) {
    let g = ConvGeometry::new(s(1, 4, 4, 8), 8, (3, 3), (1, 1), (1, 1), Padding::Same, 1)
        .expect("valid geometry");
    let (m, sh) = ([1 << 30; 8], [-5; 8]);
    let good = ChannelQuantS8 {
        input_offset: 0,
        output_offset: 0,
        multipliers: &m,
        shifts: &sh,
        act_min: -128,
        act_max: 127,
    };
    let bad_shift = [40; 8];
    let variants: [(&str, ConvS8Params, usize, usize, usize, usize); 6] = [
        (
            "short_input",
            ConvS8Params {
                geometry: g,
                quant: good,
            },
            127,
            576,
            8,
            128,
        ),
        (
            "short_filter",
            ConvS8Params {
                geometry: g,
                quant: good,
            },
            128,
            575,
            8,
            128,
        ),
        (
            "bad_bias",
            ConvS8Params {
                geometry: g,
                quant: good,
            },
            128,
            576,
            7,
            128,
        ),
        (
            "long_output",
            ConvS8Params {
                geometry: g,
                quant: good,
            },
            128,
            576,
            8,
            129,
        ),
        (
            "bad_shift",
            ConvS8Params {
                geometry: g,
                quant: ChannelQuantS8 {
                    shifts: &bad_shift,
                    ..good
                },
            },
            128,
            576,
            8,
            128,
        ),
        (
            "inverted_clamp",
            ConvS8Params {
                geometry: g,
                quant: ChannelQuantS8 {
                    act_min: 10,
                    act_max: 5,
                    ..good
                },
            },
            128,
            576,
            8,
            128,
        ),
    ];
    for (name, p, il, fl, bl, ol) in variants {
        let (x, f, b) = (vec![0i8; il], vec![0i8; fl], vec![0i32; bl]);
        let (mut a, mut c) = (vec![0i8; ol], vec![0i8; ol]);
        let ra = conv::conv_s8(&p, &x, &f, Some(&b), &mut a, &mut []);
        let rc = conv::portable::conv_s8(&p, &x, &f, Some(&b), &mut c, &mut []);
        t.check("conv_error", name, (ra, &[]), (rc, &[]));
        if ra.is_ok() {
            println!("FAIL conv_error {}: accepted", name);
            t.failures += 1;
        }
        let fdw = vec![0i8; fl / 8];
        let ra = depthwise::depthwise_conv_s8(&p, &x, &fdw, Some(&b), &mut a, &mut []);
        let rc = depthwise::portable::depthwise_conv_s8(&p, &x, &fdw, Some(&b), &mut c, &mut []);
        t.check("depthwise_error", name, (ra, &[]), (rc, &[]));
        reset_heap();
    }
}

/// Depthwise-only errors: a channel count that is not a multiple of the input's.
fn depthwise_errors(t: &mut Tally) {
    let g = ConvGeometry {
        output: s(1, 4, 4, 12),
        ..ConvGeometry::new(s(1, 4, 4, 8), 8, (3, 3), (1, 1), (1, 1), Padding::Same, 1)
            .expect("valid geometry")
    };
    let (m, sh) = ([1 << 30], [-5]);
    let p = ConvS8Params {
        geometry: g,
        quant: ChannelQuantS8 {
            input_offset: 0,
            output_offset: 0,
            multipliers: &m,
            shifts: &sh,
            act_min: -128,
            act_max: 127,
        },
    };
    let (x, f) = (vec![0i8; 128], vec![0i8; 108]);
    let (mut a, mut c) = (vec![0i8; 192], vec![0i8; 192]);
    let ra = depthwise::depthwise_conv_s8(&p, &x, &f, None, &mut a, &mut []);
    let rc = depthwise::portable::depthwise_conv_s8(&p, &x, &f, None, &mut c, &mut []);
    t.check("depthwise_error", "bad_multiplier", (ra, &[]), (rc, &[]));
    reset_heap();
}

/// A pooling case: name, input, window, stride, padding.
type PoolCase = (&'static str, Shape, (usize, usize), (usize, usize), Padding);

/// One family of the battery: its name and the function running its cases.
type Family = (&'static str, fn(&mut Tally, &mut Rng));

/// Pooling: max and average (TFLite and count-include-pad) over the pooling cases of
/// `bfmd-kernels/tests/pool.rs`, and MEAN.
fn pool_battery(t: &mut Tally, rng: &mut Rng) {
    let cases: [PoolCase; 12] = [
        (
            "global_3x3x256",
            s(1, 3, 3, 256),
            (3, 3),
            (1, 1),
            Padding::Valid,
        ),
        (
            "2x2_s2_valid",
            s(1, 8, 8, 16),
            (2, 2),
            (2, 2),
            Padding::Valid,
        ),
        (
            "3x3_s2_same_odd",
            s(1, 9, 7, 5),
            (3, 3),
            (2, 2),
            Padding::Same,
        ),
        ("3x3_s1_same", s(1, 6, 6, 33), (3, 3), (1, 1), Padding::Same),
        (
            "3x3_s2_pad_tl",
            s(1, 8, 8, 12),
            (3, 3),
            (2, 2),
            pad(1, 0, 1, 0),
        ),
        ("asymmetric", s(1, 5, 6, 7), (2, 3), (1, 2), pad(1, 0, 2, 1)),
        (
            "global_7x7x40",
            s(1, 7, 7, 40),
            (7, 7),
            (1, 1),
            Padding::Valid,
        ),
        ("batch_2", s(2, 4, 4, 9), (2, 2), (2, 2), Padding::Valid),
        (
            "1x1_spatial",
            s(1, 1, 1, 64),
            (1, 1),
            (1, 1),
            Padding::Valid,
        ),
        (
            "global_16x16x3",
            s(1, 16, 16, 3),
            (16, 16),
            (1, 1),
            Padding::Valid,
        ),
        (
            "global_16x17x8",
            s(1, 16, 17, 8),
            (16, 17),
            (1, 1),
            Padding::Valid,
        ),
        (
            "3x3_s1_valid_batch2",
            s(2, 5, 6, 16),
            (3, 3),
            (1, 1),
            Padding::Valid,
        ),
    ];
    let acts = [
        FusedActivation::None,
        FusedActivation::Relu,
        FusedActivation::Relu6,
    ];
    for (name, shape, k, st, padding) in cases {
        let Ok(g) = pool_geometry(shape, k, st, padding) else {
            println!("FAIL pool {}: bad case geometry", name);
            t.failures += 1;
            continue;
        };
        for act in acts {
            let zp = rng.range_i64(-128, 127) as i32;
            let Ok(p) = PoolS8Params::from_scales(g, 0.05, zp, 0.05, zp, act) else {
                println!("FAIL pool {}: bad parameters", name);
                t.failures += 1;
                continue;
            };
            let mut x = vec![0i8; g.input.len()];
            rng.fill_i8(&mut x);
            let n = g.output.len();
            let (mut a, mut b) = (vec![0i8; n], vec![1i8; n]);
            let ra = pool::max_pool_s8(&p, &x, &mut a);
            let rb = pool::portable::max_pool_s8(&p, &x, &mut b);
            t.check("max_pool", name, (ra, &a), (rb, &b));
            for include in [false, true] {
                let p = p.with_count_include_pad(include);
                let ra = pool::avg_pool_s8(&p, &x, &mut a);
                let rb = pool::portable::avg_pool_s8(&p, &x, &mut b);
                t.check("avg_pool", name, (ra, &a), (rb, &b));
            }
            let (is, os) = (rng.f32(0.01, 0.1), rng.f32(0.01, 0.1));
            let ozp = rng.range_i64(-128, 127) as i32;
            if let Ok(pm) = MeanS8Params::from_scales(is, zp, os, ozp) {
                let n = g.input.n * g.input.c;
                let (mut a, mut b) = (vec![0i8; n], vec![1i8; n]);
                let ra = pool::mean_s8(&pm, g.input, &x, &mut a);
                let rb = pool::portable::mean_s8(&pm, g.input, &x, &mut b);
                t.check("mean", name, (ra, &a), (rb, &b));
            }
            reset_heap();
        }
    }
}

/// ADD and MUL over every broadcast form of `bfmd-kernels/tests/elementwise.rs`, with equal
/// and different input scales, in place and out of place.
fn elementwise_battery(t: &mut Tally, rng: &mut Rng) {
    let full = s(1, 6, 5, 12);
    let pairs: [(&str, Shape, Shape); 8] = [
        ("same_shape", full, full),
        ("same_shape_odd", s(1, 3, 5, 7), s(1, 3, 5, 7)),
        ("channel_vector", full, s(1, 1, 1, 12)),
        ("scalar", full, s(1, 1, 1, 1)),
        ("row", full, s(1, 1, 5, 12)),
        ("column", full, s(1, 6, 1, 12)),
        ("batch_gate", s(2, 3, 3, 8), s(2, 1, 1, 8)),
        ("bench_g", s(1, 24, 24, 32), s(1, 24, 24, 32)),
    ];
    let acts = [
        FusedActivation::None,
        FusedActivation::Relu,
        FusedActivation::Relu6,
    ];
    for (name, sa, sb) in pairs {
        for (i, act) in acts.iter().enumerate() {
            let equal = i == 0;
            let s1 = rng.f32(0.01, 0.1);
            let s2 = if equal { s1 } else { rng.f32(0.01, 0.1) };
            let so = rng.f32(0.02, 0.2);
            let z = |rng: &mut Rng| rng.range_i64(-128, 127) as i32;
            let (z1, z2, zo) = (z(rng), z(rng), z(rng));
            let mut a = vec![0i8; sa.len()];
            let mut b = vec![0i8; sb.len()];
            rng.fill_i8(&mut a);
            rng.fill_i8(&mut b);
            let n = sa.len();
            if let Ok(p) = AddS8Params::from_scales(s1, z1, s2, z2, so, zo, *act) {
                let (mut x, mut y) = (vec![0i8; n], vec![1i8; n]);
                let rx = elementwise::add_s8(&p, sa, &a, sb, &b, &mut x);
                let ry = elementwise::portable::add_s8(&p, sa, &a, sb, &b, &mut y);
                t.check("add", name, (rx, &x), (ry, &y));
                let mut inplace = a.clone();
                let r = elementwise::add_s8_inplace(&p, sa, &mut inplace, sb, &b);
                t.check("add_inplace", name, (r, &inplace), (ry, &y));
            }
            let so_mul = s1 * s2 * rng.f32(20.0, 200.0);
            if let Ok(p) = MulS8Params::from_scales(s1, z1, s2, z2, so_mul, zo, *act) {
                let (mut x, mut y) = (vec![0i8; n], vec![1i8; n]);
                let rx = elementwise::mul_s8(&p, sa, &a, sb, &b, &mut x);
                let ry = elementwise::portable::mul_s8(&p, sa, &a, sb, &b, &mut y);
                t.check("mul", name, (rx, &x), (ry, &y));
                let mut inplace = a.clone();
                let r = elementwise::mul_s8_inplace(&p, sa, &mut inplace, sb, &b);
                t.check("mul_inplace", name, (r, &inplace), (ry, &y));
            }
            reset_heap();
        }
    }
}

/// ADD and MUL over every pair of int8 values (a 256x256 tensor pair), with scales chosen so
/// that many results fall exactly on rounding ties (powers of two, equal scales) and others
/// that do not: every table entry and rounding branch of the fast paths meets every other.
fn elementwise_exhaustive(t: &mut Tally, rng: &mut Rng) {
    let shape = s(1, 256, 256, 1);
    let a: Vec<i8> = (0..65536).map(|i| (i & 0xff) as u8 as i8).collect();
    let b: Vec<i8> = (0..65536).map(|i| (i >> 8) as u8 as i8).collect();
    // (s1, z1, s2, z2, s_out, z_out)
    let sets: [(f32, i32, f32, i32, f32, i32); 6] = [
        (0.5, 0, 0.5, 0, 0.5, 0),
        (0.25, -128, 0.5, 127, 1.0, 3),
        (0.0625, 7, 0.125, -9, 0.25, -128),
        (0.02, -128, 0.035, 5, 0.05, -128),
        (0.1, 0, 0.1, 0, 0.05, 0),
        (1.0 / 128.0, -3, 1.0 / 64.0, 60, 1.0 / 16.0, -100),
    ];
    let n = shape.len();
    for (i, &(s1, z1, s2, z2, so, zo)) in sets.iter().enumerate() {
        for act in [FusedActivation::None, FusedActivation::Relu] {
            if let Ok(p) = AddS8Params::from_scales(s1, z1, s2, z2, so, zo, act) {
                let (mut x, mut y) = (vec![0i8; n], vec![1i8; n]);
                let rx = elementwise::add_s8(&p, shape, &a, shape, &b, &mut x);
                let ry = elementwise::portable::add_s8(&p, shape, &a, shape, &b, &mut y);
                t.check("add", "exhaustive_pairs", (rx, &x), (ry, &y));
                let mut inplace = a.clone();
                let r = elementwise::add_s8_inplace(&p, shape, &mut inplace, shape, &b);
                t.check("add_inplace", "exhaustive_pairs", (r, &inplace), (ry, &y));
            } else {
                println!("FAIL add exhaustive_pairs {}: bad parameters", i);
                t.failures += 1;
            }
            // MUL: output scales around s1 * s2 * 2^k, so products land on ties too.
            let k = [1.0f32, 64.0, 256.0, 100.0, 0.5, 2048.0][i];
            if let Ok(p) = MulS8Params::from_scales(s1, z1, s2, z2, s1 * s2 * k, zo, act) {
                let (mut x, mut y) = (vec![0i8; n], vec![1i8; n]);
                let rx = elementwise::mul_s8(&p, shape, &a, shape, &b, &mut x);
                let ry = elementwise::portable::mul_s8(&p, shape, &a, shape, &b, &mut y);
                t.check("mul", "exhaustive_pairs", (rx, &x), (ry, &y));
            } else {
                println!("FAIL mul exhaustive_pairs {}: bad parameters", i);
                t.failures += 1;
            }
        }
    }
    let _ = rng;
}

#[entry]
fn main() -> ! {
    println!("{}", BEGIN);
    println!("# int8 kernel battery on {} ({})", MACHINE, CPU);
    println!(
        "# paths: conv {}, depthwise {}, fully_connected {}, pool {}, elementwise {}",
        conv::PATH,
        depthwise::PATH,
        fully_connected::PATH,
        pool::PATH,
        elementwise::PATH
    );
    let mut rng = Rng::new(0xba77e2);
    let mut total = Tally::default();
    let families: [Family; 6] = [
        ("depthwise", depthwise_battery),
        ("conv", conv_battery),
        ("fully_connected", fc_battery),
        ("pool", pool_battery),
        ("elementwise", elementwise_battery),
        ("elementwise_exhaustive", elementwise_exhaustive),
    ];
    for (name, run) in families {
        let mut t = Tally::default();
        run(&mut t, &mut rng);
        reset_heap();
        if t.failures == 0 {
            println!("ok {} {}", name, t.cases);
        } else {
            println!("FAILED {} {} of {}", name, t.failures, t.cases);
        }
        total.cases += t.cases;
        total.failures += t.failures;
    }
    println!("{}", END);
    if total.failures == 0 {
        println!("battery passed: {} cases", total.cases);
        bfmd_board_bench::board::exit(0)
    } else {
        println!(
            "battery FAILED: {} of {} cases",
            total.failures, total.cases
        );
        bfmd_board_bench::board::exit(EXIT_FAILURE)
    }
}
