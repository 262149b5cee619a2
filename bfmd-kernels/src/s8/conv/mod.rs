//! int8 convolution (TFLite `CONV_2D`): dense, grouped and pointwise (1x1), NHWC.
//!
//! Bit-exact with TFLM's `reference_integer_ops::ConvPerChannel`
//! (`tensorflow/lite/kernels/internal/reference/integer_ops/conv.h`):
//!
//! ```text
//! acc  = sum over valid taps and the group's input channels of filter * (input + input_offset)
//! acc += bias[o]                                  (when there is a bias)
//! out  = clamp(MultiplyByQuantizedMultiplier(acc, multiplier[o], shift[o]) + output_offset,
//!              act_min, act_max)
//! ```
//!
//! Padded taps are skipped (never read as the zero point), as in TFLM. The 32-bit accumulator
//! wraps on overflow like the C++ it mirrors compiles to; TFLite guarantees no overflow for
//! windows of up to 2^16 taps.
//!
//! Entry points:
//! * [`conv_s8`]: any geometry; picks the pointwise loop for 1x1 / stride 1 / no padding;
//! * [`pointwise_conv_s8_overlapping`]: a 1x1 convolution whose output overlaps its input in
//!   one buffer, for the graph's memory planner;
//! * [`portable`]: the portable loops, callable on every target.
//!
//! The quantization parameters ([`ChannelQuantS8`]) are shared with the int8 depthwise and
//! fully connected kernels.

use crate::error::{check_len, check_min_len, Error, Result};
use crate::quant::{
    activation_range_s8, multiply_by_quantized_multiplier, quantize_multiplier, FusedActivation,
};
use crate::reference::conv::is_pointwise;
use crate::shape::ConvGeometry;

#[cfg(bfmd_dsp)]
pub(crate) mod dsp;
#[cfg(bfmd_neon)]
pub(crate) mod neon;
pub mod portable;

// The loop of `pointwise_conv_s8_overlapping` on this build.
#[cfg(bfmd_neon)]
use neon::overlapping_loop;
#[cfg(not(bfmd_neon))]
use portable::pointwise_overlapping_loop as overlapping_loop;

/// The path [`conv_s8`] runs on this build: `"dsp"` on cores with the Arm DSP extension
/// (windows of up to `dsp::MAX_K` = 512 elements per output channel; larger ones run the
/// portable loop), `"portable"` elsewhere or with the `force-portable` feature.
/// On aarch64 with NEON (unless `force-portable`) the dispatcher runs the NEON tiles:
/// `"neon-dotprod"` when the build enables the dot-product extension (SDOT), `"neon"` otherwise
/// (SMLAL).
pub const PATH: &str = if cfg!(bfmd_dsp) {
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

/// Output requantization of an int8 convolution-like op (convolution, depthwise, fully
/// connected), in TFLite's naming.
///
/// `multipliers` and `shifts` hold either one entry per output channel (per-channel filter
/// quantization) or a single entry applied to every channel (per-tensor). Entry `i` encodes
/// the real multiplier `input_scale * filter_scale[i] / output_scale` as
/// `multipliers[i] * 2^(shifts[i] - 31)` ([`quantize_multiplier`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelQuantS8<'a> {
    /// `-input_zero_point`, in `-127..=128`.
    pub input_offset: i32,
    /// `output_zero_point`, in `-128..=127`.
    pub output_offset: i32,
    /// Q31 significands, one per output channel or one for all.
    pub multipliers: &'a [i32],
    /// Power-of-two exponents matching `multipliers` (positive shifts left), in `-31..=30`.
    pub shifts: &'a [i32],
    /// Lowest output value (fused activation clamp, [`activation_range_s8`]).
    pub act_min: i32,
    /// Highest output value.
    pub act_max: i32,
}

impl<'a> ChannelQuantS8<'a> {
    /// TFLM's Prepare for convolution and depthwise convolution
    /// (`PopulateConvolutionQuantizationParams`, `tensorflow/lite/kernels/kernel_util.cc`):
    /// for each filter scale, `effective = (double)input_scale * (double)filter_scale /
    /// (double)output_scale` then [`quantize_multiplier`]; the clamp range comes from
    /// [`activation_range_s8`].
    ///
    /// `filter_scales` has one entry (per-tensor, broadcast to every channel by the kernel) or
    /// one per output channel; `multipliers` and `shifts` must have the same length and receive
    /// the encoded multipliers, which the returned value borrows.
    ///
    /// # Errors
    /// [`Error::BadParam`] for a non-positive or non-finite input/output scale, a negative or
    /// non-finite filter scale, or a zero point outside `-128..=127`;
    /// [`Error::BufferLength`] when the slices disagree in length or `filter_scales` is empty.
    #[allow(clippy::too_many_arguments)]
    pub fn from_scales(
        input_scale: f32,
        input_zero_point: i32,
        filter_scales: &[f32],
        output_scale: f32,
        output_zero_point: i32,
        activation: FusedActivation,
        multipliers: &'a mut [i32],
        shifts: &'a mut [i32],
    ) -> Result<Self> {
        check_scale("input scale", input_scale)?;
        for &s in filter_scales {
            check_filter_scale(s)?;
        }
        Self::from_real_multipliers(
            input_zero_point,
            filter_scales.len(),
            output_scale,
            output_zero_point,
            activation,
            multipliers,
            shifts,
            |i| Ok(input_scale as f64 * filter_scales[i] as f64 / output_scale as f64),
        )
    }

    /// Fills `multipliers`/`shifts` from `real(i)` for `i in 0..channels` and builds the
    /// parameters; the common tail of every `from_scales`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_real_multipliers(
        input_zero_point: i32,
        channels: usize,
        output_scale: f32,
        output_zero_point: i32,
        activation: FusedActivation,
        multipliers: &'a mut [i32],
        shifts: &'a mut [i32],
        real: impl Fn(usize) -> Result<f64>,
    ) -> Result<Self> {
        if channels == 0 {
            return Err(Error::BufferLength {
                what: "filter scales",
                expected: 1,
                got: 0,
            });
        }
        check_len("multipliers", channels, multipliers.len())?;
        check_len("shifts", channels, shifts.len())?;
        check_scale("output scale", output_scale)?;
        check_zero_point("input zero point", input_zero_point)?;
        check_zero_point("output zero point", output_zero_point)?;
        for (i, (m, s)) in multipliers.iter_mut().zip(shifts.iter_mut()).enumerate() {
            let (mq, sq) = quantize_multiplier(real(i)?);
            *m = mq;
            *s = sq;
        }
        let (act_min, act_max) = activation_range_s8(activation, output_scale, output_zero_point);
        Ok(ChannelQuantS8 {
            input_offset: -input_zero_point,
            output_offset: output_zero_point,
            multipliers,
            shifts,
            act_min,
            act_max,
        })
    }

    /// Checks the parameters against an op with `channels` output channels.
    ///
    /// # Errors
    /// [`Error::BufferLength`] when `multipliers` has neither 1 nor `channels` entries or
    /// `shifts` differs from it in length; [`Error::BadParam`] for an offset, shift or clamp
    /// bound outside the ranges documented on the fields, or `act_min > act_max`.
    pub fn validate(&self, channels: usize) -> Result<()> {
        let n = self.multipliers.len();
        if n != 1 && n != channels {
            return Err(Error::BufferLength {
                what: "multipliers (1 or one per output channel)",
                expected: channels,
                got: n,
            });
        }
        check_len("shifts", n, self.shifts.len())?;
        if !(-127..=128).contains(&self.input_offset) {
            return Err(Error::BadParam {
                what: "input offset",
                value: self.input_offset as i64,
            });
        }
        if !(-128..=127).contains(&self.output_offset) {
            return Err(Error::BadParam {
                what: "output offset",
                value: self.output_offset as i64,
            });
        }
        if let Some(&s) = self.shifts.iter().find(|s| !(-31..=30).contains(*s)) {
            return Err(Error::BadParam {
                what: "requantization shift",
                value: s as i64,
            });
        }
        if !(-128..=127).contains(&self.act_min) || !(-128..=127).contains(&self.act_max) {
            return Err(Error::BadParam {
                what: "activation clamp (outside int8)",
                value: self.act_min as i64,
            });
        }
        if self.act_min > self.act_max {
            return Err(Error::BadParam {
                what: "activation clamp (act_min > act_max)",
                value: self.act_min as i64,
            });
        }
        Ok(())
    }

    /// The index into `multipliers` and `shifts` of output channel `channel`: 0 with
    /// per-tensor quantization (one multiplier for every channel), `channel` otherwise.
    #[inline(always)]
    pub fn index(&self, channel: usize) -> usize {
        if self.multipliers.len() == 1 {
            0
        } else {
            channel
        }
    }

    /// `(multiplier, shift)` of output channel `channel` (see [`ChannelQuantS8::index`]).
    ///
    /// # Panics
    /// When `channel` is out of range for per-channel parameters; callers have run
    /// [`ChannelQuantS8::validate`] for their channel count.
    #[inline(always)]
    pub fn params(&self, channel: usize) -> (i32, i32) {
        let i = self.index(channel);
        (self.multipliers[i], self.shifts[i])
    }

    /// Requantizes the accumulator of output channel `channel` (bias already added) to int8.
    ///
    /// Callers have run [`ChannelQuantS8::validate`], so the index is in range.
    #[inline(always)]
    pub fn requantize(&self, acc: i32, channel: usize) -> i8 {
        let (m, s) = self.params(channel);
        let v = multiply_by_quantized_multiplier(acc, m, s);
        // `acc += output_offset` in TFLM is a plain int32 add; wrapping is what it compiles to.
        v.wrapping_add(self.output_offset)
            .clamp(self.act_min, self.act_max) as i8
    }
}

/// `Err` unless the scale is finite and positive.
pub(crate) fn check_scale(what: &'static str, s: f32) -> Result<()> {
    if s.is_finite() && s > 0.0 {
        Ok(())
    } else {
        Err(Error::BadParam {
            what,
            value: s as i64,
        })
    }
}

/// `Err` unless a filter scale is finite and non-negative (TFLite writes 0 for an all-zero
/// channel, which encodes as a zero multiplier).
pub(crate) fn check_filter_scale(s: f32) -> Result<()> {
    if s.is_finite() && s >= 0.0 {
        Ok(())
    } else {
        Err(Error::BadParam {
            what: "filter scale",
            value: s as i64,
        })
    }
}

fn check_zero_point(what: &'static str, zp: i32) -> Result<()> {
    if (-128..=127).contains(&zp) {
        Ok(())
    } else {
        Err(Error::BadParam {
            what,
            value: zp as i64,
        })
    }
}

/// Parameters of [`conv_s8`]: the window geometry and the output requantization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvS8Params<'a> {
    /// Window geometry; `geometry.output.c` is the number of output channels and
    /// `geometry.groups` the number of groups.
    pub geometry: ConvGeometry,
    /// Requantization and clamp.
    pub quant: ChannelQuantS8<'a>,
}

impl<'a> ConvS8Params<'a> {
    /// Parameters from real scales, exactly as TFLM's `Prepare` computes them (see
    /// [`ChannelQuantS8::from_scales`]). `filter_scales` has 1 entry (per-tensor) or
    /// `geometry.output.c` (per-channel); `multipliers` and `shifts` have as many.
    ///
    /// # Errors
    /// Those of [`ChannelQuantS8::from_scales`], and [`Error::BufferLength`] when
    /// `filter_scales` has neither 1 nor `geometry.output.c` entries.
    #[allow(clippy::too_many_arguments)]
    pub fn from_scales(
        geometry: ConvGeometry,
        input_scale: f32,
        input_zero_point: i32,
        filter_scales: &[f32],
        output_scale: f32,
        output_zero_point: i32,
        activation: FusedActivation,
        multipliers: &'a mut [i32],
        shifts: &'a mut [i32],
    ) -> Result<Self> {
        let quant = ChannelQuantS8::from_scales(
            input_scale,
            input_zero_point,
            filter_scales,
            output_scale,
            output_zero_point,
            activation,
            multipliers,
            shifts,
        )?;
        quant.validate(geometry.output.c)?;
        Ok(ConvS8Params { geometry, quant })
    }
}

/// Number of scratch bytes [`conv_s8`] needs on this build's path: none (the portable loops
/// read the input in place).
pub const fn conv_s8_scratch_len(_geometry: &ConvGeometry) -> usize {
    0
}

/// Number of scratch bytes [`pointwise_conv_s8_overlapping`] needs: one input pixel
/// (`input.c` bytes).
pub const fn pointwise_conv_s8_overlapping_scratch_len(geometry: &ConvGeometry) -> usize {
    geometry.input.c
}

/// Checks every argument of an int8 convolution; returns `(in_c / groups, out_c / groups)`.
pub(crate) fn check_conv_s8(
    p: &ConvS8Params,
    input_len: usize,
    filter_len: usize,
    bias: Option<&[i32]>,
    output_len: usize,
) -> Result<(usize, usize)> {
    let dims = crate::reference::conv::check_conv_shapes(
        &p.geometry,
        input_len,
        filter_len,
        bias.map(|b| b.len()),
        output_len,
    )?;
    p.quant.validate(p.geometry.output.c)?;
    Ok(dims)
}

/// int8 2-D convolution, NHWC, dense or grouped, TFLite semantics (bit-exact with TFLM's
/// `reference_integer_ops::ConvPerChannel`).
///
/// * `input`: int8 `[n, in_h, in_w, in_c]` (`p.geometry.input`);
/// * `filter`: int8 OHWI `[out_c, kernel_h, kernel_w, in_c / groups]`, symmetric (zero point
///   0), per-channel or per-tensor scale; output channel `o` belongs to group
///   `o / (out_c / groups)`;
/// * `bias`: int32 `[out_c]` with scale `input_scale * filter_scale[o]`, or `None`;
/// * `output`: int8 `[n, out_h, out_w, out_c]` (`p.geometry.output`);
/// * `scratch`: at least [`conv_s8_scratch_len`] bytes (0 on the portable path; pass `&mut []`).
///
/// Any kernel size (including 1xN and Nx1), stride, dilation and padding that
/// [`ConvGeometry::validate`] accepts. A 1x1 kernel with stride 1 and no padding runs the
/// pointwise loop ([`portable::pointwise_conv_s8`]), which gives identical results.
/// No over-reads: every access is inside the given slices.
///
/// # Errors
/// [`Error::BufferLength`] for a buffer whose length does not match its shape (or a short
/// scratch), [`Error::BadParam`] for groups that do not divide both channel counts or
/// quantization parameters out of range ([`ChannelQuantS8::validate`]), and whatever
/// [`ConvGeometry::validate`] reports for an inconsistent geometry.
pub fn conv_s8(
    p: &ConvS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) -> Result<()> {
    #[cfg(bfmd_dsp)]
    {
        let (cin_g, cout_g) = check_conv_s8(p, input.len(), filter.len(), bias, output.len())?;
        check_min_len("scratch", conv_s8_scratch_len(&p.geometry), scratch.len())?;
        if dsp::conv_supports(&p.geometry) {
            dsp::conv_loop(p, input, filter, bias, output, cin_g, cout_g);
            return Ok(());
        }
        if dsp::long_supported(&p.geometry, filter) {
            dsp::pointwise_long(p, input, filter, bias, output);
            return Ok(());
        }
    }
    #[cfg(bfmd_neon)]
    return neon::conv_s8(p, input, filter, bias, output, scratch);
    #[allow(unreachable_code)]
    portable::conv_s8(p, input, filter, bias, output, scratch)
}

/// The output offset [`pointwise_conv_s8_overlapping`] accepts with the least extra memory,
/// for an input of `pixels` pixels of `in_c` channels at element offset `in_off`.
///
/// The kernel reads pixel `p` into scratch, then writes output pixel `p`; the writes must never
/// reach an input pixel not read yet. With `k = p + 1` that is
/// `out_off + k * out_c <= in_off + k * in_c` for every `k` in `1..pixels`, so:
/// * `out_c <= in_c`: any `out_off <= in_off + (in_c - out_c)`; this returns `in_off`
///   (output over the input, same start);
/// * `out_c > in_c`: `out_off <= in_off - (pixels - 1) * (out_c - in_c)`; this returns that
///   bound, saturating at 0 (if it saturates the kernel rejects the placement: the input must
///   then be moved up, or the output placed after the input).
///
/// An output placed entirely after the input (`out_off >= in_off + pixels * in_c`) is always
/// accepted too.
pub const fn pointwise_overlap_out_offset(
    in_off: usize,
    pixels: usize,
    in_c: usize,
    out_c: usize,
) -> usize {
    if out_c <= in_c || pixels == 0 {
        in_off
    } else {
        in_off.saturating_sub((pixels - 1).saturating_mul(out_c - in_c))
    }
}

/// `Ok` when output pixel writes never reach an unread input pixel (the condition documented
/// on [`pointwise_overlap_out_offset`]).
pub(crate) fn check_overlap(
    in_off: usize,
    out_off: usize,
    pixels: usize,
    in_c: usize,
    out_c: usize,
) -> Result<()> {
    let in_end = in_off + pixels * in_c;
    let disjoint = out_off >= in_end || out_off + pixels * out_c <= in_off;
    // The condition is linear in k, so checking both ends of 1..pixels covers every k.
    let ok_at = |k: usize| out_off + k * out_c <= in_off + k * in_c;
    if disjoint || pixels <= 1 || (ok_at(1) && ok_at(pixels - 1)) {
        Ok(())
    } else {
        Err(Error::BadParam {
            what: "overlapping output offset (writes would reach unread input; see pointwise_overlap_out_offset)",
            value: out_off as i64,
        })
    }
}

/// int8 pointwise (1x1, stride 1, no padding, groups allowed) convolution whose input and
/// output share one buffer and may overlap.
///
/// The input `[n, h, w, in_c]` is at `buf[in_off..in_off + pixels * in_c]`, the output
/// `[n, h, w, out_c]` is written to `buf[out_off..out_off + pixels * out_c]`
/// (`pixels = n * h * w`). Pixels are processed in order; each pixel's input is copied to
/// `scratch` (at least [`pointwise_conv_s8_overlapping_scratch_len`] bytes) before its output
/// is written, so the result is bit-identical to [`conv_s8`] on separate buffers whenever the
/// placement satisfies the condition of [`pointwise_overlap_out_offset`].
///
/// # Errors
/// Those of [`conv_s8`]; [`Error::Unsupported`] for a geometry that is not pointwise;
/// [`Error::BufferLength`] when either region does not fit in `buf`; [`Error::BadParam`] when
/// `out_off` violates the overlap condition.
#[allow(clippy::too_many_arguments)]
pub fn pointwise_conv_s8_overlapping(
    p: &ConvS8Params,
    buf: &mut [i8],
    in_off: usize,
    out_off: usize,
    filter: &[i8],
    bias: Option<&[i32]>,
    scratch: &mut [u8],
) -> Result<()> {
    let g = &p.geometry;
    let in_len = g.input.len();
    let out_len = g.output.len();
    let (cin_g, cout_g) = check_conv_s8(p, in_len, filter.len(), bias, out_len)?;
    if !is_pointwise(g) {
        return Err(Error::Unsupported(
            "overlapping convolution needs a 1x1 kernel, stride 1 and no padding",
        ));
    }
    check_min_len(
        "buffer (input region)",
        in_off.saturating_add(in_len),
        buf.len(),
    )?;
    check_min_len(
        "buffer (output region)",
        out_off.saturating_add(out_len),
        buf.len(),
    )?;
    check_min_len(
        "scratch",
        pointwise_conv_s8_overlapping_scratch_len(g),
        scratch.len(),
    )?;
    check_overlap(in_off, out_off, g.input.pixels(), g.input.c, g.output.c)?;
    #[cfg(bfmd_dsp)]
    if dsp::overlapping(p, buf, in_off, out_off, filter, bias, cin_g, cout_g) {
        return Ok(());
    }
    overlapping_loop(
        &p.quant,
        buf,
        in_off,
        out_off,
        g.input.pixels(),
        g.input.c,
        g.output.c,
        cin_g,
        cout_g,
        filter,
        bias,
        scratch,
    );
    Ok(())
}
