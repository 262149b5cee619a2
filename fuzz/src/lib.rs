//! What the fuzz targets share: the limits a fuzzed model runs under and "parse, then run once".
//!
//! The limits are far below the host defaults so that one execution stays in the milliseconds
//! (libFuzzer needs thousands per second); a model over them is an `Err`, like any other
//! rejected input, and the check itself is what is being exercised.

use bfmd_graph::builder::ModelBytes;
use bfmd_graph::Limits;
use bfmd_import::lower::HostModel;

/// 16 MiB of arena, 10^6 operations per inference, 2^22 elements per tensor. Under
/// AddressSanitizer and coverage instrumentation a real test model (VWW: 7.5e6 MACs) takes a
/// fifth of a second to run, so the real models are checked against the limit and not run;
/// the small models of the corpora (and what the mutations shrink) are.
pub const LIMITS: Limits = Limits {
    max_arena_bytes: 16 << 20,
    max_op_work: 1_000_000,
    max_total_work: 1_000_000,
    max_tensor_elements: 1 << 22,
};

/// Parses `blob` with [`LIMITS`] and, when it parses, runs it once on zero inputs. Every
/// error is fine (its message is built, which must not panic either); a panic, an
/// out-of-bounds access or a hang is a finding.
pub fn parse_and_run(blob: ModelBytes) {
    let mut host = match HostModel::with_limits(blob, &LIMITS) {
        Ok(h) => h,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let n = host.model().map(|m| m.input_count()).unwrap_or(0);
    let inputs: Vec<Vec<u8>> = (0..n)
        .map(|i| vec![0u8; host.input_len(i).unwrap_or(0)])
        .collect();
    let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
    if let Err(e) = host.run(&refs) {
        // `Model::parse` promises that a model it accepts runs: a kernel error is a finding.
        assert!(
            !matches!(e, bfmd_graph::GraphError::Kernel { .. }),
            "a parsed model failed in a kernel: {e}"
        );
        let _ = e.to_string();
    }
}

/// Sets the CRC-32 of `blob` (bytes 12..16, over bytes 16..) so that mutations reach the deep
/// checks instead of stopping at the checksum.
pub fn fix_crc(blob: &mut [u8]) {
    use bfmd_graph::format::header;
    if blob.len() >= header::CRC_START {
        let total = u32::from_le_bytes([blob[8], blob[9], blob[10], blob[11]]) as usize;
        let end = total.clamp(header::CRC_START, blob.len());
        let crc = bfmd_graph::crc32(&blob[header::CRC_START..end]);
        blob[header::CRC..header::CRC + 4].copy_from_slice(&crc.to_le_bytes());
    }
}
