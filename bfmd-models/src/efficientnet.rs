//! EfficientNet-B0 (Tan and Le 2019, "EfficientNet", Table 1) and EfficientNet-Lite0:
//! stacks of MBConv blocks (1x1 expansion, `k x k` depthwise, squeeze-and-excitation, linear
//! 1x1 projection, identity shortcut).
//!
//! * B0, torchvision's definition: swish (SiLU) everywhere, SE with a swish-activated
//!   reduction to `max(1, in / 4)` and a sigmoid gate; a 1x1 head to `4 * last` channels.
//!   Names `features.0.{0,1}`, `features.s.k.block.j.{0,1}` / `.fc{1,2}`, `features.8.{0,1}`,
//!   `classifier.1`.
//! * Lite0, timm's definition (`efficientnet_lite0`): ReLU6, no SE, the stem (32) and head
//!   (1280) not scaled, first and last stage repeats not scaled; the first stage is timm's
//!   `DepthwiseSeparableConv`. Names `conv_stem`, `bn1`, `blocks.s.k.{conv_dw, bn1, conv_pw,
//!   bn2}` / `{conv_pw, bn1, conv_dw, bn2, conv_pwl, bn3}`, `conv_head`, `bn2`, `classifier`.

use crate::config::{ceil_usize, make_divisible};

/// `(expand, kernel, stride, in, out, repeats)` per stage (torchvision `_efficientnet_conf`,
/// paper Table 1; the same stages as timm's `efficientnet_lite0` arch strings).
pub const STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
];

/// Channel rounding of both definitions, `_make_divisible(c * width, 8)`.
pub const fn adjust(c: usize, width: f32) -> usize {
    make_divisible(c as f32 * width, 8, 0)
}

/// torchvision's repeats, `ceil(n * depth)`.
pub const fn adjust_depth(n: usize, depth: f32) -> usize {
    ceil_usize(n as f32 * depth)
}

/// EfficientNet-Lite's head width (not scaled).
pub const LITE_HEAD: usize = 1280;
/// EfficientNet-Lite's stem width (not scaled).
pub const LITE_STEM: usize = 32;

#[cfg(feature = "std")]
pub use host::*;

#[cfg(feature = "std")]
mod host {
    use super::*;
    use crate::config::Config;
    use crate::error::Result;
    use crate::mobilenet_v1::path;
    use crate::mobilenet_v3::{conv_bn_act, squeeze_excitation};
    use crate::net::{Act, Bn, ConvSpec, Net, NetBuilder, Unary, BN_EPS, T};
    use crate::weights::Weights;
    use bfmd_kernels::Shape;

    /// torchvision's `MBConv` at module `prefix` (paper Fig. 2 of MnasNet / EfficientNet):
    /// 1x1 expansion to `_make_divisible(in * expand, 8)` + BN + swish (skipped when that
    /// equals `in`), `k x k` depthwise with `stride` + BN + swish, SE (swish reduction to
    /// `max(1, in / 4)`, sigmoid gate), linear 1x1 projection to `out` + BN, identity
    /// shortcut when `stride == 1` and the widths match.
    pub fn mbconv(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        expand: usize,
        k: usize,
        stride: usize,
        out: usize,
    ) -> Result<T> {
        let inp = nb.channels(x);
        let expanded = adjust(inp, expand as f32);
        let sw = Some(Unary::Swish);
        let mut j = 0;
        let mut y = x;
        let block = |j: usize| format!("{prefix}.block.{j}");
        if expanded != inp {
            y = conv_bn_act(nb, y, &block(j), ConvSpec::new(expanded, 1), sw, BN_EPS)?;
            j += 1;
        }
        let spec = ConvSpec::new(expanded, k)
            .stride(stride)
            .same()
            .groups(expanded);
        y = conv_bn_act(nb, y, &block(j), spec, sw, BN_EPS)?;
        j += 1;
        let sq = (inp / 4).max(1);
        y = squeeze_excitation(
            nb,
            y,
            &block(j),
            "fc1",
            "fc2",
            sq,
            Unary::Swish,
            Unary::Sigmoid,
        )?;
        j += 1;
        y = conv_bn_act(nb, y, &block(j), ConvSpec::new(out, 1), None, BN_EPS)?;
        nb.residual(y, x, prefix, stride == 1 && inp == out)
    }

    /// A convolution `prefix.conv` + its batch norm `prefix.bn` (timm's naming) + a clamp.
    fn timm_conv_bn(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        conv: &str,
        bn: &str,
        spec: ConvSpec,
        act: Act,
    ) -> Result<T> {
        let b = path(prefix, bn);
        nb.conv(x, &path(prefix, conv), spec, Some(Bn::new(&b)), act)
    }

    /// timm's `InvertedResidual` as EfficientNet-Lite uses it, at module `prefix`: 1x1
    /// expansion to `_make_divisible(in * expand, 8)` + BN + ReLU6, `k x k` depthwise + BN +
    /// ReLU6, linear 1x1 projection + BN, identity shortcut when `stride == 1` and the widths
    /// match (no SE in Lite).
    pub fn mbconv_lite(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        expand: usize,
        k: usize,
        stride: usize,
        out: usize,
    ) -> Result<T> {
        let inp = nb.channels(x);
        let mid = adjust(inp, expand as f32);
        let dw = ConvSpec::new(mid, k).stride(stride).same().groups(mid);
        let y = timm_conv_bn(
            nb,
            x,
            prefix,
            "conv_pw",
            "bn1",
            ConvSpec::new(mid, 1),
            Act::Relu6,
        )?;
        let y = timm_conv_bn(nb, y, prefix, "conv_dw", "bn2", dw, Act::Relu6)?;
        let y = timm_conv_bn(
            nb,
            y,
            prefix,
            "conv_pwl",
            "bn3",
            ConvSpec::new(out, 1),
            Act::None,
        )?;
        nb.residual(y, x, prefix, stride == 1 && inp == out)
    }

    /// timm's `DepthwiseSeparableConv` (EfficientNet-Lite's first stage): `k x k` depthwise +
    /// BN + ReLU6, 1x1 + BN (no activation), identity shortcut when `stride == 1` and the
    /// widths match.
    pub fn depthwise_separable_lite(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        k: usize,
        stride: usize,
        out: usize,
    ) -> Result<T> {
        let inp = nb.channels(x);
        let dw = ConvSpec::new(inp, k).stride(stride).same().groups(inp);
        let y = timm_conv_bn(nb, x, prefix, "conv_dw", "bn1", dw, Act::Relu6)?;
        let y = timm_conv_bn(
            nb,
            y,
            prefix,
            "conv_pw",
            "bn2",
            ConvSpec::new(out, 1),
            Act::None,
        )?;
        nb.residual(y, x, prefix, stride == 1 && inp == out)
    }

    /// torchvision's EfficientNet-B0 with `width_mult = cfg.width`, `depth_mult =
    /// cfg.depth`, `num_classes = cfg.classes`.
    pub fn build_b0(cfg: &Config, w: &mut Weights) -> Result<Net> {
        let r = cfg.resolution;
        let (mut nb, x) = NetBuilder::new("efficientnet_b0", Shape::new(1, r, r, 3), w);
        let a = |c: usize| adjust(c, cfg.width);
        let stem = ConvSpec::new(a(STAGES[0].3), 3).stride(2).pad(1);
        let mut y = conv_bn_act(&mut nb, x, "features.0", stem, Some(Unary::Swish), BN_EPS)?;
        for (s, &(e, k, st, _, o, n)) in STAGES.iter().enumerate() {
            for i in 0..adjust_depth(n, cfg.depth) {
                let stride = if i == 0 { st } else { 1 };
                let p = format!("features.{}.{i}", s + 1);
                y = mbconv(&mut nb, y, &p, e, k, stride, a(o))?;
            }
        }
        let head = ConvSpec::new(4 * nb.channels(y), 1);
        y = conv_bn_act(&mut nb, y, "features.8", head, Some(Unary::Swish), BN_EPS)?;
        let y = nb.mean(y, "avgpool");
        let y = nb.linear(y, "classifier.1", cfg.classes, true, Act::None)?;
        nb.finish(y)
    }

    /// timm's `efficientnet_lite0` with `channel_multiplier = cfg.width`,
    /// `depth_multiplier = cfg.depth`, `num_classes = cfg.classes`.
    pub fn build_lite0(cfg: &Config, w: &mut Weights) -> Result<Net> {
        let r = cfg.resolution;
        let (mut nb, x) = NetBuilder::new("efficientnet_lite0", Shape::new(1, r, r, 3), w);
        let stem = ConvSpec::new(LITE_STEM, 3).stride(2).pad(1);
        let mut y = nb.conv(x, "conv_stem", stem, Some(Bn::new("bn1")), Act::Relu6)?;
        let last = STAGES.len() - 1;
        for (s, &(e, k, st, _, o, n)) in STAGES.iter().enumerate() {
            // timm's `fix_first_last`: the first and last stages keep their repeats.
            let reps = if s == 0 || s == last {
                n
            } else {
                adjust_depth(n, cfg.depth)
            };
            for i in 0..reps {
                let stride = if i == 0 { st } else { 1 };
                let p = format!("blocks.{s}.{i}");
                let out = adjust(o, cfg.width);
                y = if s == 0 {
                    depthwise_separable_lite(&mut nb, y, &p, k, stride, out)?
                } else {
                    mbconv_lite(&mut nb, y, &p, e, k, stride, out)?
                };
            }
        }
        let head = ConvSpec::new(LITE_HEAD, 1);
        let y = nb.conv(y, "conv_head", head, Some(Bn::new("bn2")), Act::Relu6)?;
        let y = nb.mean(y, "global_pool");
        let y = nb.linear(y, "classifier", cfg.classes, true, Act::None)?;
        nb.finish(y)
    }
}
