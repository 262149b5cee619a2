//! ShuffleNetV1 (Zhang et al. 2017, "ShuffleNet", Table 1), the seed's definition: ShuffleNet
//! units (grouped 1x1 + BN + ReLU, channel shuffle, 3x3 depthwise + BN, grouped 1x1 + BN; an
//! identity shortcut and addition, or for stride 2 a 3x3 average-pool shortcut and
//! concatenation; then ReLU). The references' CHOICE: an ImageNet stem (3x3 stride-2
//! convolution + BN + ReLU, 3x3 stride-2 max pool). SEED QUIRK kept: stage 2's first 1x1
//! convolution is grouped too. Every convolution has a bias (the seed uses `nn.Conv2d`'s
//! default).
//!
//! PyTorch names: `conv1.{conv,bn}`, `stage{2,3,4}.k.{bottlneck.0.pointwise.{0,1},
//! depthwise.depthwise.{0,1}, expand.pointwise.{0,1}}`, `fc`.

/// Stem and stage output channels for g = 1, 2, 3, 4, 8 (paper Table 1, the seed's table).
pub const fn stage_channels(groups: usize) -> Option<[usize; 4]> {
    match groups {
        1 => Some([24, 144, 288, 567]),
        2 => Some([24, 200, 400, 800]),
        3 => Some([24, 240, 480, 960]),
        4 => Some([24, 272, 544, 1088]),
        8 => Some([24, 384, 768, 1536]),
        _ => None,
    }
}

/// Units per stage (stages 2, 3, 4).
pub const REPEATS: [usize; 3] = [4, 8, 4];

#[cfg(feature = "std")]
pub use host::*;

#[cfg(feature = "std")]
mod host {
    use super::*;
    use crate::config::Config;
    use crate::error::{Error, Result};
    use crate::mobilenet_v1::path;
    use crate::net::{Act, Bn, ConvSpec, Net, NetBuilder, Unary, T};
    use crate::weights::Weights;
    use bfmd_kernels::Shape;

    /// The seed's `ShuffleNetUnit(inp, out, stage, stride, groups)` at module `prefix` (paper
    /// Fig. 2 b and c): bottleneck width `int(out / 4)`.
    pub fn shufflenet_unit(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        out: usize,
        stride: usize,
        groups: usize,
    ) -> Result<T> {
        let inp = nb.channels(x);
        let mid = out / 4;
        let down = stride != 1 || inp != out;
        if down && out <= inp {
            return Err(Error::Config(format!(
                "{prefix}: a concatenating unit needs more output ({out}) than input ({inp}) channels"
            )));
        }
        let pw = |p: &str| {
            (
                path(prefix, &format!("{p}.0")),
                path(prefix, &format!("{p}.1")),
            )
        };
        let (c, b) = pw("bottlneck.0.pointwise");
        let spec = ConvSpec::new(mid, 1).groups(groups).bias(true);
        let y = nb.conv(x, &c, spec, Some(Bn::new(&b)), Act::Relu)?;
        let y = nb.shuffle(y, groups, &path(prefix, "channel_shuffle"))?;
        let (c, b) = pw("depthwise.depthwise");
        let spec = ConvSpec::new(mid, 3)
            .stride(stride)
            .pad(1)
            .groups(mid)
            .bias(true);
        let y = nb.conv(y, &c, spec, Some(Bn::new(&b)), Act::None)?;
        let (c, b) = pw("expand.pointwise");
        let expand = if down { out - inp } else { out };
        let spec = ConvSpec::new(expand, 1).groups(groups).bias(true);
        let y = nb.conv(y, &c, spec, Some(Bn::new(&b)), Act::None)?;
        if down {
            // AvgPool2d(3, stride=2, padding=1), count_include_pad=True: the seed's shortcut.
            let s = nb.avg_pool(x, &path(prefix, "shortcut"), 3, 2, 1, true)?;
            let z = nb.concat(&[s, y], &path(prefix, "cat"))?;
            Ok(nb.unary(z, Unary::Relu, &path(prefix, "relu")))
        } else {
            nb.add(x, y, &path(prefix, "add"), Act::Relu)
        }
    }

    /// The seed's `ShuffleNetV1((4, 8, 4), num_classes, groups, width)` (the references'
    /// ImageNet stem).
    pub fn build(cfg: &Config, w: &mut Weights) -> Result<Net> {
        let base = stage_channels(cfg.groups).ok_or_else(|| {
            Error::Config(format!(
                "shufflenet_v1: groups must be 1, 2, 3, 4 or 8, not {}",
                cfg.groups
            ))
        })?;
        let oc: Vec<usize> = base
            .iter()
            .map(|&c| (c as f32 * cfg.width) as usize)
            .collect();
        let r = cfg.resolution;
        let (mut nb, x) = NetBuilder::new("shufflenet_v1", Shape::new(1, r, r, 3), w);
        let spec = ConvSpec::new(oc[0], 3).stride(2).pad(1).bias(true);
        let y = nb.conv(x, "conv1.conv", spec, Some(Bn::new("conv1.bn")), Act::Relu)?;
        let mut y = nb.max_pool(y, "maxpool", 3, 2, 1, false)?;
        for (s, &n) in REPEATS.iter().enumerate() {
            for k in 0..n {
                let p = format!("stage{}.{k}", s + 2);
                let stride = if k == 0 { 2 } else { 1 };
                y = shufflenet_unit(&mut nb, y, &p, oc[s + 1], stride, cfg.groups)?;
            }
        }
        let y = nb.mean(y, "avg");
        let y = nb.linear(y, "fc", cfg.classes, true, Act::None)?;
        nb.finish(y)
    }
}
