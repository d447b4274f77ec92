//! Packed RGB24 to planar YUV 4:2:0 (BT.601, limited range, the matrix
//! swscale uses by default), the conversion before every H.264 encode.
//!
//! Integer arithmetic throughout, so the CUDA twin (`kino-cuda`'s
//! `cu/yuv.cu`) is checked against it bit for bit.

use rayon::prelude::*;

/// The three planes of a YUV 4:2:0 picture, each with its row stride in
/// bytes (at least the plane's width: `width` for Y, `width.div_ceil(2)`
/// for U and V; the planes hold `height` and `height.div_ceil(2)` rows).
#[derive(Debug)]
pub struct Yuv420Planes<'a> {
    /// Luma, full size.
    pub y: &'a mut [u8],
    /// Bytes from one luma row to the next.
    pub y_stride: usize,
    /// Blue-difference chroma, half size each way.
    pub u: &'a mut [u8],
    /// Bytes from one U row to the next.
    pub u_stride: usize,
    /// Red-difference chroma, half size each way.
    pub v: &'a mut [u8],
    /// Bytes from one V row to the next.
    pub v_stride: usize,
}

/// A YUV 4:2:0 picture in three tight planes (each row exactly as wide as
/// the plane).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Yuv420 {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Luma, `width × height`.
    pub y: Vec<u8>,
    /// Blue-difference chroma, `width.div_ceil(2) × height.div_ceil(2)`.
    pub u: Vec<u8>,
    /// Red-difference chroma, the same size as `u`.
    pub v: Vec<u8>,
}

impl Yuv420 {
    /// A black-filled (all zero) picture of this size.
    pub fn new(width: usize, height: usize) -> Self {
        let chroma = width.div_ceil(2) * height.div_ceil(2);
        Self {
            width,
            height,
            y: vec![0; width * height],
            u: vec![0; chroma],
            v: vec![0; chroma],
        }
    }

    /// A packed RGB24 picture, converted.
    pub fn from_rgb24(rgb: &[u8], width: usize, height: usize) -> Self {
        let mut yuv = Self::new(width, height);
        rgb24_to_yuv420p(rgb, width, height, yuv.planes());
        yuv
    }

    /// The planes, to write into.
    pub fn planes(&mut self) -> Yuv420Planes<'_> {
        let chroma_width = self.width.div_ceil(2);
        Yuv420Planes {
            y: &mut self.y,
            y_stride: self.width,
            u: &mut self.u,
            u_stride: chroma_width,
            v: &mut self.v,
            v_stride: chroma_width,
        }
    }
}

/// Converts a `width × height` packed RGB24 picture into `planes`, a pair
/// of rows per task on the current rayon pool. Each chroma sample is the
/// mean of its 2×2 block; an odd last row or column repeats itself.
///
/// # Panics
/// When `rgb` or a plane is too small for the size: the caller allocates
/// them for it.
pub fn rgb24_to_yuv420p(rgb: &[u8], width: usize, height: usize, planes: Yuv420Planes<'_>) {
    let Yuv420Planes {
        y: y_plane,
        y_stride: ys,
        u: u_plane,
        u_stride: us,
        v: v_plane,
        v_stride: vs,
    } = planes;
    let chroma_width = width.div_ceil(2);
    assert!(
        rgb.len() >= width * height * 3,
        "RGB24 input smaller than {width}×{height}"
    );
    assert!(
        ys >= width && us >= chroma_width && vs >= chroma_width,
        "a plane's stride is narrower than its width"
    );
    y_plane
        .par_chunks_mut(2 * ys)
        .zip(u_plane.par_chunks_mut(us))
        .zip(v_plane.par_chunks_mut(vs))
        .enumerate()
        .for_each(|(pair, ((y_rows, u_row), v_row))| {
            let top = 2 * pair;
            if top >= height {
                return;
            }
            let bottom = (top + 1).min(height - 1);
            let row = |y: usize| &rgb[y * width * 3..(y + 1) * width * 3];
            let (rt, rb) = (row(top), row(bottom));
            let (y_top, y_bottom) = y_rows.split_at_mut(ys.min(y_rows.len()));
            luma_row(rt, &mut y_top[..width]);
            if top + 1 < height {
                luma_row(rb, &mut y_bottom[..width]);
            }
            chroma_row(
                rt,
                rb,
                &mut u_row[..chroma_width],
                &mut v_row[..chroma_width],
            );
        });
}

/// BT.601 limited-range luma of one row of RGB24 pixels. Written over
/// exact chunks, so the compiler drops the bounds checks and vectorises.
fn luma_row(rgb: &[u8], y: &mut [u8]) {
    for (out, px) in y.iter_mut().zip(rgb.chunks_exact(3)) {
        let (r, g, b) = (u32::from(px[0]), u32::from(px[1]), u32::from(px[2]));
        *out = (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8;
    }
}

/// BT.601 limited-range chroma of a pair of RGB24 rows, each sample the
/// mean of a 2×2 block (an odd last column repeats itself).
fn chroma_row(top: &[u8], bottom: &[u8], u: &mut [u8], v: &mut [u8]) {
    let width = top.len() / 3;
    let pairs = width / 2;
    let block = |t0: &[u8], t1: &[u8], b0: &[u8], b1: &[u8]| {
        let sum = |c: usize| {
            (i32::from(t0[c]) + i32::from(t1[c]) + i32::from(b0[c]) + i32::from(b1[c]) + 2) >> 2
        };
        let (r, g, b) = (sum(0), sum(1), sum(2));
        (
            (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128) as u8,
            (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128) as u8,
        )
    };
    for (((t, b), u), v) in top
        .chunks_exact(6)
        .zip(bottom.chunks_exact(6))
        .zip(u.iter_mut())
        .zip(v.iter_mut())
        .take(pairs)
    {
        (*u, *v) = block(&t[..3], &t[3..], &b[..3], &b[3..]);
    }
    if width % 2 == 1 {
        let last = &top[3 * (width - 1)..];
        let last_b = &bottom[3 * (width - 1)..];
        (u[pairs], v[pairs]) = block(last, last, last_b, last_b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(rgb: &[u8], width: usize, height: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let Yuv420 { y, u, v, .. } = Yuv420::from_rgb24(rgb, width, height);
        (y, u, v)
    }

    #[test]
    fn black_white_and_the_primaries_land_on_bt601_limited_range() {
        // Each colour fills a 2×2 block, so its chroma is its own.
        let cases: [([u8; 3], [u8; 3]); 5] = [
            ([0, 0, 0], [16, 128, 128]),
            ([255, 255, 255], [235, 128, 128]),
            ([255, 0, 0], [82, 90, 240]),
            ([0, 255, 0], [144, 54, 34]),
            ([0, 0, 255], [41, 240, 110]),
        ];
        for (rgb, [y, u, v]) in cases {
            let picture: Vec<u8> = rgb.repeat(4);
            let (ys, us, vs) = convert(&picture, 2, 2);
            assert_eq!((ys, us, vs), (vec![y; 4], vec![u], vec![v]), "{rgb:?}");
        }
    }

    #[test]
    fn odd_sizes_repeat_the_last_row_and_column_and_strides_are_kept() {
        let (width, height) = (3, 3);
        let rgb: Vec<u8> = (0..width * height * 3)
            .map(|i| (i * 29 % 256) as u8)
            .collect();
        let (y, u, v) = convert(&rgb, width, height);
        // The bottom-right chroma sample sees only the corner pixel.
        let (_, u1, v1) = convert(&rgb[24..27], 1, 1);
        assert_eq!((u[3], v[3]), (u1[0], v1[0]));
        assert_eq!(y.len(), 9);
        // Padded strides: the same samples, and the padding untouched.
        let (mut yp, mut up, mut vp) = (vec![7u8; 5 * 3], vec![7u8; 4 * 2], vec![7u8; 4 * 2]);
        rgb24_to_yuv420p(
            &rgb,
            width,
            height,
            Yuv420Planes {
                y: &mut yp,
                y_stride: 5,
                u: &mut up,
                u_stride: 4,
                v: &mut vp,
                v_stride: 4,
            },
        );
        for row in 0..3 {
            assert_eq!(yp[row * 5..row * 5 + 3], y[row * 3..row * 3 + 3]);
            assert_eq!(yp[row * 5 + 3..row * 5 + 5], [7, 7]);
        }
        assert_eq!([up[0], up[1], up[4], up[5]], [u[0], u[1], u[2], u[3]]);
        assert_eq!([vp[2], vp[3]], [7, 7]);
    }
}
