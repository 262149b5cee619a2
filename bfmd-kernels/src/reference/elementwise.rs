//! Binary elementwise ops in `f32` (add, multiply) and the broadcasting rules every dtype uses.
//!
//! # Broadcasting
//!
//! Both operands are NHWC tensors described by a [`Shape`]. Each of the four dimensions must be
//! equal in both operands or 1 in one of them (NumPy / TFLite rules restricted to rank 4); the
//! output takes the larger size. The forms the backbones need are all covered:
//!
//! * same shape (residual add);
//! * `[1, 1, 1, C]` or `[N, 1, 1, C]` against `[N, H, W, C]` (squeeze-and-excitation gating,
//!   per-channel scale or bias);
//! * `[1, 1, 1, 1]` (a scalar);
//! * `[N, H, W, 1]` against `[N, H, W, C]` (a spatial attention map).
//!
//! Shapes that do not broadcast return [`Error::DimMismatch`]. The `_inplace` variants write
//! the result over the first operand, which must therefore already have the output shape; add
//! and multiply are symmetric, so a caller that wants the other operand overwritten swaps the
//! operands (and, for int8, uses the swapped parameters).
//!
//! [`Broadcast`] turns two shapes into a walk over contiguous output rows, in which each operand
//! is either a full row or one repeated element. Kernels only implement those two row forms, so
//! a SIMD inner loop slots in without knowing about shapes.

use crate::error::{check_len, Error, Result};
use crate::quant::{activation_range_f32, FusedActivation};
use crate::shape::Shape;

/// One operand of a row: a full row of the output's length, or one element repeated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Operand<'a, T> {
    /// As many elements as the output row.
    Row(&'a [T]),
    /// One element used for the whole output row.
    Scalar(T),
}

/// How two broadcast operands map onto the output, as a sequence of contiguous output rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Broadcast {
    a: Shape,
    b: Shape,
    out: Shape,
    /// Output dimensions outside the row (outermost first, padded with 1s), and the element
    /// steps of `a`, `b` and the output along them (0 where an operand is broadcast).
    outer: [usize; 3],
    a_steps: [usize; 3],
    b_steps: [usize; 3],
    out_steps: [usize; 3],
    row_len: usize,
    a_scalar: bool,
    b_scalar: bool,
}

/// Whether one operand is broadcast along one output dimension.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The output dimension is 1: compatible with either kind.
    Any,
    /// The operand spans the dimension.
    Full,
    /// The operand has size 1 there and is repeated.
    Repeat,
}

fn dims(s: Shape) -> [usize; 4] {
    [s.n, s.h, s.w, s.c]
}

fn kind(operand: usize, out: usize) -> Kind {
    if out == 1 {
        Kind::Any
    } else if operand == 1 {
        Kind::Repeat
    } else {
        Kind::Full
    }
}

/// Element strides of a dense NHWC tensor, with 0 where the dimension has size 1 (so that a
/// broadcast dimension re-reads the same elements).
fn broadcast_strides(s: [usize; 4]) -> [usize; 4] {
    let mut strides = [0; 4];
    let mut step = 1;
    for d in (0..4).rev() {
        strides[d] = if s[d] == 1 { 0 } else { step };
        step *= s[d];
    }
    strides
}

/// The output shape of a broadcast between `a` and `b`, or the first dimension that does not
/// broadcast.
pub fn broadcast_shape(a: Shape, b: Shape) -> Result<Shape> {
    let (da, db) = (dims(a), dims(b));
    let mut out = [0; 4];
    for d in 0..4 {
        out[d] = if da[d] == db[d] || db[d] == 1 {
            da[d]
        } else if da[d] == 1 {
            db[d]
        } else {
            return Err(Error::DimMismatch {
                what: match d {
                    0 => "broadcast batch",
                    1 => "broadcast height",
                    2 => "broadcast width",
                    _ => "broadcast channels",
                },
                expected: da[d],
                got: db[d],
            });
        };
    }
    Ok(Shape::new(out[0], out[1], out[2], out[3]))
}

impl Broadcast {
    /// Plans the broadcast of `a` against `b` (see the module documentation for the rules).
    pub fn new(a: Shape, b: Shape) -> Result<Self> {
        let out = broadcast_shape(a, b)?;
        let (da, db, dout) = (dims(a), dims(b), dims(out));
        // Grow the row from the innermost dimension outwards while each operand stays of one
        // kind (all spanned or all repeated): those dimensions are contiguous in memory.
        let (mut ka, mut kb) = (Kind::Any, Kind::Any);
        let mut first_row_dim = 4;
        while first_row_dim > 0 {
            let d = first_row_dim - 1;
            let (na, nb) = (kind(da[d], dout[d]), kind(db[d], dout[d]));
            let fits = |k: Kind, n: Kind| n == Kind::Any || k == Kind::Any || k == n;
            if !(fits(ka, na) && fits(kb, nb)) {
                break;
            }
            if na != Kind::Any {
                ka = na;
            }
            if nb != Kind::Any {
                kb = nb;
            }
            first_row_dim = d;
        }
        let row_len = dout[first_row_dim..].iter().product();
        let (sa, sb, so) = (
            broadcast_strides(da),
            broadcast_strides(db),
            broadcast_strides(dout),
        );
        let mut plan = Broadcast {
            a,
            b,
            out,
            outer: [1; 3],
            a_steps: [0; 3],
            b_steps: [0; 3],
            out_steps: [0; 3],
            row_len,
            a_scalar: ka == Kind::Repeat,
            b_scalar: kb == Kind::Repeat,
        };
        // Right-align the outer dimensions in the three loop slots.
        for d in 0..first_row_dim {
            let slot = 3 - first_row_dim + d;
            plan.outer[slot] = dout[d];
            plan.a_steps[slot] = sa[d];
            plan.b_steps[slot] = sb[d];
            plan.out_steps[slot] = so[d];
        }
        Ok(plan)
    }

    /// Shape of the first operand.
    pub fn a(&self) -> Shape {
        self.a
    }

    /// Shape of the second operand.
    pub fn b(&self) -> Shape {
        self.b
    }

    /// Shape of the output.
    pub fn output(&self) -> Shape {
        self.out
    }

    /// Length of every output row handed to [`Broadcast::for_each_row`].
    pub fn row_len(&self) -> usize {
        self.row_len
    }

    /// `true` when the first operand already has the output shape, as the in-place variants
    /// require.
    pub fn a_is_full(&self) -> bool {
        self.a == self.out
    }

    /// Checks the three buffer lengths against the planned shapes.
    pub fn check_lens(&self, a_len: usize, b_len: usize, out_len: usize) -> Result<()> {
        check_len("first operand", self.a.len(), a_len)?;
        check_len("second operand", self.b.len(), b_len)?;
        check_len("output", self.out.len(), out_len)
    }

    /// Calls `f(a_offset, b_offset, out_offset)` for every output row, in memory order. A
    /// repeated operand's offset points at its single element for that row.
    pub fn for_each_row(&self, mut f: impl FnMut(usize, usize, usize)) {
        if self.row_len == 0 {
            return;
        }
        let (mut a0, mut b0, mut o0) = (0, 0, 0);
        for _ in 0..self.outer[0] {
            let (mut a1, mut b1, mut o1) = (a0, b0, o0);
            for _ in 0..self.outer[1] {
                let (mut a2, mut b2, mut o2) = (a1, b1, o1);
                for _ in 0..self.outer[2] {
                    f(a2, b2, o2);
                    a2 += self.a_steps[2];
                    b2 += self.b_steps[2];
                    o2 += self.out_steps[2];
                }
                a1 += self.a_steps[1];
                b1 += self.b_steps[1];
                o1 += self.out_steps[1];
            }
            a0 += self.a_steps[0];
            b0 += self.b_steps[0];
            o0 += self.out_steps[0];
        }
    }

    /// Runs a binary op over every output row, handing the row kernel each operand as a full
    /// row or a repeated element. Buffer lengths must have passed [`Broadcast::check_lens`].
    pub fn run<T: Copy>(
        &self,
        a: &[T],
        b: &[T],
        out: &mut [T],
        mut row: impl FnMut(Operand<'_, T>, Operand<'_, T>, &mut [T]),
    ) {
        let n = self.row_len;
        self.for_each_row(|ao, bo, oo| {
            let pa = if self.a_scalar {
                Operand::Scalar(a[ao])
            } else {
                Operand::Row(&a[ao..ao + n])
            };
            let pb = if self.b_scalar {
                Operand::Scalar(b[bo])
            } else {
                Operand::Row(&b[bo..bo + n])
            };
            row(pa, pb, &mut out[oo..oo + n]);
        });
    }

    /// Runs an in-place binary op: `row(a_and_out_row, b)` for every output row. The first
    /// operand must have the output shape ([`Broadcast::a_is_full`]) and the lengths must have
    /// passed [`Broadcast::check_lens`] with `out_len == a_len`.
    pub fn run_inplace<T: Copy>(
        &self,
        a_and_out: &mut [T],
        b: &[T],
        mut row: impl FnMut(&mut [T], Operand<'_, T>),
    ) {
        let n = self.row_len;
        self.for_each_row(|_, bo, oo| {
            let pb = if self.b_scalar {
                Operand::Scalar(b[bo])
            } else {
                Operand::Row(&b[bo..bo + n])
            };
            row(&mut a_and_out[oo..oo + n], pb);
        });
    }
}

/// Plans the broadcast of `a_shape` against `b_shape`, checks the buffer lengths and calls
/// `row(a, b, out)` for every contiguous output row: the whole out-of-place binary op but for
/// its row kernel.
pub fn binary_rows<T: Copy>(
    a_shape: Shape,
    a: &[T],
    b_shape: Shape,
    b: &[T],
    output: &mut [T],
    row: impl FnMut(Operand<'_, T>, Operand<'_, T>, &mut [T]),
) -> Result<()> {
    let plan = Broadcast::new(a_shape, b_shape)?;
    plan.check_lens(a.len(), b.len(), output.len())?;
    plan.run(a, b, output, row);
    Ok(())
}

/// The in-place counterpart of [`binary_rows`]: `row(a_and_out, b)` for every row of the first
/// operand, which must have the output shape.
pub fn binary_rows_inplace<T: Copy>(
    a_shape: Shape,
    a_and_out: &mut [T],
    b_shape: Shape,
    b: &[T],
    row: impl FnMut(&mut [T], Operand<'_, T>),
) -> Result<()> {
    let plan = Broadcast::new(a_shape, b_shape)?;
    if !plan.a_is_full() {
        return Err(Error::DimMismatch {
            what: "in-place operand elements (it must have the output shape)",
            expected: plan.output().len(),
            got: a_shape.len(),
        });
    }
    plan.check_lens(a_and_out.len(), b.len(), a_and_out.len())?;
    plan.run_inplace(a_and_out, b, row);
    Ok(())
}

/// Applies `f` elementwise to one output row (`a` and `b` each a full row or a repeated
/// element). This is the portable row loop shared by every dtype.
#[inline]
pub fn apply_row<T: Copy, U: Copy>(
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    out: &mut [U],
    f: impl Fn(T, T) -> U,
) {
    match (a, b) {
        (Operand::Row(a), Operand::Row(b)) => {
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                *o = f(x, y);
            }
        }
        (Operand::Row(a), Operand::Scalar(y)) => {
            for (o, &x) in out.iter_mut().zip(a) {
                *o = f(x, y);
            }
        }
        (Operand::Scalar(x), Operand::Row(b)) => {
            for (o, &y) in out.iter_mut().zip(b) {
                *o = f(x, y);
            }
        }
        (Operand::Scalar(x), Operand::Scalar(y)) => {
            // Both operands repeat along the row, so every output element is the same value.
            out.fill(f(x, y));
        }
    }
}

/// Applies `f` elementwise in place: `a_and_out[i] = f(a_and_out[i], b[i])`.
#[inline]
pub fn apply_row_inplace<T: Copy>(a_and_out: &mut [T], b: Operand<'_, T>, f: impl Fn(T, T) -> T) {
    match b {
        Operand::Row(b) => {
            for (x, &y) in a_and_out.iter_mut().zip(b) {
                *x = f(*x, y);
            }
        }
        Operand::Scalar(y) => {
            for x in a_and_out.iter_mut() {
                *x = f(*x, y);
            }
        }
    }
}

/// Parameters of a floating-point binary elementwise op (`f32` here, also used by `f16`):
/// the fused activation's clamp range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BinaryParams {
    /// Lower clamp of the fused activation.
    pub act_min: f32,
    /// Upper clamp of the fused activation.
    pub act_max: f32,
}

impl BinaryParams {
    /// The clamp range of fused activation `act` (TFLite `CalculateActivationRange<float>`).
    pub fn new(act: FusedActivation) -> Self {
        let (act_min, act_max) = activation_range_f32(act);
        BinaryParams { act_min, act_max }
    }

    /// Checks that the clamp range is ordered and not NaN.
    pub fn check(&self) -> Result<()> {
        if self.act_min.is_nan() || self.act_max.is_nan() || self.act_min > self.act_max {
            return Err(Error::BadParam {
                what: "activation range (min > max or NaN)",
                value: 0,
            });
        }
        Ok(())
    }

    /// Applies the clamp (TFLite `ActivationFunctionWithMinMax`).
    #[inline(always)]
    pub fn clamp(&self, x: f32) -> f32 {
        x.max(self.act_min).min(self.act_max)
    }
}

/// Checks and runs an out-of-place binary op whose per-element function is `f`; shared by
/// the `f32` and `f16` kernels.
pub(crate) fn binary_with<T: Copy>(
    p: &BinaryParams,
    a_shape: Shape,
    a: &[T],
    b_shape: Shape,
    b: &[T],
    output: &mut [T],
    f: impl Fn(T, T) -> T + Copy,
) -> Result<()> {
    p.check()?;
    binary_rows(a_shape, a, b_shape, b, output, |x, y, o| {
        apply_row(x, y, o, f)
    })
}

/// Checks and runs an in-place binary op whose per-element function is `f`.
pub(crate) fn binary_inplace_with<T: Copy>(
    p: &BinaryParams,
    a_shape: Shape,
    a_and_out: &mut [T],
    b_shape: Shape,
    b: &[T],
    f: impl Fn(T, T) -> T + Copy,
) -> Result<()> {
    p.check()?;
    binary_rows_inplace(a_shape, a_and_out, b_shape, b, |x, y| {
        apply_row_inplace(x, y, f)
    })
}

/// `output = clamp(a + b)` with broadcasting, `f32`, NHWC (TFLite ADD, float path).
///
/// `output` has the broadcast shape ([`broadcast_shape`]).
pub fn add_f32(
    p: &BinaryParams,
    a_shape: Shape,
    a: &[f32],
    b_shape: Shape,
    b: &[f32],
    output: &mut [f32],
) -> Result<()> {
    binary_with(p, a_shape, a, b_shape, b, output, |x, y| p.clamp(x + y))
}

/// In-place [`add_f32`]: `a_and_out = clamp(a_and_out + b)`; the first operand must have the
/// output shape.
pub fn add_f32_inplace(
    p: &BinaryParams,
    a_shape: Shape,
    a_and_out: &mut [f32],
    b_shape: Shape,
    b: &[f32],
) -> Result<()> {
    binary_inplace_with(p, a_shape, a_and_out, b_shape, b, |x, y| p.clamp(x + y))
}

/// `output = clamp(a * b)` with broadcasting, `f32`, NHWC (TFLite MUL, float path).
pub fn mul_f32(
    p: &BinaryParams,
    a_shape: Shape,
    a: &[f32],
    b_shape: Shape,
    b: &[f32],
    output: &mut [f32],
) -> Result<()> {
    binary_with(p, a_shape, a, b_shape, b, output, |x, y| p.clamp(x * y))
}

/// In-place [`mul_f32`]: `a_and_out = clamp(a_and_out * b)`; the first operand must have the
/// output shape.
pub fn mul_f32_inplace(
    p: &BinaryParams,
    a_shape: Shape,
    a_and_out: &mut [f32],
    b_shape: Shape,
    b: &[f32],
) -> Result<()> {
    binary_inplace_with(p, a_shape, a_and_out, b_shape, b, |x, y| p.clamp(x * y))
}

/// `output = clamp(a - b)` with broadcasting, `f32`, NHWC (TFLite SUB, float path:
/// `reference_ops::SubWithActivation`).
pub fn sub_f32(
    p: &BinaryParams,
    a_shape: Shape,
    a: &[f32],
    b_shape: Shape,
    b: &[f32],
    output: &mut [f32],
) -> Result<()> {
    binary_with(p, a_shape, a, b_shape, b, output, |x, y| p.clamp(x - y))
}

/// In-place [`sub_f32`]: `a_and_out = clamp(a_and_out - b)`; the first operand (the minuend)
/// must have the output shape.
pub fn sub_f32_inplace(
    p: &BinaryParams,
    a_shape: Shape,
    a_and_out: &mut [f32],
    b_shape: Shape,
    b: &[f32],
) -> Result<()> {
    binary_inplace_with(p, a_shape, a_and_out, b_shape, b, |x, y| p.clamp(x - y))
}
