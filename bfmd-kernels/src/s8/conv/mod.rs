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
/// (windows of up to `MAX_K` = 512 elements per output channel; larger ones run the
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

/// Most window elements (`kernel_h * kernel_w * in_c / groups`, rounded up to a multiple of 8)
/// the DSP loop's widened filter blocks take; longer windows run the fully connected layer's
/// loop (pointwise) or the portable one.
pub(crate) const MAX_K: usize = 512;

/// The one window length that is a multiple of four but not of eight the DSP loop takes on
/// gathered windows: 3x3 taps of three channels (27 elements, every RGB stem) padded to 28
/// rather than 32, which saves an eighth of the stem's products.
pub(crate) const QUAD_WINDOW: usize = 28;

/// Bytes of gathered windows (im2col) per run of the DSP loop (at least one window).
pub(crate) const GATHER_BYTES: usize = 2048;

/// Bytes of widened input pixels per chunk of the DSP pointwise loop; it takes input pixels of
/// up to this many widened bytes.
pub(crate) const XW_BYTES: usize = 6144;

/// Bytes of widened input pixels per chunk of the DSP pointwise loop for group widths up to
/// 256: 36 pixels of 128 channels (vww's 6x6x128 layers) in one chunk, so each block's filter
/// is widened once.
pub(crate) const XW_BYTES_256: usize = 9216;

/// Bytes of input pixels the overlapping DSP loop copies per block (at least one pixel).
pub(crate) const OVERLAP_BLOCK_BYTES: usize = 6144;

/// Bytes of the DSP loop's filter block before its widened filter.
pub(crate) const DOT_HEAD: usize = 160;

/// Bytes of the DSP loop's filter block for windows of `kp` elements: the header, two words
/// per two elements of four filters and the filter's byte length, rounded to 8.
pub(crate) const fn dot_block_bytes(kp: usize) -> usize {
    (DOT_HEAD + 4 * (2 * kp + 1)).next_multiple_of(8)
}

/// Windows of `kp` bytes the DSP loop gathers per run.
pub(crate) const fn gather_run(kp: usize) -> usize {
    let n = GATHER_BYTES / kp;
    if n == 0 {
        1
    } else {
        n
    }
}

/// Pixels of `in_c` channels the DSP pointwise loop widens per chunk.
pub(crate) const fn pointwise_chunk(in_c: usize, cin_g: usize) -> usize {
    (if cin_g <= 256 { XW_BYTES_256 } else { XW_BYTES }) / (2 * in_c)
}

/// Input channels per group (`in_c / groups`).
const fn group_width(g: &ConvGeometry) -> usize {
    g.input.c / if g.groups == 0 { 1 } else { g.groups }
}

/// Scratch bytes of the DSP loop's convolution of `g` (a geometry whose windows have at most
/// [`MAX_K`] elements): its filter block, and either the chunk of widened pixels (pointwise,
/// group widths a multiple of 8) or the gathered windows (not pointwise).
pub(crate) const fn conv_loop_scratch_len(g: &ConvGeometry) -> usize {
    let cin_g = group_width(g);
    let in_c = g.input.c;
    let pixels = g.output.n * g.output.h * g.output.w;
    let in_place = is_pointwise(g) && cin_g % 8 == 0;
    if in_place && 2 * in_c <= XW_BYTES && in_c > 0 {
        let chunk = pointwise_chunk(in_c, cin_g);
        let n = if chunk < pixels { chunk } else { pixels };
        return dot_block_bytes(cin_g) + 2 * n * in_c + crate::path::ALIGN_SLACK;
    }
    let k = g.kernel_h * g.kernel_w * cin_g;
    let kp = if !in_place && k.next_multiple_of(4) == QUAD_WINDOW {
        QUAD_WINDOW
    } else {
        k.next_multiple_of(8)
    };
    let gather = if in_place {
        0
    } else {
        let run = gather_run(kp);
        (if run < pixels { run } else { pixels }) * kp
    };
    dot_block_bytes(kp) + gather + crate::path::ALIGN_SLACK
}

/// Whether the DSP loop's widened filter blocks take `g`: windows of at most [`MAX_K`]
/// elements.
pub(crate) const fn dsp_conv_supports(g: &ConvGeometry) -> bool {
    let cin_g = group_width(g);
    (g.kernel_h * g.kernel_w * cin_g).next_multiple_of(8) <= MAX_K
}

/// Scratch bytes of [`conv_s8`] on the portable and NEON paths: none (the loops read the input
/// in place).
pub const fn conv_s8_scratch_len_portable(_geometry: &ConvGeometry) -> usize {
    0
}

/// Scratch bytes of [`conv_s8`] on the DSP path (and the Helium cores'): the four output
/// channels' widened filters, and the widened input pixels (pointwise) or the gathered
/// windows (im2col) of a run; for pointwise layers with windows too long for those, one input
/// row of the fully connected layer's loop.
pub const fn conv_s8_scratch_len_dsp(g: &ConvGeometry) -> usize {
    if dsp_conv_supports(g) {
        conv_loop_scratch_len(g)
    } else if is_pointwise(g) {
        crate::s8::fully_connected::rows_scratch_len_dsp(g.input.c)
    } else {
        0
    }
}

/// Scratch bytes of [`conv_s8`] on the Helium cores: the DSP path's, except that pointwise
/// layers with windows too long for its filter blocks run the portable loop (the compiler
/// vectorizes it), which needs none.
pub const fn conv_s8_scratch_len_mve(g: &ConvGeometry) -> usize {
    if dsp_conv_supports(g) {
        conv_loop_scratch_len(g)
    } else {
        0
    }
}

/// Scratch bytes of [`conv_s8`] on `path`.
pub const fn conv_s8_scratch_len_for(path: crate::KernelPath, g: &ConvGeometry) -> usize {
    match path {
        crate::KernelPath::Dsp => conv_s8_scratch_len_dsp(g),
        crate::KernelPath::Mve => conv_s8_scratch_len_mve(g),
        crate::KernelPath::Portable | crate::KernelPath::Neon => conv_s8_scratch_len_portable(g),
    }
}

/// Number of scratch bytes [`conv_s8`] needs on this build's path ([`crate::KernelPath::HOST`]).
pub const fn conv_s8_scratch_len(geometry: &ConvGeometry) -> usize {
    conv_s8_scratch_len_for(crate::KernelPath::HOST, geometry)
}

/// Scratch bytes of [`pointwise_conv_s8_overlapping`] on the portable and NEON paths: one
/// input pixel (`input.c` bytes).
pub const fn pointwise_conv_s8_overlapping_scratch_len_portable(geometry: &ConvGeometry) -> usize {
    geometry.input.c
}

/// Scratch bytes of [`pointwise_conv_s8_overlapping`] on the DSP path: the pointwise loop's
/// (group widths a multiple of 8), or a block of input pixels copied before the DSP loop runs
/// over it with the rest, or for windows too long for that loop one input pixel and the fully
/// connected layer's row; at least the portable loop's one pixel, which it falls back to.
pub const fn pointwise_conv_s8_overlapping_scratch_len_dsp(g: &ConvGeometry) -> usize {
    overlapping_scratch_len(g, false)
}

/// Scratch bytes of [`pointwise_conv_s8_overlapping`] on the Helium cores: the DSP path's,
/// except that windows too long for its filter blocks run the portable loop (one pixel).
pub const fn pointwise_conv_s8_overlapping_scratch_len_mve(g: &ConvGeometry) -> usize {
    overlapping_scratch_len(g, true)
}

/// [`pointwise_conv_s8_overlapping_scratch_len_dsp`], or on Helium cores (`helium`) its
/// `_mve` twin.
const fn overlapping_scratch_len(g: &ConvGeometry, helium: bool) -> usize {
    let in_c = g.input.c;
    let portable = pointwise_conv_s8_overlapping_scratch_len_portable(g);
    let cin_g = group_width(g);
    let pixels = g.input.n * g.input.h * g.input.w;
    let dsp = if in_c == 0 || (helium && !dsp_conv_supports(g)) {
        0
    } else if !dsp_conv_supports(g) {
        in_c.next_multiple_of(8) + crate::s8::fully_connected::rows_scratch_len_dsp(in_c)
    } else if cin_g % 8 == 0 && 2 * in_c <= XW_BYTES {
        conv_loop_scratch_len(g)
    } else {
        let per_block = if OVERLAP_BLOCK_BYTES / in_c == 0 {
            1
        } else {
            OVERLAP_BLOCK_BYTES / in_c
        };
        let n = if per_block < pixels {
            per_block
        } else {
            pixels
        };
        let block = ConvGeometry {
            input: crate::shape::Shape::new(1, 1, n, in_c),
            output: crate::shape::Shape::new(1, 1, n, g.output.c),
            ..*g
        };
        (n * in_c).next_multiple_of(8) + conv_loop_scratch_len(&block)
    };
    if dsp > portable {
        dsp
    } else {
        portable
    }
}

/// Scratch bytes of [`pointwise_conv_s8_overlapping`] on `path`.
pub const fn pointwise_conv_s8_overlapping_scratch_len_for(
    path: crate::KernelPath,
    g: &ConvGeometry,
) -> usize {
    match path {
        crate::KernelPath::Dsp => pointwise_conv_s8_overlapping_scratch_len_dsp(g),
        crate::KernelPath::Mve => pointwise_conv_s8_overlapping_scratch_len_mve(g),
        crate::KernelPath::Portable | crate::KernelPath::Neon => {
            pointwise_conv_s8_overlapping_scratch_len_portable(g)
        }
    }
}

/// Number of scratch bytes [`pointwise_conv_s8_overlapping`] needs on this build's path
/// ([`crate::KernelPath::HOST`]).
pub const fn pointwise_conv_s8_overlapping_scratch_len(geometry: &ConvGeometry) -> usize {
    pointwise_conv_s8_overlapping_scratch_len_for(crate::KernelPath::HOST, geometry)
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
/// * `scratch`: at least [`conv_s8_scratch_len`] bytes (this build's path; 0 on the portable
///   one), any alignment.
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
        // The loops check their scratch as they carve it (before writing anything), which
        // costs less than sizing it first on every call (row-streamed layers call once a row).
        let ran = if dsp::conv_supports(&p.geometry) {
            Some(dsp::conv_loop(
                p, input, filter, bias, output, cin_g, cout_g, scratch,
            ))
        } else if dsp::long_supported(&p.geometry, filter) {
            Some(dsp::pointwise_long(p, input, filter, bias, output, scratch))
        } else {
            None
        };
        match ran {
            Some(true) => return Ok(()),
            // Only a scratch shorter than this stops the loops; never the portable loop
            // instead (a fast path must not silently become the slow one).
            Some(false) => {
                return Err(Error::BufferLength {
                    what: "scratch",
                    expected: conv_s8_scratch_len(&p.geometry),
                    got: scratch.len(),
                })
            }
            None => {}
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
    // The portable loop's need here; the DSP loops check theirs as they carve it (before
    // writing anything).
    check_min_len(
        "scratch",
        pointwise_conv_s8_overlapping_scratch_len_portable(g),
        scratch.len(),
    )?;
    check_overlap(in_off, out_off, g.input.pixels(), g.input.c, g.output.c)?;
    #[cfg(bfmd_dsp)]
    match dsp::overlapping(
        p, buf, in_off, out_off, filter, bias, cin_g, cout_g, scratch,
    ) {
        Some(true) => return Ok(()),
        Some(false) => {
            return Err(Error::BufferLength {
                what: "scratch",
                expected: pointwise_conv_s8_overlapping_scratch_len(g),
                got: scratch.len(),
            })
        }
        None => {}
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
