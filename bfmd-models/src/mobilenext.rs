//! MobileNeXt (Zhou et al. 2020, "Rethinking Bottleneck Structure for Efficient Mobile
//! Network Design", Table 3), the seed's definition: sandglass blocks (depthwise 3x3 on the
//! wide input, linear 1x1 reduction, 1x1 expansion + ReLU6, depthwise 3x3 on the wide
//! output; the shortcut connects the wide tensors).
//!
//! PyTorch names (the seed's `MobileNeXt`): `features.0.{0,1}`, `features.i.conv.j`,
//! `classifier.1`.

use crate::config::{ceil_usize, make_divisible};

/// `(t, c, n, s)`: reduction ratio, output channels, repeats, first stride (the seed's
/// `CFGS`, paper Table 3).
pub const CFGS: [(usize, usize, usize, usize); 8] = [
    (2, 96, 1, 2),
    (6, 144, 1, 1),
    (6, 192, 3, 2),
    (6, 288, 3, 2),
    (6, 384, 4, 1),
    (6, 576, 4, 2),
    (6, 960, 3, 1),
    (6, 1280, 1, 1),
];

/// Width of the sandglass bottleneck: `inp / t`, but at least `ceil(oup / 6)` rounded to a
/// multiple of 16 (the seed's `SGBlock`).
pub const fn hidden_dim(inp: usize, oup: usize, t: usize) -> usize {
    let h = inp / t;
    if (h as f32) < oup as f32 / 6.0 {
        make_divisible(ceil_usize(oup as f32 / 6.0) as f32, 16, 0)
    } else {
        h
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

    /// The seed's `SGBlock(inp, oup, stride, t, keep_3x3)` at module `prefix`: the
    /// sandglass block and its three reduced forms (the seed picks one from `t`, the widths,
    /// the stride and `keep_3x3`).
    pub fn sandglass(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        oup: usize,
        stride: usize,
        t: usize,
        keep_3x3: bool,
    ) -> Result<T> {
        if stride != 1 && stride != 2 {
            return Err(Error::Config(format!("{prefix}: stride must be 1 or 2")));
        }
        let inp = nb.channels(x);
        let hidden = hidden_dim(inp, oup, t);
        let dw = |c: usize, s: usize| ConvSpec::new(c, 3).stride(s).pad(1).groups(c);
        let pw = |c: usize| ConvSpec::new(c, 1);
        let conv = path(prefix, "conv");
        let mut identity = false;
        let y = if t == 2 {
            let y = nb.seq_conv_bn(x, &conv, 0, dw(inp, 1), BN_EPS, Act::Relu6)?;
            let y = nb.seq_conv_bn(y, &conv, 3, pw(hidden), BN_EPS, Act::None)?;
            let y = nb.seq_conv_bn(y, &conv, 5, pw(oup), BN_EPS, Act::Relu6)?;
            nb.seq_conv_bn(y, &conv, 8, dw(oup, stride), BN_EPS, Act::None)?
        } else if inp != oup && stride == 1 && !keep_3x3 {
            let y = nb.seq_conv_bn(x, &conv, 0, pw(hidden), BN_EPS, Act::None)?;
            nb.seq_conv_bn(y, &conv, 2, pw(oup), BN_EPS, Act::Relu6)?
        } else if inp != oup && stride == 2 && !keep_3x3 {
            let y = nb.seq_conv_bn(x, &conv, 0, pw(hidden), BN_EPS, Act::None)?;
            let y = nb.seq_conv_bn(y, &conv, 2, pw(oup), BN_EPS, Act::Relu6)?;
            nb.seq_conv_bn(y, &conv, 5, dw(oup, stride), BN_EPS, Act::None)?
        } else {
            identity = !keep_3x3;
            let y = nb.seq_conv_bn(x, &conv, 0, dw(inp, 1), BN_EPS, Act::Relu6)?;
            let y = nb.seq_conv_bn(y, &conv, 3, pw(hidden), BN_EPS, Act::None)?;
            let y = nb.seq_conv_bn(y, &conv, 5, pw(oup), BN_EPS, Act::Relu6)?;
            // The seed's last depthwise here has stride 1 whatever `stride` says.
            nb.seq_conv_bn(y, &conv, 8, dw(oup, 1), BN_EPS, Act::None)?
        };
        nb.residual(y, x, prefix, identity)
    }

    /// The seed's `MobileNeXt(num_classes, width_mult, scale_last)`.
    pub fn build(cfg: &Config, w: &mut Weights) -> Result<Net> {
        let wm = cfg.width;
        let div = if wm == 0.1 { 4 } else { 8 };
        let r = cfg.resolution;
        let (mut nb, x) = NetBuilder::new("mobilenext", Shape::new(1, r, r, 3), w);
        let stem = make_divisible(32.0 * wm, div, 0);
        let spec = ConvSpec::new(stem, 3).stride(2).pad(1);
        let mut y = nb.conv(
            x,
            "features.0.0",
            spec,
            Some(Bn::new("features.0.1")),
            Act::Relu6,
        )?;
        let mut i = 1;
        for &(t, c, n, s) in &CFGS {
            let mut out = make_divisible(c as f32 * wm, div, 0);
            if c == 1280 && wm < 1.0 && !cfg.scale_last {
                out = 1280;
            }
            for k in 0..n {
                let p = format!("features.{i}");
                y = if k == 0 {
                    sandglass(&mut nb, y, &p, out, s, t, n == 1 && s == 1)?
                } else {
                    sandglass(&mut nb, y, &p, out, 1, t, false)?
                };
                i += 1;
            }
        }
        let y = nb.mean(y, "avgpool");
        let y = nb.linear(y, "classifier.1", cfg.classes, true, Act::None)?;
        nb.finish(y)
    }
}
