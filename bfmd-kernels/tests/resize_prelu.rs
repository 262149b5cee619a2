//! Resizing (bilinear, nearest) and PReLU in f32: every option combination of TFLite's
//! `RESIZE_BILINEAR` / `RESIZE_NEAREST_NEIGHBOR` on small images whose expected values are
//! worked out by hand from LiteRT's coordinate rules (see `reference::resize`), broadcast forms
//! of `PRELU`, and the error cases. Bit-exactness against LiteRT's reference kernels on trained
//! models (MediaPipe's palm detector and face mesh) is in `tests/tests/real_models.rs`.

use bfmd_kernels::reference::prelu::prelu_f32;
use bfmd_kernels::reference::resize::{resize_bilinear_f32, resize_nearest, ResizeParams};
use bfmd_kernels::Shape;

const PLAIN: ResizeParams = ResizeParams {
    align_corners: false,
    half_pixel_centers: false,
};
const ALIGN: ResizeParams = ResizeParams {
    align_corners: true,
    half_pixel_centers: false,
};
const HALF: ResizeParams = ResizeParams {
    align_corners: false,
    half_pixel_centers: true,
};

/// The 2x2 image `f(r, c) = 2r + c` bilinearly resized to 4x4: since `f` is linear, output
/// `(i, j)` is `2 * ry[i] + rx[j]` for the effective source coordinates the options give.
fn bilinear_2x2_to_4x4(p: &ResizeParams, coords: [f32; 4]) {
    let x = [0.0, 1.0, 2.0, 3.0];
    let mut y = [0f32; 16];
    resize_bilinear_f32(
        p,
        Shape::new(1, 2, 2, 1),
        &x,
        Shape::new(1, 4, 4, 1),
        &mut y,
    )
    .unwrap();
    for i in 0..4 {
        for j in 0..4 {
            let want = 2.0 * coords[i] + coords[j];
            assert!(
                (y[i * 4 + j] - want).abs() <= 1e-6,
                "{p:?} ({i}, {j}): {} != {want}",
                y[i * 4 + j]
            );
        }
    }
}

#[test]
fn bilinear_upsampling_follows_each_coordinate_rule() {
    // Scale 1/2: sources 0, 0.5, 1, 1.5 -> the last clamps to row 1 (upper bound in - 1).
    bilinear_2x2_to_4x4(&PLAIN, [0.0, 0.5, 1.0, 1.0]);
    // align_corners: scale 1/3, sources 0, 1/3, 2/3, 1.
    bilinear_2x2_to_4x4(&ALIGN, [0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]);
    // half_pixel_centers: sources -0.25 (lower and upper 0), 0.25, 0.75, 1.25 (both 1).
    bilinear_2x2_to_4x4(&HALF, [0.0, 0.25, 0.75, 1.0]);
}

#[test]
fn bilinear_keeps_channels_and_batches_apart() {
    // Two batches, two channels; identity size.
    let x: Vec<f32> = (0..2 * 2 * 2 * 2).map(|v| v as f32).collect();
    let s = Shape::new(2, 2, 2, 2);
    let mut y = vec![0f32; x.len()];
    for p in [PLAIN, ALIGN, HALF] {
        resize_bilinear_f32(&p, s, &x, s, &mut y).unwrap();
        assert_eq!(y, x, "{p:?}: resizing to the same size is the identity");
    }
    // 1x1 -> 3x3 replicates each channel.
    let mut y = [0f32; 9 * 2];
    resize_bilinear_f32(
        &ALIGN,
        Shape::new(1, 1, 1, 2),
        &[4.0, -2.0],
        Shape::new(1, 3, 3, 2),
        &mut y,
    )
    .unwrap();
    assert!(y.chunks(2).all(|c| c == [4.0, -2.0]));
}

#[test]
fn nearest_follows_each_coordinate_rule() {
    let x: Vec<i8> = (0..9).collect(); // 3x3, value 3r + c
    let mut y = [0i8; 4];
    let s = (Shape::new(1, 3, 3, 1), Shape::new(1, 2, 2, 1));
    // Scale 3/2: floor(0), floor(1.5) -> 0, 1.
    resize_nearest(&PLAIN, s.0, &x, s.1, &mut y).unwrap();
    assert_eq!(y, [0, 1, 3, 4]);
    // half_pixel_centers: floor(0.75), floor(2.25) -> 0, 2.
    resize_nearest(&HALF, s.0, &x, s.1, &mut y).unwrap();
    assert_eq!(y, [0, 2, 6, 8]);
    // align_corners: scale 2, round(0), round(2) -> 0, 2.
    resize_nearest(&ALIGN, s.0, &x, s.1, &mut y).unwrap();
    assert_eq!(y, [0, 2, 6, 8]);
    // 2x2 -> 4x4 repeats each pixel twice for every rule.
    let x: Vec<f32> = vec![1.0, 2.0, 3.0, 4.0];
    let mut y = [0f32; 16];
    for p in [PLAIN, ALIGN, HALF] {
        resize_nearest(
            &p,
            Shape::new(1, 2, 2, 1),
            &x,
            Shape::new(1, 4, 4, 1),
            &mut y,
        )
        .unwrap();
        assert_eq!(
            y,
            [1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.],
            "{p:?}"
        );
    }
}

#[test]
fn resize_errors_name_the_problem() {
    let x = [0f32; 4];
    let mut y = [0f32; 8];
    let e = resize_bilinear_f32(
        &PLAIN,
        Shape::new(1, 2, 2, 1),
        &x,
        Shape::new(1, 2, 2, 2),
        &mut y,
    )
    .unwrap_err();
    assert!(e.to_string().contains("resize output channels"), "{e}");
    let e = resize_nearest(
        &PLAIN,
        Shape::new(1, 2, 2, 1),
        &x,
        Shape::new(1, 3, 3, 1),
        &mut y,
    )
    .unwrap_err();
    assert!(e.to_string().contains("resize output"), "{e}");
}

#[test]
fn prelu_broadcasts_alpha() {
    // Per channel: C = 2, alpha [0.5, 0.25].
    let x = [-2.0, -1.0, 0.0, 1.0, -4.0, 8.0];
    let mut y = [0f32; 6];
    prelu_f32(
        Shape::new(1, 1, 3, 2),
        &x,
        Shape::new(1, 1, 1, 2),
        &[0.5, 0.25],
        &mut y,
    )
    .unwrap();
    assert_eq!(y, [-1.0, -0.25, 0.0, 1.0, -2.0, 8.0]);
    // A scalar alpha, and an alpha of the input's own shape.
    prelu_f32(
        Shape::new(1, 1, 3, 2),
        &x,
        Shape::new(1, 1, 1, 1),
        &[0.1],
        &mut y,
    )
    .unwrap();
    let want = [-0.2f32, -0.1, 0.0, 1.0, -0.4, 8.0];
    assert!(
        y.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-7),
        "{y:?}"
    );
    let alpha = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    prelu_f32(
        Shape::new(1, 1, 3, 2),
        &x,
        Shape::new(1, 1, 3, 2),
        &alpha,
        &mut y,
    )
    .unwrap();
    assert_eq!(y, [-2.0, -2.0, 0.0, 1.0, -20.0, 8.0]);
    // An alpha larger than the input does not broadcast to it.
    let e = prelu_f32(
        Shape::new(1, 1, 1, 2),
        &x[..2],
        Shape::new(1, 1, 3, 2),
        &alpha,
        &mut y[..2],
    )
    .unwrap_err();
    assert!(e.to_string().contains("prelu alpha"), "{e}");
}
