//! Corrupted models never make `parse` panic: for every model of `tests/data/models/`, truncations
//! of every length class (the header byte by byte, points spread through the tables and the
//! constant data, the last bytes) and a few hundred seeded bit flips and byte overwrites, half of
//! them aimed at the flatbuffer's tables rather than at weight data. Each parse runs under
//! `catch_unwind`; a panic fails the test with the model, the corruption and the seed. When a
//! corrupted file still parses, the guarantees `parse` documents must hold for the result.

mod common;

use bfmd_import::tflite::{parse, ImportError, TfliteModel, MAX_ELEMENTS};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Mutations per model.
const MUTATIONS: usize = 320;

/// xorshift64*: a small seeded generator, so every failure can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The guarantees of `parse` on a successful result.
fn check_invariants(m: &TfliteModel) -> Result<(), String> {
    let n = m.tensors.len();
    for (i, op) in m.operators.iter().enumerate() {
        let ins = op.inputs.iter().flatten();
        if let Some(t) = ins
            .chain(&op.outputs)
            .chain(&op.intermediates)
            .find(|&&t| t >= n)
        {
            return Err(format!("op {i} refers to tensor {t} of {n}"));
        }
    }
    if let Some(t) = m.inputs.iter().chain(&m.outputs).find(|&&t| t >= n) {
        return Err(format!("model io refers to tensor {t} of {n}"));
    }
    for (i, t) in m.tensors.iter().enumerate() {
        let elements = t
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&e| e <= MAX_ELEMENTS)
            .ok_or_else(|| format!("tensor {i}: shape {:?} too large", t.shape))?;
        if let Some(range) = &t.data {
            let data = m
                .tensor_data(i)
                .ok_or_else(|| format!("tensor {i}: data range {range:?} outside the file"))?;
            if let Some(want) = t.dtype.data_len(elements) {
                if data.len() != want {
                    return Err(format!(
                        "tensor {i}: {} data bytes, want {want}",
                        data.len()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Parses `bytes` under `catch_unwind`; `Err` describes a panic or a broken guarantee.
fn run(bytes: &[u8]) -> Result<Result<TfliteModel, ImportError>, String> {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let r = parse(bytes);
        // Formatting the error must not panic either.
        if let Err(e) = &r {
            assert!(!e.to_string().is_empty());
        }
        r
    }))
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-string panic".into())
    })?;
    if let Ok(m) = &result {
        check_invariants(m)?;
    }
    Ok(result)
}

/// File positions outside every tensor's constant data: the flatbuffer tables, vectors and
/// strings, where a corruption changes structure instead of a weight.
fn structure_positions(m: &TfliteModel, len: usize) -> Vec<usize> {
    let mut in_data = vec![false; len];
    for t in &m.tensors {
        if let Some(r) = &t.data {
            in_data[r.clone()].iter_mut().for_each(|b| *b = true);
        }
    }
    (0..len).filter(|&i| !in_data[i]).collect()
}

#[test]
fn truncated_and_mutated_models_never_panic() {
    // The panics are caught and reported below; the default hook's messages would be noise.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    let mut stats = (0usize, 0usize); // (parsed Ok, rejected)
    let started = std::time::Instant::now();

    for (model_index, (name, bytes)) in common::models().into_iter().enumerate() {
        let len = bytes.len();
        let original = parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let structure = structure_positions(&original, len);

        // Truncations: every length of the header region, 64 points spread over the file, and
        // the last 32 lengths.
        let mut lengths: Vec<usize> = (0..=64).collect();
        lengths.extend((1..64).map(|k| len * k / 64));
        lengths.extend(len.saturating_sub(32)..len);
        for cut in lengths {
            match run(&bytes[..cut]) {
                Ok(r) => {
                    if r.is_ok() {
                        stats.0 += 1
                    } else {
                        stats.1 += 1
                    }
                }
                Err(e) => failures.push(format!("{name}: truncated to {cut} bytes: {e}")),
            }
        }

        let seed = 0x9e37_79b9_7f4a_7c15u64 ^ (model_index as u64 + 1);
        let mut rng = Rng(seed);
        let mut mutated = bytes.clone();
        for m in 0..MUTATIONS {
            mutated.copy_from_slice(&bytes);
            let pos = if m % 2 == 0 && !structure.is_empty() {
                structure[rng.below(structure.len())]
            } else {
                rng.below(len)
            };
            let what = match rng.below(4) {
                0 => {
                    let bit = rng.below(8);
                    mutated[pos] ^= 1 << bit;
                    format!("bit {bit} of byte {pos} flipped")
                }
                1 => {
                    let v = rng.next() as u8;
                    mutated[pos] = v;
                    format!("byte {pos} set to {v:#04x}")
                }
                2 => {
                    // Offsets and lengths are 32-bit: write an extreme one.
                    let v =
                        [0u32, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, len as u32][rng.below(6)];
                    let end = (pos + 4).min(len);
                    mutated[pos..end].copy_from_slice(&v.to_le_bytes()[..end - pos]);
                    format!("u32 {v:#x} written at {pos}")
                }
                _ => {
                    let n = 1 + rng.below(16);
                    let end = (pos + n).min(len);
                    for b in &mut mutated[pos..end] {
                        *b = rng.next() as u8;
                    }
                    format!("{} random bytes at {pos}", end - pos)
                }
            };
            match run(&mutated) {
                Ok(r) => {
                    if r.is_ok() {
                        stats.0 += 1
                    } else {
                        stats.1 += 1
                    }
                }
                Err(e) => {
                    failures.push(format!("{name}: seed {seed:#x}, mutation {m}: {what}: {e}"))
                }
            }
        }
    }
    std::panic::set_hook(hook);

    println!(
        "{} corrupted files parsed, {} rejected with an error, in {:.1} s",
        stats.0,
        stats.1,
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} corrupted inputs panicked or broke a guarantee:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The corruptions must exercise the error paths, not only hit weights.
    assert!(
        stats.1 > stats.0 / 4,
        "too few corruptions were rejected: {stats:?}"
    );
}
