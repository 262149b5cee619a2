//! libFuzzer target: a PyTorch `.safetensors` file as the weights of bfmd's native backbones.
//! The file is read (`Weights::from_safetensors`), and every backbone whose builder accepts it
//! (at 32x32, so a run stays quick) is configured from it and built; a network of at most 80
//! layers is then lowered to f32, checked (`Model::parse` with the fuzz limits) and run once
//! on zero inputs. Wrong names, shapes,
//! dtypes, lengths or headers must be errors, never panics.
//!
//! Seeds: small synthetic weights of the backbones (`tests/data/fuzz/safetensors/`) and
//! BlazeFace's real ones (`cargo xtask fuzz` copies them).

#![no_main]

use bfmd_fuzz::parse_and_run;
use bfmd_models::lower::{lower, Precision};
use bfmd_models::weights::Weights;
use bfmd_models::{build, derive_config, Backbone};
use libfuzzer_sys::fuzz_target;

/// Most layers of a network lowered and run.
const MAX_LOWERED_NODES: usize = 80;

fuzz_target!(|data: &[u8]| {
    let weights = match Weights::from_safetensors(data) {
        Ok(w) => w,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    for backbone in Backbone::ALL {
        let mut w = weights.clone();
        let mut cfg = backbone.standard();
        cfg.resolution = 32;
        let Ok(cfg) = derive_config(backbone, &mut w, cfg, &["resolution"]) else {
            continue;
        };
        let Ok(net) = build(backbone, &cfg, &mut w) else {
            continue;
        };
        // Lowering plans in place, which re-plans once per candidate op: seconds per
        // execution for the deep backbones under the sanitizer. Their building is fuzzed here,
        // their lowering by `tflite_pipeline`; the shallow ones go all the way.
        if net.macs() > bfmd_fuzz::LIMITS.max_total_work || net.nodes.len() > MAX_LOWERED_NODES {
            continue;
        }
        match lower(&net, Precision::F32, None, false) {
            Ok(l) => parse_and_run(l.built.blob),
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
