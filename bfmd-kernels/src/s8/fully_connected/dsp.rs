//! Arm DSP-extension loop of the int8 fully connected layer, also used by the convolution for
//! windows that are too long for its widened filter blocks or pixels too few to pay for them.
//!
//! Each weight is read once, so it is widened in registers as it is used (`SXTB16`), while the
//! input row, read by every output, is widened once (with the input offset added by
//! `SXTAB16`) into scratch. The assembly loop takes two output channels (filter rows)
//! at a time and eight inputs per step: one `LDM` brings the eight widened inputs, one `LDRD` per
//! row brings eight raw weights, and eight `SMLAD` consume them. Rows longer than the buffer
//! are summed a chunk at a time, for up to [`GROUP`] outputs per widening.
//!
//! Weights packed as int16 pairs ([`super::fully_connected_s8_wide`]) run the same loop
//! ([`rows_with`] over [`WideRows`]): the input is widened into pairs in natural order
//! ([`widen_x_pairs`]) and each step loads four weight pairs per row with two `LDRD`, no
//! `SXTB16` (13 instructions per 16 MACs instead of 19).
//!
//! Bit-identical to [`super::portable`] for the reasons given in [`crate::s8::conv::dsp`];
//! each output is requantized with `FastRq` on the doubled accumulator when that is exact for
//! it (`RowFinish`), with TFLM's general form otherwise.

use super::FullyConnectedS8Params;
use crate::s8::conv::dsp::{pack16, sxtab16, sxtab16_ror8, FastRq, WideRq};
use crate::s8::conv::portable::mac;
use crate::s8::conv::ChannelQuantS8;
use core::arch::asm;
use core::mem::MaybeUninit;

use super::{GROUP, XCHUNK};

/// Widens `x` (a multiple of 8 elements, at most [`XCHUNK`]) with the input offset added into
/// `xw`: per four inputs, `(x0 + off, x2 + off)` and `(x1 + off, x3 + off)` as int16 pairs,
/// the lanes one `SXTB16` pair of raw weights lines up with. Sixteen inputs per step in
/// assembly, the rest in Rust.
fn widen_x(x: &[i8], off2: u32, xw: &mut [MaybeUninit<u32>]) {
    let n16 = x.len() / 16;
    if n16 > 0 {
        // SAFETY: the loop reads `16 * n16 <= x.len()` bytes of `x` (unaligned loads are
        // allowed on these cores) and writes `8 * n16 <= xw.len()` words of `xw` (word
        // aligned, as `STRD` needs).
        unsafe {
            asm!(
                "2:",
                "ldr {t}, [{x}], #4",
                "sxtab16 {a}, {off}, {t}",
                "sxtab16 {b}, {off}, {t}, ror #8",
                "strd {a}, {b}, [{w}], #8",
                "ldr {t}, [{x}], #4",
                "sxtab16 {a}, {off}, {t}",
                "sxtab16 {b}, {off}, {t}, ror #8",
                "strd {a}, {b}, [{w}], #8",
                "ldr {t}, [{x}], #4",
                "sxtab16 {a}, {off}, {t}",
                "sxtab16 {b}, {off}, {t}, ror #8",
                "strd {a}, {b}, [{w}], #8",
                "ldr {t}, [{x}], #4",
                "sxtab16 {a}, {off}, {t}",
                "sxtab16 {b}, {off}, {t}, ror #8",
                "strd {a}, {b}, [{w}], #8",
                "subs {n}, {n}, #1",
                "bne 2b",
                x = inout(reg) x.as_ptr() => _,
                w = inout(reg) xw.as_mut_ptr() => _,
                n = inout(reg) n16 => _,
                off = in(reg) off2,
                t = out(reg) _,
                a = out(reg) _,
                b = out(reg) _,
                options(nostack),
            );
        }
    }
    for (c, w) in x[16 * n16..]
        .chunks_exact(4)
        .zip(xw[8 * n16..].chunks_exact_mut(2))
    {
        let v = u32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8]);
        w[0].write(sxtab16(off2, v));
        w[1].write(sxtab16_ror8(off2, v));
    }
}

/// [`widen_x`] in natural lane order, for weights packed as int16 pairs: per four inputs,
/// `(x0 + off, x1 + off)` and `(x2 + off, x3 + off)` (the two `SXTAB16` halves recombined by
/// `PKHBT`/`PKHTB`). `x` is a multiple of 4 elements, at most [`XCHUNK`].
fn widen_x_pairs(x: &[i8], off2: u32, xw: &mut [MaybeUninit<u32>]) {
    let n16 = x.len() / 16;
    if n16 > 0 {
        // SAFETY: as in `widen_x`: `16 * n16` bytes read (unaligned, so `LDR` rather than
        // `LDRD`), `8 * n16` words written by `STM` (word aligned), r0-r3 declared clobbered.
        unsafe {
            asm!(
                "2:",
                "ldr r0, [{x}], #4",
                "ldr r1, [{x}], #4",
                "sxtab16 {a}, {off}, r0",
                "sxtab16 {b}, {off}, r0, ror #8",
                "sxtab16 {c}, {off}, r1",
                "sxtab16 {d}, {off}, r1, ror #8",
                "pkhbt r0, {a}, {b}, lsl #16",
                "pkhtb r1, {b}, {a}, asr #16",
                "pkhbt r2, {c}, {d}, lsl #16",
                "pkhtb r3, {d}, {c}, asr #16",
                "stm {w}!, {{r0, r1, r2, r3}}",
                "ldr r0, [{x}], #4",
                "ldr r1, [{x}], #4",
                "sxtab16 {a}, {off}, r0",
                "sxtab16 {b}, {off}, r0, ror #8",
                "sxtab16 {c}, {off}, r1",
                "sxtab16 {d}, {off}, r1, ror #8",
                "pkhbt r0, {a}, {b}, lsl #16",
                "pkhtb r1, {b}, {a}, asr #16",
                "pkhbt r2, {c}, {d}, lsl #16",
                "pkhtb r3, {d}, {c}, asr #16",
                "stm {w}!, {{r0, r1, r2, r3}}",
                "subs {n}, {n}, #1",
                "bne 2b",
                x = inout(reg) x.as_ptr() => _,
                w = inout(reg) xw.as_mut_ptr() => _,
                n = inout(reg) n16 => _,
                off = in(reg) off2,
                a = out(reg) _,
                b = out(reg) _,
                c = out(reg) _,
                d = out(reg) _,
                out("r0") _,
                out("r1") _,
                out("r2") _,
                out("r3") _,
                options(nostack),
            );
        }
    }
    let off = off2 as i16 as i32;
    for (c, w) in x[16 * n16..].chunks_exact(2).zip(xw[8 * n16..].iter_mut()) {
        w.write(pack16(c[0] as i32 + off, c[1] as i32 + off));
    }
}

/// Eight inputs against two raw filter rows: one `LDM` of widened inputs, per row one `LDRD` of
/// eight weights, two `SXTB16` pairs and four `SMLAD`.
macro_rules! step2 {
    () => {
        concat!(
            "ldm {xp}!, {{r0, r1, r2, r3}}\n",
            "ldrd {u}, {v}, [{p0}], #8\n",
            "sxtb16 r7, {u}\n",
            "sxtb16 {u}, {u}, ror #8\n",
            "smlad {a0}, r0, r7, {a0}\n",
            "smlad {a0}, r1, {u}, {a0}\n",
            "sxtb16 r7, {v}\n",
            "sxtb16 {v}, {v}, ror #8\n",
            "smlad {a0}, r2, r7, {a0}\n",
            "smlad {a0}, r3, {v}, {a0}\n",
            "ldrd {u}, {v}, [{p1}], #8\n",
            "sxtb16 r7, {u}\n",
            "sxtb16 {u}, {u}, ror #8\n",
            "smlad {a1}, r0, r7, {a1}\n",
            "smlad {a1}, r1, {u}, {a1}\n",
            "sxtb16 r7, {v}\n",
            "sxtb16 {v}, {v}, ror #8\n",
            "smlad {a1}, r2, r7, {a1}\n",
            "smlad {a1}, r3, {v}, {a1}\n",
        )
    };
}

/// Adds `8 * steps` (at least 8) products of two filter rows to `acc`.
///
/// # Safety
/// `xw` holds `4 * steps` widened words; `w0` and `w1` point at `8 * steps` readable bytes
/// each and are 4-byte aligned (`LDRD`).
#[inline(always)]
unsafe fn dot2(acc: &mut [i32; 2], xw: *const u32, w0: *const i8, w1: *const i8, steps: usize) {
    // SAFETY: the loop reads `16 * steps` bytes of `xw` and `8 * steps` of each row, as the
    // caller guarantees: one step when `steps` is odd, two when bit 1 is set, then four per
    // iteration (the loop overhead is then a small part of short rows). r7 (the frame pointer) is saved and
    // restored around its use as a temporary.
    unsafe {
        asm!(
            "push {{r7}}",
            "lsrs {n}, {n}, #1",
            "bcc 4f",
            step2!(),
            "4:",
            "lsrs {n}, {n}, #1",
            "bcc 5f",
            step2!(),
            step2!(),
            "5:",
            "cmp {n}, #0",
            "beq 3f",
            "2:",
            step2!(),
            step2!(),
            step2!(),
            step2!(),
            "subs {n}, {n}, #1",
            "bne 2b",
            "3:",
            "pop {{r7}}",
            a0 = inout(reg) acc[0],
            a1 = inout(reg) acc[1],
            xp = inout(reg) xw => _,
            p0 = inout(reg) w0 => _,
            p1 = inout(reg) w1 => _,
            n = inout(reg) steps => _,
            u = out(reg) _,
            v = out(reg) _,
            out("r0") _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
        );
    }
}

/// Eight inputs (widened by [`widen_x_pairs`]) against two rows of packed int16 weight pairs
/// ([`super::pack_fully_connected_s8_wide`]): one `LDM` of widened inputs, per row two `LDRD`
/// of four weight pairs and four `SMLAD`, no widening: 13 instructions for 16 MACs where
/// [`step2`] needs 19.
macro_rules! step2_wide {
    () => {
        concat!(
            "ldm {xp}!, {{r0, r1, r2, r3}}\n",
            "ldrd {u}, {v}, [{p0}], #8\n",
            "smlad {a0}, r0, {u}, {a0}\n",
            "smlad {a0}, r1, {v}, {a0}\n",
            "ldrd {u}, {v}, [{p0}], #8\n",
            "smlad {a0}, r2, {u}, {a0}\n",
            "smlad {a0}, r3, {v}, {a0}\n",
            "ldrd {u}, {v}, [{p1}], #8\n",
            "smlad {a1}, r0, {u}, {a1}\n",
            "smlad {a1}, r1, {v}, {a1}\n",
            "ldrd {u}, {v}, [{p1}], #8\n",
            "smlad {a1}, r2, {u}, {a1}\n",
            "smlad {a1}, r3, {v}, {a1}\n",
        )
    };
}

/// [`dot2`] on packed int16 weight pairs: adds `8 * steps` (at least 8) products of two rows
/// to `acc`, with the same loop shape.
///
/// # Safety
/// `xw` holds `4 * steps` widened words; `w0` and `w1` point at `4 * steps` readable words each
/// (4-byte aligned, as `i32` is).
#[inline(always)]
unsafe fn dot2_wide(
    acc: &mut [i32; 2],
    xw: *const u32,
    w0: *const i32,
    w1: *const i32,
    steps: usize,
) {
    // SAFETY: the loop reads `16 * steps` bytes of `xw` and of each row, as the caller
    // guarantees.
    unsafe {
        asm!(
            "lsrs {n}, {n}, #1",
            "bcc 4f",
            step2_wide!(),
            "4:",
            "lsrs {n}, {n}, #1",
            "bcc 5f",
            step2_wide!(),
            step2_wide!(),
            "5:",
            "cmp {n}, #0",
            "beq 3f",
            "2:",
            step2_wide!(),
            step2_wide!(),
            step2_wide!(),
            step2_wide!(),
            "subs {n}, {n}, #1",
            "bne 2b",
            "3:",
            a0 = inout(reg) acc[0],
            a1 = inout(reg) acc[1],
            xp = inout(reg) xw => _,
            p0 = inout(reg) w0 => _,
            p1 = inout(reg) w1 => _,
            n = inout(reg) steps => _,
            u = out(reg) _,
            v = out(reg) _,
            out("r0") _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
            options(nostack),
        );
    }
}

/// The filter rows the loop of [`rows_with`] reads: raw int8 ([`S8Rows`]) or packed int16
/// pairs ([`WideRows`]).
pub(crate) trait FilterRows {
    /// Adds the products of rows `o0` and `o1` (below the output count) with the elements
    /// `from..from + 8 * steps` (`from` a multiple of 8, the range inside the row's first
    /// `k & !7` elements) to `acc`; `xw` holds those elements widened (`4 * steps` words).
    ///
    /// # Safety
    /// The conditions above, which [`rows_with`] keeps.
    unsafe fn dot2(
        &self,
        acc: &mut [i32; 2],
        xw: *const u32,
        o0: usize,
        o1: usize,
        from: usize,
        steps: usize,
    );

    /// `acc + Σ w[o, i] * (x[i] + off)` over `i` in `from..x.len()` (the last one to seven
    /// elements of a row).
    fn tail(&self, acc: i32, x: &[i8], off: i32, o: usize, from: usize) -> i32;

    /// Widens `x` (a multiple of 8 elements, at most [`XCHUNK`]) with the offset added into
    /// `xw`, in the lane order [`FilterRows::dot2`] pairs with these rows' words.
    fn widen(&self, x: &[i8], off2: u32, xw: &mut [MaybeUninit<u32>]);
}

/// int8 rows `[n, k]`, 4-byte aligned ([`rows_supported`]).
pub(crate) struct S8Rows<'w> {
    /// The weights.
    pub(crate) w: &'w [i8],
    /// Row length.
    pub(crate) k: usize,
}

impl FilterRows for S8Rows<'_> {
    #[inline(always)]
    unsafe fn dot2(
        &self,
        acc: &mut [i32; 2],
        xw: *const u32,
        o0: usize,
        o1: usize,
        from: usize,
        steps: usize,
    ) {
        let w = self.w.as_ptr();
        // SAFETY: rows `o0`, `o1` hold `k >= from + 8 * steps` bytes and start 4-byte aligned
        // (aligned base, `k % 4 == 0`), `from` is a multiple of 8; `xw` as the caller says.
        unsafe {
            dot2(
                acc,
                xw,
                w.add(o0 * self.k + from),
                w.add(o1 * self.k + from),
                steps,
            )
        }
    }

    #[inline]
    fn tail(&self, acc: i32, x: &[i8], off: i32, o: usize, from: usize) -> i32 {
        tail(acc, x, &self.w[o * self.k..(o + 1) * self.k], off, from)
    }

    #[inline(always)]
    fn widen(&self, x: &[i8], off2: u32, xw: &mut [MaybeUninit<u32>]) {
        widen_x(x, off2, xw);
    }
}

/// `acc + Σ w[i] * (x[i] + off)` over `x` (the last four elements of a row) with the weights
/// packed as [`super::pack_fully_connected_s8_wide`] does: two int16 lanes per word, low first.
#[inline]
fn wide_tail(acc: i32, x: &[i8], words: &[i32], off: i32) -> i32 {
    x.chunks_exact(2).zip(words).fold(acc, |a, (x, &w)| {
        let a = mac(a, x[0] as i32, off, w as i16 as i32);
        mac(a, x[1] as i32, off, w >> 16)
    })
}

/// Packed int16 pair rows of `k` elements (`k % 4 == 0`, `k / 2` words per row).
pub(crate) struct WideRows<'w> {
    /// The packed weights.
    pub(crate) w: &'w [i32],
    /// Row length in elements.
    pub(crate) k: usize,
}

impl FilterRows for WideRows<'_> {
    #[inline(always)]
    unsafe fn dot2(
        &self,
        acc: &mut [i32; 2],
        xw: *const u32,
        o0: usize,
        o1: usize,
        from: usize,
        steps: usize,
    ) {
        let w = self.w.as_ptr();
        // SAFETY: row `o` is the words `o * k / 2..(o + 1) * k / 2` and element `from` (a
        // multiple of 8) starts word `from / 2` of it; `4 * steps` words follow inside the row.
        unsafe {
            dot2_wide(
                acc,
                xw,
                w.add((o0 * self.k + from) / 2),
                w.add((o1 * self.k + from) / 2),
                steps,
            )
        }
    }

    #[inline]
    fn tail(&self, acc: i32, x: &[i8], off: i32, o: usize, from: usize) -> i32 {
        let row = &self.w[(o * self.k + from) / 2..(o + 1) * self.k / 2];
        wide_tail(acc, &x[from..], row, off)
    }

    #[inline(always)]
    fn widen(&self, x: &[i8], off2: u32, xw: &mut [MaybeUninit<u32>]) {
        widen_x_pairs(x, off2, xw);
    }
}

/// `Σ w[i] * (x[i] + off)` over the elements `from..x.len()` (the last one to seven elements
/// of a row), added to `acc`.
#[inline]
fn tail(acc: i32, x: &[i8], w: &[i8], off: i32, from: usize) -> i32 {
    x[from..]
        .iter()
        .zip(&w[from..])
        .fold(acc, |a, (&x, &w)| mac(a, x as i32, off, w as i32))
}

/// The requantization of one row's outputs: `FastRq` on the doubled accumulator for each output
/// where it is exact (the per-output form of `fast_requant_ok`, with its
/// constants hoisted out of the output loop), else `WideRq` when the shift is a right shift,
/// TFLM's general form otherwise; then the clamp.
struct RowFinish<'q, 'a> {
    q: &'q ChannelQuantS8<'a>,
    /// `|bias|` must be below this for the fast form: `2^29 - k * 255 * 128` (0 when `k` alone
    /// exceeds the bound).
    lim: u32,
}

impl<'q, 'a> RowFinish<'q, 'a> {
    fn new(q: &'q ChannelQuantS8<'a>, k: usize) -> Self {
        let taps = (k as u64).saturating_mul(255 * 128);
        RowFinish {
            q,
            lim: (1u64 << 29).saturating_sub(taps) as u32,
        }
    }

    /// Output `ch` of accumulator `acc` (bias `bias` included).
    #[inline(always)]
    fn apply(&self, acc: i32, ch: usize, bias: i32) -> i8 {
        let q = self.q;
        let (m, s) = q.params(ch);
        // `s` in -21..=-1, as `FastRq` needs.
        if bias.unsigned_abs() < self.lim && (s + 21) as u32 <= 20 && m >= 0 {
            let e = (-s) as u32;
            let rq = FastRq {
                mult: m,
                round: (1i32 << (e - 1)) + (q.output_offset << e),
                shift: e,
            };
            rq.apply(acc.wrapping_shl(1)).max(q.act_min).min(q.act_max) as i8
        } else if (s + 31) as u32 <= 30 && m >= 0 {
            // `s` in -31..=-1: any accumulator (a huge bias) takes the wide form.
            let rq = WideRq::new(q, ch);
            rq.apply(acc, q.output_offset).max(q.act_min).min(q.act_max) as i8
        } else {
            q.requantize(acc, ch)
        }
    }
}

/// Whether [`rows`] can run with this row length: the assembly loop needs 4-byte aligned filter
/// rows, hence a multiple of 4 elements and an aligned weight base.
pub(crate) fn rows_supported(k: usize, weights: &[i8]) -> bool {
    k % 4 == 0 && (weights.as_ptr() as usize) % 4 == 0
}

/// `out[o] = requantize(bias[o] + Σ_i weights[o, i] * (x[i] + input_offset))` for every output
/// `o` of one input row `x` (`k` elements; `weights` is `[out.len(), k]`). The caller has checked
/// the lengths, [`rows_supported`] and that `scratch` holds
/// `super::rows_scratch_len_dsp(x.len())` bytes (`false`, nothing written, otherwise).
pub(crate) fn rows(
    q: &ChannelQuantS8,
    x: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    out: &mut [i8],
    scratch: &mut [u8],
) -> bool {
    let w = S8Rows {
        w: weights,
        k: x.len(),
    };
    rows_with(q, x, &w, bias, out, scratch)
}

/// [`rows`] for any [`FilterRows`] (`k` of them matching `x.len()`, `out.len()` rows): the
/// widened inputs (and for long rows the accumulators) live in `scratch`.
#[inline(always)]
pub(crate) fn rows_with<R: FilterRows>(
    q: &ChannelQuantS8,
    x: &[i8],
    w: &R,
    bias: Option<&[i32]>,
    out: &mut [i8],
    scratch: &mut [u8],
) -> bool {
    let k = x.len();
    let n_out = out.len();
    let off = q.input_offset;
    let off2 = (off as u32 & 0xffff) | ((off as u32) << 16);
    let k8 = k & !7;
    let xw_bytes = 2 * k8.min(XCHUNK);
    let Some((xw, rest)) = crate::path::split_aligned(scratch, xw_bytes) else {
        return false;
    };
    // SAFETY: `xw` is 8-byte aligned with `xw_bytes` (a multiple of 4) bytes, borrowed
    // exclusively here; `MaybeUninit<u32>` accepts any bytes. Not zeroed: the loop reads only
    // the words `widen_x` has just written.
    let xw = unsafe {
        core::slice::from_raw_parts_mut(xw.as_mut_ptr() as *mut MaybeUninit<u32>, xw_bytes / 4)
    };
    let b = |o: usize| bias.map_or(0, |b| b[o]);
    let fin = RowFinish::new(q, k);
    if k8 <= XCHUNK {
        w.widen(&x[..k8], off2, &mut xw[..k8 / 2]);
        let mut o = 0;
        while o < n_out {
            // An odd last output is computed twice, as a pair with itself.
            let o1 = if o + 1 < n_out { o + 1 } else { o };
            let mut acc = [b(o), b(o1)];
            if k8 > 0 {
                // SAFETY: `xw` holds the `k8 / 2` widened words; rows `o` and `o1` are below
                // `n_out`; elements `0..k8`.
                unsafe { w.dot2(&mut acc, xw.as_ptr() as *const u32, o, o1, 0, k8 / 8) };
            }
            if k8 < k {
                acc[0] = w.tail(acc[0], x, off, o, k8);
                acc[1] = w.tail(acc[1], x, off, o1, k8);
            }
            out[o] = fin.apply(acc[0], o, b(o));
            out[o1] = fin.apply(acc[1], o1, b(o1));
            o += 2;
        }
        return true;
    }
    // Long rows: up to GROUP outputs keep their accumulators (in scratch, after the widened
    // chunk, 8-byte aligned as `xw_bytes` is a multiple of 8) while the row is widened and
    // summed one chunk at a time.
    let Some(acc) = rest.get_mut(..4 * GROUP) else {
        return false;
    };
    // SAFETY: `acc` holds `4 * GROUP` bytes, word aligned (see above), borrowed exclusively
    // here; every bit pattern is a valid `i32`.
    let acc = unsafe { core::slice::from_raw_parts_mut(acc.as_mut_ptr() as *mut i32, GROUP) };
    for g0 in (0..n_out).step_by(GROUP) {
        let gn = GROUP.min(n_out - g0);
        for (j, a) in acc.iter_mut().enumerate().take(gn) {
            *a = b(g0 + j);
        }
        for c0 in (0..k8).step_by(XCHUNK) {
            let cl = XCHUNK.min(k8 - c0);
            w.widen(&x[c0..c0 + cl], off2, &mut xw[..cl / 2]);
            let mut j = 0;
            while j < gn {
                let j1 = (j + 1).min(gn - 1);
                let mut pair = [acc[j], acc[j1]];
                // SAFETY: as above, for the chunk `c0..c0 + cl` (inside `0..k8`, `c0` a
                // multiple of 8) of rows `g0 + j`, `g0 + j1`.
                unsafe {
                    w.dot2(
                        &mut pair,
                        xw.as_ptr() as *const u32,
                        g0 + j,
                        g0 + j1,
                        c0,
                        cl / 8,
                    )
                };
                acc[j] = pair[0];
                if j1 != j {
                    acc[j1] = pair[1];
                }
                j += 2;
            }
        }
        for (j, &a) in acc.iter().enumerate().take(gn) {
            let o = g0 + j;
            let a = w.tail(a, x, off, o, k8);
            out[o] = fin.apply(a, o, b(o));
        }
    }
    true
}

/// Runs `row(x, y)` for each batch row: `x` the `in_features` inputs, `y` the
/// `out_features` outputs.
#[inline(always)]
fn per_batch(
    p: &FullyConnectedS8Params,
    input: &[i8],
    output: &mut [i8],
    mut row: impl FnMut(&[i8], &mut [i8]),
) {
    let (k, n) = (p.geometry.in_features, p.geometry.out_features);
    for b in 0..p.geometry.batch {
        row(&input[b * k..(b + 1) * k], &mut output[b * n..(b + 1) * n]);
    }
}

/// The fully connected layer; the caller has checked every argument (as
/// `check_fully_connected_s8` does, `scratch` included) and [`rows_supported`].
pub(crate) fn fully_connected_loop(
    p: &FullyConnectedS8Params,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) {
    per_batch(p, input, output, |x, y| {
        let ran = rows(&p.quant, x, weights, bias, y, scratch);
        debug_assert!(ran, "scratch checked by the caller");
    });
}

/// [`fully_connected_loop`] on packed int16 weight pairs (`in_features % 4 == 0`); the caller
/// has checked every argument (as `check_fully_connected_s8_wide` does).
pub(crate) fn fully_connected_wide_loop(
    p: &FullyConnectedS8Params,
    input: &[i8],
    weights: &[i32],
    bias: Option<&[i32]>,
    output: &mut [i8],
    scratch: &mut [u8],
) {
    let w = WideRows {
        w: weights,
        k: p.geometry.in_features,
    };
    per_batch(p, input, output, |x, y| {
        let ran = rows_with(&p.quant, x, &w, bias, y, scratch);
        debug_assert!(ran, "scratch checked by the caller");
    });
}
