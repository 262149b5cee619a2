//! Test battery of the fully connected family (`fully_connected_f32`, `fully_connected_s8`,
//! `fully_connected_f16`), run against the dispatchers and `portable::`.
//!
//! int8 is compared bit for bit with a literal transcription of TFLM's
//! `reference_integer_ops::FullyConnected` / `FullyConnectedPerChannel` and with the
//! real-valued result within the analytic requantization bound; f32 and f16 against an `f64`
//! evaluation within the bounds derived in `conv_oracle`.

mod common;
mod conv_oracle;

use bfmd_kernels::f16::fully_connected as f16fc;
use bfmd_kernels::half::f16;
use bfmd_kernels::quant::{
    activation_range_f32, multiply_by_quantized_multiplier, quantize_multiplier, FusedActivation,
};
use bfmd_kernels::reference::fully_connected::{
    fully_connected_f32, FullyConnectedF32Params, FullyConnectedGeometry,
};
use bfmd_kernels::s8::fully_connected::{
    self as s8fc, fully_connected_s8, portable, ChannelQuantS8, FullyConnectedS8Params,
};
use bfmd_kernels::Error;
use common::{assert_bit_exact, dequantize, from_f16, to_f16, Rng};
use conv_oracle::{
    assert_f16_within, assert_f16_within_f32_reference, assert_f32_within,
    assert_within_quant_bound, assert_within_quant_bound_of_f32, check_s8_lengths, plain_quant,
    real_clamp, sweep_activation,
};
use proptest::prelude::*;

/// TFLM's int8 fully connected loops, transcribed: `FullyConnected` when one multiplier is
/// given, `FullyConnectedPerChannel` otherwise (the loops differ only in that index).
fn fc_s8_oracle(
    g: &FullyConnectedGeometry,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    q: &ChannelQuantS8,
) -> Vec<i8> {
    let (batches, depth, out_depth) = (g.batch, g.in_features, g.out_features);
    let mut out = vec![0i8; batches * out_depth];
    for b in 0..batches {
        for out_c in 0..out_depth {
            let mut acc: i32 = 0;
            for d in 0..depth {
                let input_val = input[b * depth + d] as i32;
                let filter_val = weights[out_c * depth + d] as i32;
                acc += filter_val * (input_val + q.input_offset);
            }
            if let Some(bias) = bias {
                acc += bias[out_c];
            }
            let i = if q.multipliers.len() == 1 { 0 } else { out_c };
            acc = multiply_by_quantized_multiplier(acc, q.multipliers[i], q.shifts[i]);
            acc += q.output_offset;
            acc = acc.max(q.act_min).min(q.act_max);
            out[out_c + out_depth * b] = acc as i8;
        }
    }
    out
}

/// The exact (f64) fully connected result and its magnitude `sum |x w| + |b|`.
fn fc_f64(
    g: &FullyConnectedGeometry,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
) -> (Vec<f64>, Vec<f64>) {
    let mut val = Vec::new();
    let mut mag = Vec::new();
    for b in 0..g.batch {
        for o in 0..g.out_features {
            let (mut acc, mut abs) = (0f64, 0f64);
            for i in 0..g.in_features {
                let p = x[b * g.in_features + i] as f64 * w[o * g.in_features + i] as f64;
                acc += p;
                abs += p.abs();
            }
            if let Some(bias) = bias {
                acc += bias[o] as f64;
                abs += (bias[o] as f64).abs();
            }
            val.push(acc);
            mag.push(abs);
        }
    }
    (val, mag)
}

fn run_case(
    name: &str,
    g: FullyConnectedGeometry,
    per_channel: bool,
    with_bias: bool,
    act: FusedActivation,
    seed: u64,
) {
    let mut rng = Rng::new(seed);
    let (k, n) = (g.in_features, g.out_features);
    let input = rng.vec_i8(g.input_len());
    let weights = rng.vec_i8_in(g.weights_len(), -127, 127);
    let in_scale = rng.f32(0.01, 0.05);
    let in_zp = rng.range_i64(-30, 30) as i32;
    let scales: Vec<f32> = (0..if per_channel { n } else { 1 })
        .map(|_| rng.f32(0.002, 0.02))
        .collect();
    let scale = |o: usize| if per_channel { scales[o] } else { scales[0] };
    let bound = 64 * k as i32;
    let bias = with_bias.then(|| rng.vec_i32(n, -bound, bound));
    let x_real = dequantize(&input, in_scale, in_zp);
    let w_real: Vec<f32> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| w as f32 * scale(i / k.max(1)))
        .collect();
    let b_real: Option<Vec<f32>> = bias.as_ref().map(|b| {
        b.iter()
            .enumerate()
            .map(|(o, &v)| v as f32 * in_scale * scale(o))
            .collect()
    });
    let (real, mag) = fc_f64(&g, &x_real, &w_real, b_real.as_deref());
    let max = real.iter().fold(0f64, |m, v| m.max(v.abs()));
    let out_scale = (max / 110.0).max(1e-3) as f32;
    let out_zp = rng.range_i64(-30, 30) as i32;

    let (mut m, mut s) = (vec![0; scales.len()], vec![0; scales.len()]);
    let p = FullyConnectedS8Params::from_scales(
        g, in_scale, in_zp, &scales, out_scale, out_zp, act, &mut m, &mut s,
    )
    .unwrap();
    let bias_s = bias.as_deref();
    let want = fc_s8_oracle(&g, &input, &weights, bias_s, &p.quant);
    let mut out = vec![0i8; g.output_len()];
    fully_connected_s8(&p, &input, &weights, bias_s, &mut out, &mut []).unwrap();
    assert_bit_exact(&format!("{name}: fully_connected_s8"), &out, &want);
    let mut out2 = vec![0i8; g.output_len()];
    portable::fully_connected_s8(&p, &input, &weights, bias_s, &mut out2, &mut []).unwrap();
    assert_bit_exact(
        &format!("{name}: portable::fully_connected_s8"),
        &out2,
        &want,
    );
    check_wide(name, &p, &input, &weights, bias_s, &want);
    let act_q = (p.quant.act_min, p.quant.act_max);
    let what = format!("{name}: int8 vs real");
    assert_within_quant_bound(&what, &out, &real, &mag, k, out_scale, out_zp, act_q);
    let (lo, hi) = real_clamp(out_scale, out_zp, act_q);
    let pq = FullyConnectedF32Params {
        geometry: g,
        act_min: lo,
        act_max: hi,
    };
    let mut ref_q = vec![0f32; g.output_len()];
    fully_connected_f32(&pq, &x_real, &w_real, b_real.as_deref(), &mut ref_q).unwrap();
    let what = format!("{name}: int8 vs f32 reference");
    assert_within_quant_bound_of_f32(&what, &out, &ref_q, &mag, k, out_scale, out_zp, act_q);

    let pf = FullyConnectedF32Params::new(g, act);
    let act_f = activation_range_f32(act);
    let mut out_f = vec![0f32; g.output_len()];
    fully_connected_f32(&pf, &x_real, &w_real, b_real.as_deref(), &mut out_f).unwrap();
    assert_f32_within(&format!("{name}: f32"), &out_f, &real, &mag, k, act_f);

    let x16 = to_f16(&x_real);
    let w16 = to_f16(&w_real);
    let (real16, mag16) = fc_f64(&g, &from_f16(&x16), &from_f16(&w16), b_real.as_deref());
    let mut out_h = vec![f16::ZERO; g.output_len()];
    f16fc::fully_connected_f16(&pf, &x16, &w16, b_real.as_deref(), &mut out_h, &mut []).unwrap();
    let mut ref16 = vec![0f32; g.output_len()];
    let (x16f, w16f) = (from_f16(&x16), from_f16(&w16));
    fully_connected_f32(&pf, &x16f, &w16f, b_real.as_deref(), &mut ref16).unwrap();
    let what = format!("{name}: f16 vs f32 reference");
    let in_f16 = f16fc::ACCUMULATES_IN_F16;
    let h = from_f16(&out_h);
    assert_f16_within_f32_reference(&what, &h, &ref16, &mag16, k, act_f, in_f16);
    assert_f16_within(
        &format!("{name}: f16"),
        &h,
        &real16,
        &mag16,
        k,
        act_f,
        in_f16,
    );
    // The portable loop, which the dispatcher equals when it runs it, accumulates in f32.
    let mut out_p = vec![f16::ZERO; g.output_len()];
    f16fc::portable::fully_connected_f16(&pf, &x16, &w16, b_real.as_deref(), &mut out_p, &mut [])
        .unwrap();
    if f16fc::PATH == "portable" {
        assert_eq!(out_h, out_p, "{name}: f16 dispatcher vs portable");
    }
    let p16 = from_f16(&out_p);
    assert_f16_within(
        &format!("{name}: portable f16"),
        &p16,
        &real16,
        &mag16,
        k,
        act_f,
        false,
    );
}

/// The packed-weight layer (dispatcher and portable loop) against the oracle's output `want`,
/// when the row length allows packing; otherwise the packer must refuse it.
fn check_wide(
    name: &str,
    p: &FullyConnectedS8Params,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    want: &[i8],
) {
    let g = p.geometry;
    let mut packed = vec![0i32; s8fc::fully_connected_s8_wide_len(&g)];
    let r = s8fc::pack_fully_connected_s8_wide(&g, weights, &mut packed);
    if g.in_features % 4 != 0 {
        assert!(
            matches!(r, Err(Error::BadParam { .. })),
            "{name}: packing {} features gave {r:?}",
            g.in_features
        );
        return;
    }
    r.unwrap();
    assert!(s8fc::fully_connected_s8_wide_valid(&packed), "{name}");
    let mut out = vec![0i8; g.output_len()];
    let mut scratch = vec![0u8; s8fc::fully_connected_s8_wide_scratch_len(&g)];
    s8fc::fully_connected_s8_wide(p, input, &packed, bias, &mut out, &mut scratch).unwrap();
    assert_bit_exact(&format!("{name}: fully_connected_s8_wide"), &out, want);
    let mut out2 = vec![0i8; g.output_len()];
    let mut scratch = vec![0u8; s8fc::fully_connected_s8_wide_scratch_len_portable(&g)];
    portable::fully_connected_s8_wide(p, input, &packed, bias, &mut out2, &mut scratch).unwrap();
    assert_bit_exact(
        &format!("{name}: portable::fully_connected_s8_wide"),
        &out2,
        want,
    );
}

/// The packed layout, element by element: two int16 lanes per word, low lane first.
#[test]
fn wide_packing_layout() {
    let g = FullyConnectedGeometry::new(1, 8, 1);
    let w = [1i8, -2, 3, -128, 127, 0, -1, 5];
    let mut packed = [0i32; 4];
    s8fc::pack_fully_connected_s8_wide(&g, &w, &mut packed).unwrap();
    let word = |lo: i32, hi: i32| (lo & 0xffff) | (hi << 16);
    assert_eq!(
        packed,
        [word(1, -2), word(3, -128), word(127, 0), word(-1, 5)]
    );
    assert!(s8fc::fully_connected_s8_wide_valid(&packed));
    assert!(!s8fc::fully_connected_s8_wide_valid(&[word(128, 0)]));
    assert!(!s8fc::fully_connected_s8_wide_valid(&[word(0, -129)]));
    let mut short = [0i32; 3];
    assert!(matches!(
        s8fc::pack_fully_connected_s8_wide(&g, &w, &mut short),
        Err(Error::BufferLength { .. })
    ));
    let p = FullyConnectedS8Params {
        geometry: g,
        quant: plain_quant(&[1 << 30], &[0]),
    };
    let mut out = [0i8; 1];
    assert!(matches!(
        s8fc::fully_connected_s8_wide(&p, &[0; 8], &packed[..3], None, &mut out, &mut []),
        Err(Error::BufferLength { .. })
    ));
    let odd = FullyConnectedS8Params {
        geometry: FullyConnectedGeometry::new(1, 6, 1),
        ..p
    };
    assert!(matches!(
        s8fc::fully_connected_s8_wide(&odd, &[0; 6], &packed[..3], None, &mut out, &mut []),
        Err(Error::BadParam { .. })
    ));
}

#[test]
fn battery() {
    let none = FusedActivation::None;
    let cases = [
        (
            "per_channel_odd",
            FullyConnectedGeometry::new(1, 7, 5),
            true,
            true,
            none,
        ),
        (
            "per_tensor_odd",
            FullyConnectedGeometry::new(1, 7, 5),
            false,
            true,
            none,
        ),
        (
            "batch_2",
            FullyConnectedGeometry::new(2, 33, 10),
            true,
            true,
            none,
        ),
        (
            "batch_3_per_tensor",
            FullyConnectedGeometry::new(3, 64, 9),
            false,
            true,
            none,
        ),
        (
            "null_bias",
            FullyConnectedGeometry::new(2, 17, 6),
            true,
            false,
            none,
        ),
        (
            "relu",
            FullyConnectedGeometry::new(1, 50, 12),
            true,
            true,
            FusedActivation::Relu,
        ),
        (
            "relu6",
            FullyConnectedGeometry::new(2, 50, 12),
            false,
            true,
            FusedActivation::Relu6,
        ),
        (
            "classifier_1024_to_10",
            FullyConnectedGeometry::new(1, 1024, 10),
            true,
            true,
            none,
        ),
        (
            "single_feature",
            FullyConnectedGeometry::new(2, 1, 3),
            true,
            true,
            none,
        ),
        (
            "single_output",
            FullyConnectedGeometry::new(1, 9, 1),
            false,
            false,
            none,
        ),
        (
            "row_tail_of_4",
            FullyConnectedGeometry::new(2, 12, 7),
            true,
            true,
            none,
        ),
        (
            "long_rows_2052_to_3",
            FullyConnectedGeometry::new(1, 2052, 3),
            true,
            true,
            none,
        ),
        (
            "many_outputs_520_to_35",
            FullyConnectedGeometry::new(2, 520, 35),
            false,
            true,
            none,
        ),
    ];
    for (i, &(name, g, per_channel, bias, act)) in cases.iter().enumerate() {
        run_case(name, g, per_channel, bias, act, 3000 + i as u64);
    }
}

#[test]
fn hand_computed() {
    // x = [1, 2, 3] with zero point -1 (offset +1): [2, 3, 4]. Weights [[1, 0, -1], [2, 2, 2]]:
    // [2 - 4, 4 + 6 + 8] = [-2, 18]; bias [10, -3]: [8, 15]. Scale 0.5 * 1 / 2 = 0.25:
    // [2, 3.75 -> 4]; output zero point 3: [5, 7].
    let g = FullyConnectedGeometry::new(1, 3, 2);
    let (mut m, mut s) = ([0], [0]);
    let p = FullyConnectedS8Params::from_scales(
        g,
        0.5,
        -1,
        &[1.0],
        2.0,
        3,
        FusedActivation::None,
        &mut m,
        &mut s,
    )
    .unwrap();
    let mut out = [0i8; 2];
    fully_connected_s8(
        &p,
        &[1, 2, 3],
        &[1, 0, -1, 2, 2, 2],
        Some(&[10, -3]),
        &mut out,
        &mut [],
    )
    .unwrap();
    assert_eq!(out, [5, 7]);
    let pf = FullyConnectedF32Params::new(g, FusedActivation::None);
    let mut out_f = [0f32; 2];
    fully_connected_f32(
        &pf,
        &[2.0, 3.0, 4.0],
        &[1.0, 0.0, -1.0, 2.0, 2.0, 2.0],
        Some(&[10.0, -3.0]),
        &mut out_f,
    )
    .unwrap();
    assert_eq!(out_f, [8.0, 15.0]);
    assert_eq!(g.macs(), 6);
    assert_eq!(FullyConnectedGeometry::new(2, 1024, 10).macs(), 20480);
}

/// Per-tensor weights: TFLM's FC Prepare multiplies the two scales in `f32` before widening
/// (`GetQuantizedConvolutionMultipler`), per-channel weights widen each scale first; the two
/// usually differ in the low bits of the Q31 multiplier, and bit-exactness needs the right one.
#[test]
fn from_scales_follows_tflm_prepare() {
    let mut rng = Rng::new(77);
    let mut differ = 0;
    for _ in 0..200 {
        let (si, sw, so) = (
            rng.f32(0.001, 0.1),
            rng.f32(0.0001, 0.05),
            rng.f32(0.01, 0.5),
        );
        let g = FullyConnectedGeometry::new(1, 4, 2);
        let (mut m, mut s) = ([0], [0]);
        let p = FullyConnectedS8Params::from_scales(
            g,
            si,
            0,
            &[sw],
            so,
            0,
            FusedActivation::None,
            &mut m,
            &mut s,
        )
        .unwrap();
        let per_tensor = quantize_multiplier((si * sw) as f64 / so as f64);
        assert_eq!((p.quant.multipliers[0], p.quant.shifts[0]), per_tensor);
        let (mut m2, mut s2) = ([0; 2], [0; 2]);
        let p2 = FullyConnectedS8Params::from_scales(
            g,
            si,
            0,
            &[sw, sw],
            so,
            0,
            FusedActivation::None,
            &mut m2,
            &mut s2,
        )
        .unwrap();
        let per_channel = quantize_multiplier(si as f64 * sw as f64 / so as f64);
        assert_eq!((p2.quant.multipliers[1], p2.quant.shifts[1]), per_channel);
        differ += (per_tensor != per_channel) as usize;
    }
    // The distinction is not academic: most random scale triples give different multipliers.
    assert!(differ > 50, "only {differ} of 200 differ");
}

#[test]
fn errors() {
    let g = FullyConnectedGeometry::new(2, 8, 3);
    let quant = plain_quant(&[1 << 30, 1 << 30, 1 << 30], &[0, 0, 0]);
    let p = FullyConnectedS8Params { geometry: g, quant };
    let (x, w) = (vec![0i8; 16], vec![0i8; 24]);
    let mut out = vec![0i8; 6];
    let names = ["input", "weights", "bias", "output"];
    check_s8_lengths(names, [16, 24, 3, 6], |x, w, b, y| {
        fully_connected_s8(&p, x, w, b, y, &mut [])
    });
    let two = FullyConnectedS8Params {
        quant: ChannelQuantS8 {
            multipliers: &[1, 1],
            shifts: &[0, 0],
            ..quant
        },
        ..p
    };
    let err = fully_connected_s8(&two, &x, &w, None, &mut out, &mut []);
    assert!(matches!(err, Err(Error::BufferLength { .. })), "{err:?}");
    let shifted = FullyConnectedS8Params {
        quant: ChannelQuantS8 {
            shifts: &[0, -32, 0],
            ..quant
        },
        ..p
    };
    let err = fully_connected_s8(&shifted, &x, &w, None, &mut out, &mut []);
    assert_eq!(
        err,
        Err(Error::BadParam {
            what: "requantization shift",
            value: -32
        })
    );
    let err = FullyConnectedS8Params::from_scales(
        g,
        0.1,
        0,
        &[0.1, 0.1],
        0.1,
        0,
        FusedActivation::None,
        &mut [0; 2],
        &mut [0; 2],
    )
    .map(|_| ());
    assert!(matches!(err, Err(Error::BufferLength { .. })), "{err:?}");
    let err = FullyConnectedS8Params::from_scales(
        g,
        0.1,
        0,
        &[f32::NAN],
        0.1,
        0,
        FusedActivation::None,
        &mut [0],
        &mut [0],
    )
    .map(|_| ());
    assert!(
        matches!(
            err,
            Err(Error::BadParam {
                what: "filter scale",
                ..
            })
        ),
        "{err:?}"
    );

    let pf = FullyConnectedF32Params::new(g, FusedActivation::None);
    let err = fully_connected_f32(&pf, &[0.0; 16], &[0.0; 24], None, &mut [0.0; 5]);
    assert!(
        matches!(err, Err(Error::BufferLength { what: "output", .. })),
        "{err:?}"
    );
    let nan = FullyConnectedF32Params {
        act_min: f32::NAN,
        ..pf
    };
    let err = fully_connected_f32(&nan, &[0.0; 16], &[0.0; 24], None, &mut [0.0; 6]);
    assert!(matches!(err, Err(Error::BadParam { .. })), "{err:?}");
    let err = f16fc::fully_connected_f16(
        &pf,
        &[f16::ZERO; 15],
        &[f16::ZERO; 24],
        None,
        &mut [f16::ZERO; 6],
        &mut [],
    );
    assert!(
        matches!(err, Err(Error::BufferLength { what: "input", .. })),
        "{err:?}"
    );
    assert_eq!(s8fc::fully_connected_s8_scratch_len(&g), 0);
    assert_eq!(f16fc::fully_connected_f16_scratch_len(&g), 0);
    // The NEON tiles use SDOT when the build enables the dot-product extension.
    let neon = cfg!(bfmd_neon);
    let want = match (neon, cfg!(target_feature = "dotprod")) {
        (false, _) => "portable",
        (true, false) => "neon",
        (true, true) => "neon-dotprod",
    };
    assert_eq!(s8fc::PATH, want);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Random sizes, quantization granularity, bias and activation.
    #[test]
    fn sweep(batch in 1usize..=3, k in 1usize..=80, n in 1usize..=20, per_channel: bool,
             bias: bool, act in 0usize..3, seed: u64) {
        let act = sweep_activation(act);
        run_case("proptest", FullyConnectedGeometry::new(batch, k, n), per_channel, bias, act, seed);
    }
}
