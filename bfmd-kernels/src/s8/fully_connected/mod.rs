//! int8 fully connected layer (TFLite `FULLY_CONNECTED`), per-tensor or per-channel weights.
//!
//! Bit-exact with TFLM's `reference_integer_ops::FullyConnected` (per-tensor) and
//! `FullyConnectedPerChannel`
//! (`tensorflow/lite/kernels/internal/reference/integer_ops/fully_connected.h`):
//! `acc = sum_i w[o, i] * (x[b, i] + input_offset) + bias[o]`, requantized like the
//! convolution ([`ChannelQuantS8::requantize`]). Weights are symmetric (zero point 0, as TFLM
//! requires for int8: `fully_connected_common.cc` checks `filter->params.zero_point == 0`).

use crate::error::{check_len, check_min_len, Error, Result};
use crate::quant::FusedActivation;
use crate::reference::fully_connected::{check_fc_shapes, FullyConnectedGeometry};
pub use crate::s8::conv::ChannelQuantS8;
use crate::s8::conv::{check_filter_scale, check_scale};

#[cfg(bfmd_dsp)]
pub(crate) mod dsp;
#[cfg(bfmd_neon)]
mod neon;
pub mod portable;

/// The path [`fully_connected_s8`] runs on this build: `"dsp"` on cores with the Arm DSP
/// extension (rows of a multiple of 4 elements on 4-byte aligned weights; others run the
/// portable loop) but without Helium, `"portable-mve"` on cores with Helium (Cortex-M55/M85),
/// where the compiler's auto-vectorized portable loop beats the DSP loop (3,084 against 4,427
/// instructions for 256 -> 10 on the emulated M55), `"portable"` elsewhere or with the
/// `force-portable` feature.
/// On aarch64 with NEON (unless `force-portable`) the dispatcher runs the NEON tiles of the
/// convolution: `"neon-dotprod"` with the dot-product extension, `"neon"` otherwise.
pub const PATH: &str = if cfg!(bfmd_mve) {
    "portable-mve"
} else if cfg!(bfmd_dsp) {
    "dsp"
} else if cfg!(bfmd_neon) {
    if cfg!(target_feature = "dotprod") {
        "neon-dotprod"
    } else {
        "neon"
    }
} else {
    "portable"
};

/// Parameters of [`fully_connected_s8`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FullyConnectedS8Params<'a> {
    /// Dimensions.
    pub geometry: FullyConnectedGeometry,
    /// Requantization and clamp; one multiplier (per-tensor weights) or `out_features`.
    pub quant: ChannelQuantS8<'a>,
}

impl<'a> FullyConnectedS8Params<'a> {
    /// Parameters from real scales, exactly as TFLM's `CalculateOpDataFullyConnected`
    /// (`tensorflow/lite/micro/kernels/fully_connected_common.cc`) computes them:
    ///
    /// * per-tensor weights (`weight_scales.len() == 1`): `GetQuantizedConvolutionMultipler`
    ///   (`kernel_util.cc`) multiplies the scales in **`f32`** first:
    ///   `(double)(input_scale * weight_scale) / (double)output_scale`;
    /// * per-channel weights (`weight_scales.len() == out_features`): per channel,
    ///   `(double)input_scale * (double)weight_scale / (double)output_scale`.
    ///
    /// The two formulas can differ in the last bit of the multiplier, which is why both are
    /// kept. `multipliers` and `shifts` have `weight_scales.len()` entries. TFLM also checks
    /// that the bias scale is close to `input_scale * weight_scale`; bfmd's importer does that.
    ///
    /// # Errors
    /// Those of [`ChannelQuantS8::from_scales`], and [`crate::Error::BufferLength`] when
    /// `weight_scales` has neither 1 nor `out_features` entries.
    #[allow(clippy::too_many_arguments)]
    pub fn from_scales(
        geometry: FullyConnectedGeometry,
        input_scale: f32,
        input_zero_point: i32,
        weight_scales: &[f32],
        output_scale: f32,
        output_zero_point: i32,
        activation: FusedActivation,
        multipliers: &'a mut [i32],
        shifts: &'a mut [i32],
    ) -> Result<Self> {
        check_scale("input scale", input_scale)?;
        for &s in weight_scales {
            check_filter_scale(s)?;
        }
        let per_tensor = weight_scales.len() == 1;
        let quant = ChannelQuantS8::from_real_multipliers(
            input_zero_point,
            weight_scales.len(),
            output_scale,
            output_zero_point,
            activation,
            multipliers,
            shifts,
            |i| {
                Ok(if per_tensor {
                    (input_scale * weight_scales[0]) as f64 / output_scale as f64
                } else {
                    input_scale as f64 * weight_scales[i] as f64 / output_scale as f64
                })
            },
        )?;
        quant.validate(geometry.out_features)?;
        Ok(FullyConnectedS8Params { geometry, quant })
    }
}

/// Inputs the DSP loop widens per chunk (`2 * XCHUNK` bytes of scratch).
pub(crate) const XCHUNK: usize = 1024;

/// Outputs the DSP loop accumulates together when a row needs several chunks.
pub(crate) const GROUP: usize = 64;

/// Scratch bytes of the DSP loop for rows of `k` inputs: the widened inputs (`2 * k` bytes, in
/// chunks of at most [`XCHUNK`]) and, for longer rows, [`GROUP`] accumulators. Also what the
/// DSP convolution needs per pixel of a pointwise layer too long for its own loop.
pub(crate) const fn rows_scratch_len_dsp(k: usize) -> usize {
    let k8 = k & !7;
    if k8 <= XCHUNK {
        2 * k8 + crate::path::ALIGN_SLACK
    } else {
        2 * XCHUNK + 4 * GROUP + crate::path::ALIGN_SLACK
    }
}

/// Scratch bytes of [`fully_connected_s8`] and [`fully_connected_s8_wide`] on the portable,
/// NEON and Helium paths: none.
pub const fn fully_connected_s8_scratch_len_portable(_geometry: &FullyConnectedGeometry) -> usize {
    0
}

/// Scratch bytes of [`fully_connected_s8`] and [`fully_connected_s8_wide`] on the DSP path:
/// one input row widened to int16 pairs (in chunks of 1,024 inputs, with 64 accumulators for
/// longer rows).
pub const fn fully_connected_s8_scratch_len_dsp(geometry: &FullyConnectedGeometry) -> usize {
    rows_scratch_len_dsp(geometry.in_features)
}

/// Scratch bytes of [`fully_connected_s8`] and [`fully_connected_s8_wide`] on `path` (Helium
/// cores run the portable loops).
pub const fn fully_connected_s8_scratch_len_for(
    path: crate::KernelPath,
    geometry: &FullyConnectedGeometry,
) -> usize {
    match path {
        crate::KernelPath::Dsp => fully_connected_s8_scratch_len_dsp(geometry),
        _ => fully_connected_s8_scratch_len_portable(geometry),
    }
}

/// Number of scratch bytes [`fully_connected_s8`] needs on this build's path
/// ([`crate::KernelPath::HOST`]).
pub const fn fully_connected_s8_scratch_len(geometry: &FullyConnectedGeometry) -> usize {
    fully_connected_s8_scratch_len_for(crate::KernelPath::HOST, geometry)
}

/// Inputs the portable packed loop widens to int16 per chunk.
pub(crate) const WIDE_CHUNK: usize = 512;

/// Scratch bytes of [`fully_connected_s8_wide`] on the portable path (also the NEON and Helium
/// builds'): one chunk of the input row (at most 512 inputs) widened to int16.
pub const fn fully_connected_s8_wide_scratch_len_portable(
    geometry: &FullyConnectedGeometry,
) -> usize {
    let k = if geometry.in_features < WIDE_CHUNK {
        geometry.in_features
    } else {
        WIDE_CHUNK
    };
    2 * k + crate::path::ALIGN_SLACK
}

/// Scratch bytes of [`fully_connected_s8_wide`] on the DSP path: those of
/// [`fully_connected_s8_scratch_len_dsp`] (the same loop on packed rows).
pub const fn fully_connected_s8_wide_scratch_len_dsp(geometry: &FullyConnectedGeometry) -> usize {
    fully_connected_s8_scratch_len_dsp(geometry)
}

/// Scratch bytes of [`fully_connected_s8_wide`] on `path`.
pub const fn fully_connected_s8_wide_scratch_len_for(
    path: crate::KernelPath,
    geometry: &FullyConnectedGeometry,
) -> usize {
    match path {
        crate::KernelPath::Dsp => fully_connected_s8_wide_scratch_len_dsp(geometry),
        _ => fully_connected_s8_wide_scratch_len_portable(geometry),
    }
}

/// Number of scratch bytes [`fully_connected_s8_wide`] needs on this build's path
/// ([`crate::KernelPath::HOST`]).
pub const fn fully_connected_s8_wide_scratch_len(geometry: &FullyConnectedGeometry) -> usize {
    fully_connected_s8_wide_scratch_len_for(crate::KernelPath::HOST, geometry)
}

/// Checks every argument of an int8 fully connected layer (the scratch against the portable
/// loop's need; the DSP dispatcher checks its own).
pub(crate) fn check_fully_connected_s8(
    p: &FullyConnectedS8Params,
    input_len: usize,
    weights_len: usize,
    bias: Option<&[i32]>,
    output_len: usize,
    scratch_len: usize,
) -> Result<()> {
    check_fc_shapes(
        &p.geometry,
        input_len,
        weights_len,
        bias.map(|b| b.len()),
        output_len,
    )?;
    p.quant.validate(p.geometry.out_features)?;
    check_min_len(
        "scratch",
        fully_connected_s8_scratch_len_portable(&p.geometry),
        scratch_len,
    )
}

/// int8 fully connected layer, TFLite semantics.
///
/// * `input`: int8 `[batch, in_features]`;
/// * `weights`: int8 `[out_features, in_features]`, symmetric, per-tensor or per-channel
///   scale;
/// * `bias`: int32 `[out_features]` (scale `input_scale * weight_scale[o]`) or `None`;
/// * `output`: int8 `[batch, out_features]`;
/// * `scratch`: at least [`fully_connected_s8_scratch_len`] bytes (this build's path; 0 on
///   the portable one), any alignment.
///
/// # Errors
/// [`crate::Error::BufferLength`] for a buffer of the wrong length (or a `multipliers` slice
/// with neither 1 nor `out_features` entries), [`crate::Error::BadParam`] for quantization
/// parameters out of range.
pub fn fully_connected_s8(
    p: &FullyConnectedS8Params,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) -> Result<()> {
    #[cfg(bfmd_dsp)]
    {
        check_fully_connected_s8(
            p,
            input.len(),
            weights.len(),
            bias,
            output.len(),
            scratch.len(),
        )?;
        check_min_len(
            "scratch",
            fully_connected_s8_scratch_len(&p.geometry),
            scratch.len(),
        )?;
        // With Helium the compiler's vectorized portable loop is faster (see [`PATH`]).
        if !cfg!(bfmd_mve) && dsp::rows_supported(p.geometry.in_features, weights) {
            dsp::fully_connected_loop(p, input, weights, bias, output, scratch);
            return Ok(());
        }
    }
    #[cfg(bfmd_neon)]
    return neon::fully_connected_s8(p, input, weights, bias, output, scratch);
    #[allow(unreachable_code)]
    portable::fully_connected_s8(p, input, weights, bias, output, scratch)
}

/// The path [`fully_connected_s8_wide`] runs on this build: `"dsp"` on cores with the DSP
/// extension but without Helium, `"portable"` elsewhere (Helium cores, aarch64, hosts, or the
/// `force-portable` feature).
pub const WIDE_PATH: &str = if cfg!(bfmd_dsp) && !cfg!(bfmd_mve) {
    "dsp"
} else {
    "portable"
};

/// Number of `i32` words of weights packed by [`pack_fully_connected_s8_wide`]: two int16
/// weights per word, `out_features * in_features / 2`.
pub const fn fully_connected_s8_wide_len(geometry: &FullyConnectedGeometry) -> usize {
    geometry.out_features * geometry.in_features / 2
}

/// The row length rule of the packed layout: a multiple of 4 elements.
fn check_wide_features(geometry: &FullyConnectedGeometry) -> Result<()> {
    if geometry.in_features % 4 == 0 {
        Ok(())
    } else {
        Err(Error::BadParam {
            what: "in features of packed weights (must be a multiple of 4)",
            value: geometry.in_features as i64,
        })
    }
}

/// Packs int8 weights `[out_features, in_features]` (`in_features` a multiple of 4) into the
/// layout of [`fully_connected_s8_wide`]: the same row-major matrix with each weight
/// sign-extended to int16, two per word, low lane first (`w[2i] | w[2i + 1] << 16`). Each
/// `SMLAD` of the DSP loop takes such a word as it is loaded, where int8 weights need two
/// `SXTB16` per four; portable loops read the lanes as a plain int16 matrix. The packed
/// weights take twice the flash of the int8 ones; done once, by the importer.
///
/// # Errors
/// [`Error::BadParam`] when `in_features` is not a multiple of 4, [`Error::BufferLength`]
/// when `weights` or `packed` does not match the geometry.
pub fn pack_fully_connected_s8_wide(
    geometry: &FullyConnectedGeometry,
    weights: &[i8],
    packed: &mut [i32],
) -> Result<()> {
    check_wide_features(geometry)?;
    check_len("weights", geometry.weights_len(), weights.len())?;
    check_len(
        "packed weights",
        fully_connected_s8_wide_len(geometry),
        packed.len(),
    )?;
    for (w, p) in weights.chunks_exact(2).zip(packed.iter_mut()) {
        *p = ((w[0] as i32) & 0xffff) | ((w[1] as i32) << 16);
    }
    Ok(())
}

/// Whether every int16 lane of `packed` holds an int8 value (`-128..=127`), as
/// [`pack_fully_connected_s8_wide`] writes it: what [`fully_connected_s8_wide`] assumes of its
/// weights. Model loaders run it once on weights they did not pack themselves.
pub fn fully_connected_s8_wide_valid(packed: &[i32]) -> bool {
    let ok = |v: i32| (-128..=127).contains(&v);
    packed.iter().all(|&w| ok(w as i16 as i32) && ok(w >> 16))
}

/// Checks every argument of [`fully_connected_s8_wide`].
pub(crate) fn check_fully_connected_s8_wide(
    p: &FullyConnectedS8Params,
    input_len: usize,
    packed_len: usize,
    bias: Option<&[i32]>,
    output_len: usize,
    scratch_len: usize,
) -> Result<()> {
    check_wide_features(&p.geometry)?;
    check_len(
        "packed weights",
        fully_connected_s8_wide_len(&p.geometry),
        packed_len,
    )?;
    check_fully_connected_s8(
        p,
        input_len,
        p.geometry.weights_len(),
        bias,
        output_len,
        scratch_len,
    )
}

/// int8 fully connected layer on weights packed by [`pack_fully_connected_s8_wide`]: the same
/// result as [`fully_connected_s8`] on the unpacked weights, bit for bit, in fewer
/// instructions (no widening of the weights on DSP cores: 0.81 instead of 1.19 instructions per
/// MAC in the dot product, 3,574 instead of 4,466 for 256 -> 10 on the Cortex-M7; on Helium
/// cores a vectorized int16 dot product, 2,810 instead of 3,083), for twice the weights'
/// flash. The importer packs the small layers (`BuildOptions::wide_fc_weights` in
/// `bfmd-graph`).
///
/// * `input`: int8 `[batch, in_features]`, `in_features` a multiple of 4;
/// * `weights`: [`fully_connected_s8_wide_len`] packed words whose lanes hold int8 values
///   (other lanes give wrong, though memory-safe, results: check foreign weights once with
///   [`fully_connected_s8_wide_valid`]);
/// * `bias`, `output`: as for [`fully_connected_s8`];
/// * `scratch`: at least [`fully_connected_s8_wide_scratch_len`] bytes, any alignment.
///
/// # Errors
/// Those of [`fully_connected_s8`], and [`Error::BadParam`] when `in_features` is not a
/// multiple of 4.
pub fn fully_connected_s8_wide(
    p: &FullyConnectedS8Params,
    input: &[i8],
    weights: &[i32],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) -> Result<()> {
    #[cfg(bfmd_dsp)]
    if !cfg!(bfmd_mve) {
        check_fully_connected_s8_wide(
            p,
            input.len(),
            weights.len(),
            bias,
            output.len(),
            scratch.len(),
        )?;
        check_min_len(
            "scratch",
            fully_connected_s8_wide_scratch_len(&p.geometry),
            scratch.len(),
        )?;
        dsp::fully_connected_wide_loop(p, input, weights, bias, output, scratch);
        return Ok(());
    }
    portable::fully_connected_s8_wide(p, input, weights, bias, output, scratch)
}
