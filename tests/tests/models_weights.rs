//! bfmd-models against the PyTorch definitions without running them: every backbone at its
//! paper's standard configuration reads exactly the `state_dict` torchvision / timm / the
//! seed's code has (names and shapes), counts the same parameters and multiply-accumulates,
//! and lands within 5 % of the published counts; configurations are recovered from weights;
//! weights that do not fit are rejected with errors naming the tensor and the shapes.

mod models_util;

use bfmd_models::config::{Backbone, Config};
use bfmd_models::error::Error;
use bfmd_models::weights::{Tensor, Weights};
use bfmd_models::{build, derive_config, parse_set, Summary};
use models_util::{data_dir, Case};
use std::collections::BTreeMap;

/// The standard configurations of `standard.json` (written by `make_reference.py` from the
/// PyTorch definitions) as bfmd configurations.
fn standard_cases() -> Vec<(&'static str, Backbone, Config)> {
    let d = Config::DEFAULT;
    let mut v = vec![
        ("mobilenet_v1", Backbone::MobileNetV1, d),
        ("mobilenet_v2", Backbone::MobileNetV2, d),
        ("mobilenet_v3_small", Backbone::MobileNetV3Small, d),
        ("mobilenet_v3_large", Backbone::MobileNetV3Large, d),
        ("mobilenext", Backbone::MobileNeXt, d),
        ("googlenet", Backbone::GoogLeNet, d),
        (
            "googlenet_seed",
            Backbone::GoogLeNet,
            Config {
                seed_style: true,
                ..d
            },
        ),
        (
            "inception_v3",
            Backbone::InceptionV3,
            Backbone::InceptionV3.standard(),
        ),
        (
            "xception",
            Backbone::Xception,
            Backbone::Xception.standard(),
        ),
        ("efficientnet_b0", Backbone::EfficientNetB0, d),
        ("efficientnet_lite0", Backbone::EfficientNetLite0, d),
        (
            "blazeface",
            Backbone::BlazeFace,
            Backbone::BlazeFace.standard(),
        ),
    ];
    for (name, g) in [
        ("shufflenet_v1_g1", 1),
        ("shufflenet_v1_g2", 2),
        ("shufflenet_v1_g3", 3),
        ("shufflenet_v1_g4", 4),
        ("shufflenet_v1_g8", 8),
    ] {
        v.push((name, Backbone::ShuffleNetV1, Config { groups: g, ..d }));
    }
    for (name, w) in [
        ("shufflenet_v2_x0_5", 0.5),
        ("shufflenet_v2_x1_0", 1.0),
        ("shufflenet_v2_x1_5", 1.5),
        ("shufflenet_v2_x2_0", 2.0),
    ] {
        v.push((name, Backbone::ShuffleNetV2, Config { width: w, ..d }));
    }
    v
}

fn standard_json() -> serde_json::Value {
    let text = std::fs::read_to_string(data_dir().join("standard.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn standard_configurations_read_the_pytorch_state_dicts_and_count_alike() {
    let json = standard_json();
    let models = json["models"].as_object().unwrap();
    let cases = standard_cases();
    assert_eq!(
        cases.len(),
        models.len(),
        "every entry of standard.json has a case"
    );
    for (name, b, cfg) in cases {
        let m = &models[name];
        assert_eq!(
            m["resolution"].as_u64().unwrap() as usize,
            cfg.resolution,
            "{name}"
        );
        let mut w = Weights::synthetic(0);
        let net = build(b, &cfg, &mut w).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want: BTreeMap<String, Vec<usize>> = m["tensors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let (n, s) = t.as_str().unwrap().rsplit_once(':').unwrap();
                let shape = if s.is_empty() {
                    vec![]
                } else {
                    s.split('x').map(|d| d.parse().unwrap()).collect()
                };
                (n.to_string(), shape)
            })
            .collect();
        let got = w.requested();
        let missing: Vec<_> = want
            .iter()
            .filter(|(k, v)| got.get(*k) != Some(v))
            .collect();
        let extra: Vec<_> = got
            .iter()
            .filter(|(k, v)| want.get(*k) != Some(v))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name}: state_dict differs; PyTorch only: {:?}; bfmd only: {:?}",
            &missing[..missing.len().min(5)],
            &extra[..extra.len().min(5)]
        );
        assert_eq!(net.params, m["params"].as_u64().unwrap(), "{name}: params");
        assert_eq!(net.macs(), m["macs"].as_u64().unwrap(), "{name}: MACs");
    }
}

/// Published counts at the standard configurations: (case, params, MACs, source). MACs are
/// the papers' "mult-adds" / "FLOPs" (both count multiply-accumulates).
const PUBLISHED: &[(&str, Option<f64>, Option<f64>, &str)] = &[
    (
        "mobilenet_v1",
        Some(4.2e6),
        Some(569e6),
        "Howard et al. 2017, Table 8",
    ),
    (
        "mobilenet_v2",
        Some(3.4e6),
        Some(300e6),
        "Sandler et al. 2018, Table 4",
    ),
    (
        "mobilenet_v3_large",
        Some(5.4e6),
        Some(219e6),
        "Howard et al. 2019, Table 3",
    ),
    (
        "mobilenet_v3_small",
        Some(2.5e6),
        Some(56e6),
        "Howard et al. 2019, Table 4",
    ),
    (
        "mobilenext",
        Some(3.4e6),
        Some(300e6),
        "Zhou et al. 2020, Table 4 (seed: 3.5M, 311M)",
    ),
    (
        "shufflenet_v1_g3",
        None,
        Some(140e6),
        "Zhang et al. 2017, Table 2 (1x, g = 3)",
    ),
    (
        "shufflenet_v2_x1_0",
        Some(2.3e6),
        Some(146e6),
        "Ma et al. 2018, Table 5",
    ),
    (
        "googlenet",
        Some(6.6e6),
        Some(1.5e9),
        "torchvision docs (no aux heads)",
    ),
    (
        "inception_v3",
        Some(23.8e6),
        Some(5.71e9),
        "torchvision: 27.2M with the aux head, 23.8M without; 5.71 GFLOPS",
    ),
    (
        "xception",
        Some(22.9e6),
        Some(8.4e9),
        "Chollet 2017, Table 3; timm: 8.4 GMACs",
    ),
    (
        "efficientnet_b0",
        Some(5.3e6),
        Some(390e6),
        "Tan and Le 2019, Table 2",
    ),
    (
        "efficientnet_lite0",
        Some(4.7e6),
        None,
        "tensorflow/tpu efficientnet/lite README",
    ),
];

#[test]
fn standard_configurations_match_the_published_counts() {
    let cases = standard_cases();
    for &(name, params, macs, source) in PUBLISHED {
        let (_, b, cfg) = cases.iter().find(|c| c.0 == name).unwrap();
        let net = build(*b, cfg, &mut Weights::synthetic(0)).unwrap();
        if let Some(p) = params {
            let r = net.params as f64 / p;
            assert!(
                (0.95..=1.05).contains(&r),
                "{name}: {} params vs {p} ({source})",
                net.params
            );
        }
        if let Some(m) = macs {
            let r = net.macs() as f64 / m;
            assert!(
                (0.95..=1.05).contains(&r),
                "{name}: {} MACs vs {m} ({source})",
                net.macs()
            );
        }
    }
}

#[test]
fn summary_plans_int8_and_f16_arenas_for_a_standard_configuration() {
    let s = Summary::of(Backbone::MobileNetV2, &Config::DEFAULT).unwrap();
    assert_eq!(s.params, 3_504_872);
    assert_eq!(s.macs, 300_774_272);
    // The largest activation pair at 224x224: the first expansion (112x112x96 int8 =
    // 1.2 MB) with its input (112x112x16); f16 needs twice as many bytes as int8.
    assert!(s.arena_int8 >= 112 * 112 * 96, "{s:?}");
    assert!(s.arena_f16 >= 2 * 112 * 112 * 96, "{s:?}");
    // Weights: at least one byte per weight in int8, two in f16.
    assert!(s.weights_int8 as u64 >= s.params - 40_000 && s.weights_f16 > s.weights_int8);
}

/// The configuration each reference was made with, as `derive_config` finds it from the
/// weights alone (resolution given).
#[test]
fn configurations_are_derived_from_the_weights() {
    let cases: &[(&str, Backbone, f32, usize, bool, bool)] = &[
        // (case, backbone, width, groups, scale_last, seed_style)
        ("mobilenet_v1", Backbone::MobileNetV1, 0.25, 3, false, false),
        ("mobilenet_v2", Backbone::MobileNetV2, 0.35, 3, false, false),
        (
            "mobilenet_v3_large",
            Backbone::MobileNetV3Large,
            0.4,
            3,
            false,
            false,
        ),
        (
            "mobilenet_v3_small",
            Backbone::MobileNetV3Small,
            0.5,
            3,
            false,
            false,
        ),
        ("mobilenext", Backbone::MobileNeXt, 0.35, 3, true, false),
        (
            "shufflenet_v1",
            Backbone::ShuffleNetV1,
            0.5,
            3,
            false,
            false,
        ),
        (
            "shufflenet_v2",
            Backbone::ShuffleNetV2,
            0.5,
            3,
            false,
            false,
        ),
        ("googlenet", Backbone::GoogLeNet, 0.25, 3, false, true),
        (
            "efficientnet_b0_w040",
            Backbone::EfficientNetB0,
            0.4,
            3,
            false,
            false,
        ),
        (
            "efficientnet_lite0_w035",
            Backbone::EfficientNetLite0,
            0.35,
            3,
            false,
            false,
        ),
        (
            "inception_v3_w0125",
            Backbone::InceptionV3,
            0.125,
            3,
            false,
            false,
        ),
        ("xception_w0125", Backbone::Xception, 0.125, 3, false, false),
    ];
    for &(name, b, width, groups, scale_last, seed_style) in cases {
        let mut c = Case::load(name);
        let base = Config {
            resolution: c.input_shape().h,
            ..Config::DEFAULT
        };
        let cfg = derive_config(b, &mut c.weights, base, &["resolution"])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Widths that round to the same channels describe the same network: compare the
        // derived configuration's network with the reference's.
        let want = Config {
            width,
            groups,
            scale_last,
            seed_style,
            classes: 10,
            ..base
        };
        let a = build(b, &cfg, &mut c.weights).unwrap();
        let e = build(b, &want, &mut c.weights).unwrap();
        assert_eq!(cfg.classes, 10, "{name}");
        assert_eq!((cfg.groups, cfg.seed_style), (groups, seed_style), "{name}");
        assert_eq!(a, e, "{name}: derived {cfg:?}");
    }
}

#[test]
fn missing_or_misshapen_tensors_are_named_with_the_expected_shape() {
    let c = Case::load("mobilenet_v2");
    let cfg = Config {
        width: 0.35,
        resolution: 96,
        classes: 10,
        ..Config::DEFAULT
    };
    // A missing tensor.
    let mut w = c.weights.clone();
    w.remove("features.3.conv.1.0.weight").unwrap();
    let e = build(Backbone::MobileNetV2, &cfg, &mut w).unwrap_err();
    assert_eq!(
        e,
        Error::MissingTensor {
            tensor: "features.3.conv.1.0.weight".into(),
            expected: vec![48, 1, 3, 3],
        }
    );
    assert!(
        e.to_string().contains("`features.3.conv.1.0.weight`"),
        "{e}"
    );
    assert!(e.to_string().contains("[48, 1, 3, 3]"), "{e}");
    // A tensor of another shape (a depthwise filter made dense).
    let mut w = c.weights.clone();
    w.insert(
        "features.3.conv.1.0.weight",
        Tensor {
            shape: vec![48, 48, 3, 3],
            data: vec![0.0; 48 * 48 * 9],
        },
    );
    let e = build(Backbone::MobileNetV2, &cfg, &mut w).unwrap_err();
    assert_eq!(
        e,
        Error::ShapeMismatch {
            tensor: "features.3.conv.1.0.weight".into(),
            expected: vec![48, 1, 3, 3],
            found: vec![48, 48, 3, 3],
        }
    );
    assert_eq!(
        e.to_string(),
        "weights: tensor `features.3.conv.1.0.weight` has shape [48, 48, 3, 3], expected [48, 1, 3, 3]"
    );
    // The wrong width: 0.5 and 0.35 agree up to stage 2's projection (24 channels round to
    // 16 and 8).
    let mut w = c.weights.clone();
    let wide = Config { width: 0.5, ..cfg };
    let e = build(Backbone::MobileNetV2, &wide, &mut w).unwrap_err();
    assert_eq!(
        e,
        Error::ShapeMismatch {
            tensor: "features.2.conv.2.weight".into(),
            expected: vec![16, 48, 1, 1],
            found: vec![8, 48, 1, 1],
        }
    );
    // Extra tensors (weights of a deeper configuration) are not silently ignored.
    let mut w = c.weights.clone();
    w.insert(
        "features.19.0.weight",
        Tensor {
            shape: vec![1],
            data: vec![0.0],
        },
    );
    let e = build(Backbone::MobileNetV2, &cfg, &mut w).unwrap_err();
    assert_eq!(e, Error::UnusedTensors(vec!["features.19.0.weight".into()]));
    // The wrong backbone for the weights.
    let mut w = c.weights.clone();
    let e = build(Backbone::MobileNetV3Small, &cfg, &mut w).unwrap_err();
    assert!(
        matches!(e, Error::MissingTensor { .. } | Error::ShapeMismatch { .. }),
        "{e}"
    );
}

#[test]
fn batch_norm_eps_comes_with_the_weights() {
    // The seed's Inception block has BatchNorm2d(8, 8): eps 8 on `b3.4`. Its tensor listing
    // says so; without it the definition's quirk gives the same eps; with the quirk switched
    // off and no listing the block computes something else.
    let c = Case::load("block_inception");
    let listed = c.weights.bn_eps("b3.4", 1e-5);
    assert_eq!(listed, 8.0);
    let shape = bfmd_kernels::Shape::new(1, 12, 12, 32);
    let run = |w: &mut Weights, quirk: bool| {
        use bfmd_models::googlenet::{inception_module, Style};
        use bfmd_models::lower::{lower, Precision};
        use bfmd_models::net::NetBuilder;
        use bfmd_models::run::Runner;
        let (mut nb, x) = NetBuilder::new("b", shape, w);
        let y = inception_module(
            &mut nb,
            x,
            "",
            Style::Seed { eps_quirk: quirk },
            [16, 24, 32, 4, 8, 8],
        )
        .unwrap();
        let net = nb.finish(y).unwrap();
        let l = lower(&net, Precision::F32, None, false).unwrap();
        Runner::new(&l).unwrap().infer(&c.inputs[0]).unwrap()
    };
    let mut plain =
        Weights::load(&data_dir().join("block_inception/block_inception.safetensors")).unwrap();
    let with_listing = run(&mut plain.clone(), false);
    let rel = bfmd_models::run::rel_max(&with_listing, &c.outputs[0]);
    assert!(
        rel < 1e-4,
        "the listing's eps wins over the definition's: {rel}"
    );
    // Without the listing: a state_dict alone (metadata only).
    let bytes =
        std::fs::read(data_dir().join("block_inception/block_inception.safetensors")).unwrap();
    plain = Weights::from_safetensors(&bytes).unwrap();
    let quirk = run(&mut plain.clone(), true);
    assert!(bfmd_models::run::rel_max(&quirk, &c.outputs[0]) < 1e-4);
    let wrong = run(&mut plain, false);
    assert!(
        bfmd_models::run::rel_max(&wrong, &c.outputs[0]) > 1e-2,
        "eps 1e-5 instead of 8 must change the output"
    );
}

#[test]
fn set_keys_parse_and_reject_mistakes() {
    let mut c = Config::DEFAULT;
    assert_eq!(parse_set(&mut c, "width=0.35").unwrap(), "width");
    assert_eq!(parse_set(&mut c, "scale_last=1").unwrap(), "scale_last");
    assert_eq!(parse_set(&mut c, "groups=8").unwrap(), "groups");
    assert_eq!((c.width, c.scale_last, c.groups), (0.35, true, 8));
    let e = parse_set(&mut c, "alpha=1").unwrap_err().to_string();
    assert!(
        e.contains("unknown key `alpha`") && e.contains("width"),
        "{e}"
    );
    assert!(parse_set(&mut c, "width").is_err());
    assert!(parse_set(&mut c, "width=-1").is_err());
    assert!(parse_set(&mut c, "scale_last=maybe").is_err());
    let e = build(
        Backbone::ShuffleNetV1,
        &Config {
            groups: 5,
            ..Config::DEFAULT
        },
        &mut Weights::synthetic(0),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("groups must be 1, 2, 3, 4 or 8"),
        "{e}"
    );
}

/// Every backbone, small, with made-up weights: the f32 lowering through bfmd-graph and the
/// kernels agrees with bfmd-models' plain interpreter (an independent oracle written from the
/// PyTorch semantics), including torchvision GoogLeNet's `ceil_mode` pools and
/// `transform_input`, which no weighted reference covers.
#[test]
fn every_backbone_lowers_like_the_interpreter() {
    use bfmd_models::interp::eval;
    use bfmd_models::lower::{lower, Precision};
    use bfmd_models::run::{rel_max, Runner};
    let small = |b: Backbone, width: f32, resolution: usize| {
        let s = b.standard();
        Config {
            width,
            resolution,
            classes: if b.is_classifier() { 7 } else { 0 },
            ..s
        }
    };
    let mut cases: Vec<(Backbone, Config)> = Backbone::ALL
        .iter()
        .map(|&b| match b {
            Backbone::ShuffleNetV2 => (b, small(b, 0.5, 64)),
            Backbone::InceptionV3 | Backbone::Xception => (b, small(b, 0.125, 80)),
            Backbone::BlazeFace => (b, small(b, 0.5, 64)),
            _ => (b, small(b, 0.25, 64)),
        })
        .collect();
    // torchvision GoogLeNet on an odd size (ceil_mode pools pad at the bottom/right) with
    // transform_input, and the seed's.
    cases.push((
        Backbone::GoogLeNet,
        Config {
            transform_input: true,
            ..small(Backbone::GoogLeNet, 0.25, 71)
        },
    ));
    cases.push((
        Backbone::GoogLeNet,
        Config {
            seed_style: true,
            ..small(Backbone::GoogLeNet, 0.25, 64)
        },
    ));
    for (b, cfg) in cases {
        let net = build(b, &cfg, &mut Weights::synthetic(3)).unwrap();
        let n = net.shape(net.input).len();
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 7919 % 2003) as f32 / 1001.0) - 1.0)
            .collect();
        let want = eval(&net, &x).unwrap().swap_remove(net.output.0);
        let l = lower(&net, Precision::F32, None, false).unwrap();
        let got = Runner::new(&l).unwrap().infer(&x).unwrap();
        let e = rel_max(&got, &want);
        assert!(e < 1e-4, "{} {cfg:?}: graph vs interpreter {e:e}", b.name());
    }
}
