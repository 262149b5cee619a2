//! Arm DSP-extension row kernels of int8 ADD and MUL.
//!
//! * ADD: each input's rescaling (`(q + offset) << 20`, then its multiplier) depends on one int8
//!   value, so for rows long enough to pay for it ([`ADD_TABLE_MIN`] elements per call) both are
//!   tabulated once per call (256 entries each, computed with TFLM's arithmetic); an element then
//!   costs two table loads, an add and the output requantization in the two-instruction exact
//!   form of [`crate::s8::conv::dsp::FastRq`] (`SMMLAR` with the rounding and the output offset,
//!   a sign fix-up and a shift), then `SSAT`.
//! * MUL: the product of the two offset inputs (at most 2^16 in magnitude) is requantized in the
//!   same exact form, with the left shift of multipliers above one folded into the doubling.
//!
//! Parameters for which the exact short forms do not hold (an output right shift outside
//! `1..=23` for ADD, a left shift above 13 for MUL) run the portable element functions, which
//! are TFLM's. Bit-identical to [`super::portable`] for the reasons given in
//! [`crate::s8::conv::dsp`]: the sums and products are exact integers and the requantization
//! forms are proven there.

use super::portable::{add_one, mul_one};
use super::{AddS8Params, MulS8Params};
use crate::quant::multiply_by_quantized_multiplier_smaller_than_one_exp;
use crate::reference::elementwise::{apply_row, apply_row_inplace, Operand};
use crate::s8::conv::dsp::{smmlar, ssat8};
use core::arch::asm;

/// Elements from which a call tabulates the ADD input rescalings (two tables of 256 `i32`
/// cost about as much as 400 elements computed directly).
pub(crate) const ADD_TABLE_MIN: usize = 1024;

/// The output requantization of ADD or MUL in the exact short form: `a` is the doubled (and,
/// for MUL, left-shifted) value, `mult >= 0`, and either `shift` in `1..=23` with `round =
/// 2^(shift-1) + offset * 2^shift`, or `shift == 0` with `round = offset` (no rounding shift).
#[derive(Clone, Copy)]
struct OutRq {
    mult: i32,
    round: i32,
    shift: u32,
    lo: i32,
    hi: i32,
}

impl OutRq {
    /// The form of `MultiplyByQuantizedMultiplier(x, mult, -shift) + offset` (right shift
    /// `shift >= 0`), or `None` when the short form is not exact for it.
    fn new(mult: i32, shift: u32, offset: i32, lo: i32, hi: i32) -> Option<Self> {
        if mult < 0 || shift > 23 {
            return None;
        }
        let round = if shift == 0 {
            offset
        } else {
            (1i32 << (shift - 1)) + (offset << shift)
        };
        Some(OutRq {
            mult,
            round,
            shift,
            lo,
            hi,
        })
    }

    /// The clamped int8 output of `a` (see the type).
    #[inline(always)]
    fn apply(self, a: i32) -> i8 {
        let t = smmlar(a, self.mult, self.round);
        let t = if self.shift == 0 {
            t
        } else {
            t.wrapping_sub(((a as u32) >> 31) as i32) >> self.shift
        };
        ssat8(t).max(self.lo).min(self.hi) as i8
    }
}

/// Doubled input rescalings of ADD for every int8 value, indexed by `x as u8`.
fn add_table(offset: i32, left_shift: i32, mult: i32, shift: i32) -> [i32; 256] {
    core::array::from_fn(|i| {
        let x = i as u8 as i8 as i32;
        let shifted = (offset + x) * (1 << left_shift);
        2 * multiply_by_quantized_multiplier_smaller_than_one_exp(shifted, mult, shift)
    })
}

/// `out[i] = rq(t1[a[i]] + t2[b[i]])` for `n >= 1` elements without a clamp narrower than int8:
/// two byte loads, two table loads, the add and the four-instruction requantization (see
/// [`OutRq`], `shift >= 1`).
///
/// # Safety
/// `a`, `b` and `out` are valid for `n` bytes (`out` may equal `a` or `b`, read before it is
/// written); `t1` and `t2` point at 256 `i32` each.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn add_rows(
    a: *const i8,
    b: *const i8,
    out: *mut i8,
    n: usize,
    t1: *const i32,
    t2: *const i32,
    rq: &OutRq,
) {
    // SAFETY: the caller guarantees the `n` bytes of each row and the tables; byte values index
    // the 256-entry tables.
    unsafe {
        asm!(
            "2:",
            "ldrb {x}, [{a}], #1",
            "ldrb {y}, [{b}], #1",
            "ldr {x}, [{t1}, {x}, lsl #2]",
            "ldr {y}, [{t2}, {y}, lsl #2]",
            "add {x}, {x}, {y}",
            "smmlar {y}, {x}, {m}, {r}",
            "add {y}, {y}, {x}, asr #31",
            "asr {y}, {y}, {s}",
            "ssat {y}, #8, {y}",
            "strb {y}, [{o}], #1",
            "subs {n}, {n}, #1",
            "bne 2b",
            a = inout(reg) a => _,
            b = inout(reg) b => _,
            o = inout(reg) out => _,
            n = inout(reg) n => _,
            t1 = in(reg) t1,
            t2 = in(reg) t2,
            m = in(reg) rq.mult,
            r = in(reg) rq.round,
            s = in(reg) rq.shift,
            x = out(reg) _,
            y = out(reg) _,
            options(nostack),
        );
    }
}

/// ADD over one output row (or in place when `out` is `None`), with tables when the call is
/// long enough. The caller has checked the parameters.
pub(crate) struct Add {
    p: AddS8Params,
    fast: Option<(OutRq, [i32; 256], [i32; 256])>,
}

impl Add {
    /// Prepares a call of `elements` output elements.
    pub(crate) fn new(p: &AddS8Params, elements: usize) -> Self {
        let rq = OutRq::new(
            p.output_multiplier,
            (-p.output_shift) as u32,
            p.output_offset,
            p.act_min,
            p.act_max,
        );
        // The sum of two rescaled inputs is below 2^29 in magnitude (each is at most
        // 255 * 2^20 * multiplier / 2^31), so the doubled sum fits the short form; its right
        // shift must be at least 1 for the `[a < 0]` rounding fix-up.
        let fast = match rq {
            Some(rq) if elements >= ADD_TABLE_MIN && rq.shift >= 1 && p.left_shift <= 20 => Some((
                rq,
                add_table(
                    p.input1_offset,
                    p.left_shift,
                    p.input1_multiplier,
                    p.input1_shift,
                ),
                add_table(
                    p.input2_offset,
                    p.left_shift,
                    p.input2_multiplier,
                    p.input2_shift,
                ),
            )),
            _ => None,
        };
        Add { p: *p, fast }
    }

    /// One output row.
    pub(crate) fn row(&self, a: Operand<'_, i8>, b: Operand<'_, i8>, out: &mut [i8]) {
        if let (Some((rq, t1, t2)), Operand::Row(ra), Operand::Row(rb)) = (&self.fast, a, b) {
            let n = out.len().min(ra.len()).min(rb.len());
            if n > 0 && rq.lo == -128 && rq.hi == 127 {
                // SAFETY: the three rows have at least `n` elements; the tables have 256.
                unsafe {
                    add_rows(
                        ra.as_ptr(),
                        rb.as_ptr(),
                        out.as_mut_ptr(),
                        n,
                        t1.as_ptr(),
                        t2.as_ptr(),
                        rq,
                    )
                };
                return;
            }
        }
        match &self.fast {
            Some((rq, t1, t2)) => apply_row(a, b, out, |x, y| {
                rq.apply(t1[x as u8 as usize] + t2[y as u8 as usize])
            }),
            None => apply_row(a, b, out, |x, y| add_one(&self.p, x, y)),
        }
    }

    /// One row in place.
    pub(crate) fn row_inplace(&self, a_and_out: &mut [i8], b: Operand<'_, i8>) {
        if let (Some((rq, t1, t2)), Operand::Row(b)) = (&self.fast, b) {
            let n = a_and_out.len().min(b.len());
            if n > 0 && rq.lo == -128 && rq.hi == 127 {
                let a = a_and_out.as_mut_ptr();
                // SAFETY: both rows have at least `n` elements (each output byte is written
                // after its input byte is read); the tables have 256.
                unsafe { add_rows(a, b.as_ptr(), a, n, t1.as_ptr(), t2.as_ptr(), rq) };
                return;
            }
        }
        match &self.fast {
            Some((rq, t1, t2)) => apply_row_inplace(a_and_out, b, |x, y| {
                rq.apply(t1[x as u8 as usize] + t2[y as u8 as usize])
            }),
            None => apply_row_inplace(a_and_out, b, |x, y| add_one(&self.p, x, y)),
        }
    }
}

/// MUL's element function in the short form when exact for these parameters.
pub(crate) struct Mul {
    p: MulS8Params,
    /// The output form and the doubling-plus-left shift of the product.
    fast: Option<(OutRq, u32)>,
}

impl Mul {
    /// Prepares a call.
    pub(crate) fn new(p: &MulS8Params) -> Self {
        let left = p.output_shift.max(0) as u32;
        let right = (-p.output_shift).max(0) as u32;
        // |product| <= 255 * 256 < 2^16, so `product << (left + 1)` fits below 2^31 for
        // `left <= 13`.
        let fast = if left <= 13 {
            OutRq::new(
                p.output_multiplier,
                right,
                p.output_offset,
                p.act_min,
                p.act_max,
            )
            .map(|rq| (rq, left + 1))
        } else {
            None
        };
        Mul { p: *p, fast }
    }

    /// One output row.
    pub(crate) fn row(&self, a: Operand<'_, i8>, b: Operand<'_, i8>, out: &mut [i8]) {
        match self.fast {
            Some((rq, pre)) => {
                let (o1, o2) = (self.p.input1_offset, self.p.input2_offset);
                apply_row(a, b, out, |x, y| {
                    rq.apply(((x as i32 + o1) * (y as i32 + o2)) << pre)
                })
            }
            None => apply_row(a, b, out, |x, y| mul_one(&self.p, x, y)),
        }
    }

    /// One row in place.
    pub(crate) fn row_inplace(&self, a_and_out: &mut [i8], b: Operand<'_, i8>) {
        match self.fast {
            Some((rq, pre)) => {
                let (o1, o2) = (self.p.input1_offset, self.p.input2_offset);
                apply_row_inplace(a_and_out, b, |x, y| {
                    rq.apply(((x as i32 + o1) * (y as i32 + o2)) << pre)
                })
            }
            None => apply_row_inplace(a_and_out, b, |x, y| mul_one(&self.p, x, y)),
        }
    }
}
