//! Arm DSP-extension loop of the int8 depthwise convolution with channel multiplier 1.
//!
//! Four channels at a time: one 32-bit load brings a tap's four channels, two `SXTAB16` widen
//! them to int16 with the input offset added, and four 16x16 multiply-accumulates
//! (`SMLABB`/`SMLATT`) consume them against the channel block's filter, which is widened to int16
//! pairs once per call in scratch. Windows fully inside the input run an unrolled loop for 3x3
//! and 5x5 kernels; windows touching the padding (and other kernel sizes or dilations) run the
//! same instructions over their valid taps only, as TFLM skips padded taps. Outputs are
//! requantized with [`FastRq`] (or TFLM's general form for a block of channels when [`fast_requant_ok`] says the
//! accumulators may be too large for it) and stored four at a time. The one to three channels
//! left over when the channel count is not a multiple of four run the portable arithmetic.
//!
//! Bit-identical to [`super::portable`] for the reasons given in [`crate::s8::conv::dsp`].

use super::DepthwiseS8Params;
use crate::s8::conv::dsp::{
    fast_requant_ok, lanes8, pack16, requant, sadd16, store_bytes, store_clamped, sxtb16,
    sxtb16_ror8, tap_span, FastRq, Finish4,
};
use crate::s8::conv::portable::{finish, mac};
use crate::s8::conv::ChannelQuantS8;
use crate::shape::ConvGeometry;
use core::arch::asm;
use core::ptr::write_unaligned;

pub(crate) use super::MAX_TAPS;

/// Whether [`depthwise_loop`] handles this geometry (channel multiplier 1, at most
/// [`MAX_TAPS`] taps); the dispatcher runs the portable loop otherwise.
pub(crate) fn supports(g: &ConvGeometry, multiplier: usize) -> bool {
    multiplier == 1 && g.kernel_h * g.kernel_w <= MAX_TAPS
}

/// The instructions of one tap for four channels: load the tap's four int8 channels from
/// `$addr`, widen them to int16 with the input offset (`SXTAB16`), load the channels' widened
/// filter pair from `[{w}, #$woff]` and multiply-accumulate (`SMLABB`/`SMLATT`).
macro_rules! tap4 {
    ($addr:literal, $woff:literal) => {
        concat!(
            "ldr {v}, ",
            $addr,
            "\n",
            "ldrd {w0}, {w1}, [{w}, #",
            $woff,
            "]\n",
            "sxtab16 {t}, {off}, {v}\n",
            "sxtab16 {v}, {off}, {v}, ror #8\n",
            "smlabb {a0}, {t}, {w0}, {a0}\n",
            "smlatt {a2}, {t}, {w0}, {a2}\n",
            "smlabb {a1}, {v}, {w1}, {a1}\n",
            "smlatt {a3}, {v}, {w1}, {a3}\n",
        )
    };
}

/// One interior tap for four channels: like [`tap4`] but without the input offset, which the
/// interior loops fold into the bias (every tap of an interior window is valid).
macro_rules! tap4_folded {
    ($addr:literal, $woff:literal) => {
        concat!(
            "ldr {v}, ",
            $addr,
            "\n",
            "ldrd {w0}, {w1}, [{w}, #",
            $woff,
            "]\n",
            "sxtb16 {t}, {v}\n",
            "sxtb16 {v}, {v}, ror #8\n",
            "smlabb {a0}, {t}, {w0}, {a0}\n",
            "smlatt {a2}, {t}, {w0}, {a2}\n",
            "smlabb {a1}, {v}, {w1}, {a1}\n",
            "smlatt {a3}, {v}, {w1}, {a3}\n",
        )
    };
}

/// The next window row: `x += row stride` ([`FilterBlock::row`]).
macro_rules! next_row {
    () => {
        concat!("ldr {v}, [{w}, #512]\n", "add {x}, {x}, {v}\n")
    };
}

/// A dense 3x3 window (offset folded).
macro_rules! window3 {
    () => {
        concat!(
            tap4_folded!("[{x}]", "0"),
            tap4_folded!("[{x}, {c}]", "8"),
            tap4_folded!("[{x}, {c}, lsl #1]", "16"),
            next_row!(),
            tap4_folded!("[{x}]", "24"),
            tap4_folded!("[{x}, {c}]", "32"),
            tap4_folded!("[{x}, {c}, lsl #1]", "40"),
            next_row!(),
            tap4_folded!("[{x}]", "48"),
            tap4_folded!("[{x}, {c}]", "56"),
            tap4_folded!("[{x}, {c}, lsl #1]", "64"),
        )
    };
}

/// One row of a dense 5x5 window (filter byte offsets `$o0..$o4`); columns 3 and 4 are
/// addressed from `x + 2c` and `x + 4c`.
macro_rules! row5 {
    ($o0:literal, $o1:literal, $o2:literal, $o3:literal, $o4:literal) => {
        concat!(
            tap4_folded!("[{x}]", $o0),
            tap4_folded!("[{x}, {c}]", $o1),
            tap4_folded!("[{x}, {c}, lsl #1]", $o2),
            "add {v}, {x}, {c}, lsl #1\n",
            tap4_folded!("[{v}, {c}]", $o3),
            "add {v}, {x}, {c}, lsl #2\n",
            tap4_folded!("[{v}]", $o4),
        )
    };
}

/// A dense 5x5 window (offset folded).
macro_rules! window5 {
    () => {
        concat!(
            row5!("0", "8", "16", "24", "32"),
            next_row!(),
            row5!("40", "48", "56", "64", "72"),
            next_row!(),
            row5!("80", "88", "96", "104", "112"),
            next_row!(),
            row5!("120", "128", "136", "144", "152"),
            next_row!(),
            row5!("160", "168", "176", "184", "192"),
        )
    };
}

/// One tap for four channels of a widened plane (see [`planes`]): one `LDRD` brings the
/// tap's four channels already widened to int16 (offset folded into the bias, as in
/// [`tap4_folded`]), from `$xoff` bytes after `{x}`.
macro_rules! tap4w {
    ($xoff:literal, $woff:literal) => {
        concat!(
            "ldrd {v}, {t}, [{x}, #",
            $xoff,
            "]\n",
            "ldrd {w0}, {w1}, [{w}, #",
            $woff,
            "]\n",
            "smlabb {a0}, {v}, {w0}, {a0}\n",
            "smlatt {a2}, {v}, {w0}, {a2}\n",
            "smlabb {a1}, {t}, {w1}, {a1}\n",
            "smlatt {a3}, {t}, {w1}, {a3}\n",
        )
    };
}

/// A dense 3x3 window of a widened plane (pixels 8 bytes apart).
macro_rules! window3w {
    () => {
        concat!(
            tap4w!("0", "0"),
            tap4w!("8", "8"),
            tap4w!("16", "16"),
            next_row!(),
            tap4w!("0", "24"),
            tap4w!("8", "32"),
            tap4w!("16", "40"),
            next_row!(),
            tap4w!("0", "48"),
            tap4w!("8", "56"),
            tap4w!("16", "64"),
        )
    };
}

/// One row of a dense 5x5 window of a widened plane (filter byte offsets `$o0..$o4`).
macro_rules! row5w {
    ($o0:literal, $o1:literal, $o2:literal, $o3:literal, $o4:literal) => {
        concat!(
            tap4w!("0", $o0),
            tap4w!("8", $o1),
            tap4w!("16", $o2),
            tap4w!("24", $o3),
            tap4w!("32", $o4),
        )
    };
}

/// A dense 5x5 window of a widened plane.
macro_rules! window5w {
    () => {
        concat!(
            row5w!("0", "8", "16", "24", "32"),
            next_row!(),
            row5w!("40", "48", "56", "64", "72"),
            next_row!(),
            row5w!("80", "88", "96", "104", "112"),
            next_row!(),
            row5w!("120", "128", "136", "144", "152"),
            next_row!(),
            row5w!("160", "168", "176", "184", "192"),
        )
    };
}

/// The loop of [`run_interior`] around one window kind: bias, window, requantization of the four
/// channels; `$store` writes the four results, `$next` advances `y` and `x` and counts the
/// window ([`next_window`] or [`next_window_w`]).
macro_rules! interior_loop {
    ($window:expr, $store:expr, $next:expr) => {
        concat!(
            "2:\n",
            "ldrd {a0}, {a1}, [{w}, #528]\n",
            "ldrd {a2}, {a3}, [{w}, #536]\n",
            $window,
            requant!("{a0}", "[{w}, #544]", "[{w}, #552]"),
            requant!("{a1}", "[{w}, #556]", "[{w}, #564]"),
            requant!("{a2}", "[{w}, #568]", "[{w}, #576]"),
            requant!("{a3}", "[{w}, #580]", "[{w}, #588]"),
            $store,
            $next,
        )
    };
}

/// The next window of [`interior_loop`] on raw rows: output pixels `{c}` bytes apart, the
/// window count in the block.
macro_rules! next_window {
    () => {
        concat!(
            "add {y}, {y}, {c}\n",
            "ldr {v}, [{w}, #516]\n",
            "add {x}, {x}, {v}\n",
            "ldr {v}, [{w}, #520]\n",
            "subs {v}, {v}, #1\n",
            "str {v}, [{w}, #520]\n",
            "bne 2b\n",
        )
    };
}

/// The next window of [`interior_loop`] on widened planes, whose output pixels are always four
/// bytes apart: the window count lives in `{c}` (two memory accesses fewer per window).
macro_rules! next_window_w {
    () => {
        concat!(
            "add {y}, {y}, #4\n",
            "ldr {v}, [{w}, #516]\n",
            "add {x}, {x}, {v}\n",
            "subs {c}, {c}, #1\n",
            "bne 2b\n",
        )
    };
}

/// Everything the interior loops read, at the byte offsets their assembly uses (checked below).
#[repr(C, align(8))]
struct FilterBlock {
    /// Tap `t`: `[(w[t, c0], w[t, c2]), (w[t, c1], w[t, c3])]` as int16 pairs, doubled when the
    /// fast requantization is used (see [`FastRq`]).
    taps: [[u32; 2]; MAX_TAPS],
    /// Bytes from one window row to the next (input row stride times dilation).
    row: usize,
    /// Bytes from a window's last row to the next window's first row.
    back: isize,
    /// Windows left in the current interior run.
    count: u32,
    /// Padding to keep `bias` 8-byte aligned for `LDRD`.
    _pad: u32,
    /// The block's bias with the input offset folded in (`bias + input_offset * sum(w)` over the
    /// whole window, doubled): interior windows have every tap, so their `SXTB16` skips the add.
    bias: [i32; 4],
    /// The four channels' fast requantization.
    rq: [FastRq; 4],
    /// `(act_min, act_max)` broadcast to four int8 lanes.
    clamp: [u32; 2],
}

const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(FilterBlock, row) == 512);
    assert!(offset_of!(FilterBlock, back) == 516);
    assert!(offset_of!(FilterBlock, count) == 520);
    assert!(offset_of!(FilterBlock, bias) == 528);
    assert!(offset_of!(FilterBlock, rq) == 544);
    assert!(core::mem::size_of::<FastRq>() == 12);
    assert!(offset_of!(FastRq, mult) == 0);
    assert!(offset_of!(FastRq, round) == 4);
    assert!(offset_of!(FastRq, shift) == 8);
    assert!(offset_of!(FilterBlock, clamp) == 592);
    assert!(core::mem::size_of::<FilterBlock>() == super::FILTER_BLOCK_BYTES);
    assert!(core::mem::align_of::<FilterBlock>() == 8);
};

impl FilterBlock {
    /// A block for geometry `g` (its row strides) and clamp `q`, filter not yet widened, at
    /// the front of `scratch` (from its first 8-byte boundary), and the scratch after it;
    /// `None` when `scratch` is too short. The taps are left as they are: [`FilterBlock::prepare`]
    /// writes every tap the loops read (clearing all 64 cost more than the taps' widening).
    fn in_scratch<'s>(
        scratch: &'s mut [u8],
        g: &ConvGeometry,
        q: &ChannelQuantS8,
    ) -> Option<(&'s mut FilterBlock, &'s mut [u8])> {
        let (b, rest) = crate::path::split_aligned(scratch, super::FILTER_BLOCK_BYTES)?;
        // SAFETY: `b` is 8-byte aligned (the block's alignment) and holds exactly one block
        // (checked above) of initialized bytes, which every field (integers only) accepts; the
        // block borrows `b` exclusively.
        let fb = unsafe { &mut *(b.as_mut_ptr() as *mut FilterBlock) };
        let row = g.dilation_h * g.input.w * g.input.c;
        fb.row = row;
        fb.back = (g.stride_w * g.input.c) as isize - ((g.kernel_h - 1) * row) as isize;
        fb.count = 0;
        fb._pad = 0;
        fb.bias = [0; 4];
        fb.rq = [FastRq::default(); 4];
        fb.clamp = [lanes8(q.act_min), lanes8(q.act_max)];
        Some((fb, rest))
    }

    /// Widens channels `c0..c0 + 4` of the `[taps, c]` filter (doubled when the block takes
    /// the fast requantization) and sets the folded bias; returns the block's requantization
    /// and its plain bias (doubled likewise), which windows touching the padding start from.
    #[inline(always)]
    fn prepare<'q, 'a>(
        &mut self,
        q: &'q ChannelQuantS8<'a>,
        filter: &[i8],
        c: usize,
        bias: Option<&[i32]>,
        c0: usize,
        taps: usize,
    ) -> (Finish4<'q, 'a>, [i32; 4]) {
        let fast = fast_requant_ok(q, bias, taps, c0..c0 + 4);
        // The fast requantization takes the doubled accumulator: double the filter and the bias.
        let scale = if fast { 2 } else { 1 };
        // Per tap, the four channels' weights are one word: `SXTB16` splits it into the two
        // int16 pairs the loops use, and the pairs' lane sums (at most 64 taps of 256 each,
        // so they fit int16) give each channel's sum.
        let fl = &filter[..taps * c];
        let (mut s_lo, mut s_hi) = (0u32, 0u32);
        for (t, wt) in self.taps.iter_mut().enumerate().take(taps) {
            debug_assert!(t * c + c0 + 4 <= fl.len());
            // SAFETY: `t < taps` and `c0 + 4 <= c`, so the four bytes are inside `fl`;
            // unaligned loads are allowed on these cores.
            let word = unsafe { (fl.as_ptr().add(t * c + c0) as *const u32).read_unaligned() };
            let (mut lo, mut hi) = (sxtb16(word), sxtb16_ror8(word));
            if fast {
                lo = sadd16(lo, lo);
                hi = sadd16(hi, hi);
            }
            *wt = [lo, hi];
            s_lo = sadd16(s_lo, lo);
            s_hi = sadd16(s_hi, hi);
        }
        let lane = |v: u32, hi: bool| (if hi { v >> 16 } else { v }) as u16 as i16 as i32;
        let sums = [
            lane(s_lo, false),
            lane(s_hi, false),
            lane(s_lo, true),
            lane(s_hi, true),
        ];
        let b0: [i32; 4] = match bias {
            Some(b) => core::array::from_fn(|j| b[c0 + j].wrapping_mul(scale)),
            None => [0; 4],
        };
        // Interior windows sum `w * (x + off)` over every tap: `off * sum(w)` joins the bias.
        let off = q.input_offset;
        self.bias = core::array::from_fn(|j| b0[j].wrapping_add(off.wrapping_mul(sums[j])));
        let fin = Finish4::new(q, c0, c, fast);
        if let Some(rq) = fin.fast() {
            self.rq = rq;
        }
        (fin, b0)
    }
}

/// Adds one tap (four channels) to `acc`.
///
/// # Safety
/// `x` and the three bytes after it are readable; `w` points at two readable words.
#[inline(always)]
unsafe fn tap(acc: &mut [i32; 4], x: *const i8, w: *const [u32; 2], off2: u32) {
    // SAFETY: the caller guarantees both reads; the rest is register arithmetic.
    unsafe {
        asm!(
            tap4!("[{x}]", "0"),
            a0 = inout(reg) acc[0], a1 = inout(reg) acc[1],
            a2 = inout(reg) acc[2], a3 = inout(reg) acc[3],
            x = in(reg) x, w = in(reg) w, off = in(reg) off2,
            v = out(reg) _, t = out(reg) _, w0 = out(reg) _, w1 = out(reg) _,
            options(nostack, readonly),
        );
    }
}

/// `fb.count` (at least one) consecutive output pixels of one row whose dense 3x3 or 5x5
/// windows lie inside the input, with the fast requantization. When `widened`, the input is a
/// widened plane ([`planes`]: 8 bytes per pixel, word aligned) and `c` is only the
/// output pixel stride, which must then be 4.
///
/// # Safety
/// `x` is the input element of tap (0, 0), channel `c0`, of the first window; every tap of the
/// windows (`fb.back + (K - 1) * fb.row` bytes apart) is inside the input; `y` points at channel
/// `c0` of the first output pixel and the pixels (`c` bytes apart) exist; `fb.bias` and `fb.rq`
/// hold the folded bias and the fast requantization of the block.
unsafe fn run_interior(
    five: bool,
    clamp: bool,
    widened: bool,
    x: *const i8,
    c: usize,
    fb: &mut FilterBlock,
    y: *mut i8,
) {
    debug_assert!(!widened || c == 4);
    let w: *mut FilterBlock = fb;
    // SAFETY: the caller guarantees every read and write; the loop runs `fb.count` times and
    // only writes `fb.count` (through `w`, which nothing else uses meanwhile).
    unsafe {
        macro_rules! run {
            ($window:expr, $store:expr) => {
                asm!(
                    interior_loop!($window, $store, next_window!()),
                    a0 = out(reg) _, a1 = out(reg) _, a2 = out(reg) _, a3 = out(reg) _,
                    x = inout(reg) x => _, y = inout(reg) y => _, c = in(reg) c, w = in(reg) w,
                    v = out(reg) _, t = out(reg) _, w0 = out(reg) _, w1 = out(reg) _,
                    options(nostack),
                )
            };
        }
        macro_rules! run_w {
            ($window:expr, $store:expr) => {
                asm!(
                    interior_loop!($window, $store, next_window_w!()),
                    a0 = out(reg) _, a1 = out(reg) _, a2 = out(reg) _, a3 = out(reg) _,
                    x = inout(reg) x => _, y = inout(reg) y => _,
                    c = inout(reg) (*w).count => _, w = in(reg) w,
                    v = out(reg) _, t = out(reg) _, w0 = out(reg) _, w1 = out(reg) _,
                    options(nostack),
                )
            };
        }
        match (widened, five, clamp) {
            (false, false, false) => run!(window3!(), store_bytes!()),
            (false, false, true) => run!(window3!(), store_clamped!("[{w}, #592]")),
            (false, true, false) => run!(window5!(), store_bytes!()),
            (false, true, true) => run!(window5!(), store_clamped!("[{w}, #592]")),
            (true, false, false) => run_w!(window3w!(), store_bytes!()),
            (true, false, true) => run_w!(window3w!(), store_clamped!("[{w}, #592]")),
            (true, true, false) => run_w!(window5w!(), store_bytes!()),
            (true, true, true) => run_w!(window5w!(), store_clamped!("[{w}, #592]")),
        }
    }
}

/// Adds the taps `ky.0..ky.1` x `kx.0..kx.1` of a window to `acc`.
///
/// # Safety
/// `x` points at the input element of tap `(ky.0, kx.0)`, channel `c0`; for every tap in the
/// ranges, `x + (ky - ky.0) * row + (kx - kx.0) * col` and the three bytes after it are inside
/// the input.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn window_taps(
    acc: &mut [i32; 4],
    x: *const i8,
    col: usize,
    fb: &FilterBlock,
    kernel_w: usize,
    ky: (usize, usize),
    kx: (usize, usize),
    off2: u32,
) {
    let mut xr = x;
    for ky in ky.0..ky.1 {
        let mut xp = xr;
        for kx in kx.0..kx.1 {
            // SAFETY: the caller guarantees the tap is inside the input; the tap index is below
            // `kernel_h * kernel_w <= MAX_TAPS`.
            unsafe { tap(acc, xp, &fb.taps[ky * kernel_w + kx], off2) };
            xp = xp.wrapping_add(col);
        }
        xr = xr.wrapping_add(fb.row);
    }
}

/// Output columns whose window lies entirely inside the input: `lo..hi`.
fn interior_columns(g: &ConvGeometry) -> (usize, usize) {
    let lo = g.pad_left.div_ceil(g.stride_w).min(g.output.w);
    let span = (g.kernel_w - 1) * g.dilation_w;
    let hi = if g.input.w + g.pad_left > span {
        ((g.input.w + g.pad_left - 1 - span) / g.stride_w + 1).min(g.output.w)
    } else {
        0
    };
    (lo, hi.max(lo))
}

/// The depthwise convolution with channel multiplier 1; the caller has checked every argument
/// (as `check_depthwise_s8` does) and [`supports`]. `false` (nothing written) when `scratch` is
/// shorter than the filter block.
///
/// Stride-1 layers whose channels are a multiple of four run [`planes`] (padded bands copied
/// once per channel block, every window on the unrolled loop); the rest, and rows too long for
/// a plane, sum each block in place with the padding's taps skipped.
pub(crate) fn depthwise_loop(
    p: &DepthwiseS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) -> bool {
    let g = &p.geometry;
    // Strided layers read several input pixels per output, which copying would cost more
    // than the widened taps save.
    if g.stride_h == 1 && g.stride_w == 1 {
        let (x, y) = (input.as_ptr(), output.as_mut_ptr());
        // SAFETY: `input` and `output` are the checked NHWC tensors, distinct slices.
        if unsafe { planes(p, x, y, filter, bias, false, &mut *scratch) } {
            return true;
        }
    }
    let q = &p.quant;
    let c = g.input.c;
    let taps = g.kernel_h * g.kernel_w;
    let off = q.input_offset;
    if c >= 4 {
        let Some((fb, _)) = FilterBlock::in_scratch(scratch, g, q) else {
            return false;
        };
        for c0 in (0..c & !3).step_by(4) {
            let (fin, b0) = fb.prepare(q, filter, c, bias, c0, taps);
            block_loop(g, input, fb, b0, c0, &fin, pack16(off, off), output);
        }
    }
    let tail = c & !3;
    if tail < c {
        tail_channels(p, input, filter, bias, output, tail);
    }
    true
}

/// Every output pixel of one block of four channels (`c0..c0 + 4`).
#[allow(clippy::too_many_arguments)]
fn block_loop(
    g: &ConvGeometry,
    input: &[i8],
    fb: &mut FilterBlock,
    b0: [i32; 4],
    c0: usize,
    fin: &Finish4,
    off2: u32,
    output: &mut [i8],
) {
    let c = g.input.c;
    let (in_h, in_w) = (g.input.h, g.input.w);
    let (out_h, out_w) = (g.output.h, g.output.w);
    let (kh, kw) = (g.kernel_h, g.kernel_w);
    let col = g.dilation_w * c;
    let (ox_lo, ox_hi) = interior_columns(g);
    let dense = g.dilation_h == 1 && g.dilation_w == 1;
    let unrolled = fin.fast().is_some() && dense && kh == kw && (kh == 3 || kh == 5);
    let x0 = input.as_ptr().wrapping_add(c0);
    let y0 = output.as_mut_ptr().wrapping_add(c0);
    for n in 0..g.input.n {
        for oy in 0..out_h {
            let ky = tap_span(oy, g.stride_h, g.pad_top, g.dilation_h, kh, in_h);
            let out_row = y0.wrapping_add((n * out_h + oy) * out_w * c);
            if ky.0 == ky.1 {
                // No valid row: every output of the row is the bias, requantized.
                for ox in 0..out_w {
                    // SAFETY: output pixel `ox` of the row exists and holds the block's four
                    // channels (`c0 + 4 <= c`).
                    unsafe {
                        write_unaligned(out_row.wrapping_add(ox * c) as *mut u32, fin.apply(b0))
                    };
                }
                continue;
            }
            let iy = (oy * g.stride_h + ky.0 * g.dilation_h) as isize - g.pad_top as isize;
            let row_base = ((n * in_h) as isize + iy) * (in_w * c) as isize;
            // Input element offset of tap (ky.0, 0) of output column `ox` (outside the input
            // when that tap is in the padding).
            let pixel = |ox: usize| {
                row_base + ((ox * g.stride_w) as isize - g.pad_left as isize) * c as isize
            };
            let mut ox = 0;
            while ox < out_w {
                if unrolled && ky == (0, kh) && ox == ox_lo && ox_lo < ox_hi {
                    fb.count = (ox_hi - ox_lo) as u32;
                    // SAFETY: the windows of columns `ox_lo..ox_hi` with every row valid are
                    // inside the input; the output row has `out_w` pixels of `c` channels; the
                    // block holds the folded bias and the fast requantization (`unrolled`).
                    unsafe {
                        run_interior(
                            kh == 5,
                            fin.clamps(),
                            false,
                            x0.wrapping_offset(pixel(ox)),
                            c,
                            fb,
                            out_row.wrapping_add(ox * c),
                        )
                    };
                    ox = ox_hi;
                    continue;
                }
                let kx = tap_span(ox, g.stride_w, g.pad_left, g.dilation_w, kw, in_w);
                let mut acc = b0;
                if kx.0 < kx.1 {
                    let first = pixel(ox) + (kx.0 * col) as isize;
                    // SAFETY: `tap_range` keeps every tap of `ky` x `kx` inside the input, and the
                    // block's four channels end at or before the pixel's last channel.
                    unsafe {
                        window_taps(
                            &mut acc,
                            x0.wrapping_offset(first),
                            col,
                            fb,
                            kw,
                            ky,
                            kx,
                            off2,
                        )
                    };
                }
                // SAFETY: output pixel `ox` of this row exists and holds the block's channels.
                unsafe {
                    write_unaligned(out_row.wrapping_add(ox * c) as *mut u32, fin.apply(acc))
                };
                ox += 1;
            }
        }
    }
}

/// The channels `first..c` (fewer than four) with the portable arithmetic.
fn tail_channels(
    p: &DepthwiseS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    first: usize,
) {
    let g = &p.geometry;
    let q = &p.quant;
    let c = g.input.c;
    crate::reference::conv::for_each_window(g, |px, window| {
        for ch in first..c {
            let mut acc = 0i32;
            window.for_each_tap(g, |ipx, t| {
                acc = mac(
                    acc,
                    input[ipx * c + ch] as i32,
                    q.input_offset,
                    filter[t * c + ch] as i32,
                );
            });
            output[px * c + ch] = finish(q, acc, bias, ch);
        }
    });
}

/// The depthwise convolution (channel multiplier 1, channels a multiple of four) one block of
/// four channels at a time, in bands of rows copied to a plane in `scratch` (sized by
/// [`super::plane_caps`]): `false` (nothing written) when the geometry is not one the planes
/// take, `scratch` is short, or `in_place` and the band schedule would read an input row
/// after an output overwrote it. The caller has checked every argument (and, `in_place`,
/// that `x == y` holds the input and at least as many input as output pixels per image).
///
/// Output channel `ch` only reads input channel `ch`, so once a block's input rows are copied
/// to scratch (with the padding written out as the input zero point, as in [`inplace`]), the
/// block's outputs may overwrite its input channels, and no other block reads them. Rows the
/// previous band copied move to the top of the plane (they may have been overwritten in `x`
/// since); the others come from `x`. Blocks on the unrolled 3x3/5x5 loop copy their rows
/// widened to int16 pairs (one `LDRD` per tap); the others run [`block_loop`] on raw rows. Every
/// window of a band is interior, and each block's filter is widened once per call.
///
/// # Safety
/// `x` holds the NHWC input and `y` room for the NHWC output (they may be the same buffer when
/// `in_place`, otherwise they do not overlap).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn planes(
    p: &DepthwiseS8Params,
    x: *const i8,
    y: *mut i8,
    filter: &[i8],
    bias: Option<&[i32]>,
    in_place: bool,
    scratch: &mut [u8],
) -> bool {
    let g = &p.geometry;
    let q = &p.quant;
    let (ih, iw, c) = (g.input.h, g.input.w, g.input.c);
    let (oh, ow) = (g.output.h, g.output.w);
    let (pt, pl) = (g.pad_top, g.pad_left);
    let pw = iw + pl + g.pad_right;
    let (s, dk) = (g.stride_h, (g.kernel_h - 1) * g.dilation_h + 1);
    let taps = g.kernel_h * g.kernel_w;
    // Plane rows (of `pw` pixels) and output rows (of `ow` pixels) per band.
    let Some((rows_cap, out_cap)) = super::plane_caps(g) else {
        return false;
    };
    let band_end = |oy0: usize| {
        let mut oy1 = oy0 + 1;
        while oy1 < oh && oy1 - oy0 < out_cap && (oy1 - oy0) * s + dk <= rows_cap {
            oy1 += 1;
        }
        oy1
    };
    // In place, an input row read from `x` must not hold any output written so far (pixels
    // below `oy0 * ow` of the image): checked for the whole schedule before anything is written.
    if in_place {
        let (mut oy0, mut end) = (0, 0);
        while oy0 < oh {
            let oy1 = band_end(oy0);
            let (top, count) = (oy0 * s, (oy1 - 1 - oy0) * s + dk);
            let first = top.max(end).max(pt);
            if first < (top + count).min(pt + ih) && (first - pt) * iw < oy0 * ow {
                return false;
            }
            end = top + count;
            oy0 = oy1;
        }
    }
    let raw_g = |rows: usize, out_rows: usize| ConvGeometry {
        input: crate::shape::Shape::new(1, rows, pw, 4),
        output: crate::shape::Shape::new(1, out_rows, ow, 4),
        pad_top: 0,
        pad_bottom: 0,
        pad_left: 0,
        pad_right: 0,
        ..*g
    };
    let zp = lanes8(-q.input_offset);
    let zp16 = pack16(-q.input_offset, -q.input_offset);
    let off2 = pack16(q.input_offset, q.input_offset);
    let Some((fb, scratch)) = FilterBlock::in_scratch(scratch, &raw_g(rows_cap, 1), q) else {
        return false;
    };
    let (raw_row, raw_back) = (fb.row, fb.back);
    // The widened plane's strides (8 bytes per pixel).
    let wide_row = g.dilation_h * pw * 8;
    let wide_back = (g.stride_w * 8) as isize - ((g.kernel_h - 1) * wide_row) as isize;
    let unrollable = g.dilation_h == 1
        && g.dilation_w == 1
        && g.kernel_h == g.kernel_w
        && (g.kernel_h == 3 || g.kernel_h == 5);
    // Only the bytes a band can reach are zeroed (a 6x6 layer uses a tenth of the buffers,
    // and clearing all of them cost more than its windows' loop overhead): a band reads at
    // most `rows_cap` rows of the padded image (widened: 8 bytes per pixel) and writes at most
    // `out_cap` rows of the output (4 bytes per pixel); `plane_lens` sizes both.
    let (plane_len, out_len) = super::plane_lens(g, rows_cap, out_cap);
    let Some((plane, rest)) = crate::path::split_aligned(scratch, plane_len) else {
        return false;
    };
    let Some(out) = rest.get_mut(..out_len) else {
        return false;
    };
    // SAFETY: `plane` starts 8-byte aligned and `out` right after it (`plane_len` is a
    // multiple of 8); their lengths are multiples of 8 and 4: whole words.
    unsafe {
        core::ptr::write_bytes(plane.as_mut_ptr() as *mut u32, 0, plane_len / 4);
        core::ptr::write_bytes(out.as_mut_ptr() as *mut u32, 0, out_len / 4);
    }
    // SAFETY: `i8` and `u8` have the same size and alignment, and every bit pattern is valid
    // for both; the two slices are disjoint parts of `scratch`, borrowed for this call.
    let (plane, out) = unsafe {
        (
            core::slice::from_raw_parts_mut(plane.as_mut_ptr() as *mut i8, plane_len),
            core::slice::from_raw_parts_mut(out.as_mut_ptr() as *mut i8, out_len),
        )
    };
    for c0 in (0..c).step_by(4) {
        let (fin, b0) = fb.prepare(q, filter, c, bias, c0, taps);
        // Blocks on the unrolled loop read widened rows: no `SXTB16` per tap.
        let widened = unrollable && fin.fast().is_some();
        let px = if widened { 8 } else { 4 };
        (fb.row, fb.back) = if widened {
            (wide_row, wide_back)
        } else {
            (raw_row, raw_back)
        };
        let row_bytes = pw * px;
        for n in 0..g.input.n {
            let img = x.wrapping_add(n * ih * iw * c + c0);
            let xp = plane.as_mut_ptr();
            let fill = |from: usize, pixels: usize| {
                for i in from..from + pixels {
                    // SAFETY: the caller passes pixels of the plane (`i < count * pw`, a
                    // band's rows, so `8 * i < plane_len`).
                    unsafe {
                        if widened {
                            (xp.add(8 * i) as *mut u32).write(zp16);
                            (xp.add(8 * i + 4) as *mut u32).write(zp16);
                        } else {
                            (xp.add(4 * i) as *mut u32).write(zp);
                        }
                    }
                }
            };
            // Padded rows `ptop..end` are in the plane.
            let (mut oy0, mut ptop, mut end) = (0, 0, 0usize);
            while oy0 < oh {
                let oy1 = band_end(oy0);
                let (top, count) = (oy0 * s, (oy1 - 1 - oy0) * s + dk);
                let keep = end.saturating_sub(top);
                if keep > 0 {
                    let at = (top - ptop) * row_bytes;
                    plane.copy_within(at..at + keep * row_bytes, 0);
                }
                for i in keep..count {
                    let r = top + i;
                    if r < pt || r >= pt + ih {
                        fill(i * pw, pw);
                        continue;
                    }
                    fill(i * pw, pl);
                    let src = img.wrapping_add((r - pt) * iw * c);
                    let dst = xp.wrapping_add(px * (i * pw + pl));
                    // SAFETY: the `iw` pixels of input row `r - pt` of image `n` exist and
                    // their channels `c0..c0 + 4` are inside the input (the caller's guarantee,
                    // and in place the schedule check above); their plane pixels are row `i`'s
                    // (`i < count <= rows_cap`), word aligned.
                    unsafe {
                        if widened {
                            widen_words_strided(dst, src, c, iw);
                        } else {
                            copy_words(dst, 4, src, c, iw);
                        }
                    }
                    fill(i * pw + pl + iw, g.pad_right);
                }
                (ptop, end) = (top, top + count);
                if widened {
                    for oy in 0..oy1 - oy0 {
                        fb.count = ow as u32;
                        // SAFETY: every window of the band is interior (the plane holds the
                        // padded rows `top..top + count` the band reads, widened), and output
                        // row `oy` of `out` has `ow` pixels of 4 bytes.
                        unsafe {
                            run_interior(
                                g.kernel_h == 5,
                                fin.clamps(),
                                true,
                                plane.as_ptr().add(oy * s * row_bytes),
                                4,
                                &mut *fb,
                                out.as_mut_ptr().add(oy * ow * 4),
                            )
                        };
                    }
                } else {
                    let bg = raw_g(count, oy1 - oy0);
                    let xs = &plane[..count * row_bytes];
                    block_loop(&bg, xs, &mut *fb, b0, 0, &fin, off2, out);
                }
                let dst = y.wrapping_add((n * oh * ow + oy0 * ow) * c + c0);
                // SAFETY: output pixels `oy0 * ow..oy1 * ow` of image `n` hold channels
                // `c0..c0 + 4` inside the output; `out` holds their `(oy1 - oy0) * ow` words.
                unsafe { copy_words(dst, c, out.as_ptr(), 4, (oy1 - oy0) * ow) };
                oy0 = oy1;
            }
        }
    }
    true
}

/// Widens `n` words of four int8 channels (unaligned) from `src`, `src_step` bytes apart, into
/// `n` pixels of two words at `dst`: `(c0, c2)` and `(c1, c3)` as int16 pairs, like the
/// filter block's taps.
///
/// # Safety
/// The `n` source words are readable, `dst` is word aligned with `8 * n` writable bytes, and
/// the two do not overlap.
#[inline(always)]
unsafe fn widen_words_strided(dst: *mut i8, src: *const i8, src_step: usize, n: usize) {
    if n == 0 {
        return;
    }
    // SAFETY: every access is one of the words the caller guarantees.
    unsafe {
        asm!(
            "2:",
            "ldr {a}, [{s}]",
            "add {s}, {s}, {ss}",
            "sxtb16 {b}, {a}",
            "sxtb16 {a}, {a}, ror #8",
            "strd {b}, {a}, [{d}], #8",
            "subs {n}, {n}, #1",
            "bne 2b",
            s = inout(reg) src => _,
            d = inout(reg) dst => _,
            n = inout(reg) n => _,
            ss = in(reg) src_step,
            a = out(reg) _,
            b = out(reg) _,
            options(nostack),
        );
    }
}

/// Copies `n` words (unaligned) from `src`, `src_step` bytes apart, to `dst`, `dst_step` bytes
/// apart: two per iteration, in assembly (a plane's rows are short, and the compiler's loop
/// costs three times as much).
///
/// # Safety
/// The `n` source and destination words are valid and the two sets do not overlap.
#[inline(always)]
unsafe fn copy_words(dst: *mut i8, dst_step: usize, src: *const i8, src_step: usize, n: usize) {
    if n == 0 {
        return;
    }
    // SAFETY: an odd first word, then pairs; every access is one of the `n` words the caller
    // guarantees.
    unsafe {
        asm!(
            "lsrs {n}, {n}, #1",
            "bcc 3f",
            "ldr {t}, [{s}]",
            "add {s}, {s}, {ss}",
            "str {t}, [{d}]",
            "add {d}, {d}, {ds}",
            "3:",
            "cmp {n}, #0",
            "beq 4f",
            "2:",
            "ldr {t}, [{s}]",
            "ldr {u}, [{s}, {ss}]",
            "add {s}, {s}, {ss}, lsl #1",
            "str {t}, [{d}]",
            "str {u}, [{d}, {ds}]",
            "add {d}, {d}, {ds}, lsl #1",
            "subs {n}, {n}, #1",
            "bne 2b",
            "4:",
            s = inout(reg) src => _,
            d = inout(reg) dst => _,
            n = inout(reg) n => _,
            ss = in(reg) src_step,
            ds = in(reg) dst_step,
            t = out(reg) _,
            u = out(reg) _,
            options(nostack),
        );
    }
}

/// The in-place depthwise convolution (channel multiplier 1, output over the input, no more
/// output than input pixels per image) on the DSP loop: `true` when it ran, `false` when this
/// geometry needs the portable loop (a schedule that would need an input row after it was
/// overwritten, or a `scratch` shorter than `depthwise_conv_s8_inplace_scratch_len_dsp`).
/// The caller has checked every argument.
///
/// Channel counts that are a multiple of four run [`planes`], one channel block at a time.
/// Otherwise the output is computed in bands of rows of all channels. A band's input rows are
/// first copied to `scratch`
/// (rows per band from [`super::band_rows`]) with the padding written out as the input zero point (`x + input_offset = 0`, so a
/// padded tap adds nothing, exactly as TFLM skipping it): rows the previous band also used come
/// from its copy (they may have been overwritten since), the others from `buf`, which the
/// schedule only allows while they are intact (no output written so far covers them, checked
/// before anything is written). The band is then the unpadded out-of-place DSP convolution of
/// that copy (every window is interior, so 3x3 and 5x5 windows all take the unrolled loop),
/// written over `buf`. Output pixel `k` of an image lands on input pixel `k`, so a band's
/// writes only reach input pixels before its last output.
pub(crate) fn inplace(
    p: &DepthwiseS8Params,
    buf: &mut [i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    scratch: &mut [u8],
) -> bool {
    let b = buf.as_mut_ptr();
    // SAFETY: `buf` holds the input and, over it, the output (checked by the caller).
    if unsafe { planes(p, b, b, filter, bias, true, scratch) } {
        return true;
    }
    inplace_bands(p, buf, filter, bias, scratch)
}

/// [`inplace`] on bands of all channels, for what [`planes`] does not take (channel counts
/// that are not a multiple of four).
#[inline(never)]
fn inplace_bands(
    p: &DepthwiseS8Params,
    buf: &mut [i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    scratch: &mut [u8],
) -> bool {
    let g = &p.geometry;
    let (ih, iw, c) = (g.input.h as isize, g.input.w, g.input.c);
    let (oh, ow) = (g.output.h, g.output.w);
    let pw = iw + g.pad_left + g.pad_right;
    let row_bytes = pw * c;
    let dk = (g.kernel_h - 1) * g.dilation_h + 1;
    let s = g.stride_h;
    if row_bytes == 0 || oh == 0 || ow == 0 || g.kernel_h * g.kernel_w > MAX_TAPS {
        return false;
    }
    let Some((cap, most)) = super::band_rows(g) else {
        return false;
    };
    let Some((rows, block)) =
        crate::path::split_aligned(scratch, (most * row_bytes).next_multiple_of(8))
    else {
        return false;
    };
    if block.len() < super::FILTER_BLOCK_BYTES {
        return false;
    }
    // SAFETY: `i8` and `u8` have the same size and alignment and every bit pattern is valid
    // for both; `rows` is borrowed from `scratch` for this call.
    let rows = unsafe { core::slice::from_raw_parts_mut(rows.as_mut_ptr() as *mut i8, rows.len()) };
    // Padded input rows `top..top + count` (image rows, negative in the top padding) that
    // output rows `a..b` read.
    let rows_of = |a: usize, b: usize| {
        let top = (a * s) as isize - g.pad_top as isize;
        (top, (b - 1 - a) * s + dk)
    };
    let band_end = |oy0: usize| {
        let mut oy1 = oy0 + 1;
        while oy1 < oh && rows_of(oy0, oy1 + 1).1 <= cap {
            oy1 += 1;
        }
        oy1
    };
    // No rows are kept before the first band: an empty range at its top row (negative when
    // the window starts in the top padding, e.g. SAME padding with stride 1).
    let none_kept = (rows_of(0, 1).0, rows_of(0, 1).0);
    // The band schedule, checked in full before anything is written: image rows read from
    // `buf` must not be covered by the outputs written so far (pixels `0..oy0 * ow`).
    {
        let (mut oy0, mut kept) = (0, none_kept);
        while oy0 < oh {
            let oy1 = band_end(oy0);
            let (top, count) = rows_of(oy0, oy1);
            if count > cap || top < kept.0 {
                return false;
            }
            let end = top + count as isize;
            let first_read = top.max(kept.1).max(0);
            if first_read < end.min(ih) && (first_read as usize) * iw < oy0 * ow {
                return false;
            }
            kept = (top, end);
            oy0 = oy1;
        }
    }
    let zp = (-p.quant.input_offset) as i8;
    let in_row = iw * c;
    let pad_l = g.pad_left * c;
    for n in 0..g.input.n {
        let in_base = n * g.input.h * in_row;
        let out_base = n * oh * ow * c;
        let (mut oy0, mut kept) = (0usize, none_kept);
        while oy0 < oh {
            let oy1 = band_end(oy0);
            let (top, count) = rows_of(oy0, oy1);
            // Rows the previous band copied move to the front (the band starts at or below
            // the previous one), the others are written afresh.
            let keep_from = top.max(kept.0);
            let keep = (kept.1 - keep_from).max(0) as usize;
            if keep > 0 {
                let at = (keep_from - kept.0) as usize * row_bytes;
                rows.copy_within(at..at + keep * row_bytes, 0);
            }
            for i in keep..count {
                let r = top + i as isize;
                let dst = &mut rows[i * row_bytes..(i + 1) * row_bytes];
                if r < 0 || r >= ih {
                    dst.fill(zp);
                    continue;
                }
                let src = in_base + r as usize * in_row;
                dst[..pad_l].fill(zp);
                dst[pad_l..pad_l + in_row].copy_from_slice(&buf[src..src + in_row]);
                dst[pad_l + in_row..].fill(zp);
            }
            let band = ConvGeometry {
                input: crate::shape::Shape::new(1, count, pw, c),
                output: crate::shape::Shape::new(1, oy1 - oy0, ow, c),
                pad_top: 0,
                pad_bottom: 0,
                pad_left: 0,
                pad_right: 0,
                ..*g
            };
            let bp = DepthwiseS8Params {
                geometry: band,
                quant: p.quant,
            };
            let out = &mut buf[out_base + oy0 * ow * c..out_base + oy1 * ow * c];
            // Channel counts that are not a multiple of four take no planes: the loop's scratch
            // is its filter block (checked above).
            depthwise_loop(
                &bp,
                &rows[..count * row_bytes],
                filter,
                bias,
                out,
                &mut *block,
            );
            kept = (top, top + count as isize);
            oy0 = oy1;
        }
    }
    true
}
