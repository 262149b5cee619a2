//! int8 depthwise convolution (TFLite `DEPTHWISE_CONV_2D`), NHWC, channel multiplier >= 1.
//!
//! Bit-exact with TFLM's `reference_integer_ops::DepthwiseConvPerChannel`
//! (`tensorflow/lite/kernels/internal/reference/integer_ops/depthwise_conv.h`): output channel
//! `oc = ic * multiplier + m` accumulates `filter[ky, kx, oc] * (input[iy, ix, ic] +
//! input_offset)` over the valid taps (padded taps are skipped), adds `bias[oc]`, and is
//! requantized with `multiplier[oc]`, `shift[oc]` like the convolution
//! ([`ChannelQuantS8::requantize`]).
//!
//! Entry points: [`depthwise_conv_s8`] and the in-place [`depthwise_conv_s8_inplace`] (for the
//! graph's memory planner); [`portable`] holds the loops.

use crate::error::Result;
use crate::reference::depthwise::{check_depthwise_inplace, check_depthwise_shapes};
pub use crate::s8::conv::ChannelQuantS8;
use crate::s8::conv::ConvS8Params;
use crate::shape::ConvGeometry;

#[cfg(bfmd_dsp)]
mod dsp;
#[cfg(bfmd_neon)]
pub(crate) mod neon;
pub mod portable;

// The loop of `depthwise_conv_s8_inplace` on this build.
#[cfg(bfmd_neon)]
use neon::depthwise_inplace_loop as inplace_loop;
#[cfg(not(bfmd_neon))]
use portable::depthwise_inplace_loop as inplace_loop;

/// The path [`depthwise_conv_s8`] runs on this build: `"dsp"` on cores with the Arm DSP
/// extension (channel multiplier 1, windows of up to 64 taps; other shapes run the portable
/// loop), `"portable"` elsewhere or with the `force-portable` feature.
/// On aarch64 with NEON (unless `force-portable`) the dispatcher runs the NEON loop, `"neon"`
/// (SMLAL; SDOT does not fit depthwise sums).
pub const PATH: &str = if cfg!(bfmd_dsp) {
    "dsp"
} else if cfg!(bfmd_neon) {
    "neon"
} else {
    "portable"
};

/// Parameters of the int8 depthwise convolution: the convolution's, with `geometry.groups`
/// ignored and the channel multiplier `geometry.output.c / geometry.input.c`.
/// [`ConvS8Params::from_scales`] builds them (TFLM's depthwise `Prepare` uses the same
/// `PopulateConvolutionQuantizationParams`).
pub type DepthwiseS8Params<'a> = ConvS8Params<'a>;

/// Most filter taps (`kernel_h * kernel_w`) the DSP loop handles: its widened filter lives in
/// a block of 8 bytes per tap. Larger windows run the portable loop.
pub(crate) const MAX_TAPS: usize = 64;

/// Bytes of the DSP loop's block of four channels' widened filter, strides, bias and
/// requantization (its layout is checked in `dsp.rs`).
pub(crate) const FILTER_BLOCK_BYTES: usize = 600;

/// Raw bytes of one block of four channels' padded input rows (the widened rows take twice as
/// much), and of its output rows, the DSP loop's bands hold when rows are narrow enough for
/// a band of the window's height in them (rows of up to 256 pixels for a 3x3 window).
const PLANE_BYTES: usize = 3072;

/// Output rows per band of the DSP loop for rows too wide for [`PLANE_BYTES`]: the band's
/// scratch then grows with the rows instead, so wide images stay on the unrolled loop.
const WIDE_BAND_ROWS: usize = 4;

/// Bytes of input rows of all channels per band of the in-place DSP loop for channel counts
/// that are not a multiple of four, when rows are narrow enough for a band of the window's
/// height; wider rows get the window's height and [`WIDE_BAND_ROWS`] - 1 more.
const INPLACE_ROWS_BYTES: usize = 4096;

/// `(rows, out_rows)` per band of the DSP loop's planes (padded input rows, output rows) for
/// a geometry they take (channel multiplier 1, channels a multiple of four, at most
/// [`MAX_TAPS`] taps, windows inside the padded image), `None` otherwise.
pub(crate) const fn plane_caps(g: &ConvGeometry) -> Option<(usize, usize)> {
    let pw = g.input.w + g.pad_left + g.pad_right;
    let (oh, ow) = (g.output.h, g.output.w);
    let dk = (g.kernel_h.saturating_sub(1)) * g.dilation_h + 1;
    let s = g.stride_h;
    if g.input.c % 4 != 0
        || g.output.c != g.input.c
        || g.kernel_h * g.kernel_w > MAX_TAPS
        || pw == 0
        || oh == 0
        || ow == 0
        || (oh - 1) * s + dk > g.input.h + g.pad_top + g.pad_bottom
    {
        return None;
    }
    let (mut rows, mut out_rows) = (PLANE_BYTES / 4 / pw, PLANE_BYTES / 4 / ow);
    if rows < dk || out_rows == 0 {
        rows = if rows < dk {
            dk + (WIDE_BAND_ROWS - 1) * s
        } else {
            rows
        };
        out_rows = if out_rows < WIDE_BAND_ROWS {
            WIDE_BAND_ROWS
        } else {
            out_rows
        };
    }
    Some((rows, out_rows))
}

/// Bytes of the widened plane and of the output rows the planes of [`plane_caps`] use: at most
/// `rows` padded rows of 8 bytes per pixel and `out_rows` output rows of 4 bytes per pixel.
pub(crate) const fn plane_lens(g: &ConvGeometry, rows: usize, out_rows: usize) -> (usize, usize) {
    let pw = g.input.w + g.pad_left + g.pad_right;
    let padded_h = g.input.h + g.pad_top + g.pad_bottom;
    let rows = if rows < padded_h { rows } else { padded_h };
    let out_rows = if out_rows < g.output.h {
        out_rows
    } else {
        g.output.h
    };
    (rows * pw * 8, out_rows * g.output.w * 4)
}

/// `(rows per band, most rows a band copies)` of the in-place DSP loop on bands of all channels
/// (padded rows of `(in_w + pad_left + pad_right) * c` bytes), `None` for a geometry it does
/// not take.
pub(crate) const fn band_rows(g: &ConvGeometry) -> Option<(usize, usize)> {
    let row_bytes = (g.input.w + g.pad_left + g.pad_right) * g.input.c;
    let (oh, ow) = (g.output.h, g.output.w);
    if row_bytes == 0 || oh == 0 || ow == 0 || g.kernel_h * g.kernel_w > MAX_TAPS {
        return None;
    }
    let dk = (g.kernel_h.saturating_sub(1)) * g.dilation_h + 1;
    let mut cap = INPLACE_ROWS_BYTES / row_bytes;
    if cap < dk {
        cap = dk + (WIDE_BAND_ROWS - 1) * g.stride_h;
    }
    let all = (oh - 1) * g.stride_h + dk;
    Some((cap, if cap < all { cap } else { all }))
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// Scratch bytes of [`depthwise_conv_s8`] on the portable path: none.
pub const fn depthwise_conv_s8_scratch_len_portable(_geometry: &ConvGeometry) -> usize {
    0
}

/// Scratch bytes of [`depthwise_conv_s8`] on the NEON path: none.
pub const fn depthwise_conv_s8_scratch_len_neon(_geometry: &ConvGeometry) -> usize {
    0
}

/// Whether the DSP loop takes `g`: channel multiplier 1 and at most [`MAX_TAPS`] taps.
const fn dsp_supports(g: &ConvGeometry) -> bool {
    g.output.c == g.input.c && g.kernel_h * g.kernel_w <= MAX_TAPS
}

/// Bytes of the DSP loop's planes for `g` (none when [`plane_caps`] does not take it).
const fn planes_len(g: &ConvGeometry) -> usize {
    match plane_caps(g) {
        Some((rows, out_rows)) => {
            let (plane, out) = plane_lens(g, rows, out_rows);
            plane + out
        }
        None => 0,
    }
}

/// Scratch bytes of [`depthwise_conv_s8`] on the DSP path (also the Helium cores'): the block
/// of four channels' widened filter, and for stride-1 layers with channels a multiple of four
/// the bands of rows of four channels, widened, with their output rows; their size follows the
/// row width (see [`plane_caps`]), so no row is too wide for the unrolled loop. Layers the DSP
/// loop does not take (channel multiplier above 1, more than 64 taps) need none.
pub const fn depthwise_conv_s8_scratch_len_dsp(g: &ConvGeometry) -> usize {
    if !dsp_supports(g) {
        return 0;
    }
    let planes = if g.stride_h == 1 && g.stride_w == 1 {
        planes_len(g)
    } else {
        0
    };
    FILTER_BLOCK_BYTES + planes + crate::path::ALIGN_SLACK
}

/// Scratch bytes of [`depthwise_conv_s8`] on `path`.
pub const fn depthwise_conv_s8_scratch_len_for(path: crate::KernelPath, g: &ConvGeometry) -> usize {
    match path {
        crate::KernelPath::Portable => depthwise_conv_s8_scratch_len_portable(g),
        crate::KernelPath::Neon => depthwise_conv_s8_scratch_len_neon(g),
        crate::KernelPath::Dsp | crate::KernelPath::Mve => depthwise_conv_s8_scratch_len_dsp(g),
    }
}

/// Number of scratch bytes [`depthwise_conv_s8`] needs on this build's path
/// ([`crate::KernelPath::HOST`]).
pub const fn depthwise_conv_s8_scratch_len(geometry: &ConvGeometry) -> usize {
    depthwise_conv_s8_scratch_len_for(crate::KernelPath::HOST, geometry)
}

/// Scratch bytes of [`depthwise_conv_s8_inplace`] on the portable and NEON paths: one input
/// channel plane, `in_h * in_w` bytes.
pub const fn depthwise_conv_s8_inplace_scratch_len_portable(geometry: &ConvGeometry) -> usize {
    geometry.input.h.saturating_mul(geometry.input.w)
}

/// Scratch bytes of [`depthwise_conv_s8_inplace`] on the DSP path: the most of the filter
/// block with the planes of [`depthwise_conv_s8_scratch_len_dsp`] (any stride), the bands of
/// all channels it takes otherwise with the block, and the portable loop's plane it falls back
/// to when the band schedule would read an overwritten row.
pub const fn depthwise_conv_s8_inplace_scratch_len_dsp(g: &ConvGeometry) -> usize {
    let slack = crate::path::ALIGN_SLACK;
    let planes = FILTER_BLOCK_BYTES + planes_len(g) + slack;
    let bands = match band_rows(g) {
        Some((_, most)) => {
            let rows = most * (g.input.w + g.pad_left + g.pad_right) * g.input.c;
            rows.next_multiple_of(8) + FILTER_BLOCK_BYTES + slack
        }
        None => 0,
    };
    max(
        max(planes, bands),
        depthwise_conv_s8_inplace_scratch_len_portable(g),
    )
}

/// Scratch bytes of [`depthwise_conv_s8_inplace`] on `path`.
pub const fn depthwise_conv_s8_inplace_scratch_len_for(
    path: crate::KernelPath,
    g: &ConvGeometry,
) -> usize {
    match path {
        crate::KernelPath::Portable | crate::KernelPath::Neon => {
            depthwise_conv_s8_inplace_scratch_len_portable(g)
        }
        crate::KernelPath::Dsp | crate::KernelPath::Mve => {
            depthwise_conv_s8_inplace_scratch_len_dsp(g)
        }
    }
}

/// Number of scratch bytes [`depthwise_conv_s8_inplace`] needs on this build's path
/// ([`crate::KernelPath::HOST`]).
pub const fn depthwise_conv_s8_inplace_scratch_len(geometry: &ConvGeometry) -> usize {
    depthwise_conv_s8_inplace_scratch_len_for(crate::KernelPath::HOST, geometry)
}

/// Checks every argument of an int8 depthwise convolution; returns the channel multiplier.
pub(crate) fn check_depthwise_s8(
    p: &DepthwiseS8Params,
    input_len: usize,
    filter_len: usize,
    bias: Option<&[i32]>,
    output_len: usize,
) -> Result<usize> {
    let mult = check_depthwise_shapes(
        &p.geometry,
        input_len,
        filter_len,
        bias.map(|b| b.len()),
        output_len,
    )?;
    p.quant.validate(p.geometry.output.c)?;
    Ok(mult)
}

/// int8 depthwise convolution, NHWC, TFLite semantics (bit-exact with TFLM's
/// `reference_integer_ops::DepthwiseConvPerChannel`).
///
/// * `input`: int8 `[n, in_h, in_w, in_c]`;
/// * `filter`: int8 `[1, kernel_h, kernel_w, in_c * multiplier]`, symmetric, per-channel or
///   per-tensor scale;
/// * `bias`: int32 `[in_c * multiplier]` or `None`;
/// * `output`: int8 `[n, out_h, out_w, in_c * multiplier]`;
/// * `scratch`: at least [`depthwise_conv_s8_scratch_len`] bytes (this build's path; the
///   `..._scratch_len_<path>` functions give every path's), any alignment.
///
/// Any kernel size, stride, dilation and padding [`ConvGeometry::validate`] accepts. No
/// over-reads.
///
/// # Errors
/// [`crate::Error::BufferLength`] for a buffer of the wrong length,
/// [`crate::Error::DimMismatch`] when the output channels are not a positive multiple of the
/// input channels, [`crate::Error::BadParam`] for quantization parameters out of range, and
/// whatever [`ConvGeometry::validate`] reports.
pub fn depthwise_conv_s8(
    p: &DepthwiseS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) -> Result<()> {
    #[cfg(bfmd_dsp)]
    {
        let mult = check_depthwise_s8(p, input.len(), filter.len(), bias, output.len())?;
        crate::error::check_min_len(
            "scratch",
            depthwise_conv_s8_scratch_len(&p.geometry),
            scratch.len(),
        )?;
        if dsp::supports(&p.geometry, mult) {
            // The loop only stops on a scratch shorter than the one checked above: never the
            // portable loop instead.
            return if dsp::depthwise_loop(p, input, filter, bias, output, scratch) {
                Ok(())
            } else {
                Err(crate::Error::BufferLength {
                    what: "scratch",
                    expected: depthwise_conv_s8_scratch_len(&p.geometry),
                    got: scratch.len(),
                })
            };
        }
    }
    #[cfg(bfmd_neon)]
    return neon::depthwise_conv_s8(p, input, filter, bias, output, scratch);
    #[allow(unreachable_code)]
    portable::depthwise_conv_s8(p, input, filter, bias, output, scratch)
}

/// int8 depthwise convolution with channel multiplier 1 whose output overwrites its input
/// (TinyEngine's in-place schedule); bit-identical to [`depthwise_conv_s8`].
///
/// `buf` holds the input `[n, in_h, in_w, c]` (exactly); on return its first
/// `n * out_h * out_w * c` elements are the output and the rest is unspecified. `scratch` holds
/// at least [`depthwise_conv_s8_inplace_scratch_len`] bytes (this build's path): the portable
/// loop parks each channel's input plane there before that channel's outputs are written, the
/// DSP loop its bands of rows. Needs
/// `out_h * out_w <= in_h * in_w` (true for SAME or VALID padding with any stride).
///
/// # Errors
/// Those of [`depthwise_conv_s8`] (with `buf` as the input), [`crate::Error::Unsupported`] for
/// a channel multiplier other than 1, [`crate::Error::DimMismatch`] when the output has more
/// pixels than the input, [`crate::Error::BufferLength`] for a short scratch.
pub fn depthwise_conv_s8_inplace(
    p: &DepthwiseS8Params,
    buf: &mut [i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    scratch: &mut [u8],
) -> Result<()> {
    let g = &p.geometry;
    check_depthwise_inplace(
        g,
        buf.len(),
        filter.len(),
        bias.map(|b| b.len()),
        scratch.len(),
        1,
    )?;
    p.quant.validate(g.output.c)?;
    #[cfg(bfmd_dsp)]
    {
        crate::error::check_min_len(
            "scratch",
            depthwise_conv_s8_inplace_scratch_len(g),
            scratch.len(),
        )?;
        if dsp::inplace(p, buf, filter, bias, scratch) {
            return Ok(());
        }
    }
    inplace_loop(p, buf, filter, bias, scratch);
    Ok(())
}
