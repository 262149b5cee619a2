//! The seeds of the `safetensors_backbone` fuzz target (`tests/data/fuzz/safetensors/`, read
//! by `cargo xtask fuzz`): every backbone that builds at 32x32 (the target's resolution), at
//! width 0.1 (ShuffleNets 0.5) with 2 classes, its synthetic weights (`Weights::synthetic`) written as an f16
//! safetensors file, when at most 512 KiB. Tens of kilobytes instead of the real weights'
//! megabytes, so libFuzzer
//! runs them many times faster. Committed, and checked here to be current;
//! `BFMD_UPDATE_FUZZ_SEEDS=1 cargo test -p bfmd-models --test fuzz_seeds` rewrites them.

use bfmd_kernels::half::f16;
use bfmd_models::weights::Weights;
use bfmd_models::{build, Backbone};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The f16 safetensors file of `backbone`'s synthetic weights, `None` when it does not build
/// at this size.
fn seed(backbone: Backbone) -> Option<Vec<u8>> {
    let mut cfg = backbone.standard();
    cfg.resolution = 32;
    // ShuffleNets have channel rules the narrowest widths break.
    cfg.width = match backbone {
        Backbone::ShuffleNetV1 | Backbone::ShuffleNetV2 => 0.5,
        _ => 0.1,
    };
    if backbone.is_classifier() {
        cfg.classes = 2;
    }
    let mut w = Weights::synthetic(16);
    build(backbone, &cfg, &mut w).ok()?;
    let shapes = w.requested().clone();
    let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, shape) in shapes {
        let v = w.tensor(&name, &shape).expect("synthetic tensors exist");
        let bytes = v
            .iter()
            .flat_map(|x| f16::from_f32(*x).to_le_bytes())
            .collect();
        data.push((name, shape, bytes));
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = data
        .iter()
        .map(|(n, s, b)| {
            let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F16, s.clone(), b)
                .expect("view");
            (n.clone(), view)
        })
        .collect();
    Some(safetensors::serialize(views, &None).expect("serializes"))
}

/// Largest seed kept, in bytes (MobileNeXt and Xception keep wide layers at any width).
const MAX_SEED: usize = 512 << 10;

#[test]
fn fuzz_seeds_are_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/fuzz/safetensors");
    let want: BTreeMap<String, Vec<u8>> = Backbone::ALL
        .iter()
        .filter_map(|&b| seed(b).map(|s| (format!("{}.safetensors", b.name()), s)))
        .filter(|(_, s)| s.len() <= MAX_SEED)
        .collect();
    assert!(want.len() >= 6, "only {} seeds", want.len());
    // The seeds are what the fuzz target reads: each must load back.
    for (n, s) in &want {
        assert!(Weights::from_safetensors(s).is_ok(), "{n} does not load");
    }
    if std::env::var_os("BFMD_UPDATE_FUZZ_SEEDS").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("seed directory");
        for (n, s) in &want {
            std::fs::write(dir.join(n), s).expect("seed written");
        }
    }
    let mut have = BTreeMap::new();
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        have.insert(n, std::fs::read(e.path()).expect("seed reads"));
    }
    assert!(
        have == want,
        "{} is stale: rerun with BFMD_UPDATE_FUZZ_SEEDS=1",
        dir.display()
    );
}
