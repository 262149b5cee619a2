//! Test battery of the data-movement kernels (`bfmd_kernels::movement`).
//!
//! Every kernel is checked three ways: against small hand-written expected tensors, against a
//! naive coordinate-by-coordinate oracle written here (odd sizes, batch 2, every axis, every
//! permutation of four dimensions, groups 1, 2, 3, 4, 8), and on its error cases. The fused
//! channel-shuffle forms are checked against the literal reshape -> transpose -> reshape
//! composed from `transpose`, concatenation and split.

mod common;

use bfmd_kernels::half::f16;
use bfmd_kernels::movement::*;
use bfmd_kernels::{Error, Shape};
use common::Rng;
use proptest::prelude::*;

/// The four dimensions of a shape.
fn dims(s: Shape) -> [usize; 4] {
    [s.n, s.h, s.w, s.c]
}

/// Row-major linear index of coordinate `x` in dimensions `d`.
fn lin(d: [usize; 4], x: [usize; 4]) -> usize {
    ((x[0] * d[1] + x[1]) * d[2] + x[2]) * d[3] + x[3]
}

/// Every coordinate of dimensions `d`, in row-major order.
fn coords(d: [usize; 4]) -> Vec<[usize; 4]> {
    let mut v = Vec::new();
    for a in 0..d[0] {
        for b in 0..d[1] {
            for c in 0..d[2] {
                for e in 0..d[3] {
                    v.push([a, b, c, e]);
                }
            }
        }
    }
    v
}

/// Distinct values so that any misplaced element shows (wraps past 2^16, fine for the sizes
/// used here).
fn iota(n: usize, start: u32) -> Vec<u32> {
    (0..n as u32).map(|i| start + i).collect()
}

/// All 24 permutations of `0..4`.
fn all_perms() -> Vec<[usize; 4]> {
    let mut v = Vec::new();
    for a in 0..4 {
        for b in 0..4 {
            for c in 0..4 {
                for d in 0..4 {
                    let p = [a, b, c, d];
                    let mut seen = [false; 4];
                    p.iter().for_each(|&i| seen[i] = true);
                    if seen.iter().all(|&s| s) {
                        v.push(p);
                    }
                }
            }
        }
    }
    v
}

const AXES: [Axis; 4] = [Axis::N, Axis::H, Axis::W, Axis::C];

// ---------------------------------------------------------------------------------------------
// Axis helpers

#[test]
fn axis_mapping_from_tflite() {
    assert_eq!(Axis::from_tflite(3, 4), Ok(Axis::C));
    assert_eq!(Axis::from_tflite(-1, 4), Ok(Axis::C));
    assert_eq!(Axis::from_tflite(-4, 4), Ok(Axis::N));
    // A rank-2 [rows, cols] tensor is [1, 1, rows, cols].
    assert_eq!(Axis::from_tflite(0, 2), Ok(Axis::W));
    assert_eq!(Axis::from_tflite(-1, 2), Ok(Axis::C));
    assert_eq!(Axis::from_tflite(0, 1), Ok(Axis::C));
    assert!(matches!(
        Axis::from_tflite(4, 4),
        Err(Error::BadParam { what: "axis", .. })
    ));
    assert!(Axis::from_tflite(-3, 2).is_err());
    assert!(Axis::from_tflite(0, 5).is_err());
    assert!(Axis::from_tflite(0, 0).is_err());
    assert!(Axis::from_index(4).is_err());
    for (i, a) in AXES.iter().enumerate() {
        assert_eq!(Axis::from_index(i), Ok(*a));
        assert_eq!(a.index(), i);
    }
}

// ---------------------------------------------------------------------------------------------
// Transpose

#[test]
fn transpose_small_matrix_by_hand() {
    // [[1, 2, 3], [4, 5, 6]] seen as [1, 1, 2, 3] -> [1, 1, 3, 2].
    let x = [1i8, 2, 3, 4, 5, 6];
    let mut y = [0i8; 6];
    let s = transpose_s8(&x, Shape::new(1, 1, 2, 3), [0, 1, 3, 2], &mut y).unwrap();
    assert_eq!(s, Shape::new(1, 1, 3, 2));
    assert_eq!(y, [1, 4, 2, 5, 3, 6]);
    // NHWC -> NCHW of a 1x2x2x2 tensor.
    let x = [10.0f32, 11.0, 20.0, 21.0, 30.0, 31.0, 40.0, 41.0];
    let mut y = [0.0f32; 8];
    let s = transpose_f32(&x, Shape::new(1, 2, 2, 2), [0, 3, 1, 2], &mut y).unwrap();
    assert_eq!(s, Shape::new(1, 2, 2, 2));
    assert_eq!(y, [10.0, 20.0, 30.0, 40.0, 11.0, 21.0, 31.0, 41.0]);
}

#[test]
fn transpose_every_permutation_matches_coordinate_oracle() {
    for shape in [
        Shape::new(2, 3, 5, 7),
        Shape::new(1, 1, 1, 9),
        Shape::new(2, 1, 4, 1),
        Shape::new(3, 2, 1, 5),
    ] {
        let d = dims(shape);
        let x = iota(shape.len(), 1000);
        for perm in all_perms() {
            let mut y = vec![0u32; x.len()];
            let out = transpose(&x, shape, perm, &mut y).unwrap();
            let od = [d[perm[0]], d[perm[1]], d[perm[2]], d[perm[3]]];
            assert_eq!(dims(out), od, "{perm:?}");
            for c in coords(d) {
                let oc = [c[perm[0]], c[perm[1]], c[perm[2]], c[perm[3]]];
                assert_eq!(
                    y[lin(od, oc)],
                    x[lin(d, c)],
                    "shape {shape:?} perm {perm:?} at {c:?}"
                );
            }
            // The inverse permutation restores the input.
            let mut inv = [0; 4];
            for (i, &p) in perm.iter().enumerate() {
                inv[p] = i;
            }
            let mut back = vec![0u32; x.len()];
            assert_eq!(transpose(&y, out, inv, &mut back).unwrap(), shape);
            assert_eq!(back, x, "inverse of {perm:?}");
        }
    }
}

#[test]
fn transpose_dtype_wrappers_agree_with_generic() {
    let shape = Shape::new(2, 3, 4, 5);
    let mut rng = Rng::new(7);
    let x = rng.vec_i8(shape.len());
    let perm = [3, 0, 2, 1];
    let mut a = vec![0i8; x.len()];
    let mut b = vec![0i8; x.len()];
    transpose_s8(&x, shape, perm, &mut a).unwrap();
    transpose(&x, shape, perm, &mut b).unwrap();
    assert_eq!(a, b);
    let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let mut yf = vec![0.0f32; x.len()];
    transpose_f32(&xf, shape, perm, &mut yf).unwrap();
    assert_eq!(yf, a.iter().map(|&v| v as f32).collect::<Vec<_>>());
    let xh: Vec<f16> = xf.iter().map(|&v| f16::from_f32(v)).collect();
    let mut yh = vec![f16::ZERO; x.len()];
    transpose_f16(&xh, shape, perm, &mut yh).unwrap();
    assert_eq!(yh.iter().map(|v| v.to_f32()).collect::<Vec<_>>(), yf);
}

#[test]
fn transpose_perm_from_tflite() {
    assert_eq!(perm_from_tflite(&[0, 3, 1, 2]), Ok([0, 3, 1, 2]));
    // Rank 2 [1, 0] acts on the last two of four dimensions.
    assert_eq!(perm_from_tflite(&[1, 0]), Ok([0, 1, 3, 2]));
    // Rank 3 [2, 0, 1].
    assert_eq!(perm_from_tflite(&[2, 0, 1]), Ok([0, 3, 1, 2]));
    assert_eq!(perm_from_tflite(&[0]), Ok([0, 1, 2, 3]));
    assert!(perm_from_tflite(&[]).is_err());
    assert!(perm_from_tflite(&[0, 1, 2, 3, 4]).is_err());
    assert!(perm_from_tflite(&[0, 2]).is_err());
    assert!(perm_from_tflite(&[-1, 0]).is_err());
    assert!(perm_from_tflite(&[1, 1]).is_err());
}

#[test]
fn transpose_errors() {
    let s = Shape::new(1, 2, 3, 4);
    let x = vec![0i8; 24];
    let mut y = vec![0i8; 24];
    assert!(matches!(
        transpose_s8(&x, s, [0, 1, 1, 3], &mut y),
        Err(Error::BadParam { .. })
    ));
    assert!(matches!(
        transpose_s8(&x, s, [0, 1, 2, 4], &mut y),
        Err(Error::BadParam { value: 4, .. })
    ));
    assert_eq!(
        transpose_s8(&x[..23], s, [0, 1, 3, 2], &mut y),
        Err(Error::BufferLength {
            what: "input",
            expected: 24,
            got: 23
        })
    );
    assert_eq!(
        transpose_s8(&x, s, [0, 1, 3, 2], &mut y[..20]),
        Err(Error::BufferLength {
            what: "output",
            expected: 24,
            got: 20
        })
    );
    // An empty tensor with huge other dimensions is fine (nothing to move).
    let e = Shape::new(0, usize::MAX, usize::MAX, 3);
    let mut none: [i8; 0] = [];
    assert!(transpose_s8(&[], e, [3, 2, 1, 0], &mut none).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Concatenation and split

/// Coordinate oracle of a concatenation along `axis`.
fn concat_oracle(axis: Axis, inputs: &[(Vec<u32>, Shape)]) -> (Vec<u32>, Shape) {
    let a = axis.index();
    let mut od = dims(inputs[0].1);
    od[a] = inputs.iter().map(|(_, s)| dims(*s)[a]).sum();
    let mut out = vec![u32::MAX; od.iter().product()];
    let mut off = 0;
    for (data, s) in inputs {
        let d = dims(*s);
        for c in coords(d) {
            let mut oc = c;
            oc[a] += off;
            out[lin(od, oc)] = data[lin(d, c)];
        }
        off += d[a];
    }
    (out, Shape::new(od[0], od[1], od[2], od[3]))
}

#[test]
fn concat_channels_by_hand() {
    // Two pixels; inputs with 1 and 2 channels.
    let a = [1i8, 2];
    let b = [10i8, 11, 20, 21];
    let mut y = [0i8; 6];
    let s = concat_s8(
        Axis::C,
        &[(&a, Shape::new(1, 1, 2, 1)), (&b, Shape::new(1, 1, 2, 2))],
        &mut y,
    )
    .unwrap();
    assert_eq!(s, Shape::new(1, 1, 2, 3));
    assert_eq!(y, [1, 10, 11, 2, 20, 21]);
}

#[test]
fn concat_every_axis_matches_coordinate_oracle() {
    let mut rng = Rng::new(11);
    let base = [2usize, 3, 5, 3];
    for axis in AXES {
        for n_inputs in 1..=4 {
            let mut inputs = Vec::new();
            let mut start = 0;
            for _ in 0..n_inputs {
                let mut d = base;
                d[axis.index()] = rng.range_usize(1, 5);
                let s = Shape::new(d[0], d[1], d[2], d[3]);
                inputs.push((iota(s.len(), start), s));
                start += 10_000;
            }
            let (want, want_shape) = concat_oracle(axis, &inputs);
            let refs: Vec<(&[u32], Shape)> =
                inputs.iter().map(|(v, s)| (v.as_slice(), *s)).collect();
            let mut got = vec![0u32; want.len()];
            let shape = concat(axis, &refs, &mut got).unwrap();
            assert_eq!(shape, want_shape, "{axis:?}");
            assert_eq!(got, want, "{axis:?} with {n_inputs} inputs");

            // Split with the inputs' sizes undoes it.
            let sizes: Vec<usize> = inputs.iter().map(|(_, s)| dims(*s)[axis.index()]).collect();
            let mut outs: Vec<Vec<u32>> = inputs.iter().map(|(v, _)| vec![0; v.len()]).collect();
            let mut out_refs: Vec<&mut [u32]> = outs.iter_mut().map(|v| v.as_mut_slice()).collect();
            split_sizes(axis, &got, shape, &sizes, &mut out_refs).unwrap();
            for (o, (i, _)) in outs.iter().zip(&inputs) {
                assert_eq!(o, i, "split {axis:?}");
            }
        }
    }
}

#[test]
fn concat_dtype_wrappers() {
    let a = [f16::from_f32(1.5), f16::from_f32(-2.0)];
    let b = [f16::from_f32(3.25)];
    let mut y = [f16::ZERO; 3];
    concat_f16(
        Axis::W,
        &[(&a, Shape::new(1, 1, 2, 1)), (&b, Shape::new(1, 1, 1, 1))],
        &mut y,
    )
    .unwrap();
    assert_eq!(y.map(|v| v.to_f32()), [1.5, -2.0, 3.25]);
    let a = [1.0f32, 2.0];
    let b = [3.0f32, 4.0];
    let mut y = [0.0f32; 4];
    // Batch concatenation of two single-pixel, two-channel tensors is a plain append.
    let s = concat_f32(
        Axis::N,
        &[(&a, Shape::new(1, 1, 1, 2)), (&b, Shape::new(1, 1, 1, 2))],
        &mut y,
    )
    .unwrap();
    assert_eq!(s, Shape::new(2, 1, 1, 2));
    assert_eq!(y, [1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn concat_errors() {
    let a = [0i8; 6];
    let b = [0i8; 4];
    let mut y = [0i8; 10];
    assert_eq!(
        concat_s8(Axis::C, &[], &mut y),
        Err(Error::BadParam {
            what: "concatenation input count",
            value: 0
        })
    );
    // Width differs off the concatenation axis.
    assert_eq!(
        concat_s8(
            Axis::C,
            &[(&a, Shape::new(1, 1, 3, 2)), (&b, Shape::new(1, 1, 2, 2))],
            &mut y
        ),
        Err(Error::DimMismatch {
            what: "concatenation input dimension off the axis",
            expected: 3,
            got: 2
        })
    );
    assert_eq!(
        concat_s8(Axis::C, &[(&a, Shape::new(1, 1, 3, 3))], &mut y),
        Err(Error::BufferLength {
            what: "concatenation input",
            expected: 9,
            got: 6
        })
    );
    assert_eq!(
        concat_s8(
            Axis::W,
            &[(&a, Shape::new(1, 1, 3, 2)), (&b, Shape::new(1, 1, 2, 2))],
            &mut y[..9]
        ),
        Err(Error::BufferLength {
            what: "output",
            expected: 10,
            got: 9
        })
    );
}

#[test]
fn split_equal_parts() {
    // 2 pixels x 6 channels into 3 parts of 2 channels.
    let x: Vec<i8> = (0..12).collect();
    let (mut p0, mut p1, mut p2) = ([0i8; 4], [0i8; 4], [0i8; 4]);
    split_s8(
        Axis::C,
        &x,
        Shape::new(1, 1, 2, 6),
        &mut [&mut p0, &mut p1, &mut p2],
    )
    .unwrap();
    assert_eq!(p0, [0, 1, 6, 7]);
    assert_eq!(p1, [2, 3, 8, 9]);
    assert_eq!(p2, [4, 5, 10, 11]);

    // Equal split along every axis agrees with split_sizes and round-trips through concat.
    for axis in AXES {
        let mut d = [2usize, 3, 5, 3];
        d[axis.index()] = 6;
        let s = Shape::new(d[0], d[1], d[2], d[3]);
        let x = iota(s.len(), 5);
        for parts in [1usize, 2, 3, 6] {
            let part_len = s.len() / parts;
            let mut a = vec![vec![0u32; part_len]; parts];
            let mut b = vec![vec![0u32; part_len]; parts];
            let mut ar: Vec<&mut [u32]> = a.iter_mut().map(|v| v.as_mut_slice()).collect();
            split(axis, &x, s, &mut ar).unwrap();
            let mut br: Vec<&mut [u32]> = b.iter_mut().map(|v| v.as_mut_slice()).collect();
            split_sizes(axis, &x, s, &vec![6 / parts; parts], &mut br).unwrap();
            assert_eq!(a, b);
            let mut pd = d;
            pd[axis.index()] = 6 / parts;
            let ps = Shape::new(pd[0], pd[1], pd[2], pd[3]);
            let refs: Vec<(&[u32], Shape)> = a.iter().map(|v| (v.as_slice(), ps)).collect();
            let mut back = vec![0u32; x.len()];
            concat(axis, &refs, &mut back).unwrap();
            assert_eq!(back, x, "{axis:?} {parts}");
        }
    }
}

#[test]
fn split_dtype_wrappers_and_empty_part() {
    let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let (mut a, mut b) = ([0.0f32; 2], [0.0f32; 4]);
    let mut e: [f32; 0] = [];
    split_sizes_f32(
        Axis::C,
        &x,
        Shape::new(1, 1, 2, 3),
        &[1, 0, 2],
        &mut [&mut a, &mut e, &mut b],
    )
    .unwrap();
    assert_eq!(a, [1.0, 4.0]);
    assert_eq!(b, [2.0, 3.0, 5.0, 6.0]);
    let (mut a, mut b) = ([0.0f32; 3], [0.0f32; 3]);
    split_f32(Axis::W, &x, Shape::new(1, 1, 2, 3), &mut [&mut a, &mut b]).unwrap();
    assert_eq!((a, b), ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]));
    let xh = x.map(f16::from_f32);
    let (mut a, mut b) = ([f16::ZERO; 4], [f16::ZERO; 2]);
    split_sizes_f16(
        Axis::C,
        &xh,
        Shape::new(1, 1, 2, 3),
        &[2, 1],
        &mut [&mut a, &mut b],
    )
    .unwrap();
    assert_eq!(a.map(|v| v.to_f32()), [1.0, 2.0, 4.0, 5.0]);
    assert_eq!(b.map(|v| v.to_f32()), [3.0, 6.0]);
    let (mut a, mut b) = ([f16::ZERO; 3], [f16::ZERO; 3]);
    split_f16(Axis::W, &xh, Shape::new(1, 1, 2, 3), &mut [&mut a, &mut b]).unwrap();
    assert_eq!(b.map(|v| v.to_f32()), [4.0, 5.0, 6.0]);
    let xs = [1i8, 2, 3, 4, 5, 6];
    let (mut a, mut b) = ([0i8; 2], [0i8; 4]);
    split_sizes_s8(
        Axis::C,
        &xs,
        Shape::new(1, 1, 2, 3),
        &[1, 2],
        &mut [&mut a, &mut b],
    )
    .unwrap();
    assert_eq!((a, b), ([1, 4], [2, 3, 5, 6]));
}

#[test]
fn split_errors() {
    let x = [0i8; 12];
    let s = Shape::new(1, 1, 2, 6);
    let (mut a, mut b) = ([0i8; 6], [0i8; 6]);
    let mut c4 = [0i8; 8];
    // 6 channels do not split in 4.
    let mut four = [[0i8; 3]; 4];
    let mut refs: Vec<&mut [i8]> = four.iter_mut().map(|v| v.as_mut_slice()).collect();
    assert!(matches!(
        split_s8(Axis::C, &x, s, &mut refs),
        Err(Error::BadParam { value: 4, .. })
    ));
    assert!(matches!(
        split_s8(Axis::C, &x, s, &mut []),
        Err(Error::BadParam { value: 0, .. })
    ));
    assert!(split_sizes_s8(Axis::C, &x, s, &[], &mut []).is_err());
    // Sizes adding up to 7, not 6 (the output lengths match the sizes).
    let mut c6 = [0i8; 6];
    assert_eq!(
        split_sizes_s8(Axis::C, &x, s, &[4, 3], &mut [&mut c4, &mut c6]),
        Err(Error::DimMismatch {
            what: "sum of split sizes",
            expected: 6,
            got: 7
        })
    );
    assert_eq!(
        split_sizes_s8(Axis::C, &x, s, &[3], &mut [&mut a, &mut b]),
        Err(Error::BufferLength {
            what: "split sizes",
            expected: 2,
            got: 1
        })
    );
    assert_eq!(
        split_sizes_s8(Axis::C, &x, s, &[4, 2], &mut [&mut a, &mut b]),
        Err(Error::BufferLength {
            what: "split output",
            expected: 8,
            got: 6
        })
    );
    assert_eq!(
        split_s8(Axis::C, &x[..11], s, &mut [&mut a, &mut b]),
        Err(Error::BufferLength {
            what: "input",
            expected: 12,
            got: 11
        })
    );
}

// ---------------------------------------------------------------------------------------------
// int8 concatenation with requantization

#[test]
fn concat_requant_by_hand() {
    // Output: scale 0.25, zero point -5.
    // Input a: scale 0.5, zero point 3 -> q_out = (q - 3) * 2 - 5 (exact, powers of two).
    // Input b: the output's quantization -> copied.
    let ra = ConcatRequantS8::from_scales(0.5, 3, 0.25, -5).unwrap();
    let rb = ConcatRequantS8::from_scales(0.25, -5, 0.25, -5).unwrap();
    assert!(!ra.copy && rb.copy);
    let a = [10i8, 3, -60, 100];
    let b = [7i8, -128, 127, 0];
    let mut y = [0i8; 8];
    let s = concat_s8_requant(
        Axis::C,
        &[(&a, Shape::new(1, 1, 2, 2)), (&b, Shape::new(1, 1, 2, 2))],
        &[ra, rb],
        &mut y,
    )
    .unwrap();
    assert_eq!(s, Shape::new(1, 1, 2, 4));
    // Pixel 0: a = (10, 3) -> (9, -5); b = (7, -128). Pixel 1: a = (-60, 100) -> (-131 -> -128,
    // 189 -> 127, both clamped); b = (127, 0).
    assert_eq!(y, [9, -5, 7, -128, -128, 127, 127, 0]);
}

#[test]
fn concat_requant_rounds_half_away_from_zero() {
    // Scale ratio 0.5, no zero points: q = +-3 lands on +-1.5 exactly.
    let r = ConcatRequantS8::from_scales(0.5, 0, 1.0, 0).unwrap();
    assert_eq!(r.apply(3), 2);
    assert_eq!(r.apply(-3), -2);
    assert_eq!(r.apply(1), 1);
    assert_eq!(r.apply(-1), -1);
    assert_eq!(r.apply(4), 2);
    // Same ratio with an output zero point of 10 and input zero point 1: (5 - 1) * 0.5 + 10.
    let r = ConcatRequantS8::from_scales(0.5, 1, 1.0, 10).unwrap();
    assert_eq!(r.apply(5), 12);
    assert_eq!(r.apply(4), 12); // 1.5 -> 2
    assert_eq!(r.apply(-2), 8); // -1.5 -> -2
}

#[test]
fn concat_requant_tracks_real_values() {
    // Arbitrary scales: the result is the real value requantized, within the half-unit of the
    // output plus the f32 rounding of the rescale (well below 0.01 units here).
    let (si, zi, so, zo) = (0.0371f32, -17, 0.0529f32, 9);
    let r = ConcatRequantS8::from_scales(si, zi, so, zo).unwrap();
    for q in -128..=127i32 {
        let real = si as f64 * (q - zi) as f64;
        let exact = real / so as f64 + zo as f64;
        let got = r.apply(q as i8) as f64;
        let want = exact.clamp(-128.0, 127.0);
        assert!((got - want).abs() <= 0.51, "{q}: {got} vs {exact}");
    }
}

#[test]
fn concat_requant_errors() {
    assert!(ConcatRequantS8::from_scales(0.5, 0, 0.0, 0).is_err());
    assert!(ConcatRequantS8::from_scales(0.5, 0, f32::NAN, 0).is_err());
    assert!(ConcatRequantS8::from_scales(0.5, 0, -1.0, 0).is_err());
    let r = ConcatRequantS8::from_scales(0.5, 0, 1.0, 0).unwrap();
    let a = [0i8; 2];
    let mut y = [0i8; 4];
    assert_eq!(
        concat_s8_requant(
            Axis::C,
            &[(&a, Shape::new(1, 1, 1, 2)), (&a, Shape::new(1, 1, 1, 2))],
            &[r],
            &mut y
        ),
        Err(Error::BufferLength {
            what: "concatenation requantization parameters",
            expected: 2,
            got: 1
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Channel shuffle and its fusions

/// The literal reshape -> transpose -> reshape: `[n, h, w, g * k]` seen as `[n * h * w, g, k,
/// 1]`, transposed to `[n * h * w, k, g, 1]`.
fn shuffle_by_transpose<T: Copy + Default>(groups: usize, x: &[T], s: Shape) -> Vec<T> {
    let k = s.c / groups;
    let mut y = vec![T::default(); x.len()];
    transpose(
        x,
        Shape::new(s.pixels(), groups, k, 1),
        [0, 2, 1, 3],
        &mut y,
    )
    .unwrap();
    y
}

#[test]
fn channel_shuffle_by_hand() {
    // g = 2, k = 3: [a0 a1 a2 b0 b1 b2] -> [a0 b0 a1 b1 a2 b2].
    let x = [0i8, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15];
    let mut y = [0i8; 12];
    channel_shuffle_s8(2, &x, Shape::new(1, 1, 2, 6), &mut y).unwrap();
    assert_eq!(y, [0, 3, 1, 4, 2, 5, 10, 13, 11, 14, 12, 15]);
    // g = 3, k = 2: [a0 a1 b0 b1 c0 c1] -> [a0 b0 c0 a1 b1 c1].
    let x = [0i8, 1, 2, 3, 4, 5];
    let mut y = [0i8; 6];
    channel_shuffle_s8(3, &x, Shape::new(1, 1, 1, 6), &mut y).unwrap();
    assert_eq!(y, [0, 2, 4, 1, 3, 5]);
}

#[test]
fn channel_shuffle_matches_reshape_transpose_reshape() {
    for groups in [1usize, 2, 3, 4, 8] {
        for k in [1usize, 2, 3, 5] {
            for (n, h, w) in [(1, 1, 1), (2, 3, 5), (1, 7, 3)] {
                let s = Shape::new(n, h, w, groups * k);
                let x = iota(s.len(), 1);
                let want = shuffle_by_transpose(groups, &x, s);
                let mut got = vec![0u32; x.len()];
                channel_shuffle(groups, &x, s, &mut got).unwrap();
                assert_eq!(got, want, "g {groups} k {k} {s:?}");
                // The out[j * g + i] = in[i * k + j] rule, directly.
                for px in 0..s.pixels() {
                    for i in 0..groups {
                        for j in 0..k {
                            assert_eq!(got[px * s.c + j * groups + i], x[px * s.c + i * k + j]);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn channel_shuffle_dtype_wrappers() {
    let s = Shape::new(2, 3, 1, 12);
    let mut rng = Rng::new(3);
    let xs = rng.vec_i8(s.len());
    let want = shuffle_by_transpose(4, &xs, s);
    let mut ys = vec![0i8; xs.len()];
    channel_shuffle_s8(4, &xs, s, &mut ys).unwrap();
    assert_eq!(ys, want);
    let xf: Vec<f32> = xs.iter().map(|&v| v as f32 * 0.5).collect();
    let mut yf = vec![0.0f32; xf.len()];
    channel_shuffle_f32(4, &xf, s, &mut yf).unwrap();
    assert_eq!(yf, want.iter().map(|&v| v as f32 * 0.5).collect::<Vec<_>>());
    let xh: Vec<f16> = xf.iter().map(|&v| f16::from_f32(v)).collect();
    let mut yh = vec![f16::ZERO; xh.len()];
    channel_shuffle_f16(4, &xh, s, &mut yh).unwrap();
    assert_eq!(yh.iter().map(|v| v.to_f32()).collect::<Vec<_>>(), yf);
}

/// concat -> shuffle -> split, composed from the plain kernels (shuffle via transpose).
fn concat_shuffle_split_oracle(
    groups: usize,
    inputs: &[(Vec<u32>, Shape)],
    parts: usize,
) -> Vec<Vec<u32>> {
    let refs: Vec<(&[u32], Shape)> = inputs.iter().map(|(v, s)| (v.as_slice(), *s)).collect();
    let total: usize = inputs.iter().map(|(v, _)| v.len()).sum();
    let mut cat = vec![0u32; total];
    let s = concat(Axis::C, &refs, &mut cat).unwrap();
    let shuffled = shuffle_by_transpose(groups, &cat, s);
    let mut outs = vec![vec![0u32; total / parts]; parts];
    let mut out_refs: Vec<&mut [u32]> = outs.iter_mut().map(|v| v.as_mut_slice()).collect();
    split(Axis::C, &shuffled, s, &mut out_refs).unwrap();
    outs
}

#[test]
fn fused_shuffles_match_composition() {
    let mut rng = Rng::new(5);
    for groups in [1usize, 2, 3, 4, 8] {
        for trial in 0..6 {
            let k = rng.range_usize(1, 4);
            let c = groups * k;
            let (n, h, w) = (1 + trial % 2, rng.range_usize(1, 4), rng.range_usize(1, 3));
            // Cut the channels into 1..=3 inputs of uneven sizes (possibly not multiples of k).
            let n_inputs = rng.range_usize(1, 3.min(c));
            let mut cuts: Vec<usize> = (0..n_inputs - 1)
                .map(|_| rng.range_usize(1, c - 1))
                .collect();
            cuts.sort();
            cuts.dedup();
            let mut bounds = vec![0];
            bounds.extend(cuts);
            bounds.push(c);
            let mut inputs = Vec::new();
            for (t, win) in bounds.windows(2).enumerate() {
                let s = Shape::new(n, h, w, win[1] - win[0]);
                inputs.push((iota(s.len(), 100_000 * t as u32), s));
            }
            let refs: Vec<(&[u32], Shape)> =
                inputs.iter().map(|(v, s)| (v.as_slice(), *s)).collect();
            for parts in (1..=c).filter(|p| c % p == 0 && *p <= 4) {
                let want = concat_shuffle_split_oracle(groups, &inputs, parts);
                let mut got = vec![vec![0u32; n * h * w * c / parts]; parts];
                let mut got_refs: Vec<&mut [u32]> =
                    got.iter_mut().map(|v| v.as_mut_slice()).collect();
                concat_shuffle_split(groups, &refs, &mut got_refs).unwrap();
                assert_eq!(got, want, "g {groups} cuts {bounds:?} parts {parts}");
            }
            // concat + shuffle into one output.
            let want = concat_shuffle_split_oracle(groups, &inputs, 1);
            let mut got = vec![0u32; n * h * w * c];
            let s = concat_channel_shuffle(groups, &refs, &mut got).unwrap();
            assert_eq!(s, Shape::new(n, h, w, c));
            assert_eq!(got, want[0]);
            // shuffle + split of the concatenated tensor.
            let mut cat = vec![0u32; n * h * w * c];
            concat(Axis::C, &refs, &mut cat).unwrap();
            if c % 2 == 0 {
                let want = concat_shuffle_split_oracle(groups, &inputs, 2);
                let mut a = vec![0u32; cat.len() / 2];
                let mut b = vec![0u32; cat.len() / 2];
                channel_shuffle_split(groups, &cat, s, &mut [&mut a, &mut b]).unwrap();
                assert_eq!([a, b], [want[0].clone(), want[1].clone()]);
            }
        }
    }
}

#[test]
fn shufflenet_v2_unit_tail_by_hand() {
    // x1 = [a0 a1], branch = [b0 b1] (one pixel): concat -> shuffle(2) = [a0 b0 a1 b1];
    // split in halves -> [a0 b0], [a1 b1].
    let x1 = [1i8, 2];
    let br = [-1i8, -2];
    let s = Shape::new(1, 1, 1, 2);
    let mut y = [0i8; 4];
    concat_channel_shuffle_s8(2, &[(&x1, s), (&br, s)], &mut y).unwrap();
    assert_eq!(y, [1, -1, 2, -2]);
    let (mut lo, mut hi) = ([0i8; 2], [0i8; 2]);
    concat_shuffle_split_s8(2, &[(&x1, s), (&br, s)], &mut [&mut lo, &mut hi]).unwrap();
    assert_eq!((lo, hi), ([1, -1], [2, -2]));
    let x = [1i8, 2, -1, -2];
    let (mut lo, mut hi) = ([0i8; 2], [0i8; 2]);
    channel_shuffle_split_s8(2, &x, Shape::new(1, 1, 1, 4), &mut [&mut lo, &mut hi]).unwrap();
    assert_eq!((lo, hi), ([1, -1], [2, -2]));
}

#[test]
fn fused_shuffle_dtype_wrappers() {
    let s = Shape::new(1, 1, 2, 2);
    let a = [1.0f32, 2.0, 3.0, 4.0];
    let b = [-1.0f32, -2.0, -3.0, -4.0];
    let mut y = [0.0f32; 8];
    concat_channel_shuffle_f32(2, &[(&a, s), (&b, s)], &mut y).unwrap();
    assert_eq!(y, [1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 4.0, -4.0]);
    let (mut lo, mut hi) = ([0.0f32; 4], [0.0f32; 4]);
    concat_shuffle_split_f32(2, &[(&a, s), (&b, s)], &mut [&mut lo, &mut hi]).unwrap();
    assert_eq!(lo, [1.0, -1.0, 3.0, -3.0]);
    assert_eq!(hi, [2.0, -2.0, 4.0, -4.0]);
    let (mut lo, mut hi) = ([0.0f32; 4], [0.0f32; 4]);
    channel_shuffle_split_f32(2, &y, Shape::new(1, 1, 2, 4), &mut [&mut lo, &mut hi]).unwrap();
    // Shuffling [1 -1 2 -2] in 2 groups gives [1 2 -1 -2].
    assert_eq!(lo, [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(hi, [-1.0, -2.0, -3.0, -4.0]);

    let ah = a.map(f16::from_f32);
    let bh = b.map(f16::from_f32);
    let mut yh = [f16::ZERO; 8];
    concat_channel_shuffle_f16(2, &[(&ah, s), (&bh, s)], &mut yh).unwrap();
    assert_eq!(yh.map(|v| v.to_f32()), y);
    let (mut lo, mut hi) = ([f16::ZERO; 4], [f16::ZERO; 4]);
    concat_shuffle_split_f16(2, &[(&ah, s), (&bh, s)], &mut [&mut lo, &mut hi]).unwrap();
    assert_eq!(lo.map(|v| v.to_f32()), [1.0, -1.0, 3.0, -3.0]);
    let (mut lo, mut hi) = ([f16::ZERO; 4], [f16::ZERO; 4]);
    channel_shuffle_split_f16(2, &yh, Shape::new(1, 1, 2, 4), &mut [&mut lo, &mut hi]).unwrap();
    assert_eq!(hi.map(|v| v.to_f32()), [-1.0, -2.0, -3.0, -4.0]);
}

#[test]
fn shuffle_errors() {
    let x = [0i8; 12];
    let mut y = [0i8; 12];
    let s = Shape::new(1, 1, 2, 6);
    assert!(matches!(
        channel_shuffle_s8(0, &x, s, &mut y),
        Err(Error::BadParam { value: 0, .. })
    ));
    assert!(matches!(
        channel_shuffle_s8(4, &x, s, &mut y),
        Err(Error::BadParam { value: 4, .. })
    ));
    assert_eq!(
        channel_shuffle_s8(2, &x, s, &mut y[..10]),
        Err(Error::BufferLength {
            what: "shuffle output",
            expected: 12,
            got: 10
        })
    );
    assert!(matches!(
        channel_shuffle_s8(2, &x[..11], s, &mut y),
        Err(Error::BufferLength { .. })
    ));
    let (mut a, mut b, mut c, mut d) = ([0i8; 3], [0i8; 3], [0i8; 3], [0i8; 3]);
    // 6 channels do not split in 4 parts.
    assert!(matches!(
        channel_shuffle_split_s8(2, &x, s, &mut [&mut a, &mut b, &mut c, &mut d]),
        Err(Error::BadParam { value: 4, .. })
    ));
    assert!(channel_shuffle_split_s8(2, &x, s, &mut []).is_err());
    assert!(concat_channel_shuffle_s8(2, &[], &mut y).is_err());
    // Inputs disagreeing on width.
    assert!(matches!(
        concat_channel_shuffle_s8(
            2,
            &[
                (&x[..6], Shape::new(1, 1, 2, 3)),
                (&x[..6], Shape::new(1, 1, 3, 2))
            ],
            &mut y
        ),
        Err(Error::DimMismatch { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Pad

#[test]
fn pad_by_hand() {
    // A 2x2 single-channel image padded one row on top, one column right, with 7 (a zero point).
    let x = [1i8, 2, 3, 4];
    let mut y = [0i8; 9];
    let s = pad_s8(
        &x,
        Shape::new(1, 2, 2, 1),
        &PadAmounts::spatial(1, 0, 0, 1),
        7,
        &mut y,
    )
    .unwrap();
    assert_eq!(s, Shape::new(1, 3, 3, 1));
    assert_eq!(y, [7, 7, 7, 1, 2, 7, 3, 4, 7]);
    // Channel padding: one pixel [5, 6] -> [0, 5, 6, 0, 0].
    let mut y = [1.0f32; 5];
    let p = PadAmounts {
        before: [0, 0, 0, 1],
        after: [0, 0, 0, 2],
    };
    pad_f32(&[5.0, 6.0], Shape::new(1, 1, 1, 2), &p, 0.0, &mut y).unwrap();
    assert_eq!(y, [0.0, 5.0, 6.0, 0.0, 0.0]);
}

#[test]
fn pad_every_dimension_matches_coordinate_oracle() {
    let mut rng = Rng::new(19);
    for trial in 0..40 {
        let s = Shape::new(
            rng.range_usize(1, 2),
            rng.range_usize(1, 5),
            rng.range_usize(1, 5),
            rng.range_usize(1, 7),
        );
        let mut p = PadAmounts::default();
        for d in 0..4 {
            // Batch padding is rare in models but legal; keep it small.
            let max = if d == 0 { 1 } else { 3 };
            p.before[d] = rng.range_usize(0, max);
            p.after[d] = rng.range_usize(0, max);
        }
        if trial == 0 {
            p = PadAmounts::default();
        }
        let x = iota(s.len(), 1);
        let d = dims(s);
        let od = [0, 1, 2, 3].map(|i| d[i] + p.before[i] + p.after[i]);
        let mut y = vec![12345u32; od.iter().product()];
        let out = pad(&x, s, &p, 0, &mut y).unwrap();
        assert_eq!(dims(out), od);
        let mut want = vec![0u32; y.len()];
        for c in coords(d) {
            let oc = [0, 1, 2, 3].map(|i| c[i] + p.before[i]);
            want[lin(od, oc)] = x[lin(d, c)];
        }
        assert_eq!(y, want, "{s:?} {p:?}");
    }
}

#[test]
fn pad_f16_and_from_tflite() {
    let x = [f16::from_f32(1.0), f16::from_f32(2.0)];
    let mut y = [f16::ZERO; 4];
    pad_f16(
        &x,
        Shape::new(1, 1, 2, 1),
        &PadAmounts::spatial(0, 0, 1, 1),
        f16::from_f32(-0.5),
        &mut y,
    )
    .unwrap();
    assert_eq!(y.map(|v| v.to_f32()), [-0.5, 1.0, 2.0, -0.5]);

    // A 4-D TFLite paddings tensor maps one to one.
    let p = PadAmounts::from_tflite(&[[0, 0], [1, 2], [0, 1], [3, 0]]).unwrap();
    assert_eq!(p.before, [0, 1, 0, 3]);
    assert_eq!(p.after, [0, 2, 1, 0]);
    // A rank-2 one acts on the last two dimensions.
    let p = PadAmounts::from_tflite(&[[1, 2], [3, 4]]).unwrap();
    assert_eq!(p.before, [0, 0, 1, 3]);
    assert_eq!(p.after, [0, 0, 2, 4]);
    assert_eq!(
        PadAmounts::from_tflite(&[[0, -1]]),
        Err(Error::BadParam {
            what: "padding amount (must not be negative)",
            value: -1
        })
    );
    assert!(PadAmounts::from_tflite(&[]).is_err());
    assert!(PadAmounts::from_tflite(&[[0, 0]; 5]).is_err());
}

#[test]
fn pad_errors() {
    let x = [0i8; 4];
    let s = Shape::new(1, 2, 2, 1);
    let p = PadAmounts::spatial(1, 1, 1, 1);
    let mut y = [0i8; 16];
    assert_eq!(
        pad_s8(&x, s, &p, 0, &mut y[..15]),
        Err(Error::BufferLength {
            what: "output",
            expected: 16,
            got: 15
        })
    );
    assert_eq!(
        pad_s8(&x[..3], s, &p, 0, &mut y),
        Err(Error::BufferLength {
            what: "input",
            expected: 4,
            got: 3
        })
    );
    let huge = PadAmounts::spatial(usize::MAX, 1, 0, 0);
    assert!(matches!(
        pad_s8(&x, s, &huge, 0, &mut y),
        Err(Error::BadParam { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Property sweep over random shapes

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Transpose agrees with the coordinate oracle for any shape and permutation.
    #[test]
    fn transpose_any_shape(
        d in prop::array::uniform4(1usize..6),
        perm_index in 0usize..24,
    ) {
        let perm = all_perms()[perm_index];
        let shape = Shape::new(d[0], d[1], d[2], d[3]);
        let x = iota(shape.len(), 3);
        let mut y = vec![0u32; x.len()];
        let out = transpose(&x, shape, perm, &mut y).unwrap();
        let od = dims(out);
        for c in coords(d) {
            let oc = [c[perm[0]], c[perm[1]], c[perm[2]], c[perm[3]]];
            prop_assert_eq!(y[lin(od, oc)], x[lin(d, c)]);
        }
    }

    /// Shuffle equals the literal reshape -> transpose -> reshape, and shuffling by `k` undoes
    /// a shuffle by `g` (the inverse permutation of channels).
    #[test]
    fn shuffle_any_shape(
        n in 1usize..3, h in 1usize..5, w in 1usize..5,
        groups in 1usize..9, k in 1usize..6,
    ) {
        let s = Shape::new(n, h, w, groups * k);
        let x = iota(s.len(), 9);
        let mut y = vec![0u32; x.len()];
        channel_shuffle(groups, &x, s, &mut y).unwrap();
        prop_assert_eq!(&y, &shuffle_by_transpose(groups, &x, s));
        let mut back = vec![0u32; x.len()];
        channel_shuffle(k, &y, s, &mut back).unwrap();
        prop_assert_eq!(back, x);
    }

    /// Split with random sizes along a random axis, then concatenation, is the identity.
    #[test]
    fn split_concat_round_trip(
        d in prop::array::uniform4(1usize..5),
        axis_index in 0usize..4,
        cut_seed in any::<u64>(),
    ) {
        let axis = AXES[axis_index];
        let mut d = d;
        d[axis_index] += 3;
        let s = Shape::new(d[0], d[1], d[2], d[3]);
        let mut rng = Rng::new(cut_seed);
        let mut sizes = Vec::new();
        let mut left = d[axis_index];
        while left > 0 {
            let take = rng.range_usize(0, left);
            sizes.push(take);
            left -= take;
        }
        let x = iota(s.len(), 1);
        let part_shape = |size: usize| {
            let mut pd = d;
            pd[axis_index] = size;
            Shape::new(pd[0], pd[1], pd[2], pd[3])
        };
        let mut parts: Vec<Vec<u32>> = sizes.iter().map(|&z| vec![0; part_shape(z).len()]).collect();
        let mut refs: Vec<&mut [u32]> = parts.iter_mut().map(|v| v.as_mut_slice()).collect();
        split_sizes(axis, &x, s, &sizes, &mut refs).unwrap();
        let inputs: Vec<(&[u32], Shape)> =
            parts.iter().zip(&sizes).map(|(v, &z)| (v.as_slice(), part_shape(z))).collect();
        let mut back = vec![0u32; x.len()];
        prop_assert_eq!(concat(axis, &inputs, &mut back).unwrap(), s);
        prop_assert_eq!(back, x);
    }
}
