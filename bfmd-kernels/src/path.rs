//! Which loops a build runs, so that the graph planner can size scratch for another target.

/// A set of kernel loops: what a build compiles (`cfg`) and what the graph planner sizes
/// scratch for ([`KernelPath::HOST`] on the machine that plans, or the firmware's path).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelPath {
    /// The portable loops (any target, or the `force-portable` feature).
    Portable,
    /// The Arm DSP-extension loops (Cortex-M4/M7/M33 with DSP).
    Dsp,
    /// The aarch64 NEON loops.
    Neon,
    /// A Cortex-M55/M85 with Helium: today the DSP loops, with the choices the kernels make
    /// for Helium cores (the compiler-vectorized portable fully connected loop).
    Mve,
}

impl KernelPath {
    /// The path this build of the kernels runs.
    pub const HOST: KernelPath = if cfg!(bfmd_mve) {
        KernelPath::Mve
    } else if cfg!(bfmd_dsp) {
        KernelPath::Dsp
    } else if cfg!(bfmd_neon) {
        KernelPath::Neon
    } else {
        KernelPath::Portable
    };

    /// Whether the path runs the DSP-extension loops (DSP and Helium cores).
    pub const fn is_dsp(self) -> bool {
        matches!(self, KernelPath::Dsp | KernelPath::Mve)
    }

    /// The path of a build for `target` (a Rust target triple) with the comma-separated
    /// `target_features` (`CARGO_CFG_TARGET_FEATURE` in a build script) and `-C target-cpu`
    /// `cpu`, decided as this crate's build script decides its `cfg`s (without its
    /// `-C target-feature` overrides): the DSP loops on `thumbv7em` and on `thumbv8m.main` for
    /// a Cortex-M55/M85 or with `dsp`, Helium (`Mve`) on those v8-M cores or with `mve`, NEON on
    /// aarch64 with `neon`, the portable loops elsewhere.
    pub fn for_target(target: &str, target_features: &str, cpu: Option<&str>) -> KernelPath {
        let has = |f: &str| {
            target_features.split(',').any(|t| {
                t.strip_prefix(f)
                    .is_some_and(|r| r.is_empty() || r.starts_with('.'))
            })
        };
        let v8m = target.starts_with("thumbv8m.main");
        let helium_cpu = matches!(cpu, Some("cortex-m55" | "cortex-m85"));
        if v8m && (has("mve") || helium_cpu) {
            KernelPath::Mve
        } else if target.starts_with("thumbv7em") || (v8m && has("dsp")) {
            KernelPath::Dsp
        } else if target.starts_with("aarch64") && has("neon") {
            KernelPath::Neon
        } else {
            KernelPath::Portable
        }
    }
}

/// Bytes a scratch buffer needs beyond its pieces' lengths for the first piece to start on
/// an 8-byte boundary (the kernels' `LDRD`/`STRD` need word, their tables 8-byte alignment).
pub(crate) const ALIGN_SLACK: usize = 7;

/// `len` bytes of `buf` from its first 8-byte-aligned address, and what follows them;
/// `None` when `buf` is too short.
#[allow(dead_code)]
pub(crate) fn split_aligned(buf: &mut [u8], len: usize) -> Option<(&mut [u8], &mut [u8])> {
    let skip = buf.as_ptr().align_offset(8);
    let rest = buf.get_mut(skip..)?;
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at_mut(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_map_to_paths() {
        let m7 = KernelPath::for_target("thumbv7em-none-eabihf", "", Some("cortex-m7"));
        assert_eq!(m7, KernelPath::Dsp);
        let m55 = KernelPath::for_target("thumbv8m.main-none-eabihf", "", Some("cortex-m55"));
        assert_eq!(m55, KernelPath::Mve);
        let mve = KernelPath::for_target("thumbv8m.main-none-eabihf", "dsp,mve", None);
        assert_eq!(mve, KernelPath::Mve);
        let m33 = KernelPath::for_target("thumbv8m.main-none-eabihf", "dsp", Some("cortex-m33"));
        assert_eq!(m33, KernelPath::Dsp);
        let plain = KernelPath::for_target("thumbv8m.main-none-eabihf", "", None);
        assert_eq!(plain, KernelPath::Portable);
        let m0 = KernelPath::for_target("thumbv6m-none-eabi", "", None);
        assert_eq!(m0, KernelPath::Portable);
        let a64 = KernelPath::for_target("aarch64-unknown-linux-gnu", "neon,fp-armv8", None);
        assert_eq!(a64, KernelPath::Neon);
        let x86 = KernelPath::for_target("x86_64-unknown-linux-gnu", "sse2", None);
        assert_eq!(x86, KernelPath::Portable);
    }

    #[test]
    fn aligned_pieces() {
        let mut b = [0u8; 40];
        for start in 0..8 {
            let (a, rest) = split_aligned(&mut b[start..], 24).unwrap();
            assert_eq!(a.as_ptr() as usize % 8, 0);
            assert_eq!(a.len(), 24);
            assert!(rest.len() + 24 + ALIGN_SLACK >= 40 - start);
        }
        assert!(split_aligned(&mut b[1..], 40).is_none());
    }
}
