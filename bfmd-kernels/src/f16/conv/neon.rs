//! NEON (aarch64) tiles of the f16 convolution and fully connected layer, and the f16
//! conversions the f16 NEON paths share.
//!
//! The loop structure is the int8 one ([`crate::s8::conv::neon`]: super-blocks of output
//! channels, tiles of 4 pixels by 4 channels, im2col gathering for non-pointwise windows with
//! padded taps gathered as 0.0); only the tile kernel differs:
//!
//! * with the FP16 extension (`target_feature = "fp16"`): `FMLA .8h` accumulates eight f16
//!   products per instruction into f16 lanes; at the end the eight lanes of each output
//!   channel are widened (`FCVTL`) and added in `f32`;
//! * without it: `FCVTL` widens four halves to `f32` and `FMLA .4s` accumulates in `f32`; the
//!   four lanes are added at the end.
//!
//! Then, in `f32`: the bias is added, the sum clamped (`FMAXNM`/`FMINNM`, the NaN rule of Rust's
//! `f32::max`/`min`) and rounded once to f16 (`FCVTN`, round to nearest even like
//! [`f16::from_f32`]). The f16 intrinsics of `core::arch` are unstable, so these instructions
//! are one-line `asm!` blocks on `uint16x8_t` registers holding f16 bit patterns.
//!
//! The accumulation precision and its error bound are documented on [`super`].

use super::{check, conv_f16_scratch_len, ConvF16Params};
use crate::error::{check_min_len, Result};
use crate::reference::conv::is_pointwise;
use crate::s8::conv::neon::{general, pointwise, reduce4_f32, Dense, TileKernel, OB, SB};
use core::arch::aarch64::*;
use core::arch::asm;
use half::f16;

/// `FCVTL`: the low four f16 lanes of `v` widened to `f32` (exact).
#[inline(always)]
pub(crate) fn widen_lo(v: uint16x8_t) -> float32x4_t {
    let r;
    // SAFETY: a register-only conversion of the base Armv8 floating-point unit.
    unsafe {
        asm!("fcvtl {r:v}.4s, {v:v}.4h", r = lateout(vreg) r, v = in(vreg) v,
             options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// `FCVTL2`: the high four f16 lanes of `v` widened to `f32` (exact).
#[inline(always)]
pub(crate) fn widen_hi(v: uint16x8_t) -> float32x4_t {
    let r;
    // SAFETY: a register-only conversion of the base Armv8 floating-point unit.
    unsafe {
        asm!("fcvtl2 {r:v}.4s, {v:v}.8h", r = lateout(vreg) r, v = in(vreg) v,
             options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// `FCVTL` of four halves held in a 64-bit register.
#[cfg(not(target_feature = "fp16"))]
#[inline(always)]
fn widen4(v: uint16x4_t) -> float32x4_t {
    let r;
    // SAFETY: a register-only conversion of the base Armv8 floating-point unit.
    unsafe {
        asm!("fcvtl {r:v}.4s, {v:v}.4h", r = lateout(vreg) r, v = in(vreg) v,
             options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// `FCVTN`: four `f32` rounded to f16 (round to nearest even, the default rounding mode).
#[inline(always)]
pub(crate) fn narrow4(v: float32x4_t) -> uint16x4_t {
    let r;
    // SAFETY: a register-only conversion of the base Armv8 floating-point unit; it reads the
    // rounding mode, which nothing in Rust changes from the default (nearest, ties to even).
    unsafe {
        asm!("fcvtn {r:v}.4h, {v:v}.4s", r = lateout(vreg) r, v = in(vreg) v,
             options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// `FMLA acc.8h, a.8h, b.8h`: eight fused f16 multiply-adds (one rounding each).
#[cfg(target_feature = "fp16")]
#[inline(always)]
pub(crate) fn fmla_f16(acc: uint16x8_t, a: uint16x8_t, b: uint16x8_t) -> uint16x8_t {
    let r;
    // SAFETY: a register-only instruction of the FP16 extension, which this build enables
    // (`cfg`).
    unsafe {
        asm!("fmla {acc:v}.8h, {a:v}.8h, {b:v}.8h", acc = inlateout(vreg) acc => r,
             a = in(vreg) a, b = in(vreg) b, options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// The bit patterns of `s` (f16 is a transparent wrapper of its `u16` bits).
#[inline(always)]
pub(crate) fn bits(s: &[f16]) -> &[u16] {
    // SAFETY: `f16` is `#[repr(transparent)]` over `u16`, so the slices have the same layout,
    // length and lifetime.
    unsafe { core::slice::from_raw_parts(s.as_ptr().cast::<u16>(), s.len()) }
}

/// The first `min(8, s.len())` halves of `s`, zero-filled to eight lanes.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn load_f16x8(s: &[f16]) -> uint16x8_t {
    let s = bits(s);
    if s.len() >= 8 {
        // SAFETY: `s` has at least eight readable halves.
        unsafe { vld1q_u16(s.as_ptr()) }
    } else {
        let mut t = [0u16; 8];
        t[..s.len()].copy_from_slice(s);
        // SAFETY: `t` has eight readable halves.
        unsafe { vld1q_u16(t.as_ptr()) }
    }
}

/// Stores the first `out.len()` (at most 4) lanes of `v`.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn store_f16x4(out: &mut [f16], v: uint16x4_t) {
    let mut t = [0u16; 4];
    // SAFETY: `t` has four writable halves.
    unsafe { vst1_u16(t.as_mut_ptr(), v) };
    for (o, &b) in out.iter_mut().zip(&t) {
        *o = f16::from_bits(b);
    }
}

/// Bias of up to [`SB`] output channels and the clamp, staged for vector loads.
pub(crate) struct StageF16 {
    bias: [f32; SB],
    min: f32,
    max: f32,
}

impl StageF16 {
    /// Channels `o0..o0 + n` of `bias` (zeros without one) and the clamp of `p`.
    pub(crate) fn new(bias: Option<&[f32]>, min: f32, max: f32, o0: usize, n: usize) -> Self {
        let mut s = StageF16 {
            bias: [0.0; SB],
            min,
            max,
        };
        if let Some(b) = bias {
            s.bias[..n].copy_from_slice(&b[o0..o0 + n]);
        }
        s
    }

    /// Channels `j..j + 4`: `sum + bias`, clamped, rounded to f16.
    #[target_feature(enable = "neon")]
    #[inline]
    pub(crate) fn finish4(&self, j: usize, sum: float32x4_t) -> uint16x4_t {
        let b = &self.bias[j..j + 4];
        // SAFETY: `b` holds exactly four readable `f32`.
        let v = vaddq_f32(sum, unsafe { vld1q_f32(b.as_ptr()) });
        let v = vminnmq_f32(vmaxnmq_f32(v, vdupq_n_f32(self.min)), vdupq_n_f32(self.max));
        narrow4(v)
    }
}

/// The f16 [`TileKernel`].
pub(crate) struct F16Tiles<'a> {
    bias: Option<&'a [f32]>,
    min: f32,
    max: f32,
}

impl<'a> F16Tiles<'a> {
    /// The kernel of a bias of the right length (or none) and a checked clamp range.
    pub(crate) fn new(bias: Option<&'a [f32]>, min: f32, max: f32) -> Self {
        F16Tiles { bias, min, max }
    }
}

impl TileKernel for F16Tiles<'_> {
    type Elem = f16;
    type Acc = float32x4_t;
    type Stage = StageF16;

    fn pad(&self) -> f16 {
        f16::ZERO
    }

    fn weight_zero(&self) -> f16 {
        f16::ZERO
    }

    fn stage(&self, _filter: &[f16], _k: usize, o0: usize, n: usize) -> StageF16 {
        StageF16::new(self.bias, self.min, self.max, o0, n)
    }

    #[target_feature(enable = "neon")]
    unsafe fn zero(&self) -> float32x4_t {
        vdupq_n_f32(0.0)
    }

    #[target_feature(enable = "neon")]
    unsafe fn add(&self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        vaddq_f32(a, b)
    }

    #[target_feature(enable = "neon")]
    unsafe fn tile<const P: usize>(&self, xs: [&[f16]; P], ws: [&[f16]; OB]) -> [float32x4_t; P] {
        tile_f16(xs.map(bits), ws.map(bits))
    }

    #[target_feature(enable = "neon")]
    unsafe fn store(&self, stage: &StageF16, j: usize, acc: float32x4_t, out: &mut [f16]) {
        store_f16x4(out, stage.finish4(j, acc));
    }
}

/// The f16 tile on the FP16 extension: `FMLA .8h` over eight halves a step, the short tail
/// from zero-filled copies (zeros add nothing); each channel's eight f16 lanes are widened and
/// added in `f32`.
#[cfg(target_feature = "fp16")]
#[target_feature(enable = "neon")]
#[inline]
fn tile_f16<const P: usize>(xs: [&[u16]; P], ws: [&[u16]; OB]) -> [float32x4_t; P] {
    #[target_feature(enable = "neon")]
    #[inline]
    fn step<const P: usize>(
        acc: &mut [[uint16x8_t; OB]; P],
        x: [uint16x8_t; P],
        w: [uint16x8_t; OB],
    ) {
        for (a, &x) in acc.iter_mut().zip(&x) {
            for (a, &w) in a.iter_mut().zip(&w) {
                *a = fmla_f16(*a, x, w);
            }
        }
    }
    let k = ws[0].len();
    let xs = xs.map(|x| &x[..k]);
    let ws = ws.map(|w| &w[..k]);
    let mut acc = [[vdupq_n_u16(0); OB]; P];
    let mut i = 0;
    while i + 8 <= k {
        // SAFETY: `i + 8 <= k`, the length of every row.
        let w = ws.map(|w| unsafe { vld1q_u16(w.as_ptr().add(i)) });
        // SAFETY: as above.
        let x = xs.map(|x| unsafe { vld1q_u16(x.as_ptr().add(i)) });
        step(&mut acc, x, w);
        i += 8;
    }
    if i < k {
        let tail = |s: &[u16]| {
            let mut t = [0u16; 8];
            t[..k - i].copy_from_slice(&s[i..]);
            // SAFETY: `t` has eight readable halves.
            unsafe { vld1q_u16(t.as_ptr()) }
        };
        step(&mut acc, xs.map(tail), ws.map(tail));
    }
    acc.map(|a| reduce4_f32(a.map(|v| vaddq_f32(widen_lo(v), widen_hi(v)))))
}

/// The f16 tile without the FP16 extension: four halves a step widened with `FCVTL`,
/// accumulated in `f32` with `FMLA .4s`; the short tail from zero-filled copies.
#[cfg(not(target_feature = "fp16"))]
#[target_feature(enable = "neon")]
#[inline]
fn tile_f16<const P: usize>(xs: [&[u16]; P], ws: [&[u16]; OB]) -> [float32x4_t; P] {
    #[target_feature(enable = "neon")]
    #[inline]
    fn step<const P: usize>(
        acc: &mut [[float32x4_t; OB]; P],
        x: [uint16x4_t; P],
        w: [uint16x4_t; OB],
    ) {
        let w = w.map(widen4);
        for (a, &x) in acc.iter_mut().zip(&x) {
            let x = widen4(x);
            for (a, &w) in a.iter_mut().zip(&w) {
                *a = vfmaq_f32(*a, x, w);
            }
        }
    }
    let k = ws[0].len();
    let xs = xs.map(|x| &x[..k]);
    let ws = ws.map(|w| &w[..k]);
    let mut acc = [[vdupq_n_f32(0.0); OB]; P];
    let mut i = 0;
    while i + 4 <= k {
        // SAFETY: `i + 4 <= k`, the length of every row.
        let w = ws.map(|w| unsafe { vld1_u16(w.as_ptr().add(i)) });
        // SAFETY: as above.
        let x = xs.map(|x| unsafe { vld1_u16(x.as_ptr().add(i)) });
        step(&mut acc, x, w);
        i += 4;
    }
    if i < k {
        let tail = |s: &[u16]| {
            let mut t = [0u16; 4];
            t[..k - i].copy_from_slice(&s[i..]);
            // SAFETY: `t` has four readable halves.
            unsafe { vld1_u16(t.as_ptr()) }
        };
        step(&mut acc, xs.map(tail), ws.map(tail));
    }
    acc.map(|a| reduce4_f32(a))
}

/// [`super::conv_f16`] on the NEON path.
pub(crate) fn conv_f16(
    p: &ConvF16Params,
    input: &[f16],
    filter: &[f16],
    bias: Option<&[f32]>,
    output: &mut [f16],
    scratch: &mut [u8],
) -> Result<()> {
    let (cin_g, cout_g) = check(p, input, filter, bias, output)?;
    check_min_len("scratch", conv_f16_scratch_len(&p.geometry), scratch.len())?;
    let g = &p.geometry;
    let kern = F16Tiles::new(bias, p.act_min, p.act_max);
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
mod tests {
    use super::*;
    use crate::f16::conv::portable;
    use crate::f16::fully_connected::{self as fc, FullyConnectedF16Params};
    use crate::quant::FusedActivation;
    use crate::reference::fully_connected::FullyConnectedGeometry;
    use crate::s8::conv::neon::tests::Rng;
    use crate::shape::{ConvGeometry, Padding, Shape};

    /// Small integers: every product and partial sum of the cases below is an integer below
    /// 2048 in magnitude, exact in f16, so every path (f16 or `f32` accumulation, any order)
    /// must give the same bits and a wrong index or a dropped term cannot hide in a tolerance.
    fn ints(rng: &mut Rng, n: usize, lim: i64) -> Vec<f16> {
        (0..n)
            .map(|_| f16::from_f32(rng.range(-lim, lim) as f32))
            .collect()
    }

    fn check_conv(name: &str, g: ConvGeometry, lim: i64, seed: u64) {
        let mut rng = Rng::new(seed);
        let k = g.kernel_h * g.kernel_w * g.input.c / g.groups;
        let x = ints(&mut rng, g.input.len(), lim);
        let w = ints(&mut rng, g.output.c * k, lim);
        let bias: Vec<f32> = (0..g.output.c).map(|_| rng.range(-50, 50) as f32).collect();
        for act in [FusedActivation::None, FusedActivation::Relu6] {
            let p = ConvF16Params::new(g, act);
            let mut want = vec![f16::ZERO; g.output.len()];
            portable::conv_f16(&p, &x, &w, Some(&bias), &mut want, &mut []).unwrap();
            let mut got = vec![f16::ZERO; g.output.len()];
            conv_f16(&p, &x, &w, Some(&bias), &mut got, &mut []).unwrap();
            assert_eq!(got, want, "{name}");
            assert!(
                want.iter().any(|&v| v != want[0]),
                "{name}: constant output"
            );
        }
    }

    #[test]
    fn conv_is_exact_on_integer_data_across_tile_boundaries() {
        let s = Shape::new;
        let geometry = |input, out_c, kernel, stride, dilation, padding, groups| {
            ConvGeometry::new(input, out_c, kernel, stride, dilation, padding, groups).unwrap()
        };
        let explicit = Padding::Explicit {
            top: 2,
            bottom: 0,
            left: 1,
            right: 3,
        };
        let same = Padding::Same;
        for seed in 0..3 {
            // 7 pixels, 37 channels (8/4-lane steps and a tail), 70 outputs (two super-blocks).
            let g = geometry(s(1, 1, 7, 37), 70, (1, 1), (1, 1), (1, 1), same, 1);
            check_conv("pointwise", g, 3, seed);
            let g = geometry(s(2, 3, 3, 15), 21, (1, 1), (1, 1), (1, 1), same, 3);
            check_conv("grouped pointwise", g, 4, seed);
            let g = geometry(s(1, 11, 9, 3), 8, (3, 3), (2, 2), (1, 1), same, 1);
            check_conv("stem", g, 4, seed);
            // 3 * 3 * 100 = 900 products: two gather chunks; |sum| <= 900 * 1.
            let g = geometry(s(1, 5, 6, 100), 6, (3, 3), (1, 1), (1, 1), explicit, 1);
            check_conv("chunked window", g, 1, seed);
            // A tap of 600 channels split across chunks, dilation, groups.
            let g = geometry(s(1, 4, 5, 1200), 10, (1, 2), (1, 1), (1, 2), same, 2);
            check_conv("tap split across chunks", g, 1, seed);
        }
    }

    #[test]
    fn fully_connected_is_exact_on_integer_data() {
        let mut rng = Rng::new(21);
        for (batch, k, n) in [(1, 256, 10), (5, 64, 70), (2, 13, 3), (1, 1000, 5)] {
            let lim = if k > 100 { 1 } else { 3 };
            let x = ints(&mut rng, batch * k, lim);
            let w = ints(&mut rng, n * k, lim);
            let p = FullyConnectedF16Params::new(
                FullyConnectedGeometry::new(batch, k, n),
                FusedActivation::None,
            );
            let mut want = vec![f16::ZERO; batch * n];
            fc::portable::fully_connected_f16(&p, &x, &w, None, &mut want, &mut []).unwrap();
            let mut got = vec![f16::ZERO; batch * n];
            fc::fully_connected_f16(&p, &x, &w, None, &mut got, &mut []).unwrap();
            assert_eq!(got, want, "batch {batch}, {k} -> {n}");
        }
    }

    /// Real-valued data: within the documented bound of the accumulator this build uses.
    #[test]
    fn conv_on_real_data_is_within_the_accumulation_bound() {
        let mut rng = Rng::new(8);
        let g = ConvGeometry::new(
            Shape::new(1, 6, 6, 96),
            40,
            (3, 3),
            (1, 1),
            (1, 1),
            Padding::Same,
            1,
        )
        .unwrap();
        let k = 9 * 96;
        let real = |rng: &mut Rng, n: usize| -> Vec<f16> {
            (0..n)
                .map(|_| f16::from_f32(rng.range(-1000, 1000) as f32 / 1000.0))
                .collect()
        };
        let (x, w) = (real(&mut rng, g.input.len()), real(&mut rng, 40 * k));
        let p = ConvF16Params::new(g, FusedActivation::None);
        let mut got = vec![f16::ZERO; g.output.len()];
        conv_f16(&p, &x, &w, None, &mut got, &mut []).unwrap();
        let mut exact = vec![0f32; g.output.len()];
        let (xf, wf): (Vec<f32>, Vec<f32>) = (
            x.iter().map(|v| v.to_f32()).collect(),
            w.iter().map(|v| v.to_f32()).collect(),
        );
        let pf = crate::reference::conv::ConvF32Params::new(g, FusedActivation::None);
        crate::reference::conv::conv_f32(&pf, &xf, &wf, None, &mut exact).unwrap();
        let unit = if super::super::ACCUMULATES_IN_F16 {
            2f64.powi(-11)
        } else {
            2f64.powi(-24)
        };
        // |x * w| <= 1, so the magnitude sum is at most k; the reference's own error is far
        // below the f16 output rounding that the 2^-11 relative term covers.
        let bound = 2.0 * (k as f64 + 2.0) * unit * k as f64;
        for (i, (&g, &e)) in got.iter().zip(&exact).enumerate() {
            let tol = bound + 2f64.powi(-11) * (e.abs() as f64 + bound) + 1e-3;
            let err = (g.to_f32() as f64 - e as f64).abs();
            assert!(
                err <= tol,
                "output {i}: {} vs {e} (tolerance {tol})",
                g.to_f32()
            );
        }
    }
}
