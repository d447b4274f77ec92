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
//!
//! BT.2020 pictures — HDR (PQ, HLG), as phones record by default, or SDR
//! in the wider gamut — go through [`kino_kernels::hdr`]: tone mapped (HDR)
//! and brought into BT.709, which everything downstream works in. Read as
//! BT.709 they would come out grey and washed out. 10-bit 4:2:0 (planar,
//! or P010 as NVDEC's frames download) goes to the kernel as it is; other
//! BT.2020 layouts are first made 10-bit 4:2:0 by swscale (a change of
//! layout only). The peak the tone map keeps white is the one the stream
//! says (its content light level, else its mastering display), else
//! [`kino_kernels::hdr::DEFAULT_PEAK_NITS`]. Full-range BT.2020, which no
//! camera we know of writes, goes through swscale as it did.

use anyhow::{Result, anyhow, bail};
use ff::format::Pixel;
use ff::frame;
use ff::software::scaling;
use ff::util::color;
use ffmpeg_next as ff;
use kino_kernels::hdr::{DEFAULT_PEAK_NITS, ToSdr, Transfer, Yuv420View10};
use kino_kernels::yuv::{Chroma, Matrix, Yuv420View, yuv420_to_rgb24};

/// Converts decoded pictures to RGB24, keeping a swscale context for the
/// formats the kernels do not take.
#[derive(Default)]
pub(crate) struct ToRgb {
    scaler: Option<(scaling::Context, Input)>,
    /// BT.2020 pictures in other layouts, to 10-bit 4:2:0.
    to_10bit: Option<(scaling::Context, Input)>,
    /// The stream's tone map, and the transfer and peak it was made for.
    to_sdr: Option<((Transfer, f32), ToSdr)>,
    /// The peak the stream last said it has: HEVC repeats its light level
    /// and mastering display with some frames only, and every frame of a
    /// stream is tone mapped alike.
    said_peak: Option<f32>,
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
        if let Some(transfer) = bt2020(picture) {
            return self.tone_mapped(picture, transfer);
        }
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
        let input = Input::of(picture);
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

impl ToRgb {
    /// A BT.2020 picture as BT.709 RGB24, tone mapped if it is HDR.
    fn tone_mapped(&mut self, picture: &frame::Video, transfer: Transfer) -> Result<Vec<u8>> {
        let (w, h) = (picture.width() as usize, picture.height() as usize);
        self.tone_map_for(picture, transfer);
        let Some((_, to_sdr)) = &self.to_sdr else {
            bail!("no tone map");
        };
        let mut rgb = vec![0; w * h * 3];
        if let Some(view) = yuv420_10bit(picture) {
            to_sdr.convert(view, w, h, &mut rgb);
            return Ok(rgb);
        }
        let input = Input::of(picture);
        if !matches!(&self.to_10bit, Some((_, made)) if *made == input) {
            let (fmt, w, h) = (input.format, input.width, input.height);
            let ctx = scaling::Context::get(
                fmt,
                w,
                h,
                Pixel::YUV420P10LE,
                w,
                h,
                scaling::Flags::BILINEAR,
            )
            .map_err(|e| anyhow!("cannot convert pixel format {fmt:?} to yuv420p10le: {e}"))?;
            self.to_10bit = Some((ctx, input));
        }
        let Some((scaler, _)) = self.to_10bit.as_mut() else {
            bail!("no pixel converter");
        };
        let mut ten = frame::Video::empty();
        scaler
            .run(picture, &mut ten)
            .map_err(|e| anyhow!("converting {:?} to yuv420p10le: {e}", input.format))?;
        let view = yuv420_10bit(&ten)
            .ok_or_else(|| anyhow!("swscale's yuv420p10le planes are not 16-bit words"))?;
        to_sdr.convert(view, w, h, &mut rgb);
        Ok(rgb)
    }
}

impl ToRgb {
    /// The stream's tone map for `picture` (of the stream's `transfer`),
    /// made anew when its transfer or the peak the stream says changes.
    fn tone_map_for(&mut self, picture: &frame::Video, transfer: Transfer) -> &ToSdr {
        if let Some(peak) = peak_nits(picture) {
            self.said_peak = Some(peak);
        }
        let key = (transfer, self.said_peak.unwrap_or(DEFAULT_PEAK_NITS));
        if !matches!(&self.to_sdr, Some((made, _)) if *made == key) {
            self.to_sdr = None;
        }
        &self
            .to_sdr
            .get_or_insert_with(|| (key, ToSdr::new(key.0, key.1)))
            .1
    }

    /// How a decoded picture whose planes are `layout` (a GPU frame's
    /// software format) becomes RGB24 by the GPU's kernels, exactly as
    /// [`ToRgb::convert`] would make it from its download: NV12 in a
    /// matrix the YUV kernel takes, or P010 in BT.2020 (tone mapped when
    /// HDR). `None` for every other picture, which is downloaded.
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    pub(crate) fn device_plan(
        &mut self,
        picture: &frame::Video,
        layout: Pixel,
    ) -> Option<DevicePlan<'_>> {
        if picture.color_range() == color::Range::JPEG {
            return None;
        }
        let transfer = transfer_of(
            picture.color_transfer_characteristic(),
            picture.color_primaries(),
            picture.color_space(),
        );
        match (layout, transfer) {
            (Pixel::P010LE, Some(transfer)) => {
                Some(DevicePlan::ToSdr(self.tone_map_for(picture, transfer)))
            }
            (Pixel::NV12, None) => matrix_of(picture).map(DevicePlan::Yuv),
            _ => None,
        }
    }
}

/// What the GPU's kernels do to a decoded picture ([`ToRgb::device_plan`]).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
pub(crate) enum DevicePlan<'a> {
    /// NV12 to RGB24 in this matrix.
    Yuv(Matrix),
    /// P010 BT.2020 to BT.709 RGB24 by this tone map.
    ToSdr(&'a ToSdr),
}

impl Input {
    fn of(picture: &frame::Video) -> Self {
        Self {
            format: picture.format(),
            width: picture.width(),
            height: picture.height(),
            space: picture.color_space(),
            range: picture.color_range(),
        }
    }
}

/// The transfer of a limited-range BT.2020 YUV picture (HDR when tagged PQ
/// or HLG, whatever its primaries say; SDR when its primaries and matrix
/// are BT.2020), in a layout the HDR path takes; `None` for every other
/// picture.
fn bt2020(picture: &frame::Video) -> Option<Transfer> {
    if picture.color_range() == color::Range::JPEG || !cfg!(target_endian = "little") {
        return None;
    }
    let layout = matches!(
        picture.format(),
        Pixel::YUV420P10LE
            | Pixel::P010LE
            | Pixel::YUV422P10LE
            | Pixel::YUV444P10LE
            | Pixel::YUV420P12LE
            | Pixel::YUV422P12LE
            | Pixel::YUV444P12LE
            | Pixel::YUV420P
            | Pixel::NV12
    );
    let transfer = transfer_of(
        picture.color_transfer_characteristic(),
        picture.color_primaries(),
        picture.color_space(),
    )?;
    layout.then_some(transfer)
}

/// The HDR path's transfer for pictures tagged so: PQ or HLG whatever the
/// primaries say, SDR where primaries and matrix are BT.2020.
pub(crate) fn transfer_of(
    trc: color::TransferCharacteristic,
    primaries: color::Primaries,
    space: color::Space,
) -> Option<Transfer> {
    use color::TransferCharacteristic as Trc;
    match trc {
        Trc::SMPTE2084 => Some(Transfer::Pq),
        Trc::ARIB_STD_B67 => Some(Transfer::Hlg),
        _ if primaries == color::Primaries::BT2020 && space == color::Space::BT2020NCL => {
            Some(Transfer::Sdr)
        }
        _ => None,
    }
}

/// The brightest light the stream says it holds, in nits: its content
/// light level (MaxCLL), else its mastering display's peak.
fn peak_nits(picture: &frame::Video) -> Option<f32> {
    use frame::side_data::Type;
    // (FFmpeg's structs, read by offset: AVContentLightMetadata is
    // `unsigned MaxCLL, MaxFALL`; AVMasteringDisplayMetadata is nine
    // AVRationals — primaries, white point, min and max luminance — then
    // `int has_primaries, has_luminance`.)
    let int_at = |data: &[u8], at: usize| {
        data.get(at..at + 4)
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let cll = picture
        .side_data(Type::ContentLightLevel)
        .and_then(|sd| int_at(sd.data(), 0))
        .map(|max_cll| max_cll as u32)
        .filter(|&max_cll| max_cll > 0);
    if let Some(max_cll) = cll {
        return Some(max_cll as f32);
    }
    let mastering = picture.side_data(Type::MasteringDisplayMetadata)?;
    let data = mastering.data();
    let (num, den, has) = (int_at(data, 72)?, int_at(data, 76)?, int_at(data, 84)?);
    (has != 0 && num > 0 && den > 0).then(|| num as f32 / den as f32)
}

/// The picture's planes as 16-bit words, when it is 10-bit YUV 4:2:0
/// (`yuv420p10le`, or `p010le`, whose samples sit in the top bits).
fn yuv420_10bit(picture: &frame::Video) -> Option<Yuv420View10<'_>> {
    let words = |plane: usize| {
        // SAFETY: any two bytes are a valid u16; FFmpeg aligns its planes,
        // and a misaligned one is refused (the head would be non-empty).
        let (head, words, _) = unsafe { picture.data(plane).align_to::<u16>() };
        let stride = picture.stride(plane);
        (head.is_empty() && stride.is_multiple_of(2)).then_some((words, stride / 2))
    };
    let (y, y_stride) = words(0)?;
    let (chroma, shift) = match picture.format() {
        Pixel::YUV420P10LE => {
            let ((u, u_stride), (v, v_stride)) = (words(1)?, words(2)?);
            (
                Chroma::Planar {
                    u,
                    u_stride,
                    v,
                    v_stride,
                },
                0,
            )
        }
        Pixel::P010LE => {
            let (uv, stride) = words(1)?;
            (Chroma::Interleaved { uv, stride }, 6)
        }
        _ => return None,
    };
    Some(Yuv420View10 {
        y,
        y_stride,
        chroma,
        shift,
    })
}

/// The picture's matrix, when it is limited range and in one the YUV
/// kernel takes.
fn matrix_of(picture: &frame::Video) -> Option<Matrix> {
    if picture.color_range() == color::Range::JPEG {
        return None;
    }
    match picture.color_space() {
        color::Space::Unspecified | color::Space::BT470BG | color::Space::SMPTE170M => {
            Some(Matrix::Bt601)
        }
        color::Space::BT709 => Some(Matrix::Bt709),
        _ => None,
    }
}

/// The picture's planes, when it is limited-range YUV 4:2:0 in a matrix
/// the kernel takes: BT.601 (tagged so, or untagged, as swscale and the
/// ffmpeg CLI read it) or BT.709.
fn yuv420(picture: &frame::Video) -> Option<Yuv420View<'_>> {
    let matrix = matrix_of(picture)?;
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

    /// A 16-bit-word picture of this format, tagged BT.2020 with
    /// `transfer`, every plane filled by `sample(plane, x, y)` (already
    /// shifted where the format wants it).
    fn picture16(
        format: Pixel,
        (w, h): (u32, u32),
        transfer: color::TransferCharacteristic,
        sample: impl Fn(usize, usize, usize) -> u16,
    ) -> frame::Video {
        // (each word's bytes, little end first, as `picture` fills bytes)
        let mut frame = picture(format, w, h, |plane, x, y| {
            sample(plane, x / 2, y).to_le_bytes()[x % 2]
        });
        frame.set_color_primaries(color::Primaries::BT2020);
        frame.set_color_space(color::Space::BT2020NCL);
        frame.set_color_transfer_characteristic(transfer);
        frame
    }

    /// A picture of noise in the legal 10-bit ranges.
    fn hdr_sample(plane: usize, x: usize, y: usize) -> u16 {
        let n = (x * 7919 + y * 104_729 + plane * 31) % 797;
        if plane == 0 {
            64 + n as u16
        } else {
            64 + (n % 797) as u16 + 100
        }
    }

    fn kernel(picture: &frame::Video, transfer: Transfer, peak: f32) -> Vec<u8> {
        let (w, h) = (picture.width() as usize, picture.height() as usize);
        let mut rgb = vec![0; w * h * 3];
        ToSdr::new(transfer, peak).convert(yuv420_10bit(picture).unwrap(), w, h, &mut rgb);
        rgb
    }

    #[test]
    fn an_hdr_picture_is_tone_mapped_to_the_peak_its_stream_says() {
        use frame::side_data::Type;
        crate::init().unwrap();
        let pq = color::TransferCharacteristic::SMPTE2084;
        let mut hdr = picture16(Pixel::YUV420P10LE, (40, 20), pq, hdr_sample);
        let mut convert = ToRgb::default();
        assert_eq!(bt2020(&hdr), Some(Transfer::Pq));
        // Nothing said: the default peak.
        let default = convert.convert(&hdr).unwrap();
        assert_eq!(default, kernel(&hdr, Transfer::Pq, DEFAULT_PEAK_NITS));
        // A mastering display of 2000 nits (and 0.005 at the bottom).
        let mut side = hdr
            .new_side_data(Type::MasteringDisplayMetadata, 88)
            .unwrap();
        let mut bytes = [0u8; 88];
        for (at, value) in [(64, 5), (68, 1000), (72, 2000), (76, 1), (80, 1), (84, 1)] {
            bytes[at..at + 4].copy_from_slice(&i32::to_ne_bytes(value));
        }
        // SAFETY: the side data was just made 88 bytes long.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), (*side.as_mut_ptr()).data, 88);
        }
        assert_eq!(peak_nits(&hdr), Some(2000.0));
        let mastered = convert.convert(&hdr).unwrap();
        assert_eq!(mastered, kernel(&hdr, Transfer::Pq, 2000.0));
        assert_ne!(mastered, default);
        // The content's own light level comes first.
        let mut side = hdr.new_side_data(Type::ContentLightLevel, 8).unwrap();
        // SAFETY: as above, 8 bytes.
        unsafe {
            let data = (*side.as_mut_ptr()).data;
            std::ptr::copy_nonoverlapping(3000u32.to_ne_bytes().as_ptr(), data, 4);
        }
        assert_eq!(peak_nits(&hdr), Some(3000.0));
        let lit = convert.convert(&hdr).unwrap();
        assert_eq!(lit, kernel(&hdr, Transfer::Pq, 3000.0));
        // A later frame that does not repeat it is tone mapped alike.
        hdr.remove_side_data(Type::ContentLightLevel);
        hdr.remove_side_data(Type::MasteringDisplayMetadata);
        assert_eq!(peak_nits(&hdr), None);
        assert_eq!(convert.convert(&hdr).unwrap(), lit);
    }

    #[test]
    fn p010_and_other_bt2020_layouts_are_the_same_picture() {
        crate::init().unwrap();
        let hlg = color::TransferCharacteristic::ARIB_STD_B67;
        // Chroma that changes across, not down: however swscale filters
        // 4:2:2's rows into 4:2:0's, the samples stay what they were.
        let sample =
            |plane: usize, x: usize, y: usize| hdr_sample(plane, x, if plane == 0 { y } else { 0 });
        let planar = picture16(Pixel::YUV420P10LE, (64, 32), hlg, sample);
        let p010 = picture16(Pixel::P010LE, (64, 32), hlg, |plane, x, y| {
            let s = if plane == 0 {
                sample(0, x, y)
            } else {
                sample(1 + x % 2, x / 2, y)
            };
            s << 6
        });
        let yuv422 = picture16(Pixel::YUV422P10LE, (64, 32), hlg, sample);
        let mut convert = ToRgb::default();
        let want = convert.convert(&planar).unwrap();
        assert_eq!(want, kernel(&planar, Transfer::Hlg, 1000.0));
        assert_eq!(convert.convert(&p010).unwrap(), want);
        let (max, mean) = diff(&convert.convert(&yuv422).unwrap(), &want);
        assert!(max <= 1 && mean < 0.1, "4:2:2: max {max}, mean {mean}");
    }

    #[test]
    fn a_gpu_frame_gets_the_conversion_its_download_would() {
        use frame::side_data::Type;
        crate::init().unwrap();
        let hlg = color::TransferCharacteristic::ARIB_STD_B67;
        let mut p010 = picture16(Pixel::P010LE, (16, 8), hlg, |plane, x, y| {
            hdr_sample(plane, x, y) << 6
        });
        let mut convert = ToRgb::default();
        let tone_map = |convert: &mut ToRgb, picture: &frame::Video| match convert
            .device_plan(picture, Pixel::P010LE)
        {
            Some(DevicePlan::ToSdr(to_sdr)) => (to_sdr.transfer(), to_sdr.peak_nits()),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            tone_map(&mut convert, &p010),
            (Transfer::Hlg, DEFAULT_PEAK_NITS)
        );
        // The peak the stream says, and keeps saying for frames that do not.
        let mut side = p010.new_side_data(Type::ContentLightLevel, 8).unwrap();
        // SAFETY: the side data was just made 8 bytes long.
        unsafe {
            let data = (*side.as_mut_ptr()).data;
            std::ptr::copy_nonoverlapping(600u32.to_ne_bytes().as_ptr(), data, 4);
        }
        assert_eq!(tone_map(&mut convert, &p010), (Transfer::Hlg, 600.0));
        p010.remove_side_data(Type::ContentLightLevel);
        assert_eq!(tone_map(&mut convert, &p010), (Transfer::Hlg, 600.0));
        // SDR in BT.709 at 10 bits (swscale's), BT.2020 at 8 (swscale's
        // too), full range: downloaded.
        let mut hd10 = p010.clone();
        hd10.set_color_transfer_characteristic(color::TransferCharacteristic::BT709);
        hd10.set_color_primaries(color::Primaries::BT709);
        hd10.set_color_space(color::Space::BT709);
        assert!(convert.device_plan(&hd10, Pixel::P010LE).is_none());
        assert!(convert.device_plan(&p010, Pixel::NV12).is_none());
        let mut nv12 = picture(Pixel::NV12, 16, 8, |_, x, y| (16 + x + y) as u8);
        let matrix = |convert: &mut ToRgb, picture: &frame::Video| match convert
            .device_plan(picture, Pixel::NV12)
        {
            Some(DevicePlan::Yuv(matrix)) => Some(matrix),
            None => None,
            other => panic!("{other:?}"),
        };
        assert_eq!(matrix(&mut convert, &nv12), Some(Matrix::Bt601));
        nv12.set_color_space(color::Space::BT709);
        assert_eq!(matrix(&mut convert, &nv12), Some(Matrix::Bt709));
        nv12.set_color_range(color::Range::JPEG);
        assert_eq!(matrix(&mut convert, &nv12), None);
        p010.set_color_range(color::Range::JPEG);
        assert!(convert.device_plan(&p010, Pixel::P010LE).is_none());
    }

    #[test]
    fn only_limited_range_bt2020_takes_the_hdr_path() {
        crate::init().unwrap();
        let sdr = color::TransferCharacteristic::BT2020_10;
        let mut picture = picture16(Pixel::YUV420P10LE, (8, 8), sdr, hdr_sample);
        assert_eq!(bt2020(&picture), Some(Transfer::Sdr));
        // BT.709 primaries with a BT.2020 curve's tag: not wide gamut.
        picture.set_color_primaries(color::Primaries::BT709);
        assert_eq!(bt2020(&picture), None);
        picture.set_color_transfer_characteristic(color::TransferCharacteristic::ARIB_STD_B67);
        assert_eq!(bt2020(&picture), Some(Transfer::Hlg));
        picture.set_color_range(color::Range::JPEG);
        assert_eq!(bt2020(&picture), None);
        let mut hd = picture16(
            Pixel::YUV420P10LE,
            (8, 8),
            color::TransferCharacteristic::BT709,
            hdr_sample,
        );
        hd.set_color_primaries(color::Primaries::BT709);
        hd.set_color_space(color::Space::BT709);
        assert_eq!(bt2020(&hd), None);
        // (and 10-bit BT.709 still converts, through swscale)
        assert_eq!(ToRgb::default().convert(&hd).unwrap().len(), 8 * 8 * 3);
    }
}
