//! The architecture parameters every backbone takes, and the channel rounding rules of the
//! reference implementations. Plain `const` data and `const fn`s: usable on a device and in
//! `const` context.

/// One of bfmd's native backbones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Backbone {
    /// MobileNetV1 (Howard et al. 2017), the seed's definition.
    MobileNetV1,
    /// MobileNetV2 (Sandler et al. 2018), torchvision's definition.
    MobileNetV2,
    /// MobileNetV3-Small (Howard et al. 2019), torchvision's definition.
    MobileNetV3Small,
    /// MobileNetV3-Large, torchvision's definition.
    MobileNetV3Large,
    /// MobileNeXt (Zhou et al. 2020), the seed's definition (sandglass blocks).
    MobileNeXt,
    /// ShuffleNetV1 (Zhang et al. 2017), the seed's definition.
    ShuffleNetV1,
    /// ShuffleNetV2 (Ma et al. 2018), torchvision's definition.
    ShuffleNetV2,
    /// GoogLeNet / Inception v1 (Szegedy et al. 2014): torchvision's, or the seed's with BN.
    GoogLeNet,
    /// Inception v3 (Szegedy et al. 2016), torchvision's definition.
    InceptionV3,
    /// Xception (Chollet 2017), timm's `legacy_xception`.
    Xception,
    /// EfficientNet-B0 (Tan and Le 2019), torchvision's definition.
    EfficientNetB0,
    /// EfficientNet-Lite0, timm's definition.
    EfficientNetLite0,
    /// The BlazeFace feature extractor (Bazarevsky et al. 2019), the seed's definition.
    BlazeFace,
}

impl Backbone {
    /// Every backbone, in the order of the command line help.
    pub const ALL: [Backbone; 13] = [
        Backbone::MobileNetV1,
        Backbone::MobileNetV2,
        Backbone::MobileNetV3Small,
        Backbone::MobileNetV3Large,
        Backbone::MobileNeXt,
        Backbone::ShuffleNetV1,
        Backbone::ShuffleNetV2,
        Backbone::GoogLeNet,
        Backbone::InceptionV3,
        Backbone::Xception,
        Backbone::EfficientNetB0,
        Backbone::EfficientNetLite0,
        Backbone::BlazeFace,
    ];

    /// The command-line name (`mobilenet_v2`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Backbone::MobileNetV1 => "mobilenet_v1",
            Backbone::MobileNetV2 => "mobilenet_v2",
            Backbone::MobileNetV3Small => "mobilenet_v3_small",
            Backbone::MobileNetV3Large => "mobilenet_v3_large",
            Backbone::MobileNeXt => "mobilenext",
            Backbone::ShuffleNetV1 => "shufflenet_v1",
            Backbone::ShuffleNetV2 => "shufflenet_v2",
            Backbone::GoogLeNet => "googlenet",
            Backbone::InceptionV3 => "inception_v3",
            Backbone::Xception => "xception",
            Backbone::EfficientNetB0 => "efficientnet_b0",
            Backbone::EfficientNetLite0 => "efficientnet_lite0",
            Backbone::BlazeFace => "blazeface",
        }
    }

    /// The backbone of a command-line name.
    pub fn from_name(name: &str) -> Option<Backbone> {
        Backbone::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The paper's standard configuration (ImageNet: 1000 classes; BlazeFace: 128x128).
    pub const fn standard(self) -> Config {
        let c = Config::DEFAULT;
        match self {
            Backbone::InceptionV3 | Backbone::Xception => Config {
                resolution: 299,
                ..c
            },
            Backbone::BlazeFace => Config {
                resolution: 128,
                classes: 0,
                ..c
            },
            Backbone::ShuffleNetV1 => Config { groups: 3, ..c },
            _ => c,
        }
    }

    /// `true` for the classifiers (logits out); `false` for feature extractors.
    pub const fn is_classifier(self) -> bool {
        !matches!(self, Backbone::BlazeFace)
    }

    /// The [`Config::KEYS`] this backbone's builder reads (the others would be ignored, so
    /// `--set` rejects them).
    pub const fn keys(self) -> &'static [&'static str] {
        const BASE: &[&str] = &["width", "resolution", "classes"];
        match self {
            Backbone::MobileNetV1 => &["width", "resolution", "classes", "stem_stride"],
            Backbone::MobileNeXt => &["width", "resolution", "classes", "scale_last"],
            Backbone::ShuffleNetV1 => &["width", "resolution", "classes", "groups"],
            Backbone::GoogLeNet => &[
                "width",
                "resolution",
                "classes",
                "transform_input",
                "seed_style",
                "seed_eps_quirk",
            ],
            Backbone::InceptionV3 => &["width", "resolution", "classes", "transform_input"],
            Backbone::EfficientNetB0 | Backbone::EfficientNetLite0 => {
                &["width", "resolution", "classes", "depth"]
            }
            Backbone::BlazeFace => &["width", "resolution"],
            Backbone::MobileNetV2
            | Backbone::MobileNetV3Small
            | Backbone::MobileNetV3Large
            | Backbone::ShuffleNetV2
            | Backbone::Xception => BASE,
        }
    }
}

/// Architecture parameters. Keys not used by a backbone are ignored by it; the command line
/// sets them with `--set key=value` (names in [`Config::KEYS`], those a backbone uses in
/// [`Backbone::keys`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// Width multiplier (`width_mult`, `alpha`, `channel_multiplier`, ShuffleNetV2's `x0_5`
    /// ... `x2_0`, the seed's `width`).
    pub width: f32,
    /// Input height and width.
    pub resolution: usize,
    /// Classifier outputs (0 for feature extractors).
    pub classes: usize,
    /// ShuffleNetV1 groups of the 1x1 convolutions: 1, 2, 3, 4 or 8.
    pub groups: usize,
    /// EfficientNet depth multiplier (repeats per stage).
    pub depth: f32,
    /// MobileNeXt: also scale the last 1280 channels by `width` (the references' CHOICE);
    /// `false` is the seed.
    pub scale_last: bool,
    /// MobileNetV1 stem stride (2: ImageNet, the references; 1: the seed's CIFAR stem).
    pub stem_stride: usize,
    /// GoogLeNet / Inception v3: torchvision's `transform_input` (re-normalize ImageNet inputs
    /// to [-1, 1] per channel first).
    pub transform_input: bool,
    /// GoogLeNet: build the seed's Inception modules with BN (`a3.b1.0...`) instead of
    /// torchvision's (`inception3a.branch1.conv...`). Detected from the weights' names.
    pub seed_style: bool,
    /// Seed GoogLeNet: the `BatchNorm2d(n5x5, n5x5)` quirk (eps = n5x5) when no eps comes
    /// with the weights.
    pub seed_eps_quirk: bool,
}

impl Config {
    /// Width 1, 224x224, 1000 classes, ShuffleNetV1 g = 3, and each quirk as its reference
    /// implementation has it.
    pub const DEFAULT: Config = Config {
        width: 1.0,
        resolution: 224,
        classes: 1000,
        groups: 3,
        depth: 1.0,
        scale_last: false,
        stem_stride: 2,
        transform_input: false,
        seed_style: false,
        seed_eps_quirk: true,
    };

    /// The `--set` keys, with what they mean.
    pub const KEYS: [(&'static str, &'static str); 10] = [
        ("width", "width multiplier (float)"),
        ("resolution", "input height = width (pixels)"),
        ("classes", "classifier outputs"),
        (
            "groups",
            "shufflenet_v1: groups of the 1x1 convolutions (1, 2, 3, 4, 8)",
        ),
        ("depth", "efficientnet_*: depth multiplier (float)"),
        (
            "scale_last",
            "mobilenext: scale the last 1280 channels too (0/1)",
        ),
        ("stem_stride", "mobilenet_v1: stem stride (1 or 2)"),
        (
            "transform_input",
            "googlenet, inception_v3: torchvision's transform_input (0/1)",
        ),
        (
            "seed_style",
            "googlenet: the seed's modules with BN instead of torchvision's (0/1)",
        ),
        (
            "seed_eps_quirk",
            "googlenet (seed): BatchNorm2d(n5x5, n5x5) has eps = n5x5 (0/1)",
        ),
    ];
}

/// MobileNet channel rounding, `_make_divisible` of the MobileNetV2/V3/MobileNeXt reference
/// code (torchvision `ops/misc.py`, the seed's MobileNeXt): round to the nearest multiple of
/// `divisor`, at least `min_value` (default `divisor`), and never more than 10 % below `v`.
pub const fn make_divisible(v: f32, divisor: usize, min_value: usize) -> usize {
    let min_value = if min_value == 0 { divisor } else { min_value };
    let rounded = ((v + divisor as f32 / 2.0) as usize) / divisor * divisor;
    let mut new_v = if rounded > min_value {
        rounded
    } else {
        min_value
    };
    if (new_v as f32) < 0.9 * v {
        new_v += divisor;
    }
    new_v
}

/// timm's `round_channels` for EfficientNet(-Lite): `make_divisible(c * multiplier, 8)` with
/// timm's 0.9 round limit (`_efficientnet_builder.py`, `layers/helpers.py`).
pub const fn round_channels(c: usize, multiplier: f32) -> usize {
    make_divisible(c as f32 * multiplier, 8, 0)
}

/// `ceil(v)` for non-negative values, usable in `const` context.
pub const fn ceil_usize(v: f32) -> usize {
    let t = v as usize;
    if (t as f32) < v {
        t + 1
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_divisible_matches_torchvision() {
        // Values from torchvision's MobileNetV2 at width 0.35 (`features.0` has 16 channels,
        // the last block 112, the head 1280) and V3-Large at 0.4 (reference model.txt files).
        assert_eq!(make_divisible(32.0 * 0.35, 8, 0), 16);
        assert_eq!(make_divisible(320.0 * 0.35, 8, 0), 112);
        assert_eq!(make_divisible(24.0 * 0.35, 8, 0), 8);
        assert_eq!(make_divisible(960.0 * 0.4, 8, 0), 384);
        // The 10 % rule: 0.9 * 14.4 = 12.96 > 8, so 8 becomes 16.
        assert_eq!(make_divisible(14.4, 8, 0), 16);
        assert_eq!(ceil_usize(2.0), 2);
        assert_eq!(ceil_usize(2.1), 3);
    }

    #[test]
    fn names_round_trip() {
        for b in Backbone::ALL {
            assert_eq!(Backbone::from_name(b.name()), Some(b));
        }
        assert_eq!(Backbone::from_name("resnet50"), None);
    }
}
