//! Tensor shapes and the geometry of sliding-window ops (convolution, depthwise, pooling).

use crate::error::{check_dim, Error, Result};

/// Shape of a dense NHWC tensor (batch, height, width, channels).
///
/// Vectors and matrices use the same type: a fully connected input of 256 features is
/// `Shape::new(1, 1, 1, 256)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape {
    /// Batch.
    pub n: usize,
    /// Height (rows).
    pub h: usize,
    /// Width (columns).
    pub w: usize,
    /// Channels (innermost, contiguous).
    pub c: usize,
}

impl Shape {
    /// A shape from its four dimensions, NHWC order.
    pub const fn new(n: usize, h: usize, w: usize, c: usize) -> Self {
        Shape { n, h, w, c }
    }

    /// Number of elements (saturating, so a hostile shape cannot overflow into a small length).
    pub const fn len(&self) -> usize {
        self.n
            .saturating_mul(self.h)
            .saturating_mul(self.w)
            .saturating_mul(self.c)
    }

    /// `true` when the tensor has no element.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of pixels (`n * h * w`).
    pub const fn pixels(&self) -> usize {
        self.n.saturating_mul(self.h).saturating_mul(self.w)
    }

    /// Linear index of element `(n, y, x, c)`.
    #[inline(always)]
    pub const fn index(&self, n: usize, y: usize, x: usize, c: usize) -> usize {
        ((n * self.h + y) * self.w + x) * self.c + c
    }
}

/// How a sliding window is padded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Padding {
    /// TFLite `SAME`: output size `ceil(in / stride)`; the total padding is split with the odd
    /// element at the bottom/right (TFLite `ComputePaddingHeightWidth`, `kernel_util.h`).
    Same,
    /// TFLite `VALID`: no padding, output size `ceil((in - dilated_kernel + 1) / stride)`.
    Valid,
    /// Explicit per-side padding (PyTorch's symmetric `padding=p` is `{p, p, p, p}`).
    Explicit {
        /// Rows added above.
        top: usize,
        /// Rows added below.
        bottom: usize,
        /// Columns added on the left.
        left: usize,
        /// Columns added on the right.
        right: usize,
    },
}

/// Output size and leading padding of one spatial axis.
///
/// Returns `(output, pad_before, pad_after)`; `Err` when the window does not fit.
pub fn resolve_axis(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
    vertical: bool,
) -> Result<(usize, usize, usize)> {
    if stride == 0 {
        return Err(Error::BadParam {
            what: "stride",
            value: 0,
        });
    }
    if dilation == 0 {
        return Err(Error::BadParam {
            what: "dilation",
            value: 0,
        });
    }
    if kernel == 0 {
        return Err(Error::BadParam {
            what: "kernel size",
            value: 0,
        });
    }
    let dk = (kernel - 1)
        .checked_mul(dilation)
        .and_then(|v| v.checked_add(1))
        .ok_or(Error::BadParam {
            what: "dilated kernel",
            value: i64::MAX,
        })?;
    match padding {
        Padding::Same => {
            let out = input.div_ceil(stride);
            let needed = out
                .saturating_sub(1)
                .saturating_mul(stride)
                .saturating_add(dk)
                .saturating_sub(input);
            let before = needed / 2;
            Ok((out, before, needed - before))
        }
        Padding::Valid => {
            if input < dk {
                return Err(Error::DimMismatch {
                    what: "input size for VALID window",
                    expected: dk,
                    got: input,
                });
            }
            Ok(((input - dk) / stride + 1, 0, 0))
        }
        Padding::Explicit {
            top,
            bottom,
            left,
            right,
        } => {
            let (b, a) = if vertical {
                (top, bottom)
            } else {
                (left, right)
            };
            let padded =
                input
                    .checked_add(b)
                    .and_then(|v| v.checked_add(a))
                    .ok_or(Error::BadParam {
                        what: "padding",
                        value: i64::MAX,
                    })?;
            if padded < dk {
                return Err(Error::DimMismatch {
                    what: "padded input size",
                    expected: dk,
                    got: padded,
                });
            }
            Ok(((padded - dk) / stride + 1, b, a))
        }
    }
}

/// Geometry of a 2-D sliding-window op: convolution, depthwise convolution or pooling.
///
/// The output shape is stored, not recomputed, so that a model's recorded shapes are checked
/// against the window arithmetic by [`ConvGeometry::validate`] once, at load time.
///
/// * convolution: `output.c` filters of shape `[kernel_h, kernel_w, input.c / groups]`
///   (TFLite OHWI layout); filter `o` sees input channels of group `o / (output.c / groups)`;
/// * depthwise: `groups` is ignored; the channel multiplier is `output.c / input.c`;
/// * pooling: `output.c == input.c`; `groups` is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConvGeometry {
    /// Input tensor shape.
    pub input: Shape,
    /// Output tensor shape.
    pub output: Shape,
    /// Window height.
    pub kernel_h: usize,
    /// Window width.
    pub kernel_w: usize,
    /// Vertical stride.
    pub stride_h: usize,
    /// Horizontal stride.
    pub stride_w: usize,
    /// Vertical dilation (1 = dense).
    pub dilation_h: usize,
    /// Horizontal dilation (1 = dense).
    pub dilation_w: usize,
    /// Rows of padding above the input.
    pub pad_top: usize,
    /// Rows of padding below the input.
    pub pad_bottom: usize,
    /// Columns of padding left of the input.
    pub pad_left: usize,
    /// Columns of padding right of the input.
    pub pad_right: usize,
    /// Convolution groups (1 = dense convolution).
    pub groups: usize,
}

/// Pooling uses the same geometry as convolution (`groups` and dilation unused).
pub type PoolGeometry = ConvGeometry;

impl ConvGeometry {
    /// Computes the geometry of a window op from its hyper-parameters.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        input: Shape,
        out_channels: usize,
        kernel: (usize, usize),
        stride: (usize, usize),
        dilation: (usize, usize),
        padding: Padding,
        groups: usize,
    ) -> Result<Self> {
        let (oh, pt, pb) = resolve_axis(input.h, kernel.0, stride.0, dilation.0, padding, true)?;
        let (ow, pl, pr) = resolve_axis(input.w, kernel.1, stride.1, dilation.1, padding, false)?;
        let g = ConvGeometry {
            input,
            output: Shape::new(input.n, oh, ow, out_channels),
            kernel_h: kernel.0,
            kernel_w: kernel.1,
            stride_h: stride.0,
            stride_w: stride.1,
            dilation_h: dilation.0,
            dilation_w: dilation.1,
            pad_top: pt,
            pad_bottom: pb,
            pad_left: pl,
            pad_right: pr,
            groups,
        };
        g.validate()?;
        Ok(g)
    }

    /// Checks that the stored output shape follows from input, window, stride and padding,
    /// and that no parameter is zero.
    pub fn validate(&self) -> Result<()> {
        if self.groups == 0 {
            return Err(Error::BadParam {
                what: "groups",
                value: 0,
            });
        }
        let (oh, _, _) = resolve_axis(
            self.input.h,
            self.kernel_h,
            self.stride_h,
            self.dilation_h,
            Padding::Explicit {
                top: self.pad_top,
                bottom: self.pad_bottom,
                left: self.pad_left,
                right: self.pad_right,
            },
            true,
        )?;
        let (ow, _, _) = resolve_axis(
            self.input.w,
            self.kernel_w,
            self.stride_w,
            self.dilation_w,
            Padding::Explicit {
                top: self.pad_top,
                bottom: self.pad_bottom,
                left: self.pad_left,
                right: self.pad_right,
            },
            false,
        )?;
        check_dim("output height", oh, self.output.h)?;
        check_dim("output width", ow, self.output.w)?;
        check_dim("output batch", self.input.n, self.output.n)?;
        Ok(())
    }

    /// Number of multiply-accumulates of a dense or grouped convolution with this geometry.
    pub fn conv_macs(&self) -> usize {
        self.output.len() * self.kernel_h * self.kernel_w * (self.input.c / self.groups.max(1))
    }

    /// Number of multiply-accumulates of a depthwise convolution with this geometry.
    pub fn depthwise_macs(&self) -> usize {
        self.output.len() * self.kernel_h * self.kernel_w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_puts_the_odd_row_at_the_bottom() {
        // 96 -> 48 with a 3x3 stride-2 window needs 1 row of padding, all of it at the bottom.
        let g = ConvGeometry::new(
            Shape::new(1, 96, 96, 3),
            8,
            (3, 3),
            (2, 2),
            (1, 1),
            Padding::Same,
            1,
        )
        .unwrap();
        assert_eq!((g.output.h, g.output.w), (48, 48));
        assert_eq!(
            (g.pad_top, g.pad_bottom, g.pad_left, g.pad_right),
            (0, 1, 0, 1)
        );
        // Stride 1: 2 rows, one each side.
        let g = ConvGeometry::new(
            Shape::new(1, 7, 5, 3),
            8,
            (3, 3),
            (1, 1),
            (1, 1),
            Padding::Same,
            1,
        )
        .unwrap();
        assert_eq!(
            (g.output.h, g.output.w, g.pad_top, g.pad_bottom),
            (7, 5, 1, 1)
        );
    }

    #[test]
    fn valid_and_explicit_padding() {
        let g = ConvGeometry::new(
            Shape::new(1, 10, 9, 3),
            4,
            (3, 2),
            (2, 3),
            (2, 1),
            Padding::Valid,
            1,
        )
        .unwrap();
        // dilated kernel height 5: (10 - 5) / 2 + 1 = 3; width (9 - 2) / 3 + 1 = 3.
        assert_eq!((g.output.h, g.output.w), (3, 3));
        let g = ConvGeometry::new(
            Shape::new(1, 5, 5, 3),
            4,
            (3, 3),
            (2, 2),
            (1, 1),
            Padding::Explicit {
                top: 1,
                bottom: 1,
                left: 1,
                right: 1,
            },
            1,
        )
        .unwrap();
        assert_eq!((g.output.h, g.output.w), (3, 3));
    }

    #[test]
    fn bad_geometry_is_an_error() {
        let s = Shape::new(1, 4, 4, 3);
        assert!(ConvGeometry::new(s, 4, (3, 3), (0, 1), (1, 1), Padding::Same, 1).is_err());
        assert!(ConvGeometry::new(s, 4, (5, 5), (1, 1), (1, 1), Padding::Valid, 1).is_err());
        assert!(ConvGeometry::new(s, 4, (3, 3), (1, 1), (1, 1), Padding::Same, 0).is_err());
        let huge = Padding::Explicit {
            top: usize::MAX,
            bottom: 1,
            left: 0,
            right: 0,
        };
        assert_eq!(
            ConvGeometry::new(s, 4, (3, 3), (1, 1), (1, 1), huge, 1),
            Err(Error::BadParam {
                what: "padding",
                value: i64::MAX
            })
        );
        let mut g = ConvGeometry::new(s, 4, (3, 3), (1, 1), (1, 1), Padding::Same, 1).unwrap();
        g.output.h = 5;
        assert_eq!(
            g.validate(),
            Err(Error::DimMismatch {
                what: "output height",
                expected: 4,
                got: 5
            })
        );
    }
}
