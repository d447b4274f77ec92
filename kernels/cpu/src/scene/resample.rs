//! The inner loops of an axis-aligned camera window (no rotation): every
//! output row samples the same source columns, so the columns and their
//! weights are worked out once per frame ([`Columns`]); each row then blends
//! its two source rows over the span the columns cover and takes two taps of
//! that blend per output pixel. With AVX2 both steps run eight pixels at a
//! time; without it, in scalar code. The two give the same bytes: each
//! channel is `(a * (256 - f) + b * f + 128) >> 8` with 8-bit weights, and
//! that sum never exceeds 16 bits, so the SIMD lanes are exact.

use super::Level;

const MASK: u32 = 0x00FF_00FF;
const ROUND: u32 = 0x0080_0080;

/// `a` toward `b` by `f / 256`, per 8-bit channel of a packed pixel, two
/// channels per operation.
#[inline(always)]
pub(super) fn lerp2(a: u32, b: u32, f: u32) -> u32 {
    // Each 16-bit lane holds at most 255 * 256 + 128: no carry between lanes.
    let rb = ((a & MASK) * (256 - f) + (b & MASK) * f + ROUND) >> 8 & MASK;
    let ga = (((a >> 8) & MASK) * (256 - f) + ((b >> 8) & MASK) * f + ROUND) >> 8 & MASK;
    rb | ga << 8
}

/// The source columns of one frame's output pixels, relative to the first
/// column the frame reads.
pub(super) struct Columns {
    /// First source column read.
    first: usize,
    /// Left tap of each output pixel; the right tap is the next one.
    left: Vec<i32>,
    /// Weight of the right tap, 0..=255.
    frac: Vec<i32>,
    /// Source columns read: `first..first + span`.
    span: usize,
}

impl Columns {
    /// Output pixel `x` samples around level column `u + x * du` (16.16
    /// fixed point, clamped to the level), for `n` pixels; `du > 0`.
    pub(super) fn new(level: &Level, u: f32, du: f32, n: usize) -> Self {
        let max_u = (level.width as i32 - 1) << 16;
        let u0 = (u * super::FIX) as i32;
        let duf = (du * super::FIX) as i32;
        let first = (u0.clamp(0, max_u) >> 16) as usize;
        let last_u = i64::from(u0) + i64::from(duf) * (n as i64 - 1);
        let last = ((last_u.clamp(0, i64::from(max_u)) >> 16) as usize + 1).min(level.width - 1);
        let span = last + 1 - first;
        let mut left = Vec::with_capacity(n);
        let mut frac = Vec::with_capacity(n);
        let mut uf = u0;
        for _ in 0..n {
            let cu = uf.clamp(0, max_u);
            // Within 0..span: cu >= first << 16, and cu >> 16 <= last.
            left.push(((cu >> 16) - first as i32).clamp(0, span as i32 - 1));
            frac.push((cu >> 8) & 0xFF);
            uf = uf.wrapping_add(duf);
        }
        Self {
            first,
            left,
            frac,
            span,
        }
    }

    /// Writes one output row (packed RGB24) from level rows `y0` and `y1`
    /// blended by `fy` (0..=255). `tmp` is scratch, reused across rows.
    pub(super) fn sample_row(
        &self,
        level: &Level,
        y0: usize,
        y1: usize,
        fy: u32,
        row: &mut [u8],
        tmp: &mut Vec<u32>,
    ) {
        let at = |y: usize| &level.px[y * level.width + self.first..][..self.span];
        let (r0, r1) = (at(y0), at(y1));
        // One column past the span repeats the last, so the right tap of
        // the last column needs no check.
        tmp.resize(self.span + 1, 0);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is present (checked just above), and every left
            // tap is in 0..span (`new` clamps them) while tmp holds span + 1.
            unsafe {
                avx2::blend_rows(r0, r1, fy, &mut tmp[..self.span]);
                tmp[self.span] = tmp[self.span - 1];
                avx2::taps(tmp, &self.left, &self.frac, row);
            }
            return;
        }
        for ((t, &a), &b) in tmp.iter_mut().zip(r0).zip(r1) {
            *t = lerp2(a, b, fy);
        }
        tmp[self.span] = tmp[self.span - 1];
        for ((out, &l), &f) in row.chunks_exact_mut(3).zip(&self.left).zip(&self.frac) {
            let l = l as usize;
            let p = lerp2(tmp[l], tmp[l + 1], f as u32);
            out.copy_from_slice(&p.to_le_bytes()[..3]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// [`super::lerp2`] on eight packed pixels, each with its own weight
    /// (one per 32-bit lane of `f`): channels widened to 16 bits, where the
    /// sum is exact.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn lerp8(a: __m256i, b: __m256i, f: __m256i) -> __m256i {
        let zero = _mm256_setzero_si256();
        // Each pixel's weight in both 16-bit halves of its lane, then in
        // the four channel lanes of the pixels the unpacks below pair up.
        let f = _mm256_or_si256(f, _mm256_slli_epi32(f, 16));
        let half = |a: __m256i, b: __m256i, f: __m256i| {
            let inv = _mm256_sub_epi16(_mm256_set1_epi16(256), f);
            let sum = _mm256_add_epi16(_mm256_mullo_epi16(a, inv), _mm256_mullo_epi16(b, f));
            _mm256_srli_epi16(_mm256_add_epi16(sum, _mm256_set1_epi16(128)), 8)
        };
        let lo = half(
            _mm256_unpacklo_epi8(a, zero),
            _mm256_unpacklo_epi8(b, zero),
            _mm256_unpacklo_epi32(f, f),
        );
        let hi = half(
            _mm256_unpackhi_epi8(a, zero),
            _mm256_unpackhi_epi8(b, zero),
            _mm256_unpackhi_epi32(f, f),
        );
        _mm256_packus_epi16(lo, hi)
    }

    /// `out[i] = lerp2(r0[i], r1[i], fy)`.
    #[target_feature(enable = "avx2")]
    pub(super) fn blend_rows(r0: &[u32], r1: &[u32], fy: u32, out: &mut [u32]) {
        let n = out.len();
        assert!(r0.len() >= n && r1.len() >= n);
        let f = _mm256_set1_epi32(fy as i32);
        let mut x = 0;
        while x + 8 <= n {
            // SAFETY: x + 8 <= n, and all three slices hold n pixels.
            unsafe {
                let a = _mm256_loadu_si256(r0.as_ptr().add(x).cast());
                let b = _mm256_loadu_si256(r1.as_ptr().add(x).cast());
                _mm256_storeu_si256(out.as_mut_ptr().add(x).cast(), lerp8(a, b, f));
            }
            x += 8;
        }
        for i in x..n {
            out[i] = super::lerp2(r0[i], r1[i], fy);
        }
    }

    /// Output pixel `i` (RGB24) is `lerp2(tmp[left[i]], tmp[left[i] + 1],
    /// frac[i])`.
    ///
    /// # Safety
    /// Every `left[i]` is in `0..tmp.len() - 1`, and AVX2 is present.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn taps(tmp: &[u32], left: &[i32], frac: &[i32], row: &mut [u8]) {
        let n = left.len();
        assert!(frac.len() == n && row.len() == 3 * n);
        // RGBA -> RGB within each 128-bit lane: four pixels into 12 bytes.
        let rgb = _mm256_setr_epi8(
            0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, //
            0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
        );
        let (one, seven) = (_mm256_set1_epi32(1), _mm256_set1_epi32(7));
        let mut x = 0;
        // Two 16-byte stores per eight pixels end 4 bytes past their 24:
        // stop while that is still inside the row.
        while x + 10 <= n {
            let (l0, l7) = (left[x], left[x + 7]);
            // SAFETY: the gathers read tmp[left[i]] and tmp[left[i] + 1],
            // in bounds by the caller's promise; the permute path reads
            // tmp[l0..l0 + 16], checked. x + 8 <= n, and the stores end at
            // 3x + 28 <= 3n.
            unsafe {
                let idx = _mm256_loadu_si256(left.as_ptr().add(x).cast());
                let f = _mm256_loadu_si256(frac.as_ptr().add(x).cast());
                let (a, b) = if (0..=14).contains(&(l7 - l0)) && l0 as usize + 16 <= tmp.len() {
                    // Within sixteen pixels of l0 (the usual case: the
                    // level is chosen for a scale near 1, and the columns
                    // only go right): permutes of two loads, not gathers.
                    let base = tmp.as_ptr().add(l0 as usize);
                    let lo = _mm256_loadu_si256(base.cast());
                    let hi = _mm256_loadu_si256(base.add(8).cast());
                    let pick = |r: __m256i| {
                        let from_hi = _mm256_cmpgt_epi32(r, seven);
                        _mm256_blendv_epi8(
                            _mm256_permutevar8x32_epi32(lo, r),
                            _mm256_permutevar8x32_epi32(hi, r),
                            from_hi,
                        )
                    };
                    let r = _mm256_sub_epi32(idx, _mm256_set1_epi32(l0));
                    (pick(r), pick(_mm256_add_epi32(r, one)))
                } else {
                    (
                        _mm256_i32gather_epi32::<4>(tmp.as_ptr().cast(), idx),
                        _mm256_i32gather_epi32::<4>(tmp.as_ptr().add(1).cast(), idx),
                    )
                };
                let p = _mm256_shuffle_epi8(lerp8(a, b, f), rgb);
                let dst = row.as_mut_ptr().add(3 * x);
                _mm_storeu_si128(dst.cast(), _mm256_castsi256_si128(p));
                _mm_storeu_si128(dst.add(12).cast(), _mm256_extracti128_si256::<1>(p));
            }
            x += 8;
        }
        for i in x..n {
            let l = left[i] as usize;
            let p = super::lerp2(tmp[l], tmp[l + 1], frac[i] as u32);
            row[3 * i..3 * i + 3].copy_from_slice(&p.to_le_bytes()[..3]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 path and the scalar one write the same bytes, at scales
    /// that take the permute path and the gather path.
    #[test]
    fn simd_and_scalar_rows_agree() {
        let (w, h) = (700usize, 4usize);
        let px: Vec<u32> = (0..w * h)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761) | 0xFF00_0000)
            .collect();
        let level = Level {
            width: w,
            height: h,
            px,
        };
        for (u, du) in [
            (3.3f32, 0.8f32),
            (0.0, 1.0),
            (-5.0, 1.37),
            (10.7, 2.9),
            (600.0, 0.3),
        ] {
            let n = 203;
            let cols = Columns::new(&level, u, du, n);
            let mut tmp = Vec::new();
            let mut fast = vec![0u8; 3 * n];
            cols.sample_row(&level, 1, 2, 77, &mut fast, &mut tmp);
            // The scalar path, by hand.
            let mut slow = vec![0u8; 3 * n];
            let at = |y: usize, c: usize| level.px[y * w + cols.first + c];
            let blend: Vec<u32> = (0..=cols.span)
                .map(|c| {
                    let c = c.min(cols.span - 1);
                    lerp2(at(1, c), at(2, c), 77)
                })
                .collect();
            for (i, out) in slow.chunks_exact_mut(3).enumerate() {
                let l = cols.left[i] as usize;
                let p = lerp2(blend[l], blend[l + 1], cols.frac[i] as u32);
                out.copy_from_slice(&p.to_le_bytes()[..3]);
            }
            assert_eq!(fast, slow, "u {u}, du {du}");
        }
    }
}
