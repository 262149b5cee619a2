//! Helpers shared by the kernel test batteries: a seeded generator, tensor fillers and comparison
//! helpers. Each battery includes this file with `mod common;`, so not every helper is used by
//! every battery.
#![allow(dead_code)]

use bfmd_kernels::half::f16;

/// SplitMix64: small, seeded, reproducible; good enough to fill test tensors.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (the same seed gives the same sequence on every target).
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform integer in `lo..=hi`.
    pub fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi - lo + 1) as u64;
        lo + (self.next_u64() % span) as i64
    }

    /// Uniform `usize` in `lo..=hi`.
    pub fn range_usize(&mut self, lo: usize, hi: usize) -> usize {
        self.range_i64(lo as i64, hi as i64) as usize
    }

    /// Uniform `f32` in `[lo, hi)`.
    pub fn f32(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }

    /// `n` uniform int8 values over the whole range.
    pub fn vec_i8(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.next_u64() as i8).collect()
    }

    /// `n` uniform int8 values in `lo..=hi`.
    pub fn vec_i8_in(&mut self, n: usize, lo: i8, hi: i8) -> Vec<i8> {
        (0..n)
            .map(|_| self.range_i64(lo as i64, hi as i64) as i8)
            .collect()
    }

    /// `n` uniform int32 values in `lo..=hi`.
    pub fn vec_i32(&mut self, n: usize, lo: i32, hi: i32) -> Vec<i32> {
        (0..n)
            .map(|_| self.range_i64(lo as i64, hi as i64) as i32)
            .collect()
    }

    /// `n` uniform `f32` values in `[lo, hi)`.
    pub fn vec_f32(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.f32(lo, hi)).collect()
    }
}

/// `scale * (q - zero_point)` for a whole tensor.
pub fn dequantize(q: &[i8], scale: f32, zero_point: i32) -> Vec<f32> {
    q.iter()
        .map(|&v| scale * (v as i32 - zero_point) as f32)
        .collect()
}

/// Per-channel dequantization of a tensor whose innermost dimension is the channel.
pub fn dequantize_per_channel(q: &[i8], scales: &[f32]) -> Vec<f32> {
    let c = scales.len();
    q.iter()
        .enumerate()
        .map(|(i, &v)| scales[i % c] * v as f32)
        .collect()
}

/// Converts to `f16` (round to nearest even).
pub fn to_f16(x: &[f32]) -> Vec<f16> {
    x.iter().map(|&v| f16::from_f32(v)).collect()
}

/// Converts from `f16`.
pub fn from_f16(x: &[f16]) -> Vec<f32> {
    x.iter().map(|v| v.to_f32()).collect()
}

/// Largest absolute element-wise difference (lengths must match).
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Asserts `|a - b| <= abs_tol + rel_tol * |b|` element-wise, reporting the first violation.
pub fn assert_close(what: &str, a: &[f32], b: &[f32], abs_tol: f32, rel_tol: f32) {
    assert_eq!(a.len(), b.len(), "{what}: length mismatch");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let tol = abs_tol + rel_tol * y.abs();
        assert!(
            (x - y).abs() <= tol,
            "{what}: element {i}: got {x}, expected {y} (tolerance {tol})"
        );
    }
}

/// Asserts two int8 tensors are identical, reporting the first difference.
pub fn assert_bit_exact(what: &str, got: &[i8], want: &[i8]) {
    assert_eq!(got.len(), want.len(), "{what}: length mismatch");
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        let diffs = got.iter().zip(want).filter(|(a, b)| a != b).count();
        panic!(
            "{what}: {diffs} of {} elements differ; first at {i}: got {}, expected {}",
            got.len(),
            got[i],
            want[i]
        );
    }
}
