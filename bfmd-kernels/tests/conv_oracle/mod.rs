//! Independent oracles for the convolution family's batteries (`conv.rs`, `depthwise.rs`):
//! literal, one-MAC-at-a-time transcriptions of TFLM's reference loops, written without the
//! kernels' hoisted window bounds, channel blocks or shared helpers, plus the error bounds the
//! batteries use. Depthwise is checked as a grouped convolution (`groups = in_c`) after
//! reordering its filter, which also cross-checks the two kernels.
#![allow(dead_code)]

use crate::common::{dequantize, Rng};
use bfmd_kernels::quant::multiply_by_quantized_multiplier;
use bfmd_kernels::quant::FusedActivation;
use bfmd_kernels::s8::conv::{ChannelQuantS8, ConvS8Params};
use bfmd_kernels::{ConvGeometry, Error, Padding};

/// int8 quantization of one convolution-like op, as plain numbers.
#[derive(Clone, Debug)]
pub struct QuantSetup {
    /// Input scale and zero point.
    pub in_scale: f32,
    /// Input zero point.
    pub in_zp: i32,
    /// Filter scales: 1 (per-tensor) or one per output channel.
    pub filter_scales: Vec<f32>,
    /// Output scale.
    pub out_scale: f32,
    /// Output zero point.
    pub out_zp: i32,
}

impl QuantSetup {
    /// Filter scale of output channel `o` (per-tensor scales broadcast).
    pub fn filter_scale(&self, o: usize) -> f32 {
        if self.filter_scales.len() == 1 {
            self.filter_scales[0]
        } else {
            self.filter_scales[o]
        }
    }
}

/// Random int8 operands of one convolution (OHWI filter) and what they mean in real numbers.
pub struct Data {
    /// The convolution geometry.
    pub g: ConvGeometry,
    /// Scales and zero points.
    pub q: QuantSetup,
    /// int8 input.
    pub input: Vec<i8>,
    /// int8 OHWI filter.
    pub filter: Vec<i8>,
    /// int32 bias, if any.
    pub bias: Option<Vec<i32>>,
    /// Dequantized input.
    pub x_real: Vec<f32>,
    /// Dequantized filter.
    pub w_real: Vec<f32>,
    /// Dequantized bias (scale `in_scale * filter_scale[o]`).
    pub b_real: Option<Vec<f32>>,
}

impl Data {
    /// Random operands for the convolution `g` with per-channel or per-tensor filter scales and
    /// an optional bias; the output scale is chosen so that most of the int8 range is used and
    /// the largest outputs saturate (so clamping is exercised too).
    pub fn new(g: ConvGeometry, seed: u64, per_channel: bool, with_bias: bool) -> Data {
        let mut rng = Rng::new(seed);
        let taps = taps(&g);
        let out_c = g.output.c;
        let input = rng.vec_i8(g.input.len());
        let filter = rng.vec_i8_in(out_c * taps, -127, 127);
        let in_scale = rng.f32(0.01, 0.05);
        let in_zp = rng.range_i64(-20, 20) as i32;
        let n_scales = if per_channel { out_c } else { 1 };
        let filter_scales: Vec<f32> = (0..n_scales).map(|_| rng.f32(0.002, 0.02)).collect();
        let bound = 64 * taps as i32;
        let bias = with_bias.then(|| rng.vec_i32(out_c, -bound, bound));
        let mut q = QuantSetup {
            in_scale,
            in_zp,
            filter_scales,
            out_scale: 1.0,
            out_zp: rng.range_i64(-20, 20) as i32,
        };
        let x_real = dequantize(&input, in_scale, in_zp);
        let w_real: Vec<f32> = filter
            .iter()
            .enumerate()
            .map(|(i, &w)| q.filter_scale(i / taps.max(1)) * w as f32)
            .collect();
        let b_real = bias.as_ref().map(|b| {
            b.iter()
                .enumerate()
                .map(|(o, &v)| v as f32 * in_scale * q.filter_scale(o))
                .collect::<Vec<f32>>()
        });
        let (real, _) = conv_f64_oracle(&g, &x_real, &w_real, b_real.as_deref());
        let max = real.iter().fold(0f64, |m, v| m.max(v.abs()));
        q.out_scale = (max / 110.0).max(1e-3) as f32;
        Data {
            g,
            q,
            input,
            filter,
            bias,
            x_real,
            w_real,
            b_real,
        }
    }

    /// int8 parameters for `geometry` (the convolution's, or the equivalent depthwise one)
    /// through `ConvS8Params::from_scales`, writing the multipliers into `m` and `s`.
    pub fn params<'a>(
        &self,
        geometry: ConvGeometry,
        act: FusedActivation,
        m: &'a mut Vec<i32>,
        s: &'a mut Vec<i32>,
    ) -> ConvS8Params<'a> {
        let n = self.q.filter_scales.len();
        m.resize(n, 0);
        s.resize(n, 0);
        ConvS8Params::from_scales(
            geometry,
            self.q.in_scale,
            self.q.in_zp,
            &self.q.filter_scales,
            self.q.out_scale,
            self.q.out_zp,
            act,
            m,
            s,
        )
        .expect("valid test quantization")
    }

    /// The TFLM transcription's int8 output for parameters `p` (built by [`Data::params`]).
    pub fn oracle_s8(&self, p: &ConvS8Params) -> Vec<i8> {
        conv_s8_oracle(
            &self.g,
            &self.input,
            &self.filter,
            self.bias.as_deref(),
            p.quant.input_offset,
            p.quant.output_offset,
            p.quant.multipliers,
            p.quant.shifts,
            (p.quant.act_min, p.quant.act_max),
        )
    }
}

/// TFLM `reference_integer_ops::ConvPerChannel`, transcribed loop for loop
/// (`tensorflow/lite/kernels/internal/reference/integer_ops/conv.h`); `filter` is OHWI.
#[allow(clippy::too_many_arguments)]
pub fn conv_s8_oracle(
    g: &ConvGeometry,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    input_offset: i32,
    output_offset: i32,
    multipliers: &[i32],
    shifts: &[i32],
    act: (i32, i32),
) -> Vec<i8> {
    let (n, ih, iw, ic) = (g.input.n, g.input.h as i64, g.input.w as i64, g.input.c);
    let (oh, ow, oc) = (g.output.h, g.output.w, g.output.c);
    let fic = ic / g.groups;
    let per_group = oc / g.groups;
    let mut out = vec![0i8; n * oh * ow * oc];
    for b in 0..n {
        for oy in 0..oh {
            let y0 = (oy * g.stride_h) as i64 - g.pad_top as i64;
            for ox in 0..ow {
                let x0 = (ox * g.stride_w) as i64 - g.pad_left as i64;
                for o in 0..oc {
                    let group = o / per_group;
                    let mut acc: i32 = 0;
                    for fy in 0..g.kernel_h {
                        let y = y0 + (g.dilation_h * fy) as i64;
                        for fx in 0..g.kernel_w {
                            let x = x0 + (g.dilation_w * fx) as i64;
                            if x < 0 || x >= iw || y < 0 || y >= ih {
                                continue;
                            }
                            for c in 0..fic {
                                let iv = input[((b * ih as usize + y as usize) * iw as usize
                                    + x as usize)
                                    * ic
                                    + c
                                    + group * fic] as i32;
                                let fv = filter[((o * g.kernel_h + fy) * g.kernel_w + fx) * fic + c]
                                    as i32;
                                acc += fv * (iv + input_offset);
                            }
                        }
                    }
                    if let Some(bias) = bias {
                        acc += bias[o];
                    }
                    let i = if multipliers.len() == 1 { 0 } else { o };
                    acc = multiply_by_quantized_multiplier(acc, multipliers[i], shifts[i]);
                    acc += output_offset;
                    acc = acc.max(act.0).min(act.1);
                    out[((b * oh + oy) * ow + ox) * oc + o] = acc as i8;
                }
            }
        }
    }
    out
}

/// Real-valued convolution in `f64` (the exact result of the operands, to ~1e-16) and, per
/// output, `S = sum |x * w| + |bias|`, the magnitude that bounds `f32` rounding error.
pub fn conv_f64_oracle(
    g: &ConvGeometry,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
) -> (Vec<f64>, Vec<f64>) {
    let (n, ih, iw, ic) = (g.input.n, g.input.h as i64, g.input.w as i64, g.input.c);
    let (oh, ow, oc) = (g.output.h, g.output.w, g.output.c);
    let fic = ic / g.groups;
    let per_group = oc / g.groups;
    let mut val = vec![0f64; n * oh * ow * oc];
    let mut mag = vec![0f64; n * oh * ow * oc];
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..oc {
                    let group = o / per_group;
                    let (mut acc, mut abs) = (0f64, 0f64);
                    for fy in 0..g.kernel_h {
                        let y = (oy * g.stride_h) as i64 - g.pad_top as i64
                            + (g.dilation_h * fy) as i64;
                        for fx in 0..g.kernel_w {
                            let x = (ox * g.stride_w) as i64 - g.pad_left as i64
                                + (g.dilation_w * fx) as i64;
                            if x < 0 || x >= iw || y < 0 || y >= ih {
                                continue;
                            }
                            for c in 0..fic {
                                let iv = input[((b * ih as usize + y as usize) * iw as usize
                                    + x as usize)
                                    * ic
                                    + c
                                    + group * fic] as f64;
                                let fv = filter[((o * g.kernel_h + fy) * g.kernel_w + fx) * fic + c]
                                    as f64;
                                acc += iv * fv;
                                abs += (iv * fv).abs();
                            }
                        }
                    }
                    if let Some(bias) = bias {
                        acc += bias[o] as f64;
                        abs += (bias[o] as f64).abs();
                    }
                    let i = ((b * oh + oy) * ow + ox) * oc + o;
                    val[i] = acc;
                    mag[i] = abs;
                }
            }
        }
    }
    (val, mag)
}

/// Reorders a depthwise filter `[1, kh, kw, out_c]` into the OHWI filter `[out_c, kh, kw, 1]`
/// of the equivalent grouped convolution (`groups = in_c`).
pub fn depthwise_to_ohwi<T: Copy>(filter: &[T], kh: usize, kw: usize, out_c: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(filter.len());
    for o in 0..out_c {
        for t in 0..kh * kw {
            out.push(filter[t * out_c + o]);
        }
    }
    out
}

/// Number of products summed per output (the accumulation length of the `f32` error bound).
pub fn taps(g: &ConvGeometry) -> usize {
    g.kernel_h * g.kernel_w * (g.input.c / g.groups)
}

/// Bound on `|f32 sum - exact sum|` for `n` products plus a bias accumulated in `f32` in any
/// order: `(n + 1) * u / (1 - (n + 1) * u) * S` with `u = 2^-24` (Higham, Theorem 3.1),
/// loosened to `(n + 2) * 2^-24 * S` and doubled for the rounding of the products themselves.
pub fn f32_sum_error(n: usize, s: f64) -> f64 {
    2.0 * (n as f64 + 2.0) * 2f64.powi(-24) * s
}

/// Checks int8 output against the real-valued result of the quantized operands.
///
/// Derivation (per output): the kernel's int32 accumulator is exact; requantization computes
/// `t = acc * M'` where `M'` is the Q31 multiplier (relative error <= 2^-31 from
/// `QuantizeMultiplier`, <= 2^-24 more when TFLM first multiplies the scales in `f32`), then
/// rounds twice (the high multiply to nearest, then the shift to nearest): `|q - t| <=
/// 1/2 + 1/2 * 2^-shift <= 1` output LSB. Adding the zero point is exact and the clamp is
/// 1-Lipschitz, so with `y` the real result clamped to the real image of `[act_min, act_max]`:
///
/// `|deq(q) - y| <= out_scale * 1 + |y| * 2^-20 + f32 accumulation error of the reference`.
///
/// `real` is the exact (f64) real result, `mag` its `S`, `n` the accumulation length.
#[allow(clippy::too_many_arguments)]
pub fn assert_within_quant_bound(
    what: &str,
    got: &[i8],
    real: &[f64],
    mag: &[f64],
    n: usize,
    out_scale: f32,
    out_zp: i32,
    act: (i32, i32),
) {
    let lo = out_scale as f64 * (act.0 - out_zp) as f64;
    let hi = out_scale as f64 * (act.1 - out_zp) as f64;
    for (i, ((&q, &y), &s)) in got.iter().zip(real).zip(mag).enumerate() {
        let y = y.max(lo).min(hi);
        let deq = out_scale as f64 * (q as i32 - out_zp) as f64;
        let tol = out_scale as f64 * (1.0 + 2f64.powi(-20))
            + y.abs() * 2f64.powi(-20)
            + f32_sum_error(n, s);
        assert!(
            (deq - y).abs() <= tol,
            "{what}: element {i}: int8 {q} dequantizes to {deq}, real result {y} (tolerance {tol})"
        );
    }
}

/// The real image `[scale * (act_min - zp), scale * (act_max - zp)]` of an int8 clamp range:
/// the clamp to give the `f32` reference so that it clamps where the int8 kernel does.
pub fn real_clamp(out_scale: f32, out_zp: i32, act: (i32, i32)) -> (f32, f32) {
    (
        out_scale * (act.0 - out_zp) as f32,
        out_scale * (act.1 - out_zp) as f32,
    )
}

/// int8 output against the `f32` reference run on the dequantized operands with the clamp of
/// [`real_clamp`]: `|deq(q) - f32_ref| <= out_scale * (1 + 2^-20) + |y| * 2^-20 + 2 * f32
/// summation error` (the bound of [`assert_within_quant_bound`] plus the reference's own
/// deviation from the exact result, which is at most one more summation error).
#[allow(clippy::too_many_arguments)]
pub fn assert_within_quant_bound_of_f32(
    what: &str,
    got: &[i8],
    f32_ref: &[f32],
    mag: &[f64],
    n: usize,
    out_scale: f32,
    out_zp: i32,
    act: (i32, i32),
) {
    let y: Vec<f64> = f32_ref.iter().map(|&v| v as f64).collect();
    let mag2: Vec<f64> = mag.iter().map(|&m| 2.0 * m).collect();
    assert_within_quant_bound(what, got, &y, &mag2, n, out_scale, out_zp, act);
}

/// Bound on the accumulation error of an f16 kernel summing `n` products of magnitude sum `s`
/// (plus a bias): [`f32_sum_error`] when it accumulates in `f32`; when it accumulates in f16
/// (`ACCUMULATES_IN_F16`, the NEON FP16 path) the same bound with f16's unit roundoff `2^-11`
/// in place of `2^-24` (each fused multiply-add or addition rounds once to 11 bits; partial
/// sums are combined in `f32`, whose rounding the looser unit covers), plus `2^-25` per
/// addition for sums in f16's subnormal range, where the rounding error is absolute.
pub fn f16_kernel_sum_error(n: usize, s: f64, in_f16: bool) -> f64 {
    if in_f16 {
        2.0 * (n as f64 + 2.0) * 2f64.powi(-11) * s + (n as f64 + 2.0) * 2f64.powi(-25)
    } else {
        f32_sum_error(n, s)
    }
}

/// Checks an f16 output against the exact result of the same (f16-valued) operands.
///
/// Derivation: the kernel accumulates with error <= [`f16_kernel_sum_error`] (`in_f16` says
/// whether it accumulates in f16) and rounds once to f16: relative error <= 2^-11 for normal
/// results, absolute <= 2^-25 in the subnormal range.
pub fn assert_f16_within(
    what: &str,
    got: &[f32],
    exact: &[f64],
    mag: &[f64],
    n: usize,
    act: (f32, f32),
    in_f16: bool,
) {
    for (i, ((&g, &y), &s)) in got.iter().zip(exact).zip(mag).enumerate() {
        let y = y.max(act.0 as f64).min(act.1 as f64);
        let e32 = f16_kernel_sum_error(n, s, in_f16);
        let tol = 2f64.powi(-11) * (y.abs() + e32) + e32 + 2f64.powi(-25);
        assert!(
            (g as f64 - y).abs() <= tol,
            "{what}: element {i}: f16 gives {g}, exact {y} (tolerance {tol})"
        );
    }
}

/// Checks an f16 output against the `f32` reference kernel run on the same (f16-valued)
/// operands: the bound of [`assert_f16_within`] with the reference's own summation error added
/// (hence `2 * S`), i.e. `|f16 - f32_ref| <= 2^-11 * (|y| + e) + e + 2^-25` with
/// `e = f16_kernel_sum_error(n, 2 * S, in_f16)` (an f16 kernel bound on `2 * S` also covers
/// the reference's `f32` error on `S`).
pub fn assert_f16_within_f32_reference(
    what: &str,
    got: &[f32],
    f32_ref: &[f32],
    mag: &[f64],
    n: usize,
    act: (f32, f32),
    in_f16: bool,
) {
    let y: Vec<f64> = f32_ref.iter().map(|&v| v as f64).collect();
    let mag2: Vec<f64> = mag.iter().map(|&m| 2.0 * m).collect();
    assert_f16_within(what, got, &y, &mag2, n, act, in_f16);
}

/// Checks an `f32` output against the exact result: `|got - exact| <= f32_sum_error`.
pub fn assert_f32_within(
    what: &str,
    got: &[f32],
    exact: &[f64],
    mag: &[f64],
    n: usize,
    act: (f32, f32),
) {
    for (i, ((&g, &y), &s)) in got.iter().zip(exact).zip(mag).enumerate() {
        let y = y.max(act.0 as f64).min(act.1 as f64);
        let tol = f32_sum_error(n, s) + 1e-30;
        assert!(
            (g as f64 - y).abs() <= tol,
            "{what}: element {i}: f32 gives {g}, exact {y} (tolerance {tol})"
        );
    }
}

/// Panics unless `r` is a [`Error::BufferLength`] naming `what`.
pub fn expect_buffer_length(r: Result<(), Error>, what: &str) {
    match r {
        Err(Error::BufferLength { what: w, .. }) if w == what => {}
        other => panic!("expected a BufferLength error for {what}, got {other:?}"),
    }
}

/// The padding a property sweep draws: `kind` 0 = SAME, 1 = VALID, otherwise explicit
/// `(top, bottom, left, right)`.
pub fn sweep_padding(kind: usize, top: usize, bottom: usize, left: usize, right: usize) -> Padding {
    match kind {
        0 => Padding::Same,
        1 => Padding::Valid,
        _ => Padding::Explicit {
            top,
            bottom,
            left,
            right,
        },
    }
}

/// The fused activation a property sweep draws from `0..3`.
pub fn sweep_activation(i: usize) -> FusedActivation {
    [
        FusedActivation::None,
        FusedActivation::Relu,
        FusedActivation::Relu6,
    ][i]
}

/// Requantization parameters with a given multiplier table, offsets 0 and no clamp, for tests
/// that exercise argument checks rather than arithmetic.
pub fn plain_quant(multipliers: &'static [i32], shifts: &'static [i32]) -> ChannelQuantS8<'static> {
    ChannelQuantS8 {
        input_offset: 0,
        output_offset: 0,
        multipliers,
        shifts,
        act_min: -128,
        act_max: 127,
    }
}

/// Checks that an int8 kernel (`call(input, filter, bias, output)`) rejects, one at a time, an
/// input, filter and output one element short and a bias of the wrong length, each with a
/// [`Error::BufferLength`] naming it (`names`: input, filter, bias, output), and accepts the
/// right lengths (zero-filled tensors, no bias).
pub fn check_s8_lengths(
    names: [&str; 4],
    lens: [usize; 4],
    mut call: impl FnMut(&[i8], &[i8], Option<&[i32]>, &mut [i8]) -> Result<(), Error>,
) {
    let [x_len, f_len, b_len, y_len] = lens;
    let (x, f, b) = (vec![0i8; x_len], vec![0i8; f_len], vec![0i32; b_len + 1]);
    let mut y = vec![0i8; y_len];
    expect_buffer_length(call(&x[1..], &f, None, &mut y), names[0]);
    expect_buffer_length(call(&x, &f[1..], None, &mut y), names[1]);
    expect_buffer_length(call(&x, &f, Some(&b), &mut y), names[2]);
    expect_buffer_length(call(&x, &f, None, &mut y[1..]), names[3]);
    assert_eq!(call(&x, &f, Some(&b[..b_len]), &mut y), Ok(()));
}
