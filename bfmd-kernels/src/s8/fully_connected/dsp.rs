//! Arm DSP-extension loop of the int8 fully connected layer, also used by the convolution for
//! windows that are too long for its widened filter blocks or pixels too few to pay for them.
//!
//! Each weight is read once, so it is widened in registers as it is used (`SXTB16`), while the
//! input row, read by every output, is widened once (with the input offset added by
//! `SXTAB16`) into a stack buffer. The assembly loop takes two output channels (filter rows)
//! at a time and eight inputs per step: one `LDM` brings the eight widened inputs, one `LDRD` per
//! row brings eight raw weights, and eight `SMLAD` consume them. Rows longer than the buffer
//! are summed a chunk at a time, for up to [`GROUP`] outputs per widening.
//!
//! Bit-identical to [`super::portable`] for the reasons given in [`crate::s8::conv::dsp`];
//! each output is requantized with `FastRq` on the doubled accumulator when that is exact for
//! it (`RowFinish`), with TFLM's general form otherwise.

use super::FullyConnectedS8Params;
use crate::s8::conv::dsp::{sxtab16, sxtab16_ror8, FastRq, WideRq};
use crate::s8::conv::portable::mac;
use crate::s8::conv::ChannelQuantS8;
use core::arch::asm;
use core::mem::MaybeUninit;

/// Inputs widened per chunk (the stack buffer holds `2 * XCHUNK` bytes).
const XCHUNK: usize = 1024;

/// Outputs accumulated together when a row needs several chunks.
const GROUP: usize = 64;

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
/// the lengths and [`rows_supported`].
pub(crate) fn rows(
    q: &ChannelQuantS8,
    x: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    out: &mut [i8],
) {
    let k = x.len();
    let n_out = out.len();
    let off = q.input_offset;
    let off2 = (off as u32 & 0xffff) | ((off as u32) << 16);
    let k8 = k & !7;
    // Not zeroed: the loop reads only the words `widen_x` has just written.
    let mut xw = [const { MaybeUninit::<u32>::uninit() }; XCHUNK / 2];
    let b = |o: usize| bias.map_or(0, |b| b[o]);
    let fin = RowFinish::new(q, k);
    let row = |o: usize| &weights[o * k..(o + 1) * k];
    if k8 <= XCHUNK {
        widen_x(&x[..k8], off2, &mut xw[..k8 / 2]);
        let mut o = 0;
        while o < n_out {
            // An odd last output is computed twice, as a pair with itself.
            let o1 = if o + 1 < n_out { o + 1 } else { o };
            let mut acc = [b(o), b(o1)];
            if k8 > 0 {
                // SAFETY: `xw` holds the `k8 / 2` widened words; rows `o` and `o1` (below
                // `n_out`, so inside `weights`) have `k >= k8` bytes and are 4-byte aligned
                // (`rows_supported`: aligned base, `k % 4 == 0`).
                unsafe {
                    let w = weights.as_ptr();
                    dot2(
                        &mut acc,
                        xw.as_ptr() as *const u32,
                        w.add(o * k),
                        w.add(o1 * k),
                        k8 / 8,
                    )
                };
            }
            if k8 < k {
                acc[0] = tail(acc[0], x, row(o), off, k8);
                acc[1] = tail(acc[1], x, row(o1), off, k8);
            }
            out[o] = fin.apply(acc[0], o, b(o));
            out[o1] = fin.apply(acc[1], o1, b(o1));
            o += 2;
        }
        return;
    }
    // Long rows: up to GROUP outputs keep their accumulators while the row is widened and
    // summed one chunk at a time.
    let mut acc = [0i32; GROUP];
    for g0 in (0..n_out).step_by(GROUP) {
        let gn = GROUP.min(n_out - g0);
        for (j, a) in acc.iter_mut().enumerate().take(gn) {
            *a = b(g0 + j);
        }
        for c0 in (0..k8).step_by(XCHUNK) {
            let cl = XCHUNK.min(k8 - c0);
            widen_x(&x[c0..c0 + cl], off2, &mut xw[..cl / 2]);
            let mut j = 0;
            while j < gn {
                let j1 = (j + 1).min(gn - 1);
                let mut pair = [acc[j], acc[j1]];
                // SAFETY: as above, for the chunk `c0..c0 + cl` of rows `g0 + j`, `g0 + j1`
                // (`c0` is a multiple of 8, so the chunk stays aligned).
                unsafe {
                    dot2(
                        &mut pair,
                        xw.as_ptr() as *const u32,
                        row(g0 + j)[c0..].as_ptr(),
                        row(g0 + j1)[c0..].as_ptr(),
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
            let a = tail(a, x, row(o), off, k8);
            out[o] = fin.apply(a, o, b(o));
        }
    }
}

/// The fully connected layer; the caller has checked every argument (as
/// `check_fully_connected_s8` does) and [`rows_supported`].
pub(crate) fn fully_connected_loop(
    p: &FullyConnectedS8Params,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let (k, n) = (p.geometry.in_features, p.geometry.out_features);
    for b in 0..p.geometry.batch {
        rows(
            &p.quant,
            &input[b * k..(b + 1) * k],
            weights,
            bias,
            &mut output[b * n..(b + 1) * n],
        );
    }
}
