//! MobileNetV3-Large and -Small (Howard et al. 2019, "Searching for MobileNetV3", Tables 1
//! and 2), torchvision's definition: inverted residual blocks ("bneck") with optional
//! squeeze-and-excitation (hard-sigmoid gate) and ReLU or hard-swish, a hard-swish head, and a
//! two-layer classifier. Batch norms use `eps = 0.001` (torchvision's `norm_layer`).
//!
//! PyTorch names (torchvision `mobilenetv3.py`): `features.0.{0,1}`, `features.i.block.j.{0,1}`
//! with SE as `features.i.block.j.fc{1,2}`, `features.last.{0,1}`, `classifier.{0,3}`.

use crate::config::make_divisible;

/// One bneck row: `(input, kernel, expanded, output, use_se, hard_swish, stride)` before
/// the width multiplier (torchvision `_mobilenet_v3_conf`, paper Tables 1 and 2).
pub type Bneck = (usize, usize, usize, usize, bool, bool, usize);

/// MobileNetV3-Large (paper Table 1).
pub const LARGE: [Bneck; 15] = [
    (16, 3, 16, 16, false, false, 1),
    (16, 3, 64, 24, false, false, 2),
    (24, 3, 72, 24, false, false, 1),
    (24, 5, 72, 40, true, false, 2),
    (40, 5, 120, 40, true, false, 1),
    (40, 5, 120, 40, true, false, 1),
    (40, 3, 240, 80, false, true, 2),
    (80, 3, 200, 80, false, true, 1),
    (80, 3, 184, 80, false, true, 1),
    (80, 3, 184, 80, false, true, 1),
    (80, 3, 480, 112, true, true, 1),
    (112, 3, 672, 112, true, true, 1),
    (112, 5, 672, 160, true, true, 2),
    (160, 5, 960, 160, true, true, 1),
    (160, 5, 960, 160, true, true, 1),
];

/// MobileNetV3-Small (paper Table 2).
pub const SMALL: [Bneck; 11] = [
    (16, 3, 16, 16, true, false, 2),
    (16, 3, 72, 24, false, false, 2),
    (24, 3, 88, 24, false, false, 1),
    (24, 5, 96, 40, true, true, 2),
    (40, 5, 240, 40, true, true, 1),
    (40, 5, 240, 40, true, true, 1),
    (40, 5, 120, 48, true, true, 1),
    (48, 5, 144, 48, true, true, 1),
    (48, 5, 288, 96, true, true, 2),
    (96, 5, 576, 96, true, true, 1),
    (96, 5, 576, 96, true, true, 1),
];

/// Classifier hidden width before the width multiplier: Large 1280, Small 1024.
pub const fn last_channel(large: bool, width: f32) -> usize {
    make_divisible(if large { 1280.0 } else { 1024.0 } * width, 8, 0)
}

/// torchvision's batch-norm epsilon for MobileNetV3.
pub const BN_EPS_V3: f64 = 0.001;

#[cfg(feature = "std")]
pub use host::*;

#[cfg(feature = "std")]
mod host {
    use super::*;
    use crate::config::Config;
    use crate::error::Result;
    use crate::mobilenet_v1::path;
    use crate::net::{Act, Bn, ConvSpec, Net, NetBuilder, Unary, T};
    use crate::weights::Weights;
    use bfmd_kernels::Shape;

    /// A squeeze-and-excitation gate (Hu et al. 2018) at module `prefix`: mean over the
    /// image, 1x1 convolution `reduce` (with bias) to `squeeze` channels + `act`, 1x1
    /// convolution `expand` (with bias) back + `gate`, then the input times the gate.
    /// `act` is ReLU (fused) or swish (EfficientNet); `gate` hard-sigmoid or sigmoid.
    #[allow(clippy::too_many_arguments)]
    pub fn squeeze_excitation(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        reduce: &str,
        expand: &str,
        squeeze: usize,
        act: Unary,
        gate: Unary,
    ) -> Result<T> {
        let c = nb.channels(x);
        let s = nb.mean(x, &path(prefix, "avgpool"));
        let spec = ConvSpec::new(squeeze, 1).bias(true);
        let fused = if act == Unary::Relu {
            Act::Relu
        } else {
            Act::None
        };
        let mut s = nb.conv(s, &path(prefix, reduce), spec, None, fused)?;
        if act != Unary::Relu {
            s = nb.unary(s, act, &path(prefix, "act"));
        }
        let spec = ConvSpec::new(c, 1).bias(true);
        let s = nb.conv(s, &path(prefix, expand), spec, None, Act::None)?;
        let g = nb.unary(s, gate, &path(prefix, "gate"));
        nb.mul(x, g, &path(prefix, "scale"))
    }

    /// A convolution + BN (`eps` 0.001) + ReLU or hard-swish: torchvision's
    /// `Conv2dNormActivation` at `prefix` (`prefix.0` conv, `prefix.1` BN).
    pub(crate) fn conv_bn_act(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        spec: ConvSpec,
        act: Option<Unary>,
        eps: f64,
    ) -> Result<T> {
        let (c, b) = (format!("{prefix}.0"), format!("{prefix}.1"));
        let fused = match act {
            Some(Unary::Relu) => Act::Relu,
            Some(Unary::Relu6) => Act::Relu6,
            _ => Act::None,
        };
        let y = nb.conv(x, &c, spec, Some(Bn::eps(&b, eps)), fused)?;
        Ok(match act {
            Some(u @ (Unary::HardSwish | Unary::Swish | Unary::Sigmoid | Unary::HardSigmoid)) => {
                nb.unary(y, u, &format!("{prefix}.2"))
            }
            _ => y,
        })
    }

    /// A MobileNetV3 bneck block at module `prefix` (torchvision `InvertedResidual`): 1x1
    /// expansion to `expanded` (skipped when equal to the input width), `k x k` depthwise
    /// with `stride`, optional squeeze-and-excitation to `_make_divisible(expanded / 4, 8)`,
    /// linear 1x1 projection to `out`; ReLU or hard-swish; identity shortcut when
    /// `stride == 1` and the widths match.
    #[allow(clippy::too_many_arguments)]
    pub fn bneck(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        k: usize,
        expanded: usize,
        out: usize,
        use_se: bool,
        hard_swish: bool,
        stride: usize,
    ) -> Result<T> {
        let inp = nb.channels(x);
        let act = if hard_swish {
            Unary::HardSwish
        } else {
            Unary::Relu
        };
        let mut j = 0;
        let mut y = x;
        let block = |j: usize| format!("{prefix}.block.{j}");
        if expanded != inp {
            let spec = ConvSpec::new(expanded, 1);
            y = conv_bn_act(nb, y, &block(j), spec, Some(act), BN_EPS_V3)?;
            j += 1;
        }
        let spec = ConvSpec::new(expanded, k)
            .stride(stride)
            .same()
            .groups(expanded);
        y = conv_bn_act(nb, y, &block(j), spec, Some(act), BN_EPS_V3)?;
        j += 1;
        if use_se {
            let sq = make_divisible((expanded / 4) as f32, 8, 0);
            let p = block(j);
            y = squeeze_excitation(nb, y, &p, "fc1", "fc2", sq, Unary::Relu, Unary::HardSigmoid)?;
            j += 1;
        }
        let spec = ConvSpec::new(out, 1);
        y = conv_bn_act(nb, y, &block(j), spec, None, BN_EPS_V3)?;
        nb.residual(y, x, prefix, stride == 1 && inp == out)
    }

    /// torchvision's `mobilenet_v3_large` (`large`) or `mobilenet_v3_small` with
    /// `width_mult = cfg.width`, `num_classes = cfg.classes`, at `cfg.resolution`.
    pub fn build(large: bool, cfg: &Config, w: &mut Weights) -> Result<Net> {
        let table: &[Bneck] = if large { &LARGE } else { &SMALL };
        let name = if large {
            "mobilenet_v3_large"
        } else {
            "mobilenet_v3_small"
        };
        let r = cfg.resolution;
        let adj = |c: usize| make_divisible(c as f32 * cfg.width, 8, 0);
        let (mut nb, x) = NetBuilder::new(name, Shape::new(1, r, r, 3), w);
        let stem = ConvSpec::new(adj(table[0].0), 3).stride(2).pad(1);
        let mut y = conv_bn_act(
            &mut nb,
            x,
            "features.0",
            stem,
            Some(Unary::HardSwish),
            BN_EPS_V3,
        )?;
        for (i, &(_, k, e, o, se, hs, s)) in table.iter().enumerate() {
            let p = format!("features.{}", i + 1);
            y = bneck(&mut nb, y, &p, k, adj(e), adj(o), se, hs, s)?;
        }
        let last_in = nb.channels(y);
        let p = format!("features.{}", table.len() + 1);
        let spec = ConvSpec::new(6 * last_in, 1);
        y = conv_bn_act(&mut nb, y, &p, spec, Some(Unary::HardSwish), BN_EPS_V3)?;
        let y = nb.mean(y, "avgpool");
        let hidden = last_channel(large, cfg.width);
        let y = nb.linear(y, "classifier.0", hidden, true, Act::None)?;
        let y = nb.unary(y, Unary::HardSwish, "classifier.1");
        let y = nb.linear(y, "classifier.3", cfg.classes, true, Act::None)?;
        nb.finish(y)
    }
}
