//! libFuzzer target: a `.bfmd` blob, structure-aware. The custom mutator rewrites one field of
//! the blob (a header word, a tensor record field, an op record word: counts, offsets, dims,
//! parameters) with a value near a boundary, or lets libFuzzer mutate bytes; either way the
//! CRC-32 is recomputed, so every input reaches `Model::parse`'s deep checks. A blob that
//! parses is run once on zero inputs.
//!
//! Seeds: the small models of `tests/data/fuzz/bfmd_blob/` (`cargo xtask fuzz` copies them).

#![no_main]

use bfmd_fuzz::{fix_crc, parse_and_run};
use bfmd_graph::builder::ModelBytes;
use bfmd_graph::format::{header, HEADER_LEN, TENSOR_LEN};
use libfuzzer_sys::{fuzz_mutator, fuzz_target};

fuzz_target!(|data: &[u8]| {
    let mut blob = data.to_vec();
    fix_crc(&mut blob);
    parse_and_run(ModelBytes::from_bytes(&blob));
});

/// SplitMix64 from the mutator's seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn rd(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// A value near `old` or near a boundary a check must get right.
fn interesting(rng: &mut Rng, old: u32) -> u32 {
    match rng.below(10) {
        0 => 0,
        1 => 1,
        2 => old.wrapping_add(1),
        3 => old.wrapping_sub(1),
        4 => old.wrapping_mul(2),
        5 => old / 2,
        6 => u32::MAX,
        7 => 1 << rng.below(32),
        8 => old.wrapping_add(16),
        _ => rng.next() as u32,
    }
}

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut rng = Rng(u64::from(seed));
    let len = size.min(data.len());
    if len < HEADER_LEN || rng.below(4) == 0 {
        let n = libfuzzer_sys::fuzzer_mutate(data, size, max_size);
        fix_crc(&mut data[..n]);
        return n;
    }
    let b = &mut data[..len];
    let tensors = rd(b, header::TENSORS) as usize;
    let n_tensors = usize::from(u16::from_le_bytes([b[20], b[21]]));
    let ops = rd(b, header::OPS) as usize;
    let ops_len = rd(b, header::OPS_LEN) as usize;
    // A 4-byte aligned word: of the header, of a tensor record, or of the op table.
    let at = match rng.below(3) {
        0 => 4 * rng.below(HEADER_LEN / 4),
        1 if n_tensors > 0 => tensors + rng.below(n_tensors) * TENSOR_LEN + 4 * rng.below(10),
        _ => ops + 4 * rng.below(ops_len / 4),
    };
    if at + 4 <= len && at >= header::CRC_START {
        let v = interesting(&mut rng, rd(b, at));
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    } else if at + 4 <= len && at < header::CRC {
        // Magic, version, header length or total length: mutate one byte.
        b[at + rng.below(4)] ^= 1 << rng.below(8);
    }
    fix_crc(b);
    len
});
