//! Helpers shared by the graph tests: a seeded generator, byte conversions, and running a
//! built model on an aligned arena.
#![allow(dead_code)]

use bfmd_graph::builder::Built;
use bfmd_graph::exec::run;
use bfmd_kernels::half::f16;

/// SplitMix64: small, seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
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

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    /// `n` int8 values over the whole range.
    pub fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.next_u64() as i8).collect()
    }

    /// `n` int32 values in `lo..=hi`.
    pub fn i32s(&mut self, n: usize, lo: i32, hi: i32) -> Vec<i32> {
        (0..n)
            .map(|_| self.range(lo as i64, hi as i64) as i32)
            .collect()
    }

    /// `n` floats in `[lo, hi)`.
    pub fn f32s(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n)
            .map(|_| lo + (hi - lo) * ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32))
            .collect()
    }
}

/// Little-endian bytes of int8 values.
pub fn b8(v: &[i8]) -> Vec<u8> {
    v.iter().map(|&x| x as u8).collect()
}

/// Little-endian bytes of `f32` values.
pub fn b32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Little-endian bytes of `f16` values.
pub fn b16(v: &[f16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// `f16` from `f32` (round to nearest even).
pub fn h(v: &[f32]) -> Vec<f16> {
    v.iter().map(|&x| f16::from_f32(x)).collect()
}

/// A zeroed, 16-byte aligned arena of at least `n` bytes.
pub fn arena(n: usize) -> Vec<u128> {
    vec![0u128; n.div_ceil(16).max(1)]
}

/// The bytes of an aligned arena.
pub fn bytes_mut(a: &mut [u128]) -> &mut [u8] {
    let len = a.len() * 16;
    // SAFETY: u8 has alignment 1 and no invalid values; the slice covers exactly `a`'s memory
    // and inherits its unique borrow.
    unsafe { std::slice::from_raw_parts_mut(a.as_mut_ptr().cast::<u8>(), len) }
}

/// Parses `built`, writes `inputs` (raw bytes), runs, and returns every output's bytes.
pub fn run_built(built: &Built, inputs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let model = built.blob.model().expect("built model parses");
    let mut a = arena(model.arena_bytes());
    let arena = bytes_mut(&mut a);
    assert_eq!(model.input_count(), inputs.len());
    for (i, data) in inputs.iter().enumerate() {
        model.input_mut(arena, i).unwrap().copy_from_slice(data);
    }
    run(&model, arena, None).expect("model runs");
    (0..model.output_count())
        .map(|i| model.output(arena, i).unwrap().to_vec())
        .collect()
}
