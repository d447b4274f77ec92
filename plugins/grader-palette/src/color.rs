//! Small colour-maths building blocks, all continuous so the LUT built from
//! them has no seams.

/// Rec. 709 luma weights for red, green and blue.
pub const LUMA: [f32; 3] = [0.2126, 0.7152, 0.0722];

/// An RGB triple as an array, so per-channel steps can loop over it.
pub type Rgb3 = [f32; 3];

/// Rec. 709 luma of `c`.
pub fn luma(c: Rgb3) -> f32 {
    LUMA[0] * c[0] + LUMA[1] * c[1] + LUMA[2] * c[2]
}

/// Each component of `c` clamped to 0..=1.
pub fn clamp01(c: Rgb3) -> Rgb3 {
    c.map(|v| v.clamp(0.0, 1.0))
}

/// Hermite smoothstep of `x` between `edge0` and `edge1`: 0 below, 1 above,
/// with zero slope at both ends.
pub fn smoothstep(edge0: f32, edge1: f32, x: f32) -> f32 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A contrast curve pivoting at mid-grey (0.5) that keeps 0 and 1 fixed.
///
/// `strength` 0 is the identity, 1 blends fully into a smoothstep S-curve
/// (slope 1.5 at the pivot, flat at the ends), -1 into the mirrored curve
/// (slope 0.5 at the pivot). The slope `1 + k(6x − 6x² − 1)` stays positive
/// for |k| ≤ 1, so the curve is monotonic across the whole range.
pub fn s_curve(x: f32, strength: f32) -> f32 {
    let x = x.clamp(0.0, 1.0);
    x + strength * (smoothstep(0.0, 1.0, x) - x)
}

/// The chroma of `c` as a 2D vector (B − Y, R − Y), with `y` its luma.
/// Together with luma it determines the colour, so rotating the vector
/// changes hue while keeping luma.
pub fn chroma(c: Rgb3, y: f32) -> [f32; 2] {
    [c[2] - y, c[0] - y]
}

/// The colour with luma `y` and chroma `[B − Y, R − Y]`; green is solved
/// from the luma equation.
pub fn from_luma_chroma(y: f32, chroma: [f32; 2]) -> Rgb3 {
    let (b, r) = (y + chroma[0], y + chroma[1]);
    let g = (y - LUMA[0] * r - LUMA[2] * b) / LUMA[1];
    [r, g, b]
}

/// `v` rotated by `angle` radians.
pub fn rotate(v: [f32; 2], angle: f32) -> [f32; 2] {
    let (sin, cos) = angle.sin_cos();
    [v[0] * cos - v[1] * sin, v[0] * sin + v[1] * cos]
}

/// `angle` wrapped into -π..=π.
pub fn wrap_angle(angle: f32) -> f32 {
    use std::f32::consts::{PI, TAU};
    let wrapped = (angle + PI).rem_euclid(TAU) - PI;
    if wrapped < -PI {
        wrapped + TAU
    } else {
        wrapped
    }
}

#[cfg(test)]
mod tests {
    use std::f32::consts::PI;

    use super::*;

    #[test]
    fn s_curve_keeps_ends_and_pivot_and_is_monotonic() {
        for strength in [-1.0, -0.5, 0.0, 0.5, 1.0] {
            assert_eq!(s_curve(0.0, strength), 0.0);
            assert!((s_curve(0.5, strength) - 0.5).abs() < 1e-6);
            assert!((s_curve(1.0, strength) - 1.0).abs() < 1e-6);
            let samples: Vec<f32> = (0..=100)
                .map(|i| s_curve(i as f32 / 100.0, strength))
                .collect();
            assert!(
                samples.windows(2).all(|w| w[1] >= w[0]),
                "strength {strength}"
            );
        }
        assert!(s_curve(0.25, 1.0) < 0.25 && s_curve(0.75, 1.0) > 0.75);
        assert!(s_curve(0.25, -1.0) > 0.25 && s_curve(0.75, -1.0) < 0.75);
    }

    #[test]
    fn luma_chroma_round_trips() {
        let c = [0.8, 0.3, 0.1];
        let y = luma(c);
        let back = from_luma_chroma(y, chroma(c, y));
        for (a, b) in c.iter().zip(back) {
            assert!((a - b).abs() < 1e-5, "{c:?} -> {back:?}");
        }
    }

    #[test]
    fn angles_wrap_and_rotate() {
        assert!((wrap_angle(3.0 * PI / 2.0) + PI / 2.0).abs() < 1e-5);
        assert!((wrap_angle(-0.25) + 0.25).abs() < 1e-6);
        let turned = rotate([1.0, 0.0], PI / 2.0);
        assert!(turned[0].abs() < 1e-6 && (turned[1] - 1.0).abs() < 1e-6);
    }
}
