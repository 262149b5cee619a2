//! Inception v3 (Szegedy et al. 2016, "Rethinking the Inception Architecture for Computer
//! Vision", Table 1), torchvision's definition: a stem of five `BasicConv2d` (conv without
//! bias + BN `eps=0.001` + ReLU) and two max pools, then the "Mixed" modules of Inception
//! v2/v3 (the seed's "Inception-V2" section): three `InceptionA` (5x5 factorized into two 3x3
//! on one branch), the grid reduction `InceptionB`, four `InceptionC` (7x7 factorized into
//! 1x7 and 7x1), the reduction `InceptionD`, two `InceptionE` (expanded 1x3 / 3x1 filter
//! banks), average pooling and a linear classifier. The auxiliary head is training-only and
//! not built.
//!
//! Also here: the seed's "Inception convolution" (Liu et al. 2020, IC-Conv), parallel
//! convolutions of one window with different `(dh, dw)` dilations, concatenated.
//!
//! Widths are `max(4, round(c * width))` (bfmd's width rule; width 1 is torchvision's).
//! PyTorch names: `Conv2d_1a_3x3.{conv,bn}`, ..., `Mixed_5b.branch1x1`, ..., `fc`.

/// `pool_features` of `Mixed_5b`, `Mixed_5c`, `Mixed_5d` (`InceptionA`).
pub const A_POOL: [usize; 3] = [32, 64, 64];
/// `channels_7x7` of `Mixed_6b` ... `Mixed_6e` (`InceptionC`).
pub const C_7X7: [usize; 4] = [128, 160, 160, 192];

#[cfg(feature = "std")]
pub use host::*;

#[cfg(feature = "std")]
mod host {
    use super::*;
    use crate::config::Config;
    use crate::error::{Error, Result};
    use crate::googlenet::{scaled, transform_input, BN_EPS_TV};
    use crate::mobilenet_v1::path;
    use crate::net::{Act, Bn, ConvSpec, Net, NetBuilder, T};
    use crate::weights::Weights;
    use bfmd_kernels::Shape;

    /// torchvision's `BasicConv2d` at `prefix`: conv (no bias) + BN (eps 0.001) + ReLU.
    pub fn basic_conv2d(nb: &mut NetBuilder<'_>, x: T, prefix: &str, spec: ConvSpec) -> Result<T> {
        let (c, b) = (path(prefix, "conv"), path(prefix, "bn"));
        nb.conv(x, &c, spec, Some(Bn::eps(&b, BN_EPS_TV)), Act::Relu)
    }

    /// `basic_conv2d`s one after the other from `x`, each `(name, spec)` at `prefix.name`:
    /// one branch of a factorized module.
    pub fn branch(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        convs: &[(&str, ConvSpec)],
    ) -> Result<T> {
        let mut y = x;
        for (name, spec) in convs {
            y = basic_conv2d(nb, y, &path(prefix, name), *spec)?;
        }
        Ok(y)
    }

    fn k1(o: usize) -> ConvSpec {
        ConvSpec::new(o, 1)
    }

    fn k3(o: usize) -> ConvSpec {
        ConvSpec::new(o, 3).pad(1)
    }

    /// `1 x n` (row) and `n x 1` (column) windows with size-keeping padding.
    fn row(o: usize, n: usize) -> ConvSpec {
        ConvSpec::rect(o, 1, n).pad_hw(0, n / 2)
    }

    fn col(o: usize, n: usize) -> ConvSpec {
        ConvSpec::rect(o, n, 1).pad_hw(n / 2, 0)
    }

    /// `InceptionA` (paper Fig. 5): 1x1; 1x1 -> 5x5; 1x1 -> 3x3 -> 3x3; 3x3 average pool
    /// (count_include_pad) -> 1x1 `pool_features`.
    pub fn inception_a(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        pool_features: usize,
        s: &dyn Fn(usize) -> usize,
    ) -> Result<T> {
        let b1 = branch(nb, x, prefix, &[("branch1x1", k1(s(64)))])?;
        let five = ConvSpec::new(s(64), 5).pad(2);
        let b5 = branch(
            nb,
            x,
            prefix,
            &[("branch5x5_1", k1(s(48))), ("branch5x5_2", five)],
        )?;
        let b3 = branch(
            nb,
            x,
            prefix,
            &[
                ("branch3x3dbl_1", k1(s(64))),
                ("branch3x3dbl_2", k3(s(96))),
                ("branch3x3dbl_3", k3(s(96))),
            ],
        )?;
        let bp = nb.avg_pool(x, &path(prefix, "avg_pool"), 3, 1, 1, true)?;
        let bp = branch(nb, bp, prefix, &[("branch_pool", k1(pool_features))])?;
        nb.concat(&[b1, b5, b3, bp], &path(prefix, "cat"))
    }

    /// `InceptionB` (grid reduction, paper Fig. 10): 3x3 stride 2; 1x1 -> 3x3 -> 3x3
    /// stride 2; 3x3 stride-2 max pool.
    pub fn inception_b(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        s: &dyn Fn(usize) -> usize,
    ) -> Result<T> {
        let down = |o: usize| ConvSpec::new(o, 3).stride(2);
        let b3 = branch(nb, x, prefix, &[("branch3x3", down(s(384)))])?;
        let bd = branch(
            nb,
            x,
            prefix,
            &[
                ("branch3x3dbl_1", k1(s(64))),
                ("branch3x3dbl_2", k3(s(96))),
                ("branch3x3dbl_3", down(s(96))),
            ],
        )?;
        let bp = nb.max_pool(x, &path(prefix, "max_pool"), 3, 2, 0, false)?;
        nb.concat(&[b3, bd, bp], &path(prefix, "cat"))
    }

    /// `InceptionC` (paper Fig. 6, n = 7): 1x1; 1x1 -> 1x7 -> 7x1; 1x1 -> 7x1 -> 1x7 -> 7x1
    /// -> 1x7; average pool -> 1x1. `c7` is the (already scaled) `channels_7x7`.
    pub fn inception_c(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        c7: usize,
        s: &dyn Fn(usize) -> usize,
    ) -> Result<T> {
        let b1 = branch(nb, x, prefix, &[("branch1x1", k1(s(192)))])?;
        let b7 = branch(
            nb,
            x,
            prefix,
            &[
                ("branch7x7_1", k1(c7)),
                ("branch7x7_2", row(c7, 7)),
                ("branch7x7_3", col(s(192), 7)),
            ],
        )?;
        let bd = branch(
            nb,
            x,
            prefix,
            &[
                ("branch7x7dbl_1", k1(c7)),
                ("branch7x7dbl_2", col(c7, 7)),
                ("branch7x7dbl_3", row(c7, 7)),
                ("branch7x7dbl_4", col(c7, 7)),
                ("branch7x7dbl_5", row(s(192), 7)),
            ],
        )?;
        let bp = nb.avg_pool(x, &path(prefix, "avg_pool"), 3, 1, 1, true)?;
        let bp = branch(nb, bp, prefix, &[("branch_pool", k1(s(192)))])?;
        nb.concat(&[b1, b7, bd, bp], &path(prefix, "cat"))
    }

    /// `InceptionD` (grid reduction): 1x1 -> 3x3 stride 2; 1x1 -> 1x7 -> 7x1 -> 3x3 stride
    /// 2; 3x3 stride-2 max pool.
    pub fn inception_d(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        s: &dyn Fn(usize) -> usize,
    ) -> Result<T> {
        let down = |o: usize| ConvSpec::new(o, 3).stride(2);
        let b3 = branch(
            nb,
            x,
            prefix,
            &[("branch3x3_1", k1(s(192))), ("branch3x3_2", down(s(320)))],
        )?;
        let b7 = branch(
            nb,
            x,
            prefix,
            &[
                ("branch7x7x3_1", k1(s(192))),
                ("branch7x7x3_2", row(s(192), 7)),
                ("branch7x7x3_3", col(s(192), 7)),
                ("branch7x7x3_4", down(s(192))),
            ],
        )?;
        let bp = nb.max_pool(x, &path(prefix, "max_pool"), 3, 2, 0, false)?;
        nb.concat(&[b3, b7, bp], &path(prefix, "cat"))
    }

    /// `InceptionE` (paper Fig. 7): 1x1; 1x1 -> (1x3, 3x1); 1x1 -> 3x3 -> (1x3, 3x1);
    /// average pool -> 1x1. torchvision's nested concatenations are one concatenation here
    /// (the same channel order).
    pub fn inception_e(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        s: &dyn Fn(usize) -> usize,
    ) -> Result<T> {
        let b1x1 = branch(nb, x, prefix, &[("branch1x1", k1(s(320)))])?;
        let b3 = branch(nb, x, prefix, &[("branch3x3_1", k1(s(384)))])?;
        let b3a = branch(nb, b3, prefix, &[("branch3x3_2a", row(s(384), 3))])?;
        let b3b = branch(nb, b3, prefix, &[("branch3x3_2b", col(s(384), 3))])?;
        let bd = branch(
            nb,
            x,
            prefix,
            &[
                ("branch3x3dbl_1", k1(s(448))),
                ("branch3x3dbl_2", k3(s(384))),
            ],
        )?;
        let bda = branch(nb, bd, prefix, &[("branch3x3dbl_3a", row(s(384), 3))])?;
        let bdb = branch(nb, bd, prefix, &[("branch3x3dbl_3b", col(s(384), 3))])?;
        let bp = nb.avg_pool(x, &path(prefix, "avg_pool"), 3, 1, 1, true)?;
        let bp = branch(nb, bp, prefix, &[("branch_pool", k1(s(192)))])?;
        nb.concat(&[b1x1, b3a, b3b, bda, bdb, bp], &path(prefix, "cat"))
    }

    /// The seed's "Inception convolution" (IC-Conv, Liu et al. 2020) at module `prefix`:
    /// one `k x k` convolution (+ BN + ReLU) per `(out, (dh, dw))` entry, each with its own
    /// dilation and the padding `((k - 1) / 2 * dh, (k - 1) / 2 * dw)` that keeps the size,
    /// at `prefix.{i}.conv` / `prefix.{i}.bn`, concatenated.
    pub fn inception_convolution(
        nb: &mut NetBuilder<'_>,
        x: T,
        prefix: &str,
        k: usize,
        branches: &[(usize, (usize, usize))],
    ) -> Result<T> {
        if k % 2 == 0 || branches.is_empty() {
            return Err(Error::Config(format!(
                "{prefix}: IC-Conv needs an odd window and at least one branch"
            )));
        }
        let mut outs = Vec::new();
        for (i, &(o, (dh, dw))) in branches.iter().enumerate() {
            let spec = ConvSpec {
                dilation: (dh, dw),
                ..ConvSpec::new(o, k)
            }
            .same();
            let (c, b) = (format!("{prefix}.{i}.conv"), format!("{prefix}.{i}.bn"));
            outs.push(nb.conv(x, &c, spec, Some(Bn::new(&b)), Act::Relu)?);
        }
        nb.concat(&outs, &path(prefix, "cat"))
    }

    /// torchvision's `inception_v3(num_classes, transform_input, aux_logits ignored)` with
    /// every width scaled by `cfg.width`; torchvision needs at least 75x75 inputs.
    pub fn build(cfg: &Config, w: &mut Weights) -> Result<Net> {
        let wd = cfg.width;
        let s = move |c: usize| scaled(c, wd);
        let r = cfg.resolution;
        if r < 75 {
            return Err(Error::Config(format!(
                "inception_v3 needs inputs of at least 75x75, not {r}"
            )));
        }
        let (mut builder, x) = NetBuilder::new("inception_v3", Shape::new(1, r, r, 3), w);
        let nb = &mut builder;
        let mut y = x;
        if cfg.transform_input {
            y = transform_input(nb, y);
        }
        y = basic_conv2d(nb, y, "Conv2d_1a_3x3", ConvSpec::new(s(32), 3).stride(2))?;
        y = basic_conv2d(nb, y, "Conv2d_2a_3x3", ConvSpec::new(s(32), 3))?;
        y = basic_conv2d(nb, y, "Conv2d_2b_3x3", ConvSpec::new(s(64), 3).pad(1))?;
        y = nb.max_pool(y, "maxpool1", 3, 2, 0, false)?;
        y = basic_conv2d(nb, y, "Conv2d_3b_1x1", ConvSpec::new(s(80), 1))?;
        y = basic_conv2d(nb, y, "Conv2d_4a_3x3", ConvSpec::new(s(192), 3))?;
        y = nb.max_pool(y, "maxpool2", 3, 2, 0, false)?;
        for (name, &pf) in ["Mixed_5b", "Mixed_5c", "Mixed_5d"].iter().zip(&A_POOL) {
            y = inception_a(nb, y, name, s(pf), &s)?;
        }
        y = inception_b(nb, y, "Mixed_6a", &s)?;
        for (name, &c7) in ["Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"]
            .iter()
            .zip(&C_7X7)
        {
            y = inception_c(nb, y, name, s(c7), &s)?;
        }
        y = inception_d(nb, y, "Mixed_7a", &s)?;
        y = inception_e(nb, y, "Mixed_7b", &s)?;
        y = inception_e(nb, y, "Mixed_7c", &s)?;
        let y = nb.mean(y, "avgpool");
        let y = nb.linear(y, "fc", cfg.classes, true, Act::None)?;
        builder.finish(y)
    }
}
