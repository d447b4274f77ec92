//! RGB24 and YUV 4:2:0, limited range, both ways: packed RGB24 to planar
//! YUV in BT.601 (the matrix swscale uses by default) before every H.264
//! encode, and a decoder's YUV (planar, or NV12 as NVDEC leaves it, in
//! BT.601 or BT.709: [`Matrix`]) back to RGB24 after every decode.
//!
//! Integer arithmetic throughout, so the CUDA twins (`kino-cuda`'s
//! `cu/yuv.cu`) are checked against them bit for bit. On x86-64 with AVX2
//! both directions run the same arithmetic eight lanes wide (`avx2`), the
//! scalar loops finishing each row: packing and unpacking RGB24 a byte at
//! a time was most of the scalar loops' cost (at 1080p, 4.5–7 ms a frame
//! one way and 6.4 ms the other on one core, against 1.6 and 1.0 ms).

use rayon::prelude::*;

/// The matrix a limited-range YUV picture was encoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Matrix {
    /// ITU-R BT.601: SD video, what Kino encodes with, and what swscale
    /// and the ffmpeg CLI assume of an untagged stream.
    #[default]
    Bt601,
    /// ITU-R BT.709: HD video.
    Bt709,
}

impl Matrix {
    /// The luma weights of red and blue, Kr and Kb.
    pub fn weights(self) -> (f64, f64) {
        match self {
            Matrix::Bt601 => (0.299, 0.114),
            Matrix::Bt709 => (0.2126, 0.0722),
        }
    }

    /// YUV to RGB's chroma terms in 16.16 fixed point: red from Cr, green
    /// from Cb and from Cr (both subtracted), blue from Cb; each 65536 ×
    /// 255/224 × the matrix's term, rounded (`2(1 − Kr)`, `2(1 − Kb)Kb/Kg`,
    /// `2(1 − Kr)Kr/Kg`, `2(1 − Kb)`). Luma's scale, 65536 × 255/219, is
    /// the same for both.
    pub fn to_rgb(self) -> [i32; 4] {
        match self {
            Matrix::Bt601 => [104_597, 25_675, 53_279, 132_201],
            Matrix::Bt709 => [117_489, 13_975, 34_925, 138_438],
        }
    }
}

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

/// A YUV 4:2:0 picture to read, as a decoder leaves it: luma and the two
/// chroma planes, each with its row stride in bytes (`height` luma rows and
/// `height.div_ceil(2)` chroma rows of `width.div_ceil(2)` samples).
#[derive(Debug, Clone, Copy)]
pub struct Yuv420View<'a> {
    /// Luma, full size.
    pub y: &'a [u8],
    /// Bytes from one luma row to the next.
    pub y_stride: usize,
    /// The chroma samples.
    pub chroma: Chroma<'a>,
    /// The matrix the samples were encoded with.
    pub matrix: Matrix,
}

/// Where a YUV 4:2:0 picture keeps its chroma: 8-bit samples (`u8`), or
/// 10-bit ones in 16-bit words (`u16`, [`crate::hdr`]). Strides count
/// samples (bytes, for 8-bit).
#[derive(Debug, Clone, Copy)]
pub enum Chroma<'a, T = u8> {
    /// U and V in planes of their own (`yuv420p`, I420; `yuv420p10le`).
    Planar {
        /// Blue-difference chroma.
        u: &'a [T],
        /// Samples from one U row to the next.
        u_stride: usize,
        /// Red-difference chroma.
        v: &'a [T],
        /// Samples from one V row to the next.
        v_stride: usize,
    },
    /// U and V interleaved in one plane, U first (`nv12`, what NVDEC
    /// decodes to; `p010le` for 10-bit).
    Interleaved {
        /// `U V U V …`, `width.div_ceil(2)` pairs a row.
        uv: &'a [T],
        /// Samples from one row of pairs to the next.
        stride: usize,
    },
}

impl<'a, T> Chroma<'a, T> {
    /// U and V as two sample sequences read every `step` samples: `(u,
    /// u_stride, v, v_stride, step)`. This is how the CUDA twin takes them
    /// (an interleaved plane is U at offset 0 and V at 1, step 2).
    pub fn strided(self) -> (&'a [T], usize, &'a [T], usize, usize) {
        match self {
            Chroma::Planar {
                u,
                u_stride,
                v,
                v_stride,
            } => (u, u_stride, v, v_stride, 1),
            Chroma::Interleaved { uv, stride } => {
                (uv, stride, uv.get(1..).unwrap_or(&[]), stride, 2)
            }
        }
    }
}

impl Yuv420 {
    /// The picture, to read.
    pub fn view(&self) -> Yuv420View<'_> {
        let chroma_width = self.width.div_ceil(2);
        Yuv420View {
            y: &self.y,
            y_stride: self.width,
            chroma: Chroma::Planar {
                u: &self.u,
                u_stride: chroma_width,
                v: &self.v,
                v_stride: chroma_width,
            },
            // Made by `rgb24_to_yuv420p`.
            matrix: Matrix::Bt601,
        }
    }

    /// The picture as packed RGB24, `width × height × 3` bytes.
    pub fn to_rgb24(&self) -> Vec<u8> {
        let mut rgb = vec![0; self.width * self.height * 3];
        yuv420_to_rgb24(self.view(), self.width, self.height, &mut rgb);
        rgb
    }
}

/// Converts a `width × height` YUV 4:2:0 picture into packed RGB24 (`rgb`,
/// rows of exactly `3 * width` bytes), a pair of rows per task on the
/// current rayon pool. Each chroma sample colours its 2×2 block, as
/// swscale's unscaled YUV-to-RGB path does.
///
/// # Panics
/// When `rgb` or a plane is too small for the size: the caller (a decoder's
/// frame) sizes them for it.
pub fn yuv420_to_rgb24(yuv: Yuv420View<'_>, width: usize, height: usize, rgb: &mut [u8]) {
    let (u, u_stride, v, v_stride, step) = yuv.chroma.strided();
    let chroma_bytes = check_420(yuv.y, yuv.y_stride, yuv.chroma, (width, height), rgb);
    if width == 0 {
        return;
    }
    let k = yuv.matrix.to_rgb();
    rgb[..width * height * 3]
        .par_chunks_mut(6 * width)
        .enumerate()
        .for_each(|(pair, rows)| {
            let u_row = &u[pair * u_stride..][..chroma_bytes];
            let v_row = &v[pair * v_stride..][..chroma_bytes];
            for (i, out) in rows.chunks_exact_mut(3 * width).enumerate() {
                let start = (2 * pair + i) * yuv.y_stride;
                let y_row = &yuv.y[start..start + width];
                if step == 1 {
                    rgb_row::<1>(y_row, u_row, v_row, k, out);
                } else {
                    rgb_row::<2>(y_row, u_row, v_row, k, out);
                }
            }
        });
}

/// Checks that a `width × height` YUV 4:2:0 picture's planes and its RGB24
/// output hold it, and returns the samples each chroma row is read through.
///
/// # Panics
/// When one does not: the converters' callers size them for the picture.
pub(crate) fn check_420<T>(
    y: &[T],
    y_stride: usize,
    chroma: Chroma<'_, T>,
    (width, height): (usize, usize),
    rgb: &[u8],
) -> usize {
    let (u, u_stride, v, v_stride, step) = chroma.strided();
    let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
    let fits = |plane: &[T], stride: usize, rows: usize, row: usize| {
        stride >= row && plane.len() >= plane_extent(stride, rows, row)
    };
    let chroma_row = if cw == 0 { 0 } else { step * (cw - 1) + 1 };
    assert!(
        fits(y, y_stride, height, width)
            && fits(u, u_stride, ch, chroma_row)
            && fits(v, v_stride, ch, chroma_row),
        "a YUV plane is smaller than {width}×{height}"
    );
    assert!(
        rgb.len() >= width * height * 3,
        "RGB24 output smaller than {width}×{height}"
    );
    chroma_row
}

/// The bytes a plane must hold: `rows` rows `stride` apart, the last one
/// read only through its `row_bytes` (a decoder may end the plane there).
pub fn plane_extent(stride: usize, rows: usize, row_bytes: usize) -> usize {
    if rows == 0 || row_bytes == 0 {
        0
    } else {
        stride * (rows - 1) + row_bytes
    }
}

/// One row of RGB24 from its luma and its chroma row, U and V read every
/// `STEP` bytes (a constant, so each layout gets its own loop), with the
/// chroma terms `k` ([`Matrix::to_rgb`]).
fn rgb_row<const STEP: usize>(y: &[u8], u: &[u8], v: &[u8], k: [i32; 4], out: &mut [u8]) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present, checked just above.
        done = unsafe { avx2::rgb_row::<STEP>(y, u, v, k, out) };
    }
    // The scalar loop packs RGB24 a byte at a time, several times slower
    // than swscale's SIMD; it is the reference, and the row's tail.
    for x in done..y.len() {
        let c = x / 2 * STEP;
        out[3 * x..3 * x + 3].copy_from_slice(&rgb_of(y[x], u[c], v[c], k));
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// [`super::rgb_row`] sixteen pixels (eight chroma pairs) at a time:
    /// the same 32-bit integer arithmetic in eight lanes, so the same
    /// bytes. Returns how many pixels it converted, leaving the rest of the
    /// row to the caller. With `STEP` 2 (NV12), `u` is the interleaved row,
    /// U first, and `v` is not read.
    #[target_feature(enable = "avx2")]
    pub(super) fn rgb_row<const STEP: usize>(
        y: &[u8],
        u: &[u8],
        v: &[u8],
        [r_cr, g_cb, g_cr, b_cb]: [i32; 4],
        out: &mut [u8],
    ) -> usize {
        let n = y.len();
        assert!(out.len() >= 3 * n);
        let eight = |bytes: &[u8]| {
            let bytes = &bytes[..8];
            // SAFETY: `bytes` holds the eight bytes read.
            _mm256_cvtepu8_epi32(unsafe { _mm_loadl_epi64(bytes.as_ptr().cast()) })
        };
        // NV12's sixteen bytes of eight pairs to their U and their V.
        let (evens, odds) = (
            _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1),
            _mm_setr_epi8(1, 3, 5, 7, 9, 11, 13, 15, -1, -1, -1, -1, -1, -1, -1, -1),
        );
        // Each pair's chroma term to both of its pixels: pairs 0–3, 4–7.
        let halves = [
            _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3),
            _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7),
        ];
        // After the packs below, each 128-bit half holds four pixels' R,
        // G and B bytes (and four zeros): to RGB RGB RGB RGB.
        let interleave = _mm256_setr_epi8(
            0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, -1, -1, -1, -1, //
            0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, -1, -1, -1, -1,
        );
        let k = _mm256_set1_epi32;
        let (add, mul) = (_mm256_add_epi32, _mm256_mullo_epi32);
        let mut x = 0;
        // The last pixels' two 16-byte stores end 4 bytes past their 24:
        // stop while that is still inside the row.
        while x + 18 <= n {
            let c = x / 2 * STEP;
            let (cb, cr) = if STEP == 1 {
                (eight(&u[c..]), eight(&v[c..]))
            } else {
                let pairs = &u[c..c + 16];
                // SAFETY: `pairs` holds the sixteen bytes read.
                let pairs = unsafe { _mm_loadu_si128(pairs.as_ptr().cast()) };
                (
                    _mm256_cvtepu8_epi32(_mm_shuffle_epi8(pairs, evens)),
                    _mm256_cvtepu8_epi32(_mm_shuffle_epi8(pairs, odds)),
                )
            };
            let (cb, cr) = (_mm256_sub_epi32(cb, k(128)), _mm256_sub_epi32(cr, k(128)));
            // Per pair: R's, G's (to subtract) and B's chroma terms.
            let red = mul(cr, k(r_cr));
            let green = add(mul(cb, k(g_cb)), mul(cr, k(g_cr)));
            let blue = mul(cb, k(b_cb));
            for (half, lanes) in halves.into_iter().enumerate() {
                let at = x + 8 * half;
                let luma = add(
                    mul(_mm256_sub_epi32(eight(&y[at..]), k(16)), k(76309)),
                    k(32768),
                );
                let term = |t: __m256i| _mm256_permutevar8x32_epi32(t, lanes);
                let r = _mm256_srai_epi32::<16>(add(luma, term(red)));
                let g = _mm256_srai_epi32::<16>(_mm256_sub_epi32(luma, term(green)));
                let b = _mm256_srai_epi32::<16>(add(luma, term(blue)));
                // Saturating packs are the clamp to 0..=255 (the shifted
                // values are well inside 16 bits).
                let rg = _mm256_packs_epi32(r, g);
                let b0 = _mm256_packs_epi32(b, _mm256_setzero_si256());
                let rgb = _mm256_shuffle_epi8(_mm256_packus_epi16(rg, b0), interleave);
                let dst = &mut out[3 * at..3 * at + 28];
                // SAFETY: `dst` holds the 28 bytes the two stores write;
                // bytes 24..28 belong to the next pixels, written after.
                unsafe {
                    _mm_storeu_si128(dst.as_mut_ptr().cast(), _mm256_castsi256_si128(rgb));
                    _mm_storeu_si128(
                        dst.as_mut_ptr().add(12).cast(),
                        _mm256_extracti128_si256::<1>(rgb),
                    );
                }
            }
            x += 16;
        }
        x
    }

    /// Eight packed RGB24 pixels at `rgb[3 * x..]` as three vectors of
    /// eight 32-bit lanes, R, G and B, in pixel order.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn unpack8(rgb: &[u8], x: usize) -> [__m256i; 3] {
        let bytes = &rgb[3 * x..3 * x + 28];
        // SAFETY: `bytes` holds the 28 bytes the two loads read: pixels
        // 0–3 into the low half, 4–7 (from byte 12) into the high half.
        let both = unsafe {
            _mm256_setr_m128i(
                _mm_loadu_si128(bytes.as_ptr().cast()),
                _mm_loadu_si128(bytes.as_ptr().add(12).cast()),
            )
        };
        let channel = |c: i8| {
            let m = -1;
            _mm256_shuffle_epi8(
                both,
                _mm256_setr_epi8(
                    c,
                    m,
                    m,
                    m,
                    c + 3,
                    m,
                    m,
                    m,
                    c + 6,
                    m,
                    m,
                    m,
                    c + 9,
                    m,
                    m,
                    m, //
                    c,
                    m,
                    m,
                    m,
                    c + 3,
                    m,
                    m,
                    m,
                    c + 6,
                    m,
                    m,
                    m,
                    c + 9,
                    m,
                    m,
                    m,
                ),
            )
        };
        [channel(0), channel(1), channel(2)]
    }

    /// The low byte of each of eight 32-bit lanes (each in 0..=255), in
    /// order.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn bytes8(lanes: __m256i) -> i64 {
        let words = _mm256_packs_epi32(lanes, lanes);
        let bytes = _mm256_packus_epi16(words, words);
        // Lanes 0 and 4 of 32 bits now hold pixels 0–3 and 4–7.
        let both = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
        _mm_cvtsi128_si64(_mm256_castsi256_si128(both))
    }

    /// [`super::luma_row`] eight pixels at a time, the same integer
    /// arithmetic in eight lanes. Returns how many pixels it converted.
    #[target_feature(enable = "avx2")]
    pub(super) fn luma_row(rgb: &[u8], y: &mut [u8]) -> usize {
        let n = y.len().min(rgb.len() / 3);
        let k = _mm256_set1_epi32;
        let (add, mul) = (_mm256_add_epi32, _mm256_mullo_epi32);
        let mut x = 0;
        // Eight pixels' two loads read 28 bytes: stop while they are in
        // the row.
        while x + 10 <= n {
            let [r, g, b] = unpack8(rgb, x);
            let sum = add(
                add(mul(r, k(66)), mul(g, k(129))),
                add(mul(b, k(25)), k(128)),
            );
            let luma = add(_mm256_srli_epi32::<8>(sum), k(16));
            y[x..x + 8].copy_from_slice(&bytes8(luma).to_le_bytes());
            x += 8;
        }
        x
    }

    /// [`super::chroma_row`] four blocks (eight pixels of each row) at a
    /// time, the same integer arithmetic in lanes. Returns how many blocks
    /// it converted.
    #[target_feature(enable = "avx2")]
    pub(super) fn chroma_row(top: &[u8], bottom: &[u8], u: &mut [u8], v: &mut [u8]) -> usize {
        let n = top.len().min(bottom.len()) / 3;
        let k = _mm256_set1_epi32;
        let (add, mul) = (_mm256_add_epi32, _mm256_mullo_epi32);
        // After the pairwise sums, blocks 0–1 sit in lanes 0–1 (R) and 2–3
        // (G), blocks 2–3 in lanes 4–5 and 6–7: gather each channel's four.
        let (first, second) = (
            _mm256_setr_epi32(0, 1, 4, 5, 0, 0, 0, 0),
            _mm256_setr_epi32(2, 3, 6, 7, 0, 0, 0, 0),
        );
        let mut x = 0;
        while x + 10 <= n {
            let [rt, gt, bt] = unpack8(top, x);
            let [rb, gb, bb] = unpack8(bottom, x);
            let (r, g, b) = (add(rt, rb), add(gt, gb), add(bt, bb));
            let rg = _mm256_hadd_epi32(r, g);
            let b_ = _mm256_hadd_epi32(b, b);
            let mean = |sums: __m256i, lanes: __m256i| {
                _mm256_srai_epi32::<2>(add(_mm256_permutevar8x32_epi32(sums, lanes), k(2)))
            };
            let (r, g, b) = (mean(rg, first), mean(rg, second), mean(b_, first));
            let cb = add(
                _mm256_srai_epi32::<8>(add(
                    _mm256_sub_epi32(mul(b, k(112)), add(mul(r, k(38)), mul(g, k(74)))),
                    k(128),
                )),
                k(128),
            );
            let cr = add(
                _mm256_srai_epi32::<8>(add(
                    _mm256_sub_epi32(mul(r, k(112)), add(mul(g, k(94)), mul(b, k(18)))),
                    k(128),
                )),
                k(128),
            );
            // Four U then four V, in lanes 0–3 and 4–7.
            let both = _mm256_permute2x128_si256::<0x20>(cb, cr);
            let bytes = bytes8(both).to_le_bytes();
            let c = x / 2;
            u[c..c + 4].copy_from_slice(&bytes[..4]);
            v[c..c + 4].copy_from_slice(&bytes[4..]);
            x += 8;
        }
        x / 2
    }
}

/// One limited-range sample to full-range RGB, in 16.16 fixed point
/// rounded to nearest (65536 × 255/219 for luma, `k` the matrix's chroma
/// terms: [`Matrix::to_rgb`]) and clamped.
#[inline(always)]
fn rgb_of(y: u8, u: u8, v: u8, k: [i32; 4]) -> [u8; 3] {
    terms(y, u, v, k).map(channel)
}

/// The three channels of [`rgb_of`] before the shift and clamp.
#[inline(always)]
fn terms(y: u8, u: u8, v: u8, [r_cr, g_cb, g_cr, b_cb]: [i32; 4]) -> [i32; 3] {
    let luma = 76309 * (i32::from(y) - 16) + 32768;
    let (cb, cr) = (i32::from(u) - 128, i32::from(v) - 128);
    [
        luma + r_cr * cr,
        luma - g_cb * cb - g_cr * cr,
        luma + b_cb * cb,
    ]
}

/// A 16.16 channel to a byte, clamped.
#[inline(always)]
fn channel(x: i32) -> u8 {
    (x >> 16).clamp(0, 255) as u8
}

/// BT.601 limited-range luma of one row of RGB24 pixels. Written over
/// exact chunks, so the compiler drops the bounds checks and vectorises.
fn luma_row(rgb: &[u8], y: &mut [u8]) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present, checked just above.
        done = unsafe { avx2::luma_row(rgb, y) };
    }
    for (out, px) in y[done..].iter_mut().zip(rgb[3 * done..].chunks_exact(3)) {
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
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present, checked just above.
        done = unsafe { avx2::chroma_row(top, bottom, u, v) };
    }
    for (((t, b), u), v) in top
        .chunks_exact(6)
        .zip(bottom.chunks_exact(6))
        .zip(u.iter_mut())
        .zip(v.iter_mut())
        .take(pairs)
        .skip(done)
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

    #[test]
    fn every_sample_is_the_scalar_formula_in_rows_of_any_length() {
        let mut state = 0x9e37_79b9_u32;
        let mut byte = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        };
        for (width, height) in [
            (8_usize, 2_usize),
            (9, 3),
            (10, 2),
            (18, 1),
            (19, 4),
            (64, 3),
            (99, 5),
        ] {
            let rgb: Vec<u8> = (0..width * height * 3).map(|_| byte()).collect();
            let yuv = Yuv420::from_rgb24(&rgb, width, height);
            let px = |x: usize, y: usize| {
                let at = 3 * (y.min(height - 1) * width + x.min(width - 1));
                [0, 1, 2].map(|c| i32::from(rgb[at + c]))
            };
            for y in 0..height {
                for x in 0..width {
                    let [r, g, b] = px(x, y);
                    let luma = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
                    assert_eq!(
                        i32::from(yuv.y[y * width + x]),
                        luma,
                        "{width}×{height} Y ({x}, {y})"
                    );
                }
            }
            let cw = width.div_ceil(2);
            for cy in 0..height.div_ceil(2) {
                for cx in 0..cw {
                    let (x, y) = (2 * cx, 2 * cy);
                    let block = [px(x, y), px(x + 1, y), px(x, y + 1), px(x + 1, y + 1)];
                    let [r, g, b] =
                        [0, 1, 2].map(|c| (block.iter().map(|p| p[c]).sum::<i32>() + 2) >> 2);
                    let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
                    let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
                    let at = cy * cw + cx;
                    assert_eq!(i32::from(yuv.u[at]), u, "{width}×{height} U ({cx}, {cy})");
                    assert_eq!(i32::from(yuv.v[at]), v, "{width}×{height} V ({cx}, {cy})");
                }
            }
        }
    }

    #[test]
    fn yuv_to_rgb_is_the_limited_range_matrix_in_bt601_and_bt709() {
        for matrix in [Matrix::Bt601, Matrix::Bt709] {
            let (kr, kb) = matrix.weights();
            let kg = 1.0 - kr - kb;
            let k = matrix.to_rgb();
            // Every third value of each component, against the matrix in
            // f64.
            let mut off_by_one = 0;
            for y in (0..=255u8).step_by(3) {
                for u in (0..=255u8).step_by(3) {
                    for v in (0..=255u8).step_by(3) {
                        let (l, cb, cr) = (
                            (f64::from(y) - 16.0) * 255.0 / 219.0,
                            (f64::from(u) - 128.0) * 255.0 / 224.0,
                            (f64::from(v) - 128.0) * 255.0 / 224.0,
                        );
                        let (r, b) = (l + 2.0 * (1.0 - kr) * cr, l + 2.0 * (1.0 - kb) * cb);
                        let exact = [r, (l - kr * r - kb * b) / kg, b];
                        for (got, want) in rgb_of(y, u, v, k).into_iter().zip(exact) {
                            let diff = (f64::from(got) - want.round().clamp(0.0, 255.0)).abs();
                            assert!(diff <= 1.0, "{matrix:?} ({y}, {u}, {v}): {got} for {want}");
                            off_by_one += usize::from(diff > 0.0);
                        }
                    }
                }
            }
            // Only near a rounding boundary, where the 16.16 coefficients'
            // own rounding tips it: under one sample in a thousand.
            let samples = 86 * 86 * 86 * 3;
            assert!(
                off_by_one * 1000 < samples,
                "{matrix:?}: {off_by_one} of {samples} samples off by one"
            );
        }
    }

    #[test]
    fn black_white_and_the_primaries_survive_a_round_trip() {
        for rgb in [
            [0, 0, 0],
            [255, 255, 255],
            [255, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
        ] {
            let back = Yuv420::from_rgb24(&rgb.repeat(4), 2, 2).to_rgb24();
            for px in back.chunks_exact(3) {
                for (got, want) in px.iter().zip(rgb) {
                    assert!(got.abs_diff(want) <= 2, "{rgb:?} came back as {px:?}");
                }
            }
        }
        let grey = Yuv420::from_rgb24(&[0, 0, 0, 255, 255, 255].repeat(2), 2, 2);
        assert_eq!(grey.view().y, [16, 235, 16, 235]);
        assert_eq!(grey.to_rgb24(), [0, 0, 0, 255, 255, 255].repeat(2));
    }

    #[test]
    fn nv12_planar_odd_sizes_and_strides_give_the_same_pixels() {
        // Rows long enough for the vector path and its tail, and short ones.
        for (width, height) in [(67, 5), (7, 5), (1, 1), (6, 4), (2, 3), (34, 2)] {
            let rgb: Vec<u8> = (0..width * height * 3)
                .map(|i| (i * 37 % 251) as u8)
                .collect();
            let yuv = Yuv420::from_rgb24(&rgb, width, height);
            let reference = yuv.to_rgb24();
            // Each 2×2 block shares its chroma; luma is per pixel.
            let cw = width.div_ceil(2);
            for (i, px) in reference.chunks_exact(3).enumerate() {
                let (x, y) = (i % width, i / width);
                let c = (y / 2) * cw + x / 2;
                let k = Matrix::Bt601.to_rgb();
                assert_eq!(px, rgb_of(yuv.y[i], yuv.u[c], yuv.v[c], k), "({x}, {y})");
            }
            // Padded rows, planar and interleaved.
            let (ys, cs) = (width + 3, 2 * cw + 5);
            let ch = height.div_ceil(2);
            let mut y = vec![255u8; ys * height];
            let (mut u, mut v, mut uv) =
                (vec![9u8; cs * ch], vec![9u8; cs * ch], vec![9u8; cs * ch]);
            for row in 0..height {
                y[row * ys..row * ys + width].copy_from_slice(&yuv.y[row * width..][..width]);
            }
            for row in 0..ch {
                for x in 0..cw {
                    let (su, sv) = (yuv.u[row * cw + x], yuv.v[row * cw + x]);
                    (u[row * cs + x], v[row * cs + x]) = (su, sv);
                    (uv[row * cs + 2 * x], uv[row * cs + 2 * x + 1]) = (su, sv);
                }
            }
            let convert = |chroma| {
                let mut out = vec![0u8; width * height * 3 + 4];
                let view = Yuv420View {
                    y: &y,
                    y_stride: ys,
                    chroma,
                    matrix: Matrix::Bt601,
                };
                yuv420_to_rgb24(view, width, height, &mut out);
                assert_eq!(out[width * height * 3..], [0; 4], "wrote past the picture");
                out.truncate(width * height * 3);
                out
            };
            let planar = convert(Chroma::Planar {
                u: &u,
                u_stride: cs,
                v: &v,
                v_stride: cs,
            });
            let nv12 = convert(Chroma::Interleaved {
                uv: &uv,
                stride: cs,
            });
            assert_eq!(planar, reference, "{width}×{height} planar");
            assert_eq!(nv12, reference, "{width}×{height} nv12");
        }
    }

    #[test]
    fn every_pixel_is_the_scalar_conversion_of_its_samples() {
        // Arbitrary bytes (foot- and headroom too, so the clamps are
        // exercised) in rows of every length around the vector width.
        let mut state = 0x2545_f491_u32;
        let mut byte = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        };
        for width in [8_usize, 9, 10, 11, 17, 18, 26, 31, 64, 99] {
            let height = 3_usize;
            let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
            let y: Vec<u8> = (0..width * height).map(|_| byte()).collect();
            let uv: Vec<u8> = (0..2 * cw * ch).map(|_| byte()).collect();
            let (u, v) = uv.split_at(cw * ch);
            let matrix = [Matrix::Bt601, Matrix::Bt709][width % 2];
            let k = matrix.to_rgb();
            let convert = |chroma| {
                let mut rgb = vec![0u8; width * height * 3];
                let view = Yuv420View {
                    y: &y,
                    y_stride: width,
                    chroma,
                    matrix,
                };
                yuv420_to_rgb24(view, width, height, &mut rgb);
                rgb
            };
            let planar = convert(Chroma::Planar {
                u,
                u_stride: cw,
                v,
                v_stride: cw,
            });
            let nv12 = convert(Chroma::Interleaved {
                uv: &uv,
                stride: 2 * cw,
            });
            for i in 0..width * height {
                let (row, x) = (i / width, i % width);
                let c = (row / 2) * cw + x / 2;
                let want = rgb_of(y[i], u[c], v[c], k);
                assert_eq!(
                    planar[3 * i..3 * i + 3],
                    want,
                    "planar {width} wide, ({x}, {row})"
                );
                let nv = rgb_of(y[i], uv[2 * c], uv[2 * c + 1], k);
                assert_eq!(
                    nv12[3 * i..3 * i + 3],
                    nv,
                    "nv12 {width} wide, ({x}, {row})"
                );
            }
        }
    }

    #[test]
    #[should_panic(expected = "smaller than 4×4")]
    fn a_short_plane_is_refused() {
        let yuv = Yuv420::new(4, 4);
        let view = Yuv420View {
            y: &yuv.y[..12],
            ..yuv.view()
        };
        yuv420_to_rgb24(view, 4, 4, &mut [0; 48]);
    }
}
