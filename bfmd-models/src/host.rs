//! Host-side entry points: build any backbone, find the configuration a `state_dict` was made
//! with, parse `--set` keys, and summarize a configuration (params, MACs, arena bytes).

use crate::calib::{QuantPlan, Ranges};
use crate::config::{Backbone, Config};
use crate::error::{Error, Result};
use crate::lower::{lower, Precision};
use crate::net::Net;
use crate::weights::Weights;

/// Builds `backbone` with `cfg` from `w` (every tensor read by name and shape; tensors left
/// unread are an error, see [`crate::net::NetBuilder::finish`]).
pub fn build(backbone: Backbone, cfg: &Config, w: &mut Weights) -> Result<Net> {
    w.reset_usage();
    match backbone {
        Backbone::MobileNetV1 => crate::mobilenet_v1::build(cfg, w),
        Backbone::MobileNetV2 => crate::mobilenet_v2::build(cfg, w),
        Backbone::MobileNetV3Small => crate::mobilenet_v3::build(false, cfg, w),
        Backbone::MobileNetV3Large => crate::mobilenet_v3::build(true, cfg, w),
        Backbone::MobileNeXt => crate::mobilenext::build(cfg, w),
        Backbone::ShuffleNetV1 => crate::shufflenet_v1::build(cfg, w),
        Backbone::ShuffleNetV2 => crate::shufflenet_v2::build(cfg, w),
        Backbone::GoogLeNet => crate::googlenet::build(cfg, w),
        Backbone::InceptionV3 => crate::inception_v3::build(cfg, w),
        Backbone::Xception => crate::xception::build(cfg, w),
        Backbone::EfficientNetB0 => crate::efficientnet::build_b0(cfg, w),
        Backbone::EfficientNetLite0 => crate::efficientnet::build_lite0(cfg, w),
        Backbone::BlazeFace => crate::blazeface::build(cfg, w),
    }
}

/// The names the classifiers' last linear layer has in the supported `state_dict`s.
const CLASSIFIER_NAMES: [&str; 5] = [
    "classifier.1.weight",
    "classifier.3.weight",
    "classifier.weight",
    "fc.weight",
    "linear.weight",
];

/// Width multipliers tried when the weights must tell which one they were made with (the
/// common ones first: several multipliers may round to the same channel counts, and then
/// they describe the same network).
const WIDTHS: [f32; 30] = [
    1.0, 0.5, 0.75, 0.35, 0.25, 0.4, 1.5, 2.0, 1.4, 1.3, 1.25, 0.125, 0.3, 0.2, 0.1, 0.45, 0.55,
    0.6, 0.65, 0.7, 0.8, 0.85, 0.9, 0.95, 1.1, 1.2, 1.75, 0.15, 0.05, 0.375,
];

/// The configuration `w` was made with: `base` with the keys not named in `explicit` derived
/// from the weights (the class count from the classifier's shape, GoogLeNet's style from its
/// tensor names, then the first width multiplier, ShuffleNetV1 group count and MobileNeXt
/// `scale_last` for which every tensor has the shape the architecture needs). The input
/// resolution cannot be derived from weights: it stays `base.resolution`.
pub fn derive_config(
    backbone: Backbone,
    w: &mut Weights,
    base: Config,
    explicit: &[&str],
) -> Result<Config> {
    let mut cfg = base;
    if w.is_synthetic() {
        return Ok(cfg);
    }
    let given = |k: &str| explicit.contains(&k);
    if backbone.is_classifier() && !given("classes") {
        if let Some(s) = CLASSIFIER_NAMES.iter().find_map(|n| w.shape_of(n)) {
            cfg.classes = s[0];
        }
    }
    if backbone == Backbone::GoogLeNet && !given("seed_style") {
        cfg.seed_style = w.contains("prelayer.0.0.weight");
    }
    let widths: Vec<f32> = if given("width") || backbone == Backbone::BlazeFace {
        vec![cfg.width]
    } else {
        let mut v = vec![cfg.width];
        v.extend(WIDTHS.iter().filter(|&&x| x != cfg.width));
        v
    };
    let groups: Vec<usize> = if backbone == Backbone::ShuffleNetV1 && !given("groups") {
        let mut v = vec![cfg.groups];
        v.extend([1, 2, 3, 4, 8].iter().filter(|&&g| g != cfg.groups));
        v
    } else {
        vec![cfg.groups]
    };
    let lasts: Vec<bool> = if backbone == Backbone::MobileNeXt && !given("scale_last") {
        vec![cfg.scale_last, !cfg.scale_last]
    } else {
        vec![cfg.scale_last]
    };
    let mut first_err = None;
    for &g in &groups {
        for &l in &lasts {
            for &wd in &widths {
                let c = Config {
                    width: wd,
                    groups: g,
                    scale_last: l,
                    ..cfg
                };
                match build(backbone, &c, w) {
                    Ok(_) => return Ok(c),
                    // The base configuration's error names the tensor that does not fit.
                    Err(e) => {
                        if first_err.is_none() {
                            first_err = Some(e);
                        }
                    }
                }
            }
        }
    }
    Err(first_err.unwrap_or_else(|| Error::Config("no configuration fits the weights".into())))
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(Error::Config(format!("--set {key}: `{v}` is not 0/1"))),
    }
}

fn parse_num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T> {
    v.parse()
        .map_err(|_| Error::Config(format!("--set {key}: `{v}` is not a number")))
}

/// Applies one `key=value` (keys in [`Config::KEYS`]) to `cfg`; returns the key.
pub fn parse_set(cfg: &mut Config, kv: &str) -> Result<&'static str> {
    let (k, v) = kv
        .split_once('=')
        .ok_or_else(|| Error::Config(format!("--set `{kv}`: expected key=value")))?;
    let key = Config::KEYS
        .iter()
        .map(|(k, _)| *k)
        .find(|&name| name == k)
        .ok_or_else(|| {
            let keys: Vec<&str> = Config::KEYS.iter().map(|(k, _)| *k).collect();
            Error::Config(format!(
                "--set: unknown key `{k}` (keys: {})",
                keys.join(", ")
            ))
        })?;
    match key {
        "width" => cfg.width = parse_num(key, v)?,
        "resolution" => cfg.resolution = parse_num(key, v)?,
        "classes" => cfg.classes = parse_num(key, v)?,
        "groups" => cfg.groups = parse_num(key, v)?,
        "depth" => cfg.depth = parse_num(key, v)?,
        "scale_last" => cfg.scale_last = parse_bool(key, v)?,
        "stem_stride" => cfg.stem_stride = parse_num(key, v)?,
        "transform_input" => cfg.transform_input = parse_bool(key, v)?,
        "seed_style" => cfg.seed_style = parse_bool(key, v)?,
        _ => cfg.seed_eps_quirk = parse_bool(key, v)?,
    }
    if !(cfg.width.is_finite() && cfg.width > 0.0 && cfg.depth.is_finite() && cfg.depth > 0.0) {
        return Err(Error::Config(format!(
            "--set {key}: multipliers must be positive"
        )));
    }
    Ok(key)
}

/// Sizes of one backbone configuration, as `cargo xtask models` prints them.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// PyTorch parameter count.
    pub params: u64,
    /// Convolution and linear multiply-accumulates.
    pub macs: u64,
    /// Arena bytes of the int8 lowering.
    pub arena_int8: usize,
    /// Arena bytes of the f16 lowering.
    pub arena_f16: usize,
    /// Constant bytes of the int8 blob (weights, biases, multipliers, tables).
    pub weights_int8: usize,
    /// Constant bytes of the f16 blob.
    pub weights_f16: usize,
}

impl Summary {
    /// Builds `backbone` with made-up weights (sizes do not depend on values) and lowers it
    /// to int8 and f16.
    pub fn of(backbone: Backbone, cfg: &Config) -> Result<Summary> {
        let mut w = Weights::synthetic(1);
        let net = build(backbone, cfg, &mut w)?;
        Self::of_net(&net)
    }

    /// The sizes of a built net.
    pub fn of_net(net: &Net) -> Result<Summary> {
        let n = net.tensors.len();
        // Placeholder ranges: the int8 arena and constants do not depend on the scales.
        let r = Ranges {
            min: vec![-1.0; n],
            max: vec![1.0; n],
            images: 0,
        };
        let plan = QuantPlan::from_ranges(net, &r)?;
        let q = lower(net, Precision::Int8, Some(&plan), false)?;
        let h = lower(net, Precision::F16, None, false)?;
        Ok(Summary {
            params: net.params,
            macs: net.macs(),
            arena_int8: q.built.report.arena_bytes,
            arena_f16: h.built.report.arena_bytes,
            weights_int8: q.built.report.weights_bytes,
            weights_f16: h.built.report.weights_bytes,
        })
    }
}
