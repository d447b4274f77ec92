//! Decoded pictures to packed RGB24, in the stream's colour matrix.
//!
//! Limited-range YUV 4:2:0, planar or NV12 (what H.264 decodes to in
//! software and what NVDEC's frames download as), in BT.601 (tagged so, or
//! untagged, which swscale and the ffmpeg CLI read as BT.601 too) or BT.709
//! (most HD footage) goes through Kino's own kernel
//! ([`kino_kernels::yuv::yuv420_to_rgb24`], rows in parallel): swscale's
//! legacy entry point converts on one thread, in series with the decoder.
//! The kernel uses swscale's unscaled path's chroma (each sample colours
//! its 2×2 block), so the frames are what swscale gave within three levels:
//! swscale's table-driven path sits up to a level or so under the matrix,
//! which the kernel rounds to nearest. Every other picture (other
//! matrices, full range, 4:2:2, 10-bit, …) goes through swscale, told the
//! frame's matrix and range (by default it reads every picture as
//! limited-range BT.601).

use anyhow::{Result, anyhow, bail};
use ff::format::Pixel;
use ff::frame;
use ff::software::scaling;
use ff::util::color;
use ffmpeg_next as ff;
use kino_kernels::yuv::{Chroma, Matrix, Yuv420View, yuv420_to_rgb24};

/// Converts decoded pictures to RGB24, keeping a swscale context for the
/// formats the kernel does not take.
#[derive(Default)]
pub(crate) struct ToRgb {
    scaler: Option<(scaling::Context, Input)>,
}

/// What a swscale context was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Input {
    format: Pixel,
    width: u32,
    height: u32,
    space: color::Space,
    range: color::Range,
}

impl ToRgb {
    /// `picture` as tight RGB24 rows (`3 × width` bytes each).
    pub(crate) fn convert(&mut self, picture: &frame::Video) -> Result<Vec<u8>> {
        let (w, h) = (picture.width() as usize, picture.height() as usize);
        match yuv420(picture) {
            Some(yuv) => {
                let mut rgb = vec![0; w * h * 3];
                yuv420_to_rgb24(yuv, w, h, &mut rgb);
                Ok(rgb)
            }
            None => self.swscale(picture),
        }
    }

    /// `picture` as tight RGB24 rows, through swscale.
    pub(crate) fn swscale(&mut self, picture: &frame::Video) -> Result<Vec<u8>> {
        let (w, h) = (picture.width(), picture.height());
        let input = Input {
            format: picture.format(),
            width: w,
            height: h,
            space: picture.color_space(),
            range: picture.color_range(),
        };
        if !matches!(&self.scaler, Some((_, made)) if *made == input) {
            let fmt = input.format;
            let mut ctx =
                scaling::Context::get(fmt, w, h, Pixel::RGB24, w, h, scaling::Flags::BILINEAR)
                    .map_err(|e| anyhow!("cannot convert pixel format {fmt:?} to rgb24: {e}"))?;
            // The frame's matrix and range (an unknown matrix reads as
            // BT.601, swscale's default); RGB out is full range. swscale
            // answers -1 for formats without a matrix (RGB, grey), which
            // keep their default conversion.
            // SAFETY: the context was just made; the coefficient tables
            // are swscale's own, for any colour-space value.
            unsafe {
                let space = ff::ffi::AVColorSpace::from(input.space) as std::ffi::c_int;
                let full = std::ffi::c_int::from(input.range == color::Range::JPEG);
                let rgb = ff::ffi::sws_getCoefficients(ff::ffi::SWS_CS_DEFAULT as std::ffi::c_int);
                ff::ffi::sws_setColorspaceDetails(
                    ctx.as_mut_ptr(),
                    ff::ffi::sws_getCoefficients(space),
                    full,
                    rgb,
                    1,
                    0,
                    1 << 16,
                    1 << 16,
                );
            }
            self.scaler = Some((ctx, input));
        }
        let Some((scaler, ..)) = self.scaler.as_mut() else {
            bail!("no pixel converter");
        };
        // Convert straight into the frame's buffer (packed rows, stride
        // `3 * w`), sparing a copy out of an FFmpeg frame. Some SIMD paths
        // write whole blocks of pixels, so the buffer gets slack at the end.
        let row = w as usize * 3;
        let len = row * h as usize;
        let mut data = vec![0u8; len + 64];
        let dst_ptrs: [*mut u8; 4] = [
            data.as_mut_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        ];
        let dst_strides: [std::ffi::c_int; 4] = [row as std::ffi::c_int, 0, 0, 0];
        // SAFETY: the scaler was built for this frame's format and size
        // (checked above), the source planes and strides come from the decoded
        // frame, and the destination holds `h` rows of `3 * w` bytes plus slack.
        let lines = unsafe {
            let src = picture.as_ptr();
            ff::ffi::sws_scale(
                scaler.as_mut_ptr(),
                (*src).data.as_ptr() as *const *const u8,
                (*src).linesize.as_ptr(),
                0,
                h as std::ffi::c_int,
                dst_ptrs.as_ptr(),
                dst_strides.as_ptr(),
            )
        };
        if lines != h as std::ffi::c_int {
            bail!("pixel conversion to rgb24 failed ({lines} of {h} rows)");
        }
        data.truncate(len);
        Ok(data)
    }
}

/// The picture's planes, when it is limited-range YUV 4:2:0 in a matrix
/// the kernel takes: BT.601 (tagged so, or untagged, as swscale and the
/// ffmpeg CLI read it) or BT.709.
fn yuv420(picture: &frame::Video) -> Option<Yuv420View<'_>> {
    let matrix = match picture.color_space() {
        color::Space::Unspecified | color::Space::BT470BG | color::Space::SMPTE170M => {
            Matrix::Bt601
        }
        color::Space::BT709 => Matrix::Bt709,
        _ => return None,
    };
    if picture.color_range() == color::Range::JPEG {
        return None;
    }
    let chroma = match picture.format() {
        Pixel::YUV420P => Chroma::Planar {
            u: picture.data(1),
            u_stride: picture.stride(1),
            v: picture.data(2),
            v_stride: picture.stride(2),
        },
        Pixel::NV12 => Chroma::Interleaved {
            uv: picture.data(1),
            stride: picture.stride(1),
        },
        _ => return None,
    };
    Some(Yuv420View {
        y: picture.data(0),
        y_stride: picture.stride(0),
        chroma,
        matrix,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A picture of this format with every plane filled by `sample(plane,
    /// x, y)` (NV12's second plane takes x over its bytes, U then V).
    fn picture(
        format: Pixel,
        w: u32,
        h: u32,
        sample: impl Fn(usize, usize, usize) -> u8,
    ) -> frame::Video {
        let mut frame = frame::Video::new(format, w, h);
        for plane in 0..frame.planes() {
            let (stride, rows) = (frame.stride(plane), frame.plane_height(plane) as usize);
            let data = frame.data_mut(plane);
            for y in 0..rows {
                for x in 0..stride {
                    data[y * stride + x] = sample(plane, x, y);
                }
            }
        }
        frame
    }

    /// Largest and mean absolute difference.
    fn diff(a: &[u8], b: &[u8]) -> (u8, f64) {
        assert_eq!(a.len(), b.len());
        let max = a
            .iter()
            .zip(b)
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap_or(0);
        let sum: u64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        (max, sum as f64 / a.len() as f64)
    }

    #[test]
    fn yuv420p_is_swscales_picture_within_three_levels() {
        crate::init().unwrap();
        // Gradients across the legal range, with noise (luma and chroma
        // in their studio ranges, as an encoder leaves them).
        let noise = |x: usize, y: usize| (x * 7919 + y * 104_729) % 13;
        let yuv = picture(Pixel::YUV420P, 320, 180, |plane, x, y| match plane {
            0 => (16 + (x + y + noise(x, y)) % 220) as u8,
            1 => (16 + (3 * x + noise(x, y)) % 225) as u8,
            _ => (16 + (2 * y + x + noise(y, x)) % 225) as u8,
        });
        let mut convert = ToRgb::default();
        let ours = convert.convert(&yuv).unwrap();
        let theirs = convert.swscale(&yuv).unwrap();
        let (max, mean) = diff(&ours, &theirs);
        // swscale's table-driven path sits a little under the matrix
        // (which ours rounds to nearest: kino-kernels checks it against
        // the matrix in f64), never over it by more than a level.
        for channel in 0..3 {
            let signed: i64 = ours
                .iter()
                .zip(&theirs)
                .skip(channel)
                .step_by(3)
                .map(|(a, b)| i64::from(*a) - i64::from(*b))
                .sum();
            let bias = signed as f64 / (320.0 * 180.0);
            assert!(
                (0.0..1.5).contains(&bias),
                "channel {channel}: bias {bias:.3}"
            );
        }
        println!("yuv420p → rgb24 against swscale: max {max}, mean {mean:.3}");
        assert!(max <= 3 && mean < 1.0, "max {max}, mean {mean}");
    }

    /// A picture tagged BT.709 is converted in BT.709, not swscale's
    /// default BT.601, by the kernel and by swscale (told the matrix):
    /// checked against the matrix in f64.
    #[test]
    fn a_bt709_picture_is_converted_in_its_own_matrix() {
        crate::init().unwrap();
        let (y, u, v) = (120u8, 80u8, 190u8);
        let mut hd = picture(Pixel::YUV420P, 16, 8, |plane, _, _| [y, u, v][plane]);
        hd.set_color_space(color::Space::BT709);
        assert_eq!(yuv420(&hd).map(|view| view.matrix), Some(Matrix::Bt709));
        let matrix = |kr: f64, kb: f64| {
            let l = (f64::from(y) - 16.0) * 255.0 / 219.0;
            let (cb, cr) = (
                (f64::from(u) - 128.0) * 255.0 / 224.0,
                (f64::from(v) - 128.0) * 255.0 / 224.0,
            );
            let kg = 1.0 - kr - kb;
            let r = l + 2.0 * (1.0 - kr) * cr;
            let b = l + 2.0 * (1.0 - kb) * cb;
            let g = (l - kr * r - kb * b) / kg;
            [r, g, b].map(|c| c.round().clamp(0.0, 255.0) as u8)
        };
        let (bt709, bt601) = (matrix(0.2126, 0.0722), matrix(0.299, 0.114));
        let mut convert = ToRgb::default();
        let ours = convert.convert(&hd).unwrap();
        let swscale = convert.swscale(&hd).unwrap();
        for (by, rgb) in [("the kernel", ours), ("swscale", swscale)] {
            for (k, (&got, want)) in rgb[..3].iter().zip(bt709).enumerate() {
                assert!(
                    got.abs_diff(want) <= 2,
                    "{by}, channel {k}: {got}, BT.709 gives {want}"
                );
            }
            assert!(
                rgb[..3].iter().zip(bt601).any(|(a, b)| a.abs_diff(b) > 8),
                "{by}: BT.601 would give {bt601:?}, not {:?}",
                &rgb[..3]
            );
        }
    }

    #[test]
    fn nv12_is_the_same_picture_as_yuv420p() {
        crate::init().unwrap();
        let sample = |plane: usize, x: usize, y: usize| match plane {
            0 => ((x * 5 + y * 3) % 256) as u8,
            1 => ((x * 11 + y * 17) % 256) as u8,
            _ => ((x * 13 + y * 7) % 256) as u8,
        };
        let planar = picture(Pixel::YUV420P, 63, 35, sample);
        // The same samples, interleaved U V.
        let nv12 = picture(Pixel::NV12, 63, 35, |plane, x, y| match plane {
            0 => sample(0, x, y),
            _ => sample(1 + x % 2, x / 2, y),
        });
        let mut convert = ToRgb::default();
        assert_eq!(
            convert.convert(&nv12).unwrap(),
            convert.convert(&planar).unwrap()
        );
    }

    #[test]
    fn full_range_and_other_formats_go_through_swscale() {
        crate::init().unwrap();
        let mut full = picture(Pixel::YUV420P, 32, 16, |plane, x, _| {
            if plane == 0 { (x * 8) as u8 } else { 128 }
        });
        full.set_color_range(color::Range::JPEG);
        assert!(yuv420(&full).is_none());
        let mut convert = ToRgb::default();
        let rgb = convert.convert(&full).unwrap();
        // Full range: luma 0 is black, 128 mid grey and 248 near white
        // (read as limited range, 128 would be 130 and 248 clipped).
        assert_eq!(&rgb[..3], [0, 0, 0]);
        assert!(rgb[3 * 16].abs_diff(128) <= 1, "{}", rgb[3 * 16]);
        assert!((246..255).contains(&rgb[3 * 31]), "{}", rgb[3 * 31]);
        let yuv444 = picture(Pixel::YUV444P, 8, 8, |_, _, _| 128);
        assert!(yuv420(&yuv444).is_none());
        assert_eq!(convert.convert(&yuv444).unwrap().len(), 8 * 8 * 3);
    }
}
