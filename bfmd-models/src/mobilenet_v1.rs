//! MobileNetV1 (Howard et al. 2017, "MobileNets", Table 1), as the seed defines it: a 3x3
//! stem and thirteen depthwise-separable convolutions (3x3 depthwise + BN + ReLU, 1x1
//! pointwise + BN + ReLU), global average pooling and a linear classifier. Channels are
//! `int(c * alpha)` (the seed's rounding). The seed's pointwise convolutions have a bias and
//! its depthwise ones do not (it passes `bias=False` to the depthwise only).
//!
//! PyTorch names: `stem.0.{conv,bn}`, `stem.1`, `conv1.{0,1}`, `conv2.{0,1}`,
//! `conv3.{0..5}`, `conv4.{0,1}` (each `depthwise.{0,1}` and `pointwise.{0,1}`), `fc`.

/// Output channels and stride of the thirteen depthwise-separable blocks (paper Table 1).
pub const DEPTHWISE_SEPARABLE: [(usize, usize); 13] = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
];

/// The stem's output channels before the width multiplier.
pub const STEM: usize = 32;

/// The seed's width rounding, `int(n * alpha)`.
pub const fn scaled(n: usize, alpha: f32) -> usize {
    (n as f32 * alpha) as usize
}

/// PyTorch module paths of block `i` of [`DEPTHWISE_SEPARABLE`] in the seed's `Sequential`s.
pub const BLOCK_PATHS: [&str; 13] = [
    "stem.1", "conv1.0", "conv1.1", "conv2.0", "conv2.1", "conv3.0", "conv3.1", "conv3.2",
    "conv3.3", "conv3.4", "conv3.5", "conv4.0", "conv4.1",
];

#[cfg(feature = "std")]
pub use host::*;

#[cfg(feature = "std")]
mod host {
    use super::*;
    use crate::config::Config;
    use crate::error::{Error, Result};
    use crate::net::{Act, Bn, ConvSpec, Net, NetBuilder, BN_EPS, T};
    use crate::weights::Weights;
    use bfmd_kernels::Shape;

    pub(crate) use crate::net::join as path;

    /// The seed's `DepthSeperabelConv2d(in, out, 3, stride=s, padding=1, bias=dw_bias)` at
    /// module `prefix`: depthwise 3x3 + BN + ReLU, then pointwise 1x1 (with bias) + BN + ReLU.
    pub fn depthwise_separable(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        out: usize,
        stride: usize,
        dw_bias: bool,
    ) -> Result<T> {
        let c = nb.channels(x);
        let spec = ConvSpec::new(c, 3)
            .stride(stride)
            .pad(1)
            .groups(c)
            .bias(dw_bias);
        let y = nb.seq_conv_bn(x, &path(prefix, "depthwise"), 0, spec, BN_EPS, Act::Relu)?;
        let spec = ConvSpec::new(out, 1).bias(true);
        nb.seq_conv_bn(y, &path(prefix, "pointwise"), 0, spec, BN_EPS, Act::Relu)
    }

    /// The seed's MobileNetV1 with `cfg.width` (alpha), `cfg.stem_stride`, `cfg.resolution`
    /// and `cfg.classes`.
    pub fn build(cfg: &Config, w: &mut Weights) -> Result<Net> {
        if cfg.stem_stride == 0 || cfg.stem_stride > 2 {
            return Err(Error::Config("mobilenet_v1: stem_stride is 1 or 2".into()));
        }
        let a = cfg.width;
        let r = cfg.resolution;
        let (mut nb, x) = NetBuilder::new("mobilenet_v1", Shape::new(1, r, r, 3), w);
        let stem = ConvSpec::new(scaled(STEM, a), 3)
            .stride(cfg.stem_stride)
            .pad(1);
        let bn = Bn {
            name: "stem.0.bn",
            eps: BN_EPS,
        };
        let mut y = nb.conv(x, "stem.0.conv", stem, Some(bn), Act::Relu)?;
        for (&(c, s), p) in DEPTHWISE_SEPARABLE.iter().zip(BLOCK_PATHS) {
            y = depthwise_separable(&mut nb, y, p, scaled(c, a), s, false)?;
        }
        let y = nb.mean(y, "avg");
        let y = nb.linear(y, "fc", cfg.classes, true, Act::None)?;
        nb.finish(y)
    }
}
