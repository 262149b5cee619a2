//! Xception (Chollet 2017, "Xception: Deep Learning with Depthwise Separable Convolutions",
//! Fig. 5), timm's `legacy_xception`: entry flow (two 3x3 convolutions, three strided
//! blocks), middle flow (eight blocks of three separable convolutions), exit flow (a strided
//! block, two separable convolutions), average pooling and a linear classifier. A block is
//! ReLU -> separable convolution -> BN, repeated, plus a max pool when strided; its shortcut
//! is the identity or a strided 1x1 convolution + BN. timm's first ReLU of a block does not
//! modify the input the shortcut reads (the seed's in-place ReLU would; see
//! `seed_blocks.py`).
//!
//! Widths are `max(4, round(c * width))` (bfmd's width rule for the backbones whose PyTorch
//! definition has none; width 1 is timm's). PyTorch names: `conv1`, `bn1`, `conv2`, `bn2`,
//! `block{1..12}.rep.i.{conv1,pointwise}` / `.rep.j` (BN), `.skip`, `.skipbn`, `conv3`,
//! `bn3`, `conv4`, `bn4`, `fc`.

/// `(in, out, reps, stride, start_with_relu, grow_first)` of blocks 1 to 12.
pub const BLOCKS: [(usize, usize, usize, usize, bool, bool); 12] = [
    (64, 128, 2, 2, false, true),
    (128, 256, 2, 2, true, true),
    (256, 728, 2, 2, true, true),
    (728, 728, 3, 1, true, true),
    (728, 728, 3, 1, true, true),
    (728, 728, 3, 1, true, true),
    (728, 728, 3, 1, true, true),
    (728, 728, 3, 1, true, true),
    (728, 728, 3, 1, true, true),
    (728, 728, 3, 1, true, true),
    (728, 728, 3, 1, true, true),
    (728, 1024, 2, 2, true, false),
];

/// Exit-flow separable convolution widths (`conv3`, `conv4`).
pub const EXIT: [usize; 2] = [1536, 2048];

#[cfg(feature = "std")]
pub use host::*;

#[cfg(feature = "std")]
mod host {
    use super::*;
    use crate::config::Config;
    use crate::error::Result;
    use crate::googlenet::scaled;
    use crate::mobilenet_v1::path;
    use crate::net::{Act, Bn, ConvSpec, Net, NetBuilder, Unary, T};
    use crate::weights::Weights;
    use bfmd_kernels::Shape;

    /// A separable convolution (Xception's building block; the seed's `SeperableConv2d`):
    /// `k x k` depthwise `dw` (no bias, stride, padding, dilation as `spec`) then 1x1
    /// pointwise `pw` to `spec.out` (no bias), optionally followed by the BN `bn` and a clamp.
    pub fn separable_conv(
        nb: &mut NetBuilder<'_>,
        x: T,
        dw: &str,
        pw: &str,
        spec: ConvSpec,
        bn: Option<Bn<'_>>,
        act: Act,
    ) -> Result<T> {
        let c = nb.channels(x);
        let dspec = ConvSpec {
            out: c,
            groups: c,
            bias: false,
            ..spec
        };
        let y = nb.conv(x, dw, dspec, None, Act::None)?;
        nb.conv(y, pw, ConvSpec::new(spec.out, 1), bn, act)
    }

    /// timm's Xception `Block` at module `prefix`: `reps` x (ReLU, 3x3 separable
    /// convolution, BN), growing to `out` at the first (`grow_first`) or the last
    /// repetition; a 3x3 stride-2 max pool (padding 1) when `stride == 2`; plus the identity
    /// or a 1x1 strided convolution + BN shortcut.
    #[allow(clippy::too_many_arguments)]
    pub fn xception_block(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        out: usize,
        reps: usize,
        stride: usize,
        start_with_relu: bool,
        grow_first: bool,
    ) -> Result<T> {
        let inp = nb.channels(x);
        // Sequential indices: [ReLU, Sep, BN] per repetition, minus the first ReLU when the
        // block does not start with one.
        let offset = if start_with_relu { 0 } else { 1 };
        let mut y = x;
        if start_with_relu {
            y = nb.unary(y, Unary::Relu, &path(prefix, "rep.0"));
        }
        for i in 0..reps {
            let o = if grow_first || i == reps - 1 {
                out
            } else {
                inp
            };
            let base = 3 * i + 1 - offset;
            let (dw, pw) = (
                path(prefix, &format!("rep.{base}.conv1")),
                path(prefix, &format!("rep.{base}.pointwise")),
            );
            let bn = path(prefix, &format!("rep.{}", base + 1));
            // The ReLU that opens the next repetition is fused into this one's BN output.
            let act = if i + 1 < reps { Act::Relu } else { Act::None };
            let spec = ConvSpec::new(o, 3).pad(1);
            y = separable_conv(nb, y, &dw, &pw, spec, Some(Bn::new(&bn)), act)?;
        }
        if stride != 1 {
            let p = path(prefix, &format!("rep.{}", 3 * reps - offset));
            y = nb.max_pool(y, &p, 3, stride, 1, false)?;
        }
        let skip = if out != inp || stride != 1 {
            let spec = ConvSpec::new(out, 1).stride(stride);
            let (c, b) = (path(prefix, "skip"), path(prefix, "skipbn"));
            nb.conv(x, &c, spec, Some(Bn::new(&b)), Act::None)?
        } else {
            x
        };
        nb.add(y, skip, &path(prefix, "add"), Act::None)
    }

    /// timm's `legacy_xception(num_classes)` with every width scaled by `cfg.width`.
    pub fn build(cfg: &Config, w: &mut Weights) -> Result<Net> {
        let s = |c: usize| scaled(c, cfg.width);
        let r = cfg.resolution;
        let (mut nb, x) = NetBuilder::new("xception", Shape::new(1, r, r, 3), w);
        let spec = ConvSpec::new(s(32), 3).stride(2);
        let y = nb.conv(x, "conv1", spec, Some(Bn::new("bn1")), Act::Relu)?;
        let mut y = nb.conv(
            y,
            "conv2",
            ConvSpec::new(s(64), 3),
            Some(Bn::new("bn2")),
            Act::Relu,
        )?;
        for (i, &(_, o, reps, st, swr, gf)) in BLOCKS.iter().enumerate() {
            let p = format!("block{}", i + 1);
            y = xception_block(&mut nb, y, &p, s(o), reps, st, swr, gf)?;
        }
        let spec = ConvSpec::new(s(EXIT[0]), 3).pad(1);
        let bn = Some(Bn::new("bn3"));
        y = separable_conv(
            &mut nb,
            y,
            "conv3.conv1",
            "conv3.pointwise",
            spec,
            bn,
            Act::Relu,
        )?;
        let spec = ConvSpec::new(s(EXIT[1]), 3).pad(1);
        let bn = Some(Bn::new("bn4"));
        y = separable_conv(
            &mut nb,
            y,
            "conv4.conv1",
            "conv4.pointwise",
            spec,
            bn,
            Act::Relu,
        )?;
        let y = nb.mean(y, "global_pool");
        let y = nb.linear(y, "fc", cfg.classes, true, Act::None)?;
        nb.finish(y)
    }
}
