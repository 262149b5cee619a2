//! GoogLeNet / Inception v1 (Szegedy et al. 2014, "Going Deeper with Convolutions", Table 1)
//! in two PyTorch forms:
//!
//! * torchvision's `googlenet` (`BasicConv2d` = conv without bias + BN `eps=0.001` + ReLU;
//!   the "5x5" branch is a 3x3 convolution, as torchvision has it; `ceil_mode=True` max pools;
//!   auxiliary heads are training-only and not built). Names `conv1.conv`, `inception3a.
//!   branch2.1.bn`, ..., `fc`.
//! * the seed's GoogLeNet with BN (the references' `GoogLeNetSeed`): Inception modules with
//!   biased convolutions + BN + ReLU, the 5x5 branch as two 3x3 convolutions, and the SEED
//!   QUIRK `BatchNorm2d(n5x5, n5x5)` (its `eps` is `n5x5`); an ImageNet stem (CHOICE) and
//!   `MaxPool2d(3, 2, padding=1)` between stages. Names `prelayer.*`, `a3.b1.0`, ...,
//!   `linear`.
//!
//! Widths are `max(4, round(c * width))` (the references' rule; width 1 is the paper's).

/// `(n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj)` of the nine Inception modules
/// 3a, 3b, 4a-4e, 5a, 5b (paper Table 1).
pub const MODULES: [[usize; 6]; 9] = [
    [64, 96, 128, 16, 32, 32],
    [128, 128, 192, 32, 96, 64],
    [192, 96, 208, 16, 48, 64],
    [160, 112, 224, 24, 64, 64],
    [128, 128, 256, 24, 64, 64],
    [112, 144, 288, 32, 64, 64],
    [256, 160, 320, 32, 128, 128],
    [256, 160, 320, 32, 128, 128],
    [384, 192, 384, 48, 128, 128],
];

/// Module names: torchvision's, then the seed's.
pub const NAMES: [(&str, &str); 9] = [
    ("inception3a", "a3"),
    ("inception3b", "b3"),
    ("inception4a", "a4"),
    ("inception4b", "b4"),
    ("inception4c", "c4"),
    ("inception4d", "d4"),
    ("inception4e", "e4"),
    ("inception5a", "a5"),
    ("inception5b", "b5"),
];

/// The references' width rule, `max(4, round(c * width))`, rounding ties to even as
/// Python's `round` does.
pub const fn scaled(c: usize, width: f32) -> usize {
    let v = c as f64 * width as f64;
    let t = v as usize;
    let frac = v - t as f64;
    let r = if frac > 0.5 || (frac == 0.5 && t % 2 == 1) {
        t + 1
    } else {
        t
    };
    if r > 4 {
        r
    } else {
        4
    }
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

    /// Which PyTorch definition of the Inception module.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Style {
        /// torchvision `Inception`.
        Torchvision,
        /// The seed's `Inception` with BN, and whether its `BatchNorm2d(n5x5, n5x5)` quirk
        /// gives that BN `eps = n5x5` (when the weights do not say).
        Seed {
            /// The eps quirk.
            eps_quirk: bool,
        },
    }

    /// torchvision's batch-norm epsilon in `BasicConv2d`.
    pub const BN_EPS_TV: f64 = 0.001;

    fn basic_conv(nb: &mut NetBuilder<'_>, x: T, prefix: &str, spec: ConvSpec) -> Result<T> {
        let (c, b) = (path(prefix, "conv"), path(prefix, "bn"));
        nb.conv(x, &c, spec, Some(Bn::eps(&b, BN_EPS_TV)), Act::Relu)
    }

    /// An Inception module (paper Fig. 2b) at module `prefix` with widths `[n1x1,
    /// n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj]`: a 1x1 branch, 1x1 -> 3x3, 1x1 ->
    /// "5x5" (one 3x3 in torchvision, two 3x3 in the seed), 3x3 max pool -> 1x1;
    /// concatenated along channels.
    pub fn inception_module(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        style: Style,
        c: [usize; 6],
    ) -> Result<T> {
        let k1 = |o: usize| ConvSpec::new(o, 1);
        let k3 = |o: usize| ConvSpec::new(o, 3).pad(1);
        let p = |s: &str| path(prefix, s);
        let branches = match style {
            Style::Torchvision => {
                let b1 = basic_conv(nb, x, &p("branch1"), k1(c[0]))?;
                let b2 = basic_conv(nb, x, &p("branch2.0"), k1(c[1]))?;
                let b2 = basic_conv(nb, b2, &p("branch2.1"), k3(c[2]))?;
                let b3 = basic_conv(nb, x, &p("branch3.0"), k1(c[3]))?;
                let b3 = basic_conv(nb, b3, &p("branch3.1"), k3(c[4]))?;
                let b4 = nb.max_pool(x, &p("branch4.0"), 3, 1, 1, true)?;
                let b4 = basic_conv(nb, b4, &p("branch4.1"), k1(c[5]))?;
                [b1, b2, b3, b4]
            }
            Style::Seed { eps_quirk } => {
                let k1 = |o: usize| k1(o).bias(true);
                let k3 = |o: usize| k3(o).bias(true);
                let quirk = if eps_quirk { c[4] as f64 } else { BN_EPS };
                let b1 = nb.seq_conv_bn(x, &p("b1"), 0, k1(c[0]), BN_EPS, Act::Relu)?;
                let b2 = nb.seq_conv_bn(x, &p("b2"), 0, k1(c[1]), BN_EPS, Act::Relu)?;
                let b2 = nb.seq_conv_bn(b2, &p("b2"), 3, k3(c[2]), BN_EPS, Act::Relu)?;
                let b3 = nb.seq_conv_bn(x, &p("b3"), 0, k1(c[3]), BN_EPS, Act::Relu)?;
                let b3 = nb.seq_conv_bn(b3, &p("b3"), 3, k3(c[4]), quirk, Act::Relu)?;
                let b3 = nb.seq_conv_bn(b3, &p("b3"), 6, k3(c[4]), BN_EPS, Act::Relu)?;
                let b4 = nb.max_pool(x, &p("b4.0"), 3, 1, 1, false)?;
                let b4 = nb.seq_conv_bn(b4, &p("b4"), 1, k1(c[5]), BN_EPS, Act::Relu)?;
                [b1, b2, b3, b4]
            }
        };
        nb.concat(&branches, &p("cat"))
    }

    /// torchvision's `googlenet(num_classes, transform_input, aux_logits ignored)` or, with
    /// `cfg.seed_style`, the seed's GoogLeNet with BN.
    pub fn build(cfg: &Config, w: &mut Weights) -> Result<Net> {
        let r = cfg.resolution;
        let (mut nb, x) = NetBuilder::new("googlenet", Shape::new(1, r, r, 3), w);
        let s = |c: usize| scaled(c, cfg.width);
        let seed = cfg.seed_style;
        let mut y = x;
        if cfg.transform_input {
            y = transform_input(&mut nb, y);
        }
        let (stage_pool_ceil, stage_pool_pad) = if seed { (false, 1) } else { (true, 0) };
        if seed {
            let e = BN_EPS;
            y = nb.seq_conv_bn(
                y,
                "prelayer.0",
                0,
                ConvSpec::new(s(64), 7).stride(2).pad(3),
                e,
                Act::Relu,
            )?;
            y = nb.max_pool(y, "prelayer.1", 3, 2, 1, false)?;
            y = nb.seq_conv_bn(y, "prelayer.2", 0, ConvSpec::new(s(64), 1), e, Act::Relu)?;
            y = nb.seq_conv_bn(
                y,
                "prelayer.3",
                0,
                ConvSpec::new(s(192), 3).pad(1),
                e,
                Act::Relu,
            )?;
            y = nb.max_pool(y, "prelayer.4", 3, 2, 1, false)?;
        } else {
            y = basic_conv(
                &mut nb,
                y,
                "conv1",
                ConvSpec::new(s(64), 7).stride(2).pad(3),
            )?;
            y = nb.max_pool(y, "maxpool1", 3, 2, 0, true)?;
            y = basic_conv(&mut nb, y, "conv2", ConvSpec::new(s(64), 1))?;
            y = basic_conv(&mut nb, y, "conv3", ConvSpec::new(s(192), 3).pad(1))?;
            y = nb.max_pool(y, "maxpool2", 3, 2, 0, true)?;
        }
        let style = if seed {
            Style::Seed {
                eps_quirk: cfg.seed_eps_quirk,
            }
        } else {
            Style::Torchvision
        };
        for (i, (m, &(tv, sd))) in MODULES.iter().zip(NAMES.iter()).enumerate() {
            let widths = m.map(s);
            let name = if seed { sd } else { tv };
            y = inception_module(&mut nb, y, name, style, widths)?;
            if i == 1 || i == 6 {
                // The seed reuses one `maxpool` module after stages 3 and 4.
                let (pname, k) = match (seed, i) {
                    (true, 1) => ("maxpool (after b3)", 3),
                    (true, _) => ("maxpool (after e4)", 3),
                    (false, 1) => ("maxpool3", 3),
                    _ => ("maxpool4", 2),
                };
                y = nb.max_pool(y, pname, k, 2, stage_pool_pad, stage_pool_ceil)?;
            }
        }
        let y = nb.mean(y, "avgpool");
        let head = if seed { "linear" } else { "fc" };
        let y = nb.linear(y, head, cfg.classes, true, Act::None)?;
        nb.finish(y)
    }

    /// torchvision's `transform_input`: ImageNet-normalized inputs back to the [-1, 1]
    /// scaling of the original weights, per channel `x * std / 0.5 + (mean - 0.5) / 0.5`.
    pub fn transform_input(nb: &mut NetBuilder<'_>, x: T) -> T {
        let std = [0.229f32, 0.224, 0.225];
        let mean = [0.485f32, 0.456, 0.406];
        let scale: Vec<f32> = std.iter().map(|s| s / 0.5).collect();
        let shift: Vec<f32> = mean.iter().map(|m| (m - 0.5) / 0.5).collect();
        nb.channel_affine(x, "transform_input", &scale, &shift)
    }
}
