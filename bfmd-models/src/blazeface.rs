//! The BlazeFace feature extractor (Bazarevsky et al. 2019, "BlazeFace", Fig. 1 and Table 4),
//! as the seed defines it: a 5x5 stride-2 stem, five single and six double BlazeBlocks (5x5
//! depthwise + BN + 1x1 + BN; the double block adds ReLU and a second 5x5 depthwise + 1x1),
//! a max-pool + 1x1 + BN + ReLU shortcut for stride 2, and ReLU after the sum: 128x128x3 to
//! 8x8x96. The double block's second stage is a 5x5 depthwise + 1x1 as in the paper (the
//! references' CHOICE where the seed is ambiguous).
//!
//! PyTorch names: `features.0` (stem conv, with bias), `features.1` (BN),
//! `features.{3..13}.conv.{0,2}.{0..3}`, `features.k.shortcut.{1,2}`.

/// `(inp, oup, double_oup (0: single block), stride)` of the eleven BlazeBlocks (paper
/// Table 4, the seed's `BlazeFaceBackbone`). `width` scales every channel count.
pub const BLOCKS: [(usize, usize, usize, usize); 11] = [
    (24, 24, 0, 1),
    (24, 24, 0, 1),
    (24, 48, 0, 2),
    (48, 48, 0, 1),
    (48, 48, 0, 1),
    (48, 24, 96, 2),
    (96, 24, 96, 1),
    (96, 24, 96, 1),
    (96, 24, 96, 2),
    (96, 24, 96, 1),
    (96, 24, 96, 1),
];

/// Stem channels.
pub const STEM: usize = 24;

/// BlazeFace's depthwise window.
pub const KERNEL: usize = 5;

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

    /// The seed's `conv_dw(inp, oup, stride, k)` at `prefix`: `k x k` depthwise (no bias) +
    /// BN, 1x1 (no bias) + BN, then `act`.
    fn conv_dw(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        oup: usize,
        stride: usize,
        k: usize,
        act: Act,
    ) -> Result<T> {
        let c = nb.channels(x);
        let spec = ConvSpec::new(c, k)
            .stride(stride)
            .pad((k - 1) / 2)
            .groups(c);
        let y = nb.seq_conv_bn(x, prefix, 0, spec, BN_EPS, Act::None)?;
        nb.seq_conv_bn(y, prefix, 2, ConvSpec::new(oup, 1), BN_EPS, act)
    }

    /// A BlazeBlock at module `prefix` (paper Fig. 1): single (`double_oup == 0`) or double;
    /// for stride 2 the shortcut is a 2x2 max pool + 1x1 (with bias) + BN + ReLU to the
    /// block's output width; the output is `ReLU(h + shortcut)`.
    pub fn blaze_block(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        oup: usize,
        double_oup: usize,
        stride: usize,
    ) -> Result<T> {
        let inp = nb.channels(x);
        let out = if double_oup == 0 { oup } else { double_oup };
        let h = if double_oup == 0 {
            conv_dw(
                nb,
                x,
                &path(prefix, "conv.0"),
                oup,
                stride,
                KERNEL,
                Act::None,
            )?
        } else {
            let h = conv_dw(
                nb,
                x,
                &path(prefix, "conv.0"),
                oup,
                stride,
                KERNEL,
                Act::Relu,
            )?;
            conv_dw(
                nb,
                h,
                &path(prefix, "conv.2"),
                double_oup,
                1,
                KERNEL,
                Act::None,
            )?
        };
        let s = match stride {
            1 if inp == out => x,
            1 => {
                return Err(Error::Config(format!(
                    "{prefix}: a stride-1 BlazeBlock needs {inp} == {out} channels"
                )))
            }
            2 => {
                let p = nb.max_pool(x, &path(prefix, "shortcut.0"), 2, 2, 0, false)?;
                let spec = ConvSpec::new(out, 1).bias(true);
                let (c, b) = (path(prefix, "shortcut.1"), path(prefix, "shortcut.2"));
                nb.conv(p, &c, spec, Some(Bn::new(&b)), Act::Relu)?
            }
            _ => return Err(Error::Config(format!("{prefix}: stride must be 1 or 2"))),
        };
        nb.add(h, s, &path(prefix, "add"), Act::Relu)
    }

    /// The seed's `BlazeFaceBackbone()`, every width times `cfg.width`, at
    /// `cfg.resolution` (128 in the paper).
    pub fn build(cfg: &Config, w: &mut Weights) -> Result<Net> {
        let sc = |c: usize| ((c as f32 * cfg.width).round() as usize).max(1);
        let r = cfg.resolution;
        let (mut nb, x) = NetBuilder::new("blazeface", Shape::new(1, r, r, 3), w);
        let spec = ConvSpec::new(sc(STEM), 5).stride(2).pad(2).bias(true);
        let mut y = nb.conv(
            x,
            "features.0",
            spec,
            Some(Bn::new("features.1")),
            Act::Relu,
        )?;
        for (i, &(_, o, d, s)) in BLOCKS.iter().enumerate() {
            let d = if d == 0 { 0 } else { sc(d) };
            y = blaze_block(&mut nb, y, &format!("features.{}", i + 3), sc(o), d, s)?;
        }
        nb.finish(y)
    }
}
