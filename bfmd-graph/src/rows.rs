//! Row-streamed convolution over one buffer: the output of a (non-depthwise) convolution may
//! start `shift` bytes below its input and overwrite the input rows no later output row reads.
//!
//! The executor computes output row `r` with the ordinary kernel, restricted to the input rows
//! `lo(r)..hi(r)` that row's windows cover (an exact sub-problem: the same taps in the same
//! order, the clipped rows turned into explicit top/bottom padding). Rows are computed in
//! increasing order and `lo` never decreases, so output row `r` may overwrite everything below
//! input row `lo(r)`: with the output `shift` bytes below the input,
//! `shift >= (r + 1) * out_row - lo(r) * in_row` for every `r` keeps each output row below the
//! input rows still to be read. This is what lets a stem convolution write its (larger) output
//! over the input image instead of beside it; TinyEngine does the same per patch.
//!
//! Batch 1 only (rows of different images would interleave differently).

use crate::format::ALIGN;
use crate::ops::DType;
use bfmd_kernels::{ConvGeometry, Shape};

/// The input rows `lo..hi` output row `r` reads and the geometry of computing that row alone
/// from them; `None` when `r` is out of range or its windows lie wholly in padding.
pub(crate) fn row_geometry(g: &ConvGeometry, r: usize) -> Option<(ConvGeometry, usize, usize)> {
    if r >= g.output.h {
        return None;
    }
    let extent = (g.kernel_h.checked_sub(1)?)
        .checked_mul(g.dilation_h)?
        .checked_add(1)?;
    // Window rows in padded coordinates: `start .. start + extent`, input row `y` at `y + pad`.
    let start = r.checked_mul(g.stride_h)?;
    let end = start.checked_add(extent)?;
    let lo = start.saturating_sub(g.pad_top);
    let hi = end.saturating_sub(g.pad_top).min(g.input.h);
    if hi <= lo {
        return None;
    }
    let pad_top = lo.checked_add(g.pad_top)?.checked_sub(start)?;
    let pad_bottom = end.checked_sub(hi.checked_add(g.pad_top)?)?;
    let row = ConvGeometry {
        input: Shape::new(1, hi - lo, g.input.w, g.input.c),
        output: Shape::new(1, 1, g.output.w, g.output.c),
        pad_top,
        pad_bottom,
        ..*g
    };
    row.validate().ok()?;
    Some((row, lo, hi))
}

/// Bytes by which the output starts below the input when the convolution is row-streamed (a
/// multiple of 16, so both stay aligned), or `None` when it cannot be (batch > 1, a row
/// without input rows, or sizes that overflow).
pub(crate) fn row_overlap_shift(g: &ConvGeometry, element_size: usize) -> Option<usize> {
    if g.input.n != 1 || g.output.n != 1 || g.output.h == 0 {
        return None;
    }
    let in_row = g
        .input
        .w
        .checked_mul(g.input.c)?
        .checked_mul(element_size)?;
    let out_row = g
        .output
        .w
        .checked_mul(g.output.c)?
        .checked_mul(element_size)?;
    let mut shift = 0usize;
    for r in 0..g.output.h {
        let (_, lo, _) = row_geometry(g, r)?;
        let written = r.checked_add(1)?.checked_mul(out_row)?;
        shift = shift.max(written.saturating_sub(lo.checked_mul(in_row)?));
    }
    shift.checked_next_multiple_of(ALIGN)
}

/// Scratch bytes of the row-streamed convolution of `dtype` on the kernels of `path`: the most
/// any row's kernel call needs.
pub(crate) fn row_scratch_len(
    g: &ConvGeometry,
    dtype: DType,
    path: bfmd_kernels::KernelPath,
) -> usize {
    use bfmd_kernels::{f16 as h, reference as r, s8};
    (0..g.output.h)
        .filter_map(|row| row_geometry(g, row))
        .map(|(rg, _, _)| match dtype {
            DType::S8 => s8::conv::conv_s8_scratch_len_for(path, &rg),
            DType::F16 => h::conv::conv_f16_scratch_len(&rg),
            _ => r::conv::conv_f32_scratch_len(&rg),
        })
        .max()
        .unwrap_or(0)
}

/// Why [`run_rows`] stopped.
pub(crate) enum RowError {
    /// The buffer or the offsets do not allow row streaming (parse checks they do).
    Placement,
    /// A kernel rejected a row.
    Kernel(bfmd_kernels::Error),
}

/// Runs the convolution `g` row by row over `buf`, whose input starts at element `in_off` and
/// output at element `out_off`, calling `conv(row_geometry, input_rows, output_row)` for each
/// output row in order.
pub(crate) fn run_rows<T>(
    g: &ConvGeometry,
    buf: &mut [T],
    in_off: usize,
    out_off: usize,
    mut conv: impl FnMut(&ConvGeometry, &[T], &mut [T]) -> bfmd_kernels::Result<()>,
) -> Result<(), RowError> {
    let in_row = g.input.w * g.input.c;
    let out_row = g.output.w * g.output.c;
    for r in 0..g.output.h {
        let (rg, lo, hi) = row_geometry(g, r).ok_or(RowError::Placement)?;
        let in_start = in_off + lo * in_row;
        let in_end = in_off + hi * in_row;
        let out_start = out_off + r * out_row;
        let out_end = out_start + out_row;
        if out_end > in_start || in_end > buf.len() {
            return Err(RowError::Placement);
        }
        let (head, tail) = buf.split_at_mut(in_start);
        conv(
            &rg,
            &tail[..in_end - in_start],
            &mut head[out_start..out_end],
        )
        .map_err(RowError::Kernel)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bfmd_kernels::Padding;

    #[test]
    fn rows_cover_the_windows_and_the_shift_keeps_writes_below_reads() {
        // The stem of the seed models: 96x96x3, 3x3 stride 2, TFLite SAME (padding only at the
        // bottom), 24 output channels.
        let g = ConvGeometry::new(
            Shape::new(1, 96, 96, 3),
            24,
            (3, 3),
            (2, 2),
            (1, 1),
            Padding::Same,
            1,
        )
        .unwrap();
        let (first, lo, hi) = row_geometry(&g, 0).unwrap();
        assert_eq!((lo, hi, first.pad_top, first.pad_bottom), (0, 3, 0, 0));
        let (last, lo, hi) = row_geometry(&g, 47).unwrap();
        assert_eq!((lo, hi, last.pad_top, last.pad_bottom), (94, 96, 0, 1));
        assert!(row_geometry(&g, 48).is_none());
        // Output row r (1152 bytes) must end below input row 2r (288 bytes each): the worst
        // row is the last, 48 * 1152 - 94 * 288 = 28224 bytes.
        assert_eq!(row_overlap_shift(&g, 1), Some(28224));
        assert_eq!(row_overlap_shift(&g, 4), Some(4 * 28224));
        // A convolution that shrinks the rows writes over its input from the same start.
        let g = ConvGeometry::new(
            Shape::new(1, 8, 8, 16),
            4,
            (3, 3),
            (1, 1),
            (1, 1),
            Padding::Same,
            1,
        )
        .unwrap();
        let (first, lo, hi) = row_geometry(&g, 0).unwrap();
        assert_eq!((lo, hi, first.pad_top, first.pad_bottom), (0, 2, 1, 0));
        // Rows 0 and 1 both read input row 0: the output (32-byte rows) starts 64 bytes below.
        assert_eq!(row_overlap_shift(&g, 1), Some(64));
        // Narrower still, with stride 2: only the first output row (6 bytes) needs room below
        // the input, since every row reads from its own first input row on; 16 once aligned.
        let g2 = ConvGeometry::new(
            Shape::new(1, 8, 8, 16),
            2,
            (3, 3),
            (2, 2),
            (1, 1),
            Padding::Valid,
            1,
        )
        .unwrap();
        assert_eq!(row_overlap_shift(&g2, 1), Some(16));
        // Batch 2 is not row-streamed.
        let mut b = g;
        b.input.n = 2;
        b.output.n = 2;
        assert_eq!(row_overlap_shift(&b, 1), None);
    }

    #[test]
    fn windows_wholly_in_padding_are_refused() {
        let g = ConvGeometry::new(
            Shape::new(1, 2, 2, 1),
            1,
            (1, 1),
            (1, 1),
            (1, 1),
            Padding::Explicit {
                top: 2,
                bottom: 0,
                left: 0,
                right: 0,
            },
            1,
        )
        .unwrap();
        assert!(row_geometry(&g, 0).is_none());
        assert_eq!(row_overlap_shift(&g, 1), None);
    }
}
