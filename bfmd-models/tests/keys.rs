//! `Backbone::keys` lists every `Config` key a backbone's builder reads: `--set` rejects the
//! others as ignored, so a key missing from the list would reject a setting that matters. For
//! every backbone and every key not in its list, changing the key must leave the built network
//! (every layer, shape and weight: `Net` compares them all) exactly as it was.

use bfmd_models::net::Net;
use bfmd_models::weights::Weights;
use bfmd_models::{build, Backbone, Config};

/// `backbone` built with `cfg` from synthetic weights (a function of the tensor names only).
fn net(backbone: Backbone, cfg: &Config) -> Net {
    let mut w = Weights::synthetic(3);
    build(backbone, cfg, &mut w).unwrap_or_else(|e| panic!("{backbone:?}: {e}"))
}

/// `cfg` with `key` set to a value other than its standard one.
fn changed(mut cfg: Config, key: &str) -> Config {
    match key {
        "width" => cfg.width *= 0.5,
        "resolution" => cfg.resolution *= 2,
        "classes" => cfg.classes += 3,
        "groups" => cfg.groups = if cfg.groups == 2 { 4 } else { 2 },
        "depth" => cfg.depth *= 2.0,
        "scale_last" => cfg.scale_last = !cfg.scale_last,
        "stem_stride" => cfg.stem_stride = 3 - cfg.stem_stride,
        "transform_input" => cfg.transform_input = !cfg.transform_input,
        "seed_style" => cfg.seed_style = !cfg.seed_style,
        "seed_eps_quirk" => cfg.seed_eps_quirk = !cfg.seed_eps_quirk,
        other => panic!("Config::KEYS has a key this test does not know: {other}"),
    }
    cfg
}

#[test]
fn keys_a_backbone_does_not_list_do_not_change_it() {
    for backbone in Backbone::ALL {
        let mut base = backbone.standard();
        // Small, so that 13 x 10 builds stay quick (Inception v3 needs at least 75 pixels).
        base.resolution = 96;
        if backbone.is_classifier() {
            base.classes = 10;
        }
        let want = net(backbone, &base);
        for (key, _) in Config::KEYS {
            if backbone.keys().contains(&key) {
                continue;
            }
            let got = net(backbone, &changed(base, key));
            assert!(
                got == want,
                "{}: `{key}` is not in Backbone::keys but changes the network ({} -> {} MACs)",
                backbone.name(),
                want.macs(),
                got.macs()
            );
        }
    }
}

#[test]
fn the_listed_keys_exist() {
    for backbone in Backbone::ALL {
        for key in backbone.keys() {
            assert!(
                Config::KEYS.iter().any(|(k, _)| k == key),
                "{}: unknown key {key}",
                backbone.name()
            );
        }
    }
}
