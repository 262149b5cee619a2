//! NEON inner loops of the int8 convolution for aarch64 (phones), and the NEON building blocks
//! the other NEON paths share: the exact vector requantization ([`requantize4`], [`StageS8`]),
//! the tile driver for convolution-like matrix products ([`TileKernel`], [`pointwise`],
//! [`general`]) and the int8 stores.
//!
//! Compiled on aarch64 with NEON unless the `force-portable` feature is set. When the build
//! enables the dot-product extension (`-C target-feature=+dotprod`, or a `-C target-cpu` that has
//! it, e.g. `cortex-a76`), the tiles use `SDOT`; otherwise they widen to int16 and use
//! `SMLAL`/`SMLAL2`. `SDOT` is a one-line `asm!` because `vdotq_s32` is still unstable.
//!
//! # Loop structure
//!
//! A convolution is a matrix product per group: output channels (rows of the OHWI filter) by
//! output pixels, summed over `k = kernel_h * kernel_w * in_c / groups`. Output channels are
//! processed in super-blocks of [`SB`] whose bias and requantization constants are staged once
//! on the stack, then in tiles of [`PT`] pixels by [`OB`] output channels whose sixteen
//! accumulators stay in registers. A pointwise convolution (and a fully connected layer) reads
//! its pixel rows in place; any other geometry gathers each pixel's window into a stack buffer
//! of [`KC`] elements per pixel (im2col, a chunk at a time), writing padded taps as an element
//! whose products vanish, so every window is one contiguous dot product with its filter row.
//! No scratch is needed: [`super::conv_s8_scratch_len_portable`] (the NEON path's too) is 0.
//!
//! # Why the results are bit-identical to the portable loops (and TFLM)
//!
//! * **Sums.** Integer sums in wrapping 32-bit arithmetic do not depend on their order. The
//!   baseline tile forms `x + input_offset` in int16 (`SADDW`; it is in `-255..=255`), widens the
//!   filter with `SXTL` and accumulates the int16 products into int32 lanes (`SMLAL`), modulo
//!   2^32 like TFLM's `int32_t` accumulator. `SDOT` only takes int8 operands, so the dot-product
//!   tile uses `sum w * (x + off) = sum w * x + off * sum w` (exact modulo 2^32) and folds
//!   `off * sum w` into the bias once per output channel and call. A padded tap is gathered as
//!   the input zero point `x = -off` (in `-128..=127` because `off` is validated to
//!   `-127..=128`), so it contributes `w * (x + off) = 0` on both tiles, exactly as TFLM skipping
//!   it does.
//! * **High multiply.** gemmlowp's `SaturatingRoundingDoublingHighMul(a, b)` adds a nudge of
//!   `2^30` (non-negative products) or `1 - 2^30` (negative ones) and divides by `2^31`
//!   truncating toward zero; both cases equal `floor((a * b + 2^30) / 2^31)` (ties toward
//!   +infinity whatever the sign), and only `a = b = i32::MIN` saturates (to `i32::MAX`).
//!   `SQRDMULH` computes `sat((2 * a * b + 2^31) >> 32)`: the same value for every pair, the same
//!   single saturation. So, unlike the rounding shift below, it needs no fix-up.
//! * **Rounding shift.** `RoundingDivideByPOT(x, e)` rounds half away from zero, while `SRSHL` by
//!   `-e` rounds half up. Adding -1 to a negative `x` first (when `e > 0`; the fix-up of
//!   gemmlowp's NEON `RoundingDivideByPOT`, which ruy uses too) moves exactly the negative ties
//!   down; other values cannot cross a rounding boundary by 1 because the boundaries are the
//!   ties. The add saturates, which only matters for `i32::MIN`, a multiple of `2^e` that both
//!   forms return exactly.
//! * **Left shift.** `SSHL` by a non-negative amount wraps, like TFLM's `x * (1 << left_shift)`.
//!
//! The unit tests at the bottom check the vector requantization against
//! [`crate::quant::multiply_by_quantized_multiplier`] on edge values and a random sweep, and
//! every tile and driver against the portable loops on shapes that cross the tile, super-block
//! and gather-chunk boundaries.

use super::{check_conv_s8, conv_s8_scratch_len_portable, ChannelQuantS8, ConvS8Params};
use crate::error::{check_min_len, Result};
use crate::reference::conv::{for_each_window, is_pointwise, Window};
use crate::shape::ConvGeometry;
use core::arch::aarch64::*;

/// Output channels per tile: one NEON register of four int32 (or f32) sums per pixel.
pub(crate) const OB: usize = 4;

/// Pixels per tile: with [`OB`] channels, 16 accumulator registers out of NEON's 32.
pub(crate) const PT: usize = 4;

/// Output channels per super-block, whose bias and requantization constants are staged on the
/// stack (4 x 256 bytes for int8).
pub(crate) const SB: usize = 64;

/// Gathered window elements per pixel and chunk (the im2col buffer is `PT * KC` elements).
pub(crate) const KC: usize = 512;

/// Windows of at most this many elements (the 3x3 stem on RGB has 27) are gathered whole,
/// row by row, and padded to a multiple of 16 together with a staged copy of the filter rows,
/// so the tiles run without a tail.
pub(crate) const WK: usize = 64;

// ---------------------------------------------------------------------------------------------
// Exact vector requantization.

/// TFLM's `MultiplyByQuantizedMultiplier(acc, multiplier, shift)` on four lanes, bit-exact (see
/// the module documentation): `left = max(shift, 0)`, `right = min(shift, 0)` (a non-positive
/// shift count for `SRSHL`).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn requantize4(
    acc: int32x4_t,
    mult: int32x4_t,
    left: int32x4_t,
    right: int32x4_t,
) -> int32x4_t {
    let x = vqrdmulhq_s32(vshlq_s32(acc, left), mult);
    // -1 in the lanes where x < 0 and the shift is not zero (both sign bits set), else 0.
    let fixup = vshrq_n_s32::<31>(vandq_s32(x, right));
    vrshlq_s32(vqaddq_s32(x, fixup), right)
}

/// Loads four `i32` from the start of `s`.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn load_i32x4(s: &[i32]) -> int32x4_t {
    let s = &s[..4];
    // SAFETY: `s` holds exactly four readable `i32`.
    unsafe { vld1q_s32(s.as_ptr()) }
}

/// Bias and requantization constants of up to [`SB`] consecutive output channels, laid out for
/// vector loads. Lanes past the staged channels hold zeros (their results are never stored).
#[derive(Clone, Copy)]
pub(crate) struct StageS8 {
    /// Bias, plus `input_offset * sum(filter row)` on the dot-product tiles.
    pub(crate) bias: [i32; SB],
    mult: [i32; SB],
    left: [i32; SB],
    right: [i32; SB],
    out_offset: i32,
    act_min: i32,
    act_max: i32,
}

impl StageS8 {
    /// The constants of channels `o0..o0 + n` (`n <= SB`) of a validated `q` and its bias.
    pub(crate) fn new(q: &ChannelQuantS8, bias: Option<&[i32]>, o0: usize, n: usize) -> Self {
        let mut s = StageS8 {
            bias: [0; SB],
            mult: [0; SB],
            left: [0; SB],
            right: [0; SB],
            out_offset: q.output_offset,
            act_min: q.act_min,
            act_max: q.act_max,
        };
        for j in 0..n.min(SB) {
            let o = o0 + j;
            let (mult, shift) = q.params(o);
            s.mult[j] = mult;
            s.left[j] = shift.max(0);
            s.right[j] = shift.min(0);
            s.bias[j] = bias.map_or(0, |b| b[o]);
        }
        s
    }

    /// Channels `j..j + 4` of the stage (`j + 4 <= SB`): adds the bias to the sums `acc`,
    /// requantizes, adds the output offset (wrapping, like TFLM's `int32_t` add) and clamps.
    #[target_feature(enable = "neon")]
    #[inline]
    pub(crate) fn finish4(&self, j: usize, acc: int32x4_t) -> int32x4_t {
        let acc = vaddq_s32(acc, load_i32x4(&self.bias[j..]));
        let v = requantize4(
            acc,
            load_i32x4(&self.mult[j..]),
            load_i32x4(&self.left[j..]),
            load_i32x4(&self.right[j..]),
        );
        let v = vaddq_s32(v, vdupq_n_s32(self.out_offset));
        vminq_s32(
            vmaxq_s32(v, vdupq_n_s32(self.act_min)),
            vdupq_n_s32(self.act_max),
        )
    }
}

impl StageS8 {
    /// The staged bias of channels `j..j + 4`.
    #[target_feature(enable = "neon")]
    #[inline]
    pub(crate) fn bias4(&self, j: usize) -> int32x4_t {
        load_i32x4(&self.bias[j..])
    }

    /// Channels `j..j + 4`: `acc` (bias included) requantized, plus the output offset
    /// (wrapping, like TFLM's `int32_t` add), not clamped.
    #[target_feature(enable = "neon")]
    #[inline]
    fn requant_offset4(&self, j: usize, acc: int32x4_t) -> int32x4_t {
        let r = requantize4(
            acc,
            load_i32x4(&self.mult[j..]),
            load_i32x4(&self.left[j..]),
            load_i32x4(&self.right[j..]),
        );
        vaddq_s32(r, vdupq_n_s32(self.out_offset))
    }

    /// Sixteen channels `j..j + 16` whose sums `acc` already include the bias: requantized,
    /// offset, narrowed with saturation and clamped. Equal to [`StageS8::finish4`] lane by
    /// lane: saturating to int16 then int8 and clamping to a range inside int8 is the same
    /// as clamping the int32 value, and the clamp is skipped when it is the whole int8 range.
    #[target_feature(enable = "neon")]
    #[inline]
    pub(crate) fn finish16_biased(&self, j: usize, acc: [int32x4_t; 4]) -> int8x16_t {
        // Written out lane group by lane group: `array::map` is not always inlined here.
        let v0 = self.requant_offset4(j, acc[0]);
        let v1 = self.requant_offset4(j + 4, acc[1]);
        let v2 = self.requant_offset4(j + 8, acc[2]);
        let v3 = self.requant_offset4(j + 12, acc[3]);
        let v = [v0, v1, v2, v3];
        let lo = vcombine_s16(vqmovn_s32(v[0]), vqmovn_s32(v[1]));
        let hi = vcombine_s16(vqmovn_s32(v[2]), vqmovn_s32(v[3]));
        let b = vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi));
        if self.act_min == -128 && self.act_max == 127 {
            b
        } else {
            // Both bounds are validated to lie in -128..=127.
            let b = vmaxq_s8(b, vdupq_n_s8(self.act_min as i8));
            vminq_s8(b, vdupq_n_s8(self.act_max as i8))
        }
    }
}

/// Narrows four int32 lanes already in `-128..=127` to int8 and stores the first `out.len()`
/// (at most 4) of them.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn store_s8x4(out: &mut [i8], v: int32x4_t) {
    let n16 = vqmovn_s32(v);
    let n8 = vqmovn_s16(vcombine_s16(n16, n16));
    let word = vget_lane_u32::<0>(vreinterpret_u32_s8(n8)).to_le_bytes();
    let m = out.len().min(4);
    for (o, &b) in out[..m].iter_mut().zip(&word) {
        *o = b as i8;
    }
}

/// Narrows sixteen int32 lanes (four registers, lanes in order) already in `-128..=127` to
/// int8 and stores the first `out.len()` (at most 16) of them.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn store_s8x16(out: &mut [i8], v: [int32x4_t; 4]) {
    let lo = vcombine_s16(vqmovn_s32(v[0]), vqmovn_s32(v[1]));
    let hi = vcombine_s16(vqmovn_s32(v[2]), vqmovn_s32(v[3]));
    store_i8x16(out, vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi)));
}

/// Stores the first `out.len()` (at most 16) lanes of `b`.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn store_i8x16(out: &mut [i8], b: int8x16_t) {
    if out.len() >= 16 {
        // SAFETY: `out` has at least 16 writable bytes.
        unsafe { vst1q_s8(out.as_mut_ptr(), b) };
    } else {
        let mut t = [0i8; 16];
        // SAFETY: `t` has 16 writable bytes.
        unsafe { vst1q_s8(t.as_mut_ptr(), b) };
        out.copy_from_slice(&t[..out.len()]);
    }
}

/// Loads the first `min(16, s.len())` bytes of `s`, zero-filling the rest.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn load_s8x16(s: &[i8]) -> int8x16_t {
    if s.len() >= 16 {
        // SAFETY: `s` has at least 16 readable bytes.
        unsafe { vld1q_s8(s.as_ptr()) }
    } else {
        let mut t = [0i8; 16];
        t[..s.len()].copy_from_slice(s);
        // SAFETY: `t` has 16 readable bytes.
        unsafe { vld1q_s8(t.as_ptr()) }
    }
}

// ---------------------------------------------------------------------------------------------
// The tile driver, shared with the f16 convolution and fully connected layer.

/// The inner kernel of [`pointwise`] and [`general`]: sums of products of [`OB`] filter rows
/// with the rows of up to [`PT`] pixels, and what turns them into outputs.
///
/// The tile methods are `unsafe` only because they are compiled with
/// `#[target_feature(enable = "neon")]` (trait methods cannot be safe then); their one
/// precondition is a CPU with NEON, which every build of these modules targets.
pub(crate) trait TileKernel {
    /// Tensor element.
    type Elem: Copy;
    /// The sums of [`OB`] output channels for one pixel.
    type Acc: Copy;
    /// Per-super-block constants.
    type Stage;

    /// The element a padded tap is gathered as: its products contribute nothing.
    fn pad(&self) -> Self::Elem;

    /// A zero weight, which pads staged filter rows (its products with [`TileKernel::pad`]
    /// are zero too).
    fn weight_zero(&self) -> Self::Elem;

    /// The constants of output channels `o0..o0 + n` (`n <= SB`), whose filter rows of `k`
    /// elements each start at `filter[o0 * k]`.
    fn stage(&self, filter: &[Self::Elem], k: usize, o0: usize, n: usize) -> Self::Stage;

    /// All-zero sums.
    ///
    /// # Safety
    /// The CPU has NEON.
    unsafe fn zero(&self) -> Self::Acc;

    /// `a + b`.
    ///
    /// # Safety
    /// The CPU has NEON.
    unsafe fn add(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc;

    /// For each of the `P` pixel rows, the dot products with the [`OB`] filter rows. Every row
    /// has the length of `ws[0]`.
    ///
    /// # Safety
    /// The CPU has NEON.
    unsafe fn tile<const P: usize>(
        &self,
        xs: [&[Self::Elem]; P],
        ws: [&[Self::Elem]; OB],
    ) -> [Self::Acc; P];

    /// Finishes the sums of staged channels `j..j + OB` and writes the first `out.len()`
    /// (at most [`OB`]) outputs.
    ///
    /// # Safety
    /// The CPU has NEON.
    unsafe fn store(&self, stage: &Self::Stage, j: usize, acc: Self::Acc, out: &mut [Self::Elem]);
}

/// The dimensions of a pointwise product: `pixels` rows of `in_c` elements in, `out_c` out,
/// in groups of `cin_g` input and `cout_g` output channels.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dense {
    /// Pixels (or fully connected batch rows).
    pub(crate) pixels: usize,
    /// Input elements per pixel.
    pub(crate) in_c: usize,
    /// Output elements per pixel.
    pub(crate) out_c: usize,
    /// Input channels per group (the dot product length).
    pub(crate) cin_g: usize,
    /// Output channels per group.
    pub(crate) cout_g: usize,
}

/// The [`OB`] filter rows of `k` elements starting at channel `o`, clamped to channels below
/// `end` (the rows past it repeat the last one; their results are discarded).
#[inline(always)]
fn filter_rows<T>(filter: &[T], k: usize, o: usize, end: usize) -> [&[T]; OB] {
    core::array::from_fn(|r| {
        let o = (o + r).min(end - 1);
        &filter[o * k..(o + 1) * k]
    })
}

/// A pointwise convolution (or fully connected layer) through `kern`: for each group and
/// super-block of output channels, tiles of [`PT`] pixels (single pixels at the end) by [`OB`]
/// channels. Arguments are checked by the caller.
#[target_feature(enable = "neon")]
pub(crate) fn pointwise<K: TileKernel>(
    kern: &K,
    d: Dense,
    input: &[K::Elem],
    filter: &[K::Elem],
    output: &mut [K::Elem],
) {
    if d.cout_g == 0 {
        return;
    }
    for grp in 0..d.out_c / d.cout_g {
        let end = (grp + 1) * d.cout_g;
        let mut o0 = grp * d.cout_g;
        while o0 < end {
            let n = SB.min(end - o0);
            let stage = kern.stage(filter, d.cin_g, o0, n);
            let blk = Block { o0, n, end: o0 + n };
            let x0 = grp * d.cin_g;
            let mut px = 0;
            while px + PT <= d.pixels {
                pointwise_tile::<K, PT>(kern, &stage, d, blk, x0, px, input, filter, output);
                px += PT;
            }
            while px < d.pixels {
                pointwise_tile::<K, 1>(kern, &stage, d, blk, x0, px, input, filter, output);
                px += 1;
            }
            o0 += n;
        }
    }
}

/// A super-block: staged channels `o0..end` (`n = end - o0`).
#[derive(Clone, Copy)]
struct Block {
    o0: usize,
    n: usize,
    end: usize,
}

/// Pixels `px..px + P` of a pointwise product, every [`OB`]-channel tile of one super-block.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "neon")]
#[inline]
fn pointwise_tile<K: TileKernel, const P: usize>(
    kern: &K,
    stage: &K::Stage,
    d: Dense,
    blk: Block,
    x0: usize,
    px: usize,
    input: &[K::Elem],
    filter: &[K::Elem],
    output: &mut [K::Elem],
) {
    let xs: [&[K::Elem]; P] = core::array::from_fn(|p| &input[(px + p) * d.in_c + x0..][..d.cin_g]);
    let mut j = 0;
    while j < blk.n {
        let ws = filter_rows(filter, d.cin_g, blk.o0 + j, blk.end);
        // SAFETY: NEON is enabled for this function, so for its callee.
        let acc = unsafe { kern.tile::<P>(xs, ws) };
        let m = OB.min(blk.n - j);
        for (p, &a) in acc.iter().enumerate() {
            let o = (px + p) * d.out_c + blk.o0 + j;
            // SAFETY: as above.
            unsafe { kern.store(stage, j, a, &mut output[o..o + m]) };
        }
        j += OB;
    }
}

/// The input and filter of a general convolution, for [`general_tile`].
struct GeneralArgs<'a, T> {
    g: &'a ConvGeometry,
    input: &'a [T],
    filter: &'a [T],
    /// Input channels per group.
    cin_g: usize,
    /// Filter row length, `kernel_h * kernel_w * cin_g`.
    taps_c: usize,
    /// First input channel of the group.
    x0: usize,
    /// Gathered row length: `taps_c` rounded up to 16 for small windows ([`WK`]), else
    /// `taps_c`.
    kpad: usize,
}

/// Where a general convolution's tiles read their filter rows.
#[derive(Clone, Copy)]
enum Weights<'a, T> {
    /// The filter itself.
    Filter,
    /// The super-block's rows, zero-padded to [`GeneralArgs::kpad`].
    Staged(&'a [[T; WK]; SB]),
}

/// A super-block and where its filter rows are.
#[derive(Clone, Copy)]
struct Tile<'a, T> {
    blk: Block,
    weights: Weights<'a, T>,
}

/// Any convolution through `kern`: for each group and super-block of output channels, the
/// windows of [`PT`] output pixels at a time are gathered into a stack buffer ([`KC`] elements
/// per pixel and chunk, padded taps as [`TileKernel::pad`]) and multiplied by the filter rows.
/// Arguments are checked by the caller.
#[target_feature(enable = "neon")]
pub(crate) fn general<K: TileKernel>(
    kern: &K,
    g: &ConvGeometry,
    input: &[K::Elem],
    filter: &[K::Elem],
    output: &mut [K::Elem],
    cin_g: usize,
    cout_g: usize,
) {
    if cout_g == 0 {
        return;
    }
    let taps_c = g.kernel_h * g.kernel_w * cin_g;
    let out_c = g.output.c;
    let mut buf = [[kern.pad(); KC]; PT];
    // SAFETY: NEON is enabled for this function.
    let zero = unsafe { kern.zero() };
    let mut acc = [[zero; PT]; SB / OB];
    // Small windows: the super-block's filter rows, zero-padded to `kpad` elements.
    let small = taps_c <= WK;
    let kpad = if small {
        taps_c.next_multiple_of(16)
    } else {
        taps_c
    };
    let mut staged = [[kern.weight_zero(); WK]; SB];
    for grp in 0..out_c / cout_g {
        let a = GeneralArgs {
            g,
            input,
            filter,
            cin_g,
            taps_c,
            x0: grp * cin_g,
            kpad,
        };
        let end = (grp + 1) * cout_g;
        let mut o0 = grp * cout_g;
        while o0 < end {
            let n = SB.min(end - o0);
            let stage = kern.stage(filter, taps_c, o0, n);
            let blk = Block { o0, n, end: o0 + n };
            let weights = if small {
                for (j, row) in staged.iter_mut().enumerate().take(n) {
                    let o = o0 + j;
                    row[..taps_c].copy_from_slice(&filter[o * taps_c..(o + 1) * taps_c]);
                    row[taps_c..kpad].fill(kern.weight_zero());
                }
                Weights::Staged(&staged)
            } else {
                Weights::Filter
            };
            // The pending windows; the first window fills every entry so none is ever unset.
            let mut pend: Option<[(usize, Window); PT]> = None;
            let mut count = 0;
            for_each_window(g, |px, w| {
                let wins = pend.get_or_insert([(px, *w); PT]);
                wins[count] = (px, *w);
                count += 1;
                if count == PT {
                    let wins = *wins;
                    let t = Tile { blk, weights };
                    general_tile::<K, PT>(kern, &stage, &a, t, wins, &mut buf, &mut acc, output);
                    count = 0;
                }
            });
            if let Some(wins) = pend {
                for &w in &wins[..count] {
                    let t = Tile { blk, weights };
                    general_tile::<K, 1>(kern, &stage, &a, t, [w], &mut buf, &mut acc, output);
                }
            }
            o0 += n;
        }
    }
}

/// The output pixels `wins` (`(output pixel, window)`) of one super-block of a general
/// convolution: gathers their windows chunk by chunk into `buf`, accumulates every
/// [`OB`]-channel tile into `acc`, then stores.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "neon")]
#[inline]
fn general_tile<K: TileKernel, const P: usize>(
    kern: &K,
    stage: &K::Stage,
    a: &GeneralArgs<K::Elem>,
    t: Tile<K::Elem>,
    wins: [(usize, Window); P],
    buf: &mut [[K::Elem; KC]; PT],
    acc: &mut [[K::Acc; PT]; SB / OB],
    output: &mut [K::Elem],
) {
    let g = a.g;
    let blk = t.blk;
    let tiles = blk.n.div_ceil(OB);
    // SAFETY: NEON is enabled for this function.
    let zero = unsafe { kern.zero() };
    for t in acc[..tiles].iter_mut() {
        t[..P].fill(zero);
    }
    if let Weights::Staged(_) = t.weights {
        for (row, (_, w)) in buf.iter_mut().zip(&wins) {
            gather_window(kern.pad(), a, w, &mut row[..a.kpad]);
        }
        accumulate_chunk::<K, P>(kern, a, t, buf, acc, 0, a.kpad);
        store_tiles(kern, stage, g.output.c, blk, &wins, acc, output);
        return;
    }
    // Filter-order segments (tap, channel range) are packed into `buf` until a chunk is full;
    // `k0` is the filter offset of the chunk's first element.
    let (mut fill, mut k0) = (0, 0);
    for tap in 0..g.kernel_h * g.kernel_w {
        let (ky, kx) = (tap / g.kernel_w, tap % g.kernel_w);
        let mut c0 = 0;
        while c0 < a.cin_g {
            let len = KC.min(a.cin_g - c0);
            if fill + len > KC {
                accumulate_chunk::<K, P>(kern, a, t, buf, acc, k0, fill);
                k0 += fill;
                fill = 0;
            }
            for (row, (_, w)) in buf.iter_mut().zip(&wins) {
                let dst = &mut row[fill..fill + len];
                if (w.ky.0..w.ky.1).contains(&ky) && (w.kx.0..w.kx.1).contains(&kx) {
                    let src = w.pixel(g, ky, kx) * g.input.c + a.x0 + c0;
                    dst.copy_from_slice(&a.input[src..src + len]);
                } else {
                    dst.fill(kern.pad());
                }
            }
            fill += len;
            c0 += len;
        }
    }
    accumulate_chunk::<K, P>(kern, a, t, buf, acc, k0, fill);
    store_tiles(kern, stage, g.output.c, blk, &wins, acc, output);
}

/// Stores the finished sums of every tile of `blk` for the output pixels `wins`.
#[target_feature(enable = "neon")]
#[inline]
fn store_tiles<K: TileKernel, const P: usize>(
    kern: &K,
    stage: &K::Stage,
    out_c: usize,
    blk: Block,
    wins: &[(usize, Window); P],
    acc: &[[K::Acc; PT]; SB / OB],
    output: &mut [K::Elem],
) {
    for (tile, sums) in acc[..blk.n.div_ceil(OB)].iter().enumerate() {
        let j = tile * OB;
        let m = OB.min(blk.n - j);
        for (&(px, _), &s) in wins.iter().zip(sums) {
            let o = px * out_c + blk.o0 + j;
            // SAFETY: NEON is enabled for this function, so for its callee.
            unsafe { kern.store(stage, j, s, &mut output[o..o + m]) };
        }
    }
}

/// Copies `src` to `dst` (equal lengths) with fixed-size moves when it is short, where a call
/// to `memcpy` would cost more than the copy.
#[inline(always)]
fn copy_short<T: Copy>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    if n >= 16 {
        dst.copy_from_slice(src);
    } else if n >= 8 {
        dst[..8].copy_from_slice(&src[..8]);
        dst[n - 8..].copy_from_slice(&src[n - 8..n]);
    } else if n >= 4 {
        dst[..4].copy_from_slice(&src[..4]);
        dst[n - 4..].copy_from_slice(&src[n - 4..n]);
    } else {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s;
        }
    }
}

/// Fills `dst` with `v`, with fixed-size moves when it is short.
#[inline(always)]
fn fill_short<T: Copy>(dst: &mut [T], v: T) {
    let n = dst.len();
    if n >= 16 {
        dst.fill(v);
    } else if n >= 8 {
        dst[..8].copy_from_slice(&[v; 8]);
        dst[n - 8..].copy_from_slice(&[v; 8]);
    } else {
        for d in dst.iter_mut() {
            *d = v;
        }
    }
}

/// The whole window `w` of one output pixel, in filter order, into `row` (`kpad` elements:
/// the window, then `pad`); padded taps are `pad`. The valid taps of a filter row are one copy
/// when they are contiguous in the input (all input channels in one group, no horizontal
/// dilation). Inlined into the pixel loop so that the geometry is read once.
#[inline(always)]
fn gather_window<T: Copy>(pad: T, a: &GeneralArgs<T>, w: &Window, row: &mut [T]) {
    let g = a.g;
    let (kw, cin_g, in_c) = (g.kernel_w, a.cin_g, g.input.c);
    let rl = kw * cin_g;
    let ((ky0, ky1), (kx0, kx1)) = (w.ky, w.kx);
    if ky0 == ky1 || kx0 == kx1 {
        fill_short(row, pad);
        return;
    }
    fill_short(&mut row[..ky0 * rl], pad);
    fill_short(&mut row[ky1 * rl..], pad);
    let (a0, a1) = (kx0 * cin_g, kx1 * cin_g);
    let row_step = g.dilation_h * g.input.w * in_c;
    let tap_step = g.dilation_w * in_c;
    let mut src = w.pixel(g, ky0, kx0) * in_c + a.x0;
    for seg in row[ky0 * rl..ky1 * rl].chunks_exact_mut(rl) {
        fill_short(&mut seg[..a0], pad);
        fill_short(&mut seg[a1..], pad);
        if cin_g == in_c && g.dilation_w == 1 {
            copy_short(&mut seg[a0..a1], &a.input[src..src + (a1 - a0)]);
        } else {
            for (i, tap) in seg[a0..a1].chunks_exact_mut(cin_g.max(1)).enumerate() {
                let s = src + i * tap_step;
                copy_short(tap, &a.input[s..s + cin_g]);
            }
        }
        src += row_step;
    }
}

/// Adds the products of the gathered chunk (`len` elements per pixel, filter offset `k0`) to
/// every tile's sums.
#[target_feature(enable = "neon")]
#[inline]
fn accumulate_chunk<K: TileKernel, const P: usize>(
    kern: &K,
    a: &GeneralArgs<K::Elem>,
    t: Tile<K::Elem>,
    buf: &[[K::Elem; KC]; PT],
    acc: &mut [[K::Acc; PT]; SB / OB],
    k0: usize,
    len: usize,
) {
    let blk = t.blk;
    let xs: [&[K::Elem]; P] = core::array::from_fn(|p| &buf[p][..len]);
    for (tile, sums) in acc[..blk.n.div_ceil(OB)].iter_mut().enumerate() {
        let j = tile * OB;
        let ws: [&[K::Elem]; OB] = match t.weights {
            Weights::Filter => {
                filter_rows(a.filter, a.taps_c, blk.o0 + j, blk.end).map(|r| &r[k0..k0 + len])
            }
            // Rows past the super-block repeat its last one, like `filter_rows`.
            Weights::Staged(st) => {
                core::array::from_fn(|r| &st[(j + r).min(blk.n - 1)][k0..k0 + len])
            }
        };
        // SAFETY: NEON is enabled for this function, so for its callees.
        let part = unsafe { kern.tile::<P>(xs, ws) };
        for (s, p) in sums.iter_mut().zip(part) {
            // SAFETY: as above.
            *s = unsafe { kern.add(*s, p) };
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The int8 tiles.

/// The int8 [`TileKernel`]: sums of `w * (x + input_offset)`, requantized per output channel.
pub(crate) struct S8Tiles<'a> {
    q: &'a ChannelQuantS8<'a>,
    bias: Option<&'a [i32]>,
}

impl<'a> S8Tiles<'a> {
    /// The kernel of validated parameters `q` and a bias of the right length (or none).
    pub(crate) fn new(q: &'a ChannelQuantS8<'a>, bias: Option<&'a [i32]>) -> Self {
        S8Tiles { q, bias }
    }
}

impl TileKernel for S8Tiles<'_> {
    type Elem = i8;
    type Acc = int32x4_t;
    type Stage = StageS8;

    fn pad(&self) -> i8 {
        // The input zero point; `input_offset` is validated to -127..=128.
        (-self.q.input_offset) as i8
    }

    fn weight_zero(&self) -> i8 {
        0
    }

    fn stage(&self, filter: &[i8], k: usize, o0: usize, n: usize) -> StageS8 {
        #[allow(unused_mut)]
        let mut s = StageS8::new(self.q, self.bias, o0, n);
        #[cfg(target_feature = "dotprod")]
        for (j, b) in s.bias[..n].iter_mut().enumerate() {
            let row = &filter[(o0 + j) * k..(o0 + j + 1) * k];
            // SAFETY: NEON is enabled for this build (module `cfg`).
            let sum = unsafe { row_sum(row) };
            *b = b.wrapping_add(self.q.input_offset.wrapping_mul(sum));
        }
        #[cfg(not(target_feature = "dotprod"))]
        let _ = (filter, k);
        s
    }

    #[target_feature(enable = "neon")]
    unsafe fn zero(&self) -> int32x4_t {
        vdupq_n_s32(0)
    }

    #[target_feature(enable = "neon")]
    unsafe fn add(&self, a: int32x4_t, b: int32x4_t) -> int32x4_t {
        vaddq_s32(a, b)
    }

    #[target_feature(enable = "neon")]
    unsafe fn tile<const P: usize>(&self, xs: [&[i8]; P], ws: [&[i8]; OB]) -> [int32x4_t; P] {
        tile_s8(xs, ws, self.q.input_offset)
    }

    #[target_feature(enable = "neon")]
    unsafe fn store(&self, stage: &StageS8, j: usize, acc: int32x4_t, out: &mut [i8]) {
        store_s8x4(out, stage.finish4(j, acc));
    }
}

/// Sums of four output channels from per-channel lane sums: lane `o` of the result is the sum
/// of the four lanes of `a[o]`.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn reduce4(a: [int32x4_t; OB]) -> int32x4_t {
    vpaddq_s32(vpaddq_s32(a[0], a[1]), vpaddq_s32(a[2], a[3]))
}

/// The `f32` form of [`reduce4`]: lane `o` of the result is the sum of the lanes of `a[o]`.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn reduce4_f32(a: [float32x4_t; OB]) -> float32x4_t {
    vpaddq_f32(vpaddq_f32(a[0], a[1]), vpaddq_f32(a[2], a[3]))
}

/// `SDOT acc.4s, a.16b, b.16b`: each int32 lane adds the four products of its int8 lanes.
#[cfg(target_feature = "dotprod")]
#[inline(always)]
pub(crate) fn sdot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let r;
    // SAFETY: a register-only instruction of the dot-product extension, which this build
    // enables (`cfg`).
    unsafe {
        core::arch::asm!(
            "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
            acc = inlateout(vreg) acc => r,
            a = in(vreg) a,
            b = in(vreg) b,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    r
}

#[cfg(not(target_feature = "dotprod"))]
use tile_smlal as tile_s8;

/// `sum(row)` modulo 2^32, with `SDOT` against ones.
#[cfg(target_feature = "dotprod")]
#[target_feature(enable = "neon")]
fn row_sum(row: &[i8]) -> i32 {
    let ones = vdupq_n_s8(1);
    let mut acc = vdupq_n_s32(0);
    let mut chunks = row.chunks_exact(16);
    for c in &mut chunks {
        // SAFETY: `c` has exactly 16 readable bytes.
        acc = sdot(acc, unsafe { vld1q_s8(c.as_ptr()) }, ones);
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(0i32, |s, &v| s.wrapping_add(v as i32));
    vaddvq_s32(acc).wrapping_add(tail)
}

/// The int8 tile on the dot-product extension: `SDOT` over 16-byte steps, the short tail from
/// zero-padded copies (a zero contributes nothing). Sums are `sum w * x`; the caller's stage
/// holds `input_offset * sum w`.
#[cfg(target_feature = "dotprod")]
#[target_feature(enable = "neon")]
#[inline]
fn tile_s8<const P: usize>(xs: [&[i8]; P], ws: [&[i8]; OB], _off: i32) -> [int32x4_t; P] {
    #[target_feature(enable = "neon")]
    #[inline]
    fn step<const P: usize>(acc: &mut [[int32x4_t; OB]; P], x: [int8x16_t; P], w: [int8x16_t; OB]) {
        for (a, &x) in acc.iter_mut().zip(&x) {
            for (a, &w) in a.iter_mut().zip(&w) {
                *a = sdot(*a, x, w);
            }
        }
    }
    let k = ws[0].len();
    let xs = xs.map(|x| &x[..k]);
    let ws = ws.map(|w| &w[..k]);
    let mut acc = [[vdupq_n_s32(0); OB]; P];
    let mut i = 0;
    while i + 16 <= k {
        // SAFETY: `i + 16 <= k`, the length of every row.
        let w = ws.map(|w| unsafe { vld1q_s8(w.as_ptr().add(i)) });
        // SAFETY: as above.
        let x = xs.map(|x| unsafe { vld1q_s8(x.as_ptr().add(i)) });
        step(&mut acc, x, w);
        i += 16;
    }
    if i < k {
        step(
            &mut acc,
            xs.map(|x| load_s8x16(&x[i..])),
            ws.map(|w| load_s8x16(&w[i..])),
        );
    }
    acc.map(|a| reduce4(a))
}

/// The baseline int8 tile: `x + input_offset` widened to int16 with `SADDW`, the filter with
/// `SXTL`, int16 products accumulated into int32 lanes with `SMLAL`/`SMLAL2`, 8 bytes a step;
/// the short tail from zero-padded copies (a zero weight contributes nothing). Its sums
/// include the input offset, so it needs no staged filter sums (see [`overlapping_loop`]).
#[target_feature(enable = "neon")]
#[inline]
fn tile_smlal<const P: usize>(xs: [&[i8]; P], ws: [&[i8]; OB], off: i32) -> [int32x4_t; P] {
    #[target_feature(enable = "neon")]
    #[inline]
    fn step<const P: usize>(
        acc: &mut [[int32x4_t; OB]; P],
        x: [int8x8_t; P],
        w: [int8x8_t; OB],
        off: int16x8_t,
    ) {
        let w = w.map(|w| vmovl_s8(w));
        for (a, &x) in acc.iter_mut().zip(&x) {
            let x = vaddw_s8(off, x);
            for (a, &w) in a.iter_mut().zip(&w) {
                *a = vmlal_s16(*a, vget_low_s16(x), vget_low_s16(w));
                *a = vmlal_high_s16(*a, x, w);
            }
        }
    }
    // `off` is in -127..=128 (validated), so it fits an int16 lane.
    let off = vdupq_n_s16(off as i16);
    let k = ws[0].len();
    let xs = xs.map(|x| &x[..k]);
    let ws = ws.map(|w| &w[..k]);
    let mut acc = [[vdupq_n_s32(0); OB]; P];
    let mut i = 0;
    while i + 8 <= k {
        // SAFETY: `i + 8 <= k`, the length of every row.
        let w = ws.map(|w| unsafe { vld1_s8(w.as_ptr().add(i)) });
        // SAFETY: as above.
        let x = xs.map(|x| unsafe { vld1_s8(x.as_ptr().add(i)) });
        step(&mut acc, x, w, off);
        i += 8;
    }
    if i < k {
        let x = xs.map(|x| vget_low_s8(load_s8x16(&x[i..])));
        let w = ws.map(|w| vget_low_s8(load_s8x16(&w[i..])));
        step(&mut acc, x, w, off);
    }
    acc.map(|a| reduce4(a))
}

// ---------------------------------------------------------------------------------------------
// Entry points.

/// Lanes `o..o + m` (`m <= 4`, zero-filled) of a per-channel slice, or its single entry in
/// every lane when it is per-tensor.
#[target_feature(enable = "neon")]
#[inline]
fn channel_lanes(s: &[i32], o: usize, m: usize) -> int32x4_t {
    if s.len() == 1 {
        vdupq_n_s32(s[0])
    } else if m == 4 {
        load_i32x4(&s[o..o + 4])
    } else {
        let mut t = [0i32; 4];
        t[..m].copy_from_slice(&s[o..o + m]);
        load_i32x4(&t)
    }
}

/// The loop of [`super::pointwise_conv_s8_overlapping`] on NEON; the caller has checked the
/// regions, the overlap condition and the scratch length.
///
/// Pixel by pixel like the portable loop (each pixel's input is copied to `scratch` before its
/// output is written), four output channels at a time through the `SMLAL` tile on every build:
/// its sums include the input offset, so nothing has to be staged per super-block, and the
/// bias and requantization constants are loaded straight from the parameter slices.
#[allow(clippy::too_many_arguments)]
pub(crate) fn overlapping_loop(
    q: &ChannelQuantS8,
    buf: &mut [i8],
    in_off: usize,
    out_off: usize,
    pixels: usize,
    in_c: usize,
    out_c: usize,
    cin_g: usize,
    cout_g: usize,
    filter: &[i8],
    bias: Option<&[i32]>,
    scratch: &mut [u8],
) {
    let dims = Dense {
        pixels,
        in_c,
        out_c,
        cin_g,
        cout_g,
    };
    // SAFETY: this module is compiled only when the build enables NEON.
    unsafe { overlapping(q, buf, in_off, out_off, dims, filter, bias, scratch) };
}

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "neon")]
fn overlapping(
    q: &ChannelQuantS8,
    buf: &mut [i8],
    in_off: usize,
    out_off: usize,
    d: Dense,
    filter: &[i8],
    bias: Option<&[i32]>,
    scratch: &mut [u8],
) {
    if d.cout_g == 0 {
        return;
    }
    let (omin, omax) = (vdupq_n_s32(q.act_min), vdupq_n_s32(q.act_max));
    let ooff = vdupq_n_s32(q.output_offset);
    let x = &mut scratch[..d.in_c];
    for px in 0..d.pixels {
        let src = in_off + px * d.in_c;
        for (s, &v) in x.iter_mut().zip(&buf[src..src + d.in_c]) {
            *s = v as u8;
        }
        // SAFETY: `u8` and `i8` have the same size and alignment; the view lives no longer
        // than `x`, which is not written while it exists.
        let xi: &[i8] = unsafe { core::slice::from_raw_parts(x.as_ptr().cast::<i8>(), x.len()) };
        let dst = out_off + px * d.out_c;
        for grp in 0..d.out_c / d.cout_g {
            let xs = [&xi[grp * d.cin_g..(grp + 1) * d.cin_g]];
            let end = (grp + 1) * d.cout_g;
            let mut o = grp * d.cout_g;
            while o < end {
                let m = OB.min(end - o);
                let acc = tile_smlal(xs, filter_rows(filter, d.cin_g, o, end), q.input_offset)[0];
                let acc = match bias {
                    Some(b) => vaddq_s32(acc, channel_lanes(b, o, m)),
                    None => acc,
                };
                let mult = channel_lanes(q.multipliers, o, m);
                let shift = channel_lanes(q.shifts, o, m);
                let zero = vdupq_n_s32(0);
                let r = requantize4(acc, mult, vmaxq_s32(shift, zero), vminq_s32(shift, zero));
                let v = vminq_s32(vmaxq_s32(vaddq_s32(r, ooff), omin), omax);
                store_s8x4(&mut buf[dst + o..dst + o + m], v);
                o += m;
            }
        }
    }
}

/// [`super::conv_s8`] on the NEON path: checks, then the pointwise driver for 1x1 / stride 1 /
/// no padding and the gathering driver otherwise.
pub(crate) fn conv_s8(
    p: &ConvS8Params,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) -> Result<()> {
    let (cin_g, cout_g) = check_conv_s8(p, input.len(), filter.len(), bias, output.len())?;
    check_min_len(
        "scratch",
        conv_s8_scratch_len_portable(&p.geometry),
        scratch.len(),
    )?;
    let g = &p.geometry;
    let kern = S8Tiles::new(&p.quant, bias);
    if is_pointwise(g) {
        let d = Dense {
            pixels: g.input.pixels(),
            in_c: g.input.c,
            out_c: g.output.c,
            cin_g,
            cout_g,
        };
        // SAFETY: this module is compiled only when the build enables NEON.
        unsafe { pointwise(&kern, d, input, filter, output) };
    } else {
        // SAFETY: as above.
        unsafe { general(&kern, g, input, filter, output, cin_g, cout_g) };
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::quant::multiply_by_quantized_multiplier;
    use crate::s8::conv::portable;
    use crate::shape::{Padding, Shape};

    /// A small deterministic generator (xorshift64*), so failures reproduce.
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Self {
            Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        /// Uniform in `lo..=hi`.
        pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
            lo + (self.next() % (hi - lo + 1) as u64) as i64
        }
        pub(crate) fn vec_i8(&mut self, n: usize) -> Vec<i8> {
            (0..n).map(|_| self.range(-128, 127) as i8).collect()
        }
        pub(crate) fn vec_i32(&mut self, n: usize, lo: i32, hi: i32) -> Vec<i32> {
            (0..n)
                .map(|_| self.range(lo as i64, hi as i64) as i32)
                .collect()
        }
    }

    /// [`requantize4`] on all four lanes against the scalar TFLM rule.
    fn check_requant(acc: [i32; 4], mult: i32, shift: i32) {
        let want = acc.map(|a| multiply_by_quantized_multiplier(a, mult, shift));
        // SAFETY: the test binary runs on the NEON CPU this module is built for.
        let got = unsafe { requant_lanes(acc, mult, shift) };
        assert_eq!(got, want, "acc {acc:?}, multiplier {mult}, shift {shift}");
    }

    #[target_feature(enable = "neon")]
    fn requant_lanes(acc: [i32; 4], mult: i32, shift: i32) -> [i32; 4] {
        let v = requantize4(
            load_i32x4(&acc),
            vdupq_n_s32(mult),
            vdupq_n_s32(shift.max(0)),
            vdupq_n_s32(shift.min(0)),
        );
        let mut out = [0i32; 4];
        // SAFETY: `out` holds four writable `i32`.
        unsafe { vst1q_s32(out.as_mut_ptr(), v) };
        out
    }

    #[test]
    fn vector_requantization_is_bit_exact_on_edges() {
        let accs = [
            i32::MIN,
            i32::MIN + 1,
            -(1 << 30) - 1,
            -(1 << 30),
            -3,
            -2,
            -1,
            0,
            1,
            2,
            3,
            1 << 30,
            i32::MAX - 1,
            i32::MAX,
        ];
        let mults = [0, 1, 3, 1 << 30, (1 << 30) + 1, i32::MAX, -1, i32::MIN];
        for shift in -31..=30 {
            for &m in &mults {
                for a in accs.chunks(4) {
                    let mut lanes = [0; 4];
                    lanes[..a.len()].copy_from_slice(a);
                    check_requant(lanes, m, shift);
                }
            }
        }
        // Exact ties of both roundings, both signs: x * 2^(e-1) with the multiplier 2^30
        // (one half) and shifts that make the dropped bits exactly one half.
        for e in 1..=12 {
            for k in [-5i32, -3, -1, 1, 3, 5] {
                let acc = k << e;
                check_requant([acc, -acc, acc + 1, acc - 1], 1 << 30, -e);
            }
        }
    }

    #[test]
    fn vector_requantization_is_bit_exact_on_a_random_sweep() {
        let mut rng = Rng::new(7);
        for _ in 0..200_000 {
            let shift = rng.range(-31, 30) as i32;
            let mult = match rng.next() % 4 {
                0 => rng.range(0, i32::MAX as i64) as i32,
                1 => rng.range(1 << 30, i32::MAX as i64) as i32,
                _ => rng.range(i32::MIN as i64, i32::MAX as i64) as i32,
            };
            // Accumulators of every magnitude, not only large ones.
            let bits = rng.range(0, 31) as u32;
            let acc = [0; 4].map(|_| rng.range(-(1i64 << bits), (1i64 << bits) - 1) as i32);
            check_requant(acc, mult, shift);
        }
    }

    /// One convolution with random data and per-channel (or per-tensor) requantization.
    pub(crate) struct Case {
        pub(crate) input: Vec<i8>,
        pub(crate) filter: Vec<i8>,
        pub(crate) bias: Option<Vec<i32>>,
        pub(crate) mult: Vec<i32>,
        pub(crate) shift: Vec<i32>,
        pub(crate) input_offset: i32,
        pub(crate) output_offset: i32,
        pub(crate) act: (i32, i32),
    }

    impl Case {
        /// `filter_len` elements of filter; multipliers near 2^30 with shifts that keep
        /// outputs spread over the int8 range for accumulators of `taps` products.
        pub(crate) fn new(
            g: ConvGeometry,
            filter_len: usize,
            taps: usize,
            per_channel: bool,
            seed: u64,
        ) -> Case {
            let mut rng = Rng::new(seed);
            let channels = if per_channel { g.output.c } else { 1 };
            // Random sums have a spread of about sqrt(taps) * 74^2; scale it to about 40.
            let spread = (taps.max(1) as f64).sqrt() * 74.0 * 74.0 / 40.0;
            let bits = libm::ceil(libm::log2(spread)) as i32;
            let shift: Vec<i32> = (0..channels)
                .map(|_| (rng.range(-1, 1) as i32 - bits).clamp(-31, 30))
                .collect();
            Case {
                input: rng.vec_i8(g.input.len()),
                filter: rng.vec_i8(filter_len),
                bias: (seed % 3 != 0).then(|| rng.vec_i32(g.output.c, -100_000, 100_000)),
                mult: rng.vec_i32(channels, 1 << 30, i32::MAX),
                shift,
                input_offset: rng.range(-127, 128) as i32,
                output_offset: rng.range(-30, 30) as i32,
                act: if seed % 2 == 0 {
                    (-128, 127)
                } else {
                    (-20, 90)
                },
            }
        }

        pub(crate) fn quant(&self) -> ChannelQuantS8<'_> {
            ChannelQuantS8 {
                input_offset: self.input_offset,
                output_offset: self.output_offset,
                multipliers: &self.mult,
                shifts: &self.shift,
                act_min: self.act.0,
                act_max: self.act.1,
            }
        }
    }

    fn geometry(
        input: Shape,
        out_c: usize,
        kernel: (usize, usize),
        stride: (usize, usize),
        dilation: (usize, usize),
        padding: Padding,
        groups: usize,
    ) -> ConvGeometry {
        ConvGeometry::new(input, out_c, kernel, stride, dilation, padding, groups).unwrap()
    }

    /// NEON against the portable loops, bit for bit.
    fn check_conv(name: &str, g: ConvGeometry, per_channel: bool, seed: u64) {
        let cin_g = g.input.c / g.groups;
        let taps = g.kernel_h * g.kernel_w * cin_g;
        let c = Case::new(g, g.output.c * taps, taps, per_channel, seed);
        let p = ConvS8Params {
            geometry: g,
            quant: c.quant(),
        };
        let bias = c.bias.as_deref();
        let mut want = vec![0i8; g.output.len()];
        portable::conv_s8(&p, &c.input, &c.filter, bias, &mut want, &mut []).unwrap();
        let mut got = vec![0i8; g.output.len()];
        conv_s8(&p, &c.input, &c.filter, bias, &mut got, &mut []).unwrap();
        assert_eq!(got, want, "{name}");
        // Guard against a degenerate case that would hide errors: outputs must vary.
        assert!(
            want.iter().any(|&v| v != want[0]),
            "{name}: constant output"
        );
    }

    #[test]
    fn conv_matches_portable_across_tile_boundaries() {
        let s = Shape::new;
        let same = Padding::Same;
        let explicit = Padding::Explicit {
            top: 2,
            bottom: 0,
            left: 1,
            right: 3,
        };
        for seed in 0..4 {
            let pc = seed % 2 == 0;
            // Pointwise: 7 pixels (one 4-pixel tile, three single ones), 37 input channels
            // (16/8-byte steps and a tail), 70 outputs (two super-blocks, a 2-channel tile).
            let g = geometry(s(1, 1, 7, 37), 70, (1, 1), (1, 1), (1, 1), same, 1);
            check_conv("pointwise 7x37->70", g, pc, seed);
            // Grouped pointwise with odd group sizes.
            let g = geometry(s(2, 3, 3, 15), 21, (1, 1), (1, 1), (1, 1), same, 3);
            check_conv("grouped pointwise", g, pc, seed);
            // The 3-channel stem: 3x3 stride 2, TFLite SAME.
            let g = geometry(s(1, 11, 9, 3), 8, (3, 3), (2, 2), (1, 1), same, 1);
            check_conv("stem 3x3 s2", g, pc, seed);
            // A window of 3 * 3 * 100 = 900 elements: two gather chunks split between taps.
            let g = geometry(s(1, 5, 6, 100), 6, (3, 3), (1, 1), (1, 1), explicit, 1);
            check_conv("chunked window", g, pc, seed);
            // One tap longer than a chunk (600 channels), dilation, grouped.
            let g = geometry(s(1, 4, 5, 1200), 10, (1, 2), (1, 1), (1, 2), same, 2);
            check_conv("tap split across chunks", g, pc, seed);
            // Kernel larger than the input: windows with no valid tap at all.
            let wide = Padding::Explicit {
                top: 3,
                bottom: 3,
                left: 3,
                right: 2,
            };
            let g = geometry(s(1, 2, 2, 5), 9, (3, 3), (1, 1), (1, 1), wide, 1);
            check_conv("windows entirely in padding", g, pc, seed);
        }
    }

    #[test]
    fn overlapping_matches_portable() {
        // (in_c, out_c, groups, pixels): channel tails, several output tiles, groups, and
        // outputs both smaller and larger than the input.
        for (i, (in_c, out_c, groups, pixels)) in
            [(37, 70, 1, 9), (64, 24, 1, 7), (15, 21, 3, 5), (8, 8, 8, 4)]
                .into_iter()
                .enumerate()
        {
            let g = geometry(
                Shape::new(1, 1, pixels, in_c),
                out_c,
                (1, 1),
                (1, 1),
                (1, 1),
                Padding::Valid,
                groups,
            );
            let k = in_c / groups;
            let c = Case::new(g, out_c * k, k, i % 2 == 0, 70 + i as u64);
            let p = ConvS8Params {
                geometry: g,
                quant: c.quant(),
            };
            let bias = c.bias.as_deref();
            let mut want = vec![0i8; g.output.len()];
            portable::conv_s8(&p, &c.input, &c.filter, bias, &mut want, &mut []).unwrap();
            let in_off = pixels * out_c;
            let out_off = super::super::pointwise_overlap_out_offset(in_off, pixels, in_c, out_c);
            let mut buf = vec![0i8; in_off + pixels * in_c + pixels * out_c];
            buf[in_off..in_off + c.input.len()].copy_from_slice(&c.input);
            let mut scratch = vec![0u8; in_c];
            super::super::pointwise_conv_s8_overlapping(
                &p,
                &mut buf,
                in_off,
                out_off,
                &c.filter,
                bias,
                &mut scratch,
            )
            .unwrap();
            assert_eq!(&buf[out_off..out_off + want.len()], &want[..], "case {i}");
        }
    }

    #[test]
    fn conv_saturates_and_wraps_like_portable() {
        // Extreme shifts on long accumulations: the high multiply saturates, the left shift
        // wraps, and the output offset add wraps before the clamp.
        let g = geometry(
            Shape::new(1, 2, 3, 300),
            9,
            (1, 1),
            (1, 1),
            (1, 1),
            Padding::Valid,
            1,
        );
        for (i, shift) in [30, 12, 0, -31, -20].into_iter().enumerate() {
            let mut c = Case::new(g, 9 * 300, 300, true, 50 + i as u64);
            c.shift.fill(shift);
            c.mult[0] = i32::MAX;
            c.input_offset = 128;
            let p = ConvS8Params {
                geometry: g,
                quant: c.quant(),
            };
            let bias = c.bias.as_deref();
            let mut want = vec![0i8; g.output.len()];
            portable::conv_s8(&p, &c.input, &c.filter, bias, &mut want, &mut []).unwrap();
            let mut got = vec![0i8; g.output.len()];
            conv_s8(&p, &c.input, &c.filter, bias, &mut got, &mut []).unwrap();
            assert_eq!(got, want, "shift {shift}");
        }
    }
}
