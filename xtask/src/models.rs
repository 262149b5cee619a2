//! `cargo xtask models`: every native backbone of bfmd-models at its paper's standard
//! configuration and at the configuration of its PyTorch reference in `tests/data/torch/`:
//! parameters, multiply-accumulates (convolutions and linear layers), arena bytes of the int8
//! and f16 lowerings, and weight bytes; beside them the published counts (standard rows) or
//! the reference manifest's counts (reference rows).
//!
//! `cargo xtask models --accuracy DIR` instead runs every reference found in `DIR` (the
//! layout of `tests/data/torch/` or of the shared `torch/` folder) on all of its inputs in
//! f32, f16 and int8 (calibrated on those inputs) and prints the agreement as Markdown rows
//! (the README's table).

use bfmd_models::{Backbone, Config, Summary};
use std::path::Path;

/// Published (params, MACs) at the standard configurations, with their sources (the same
/// table as `tests/tests/models_weights.rs`).
fn published(b: Backbone) -> (Option<f64>, Option<f64>, &'static str) {
    match b {
        Backbone::MobileNetV1 => (Some(4.2e6), Some(569e6), "Howard 2017 T8"),
        Backbone::MobileNetV2 => (Some(3.4e6), Some(300e6), "Sandler 2018 T4"),
        Backbone::MobileNetV3Small => (Some(2.5e6), Some(56e6), "Howard 2019 T4"),
        Backbone::MobileNetV3Large => (Some(5.4e6), Some(219e6), "Howard 2019 T3"),
        Backbone::MobileNeXt => (Some(3.4e6), Some(300e6), "Zhou 2020"),
        Backbone::ShuffleNetV1 => (None, Some(140e6), "Zhang 2017 T2"),
        Backbone::ShuffleNetV2 => (Some(2.3e6), Some(146e6), "Ma 2018 T5"),
        Backbone::GoogLeNet => (Some(6.6e6), Some(1.5e9), "torchvision"),
        Backbone::InceptionV3 => (Some(23.8e6), Some(5.71e9), "torchvision, no aux"),
        Backbone::Xception => (Some(22.9e6), Some(8.4e9), "Chollet 2017 T3"),
        Backbone::EfficientNetB0 => (Some(5.3e6), Some(390e6), "Tan 2019 T2"),
        Backbone::EfficientNetLite0 => (Some(4.7e6), None, "TF lite README"),
        Backbone::BlazeFace => (None, None, "-"),
    }
}

/// The reference configurations of `tests/data/torch/` (folder, backbone, configuration).
fn references() -> Vec<(&'static str, Backbone, Config)> {
    let c = |width: f32, resolution: usize, classes: usize| Config {
        width,
        resolution,
        classes,
        ..Config::DEFAULT
    };
    vec![
        ("mobilenet_v1", Backbone::MobileNetV1, c(0.25, 96, 10)),
        ("mobilenet_v2", Backbone::MobileNetV2, c(0.35, 96, 10)),
        (
            "mobilenet_v3_small",
            Backbone::MobileNetV3Small,
            c(0.5, 96, 10),
        ),
        (
            "mobilenet_v3_large",
            Backbone::MobileNetV3Large,
            c(0.4, 96, 10),
        ),
        (
            "mobilenext",
            Backbone::MobileNeXt,
            Config {
                scale_last: true,
                ..c(0.35, 96, 10)
            },
        ),
        ("shufflenet_v1", Backbone::ShuffleNetV1, c(0.5, 96, 10)),
        ("shufflenet_v2", Backbone::ShuffleNetV2, c(0.5, 96, 10)),
        (
            "googlenet",
            Backbone::GoogLeNet,
            Config {
                seed_style: true,
                ..c(0.25, 96, 10)
            },
        ),
        (
            "inception_v3_w0125",
            Backbone::InceptionV3,
            Config {
                transform_input: true,
                ..c(0.125, 96, 10)
            },
        ),
        ("xception_w0125", Backbone::Xception, c(0.125, 96, 10)),
        (
            "efficientnet_b0_w040",
            Backbone::EfficientNetB0,
            c(0.4, 96, 10),
        ),
        (
            "efficientnet_lite0_w035",
            Backbone::EfficientNetLite0,
            c(0.35, 96, 10),
        ),
        ("blazeface_backbone", Backbone::BlazeFace, c(1.0, 128, 0)),
    ]
}

fn config_text(b: Backbone, c: &Config) -> String {
    let mut s = format!("w{} {}px", c.width, c.resolution);
    if c.transform_input {
        s += " ti";
    }
    match b {
        Backbone::ShuffleNetV1 => s += &format!(" g{}", c.groups),
        Backbone::GoogLeNet if c.seed_style => s += " seed",
        Backbone::MobileNeXt if c.scale_last => s += " scale_last",
        _ => {}
    }
    s
}

fn millions(v: f64) -> String {
    if v >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else {
        format!("{:.2}M", v / 1e6)
    }
}

fn manifest_counts(dir: &Path) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(dir.join("manifest.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some((v["params"].as_u64()?, v["macs"].as_u64()?))
}

fn header() {
    println!(
        "{:<19} {:<18} {:>10} {:>12} {:>11} {:>11} {:>12} {:>12}  check",
        "backbone",
        "configuration",
        "params",
        "MACs",
        "arena int8",
        "arena f16",
        "weights i8",
        "weights f16",
    );
}

fn row(b: Backbone, c: &Config, s: &Summary, check: &str) {
    println!(
        "{:<19} {:<18} {:>10} {:>12} {:>11} {:>11} {:>12} {:>12}  {}",
        b.name(),
        config_text(b, c),
        s.params,
        s.macs,
        s.arena_int8,
        s.arena_f16,
        s.weights_int8,
        s.weights_f16,
        check
    );
}

fn read_f32(path: &Path) -> Result<Vec<f32>, String> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// One reference folder in f32, f16 and int8, as a Markdown row.
fn accuracy_row(folder: &Path, name: &str, b: Backbone, c: &Config) -> Result<String, String> {
    use bfmd_models::calib::quantize;
    use bfmd_models::compare::{compare, f16_floor, int8_floor, worst_local};
    use bfmd_models::lower::{lower, Precision};
    use bfmd_models::run::{argmax, cosine, rel_max, Runner};
    let e = |e: bfmd_models::error::Error| format!("{name}: {e}");
    let mut w = bfmd_models::weights::Weights::load(&folder.join(format!("{name}.safetensors")))
        .map_err(e)?;
    let net = bfmd_models::build(b, c, &mut w).map_err(e)?;
    let (mut inputs, mut torch) = (Vec::new(), Vec::new());
    for i in 0.. {
        let x = folder.join(format!("input_{i}.nhwc.f32"));
        if !x.exists() {
            break;
        }
        let y = [format!("output_{i}.f32"), format!("output_{i}.nhwc.f32")]
            .iter()
            .map(|f| folder.join(f))
            .find(|p| p.exists())
            .ok_or_else(|| format!("{name}: no output_{i}"))?;
        inputs.push(read_f32(&x)?);
        torch.push(read_f32(&y)?);
    }
    let run = |p: Precision, plan| -> Result<Vec<Vec<f32>>, String> {
        let mut r = Runner::new(&lower(&net, p, plan, false).map_err(e)?).map_err(e)?;
        inputs.iter().map(|x| r.infer(x).map_err(e)).collect()
    };
    let y32 = run(Precision::F32, None)?;
    let f32_rel = y32
        .iter()
        .zip(&torch)
        .map(|(a, t)| rel_max(a, t))
        .fold(0f32, f32::max);
    let y16 = run(Precision::F16, None)?;
    let f16_rel = y16
        .iter()
        .zip(&y32)
        .map(|(a, t)| rel_max(a, t))
        .fold(0f32, f32::max);
    let plan = quantize(&net, &inputs).map_err(e)?;
    let y8 = run(Precision::Int8, Some(&plan))?;
    let cos = y8
        .iter()
        .zip(&y32)
        .map(|(a, t)| cosine(a, t))
        .fold(1f64, f64::min);
    let top1 = y8
        .iter()
        .zip(&y32)
        .filter(|(a, t)| argmax(a) == argmax(t))
        .count();
    let fl16 = f16_floor(&net, &inputs, &y32).map_err(e)?;
    let fl8 = int8_floor(&net, &plan, &inputs, &y32).map_err(e)?;
    let rows = compare(&net, Precision::Int8, Some(&plan), &inputs).map_err(e)?;
    let own = worst_local(&rows).map(|r| r.local_cos).unwrap_or(1.0);
    let s = Summary::of_net(&net).map_err(e)?;
    let top1 = if b.is_classifier() {
        format!("{top1}/{}", inputs.len())
    } else {
        "-".into()
    };
    Ok(format!(
        "| {} | {} | {:.1e} | {:.1e} ({:.1e}) | {:.4} ({:.4}) | {} | {:.4} | {} | {} | {} | {} |",
        b.name(),
        config_text(b, c),
        f32_rel,
        f16_rel,
        fl16,
        cos,
        fl8,
        top1,
        own,
        s.params,
        s.macs,
        s.arena_int8,
        s.arena_f16
    ))
}

fn accuracy(dir: &Path) -> Result<(), String> {
    println!("| backbone | configuration | f32 vs PyTorch | f16 vs f32 (floor) | int8 cosine (floor) | int8 top-1 = f32 | worst own int8 op | params | MACs | arena int8 | arena f16 |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, b, c) in references() {
        let folder = dir.join(name);
        if folder.exists() {
            println!("{}", accuracy_row(&folder, name, b, &c)?);
        }
    }
    Ok(())
}

/// Runs `models`.
pub fn run(args: &[String]) -> Result<(), String> {
    match args {
        [] => {}
        [a, d] if a == "--accuracy" => return accuracy(Path::new(d)),
        _ => {
            return Err(format!(
                "unknown arguments {args:?} (usage: cargo xtask models [--accuracy DIR])"
            ))
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut failures = Vec::new();
    println!("standard configurations (ImageNet, 1000 classes; published counts beside):");
    header();
    for b in Backbone::ALL {
        let c = b.standard();
        let s = Summary::of(b, &c).map_err(|e| format!("{}: {e}", b.name()))?;
        let (pp, pm, src) = published(b);
        let mut check = String::new();
        for (what, got, want) in [("params", s.params, pp), ("MACs", s.macs, pm)] {
            if let Some(want) = want {
                let r = got as f64 / want;
                let ok = (0.95..=1.05).contains(&r);
                check += &format!(
                    "{what} {} {} ",
                    millions(want),
                    if ok { "ok" } else { "OFF" }
                );
                if !ok {
                    failures.push(format!("{} {what}: {got} vs published {want}", b.name()));
                }
            }
        }
        check += &format!("({src})");
        row(b, &c, &s, &check);
    }
    println!();
    println!("reference configurations (tests/data/torch; the manifests' PyTorch counts beside):");
    header();
    for (dir, b, c) in references() {
        let s = Summary::of(b, &c).map_err(|e| format!("{}: {e}", b.name()))?;
        let check = match manifest_counts(&root.join("tests/data/torch").join(dir)) {
            Some((p, m)) if p == s.params && m == s.macs => format!("= {dir} manifest"),
            Some((p, m)) => {
                failures.push(format!("{dir}: params {p}, MACs {m} in the manifest"));
                format!("manifest {p} / {m} DIFFERS")
            }
            None => format!("({dir}: no manifest)"),
        };
        row(b, &c, &s, &check);
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}
