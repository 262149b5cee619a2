//! Data-movement ops that do not look at element values: concatenation and split along any axis,
//! channel shuffle (plain and fused with concatenation/split for ShuffleNet), pad, transpose.
//!
//! Every op is written once, generic over the element type (`T: Copy`), with thin
//! `<op>_s8` / `<op>_f16` / `<op>_f32` wrappers for the dtypes bfmd runs. Tensors are dense NHWC
//! [`Shape`]s; a tensor of lower rank is the same buffer seen with leading dimensions of 1 (a
//! TFLite `[h, w, c]` tensor is `Shape::new(1, h, w, c)`, a vector of 10 is `Shape::new(1, 1, 1,
//! 10)`), and [`Axis::from_tflite`] maps a TFLite axis of such a tensor onto the four NHWC axes.
//!
//! Only one op here needs to look at values: concatenation of int8 tensors whose quantization
//! differs ([`concat::concat_s8_requant`]); see [`mod@concat`] for what TFLM does there.
//!
//! # Reshape
//!
//! There is no reshape kernel: a reshape of a dense row-major buffer keeps every element at the
//! same offset, so it is a change of the [`Shape`] the next op is given and nothing is written.
//! The graph layer treats RESHAPE (and SQUEEZE / EXPAND_DIMS) as a view of its input's buffer.
//!
//! # Errors
//!
//! Every function checks its buffers against the shapes it is given and returns
//! [`crate::Error`] naming what was wrong: [`crate::Error::BufferLength`] for a slice of the wrong
//! length, [`crate::Error::DimMismatch`] for shapes that do not fit together,
//! [`crate::Error::BadParam`] for a bad axis, permutation, group count or split count.

pub mod concat;
pub mod pad;
pub mod shuffle;
pub mod split;
pub mod transpose;

pub use concat::*;
pub use pad::*;
pub use shuffle::*;
pub use split::*;
pub use transpose::*;

use crate::error::{Error, Result};
use crate::shape::Shape;

/// One of the four axes of an NHWC tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Axis {
    /// Batch (dimension 0).
    N,
    /// Height (dimension 1).
    H,
    /// Width (dimension 2).
    W,
    /// Channels (dimension 3, innermost).
    C,
}

impl Axis {
    /// The axis with index `i` (0 = N ... 3 = C).
    pub fn from_index(i: usize) -> Result<Self> {
        match i {
            0 => Ok(Axis::N),
            1 => Ok(Axis::H),
            2 => Ok(Axis::W),
            3 => Ok(Axis::C),
            _ => Err(Error::BadParam {
                what: "axis",
                value: saturate(i),
            }),
        }
    }

    /// Index of the axis in NHWC order (0 = N ... 3 = C).
    pub const fn index(self) -> usize {
        match self {
            Axis::N => 0,
            Axis::H => 1,
            Axis::W => 2,
            Axis::C => 3,
        }
    }

    /// Maps a TFLite `axis` of a tensor of rank `rank` (1 to 4; negative axes count from the
    /// end, as in TFLite's `CalculatePositiveAxis`) onto the NHWC axes of the same buffer seen
    /// with leading dimensions of 1.
    pub fn from_tflite(axis: i32, rank: usize) -> Result<Self> {
        if !(1..=4).contains(&rank) {
            return Err(Error::BadParam {
                what: "tensor rank",
                value: saturate(rank),
            });
        }
        let r = rank as i32;
        let positive = if axis < 0 { axis + r } else { axis };
        if !(0..r).contains(&positive) {
            return Err(Error::BadParam {
                what: "axis",
                value: axis as i64,
            });
        }
        Axis::from_index(positive as usize + 4 - rank)
    }
}

/// The four dimensions of a shape in NHWC order.
pub(crate) const fn dims(s: Shape) -> [usize; 4] {
    [s.n, s.h, s.w, s.c]
}

/// The shape with dimensions `d` in NHWC order.
pub(crate) const fn shape_of(d: [usize; 4]) -> Shape {
    Shape::new(d[0], d[1], d[2], d[3])
}

/// `(outer, inner)`: the products of the dimensions before and after `axis`.
pub(crate) fn outer_inner(s: Shape, axis: Axis) -> (usize, usize) {
    let d = dims(s);
    let a = axis.index();
    let outer = d[..a].iter().fold(1usize, |p, &x| p.saturating_mul(x));
    let inner = d[a + 1..].iter().fold(1usize, |p, &x| p.saturating_mul(x));
    (outer, inner)
}

/// A `usize` as the `i64` of [`Error::BadParam`], saturated.
pub(crate) fn saturate(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
