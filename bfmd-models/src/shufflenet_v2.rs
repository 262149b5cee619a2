//! ShuffleNetV2 (Ma et al. 2018, "ShuffleNet V2", Table 5), torchvision's definition: a 3x3
//! stride-2 stem and max pool, stages of units with channel split (stride 1) or two branches
//! (stride 2), concatenation and a 2-group channel shuffle, a 1x1 head, mean and a linear
//! classifier. Widths 0.5x, 1.0x, 1.5x and 2.0x are the paper's tables.
//!
//! PyTorch names (torchvision `shufflenetv2.py`): `conv1.{0,1}`, `stage{2,3,4}.k.branch1.*`,
//! `stage{2,3,4}.k.branch2.*`, `conv5.{0,1}`, `fc`. The seed's `ShuffleUnit` (biases on every
//! convolution, names `shortcut.*` / `residual.*`, a full-width first 1x1 in the stride-2
//! residual branch) is built by the same block builder.

/// Stage repeats (stages 2, 3, 4).
pub const REPEATS: [usize; 3] = [4, 8, 4];

/// `stages_out_channels` of torchvision for width 0.5, 1.0, 1.5, 2.0.
pub const fn stage_channels(width: f32) -> Option<[usize; 5]> {
    if width == 0.5 {
        Some([24, 48, 96, 192, 1024])
    } else if width == 1.0 {
        Some([24, 116, 232, 464, 1024])
    } else if width == 1.5 {
        Some([24, 176, 352, 704, 1024])
    } else if width == 2.0 {
        Some([24, 244, 488, 976, 2048])
    } else {
        None
    }
}

#[cfg(feature = "std")]
pub use host::*;

#[cfg(feature = "std")]
mod host {
    use super::*;
    use crate::config::Config;
    use crate::error::{Error, Result};
    use crate::mobilenet_v1::path;
    use crate::net::{Act, Bn, ConvSpec, Net, NetBuilder, BN_EPS, T};
    use crate::weights::Weights;
    use bfmd_kernels::Shape;

    /// Which PyTorch definition of the unit.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Style {
        /// torchvision `InvertedResidual`: no convolution biases; `branch1` (stride 2 only)
        /// and `branch2`, each half the output width.
        Torchvision,
        /// The seed's `ShuffleUnit`: biases everywhere; `shortcut` and `residual`; the
        /// stride-2 residual branch keeps the input width until its last 1x1.
        Seed,
    }

    /// A ShuffleNetV2 unit at module `prefix` (paper Fig. 3 c and d): for stride 1, split the
    /// channels in halves, transform the second (1x1 + BN + ReLU, 3x3 depthwise + BN, 1x1 +
    /// BN + ReLU); for stride 2, a depthwise + 1x1 shortcut branch and the transform branch;
    /// concatenate and shuffle with 2 groups.
    pub fn shufflenet_v2_unit(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        style: Style,
        out: usize,
        stride: usize,
    ) -> Result<T> {
        let inp = nb.channels(x);
        let half = out / 2;
        let bias = style == Style::Seed;
        let down = stride != 1 || inp != out;
        let (short_name, res_name) = match style {
            Style::Torchvision => ("branch1", "branch2"),
            Style::Seed => ("shortcut", "residual"),
        };
        let (sp, rp) = (path(prefix, short_name), path(prefix, res_name));
        let dw = |c: usize| {
            ConvSpec::new(c, 3)
                .stride(stride)
                .pad(1)
                .groups(c)
                .bias(bias)
        };
        let pw = |c: usize| ConvSpec::new(c, 1).bias(bias);
        let (short, res_in) = if down {
            let s = nb.seq_conv_bn(x, &sp, 0, dw(inp), BN_EPS, Act::None)?;
            let s = nb.seq_conv_bn(s, &sp, 2, pw(half), BN_EPS, Act::Relu)?;
            (s, x)
        } else {
            if inp % 2 != 0 {
                return Err(Error::Config(format!(
                    "{prefix}: a stride-1 unit splits an even channel count, not {inp}"
                )));
            }
            let parts = nb.split(x, &[inp / 2, inp / 2], &path(prefix, "split"))?;
            (parts[0], parts[1])
        };
        let c_in = nb.channels(res_in);
        // Width of the transform branch's first 1x1 and depthwise.
        let mid = match style {
            Style::Torchvision => half,
            Style::Seed => c_in,
        };
        let r = nb.seq_conv_bn(res_in, &rp, 0, pw(mid), BN_EPS, Act::Relu)?;
        let r = nb.seq_conv_bn(r, &rp, 3, dw(mid), BN_EPS, Act::None)?;
        let r = nb.seq_conv_bn(
            r,
            &rp,
            5,
            pw(if down { half } else { c_in }),
            BN_EPS,
            Act::Relu,
        )?;
        let y = nb.concat(&[short, r], &path(prefix, "cat"))?;
        nb.shuffle(y, 2, &path(prefix, "shuffle"))
    }

    /// torchvision's `shufflenet_v2_x{0_5,1_0,1_5,2_0}(num_classes)` for `cfg.width` 0.5, 1,
    /// 1.5 or 2.
    pub fn build(cfg: &Config, w: &mut Weights) -> Result<Net> {
        let oc = stage_channels(cfg.width).ok_or_else(|| {
            Error::Config(format!(
                "shufflenet_v2: width must be 0.5, 1, 1.5 or 2, not {}",
                cfg.width
            ))
        })?;
        let r = cfg.resolution;
        let (mut nb, x) = NetBuilder::new("shufflenet_v2", Shape::new(1, r, r, 3), w);
        let spec = ConvSpec::new(oc[0], 3).stride(2).pad(1);
        let y = nb.conv(x, "conv1.0", spec, Some(Bn::new("conv1.1")), Act::Relu)?;
        let mut y = nb.max_pool(y, "maxpool", 3, 2, 1, false)?;
        for (s, &n) in REPEATS.iter().enumerate() {
            for k in 0..n {
                let p = format!("stage{}.{k}", s + 2);
                let stride = if k == 0 { 2 } else { 1 };
                y = shufflenet_v2_unit(&mut nb, y, &p, Style::Torchvision, oc[s + 1], stride)?;
            }
        }
        let spec = ConvSpec::new(oc[4], 1);
        let y = nb.conv(y, "conv5.0", spec, Some(Bn::new("conv5.1")), Act::Relu)?;
        let y = nb.mean(y, "mean");
        let y = nb.linear(y, "fc", cfg.classes, true, Act::None)?;
        nb.finish(y)
    }
}
