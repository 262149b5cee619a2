//! MobileNetV2 (Sandler et al. 2018, "Inverted Residuals and Linear Bottlenecks", Table 2),
//! torchvision's definition: a 3x3 stem, seventeen inverted residual blocks (1x1 expansion +
//! BN + ReLU6, 3x3 depthwise + BN + ReLU6, linear 1x1 projection + BN, identity shortcut when
//! the stride is 1 and the widths match), a 1x1 head to 1280 channels, average pooling and a
//! linear classifier. Channels are `_make_divisible(c * width, 8)`; the head is
//! `_make_divisible(1280 * max(1, width), 8)`.
//!
//! PyTorch names (torchvision `mobilenetv2.py`): `features.0.{0,1}`, `features.i.conv.*`,
//! `features.18.{0,1}`, `classifier.1`. The seed's `LinearBottleNeck` (biases on every
//! convolution, names `residual.{0,1,3,4,6,7}`) is built by the same block builder.

use crate::config::make_divisible;

/// `(t, c, n, s)`: expansion, output channels, repeats, first stride (paper Table 2).
pub const INVERTED_RESIDUAL_SETTING: [(usize, usize, usize, usize); 7] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
];

/// Stem channels before the width multiplier.
pub const STEM: usize = 32;
/// Head channels before the width multiplier.
pub const LAST: usize = 1280;

/// Stem channels at `width`.
pub const fn stem_channels(width: f32) -> usize {
    make_divisible(STEM as f32 * width, 8, 0)
}

/// Head channels at `width` (never fewer than 1280).
pub const fn last_channels(width: f32) -> usize {
    let m = if width > 1.0 { width } else { 1.0 };
    make_divisible(LAST as f32 * m, 8, 0)
}

#[cfg(feature = "std")]
pub use host::*;

#[cfg(feature = "std")]
mod host {
    use super::*;
    use crate::config::Config;
    use crate::error::Result;
    use crate::mobilenet_v1::path;
    use crate::net::{Act, Bn, ConvSpec, Net, NetBuilder, BN_EPS, T};
    use crate::weights::Weights;
    use bfmd_kernels::Shape;

    /// Which PyTorch definition of the inverted residual block.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Style {
        /// torchvision `InvertedResidual`: no convolution biases, no expansion layer when
        /// `t == 1`, names `conv.0.0`, `conv.0.1`, ... `conv.2`, `conv.3`.
        Torchvision,
        /// The seed's `LinearBottleNeck`: every convolution has a bias, always expands, names
        /// `residual.0` ... `residual.7`.
        Seed,
    }

    /// An inverted residual block (paper Fig. 3b / Table 1) at module `prefix`: expansion
    /// `t` (`hidden = round(inp * t)`), depthwise stride `stride`, linear projection to
    /// `out`; the identity shortcut is added when `stride == 1` and `inp == out`.
    pub fn inverted_residual(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        style: Style,
        out: usize,
        stride: usize,
        t: usize,
    ) -> Result<T> {
        let inp = nb.channels(x);
        let hidden = inp * t;
        let bias = style == Style::Seed;
        let names: [String; 6] = match style {
            Style::Torchvision if t == 1 => [
                String::new(),
                String::new(),
                "conv.0.0".into(),
                "conv.0.1".into(),
                "conv.1".into(),
                "conv.2".into(),
            ],
            Style::Torchvision => [
                "conv.0.0".into(),
                "conv.0.1".into(),
                "conv.1.0".into(),
                "conv.1.1".into(),
                "conv.2".into(),
                "conv.3".into(),
            ],
            Style::Seed => [
                "residual.0".into(),
                "residual.1".into(),
                "residual.3".into(),
                "residual.4".into(),
                "residual.6".into(),
                "residual.7".into(),
            ],
        };
        let n: Vec<String> = names.iter().map(|s| path(prefix, s)).collect();
        let bn = |i: usize| Bn {
            name: &n[i],
            eps: BN_EPS,
        };
        let mut y = x;
        if !(style == Style::Torchvision && t == 1) {
            let spec = ConvSpec::new(hidden, 1).bias(bias);
            y = nb.conv(y, &n[0], spec, Some(bn(1)), Act::Relu6)?;
        }
        let spec = ConvSpec::new(hidden, 3)
            .stride(stride)
            .pad(1)
            .groups(hidden)
            .bias(bias);
        y = nb.conv(y, &n[2], spec, Some(bn(3)), Act::Relu6)?;
        let spec = ConvSpec::new(out, 1).bias(bias);
        y = nb.conv(y, &n[4], spec, Some(bn(5)), Act::None)?;
        nb.residual(y, x, prefix, stride == 1 && inp == out)
    }

    /// torchvision's `mobilenet_v2(width_mult=cfg.width, num_classes=cfg.classes)` at
    /// `cfg.resolution`.
    pub fn build(cfg: &Config, w: &mut Weights) -> Result<Net> {
        let r = cfg.resolution;
        let (mut nb, x) = NetBuilder::new("mobilenet_v2", Shape::new(1, r, r, 3), w);
        let stem = ConvSpec::new(stem_channels(cfg.width), 3).stride(2).pad(1);
        let bn = Bn {
            name: "features.0.1",
            eps: BN_EPS,
        };
        let mut y = nb.conv(x, "features.0.0", stem, Some(bn), Act::Relu6)?;
        let mut i = 1;
        for &(t, c, n, s) in &INVERTED_RESIDUAL_SETTING {
            let out = make_divisible(c as f32 * cfg.width, 8, 0);
            for k in 0..n {
                let stride = if k == 0 { s } else { 1 };
                let p = format!("features.{i}");
                y = inverted_residual(&mut nb, y, &p, Style::Torchvision, out, stride, t)?;
                i += 1;
            }
        }
        let head = ConvSpec::new(last_channels(cfg.width), 1);
        let (hc, hb) = (format!("features.{i}.0"), format!("features.{i}.1"));
        let bn = Bn {
            name: &hb,
            eps: BN_EPS,
        };
        y = nb.conv(y, &hc, head, Some(bn), Act::Relu6)?;
        let y = nb.mean(y, "avgpool");
        let y = nb.linear(y, "classifier.1", cfg.classes, true, Act::None)?;
        nb.finish(y)
    }
}
